"""What a trial scores, per task: the data, the splits and the metric.

A :class:`Problem` holds three disjoint parts of the data. ``folds`` are the validation folds,
carved from the training part only; trials fit and score on them and nothing else. ``test`` is
kept apart and used once, by :meth:`Problem.test_score`, to score the best configuration (and
the default one, for comparison) refitted on the whole training part.

- ``recsys``: an outer split of the interactions (``split``, ``ratio``), then a validation
  split of the training part (``validation_ratio``; ``folds > 1``: k-fold of the training part).
- ``churn``: a stratified outer split of the customers, then stratified k-fold (``folds``).
- ``clv``: time splits. Test: fit on the calibration period, score purchases in
  ``(calibration_end, holdout_end]``. Validation: inside the calibration period only, fit up to
  ``validation_end`` (default: half-way through calibration), score up to ``calibration_end``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from retaillab.errors import ParameterError, UnknownIdsWarning, UnknownNameError

__all__ = ["DATA_OPTIONS", "Problem", "default_direction", "make_problem"]

#: task -> data options a spec's ``data`` may set, with their defaults
DATA_OPTIONS: dict[str, dict[str, Any]] = {
    "recsys": {"dataset": "movielens", "feedback": "ratings", "split": "stratified",
               "ratio": 0.75, "validation_ratio": 0.8, "folds": 1, "sample": 0, "k": 10,
               "synthetic_customers": 3000},
    "churn": {"dataset": "telco_churn", "target": "churn", "ratio": 0.75, "folds": 3,
              "sample": 0, "cutoff": None, "horizon_days": 180},
    "clv": {"dataset": "cdnow_sample", "calibration_end": "1997-09-30",
            "holdout_end": "1998-06-30", "validation_end": None, "unit": "W", "sample": 0},
}
LOWER_IS_BETTER = ("rmse", "mae", "brier", "log_loss", "ece")

Report = Callable[[int, float], None]


def default_direction(metric: str) -> str:
    """``minimize`` for errors and losses, ``maximize`` for everything else."""
    return "minimize" if metric in LOWER_IS_BETTER else "maximize"


@dataclass
class Problem:
    """Data split three ways and how to score one configuration on a pair of parts.

    ``fit_score(params, train, valid)`` fits a fresh model with ``params`` (the fixed
    hyperparameters already merged) on ``train`` and returns the metric on ``valid``.
    """

    task: str
    model: str
    metric: str
    train: Any
    test: Any
    folds: list[tuple[Any, Any]]
    fit_score: Callable[[Mapping[str, Any], Any, Any], float]
    fixed: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, Any] = field(default_factory=dict)  # name -> table, for fingerprints
    catch: tuple[type[BaseException], ...] = ()

    def validate(self, params: Mapping[str, Any], report: Report | None = None) -> float:
        """Mean validation score over the folds; ``report(step, running_mean)`` after each."""
        scores = []
        for step, (train, valid) in enumerate(self.folds):
            scores.append(self.fit_score({**self.fixed, **params}, train, valid))
            if report is not None:
                report(step, float(np.mean(scores)))
        return float(np.mean(scores))

    def test_score(self, params: Mapping[str, Any]) -> float:
        """Fit on the whole training part and score the test part (once per configuration)."""
        return self.fit_score({**self.fixed, **params}, self.train, self.test)


def make_problem(task: str, model: str, metric: str, data: Mapping[str, Any],
                 fixed: Mapping[str, Any], seed: int) -> Problem:
    """The problem of ``task`` with the spec's data options (defaults: :data:`DATA_OPTIONS`)."""
    if task not in DATA_OPTIONS:
        raise UnknownNameError("tuning task", task, list(DATA_OPTIONS))
    options = {**DATA_OPTIONS[task], **data}
    build = {"recsys": _recsys, "churn": _churn, "clv": _clv}[task]
    return build(model, metric, options, dict(fixed), seed)


def _check_folds(folds: object) -> int:
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 1:
        raise ParameterError("data.folds", "an integer >= 1", folds)
    return folds


