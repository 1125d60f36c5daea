"""item_features: one encoding of an item table, for the content model and intra-list diversity.

Expected values are written by hand or rebuilt with plain pandas, never read from the function.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from retaillab import data, metrics
from retaillab.errors import DataError, ParameterError
from retaillab.recsys import item_features
from retaillab.recsys.compare import build, compare

ITEMS = pd.DataFrame({
    "item": [10, 20, 30, 40, 10],  # 10 twice: the first row holds
    "genres": [("Action", "Drama"), ("Drama",), (), np.nan, ("Comedy",)],
    "year": [1990.0, 2000.0, 2010.0, np.nan, 1990.0],
    "brand": ["b", "a", None, "a", "z"],
})


@pytest.fixture(scope="module")
def movielens():
    return data.load("movielens")


def test_each_kind_of_column_by_hand():
    table = item_features(ITEMS, n_bins=3)
    assert table.index.tolist() == [10, 20, 30, 40] and table.index.name == "item"
    assert list(table.columns) == sorted(table.columns)
    on = {item: sorted(row[row > 0].index) for item, row in table.iterrows()}
    # three years, three equal-frequency bins: one year in each
    year = {item: [c for c in cols if c.startswith("year=")] for item, cols in on.items()}
    assert [len(year[i]) for i in (10, 20, 30, 40)] == [1, 1, 1, 0]
    assert len({year[10][0], year[20][0], year[30][0]}) == 3
    assert [c for c in on[10] if not c.startswith("year=")] == [
        "brand=b", "genres=Action", "genres=Drama"]
    assert [c for c in on[20] if not c.startswith("year=")] == ["brand=a", "genres=Drama"]
    assert [c for c in on[30] if not c.startswith("year=")] == []  # no genre, no brand
    assert on[40] == ["brand=a"]
    assert set(np.unique(table.to_numpy())) == {0.0, 1.0}
    assert "brand=z" not in table.columns and "genres=Comedy" not in table.columns


def test_movielens_genres_and_year_bins(movielens):
    table = item_features(movielens.items)
    genres = [c for c in table.columns if c.startswith("genres=")]
    toy_story = table.loc[1, genres]
    assert toy_story[toy_story > 0].index.tolist() == [
        f"genres={g}" for g in ("Adventure", "Animation", "Children", "Comedy", "Fantasy")]
    # genre counts equal a plain count over the tuples
    counted = movielens.items["genres"].explode().value_counts()
    assert table[genres].sum().rename(lambda c: c.split("=", 1)[1]).sort_index().equals(
        counted.sort_index().astype(float).rename_axis(None).rename(None))
    # five equal-frequency year bins: each holds about a fifth of the dated items
    years = table[[c for c in table.columns if c.startswith("year=")]]
    dated = movielens.items["year"].notna().sum()
    assert years.shape[1] == 5 and years.sum().sum() == dated
    assert (years.sum() / dated).between(0.15, 0.25).all()


def test_synthetic_category_brand_and_price_band_one_hot():
    world = data.load("synthetic", n_customers=60, seed=2)
    table = item_features(world.items)
    plain = pd.get_dummies(world.items.set_index("item")[["category", "brand", "price_band"]]
                           .astype(str), prefix_sep="=").astype(float)
    pd.testing.assert_frame_equal(table, plain[sorted(plain.columns)], check_names=False)
    assert (table.sum(axis=1) == 3).all()  # price (numeric) is not a default attribute


def test_bad_input_is_named():
    with pytest.raises(DataError, match="no attribute column 'colour'"):
        item_features(ITEMS, ["colour"])
    with pytest.raises(DataError, match="none of the default attribute columns"):
        item_features(ITEMS[["item"]])
    with pytest.raises(ParameterError, match="items must be"):
        item_features(ITEMS.drop(columns="item"))
    with pytest.raises(ParameterError, match="n_bins"):
        item_features(ITEMS, n_bins=0)
    with pytest.raises(ParameterError, match="features must be"):
        item_features(ITEMS, "genres")


def test_compare_gives_diversity_the_features_the_content_model_uses(movielens):
    result = compare(movielens.interactions, ["content_based", "most_popular"], k=5, seed=3,
                     n_users=25, items=movielens.items, progress=False)
    train, _ = result.folds[-1]
    features = item_features(movielens.items)
    model = build("content_based", {}, movielens.items).fit(train)
    dense = features.loc[list(model.items_)].to_numpy()
    norms = np.linalg.norm(dense, axis=1, keepdims=True)
    np.testing.assert_allclose(model.features_.toarray(), dense / np.where(norms, norms, 1))
    for name, recs in result.recommendations.items():
        # naive intra-list diversity over the shared features: mean pairwise cosine distance
        per_user = []
        for _, rows in recs.groupby("user"):
            x = features.loc[rows["item"]].to_numpy()
            x = x / np.linalg.norm(x, axis=1, keepdims=True)
            pairs = [1 - x[i] @ x[j] for i in range(len(x)) for j in range(i + 1, len(x))]
            per_user.append(np.mean(pairs))
        assert result.summary.loc[name, "intra_list_diversity"] == pytest.approx(
            np.mean(per_user))
        assert result.summary.loc[name, "intra_list_diversity"] == pytest.approx(
            metrics.intra_list_diversity(recs, features))
