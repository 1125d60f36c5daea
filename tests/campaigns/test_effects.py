"""The arm differences on small fixed data: by hand and by statsmodels, to 1e-10 where the
method is the same; the bootstrap seeded and agreeing with the normal intervals."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from retaillab.campaigns import (
    bootstrap_difference,
    mean_difference,
    proportion_difference,
    wilson_interval,
)

# control 18 of 210 converted, treatment 30 of 200
X_T, N_T, X_C, N_C = 30, 200, 18, 210
Z95 = 1.959963984540054
# revenue per customer of two small arms, written out
REV_C = np.array([0, 0, 12.5, 40, 0, 7.5, 0, 22, 0, 5.25, 60, 0])
REV_T = np.array([0, 30, 15, 0, 55, 0, 18, 9, 0, 27, 80.5, 0, 12, 0, 41])


def test_two_proportion_z_test_equals_the_pooled_formula_and_statsmodels():
    from statsmodels.stats.proportion import proportions_ztest, test_proportions_2indep

    found = proportion_difference(X_T, N_T, X_C, N_C)
    p_t, p_c = 30 / 200, 18 / 210
    pooled = 48 / 410
    z = (p_t - p_c) / math.sqrt(pooled * (1 - pooled) * (1 / 200 + 1 / 210))
    assert found.difference == pytest.approx(0.15 - 18 / 210, abs=1e-15)
    assert found.statistic == pytest.approx(z, abs=1e-12)
    assert found.p_value == pytest.approx(math.erfc(abs(z) / math.sqrt(2)), abs=1e-12)
    z_sm, p_sm = proportions_ztest([X_T, X_C], [N_T, N_C])
    assert found.statistic == pytest.approx(z_sm, abs=1e-10)
    assert found.p_value == pytest.approx(p_sm, abs=1e-10)
    score = test_proportions_2indep(X_T, N_T, X_C, N_C, method="score", correction=False)
    assert found.p_value == pytest.approx(score.pvalue, abs=1e-10)
    assert found.test == "two-proportion z test"


def _wilson(x: int, n: int) -> tuple[float, float]:
    z = Z95
    centre = (x + z * z / 2) / (n + z * z)
    half = z / (n + z * z) * math.sqrt(x * (n - x) / n + z * z / 4)
    return centre - half, centre + half


def test_newcombe_interval_equals_the_hand_formula_and_statsmodels():
    from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

    found = proportion_difference(X_T, N_T, X_C, N_C)
    p_t, p_c = 30 / 200, 18 / 210
    (l_t, u_t), (l_c, u_c) = _wilson(30, 200), _wilson(18, 210)
    d = p_t - p_c
    assert found.ci_low == pytest.approx(d - math.sqrt((p_t - l_t) ** 2 + (u_c - p_c) ** 2),
                                         abs=1e-12)
    assert found.ci_high == pytest.approx(d + math.sqrt((u_t - p_t) ** 2 + (p_c - l_c) ** 2),
                                          abs=1e-12)
    low, high = confint_proportions_2indep(X_T, N_T, X_C, N_C, method="newcomb")
    assert (found.ci_low, found.ci_high) == pytest.approx((low, high), abs=1e-10)
    assert found.interval == "Newcombe hybrid score"
    assert wilson_interval(30, 200) == pytest.approx(
        proportion_confint(30, 200, method="wilson"), abs=1e-12)


def test_wald_interval_equals_the_hand_formula_and_statsmodels():
    from statsmodels.stats.proportion import confint_proportions_2indep

    found = proportion_difference(X_T, N_T, X_C, N_C, interval="wald")
    p_t, p_c = 0.15, 18 / 210
    half = Z95 * math.sqrt(p_t * (1 - p_t) / 200 + p_c * (1 - p_c) / 210)
    assert (found.ci_low, found.ci_high) == pytest.approx((p_t - p_c - half, p_t - p_c + half),
                                                          abs=1e-12)
    low, high = confint_proportions_2indep(X_T, N_T, X_C, N_C, method="wald")
    assert (found.ci_low, found.ci_high) == pytest.approx((low, high), abs=1e-10)


def test_relative_lift_interval_is_katz_log_ratio_as_statsmodels():
    from statsmodels.stats.proportion import confint_proportions_2indep

    found = proportion_difference(X_T, N_T, X_C, N_C)
    ratio = (30 / 200) / (18 / 210)
    half = Z95 * math.sqrt((1 - 0.15) / 30 + (1 - 18 / 210) / 18)  # Katz: (1-p)/x per arm
    assert found.relative_lift == pytest.approx(ratio - 1, abs=1e-12)
    assert found.lift_low == pytest.approx(ratio * math.exp(-half) - 1, abs=1e-12)
    assert found.lift_high == pytest.approx(ratio * math.exp(half) - 1, abs=1e-12)
    low, high = confint_proportions_2indep(X_T, N_T, X_C, N_C, method="log", compare="ratio")
    assert (found.lift_low, found.lift_high) == pytest.approx((low - 1, high - 1), abs=1e-10)


def test_welch_t_equals_the_hand_formula_and_statsmodels():
    from statsmodels.stats.weightstats import CompareMeans, DescrStatsW, ttest_ind

    found = mean_difference(REV_T, REV_C)
    # by hand: sums of the lists above, the ddof=1 variances, Welch-Satterthwaite df
    m_t, m_c = sum(REV_T) / 15, sum(REV_C) / 12
    v_t = sum((x - m_t) ** 2 for x in REV_T) / 14 / 15
    v_c = sum((x - m_c) ** 2 for x in REV_C) / 11 / 12
    se = math.sqrt(v_t + v_c)
    df = (v_t + v_c) ** 2 / (v_t ** 2 / 14 + v_c ** 2 / 11)
    t = (m_t - m_c) / se
    half = stats.t.ppf(0.975, df) * se
    assert found.difference == pytest.approx(m_t - m_c, abs=1e-12)
    assert (found.statistic, found.df) == pytest.approx((t, df), abs=1e-10)
    assert (found.ci_low, found.ci_high) == pytest.approx((m_t - m_c - half, m_t - m_c + half),
                                                          abs=1e-10)
    t_sm, p_sm, df_sm = ttest_ind(REV_T, REV_C, usevar="unequal")
    assert (found.statistic, found.p_value, found.df) == pytest.approx((t_sm, p_sm, df_sm),
                                                                       abs=1e-10)
    compare = CompareMeans(DescrStatsW(REV_T), DescrStatsW(REV_C))
    low, high = compare.tconfint_diff(alpha=0.05, usevar="unequal")
    assert (found.ci_low, found.ci_high) == pytest.approx((low, high), abs=1e-10)
    assert found.test == "Welch t test"


def test_other_levels_follow_statsmodels_too():
    from statsmodels.stats.proportion import confint_proportions_2indep
    from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

    p = proportion_difference(X_T, N_T, X_C, N_C, level=0.9)
    assert (p.ci_low, p.ci_high) == pytest.approx(confint_proportions_2indep(
        X_T, N_T, X_C, N_C, method="newcomb", alpha=0.1), abs=1e-10)
    m = mean_difference(REV_T, REV_C, level=0.99)
    assert (m.ci_low, m.ci_high) == pytest.approx(CompareMeans(
        DescrStatsW(REV_T), DescrStatsW(REV_C)).tconfint_diff(alpha=0.01, usevar="unequal"),
        abs=1e-10)


def test_constant_arms_give_a_point_and_no_evidence():
    same = mean_difference(np.full(5, 3.0), np.full(4, 3.0))
    assert (same.difference, same.ci_low, same.ci_high, same.p_value) == (0.0, 0.0, 0.0, 1.0)
    nobody = proportion_difference(0, 50, 0, 60)
    assert nobody.p_value == 1.0 and nobody.difference == 0.0
    assert nobody.ci_low < 0 < nobody.ci_high  # Wilson keeps width at 0 conversions


def test_a_seeded_bootstrap_gives_the_same_interval_twice():
    first = bootstrap_difference(REV_T, REV_C, n_resamples=500, seed=7)
    again = bootstrap_difference(REV_T, REV_C, n_resamples=500, seed=7)
    other = bootstrap_difference(REV_T, REV_C, n_resamples=500, seed=8)
    assert first == again
    assert first != other


def test_bootstrap_agrees_with_welch_and_wald_on_large_arms():
    rng = np.random.default_rng(3)
    control, treatment = rng.gamma(2.0, 10.0, 4000), rng.gamma(2.0, 10.5, 3000)
    low, high = bootstrap_difference(treatment, control, n_resamples=2000, seed=0)
    welch = mean_difference(treatment, control)
    width = welch.ci_high - welch.ci_low
    # percentile ends move by Monte-Carlo error ~ width/15 at 2,000 resamples
    assert abs(low - welch.ci_low) < 0.1 * width and abs(high - welch.ci_high) < 0.1 * width
    # 0/1 values: counts drawn as Binomial(n, p), the resampled count's exact distribution
    y_c, y_t = (rng.random(4000) < 0.10).astype(float), (rng.random(3000) < 0.12).astype(float)
    b_low, b_high = bootstrap_difference(y_t, y_c, n_resamples=4000, seed=1)
    wald = proportion_difference(int(y_t.sum()), 3000, int(y_c.sum()), 4000, interval="wald")
    w = wald.ci_high - wald.ci_low
    assert abs(b_low - wald.ci_low) < 0.06 * w and abs(b_high - wald.ci_high) < 0.06 * w


def test_binary_bootstrap_shortcut_matches_resampling_customers():
    # the binomial draw against resampling 0/1 values by index (values nudged off 0/1 so
    # the general path runs): the two bootstrap distributions' quantiles agree
    rng = np.random.default_rng(5)
    y_c, y_t = (rng.random(800) < 0.2).astype(float), (rng.random(700) < 0.3).astype(float)
    fast = bootstrap_difference(y_t, y_c, n_resamples=8000, seed=2)
    slow = bootstrap_difference(y_t + 1e-9, y_c + 1e-9, n_resamples=8000, seed=2)
    # each end has Monte-Carlo error ~0.0007 at 8,000 resamples; 0.004 is 4 SE of a difference
    assert fast == pytest.approx(slow, abs=0.004)
