"""Odd but real inputs an adversarial review found: each is read right or refused with one
message (exit 2 from the CLI), never misread and never a traceback."""

from __future__ import annotations

import codecs

import pandas as pd
import pytest

from retaillab import data
from retaillab.errors import DataError

from .conftest import validate_error


def write(tmp_path, text: str | bytes, name: str = "f.csv"):
    path = tmp_path / name
    (path.write_bytes if isinstance(text, bytes) else path.write_text)(text)
    return path


@pytest.mark.parametrize(("stamps", "says"), [
    (["20240105", "20240212"], "YYYYMMDD"),     # dates written as numbers, not seconds
    (["45292", "45300"], "before mid-1979"),    # Excel day numbers
])
def test_whole_numbers_that_are_not_unix_seconds_are_refused(tmp_path, stamps, says):
    path = write(tmp_path, "user,item,timestamp\n" + "".join(
        f"{i},a{i},{s}\n" for i, s in enumerate(stamps)))
    with pytest.raises(DataError, match=says):
        data.read_interactions(path)
    parquet = tmp_path / "f.parquet"
    pd.DataFrame({"user": [1, 2], "item": ["a", "b"],
                  "timestamp": [int(s) for s in stamps]}).to_parquet(parquet)
    with pytest.raises(DataError, match=says):
        data.read_interactions(parquet)


def test_yyyymmdd_numbers_read_with_their_format(tmp_path):
    parquet = tmp_path / "f.parquet"
    pd.DataFrame({"user": [1, 2], "item": ["a", "b"],
                  "timestamp": [20240105, 20240212]}).to_parquet(parquet)
    ix = data.read_interactions(parquet, date_format="%Y%m%d")
    assert ix["timestamp"].tolist() == [pd.Timestamp("2024-01-05"), pd.Timestamp("2024-02-12")]


def test_dayfirst_does_not_turn_year_first_dates_around(tmp_path):
    path = write(tmp_path, "customer,date,amount\n1,2024/01/02,5\n2,2024/03/04,6\n")
    tx = data.read_transactions(path, dayfirst=True)
    assert tx["date"].tolist() == [pd.Timestamp("2024-01-02"), pd.Timestamp("2024-03-04")]


def test_ids_excel_wrote_in_scientific_notation_are_refused(tmp_path):
    path = write(tmp_path, "customer,date,amount\n1.23457E+12,2024-01-01,5\n"
                           "1.23458E+12,2024-01-02,6\n")
    with pytest.raises(DataError, match="scientific notation") as err:
        data.read_transactions(path)
    assert "as text" in err.value.fix


def test_ids_from_a_float_export_are_integers_and_a_mix_is_refused(tmp_path):
    path = write(tmp_path, "customer,date,amount\n123.0,2024-01-01,5\n124.0,2024-01-02,6\n")
    assert data.read_transactions(path)["customer"].tolist() == [123, 124]
    mixed = write(tmp_path, "customer,date,amount\n123.0,2024-01-01,5\n123,2024-01-02,6\n",
                  "mixed.csv")
    with pytest.raises(DataError, match=r"both as integers and with '\.0'") as err:
        data.read_transactions(mixed)
    assert err.value.rows.index.tolist() == [2]


def test_a_count_too_large_for_a_float_is_refused_not_wrapped(tmp_path):
    path = write(tmp_path, "customer,date,amount,quantity\n1,2024-01-01,5,99999999999999999999\n"
                           "2,2024-01-02,6,2\n")
    with pytest.raises(DataError, match="too large") as err:
        data.read_transactions(path, returns="drop")  # not taken for a return either
    assert err.value.rows.index.tolist() == [2]


def test_a_utf8_file_with_a_bom_reads_when_utf8_is_named(tmp_path):
    path = write(tmp_path, codecs.BOM_UTF8 + b"customer,date,amount\n007,2024-01-01,5\n")
    tx = data.read_transactions(path, encoding="utf-8")
    assert tx["customer"].tolist() == ["007"]


def test_utf16_named_without_a_bom_asks_for_the_byte_order(tmp_path, capsys):
    path = write(tmp_path, "customer,date,amount\n1,2024-01-01,5\n".encode("utf-16-le"))
    err = validate_error(capsys, "transactions", str(path), "--encoding", "utf-16")
    assert "utf-16-le" in err
    assert len(data.read_transactions(path, encoding="utf-16-le")) == 1


