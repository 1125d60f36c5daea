"""Top-k ranking metrics: how many of a user's relevant test items the top ``k`` found, and how
high.

``recs`` is the output of :meth:`Recommender.recommend` (user, item, rank, ...); the position
of an item is its ``rank`` column (1 = top), and rows ranked beyond ``k`` are ignored. Every
``test`` row is a relevant (user, item) pair, or, with ``threshold``, only rows with
``rating >= threshold``; a pair listed twice counts once.

For a user with relevant set ``R`` (``n = |R|``) and ``rel_i = 1`` when the item at rank
``i`` is in ``R``:

=================  ======================================================================
precision@k        ``sum_{i<=k} rel_i / k`` (a list shorter than k still divides by k)
recall@k           ``sum_{i<=k} rel_i / n``
NDCG@k             ``DCG / IDCG`` with ``DCG = sum_{i<=k} rel_i / log2(i + 1)`` and
                   ``IDCG = sum_{i<=min(k, n)} 1 / log2(i + 1)`` (binary gains)
MAP@k (AP@k)       ``sum_{i<=k} P@i * rel_i / min(k, n)``
MRR@k              ``1 / i`` for the first relevant rank ``i <= k``; 0 if there is none
hit rate@k         1 if any of the top k is relevant, else 0
=================  ======================================================================

**Which users count.** Every user with at least one relevant test item. Such a user without
recommendations scores 0 on every metric (a missing list is a miss, not a skipped user).
Users in ``recs`` but not in ``test`` (or with no test item above the threshold) are left out,
since no metric is defined for them. The summary values are plain means over the counted users.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from retaillab.data.schema import COLUMNS as C
from retaillab.errors import DataError, ParameterError
from retaillab.metrics._util import (
    RANK,
    check_k,
    check_same_ids,
    dense_codes,
    group_starts,
    require,
    top_k,
)

#: Metric stems, in column order; ``ranking_per_user`` names them ``{stem}_at_{k}``.
RANKING_STEMS = ("precision", "recall", "ndcg", "map", "mrr", "hit_rate")


def relevant_pairs(test: pd.DataFrame, threshold: float | None = None, *,
                   distinct: bool = True) -> pd.DataFrame:
    """The relevant (user, item) pairs of ``test``: all rows, or ``rating >= threshold``.

    Each pair once, unless ``distinct=False`` (for callers that deduplicate by key).
    """
    require(test, "test", [C.user, C.item] + ([C.rating] if threshold is not None else []),
            fix=None if threshold is None else "pass threshold=None to count every test row "
            "as relevant, or add the 'rating' column")
    if threshold is None:
        rel = test[[C.user, C.item]]
    else:
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.number)) \
                or not np.isfinite(threshold):
            raise ParameterError("threshold", "None or a finite number", threshold)
        if not pd.api.types.is_numeric_dtype(test[C.rating]):
            raise DataError(f"ratings must be numbers to compare with threshold; got dtype "
                            f"{test[C.rating].dtype}", source="test", column=C.rating)
        keep = (test[C.rating] >= threshold).fillna(False).to_numpy(dtype=bool)
        rel = test.loc[keep, [C.user, C.item]]
    return rel.drop_duplicates() if distinct else rel


def ranking_per_user(recs: pd.DataFrame, test: pd.DataFrame, k: int, *,
                     threshold: float | None = None) -> pd.DataFrame:
    """Each counted user's precision, recall, NDCG, AP, reciprocal rank and hit at ``k``.

    Returns a DataFrame indexed by user (sorted), one row per user with at least one relevant
    test item, columns ``precision_at_{k}``, ``recall_at_{k}``, ``ndcg_at_{k}``,
    ``map_at_{k}``, ``mrr_at_{k}``, ``hit_rate_at_{k}``. See the module docstring for the
    definitions and which users count.

    Raises
    ------
    ParameterError
        For ``k`` not a positive integer or a non-numeric ``threshold``.
    DataError
        For missing columns, ranks that are not whole numbers >= 1, a rank or item repeated
        within a user's top k, ids of different types in recs and test, or no relevant pair.
    """
    k = check_k(k)
    ranked = top_k(recs, k)
    rel = relevant_pairs(test, threshold, distinct=False)
    if rel.empty:
        raise DataError("no relevant (user, item) pair" + (
            f": no rating >= {threshold}" if threshold is not None else ": test has no rows"),
            source="test", fix="lower the threshold or pass a non-empty test set")
    check_same_ids(ranked, rel, ("recs", "test"))

    # One integer code per user and item over both tables, then one int64 key per pair: the
    # hits are a sorted search, not a merge (see bench/ranking_metrics.py).
    n_test = len(rel)
    try:
        user_codes, users = dense_codes(
            pd.concat([rel[C.user], ranked[C.user]], ignore_index=True))
    except TypeError as err:  # ids of types that cannot be ordered together
        raise DataError(f"recs and test ids cannot be matched ({err})", source="recs",
                        fix="convert user and item ids to one type in both tables") from None
    item_codes, items = dense_codes(pd.concat([rel[C.item], ranked[C.item]],
                                              ignore_index=True))
    n_users, n_items = len(users), max(len(items), 1)
    keys = user_codes.astype(np.int64) * n_items + item_codes
    test_keys = np.sort(keys[:n_test])
    test_keys = test_keys[np.r_[True, test_keys[1:] != test_keys[:-1]]]  # a pair counts once
    n_rel = np.bincount(test_keys // n_items, minlength=n_users)
    rec_keys = keys[n_test:]
    at = np.minimum(np.searchsorted(test_keys, rec_keys), len(test_keys) - 1)
    hit = test_keys[at] == rec_keys
    code = user_codes[n_test:][hit]
    rank = ranked[RANK].to_numpy(dtype=np.float64)[hit]
    order = np.lexsort((rank, code))
    code, rank = code[order], rank[order]
    starts = group_starts(code)
    # nth: how many hits at ranks <= this one, i.e. the hit's position among its user's hits
    nth = np.arange(len(code)) - np.repeat(starts, np.diff(np.r_[starts, len(code)])) + 1

    n_hits = np.bincount(code, minlength=n_users).astype(np.float64)
    dcg = np.bincount(code, weights=1.0 / np.log2(rank + 1.0), minlength=n_users)
    ideal = np.r_[0.0, np.cumsum(1.0 / np.log2(np.arange(2, k + 2)))][np.minimum(n_rel, k)]
    ap_sum = np.bincount(code, weights=nth / rank, minlength=n_users)
    reciprocal = np.zeros(n_users)
    reciprocal[code[starts]] = 1.0 / rank[starts]  # the lowest rank comes first in each run

    with np.errstate(divide="ignore", invalid="ignore"):  # users without relevant items
        values = {
            "precision": n_hits / k,
            "recall": n_hits / n_rel,
            "ndcg": dcg / ideal,
            "map": ap_sum / np.minimum(n_rel, k),
            "mrr": reciprocal,
            "hit_rate": (n_hits > 0).astype(np.float64),
        }
    counted = n_rel > 0  # users only in recs have no relevant item: no metric is defined
    index = pd.Index(users[counted], name=C.user)
    return pd.DataFrame({f"{stem}_at_{k}": values[stem][counted] for stem in RANKING_STEMS},
                        index=index)


def ranking(recs: pd.DataFrame, test: pd.DataFrame, k: int, *,
            threshold: float | None = None) -> dict[str, float]:
    """The means over counted users of :func:`ranking_per_user`'s columns.

    >>> ranking(model.recommend(users, k=10), test, k=10)        # doctest: +SKIP
    {'precision_at_10': 0.21, 'recall_at_10': 0.09, 'ndcg_at_10': 0.25, ...}
    """
    table = ranking_per_user(recs, test, k, threshold=threshold)
    return {name: float(value) for name, value in table.mean().items()}


def _one(stem: str, recs: pd.DataFrame, test: pd.DataFrame, k: int,
         threshold: float | None) -> float:
    table = ranking_per_user(recs, test, k, threshold=threshold)
    return float(table[f"{stem}_at_{int(k)}"].mean())


def precision_at_k(recs: pd.DataFrame, test: pd.DataFrame, k: int, *,
                   threshold: float | None = None) -> float:
    """Mean over counted users of (relevant items in the top k) / k."""
    return _one("precision", recs, test, k, threshold)


def recall_at_k(recs: pd.DataFrame, test: pd.DataFrame, k: int, *,
                threshold: float | None = None) -> float:
    """Mean over counted users of (relevant items in the top k) / (the user's relevant items).
    """
    return _one("recall", recs, test, k, threshold)


def ndcg_at_k(recs: pd.DataFrame, test: pd.DataFrame, k: int, *,
              threshold: float | None = None) -> float:
    """Mean over counted users of DCG@k / IDCG@k (binary gains, ``1 / log2(rank + 1)``)."""
    return _one("ndcg", recs, test, k, threshold)


def map_at_k(recs: pd.DataFrame, test: pd.DataFrame, k: int, *,
             threshold: float | None = None) -> float:
    """Mean over counted users of AP@k = ``sum_{i<=k} P@i * rel_i / min(k, n_relevant)``."""
    return _one("map", recs, test, k, threshold)


def mrr_at_k(recs: pd.DataFrame, test: pd.DataFrame, k: int, *,
             threshold: float | None = None) -> float:
    """Mean over counted users of 1 / (rank of the first relevant item), 0 if none in top k."""
    return _one("mrr", recs, test, k, threshold)


def hit_rate_at_k(recs: pd.DataFrame, test: pd.DataFrame, k: int, *,
                  threshold: float | None = None) -> float:
    """Share of counted users with at least one relevant item in their top k."""
    return _one("hit_rate", recs, test, k, threshold)


#: stem -> scalar function ``fn(recs, test, k, *, threshold=None) -> float``.
RANKING_METRICS = {
    "precision_at_k": precision_at_k, "recall_at_k": recall_at_k, "ndcg_at_k": ndcg_at_k,
    "map_at_k": map_at_k, "mrr_at_k": mrr_at_k, "hit_rate_at_k": hit_rate_at_k,
}
