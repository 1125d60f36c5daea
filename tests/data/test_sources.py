"""Data sources: the catalogue, inline sources, paths, and what a run records of them."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from retaillab import data, tracking
from retaillab.data import sources
from retaillab.errors import DataError, UnknownNameError
from retaillab.runner import changed_sources

ORDERS = ("customer,date,amount,item\n"
          "c1,2020-01-03,5.0,a\n"
          "c1,2020-02-03,7.0,b\n"
          "c2,2020-01-05,3.0,a\n")


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project folder with an order file and a catalogue naming it; cwd is the project."""
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "tx.csv").write_text(ORDERS)
    (tmp_path / "data" / "sources.yaml").write_text(
        "orders:\n  path: data/tx.csv\n  kind: transactions\n  id_type: str\n"
        "shop:\n  tables: {transactions: orders}\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RETAILLAB_SOURCES", raising=False)
    return tmp_path


def test_a_catalogue_name_loads_the_file_with_its_options(project):
    world = data.load("orders")
    tx = world.transactions
    assert world.name == "orders"
    assert tx["customer"].tolist() == ["c1", "c1", "c2"]
    assert tx["amount"].sum() == pytest.approx(15.0)
    (origin,) = world.origins
    assert origin.record["path"] == "data/tx.csv"  # relative to the project, not absolute
    assert origin.record["options"] == {"id_type": "str"}
    quality = world.quality["transactions"]
    assert (quality.rows_read, quality.rows) == (3, 3)
    assert quality.entities["customers"] == 2 and quality.entities["items"] == 2
    assert (quality.date_min, quality.date_max) == ("2020-01-03", "2020-02-03")


def test_the_digest_is_the_files_sha256(project):
    import hashlib

    world = data.load("orders")
    expected = hashlib.sha256(ORDERS.encode()).hexdigest()
    assert world.origins[0].sha256 == expected


def test_a_data_set_entry_gathers_tables_from_named_sources(project):
    world = data.load("shop")
    assert world.transactions is not None and len(world.transactions) == 3
    assert [o.table for o in world.origins] == ["transactions"]


def test_an_inline_mapping_and_a_canonical_path_are_sources_too(project):
    inline = data.load({"path": "data/tx.csv", "kind": "transactions"})
    assert len(inline.transactions) == 3
    by_path = data.load("data/tx.csv")  # kind told from the header: customer, date, amount
    assert by_path.transactions is not None and by_path.name == "tx"


def test_built_in_names_still_come_first(project):
    assert sources.resolve("cdnow_sample", root=project) == "cdnow_sample"


def test_an_unknown_name_suggests_the_closest_source(project):
    with pytest.raises(UnknownNameError, match="Did you mean 'orders'"):
        data.load("order")


@pytest.mark.parametrize(("entry", "match"), [
    ("bad:\n  path: data/tx.csv\n", "needs 'kind'"),
    ("bad:\n  kind: transactions\n", "needs 'path'"),
    ("bad:\n  path: data/nope.csv\n  kind: transactions\n", "no file 'data/nope.csv'"),
    ("bad:\n  path: data/tx.csv\n  kind: transactions\n  encodng: cp1252\n",
     "unknown option 'encodng'"),
    ("bad:\n  path: data/tx.csv\n  kind: transactions\n  columns: [a, b]\n", "'columns' maps"),
    ("bad:\n  tables: {transactions: bad}\n", "includes itself"),
    ("bad:\n  tables: {transactions: missing}\n", "unknown source"),
])
def test_a_wrong_entry_is_one_clear_message(project, entry, match):
    (project / "data" / "sources.yaml").write_text(entry)
    with pytest.raises((DataError, UnknownNameError), match=match):
        data.load("bad")


def test_a_catalogue_that_is_not_a_mapping_is_refused(project):
    (project / "data" / "sources.yaml").write_text("- orders\n")
    with pytest.raises(DataError, match="must map source names"):
        data.load("orders")


def test_retaillab_sources_names_another_catalogue(project, monkeypatch):
    (project / "other.yaml").write_text("mine:\n  path: data/tx.csv\n  kind: transactions\n")
    monkeypatch.setenv("RETAILLAB_SOURCES", "other.yaml")
    assert data.load("mine").name == "mine"


