"""What a reader must never get silently wrong: dates, ids, mappings, and every problem at once.

Expected values come from the files themselves: 05/01/2020 in a day-first column is 5 January,
2**64-1 is not -1, 1e19 and 1e19 + 1 cannot be told apart as floats.
"""

from __future__ import annotations

import sys
import types
import warnings

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from retaillab import data
from retaillab.cli import main
from retaillab.data.quality import Quality
from retaillab.errors import DataError, ParameterError

from .conftest import validate_error

TX = "customer,date,amount\n"


def _csv(tmp_path, text: str, name: str = "orders.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path




# dates: one format per column --------------------------------------------------------------

def test_day_first_column_reads_ambiguous_dates_day_first(tmp_path):
    path = _csv(tmp_path, TX + "1,05/01/2020,1\n2,31/12/2020,1\n3,02/03/2020 14:05,1\n")
    with pytest.raises(DataError):  # one row has a time, the others not: not one format
        data.read_transactions(path)
    path = _csv(tmp_path, TX + "1,05/01/2020,1\n2,31/12/2020,1\n3,02/03/2020,1\n")
    tx = data.read_transactions(path)
    assert tx["date"].tolist() == [pd.Timestamp("2020-01-05"), pd.Timestamp("2020-12-31"),
                                   pd.Timestamp("2020-03-02")]


def test_month_first_column_with_times(tmp_path):
    path = _csv(tmp_path, TX + "1,12/1/2010 8:26,1\n2,12/13/2010 17:05,1\n")
    tx = data.read_transactions(path)
    assert tx["date"].tolist() == [pd.Timestamp("2010-12-01 08:26"),
                                   pd.Timestamp("2010-12-13 17:05")]


def test_a_column_mixing_day_first_and_month_first_is_refused(tmp_path, capsys):
    path = _csv(tmp_path, TX + "1,13/01/2020,1\n2,05/05/2020,1\n3,01/13/2020,1\n")
    with pytest.raises(DataError) as info:
        data.read_transactions(path)
    message = str(info.value)
    assert "mixes day-first" in message and "month-first" in message
    assert "line 2" in message and "line 4" in message and "line 3" not in message
    assert "mixes day-first" in validate_error(capsys, "transactions", str(path))


def test_only_ambiguous_dates_are_refused_naming_dayfirst(tmp_path, capsys):
    path = _csv(tmp_path, TX + "1,05/01/2020,1\n2,03/04/2020,1\n")
    with pytest.raises(DataError) as info:
        data.read_transactions(path)
    assert "ambiguous" in str(info.value) and "dayfirst=True" in str(info.value)
    assert "--dayfirst" in validate_error(capsys, "transactions", str(path))
    assert data.read_transactions(path, dayfirst=False)["date"].iloc[0] == pd.Timestamp(
        "2020-05-01")
    assert main(["validate", "transactions", str(path), "--dayfirst"]) == 0
    assert "dates 2020-01-05 .. 2020-04-03" in capsys.readouterr().out


def test_dayfirst_given_lists_the_dates_that_contradict_it(tmp_path):
    path = _csv(tmp_path, TX + "1,05/01/2020,1\n2,01/13/2020,1\n")
    with pytest.raises(DataError) as info:
        data.read_transactions(path, dayfirst=True)
    assert "line 3" in str(info.value) and "%d/%m/%Y" in str(info.value)


def test_other_text_dates_use_one_guessed_format(tmp_path):
    path = _csv(tmp_path, TX + "1,March 5 2021,1\n2,July 14 2021,1\n3,2021-07-15,1\n")
    with pytest.raises(DataError) as info:
        data.read_transactions(path)
    assert "1 values are not dates" in str(info.value) and "line 4" in str(info.value)


def test_bad_date_formats_are_parameter_errors(tmp_path, capsys):
    path = _csv(tmp_path, TX + "1,2020-01-05,1\n")
    for fmt in ("%Q", "2020-01-05"):
        with pytest.raises(ParameterError, match="date_format"):
            data.read_transactions(path, date_format=fmt)
        err = validate_error(capsys, "transactions", str(path), "--date-format", fmt)
        assert "date_format" in err


def test_a_timestamp_column_is_the_date_of_transactions(tmp_path):
    path = _csv(tmp_path, "customer,timestamp,amount\n1,2024-01-02,3\n")
    tx = data.read_transactions(path)
    assert list(tx.columns) == ["customer", "date", "amount"]
    assert tx["date"].iloc[0] == pd.Timestamp("2024-01-02")


# ids keep their identity -----------------------------------------------------------------

def _parquet(tmp_path, customer: pa.Array):
    path = tmp_path / "orders.parquet"
    n = len(customer)
    pq.write_table(pa.table({"customer": customer,
                             "date": pa.array([pd.Timestamp("2024-01-01")] * n),
                             "amount": pa.array([1.0] * n)}), path)
    return path


def test_uint64_parquet_ids_above_int64_stay_distinct_and_positive(tmp_path):
    ids = [2**64 - 1, 2**63, 5]
    tx = data.read_transactions(_parquet(tmp_path, pa.array(ids, pa.uint64())))
    assert tx["customer"].tolist() == ["18446744073709551615", "9223372036854775808", "5"]
    assert tx["customer"].nunique() == 3


def test_float_ids_beyond_2_53_are_refused(tmp_path):
    path = _parquet(tmp_path, pa.array([1e19, 2e19, 3e19]))
    with pytest.raises(DataError) as info:
        data.read_transactions(path)
    assert "2**53" in str(info.value) and "integers or text" in str(info.value)
    whole = data.read_transactions(_parquet(tmp_path, pa.array([1.0, 2.0, 2.0])))
    assert whole["customer"].tolist() == [1, 2, 2]


def test_alphanumeric_stock_and_customer_codes_are_text(tmp_path):
    path = _csv(tmp_path, "cust,date,amount,code\n14255,2024-01-01,1,85123\n"
                "14255A,2024-01-01,2,85123A\n17850,2024-01-02,3,85123\n")
    tx = data.read_transactions(path, columns={"customer": "cust", "item": "code"})
    assert tx["customer"].tolist() == ["14255", "14255A", "17850"]
    assert tx["item"].tolist() == ["85123", "85123A", "85123"]
    assert tx["item"].nunique() == 2  # '85123' and '85123A' are two products


def test_python_int_and_str_ids_in_a_frame_are_still_refused():
    frame = pd.DataFrame({"customer": [7, "7"], "date": ["2024-01-01"] * 2, "amount": [1, 2]},
                         dtype=object)
    with pytest.raises(DataError, match="mix Python types"):
        data.read_transactions(frame)


def test_missing_ids_are_an_error_or_dropped_and_counted(tmp_path, capsys):
    path = _csv(tmp_path, TX + "1,2024-01-01,3\n,2024-01-02,4\n2,2024-01-03,5\n  ,2024-01-04,6\n")
    with pytest.raises(DataError) as info:
        data.read_transactions(path)
    assert "2 rows have no id" in str(info.value) and "line 3" in str(info.value)
    assert "line 5" in str(info.value) and "missing_ids='drop'" in str(info.value)
    quality = Quality()
    tx = data.read_transactions(path, missing_ids="drop", quality=quality)
    assert tx["customer"].tolist() == [1, 2] and tx["amount"].tolist() == [3.0, 5.0]
    assert quality.rows_read == 4 and quality.dropped == {"no_customer_id": 2}
    assert quality.rows == 2 and quality.entities == {"customers": 2}
    assert main(["validate", "transactions", str(path), "--missing-ids", "drop"]) == 0
    out = capsys.readouterr().out
    assert "4 rows read, 2 kept" in out and "dropped 2 (no customer id)" in out


def test_lines_stay_right_after_dropping_rows(tmp_path):
    path = _csv(tmp_path, TX + ",2024-01-01,3\n1,2024-01-02,-4\n")
    with pytest.raises(DataError, match="negative") as info:
        data.read_transactions(path, missing_ids="drop")
    assert "line 3" in str(info.value)


# every problem in one message ------------------------------------------------------------

def test_all_missing_columns_in_one_message(tmp_path):
    path = _csv(tmp_path, "cid,when,total\n1,2024-01-01,3\n")
    with pytest.raises(DataError) as info:
        data.read_transactions(path)
    message = str(info.value)
    assert "'customer' for 'customer'" in message and "'date' for 'date'" in message
    assert "'amount' for 'amount'" in message and "customer=<your column>" in message
    assert "is it" not in message  # none of cid/when/total is a near spelling


def test_two_failing_columns_in_one_error(tmp_path, capsys):
    path = _csv(tmp_path, TX + "1,2024-01-01,3\n2,not a date,4\n3,2024-01-03,lots\n")
    with pytest.raises(DataError) as info:
        data.read_transactions(path)
    err = info.value
    assert [p.column for p in err.problems] == ["date", "amount"]
    assert err.column == "date" and err.what.startswith("1 values are not dates")
    message = str(err)
    assert "2 problems" in message and "line 3" in message and "line 4" in message
    assert "'lots'" in message and "decimal point" in message
    cli = validate_error(capsys, "transactions", str(path))
    assert "column 'date'" in cli and "column 'amount'" in cli


def test_a_near_spelling_is_suggested_but_not_an_unrelated_column(tmp_path):
    path = _csv(tmp_path, "customer,date,Amount,Country\n1,2024-01-01,3,UK\n")
    tx = data.read_transactions(path, columns={"amount": "Amount"})
    assert tx["amount"].tolist() == [3.0]
    with pytest.raises(DataError) as info:
        data.read_transactions(path, columns={"amount": "amount"})
    assert "is it 'Amount'" in str(info.value)
    path = _csv(tmp_path, "customer,date,Country\n1,2024-01-01,UK\n")
    with pytest.raises(DataError) as info:
        data.read_transactions(path)
    assert "Country" not in str(info.value).split("fix:")[1]


# mappings and options through the CLI ----------------------------------------------------

def test_one_column_mapped_to_two_names(tmp_path, capsys):
    path = _csv(tmp_path, "id,date,amount\n1,2024-01-01,3\n")
    with pytest.raises(ParameterError, match="'id' is mapped to 'user' and 'item'"):
        data.read_interactions(path, columns={"user": "id", "item": "id"})
    err = validate_error(capsys, "interactions", str(path), "--columns", "user=id,item=id")
    assert "'id' is mapped to" in err


def test_unknown_canonical_key_and_malformed_columns(tmp_path, capsys):
    path = _csv(tmp_path, TX + "1,2024-01-01,3\n")
    assert "one of customer, date, amount" in validate_error(capsys, "transactions", str(path),
                                                   "--columns", "buyer=customer")
    assert "canonical=yours" in validate_error(capsys, "transactions", str(path), "--columns",
                                     "customer")
    assert "given twice" in validate_error(capsys, "transactions", str(path), "--columns",
                                 "customer=a,customer=b")


# transactions preparation hooks ----------------------------------------------------------

def _stand_in(frame, *, amount="column", returns="error", cancelled=None, quality=None,
              source="transactions"):
    """What prepare_transactions does, as far as the reader relies on it."""
    out = frame.reset_index(drop=True)
    if amount == "quantity*price":
        out = out.assign(amount=out["quantity"] * out["price"])
    if returns == "drop":
        back = (out["quantity"] < 0).to_numpy()
        if quality is not None:
            quality.drop("returns", int(back.sum()))
        out = out[~back].reset_index(drop=True)
    return out


@pytest.fixture
def stand_in(monkeypatch):
    module = types.ModuleType("retaillab.data.prepare")
    module.prepare_transactions = _stand_in
    monkeypatch.setitem(sys.modules, "retaillab.data.prepare", module)


EXPORT = ("Invoice,StockCode,Quantity,InvoiceDate,UnitPrice,CustomerID\n"
          "536365,85123A,6,01/12/2010 08:26,2.55,17850\n"
          "536366,22633,-2,13/12/2010 08:28,1.85,17850\n"
          "536367,84879,0,13/12/2010 08:34,1.69,13047\n")
EXPORT_COLS = {"order": "Invoice", "item": "StockCode", "quantity": "Quantity",
               "date": "InvoiceDate", "price": "UnitPrice", "customer": "CustomerID"}


def test_amount_from_quantity_and_price_with_returns_dropped(tmp_path, stand_in):
    path = _csv(tmp_path, EXPORT)
    quality = Quality()
    with pytest.raises(DataError) as info:  # the zero line survives the stand-in: refused
        data.read_transactions(path, columns=EXPORT_COLS, amount="quantity*price",
                               returns="drop", quality=quality)
    assert "quantities are below 1" in str(info.value) and "line 4" in str(info.value)
    path = _csv(tmp_path, EXPORT.rsplit("536367", 1)[0])
    quality = Quality()
    tx = data.read_transactions(path, columns=EXPORT_COLS, amount="quantity*price",
                                returns="drop", quality=quality)
    assert tx["amount"].tolist() == [pytest.approx(6 * 2.55)]
    assert tx["date"].tolist() == [pd.Timestamp("2010-12-01 08:26")]
    assert tx["item"].tolist() == ["85123A"] and quality.dropped == {"returns": 1}
    assert "__retaillab_row" not in tx.columns


def test_missing_amount_with_quantity_and_price_hints_quantity_times_price(tmp_path):
    path = _csv(tmp_path, EXPORT)
    cols = {k: v for k, v in EXPORT_COLS.items() if k != "price"}
    with pytest.raises(DataError) as info:
        data.read_transactions(path, columns=cols)
    message = str(info.value)
    assert "amount='quantity*price'" in message and "{'price': 'UnitPrice'}" in message


def test_amount_mapped_to_a_unit_price_warns(tmp_path):
    path = _csv(tmp_path, "CustomerID,InvoiceDate,UnitPrice,Quantity\n1,2024-01-01,2.5,3\n")
    cols = {"customer": "CustomerID", "date": "InvoiceDate", "amount": "UnitPrice",
            "quantity": "Quantity"}
    with pytest.warns(UserWarning, match="looks like a unit price"):
        data.read_transactions(path, columns=cols)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        path = _csv(tmp_path, "CustomerID,InvoiceDate,UnitPrice\n1,2024-01-01,2.5\n")
        data.read_transactions(path, columns={k: v for k, v in cols.items() if k != "quantity"})


def test_real_preparation_step_nets_a_cancelled_return(tmp_path):
    pytest.importorskip("retaillab.data.prepare")
    path = _csv(tmp_path, "Invoice,StockCode,Quantity,InvoiceDate,UnitPrice,CustomerID\n"
                "536365,85123A,6,01/12/2010 08:26,2.5,17850\n"
                "C536366,85123A,-2,13/12/2010 08:28,2.5,17850\n"
                "536367,84879,4,13/12/2010 08:34,1.5,\n")
    quality = Quality()
    tx = data.read_transactions(path, columns=EXPORT_COLS, amount="quantity*price",
                                returns="net", cancelled="C", missing_ids="drop",
                                dayfirst=True, quality=quality)
    assert tx["quantity"].tolist() == [4] and tx["amount"].tolist() == [pytest.approx(10.0)]
    assert quality.dropped["no_customer_id"] == 1 and quality.rows == 1
    assert np.isclose(tx["price"].iloc[0], 2.5)


def test_dropped_duplicates_are_counted_and_later_lines_stay_right(tmp_path):
    path = _csv(tmp_path, TX.strip() + ",note\n1,2024-01-01,3,a\n1,2024-01-01,3,a\n"
                "2,2024-01-02,4,b\n")
    quality = Quality()
    tx = data.read_transactions(path, duplicates="drop", quality=quality)
    assert tx["note"].tolist() == ["a", "b"] and quality.dropped == {"duplicates": 1}
    assert quality.rows_read == 3 and quality.rows == 2
    path = _csv(tmp_path, "user,item,rating,seen\n1,10,2,x\n,11,3,y\n1,10,5,z\n2,10,9,w\n")
    with pytest.raises(DataError) as info:
        data.read_interactions(path, duplicates="last", missing_ids="drop", rating_scale=(1, 5))
    assert "line 5" in str(info.value) and "rating=9.0" in str(info.value)
    path = _csv(tmp_path, "user,item,rating,seen\n1,10,2,x\n,11,3,y\n1,10,5,z\n2,10,4,w\n")
    ix = data.read_interactions(path, duplicates="last", missing_ids="drop")
    assert ix["seen"].tolist() == ["z", "w"] and ix["rating"].tolist() == [5.0, 4.0]


def test_an_empty_date_is_missing_not_misparsed(tmp_path):
    path = _csv(tmp_path, TX + "1,31/01/2020,1\n2,,1\n3,05/02/2020,1\n")
    with pytest.raises(DataError) as info:
        data.read_transactions(path)
    assert "1 rows have no date" in str(info.value) and "line 3" in str(info.value)
    assert len(info.value.problems) == 1


def test_missing_ids_and_returns_are_said_in_the_same_round(tmp_path, capsys):
    """The export's second and fourth rounds of issue #11 (no customer id, negative quantities)
    come in one message, each with its lines and its option."""
    path = tmp_path / "orders.csv"
    path.write_text("customer,date,amount,quantity\n"
                    "c1,2024-01-02,5.0,1\n"
                    ",2024-01-03,4.0,2\n"
                    "c2,2024-01-04,-3.0,-1\n")
    code = main(["validate", "transactions", str(path)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("error:") == 1
    assert "rows have no id" in err and "line 3" in err and "--missing-ids drop" in err
    assert "amounts are negative" in err and "quantities are below 1" in err
    assert "line 4" in err and "--returns drop|net" in err


def test_a_warning_is_one_line_in_a_command(tmp_path):
    """In a terminal (pytest records warnings in-process, so a process of its own)."""
    import subprocess

    path = tmp_path / "orders.csv"
    path.write_text("customer,date,UnitPrice,quantity\nc1,2024-01-02,5.0,1\n")
    done = subprocess.run([sys.executable, "-m", "retaillab.cli", "validate", "transactions",
                           str(path), "--columns", "amount=UnitPrice"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    (line,) = done.stderr.splitlines()
    assert line.startswith("warning: ") and "looks like a unit price" in line


def test_a_bad_debt_line_is_not_taken_for_a_return(tmp_path):
    """Online Retail's 'Adjust bad debt' lines: quantity 1, a negative price. They are neither
    purchases nor returns, and netting returns must not hide them."""
    path = tmp_path / "orders.csv"
    path.write_text("customer,date,quantity,price,item\n"
                    "c1,2024-01-02,2,5.0,a\n"
                    "c1,2024-01-03,1,-11062.06,B\n"
                    "c1,2024-01-04,-1,5.0,a\n")
    with pytest.raises(DataError) as err:
        data.read_transactions(path, amount="quantity*price", returns="net")
    (problem,) = err.value.problems or [err.value]
    assert "bad-debt" in problem.what and problem.rows.index.tolist() == [3]


def test_a_decimal_comma_is_named_then_read_with_decimal(tmp_path, capsys):
    path = tmp_path / "orders.csv"
    path.write_text("customer;date;amount\n1;2024-01-02;12,50\n2;2024-01-03;1.234,5\n")
    assert main(["validate", "transactions", str(path)]) == 2
    assert "decimal=','" in capsys.readouterr().err
    tx = data.read_transactions(path, decimal=",")
    assert tx["amount"].tolist() == [12.5, 1234.5]


def test_with_a_decimal_comma_a_dot_that_cannot_group_thousands_is_refused(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text("customer;date;amount\n1;2024-01-02;12,50\n2;2024-01-03;12.5\n")
    with pytest.raises(DataError, match="decimal comma") as err:
        data.read_transactions(path, decimal=",")
    assert err.value.rows.index.tolist() == [3]  # never read as 125


def test_thousands_separators_are_not_guessed(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text('customer,date,amount\n1,2024-01-02,"1,234.50"\n2,2024-01-03,3\n')
    with pytest.raises(DataError, match="not numbers") as err:
        data.read_transactions(path)
    assert "thousands separators" in err.value.fix


def test_customer_features_with_a_decimal_comma_are_numbers(tmp_path):
    path = tmp_path / "customers.csv"
    path.write_text("customer;spend;zip\n1;12,5;01234\n2;1.000,25;04321\n")
    customers = data.read_customers(path, decimal=",")
    assert customers["spend"].tolist() == [12.5, 1000.25]
    assert isinstance(customers["zip"].dtype, pd.CategoricalDtype)  # codes stay codes
