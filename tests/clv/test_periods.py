"""Calibration and holdout periods the data must cover, and cut-offs that are whole days
(issue #11), on timestamped orders; CDNOW (dates without a time) is unchanged."""

from __future__ import annotations

import pandas as pd
import pytest

from retaillab import clv
from retaillab.clv.compare import compare
from retaillab.errors import DataError, ParameterError

#: calibration_end 1997-12-31, holdout_end 1998-01-15, unit "D":
#:   A: 12-01 10:00 (10), 12-31 15:30 (20) | 01-10 (5)   -> frequency 1, recency 30, T 30,
#:                                                          holdout 1 purchase of 5
#:   B: 12-20 09:00 (5) | 1998-01-01 00:00 (7)          -> frequency 0, T 11, holdout 1 of 7
#:   C: 12-31 23:59 (1), its first purchase              -> a customer, T 0, holdout 0
#:   D: first purchase 01-15, after calibration         -> not summarised
ORDERS = pd.DataFrame({
    "customer": ["A", "A", "A", "B", "B", "C", "D"],
    "date": pd.to_datetime(["1997-12-01 10:00", "1997-12-31 15:30", "1998-01-10 00:00",
                            "1997-12-20 09:00", "1998-01-01 00:00", "1997-12-31 23:59",
                            "1998-01-15 00:00"]),
    "amount": [10.0, 20.0, 5.0, 5.0, 7.0, 1.0, 3.0],
})
CAL, HOLD = "1997-12-31", "1998-01-15"


def test_the_calibration_end_day_is_calibration_at_any_time_of_day():
    s = clv.rfm_summary(ORDERS, calibration_end=CAL, holdout_end=HOLD, unit="D")
    assert list(s.index) == ["A", "B", "C"]
    assert s.loc["A", ["frequency", "recency", "T", "monetary_value"]].tolist() == [
        1, 30.0, 30.0, 20.0]
    assert s.loc["B", ["frequency", "recency", "T"]].tolist() == [0, 0.0, 11.0]
    assert s.loc["C", ["frequency", "T"]].tolist() == [0, 0.0]
    # B's purchase at 1998-01-01 00:00 is the holdout's; A's 12-31 15:30 one is not
    assert s["frequency_holdout"].to_dict() == {"A": 1, "B": 1, "C": 0}
    assert s.loc["B", "monetary_value_holdout"] == 7.0
    assert s["duration_holdout"].iloc[0] == 15.0


def test_a_time_of_day_in_a_cut_off_still_means_its_whole_day():
    late = clv.rfm_summary(ORDERS, calibration_end="1997-12-31 08:00", holdout_end=HOLD,
                           unit="D")
    pd.testing.assert_frame_equal(
        late, clv.rfm_summary(ORDERS, calibration_end=CAL, holdout_end=HOLD, unit="D"))


def test_holdout_end_after_the_last_transaction_is_refused_with_the_date_to_use():
    for call in (lambda: clv.rfm_summary(ORDERS, calibration_end=CAL,
                                         holdout_end="1998-01-16"),
                 lambda: clv.tracking(ORDERS, {}, calibration_end=CAL,
                                      holdout_end="1998-01-16"),
                 lambda: compare(ORDERS, models=["bg_nbd"], calibration_end=CAL,
                                 holdout_end="1998-01-16")):
        with pytest.raises(DataError) as caught:
            call()
        message = str(caught.value)
        assert "ends on 1998-01-16, after the last transaction (1998-01-15)" in message
        assert "set holdout_end on or before 1998-01-15" in message
    # the last day itself is fine
    clv.rfm_summary(ORDERS, calibration_end=CAL, holdout_end="1998-01-15")


def test_calibration_end_outside_the_data_is_refused():
    with pytest.raises(DataError, match="set calibration_end on or after 1997-12-01"):
        clv.rfm_summary(ORDERS, calibration_end="1997-11-30", holdout_end=HOLD)
    with pytest.raises(DataError, match="at or after the last transaction"):
        clv.rfm_summary(ORDERS, calibration_end="1998-01-15", holdout_end="1998-01-20")
    with pytest.raises(ParameterError, match="holdout_end must be after calibration_end"):
        clv.rfm_summary(ORDERS, calibration_end="1998-01-10", holdout_end="1998-01-05")
    # without a holdout a calibration_end after the data is allowed (scoring today)
    assert len(clv.rfm_summary(ORDERS, calibration_end="1998-02-01")) == 4


def test_cdnow_holdout_a_year_too_long_is_refused(cdnow_tx):
    with pytest.raises(DataError, match="set holdout_end on or before 1998-06-30"):
        compare(cdnow_tx, models=["bg_nbd"], calibration_end="1997-09-30",
                holdout_end="1999-06-30")


def test_last_period_baseline_refuses_a_summary_with_ids_of_another_type():
    numbered = ORDERS.assign(customer=ORDERS["customer"].map({"A": 1, "B": 2, "C": 3, "D": 4}))
    summary = clv.rfm_summary(ORDERS, calibration_end=CAL, holdout_end=HOLD, unit="D")
    with pytest.raises(DataError, match="transactions has customer ids as integers but "
                                        "summary has them as text"):
        clv.last_period_baseline(numbered, summary, calibration_end=CAL, length=15, unit="D")
    # same types: A's repeat on 12-31 falls in (12-16, 12-31]
    same = clv.last_period_baseline(ORDERS, summary, calibration_end=CAL, length=15, unit="D")
    assert same.to_dict() == {"A": 1.0, "B": 0.0, "C": 0.0}
