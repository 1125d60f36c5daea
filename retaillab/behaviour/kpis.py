"""Retail KPIs per calendar period, acquisition cohorts and member-tier migration.

The numbers a trading meeting opens with, computed in one vectorised pass over the order
lines (no per-customer Python):

- :func:`kpis`: one row per calendar period (month, week or quarter) with active, new and
  returning customers, orders, revenue, average order value, order frequency, the in-period
  repurchase rate, period-to-period retention and, given events, visitor conversion; each
  with its relative change against the previous period;
- :func:`cohorts`: customers grouped by the period of their first order, followed period by
  period (retention, counts, cumulative revenue per member);
- :func:`tier_migration`: the member value tiers of :mod:`retaillab.clv.tiers` summarised
  as their transition matrices, so a notebook can show all three views side by side;
- :func:`kpi_figure` and :func:`cohort_heatmap`: matplotlib figures (imported when called).

Every table is aggregate: counts of customers, never customer ids. Each carries a
``customers`` count (``kpis``: the active customers; ``cohorts``: the cohort size) so
:func:`retaillab.behaviour.privacy.suppress` can hide cells of fewer than ``k`` customers.

Definitions
-----------
order
    A distinct ``(customer, order)`` pair when the transactions have an ``order`` column (the
    same as distinct order ids when each id belongs to one customer, as in every export), else
    a distinct customer-day: several lines of one customer on one calendar day are one order,
    the purchase occasion of :mod:`retaillab.clv`. An order whose lines fall in two periods
    counts in both.
active, new, returning
    Customers with an order in the period; those whose first order in the data is in it; the
    active who are not new.
periods
    pandas calendar periods: ``"M"`` months, ``"Q"`` quarters, ``"W"`` weeks Monday to Sunday
    (``W-SUN``). Every period from the first to the last with data is a row, empty or not.
    Time-zone-aware dates are taken at their local wall-clock time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from retaillab.data.schema import COLUMNS as C
from retaillab.data.schema import EVENT_TYPES
from retaillab.errors import DataError, ParameterError, check_choice, failing_rows

__all__ = [
    "EVENT_KPIS",
    "KPIS",
    "PERIODS",
    "Cohorts",
    "TierMigration",
    "cohort_heatmap",
    "cohorts",
    "kpi_figure",
    "kpis",
    "tier_migration",
]

#: Period frequencies :func:`kpis` and :func:`cohorts` accept.
PERIODS = ("M", "W", "Q")
#: KPI columns of :func:`kpis`, in order; each has a ``<kpi>_change`` column too.
KPIS = ("active", "new", "returning", "orders", "revenue", "aov", "frequency",
        "repurchase_rate", "retention")
#: KPI columns :func:`kpis` adds when given events.
EVENT_KPIS = ("visitors", "conversion")
#: The panels :func:`kpi_figure` draws by default.
DEFAULT_FIGURE_KPIS = ("active", "new", "orders", "revenue", "aov", "retention")

PURCHASE = EVENT_TYPES[-1]
_FIX_TX = ("load transactions with retaillab.data.read_transactions(...) or give a DataFrame "
           "with columns 'customer', 'date' (datetime64) and 'amount'")
_FIX_EV = ("load events with retaillab.data.read_events(...) or give a DataFrame with columns "
           "'customer', 'event' and 'timestamp' (datetime64)")


# --- checks and codes ---------------------------------------------------------------------


def _check(frame: object, need: Sequence[str], when: str, source: str, fix: str
           ) -> pd.DataFrame:
    """Refuse what cannot be counted, with one :class:`DataError` naming every problem."""
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"expected a DataFrame, got {type(frame).__name__}", source=source,
                        fix=fix)
    missing = [c for c in need if c not in frame.columns]
    if missing:
        raise DataError(f"missing column(s) {', '.join(map(repr, missing))}", source=source,
                        fix=fix)
    if len(frame) == 0:
        raise DataError("no rows: there is nothing to count", source=source,
                        fix="give at least one row (check the filter that made the table)")
    problems = []
    dates = frame[when]
    if not pd.api.types.is_datetime64_any_dtype(dates):
        problems.append(DataError(
            f"dates must be datetime64, got dtype {dates.dtype}", source=source, column=when,
            fix=f"parse them first: df[{when!r}] = pd.to_datetime(df[{when!r}])"))
    elif dates.isna().any():
        bad = dates.isna().to_numpy()
        problems.append(DataError("missing dates", source=source, column=when,
                                  rows=failing_rows(frame, bad, need), n_bad=int(bad.sum()),
                                  fix="drop rows without a date"))
    for column in [c for c in (C.customer, C.order) if c in frame.columns]:
        bad = frame[column].isna().to_numpy()
        if bad.any():
            problems.append(DataError(f"missing {column} ids", source=source, column=column,
                                      rows=failing_rows(frame, bad, need),
                                      n_bad=int(bad.sum()), fix="drop or repair these rows"))
    if C.amount in need:
        values = pd.to_numeric(frame[C.amount], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(values)
        if bad.any():
            problems.append(DataError("amounts must be finite numbers", source=source,
                                      column=C.amount, rows=failing_rows(frame, bad, need),
                                      n_bad=int(bad.sum()), fix="drop or repair these rows"))
    if problems:
        raise DataError.of(problems)
    return frame


def _ordinals(dates: pd.Series, period: str) -> np.ndarray:
    """pandas Period ordinals of ``dates`` (local wall-clock time if time-zone-aware)."""
    if getattr(dates.dt, "tz", None) is not None:
        dates = dates.dt.tz_localize(None)
    return dates.dt.to_period(period).array.asi8


def _codes(values: pd.Series) -> tuple[np.ndarray, int]:
    """Integer codes of ids and their number (an upper bound): integer ids in a compact range
    are their own codes (offset by the smallest), anything else is factorized."""
    if pd.api.types.is_integer_dtype(values.dtype) and not isinstance(values.dtype,
                                                                     pd.CategoricalDtype):
        raw = values.to_numpy(dtype=np.int64)
        low, high = int(raw.min()), int(raw.max())
        if high - low < 2 * len(raw) + 1024:
            return raw - low, high - low + 1
    codes, uniques = pd.factorize(values)
    return codes.astype(np.int64), len(uniques)


def _distinct(keys: np.ndarray, space: int, count: bool = True
              ) -> tuple[np.ndarray, np.ndarray | None]:
    """Sorted distinct ``keys`` (integers in [0, space)) and, if ``count``, how often each
    occurs: marked in a dense array when the key space is small, else hashed."""
    if not count and space <= 16 * len(keys) + 1024:  # one byte a key
        seen = np.zeros(space, dtype=bool)
        seen[keys] = True
        return np.flatnonzero(seen), None
    if space <= 4 * len(keys) + 1024:
        counts = np.bincount(keys, minlength=space)
        present = np.flatnonzero(counts)
        return present, counts[present]
    codes, uniques = pd.factorize(keys)
    order = np.argsort(uniques)
    if not count:
        return uniques[order], None
    return uniques[order], np.bincount(codes, minlength=len(uniques))[order]


@dataclass(frozen=True)
class _Lines:
    """Order lines as integer codes: customer, period ordinal, amount, order key."""

    customer: np.ndarray  # codes 0..n_customers-1
    n_customers: int
    ordinal: np.ndarray   # Period ordinals
    amount: np.ndarray
    order: np.ndarray | None  # codes of order ids or of days (None: not needed)
    n_orders: int         # an upper bound of the order codes (exclusive)
    owner: np.ndarray | None  # the customer of each order id, if each id has one


def _lines(tx: pd.DataFrame, period: str, orders: bool = True) -> _Lines:
    tx = _check(tx, (C.customer, C.date, C.amount), C.date, "transactions", _FIX_TX)
    customer, n_customers = _codes(tx[C.customer])
    ordinal = _ordinals(tx[C.date], period)
    amount = pd.to_numeric(tx[C.amount]).to_numpy(dtype=float)
    order, n, owner = None, 0, None
    if orders and C.order in tx.columns:
        order, n = _codes(tx[C.order])
        owner = np.empty(n, dtype=np.int64)
        owner[order] = customer
        if not np.array_equal(owner[order], customer):  # an id shared by customers
            owner = None
    elif orders:  # customer-days: a customer's lines of one calendar day are one order
        dates = tx[C.date]
        if getattr(dates.dt, "tz", None) is not None:
            dates = dates.dt.tz_localize(None)
        order = dates.to_numpy().astype("datetime64[D]").astype(np.int64)
        order = order - order.min()
        n = int(order.max()) + 1
    return _Lines(customer, n_customers, ordinal, amount, order, n, owner)


@dataclass(frozen=True)
class _Activity:
    """Distinct customer-periods (sorted by customer then period) and their order counts."""

    customer: np.ndarray
    period: np.ndarray    # offsets 0..n_periods-1
    orders: np.ndarray | None  # orders of the customer in the period
    order_period: np.ndarray | None  # the period offset of each distinct order
    first: np.ndarray     # each customer's first period offset
    n_periods: int


def _activity(lines: _Lines, start: int, n_periods: int) -> _Activity:
    p = lines.ordinal - start
    big = np.int64(n_periods)
    if lines.order is None:  # customer-periods only
        cps, _ = _distinct(lines.customer * big + p, lines.n_customers * n_periods, False)
        counts = order_period = None
    else:
        if lines.owner is not None:  # order ids of one customer each: key on the id alone
            keys, _ = _distinct(lines.order * big + p, lines.n_orders * n_periods, False)
            order_customer = lines.owner[keys // big]
        elif lines.n_customers * lines.n_orders * n_periods < 2**62:
            pairs = pd.unique((lines.customer * np.int64(lines.n_orders) + lines.order) * big
                              + p)
            keys, order_customer = pairs, pairs // big // np.int64(lines.n_orders)
        else:  # the key would overflow int64: number the (customer, order) pairs instead
            pair = pd.MultiIndex.from_arrays([lines.customer, lines.order]).factorize()[0]
            pair = pair.astype(np.int64)
            customer_of = np.empty(int(pair.max()) + 1, dtype=np.int64)
            customer_of[pair] = lines.customer
            keys = pd.unique(pair * big + p)
            order_customer = customer_of[keys // big]
        order_period = keys % big  # one per order and period
        cps, counts = _distinct(order_customer * big + order_period,
                                lines.n_customers * n_periods)
    customer, period = cps // big, cps % big
    first = np.full(lines.n_customers, n_periods, dtype=np.int64)  # n_periods: code unused
    # sorted by customer then period: a customer's first row holds their first period
    starts = np.flatnonzero(np.r_[True, customer[1:] != customer[:-1]])
    first[customer[starts]] = period[starts]
    return _Activity(customer, period, counts, order_period, first, n_periods)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    num, den = np.asarray(num, dtype=float), np.asarray(den, dtype=float)
    out = np.full(num.shape, np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def _sums(values: np.ndarray, keys: np.ndarray, size: int) -> np.ndarray:
    """Sums of ``values`` by integer ``keys`` in [0, size): pandas' compensated sums."""
    sums = pd.Series(values).groupby(keys).sum()
    out = np.zeros(size)
    out[sums.index.to_numpy()] = sums.to_numpy()
    return out


