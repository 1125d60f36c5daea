"""One churn timeline for every model family: BTYD, classifiers and survival models scored on
the same holdout customers with the same metrics and intervals.

The question CLV users ask most, "is BG/NBD's P(alive) or a gradient-boosted classifier the
better churn predictor?", needs one label and one set of customers for both.
:func:`timeline` fixes them: at ``cutoff`` every customer with a purchase on or before it is
scored, and churned means **no purchase in the** ``horizon_days`` **days after it** (days
``1 .. h`` after the cut-off day).

How each family scores without reading the holdout:

- **BTYD** (``bg_nbd``, ``mbg_nbd``, ``pareto_nbd``) is fitted on the RFM summary at
  ``cutoff`` (no labels needed) and gives P(no purchase in the horizon | history)
  (:func:`retaillab.churn.survival.no_purchase_probability`); ``bg_nbd_palive`` is the plain
  ``1 - P(alive)``, which ignores the horizon (its ranking is close, its calibration is not).
- **Classifiers** (``logistic``, ``gbm``, ... of :func:`retaillab.churn.available`) and
  **survival models** (``cox``, ``rsf``) need labels, so they are trained at ``fit_cutoff``
  (default ``cutoff - horizon_days``) with the label window ``(fit_cutoff, fit_cutoff + h]``
  ending on or before ``cutoff``; only transactions up to ``cutoff`` are read to train them.
  Survival models fit the days from ``fit_cutoff`` to the next purchase, censored at ``h``, and
  score ``S(h | x)``. All then score the features at ``cutoff``.

Metrics, on the same customers for every model: ROC AUC, PR AUC, Brier, log loss, ECE, lift
and capture at 10% and 20% (:mod:`retaillab.churn.metrics`), Harrell's concordance index of
the days to the next purchase after ``cutoff`` (censored at ``h``; the churn score is the risk
of *not* buying, so a purchase sooner should go with a lower score) and the cumulative/dynamic
AUC at a few days ``t`` inside the horizon (cases: bought by ``t``; controls: not yet), with
each model's own P(purchase by ``t``) where it has one (BTYD and survival models) and its
churn score otherwise. Ties in scores count half, as in scikit-learn and scikit-survival.

**Intervals and tests.** There is one holdout and no folds, so the uncertainty is that of
the customers: every interval is a BCa bootstrap over customers (``n_resamples`` resamples,
seeded; acceleration from a delete-group jackknife over at most :data:`JACKKNIFE_GROUPS`
groups), and every model is scored on the *same* resamples, so the difference of two models
has a paired bootstrap distribution. Against the best model of each metric that difference
gets a BCa interval and a two-sided p-value ``2 Phi(-|d| / se)``, ``se`` the standard
deviation of the paired bootstrap differences (a tail count of a thousand resamples could not
go below Holm's threshold over 21 pairs), Holm-corrected over every pair of models
(``family="pairs"``, the family that keeps "better" a 5% claim although the best is chosen on
the same data) or over the best's tests only (``"best"``). "Corrected" here means Holm for
many comparisons; the Nadeau-Bengio correction is for overlapping folds and does not apply.
``tests/churn/test_timeline.py`` checks the bootstrap standard error of an AUC difference
against DeLong's.

The best model is the one with the best point estimate, the first listed among equals.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from retaillab.churn.metrics import DEPTHS, ECE_BINS, LOWER_IS_BETTER, METRICS, metric_name
from retaillab.data.cutoffs import DAY, Cutoff
from retaillab.data.schema import COLUMNS as C
from retaillab.errors import DataError, ParameterError, UnknownNameError
from retaillab.registry import Registry

__all__ = ["BTYD", "JACKKNIFE_GROUPS", "SURVIVAL", "Timeline", "available", "next_purchase",
           "timeline"]

#: BTYD scorers: name -> (CLV model name in :mod:`retaillab.clv.registry`, what is scored:
#: P(no purchase in the horizon), or the plain 1 - P(alive))
BTYD: dict[str, tuple[str, str]] = {
    "bg_nbd": ("bg_nbd", "no_purchase"),
    "mbg_nbd": ("mbg_nbd", "no_purchase"),
    "pareto_nbd": ("pareto_nbd", "no_purchase"),
    "bg_nbd_palive": ("bg_nbd", "palive"),
}
#: survival models on the transactional features (:mod:`retaillab.churn.survival`)
SURVIVAL = Registry("survival churn model", {"cox": "retaillab.churn.survival:cox",
                                             "rsf": "retaillab.churn.survival:rsf"})
#: at most this many delete-group jackknife values estimate the BCa acceleration
JACKKNIFE_GROUPS = 100
#: bootstrap weights held at once (rows x customers)
_BATCH_CELLS = 4_000_000
#: customers per block of the concordance index's pairwise part
_CHUNK = 128
HEADLINE = ("roc_auc", "pr_auc", "brier", "lift_at_10", "ece", "c_index")
FAMILIES = ("pairs", "best")
CALIBRATION_FILE = "calibration.csv"


def available() -> list[str]:
    """Every model name :func:`timeline` takes: BTYD scorers, classifiers, survival models."""
    from retaillab.churn.registry import available as classifiers

    return [*BTYD, *classifiers(), *SURVIVAL.available()]


def _family(name: object) -> str:
    from retaillab.churn.registry import REGISTRY

    if name in BTYD:
        return "btyd"
    if name in REGISTRY:
        return "classifier"
    if name in SURVIVAL:
        return "survival"
    raise UnknownNameError("timeline model", name, available())


# -- the label and the time to the next purchase --------------------------------------------

def _whole_day(value: object, name: str) -> Cutoff:
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError):
        stamp = None
    if stamp is None or stamp is pd.NaT or stamp.tz is not None or stamp != stamp.normalize():
        raise ParameterError(name, "a date without a time of day, like '1997-09-30' (BTYD "
                             "summaries count whole days)", value)
    return Cutoff.of(stamp)


def _days(value: object, name: str, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ParameterError(name, f"a whole number of days >= {low}", value)
    return int(value)


def next_purchase(transactions: pd.DataFrame, cutoff: object,
                  horizon_days: int) -> pd.DataFrame:
    """Each customer with a purchase on or before ``cutoff`` (a date: the whole day), and
    their first purchase after it.

    Indexed by customer (sorted): ``days`` (from the cut-off day to that purchase: 1 for the
    next day; ``horizon_days`` when there is none within the horizon, i.e. censored there),
    ``bought`` (a purchase on days ``1 .. horizon_days``) and ``churn`` (``not bought``, the
    label of :func:`retaillab.churn.churn_labels`). Reads nothing after the horizon; does not
    check that the data reach its end (:func:`timeline` does).
    """
    from retaillab.churn.features import _checked

    cut = _whole_day(cutoff, "cutoff")
    h = _days(horizon_days, "horizon_days")
    tx = _checked(transactions)
    dates = tx[C.date]
    past = tx.loc[cut.past(dates), C.customer]
    if past.empty:
        raise DataError(f"no purchase on or before the cut-off {cut.stamp:%Y-%m-%d} (the "
                        f"first is on {dates.min():%Y-%m-%d})", source="transactions",
                        column=C.date, fix="choose a later cut-off")
    customers = pd.Index(np.sort(past.unique()), name=C.customer)
    future = tx[cut.future(dates, h)]
    first = future.groupby(C.customer)[C.date].min()
    days = ((first.dt.normalize() - cut.stamp) / DAY).reindex(customers)
    bought = days.notna().to_numpy()
    return pd.DataFrame({"days": days.fillna(float(h)).to_numpy(dtype="float64"),
                         "bought": bought, C.churn: ~bought}, index=customers)


# -- what the timeline found ---------------------------------------------------------------

@dataclass
class Timeline:
    """What :func:`timeline` found.

    Attributes
    ----------
    table
        Index ``(model, metric)``; columns ``mean`` (the metric on the holdout customers),
        ``ci_low``, ``ci_high`` (its BCa bootstrap interval over customers).
    tests
        Index ``(metric, model)``, one row per model other than that metric's best: ``best``,
        ``mean_best``, ``mean_other``, ``difference`` (best minus other), ``ci_low``/``ci_high``
        (BCa interval of the paired difference), ``p_value``, ``p_holm`` and ``better``
        (``p_holm < alpha`` with the difference in the good direction).
    best
        The best model by ``metric`` (first listed among equals).
    scores
        Per holdout customer (indexed by customer): ``churn``, ``bought``, ``days`` and each
        model's churn probability. Customer ids: for analysis, never printed.
    markers
        Model -> per customer and day ``t`` of ``td_days``: the risk of a purchase by ``t``
        the time-dependent AUC ranks (P(purchase by ``t``) for BTYD and survival models,
        ``1 - churn score`` for classifiers).
    sizes
        Rows ``train`` (at ``fit_cutoff``, when a model needs labels) and ``evaluate``:
        ``customers`` and ``churn_rate``.
    """

    table: pd.DataFrame
    tests: pd.DataFrame
    best: str
    metric: str
    cutoff: str
    fit_cutoff: str | None
    horizon_days: int
    td_days: tuple[int, ...]
    sizes: pd.DataFrame
    timings: pd.DataFrame
    level: float
    n_resamples: int
    seed: int
    alpha: float
    family: str
    active_days: int | None
    scores: pd.DataFrame = field(repr=False)
    markers: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)
    #: model -> its fitted object (CLV model or scikit-learn pipeline)
    fitted: dict[str, Any] = field(default_factory=dict, repr=False)
    #: model -> its child run's id (empty without a run)
    child_runs: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def models(self) -> list[str]:
        return list(dict.fromkeys(self.table.index.get_level_values("model")))

    @property
    def metrics(self) -> list[str]:
        return list(dict.fromkeys(self.table.index.get_level_values("metric")))

    @property
    def intervals(self) -> pd.DataFrame:
        """Long table ``model, metric, mean, low, high`` (what :mod:`retaillab.visuals`
        draws)."""
        return self.table.reset_index().rename(columns={"ci_low": "low", "ci_high": "high"})

    def wide(self, metrics: Sequence[str] | None = None, digits: int = 3) -> pd.DataFrame:
        """Model x metric table of ``mean [ci_low, ci_high]`` strings, for display."""
        from retaillab.visuals import interval_table

        chosen = list(metrics) if metrics is not None else [
            m for m in self.metrics if m in HEADLINE or m.startswith("td_auc_")]
        return interval_table(self.intervals, chosen, digits=digits)

    def verdict(self, metric: str | None = None) -> str:
        """One paragraph: the best model by ``metric`` (default: the timeline's), which models
        it beats after Holm's correction and which it cannot be told apart from."""
        metric = metric or self.metric
        if metric not in self.metrics:
            raise ParameterError("metric", "one of " + ", ".join(self.metrics), metric)
        if len(self.models) < 2:
            mean, low, high = self.table.loc[(self.best, metric)]
            return (f"{self.best} alone: {metric} {mean:.3f} [{low:.3f}, {high:.3f}]; "
                    "nothing to compare it with.")
        tests = self.tests.loc[metric]
        best = str(tests["best"].iloc[0])
        mean, low, high = self.table.loc[(best, metric)]
        beaten = list(tests.index[tests["better"]])
        tied = list(tests.index[~tests["better"]])
        text = (f"best by {metric}: {best} ({mean:.3f} [{low:.3f}, {high:.3f}], "
                f"{self.level:.0%} BCa over {int(self.sizes.loc['evaluate', 'customers']):,} "
                "customers)")
        if beaten:
            text += (f"; better than {', '.join(beaten)} (Holm-adjusted p < {self.alpha:g}, "
                     f"{'every pair' if self.family == 'pairs' else 'the best'}'s tests)")
        if tied:
            text += f"; not distinguishable from {', '.join(tied)}"
        return text + "."

    def summary(self) -> str:
        """Cut-offs, horizon, customers and churn rates, in one line."""
        test = self.sizes.loc["evaluate"]
        text = (f"scored at {self.cutoff}: {int(test['customers']):,} customers, "
                f"{test['churn_rate']:.1%} without a purchase in the next "
                f"{self.horizon_days} days")
        if "train" in self.sizes.index:
            train = self.sizes.loc["train"]
            text += (f"; trained at {self.fit_cutoff}: {int(train['customers']):,} customers, "
                     f"{train['churn_rate']:.1%} churned")
        if self.active_days:
            text += f" (active within {self.active_days} days)"
        return text

    def calibration(self, model: str, n_bins: int = ECE_BINS) -> pd.DataFrame:
        """One model's reliability curve on the holdout (equal-width probability bins,
        :func:`retaillab.churn.metrics.reliability`)."""
        from retaillab.churn.metrics import reliability

        if model not in self.models:
            raise ParameterError("model", "one of " + ", ".join(self.models), model)
        return reliability(self.scores[C.churn].to_numpy(), self.scores[model].to_numpy(),
                           n_bins)

    def _repr_html_(self) -> str:
        return self.wide()._repr_html_()

    def __repr__(self) -> str:
        return f"Timeline(best={self.best!r})\n{self.wide().to_string()}"


# -- the comparison --------------------------------------------------------------------------

def timeline(transactions: pd.DataFrame, *, cutoff: object, horizon_days: int = 180,
             fit_cutoff: object = None,
             models: Sequence[str] | Mapping[str, Mapping[str, Any]] = (
                 "bg_nbd", "pareto_nbd", "logistic", "gbm", "cox"),
             model_params: Mapping[str, Mapping[str, Any]] | None = None,
             level: float = 0.95, n_resamples: int = 1000, seed: int = 0,
             active_days: int | None = None, td_days: Sequence[int] | None = None,
             metric: str = "roc_auc", alpha: float = 0.05, family: str = "pairs",
             unit: str = "W", run: Any = None, n_threads: int | None = 1,
             progress: bool = True) -> Timeline:
    """Score every model on the customers with history at ``cutoff``; see the module docstring.

    Parameters
    ----------
    transactions
        The order log (``customer``, ``date``, ``amount``, ...).
    cutoff
        A date (the whole day). The data must reach ``cutoff + horizon_days``.
    horizon_days
        Churned = no purchase on days ``1 .. horizon_days`` after the cut-off.
    fit_cutoff
        Where classifiers and survival models are trained (default ``cutoff -
        horizon_days``); at most that, so their labels end by ``cutoff``.
    models, model_params
        Names (:func:`available`), or ``{name: hyperparameters}``; ``model_params`` adds
        hyperparameters by name. BTYD models take the CLV models' (``penalizer``, ...),
        the others their factories' (each gets ``seed`` unless given).
    level, n_resamples, seed
        Interval level, bootstrap resamples over customers and the seed that draws them.
    active_days
        Score (and train) only customers who bought within this many days up to their
        cut-off (:func:`retaillab.churn.active_only`); BTYD models are still fitted on all.
    td_days
        Days inside the horizon for the time-dependent AUC (default: its quarter points).
    metric
        What ``best`` and the verdict go by.
    alpha, family
        Holm's level, and its family: ``"pairs"`` (every pair of models) or ``"best"``.
    unit
        The BTYD time unit (``"W"`` weeks, ``"D"`` days); the scores do not depend on it
        beyond the fit's tolerance.
    run
        A :class:`retaillab.tracking.NotebookRun`: each model becomes a child run with its
        hyperparameters, every metric with ``_ci_low``/``_ci_high`` bounds, the tag
        ``retaillab.interval`` naming the interval, timings and its reliability curve
        (``calibration.csv``). No per-customer value is logged.
    n_threads
        OpenMP and BLAS threads (one by default, as in :func:`retaillab.churn.compare`: on a
        busy machine their spin-waiting makes small fits and the bootstrap's many small
        matrix products several times slower); results do not depend on it. ``None``: every
        core.

    Raises
    ------
    ParameterError
        A cut-off with a time of day, ``horizon_days < 1``, ``fit_cutoff`` later than
        ``cutoff - horizon_days``, bad interval settings.
    UnknownNameError
        An unknown model name.
    DataError
        The cut-off is at or after the last transaction, the data end before the horizon
        does, or a training or holdout table has one class only.

    Example
    -------
    >>> tx = data.load("cdnow").transactions                                # doctest: +SKIP
    >>> found = churn.timeline(tx, cutoff="1997-09-30", horizon_days=180)   # doctest: +SKIP
    >>> found.wide()                                                        # doctest: +SKIP
    >>> found.verdict()                                                     # doctest: +SKIP
    """
    from threadpoolctl import threadpool_limits

    from retaillab.churn.features import _checked, churn_labels

    tx = _checked(transactions)
    cut = _whole_day(cutoff, "cutoff")
    h = _days(horizon_days, "horizon_days")
    latest_fit = cut.stamp - h * DAY
    fit_at = Cutoff.of(latest_fit) if fit_cutoff is None else _whole_day(fit_cutoff,
                                                                         "fit_cutoff")
    if fit_at.stamp > latest_fit:
        raise ParameterError("fit_cutoff", f"a day on or before {latest_fit:%Y-%m-%d} (the "
                             f"cut-off minus {h} days: a later one's labels would read "
                             "purchases after the cut-off)", fit_cutoff)
    active_days = None if active_days is None else _days(active_days, "active_days")
    days = _td_days(td_days, h)
    settings = _check_settings(level, n_resamples, seed, alpha, family, n_threads)
    specs = _specs(models, model_params, seed)
    shown_metrics = [*METRICS, "c_index", *(f"td_auc_{t}d" for t in days)]
    if metric not in shown_metrics:
        raise ParameterError("metric", "one of " + ", ".join(shown_metrics), metric)

    churn_labels(tx, cut.stamp, h)  # the data reach the horizon's end, the cut-off is inside
    holdout = next_purchase(tx, cut.stamp, h)
    past = tx[cut.past(tx[C.date])]  # nothing after the cut-off trains or scores a model
    with threadpool_limits(limits=n_threads):  # OpenMP and BLAS (see n_threads)
        scored = _score_all(past, specs, cut, fit_at, h, holdout, active_days, days, unit,
                            progress)
    customers = scored.customers
    scores = holdout.loc[customers].copy()
    for name, score in scored.scores.items():
        scores[name] = score
    if scores[C.churn].all() or not scores[C.churn].any():
        which = "a churner" if scores[C.churn].all() else "a buyer"
        raise DataError(f"every holdout customer is {which} ({len(scores):,} customers): "
                        "no metric can rank them",
                        source="timeline", fix="choose another cut-off or horizon")
    with threadpool_limits(limits=n_threads):
        table, tests = _evaluate(scores, scored.markers, list(specs), days, settings)
    best = str(tests.loc[metric, "best"].iloc[0]) if len(specs) > 1 else next(iter(specs))
    sizes = pd.DataFrame({"customers": [len(scores)], "churn_rate": [scores[C.churn].mean()]},
                         index=["evaluate"])
    if scored.train_size is not None:
        sizes = pd.concat([pd.DataFrame({"customers": [scored.train_size[0]],
                                         "churn_rate": [scored.train_size[1]]},
                                        index=["train"]), sizes])
    trained = any(_family(m) != "btyd" for m in specs)
    result = Timeline(
        table=table, tests=tests, best=best, metric=metric, cutoff=f"{cut.stamp:%Y-%m-%d}",
        fit_cutoff=f"{fit_at.stamp:%Y-%m-%d}" if trained else None, horizon_days=h,
        td_days=days, sizes=sizes, timings=pd.DataFrame(scored.timings).T.rename_axis("model"),
        level=settings["level"], n_resamples=settings["n_resamples"], seed=settings["seed"],
        alpha=settings["alpha"], family=family, active_days=active_days, scores=scores,
        markers=scored.markers, fitted=scored.fitted)
    if run is not None:
        _log(result, specs, run)
    return result


def _td_days(value: object, h: int) -> tuple[int, ...]:
    if value is None:
        return tuple(sorted({t for t in (round(h / 4), round(h / 2), round(3 * h / 4))
                             if 1 <= t < h}))
    ok = isinstance(value, Sequence) and not isinstance(value, str) and all(
        isinstance(t, (int, np.integer)) and not isinstance(t, bool) and 1 <= t < h
        for t in value)
    if not ok:
        raise ParameterError("td_days", f"whole days inside the horizon (1 .. {h - 1})", value)
    return tuple(sorted({int(t) for t in value}))


def _check_settings(level: object, n_resamples: object, seed: object, alpha: object,
                    family: object, n_threads: object) -> dict[str, Any]:
    from retaillab.errors import check_choice

    for name, value in (("level", level), ("alpha", alpha)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) \
                or not 0 < value < 1:
            raise ParameterError(name, "a number strictly between 0 and 1", value)
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, (int, np.integer)) \
            or n_resamples < 50:
        raise ParameterError("n_resamples", "a whole number >= 50 (1000 or more for "
                             "publication)", n_resamples)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ParameterError("seed", "a whole number >= 0", seed)
    check_choice("family", family, FAMILIES)
    if n_threads is not None and (isinstance(n_threads, bool) or not isinstance(
            n_threads, (int, np.integer)) or n_threads < 1):
        raise ParameterError("n_threads", "a positive integer or None", n_threads)
    return {"level": float(level), "n_resamples": int(n_resamples), "seed": int(seed),
            "alpha": float(alpha), "family": family}


