"""Content-based recommendation: items whose attributes resemble those a user already chose.

Each item becomes a feature vector built from its attributes by
:func:`retaillab.recsys.features.item_features`, the same encoding intra-list diversity uses:
list columns (``genres``) multi-hot, numeric columns (``year``) in ``n_bins`` equal-frequency
bins, other columns one-hot, missing values setting no feature.

Rows are optionally TF-IDF weighted, so a rare genre says more than ``Drama``, then L2
normalised. A user's profile is the mean of the feature vectors of their training items, or,
when the training table has ratings, the sum weighted by each rating minus the user's mean
rating, so items liked more than usual pull the profile towards their features and disliked
ones push it away (Lops, de Gemmis & Semeraro 2011, "Content-based Recommender Systems: State
of the Art and Trends", sec. 3.1; Pazzani & Billsus 2007). A candidate's score is the cosine
between the profile and its feature vector.

Cold items: the model needs no interactions with an item to score it, so with ``cold_items``
(the default) items in the ``items`` table but absent from training are added to ``items_``
after the training items (with popularity 0) and can be recommended. With
``cold_items=False`` only training items are ranked, like every other model. Training items
missing from the table have no features and score 0.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import sparse

from retaillab.data.ids import check_same_type
from retaillab.data.schema import COLUMNS as C
from retaillab.errors import DataError, ParameterError, check_choice
from retaillab.recsys._base import Recommender
from retaillab.recsys.features import DEFAULT_FEATURES, item_features

PROFILES: tuple[str, ...] = ("auto", "mean", "rating")


class ContentBased(Recommender):
    """Cosine between a user's attribute profile and each item's attributes.

    Parameters
    ----------
    items
        The item table: an ``item`` column plus attributes (``Dataset.items``). Default
        ``None``: the attribute columns of the training table itself, one row per item.
    features
        Attribute columns to use (default ``None``: those of :data:`DEFAULT_FEATURES` the
        table has).
    tfidf
        Weight features by smoothed inverse document frequency before normalising (default
        False).
    n_bins
        Equal-frequency bins for numeric attributes (default 5).
    profile
        ``"mean"`` of the user's item vectors, ``"rating"``-weighted (centred on the user's mean
        rating; a user whose ratings are all equal falls back to the mean), or ``"auto"``
        (default): ``"rating"`` when the training table has a ``rating`` column.
    cold_items
        Also rank items of ``items`` that are absent from training (default True).

    Fitted attributes: ``features_`` (CSR, ``n_items x n_features``, rows L2-normalised, in the
    order of ``items_``), ``feature_names_`` and ``profiles_`` (dense, ``n_users x
    n_features``, rows L2-normalised).

    Example::

        model = ContentBased(items=ml.items).fit(train)
        model.recommend([1, 2], k=10)
    """

    def __init__(self, *, items: pd.DataFrame | None = None,
                 features: Sequence[str] | None = None, tfidf: bool = False, n_bins: int = 5,
                 profile: str = "auto", cold_items: bool = True) -> None:
        self.items = items
        self.features = features
        self.tfidf = tfidf
        self.n_bins = n_bins
        self.profile = profile
        self.cold_items = cold_items

    def __repr__(self, N_CHAR_MAX: int = 700) -> str:
        return _repr_with_tables(self)

    @classmethod
    def cannot_fit(cls, params: dict, columns: list, items: pd.DataFrame | None) -> str | None:
        """Without item attributes (no item table with attribute columns, and none in the
        interactions) there is nothing to compare items by."""
        table = params.get("items", items)
        features = params.get("features")
        have = list(columns) if table is None else list(table.columns)
        wanted = list(features) if features is not None and not isinstance(features, str) \
            else [c for c in DEFAULT_FEATURES if c in have]
        missing = [c for c in wanted if c not in have]
        if wanted and not missing:
            return None
        where = ("no item table was given (items=None) and the interactions have"
                 if table is None else "the item table has")
        lacking = (f"no column {', '.join(missing)}" if missing
                   else f"none of the attribute columns {', '.join(DEFAULT_FEATURES)}")
        return f"it needs item attributes and {where} {lacking}"

    def _fit(self, train: pd.DataFrame, users: np.ndarray, items: np.ndarray) -> None:
        check_choice("ContentBased profile", self.profile, PROFILES)
        if isinstance(self.features, str):
            raise ParameterError("ContentBased features", "a list of column names",
                                 self.features)
        catalogue = _catalogue(self.items, train, self.features)
        if self.cold_items:
            self._add_cold_items(catalogue[C.item])
        table = item_features(catalogue, self.features, n_bins=self.n_bins)
        matrix = sparse.csr_matrix(table.to_numpy())
        if self.tfidf:
            matrix = tfidf(matrix)
        matrix = _l2_rows(matrix)
        names = list(table.columns)
        rows = table.index.get_indexer(self.items_)
        picked = matrix[np.maximum(rows, 0)]
        picked = sparse.diags((rows >= 0).astype(np.float64)) @ picked  # no features: zeros
        self.features_ = picked.tocsr()
        self.feature_names_ = names
        use_ratings = self.profile == "rating" or (self.profile == "auto"
                                                   and C.rating in train.columns)
        if use_ratings and C.rating not in train.columns:
            raise DataError("profile='rating' needs ratings but there is no column 'rating'",
                            source="ContentBased", column=C.rating,
                            fix="use profile='mean' or 'auto'")
        ratings = train[C.rating].to_numpy(np.float64) if use_ratings else None
        self.profiles_ = _profiles(self.seen_, self.features_, users, items, ratings)

    def _scores(self, users: np.ndarray) -> np.ndarray:
        return np.asarray((self.features_ @ self.profiles_[users].T).T)

    def _add_cold_items(self, catalogue_items: pd.Series) -> None:
        """Append catalogue items unseen in training to ``items_``, ``seen_``, ``popularity_``."""
        cold = pd.Index(pd.unique(catalogue_items)).difference(self.items_, sort=False)
        if not len(cold):
            return
        self.items_ = self.items_.append(cold).rename(C.item)
        seen = self.seen_
        self.seen_ = sparse.csr_matrix((seen.data, seen.indices, seen.indptr),
                                       shape=(seen.shape[0], len(self.items_)))
        self.popularity_ = np.concatenate([self.popularity_, np.zeros(len(cold))])


def _catalogue(items: pd.DataFrame | None, train: pd.DataFrame,
               features: Sequence[str] | None) -> pd.DataFrame:
    """The item table to describe items with: ``items`` or the training table's attributes."""
    if items is None:
        wanted = list(features) if features is not None else [
            c for c in DEFAULT_FEATURES if c in train.columns]
        if not wanted or any(c not in train.columns for c in wanted):
            raise DataError("no item attributes: items=None and the training table has no "
                            "attribute columns" + (f" {wanted}" if wanted else ""),
                            source="ContentBased",
                            fix="pass items=dataset.items (and features=[...] if its columns "
                                f"are not among {', '.join(DEFAULT_FEATURES)})")
        return train[[C.item, *wanted]].drop_duplicates(C.item)
    if not isinstance(items, pd.DataFrame) or C.item not in items.columns:
        raise ParameterError("ContentBased items", "a DataFrame with an 'item' column",
                             type(items).__name__)
    check_same_type(train[C.item], items[C.item], key=C.item, left_name="train",
                    right_name="items")
    return items.drop_duplicates(C.item)


