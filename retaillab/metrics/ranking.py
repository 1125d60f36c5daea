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
NDCG@k             ``DCG / IDCG`` with ``DCG = sum_{i<=k} g_i / log2(i + 1)`` and ``IDCG`` the
                   same sum over the best possible top k: ``g_i = rel_i`` (binary, the
                   default; ``IDCG = sum_{i<=min(k, n)} 1 / log2(i + 1)``) or, with
                   ``relevance="graded"``, ``g_i`` = the test rating of the item at rank i
                   if it is in ``R``, else 0
MAP@k (AP@k)       ``sum_{i<=k} P@i * rel_i / min(k, n)`` (or ``/ n``, see below)
MRR@k              ``1 / i`` for the first relevant rank ``i <= k``; 0 if there is none
hit rate@k         1 if any of the top k is relevant, else 0
=================  ======================================================================

**Which users count** (by default; see ``no_list`` and ``no_relevant`` below). Every user with
at least one relevant test item. Such a user without recommendations scores 0 on every metric
(a missing list is a miss, not a skipped user). Users in ``recs`` but not in ``test`` (or with
no test item at or above the threshold) are left out, since no metric is defined for them. The
summary values are plain means over the counted users.

Conventions
-----------
The field computes these metrics in more than one way. Where a choice changes a number it is
a keyword argument of :func:`ranking_per_user`, :func:`ranking` and the single metric it
touches; the default is the first value. ``tests/metrics/test_ranking_vs_library.py`` checks
every metric and every setting against trec_eval (through ``ir-measures``/``pytrec_eval``) on
MovieLens top-10 lists, to 1e-12.

