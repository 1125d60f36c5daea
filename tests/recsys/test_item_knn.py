"""ItemKNN against a naive dense shrunk cosine, and its top-k pruning."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from retaillab.recsys.item_knn import ItemKNN, shrunk_cosine


def random_interactions(n_users: int = 60, n_items: int = 25, density: float = 0.2,
                        seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    users, items = np.nonzero(rng.random((n_users, n_items)) < density)
    return pd.DataFrame({"user": users + 100, "item": items + 1000})


def naive_similarity(x: np.ndarray, shrinkage: float) -> np.ndarray:
    """s_ij = x_i.x_j / (|x_i| |x_j| + shrinkage), zero diagonal, by explicit loops."""
    n = x.shape[1]
    sim = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            if i != j:
                dot = x[:, i] @ x[:, j]
                sim[i, j] = dot / (np.linalg.norm(x[:, i]) * np.linalg.norm(x[:, j]) + shrinkage)
    return sim


@pytest.mark.parametrize("shrinkage", [0.0, 10.0])
def test_unpruned_similarity_and_scores_match_naive(shrinkage):
    train = random_interactions()
    model = ItemKNN(k=1000, shrinkage=shrinkage).fit(train)
    x = model.seen_.toarray().astype(np.float64)
    expected = naive_similarity(x, shrinkage)
    np.testing.assert_allclose(model.similarity_.toarray(), expected, rtol=1e-12, atol=1e-15)
    users = np.arange(len(model.users_))
    np.testing.assert_allclose(model._scores(users), x @ expected, rtol=1e-12)


def test_each_item_keeps_its_k_most_similar():
    train = random_interactions(n_users=80, n_items=30, density=0.3, seed=3)
    k = 4
    model = ItemKNN(k=k, shrinkage=2.0).fit(train)
    expected = naive_similarity(model.seen_.toarray().astype(np.float64), 2.0)
    pruned = model.similarity_
    assert np.diff(pruned.indptr).max() <= k
    for i in range(pruned.shape[0]):
        row = np.sort(pruned.getrow(i).data)[::-1]
        best = np.sort(expected[i][expected[i] > 0])[::-1][:k]
        np.testing.assert_allclose(row, best, rtol=1e-12)


def test_ties_keep_lower_item_codes_and_blocks_do_not_matter():
    # items 1, 2 and 3 are each bought with item 0 by the same single user: equal similarity
    x = sparse.csr_matrix(np.array([[1, 1, 1, 1], [1, 0, 0, 0]], dtype=float))
    pruned = shrunk_cosine(x, shrinkage=0.0, k=2)
    assert pruned.getrow(0).indices.tolist() == [1, 2]
    big = random_interactions(n_users=50, n_items=40, seed=5)
    matrix = ItemKNN().fit(big).seen_
    whole = shrunk_cosine(matrix, 10.0, 5)
    blocked = shrunk_cosine(matrix, 10.0, 5, block_cells=70)  # one or two rows per block
    assert (whole != blocked).nnz == 0


def test_shrinkage_favours_well_supported_pairs():
    # a and b share 1 of 1 users; c and d share 20 of 20: equal cosine (1.0), unequal support
    rows = [("u0", "a"), ("u0", "b")] + [(f"v{i}", it) for i in range(20) for it in "cd"]
    train = pd.DataFrame(rows, columns=["user", "item"])
    sim = ItemKNN(shrinkage=10.0).fit(train)
    codes = sim.items_.get_indexer(["a", "b", "c", "d"])
    s = sim.similarity_.toarray()
    assert s[codes[0], codes[1]] == pytest.approx(1 / (1 + 10))
    assert s[codes[2], codes[3]] == pytest.approx(20 / (20 + 10))
