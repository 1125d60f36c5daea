"""P(no purchase in the horizon) of the BTYD models against simulations of their purchase
processes, and the survival pipelines against scikit-survival and planted hazards."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from retaillab.churn import survival
from retaillab.clv import BetaGeo, ModifiedBetaGeo, ParetoNBD
from retaillab.errors import DataError, NotFittedError, ParameterError

N = 200_000
H = 26.0  # weeks


def _model(cls, params):
    model = cls()
    model.params_ = dict(zip(model._names, params, strict=True))
    return model


def _simulate_bg(params, rng, modified=False):
    """BG/NBD's story, customer by customer in one vectorised draw: purchases at rate lambda;
    the customer dies after the J-th repeat purchase, J ~ Geometric(p) (MBG/NBD: J - 1, so
    also right after the first purchase). Observed up to T, then H more weeks."""
    r, alpha, a, b = params
    big_t = rng.uniform(10, 40, N)
    lam, p = rng.gamma(r, 1 / alpha, N), rng.beta(a, b, N)
    repeats = rng.geometric(p) - (1 if modified else 0)
    n = rng.poisson(lam * big_t)
    x = np.minimum(repeats, n)
    # the x-th of n uniform purchase times in (0, T] is T * Beta(x, n - x + 1)
    tx = np.where(x > 0, big_t * rng.beta(np.maximum(x, 1), np.maximum(n - x + 1, 1)), 0.0)
    alive = repeats > n
    bought = alive & (rng.random(N) < -np.expm1(-lam * H))
    return x, tx, big_t, ~bought


def _simulate_pareto(params, rng):
    """Pareto/NBD's story: Poisson purchases at lambda during an exponential lifetime."""
    r, alpha, s, beta = params
    big_t = rng.uniform(10, 40, N)
    lam, mu = rng.gamma(r, 1 / alpha, N), rng.gamma(s, 1 / beta, N)
    life = rng.exponential(1 / mu)
    seen = np.minimum(life, big_t)
    x = rng.poisson(lam * seen)
    tx = np.where(x > 0, seen * rng.beta(np.maximum(x, 1), 1, N), 0.0)
    window = np.clip(np.minimum(life, big_t + H) - big_t, 0, None)
    bought = (life > big_t) & (rng.random(N) < -np.expm1(-lam * window))
    return x, tx, big_t, ~bought


def _check_calibrated(predicted, none):
    """Within every decile of the predicted probability the simulated share without a
    purchase matches the mean prediction (4 standard errors), and so does the overall mean."""
    edges = np.quantile(predicted, np.linspace(0, 1, 11))
    deciles = np.clip(np.searchsorted(edges, predicted, side="right") - 1, 0, 9)
    for k in range(10):
        chosen = deciles == k
        p = predicted[chosen].mean()
        se = np.sqrt(max(p * (1 - p), 1e-4) / chosen.sum())
        assert abs(none[chosen].mean() - p) < 4 * se, (k, none[chosen].mean(), p)
    assert abs(none.mean() - predicted.mean()) < 4 * np.sqrt(0.25 / none.size)


@pytest.mark.parametrize(("cls", "params", "modified"), [
    (BetaGeo, (0.243, 4.414, 0.793, 2.426), False),   # FHL's CDNOW estimates
    (ModifiedBetaGeo, (0.5, 6.0, 0.9, 1.6), True),
])
def test_bg_nbd_no_purchase_matches_a_simulation(cls, params, modified):
    x, tx, big_t, none = _simulate_bg(params, np.random.default_rng(1), modified)
    predicted = survival.no_purchase_probability(_model(cls, params), H, x, tx, big_t)
    _check_calibrated(predicted, none)


def test_pareto_nbd_no_purchase_matches_a_simulation():
    params = (0.553, 10.58, 0.606, 11.67)  # Fader-Hardie's CDNOW estimates
    x, tx, big_t, none = _simulate_pareto(params, np.random.default_rng(2))
    predicted = survival.no_purchase_probability(_model(ParetoNBD, params), H, x, tx, big_t)
    _check_calibrated(predicted, none)


def test_pareto_nbd_given_alive_equals_a_2d_quadrature_over_the_rates():
    """E[mu/(l+mu) + l/(l+mu) exp(-(l+mu) h)] over lambda ~ Gamma(r+x, alpha+T) and
    mu ~ Gamma(s, beta+T), by Gauss-Legendre quadrature over both rates' quantiles (400 x 400
    nodes), not through the hypergeometric form."""
    from scipy import stats

    r, alpha, s, beta = 0.553, 10.58, 0.606, 11.67
    params = {"r": r, "alpha": alpha, "s": s, "beta": beta}
    nodes, weights = np.polynomial.legendre.leggauss(400)
    u, w = (nodes + 1) / 2, weights / 2
    for x, big_t, h in [(0, 30.0, 26.0), (3, 20.0, 10.0), (12, 39.0, 39.0), (40, 39.0, 5.0)]:
        lam = stats.gamma(r + x, scale=1 / (alpha + big_t)).ppf(u)[:, None]
        mu = stats.gamma(s, scale=1 / (beta + big_t)).ppf(u)[None, :]
        stay = mu / (lam + mu) + lam / (lam + mu) * np.exp(-(lam + mu) * h)
        found = survival._pareto_none_given_alive(params, h, np.array([x]), np.array([big_t]))
        assert found[0] == pytest.approx(w @ stay @ w, abs=1e-6)


