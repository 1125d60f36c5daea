"""CUPED on data with a planted correlation and effect: the variance falls to 1 - rho² (within
the sampling error of r²), the adjusted effect stays unbiased, and a readout reports both."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from retaillab.campaigns import cuped, mean_difference, readout
from retaillab.errors import DataError

EFFECT = 0.2  # planted difference in Y between the arms, in units of Y's sd


def world(rho: float, n_per_arm: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(y, x, arm): X and Y standard bivariate normal with correlation ``rho`` in each arm;
    the treatment arm's Y is shifted by EFFECT (X, the pre-period, is untouched)."""
    rng = np.random.default_rng(seed)
    n = 2 * n_per_arm
    x = rng.standard_normal(n)
    y = rho * x + math.sqrt(1 - rho ** 2) * rng.standard_normal(n)
    arm = np.repeat(np.array(["control", "treatment"]), n_per_arm)
    return y + EFFECT * (arm == "treatment"), x, arm


@pytest.mark.parametrize("rho", [0.5, 0.8])
def test_variance_ratio_is_one_minus_rho_squared(rho):
    n_per_arm = 10_000
    y, x, arm = world(rho, n_per_arm, seed=11)
    found = cuped(y, x, arm)
    # 1 - r² has sampling sd ~ 2 rho (1 - rho²) / sqrt(n) (delta method on r, whose sd is
    # (1 - rho²)/sqrt(n)): 0.0053 at rho 0.5 and 0.0041 at rho 0.8 for n = 20,000; allow 4 sd
    tolerance = 4 * 2 * rho * (1 - rho ** 2) / math.sqrt(2 * n_per_arm)
    assert abs(found.variance_ratio - (1 - rho ** 2)) < tolerance
    assert found.variance_ratio == pytest.approx(1 - found.correlation ** 2, abs=1e-12)
    # theta estimates the slope cov(Y, X)/var(X) = rho; its sd is sqrt((1-rho²)/n)
    assert abs(found.theta - rho) < 4 * math.sqrt((1 - rho ** 2) / (2 * n_per_arm))
    # the adjusted outcome is the formula's, centred on the overall mean of x
    assert np.allclose(found.adjusted, y - found.theta * (x - x.mean()), atol=1e-12)


def test_adjusted_effect_is_unbiased_and_tighter_over_seeds():
    rho, seeds = 0.8, range(40)
    raw, adjusted, ses = [], [], []
    for seed in seeds:
        y, x, arm = world(rho, 2000, seed=100 + seed)
        adj = cuped(y, x, arm).adjusted
        treated = arm == "treatment"
        raw.append(mean_difference(y[treated], y[~treated]).difference)
        found = mean_difference(adj[treated], adj[~treated])
        adjusted.append(found.difference)
        ses.append((found.ci_high - found.ci_low) / (2 * 1.96))
    adjusted, raw = np.array(adjusted), np.array(raw)
    se_of_mean = adjusted.std(ddof=1) / math.sqrt(len(seeds))
    # unbiased: the mean of 40 estimates lies within 3 of its standard errors of the planted
    # effect (within 1 would fail one seed set in three by design)
    assert abs(adjusted.mean() - EFFECT) < 3 * se_of_mean
    # tighter: sd ratio sqrt(1 - rho²) = 0.6; 40 seeds estimate an sd ratio to about 10%
    assert adjusted.std(ddof=1) / raw.std(ddof=1) == pytest.approx(0.6, abs=0.1)
    # and its interval is honest: Welch's se on the adjusted values matches their spread
    assert np.mean(ses) == pytest.approx(adjusted.std(ddof=1), rel=0.25)


def test_readout_adds_cuped_rows_with_the_variance_ratio():
    y, x, arm = world(0.8, 3000, seed=4)
    table = pd.DataFrame({"arm": arm, "revenue": y + 10, "pre": x + 5})
    found = readout(table, conversion=None, customer=None, pre="pre", n_resamples=200)
    rows = found.table.set_index("metric")
    assert list(rows.index) == ["revenue", "revenue_cuped"]
    cup = rows.loc["revenue_cuped"]
    assert cup["test"] == "Welch t test on CUPED-adjusted revenue"
    assert cup["variance_ratio"] == pytest.approx(0.36, abs=0.05)
    raw_width = rows.loc["revenue", "ci_high"] - rows.loc["revenue", "ci_low"]
    assert cup["ci_high"] - cup["ci_low"] == pytest.approx(
        raw_width * math.sqrt(cup["variance_ratio"]), rel=1e-3)
    assert cup["ci_low"] < EFFECT < cup["ci_high"]
    assert found.cuped.set_index("outcome").loc["revenue", "variance_ratio"] == pytest.approx(
        0.36, abs=0.03)
    assert "CUPED on revenue" in str(found)


def test_cuped_refuses_a_constant_covariate_and_unequal_lengths():
    with pytest.raises(DataError, match="constant"):
        cuped([1.0, 2.0, 3.0], [4.0, 4.0, 4.0])
    with pytest.raises(DataError, match="one pre-period value per customer"):
        cuped([1.0, 2.0, 3.0], [1.0, 2.0])
