"""Churn pipelines as MLflow models: the scikit-learn flavour, pyfunc scoring ``predict_proba``.

A churn model is the scikit-learn :class:`~sklearn.pipeline.Pipeline` of
:func:`retaillab.churn.create` (shared preprocessing, then a classifier), fitted on a
customer feature table without the target. It is logged with MLflow's own scikit-learn
flavour, so

* ``mlflow.sklearn.load_model(uri)`` gives back the very pipeline (``predict_proba``,
  ``classes_``, ``named_steps`` ...);
* ``mlflow.pyfunc.load_model(uri).predict(features)`` calls ``predict_proba``
  (``pyfunc_predict_fn="predict_proba"``) and returns **both columns**, an ``(n, 2)`` array in
  the order of ``pipeline.classes_`` (recorded in the metadata as ``classes``): column 1 is the
  churn probability, ``predict(features)[:, 1]``.

Why not a wrapper returning one ``churn_probability`` column: a custom pyfunc would hide the
pipeline from ``mlflow.sklearn.load_model`` (and from tools that look for the sklearn flavour,
such as ``mlflow.evaluate`` and SHAP explainers), and it would need a retaillab class to be
importable to unpickle it. ``pyfunc_predict_fn="predict_proba"`` is MLflow's documented way of
serving a classifier's probabilities; the scorer picks the column.

MLflow's schemas have no categorical type: a ``category`` column is a ``string`` column in the
signature, and pyfunc's schema enforcement refuses ``category`` input ("Can not safely convert
category"). Pass the feature table through :func:`as_input` (category columns as plain
objects) before ``predict``; the pipeline one-hot encodes text and categories alike, so the
probabilities are the same.

The signature is inferred from a few rows of the feature table (``input_example``) and the
pipeline's ``predict_proba`` on them.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from retaillab.errors import ParameterError
from retaillab.models import _common

__all__ = ["EXAMPLE_ROWS", "as_input", "log_churn"]

#: rows of the feature table kept as the input example
EXAMPLE_ROWS = 5


def as_input(features: pd.DataFrame) -> pd.DataFrame:
    """``features`` with its ``category`` columns as plain object columns: what the pyfunc's
    schema (``string``) accepts."""
    categorical = [c for c in features.columns
                   if isinstance(features[c].dtype, pd.CategoricalDtype)]
    return features.astype(dict.fromkeys(categorical, object)) if categorical else features


def _example(input_example: Any) -> pd.DataFrame:
    if not isinstance(input_example, pd.DataFrame) or input_example.empty:
        raise ParameterError("input_example", "a few rows of the customer feature table the "
                             "pipeline was fitted on (a DataFrame without the target)",
                             type(input_example).__name__)
    return as_input(input_example.head(EXAMPLE_ROWS))


def log_churn(fitted: Any, name: str, run_id: str, *, input_example: Any = None,
              model_id: str | None = None, extra: dict[str, Any] | None = None,
              **_: Any) -> Any:
    """Log a fitted churn pipeline into run ``run_id`` as model ``name``; the ModelInfo.

    ``input_example`` is required: a few rows of the feature table (no target); the first
    :data:`EXAMPLE_ROWS` are stored with the model and give its signature.
    """
    import mlflow.sklearn
    from mlflow.models import infer_signature
    from sklearn.utils.validation import check_is_fitted

    if not hasattr(fitted, "predict_proba"):
        raise ParameterError("fitted", "a fitted churn pipeline with predict_proba "
                             "(retaillab.churn.create(...).fit(x, y))", type(fitted).__name__)
    check_is_fitted(fitted)
    example = _example(input_example)
    signature = infer_signature(example, fitted.predict_proba(example))
    meta = _common.metadata(
        fitted, "churn", size=_common.pickled_size(fitted),
        classes=[c.item() if hasattr(c, "item") else c for c in fitted.classes_],
        output="predict_proba: one column per class, in the order of classes",
        **(extra or {}))
    return mlflow.sklearn.log_model(
        fitted, name=name, run_id=run_id, model_id=model_id, serialization_format="cloudpickle",
        signature=signature, input_example=example, pyfunc_predict_fn="predict_proba",
        pip_requirements=_common.requirements(), metadata=meta)
