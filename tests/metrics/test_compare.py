"""Confidence intervals and paired tests against scipy and a hand case; alignment; bad input."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from retaillab import metrics
from retaillab.errors import DataError, ParameterError


def test_interval_by_hand():
    mean, low, high = metrics.confidence_interval([1.0, 2.0, 3.0])  # s = 1, n = 3
    half = 4.302652729749464 / math.sqrt(3)  # t_{0.975, 2}
    assert (mean, low, high) == pytest.approx((2.0, 2.0 - half, 2.0 + half))


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("level", [0.9, 0.95, 0.99])
def test_interval_matches_scipy(seed, level):
    x = np.random.default_rng(seed).normal(0.3, 0.1, 50)
    low, high = stats.t.interval(level, len(x) - 1, loc=x.mean(), scale=stats.sem(x))
    assert metrics.confidence_interval(pd.Series(x), level) == pytest.approx(
        (x.mean(), low, high))


def test_interval_of_constant_values_is_a_point():
    assert metrics.confidence_interval([0.5, 0.5, 0.5]) == (0.5, 0.5, 0.5)


@pytest.mark.parametrize("seed", range(4))
def test_paired_test_matches_scipy(seed):
    rng = np.random.default_rng(seed)
    a = rng.random(80)
    b = a - rng.normal(0.02, 0.05, 80)
    got = metrics.paired_test(a, b)
    t, w = stats.ttest_rel(a, b), stats.wilcoxon(a, b)
    assert got == pytest.approx({
        "n": 80, "mean_a": a.mean(), "mean_b": b.mean(), "mean_difference": (a - b).mean(),
        "t_statistic": t.statistic, "t_pvalue": t.pvalue,
        "wilcoxon_statistic": w.statistic, "wilcoxon_pvalue": w.pvalue})


def test_paired_series_are_matched_by_label():
    a = pd.Series([0.1, 0.5, 0.9, 0.3], index=["u1", "u2", "u3", "u4"])
    b = pd.Series([0.2, 0.4, 0.7, 0.35], index=["u1", "u2", "u3", "u4"])
    shuffled = b.iloc[[2, 0, 3, 1]]
    assert metrics.paired_test(a, shuffled) == pytest.approx(metrics.paired_test(a, b))
    with pytest.raises(DataError, match="different units"):
        metrics.paired_test(a, b.rename(index={"u4": "u9"}))


def test_identical_and_constant_differences():
    same = metrics.paired_test([0.1, 0.2, 0.3], [0.1, 0.2, 0.3])
    assert same["t_pvalue"] == 1.0 and same["wilcoxon_pvalue"] == 1.0
    shifted = metrics.paired_test([1.5, 2.5, 3.5, 4.5], [1.0, 2.0, 3.0, 4.0])
    assert shifted["t_statistic"] == math.inf and shifted["t_pvalue"] == 0.0
    assert shifted["mean_difference"] == pytest.approx(0.5)


def test_bad_inputs():
    with pytest.raises(DataError, match="at least 2 values"):
        metrics.confidence_interval([1.0])
    with pytest.raises(DataError, match="missing"):
        metrics.confidence_interval([1.0, np.nan, 2.0])
    for level in (0, 1, 95, "0.95", True):
        with pytest.raises(ParameterError, match="level"):
            metrics.confidence_interval([1.0, 2.0], level)
    with pytest.raises(DataError, match="a has 3 values but b has 2"):
        metrics.paired_test([1, 2, 3], [1, 2])
