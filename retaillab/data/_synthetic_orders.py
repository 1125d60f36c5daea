"""Private: customers, catalogue and orders of the synthetic world (see :mod:`.synthetic`).

Everything works on numpy arrays indexed by position (customer ``i`` has id ``i + 1``) and on
integer seconds since ``start``; :mod:`.synthetic` turns them into the canonical tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from retaillab.data._synthetic_params import SyntheticParams

DAY = 86_400
WEEK = 7 * DAY
_CHUNK = 250_000

#: Retail categories: name, median price ($), log-sd of price, share of the catalogue.
CATEGORIES: tuple[tuple[str, float, float, float], ...] = (
    ("grocery", 4.0, 0.6, 0.16),
    ("beauty", 15.0, 0.6, 0.10),
    ("health", 12.0, 0.6, 0.08),
    ("home", 30.0, 0.8, 0.10),
    ("kitchen", 25.0, 0.8, 0.08),
    ("electronics", 90.0, 1.0, 0.10),
    ("clothing", 35.0, 0.6, 0.12),
    ("shoes", 60.0, 0.5, 0.05),
    ("sports", 40.0, 0.8, 0.06),
    ("toys", 20.0, 0.7, 0.06),
    ("books", 14.0, 0.4, 0.05),
    ("pet", 18.0, 0.6, 0.04),
)
CATEGORY_NAMES = tuple(c[0] for c in CATEGORIES)
BRANDS_PER_CATEGORY = 6
BRAND_NAMES = tuple(f"{c}-{chr(ord('A') + k)}" for c in CATEGORY_NAMES
                    for k in range(BRANDS_PER_CATEGORY))
PRICE_BANDS = ("low", "mid", "high")

AGE_BANDS = ("18-24", "25-34", "35-44", "45-54", "55-64", "65+")
AGE_SHARES = (0.12, 0.22, 0.21, 0.18, 0.15, 0.12)
GENDERS = ("female", "male", "other")
GENDER_SHARES = (0.51, 0.47, 0.02)
REGIONS = ("north", "south", "east", "west", "central")
REGION_SHARES = (0.22, 0.24, 0.18, 0.20, 0.16)


@dataclass(frozen=True)
class Catalogue:
    """Products as arrays; ``by_category``/``cdf`` let many items be drawn in one searchsorted."""

    category: np.ndarray  # category code per item
    brand: np.ndarray  # code into BRAND_NAMES per item
    price: np.ndarray
    price_band: np.ndarray  # code into PRICE_BANDS
    popularity: np.ndarray  # P(item | its category)
    by_category: np.ndarray  # item positions grouped by category, most popular first
    cdf: np.ndarray  # category code + within-category cumulative popularity, along by_category
    segment_end: np.ndarray  # per category: end (exclusive) of its run in by_category

    def draw_items(self, rng: np.random.Generator, category: np.ndarray) -> np.ndarray:
        """One item per entry of ``category``, drawn by popularity within that category."""
        target = category + rng.random(category.size)
        pos = np.searchsorted(self.cdf, target, side="right")
        return self.by_category[np.minimum(pos, self.segment_end[category] - 1)]


def draw_catalogue(rng: np.random.Generator, n_products: int, zipf: float) -> Catalogue:
    """Items spread over the categories (at least one each), lognormal prices, Zipf popularity."""
    n_cat = len(CATEGORIES)
    shares = np.array([c[3] for c in CATEGORIES])
    counts = 1 + rng.multinomial(n_products - n_cat, shares / shares.sum())
    category = rng.permutation(np.repeat(np.arange(n_cat), counts))
    median = np.array([c[1] for c in CATEGORIES])[category]
    log_sd = np.array([c[2] for c in CATEGORIES])[category]
    price = np.exp(np.log(median) + log_sd * rng.standard_normal(n_products))
    price = np.maximum(np.round(price, 2), 0.01)
    brand = category * BRANDS_PER_CATEGORY + rng.integers(0, BRANDS_PER_CATEGORY, n_products)
    terciles = np.quantile(price, [1 / 3, 2 / 3])
    price_band = np.searchsorted(terciles, price, side="right")

    # Random popularity ranks within each category; weight of rank k is k ** -zipf.
    shuffled = rng.permutation(n_products)
    by_category = shuffled[np.argsort(category[shuffled], kind="stable")]
    starts = np.cumsum(counts) - counts
    rank = np.arange(n_products) - np.repeat(starts, counts) + 1
    weight = rank.astype(float) ** -zipf
    cum = np.cumsum(weight)
    before = np.repeat(cum[starts] - weight[starts], counts)
    total = np.repeat(np.add.reduceat(weight, starts), counts)
    within = (cum - before) / total
    segment_end = starts + counts
    within[segment_end - 1] = 1.0  # exact, so category c's run ends at exactly c + 1
    popularity = np.empty(n_products)
    popularity[by_category] = weight / total
    return Catalogue(category=category, brand=brand, price=price, price_band=price_band,
                     popularity=popularity, by_category=by_category,
                     cdf=within + np.repeat(np.arange(n_cat), counts), segment_end=segment_end)


def draw_categories(rng: np.random.Generator, theta: np.ndarray, who: np.ndarray) -> np.ndarray:
    """One category per entry of ``who`` (customer positions), drawn from that customer's theta.

    Works in chunks so the (draws x categories) comparison stays small in memory.
    """
    cum = np.cumsum(theta, axis=1)
    u = rng.random(who.size)
    category = np.empty(who.size, dtype=np.int64)
    for lo in range(0, who.size, _CHUNK):
        hi = lo + _CHUNK
        category[lo:hi] = (u[lo:hi, None] >= cum[who[lo:hi], :-1]).sum(axis=1)
    return category


def order_by(primary: np.ndarray, secondary: np.ndarray) -> np.ndarray:
    """Stable order by ``primary`` then ``secondary`` (non-negative ints): ``np.lexsort``, faster.

    One stable radix argsort of a combined int64 key when it cannot overflow.
    """
    if primary.size == 0:
        return np.arange(0)
    base = int(secondary.max()) + 1
    if (int(primary.max()) + 1) * base < 2**62 and primary.min() >= 0:
        return np.argsort(primary * base + secondary, kind="stable")
    return np.lexsort((secondary, primary))


@dataclass(frozen=True)
class Orders:
    """Orders in time order, plus each customer's BG/NBD fate."""

    customer: np.ndarray  # customer position per order
    second: np.ndarray  # seconds since start, int64
    value: np.ndarray  # Gamma-Gamma order value
    alive: np.ndarray  # per customer, at end
    death_second: np.ndarray  # per customer, seconds since start; -1 if alive


