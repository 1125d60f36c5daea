"""On the synthetic world the truth is known: each customer's category affinity is planted.

A recommender that learned preferences recommends from the customer's truly preferred categories
far more often than chance (3 of 12 categories: 0.25); most-popular, which knows no one, does not.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from retaillab import data
from retaillab.recsys.compare import affinity_precision, compare

PERSONAL = ["item_knn", "ease", "als", "bpr", "content_based"]


@pytest.fixture(scope="module")
def result():
    world = data.load("synthetic", n_customers=3000, seed=3)
    views = world.feedback("view")
    found = compare(views, ["most_popular", *PERSONAL], k=10, seed=1, items=world.items,
                    progress=False)
    return world, found


@pytest.mark.parametrize("name", PERSONAL)
def test_personal_models_recover_planted_categories(result, name):
    world, found = result
    chance = 3 / world.truth.affinity.shape[1]
    assert affinity_precision(found.recommendations[name], world) > 1.8 * chance


def test_most_popular_stays_near_chance(result):
    world, found = result
    chance = 3 / world.truth.affinity.shape[1]
    assert affinity_precision(found.recommendations["most_popular"], world) < 1.3 * chance


def test_affinity_precision_by_hand(result):
    world, _ = result
    affinity = world.truth.affinity
    user = affinity.index[0]
    top = list(affinity.columns[np.argsort(-affinity.loc[user].to_numpy())[:3]])
    items = world.items.set_index("item")["category"]
    good = items[items.isin(top)].index[:3]
    bad = items[~items.isin(top)].index[:1]
    recs = pd.DataFrame({"user": user, "item": [*good, *bad]})
    assert affinity_precision(recs, world) == pytest.approx(0.75)
