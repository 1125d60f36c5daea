"""Churn and CLV models logged into a run and loaded back as pyfunc give exactly the
in-memory predictions; metadata, run tag, size."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from retaillab import churn, clv, data, models, tracking
from retaillab.errors import DataError, ParameterError
from retaillab.models import _common
from retaillab.models.churn import as_input


@pytest.fixture
def run(store):
    return tracking.create_run(tracking.experiment_id("models"))


@pytest.fixture(scope="module")
def telco():
    customers = data.load("telco_churn").customers.sample(800, random_state=0)
    x = customers.drop(columns=["customer", "churn"])
    pipeline = churn.create("logistic").fit(x, customers["churn"])
    return pipeline, x


@pytest.fixture(scope="module")
def cdnow():
    summary = clv.rfm_summary(data.load("cdnow_sample").transactions,
                              calibration_end="1997-09-30", unit="W")
    return clv.BetaGeo().fit(summary), clv.GammaGamma().fit(summary), summary.reset_index()


def _tag(run_id: str, name: str) -> dict:
    return json.loads(tracking.client().get_run(run_id).data.tags[models.model_tag(name)])


def test_churn_pipeline_round_trips_exactly(run, telco):
    pipeline, x = telco
    uri = models.log_model(pipeline, family="churn", name="churn_model", run_id=run.run_id,
                           input_example=x)
    assert uri == f"runs:/{run.run_id}/churn_model"
    loaded = mlflow.pyfunc.load_model(uri)
    out = np.asarray(loaded.predict(as_input(x)))
    assert out.shape == (len(x), 2)
    assert np.array_equal(out[:, 1], pipeline.predict_proba(x)[:, 1])
    assert np.array_equal(models.load(uri).predict(as_input(x.head(3)))[:, 1],
                          pipeline.predict_proba(x.head(3))[:, 1])
    assert loaded.metadata.signature.inputs.input_names() == list(x.columns)
    meta = loaded.metadata.metadata
    assert meta["family"] == "churn" and meta["retaillab_version"] == __import__(
        "retaillab").__version__
    assert meta["model_class"] == "sklearn.pipeline.Pipeline"
    assert meta["estimator_class"].endswith("LogisticRegression")
    assert meta["classes"] == [False, True]
    # the size is the pickle's, exactly
    local = Path(mlflow.artifacts.download_artifacts(uri))
    assert meta["size_bytes"] == (local / "model.pkl").stat().st_size > 0
    assert mlflow.sklearn.load_model(uri).get_params().keys() == pipeline.get_params().keys()
    tag = _tag(run.run_id, "churn_model")
    assert tag["family"] == "churn" and tag["model_uri"] == uri and tag["size_bytes"] > 0
    # requirements are the explicit pins, not inferred
    pins = (local / "requirements.txt").read_text().split()
    assert "scikit-learn==" + __import__("sklearn").__version__ in pins
    # the logged model sits in the run's experiment, under the store's artifacts
    logged = tracking.client().get_logged_model(tag["model_id"])
    assert logged.experiment_id == tracking.experiment_id("models")
    assert logged.artifact_location.startswith(tracking.artifact_root().as_uri())


def test_churn_needs_an_input_example(run, telco):
    with pytest.raises(ParameterError, match="input_example"):
        models.log_model(telco[0], family="churn", name="m", run_id=run.run_id)


def test_clv_model_round_trips_exactly(run, cdnow):
    bg, gg, summary = cdnow
    uri = models.log_model((bg, gg), family="clv", name="bg_nbd", run_id=run.run_id,
                           input_example=summary, unit="W")
    loaded = mlflow.pyfunc.load_model(uri)
    out = loaded.predict(summary)
    assert list(out.columns) == ["customer", "p_alive", "expected_purchases",
                                 "expected_spend", "clv"]
    assert np.array_equal(out["customer"], summary["customer"])
    horizon = 12 * clv.value.month_length("W")  # the default horizon: 12 months
    purchases = bg.conditional_expected_purchases(horizon, summary)
    assert np.array_equal(out["p_alive"], bg.conditional_probability_alive(summary))
    assert np.array_equal(out["expected_purchases"], purchases)
    assert np.array_equal(out["expected_spend"],
                          purchases * gg.conditional_expected_average_profit(summary))
    assert np.array_equal(out["clv"], clv.customer_lifetime_value(bg, gg, summary, months=12,
                                                                  unit="W"))
    # predict-time params
    other = loaded.predict(summary, params={"horizon": 10.0, "months": 6,
                                            "discount_rate": 0.02})
    assert np.array_equal(other["expected_purchases"],
                          bg.conditional_expected_purchases(10.0, summary))
    assert np.array_equal(other["clv"], clv.customer_lifetime_value(
        bg, gg, summary, months=6, discount_rate=0.02, unit="W"))
    meta = loaded.metadata.metadata
    assert meta["family"] == "clv" and meta["unit"] == "W"
    assert meta["model_class"] == "retaillab.clv.beta_geo.BetaGeo"
    assert meta["spend_class"] == "retaillab.clv.gamma_gamma.GammaGamma"
    assert 0 < meta["size_bytes"] < 2_000
    local = Path(mlflow.artifacts.download_artifacts(uri))
    assert _common.saved_size(local) < 20_000  # the whole model folder: a few KB
    assert not list(local.rglob("*.pkl")) or all(
        p.stat().st_size < 5_000 for p in local.rglob("*.pkl"))  # the class, by reference
    assert _tag(run.run_id, "bg_nbd")["size_bytes"] == meta["size_bytes"]
    params = {p.name: p.default for p in loaded.metadata.signature.params}
    assert params == {"horizon": horizon, "months": 12, "discount_rate": 0.01,
                      "month_length": clv.value.month_length("W"), "cutoff": ""}


def test_clv_checks_the_unit_and_works_without_spend(run, cdnow):
    bg, _, summary = cdnow
    uri = models.log_model(bg, family="clv", name="bg_only", run_id=run.run_id, unit="W")
    loaded = models.load(uri)
    out = loaded.predict(summary[["customer", "frequency", "recency", "T"]])
    assert list(out.columns) == ["customer", "p_alive", "expected_purchases"]
    assert np.array_equal(out["p_alive"], bg.conditional_probability_alive(summary))
    said = summary.assign(unit="D")
    with pytest.raises(DataError, match="unit"):
        loaded.predict(said)
    assert len(loaded.predict(summary.assign(unit="W"))) == len(summary)
    with pytest.raises(ParameterError, match="unit"):
        models.log_model(bg, family="clv", name="no_unit", run_id=run.run_id)


def test_family_is_checked_and_a_missing_module_says_so(run, telco, monkeypatch):
    with pytest.raises(ParameterError, match="family"):
        models.log_model(telco[0], family="movies", name="m", run_id=run.run_id)
    monkeypatch.setitem(models._LOGGERS, "recsys", ("retaillab.models._absent", "log_recsys"))
    with pytest.raises(ParameterError, match="not there yet"):
        models.log_model(object(), family="recsys", name="m", run_id=run.run_id)


@pytest.mark.slow
def test_clv_loads_in_a_fresh_process(run, cdnow):
    bg, gg, summary = cdnow
    uri = models.log_model((bg, gg), family="clv", name="fresh", run_id=run.run_id, unit="W")
    script = ("import sys, mlflow, pandas as pd\n"
              "import retaillab.models\n"
              "m = mlflow.pyfunc.load_model(sys.argv[1])\n"
              "pd.read_csv(sys.argv[2]).pipe(m.predict).to_csv(sys.argv[3], index=False)\n")
    summary.to_csv("in.csv", index=False)
    subprocess.run([sys.executable, "-c", script, uri, "in.csv", "out.csv"], check=True,
                   timeout=120)
    out = pd.read_csv("out.csv")
    expected = clv.customer_lifetime_value(bg, gg, pd.read_csv("in.csv"), unit="W")
    assert np.allclose(out["clv"], expected, rtol=1e-12)


def test_the_model_lands_in_the_runs_experiment_whatever_is_active(run, cdnow):
    """A notebook that called mlflow.set_experiment elsewhere does not move the model."""
    bg, gg, summary = cdnow
    mlflow.set_tracking_uri(tracking.tracking_uri())
    mlflow.set_experiment("somewhere else")
    try:
        uri = models.log_model((bg, gg), family="clv", name="clv_model", run_id=run.run_id,
                               input_example=summary, unit="W")
    finally:  # the process's fluent state as it was
        mlflow.tracking.fluent._active_experiment_id = None
        os.environ.pop("MLFLOW_EXPERIMENT_ID", None)
        mlflow.set_tracking_uri(None)
    logged = tracking.client().get_logged_model(_tag(run.run_id, "clv_model")["model_id"])
    assert logged.experiment_id == tracking.experiment_id("models")
    assert len(models.load(uri).predict(summary)) == len(summary)
