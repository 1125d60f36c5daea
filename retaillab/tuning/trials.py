"""Running trials: the Optuna objective, each trial one MLflow child run of the study's run.

Used in the launching process (one worker) and in every worker process (``--workers N``):
each process opens the same storage and study, and logs its own trials as children of the
parent run the launcher created. The trial's child run id is kept in its user attributes, so
a trial left RUNNING by a killed process can be failed together with its child run.

The study's size is a budget, not a per-process count: a process starts a trial only while
the study's finished trials (COMPLETE and PRUNED) plus the trials running in live processes
are fewer than ``n_trials``. The check and the new trial are one step under a lock
(:func:`budget_lock`: a file lock on this host, and on PostgreSQL the study's lock in the
database, for every host), so workers, a resumed launcher and leftover processes together
never run more trials than asked; a trial whose process died does not hold its slot.

How a dead process is told (:func:`fail_stale_trials`) depends on the storage:

- a database storage with heartbeats (the default for one, see
  :mod:`retaillab.tuning.storage`): each running trial's process records a heartbeat every
  ``heartbeat_seconds``; a RUNNING trial whose last heartbeat is more than ``grace_seconds``
  old is failed by the next process that looks (every trial start looks), whichever machine
  it runs on, and its MLflow child run ends FAILED. A running trial holds its slot until then.
  A trial that names no owner and has no heartbeat (its process died within milliseconds
  of creating it) is failed once it is ``grace_seconds`` old.
- a journal file (one host, no heartbeat): the process named by the trial's owner (host,
  boot, pid, start time) no longer exists; the trial fails and its child run ends KILLED.

A process whose trial was failed as stale while it was in fact still running (a long pause,
a lost connection) finds out when it next writes the trial: it drops the trial, ends the
child run FAILED, and goes on.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import os
import signal
import socket
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from retaillab import owners, tracking
from retaillab.tuning.objectives import Problem, make_problem
from retaillab.tuning.spaces import resolve_space, suggest
from retaillab.tuning.spec import TuneSpec
from retaillab.tuning.storage import database_engine, heartbeat, study_lock

log = logging.getLogger(__name__)

__all__ = ["ATTR_OWNER", "ATTR_RUN", "ATTR_WORKER", "TAG_STUDY", "TAG_TRIAL", "budget_lock",
           "fail_stale_trials", "finished", "make_study", "owner_alive", "run_trials",
           "worker_id"]

TAG_STUDY, TAG_TRIAL, TAG_STATE = tracking.TAG_STUDY, tracking.TAG_TRIAL, tracking.TAG_TRIAL_STATE
ATTR_RUN = "mlflow_run_id"
ATTR_WORKER = "worker"  # host:pid, for people
ATTR_OWNER = "owner"  # retaillab.owners.owner(): host, boot, pid and start time, for machines
ATTR_OVER_BUDGET = "over_budget"  # a trial given up at once: the study was full
ATTR_ERROR = "error"  # why a trial failed, set before its process tells the study
FINISHED_STATES = ("COMPLETE", "PRUNED")
#: a RUNNING trial that names no owner is one being set up (for this long) or a dead one's
UNOWNED_GRACE = 60.0
#: seconds between looks at the study while other processes run its last trials
POLL_SECONDS = 0.5


def worker_id() -> str:
    """``host:pid`` of this process."""
    return f"{socket.gethostname()}:{os.getpid()}"


def make_study(spec: TuneSpec, storage: Any, *, seed: int, load: bool = False) -> Any:
    """Create (or load) the study with a seeded TPE sampler and the spec's pruner."""
    import optuna

    sampler = optuna.samplers.TPESampler(seed=seed)
    pruner = (optuna.pruners.MedianPruner(n_startup_trials=5) if spec.pruner == "median"
              else optuna.pruners.NopPruner())
    if load:
        return optuna.load_study(study_name=spec.study_name, storage=storage, sampler=sampler,
                                 pruner=pruner)
    return optuna.create_study(study_name=spec.study_name, storage=storage, sampler=sampler,
                               pruner=pruner, direction=spec.direction, load_if_exists=True)


