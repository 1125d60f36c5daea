"""Figures of the CLV notebook; each returns a matplotlib ``Figure`` (for ``run.log_figure``)
and imports matplotlib only when called."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

__all__ = ["clv_deciles_plot", "conditional_plot", "p_alive_plot", "tier_transition_plot",
           "tracking_plot"]

_ACTUAL_STYLE = {"color": "black", "linewidth": 2.0}


def tracking_plot(track: pd.DataFrame, *, title: str = "Cumulative repeat transactions"):
    """Actual vs expected cumulative repeat transactions by week, the cut marked (FHL Fig 2)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4))
    ax.plot(track.index, track["actual"], label="actual", **_ACTUAL_STYLE)
    for name in track.columns.drop("actual"):
        ax.plot(track.index, track[name], linestyle="--", label=name)
    cut = track.attrs.get("calibration_end_step")
    if cut is not None:
        ax.axvline(cut, color="grey", linestyle=":", label="end of calibration")
    ax.set_xlabel("week")
    ax.set_ylabel("cumulative repeat transactions")
    ax.set_title(title)
    ax.legend(frameon=False)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def conditional_plot(table: pd.DataFrame, *, title: str = "Holdout purchases by calibration "
                     "frequency"):
    """Mean holdout purchases per calibration frequency 0..7+, actual vs predictors (FHL
    Fig. 4); ``table`` from :func:`retaillab.clv.conditional_by_frequency`."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4))
    x = np.arange(len(table))
    ax.plot(x, table["actual"], marker="o", label="actual", **_ACTUAL_STYLE)
    for name in table.columns.drop(["customers", "actual"]):
        ax.plot(x, table[name], marker=".", linestyle="--", label=name)
    ax.set_xticks(x, table.index)
    ax.set_xlabel("repeat purchases in calibration")
    ax.set_ylabel("mean purchases in holdout")
    ax.set_title(title)
    ax.legend(frameon=False)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def p_alive_plot(p_alive: Mapping[str, np.ndarray] | pd.DataFrame, *, bins: int = 20):
    """Histogram of P(alive) per model."""
    import matplotlib.pyplot as plt

    frame = pd.DataFrame(p_alive)
    fig, ax = plt.subplots(figsize=(7.5, 4))
    edges = np.linspace(0, 1, bins + 1)
    for name in frame.columns:
        ax.hist(frame[name], bins=edges, histtype="step", linewidth=1.5, label=name)
    ax.set_xlabel("P(alive at the end of calibration)")
    ax.set_ylabel("customers")
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig


def clv_deciles_plot(deciles: pd.DataFrame, *, title: str = "CLV by decile"):
    """Bars of mean predicted CLV per decile (rows) for each model (columns)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4))
    width = 0.8 / max(len(deciles.columns), 1)
    x = np.arange(len(deciles))
    for i, name in enumerate(deciles.columns):
        ax.bar(x + i * width, deciles[name], width=width, label=name)
    ax.set_xticks(x + 0.4 - width / 2, deciles.index)
    ax.set_xlabel("decile (10 = most valuable)")
    ax.set_ylabel("mean CLV")
    ax.set_title(title)
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig


def tier_transition_plot(matrix: pd.DataFrame, *, title: str = "Tier transitions"):
    """Heat map of a tier-transition matrix (rows: from, columns: to)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4))
    image = ax.imshow(matrix.to_numpy(dtype=float), cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(matrix.columns)), matrix.columns)
    ax.set_yticks(range(len(matrix.index)), matrix.index)
    for (i, j), value in np.ndenumerate(matrix.to_numpy(dtype=float)):
        ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=8)
    ax.set_xlabel("next period")
    ax.set_ylabel("this period")
    ax.set_title(title)
    fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    return fig
