"""Fitted retaillab models as MLflow models: logged into a run, loaded back as pyfunc.

>>> from retaillab import models                                          # doctest: +SKIP
>>> uri = models.log_model(pipeline, family="churn", name="churn_model",
...                        run_id=run.run_id, input_example=features)      # doctest: +SKIP
>>> models.load(uri).predict(features)[:, 1]                              # doctest: +SKIP

One module per family, each with its own MLflow flavour:

* ``churn`` (:mod:`retaillab.models.churn`): scikit-learn pipelines, the sklearn flavour,
  pyfunc scoring ``predict_proba``;
* ``clv`` (:mod:`retaillab.models.clv`): a BTYD purchase model (and a Gamma-Gamma spend
  model) as a small pyfunc ``PythonModel`` holding their parameters as JSON;
* ``recsys`` (:mod:`retaillab.models.recsys`): recommenders.

Every logged model carries the metadata of :func:`retaillab.models._common.metadata`
(retaillab version, family, model class, size in bytes of the saved payload) in its MLmodel
file, and the run gets the tag ``retaillab.logged_model.<name>`` with the same metadata as
JSON (plus the model URI). The run's params are already on the run; MLflow copies them onto
the logged model. Requirements are always explicit (:func:`~retaillab.models._common.requirements`).

``import retaillab.models`` is cheap: MLflow and the family modules load on use.
"""

from __future__ import annotations

import importlib
import json
from typing import Any

from retaillab.errors import ParameterError, check_choice
from retaillab.models._common import FAMILIES

__all__ = ["FAMILIES", "TAG_PREFIX", "load", "log_model", "model_tag"]

#: the run tag ``retaillab.logged_model.<name>`` holds a logged model's metadata, as JSON
TAG_PREFIX = "retaillab.logged_model."

#: family -> (module, function logging a fitted model of that family)
_LOGGERS = {"churn": ("retaillab.models.churn", "log_churn"),
            "clv": ("retaillab.models.clv", "log_clv"),
            "recsys": ("retaillab.models.recsys", "log_recsys")}


def model_tag(name: str) -> str:
    """The run tag holding the metadata of model ``name``: ``retaillab.logged_model.<name>``."""
    return TAG_PREFIX + name


def _logger(family: str):
    check_choice("family", family, FAMILIES)
    module_name, function = _LOGGERS[family]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise  # the module exists but something it imports is missing
        raise ParameterError("family", f"a family whose module is installed: "
                             f"{module_name} is not there yet", family) from None
    found = getattr(module, function, None)
    if found is None:
        raise ParameterError("family", f"a family whose module defines {function}(): "
                             f"{module_name} does not", family)
    return found


def log_model(fitted: Any, *, family: str, name: str, run_id: str, uri: str | None = None,
              input_example: Any = None, extra: dict[str, Any] | None = None,
              **options: Any) -> str:
    """Log ``fitted`` into run ``run_id`` as MLflow model ``name``; its URI,
    ``runs:/<run_id>/<name>``.

    Parameters
    ----------
    fitted
        A fitted model of ``family``: a churn pipeline, a CLV model (a fitted transaction
        model, a ``(transaction, spend)`` pair or a :class:`retaillab.models.clv.CLVModel`),
        a recommender.
    family
        ``"churn"``, ``"clv"`` or ``"recsys"``.
    name
        The model's name in the run (a path component: ``churn_model``, ``bg_nbd``).
    run_id, uri
        The run (an existing run, usually RUNNING) and its store (default
        :func:`retaillab.tracking.tracking_uri`).
    input_example
        A few rows of what the model scores (stored with the model; its signature is
        inferred from it). Required for churn; CLV makes one if not given.
    extra
        More metadata (JSON-able) for the model's MLmodel file and run tag, beside what
        every model carries (:func:`retaillab.models._common.metadata`) and its run's
        provenance (:func:`retaillab.models._common.provenance`: commit, data fingerprints,
        sources, the comparison's parameters): e.g. how ``retaillab score`` builds its input.
    options
        Family-specific: for ``clv``, ``unit`` (``"W"`` or ``"D"``, required unless ``fitted``
        is a :class:`~retaillab.models.clv.CLVModel`).
    """
    from retaillab import tracking
    from retaillab.models import _common

    if not name or "/" in name or name != name.strip():
        raise ParameterError("name", "a non-empty name without '/' or surrounding spaces",
                             name)
    log = _logger(family)
    uri = uri or tracking.tracking_uri()
    extra = {**_common.provenance(run_id, uri), **(extra or {})}
    with _common.logged_model(run_id, name, uri) as model_id:
        log(fitted, name, run_id, input_example=input_example, model_id=model_id,
            extra=extra, **options)
    model_uri = f"runs:/{run_id}/{name}"
    import mlflow.models

    with _common.using_store(uri), _common.quiet():
        info = mlflow.models.get_model_info(model_uri)
    tag = {**(info.metadata or {}), "model_uri": model_uri, "model_id": info.model_id}
    tracking.client(uri).set_tag(run_id, model_tag(name), json.dumps(tag, sort_keys=True))
    return model_uri


def load(uri: str, *, tracking_uri: str | None = None) -> Any:
    """The pyfunc model at ``uri`` (``runs:/<run_id>/<name>``, ``models:/...``, a path),
    read from store ``tracking_uri`` (default :func:`retaillab.tracking.tracking_uri`)."""
    import mlflow.pyfunc

    from retaillab import tracking
    from retaillab.models import _common

    with _common.using_store(tracking_uri or tracking.tracking_uri()), _common.quiet():
        return mlflow.pyfunc.load_model(uri)