def fixed_params(spec: TuneSpec) -> tuple[dict[str, tuple], dict[str, Any]]:
    """The search space and the fixed hyperparameters (``params``, then plain space values)."""
    space, fixed = resolve_space(spec.task, spec.model, spec.space)
    if spec.params:
        resolve_space(spec.task, spec.model, {k: None for k in spec.params})  # names only
    return space, {**spec.params, **fixed}


def run_trials(spec: TuneSpec, storage: Any, parent: tracking.Run, n_trials: int, *,
               seed: int, lock: Path, attempts: int | None = None,
               problem: Problem | None = None, timeout: float | None = None,
               ready: Callable[[], None] | None = None,
               idle: Callable[[Any], bool] | None = None) -> int:
    """Run trials of the spec's study in this process until it holds ``n_trials`` finished.

    ``n_trials`` is the study's total; this process starts a trial only while finished plus
    live running trials are fewer (under ``lock``, see :func:`budget_lock`). It waits while
    other processes run the last trials (one may fail and free its slot), and stops after
    ``attempts`` trials of its own or ``timeout`` seconds. ``ready`` is called once the data
    are loaded, before the first trial. While the study has no room, ``idle(study)`` is
    called instead of a pause (a final score, see :mod:`retaillab.tuning.final`); it says
    whether it did anything. Returns the trials it ran.
    """
    import optuna
    from optuna.trial import TrialState

    space, fixed = fixed_params(spec)
    problem = problem or make_problem(spec.task, spec.model, spec.metric, spec.data, fixed,
                                      spec.seed)
    study = make_study(spec, storage, seed=seed, load=True)
    metric = f"validation_{spec.metric}"
    last_step = len(problem.folds) - 1

    def objective(trial: optuna.Trial, runs: list[str]) -> float:
        params = suggest(trial, space)
        pruned = False
        tags = {tracking.TAG_KIND: "trial", TAG_TRIAL: trial.number, TAG_STUDY: spec.study_name,
                tracking.RUN_NAME_TAG: f"{spec.model} trial {trial.number}"}
        with parent.model(spec.model, {**fixed, **params}, tags=tags) as child:
            runs.append(child.run_id)
            trial.set_user_attr(ATTR_RUN, child.run_id)

            def report(step: int, value: float) -> None:
                child.log_metrics({metric: value}, step=step)
                trial.report(value, step)
                if step < last_step and trial.should_prune():
                    raise optuna.TrialPruned(f"pruned after fold {step}")

            try:
                value = problem.validate(params, report)
            except optuna.TrialPruned:
                pruned = True
                child.set_tags({TAG_STATE: "PRUNED"})
            else:
                child.set_tags({TAG_STATE: "COMPLETE"})
        if pruned:
            raise optuna.TrialPruned()
        return value

    if ready is not None:
        ready()
    deadline = None if timeout is None else time.monotonic() + timeout
    ran = 0
    while attempts is None or ran < attempts:
        if deadline is not None and time.monotonic() >= deadline:
            break
        trial = _reserve(study, n_trials, lock, parent)
        if trial is None:
            if finished(study) >= n_trials:
                break
            if idle is None or not idle(study):
                time.sleep(POLL_SECONDS)  # others run the last trials; one may fail
            continue
        ran += 1
        runs: list[str] = []
        with _beating(study, trial):
            try:
                value = objective(trial, runs)
            except optuna.exceptions.UpdateFinishedTrialError:  # failed as stale meanwhile
                told = False
            except optuna.TrialPruned:
                told = _tell(study, trial, TrialState.PRUNED)
            except problem.catch as exc:
                log.warning("trial %d failed: %s: %s", trial.number, type(exc).__name__, exc)
                told = _tell(study, trial, TrialState.FAIL, error=exc)
            except BaseException as exc:  # an interrupt or a bug: the trial ends FAIL
                _tell(study, trial, TrialState.FAIL, error=exc)
                # one landing after the child run ended FINISHED: the run follows the trial
                with _signals_held():
                    for run_id in runs:
                        _end_run(run_id, "KILLED" if isinstance(exc, KeyboardInterrupt)
                                 else "FAILED", f"{type(exc).__name__} after the run ended, "
                                                "before the study recorded its trial")
                raise
            else:
                # a NaN ends it FAIL, as in study.optimize, and its run FAILED
                error = ValueError("the objective returned NaN") if math.isnan(value) else None
                told = _tell(study, trial, None, value, error=error)
                if told and error is not None:
                    for run_id in runs:
                        _end_run(run_id, "FAILED", "its trial failed: the objective "
                                                   "returned NaN")
        if not told:
            _dropped(study, trial, runs)
    return ran


