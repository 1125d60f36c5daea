"""Compare CLV models on one calibration/holdout split, each logged as an MLflow child run.

:func:`compare` is what ``notebooks/clv_compare.ipynb`` calls: it summarises transactions,
fits every requested model, scores the holdout against the baselines, and returns the tables
the notebook shows.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from retaillab.clv import baselines as base
from retaillab.clv.evaluation import (
    conditional_by_frequency,
    holdout_metrics,
    holdout_table,
    tracking,
)
from retaillab.clv.registry import available, create
from retaillab.clv.rfm import rfm_summary
from retaillab.clv.value import customer_lifetime_value, month_length
from retaillab.errors import ParameterError, UnknownNameError
from retaillab.models.compared import check_log_models

__all__ = ["ClvComparison", "compare"]


@dataclass
class ClvComparison:
    """What :func:`compare` found (every frame indexed by model or by customer)."""

    summary: pd.DataFrame
    models: dict[str, Any]
    parameters: pd.DataFrame
    metrics: pd.DataFrame
    holdout: pd.DataFrame
    tracking: pd.DataFrame
    by_frequency: pd.DataFrame
    p_alive: pd.DataFrame
    clv: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: model -> the URI of its logged MLflow model (``log_models``)
    logged: dict[str, str] = field(default_factory=dict)
    #: (model, quantity) -> point, mean, low, high: 95% intervals from parameter draws of the
    #: total expected holdout purchases (``purchases``) and, with a spend model, the mean CLV
    #: (``mean_clv``); see :func:`retaillab.clv.uncertainty.predict_interval`
    intervals: pd.DataFrame = field(default_factory=pd.DataFrame)


def compare(tx: pd.DataFrame, *, models: Sequence[str], calibration_end: object,
            holdout_end: object, unit: str = "W", discount_rate: float = 0.01,
            horizon: int = 12, penalizer: float = 0.0, run: Any = None,
            log_models: str = "winner") -> ClvComparison:
    """Fit ``models`` (registry names) on calibration, score the holdout, compute CLV.

    Transaction models are scored against the rate and last-period baselines; when
    ``gamma_gamma`` is among ``models`` each transaction model's discounted CLV over
    ``horizon`` months is computed with it, beside the simple AOV x frequency x lifetime
    baseline. With ``run`` (a :class:`retaillab.tracking.NotebookRun`) every model and
    baseline is one child run with its params, log-likelihood, holdout metrics and timings.

    ``calibration_end`` and ``holdout_end`` are whole days (:func:`retaillab.clv.rfm_summary`);
    a ``holdout_end`` after the last transaction, or a ``calibration_end`` before the first
    or not before ``holdout_end``, is refused before any model is fitted.

    ``log_models`` (with ``run``): which purchase models to log as MLflow models
    (:mod:`retaillab.models.compared`): ``"winner"`` (the lowest holdout RMSE), ``"all"`` or
    ``"none"``; each is logged with the Gamma-Gamma spend model when it was compared
    (:class:`retaillab.models.clv.CLVModel`, fitted on the calibration period, as evaluated),
    as ``runs:/<its child run>/model``.
    """
    check_log_models(log_models)
    for name in models:
        if name not in available():
            raise UnknownNameError("CLV model", name, available())
    transaction_names = [m for m in models if m in available("transactions")]
    if not transaction_names:
        raise ParameterError("models", "at least one of " + ", ".join(available(
            "transactions")), list(models))
    summary = rfm_summary(tx, calibration_end=calibration_end, unit=unit,
                          holdout_end=holdout_end)
    duration = float(summary["duration_holdout"].iloc[0])
    fitted, timings, param_rows = {}, {}, []
    for name in models:
        model = create(name, penalizer=penalizer)
        start = time.perf_counter()
        model.fit(summary)
        timings[name] = {"fit_seconds": time.perf_counter() - start}
        fitted[name] = model
        param_rows.append(model.summary().reset_index().assign(model=name))
    transaction_models = {n: fitted[n] for n in transaction_names}
    baselines = {
        "rate_baseline": base.rate_baseline(summary, duration),
        "last_period_baseline": base.last_period_baseline(
            tx, summary, calibration_end=calibration_end, length=duration, unit=unit),
    }
    start = time.perf_counter()
    table = holdout_table(summary, transaction_models, baselines)
    predict_seconds = (time.perf_counter() - start) / len(transaction_models)
    metrics = holdout_metrics(table)
    p_alive = pd.DataFrame({n: m.conditional_probability_alive(summary)
                            for n, m in transaction_models.items()}, index=summary.index)
    clv = pd.DataFrame(index=summary.index)
    if "gamma_gamma" in fitted:
        for n, m in transaction_models.items():
            clv[n] = customer_lifetime_value(m, fitted["gamma_gamma"], summary, months=horizon,
                                             discount_rate=discount_rate, unit=unit)
        clv["simple_clv"] = base.simple_clv(summary, lifetime=horizon * month_length(unit))
    track = tracking(tx, transaction_models, calibration_end=calibration_end,
                     holdout_end=holdout_end, unit=unit)
    intervals = _intervals(summary, transaction_models, fitted.get("gamma_gamma"),
                           duration=duration, unit=unit, months=horizon,
                           discount_rate=discount_rate)
    result = ClvComparison(summary, fitted, pd.concat(param_rows, ignore_index=True)
                           .set_index(["model", "parameter"]), metrics, table, track,
                           conditional_by_frequency(table), p_alive, clv,
                           intervals=intervals)
    if run is not None:
        children = _log(run, result, timings, predict_seconds, penalizer=penalizer, unit=unit)
        _log_models(run, result, children, log_models, unit=unit, months=horizon,
                    discount_rate=discount_rate, calibration_end=calibration_end)
    return result


def _log(run, result: ClvComparison, timings, predict_seconds, *, penalizer, unit
         ) -> dict[str, str]:
    children = {}
    for name, model in result.models.items():
        params = {"penalizer": penalizer, "unit": unit, "se_basis": model.se_basis_,
                  **{f"estimate.{k}": round(v, 6) for k, v in model.params_.items()}}
        with run.model(name, params) as child:
            values = {"log_likelihood": model.log_likelihood_,
                      "n_customers": model.n_customers_, **timings[name]}
            values.update({f"se_{k}": v for k, v in model.standard_errors_.items()
                           if np.isfinite(v)})
            if name in result.metrics.index:
                values.update(result.metrics.loc[name].to_dict())
                values["predict_seconds"] = predict_seconds
            if name in result.clv.columns:
                values["mean_clv"] = float(result.clv[name].mean())
            for quantity, metric in (("purchases", "predicted_total"), ("mean_clv", "mean_clv")):
                if (name, quantity) in result.intervals.index:
                    row = result.intervals.loc[(name, quantity)]
                    values[f"{metric}_ci_low"] = float(row["low"])
                    values[f"{metric}_ci_high"] = float(row["high"])
            child.log_metrics(values)
            children[name] = child.run_id
    for name in ("rate_baseline", "last_period_baseline"):
        with run.model(name, {"unit": unit, "kind": "baseline"}) as child:
            child.log_metrics(result.metrics.loc[name].to_dict())
    return children


#: parameter draws behind the logged intervals (seeded: the same run gives the same bounds)
N_DRAWS, SEED = 200, 0


def _intervals(summary, models, spend, *, duration, unit, months, discount_rate
               ) -> pd.DataFrame:
    """95% intervals from parameter draws: each purchase model's total expected holdout
    purchases and, with ``spend``, its mean CLV over customers."""
    from retaillab.clv.uncertainty import predict_interval

    rows = {}
    for name, model in models.items():
        found = predict_interval(model, summary, what="purchases", t=duration,
                                 n_draws=N_DRAWS, seed=SEED)
        rows[(name, "purchases")] = found.totals.loc["total"]
        if spend is not None:
            found = predict_interval(model, summary, what="clv", spend_model=spend,
                                     months=months, discount_rate=discount_rate, unit=unit,
                                     n_draws=N_DRAWS, seed=SEED)
            rows[(name, "mean_clv")] = found.totals.loc["mean"]
    return pd.DataFrame(rows).T.rename_axis(["model", "quantity"])


def winner(result: ClvComparison) -> str:
    """The purchase model with the lowest holdout RMSE (the first listed among ties)."""
    names = [n for n in result.models if n in result.metrics.index]
    return min(names, key=lambda n: (result.metrics.loc[n, "rmse"], names.index(n)))


def _log_models(run, result: ClvComparison, children: dict[str, str], log_models: str, *,
                unit: str, months: int, discount_rate: float, calibration_end: object) -> None:
    """Log the purchase models ``log_models`` names (each with the spend model) into their
    child runs; tag the comparison's run with its winner."""
    from retaillab import models
    from retaillab.models.compared import ARTIFACT, mark, to_log

    best = winner(result)
    names = [n for n in result.models if n in result.metrics.index]
    spend = result.models.get("gamma_gamma")
    logged = {}
    example = result.summary.reset_index().head(5)
    recipe = {"input": "transactions", "unit": unit, "calibration_end": str(calibration_end),
              "months": int(months), "discount_rate": float(discount_rate)}
    for name in to_log(log_models, names, best):
        logged[children[name]] = models.log_model(
            (result.models[name], spend), family="clv", name=ARTIFACT, run_id=children[name],
            uri=run.uri, input_example=example, extra={"input": recipe}, unit=unit,
            months=months, discount_rate=discount_rate)
    result.logged = {n: logged[children[n]] for n in names if children[n] in logged}
    mark(run, best, children[best], logged)


def clv_deciles(clv: pd.DataFrame, reference: str | None = None) -> pd.DataFrame:
    """Mean CLV per decile of ``reference`` (default: the first column), for each column."""
    reference = reference or clv.columns[0]
    ranks = clv[reference].rank(method="first")
    decile = np.ceil(ranks / len(clv) * 10).clip(1, 10).astype(int)
    return clv.groupby(decile.to_numpy()).mean().rename_axis("decile")