``ap_denominator`` (AP@k, ``map_at_k``)
    ``"min_k_n"`` (default): divide the sum of precisions at the hits by ``min(k, n)``, so a
    user with more than k relevant items can still reach 1 (Kaggle's ``ml_metrics.apk``,
    RecBole's ``MAP``). ``"n_relevant"``: divide by ``n``, every relevant item, found or not
    (trec_eval's ``map_cut_k``, ir-measures' ``AP@k``, ranx's ``map@k``). The two agree for
    users with ``n <= k``.
``no_list`` (every metric)
    ``"zero"`` (default): a user with relevant test items but no recommendation ranked within
    the top k is counted and scores 0 (trec_eval with ``-c``, ir-measures, ranx with
    ``make_comparable=True``). ``"skip"``: such a user is left out of the table and the means
    (trec_eval's and pytrec_eval's default: only queries in the run are evaluated).
``no_relevant`` (every metric; only with a ``threshold``)
    ``"skip"`` (default): a user whose test rows are all below the threshold is left out, as
    recall, NDCG and AP have nothing to divide by for them. ``"zero"``: such a user is counted
    and scores 0 on every metric (trec_eval and ir-measures: a query whose judgements are all
    below the relevance level is still evaluated, at 0).
``relevance`` (NDCG, ``ndcg_at_k``)
    ``"binary"`` (default): every relevant item has gain 1. ``"graded"``: an item's gain is
    its test ``rating`` (linear gain, Järvelin & Kekäläinen's NDCG as trec_eval's
    ``ndcg_cut_k``, ranx's ``ndcg`` and scikit-learn's ``ndcg_score`` compute it; not the
    ``2^rating - 1`` of Burges et al., ranx's ``ndcg_burges``). ``threshold`` still decides
    which pairs are relevant (the others have gain 0); a pair listed twice keeps its highest
    rating; ratings must be >= 0, and a user whose relevant ratings are all 0 scores NDCG 0
    (as in trec_eval). Precision, recall, AP, MRR and hit rate stay binary.

Where retaillab and trec_eval already agree, nothing is selectable: the ideal DCG is cut at k
(``ndcg_cut_k``, not ``ndcg``, whose ideal runs over every relevant item); precision divides
by k even for a shorter list (``P_k``); ``threshold`` is inclusive, like trec_eval's relevance
level; reciprocal rank counts only the top k (trec_eval's ``recip_rank`` on a top-k run).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from retaillab.data.schema import COLUMNS as C
from retaillab.errors import DataError, ParameterError, check_choice
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

#: keyword -> its values, the default first (see "Conventions" in the module docstring).
CONVENTIONS = {
    "relevance": ("binary", "graded"),
    "ap_denominator": ("min_k_n", "n_relevant"),
    "no_list": ("zero", "skip"),
    "no_relevant": ("skip", "zero"),
}


def relevant_pairs(test: pd.DataFrame, threshold: float | None = None, *,
                   distinct: bool = True, rating: bool = False) -> pd.DataFrame:
    """The relevant (user, item) pairs of ``test``: all rows, or ``rating >= threshold``.

    Each pair once, unless ``distinct=False`` (for callers that deduplicate by key). With
    ``rating=True`` the ``rating`` column comes along (the gains of graded NDCG).
    """
    needs_rating = rating or threshold is not None
    if needs_rating:
        fix = ("add the 'rating' column, or pass threshold=None to count every test row as "
               "relevant" if threshold is not None else
               "add the 'rating' column (the gains), or pass relevance='binary'")
    require(test, "test", [C.user, C.item] + ([C.rating] if needs_rating else []),
            fix=fix if needs_rating else None)
    if threshold is not None and (
            isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.number))
            or not np.isfinite(threshold)):
        raise ParameterError("threshold", "None or a finite number", threshold)
    if needs_rating and not pd.api.types.is_numeric_dtype(test[C.rating]):
        purpose = "compare with threshold" if threshold is not None else "serve as gains"
        raise DataError(f"ratings must be numbers to {purpose}; got dtype "
                        f"{test[C.rating].dtype}", source="test", column=C.rating)
    columns = [C.user, C.item] + ([C.rating] if rating else [])
    if threshold is None:
        rel = test[columns]
    else:
        keep = (test[C.rating] >= threshold).fillna(False).to_numpy(dtype=bool)
        rel = test.loc[keep, columns]
    return rel.drop_duplicates() if distinct else rel


def _conventions(**values: object) -> None:
    for name, value in values.items():
        if not isinstance(value, str):
            raise ParameterError(name, "one of " + ", ".join(map(repr, CONVENTIONS[name])),
                                 value)
        check_choice(name, value, CONVENTIONS[name])


def _highest_level_per_key(keys: np.ndarray, gains: np.ndarray,
                           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct ``keys`` (sorted), each one's highest gain as a level, and the levels.

    ``levels[level[i]]`` is the highest gain of ``keys`` equal to the i-th distinct key. One
    int64 sort of ``key * n_levels + level`` where that cannot overflow (several times faster
    than an argsort), else an argsort.
    """
    level, levels = pd.factorize(gains, sort=True)
    levels = np.asarray(levels, dtype=np.float64)
    n_levels = max(len(levels), 1)
    if len(keys) and (int(keys.max()) + 1) * n_levels < 2**63:
        both = np.sort(keys * n_levels + level)
        pairs = both // n_levels
        last = np.r_[pairs[1:] != pairs[:-1], True]  # the highest level comes last in a run
        return pairs[last], both[last] % n_levels, levels
    order = np.argsort(keys)
    pairs = keys[order]
    first = np.r_[True, pairs[1:] != pairs[:-1]]
    return pairs[first], np.maximum.reduceat(level[order], np.flatnonzero(first)), levels


def _ratio(top: np.ndarray, bottom: np.ndarray) -> np.ndarray:
    """``top / bottom``, 0 where ``bottom`` is 0."""
    return np.divide(top, bottom, out=np.zeros(len(top)), where=bottom > 0)


def ranking_per_user(recs: pd.DataFrame, test: pd.DataFrame, k: int, *,
                     threshold: float | None = None, relevance: str = "binary",
                     ap_denominator: str = "min_k_n", no_list: str = "zero",
                     no_relevant: str = "skip") -> pd.DataFrame:
    """Each counted user's precision, recall, NDCG, AP, reciprocal rank and hit at ``k``.

    Returns a DataFrame indexed by user (sorted), one row per counted user (by default each
    user with at least one relevant test item), columns ``precision_at_{k}``,
    ``recall_at_{k}``, ``ndcg_at_{k}``, ``map_at_{k}``, ``mrr_at_{k}``, ``hit_rate_at_{k}``.
    See the module docstring for the definitions, which users count and the conventions.

    Parameters
    ----------
    threshold
        ``None``: every test row is relevant; a number: only rows with ``rating >= threshold``.
    relevance
        ``"binary"`` (gain 1 for every relevant item) or ``"graded"`` (gain = the test
        ``rating``); changes NDCG only.
    ap_denominator
        ``"min_k_n"`` (AP@k divided by ``min(k, n)``) or ``"n_relevant"`` (by ``n``, as
        trec_eval); changes AP only.
    no_list
        ``"zero"`` (a user with relevant items but nothing ranked within the top k scores 0)
        or ``"skip"`` (such a user is left out, as trec_eval without ``-c``).
    no_relevant
        ``"skip"`` (a user whose test rows are all below ``threshold`` is left out) or
        ``"zero"`` (such a user is counted and scores 0, as trec_eval); only matters with a
        ``threshold``.

    Raises
    ------
    ParameterError
        For ``k`` not a positive integer, a non-numeric ``threshold``, or a convention that is
        not one of :data:`CONVENTIONS`.
    DataError
        For missing columns, ranks that are not whole numbers >= 1, a rank or item repeated
        within a user's top k, ids of different types in recs and test, no relevant pair,
        graded gains that are missing or negative, or (``no_list="skip"``) no counted user
        with a list.
    """
    k = check_k(k)
    _conventions(relevance=relevance, ap_denominator=ap_denominator, no_list=no_list,
                 no_relevant=no_relevant)
    graded = relevance == "graded"
    ranked = top_k(recs, k)
    rel = relevant_pairs(test, threshold, distinct=False, rating=graded)
    if rel.empty:
        raise DataError("no relevant (user, item) pair" + (
            f": no rating >= {threshold}" if threshold is not None else ": test has no rows"),
            source="test", fix="lower the threshold or pass a non-empty test set")
    check_same_ids(ranked, rel, ("recs", "test"))
    if graded:
        gains = rel[C.rating].to_numpy(dtype=np.float64, na_value=np.nan)
        bad = ~(gains >= 0)  # missing or negative
        if bad.any():
            raise DataError(f"{int(bad.sum()):,} relevant ratings are missing or negative, so "
                            "they cannot be NDCG gains", source="test", column=C.rating,
                            n_bad=int(bad.sum()),
                            fix="drop or fill them, pass a threshold, or relevance='binary'")

    # One integer code per user and item over both tables, then one int64 key per pair: the
    # hits are a sorted search, not a merge (see bench/ranking_metrics.py).
    n_test, n_ranked = len(rel), len(ranked)
    # no_relevant="zero": every test user is counted, so their codes come along at the end
    judged = [test[C.user]] if no_relevant == "zero" and threshold is not None else []
    try:
        user_codes, users = dense_codes(
            pd.concat([rel[C.user], ranked[C.user], *judged], ignore_index=True))
    except TypeError as err:  # ids of types that cannot be ordered together
        raise DataError(f"recs and test ids cannot be matched ({err})", source="recs",
                        fix="convert user and item ids to one type in both tables") from None
    item_codes, items = dense_codes(pd.concat([rel[C.item], ranked[C.item]],
                                              ignore_index=True))
    n_users, n_items = len(users), max(len(items), 1)
    keys = user_codes[:n_test + n_ranked].astype(np.int64) * n_items + item_codes
    if graded:  # a pair listed twice keeps its highest rating
        test_keys, level, levels = _highest_level_per_key(keys[:n_test], gains)
    else:
        test_keys = np.sort(keys[:n_test])
        test_keys = test_keys[np.r_[True, test_keys[1:] != test_keys[:-1]]]  # once per pair
    n_rel = np.bincount(test_keys // n_items, minlength=n_users)
    rec_keys = keys[n_test:n_test + n_ranked]
    at = np.minimum(np.searchsorted(test_keys, rec_keys), len(test_keys) - 1)
    hit = test_keys[at] == rec_keys
    code = user_codes[n_test:n_test + n_ranked][hit]
    rank = ranked[RANK].to_numpy(dtype=np.float64)[hit]
    order = np.lexsort((rank, code))
    code, rank = code[order], rank[order]
    starts = group_starts(code)
    # nth: how many hits at ranks <= this one, i.e. the hit's position among its user's hits
    nth = np.arange(len(code)) - np.repeat(starts, np.diff(np.r_[starts, len(code)])) + 1

    n_hits = np.bincount(code, minlength=n_users).astype(np.float64)
    discount = 1.0 / np.log2(np.arange(2, k + 2))  # at ranks 1..k
    if graded:
        hit_gains = levels[level[at[hit]]][order]
        dcg = np.bincount(code, weights=hit_gains / np.log2(rank + 1.0), minlength=n_users)
        # ideal: each user's gains from the highest down, the first k of them discounted; one
        # int64 sort of (user, gain level counted from the top), not a two-key lexsort
        n_levels = len(levels)
        best = np.sort((test_keys // n_items) * n_levels + (n_levels - 1 - level))
        owner, best_gains = best // n_levels, levels[n_levels - 1 - best % n_levels]
        first = group_starts(owner)
        place = np.arange(len(owner)) - np.repeat(first, np.diff(np.r_[first, len(owner)]))
        within = place < k
        ideal = np.bincount(owner[within], weights=best_gains[within] * discount[place[within]],
                            minlength=n_users)
    else:
        dcg = np.bincount(code, weights=1.0 / np.log2(rank + 1.0), minlength=n_users)
        ideal = np.r_[0.0, np.cumsum(discount)][np.minimum(n_rel, k)]
    ap_sum = np.bincount(code, weights=nth / rank, minlength=n_users)
    reciprocal = np.zeros(n_users)
    reciprocal[code[starts]] = 1.0 / rank[starts]  # the lowest rank comes first in each run

    # 0 where there is nothing to divide by: no relevant item (no_relevant="zero"), or, graded,
    # only relevant ratings of 0 (no ideal DCG); trec_eval scores both 0 too
    values = {
        "precision": n_hits / k,
        "recall": _ratio(n_hits, n_rel),
        "ndcg": _ratio(dcg, ideal),
        "map": _ratio(ap_sum, np.minimum(n_rel, k) if ap_denominator == "min_k_n" else n_rel),
        "mrr": reciprocal,
        "hit_rate": (n_hits > 0).astype(np.float64),
    }
    counted = n_rel > 0  # users only in recs have no relevant item: no metric is defined
    if judged:  # unless no_relevant="zero": then every user with a test row counts
        counted |= np.bincount(user_codes[n_test + n_ranked:], minlength=n_users) > 0
    if no_list == "skip":  # and users without any recommendation in the top k are left out
        counted &= np.bincount(user_codes[n_test:n_test + n_ranked], minlength=n_users) > 0
        if not counted.any():
            raise DataError(f"no counted user has a recommendation within the top {k}, so "
                            "no_list='skip' leaves no user", source="recs",
                            fix="pass no_list='zero' to score those users 0")
    index = pd.Index(users[counted], name=C.user)
    return pd.DataFrame({f"{stem}_at_{k}": values[stem][counted] for stem in RANKING_STEMS},
                        index=index)


def ranking(recs: pd.DataFrame, test: pd.DataFrame, k: int, *,
            threshold: float | None = None, relevance: str = "binary",
            ap_denominator: str = "min_k_n", no_list: str = "zero",
            no_relevant: str = "skip") -> dict[str, float]:
    """The means over counted users of :func:`ranking_per_user`'s columns (same keywords).

    >>> ranking(model.recommend(users, k=10), test, k=10)        # doctest: +SKIP
    {'precision_at_10': 0.21, 'recall_at_10': 0.09, 'ndcg_at_10': 0.25, ...}
    """
    table = ranking_per_user(recs, test, k, threshold=threshold, relevance=relevance,
                             ap_denominator=ap_denominator, no_list=no_list,
                             no_relevant=no_relevant)
    return {name: float(value) for name, value in table.mean().items()}


def _one(stem: str, recs: pd.DataFrame, test: pd.DataFrame, k: int,
         threshold: float | None, **conventions: str) -> float:
    table = ranking_per_user(recs, test, k, threshold=threshold, **conventions)
    return float(table[f"{stem}_at_{int(k)}"].mean())


def precision_at_k(recs: pd.DataFrame, test: pd.DataFrame, k: int, *,
                   threshold: float | None = None, no_list: str = "zero",
                   no_relevant: str = "skip") -> float:
    """Mean over counted users of (relevant items in the top k) / k."""
    return _one("precision", recs, test, k, threshold, no_list=no_list,
                no_relevant=no_relevant)


def recall_at_k(recs: pd.DataFrame, test: pd.DataFrame, k: int, *,
                threshold: float | None = None, no_list: str = "zero",
                no_relevant: str = "skip") -> float:
    """Mean over counted users of (relevant items in the top k) / (the user's relevant items).
    """
    return _one("recall", recs, test, k, threshold, no_list=no_list, no_relevant=no_relevant)


def ndcg_at_k(recs: pd.DataFrame, test: pd.DataFrame, k: int, *,
              threshold: float | None = None, relevance: str = "binary",
              no_list: str = "zero", no_relevant: str = "skip") -> float:
    """Mean over counted users of DCG@k / IDCG@k, ``gain / log2(rank + 1)``: gain 1 for a
    relevant item (``relevance="binary"``) or its test rating (``"graded"``)."""
    return _one("ndcg", recs, test, k, threshold, relevance=relevance, no_list=no_list,
                no_relevant=no_relevant)


def map_at_k(recs: pd.DataFrame, test: pd.DataFrame, k: int, *,
             threshold: float | None = None, ap_denominator: str = "min_k_n",
             no_list: str = "zero", no_relevant: str = "skip") -> float:
    """Mean over counted users of AP@k = ``sum_{i<=k} P@i * rel_i / min(k, n_relevant)``
    (``ap_denominator="n_relevant"``: ``/ n_relevant``, as trec_eval's ``map_cut_k``)."""
    return _one("map", recs, test, k, threshold, ap_denominator=ap_denominator,
                no_list=no_list, no_relevant=no_relevant)


def mrr_at_k(recs: pd.DataFrame, test: pd.DataFrame, k: int, *,
             threshold: float | None = None, no_list: str = "zero",
             no_relevant: str = "skip") -> float:
    """Mean over counted users of 1 / (rank of the first relevant item), 0 if none in top k."""
    return _one("mrr", recs, test, k, threshold, no_list=no_list, no_relevant=no_relevant)


def hit_rate_at_k(recs: pd.DataFrame, test: pd.DataFrame, k: int, *,
                  threshold: float | None = None, no_list: str = "zero",
                  no_relevant: str = "skip") -> float:
    """Share of counted users with at least one relevant item in their top k."""
    return _one("hit_rate", recs, test, k, threshold, no_list=no_list,
                no_relevant=no_relevant)


#: stem -> scalar function ``fn(recs, test, k, *, threshold=None, no_list="zero",
#: no_relevant="skip")``; NDCG also takes ``relevance``, MAP ``ap_denominator``.
RANKING_METRICS = {
    "precision_at_k": precision_at_k, "recall_at_k": recall_at_k, "ndcg_at_k": ndcg_at_k,
    "map_at_k": map_at_k, "mrr_at_k": mrr_at_k, "hit_rate_at_k": hit_rate_at_k,
}
