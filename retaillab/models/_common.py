"""What every logged retaillab model shares: its metadata, its pip requirements, its size.

The flavour modules (:mod:`retaillab.models.churn`, :mod:`~retaillab.models.clv`,
:mod:`~retaillab.models.recsys`) build on these so every model in the store says the same
things about itself, under the same keys:

* :func:`metadata` -> the ``metadata=`` of ``log_model`` (written into the model's MLmodel
  file): retaillab version, family, model class and the size of the saved payload;
* :func:`requirements` -> the ``pip_requirements=`` of ``log_model``, always passed, so MLflow
  never infers requirements (inference imports the model in a subprocess: seconds per model);
* :func:`saved_size` / :func:`pickled_size` -> the bytes of what was saved.

Nothing here imports MLflow (``import retaillab.models`` stays cheap).
"""

from __future__ import annotations

import contextlib
import functools
import os
import pickle
import re
from collections.abc import Iterator
from importlib import metadata as _metadata
from pathlib import Path
from typing import Any

#: the families a model belongs to (the package that fitted it)
FAMILIES = ("churn", "clv", "recsys")

#: keys of a model's metadata (MLmodel ``metadata:`` and the run tag's JSON)
KEY_VERSION = "retaillab_version"
KEY_FAMILY = "family"
KEY_CLASS = "model_class"
KEY_ESTIMATOR = "estimator_class"  # a scikit-learn pipeline's final step
KEY_SIZE = "size_bytes"

#: retaillab dependencies only the workbench uses (running notebooks, the lab), never a model
#: being loaded: left out of a model's requirements
NOT_AT_LOAD_TIME = frozenset({"papermill", "jupyterlab", "ipykernel", "ipywidgets"})


def class_name(obj: Any) -> str:
    """``module.QualName`` of ``obj``'s class (``sklearn.pipeline.Pipeline``)."""
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def metadata(fitted: Any, family: str, *, size: int | None = None,
             **extra: Any) -> dict[str, Any]:
    """The metadata every logged model carries: retaillab version, family, model class
    (and a pipeline's final estimator class), the size in bytes of the saved payload when
    known (``size``), and any ``extra`` items (JSON-able).

    Pass the result as ``metadata=`` of ``mlflow.<flavour>.log_model``; the same dict, as
    JSON, is the run tag ``retaillab.logged_model.<name>`` (:func:`retaillab.models.log_model`).
    """
    import retaillab

    if family not in FAMILIES:
        raise ValueError(f"unknown model family {family!r}: expected one of {FAMILIES}")
    found: dict[str, Any] = {KEY_VERSION: retaillab.__version__, KEY_FAMILY: family,
                             KEY_CLASS: class_name(fitted)}
    steps = getattr(fitted, "steps", None)  # a scikit-learn Pipeline
    if isinstance(steps, list) and steps:
        found[KEY_ESTIMATOR] = class_name(steps[-1][1])
    if size is not None:
        found[KEY_SIZE] = int(size)
    found.update(extra)
    return found


def _name(requirement: str) -> str:
    """The distribution name of a requirement line (``numpy>=2.0`` -> ``numpy``)."""
    return re.split(r"[\s<>=!~;\[(@]", requirement.strip(), maxsplit=1)[0]


def _declared() -> list[str]:
    """retaillab's own (non-extra) dependencies: from ``pyproject.toml`` when running from a
    checkout (an editable install's metadata goes stale when dependencies change), else
    from the installed distribution's metadata."""
    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    if pyproject.is_file():
        import tomllib

        project = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {})
        if project.get("name") == "retaillab":
            return list(project.get("dependencies", []))
    try:
        declared = _metadata.requires("retaillab") or []
    except _metadata.PackageNotFoundError:  # pragma: no cover - a bare source tree
        declared = []
    return [r for r in declared if "extra ==" not in r.replace("extra==", "extra ==")]


@functools.cache
def _pinned() -> tuple[str, ...]:
    pins = []
    for requirement in _declared():
        name = _name(requirement)
        if not name or name.lower() in NOT_AT_LOAD_TIME:
            continue
        try:
            pins.append(f"{name}=={_metadata.version(name)}")
        except _metadata.PackageNotFoundError:
            continue  # declared but not installed here: nothing to pin
    return tuple(pins)


def requirements() -> list[str]:
    """Explicit pinned pip requirements for loading a retaillab model: retaillab's own
    dependencies at their installed versions (``numpy==2.3.1``, ...), without the
    notebook-only tools (:data:`NOT_AT_LOAD_TIME`).

    Always pass it as ``pip_requirements=``: without it MLflow infers requirements by
    loading the model in a subprocess, which costs seconds per logged model.

    retaillab itself is not listed: it is not on a package index, so a pin would make
    ``pip install`` fail; the model's metadata records its version (:data:`KEY_VERSION`),
    and loading needs an environment with that retaillab installed.
    """
    return list(_pinned())


def saved_size(path: str | os.PathLike[str]) -> int:
    """Bytes of a saved file, or of every file under a saved folder (0 if missing)."""
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    if not path.is_dir():
        return 0
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


