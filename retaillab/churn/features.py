"""Churn from transactions: features at a cut-off date, and the label after it.

A customer's features use only what happened at or before the cut-off; the label is whether
they bought in the ``horizon_days`` after it.

**A cut-off given as a date is the whole of that day.** ``cutoff="1997-12-31"`` (a date, or a
time of exactly midnight) means the end of 31 December: features use every transaction and
event with ``date < 1998-01-01 00:00`` (a purchase at 1997-12-31 15:30 counts), times before
the cut-off are counted in calendar days (a purchase on the cut-off day is 0 days old), and the
horizon runs from 1998-01-01 00:00 for ``horizon_days`` whole days. A cut-off with a time of
day (``"1997-12-31 12:00"``) is that instant: features use ``date <= cutoff``, the horizon is
``(cutoff, cutoff + horizon_days]``. For dates without a time of day (CDNOW) both readings
give the same tables. :func:`churn_table` puts both in the customer
table :func:`retaillab.churn.compare` takes::

    tx = data.load("cdnow").transactions
    table = churn.churn_table(tx, cutoff="1997-12-31", horizon_days=180)
    churn.compare(table, models=["logistic", "gbm"])

Every table is cut at the cut-off *first*, and each feature is then computed from the cut
table only, so no feature can read the future (``tests/churn/test_features.py`` checks that
changing the future changes no feature).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from retaillab.churn._behaviour import DAY, category_mix, funnel, slots_of
from retaillab.data.cutoffs import Cutoff
from retaillab.data.ids import check_same_type
from retaillab.data.schema import COLUMNS as C
from retaillab.errors import DataError, ParameterError

__all__ = ["churn_labels", "churn_table", "transaction_features"]

WINDOWS: tuple[int, ...] = (30, 90, 180)


def _cutoff(value: object) -> Cutoff:
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError):
        stamp = None
    if stamp is None or stamp is pd.NaT or stamp.tz is not None:
        raise ParameterError("cutoff", "a date without time zone, like '1997-12-31'", value)
    return Cutoff.of(stamp)


def _checked(transactions: object) -> pd.DataFrame:
    if not isinstance(transactions, pd.DataFrame):
        raise ParameterError("transactions", "a DataFrame (customer, date, amount, ...)",
                             type(transactions).__name__)
    missing = [c for c in (C.customer, C.date, C.amount) if c not in transactions.columns]
    if missing:
        have = ", ".join(map(str, transactions.columns)) or "no columns"
        raise DataError(f"no column {missing[0]!r}; it has {have}", source="transactions",
                        column=missing[0], fix="read it with data.read_transactions(...)")
    if not pd.api.types.is_datetime64_any_dtype(transactions[C.date]):
        raise DataError(f"dates must be datetimes, not {transactions[C.date].dtype}",
                        source="transactions", column=C.date,
                        fix="parse them: pd.to_datetime(tx['date'])")
    if len(transactions) == 0:
        raise DataError("no transactions", source="transactions")
    return transactions


def transaction_features(transactions: pd.DataFrame, cutoff: object, *,
                         events: pd.DataFrame | None = None, items: pd.DataFrame | None = None,
                         windows: Sequence[int] = WINDOWS) -> pd.DataFrame:
    """Behaviour of every customer who bought at or before ``cutoff``, from that history only.

    Times are in days before the cut-off. Indexed by customer (sorted), columns:

    ``recency_days`` (since the last order), ``tenure_days`` (since the first), ``frequency``
    (orders: distinct ``order`` ids, else distinct dates), ``order_rate_30d`` (orders per 30
    days of tenure, tenure counted from one day), ``monetary_total``, ``monetary_mean`` (per
    order), ``quantity_total`` (if there is a quantity), ``ipt_mean``, ``ipt_std``,
    ``ipt_max``, ``ipt_last`` (inter-purchase times in days; NaN with too few orders),
    ``overdue`` (recency over mean inter-purchase time), and for each window ``w``:
    ``orders_{w}d``, ``amount_{w}d`` (in the last ``w`` days) and ``trend_{w}d`` (orders in
    the last ``w`` days minus orders in the ``w`` days before). With ``items`` (item ->
    category) the category mix (:func:`~retaillab.churn._behaviour.category_mix`); with
    ``events`` the funnel behaviour (:func:`~retaillab.churn._behaviour.funnel`).

    A cut-off given as a date is the whole of that day: every transaction before the next
    midnight counts, and times are counted in calendar days (a purchase on the cut-off day is
    0 days old); a cut-off with a time of day counts transactions at or before it. A cut-off
    after the last transaction is allowed here (scoring today's customers); only labels need
    data after it.

    Raises
    ------
    DataError
        Also when ``events`` or ``items`` hold customer or item ids of another type (text
        against integers) than the transactions: the join would match nothing.
    """
    cut = _cutoff(cutoff)
    stamp = cut.stamp
    history = _checked(transactions)
    _check_id_types(history, events, items)
    history = history[cut.past(history[C.date])]
    if history.empty:
        first = transactions[C.date].min()
        raise DataError(f"no transaction at or before the cut-off {stamp:%Y-%m-%d} (the first "
                        f"is on {first:%Y-%m-%d})", source="transactions", column=C.date,
                        fix="choose a later cut-off")
    windows = _windows(windows)
    key = C.order if C.order in history.columns else C.date
    agg = {C.amount: (C.amount, "sum")}
    if key != C.date:
        agg[C.date] = (C.date, "min")
    if C.quantity in history.columns:
        agg[C.quantity] = (C.quantity, "sum")
    orders = history.groupby([C.customer, key], sort=True).agg(**agg).reset_index()
    orders = orders.sort_values([C.customer, C.date], kind="stable")
    by = orders.groupby(C.customer, sort=True)
    first, last = by[C.date].min(), by[C.date].max()
    out = pd.DataFrame({"recency_days": cut.days_before(last),
                        "tenure_days": cut.days_before(first),
                        "frequency": by.size().astype("float64")})
    out["order_rate_30d"] = out["frequency"] / np.maximum(out["tenure_days"], 1.0) * 30
    out["monetary_total"] = by[C.amount].sum()
    out["monetary_mean"] = out["monetary_total"] / out["frequency"]
    if C.quantity in orders.columns:
        out["quantity_total"] = by[C.quantity].sum().astype("float64")
    gap = orders.groupby(C.customer, sort=True)[C.date].diff() / DAY
    gaps = pd.DataFrame({C.customer: orders[C.customer], "gap": gap}).dropna()
    stats = gaps.groupby(C.customer)["gap"].agg(["mean", "std", "max", "last"])
    for name in ("mean", "std", "max", "last"):
        out[f"ipt_{name}"] = stats[name].reindex(out.index)
    out["overdue"] = out["recency_days"] / out["ipt_mean"].where(out["ipt_mean"] > 0)
    age = cut.days_before(orders[C.date])
    for w in windows:
        recent, before = age < w, (age >= w) & (age < 2 * w)
        customer = orders[C.customer]
        out[f"orders_{w}d"] = recent.groupby(customer).sum().astype("float64")
        out[f"amount_{w}d"] = orders[C.amount].where(recent, 0.0).groupby(customer).sum()
        out[f"trend_{w}d"] = out[f"orders_{w}d"] - before.groupby(customer).sum()
    if items is not None:
        lines = slots_of(history[C.customer], out.index)
        out = out.join(category_mix(history, items, out.index, lines))
    if events is not None:
        if C.timestamp not in events.columns:
            raise DataError(f"no column {C.timestamp!r} for funnel features", source="events",
                            column=C.timestamp, fix="pass events=None to skip them")
        if not pd.api.types.is_datetime64_dtype(events[C.timestamp]):
            raise DataError(f"event times must be datetimes without time zone, not "
                            f"{events[C.timestamp].dtype}", source="events",
                            column=C.timestamp,
                            fix="parse them: pd.to_datetime(events['timestamp'])")
        seen = cut.past(events[C.timestamp]).to_numpy()
        behaviour = funnel(events, stamp, out.index, seen, whole_day=cut.whole_day)
        counts = [c for c in behaviour.columns if c.endswith("_events") or c == "sessions"]
        behaviour[counts] = behaviour[counts].fillna(0.0)
        out = out.join(behaviour)
    out.index.name = C.customer
    return out


def _check_id_types(transactions: pd.DataFrame, events: pd.DataFrame | None,
                    items: pd.DataFrame | None) -> None:
    """Refuse tables that name customers or items in another type than the tables they are
    joined to (text against integers), which would join to nothing."""
    if events is None and items is None:
        return
    tables = {"transactions": transactions, "events": events, "items": items}
    joins = [("transactions", "events", C.customer), ("transactions", "items", C.item),
             ("events", "items", C.item)]
    for left, right, key in joins:
        a, b = tables[left], tables[right]
        if all(isinstance(t, pd.DataFrame) and key in t.columns for t in (a, b)):
            check_same_type(a[key], b[key], key=key, left_name=left, right_name=right)


def _windows(windows: object) -> tuple[int, ...]:
    ok = isinstance(windows, Sequence) and not isinstance(windows, str) and all(
        isinstance(w, (int, np.integer)) and not isinstance(w, bool) and w > 0 for w in windows)
    if not ok:
        raise ParameterError("windows", "a sequence of positive whole numbers of days", windows)
    return tuple(int(w) for w in windows)


def churn_labels(transactions: pd.DataFrame, cutoff: object,
                 horizon_days: int = 90) -> pd.Series:
    """``True`` for each customer who bought at or before ``cutoff`` and made no purchase in
    the ``horizon_days`` after it.

    A cut-off given as a date is the whole of that day: customers who bought before the next
    midnight are labelled, and the horizon is the ``horizon_days`` whole days from that
    midnight (``cutoff="1997-12-31"``, 90 days: 1998-01-01 00:00 up to, not including,
    1998-04-01). A cut-off with a time of day: ``(cutoff, cutoff + horizon_days]``.

    Raises
    ------
    DataError
        When the cut-off is at or after the last transaction, or the data end before the
        horizon does (a customer would look churned for want of data).
    """
    cut = _cutoff(cutoff)
    stamp = cut.stamp
    tx = _checked(transactions)
    if isinstance(horizon_days, bool) or not isinstance(horizon_days, (int, np.integer)) \
            or horizon_days < 1:
        raise ParameterError("horizon_days", "a whole number of days >= 1", horizon_days)
    end = stamp + horizon_days * DAY
    last = tx[C.date].max()
    latest = cut.latest(last, horizon_days)
    if cut.past(tx[C.date]).all():
        raise DataError(f"the cut-off {stamp:%Y-%m-%d} is at or after the last transaction "
                        f"({last:%Y-%m-%d}): nothing after it can say who churned",
                        source="transactions", column=C.date,
                        fix=f"choose a cut-off on or before {latest:%Y-%m-%d}"
                            f" for a {horizon_days}-day horizon")
    if not cut.covered(last, horizon_days):
        raise DataError(f"the {horizon_days}-day horizon after the cut-off {stamp:%Y-%m-%d} "
                        f"ends on {end:%Y-%m-%d}, after the last transaction ({last:%Y-%m-%d})",
                        source="transactions", column=C.date,
                        fix=f"choose a cut-off on or before {latest:%Y-%m-%d}"
                            " or a shorter horizon")
    active = pd.Index(np.sort(tx.loc[cut.past(tx[C.date]), C.customer].unique()),
                      name=C.customer)
    future = tx[cut.future(tx[C.date], horizon_days)]
    return pd.Series(~active.isin(future[C.customer].unique()), index=active, name=C.churn)


def churn_table(transactions: pd.DataFrame, cutoff: object, horizon_days: int = 90, *,
                events: pd.DataFrame | None = None, items: pd.DataFrame | None = None,
                windows: Sequence[int] = WINDOWS) -> pd.DataFrame:
    """A customer table for :func:`retaillab.churn.compare`: ``customer``, the features of
    :func:`transaction_features` at ``cutoff``, and the bool ``churn`` of :func:`churn_labels`.

    A cut-off given as a date is the whole of that day, on both sides (see the module
    docstring). Raises a :class:`DataError` when ``events`` or ``items`` name customers or
    items in another type (text against integers) than ``transactions``.
    """
    _check_id_types(_checked(transactions), events, items)
    labels = churn_labels(transactions, cutoff, horizon_days)
    features = transaction_features(transactions, cutoff, events=events, items=items,
                                    windows=windows)
    return features.join(labels).reset_index()