def _tell(study: Any, trial: Any, state: Any, value: float | None = None, *,
          error: BaseException | None = None) -> bool:
    """End ``trial`` (with ``error`` as its user attribute), signals held meanwhile; False
    when it had already been ended by another process (failed as stale)."""
    from optuna.exceptions import UpdateFinishedTrialError

    with _signals_held():
        try:
            if error is not None:
                trial.set_user_attr(ATTR_ERROR, f"{type(error).__name__}: {error}"[:2000])
            if state is None:
                study.tell(trial, value)
            else:
                study.tell(trial, state=state)
        except (UpdateFinishedTrialError, ValueError):  # tell: "Cannot tell a FAIL trial."
            if study._storage.get_trial(trial._trial_id).state.is_finished():
                return False
            raise
    return True


def _dropped(study: Any, trial: Any, runs: list[str]) -> None:
    """``trial`` was failed as stale by another process while this one ran it: end its child
    run FAILED as well (its block may have ended it FINISHED), so the record says what the
    study says."""
    beats = heartbeat(study)
    grace = f" for more than {beats[1]} s" if beats else ""
    log.warning("trial %d was failed by another process (no heartbeat seen%s) while it ran "
                "here: dropped", trial.number, grace)
    for run_id in runs:
        _end_run(run_id, "FAILED", f"its trial was failed as stale by another process (no "
                                   f"heartbeat seen{grace}) while {worker_id()} still ran it")


@contextlib.contextmanager
def _beating(study: Any, trial: Any) -> Iterator[None]:
    """Record ``trial``'s heartbeat every interval in a thread while the block runs (on a
    storage with heartbeats; else nothing). A failed write is logged and retried at the
    next beat: a trial is failed as stale only after ``grace_seconds`` of silence."""
    beats = heartbeat(study)
    if beats is None:
        yield
        return
    interval, stop = beats[0], threading.Event()

    def beat() -> None:
        while not stop.wait(interval):
            try:
                study._storage.record_heartbeat(trial._trial_id)
            except Exception as exc:  # the database may be away for a moment
                log.warning("heartbeat of trial %d not recorded: %s", trial.number, exc)

    thread = threading.Thread(target=beat, name=f"heartbeat-{trial.number}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def finished(study: Any) -> int:
    """The study's finished trials: COMPLETE and PRUNED."""
    return sum(1 for t in study.get_trials(deepcopy=False) if t.state.name in FINISHED_STATES)


def _holds_slot(trial: Any, beating: bool) -> bool:
    """Whether ``trial`` counts against the study's budget: finished, or running (on a
    storage with heartbeats: until failed as stale; else: in a process that is alive, or
    cannot be checked from here)."""
    if trial.state.name in FINISHED_STATES:
        return True
    if trial.state.name != "RUNNING":
        return False
    return beating or owner_alive(trial) is not False


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Hold SIGINT and SIGTERM until the block is done: a trial is created with its owner,
    and ended, as one step (the interrupt comes right after)."""
    held = {signal.SIGINT, signal.SIGTERM}
    before = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


def _reserve(study: Any, n_trials: int, lock: Path, parent: tracking.Run | None = None) -> Any:
    """A new trial owned by this process if the study has room for it, else None.

    On a storage with heartbeats, stale trials are failed first (as Optuna's own
    ``study.optimize`` does before each trial), and the new trial's first heartbeat is
    recorded before its owner: a trial naming its owner always has a heartbeat.
    """
    beating = heartbeat(study) is not None
    with budget_lock(lock, study), _signals_held():
        if beating:
            fail_stale_trials(study, parent)
        if sum(_holds_slot(t, beating) for t in study.get_trials(deepcopy=False)) >= n_trials:
            return None
        with warnings.catch_warnings():  # Optuna expects heartbeats under study.optimize only
            warnings.filterwarnings("ignore", message="Heartbeat of storage")
            trial = study.ask()
        if beating:
            study._storage.record_heartbeat(trial._trial_id)
        trial.set_user_attr(ATTR_OWNER, owners.owner())
        trial.set_user_attr(ATTR_WORKER, worker_id())
        # a process on another host takes no part in a file lock (a database other than
        # PostgreSQL): of trials reserved at once, those numbered beyond the budget give up
        holders = sorted(t.number for t in study.get_trials(deepcopy=False)
                         if _holds_slot(t, beating))
        if trial.number in holders[:n_trials]:
            return trial
    from optuna.trial import TrialState

    with _signals_held():
        trial.set_user_attr(ATTR_OVER_BUDGET, True)
        study.tell(trial, state=TrialState.FAIL)
    return None


@contextlib.contextmanager
def budget_lock(path: Path, study: Any = None) -> Iterator[None]:
    """Hold the study's budget lock for the block: an exclusive ``flock`` on ``path`` (the
    processes of this host), then, for ``study`` on PostgreSQL, its lock in the database
    (every host; :func:`retaillab.tuning.storage.study_lock`). Always in this order, so two
    processes never wait for each other's second lock."""
    with tracking.file_lock(path):
        if study is None:
            yield
            return
        with study_lock(study, study.study_name):
            yield


