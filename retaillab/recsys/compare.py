"""Compare recommenders fairly: the same users, splits, metrics and timings for every model.

:func:`compare` is what the recommender notebook calls; it logs each model as one MLflow child
run when given the notebook's run, and returns a :class:`Comparison` of tables for display.
"""

from __future__ import annotations

import inspect
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from retaillab.data.ids import check_same_type
from retaillab.data.schema import COLUMNS as C
from retaillab.errors import DataError, ParameterError, UnknownIdsWarning
from retaillab.models.compared import check_log_models
from retaillab.recsys.features import has_features, item_features

TIMINGS = ("fit_seconds", "recommend_seconds", "predict_seconds")


@dataclass
class Comparison:
    """What :func:`compare` found.

    ``summary``: one row per model, mean metrics and timings. ``intervals``: long table
    (model, metric, mean, low, high) with 95% intervals: a BCa bootstrap over users (one
    split) or the corrected resampled t over folds (``n_folds > 1``, Nadeau-Bengio).
    ``per_user``: per model, the per-user ranking metrics of every fold, for paired tests.
    ``recommendations``: per model, the last fold's top-k lists. ``folds``: the splits used.
    ``skipped``: the models that could not run on this data, name -> why (e.g. content-based
    without item attributes, rating models without ratings), also told in one warning.
    """

    summary: pd.DataFrame
    intervals: pd.DataFrame
    per_user: dict[str, pd.DataFrame] = field(default_factory=dict)
    recommendations: dict[str, pd.DataFrame] = field(default_factory=dict)
    folds: list[tuple[pd.DataFrame, pd.DataFrame]] = field(default_factory=list, repr=False)
    skipped: dict[str, str] = field(default_factory=dict)
    #: model -> the URI of its logged MLflow model (``log_models``)
    logged: dict[str, str] = field(default_factory=dict)

    def most_recommended(self, top: int = 5, names: pd.Series | None = None) -> pd.DataFrame:
        """Per model, the ``top`` items in the most users' lists (last fold): what a model
        pushes, shown without showing anyone's list.

        Columns ``model``, ``rank``, ``item``, [``name``: ``names[item]``], ``users`` (lists
        holding it) and ``share`` (of the model's users). Equal counts are ordered by the
        tie-break rule (:mod:`retaillab.recsys.ranking`), training popularity then item id.
        """
        from retaillab.recsys.ranking import ranked

        if not isinstance(top, (int, np.integer)) or isinstance(top, bool) or top < 1:
            raise ParameterError("top", "a positive integer", top)
        train = self.folds[-1][0] if self.folds else pd.DataFrame(columns=[C.user, C.item])
        popularity = train.drop_duplicates([C.user, C.item])[C.item].value_counts()
        parts = []
        for model, recs in self.recommendations.items():
            counts = recs.groupby(C.item, sort=False)[C.user].nunique()
            pop = popularity.reindex(counts.index, fill_value=0).to_numpy()
            best = ranked(counts.to_numpy(), pop, counts.index)[:top]
            part = pd.DataFrame({"model": model, "rank": np.arange(1, len(best) + 1),
                                 C.item: counts.index[best], "users": counts.to_numpy()[best]})
            part["share"] = part["users"] / max(recs[C.user].nunique(), 1)
            parts.append(part)
        columns = ["model", "rank", C.item, "users", "share"]
        table = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)
        if names is not None:
            check_same_type(table[C.item], names.index, key=C.item,
                            left_name="the recommendations", right_name="names")
            table.insert(3, "name", names.reindex(table[C.item]).to_numpy())
        return table

    def overlap(self) -> pd.DataFrame:
        """Model x model mean Jaccard overlap of each user's lists (last fold): 1 when two
        models give every user the same items, 0 when they never share one. Over the users
        both models recommended to."""
        models = list(self.recommendations)
        pairs = {m: r[[C.user, C.item]].drop_duplicates() for m, r in
                 self.recommendations.items()}
        sizes = {m: p.groupby(C.user).size() for m, p in pairs.items()}
        out = pd.DataFrame(np.nan, index=pd.Index(models, name="model"), columns=models)
        for i, a in enumerate(models):
            for b in models[i:]:
                users = sizes[a].index.intersection(sizes[b].index)
                shared = pairs[a].merge(pairs[b], on=[C.user, C.item]).groupby(C.user).size()
                shared = shared.reindex(users, fill_value=0)
                union = sizes[a].reindex(users) + sizes[b].reindex(users) - shared
                value = float((shared / union).mean()) if len(users) else np.nan
                out.loc[a, b] = out.loc[b, a] = value
        return out


