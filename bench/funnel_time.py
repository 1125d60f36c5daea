"""``behaviour.funnel`` and ``behaviour.sessions`` against plain pandas doing the same counts.

The log: 10,000,000 events of 500,000 customers, generated vectorised with numpy (seeded),
in sessions of 1-4 events (view, then click, add-to-cart, purchase; lengths drawn with
probabilities 0.45, 0.25, 0.15, 0.15), at most 5 minutes between a session's events and more
than 31 minutes between one session's end and the customer's next; rows shuffled. ``event``
is categorical, as ``data.read_events`` and the synthetic world give it.

Peers, in the same process:

- ``sessions`` vs ``lean``: ``sort_values(["customer", "timestamp"])``, a new session where
  the customer changes or ``diff()`` exceeds 30 minutes, ``cumsum``, back in row order;
- ``funnel`` (by session, the log's ``session`` column) vs ``set``: ``groupby(["customer",
  "session"]).event.agg(set)``, then per stage the units whose set holds it (and the previous
  one), the shape a funnel takes when written unit by unit; and vs ``unstack``:
  ``groupby([customer, session, event]).size().unstack()`` as a reach matrix, the cheapest
  pandas we could write.

Before a ratio is printed the script checks that the peers agree with retaillab: the same
partition of rows into sessions, and per stage the same units, customers and conversions.
Ratio = pandas seconds / retaillab seconds, best of REPEATS (``set``: one run, on a
1,000,000-event log of 50,000 customers made the same way, against retaillab on that log;
on the full log it takes over three minutes).

Run: ``python bench/funnel_time.py``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from retaillab.behaviour.funnel import STAGES, funnel, sessions

N_EVENTS, N_CUSTOMERS, SEED = 10_000_000, 500_000, 0
LENGTH_P = (0.45, 0.25, 0.15, 0.15)
REPEATS = 2
SET_EVENTS = 1_000_000  # the per-unit set peer takes minutes on the full log
GAP = pd.Timedelta(minutes=30)


def event_log(n_events: int = N_EVENTS, n_customers: int = N_CUSTOMERS,
              seed: int = SEED) -> pd.DataFrame:
    """Sessions of 1-4 funnel events, a customer's sessions more than 31 minutes apart."""
    rng = np.random.default_rng(seed)
    length = 1 + rng.choice(4, int(n_events / 1.9), p=LENGTH_P)
    length = length[: np.searchsorted(np.cumsum(length), n_events) + 1]
    length[-1] -= int(length.sum()) - n_events
    n_sessions = length.size
    customer = np.sort(rng.integers(0, n_customers, n_sessions))
    # a session lasts at most 3 x 300 s, so starts 46 minutes apart leave over 31 minutes idle
    gap = 46 * 60 + np.floor(rng.exponential(3 * 86_400, n_sessions)).astype(np.int64)
    clock = np.cumsum(gap)
    first = np.flatnonzero(np.r_[True, customer[1:] != customer[:-1]])
    own_first = np.repeat(first, np.diff(np.r_[first, n_sessions]))
    start = rng.integers(0, 86_400, n_customers)[customer] + clock - clock[own_first]
    row_session = np.repeat(np.arange(n_sessions), length)
    first_row = np.cumsum(length) - length
    stage = np.arange(n_events) - np.repeat(first_row, length)
    step = np.where(stage == 0, 0, 1 + rng.integers(0, 300, n_events))
    second = start[row_session] + (np.cumsum(step) - np.repeat(np.cumsum(step)[first_row]
                                                                 - step[first_row], length))
    order = rng.permutation(n_events)
    return pd.DataFrame({
        "session": row_session[order] + 1,
        "customer": customer[row_session][order] + 1,
        "item": rng.integers(1, 20_001, n_events),
        "event": pd.Categorical.from_codes(stage[order], categories=list(STAGES),
                                           ordered=True),
        "timestamp": pd.Timestamp("2024-01-01") + pd.to_timedelta(second[order], unit="s"),
    })


# --- plain pandas -------------------------------------------------------------------------


def lean_sessions(events: pd.DataFrame) -> pd.Series:
    ordered = events[["customer", "timestamp"]].sort_values(["customer", "timestamp"])
    new = (ordered["customer"].ne(ordered["customer"].shift())
           | (ordered["timestamp"].diff() > GAP))
    return new.cumsum().reindex(events.index)


