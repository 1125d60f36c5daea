"""Running trials: the Optuna objective, each trial one MLflow child run of the study's run.

Used in the launching process (one worker) and in every worker process (``--workers N``):
each process opens the same storage and study, and logs its own trials as children of the
parent run the launcher created. The trial's child run id is kept in its user attributes, so
a trial left RUNNING by a killed process can be failed together with its child run.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping
from typing import Any

from retaillab import tracking
from retaillab.tuning.objectives import Problem, make_problem
from retaillab.tuning.spaces import resolve_space, suggest
from retaillab.tuning.spec import TuneSpec

log = logging.getLogger(__name__)

__all__ = ["ATTR_RUN", "ATTR_WORKER", "TAG_STUDY", "TAG_TRIAL", "fail_stale_trials",
           "make_study", "run_trials", "worker_id"]

TAG_STUDY, TAG_TRIAL, TAG_STATE = tracking.TAG_STUDY, tracking.TAG_TRIAL, tracking.TAG_TRIAL_STATE
ATTR_RUN = "mlflow_run_id"
ATTR_WORKER = "worker"


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
               seed: int, problem: Problem | None = None, timeout: float | None = None) -> None:
    """Run ``n_trials`` trials of the spec's study in this process."""
    import optuna

    space, fixed = fixed_params(spec)
    problem = problem or make_problem(spec.task, spec.model, spec.metric, spec.data, fixed,
                                      spec.seed)
    study = make_study(spec, storage, seed=seed, load=True)
    metric = f"validation_{spec.metric}"
    last_step = len(problem.folds) - 1

    def objective(trial: optuna.Trial) -> float:
        trial.set_user_attr(ATTR_WORKER, worker_id())
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

    study.optimize(objective, n_trials=n_trials, timeout=timeout, catch=problem.catch)


def fail_stale_trials(study: Any, parent: tracking.Run | None = None) -> list[int]:
    """Fail trials left RUNNING by a process of this host that no longer exists.

    Their MLflow child runs end KILLED: found by the run id the trial recorded, or, for a
    process killed between creating the run and recording its id, among ``parent``'s children
    by trial number. Trials running on other hosts are left alone (an RDB storage shared
    between machines cannot tell a slow trial from a dead one here).
    """
    from optuna.trial import TrialState

    failed = []
    host = socket.gethostname()
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        where = str(trial.user_attrs.get(ATTR_WORKER, ""))
        trial_host, _, pid = where.rpartition(":")
        if trial_host != host or not pid.isdigit() or _alive(int(pid)):
            continue
        study._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
        run_ids = [trial.user_attrs[ATTR_RUN]] if ATTR_RUN in trial.user_attrs else [
            c.info.run_id for c in (parent.children() if parent is not None else [])
            if c.info.status == "RUNNING" and c.data.tags.get(TAG_TRIAL) == str(trial.number)]
        for run_id in run_ids:
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
