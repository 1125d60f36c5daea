"""Beyond-accuracy metrics of recommendation lists: coverage, novelty, diversity, popularity bias.

``recs`` holds one row per recommended (user, item), e.g. the output of
:meth:`Recommender.recommend`; every row counts, so pass ``recs[recs["rank"] <= k]`` to
evaluate a shorter list. Popularity comes from the training interactions ``train``:
``pop(i)`` = the number of distinct training users who interacted with item ``i``.

The per-user functions return a Series indexed by user (sorted); the summaries are plain means
over users, so every user weighs the same whatever the length of their list (for lists of one
length this equals the mean over all recommended rows).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from retaillab.data.schema import COLUMNS as C
from retaillab.errors import DataError, ParameterError
from retaillab.metrics._util import check_same_ids, group_starts, require, unique_pairs


def _lists(recs: object) -> pd.DataFrame:
    require(recs, "recs", [C.user, C.item],
            fix="pass the output of Recommender.recommend (user, item, score, rank, fallback)")
    if recs.empty:
        raise DataError("the table has no rows", source="recs",
                        fix="pass at least one recommendation")
    lists = recs[[C.user, C.item]]
    unique_pairs(lists, "recs", [C.user, C.item])
    return lists


def _popularity(recs: pd.DataFrame, train: object) -> tuple[np.ndarray, pd.Series, int]:
    """Training popularity of each recs row, popularity of every training item, n_users."""
    require(train, "train", [C.user, C.item])
    if train.empty:
        raise DataError("the table has no rows", source="train",
                        fix="pass the training interactions the model was fitted on")
    check_same_ids(recs, train, ("recs", "train"), columns=(C.item,))
    pairs = train[[C.user, C.item]].drop_duplicates()
    pop = pairs[C.item].value_counts(sort=False)
    per_row = pop.reindex(recs[C.item].to_numpy()).fillna(0).to_numpy(dtype=np.float64)
    return per_row, pop, int(pairs[C.user].nunique())


def _per_user(recs: pd.DataFrame, values: np.ndarray, name: str) -> pd.Series:
    frame = pd.DataFrame({C.user: recs[C.user].to_numpy(), name: values})
    return frame.groupby(C.user, sort=True)[name].mean()


def coverage(recs: pd.DataFrame, n_items: int) -> float:
    """Catalogue coverage: distinct items recommended to anyone / ``n_items``.

    ``n_items`` is the size of the catalogue that could have been recommended, usually the
    number of training items.
    """
    lists = _lists(recs)
    if not isinstance(n_items, (int, np.integer)) or isinstance(n_items, bool) or n_items < 1:
        raise ParameterError("n_items", "a positive integer (the catalogue size)", n_items)
    distinct = lists[C.item].nunique()
    if distinct > n_items:
        raise DataError(f"recs hold {distinct:,} distinct items, more than n_items={n_items:,}",
                        source="recs", column=C.item,
                        fix="pass the size of the whole catalogue as n_items")
    return distinct / int(n_items)


def novelty_per_user(recs: pd.DataFrame, train: pd.DataFrame) -> pd.Series:
    """Each user's mean item novelty, ``-log2(pop(i) / n_users)`` over their list.

    ``pop(i) / n_users`` is the share of training users who interacted with ``i``, so an item
    everyone saw has novelty 0 and one a single user saw has ``log2(n_users)``. An item absent
    from ``train`` counts as seen by one user (the largest finite novelty) rather than infinity.
    """
    lists = _lists(recs)
    pop, _, n_users = _popularity(lists, train)
    return _per_user(lists, -np.log2(np.maximum(pop, 1.0) / n_users), "novelty")


def novelty(recs: pd.DataFrame, train: pd.DataFrame) -> float:
    """Mean novelty in bits: the mean over users of :func:`novelty_per_user`."""
    return float(novelty_per_user(recs, train).mean())


def popularity_bias_per_user(recs: pd.DataFrame, train: pd.DataFrame) -> pd.Series:
    """Each user's average recommendation popularity ratio.

    ``mean_{i in list} pop(i) / mean_{j in train items} pop(j)``: 1 means the list is as popular
    as the average training item, above 1 it leans to popular items. An item absent from
    ``train`` has popularity 0.
    """
    lists = _lists(recs)
    pop, catalogue, _ = _popularity(lists, train)
    return _per_user(lists, pop / float(catalogue.mean()), "popularity_bias")


def popularity_bias(recs: pd.DataFrame, train: pd.DataFrame) -> float:
    """Average recommendation popularity (ARP) over the mean training item popularity.

    ``mean_u [mean_{i in L_u} pop(i)] / mean_{j in train items} pop(j)``, the mean over users
    of :func:`popularity_bias_per_user` (ARP of Abdollahpouri et al. 2019, made unit-free).
    """
    return float(popularity_bias_per_user(recs, train).mean())


def _unit_features(item_features: object, items: pd.Series) -> np.ndarray:
    """L2-normalised feature rows of ``items`` (a zero vector stays zero)."""
    if not isinstance(item_features, pd.DataFrame):
        raise ParameterError("item_features", "a DataFrame indexed by item of numeric features",
                             type(item_features).__name__)
    non_numeric = [c for c in item_features.columns
                   if not pd.api.types.is_numeric_dtype(item_features[c])]
    if non_numeric or item_features.shape[1] == 0:
        what = (f"column {non_numeric[0]!r} is {item_features[non_numeric[0]].dtype}, not "
                "numeric") if non_numeric else "it has no feature columns"
        raise DataError(what, source="item_features",
                        fix="one-hot encode categories (e.g. genres) into 0/1 columns")
    if not item_features.index.is_unique:
        raise DataError("the index repeats an item", source="item_features",
                        fix="keep one row per item (index = item id)")
    pos = item_features.index.get_indexer(items.to_numpy())
    if (pos < 0).any():
        absent = pd.unique(items.to_numpy()[pos < 0])
        raise DataError(f"{len(absent):,} recommended items have no features (e.g. "
                        f"{', '.join(map(repr, absent[:5].tolist()))})", source="item_features",
                        fix="index item_features by item id and include every recommended item")
    x = item_features.to_numpy(dtype=np.float64, na_value=np.nan)[pos]
    if not np.isfinite(x).all():
        raise DataError("recommended items have missing or infinite features",
                        source="item_features", fix="fill them, e.g. item_features.fillna(0)")
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)


def intra_list_diversity_per_user(recs: pd.DataFrame, item_features: pd.DataFrame) -> pd.Series:
    """Each user's mean pairwise cosine distance between the items of their list.

    ``ILD(L) = mean_{i < j in L} (1 - cos(f_i, f_j))`` with ``f_i`` the feature row of item
    ``i`` (a zero vector has cosine 0 with anything). Lists of fewer than two items have no
    pairs and get NaN. ``item_features`` is a numeric table indexed by item, usually
    :func:`retaillab.recsys.item_features` of the item table: the attributes the content-based
    recommender compares items by, so both judge similarity alike.

    Computed for all users at once without forming pairs: with unit rows ``x_i``,
    ``sum_{i != j} x_i . x_j = |sum_i x_i|² - sum_i |x_i|²``, so one sum of rows per user
    (a user x item indicator times the feature matrix) gives every list's similarity total.
    """
    lists = _lists(recs)
    codes, users = pd.factorize(lists[C.user], sort=True)
    order = np.argsort(codes, kind="stable")
    codes = codes[order]
    x = _unit_features(item_features, lists[C.item].iloc[order])
    starts = group_starts(codes)
    sums = np.add.reduceat(x, starts, axis=0)
    self_sim = np.add.reduceat(np.einsum("ij,ij->i", x, x), starts)
    size = np.diff(np.r_[starts, len(codes)]).astype(np.float64)
    pair_sim = (np.einsum("ij,ij->i", sums, sums) - self_sim) / 2.0  # sum_{i<j} cos
    n_pairs = size * (size - 1.0) / 2.0
    with np.errstate(invalid="ignore", divide="ignore"):
        ild = np.where(n_pairs > 0, np.clip(1.0 - pair_sim / n_pairs, 0.0, 2.0), np.nan)
    return pd.Series(ild, index=pd.Index(users, name=C.user), name="intra_list_diversity")


def intra_list_diversity(recs: pd.DataFrame, item_features: pd.DataFrame) -> float:
    """Mean over users with at least two recommended items of
    :func:`intra_list_diversity_per_user`."""
    per_user = intra_list_diversity_per_user(recs, item_features).dropna()
    if per_user.empty:
        raise DataError("no user has two or more recommended items, so no pair to compare",
                        source="recs", fix="recommend k >= 2 items per user")
    return float(per_user.mean())


def beyond_accuracy(recs: pd.DataFrame, train: pd.DataFrame, n_items: int,
                    item_features: pd.DataFrame | None = None) -> dict[str, float]:
    """Coverage, novelty and popularity bias, plus intra-list diversity when ``item_features``
    is given."""
    out = {"coverage": coverage(recs, n_items), "novelty": novelty(recs, train),
           "popularity_bias": popularity_bias(recs, train)}
    if item_features is not None:
        out["intra_list_diversity"] = intra_list_diversity(recs, item_features)
    return out


#: name -> scalar function.
BEYOND_METRICS = {"coverage": coverage, "novelty": novelty, "popularity_bias": popularity_bias,
                  "intra_list_diversity": intra_list_diversity}
