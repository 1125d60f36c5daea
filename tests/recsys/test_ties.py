"""One tie-break rule for every ranked list: higher score, then higher training popularity, then
smaller item id (retaillab.recsys.ranking). Ties are built on purpose; every expected order
comes from Python's ``sorted`` over (-score, -popularity, id), never from the code under test.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from retaillab import recsys
from retaillab.recsys import ranking
from retaillab.recsys.compare import build
from retaillab.recsys.item_knn import shrunk_cosine

FAST = {"svd": {"n_epochs": 3}, "svdpp": {"n_epochs": 2}, "nmf": {"n_epochs": 3},
        "als": {"iterations": 3}, "bpr": {"iterations": 5}, "co_clustering": {"n_epochs": 3}}

#: item number -> how many users interacted with it: three blocks of equal popularity, and ids
#: whose first appearance in the rows is not their natural order
POPULARITY = {70: 5, 20: 5, 50: 5, 100: 5, 10: 3, 90: 3, 40: 2, 30: 2, 80: 2, 60: 1, 5: 1}
N_USERS = 12


def item_id(number: int, kind: str):
    # as text, "i100" < "i20" < "i5": the natural order of text ids is alphabetical
    return number if kind == "int" else f"i{number}"


def tied_interactions(kind: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Ratings with exact popularity ties, rows shuffled, and an item table for content."""
    rng = np.random.default_rng(7)
    rows = []
    for number, count in POPULARITY.items():
        for user in rng.choice(N_USERS, size=count, replace=False):
            rows.append((f"u{user:02d}", item_id(number, kind), float(rng.integers(1, 6))))
    train = pd.DataFrame(rows, columns=["user", "item", "rating"])
    train = train.sample(frac=1.0, random_state=3).reset_index(drop=True)
    items = pd.DataFrame({"item": [item_id(n, kind) for n in POPULARITY],
                          "category": [("a", "b", "c")[n % 3] for n in POPULARITY]})
    return train, items


def naive_order(candidates, score, popularity) -> list:
    """The documented rule, written out: sort by (-score, -popularity, id)."""
    return sorted(candidates, key=lambda item: (-score[item], -popularity[item], item))


def training_popularity(train: pd.DataFrame) -> dict:
    return train.drop_duplicates(["user", "item"]).groupby("item")["user"].size().to_dict()


@pytest.fixture(scope="module", params=["int", "str"])
def tied(request):
    return tied_interactions(request.param)


@pytest.fixture(scope="module", params=recsys.available())
def fitted(request, tied):
    train, items = tied
    return request.param, build(request.param, FAST.get(request.param, {}), items).fit(train)


def test_fallback_is_most_popular_exactly_with_ties_broken_by_id(fitted, tied):
    name, model = fitted
    train, _ = tied
    popularity = training_popularity(train)
    expected = naive_order(popularity, popularity, popularity)
    # the blocks of equal popularity really are there, and ids are not in row order
    assert len(set(popularity.values())) < len(popularity)
    assert list(pd.unique(train["item"])) != sorted(popularity)
    n = len(popularity)
    fallback = model.recommend(["nobody"], k=n)
    assert fallback["fallback"].all()
    assert fallback["item"].tolist() == expected, name
    popular = recsys.create("most_popular").fit(train).recommend(["nobody"], k=n)
    pd.testing.assert_frame_equal(fallback, popular)
    for k in (1, 3, 4, 7):  # cuts inside each block of equal popularity
        assert model.recommend(["nobody"], k=k)["item"].tolist() == expected[:k], (name, k)


def test_equal_scores_are_ordered_by_popularity_then_id(fitted, tied, monkeypatch):
    """Every registered model's top-N, fed exact ties: scores of three levels only."""
    name, model = fitted
    train, _ = tied
    popularity = training_popularity(train)
    users = sorted(train["user"].unique())
    items = sorted(popularity)
    rng = np.random.default_rng(11)
    by_id = pd.DataFrame(rng.integers(0, 3, (len(users), len(items))).astype(float),
                         index=users, columns=items)
    codes = by_id.loc[list(model.users_), list(model.items_)].to_numpy()
    monkeypatch.setattr(model, "_scores", lambda rows: codes[rows].copy(), raising=False)
    seen = train.groupby("user")["item"].apply(set)
    for k in (1, 2, 4, 6, len(items)):
        recs = model.recommend(users, k=k)
        for user in users:
            unseen = [i for i in items if i not in seen[user]]
            expected = naive_order(unseen, by_id.loc[user], popularity)[:k]
            assert recs.loc[recs["user"] == user, "item"].tolist() == expected, (name, user, k)


def with_twins(train: pd.DataFrame, items: pd.DataFrame, twins: dict) -> tuple:
    """Add items bought by exactly the same users, with the same ratings and attributes."""
    extra = [train[train["item"] == original].assign(item=twin)
             for original, twin in twins.items()]
    table = items.set_index("item")
    extra_items = pd.DataFrame({"item": list(twins.values()),
                                "category": table.loc[list(twins), "category"].to_list()})
    return (pd.concat([train, *extra], ignore_index=True),
            pd.concat([items, extra_items], ignore_index=True))


