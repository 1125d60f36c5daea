"""Bad input to the recommenders: each case is one clear error, or documented behaviour."""

from __future__ import annotations

import pandas as pd
import pytest

from retaillab import recsys
from retaillab.errors import DataError, ParameterError, UnknownNameError
from retaillab.recsys.compare import compare

RATINGS = pd.DataFrame({
    "user": [1, 1, 1, 2, 2, 3, 3, 3, 4, 4],
    "item": [10, 11, 12, 10, 13, 11, 12, 13, 10, 12],
    "rating": [5.0, 3.0, 4.0, 4.0, 2.0, 5.0, 1.0, 3.0, 4.0, 4.0],
})


def test_unknown_algorithm_lists_every_valid_name():
    with pytest.raises(UnknownNameError) as info:
        recsys.create("svdd")
    message = str(info.value)
    assert "Did you mean 'svd'" in message
    for name in recsys.available():
        assert name in message


@pytest.mark.parametrize("k", [0, -3, 2.5, True])
def test_k_below_one_or_not_an_integer(k):
    model = recsys.create("most_popular").fit(RATINGS)
    with pytest.raises(ParameterError, match="k must be a positive integer"):
        model.recommend([1], k=k)
    with pytest.raises(ParameterError, match="k must be a positive integer"):
        compare(RATINGS, ["most_popular"], k=k, progress=False)


@pytest.mark.parametrize("name", ["most_popular", "svd", "ease"])
def test_empty_training_set(name):
    with pytest.raises(DataError, match="no rows"):
        recsys.create(name).fit(RATINGS.iloc[:0])


def test_test_set_with_no_user_in_training_is_refused():
    from retaillab.recsys.compare import check_overlap

    train, test = RATINGS[RATINGS["user"] <= 2], RATINGS[RATINGS["user"] > 2]
    with pytest.raises(DataError, match="none of the 2 test users") as info:
        check_overlap(train, test)
    assert "stratified" in str(info.value)
    with pytest.raises(DataError, match="none of the"):  # a global random split can do this
        compare(RATINGS.assign(user=range(len(RATINGS))), ["most_popular"], split="random",
                progress=False)


def test_partial_overlap_scores_cold_users_with_the_fallback():
    model = recsys.create("ease").fit(RATINGS[RATINGS["user"] != 4])
    recs = model.recommend([1, 4], k=2)
    assert recs.groupby("user")["fallback"].all().to_dict() == {1: False, 4: True}


def test_repeated_ratings_are_refused_by_rating_models_with_the_rows():
    twice = pd.concat([RATINGS, RATINGS.iloc[[2]].assign(rating=1.0)], ignore_index=True)
    with pytest.raises(DataError, match="2 rows rate an item") as info:
        recsys.create("svd").fit(twice)
    message = str(info.value)
    assert "drop_duplicates" in message and "row 2" in message and "row 10" in message


@pytest.mark.parametrize("name", ["most_popular", "item_knn", "ease"])
def test_repeated_interactions_count_once_for_top_n_models(name):
    twice = pd.concat([RATINGS, RATINGS.iloc[[0, 0, 4]]], ignore_index=True)
    once = recsys.create(name).fit(RATINGS).recommend([1, 2, 3, 4], k=3)
    again = recsys.create(name).fit(twice).recommend([1, 2, 3, 4], k=3)
    pd.testing.assert_frame_equal(once, again)
