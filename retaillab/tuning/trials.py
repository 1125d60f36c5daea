"""Running trials: the Optuna objective, each trial one MLflow child run of the study's run.

Used in the launching process (one worker) and in every worker process (``--workers N``):
each process opens the same storage and study, and logs its own trials as children of the
parent run the launcher created. The trial's child run id is kept in its user attributes, so
a trial left RUNNING by a killed process can be failed together with its child run.

The study's size is a budget, not a per-process count: a process starts a trial only while
the study's finished trials (COMPLETE and PRUNED) plus the trials running in live processes
are fewer than ``n_trials``. The check and the new trial are one step under a file lock
(:func:`budget_lock`), so workers, a resumed launcher and leftover processes together never
run more trials than asked; a trial whose process died does not hold its slot.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import signal
import socket
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from retaillab import owners, tracking
from retaillab.tuning.objectives import Problem, make_problem
from retaillab.tuning.spaces import resolve_space, suggest
from retaillab.tuning.spec import TuneSpec

log = logging.getLogger(__name__)

__all__ = ["ATTR_OWNER", "ATTR_RUN", "ATTR_WORKER", "TAG_STUDY", "TAG_TRIAL", "budget_lock",
           "fail_stale_trials", "finished", "make_study", "owner_alive", "run_trials",
           "worker_id"]

TAG_STUDY, TAG_TRIAL, TAG_STATE = tracking.TAG_STUDY, tracking.TAG_TRIAL, tracking.TAG_TRIAL_STATE
ATTR_RUN = "mlflow_run_id"
ATTR_WORKER = "worker"  # host:pid, for people
ATTR_OWNER = "owner"  # retaillab.owners.owner(): host, boot, pid and start time, for machines
ATTR_OVER_BUDGET = "over_budget"  # a trial given up at once: the study was full
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
               ready: Callable[[], None] | None = None) -> int:
    """Run trials of the spec's study in this process until it holds ``n_trials`` finished.

    ``n_trials`` is the study's total; this process starts a trial only while finished plus
    live running trials are fewer (under ``lock``, see :func:`budget_lock`). It waits while
    other processes run the last trials (one may fail and free its slot), and stops after
    ``attempts`` trials of its own or ``timeout`` seconds. ``ready`` is called once the data
    are loaded, before the first trial (workers wait there for each other). Returns the
    trials it ran.
    """
    import optuna
    from optuna.trial import TrialState

    space, fixed = fixed_params(spec)
    problem = problem or make_problem(spec.task, spec.model, spec.metric, spec.data, fixed,
                                      spec.seed)
    study = make_study(spec, storage, seed=seed, load=True)
    metric = f"validation_{spec.metric}"
    last_step = len(problem.folds) - 1

    def objective(trial: optuna.Trial) -> float:
        params = suggest(trial, space)
        pruned = False
        tags = {tracking.TAG_KIND: "trial", TAG_TRIAL: trial.number, TAG_STUDY: spec.study_name,
                tracking.RUN_NAME_TAG: f"{spec.model} trial {trial.number}"}
        with parent.model(spec.model, {**fixed, **params}, tags=tags) as child:
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
        trial = _reserve(study, n_trials, lock)
        if trial is None:
            if finished(study) >= n_trials:
                break
            time.sleep(POLL_SECONDS)  # others run the last trials; one may fail
            continue
        ran += 1
        try:
            value = objective(trial)
        except optuna.TrialPruned:
            _tell(study, trial, TrialState.PRUNED)
        except problem.catch as exc:
            log.warning("trial %d failed: %s: %s", trial.number, type(exc).__name__, exc)
            _tell(study, trial, TrialState.FAIL, error=exc)
        except BaseException as exc:  # an interrupt or a bug: the trial ends FAIL, not RUNNING
            _tell(study, trial, TrialState.FAIL, error=exc)
            raise
        else:
            _tell(study, trial, None, value)  # a NaN ends it FAIL, as in study.optimize
    return ran


def _tell(study: Any, trial: Any, state: Any, value: float | None = None, *,
          error: BaseException | None = None) -> None:
    """End ``trial`` (with ``error`` as its user attribute), signals held meanwhile."""
    with _signals_held():
        if error is not None:
            trial.set_user_attr("error", f"{type(error).__name__}: {error}"[:2000])
        if state is None:
            study.tell(trial, value)
        else:
            study.tell(trial, state=state)


def finished(study: Any) -> int:
    """The study's finished trials: COMPLETE and PRUNED."""
    return sum(1 for t in study.get_trials(deepcopy=False) if t.state.name in FINISHED_STATES)


def _holds_slot(trial: Any) -> bool:
    """Whether ``trial`` counts against the study's budget: finished, or running in a
    process that is alive (or cannot be checked from here)."""
    if trial.state.name in FINISHED_STATES:
        return True
    return trial.state.name == "RUNNING" and owner_alive(trial) is not False


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


def _reserve(study: Any, n_trials: int, lock: Path) -> Any:
    """A new trial owned by this process if the study has room for it, else None."""
    with budget_lock(lock), _signals_held():
        if sum(map(_holds_slot, study.get_trials(deepcopy=False))) >= n_trials:
            return None
        trial = study.ask()
        trial.set_user_attr(ATTR_OWNER, owners.owner())
        trial.set_user_attr(ATTR_WORKER, worker_id())
        # a process on another host (an RDB storage) takes no part in the lock: of trials
        # reserved at once, the ones numbered beyond the budget give up at once
        holders = sorted(t.number for t in study.get_trials(deepcopy=False) if _holds_slot(t))
        if trial.number in holders[:n_trials]:
            return trial
    from optuna.trial import TrialState

    with _signals_held():
        trial.set_user_attr(ATTR_OVER_BUDGET, True)
        study.tell(trial, state=TrialState.FAIL)
    return None


@contextlib.contextmanager
def budget_lock(path: Path) -> Iterator[None]:
    """Hold the study's budget lock (an exclusive ``flock`` on ``path``) for the block."""
    with tracking.file_lock(path):
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
    """Fail trials left RUNNING by a process of this host that no longer exists.

    Their MLflow child runs end KILLED: found by the run id the trial recorded, or, for a
    process killed between creating the run and recording its id, among ``parent``'s children
    by trial number. Trials running on other hosts are left alone (an RDB storage shared
    between machines cannot tell a slow trial from a dead one here).
    """
    from optuna.trial import TrialState

    failed = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if owner_alive(trial) is not False:
            continue
        study._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
        run_ids = [trial.user_attrs[ATTR_RUN]] if ATTR_RUN in trial.user_attrs else [
            c.info.run_id for c in (parent.children() if parent is not None else [])
            if c.info.status in ("RUNNING", "FINISHED")
            and c.data.tags.get(TAG_TRIAL) == str(trial.number)]
        for run_id in run_ids:
            # FINISHED too: a process killed after ending the run but before the study
            # recorded the trial; the record must say what the study says (failed)
            if tracking.client().get_run(run_id).info.status in ("RUNNING", "FINISHED"):
                tracking.client().set_tag(run_id, tracking.TAG_ENDED_BY,
                                          "its trial was cut off before the study recorded "
                                          "it; failed on resume")
                tracking.client().set_terminated(run_id, "KILLED")
        failed.append(trial.number)
    if failed:
        log.warning("failed %d trial(s) left running by a dead process: %s", len(failed), failed)
    return failed


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
