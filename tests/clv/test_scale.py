"""The paths that make BTYD fits and CLV fast at a million distinct customers (#16): the
Pareto/NBD analytic gradient, the blocked BG/NBD sums, the warm start from a subsample, the
multiset fingerprint and the interpolated BG/NBD CLV; each against an independent reference
(finite differences, quadrature, lifetimes, per-row sums, data with known parameters)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from retaillab import clv
from retaillab.clv._engine import Fitter, _compress

PARETO = {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}
BG = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}


def simulate(model: str, params: dict, n: int, seed: int) -> pd.DataFrame:
    """A summary drawn from the model's story, vectorised, with ages T uniform on
    [1, 78] weeks, so that (frequency, recency, T) rows are all distinct.

    Pareto/NBD: Poisson purchases at rate lambda until an exponential death; the last of
    ``x`` uniform purchase times in the active window is its maximum, ``window * Beta(x, 1)``.
    (M)BG/NBD: ``K ~ Poisson(lambda T)`` purchase chances, dropout after the ``N``-th
    repeat, ``N ~ Geometric(p)`` (MBG: ``N - 1``, a dropout also at the first purchase),
    ``x = min(K, N)``, the x-th of K uniform times ``T * Beta(x, K - x + 1)``.
    """
    rng = np.random.default_rng(seed)
    big_t = rng.uniform(1.0, 78.0, n)
    lam = rng.gamma(params["r"], 1 / params["alpha"], n)
    recency = np.zeros(n)
    if model == "pareto_nbd":
        mu = rng.gamma(params["s"], 1 / params["beta"], n)
        window = np.minimum(big_t, rng.exponential(1 / mu))
        x = rng.poisson(lam * window)
        has = x > 0
        recency[has] = window[has] * rng.beta(x[has], 1.0)
    else:
        k = rng.poisson(lam * big_t)
        drop = rng.geometric(rng.beta(params["a"], params["b"], n))
        x = np.minimum(k, drop - (model == "mbg_nbd"))
        has = x > 0
        recency[has] = big_t[has] * rng.beta(x[has], k[has] - x[has] + 1)
    return pd.DataFrame({"frequency": x.astype(float), "recency": recency, "T": big_t})


def quad_loglik(params, x, tx, big_t) -> np.ndarray:
    """The Pareto/NBD log-likelihood from its definition by quadrature, with no
    hypergeometric function: each term is ``int_t^inf (alpha+u)^-p (beta+u)^-q du``,
    integrated relative to the integrand's value at ``t``."""
    from scipy.integrate import quad

    r, alpha, s, beta = params
    out = []
    for xi, ti, big in zip(x, tx, big_t, strict=True):
        head = math.lgamma(r + xi) - math.lgamma(r) + r * math.log(alpha) + s * math.log(beta)

        def log_int(t0, p, q):
            def g(u):
                return -p * math.log(alpha + u) - q * math.log(beta + u)

            g0 = g(t0)
            val, _ = quad(lambda v: math.exp(g(t0 + v) - g0), 0, math.inf, epsabs=0,
                          epsrel=1e-13, limit=500)
            return g0 + math.log(val)

        t1 = math.log(s) + log_int(ti, r + xi, s + 1)
        t2 = math.log(r + xi) + log_int(big, r + xi + 1, s)
        out.append(head + float(np.logaddexp(t1, t2)))
    return np.array(out)


EXTREME_ROWS = pd.DataFrame({
    "frequency": [0.0, 0, 1, 2, 5, 30, 50, 300, 300, 1000],
    "recency": [0.0, 0, 0.5, 3.0, 0.01, 29.0, 1.0, 60.0, 299.0, 0.2],
    "T": [1.0, 78.0, 1.0, 300.0, 10.0, 30.0, 5.0, 300.0, 300.0, 1000.0]})

#: (r, alpha, s, beta): CDNOW's optimum (alpha < beta, |alpha - beta| small), alpha = beta,
#: alpha >> beta and alpha << beta (z > 1/3 for small t: the second series), tiny and large
POINTS = [(0.553, 10.578, 0.606, 11.669), (1.0, 5.0, 1.0, 5.0), (0.6, 300.0, 0.5, 1.0),
          (0.05, 0.5, 0.03, 0.4), (2.0, 1.0, 3.0, 400.0), (5.0, 20.0, 8.0, 3.0)]


def _rows_and_synthetic(seed: int = 2) -> pd.DataFrame:
    return pd.concat([simulate("pareto_nbd", PARETO, 400, seed), EXTREME_ROWS],
                     ignore_index=True)


