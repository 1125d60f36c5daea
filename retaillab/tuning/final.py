"""A study's final scores, each computed once, by whichever process is free, kept in the study.

Three jobs follow the trials: ``test`` (the best configuration refitted on the whole training
part and scored on test), ``default_test`` and ``default_validation`` (the model's default
configuration, for comparison). The two default jobs do not depend on the trials, so a
process waiting while others run the study's last trials does them; ``test`` waits until the
study holds all its trials. With ``--workers N`` the processes share them, in parallel.

A process claims a job under the study's budget lock (user attribute ``final.KEY.JOB.claim``,
naming its owner, see :mod:`retaillab.owners`), computes it and records the value
(``final.KEY.JOB``). :func:`retaillab.tuning.study.tune` reads the values at the end and
computes what is missing itself; a claim whose owner died is taken over. ``KEY`` is a digest
of what a score depends on (task, model, metric, data options, fixed hyperparameters, seed),
and for ``test`` also the best trial's number: a spec changed under the same study name, or
a study extended to more trials, is scored afresh, while a study run again when complete is
not scored twice. Test scores sit in the study's user attributes, which no sampler reads.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

from retaillab import owners
from retaillab.tuning.spec import TuneSpec

log = logging.getLogger(__name__)

__all__ = ["JOBS", "attribute", "compute", "config_key", "final_best", "known", "take"]

#: the final jobs, in the order a free process takes them
JOBS = ("test", "default_test", "default_validation")
PREFIX = "final."


def config_key(spec: TuneSpec, fixed: dict[str, Any]) -> str:
    """A digest of everything a final score depends on (12 hex digits)."""
    what = {"task": spec.task, "model": spec.model, "metric": spec.metric, "data": spec.data,
            "fixed": fixed, "seed": spec.seed}
    text = json.dumps(what, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def attribute(key: str, job: str, best: int | None = None) -> str:
    """The study's user attribute holding ``job``'s value (``test``: of trial ``best``)."""
    return f"{PREFIX}{key}.{job}" + (f".{best}" if job == "test" else "")


def final_best(study: Any, n_trials: int) -> Any:
    """The best trial once the study holds ``n_trials`` finished trials (then the best can no
    longer change), else None; None too when no trial completed."""
    from retaillab.tuning.trials import finished

    if finished(study) < n_trials:
        return None
    try:
        return study.best_trial
    except ValueError:  # every trial pruned or failed
        return None


def known(study: Any, key: str, best: int | None) -> dict[str, float]:
    """The final values the study holds: job -> value (``test``: of trial ``best``)."""
    attrs = study.user_attrs
    found = {}
    for job in JOBS:
        if job == "test" and best is None:
            continue
        name = attribute(key, job, best)
        if name in attrs:
            found[job] = float(attrs[name])
    return found


def compute(problem: Any, job: str, best_params: dict[str, Any] | None = None) -> float:
    """Score ``job`` on ``problem`` (``test``: the configuration ``best_params``)."""
    if job == "test":
        return problem.test_score(best_params or {})
    if job == "default_test":
        return problem.test_score({})
    return problem.validate({})


def take(study: Any, key: str, problem: Any, lock: Path, n_trials: int) -> bool:
    """Claim one final job no live process holds, compute it and record its value; whether
    there was one. ``test`` is taken only once the study holds ``n_trials`` finished trials.

    A job whose computation raises is left with a warning (its claim stays, so no other
    live process tries it again): the launcher computes it at the end, where the error
    stops the study as it would have.
    """
    from retaillab.tuning.trials import _signals_held, budget_lock

    with budget_lock(lock, study), _signals_held():
        best = final_best(study, n_trials)
        attrs = study.user_attrs
        for job in JOBS:
            if job == "test" and best is None:
                continue
            name = attribute(key, job, best.number if best is not None else None)
            claim = attrs.get(name + ".claim")
            if name in attrs or (claim and owners.alive(str(claim)) is not False):
                continue
            study.set_user_attr(name + ".claim", owners.owner())
            break
        else:
            return False
    try:
        value = compute(problem, job, dict(best.params) if job == "test" else None)
    except Exception as exc:
        log.warning("final score %s not computed here (%s: %s): left to the launcher", job,
                    type(exc).__name__, exc)
        return True
    with _signals_held():
        study.set_user_attr(name, value)
    return True
