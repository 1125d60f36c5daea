"""Ids are matched in the type the model learned (issue #11): 28 matches "28", never "000028";
"28" matches 28; unknown ids are counted in one warning; a batch of ids of the wrong type with
none known is an error that names types and counts, never an id."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest

from retaillab import recsys
from retaillab.data.ids import check_same_type, id_kind
from retaillab.errors import DataError, ParameterError, UnknownIdsWarning

#: user "000028" bought a, b; "000237" bought b, c; "000500" bought a. Popularity: a 2, b 2, c 1.
TEXT_IDS = pd.DataFrame({"user": ["000028", "000028", "000237", "000237", "000500"],
                         "item": ["a", "b", "b", "c", "a"],
                         "rating": [5.0, 3.0, 4.0, 2.0, 1.0]})
INT_IDS = TEXT_IDS.assign(user=[28, 28, 237, 237, 500])


def fitted(name: str, train: pd.DataFrame):
    params = {"n_epochs": 2} if name == "svd" else {}
    return recsys.create(name, **params).fit(train)


def recorded(call):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = call()
    return out, [w for w in caught if issubclass(w.category, UnknownIdsWarning)]


@pytest.mark.parametrize("name", ["most_popular", "item_knn", "svd"])
def test_integers_given_to_a_text_model_with_none_known_are_an_error(name):
    model = fitted(name, TEXT_IDS)
    with pytest.raises(DataError) as caught:
        model.recommend([28, 237])
    message = str(caught.value)
    assert "none of the 2 user ids" in message and "text" in message and "integers" in message
    assert "6 characters" in message and "leading zeros" in message
    assert "000028" not in message and "000237" not in message  # types and counts only


def test_text_with_one_unknown_is_served_and_counted_in_one_warning():
    model = fitted("most_popular", TEXT_IDS)
    recs, caught = recorded(lambda: model.recommend(["000028", "999"], k=2))
    assert len(caught) == 1
    assert "1 of 2 users" in str(caught[0].message)
    assert "fallback" in str(caught[0].message)
    assert issubclass(caught[0].category, UserWarning)
    # 000028 saw a and b, so only c is left; 999 gets the most popular: a, b (tie by id)
    assert recs[recs["user"] == "000028"]["item"].tolist() == ["c"]
    cold = recs[recs["user"] == "999"]
    assert cold["item"].tolist() == ["a", "b"] and cold["fallback"].all()


def test_an_integer_matches_its_exact_text_form_only():
    # learned "28" and "000237": 28 is "28"; 237 is "237", which is not "000237"
    model = fitted("most_popular", TEXT_IDS.assign(
        user=["28", "28", "000237", "000237", "000500"]))
    recs, caught = recorded(lambda: model.recommend([28, 237], k=3))
    assert recs.groupby("user")["fallback"].all().to_dict() == {28: False, 237: True}
    assert recs[recs["user"] == 28]["item"].tolist() == ["c"]
    assert len(caught) == 1 and "1 of 2 users" in str(caught[0].message)


def test_integers_given_to_an_integer_model_are_unchanged():
    model = fitted("most_popular", INT_IDS)
    recs, caught = recorded(lambda: model.recommend([28, 237], k=3))
    assert caught == []
    assert recs["user"].tolist() == [28, 237]
    assert recs["item"].tolist() == ["c", "a"]  # 28 has a, b; 237 has b, c
    assert not recs["fallback"].any()


def test_text_given_to_an_integer_model_matches_exact_integer_literals():
    model = fitted("most_popular", INT_IDS)
    recs, caught = recorded(lambda: model.recommend(["28", "0237", "237"], k=3))
    # "0237" is not how 237 is written, so it is unknown; the others match
    assert recs.groupby("user")["fallback"].all().to_dict() == {
        "28": False, "0237": True, "237": False}
    assert recs[recs["user"] == "237"]["item"].tolist() == ["a"]
    assert len(caught) == 1 and "1 of 3 users" in str(caught[0].message)


def test_text_that_is_no_integer_given_to_an_integer_model_is_an_error():
    with pytest.raises(DataError, match="learned its user ids as integers"):
        fitted("most_popular", INT_IDS).recommend(["000028", "000237"])


def test_unknown_ids_of_the_learned_type_are_cold_starts_not_an_error():
    recs, caught = recorded(lambda: fitted("most_popular", TEXT_IDS).recommend(["nobody"], k=1))
    assert recs["fallback"].all() and recs["item"].tolist() == ["a"]
    assert len(caught) == 1 and "1 of 1 users" in str(caught[0].message)


def test_predict_matches_pairs_in_the_learned_types_and_counts_unknowns_once():
    model = fitted("svd", TEXT_IDS)
    with pytest.raises(DataError, match="none of the 2 user ids"):
        model.predict(pd.DataFrame({"user": [28, 237], "item": ["a", "b"]}))
    pairs = pd.DataFrame({"user": ["000028", "999", "000237"], "item": ["a", "b", "zzz"]})
    out, caught = recorded(lambda: model.predict(pairs))
    assert out["fallback"].tolist() == [False, True, True]
    assert len(caught) == 1
    message = str(caught[0].message)
    assert "1 of 3 users" in message and "1 of 3 items" in message
    assert "2 of 3 pairs" in message


def test_predict_with_text_given_to_an_integer_model():
    model = fitted("svd", INT_IDS)
    out, caught = recorded(lambda: model.predict(
        pd.DataFrame({"user": ["28", "500"], "item": ["a", "a"]})))
    assert caught == [] and not out["fallback"].any()
    assert out["user"].tolist() == ["28", "500"]  # the caller's ids come back


def test_similar_items_matches_an_integer_to_a_text_item_id():
    train = pd.DataFrame({"user": [1, 1, 2, 2, 3], "item": ["7", "8", "7", "8", "9"]})
    model = recsys.create("bought_together").fit(train)
    assert model.similar_items(7, k=1)["item"].tolist() == ["8"]
    with pytest.raises(ParameterError, match="learned item ids as text"):
        model.similar_items(9999)


def test_id_kinds():
    assert id_kind(pd.Series(["000028"], dtype="string")) == "text"
    assert id_kind(pd.Series(["000028"], dtype=object)) == "text"
    assert id_kind(pd.Index([28, 237])) == "integer"
    assert id_kind([28, "237"]) == "mixed"


def test_check_same_type_refuses_integers_against_text_and_names_both():
    with pytest.raises(DataError) as caught:
        check_same_type(pd.Series([28]), pd.Series(["000028"]), key="item",
                        left_name="interactions", right_name="items")
    message = str(caught.value)
    assert "interactions has item ids as integers" in message
    assert "items has them as text" in message and "id_type='str'" in message
    check_same_type(pd.Series(["a"]), pd.Series(["b"], dtype="string"), key="item",
                    left_name="x", right_name="y")  # both text: fine
