"""Holdout evaluation on CDNOW against what Fader, Hardie & Lee (2005) report."""

from __future__ import annotations

import numpy as np
import pytest

from retaillab import clv

FHL = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PNBD = {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}


def _models():
    bg, pnbd = clv.BetaGeo(), clv.ParetoNBD()
    bg.params_, pnbd.params_ = dict(FHL), dict(PNBD)
    return {"bg_nbd": bg, "pareto_nbd": pnbd}


def test_tracking_reproduces_the_published_week_78_forecast(cdnow_tx):
    """FHL (2005), Sec. 5: by week 78 BG/NBD under-forecasts cumulative repeat sales by about
    4% and Pareto/NBD by about 2%."""
    track = clv.tracking(cdnow_tx, _models(), calibration_end="1997-09-30",
                         holdout_end="1998-06-30")
    assert len(track) == 78
    assert np.all(np.diff(track["actual"]) >= 0)
    last = track.iloc[-1]
    assert (last["bg_nbd"] / last["actual"] - 1) * 100 == pytest.approx(-4, abs=1.0)
    assert (last["pareto_nbd"] / last["actual"] - 1) * 100 == pytest.approx(-2, abs=1.0)
    assert track.attrs["calibration_end_step"] == pytest.approx(39, abs=0.2)


def test_conditional_expectations_by_frequency(cdnow_summary):
    """FHL (2005): of the 1,411 customers without repeat purchases in weeks 1-39, the mean
    in weeks 40-78 is 334/1411 = 0.24; BG/NBD predicts 0.23 for them."""
    table = clv.holdout_table(cdnow_summary, _models())
    by = clv.conditional_by_frequency(table)
    assert list(by.index) == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    assert by.loc["0", "customers"] == 1411
    assert by.loc["0", "actual"] == pytest.approx(334 / 1411, abs=1e-9)
    assert by.loc["0", "bg_nbd"] == pytest.approx(0.23, abs=0.01)


def test_metrics_against_a_naive_computation_and_the_baselines(cdnow_tx, cdnow_summary):
    duration = cdnow_summary["duration_holdout"].iloc[0]
    baselines = {"rate": clv.rate_baseline(cdnow_summary, duration),
                 "last": clv.last_period_baseline(cdnow_tx, cdnow_summary,
                                                  calibration_end="1997-09-30",
                                                  length=duration)}
    table = clv.holdout_table(cdnow_summary, _models(), baselines)
    metrics = clv.holdout_metrics(table)
    for name in ("bg_nbd", "rate", "last"):
        err = table[name] - table["actual"]
        assert metrics.loc[name, "mae"] == pytest.approx(err.abs().mean())
        assert metrics.loc[name, "rmse"] == pytest.approx(np.sqrt((err**2).mean()))
    # the models beat both naive baselines per customer
    assert metrics.loc["bg_nbd", "mae"] < min(metrics.loc["rate", "mae"],
                                              metrics.loc["last", "mae"])
    # a calibration-only repeat rate of frequency/T is what the rate baseline scales
    row = cdnow_summary.iloc[0]
    assert table["rate"].iloc[0] == pytest.approx(row["frequency"] / row["T"] * 39)


def test_last_period_baseline_by_hand():
    import pandas as pd

    tx = pd.DataFrame({"customer": [1, 1, 1, 1, 2, 2],
                       "date": pd.to_datetime(["2020-01-01", "2020-02-10", "2020-03-01",
                                               "2020-03-01", "2020-02-20", "2020-03-02"]),
                       "amount": 1.0})
    s = clv.rfm_summary(tx, calibration_end="2020-03-02", unit="D")
    got = clv.last_period_baseline(tx, s, calibration_end="2020-03-02", length=20, unit="D")
    # last 20 days = Feb 12 .. Mar 2. Customer 1: repeats on Feb 10 (outside) and Mar 1
    # (inside, twice that day = one occasion); customer 2: the first purchase (Feb 20) is not
    # a repeat, Mar 2 is
    assert got.to_dict() == {1: 1.0, 2: 1.0}
    # AOV of the repeat days (1.0 on Feb 10, 2.0 on Mar 1) x 2 repeats / 61 days x 10 days
    assert clv.simple_clv(s, lifetime=10).loc[1] == pytest.approx(1.5 * 2 / 61 * 10)
