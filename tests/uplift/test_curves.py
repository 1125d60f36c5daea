"""Uplift and Qini curves, AUUC, Qini coefficient and uplift at k: against a naive loop and by
hand; ties decided by the rule, never by row order; seeded bootstrap intervals; refusals."""

from __future__ import annotations

import numpy as np
import pytest

from retaillab.errors import DataError, ParameterError
from retaillab.uplift import (
    auuc,
    compare_scores,
    evaluate,
    qini,
    qini_curve,
    uplift_at,
    uplift_curve,
)


def _naive(y, w, order):
    """U(k) and Q(k), k = 0 .. n, by a loop over the top k in the given order."""
    up, qi = [0.0], [0.0]
    for k in range(1, len(order) + 1):
        top = order[:k]
        nt = sum(1 for i in top if w[i] == 1)
        nc = k - nt
        yt = sum(y[i] for i in top if w[i] == 1)
        yc = sum(y[i] for i in top if w[i] == 0)
        if nt and nc:
            up.append((yt / nt - yc / nc) * k)
            qi.append(yt - yc * nt / nc)
        else:
            up.append(0.0)
            qi.append(0.0)
    return np.array(up), np.array(qi)


def _trapezoid_minus_random(curve, n):
    x = np.arange(len(curve)) / n
    v = curve / n
    return float(np.sum(np.diff(x) * (v[1:] + v[:-1]) / 2) - v[-1] / 2)


@pytest.mark.parametrize("outcome", ["binary", "revenue"])
def test_curves_and_areas_match_a_naive_loop(outcome):
    rng = np.random.default_rng(0)
    n = 120
    w = rng.integers(0, 2, n)
    y = rng.integers(0, 2, n).astype(float) if outcome == "binary" else rng.gamma(1.0, 30, n)
    score = rng.normal(size=n)  # no ties
    up, qi = _naive(y, w, np.argsort(-score))
    assert np.allclose(uplift_curve(y, w, score)["uplift"], up)
    assert np.allclose(qini_curve(y, w, score)["qini"], qi)
    assert auuc(y, w, score) == pytest.approx(_trapezoid_minus_random(up, n))
    assert qini(y, w, score) == pytest.approx(_trapezoid_minus_random(qi, n))
    top = np.argsort(-score)[:12]
    expected = y[top][w[top] == 1].mean() - y[top][w[top] == 0].mean()
    assert uplift_at(y, w, score, 0.1) == pytest.approx(expected)


def test_a_hand_computed_example():
    # ranked: (w, y) = (1,1) (0,0) (1,1) (0,1) (1,0) (0,0)
    score = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4]
    w = [1, 0, 1, 0, 1, 0]
    y = [1, 0, 1, 1, 0, 0]
    curve = uplift_curve(y, w, score)
    # k=2: (1/1 - 0/1) * 2; k=3: (2/2 - 0/1) * 3; k=4: (2/2 - 1/2) * 4; k=5: (2/3 - 1/2) * 5;
    # k=6: (2/3 - 1/3) * 6; k=1 has no control customer: 0
    np.testing.assert_allclose(curve["uplift"], [0, 0, 2, 3, 2, 5 / 6, 2])
    np.testing.assert_allclose(curve["random"], np.arange(7) / 6 * 2)
    assert curve["treated"].tolist() == [0, 1, 1, 2, 2, 3, 3]
    # Q: k=2: 1 - 0; k=3: 2 - 0; k=4: 2 - 1 * 2/2; k=5: 2 - 1 * 3/2; k=6: 2 - 1 * 3/3
    np.testing.assert_allclose(qini_curve(y, w, score)["qini"], [0, 0, 1, 2, 1, 0.5, 1])
    # AUUC: (1/36)(0 + 1 + 2.5 + 2.5 + 17/12 + 17/12) - (2/6)/2 = 53/216 - 36/216
    assert auuc(y, w, score) == pytest.approx(17 / 216)
    # Qini: (1/36)(0 + 0.5 + 1.5 + 1.5 + 0.75 + 0.75) - (1/6)/2 = 5/36 - 3/36
    assert qini(y, w, score) == pytest.approx(1 / 18)
    assert uplift_at(y, w, score, 0.5) == pytest.approx(1.0)  # top 3: rates 2/2 and 0/1


