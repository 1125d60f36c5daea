"""RFM: the BTYD calibration summary of transactions, RFM quintile scores and named segments.

Definitions (Fader, Hardie & Lee 2005; lifetimes' ``summary_data_from_transaction_data``):
a *purchase occasion* is a calendar day with at least one transaction, so several
transactions on the same day count once.

``frequency``
    Repeat purchases in calibration: distinct purchase days up to ``calibration_end``, minus 1.
``recency``
    Time from the first to the last purchase day in calibration (0 without repeats).
``T``
    Time from the first purchase day to ``calibration_end`` (the customer's age).
``monetary_value``
    Mean spend per repeat occasion (the first purchase excluded), 0 when ``frequency`` is 0.

Times are in ``unit`` ("W": days / 7, "D": days). Only customers whose first purchase is on or
before ``calibration_end`` are summarised.

Cut-offs are whole days: ``calibration_end="1997-12-31"`` puts every purchase of 31 December,
at any time of day, in calibration, and a purchase at 1998-01-01 00:00 in the holdout
(``holdout_end`` likewise takes in its whole day). A time of day given with a cut-off is
dropped. For dates without a time (CDNOW) nothing changes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from retaillab.clv._occasions import (
    check_periods,
    occasions,
    timestamp,
    unit_days,
    with_birth,
)
from retaillab.data.schema import COLUMNS as C

__all__ = ["SEGMENTS", "rfm_scores", "rfm_segments", "rfm_summary"]


def rfm_summary(tx: pd.DataFrame, *, calibration_end: object, unit: str = "W",
                holdout_end: object = None) -> pd.DataFrame:
    """The per-customer calibration summary (and holdout counts when ``holdout_end`` is set).

    Returns
    -------
    DataFrame indexed by customer: ``frequency``, ``recency``, ``T``, ``monetary_value``; with
    ``holdout_end`` also ``frequency_holdout`` (purchase days in ``(calibration_end,
    holdout_end]``), ``monetary_value_holdout`` (their mean spend, 0 if none) and
    ``duration_holdout``.

    Both cut-offs are whole days: every purchase on the ``calibration_end`` day, at any time,
    is in calibration; the holdout is the days after it up to and including ``holdout_end``.

    Raises
    ------
    DataError
        Missing columns, unreadable dates, non-finite amounts, ``calibration_end`` before the
        first transaction, or, with ``holdout_end``, ``calibration_end`` at or after the last
        transaction or ``holdout_end`` after it ("set holdout_end on or before ...").
    ParameterError
        An unknown ``unit``, or ``holdout_end`` not after ``calibration_end``.

    Example
    -------
    >>> rfm_summary(tx, calibration_end="1997-09-30", unit="W")   # doctest: +SKIP
    """
    days = unit_days(unit)
    occ = occasions(tx)
    cal_end = timestamp("calibration_end", calibration_end, occ[C.date])
    hold_end = None if holdout_end is None else timestamp("holdout_end", holdout_end,
                                                          occ[C.date])
    check_periods(occ[C.date], cal_end, hold_end)
    occ = with_birth(occ)
    occ = occ[occ["birth"] <= cal_end]
    if occ.empty:
        from retaillab.errors import DataError

        raise DataError(f"no customer made a first purchase by calibration_end "
                        f"{cal_end.date()}", source="transactions", column=C.date,
                        fix="choose a later calibration_end")
    cal = occ[occ[C.date] <= cal_end]
    grouped = cal.groupby(C.customer, sort=True, observed=True)
    first = grouped[C.date].min()
    last = grouped[C.date].max()
    n = grouped.size()
    total = grouped[C.amount].sum()
    first_amount = cal[~cal["repeat"].to_numpy()].set_index(C.customer)[C.amount]
    frequency = (n - 1).astype(int)
    repeat_spend = total - first_amount.reindex(total.index).to_numpy()
    out = pd.DataFrame({
        "frequency": frequency,
        "recency": (last - first).dt.days / days,
        "T": (cal_end - first).dt.days / days,
        "monetary_value": np.where(frequency > 0, repeat_spend / frequency.clip(lower=1), 0.0),
    })
    out.index.name = C.customer
    if hold_end is not None:
        hold = occ[(occ[C.date] > cal_end) & (occ[C.date] <= hold_end)]
        hg = hold.groupby(C.customer, sort=True, observed=True)[C.amount]
        out["frequency_holdout"] = hg.size().reindex(out.index, fill_value=0).astype(int)
        out["monetary_value_holdout"] = hg.mean().reindex(out.index, fill_value=0.0)
        out["duration_holdout"] = (hold_end - cal_end).days / days
    return out


#: RFM segments by (recency score, frequency score), the common 10-segment map.
SEGMENTS: tuple[tuple[str, str], ...] = (
    ("Champions", "recent (R 5) and frequent (F 4-5)"),
    ("Loyal", "fairly recent (R 3-4) and frequent (F 4-5)"),
    ("Potential", "recent (R 4-5), a few purchases (F 2-3)"),
    ("New", "very recent (R 5), one purchase so far (F 1)"),
    ("Promising", "recent (R 4), one purchase so far (F 1)"),
    ("Need attention", "middling on both (R 3, F 3)"),
    ("About to sleep", "middling recency (R 3), few purchases (F 1-2)"),
    ("At risk", "long gone (R 1-2) after several purchases (F 3-4)"),
    ("Cannot lose", "long gone (R 1-2) after the most purchases (F 5)"),
    ("Hibernating", "long gone (R 1-2), few purchases (F 1-2)"),
)


def _segment(r: int, f: int) -> str:
    if r <= 2:
        return "Hibernating" if f <= 2 else ("At risk" if f <= 4 else "Cannot lose")
    if r == 3:
        return "About to sleep" if f <= 2 else ("Need attention" if f == 3 else "Loyal")
    if f >= 4:
        return "Champions" if r == 5 else "Loyal"
    if f == 1:
        return "New" if r == 5 else "Promising"
    return "Potential"


def _quintile(values: pd.Series, higher_is_better: bool = True) -> pd.Series:
    """Scores 1..5 from the share of customers strictly worse (5 = best); ties share a
    score, so with many ties (most customers never repeat) the quintiles are unequal."""
    below = values.rank(method="min", ascending=higher_is_better) - 1
    return (np.floor(below / len(values) * 5) + 1).clip(1, 5).astype(int)


def rfm_scores(summary: pd.DataFrame) -> pd.DataFrame:
    """Quintile scores 1-5 of recency, frequency and monetary value (5 = best).

    Recency here is the RFM sense, time since the last purchase (``T - recency``): the more
    recent, the higher ``r_score``. Frequency counts all purchase days (``frequency + 1``);
    monetary value is ``monetary_value``. Quintiles are equal sized when values are
    distinct; tied customers get the same score. ``rfm_score`` is the three digits as a
    string, e.g. "545".
    """
    from retaillab.clv._validate import numeric_columns

    x, tx, big_t, m = numeric_columns(summary, ("frequency", "recency", "T", "monetary_value"),
                                      "rfm_scores")
    idx = summary.index
    out = pd.DataFrame({
        "r_score": _quintile(pd.Series(big_t - tx, index=idx), higher_is_better=False),
        "f_score": _quintile(pd.Series(x, index=idx)),
        "m_score": _quintile(pd.Series(m, index=idx)),
    })
    out["rfm_score"] = (out["r_score"].astype(str) + out["f_score"].astype(str)
                        + out["m_score"].astype(str))
    return out


def rfm_segments(summary: pd.DataFrame) -> pd.DataFrame:
    """:func:`rfm_scores` plus the named ``segment`` (see :data:`SEGMENTS`), categorical."""
    scores = rfm_scores(summary)
    names = [_segment(r, f) for r, f in zip(scores["r_score"], scores["f_score"], strict=True)]
    scores["segment"] = pd.Categorical(names, categories=[s for s, _ in SEGMENTS])
    return scores
