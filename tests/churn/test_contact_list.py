"""The retention contact list against hand computations of each customer's expected gain."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from retaillab.churn import ContactList, contact_list
from retaillab.errors import DataError, ParameterError

# gamma = 0.5, d = 10, f = 1, delta = 1 (the default)
ECONOMICS = {"acceptance_rate": 0.5, "contact_cost": 1.0, "offer_cost": 10.0}

CUSTOMERS = ["a", "b", "c", "d", "e"]
PROBABILITY = [0.8, 0.5, 0.9, 0.1, 0.3]
VALUE = [120.0, 34.0, 300.0, 500.0, 40.0]
# gain = p * gamma * (v - d) - (1 - p) * delta * d - f, by hand:
GAIN = {
    "a": 0.8 * 0.5 * (120 - 10) - 0.2 * 1.0 * 10 - 1,  # 44 - 2 - 1 = 41
    "b": 0.5 * 0.5 * (34 - 10) - 0.5 * 1.0 * 10 - 1,  # 6 - 5 - 1 = 0: not listed
    "c": 0.9 * 0.5 * (300 - 10) - 0.1 * 1.0 * 10 - 1,  # 130.5 - 1 - 1 = 128.5
    "d": 0.1 * 0.5 * (500 - 10) - 0.9 * 1.0 * 10 - 1,  # 24.5 - 9 - 1 = 14.5
    "e": 0.3 * 0.5 * (40 - 10) - 0.7 * 1.0 * 10 - 1,  # 4.5 - 7 - 1 = -3.5: not listed
}


def profit_at_cut(found: ContactList) -> float:
    curve = found.curve
    return float(curve.loc[curve["targeted"] == len(found.table), "profit"].iloc[0])


def test_five_customers_by_hand():
    found = contact_list(CUSTOMERS, PROBABILITY, VALUE, **ECONOMICS)
    table = found.table
    assert list(table.columns) == ["customer", "churn_probability", "value", "expected_value",
                                   "rank", "cumulative_value"]
    # c (128.5) > a (41) > d (14.5); b (exactly 0) and e (-3.5) would not pay
    assert table["customer"].tolist() == ["c", "a", "d"]
    assert not set(table["customer"]) & {"b", "e"}
    assert table["churn_probability"].tolist() == [0.9, 0.8, 0.1]
    assert table["value"].tolist() == [300.0, 120.0, 500.0]
    assert table["expected_value"].tolist() == pytest.approx([128.5, 41.0, 14.5])
    assert table["expected_value"].tolist() == pytest.approx([GAIN["c"], GAIN["a"], GAIN["d"]])
    assert table["rank"].tolist() == [1, 2, 3]
    assert table["cumulative_value"].tolist() == pytest.approx([128.5, 169.5, 184.0])
    assert found.expected_value == pytest.approx(128.5 + 41 + 14.5)
    # ceil(3 / 10) = 1 row: customer c alone
    assert found.top_decile_share == pytest.approx(128.5 / 184.0)
    assert (found.candidates, found.positive) == (5, 3)
    assert found.curve["targeted"].tolist() == [0, 1, 2, 3, 4, 5]
    # the curve ranks every candidate: c, a, d, then b (0), then e (-3.5)
    assert found.curve["profit"].tolist() == pytest.approx([0, 128.5, 169.5, 184, 184, 180.5])


def test_non_churner_acceptance_by_hand():
    # delta = 0.25: x = 0.5 * 0.4 * (50 - 8) - 0.5 * 0.25 * 8 - 2 = 8.4 - 1 - 2 = 5.4
    #               y = 0.2 * 0.4 * (200 - 8) - 0.8 * 0.25 * 8 - 2 = 15.36 - 1.6 - 2 = 11.76
    found = contact_list(["x", "y"], [0.5, 0.2], [50.0, 200.0], acceptance_rate=0.4,
                         contact_cost=2.0, offer_cost=8.0, non_churner_acceptance=0.25)
    assert found.table["customer"].tolist() == ["y", "x"]
    assert found.table["expected_value"].tolist() == pytest.approx([11.76, 5.4])
    assert found.expected_value == pytest.approx(17.16)


def test_budget_cuts_the_list():
    found = contact_list(CUSTOMERS, PROBABILITY, VALUE, **ECONOMICS, budget=2)
    assert found.table["customer"].tolist() == ["c", "a"]
    assert found.table["rank"].tolist() == [1, 2]
    assert found.expected_value == pytest.approx(128.5 + 41)
    assert (found.candidates, found.positive) == (5, 3)  # positive counts before the budget
    assert profit_at_cut(found) == pytest.approx(found.expected_value, abs=1e-9)
    # a budget above the 3 positive customers lists only those
    for budget in (3, 4, 100, np.int64(10)):
        wide = contact_list(CUSTOMERS, PROBABILITY, VALUE, **ECONOMICS, budget=budget)
        assert wide.table["customer"].tolist() == ["c", "a", "d"]
        assert wide.expected_value == pytest.approx(184.0)


def test_ties_keep_input_order():
    # q, r, s and t all gain 0.5 * 0.5 * (50 - 10) - 0.5 * 1.0 * 10 - 1 = 10 - 5 - 1 = 4;
    # p gains 0.9 * 0.5 * (50 - 10) - 0.1 * 1.0 * 10 - 1 = 18 - 1 - 1 = 16
    ids = ["t", "q", "p", "s", "r"]
    found = contact_list(ids, [0.5, 0.5, 0.9, 0.5, 0.5], [50.0] * 5, **ECONOMICS)
    assert found.table["customer"].tolist() == ["p", "t", "q", "s", "r"]
    assert found.table["expected_value"].tolist() == pytest.approx([16, 4, 4, 4, 4])
    # the budget cuts inside the tie in input order too
    cut = contact_list(ids, [0.5, 0.5, 0.9, 0.5, 0.5], [50.0] * 5, **ECONOMICS, budget=3)
    assert cut.table["customer"].tolist() == ["p", "t", "q"]
    assert profit_at_cut(cut) == pytest.approx(16 + 4 + 4, abs=1e-9)


@pytest.mark.parametrize("ids", [
    pd.Series(["000028", "28", "x-1", "0", "00"], dtype=object),
    pd.Series(["000028", "28", "x-1", "0", "00"], dtype="string"),
    pd.Series([28, 7, 1_000_000_000_001, 0, -3], dtype="int64"),
    pd.Series([28, 7, 9, 0, 3], dtype="uint16"),
])
def test_ids_come_back_unchanged(ids):
    given = ids.copy()
    found = contact_list(ids.set_axis([10, 11, 12, 13, 14]), PROBABILITY, VALUE, **ECONOMICS)
    out = found.table["customer"]
    assert out.dtype == ids.dtype
    # order c, a, d: positions 2, 0, 3 of the input
    assert out.tolist() == [given.iloc[2], given.iloc[0], given.iloc[3]]
    assert list(out.index) == [0, 1, 2]
    pd.testing.assert_series_equal(ids, given)  # the input is not modified


def test_ids_from_plain_lists():
    texts = contact_list(["007", "7", "x", "y", "z"], PROBABILITY, VALUE, **ECONOMICS)
    assert texts.table["customer"].tolist() == ["x", "007", "y"]
    assert all(type(i) is str for i in texts.table["customer"])
    ints = contact_list([101, 7, 5, 3, 2], PROBABILITY, VALUE, **ECONOMICS)
    assert ints.table["customer"].dtype == "int64"
    assert ints.table["customer"].tolist() == [5, 101, 3]
    # a mix of integers and decimals is not turned into decimals
    mixed = contact_list([1, 2.5, 3, 4, 5], PROBABILITY, VALUE, **ECONOMICS)
    assert [type(i) for i in mixed.table["customer"]] == [int, int, int]


def test_total_equals_rows_and_curve():
    rng = np.random.default_rng(3)
    n = 60
    probability = rng.random(n)
    value = rng.gamma(2.0, 60.0, n) - 20
    found = contact_list(np.arange(n) * 3, probability, value, acceptance_rate=0.35,
                         contact_cost=2.5, offer_cost=12.0, non_churner_acceptance=0.6)
    table = found.table
    assert 0 < len(table) < n and len(table) == found.positive
    assert (table["expected_value"] > 0).all()
    assert table["expected_value"].is_monotonic_decreasing
    assert found.expected_value == pytest.approx(table["expected_value"].sum(), abs=1e-9)
    assert table["cumulative_value"].iloc[-1] == pytest.approx(found.expected_value, abs=1e-9)
    assert profit_at_cut(found) == pytest.approx(found.expected_value, abs=1e-9)
    # the list stops where the curve peaks: every listed row adds value, every other takes it
    assert found.curve["profit"].max() == pytest.approx(found.expected_value, abs=1e-9)
    k = math.ceil(len(table) / 10)
    assert found.top_decile_share == pytest.approx(
        table["expected_value"].iloc[:k].sum() / found.expected_value)
    # each row's gain, recomputed from its own inputs with the formula written out
    p, v = table["churn_probability"], table["value"]
    assert table["expected_value"].to_numpy() == pytest.approx(
        (p * 0.35 * (v - 12) - (1 - p) * 0.6 * 12 - 2.5).to_numpy())


def test_top_decile_takes_ceil_of_a_tenth():
    # 11 customers, all positive: gain_i = 1.0 * 1.0 * (v_i - 0) - 0 - 1 = v_i - 1
    value = [101.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 51.0]
    found = contact_list(range(11), [1.0] * 11, value, acceptance_rate=1.0, contact_cost=1.0,
                         offer_cost=0.0)
    assert found.table["customer"].tolist() == [0, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1]
    total = 100 + 50 + 9 + 8 + 7 + 6 + 5 + 4 + 3 + 2 + 1
    assert found.expected_value == pytest.approx(total)
    # ceil(11 / 10) = 2 rows: 100 + 50
    assert found.top_decile_share == pytest.approx(150 / total)


def test_everyone_negative_gives_an_empty_list():
    # 0.1 * 0.5 * (20 - 10) - 0.9 * 1.0 * 10 - 1 = 0.5 - 9 - 1 = -9.5, for both
    found = contact_list([4, 5], [0.1, 0.1], [20.0, 20.0], **ECONOMICS)
    assert found.table.empty
    assert list(found.table.columns) == ["customer", "churn_probability", "value",
                                         "expected_value", "rank", "cumulative_value"]
    assert found.table["customer"].dtype == "int64"
    assert found.expected_value == 0.0 and isinstance(found.expected_value, float)
    assert math.isnan(found.top_decile_share)
    assert (found.candidates, found.positive) == (2, 0)
    assert found.curve["profit"].tolist() == pytest.approx([0, -9.5, -19])


def test_errors():
    with pytest.raises(DataError, match="probability must have 5 values"):
        contact_list(CUSTOMERS, PROBABILITY[:4], VALUE, **ECONOMICS)
    with pytest.raises(DataError, match="value must have 5 values"):
        contact_list(CUSTOMERS, PROBABILITY, [*VALUE, 1.0], **ECONOMICS)
    with pytest.raises(DataError, match="probability must have 4 values"):
        contact_list(CUSTOMERS[:4], PROBABILITY, VALUE[:4], **ECONOMICS)
    with pytest.raises(DataError, match=r"1 values of probability are not finite numbers in "
                                        r"\[0, 1\] \(first at position 3"):
        contact_list(CUSTOMERS, [0.8, 0.5, 0.9, 1.2, 0.3], VALUE, **ECONOMICS)
    with pytest.raises(DataError, match="probability are not finite"):
        contact_list(CUSTOMERS, [0.8, -0.1, 0.9, 0.1, 0.3], VALUE, **ECONOMICS)
    with pytest.raises(DataError, match=r"1 values of value are not finite numbers \(first at "
                                        r"position 1\b"):
        contact_list(CUSTOMERS, PROBABILITY, [120.0, np.nan, 300.0, 500.0, 40.0], **ECONOMICS)
    with pytest.raises(DataError, match="value are not finite"):
        contact_list(CUSTOMERS, PROBABILITY, [120.0, 34.0, np.inf, 500.0, 40.0], **ECONOMICS)
    with pytest.raises(DataError, match="2 customer ids are duplicates") as info:
        contact_list(["a", "b", "a", "c", "a"], PROBABILITY, VALUE, **ECONOMICS)
    assert "'a'" not in str(info.value)  # ids are personal: counted, never shown
    with pytest.raises(DataError, match="1 customer ids are missing"):
        contact_list(["a", None, "c", "d", "e"], PROBABILITY, VALUE, **ECONOMICS)
    with pytest.raises(DataError, match="non-empty"):
        contact_list([], [], [], **ECONOMICS)
    for budget in (0, -1, 2.5, True, "3"):
        with pytest.raises(ParameterError, match="budget must be a positive integer"):
            contact_list(CUSTOMERS, PROBABILITY, VALUE, **ECONOMICS, budget=budget)
    with pytest.raises(ParameterError, match="acceptance_rate must be"):
        contact_list(CUSTOMERS, PROBABILITY, VALUE, **{**ECONOMICS, "acceptance_rate": 1.5})
    with pytest.raises(ParameterError, match="contact_cost must be"):
        contact_list(CUSTOMERS, PROBABILITY, VALUE, **{**ECONOMICS, "contact_cost": -1})


def test_errors_name_contact_list():
    with pytest.raises(DataError) as info:
        contact_list(CUSTOMERS, PROBABILITY[:4], VALUE, **ECONOMICS)
    assert info.value.source == "contact_list"
