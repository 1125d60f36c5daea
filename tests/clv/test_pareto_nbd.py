"""Pareto/NBD: published CDNOW estimates, a quadrature reference likelihood, stability,
recovery of known parameters."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from retaillab import clv


def sig3(value: float) -> float:
    return float(f"{value:.3g}")


def quad_loglik(params, x, tx, big_t):
    """The likelihood from its definition, integrating over the lifetime by quadrature:
    L = E[lambda^x mu/(lambda+mu) e^{-(lambda+mu)t_x}] + E[lambda^(x+1)/(lambda+mu)
    e^{-(lambda+mu)T}], each expectation = int_t^inf E[..e^{-lambda u}] E[..e^{-mu u}] du
    (no hypergeometric function involved)."""
    from scipy.integrate import quad

    r, alpha, s, beta = params
    out = []
    for xi, ti, Ti in zip(x, tx, big_t, strict=True):
        head = math.lgamma(r + xi) - math.lgamma(r) + r * math.log(alpha) + s * math.log(beta)

        def log_int(t0, p, q):
            def g(u):
                return -p * math.log(alpha + u) - q * math.log(beta + u)

            g0 = g(t0)
            val, _ = quad(lambda v: math.exp(g(t0 + v) - g0), 0, math.inf, epsabs=0,
                          epsrel=1e-12, limit=200)
            return g0 + math.log(val)

        t1 = math.log(s) + log_int(ti, r + xi, s + 1)
        t2 = math.log(r + xi) + log_int(Ti, r + xi + 1, s)
        out.append(head + np.logaddexp(t1, t2))
    return np.array(out)


def test_reproduces_published_cdnow_estimates(cdnow_summary):
    """Pareto/NBD on the CDNOW sample, weeks 1-39: r = 0.553, alpha = 10.578, s = 0.606,
    beta = 11.669, LL = -9595.0 (Fader, Hardie & Lee 2005, Marketing Science 24(2), the
    comparison with BG/NBD; cited in CLVTools' test_correctness_pnbd_nocovstaticcov.R)."""
    model = clv.ParetoNBD().fit(cdnow_summary)
    published = {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}
    assert {k: sig3(v) for k, v in model.params_.items()} == {k: sig3(v)
                                                              for k, v in published.items()}
    assert model.log_likelihood_ == pytest.approx(-9595.0, abs=0.1)


def test_standard_errors_match_clvtools(cdnow_summary):
    """CLVTools' Pareto/NBD standard errors on CDNOW: r 0.0476, alpha 0.843, s 0.187,
    beta 6.21 (test_correctness_pnbd_nocovstaticcov.R)."""
    se = clv.ParetoNBD().fit(cdnow_summary).standard_errors_
    expected = {"r": 0.0476264, "alpha": 0.8427222, "s": 0.1872594, "beta": 6.2105448}
    for name, value in expected.items():
        assert se[name] == pytest.approx(value, rel=0.01), name


@pytest.mark.parametrize("params", [(0.55, 10.6, 0.61, 11.7), (0.9, 3.0, 1.4, 25.0),
                                    (0.4, 20.0, 0.7, 2.0)])
def test_vectorised_loglik_matches_quadrature(params, cdnow_summary):
    rows = cdnow_summary.iloc[::60]
    model = clv.ParetoNBD()
    model.params_ = dict(zip(model._names, params, strict=True))
    x, tx, big_t = (rows[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    np.testing.assert_allclose(model.log_likelihood_per_customer(rows),
                               quad_loglik(params, x, tx, big_t), rtol=1e-8)


def test_stable_at_large_frequency_and_age():
    frame = pd.DataFrame({"frequency": [500.0, 500, 0, 2000], "recency": [4990.0, 100, 0, 4000],
                          "T": [5000.0, 5000, 5000, 5000]})
    for params in [(0.55, 10.6, 0.61, 11.7), (0.55, 200.0, 0.61, 1.0), (2.0, 1.0, 3.0, 400.0)]:
        model = clv.ParetoNBD()
        model.params_ = dict(zip(model._names, params, strict=True))
        ll = model.log_likelihood_per_customer(frame)
        assert np.all(np.isfinite(ll)), params
        np.testing.assert_allclose(ll, quad_loglik(params, *(frame[c] for c in frame)),
                                   rtol=1e-7)
        p = model.conditional_probability_alive(frame)
        assert np.all((p >= 0) & (p <= 1))
        assert p[0] > 0.5 > p[1]  # bought 10 weeks ago vs 4,900 weeks ago


def test_recovers_known_parameters_and_who_is_alive(simulate):
    from sklearn.metrics import roc_auc_score

    truth = {"r": 2.0, "alpha": 10.0, "s": 0.8, "beta": 12.0}
    summary, alive = simulate("pareto_nbd", truth, n=4000, seed=11)
    fitted = clv.ParetoNBD().fit(summary)
    for name, value in truth.items():
        assert abs(fitted.params_[name] - value) < 3.5 * fitted.standard_errors_[name], name
    assert roc_auc_score(alive, fitted.conditional_probability_alive(summary)) > 0.8


def test_predictions_note_009(simulate):
    """E[X(t)] (eq. 27) against a simulation; P(alive) of a customer without purchases is
    ((beta+... )) closed form: ((alpha)/(alpha+T))^r-free eq. for x = 0 checked via quad."""
    model = clv.ParetoNBD()
    truth = {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}
    model.params_ = truth
    summary, alive = simulate("pareto_nbd", truth, n=20000, seed=5)
    born = summary[summary["T"] > 38]
    assert model.expected_purchases(born["T"].mean()) == pytest.approx(
        born["frequency"].mean(), rel=0.08)
    # P(alive) averaged over customers is the share truly alive
    assert model.conditional_probability_alive(summary).mean() == pytest.approx(alive.mean(),
                                                                                abs=0.02)
