"""RFM summary against lifetimes' CDNOW summary, hand-made cases, scores and segments."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from retaillab import clv
from retaillab.errors import DataError, ParameterError


def test_cdnow_summary_is_the_standard_one(cdnow_summary):
    """lifetimes ships the standard CDNOW calibration summary (2,357 customers, weeks 1-39,
    recency and T rounded to 2 decimals, ids renumbered 1..2357): the same multiset of
    (frequency, recency, T) rows."""
    from lifetimes.datasets import load_cdnow_summary

    ref = load_cdnow_summary(index_col=[0])
    assert len(cdnow_summary) == len(ref) == 2357
    cols = ["frequency", "recency", "T"]
    ours = cdnow_summary[cols].round(2).astype(float).sort_values(cols).to_numpy()
    theirs = ref[cols].astype(float).sort_values(cols).to_numpy()
    np.testing.assert_array_equal(ours, theirs)
    assert int((cdnow_summary["frequency"] > 0).sum()) == 946


def test_hand_made_summary():
    tx = pd.DataFrame({
        "customer": ["a", "a", "a", "a", "b", "c", "c", "d"],
        "date": pd.to_datetime(["2020-01-01", "2020-01-01", "2020-01-15", "2020-01-29",
                                "2020-01-08", "2020-01-22", "2020-02-12", "2020-03-01"]),
        "amount": [10.0, 5.0, 20.0, 40.0, 7.0, 3.0, 9.0, 1.0],
    })
    s = clv.rfm_summary(tx, calibration_end="2020-01-29", unit="W", holdout_end="2020-02-26")
    assert list(s.index) == ["a", "b", "c"]  # d starts after calibration
    assert s.loc["a", "frequency"] == 2  # two purchases on Jan 1 are one occasion
    assert s.loc["a", "recency"] == pytest.approx(4.0)
    assert s.loc["a", "T"] == pytest.approx(4.0)
    assert s.loc["a", "monetary_value"] == pytest.approx(30.0)  # mean of 20 and 40
    assert s.loc["b", ["frequency", "recency", "monetary_value"]].tolist() == [0, 0, 0]
    assert s.loc["b", "T"] == pytest.approx(3.0)
    assert s.loc["c", "frequency_holdout"] == 1
    assert s.loc["c", "monetary_value_holdout"] == pytest.approx(9.0)
    assert s["duration_holdout"].iloc[0] == pytest.approx(4.0)
    days = clv.rfm_summary(tx, calibration_end="2020-01-29", unit="D")
    assert days.loc["a", "T"] == 28


def test_scores_and_segments(cdnow_summary):
    seg = clv.rfm_segments(cdnow_summary)
    value = {"r_score": -(cdnow_summary["T"] - cdnow_summary["recency"]),
             "f_score": cdnow_summary["frequency"], "m_score": cdnow_summary["monetary_value"]}
    for col, v in value.items():
        # monotone in the value, ties share a score, the worst get 1 and the best 5
        order = np.argsort(v.to_numpy(), kind="stable")
        assert np.all(np.diff(seg[col].to_numpy()[order]) >= 0), col
        assert seg[col].groupby(v.to_numpy()).nunique().max() == 1, col
        assert seg.loc[v.idxmin(), col] == 1 and seg.loc[v.idxmax(), col] == 5, col
    # quintiles of distinct values are equal-sized
    distinct = clv.rfm_scores(pd.DataFrame({"frequency": np.arange(100), "recency": 0.0,
                                            "T": 1.0, "monetary_value": np.arange(100.0)}))
    assert distinct["f_score"].value_counts().tolist() == [20] * 5
    best = cdnow_summary["frequency"].idxmax()
    assert seg.loc[best, "f_score"] == 5
    assert not seg["segment"].isna().any()
    # most recent and most frequent customers are Champions; long-gone one-timers hibernate
    champs = seg[(seg["r_score"] == 5) & (seg["f_score"] >= 4)]
    assert (champs["segment"] == "Champions").all()
    assert (seg.loc[(seg["r_score"] == 1) & (seg["f_score"] == 1), "segment"]
            == "Hibernating").all()


def test_holdout_end_before_calibration_end(cdnow_tx):
    with pytest.raises(ParameterError, match="holdout_end must be after calibration_end"):
        clv.rfm_summary(cdnow_tx, calibration_end="1997-09-30", holdout_end="1997-06-30")


def test_bad_transactions_named(cdnow_tx):
    with pytest.raises(ParameterError, match="unit must be one of"):
        clv.rfm_summary(cdnow_tx, calibration_end="1997-09-30", unit="M")
    with pytest.raises(DataError, match=r"missing column.*'amount'"):
        clv.rfm_summary(cdnow_tx.drop(columns="amount"), calibration_end="1997-09-30")
    broken = cdnow_tx.head(20).astype({"date": object})
    broken.loc[3, "date"] = "not a date"
    with pytest.raises(DataError, match="dates that cannot be read"):
        clv.rfm_summary(broken, calibration_end="1997-09-30")
    with pytest.raises(ParameterError, match="calibration_end"):
        clv.rfm_summary(cdnow_tx, calibration_end="someday")
