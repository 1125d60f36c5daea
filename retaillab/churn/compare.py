"""Compare churn models fairly: the same preprocessing, the same folds, the same metrics.

:func:`compare` is what the churn notebook calls. It fits every model on every fold of a
stratified repeated k-fold, scores the held-out customers, and returns a
:class:`ChurnComparison`: the model x metric table with 95% intervals over folds (corrected
resampled t, Nadeau-Bengio), the per-fold values, and the out-of-fold predictions for curves.
Given the notebook's run, each model is one MLflow child run.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from retaillab.churn._checks import check_folds, features_and_target
from retaillab.churn.metrics import METRICS, fold_metrics, reliability
from retaillab.churn.registry import create, hyperparameters
from retaillab.data.schema import COLUMNS as C
from retaillab.errors import ParameterError
from retaillab.models.compared import check_log_models

__all__ = ["ChurnComparison", "compare", "folds", "permutation_importance"]

TIMINGS = ("fit_seconds", "predict_seconds")
#: each model's reliability curve over its pooled out-of-fold predictions (a child artifact)
CALIBRATION_FILE = "calibration.csv"


@dataclass
class ChurnComparison:
    """What :func:`compare` found.

    Attributes
    ----------
    table
        Index ``(model, metric)``; columns ``mean``, ``ci_low``, ``ci_high``: the 95%
        corrected resampled t interval over the ``J = n_splits * n_repeats`` fold values
        (Nadeau & Bengio 2003; :func:`retaillab.metrics.corrected_interval`). Folds of
        repeated k-fold share training rows, so their values are correlated; the variance
        factor ``1/J + n_test/n_train`` (instead of ``1/J``) accounts for it, with ``J - 1``
        degrees of freedom.
    folds
        One row per model and fold: ``model``, ``repeat``, ``fold``, every metric, timings.
    predictions
        Out-of-fold churn probabilities: ``model``, ``repeat``, ``fold``, ``row`` (position in
        the customer table), ``churn`` (the truth) and ``probability``. Each repeat scores
        every customer once.
    importance
        Permutation importance (drop in ROC AUC) of :attr:`best`'s input columns on the first
        fold's held-out customers, or ``None``.
    best
        The model with the highest mean ROC AUC.
    splits
        The ``(train, test)`` row positions of every fold, in order.
    """

    table: pd.DataFrame
    folds: pd.DataFrame
    predictions: pd.DataFrame
    importance: pd.DataFrame | None
    best: str
    splits: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list, repr=False)
    #: model -> its child run's id (empty without a run)
    child_runs: dict[str, str] = field(default_factory=dict, repr=False)
    #: model -> the URI of its logged MLflow model (``log_models``)
    logged: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def models(self) -> list[str]:
        return list(dict.fromkeys(self.folds["model"]))

    @property
    def intervals(self) -> pd.DataFrame:
        """Long table ``model, metric, mean, low, high``, the shape :mod:`retaillab.visuals`
        draws."""
        return self.table.reset_index().rename(columns={"ci_low": "low", "ci_high": "high"})

    @property
    def summary(self) -> pd.DataFrame:
        """Model x metric means, plus mean seconds per fold to fit and to predict."""
        return self.folds.drop(columns=["repeat", "fold"]).groupby("model", sort=False).mean()

    def wide(self, metrics: Sequence[str] | None = None, digits: int = 3) -> pd.DataFrame:
        """Model x metric table of ``mean [ci_low, ci_high]`` strings, for display."""
        from retaillab.visuals import interval_table

        return interval_table(self.intervals, metrics or list(METRICS), digits=digits)

    def oof(self, model: str, repeat: int = 0) -> pd.DataFrame:
        """One model's out-of-fold predictions of one repeat, in customer-table order."""
        if model not in self.models:
            raise ParameterError("model", "one of " + ", ".join(self.models), model)
        chosen = self.predictions[(self.predictions["model"] == model)
                                  & (self.predictions["repeat"] == repeat)]
        return chosen.sort_values("row").reset_index(drop=True)

    def calibration(self, model: str, n_bins: int = 10) -> pd.DataFrame:
        """Calibration curve of one model (all repeats pooled), quantile bins.

        One row per bin: ``predicted`` (mean probability), ``observed`` (churn rate) and
        ``customers``. A calibrated model has ``observed == predicted``.
        """
        chosen = self.predictions[self.predictions["model"] == model]
        bins = pd.qcut(chosen["probability"].rank(method="first"), n_bins, labels=False)
        grouped = chosen.groupby(bins.to_numpy())
        return pd.DataFrame({"predicted": grouped["probability"].mean(),
                             "observed": grouped[C.churn].mean(),
                             "customers": grouped.size()}).reset_index(drop=True)

    def _repr_html_(self) -> str:
        return self.wide()._repr_html_()

    def __repr__(self) -> str:
        return f"ChurnComparison(best={self.best!r})\n{self.wide().to_string()}"