@pytest.mark.parametrize("name", ["most_popular", "content_based", "bought_together",
                                  "item_knn", "ease", "slope_one", "knn_basic"])
def test_models_own_ties_follow_the_rule_and_not_the_row_order(tied, name):
    """Twin items (the same buyers, ratings and attributes) that a model cannot tell apart: the
    lists order the model's own scores by the rule, and shuffling the rows changes nothing."""
    train, items = tied
    first, second = train["item"].iloc[0], train["item"].iloc[1]
    kind = "str" if isinstance(first, str) else "int"
    twins = {first: item_id(7, kind), second: item_id(77, kind)}
    train, items = with_twins(train, items, twins)
    popularity = training_popularity(train)
    users = sorted(train["user"].unique())
    model = build(name, FAST.get(name, {}), items).fit(train)
    recs = model.recommend(users, k=len(popularity))
    tied_pairs = 0
    for user, rows in recs.groupby("user"):
        score = dict(zip(rows["item"], rows["score"], strict=True))
        assert rows["item"].tolist() == naive_order(list(score), score, popularity), user
        tied_pairs += sum(a in score and score[a] == score.get(b) for a, b in twins.items())
    if name in ("most_popular", "content_based", "bought_together", "item_knn"):
        assert tied_pairs > 0  # the twins really tie for these models
    shuffled = build(name, FAST.get(name, {}), items).fit(
        train.sample(frac=1.0, random_state=9).reset_index(drop=True))
    again = shuffled.recommend(users, k=len(popularity))
    if name in ("most_popular", "content_based", "bought_together", "item_knn"):
        pd.testing.assert_frame_equal(recs, again)


def test_top_k_equals_a_full_sort_by_the_rule():
    rng = np.random.default_rng(0)
    ids = rng.permutation(np.arange(100, 130))
    pop = rng.integers(0, 3, len(ids))
    scores = rng.integers(0, 4, (25, len(ids))).astype(float)
    scores[rng.random(scores.shape) < 0.2] = -np.inf
    scores[0, :5] = np.nan  # NaN ranks as -inf
    order = ranking.tie_order(pop, ids)
    for k in (1, 5, 17, 30, 50):
        columns, values = ranking.top_k(scores, k, order)
        for row in range(len(scores)):
            s = np.where(np.isnan(scores[row]), -np.inf, scores[row])
            expected = sorted(range(len(ids)), key=lambda j: (-s[j], -pop[j], ids[j]))[:k]
            assert columns[row].tolist() == expected, (row, k)
            assert values[row].tolist() == s[expected].tolist()


def test_ids_in_their_natural_order():
    assert ranking.id_ranks([10, 9, 100]).tolist() == [1, 0, 2]  # numbers: numerically
    assert ranking.id_ranks(["10", "9", "100"]).tolist() == [0, 2, 1]  # text: alphabetically
    assert ranking.id_ranks([10, "9", 100]).tolist() == [0, 2, 1]  # mixed: compared as text
    assert ranking.ranked([1.0, 2.0, 1.0, 1.0], [3, 0, 3, 5], ["b", "z", "a", "c"]).tolist() \
        == [1, 3, 2, 0]


def test_item_knn_keeps_the_more_popular_neighbour_of_equal_similarity():
    # plain cosine with item 0 (4 users): item 1 shares 1 of its 1 user, item 2 shares 2 of 4:
    # both 0.5; item 2 is more popular and wins the single neighbour place
    x = np.zeros((6, 3))
    x[:4, 0] = 1
    x[0, 1] = 1
    x[[0, 1, 4, 5], 2] = 1
    matrix = sparse.csr_matrix(x)
    order = ranking.tie_order(x.sum(axis=0), ["a", "b", "c"])
    pruned = shrunk_cosine(matrix, shrinkage=0.0, k=1, order=order)
    assert pruned.getrow(0).indices.tolist() == [2]
    assert pruned.getrow(0).data == pytest.approx([0.5])
    # equal popularity too: the smaller id wins ("b", column 2, against "c", column 1)
    same = ranking.tie_order([4, 1, 1], ["a", "c", "b"])
    x[[1, 4, 5], 2] = 0
    assert shrunk_cosine(sparse.csr_matrix(x), 0.0, 1, order=same).getrow(0).indices.tolist() \
        == [2]


def test_similar_items_break_ties_by_popularity_then_id():
    # confidence(x -> j) = baskets with x and j / baskets with x (3): "a" and "b" are both in
    # 2 of x's baskets, "b" is in more baskets overall; "c" and "d" tie in everything
    baskets = {"u1": "xab", "u2": "xab", "u3": "xdc", "u4": "b", "u5": "b"}
    train = pd.DataFrame([(u, i) for u, b in baskets.items() for i in b],
                         columns=["user", "item"])
    model = recsys.create("bought_together", min_support=0.0).fit(train)
    table = model.similar_items("x", k=10)
    assert table["item"].tolist() == ["b", "a", "c", "d"]
    assert table["confidence"].tolist() == pytest.approx([2 / 3, 2 / 3, 1 / 3, 1 / 3])
