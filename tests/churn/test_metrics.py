"""Lift and capture against naive references (ties included); the rest against hand formulas."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from retaillab.churn import capture_at, fold_metrics, lift_at
from retaillab.errors import DataError, ParameterError


def naive_churners_in_top(y, score, k):
    """Average, over every order of the customers that sorts the scores descending, of the
    churners among the first k: the expectation under random tie-breaking, by brute force."""
    counts = []
    for order in itertools.permutations(range(len(y))):
        ranked = [score[i] for i in order]
        if all(a >= b for a, b in itertools.pairwise(ranked)):
            counts.append(sum(y[i] for i in order[:k]))
    return sum(counts) / len(counts)


def naive_lift(y, score, q):
    k = math.ceil(q * len(y))
    return (naive_churners_in_top(y, score, k) / k) / (sum(y) / len(y))


def naive_capture(y, score, q):
    return naive_churners_in_top(y, score, math.ceil(q * len(y))) / sum(y)


def test_lift_and_capture_by_hand():
    # 10 customers, 3 churners; the top 10% is the single best score: a churner
    y = [1, 0, 0, 1, 0, 0, 0, 0, 0, 1]
    score = [0.9, 0.8, 0.1, 0.7, 0.2, 0.3, 0.4, 0.5, 0.6, 0.05]
    assert lift_at(y, score, 0.1) == pytest.approx((1 / 1) / (3 / 10))   # 3.33
    assert capture_at(y, score, 0.1) == pytest.approx(1 / 3)
    # top 20% = scores 0.9 and 0.8: one churner of two
    assert lift_at(y, score, 0.2) == pytest.approx((1 / 2) / (3 / 10))
    assert capture_at(y, score, 0.2) == pytest.approx(1 / 3)
    # top 30% adds 0.7, a churner
    assert capture_at(y, score, 0.3) == pytest.approx(2 / 3)
    assert capture_at(y, score, 1.0) == 1.0 and lift_at(y, score, 1.0) == pytest.approx(1.0)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("q", [0.1, 0.2, 0.35, 0.5])
def test_lift_and_capture_match_the_brute_force_reference_with_ties(seed, q):
    rng = np.random.default_rng(seed)
    y = rng.random(7) < 0.4
    y[0] = True  # at least one churner
    score = rng.choice([0.1, 0.5, 0.9], 7)  # many ties
    assert lift_at(y, score, q) == pytest.approx(naive_lift(list(y), list(score), q))
    assert capture_at(y, score, q) == pytest.approx(naive_capture(list(y), list(score), q))


def test_a_constant_score_has_lift_one_and_captures_its_share():
    y = np.array([1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0])
    constant = np.full(12, 0.3)
    assert lift_at(y, constant, 0.25) == pytest.approx(1.0)
    assert capture_at(y, constant, 0.25) == pytest.approx(3 / 12)


def test_fold_metrics_against_hand_formulas():
    y = np.array([True, False, True, False, False])
    p = np.array([0.8, 0.3, 0.4, 0.5, 0.1])
    found = fold_metrics(y, p)
    # ROC AUC: share of (churner, non-churner) pairs ordered right: 0.8 beats all 3,
    # 0.4 beats 0.3 and 0.1 but not 0.5 -> 5 of 6
    assert found["roc_auc"] == pytest.approx(5 / 6)
    # average precision: churners at ranks 1 and 3 -> (1/1 + 2/3) / 2
    assert found["pr_auc"] == pytest.approx((1 + 2 / 3) / 2)
    assert found["brier"] == pytest.approx(np.mean((p - y) ** 2))
    expected = -np.mean(np.where(y, np.log(p), np.log(1 - p)))
    assert found["log_loss"] == pytest.approx(expected)
    # top 10% and 20% of 5 customers are one customer: the 0.8 churner
    assert found["lift_at_10"] == pytest.approx(1 / (2 / 5))
    assert found["capture_at_20"] == pytest.approx(1 / 2)


def test_bad_input_is_named():
    with pytest.raises(ParameterError, match="q must be"):
        lift_at([1, 0], [0.2, 0.1], 0)
    with pytest.raises(ParameterError, match="q must be"):
        capture_at([1, 0], [0.2, 0.1], 1.5)
    with pytest.raises(DataError, match="no churner"):
        lift_at([0, 0], [0.2, 0.1], 0.5)
    with pytest.raises(DataError, match="NaN"):
        capture_at([1, 0], [np.nan, 0.1], 0.5)
    with pytest.raises(DataError, match="0/1"):
        lift_at([2, 0], [0.3, 0.1], 0.5)
    with pytest.raises(DataError, match="one class"):
        fold_metrics([True, True], [0.3, 0.1])