@pytest.mark.parametrize("params", POINTS)
def test_pareto_gradient_matches_central_differences(params):
    """Per customer and summed: the analytic gradient against central differences of the
    log-likelihood (relative step 1e-6), on both branches and in both series' regions."""
    summary = _rows_and_synthetic()
    model = clv.ParetoNBD()
    x, tx, big_t = model._data(summary)
    theta = np.array(params)
    with np.errstate(all="ignore"):
        ll, grad = model._loglik_grad(theta, x, tx, big_t)
        assert np.all(np.isfinite(ll)) and np.all(np.isfinite(grad))
        numeric = np.empty_like(grad)
        for i in range(4):
            step = np.zeros(4)
            step[i] = 1e-6 * theta[i]
            numeric[:, i] = (model._loglik(theta + step, x, tx, big_t)
                             - model._loglik(theta - step, x, tx, big_t)) / (2 * step[i])
    scale = np.abs(numeric) + 1e-2 * np.abs(ll)[:, None] / (1 + np.abs(ll)[:, None]) + 1e-3
    assert np.max(np.abs(grad - numeric) / scale) < 1e-4
    np.testing.assert_allclose(grad.sum(0), numeric.sum(0), rtol=1e-6, atol=1e-6)
    # the engine's blocked sums over compressed rows say the same
    data, weights = _compress((x, tx, big_t))
    total, g = model._sums(theta, model._problem(data, weights), True)
    assert total == pytest.approx(float(ll.sum()), rel=1e-12)
    np.testing.assert_allclose(g, grad.sum(0), rtol=1e-10, atol=1e-9)


@pytest.mark.parametrize("params", [POINTS[2], POINTS[4], (0.6, 1.0, 0.5, 300.0)])
def test_pareto_series_match_quadrature_far_from_alpha_equal_beta(params):
    """Where z = |alpha - beta| / (max + t) is large (Euler's series) and frequencies reach
    1,000, the log-likelihood still matches a quadrature of its definition."""
    model = clv.ParetoNBD()
    model.params_ = dict(zip(model._names, params, strict=True))
    rows = EXTREME_ROWS
    with np.errstate(all="ignore"):
        ours = model.log_likelihood_per_customer(rows)
    reference = quad_loglik(params, *(rows[c].to_numpy(float) for c in rows))
    np.testing.assert_allclose(ours, reference, rtol=1e-9)


@pytest.mark.parametrize("cls", [clv.BetaGeo, clv.ModifiedBetaGeo])
def test_bg_blocked_sums_match_per_row_terms_and_differences(cls):
    """The blocked sums equal the weighted per-row likelihood and gradient (checked against
    a naive loop in test_beta_geo), with repeated rows merged into weights; and their
    gradient is the derivative of their value."""
    distinct = simulate("mbg_nbd" if cls is clv.ModifiedBetaGeo else "bg_nbd", BG, 34_000, 4)
    summary = pd.concat([distinct, distinct.iloc[::7]])  # repeated rows: weights 1 and 2
    model = cls()
    data, weights = _compress(model._data(summary))
    assert weights.max() == 2 and len(weights) > 2 * 16_384  # several blocks
    problem = model._problem(data, weights)
    for theta in ([0.3, 5.0, 0.9, 2.1], [2.0, 0.1, 5.0, 0.3], [0.05, 100.0, 0.2, 30.0]):
        theta = np.array(theta)
        total, g = model._sums(theta, problem, True)
        ref_total, ref_g = Fitter._sums(model, theta, (model._prepare(data), weights), True)
        assert total == pytest.approx(ref_total, rel=1e-13)
        np.testing.assert_allclose(g, ref_g, rtol=1e-11, atol=1e-8)
        for i in range(4):
            step = np.zeros(4)
            step[i] = 1e-6 * theta[i]
            fd = (model._sums(theta + step, problem, False)[0]
                  - model._sums(theta - step, problem, False)[0]) / (2 * step[i])
            assert g[i] == pytest.approx(fd, rel=1e-5, abs=1e-3)


@pytest.mark.parametrize(("model", "cls", "truth"), [
    ("bg_nbd", clv.BetaGeo, {"r": 0.8, "alpha": 6.0, "a": 0.9, "b": 2.5}),
    ("mbg_nbd", clv.ModifiedBetaGeo, {"r": 0.8, "alpha": 6.0, "a": 0.9, "b": 2.5}),
    ("pareto_nbd", clv.ParetoNBD, {"r": 0.8, "alpha": 6.0, "s": 0.7, "beta": 15.0}),
])
def test_warm_start_reaches_the_same_optimum_and_recovers_the_truth(model, cls, truth,
                                                                    monkeypatch):
    """A fit started from a subsample's optimum (forced here on 20,000 distinct rows) ends
    where the fit from the default start ends, and near the parameters that made the data."""
    summary = simulate(model, truth, 20_000, 9)
    cold = cls().fit(summary)
    monkeypatch.setattr(Fitter, "_WARM_ROWS", 5_000)
    monkeypatch.setattr(Fitter, "_WARM_SAMPLE", 2_000)
    warm = cls().fit(summary)
    assert warm.n_iterations_ < cold.n_iterations_
    assert warm.log_likelihood_ == pytest.approx(cold.log_likelihood_, abs=1e-6)
    for name, value in truth.items():
        assert warm.params_[name] == pytest.approx(cold.params_[name], rel=1e-4), name
        assert warm.standard_errors_[name] == pytest.approx(cold.standard_errors_[name],
                                                            rel=1e-3), name
        assert abs(warm.params_[name] - value) < 3.5 * warm.standard_errors_[name], name


