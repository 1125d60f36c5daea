"""BG/NBD and MBG/NBD: published CDNOW estimates, lifetimes' optimum, naive likelihoods,
recovery of known parameters, predictions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from retaillab import clv


def sig3(value: float) -> float:
    return float(f"{value:.3g}")


def naive_bg_loglik(params, x, tx, big_t, modified=False):
    """FHL (2005) eq. (6) (MBG: Batislam et al. 2007 eq. 4), one customer at a time."""
    r, alpha, a, b = params

    def lbeta(p, q):
        return math.lgamma(p) + math.lgamma(q) - math.lgamma(p + q)

    out = []
    for xi, ti, Ti in zip(x, tx, big_t, strict=True):
        head = math.lgamma(r + xi) - math.lgamma(r) + r * math.log(alpha)
        if modified:
            l1 = lbeta(a, b + xi + 1) - lbeta(a, b) - (r + xi) * math.log(alpha + Ti)
            l2 = lbeta(a + 1, b + xi) - lbeta(a, b) - (r + xi) * math.log(alpha + ti)
            out.append(head + float(np.logaddexp(l1, l2)))
            continue
        total = lbeta(a, b + xi) - lbeta(a, b) - (r + xi) * math.log(alpha + Ti)
        if xi > 0:
            total = float(np.logaddexp(total, lbeta(a + 1, b + xi - 1) - lbeta(a, b)
                                       - (r + xi) * math.log(alpha + ti)))
        out.append(head + total)
    return np.array(out)


def test_bg_nbd_reproduces_fader_hardie_lee_2005(cdnow_summary):
    """FHL (2005) "Counting your customers the easy way", Marketing Science 24(2), sec. 5:
    r = 0.243, alpha = 4.414, a = 0.793, b = 2.426, LL = -9582.4 on the 2,357-customer
    CDNOW sample, weeks 1-39 (also CLVTools' test_correctness_bgnbd.R, which cites them)."""
    bg = clv.BetaGeo().fit(cdnow_summary)
    published = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    assert {k: sig3(v) for k, v in bg.params_.items()} == {k: sig3(v)
                                                           for k, v in published.items()}
    assert bg.log_likelihood_ == pytest.approx(-9582.4, abs=0.1)


def test_mbg_nbd_matches_lifetimes_optimum(cdnow_summary):
    """lifetimes' ModifiedBetaGeoFitter on the same summary; its LL recomputed unscaled."""
    from lifetimes import ModifiedBetaGeoFitter

    x, tx, big_t = (cdnow_summary[c] for c in ("frequency", "recency", "T"))
    ref = ModifiedBetaGeoFitter().fit(x, tx, big_t)
    mbg = clv.ModifiedBetaGeo().fit(cdnow_summary)
    for name in ("r", "alpha", "a", "b"):
        assert sig3(mbg.params_[name]) == sig3(ref.params_[name]), name
    ref_ll = naive_bg_loglik(ref.params_[["r", "alpha", "a", "b"]], x, tx, big_t,
                             modified=True).sum()
    assert mbg.log_likelihood_ == pytest.approx(ref_ll, abs=0.1)


@pytest.mark.parametrize("cls", [clv.BetaGeo, clv.ModifiedBetaGeo])
def test_vectorised_loglik_matches_naive_loop(cls, cdnow_summary):
    params = (0.3, 5.0, 0.9, 2.1)
    model = cls()
    model.params_ = dict(zip(model._names, params, strict=True))
    x, tx, big_t = (cdnow_summary[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    naive = naive_bg_loglik(params, x, tx, big_t, modified=cls is clv.ModifiedBetaGeo)
    np.testing.assert_allclose(model.log_likelihood_per_customer(cdnow_summary), naive,
                               rtol=1e-10)


@pytest.mark.parametrize("cls", [clv.BetaGeo, clv.ModifiedBetaGeo])
def test_analytic_gradient_matches_finite_differences(cls, cdnow_summary):
    model = cls()
    theta = np.array([0.3, 5.0, 0.9, 2.1])
    data = model._prepare(model._data(cdnow_summary))
    _, grad = model._loglik_grad(theta, *data)
    for i in range(4):
        step = np.zeros(4)
        step[i] = 1e-6 * theta[i]
        fd = (model._loglik(theta + step, *data).sum()
              - model._loglik(theta - step, *data).sum()) / (2 * step[i])
        assert grad[:, i].sum() == pytest.approx(fd, rel=1e-5)


@pytest.mark.parametrize("cls", [clv.BetaGeo, clv.ModifiedBetaGeo])
def test_stable_at_large_frequency_and_age(cls):
    model = cls()
    model.params_ = {"r": 0.24, "alpha": 4.4, "a": 0.79, "b": 2.4}
    x, tx, big_t = np.array([500.0, 0, 3000]), np.array([4990.0, 0, 4999]), np.full(3, 5000.0)
    ll = model.log_likelihood_per_customer(
        __import__("pandas").DataFrame({"frequency": x, "recency": tx, "T": big_t}))
    assert np.all(np.isfinite(ll))
    np.testing.assert_allclose(ll, naive_bg_loglik((0.24, 4.4, 0.79, 2.4), x, tx, big_t,
                                                   modified=cls is clv.ModifiedBetaGeo),
                               rtol=1e-9)
    expect = model.conditional_expected_purchases(52, x, tx, big_t)
    assert np.all(np.isfinite(expect)) and np.all(expect >= 0)
    # 500 purchases in 5,000 weeks, last one 10 weeks ago: alive, about 0.1 a week
    assert expect[0] == pytest.approx(52 * 500 / 5000, rel=0.2)


@pytest.mark.parametrize(("model", "cls", "truth"), [
    ("bg_nbd", clv.BetaGeo, {"r": 2.0, "alpha": 10.0, "a": 0.8, "b": 2.5}),
    ("mbg_nbd", clv.ModifiedBetaGeo, {"r": 2.0, "alpha": 10.0, "a": 0.8, "b": 2.5}),
])
def test_recovers_known_parameters_and_who_is_alive(model, cls, truth, simulate):
    from sklearn.metrics import roc_auc_score

    summary, alive = simulate(model, truth, n=4000, seed=7)
    fitted = cls().fit(summary)
    for name, value in truth.items():
        assert abs(fitted.params_[name] - value) < 3.5 * fitted.standard_errors_[name], name
    p_alive = fitted.conditional_probability_alive(summary)
    assert roc_auc_score(alive, p_alive) > 0.8


def test_bg_predictions_against_literature_and_a_simulation(simulate):
    """Expected purchases of new customers vs a simulation from the published parameters;
    P(alive) = 1 without repeat purchases (FHL 2008 note 021), conditional expectations
    consistent with eq. (10) at a long horizon."""
    bg = clv.BetaGeo()
    bg.params_ = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    summary, _ = simulate("bg_nbd", bg.params_, n=20000, seed=3)
    # a customer born at 0 observed to 39 weeks: E[X(39)] against the simulated mean
    born = summary[summary["T"] > 38]
    assert bg.expected_purchases(born["T"].mean()) == pytest.approx(born["frequency"].mean(),
                                                                    rel=0.08)
    assert np.all(bg.conditional_probability_alive([0, 0], [0, 0], [10, 30]) == 1)
    assert bg.expected_purchases(0) == 0


def test_mbg_unconditional_is_conditional_at_birth():
    """A customer with no history at age 0: E[X(t)] must equal E[Y(t) | 0, 0, 0], which
    includes the chance of dropping out right after the first purchase (Batislam 2007).
    Small t: E[X(t)] ~ r/alpha * b/(a+b) * t."""
    mbg = clv.ModifiedBetaGeo()
    mbg.params_ = {"r": 0.5, "alpha": 6.0, "a": 0.9, "b": 1.6}
    t = np.array([0.01, 1.0, 10.0, 52.0])
    np.testing.assert_allclose(mbg.expected_purchases(t),
                               mbg.conditional_expected_purchases(t, 0, 0, 0), rtol=1e-12)
    assert mbg.expected_purchases(1e-4) == pytest.approx(0.5 / 6 * 1.6 / 2.5 * 1e-4, rel=1e-3)