def _specs(models: object, model_params: object, seed: int) -> dict[str, dict[str, Any]]:
    """``{name: hyperparameters}``, every name and hyperparameter checked before any fit."""
    from retaillab.churn.registry import REGISTRY as CLASSIFIERS
    from retaillab.clv.registry import REGISTRY as CLV

    if isinstance(models, str) or not isinstance(models, (Sequence, Mapping)) or not models:
        raise ParameterError("models", "a non-empty list of model names or {name: params}",
                             models)
    specs = {str(m): dict(p or {}) for m, p in models.items()} if isinstance(
        models, Mapping) else {m: {} for m in models}
    if model_params is not None and not isinstance(model_params, Mapping):
        raise ParameterError("model_params", "a mapping {model name: hyperparameters}",
                             model_params)
    for name, params in (model_params or {}).items():
        _family(name)  # a misspelt name fails
        if name not in specs:
            continue  # parameters of a model not compared this time (a notebook's defaults)
        if not isinstance(params, Mapping):
            raise ParameterError(f"model_params[{name!r}]", "a mapping of hyperparameters",
                                 params)
        specs[name] = {**dict(params), **specs[name]}
    for name, params in specs.items():
        kind = _family(name)
        if kind == "btyd":
            CLV.check_params(BTYD[name][0], params)
        elif kind == "classifier":
            CLASSIFIERS.check_params(name, params)
            params.setdefault("seed", seed)
        else:
            SURVIVAL.check_params(name, params)
            params.setdefault("seed", seed)
    return specs


