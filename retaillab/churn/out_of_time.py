"""Out-of-time churn: fit at one cut-off, evaluate at a later one.

Cross-validation over customers at one cut-off (:func:`retaillab.churn.compare`) asks "how
well does the model rank these customers?". Deployed, a model is fitted on the past and
scores customers months later. :func:`out_of_time` measures that: every model is fitted on
the customer table at ``fit_cutoff`` (features up to it, labels in the ``horizon_days``
after it) and evaluated on the table at ``eval_cutoff``, whose labels lie strictly after the
training window (``eval_cutoff >= fit_cutoff + horizon_days``, checked).

Both tables can be restricted to customers **active within** ``active_days`` of their
cut-off (a purchase in the ``active_days`` days up to it): long-lapsed customers are churners
anyone can spot, and leaving them in makes ROC AUC easy. :func:`active_only` is the same rule
for one table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from retaillab.data.schema import COLUMNS as C
from retaillab.errors import DataError, ParameterError

__all__ = ["OutOfTime", "active_only", "out_of_time"]


def active_only(table: pd.DataFrame, active_days: int | None) -> pd.DataFrame:
    """The customers of a churn table who bought within ``active_days`` days up to its
    cut-off (``recency_days < active_days``: a purchase on the cut-off day is 0 days old);
    all of them when ``active_days`` is None."""
    if active_days is None:
        return table
    if isinstance(active_days, bool) or not isinstance(active_days, (int, np.integer)) \
            or active_days < 1:
        raise ParameterError("active_days", "a whole number of days >= 1, or None", active_days)
    kept = table[table["recency_days"] < active_days]
    if kept.empty:
        raise DataError(f"no customer bought within {active_days} days of the cut-off",
                        source="churn table", fix="widen active_days")
    return kept.reset_index(drop=True)


@dataclass
class OutOfTime:
    """What :func:`out_of_time` found: ``metrics`` (model x metric, one value each, measured
    on the later table), the two cut-offs, and the customers and churn rate of each table."""

    metrics: pd.DataFrame
    fit_cutoff: str
    eval_cutoff: str
    horizon_days: int
    active_days: int | None
    sizes: pd.DataFrame  # index train/evaluate: customers, churn_rate

    def summary(self) -> str:
        train, test = self.sizes.loc["train"], self.sizes.loc["evaluate"]
        window = f", active within {self.active_days} days" if self.active_days else ""
        return (f"fitted at {self.fit_cutoff} ({int(train['customers']):,} customers, "
                f"{train['churn_rate']:.1%} churned{window}), evaluated at "
                f"{self.eval_cutoff} ({int(test['customers']):,} customers, "
                f"{test['churn_rate']:.1%} churned), {self.horizon_days}-day horizon")


def _table(transactions, cutoff, horizon_days, events, items, active_days) -> pd.DataFrame:
    from retaillab.churn.features import churn_table

    return active_only(churn_table(transactions, cutoff, horizon_days, events=events,
                                   items=items), active_days)


def out_of_time(transactions: pd.DataFrame, *, fit_cutoff: object, eval_cutoff: object = None,
                horizon_days: int = 180, active_days: int | None = None,
                models: Sequence[str] | Mapping[str, Mapping[str, Any]] = ("logistic", "gbm"),
                events: pd.DataFrame | None = None, items: pd.DataFrame | None = None,
                seed: int = 0) -> OutOfTime:
    """Fit every model at ``fit_cutoff``, evaluate it at ``eval_cutoff`` (default:
    ``fit_cutoff + horizon_days``, the first cut-off whose labels lie wholly after the
    training labels); see the module docstring.

    Raises
    ------
    ParameterError
        When ``eval_cutoff`` is before ``fit_cutoff + horizon_days`` (its labels would
        overlap the training labels' window).
    DataError
        When the data end before the later horizon does, or a table has one class only.
    """
    from retaillab.churn._checks import features_and_target
    from retaillab.churn.compare import _specs
    from retaillab.churn.metrics import fold_metrics
    from retaillab.churn.registry import create

    fit_at = pd.Timestamp(str(fit_cutoff)).normalize()
    earliest = fit_at + pd.Timedelta(days=int(horizon_days))
    eval_at = earliest if eval_cutoff is None else pd.Timestamp(str(eval_cutoff)).normalize()
    if eval_at < earliest:
        raise ParameterError("eval_cutoff", f"a day on or after {earliest:%Y-%m-%d} (the fit "
                             f"cut-off + {horizon_days} days: the labels of an earlier one "
                             "overlap the training labels)", f"{eval_at:%Y-%m-%d}")
    specs = _specs(models, seed)
    train = _table(transactions, f"{fit_at:%Y-%m-%d}", horizon_days, events, items, active_days)
    test = _table(transactions, f"{eval_at:%Y-%m-%d}", horizon_days, events, items, active_days)
    x_train, y_train = features_and_target(train, C.churn)
    x_test, y_test = features_and_target(test, C.churn)
    missing = [c for c in x_train.columns if c not in x_test.columns]
    if missing:
        raise DataError(f"the later table lacks feature(s) {', '.join(missing)}",
                        source="out_of_time")
    x_test = x_test[list(x_train.columns)]
    rows = {}
    for name, params in specs.items():
        model = create(name, **params).fit(x_train, y_train)
        rows[name] = fold_metrics(y_test, model.predict_proba(x_test)[:, 1])
    sizes = pd.DataFrame({"customers": [len(y_train), len(y_test)],
                          "churn_rate": [y_train.mean(), y_test.mean()]},
                         index=["train", "evaluate"])
    return OutOfTime(pd.DataFrame(rows).T.rename_axis("model"), f"{fit_at:%Y-%m-%d}",
                     f"{eval_at:%Y-%m-%d}", int(horizon_days), active_days, sizes)
