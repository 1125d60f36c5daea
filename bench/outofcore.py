"""Out-of-core order logs: ``outofcore.OrderLog`` (DuckDB) against the pandas path, time and
peak memory, on 10M and 50M generated order lines.

The log is generated in chunks of 1M lines with pyarrow (seeded; the generator never holds
more than a chunk): orders of 1-5 lines by ``N / 20`` customers over 2022-2023 (timestamps to
the second), item codes as text (one in ten lettered, ``10010A``, so items are text ids as in
real exports), quantities 1-5 and amounts with cents. Every customer id from 1 to ``N / 20``
buys at least once: ``behaviour.kpis`` (the pandas path) fails on integer customer ids with
gaps (customers 1 and 3 only: "operands could not be broadcast", its ``new`` count gets one
period too many); the DuckDB path does not have that problem. It is written as a folder of Parquet
files (one per chunk) at 10M and 50M lines, and as one CSV file at 10M, under /tmp, and
deleted at the end.

Each path runs in its own process (``--child``), which times each step and reports its
peak resident memory after each step (``ru_maxrss``, which only grows); the parent reads the
child's final peak from ``os.wait4`` as well:

- duckdb: ``OrderLog(path, memory_limit=..., threads=2)`` (check and load once), then
  ``rfm_summary``, ``transaction_features``, ``interactions``, ``kpis``;
- pandas: ``data.read_transactions`` (a Parquet folder is first read with
  ``pd.read_parquet``, since the reader takes one file), then ``clv.rfm_summary``,
  ``churn.transaction_features``, ``data.feedback.from_transactions``,
  ``behaviour.kpis``. Its address space is capped (``RLIMIT_AS``) below the machine's free
  memory, so a path that cannot fit fails with MemoryError instead of swapping the machine.

At 10M (Parquet) both paths save their results and the parent checks they are equal
(``assert_frame_equal``, rtol 1e-9 for float sums, which DuckDB adds in another order).
One run per size (the sizes take minutes; a warm-up would double them).

Run: ``flock /tmp/bench.lock python bench/outofcore.py [--sizes 10000000,50000000]
[--memory-limit 1GB]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SEED = 0
CHUNK = 1_000_000
CUTOFF = "2023-06-30"
COLUMNS = ["customer", "date", "amount", "quantity", "item", "order"]
STEPS = ("load", "rfm", "features", "interactions", "kpis")


# --- the data -------------------------------------------------------------------------------


def _chunk(rng: np.random.Generator, n_lines: int, first_order: int, n_customers: int):
    """One chunk of order lines (a pyarrow Table) and the next order id."""
    import pyarrow as pa
    import pyarrow.compute as pc

    sizes = rng.integers(1, 6, n_lines // 3 + 2)
    sizes = sizes[np.cumsum(sizes) <= n_lines]
    sizes = np.append(sizes, n_lines - sizes.sum()) if sizes.sum() < n_lines else sizes
    n_orders = len(sizes)
    start = np.datetime64("2022-01-01T00:00:00", "s")
    customer = rng.integers(1, n_customers + 1, n_orders)
    order = np.arange(first_order, first_order + n_orders)
    first = order <= n_customers  # every id from 1 to n_customers buys (behaviour.kpis needs
    customer[first] = order[first]  # integer ids without gaps: see the module doc)
    when = start + rng.integers(0, 730 * 86_400, n_orders).astype("timedelta64[s]")
    line_order = np.repeat(np.arange(n_orders), sizes)
    item = rng.zipf(1.3, n_lines) % 20_000 + 10_000
    text = pa.array(item).cast(pa.string())
    code = pc.if_else(pa.array(item % 10 == 0), pc.binary_join_element_wise(text, "A", ""), text)
    quantity = rng.integers(1, 6, n_lines)
    amount = np.round(rng.gamma(2.0, 8.0, n_lines) * quantity, 2)
    table = pa.table({"customer": customer[line_order],
                      "date": pa.array(when[line_order].astype("datetime64[us]")),
                      "amount": amount, "quantity": quantity, "item": code,
                      "order": order[line_order]})
    return table, first_order + n_orders


def generate(lines: int, out: Path, kind: str, seed: int = SEED) -> float:
    """Write ``lines`` order lines as a Parquet folder or one CSV file; the seconds it took."""
    import pyarrow.compute as pc
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    customers = max(lines // 20, 100)
    first, writer = 1, None
    if kind == "parquet":
        out.mkdir(parents=True)
    for i, at in enumerate(range(0, lines, CHUNK)):
        table, first = _chunk(rng, min(CHUNK, lines - at), first, customers)
        if kind == "parquet":
            pq.write_table(table, out / f"part-{i:04d}.parquet")
            continue
        table = table.set_column(1, "date", pc.strftime(table["date"].cast("timestamp[s]"),
                                                        "%Y-%m-%d %H:%M:%S"))
        if writer is None:
            writer = pcsv.CSVWriter(out, table.schema,
                                    write_options=pcsv.WriteOptions(quoting_style="none"))
        writer.write_table(table)
    if writer is not None:
        writer.close()
    return time.perf_counter() - t0


# --- a child: one path --------------------------------------------------------------------


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(path: str, which: str, memory_limit: str, save: str | None) -> None:
    """Run one path over the log and print its steps' seconds and peak memory as JSON."""
    import pandas as pd

    steps: dict[str, dict[str, float]] = {}
    results = {}

    def step(name, fn):
        t = time.perf_counter()
        out = fn()
        steps[name] = {"seconds": time.perf_counter() - t, "peak_mb": _peak_mb()}
        print(json.dumps({"step": name, **steps[name]}), flush=True)
        return out

    if which == "duckdb":
        from retaillab.outofcore import OrderLog

        log = step("load", lambda: OrderLog(path, memory_limit=memory_limit, threads=2))
        calls = {"rfm": lambda: log.rfm_summary(calibration_end=CUTOFF),
                 "features": lambda: log.transaction_features(CUTOFF),
                 "interactions": lambda: log.interactions(),
                 "kpis": lambda: log.kpis(period="M")}
    else:
        from retaillab.behaviour.kpis import kpis
        from retaillab.churn.features import transaction_features
        from retaillab.clv.rfm import rfm_summary
        from retaillab.data.feedback import from_transactions
        from retaillab.data.user import read_transactions

        def load():
            source = pd.read_parquet(path) if Path(path).is_dir() else path
            return read_transactions(source)

        tx = step("load", load)
        calls = {"rfm": lambda: rfm_summary(tx, calibration_end=CUTOFF),
                 "features": lambda: transaction_features(tx, CUTOFF),
                 "interactions": lambda: from_transactions(tx),
                 "kpis": lambda: kpis(tx, period="M")}
    for name, fn in calls.items():
        out = step(name, fn)
        if save:
            results[name] = out
        del out
    if save:
        pd.to_pickle(results, Path(save) / f"{which}.pkl")