def _counts(has: pd.DataFrame, customer: pd.Series) -> pd.DataFrame:
    """units, customers, conversion per stage from a units x stages boolean frame."""
    rows = []
    for i, stage in enumerate(STAGES):
        reach = has[stage].to_numpy()
        row = {"stage": stage, "units": int(reach.sum()),
               "customers": int(customer[reach].nunique()), "conversion": np.nan}
        if i:
            prev = has[STAGES[i - 1]].to_numpy()
            row["conversion"] = (prev & reach).sum() / prev.sum()
        rows.append(row)
    return pd.DataFrame(rows)


def set_funnel(events: pd.DataFrame) -> pd.DataFrame:
    sets = events.groupby(["customer", "session"], observed=True)["event"].agg(set)
    has = pd.DataFrame({s: sets.map(lambda seen, s=s: s in seen) for s in STAGES})
    return _counts(has, sets.index.get_level_values("customer").to_series())


def unstack_funnel(events: pd.DataFrame) -> pd.DataFrame:
    wide = (events.groupby(["customer", "session", "event"], observed=True).size()
            .unstack("event", fill_value=0).reindex(columns=list(STAGES), fill_value=0) > 0)
    return _counts(wide, wide.index.get_level_values("customer").to_series())


# --- the run ------------------------------------------------------------------------------


def best_seconds(fn: Callable[[], object], repeats: int = REPEATS) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def same_partition(a: pd.Series, b: pd.Series) -> bool:
    pairs = pd.DataFrame({"a": a.to_numpy(), "b": b.to_numpy()}).drop_duplicates()
    return len(pairs) == a.nunique() == b.nunique()


def check_funnel(ours: pd.DataFrame, peer: pd.DataFrame, name: str) -> None:
    mine = ours[["units", "customers"]].to_numpy()
    if not (np.array_equal(mine, peer[["units", "customers"]].to_numpy())
            and np.allclose(ours["conversion"], peer["conversion"], equal_nan=True)):
        raise SystemExit(f"funnel: pandas {name} disagrees with retaillab")


def main() -> None:
    t0 = time.perf_counter()
    events = event_log()
    print(f"log: {len(events):,} events, {events['session'].nunique():,} sessions, "
          f"{events['customer'].nunique():,} customers (made in "
          f"{time.perf_counter() - t0:.1f} s)")
    no_ids = events.drop(columns="session")
    ours_s, ours = best_seconds(lambda: sessions(no_ids, gap_minutes=30))
    if not same_partition(ours, events["session"]):
        raise SystemExit("sessions: retaillab does not recover the generated sessions")
    print(f"{'task':<10} {'retaillab s':>12} {'pandas peer':>12} {'pandas s':>10} {'ratio':>7}")
    lean_s, lean = best_seconds(lambda: lean_sessions(no_ids))
    if not same_partition(ours, lean):
        raise SystemExit("sessions: pandas lean disagrees with retaillab")
    print(f"{'sessions':<10} {ours_s:>12.2f} {'lean':>12} {lean_s:>10.2f} "
          f"{lean_s / ours_s:>6.1f}x", flush=True)

    ours_s, result = best_seconds(lambda: funnel(events))
    table = result.table
    peer_s, theirs = best_seconds(lambda: unstack_funnel(events))
    check_funnel(table, theirs, "unstack")
    print(f"{'funnel':<10} {ours_s:>12.2f} {'unstack':>12} {peer_s:>10.2f} "
          f"{peer_s / ours_s:>6.1f}x", flush=True)
    small = event_log(SET_EVENTS, N_CUSTOMERS // 10)
    small_s, small_result = best_seconds(lambda: funnel(small))
    peer_s, theirs = best_seconds(lambda: set_funnel(small), 1)
    check_funnel(small_result.table, theirs, "set")
    print(f"{'funnel 1M':<10} {small_s:>12.2f} {'set':>12} {peer_s:>10.2f} "
          f"{peer_s / small_s:>6.1f}x", flush=True)
    print(table[["stage", "customers", "units", "conversion", "low", "high",
                 "median_minutes"]].to_string(index=False))


if __name__ == "__main__":
    main()
