"""Churn features with events and items against a naive reference written here.

The reference walks over customers one by one in plain Python and pandas, feature by feature,
the obvious way; the fast implementation (integer codes, bincounts) must give the same table:
same columns in the same order, same dtypes, same values (to 1e-12: sums may be added in
another order). The data are small, seeded, and hold the awkward cases: lines on the cut-off
day, events after it, customers with events and no purchase (dropped) and purchases with no
events, event types outside the funnel, missing dwell times, items missing from the item
table, a category nobody bought.
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pandas as pd
import pytest

from retaillab import churn, data
from retaillab.data.schema import EVENT_TYPES
from retaillab.errors import DataError

DAY = pd.Timedelta(days=1)
CATEGORIES = ["toys", "books", "home", "pet", "garden"]  # nobody buys "garden"


def orders_world(seed: int, text_ids: bool) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Transactions (orders of one to three lines), items and events for 60 customers."""
    rng = np.random.default_rng(seed)
    start, span = pd.Timestamp("2024-01-01"), 430 * 86400  # to 2025-03-06
    rows = []
    for order in range(1, 301):
        customer = int(rng.integers(1, 61))
        when = start + pd.Timedelta(seconds=int(rng.integers(0, span)))
        for _ in range(int(rng.integers(1, 4))):
            rows.append((order, customer, when, int(rng.integers(1, 21)),
                         int(rng.integers(1, 4)), round(float(rng.gamma(2.0, 15.0)), 2)))
    tx = pd.DataFrame(rows, columns=["order", "customer", "date", "item", "quantity", "amount"])
    # two lines on the cut-off day, one at its last minute
    tx.loc[0, "date"] = pd.Timestamp("2024-12-31 23:59")
    tx.loc[len(tx) - 1, "date"] = pd.Timestamp("2024-12-31 00:00")
    # items 1..19 have a category, item 20 is missing from the item table, item 21 (the
    # only "garden" one) is never bought
    items = pd.DataFrame({"item": np.r_[1:20, 21],
                          "category": pd.Categorical(
                              [CATEGORIES[i % 4] for i in range(19)] + ["garden"],
                              categories=CATEGORIES),
                          "price": rng.uniform(1, 50, 20)})
    # events: customers 1..55 of the buyers (56..60 have none) and 70..74 who never buy
    n = 2500
    events = pd.DataFrame({
        "session": rng.integers(1, 400, n),
        "customer": rng.choice(np.r_[1:56, 70:75], n),
        "item": rng.integers(1, 21, n),
        "event": rng.choice([*EVENT_TYPES, "scroll"], n, p=[.5, .2, .15, .1, .05]),
        "timestamp": start + pd.to_timedelta(rng.integers(0, span, n), unit="s"),
        "dwell_seconds": rng.gamma(2.0, 20.0, n),
    })
    events.loc[(events["event"] != "view") | (rng.random(n) < 0.2), "dwell_seconds"] = np.nan
    events.loc[3, "timestamp"] = pd.Timestamp("2024-12-31 22:00")  # on the cut-off day
    events.loc[4, "timestamp"] = pd.Timestamp("2024-12-01 00:00")  # 30 days before
    if text_ids:
        for table in (tx, events):
            table["customer"] = [f"c{c:03d}" for c in table["customer"]]
    else:
        events["event"] = events["event"].astype("category")
    return tx, items, events


