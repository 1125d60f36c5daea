"""``data.fingerprint`` against hashing a table the obvious ways, in the same process.

Two peers:

- ``to_csv``: BLAKE2b of ``df.to_csv()`` (the obvious content hash: text of every cell, the
  column names and the index);
- ``hash rows``: BLAKE2b of :func:`pandas.util.hash_pandas_object` of the whole frame (one
  uint64 per row; it ignores column names and dtypes, which a fingerprint covers).

Before a ratio is printed the script checks that each of the three gives the same digest for a
deep copy and another digest when one cell of one row is changed. Ratio = peer seconds /
retaillab seconds, best of REPEATS after one warm-up.

Cases: MovieLens (100,004 ratings) and a synthetic 1,000,000-row table.

Run: ``python bench/fingerprint_time.py``.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from retaillab import data

REPEATS = 5


def to_csv(df: pd.DataFrame) -> str:
    return hashlib.blake2b(df.to_csv().encode(), digest_size=8).hexdigest()


def hash_rows(df: pd.DataFrame) -> str:
    rows = pd.util.hash_pandas_object(df, index=True).to_numpy()
    return hashlib.blake2b(rows.tobytes(), digest_size=8).hexdigest()


def check(name: str, digest: Callable[[pd.DataFrame], str], df: pd.DataFrame) -> None:
    """Raise unless ``digest`` is stable under a deep copy and sees a one-cell change."""
    changed = df.copy()
    changed.iloc[len(df) // 2, changed.columns.get_loc("rating")] += 0.5
    if digest(df.copy(deep=True)) != digest(df) or digest(changed) == digest(df):
        raise SystemExit(f"{name}: not a content hash of this table")


def best_seconds(fn: Callable[[pd.DataFrame], str], df: pd.DataFrame) -> float:
    fn(df)  # warm-up
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        fn(df)
        times.append(time.perf_counter() - start)
    return min(times)


def synthetic(n_rows: int = 1_000_000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"user": rng.integers(0, 50_000, n_rows),
                         "item": rng.integers(0, 20_000, n_rows),
                         "rating": rng.integers(1, 11, n_rows) / 2,
                         "timestamp": rng.integers(800_000_000, 1_500_000_000, n_rows)})


def main() -> None:
    ours = data.fingerprint
    peers = [("to_csv", to_csv), ("hash rows", hash_rows)]
    print(f"{'case':<19} {'rows':>10} {'retaillab s':>12}"
          + "".join(f" {p + ' s':>12} {'ratio':>6}" for p, _ in peers))
    for label, df in [("MovieLens", data.load("movielens").interactions),
                      ("synthetic 1M rows", synthetic())]:
        for name, fn in [("retaillab", ours), *peers]:
            check(name, fn, df)
        ours_s = best_seconds(ours, df)
        line = f"{label:<19} {len(df):>10,} {ours_s:>12.4f}"
        for _, peer in peers:
            theirs_s = best_seconds(peer, df)
            line += f" {theirs_s:>12.4f} {theirs_s / ours_s:>5.1f}x"
        print(line, flush=True)


if __name__ == "__main__":
    main()