# --- KPIs ---------------------------------------------------------------------------------


def kpis(transactions: pd.DataFrame, *, period: str = "M",
         events: pd.DataFrame | None = None) -> pd.DataFrame:
    """KPIs per calendar period, with their relative change against the previous period.

    Parameters
    ----------
    transactions
        Order lines: ``customer``, ``date`` (datetime64), ``amount``, optional ``order``.
    period
        ``"M"`` (months), ``"W"`` (weeks, Monday to Sunday) or ``"Q"`` (quarters).
    events
        Optional event log (``customer``, ``event``, ``timestamp``): adds ``visitors``
        (customers with any event in the period) and ``conversion``, the share of them with a
        ``purchase`` event in the same period. Visitors, not sessions, so the rate is per
        customer like every other KPI here and is defined for logs without sessions.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``period`` (a PeriodIndex with every period from the first to the last
        with data, empty ones too). Columns: ``customers`` (= ``active``, the count for
        small-cell suppression), ``active``, ``new``, ``returning``, ``orders`` (see the
        module's definitions), ``revenue`` (sum of ``amount``), ``aov`` (revenue / orders),
        ``frequency`` (orders / active), ``repurchase_rate`` (share of the active with two or
        more orders in the period), ``retention`` (share of the previous period's active who
        are active again), with events ``visitors`` and ``conversion``; then for each KPI
        ``<kpi>_change`` = ``kpi / previous - 1``, NaN for the first period and where the
        previous value is 0 or NaN. Ratios of an empty period (0 / 0) are NaN.
    """
    check_choice("period", period, PERIODS)
    lines = _lines(transactions, period)
    ordinals = [lines.ordinal.min(), lines.ordinal.max()]
    if events is not None:
        events = _check(events, (C.customer, C.event, C.timestamp), C.timestamp, "events",
                        _FIX_EV)
        ev_ordinal = _ordinals(events[C.timestamp], period)
        ordinals += [ev_ordinal.min(), ev_ordinal.max()]
    start, end = int(min(ordinals)), int(max(ordinals))
    n = end - start + 1
    act = _activity(lines, start, n)

    active = np.bincount(act.period, minlength=n)
    # integer ids with gaps leave codes no customer holds (first = n): they are nobody's first
    new = np.bincount(act.first[act.first < n], minlength=n)
    orders = np.bincount(act.order_period, minlength=n)
    revenue = _sums(lines.amount, lines.ordinal - start, n)
    repeat = np.bincount(act.period, weights=act.orders >= 2, minlength=n)
    # (customer, period) rows sorted: the one before is the same customer's previous period
    again = (np.diff(act.customer) == 0) & (np.diff(act.period) == 1)
    retained = np.bincount(act.period[1:][again], minlength=n)
    retention = np.full(n, np.nan)
    retention[1:] = _ratio(retained[1:], active[:-1])

    table = pd.DataFrame({
        "customers": active, "active": active, "new": new, "returning": active - new,
        "orders": orders, "revenue": revenue, "aov": _ratio(revenue, orders),
        "frequency": _ratio(orders, active), "repurchase_rate": _ratio(repeat, active),
        "retention": retention,
    }, index=pd.period_range(pd.Period(ordinal=start, freq=period), periods=n, name="period"))
    names = list(KPIS)
    if events is not None:
        visitors, buyers = _conversion(events, ev_ordinal - start, n)
        table["visitors"] = visitors
        table["conversion"] = _ratio(buyers, visitors)
        names += list(EVENT_KPIS)
    values = table[names].to_numpy(dtype=float)
    change = np.full(values.shape, np.nan)
    change[1:] = _ratio(values[1:], values[:-1]) - 1.0
    change[1:][values[:-1] == 0] = np.nan
    return table.join(pd.DataFrame(change, index=table.index,
                                   columns=[f"{k}_change" for k in names]))


