"""Reading an order log with DuckDB: the checks of ``data.read_transactions``, written in SQL.

Every column is read as it is stored (CSV: text; Parquet: its own types), checked with counts
in SQL (``TRY_CAST``, ``TRY_STRPTIME`` and a few regular expressions) and only then cast, so
nothing is ever read another way silently. The decisions follow
:mod:`retaillab.data._checks` rule for rule: ids are integers only if every one is (``85123``
and ``85123A`` stay two codes), ``123.0`` next to ``123`` is refused, dates take one format per
column (ISO, day/month order from the unambiguous values, or the format pandas guesses from the
first value), amounts must be finite and non-negative, quantities whole and at least 1.
Problems come back as one :class:`~retaillab.errors.DataError` with counts and up to five
failing rows (CSV: by line number when the file is small enough to scan for them, else by
position among the data rows; Parquet: by file and row).

The checked log is written once, typed, into a DuckDB database file in a temporary directory
(which also takes DuckDB's spills), and every aggregate is a query over that table.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from retaillab.data.reading import NA_TOKENS
from retaillab.data.schema import COLUMNS as C
from retaillab.errors import DataError, ParameterError

#: what arrow's utf8_trim_whitespace strips (the pandas reader strips ids and values so)
WHITESPACE = "".join(chr(c) for c in (
    0x9, 0xA, 0xB, 0xC, 0xD, 0x1C, 0x1D, 0x1E, 0x1F, 0x20, 0x85, 0xA0, 0x1680,
    *range(0x2000, 0x200B), 0x2028, 0x2029, 0x202F, 0x205F, 0x3000))
_ID_COLUMNS = (C.customer, C.item, C.order)
_NUMBER_COLUMNS = (C.amount, C.quantity, C.price)
_CSV_SUFFIXES = (".csv", ".tsv", ".txt")
_PARQUET_SUFFIXES = (".parquet", ".pq")
#: line numbers of failing rows are found by a scan of the file (Python's csv) up to this size
LINE_SCAN_BYTES = 64 << 20
_INT64_MAX = np.iinfo(np.int64).max
_EXACT_FLOAT = 2.0 ** 53
_EARLIEST, _LATEST = "1970-01-01", "2100-01-01"
_INTEGER_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT",
                  "UINTEGER")
_FLOAT_TYPES = ("FLOAT", "DOUBLE")
_DATE_OPTIONS = ("pass dayfirst=True or dayfirst=False, or date_format, e.g. '%d/%m/%Y'")


def lit(text: str) -> str:
    """A SQL string literal."""
    return "'" + str(text).replace("'", "''") + "'"


def ident(name: str) -> str:
    """A SQL identifier."""
    return '"' + str(name).replace('"', '""') + '"'


def both(a: str, b: str) -> str:
    """SQL ``a AND b`` that computes ``b`` only where ``a`` holds (DuckDB's AND computes both
    sides in a projection; CASE does not)."""
    return f"(CASE WHEN {a} THEN {b} ELSE FALSE END)"


def either(a: str, b: str) -> str:
    """SQL ``a OR b`` that computes ``b`` only where ``a`` does not hold."""
    return f"(CASE WHEN {a} THEN TRUE ELSE {b} END)"


def _re(pattern: str) -> str:
    """A Python regex of :mod:`retaillab.data._checks` as an RE2 literal (same syntax here)."""
    return lit(pattern)


@dataclass
class Problem:
    """One failed check: the error's words, and the SQL predicate that finds its rows."""

    column: str | None
    what: str
    n_bad: int
    fix: str
    where: str | None  # rows to show (None: no rows shown)
    show: list[str] = field(default_factory=list)
    stage: int = 1  # 0: missing ids, 1: a column's own checks, 2: signs (the reader's order)


@dataclass
class Column:
    """A canonical column of the log and how it is stored."""

    name: str       # canonical
    theirs: str     # the user's column name
    raw: str        # SQL expression of the stored value in the source
    dtype: str      # DuckDB type of the stored value (VARCHAR for CSV)
    csv: bool

    @property
    def text(self) -> bool:
        return self.dtype == "VARCHAR"

    @property
    def ref(self) -> str:
        """The stored value, as written, in the view ``vals``."""
        return ident(self.name)

    @property
    def shown(self) -> str:
        """The value as written, for error messages."""
        return self.ref

    @property
    def value(self) -> str:
        """SQL of the value: text stripped (blank: NULL; CSV's NA words too, outside ids).
        Computed where it is used, so hot paths test the value as written first."""
        return self.clean(self.ref) if self.text else self.ref

    def clean(self, r: str) -> str:
        """SQL of text ``r`` stripped as the pandas reader strips it."""
        stripped = (f"nullif(CASE WHEN ascii({r}) BETWEEN 33 AND 127 AND ascii(right({r}, 1)) "
                    f"BETWEEN 33 AND 127 THEN {r} ELSE trim({r}, {lit(WHITESPACE)}) END, '')")
        if self.csv and self.name not in _ID_COLUMNS:
            tokens = ", ".join(lit(t) for t in NA_TOKENS)
            return f"CASE WHEN {r} IN ({tokens}) THEN NULL ELSE {stripped} END"
        return stripped

    @property
    def number(self) -> str:
        """The value as a DOUBLE (NULL where it is not a number), in ``vals``."""
        return ident(f"{self.name}#x")

    @property
    def integer(self) -> str:
        """Text ids as a BIGINT (NULL where they are not one), in ``vals``."""
        return ident(f"{self.name}#i")

    @property
    def missing(self) -> str:
        """SQL: the row has no id (ids) or no value."""
        if self.text:
            if self.name in _ID_COLUMNS:
                return either(f"{self.ref} IS NULL",
                              both(f"{self.integer} IS NULL", f"{self.value} IS NULL"))
            return either(f"{self.ref} IS NULL", f"{self.value} IS NULL")
        if self.dtype in _FLOAT_TYPES:
            return f"({self.ref} IS NULL OR isnan({self.ref}))"
        return f"({self.ref} IS NULL)"