# --- the parent ---------------------------------------------------------------------------


def _available_bytes() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return 8 << 30


def run_child(path: Path, which: str, memory_limit: str, save: Path | None,
              cap: int | None) -> dict:
    """One path in its own process: its steps, its peak (``wait4``) and how it ended."""
    cmd = [sys.executable, __file__, "--child", str(path), "--path", which,
           "--memory-limit", memory_limit] + (["--save", str(save)] if save else [])

    def limit() -> None:
        if cap is not None:
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    t0 = time.perf_counter()
    with tempfile.TemporaryFile("w+") as errors:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errors, text=True,
                                preexec_fn=limit)
        steps = {}
        for line in proc.stdout:
            if line.startswith("{"):
                row = json.loads(line)
                steps[row.pop("step")] = row
        _, status, usage = os.wait4(proc.pid, 0)  # the child's own peak, whatever it printed
        proc.returncode = os.waitstatus_to_exitcode(status)
        errors.seek(0)
        err = errors.read()
    peak = max([s["peak_mb"] for s in steps.values()] + [usage.ru_maxrss / 1024])
    ok = proc.returncode == 0
    reason = "" if ok else (err.strip().splitlines() or [f"exit {proc.returncode}"])[-1][:120]
    return {"steps": steps, "peak_mb": peak, "ok": ok, "reason": reason,
            "wall": time.perf_counter() - t0}


