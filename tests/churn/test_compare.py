"""The comparison driver: published AUC on telco, same folds, fold values, runs, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score

from retaillab import churn, data, tracking
from retaillab.errors import DataError, ParameterError, UnknownNameError

from .conftest import FAST, toy_customers


def test_logistic_on_telco_reaches_the_published_auc():
    """IBM telco churn: logistic regression is reported at ROC AUC 0.83-0.85."""
    telco = data.load("telco_churn").customers
    result = churn.compare(telco, target="churn", models=["logistic"], n_splits=5,
                           n_repeats=2, seed=0, importance=False)
    auc = result.table.loc[("logistic", "roc_auc")]
    assert auc["mean"] >= 0.84
    assert auc["ci_low"] < auc["mean"] < auc["ci_high"] < 0.87
    assert len(result.folds) == 10


@pytest.fixture(scope="module")
def result():
    return churn.compare(toy_customers(400), models={"dummy": {}, "logistic": {},
                                                      "forest": FAST["forest"]},
                         n_splits=4, n_repeats=2, seed=1)


def test_every_model_sees_the_same_folds_and_each_repeat_scores_everyone(result):
    preds = result.predictions
    rows = {m: preds[preds["model"] == m][["repeat", "fold", "row"]].reset_index(drop=True)
            for m in result.models}
    assert rows["dummy"].equals(rows["logistic"]) and rows["dummy"].equals(rows["forest"])
    for _, one in preds[preds["model"] == "logistic"].groupby("repeat"):
        assert sorted(one["row"]) == list(range(400))
    # stratified: each test fold's churn rate is within one customer of the overall rate
    y = toy_customers(400)["churn"].to_numpy()
    for _, test in result.splits:
        assert abs(y[test].sum() - y.mean() * len(test)) <= 1


def test_fold_values_equal_a_refit_by_hand_and_intervals_are_corrected_t(result):
    frame = toy_customers(400)
    x, y = frame.drop(columns=["customer", "churn"]), frame["churn"].to_numpy()
    train, test = result.splits[5]
    model = churn.create("logistic", seed=1).fit(x.iloc[train], y[train])
    by_hand = roc_auc_score(y[test], model.predict_proba(x.iloc[test])[:, 1])
    logged = result.folds.query("model == 'logistic' and repeat == 1 and fold == 1")
    assert logged["roc_auc"].item() == pytest.approx(by_hand)
    values = result.folds.loc[result.folds["model"] == "logistic", "roc_auc"].to_numpy()
    # 4 folds x 2 repeats of 400 customers: 300 train, 100 test each; the corrected resampled t
    # (Nadeau-Bengio) widens s^2 / J to (1/J + n_test/n_train) * s^2, with J - 1 df
    assert [len(train) for train, _ in result.splits] == [300] * 8
    assert [len(test) for _, test in result.splits] == [100] * 8
    mean = sum(values) / 8
    variance = sum((v - mean) ** 2 for v in values) / 7
    half = stats.t.ppf(0.975, 7) * ((1 / 8 + 100 / 300) * variance) ** 0.5
    assert tuple(result.table.loc[("logistic", "roc_auc")]) == pytest.approx(
        (mean, mean - half, mean + half))


def test_models_rank_as_the_generating_law_says(result):
    auc = result.table.xs("roc_auc", level="metric")["mean"]
    assert auc["dummy"] == pytest.approx(0.5)
    assert auc["logistic"] > 0.75  # logistic is the true model here
    lift = result.table.xs("lift_at_10", level="metric")["mean"]
    assert lift["dummy"] == pytest.approx(1.0) and lift["logistic"] > 1.5
    assert result.best in {"logistic", "forest"}
    # permutation importance finds the signal column, not the noise
    ranked = result.importance.set_index("feature")["importance"]
    assert ranked.index[0] == "x" and ranked["x"] > ranked["noise"] + 0.05


def test_calibration_bins_cover_every_prediction(result):
    table = result.calibration("logistic", n_bins=5)
    assert table["customers"].sum() == 800 and len(table) == 5
    assert table["predicted"].is_monotonic_increasing
    pooled = (table["observed"] * table["customers"]).sum() / 800
    assert pooled == pytest.approx(toy_customers(400)["churn"].mean())


def test_same_seed_same_numbers_and_callers_table_untouched():
    frame = toy_customers(200, seed=4)
    before = frame.copy()
    a = churn.compare(frame, models=["tree"], n_splits=3, n_repeats=1, seed=7, importance=False)
    b = churn.compare(frame, models=["tree"], n_splits=3, n_repeats=1, seed=7, importance=False)
    metrics = list(churn.METRICS)
    assert a.folds[metrics].equals(b.folds[metrics])
    pd.testing.assert_frame_equal(frame, before)


def test_each_model_is_one_child_run(store):
    run = tracking.notebook_run(None, experiment="churn-test", params={})
    found = churn.compare(toy_customers(150), models=["dummy", "tree"], n_splits=3,
                          n_repeats=1, run=run, importance=False)
    run.close()
    children = tracking.Run(run.run_id, run.experiment_id).children()
    logged = {c.data.tags[tracking.RUN_NAME_TAG]: c for c in children}
    assert set(logged) == {"dummy", "tree"}
    tree = logged["tree"].data
    assert tree.metrics["roc_auc"] == pytest.approx(found.table.loc[("tree", "roc_auc"), "mean"])
    assert tree.metrics["roc_auc_ci_low"] < tree.metrics["roc_auc"]
    assert "fit_seconds" in tree.metrics and tree.params["max_depth"] == "6"


def test_progress_says_which_model_does_what_on_which_fold(progress_bars):
    found = churn.compare(toy_customers(120), models=["dummy", "tree"], n_splits=2,
                          n_repeats=1, importance_repeats=1)
    (bar,) = progress_bars
    assert bar.total == 2 and bar.n == 2 and bar.closed
    expected = [("churn: 0/2 models", 0)]
    for position, name in enumerate(["dummy", "tree"]):
        for fold in (1, 2):
            for what in ("fitting", "scoring"):
                expected.append((f"churn: {position + 1}/2 models, {name} {what} "
                                 f"(fold {fold}/2)", position))
    expected += [(f"churn: 2/2 models, {found.best} permutation importance", 2),
                 ("churn: 2/2 models, done", 2)]
    assert bar.seen == expected
    progress_bars.clear()
    churn.compare(toy_customers(60), models=["dummy"], n_splits=2, n_repeats=1,
                  importance=False, progress=False)
    assert progress_bars == []


# --- bad input: one clear error each --------------------------------------------------------

def test_missing_target_column_is_named():
    frame = toy_customers(50).drop(columns="churn")
    with pytest.raises(DataError, match="no target column 'churn'"):
        churn.compare(frame)


@pytest.mark.parametrize("values, found", [
    (lambda n: np.where(np.arange(n) % 2, "Yes", "No"), "binary"),
    (lambda n: np.arange(n) % 3, "binary"),
    (lambda n: np.where(np.arange(n) % 2, 1.0, np.nan), "missing target"),
])
def test_a_target_that_is_not_binary_is_refused(values, found):
    frame = toy_customers(60).assign(churn=values(60))
    with pytest.raises(DataError, match=found) as caught:
        churn.compare(frame)
    assert "column 'churn'" in str(caught.value) and "row" in str(caught.value)


def test_a_zero_one_target_is_accepted():
    frame = toy_customers(90).assign(churn=lambda f: f["churn"].astype(int))
    found = churn.compare(frame, models=["dummy"], n_splits=3, n_repeats=1, importance=False)
    assert found.table.loc[("dummy", "roc_auc"), "mean"] == pytest.approx(0.5)


def test_a_single_class_target_is_refused():
    frame = toy_customers(60).assign(churn=False)
    with pytest.raises(DataError, match="one class only"):
        churn.compare(frame)


def test_features_all_missing_are_refused():
    frame = toy_customers(60)
    frame[["x", "noise", "flag", "cat"]] = np.nan
    with pytest.raises(DataError, match="every feature is missing"):
        churn.compare(frame)
    one_empty = toy_customers(60).assign(noise=np.nan)
    with pytest.raises(DataError, match="'noise' is missing in every row"):
        churn.compare(one_empty)


def test_other_bad_settings_are_named():
    frame = toy_customers(60)
    with pytest.raises(DataError, match="dates are not model features"):
        churn.compare(frame.assign(when=pd.Timestamp("2024-01-01")))
    with pytest.raises(DataError, match="no customers"):
        churn.compare(frame.head(0))
    with pytest.raises(DataError, match="no feature column"):
        churn.compare(frame[["customer", "churn"]])
    with pytest.raises(DataError, match="fewer than n_splits"):
        churn.compare(frame.assign(churn=np.arange(60) < 2), n_splits=5)
    with pytest.raises(ParameterError, match="n_splits must be"):
        churn.compare(frame, n_splits=1)
    with pytest.raises(UnknownNameError, match="Did you mean 'forest'"):
        churn.compare(frame, models=["forrest"])
    with pytest.raises(ParameterError, match="models must be"):
        churn.compare(frame, models="logistic")
