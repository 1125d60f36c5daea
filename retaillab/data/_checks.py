"""Column coercion and checks shared by the user-data readers.

Each helper returns a clean column, or records a :class:`DataError` (the source, the column, up
to five failing rows and the fix) and returns ``None``, so one pass finds every problem of a
table; :meth:`Checker.raise_problems` then raises them as one error. Failing rows are shown by
their line in the file (computed only then) or their position in the table.

The checks are vectorised (pyarrow compute on arrow-backed text), and text dates are parsed with
one explicit format per column, never guessed row by row.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from retaillab.data.reading import TEXT, Lines
from retaillab.errors import DataError, ParameterError, failing_rows

_INT_RE = r"^[+-]?\d+$"
_SAFE_INT_RE = r"^-?(0|[1-9]\d{0,17})$"  # fits int64, no leading zero to lose
_NUMBER_RE = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$|^[+-]?(inf|infinity)$"
#: an id Excel wrote in scientific notation (its digits are lost)
_EXCEL_E_RE = r"^[+-]?\d(\.\d+)?e[+-]?\d+$"
#: an integer id written by a float export: 123.0
_POINT_ZERO_RE = r"^-?(0|[1-9]\d{0,17})\.0+$"
#: numbers written with a decimal comma, "." or nothing grouping thousands: 12,5  1.234,50
_COMMA_RE = r"^[+-]?(\d{1,3}(\.\d{3})+|\d+)(,\d+)?$"
#: numbers with "," grouping thousands and a decimal point: 1,234.50 (refused, not guessed)
_GROUPED_RE = r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$"
_ISO_RE = (r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?"
           r"(Z|[+-]\d{2}(:?\d{2})?)?$")
_DMY_RE = (r"^(?P<a>\d{1,2})(?P<s>[/.-])(?P<b>\d{1,2})[/.-](?P<y>\d{2}|\d{4})"
           r"(?:(?P<t>[ T])(?P<h>\d{1,2}):(?P<m>\d{2})(?P<sec>:\d{2})?)?$")
_DIRECTIVES = set("aAwdbBmyYHIpMSfzZjUWcxXGuV%")
_OFFSET_RE = r"(?:Z|[+-]\d{2}(?::?\d{2})?)$"  # an ISO time's UTC offset
_PLAUSIBLE_SECONDS = 3e8  # 1979-07-05: below it, "Unix seconds" are something else
_EARLIEST, _LATEST = pd.Timestamp("1970-01-01"), pd.Timestamp("2100-01-01")
_INT64_MAX = np.iinfo(np.int64).max
_EXACT_FLOAT = 2.0 ** 53
_DATE_OPTIONS = ("pass dayfirst=True or dayfirst=False (CLI: --dayfirst / --monthfirst), or "
                 "date_format, e.g. '%d/%m/%Y' (CLI: --date-format)")


def check_date_format(date_format: str | None) -> None:
    """Refuse a ``date_format`` with no directive or one Python's strptime does not know."""
    if date_format is None:
        return
    if not isinstance(date_format, str):
        raise ParameterError("date_format", "a strftime format such as '%d/%m/%Y'", date_format)
    found = re.findall(r"%[-#]?(.)", date_format)
    unknown = [d for d in found if d not in _DIRECTIVES]
    if unknown or not [d for d in found if d != "%"]:
        raise ParameterError("date_format", "a strftime format with directives such as %d %m "
                             "%Y %H %M (e.g. '%d/%m/%Y %H:%M')" + (
                                 f"; %{unknown[0]} is not one" if unknown else
                                 "; this one has no directive"), date_format)