def _conversion(events: pd.DataFrame, period: np.ndarray, n: int
                ) -> tuple[np.ndarray, np.ndarray]:
    """Visitors and buyers (distinct customers with a purchase event) per period offset."""
    customer = pd.factorize(events[C.customer])[0].astype(np.int64)
    key = customer * np.int64(n) + period
    bought = (events[C.event].astype(object) == PURCHASE).to_numpy()
    visitors = np.bincount(pd.unique(key) % n, minlength=n)
    buyers = np.bincount(pd.unique(key[bought]) % n, minlength=n)
    return visitors, buyers


# --- cohorts ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cohorts:
    """Acquisition cohorts followed period by period.

    Every matrix is indexed by ``cohort`` (the period of the members' first order; periods
    in which nobody was acquired are left out) with one column per ``age`` (periods since
    acquisition, 0 first). Cells past the last period with data are NaN: not yet observed,
    which is not the same as nobody active.

    Attributes
    ----------
    retention
        Share of the cohort active (an order) in the period; age 0 is 1.0.
    counts
        The same as customer counts.
    sizes
        Cohort sizes, a Series named ``customers`` (the count for small-cell suppression).
    revenue
        Cumulative revenue per cohort member from acquisition up to each age.
    period
        The period frequency.
    """

    retention: pd.DataFrame
    counts: pd.DataFrame
    sizes: pd.Series
    revenue: pd.DataFrame
    period: str