def source_files(path: Path) -> tuple[str, list[Path]]:
    """``("csv" | "parquet", files)`` of a path: one CSV file, a Parquet file or a folder of
    Parquet files (read recursively, in name order)."""
    if not path.exists():
        raise DataError("no such file or folder", source=str(path),
                        fix="check the path (it is read relative to the current directory)")
    if path.is_dir():
        files = sorted(p for p in path.rglob("*")
                       if p.is_file() and p.suffix.lower() in _PARQUET_SUFFIXES)
        if not files:
            raise DataError("the folder holds no .parquet files", source=str(path),
                            fix="give a folder of Parquet files, or the path of a CSV file")
        return "parquet", files
    suffix = path.suffix.lower()
    if suffix in _PARQUET_SUFFIXES:
        return "parquet", [path]
    inner = Path(path.stem).suffix.lower() if suffix == ".gz" else suffix
    if suffix in _CSV_SUFFIXES or (suffix == ".gz" and inner in _CSV_SUFFIXES):
        return "csv", [path]
    if suffix in (".bz2", ".zip", ".xz"):
        raise DataError(f"{suffix} files are not read out of core", source=str(path),
                        fix="decompress it (or recompress it with gzip), or read it with "
                            "data.read_transactions")
    raise DataError(f"unknown file type {suffix!r}", source=str(path),
                    fix="use a .csv file (optionally .csv.gz), a .parquet file or a folder "
                        "of .parquet files")


_ENCODINGS = {"utf-8": "utf-8", "utf-8-sig": "utf-8", "iso8859-1": "latin-1",
              "latin-1": "latin-1", "utf-16": "utf-16"}


def csv_source(path: Path, sep: str | None, encoding: str | None
               ) -> tuple[str, list[str], str, str]:
    """``(read_csv SQL, header, delimiter, encoding)``: the file read as text, every column
    VARCHAR, with the delimiter, encoding and header the pandas reader finds."""
    from retaillab.data.reading import _arguments, _csv_head

    path, encoding = _arguments(path, sep, encoding)
    encoding, delimiter, header = _csv_head(path, sep, encoding)
    if len(delimiter) != 1:
        raise ParameterError("sep", "one character out of core (a regex separator needs "
                             "data.read_transactions)", delimiter)
    duck = _ENCODINGS.get(encoding)
    if duck is None:
        raise DataError(f"{encoding} files are not read out of core (DuckDB reads UTF-8, "
                        "UTF-16 and Latin-1)", source=str(path),
                        fix=f"convert it first, e.g. iconv -f {encoding} -t utf-8 in.csv > "
                            "out.csv, or read it with data.read_transactions")
    names = [f"c{i}" for i in range(len(header))]
    columns = ", ".join(f"{lit(n)}: 'VARCHAR'" for n in names)
    sql = (f"read_csv({lit(str(path))}, delim={lit(delimiter)}, quote='\"', escape='\"', "
           f"header=true, auto_detect=false, columns={{{columns}}}, encoding={lit(duck)}, "
           "strict_mode=true, null_padding=false, compression='auto')")
    return sql, [h.strip() for h in header], delimiter, encoding


def parquet_source(files: list[Path], root: Path, located: bool = False) -> str:
    """``read_parquet`` of the files (with ``filename`` and ``file_row_number`` if
    ``located``)."""
    listed = ", ".join(lit(str(f)) for f in files)
    extra = ", filename=true, file_row_number=true" if located else ""
    return f"read_parquet([{listed}]{extra})"