def test_carriage_returns_alone_are_one_message(tmp_path, capsys):
    path = write(tmp_path, b"customer,date,amount\r1,2024-01-01,5\r2,2024-01-02,6\r")
    assert "carriage return" in validate_error(capsys, "transactions", str(path))


@pytest.mark.parametrize(("kind", "option"), [
    ("events", ["--duplicates", "first"]), ("items", ["--dayfirst"]),
    ("items", ["--date-format", "%Y"])])
def test_an_option_the_kind_does_not_take_names_the_kinds_that_do(tmp_path, capsys, kind,
                                                                  option):
    path = write(tmp_path, "item,title\na,x\n")
    err = validate_error(capsys, kind, str(path), *option)
    assert "must be used with" in err and "transactions" in err


def test_a_parquet_index_is_a_column_and_nested_columns_are_refused(tmp_path):
    frame = pd.DataFrame({"customer": [1, 2], "date": pd.to_datetime(["2024-01-01"] * 2),
                          "amount": [5.0, 6.0]})
    indexed = tmp_path / "indexed.parquet"
    frame.set_index("customer").to_parquet(indexed)
    assert data.read_transactions(indexed)["customer"].tolist() == [1, 2]
    nested = tmp_path / "nested.parquet"
    frame.assign(tags=[[1, 2], [3]]).to_parquet(nested)
    with pytest.raises(DataError, match="lists or records") as err:
        data.read_transactions(nested)
    assert "'tags'" in str(err.value)


def test_times_with_and_without_offsets_are_not_mixed(tmp_path):
    path = write(tmp_path, "user,item,timestamp\n1,a,2024-01-01T23:30:00-05:00\n"
                           "2,b,2024-01-01 10:00:00\n3,c,2024-01-01T10:00:00Z\n")
    with pytest.raises(DataError, match="offset") as err:
        data.read_interactions(path)
    assert err.value.rows.index.tolist() == [3]
    same = write(tmp_path, "user,item,timestamp\n1,a,2024-01-01T23:30:00-05:00\n"
                           "2,b,2024-01-01T10:00:00Z\n", "same.csv")
    assert data.read_interactions(same)["timestamp"].tolist() == [
        pd.Timestamp("2024-01-02 04:30"), pd.Timestamp("2024-01-01 10:00")]  # both in UTC


def test_words_for_no_value_are_missing_only_where_a_value_is_a_number_or_a_date(tmp_path):
    """NA is Namibia and a stock code may be NONE: ids and text keep such words; amounts,
    dates and numeric features read them as missing."""
    path = write(tmp_path, "customer,date,amount,item,country\n"
                           "NA,2024-01-01,5,NONE,NA\n"
                           "c2,2024-01-02,6,a,Germany\n")
    tx = data.read_transactions(path, id_type="str")
    assert tx["customer"].tolist() == ["NA", "c2"] and tx["item"].tolist() == ["NONE", "a"]
    assert tx["country"].tolist() == ["NA", "Germany"]
    gaps = write(tmp_path, "customer,date,amount\n1,NULL,5\n2,2024-01-02,NA\n", "gaps.csv")
    with pytest.raises(DataError) as err:
        data.read_transactions(gaps)
    assert {p.column for p in err.value.problems} == {"date", "amount"}
    assert all("no date" in p.what or "no value" in p.what for p in err.value.problems)
    customers = write(tmp_path, "customer,spend,country\n1,NA,NA\n2,3.5,Spain\n",
                      "customers.csv")
    table = data.read_customers(customers)
    assert table["spend"].isna().tolist() == [True, False]  # a numeric feature's gap
    assert table["country"].tolist() == ["NA", "Spain"]  # a text feature's value


def test_a_row_of_only_no_value_words_is_a_blank_line(tmp_path):
    path = write(tmp_path, "customer,date,amount\n1,2024-01-01,5\nNA,NULL,N/A\n"
                           "2,2024-01-02,6\n")
    with pytest.raises(DataError) as err:
        data.read_transactions(write(tmp_path, "customer,date,amount\n1,2024-01-01,5\n"
                                               "NA,NULL,N/A\n2,x,6\n", "bad.csv"))
    assert err.value.rows.index.tolist() == [4]  # line numbers skip the blank line
    assert len(data.read_transactions(path)) == 2
