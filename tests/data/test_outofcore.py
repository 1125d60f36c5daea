"""outofcore.OrderLog (DuckDB) against the pandas path on the same small files.

The ground truth is the pandas path, an independent implementation: ``data.read_transactions``
then ``clv.rfm_summary``, ``churn.transaction_features``, ``data.feedback.from_transactions``,
``behaviour.kpis`` and ``behaviour.cohorts``. Every aggregate must be equal
(``assert_frame_equal``: index, columns, dtypes, order); floats get ``rtol=1e-12`` because
DuckDB adds amounts in another order (counts and days are compared exactly). Every file the
pandas reader refuses, the DuckDB path refuses with one DataError. A file larger than
DuckDB's memory limit is left to ``bench/outofcore.py`` (too slow for a test).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from retaillab.behaviour.kpis import cohorts, kpis
from retaillab.churn.features import transaction_features
from retaillab.clv.rfm import rfm_summary
from retaillab.data.feedback import from_transactions
from retaillab.data.quality import Quality
from retaillab.data.user import read_transactions
from retaillab.errors import DataError
from retaillab.outofcore import OrderLog

pytest.importorskip("duckdb")

MAPPING = {"customer": "cust", "date": "when", "amount": "total", "quantity": "qty",
           "item": "sku", "order": "invoice"}
RTOL = 1e-12  # float sums: DuckDB adds in another order


def orders(n: int = 1500, seed: int = 0, customers: int = 120,
           text_customers: bool = False) -> pd.DataFrame:
    """An order log: orders of 1-4 lines, times of day, lettered and numeric item codes."""
    rng = np.random.default_rng(seed)
    n_orders = n // 2
    cust = rng.integers(1, customers + 1, n_orders)
    customers = min(customers, n_orders)
    cust[:customers] = np.arange(1, customers + 1)  # every id buys (see the gaps test)
    day = rng.integers(0, 420, n_orders)
    secs = rng.integers(0, 86_400, n_orders)
    size = rng.integers(1, 5, n_orders)
    line = np.repeat(np.arange(n_orders), size)[:n]
    when = (pd.Timestamp("2023-01-01") + pd.to_timedelta(day[line], "D")
            + pd.to_timedelta(secs[line], "s"))
    item = rng.integers(1, 60, len(line))
    ids = cust[line].astype(str) if not text_customers else np.where(
        cust[line] % 9 == 0, [f"C{c:03d}" for c in cust[line]], cust[line].astype(str))
    return pd.DataFrame({
        "cust": ids if text_customers else cust[line],
        "when": when.strftime("%Y-%m-%d %H:%M:%S"),
        "total": np.round(rng.gamma(2.0, 9.0, len(line)), 2),
        "qty": rng.integers(1, 5, len(line)),
        "sku": np.where(item % 7 == 0, [f"{i}B" for i in item], item.astype(str)),
        "invoice": (1000 + line).astype(np.int64),
    })


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The same log as one CSV file and as a folder of three Parquet files."""
    root = tmp_path_factory.mktemp("orders")
    frame = orders()
    frame.to_csv(root / "orders.csv", index=False)
    folder = root / "parquet"
    folder.mkdir()
    typed = frame.assign(when=pd.to_datetime(frame["when"]))
    for i, part in enumerate(np.array_split(np.arange(len(typed)), 3)):
        typed.iloc[part].to_parquet(folder / f"part-{i}.parquet", index=False)
    return root / "orders.csv", folder


@pytest.fixture(scope="module", params=["csv", "parquet"])
def both(request, files):
    """``(OrderLog, the pandas reader's frame)`` of one source."""
    csv, folder = files
    if request.param == "csv":
        tx = read_transactions(csv, columns=MAPPING)
        log = OrderLog(csv, columns=MAPPING, memory_limit="256MB", threads=1)
    else:  # the pandas reader takes one file: the folder is read by pandas first
        tx = read_transactions(pd.read_parquet(folder), columns=MAPPING)
        log = OrderLog(folder, columns=MAPPING, memory_limit="256MB", threads=1)
    yield log, tx
    log.close()


def equal(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=RTOL, atol=0)


# --- aggregates equal the pandas path -----------------------------------------------------


def test_the_log_reads_as_the_pandas_reader_reads_it(both):
    log, tx = both
    assert log.n_lines == len(tx) == log.rows_read
    assert log.id_types == {"customer": "int", "order": "int", "item": "str"}
    same_lines(log, tx)