def parquet_schema(files: list[Path], root: Path, wanted: list[str],
                   ids: tuple[str, ...] = ()) -> list[str]:
    """The column names, after checking every file stores ``wanted`` columns with one type
    (``7`` in one file and ``'7'`` in another would be two customers)."""
    import pyarrow.parquet as pq
    import pyarrow.types as pt

    first = None
    types: dict[str, dict[str, list[str]]] = {}
    for f in files:
        try:
            schema = pq.read_schema(f)
        except Exception as exc:  # pyarrow raises many types for a bad file
            raise DataError(f"cannot be read as Parquet ({exc})", source=str(f),
                            fix="check that the file is a complete Parquet file") from None
        if first is None:
            first = list(schema.names)
        for name in schema.names:
            t = schema.field(name).type
            types.setdefault(name, {}).setdefault(str(t), []).append(
                str(f.relative_to(root)) if f != root else f.name)
            if name in wanted and pt.is_nested(t):
                raise DataError(f"column {name!r} holds lists or records, not single values",
                                source=str(f), column=name,
                                fix="flatten it before loading")
    for name in wanted:
        seen = types.get(name, {})
        missing = len(files) - sum(len(v) for v in seen.values())
        if len(seen) > 1 or (missing and seen):
            listed = "; ".join(f"{t} in {', '.join(v[:3])}" + (" ..." if len(v) > 3 else "")
                               for t, v in seen.items())
            what = (f"the files store column {name!r} with different types ({listed})"
                    if len(seen) > 1 else f"{missing} of {len(files)} files have no column "
                    f"{name!r}")
            raise DataError(what + (": an id 7 and an id '7' would be two different ids"
                                    if name in ids else ""),
                            source=str(root), column=name,
                            fix="write every file with the same schema (cast the column to "
                                "one type in each), or read the files one by one")
    return first or []


