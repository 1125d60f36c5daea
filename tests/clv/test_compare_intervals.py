"""A CLV comparison carries 95% intervals (parameter draws, seeded) on each purchase model's
total expected holdout purchases and mean CLV, logged beside the point values."""

from __future__ import annotations

import pandas as pd

from retaillab import data, tracking
from retaillab.clv.compare import compare


def test_totals_carry_seeded_intervals_on_the_record(store):
    tx = data.load("cdnow_sample").transactions
    run = tracking.notebook_run(None, experiment="clv-intervals")
    found = compare(tx, models=["bg_nbd", "gamma_gamma"], calibration_end="1997-09-30",
                    holdout_end="1998-06-30", run=run, log_models="none")
    run.close()
    again = compare(tx, models=["bg_nbd", "gamma_gamma"], calibration_end="1997-09-30",
                    holdout_end="1998-06-30")
    pd.testing.assert_frame_equal(found.intervals, again.intervals)  # seeded
    purchases = found.intervals.loc[("bg_nbd", "purchases")]
    total = found.metrics.loc["bg_nbd", "predicted_total"]
    assert purchases["point"] == total and purchases["low"] < total < purchases["high"]
    mean_clv = found.intervals.loc[("bg_nbd", "mean_clv")]
    assert mean_clv["point"] == found.clv["bg_nbd"].mean()
    assert mean_clv["low"] < mean_clv["point"] < mean_clv["high"]
    child = next(c for c in run.children() if c.data.tags[tracking.TAG_MODEL] == "bg_nbd")
    logged = child.data.metrics
    assert logged["predicted_total_ci_low"] == purchases["low"]
    assert logged["predicted_total_ci_high"] == purchases["high"]
    assert logged["mean_clv_ci_low"] == mean_clv["low"]
    assert child.data.params["se_basis"] == "likelihood"
