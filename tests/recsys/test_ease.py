"""EASE against a naive numpy implementation of Steck (2019, eq. 8), and its optimality."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from retaillab.recsys.ease import EASE, ease_weights


@pytest.fixture(scope="module")
def train() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    users, items = np.nonzero(rng.random((120, 40)) < 0.15)
    return pd.DataFrame({"user": users, "item": [f"i{j}" for j in items]})


def naive_ease(x: np.ndarray, l2: float) -> np.ndarray:
    g = x.T @ x + l2 * np.eye(x.shape[1])
    p = np.linalg.inv(g)
    b = -p / np.diag(p)[None, :]
    np.fill_diagonal(b, 0.0)
    return b


@pytest.mark.parametrize("l2", [1.0, 50.0, 500.0])
def test_weights_and_scores_match_the_naive_formula(train, l2):
    model = EASE(l2=l2).fit(train)
    x = model.seen_.toarray().astype(np.float64)
    expected = naive_ease(x, l2)
    assert model.weights_.dtype == np.float32
    np.testing.assert_allclose(model.weights_, expected, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(ease_weights(model.seen_, l2, np.float64), expected,
                               rtol=1e-10, atol=1e-13)
    users = np.arange(len(model.users_))
    np.testing.assert_allclose(model._scores(users), x @ expected, rtol=1e-4, atol=1e-6)


def test_zero_diagonal_and_stationary_off_diagonal(train):
    """diag(B) = 0, and the penalised loss has zero gradient everywhere off the diagonal.

    The gradient of ||X - XB||^2 + l2 ||B||^2 is 2 (-X^T X (I - B) + l2 B); the constraint
    diag(B) = 0 only adds Lagrange multipliers on the diagonal.
    """
    l2 = 20.0
    seen = EASE().fit(train).seen_
    b = ease_weights(seen, l2, np.float64)
    x = seen.toarray().astype(np.float64)
    assert (np.diag(b) == 0).all()
    gradient = -x.T @ x @ (np.eye(len(b)) - b) + l2 * b
    off = ~np.eye(len(b), dtype=bool)
    assert np.abs(gradient[off]).max() < 1e-9
    assert np.abs(np.diag(gradient)).max() > 1e-3  # the constraint binds


def test_weights_are_c_contiguous(train):
    # a Fortran-ordered B would be copied on every scoring batch
    assert EASE().fit(train).weights_.flags["C_CONTIGUOUS"]