def same_lines(log: OrderLog, tx: pd.DataFrame) -> None:
    """The checked table holds the reader's frame, row for row (in another order)."""
    lines = log.sql("SELECT * FROM lines")
    key = list(lines.columns)
    pd.testing.assert_frame_equal(lines.sort_values(key, ignore_index=True),
                                  tx[key].sort_values(key, ignore_index=True), check_exact=True)


@pytest.mark.parametrize(("unit", "holdout_end"), [("W", None), ("D", "2024-02-20"),
                                                   ("W", "2024-01-31")])
def test_rfm_summary_equals_pandas(both, unit, holdout_end):
    log, tx = both
    kw = {"calibration_end": "2023-09-30", "unit": unit, "holdout_end": holdout_end}
    equal(log.rfm_summary(**kw), rfm_summary(tx, **kw))


@pytest.mark.parametrize(("cutoff", "windows"), [("2023-09-30", None),
                                                 ("2023-11-15 13:30", (7, 60))])
def test_transaction_features_equal_pandas(both, cutoff, windows):
    log, tx = both
    kw = {} if windows is None else {"windows": windows}
    got = log.transaction_features(cutoff, **kw)
    equal(got, transaction_features(tx, cutoff, **kw))
    assert got["ipt_std"].notna().sum() > 50  # the gaps were really compared


@pytest.mark.parametrize("weight", ["lines", "quantity"])
def test_interactions_equal_pandas(both, weight):
    log, tx = both
    equal(log.interactions(weight=weight), from_transactions(tx, weight=weight))


@pytest.mark.parametrize("period", ["M", "W", "Q"])
def test_kpis_equal_pandas(both, period):
    log, tx = both
    equal(log.kpis(period=period), kpis(tx, period=period))


def test_cohorts_equal_pandas(both):
    log, tx = both
    for max_age in (None, 3):
        got, expected = log.cohorts(period="M", max_age=max_age), cohorts(tx, max_age=max_age)
        for name in ("retention", "counts", "revenue"):
            equal(getattr(got, name), getattr(expected, name))
        pd.testing.assert_series_equal(got.sizes, expected.sizes)


def test_interactions_written_to_parquet(both, tmp_path):
    log, tx = both
    path = log.interactions(to=tmp_path / "pairs.parquet")
    equal(pd.read_parquet(path), from_transactions(tx))


def test_a_small_log_by_hand(tmp_path):
    """Two customers, numbers worked out by hand (not from either implementation)."""
    path = tmp_path / "tiny.csv"
    path.write_text("customer,date,amount,item\n"
                    "1,2024-01-01 10:00,10,a\n1,2024-01-01 18:00,5,b\n1,2024-01-15 09:00,20,a\n"
                    "2,2024-01-08 12:00,7,b\n")
    with OrderLog(path) as log:
        rfm = log.rfm_summary(calibration_end="2024-01-29", unit="D")
        assert rfm.to_dict("index") == {
            1: {"frequency": 1, "recency": 14.0, "T": 28.0, "monetary_value": 20.0},
            2: {"frequency": 0, "recency": 0.0, "T": 21.0, "monetary_value": 0.0}}
        pairs = log.interactions()
        assert pairs[["user", "item", "count"]].values.tolist() == [
            [1, "a", 2], [1, "b", 1], [2, "b", 1]]
        assert pairs["timestamp"].iloc[0] == pd.Timestamp("2024-01-15 09:00")
        table = log.kpis(period="M")
        # orders are customer-days without an order column: 1 Jan (two lines), 15 Jan, 8 Jan
        assert table[["active", "new", "orders", "revenue"]].values.tolist() == [[2, 2, 3, 42]]


# --- reading options ----------------------------------------------------------------------


def test_text_customers_missing_ids_dropped_and_day_first_dates(tmp_path):
    frame = orders(600, seed=3, text_customers=True)
    frame["when"] = pd.to_datetime(frame["when"]).dt.strftime("%d/%m/%Y %H:%M")
    frame.loc[[5, 17], "cust"] = ""
    path = tmp_path / "o.csv"
    frame.to_csv(path, index=False)
    quality = Quality()
    tx = read_transactions(path, columns=MAPPING, missing_ids="drop", quality=quality)
    with OrderLog(path, columns=MAPPING, missing_ids="drop") as log:
        assert log.id_types["customer"] == "str" and log.date_format == "%d/%m/%Y %H:%M"
        assert log.dropped == quality.dropped == {"no_customer_id": 2, "no_item_id": 0,
                                                  "no_order_id": 0}
        equal(log.rfm_summary(calibration_end="2023-10-31"),
              rfm_summary(tx, calibration_end="2023-10-31"))
        equal(log.transaction_features("2023-10-31"), transaction_features(tx, "2023-10-31"))
        equal(log.interactions(), from_transactions(tx))


