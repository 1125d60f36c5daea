"""A study end to end in this process: trials are child runs scored on validation only; the
test split is scored once, for the best and the default configuration; bad input is refused
with a clear message."""

from __future__ import annotations

import pandas as pd
import pytest

from retaillab import tracking
from retaillab.cli import main
from retaillab.tuning import load_tune_spec, tune
from retaillab.tuning.objectives import Problem

from .conftest import runs_of, write_spec


def test_trials_never_see_the_test_split_and_the_record_keeps_scores_apart(store, monkeypatch):
    scored: list[tuple[str, int]] = []  # (phase, rows scored) for every fit_score call
    phase = {"now": "trials"}
    original = Problem.test_score

    def test_score(self, params):
        phase["now"] = "final"
        return original(self, params)

    monkeypatch.setattr(Problem, "test_score", test_score)
    from retaillab.tuning import objectives

    make = objectives.make_problem
    seen = {}

    def spying(*args, **kwargs):
        problem = make(*args, **kwargs)
        inner = problem.fit_score

        def fit_score(params, train, valid):
            scored.append((phase["now"], id(valid)))
            return inner(params, train, valid)

        problem.fit_score = fit_score
        seen["problem"] = problem
        return problem

    monkeypatch.setattr(objectives, "make_problem", spying)
    spec = load_tune_spec(write_spec(store, n_trials=3))
    result = tune(spec)

    problem = seen["problem"]
    test = problem.test
    (inner, valid), = problem.folds
    keys = ["user", "item"]
    test_pairs = pd.MultiIndex.from_frame(test[keys])
    # validation is carved from training: disjoint from test, and train = inner + validation
    assert not pd.MultiIndex.from_frame(valid[keys]).isin(test_pairs).any()
    assert not pd.MultiIndex.from_frame(inner[keys]).isin(test_pairs).any()
    assert len(inner) + len(valid) == len(problem.train)
    assert {i for p, i in scored if p == "trials"} == {id(valid)}
    assert sum(1 for p, i in scored if i == id(test)) == 2  # best and default, once each

    parents, children = runs_of("tiny")
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    metrics = parents[0].data.metrics
    for name in ("best_validation_rmse", "test_rmse", "default_validation_rmse",
                 "default_test_rmse"):
        assert 0.5 < metrics[name] < 1.5
    assert metrics["test_rmse"] != metrics["best_validation_rmse"]
    assert metrics["test_rmse"] == pytest.approx(result.scores["test"])
    assert sorted(int(c.data.tags["retaillab.trial"]) for c in children) == [0, 1, 2]
    for child in children:
        assert child.info.status == "FINISHED"
        assert set(child.data.metrics) == {"validation_rmse"}  # no test score on a trial
        assert child.data.tags[tracking.TAG_KIND] == "trial"
    best = min(children, key=lambda c: c.data.metrics["validation_rmse"])
    assert metrics["best_validation_rmse"] == pytest.approx(best.data.metrics["validation_rmse"])
    client = tracking.client()
    plots = {a.path for a in client.list_artifacts(parents[0].info.run_id, "optuna")}
    assert "optuna/optimization_history.png" in plots and "optuna/parallel_coordinate.png" in plots


def test_churn_and_clv_studies_run_on_their_own_splits(store):
    churn = load_tune_spec(write_spec(store, "churn", task="churn", model="logistic",
                                      metric="roc_auc", n_trials=2, space={},
                                      data={"dataset": "mlc_churn", "sample": 600, "folds": 2}))
    result = tune(churn, plots=False)
    assert 0.5 < result.scores["test"] <= 1 and 0.5 < result.scores["best_validation"] <= 1
    assert load_tune_spec(write_spec(store, "clv", task="clv", model="bg_nbd", metric="rmse",
                                     space={}, data={"sample": 400})).direction == "minimize"
    result = tune(load_tune_spec(store / "clv.yaml"), n_trials=2, plots=False)
    assert set(result.best_params) == {"penalizer"}
    assert result.scores["test"] > 0 and result.scores["default_test"] > 0


def test_unknown_hyperparameter_in_the_spec_names_the_valid_ones(store, capsys):
    spec = write_spec(store, space={"n_factor": ["int", 5, 10]})
    assert main(["tune", str(spec)]) == 2
    err = capsys.readouterr().err
    assert "'n_factor'" in err and "n_factors" in err and "reg_all" in err
    assert not (store / "mlruns" / "optuna").exists() or not list(
        (store / "mlruns" / "optuna").iterdir())  # refused before any study was created


@pytest.mark.parametrize("url", ["/no/such/folder/study.journal", "nosuchdb://host/db",
                                 "sqlite:////no/such/folder/optuna.db", "not-a-storage"])
def test_storage_that_cannot_be_opened(store, capsys, url):
    assert main(["tune", str(write_spec(store)), "--storage", url]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {url}: ")
    assert "cannot open the Optuna" in err or "neither a journal file" in err
    assert "Traceback" not in err and "fix: give a journal file path" in err


@pytest.mark.parametrize("workers", ["0", "-2"])
def test_workers_below_one(store, capsys, workers):
    assert main(["tune", str(write_spec(store)), "--workers", workers]) == 2
    assert "--workers must be an integer >= 1" in capsys.readouterr().err


def test_spec_errors_name_the_key(store, capsys):
    assert main(["tune", str(write_spec(store, n_trials=0))]) == 2
    assert "'n_trials' must be an integer >= 1" in capsys.readouterr().err
    assert main(["tune", str(write_spec(store, data={"smaple": 5}))]) == 2
    assert "data.smaple" in capsys.readouterr().err


def test_default_study_journal_sits_beside_the_mlflow_store(store, monkeypatch, tmp_path):
    from retaillab.tuning.storage import default_storage

    assert default_storage("tune svd") == str(store / "mlruns" / "optuna" / "tune-svd.journal")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{elsewhere / 'm.db'}")
    assert default_storage("s") == str(elsewhere / "optuna" / "s.journal")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://tracking.example:5000")
    assert default_storage("s") == str(store / "mlruns" / "optuna" / "s.journal")
