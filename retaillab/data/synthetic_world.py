"""A seeded synthetic retail world whose true parameters are known, to check models against.

Customers buy by the BG/NBD law (Fader, Hardie & Lee 2005) and spend by the Gamma-Gamma law
(Fader, Hardie & Lee 2005b); each has a Dirichlet category affinity that drives what they buy,
browse and how they rate it; session dwell raises purchase odds by a planted logistic law.
Every planted quantity is returned in :class:`SyntheticTruth`.

Example
-------
>>> world = synthetic(2000, 200, seed=1)
>>> world.truth.customers[["lambda", "p", "alive"]].head()  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from retaillab.data import _synthetic_orders as world
from retaillab.data._synthetic_funnel import draw_events, draw_ratings
from retaillab.data._synthetic_params import SyntheticParams
from retaillab.data.dataset import Dataset
from retaillab.data.schema import COLUMNS, EVENT_TYPES
from retaillab.errors import ParameterError

__all__ = ["CATEGORIES", "SyntheticParams", "SyntheticTruth", "synthetic"]

#: The product categories, in the order of the ``category`` categorical and of the affinities.
CATEGORIES: tuple[str, ...] = world.CATEGORY_NAMES

# Non-canonical column names of the synthetic tables and of the truth.
AGE_BAND, GENDER, REGION, SIGNUP = "age_band", "gender", "region", "signup_date"
CATEGORY, BRAND, PRICE, PRICE_BAND = "category", "brand", "price", "price_band"
LAMBDA, P, NU, ALIVE, DEATH = "lambda", "p", "nu", "alive", "death_date"
WEEKS, BIAS, POPULARITY = "weeks_observed", "rating_bias", "popularity"
SEGMENT = "segment"

@dataclass(frozen=True, eq=False)
class SyntheticTruth:
    """What the generator planted.

    Attributes
    ----------
    params
        The :class:`SyntheticParams` used.
    customers
        Indexed by customer: ``lambda`` (weekly purchase rate), ``p`` (dropout probability),
        ``nu`` (spend rate; mean order value is ``p_gg / nu``), ``alive`` (at ``end``),
        ``death_date`` (the last order of a dead customer; NaT if alive), ``weeks_observed``
        (signup to ``end``, the BG/NBD ``T``) and ``rating_bias``; with planted segments
        (``params.segments > 0``) also ``segment`` (0 .. S-1).
    affinity
        Customer x category: the category-choice probabilities ``theta`` (rows sum to 1).
    items
        Indexed by item: ``popularity`` (choice probability within its category) and
        ``rating_bias``.
    segments
        With planted segments, indexed by segment: ``rate_scale`` and ``spend_scale`` (the
        multipliers of the mean purchase rate and mean order value), ``favourites`` (its
        favourite categories, comma-separated) and ``customers``; ``None`` without.
    """

    params: SyntheticParams
    customers: pd.DataFrame
    affinity: pd.DataFrame
    items: pd.DataFrame
    segments: pd.DataFrame | None = None

    @property
    def dwell_coefficients(self) -> tuple[float, float]:
        """``(beta0, beta1)`` of ``P(purchase | dwell) = sigmoid(beta0 + beta1 log dwell)``."""
        return self.params.dwell_beta0, self.params.dwell_beta1


def synthetic(n_customers: int = 5000, n_products: int = 500, *, seed: int = 0,
              start: str = "2024-01-01", end: str = "2025-06-30",
              params: SyntheticParams | None = None) -> Dataset:
    """Generate a retail world with known truth: customers, items, orders, events, ratings.

    Each customer's first order is at signup; repeats follow BG/NBD until dropout or ``end``;
    order values follow Gamma-Gamma and are split over lines whose items follow the customer's
    category affinity and item popularity. Every purchased line has a view -> click ->
    add-to-cart -> purchase session ending at its order; browse sessions stop earlier.
    The same arguments always give the same tables.

    A line's ``amount`` is its price x quantity share of the order value, not price x quantity
    itself. The trial order's session runs in the minutes before ``signup_date``. Only the view
    event of a session carries ``dwell_seconds`` (the session's dwell); later events have NaN.

    Parameters
    ----------
    n_customers, n_products
        Sizes; ``n_products`` must cover the :data:`CATEGORIES`.
    seed
        Seed of the generator's own ``numpy.random.Generator``.
    start, end
        The observation window ``[start, end)``.
    params
        True parameters; :class:`SyntheticParams` defaults if ``None``.

    Returns
    -------
    Dataset
        ``customers``, ``items``, ``transactions`` (one row per order line), ``events``,
        ``interactions`` (ratings) and ``truth`` (a :class:`SyntheticTruth`).

    Raises
    ------
    ParameterError
        On an argument out of range.
    """
    params = SyntheticParams() if params is None else params
    t0, span = _check_arguments(n_customers, n_products, seed, start, end, params)
    rng = np.random.default_rng(seed)
    n_cat = len(CATEGORIES)

    catalogue = world.draw_catalogue(rng, n_products, params.popularity_exponent)
    lam = rng.gamma(params.r, 1.0 / params.alpha, n_customers)
    p = np.clip(rng.beta(params.a, params.b, n_customers), 1e-12, 1.0)
    nu = rng.gamma(params.q, 1.0 / params.gamma, n_customers)
    theta = rng.dirichlet(np.full(n_cat, params.affinity_concentration), n_customers)
    user_bias = params.rating_user_sd * rng.standard_normal(n_customers)
    item_bias = params.rating_item_sd * rng.standard_normal(n_products)
    window = params.signup_share * span
    lead = min(world.DAY, window / 2)  # room for the trial order's session before it
    signup = np.floor(lead + rng.random(n_customers) * (window - lead)).astype(np.int64)
    planted = None
    if params.segments > 0:  # a second generator: the main stream's draws stay as they are
        planted = world.draw_segments(np.random.default_rng([seed, 1]), n_customers, params)
        lam, theta = planted.lam, planted.theta
        nu = nu / planted.spend_scale[planted.segment]

    orders = world.draw_orders(rng, signup, span, lam, p, nu, params)
    lines = world.draw_lines(rng, orders, catalogue, theta, params)
    events = draw_events(rng, orders, lines, catalogue, theta, signup, span, params)
    ratings = draw_ratings(rng, orders, lines, catalogue, theta, user_bias, item_bias, span,
                           params)

    def when(second: np.ndarray) -> np.ndarray:
        return t0 + (second * 1_000_000).astype("timedelta64[us]")

    ids = np.arange(1, n_customers + 1)
    customers = pd.DataFrame({
        COLUMNS.customer: ids,
        AGE_BAND: _categorical(rng.choice(len(world.AGE_BANDS), n_customers,
                                          p=world.AGE_SHARES), world.AGE_BANDS, ordered=True),
        GENDER: _categorical(rng.choice(len(world.GENDERS), n_customers,
                                        p=world.GENDER_SHARES), world.GENDERS),
        REGION: _categorical(rng.choice(len(world.REGIONS), n_customers,
                                        p=world.REGION_SHARES), world.REGIONS),
        SIGNUP: when(signup),
    })
    items = pd.DataFrame({
        COLUMNS.item: np.arange(1, n_products + 1),
        CATEGORY: _categorical(catalogue.category, CATEGORIES),
        BRAND: _categorical(catalogue.brand, world.BRAND_NAMES),
        PRICE: catalogue.price,
        PRICE_BAND: _categorical(catalogue.price_band, world.PRICE_BANDS, ordered=True),
    })
    transactions = pd.DataFrame({
        COLUMNS.order: lines.order + 1,
        COLUMNS.customer: orders.customer[lines.order] + 1,
        COLUMNS.date: when(orders.second[lines.order]),
        COLUMNS.item: lines.item + 1,
        COLUMNS.quantity: lines.quantity,
        COLUMNS.amount: lines.amount,
    })
    events_table = pd.DataFrame({
        COLUMNS.session: events.session,
        COLUMNS.customer: events.customer + 1,
        COLUMNS.item: events.item + 1,
        COLUMNS.event: _categorical(events.stage, EVENT_TYPES, ordered=True),
        COLUMNS.timestamp: when(events.second),
        COLUMNS.dwell: events.dwell,
    })
    interactions = pd.DataFrame({
        COLUMNS.user: ratings.customer + 1,
        COLUMNS.item: ratings.item + 1,
        COLUMNS.rating: ratings.rating,
        COLUMNS.timestamp: when(ratings.second),
    })

    dead = ~orders.alive
    death = np.full(n_customers, np.datetime64("NaT"), dtype="datetime64[us]")
    death[dead] = when(orders.death_second[dead])
    customer_index = pd.Index(ids, name=COLUMNS.customer)
    truth_customers = pd.DataFrame({LAMBDA: lam, P: p, NU: nu, ALIVE: orders.alive,
                                    DEATH: death, WEEKS: (span - signup) / world.WEEK,
                                    BIAS: user_bias}, index=customer_index)
    segments = None
    if planted is not None:
        truth_customers[SEGMENT] = planted.segment
        segments = pd.DataFrame({
            "rate_scale": planted.rate_scale, "spend_scale": planted.spend_scale,
            "favourites": [", ".join(CATEGORIES[c] for c in f) for f in planted.favourites],
            "customers": np.bincount(planted.segment, minlength=params.segments)},
            index=pd.RangeIndex(params.segments, name=SEGMENT))
    truth = SyntheticTruth(
        params=params,
        customers=truth_customers,
        affinity=pd.DataFrame(theta, index=customer_index,
                              columns=pd.Index(CATEGORIES, name=CATEGORY)),
        items=pd.DataFrame({POPULARITY: catalogue.popularity, BIAS: item_bias},
                           index=pd.Index(np.arange(1, n_products + 1), name=COLUMNS.item)),
        segments=segments,
    )
    return Dataset(name="synthetic", source=f"retaillab synthetic generator (seed={seed})",
                   customers=customers, items=items, transactions=transactions,
                   events=events_table, interactions=interactions, truth=truth)


def _categorical(codes: np.ndarray, categories: tuple[str, ...],
                 ordered: bool = False) -> pd.Categorical:
    return pd.Categorical.from_codes(codes, categories=list(categories), ordered=ordered)


def _check_arguments(n_customers: object, n_products: object, seed: object, start: object,
                     end: object, params: object) -> tuple[np.datetime64, int]:
    """Validate the arguments; return ``start`` as datetime64[us] and the window in seconds."""
    if not _is_int(n_customers) or n_customers < 1:
        raise ParameterError("n_customers", "an integer >= 1", n_customers)
    if not _is_int(n_products) or n_products < len(CATEGORIES):
        raise ParameterError("n_products", f"an integer >= {len(CATEGORIES)} (one per category)",
                             n_products)
    if not _is_int(seed) or seed < 0:
        raise ParameterError("seed", "an integer >= 0", seed)
    if not isinstance(params, SyntheticParams):
        raise ParameterError("params", "a SyntheticParams or None", params)
    stamps = {}
    for name, value in (("start", start), ("end", end)):
        try:
            stamps[name] = pd.Timestamp(value)
        except (TypeError, ValueError):
            stamps[name] = None
        if stamps[name] is None or stamps[name] is pd.NaT or stamps[name].tz is not None:
            raise ParameterError(name, "a date without time zone, like '2024-01-01'", value)
    span = int((stamps["end"] - stamps["start"]).total_seconds())
    if span < 1:
        raise ParameterError("end", f"after start ({start!r})", end)
    return stamps["start"].as_unit("us").to_datetime64(), span


def _is_int(value: object) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


