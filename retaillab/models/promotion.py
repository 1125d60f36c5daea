"""Promote a compared model to the MLflow Model Registry: a new version, alias ``champion``.

``retaillab promote RUN_ID [--model NAME]`` (and a spec's ``register: true``) calls
:func:`promote`. ``RUN_ID`` is a compared model's child run that logged a model
(:mod:`retaillab.models.compared`), or a comparison's run, which stands for its winner's child
run. The model ``runs:/<child>/model`` becomes a new version of registered model ``NAME``
(default: the experiment's name), the alias points at it (``models:/NAME@champion`` loads it
from then on), and the comparison's run gets tag :data:`TAG_PROMOTED` (JSON: name, version,
alias, model), which the report shows.
"""

from __future__ import annotations

import contextlib
import io
import json
from dataclasses import dataclass

from retaillab.errors import DataError

__all__ = ["ALIAS", "TAG_PROMOTED", "Promotion", "promote"]

ALIAS = "champion"
TAG_PROMOTED = "retaillab.promoted"


@dataclass(frozen=True)
class Promotion:
    """One registered model version and the alias now pointing at it."""

    name: str
    version: str
    alias: str
    model: str  # the compared model's name (``logistic``, ``ease``)
    run_id: str  # its child run
    source: str  # ``runs:/<run_id>/model``

    @property
    def uri(self) -> str:
        """``models:/NAME@ALIAS``."""
        return f"models:/{self.name}@{self.alias}"

    def describe(self) -> str:
        return (f"registered {self.model} (run {self.run_id}) as {self.name} version "
                f"{self.version}; alias {self.alias!r}: {self.uri}")


def _logged_child(mlflow_client, run_id: str):
    """The run holding the model: ``run_id`` itself, or a comparison's winner."""
    from mlflow.exceptions import MlflowException

    from retaillab import tracking
    from retaillab.models.compared import TAG_LOGGED, TAG_WINNER_RUN

    try:
        run = mlflow_client.get_run(run_id)
    except MlflowException:
        raise DataError(f"no run {run_id!r} in the store", source="promote",
                        fix="copy a run id from `retaillab runs EXPERIMENT` or the MLflow "
                            "UI") from None
    if tracking.is_parent(run):
        winner = run.data.tags.get(TAG_WINNER_RUN)
        if not winner:
            raise DataError(f"comparison run {run_id} names no winner (it ran before models "
                            "were logged, or with log_models: none)", source="promote",
                            fix="rerun it (retaillab rerun RUN_ID) with log_models: winner")
        run = mlflow_client.get_run(winner)
    if TAG_LOGGED not in run.data.tags:
        model = run.data.tags.get(tracking.TAG_MODEL, run.info.run_id)
        raise DataError(f"run {run.info.run_id} ({model}) logged no model", source="promote",
                        fix="promote the comparison's winner (its parent run id), or rerun "
                            "the comparison with log_models: all")
    return run


def promote(run_id: str, *, name: str | None = None, alias: str = ALIAS,
            uri: str | None = None) -> Promotion:
    """Register the model of run ``run_id`` (a child run, or a comparison's run for its
    winner) as a new version of ``name`` (default: the run's experiment name) and point
    ``alias`` at it; tag the comparison's run with the promotion.

    Raises
    ------
    DataError
        For an unknown run, a comparison without a winner, or a run that logged no model.
    """
    import mlflow

    from retaillab import tracking
    from retaillab.models import _common
    from retaillab.models.compared import TAG_LOGGED

    uri = uri or tracking.tracking_uri()
    mlflow_client = tracking.client(uri)
    run = _logged_child(mlflow_client, run_id)
    name = name or mlflow_client.get_experiment(run.info.experiment_id).name
    source = run.data.tags[TAG_LOGGED]
    model = run.data.tags.get(tracking.TAG_MODEL, run.info.run_id)
    parent = run.data.tags.get(tracking.PARENT_TAG, run.info.run_id)
    # register_model prints "Successfully registered ..." to stderr itself: describe() says it
    with _common.using_store(uri), _common.quiet(), contextlib.redirect_stderr(io.StringIO()):
        version = mlflow.register_model(source, name, tags={
            "retaillab.model": model, "retaillab.comparison_run": parent})
    mlflow_client.set_registered_model_alias(name, alias, version.version)
    found = Promotion(name, str(version.version), alias, model, run.info.run_id, source)
    mlflow_client.set_tag(parent, TAG_PROMOTED, json.dumps(
        {"name": name, "version": found.version, "alias": alias, "model": model,
         "run_id": found.run_id}, sort_keys=True))
    return found