@dataclass
class _Scored:
    customers: pd.Index
    scores: dict[str, np.ndarray]
    markers: dict[str, pd.DataFrame]
    fitted: dict[str, Any]
    timings: dict[str, dict[str, float]]
    train_size: tuple[int, float] | None


def _active(features: pd.DataFrame, active_days: int | None) -> pd.Index:
    if active_days is None:
        return features.index
    kept = features.index[features["recency_days"] < active_days]
    if kept.empty:
        raise DataError(f"no customer bought within {active_days} days of the cut-off",
                        source="timeline", fix="widen active_days")
    return kept


def _score_all(past: pd.DataFrame, specs: dict[str, dict[str, Any]], cut: Cutoff,
               fit_at: Cutoff, h: int, holdout: pd.DataFrame, active_days: int | None,
               days: tuple[int, ...], unit: str, progress: bool) -> _Scored:
    """Fit every model on what it may see and score the holdout customers."""
    from retaillab.churn.features import transaction_features
    from retaillab.metrics.progress import ModelProgress

    features = transaction_features(past, cut.stamp)
    customers = _active(features, active_days)
    if not customers.equals(holdout.index) and active_days is None:
        raise DataError("the features and the labels hold different customers",
                        source="timeline")  # pragma: no cover - one rule makes both
    training = None
    if any(_family(m) != "btyd" for m in specs):
        training = _training(past, fit_at, h, active_days)
        features = features.loc[customers, list(training[0].columns)]
    summary, btyd_fits = None, {}
    scores, markers, fitted, timings = {}, {}, {}, {}
    with ModelProgress("timeline", list(specs), enabled=progress) as bar:
        for name, params in specs.items():
            kind = _family(name)
            bar.stage(name, "fitting")
            start = time.perf_counter()
            if kind == "btyd":
                if summary is None:
                    from retaillab.clv.rfm import rfm_summary

                    summary = rfm_summary(past, calibration_end=cut.stamp, unit=unit)
                model = _fit_btyd(name, params, summary, btyd_fits)
                fit_seconds = time.perf_counter() - start
                start = time.perf_counter()
                score, marker = _score_btyd(name, model, summary.loc[customers], h, days,
                                            unit)
            else:
                x_train, y_train, t_train = training
                if kind == "classifier":
                    from retaillab.churn.registry import create

                    model = create(name, **params).fit(x_train, y_train)
                else:
                    from retaillab.churn.survival import survival_target

                    model = SURVIVAL.create(name, **{"horizon": float(h), **params}).fit(
                        x_train, survival_target(~y_train, t_train))
                fit_seconds = time.perf_counter() - start
                bar.stage(name, "scoring")
                start = time.perf_counter()
                score, marker = _score_trained(kind, model, features, h, days)
            timings[name] = {"fit_seconds": fit_seconds,
                             "score_seconds": time.perf_counter() - start}
            scores[name] = np.asarray(score, dtype="float64")
            markers[name] = pd.DataFrame(marker, index=customers,
                                         columns=[f"{t}d" for t in days])
            fitted[name] = model
            bar.finished()
    train_size = None if training is None else (len(training[1]), float(training[1].mean()))
    return _Scored(customers, scores, markers, fitted, timings, train_size)


