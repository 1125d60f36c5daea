"""Figures of a churn comparison: ROC, precision-recall, calibration, lift and profit.

Every function returns a matplotlib ``Figure`` (log it with ``run.log_figure``) and imports
matplotlib only when called. Curves use the out-of-fold predictions of one repeat, so every
customer appears once, scored by a model that never saw them.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from retaillab.churn.compare import ChurnComparison
from retaillab.churn.metrics import ranked_cumsum
from retaillab.churn.retention import RetentionValue

__all__ = ["calibration_plot", "lift_chart", "pr_curves", "profit_curve", "roc_curves"]


def _axes(ncols: int = 1, width: float = 5.2):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, ncols, figsize=(width * ncols, 4.2), squeeze=False)
    return fig, axes[0]


def roc_curves(result: ChurnComparison, repeat: int = 0):
    """ROC curve of every model (out-of-fold, one repeat), AUC in the legend."""
    from sklearn.metrics import roc_auc_score, roc_curve

    fig, (ax,) = _axes()
    for model in result.models:
        oof = result.oof(model, repeat)
        fpr, tpr, _ = roc_curve(oof["churn"], oof["probability"])
        ax.plot(fpr, tpr, label=f"{model} ({roc_auc_score(oof['churn'], oof['probability']):.3f})")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    ax.set(xlabel="false positive rate", ylabel="true positive rate (recall)",
           title="ROC (out-of-fold)")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def pr_curves(result: ChurnComparison, repeat: int = 0):
    """Precision-recall curve of every model, average precision in the legend, base rate
    dotted."""
    from sklearn.metrics import average_precision_score, precision_recall_curve

    fig, (ax,) = _axes()
    base = 0.0
    for model in result.models:
        oof = result.oof(model, repeat)
        precision, recall, _ = precision_recall_curve(oof["churn"], oof["probability"])
        ap = average_precision_score(oof["churn"], oof["probability"])
        ax.step(recall, precision, where="post", label=f"{model} ({ap:.3f})")
        base = float(oof["churn"].mean())
    ax.axhline(base, color="grey", linestyle=":", linewidth=1)
    ax.set(xlabel="recall", ylabel="precision", ylim=(0, 1.02),
           title="Precision-recall (out-of-fold)")
    ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    return fig


def calibration_plot(result: ChurnComparison, n_bins: int = 10):
    """Observed churn rate against mean predicted probability, in quantile bins.

    Class-weighted models over-predict churn by design (weights move the decision threshold
    to 0.5 for balanced classes), which this plot shows; their ranking is unaffected.
    """
    fig, (ax,) = _axes()
    for model in result.models:
        table = result.calibration(model, n_bins)
        ax.plot(table["predicted"], table["observed"], marker="o", markersize=3, label=model)
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    ax.set(xlabel="mean predicted probability", ylabel="observed churn rate",
           xlim=(0, 1), ylim=(0, 1), title="Calibration (all repeats)")
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig


def _gains(churned: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Depth ``k / n`` and capture rate at it, ``k = 1 .. n``, ties at their expectation (as
    :func:`~retaillab.churn.capture_at`), so a constant score draws the diagonal."""
    hits = ranked_cumsum(score, churned.astype("float64"))[1:]
    depth = np.arange(1, churned.size + 1) / churned.size
    return depth, hits / max(hits[-1], 1.0)


def lift_chart(result: ChurnComparison, repeat: int = 0):
    """Left: cumulative gains (capture rate against share of customers contacted).
    Right: cumulative lift against the same depth; random targeting is 1."""
    fig, (gain_ax, lift_ax) = _axes(2)
    for model in result.models:
        oof = result.oof(model, repeat)
        depth, capture = _gains(oof["churn"].to_numpy(), oof["probability"].to_numpy())
        gain_ax.plot(depth, capture, label=model)
        lift_ax.plot(depth, capture / depth, label=model)
    gain_ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    lift_ax.axhline(1, color="grey", linestyle=":", linewidth=1)
    for x in (0.1, 0.2):
        lift_ax.axvline(x, color="#bbbbbb", linewidth=0.8)
    gain_ax.set(xlabel="share of customers contacted (by score)", ylabel="share of churners "
                "captured", title="Cumulative gains")
    lift_ax.set(xlabel="share of customers contacted (by score)", ylabel="lift", xlim=(0, 1),
                title="Lift")
    lift_ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def profit_curve(values: RetentionValue | Mapping[str, RetentionValue]):
    """Expected campaign profit against targeting depth, best depth of each curve marked."""
    if isinstance(values, RetentionValue):
        values = {"profit": values}
    fig, (ax,) = _axes(width=6.0)
    for label, found in values.items():
        line, = ax.plot(found.curve["depth"], found.curve["profit"],
                        label=f"{label}: best {found.best_profit:,.0f} at "
                              f"{found.best_depth:.0%}")
        ax.plot(found.best_depth, found.best_profit, marker="o", color=line.get_color())
    ax.axhline(0, color="grey", linestyle=":", linewidth=1)
    ax.set(xlabel="share of customers contacted (by score)", ylabel="expected profit",
           title="Retention campaign profit")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
