"""Discounted customer lifetime value from a purchase model and a spend model.

Definition (the lifetimes convention, made explicit): with ``L`` the length of a month in the
summary's time unit and ``d`` the monthly discount rate,

    CLV = sum_{i=1..months} E[spend] * (E[Y(i L) | x, t_x, T] - E[Y((i-1) L) | x, t_x, T])
                                      / (1 + d)^i

where ``E[Y(t) | ...]`` is the model's conditional expected number of purchases in
``(T, T + t]`` and ``E[spend]`` the Gamma-Gamma conditional expected average spend (note 025
eq. 5). Purchases in month ``i`` are discounted as if made at its end. ``L`` defaults to
365.25 / 12 days (4.348 weeks); lifetimes uses 4.345 weeks, pass ``month_length=4.345`` to
reproduce its figures.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from retaillab.clv._occasions import unit_days
from retaillab.errors import ParameterError

__all__ = ["customer_lifetime_value", "month_length"]

DAYS_PER_MONTH = 365.25 / 12
_CHUNK = 200_000  # customers scored at once (bounds memory at months x chunk floats)


def month_length(unit: str) -> float:
    """One month (365.25 / 12 days) in ``unit``."""
    return DAYS_PER_MONTH / unit_days(unit)


def customer_lifetime_value(transaction_model, spend_model, summary: pd.DataFrame, *,
                            months: int = 12, discount_rate: float = 0.01, unit: str = "W",
                            month_length: float | None = None) -> pd.Series:
    """Each customer's discounted expected spend over the next ``months`` (module docstring).

    Parameters
    ----------
    transaction_model
        A fitted :class:`BetaGeo`, :class:`ModifiedBetaGeo` or :class:`ParetoNBD`.
    spend_model
        A fitted :class:`GammaGamma`.
    summary
        ``frequency``, ``recency``, ``T``, ``monetary_value`` per customer (in ``unit``).
    months, discount_rate
        Horizon in months and monthly discount rate (0.01 = 1% a month).
    """
    if not isinstance(months, (int, np.integer)) or months < 1:
        raise ParameterError("months", "a whole number >= 1", months)
    if not (isinstance(discount_rate, (int, float)) and 0 <= discount_rate < 1):
        raise ParameterError("discount_rate", "a number in [0, 1) (per month)", discount_rate)
    length = globals()["month_length"](unit) if month_length is None else float(month_length)
    if not length > 0:
        raise ParameterError("month_length", "> 0", month_length)
    spend = spend_model.conditional_expected_average_profit(summary)
    x, tx, big_t = (summary[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
    steps = np.arange(1, int(months) + 1, dtype=float)
    ends = (steps * length)[:, None]  # every month at once: P(alive) is computed once
    weights = (1 + discount_rate) ** -steps
    total = np.empty(len(summary))
    for lo in range(0, len(summary), _CHUNK):
        part = slice(lo, lo + _CHUNK)
        cumulative = transaction_model.conditional_expected_purchases(
            ends, x[part], tx[part], big_t[part])
        in_month = np.diff(cumulative, axis=0, prepend=0.0)
        total[part] = spend[part] * (weights @ in_month)
    return pd.Series(total, index=summary.index, name="clv")
