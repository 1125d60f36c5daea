"""Tuning specs (``experiments/tune_*.yaml``): what to tune, on what, for how long.

::

    name: tune-svd                  # MLflow experiment of the study's parent run
    task: recsys                    # recsys | churn | clv
    model: svd                      # a registered model of that task
    metric: rmse                    # scored on validation by trials, on test once at the end
    direction: minimize             # optional: minimize for errors and losses, else maximize
    n_trials: 20                    # in total, across workers and resumptions
    timeout: null                   # seconds per worker, optional
    seed: 0
    study: tune-svd                 # Optuna study name (default: name); same name resumes
    storage: null                   # default: journal file mlruns/optuna/<study>.journal
    heartbeat_seconds: 10           # database storages: a running trial's heartbeat interval
    grace_seconds: 30               # ... and the silence after which it is failed as stale
    pruner: median                  # median | none
    data: {dataset: movielens, sample: 0}     # task data options (objectives.DATA_OPTIONS)
    params: {}                      # hyperparameters fixed for every trial
    space: {n_factors: [int, 10, 300, {log: true}]}   # overrides of the model's space

Every error names the file and the key at fault. ``heartbeat_seconds`` and
``grace_seconds`` apply to database storages (``postgresql://...``), where they are how a
process on any machine tells that another one died mid-trial; a journal file ignores them.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from retaillab.spec import SpecError, read_mapping
from retaillab.tuning.storage import GRACE_SECONDS, HEARTBEAT_SECONDS

__all__ = ["TuneSpec", "load_tune_spec"]

PRUNERS = ("median", "none")


@dataclass(frozen=True)
class TuneSpec:
    """A validated tuning spec."""

    name: str
    task: str
    model: str
    metric: str
    direction: str = ""
    n_trials: int = 20
    timeout: float | None = None
    seed: int = 0
    study: str = ""
    storage: str | None = None
    heartbeat_seconds: int = HEARTBEAT_SECONDS
    grace_seconds: int = GRACE_SECONDS
    pruner: str = "median"
    data: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    space: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    description: str = ""
    path: str = ""
    sha256: str = ""

    @property
    def study_name(self) -> str:
        return self.study or self.name

    def replace(self, **changes: Any) -> TuneSpec:
        """A copy with ``changes`` (``None`` values are ignored), validated again."""
        changes = {k: v for k, v in changes.items() if v is not None}
        return validate(dataclasses.replace(self, **changes))

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def load_tune_spec(path: str | Path) -> TuneSpec:
    """Read and validate a tuning spec file."""
    path = Path(path)
    known = [f.name for f in dataclasses.fields(TuneSpec) if f.name not in ("path", "sha256")]
    raw, raw_bytes = read_mapping(path, what="tuning spec", example="experiments/tune_svd.yaml",
                                  shape="name, task, model and metric", known=known,
                                  required=("name", "task", "model", "metric"))
    values = {k: v for k, v in raw.items() if v is not None}
    return validate(TuneSpec(**values, path=str(path.resolve()),
                             sha256=hashlib.sha256(raw_bytes).hexdigest()))


def validate(spec: TuneSpec) -> TuneSpec:
    """Check types and names; fill the direction from the metric."""
    from retaillab.tuning.objectives import DATA_OPTIONS, default_direction
    from retaillab.tuning.spaces import TASKS

    source = spec.path or "tuning spec"

    def bad(key: str, expected: str, got: object) -> SpecError:
        return SpecError(f"{key!r} must be {expected}; got {got!r}", source=source,
                         column=key, fix="see experiments/tune_svd.yaml")

    if spec.task not in TASKS:
        raise bad("task", "one of " + ", ".join(TASKS), spec.task)
    for key in ("data", "params", "space", "tags"):
        if not isinstance(getattr(spec, key), Mapping):
            raise bad(key, "a mapping", getattr(spec, key))
    n = spec.n_trials
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise bad("n_trials", "an integer >= 1", n)
    if spec.timeout is not None and (isinstance(spec.timeout, bool) or not isinstance(
            spec.timeout, (int, float)) or spec.timeout <= 0):
        raise bad("timeout", "a number of seconds > 0 or null", spec.timeout)
    if isinstance(spec.seed, bool) or not isinstance(spec.seed, int):
        raise bad("seed", "an integer", spec.seed)
    for key in ("heartbeat_seconds", "grace_seconds"):
        value = getattr(spec, key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise bad(key, "a whole number of seconds >= 1", value)
    if spec.grace_seconds <= spec.heartbeat_seconds:
        raise bad("grace_seconds", f"more than heartbeat_seconds ({spec.heartbeat_seconds}): "
                  "a live trial is silent that long between two heartbeats", spec.grace_seconds)
    if spec.pruner not in PRUNERS:
        raise bad("pruner", "one of " + ", ".join(PRUNERS), spec.pruner)
    direction = spec.direction or default_direction(spec.metric)
    if direction not in ("minimize", "maximize"):
        raise bad("direction", "minimize or maximize", spec.direction)
    unknown = sorted(set(spec.data) - set(DATA_OPTIONS[spec.task]))
    if unknown:
        raise SpecError(f"unknown data option {unknown[0]!r} for task {spec.task}; known: "
                        + ", ".join(DATA_OPTIONS[spec.task]), source=source,
                        column=f"data.{unknown[0]}", fix="remove or rename it")
    return dataclasses.replace(spec, direction=direction, name=str(spec.name),
                               tags={str(k): str(v) for k, v in spec.tags.items()})
