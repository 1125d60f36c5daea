"""Metrics of churn scores: ranking (ROC AUC, PR AUC), probability (Brier, log loss, expected
calibration error) and targeting (lift and capture rate at the top q of customers), per fold.

Lift and capture are written here because scikit-learn has no version of them; ROC AUC,
PR AUC (average precision), Brier score and log loss are scikit-learn's own, so a plain
``cross_validate`` with the same scorers gives identical numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from retaillab.errors import DataError, ParameterError

__all__ = ["DEPTHS", "ECE_BINS", "METRICS", "capture_at", "expected_calibration_error",
           "fold_metrics", "lift_at", "metric_name", "reliability"]

#: equal-width probability bins of the expected calibration error and reliability curve
ECE_BINS = 10

#: Targeting depths reported by :func:`fold_metrics` (top 10% and top 20%).
DEPTHS: tuple[float, ...] = (0.1, 0.2)


def metric_name(kind: str, q: float) -> str:
    """``lift_at_10`` for ``("lift", 0.1)``: the depth in percent of customers."""
    return f"{kind}_at_{round(q * 100):d}"


#: Every metric :func:`fold_metrics` returns, in display order.
METRICS: tuple[str, ...] = ("roc_auc", "pr_auc", "brier", "log_loss", "ece",
                            *(metric_name(k, q) for k in ("lift", "capture") for q in DEPTHS))

#: Metrics where smaller is better.
LOWER_IS_BETTER = frozenset({"brier", "log_loss", "ece"})


def _inputs(y_true: object, score: object) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true)
    s = np.asarray(score, dtype="float64")
    if y.ndim != 1 or s.ndim != 1 or y.size != s.size or y.size == 0:
        raise DataError(f"y_true and score must be 1-D of one non-zero length; got shapes "
                        f"{y.shape} and {s.shape}", source="churn metrics")
    if not np.isfinite(s).all():
        raise DataError(f"{int((~np.isfinite(s)).sum())} scores are NaN or infinite",
                        source="churn metrics", fix="score every customer with a finite number")
    if y.dtype != bool:
        if not np.isin(y, (0, 1)).all():
            raise DataError("y_true must be 0/1 or boolean", source="churn metrics")
        y = y.astype(bool)
    return y, s


def _top_count(q: float, n: int) -> int:
    if isinstance(q, bool) or not isinstance(q, (int, float, np.floating)) or not 0 < q <= 1:
        raise ParameterError("q", "a share of customers in (0, 1], e.g. 0.1 for the top 10%", q)
    return max(1, math.ceil(q * n - 1e-9))


def _churners_in_top(y: np.ndarray, s: np.ndarray, k: int) -> float:
    """Expected churners among the ``k`` best scores when ties are broken at random."""
    return float(ranked_cumsum(s, y.astype("float64"))[k])


def ranked_cumsum(score: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Running sums of ``values`` over customers by descending ``score``, ties averaged.

    Entry ``k`` (``k = 0 .. n``) is the expected sum over the ``k`` best-scored customers when
    ties are broken at random: each member of a tied block counts as the block's mean.
    """
    order = np.argsort(-score, kind="stable")
    ranked = score[order]
    block = np.concatenate([[0], np.cumsum(ranked[1:] != ranked[:-1])]) if ranked.size else \
        np.zeros(0, dtype=int)
    means = np.bincount(block, weights=values[order]) / np.bincount(block)
    return np.concatenate([[0.0], np.cumsum(means[block])])


def capture_at(y_true: object, score: object, q: float) -> float:
    """Capture rate at depth ``q``: the share of all churners among the top ``q`` customers.

    ``capture@q = churners in top k / all churners`` with ``k = ceil(q * n)`` customers of
    highest score (also "recall at q" or the cumulative gains curve at ``q``). Customers tied
    with the ``k``-th score share the remaining places: the count is its expectation under a
    random order of the ties, so a constant score captures exactly ``k / n``.
    """
    y, s = _inputs(y_true, score)
    k = _top_count(q, y.size)
    churners = int(y.sum())
    if churners == 0:
        raise DataError("no churner in y_true; capture is undefined", source="capture_at")
    return _churners_in_top(y, s, k) / churners