def budget_lock_path(url: str, study_name: str) -> Path:
    """The budget lock of a study: beside a journal file, else in the temporary folder
    (named by a digest of storage and study), so every process on this host finds it."""
    from retaillab.tuning.storage import journal_path

    journal = journal_path(url)
    if journal is not None:
        return journal.with_name(f"{journal.name}.{tracking.slug(study_name)}.budget")
    digest = hashlib.sha256(f"{url}\n{study_name}".encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"retaillab-study-{digest}.budget"


def owner_alive(trial: Any) -> bool | None:
    """Whether the process running ``trial`` is alive; None when it cannot be told here (it
    runs on another host)."""
    text = trial.user_attrs.get(ATTR_OWNER)
    if text:
        return owners.alive(str(text))
    where = str(trial.user_attrs.get(ATTR_WORKER, ""))
    host, _, pid = where.rpartition(":")
    if host and pid.isdigit():  # a study written before owners were recorded
        return None if host != socket.gethostname() else _alive(int(pid))
    started = trial.datetime_start
    if started is None:
        return None
    if started.tzinfo is None:
        started = started.astimezone()
    age = (datetime.now(UTC) - started).total_seconds()
    return None if age < UNOWNED_GRACE else False


def fail_stale_trials(study: Any, parent: tracking.Run | None = None) -> list[int]:
    """Fail the RUNNING trials whose process is gone, with their MLflow child runs; their
    numbers.

    On a storage with heartbeats: trials whose last heartbeat is more than the grace period
    old (Optuna's ``fail_stale_trials``, any host), and trials older than that with neither
    an owner nor a heartbeat (their process died before its first heartbeat); their child
    runs end FAILED. On a journal file: trials whose owner process on this host no longer exists
    (trials of other hosts are left alone); their child runs end KILLED.

    A child run is found by the run id the trial recorded, or, for a process killed between
    creating the run and recording its id, among ``parent``'s children by trial number. A
    run already ended FINISHED (its process died before the study heard) is ended too: the
    record must say what the study says.
    """
    from optuna.trial import TrialState

    beats = heartbeat(study)
    if beats is not None:
        failed = _fail_silent(study, beats[1])
        status = "FAILED"
        reason = (f"its trial's heartbeat stopped for more than {beats[1]} s; failed as stale "
                  f"by {worker_id()}")
    else:
        failed = []
        for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            if owner_alive(trial) is not False:
                continue
            study._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
            failed.append(trial)
        status = "KILLED"
        reason = "its trial was cut off before the study recorded it; failed on resume"
    for trial in failed:
        run_ids = [trial.user_attrs[ATTR_RUN]] if ATTR_RUN in trial.user_attrs else [
            c.info.run_id for c in (parent.children() if parent is not None else [])
            if c.info.status in ("RUNNING", "FINISHED")
            and c.data.tags.get(TAG_TRIAL) == str(trial.number)]
        for run_id in run_ids:
            _end_run(run_id, status, reason)
    numbers = [t.number for t in failed]
    if numbers:
        log.warning("failed %d trial(s) left running by a dead process: %s", len(numbers),
                    numbers)
    return numbers


def _fail_silent(study: Any, grace: int) -> list[Any]:
    """Fail the trials of a storage with heartbeats whose process fell silent; the failed
    trials (as read after failing them, with their user attributes).

    Optuna's ``fail_stale_trials`` does the failing but does not say which trials it failed:
    they are the ones RUNNING before it and FAIL after it that carry no failure of their own
    (a process ending its trial FAIL sets ``error`` or ``over_budget`` first).
    """
    import optuna
    from optuna.exceptions import ExperimentalWarning, UpdateFinishedTrialError
    from optuna.trial import TrialState

    running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    if not running:
        return []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)
    # died before its first heartbeat: Optuna never counts such a trial stale
    unowned = [t for t in running if ATTR_OWNER not in t.user_attrs and _age(t) > grace]
    beating = _with_heartbeat(study, [t._trial_id for t in unowned]) if unowned else set()
    for trial in unowned:
        if trial._trial_id not in beating:  # (one of plain Optuna's beats, owner or not)
            with contextlib.suppress(UpdateFinishedTrialError):
                study._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
    now = {t.number: t for t in study.get_trials(deepcopy=False)}
    return [now[t.number] for t in running if now[t.number].state == TrialState.FAIL
            and ATTR_ERROR not in now[t.number].user_attrs
            and ATTR_OVER_BUDGET not in now[t.number].user_attrs]


