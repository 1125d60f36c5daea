"""A retailer's own order log through the recommender comparison (issue #11): implicit feedback
from transactions, no item table, models that need what the log lacks skipped and recorded."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from retaillab import data, recsys
from retaillab.errors import DataError
from retaillab.recsys.compare import compare

#: Hand-worked order log. Lines per (customer, item) and the last date of each pair:
#:   000028 a: 01-01 (qty 1), 01-05 (qty 3)        -> 2 lines, 4 units, last 01-05 09:30
#:   000028 b: 01-05 (qty 2)                       -> 1 line,  2 units, last 01-05 09:30
#:   000028 c: 02-01 (qty 1)                       -> 1 line,  1 unit,  last 02-01
#:   000237 a: 01-02 (qty 1), b: 01-03 (qty 1), c: 03-01 (qty 1, then -1 returned 03-02)
#:   000500 c: 01-04 (qty 2)
LOG = pd.DataFrame({
    "customer": ["000028", "000028", "000028", "000028", "000237", "000237", "000237",
                 "000237", "000500"],
    "date": pd.to_datetime(["1997-01-01", "1997-01-05 09:30", "1997-01-05 09:30",
                            "1997-02-01", "1997-01-02", "1997-01-03", "1997-03-01",
                            "1997-03-02", "1997-01-04"], format="ISO8601"),
    "amount": [1.0, 3.0, 2.0, 1.0, 1.0, 1.0, 1.0, -1.0, 2.0],
    "quantity": [1, 3, 2, 1, 1, 1, 1, -1, 2],
    "item": ["a", "a", "b", "c", "a", "b", "c", "c", "c"],
    "order": [1, 2, 2, 3, 4, 5, 6, 7, 8],
})


def test_from_transactions_by_lines():
    out = recsys.from_transactions(LOG)
    assert list(out.columns) == ["user", "item", "timestamp", "count"]
    assert list(zip(out["user"], out["item"], out["count"], strict=True)) == [
        ("000028", "a", 2), ("000028", "b", 1), ("000028", "c", 1),
        ("000237", "a", 1), ("000237", "b", 1), ("000237", "c", 2), ("000500", "c", 1)]
    assert out["timestamp"].tolist() == pd.to_datetime([
        "1997-01-05 09:30", "1997-01-05 09:30", "1997-02-01", "1997-01-02", "1997-01-03",
        "1997-03-02", "1997-01-04"], format="ISO8601").tolist()
    assert out["user"].tolist()[0] == "000028"  # text ids keep their zeros


def test_from_transactions_by_quantity_drops_returned_pairs_with_a_warning():
    with pytest.warns(UserWarning, match="1 of 7 customer x item pairs"):
        out = recsys.from_transactions(LOG, weight="quantity")
    # 000237 c: 1 bought, 1 returned -> 0 units, dropped
    assert list(zip(out["user"], out["item"], out["count"], strict=True)) == [
        ("000028", "a", 4), ("000028", "b", 2), ("000028", "c", 1),
        ("000237", "a", 1), ("000237", "b", 1), ("000500", "c", 2)]


def test_from_transactions_refuses_a_table_without_items():
    with pytest.raises(DataError, match="no column 'item'") as caught:
        recsys.from_transactions(LOG.drop(columns="item"))
    assert "columns={'item'" in str(caught.value)
    with pytest.raises(DataError, match="no column 'quantity'"):
        recsys.from_transactions(LOG.drop(columns="quantity"), weight="quantity")
    with pytest.raises(DataError, match="1 rows have no item"):
        recsys.from_transactions(LOG.assign(item=["a", None, *LOG["item"][2:]]))


def test_the_chronological_split_holds_out_each_customers_latest_items():
    train, test = data.split(recsys.from_transactions(LOG), "chronological", ratio=0.5)
    # 000028: a, b (01-05) then c (02-01): round(1.5 + .5) = 2 to train, c to test
    # 000237: a (01-02), b (01-03), c (03-02): a, b to train; 000500 has one row: train only
    assert sorted(zip(test["user"], test["item"], strict=True)) == [
        ("000028", "c"), ("000237", "c")]
    assert len(train) == 5


def order_log(n_lines: int = 600, seed: int = 0) -> pd.DataFrame:
    """A random order log with text customer ids, times of day and no item table."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "customer": [f"{c:06d}" for c in rng.integers(0, 50, n_lines)],
        "date": pd.Timestamp("1997-01-01") + pd.to_timedelta(
            rng.integers(0, 300 * 24, n_lines), unit="h"),
        "amount": 1.0, "item": [f"sku{i}" for i in rng.integers(0, 30, n_lines)]})


def test_compare_runs_on_an_order_log_without_items_and_records_the_skips():
    interactions = recsys.from_transactions(order_log())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = compare(interactions, ["most_popular", "item_knn", "content_based", "svd"],
                         split="chronological", k=5, progress=False)
    assert list(result.summary.index) == ["most_popular", "item_knn"]
    assert set(result.skipped) == {"content_based", "svd"}
    assert "item attributes" in result.skipped["content_based"]
    assert "items=None" in result.skipped["content_based"]
    assert "'rating'" in result.skipped["svd"]
    skips = [w for w in caught if "skips" in str(w.message)]
    assert len(skips) == 1 and "content_based" in str(skips[0].message)
    table = result.most_recommended(top=3)
    assert table.groupby("model").size().to_dict() == {"item_knn": 3, "most_popular": 3}
    assert "name" not in table.columns


def test_compare_with_an_item_table_without_attributes_skips_content_based():
    interactions = recsys.from_transactions(order_log())
    items = pd.DataFrame({"item": [f"sku{i}" for i in range(30)],
                          "name": [f"product {i}" for i in range(30)]})
    with pytest.warns(UserWarning, match="the item table has none of the attribute columns"):
        result = compare(interactions, ["most_popular", "content_based", "bought_together"],
                         split="chronological", k=5, items=items, progress=False)
    assert list(result.skipped) == ["content_based"]
    names = items.set_index("item")["name"]
    table = result.most_recommended(top=2, names=names)
    assert (table["name"] == "product " + table["item"].str[3:]).all()


def test_compare_refuses_when_every_model_is_skipped():
    with pytest.raises(DataError, match="no model can run"):
        compare(recsys.from_transactions(order_log()), ["content_based"], progress=False)


def test_compare_refuses_an_item_table_of_another_id_type():
    interactions = recsys.from_transactions(order_log()).assign(
        item=lambda t: t["item"].str[3:].astype(int))
    items = pd.DataFrame({"item": [f"{i:03d}" for i in range(30)], "category": "x"})
    with pytest.raises(DataError, match="interactions has item ids as integers but items"):
        compare(interactions, ["most_popular"], items=items, progress=False)