class Checks:
    """The checks of one log: the SQL of every column's value and the problems found."""

    def __init__(self, run, columns: dict[str, Column], keep: str, id_type: str,
                 date_format: str | None, dayfirst: bool | None, decimal: str,
                 source: str, located: bool) -> None:
        self.run = run  # sql -> list of tuples
        self.located = located
        self.columns = columns
        self.keep = keep
        self.id_type = id_type
        self.date_format = date_format
        self.dayfirst = dayfirst
        self.decimal = decimal
        self.source = source
        self.problems: list[Problem] = []
        self.failed: set[str] = set()
        self.final: dict[str, str] = {}      # canonical -> SQL of the typed value
        self.id_kinds: dict[str, str] = {}   # id column -> "int" | "str"
        self.date_fmt: str | None = None
        self.got_rows = 0                    # rows checked (set by the caller)

    # --- helpers ----------------------------------------------------------------------

    def problem(self, column: str | None, what: str, n_bad: int, fix: str,
                where: str | None, show: list[str] | None = None) -> None:
        theirs = self.columns[column].theirs if column in self.columns else None
        if theirs is not None and theirs != column:
            what = f"{what} (your column {theirs!r})"
        self.problems.append(Problem(column, what, int(n_bad), fix, where,
                                     [column] if show is None and column else (show or [])))
        if column is not None:
            self.failed.add(column)

    def counts(self, aggregates: dict[str, str]) -> dict[str, object]:
        """One scan of the kept rows for every named aggregate."""
        if not aggregates:
            return {}
        names = list(aggregates)
        body = ", ".join(f"{aggregates[n]} AS {ident(n)}" for n in names)
        row = self.run(f"SELECT {body} FROM vals WHERE {self.keep}")[0]
        return dict(zip(names, row, strict=True))

    def define_vals(self, located: bool, date: str | None = None) -> None:
        """The view ``vals`` (and ``vals_at``, with each row's place, for Parquet): every
        column as stored, under its canonical name, with its number, integer or date (the
        SQL ``date``) beside it, computed once a row."""
        inner = [f"{col.raw} AS {col.ref}" for col in self.columns.values()]
        outer = ["*"]
        for name, col in self.columns.items():
            if name in _ID_COLUMNS and col.text:
                outer.append(f"TRY_CAST({col.ref} AS BIGINT) AS {col.integer}")
            if name in _NUMBER_COLUMNS and (col.text or _numeric(col.dtype)):
                outer.append(f"{self.number_value(col)} AS {col.number}")
        if date is not None:
            outer.append(f"{date} AS {ident('date#ts')}")
        for view, src, pos in (("vals", "clean", ""), ("vals_at", "clean_at", ", _pos")):
            if view == "vals" or located:
                self.run(f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT {', '.join(outer)} "
                         f"FROM (SELECT {', '.join(inner)}{pos} FROM {src})")

    # --- the plan ---------------------------------------------------------------------

    def number_value(self, col: Column) -> str:
        """SQL of the column as a DOUBLE (NULL where it is not a number). Text is cast as
        written first (DuckDB's cast takes surrounding spaces), stripped only if that fails."""
        v = col.value
        if col.text:
            if self.decimal == ",":
                return f"TRY_CAST(replace(replace({v}, '.', ''), ',', '.') AS DOUBLE)"
            return f"coalesce(TRY_CAST({col.ref} AS DOUBLE), TRY_CAST({v} AS DOUBLE))"
        return f"CAST({v} AS DOUBLE)"

    def probes(self) -> dict[str, str]:
        """The cheap aggregates of the first scan: counts that decide and check columns."""
        from retaillab.data._checks import _COMMA_RE

        out: dict[str, str] = {}
        for name, col in self.columns.items():
            v = col.value
            if name in _ID_COLUMNS:
                if col.text:
                    r = col.ref
                    out[f"{name}:n"] = f"count_if(NOT {col.missing})"
                    out[f"{name}:safe"] = f"count_if({self.safe(col)})"
                    out[f"{name}:exp"] = ("bool_or(" + " OR ".join(
                        f"contains({r}, {lit(e)})" for e in ("E+", "e+", "E-", "e-")) + ")")
                    out[f"{name}:dot0"] = f"bool_or(contains({r}, '.0'))"
                elif col.dtype in _FLOAT_TYPES:
                    out[f"{name}:fraction"] = (f"count_if(NOT isnan({v}) AND (isinf({v}) OR "
                                               f"floor({v}) <> {v}))")
                    out[f"{name}:huge"] = (f"count_if(NOT isinf({v}) AND abs({v}) >= "
                                           f"{_EXACT_FLOAT!r})")
                elif col.dtype == "UBIGINT":
                    out[f"{name}:max"] = f"max({v})"
            elif name in _NUMBER_COLUMNS:
                if col.dtype == "BOOLEAN" or not (col.text or _numeric(col.dtype)):
                    continue
                x = col.number
                if col.text:
                    if self.decimal == ",":
                        out[f"{name}:notcomma"] = (f"count_if({v} IS NOT NULL AND NOT "
                                                   f"regexp_full_match({v}, {_re(_COMMA_RE)}))")
                    out[f"{name}:bad"] = f"count_if({self.not_number(col)})"
                out[f"{name}:missing"] = f"count_if({self.no_number(col)})"
                out[f"{name}:inf"] = f"count_if(isinf({x}))"
                if name == C.quantity:
                    out[f"{name}:fraction"] = f"count_if(NOT isinf({x}) AND floor({x}) <> {x})"
                    out[f"{name}:huge"] = (f"count_if(NOT isinf({x}) AND abs({x}) >= "
                                           f"{_EXACT_FLOAT!r})")
        return out

    def safe(self, col: Column) -> str:
        """SQL: a text id is an integer that fits 64 bits, written without a leading zero
        or sign (the reader's ``^-?(0|[1-9]\\d{0,17})$``), tested as written first."""
        i, r, v = col.integer, col.ref, col.value
        text = f"CAST({i} AS VARCHAR)"
        return both(f"{i} IS NOT NULL AND abs({i}) < 1000000000000000000",
                    either(f"{text} = {r}", either(f"{text} = {v}",
                                                   both(f"{i} = 0", f"{v} = '-0'"))))

    def not_number(self, col: Column) -> str:
        """SQL: text with a value that is not a number (DuckDB alone takes 1_000)."""
        return either(both(f"{col.number} IS NULL", f"{col.value} IS NOT NULL"),
                      f"coalesce(contains({col.ref}, '_'), FALSE)")

    def no_number(self, col: Column) -> str:
        """SQL: no value (missing, an NA word, NaN)."""
        x = col.number
        if not col.text:
            return f"({col.ref} IS NULL OR isnan({x}))"
        return either(both(f"{x} IS NULL", f"{col.value} IS NULL"), f"isnan({x})")

    def plan(self, missing: dict[str, str] | None = None) -> None:
        """Decide every column (ids' type, the date format) and record what fails;
        ``missing`` (id column -> predicate) reports rows without an id, in the same scan."""
        self.define_vals(self.located)
        self._plan_date_format()
        date = self.columns[C.date]
        parsed = None
        if C.date not in self.failed:
            parsed = self.date_value(date)
        self.define_vals(self.located, parsed)
        probes = {"rows": "count(*)", **{f"missing:{c}": f"count_if({m})"
                                         for c, m in (missing or {}).items()}}
        probes.update(self.probes())
        probes.update(self.sign_probes())
        ts = ident("date#ts")
        if parsed is not None:
            probes["date:bad"] = (f"count_if({both(f'{ts} IS NULL', f'{date.value} IS NOT NULL')})"
                                  if date.text or self.date_fmt else "0")
            probes["date:missing"] = (f"count_if({both(f'{ts} IS NULL', f'{date.value} IS NULL')})"
                                      if date.text else f"count_if({date.ref} IS NULL)")
            probes["date:range"] = (f"count_if({ts} < TIMESTAMP {lit(_EARLIEST)} OR "
                                    f"{ts} >= TIMESTAMP {lit(_LATEST)})")
        got = self.counts(probes)
        self.got_rows = got["rows"]
        if self.got_rows == 0:
            return
        for c, m in (missing or {}).items():
            n = got[f"missing:{c}"]
            if n:
                self.problem(c, f"{n:,} rows have no id", n, "fill in the missing ids, or "
                             "pass missing_ids='drop' to leave those rows out (counted as "
                             f"no_{c}_id)", m)
                self.problems[-1].stage = 0
        ids_later = []
        for name in _ID_COLUMNS[:1]:
            ids_later += self._plan_id(name, got)
        if parsed is not None:
            self._plan_date(date, ts, got)
        for name in _NUMBER_COLUMNS:
            if name in self.columns:
                self._plan_number(self.columns[name], got)
        for name in _ID_COLUMNS[1:]:
            if name in self.columns:
                ids_later += self._plan_id(name, got)
        if ids_later:  # the regular expressions only run for ids that are not all integers
            self._plan_text_ids(ids_later, got)
        self._plan_signs(got)

    # --- ids --------------------------------------------------------------------------

    def _plan_id(self, name: str, got: dict) -> list[str]:
        col = self.columns[name]
        if name in self.failed:  # missing ids: reported already
            return []
        v = col.value
        as_text = self.id_type == "str"
        if col.dtype == "BOOLEAN":
            self.problem(name, "ids must be numbers or text, got true/false values",
                         self.got_rows, "map the id column here", "TRUE")
            return []
        if col.dtype in _INTEGER_TYPES or col.dtype == "UBIGINT":
            if col.dtype == "UBIGINT" and (got.get(f"{name}:max") or 0) > _INT64_MAX:
                as_text = True  # above int64: text, never wrapped
            self._set_id(name, f"CAST({v} AS VARCHAR)" if as_text else f"CAST({v} AS BIGINT)",
                         as_text)
            return []
        if col.dtype in _FLOAT_TYPES:
            if got[f"{name}:fraction"]:
                self.problem(name, "ids must be whole numbers or text; found fractions",
                             got[f"{name}:fraction"],
                             "check that the right column is mapped to this id",
                             f"isinf({v}) OR floor({v}) <> {v}")
            elif got[f"{name}:huge"]:
                self.problem(name, f"{got[f'{name}:huge']:,} float ids are beyond 2**53, where "
                             "floats lose their identity (1e19 + 1 == 1e19)", got[f"{name}:huge"],
                             "store the ids as integers or text, not floats",
                             f"abs({v}) >= {_EXACT_FLOAT!r}")
            else:
                ints = f"CAST({v} AS BIGINT)"
                self._set_id(name, f"CAST({ints} AS VARCHAR)" if as_text else ints, as_text)
            return []
        if not col.text:
            self.problem(name, f"ids of type {col.dtype} cannot be read as integers or text "
                         "here", self.got_rows, "cast the column to integers or text "
                         "before writing the file", "TRUE")
            return []
        n, safe = got[f"{name}:n"], got[f"{name}:safe"]
        if safe == n:  # every id an integer: no exponent, no 123.0 among them
            self._set_id(name, v if as_text else col.integer, as_text)
            return []
        return [name]

    def _plan_text_ids(self, names: list[str], got: dict) -> None:
        from retaillab.data._checks import _EXCEL_E_RE, _POINT_ZERO_RE

        probes = {}
        for name in names:
            v = self.columns[name].value
            if got[f"{name}:exp"]:
                probes[f"{name}:excel"] = (f"count_if(regexp_full_match({v}, "
                                           f"{_re(_EXCEL_E_RE)}, 'i'))")
            if got[f"{name}:dot0"] and self.id_type != "str":
                probes[f"{name}:pz"] = f"count_if(regexp_full_match({v}, {_re(_POINT_ZERO_RE)}))"
        more = self.counts(probes)
        for name in names:
            v = self.columns[name].value
            n, safe = got[f"{name}:n"], got[f"{name}:safe"]
            excel = more.get(f"{name}:excel", 0)
            if excel:
                self.problem(name, f"{excel:,} ids are written in scientific notation "
                             "(1.23457E+12), which has already rounded away their last digits, "
                             "so different customers would become one", excel,
                             "export the id column again formatted as text (in Excel: Format "
                             "Cells > Text, or import it as text)",
                             f"regexp_full_match({v}, {_re(_EXCEL_E_RE)}, 'i')")
                continue
            pz = more.get(f"{name}:pz", 0)
            if pz and pz == n:
                self._set_id(name, f"CAST(regexp_replace({v}, '\\.0+$', '') AS BIGINT)", False)
                continue
            if pz and pz + safe == n:
                self.problem(name, f"ids are written both as integers and with '.0' ({pz:,} "
                             "rows like 123.0): whether 123 and 123.0 are one customer is not "
                             "guessed", pz, "export the column again as integers, or pass "
                             "id_type='str' to keep each id as written",
                             f"regexp_full_match({v}, {_re(_POINT_ZERO_RE)})")
                continue
            if self.id_type == "int":
                self.problem(name, "ids are not all integers that fit 64 bits without a "
                             "leading zero", n - safe, "pass id_type='str' to keep ids as text",
                             f"NOT {self.safe(self.columns[name])}")
                continue
            self._set_id(name, v, True)  # codes, leading zeros, longer than int64: text

    def _set_id(self, name: str, sql: str, text: bool) -> None:
        self.final[name] = sql
        self.id_kinds[name] = "str" if text else "int"

    # --- numbers ----------------------------------------------------------------------

    def _plan_number(self, col: Column, got: dict) -> None:
        from retaillab.data._checks import _COMMA_RE

        name, v = col.name, col.value
        if name in self.failed:
            return
        if col.dtype == "BOOLEAN":
            self.problem(name, "expected numbers, got true/false values", self.got_rows,
                         "map the right column here", "TRUE")
            return
        if not (col.text or _numeric(col.dtype)):
            self.problem(name, f"expected numbers, the column holds {col.dtype}",
                         self.got_rows, "map the right column here", "TRUE")
            return
        x = col.number
        if got.get(f"{name}:notcomma"):
            bad = got[f"{name}:notcomma"]
            self.problem(name, f"expected numbers with a decimal comma; {bad:,} values are "
                         "not", bad, "write them as 1234,50 or 1.234,50, or leave decimal "
                         "unset if this column uses a decimal point",
                         f"{v} IS NOT NULL AND NOT regexp_full_match({v}, {_re(_COMMA_RE)})")
            return
        if got.get(f"{name}:bad"):
            bad = got[f"{name}:bad"]
            where = self.not_number(col)
            self.problem(name, f"expected numbers; {bad:,} values are not numbers", bad,
                         self._number_fix(v, where), where)
            return
        if got[f"{name}:missing"]:
            self.problem(name, f"{got[f'{name}:missing']:,} rows have no value",
                         got[f"{name}:missing"], "fill in or drop those rows",
                         self.no_number(col))
            return
        if got[f"{name}:inf"]:
            self.problem(name, f"{got[f'{name}:inf']:,} values are infinite", got[f"{name}:inf"],
                         "replace them with real values or drop those rows", f"isinf({x})")
            return
        if name == C.quantity:
            if got[f"{name}:fraction"]:
                self.problem(name, "expected whole numbers", got[f"{name}:fraction"],
                             "round the values or map the right column", f"floor({x}) <> {x}")
                return
            if got[f"{name}:huge"]:
                self.problem(name, f"{got[f'{name}:huge']:,} values are too large to be counts "
                             "(2**53 or more)", got[f"{name}:huge"], "check that the right "
                             "column is mapped here, or fix those values",
                             f"abs({x}) >= {_EXACT_FLOAT!r}")
                return
            self.final[name] = f"CAST({x} AS BIGINT)"
            return
        self.final[name] = x

    def _number_fix(self, v: str, where: str) -> str:
        from retaillab.data._checks import _COMMA_RE, _GROUPED_RE

        grouped, comma, n = self.run(
            f"SELECT bool_and(regexp_full_match({v}, {_re(_GROUPED_RE)})), "
            f"bool_and(regexp_full_match({v}, {_re(_COMMA_RE)})), count(*) FROM vals "
            f"WHERE {self.keep} AND {where}")[0]
        if n and grouped:
            return ("remove the thousands separators (1,234.50 -> 1234.50): a comma could also "
                    "be a decimal comma, so it is not guessed")
        if n and comma:
            return "the column uses a decimal comma: pass decimal=','"
        return ("use '.' as the decimal point and no currency signs or thousands separators in "
                "this column (or decimal=',' for a decimal comma)")

    # --- dates ------------------------------------------------------------------------

    def date_value(self, col: Column) -> str | None:
        """SQL of the column as a TIMESTAMP (NULL where it does not parse), or None."""
        v = col.value
        if col.text:
            fmt = self.date_fmt
            r = col.ref  # as written first (a parse only succeeds on a clean value), then stripped
            if fmt == "ISO8601":  # offsets to UTC (the connection's zone is UTC)
                return (f"CAST(coalesce(TRY_CAST({r} AS TIMESTAMPTZ), TRY_CAST({v} AS "
                        "TIMESTAMPTZ)) AS TIMESTAMP)")
            return (f"CAST(coalesce(TRY_STRPTIME({r}, {lit(fmt)}), TRY_STRPTIME({v}, "
                    f"{lit(fmt)})) AS TIMESTAMP)")
        if col.dtype.startswith("TIMESTAMP") or col.dtype == "DATE":
            return f"CAST({v} AS TIMESTAMP)"
        if col.dtype in _INTEGER_TYPES and self.date_format is not None:
            self.date_fmt = self.date_format
            return (f"CAST(TRY_STRPTIME(CAST({v} AS VARCHAR), {lit(self.date_format)}) AS "
                    "TIMESTAMP)")
        if _numeric(col.dtype):
            self.problem(C.date, "expected dates, got numbers", self._rows(f"{v} IS NOT NULL"),
                         "map a date column here (text like 2024-03-01)", f"{v} IS NOT NULL")
        else:
            self.problem(C.date, f"expected dates, the column holds {col.dtype}",
                         self._rows("TRUE"), "map a date column here", "TRUE")
        return None

    def _rows(self, where: str) -> int:
        return self.run(f"SELECT count(*) FROM vals WHERE {self.keep} AND {where}")[0][0]

    def _plan_date(self, col: Column, parsed: str, got: dict) -> None:
        """``parsed``: the parsed date's column in ``vals``."""
        v = col.value
        if got["date:bad"]:
            shown = f" ({self.date_fmt})" if self.date_fmt else ""
            self.problem(C.date, f"{got['date:bad']:,} values are not dates in the column's "
                         f"format{shown}", got["date:bad"], "pass date_format (e.g. "
                         "'%d/%m/%Y') or fix these values: one column has one date format",
                         both(f"{parsed} IS NULL", f"{v} IS NOT NULL"))
        elif got["date:missing"]:
            self.problem(C.date, f"{got['date:missing']:,} rows have no date",
                         got["date:missing"], "fill in or drop those rows",
                         both(f"{parsed} IS NULL", f"{v} IS NULL"))
        elif got["date:range"]:
            self.problem(C.date, f"{got['date:range']:,} dates fall outside 1970-2100",
                         got["date:range"], "Unix times must be in seconds (divide "
                         "milliseconds by 1000), and dates need four-digit years",
                         f"{parsed} < TIMESTAMP {lit(_EARLIEST)} OR {parsed} >= TIMESTAMP "
                         f"{lit(_LATEST)}")
        else:
            self.final[C.date] = parsed

    def _plan_date_format(self) -> None:
        """The one format of a text date column, decided as the pandas reader decides it
        (over the distinct values); a date column that fails here is reported."""
        from retaillab.data._checks import _DMY_RE, _ISO_RE, _OFFSET_RE

        col = self.columns[C.date]
        if not col.text:
            return
        if self.date_format is not None:
            self.date_fmt = self.date_format
            self._check_strptime(self.date_format)
            return
        v = col.value
        self.run(f"CREATE OR REPLACE TEMP TABLE _dates AS SELECT DISTINCT {col.clean('w')} AS t "
                 f"FROM (SELECT DISTINCT {col.ref} AS w FROM vals WHERE {self.keep}) WHERE "
                 f"{col.clean('w')} IS NOT NULL")
        n, iso, dmy = self.run(f"SELECT count(*), count_if(regexp_full_match(t, {_re(_ISO_RE)})), "
                               f"count_if(regexp_full_match(t, {_re(_DMY_RE)})) FROM _dates")[0]
        if n == 0:
            self.date_fmt = "ISO8601"
            return
        if iso >= 0.5 * n:
            self.date_fmt = "ISO8601"
            offset, naive = self.run(
                f"SELECT count_if(regexp_matches(t, '\\d[T ]\\d') AND "
                f"regexp_matches(t, {_re(_OFFSET_RE)})), "
                f"count_if(regexp_matches(t, '\\d[T ]\\d') AND NOT regexp_matches(t, "
                f"{_re(_OFFSET_RE)})) FROM _dates")[0]
            if offset and naive:
                where = (f"regexp_matches({v}, '\\d[T ]\\d') AND NOT regexp_matches({v}, "
                         f"{_re(_OFFSET_RE)})")
                self.problem(C.date, "times with a UTC offset (…+02:00, …Z) and times without "
                             "one are mixed: the ones without cannot be placed",
                             self._rows(where), "export every time with its offset, or every "
                             "time in one zone without offsets", where)
            return
        if dmy >= 0.5 * n:
            self._plan_dmy(v)
            return
        from pandas.tseries.api import guess_datetime_format

        first = self._first(v)
        year_first = bool(re.match(r"\d{4}\D", first))  # 2024/01/02: never Y/D/M
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fmt = guess_datetime_format(first, dayfirst=bool(self.dayfirst) and not year_first)
        if fmt is None:
            self.problem(C.date, "values are not dates this reader can parse (no format fits "
                         f"{first!r})", self._rows(f"{v} IS NOT NULL"), "pass date_format "
                         "(e.g. '%d/%m/%Y') or map the right column", f"{v} IS NOT NULL")
            return
        self.date_fmt = fmt
        self._check_strptime(fmt)

    def _first(self, v: str) -> str:
        return self.run(f"SELECT {v} FROM vals WHERE {self.keep} AND {v} IS NOT NULL "
                        "LIMIT 1")[0][0]

    def _check_strptime(self, fmt: str) -> None:
        """Refuse a format DuckDB's strptime does not know (it would fail every value)."""
        import duckdb

        try:
            self.run(f"SELECT TRY_STRPTIME('', {lit(fmt)})")
        except duckdb.Error as exc:
            raise ParameterError("date_format", "a format DuckDB's strptime knows (%d %m %Y "
                                 f"%H %M %S %b %z...): {str(exc).splitlines()[0]}",
                                 fmt) from None

    def _plan_dmy(self, v: str) -> None:
        from retaillab.data._checks import _DMY_RE

        dmy = _re(_DMY_RE)
        parts = (f"TRY_CAST(regexp_extract(t, {dmy}, 1) AS INTEGER) AS a, "
                 f"TRY_CAST(regexp_extract(t, {dmy}, 3) AS INTEGER) AS b")
        day_first, month_first = self.run(
            f"SELECT count_if(a > 12), count_if(b > 12) FROM (SELECT {parts} FROM _dates)")[0]
        dayfirst = self.dayfirst
        if dayfirst is None:
            if day_first and month_first:
                a = f"TRY_CAST(regexp_extract({v}, {dmy}, 1) AS INTEGER)"
                b = f"TRY_CAST(regexp_extract({v}, {dmy}, 3) AS INTEGER)"
                n_day, n_month = self.run(
                    f"SELECT count_if({a} > 12), count_if({b} > 12) FROM vals "
                    f"WHERE {self.keep}")[0]
                self.problem(C.date, "this column mixes day-first dates (first number above "
                             f"12: {n_day:,} rows) and month-first dates (second number above "
                             f"12: {n_month:,} rows)", self._rows(f"{a} > 12 OR {b} > 12"),
                             "export the dates in one order (ideally ISO, 2024-01-31), or "
                             + _DATE_OPTIONS + " and fix the rows of the other order",
                             f"{a} > 12 OR {b} > 12")
                return
            if not (day_first or month_first):
                first = self._first(v)
                self.problem(C.date, "every date is ambiguous between day-first and "
                             f"month-first (e.g. {first!r})", self._rows(f"{v} IS NOT NULL"),
                             _DATE_OPTIONS, f"{v} IS NOT NULL")
                return
            dayfirst = bool(day_first)
        shape = (f"CASE WHEN regexp_full_match(t, {dmy}) THEN regexp_extract(t, {dmy}, 2) || "
                 f"CAST(length(regexp_extract(t, {dmy}, 4)) AS VARCHAR) || "
                 f"regexp_extract(t, {dmy}, 5) || CASE WHEN regexp_extract(t, {dmy}, 8) <> '' "
                 "THEN 's' ELSE '' END ELSE '' END")
        common = self.run(f"SELECT {shape} AS shape, count(*) AS n FROM _dates GROUP BY shape "
                          "ORDER BY n DESC, shape LIMIT 1")[0][0]
        sep, year = common[0], int(common[1])
        fmt = sep.join(["%d", "%m"] if dayfirst else ["%m", "%d"]) + sep + (
            "%Y" if year == 4 else "%y")
        if len(common) > 2:
            fmt += common[2] + "%H:%M" + (":%S" if common.endswith("s") else "")
        self.date_fmt = fmt

    # --- signs ------------------------------------------------------------------------

    def sign_probes(self) -> dict[str, str]:
        """Counts of negative amounts and quantities below 1, taken in the first scan before
        it is known which columns parse (only those that do are judged, as the reader does)."""
        out = {}
        amount, quantity = self.columns.get(C.amount), self.columns.get(C.quantity)
        numeric = [c for c in (amount, quantity) if c is not None and (c.text or _numeric(c.dtype))]
        if amount in numeric:
            out["sign:negative"] = f"count_if({amount.number} < 0)"
            if quantity in numeric:
                out["sign:adjusted"] = f"count_if({amount.number} < 0 AND {quantity.number} >= 1)"
        if quantity in numeric:
            out["sign:below1"] = f"count_if({quantity.number} < 1)"
        return out

    def _plan_signs(self, got: dict) -> None:
        """Negative amounts and quantities below 1 (returns, refunds, zero lines)."""
        amount = self.final.get(C.amount)
        quantity = self.final.get(C.quantity)
        adjusted = f"{amount} < 0 AND {quantity} >= 1" if amount and quantity else "FALSE"
        got = {"negative": got["sign:negative"] - (got["sign:adjusted"] if quantity else 0)
               if amount else 0, "adjusted": got["sign:adjusted"] if amount and quantity else 0,
               "below1": got["sign:below1"] if quantity else 0}
        start = len(self.problems)
        self._signs(got, amount, quantity, adjusted if amount is not None else "FALSE")
        for problem in self.problems[start:]:
            problem.stage = 2

    def _signs(self, got: dict, amount: str | None, quantity: str | None,
               adjusted: str) -> None:
        if got.get("negative"):
            self.problem(C.amount, f"{got['negative']:,} amounts are negative", got["negative"],
                         "remove refunds and returns, or net them against their orders, then "
                         "load again (data.read_transactions takes returns='drop' or 'net')",
                         f"{amount} < 0 AND NOT coalesce({adjusted}, FALSE)",
                         [c for c in (C.amount, C.quantity) if c in self.columns])
        if got.get("adjusted"):
            self.problem(C.amount, f"{got['adjusted']:,} amounts are negative on lines with a "
                         "positive quantity (price adjustments or bad-debt write-offs, not "
                         "purchases or returns)", got["adjusted"], "leave these lines out of "
                         "the export, or drop them before loading", adjusted,
                         [C.amount, C.quantity])
        if got.get("below1"):
            self.problem(C.quantity, f"{got['below1']:,} quantities are below 1", got["below1"],
                         "drop zero-quantity and return lines (data.read_transactions takes "
                         "returns='drop' or 'net')", f"{quantity} < 1")


def _numeric(dtype: str) -> bool:
    return (dtype in _INTEGER_TYPES or dtype in _FLOAT_TYPES or dtype == "UBIGINT"
            or dtype.startswith("DECIMAL") or dtype == "HUGEINT")


def examples(run_arrow, problem: Problem, located: str, keep: str, show: list[str],
             columns: dict[str, Column], lines) -> pd.DataFrame | None:
    """Up to five failing rows of a problem, indexed by line, row or file:row."""
    if problem.where is None:
        return None
    cols = [c for c in show if c in columns]
    values = ", ".join(f"{columns[c].shown} AS {ident(c)}" for c in cols)
    where = f"{keep} AND ({problem.where})"
    table = run_arrow(f"SELECT _pos, {values or 'NULL AS _none'} FROM {located} WHERE {where} "
                      "LIMIT 5")
    frame = table.to_pandas()
    positions = frame.pop("_pos")
    frame = frame[cols] if cols else frame.iloc[:, :0]
    frame = frame.astype(object).where(frame.notna(), None)
    if lines is not None and positions.dtype.kind in "iu":
        index = pd.Index(lines(positions.to_numpy()), name="line")
    else:
        index = pd.Index(positions.to_numpy(), name="row")
    return frame.set_axis(index)
