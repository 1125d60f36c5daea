"""A study killed mid-way resumes without losing or repeating trials; two worker processes
share one study and one MLflow parent run, and die with their launcher; a study never holds
more finished trials than asked, whoever runs them and however often it is killed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from retaillab import owners, tracking
from retaillab.tuning import load_tune_spec, tune
from retaillab.tuning.trials import ATTR_OWNER, TAG_TRIAL

from .conftest import runs_of, write_spec

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


def _trials(journal):
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(journal)))
    return optuna.load_study(study_name="tiny", storage=storage).get_trials(deepcopy=False)


def _finished(journal: Path) -> int:
    """Finished trials in the journal so far (0 while the study does not exist yet)."""
    try:
        return sum(t.state in FINISHED for t in _trials(journal)) if journal.exists() else 0
    except KeyError:  # the launcher has not created the study yet
        return 0


def _pid(trial) -> int | None:
    """The pid of the worker that ran ``trial`` (its ``host:pid`` attribute)."""
    where = trial.user_attrs.get("worker")
    return int(where.rsplit(":", 1)[1]) if where else None


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie waiting for init to reap it does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:  # no /proc
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def _wait_for(condition, what: str, deadline: float = 180.0):
    """Poll ``condition`` until it returns something true; fail after a generous deadline."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        found = condition()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"gave up waiting for {what}")


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


@pytest.mark.slow
def test_killed_study_resumes_without_losing_or_repeating_trials(store):
    journal = store / "study.journal"
    spec = write_spec(store, n_trials=500)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    with open(store / "tune.log", "w") as log:
        process = subprocess.Popen([sys.executable, "-m", "retaillab.cli", "tune", str(spec),
                                    "--storage", str(journal)], env=env, cwd=store,
                                   stdout=log, stderr=subprocess.STDOUT)
    try:
        def three_finished():  # readiness: the journal holds three finished trials
            assert process.poll() is None, (store / "tune.log").read_text()[-2000:]
            return _finished(journal) >= 3
        _wait_for(three_finished, "three finished trials")
    finally:
        process.send_signal(signal.SIGKILL)  # no chance to clean up
        process.wait()
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


def _trial_of_a_dead_worker(name: str):
    """A by-hand parent run, an in-memory study and its RUNNING trial owned by a worker on
    this host whose process has exited."""
    import socket

    from retaillab.tuning.trials import ATTR_WORKER

    parent = tracking.notebook_run(None, experiment=name, params={})
    study = optuna.create_study(study_name=name, storage=optuna.storages.InMemoryStorage())
    trial = study.ask()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    trial.set_user_attr(ATTR_WORKER, f"{socket.gethostname()}:{dead}")
    return parent, study, trial


def test_a_trial_killed_before_it_recorded_its_run_still_ends_that_run(store):
    """The kill can land after the child run exists but before the trial holds its id."""
    from retaillab.tuning.trials import fail_stale_trials

    parent, study, trial = _trial_of_a_dead_worker("stale")
    with parent.model("svd", tags={TAG_TRIAL: trial.number}) as child:
        orphan = child.run_id
        other = tracking.client().create_run(parent.experiment_id, tags={
            tracking.PARENT_TAG: parent.run_id, TAG_TRIAL: 99}).info.run_id
        assert fail_stale_trials(study, parent) == [trial.number]
        assert tracking.client().get_run(orphan).info.status == "KILLED"
        assert tracking.client().get_run(other).info.status == "RUNNING"  # not this trial's
    assert study.trials[0].state == TrialState.FAIL
    parent.close()


def test_a_trial_killed_after_ending_its_run_but_before_the_study_knew_fails_both(store):
    """The other window: the child run already ended FINISHED, the study never heard. On
    resume the trial fails, so its run cannot stay FINISHED: it ends KILLED, saying why."""
    from retaillab.tuning.trials import ATTR_RUN, fail_stale_trials

    parent, study, trial = _trial_of_a_dead_worker("stale-finished")
    with parent.model("svd", tags={TAG_TRIAL: trial.number}) as child:
        trial.set_user_attr(ATTR_RUN, child.run_id)
    assert tracking.client().get_run(child.run_id).info.status == "FINISHED"
    assert fail_stale_trials(study, parent) == [trial.number]
    ended = tracking.client().get_run(child.run_id)
    assert ended.info.status == "KILLED" and "cut off" in ended.data.tags[tracking.TAG_ENDED_BY]
    assert study.trials[0].state == TrialState.FAIL
    parent.close()