def test_a_changed_line_changes_the_digest_and_rerun_says_so(project):
    world = data.load("orders")
    record = {**world.origins[0].record, "sha256": world.origins[0].sha256}
    tags = {tracking.TAG_SOURCE + "transactions": json.dumps(record)}
    assert changed_sources(tags, project) == []
    (project / "data" / "tx.csv").write_text(ORDERS.replace("7.0", "7.5"))
    (line,) = changed_sources(tags, project)
    assert "data changed" in line and "data/tx.csv" in line
    (project / "data" / "tx.csv").unlink()
    assert "missing" in changed_sources(tags, project)[0]


def test_purchase_feedback_comes_from_the_order_log(project):
    feedback = data.load("orders").feedback("purchase")
    pairs = sorted(zip(feedback["user"], feedback["item"], strict=True))
    assert pairs == [("c1", "a"), ("c1", "b"), ("c2", "a")]


def test_a_run_records_the_source_and_its_counts(store):
    (store / "data").mkdir()
    (store / "data" / "tx.csv").write_text(ORDERS)
    world = data.load({"path": "data/tx.csv", "kind": "transactions"})
    run = tracking.notebook_run(None, experiment="sources", params={"dataset": "tx"})
    digests = run.log_source(world)
    table_digest = run.log_data("tx", world.transactions)
    run.close()
    logged = tracking.client().get_run(run.run_id)
    record = json.loads(logged.data.tags[tracking.TAG_SOURCE + "transactions"])
    assert record["path"] == "data/tx.csv" and record["sha256"] == digests["transactions"]
    assert logged.data.metrics["data.transactions.rows_read"] == 3
    assert logged.data.metrics["data.transactions.customers"] == 2
    inputs = {i.dataset.name: i.dataset for i in logged.inputs.dataset_inputs}
    assert set(inputs) == {"tx.transactions", "tx"}  # the file, and the table the run used
    assert inputs["tx.transactions"].digest == digests["transactions"][:32]
    assert inputs["tx.transactions"].source == "data/tx.csv"
    assert inputs["tx"].digest == table_digest[:32]


def test_the_report_shows_the_source_and_its_counts():
    from retaillab.report._gather import _sources

    tags = {tracking.TAG_SOURCE + "transactions": json.dumps(
        {"name": "orders", "path": "data/o.csv", "sha256": "ab" * 32})}
    metrics = {"data.transactions.rows_read": 10.0, "data.transactions.rows": 7.0,
               "data.transactions.dropped.returns": 3.0, "data.transactions.customers": 4.0}
    shown = _sources(tags, metrics)
    assert shown["source transactions"] == "orders: data/o.csv (sha256 abababababab)"
    assert shown["data quality transactions"] == (
        "10 rows read, 7 kept; 3 returns (dropped); 4 customers")


def test_a_frame_mistaken_for_a_name_is_refused():
    with pytest.raises(DataError, match="named by a string or a mapping"):
        sources.resolve(pd.DataFrame())


def test_a_failed_runs_record_keeps_the_problem_not_the_rows():
    from retaillab.errors import DataError
    from retaillab.runner import without_rows

    err = DataError("2 rows have no id", source="data/o.csv", column="customer",
                    rows=pd.DataFrame({"customer": ["14255A", "C99"]},
                                      index=pd.Index([6, 7], name="line")), fix="drop them")
    text = without_rows(str(err))
    assert "14255A" in str(err) and "14255A" not in text and "C99" not in text
    assert "2 rows have no id" in text and "fix: drop them" in text


def test_validate_a_source_by_name_with_its_entrys_options(project, capsys):
    from retaillab.cli import main

    assert main(["validate", "orders"]) == 0
    out = capsys.readouterr().out
    assert "ok: orders: tx.csv is a valid transactions table" in out
    assert "3 rows read, 3 kept" in out and "customer (str)" in out  # id_type: str applied
    assert main(["validate", "orders", "--sep", ";"]) == 2  # options live in the entry
    assert "data/sources.yaml" in capsys.readouterr().err
    assert main(["validate", "ordrs"]) == 2
    assert "Did you mean 'orders'" in capsys.readouterr().err


def test_a_source_named_like_a_built_in_is_refused(project):
    (project / "data" / "sources.yaml").write_text(
        "cdnow:\n  path: data/tx.csv\n  kind: transactions\n")
    with pytest.raises(DataError, match="name of a built-in") as err:
        data.load("orders")
    assert "my_cdnow" in err.value.fix


def test_a_path_with_a_byte_order_mark_is_still_told_by_its_header(project):
    (project / "data" / "bom.csv").write_bytes(b"\xef\xbb\xbf" + ORDERS.encode())
    assert data.load("data/bom.csv").transactions["customer"].tolist() == ["c1", "c1", "c2"]
