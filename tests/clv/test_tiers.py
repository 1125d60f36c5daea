"""Value tiers per period, transitions and repeat rates, counted by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from retaillab import clv


def _tx():
    # quarters 2020Q1..Q3; spends chosen so tiers are obvious with cut at the median
    rows = [("a", "2020-01-05", 100), ("b", "2020-02-01", 10), ("c", "2020-03-01", 50),
            ("a", "2020-04-02", 5), ("c", "2020-05-01", 80),
            ("b", "2020-07-01", 60), ("c", "2020-08-01", 70), ("d", "2020-09-01", 1)]
    return pd.DataFrame(rows, columns=["customer", "date", "amount"]).assign(
        date=lambda f: pd.to_datetime(f["date"]))


def test_tiers_transitions_and_repeat_rates():
    tiers = clv.value_tiers(_tx(), period="Q", quantiles=[0.5], labels=["low", "high"])
    got = {(r.customer, str(r.period)): r.tier for r in tiers.itertuples()}
    # Q1 buyers spend 100, 10, 50: median 50 -> a high, b low, c low (at the cut)
    assert got[("a", "2020Q1")] == "high" and got[("b", "2020Q1")] == "low"
    assert got[("c", "2020Q1")] == "low"
    # Q2: a 5 (low), c 80 (high), b inactive
    assert got[("a", "2020Q2")] == "low" and got[("c", "2020Q2")] == "high"
    assert got[("b", "2020Q2")] == "inactive"
    # d only exists from its first quarter on
    assert ("d", "2020Q1") not in got and got[("d", "2020Q3")] == "low"
    counts = clv.tier_transitions(tiers, normalize=False)
    # Q3 buyers b 60, c 70, d 1: median 60 -> b low (at the cut), c high, d low
    assert got[("b", "2020Q3")] == "low" and got[("c", "2020Q3")] == "high"
    # pairs: a high->low->inactive, b low->inactive->low, c low->high->high
    assert counts.loc["low", "inactive"] == 2 and counts.loc["low", "high"] == 1
    assert counts.loc["high", "low"] == 1 and counts.loc["high", "high"] == 1
    assert counts.loc["inactive", "low"] == 1
    assert counts.to_numpy().sum() == 6
    shares = clv.tier_transitions(tiers)
    assert shares.loc["low"].sum() == pytest.approx(1.0)
    rates = clv.tier_repeat_rates(tiers)
    assert rates.loc["inactive", "repeat_rate"] == pytest.approx(1.0)  # b came back
    assert rates.loc["low", "repeat_rate"] == pytest.approx(1 / 3)
    assert rates.loc["high", "repeat_rate"] == pytest.approx(1.0)
    assert rates["customers"].tolist() == [1, 3, 2]
