"""One contract test over every registered recommender (as Optuna tests every storage)."""

from __future__ import annotations

import numpy as np
import pytest

from retaillab import data, recsys
from retaillab.errors import NotFittedError, ParameterError, UnknownNameError
from retaillab.recsys.compare import build

FAST = {"svd": {"n_epochs": 3}, "svdpp": {"n_epochs": 2}, "nmf": {"n_epochs": 3},
        "als": {"iterations": 3}, "bpr": {"iterations": 5}, "co_clustering": {"n_epochs": 3}}


@pytest.fixture(scope="module")
def small():
    ml = data.load("movielens")
    ratings = ml.interactions
    users = ratings["user"].drop_duplicates().sample(60, random_state=1)
    subset = ratings[ratings["user"].isin(users)]
    train, test = data.split(subset, "stratified", ratio=0.75, seed=0)
    return train, test, ml.items


@pytest.mark.parametrize("name", recsys.available())
def test_every_model_keeps_the_contract(small, name):
    train, test, items = small
    model = build(name, FAST.get(name, {}), items)
    with pytest.raises(NotFittedError, match=type(model).__name__):
        model.recommend(test["user"].unique()[:2])
    assert model.fit(train) is model
    assert model.get_params() == type(model)(**model.get_params()).get_params()
    users = [*test["user"].unique()[:5], "never-seen-user"]
    recs = model.recommend(users, k=7)
    assert list(recs.columns) == ["user", "item", "score", "rank", "fallback"]
    assert set(recs["user"]) <= set(users) and (recs.groupby("user").size() <= 7).all()
    for user, group in recs.groupby("user"):
        assert group["rank"].tolist() == list(range(1, len(group) + 1))
        assert group["score"].is_monotonic_decreasing
        seen = set(train.loc[train["user"] == user, "item"])
        assert not seen & set(group["item"]), f"{name} recommended a seen item"
        assert group["fallback"].all() == (user == "never-seen-user")
    # the fallback: most popular first, equal popularity by smaller item id (the one rule)
    popularity = train.drop_duplicates(["user", "item"]).groupby("item").size()
    expected = sorted(popularity.index, key=lambda item: (-popularity[item], item))[:7]
    assert recs.loc[recs["user"] == "never-seen-user", "item"].tolist() == expected
    if model.predicts_ratings:
        predicted = model.predict(test)
        assert predicted.index.equals(test.index)
        assert np.isfinite(predicted["prediction"]).all()
        low, high = train["rating"].min(), train["rating"].max()
        assert predicted["prediction"].between(low, high).all()


def test_registry_errors_name_what_is_wrong():
    with pytest.raises(UnknownNameError, match="Did you mean 'ease'"):
        recsys.create("eas")
    with pytest.raises(ParameterError, match="l2"):
        recsys.create("ease", lambda_=3)