def reference(tx: pd.DataFrame, cutoff: str, windows: tuple[int, ...], items: pd.DataFrame,
              events: pd.DataFrame) -> pd.DataFrame:
    """The features of every customer who bought by the cut-off, one customer at a time."""
    stamp = pd.Timestamp(cutoff)
    whole_day = stamp == stamp.normalize()
    end = stamp + DAY

    def past(dates: pd.Series) -> pd.Series:
        return dates < end if whole_day else dates <= stamp

    def days_before(when: pd.Timestamp) -> float:
        return (stamp - (when.normalize() if whole_day else when)) / DAY

    history = tx[past(tx["date"])]
    seen = events[past(events["timestamp"])]
    category = dict(zip(items["item"], items["category"].astype(str), strict=True))
    levels = sorted(set(category.values()))
    rows = {}
    for customer, lines in history.groupby("customer"):
        orders = sorted((grp["date"].min(), grp["amount"].sum(), grp["quantity"].sum())
                        for _, grp in lines.groupby("order"))
        dates = [d for d, _, _ in orders]
        amounts = [a for _, a, _ in orders]
        gaps = [(b - a) / DAY for a, b in pairwise(dates)]
        row = {"recency_days": days_before(dates[-1]), "tenure_days": days_before(dates[0]),
               "frequency": float(len(orders))}
        row["order_rate_30d"] = len(orders) / max(row["tenure_days"], 1.0) * 30
        row["monetary_total"] = sum(amounts)
        row["monetary_mean"] = sum(amounts) / len(orders)
        row["quantity_total"] = float(sum(q for _, _, q in orders))
        row["ipt_mean"] = np.mean(gaps) if gaps else np.nan
        row["ipt_std"] = np.std(gaps, ddof=1) if len(gaps) > 1 else np.nan
        row["ipt_max"] = max(gaps) if gaps else np.nan
        row["ipt_last"] = gaps[-1] if gaps else np.nan
        row["overdue"] = (row["recency_days"] / row["ipt_mean"] if row["ipt_mean"] > 0
                          else np.nan)
        ages = [days_before(d) for d in dates]
        for w in windows:
            row[f"orders_{w}d"] = float(sum(age < w for age in ages))
            row[f"amount_{w}d"] = sum(a for a, age in zip(amounts, ages, strict=True) if age < w)
            row[f"trend_{w}d"] = row[f"orders_{w}d"] - sum(w <= age < 2 * w for age in ages)
        spend = dict.fromkeys(levels, 0.0)
        for item, amount in zip(lines["item"], lines["amount"], strict=True):
            if item in category:  # items without a category count in no share
                spend[category[item]] += amount
        total = sum(spend.values())
        for level in levels:
            row[f"share_{level}"] = spend[level] / total if total > 0 else 0.0
        row["n_categories"] = sum(v > 0 for v in spend.values())
        mine = seen[seen["customer"] == customer]
        kinds = list(mine["event"].astype(str))
        for kind in EVENT_TYPES:
            row[f"{kind}_events"] = float(kinds.count(kind))
        row["sessions"] = float(mine["session"].nunique())
        views, carts, buys = (row[f"{k}_events"] for k in ("view", "add_to_cart", "purchase"))
        row["view_to_cart"] = carts / views if views else np.nan
        row["cart_to_purchase"] = buys / carts if carts else np.nan
        dwell = mine["dwell_seconds"].dropna()
        row["mean_dwell_seconds"] = dwell.mean() if len(dwell) else np.nan
        if len(mine):
            last = max(mine["timestamp"])
            row["days_since_last_event"] = days_before(last)
            row["events_last_30d"] = float(sum(days_before(t) < 30 for t in mine["timestamp"]))
        else:  # as the implementation has it: no events is no count (NaN), not 0
            row["days_since_last_event"] = row["events_last_30d"] = np.nan
        rows[customer] = row
    out = pd.DataFrame.from_dict(rows, orient="index").sort_index()
    out.index.name = "customer"
    out["n_categories"] = out["n_categories"].astype("int64")
    # sessions and events_last_30d are whole numbers when every customer has events
    for name in ("sessions", "events_last_30d"):
        if out["events_last_30d"].notna().all():
            out[name] = out[name].astype("int64")
    return out


def assert_same(found: pd.DataFrame, expected: pd.DataFrame) -> None:
    assert list(found.columns) == list(expected.columns)
    pd.testing.assert_frame_equal(found, expected, check_exact=False, rtol=1e-12, atol=0.0)


@pytest.mark.parametrize("cutoff", ["2024-12-31", "2024-12-31 12:00"])
@pytest.mark.parametrize("text_ids", [False, True])
def test_features_with_events_and_items_match_the_reference(cutoff, text_ids):
    tx, items, events = orders_world(seed=3, text_ids=text_ids)
    found = churn.transaction_features(tx, cutoff, events=events, items=items,
                                       windows=(30, 90))
    expected = reference(tx, cutoff, (30, 90), items, events)
    assert found["events_last_30d"].isna().sum() == 5  # customers 56..60: no events
    assert (found["share_garden"] == 0).all() and found["n_categories"].max() == 4
    assert_same(found, expected)
    table = churn.churn_table(tx, cutoff, 60, events=events, items=items, windows=(30, 90))
    assert_same(table.set_index("customer").drop(columns="churn"), expected)


def test_every_customer_with_events_gives_whole_counts():
    tx, items, events = orders_world(seed=4, text_ids=False)
    buyers = tx["customer"].unique()
    extra = events.head(len(buyers)).assign(customer=buyers, event="view",
                                            timestamp=pd.Timestamp("2024-06-01"))
    events = pd.concat([events, extra], ignore_index=True)
    found = churn.transaction_features(tx, "2024-12-31", events=events, items=items)
    assert found["sessions"].dtype == "int64" and found["events_last_30d"].dtype == "int64"
    assert_same(found, reference(tx, "2024-12-31", churn.features.WINDOWS, items, events))


def test_synthetic_world_matches_the_reference():
    world = data.load("synthetic", n_customers=150, seed=5)
    cutoff = "2024-12-31"
    found = churn.transaction_features(world.transactions, cutoff, events=world.events,
                                       items=world.items)
    expected = reference(world.transactions, cutoff, churn.features.WINDOWS, world.items,
                         world.events)
    assert_same(found, expected)


def test_an_item_table_with_an_item_twice_and_event_times_as_text_are_refused():
    tx, items, events = orders_world(seed=3, text_ids=False)
    twice = pd.concat([items, items.head(1).assign(category="pet")], ignore_index=True)
    with pytest.raises(DataError, match="1 item ids appear more than once") as caught:
        churn.transaction_features(tx, "2024-12-31", items=twice)
    assert "drop_duplicates" in str(caught.value)
    text = events.assign(timestamp=events["timestamp"].astype(str))
    with pytest.raises(DataError, match="event times must be datetimes"):
        churn.transaction_features(tx, "2024-12-31", events=text)
