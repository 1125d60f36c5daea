"""Bought together: item pairs that share baskets more often than chance would have them.

A basket is a user's whole history (``basket="user"``, the default) or one order
(``basket="order"``, for transactions given as interactions with an ``order`` column). With
``B`` the binary basket x item matrix of ``N`` baskets, one sparse product ``C = B^T B`` counts
the baskets holding both ``i`` and ``j``, and the association-rule measures of Agrawal, Imieliński
& Swami (1993) and Brin et al. (1997) follow for every pair at once::

    support(i, j)      = C_ij / N
    confidence(i -> j) = C_ij / C_ii                 (the share of i's baskets that hold j)
    lift(i -> j)       = C_ij N / (C_ii C_jj)        (confidence over j's base rate; 1 = chance)

Three uses:

- :meth:`BoughtTogether.similar_items`: "customers who bought X also bought", ranked by the
  chosen metric;
- :meth:`BoughtTogether.rules`: association rules mined by mlxtend's ``fpgrowth`` (Han, Pei
  & Yin 2000) and ``association_rules``, with readable item ids and names, for rules longer than
  pairs;
- as a recommender: a user's score for ``j`` is the sum of ``metric(i -> j)`` over the user's
  training items ``i``, over the pairs that pass ``min_support`` and ``min_confidence``.

Example::

    tx = synthetic.transactions.rename(columns={"customer": "user"})
    model = BoughtTogether(basket="order", items=synthetic.items).fit(tx)
    model.similar_items(42, k=5)
    model.rules(min_support=0.01, min_confidence=0.2)
"""

from __future__ import annotations

from numbers import Real

import numpy as np
import pandas as pd
from scipy import sparse

from retaillab.data.ids import check_same_type, codes_of, describe
from retaillab.data.schema import COLUMNS as C
from retaillab.errors import DataError, ParameterError, check_choice
from retaillab.recsys._base import Recommender
from retaillab.recsys.content import _repr_with_tables
from retaillab.recsys.ranking import ranked

BASKETS: tuple[str, ...] = ("user", "order")
METRICS: tuple[str, ...] = ("lift", "confidence")
#: Columns of an item table that may hold a readable name, first match wins.
NAME_COLUMNS: tuple[str, ...] = ("title", "name")


