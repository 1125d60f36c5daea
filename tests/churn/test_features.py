"""Transactional churn: features by hand, no look-ahead, labels against the synthetic truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from retaillab import churn, data
from retaillab.errors import DataError, ParameterError

CUTOFF = pd.Timestamp("1997-09-30")


def tiny() -> pd.DataFrame:
    day = pd.Timestamp
    return pd.DataFrame({
        "customer": [1, 1, 1, 1, 2, 3, 3],
        "date": [day("1997-01-10"), day("1997-07-02"), day("1997-09-20"), day("1997-10-05"),
                 day("1997-09-30"), day("1997-03-01"), day("1997-12-29")],
        "quantity": [1, 2, 1, 1, 3, 1, 1],
        "amount": [10.0, 20.0, 30.0, 99.0, 5.0, 7.0, 8.0],
    })


def test_features_by_hand():
    found = churn.transaction_features(tiny(), CUTOFF, windows=(30, 90))
    assert list(found.index) == [1, 2, 3]  # customers seen by the cut-off (2 on the day itself)
    one = found.loc[1]
    assert one["recency_days"] == 10 and one["tenure_days"] == 263  # Jan 10 -> Sep 30
    assert one["frequency"] == 3 and one["monetary_total"] == 60 and one["monetary_mean"] == 20
    assert one["quantity_total"] == 4
    gaps = [173.0, 80.0]  # Jan 10 -> Jul 2 -> Sep 20
    assert one["ipt_mean"] == pytest.approx(np.mean(gaps))
    assert one["ipt_std"] == pytest.approx(np.std(gaps, ddof=1))
    assert (one["ipt_max"], one["ipt_last"]) == (173, 80)
    assert one["overdue"] == pytest.approx(10 / np.mean(gaps))
    assert one["order_rate_30d"] == pytest.approx(3 / 263 * 30)
    # last 30 days: Sep 20; last 90 days (from Jul 3): Sep 20 only; Jul 2 is 90 days before
    assert (one["orders_30d"], one["amount_30d"]) == (1, 30)
    assert (one["orders_90d"], one["amount_90d"]) == (1, 30)
    assert one["trend_30d"] == 1 - 0 and one["trend_90d"] == 1 - 1  # Jul 2 is in days 90..179
    two = found.loc[2]
    assert two["recency_days"] == 0 and two["frequency"] == 1 and np.isnan(two["ipt_mean"])
    assert found.loc[3, "ipt_std"] != found.loc[3, "ipt_std"]  # NaN: one order


def test_labels_by_hand_with_the_boundaries():
    labels = churn.churn_labels(tiny(), CUTOFF, horizon_days=90)
    # 1 bought on Oct 5 (stays); 2 bought only on the cut-off day (history, then nothing);
    # 3 bought on Dec 29 = cut-off + 90 days, the last day of the horizon (stays)
    assert labels.to_dict() == {1: False, 2: True, 3: False}
    assert churn.churn_labels(tiny(), CUTOFF, horizon_days=89).to_dict() == {
        1: False, 2: True, 3: True}
    table = churn.churn_table(tiny(), CUTOFF, horizon_days=90)
    assert list(table.columns[:2]) == ["customer", "recency_days"] and table.columns[-1] == "churn"


@pytest.fixture(scope="module")
def cdnow():
    return data.load("cdnow_sample").transactions


def test_no_feature_reads_after_the_cutoff(cdnow):
    full = churn.transaction_features(cdnow, CUTOFF)
    cut = churn.transaction_features(cdnow[cdnow["date"] <= CUTOFF], CUTOFF)
    pd.testing.assert_frame_equal(full, cut)
    # rewrite the future: other amounts and quantities, moved dates, new customers, new orders
    rng = np.random.default_rng(0)
    future = (cdnow["date"] > CUTOFF).to_numpy()
    changed = cdnow.copy()
    changed.loc[future, "amount"] *= rng.uniform(0, 10, future.sum())
    changed.loc[future, "quantity"] += 3
    changed.loc[future, "date"] += pd.to_timedelta(rng.integers(1, 30, future.sum()), unit="D")
    # the cut-off is a date, so the whole of its day is past: the future starts at midnight
    extra = cdnow.sample(300, random_state=1).assign(
        date=CUTOFF + pd.Timedelta(days=1), amount=1e6)
    newcomers = extra.head(50).assign(customer=10**9 + np.arange(50))
    changed = pd.concat([changed, extra, newcomers], ignore_index=True)
    pd.testing.assert_frame_equal(churn.transaction_features(changed, CUTOFF), full)
    # ...while one more order before the cut-off does change features (the test can fail)
    one = cdnow.head(1).assign(date=CUTOFF, amount=3.0)
    moved = churn.transaction_features(pd.concat([cdnow, one]), CUTOFF)
    assert moved.loc[one["customer"].item(), "recency_days"] == 0
    assert not moved.equals(full)


@pytest.fixture(scope="module")
def world():
    return data.load("synthetic", n_customers=3000, seed=0)


WORLD_CUTOFF = pd.Timestamp("2024-12-31")
HORIZON = 180


def test_events_and_category_mix_do_not_read_after_the_cutoff(world):
    def features(tx, events):
        return churn.transaction_features(tx, WORLD_CUTOFF, events=events, items=world.items)

    full = features(world.transactions, world.events)
    assert {"share_books", "n_categories", "view_events", "cart_to_purchase",
            "mean_dwell_seconds", "days_since_last_event"} <= set(full.columns)
    shares = full.filter(like="share_").sum(axis=1)
    assert np.allclose(shares, 1.0)
    end_of_day = WORLD_CUTOFF + pd.Timedelta(days=1)  # a date cut-off: its whole day is past
    seen = world.events[world.events["timestamp"] < end_of_day]
    past = world.transactions[world.transactions["date"] < end_of_day]
    pd.testing.assert_frame_equal(features(past, seen), full)
    later = seen.sample(500, random_state=2).assign(
        timestamp=WORLD_CUTOFF + pd.Timedelta(days=3), dwell_seconds=9999.0)
    pd.testing.assert_frame_equal(features(world.transactions, pd.concat([world.events, later])),
                                  full)


def test_synthetic_labels_agree_with_the_true_alive_state(world):
    table = churn.churn_table(world.transactions, WORLD_CUTOFF, HORIZON, events=world.events,
                              items=world.items)
    truth = world.truth.customers.reindex(table["customer"])
    dead = (truth["death_date"].notna() & (truth["death_date"] <= WORLD_CUTOFF)).to_numpy()
    churned = table["churn"].to_numpy()
    assert dead.sum() > 200
    # a customer dead at the cut-off never buys again: always labelled churned
    assert churned[dead].all()
    # an alive customer buys at rate lambda per week until after their next purchase, so
    # P(no purchase within H days | alive) = exp(-lambda H / 7): the count of alive customers
    # labelled churned must match its expectation within 4 binomial standard deviations
    p = np.exp(-truth["lambda"].to_numpy()[~dead] * HORIZON / 7)
    assert abs(churned[~dead].sum() - p.sum()) < 4 * np.sqrt((p * (1 - p)).sum())
    # so the label agrees with the truth far above chance
    assert churned[dead].mean() - churned[~dead].mean() > 0.2


def test_bad_cutoffs_are_refused(cdnow):
    last = cdnow["date"].max()
    with pytest.raises(DataError, match="at or after the last transaction"):
        churn.churn_table(cdnow, last + pd.Timedelta(days=1), 30)
    with pytest.raises(DataError, match="at or after the last transaction"):
        churn.churn_labels(cdnow, last, 30)
    with pytest.raises(DataError, match=r"horizon .* ends on"):
        churn.churn_labels(cdnow, last - pd.Timedelta(days=10), 30)
    with pytest.raises(DataError, match="no transaction at or before the cut-off"):
        churn.transaction_features(cdnow, "1990-01-01")
    with pytest.raises(ParameterError, match="cutoff must be"):
        churn.churn_labels(cdnow, "not a date", 30)
    with pytest.raises(ParameterError, match="horizon_days must be"):
        churn.churn_labels(cdnow, CUTOFF, 0)
    with pytest.raises(DataError, match="no column 'amount'"):
        churn.transaction_features(cdnow.drop(columns="amount"), CUTOFF)
    with pytest.raises(DataError, match="must be datetimes"):
        churn.transaction_features(cdnow.assign(date=cdnow["date"].astype(str)), CUTOFF)
    # scoring today's customers needs no future: features after the last day are fine
    assert len(churn.transaction_features(cdnow, last + pd.Timedelta(days=1))) == 2357
