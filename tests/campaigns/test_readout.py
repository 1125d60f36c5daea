"""The readout of a fixed campaign table: its rows equal statsmodels' tests, Holm over arms
as statsmodels' multipletests, plain verdicts, aggregates only, a reproducible bootstrap,
and a campaign file read with the house's reader."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from retaillab.campaigns import read_campaign, readout
from retaillab.errors import DataError


def fixed_table() -> pd.DataFrame:
    """Control: 210 customers, 18 converted; treatment: 200, 30 converted. Converted
    customers spend a fixed list of amounts; the others 0. Ids are 'cust-0000'..."""
    arm = ["control"] * 210 + ["treatment"] * 200
    converted = [1] * 18 + [0] * 192 + [1] * 30 + [0] * 170
    amounts = np.r_[np.linspace(10, 95, 18), np.zeros(192), np.linspace(12, 130, 30),
                    np.zeros(170)]
    pre = np.r_[np.linspace(0, 50, 210), np.linspace(0, 50, 200)][::-1]
    return pd.DataFrame({"customer": [f"cust-{i:04d}" for i in range(410)], "arm": arm,
                         "converted": converted, "revenue": amounts, "pre": pre})


@pytest.fixture(scope="module")
def found():
    return readout(fixed_table(), pre="pre", n_resamples=500, seed=3)


def test_rows_equal_statsmodels_tests(found):
    from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest
    from statsmodels.stats.weightstats import CompareMeans, DescrStatsW, ttest_ind

    conv = found.row("conversion")
    assert (conv["control_n"], conv["treatment_n"]) == (210, 200)
    assert (conv["control_value"], conv["treatment_value"]) == pytest.approx((18 / 210, 0.15))
    assert conv["p_value"] == pytest.approx(proportions_ztest([30, 18], [200, 210])[1],
                                            abs=1e-10)
    assert (conv["ci_low"], conv["ci_high"]) == pytest.approx(
        confint_proportions_2indep(30, 200, 18, 210, method="newcomb"), abs=1e-10)
    table = fixed_table()
    t = table.loc[table["arm"] == "treatment", "revenue"].to_numpy()
    c = table.loc[table["arm"] == "control", "revenue"].to_numpy()
    rev = found.row("revenue")
    assert rev["p_value"] == pytest.approx(ttest_ind(t, c, usevar="unequal")[1], abs=1e-10)
    assert (rev["ci_low"], rev["ci_high"]) == pytest.approx(CompareMeans(
        DescrStatsW(t), DescrStatsW(c)).tconfint_diff(usevar="unequal"), abs=1e-10)
    assert rev["difference"] == pytest.approx(t.mean() - c.mean(), abs=1e-12)
    # two arms: Holm leaves each p-value as it is
    assert (found.table["p_holm"] == found.table["p_value"]).all()
    assert list(found.table["metric"]) == ["conversion", "conversion_cuped", "revenue",
                                           "revenue_cuped"]


def test_wald_interval_on_request():
    from statsmodels.stats.proportion import confint_proportions_2indep

    row = readout(fixed_table(), revenue=None, interval="wald", n_resamples=200).row(
        "conversion")
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(
        confint_proportions_2indep(30, 200, 18, 210, method="wald"), abs=1e-10)
    assert row["interval"] == "Wald"


def test_verdict_says_it_plainly(found):
    from statsmodels.stats.proportion import confint_proportions_2indep

    low, high = confint_proportions_2indep(30, 200, 18, 210, method="newcomb")
    # 15% - 8.571% = +6.43 points, p = 0.043 (statsmodels: 0.04300); the interval printed to
    # one decimal of a point
    expected = (f"conversion, treatment vs control: +6.4 points [{low * 100:.1f}, "
                f"{high * 100:.1f}] (two-proportion z test, p = 0.043): established")
    assert found.verdicts[0] == expected
    assert expected == ("conversion, treatment vs control: +6.4 points [0.2, 12.8] "
                        "(two-proportion z test, p = 0.043): established")
    pre_only = [v for v in found.verdicts if v.startswith("revenue per customer (CUPED)")]
    assert len(pre_only) == 1


def test_an_interval_through_zero_is_not_established():
    table = fixed_table()
    table.loc[18:23, "converted"] = 1  # control 24 of 210: 11.4% vs 15%
    row = readout(table, revenue=None, n_resamples=200)
    assert not row.table["established"].iloc[0]
    assert row.verdicts[0].endswith("not established (interval includes 0)")


def test_three_arms_are_holm_corrected_against_control():
    from statsmodels.stats.multitest import multipletests
    from statsmodels.stats.proportion import proportions_ztest

    rng = np.random.default_rng(8)
    arms = np.repeat(["control", "b", "a", "c"], 3000)
    rates = pd.Series(arms).map({"control": 0.10, "a": 0.125, "b": 0.11, "c": 0.10}).to_numpy()
    table = pd.DataFrame({"arm": arms, "converted": (rng.random(arms.size) < rates)})
    found = readout(table, revenue=None, customer=None, n_resamples=200)
    rows = found.table.set_index("arm")
    assert list(rows.index) == ["a", "b", "c"]  # ordered by name, not by row order
    x = table.groupby("arm")["converted"].sum()
    p = [proportions_ztest([x[a], x["control"]], [3000, 3000])[1] for a in ("a", "b", "c")]
    assert rows["p_value"].to_numpy() == pytest.approx(p, abs=1e-10)
    assert rows["p_holm"].to_numpy() == pytest.approx(multipletests(p, method="holm")[1],
                                                      abs=1e-12)
    assert "Holm p = " in found.verdicts[0]
    assert rows["established"].tolist() == [p_h < 0.05 and lo > 0 for p_h, lo in
                                            zip(rows["p_holm"], rows["ci_low"], strict=True)]
    assert list(found.arms["arm"]) == ["control", "a", "b", "c"]


def test_the_readout_shows_aggregates_only(found):
    text = str(found) + found.table.to_string() + found.arms.to_string() \
        + found.srm.table.to_string()
    assert "cust-" not in text
    assert list(found.arms.columns) == ["arm", "customers", "share", "conversion", "revenue",
                                        "pre"]
    assert found.arms["customers"].tolist() == [210, 200]


def test_a_seeded_readout_gives_the_same_bootstrap_intervals_twice(found):
    again = readout(fixed_table(), pre="pre", n_resamples=500, seed=3)
    other = readout(fixed_table(), pre="pre", n_resamples=500, seed=4)
    columns = ["boot_low", "boot_high"]
    pd.testing.assert_frame_equal(found.table[columns], again.table[columns])
    assert not found.table[columns].equals(other.table[columns])
    # and each row has its own stream: the two conversion rows (raw, CUPED) differ
    assert found.table.loc[0, "boot_low"] != found.table.loc[1, "boot_low"]


def test_missing_outcomes_can_be_dropped_and_are_counted():
    table = fixed_table()
    table["revenue"] = table["revenue"].astype(float)
    table.loc[[3, 250, 251], "revenue"] = np.nan
    with pytest.raises(DataError, match="3 of 410 customers have no value"):
        readout(table, n_resamples=200)
    found = readout(table, missing="drop", n_resamples=200)
    assert found.dropped == 3
    assert found.arms["customers"].tolist() == [209, 198]
    assert "3 customers left out for a missing value" in str(found)


def test_read_campaign_reads_a_file_with_the_house_checks(tmp_path):
    path = tmp_path / "campaign.csv"
    table = fixed_table()
    table["converted"] = table["converted"].map({1: "yes", 0: "no"})
    table.to_csv(path, index=False)
    read = read_campaign(path)
    assert read["converted"].dtype == bool
    direct = readout(fixed_table(), pre="pre", n_resamples=200, seed=1).table
    via_file = readout(read, pre="pre", n_resamples=200, seed=1).table
    pd.testing.assert_frame_equal(direct, via_file, check_dtype=False)
    path.write_text(path.read_text() + "cust-0001,control,no,0,3\n")
    with pytest.raises(DataError, match="repeat a customer id"):
        read_campaign(path)
