"""Baselines every CLV model must beat.

``simple_clv``
    The textbook formula: average order value x purchase frequency x expected lifetime.
``rate_baseline``
    "The future is the past": each customer keeps buying at their calibration repeat rate,
    ``frequency / T`` per unit of time, for the holdout length.
``last_period_baseline``
    "Next period equals last period": as many purchase days in the holdout as in the last
    equal-length stretch of the calibration period.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from retaillab.clv._occasions import occasions, timestamp, unit_days, with_birth
from retaillab.clv._validate import numeric_columns
from retaillab.data.ids import check_same_type
from retaillab.data.schema import COLUMNS as C
from retaillab.errors import ParameterError

__all__ = ["last_period_baseline", "rate_baseline", "simple_clv"]


def _repeat_rate(summary: pd.DataFrame) -> np.ndarray:
    x, big_t = numeric_columns(summary, ("frequency", "T"), "baseline")
    return np.divide(x, big_t, out=np.zeros_like(x), where=big_t > 0)


def rate_baseline(summary: pd.DataFrame, duration: float | np.ndarray) -> pd.Series:
    """Predicted holdout purchases = calibration repeat rate (``frequency / T``) x duration."""
    return pd.Series(_repeat_rate(summary) * np.asarray(duration, dtype=float),
                     index=summary.index, name="rate_baseline")


def last_period_baseline(tx: pd.DataFrame, summary: pd.DataFrame, *, calibration_end: object,
                         length: float, unit: str = "W") -> pd.Series:
    """Predicted holdout purchases = repeat purchase days in ``(calibration_end - length,
    calibration_end]`` (``length`` in ``unit``), for the customers of ``summary``. A summary
    whose customer ids are of another type than the transactions' (text against integers) is
    a :class:`~retaillab.errors.DataError`: they would match nobody."""
    if not length > 0:
        raise ParameterError("length", "> 0 (the holdout length)", length)
    occ = with_birth(occasions(tx, amount=False))
    check_same_type(occ[C.customer], summary.index, key=C.customer, left_name="transactions",
                    right_name="summary")
    end = timestamp("calibration_end", calibration_end, occ[C.date])
    start = end - pd.Timedelta(days=float(length) * unit_days(unit))
    recent = occ[occ["repeat"].to_numpy() & (occ[C.date] > start) & (occ[C.date] <= end)]
    counts = recent.groupby(C.customer, observed=True).size()
    return counts.reindex(summary.index, fill_value=0).astype(float).rename(
        "last_period_baseline")


def simple_clv(summary: pd.DataFrame, *, lifetime: float, margin: float = 1.0) -> pd.Series:
    """Average order value x purchase frequency x expected lifetime, per customer.

    The order value is the customer's mean repeat spend (the population's mean repeat spend
    for customers without repeats), the frequency their calibration repeat rate
    ``frequency / T``, and ``lifetime`` the expected remaining lifetime in the summary's time
    unit (e.g. the CLV horizon). No discounting, no churn: that is what models add.
    """
    if not lifetime > 0:
        raise ParameterError("lifetime", "> 0 (in the summary's time unit)", lifetime)
    x, m = numeric_columns(summary, ("frequency", "monetary_value"), "simple_clv")
    repeat = x > 0
    fallback = float(m[repeat].mean()) if repeat.any() else 0.0
    aov = np.where(repeat, m, fallback)
    return pd.Series(margin * aov * _repeat_rate(summary) * lifetime, index=summary.index,
                     name="simple_clv")