@pytest.mark.parametrize("options", [{"id_type": "str"}, {"dayfirst": False},
                                     {"date_format": "%m-%d-%Y"}, {"decimal": ","}])
def test_reader_options_read_as_pandas_reads_them(tmp_path, options):
    frame = orders(400, seed=4)
    dates = pd.to_datetime(frame["when"])
    if "dayfirst" in options:  # every date ambiguous: only dayfirst decides
        days = (dates.dt.day - 1) % 12 + 1
        frame["when"] = [f"{m:02d}/{d:02d}/{y}" for m, d, y in
                         zip(dates.dt.month, days, dates.dt.year, strict=True)]
    if "date_format" in options:
        frame["when"] = dates.dt.strftime("%m-%d-%Y")
    sep = ";" if "decimal" in options else ","
    if "decimal" in options:
        frame["total"] = frame["total"].map(lambda v: f"{v:.2f}".replace(".", ","))
    path = tmp_path / "o.csv"
    frame.to_csv(path, index=False, sep=sep)
    tx = read_transactions(path, columns=MAPPING, **options)
    with OrderLog(path, columns=MAPPING, **options) as log:
        same_lines(log, tx)
        equal(log.kpis(), kpis(tx))


def test_days_beside_naive_times_read_as_the_reader_reads_them(tmp_path):
    """A day (2024-01-15, ending like a "-15" offset) beside naive times is not refused."""
    path = tmp_path / "days.csv"
    path.write_text("customer,date,amount\n1,2024-01-15,1\n2,2024-01-16 10:30,2\n")
    with OrderLog(path) as log:
        same_lines(log, read_transactions(path))


def test_kpis_with_integer_ids_that_have_gaps(tmp_path):
    """Customers 1 and 3 only: integer ids whose dense codes have a gap (the pandas kpis()
    once counted the unused code as a customer), against both pandas readings."""
    path = tmp_path / "gaps.csv"
    path.write_text("customer,date,amount\n1,2024-01-05,1\n3,2024-02-05,2\n3,2024-03-01,4\n")
    with OrderLog(path) as log:
        got = log.kpis()
    expected = kpis(read_transactions(path, id_type="str"))
    equal(got, expected)
    equal(got, kpis(read_transactions(path)))
    assert got["new"].tolist() == [1, 1, 0] and got["retention"].tolist()[1:] == [0.0, 1.0]


# --- refusals -----------------------------------------------------------------------------

