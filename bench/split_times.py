"""``data.split`` against plain pandas doing the same split, method by method.

Two pandas peers, in the same process:

- ``apply``: ``groupby("user").apply`` with a Python function per user (sort or shuffle the
  user's rows, cut them), the shape a per-user split takes when written user by user;
- ``lean``: the cheapest pandas we could write (one stable sort or shuffle of the whole frame,
  ``groupby.cumcount`` and ``transform("size")``, a boolean mask).

``random`` and ``time`` have no per-user work, so only ``lean`` applies; ``apply`` runs on
MovieLens only (on the large case it takes two minutes per method). Before a ratio is
printed the script checks that the peers agree with retaillab: the same train and test rows
for the deterministic methods (``chronological``, ``leave_last``, ``time``), the same number of
train and test rows per user for ``stratified`` and the same number of rows for ``random``
(their shuffles come from other generators). Ratio = pandas seconds / retaillab seconds, best
of REPEATS after one warm-up (``apply``: one run after the warm-up).

Cases: MovieLens (100,004 ratings, 671 users) and a synthetic 1,000,000-row table with 50,000
skewed users (a mid-size retailer's interactions).

Run: ``python bench/split_times.py``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from retaillab import data

RATIO, N, SEED = 0.75, 1, 0
REPEATS = 5
APPLY_ROWS = 200_000  # larger tables skip the per-user peer (minutes per method at 1M rows)
METHODS = ("random", "stratified", "chronological", "leave_last", "time")

Split = tuple[pd.DataFrame, pd.DataFrame]


def _n_train(size):
    """Rows of a user's ``size`` that go to train, as split() documents it: ``ratio * size``
    rounded half up, kept within ``[1, size - 1]``."""
    return np.clip(np.floor(RATIO * np.asarray(size) + 0.5), 1, np.asarray(size) - 1)


# --- lean pandas --------------------------------------------------------------------------


def _by_mask(df: pd.DataFrame, test: pd.Series) -> Split:
    test = test.reindex(df.index)
    return df[~test], df[test]


def _first_rows_lean(ordered: pd.DataFrame, df: pd.DataFrame) -> Split:
    pos = ordered.groupby("user", sort=False).cumcount()
    size = ordered.groupby("user", sort=False)["user"].transform("size")
    return _by_mask(df, (size >= 2) & (pos >= _n_train(size)))


def lean(df: pd.DataFrame, method: str) -> Split:
    if method == "random":
        train = df.sample(n=int(_n_train(len(df))), random_state=SEED).sort_index()
        return train, df.drop(train.index)
    if method == "stratified":
        return _first_rows_lean(df.sample(frac=1.0, random_state=SEED), df)
    ordered = df.sort_values(["user", "timestamp"], kind="stable")
    if method == "chronological":
        return _first_rows_lean(ordered, df)
    if method == "leave_last":
        pos = ordered.groupby("user", sort=False).cumcount()
        size = ordered.groupby("user", sort=False)["user"].transform("size")
        return _by_mask(df, (size > N) & (pos >= size - N))
    cutoff = df["timestamp"].sort_values().iloc[int(_n_train(len(df)))]
    return df[df["timestamp"] < cutoff], df[df["timestamp"] >= cutoff]


# --- a Python function per user -----------------------------------------------------------


def _cut(rows: pd.DataFrame, method: str) -> pd.Series:
    """Test flags of one user's rows, in their original order."""
    size = len(rows)
    if method == "stratified":
        order = rows.sample(frac=1.0, random_state=SEED).index
    else:
        order = rows.sort_values("timestamp", kind="stable").index
    if method == "leave_last":
        first_test = size - N if size > N else size
    else:
        first_test = int(_n_train(size)) if size >= 2 else size
    flags = pd.Series(False, index=rows.index)
    flags[order[first_test:]] = True
    return flags


def per_user_apply(df: pd.DataFrame, method: str) -> Split:
    test = df.groupby("user", group_keys=False)[list(df.columns)].apply(_cut, method=method)
    return _by_mask(df, test)


# --- the run ------------------------------------------------------------------------------


def check_same(method: str, ours: Split, theirs: Split) -> None:
    """Raise unless the peer's split is retaillab's (or, shuffled, has its per-user sizes)."""
    for side, mine, peer in zip(("train", "test"), ours, theirs, strict=True):
        if method == "random":
            same = len(mine) == len(peer)
        elif method == "stratified":
            same = (mine.groupby("user").size().sort_index()
                    .equals(peer.groupby("user").size().sort_index()))
        else:
            same = mine.index.equals(peer.index)
        if not same:
            raise SystemExit(f"{method}: the {side} sides differ from retaillab's")


def best_seconds(fn: Callable[[], Split], repeats: int = REPEATS) -> tuple[float, Split]:
    out = fn()  # warm-up: pandas' and numpy's first-call costs out of the timing
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def synthetic(n_rows: int = 1_000_000, n_users: int = 50_000, seed: int = 7) -> pd.DataFrame:
    """Skewed users (many with one row, a few with thousands) and tied timestamps."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"user": (rng.random(n_rows) ** 3 * n_users).astype(np.int64),
                         "item": rng.integers(0, 20_000, n_rows),
                         "rating": rng.integers(1, 6, n_rows).astype(float),
                         "timestamp": rng.integers(0, 1_000_000, n_rows)})


def main() -> None:
    cases = [("MovieLens", data.load("movielens").interactions),
             ("synthetic 1M rows", synthetic())]
    peers = [("apply", per_user_apply), ("lean", lean)]
    print(f"{'case':<19} {'method':<14} {'retaillab s':>12}"
          + "".join(f" {'pandas ' + p + ' s':>15} {'ratio':>6}" for p, _ in peers))
    for label, df in cases:
        for method in METHODS:
            ours_s, ours = best_seconds(
                lambda df=df, m=method: data.split(df, m, ratio=RATIO, seed=SEED, n=N))
            line = f"{label:<19} {method:<14} {ours_s:>12.4f}"
            for name, peer in peers:
                if name == "apply" and (method in ("random", "time") or len(df) > APPLY_ROWS):
                    line += f" {'-':>15} {'':>6}"
                    continue
                theirs_s, theirs = best_seconds(lambda df=df, m=method, p=peer: p(df, m),
                                                repeats=1 if name == "apply" else REPEATS)
                check_same(method, ours, theirs)
                line += f" {theirs_s:>15.4f} {theirs_s / ours_s:>5.1f}x"
            print(line, flush=True)


if __name__ == "__main__":
    main()