def draw_orders(rng: np.random.Generator, signup: np.ndarray, span: int, lam: np.ndarray,
                p: np.ndarray, nu: np.ndarray, params: SyntheticParams) -> Orders:
    """Trial order at signup, then BG/NBD repeat orders; values drawn by Gamma-Gamma.

    With ``K ~ Poisson(lambda T)`` purchases possible in ``(0, T)`` and the dropout purchase
    ``N ~ Geometric(p)``, the customer makes ``x = min(K, N)`` repeats and is alive iff
    ``K < N``. The repeats are the first ``x`` of ``K`` sorted uniforms on ``(0, T)``, drawn
    without the other ``K - x`` through exponential spacings: ``U_(j) = S_j / S_(K+1)`` with
    ``S_j`` a sum of ``j`` unit exponentials and ``S_(K+1) = S_x + Gamma(K + 1 - x)``.
    """
    n = signup.size
    weeks = (span - signup) / WEEK
    k = rng.poisson(lam * weeks)
    dropout_at = rng.geometric(p)
    x = np.minimum(k, dropout_at)
    alive = k < dropout_at

    owner = np.repeat(np.arange(n), x)
    cum = np.cumsum(rng.standard_exponential(owner.size))
    ends = np.cumsum(x)
    starts = ends - x
    before = np.concatenate([[0.0], cum])[starts]
    spacing_sum = cum - np.repeat(before, x)
    has = x > 0
    s_x = np.zeros(n)
    s_x[has] = spacing_sum[ends[has] - 1]
    s_total = s_x + rng.standard_gamma(k - x + 1)
    repeat_second = signup[owner] + spacing_sum / s_total[owner] * (span - signup[owner])
    repeat_second = np.minimum(np.floor(repeat_second).astype(np.int64), span - 1)

    death = np.full(n, -1, dtype=np.int64)
    dead = ~alive
    death[dead] = repeat_second[ends[dead] - 1]

    customer = np.concatenate([np.arange(n), owner])
    second = np.concatenate([signup, repeat_second])
    order = order_by(second, customer)
    customer, second = customer[order], second[order]
    value = rng.gamma(params.p_gg, 1.0 / nu[customer])
    return Orders(customer=customer, second=second, value=value, alive=alive,
                  death_second=death)