def _training(past: pd.DataFrame, fit_at: Cutoff, h: int, active_days: int | None
              ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Features at ``fit_at``, the churn label and the days to the next purchase after it
    (censored at ``h``), from transactions up to the evaluation cut-off only."""
    from retaillab.churn._checks import binary_target
    from retaillab.churn.features import transaction_features

    features = transaction_features(past, fit_at.stamp)
    labels = next_purchase(past, fit_at.stamp, h)
    kept = _active(features, active_days)
    y = binary_target(labels.loc[kept, C.churn], C.churn)
    return features.loc[kept], y, labels.loc[kept, "days"].to_numpy()


def _fit_btyd(name: str, params: dict[str, Any], summary: pd.DataFrame,
              fits: dict[tuple, Any]) -> Any:
    """The CLV model behind a BTYD scorer, fitted once per model and hyperparameters."""
    from retaillab.clv.registry import create

    key = (BTYD[name][0], repr(sorted(params.items())))
    if key not in fits:
        fits[key] = create(BTYD[name][0], **params).fit(summary)
    return fits[key]


def _score_btyd(name: str, model: Any, summary: pd.DataFrame, h: int,
                days: tuple[int, ...], unit: str) -> tuple[np.ndarray, np.ndarray]:
    from retaillab.churn.survival import no_purchase_probability
    from retaillab.clv._occasions import unit_days

    per = unit_days(unit)
    if BTYD[name][1] == "palive":
        alive = model.conditional_probability_alive(summary)
        return 1.0 - alive, np.repeat(alive[:, np.newaxis], len(days), axis=1)
    score = no_purchase_probability(model, h / per, summary)
    marker = np.column_stack([1.0 - no_purchase_probability(model, t / per, summary)
                              for t in days]) if days else np.empty((len(summary), 0))
    return score, marker


def _score_trained(kind: str, model: Any, features: pd.DataFrame, h: int,
                   days: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """A classifier's churn probability (and ``1 -`` it as every day's marker); a survival
    model's ``S(h)`` and ``1 - S(t)`` from one evaluation of its curves."""
    if kind == "survival":
        from retaillab.churn.survival import survival_at

        curves = survival_at(model, features, [h, *days])
        return curves[:, 0], 1.0 - curves[:, 1:]
    score = model.predict_proba(features)[:, 1]
    return score, np.repeat((1.0 - score)[:, np.newaxis], len(days), axis=1)