class BoughtTogether(Recommender):
    """Co-occurrence (support, confidence, lift) of items in baskets.

    Parameters
    ----------
    basket
        ``"user"`` (default): a basket is a user's training history; ``"order"``: a basket is
        one value of the training table's ``order`` column.
    min_support
        Pairs in a smaller share of baskets are ignored (default 0.001). Lift rewards rare
        items (a pair seen once among rare items has a huge lift), so to recommend by lift
        raise it: on MovieLens user baskets NDCG@10 by lift is 0.001 at the default and 0.27
        at 0.05, while confidence reaches 0.28 at the default.
    metric
        ``"confidence"`` (default: "customers who bought X also bought", robust to rare items)
        or ``"lift"`` (how much more often than chance): what ranks similar items and what a
        recommendation sums.
    min_confidence
        Rules ``i -> j`` with lower confidence are ignored when recommending (default 0.0).
    items
        An item table with a ``title`` or ``name`` column, to show names next to ids in
        :meth:`similar_items` and :meth:`rules` (default ``None``: ids only).

    Fitted attributes: ``cooccurrence_`` (CSR ``n_items x n_items`` basket counts of the pairs
    that pass ``min_support``, zero diagonal), ``item_counts_`` (baskets per item),
    ``n_baskets_``, ``baskets_`` (the binary basket x item CSR matrix) and ``weights_`` (CSR,
    ``metric(i -> j)`` of the pairs that also pass ``min_confidence``).
    """

    def __init__(self, *, basket: str = "user", min_support: float = 0.001,
                 metric: str = "confidence", min_confidence: float = 0.0,
                 items: pd.DataFrame | None = None) -> None:
        self.basket = basket
        self.min_support = min_support
        self.metric = metric
        self.min_confidence = min_confidence
        self.items = items

    def __repr__(self, N_CHAR_MAX: int = 700) -> str:
        return _repr_with_tables(self)

    def _fit(self, train: pd.DataFrame, users: np.ndarray, items: np.ndarray) -> None:
        if isinstance(self.items, pd.DataFrame) and C.item in self.items.columns:
            check_same_type(train[C.item], self.items[C.item], key=C.item, left_name="train",
                            right_name="items")
        check_choice("BoughtTogether basket", self.basket, BASKETS)
        check_choice("BoughtTogether metric", self.metric, METRICS)
        _check_share("BoughtTogether min_support", self.min_support)
        _check_share("BoughtTogether min_confidence", self.min_confidence)
        if self.basket == "order":
            if C.order not in train.columns:
                raise DataError("basket='order' needs an order id column", source="train",
                                column=C.order, fix="add the 'order' column of the "
                                "transactions, or use basket='user'")
            baskets = pd.factorize(train[C.order])[0]
            if (baskets < 0).any():
                raise DataError("missing order ids", source="train", column=C.order,
                                fix="drop or fill the rows without an order")
        else:
            baskets = users
        n_baskets = int(baskets.max()) + 1
        matrix = sparse.csr_matrix((np.ones(len(items)), (baskets, items)),
                                   shape=(n_baskets, len(self.items_)))
        matrix.data[:] = 1.0
        self.baskets_ = matrix
        self.n_baskets_ = n_baskets
        self.item_counts_ = np.asarray(matrix.sum(axis=0)).ravel()
        counts = (matrix.T @ matrix).tocsr()
        rows = _row_of_entries(counts)
        self.cooccurrence_ = _keep_entries(counts, (rows != counts.indices) & (
            counts.data / n_baskets >= self.min_support))
        self.weights_ = self._metric_matrix()

    def _metric_matrix(self) -> sparse.csr_matrix:
        pairs = self.cooccurrence_
        rows, cols = _row_of_entries(pairs), pairs.indices
        confidence = pairs.data / self.item_counts_[rows]
        values = confidence if self.metric == "confidence" else (
            pairs.data * self.n_baskets_ / (self.item_counts_[rows] * self.item_counts_[cols]))
        weights = sparse.csr_matrix((values, cols, pairs.indptr), shape=pairs.shape)
        return _keep_entries(weights, confidence >= self.min_confidence)

    def _scores(self, users: np.ndarray) -> np.ndarray:
        return (self.seen_[users] @ self.weights_).toarray()

    def similar_items(self, item: object, k: int = 10) -> pd.DataFrame:
        """Items most often in the same baskets as ``item``: "who bought X also bought".

        Returns up to ``k`` rows (fewer when fewer pairs pass ``min_support``), best first by
        ``metric``, equal values by the rule of :mod:`retaillab.recsys.ranking` (more training
        users, then smaller id): item, [name], count (baskets with both), support,
        confidence (of ``item -> row item``), lift.
        """
        self._check_fitted()
        if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
            raise ParameterError("k", "a positive integer", k)
        code = codes_of(self.items_, pd.Index([item]))[0]  # 28 matches "28", not "000028"
        if code < 0:
            raise ParameterError("item", "an item of the training data (the model learned "
                                 f"item ids as {describe(self.items_)})", item)
        row = self.cooccurrence_.getrow(code)
        others, count = row.indices, row.data
        n, base = self.n_baskets_, self.item_counts_[code]
        table = pd.DataFrame({
            C.item: self.items_[others], "count": count.astype(np.int64),
            "support": count / n, "confidence": count / base,
            "lift": count * n / (base * self.item_counts_[others])})
        best = ranked(table[self.metric], self.popularity_[others], self.items_[others])
        table = table.iloc[best[:k]].reset_index(drop=True)
        names = self._names()
        if names is not None:
            table.insert(1, "name", table[C.item].map(names).to_numpy())
        return table

    def rules(self, min_support: float | None = None, min_confidence: float = 0.0,
              max_len: int = 2) -> pd.DataFrame:
        """Association rules of the training baskets, mined by mlxtend's FP-growth.

        Parameters
        ----------
        min_support
            Minimum share of baskets holding a rule's items (default: the model's
            ``min_support``). Low values on large data make many itemsets.
        min_confidence
            Minimum confidence of a rule (default 0.0).
        max_len
            Largest itemset mined (default 2: one item implies one item).

        Returns
        -------
        DataFrame
            antecedents, consequents (tuples of item ids), antecedent_names and
            consequent_names when ``items`` has a title/name column, support, confidence and
            lift, sorted by lift then confidence then support, best first (then by the
            itemsets' ids).
        """
        from mlxtend.frequent_patterns import association_rules, fpgrowth

        self._check_fitted()
        min_support = self.min_support if min_support is None else min_support
        _check_share("min_support", min_support)
        _check_share("min_confidence", min_confidence)
        if not isinstance(max_len, (int, np.integer)) or isinstance(max_len, bool) or \
                max_len < 2:
            raise ParameterError("max_len", "an integer >= 2", max_len)
        columns = ["antecedents", "consequents", "support", "confidence", "lift"]
        frequent = np.flatnonzero(self.item_counts_ / self.n_baskets_ >= min_support)
        onehot = pd.DataFrame(self.baskets_[:, frequent].toarray().astype(bool),
                              columns=self.items_[frequent])
        itemsets = fpgrowth(onehot, min_support=min_support, use_colnames=True,
                            max_len=max_len)
        if itemsets.empty or itemsets["itemsets"].map(len).max() < 2:
            rules = pd.DataFrame(columns=columns)
        else:
            rules = association_rules(itemsets, num_itemsets=self.n_baskets_,
                                      metric="confidence", min_threshold=min_confidence)
            rules = rules[columns].copy()
            for side in ("antecedents", "consequents"):
                rules[side] = rules[side].map(lambda s: tuple(sorted(s)))
            # equal lift and confidence: higher support, then the itemsets in id order, so
            # the table never depends on the order FP-growth found them in
            rules = rules.sort_values(
                ["lift", "confidence", "support", "antecedents", "consequents"],
                ascending=[False, False, False, True, True], kind="stable")
        names = self._names()
        if names is not None:
            for side, label in (("antecedents", "antecedent_names"),
                                ("consequents", "consequent_names")):
                rules.insert(len(rules.columns) - 3, label, rules[side].map(
                    lambda ids: tuple(names.get(i) for i in ids)))
        return rules.reset_index(drop=True)

    def _names(self) -> pd.Series | None:
        """Item id -> readable name, from ``items``, or None."""
        if self.items is None:
            return None
        column = next((c for c in NAME_COLUMNS if c in self.items.columns), None)
        if column is None or C.item not in self.items.columns:
            return None
        return self.items.drop_duplicates(C.item).set_index(C.item)[column]


def _row_of_entries(matrix: sparse.csr_matrix) -> np.ndarray:
    """Row index of each stored entry of a CSR matrix."""
    return np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))


def _keep_entries(matrix: sparse.csr_matrix, keep: np.ndarray) -> sparse.csr_matrix:
    """The CSR matrix with only the stored entries where ``keep``, with no re-sorting."""
    per_row = np.bincount(_row_of_entries(matrix)[keep], minlength=matrix.shape[0])
    indptr = np.concatenate([[0], np.cumsum(per_row)])
    return sparse.csr_matrix((matrix.data[keep], matrix.indices[keep], indptr),
                             shape=matrix.shape)


def _check_share(name: str, value: object) -> None:
    if not isinstance(value, Real) or isinstance(value, bool) or not 0 <= value <= 1:
        raise ParameterError(name, "a number in [0, 1]", value)

