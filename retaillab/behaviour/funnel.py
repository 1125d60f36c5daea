"""The conversion funnel: how many sessions (or customer-item pairs) reach each stage.

A unit *reaches* a stage when it has an event of that stage; a purchase without a logged
add-to-cart does not count as reaching the cart. Such units are reported as ``violations``
(reached the stage without the previous one) rather than silently repaired, so a log with
missing events shows it. Conversions carry Wilson intervals; with ``by`` each step gets a
chi-square test of whether the groups convert alike.

>>> from retaillab import data
>>> from retaillab.behaviour.funnel import funnel
>>> world = data.load("synthetic", n_customers=500, seed=0)
>>> funnel(world.events).table[["stage", "units", "conversion"]]  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from retaillab.data.schema import COLUMNS as C
from retaillab.data.schema import EVENT_TYPES
from retaillab.errors import DataError, ParameterError, check_choice

__all__ = ["STAGES", "Funnel", "funnel", "funnel_chart", "sessions", "wilson_interval"]

#: The canonical funnel stages, in order.
STAGES: tuple[str, ...] = EVENT_TYPES
LEVELS = ("session", "customer_item")
_NS_PER_MINUTE = 60_000_000_000
_FIX = "read the log with retaillab.data.read_events (columns={canonical: yours})"


@dataclass(frozen=True, eq=False)
class Funnel:
    """A funnel's counts and conversions.

    Attributes
    ----------
    table
        One row per stage (per group with ``by``): ``stage``, ``customers`` (distinct
        customers reaching it), ``units`` (sessions or customer-item pairs with an event of the
        stage), ``conversion`` (share of the previous stage's units that also reach this one)
        with its Wilson interval ``low``/``high``, ``from_start`` (share of first-stage units
        reaching it), ``drop_off`` (``1 - conversion``), ``median_minutes`` (from the unit's
        first event of the previous stage to its first of this one) and ``violations``
        (units reaching it without the previous stage).
    tests
        With ``by``: one row per step (``stage``, ``groups``, ``chi2``, ``dof``, ``p_value``),
        a chi-square test of independence of group and conversion; ``None`` without ``by``.
    level, stages, by, level_ci
        The options used.
    ignored_events
        Events of other types than ``stages`` (or without a group), left out.
    """

    table: pd.DataFrame
    tests: pd.DataFrame | None
    level: str
    stages: tuple[str, ...]
    by: str | None
    level_ci: float
    ignored_events: int


def wilson_interval(successes, trials, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a binomial proportion, elementwise (NaN where ``trials`` is 0).

    Uses statsmodels' ``proportion_confint(method="wilson")`` when installed, else the formula
    ``(x + z²/2) / (n + z²) ± z sqrt(x (n - x) / n + z²/4) / (n + z²)``. Wilson keeps its
    coverage near 0 and 1, where the normal interval does not.
    """
    _check_level("level", level)
    x = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    try:
        from statsmodels.stats.proportion import proportion_confint
    except ImportError:
        return _wilson_formula(x, n, level)
    with np.errstate(divide="ignore", invalid="ignore"):
        low, high = proportion_confint(x, np.where(n > 0, n, np.nan), alpha=1 - level,
                                       method="wilson")
    return np.asarray(low, dtype=float), np.asarray(high, dtype=float)


def _wilson_formula(x: np.ndarray, n: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    from scipy.stats import norm

    z = norm.ppf(0.5 + level / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        centre = (x + z**2 / 2) / (n + z**2)
        half = z * np.sqrt(x * (n - x) / n + z**2 / 4) / (n + z**2)
    low = np.where(n > 0, np.clip(centre - half, 0, 1), np.nan)
    high = np.where(n > 0, np.clip(centre + half, 0, 1), np.nan)
    return low, high


def sessions(events: pd.DataFrame, gap_minutes: float = 30) -> pd.Series:
    """Session id of every event: the log's ``session`` column if it has one, else a
    customer's events cut wherever the time since their previous event exceeds
    ``gap_minutes`` (a gap of exactly ``gap_minutes`` stays in the session).

    Derived ids are integers from 1, numbered by customer then time; the Series has the
    index of ``events``.
    """
    if C.session in events.columns:
        return events[C.session].rename(C.session)
    if not _is_number(gap_minutes) or gap_minutes <= 0:
        raise ParameterError("gap_minutes", "a number > 0", gap_minutes)
    _require(events, (C.customer, C.timestamp), "cutting sessions")
    customer = pd.factorize(events[C.customer])[0]
    t = _nanoseconds(events)
    order = np.lexsort((t, customer))
    cs, ts = customer[order], t[order]
    new = np.ones(len(order), dtype=bool)
    new[1:] = (cs[1:] != cs[:-1]) | (np.diff(ts) > round(gap_minutes * _NS_PER_MINUTE))
    out = np.empty(len(order), dtype=np.int64)
    out[order] = np.cumsum(new)
    return pd.Series(out, index=events.index, name=C.session)


def funnel(events: pd.DataFrame, *, level: str = "session",
           stages: Sequence[str] | None = None, by: str | None = None,
           customers: pd.DataFrame | None = None, items: pd.DataFrame | None = None,
           gap_minutes: float = 30, level_ci: float = 0.95) -> Funnel:
    """Units reaching each stage, conversions with Wilson intervals, drop-off and timing.

    Parameters
    ----------
    events
        The event log (customer, item, event, timestamp, session?).
    level
        ``"session"`` (a customer's session; see :func:`sessions`) or ``"customer_item"``
        (a customer's whole history with one item).
    stages
        Event types in funnel order; default the canonical :data:`STAGES` the log has.
    by
        A column of ``events``, or of ``customers`` (joined on customer) or ``items`` (joined
        on item), to compare groups. A unit whose events fall in several groups counts once in
        each; events without a group are left out.
    gap_minutes
        The inactivity gap that cuts sessions when the log has no ``session`` column.
    level_ci
        Confidence level of the conversion intervals.

    Returns
    -------
    Funnel
        With ``by``, ``tests`` holds one chi-square test per step (not one overall test: read
        several p-values with a multiple-testing eye).

    Raises
    ------
    DataError
        On missing columns, no events of the first stage, or an unknown ``by`` column.
    """
    check_choice("level", level, LEVELS)
    _check_level("level_ci", level_ci)
    needed = (C.customer, C.event, C.timestamp) + ((C.item,) if level == "customer_item" else ())
    _require(events, needed, "the funnel")
    stages = _stages(events, stages)
    stage = _stage_codes(events[C.event], stages)
    if not (stage == 0).any():
        raise DataError(f"the log has no {stages[0]!r} events, the funnel's first stage",
                        source="events", column=C.event,
                        fix="pass stages=[...] starting with an event type the log has")

    customer = _dense(events[C.customer])
    derived = level == "session" and C.session not in events.columns
    second = _dense(sessions(events, gap_minutes) if level == "session" else events[C.item])
    group, labels = _groups(events, by, customers, items)
    keep = (stage >= 0) & (group >= 0)
    ignored = int((~keep).sum())
    t = _nanoseconds(events)[keep]
    stage, customer, group = stage[keep], customer[keep], group[keep]
    # derived sessions never span customers, so (group, session) already names the unit
    unit = _dense(_combine(group, second[keep] if derived
                           else _combine(customer, second[keep])))
    n_units = int(unit.max()) + 1 if unit.size else 0
    n_stages, n_groups = len(stages), len(labels)
    unit_group = np.empty(n_units, dtype=np.int64)
    unit_customer = np.empty(n_units, dtype=np.int64)
    unit_group[unit], unit_customer[unit] = group, customer

    # first time each unit reached each stage: an unbuffered minimum, 15x a groupby min
    when = np.full(n_units * n_stages, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(when, unit * n_stages + stage, t)
    when = when.reshape(n_units, n_stages)
    has = when != np.iinfo(np.int64).max

    table = _table(has, when, unit_group, unit_customer, n_groups, stages, level_ci)
    tests = None
    if by is not None:
        table.insert(0, by, np.repeat(np.asarray(labels, dtype=object), n_stages))
        if isinstance(labels, pd.CategoricalIndex):
            table[by] = pd.Categorical(table[by], categories=labels.categories,
                                       ordered=labels.ordered)
        tests = _tests(table, stages, n_groups)
    return Funnel(table=table, tests=tests, level=level, stages=tuple(stages), by=by,
                  level_ci=level_ci, ignored_events=ignored)


def _table(has: np.ndarray, when: np.ndarray, unit_group: np.ndarray,
           unit_customer: np.ndarray, n_groups: int, stages: Sequence[str],
           level_ci: float) -> pd.DataFrame:
    """The long table, group-major, from the units x stages reach matrix."""
    n_stages = len(stages)
    units = np.zeros((n_groups, n_stages))
    customers = np.zeros((n_groups, n_stages))
    converted = np.zeros((n_groups, n_stages))
    from_start = np.zeros((n_groups, n_stages))
    median = np.full((n_groups, n_stages), np.nan)
    n_customers = int(unit_customer.max()) + 1 if unit_customer.size else 1
    for s in range(n_stages):  # a handful of stages, each fully vectorised
        units[:, s] = np.bincount(unit_group, weights=has[:, s], minlength=n_groups)
        pairs = pd.unique(unit_group[has[:, s]] * n_customers + unit_customer[has[:, s]])
        customers[:, s] = np.bincount(pairs // n_customers, minlength=n_groups)
        from_start[:, s] = np.bincount(unit_group, weights=has[:, 0] & has[:, s],
                                       minlength=n_groups)
        if s == 0:
            continue
        both = has[:, s - 1] & has[:, s]
        converted[:, s] = np.bincount(unit_group, weights=both, minlength=n_groups)
        minutes = (when[both, s] - when[both, s - 1]) / _NS_PER_MINUTE
        median[:, s] = (pd.Series(minutes).groupby(unit_group[both]).median()
                        .reindex(range(n_groups)).to_numpy())
    previous = np.column_stack([np.zeros(n_groups), units[:, :-1]])
    with np.errstate(divide="ignore", invalid="ignore"):
        conversion = np.where(previous > 0, converted / previous, np.nan)
        share = np.where(units[:, :1] > 0, from_start / units[:, :1], np.nan)
    low, high = wilson_interval(converted, previous, level_ci)
    conversion[:, 0] = low[:, 0] = high[:, 0] = np.nan
    return pd.DataFrame({
        "stage": pd.Categorical(np.tile(stages, n_groups), categories=list(stages),
                                ordered=True),
        "customers": customers.ravel().astype(np.int64),
        "units": units.ravel().astype(np.int64),
        "conversion": conversion.ravel(),
        "low": low.ravel(),
        "high": high.ravel(),
        "from_start": share.ravel(),
        "drop_off": 1 - conversion.ravel(),
        "median_minutes": median.ravel(),
        "violations": (units - converted).ravel().astype(np.int64) * (
            np.arange(n_stages * n_groups) % n_stages > 0),
    })


def _tests(table: pd.DataFrame, stages: Sequence[str], n_groups: int) -> pd.DataFrame:
    """Per step, Pearson's chi-square (no continuity correction) of group x converted."""
    from scipy.stats import chi2_contingency

    units = table["units"].to_numpy().reshape(n_groups, len(stages))
    converted = units - table["violations"].to_numpy().reshape(n_groups, len(stages))
    rows = []
    for s in range(1, len(stages)):
        entered = units[:, s - 1]
        counts = np.column_stack([converted[:, s], entered - converted[:, s]])[entered > 0]
        chi2 = dof = p = np.nan
        if len(counts) >= 2 and (counts.sum(axis=0) > 0).all():
            res = chi2_contingency(counts, correction=False)
            chi2, dof, p = float(res.statistic), int(res.dof), float(res.pvalue)
        rows.append({"stage": stages[s], "groups": len(counts), "chi2": chi2, "dof": dof,
                     "p_value": p})
    out = pd.DataFrame(rows)
    out["stage"] = pd.Categorical(out["stage"], categories=list(stages), ordered=True)
    return out


def funnel_chart(result: Funnel, *, title: str = "") -> object:
    """Bars of units per stage labelled with conversion and interval; with ``by``, grouped
    bars of the share of first-stage units reaching each stage, one colour per group."""
    import matplotlib.pyplot as plt

    table, stages = result.table, list(result.stages)
    x = np.arange(len(stages))
    fig, ax = plt.subplots(figsize=(1.8 + 1.9 * len(stages), 3.8))
    if result.by is None:
        bars = ax.bar(x, table["units"], color="#4C72B0")
        ax.set_ylabel(result.level.replace("_", "-") + "s reaching the stage")
        for bar, row in zip(bars, table.itertuples(), strict=True):
            if np.isfinite(row.conversion):
                ax.annotate(_pct(row.conversion, row.low, row.high),
                            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                            ha="center", va="bottom", fontsize=8)
    else:
        groups = list(dict.fromkeys(table[result.by]))
        width = 0.8 / len(groups)
        for i, g in enumerate(groups):
            rows = table[table[result.by] == g]
            bars = ax.bar(x - 0.4 + width * (i + 0.5), rows["from_start"], width,
                          label=str(g))
            for bar, row in zip(bars, rows.itertuples(), strict=True):
                if np.isfinite(row.conversion):
                    ax.annotate(_pct(row.conversion, row.low, row.high, short=True),
                                (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                                ha="center", va="bottom", fontsize=6, rotation=90)
        ax.set_ylabel("share of first-stage units")
        ax.legend(title=result.by, fontsize=8)
    ax.set_xticks(x, [s.replace("_", " ") for s in stages])
    ax.set_title(title or f"Funnel by {result.level.replace('_', '-')} "
                 f"(conversion, {result.level_ci:.0%} Wilson interval)", fontsize=10)
    ax.margins(y=0.15)
    fig.tight_layout()
    return fig


def _pct(p: float, low: float, high: float, short: bool = False) -> str:
    """A bar's label, ``54%`` over ``[53%, 55%]``; one decimal when whole percents would show
    a narrow interval as ``[64%, 64%]``."""
    sep = "\n" if not short else " "
    digits = 1 if high - low < 0.02 else 0
    return f"{p:.{digits}%}{sep}[{low:.{digits}%}, {high:.{digits}%}]"


# --- checks and codes ---------------------------------------------------------------------


def _require(events: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    if not isinstance(events, pd.DataFrame):
        raise ParameterError("events", "a DataFrame (see retaillab.data.read_events)",
                             type(events).__name__)
    missing = [c for c in dict.fromkeys(columns) if c not in events.columns]
    if missing:
        raise DataError(f"{what} needs the column(s) {', '.join(map(repr, missing))}; the log "
                        f"has {', '.join(map(repr, map(str, events.columns)))}",
                        source="events", column=missing[0], fix=_FIX)


def _check_level(name: str, level: object) -> None:
    if not _is_number(level) or not 0 < level < 1:
        raise ParameterError(name, "a number in (0, 1)", level)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool) and np.isfinite(value)


def _nanoseconds(events: pd.DataFrame) -> np.ndarray:
    stamps = events[C.timestamp]
    if not pd.api.types.is_datetime64_any_dtype(stamps):
        raise DataError("timestamps are not dates", source="events", column=C.timestamp,
                        fix=_FIX)
    if stamps.isna().any():
        raise DataError("timestamps are missing", source="events", column=C.timestamp,
                        n_bad=int(stamps.isna().sum()), fix="drop or fill the rows first")
    values = stamps.dt.tz_localize(None) if stamps.dt.tz is not None else stamps
    return values.to_numpy(dtype="datetime64[ns]").astype(np.int64)


def _stages(events: pd.DataFrame, stages: Sequence[str] | None) -> list[str]:
    if stages is None:
        event = events[C.event]
        if isinstance(event.dtype, pd.CategoricalDtype):
            used = np.unique(event.cat.codes.to_numpy())
            present = set(event.cat.categories[used[used >= 0]].astype(str))
        else:
            present = set(pd.Index(pd.unique(event)).astype(str))
        chosen = [s for s in STAGES if s in present]
        if not chosen:
            raise DataError(f"the log has none of the funnel's event types {STAGES}",
                            source="events", column=C.event,
                            fix="pass stages=[...] with your event names, in funnel order")
        return chosen
    chosen = list(stages)
    if len(chosen) < 2 or len(set(chosen)) != len(chosen) or not all(
            isinstance(s, str) for s in chosen):
        raise ParameterError("stages", "two or more distinct event names, in funnel order",
                             stages)
    return chosen


def _stage_codes(event: pd.Series, stages: Sequence[str]) -> np.ndarray:
    """Index into ``stages`` of every event, -1 for other event types."""
    index = pd.Index(list(stages))
    if isinstance(event.dtype, pd.CategoricalDtype):
        codes = event.cat.codes.to_numpy()
        mapping = index.get_indexer(event.cat.categories.astype(str))
        return np.where(codes >= 0, mapping[codes], -1)
    codes, uniques = pd.factorize(event)
    mapping = index.get_indexer(pd.Index(uniques).astype(str))
    return np.where(codes >= 0, mapping[codes], -1)


def _dense(values: pd.Series | np.ndarray) -> np.ndarray:
    """Codes 0..n-1 of ``values`` in increasing order of value.

    Integer values spanning at most four times their count are ranked through a bitmap (one
    pass, no hashing: 4x ``pd.factorize`` on 10M ids); anything else goes to ``pd.factorize``.
    """
    categorical = isinstance(getattr(values, "dtype", None), pd.CategoricalDtype)
    array = None if categorical else np.asarray(values)
    if array is not None and array.dtype.kind in "iu" and array.size:
        low, high = int(array.min()), int(array.max())
        if high - low <= 4 * array.size:
            present = np.zeros(high - low + 1, dtype=bool)
            shifted = array - low
            present[shifted] = True
            rank = np.cumsum(present, dtype=np.int64) - 1
            return rank[shifted]
    return np.asarray(pd.factorize(values, sort=True)[0], dtype=np.int64)


def _combine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """One int64 code per (a, b) pair of non-negative codes."""
    return a.astype(np.int64) * (int(b.max()) + 1 if b.size else 1) + b


def _groups(events: pd.DataFrame, by: str | None, customers: pd.DataFrame | None,
            items: pd.DataFrame | None) -> tuple[np.ndarray, pd.Index]:
    """Group code of every event (-1 without a group) and the group labels."""
    if by is None:
        return np.zeros(len(events), dtype=np.int64), pd.Index([None])
    if by in (C.customer, C.session):
        raise ParameterError("by", "a group column, not an id (groups must be aggregates)", by)
    if by in events.columns:
        values = events[by]
    else:
        for key, frame in ((C.customer, customers), (C.item, items)):
            if frame is not None and by in frame.columns and key in frame.columns:
                if frame[key].duplicated().any():
                    raise DataError(f"the {key} table repeats ids, so {by!r} is ambiguous",
                                    source=f"{key}s", column=key,
                                    fix="pass one row per id")
                _require(events, (key,), f"joining {by!r}")
                rows = pd.Index(frame[key]).get_indexer(events[key])
                values = (frame[by].iloc[np.maximum(rows, 0)].reset_index(drop=True)
                          .mask(rows < 0))
                break
        else:
            raise DataError(f"by={by!r} is neither a column of the events nor of the customers"
                            " or items passed", source="events", column=by,
                            fix="pass customers=... or items=... holding the column")
    codes, labels = pd.factorize(values, sort=True)
    return np.asarray(codes, dtype=np.int64), labels