# -- metrics of weighted customers (the bootstrap) -------------------------------------------

class _Ranked:
    """A score sorted once (descending, stable) and its blocks of tied scores.

    Weights are held resamples x customers, one row per resample: sums along the ranking run
    along contiguous rows (``np.take`` gathers the customers in ranked order).
    """

    def __init__(self, score: np.ndarray) -> None:
        self.order = np.argsort(-score, kind="stable")
        ranked = score[self.order]
        new = np.r_[True, ranked[1:] != ranked[:-1]]
        self.block = np.cumsum(new) - 1  # the tie block of each ranked position
        self.ends = np.r_[np.flatnonzero(new)[1:], ranked.size] - 1
        self.tied = self.ends.size < ranked.size

    def gather(self, w: np.ndarray) -> np.ndarray:
        return np.take(w, self.order, axis=1)

    def cumulative(self, ranked_w: np.ndarray, values: np.ndarray | None = None
                   ) -> np.ndarray:
        """Per resample and tie block (by falling score): the sum of the weights (times
        ``values``, given in customer order) through that block."""
        part = ranked_w if values is None else ranked_w * values[self.order].astype(
            ranked_w.dtype)
        out = np.cumsum(part, axis=1)
        return np.take(out, self.ends, axis=1) if self.tied else out


def _per_block(cumulative: np.ndarray) -> np.ndarray:
    out = np.empty_like(cumulative)
    out[:, 0] = cumulative[:, 0]
    np.subtract(cumulative[:, 1:], cumulative[:, :-1], out=out[:, 1:])
    return out


