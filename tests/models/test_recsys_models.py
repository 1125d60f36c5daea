"""Fitted recommenders logged as MLflow pyfunc models give exactly what the fitted model gives."""

from __future__ import annotations

import json
import pickle

import mlflow
import numpy as np
import pandas as pd
import pytest

from retaillab import data, recsys, tracking
from retaillab.errors import UnknownIdsWarning
from retaillab.models import recsys as flavour
from retaillab.models._common import KEY_CLASS, KEY_FAMILY, KEY_SIZE, KEY_VERSION

FAST = {"svd": {"n_epochs": 3}, "als": {"iterations": 3}, "item_knn": {"k": 20}}
UNKNOWN = 10**9  # an integer id no MovieLens user has


@pytest.fixture(scope="module")
def train() -> pd.DataFrame:
    """300 MovieLens users' ratings of the 600 items most of them rated."""
    ratings = data.load("movielens").interactions
    users = ratings["user"].drop_duplicates().sample(300, random_state=1)
    subset = ratings[ratings["user"].isin(users)]
    items = subset["item"].value_counts().index[:600]
    return subset[subset["item"].isin(items)].reset_index(drop=True)


@pytest.fixture(scope="module")
def fitted(train) -> dict:
    return {name: recsys.create(name, **FAST.get(name, {})).fit(train)
            for name in ("most_popular", "item_knn", "ease", "svd", "als")}


@pytest.fixture
def run(store):
    return tracking.create_run(tracking.experiment_id("models"))


def users_of(train: pd.DataFrame) -> list:
    return [*train["user"].drop_duplicates().iloc[[0, 7, 42, 99]], UNKNOWN]


@pytest.mark.parametrize("name", ["most_popular", "item_knn", "ease", "svd", "als"])
def test_the_loaded_model_recommends_exactly_as_the_fitted_one(fitted, train, run, name):
    model = fitted[name]
    uri = flavour.log_recsys(model, name, run.run_id)
    assert uri == f"runs:/{run.run_id}/{name}"
    loaded = mlflow.pyfunc.load_model(uri)
    users = users_of(train)
    for k, exclude_seen in [(7, True), (3, False)]:
        with pytest.warns(UnknownIdsWarning, match="1 of 5 users"):
            got = loaded.predict(pd.DataFrame({"user": users}),
                                 params={"k": k, "exclude_seen": exclude_seen})
        with pytest.warns(UnknownIdsWarning):
            want = model.recommend(users, k=k, exclude_seen=exclude_seen)
        pd.testing.assert_frame_equal(got, want, check_exact=True)
        assert got["fallback"].sum() == k and (got["user"] == UNKNOWN).sum() == k
    with pytest.warns(UnknownIdsWarning):  # the defaults: k=10, seen items excluded
        default = loaded.predict(pd.DataFrame({"user": users}))
        want = model.recommend(users)
    pd.testing.assert_frame_equal(default, want, check_exact=True)

    tags = tracking.client().get_run(run.run_id).data.tags
    info = json.loads(tags[f"retaillab.logged_model.{name}"])
    assert info[KEY_FAMILY] == "recsys" and info[KEY_SIZE] > 0
    assert info[KEY_CLASS] == f"{type(model).__module__}.{type(model).__name__}"
    assert info[KEY_VERSION]
    assert loaded.metadata.metadata == info


def test_ease_weights_are_saved_as_float32_and_the_size_recorded(fitted, run, tmp_path):
    model = fitted["ease"]
    uri = flavour.log_recsys(model, "ease", run.run_id)
    size = mlflow.pyfunc.load_model(uri).metadata.metadata[KEY_SIZE]
    assert model.weights_.dtype == np.float32
    weights = model.weights_.nbytes
    as_float64 = len(pickle.dumps(model.weights_.astype(np.float64)))
    assert weights <= size < as_float64  # the float32 matrix, a little more, not a float64 one
    manifest = flavour.save_state(model, tmp_path / "state")
    stored = {a["attribute"]: a for a in manifest}
    assert stored["weights_"]["stored_as"] == "float32"
    assert stored["weights_"]["bytes"] == weights


def test_exact_float32_arrays_are_narrowed_on_disk_and_restored(fitted, tmp_path):
    model = fitted["most_popular"]  # its scores are counts: float64 in memory
    manifest = {a["attribute"]: a for a in flavour.save_state(model, tmp_path)}
    assert manifest["scores_"]["dtype"] == "float64"
    assert manifest["scores_"]["stored_as"] == "float32"
    back = flavour.load_state(tmp_path)
    assert back.scores_.dtype == np.float64 and np.array_equal(back.scores_, model.scores_)


def test_learned_float64_values_stay_float64(fitted, tmp_path):
    manifest = {a["attribute"]: a for a in flavour.save_state(fitted["svd"], tmp_path)}
    for attr in ("pu_", "qi_"):
        assert manifest[attr]["stored_as"] == "float64"
        assert "would change" in manifest[attr]["why"]


def test_an_array_two_attributes_share_is_saved_once(fitted, tmp_path):
    model = fitted["als"]  # user_factors_ shares its memory with implicit's user_factors
    assert np.shares_memory(model.user_factors_, model.model_.user_factors)
    manifest = flavour.save_state(model, tmp_path)
    shape = list(model.user_factors_.shape)
    assert [a["shape"] for a in manifest].count(shape) == 1
    back = flavour.load_state(tmp_path)
    assert np.array_equal(back.user_factors_, model.user_factors_)
    assert np.array_equal(back.model_.user_factors, model.user_factors_)


def test_the_signature_has_the_learned_id_type_and_the_params(fitted):
    sig = flavour.signature(fitted["ease"])
    assert sig.inputs.to_dict() == [{"type": "long", "name": "user", "required": True}]
    assert {p.name: p.default for p in sig.params} == {"k": 10, "exclude_seen": True}
    assert sig.outputs.input_names() == ["user", "item", "score", "rank", "fallback"]
