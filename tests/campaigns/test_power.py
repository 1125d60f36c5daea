"""Planning: the textbook 10% -> 12% example by the closed forms and by statsmodels, means
against TTestIndPower, and n -> power -> mde round trips for every convention."""

from __future__ import annotations

import math

import pytest
from scipy import stats

from retaillab.campaigns import mde, power, sample_size
from retaillab.errors import ParameterError

Z_A, Z_B = stats.norm.ppf(0.975), stats.norm.ppf(0.8)  # 1.95996, 0.84162


def test_pooled_sample_size_is_fleiss_closed_form_3841_per_arm():
    # 10% baseline, +20% relative -> 12%; pbar = 0.11
    p_c, p_t, pbar = 0.10, 0.12, 0.11
    closed = (Z_A * math.sqrt(2 * pbar * (1 - pbar))
              + Z_B * math.sqrt(p_c * (1 - p_c) + p_t * (1 - p_t))) ** 2 / 0.02 ** 2
    assert closed == pytest.approx(3840.84, abs=0.01)
    plan = sample_size(baseline=0.10, mde=0.20, relative=True)
    assert plan.method == "pooled"
    assert plan.mde == pytest.approx(0.02, abs=1e-15)
    assert plan.n_control == pytest.approx(closed, abs=0.01)  # the far tail: 1e-6 of power
    assert plan.customers == (3841, 3841)
    assert "3,841 customers per arm" in str(plan)


def test_unpooled_sample_size_is_the_wald_closed_form():
    closed = (Z_A + Z_B) ** 2 * (0.10 * 0.90 + 0.12 * 0.88) / 0.02 ** 2
    plan = sample_size(baseline=0.10, mde=0.02, method="unpooled")
    assert plan.n_control == pytest.approx(closed, abs=0.01)
    assert plan.customers == (3839, 3839)


def test_arcsine_matches_statsmodels_normal_ind_power():
    from statsmodels.stats.power import NormalIndPower
    from statsmodels.stats.proportion import proportion_effectsize

    h = proportion_effectsize(0.12, 0.10)
    for ratio in (1.0, 2.5):
        plan = sample_size(baseline=0.10, mde=0.02, method="arcsine", ratio=ratio)
        reference = NormalIndPower().solve_power(effect_size=h, alpha=0.05, power=0.8,
                                                 ratio=ratio)
        assert plan.n_control == pytest.approx(reference, rel=1e-8)
        assert plan.n_treatment == pytest.approx(ratio * reference, rel=1e-8)
        got = power(baseline=0.10, mde=0.02, n=1500, method="arcsine", ratio=ratio).power
        assert got == pytest.approx(NormalIndPower().power(h, nobs1=1500, alpha=0.05,
                                                           ratio=ratio), abs=1e-10)
    assert sample_size(baseline=0.10, mde=0.02, method="arcsine").customers == (3835, 3835)


def test_means_match_statsmodels_t_test_ind_power():
    from statsmodels.stats.power import TTestIndPower

    for ratio in (1.0, 2.0):
        plan = sample_size(sd=12.0, mde=1.5, ratio=ratio)
        assert plan.method == "t"
        reference = TTestIndPower().solve_power(effect_size=1.5 / 12, alpha=0.05, power=0.8,
                                                ratio=ratio)
        assert plan.n_control == pytest.approx(reference, rel=1e-8)
        got = power(sd=12.0, mde=1.5, n=700, ratio=ratio, alpha=0.01).power
        assert got == pytest.approx(TTestIndPower().power(1.5 / 12, nobs1=700, alpha=0.01,
                                                          ratio=ratio), abs=1e-10)


def test_means_normal_approximation_is_the_closed_form():
    closed = (Z_A + Z_B) ** 2 * 12.0 ** 2 * 2 / 1.5 ** 2
    plan = sample_size(sd=12.0, mde=1.5, method="normal")
    assert plan.n_control == pytest.approx(closed, abs=0.01)
    # a relative MDE on means needs the control's mean: 1.5 is 5% of 30
    rel = sample_size(sd=12.0, mde=0.05, baseline=30.0, relative=True, method="normal")
    assert rel.n_control == pytest.approx(plan.n_control, rel=1e-9)
    assert rel.mde_relative == pytest.approx(0.05)


@pytest.mark.parametrize("kind,method", [("p", "pooled"), ("p", "unpooled"), ("p", "arcsine"),
                                         ("m", "t"), ("m", "normal")])
def test_n_mde_and_power_round_trip(kind, method):
    given = {"baseline": 0.04} if kind == "p" else {"sd": 30.0}
    effect = 0.006 if kind == "p" else 2.0
    plan = sample_size(**given, mde=effect, power=0.9, alpha=0.01, ratio=1.5, method=method)
    back = power(**given, mde=effect, n=plan.n_control, alpha=0.01, ratio=1.5, method=method)
    assert back.power == pytest.approx(0.9, abs=1e-9)
    found = mde(**given, n=plan.n_control, power=0.9, alpha=0.01, ratio=1.5, method=method)
    assert found.mde == pytest.approx(effect, rel=1e-8)
    # more customers, smaller effects
    bigger = mde(**given, n=4 * plan.n_control, power=0.9, alpha=0.01, ratio=1.5,
                 method=method)
    assert bigger.mde < found.mde


def test_planning_refuses_what_cannot_be_planned():
    with pytest.raises(ParameterError, match="baseline or sd"):
        sample_size(mde=0.02)
    with pytest.raises(ParameterError, match="baseline"):
        sample_size(baseline=1.2, mde=0.02)
    with pytest.raises(ParameterError, match="below 1"):
        sample_size(baseline=0.9, mde=0.2)
    with pytest.raises(ParameterError, match="method"):
        sample_size(baseline=0.1, mde=0.02, method="t")
    with pytest.raises(ParameterError, match="n must be"):
        mde(baseline=0.5, n=2, power=0.99)
    with pytest.raises(ParameterError, match="relative MDE on means"):
        sample_size(sd=10.0, mde=0.1, relative=True)