def test_ties_are_shared_by_rule_not_by_row_order():
    score = np.array([3.0, 2.0, 2.0, 1.0])
    w = np.array([1, 0, 1, 0])
    y = np.array([1.0, 1.0, 0.0, 0.0])
    curve = uplift_curve(y, w, score)
    # points only at the ends of runs of ties: k = 0, 1, 3, 4
    assert curve["targeted"].tolist() == [0, 1, 3, 4]
    # k=3: treated 1/2, control 1/1: (0.5 - 1) * 3; k=4: (1/2 - 1/2) * 4
    np.testing.assert_allclose(curve["uplift"], [0, 0, -1.5, 0])
    # top 2 of 4: the first customer, then one place for the tied pair, 1/2 each:
    # treated (1 + 0 * 1/2) / 1.5 = 2/3, control (1 * 1/2) / (1/2) = 1
    assert uplift_at(y, w, score, 0.5) == pytest.approx(2 / 3 - 1)
    for flip in ([0, 2, 1, 3], [3, 2, 1, 0]):  # the same customers in other row orders
        assert uplift_at(y[flip], w[flip], score[flip], 0.5) == pytest.approx(-1 / 3)
        assert auuc(y[flip], w[flip], score[flip]) == pytest.approx(auuc(y, w, score))


def test_tied_curves_match_the_naive_loop_at_the_ends_of_runs():
    rng = np.random.default_rng(1)
    n = 200
    w, y = rng.integers(0, 2, n), rng.integers(0, 2, n).astype(float)
    score = rng.integers(0, 8, n).astype(float)  # eight runs of ties
    curve = uplift_curve(y, w, score)
    for order in (np.argsort(-score, kind="stable"), np.lexsort((rng.random(n), -score))):
        up, qi = _naive(y, w, order)  # any order within the runs agrees at their ends
        np.testing.assert_allclose(curve["uplift"], up[curve["targeted"]])
        np.testing.assert_allclose(qini_curve(y, w, score)["qini"], qi[curve["targeted"]])
    permuted = rng.permutation(n)
    table = evaluate(y, w, {"m": score}, n_resamples=0)
    again = evaluate(y[permuted], w[permuted], {"m": score[permuted]}, n_resamples=0)
    np.testing.assert_allclose(table["value"], again["value"])


def test_a_constant_score_is_random_targeting():
    rng = np.random.default_rng(2)
    w, y = rng.integers(0, 2, 300), rng.gamma(1.0, 10, 300)
    assert auuc(y, w, np.zeros(300)) == pytest.approx(0.0, abs=1e-12)
    assert qini(y, w, np.zeros(300)) == pytest.approx(0.0, abs=1e-12)
    overall = y[w == 1].mean() - y[w == 0].mean()
    assert uplift_at(y, w, np.zeros(300), 0.1) == pytest.approx(overall)


def test_the_true_uplift_ranks_better_than_chance_on_the_synthetic_campaign(pipelines):
    """Found (seed 0, 200 resamples): Qini coefficient of the true uplift 0.0075
    [0.0047, 0.0101], of a random score 0.0004 [-0.0021, 0.0027]; AUUC 0.0158 [0.0099,
    0.0211] against 0.0009 [-0.0041, 0.0056]."""
    found = pipelines[0]
    y, w = found.converted, found.treatment
    oracle = found.campaign.truth["uplift"].to_numpy()
    chance = np.random.default_rng(0).random(w.size)
    assert qini(y, w, oracle) > qini(y, w, chance) + 0.003
    paired = compare_scores(y, w, oracle, chance, names=("oracle", "random"),
                            n_resamples=200, seed=1).set_index("metric")
    assert paired.loc["qini", "ci_low"] > 0 and paired.loc["auuc", "ci_low"] > 0
    assert paired.loc["qini", "share_a_better"] > 0.975
    table = evaluate(y, w, {"oracle": oracle}, n_resamples=200).set_index("metric")
    assert table.loc["qini", "ci_low"] < table.loc["qini", "value"] < table.loc[
        "qini", "ci_high"]


