"""The report's calibration section: each churn model's reliability curve over its pooled
out-of-fold predictions, checked against a by-hand binning of those predictions."""

from __future__ import annotations

import numpy as np
import pandas as pd

from retaillab import churn, data, report, tracking


def test_churn_reliability_curves_reach_the_report(store):
    customers = data.load("telco_churn").customers.sample(900, random_state=1)
    run = tracking.notebook_run(None, experiment="calibrated")
    result = churn.compare(customers, models=["dummy", "logistic"], n_splits=3, n_repeats=2,
                           run=run, importance=False, progress=False, log_models="none")
    run.close()
    rep = report.gather("calibrated")
    assert set(rep.calibration) == {"dummy", "logistic"}
    pooled = result.predictions[result.predictions["model"] == "logistic"]
    bins = np.floor(pooled["probability"].to_numpy() * 10).clip(0, 9).astype(int)
    by_hand = pooled.groupby(bins).agg(customers=("churn", "size"),
                                       predicted=("probability", "mean"),
                                       observed=("churn", "mean"))
    curve = rep.calibration["logistic"].set_index("bin")
    assert curve.index.tolist() == by_hand.index.tolist()
    assert curve["customers"].tolist() == by_hand["customers"].tolist()
    assert np.allclose(curve["predicted"], by_hand["predicted"], rtol=0, atol=1e-12)
    assert np.allclose(curve["observed"], by_hand["observed"].astype(float), rtol=0, atol=1e-12)
    # every customer counted once per repeat
    assert curve["customers"].sum() == 2 * len(customers)
    weights = by_hand["customers"] / by_hand["customers"].sum()
    pooled_ece = float((weights * (by_hand["observed"] - by_hand["predicted"]).abs()).sum())
    assert pooled_ece < 0.1  # an unweighted logistic fit is close to calibrated
    page = report.experiment_html(rep)
    assert "<h3>Calibration</h3>" in page and "reliability curves" in page
    assert isinstance(rep.models.loc["logistic", "ece"], float)
    assert pd.notna(rep.models.loc["dummy", "brier"])