def sample_users(interactions: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """The rows of ``n`` users drawn with ``seed`` (all rows when ``n`` is 0)."""
    if not n:
        return interactions
    users = interactions[C.user].drop_duplicates()
    if n >= len(users):
        return interactions
    chosen = users.sample(n, random_state=np.random.default_rng(seed).integers(2**31))
    return interactions[interactions[C.user].isin(chosen)]


def folds(interactions: pd.DataFrame, *, split: str, ratio: float, seed: int,
          n_folds: int) -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
    """One split (``n_folds=1``) or the k-fold variant of the same method."""
    from retaillab import data

    if n_folds == 1:
        yield data.split(interactions, split, ratio=ratio, seed=seed)
        return
    from retaillab.data.splits import KFOLD_METHODS

    if split not in KFOLD_METHODS:
        raise ParameterError("split", f"one of {', '.join(KFOLD_METHODS)} with n_folds > 1",
                             split)
    yield from data.kfold(interactions, split, n_splits=n_folds, seed=seed)


def build(name: str, params: Mapping[str, Any], items: pd.DataFrame | None):
    """A fresh model; ``items`` is handed to models that take an item table."""
    from retaillab.recsys.registry import create, model_class

    params = dict(params)
    if items is not None and "items" in inspect.signature(model_class(name)).parameters:
        params.setdefault("items", items)
    return create(name, **params)


def compare(interactions: pd.DataFrame, algorithms: Sequence[str] | Mapping[str, Mapping], *,
            split: str = "stratified", ratio: float = 0.75, k: int = 10, seed: int = 42,
            n_folds: int = 1, n_users: int = 0, items: pd.DataFrame | None = None,
            threshold: float | None = None, run: Any = None,
            progress: bool = True, log_models: str = "winner") -> Comparison:
    """Fit, rank and score every algorithm on the same folds.

    Parameters
    ----------
    algorithms
        Registry names, or ``{name: hyperparameters}``.
    split, ratio, n_folds
        How to split (see :func:`retaillab.data.split`); ``n_folds > 1`` uses
        :func:`retaillab.data.kfold` with the same method.
    n_users
        Evaluate on a seeded sample of this many users (0: all).
    items
        The item table, optional (an order log has none): given to content-based and
        bought-together models; its attributes, encoded by
        :func:`retaillab.recsys.features.item_features` (the encoding the content-based model
        uses), feed intra-list diversity. Models that cannot run on the data (content-based
        without item attributes, rating models without a ``rating`` column) are skipped with
        one warning and listed in :attr:`Comparison.skipped`; that every model is skipped is
        a :class:`DataError`. Its item ids must be of the interactions' type.
    threshold
        Only test ratings at or above it count as relevant (None: every test row does).
    run
        A :class:`retaillab.tracking.NotebookRun`; each algorithm becomes a child run.
    progress
        Show a bar that says which model runs and what it does ("recsys: 5/17 models, svdpp
        fitting"); see :class:`retaillab.metrics.progress.ModelProgress`.
    log_models
        With ``run``: which models to log as MLflow models (:mod:`retaillab.models.compared`):
        ``"winner"`` (the highest mean ``ndcg_at_<k>``), ``"all"`` or ``"none"``. A logged
        model is the one fitted on the last fold's training set, the one its metrics were
        measured on, as ``runs:/<its child run>/model`` (:mod:`retaillab.models.recsys`).
        Only the best model so far is kept in memory while the others run.
    """
    from retaillab.metrics.progress import ModelProgress

    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
        raise ParameterError("k", "a positive integer", k)
    check_log_models(log_models)
    specs = {a: {} for a in algorithms} if not isinstance(algorithms, Mapping) else {
        a: dict(p or {}) for a, p in algorithms.items()}
    if not specs:
        raise ParameterError("algorithms", "at least one name from recsys.available()", "none")
    if items is not None:
        if not isinstance(items, pd.DataFrame) or C.item not in items.columns:
            raise ParameterError("items", "a DataFrame with an 'item' column, or None",
                                 type(items).__name__)
        if C.item in interactions.columns:
            check_same_type(interactions[C.item], items[C.item], key=C.item,
                            left_name="interactions", right_name="items")
    skipped = {name: why for name in specs if (why := _cannot_run(
        name, specs[name], interactions, items)) is not None}
    if skipped:
        warnings.warn("recsys.compare skips " + "; ".join(
            f"{name}: {why}" for name, why in skipped.items()), UserWarning, stacklevel=2)
        specs = {name: params for name, params in specs.items() if name not in skipped}
        if not specs:
            raise DataError("no model can run on this data: " + "; ".join(
                f"{name} {why}" for name, why in skipped.items()), source="recsys.compare",
                fix="add models that need neither, e.g. most_popular, item_knn, ease, als")
    frame = sample_users(interactions, n_users, seed)
    splits = list(folds(frame, split=split, ratio=ratio, seed=seed, n_folds=n_folds))
    for fold, (train, test) in enumerate(splits):
        check_overlap(train, test, source=f"fold {fold}")
    _warn_cold_users(splits)
    # one encoding of the items for the content model (built from ``items`` in fit) and for
    # intra-list diversity: recsys.features.item_features at its defaults
    features = item_features(items) if items is not None and has_features(items) else None
    rows, intervals, per_user, recs_by_model = [], [], {}, {}
    keeper = _Keeper(run, log_models, f"ndcg_at_{k}", splits[-1][1])
    with ModelProgress("recsys", list(specs), enabled=progress) as bar:
        for name, params in specs.items():
            row, spread, per_user[name], recs_by_model[name], fitted, child = _one_model(
                name, params, splits, k=k, items=items, features=features,
                threshold=threshold, run=run, bar=bar, seed=seed)
            rows.append(row)
            intervals.extend(spread)
            keeper.offer(name, row, fitted, child, bar)
            bar.finished()
        keeper.finish(bar)
    summary = pd.DataFrame(rows).set_index("model")
    return Comparison(summary, pd.DataFrame(intervals), per_user, recs_by_model, splits,
                      skipped, keeper.logged)


class _Keeper:
    """Logs the models ``log_models`` asks for: each at once for ``"all"``; for
    ``"winner"`` only the best so far is kept (by ``metric``, the first among ties), and
    logged at the end."""

    def __init__(self, run: Any, log_models: str, metric: str, test: pd.DataFrame) -> None:
        self.run, self.how, self.metric = run, log_models, metric
        self.example = pd.DataFrame({C.user: test[C.user].drop_duplicates().head(5)})
        self.best: tuple[float, str, Any, str | None] | None = None
        self.logged: dict[str, str] = {}
        self.children: dict[str, str] = {}

    def offer(self, name: str, row: dict, fitted: Any, child: str | None, bar: Any) -> None:
        if self.run is None or child is None:
            return
        self.children[name] = child
        score = float(row.get(self.metric, np.nan))
        if self.how == "all":
            self._log(name, fitted, child, bar)
        if np.isfinite(score) and (self.best is None or score > self.best[0]):
            self.best = (score, name, fitted if self.how == "winner" else None, child)

    def _log(self, name: str, fitted: Any, child: str, bar: Any) -> None:
        from retaillab import models
        from retaillab.models.compared import ARTIFACT

        bar.stage(name, "logging the model")
        self.logged[name] = models.log_model(
            fitted, family="recsys", name=ARTIFACT, run_id=child, uri=self.run.uri,
            input_example=self.example, extra={"input": {"input": "users"}})

    def finish(self, bar: Any) -> None:
        from retaillab.models.compared import mark

        if self.run is None or self.best is None:
            return
        _, name, fitted, child = self.best
        if self.how == "winner":
            self._log(name, fitted, child, bar)
        mark(self.run, name, child, {self.children[n]: u for n, u in self.logged.items()})


def _cannot_run(name: str, params: Mapping[str, Any], interactions: pd.DataFrame,
                items: pd.DataFrame | None) -> str | None:
    """Why model ``name`` cannot be fitted on ``interactions`` (and ``items``), or None."""
    from retaillab.recsys.registry import model_class

    return model_class(name).cannot_fit(params, list(interactions.columns), items)


def _warn_cold_users(splits: list) -> None:
    """One warning for the test users absent from their fold's training set: every model
    serves them its most-popular fallback (the models' own per-call warnings are muted)."""
    cold = [(int((~pd.Index(test[C.user].unique()).isin(train[C.user].unique())).sum()),
             test[C.user].nunique()) for train, test in splits]
    if any(n for n, _ in cold):
        counts = ", ".join(f"{n:,} of {m:,}" for n, m in cold)
        warnings.warn(f"recsys.compare: test users absent from training ({counts} per fold) "
                      "get every model's most-popular fallback, and count in the metrics",
                      UnknownIdsWarning, stacklevel=3)


def _one_model(name: str, params: Mapping[str, Any], splits: list, *, k: int,
               items: pd.DataFrame | None, features: pd.DataFrame | None,
               threshold: float | None, run: Any, bar: Any, seed: int = 0
               ) -> tuple[dict, list[dict], pd.DataFrame, pd.DataFrame, Any, str | None]:
    """Every fold of one model, logged as its child run: its summary row, its intervals, its
    per-user metrics, its last fold's lists and fitted model, and its child run's id."""
    context = run.model(name, {**params, "k": k}) if run is not None else nullcontext()
    with context as child:
        fold_rows, fold_users = [], []
        for fold, (train, test) in enumerate(splits):
            where = f" (fold {fold + 1}/{len(splits)})" if len(splits) > 1 else ""
            row, users, recs, fitted = _evaluate(name, params, train, test, k=k, items=items,
                                         features=features, threshold=threshold,
                                         stage=lambda what, where=where: bar.stage(
                                             name, what + where))
            fold_rows.append(row)
            fold_users.append(users.assign(fold=fold))
        table = pd.DataFrame(fold_rows)
        per_user = pd.concat(fold_users)
        mean = table.mean(numeric_only=True).to_dict()
        intervals, tags = _intervals(name, table, per_user, splits, seed)
        if child is not None:
            bar.stage(name, "logging")
            child.log_metrics(mean)
            child.set_tags(tags)
            child.log_table(_keyed_per_user(per_user, getattr(child, "uri", None)),
                            "per_user.csv")
    return ({"model": name, **mean}, intervals, per_user, recs, fitted,
            getattr(child, "run_id", None))


def _intervals(name: str, table: pd.DataFrame, per_user: pd.DataFrame, splits: list,
               seed: int) -> tuple[list[dict], dict[str, str]]:
    """95% intervals of one model's metrics and the child-run tags that say which they are.

    One split: BCa bootstrap over the test users (per-user ranking metrics only). k folds: the
    corrected resampled t over the fold values (Nadeau & Bengio), with the folds' mean
    training and test sizes in interactions (rows).
    """
    from retaillab.metrics.compare import (
        TAG_INTERVAL,
        TAG_N_TEST,
        TAG_N_TRAIN,
        bootstrap_interval,
        corrected_interval,
    )

    rows = []
    if len(splits) == 1:
        for metric in per_user.columns.drop("fold", errors="ignore"):
            centre, low, high = bootstrap_interval(per_user[metric].to_numpy(), seed=seed)
            rows.append({"model": name, "metric": metric, "mean": centre, "low": low,
                         "high": high})
        return rows, {TAG_INTERVAL: f"BCa bootstrap over {len(per_user):,} users"}
    n_train = float(np.mean([len(train) for train, _ in splits]))
    n_test = float(np.mean([len(test) for _, test in splits]))
    for metric in table.columns:
        values = table[metric].to_numpy(dtype=float)
        if not np.isfinite(values).all():
            continue
        centre, low, high = corrected_interval(values, n_train, n_test)
        rows.append({"model": name, "metric": metric, "mean": centre, "low": low,
                     "high": high})
    return rows, {TAG_INTERVAL: f"corrected resampled t over {len(splits)} folds "
                  "(Nadeau-Bengio)", TAG_N_TRAIN: f"{n_train:g}", TAG_N_TEST: f"{n_test:g}"}


def _keyed_per_user(per_user: pd.DataFrame, uri: str | None = None) -> pd.DataFrame:
    """Per-user metrics keyed by :func:`retaillab.tracking.user_keys` (an HMAC with the
    store's secret), never the raw id nor a plain hash of it, which anyone could recompute
    for every candidate id: the same user gets the same key in every model's table and run
    of one store, so reports can pair them, and nobody without the secret can reverse one."""
    from retaillab import tracking

    keys = tracking.user_keys(per_user.index, uri=uri)
    return per_user.assign(user=keys).reset_index(drop=True)


def check_overlap(train: pd.DataFrame, test: pd.DataFrame, source: str = "test") -> None:
    """Refuse a test set no model could be judged on: no test user appears in training.

    Such a split scores only the cold-start fallback, so every model would tie. Partial
    overlap is fine and documented: cold test users get the most popular items and count.
    """
    from retaillab.errors import DataError

    if test.empty:
        raise DataError("the test set has no rows", source=source,
                        fix="use a smaller training ratio or more data per user")
    if not test[C.user].isin(pd.Index(train[C.user].unique())).any():
        raise DataError(f"none of the {test[C.user].nunique():,} test users appears in the "
                        "training set, so every model would only serve its cold-start fallback",
                        source=source, column=C.user,
                        fix="split per user (split='stratified', 'chronological' or "
                            "'leave_last') or check that both tables use the same user ids")


def _evaluate(name, params, train, test, *, k, items, features, threshold, stage=None):
    """Fit, recommend and score one model on one fold; ``stage(what)`` hears each step."""
    from retaillab import metrics

    stage = stage or (lambda what: None)
    model = build(name, params, items)
    stage("fitting")
    start = time.perf_counter()
    model.fit(train)
    fit_seconds = time.perf_counter() - start
    users = test[C.user].unique()
    stage("recommending")
    start = time.perf_counter()
    with warnings.catch_warnings():  # compare tells of cold users once (_warn_cold_users)
        warnings.simplefilter("ignore", UnknownIdsWarning)
        recs = model.recommend(users, k=k)
    recommend_seconds = time.perf_counter() - start
    stage("scoring")
    per_user = metrics.ranking_per_user(recs, test, k, threshold=threshold)
    row = {**per_user.mean().to_dict(), "fit_seconds": fit_seconds,
           "recommend_seconds": recommend_seconds}
    catalogue = pd.Index(train[C.item].unique())
    if items is not None:  # content-based models may recommend items nobody trained on
        catalogue = catalogue.union(pd.Index(items[C.item]))
    row.update(metrics.beyond_accuracy(recs, train, n_items=len(catalogue),
                                       item_features=features))
    if model.predicts_ratings and C.rating in test.columns:
        stage("predicting ratings")
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UnknownIdsWarning)
            predictions = model.predict(test)
        row["predict_seconds"] = time.perf_counter() - start
        row.update(metrics.rating(predictions, test))
    return row, per_user, recs, model


def affinity_precision(recs: pd.DataFrame, world: Any, top: int = 3) -> float:
    """Share of recommended items in one of each user's ``top`` truly preferred categories.

    Synthetic data only: ``world.truth.affinity`` is the planted customer x category
    affinity. Chance level is about ``top / n_categories``.
    """
    affinity = world.truth.affinity
    best = pd.DataFrame(np.argsort(-affinity.to_numpy(), axis=1)[:, :top],
                        index=affinity.index)
    category = world.items.set_index(C.item)["category"]
    codes = pd.Categorical(category, categories=list(affinity.columns)).codes
    item_code = pd.Series(codes, index=category.index)
    rec_codes = item_code.reindex(recs[C.item]).to_numpy()
    users_best = best.reindex(recs[C.user]).to_numpy()
    return float(np.mean((users_best == rec_codes[:, None]).any(axis=1)))