@pytest.mark.slow
def test_in_sample_scores_flatter_themselves_and_out_of_fold_scores_do_not(pipelines):
    """The T-learner's in-sample AUUC beats the true uplift's (it learnt the campaign's
    noise); out of fold it does not. Found (seed 0): in-sample 0.0255, out-of-fold 0.0050,
    true uplift 0.0158."""
    from retaillab.uplift import TwoModel, out_of_fold

    found = pipelines[0]
    y, w = found.converted, found.treatment
    oracle = auuc(y, w, found.campaign.truth["uplift"].to_numpy())
    assert auuc(y, w, found.two_uplift) > oracle
    honest = out_of_fold(TwoModel(), found.features, w, y, seed=0)
    assert auuc(y, w, honest) < oracle


def test_intervals_are_determined_by_the_seed():
    rng = np.random.default_rng(3)
    w, y, s = rng.integers(0, 2, 400), rng.integers(0, 2, 400), rng.normal(size=400)
    first = evaluate(y, w, {"m": s, "r": -s}, n_resamples=100, seed=5)
    assert first.equals(evaluate(y, w, {"m": s, "r": -s}, n_resamples=100, seed=5))
    other = evaluate(y, w, {"m": s, "r": -s}, n_resamples=100, seed=6)
    assert not np.allclose(first["ci_low"], other["ci_low"])
    np.testing.assert_allclose(first["value"], other["value"])
    assert first["metric"].tolist()[:4] == ["auuc", "qini", "uplift_at_10", "uplift_at_20"]


def test_a_bootstrap_replicate_is_the_metric_of_a_resample_of_customers():
    rng = np.random.default_rng(4)
    n = 250
    w, y, s = rng.integers(0, 2, n), rng.gamma(1.0, 5, n), rng.normal(size=n)
    one = evaluate(y, w, {"m": s}, n_resamples=1, seed=9).set_index("metric")
    # the documented resample: default_rng(seed).integers(0, n, size=(1, n), dtype=int32)
    idx = np.random.default_rng(9).integers(0, n, size=(1, n), dtype=np.int32)[0]
    assert one.loc["auuc", "ci_low"] == pytest.approx(auuc(y[idx], w[idx], s[idx]))
    assert one.loc["qini", "ci_high"] == pytest.approx(qini(y[idx], w[idx], s[idx]))
    assert one.loc["uplift_at_20", "ci_low"] == pytest.approx(
        uplift_at(y[idx], w[idx], s[idx], 0.2))


def test_compare_scores_is_the_paired_difference():
    rng = np.random.default_rng(5)
    w, y = rng.integers(0, 2, 300), rng.integers(0, 2, 300)
    a, b = rng.normal(size=300), rng.normal(size=300)
    table = compare_scores(y, w, a, b, names=("a", "b"), n_resamples=50).set_index("metric")
    assert table.loc["auuc", "a"] == pytest.approx(auuc(y, w, a))
    assert table.loc["auuc", "difference"] == pytest.approx(auuc(y, w, a) - auuc(y, w, b))
    same = compare_scores(y, w, a, a, n_resamples=50).set_index("metric")
    assert (same["ci_low"] == 0).all() and (same["ci_high"] == 0).all()  # paired: no noise


def test_bad_inputs_are_refused_with_one_clear_error():
    y, w, s = [1, 0, 1, 0], [1, 0, 1, 0], [0.4, 0.3, 0.2, 0.1]
    with pytest.raises(DataError, match="one arm only"):
        auuc(y, [1, 1, 1, 1], s)
    with pytest.raises(DataError, match="treatment must be 0/1"):
        qini(y, [1, 0, 2, 0], s)
    with pytest.raises(DataError, match="score must have 4 values"):
        auuc(y, w, s[:3])
    with pytest.raises(DataError, match="1 values of score are NaN"):
        auuc(y, w, [0.1, np.nan, 0.3, 0.2])
    with pytest.raises(DataError, match="y must be numbers; found text"):
        auuc(["a", "b", "c", "d"], w, s)
    with pytest.raises(ParameterError, match="q must be"):
        uplift_at(y, w, s, 0)
    with pytest.raises(ParameterError, match="q must be"):
        uplift_at(y, w, s, 1.5)
    with pytest.raises(ParameterError, match="level must be"):
        evaluate(y, w, {"m": s}, level=1.0)
    with pytest.raises(ParameterError, match="n_resamples must be"):
        evaluate(y, w, {"m": s}, n_resamples=-1)
    with pytest.raises(ParameterError, match="scores must be"):
        evaluate(y, w, {})
    with pytest.raises(ParameterError, match="names must be"):
        compare_scores(y, w, s, s, names=("m", "m"))