HEAD = "customer,date,amount\n"
REFUSED = {
    "not a date": (HEAD + "1,2024-01-05,3\n2,2024-13-45,4\n", "not dates", "line 3"),
    "ambiguous dates": (HEAD + "1,05/01/2024,3\n2,06/02/2024,4\n", "ambiguous", "line 2"),
    "day and month first": (HEAD + "1,25/01/2024,3\n2,01/25/2024,4\n", "mixes day-first",
                            "line 3"),
    "offsets and none": (HEAD + "1,2024-01-05T10:00+02:00,3\n2,2024-01-06T10:00,4\n",
                         "offset", "line 3"),
    "offsets and none, with a day": (HEAD + "1,2024-01-05T10:00Z,3\n2,2024-01-06T10:00,4\n"
                                     "3,2024-01-15,5\n", "offset", "line 3"),
    "before 1970": (HEAD + "1,1960-01-05,3\n", "outside 1970-2100", "line 2"),
    "text amount": (HEAD + "1,2024-01-05,3\n2,2024-01-06,abc\n3,2024-01-07,1_000\n",
                    "2 values are not numbers", "line 4"),
    "thousands": (HEAD + '1,2024-01-05,"1,234.50"\n', "thousands separators", "line 2"),
    "NA amount": (HEAD + "1,2024-01-05,3\n2,2024-01-06,NA\n", "no value", "line 3"),
    "negative amount": (HEAD + "1,2024-01-05,3\n2,2024-01-06,-4\n", "negative", "line 3"),
    "missing id": (HEAD + "1,2024-01-05,3\n,2024-01-06,4\n  ,2024-01-07,5\n",
                   "2 rows have no id", "line 4"),
    "123 and 123.0": (HEAD + "1,2024-01-05,3\n2.0,2024-01-06,4\n", "'.0'", "line 3"),
    "Excel notation": (HEAD + "1.23457E+12,2024-01-05,3\n", "scientific", "line 2"),
    "extra field": (HEAD + "1,2024-01-05,3\n2,2024-01-06,4,5\n", "Line: 3", "Expected"),
    "fractional quantity": ("customer,date,amount,quantity\n1,2024-01-05,3,1.5\n",
                            "whole numbers", "line 2"),
    "zero quantity": ("customer,date,amount,quantity\n1,2024-01-05,3,0\n", "below 1",
                      "line 2"),
    "no rows": (HEAD, "no rows", ""),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_what_the_pandas_reader_refuses_is_refused(tmp_path, case):
    text, words, where = REFUSED[case]
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(DataError):
        read_transactions(path)
    with pytest.raises(DataError) as caught:
        OrderLog(path)
    message = str(caught.value)
    assert str(path) in message and words in message and where in message
    assert "fix:" in message


def test_every_problem_in_one_error_with_counts_and_rows(tmp_path):
    rows = ["1,2024-01-05,3,a"] + [f"{i},2024-01-{i % 28 + 1:02d},x{i},b" for i in range(2, 12)]
    path = tmp_path / "bad.csv"
    path.write_text("customer,date,amount,item\n" + "\n".join([*rows, ",2024-02-01,1,c"]) + "\n")
    with pytest.raises(DataError) as caught:
        OrderLog(path)
    err = caught.value
    assert [p.column for p in err.problems] == ["customer", "amount"]
    assert err.problems[1].n_bad == 10 and len(err.problems[1].rows) == 5
    assert err.problems[1].rows.index.tolist() == [3, 4, 5, 6, 7]  # file lines
    assert "first 5 of 10" in str(err)


def test_parquet_files_with_two_id_types_are_refused(tmp_path):
    frame = orders(200, seed=5).assign(when=lambda f: pd.to_datetime(f["when"]))
    frame.iloc[:100].to_parquet(tmp_path / "a.parquet", index=False)
    frame.iloc[100:].astype({"cust": str}).to_parquet(tmp_path / "b.parquet", index=False)
    with pytest.raises(DataError, match=r"different types.*two different ids"):
        OrderLog(tmp_path, columns=MAPPING)


def test_parquet_problems_name_the_file_and_row(tmp_path):
    frame = orders(200, seed=6).assign(when=lambda f: pd.to_datetime(f["when"]))
    frame["cust"] = frame["cust"].astype(float)
    frame.loc[9, "cust"] = 1.5
    frame.loc[5, "total"] = np.nan
    frame.to_parquet(tmp_path / "p.parquet", index=False)
    with pytest.raises(DataError):
        read_transactions(tmp_path / "p.parquet", columns=MAPPING)
    with pytest.raises(DataError) as caught:
        OrderLog(tmp_path, columns=MAPPING)
    text = str(caught.value)
    assert "row p.parquet:9: customer=1.5" in text and "row p.parquet:5" in text


@pytest.mark.parametrize(("name", "content", "words"), [
    ("o.csv", "cust,date,amount\n1,2024-01-05,3\n", "no column 'customer'"),
    ("o.csv.bz2", "x", "not read out of core"),
    ("o.json", "{}", "unknown file type"),
])
def test_unreadable_inputs(tmp_path, name, content, words):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(DataError, match=words):
        OrderLog(path)


def test_a_cp1252_file_says_how_to_convert_it(tmp_path):
    path = tmp_path / "o.csv"
    path.write_bytes("customer,date,amount\n1,2024-01-05,3\n".encode("cp1252"))
    with pytest.raises(DataError, match="iconv"):
        OrderLog(path, encoding="cp1252")


def test_an_empty_folder_is_refused(tmp_path):
    with pytest.raises(DataError, match=r"no \.parquet files"):
        OrderLog(tmp_path)


# --- the engine -----------------------------------------------------------------------------


def test_close_removes_the_temporary_directory(tmp_path, files):
    csv, _ = files
    log = OrderLog(csv, columns=MAPPING, temp_directory=tmp_path)
    made = list(tmp_path.iterdir())
    assert len(made) == 1 and (made[0] / "log.duckdb").exists()
    log.close()
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(DataError):
        OrderLog(tmp_path / "missing.csv", temp_directory=tmp_path)
    assert list(tmp_path.iterdir()) == []  # a failed open leaves nothing either


def test_importing_outofcore_does_not_import_duckdb():
    code = "import sys, retaillab.outofcore; print('duckdb' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[2])
    assert out.stdout.strip() == "False"
