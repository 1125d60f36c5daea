"""A study killed mid-way resumes without losing or repeating trials, and two worker
processes share one study and one MLflow parent run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import optuna
from optuna.trial import TrialState

from retaillab import tracking
from retaillab.tuning import load_tune_spec, tune
from retaillab.tuning.trials import TAG_TRIAL

from .conftest import runs_of, write_spec

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


def _trials(journal):
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(journal)))
    return optuna.load_study(study_name="tiny", storage=storage).get_trials(deepcopy=False)


def _check_record(trials, children, n):
    finished = [t for t in trials if t.state in FINISHED]
    numbers = [t.number for t in trials]
    assert len(finished) == n
    assert numbers == sorted(set(numbers)) == list(range(len(trials)))  # unique, no gaps
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    by_trial = {}
    for child in children:
        by_trial.setdefault(int(child.data.tags["retaillab.trial"]), []).append(child)
    assert all(len(v) == 1 for v in by_trial.values()), "a trial was logged twice"
    assert {t.number for t in finished} == {
        k for k, (c,) in by_trial.items() if c.info.status == "FINISHED"}
    for trial in trials:  # every trial's child run is the one recorded in the trial
        if "mlflow_run_id" in trial.user_attrs:
            assert by_trial[trial.number][0].info.run_id == trial.user_attrs["mlflow_run_id"]


def test_killed_study_resumes_without_losing_or_repeating_trials(store):
    journal = store / "study.journal"
    spec = write_spec(store, n_trials=500)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    process = subprocess.Popen([sys.executable, "-m", "retaillab.cli", "tune", str(spec),
                                "--storage", str(journal)], env=env, cwd=store,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    done = []
    while time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.3)
        if journal.exists():
            done = [t for t in _trials(journal) if t.state in FINISHED]
            if len(done) >= 3:
                break
    process.send_signal(signal.SIGKILL)  # no chance to clean up
    process.wait()
    assert len(done) >= 3, process.stderr.read().decode()[-2000:]
    before = {t.number: (t.params, t.value) for t in _trials(journal) if t.state in FINISHED}
    n = len(before) + 3

    result = tune(load_tune_spec(spec), n_trials=n, storage=str(journal), plots=False)

    trials = _trials(journal)
    parents, children = runs_of("tiny")
    assert len(parents) == 1 and parents[0].info.run_id == result.run_id  # same parent run
    assert parents[0].info.status == "FINISHED"
    _check_record(trials, children, n)
    after = {t.number: (t.params, t.value) for t in trials}
    assert all(after[k] == v for k, v in before.items())  # finished trials kept as they were
    for trial in trials:  # a trial cut off by the kill is failed, its child run KILLED
        if trial.state == TrialState.FAIL:  # (the kill may come before the id was recorded)
            runs = [c for c in children if c.data.tags.get(TAG_TRIAL) == str(trial.number)]
            assert [r.info.status for r in runs] in ([], ["KILLED"])
    assert not [c for c in children if c.info.status == "RUNNING"]  # nothing left RUNNING


def test_two_workers_share_one_study_and_one_parent_run(store):
    journal = store / "study.journal"
    spec = load_tune_spec(write_spec(store, n_trials=6))
    result = tune(spec, workers=2, storage=str(journal), plots=False)
    trials = _trials(journal)
    parents, children = runs_of("tiny")
    assert [p.info.run_id for p in parents] == [result.run_id]
    _check_record(trials, children, 6)
    assert len(trials) == 6
    workers = {t.user_attrs["worker"] for t in trials}
    assert len(workers) == 2 and str(os.getpid()) not in {w.split(":")[1] for w in workers}
    assert all(c.data.tags[tracking.PARENT_TAG] == result.run_id for c in children)
    assert "test_rmse" in parents[0].data.metrics


def test_a_trial_killed_before_it_recorded_its_run_still_ends_that_run(store):
    """The kill can land after the child run exists but before the trial holds its id."""
    from retaillab.tuning.trials import ATTR_WORKER, fail_stale_trials

    parent = tracking.notebook_run(None, experiment="stale", params={})
    study = optuna.create_study(study_name="stale",
                                storage=optuna.storages.InMemoryStorage())
    trial = study.ask()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    import socket

    trial.set_user_attr(ATTR_WORKER, f"{socket.gethostname()}:{dead}")
    with parent.model("svd", tags={TAG_TRIAL: trial.number}) as child:
        orphan = child.run_id
        other = tracking.client().create_run(parent.experiment_id, tags={
            tracking.PARENT_TAG: parent.run_id, TAG_TRIAL: 99}).info.run_id
        assert fail_stale_trials(study, parent) == [trial.number]
        assert tracking.client().get_run(orphan).info.status == "KILLED"
        assert tracking.client().get_run(other).info.status == "RUNNING"  # not this trial's
    assert study.trials[0].state == TrialState.FAIL
    parent.close()
