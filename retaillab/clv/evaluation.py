"""Holdout evaluation of purchase models, the way Fader, Hardie & Lee (2005) report it.

* per customer: predicted vs actual repeat purchases in the holdout (MAE, RMSE, correlation);
* in aggregate: expected vs actual cumulative repeat transactions, week by week, over the
  calibration and holdout periods (their Figure 2, the "tracking plot");
* by calibration frequency 0..7+: mean holdout purchases, actual vs predicted (Figure 4).

Baselines (:mod:`retaillab.clv.baselines`) enter every table as columns like the models.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from retaillab.clv._occasions import (
    check_periods,
    occasions,
    timestamp,
    unit_days,
    with_birth,
)
from retaillab.data.schema import COLUMNS as C
from retaillab.errors import DataError

__all__ = ["conditional_by_frequency", "holdout_metrics", "holdout_table", "tracking"]

ACTUAL = "actual"


def holdout_table(summary: pd.DataFrame, models: Mapping[str, object],
                  baselines: Mapping[str, pd.Series] | None = None) -> pd.DataFrame:
    """Per customer: calibration ``frequency``, ``actual`` holdout purchases and one column
    of predicted holdout purchases per model (``conditional_expected_purchases`` over
    ``duration_holdout``) and per baseline."""
    need = ("frequency_holdout", "duration_holdout")
    if any(c not in summary.columns for c in need):
        raise DataError("the summary has no holdout columns", source="holdout_table",
                        fix="build it with rfm_summary(..., holdout_end=...)")
    out = pd.DataFrame({"frequency": summary["frequency"],
                        ACTUAL: summary["frequency_holdout"].astype(float)})
    duration = summary["duration_holdout"].to_numpy(dtype=float)
    for name, model in models.items():
        out[name] = model.conditional_expected_purchases(duration, summary)
    for name, values in (baselines or {}).items():
        out[name] = pd.Series(values).reindex(summary.index).to_numpy(dtype=float)
    return out


def holdout_metrics(table: pd.DataFrame) -> pd.DataFrame:
    """One row per predictor: ``mae``, ``rmse``, ``correlation`` with the actual holdout
    purchases, and the aggregate ``predicted_total`` / ``actual_total`` / ``total_error_pct``."""
    actual = table[ACTUAL].to_numpy(dtype=float)
    rows = {}
    for name in table.columns.drop(["frequency", ACTUAL]):
        pred = table[name].to_numpy(dtype=float)
        err = pred - actual
        corr = float(np.corrcoef(pred, actual)[0, 1]) if np.std(pred) > 0 else float("nan")
        rows[name] = {"mae": float(np.mean(np.abs(err))),
                      "rmse": float(np.sqrt(np.mean(err**2))),
                      "correlation": corr,
                      "predicted_total": float(pred.sum()),
                      "actual_total": float(actual.sum()),
                      "total_error_pct": float(100 * (pred.sum() - actual.sum())
                                               / max(actual.sum(), 1e-12))}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("model")


def conditional_by_frequency(table: pd.DataFrame, max_frequency: int = 7) -> pd.DataFrame:
    """Mean holdout purchases by calibration frequency ``0 .. max_frequency+`` (FHL Fig. 4),
    actual and per predictor, with the number of customers in each bucket."""
    bucket = table["frequency"].clip(upper=max_frequency).astype(int)
    labels = [str(i) for i in range(max_frequency)] + [f"{max_frequency}+"]
    grouped = table.drop(columns="frequency").groupby(bucket.to_numpy())
    out = grouped.mean()
    out.insert(0, "customers", grouped.size())
    out.index = pd.Index([labels[i] for i in out.index], name="calibration_frequency")
    return out


def tracking(tx: pd.DataFrame, models: Mapping[str, object], *, calibration_end: object,
             holdout_end: object, unit: str = "W", step_days: int = 7) -> pd.DataFrame:
    """Cumulative repeat transactions, actual and expected, at the end of each week.

    Customers are those whose first purchase is on or before ``calibration_end``; a model's
    expectation is ``sum_i E[X(t - birth_i)]`` over them (unconditional, eq. 9 of FHL 2005),
    computed once per birth day. The index is the week number counted from the first
    customer's first purchase; ``calibration_end_step`` in ``attrs`` marks the cut. Both
    cut-offs are whole days (a purchase at any time of the ``calibration_end`` day is in
    calibration); a ``holdout_end`` after the last transaction is a :class:`DataError`, as in
    :func:`retaillab.clv.rfm_summary`.
    """
    occ = with_birth(occasions(tx, amount=False))
    cal_end = timestamp("calibration_end", calibration_end, occ[C.date])
    hold_end = timestamp("holdout_end", holdout_end, occ[C.date])
    check_periods(occ[C.date], cal_end, hold_end)
    occ = occ[(occ["birth"] <= cal_end) & (occ[C.date] <= hold_end)]
    start = occ["birth"].min()
    n_steps = int(np.ceil(((hold_end - start).days + 1) / step_days))
    edges = np.arange(1, n_steps + 1) * step_days  # days since start, end of each step
    repeat_days = (occ.loc[occ["repeat"].to_numpy(), C.date] - start).dt.days.to_numpy()
    counts = np.searchsorted(np.sort(repeat_days), edges, side="left")
    out = pd.DataFrame({ACTUAL: counts.astype(float)},
                       index=pd.Index(np.arange(1, n_steps + 1), name="week"))
    births = occ.drop_duplicates(C.customer)["birth"]
    cohort = ((births - start).dt.days).value_counts()
    scale = unit_days(unit)
    for name, model in models.items():
        age = (edges[None, :] - cohort.index.to_numpy(dtype=float)[:, None]) / scale
        expected = model.expected_purchases(np.clip(age, 0, None))
        out[name] = (cohort.to_numpy(dtype=float)[:, None] * expected).sum(axis=0)
    out.attrs["calibration_end_step"] = ((cal_end - start).days + 1) / step_days
    return out
