"""Rating metrics against scikit-learn and a per-user loop; alignment by index; bad inputs."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import (
    explained_variance_score,
    mean_absolute_error,
    mean_squared_error,
    r2_score,
)

from retaillab import metrics
from retaillab.errors import DataError, ParameterError

SKLEARN = {
    "rmse": lambda t, p: math.sqrt(mean_squared_error(t, p)),
    "mae": mean_absolute_error,
    "r2": r2_score,
    "explained_variance": explained_variance_score,
}


def frames(seed: int, n: int = 300):
    rng = np.random.default_rng(seed)
    test = pd.DataFrame({"user": rng.integers(0, 25, n), "item": rng.integers(0, 80, n),
                         "rating": rng.integers(1, 6, n).astype(float)},
                        index=rng.permutation(np.arange(1000, 1000 + n)))
    noise = rng.normal(0.3, 0.8, n)  # biased, so r2 and explained variance differ
    predictions = test[["user", "item"]].assign(prediction=test["rating"] + noise,
                                                fallback=False)
    return predictions, test


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("name", list(SKLEARN))
def test_scalar_metrics_match_sklearn(seed, name):
    rng = np.random.default_rng(seed)
    true = rng.integers(1, 6, 200).astype(float)
    pred = true + rng.normal(0.2, 1.0, 200)
    assert getattr(metrics, name)(true, pred) == pytest.approx(SKLEARN[name](true, pred))
    assert getattr(metrics, name)(list(true), pd.Series(pred)) == pytest.approx(
        SKLEARN[name](true, pred))


@pytest.mark.parametrize("pred", [[3.0, 3.0, 3.0], [3.0, 3.0, 4.0], [4.0, 4.0, 4.0]])
def test_constant_truth_follows_sklearn(pred):
    true = [3.0, 3.0, 3.0]
    assert metrics.r2(true, pred) == r2_score(true, pred)
    assert metrics.explained_variance(true, pred) == explained_variance_score(true, pred)


@pytest.mark.parametrize("seed", range(3))
def test_rating_on_frames_matches_sklearn(seed):
    predictions, test = frames(seed)
    got = metrics.rating(predictions, test)
    want = {k: fn(test["rating"], predictions["prediction"]) for k, fn in SKLEARN.items()}
    assert got == pytest.approx(want)


def test_rating_matches_rows_by_index_label_not_position():
    predictions, test = frames(0)
    shuffled = predictions.sample(frac=1.0, random_state=1)
    assert metrics.rating(shuffled, test) == pytest.approx(metrics.rating(predictions, test))


@pytest.mark.parametrize("seed", range(3))
def test_rating_per_user_matches_a_loop(seed):
    predictions, test = frames(seed)
    got = metrics.rating_per_user(predictions, test)
    assert list(got.columns) == ["rmse", "mae"] and got.index.name == "user"
    prediction = dict(zip(predictions.index, predictions["prediction"], strict=True))
    by_user: dict[int, list[float]] = {}
    for label, row in zip(test.index, test.itertuples(), strict=True):
        by_user.setdefault(row.user, []).append(row.rating - prediction[label])
    for user, errors in by_user.items():
        assert got.loc[user, "rmse"] == pytest.approx(math.sqrt(sum(e * e for e in errors)
                                                                / len(errors)))
        assert got.loc[user, "mae"] == pytest.approx(sum(abs(e) for e in errors) / len(errors))
    assert len(got) == test["user"].nunique()


def test_bad_frames_raise_clear_errors():
    predictions, test = frames(0, n=20)
    with pytest.raises(DataError, match="predictions has 19 rows but test has 20"):
        metrics.rating(predictions.iloc[1:], test)
    with pytest.raises(DataError, match="1 test index labels have no prediction"):
        metrics.rating(predictions.rename(index={predictions.index[0]: -1}), test)
    with pytest.raises(DataError, match="test index labels have no prediction"):
        metrics.rating(predictions.reset_index(drop=True), test)
    with pytest.raises(DataError, match="column 'prediction'"):
        metrics.rating(predictions.drop(columns="prediction"), test)
    with pytest.raises(DataError, match="column 'rating'"):
        metrics.rating(predictions, test.drop(columns="rating"))
    with pytest.raises(DataError, match="column 'user'"):
        metrics.rating_per_user(predictions, test.drop(columns="user"))
    swapped = predictions.assign(item=predictions["item"].to_numpy()[::-1])
    with pytest.raises(DataError, match="different item"):
        metrics.rating(swapped, test)
    missing = predictions.assign(prediction=np.where(np.arange(20) == 3, np.nan, 1.0))
    with pytest.raises(DataError, match="1 of 20 values are missing"):
        metrics.rating(missing, test)


def test_bad_arrays_raise_clear_errors():
    with pytest.raises(DataError, match="y_true has 3 values but y_pred has 2"):
        metrics.rmse([1, 2, 3], [1, 2])
    with pytest.raises(DataError, match="at least 1 value"):
        metrics.mae([], [])
    with pytest.raises(DataError, match="1-D"):
        metrics.r2(np.ones((2, 2)), np.ones((2, 2)))
    with pytest.raises(DataError, match="expected numbers"):
        metrics.rmse(["a", "b"], [1, 2])
    with pytest.raises(ParameterError, match="y_true must be a 1-D array"):
        metrics.rmse(pd.DataFrame({"a": [1]}), [1])
