"""Repeated k-fold done right, and many models compared fairly.

The corrected resampled t (Nadeau & Bengio 2003) and Holm's step-down correction against hand
computations; the BCa bootstrap's coverage; known-null simulations (pure numpy, fixed seeds)
where no model is better, so every "significant" verdict is a false positive.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from retaillab import metrics
from retaillab.errors import DataError, ParameterError

VALUES = [0.80, 0.82, 0.79, 0.81, 0.83]


def test_corrected_interval_by_hand():
    mean = (0.80 + 0.82 + 0.79 + 0.81 + 0.83) / 5  # 0.81
    variance = ((-0.01) ** 2 + 0.01 ** 2 + (-0.02) ** 2 + 0 + 0.02 ** 2) / 4  # 0.00025
    factor = 1 / 5 + 200 / 800  # 0.45 instead of the naive 1/5
    half = stats.t.ppf(0.975, 4) * math.sqrt(factor * variance)
    assert mean == pytest.approx(0.81) and variance == pytest.approx(0.00025)
    assert metrics.corrected_interval(VALUES, n_train=800, n_test=200) == pytest.approx(
        (mean, mean - half, mean + half))
    # the naive interval is narrower by sqrt(0.2 / 0.45)
    naive = metrics.confidence_interval(VALUES)
    assert (naive[2] - naive[1]) / (2 * half) == pytest.approx(math.sqrt(0.2 / 0.45))
    # per-fold sizes are averaged; another level takes its own quantile
    assert metrics.corrected_interval(VALUES, [790, 810] * 2 + [800], [200] * 5) \
        == pytest.approx((mean, mean - half, mean + half))
    half_90 = stats.t.ppf(0.95, 4) * math.sqrt(factor * variance)
    assert metrics.corrected_interval(pd.Series(VALUES), 800, 200, level=0.9) == \
        pytest.approx((mean, mean - half_90, mean + half_90))


def test_corrected_paired_test_by_hand():
    a = [0.80, 0.82, 0.79, 0.81, 0.83]
    b = [0.78, 0.81, 0.79, 0.79, 0.80]  # differences 0.02, 0.01, 0, 0.02, 0.03
    mean = 0.08 / 5
    variance = (0.004 ** 2 + 0.006 ** 2 + 0.016 ** 2 + 0.004 ** 2 + 0.014 ** 2) / 4
    t = mean / math.sqrt((1 / 5 + 200 / 800) * variance)
    got = metrics.corrected_paired_test(a, b, n_train=800, n_test=200)
    assert got == pytest.approx({"n": 5, "mean_a": 0.81, "mean_b": 0.794,
                                 "mean_difference": mean, "t_statistic": t,
                                 "t_pvalue": 2 * stats.t.sf(t, 4)})
    # with n_test/n_train -> 0 it is scipy's paired t
    tiny = metrics.corrected_paired_test(a, b, n_train=1e12, n_test=1)
    assert tiny["t_pvalue"] == pytest.approx(stats.ttest_rel(a, b).pvalue)
    same = metrics.corrected_paired_test(a, a, 800, 200)
    assert same["t_statistic"] == 0 and same["t_pvalue"] == 1


def test_holm_by_hand():
    # sorted 0.01, 0.03, 0.04 -> 3 * 0.01, 2 * 0.03, max(0.06, 1 * 0.04)
    assert metrics.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    # sorted 0.001, 0.01, 0.02, 0.3 -> 0.004, 0.03, 0.04, 0.3; never above 1
    assert metrics.holm([0.3, 0.02, 0.001, 0.01]) == pytest.approx([0.3, 0.04, 0.004, 0.03])
    assert metrics.holm([0.6, 0.5]) == pytest.approx([1.0, 1.0])
    assert metrics.holm([0.04]) == pytest.approx([0.04])
    with pytest.raises(DataError, match=r"\[0, 1\]"):
        metrics.holm([0.5, 1.5])


def test_compare_with_best_over_folds_by_hand():
    folds = pd.MultiIndex.from_product([[0], range(5)], names=["repeat", "fold"])
    values = {"a": pd.Series(VALUES, folds),
              "b": pd.Series([0.78, 0.81, 0.79, 0.79, 0.80], folds),
              "c": pd.Series([0.70, 0.71, 0.69, 0.72, 0.70], folds)}
    found = metrics.compare_with_best(values, n_train=800, n_test=200, family="best")
    assert found.best == "a" and list(found.table.index) == ["b", "c"]
    p = {m: metrics.corrected_paired_test(values["a"], values[m], 800, 200)["t_pvalue"]
         for m in ("b", "c")}
    assert p["c"] < p["b"]
    assert found.table["p_value"].to_dict() == pytest.approx(p)
    assert found.table.loc["c", "p_holm"] == pytest.approx(2 * p["c"])
    assert found.table.loc["b", "p_holm"] == pytest.approx(max(2 * p["c"], p["b"]))
    # every pair: three tests, a-b, a-c and b-c, with the b-c one counted too
    p_bc = metrics.corrected_paired_test(values["b"], values["c"], 800, 200)["t_pvalue"]
    pairs = metrics.compare_with_best(values, n_train=800, n_test=200)
    adjusted = metrics.holm([p["b"], p["c"], p_bc])
    assert pairs.n_tests == 3 and pairs.family == "pairs"
    assert pairs.table["p_holm"].tolist() == pytest.approx(list(adjusted[:2]))
    # lower is better: c is best, and b is not called better than anything
    lower = metrics.compare_with_best(values, n_train=800, n_test=200, lower_is_better=True)
    assert lower.best == "c" and lower.table["mean_difference"].lt(0).all()


def test_compare_with_best_pairs_users_by_label_and_refuses_repeats():
    a = pd.Series([0.5, 0.4, 0.3, 0.2, 0.9], index=list("pqrst"))
    b = (a - [0.10, 0.12, 0.08, 0.11, 0.09]).iloc[::-1]
    found = metrics.compare_with_best({"a": a, "b": b})
    assert found.table.loc["b", "mean_difference"] == pytest.approx(0.1)
    assert found.table.loc["b", "p_value"] == pytest.approx(stats.ttest_rel(
        a, b.reindex(a.index)).pvalue)
    assert found.significant and found.better_than == ["b"]
    with pytest.raises(DataError, match="repeat unit labels"):
        metrics.compare_with_best({"a": pd.concat([a, a]), "b": b})
    with pytest.raises(ParameterError, match="family"):
        metrics.compare_with_best({"a": a, "b": b}, family="all")
    with pytest.raises(ParameterError, match="n_test"):
        metrics.compare_with_best({"a": a, "b": b}, n_train=800)


def test_bca_bootstrap_covers_a_skewed_mean():
    """Exponential per-user values (mean 1), 60 users: the BCa interval holds the true mean
    about 95% of the time (200 seeds; within [0.90, 0.99])."""
    hits = 0
    for seed in range(200):
        x = np.random.default_rng(seed).exponential(1.0, 60)
        mean, low, high = metrics.bootstrap_interval(x, n_resamples=1000, seed=seed)
        assert mean == pytest.approx(x.mean()) and low < mean < high
        hits += low <= 1.0 <= high
    assert 0.90 <= hits / 200 <= 0.99
    assert metrics.bootstrap_interval([0.2, 0.2, 0.2]) == (0.2, 0.2, 0.2)
    x = np.random.default_rng(1).random(300)
    assert metrics.bootstrap_interval(x, seed=3) == metrics.bootstrap_interval(x, seed=3)


def fold_values(rng: np.random.Generator, n_folds: int, ratio: float) -> np.ndarray:
    """Fold differences of two equally good models under the overlap model: a component
    shared by all folds (variance ``ratio``, the training sets' overlap) plus one per fold
    (variance 1)."""
    return rng.normal(0, math.sqrt(ratio)) + rng.normal(0, 1, n_folds)


def test_known_null_overlapping_folds_keeps_five_percent():
    """5-fold x 2 (n_test/n_train = 1/4): over 400 seeds the corrected paired test calls equal
    models different in [2%, 8%] of them; the naive t over folds in far more."""
    corrected = naive = 0
    for seed in range(400):
        d = fold_values(np.random.default_rng(seed), 10, 0.25)
        corrected += metrics.corrected_paired_test(d, np.zeros(10), 800, 200)["t_pvalue"] < 0.05
        naive += metrics.paired_test(d, np.zeros(10))["t_pvalue"] < 0.05
    assert 0.02 <= corrected / 400 <= 0.08
    assert naive / 400 > 0.15


def lstsq_folds(seed: int, n: int = 100, k: int = 5, r: int = 4) -> np.ndarray:
    """Repeated k-fold of two equally good regressions: y depends equally on two disjoint sets
    of three features, model A sees one set, model B the other. Per fold: A's test MSE minus
    B's. Folds of one data set share training rows, as in churn.compare."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6))
    y = x @ np.full(6, 0.5) + rng.normal(size=n)
    out = []
    for _ in range(r):
        order = rng.permutation(n)
        for test in np.array_split(order, k):
            train = np.setdiff1d(order, test)
            mse = []
            for cols in (slice(0, 3), slice(3, 6)):
                coef = np.linalg.lstsq(x[train][:, cols], y[train], rcond=None)[0]
                mse.append(np.mean((y[test] - x[test][:, cols] @ coef) ** 2))
            out.append(mse[0] - mse[1])
    return np.array(out)


def test_known_null_real_repeated_kfold():
    """Real overlapping folds (100 rows, 5-fold x 4): the corrected test's false-positive rate
    stays at or below 5% (within [1%, 8%]; it is somewhat conservative here), the naive t's is
    several times the nominal rate."""
    corrected = naive = 0
    for seed in range(400):
        d = lstsq_folds(seed)
        corrected += metrics.corrected_paired_test(d, np.zeros(20), 80, 20)["t_pvalue"] < 0.05
        naive += metrics.paired_test(d, np.zeros(20))["t_pvalue"] < 0.05
    assert 0.01 <= corrected / 400 <= 0.08
    assert naive / 400 > 0.2


def users_null(seed: int, n_models: int, n_users: int = 200) -> dict[str, pd.Series]:
    """Per-user values of equally good models: a user effect all models share plus noise."""
    rng = np.random.default_rng(seed)
    user = rng.normal(0.3, 0.1, n_users)
    return {f"m{i}": pd.Series(user + rng.normal(0, 0.05, n_users)) for i in range(n_models)}


@pytest.mark.parametrize("n_models", [2, 5])
def test_known_null_holm_verdict_keeps_five_percent(n_models):
    """Equally good models, 400 seeds: the best (by mean) is called significantly better than
    some other model in [2%, 8%] of them."""
    wins = sum(bool(metrics.compare_with_best(users_null(seed, n_models)).better_than)
               for seed in range(400))
    assert 0.02 <= wins / 400 <= 0.08


def test_holm_over_the_best_alone_is_optimistic_with_many_models():
    """The best is picked from the same data: counting only its m - 1 tests calls one of five
    equal models better more often than counting every pair does (about 9% against 3.5%)."""
    rates = {family: sum(bool(metrics.compare_with_best(
        users_null(seed, 5), family=family).better_than) for seed in range(400)) / 400
        for family in ("best", "pairs")}
    assert rates["best"] > rates["pairs"] and rates["best"] > 0.06
