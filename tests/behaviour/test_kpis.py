"""KPIs, cohorts and tier migration: hand-computed figures, a naive per-customer loop on
CDNOW, empty periods, changes, conversion and refusals."""

from __future__ import annotations

import subprocess
import sys
from collections import defaultdict

import numpy as np
import pandas as pd
import pytest

from retaillab import clv, data
from retaillab.behaviour import kpis as kp
from retaillab.errors import DataError, ParameterError

NAN = np.nan

# 5 customers, 9 lines, January to March 2024; A's two lines of 5 January are one order
# (one customer-day) unless order ids say otherwise.
LINES = [  # customer, date, amount, order
    ("A", "2024-01-05", 10.0, 1), ("A", "2024-01-05", 5.0, 2), ("A", "2024-01-20", 20.0, 3),
    ("B", "2024-01-10", 30.0, 4), ("B", "2024-02-03", 40.0, 5),
    ("C", "2024-02-14", 25.0, 6), ("C", "2024-03-02", 15.0, 7),
    ("D", "2024-01-25", 50.0, 8),
    ("E", "2024-03-15", 60.0, 9),
]


def hand_tx(with_order: bool = False) -> pd.DataFrame:
    tx = pd.DataFrame(LINES, columns=["customer", "date", "amount", "order"])
    tx["date"] = pd.to_datetime(tx["date"])
    return tx if with_order else tx.drop(columns="order")


def test_kpis_match_the_hand_computation():
    table = kp.kpis(hand_tx())
    assert list(table.index.astype(str)) == ["2024-01", "2024-02", "2024-03"]
    assert table.index.name == "period" and table.index.freqstr == "M"
    # Jan: A (2 customer-days), B, D; Feb: B, C (new); Mar: C, E (new)
    expected = pd.DataFrame({
        "customers": [3, 2, 2],
        "active": [3, 2, 2],
        "new": [3, 1, 1],
        "returning": [0, 1, 1],
        "orders": [4, 2, 2],
        "revenue": [115.0, 65.0, 75.0],
        "aov": [115 / 4, 65 / 2, 75 / 2],
        "frequency": [4 / 3, 1.0, 1.0],
        "repurchase_rate": [1 / 3, 0.0, 0.0],
        "retention": [NAN, 1 / 3, 1 / 2],  # Feb: B of {A, B, D}; Mar: C of {B, C}
    }, index=table.index)
    pd.testing.assert_frame_equal(table[expected.columns], expected, check_dtype=False)
    changes = pd.DataFrame({
        "active_change": [NAN, 2 / 3 - 1, 0.0],
        "new_change": [NAN, 1 / 3 - 1, 0.0],
        "returning_change": [NAN, NAN, 0.0],  # from 0: no relative change
        "orders_change": [NAN, -0.5, 0.0],
        "revenue_change": [NAN, 65 / 115 - 1, 75 / 65 - 1],
        "aov_change": [NAN, 32.5 / 28.75 - 1, 37.5 / 32.5 - 1],
        "frequency_change": [NAN, -0.25, 0.0],
        "repurchase_rate_change": [NAN, -1.0, NAN],
        "retention_change": [NAN, NAN, 0.5],
    }, index=table.index)
    pd.testing.assert_frame_equal(table[changes.columns], changes)
    assert list(table.columns) == ["customers", *kp.KPIS, *[f"{k}_change" for k in kp.KPIS]]


def test_integer_ids_with_gaps_are_the_same_customers_as_their_text():
    """Integer ids are their own codes when compact: ids nobody holds (gaps) must not count."""
    letters = hand_tx()
    gapped = letters.assign(customer=letters["customer"].map(
        {"A": 10, "B": 12, "C": 17, "D": 30, "E": 31}))  # 10..31: 22 codes, 5 customers
    pd.testing.assert_frame_equal(kp.kpis(gapped), kp.kpis(letters))
    by_letter, by_number = kp.cohorts(letters), kp.cohorts(gapped)
    pd.testing.assert_frame_equal(by_number.retention, by_letter.retention)
    pd.testing.assert_series_equal(by_number.sizes, by_letter.sizes)


