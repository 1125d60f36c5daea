"""How the Surprise wrappers fit and score: the shared base, and one vectorised scorer per family.

Surprise estimates one (user, item) pair per Python call. Top-N needs every item for every user,
so each family here re-computes Surprise's ``estimate`` from the fitted algorithm's own learned
arrays for a whole batch at once. The public classes (:mod:`retaillab.recsys.surprise_family`)
only say which Surprise algorithm to build and with which options.

Ids: ``users_``/``items_`` codes (base class) are mapped to Surprise's inner ids through
``user_inner_``/``item_inner_``, looked up in the fitted trainset's own raw-to-inner maps.
"""

from __future__ import annotations

from collections.abc import Iterator
from numbers import Integral
from typing import ClassVar

import numpy as np
import pandas as pd
from scipy import sparse

from retaillab.data.schema import COLUMNS as C
from retaillab.errors import DataError, ParameterError, failing_rows
from retaillab.recsys._base import Recommender

#: Entries handled at once by the k-NN and Slope One scorers: 2 MB arrays stay in cache.
MAX_ENTRIES = 1 << 18


class SurpriseRecommender(Recommender):
    """A Surprise algorithm fitted on the training ratings, scored in vectorised passes.

    Subclasses implement ``_algorithm()`` (the configured, unfitted Surprise object), ``_learn``
    (copy what scoring needs from the fitted ``algo_``), ``_scores``, and ``_pairs``: the
    unclipped estimate of known (user, item) pairs, ``NaN`` where Surprise raises
    ``PredictionImpossible``. Models with an answer for unknown ids override ``_estimate``.
    """

    predicts_ratings: ClassVar[bool] = True
    needs_ratings: ClassVar[bool] = True

    def _algorithm(self):
        raise NotImplementedError

    def _learn(self, users: np.ndarray, items: np.ndarray, ratings: np.ndarray) -> None:
        raise NotImplementedError

    def _pairs(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _fit(self, train: pd.DataFrame, users: np.ndarray, items: np.ndarray) -> None:
        import surprise

        ratings = _checked_ratings(train, type(self).__name__)
        seed = getattr(self, "random_state", 0)
        if isinstance(seed, bool) or not isinstance(seed, Integral) or seed < 0:
            raise ParameterError("random_state", "an integer >= 0", seed)
        self.rating_scale_ = (float(ratings.min()), float(ratings.max()))
        reader = surprise.Reader(rating_scale=self.rating_scale_)
        trainset = surprise.Dataset.load_from_df(train[[C.user, C.item, C.rating]],
                                                 reader).build_full_trainset()
        self.algo_ = self._algorithm().fit(trainset)
        self.user_inner_ = _inner_ids(self.users_, trainset.to_inner_uid)
        self.item_inner_ = _inner_ids(self.items_, trainset.to_inner_iid)
        self.global_mean_ = float(trainset.global_mean)
        self._learn(users, items, ratings)

    def _predict(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """``algo_.predict(u, i).est``: the estimate, the global mean where Surprise finds the
        estimate impossible (unknown user or item: the cold-start fallback), clipped to the
        training rating scale."""
        est = self._estimate(users, items)
        est = np.where(np.isnan(est), self.global_mean_, est)
        return np.clip(est, *self.rating_scale_)

    def _estimate(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """The unclipped estimate of pairs of codes (``-1``: unknown), NaN where impossible:
        here, wherever the user or the item is unknown."""
        out = np.full(len(users), np.nan)
        known = (users >= 0) & (items >= 0)
        if known.any():
            out[known] = self._pairs(users[known], items[known])
        return out


def _checked_ratings(train: pd.DataFrame, source: str) -> np.ndarray:
    """The ratings as floats, checked to be finite numbers."""
    rating = train[C.rating]
    if pd.api.types.is_bool_dtype(rating) or not pd.api.types.is_numeric_dtype(rating):
        raise DataError(f"holds {rating.dtype} values, not numeric ratings", source=source,
                        column=C.rating, fix="convert it first, e.g. with pd.to_numeric")
    values = rating.to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(values)
    if bad.any():
        raise DataError(f"{int(bad.sum())} rating(s) are missing or infinite", source=source,
                        column=C.rating, rows=failing_rows(train, bad, [C.user, C.item, C.rating]),
                        n_bad=int(bad.sum()), fix="drop or fill those rows before fitting")
    return values


def _inner_ids(raw: pd.Index, to_inner) -> np.ndarray:
    """Surprise's inner id of each raw id, in the order of ``raw`` (our codes)."""
    return np.fromiter((to_inner(r) for r in raw.tolist()), dtype=np.int64, count=len(raw))


def padded(a: np.ndarray) -> np.ndarray:
    """``a`` with a row of zeros appended, so that code ``-1`` (unknown) indexes zeros."""
    return np.concatenate([a, np.zeros((1, *a.shape[1:]), dtype=a.dtype)])


def lists(keys: np.ndarray, n_keys: int, members: np.ndarray, values: np.ndarray
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows grouped by key, in row order: ``(ptr, members, values)``, CSR style.

    With rows in trainset order this is Surprise's ``ur``/``ir``: the neighbours of key ``y``
    are ``members[ptr[y]:ptr[y + 1]]`` in the order Surprise iterates them.
    """
    order = np.argsort(keys, kind="stable")
    ptr = np.concatenate([[0], np.cumsum(np.bincount(keys, minlength=n_keys))])
    return ptr, members[order], values[order]


def expand(starts: np.ndarray, sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Group ``g`` covers entries ``starts[g] .. starts[g] + sizes[g] - 1``: each entry's group
    and position, group by group and in order within a group."""
    group = np.repeat(np.arange(len(sizes)), sizes)
    first = np.cumsum(sizes) - sizes
    return group, np.repeat(starts, sizes) + np.arange(len(group)) - first[group]


def chunks(sizes: np.ndarray, max_entries: int = MAX_ENTRIES) -> Iterator[tuple[int, int]]:
    """Consecutive ``[lo, hi)`` group ranges of at most ``max_entries`` entries (or one group)."""
    ends = np.cumsum(sizes)
    lo = 0
    while lo < len(sizes):
        base = ends[lo - 1] if lo else 0
        hi = max(int(np.searchsorted(ends, base + max_entries, side="right")), lo + 1)
        yield lo, hi
        lo = hi


# --- k-NN ----------------------------------------------------------------------------------


def knn_sums(x: np.ndarray, y: np.ndarray, sim: np.ndarray, yr: tuple, k: int
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each group ``g`` = (x[g], y[g]): sums over Surprise's k nearest neighbours.

    The candidates of ``g`` are the neighbours listed for ``y[g]`` in ``yr = (ptr, nbr, val)``.
    As in Surprise's k-NN ``estimate``, the ``k`` with the largest ``sim[x, nbr]`` are kept
    (ties go to the earlier candidate, as :func:`heapq.nlargest` does), then those with positive
    similarity count. Returns ``sum(sim * val)``, ``sum(sim)`` and their number, per group.
    Candidates are expanded for ``MAX_ENTRIES`` at a time; the k nearest are found with one
    stable sort of the crowded groups (more than ``k`` positive candidates).
    """
    ptr, nbr, val = yr
    num, den = np.zeros(len(x)), np.zeros(len(x))
    cnt = np.zeros(len(x), dtype=np.int64)
    sizes = ptr[y + 1] - ptr[y]
    for lo, hi in chunks(sizes):
        group, entry = expand(ptr[y[lo:hi]], sizes[lo:hi])
        s = sim[x[lo:hi][group], nbr[entry]]
        positive = s > 0  # non-positive neighbours rank last and never count
        group, entry, s = group[positive], entry[positive], s[positive]
        keep = _k_largest(group, s, k, hi - lo)
        group, entry, s = group[keep], entry[keep], s[keep]
        num[lo:hi] = np.bincount(group, s * val[entry], minlength=hi - lo)
        den[lo:hi] = np.bincount(group, s, minlength=hi - lo)
        cnt[lo:hi] = np.bincount(group, minlength=hi - lo)
    return num, den, cnt


def _k_largest(group: np.ndarray, s: np.ndarray, k: int, n_groups: int) -> np.ndarray:
    """Mask of the entries among the ``k`` largest ``s`` of their group (earlier wins ties)."""
    keep = np.ones(len(group), dtype=bool)
    crowded = np.flatnonzero(np.bincount(group, minlength=n_groups)[group] > k)
    if len(crowded):
        order = crowded[np.lexsort((-s[crowded], group[crowded]))]  # stable: ties keep order
        g = group[order]
        first = np.flatnonzero(np.concatenate([[True], g[1:] != g[:-1]]))
        rank = np.arange(len(g)) - np.repeat(first, np.diff(np.append(first, len(g))))
        keep[order[rank >= k]] = False
    return keep


def dense_k_largest(w: np.ndarray, k: int) -> np.ndarray:
    """Weights of :func:`knn_sums` when every row shares its candidates (the columns, in
    Surprise's order): ``w`` (similarities with non-positive ones set to 0) where among the
    row's ``k`` largest, else 0. Works in place: ``w`` is overwritten and returned."""
    m = w.shape[1]
    if m <= k:
        return w
    thr = np.partition(w, m - k, axis=1)[:, m - k, None]  # the k-th largest
    thr = np.maximum(thr, np.finfo(np.float64).smallest_subnormal)  # never select zeros
    chosen = w >= thr
    over = np.flatnonzero(np.count_nonzero(chosen, axis=1) > k)  # ties at the threshold
    if len(over):
        part, at = w[over], thr[over]
        above, tied = part > at, part == at
        room = k - np.count_nonzero(above, axis=1)[:, None]
        chosen[over] = above | (tied & (np.cumsum(tied, axis=1) <= room))
    return np.multiply(w, chosen, out=w)


def grid_sums(s: np.ndarray, values: sparse.csr_matrix, k: int
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`knn_sums` for every (row of ``s``, column of ``values``) at once, without a sort.

    ``s`` holds the similarity of each batch member to every neighbour; ``values`` is the
    neighbour x column matrix of the values to average. Each batch row's neighbours are ranked
    once (ties by id); stacking their rows of ``values`` in rank order and converting to CSC
    (a counting sort) lists each column's neighbours in rank order, so the first ``k`` of
    each (column, batch row) are the nearest. Exact when Surprise lists each column's
    neighbours by increasing id, which the caller checks.
    """
    n_batch, n_nbr = s.shape
    n_col = values.shape[1]
    order = np.argsort(-s, axis=1, kind="stable")
    n_pos = np.count_nonzero(s > 0, axis=1)
    nbr = order[np.arange(n_nbr) < n_pos[:, None]]  # positive neighbours, by (row, rank)
    row = np.repeat(np.arange(n_batch), n_pos)
    block = values[nbr].tocsc()
    rank_row = block.indices
    col = np.repeat(np.arange(n_col), np.diff(block.indptr))
    b = row[rank_row]
    g = col * n_batch + b  # non-decreasing: columns, then batch rows, then rank
    first = np.flatnonzero(np.concatenate([[True], g[1:] != g[:-1]]))
    pos = np.arange(len(g)) - np.repeat(first, np.diff(np.append(first, len(g))))
    keep = pos < k
    b, col, rank_row = b[keep], col[keep], rank_row[keep]
    sim = s[b, nbr[rank_row]]
    cell = b * n_col + col
    size = n_batch * n_col
    shape = (n_batch, n_col)
    return (np.bincount(cell, sim * block.data[keep], size).reshape(shape),
            np.bincount(cell, sim, size).reshape(shape),
            np.bincount(cell, minlength=size).reshape(shape))


def knn_estimate(num: np.ndarray, den: np.ndarray, cnt: np.ndarray, base: np.ndarray | None,
                 min_k: int) -> np.ndarray:
    """``base + num / den``; with fewer than ``min_k`` (or no) neighbours, ``base`` alone, or
    NaN (impossible) when there is no base (KNNBasic)."""
    ok = cnt >= max(min_k, 1)
    ratio = np.divide(num, den, out=np.zeros_like(num), where=ok)
    return np.where(ok, ratio, np.nan) if base is None else base + ratio


def count_matrix(users: np.ndarray, items: np.ndarray, shape: tuple[int, int]
                 ) -> sparse.csr_matrix:
    """How many training rows each (user, item) has: Surprise keeps repeated rows."""
    return sparse.csr_matrix((np.ones(len(users)), (users, items)), shape=shape)


# --- the families --------------------------------------------------------------------------


class FactorScores(SurpriseRecommender):
    """``offset + b_u + b_i + p_u . q_i``: SVD, SVD++ and NMF, and BaselineOnly with no factors.

    As Surprise: an unknown user's ``b_u`` and ``p_u`` (an unknown item's ``b_i`` and ``q_i``)
    count as zero; the unbiased models (``offset`` 0, no biases) find unknown ids impossible.
    """

    def _factors(self, users: np.ndarray, items: np.ndarray, ratings: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
        """User and item factors in Surprise's inner order."""
        algo = self.algo_
        return algo.pu, algo.qi

    def _learn(self, users: np.ndarray, items: np.ndarray, ratings: np.ndarray) -> None:
        algo, u, i = self.algo_, self.user_inner_, self.item_inner_
        self.biased_ = bool(getattr(self, "biased", True))
        pu, qi = self._factors(users, items, ratings)
        self.offset_ = self.global_mean_ if self.biased_ else 0.0
        self.bu_ = np.asarray(algo.bu)[u] if self.biased_ else np.zeros(len(u))
        self.bi_ = np.asarray(algo.bi)[i] if self.biased_ else np.zeros(len(i))
        self.pu_, self.qi_ = np.asarray(pu)[u], np.asarray(qi)[i]

    def _scores(self, users: np.ndarray) -> np.ndarray:
        return (self.offset_ + self.bu_[users, None] + self.bi_[None, :]
                + self.pu_[users] @ self.qi_.T)

    def _estimate(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        dot = np.einsum("ij,ij->i", padded(self.pu_)[users], padded(self.qi_)[items])
        est = self.offset_ + padded(self.bu_)[users] + padded(self.bi_)[items] + dot
        if not self.biased_:
            est[(users < 0) | (items < 0)] = np.nan
        return est


class KNNScores(SurpriseRecommender):
    """Surprise's k-NN estimates, ``base + sum(sim * (r - a_nbr)) / sum(sim)`` over the k
    nearest neighbours with positive similarity; ``centre`` picks KNNBasic (no base: too few
    neighbours is impossible), KNNWithMeans (``a`` = means) or KNNBaseline (``a`` = baselines).

    With ``user_based`` the neighbours of (u, i) are the users who rated ``i``, else the items
    ``u`` rated (Surprise's ``x``/``y`` switch). Everything stays in inner ids, so ``algo_.sim``
    is used as it is, not copied.
    """

    centre: ClassVar[str] = "none"

    def _learn(self, users: np.ndarray, items: np.ndarray, ratings: np.ndarray) -> None:
        algo = self.algo_
        u, i = self.user_inner_[users], self.item_inner_[items]
        x, y = (u, i) if self.user_based else (i, u)
        a, c = np.zeros(algo.n_x), np.zeros(algo.n_y)
        if self.centre == "means":
            a = np.asarray(algo.means, dtype=np.float64)
        elif self.centre == "baseline":
            a, c = self.global_mean_ + np.asarray(algo.bx), np.asarray(algo.by)
            self.bu_ = np.asarray(algo.bu)[self.user_inner_]
            self.bi_ = np.asarray(algo.bi)[self.item_inner_]
        ptr, nbr, r = lists(y, algo.n_y, x, ratings)
        self.yr_ = (ptr, nbr, r - a[nbr])  # Surprise's yr, ratings minus neighbour's centre
        self.sim_rows_ = self.values_ = None
        if not self.user_based:  # Surprise fills both halves; top-N reads it by rows
            sim = algo.sim
            self.sim_rows_ = sim if np.array_equal(sim, sim.T) else np.ascontiguousarray(sim.T)
        else:
            within = np.repeat(np.arange(algo.n_y), np.diff(ptr))
            within = within[1:] == within[:-1]
            if np.all(nbr[1:][within] >= nbr[:-1][within]):  # lists in id order: grid_sums
                xptr, col, val = lists(x, algo.n_x, y, ratings - a[x])
                self.values_ = sparse.csr_matrix((val, col, xptr), shape=(algo.n_x, algo.n_y))
        self.centre_x_, self.centre_y_ = a, c

    def _combine(self, x, y, num, den, cnt) -> np.ndarray:
        num = num - self.centre_y_[y] * den
        base = None if self.centre == "none" else self.centre_x_[x] + self.centre_y_[y]
        return knn_estimate(num, den, cnt, base, self.min_k)

    def _pairs(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        u, i = self.user_inner_[users], self.item_inner_[items]
        return self._pairs_inner(*((u, i) if self.user_based else (i, u)))

    def _estimate(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        est = super()._estimate(users, items)
        if self.centre == "baseline":  # Surprise: the baseline of the known part
            part = np.isnan(est)
            est[part] = (self.global_mean_ + padded(self.bu_)[users[part]]
                         + padded(self.bi_)[items[part]])
        return est

    def _scores(self, users: np.ndarray) -> np.ndarray:
        if not self.user_based:  # every item shares the user's rated items: dense rows
            est = np.vstack([self._item_based_row(self.user_inner_[u]) for u in users])
        elif self.values_ is not None:  # one counting sort per batch
            step = max(1, MAX_ENTRIES // self.values_.nnz)
            est = np.vstack([self._user_based_rows(self.user_inner_[users[lo:lo + step]])
                             for lo in range(0, len(users), step)])
        else:  # lists not in id order: one stable sort per batch
            n_items = len(self.items_)
            x = np.repeat(self.user_inner_[users], n_items)
            y = np.tile(self.item_inner_, len(users))
            est = self._pairs_inner(x, y).reshape(len(users), n_items)
        return np.where(np.isnan(est), self.global_mean_, est)

    def _pairs_inner(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return self._combine(x, y, *knn_sums(x, y, self.algo_.sim, self.yr_, self.k))

    def _user_based_rows(self, x: np.ndarray) -> np.ndarray:
        num, den, cnt = grid_sums(self.algo_.sim[x], self.values_, self.k)
        y = self.item_inner_
        shape = (len(x), len(y))
        xs, ys = np.repeat(x, len(y)), np.tile(y, len(x))
        return self._combine(xs, ys, num[:, y].ravel(), den[:, y].ravel(),
                             cnt[:, y].ravel()).reshape(shape)

    def _item_based_row(self, y: int) -> np.ndarray:
        """Estimates of inner user ``y`` for every item (our order), item-based.

        Candidates (the user's items) are rows, items columns: ``sim[cand]`` reads whole rows
        (the matrix is symmetric, checked at fit). Only the items with more than ``k`` positive
        candidates need a partial sort.
        """
        ptr, nbr, val = self.yr_
        cand, v = nbr[ptr[y]:ptr[y + 1]], val[ptr[y]:ptr[y + 1]]
        n_x = len(self.centre_x_)
        cols = max(1, MAX_ENTRIES // max(len(cand), 1))
        num, den, cnt = np.zeros(n_x), np.zeros(n_x), np.zeros(n_x, dtype=np.int64)
        for lo in range(0, n_x, cols):
            w = self.sim_rows_[cand, lo:lo + cols]  # w[j, x] = sim[x, cand[j]], a copy
            np.maximum(w, 0.0, out=w)  # non-positive neighbours never count
            part = slice(lo, lo + w.shape[1])
            cnt[part] = np.count_nonzero(w, axis=0)
            crowded = np.flatnonzero(cnt[part] > self.k)
            if 2 * len(crowded) > w.shape[1]:  # mostly crowded: select in every column
                w = dense_k_largest(np.ascontiguousarray(w.T), self.k).T
                cnt[part] = np.count_nonzero(w, axis=0)
            elif len(crowded):
                top = dense_k_largest(np.ascontiguousarray(w[:, crowded].T), self.k)
                w[:, crowded] = top.T
                cnt[part][crowded] = np.count_nonzero(top, axis=1)
            num[part], den[part] = v @ w, w.sum(axis=0)
        x = np.arange(n_x)
        return self._combine(x, np.full(n_x, y), num, den, cnt)[self.item_inner_]


class SlopeOneScores(SurpriseRecommender):
    """``mean_u + mean(dev[i, j] for j rated by u with freq[i, j] > 0)``, from ``algo_``'s
    ``dev`` and ``freq`` as two products of the user's rating counts with dense matrices."""

    def _learn(self, users: np.ndarray, items: np.ndarray, ratings: np.ndarray) -> None:
        algo, i = self.algo_, self.item_inner_
        support = algo.freq.T[np.ix_(i, i)] > 0  # transposed: [j, i] holds (i, j)
        self.dev_ = algo.dev.T[np.ix_(i, i)]  # a copy
        self.dev_[~support] = 0.0  # Surprise leaves NaN where no user rated both
        self.support_ = support.astype(np.float32)
        self.user_mean_ = np.asarray(algo.user_mean, dtype=np.float64)[self.user_inner_]
        self.counts_ = count_matrix(users, items, (len(self.users_), len(self.items_)))
        self.rated_ = lists(users, len(self.users_), items, items)[:2]

    def _scores(self, users: np.ndarray) -> np.ndarray:
        counts = self.counts_[users]
        num = np.asarray(counts @ self.dev_)
        n = np.asarray(counts.astype(np.float32) @ self.support_, dtype=np.float64)
        return self.user_mean_[users, None] + np.divide(num, n, out=np.zeros_like(num),
                                                         where=n > 0)

    def _pairs(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        ptr, rated = self.rated_
        num, n = np.zeros(len(users)), np.zeros(len(users))
        sizes = ptr[users + 1] - ptr[users]
        for lo, hi in chunks(sizes):
            group, entry = expand(ptr[users[lo:hi]], sizes[lo:hi])
            j, i = rated[entry], items[lo:hi][group]
            num[lo:hi] = np.bincount(group, self.dev_[j, i], minlength=hi - lo)
            n[lo:hi] = np.bincount(group, self.support_[j, i], minlength=hi - lo)
        return self.user_mean_[users] + np.divide(num, n, out=np.zeros_like(num), where=n > 0)


class CoClusteringScores(SurpriseRecommender):
    """``avg(C_ui) + (mean_u - avg(C_u)) + (mean_i - avg(C_i))`` from ``algo_``'s clusters."""

    def _learn(self, users: np.ndarray, items: np.ndarray, ratings: np.ndarray) -> None:
        algo = self.algo_
        self.cluster_u_ = np.asarray(algo.cltr_u)[self.user_inner_]
        self.cluster_i_ = np.asarray(algo.cltr_i)[self.item_inner_]
        self.user_part_ = (np.asarray(algo.user_mean)[self.user_inner_]
                           - np.asarray(algo.avg_cltr_u)[self.cluster_u_])
        self.item_part_ = (np.asarray(algo.item_mean)[self.item_inner_]
                           - np.asarray(algo.avg_cltr_i)[self.cluster_i_])

    def _scores(self, users: np.ndarray) -> np.ndarray:
        co = self.algo_.avg_cocltr[np.ix_(self.cluster_u_[users], self.cluster_i_)]
        return co + self.user_part_[users, None] + self.item_part_[None, :]

    def _pairs(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        co = self.algo_.avg_cocltr[self.cluster_u_[users], self.cluster_i_[items]]
        return co + self.user_part_[users] + self.item_part_[items]


class NormalScores(SurpriseRecommender):
    """Draws from N(mu, sigma) fitted by Surprise; each user's row of draws comes from its own
    generator seeded by ``(random_state, user code)``, so scores do not depend on batching and
    ``predict`` returns the same draw as ``recommend`` scored."""

    def _learn(self, users: np.ndarray, items: np.ndarray, ratings: np.ndarray) -> None:
        self.sigma_ = float(self.algo_.sigma)

    def _standard_normal(self, users: np.ndarray) -> np.ndarray:
        n_items = len(self.items_)
        return np.array([np.random.default_rng([self.random_state, int(u)])
                         .standard_normal(n_items) for u in users]).reshape(len(users), n_items)

    def _scores(self, users: np.ndarray) -> np.ndarray:
        return self.global_mean_ + self.sigma_ * self._standard_normal(users)

    def _pairs(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        unique, row = np.unique(users, return_inverse=True)
        return self._scores(unique)[row, items]
