"""Private: the session funnel and the ratings of the synthetic world (see :mod:`.synthetic`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy.special import expit

from retaillab.data._synthetic_orders import (
    DAY,
    Catalogue,
    Lines,
    Orders,
    draw_categories,
    order_by,
)
from retaillab.data._synthetic_params import purchase_rate

if TYPE_CHECKING:  # pragma: no cover
    from retaillab.data._synthetic_params import SyntheticParams

CART_GAP_MEAN = 30.0  # seconds from click to add-to-cart
BUY_GAP_MEAN = 90.0  # seconds from add-to-cart to purchase
RATING_DELAY_MEAN = 3 * DAY  # from purchase to rating


def draw_dwell(rng: np.random.Generator, n_purchase: int,
               params: SyntheticParams) -> tuple[np.ndarray, np.ndarray]:
    """Dwell seconds of the purchase and of the browse sessions.

    Candidate sessions with lognormal dwell come one after another; each is a purchase with
    probability ``sigmoid(b0 + b1 log dwell)``. The stream is cut at its ``n_purchase``-th
    purchase, so purchases and browses keep their natural ratio and the logistic law holds in
    the log (up to sampling noise).
    """
    rate = purchase_rate(params)
    log_dwell, buys, n_buys = [], [], 0
    while n_buys < n_purchase:
        m = int(1.1 * (n_purchase - n_buys) / rate) + 100
        log_d = params.dwell_log_mean + params.dwell_log_sd * rng.standard_normal(m)
        buy = rng.random(m) < expit(params.dwell_beta0 + params.dwell_beta1 * log_d)
        log_dwell.append(log_d)
        buys.append(buy)
        n_buys += int(buy.sum())
    log_d, buy = np.concatenate(log_dwell), np.concatenate(buys)
    cut = np.flatnonzero(buy)[n_purchase - 1] + 1
    log_d, buy = log_d[:cut], buy[:cut]
    return np.exp(log_d[buy]), np.exp(log_d[~buy])


@dataclass(frozen=True)
class Events:
    """The event log, sorted by session then funnel stage."""

    session: np.ndarray  # session id, numbered 1.. by start time
    customer: np.ndarray  # customer position
    item: np.ndarray  # item position
    stage: np.ndarray  # index into EVENT_TYPES
    second: np.ndarray  # seconds since start
    dwell: np.ndarray  # on the view event; NaN on the others


def draw_events(rng: np.random.Generator, orders: Orders, lines: Lines, catalogue: Catalogue,
                theta: np.ndarray, signup: np.ndarray, span: int,
                params: SyntheticParams) -> Events:
    """One full funnel per purchased line, ending at its order; browse sessions in between.

    A browse session belongs to the customer of a random purchased line (customers who buy
    more browse more), starts uniformly within the customer's active life (signup to death or
    ``end``), picks its item by the customer's affinity and stops after view, click or
    add-to-cart with probabilities ``params.browse_stop``.
    """
    n_buy = lines.order.size
    dwell_buy, dwell_browse = draw_dwell(rng, n_buy, params)
    n_browse = dwell_browse.size

    buy_customer = orders.customer[lines.order]
    browse_customer = buy_customer[rng.integers(0, n_buy, n_browse)]
    customer = np.concatenate([buy_customer, browse_customer])
    dwell = np.concatenate([dwell_buy, dwell_browse])
    n_events = np.concatenate([np.full(n_buy, 4), 1 + rng.choice(3, n_browse,
                                                               p=params.browse_stop)])
    gaps = np.column_stack([
        np.ceil(dwell),
        1 + np.floor(rng.exponential(CART_GAP_MEAN, dwell.size)),
        1 + np.floor(rng.exponential(BUY_GAP_MEAN, dwell.size)),
    ]).astype(np.int64)
    offsets = np.column_stack([np.zeros(dwell.size, dtype=np.int64), np.cumsum(gaps, axis=1)])

    life_end = np.where(orders.alive, span, orders.death_second)[browse_customer]
    duration = offsets[np.arange(n_buy, dwell.size), n_events[n_buy:] - 1]
    room = np.maximum(life_end - signup[browse_customer] - duration, 0)
    browse_start = signup[browse_customer] + np.floor(rng.random(n_browse) * room).astype(
        np.int64)
    start = np.concatenate([orders.second[lines.order] - offsets[:n_buy, 3], browse_start])

    browse_item = catalogue.draw_items(rng, draw_categories(rng, theta, browse_customer))
    item = np.concatenate([lines.item, browse_item])

    by_time = order_by(start, customer)
    session_id = np.empty(dwell.size, dtype=np.int64)
    session_id[by_time] = np.arange(1, dwell.size + 1)

    row_session = np.repeat(by_time, n_events[by_time])
    first_row = np.cumsum(n_events[by_time]) - n_events[by_time]
    stage = np.arange(row_session.size) - np.repeat(first_row, n_events[by_time])
    return Events(
        session=session_id[row_session], customer=customer[row_session],
        item=item[row_session], stage=stage,
        second=start[row_session] + offsets[row_session, stage],
        dwell=np.where(stage == 0, dwell[row_session], np.nan),
    )


@dataclass(frozen=True)
class Ratings:
    """Explicit ratings, one per (customer, item), in time order."""

    customer: np.ndarray
    item: np.ndarray
    rating: np.ndarray
    second: np.ndarray


def draw_ratings(rng: np.random.Generator, orders: Orders, lines: Lines, catalogue: Catalogue,
                 theta: np.ndarray, user_bias: np.ndarray, item_bias: np.ndarray, span: int,
                 params: SyntheticParams) -> Ratings:
    """A share of purchased lines rated 1..5, planted by centred category affinity.

    ``rating = clip(round(mu + b_user + b_item + kappa (theta_ic - 1/C) + noise), 1, 5)``.
    A customer's repeat purchase of an item keeps only the first purchase's rating.
    """
    n_items = catalogue.price.size
    rated = np.flatnonzero(rng.random(lines.order.size) < params.rating_share)
    customer = orders.customer[lines.order[rated]]
    _, first = np.unique(customer * n_items + lines.item[rated], return_index=True)
    rated = rated[first]  # lines are in time order, so the first is the earliest purchase
    customer, item = orders.customer[lines.order[rated]], lines.item[rated]

    affinity = theta[customer, catalogue.category[item]] - 1.0 / theta.shape[1]
    latent = (params.rating_mu + user_bias[customer] + item_bias[item]
              + params.rating_kappa * affinity
              + params.rating_noise_sd * rng.standard_normal(rated.size))
    rating = np.clip(np.rint(latent), 1, 5)
    delay = 1 + np.floor(rng.exponential(RATING_DELAY_MEAN, rated.size)).astype(np.int64)
    second = np.minimum(orders.second[lines.order[rated]] + delay, span - 1)
    order = order_by(second, customer * catalogue.price.size + item)
    return Ratings(customer=customer[order], item=item[order], rating=rating[order],
                   second=second[order])