class _Counter:
    """A write-only file that only counts the bytes written to it."""

    def __init__(self) -> None:
        self.size = 0

    def write(self, data: bytes) -> int:
        self.size += len(data)
        return len(data)


def pickled_size(obj: Any) -> int:
    """Bytes of ``obj`` pickled as MLflow's scikit-learn flavour pickles it with
    ``serialization_format="cloudpickle"`` (cloudpickle, Python's default protocol), counted
    without keeping the bytes in memory: the size of ``model.pkl`` before it is written."""
    import cloudpickle  # an MLflow dependency

    counter = _Counter()
    cloudpickle.dump(obj, counter, protocol=pickle.DEFAULT_PROTOCOL)
    return counter.size


@contextlib.contextmanager
def logged_model(run_id: str, name: str, uri: str | None = None) -> Iterator[str]:
    """For the block, MLflow's fluent API talks to store ``uri`` (default
    :func:`retaillab.tracking.tracking_uri`); yields the id of a new LoggedModel ``name``
    made in run ``run_id``'s own experiment, for ``log_model(..., model_id=...)``.

    Left to ``log_model``, MLflow 3 creates the LoggedModel in the *active* experiment (the
    default one, ``0``, for retaillab's client-only runs; whatever a notebook last
    ``set_experiment``-ed otherwise), so its artifacts land elsewhere and
    ``runs:/<run_id>/<name>`` does not find it.
    """
    import mlflow

    from retaillab import tracking

    uri = uri or tracking.tracking_uri()
    run = tracking.client(uri).get_run(run_id)
    with using_store(uri), quiet():
        model = mlflow.initialize_logged_model(
            name=name, source_run_id=run_id, experiment_id=run.info.experiment_id,
            params={key: str(value) for key, value in run.data.params.items()})
        yield model.model_id


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """MLflow's notices while it saves or loads a model, silenced for the block: the pickle
    caution (retaillab's models are pickled by design, and loaded only from the user's own
    store), "validating input example", the type-hint hint, artifact progress bars. They
    would fill every notebook's output; errors still show."""
    import logging
    import warnings

    names = ("mlflow.pyfunc", "mlflow.sklearn", "mlflow.models", "mlflow.store",
             "mlflow.tracking")
    levels = {name: logging.getLogger(name).level for name in names}
    old_bar = os.environ.get("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR")
    os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
    for name in names:
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*type hint", category=UserWarning)
            warnings.filterwarnings("ignore", message=".*[Ii]nteger column", category=UserWarning)
            yield
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
        if old_bar is None:
            os.environ.pop("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", None)
        else:
            os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = old_bar


@contextlib.contextmanager
def using_store(uri: str) -> Iterator[None]:
    """MLflow's fluent API (``log_model``, ``load_model``) talks to store ``uri`` for the
    block; nothing changes when it already does.

    Not ``mlflow``'s own ``_use_tracking_uri``: restoring "no URI set" there also unsets
    ``MLFLOW_TRACKING_URI``, the variable retaillab's store comes from.
    """
    from mlflow.tracking._tracking_service import utils

    if utils.get_tracking_uri() == uri:
        yield
        return
    old_uri, old_env = utils._tracking_uri, os.environ.get("MLFLOW_TRACKING_URI")
    utils.set_tracking_uri(uri)
    try:
        yield
    finally:
        if old_uri is not None:
            utils.set_tracking_uri(old_uri)
        else:
            utils._tracking_uri = None
        if old_env is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = old_env


def provenance(run_id: str, uri: str | None = None) -> dict[str, Any]:
    """What produced the model of run ``run_id``, for its metadata: the run and the comparison
    (parent) run it belongs to, the commit, the data fingerprints and user sources (tags
    ``retaillab.data.*`` / ``retaillab.source.*``) and the comparison's parameters (JSON, as
    the runner recorded them), each read from the run and, where the run lacks it, its parent.
    """
    import json

    from retaillab import tracking

    mlflow_client = tracking.client(uri)
    run = mlflow_client.get_run(run_id)
    parent_id = run.data.tags.get(tracking.PARENT_TAG)
    parent = mlflow_client.get_run(parent_id) if parent_id else None
    tags = {**(parent.data.tags if parent else {}), **run.data.tags}
    found: dict[str, Any] = {"run_id": run_id, "comparison_run_id": parent_id or run_id,
                             "model_name": tags.get(tracking.TAG_MODEL),
                             "commit": tags.get(tracking.TAG_COMMIT),
                             "commit_dirty": tags.get(tracking.TAG_DIRTY) == "true"}
    found["data"] = {k[len(tracking.TAG_DATA):]: v for k, v in tags.items()
                     if k.startswith(tracking.TAG_DATA)}
    found["sources"] = {k[len(tracking.TAG_SOURCE):]: json.loads(v) for k, v in tags.items()
                        if k.startswith(tracking.TAG_SOURCE)}
    text = tags.get(tracking.TAG_PARAMETERS)
    found["parameters"] = json.loads(text) if text else dict(
        (parent or run).data.params)
    found["model_params"] = dict(run.data.params)
    return found
