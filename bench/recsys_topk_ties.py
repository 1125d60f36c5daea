"""What the one tie-break rule costs: ``recsys.ranking.top_k`` against a bare partial sort.

The bare version (``argpartition`` then a sort of the k picked, ties by column) is what top-N
did before the rule; it is fast but picks arbitrarily among columns tied at the k-th place.
``top_k`` partitions the same way and redoes exactly only the rows whose k-th score is tied
beyond the k-th place. Three score matrices of one batch (512 users x 9,000 items, 2% seen
items at -inf): continuous scores (ties rare), scores on 1,000 levels and on 3 levels (every
row tied at the k-th place, as for a most-popular or a coarse model). Best of REPEATS seconds.

Run: ``python bench/recsys_topk_ties.py``.
"""

from __future__ import annotations

import time

import numpy as np

from retaillab.recsys.ranking import tie_order, top_k

REPEATS = 5
USERS, ITEMS, K = 512, 9000, 10


def bare_top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k best columns per row by a partial sort; ties at the k-th place: any of them."""
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    top = np.take_along_axis(scores, part, axis=1)
    order = np.lexsort((part, -top), axis=1)
    return np.take_along_axis(part, order, axis=1), np.take_along_axis(top, order, axis=1)


def best(fn, *args) -> float:
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    rng = np.random.default_rng(0)
    scores = rng.random((USERS, ITEMS))
    scores[rng.random(scores.shape) < 0.02] = -np.inf
    order = tie_order(rng.integers(0, 50, ITEMS), np.arange(ITEMS))
    print(f"{'scores':<22} {'bare s':>8} {'top_k s':>8} {'ratio':>6}")
    for label, matrix in (("continuous", scores), ("1,000 levels", np.floor(scores * 1000)),
                          ("3 levels", np.floor(scores * 3))):
        bare = best(bare_top_k, matrix, K)
        ours = best(top_k, matrix, K, order)
        print(f"{label:<22} {bare:>8.3f} {ours:>8.3f} {ours / bare:>5.1f}x", flush=True)


if __name__ == "__main__":
    main()
