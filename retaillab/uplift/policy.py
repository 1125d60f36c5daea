"""Whom to treat: the expected incremental value of treating a customer, and what targeting
policies earn, estimated from a randomised campaign (and, on synthetic data, known).

**Value of treating one customer.** With ``tau`` the uplift in conversion, ``v`` the value of a
conversion (revenue: e.g. a CLV from :func:`retaillab.clv.customer_lifetime_value`, chosen by
the caller), ``m`` the margin (share of revenue that is profit), ``f`` the contact cost and
``d`` the offer cost, paid only by treated customers who convert,

    incremental value = m tau v - f - p_treatment d

where ``p_treatment`` is the customer's conversion probability if treated: the expected offer
cost is ``p_treatment d``, so a sure thing who would have bought anyway costs the offer and
brings nothing. Ranking by it is the "uplift x value" policy; :func:`policy_scores` also
builds "uplift" (tau alone) and "churn risk" (e.g. ``1 - P(alive)``) rankings to compare.

**Profit of a policy, from the campaign.** A policy treats the top ``k`` customers of its
ranking. Under randomisation with treated share ``e``, its profit against treating no one is
estimated by inverse-propensity weighting (the Horvitz-Thompson off-policy estimate, e.g.
Hitsch & Misra 2018): with each customer's observed profit ``Y = m revenue - W (f + d
converted)``,

    profit(S) = sum over i in S of  z_i,   z_i = W_i Y_i / e - (1 - W_i) Y_i / (1 - e)

(``n`` times the IPW value of "treat S" minus that of "treat no one"; customers outside ``S``
cancel). It is unbiased for the total profit over the campaign's customers, and noisy: hence
the intervals, a seeded percentile bootstrap over customers with ``e`` held at the design
share. ``e`` is the observed treated share unless given (under complete randomisation they
are the same). Customers tied in a ranking share the places left at a cut pro rata, the
expectation over a random order of the tie (as :mod:`retaillab.uplift.evaluation`).

**A budget** is a number of customers to treat (not money: the costs per customer differ, and
a count is what a campaign tool takes); more than the population is refused.

**True profit** (synthetic data): the same policies scored with the planted per-customer
effects of :func:`retaillab.data.synthetic_campaign.synthetic_campaign`,
``m incremental_revenue - f - p_treatment d``, summed over the customers treated.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from retaillab.errors import DataError, ParameterError
from retaillab.uplift import _checks
from retaillab.uplift.evaluation import _Ranking, upto

__all__ = ["CHURN_RISK", "EVERYONE", "NO_ONE", "UPLIFT", "UPLIFT_VALUE", "Costs",
           "incremental_value", "policy_scores", "profit_at_budget", "profit_curves",
           "profit_figure", "true_profit", "true_profit_curves"]

UPLIFT_VALUE, UPLIFT, CHURN_RISK = "uplift x value", "uplift", "churn risk"
EVERYONE, NO_ONE = "treat everyone", "treat no one"
_BATCH_VALUES = 2_000_000  # resampled customers held in memory at once


@dataclass(frozen=True)
class Costs:
    """A campaign's economics.

    Parameters
    ----------
    contact
        Cost of treating (contacting) one customer, whatever they do.
    offer
        Cost of the offer to a treated customer who converts (a redeemed coupon): expected
        ``p_treatment * offer`` per treated customer.
    margin
        Share of revenue that is profit, in (0, 1].
    """

    contact: float = 0.0
    offer: float = 0.0
    margin: float = 1.0

    def __post_init__(self) -> None:
        _checks.number("Costs.contact", self.contact, 0.0)
        _checks.number("Costs.offer", self.offer, 0.0)
        _checks.number("Costs.margin", self.margin, 0.0, 1.0, open_low=True)


def _costs(costs: object) -> Costs:
    if not isinstance(costs, Costs):
        raise ParameterError("costs", "a retaillab.uplift.Costs(contact=..., offer=..., "
                             "margin=...)", costs)
    return costs


def incremental_value(uplift: object, value: object, *, costs: Costs,
                      p_treatment: object = None) -> np.ndarray:
    """Expected incremental profit of treating each customer: ``m tau v - f - p_treatment d``
    (module docstring).

    Parameters
    ----------
    uplift
        Predicted uplift in conversion probability per customer.
    value
        Revenue a conversion brings per customer (e.g. a CLV prediction); finite.
    costs
        Contact and offer cost, margin.
    p_treatment
        Conversion probability if treated (e.g. :meth:`TwoModel.predict_arms`), in [0, 1];
        needed when the offer costs anything.
    """
    costs = _costs(costs)
    tau = _checks.values("uplift", uplift, source="incremental_value")
    v = _checks.values("value", value, tau.size, source="incremental_value")
    if p_treatment is None:
        if costs.offer > 0:
            raise ParameterError("p_treatment", "each customer's conversion probability if "
                                 "treated (the offer is paid by converters)", None)
        p = np.zeros(tau.size)
    else:
        p = _checks.values("p_treatment", p_treatment, tau.size, source="incremental_value")
        if ((p < 0) | (p > 1)).any():
            raise DataError(f"{int(((p < 0) | (p > 1)).sum()):,} values of p_treatment are "
                            "outside [0, 1]", source="incremental_value", column="p_treatment")
    return costs.margin * tau * v - costs.contact - costs.offer * p


def policy_scores(*, uplift: object, value: object, costs: Costs, p_treatment: object = None,
                  churn_risk: object = None) -> dict[str, np.ndarray]:
    """The rankings to compare: ``"uplift x value"`` (:func:`incremental_value`),
    ``"uplift"`` and, given ``churn_risk``, ``"churn risk"``; higher is treated first."""
    scores = {UPLIFT_VALUE: incremental_value(uplift, value, costs=costs,
                                              p_treatment=p_treatment),
              UPLIFT: _checks.values("uplift", uplift, source="policy_scores")}
    if churn_risk is not None:
        scores[CHURN_RISK] = _checks.values("churn_risk", churn_risk, scores[UPLIFT].size,
                                            source="policy_scores")
    return scores


def _contributions(treatment: object, revenue: object, converted: object, costs: Costs,
                   propensity: object, source: str) -> np.ndarray:
    """Each customer's IPW term ``z_i`` (module docstring)."""
    w = _checks.treatment(treatment, source=source)
    rev = _checks.values("revenue", revenue, w.size, source=source)
    conv = _checks.binary("converted", converted, w.size, source=source)
    e = float(w.mean()) if propensity is None else _checks.number(
        "propensity", propensity, 0.0, 1.0, open_low=True, open_high=True)
    profit = costs.margin * rev - w * (costs.contact + costs.offer * conv)
    return np.where(w, profit / e, -profit / (1 - e))