def _above(a: np.ndarray, cum_b: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairs ``(i in A, j in B)`` with ``i`` scored above ``j``, ties half, from per-block
    weights: ``sum_k a_k (B after k + b_k / 2)``."""
    return (a * (cum_b[:, -1:] - cum_b + 0.5 * b)).sum(axis=1, dtype="float64")


def _top(cum_pos: np.ndarray, cum_total: np.ndarray, pos: np.ndarray, total: np.ndarray,
         q: float) -> tuple[np.ndarray, np.ndarray]:
    """Expected churners among the top ``k = ceil(q n)`` customers (ties shared) and ``k``."""
    n = cum_total[:, -1].astype("float64")
    k = np.maximum(1.0, np.ceil(q * n - 1e-9))
    j = np.minimum((cum_total < (k - 1e-9).astype(cum_total.dtype)[:, None]).sum(axis=1),
                   cum_total.shape[1] - 1)
    rows = np.arange(k.size)
    before = cum_total[rows, j].astype("float64") - total[rows, j]
    churn_before = cum_pos[rows, j].astype("float64") - pos[rows, j]
    return churn_before + (k - before) * pos[rows, j] / total[rows, j], k


class _Concordance:
    """Harrell's concordance index of weighted customers, as scikit-survival counts it.

    A pair is comparable when customer ``i`` bought and ``j`` bought later or not at all
    (censored at the horizon, which is after every purchase); it is concordant when ``i``'s
    churn score is lower, half when tied. Pairs of a buyer and a churner are the ROC AUC's
    (churners scored above buyers), so the index is
    ``(AUC numerator + buyer pairs) / (P N + comparable buyer pairs)``. The pairs of buyers
    are counted in blocks of rising risk: pairs across blocks from a running histogram of
    the purchase days seen, pairs within a block from a small matrix; ``O(n (days / m + m))``
    per resample rather than ``O(n^2)``.
    """

    def __init__(self, event: np.ndarray, days: np.ndarray) -> None:
        if (days[~event] != days.max()).any():  # pragma: no cover - a timeline's invariant
            raise DataError("every customer without a purchase must be censored at the "
                            "horizon", source="concordance")
        self.events = np.flatnonzero(event)
        self.key = np.full(event.size, -1, dtype=np.int64)
        if self.events.size:
            self.key[self.events] = np.unique(days[self.events], return_inverse=True)[1]
        self.n_keys = max(int(self.key.max()) + 1, 1)
        by = self.events[np.argsort(self.key[self.events], kind="stable")]
        self.by_key = by
        self.key_starts = np.flatnonzero(np.r_[True, np.diff(self.key[by]) != 0]) \
            if by.size else np.zeros(0, dtype=np.int64)
        self.key_values = self.key[by][self.key_starts] if by.size else self.key_starts

    @staticmethod
    def _later(hist: np.ndarray) -> np.ndarray:
        """``out[:, k]`` = weight of keys strictly above ``k``."""
        return np.cumsum(hist[:, ::-1], axis=1)[:, ::-1] - hist

    def buyer_pairs(self, w: np.ndarray) -> np.ndarray:
        """Comparable pairs of buyers: ``i`` bought strictly before ``j``."""
        if self.events.size == 0:
            return np.zeros(w.shape[0])
        hist = np.zeros((w.shape[0], self.n_keys), dtype=w.dtype)
        hist[:, self.key_values] = np.add.reduceat(np.take(w, self.by_key, axis=1),
                                                   self.key_starts, axis=1)
        return (hist * self._later(hist)).sum(axis=1, dtype="float64")

    def plan(self, ranked: _Ranked) -> tuple[np.ndarray, list[tuple]]:
        """The buyers in rising risk (falling churn score), and their blocks: whole tie blocks
        of at most :data:`_CHUNK` customers together (or one larger tie block alone)."""
        position = np.empty(ranked.order.size, dtype=np.int64)
        position[ranked.order] = np.arange(ranked.order.size)
        buyers = self.events[np.argsort(position[self.events], kind="stable")]
        block = ranked.block[position[buyers]]
        cuts = np.flatnonzero(np.r_[True, block[1:] != block[:-1]]) if buyers.size else \
            np.zeros(0, dtype=np.int64)
        sizes = np.diff(np.r_[cuts, buyers.size])
        plan, start, i = [], 0, 0
        while i < sizes.size:
            end, j = start + sizes[i], i + 1
            if sizes[i] <= _CHUNK:
                while j < sizes.size and end + sizes[j] - start <= _CHUNK:
                    end += sizes[j]
                    j += 1
            key, b = self.key[buyers[start:end]], block[start:end]
            pairs = None
            if sizes[i] <= _CHUNK:  # else one large block of tied scores: all pairs half
                # risk rises along the order: a later tie block has the higher risk;
                # pairs[j, i]: i bought before j and has the higher risk (ties: half)
                half = np.where(b[:, None] > b[None, :], 1.0,
                                np.where(b[:, None] == b[None, :], 0.5, 0.0))
                pairs = ((key[None, :] > key[:, None]) * half).T.astype(np.float32)
            by = np.argsort(key, kind="stable")
            starts = np.flatnonzero(np.r_[True, np.diff(key[by]) != 0])
            plan.append((start, end, pairs, by, starts, key[by][starts], key))
            start, i = end, j
        return buyers, plan

    def buyer_concordant(self, w: np.ndarray, plan: tuple[np.ndarray, list[tuple]]
                         ) -> np.ndarray:
        """Concordant pairs of buyers (ties half)."""
        buyers, blocks = plan
        ordered = np.take(w, buyers, axis=1)  # once: each block is then a slice
        seen = np.zeros((w.shape[0], self.n_keys), dtype=w.dtype)
        total = np.zeros(w.shape[0])
        for start, end, pairs, by, starts, keys, key in blocks:
            part = ordered[:, start:end]
            # with every buyer of lower risk seen so far
            total += (part * self._later(seen)[:, key]).sum(axis=1, dtype="float64")
            added = np.add.reduceat(np.take(part, by, axis=1), starts, axis=1)
            if pairs is None:
                hist = np.zeros_like(seen)
                hist[:, keys] = added
                total += 0.5 * (part * self._later(hist)[:, key]).sum(axis=1, dtype="float64")
            else:
                total += ((part @ pairs.astype(w.dtype)) * part).sum(axis=1, dtype="float64")
            seen[:, keys] += added
        return total


def _same_ranking(marker: np.ndarray, score: np.ndarray) -> bool:
    """Whether ``marker`` orders customers exactly as ``-score`` does, ties included (a
    Cox model's risk of a purchase by any day is a rising function of its linear score)."""
    return bool(np.array_equal(np.unique(marker, return_inverse=True)[1],
                               np.unique(-score, return_inverse=True)[1]))


class _Metrics:
    """Every metric of one model, for many resamples (rows of customer weights) at once."""

    def __init__(self, y: np.ndarray, score: np.ndarray, marker: np.ndarray,
                 event: np.ndarray, days: np.ndarray, td_days: tuple[int, ...],
                 concordance: _Concordance) -> None:
        from retaillab.churn.metrics import _bins

        self.y = y.astype("float64")
        self.ranked = _Ranked(score)
        eps = np.finfo("float64").eps
        p = np.clip(score, eps, 1 - eps)
        onehot = np.eye(ECE_BINS)[_bins(score, ECE_BINS)]
        # per customer: squared error, log loss, and per probability bin score and label
        self.basis = np.column_stack([
            (score - self.y) ** 2, -(self.y * np.log(p) + (1 - self.y) * np.log1p(-p)),
            onehot * score[:, None], onehot * self.y[:, None]])
        self.basis32 = self.basis.astype(np.float32)
        self.concordance = concordance
        # the risk of buying is the opposite of the churn score: the ranked order (falling
        # score) is one of rising risk, the order the concordance index takes buyers in
        self.plan = concordance.plan(self.ranked)
        self.td = []
        for i, t in enumerate(td_days):
            case = (event & (days <= t)).astype("float64")
            # a marker ranked as 1 - score (a classifier's, a Cox model's) reuses the score's
            # ranking, with the cases below the controls
            ranked = None if _same_ranking(marker[:, i], score) else _Ranked(marker[:, i])
            self.td.append((f"td_auc_{t}d", ranked, case))

    def __call__(self, w: np.ndarray, buyer_pairs: np.ndarray) -> dict[str, np.ndarray]:
        ranked_w = self.ranked.gather(w)
        cum_total = self.ranked.cumulative(ranked_w)
        cum_pos = self.ranked.cumulative(ranked_w, self.y)
        total, pos = _per_block(cum_total), _per_block(cum_pos)
        n, churners = cum_total[:, -1].astype("float64"), cum_pos[:, -1].astype("float64")
        buyers = n - churners
        pairs = _above(pos, cum_total - cum_pos, total - pos)  # churner above buyer
        sums = (w @ (self.basis32 if w.dtype == np.float32 else self.basis)).astype("float64")
        out: dict[str, np.ndarray] = {}
        with np.errstate(invalid="ignore", divide="ignore"):
            out["roc_auc"] = pairs / (churners * buyers)
            out["pr_auc"] = (pos * cum_pos / np.maximum(cum_total, 1e-30)).sum(
                axis=1, dtype="float64") / churners
            out["brier"], out["log_loss"] = sums[:, 0] / n, sums[:, 1] / n
            out["ece"] = np.abs(sums[:, 2 + ECE_BINS:] - sums[:, 2:2 + ECE_BINS]).sum(
                axis=1) / n
            tops = {q: _top(cum_pos, cum_total, pos, total, q) for q in DEPTHS}
            for q, (top, k) in tops.items():
                out[metric_name("lift", q)] = (top / k) / (churners / n)
            for q, (top, _) in tops.items():
                out[metric_name("capture", q)] = top / churners
            concordant = pairs + self.concordance.buyer_concordant(w, self.plan)
            out["c_index"] = concordant / (churners * buyers + buyer_pairs)
            for name, td_ranked, case in self.td:
                if td_ranked is None:  # controls (later or no purchase) scored above cases
                    cum_case = self.ranked.cumulative(ranked_w, case)
                    case_b = _per_block(cum_case)
                    found = _above(total - case_b, cum_case, case_b)
                else:  # cases ranked above controls by the marker
                    again = td_ranked.gather(w)
                    cum_all = td_ranked.cumulative(again)
                    cum_case = td_ranked.cumulative(again, case)
                    case_b = _per_block(cum_case)
                    found = _above(case_b, cum_all - cum_case, _per_block(cum_all) - case_b)
                cases = cum_case[:, -1].astype("float64")
                out[name] = found / (cases * (n - cases))
        return out


def _weights(n: int, n_resamples: int, seed: int):
    """Bootstrap counts (multinomial resamples of the customers; resamples x customers), in
    batches, then the delete-group jackknife's weights; ``(kind, weights)`` pairs."""
    rng = np.random.default_rng(seed)
    # counts are whole numbers: float32 sums of up to 2^24 of them are exact, at half the
    # memory traffic of float64
    dtype = np.float32 if n < 2 ** 23 else np.float64
    batch = max(1, min(n_resamples, _BATCH_CELLS // n))
    done = 0
    while done < n_resamples:
        b = min(batch, n_resamples - done)
        drawn = rng.integers(0, n, size=(b, n)) + (np.arange(b) * n)[:, np.newaxis]
        yield "boot", np.bincount(drawn.ravel(), minlength=b * n).reshape(b, n).astype(dtype)
        done += b
    groups = min(n, JACKKNIFE_GROUPS)
    member = rng.permutation(n) % groups
    for first in range(0, groups, batch):
        g = np.arange(first, min(groups, first + batch))
        yield "jack", (member[np.newaxis, :] != g[:, np.newaxis]).astype(dtype)


def _evaluate(scores: pd.DataFrame, markers: dict[str, pd.DataFrame], names: list[str],
              td_days: tuple[int, ...], settings: dict[str, Any]
              ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Point values, bootstrap and jackknife replicates of every metric of every model on
    the same weights; BCa intervals and the paired tests."""
    y = scores[C.churn].to_numpy()
    event = scores["bought"].to_numpy()
    days = scores["days"].to_numpy()
    concordance = _Concordance(event, days)
    metrics = {m: _Metrics(y, scores[m].to_numpy(), markers[m].to_numpy(), event, days,
                           td_days, concordance) for m in names}
    ones = np.ones((1, len(y)))
    point = {m: {k: float(v[0]) for k, v in f(ones, concordance.buyer_pairs(ones)).items()}
             for m, f in metrics.items()}
    boot: dict[str, dict[str, list]] = {m: {} for m in names}
    jack: dict[str, dict[str, list]] = {m: {} for m in names}
    for kind, w in _weights(len(y), settings["n_resamples"], settings["seed"]):
        pairs = concordance.buyer_pairs(w)
        for m, f in metrics.items():
            store = boot[m] if kind == "boot" else jack[m]
            for k, v in f(w, pairs).items():
                store.setdefault(k, []).append(v)
    boot = {m: {k: np.concatenate(v) for k, v in d.items()} for m, d in boot.items()}
    jack = {m: {k: np.concatenate(v) for k, v in d.items()} for m, d in jack.items()}
    rows = []
    order = list(point[names[0]])
    for m in names:
        for k in order:
            low, high = _bca(point[m][k], boot[m][k], jack[m][k], settings["level"])
            rows.append({"model": m, "metric": k, "mean": point[m][k], "ci_low": low,
                         "ci_high": high})
    table = pd.DataFrame(rows).set_index(["model", "metric"])
    tests = _tests(point, boot, jack, names, order, settings)
    return table, tests


def _bca_parts(theta: float, boot: np.ndarray, jack: np.ndarray) -> tuple[np.ndarray, float,
                                                                           float]:
    """Finite replicates, the bias correction ``z0`` and the acceleration ``a``."""
    from scipy.special import ndtri

    boot = boot[np.isfinite(boot)]
    jack = jack[np.isfinite(jack)]
    b = boot.size
    below = (np.sum(boot < theta) + 0.5 * np.sum(boot == theta)) / b
    z0 = float(ndtri(np.clip(below, 1 / (b + 1), b / (b + 1))))
    d = jack.mean() - jack if jack.size else np.zeros(1)
    spread = float(np.sum(d ** 2))
    a = float(np.sum(d ** 3) / (6 * spread ** 1.5)) if spread > 0 else 0.0
    return boot, z0, a


def _bca(theta: float, boot: np.ndarray, jack: np.ndarray, level: float
         ) -> tuple[float, float]:
    """BCa bounds (Efron 1987): the bootstrap quantiles at
    ``Phi(z0 + (z0 + z) / (1 - a (z0 + z)))`` for ``z = Phi^-1((1 -+ level) / 2)``."""
    from scipy.special import ndtr, ndtri

    if not np.isfinite(theta):
        return np.nan, np.nan
    finite, z0, a = _bca_parts(theta, boot, jack)
    if finite.size < 2 or np.all(finite == finite[0]):
        return theta, theta
    z = ndtri(np.array([(1 - level) / 2, (1 + level) / 2]))
    shifted = z0 + z
    quantiles = ndtr(z0 + shifted / (1 - a * shifted))
    low, high = np.quantile(finite, np.clip(quantiles, 0, 1))
    return float(low), float(high)


def _pvalue(theta: float, boot: np.ndarray) -> float:
    """Two-sided p-value of a paired difference ``theta``: ``2 Phi(-|theta| / se)`` with
    ``se`` the standard deviation of its bootstrap replicates over the same resamples.

    The tail count of ``B`` resamples cannot go below about ``1 / B``, and Holm multiplies
    the smallest p-value by the number of tests (28 pairs of 8 models), so a count would never
    reach 5% with a thousand resamples; the normal reading of the bootstrap spread resolves
    small p-values (differences of AUC-type statistics over thousands of customers are close
    to normal; the BCa interval alongside shows any skew).
    """
    from scipy.special import ndtr

    finite = boot[np.isfinite(boot)]
    if finite.size < 2 or not np.isfinite(theta):
        return np.nan
    se = float(finite.std(ddof=1))
    if se == 0:
        return 1.0 if theta == 0 else 0.0
    return float(min(1.0, 2 * ndtr(-abs(theta) / se)))


def _tests(point: dict, boot: dict, jack: dict, names: list[str], metrics: list[str],
           settings: dict[str, Any]) -> pd.DataFrame:
    """Best against every other model, per metric: paired bootstrap differences, Holm."""
    from retaillab.metrics.compare import holm

    columns = ["best", "mean_best", "mean_other", "difference", "ci_low", "ci_high",
               "p_value", "p_holm", "better"]
    rows = []
    if len(names) < 2:
        return pd.DataFrame(columns=["metric", "model", *columns]).set_index(
            ["metric", "model"])
    for k in metrics:
        lower = k in LOWER_IS_BETTER
        values = np.array([point[m][k] for m in names])
        finite = np.where(np.isfinite(values), values, np.inf if lower else -np.inf)
        best = names[int(np.argmin(finite) if lower else np.argmax(finite))]
        others = [m for m in names if m != best]
        pairs = [(best, o) for o in others]
        if settings["family"] == "pairs":
            pairs += [(a, b) for i, a in enumerate(others) for b in others[i + 1:]]
        found = []
        for a, b in pairs:
            d = point[a][k] - point[b][k]
            db, dj = boot[a][k] - boot[b][k], jack[a][k] - jack[b][k]
            found.append((d, _bca(d, db, dj, settings["level"]), _pvalue(d, db)))
        p = np.array([f[2] for f in found])
        adjusted = np.full(p.size, np.nan)
        ok = np.isfinite(p)
        if ok.any():
            adjusted[ok] = holm(p[ok])
        sign = -1.0 if lower else 1.0
        for (_, other), (d, (low, high), p_raw), p_adj in zip(pairs[:len(others)], found,
                                                              adjusted, strict=False):
            rows.append({"metric": k, "model": other, "best": best,
                         "mean_best": point[best][k], "mean_other": point[other][k],
                         "difference": d, "ci_low": low, "ci_high": high, "p_value": p_raw,
                         "p_holm": float(p_adj),
                         "better": bool(p_adj < settings["alpha"] and sign * d > 0)})
    return pd.DataFrame(rows).set_index(["metric", "model"])


# -- the MLflow record -----------------------------------------------------------------------

def _log(result: Timeline, specs: dict[str, dict[str, Any]], run: Any) -> None:
    """One child run per model: hyperparameters, metrics with their bounds, the interval's
    name, timings and the reliability curve; the parent gets the tables."""
    from retaillab.metrics.compare import TAG_INTERVAL

    n = int(result.sizes.loc["evaluate", "customers"])
    interval = (f"BCa bootstrap over {n:,} holdout customers ({result.n_resamples} resamples, "
                f"seed {result.seed}); paired tests vs the best, Holm over "
                f"{'every pair' if result.family == 'pairs' else 'the best'}")
    for name, params in specs.items():
        kind = _family(name)
        shown = {"family": kind, **params, "horizon_days": result.horizon_days,
                 "cutoff": result.cutoff}
        if kind != "btyd":
            shown["fit_cutoff"] = result.fit_cutoff
        context = run.model(name, shown) if run is not None else nullcontext()
        with context as child:
            rows = result.table.loc[name]
            logged = {}
            for metric, row in rows.iterrows():
                logged.update({metric: row["mean"], f"{metric}_ci_low": row["ci_low"],
                               f"{metric}_ci_high": row["ci_high"]})
            logged.update(result.timings.loc[name].to_dict())
            child.log_metrics({k: v for k, v in logged.items() if np.isfinite(v)})
            child.set_tags({TAG_INTERVAL: interval})
            child.log_table(result.calibration(name).set_index("bin"), CALIBRATION_FILE)
            result.child_runs[name] = child.run_id
    run.log_table(result.table, "timeline.csv")
    run.log_table(result.tests, "timeline_tests.csv")
    run.log_table(result.sizes, "timeline_sizes.csv")
