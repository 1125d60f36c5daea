"""Every figure is a matplotlib Figure with what it promises on it."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pandas as pd

from retaillab import clv
from retaillab.clv import plots


def test_figures(cdnow_tx, cdnow_summary):
    from matplotlib.figure import Figure

    bg = clv.BetaGeo()
    bg.params_ = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    track = clv.tracking(cdnow_tx, {"bg_nbd": bg}, calibration_end="1997-09-30",
                         holdout_end="1998-06-30")
    fig = plots.tracking_plot(track)
    assert isinstance(fig, Figure)
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert labels[:2] == ["actual", "bg_nbd"] and "end of calibration" in labels
    table = clv.holdout_table(cdnow_summary, {"bg_nbd": bg})
    fig = plots.conditional_plot(clv.conditional_by_frequency(table))
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()][-1] == "7+"
    p = pd.DataFrame({"bg_nbd": bg.conditional_probability_alive(cdnow_summary)})
    assert isinstance(plots.p_alive_plot(p), Figure)
    deciles = pd.DataFrame({"a": range(1, 11), "b": range(2, 12)}, index=range(1, 11))
    assert len(plots.clv_deciles_plot(deciles).axes[0].patches) == 20
    matrix = clv.tier_transitions(clv.value_tiers(cdnow_tx))
    assert isinstance(plots.tier_transition_plot(matrix), Figure)
    import matplotlib.pyplot as plt

    plt.close("all")


def test_import_stays_light():
    import subprocess
    import sys

    code = ("import sys, retaillab.clv as c; c.rfm_summary; "
            "print(sorted(m for m in ('scipy', 'matplotlib', 'mlflow', 'lifetimes') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"
