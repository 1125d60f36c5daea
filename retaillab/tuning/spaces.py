"""Search spaces as data, next to their models, and their resolution against a spec.

A space maps a hyperparameter to a distribution::

    {"n_factors": ("int", 10, 200, {"log": True}),     # integer in [10, 200], log scale
     "lr_all": ("float", 1e-3, 0.05, {"log": True}),   # real in [1e-3, 0.05]
     "n_epochs": ("int", 10, 60, {"step": 5}),
     "sim_name": ("categorical", ["msd", "cosine"])}

Each tunable model carries its default space: ``search_space`` on the recommender and CLV
classes, :data:`retaillab.churn.registry.SEARCH_SPACES` for the churn pipelines. A spec's
``space`` overrides entries by name (in YAML a list: ``n_factors: [int, 10, 300, {log: true}]``);
a plain (non-list) value fixes the hyperparameter and ``null`` takes it out of the search
(the model's default applies). Names are checked against the model's own hyperparameters.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Mapping
from typing import Any

from retaillab.errors import ParameterError, UnknownNameError

__all__ = ["TASKS", "default_space", "hyperparameters", "resolve_space", "suggest"]

TASKS = ("recsys", "churn", "clv")
KINDS = ("int", "float", "categorical")


def _model(task: str, model: str) -> tuple[dict[str, Any], dict[str, tuple]]:
    """The model's hyperparameters (name -> default) and its default space."""
    if task == "recsys":
        from retaillab.recsys import model_class

        cls = model_class(model)
        params = {k: p.default for k, p in inspect.signature(cls).parameters.items()}
        return params, dict(getattr(cls, "search_space", {}))
    if task == "churn":
        from retaillab.churn.registry import hyperparameters as churn_params
        from retaillab.churn.registry import search_space

        return churn_params(model), search_space(model)
    if task == "clv":
        from retaillab.clv.registry import available, create

        if model not in available("transactions"):
            raise UnknownNameError("CLV transaction model", model, available("transactions"))
        cls = type(create(model))
        params = {k: p.default for k, p in inspect.signature(cls).parameters.items()}
        return params, dict(getattr(cls, "search_space", {}))
    raise UnknownNameError("tuning task", task, TASKS)


def hyperparameters(task: str, model: str) -> dict[str, Any]:
    """The hyperparameters ``model`` of ``task`` accepts, with their defaults."""
    return _model(task, model)[0]


def default_space(task: str, model: str) -> dict[str, tuple]:
    """The search space that lives next to the model."""
    return _model(task, model)[1]


def resolve_space(task: str, model: str, overrides: Mapping[str, Any] | None = None
                  ) -> tuple[dict[str, tuple], dict[str, Any]]:
    """The model's space with ``overrides`` applied: ``(space, fixed)``.

    ``fixed`` holds hyperparameters an override set to a plain value.

    Raises
    ------
    ParameterError
        For a name that is not a hyperparameter of the model (the valid ones are listed),
        or an entry that is not a valid distribution.
    """
    params, space = _model(task, model)
    fixed: dict[str, Any] = {}
    for name, entry in (overrides or {}).items():
        if name not in params:
            near = difflib.get_close_matches(str(name), list(params), n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            raise ParameterError(f"search space of {model}: {name!r}{hint}",
                                 "a hyperparameter of the model: " + ", ".join(params), name)
        if entry is None:
            space.pop(name, None)
        elif isinstance(entry, (list, tuple)):  # a distribution; plain values fix
            space[name] = check_entry(name, tuple(entry))
        else:
            space.pop(name, None)
            fixed[name] = entry
    for name, entry in space.items():
        check_entry(name, entry)
    return space, fixed


def check_entry(name: str, entry: tuple) -> tuple:
    """Validate one distribution; return it unchanged."""
    expected = ("[int|float, low, high] or [int|float, low, high, {log: true} or {step: s}] "
                "or [categorical, [choices]]")
    kind = entry[0] if entry else None
    if kind == "categorical":
        if len(entry) != 2 or not isinstance(entry[1], (list, tuple)) or not entry[1]:
            raise ParameterError(f"search space entry {name!r}", expected, list(entry))
        return entry
    if kind not in ("int", "float") or len(entry) not in (3, 4):
        raise ParameterError(f"search space entry {name!r}", expected, list(entry))
    low, high = entry[1], entry[2]
    options = entry[3] if len(entry) == 4 else {}
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (low, high))
    if not numbers or not low <= high or not isinstance(options, Mapping) or set(options) - {
            "log", "step"}:
        raise ParameterError(f"search space entry {name!r}", expected, list(entry))
    if options.get("log") and low <= 0:
        raise ParameterError(f"search space entry {name!r}", "low > 0 on a log scale", low)
    return entry


def suggest(trial: Any, space: Mapping[str, tuple]) -> dict[str, Any]:
    """Draw one configuration from ``space`` with an Optuna trial."""
    params: dict[str, Any] = {}
    for name, entry in space.items():
        kind = entry[0]
        if kind == "categorical":
            params[name] = trial.suggest_categorical(name, list(entry[1]))
            continue
        options = dict(entry[3]) if len(entry) == 4 else {}
        if kind == "int":
            params[name] = trial.suggest_int(name, int(entry[1]), int(entry[2]), **options)
        else:
            params[name] = trial.suggest_float(name, float(entry[1]), float(entry[2]), **options)
    return params
