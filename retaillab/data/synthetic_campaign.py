"""A seeded, randomised retention campaign run on a synthetic world, with its per-customer truth.

The campaign starts on the world's ``end`` (the observation window is ``[start, end)``, so this
is the day after its last day) and runs for ``days`` days, ``[start, start + days)``. A share
``treat_share`` of the world's customers is treated, by complete randomisation (exactly
``round(treat_share * n)`` treated, every such set equally likely).

The response model continues the world's own laws (BG/NBD purchases, Gamma-Gamma spend) into
the window and adds a persuasion model of the treatment. Without treatment, a customer dead at
the world's end buys nothing; an alive one buys at weekly rate ``lambda`` and drops out after
each purchase with probability ``p``, so over ``t = days / 7`` weeks

    p_control    = P(buys in the window) = 1 - exp(-lambda t)  (the first purchase precedes
                   any dropout)
    E[orders]    = E[min(Poisson(lambda t), Geometric(p))] = (1 - exp(-p lambda t)) / p
    E[revenue]   = E[orders] * p_gg / nu                     (the Gamma-Gamma mean order value)

Treated, an alive customer who would not have bought is *persuaded* with probability
``pi(r)`` and places one win-back order (Gamma-Gamma value); one who would have bought is
*annoyed* with probability ``s(r)`` and buys nothing (opts out). Both depend on the weeks
``r`` from the customer's last purchase to the start:

    pi(r) = persuasion * (r / peak_weeks) * exp(1 - r / peak_weeks)
    s(r)  = annoyance * exp(-r / annoyance_weeks)

so that

    p_treatment = (1 - s) p_control + pi (1 - p_control)
    uplift      = pi (1 - p_control) - s p_control
    E[revenue | treated] = (1 - s) E[revenue | control] + pi (1 - p_control) p_gg / nu

The dead are never persuaded (*lost causes*). Customers who buy often would buy anyway: there
is little left for persuasion to win, and annoyance can lose a whole window of their orders
(*sure things*, *sleeping dogs* when the loss wins). Persuasion peaks for alive customers whose
rhythm is lapsing, ``r`` near ``peak_weeks`` (*persuadables*), and fades for those quiet for
long. The effect is therefore not monotone in churn risk: the riskiest customers are mostly
dead; the safest are frequent buyers and one-time buyers (whom BG/NBD counts as alive for
sure). A persuaded customer is worth their own planted spend ``p_gg / nu``, so who is worth
persuading depends on value as well.

The world's ``end`` is read back from its truth (a customer's signup plus ``weeks_observed``),
and ``r`` from the time of each customer's last transaction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from retaillab.data.schema import COLUMNS as C
from retaillab.errors import DataError, ParameterError

__all__ = ["ARMS", "KINDS", "CampaignParams", "SyntheticCampaign", "synthetic_campaign"]

#: The arm labels of :attr:`SyntheticCampaign.table`: control first.
ARMS: tuple[str, str] = ("control", "treatment")
#: The coarse kinds of :attr:`SyntheticCampaign.truth` (``kind``), in this order.
KINDS: tuple[str, ...] = ("sure thing", "persuadable", "sleeping dog", "lost cause")
_WEEK = pd.Timedelta(days=7)
_STREAM = 15  # the campaign's own generator, [seed, 15]: never the world's stream


@dataclass(frozen=True)
class CampaignParams:
    """The planted campaign: window, assignment, persuasion ``pi(r)`` and annoyance ``s(r)``.

    Parameters
    ----------
    days
        Length of the campaign window (and of the pre-period of ``pre_revenue``), in days.
    treat_share
        Share of customers treated (complete randomisation).
    persuasion, peak_weeks
        Height and place of the persuasion peak: ``pi(peak_weeks) = persuasion``.
    annoyance, annoyance_weeks
        ``s(0) = annoyance``, fading with time constant ``annoyance_weeks``; 0 plants no
        sleeping dogs.
    """

    days: int = 60
    treat_share: float = 0.5
    persuasion: float = 0.3
    peak_weeks: float = 12.0
    annoyance: float = 0.1
    annoyance_weeks: float = 2.0

    def __post_init__(self) -> None:
        if isinstance(self.days, bool) or not isinstance(self.days, int | np.integer) \
                or not 1 <= self.days <= 366:
            raise ParameterError("days", "a whole number of days in [1, 366]", self.days)
        _real("treat_share", self.treat_share, 0.0, 1.0, open_ends=True)
        _real("persuasion", self.persuasion, 0.0, 1.0)
        _real("peak_weeks", self.peak_weeks, 0.0, open_ends=True)
        _real("annoyance", self.annoyance, 0.0, 1.0)
        _real("annoyance_weeks", self.annoyance_weeks, 0.0, open_ends=True)

    def persuaded(self, weeks_since: np.ndarray) -> np.ndarray:
        """``pi(r)``: the chance a treated would-be non-buyer is won back (module docstring).

        At most ``persuasion``: ``x exp(1 - x) <= 1``."""
        x = np.asarray(weeks_since, dtype=float) / self.peak_weeks
        return self.persuasion * x * np.exp(1.0 - x)

    def annoyed(self, weeks_since: np.ndarray) -> np.ndarray:
        """``s(r)``: the chance a treated would-be buyer opts out instead (module docstring)."""
        return self.annoyance * np.exp(-np.asarray(weeks_since, dtype=float)
                                       / self.annoyance_weeks)


@dataclass(frozen=True, eq=False)
class SyntheticCampaign:
    """A randomised campaign on a synthetic world, and what it planted.

    Attributes
    ----------
    table
        One row per customer (sorted by id): ``customer``, ``arm`` ("control"/"treatment",
        categorical), ``converted`` (0/1: bought in the window), ``revenue`` (spend in the
        window) and ``pre_revenue`` (spend in the ``days`` days before ``start``: a CUPED
        covariate).
    truth
        Indexed by customer: ``alive`` (at ``start``), ``weeks_since`` (``r``: weeks from the
        last purchase to ``start``), ``persuaded`` and ``annoyed`` (``pi(r)`` and ``s(r)``; 0
        for the dead: they do not respond), ``p_control``, ``p_treatment``, ``uplift``
        (``p_treatment - p_control``), ``order_value`` (``p_gg / nu``), ``revenue_control``,
        ``revenue_treatment`` (expected spend in the window in each arm),
        ``incremental_revenue`` (their difference),
        ``revenue_per_conversion`` (``revenue_treatment / p_treatment``: a treated converter's
        expected spend; 0 for the dead) and ``kind``: "lost cause" (dead), "sleeping dog"
        (``uplift < 0``), "sure thing" (``p_control >= 0.5``) or "persuadable" (the rest).
    start, end
        The window ``[start, end)``; ``start`` is the world's end.
    cutoff
        The last day before the campaign (``start - 1 day``): the whole-day cut-off of the
        history a user would score customers on (``churn.transaction_features(tx, cutoff)``).
    params, seed
        What was planted, and the seed.
    """

    table: pd.DataFrame
    truth: pd.DataFrame
    start: pd.Timestamp
    end: pd.Timestamp
    cutoff: pd.Timestamp
    params: CampaignParams
    seed: int

    def __repr__(self) -> str:
        treated = int((self.table["arm"] == ARMS[1]).sum())
        return (f"SyntheticCampaign({len(self.table):,} customers, {treated:,} treated, "
                f"{self.start:%Y-%m-%d} .. {self.end:%Y-%m-%d})")


def synthetic_campaign(world: object, *, seed: int = 0, days: int = 60,
                       treat_share: float = 0.5, persuasion: float = 0.3,
                       peak_weeks: float = 12.0, annoyance: float = 0.1,
                       annoyance_weeks: float = 2.0) -> SyntheticCampaign:
    """Draw a randomised retention campaign on ``world``, with known per-customer effects.

    The response model is the module docstring's: the world's BG/NBD and Gamma-Gamma laws
    continued into the window, plus persuasion and annoyance of the treated. The same
    arguments always give the same tables: the campaign draws from its own generator, seeded
    ``[seed, 15]``, so it never repeats the world's stream. About 5 ms for 5,000 customers.

    Parameters
    ----------
    world
        A :class:`~retaillab.data.Dataset` from :func:`retaillab.data.synthetic` (it needs the
        planted ``truth``).
    seed
        Seed of the arm assignment and of the outcome draws.
    days, treat_share, persuasion, peak_weeks, annoyance, annoyance_weeks
        See :class:`CampaignParams`.

    Returns
    -------
    SyntheticCampaign

    Raises
    ------
    ParameterError
        An argument out of range.
    DataError
        ``world`` has no synthetic truth.

    Example
    -------
    >>> from retaillab.data import synthetic
    >>> campaign = synthetic_campaign(synthetic(2000, 100, seed=1), seed=1)
    >>> campaign.table.columns.tolist()
    ['customer', 'arm', 'converted', 'revenue', 'pre_revenue']
    """
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ParameterError("seed", "an integer >= 0", seed)
    params = CampaignParams(days=days, treat_share=treat_share, persuasion=persuasion,
                            peak_weeks=peak_weeks, annoyance=annoyance,
                            annoyance_weeks=annoyance_weeks)
    planted, customers, tx = _world_parts(world)
    start = _world_end(customers, planted)
    ids = np.sort(customers[C.customer].to_numpy())
    n = ids.size
    rows = planted.reindex(ids)
    lam, p, nu = (rows[c].to_numpy(dtype=float) for c in ("lambda", "p", "nu"))
    alive = rows["alive"].to_numpy(dtype=bool)
    p_gg = float(world.truth.params.p_gg)  # type: ignore[attr-defined]

    last = tx.groupby(C.customer, sort=True)[C.date].max().reindex(ids)
    weeks_since = ((start - last) / _WEEK).to_numpy(dtype=float, na_value=np.inf)
    window = pd.Timedelta(days=params.days)
    before = (tx[C.date] >= start - window) & (tx[C.date] < start)
    pre_revenue = tx.loc[before].groupby(C.customer)[C.amount].sum().reindex(
        ids, fill_value=0.0).to_numpy(dtype=float)

    t = params.days / 7.0
    quiet = np.where(np.isfinite(weeks_since), weeks_since, 1e9)  # never bought: long quiet
    persuade = np.where(alive, params.persuaded(quiet), 0.0)
    annoy = np.where(alive, params.annoyed(quiet), 0.0)
    rate = np.where(alive, lam, 0.0)
    p_control = -np.expm1(-rate * t)
    p_treatment = (1 - annoy) * p_control + persuade * (1 - p_control)
    order_value = p_gg / nu
    revenue_control = _expected_orders(rate, p, t) * order_value
    revenue_treatment = (1 - annoy) * revenue_control + persuade * (1 - p_control) * order_value

    rng = np.random.default_rng([int(seed), _STREAM])
    treated = np.zeros(n, dtype=bool)
    treated[rng.permutation(n)[:round(params.treat_share * n)]] = True
    orders = np.minimum(rng.poisson(rate * t), rng.geometric(np.clip(p, 1e-12, 1.0)))
    would_buy = orders > 0
    u = rng.random(n)  # one uniform: annoyance of a would-be buyer, persuasion of the others
    orders = np.where(treated & would_buy & (u < annoy), 0, orders)
    orders = np.where(treated & ~would_buy & (u < persuade), 1, orders)
    bought = orders > 0
    revenue = np.zeros(n)
    revenue[bought] = rng.gamma(orders[bought] * p_gg, 1.0 / nu[bought])

    table = pd.DataFrame({
        C.customer: ids,
        "arm": pd.Categorical.from_codes(treated.astype(np.int8), categories=list(ARMS)),
        "converted": bought.astype(np.int64),
        "revenue": revenue,
        "pre_revenue": pre_revenue,
    })
    uplift = p_treatment - p_control
    with np.errstate(invalid="ignore", divide="ignore"):
        per_conversion = np.where(p_treatment > 0, revenue_treatment / p_treatment, 0.0)
    kind = np.select([~alive, uplift < 0, p_control >= 0.5],
                     ["lost cause", "sleeping dog", "sure thing"], "persuadable")
    truth = pd.DataFrame({
        "alive": alive, "weeks_since": weeks_since, "persuaded": persuade, "annoyed": annoy,
        "p_control": p_control, "p_treatment": p_treatment, "uplift": uplift,
        "order_value": order_value, "revenue_control": revenue_control,
        "revenue_treatment": revenue_treatment,
        "incremental_revenue": revenue_treatment - revenue_control,
        "revenue_per_conversion": per_conversion,
        "kind": pd.Categorical(kind, categories=list(KINDS)),
    }, index=pd.Index(ids, name=C.customer))
    return SyntheticCampaign(table=table, truth=truth, start=start, end=start + window,
                             cutoff=start - pd.Timedelta(days=1), params=params,
                             seed=int(seed))


def _expected_orders(rate: np.ndarray, p: np.ndarray, t: float) -> np.ndarray:
    """``E[min(Poisson(rate t), Geometric(p))] = (1 - exp(-p rate t)) / p`` (module doc)."""
    p = np.clip(p, 1e-12, 1.0)
    return -np.expm1(-p * rate * t) / p


def _world_parts(world: object) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    truth = getattr(world, "truth", None)
    planted = getattr(truth, "customers", None)
    customers = getattr(world, "customers", None)
    tx = getattr(world, "transactions", None)
    need = {"lambda", "p", "nu", "alive"}
    if not (isinstance(planted, pd.DataFrame) and need <= set(planted.columns)
            and isinstance(customers, pd.DataFrame) and isinstance(tx, pd.DataFrame)
            and "weeks_observed" in planted.columns):
        raise DataError("synthetic_campaign needs a synthetic world with its planted truth "
                        f"(got {type(world).__name__})", source="synthetic_campaign",
                        fix="pass retaillab.data.synthetic(...): real data have no known "
                            "effect to plant")
    return planted, customers, tx


def _world_end(customers: pd.DataFrame, planted: pd.DataFrame) -> pd.Timestamp:
    """The world's ``end``: any customer's signup plus their weeks observed, to the second
    (``weeks_observed`` is ``(end - signup) / 1 week``; signups are whole seconds)."""
    first = customers.iloc[0]
    weeks = float(planted.loc[first[C.customer], "weeks_observed"])
    return (pd.Timestamp(first["signup_date"]) + pd.Timedelta(seconds=weeks * 7 * 86_400)
            ).round("s")


def _real(name: str, value: object, low: float, high: float = math.inf, *,
          open_ends: bool = False) -> float:
    ok = not isinstance(value, bool) and isinstance(value, int | float | np.integer
                                                    | np.floating)
    if ok:
        v = float(value)  # type: ignore[arg-type]
        ok = math.isfinite(v) and ((low < v < high) if open_ends else (low <= v <= high))
    if not ok:
        left, right = ("(", ")") if open_ends else ("[", "]")
        bounds = f"in {left}{low:g}, {high:g}{right}" if math.isfinite(high) else \
            f"{'>' if open_ends else '>='} {low:g}"
        raise ParameterError(name, f"a finite number {bounds}", value)
    return v
