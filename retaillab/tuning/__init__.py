"""Optuna tuning tracked in MLflow: search spaces next to the models, resumable studies.

>>> from retaillab import tuning
>>> spec = tuning.load_tune_spec("experiments/tune_svd.yaml")        # doctest: +SKIP
>>> result = tuning.tune(spec, workers=2)                             # doctest: +SKIP
>>> result.table()           # tuned and default: validation and test    # doctest: +SKIP

Modules: :mod:`~retaillab.tuning.spaces` (spaces as data, checked against the model),
:mod:`~retaillab.tuning.objectives` (per task: splits and metric), :mod:`~retaillab.tuning.trials`
(the objective; one MLflow child run per trial), :mod:`~retaillab.tuning.study` (storage, parent
run, plots), :mod:`~retaillab.tuning.final` (the test scores and the default's, computed once
by whichever process is free), :mod:`~retaillab.tuning.workers` (``--workers N``). Optuna,
MLflow and the models load only when used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

_LAZY = {
    "TuneSpec": "spec", "load_tune_spec": "spec",
    "TuneResult": "study", "tune": "study",
    "default_space": "spaces", "hyperparameters": "spaces", "resolve_space": "spaces",
    "open_storage": "storage", "default_storage": "storage",
}

__all__ = ["TuneResult", "TuneSpec", "default_space", "default_storage", "hyperparameters",
           "load_tune_spec", "open_storage", "resolve_space", "tune"]

if TYPE_CHECKING:  # pragma: no cover
    from retaillab.tuning.spaces import default_space, hyperparameters, resolve_space
    from retaillab.tuning.spec import TuneSpec, load_tune_spec
    from retaillab.tuning.storage import default_storage, open_storage
    from retaillab.tuning.study import TuneResult, tune


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(f"retaillab.tuning.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'retaillab.tuning' has no attribute {name!r}")
