"""Optuna studies on a real PostgreSQL server: heartbeats, not host:pid, tell a dead worker.

A trial whose heartbeat stopped is failed by the next process that looks, on any machine, and
its MLflow child run ends FAILED. Two "machines" (processes with their own host name, working
folder and temporary folder) tune one study at once; one is SIGKILLed mid-trial and the other
fails that trial and completes the study with exactly ``n_trials`` trials, one parent run and
one child run per trial. The MLflow store is on the same server.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from retaillab import owners, tracking
from retaillab.tuning.storage import database_url, heartbeat, open_storage
from retaillab.tuning.trials import ATTR_OWNER, ATTR_RUN, TAG_TRIAL, fail_stale_trials

from .conftest import on_machine, runs_of, write_tune_spec

pytestmark = [pytest.mark.slow, pytest.mark.system_packages,
              # the tests call study.ask() by hand on a storage with heartbeats
              pytest.mark.filterwarnings("ignore:Heartbeat of storage:UserWarning")]

DEADLINE = 240.0  # a safety net: every wait below ends on a readiness signal


def _sql(url: str, statement: str, *args) -> None:
    import sqlalchemy

    engine = sqlalchemy.create_engine(database_url(url), poolclass=sqlalchemy.pool.NullPool)
    with engine.begin() as connection:
        connection.exec_driver_sql(statement, args)
    engine.dispose()


def _owner_elsewhere() -> str:
    """An owner on a machine that is not this one (so no pid check can judge it)."""
    info = json.loads(owners.owner())
    return json.dumps({**info, "host": "machine-elsewhere"})


def _dead_owner_here() -> str:
    """An owner on this host whose process has exited (the host:pid check says: dead)."""
    pid = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                             capture_output=True, text=True, check=True).stdout)
    return json.dumps({**json.loads(owners.owner()), "pid": pid, "start": "0"})


def _wait_for(condition, what: str, process: subprocess.Popen, log: Path) -> None:
    end = time.monotonic() + DEADLINE
    while time.monotonic() < end:
        if condition():
            return
        assert process.poll() is None, f"ended before {what}: " + log.read_text()[-3000:]
        time.sleep(0.1)
    raise AssertionError(f"gave up waiting for {what}")


def _trials(url: str, name: str) -> list:
    return optuna.load_study(study_name=name, storage=open_storage(url)).get_trials()


def test_a_database_storage_has_heartbeats_and_plain_postgresql_urls_open(optuna_db):
    """Defaults 10 s and 30 s; ``postgresql://`` opens with whichever driver is installed."""
    assert optuna_db.startswith("postgresql://")
    assert heartbeat(open_storage(optuna_db)) == (10, 30)
    assert heartbeat(open_storage(optuna_db, heartbeat_seconds=1, grace_seconds=3)) == (1, 3)
    assert heartbeat(open_storage(optuna_db, heartbeat_seconds=None)) is None


def test_silent_trials_fail_with_their_runs_and_beating_ones_stay(pg_store, optuna_db):
    """Which RUNNING trials are stale is the heartbeat's call alone: a trial on another
    machine whose heartbeat is an hour old fails (its child run FAILED, also one already
    ended FINISHED); one whose process on this host has exited, but whose heartbeat is fresh,
    stays; a trial that never named an owner and has no heartbeat fails once older than the
    grace period (one with a heartbeat, plain Optuna's, is left to the heartbeat)."""
    storage = open_storage(optuna_db)  # 10 s heartbeat, 30 s grace
    study = optuna.create_study(study_name="stale", storage=storage)
    parent = tracking.create_run(tracking.experiment_id("stale"), run_name="study stale")

    def trial(owner: str | None, *, beat: bool = True, run_status: str | None = "RUNNING",
              record_run: bool = True):
        t = study.ask()
        if beat:
            storage.record_heartbeat(t._trial_id)
        if owner:
            t.set_user_attr(ATTR_OWNER, owner)
        run_id = None
        if run_status:
            run = tracking.create_run(parent.experiment_id, tags={
                tracking.PARENT_TAG: parent.run_id, TAG_TRIAL: t.number})
            run_id = run.run_id
            if run_status != "RUNNING":
                tracking.client().set_terminated(run_id, run_status)
            if record_run:
                t.set_user_attr(ATTR_RUN, run_id)
        return t, run_id

    silent, silent_run = trial(_owner_elsewhere())
    beating, beating_run = trial(_dead_owner_here())
    ended, ended_run = trial(_owner_elsewhere(), run_status="FINISHED")
    unnamed, unnamed_run = trial(None, beat=False, record_run=False)  # died while set up
    young, _ = trial(None, beat=False, run_status=None)  # being set up right now
    plain, _ = trial(None, run_status=None)  # plain Optuna's: no owner, but a heartbeat
    an_hour_ago = datetime.now() - timedelta(hours=1)
    for t in (silent, ended):
        _sql(optuna_db, "UPDATE trial_heartbeats SET heartbeat = now() - interval '1 hour' "
                        "WHERE trial_id = %s", t._trial_id)
    for t in (unnamed, plain):
        _sql(optuna_db, "UPDATE trials SET datetime_start = %s WHERE trial_id = %s",
             an_hour_ago, t._trial_id)

    assert fail_stale_trials(study, parent) == [silent.number, ended.number, unnamed.number]

    states = {t.number: t.state for t in study.get_trials()}
    assert states == {silent.number: TrialState.FAIL, beating.number: TrialState.RUNNING,
                      ended.number: TrialState.FAIL, unnamed.number: TrialState.FAIL,
                      young.number: TrialState.RUNNING, plain.number: TrialState.RUNNING}
    client = tracking.client()
    for run_id in (silent_run, ended_run, unnamed_run):
        run = client.get_run(run_id)
        assert run.info.status == "FAILED"
        assert "heartbeat stopped for more than 30 s" in run.data.tags[tracking.TAG_ENDED_BY]
    assert client.get_run(beating_run).info.status == "RUNNING"
    assert fail_stale_trials(study, parent) == []  # once only
    client.set_terminated(parent.run_id)


