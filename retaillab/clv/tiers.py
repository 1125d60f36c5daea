"""Member value tiers recomputed every period: a dynamic view of the customer base.

Each period (month, quarter, ...) every customer who has already made a first purchase gets a
tier from their spend in that period: ``inactive`` without purchases, else a tier by the spend
quantiles of that period's buyers (recomputed each period, so tiers follow the base as it
changes). Between consecutive periods this gives a tier-transition matrix (a first-order
Markov chain of the kind used in customer migration models, Pfeifer & Carraway 2000) and the
repeat-purchase rate of each tier: the share of its members who buy in the next period.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from retaillab.clv._occasions import occasions
from retaillab.data.schema import COLUMNS as C
from retaillab.errors import ParameterError

__all__ = ["INACTIVE", "tier_repeat_rates", "tier_transitions", "value_tiers"]

INACTIVE = "inactive"


def value_tiers(tx: pd.DataFrame, *, period: str = "Q",
                quantiles: Sequence[float] = (0.5, 0.8),
                labels: Sequence[str] = ("bronze", "silver", "gold")) -> pd.DataFrame:
    """Long table: ``customer``, ``period``, ``spend``, ``tier`` (ordered categorical).

    Parameters
    ----------
    period
        A pandas period frequency: "M", "Q", "Y".
    quantiles
        Cut points (increasing, in (0, 1)) of each period's buyers' spend; buyers at or
        below the first get ``labels[0]`` and so on, so ``len(labels) == len(quantiles) + 1``.
    """
    qs = np.asarray(quantiles, dtype=float)
    if qs.ndim != 1 or np.any((qs <= 0) | (qs >= 1)) or np.any(np.diff(qs) <= 0):
        raise ParameterError("quantiles", "increasing numbers in (0, 1)", quantiles)
    if len(labels) != len(qs) + 1 or INACTIVE in labels:
        raise ParameterError("labels", f"{len(qs) + 1} names (one more than quantiles), "
                             f"none of them {INACTIVE!r}", labels)
    occ = occasions(tx)
    try:
        occ["period"] = occ[C.date].dt.to_period(period)
    except (ValueError, TypeError) as exc:
        raise ParameterError("period", "a pandas period frequency such as 'M' or 'Q'",
                             period) from exc
    spend = occ.groupby([C.customer, "period"], observed=True)[C.amount].sum()
    periods = pd.period_range(occ["period"].min(), occ["period"].max(), freq=period)
    first = spend.reset_index().groupby(C.customer, observed=True)["period"].min()
    grid = pd.DataFrame({C.customer: np.repeat(first.index.to_numpy(), len(periods)),
                         "period": np.tile(periods, len(first))})
    grid = grid[grid["period"].to_numpy() >= np.repeat(first.to_numpy(), len(periods))]
    grid = grid.merge(spend.rename("spend").reset_index(), on=[C.customer, "period"],
                      how="left")
    grid["spend"] = grid["spend"].fillna(0.0)
    tiers = np.full(len(grid), INACTIVE, dtype=object)
    buying = grid["spend"].to_numpy() > 0
    for _, rows in grid[buying].groupby("period", observed=True):
        cuts = np.quantile(rows["spend"].to_numpy(), qs)
        level = np.searchsorted(cuts, rows["spend"].to_numpy(), side="left")
        tiers[grid.index.get_indexer(rows.index)] = np.asarray(labels, dtype=object)[level]
    grid["tier"] = pd.Categorical(tiers, categories=[INACTIVE, *labels], ordered=True)
    return grid.reset_index(drop=True)


def _pairs(tiers: pd.DataFrame) -> pd.DataFrame:
    ordered = tiers.sort_values([C.customer, "period"])
    nxt = ordered.groupby(C.customer, observed=True)["tier"].shift(-1)
    step = ordered.groupby(C.customer, observed=True)["period"].shift(-1)
    keep = nxt.notna().to_numpy()
    return pd.DataFrame({"from": ordered["tier"].to_numpy()[keep],
                         "to": nxt.to_numpy()[keep],
                         "period": step.to_numpy()[keep]})


def tier_transitions(tiers: pd.DataFrame, *, normalize: bool = True) -> pd.DataFrame:
    """Tier this period (rows) x tier next period (columns), pooled over all consecutive
    pairs of periods: shares per row (``normalize``) or counts."""
    pairs = _pairs(tiers)
    cats = list(tiers["tier"].cat.categories)
    counts = pd.crosstab(pd.Categorical(pairs["from"], categories=cats),
                         pd.Categorical(pairs["to"], categories=cats), dropna=False)
    counts = counts.reindex(index=cats, columns=cats, fill_value=0)
    counts.index.name, counts.columns.name = "from", "to"
    if not normalize:
        return counts
    totals = counts.sum(axis=1).replace(0, np.nan)
    return counts.div(totals, axis=0)


def tier_repeat_rates(tiers: pd.DataFrame) -> pd.DataFrame:
    """Per tier: ``customers`` (customer-periods followed by another period) and
    ``repeat_rate``, the share of them that buy in the next period."""
    pairs = _pairs(tiers)
    cats = list(tiers["tier"].cat.categories)
    bought = pd.Series(pairs["to"] != INACTIVE)
    grouped = bought.groupby(pd.Categorical(pairs["from"], categories=cats), observed=False)
    out = pd.DataFrame({"customers": grouped.size(), "repeat_rate": grouped.mean()})
    out.index.name = "tier"
    return out
