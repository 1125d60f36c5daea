"""Likelihood-ratio tests of nested CLV fits, restricted fits (``fit(fixed=...)``) and the
labelling of standard errors that come from a penalised objective (issue #13, item 5)."""

from __future__ import annotations

import copy
import math
import warnings

import numpy as np
import pytest
from scipy import stats

from retaillab import clv
from retaillab.errors import DataError, ParameterError

TRUTH = {"r": 0.24, "alpha": 4.41, "a": 0.79, "b": 2.43}


@pytest.fixture(scope="module")
def fits(cdnow_summary):
    return {"free": clv.BetaGeo().fit(cdnow_summary),
            "penalised": clv.BetaGeo(penalizer=0.01).fit(cdnow_summary),
            "r_fixed": clv.BetaGeo().fit(cdnow_summary, fixed={"r": 0.3})}


def test_penalised_against_unpenalised(fits, cdnow_summary):
    """(d) Same model and data: statistic >= 0, df = the 4 free parameters (the penalised
    estimates as a point hypothesis), p in [0, 1]; log_likelihood_ is the unpenalised
    log-likelihood at the penalised estimates (no penalty in it)."""
    pen, free = fits["penalised"], fits["free"]
    assert pen.log_likelihood_ == pytest.approx(pen.log_likelihood(cdnow_summary), rel=1e-12)
    assert pen.log_likelihood_ < free.log_likelihood_
    statistic, df, p_value = clv.likelihood_ratio_test(pen, free)
    assert statistic == pytest.approx(2 * (free.log_likelihood_ - pen.log_likelihood_))
    assert statistic >= 0 and df == 4 and 0 <= p_value <= 1
    assert p_value == pytest.approx(stats.chi2.sf(statistic, 4))
    # penalizer 0.01 pulls CDNOW's estimates far (alpha 4.4 -> 1.5): clearly rejected
    assert p_value < 1e-6
    tiny = clv.BetaGeo(penalizer=1e-7).fit(cdnow_summary)
    assert clv.likelihood_ratio_test(tiny, free).p_value > 0.99  # hardly moved: not rejected


def test_p_value_by_hand(fits):
    """The p-value is the chi-square upper tail: for one degree of freedom
    ``erfc(sqrt(statistic / 2))``, for two ``exp(-statistic / 2)``."""
    restricted, free = fits["r_fixed"], fits["free"]
    one = clv.likelihood_ratio_test(restricted, free)
    assert one.df == 1 and one.statistic > 0
    assert one.p_value == pytest.approx(math.erfc(math.sqrt(one.statistic / 2)), rel=1e-10)
    two = clv.likelihood_ratio_test(restricted, free, df=2)
    assert two.statistic == one.statistic
    assert two.p_value == pytest.approx(math.exp(-two.statistic / 2), rel=1e-10)
    # known statistics: the 5% critical values 3.8415 (df 1) and 2 ln 20 = 5.9915 (df 2)
    for statistic, df in ((3.841458820694124, 1), (2 * math.log(20), 2)):
        known = copy.copy(restricted)
        known.log_likelihood_ = free.log_likelihood_ - statistic / 2
        found = clv.likelihood_ratio_test(known, free, df=df)
        assert found.statistic == pytest.approx(statistic, rel=1e-9)
        assert found.p_value == pytest.approx(0.05, rel=1e-8)


def test_rejects_at_about_the_nominal_rate_when_the_restriction_is_true(simulate_bg):
    """(d) 150 data sets of 1,000 customers drawn by BG/NBD with r = 0.24: r fixed at 0.24
    against r free is rejected at 5% in 2-15 of them (1.3-10%; measured 7, and 8, 7, 12 for
    three other batches of 150 seeds), and the statistics follow chi-square(1)
    (Kolmogorov-Smirnov p > 0.01, mean within 0.7-1.35; measured 1.08, the others
    0.92-1.08). With r fixed at 0.4 instead (false) every one of 5 larger data sets is
    rejected at 1%."""
    statistics = []
    for seed in range(150):
        summary, _ = simulate_bg(TRUTH, 1000, 1000 + seed)
        full = clv.BetaGeo().fit(summary)
        restricted = clv.BetaGeo().fit(summary, fixed={"r": TRUTH["r"]})
        statistics.append(clv.likelihood_ratio_test(restricted, full).statistic)
    statistics = np.array(statistics)
    rejected = int(np.sum(stats.chi2.sf(statistics, 1) < 0.05))
    assert 2 <= rejected <= 15, rejected
    assert 0.7 < statistics.mean() < 1.35
    assert stats.kstest(statistics, "chi2", args=(1,)).pvalue > 0.01
    for seed in range(5):
        summary, _ = simulate_bg(TRUTH, 3000, 5000 + seed)
        wrong = clv.BetaGeo().fit(summary, fixed={"r": 0.4})
        assert clv.likelihood_ratio_test(wrong, clv.BetaGeo().fit(summary)).p_value < 0.01