@pytest.mark.slow
def test_killed_launcher_takes_its_workers_along_and_the_study_ends_exact(store):
    """SIGKILL of `retaillab tune --workers 2` once both of its processes run trials (the
    launcher is one of them): its worker ends too (the kernel's parent-death signal, or its
    watchdog). Resumed with two workers again, the study ends with exactly n_trials
    finished (not more), all under the one parent run, run by new processes only."""
    journal = store / "study.journal"
    spec = write_spec(store, n_trials=500)  # never done before the worker has started
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    with open(store / "launcher.log", "w") as log:
        launcher = subprocess.Popen([sys.executable, "-m", "retaillab.cli", "tune", str(spec),
                                     "--workers", "2", "--storage", str(journal)], env=env,
                                    cwd=store, stdout=log, stderr=subprocess.STDOUT)
    try:
        def both_working():  # readiness: each process has a trial in the journal
            assert launcher.poll() is None, (store / "launcher.log").read_text()[-2000:]
            if not _finished(journal):
                return None
            trials = _trials(journal)
            pids = {_pid(t) for t in trials} - {None}
            return pids if len(pids) == 2 else None

        first = _wait_for(both_working, "two processes running trials")
        assert launcher.pid in first and all(map(_alive, first))
    finally:
        launcher.kill()  # SIGKILL: the launcher forwards nothing
        launcher.wait()
    try:
        _wait_for(lambda: not any(map(_alive, first)), "the worker to end", deadline=90)
    finally:
        for pid in filter(_alive, first):  # never leave one behind, even when failing
            os.kill(pid, signal.SIGKILL)
    n = len([t for t in _trials(journal) if t.state in FINISHED]) + 4

    result = tune(load_tune_spec(spec), workers=2, n_trials=n, storage=str(journal),
                  plots=False)

    trials = _trials(journal)
    parents, children = runs_of("tiny")
    assert [p.info.run_id for p in parents] == [result.run_id]  # one parent run throughout
    assert parents[0].info.status == "FINISHED" and "test_rmse" in parents[0].data.metrics
    assert all(c.data.tags[tracking.PARENT_TAG] == result.run_id for c in children)
    _check_record(trials, children, n)  # exactly n finished, none RUNNING, none twice
    assert result.counts.get("COMPLETE", 0) + result.counts.get("PRUNED", 0) == n
    resumed = {_pid(t) for t in trials[-4:]} - {None}
    assert not resumed & first and os.getpid() in resumed  # this process ran trials too


def test_a_trial_starts_only_while_the_study_has_room(store):
    """Finished plus live running trials never exceed n_trials: a trial of a live process
    holds its slot (until it fails), a dead process's trial holds none."""
    from retaillab.tuning.storage import open_storage
    from retaillab.tuning.trials import budget_lock_path, make_study, run_trials

    url, n = str(store / "study.journal"), 5
    spec = load_tune_spec(write_spec(store, n_trials=n))
    study = make_study(spec, open_storage(url), seed=0)
    for value in (0.9, 0.95):
        study.add_trial(optuna.trial.create_trial(value=value))
    gone = json.loads(owners.owner())
    gone["start"] = "0"  # this pid, another start time: a dead process whose pid was reused
    dead, live = study.ask(), study.ask()
    dead.set_user_attr(ATTR_OWNER, json.dumps(gone))
    live.set_user_attr(ATTR_OWNER, owners.owner())  # another worker, alive, still running
    parent = tracking.create_run(tracking.experiment_id("tiny"), run_name="study tiny")

    def other_worker_fails() -> None:  # once the study is full, the live trial fails
        other = make_study(spec, open_storage(url), seed=1, load=True)

        def full():
            states = [t.state for t in other.get_trials(deepcopy=False)]
            return sum(s in FINISHED for s in states) == n - 1
        try:
            _wait_for(full, f"{n - 1} finished trials", deadline=120)
        finally:
            other.tell(live.number, state=TrialState.FAIL)

    helper = threading.Thread(target=other_worker_fails)
    helper.start()
    try:
        ran = run_trials(spec, open_storage(url), parent, n, seed=1, timeout=240,
                         lock=budget_lock_path(url, spec.study_name))
    finally:
        helper.join()
        tracking.client().set_terminated(parent.run_id)
    trials = make_study(spec, open_storage(url), seed=0, load=True).get_trials()
    ours = [t for t in trials if t.number > live.number]
    assert ran == len(ours) == n - 2  # two slots were taken by finished trials, none by dead
    assert len([t for t in trials if t.state in FINISHED]) == n
    assert trials[dead.number].state == TrialState.RUNNING  # left to fail_stale_trials
    # the last trial waited for the live one's slot: it started only after that one failed
    assert ours[-1].datetime_start >= trials[live.number].datetime_complete
    assert all(t.datetime_start < trials[live.number].datetime_complete for t in ours[:-1])
