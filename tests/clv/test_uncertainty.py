"""Prediction intervals from parameter draws (issue #13, item 5): CDNOW totals, determinism,
exactness of the vectorised draws, coverage on data with known BG/NBD parameters, and P(alive)
against who is really alive in the synthetic world."""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pandas as pd
import pytest

from retaillab import clv
from retaillab.errors import ParameterError

CALIBRATION_END, HOLDOUT_END = "1997-09-30", "1998-06-30"
#: The synthetic world's defaults (retaillab.data.SyntheticParams), CDNOW-like, in weeks.
TRUTH = {"r": 0.24, "alpha": 4.41, "a": 0.79, "b": 2.43}


def at(model_cls, params: dict):
    """A model with its parameters set by hand (the truth), for predictions only."""
    model = model_cls()
    model.params_ = dict(params)
    return model


@pytest.fixture(scope="module")
def cdnow_full() -> pd.DataFrame:
    from retaillab import data

    tx = data.load("cdnow").transactions
    return clv.rfm_summary(tx, calibration_end=CALIBRATION_END, unit="W",
                           holdout_end=HOLDOUT_END)


@pytest.fixture(scope="module")
def sample_fits(cdnow_summary):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # one repeat customer with zero spend
        return clv.BetaGeo().fit(cdnow_summary), clv.GammaGamma().fit(cdnow_summary)


def test_cdnow_total_holdout_purchases_interval(cdnow_summary, cdnow_full, sample_fits):
    """(a) The total expected holdout purchases carry a 95% interval containing the point
    prediction, about sqrt(10) times narrower (relative to the total) on the full CDNOW
    (23,570 customers) than on its 1/10 sample; the same seed gives the same frames."""
    horizon = float(cdnow_summary["duration_holdout"].iloc[0])
    relative = {}
    for name, summary in (("sample", cdnow_summary), ("full", cdnow_full)):
        bg = sample_fits[0] if name == "sample" else clv.BetaGeo().fit(summary)
        out = clv.predict_interval(bg, summary, what="purchases", t=horizon, seed=0)
        total = out.total
        assert out.level == 0.95 and out.n_draws == 500 and len(out.total_draws) == 500
        assert total["low"] < total["point"] < total["high"]
        assert total["point"] == pytest.approx(
            bg.conditional_expected_purchases(horizon, summary).sum(), rel=1e-12)
        assert total["low"] < total["mean"] < total["high"]
        assert list(out.customers.columns) == ["point", "mean", "low", "high"]
        assert out.customers.index.equals(summary.index)
        assert (out.customers["low"] <= out.customers["high"]).all()
        assert out.totals.loc["mean", "point"] == pytest.approx(total["point"] / len(summary))
        relative[name] = (total["high"] - total["low"]) / total["point"]
    assert 0.1 < relative["sample"] < 0.3  # ~0.19: 1653 [1509, 1822] on 2,357 customers
    assert relative["full"] < 0.5 * relative["sample"]  # ~0.06 on 23,570: sqrt(10) narrower

    bg = sample_fits[0]
    first = clv.predict_interval(bg, cdnow_summary, what="purchases", t=horizon, seed=7)
    again = clv.predict_interval(bg, cdnow_summary, what="purchases", t=horizon, seed=7)
    other = clv.predict_interval(bg, cdnow_summary, what="purchases", t=horizon, seed=8)
    pd.testing.assert_frame_equal(first.customers, again.customers)
    pd.testing.assert_frame_equal(first.totals, again.totals)
    pd.testing.assert_frame_equal(first.draws, clv.parameter_draws(bg, 500, seed=7))
    assert not np.array_equal(first.total_draws, other.total_draws)


def test_cdnow_clv_and_p_alive_intervals(cdnow_summary, sample_fits):
    """CLV combines independent draws of both models; mean CLV's interval contains its point;
    P(alive) stays a probability under every draw."""
    bg, gg = sample_fits
    out = clv.predict_interval(bg, cdnow_summary, what="clv", spend_model=gg, seed=0)
    point = clv.customer_lifetime_value(bg, gg, cdnow_summary)
    np.testing.assert_allclose(out.customers["point"], point, rtol=1e-12)
    mean = out.totals.loc["mean"]
    assert mean["low"] < mean["point"] < mean["high"]
    assert mean["point"] == pytest.approx(point.mean())
    assert list(out.spend_draws.columns) == ["p", "q", "gamma"]
    assert (out.spend_draws["q"] > 1).all()
    again = clv.predict_interval(bg, cdnow_summary, what="clv", spend_model=gg, seed=0)
    pd.testing.assert_frame_equal(out.totals, again.totals)

    alive = clv.predict_interval(bg, cdnow_summary, what="p_alive", n_draws=200, seed=0)
    c = alive.customers
    assert ((c[["low", "high"]] >= 0) & (c[["low", "high"]] <= 1)).all().all()
    assert (c.loc[cdnow_summary["frequency"] == 0, ["low", "high"]] == 1).all().all()
    t = alive.total
    assert t["low"] < t["point"] < t["high"] < len(cdnow_summary)


