"""The final scores: equal to Surprise fitted by hand, each computed once whoever is free,
kept in the study so a complete study run again is not scored again; the share of the
cores each worker process gets; SQLite studies in write-ahead-log mode."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys

import numpy as np
import optuna
import pytest
from optuna.distributions import FloatDistribution

from retaillab import owners
from retaillab.tuning import load_tune_spec, tune
from retaillab.tuning.final import attribute, config_key, known, take
from retaillab.tuning.objectives import Problem, make_problem
from retaillab.tuning.storage import open_storage
from retaillab.tuning.trials import budget_lock_path, fixed_params, make_study
from retaillab.tuning.workers import cores, thread_env, thread_limit

from .conftest import write_spec


def _surprise_rmse(train, test, params) -> float:
    """RMSE on ``test`` of ``surprise.SVD(**params)`` fitted on ``train``, by Surprise's own
    API and numpy (its predict clips to the scale and falls back for unknown ids)."""
    import surprise

    reader = surprise.Reader(rating_scale=(train["rating"].min(), train["rating"].max()))
    data = surprise.Dataset.load_from_df(train[["user", "item", "rating"]], reader)
    algo = surprise.SVD(random_state=0, **params).fit(data.build_full_trainset())
    pairs = zip(test["user"], test["item"], strict=True)
    est = np.array([algo.predict(u, i).est for u, i in pairs])
    return float(np.sqrt(np.mean((est - test["rating"].to_numpy()) ** 2)))


def test_final_scores_equal_surprise_by_hand_and_a_complete_study_is_not_rescored(
        store, monkeypatch):
    spec = load_tune_spec(write_spec(store, n_trials=3))
    first = tune(spec, plots=False)

    problem = make_problem("recsys", "svd", "rmse", {"sample": 60}, {"n_epochs": 3}, 0)
    assert first.scores["default_test"] == pytest.approx(
        _surprise_rmse(problem.train, problem.test, {"n_epochs": 3}), abs=1e-9)
    assert first.scores["test"] == pytest.approx(_surprise_rmse(
        problem.train, problem.test, {"n_epochs": 3, **first.best_params}), abs=1e-9)
    (inner, valid), = problem.folds
    assert first.scores["default_validation"] == pytest.approx(
        _surprise_rmse(inner, valid, {"n_epochs": 3}), abs=1e-9)

    def never(*args, **kwargs):
        raise AssertionError("a known final score was computed again")

    monkeypatch.setattr(Problem, "test_score", never)
    monkeypatch.setattr(Problem, "validate", never)
    again = tune(spec, workers=2, plots=False)  # complete: nothing to run or score
    assert again.scores == first.scores and again.run_id == first.run_id
    assert not _workers_of(os.getpid())  # the unused worker was stopped and waited for


def _workers_of(pid: int) -> list[int]:
    """The worker processes (alive or zombie) whose parent is ``pid``."""
    from pathlib import Path

    found = []
    for proc in Path("/proc").iterdir():
        try:
            stat = (proc / "stat").read_text()
            command = (proc / "cmdline").read_bytes()
        except (OSError, ValueError):
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid and \
                b"retaillab.tuning.workers" in command:
            found.append(int(proc.name))
    return found


def _full_of(study, values) -> None:
    for x, value in values:
        study.add_trial(optuna.trial.create_trial(
            params={"x": x}, distributions={"x": FloatDistribution(0, 1)}, value=value))


def test_each_final_job_is_done_once_and_the_test_waits_for_the_last_trial(store):
    """Scores from a data-free problem: validation 0.5, test 0.25, plus the parameter x."""
    spec = load_tune_spec(write_spec(store, "jobs", n_trials=3))
    url = str(store / "jobs.journal")
    study = make_study(spec, open_storage(url), seed=0)
    calls = []

    def fit_score(params, train, valid):
        calls.append((valid, params.get("x", 0.0)))
        return {"valid": 0.5, "test": 0.25}[valid] + params.get("x", 0.0)

    problem = Problem("recsys", "svd", "rmse", train="train", test="test",
                      folds=[("train", "valid")], fit_score=fit_score)
    lock, key = budget_lock_path(url, "jobs"), config_key(spec, fixed_params(spec)[1])
    _full_of(study, [(0.3, 0.9), (0.1, 0.7)])  # two of three trials: the best may change
    while take(study, key, problem, lock, 3):
        pass
    assert calls == [("test", 0.0), ("valid", 0.0)]  # the default's, not yet the test
    _full_of(study, [(0.2, 0.8)])
    assert take(study, key, problem, lock, 3) and not take(study, key, problem, lock, 3)
    assert calls[2:] == [("test", 0.1)]  # the best trial (0.7, minimized) once
    assert known(study, key, 1) == {"test": 0.35, "default_test": 0.25,
                                    "default_validation": 0.5}
    assert study.user_attrs[attribute(key, "test", 1) + ".claim"] == owners.owner()


def test_a_dead_claimant_is_taken_over_and_a_live_one_is_left_alone(store):
    spec = load_tune_spec(write_spec(store, "claims", n_trials=5))
    url = str(store / "claims.journal")
    study = make_study(spec, open_storage(url), seed=0)
    calls = []
    problem = Problem("recsys", "svd", "rmse", train="train", test="test",
                      folds=[("train", "valid")],
                      fit_score=lambda params, train, valid: calls.append(valid) or 1.0)
    lock, key = budget_lock_path(url, "claims"), config_key(spec, fixed_params(spec)[1])
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    gone = json.dumps({**json.loads(owners.owner()), "pid": int(dead), "start": "0"})
    study.set_user_attr(attribute(key, "default_test") + ".claim", owners.owner(os.getppid()))
    study.set_user_attr(attribute(key, "default_validation") + ".claim", gone)
    while take(study, key, problem, lock, 5):
        pass
    assert calls == ["valid"]  # the dead one's job; the live one's stays with it
    assert known(study, key, None) == {"default_validation": 1.0}


def test_a_changed_spec_is_scored_afresh():
    """The key covers what a score depends on, and only that."""
    from retaillab.tuning.spec import TuneSpec, validate

    spec = validate(TuneSpec(name="k", task="recsys", model="svd", metric="rmse",
                             data={"sample": 60}))
    key = config_key(spec, {"n_epochs": 3})
    assert key == config_key(spec.replace(n_trials=50, timeout=9.0), {"n_epochs": 3})
    assert key != config_key(spec, {"n_epochs": 4})
    assert key != config_key(spec.replace(seed=1), {"n_epochs": 3})
    assert key != config_key(spec.replace(data={"sample": 61}), {"n_epochs": 3})


def test_each_of_n_processes_gets_its_share_of_the_cores(monkeypatch):
    share = max(1, cores() // 2)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    monkeypatch.setenv("MKL_NUM_THREADS", "3")  # the user's own setting stays
    env = thread_env(2)
    assert env["OMP_NUM_THREADS"] == env["OPENBLAS_NUM_THREADS"] == str(share)
    assert env["MKL_NUM_THREADS"] == "3"
    assert thread_env(1)["OMP_NUM_THREADS"] == str(cores())
    child = subprocess.run([sys.executable, "-c", "import json, numpy, threadpoolctl; print("
                            "json.dumps([p['num_threads'] for p in "
                            "threadpoolctl.threadpool_info()]))"],
                           env=env, capture_output=True, text=True, check=True)
    assert set(json.loads(child.stdout)) <= {share}  # numpy's BLAS, as a worker starts
    from threadpoolctl import threadpool_info

    with thread_limit(2):  # this process (numpy loaded): its BLAS pool
        assert {p["num_threads"] for p in threadpool_info()} <= {share}


def test_a_sqlite_study_is_in_write_ahead_log_mode(tmp_path):
    db = tmp_path / "optuna.db"
    study = optuna.create_study(storage=open_storage(f"sqlite:///{db}"))
    study.optimize(lambda trial: trial.suggest_float("x", 0, 1), n_trials=2)
    with sqlite3.connect(db) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert len(optuna.load_study(study_name=study.study_name,
                                 storage=open_storage(f"sqlite:///{db}")).trials) == 2