def lift_at(y_true: object, score: object, q: float) -> float:
    """Lift at depth ``q``: churn rate among the top ``q`` customers over the overall rate.

    ``lift@q = (churners in top k / k) / (churners / n)`` with ``k = ceil(q * n)`` customers of
    highest score, ties shared as in :func:`capture_at`. Random targeting has lift 1; a lift of
    3 at 10% means the top decile holds churners three times as densely as the base.
    Equivalently ``lift@q = capture@q * n / k``.
    """
    y, s = _inputs(y_true, score)
    k = _top_count(q, y.size)
    churners = int(y.sum())
    if churners == 0:
        raise DataError("no churner in y_true; lift is undefined", source="lift_at")
    return (_churners_in_top(y, s, k) / k) / (churners / y.size)


def _bins(p: np.ndarray, n_bins: int) -> np.ndarray:
    """Bin of each probability among ``n_bins`` equal-width bins of [0, 1] (1.0 in the last)."""
    return np.minimum((p * n_bins).astype(np.int64), n_bins - 1)


def reliability(y_true: object, probability: object, n_bins: int = ECE_BINS) -> pd.DataFrame:
    """The reliability curve: per non-empty equal-width bin of predicted probability,
    ``bin`` (0-based), ``low``/``high`` (its edges), ``customers``, ``predicted`` (mean
    probability) and ``observed`` (churn rate). A calibrated model has observed == predicted."""
    y, p = _inputs(y_true, probability)
    bins = _bins(p, n_bins)
    count = np.bincount(bins, minlength=n_bins)
    used = count > 0
    predicted = np.bincount(bins, weights=p, minlength=n_bins)[used] / count[used]
    observed = np.bincount(bins, weights=y.astype(float), minlength=n_bins)[used] / count[used]
    index = np.flatnonzero(used)
    return pd.DataFrame({"bin": index, "low": index / n_bins, "high": (index + 1) / n_bins,
                         "customers": count[used], "predicted": predicted,
                         "observed": observed})


def expected_calibration_error(y_true: object, probability: object,
                               n_bins: int = ECE_BINS) -> float:
    """Expected calibration error (Naeini, Cooper & Hauskrecht 2015; Guo et al. 2017): the
    customer-weighted mean of ``|observed churn rate - mean probability|`` over ``n_bins``
    equal-width probability bins. 0 for a calibrated model; the Brier score mixes this with
    how well the scores separate churners."""
    table = reliability(y_true, probability, n_bins)
    weights = table["customers"].to_numpy() / table["customers"].sum()
    return float(np.sum(weights * np.abs(table["observed"] - table["predicted"]).to_numpy()))


def fold_metrics(y_true: object, probability: object,
                 depths: Sequence[float] = DEPTHS) -> dict[str, float]:
    """Every churn metric of one fold's predicted churn probabilities.

    ``roc_auc`` (area under the ROC curve), ``pr_auc`` (average precision, the step-wise area
    under the precision-recall curve, as scikit-learn's ``average_precision`` scorer),
    ``brier`` (mean squared error of the probability), ``log_loss`` (mean negative
    log-likelihood, probabilities clipped by scikit-learn), ``ece`` (expected calibration
    error, :func:`expected_calibration_error`), and ``lift_at_Q``/``capture_at_Q``
    for each depth (see :func:`lift_at`, :func:`capture_at`).
    """
    from sklearn.metrics import (
        average_precision_score,
        brier_score_loss,
        log_loss,
        roc_auc_score,
    )

    y, p = _inputs(y_true, probability)
    if y.all() or not y.any():
        raise DataError("a fold holds one class only; its ROC AUC is undefined",
                        source="fold_metrics", fix="use stratified folds with fewer splits")
    out = {"roc_auc": float(roc_auc_score(y, p)),
           "pr_auc": float(average_precision_score(y, p)),
           "brier": float(brier_score_loss(y, p)),
           "log_loss": float(log_loss(y, p, labels=[False, True])),
           "ece": expected_calibration_error(y, p)}
    for q in depths:
        out[metric_name("lift", q)] = lift_at(y, p, q)
    for q in depths:
        out[metric_name("capture", q)] = capture_at(y, p, q)
    return out