@pytest.mark.parametrize("cls", [clv.BetaGeo, clv.ModifiedBetaGeo, clv.ParetoNBD])
def test_vectorised_draws_match_the_models_own_predictions(cls, cdnow_summary, sample_fits):
    """Each draw's total is what the model's public methods give with its parameters set to
    that draw (so the draws x customers arrays compute exactly the documented quantities)."""
    gg = sample_fits[1]
    model = cls().fit(cdnow_summary)
    part = cdnow_summary.iloc[::7]
    for what in ("p_alive", "purchases", "clv"):
        out = clv.predict_interval(model, part, what=what, t=39.0, spend_model=gg, n_draws=4,
                                   seed=3)
        for i in range(4):
            m = copy.copy(model)
            m.params_ = out.draws.iloc[i].to_dict()
            if what == "p_alive":
                expected = m.conditional_probability_alive(part).sum()
            elif what == "purchases":
                expected = m.conditional_expected_purchases(39.0, part).sum()
            else:
                g = copy.copy(gg)
                g.params_ = out.spend_draws.iloc[i].to_dict()
                expected = clv.customer_lifetime_value(m, g, part).sum()
            assert out.total_draws[i] == pytest.approx(expected, rel=1e-12), (what, i)


def test_draws_are_positive_lognormal_around_the_estimates(sample_fits):
    """Sampled on the log scale the engine optimises: every draw positive, the draws'
    covariance close to the delta-method covariance_ (within 15% on the diagonal)."""
    bg = sample_fits[0]
    draws = clv.parameter_draws(bg, 20_000, seed=1)
    assert (draws > 0).all().all()
    logs = np.log(draws.to_numpy())
    theta = np.array(list(bg.params_.values()))
    np.testing.assert_allclose(logs.mean(axis=0), np.log(theta), atol=0.01)
    ratio = np.diag(np.cov(draws.to_numpy().T)) / np.diag(bg.covariance_.to_numpy())
    np.testing.assert_allclose(ratio, 1.0, atol=0.15)


def test_coverage_of_the_truth_based_expectation(simulate_bg):
    """(b) On data drawn with known BG/NBD parameters, the 95% interval of the total expected
    purchases in the next 39 weeks covers the expectation at the true parameters
    (sum of E[Y(39) | x, t_x, T; truth]) in at least 17 of 20 seeds (85%; measured: 20 of
    these 20, and 184 of 200 seeds, i.e. 92%, at 2,000 customers)."""
    covered = 0
    for seed in range(20):
        summary, _ = simulate_bg(TRUTH, 2000, seed)
        bg = clv.BetaGeo().fit(summary)
        total = clv.predict_interval(bg, summary, t=39.0, n_draws=200, seed=seed).total
        target = at(clv.BetaGeo, TRUTH).conditional_expected_purchases(39.0, summary).sum()
        covered += total["low"] <= target <= total["high"]
    assert covered >= 17, covered


def test_p_alive_is_calibrated_against_the_synthetic_worlds_truth():
    """(c) The synthetic world records who is alive at its end. Among the 9,089 repeat
    customers of 20,000 (seed 3), binned by decile of the fitted BG/NBD's P(alive), the mean
    P(alive) of each bin is within 0.06 of the share of the bin really alive (about 900
    customers a bin: a binomial standard error of at most 0.017)."""
    from retaillab import data

    world = data.load("synthetic", n_customers=20_000, seed=3)
    # the window is [start, end): its last day is the day before end, all in calibration
    summary = clv.rfm_summary(world.transactions, calibration_end="2025-06-29", unit="W")
    alive = world.truth.customers["alive"].reindex(summary.index)
    assert alive.notna().all()
    bg = clv.BetaGeo().fit(summary)
    repeat = summary["frequency"] > 0
    p_alive = pd.Series(bg.conditional_probability_alive(summary), index=summary.index)[repeat]
    truth = alive[repeat].astype(float)
    decile = pd.qcut(p_alive.rank(method="first"), 10, labels=False)
    table = pd.DataFrame({"predicted": p_alive, "observed": truth, "decile": decile}
                         ).groupby("decile").agg(predicted=("predicted", "mean"),
                                                 observed=("observed", "mean"),
                                                 n=("observed", "size"))
    assert (table["n"] >= 800).all()
    gap = (table["predicted"] - table["observed"]).abs()
    assert gap.max() < 0.06, table
    assert table["predicted"].is_monotonic_increasing
    # and over all repeat customers, the expected number alive is the number alive
    assert p_alive.sum() == pytest.approx(truth.sum(), rel=0.03)


def test_refuses_bad_arguments(cdnow_summary, sample_fits):
    bg, gg = sample_fits
    with pytest.raises(ParameterError, match="what must be one of"):
        clv.predict_interval(bg, cdnow_summary, what="spend")
    with pytest.raises(ParameterError, match="t must be a number >= 0"):
        clv.predict_interval(bg, cdnow_summary, what="purchases")
    with pytest.raises(ParameterError, match="spend_model must be a fitted GammaGamma"):
        clv.predict_interval(bg, cdnow_summary, what="clv")
    with pytest.raises(ParameterError, match="n_draws must be a whole number >= 2"):
        clv.predict_interval(bg, cdnow_summary, t=1.0, n_draws=1)
    with pytest.raises(ParameterError, match="level must be a number in"):
        clv.predict_interval(bg, cdnow_summary, t=1.0, level=95)
    with pytest.raises(ParameterError, match="model must be a fitted BetaGeo"):
        clv.predict_interval(gg, cdnow_summary, t=1.0)
    rebuilt = at(clv.BetaGeo, bg.params_)  # as a saved model is loaded: params_ only
    with pytest.raises(ParameterError, match="no covariance"):
        clv.predict_interval(rebuilt, cdnow_summary, t=1.0)
