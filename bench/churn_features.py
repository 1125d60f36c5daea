"""Churn features with events and items: time and memory at 100k, 500k and 1M customers.

The data: a seeded synthetic world of ``N`` customers with about 10 transaction lines and 30
events per customer: 4N orders of 1 to 4 lines (an order's customer drawn at random, so some
customers never buy), on 20,000 items in 12 categories (20 more bought items missing from the
item table), over 2023-01-01 .. 2025-06-30, rows in order-id order (not sorted by date); 30N
events (views, clicks, add-to-carts, purchases and 5% "scroll", outside the funnel) at random
times, 3% of them from N/10 customers who never buy, sessions of 8 per customer, dwell times
on 80% of the views. Customer ids are the integers 1..N (1.1N with the non-buyers). The
cut-off is 2024-12-31 with a 90-day horizon.

Each size runs in a fresh child process (``--one N``): it generates the data, then times
:func:`retaillab.churn.transaction_features` (with ``events`` and ``items``) and
:func:`retaillab.churn.churn_table` (the same features plus the labels), once each, wall and
CPU seconds. Memory: the child's RSS once the data are built (``data MB``), and the peak RSS
while each call runs minus that (``+peak MB``: what the features cost on top of the data;
the peak is reset before each call by writing 5 to ``/proc/self/clear_refs``; the table's
figure, measured second, can read low at small sizes, where the heap reuses memory the
features call freed but kept); ``max RSS``
is the child's whole peak as the parent reads it (``os.wait4``), data generation included.
``s / M`` is seconds per million customers: flat across sizes when the time is linear
in the customers (the ratio 1M / 100k then near 10).

Then, at 5,000 customers (same generator), the naive reference of
``tests/churn/test_features_reference.py`` (one customer at a time in plain Python and
pandas) against the fast features on the same data: both tables must be equal (same columns
and dtypes, values to 1e-9), and it prints the speed-up. The cores are shared: the load
average is printed before and after each child.

Run: ``flock /tmp/bench.lock .venv/bin/python bench/churn_features.py`` (about 1.5 minutes;
``--one N`` runs one size and prints its figures as JSON).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from retaillab import churn

SIZES = (100_000, 500_000, 1_000_000)
CHECK_SIZE = 5_000
SEED = 0
CUTOFF, HORIZON = "2024-12-31", 90
START, END = pd.Timestamp("2023-01-01"), pd.Timestamp("2025-06-30")
N_ITEMS, N_MISSING = 20_000, 20
CATEGORIES = ("apparel", "baby", "beauty", "books", "electronics", "garden", "grocery",
              "home", "pet", "sports", "toys", "tools")
KINDS = ("view", "click", "add_to_cart", "purchase", "scroll")
KIND_P = (0.50, 0.25, 0.13, 0.07, 0.05)
ROOT = Path(__file__).resolve().parent.parent


def world(n: int, seed: int = SEED) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Transactions (~10 lines per customer), items and events (~30 per customer) for ``n``
    customers, drawn with numpy from ``seed``."""
    rng = np.random.default_rng([seed, n])
    span = int((END - START) / pd.Timedelta(seconds=1))
    n_orders = 4 * n
    customer = rng.integers(1, n + 1, n_orders)
    when = START.to_datetime64() + rng.integers(0, span, n_orders).astype("timedelta64[s]")
    per_order = rng.integers(1, 5, n_orders)
    lines = int(per_order.sum())
    tx = pd.DataFrame({
        "order": np.repeat(np.arange(1, n_orders + 1), per_order),
        "customer": np.repeat(customer, per_order),
        "date": np.repeat(when.astype("datetime64[ns]"), per_order),
        "item": rng.integers(1, N_ITEMS + N_MISSING + 1, lines),
        "quantity": rng.integers(1, 4, lines),
        "amount": np.round(rng.gamma(2.0, 15.0, lines), 2),
    })
    items = pd.DataFrame({
        "item": np.arange(1, N_ITEMS + 1),
        "category": pd.Categorical.from_codes(rng.integers(0, len(CATEGORIES), N_ITEMS),
                                              categories=list(CATEGORIES)),
        "price": np.round(rng.uniform(1, 80, N_ITEMS), 2),
    })
    n_events = 30 * n
    who = rng.integers(1, n + 1, n_events)
    strangers = rng.random(n_events) < 0.03
    who[strangers] = rng.integers(n + 1, n + n // 10 + 2, int(strangers.sum()))
    kind = rng.choice(len(KINDS), n_events, p=KIND_P)
    dwell = rng.gamma(2.0, 20.0, n_events)
    dwell[(kind != 0) | (rng.random(n_events) < 0.2)] = np.nan
    events = pd.DataFrame({
        "session": who.astype(np.int64) * 8 + rng.integers(0, 8, n_events),
        "customer": who,
        "item": rng.integers(1, N_ITEMS + 1, n_events),
        "event": pd.Categorical.from_codes(kind, categories=list(KINDS)),
        "timestamp": START.to_datetime64().astype("datetime64[ns]")
        + rng.integers(0, span, n_events).astype("timedelta64[s]"),
        "dwell_seconds": dwell,
    })
    return tx, items, events


def _memory() -> dict[str, float]:
    """This process's RSS and peak RSS (VmHWM) now, in MB."""
    status = Path("/proc/self/status").read_text()
    return {k: int(re.search(rf"{k}:\s+(\d+)", status).group(1)) / 1024
            for k in ("VmRSS", "VmHWM")}


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def one(n: int) -> dict[str, float]:
    """Figures of one size, measured in this process (run it in a fresh one)."""
    tx, items, events = world(1_000)  # imports and first calls out of the timings
    churn.churn_table(tx, CUTOFF, HORIZON, events=events, items=items)
    start = time.perf_counter()
    tx, items, events = world(n)
    out: dict[str, float] = {"n": n, "lines": len(tx), "events": len(events),
                             "generate_s": time.perf_counter() - start,
                             "data_mb": _memory()["VmRSS"]}
    calls = {
        "features": lambda: churn.transaction_features(tx, CUTOFF, events=events, items=items),
        "table": lambda: churn.churn_table(tx, CUTOFF, HORIZON, events=events, items=items),
    }
    for name, call in calls.items():
        reset = _reset_peak()
        base = _memory()["VmRSS"]
        wall, cpu = time.perf_counter(), time.process_time()
        result = call()
        out[f"{name}_s"] = time.perf_counter() - wall
        out[f"{name}_cpu"] = time.process_time() - cpu
        out[f"{name}_rows"] = len(result)
        out[f"{name}_peak_mb"] = _memory()["VmHWM"] - base if reset else float("nan")
        del result
    return out


def _child(n: int) -> dict[str, float]:
    process = subprocess.Popen([sys.executable, __file__, "--one", str(n)],
                               stdout=subprocess.PIPE, text=True)
    text = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    if status != 0:
        raise SystemExit(f"the child for {n:,} customers failed (status {status})")
    found = json.loads(text.strip().splitlines()[-1])
    found["max_rss_mb"] = usage.ru_maxrss / 1024
    return found


def _reference():
    path = ROOT / "tests" / "churn" / "test_features_reference.py"
    spec = importlib.util.spec_from_file_location("features_reference", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.reference


def check(n: int = CHECK_SIZE) -> None:
    """The naive reference against the fast features on ``n`` customers: equal, and faster."""
    reference = _reference()
    tx, items, events = world(n)
    churn.transaction_features(tx, CUTOFF, events=events, items=items)  # first call
    wall = time.perf_counter()
    fast = churn.transaction_features(tx, CUTOFF, events=events, items=items)
    fast_s = time.perf_counter() - wall
    wall = time.perf_counter()
    slow = reference(tx, CUTOFF, churn.features.WINDOWS, items, events)
    slow_s = time.perf_counter() - wall
    assert list(fast.columns) == list(slow.columns), (list(fast.columns), list(slow.columns))
    pd.testing.assert_frame_equal(fast, slow, check_exact=False, rtol=1e-9, atol=0.0)
    table = churn.churn_table(tx, CUTOFF, HORIZON, events=events, items=items)
    pd.testing.assert_frame_equal(table.set_index("customer").drop(columns="churn"), slow,
                                  check_exact=False, rtol=1e-9, atol=0.0)
    print(f"\nreference check at {n:,} customers ({len(tx):,} lines, {len(events):,} events, "
          f"{len(fast):,} buyers x {fast.shape[1]} features): tables equal (columns, dtypes, "
          f"values to 1e-9)")
    print(f"  naive reference {slow_s:8.2f} s\n  transaction_features {fast_s:8.3f} s\n"
          f"  speed-up {slow_s / fast_s:,.0f}x")


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    print(f"churn features with events and items; cut-off {CUTOFF}, horizon {HORIZON} days; "
          f"~10 lines and 30 events per customer; one fresh process per size\n")
    rows = []
    for n in SIZES:
        before = loadavg()
        rows.append(_child(n))
        print(f"  {n:>9,} customers done (generated in {rows[-1]['generate_s']:.1f} s); "
              f"load {before} -> {loadavg()}", flush=True)
    head = (f"\n{'customers':>10}{'lines':>12}{'events':>12}{'buyers':>10}{'data MB':>9}"
            f"{'feat s':>8}{'CPU s':>7}{'s / M':>7}{'+peak MB':>9}"
            f"{'table s':>8}{'s / M':>7}{'+peak MB':>9}{'max RSS':>9}")
    print(head)
    for r in rows:
        per = 1e6 / r["n"]
        print(f"{r['n']:>10,}{r['lines']:>12,}{r['events']:>12,}{r['features_rows']:>10,}"
              f"{r['data_mb']:>9,.0f}{r['features_s']:>8.2f}{r['features_cpu']:>7.2f}"
              f"{r['features_s'] * per:>7.2f}{r['features_peak_mb']:>9,.0f}"
              f"{r['table_s']:>8.2f}{r['table_s'] * per:>7.2f}{r['table_peak_mb']:>9,.0f}"
              f"{r['max_rss_mb']:>9,.0f}")
    small, big = rows[0], rows[-1]
    scale = big["n"] / small["n"]
    print(f"\ntime {big['n']:,} / {small['n']:,} customers ({scale:.0f}x the rows): features "
          f"{big['features_s'] / small['features_s']:.1f}x, table "
          f"{big['table_s'] / small['table_s']:.1f}x (linear: {scale:.0f}x)")
    check()


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--one":
        print(json.dumps(one(int(sys.argv[2]))))
    elif len(sys.argv) == 1:
        main()
    else:
        raise SystemExit("usage: python bench/churn_features.py [--one N]")
