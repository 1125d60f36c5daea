"""Beyond-accuracy metrics against plain loops over users, items and item pairs; hand cases;
bad inputs."""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np
import pandas as pd
import pytest

from retaillab import metrics
from retaillab.errors import DataError, ParameterError

# --- references ------------------------------------------------------------------------------


def lists_of(recs):
    out: dict[object, list] = {}
    for row in recs.itertuples():
        out.setdefault(row.user, []).append(row.item)
    return dict(sorted(out.items()))


def users_per_item(train):
    seen: dict[object, set] = {}
    for row in train.itertuples():
        seen.setdefault(row.item, set()).add(row.user)
    return {item: len(users) for item, users in seen.items()}


def ref_novelty(recs, train):
    pop, n_users = users_per_item(train), len({row.user for row in train.itertuples()})
    return {u: sum(-math.log2(max(pop.get(i, 0), 1) / n_users) for i in items) / len(items)
            for u, items in lists_of(recs).items()}


def ref_popularity_bias(recs, train):
    pop = users_per_item(train)
    mean_pop = sum(pop.values()) / len(pop)
    return {u: sum(pop.get(i, 0) for i in items) / len(items) / mean_pop
            for u, items in lists_of(recs).items()}


def ref_ild(recs, features):
    out = {}
    for u, items in lists_of(recs).items():
        distances = []
        for a, b in combinations(items, 2):
            fa, fb = features.loc[a].to_numpy(float), features.loc[b].to_numpy(float)
            na, nb = np.linalg.norm(fa), np.linalg.norm(fb)
            cos = 0.0 if na == 0 or nb == 0 else float(fa @ fb) / (na * nb)
            distances.append(1 - cos)
        out[u] = sum(distances) / len(distances) if distances else float("nan")
    return out


def random_case(seed: int):
    """Lists of 1..12 items (one-item lists have no pairs), items unseen in train, items with
    all-zero features, repeated training rows."""
    rng = np.random.default_rng(seed)
    n_users, n_items = int(rng.integers(5, 30)), int(rng.integers(15, 50))
    train = pd.DataFrame({"user": rng.integers(0, n_users + 5, 400),
                          "item": rng.integers(0, n_items - 3, 400)})  # last 3 items unseen
    rows = []
    for u in range(n_users):
        length = int(rng.integers(1, 13))
        for r, i in enumerate(rng.choice(n_items, size=length, replace=False), start=1):
            rows.append((u, int(i), 0.0, r, False))
    recs = pd.DataFrame(rows, columns=["user", "item", "score", "rank", "fallback"])
    recs = recs.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    genres = rng.random((n_items, 6)) < 0.3  # one-hot-like, some rows all False
    features = pd.DataFrame(genres, index=pd.Index(range(n_items), name="item"),
                            columns=[f"g{j}" for j in range(6)])
    if seed % 2:
        features = features.assign(year=rng.normal(0, 1, n_items))  # any numeric feature
    return recs, train, features, n_items


def as_series(values: dict) -> np.ndarray:
    return np.array([values[k] for k in sorted(values)])


# --- against the references -------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(8))
def test_per_user_values_match_loops(seed):
    recs, train, features, _ = random_case(seed)
    for got, want in [
        (metrics.novelty_per_user(recs, train), ref_novelty(recs, train)),
        (metrics.popularity_bias_per_user(recs, train), ref_popularity_bias(recs, train)),
        (metrics.intra_list_diversity_per_user(recs, features), ref_ild(recs, features)),
    ]:
        assert list(got.index) == sorted(want) and got.index.name == "user"
        assert got.to_numpy() == pytest.approx(as_series(want), abs=1e-9, nan_ok=True)


