"""Out-of-time churn: fitted at one cut-off, evaluated at a later one whose labels lie after
the training window, on customers active within a stated window; checked against a
by-hand pipeline and a by-hand count of active customers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from retaillab import churn, data
from retaillab.errors import DataError, ParameterError


@pytest.fixture(scope="module")
def tx():
    return data.load("cdnow_sample").transactions


def test_active_only_keeps_customers_who_bought_in_the_window(tx):
    table = churn.churn_table(tx, "1997-12-31", 180)
    kept = churn.active_only(table, 90)
    # by hand: a purchase on one of the 90 days up to and including 31 December
    recent = tx[(tx["date"] > pd.Timestamp("1997-12-31") - pd.Timedelta(days=90))
                & (tx["date"] < pd.Timestamp("1998-01-01"))]["customer"].unique()
    assert set(kept["customer"]) == set(recent)
    assert churn.active_only(table, None) is table
    with pytest.raises(ParameterError, match="active_days"):
        churn.active_only(table, 0)
    with pytest.raises(DataError, match="no customer bought within"):
        churn.active_only(table[table["recency_days"] > 5], 1)


def test_out_of_time_equals_a_pipeline_fitted_by_hand(tx):
    found = churn.out_of_time(tx, fit_cutoff="1997-06-30", eval_cutoff="1997-12-31",
                              horizon_days=180, active_days=120, models=["logistic", "dummy"])
    train = churn.churn_table(tx, "1997-06-30", 180)
    train = train[train["recency_days"] < 120]
    test = churn.churn_table(tx, "1997-12-31", 180)
    test = test[test["recency_days"] < 120]
    features = [c for c in train.columns if c not in ("customer", "churn")]
    model = churn.create("logistic").fit(train[features], train["churn"])
    p = model.predict_proba(test[features])[:, 1]
    assert found.metrics.loc["logistic", "roc_auc"] == pytest.approx(
        roc_auc_score(test["churn"], p), abs=1e-12)
    assert found.metrics.loc["dummy", "roc_auc"] == 0.5
    assert found.sizes.loc["evaluate", "customers"] == len(test)
    assert found.sizes.loc["train", "churn_rate"] == pytest.approx(train["churn"].mean())
    assert "fitted at 1997-06-30" in found.summary() and "evaluated at 1997-12-31" in \
        found.summary()


def test_the_later_labels_must_lie_after_the_training_window(tx):
    with pytest.raises(ParameterError, match="on or after 1997-12-27"):
        churn.out_of_time(tx, fit_cutoff="1997-06-30", eval_cutoff="1997-12-01",
                          horizon_days=180, models=["dummy"])
    # the default evaluation cut-off is the first one allowed
    found = churn.out_of_time(tx, fit_cutoff="1997-03-31", horizon_days=90, models=["dummy"])
    assert found.eval_cutoff == "1997-06-29"
    with pytest.raises(DataError, match="after the last transaction"):
        churn.out_of_time(tx, fit_cutoff="1997-12-31", horizon_days=180, models=["dummy"])


def test_changing_purchases_after_the_later_horizon_changes_nothing(tx):
    later = tx.copy()
    cut = later["date"] > pd.Timestamp("1998-01-01")  # after 1997-09-30 + 90 days
    later.loc[cut, "amount"] = later.loc[cut, "amount"] * 3 + 1
    kwargs = {"fit_cutoff": "1997-06-30", "eval_cutoff": "1997-09-30", "horizon_days": 90,
              "models": ["logistic"]}
    a = churn.out_of_time(tx, **kwargs).metrics
    b = churn.out_of_time(later, **kwargs).metrics
    pd.testing.assert_frame_equal(a, b)
    assert np.isfinite(a.to_numpy()).all()
