"""A cut-off given as a date is the whole of that day (issue #11), on timestamped orders; and
tables joined by customer or item must name them in the same type."""

from __future__ import annotations

import pandas as pd
import pytest

from retaillab import churn
from retaillab.errors import DataError

#: Orders with a time of day. Cut-off 1997-12-31, horizon 90 days: the horizon is
#: [1998-01-01 00:00, 1998-04-01 00:00).
#:   A: 12-01 10:00, 12-31 15:30 (on the cut-off day: feature side) -> no later order: churned
#:   B: 12-20 09:00, 1998-01-01 00:00 (the first instant of the horizon) -> not churned
#:   C: 11-15, 1998-03-31 23:00 (the horizon's last day) -> not churned
#:   D: first order 1998-04-02, after the cut-off: not a customer at the cut-off
ORDERS = pd.DataFrame({
    "customer": ["A", "A", "B", "B", "C", "C", "D"],
    "date": pd.to_datetime(["1997-12-01 10:00", "1997-12-31 15:30", "1997-12-20 09:00",
                            "1998-01-01 00:00", "1997-11-15 00:00", "1998-03-31 23:00",
                            "1998-04-02 00:00"]),
    "amount": [10.0, 20.0, 5.0, 7.0, 1.0, 1.0, 3.0],
    "item": ["x", "y", "x", "y", "x", "x", "y"],
})
CUTOFF = "1997-12-31"


def test_a_purchase_on_the_cutoff_day_is_a_feature_not_the_future():
    table = churn.churn_table(ORDERS, CUTOFF, 90).set_index("customer")
    assert list(table.index) == ["A", "B", "C"]
    # A: orders 12-01 and 12-31 (calendar days before the cut-off day: 30 and 0)
    assert table.loc["A", "frequency"] == 2 and table.loc["A", "recency_days"] == 0
    assert table.loc["A", "tenure_days"] == 30 and table.loc["A", "monetary_total"] == 30.0
    assert table.loc["A", "orders_30d"] == 1  # 12-31 only: 12-01 is 30 days old
    # B: 12-20 only (11 days before); its 01-01 00:00 order is the horizon's
    assert table.loc["B", "frequency"] == 1 and table.loc["B", "recency_days"] == 11
    assert table.loc["B", "monetary_total"] == 5.0
    # C: 11-15 is 15 + 31 = 46 days before 12-31
    assert table.loc["C", "recency_days"] == 46
    # A bought on the cut-off day, but that is not activity in the horizon
    assert table["churn"].to_dict() == {"A": True, "B": False, "C": False}


def test_a_cutoff_with_a_time_of_day_is_that_instant():
    table = churn.churn_table(ORDERS, "1997-12-31 12:00", 90).set_index("customer")
    # A's 15:30 order is now after the cut-off: a feature no more, and activity in the horizon
    assert table.loc["A", "frequency"] == 1
    assert table.loc["A", "recency_days"] == pytest.approx(30 + 2 / 24)  # 12-01 10:00 -> 12:00
    # the horizon is (12-31 12:00, 03-31 12:00]: C's 03-31 23:00 order falls after it
    assert table["churn"].to_dict() == {"A": False, "B": False, "C": True}


def test_the_horizon_of_a_date_cutoff_must_be_covered_by_whole_days():
    # last order 1998-04-02: a 92-day horizon's last day is 12-31 + 92 = 04-02, covered
    assert churn.churn_labels(ORDERS, CUTOFF, 92).to_dict() == {
        "A": True, "B": False, "C": False}
    with pytest.raises(DataError, match="on or before 1997-12-30") as caught:
        churn.churn_labels(ORDERS, CUTOFF, 93)  # would end 04-03: no data that day
    assert "ends on 1998-04-03" in str(caught.value)
    with pytest.raises(DataError, match="at or after the last transaction"):
        churn.churn_labels(ORDERS, "1998-04-02", 1)  # the whole last day is past


def test_events_on_the_cutoff_day_are_features_too():
    events = pd.DataFrame({"customer": ["A", "B"], "item": ["x", "y"],
                           "event": ["view", "view"],
                           "timestamp": pd.to_datetime(["1997-12-31 18:00", "1998-01-01 00:00"])})
    features = churn.transaction_features(ORDERS, CUTOFF, events=events)
    assert features["view_events"].to_dict() == {"A": 1.0, "B": 0.0, "C": 0.0}
    assert features.loc["A", "days_since_last_event"] == 0
    assert pd.isna(features.loc["B", "days_since_last_event"])


def test_customer_ids_of_another_type_in_events_are_refused():
    events = pd.DataFrame({"customer": ["000001"], "item": ["x"], "event": ["view"],
                           "timestamp": pd.to_datetime(["1997-12-01"])})
    numbered = ORDERS.assign(customer=ORDERS["customer"].map({"A": 1, "B": 2, "C": 3, "D": 4}))
    with pytest.raises(DataError) as caught:
        churn.churn_table(numbered, CUTOFF, 90, events=events)
    message = str(caught.value)
    assert "transactions has customer ids as integers but events has them as text" in message
    assert "id_type='str'" in message


def test_item_ids_of_another_type_in_the_item_table_are_refused():
    items = pd.DataFrame({"item": [1, 2], "category": ["books", "music"]})
    with pytest.raises(DataError, match="transactions has item ids as text but items has them "
                                        "as integers"):
        churn.churn_table(ORDERS, CUTOFF, 90, items=items)
    fine = pd.DataFrame({"item": ["x", "y"], "category": ["books", "music"]})
    table = churn.churn_table(ORDERS, CUTOFF, 90, items=fine).set_index("customer")
    assert table.loc["A", "share_books"] == pytest.approx(10 / 30)  # x 10 of A's 30 spent