def cohorts(transactions: pd.DataFrame, *, period: str = "M", max_age: int | None = None
            ) -> Cohorts:
    """Acquisition cohorts: who came in each period and how many stay active, age by age.

    Parameters
    ----------
    transactions
        Order lines: ``customer``, ``date`` (datetime64), ``amount``, optional ``order``.
    period
        ``"M"``, ``"W"`` or ``"Q"`` (see :func:`kpis`).
    max_age
        Keep ages 0..max_age only (``None``: every age the data reach).
    """
    check_choice("period", period, PERIODS)
    if max_age is not None and (not isinstance(max_age, int | np.integer) or max_age < 0):
        raise ParameterError("max_age", "a whole number >= 0 or None", max_age)
    lines = _lines(transactions, period, orders=False)
    start = int(lines.ordinal.min())
    n = int(lines.ordinal.max()) - start + 1
    act = _activity(lines, start, n)
    cohort = act.first[act.customer]
    counts = np.bincount(cohort * n + (act.period - cohort), minlength=n * n).reshape(n, n)
    row_cohort = act.first[lines.customer]
    spend = _sums(lines.amount, row_cohort * n + (lines.ordinal - start - row_cohort),
                  n * n).reshape(n, n)
    sizes = counts[:, 0]
    observed = np.add.outer(np.arange(n), np.arange(n)) < n
    keep = sizes > 0
    ages = n if max_age is None else min(n, max_age + 1)

    def frame(values: np.ndarray) -> pd.DataFrame:
        values = np.where(observed, values, np.nan)[keep, :ages]
        return pd.DataFrame(values, index=index, columns=pd.RangeIndex(ages, name="age"))

    index = pd.period_range(pd.Period(ordinal=start, freq=period), periods=n,
                            name="cohort")[keep]
    counts_frame = frame(counts.astype(float))
    return Cohorts(
        retention=frame(counts / np.maximum(sizes, 1)[:, None]),
        counts=counts_frame.astype("Int64") if counts_frame.isna().any().any()
        else counts_frame.astype(np.int64),
        sizes=pd.Series(sizes[keep], index=index, name="customers"),
        revenue=frame(np.cumsum(spend, axis=1) / np.maximum(sizes, 1)[:, None]),
        period=period,
    )