def _rankings(scores: object, n: int, source: str) -> dict[str, np.ndarray]:
    if not isinstance(scores, Mapping) or not scores:
        raise ParameterError("scores", "a non-empty mapping of policy name -> score per "
                             "customer (higher: treated first)", type(scores).__name__)
    out = {}
    for name, score in scores.items():
        if name in (EVERYONE, NO_ONE):
            raise ParameterError("scores", f"policy names other than {EVERYONE!r} and "
                                 f"{NO_ONE!r} (those are always reported)", name)
        out[str(name)] = _checks.values(f"scores[{name!r}]", score, n, source=source)
    return out


def _grid(n: int, steps: object) -> np.ndarray:
    steps = _checks.whole("steps", steps, 1)
    return np.unique(np.round(np.linspace(0, n, min(steps, n) + 1)).astype("int64"))


def _profits(z: np.ndarray, rankings: dict[str, np.ndarray], ks: np.ndarray,
             n_resamples: int, level: float, seed: int) -> pd.DataFrame:
    """Profit of each ranking at each ``k`` in ``ks``, of everyone and of no one, with
    bootstrap intervals over customers."""
    n = z.size
    ranked = {name: _Ranking(s) for name, s in rankings.items()}
    ones = np.ones((1, n))

    def at(counts: np.ndarray, ranking: _Ranking) -> np.ndarray:
        sums = ranking.running(counts, {"z": z})
        top = np.broadcast_to(ks[None, :].astype("float64"), (counts.shape[0], ks.size))
        return upto(sums["k"], {"z": sums["z"]}, top)["z"]

    point = {name: at(ones, r)[0] for name, r in ranked.items()}
    draws: dict[str, list[np.ndarray]] = {name: [] for name in ranked}
    everyone: list[np.ndarray] = []
    if n_resamples:
        rng = np.random.default_rng(seed)
        batch = max(1, min(n_resamples, _BATCH_VALUES // n))
        index = np.int32 if n < 2**31 else np.int64
        for lo in range(0, n_resamples, batch):
            size = min(batch, n_resamples - lo)
            picks = rng.integers(0, n, size=(size, n), dtype=index)
            flat = (picks + (np.arange(size, dtype=np.int64) * n)[:, None]).ravel()
            counts = np.bincount(flat, minlength=size * n).reshape(size, n).astype("float64")
            everyone.append(counts @ z)
            for name, r in ranked.items():
                draws[name].append(at(counts, r))
    quantiles = [(1 - level) / 2, (1 + level) / 2]
    rows = []
    for name in ranked:
        bounds = np.quantile(np.concatenate(draws[name]), quantiles, axis=0) \
            if n_resamples else np.full((2, ks.size), math.nan)
        rows.extend({"policy": name, "treated": int(k), "share": k / n,
                     "profit": float(point[name][i]), "ci_low": float(bounds[0, i]),
                     "ci_high": float(bounds[1, i])} for i, k in enumerate(ks))
    low, high = np.quantile(np.concatenate(everyone), quantiles) if n_resamples else (
        math.nan, math.nan)
    rows.append({"policy": EVERYONE, "treated": n, "share": 1.0, "profit": float(z.sum()),
                 "ci_low": float(low), "ci_high": float(high)})
    rows.append({"policy": NO_ONE, "treated": 0, "share": 0.0, "profit": 0.0, "ci_low": 0.0,
                 "ci_high": 0.0})
    return pd.DataFrame(rows)


def profit_curves(scores: Mapping[str, object], *, treatment: object, revenue: object,
                  converted: object, costs: Costs, steps: int = 20, n_resamples: int = 1000,
                  level: float = 0.95, seed: int = 0,
                  propensity: float | None = None) -> pd.DataFrame:
    """Estimated profit of each ranking against the number of customers treated.

    Parameters
    ----------
    scores
        Policy name -> score per customer (higher: treated first), e.g. from
        :func:`policy_scores`.
    treatment, revenue, converted
        The campaign's arm (0/1), revenue and conversion (0/1) per customer, in the order of
        the scores.
    costs
        Contact and offer cost, margin (:class:`Costs`).
    steps
        The curves are evaluated at ``k = round(j n / steps)``, ``j = 0 .. steps``.
    n_resamples, level, seed
        The bootstrap over customers (0: no intervals).
    propensity
        The treated share ``e`` of the design; ``None``: the observed share.

    Returns
    -------
    DataFrame
        ``policy``, ``treated`` (``k``), ``share`` (``k / n``), ``profit`` (the IPW estimate
        of the module docstring, against treating no one), ``ci_low``, ``ci_high``; each
        ranking's rows, then one row each for ``"treat everyone"`` and ``"treat no one"``.
    """
    costs = _costs(costs)
    z = _contributions(treatment, revenue, converted, costs, propensity, "profit_curves")
    rankings = _rankings(scores, z.size, "profit_curves")
    return _profits(z, rankings, _grid(z.size, steps), _checks.resamples(n_resamples),
                    _checks.level(level), _checks.seed(seed))


def _budget(budget: object, n: int) -> int:
    if isinstance(budget, bool) or not isinstance(budget, int | np.integer) or budget < 0:
        raise ParameterError("budget", "a whole number of customers to treat, >= 0", budget)
    if budget > n:
        raise ParameterError("budget", f"at most the {n:,} customers there are (a budget is "
                             "a number of customers to treat)", budget)
    return int(budget)


def profit_at_budget(scores: Mapping[str, object], *, treatment: object, revenue: object,
                     converted: object, costs: Costs, budget: int, n_resamples: int = 1000,
                     level: float = 0.95, seed: int = 0,
                     propensity: float | None = None) -> pd.DataFrame:
    """Each policy's estimated profit when it treats ``budget`` customers (its top
    ``budget``), with intervals; laid out as :func:`profit_curves` (one row per ranking, then
    everyone and no one)."""
    costs = _costs(costs)
    z = _contributions(treatment, revenue, converted, costs, propensity, "profit_at_budget")
    k = _budget(budget, z.size)
    rankings = _rankings(scores, z.size, "profit_at_budget")
    return _profits(z, rankings, np.array([k]), _checks.resamples(n_resamples),
                    _checks.level(level), _checks.seed(seed))


def _true_gain(truth: object, costs: Costs) -> tuple[np.ndarray, pd.Index]:
    need = ("incremental_revenue", "p_treatment")
    if not isinstance(truth, pd.DataFrame) or any(c not in truth.columns for c in need):
        raise DataError("truth must be a synthetic campaign's truth table (with columns "
                        "'incremental_revenue' and 'p_treatment')", source="true_profit",
                        fix="pass synthetic_campaign(...).truth")
    gain = (costs.margin * truth["incremental_revenue"].to_numpy(dtype=float)
            - costs.contact - costs.offer * truth["p_treatment"].to_numpy(dtype=float))
    return gain, truth.index


def _aligned(name: str, score: object, index: pd.Index) -> np.ndarray:
    if isinstance(score, pd.Series):
        missing = int((~index.isin(score.index)).sum())
        if missing:
            raise DataError(f"{name} has no score for {missing:,} customers of the truth",
                            source="true_profit", column=name,
                            fix="score every customer of the campaign")
        score = score.reindex(index)
    return _checks.values(name, score, len(index), source="true_profit")


def true_profit(score: object, truth: pd.DataFrame, *, budget: int, costs: Costs) -> float:
    """The planted profit of treating the top ``budget`` customers by ``score``.

    ``sum over the treated of m incremental_revenue - f - p_treatment d`` from the truth of a
    synthetic campaign (ties shared pro rata). ``score`` is a Series indexed by customer, or
    an array in the order of ``truth``'s rows.
    """
    costs = _costs(costs)
    gain, index = _true_gain(truth, costs)
    k = _budget(budget, gain.size)
    ranking = _Ranking(_aligned("score", score, index))
    sums = ranking.running(np.ones((1, gain.size)), {"g": gain})
    return float(upto(sums["k"], {"g": sums["g"]}, np.array([float(k)]))["g"][0])


def true_profit_curves(scores: Mapping[str, object], truth: pd.DataFrame, *, costs: Costs,
                       steps: int = 20) -> pd.DataFrame:
    """The planted profit of each ranking against the number treated (as
    :func:`profit_curves`, without intervals: nothing is estimated), plus everyone and no one.
    """
    costs = _costs(costs)
    gain, index = _true_gain(truth, costs)
    n = gain.size
    if not isinstance(scores, Mapping) or not scores:
        raise ParameterError("scores", "a non-empty mapping of policy name -> score",
                             type(scores).__name__)
    ks = _grid(n, steps)
    rows = []
    for name, score in scores.items():
        sums = _Ranking(_aligned(f"scores[{name!r}]", score, index)).running(
            np.ones((1, n)), {"g": gain})
        found = upto(sums["k"], {"g": sums["g"]}, ks[None, :].astype("float64"))["g"][0]
        rows.extend({"policy": str(name), "treated": int(k), "share": k / n,
                     "profit": float(p)} for k, p in zip(ks, found, strict=True))
    rows.append({"policy": EVERYONE, "treated": n, "share": 1.0, "profit": float(gain.sum())})
    rows.append({"policy": NO_ONE, "treated": 0, "share": 0.0, "profit": 0.0})
    return pd.DataFrame(rows)


def profit_figure(curves: pd.DataFrame, *, truth: pd.DataFrame | None = None,
                  budget: int | None = None, title: str = "Targeting policies") -> object:
    """Profit against customers treated: each policy's estimated curve with its interval band,
    "treat everyone" and "treat no one" as points, the true curves dashed when ``truth`` (from
    :func:`true_profit_curves`) is given, and the budget as a vertical line."""
    import matplotlib.pyplot as plt

    need = {"policy", "treated", "profit"}
    if not isinstance(curves, pd.DataFrame) or not need <= set(curves.columns):
        raise DataError("curves must be a frame of profit_curves(...) (policy, treated, "
                        "profit, ci_low, ci_high)", source="profit_figure")
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    colours = {}
    for name, rows in curves.groupby("policy", sort=False):
        if name in (EVERYONE, NO_ONE):
            continue
        line, = ax.plot(rows["treated"], rows["profit"], label=str(name))
        colours[name] = line.get_color()
        if {"ci_low", "ci_high"} <= set(rows.columns) and rows["ci_low"].notna().any():
            ax.fill_between(rows["treated"], rows["ci_low"], rows["ci_high"],
                            color=line.get_color(), alpha=0.15, linewidth=0)
    for name, marker in ((EVERYONE, "s"), (NO_ONE, "o")):
        point = curves[curves["policy"] == name]
        if len(point):
            ax.plot(point["treated"], point["profit"], marker=marker, color="#333333",
                    linestyle="none", label=name)
    if truth is not None:
        for name, rows in truth.groupby("policy", sort=False):
            if name in (EVERYONE, NO_ONE):
                continue
            ax.plot(rows["treated"], rows["profit"], linestyle="--", linewidth=1,
                    color=colours.get(name, "#777777"), label=f"{name} (true)")
    if budget is not None:
        ax.axvline(budget, color="#999999", linewidth=0.8, linestyle=":")
    ax.axhline(0, color="grey", linestyle=":", linewidth=1)
    ax.set(xlabel="customers treated (by each policy's ranking)",
           ylabel="profit against treating no one", title=title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
