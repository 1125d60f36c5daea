"""One contract test over every registered churn model, and the registry's errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.pipeline import Pipeline

from retaillab import churn
from retaillab.errors import ParameterError, UnknownNameError

from .conftest import FAST, toy_customers


@pytest.fixture(scope="module")
def split():
    frame = toy_customers(300, seed=3)
    x, y = frame.drop(columns=["customer", "churn"]), frame["churn"].to_numpy()
    return x.iloc[:200], y[:200], x.iloc[200:].reset_index(drop=True), y[200:]


@pytest.mark.parametrize("name", churn.available())
def test_every_model_keeps_the_contract(split, name):
    x_train, y_train, x_test, _ = split
    model = churn.create(name, **FAST.get(name, {}), seed=5)
    assert isinstance(model, Pipeline) and list(model.named_steps) == ["prepare", "model"]
    # the same preprocessing for every model
    assert repr(model.named_steps["prepare"]) == repr(churn.create("logistic")["prepare"])
    # seeded, and class weights rather than resampling wherever the classifier has them
    params = model.named_steps["model"].get_params()
    assert params["random_state"] == 5
    if "class_weight" in params:  # unweighted by default: probabilities are churn rates
        assert params["class_weight"] is None
        assert churn.hyperparameters(name)["calibration"] is None
    else:
        assert name == "dummy"
    assert model.fit(x_train, y_train) is model
    # missing values in numeric and categorical columns, and a category never seen in training
    test = x_test.copy()
    test.loc[0, "x"] = np.nan
    test["cat"] = test["cat"].cat.add_categories(["never-seen"])
    test.loc[1, "cat"] = "never-seen"
    test.loc[2, "cat"] = np.nan
    proba = model.predict_proba(test)
    assert proba.shape == (len(test), 2) and np.isfinite(proba).all()
    assert np.allclose(proba.sum(axis=1), 1) and ((proba >= 0) & (proba <= 1)).all()
    again = clone(model).fit(x_train, y_train).predict_proba(test)
    assert np.array_equal(proba, again), "same seed, same data: same predictions"


@pytest.mark.parametrize("name", churn.available())
def test_every_model_takes_its_documented_hyperparameters(name):
    params = churn.hyperparameters(name)
    assert "seed" in params
    churn.create(name, **params)  # the defaults round-trip
    with pytest.raises(ParameterError, match="hyperparameter 'not_a_param'"):
        churn.create(name, not_a_param=1)


def test_missing_values_are_imputed_with_the_training_median(split):
    x_train, y_train, _, _ = split
    prepare = churn.create("logistic")["prepare"].fit(x_train, y_train)
    probe = x_train.head(1).copy()
    probe["x"] = np.nan
    row = pd.DataFrame(prepare.transform(probe), columns=prepare.get_feature_names_out())
    scaled_median = (x_train["x"].median() - x_train["x"].mean()) / x_train["x"].std(ddof=0)
    assert row.loc[0, "x"] == pytest.approx(scaled_median)
    assert {"cat_a", "cat_b", "cat_c", "flag"} <= set(row.columns)


def test_unknown_model_suggests_the_closest():
    with pytest.raises(UnknownNameError, match="Did you mean 'logistic'"):
        churn.create("logistc")


def test_gbm_class_weights_are_balanced_sample_weights(split):
    """Histogram gradient boosting's class_weight="balanced" is the same fit as passing each
    row the weight n / (2 n_class) through sample_weight."""
    x_train, y_train, x_test, _ = split
    weighted = churn.create("gbm", max_iter=20, class_weight="balanced").fit(x_train, y_train)
    plain = churn.create("gbm", max_iter=20, class_weight=None)
    n, churners = len(y_train), y_train.sum()
    weight = np.where(y_train, n / (2 * churners), n / (2 * (n - churners)))
    plain.fit(x_train, y_train, model__sample_weight=weight)
    assert np.allclose(weighted.predict_proba(x_test), plain.predict_proba(x_test))
    unweighted = churn.create("gbm", max_iter=20, class_weight=None).fit(x_train, y_train)
    assert not np.allclose(weighted.predict_proba(x_test), unweighted.predict_proba(x_test))


def test_importing_churn_loads_neither_sklearn_nor_matplotlib():
    import subprocess
    import sys

    code = "import sys; from retaillab import churn; print(' '.join(sys.modules))"
    loaded = set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                check=True).stdout.split())
    assert not loaded & {"sklearn", "matplotlib", "scipy", "mlflow"}