def _with_heartbeat(study: Any, trial_ids: list[int]) -> set[int]:
    """Which of ``trial_ids`` have a heartbeat recorded (Optuna's ``trial_heartbeats`` table);
    all of them when that cannot be read (then none is failed for lack of one)."""
    engine = database_engine(study)
    if engine is None:
        return set(trial_ids)
    import sqlalchemy

    query = sqlalchemy.text("SELECT trial_id FROM trial_heartbeats WHERE trial_id IN :ids")
    query = query.bindparams(sqlalchemy.bindparam("ids", expanding=True))
    try:
        with engine.connect() as connection:
            return {row[0] for row in connection.execute(query, {"ids": list(trial_ids)})}
    except sqlalchemy.exc.SQLAlchemyError as exc:
        log.warning("cannot read the heartbeats of trials %s: %s", trial_ids, exc)
        return set(trial_ids)


def _age(trial: Any) -> float:
    """Seconds since ``trial`` started (by this host's clock; 0 when it has no start)."""
    started = trial.datetime_start
    if started is None:
        return 0.0
    if started.tzinfo is None:
        started = started.astimezone()
    return (datetime.now(UTC) - started).total_seconds()


def _end_run(run_id: str, status: str, reason: str) -> None:
    """End MLflow run ``run_id`` with ``status`` and ``reason`` (tag ``retaillab.ended_by``)
    unless it already ended FAILED or KILLED."""
    mlflow_client = tracking.client()
    if mlflow_client.get_run(run_id).info.status in ("RUNNING", "FINISHED"):
        mlflow_client.set_tag(run_id, tracking.TAG_ENDED_BY, reason)
        mlflow_client.set_terminated(run_id, status)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def trial_counts(study: Any) -> Mapping[str, int]:
    """Trials by state name."""
    counts: dict[str, int] = {}
    for trial in study.get_trials(deepcopy=False):
        counts[trial.state.name] = counts.get(trial.state.name, 0) + 1
    return counts
