"""User files: good files load typed; each kind of bad input gives one clear error.

Every bad case is checked twice: through the Python reader (a DataError naming the file, the
column, the failing lines and a fix) and through ``retaillab validate`` (one message on stderr,
exit code 2, no traceback).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
import pytest

from retaillab import data
from retaillab.cli import main
from retaillab.errors import DataError, ParameterError

TX_COLS = {"customer": "cust_id", "date": "order_date", "amount": "total"}
TX_FLAG = "customer=cust_id,date=order_date,amount=total"
IX_COLS = {"user": "uid", "item": "sku", "rating": "stars"}
IX_FLAG = "user=uid,item=sku,rating=stars"


@dataclass
class Bad:
    """One bad-input case: a file, how it is read, and what the message must say."""

    kind: str
    text: str | None  # None: the path does not exist
    columns: dict[str, str] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)
    options: dict = field(default_factory=dict)
    expect: tuple[str, ...] = ()  # substrings of the message (column, lines, fix)
    suffix: str = ".csv"


BAD = {
    "missing column": Bad("transactions", "cust_id,order_date,price\n1,2024-01-01,3\n", TX_COLS,
                          ["--columns", TX_FLAG],
                          expect=("no column 'total'", "'price'", "columns=")),
    "wrong dtype": Bad("interactions", "uid,sku,stars\n1,10,4\n1,11,good\n2,10,5\n", IX_COLS,
                       ["--columns", IX_FLAG],
                       expect=("column 'rating'", "not numbers", "line 3", "'good'")),
    "NaN ids": Bad("interactions", "uid,sku,stars\n1,10,4\n,11,3\n2,,5\n", IX_COLS,
                   ["--columns", IX_FLAG], expect=("column 'user'", "no id", "line 3", "fix:")),
    "ratings off the scale": Bad("interactions", "uid,sku,stars\n1,10,4\n1,11,7\n2,10,0\n",
                                 IX_COLS, ["--columns", IX_FLAG, "--rating-scale", "1,5"],
                                 {"rating_scale": (1, 5)},
                                 expect=("outside the scale 1 to 5", "line 3", "line 4")),
    "negative amounts": Bad("transactions", "cust_id,order_date,total\n1,2024-01-01,10\n"
                            "2,2024-01-02,-4.5\n", TX_COLS, ["--columns", TX_FLAG],
                            expect=("column 'amount'", "negative", "line 3", "refunds")),
    "duplicated rows": Bad("interactions", "uid,sku,stars\n1,10,4\n2,10,3\n1,10,4\n", IX_COLS,
                           ["--columns", IX_FLAG],
                           expect=("repeat", "line 4", "duplicates='first'")),
    "unparseable dates": Bad("transactions", "cust_id,order_date,total\n1,2024-01-01,10\n"
                             "2,next tuesday,5\n", TX_COLS, ["--columns", TX_FLAG],
                             expect=("column 'date'", "not dates", "line 3", "date_format")),
    "empty file": Bad("transactions", "", TX_COLS, ["--columns", TX_FLAG], expect=("empty",)),
    "header only": Bad("transactions", "cust_id,order_date,total\n", TX_COLS,
                       ["--columns", TX_FLAG], expect=("no rows",)),
    "missing path": Bad("transactions", None, TX_COLS, ["--columns", TX_FLAG],
                        expect=("no such file",)),
    "wrong delimiter": Bad("transactions", "cust_id;order_date;total\n1;2024-01-01;10\n",
                           TX_COLS, ["--columns", TX_FLAG, "--sep", ","], {"sep": ","},
                           expect=("separated by ';'", "sep=';'")),
    "duplicate customer ids": Bad("customers", "cid,age,churned\n1,30,yes\n2,41,no\n1,30,no\n",
                                  {"customer": "cid"}, ["--columns", "customer=cid"],
                                  expect=("repeat a customer", "line 4")),
    "target not binary": Bad("customers", "cid,age,churned\n1,30,yes\n2,41,maybe\n",
                             {"customer": "cid"},
                             ["--columns", "customer=cid", "--target", "churned"],
                             {"target": "churned"},
                             expect=("column 'churned'", "binary", "'maybe'", "line 3")),
    "fractional quantity": Bad("transactions", "cust_id,order_date,total,qty\n"
                               "1,2024-01-01,10,1.5\n", {**TX_COLS, "quantity": "qty"},
                               ["--columns", TX_FLAG + ",quantity=qty"],
                               expect=("whole numbers", "line 2")),
    "not a data file": Bad("transactions", "x", TX_COLS, ["--columns", TX_FLAG],
                           expect=("unknown file type", ".xlsx"), suffix=".xlsx"),
}


def _write(tmp_path, case: Bad):
    path = tmp_path / f"input{case.suffix}"
    if case.text is not None:
        path.write_text(case.text)
    return path


@pytest.mark.parametrize("name", list(BAD))
def test_bad_input_gives_one_clear_error(tmp_path, name):
    case = BAD[name]
    path = _write(tmp_path, case)
    before = path.read_bytes() if path.exists() else None
    reader = getattr(data, f"read_{case.kind}")
    with pytest.raises(DataError) as info:
        reader(path, columns=case.columns, **case.options)
    message = str(info.value)
    assert str(path) in message  # where
    for part in case.expect:
        assert part in message, f"{part!r} missing from:\n{message}"
    assert before is None or path.read_bytes() == before  # the input is untouched


@pytest.mark.parametrize("name", list(BAD))
def test_bad_input_cli_exits_non_zero_with_one_message(tmp_path, capsys, name):
    case = BAD[name]
    path = _write(tmp_path, case)
    code = main(["validate", case.kind, str(path), *case.flags])
    out, err = capsys.readouterr()
    assert code == 2
    assert err.startswith("error: ") and err.count("error: ") == 1
    assert "Traceback" not in err and out == ""
    for part in case.expect:
        assert part in err


def test_unknown_data_set_name_cli(capsys):
    assert main(["datasets", "movielense"]) == 2
    err = capsys.readouterr().err
    assert "unknown data set" in err and "'movielense'" in err  # "... or source" since sources
    assert "Did you mean 'movielens'" in err


def test_mixed_python_types_in_a_dataframe_are_an_error():
    frame = pd.DataFrame({"user": [1, "1", 2], "item": [5, 5, 6]}, dtype=object)
    with pytest.raises(DataError, match="mix Python types"):
        data.read_interactions(frame)


def test_unknown_mapping_key_names_the_known_ones(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(ParameterError, match="one of user, item, rating, timestamp"):
        data.read_interactions(path, columns={"usr": "a"})


def test_good_transactions_load_typed_from_csv_and_parquet(tmp_path):
    text = ("cust_id;order_date;total;qty;note\nA-1;2024-03-01;10.50;1;x\n"
            "B-2;2024-03-05;4;2;y\nA-1;2024-04-01;0;1;z\n")
    csv_path = tmp_path / "orders.csv"
    csv_path.write_text(text)
    tx = data.read_transactions(csv_path, columns={**TX_COLS, "quantity": "qty"})
    assert list(tx.columns) == ["customer", "date", "amount", "quantity", "note"]
    assert tx["customer"].tolist() == ["A-1", "B-2", "A-1"]
    assert tx["date"].tolist() == [pd.Timestamp("2024-03-01"), pd.Timestamp("2024-03-05"),
                                   pd.Timestamp("2024-04-01")]
    assert tx["amount"].tolist() == [10.5, 4.0, 0.0] and tx["quantity"].tolist() == [1, 2, 1]
    parquet = tmp_path / "orders.parquet"
    pd.read_csv(csv_path, sep=";").to_parquet(parquet)
    from_parquet = data.read_transactions(parquet, columns={**TX_COLS, "quantity": "qty"})
    pd.testing.assert_frame_equal(from_parquet, tx, check_dtype=False)


def test_timestamp_alias_of_design_example_maps_to_date(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text("cust_id,order_date,total\n7,2024-01-02,3\n")
    tx = data.read_transactions(path, columns={"customer": "cust_id",
                                               "timestamp": "order_date", "amount": "total"})
    assert tx["date"].iloc[0] == pd.Timestamp("2024-01-02")


def test_interactions_numeric_timestamps_are_unix_seconds(tmp_path):
    path = tmp_path / "r.tsv"
    path.write_text("uid\tsku\tts\n1\t2\t1704067200\n")
    ix = data.read_interactions(path, columns={"user": "uid", "item": "sku", "timestamp": "ts"})
    assert ix["timestamp"].iloc[0] == pd.Timestamp("2024-01-01")  # 54 years of 86,400 s


def test_duplicates_keep_last_is_explicit(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("uid,sku,stars\n1,10,2\n1,10,5\n")
    ix = data.read_interactions(path, columns=IX_COLS, duplicates="last")
    assert ix["rating"].tolist() == [5.0]


def test_text_ids_are_kept_as_text_when_asked(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("uid,sku\n007,10\n7,11\n")
    ix = data.read_interactions(path, columns={"user": "uid", "item": "sku"}, id_type="str")
    assert ix["user"].tolist() == ["007", "7"]  # two different customers, not one


def test_customers_typed_with_bool_target(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("cid,age,plan,churned\n1,30,gold,Yes\n2,41,basic,no\n")
    customers = data.read_customers(path, columns={"customer": "cid"}, target="churned")
    assert list(customers.columns) == ["customer", "age", "plan", "churned"]
    assert customers["churned"].tolist() == [True, False]
    assert pd.api.types.is_numeric_dtype(customers["age"])
    assert isinstance(customers["plan"].dtype, pd.CategoricalDtype)


def test_a_dataframe_input_is_not_modified():
    frame = pd.DataFrame({"uid": ["1", "2"], "sku": ["3", "4"], "stars": ["4", "5"]})
    copy = frame.copy()
    out = data.read_interactions(frame, columns=IX_COLS)
    pd.testing.assert_frame_equal(frame, copy)
    assert out["rating"].tolist() == [4.0, 5.0]


def test_cli_validate_good_file(tmp_path, capsys):
    path = tmp_path / "orders.csv"
    path.write_text("cust_id,order_date,total\n1,2024-01-01,10\n2,2024-02-01,5\n")
    assert main(["validate", "transactions", str(path), "--columns", TX_FLAG]) == 0
    out = capsys.readouterr().out
    assert "valid transactions table" in out and "2 rows read, 2 kept" in out
    assert "2 customers" in out and "dates 2024-01-01 .. 2024-02-01" in out


MORE_BAD = {
    "misspelled optional column": Bad("interactions", "uid,sku,stars\n1,10,4\n",
                                      {"user": "uid", "item": "sku", "rating": "star"},
                                      expect=("no column 'star'", "is it 'stars'")),
    "millisecond unix times": Bad("interactions", "uid,sku,ts\n1,10,1700000000000\n",
                                  {"user": "uid", "item": "sku", "timestamp": "ts"},
                                  expect=("outside 1970-2100", "seconds", "line 2")),
    "infinite amount": Bad("transactions", "cust_id,order_date,total\n1,2024-01-01,inf\n",
                           TX_COLS, expect=("infinite", "line 2")),
    "bad line after a blank line": Bad("transactions", "cust_id,order_date,total\n"
                                       "1,2024-01-01,10\n\n2,2024-01-02,-1\n", TX_COLS,
                                       expect=("negative", "line 4")),
}


@pytest.mark.parametrize("name", list(MORE_BAD))
def test_more_bad_input(tmp_path, name):
    case = MORE_BAD[name]
    path = _write(tmp_path, case)
    with pytest.raises(DataError) as info:
        getattr(data, f"read_{case.kind}")(path, columns=case.columns, **case.options)
    for part in case.expect:
        assert part in str(info.value), str(info.value)


def test_ids_that_would_change_as_integers_stay_text(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("uid,sku\n007,10\n7,10\n12345678901234567890,11\n")
    ix = data.read_interactions(path, columns={"user": "uid", "item": "sku"})
    assert ix["user"].tolist() == ["007", "7", "12345678901234567890"]
    assert ix["item"].tolist() == [10, 10, 11]


def test_dates_with_offsets_become_naive_utc(tmp_path):
    path = tmp_path / "o.csv"
    path.write_text("cust_id,order_date,total\n1,2024-01-01T10:00:00Z,1\n"
                    "2,2024-01-01T10:00:00+02:00,1\n3,2024-01-02,1\n")
    tx = data.read_transactions(path, columns=TX_COLS)  # (naive times among them: refused,
    assert tx["date"].tolist() == [pd.Timestamp("2024-01-01 10:00"),  # test_odd_inputs)
                                   pd.Timestamp("2024-01-01 08:00"),
                                   pd.Timestamp("2024-01-02 00:00")]
    aware = pd.DataFrame({"customer": [1], "amount": [1.0],
                          "date": pd.to_datetime(["2024-01-01T10:00:00+02:00"])})
    assert data.read_transactions(aware)["date"].iloc[0] == pd.Timestamp("2024-01-01 08:00")


def test_a_day_is_not_a_time_with_an_offset(tmp_path):
    """2024-01-15 ends like a "-15" offset: days beside naive times are not "mixed offsets"."""
    path = tmp_path / "o.csv"
    path.write_text("cust_id,order_date,total\n1,2024-01-15,1\n2,2024-01-16 10:30,1\n")
    tx = data.read_transactions(path, columns=TX_COLS)
    assert tx["date"].tolist() == [pd.Timestamp("2024-01-15"), pd.Timestamp("2024-01-16 10:30")]


def test_rating_scale_must_be_two_numbers():
    frame = pd.DataFrame({"user": [1], "item": [2], "rating": [3.0]})
    with pytest.raises(ParameterError, match="rating_scale"):
        data.read_interactions(frame, rating_scale=("low", "high"))
    assert len(data.read_interactions(frame, rating_scale=("1", "5"))) == 1


def test_zip_codes_stay_codes(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("cid,zip,age\n1,02134,30\n2,10001,41\n")
    customers = data.read_customers(path, columns={"customer": "cid"})
    assert customers["zip"].astype(str).tolist() == ["02134", "10001"]
    assert customers["age"].tolist() == [30, 41]
