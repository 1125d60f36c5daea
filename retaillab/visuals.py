"""Tables and figures the comparison notebooks and reports share.

Every figure function returns a matplotlib ``Figure`` (so it can be logged with
``run.log_figure``) and imports matplotlib only when called.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def interval_table(intervals: pd.DataFrame, metrics: Sequence[str] | None = None,
                   digits: int = 3) -> pd.DataFrame:
    """Model x metric table of ``mean [low, high]`` strings from a long intervals table."""
    table = intervals if metrics is None else intervals[intervals["metric"].isin(metrics)]
    text = table.assign(cell=[f"{m:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"
                              for m, lo, hi in zip(table["mean"], table["low"], table["high"],
                                                   strict=True)])
    wide = text.pivot(index="model", columns="metric", values="cell")
    order = list(dict.fromkeys(table["model"]))
    columns = list(metrics) if metrics is not None else list(dict.fromkeys(table["metric"]))
    return wide.reindex(index=order, columns=[c for c in columns if c in wide.columns])


def bars_with_intervals(intervals: pd.DataFrame, metrics: Sequence[str], *,
                        title: str = "") -> object:
    """One panel per metric: a bar per model with its 95% interval, best first."""
    import matplotlib.pyplot as plt

    metrics = [m for m in metrics if m in set(intervals["metric"])]
    fig, axes = plt.subplots(1, max(len(metrics), 1), figsize=(4.2 * max(len(metrics), 1), 3.6),
                             squeeze=False)
    for ax, metric in zip(axes[0], metrics, strict=False):
        rows = intervals[intervals["metric"] == metric].sort_values("mean")
        # bounds rounded for display can sit a hair inside the mean: never a negative error bar
        err = np.clip(np.vstack([rows["mean"] - rows["low"], rows["high"] - rows["mean"]]),
                      0, None)
        ax.barh(rows["model"], rows["mean"], xerr=err, color="#4C72B0", ecolor="#333333",
                capsize=3)
        ax.set_title(metric)
        ax.grid(axis="x", alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def accuracy_vs_cost(summary: pd.DataFrame, accuracy: str, cost: Sequence[str], *,
                     lower_is_better: bool = False) -> object:
    """Scatter of a model's accuracy against its seconds (sum of ``cost`` columns, log axis)."""
    import matplotlib.pyplot as plt

    seconds = summary[[c for c in cost if c in summary.columns]].sum(axis=1).clip(lower=1e-4)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.scatter(seconds, summary[accuracy], color="#DD8452", zorder=3)
    for model, x, y in zip(summary.index, seconds, summary[accuracy], strict=True):
        ax.annotate(model, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("seconds (" + " + ".join(c for c in cost if c in summary.columns) + ")")
    ax.set_ylabel(accuracy + (" (lower is better)" if lower_is_better else ""))
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
