"""Purchase occasions: a customer's transactions grouped by calendar day, checked once.

The BTYD literature counts a day with several transactions as one purchase (Fader, Hardie &
Lee 2005, CDNOW); every function in :mod:`retaillab.clv` that reads transactions goes
through :func:`occasions` so they all agree.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from retaillab.data.schema import COLUMNS as C
from retaillab.errors import DataError, ParameterError, check_choice, failing_rows

#: Length of one time unit in days.
UNIT_DAYS = {"D": 1.0, "W": 7.0}
_FIX = ("load transactions with retaillab.data.read_transactions(...) or give a DataFrame "
        "with columns 'customer', 'date' and 'amount'")


def unit_days(unit: str) -> float:
    check_choice("unit", unit, tuple(UNIT_DAYS))
    return UNIT_DAYS[unit]


def timestamp(name: str, value: object, like: pd.Series | None = None) -> pd.Timestamp:
    """``value`` as a day-precision Timestamp in the time zone of ``like``.

    Purchases are counted by calendar day, so a cut-off is a whole day: ``date <= cut-off``
    on normalised dates takes in every purchase of that day, at any time of day, and the
    next period starts at the next midnight. A time of day given with the cut-off is dropped.
    """
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise ParameterError(name, "a date such as '1997-09-30'", value) from exc
    if pd.isna(stamp):
        raise ParameterError(name, "a date such as '1997-09-30'", value)
    tz = getattr(getattr(like, "dt", None), "tz", None) if like is not None else None
    if tz is not None and stamp.tzinfo is None:
        stamp = stamp.tz_localize(tz)
    elif tz is None and stamp.tzinfo is not None:
        stamp = stamp.tz_convert(None)
    return stamp.normalize()


def occasions(tx: pd.DataFrame, *, amount: bool = True, source: str = "transactions"
              ) -> pd.DataFrame:
    """One row per (customer, day) with the day's total ``amount``; sorted, first day first.

    Raises :class:`DataError` for missing columns, unreadable dates or non-finite amounts.
    """
    if not isinstance(tx, pd.DataFrame):
        raise DataError(f"expected a DataFrame of transactions, got {type(tx).__name__}",
                        source=source, fix=_FIX)
    need = [C.customer, C.date] + ([C.amount] if amount else [])
    missing = [c for c in need if c not in tx.columns]
    if missing:
        raise DataError(f"missing column(s) {', '.join(map(repr, missing))}", source=source,
                        fix=_FIX)
    dates = pd.to_datetime(tx[C.date], errors="coerce")
    bad = dates.isna().to_numpy()
    if bad.any():
        raise DataError("dates that cannot be read", source=source, column=C.date,
                        rows=failing_rows(tx, bad, need), n_bad=int(bad.sum()),
                        fix="give ISO dates (YYYY-MM-DD) and drop rows without a date")
    frame = pd.DataFrame({C.customer: tx[C.customer].to_numpy(),
                          C.date: dates.dt.normalize().to_numpy()})
    if amount:
        values = pd.to_numeric(tx[C.amount], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(values)
        if bad.any():
            raise DataError("amounts must be finite numbers", source=source, column=C.amount,
                            rows=failing_rows(tx, bad, need), n_bad=int(bad.sum()),
                            fix="drop or repair these rows")
        frame[C.amount] = values
    else:
        frame[C.amount] = 0.0
    grouped = frame.groupby([C.customer, C.date], sort=True, observed=True)[C.amount].sum()
    return grouped.reset_index()


def with_birth(occ: pd.DataFrame) -> pd.DataFrame:
    """Occasions with each customer's first day (``birth``) and whether a row is a repeat."""
    birth = occ.groupby(C.customer, sort=False, observed=True)[C.date].transform("min")
    return occ.assign(birth=birth, repeat=(occ[C.date] > birth).to_numpy())


def check_order(calibration_end: pd.Timestamp, holdout_end: pd.Timestamp | None) -> None:
    if holdout_end is not None and holdout_end <= calibration_end:
        raise ParameterError("holdout_end", f"after calibration_end ({calibration_end.date()})",
                             str(holdout_end.date()))


def check_periods(dates: pd.Series, calibration_end: pd.Timestamp,
                  holdout_end: pd.Timestamp | None) -> None:
    """Refuse periods the data do not cover, in the words churn's labels use.

    ``calibration_end`` before the first purchase day leaves nobody to summarise; a
    ``holdout_end`` after the last purchase day counts days without data as days without
    purchases, so every model looks to over-predict (CDNOW's holdout error flips from -14% to
    +30% with a year too many). ``dates`` are purchase days (normalised).
    """
    first, last = dates.min(), dates.max()
    if calibration_end < first:
        raise DataError(f"calibration_end {calibration_end:%Y-%m-%d} is before the first "
                        f"transaction ({first:%Y-%m-%d}): nobody has bought by then",
                        source="transactions", column=C.date,
                        fix=f"set calibration_end on or after {first:%Y-%m-%d}")
    check_order(calibration_end, holdout_end)
    if holdout_end is None:
        return
    if calibration_end >= last:
        raise DataError(f"calibration_end {calibration_end:%Y-%m-%d} is at or after the last "
                        f"transaction ({last:%Y-%m-%d}): nothing after it can be a holdout",
                        source="transactions", column=C.date,
                        fix=f"set calibration_end before {last:%Y-%m-%d} and holdout_end on "
                            f"or before {last:%Y-%m-%d}")
    if holdout_end > last:
        raise DataError(f"the holdout after calibration_end {calibration_end:%Y-%m-%d} ends on "
                        f"{holdout_end:%Y-%m-%d}, after the last transaction "
                        f"({last:%Y-%m-%d}): the days without data would count as days "
                        "without purchases", source="transactions", column=C.date,
                        fix=f"set holdout_end on or before {last:%Y-%m-%d}")
