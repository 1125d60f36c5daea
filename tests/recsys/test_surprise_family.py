"""The Surprise wrappers give Surprise's own numbers, vectorised.

Every model is checked against the fitted Surprise object it wraps: ``_scores`` (top-N) and
``predict`` must equal ``algo_.estimate`` / ``algo_.predict(u, i).est`` to 1e-9 on sampled
pairs of a small MovieLens subset, including unknown users and items and including a training
frame in shuffled order with a repeated row (Surprise's neighbour lists then follow row order,
not id order). SVD's cross-validated RMSE must equal ``surprise.model_selection.cross_validate``
on the same folds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import surprise
from surprise.prediction_algorithms import random_pred
from surprise.prediction_algorithms.predictions import PredictionImpossible

from retaillab import data, recsys
from retaillab.errors import DataError, NotFittedError, ParameterError
from retaillab.recsys import surprise_family as sf

TOL = 1e-9

CASES = {
    "baseline_als": lambda: sf.BaselineOnly(),
    "baseline_sgd": lambda: sf.BaselineOnly(bsl_method="sgd", bsl_n_epochs=5),
    "svd": lambda: sf.SVD(n_factors=8, n_epochs=5, random_state=3),
    "svd_unbiased": lambda: sf.SVD(n_factors=5, n_epochs=5, biased=False),
    "svdpp": lambda: sf.SVDpp(n_factors=4, n_epochs=2),
    "nmf": lambda: sf.NMF(n_factors=4, n_epochs=5),
    "nmf_biased": lambda: sf.NMF(n_factors=4, n_epochs=5, biased=True),
    "slope_one": lambda: sf.SlopeOne(),
    "knn_basic": lambda: sf.KNNBasic(k=5, min_k=2),
    "knn_basic_items_pearson": lambda: sf.KNNBasic(user_based=False, k=5, min_k=3,
                                                   sim_name="pearson"),
    "knn_means_cosine": lambda: sf.KNNWithMeans(k=10, min_k=2, sim_name="cosine"),
    "knn_means_items": lambda: sf.KNNWithMeans(user_based=False, k=6),
    "knn_baseline": lambda: sf.KNNBaseline(k=8, min_k=3, sim_name="pearson_baseline"),
    "knn_baseline_items": lambda: sf.KNNBaseline(user_based=False, k=7,
                                                 sim_name="pearson_baseline", bsl_method="sgd"),
    "co_clustering": lambda: sf.CoClustering(n_epochs=5, random_state=2),
}


@pytest.fixture(scope="module")
def ratings():
    return data.load("movielens").interactions


@pytest.fixture(scope="module")
def small(ratings):
    subset = ratings[ratings["user"].isin(ratings["user"].unique()[:50])]
    return data.split(subset, "random", ratio=0.8, seed=0)


@pytest.fixture(scope="module")
def shuffled(small):
    """Train rows in random order (repeated ratings are refused: see test_bad_input.py)."""
    return small[0].sample(frac=1.0, random_state=4)


def surprise_estimate(algo, u: int, i: int) -> float:
    """What ``algo.predict`` computes before clipping, from inner ids."""
    try:
        est = algo.estimate(u, i)
    except PredictionImpossible:
        return algo.default_prediction()
    return est[0] if isinstance(est, tuple) else est


def check_against_surprise(model, train, test, n_pairs=250, seed=0):
    model.fit(train)
    algo = model.algo_
    rng = np.random.default_rng(seed)
    users = rng.integers(len(model.users_), size=n_pairs)
    items = rng.integers(len(model.items_), size=n_pairs)
    expected = [surprise_estimate(algo, model.user_inner_[u], model.item_inner_[i])
                for u, i in zip(users, items, strict=True)]
    batch, rows = np.unique(users, return_inverse=True)
    np.testing.assert_allclose(model._scores(batch)[rows, items], expected, rtol=0, atol=TOL)
    low, high = model.rating_scale_
    np.testing.assert_allclose(model._predict(users, items), np.clip(expected, low, high),
                               rtol=0, atol=TOL)
    predicted = model.predict(test)  # raw ids, with unknown users and items
    expected = [algo.predict(u, i).est for u, i in zip(test["user"], test["item"], strict=True)]
    np.testing.assert_allclose(predicted["prediction"], expected, rtol=0, atol=TOL)
    return predicted


@pytest.mark.parametrize("case", list(CASES))
def test_scores_and_predictions_equal_surprise(small, case):
    train, test = small
    test = pd.concat([test, pd.DataFrame({"user": [-1, -1, train["user"].iloc[0]],
                                          "item": [train["item"].iloc[0], -2, -3]})])
    predicted = check_against_surprise(CASES[case](), train, test)
    assert predicted["fallback"].iloc[-3:].all() and predicted["fallback"].sum() > 3


@pytest.mark.parametrize("case", ["knn_basic", "knn_means_items", "knn_baseline", "slope_one",
                                  "svdpp"])
def test_row_order_follows_surprise(small, shuffled, case):
    model = CASES[case]()
    check_against_surprise(model, shuffled, small[1], seed=1)
    if case == "knn_basic":  # neighbour lists not in id order: the stable-sort path
        assert model.values_ is None


def test_inner_ids_are_looked_up_not_assumed(shuffled):
    model = sf.BaselineOnly().fit(shuffled)
    trainset = model.algo_.trainset
    assert [trainset.to_raw_uid(u) for u in model.user_inner_] == model.users_.tolist()
    assert [trainset.to_raw_iid(i) for i in model.item_inner_] == model.items_.tolist()
    assert sorted(model.item_inner_) == list(range(trainset.n_items))


def test_normal_predictor_draws_from_surprise_distribution(small, monkeypatch):
    train, test = small
    model = sf.NormalPredictor(random_state=5).fit(train)
    again = sf.NormalPredictor(random_state=5).fit(train)  # draws repeat, whatever the batch
    np.testing.assert_array_equal(again._scores(np.array([3, 0])),
                                  model._scores(np.array([0, 3]))[::-1])
    algo = model.algo_
    assert model.global_mean_ == algo.trainset.global_mean and model.sigma_ == algo.sigma
    users = model.users_.get_indexer(test["user"])
    items = model.items_.get_indexer(test["item"])
    known = (users >= 0) & (items >= 0)
    z = model._standard_normal(np.arange(len(model.users_)))[users[known], items[known]]
    # Surprise draws np.random.normal(mean, sigma); hand it the same standard draws
    draws = iter(z)
    fake = type("R", (), {"normal": staticmethod(lambda m, s: m + s * next(draws))})
    monkeypatch.setattr(random_pred, "np", type("N", (), {"random": fake}))
    expected = [algo.predict(u, i).est for u, i in
                zip(test["user"][known], test["item"][known], strict=True)]
    predicted = model.predict(test)
    np.testing.assert_allclose(predicted["prediction"][known], expected, rtol=0, atol=TOL)
    assert (predicted["prediction"][~known] == model.global_mean_).all()


def test_svd_rmse_equals_surprise_cross_validate(ratings):
    frame = ratings[ratings["user"].isin(ratings["user"].unique()[:150])].reset_index(drop=True)
    folds = list(data.kfold(frame, "random", n_splits=5, seed=0))
    dataset = surprise.Dataset.load_from_df(
        frame[["user", "item", "rating"]],
        surprise.Reader(rating_scale=(frame["rating"].min(), frame["rating"].max())))

    class RetaillabFolds:
        """Surprise's trainset/testset from retaillab's folds (rows by position)."""

        def split(self, data_):
            for train, test in folds:
                assert (train["rating"].min(), train["rating"].max()) == \
                    data_.reader.rating_scale  # the same scale retaillab derives per fold
                raw = data_.raw_ratings
                yield (data_.construct_trainset([raw[p] for p in train.index]),
                       data_.construct_testset([raw[p] for p in test.index]))

    params = {"n_factors": 20, "n_epochs": 5, "random_state": 7}
    theirs = surprise.model_selection.cross_validate(
        surprise.SVD(**params), dataset, measures=["rmse"], cv=RetaillabFolds())["test_rmse"]
    ours = []
    for train, test in folds:
        predicted = sf.SVD(**params).fit(train).predict(test)["prediction"]
        ours.append(np.sqrt(np.mean((test["rating"] - predicted) ** 2)))
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=TOL)


# --- contract ------------------------------------------------------------------------------

NAMES = [n for n, path in recsys.registry.MODELS.items() if "surprise_family" in path]
FAST = {"svd": {"n_epochs": 2}, "svdpp": {"n_epochs": 1}, "nmf": {"n_epochs": 2},
        "co_clustering": {"n_epochs": 2}}


@pytest.mark.parametrize("name", NAMES)
def test_contract(small, name):
    train, test = small
    model = recsys.create(name, **FAST.get(name, {}))
    with pytest.raises(NotFittedError, match=type(model).__name__):
        model.predict(test)
    assert model.fit(train) is model
    params = model.get_params()
    clone = type(model)(**params)
    assert clone.get_params() == params
    if params:
        key = next(iter(params))
        assert clone.set_params(**{key: params[key]}).get_params() == params
    users = [train["user"].iloc[0], "nobody"]
    recs = model.recommend(users, k=5)
    mine = recs[recs["user"] == users[0]]
    assert len(mine) == 5 and not mine["fallback"].any()
    assert not set(mine["item"]) & set(train.loc[train["user"] == users[0], "item"])
    code = model.users_.get_loc(users[0])
    scores = model._scores(np.array([code]))[0]
    np.testing.assert_allclose(mine["score"], scores[model.items_.get_indexer(mine["item"])])
    cold = recs[recs["user"] == "nobody"]
    assert cold["fallback"].all()
    assert cold["item"].tolist() == model.items_[np.argsort(-model.popularity_,
                                                            kind="stable")[:5]].tolist()


def test_errors_say_what_is_wrong(small):
    train = small[0]
    with pytest.raises(ParameterError, match="sim_name"):
        sf.KNNBasic(sim_name="jaccard").fit(train)
    with pytest.raises(ParameterError, match="bsl_method"):
        sf.BaselineOnly(bsl_method="newton").fit(train)
    with pytest.raises(ParameterError, match="random_state"):
        sf.SVD(random_state=None).fit(train)
    with pytest.raises(ParameterError, match="init_low"):
        sf.NMF(init_low=-1).fit(train)
    bad = train.assign(rating=train["rating"].where(np.arange(len(train)) != 3))
    with pytest.raises(DataError, match="rating"):
        sf.SVD().fit(bad)
