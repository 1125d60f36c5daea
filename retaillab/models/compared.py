"""Which compared models a comparison logs as MLflow models, and where it says so.

Every comparison (recommenders, churn, CLV) takes ``log_models``:

* ``"winner"`` (the default): the best model by the family's main metric (recommenders
  ``ndcg_at_<k>``, churn ``roc_auc``, CLV holdout ``rmse`` of the purchase models; ties go to
  the model listed first);
* ``"all"``: every compared model that can be logged;
* ``"none"``: nothing.

Each logged model is the artifact ``model`` of its model's child run (``runs:/<child>/model``,
what ``retaillab promote`` and ``retaillab score`` take). The child run gets tag
:data:`TAG_LOGGED` (the model URI); the comparison's run gets :data:`TAG_WINNER` (the
winner's name) and :data:`TAG_WINNER_RUN` (its child run), whether or not it was logged,
and :data:`TAG_WINNER_MODEL` (its model URI) when it was.
"""

from __future__ import annotations

from collections.abc import Sequence

from retaillab.errors import check_choice

__all__ = ["ARTIFACT", "LOG_MODELS", "TAG_LOGGED", "TAG_WINNER", "TAG_WINNER_MODEL",
           "TAG_WINNER_RUN",
           "check_log_models", "mark", "to_log"]

LOG_MODELS = ("winner", "all", "none")
#: the artifact name of a compared model in its child run
ARTIFACT = "model"
TAG_WINNER = "retaillab.winner"
TAG_WINNER_RUN = "retaillab.winner_run"
TAG_WINNER_MODEL = "retaillab.winner_model"  # the winner's model URI, when it was logged
TAG_LOGGED = "retaillab.logged_model"


def check_log_models(value: object) -> str:
    """``value`` if it is one of :data:`LOG_MODELS`, else a ParameterError."""
    check_choice("log_models", value, LOG_MODELS)
    return str(value)


def to_log(log_models: str, names: Sequence[str], winner: str | None) -> list[str]:
    """The models to log, in ``names``' order."""
    check_log_models(log_models)
    if log_models == "none":
        return []
    if log_models == "all":
        return list(names)
    return [winner] if winner is not None else []


def mark(run: object, winner: str, winner_run: str, logged: dict[str, str]) -> None:
    """Tag the comparison's ``run`` with its winner and each child run with its model URI
    (``logged``: child run id -> model URI)."""
    from retaillab import tracking

    tags = {TAG_WINNER: winner, TAG_WINNER_RUN: winner_run}
    if winner_run in logged:
        tags[TAG_WINNER_MODEL] = logged[winner_run]
    run.set_tags(tags)
    for child, uri in logged.items():
        tracking.client(run.uri).set_tag(child, TAG_LOGGED, uri)
