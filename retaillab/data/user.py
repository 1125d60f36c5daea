"""Reading the user's own interactions, transactions and customer tables (CSV or Parquet).

Files are mapped onto the canonical tables (:mod:`retaillab.data.schema`) with a
``columns={canonical: theirs}`` dict, coerced, and validated with pandera. A problem raises one
:class:`~retaillab.errors.DataError` naming the file, the column, up to five failing rows (by
line number for CSV) and the fix. The reader builds a new frame and returns it only when every
check passed, so nothing is ever half-loaded.

Example
-------
>>> orders = read_transactions("orders.csv",                      # doctest: +SKIP
...     columns={"customer": "cust_id", "date": "order_date", "amount": "total"})
"""

from __future__ import annotations

import csv
import difflib
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from retaillab.data._checks import Checker
from retaillab.data.schema import COLUMNS as C
from retaillab.data.schema import TABLES
from retaillab.errors import DataError, ParameterError, check_choice

__all__ = [
    "read_customers",
    "read_interactions",
    "read_table",
    "read_transactions",
]

IdType = Literal["auto", "int", "str"]
_CSV_SUFFIXES = {".csv", ".tsv", ".txt", ".gz", ".bz2", ".zip", ".xz"}
_PARQUET_SUFFIXES = {".parquet", ".pq"}
_DELIMITERS = ",;\t|"
_ALIASES = {"transactions": {"timestamp": C.date}}  # DESIGN's example maps "timestamp"
_TRUE = {"1", "true", "yes", "y", "t"}
_FALSE = {"0", "false", "no", "n", "f"}


def read_table(path: str | Path, *, sep: str | None = None
               ) -> tuple[pd.DataFrame, np.ndarray | None]:
    """Read a CSV or Parquet file as text-preserving columns, with each row's line number.

    Line numbers (``None`` for Parquet) let errors point at the line to fix; blank lines are
    dropped but counted.

    ``sep=None`` sniffs the delimiter among ``, ; tab |``. An explicit ``sep`` that leaves the
    whole header in one column, with another delimiter inside it, is reported as wrong.
    """
    path = Path(path)
    if not path.exists():
        near = difflib.get_close_matches(path.name, [p.name for p in path.parent.glob("*")]
                                         if path.parent.is_dir() else [], n=1, cutoff=0.8)
        hint = f"did you mean {str(path.parent / near[0])!r}?" if near else \
            "check the path (it is read relative to the current directory)"
        raise DataError("no such file", source=str(path), fix=hint)
    if path.is_dir():
        raise DataError("this is a folder, not a file", source=str(path),
                        fix="give the path of a .csv or .parquet file inside it")
    suffix = path.suffix.lower()
    if suffix in _PARQUET_SUFFIXES:
        try:
            frame = pd.read_parquet(path)
        except Exception as exc:  # pyarrow raises many types for a bad file
            raise DataError(f"cannot be read as Parquet ({exc})", source=str(path),
                            fix="check that the file is a complete Parquet file") from None
        if frame.empty:
            raise DataError("the file has no rows", source=str(path), fix="export the data again")
        return frame, None
    if suffix not in _CSV_SUFFIXES:
        raise DataError(f"unknown file type {suffix!r}", source=str(path),
                        fix="use a .csv (or .tsv/.txt, optionally compressed) or .parquet file")
    if path.stat().st_size == 0:
        raise DataError("the file is empty", source=str(path),
                        fix="export the data again; the file has no header and no rows")
    delimiter = sep if sep is not None else _sniff(path)
    try:
        frame = pd.read_csv(path, sep=delimiter, dtype=str, keep_default_na=False,
                            na_values=["", "NA", "N/A", "NaN", "nan", "NULL", "null", "None"],
                            skipinitialspace=True, skip_blank_lines=False)
    except pd.errors.EmptyDataError:
        raise DataError("the file is empty", source=str(path),
                        fix="export the data again; the file has no header and no rows") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot be parsed as delimited text: {exc}", source=str(path),
                        fix="check the delimiter (sep) and the encoding (UTF-8)") from None
    if frame.shape[1] == 1:
        header = str(frame.columns[0])
        other = next((d for d in _DELIMITERS if d != delimiter and d in header), None)
        if other is not None:
            shown = "tab" if other == "\t" else repr(other)
            raise DataError(
                f"every line was read as one column: the file looks separated by {shown}, "
                f"not {delimiter!r}", source=str(path),
                fix=f"pass sep={other!r} (CLI: --sep {other!r}), or leave sep unset to detect it")
    filled = frame.notna().any(axis=1).to_numpy()
    lines = np.flatnonzero(filled) + 2  # line 1 is the header
    frame = frame[filled].reset_index(drop=True)
    if frame.empty:
        raise DataError("the file has a header but no rows", source=str(path),
                        fix="export the data again")
    return frame, lines


