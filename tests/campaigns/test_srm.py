"""The sample-ratio check: chi-square by hand and by scipy, flagged below 0.001, and a readout
that refuses to call any effect established when it is flagged."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from retaillab.campaigns import readout, srm


def test_a_lopsided_split_is_flagged():
    found = srm({"control": 5000, "treatment": 5400})
    # by hand: expected 5,200 each; chi2 = 2 * 200² / 5200 = 15.38, 1 df
    assert found.chi2 == pytest.approx(2 * 200 ** 2 / 5200, abs=1e-12)
    assert found.dof == 1
    assert found.p_value == pytest.approx(stats.chi2.sf(2 * 200 ** 2 / 5200, 1), rel=1e-12)
    assert found.p_value < 1e-4
    assert found.flagged
    assert "sample ratio mismatch" in str(found)


def test_five_thousand_against_five_thousand_three_hundred_is_below_the_threshold():
    # the example: p = 0.0031, which 0.001 does not flag (a stricter 0.01 would)
    found = srm({"control": 5000, "treatment": 5300})
    reference = stats.chisquare([5000, 5300])
    assert (found.chi2, found.p_value) == pytest.approx(
        (reference.statistic, reference.pvalue), rel=1e-12)
    assert found.p_value == pytest.approx(0.0031, abs=5e-5)
    assert not found.flagged
    assert srm({"control": 5000, "treatment": 5300}, threshold=0.01).flagged


def test_a_balanced_split_and_a_planned_unequal_split_are_not_flagged():
    assert not srm({"control": 5000, "treatment": 5030}).flagged
    planned = {"control": 0.2, "a": 0.4, "b": 0.4}
    found = srm({"control": 2000, "a": 4050, "b": 3950}, planned)
    expected = np.array([2000, 4000, 4000])
    assert found.chi2 == pytest.approx(((np.array([2000, 4050, 3950]) - expected) ** 2
                                        / expected).sum(), abs=1e-12)
    assert found.dof == 2 and not found.flagged
    # the same counts against an equal split are far off
    assert srm({"control": 2000, "a": 4050, "b": 3950}).flagged
    # weights need not sum to 1
    assert srm({"control": 2000, "a": 4050, "b": 3950}, {"control": 1, "a": 2, "b": 2}).chi2 \
        == pytest.approx(found.chi2, abs=1e-12)


def _table(n_control: int, n_treatment: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    arm = np.repeat(["control", "treatment"], [n_control, n_treatment])
    rate = np.where(arm == "treatment", 0.16, 0.10)  # a large, clear effect
    return pd.DataFrame({"customer": np.arange(arm.size), "arm": arm,
                         "converted": (rng.random(arm.size) < rate).astype(int)})


def test_readout_refuses_to_call_an_effect_established_under_a_mismatch():
    found = readout(_table(5000, 5400), revenue=None, n_resamples=200)
    row = found.row("conversion")
    assert row["ci_low"] > 0 and row["p_value"] < 1e-10  # the effect itself is clear
    assert found.srm.flagged
    assert not found.table["established"].any()
    assert "not established (sample ratio mismatch" in found.verdicts[0]
    assert "sample ratio mismatch" in str(found)


def test_readout_of_a_balanced_test_establishes_the_clear_effect():
    found = readout(_table(5000, 5000), revenue=None, n_resamples=200)
    assert not found.srm.flagged
    assert found.table["established"].all()
    assert found.verdicts[0].endswith(": established")


def test_readout_checks_against_the_planned_split():
    table = _table(3000, 7000)
    assert readout(table, revenue=None, n_resamples=200).srm.flagged
    planned = readout(table, revenue=None, n_resamples=200,
                      planned={"control": 0.3, "treatment": 0.7})
    assert not planned.srm.flagged
    assert planned.srm.table["planned_share"].tolist() == pytest.approx([0.3, 0.7])