# --- member tiers -------------------------------------------------------------------------


@dataclass(frozen=True)
class TierMigration:
    """Member value tiers (:func:`retaillab.clv.value_tiers`) as aggregate views.

    Attributes
    ----------
    transitions
        Tier this period (rows, ``from``) x tier next period (columns, ``to``): shares per
        row, pooled over consecutive periods (:func:`retaillab.clv.tier_transitions`).
    counts
        The same as customer counts (``normalize=False``).
    repeat_rates
        Per tier: ``customers`` and ``repeat_rate``, the share buying in the next period
        (:func:`retaillab.clv.tier_repeat_rates`).
    sizes
        Period x tier customer counts: the base's tier mix over time.
    period
        The period frequency.
    """

    transitions: pd.DataFrame
    counts: pd.DataFrame
    repeat_rates: pd.DataFrame
    sizes: pd.DataFrame
    period: str


def tier_migration(transactions: pd.DataFrame, period: str = "Q") -> TierMigration:
    """Member tiers per period and how customers move between them, via
    :mod:`retaillab.clv.tiers` (its quantile tiers, ``inactive`` included), aggregated so
    no customer id leaves the function. ``period`` is a pandas frequency ("M", "Q", "Y")."""
    from retaillab.clv import tier_repeat_rates, tier_transitions, value_tiers

    _check(transactions, (C.customer, C.date, C.amount), C.date, "transactions", _FIX_TX)
    tiers = value_tiers(transactions, period=period)
    sizes = pd.crosstab(tiers["period"], tiers["tier"], dropna=False)
    sizes.columns.name = "tier"
    return TierMigration(transitions=tier_transitions(tiers),
                         counts=tier_transitions(tiers, normalize=False),
                         repeat_rates=tier_repeat_rates(tiers), sizes=sizes, period=period)


# --- figures ------------------------------------------------------------------------------

_RATES = {"repurchase_rate", "retention", "conversion"}


