"""Built-in loaders against counts published with each data set (not read off our own code)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from retaillab import data
from retaillab.errors import ParameterError, UnknownNameError


def test_movielens_matches_published_counts():
    # MovieLens latest-small (2016) README: 100,004 ratings by 671 users; every user rated
    # at least 20 movies; ratings on a 5-star scale in half-star steps.
    ml = data.load("movielens")
    r = ml.interactions
    assert len(r) == 100_004
    assert r["user"].nunique() == 671
    assert r.groupby("user").size().min() >= 20
    assert set(np.unique(r["rating"])) <= set(np.arange(1, 11) / 2)
    assert not r.duplicated(["user", "item"]).any()
    assert list(r.columns) == ["user", "item", "rating", "timestamp"]
    assert pd.api.types.is_datetime64_any_dtype(r["timestamp"])
    # ratings started in 1995 and this edition was generated in October 2016
    assert r["timestamp"].min().year == 1995 and r["timestamp"].max() < pd.Timestamp("2016-11-01")


def test_movielens_items_have_titles_years_and_genre_lists():
    ml = data.load("movielens")
    items = ml.items
    assert items["item"].is_unique
    assert set(ml.interactions["item"]) == set(items["item"])
    toy_story = items.set_index("item").loc[1]  # movieId 1 is Toy Story (1995)
    assert toy_story["title"] == "Toy Story"
    assert toy_story["year"] == 1995
    assert set(toy_story["genres"]) == {"Adventure", "Animation", "Children", "Comedy", "Fantasy"}
    assert items["genres"].map(lambda g: isinstance(g, tuple)).all()
    assert not items["genres"].map(lambda g: "(no genres listed)" in g).any()


def test_telco_churn_is_typed_with_published_counts():
    # IBM sample data: 7,043 customers of whom 1,869 churned.
    telco = data.load("telco_churn").customers
    assert len(telco) == 7_043 and telco["customer"].is_unique
    assert telco["churn"].dtype == bool and telco["churn"].sum() == 1_869
    assert telco.columns[-1] == "churn" and telco.shape[1] == 1 + 19 + 1
    assert pd.api.types.is_numeric_dtype(telco["tenure"])
    assert pd.api.types.is_float_dtype(telco["monthly_charges"])
    assert isinstance(telco["contract"].dtype, pd.CategoricalDtype)
    assert set(telco["contract"].cat.categories) == {"Month-to-month", "One year", "Two year"}
    # total charges are missing exactly for the customers with zero tenure
    assert (telco["total_charges"].isna() == (telco["tenure"] == 0)).all()


def test_mlc_churn_is_typed_with_published_counts():
    # C50/modeldata churn data: churnTrain (3,333; 483 churners) + churnTest (1,667; 224).
    mlc = data.load("mlc_churn").customers
    assert len(mlc) == 5_000 and mlc["churn"].sum() == 483 + 224
    assert mlc["international_plan"].dtype == bool
    assert isinstance(mlc["state"].dtype, pd.CategoricalDtype) and mlc["state"].nunique() == 51
    assert pd.api.types.is_float_dtype(mlc["total_day_minutes"])


def test_cdnow_master_is_the_1997_q1_cohort():
    # Fader & Hardie's CDNOW data: 23,570 customers whose first purchase was in 1997-Q1,
    # followed to the end of June 1998; 69,659 transaction lines in the master file.
    tx = data.load("cdnow").transactions
    assert list(tx.columns) == ["customer", "date", "quantity", "amount"]
    assert tx["customer"].nunique() == 23_570 and len(tx) == 69_659
    first = tx.groupby("customer")["date"].min()
    assert first.max() <= pd.Timestamp("1997-03-31")
    assert tx["date"].max() == pd.Timestamp("1998-06-30")
    assert (tx["amount"] >= 0).all() and (tx["quantity"] >= 1).all()


def test_cdnow_sample_is_a_subset_of_the_master():
    sample = data.load("cdnow_sample").transactions
    master = data.load("cdnow").transactions
    assert sample["customer"].nunique() == 2_357 and len(sample) == 6_919
    ours = master[master["customer"].isin(sample["customer"])]
    key = ["customer", "date", "quantity", "amount"]
    pd.testing.assert_frame_equal(ours.sort_values(key).reset_index(drop=True),
                                  sample.sort_values(key).reset_index(drop=True))


def test_loads_are_independent_copies():
    first = data.load("cdnow_sample").transactions
    first.loc[first.index[0], "amount"] = -1.0
    first["extra"] = 1
    again = data.load("cdnow_sample").transactions
    assert again["amount"].iloc[0] >= 0 and "extra" not in again.columns


def test_unknown_name_suggests_the_closest():
    with pytest.raises(UnknownNameError, match="Did you mean 'movielens'"):
        data.load("movielense")


def test_options_are_not_swallowed():
    with pytest.raises(ParameterError, match="options"):
        data.load("movielens", n_customers=10)


def test_available_lists_every_design_table_name():
    assert set(data.available()) == {"movielens", "telco_churn", "mlc_churn", "cdnow",
                                     "cdnow_sample", "synthetic"}


def test_loading_never_touches_the_network(monkeypatch):
    import socket

    def refuse(*args, **kwargs):
        raise AssertionError("a loader tried to open a network connection")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    from retaillab.data import builtin

    for cached in (builtin._movielens, builtin._telco, builtin._mlc, builtin._cdnow):
        cached.cache_clear()  # force a cold read from the package files
    for name in ["movielens", "telco_churn", "mlc_churn", "cdnow", "cdnow_sample"]:
        assert data.load(name).summary()["rows"] > 0


def test_public_names_are_the_functions_not_their_modules():
    import importlib

    for module in ("retaillab.data.fingerprinting", "retaillab.data.synthetic_world"):
        importlib.import_module(module)  # importing a module must not shadow the function

    assert callable(data.synthetic) and callable(data.fingerprint) and callable(data.split)
    assert data.load("synthetic", n_customers=50, seed=0).transactions is not None


def test_synthetic_options_are_checked_too():
    with pytest.raises(ParameterError, match="n_customers"):
        data.load("synthetic", n_custmers=5)