@dataclass(frozen=True)
class Lines:
    """Order lines, sorted by order then item; one line per (order, item)."""

    order: np.ndarray  # order position
    item: np.ndarray  # item position
    quantity: np.ndarray
    amount: np.ndarray


def draw_lines(rng: np.random.Generator, orders: Orders, catalogue: Catalogue,
               theta: np.ndarray, params: SyntheticParams) -> Lines:
    """``1 + Poisson`` lines per order, item by category affinity then popularity.

    The same item drawn twice in one order becomes one line with the quantities added. The
    order value is split over its lines in proportion to price x quantity, so the lines of an
    order sum to its Gamma-Gamma value.
    """
    n_orders, n_items = orders.customer.size, catalogue.price.size
    per_order = 1 + rng.poisson(params.lines_extra_mean, n_orders)
    order = np.repeat(np.arange(n_orders), per_order)
    category = draw_categories(rng, theta, orders.customer[order])
    item = catalogue.draw_items(rng, category)
    quantity = 1 + rng.poisson(params.quantity_extra_mean, order.size)

    keys, inverse = np.unique(order * n_items + item, return_inverse=True)
    quantity = np.bincount(inverse, weights=quantity).astype(np.int64)
    order, item = keys // n_items, keys % n_items
    weight = catalogue.price[item] * quantity
    share = weight / np.bincount(order, weights=weight, minlength=n_orders)[order]
    return Lines(order=order, item=item, quantity=quantity,
                 amount=orders.value[order] * share)


@dataclass(frozen=True)
class Segments:
    """Planted segments: membership per customer, and each segment's scales and favourites."""

    segment: np.ndarray  # segment code per customer
    lam: np.ndarray  # weekly purchase rate per customer
    spend_scale: np.ndarray  # per segment: mean order value multiplier (nu is divided by it)
    rate_scale: np.ndarray  # per segment: mean purchase rate multiplier
    theta: np.ndarray  # customer x category affinity
    favourites: tuple[tuple[int, ...], ...]  # per segment: its favourite category code(s)


def draw_segments(rng: np.random.Generator, n: int, params: SyntheticParams) -> Segments:
    """Segment membership and the segment-driven rate and affinity (see ``SyntheticParams``).

    ``rng`` is the world's second generator, so drawing segments leaves the main stream as it
    is; only the values of ``lambda``, ``nu`` and ``theta`` change, never how many draws the
    main generator makes.
    """
    n_seg, n_cat = params.segments, len(CATEGORIES)
    centre = np.arange(n_seg) - (n_seg - 1) / 2
    rate_scale = params.segment_separation ** centre
    spend_scale = params.segment_separation ** centre[rng.permutation(n_seg)]
    segment = rng.integers(0, n_seg, n)
    shape = params.segment_shape
    mean = params.r / params.alpha * rate_scale[segment]
    lam = rng.gamma(shape, mean / shape)
    favourite = np.arange(n_cat)[None, :] == np.arange(n_seg)[:, None]  # s favours s
    n_fav = favourite.sum(axis=1, keepdims=True)
    base = np.where(favourite, params.segment_focus / n_fav,
                    (1 - params.segment_focus) / np.maximum(n_cat - n_fav, 1))
    base /= base.sum(axis=1, keepdims=True)
    concentration = n_cat * params.affinity_concentration * base
    theta = np.empty((n, n_cat))
    for s in range(n_seg):  # one Dirichlet per segment: S (<= 12) vectorised draws
        members = np.flatnonzero(segment == s)
        theta[members] = rng.dirichlet(concentration[s], members.size)
    theta = np.clip(theta, 0.0, None)
    theta /= theta.sum(axis=1, keepdims=True)
    return Segments(segment=segment, lam=lam, spend_scale=spend_scale, rate_scale=rate_scale,
                    theta=theta,
                    favourites=tuple(tuple(np.flatnonzero(f).tolist()) for f in favourite))
