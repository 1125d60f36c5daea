"""Item tables and event logs read from users' files, and a catalogue data set made of both."""

from __future__ import annotations

import pandas as pd
import pytest

from retaillab import data
from retaillab.data.quality import Quality
from retaillab.errors import DataError

ITEMS = ("sku,title,category,price\n"
         "007,Mug,kitchen,4.50\n85123A,Heart,decor,2.95\n12,Tin,kitchen,3\n")
EVENTS = ("user_id,sku,action,when,secs\n"
          "c1,007,view,2024-03-01 10:00:00,12\n"
          "c1,007,add_to_cart,2024-03-01 10:01:00,3\n"
          "c2,12,view,2024-03-02 09:00:00,40\n")


def test_items_keep_their_codes_and_type_their_attributes(tmp_path):
    path = tmp_path / "items.csv"
    path.write_text(ITEMS)
    items = data.read_items(path, columns={"item": "sku"})
    assert items["item"].tolist() == ["007", "85123A", "12"]  # text: a letter, a leading zero
    assert items["price"].tolist() == [4.5, 2.95, 3.0]
    assert isinstance(items["category"].dtype, pd.CategoricalDtype)


def test_an_item_twice_is_refused(tmp_path):
    path = tmp_path / "items.csv"
    path.write_text(ITEMS + "12,Tin again,kitchen,3\n")
    with pytest.raises(DataError, match="repeat an item id") as err:
        data.read_items(path, columns={"item": "sku"})
    assert err.value.rows.index.tolist() == [5]  # the file line of the repeat


def test_events_are_mapped_typed_and_counted(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text(EVENTS)
    quality = Quality()
    events = data.read_events(path, columns={"customer": "user_id", "item": "sku",
                                             "event": "action", "timestamp": "when",
                                             "dwell_seconds": "secs"}, quality=quality)
    assert list(events.columns[:5]) == ["customer", "item", "event", "timestamp",
                                        "dwell_seconds"]
    assert events["item"].tolist() == ["007", "007", "12"]
    assert events["timestamp"].iloc[1] == pd.Timestamp("2024-03-01 10:01:00")
    assert events["dwell_seconds"].sum() == 55
    assert (quality.rows_read, quality.rows, quality.entities["customers"]) == (3, 3, 2)


def test_blank_events_and_negative_dwell_are_refused_with_their_lines(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text("customer,item,event,timestamp,dwell_seconds\n"
                    "c1,a,,2024-03-01,5\nc1,b,view,2024-03-02,-1\n")
    with pytest.raises(DataError, match="no event name") as err:
        data.read_events(path)
    assert err.value.rows.index.tolist() == [2]
    path.write_text("customer,item,event,timestamp,dwell_seconds\n"
                    "c1,a,view,2024-03-01,5\nc1,b,view,2024-03-02,-1\n")
    with pytest.raises(DataError, match="dwell times are negative") as err:
        data.read_events(path)
    assert err.value.rows.index.tolist() == [3]


def test_a_catalogue_data_set_joins_orders_items_and_events(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "items.csv").write_text(ITEMS)
    (tmp_path / "events.csv").write_text(EVENTS)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "sources.yaml").write_text(
        "shop:\n  tables:\n"
        "    items: {path: items.csv, kind: items, columns: {item: sku}}\n"
        "    events: {path: events.csv, kind: events, columns: {customer: user_id, item: sku,"
        " event: action, timestamp: when, dwell_seconds: secs}}\n")
    monkeypatch.chdir(tmp_path)
    world = data.load("shop")
    assert len(world.items) == 3 and len(world.events) == 3
    assert sorted(o.table for o in world.origins) == ["events", "items"]
    views = world.feedback("view")
    assert sorted(views["user"]) == ["c1", "c2"]