def test_order_ids_count_orders_instead_of_customer_days():
    table = kp.kpis(hand_tx(with_order=True))
    assert table["orders"].tolist() == [5, 2, 2]  # A's two lines of 5 January: two orders
    assert table["aov"].tolist() == [23.0, 32.5, 37.5]
    assert table["frequency"].tolist() == [5 / 3, 1.0, 1.0]
    assert table["repurchase_rate"].tolist() == pytest.approx([1 / 3, 0.0, 0.0])
    # an order with lines on two days is still one order
    tx = hand_tx(with_order=True)
    tx.loc[1, "date"] = pd.Timestamp("2024-01-06")
    tx.loc[1, "order"] = 1
    assert kp.kpis(tx)["orders"].tolist() == [4, 2, 2]
    # an id shared by customers is one order of each of them: (customer, order) pairs
    shared = hand_tx(with_order=True).assign(order="same")
    assert kp.kpis(shared)["orders"].tolist() == [3, 2, 2]
    assert kp.kpis(shared.assign(order=1))["orders"].tolist() == [3, 2, 2]


def test_empty_periods_are_rows_and_changes_from_zero_are_nan():
    tx = pd.DataFrame({"customer": [1, 1, 2], "amount": [10.0, 20.0, 5.0],
                       "date": pd.to_datetime(["2024-01-31", "2024-04-01", "2024-04-30"])})
    table = kp.kpis(tx)
    assert list(table.index.astype(str)) == ["2024-01", "2024-02", "2024-03", "2024-04"]
    assert table["active"].tolist() == [1, 0, 0, 2]
    assert table["new"].tolist() == [1, 0, 0, 1]
    assert table["returning"].tolist() == [0, 0, 0, 1]
    assert table["orders"].tolist() == [1, 0, 0, 2]
    assert table["revenue"].tolist() == [10.0, 0.0, 0.0, 25.0]
    np.testing.assert_array_equal(table["aov"], [10.0, NAN, NAN, 12.5])
    np.testing.assert_array_equal(table["retention"], [NAN, 0.0, NAN, NAN])
    np.testing.assert_array_equal(table["active_change"], [NAN, -1.0, NAN, NAN])
    np.testing.assert_array_equal(table["revenue_change"], [NAN, -1.0, NAN, NAN])
    quarters = kp.kpis(tx, period="Q")
    assert list(quarters.index.astype(str)) == ["2024Q1", "2024Q2"]
    assert quarters["retention"].tolist()[1] == 1.0
    weeks = kp.kpis(tx, period="W")
    assert weeks.index.freqstr == "W-SUN" and len(weeks) == 14  # 29 Jan - 5 May 2024 weeks
    assert (weeks.index[1:] - weeks.index[:-1] == weeks.index.freq).all()
    assert weeks["active"].sum() == 3 and (weeks["active"] == 0).sum() == 11


def test_time_zone_aware_dates_count_in_local_time():
    tx = hand_tx()
    tx["date"] = (tx["date"] + pd.Timedelta(hours=23, minutes=30)).dt.tz_localize("Asia/Tokyo")
    # 23:30 on 31 January in Tokyo is 14:30 UTC: still January either way; 1 March 00:30
    # Tokyo is February in UTC, and must stay March
    tx.loc[len(tx)] = ["E", pd.Timestamp("2024-03-01 00:30", tz="Asia/Tokyo"), 1.0]
    table = kp.kpis(tx)
    assert table["revenue"].tolist() == [115.0, 65.0, 76.0]


def test_conversion_is_the_share_of_visitors_who_purchase_in_the_period():
    events = pd.DataFrame([
        ("A", "view", "2024-01-03"), ("A", "purchase", "2024-01-05"),
        ("B", "view", "2024-01-09"), ("B", "click", "2024-02-02"),
        ("C", "view", "2024-02-10"), ("C", "add_to_cart", "2024-02-11"),
        ("C", "purchase", "2024-02-14"),
        ("E", "view", "2024-01-31"), ("E", "purchase", "2024-02-01"),  # across a month end
        ("D", "purchase", "2024-03-20"),  # a purchase is a visit too
    ], columns=["customer", "event", "timestamp"])
    events["event"] = pd.Categorical(events["event"], categories=data.schema.EVENT_TYPES)
    events["timestamp"] = pd.to_datetime(events["timestamp"])
    events["item"] = 1
    table = kp.kpis(hand_tx(), events=events)
    # Jan: visitors A, B, E, buyer A; Feb: B, C, E, buyers C, E; Mar: D, buyer D
    assert table["visitors"].tolist() == [3, 3, 1]
    assert table["conversion"].tolist() == pytest.approx([1 / 3, 2 / 3, 1.0])
    np.testing.assert_allclose(table["conversion_change"], [NAN, 1.0, 0.5])
    assert table["active"].tolist() == [3, 2, 2]  # transactions' KPIs do not move
    # events past the last order add periods with no orders
    later = pd.concat([events, events.iloc[[0]].assign(timestamp=pd.Timestamp("2024-05-02"))])
    table = kp.kpis(hand_tx(), events=later)
    assert list(table.index.astype(str))[-2:] == ["2024-04", "2024-05"]
    assert table["active"].tolist()[-2:] == [0, 0]
    assert table["visitors"].tolist()[-2:] == [0, 1]
    np.testing.assert_array_equal(table["conversion"].to_numpy()[-2:], [NAN, 0.0])


