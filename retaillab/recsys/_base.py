"""The recommender interface: what every model shares, so each model writes only what differs.

A model subclasses :class:`Recommender` and implements two methods:

- ``_fit(train, users, items)``: learn from the training interactions; ``users``/``items`` are
  the rows' integer codes (positions in ``users_``/``items_``).
- ``_scores(users)``: a dense ``len(users) x n_items`` float array of scores for a batch of
  user codes, higher is better, computed in one vectorised pass.

Rating models also implement ``_predict(users, items)`` (codes, ``-1`` for unknown) and set
``predicts_ratings = True``. The base class handles ids, seen-item exclusion, top-k selection,
batching and the cold-start fallback: a user unseen in training gets the most popular items,
flagged ``fallback=True`` in the result (as Surprise flags ``was_impossible``), never a crash.

Ids passed in are matched in the type the model learned (:mod:`retaillab.data.ids`): the
integer 28 matches a learned text id ``"28"`` (never ``"000028"``), the text ``"28"`` a learned
integer 28. Unknown ids are counted in one :class:`~retaillab.errors.UnknownIdsWarning` per
call; when no id passed is known and they are of another type than the learned ids, that is a
:class:`~retaillab.errors.DataError`, not a batch of cold starts.

Every list is ordered by the one rule of :mod:`retaillab.recsys.ranking`: higher score, then
higher training popularity, then smaller item id. So the fallback list is exactly the
most-popular list, and equal scores never make the lists depend on row order or batch size.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from retaillab.data.ids import Lookup, codes_of, report_unknown
from retaillab.data.schema import COLUMNS as C
from retaillab.errors import DataError, NotFittedError, ParameterError, failing_rows
from retaillab.recsys.ranking import tie_order, top_k

RECOMMENDATION_COLUMNS = [C.user, C.item, "score", "rank", "fallback"]
PREDICTION_COLUMNS = [C.user, C.item, "prediction", "fallback"]


class Recommender(BaseEstimator):
    """Base class of every recommender: ``fit(train)``, ``recommend(users, k)``.

    Fitted attributes: ``users_`` and ``items_`` (``pd.Index`` of raw ids), ``seen_`` (CSR
    user x item matrix of training interactions), ``popularity_`` (users per item) and
    ``tie_order_`` (item codes in tie-break order, see :mod:`retaillab.recsys.ranking`).
    """

    predicts_ratings: ClassVar[bool] = False
    needs_ratings: ClassVar[bool] = False
    batch_size: ClassVar[int] = 512

    # -- to implement ---------------------------------------------------------------------
    def _fit(self, train: pd.DataFrame, users: np.ndarray, items: np.ndarray) -> None:
        raise NotImplementedError

    def _scores(self, users: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _predict(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    # -- shared -------------------------------------------------------------------------
    @classmethod
    def cannot_fit(cls, params: dict, columns: list, items: pd.DataFrame | None) -> str | None:
        """Why this model cannot be fitted on interactions with ``columns`` (and the item
        table ``items``, possibly None) with hyperparameters ``params``, or None when it can:
        what :func:`retaillab.recsys.compare.compare` checks before skipping a model."""
        if cls.needs_ratings and C.rating not in columns:
            return "it needs ratings and the interactions have no 'rating' column"
        return None

    def fit(self, train: pd.DataFrame) -> Recommender:
        """Learn from interactions (``user``, ``item``, and ``rating`` for rating models).

        Repeated (user, item) rows count once for top-N models (the user interacted with the
        item); a rating model refuses them with a :class:`DataError`, since it cannot know
        which rating holds.
        """
        from scipy import sparse

        _check_interactions(train, type(self).__name__, self.needs_ratings)
        if self.needs_ratings:
            _check_no_repeated_ratings(train, type(self).__name__)
        self.users_ = pd.Index(pd.unique(train[C.user]), name=C.user)
        self.items_ = pd.Index(pd.unique(train[C.item]), name=C.item)
        users = self.users_.get_indexer(train[C.user])
        items = self.items_.get_indexer(train[C.item])
        seen = sparse.csr_matrix((np.ones(len(users), dtype=np.float32), (users, items)),
                                 shape=(len(self.users_), len(self.items_)))
        seen.data[:] = 1.0  # a repeated (user, item) counts once
        self.seen_ = seen
        self.popularity_ = np.asarray(seen.sum(axis=0)).ravel()
        self._fit(train, users, items)
        # after _fit: a model may add items (content-based cold items)
        self.tie_order_ = tie_order(self.popularity_, self.items_)
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "seen_"):
            raise NotFittedError(self)

    def recommend(self, users: Iterable, k: int = 10, exclude_seen: bool = True) -> pd.DataFrame:
        """Top-``k`` items for each user: a DataFrame user, item, score, rank, fallback.

        Users unseen in training get the most popular items (``fallback=True``), counted in
        one :class:`~retaillab.errors.UnknownIdsWarning`; ids are matched in the type the
        model learned (28 matches ``"28"``, never ``"000028"``), and ids of which none is known
        and whose type differs from the learned ids' raise a :class:`DataError`. With
        ``exclude_seen`` a user's training items are never recommended. A user may get fewer
        than ``k`` rows when fewer unseen items exist. Equal scores are ordered by higher
        training popularity, then smaller item id (:mod:`retaillab.recsys.ranking`).
        """
        self._check_fitted()
        if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
            raise ParameterError("k", "a positive integer", k)
        wanted = pd.Index(list(users)).drop_duplicates()
        codes = codes_of(self.users_, wanted)
        report_unknown(type(self).__name__, [Lookup.of("user", self.users_, wanted, codes)],
                       "they get the most popular items (fallback=True)")
        parts = []
        known = np.flatnonzero(codes >= 0)
        for start in range(0, len(known), self.batch_size):
            rows = known[start:start + self.batch_size]
            scores = np.asarray(self._scores(codes[rows]), dtype=np.float64)
            if exclude_seen:
                seen = self.seen_[codes[rows]]
                scores[seen.nonzero()] = -np.inf
            parts.append(self._top_k(scores, wanted[rows], k, fallback=False))
        cold = np.flatnonzero(codes < 0)
        if len(cold):  # one most-popular list, the same for every cold user
            pop = self.popularity_.astype(np.float64)[None, :]
            parts.append(self._top_k(pop, wanted[cold], k, fallback=True))
        if not parts:
            return pd.DataFrame(columns=RECOMMENDATION_COLUMNS)
        out = pd.concat(parts, ignore_index=True)
        order = pd.Index(wanted).get_indexer(out[C.user])
        return out.iloc[np.lexsort((out["rank"].to_numpy(), order))].reset_index(drop=True)

    def predict(self, pairs: pd.DataFrame) -> pd.DataFrame:
        """Predicted ratings for (user, item) rows, aligned with ``pairs``.

        Pairs with a user or item unseen in training get the training mean rating, flagged
        ``fallback=True`` and counted in one :class:`~retaillab.errors.UnknownIdsWarning`. Ids
        are matched in the type the model learned, as in :meth:`recommend`.
        """
        if not self.predicts_ratings:
            raise ParameterError(f"{type(self).__name__}.predict", "a rating model "
                                 "(this one only ranks; use recommend)", "called")
        self._check_fitted()
        _check_interactions(pairs, "pairs", needs_ratings=False)
        users, user_lookup = _row_codes(self.users_, pairs[C.user], "user")
        items, item_lookup = _row_codes(self.items_, pairs[C.item], "item")
        report_unknown(type(self).__name__, [user_lookup, item_lookup],
                       f"{int(((users < 0) | (items < 0)).sum()):,} of {len(pairs):,} pairs get "
                       "the training mean rating (fallback=True)")
        prediction = np.asarray(self._predict(users, items), dtype=np.float64)
        fallback = (users < 0) | (items < 0)
        return pd.DataFrame({C.user: pairs[C.user].to_numpy(), C.item: pairs[C.item].to_numpy(),
                             "prediction": prediction, "fallback": fallback},
                            index=pairs.index)

    def _top_k(self, scores: np.ndarray, users: pd.Index, k: int,
               fallback: bool) -> pd.DataFrame:
        """Rows of the ``k`` best finite scores per row of ``scores``, by the tie-break rule;
        a single row of scores is shared by every user in ``users``."""
        columns, top = top_k(scores, k, self.tie_order_)
        if len(scores) != len(users):
            columns = np.broadcast_to(columns, (len(users), columns.shape[1]))
            top = np.broadcast_to(top, columns.shape)
        keep = np.isfinite(top)
        rank = np.broadcast_to(np.arange(1, top.shape[1] + 1), top.shape)
        return pd.DataFrame({
            C.user: np.repeat(np.asarray(users), top.shape[1]).reshape(top.shape)[keep],
            C.item: np.asarray(self.items_)[columns[keep]],
            "score": top[keep],
            "rank": rank[keep],
            "fallback": np.full(int(keep.sum()), fallback),
        })


def _row_codes(learned: pd.Index, column: pd.Series, what: str) -> tuple[np.ndarray, Lookup]:
    """Each row's position in ``learned`` (``-1``: unknown) and the lookup of its distinct ids."""
    distinct = pd.Index(pd.unique(column))
    found = codes_of(learned, distinct)
    return found[distinct.get_indexer(column)], Lookup.of(what, learned, distinct, found)


def _check_interactions(frame: object, source: str, needs_ratings: bool) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise ParameterError(source, "a DataFrame with columns user, item", type(frame).__name__)
    need = [C.user, C.item] + ([C.rating] if needs_ratings else [])
    missing = [c for c in need if c not in frame.columns]
    if missing:
        raise DataError(f"no column {missing[0]!r}; it has {', '.join(map(str, frame.columns))}",
                        source=source, column=missing[0],
                        fix="pass the canonical interactions table (see retaillab.data.schema)")
    if frame.empty:
        raise DataError("the table has no rows", source=source, fix="pass a non-empty table")


def _check_no_repeated_ratings(train: pd.DataFrame, source: str) -> None:
    """A rating model cannot tell which of two ratings of one item by one user to believe."""
    repeated = train.duplicated([C.user, C.item], keep=False).to_numpy()
    if repeated.any():
        raise DataError(
            f"{int(repeated.sum()):,} rows rate an item the same user already rated",
            source=source, column=C.item, n_bad=int(repeated.sum()),
            rows=failing_rows(train, repeated, [C.user, C.item, C.rating, C.timestamp]),
            fix="keep one rating per pair, e.g. train.sort_values('timestamp')"
                ".drop_duplicates(['user', 'item'], keep='last')")