def arrow(values: pd.Series):
    """The values as a pyarrow array of stripped text (nulls for missing)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not (isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow"):
        values = values.astype(TEXT)
    arr = values.array.__arrow_array__()
    if isinstance(arr, pa.ChunkedArray) and arr.num_chunks == 1:
        arr = arr.chunk(0)
    if not _may_need_trim(arr):
        return arr
    arr = pc.utf8_trim_whitespace(arr)  # chunked stays chunked: no copy into one buffer
    return pc.if_else(pc.equal(arr, ""), pa.scalar(None, arr.type), arr)  # blank: missing


_SPACE_OR_WIDE = np.zeros(256, bool)
_SPACE_OR_WIDE[[9, 10, 11, 12, 13, 32]] = True
_SPACE_OR_WIDE[128:] = True  # a multi-byte character may be a Unicode space


def _may_need_trim(arr) -> bool:
    """Whether any byte of the text is whitespace or non-ASCII: one pass over the buffers."""
    for chunk in getattr(arr, "chunks", [arr]):
        data = chunk.buffers()[2]
        if chunk.offset or (data is not None and data.size and _SPACE_OR_WIDE[
                np.frombuffer(data, np.uint8)].any()):
            return True
    return False


def _mask(arr) -> np.ndarray:
    """A pyarrow boolean array as numpy, nulls as False."""
    import pyarrow.compute as pc

    return pc.fill_null(arr, False).to_numpy(zero_copy_only=False)


def _series(arr, index: pd.Index) -> pd.Series:
    return pd.Series(pd.array(arr, dtype=TEXT) if str(arr.type) in ("string", "large_string")
                     else arr.to_numpy(zero_copy_only=False), index=index)


def _has_any(text, pieces: tuple[str, ...]) -> bool:
    """Whether the text's bytes hold one of ``pieces``: a byte search of the data buffers, a
    cheap guard before a regex over every value (it may say yes for a value filtered away;
    the regex then finds nothing)."""
    import pyarrow as pa

    chunks = text.chunks if isinstance(text, pa.ChunkedArray) else [text]
    wanted = [piece.encode() for piece in pieces]
    for chunk in chunks:
        data = chunk.buffers()[-1]
        if data is not None:
            raw = memoryview(data).tobytes()
            if any(piece in raw for piece in wanted):
                return True
    return False


def _number_fix(bad) -> str:
    """What to do about text that is not a number: a decimal comma, thousands separators."""
    import pyarrow.compute as pc

    if len(bad) and pc.all(pc.match_substring_regex(bad, _GROUPED_RE)).as_py():
        return ("remove the thousands separators (1,234.50 -> 1234.50): a comma could also "
                "be a decimal comma, so it is not guessed")
    if len(bad) and pc.all(pc.match_substring_regex(bad, _COMMA_RE)).as_py():
        return "the column uses a decimal comma: pass decimal=',' (CLI: --decimal ,)"
    return ("use '.' as the decimal point and no currency signs or thousands separators in "
            "this column (or decimal=',' for a decimal comma)")


class Checker:
    """Runs the checks of one table, remembering where it came from and what failed."""

    def __init__(self, frame: pd.DataFrame, source: str, names: dict[str, str],
                 lines: Lines | np.ndarray | None) -> None:
        self.frame = frame
        self.source = source
        self.names = names  # canonical -> the user's own column name, for messages
        self._lines = lines if isinstance(lines, Lines) else Lines(lines)
        self.positions: np.ndarray | None = None  # each row's position as read, once rows drop
        self.problems: list[DataError] = []
        self._text: dict[str, object] = {}  # column -> its stripped text (pyarrow), made once
        self.extras: pd.DataFrame | None = None  # the file's other columns, rows as read
        self._present: np.ndarray | None = None  # rows of the last text date column with a value
        self._format: str | None = None  # the format the last text date column was read with
        self.decimal = "."  # the decimal mark of numbers written as text ("." or ",")

    def text(self, col: str):
        """The column as stripped pyarrow text, computed once per column."""
        if col not in self._text:
            self._text[col] = arrow(self.frame[col])
        return self._text[col]

    def line_numbers(self) -> np.ndarray | None:
        """The file line of each current row, or ``None`` (rows are shown by position)."""
        lines = self._lines.array()
        if lines is None:
            return self.positions
        return lines if self.positions is None else lines[self.positions]

    def drop(self, mask: np.ndarray) -> None:
        """Remove the rows in ``mask``, keeping the way back to their lines."""
        import pyarrow as pa
        import pyarrow.compute as pc

        keep = ~np.asarray(mask, dtype=bool)
        current = np.arange(len(self.frame)) if self.positions is None else self.positions
        self.positions = current[keep]
        kept = pa.array(keep)
        columns = {}
        for name in self.frame.columns:  # arrow text filtered by pyarrow: no copy to objects
            values = self.frame[name]
            if isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow":
                columns[name] = pd.array(pc.filter(values.array.__arrow_array__(), kept),
                                         dtype=values.dtype)
            else:
                columns[name] = values.to_numpy()[keep] if isinstance(values.dtype, np.dtype) \
                    else values[keep].reset_index(drop=True)
        self.frame = pd.DataFrame(columns, columns=self.frame.columns)
        self._text = {col: pc.filter(text, kept) for col, text in self._text.items()}

    def coerced(self, columns: dict[str, pd.Series]) -> pd.DataFrame:
        """The table with its checked columns; their text is let go (memory)."""
        self.frame = self.frame.assign(**columns)
        self._text.clear()
        return self.frame

    def fail(self, col: str | None, what: str, mask: np.ndarray | pd.Series, fix: str,
             show: list[str], frame: pd.DataFrame | None = None) -> DataError:
        mask = np.asarray(mask, dtype=bool)
        theirs = self.names.get(col, col) if col is not None else None
        if theirs is not None and theirs != col:
            what = f"{what} (your column {theirs!r})"
        frame = self.frame if frame is None else frame
        return DataError(what, source=self.source, column=col,
                         rows=failing_rows(frame, mask, show, self.line_numbers()),
                         n_bad=int(mask.sum()), fix=fix)

    def report(self, col: str | None, what: str, mask: np.ndarray | pd.Series, fix: str,
               show: list[str] | None = None) -> None:
        """Record a problem; it is raised with the others by :meth:`raise_problems`."""
        self.problems.append(self.fail(col, what, mask, fix, [col] if show is None else show))

    def raise_problems(self) -> None:
        """Raise every problem recorded so far as one :class:`DataError`."""
        if self.problems:
            raise DataError.of(self.problems)

    def missing_ids(self, cols: list[str], mode: str, quality=None) -> None:
        """Rows without an id: each column's are reported, or dropped (``no_<col>_id``)."""
        dropped = np.zeros(len(self.frame), bool)
        for col in cols:
            values = self.frame[col]
            missing = values.isna().to_numpy()
            if values.dtype.kind in "OUT" or pd.api.types.is_string_dtype(values):
                import pyarrow.compute as pc

                text = self.text(col)
                missing = missing | ~_mask(pc.invert(pc.equal(text, "")))
            if mode == "drop":
                if quality is not None:
                    quality.drop(f"no_{col}_id", int((missing & ~dropped).sum()))
                dropped |= missing
            elif missing.any():
                self.report(col, f"{missing.sum():,} rows have no id", missing,
                            f"fill in the missing ids, or pass missing_ids='drop' (CLI: "
                            f"--missing-ids drop) to leave those rows out (counted as "
                            f"no_{col}_id)")
        if dropped.any():
            self.drop(dropped)
            if self.frame.empty:
                raise DataError("every row lacks an id", source=self.source,
                                column=cols[0], fix="map the id columns (columns=...)")

    def ids(self, col: str, id_type: str) -> pd.Series | None:
        """Ids of one kind: all integers, or all text (``id_type`` decides; ``auto``: text
        as soon as one id is not an integer, so ``85123`` and ``85123A`` stay two codes)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        values = self.frame[col]
        if values.isna().any():
            return None  # reported by missing_ids
        if values.dtype.kind == "b":
            self.report(col, "ids must be numbers or text, got true/false values",
                        np.ones(len(values), bool), "map the id column here")
            return None
        if values.dtype.kind in "iu":
            if values.dtype.kind == "u" and len(values) and values.max() > _INT64_MAX:
                return values.astype(str).astype(TEXT)  # above int64: text, never wrapped
            return values.astype("int64") if id_type != "str" else values.astype(str).astype(
                TEXT)
        if values.dtype.kind == "f":
            number = values.to_numpy()
            finite = np.isfinite(number)
            whole = finite & (np.floor(np.where(finite, number, 0)) == number)
            if not whole.all():
                self.report(col, "ids must be whole numbers or text; found fractions", ~whole,
                            "check that the right column is mapped to this id")
                return None
            exact = np.abs(number) < _EXACT_FLOAT
            if not exact.all():
                self.report(col, f"{(~exact).sum():,} float ids are beyond 2**53, where floats "
                            "lose their identity (1e19 + 1 == 1e19)", ~exact,
                            "store the ids as integers or text, not floats")
                return None
            ints = values.astype("int64")
            return ints if id_type != "str" else ints.astype(str).astype(TEXT)
        if values.dtype == object and id_type == "auto":  # a DataFrame's Python objects
            kinds = values.map(lambda v: "number" if isinstance(v, (int, np.integer)) else
                               "text" if isinstance(v, str) else type(v).__name__)
            if kinds.nunique() > 1:
                first = kinds.iloc[0]
                self.report(col, "ids mix Python types (" + ", ".join(
                    sorted(kinds.unique())) + "), so 7 and '7' would be two different ids",
                    (kinds != first).to_numpy(),
                    "convert the column to one type, e.g. df[col].astype(str)")
                return None
        text = self.text(col)
        rounded = _mask(pc.match_substring_regex(text, _EXCEL_E_RE, ignore_case=True)) \
            if _has_any(text, ("E+", "e+", "E-", "e-")) else np.zeros(len(text), bool)
        if rounded.any():  # 1.23457E+12: Excel showed a long number in short; digits are gone
            self.report(col, f"{rounded.sum():,} ids are written in scientific notation "
                        "(1.23457E+12), which has already rounded away their last digits, so "
                        "different customers would become one", rounded,
                        "export the id column again formatted as text (in Excel: Format "
                        "Cells > Text, or import it as text)")
            return None
        if id_type != "str" and _has_any(text, (".0",)):  # 123.0: the integer 123, as in Parquet
            point_zero = _mask(pc.match_substring_regex(text, _POINT_ZERO_RE))
            if point_zero.all():
                text = pc.replace_substring_regex(text, r"\.0+$", "")
            elif point_zero.any() and (point_zero | _mask(pc.match_substring_regex(
                    text, _SAFE_INT_RE))).all():
                self.report(col, f"ids are written both as integers and with '.0' "
                            f"({point_zero.sum():,} rows like 123.0): whether 123 and 123.0 "
                            "are one customer is not guessed", point_zero,
                            "export the column again as integers, or pass id_type='str' to "
                            "keep each id as written")
                return None
        if id_type == "str":
            return _series(text, values.index)
        safe = _mask(pc.match_substring_regex(text, _SAFE_INT_RE))
        if id_type == "int" and not safe.all():
            self.report(col, "ids are not all integers that fit 64 bits without a leading "
                        "zero", ~safe, "pass id_type='str' to keep ids as text")
            return None
        if safe.all():
            return pd.Series(pc.cast(text, pa.int64()).to_numpy(), index=values.index)
        return _series(text, values.index)  # codes, leading zeros, longer than int64: text

    def numbers(self, col: str, *, integer: bool = False) -> pd.Series | None:
        """A numeric column; text that is not a number is an error, not a silent NaN."""
        import pyarrow as pa
        import pyarrow.compute as pc

        values = self.frame[col]
        if values.dtype.kind == "b":
            self.report(col, "expected numbers, got true/false values",
                        np.ones(len(values), bool), "map the right column here")
            return None
        if values.dtype.kind in "iuf":
            parsed = values.to_numpy(dtype="float64")
        else:
            text = self.text(col)
            if self.decimal == ",":  # only 1.234,50-shaped values; then "." out, "," -> "."
                ok = pc.match_substring_regex(text, _COMMA_RE)
                bad = _mask(pc.and_(pc.invert(ok), pc.is_valid(text)))
                if bad.any():
                    self.report(col, f"expected numbers with a decimal comma; {bad.sum():,} "
                                "values are not", bad, "write them as 1234,50 or 1.234,50, or "
                                "leave decimal unset if this column uses a decimal point")
                    return None
                text = pc.replace_substring(pc.replace_substring(text, ".", ""), ",", ".")
            try:  # the regex (slower) only runs to find the values that are not numbers
                parsed = pc.cast(text, pa.float64()).to_numpy(zero_copy_only=False)
            except pa.ArrowInvalid:
                ok = pc.match_substring_regex(text, _NUMBER_RE, ignore_case=True)
                invalid = pc.and_(pc.invert(ok), pc.is_valid(text))
                bad = _mask(invalid)
                self.report(col, f"expected numbers; {bad.sum():,} values are not numbers",
                            bad, _number_fix(pc.filter(text, invalid)))
                return None
        missing = np.isnan(parsed)
        if missing.any():
            self.report(col, f"{missing.sum():,} rows have no value", missing,
                        "fill in or drop those rows")
            return None
        infinite = np.isinf(parsed)
        if infinite.any():
            self.report(col, f"{infinite.sum():,} values are infinite", infinite,
                        "replace them with real values or drop those rows")
            return None
        if integer:
            whole = np.floor(parsed) == parsed
            if not whole.all():
                self.report(col, "expected whole numbers", ~whole,
                            "round the values or map the right column")
                return None
            huge = np.abs(parsed) >= _EXACT_FLOAT
            if huge.any():  # beyond 2**53 a float is no longer the number, and int64 wraps
                self.report(col, f"{huge.sum():,} values are too large to be counts "
                            "(2**53 or more)", huge, "check that the right column is mapped "
                            "here, or fix those values")
                return None
            return pd.Series(parsed.astype("int64"), index=values.index)
        return pd.Series(parsed, index=values.index)

    def dates(self, col: str, date_format: str | None, *, unix: bool,
              dayfirst: bool | None = None) -> pd.Series | None:
        """A datetime column, every text value parsed with one format.

        Numbers are Unix seconds when ``unix`` is set (whole numbers that would all fall before
        mid-1979, or look like YYYYMMDD, are refused). Text: ``date_format`` if given; ISO 8601
        (offsets converted to UTC; times with and without offsets in one column are refused);
        day/month/year-like dates in the order the unambiguous values show (or ``dayfirst``
        says); else the one format pandas guesses from the first value. Values that do not fit
        the column's format are listed, never parsed another way.
        """
        values = self.frame[col]
        self._present, self._format = None, None
        if pd.api.types.is_datetime64_any_dtype(values):
            parsed = values.dt.tz_convert("UTC").dt.tz_localize(None) \
                if values.dt.tz is not None else values
        elif values.dtype.kind in "iuf" and date_format is not None:  # 20240105 as a number
            whole = values.dropna()
            text = values.astype("Int64").astype(str) if (whole == whole.round()).all() \
                else values.astype(str)
            parsed = pd.to_datetime(text.where(values.notna()), format=date_format,
                                    errors="coerce")
            self._format = date_format
        elif values.dtype.kind in "iuf":
            if not unix:
                self.report(col, "expected dates, got numbers", values.notna().to_numpy(),
                            "map a date column here (text like 2024-03-01)")
                return None
            if not self._plausible_seconds(col, values.to_numpy(dtype="float64")):
                return None
            parsed = pd.to_datetime(values, unit="s", errors="coerce")
        else:
            parsed = self._text_dates(col, values, date_format, unix, dayfirst)
            if parsed is None:
                return None
        present = values.notna().to_numpy() if self._present is None else self._present
        bad = parsed.isna().to_numpy() & present
        if bad.any():
            self.report(col, f"{bad.sum():,} values are not dates in the column's format"
                        + (f" ({self._format})" if self._format else ""),
                        bad, "pass date_format (e.g. '%d/%m/%Y'; CLI: --date-format) or fix "
                        "these values: one column has one date format")
            return None
        missing = parsed.isna().to_numpy()
        if missing.any():
            self.report(col, f"{missing.sum():,} rows have no date", missing,
                        "fill in or drop those rows")
            return None
        parsed = parsed.astype("datetime64[us]")
        odd = ((parsed < _EARLIEST) | (parsed >= _LATEST)).to_numpy()
        if odd.any():
            self.report(col, f"{odd.sum():,} dates fall outside 1970-2100", odd,
                        "Unix times must be in seconds (divide milliseconds by 1000), and "
                        "dates need four-digit years")
            return None
        return parsed

    def _plausible_seconds(self, col: str, seconds: np.ndarray) -> bool:
        """Whole numbers read as Unix seconds must not be something else in disguise:
        ``20240105`` (a date written YYYYMMDD) or ``45292`` (an Excel day number) would read
        as days of 1970. Numbers that would all fall before mid-1979 are refused."""
        known = seconds[np.isfinite(seconds)]
        if not len(known):
            return True
        ymd = (known >= 19000101) & (known <= 21001231) & (known == np.round(known))
        if ymd.all():
            self.report(col, "the numbers look like dates written YYYYMMDD (20240105), not "
                        "Unix seconds", np.isfinite(seconds), "pass date_format='%Y%m%d' "
                        "(CLI: --date-format %Y%m%d)")
            return False
        if known.max() < _PLAUSIBLE_SECONDS:
            self.report(col, "read as Unix seconds, every one of these numbers would be a "
                        "time before mid-1979 (Excel day numbers like 45292 look like this)",
                        np.isfinite(seconds), "export real timestamps (text like "
                        "2024-03-01 10:00, or Unix seconds), or map the right column")
            return False
        return True

    def _text_dates(self, col: str, values: pd.Series, date_format: str | None, unix: bool,
                    dayfirst: bool | None) -> pd.Series | None:
        """Parse the distinct values once with one format and spread them back to the rows."""
        import pyarrow.compute as pc

        self._format = None
        if unix and date_format is None:
            text = self.text(col)
            if _mask(pc.match_substring_regex(text, _INT_RE)).sum() == pc.count(text).as_py():
                seconds = pc.cast(text, "int64").to_numpy(zero_copy_only=False)
                if not self._plausible_seconds(col, seconds.astype("float64")):
                    return None
                return pd.to_datetime(pd.Series(seconds, index=values.index), unit="s",
                                      errors="coerce")
        raw = values.astype(TEXT).array.__arrow_array__()
        if hasattr(raw, "combine_chunks"):  # one dictionary for the whole column
            raw = raw.combine_chunks()
        encoded = pc.dictionary_encode(raw)  # the distinct values are parsed, then spread
        uniques = pd.Series(pd.array(pc.utf8_trim_whitespace(encoded.dictionary), dtype=TEXT))
        codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False)  # -1: missing
        blank = np.flatnonzero((uniques == "").to_numpy())
        if len(blank):  # a value of spaces is a missing date, not a bad one
            codes = np.where(np.isin(codes, blank), -1, codes)
            self._present = codes >= 0
            uniques = uniques.where(uniques != "")
        if uniques.isna().all():
            return pd.Series(pd.NaT, index=values.index, dtype="datetime64[us]")
        fmt, utc = date_format, False
        if fmt is None:
            iso = uniques.str.fullmatch(_ISO_RE)
            dmy = uniques.str.match(_DMY_RE)
            if iso.mean() >= 0.5:
                fmt, utc = "ISO8601", True
                timed = uniques.str.contains(r"\d[T ]\d").fillna(False).to_numpy(dtype=bool)
                # only a time carries an offset: the "-15" ending 2024-01-15 is its day
                offset = timed & uniques.str.contains(_OFFSET_RE).fillna(False).to_numpy(
                    dtype=bool)
                if offset.any() and (timed & ~offset).any():  # which clock is the naive one?
                    rows = np.isin(codes, np.flatnonzero(timed & ~offset))
                    self.report(col, "times with a UTC offset (…+02:00, …Z) and times without "
                                "one are mixed: the ones without cannot be placed", rows,
                                "export every time with its offset, or every time in one "
                                "zone without offsets")
                    return None
            elif dmy.mean() >= 0.5:
                fmt = self._dmy_format(col, uniques, codes, dayfirst, values)
                if fmt is None:
                    return None
            else:
                from pandas.tseries.api import guess_datetime_format

                first = uniques.dropna().iloc[0]
                year_first = bool(re.match(r"\d{4}\D", first))  # 2024/01/02: never Y/D/M
                fmt = guess_datetime_format(first, dayfirst=bool(dayfirst) and not year_first)
                if fmt is None:
                    self.report(col, "values are not dates this reader can parse (no format "
                                f"fits {first!r})", values.notna().to_numpy(),
                                "pass date_format (e.g. '%d/%m/%Y'; CLI: --date-format) or "
                                "map the right column")
                    return None
        self._format = fmt
        parsed = pd.to_datetime(uniques, format=fmt, errors="coerce", utc=utc)
        if utc:
            parsed = parsed.dt.tz_localize(None)
        out = parsed.to_numpy(dtype="datetime64[ns]")[np.where(codes < 0, 0, codes)]
        out[codes < 0] = np.datetime64("NaT")
        return pd.Series(out, index=values.index)

    def _dmy_format(self, col: str, uniques: pd.Series, codes: np.ndarray,
                    dayfirst: bool | None, values: pd.Series) -> str | None:
        """The one format of D/M/Y-like dates: the order from the unambiguous values."""
        import pyarrow.compute as pc

        found = pc.extract_regex(uniques.array.__arrow_array__(), _DMY_RE).combine_chunks()
        parts = pd.DataFrame({name: pd.array(found.field(name), dtype=TEXT)
                              for name in ("a", "s", "b", "y", "t", "sec")})
        parts = parts.replace("", np.nan)
        a = pd.to_numeric(parts["a"], errors="coerce")
        b = pd.to_numeric(parts["b"], errors="coerce")
        day_first, month_first = (a > 12).to_numpy(), (b > 12).to_numpy()
        if dayfirst is None:
            if day_first.any() and month_first.any():
                rows_day = np.isin(codes, np.flatnonzero(day_first))
                rows_month = np.isin(codes, np.flatnonzero(month_first))
                self.report(col, "this column mixes day-first dates (first number above 12: "
                            f"{rows_day.sum():,} rows) and month-first dates (second number "
                            f"above 12: {rows_month.sum():,} rows)", rows_day | rows_month,
                            "export the dates in one order (ideally ISO, 2024-01-31), or "
                            + _DATE_OPTIONS + " and fix the rows of the other order")
                return None
            if not (day_first.any() or month_first.any()):
                self.report(col, "every date is ambiguous between day-first and month-first "
                            f"(e.g. {uniques.dropna().iloc[0]!r})", values.notna().to_numpy(),
                            _DATE_OPTIONS)
                return None
            dayfirst = bool(day_first.any())
        shape = (parts["s"].fillna("") + parts["y"].str.len().astype("string").fillna("")
                 + parts["t"].fillna("") + parts["sec"].notna().map({True: "s", False: ""}))
        common = shape.mode().iloc[0]
        sep, year = common[0], int(common[1])
        fmt = sep.join(["%d", "%m"] if dayfirst else ["%m", "%d"]) + sep + (
            "%Y" if year == 4 else "%y")
        if len(common) > 2:
            fmt += common[2] + "%H:%M" + (":%S" if common.endswith("s") else "")
        return fmt