def test_bg_nbd_by_hand():
    """No repeat purchase: P(alive) = 1, so P(none in h) = (alpha+T)/(alpha+T+h))^r; with
    repeats the closed form of note 021 for P(alive)."""
    r, alpha, a, b = 0.25, 4.0, 0.8, 2.5
    model = _model(BetaGeo, (r, alpha, a, b))
    assert survival.no_purchase_probability(model, 10.0, 0, 0.0, 30.0) == pytest.approx(
        (34 / 44) ** 0.25, rel=1e-12)
    x, tx, big_t, h = 2, 12.0, 30.0, 10.0
    alive = 1 / (1 + a / (b + x - 1) * ((alpha + big_t) / (alpha + tx)) ** (r + x))
    expected = 1 - alive + alive * ((alpha + big_t) / (alpha + big_t + h)) ** (r + x)
    assert survival.no_purchase_probability(model, h, x, tx, big_t) == pytest.approx(
        expected, rel=1e-12)
    # no time, no purchase; a longer horizon never makes a purchase less likely
    assert survival.no_purchase_probability(model, 0.0, x, tx, big_t) == pytest.approx(1.0)
    longer = [survival.no_purchase_probability(model, t, x, tx, big_t) for t in (5, 10, 20)]
    assert longer[0] > longer[1] > longer[2]


def test_no_purchase_refuses_bad_input():
    model = _model(BetaGeo, (0.25, 4.0, 0.8, 2.5))
    for t in (-1.0, np.inf, "26", True):
        with pytest.raises(ParameterError, match="t must be"):
            survival.no_purchase_probability(model, t, 1, 2.0, 5.0)
    with pytest.raises(ParameterError, match="model must be"):
        survival.no_purchase_probability(object(), 5.0, 1, 2.0, 5.0)
    with pytest.raises(NotFittedError):
        survival.no_purchase_probability(BetaGeo(), 5.0, 1, 2.0, 5.0)


# -- survival models ---------------------------------------------------------------------

def _planted(n=1500, beta=0.8, seed=0, horizon=30.0):
    """Exponential times with hazard 0.05 exp(beta x), censored at ``horizon``."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    time = rng.exponential(1 / (0.05 * np.exp(beta * x[:, 0])))
    event = time <= horizon
    return x, survival.survival_target(event, np.minimum(time, horizon))


def test_cox_recovers_a_planted_log_hazard_ratio_and_baseline():
    x, y = _planted(n=3000)
    model = survival.CoxChurn(alpha=1e-3).fit(x, y)
    coef = model.model_.coef_
    assert coef[0] == pytest.approx(0.8, abs=0.08) and abs(coef[1]) < 0.08
    # S(t | x = 0) of the planted law is exp(-0.05 t)
    s = model.predict_survival(np.zeros((1, 2)), [5.0, 20.0])[0]
    assert s == pytest.approx(np.exp(-0.05 * np.array([5.0, 20.0])), abs=0.03)


def test_survival_functions_equal_scikit_survivals_own():
    x, y = _planted(n=400)
    times = [0.5, 3.0, 12.0, 29.0, 40.0]
    for model in (survival.CoxChurn().fit(x, y),
                  survival.ForestChurn(n_estimators=5, seed=3).fit(x, y)):
        curves = model.model_.predict_survival_function(x[:7])
        expected = np.array([[f(min(max(t, f.x[0]), f.x[-1])) if t >= f.x[0] else 1.0
                              for t in times] for f in curves])
        assert model.predict_survival(x[:7], times) == pytest.approx(expected, rel=1e-12)
        proba = model.predict_proba(x[:7])
        assert proba[:, 1] == pytest.approx(model.predict_survival(x[:7], [30.0])[:, 0])
        assert proba.sum(axis=1) == pytest.approx(1.0)
        assert list(model.classes_) == [False, True]


def test_survival_models_follow_the_estimator_contract():
    x, y = _planted(n=300)
    forest = survival.ForestChurn(n_estimators=4, max_samples=10_000, seed=1)
    assert clone(forest).get_params() == forest.get_params()
    forest.set_params(min_samples_leaf=10)
    assert forest.get_params()["min_samples_leaf"] == 10
    with pytest.raises(NotFittedError):
        forest.predict_proba(x)
    assert forest.fit(x, y) is forest  # max_samples above the rows: all rows are drawn
    again = clone(forest).fit(x, y)
    assert np.array_equal(forest.predict_proba(x), again.predict_proba(x))
    other = clone(forest).set_params(seed=2).fit(x, y)
    assert not np.array_equal(forest.predict_proba(x), other.predict_proba(x))
    assert survival.CoxChurn(horizon=10.0).fit(x, y).horizon_ == 10.0


def test_pipelines_prepare_features_as_the_classifiers_do():
    import pandas as pd

    x, y = _planted(n=300)
    frame = pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "kind": np.where(x[:, 1] > 0, "u", "v")})
    frame.loc[3, "a"] = np.nan  # imputed
    pipe = survival.cox().fit(frame, y)
    assert list(pipe.named_steps) == ["prepare", "model"]
    curves = survival.survival_at(pipe, frame.head(4), [10.0, 20.0])
    assert curves.shape == (4, 2) and (curves[:, 1] <= curves[:, 0]).all()
    assert survival.rsf(n_estimators=3).fit(frame, y).predict_proba(frame).shape == (300, 2)


def test_survival_target_refusals():
    with pytest.raises(DataError, match="positive"):
        survival.survival_target([True, False], [0.0, 3.0])
    with pytest.raises(DataError, match="one length"):
        survival.survival_target([True], [1.0, 3.0])
    with pytest.raises(DataError, match="no customer bought"):
        survival.CoxChurn().fit(np.ones((3, 1)), survival.survival_target([False] * 3,
                                                                           [5.0] * 3))