def _sniff(path: Path) -> str:
    import gzip

    opener = gzip.open if path.suffix.lower() == ".gz" else open
    try:
        with opener(path, "rt", newline="", encoding="utf-8", errors="replace") as fh:
            head = fh.read(65536)
    except OSError:
        return ","
    try:
        return csv.Sniffer().sniff(head, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        return ","


def _mapped(frame: pd.DataFrame, kind: str, columns: dict[str, str] | None,
            source: str) -> tuple[pd.DataFrame, dict[str, str]]:
    """Rename the user's columns to canonical names; fail on missing required ones."""
    required, optional = TABLES[kind]
    known = (*required, *optional)
    mapping = {}
    for key, theirs in (columns or {}).items():
        key = _ALIASES.get(kind, {}).get(key, key)
        if kind != "customers" and key not in known:
            raise ParameterError(f"columns key {key!r}", "one of " + ", ".join(known), key)
        mapping[key] = theirs
    present = [str(c) for c in frame.columns]
    asked = set(mapping)  # every column the user named must exist, optional or not
    for col in known if kind != "customers" else required:
        mapping.setdefault(col, col)
    for col in [*required, *(c for c in mapping if c in asked and c not in required)]:
        theirs = mapping[col]
        if theirs not in present:
            near = difflib.get_close_matches(theirs, present, n=1, cutoff=0.5)
            hint = f"is it {near[0]!r}? " if near else ""
            raise DataError(
                f"no column {theirs!r} for {col!r}; the columns are "
                f"{', '.join(map(repr, present))}", source=source, column=col,
                fix=f"{hint}pass columns={{{col!r}: '<your column>'}} "
                    f"(CLI: --columns {col}=<your column>)")
    renames = {theirs: col for col, theirs in mapping.items() if theirs in present}
    clash = [c for c in renames.values() if c in present and c not in renames]
    if clash:
        raise DataError(f"column {clash[0]!r} exists and another column is mapped onto it",
                        source=source, column=clash[0],
                        fix="rename or drop one of the two before loading")
    return frame.rename(columns=renames), {c: mapping[c] for c in renames.values()}


def _finish(frame: pd.DataFrame, checker: Checker, schema_checks: list,
            unique: list[str] | None, dup_what: str, dup_fix: str) -> pd.DataFrame:
    """Run the pandera schema; translate its first failure into one DataError."""
    import pandera.pandas as pa

    schema = pa.DataFrameSchema(
        {col: pa.Column(checks=[pa.Check(fn, name=msg)]) for col, fn, msg, _ in schema_checks},
        unique=unique, report_duplicates="exclude_first")
    fixes = {msg: fix for _, _, msg, fix in schema_checks}
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as err:
        cases = err.failure_cases.dropna(subset=["index"])
        if cases.empty:  # a schema-level failure with no rows to show
            raise DataError(str(err).splitlines()[0], source=checker.source,
                            fix="check the table against the canonical schema") from None
        first = cases.iloc[0]
        group = cases[(cases["check"] == first["check"])]
        mask = np.zeros(len(frame), bool)
        mask[group["index"].astype("int64").unique()] = True
        if "uniqueness" in str(first["check"]):
            raise checker.fail(None, f"{mask.sum():,} {dup_what}", mask, dup_fix,
                               list(frame.columns)) from None
        col = str(first["column"])
        raise checker.fail(col, f"{mask.sum():,} {first['check']}", mask,
                           fixes.get(first["check"], "fix those rows"), [col]) from None
    return frame


def _prepare(data: pd.DataFrame | str | Path, kind: str, columns: dict[str, str] | None,
             sep: str | None, source: str | None, id_type: str) -> tuple[pd.DataFrame, Checker]:
    check_choice("id_type", id_type, ("auto", "int", "str"))
    if isinstance(data, pd.DataFrame):
        raw, lines, source = data, None, source or f"{kind} DataFrame"
        if raw.empty:
            raise DataError("the table has no rows", source=source, fix="pass a non-empty table")
    else:
        raw, lines = read_table(data, sep=sep)
        source = source or str(data)
    frame, names = _mapped(raw.reset_index(drop=True), kind, columns, source)
    return frame, Checker(frame, source, names, lines)


def read_interactions(
    data: pd.DataFrame | str | Path, *, columns: dict[str, str] | None = None,
    sep: str | None = None, rating_scale: tuple[float, float] | None = None,
    id_type: IdType = "auto", duplicates: str = "error", date_format: str | None = None,
    source: str | None = None,
) -> pd.DataFrame:
    """Check and coerce an interactions table: user, item, rating?, timestamp?.

    Parameters
    ----------
    data
        A DataFrame, or the path of a CSV/Parquet file.
    columns
        ``{canonical: your column}``, e.g. ``{"user": "uid", "item": "sku"}``.
    rating_scale
        ``(low, high)``: ratings outside it are an error. ``None`` only requires numbers.
    id_type
        ``"auto"`` (integers if every id is one, else text; a mix is an error), ``"int"`` or
        ``"str"``.
    duplicates
        A repeated (user, item[, timestamp]) is an ``"error"``, or keep its ``"first"`` or
        ``"last"`` row.
    date_format
        strftime format of text timestamps; numbers are read as Unix seconds.

    Returns
    -------
    A new DataFrame with canonical columns first, then the file's other columns.
    """
    check_choice("duplicates", duplicates, ("error", "first", "last"))
    frame, chk = _prepare(data, "interactions", columns, sep, source, id_type)
    out = {C.user: chk.ids(C.user, id_type), C.item: chk.ids(C.item, id_type)}
    if C.rating in frame.columns:
        out[C.rating] = chk.numbers(C.rating)
    if C.timestamp in frame.columns:
        out[C.timestamp] = chk.dates(C.timestamp, date_format, unix=True)
    frame = frame.assign(**out)
    checks = []
    if rating_scale is not None and C.rating in frame.columns:
        try:
            lo, hi = (float(x) for x in rating_scale)
        except (TypeError, ValueError):
            raise ParameterError("rating_scale", "(low, high) numbers", rating_scale) from None
        checks.append((C.rating, lambda s: s.between(lo, hi),
                       f"ratings are outside the scale {lo:g} to {hi:g}",
                       "check that the rating column is mapped, or pass the scale your data "
                       "uses (CLI: --rating-scale LOW,HIGH)"))
    key = [C.user, C.item] + ([C.timestamp] if C.timestamp in frame.columns else [])
    frame = _finish(frame, chk, checks, key if duplicates == "error" else None,
                    f"rows repeat a ({', '.join(key)}) seen earlier",
                    "drop the repeats, or pass duplicates='first' or 'last' "
                    "(CLI: --duplicates last)")
    if duplicates != "error":
        frame = frame.drop_duplicates(key, keep=duplicates).reset_index(drop=True)
    return _order(frame, "interactions")


def read_transactions(
    data: pd.DataFrame | str | Path, *, columns: dict[str, str] | None = None,
    sep: str | None = None, id_type: IdType = "auto", duplicates: str = "keep",
    date_format: str | None = None, source: str | None = None,
) -> pd.DataFrame:
    """Check and coerce a transactions table: customer, date, amount, quantity?, item?, order?.

    Amounts must be non-negative (refunds are not purchases) and quantities at least 1.
    Identical rows are kept by default (two equal purchases on one day happen: CDNOW has 255);
    ``duplicates="error"`` or ``"drop"`` changes that. ``columns`` may say ``"timestamp"`` for
    ``"date"``. Other parameters as in :func:`read_interactions`.
    """
    check_choice("duplicates", duplicates, ("keep", "error", "drop"))
    frame, chk = _prepare(data, "transactions", columns, sep, source, id_type)
    out = {C.customer: chk.ids(C.customer, id_type), C.date: chk.dates(C.date, date_format,
                                                                        unix=False),
           C.amount: chk.numbers(C.amount)}
    if C.quantity in frame.columns:
        out[C.quantity] = chk.numbers(C.quantity, integer=True)
    for col in (C.item, C.order):
        if col in frame.columns:
            out[col] = chk.ids(col, id_type)
    frame = frame.assign(**out)
    checks = [(C.amount, lambda s: s >= 0, "amounts are negative",
               "remove refunds and returns, or net them against their orders, then load again")]
    if C.quantity in frame.columns:
        checks.append((C.quantity, lambda s: s >= 1, "quantities are below 1",
                       "drop zero-quantity and return lines"))
    unique = list(frame.columns) if duplicates == "error" else None
    frame = _finish(frame, chk, checks, unique, "rows are exact copies of an earlier row",
                    "drop the copies, or pass duplicates='keep' if they are real")
    if duplicates == "drop":
        frame = frame.drop_duplicates().reset_index(drop=True)
    return _order(frame, "transactions")


def read_customers(
    data: pd.DataFrame | str | Path, *, columns: dict[str, str] | None = None,
    target: str | None = None, sep: str | None = None, id_type: IdType = "auto",
    source: str | None = None,
) -> pd.DataFrame:
    """Check and coerce a customer table: customer, features..., and an optional binary target.

    Text features become categoricals and numeric text becomes numbers. ``target`` names the
    label column (after mapping); its values must be two-valued (1/0, true/false, yes/no) and
    become bool, placed last.
    """
    frame, chk = _prepare(data, "customers", columns, sep, source, id_type)
    if target is not None and target not in frame.columns:
        raise DataError(f"no target column {target!r}", source=chk.source, column=target,
                        fix="pass target=<your label column> (CLI: --target NAME)")
    out = {C.customer: chk.ids(C.customer, id_type)}
    for col in frame.columns:
        if col in (C.customer, target):
            continue
        values = frame[col]
        if values.dtype.kind in "OUT" or pd.api.types.is_string_dtype(values):
            as_num = pd.to_numeric(values, errors="coerce")
            numeric = (as_num.notna() | values.isna()).all() and as_num.notna().any()
            coded = values.astype("string").str.fullmatch(r"0\d+").any()  # zip codes, not numbers
            out[col] = as_num if numeric and not coded else values.astype("category")
    if target is not None:
        out[target] = _binary(chk, target)
    frame = frame.assign(**out)
    if target is not None:
        frame = frame[[c for c in frame.columns if c != target] + [target]]
    return _order(_finish(frame, chk, [], [C.customer], "rows repeat a customer id seen earlier",
                          "keep one row per customer (aggregate or drop the repeats)"),
                  "customers")


def _binary(chk: Checker, col: str) -> pd.Series:
    values = chk.frame[col]
    if values.dtype.kind == "b":
        return values
    text = values.astype("string").str.strip().str.lower()
    text = text.str.replace(r"\.0$", "", regex=True)
    bad = ~(text.isin(_TRUE | _FALSE)).fillna(False).to_numpy()
    if bad.any():
        raise chk.fail(col, "the target must be binary (1/0, true/false, yes/no)", bad,
                       "recode the target to two values, or name the right column", [col])
    return text.isin(_TRUE).astype(bool)


def _order(frame: pd.DataFrame, kind: str) -> pd.DataFrame:
    required, optional = TABLES[kind]
    first = [c for c in (*required, *optional) if c in frame.columns]
    return frame[first + [c for c in frame.columns if c not in first]]
