"""``behaviour.kpis`` and ``behaviour.cohorts`` against the plain pandas an analyst would write.

The table is generated (seeded, vectorised with numpy): 10,000,000 order lines of about
1,000,000 customers over two years (2023-2024). Each customer has an acquisition day; their
orders (skewed: most customers a few, some dozens) fall between it and the end, 1-6 lines
each, with gamma-distributed amounts and order ids.

The peer is the obvious pandas, in the same process: ``dt.to_period`` then, per period,
``groupby(...).nunique()`` for active customers and orders, ``sum`` for revenue, a
``groupby(["period", "customer"])`` for the repurchase rate, the first period per customer
for new customers, a merge of each period's active customers with the previous period's for
retention; for cohorts the first period per customer by ``transform("min")``, ages from the
periods' ordinals, a ``groupby(["cohort", "age"]).nunique()`` unstacked, and revenue by
cohort and age cumulated. Before a ratio is printed the script checks the results are the
same: equal counts, revenue to 1e-9 relative.

Time is the best of REPEATS runs after a warm-up; ratio = pandas seconds / retaillab seconds.

Run: ``python bench/kpi_time.py [--lines 10000000] [--period M]``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from retaillab.behaviour import kpis as kp

REPEATS = 2
SEED = 0


def generate(lines: int, customers: int, seed: int = SEED) -> pd.DataFrame:
    """Order lines: ``order``, ``customer``, ``date``, ``amount`` (sorted by date)."""
    rng = np.random.default_rng(seed)
    start = np.datetime64("2023-01-01T00:00:00", "s")
    span = 731 * 86_400  # seconds in 2023-2024
    birth = rng.integers(0, span, customers)
    n_orders = max(lines // 3, 1)  # 1-6 lines an order, 3.5 on average, trimmed to `lines`
    weight = rng.gamma(0.6, 1.0, customers)
    owner = np.searchsorted(np.cumsum(weight) / weight.sum(), rng.random(n_orders))
    owner = np.minimum(owner, customers - 1)
    owner[:customers] = np.arange(customers)  # every customer orders at least once
    first = np.zeros(n_orders, dtype=bool)
    first[:customers] = True
    after = rng.random(n_orders) * (span - birth[owner])
    when = birth[owner] + np.where(first, 0, after).astype(np.int64)
    size = rng.integers(1, 7, n_orders)
    order = np.repeat(np.arange(n_orders), size)[:lines]
    frame = pd.DataFrame({
        "order": order,
        "customer": owner[order],
        "date": start + when[order],
        "amount": np.round(rng.gamma(2.0, 12.0, len(order)), 2),
    })
    return frame.sort_values("date", kind="stable", ignore_index=True)


# --- plain pandas -------------------------------------------------------------------------


def pandas_kpis(tx: pd.DataFrame, period: str) -> pd.DataFrame:
    df = tx.assign(period=tx["date"].dt.to_period(period))
    periods = pd.period_range(df["period"].min(), df["period"].max(), freq=period,
                              name="period")
    by = df.groupby("period")
    active = by["customer"].nunique().reindex(periods, fill_value=0)
    orders = by["order"].nunique().reindex(periods, fill_value=0)
    revenue = by["amount"].sum().reindex(periods, fill_value=0.0)
    per = df.groupby(["period", "customer"])["order"].nunique()
    repeat = (per >= 2).groupby(level="period").sum().reindex(periods, fill_value=0)
    new = (df.groupby("customer")["period"].min().value_counts()
           .reindex(periods, fill_value=0))
    seen = per.index.to_frame(index=False)
    back = seen.assign(period=seen["period"] - 1)
    retained = (seen.merge(back, on=["customer", "period"]).groupby("period").size()
                .reindex(periods, fill_value=0))  # active in p and p + 1, counted at p
    retention = (retained / active.where(active > 0)).shift(1)
    return pd.DataFrame({"active": active, "new": new, "returning": active - new,
                         "orders": orders, "revenue": revenue,
                         "aov": revenue / orders.where(orders > 0),
                         "frequency": orders / active.where(active > 0),
                         "repurchase_rate": repeat / active.where(active > 0),
                         "retention": retention})


def pandas_cohorts(tx: pd.DataFrame, period: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    df = tx.assign(period=tx["date"].dt.to_period(period))
    df["cohort"] = df.groupby("customer")["period"].transform("min")
    # ages from the periods' ordinals: ``(period - cohort).n`` is a Python call per line
    df["age"] = df["period"].array.asi8 - df["cohort"].array.asi8
    counts = df.groupby(["cohort", "age"])["customer"].nunique().unstack()
    sizes = counts[0]
    revenue = (df.groupby(["cohort", "age"])["amount"].sum().unstack()
               .fillna(0.0).cumsum(axis=1).div(sizes, axis=0))
    return counts, revenue.where(counts.notna() | revenue.isna())


# --- the run ------------------------------------------------------------------------------


def check_kpis(ours: pd.DataFrame, theirs: pd.DataFrame) -> None:
    for column in theirs.columns:
        mine, peer = ours[column], theirs[column]
        if column in ("active", "new", "returning", "orders"):
            same = np.array_equal(mine.to_numpy(), peer.to_numpy())
        else:
            same = np.allclose(mine.to_numpy(dtype=float), peer.to_numpy(dtype=float),
                               rtol=1e-9, atol=0, equal_nan=True)
        if not same or not ours.index.equals(theirs.index):
            raise SystemExit(f"kpis: column {column!r} differs from plain pandas")


def check_cohorts(ours: kp.Cohorts, theirs: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    counts, revenue = theirs
    mine = ours.counts.to_numpy(dtype=float)
    peer = counts.reindex(index=ours.counts.index, columns=ours.counts.columns).to_numpy()
    observed = ~np.isnan(mine)
    if not np.array_equal(np.nan_to_num(peer[observed]), mine[observed]):
        raise SystemExit("cohorts: counts differ from plain pandas")
    peer_revenue = revenue.reindex(index=ours.revenue.index, columns=ours.revenue.columns)
    # pandas has no cell where a cohort bought nothing at that age; cumulated, it is the last
    peer_revenue = peer_revenue.ffill(axis=1).to_numpy()
    if not np.allclose(ours.revenue.to_numpy()[observed], peer_revenue[observed], rtol=1e-9):
        raise SystemExit("cohorts: revenue differs from plain pandas")


def best_seconds(fn: Callable[[], object], repeats: int = REPEATS) -> tuple[float, object]:
    out = fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=10_000_000)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--period", default="M", choices=kp.PERIODS)
    args = parser.parse_args()
    t = time.perf_counter()
    tx = generate(args.lines, args.customers)
    print(f"{len(tx):,} lines, {tx['customer'].nunique():,} customers, "
          f"{tx['order'].nunique():,} orders, {tx['date'].min():%Y-%m-%d} to "
          f"{tx['date'].max():%Y-%m-%d}; generated in {time.perf_counter() - t:.1f} s; "
          f"period {args.period!r}")
    print(f"{'function':<10} {'retaillab s':>12} {'pandas s':>10} {'ratio':>6}")
    cases = [("kpis", lambda: kp.kpis(tx, period=args.period),
              lambda: pandas_kpis(tx, args.period), check_kpis),
             ("cohorts", lambda: kp.cohorts(tx, period=args.period),
              lambda: pandas_cohorts(tx, args.period), check_cohorts)]
    for name, ours_fn, peer_fn, check in cases:
        ours_s, ours = best_seconds(ours_fn)
        peer_s, peer = best_seconds(peer_fn)
        check(ours, peer)
        print(f"{name:<10} {ours_s:>12.2f} {peer_s:>10.2f} {peer_s / ours_s:>5.1f}x",
              flush=True)


if __name__ == "__main__":
    main()