def kpi_figure(table: pd.DataFrame, kpis: Sequence[str] = DEFAULT_FIGURE_KPIS, *,
               ncols: int = 3, title: str = "") -> object:
    """Small multiples of a :func:`kpis` table: one panel per KPI over the periods.

    Rates are drawn as percentages. Returns a matplotlib ``Figure``.
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import PercentFormatter

    chosen = list(kpis)
    unknown = [k for k in chosen if k not in table.columns]
    if unknown or not chosen:
        raise ParameterError("kpis", "columns of the kpis() table: "
                             + ", ".join(c for c in table.columns if not c.endswith("_change")),
                             unknown or chosen)
    ncols = max(1, min(ncols, len(chosen)))
    nrows = -(-len(chosen) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.0 * ncols, 2.8 * nrows), squeeze=False,
                             sharex=True)
    index = table.index
    x = index.to_timestamp() if isinstance(index, pd.PeriodIndex) else index
    for ax, name in zip(axes.flat, chosen, strict=False):
        ax.plot(x, table[name].to_numpy(dtype=float), marker="o", markersize=3,
                color="#4C72B0")
        ax.set_title(name.replace("_", " "))
        ax.grid(alpha=0.3)
        if name in _RATES:
            ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    for ax in axes.flat[len(chosen):]:
        ax.set_visible(False)
    fig.autofmt_xdate()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def cohort_heatmap(cohorts: Cohorts, *, k: int | None = None, annotate: bool | None = None,
                   max_age: int | None = None, title: str = "") -> object:
    """Heatmap of a cohort retention matrix, each cell annotated with its percentage.

    Cells describing fewer than ``k`` active customers (default
    :data:`retaillab.behaviour.privacy.K`; 0 shows all) are greyed out and marked ``< k``.
    ``annotate`` defaults to on when the matrix has at most 400 cells. Colours are scaled to
    ages 1 and up (age 0 is always 100%); weekly cohorts are labelled by their Monday.
    """
    import matplotlib.pyplot as plt

    from retaillab.behaviour.privacy import K, too_small

    k = K if k is None else k
    retention, counts = cohorts.retention, cohorts.counts
    if max_age is not None:
        retention, counts = retention.iloc[:, : max_age + 1], counts.iloc[:, : max_age + 1]
    values = retention.to_numpy(dtype=float)
    hidden = too_small(counts.astype(float).stack(future_stack=True), k).to_numpy().reshape(
        values.shape) if k > 0 else np.zeros(values.shape, dtype=bool)
    shown = np.ma.masked_where(hidden | np.isnan(values), values)
    n_rows, n_cols = values.shape
    fig, ax = plt.subplots(figsize=(min(2.0 + 0.55 * n_cols, 16), min(1.5 + 0.4 * n_rows, 14)))
    cmap = plt.get_cmap("Blues").with_extremes(bad="#f0f0f0")
    # colours scaled to ages >= 1: age 0 is 1.0 by definition and would wash the rest out
    later = shown[:, 1:]
    vmax = float(later.max()) if later.count() else 1.0
    image = ax.imshow(shown, cmap=cmap, vmin=0.0, vmax=max(vmax, 1e-9), aspect="auto")
    if annotate is None:
        annotate = values.size <= 400
    if annotate:
        for i, j in zip(*np.nonzero(~np.isnan(values)), strict=True):
            text = f"< {k}" if hidden[i, j] else f"{values[i, j]:.0%}"
            ax.text(j, i, text, ha="center", va="center", fontsize=7,
                    color="white" if not hidden[i, j] and values[i, j] > 0.6 * vmax
                    else "#222222")
    ax.set_xticks(range(n_cols), [str(a) for a in retention.columns])
    ax.set_yticks(range(n_rows), [f"{c.start_time:%Y-%m-%d}" if cohorts.period == "W"
                                  else str(c) for c in retention.index])
    ax.set_xlabel(f"periods since acquisition ({cohorts.period})")
    ax.set_ylabel("acquisition cohort")
    fig.colorbar(image, ax=ax, fraction=0.03, pad=0.02, label="share of cohort active",
                 format="{x:.0%}")
    ax.set_title(title or "cohort retention")
    fig.tight_layout()
    return fig
