"""Churn probabilities that mean what they say: unweighted fits by default, calibration on
the training rows as an option, the expected calibration error and reliability curve checked
against hand computations."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.calibration import CalibratedClassifierCV

from retaillab import churn, data
from retaillab.churn.metrics import expected_calibration_error, fold_metrics, reliability
from retaillab.errors import ParameterError


def test_ece_and_reliability_by_hand():
    # bins of width 0.1: {0.05, 0.05} in bin 0, {0.35} in bin 3, {0.92, 0.98, 1.0} in bin 9
    p = np.array([0.05, 0.05, 0.35, 0.92, 0.98, 1.0])
    y = np.array([0, 1, 0, 1, 1, 0])
    table = reliability(y, p)
    assert table["bin"].tolist() == [0, 3, 9]
    assert table["customers"].tolist() == [2, 1, 3]
    assert np.allclose(table["predicted"], [0.05, 0.35, (0.92 + 0.98 + 1.0) / 3])
    assert np.allclose(table["observed"], [0.5, 0.0, 2 / 3])
    hand = (2 / 6) * abs(0.5 - 0.05) + (1 / 6) * abs(0.0 - 0.35) + \
        (3 / 6) * abs(2 / 3 - (0.92 + 0.98 + 1.0) / 3)
    assert math.isclose(expected_calibration_error(y, p), hand, rel_tol=1e-12)
    assert math.isclose(fold_metrics(y, p)["ece"], hand, rel_tol=1e-12)
    # a perfectly calibrated constant: the churn rate itself
    assert expected_calibration_error(y, np.full(6, 0.5)) == 0.0


@pytest.fixture(scope="module")
def telco():
    customers = data.load("telco_churn").customers
    return customers.drop(columns=["customer", "churn"]), customers["churn"].to_numpy()


def test_unweighted_default_predicts_the_churn_rate_and_balanced_does_not(telco):
    x, y = telco
    plain = churn.create("logistic").fit(x, y).predict_proba(x)[:, 1]
    weighted = churn.create("logistic", class_weight="balanced").fit(x, y).predict_proba(x)[:, 1]
    rate = y.mean()  # 26.5% of telco customers churned
    assert abs(plain.mean() - rate) < 0.005  # a logistic fit's mean probability is the rate
    assert weighted.mean() > rate + 0.1  # balanced weights push it towards 0.5
    assert expected_calibration_error(y, plain) < expected_calibration_error(y, weighted)


def test_calibration_wraps_the_classifier_and_fits_on_training_rows_only(telco):
    x, y = telco
    # a weighted fit's probabilities are off; calibrated on its training rows, they are not
    model = churn.create("forest", n_estimators=40, class_weight="balanced",
                         calibration="isotonic", seed=0)
    inner = model.named_steps["model"]
    assert isinstance(inner, CalibratedClassifierCV) and inner.method == "isotonic"
    train, test = np.arange(5000), np.arange(5000, len(y))
    p = model.fit(x.iloc[train], y[train]).predict_proba(x.iloc[test])[:, 1]
    raw = churn.create("forest", n_estimators=40, class_weight="balanced", seed=0).fit(
        x.iloc[train], y[train]).predict_proba(x.iloc[test])[:, 1]
    assert expected_calibration_error(y[test], p) < expected_calibration_error(y[test], raw)
    with pytest.raises(ParameterError, match="calibration"):
        churn.create("logistic", calibration="platt")


def test_compare_logs_ece_beside_the_other_metrics(telco):
    x, y = telco
    frame = pd.concat([x, pd.Series(y, name="churn", index=x.index)], axis=1).head(600)
    result = churn.compare(frame, models=["dummy", "logistic"], n_splits=2, n_repeats=1,
                           importance=False, progress=False)
    ece = result.table.xs("ece", level="metric")["mean"]
    assert ece.notna().all() and (ece >= 0).all()