def tfidf(matrix: sparse.csr_matrix) -> sparse.csr_matrix:
    """Columns weighted by smoothed inverse document frequency, as scikit-learn's
    ``TfidfTransformer(smooth_idf=True)``: ``log((1 + n) / (1 + df)) + 1``."""
    df = np.bincount(matrix.indices, minlength=matrix.shape[1])
    idf = np.log((1.0 + matrix.shape[0]) / (1.0 + df)) + 1.0
    return (matrix @ sparse.diags(idf)).tocsr()


def _profiles(seen: sparse.csr_matrix, features: sparse.csr_matrix, users: np.ndarray,
              items: np.ndarray, ratings: np.ndarray | None) -> np.ndarray:
    """L2-normalised user profiles: mean item vector, or rating-centred weighted sum."""
    counts = np.asarray(seen.sum(axis=1)).ravel()
    mean = (sparse.diags(1.0 / np.maximum(counts, 1)) @ seen @ features).toarray()
    if ratings is None:
        return _l2_rows(mean)
    n_users = seen.shape[0]
    n_rated = np.maximum(np.bincount(users, minlength=n_users), 1)
    user_mean = np.bincount(users, ratings, n_users) / n_rated
    weights = sparse.csr_matrix((ratings - user_mean[users], (users, items)), shape=seen.shape)
    weighted = (weights @ features).toarray()
    flat = ~np.any(np.abs(weighted) > 1e-12, axis=1)  # all ratings equal: no direction
    weighted[flat] = mean[flat]
    return _l2_rows(weighted)


def _l2_rows(matrix):
    """Rows scaled to unit L2 norm (zero rows stay zero); sparse in, sparse out."""
    if sparse.issparse(matrix):
        norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
        return (sparse.diags(1.0 / np.where(norms > 0, norms, 1.0)) @ matrix).tocsr()
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms > 0, norms, 1.0)


def _repr_with_tables(model: Recommender) -> str:
    """``Model(param=value, ...)`` of the non-default params, a table shown by its shape.

    scikit-learn's repr would print a whole item table passed as a hyperparameter.
    """
    defaults = inspect.signature(type(model)).parameters
    shown = []
    for name, value in model.get_params(deep=False).items():
        if isinstance(value, pd.DataFrame):
            shown.append(f"{name}=<DataFrame {value.shape[0]:,}x{value.shape[1]}>")
        elif value is not defaults[name].default and value != defaults[name].default:
            shown.append(f"{name}={value!r}")
    return f"{type(model).__name__}({', '.join(shown)})"