@pytest.mark.parametrize("seed", range(8))
def test_summaries_match_loops(seed):
    recs, train, features, n_items = random_case(seed)
    ild = [v for v in ref_ild(recs, features).values() if not math.isnan(v)]
    want = {
        "coverage": len(set(recs["item"])) / n_items,
        "novelty": float(np.mean(list(ref_novelty(recs, train).values()))),
        "popularity_bias": float(np.mean(list(ref_popularity_bias(recs, train).values()))),
        "intra_list_diversity": sum(ild) / len(ild),
    }
    assert metrics.beyond_accuracy(recs, train, n_items, features) == pytest.approx(want)
    assert set(metrics.beyond_accuracy(recs, train, n_items)) == set(want) - {
        "intra_list_diversity"}
    for name, value in want.items():
        args = {"coverage": (n_items,), "intra_list_diversity": (features,)}.get(name, (train,))
        assert getattr(metrics, name)(recs, *args) == pytest.approx(value)


# --- by hand ----------------------------------------------------------------------------------

TRAIN = pd.DataFrame({"user": ["a", "b", "c", "d", "a", "a"],
                      "item": ["x", "x", "x", "x", "y", "y"]})  # x: 4 of 4 users, y: 1
RECS = pd.DataFrame({"user": ["a", "a", "b"], "item": ["x", "y", "y"], "rank": [1, 2, 1]})


def test_hand_case():
    nov = metrics.novelty_per_user(RECS, TRAIN)
    assert nov["a"] == pytest.approx((0 + 2) / 2) and nov["b"] == pytest.approx(2.0)
    assert metrics.novelty(RECS, TRAIN) == pytest.approx(1.5)  # per user, not per row (4/3)
    # mean training popularity (4 + 1) / 2 = 2.5
    bias = metrics.popularity_bias_per_user(RECS, TRAIN)
    assert bias["a"] == pytest.approx(2.5 / 2.5) and bias["b"] == pytest.approx(1 / 2.5)
    assert metrics.coverage(RECS, 4) == 0.5
    features = pd.DataFrame({"g1": [1, 1], "g2": [0, 1]}, index=["x", "y"])
    ild = metrics.intra_list_diversity_per_user(RECS, features)
    assert ild["a"] == pytest.approx(1 - 1 / math.sqrt(2)) and math.isnan(ild["b"])
    assert metrics.intra_list_diversity(RECS, features) == pytest.approx(1 - 1 / math.sqrt(2))


def test_identical_items_have_zero_diversity():
    features = pd.DataFrame({"g": [1.0, 1.0]}, index=["x", "y"])
    assert metrics.intra_list_diversity(RECS, features) == 0.0


# --- bad input -------------------------------------------------------------------------------


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(DataError, match="column 'item'"):
        metrics.novelty(RECS.drop(columns="item"), TRAIN)
    with pytest.raises(DataError, match="train, column 'user'"):
        metrics.novelty(RECS, TRAIN.drop(columns="user"))
    with pytest.raises(DataError, match="no rows"):
        metrics.coverage(RECS.iloc[:0], 4)
    with pytest.raises(DataError, match=r"repeat a \(user, item\) pair"):
        metrics.popularity_bias(pd.concat([RECS, RECS]), TRAIN)
    with pytest.raises(ParameterError, match="n_items"):
        metrics.coverage(RECS, 0)
    with pytest.raises(DataError, match="more than n_items=1"):
        metrics.coverage(RECS, 1)
    with pytest.raises(DataError, match="no id could ever match"):
        metrics.novelty(RECS, TRAIN.assign(item=[1, 1, 1, 1, 2, 2]))
    with pytest.raises(DataError, match="1 recommended items have no features"):
        metrics.intra_list_diversity(RECS, pd.DataFrame({"g": [1]}, index=["x"]))
    with pytest.raises(DataError, match="'genre' is str, not numeric"):
        metrics.intra_list_diversity(RECS, pd.DataFrame({"genre": ["a", "b"]}, index=["x", "y"]))
    with pytest.raises(DataError, match="missing or infinite"):
        metrics.intra_list_diversity(RECS, pd.DataFrame({"g": [1, np.nan]}, index=["x", "y"]))
    with pytest.raises(DataError, match="no user has two"):
        metrics.intra_list_diversity(RECS.iloc[1:], pd.DataFrame({"g": [1, 1]}, index=["x", "y"]))
    with pytest.raises(ParameterError, match="item_features must be a DataFrame"):
        metrics.intra_list_diversity(RECS, np.ones((2, 2)))