def test_a_trial_failed_as_stale_under_a_live_worker_is_dropped_there(pg_store, optuna_db):
    """The worker was alive after all (a pause, a lost connection): it finds its trial
    failed when it next writes it, ends the child run FAILED, and takes another trial; the
    study still ends with n_trials complete."""
    from retaillab.tuning.objectives import Problem
    from retaillab.tuning.spec import load_tune_spec
    from retaillab.tuning.trials import _tell, budget_lock_path, make_study, run_trials

    spec = load_tune_spec(write_tune_spec(Path.cwd(), "dropped", n_trials=3))
    storage = open_storage(optuna_db, heartbeat_seconds=1, grace_seconds=3)
    study = make_study(spec, storage, seed=0)
    calls = []

    def fit_score(params, train, valid):  # the first trial is failed by "another process"
        calls.append(params)
        if len(calls) == 1:
            (running,) = study.get_trials(states=(TrialState.RUNNING,))
            storage.set_trial_state_values(running._trial_id, TrialState.FAIL)
        return 1.0 + len(calls)

    problem = Problem("recsys", "svd", "rmse", train=None, test=None, folds=[(None, None)],
                      fit_score=fit_score)
    parent = tracking.create_run(tracking.experiment_id("dropped"), run_name="study dropped")
    ran = run_trials(spec, storage, parent, 3, seed=0, problem=problem, timeout=120,
                     lock=budget_lock_path(optuna_db, spec.study_name))

    trials = study.get_trials()
    assert ran == 4 and [t.state for t in trials] == [TrialState.FAIL] + [TrialState.COMPLETE] * 3
    _, children = runs_of("dropped")
    by_trial = {int(c.data.tags[TAG_TRIAL]): c.info.status for c in children}
    assert by_trial == {0: "FAILED", 1: "FINISHED", 2: "FINISHED", 3: "FINISHED"}
    # telling a trial another process has ended: no error, False
    other = study.ask()
    storage.set_trial_state_values(other._trial_id, TrialState.FAIL)
    assert _tell(study, other, None, 0.5) is False
    tracking.client().set_terminated(parent.run_id)


def test_two_machines_share_a_study_and_one_fails_the_trial_of_the_other_killed(
        pg_store, optuna_db, tmp_path):
    """Machines A and B run `retaillab tune` on one study at once, their first trials side by
    side; A is SIGKILLed in its second trial. Its heartbeat stops, so B fails that trial (A
    is on another host: no pid check can) and completes the study: n_trials complete, none
    lost, none twice, one FAIL (A's) whose child run is FAILED, not RUNNING; one parent run
    (created once, under the study's lock in the database); the two launches seeded apart,
    so no configuration is proposed twice."""
    n = 6
    spec = write_tune_spec(tmp_path, "shared", n_trials=n)
    args = ["tune", str(spec), "--storage", optuna_db]
    gate, hung = tmp_path / "gate", tmp_path / "a-hangs"
    gate.mkdir()
    together = ("--gate", "1", str(gate), "2")
    a = on_machine("machine-a", tmp_path / "machine-a", args,
                   options=(*together, "--hang", "2", str(hung)))
    b = on_machine("machine-b", tmp_path / "machine-b", args,  # its 2nd trial waits for A's
                   options=(*together, "--await", "2", str(hung)))
    try:
        _wait_for(hung.exists, "machine A's second trial", a, tmp_path / "machine-a" / "out.log")
    finally:
        a.kill()  # SIGKILL: no clean-up at all
        a.wait()
    assert b.wait(timeout=DEADLINE) == 0, (tmp_path / "machine-b" / "out.log").read_text()

    trials = _trials(optuna_db, "shared")
    host = {t.number: json.loads(t.user_attrs[ATTR_OWNER])["host"] for t in trials}
    assert [t.number for t in trials] == list(range(n + 1))  # unique, no gaps
    failed = [t.number for t in trials if t.state == TrialState.FAIL]
    assert len(failed) == 1 and host[failed[0]] == "machine-a"  # the trial A was killed in
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len(complete) == n
    assert sorted(host[t.number] for t in complete) == ["machine-a"] + ["machine-b"] * (n - 1)
    assert len({json.dumps(t.params, sort_keys=True) for t in trials}) == n + 1
    parents, children = runs_of("shared")
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    by_trial = {}
    for child in children:
        by_trial.setdefault(int(child.data.tags[TAG_TRIAL]), []).append(child)
    assert sorted(by_trial) == list(range(n + 1)) and all(len(v) == 1 for v in by_trial.values())
    assert {c.data.tags[tracking.PARENT_TAG] for c in children} == {parents[0].info.run_id}
    for t in trials:
        assert by_trial[t.number][0].info.run_id == t.user_attrs[ATTR_RUN]
    (killed,) = by_trial[failed[0]]
    assert killed.info.status == "FAILED"  # not RUNNING
    ended_by = killed.data.tags[tracking.TAG_ENDED_BY]
    assert "heartbeat stopped for more than 3 s" in ended_by and "machine-b" in ended_by
    assert all(by_trial[t.number][0].info.status == "FINISHED" for t in complete)
