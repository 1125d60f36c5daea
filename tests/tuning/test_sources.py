"""Tuning reads the same sources as the comparisons: a tuning spec's ``data.dataset`` may name
the catalogue's order export, and each task builds its problem from it."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest

from retaillab.tuning.objectives import make_problem
from tests.make_orders import make_orders

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    folder = tmp_path_factory.mktemp("own")
    (folder / "pyproject.toml").write_text("")
    (folder / "data").mkdir()
    shutil.copy(ROOT / "data" / "sources.yaml", folder / "data" / "sources.yaml")
    make_orders(folder / "data" / "orders.csv", customers=400, seed=5)
    return folder


@pytest.mark.parametrize(("task", "model", "metric", "data"), [
    ("recsys", "item_knn", "ndcg_at_10", {"feedback": "purchase"}),
    ("churn", "logistic", "roc_auc", {"horizon_days": 120}),
    ("clv", "bg_nbd", "rmse", {"calibration_end": "2012-02-29", "holdout_end": "2012-11-29"}),
])
def test_each_task_tunes_on_the_catalogued_export(project, monkeypatch, task, model, metric,
                                                  data):
    monkeypatch.chdir(project)
    problem = make_problem(task, model, metric, {"dataset": "orders", **data}, {}, seed=0)
    score = problem.validate({})
    assert math.isfinite(score)
    if metric in ("ndcg_at_10", "roc_auc"):
        assert 0.0 <= score <= 1.0
    assert math.isfinite(problem.test_score({}))