def check_equal(save: Path) -> str:
    import pandas as pd

    duck = pd.read_pickle(save / "duckdb.pkl")
    pand = pd.read_pickle(save / "pandas.pkl")
    for name in duck:
        pd.testing.assert_frame_equal(duck[name], pand[name], check_exact=False, rtol=1e-9)
    return "equal (" + ", ".join(duck) + ")"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000000,50000000")
    parser.add_argument("--memory-limit", default="1GB")
    parser.add_argument("--child")
    parser.add_argument("--path", choices=("duckdb", "pandas"))
    parser.add_argument("--save")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.path, args.memory_limit, args.save)
        return
    root = Path(tempfile.mkdtemp(prefix="retaillab-bench-outofcore-", dir="/tmp"))
    rows = []
    try:
        for lines in (int(s) for s in args.sizes.split(",")):
            kinds = ("parquet", "csv") if lines <= 10_000_000 else ("parquet",)
            for kind in kinds:
                path = root / (f"orders-{lines}" + (".csv" if kind == "csv" else ""))
                seconds = generate(lines, path, kind)
                size = sum(f.stat().st_size for f in path.rglob("*")) if path.is_dir() \
                    else path.stat().st_size
                print(f"generated {lines:,} lines as {kind} ({size / 1e6:,.0f} MB) in "
                      f"{seconds:.0f} s", flush=True)
                save = None
                if lines <= 10_000_000 and kind == "parquet":
                    save = root / "results"
                    save.mkdir(exist_ok=True)
                cap = int(min(16 << 30, _available_bytes() - (3 << 30)))
                for which in ("duckdb", "pandas"):
                    got = run_child(path, which, args.memory_limit, save,
                                    cap if which == "pandas" else None)
                    rows.append((lines, kind, which, got))
                    print(_row(lines, kind, which, got), flush=True)
                if save is not None:
                    print(f"  results: {check_equal(save)}", flush=True)
                    shutil.rmtree(save)
                shutil.rmtree(path) if path.is_dir() else path.unlink()
        print()
        print(f"DuckDB memory_limit {args.memory_limit}, 2 threads; pandas capped at "
              f"{cap / 2**30:.0f} GiB of address space")
        print("| lines | file | path | load s | rfm s | features s | interactions s | kpis s "
              "| total s | peak RSS after load | peak RSS |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for lines, kind, which, got in rows:
            print(_row(lines, kind, which, got, markdown=True))
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _row(lines: int, kind: str, which: str, got: dict, markdown: bool = False) -> str:
    cells = []
    for step in STEPS:
        s = got["steps"].get(step)
        cells.append(f"{s['seconds']:.1f}" if s else "—")
    total = sum(s["seconds"] for s in got["steps"].values())
    peak = f"{got['peak_mb'] / 1024:.2f} GB"
    loaded = got["steps"].get("load")
    after_load = f"{loaded['peak_mb'] / 1024:.2f} GB" if loaded else "—"
    end = "" if got["ok"] else f" (did not finish: {got['reason']})"
    if markdown:
        return (f"| {lines / 1e6:.0f}M | {kind} | {which} | " + " | ".join(cells)
                + f" | {total:.1f}{end} | {after_load} | {peak} |")
    return f"  {which:6s} " + " ".join(f"{c:>6s}" for c in cells) + f"  total {total:.1f} s, " \
        f"peak {peak}{end}"


if __name__ == "__main__":
    main()
