"""Column coercion and checks shared by the user-data readers.

Each helper either returns a clean column or raises one :class:`DataError` that names the
source, the column, up to five failing rows and the fix. ``rows_of`` keeps a failing row's
position in the source (a CSV line number where there is one), so users can find it.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from retaillab.errors import DataError, failing_rows

_INT_RE = re.compile(r"^[+-]?\d+$")
_SAFE_INT_RE = re.compile(r"^-?(0|[1-9]\d{0,17})$")  # fits int64, no leading zero to lose
_EARLIEST, _LATEST = pd.Timestamp("1970-01-01"), pd.Timestamp("2100-01-01")


class Checker:
    """Runs the checks of one table, remembering where it came from."""

    def __init__(self, frame: pd.DataFrame, source: str, names: dict[str, str],
                 lines: np.ndarray | None) -> None:
        self.frame = frame
        self.source = source
        self.names = names  # canonical -> the user's own column name, for messages
        self.lines = lines  # the file line of each row (CSV), else None

    def fail(self, col: str | None, what: str, mask: np.ndarray | pd.Series, fix: str,
             show: list[str]) -> DataError:
        mask = np.asarray(mask, dtype=bool)
        theirs = self.names.get(col, col) if col is not None else None
        if theirs is not None and theirs != col:
            what = f"{what} (your column {theirs!r})"
        return DataError(what, source=self.source, column=col,
                         rows=failing_rows(self.frame, mask, show, self.lines),
                         n_bad=int(mask.sum()), fix=fix)

    def ids(self, col: str, id_type: str) -> pd.Series:
        """Non-missing ids of one kind: all integers, or all text (``id_type`` decides)."""
        values = self.frame[col]
        missing = values.isna().to_numpy()
        if values.dtype.kind in "OUT" or pd.api.types.is_string_dtype(values):
            blank = values.astype("string").str.strip().eq("").fillna(True).to_numpy(dtype=bool)
            missing = missing | blank
        if missing.any():
            raise self.fail(col, f"{missing.sum():,} rows have no id", missing,
                            "fill in or drop the rows without an id, then load again", [col])
        if values.dtype.kind in "iu":
            return values.astype("int64") if id_type != "str" else values.astype("string")
        if values.dtype.kind == "f":
            whole = np.isclose(values, np.round(values))
            if not whole.all():
                raise self.fail(col, "ids must be whole numbers or text; found fractions",
                                ~whole, "check that the right column is mapped to this id", [col])
            return values.astype("int64") if id_type != "str" else values.astype(
                "int64").astype("string")
        if values.dtype.kind == "O" and id_type == "auto":
            kinds = values.map(lambda v: "number" if isinstance(v, (int, np.integer)) else
                               "text" if isinstance(v, str) else type(v).__name__)
            if kinds.nunique() > 1:
                first = kinds.iloc[0]
                raise self.fail(col, "ids mix Python types (" + ", ".join(
                    sorted(kinds.unique())) + "), so 7 and '7' would be two different ids",
                    (kinds != first).to_numpy(),
                    "convert the column to one type, e.g. df[col].astype(str)", [col])
        text = values.astype("string").str.strip()
        if id_type == "str":
            return text
        is_int = text.str.fullmatch(_INT_RE.pattern).to_numpy(dtype=bool)
        safe = text.str.fullmatch(_SAFE_INT_RE.pattern).to_numpy(dtype=bool)
        if id_type == "int" and not safe.all():
            raise self.fail(col, "ids are not all integers that fit 64 bits without a leading "
                            "zero", ~safe, "pass id_type='str' to keep ids as text", [col])
        if safe.all():
            return pd.to_numeric(text).astype("int64")
        if is_int.all():  # leading zeros ("007" is not "7") or too long for int64: keep text
            return text
        if is_int.any() and id_type == "auto":
            minority = ~is_int if is_int.sum() >= (~is_int).sum() else is_int
            raise self.fail(
                col, f"ids mix numbers ({is_int.sum():,} rows) and text ({(~is_int).sum():,} "
                "rows), which usually means a corrupted export", minority,
                "clean the odd ids, or pass id_type='str' (CLI: --id-type str) if text ids "
                "are meant", [col])
        return text

    def numbers(self, col: str, *, integer: bool = False) -> pd.Series:
        """A numeric column; text that is not a number is an error, not a silent NaN."""
        values = self.frame[col]
        if values.dtype.kind == "b":
            raise self.fail(col, "expected numbers, got true/false values",
                            np.ones(len(values), bool), "map the right column here", [col])
        parsed = pd.to_numeric(values, errors="coerce") if values.dtype.kind not in "iuf" \
            else values
        bad = (parsed.isna() & values.notna()).to_numpy()
        if bad.any():
            raise self.fail(col, f"expected numbers; {bad.sum():,} values are not numbers",
                            bad, "use '.' as the decimal point and no currency signs or "
                            "thousands separators in this column", [col])
        missing = parsed.isna().to_numpy()
        if missing.any():
            raise self.fail(col, f"{missing.sum():,} rows have no value", missing,
                            "fill in or drop those rows", [col])
        parsed = parsed.astype("float64")
        infinite = np.isinf(parsed.to_numpy())
        if infinite.any():
            raise self.fail(col, f"{infinite.sum():,} values are infinite", infinite,
                            "replace them with real values or drop those rows", [col])
        if integer:
            whole = np.isclose(parsed, np.round(parsed))
            if not whole.all():
                raise self.fail(col, "expected whole numbers", ~whole,
                                "round the values or map the right column", [col])
            return parsed.round().astype("int64")
        return parsed

    def dates(self, col: str, date_format: str | None, *, unix: bool) -> pd.Series:
        """A datetime column. Numbers are read as Unix seconds when ``unix`` is set."""
        values = self.frame[col]
        if pd.api.types.is_datetime64_any_dtype(values):
            parsed = values.dt.tz_convert("UTC").dt.tz_localize(None) \
                if values.dt.tz is not None else values
        elif values.dtype.kind in "iuf":
            if not unix:
                raise self.fail(col, "expected dates, got numbers", values.notna().to_numpy(),
                                "map a date column here (text like 2024-03-01)", [col])
            parsed = pd.to_datetime(values, unit="s", errors="coerce")
        else:
            text = values.astype("string").str.strip()
            if unix and date_format is None and text.str.fullmatch(_INT_RE.pattern).all():
                parsed = pd.to_datetime(pd.to_numeric(text), unit="s", errors="coerce")
            else:  # offsets are converted to UTC; times without one are taken as UTC
                parsed = pd.to_datetime(text, format=date_format or "mixed", errors="coerce",
                                        utc=True).dt.tz_localize(None)
        bad = (parsed.isna() & values.notna()).to_numpy()
        if bad.any():
            raise self.fail(col, f"{bad.sum():,} values are not dates this reader can parse",
                            bad, "pass date_format (e.g. '%d/%m/%Y'; CLI: --date-format) or "
                            "fix these values", [col])
        missing = parsed.isna().to_numpy()
        if missing.any():
            raise self.fail(col, f"{missing.sum():,} rows have no date", missing,
                            "fill in or drop those rows", [col])
        parsed = parsed.astype("datetime64[us]")
        odd = ((parsed < _EARLIEST) | (parsed >= _LATEST)).to_numpy()
        if odd.any():
            raise self.fail(col, f"{odd.sum():,} dates fall outside 1970-2100", odd,
                            "Unix times must be in seconds (divide milliseconds by 1000), and "
                            "dates need four-digit years", [col])
        return parsed
