"""tests/make_orders.py writes an Online-Retail-like export with its warts, the same for a seed."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from retaillab.data.prepare import prepare_transactions
from retaillab.data.quality import Quality

_SCRIPT = Path(__file__).resolve().parents[1] / "make_orders.py"
_spec = importlib.util.spec_from_file_location("make_orders", _SCRIPT)
make_orders_module = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_orders_module)
make_orders = make_orders_module.make_orders


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> tuple[Path, dict, pd.DataFrame]:
    path = tmp_path_factory.mktemp("orders") / "orders.csv"
    truth = make_orders(path, customers=400, seed=1)
    return path, truth, pd.read_csv(path, encoding="cp1252", dtype=str)


def test_columns_and_planted_counts(export):
    _, truth, frame = export
    assert list(frame.columns) == ["InvoiceNo", "StockCode", "Description", "Quantity",
                                   "InvoiceDate", "UnitPrice", "CustomerID", "Country"]
    qty = frame["Quantity"].astype(int)
    cancel = frame["InvoiceNo"].str.startswith("C")
    assert len(frame) == truth["lines"]
    assert frame["InvoiceNo"].nunique() == truth["invoices"]
    assert frame["CustomerID"].isna().sum() == truth["lines_without_customer"] > 0
    assert ((qty < 0) & ~cancel).sum() == truth["return_lines"] > 0
    assert cancel.sum() == truth["cancellation_lines"] > 0
    assert (qty[cancel] < 0).all()
    assert frame.loc[cancel, "InvoiceNo"].nunique() == truth["cancellation_invoices"]
    assert -qty[qty < 0].sum() == truth["units_returned"]
    assert frame["CustomerID"].nunique() == truth["customers"]


def test_the_file_is_cp1252_not_utf8(export):
    path, _, frame = export
    raw = path.read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    text = frame["Description"].str.cat()
    assert all(ch in text for ch in "é£–")


def test_dates_are_day_first_and_some_are_ambiguous(export):
    _, truth, frame = export
    when = pd.to_datetime(frame["InvoiceDate"], format="%d/%m/%Y %H:%M")  # every one parses
    day, month = when.dt.day, when.dt.month
    assert (day > 12).any()                           # only day-first reads these
    assert ((day <= 12) & (day != month)).any()       # these read either way
    assert f"{when.min():%Y-%m-%d}" == truth["first_date"]
    assert f"{when.max():%Y-%m-%d}" == truth["last_date"]


def test_codes_mix_numbers_and_letters(export):
    _, truth, frame = export
    stock = frame["StockCode"]
    assert stock.str.fullmatch(r"\d{5}").any()
    assert stock.str.fullmatch(r"\d{5}[A-Z]").any()
    assert (stock == "POST").any()
    customer = frame["CustomerID"].dropna()
    lettered = customer.str.fullmatch(r"\d+[A-Z]")
    assert customer[lettered].nunique() == truth["letter_customers"] > 0
    assert customer[~lettered].str.fullmatch(r"\d+").all()


def test_buying_has_structure(export):
    _, truth, frame = export
    known = frame.dropna(subset=["CustomerID"])
    invoices = known.groupby("CustomerID")["InvoiceNo"].nunique()
    assert invoices.median() >= 3 and (invoices == 1).any()  # repeat buyers and one-offs
    assert 0 < truth["stopped"] < truth["customers"]
    counts = frame.loc[frame["StockCode"] != "POST", "StockCode"].value_counts()
    top = counts.iloc[: len(counts) // 10].sum() / counts.sum()
    assert top > 0.3                                          # popularity is skewed
    assert (frame.groupby("InvoiceNo").size() > 1).mean() > 0.8  # several lines per invoice


def test_every_return_undoes_an_earlier_purchase(export):
    _, truth, frame = export
    known = frame.dropna(subset=["CustomerID"])
    canonical = pd.DataFrame({
        "customer": known["CustomerID"].to_numpy(),
        "date": pd.to_datetime(known["InvoiceDate"], format="%d/%m/%Y %H:%M").to_numpy(),
        "item": known["StockCode"].to_numpy(), "order": known["InvoiceNo"].to_numpy(),
        "quantity": known["Quantity"].astype("int64").to_numpy(),
        "price": known["UnitPrice"].astype(float).to_numpy()})
    quality = Quality()
    out = prepare_transactions(canonical, amount="quantity*price", returns="net",
                               cancelled="C", quality=quality)
    assert quality.dropped["returns_unmatched"] == 0
    assert quality.dropped["returns"] == truth["return_lines"]
    assert quality.dropped["cancellations"] == truth["cancellation_lines"]
    kept = canonical["quantity"].clip(lower=0).sum() - truth["units_returned"]
    assert out["quantity"].sum() == kept and (out["quantity"] > 0).all()


def test_same_seed_same_file(tmp_path):
    a, b, c = (tmp_path / f"{name}.csv" for name in "abc")
    assert make_orders(a, customers=150, seed=7) == {**make_orders(b, customers=150, seed=7),
                                                      "path": str(a)}
    make_orders(c, customers=150, seed=8)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()


def test_the_script_writes_the_file(tmp_path, capsys):
    make_orders_module.main([str(tmp_path / "out.csv"), "--customers", "50", "--seed", "2"])
    assert "lines without a customer" in capsys.readouterr().out
    assert np.any(pd.read_csv(tmp_path / "out.csv", encoding="cp1252")["Quantity"] < 0)
