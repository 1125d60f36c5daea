"""A tuning study end to end: storage, parent run, trials (here and in workers), test, plots.

:func:`tune` is what ``retaillab tune`` and ``notebooks/tune.ipynb`` call. The study's parent
MLflow run is created once, by the launching process, and its id kept in the study's user
attributes, so a resumed study keeps logging under the same run. Trials only ever see the
validation folds; at the end the best configuration and the model's default configuration are
refitted on the whole training part and scored once on the test part.

The best and the default configuration's final scores are computed once, by whichever
process is free (:mod:`retaillab.tuning.final`), and kept in the study: with ``--workers N``
they are shared out, and a complete study run again is not scored again.

Several machines may run ``retaillab tune SPEC`` on one study at the same time (a PostgreSQL
storage and one MLflow store): the first creates the parent run, under the study's lock, and
the others join it; each launch seeds its sampler differently (the launch count is kept in
the study), so they do not propose the same configurations.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from retaillab import tracking
from retaillab.errors import DataError, ParameterError
from retaillab.tuning.spec import TuneSpec
from retaillab.tuning.storage import default_storage, describe, open_storage
from retaillab.tuning.trials import (
    TAG_STUDY,
    budget_lock,
    budget_lock_path,
    fail_stale_trials,
    finished,
    fixed_params,
    make_study,
    run_trials,
    trial_counts,
)

log = logging.getLogger(__name__)

__all__ = ["TuneResult", "tune"]

ATTR_PARENT = "mlflow_parent_run_id"
ATTR_LAUNCHES = "launches"  # how many times tune() started on the study: seeds differ by it
TAG_BEST = tracking.TAG_PREFIX + "best_params"
TAG_STORAGE = tracking.TAG_PREFIX + "optuna_storage"
PLOTS = ("plot_optimization_history", "plot_parallel_coordinate", "plot_param_importances")


@dataclass
class TuneResult:
    """What a study found, with validation and test scores kept apart."""

    study: Any
    run_id: str
    metric: str
    best_params: dict[str, Any]
    scores: dict[str, float]  # best_validation, test, default_validation, default_test
    counts: dict[str, int] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict, repr=False)

    def describe(self, experiment: str) -> str:
        """What ``retaillab tune`` prints at the end: trial counts, best parameters, the
        validation/test table and the MLflow run."""
        counts = ", ".join(f"{n} {state.lower()}" for state, n in sorted(self.counts.items()))
        return "\n".join([
            f"trials: {counts}", f"best params: {self.best_params}",
            self.table().to_string(float_format=lambda v: f"{v:.4f}"),
            f"MLflow run {self.run_id} (experiment {experiment!r}); `retaillab ui` to browse"])

    def table(self) -> Any:
        """Configuration x part (validation, test) of the metric."""
        import pandas as pd

        s = self.scores
        return pd.DataFrame({"validation": [s["best_validation"], s["default_validation"]],
                             "test": [s["test"], s["default_test"]]},
                            index=pd.Index(["tuned", "default"], name=self.metric))


def tune(spec: TuneSpec, *, workers: int = 1, n_trials: int | None = None,
         storage: str | None = None, timeout: float | None = None, run_id: str | None = None,
         plots: bool = True) -> TuneResult:
    """Run (or resume) the spec's study until it holds ``n_trials`` finished trials.

    Never more: a trial starts only while finished trials (COMPLETE, PRUNED) and trials
    running in live processes are fewer than ``n_trials``, and trials left RUNNING by dead
    processes are failed first, so kills and resumes cannot overshoot. On a database storage
    a process is dead when its trial's heartbeat stopped (the spec's ``heartbeat_seconds``
    and ``grace_seconds``), on any machine.

    Parameters
    ----------
    workers
        Processes running trials: this one and ``workers - 1`` worker processes, started
        first (see :mod:`retaillab.tuning.workers`); 1 runs the trials here alone.
    n_trials, storage, timeout
        Override the spec's values (``storage``: see :mod:`retaillab.tuning.storage`).
    run_id
        An existing MLflow run to log under (a runner's run); by default the study's own
        parent run, created on first use and reused on resumption.

    Raises
    ------
    ParameterError
        ``workers`` below 1; an unknown hyperparameter in the spec's space or params.
    DataError
        A storage that cannot be opened; a study whose direction differs from the spec's.
    """
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ParameterError("--workers", "an integer >= 1", workers)
    spec = spec.replace(n_trials=n_trials, storage=storage, timeout=timeout)
    url = spec.storage or default_storage(spec.study_name)
    pool = None
    if workers > 1:  # first: they import and load the data while this process sets up
        from retaillab.tuning.workers import start

        pool = start(spec, url, workers - 1)
    try:
        return _tune(spec, url, pool, workers=workers, run_id=run_id, plots=plots)
    except BaseException:
        if pool is not None:
            pool.stop()
        raise
    finally:
        if pool is not None:
            pool.close()


def _tune(spec: TuneSpec, url: str, pool: Any, *, workers: int, run_id: str | None,
          plots: bool) -> TuneResult:
    """:func:`tune` once the workers (``pool``, None for one process) are starting."""
    from retaillab.tuning.final import config_key, take
    from retaillab.tuning.workers import thread_limit

    fixed = fixed_params(spec)[1]  # fail on a bad space before touching any store
    optuna_storage = open_storage(url, heartbeat_seconds=spec.heartbeat_seconds,
                                  grace_seconds=spec.grace_seconds)
    study = make_study(spec, optuna_storage, seed=spec.seed)
    if study.direction.name.lower() != spec.direction:
        raise DataError(f"study {spec.study_name!r} exists with direction "
                        f"{study.direction.name.lower()}, the spec says {spec.direction}",
                        source=describe(url), fix="give the spec another study name")
    lock = budget_lock_path(url, spec.study_name)
    with budget_lock(lock, study):  # one parent run and one launch number, whoever starts
        parent, owned = _parent_run(spec, study, url, run_id)
        launches = int(study.user_attrs.get(ATTR_LAUNCHES, 0))
        study.set_user_attr(ATTR_LAUNCHES, launches + 1)
        # a resumed sampler does not replay, nor do two launches at once share one
        seed = spec.seed + 10007 * len(study.trials) + 7919 * launches
    try:
        fail_stale_trials(study, parent)
        remaining = spec.n_trials - finished(study)
        problem, figures, key = None, None, config_key(spec, fixed)
        if remaining > 0:
            from retaillab.tuning.objectives import make_problem

            if pool is not None:
                pool.go(parent.run_id, spec.n_trials, seed=seed, attempts=remaining)
            with thread_limit(workers):  # this process is one of the workers
                problem = make_problem(spec.task, spec.model, spec.metric, spec.data, fixed,
                                       spec.seed)

                def final(study: Any) -> bool:  # a final score, while waiting and after
                    return take(study, key, problem, lock, spec.n_trials)

                run_trials(spec, optuna_storage, parent, spec.n_trials, seed=seed, lock=lock,
                           attempts=remaining, problem=problem, timeout=spec.timeout,
                           idle=final)
                if pool is not None and plots and finished(study) >= spec.n_trials:
                    figures = _plots(study, parent)  # while the workers score
                while final(study):
                    pass
            if pool is not None:
                pool.wait()
            fail_stale_trials(study, parent)  # one a dead process left while we ran
        elif pool is not None:  # the study is full: nothing for them to do
            pool.stop()
        result = _finish(spec, study, parent, problem, fixed, key, plots=plots,
                         figures=figures)
    except BaseException as exc:
        if owned:
            status = "KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED"
            parent.set_tags({tracking.TAG_ERROR: f"{type(exc).__name__}: {exc}"[:2000]})
            tracking.client().set_terminated(parent.run_id, status)
        raise
    if owned:
        tracking.client().set_terminated(parent.run_id, "FINISHED")
    return result


def _parent_run(spec: TuneSpec, study: Any, url: str, run_id: str | None
                ) -> tuple[tracking.Run, bool]:
    """The study's parent run: given, recorded in the study, or new. Also: do we end it?"""
    from mlflow.exceptions import MlflowException

    client = tracking.client()
    if run_id:
        found = client.get_run(run_id)
        study.set_user_attr(ATTR_PARENT, run_id)
        return tracking.Run(run_id, found.info.experiment_id), False
    previous = study.user_attrs.get(ATTR_PARENT)
    if previous:
        try:
            found = client.get_run(previous)
        except MlflowException:
            log.warning("the study's parent run %s is not in %s: starting a new one",
                        previous, tracking.tracking_uri())
        else:
            tracking.take_over(previous)  # this process owns it now (RUNNING again)
            return tracking.Run(previous, found.info.experiment_id), True
    exp = tracking.experiment_id(spec.name)
    run = tracking.create_run(exp, run_name=f"study {spec.study_name}",
                              tags=_provenance(spec, url))
    space, fixed = fixed_params(spec)
    run.log_params({"task": spec.task, "model": spec.model, "metric": spec.metric,
                    "direction": spec.direction, "seed": spec.seed, "study": spec.study_name,
                    "pruner": spec.pruner, "data": spec.data, "fixed": fixed,
                    "space": {k: list(v) for k, v in space.items()}})
    study.set_user_attr(ATTR_PARENT, run.run_id)
    return run, True


def _provenance(spec: TuneSpec, url: str) -> dict[str, str]:
    from pathlib import Path

    root = tracking.project_root()
    return {**tracking.code_tags(root), tracking.TAG_KIND: "study", TAG_STUDY: spec.study_name,
            TAG_STORAGE: describe(url),
            TAG_STUDY + ".metric": f"validation_{spec.metric}",
            TAG_STUDY + ".direction": spec.direction,
            tracking.TAG_SPEC: tracking.relative(Path(spec.path), root) if spec.path else "",
            tracking.TAG_SPEC_HASH: spec.sha256, tracking.TAG_SEED: str(spec.seed),
            tracking.TAG_PARAMETERS: json.dumps(spec.as_dict(), default=str), **spec.tags}


def _finish(spec: TuneSpec, study: Any, parent: tracking.Run, problem: Any,
            fixed: dict[str, Any], key: str, *, plots: bool,
            figures: dict[str, Any] | None = None) -> TuneResult:
    """Score the best and the default configuration on test (what no process scored yet,
    see :mod:`retaillab.tuning.final`); log metrics and plots (unless ``figures`` are)."""
    from optuna.trial import TrialState

    from retaillab.tuning.final import JOBS, attribute, compute, known
    from retaillab.tuning.objectives import make_problem

    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not complete:
        raise DataError("no trial completed, so there is no best configuration",
                        source=f"study {spec.study_name}",
                        fix="look at the failed trials' child runs (tag retaillab.error); "
                            "raise n_trials or the timeout")
    problem = problem or make_problem(spec.task, spec.model, spec.metric, spec.data, fixed,
                                      spec.seed)
    best = study.best_trial
    for name, table in problem.tables.items():
        parent.log_data(name, table)
    values = known(study, key, best.number)
    for job in JOBS:
        if job not in values:
            values[job] = compute(problem, job, dict(best.params))
            study.set_user_attr(attribute(key, job, best.number), values[job])
    scores = {"best_validation": float(best.value), "test": values["test"],
              "default_validation": values["default_validation"],
              "default_test": values["default_test"]}
    counts = dict(trial_counts(study))
    m = spec.metric
    parent.log_metrics({"best_validation_" + m: scores["best_validation"],
                        "test_" + m: scores["test"],
                        "default_validation_" + m: scores["default_validation"],
                        "default_test_" + m: scores["default_test"],
                        "best_trial": best.number,
                        **{f"n_trials_{s.lower()}": n for s, n in counts.items()}})
    parent.set_tags({TAG_BEST: json.dumps(best.params, default=str)})
    if figures is None:
        figures = _plots(study, parent) if plots else {}
    return TuneResult(study, parent.run_id, m, dict(best.params), scores, counts, figures)


def _plots(study: Any, parent: tracking.Run) -> dict[str, Any]:
    """Optuna's history, parallel-coordinate and importance plots, kept as artifacts."""
    import warnings

    import matplotlib.pyplot as plt
    import optuna.visualization.matplotlib as vis

    figures = {}
    for name in PLOTS:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                axes = getattr(vis, name)(study)
        except (ValueError, RuntimeError, ZeroDivisionError) as exc:  # too few trials/params
            log.warning("no %s: %s", name, exc)
            continue
        figure = getattr(axes, "figure", None) or axes.flat[0].figure
        parent.log_figure(figure, f"optuna/{name.removeprefix('plot_')}.png")
        figures[name.removeprefix("plot_")] = figure
        plt.close(figure)
    return figures