@pytest.mark.parametrize(("model", "ours", "theirs"), [
    ("bg_nbd", clv.BetaGeo, "BetaGeoFitter"),
    ("mbg_nbd", clv.ModifiedBetaGeo, "ModifiedBetaGeoFitter"),
    ("pareto_nbd", clv.ParetoNBD, "ParetoNBDFitter"),
])
def test_distinct_rows_reach_lifetimes_optimum(model, ours, theirs):
    """On distinct rows (no compression to help) the estimates are lifetimes'; our
    likelihood is at least as high at ours as at theirs."""
    import warnings

    import lifetimes

    truth = PARETO if model == "pareto_nbd" else BG
    summary = simulate(model, truth, 1_500, 5)
    fitted = ours().fit(summary)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = getattr(lifetimes, theirs)().fit(summary["frequency"], summary["recency"],
                                               summary["T"])
    probe = ours()
    probe.params_ = dict(zip(fitted.params_, map(float, ref.params_.to_numpy()),
                             strict=True))
    assert fitted.log_likelihood_ >= probe.log_likelihood(summary) - 1e-6
    for name, value in fitted.params_.items():
        assert value == pytest.approx(probe.params_[name], rel=2e-3), name


def test_fingerprint_is_the_data_as_a_multiset():
    """The same customers in another order give the same fingerprint, on the path for
    distinct rows and on the one that merges repeated rows; one more customer changes it."""
    distinct = simulate("bg_nbd", BG, 3_000, 1)
    repeated = distinct.round(0)
    for frame in (distinct, repeated):
        a = clv.BetaGeo().fit(frame)
        b = clv.BetaGeo().fit(frame.sample(frac=1.0, random_state=3))
        assert a.data_fingerprint_ == b.data_fingerprint_
        assert a.log_likelihood_ == pytest.approx(b.log_likelihood_, rel=1e-12)
        more = clv.BetaGeo().fit(pd.concat([frame, frame.iloc[:1]]))
        assert more.data_fingerprint_ != a.data_fingerprint_


@pytest.mark.parametrize("cls", [clv.BetaGeo, clv.ModifiedBetaGeo])
def test_interpolated_clv_matches_lifetimes_and_the_direct_sum(cls):
    """BG/NBD CLV interpolated per frequency (groups of >= 256 customers) against lifetimes'
    ``customer_lifetime_value`` (its hypergeometric per customer and month) and against the
    direct sum, on 20,000 customers with continuous ages."""
    import warnings

    import lifetimes

    from retaillab.clv.value import _bracket, _direct

    summary = simulate("mbg_nbd" if cls is clv.ModifiedBetaGeo else "bg_nbd", BG, 20_000, 3)
    rng = np.random.default_rng(1)
    summary["monetary_value"] = np.where(summary["frequency"] > 0,
                                         rng.gamma(6.0, 6.0, len(summary)), 0.0)
    model = cls()
    model.params_ = dict(BG)
    gg = clv.GammaGamma()
    gg.params_ = {"p": 6.25, "q": 3.74, "gamma": 15.44}
    ref = getattr(lifetimes, "ModifiedBetaGeoFitter" if cls is clv.ModifiedBetaGeo
                  else "BetaGeoFitter")()
    ref.params_ = pd.Series(model.params_)
    ref.predict = ref.conditional_expected_number_of_purchases_up_to_time
    ref_gg = lifetimes.GammaGammaFitter()
    ref_gg.params_ = pd.Series({"p": 6.25, "q": 3.74, "v": 15.44})
    s = summary
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = ref_gg.customer_lifetime_value(ref, s["frequency"], s["recency"], s["T"],
                                                  s["monetary_value"], time=12,
                                                  discount_rate=0.01, freq="W")
    ours = clv.customer_lifetime_value(model, gg, s, months=12, discount_rate=0.01,
                                       month_length=4.345)
    np.testing.assert_allclose(ours.to_numpy(), expected.to_numpy(), rtol=1e-10)
    # 24 months at 5%: the bracket itself against the direct sum of hypergeometrics
    theta = model._fitted_theta()
    x, big_t = s["frequency"].to_numpy(float), s["T"].to_numpy(float)
    ends = np.arange(1, 25) * 4.348
    weights = 1.05 ** -np.arange(1, 25)
    with np.errstate(all="ignore"):
        np.testing.assert_allclose(_bracket(model, theta, ends, weights, x, big_t),
                                   _direct(model, theta, ends, weights, x, big_t),
                                   rtol=1e-11)
