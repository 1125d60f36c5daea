"""ContentBased on tiny hand-built catalogues where the right answer is obvious."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from retaillab import data
from retaillab.errors import DataError
from retaillab.recsys.content import ContentBased, item_features

# three action films, two romances, one documentary; "cold" is never rated in training
CATALOGUE = pd.DataFrame({
    "item": ["die_hard", "speed", "cold", "notebook", "titanic", "planet"],
    "title": ["Die Hard", "Speed", "Cold Action", "The Notebook", "Titanic", "Planet"],
    "year": [1988.0, 1994.0, 1990.0, 2004.0, 1997.0, np.nan],
    "genres": [("Action",), ("Action", "Thriller"), ("Action",), ("Romance",),
               ("Romance", "Drama"), ("Documentary",)],
})


def interactions(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["user", "item", "rating"])


TRAIN = interactions([
    ("ann", "die_hard", 5.0), ("ann", "speed", 5.0),  # action only
    ("bob", "die_hard", 5.0), ("bob", "notebook", 1.0), ("bob", "planet", 3.0),
    ("cat", "titanic", 4.0), ("cat", "speed", 4.0),  # all ratings equal: mean profile
])


def ranking(model, user, k=10) -> list:
    return model.recommend([user], k=k)["item"].tolist()


def test_action_fan_gets_the_unseen_action_film_first_even_when_cold():
    model = ContentBased(items=CATALOGUE, features=["genres"]).fit(TRAIN)
    assert "cold" in model.items_  # in the catalogue, not in training: still rankable
    assert model.popularity_[model.items_.get_loc("cold")] == 0
    assert ranking(model, "ann")[0] == "cold"
    recs = model.recommend(["ann"], k=10)
    # ann's profile: mean of Action (1, 0) and Action+Thriller (1, 1)/sqrt 2, on (Action,
    # Thriller); its cosine with the cold film's pure Action
    profile = np.array([1 + 2 ** -0.5, 2 ** -0.5])
    expected = profile[0] / np.linalg.norm(profile)
    assert recs.loc[recs["item"] == "cold", "score"].item() == pytest.approx(expected)
    assert set(recs.loc[recs["item"] != "cold", "score"]) == {0.0}  # no shared genre


def test_cold_items_off_ranks_training_items_only():
    model = ContentBased(items=CATALOGUE, features=["genres"], cold_items=False).fit(TRAIN)
    assert "cold" not in model.items_
    assert "cold" not in ranking(model, "ann")


def test_rating_centred_profile_pushes_away_from_disliked_features():
    model = ContentBased(items=CATALOGUE, features=["genres"]).fit(TRAIN)
    scores = model.recommend(["bob"], k=10).set_index("item")["score"]
    # bob loved an action film, hated a romance, was neutral on a documentary
    assert scores["cold"] > 0 > scores["titanic"]
    mean = ContentBased(items=CATALOGUE, features=["genres"], profile="mean").fit(TRAIN)
    assert mean.recommend(["bob"], k=10).set_index("item")["score"]["titanic"] > 0


def test_equal_ratings_fall_back_to_the_mean_profile():
    auto = ContentBased(items=CATALOGUE, features=["genres"]).fit(TRAIN)
    mean = ContentBased(items=CATALOGUE, features=["genres"], profile="mean").fit(TRAIN)
    code = auto.users_.get_loc("cat")
    np.testing.assert_allclose(auto.profiles_[code], mean.profiles_[code])
    assert np.linalg.norm(auto.profiles_[code]) == pytest.approx(1.0)


def test_rating_profile_needs_ratings():
    with pytest.raises(DataError, match="rating"):
        ContentBased(items=CATALOGUE, profile="rating").fit(TRAIN.drop(columns="rating"))
    model = ContentBased(items=CATALOGUE).fit(TRAIN.drop(columns="rating"))  # auto: mean
    assert ranking(model, "ann")[0] == "cold"


def test_item_vectors_are_the_shared_item_features_l2_normalised():
    model = ContentBased(items=CATALOGUE, features=["genres", "year"], n_bins=2).fit(TRAIN)
    table = item_features(CATALOGUE, ["genres", "year"], n_bins=2)
    assert model.feature_names_ == list(table.columns)
    dense = table.loc[list(model.items_)].to_numpy()
    expected = dense / np.linalg.norm(dense, axis=1, keepdims=True)
    np.testing.assert_allclose(model.features_.toarray(), expected)
    speed = model.features_.toarray()[model.items_.get_loc("speed")]
    assert (speed > 0).sum() == 3  # Action, Thriller and a year bin
    planet = model.features_.toarray()[model.items_.get_loc("planet")]
    assert (planet > 0).sum() == 1  # no year: only its genre


def test_tfidf_weights_rare_features_up():
    plain = ContentBased(items=CATALOGUE, features=["genres"]).fit(TRAIN)
    weighted = ContentBased(items=CATALOGUE, features=["genres"], tfidf=True).fit(TRAIN)
    names = weighted.feature_names_
    row = weighted.items_.get_loc("speed")
    speed = dict(zip(names, weighted.features_.toarray()[row], strict=True))
    assert speed["genres=Thriller"] > speed["genres=Action"]  # 1 item against 3
    # smoothed idf by hand: log((1 + 6 items) / (1 + items with the genre)) + 1
    idf = {g: np.log(7 / (1 + n)) + 1 for g, n in (("Action", 3), ("Thriller", 1))}
    ratio = speed["genres=Thriller"] / speed["genres=Action"]
    assert ratio == pytest.approx(idf["Thriller"] / idf["Action"])
    assert plain.features_.toarray()[row][names.index("genres=Thriller")] == \
        pytest.approx(2 ** -0.5)


def test_synthetic_catalogue_uses_category_brand_price_band():
    world = data.load("synthetic", n_customers=150, seed=1)
    train = world.transactions.rename(columns={"customer": "user"})
    model = ContentBased(items=world.items).fit(train)
    prefixes = {name.split("=")[0] for name in model.feature_names_}
    assert prefixes == {"category", "brand", "price_band"}
    user = train["user"].value_counts().index[0]
    top = model.recommend([user], k=5)["item"]
    bought = train.loc[train["user"] == user, "item"]
    categories = world.items.set_index("item")["category"]
    assert categories[top].isin(set(categories[bought])).all()


def test_attributes_in_the_training_table_or_a_clear_error():
    with_genres = TRAIN.merge(CATALOGUE[["item", "genres"]], on="item")
    model = ContentBased().fit(with_genres)
    assert model.feature_names_[0] == "genres=Action"
    assert "cold" not in model.items_  # no catalogue beyond training
    with pytest.raises(DataError, match="items="):
        ContentBased().fit(TRAIN)


def test_training_items_missing_from_the_catalogue_score_zero():
    train = pd.concat([TRAIN, interactions([("dan", "mystery", 3.0), ("dan", "speed", 4.0)])])
    model = ContentBased(items=CATALOGUE, features=["genres"]).fit(train)
    scores = model.recommend(["ann"], k=10).set_index("item")["score"]
    assert scores["mystery"] == 0.0