def test_synthetic_world_orders_are_its_order_ids():
    world = data.load("synthetic", n_customers=3000, seed=0)
    tx = world.transactions
    table = kp.kpis(tx, events=world.events)
    month = tx["date"].dt.to_period("M")
    pd.testing.assert_series_equal(table["orders"], tx.groupby(month)["order"].nunique()
                                   .reindex(table.index, fill_value=0),
                                   check_names=False, check_dtype=False)
    assert table["conversion"].between(0, 1).all()
    assert "customer" not in table.columns


# --- cohorts ------------------------------------------------------------------------------


def test_cohorts_of_the_hand_table():
    c = kp.cohorts(hand_tx())
    assert list(c.sizes.index.astype(str)) == ["2024-01", "2024-02", "2024-03"]
    assert c.sizes.tolist() == [3, 1, 1] and c.sizes.name == "customers"
    np.testing.assert_array_equal(c.retention.to_numpy(),
                                  [[1.0, 1 / 3, 0.0], [1.0, 1.0, NAN], [1.0, NAN, NAN]])
    np.testing.assert_array_equal(c.counts.to_numpy(dtype=float),
                                  [[3, 1, 0], [1, 1, NAN], [1, NAN, NAN]])
    np.testing.assert_allclose(c.revenue.to_numpy(),
                               [[115 / 3, 155 / 3, 155 / 3], [25, 40, NAN], [60, NAN, NAN]])
    assert c.retention.columns.name == "age" and c.retention.index.name == "cohort"
    short = kp.cohorts(hand_tx(), max_age=1)
    assert list(short.retention.columns) == [0, 1]


def naive_cohort_counts(tx: pd.DataFrame, period: str) -> dict[tuple[str, int], int]:
    """For each customer: acquisition period and periods active; then count, one by one."""
    periods: dict[object, set[pd.Period]] = defaultdict(set)
    for customer, date in zip(tx["customer"], tx["date"], strict=True):
        periods[customer].add(pd.Period(date, freq=period))
    counts: dict[tuple[str, int], int] = defaultdict(int)
    for active in periods.values():
        first = min(active)
        for p in active:
            counts[(str(first), (p - first).n)] += 1
    return counts


@pytest.mark.parametrize("period", ["M", "Q", "W"])
def test_cohort_retention_on_cdnow_equals_a_naive_loop_over_customers(period):
    tx = data.load("cdnow_sample").transactions
    c = kp.cohorts(tx, period=period)
    naive = naive_cohort_counts(tx, period)
    ours = {(str(cohort), int(age)): int(n)
            for (cohort, age), n in c.counts.stack().dropna().items() if n > 0}
    assert ours == dict(naive)
    sizes = {cohort: n for (cohort, age), n in naive.items() if age == 0}
    assert {str(k): v for k, v in c.sizes.items()} == sizes
    for (cohort, age), n in naive.items():
        assert c.retention.loc[pd.Period(cohort, freq=period), age] == n / sizes[cohort]
    assert (c.retention[0] == 1.0).all()
    # every observed cell is a number, every cell past the data is NaN
    last = pd.Period(tx["date"].max(), freq=period)
    for cohort, row in c.retention.iterrows():
        observed = (last - cohort).n + 1
        assert row.iloc[:observed].notna().all() and row.iloc[observed:].isna().all()


def test_monthly_kpis_on_cdnow_equal_a_naive_loop():
    tx = data.load("cdnow_sample").transactions
    table = kp.kpis(tx)
    months: dict[object, set] = defaultdict(set)
    days: dict[tuple, set] = defaultdict(set)
    for customer, date in zip(tx["customer"], tx["date"], strict=True):
        month = pd.Period(date, freq="M")
        months[customer].add(month)
        days[(customer, month)].add(date.normalize())
    active, new, orders, repeat, retained = (defaultdict(int) for _ in range(5))
    for customer, active_months in months.items():
        new[min(active_months)] += 1
        for month in active_months:
            active[month] += 1
            orders[month] += len(days[(customer, month)])
            repeat[month] += len(days[(customer, month)]) >= 2
            retained[month] += (month - 1) in active_months
    for month, row in table.iterrows():
        assert (row["active"], row["new"], row["orders"]) == (active[month], new[month],
                                                              orders[month])
        assert row["repurchase_rate"] == repeat[month] / active[month]
        if month != table.index[0]:
            assert row["retention"] == retained[month] / active[month - 1]


