"""churn.compare logs the folds' training and test sizes and which interval its bounds are, so
a report applies the same Nadeau-Bengio correction."""

from __future__ import annotations

import pandas as pd
import pytest

from retaillab import churn, tracking

from .conftest import toy_customers


def test_fold_sizes_and_interval_kind_are_logged(store, tmp_path):
    run = tracking.notebook_run(None, experiment="churn-sizes", params={})
    found = churn.compare(toy_customers(150), models=["dummy", "logistic"], n_splits=3,
                          n_repeats=2, run=run, importance=False, log_models="none",
                          progress=False)
    run.close()
    child = next(c for c in tracking.Run(run.run_id, run.experiment_id).children()
                 if c.data.tags[tracking.RUN_NAME_TAG] == "logistic")
    tags = child.data.tags
    assert tags["retaillab.interval"] == "corrected resampled t over 6 folds (Nadeau-Bengio)"
    assert float(tags["retaillab.n_train"]) == pytest.approx(100)  # 3-fold of 150: 100 / 50
    assert float(tags["retaillab.n_test"]) == pytest.approx(50)
    path = tracking.client().download_artifacts(child.info.run_id, "folds.csv", str(tmp_path))
    table = pd.read_csv(path, index_col=0)
    assert table["n_train"].tolist() == [len(train) for train, _ in found.splits]
    assert table["n_test"].tolist() == [len(test) for _, test in found.splits]
    assert child.data.metrics["roc_auc_ci_low"] == pytest.approx(
        found.table.loc[("logistic", "roc_auc"), "ci_low"])

