"""The one rule that orders items, wherever retaillab ranks them.

Items are ranked by

1. **higher score** first;
2. among equal scores, **higher training popularity** (the number of distinct training users
   who interacted with the item) first;
3. among equal scores and popularity, **smaller item id** first, in the ids' natural order
   (numbers numerically, text alphabetically; ids of mixed types are compared as text).

The rule is total (ids are unique), so a ranking never depends on the order of the training
rows, on ``numpy``'s partition algorithm or on a batch size: the same data give the same
lists. The cold-start fallback (scores = popularity) is therefore exactly the most-popular
list. NaN scores rank as ``-inf``.

Every recommender's top-N (:meth:`retaillab.recsys.Recommender.recommend`), the neighbours
item-kNN keeps, and "bought together" lists go through :func:`top_k` or :func:`ranked`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["TIE_BREAK", "id_ranks", "ranked", "tie_order", "top_k"]

#: The rule, in one line, for docstrings and reports.
TIE_BREAK = "higher score, then higher training popularity, then smaller item id"


def id_ranks(ids: object) -> np.ndarray:
    """Position of each id in the ids' natural order (0 = smallest).

    Numbers sort numerically and text alphabetically; when the ids cannot be compared with
    each other (mixed types) they are compared as text.
    """
    index = pd.Index(ids)
    try:
        order = np.argsort(index.to_numpy(), kind="stable")
    except TypeError:
        order = np.argsort(index.astype(str).to_numpy(), kind="stable")
    ranks = np.empty(len(index), dtype=np.intp)
    ranks[order] = np.arange(len(index))
    return ranks


def tie_order(popularity: object, ids: object) -> np.ndarray:
    """Positions of the items in tie-break order: higher popularity, then smaller id.

    ``popularity[i]`` and ``ids[i]`` describe item ``i``; the result lists the positions
    ``i`` so that, among items of equal score, the earlier one in it ranks first.
    """
    pop = np.asarray(popularity, dtype=np.float64)
    return np.lexsort((id_ranks(ids), -pop))


def ranked(scores: object, popularity: object, ids: object) -> np.ndarray:
    """Positions of 1-D ``scores`` best first, by the rule (the whole list, sorted)."""
    s = _no_nan(np.asarray(scores, dtype=np.float64))
    pop = np.asarray(popularity, dtype=np.float64)
    return np.lexsort((id_ranks(ids), -pop, -s))


def top_k(scores: np.ndarray, k: int, order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The ``min(k, n)`` best columns of each row of ``scores``, best first, and their scores.

    ``order`` is :func:`tie_order` of the columns: among equal scores the column earlier in
    it wins, also at the ``k``-th place, where a partial sort alone would pick among tied
    columns arbitrarily. Non-finite scores are returned like any other (NaN as ``-inf``),
    ranked last; callers drop them. Vectorised: one partition per row; only the rows whose
    ``k``-th score is shared by columns left out of the partition are redone exactly.
    """
    scores = _no_nan(np.asarray(scores, dtype=np.float64))
    order = np.asarray(order)
    n_rows, n = scores.shape
    k = min(int(k), n)
    place = np.empty(n, dtype=np.intp)  # place[c]: column c's position in the tie order
    place[order] = np.arange(n)
    if k < n:
        columns = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        values = np.take_along_axis(scores, columns, axis=1)
        kth = values.min(axis=1, keepdims=True)
        crowded = np.flatnonzero((scores == kth).sum(axis=1) > (values == kth).sum(axis=1))
        if len(crowded):
            columns[crowded] = _settle_ties(scores[crowded], columns[crowded],
                                            values[crowded], kth[crowded], place)
            values[crowded] = np.take_along_axis(scores[crowded], columns[crowded], axis=1)
    else:
        columns = np.broadcast_to(np.arange(n), (n_rows, n))
        values = scores
    best = np.lexsort((place[columns], -values), axis=1)
    return np.take_along_axis(columns, best, axis=1), np.take_along_axis(values, best, axis=1)


def _settle_ties(scores: np.ndarray, columns: np.ndarray, values: np.ndarray, kth: np.ndarray,
                 place: np.ndarray) -> np.ndarray:
    """Rows whose ``k``-th score ``kth`` is shared by more columns than places are left: keep
    the partition's columns above ``kth`` and fill the rest with the tied columns earliest in
    the tie order (``place``), instead of the ones the partition happened to pick."""
    k = columns.shape[1]
    n = scores.shape[1]
    above = values > kth  # every column above kth is in the partition
    n_above = above.sum(axis=1, keepdims=True)
    first_above = np.take_along_axis(columns, np.argsort(~above, axis=1, kind="stable"), axis=1)
    tied_places = np.where(scores == kth, place, n)  # n: not tied
    earliest = np.sort(np.partition(tied_places, k - 1, axis=1)[:, :k], axis=1)
    slot = np.arange(k)
    fill = np.take_along_axis(earliest, np.maximum(slot - n_above, 0), axis=1)
    order = np.empty(n, dtype=np.intp)
    order[place] = np.arange(n)
    return np.where(slot < n_above, first_above, order[np.minimum(fill, n - 1)])


def _no_nan(values: np.ndarray) -> np.ndarray:
    nan = np.isnan(values)
    if nan.any():
        values = np.where(nan, -np.inf, values)
    return values