def test_refuses_models_fitted_on_different_data(fits, cdnow_summary):
    """(e) Different customers, the same number of customers with different values, a spend
    model against a purchase model: refused before any statistic is computed."""
    free = fits["free"]
    fewer = clv.BetaGeo().fit(cdnow_summary.iloc[:-10], fixed={"r": 0.3})
    with pytest.raises(DataError, match=r"different data: 2347 customers \(restricted\) vs "
                                        r"2357"):
        clv.likelihood_ratio_test(fewer, free)
    shifted = cdnow_summary.assign(T=cdnow_summary["T"] + 1.0)
    moved = clv.BetaGeo().fit(shifted, fixed={"r": 0.3})
    with pytest.raises(DataError, match=r"same number of customers \(2357\) .*fingerprints"):
        clv.likelihood_ratio_test(moved, free)
    # the same customers in another order are the same data
    reordered = clv.BetaGeo().fit(cdnow_summary.iloc[::-1], fixed={"r": 0.3})
    assert reordered.data_fingerprint_ == fits["r_fixed"].data_fingerprint_
    assert clv.likelihood_ratio_test(reordered, free).df == 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        gg = clv.GammaGamma().fit(cdnow_summary)
    with pytest.raises(DataError, match="different data"):
        clv.likelihood_ratio_test(gg, free, df=1)


def test_refuses_fits_that_do_not_nest(fits, cdnow_summary):
    free, pen, r_fixed = fits["free"], fits["penalised"], fits["r_fixed"]
    with pytest.raises(ParameterError, match="full must be an unpenalised fit"):
        clv.likelihood_ratio_test(free, pen)
    with pytest.raises(ParameterError, match="nothing is restricted"):
        clv.likelihood_ratio_test(free, clv.BetaGeo().fit(cdnow_summary))
    with pytest.raises(ParameterError, match="df must be given when comparing a "
                                             "ModifiedBetaGeo with a BetaGeo"):
        clv.likelihood_ratio_test(clv.ModifiedBetaGeo().fit(cdnow_summary), free)
    a_fixed = clv.BetaGeo().fit(cdnow_summary, fixed={"a": 0.7})
    with pytest.raises(ParameterError, match="full must be a fit whose fixed parameters"):
        clv.likelihood_ratio_test(a_fixed, r_fixed)
    with pytest.raises(ParameterError, match="df must be a whole number >= 1"):
        clv.likelihood_ratio_test(r_fixed, free, df=0)
    with pytest.raises(ParameterError, match="restricted must be a CLV model fitted here"):
        clv.likelihood_ratio_test(clv.BetaGeo(), free)
    # two fixed, one of them also fixed in full: one restriction
    both = clv.BetaGeo().fit(cdnow_summary, fixed={"r": 0.3, "a": 0.7})
    assert clv.likelihood_ratio_test(both, r_fixed).df == 1
    assert clv.likelihood_ratio_test(both, free).df == 2


def test_fixed_parameters(fits, cdnow_summary):
    """``fit(fixed=...)`` holds a parameter at its value (standard error 0, the same in every
    parameter draw) and estimates the others."""
    model = fits["r_fixed"]
    assert model.params_["r"] == 0.3 and model.fixed_ == {"r": 0.3}
    assert model.standard_errors_["r"] == 0 and model.standard_errors_["alpha"] > 0
    table = model.summary()
    assert table.loc["r", "lower_95"] == table.loc["r", "upper_95"] == 0.3
    assert "held fixed (se 0): r" in table.attrs["note"]
    assert (clv.parameter_draws(model, 50, seed=0)["r"] == 0.3).all()
    assert fits["free"].fixed_ == {}
    with pytest.raises(ParameterError, match="keys among r, alpha, a, b"):
        clv.BetaGeo().fit(cdnow_summary, fixed={"s": 1.0})
    with pytest.raises(ParameterError, match="leaving at least one parameter free"):
        clv.BetaGeo().fit(cdnow_summary, fixed=dict(TRUTH))
    with pytest.raises(ParameterError, match=r"fixed\['r'\] must be a number in"):
        clv.BetaGeo().fit(cdnow_summary, fixed={"r": -1.0})
    pareto = clv.ParetoNBD().fit(cdnow_summary, fixed={"s": 0.6})  # central differences
    assert pareto.params_["s"] == 0.6 and pareto.standard_errors_["s"] == 0


def test_standard_errors_say_when_they_come_from_the_penalised_objective(fits):
    """(3) With penalizer > 0 the model's se_basis_, the summary's attrs and its column
    header say the errors are the penalised objective's; without, the likelihood's."""
    pen, free = fits["penalised"], fits["free"]
    assert pen.se_basis_ == "penalised" and free.se_basis_ == "likelihood"
    table = pen.summary()
    assert list(table.columns) == ["estimate", "se", "lower_95", "upper_95"]
    assert table.attrs["se_basis"] == "penalised"
    assert "penalised objective (penalizer=0.01)" in table.attrs["note"]
    assert table.columns.name == "se: penalised (penalizer=0.01)"
    assert "se: penalised" in repr(table)
    plain = free.summary()
    assert plain.attrs["se_basis"] == "likelihood" and plain.columns.name is None
    assert "log-likelihood" in plain.attrs["note"]
    # estimates set by hand (a loaded model) fall back on what the penalizer implies
    loaded = clv.BetaGeo(penalizer=0.1)
    loaded.params_ = dict(pen.params_)
    assert loaded._se_basis() == "penalised"