def _recsys(model: str, metric: str, o: dict, fixed: dict, seed: int) -> Problem:
    from retaillab import data, metrics
    from retaillab.recsys.compare import build, check_overlap, sample_users

    world = (data.load("synthetic", n_customers=o["synthetic_customers"], seed=seed)
             if o["dataset"] == "synthetic" else data.load(o["dataset"]))
    frame = sample_users(world.feedback(o["feedback"]), int(o["sample"]), seed)
    train, test = data.split(frame, o["split"], ratio=o["ratio"], seed=seed)
    n_folds = _check_folds(o["folds"])
    if n_folds == 1:
        folds = [data.split(train, o["split"], ratio=o["validation_ratio"], seed=seed + 1)]
    else:
        folds = list(data.kfold(train, o["split"], n_splits=n_folds, seed=seed + 1))
    for i, (inner, valid) in enumerate(folds):
        check_overlap(inner, valid, source=f"validation fold {i}")
    check_overlap(train, test, source="test")
    items, k = getattr(world, "items", None), int(o["k"])
    rating = metric in ("rmse", "mae", "r2", "explained_variance")
    if metric.endswith(f"_at_{k}") is False and not rating:
        raise ParameterError("metric", f"rmse, mae, r2 or a ranking metric at k={k} "
                             f"(e.g. ndcg_at_{k})", metric)

    def fit_score(params: Mapping[str, Any], fit_on: pd.DataFrame, score_on: pd.DataFrame
                  ) -> float:
        fitted = build(model, params, items).fit(fit_on)
        with warnings.catch_warnings():  # held-out ids unseen in a fold are cold starts,
            warnings.simplefilter("ignore", UnknownIdsWarning)  # scored by the fallback
            if rating:
                if not fitted.predicts_ratings:
                    raise ParameterError("metric", f"a ranking metric: {model} predicts no "
                                         "ratings", metric)
                return metrics.rating(fitted.predict(score_on), score_on)[metric]
            recs = fitted.recommend(score_on["user"].unique(), k=k)
        found = metrics.ranking(recs, score_on, k)
        if metric not in found:
            raise ParameterError("metric", "one of " + ", ".join(found), metric)
        return found[metric]

    return Problem("recsys", model, metric, train, test, folds, fit_score, fixed,
                   {"train": train, "test": test})


def _churn(model: str, metric: str, o: dict, fixed: dict, seed: int) -> Problem:
    from sklearn.model_selection import StratifiedKFold, train_test_split

    from retaillab import data
    from retaillab.churn import create
    from retaillab.churn._checks import features_and_target
    from retaillab.churn.metrics import fold_metrics
    from retaillab.churn.tables import customer_table

    customers, _ = customer_table(data.load(o["dataset"]), o["target"], o["cutoff"],
                                  int(o["horizon_days"]))
    if o["sample"]:
        customers = customers.sample(n=min(int(o["sample"]), len(customers)), random_state=seed)
    x, y = features_and_target(customers, o["target"])
    rows = np.arange(len(y))
    train, test = train_test_split(rows, train_size=o["ratio"], stratify=y, random_state=seed)
    splitter = StratifiedKFold(_check_folds(o["folds"]), shuffle=True, random_state=seed + 1)
    folds = [(train[a], train[b]) for a, b in splitter.split(train, y[train])]
    fixed = {"seed": seed, **fixed}

    def fit_score(params: Mapping[str, Any], fit_on: np.ndarray, score_on: np.ndarray) -> float:
        pipeline = create(model, **params).fit(x.iloc[fit_on], y[fit_on])
        found = fold_metrics(y[score_on], pipeline.predict_proba(x.iloc[score_on])[:, 1])
        if metric not in found:
            raise ParameterError("metric", "one of " + ", ".join(found), metric)
        return found[metric]

    return Problem("churn", model, metric, train, test, folds, fit_score, fixed,
                   {"customers": customers})


def _clv(model: str, metric: str, o: dict, fixed: dict, seed: int) -> Problem:
    from retaillab import data
    from retaillab.clv import create, holdout_metrics, holdout_table, rfm_summary
    from retaillab.clv._engine import FitError

    tx = data.load(o["dataset"]).transactions
    cal_end, hold_end = pd.Timestamp(o["calibration_end"]), pd.Timestamp(o["holdout_end"])
    valid_end = (pd.Timestamp(o["validation_end"]) if o["validation_end"] is not None else
                 tx["date"].min() + (cal_end - tx["date"].min()) / 2).normalize()
    if not valid_end < cal_end:
        raise ParameterError("data.validation_end", f"a date before calibration_end "
                             f"{cal_end.date()}", str(valid_end.date()))
    summaries = {  # validation sees nothing after calibration_end: its holdout ends there
        "validation": rfm_summary(tx, calibration_end=valid_end, unit=o["unit"],
                                  holdout_end=cal_end),
        "test": rfm_summary(tx, calibration_end=cal_end, unit=o["unit"], holdout_end=hold_end)}
    if o["sample"]:  # customers are sampled from the summaries: the data still end where they do
        chosen = tx["customer"].drop_duplicates().sample(n=int(o["sample"]), random_state=seed)
        summaries = {part: table[table.index.isin(chosen)] for part, table in summaries.items()}

    def fit_score(params: Mapping[str, Any], part: str, _same: str) -> float:
        summary = summaries[part]
        fitted = create(model, **params).fit(summary)
        found = holdout_metrics(holdout_table(summary, {model: fitted})).loc[model]
        if metric not in found.index:
            raise ParameterError("metric", "one of " + ", ".join(found.index), metric)
        return float(found[metric])

    return Problem("clv", model, metric, "test", "test", [("validation", "validation")],
                   fit_score, fixed, {"transactions": tx}, catch=(FitError,))
