"""The comparison driver logs one child run per model and baseline."""

from __future__ import annotations

import pytest

from retaillab import clv, tracking
from retaillab.clv.compare import clv_deciles, compare
from retaillab.errors import ParameterError, UnknownNameError


def test_compare_logs_child_runs(cdnow_tx, store):
    run = tracking.notebook_run(None, experiment="clv-compare-test", params={})
    result = compare(cdnow_tx, models=["bg_nbd", "gamma_gamma"], calibration_end="1997-09-30",
                     holdout_end="1998-06-30", run=run)
    run.close()
    children = tracking.Run(run.run_id, run.experiment_id).children()
    logged = {c.data.tags[tracking.RUN_NAME_TAG]: c.data for c in children}
    assert set(logged) == {"bg_nbd", "gamma_gamma", "rate_baseline", "last_period_baseline"}
    bg = logged["bg_nbd"]
    assert bg.metrics["log_likelihood"] == pytest.approx(-9582.43, abs=0.01)
    for metric in ("mae", "rmse", "correlation", "fit_seconds", "predict_seconds", "se_r"):
        assert metric in bg.metrics, metric
    assert float(bg.params["estimate.r"]) == pytest.approx(0.2426, abs=1e-4)
    assert bg.metrics["mae"] == pytest.approx(result.metrics.loc["bg_nbd", "mae"])
    assert list(result.clv.columns) == ["bg_nbd", "simple_clv"]
    deciles = clv_deciles(result.clv)
    assert list(deciles.index) == list(range(1, 11))
    assert deciles["bg_nbd"].is_monotonic_increasing


def test_compare_refuses_unknown_or_spend_only_models(cdnow_tx):
    with pytest.raises(UnknownNameError, match="Did you mean 'bg_nbd'"):
        compare(cdnow_tx, models=["bg_nbdd"], calibration_end="1997-09-30",
                holdout_end="1998-06-30")
    with pytest.raises(ParameterError, match="models must be at least one of"):
        compare(cdnow_tx, models=["gamma_gamma"], calibration_end="1997-09-30",
                holdout_end="1998-06-30")


def test_penalizer_shrinks_the_parameters(cdnow_summary):
    plain = clv.BetaGeo().fit(cdnow_summary)
    shrunk = clv.BetaGeo(penalizer=0.1).fit(cdnow_summary)
    norm = sum(v**2 for v in shrunk.params_.values())
    assert norm < sum(v**2 for v in plain.params_.values())
    assert shrunk.log_likelihood_ < plain.log_likelihood_


def test_clv_compare_stays_the_function_after_its_module_is_imported():
    import sys

    from retaillab import clv
    from retaillab.clv.compare import clv_deciles  # noqa: F401 - loads the module

    module = sys.modules["retaillab.clv.compare"]
    assert clv.compare is module.compare  # the function, as in churn and recsys