def folds(y: np.ndarray, *, n_splits: int = 5, n_repeats: int = 2,
          seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """The ``(train, test)`` positions of stratified ``n_splits``-fold CV repeated
    ``n_repeats`` times (scikit-learn's :class:`~sklearn.model_selection.RepeatedStratifiedKFold`
    with ``random_state=seed``)."""
    from sklearn.model_selection import RepeatedStratifiedKFold

    cv = RepeatedStratifiedKFold(n_splits=n_splits, n_repeats=n_repeats, random_state=seed)
    return list(cv.split(np.zeros((len(y), 1)), y))


def _specs(models: object, seed: int) -> dict[str, dict[str, Any]]:
    if isinstance(models, str) or not isinstance(models, (Sequence, Mapping)) or not models:
        raise ParameterError("models", "a non-empty list of model names or {name: params}",
                             models)
    specs = {m: {} for m in models} if not isinstance(models, Mapping) else {
        m: dict(p or {}) for m, p in models.items()}
    for name, params in specs.items():
        hyperparameters(name)  # unknown names fail before any fitting
        params.setdefault("seed", seed)
    return specs


def compare(customers: pd.DataFrame, target: str = C.churn,
            models: Sequence[str] | Mapping[str, Mapping[str, Any]] = ("logistic", "gbm"), *,
            n_splits: int = 5, n_repeats: int = 2, seed: int = 0, run: Any = None,
            importance: bool = True, importance_repeats: int = 5, n_threads: int | None = 1,
            progress: bool = True, log_models: str = "winner",
            model_input: Mapping[str, Any] | None = None) -> ChurnComparison:
    """Fit and score every model on the same stratified repeated k-fold.

    Parameters
    ----------
    customers
        One row per customer: features, the target, and optionally the ``customer`` id (never
        used as a feature). Numbers and booleans are scaled, categories and text one-hot
        encoded, missing values imputed, inside each fold.
    target
        The churn label column: booleans, or numbers that are all 0 or 1.
    models
        Registry names (see :func:`retaillab.churn.available`) or ``{name: hyperparameters}``.
        Each model gets ``seed`` unless its hyperparameters say otherwise.
    n_splits, n_repeats, seed
        Stratified ``n_splits``-fold CV repeated ``n_repeats`` times, shuffled with ``seed``.
    run
        A :class:`retaillab.tracking.NotebookRun`: each model becomes a child run with its
        hyperparameters, mean metrics, interval bounds (``roc_auc_ci_low`` ...), timings and
        its per-fold table (``folds.csv``, with each fold's ``n_train`` and ``n_test``); tags
        ``retaillab.interval`` (which interval the bounds are), ``retaillab.n_train`` and
        ``retaillab.n_test`` (mean rows per fold) let a report apply the same correction.
    importance
        Also compute the permutation importance of the best model (by ROC AUC), shuffling
        each column ``importance_repeats`` times.
    n_threads
        OpenMP threads for the models that use them (histogram gradient boosting); results do
        not depend on it. One by default: on tables of thousands of customers more threads
        gain little, and on a busy machine OpenMP's spin-waiting makes a fit several times
        slower. ``None`` uses every core.
    progress
        Show a bar that says which model runs and what it does ("churn: 2/5 models, forest
        fitting (fold 3/10)"); see :class:`retaillab.metrics.progress.ModelProgress`.
    log_models
        With ``run``: which models to log as MLflow models (:mod:`retaillab.models.compared`):
        ``"winner"`` (the best by ROC AUC), ``"all"`` or ``"none"``. A logged model is refitted
        on every customer of the table (cross-validation has no single fitted model; the fold
        metrics estimate the refitted one's accuracy), logged in the sklearn flavour as
        ``runs:/<child run>/model``, and its child run gets ``model.training_<metric>``: its
        scores on those same customers, in-sample (a check that a reloaded model reproduces
        them exactly, not an accuracy estimate).
    model_input
        How ``retaillab score`` builds the model's input from a data set, kept in the model's
        metadata (:func:`retaillab.churn.tables.scoring_input`); default: a customer table.

    Raises
    ------
    DataError
        On a missing or non-binary target, a single-class target, no usable features, or a
        class too rare for ``n_splits`` folds.
    ParameterError, UnknownNameError
        On bad settings or an unknown model.

    Example
    -------
    >>> telco = data.load("telco_churn")                               # doctest: +SKIP
    >>> result = churn.compare(telco.customers, models=["logistic", "gbm"])  # doctest: +SKIP
    >>> result.table.loc[("logistic", "roc_auc")]                      # doctest: +SKIP
    """
    from threadpoolctl import threadpool_limits

    features, y = features_and_target(customers, target)
    check_folds(y, n_splits, n_repeats, seed)
    if n_threads is not None and (not isinstance(n_threads, int) or isinstance(
            n_threads, bool) or n_threads < 1):
        raise ParameterError("n_threads", "a positive integer or None", n_threads)
    if not isinstance(importance_repeats, int) or isinstance(importance_repeats, bool) \
            or importance_repeats < 1:
        raise ParameterError("importance_repeats", "a positive integer", importance_repeats)
    specs = _specs(models, seed)
    check_log_models(log_models)
    with threadpool_limits(limits=n_threads, user_api="openmp"):
        result = _compare(features, y, specs, n_splits=n_splits, n_repeats=n_repeats,
                          seed=seed, run=run, importance=importance_repeats if importance else 0,
                          progress=progress)
        if run is not None:
            _log_models(result, features, y, specs, run, log_models,
                        dict(model_input or {"input": "customers", "target": target}))
    return result


def _compare(features: pd.DataFrame, y: np.ndarray, specs: dict[str, dict[str, Any]], *,
             n_splits: int, n_repeats: int, seed: int, run: Any, importance: int,
             progress: bool) -> ChurnComparison:
    from retaillab.metrics.progress import ModelProgress

    splits = folds(y, n_splits=n_splits, n_repeats=n_repeats, seed=seed)
    fold_rows, predictions, table, child_runs = [], [], [], {}
    with ModelProgress("churn", list(specs), enabled=progress) as bar:
        for name, params in specs.items():
            per_fold, predicted, intervals, child_runs[name] = _one_model(
                name, params, features, y, splits, n_splits=n_splits, n_repeats=n_repeats,
                run=run, bar=bar)
            fold_rows.append(per_fold)
            predictions.extend(predicted)
            table.extend(intervals)
            bar.finished()
        long = pd.DataFrame(table)
        auc = long[long["metric"] == "roc_auc"].set_index("model")["mean"]
        best = str(auc.idxmax())
        ranked = None
        if importance:
            bar.stage(best, "permutation importance")
            ranked = permutation_importance(create(best, **specs[best]), features, y, splits[0],
                                            n_repeats=importance, seed=seed)
            if run is not None:
                run.log_table(ranked, "permutation_importance.csv")
    return ChurnComparison(
        table=long.set_index(["model", "metric"]),
        folds=pd.concat(fold_rows, ignore_index=True),
        predictions=pd.concat(predictions, ignore_index=True),
        importance=ranked, best=best, splits=splits, child_runs=child_runs)


def _one_model(name: str, params: dict[str, Any], features: pd.DataFrame, y: np.ndarray,
               splits: list[tuple[np.ndarray, np.ndarray]], *, n_splits: int, n_repeats: int,
               run: Any, bar: Any
               ) -> tuple[pd.DataFrame, list[pd.DataFrame], list[dict], str | None]:
    """Every fold of one model, logged as its child run: its per-fold table, its out-of-fold
    predictions, its interval rows and its child run's id."""
    from retaillab.metrics.compare import (
        TAG_INTERVAL,
        TAG_N_TEST,
        TAG_N_TRAIN,
        corrected_interval,
    )

    shown = {**hyperparameters(name), **params, "n_splits": n_splits, "n_repeats": n_repeats}
    context = run.model(name, shown) if run is not None else nullcontext()
    rows, predictions, intervals, logged = [], [], [], {}
    with context as child:
        for i, (train, test) in enumerate(splits):
            fold = f" (fold {i + 1}/{len(splits)})"
            row, probability = _fit_and_score(
                create(name, **params), features, y, train, test,
                stage=lambda what, fold=fold: bar.stage(name, what + fold))
            rows.append({"model": name, "repeat": i // n_splits, "fold": i % n_splits, **row})
            predictions.append(pd.DataFrame({
                "model": name, "repeat": i // n_splits, "fold": i % n_splits, "row": test,
                C.churn: y[test], "probability": probability}))
        per_fold = pd.DataFrame(rows)
        n_train = float(np.mean([len(train) for train, _ in splits]))
        n_test = float(np.mean([len(test) for _, test in splits]))
        for metric in [*METRICS, *TIMINGS]:
            mean, low, high = corrected_interval(per_fold[metric].to_numpy(), n_train, n_test)
            intervals.append({"model": name, "metric": metric, "mean": mean, "ci_low": low,
                              "ci_high": high})
            logged.update({metric: mean, f"{metric}_ci_low": low, f"{metric}_ci_high": high})
        if child is not None:
            bar.stage(name, "logging")
            child.log_metrics(logged)
            child.set_tags({TAG_INTERVAL: "corrected resampled t over "
                            f"{len(splits)} folds (Nadeau-Bengio)",
                            TAG_N_TRAIN: f"{n_train:g}", TAG_N_TEST: f"{n_test:g}"})
            child.log_table(per_fold.drop(columns="model").assign(
                n_train=[len(train) for train, _ in splits],
                n_test=[len(test) for _, test in splits]), "folds.csv")
            pooled = pd.concat(predictions)  # every repeat's out-of-fold predictions
            child.log_table(reliability(pooled[C.churn].to_numpy(), pooled["probability"]
                                        .to_numpy()).set_index("bin"), CALIBRATION_FILE)
    return per_fold, predictions, intervals, getattr(child, "run_id", None)


def _log_models(result: ChurnComparison, features: pd.DataFrame, y: np.ndarray,
                specs: dict[str, dict[str, Any]], run: Any, log_models: str,
                model_input: dict[str, Any]) -> None:
    """Refit the models ``log_models`` names on every customer and log each into its child
    run (see :func:`compare`); tag the comparison's run with its winner."""
    from retaillab import models, tracking
    from retaillab.models.compared import ARTIFACT, mark, to_log

    for name in to_log(log_models, result.models, result.best):
        child = result.child_runs[name]
        fitted = create(name, **specs[name]).fit(features, y)
        training = fold_metrics(y, fitted.predict_proba(features)[:, 1])
        tracking.Run(child, run.experiment_id, uri=run.uri).log_metrics(
            {f"model.training_{k}": v for k, v in training.items()})
        result.logged[name] = models.log_model(
            fitted, family="churn", name=ARTIFACT, run_id=child, uri=run.uri,
            input_example=features.head(5), extra={"input": model_input})
    mark(run, result.best, result.child_runs[result.best],
         {result.child_runs[n]: uri for n, uri in result.logged.items()})


def _fit_and_score(model: Any, features: pd.DataFrame, y: np.ndarray, train: np.ndarray,
                   test: np.ndarray, stage: Any = None) -> tuple[dict[str, float], np.ndarray]:
    """Fit on one fold's training rows, score its test rows; ``stage(what)`` hears each step."""
    stage = stage or (lambda what: None)
    stage("fitting")
    start = time.perf_counter()
    model.fit(features.iloc[train], y[train])
    fit_seconds = time.perf_counter() - start
    stage("scoring")
    start = time.perf_counter()
    probability = model.predict_proba(features.iloc[test])[:, 1]
    predict_seconds = time.perf_counter() - start
    row = fold_metrics(y[test], probability)
    return {**row, "fit_seconds": fit_seconds, "predict_seconds": predict_seconds}, probability


def permutation_importance(model: Any, features: pd.DataFrame, y: np.ndarray,
                           split: tuple[np.ndarray, np.ndarray], *, n_repeats: int = 5,
                           seed: int = 0) -> pd.DataFrame:
    """Drop in held-out ROC AUC when one input column is shuffled (scikit-learn's
    :func:`~sklearn.inspection.permutation_importance`), for an unfitted pipeline ``model``
    fitted on ``split``'s training rows. One row per input column, most important first:
    ``feature``, ``importance`` (mean drop), ``std``.
    """
    from sklearn.inspection import permutation_importance as permute

    train, test = split
    model.fit(features.iloc[train], y[train])
    found = permute(model, features.iloc[test], y[test], scoring="roc_auc",
                    n_repeats=n_repeats, random_state=seed)
    return pd.DataFrame({"feature": list(features.columns), "importance": found.importances_mean,
                         "std": found.importances_std}).sort_values(
        "importance", ascending=False, kind="stable").reset_index(drop=True)