def test_tier_migration_is_clv_tiers_aggregated():
    tx = data.load("cdnow_sample").transactions
    view = kp.tier_migration(tx, period="Q")
    tiers = clv.value_tiers(tx, period="Q")
    pd.testing.assert_frame_equal(view.transitions, clv.tier_transitions(tiers))
    pd.testing.assert_frame_equal(view.counts, clv.tier_transitions(tiers, normalize=False))
    pd.testing.assert_frame_equal(view.repeat_rates, clv.tier_repeat_rates(tiers))
    assert list(view.sizes.columns) == ["inactive", "bronze", "silver", "gold"]
    # every customer acquired so far is in one tier each quarter
    acquired = tx.groupby("customer")["date"].min().dt.to_period("Q").value_counts()
    acquired = acquired.reindex(view.sizes.index, fill_value=0).cumsum()
    assert view.sizes.sum(axis=1).tolist() == acquired.tolist() == [2357] * 6
    for frame in (view.transitions, view.counts, view.repeat_rates, view.sizes):
        assert "customer" not in frame.columns and frame.index.name != "customer"


# --- refusals -----------------------------------------------------------------------------


@pytest.mark.parametrize("fn", [kp.kpis, kp.cohorts, kp.tier_migration])
def test_refusals_are_one_clear_data_error(fn):
    tx = hand_tx()
    with pytest.raises(DataError, match=r"missing column\(s\) 'date', 'amount'"):
        fn(tx.drop(columns=["date", "amount"]))
    with pytest.raises(DataError, match="dates must be datetime64, got dtype") as info:
        fn(tx.assign(date=tx["date"].dt.strftime("%Y-%m-%d")))
    assert "pd.to_datetime" in str(info.value)
    with pytest.raises(DataError, match="no rows"):
        fn(tx.iloc[:0])
    with pytest.raises(DataError, match="missing dates"):
        fn(tx.assign(date=tx["date"].where(tx.index != 3)))
    with pytest.raises(DataError, match="2 problems") as info:
        fn(tx.assign(date=tx["date"].where(tx.index != 3), amount=np.inf))
    assert "amounts must be finite" in str(info.value)
    with pytest.raises(DataError, match="expected a DataFrame"):
        fn(tx.to_dict())


def test_events_and_parameters_are_checked():
    events = pd.DataFrame({"customer": ["A"], "event": ["view"], "timestamp": ["2024-01-01"]})
    with pytest.raises(DataError, match=r"events.*dates must be datetime64"):
        kp.kpis(hand_tx(), events=events)
    with pytest.raises(DataError, match=r"events.*missing column"):
        kp.kpis(hand_tx(), events=events.drop(columns="event"))
    with pytest.raises(ParameterError, match="period"):
        kp.kpis(hand_tx(), period="D")
    with pytest.raises(ParameterError, match="max_age"):
        kp.cohorts(hand_tx(), max_age=-1)


# --- figures and import cost --------------------------------------------------------------


def test_figures_draw_and_hide_small_cells():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tx = data.load("cdnow_sample").transactions
    fig = kp.kpi_figure(kp.kpis(tx), kpis=["active", "revenue", "retention", "aov"], ncols=2)
    assert [ax.get_title() for ax in fig.axes if ax.get_visible()] == [
        "active", "revenue", "retention", "aov"]
    plt.close(fig)
    with pytest.raises(ParameterError, match="kpis"):
        kp.kpi_figure(kp.kpis(tx), kpis=["nope"])
    c = kp.cohorts(tx, period="W", max_age=8)  # 12 weekly cohorts, some cells < 10
    fig = kp.cohort_heatmap(c)
    texts = [t.get_text() for t in fig.axes[0].texts]
    cells = c.counts.stack().dropna()
    small = int(((cells > 0) & (cells < 10)).sum())
    assert texts.count("< 10") == small > 0
    assert "100%" in texts and len(texts) == int(c.retention.notna().sum().sum())
    plt.close(fig)


def test_importing_kpis_loads_no_plotting_or_models():
    code = ("import sys, retaillab.behaviour.kpis; "
            "print(sorted(m for m in ('matplotlib', 'scipy', 'sklearn') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"
