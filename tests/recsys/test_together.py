"""BoughtTogether against a hand count and against mlxtend's association rules."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from retaillab.errors import DataError, ParameterError
from retaillab.recsys.together import BoughtTogether

# orders o1 {a, b}, o2 {a, b, c}, o3 {a, c}, o4 {b}; u1 placed o1 and o2, u2 o3, u3 o4
ORDERS = pd.DataFrame(
    [("u1", "o1", "a"), ("u1", "o1", "b"), ("u1", "o2", "a"), ("u1", "o2", "b"),
     ("u1", "o2", "c"), ("u2", "o3", "a"), ("u2", "o3", "c"), ("u3", "o4", "b")],
    columns=["user", "order", "item"])
NAMES = pd.DataFrame({"item": ["a", "b", "c"], "name": ["Apples", "Bread", "Cheese"]})


def test_order_baskets_by_hand():
    # N = 4 orders; a in 3, b in 3, c in 2; {a,b} in 2, {a,c} in 2, {b,c} in 1
    model = BoughtTogether(basket="order", min_support=0.0, metric="lift", items=NAMES).fit(ORDERS)
    assert model.n_baskets_ == 4
    similar = model.similar_items("c", k=10).set_index("item")
    assert similar.index.tolist() == ["a", "b"]  # by lift
    assert similar.loc["a", "name"] == "Apples"
    assert similar.loc["a", "count"] == 2
    assert similar.loc["a", "support"] == pytest.approx(2 / 4)
    assert similar.loc["a", "confidence"] == pytest.approx(2 / 2)  # c -> a
    assert similar.loc["a", "lift"] == pytest.approx(2 * 4 / (2 * 3))
    assert similar.loc["b", "lift"] == pytest.approx(1 * 4 / (2 * 3))
    a = model.similar_items("a", k=1)
    assert a["item"].tolist() == ["c"] and a["confidence"].item() == pytest.approx(2 / 3)


def test_recommendation_sums_the_metric_over_the_users_items():
    lift = BoughtTogether(basket="order", min_support=0.0, metric="lift").fit(ORDERS)
    recs = lift.recommend(["u2"], k=5)  # u2 has a and c; only b is left
    assert recs["item"].tolist() == ["b"]
    # lift(a -> b) + lift(c -> b) = 2*4/(3*3) + 1*4/(2*3)
    assert recs["score"].item() == pytest.approx(8 / 9 + 4 / 6)
    confidence = BoughtTogether(basket="order", min_support=0.0, metric="confidence")
    assert confidence.fit(ORDERS).recommend(["u2"], k=5)["score"].item() == \
        pytest.approx(2 / 3 + 1 / 2)
    pruned = BoughtTogether(basket="order", min_support=0.0, metric="lift",
                            min_confidence=0.6).fit(ORDERS)
    assert pruned.recommend(["u2"], k=5)["score"].item() == pytest.approx(8 / 9)  # c->b: 0.5


def test_user_baskets_and_min_support():
    # user baskets: u1 {a, b, c}, u2 {a, c}, u3 {b}
    model = BoughtTogether(min_support=0.5).fit(ORDERS)
    assert model.n_baskets_ == 3
    assert model.cooccurrence_.nnz == 2  # only {a, c} is in 2 of 3 baskets
    assert model.similar_items("a")["item"].tolist() == ["c"]
    assert model.similar_items("b").empty


def test_pairwise_measures_equal_mlxtend_rules():
    rng = np.random.default_rng(0)
    n_orders, n_items = 300, 12
    popularity = rng.uniform(0.05, 0.5, n_items)
    hold = rng.random((n_orders, n_items)) < popularity
    orders, items = np.nonzero(hold)
    train = pd.DataFrame({"user": orders % 40, "order": orders, "item": items + 100})
    model = BoughtTogether(basket="order", min_support=0.02).fit(train)
    rules = model.rules(min_confidence=0.0)
    assert len(rules) == model.cooccurrence_.nnz  # every ordered pair above min_support
    assert rules["antecedents"].map(len).eq(1).all()
    for row in rules.itertuples():
        (antecedent,), (consequent,) = row.antecedents, row.consequents
        pair = model.similar_items(antecedent, k=n_items).set_index("item").loc[consequent]
        assert row.support == pytest.approx(pair["support"])
        assert row.confidence == pytest.approx(pair["confidence"])
        assert row.lift == pytest.approx(pair["lift"])
    # and by hand, for one pair (an order with no items is no basket)
    i, j = 100, 101
    n_orders = hold.any(axis=1).sum()
    both = (hold[:, 0] & hold[:, 1]).sum()
    row = rules[(rules["antecedents"] == (i,)) & (rules["consequents"] == (j,))].iloc[0]
    assert row["confidence"] == pytest.approx(both / hold[:, 0].sum())
    assert row["lift"] == pytest.approx(both * n_orders / (hold[:, 0].sum() * hold[:, 1].sum()))


def test_rules_are_readable_and_can_be_longer():
    model = BoughtTogether(basket="order", min_support=0.0, metric="lift", items=NAMES).fit(ORDERS)
    rules = model.rules(min_support=0.25, min_confidence=0.5, max_len=3)
    assert list(rules.columns) == ["antecedents", "consequents", "antecedent_names",
                                   "consequent_names", "support", "confidence", "lift"]
    assert (rules["confidence"] >= 0.5).all()
    assert rules["lift"].is_monotonic_decreasing
    two = rules[rules["antecedents"] == ("a", "b")]
    assert two["consequents"].tolist() == [("c",)]  # {a, b} -> c: 1 of the 2 baskets
    assert two["consequent_names"].tolist() == [("Cheese",)]
    assert two["confidence"].item() == pytest.approx(1 / 2)
    none = model.rules(min_support=0.9)
    assert none.empty and "support" in none.columns


def test_errors_name_the_problem():
    with pytest.raises(DataError, match="order"):
        BoughtTogether(basket="order").fit(ORDERS.drop(columns="order"))
    model = BoughtTogether().fit(ORDERS)
    with pytest.raises(ParameterError, match="item"):
        model.similar_items("zzz")
    with pytest.raises(ParameterError, match="max_len"):
        model.rules(max_len=1)
