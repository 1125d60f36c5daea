"""Reading a user's CSV or Parquet file into text columns, refusing what would be misread.

CSV is read with pyarrow, every column as text (the readers in :mod:`retaillab.data.user` type
them), so a 5-million-line export reads about as fast as a bare ``pd.read_csv(engine="pyarrow")``.
What pandas would silently get wrong is refused with the lines at fault: rows with more or fewer
fields than the header, repeated header names, NUL bytes, text that is not in the encoding.

Line numbers are only needed for error messages, so they are computed only then, by a slow but
exact scan of the file (quoted newlines and blank lines counted): :class:`Lines`.
"""

from __future__ import annotations

import bz2
import codecs
import csv
import difflib
import gzip
import io
import lzma
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd

from retaillab.errors import DataError, ParameterError

__all__ = ["TEXT", "Lines", "read_table"]

#: the dtype of text columns: arrow-backed strings (pandas' own ``str``), NaN for missing
TEXT = pd.StringDtype("pyarrow", na_value=np.nan)
NA_VALUES = ["", "NA", "N/A", "NaN", "nan", "NULL", "null", "None"]
#: text that means "no value" in numbers, dates and numeric features, but not in ids or text:
#: NA is Namibia, NONE may be a stock code (:func:`null_tokens`)
NA_TOKENS = tuple(v for v in NA_VALUES if v)
_CSV_SUFFIXES = {".csv", ".tsv", ".txt", ".gz", ".bz2", ".zip", ".xz"}
_PARQUET_SUFFIXES = {".parquet", ".pq"}
_DELIMITERS = ",;\t|"
BLOCK_SIZE = 1 << 24  # bytes pyarrow parses per thread at a time
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
         (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
         (codecs.BOM_UTF16_BE, "utf-16"))
_ENCODING_FIX = ("pass the file's encoding, e.g. encoding='cp1252' for a Windows or Excel "
                 "export, or 'latin-1' (CLI: --encoding cp1252)")


class Lines:
    """The file line of each row read, computed on first use (only error messages need it)."""

    def __init__(self, compute: Callable[[], np.ndarray] | np.ndarray | None) -> None:
        self._compute = compute
        self._lines: np.ndarray | None = compute if isinstance(compute, np.ndarray) else None

    def array(self) -> np.ndarray | None:
        """One line number per row, or ``None`` when the rows have no lines (Parquet)."""
        if self._lines is None and callable(self._compute):
            self._lines = self._compute()
        return self._lines


def read_table(path: str | Path, *, sep: str | None = None, encoding: str | None = None
               ) -> tuple[pd.DataFrame, Lines]:
    """Read a CSV or Parquet file; CSV columns come back as text (:data:`TEXT`).

    Blank lines (and lines whose every field is empty) are not rows. ``sep=None`` sniffs the
    delimiter among ``, ; tab |``; a one-character ``sep`` is read with pyarrow, a longer one
    (a regex) with pandas' Python engine. ``encoding=None`` follows a UTF-8/16/32 byte-order
    mark, else takes UTF-8 and refuses a file that is not.
    """
    path, encoding = _arguments(path, sep, encoding)
    source = str(path)
    if path.suffix.lower() in _PARQUET_SUFFIXES:
        return _read_parquet(path), Lines(None)
    encoding, delimiter, header = _csv_head(path, sep, encoding)
    if len(delimiter) == 1:
        frame, lines = _read_arrow(path, encoding, delimiter, header)
    else:
        frame, lines = _read_pandas(path, encoding, delimiter)
    if frame.shape[1] == 1:
        other = next((d for d in _DELIMITERS if d != delimiter and d in str(frame.columns[0])),
                     None)
        if other is not None:
            shown = "tab" if other == "\t" else repr(other)
            raise DataError(
                f"every line was read as one column: the file looks separated by {shown}, "
                f"not {delimiter!r}", source=source,
                fix=f"pass sep={other!r} (CLI: --sep {other!r}), or leave sep unset to detect it")
    if frame.empty:
        raise DataError("the file has a header but no rows", source=source,
                        fix="export the data again")
    return frame, lines


def read_header(path: str | Path, *, sep: str | None = None, encoding: str | None = None
                ) -> list[str]:
    """A file's column names, read the way :func:`read_table` reads them (byte-order marks,
    encodings, the delimiter detected), without reading its rows."""
    path, encoding = _arguments(path, sep, encoding)
    if path.suffix.lower() in _PARQUET_SUFFIXES:
        import pyarrow.parquet as pq

        try:
            return list(pq.read_schema(path).names)
        except Exception:  # read_table says what is wrong with it
            return list(_read_parquet(path).columns)
    return [name.strip() for name in _csv_head(path, sep, encoding)[2]]


def _arguments(path: str | Path, sep: str | None, encoding: str | None
               ) -> tuple[Path, str | None]:
    """The checked path, sep and (normalised) encoding name."""
    path = Path(path)
    _check_path(path)
    if sep is not None and (not isinstance(sep, str) or sep == ""):
        raise ParameterError("sep", "a delimiter such as ',' ';' or '\\t' (or None to detect "
                             "it)", sep)
    if encoding is not None:
        try:
            encoding = codecs.lookup(encoding).name
        except (LookupError, TypeError):
            raise ParameterError("encoding", "a Python codec name such as 'utf-8', 'cp1252' "
                                 "or 'latin-1'", encoding) from None
    return path, encoding


def _csv_head(path: Path, sep: str | None, encoding: str | None) -> tuple[str, str, list[str]]:
    """``(encoding, delimiter, header)`` of a delimited file, from its first 64 KiB."""
    source = str(path)
    suffix = path.suffix.lower()
    if suffix not in _CSV_SUFFIXES:
        raise DataError(f"unknown file type {suffix!r}", source=source,
                        fix="use a .csv (or .tsv/.txt, optionally compressed) or .parquet file")
    try:
        with _open_binary(path) as fh:
            head = fh.read(1 << 16)
    except (EOFError, gzip.BadGzipFile, zipfile.BadZipFile, lzma.LZMAError, zlib.error) as exc:
        raise _damaged(path, exc) from None
    except OSError as exc:
        raise _unreadable(path, exc) from None
    if not head.strip():
        raise DataError("the file is empty", source=source,
                        fix="export the data again; the file has no header and no rows")
    encoding = encoding or next((name for bom, name in _BOMS if head.startswith(bom)), "utf-8")
    boms = {"utf-16": (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE),
            "utf-32": (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)}
    if encoding in boms and not head.startswith(boms[encoding]):
        raise DataError(f"{encoding} was given but the file has no byte-order mark, so its "
                        "byte order is unknown", source=source,
                        fix=f"name the byte order: encoding='{encoding}-le' (Windows) or "
                            f"'{encoding}-be'")
    if encoding == "utf-8" and head.startswith(codecs.BOM_UTF8):
        encoding = "utf-8-sig"  # "utf-8" said of a file with a byte-order mark: not a header
    if "\r" in head.decode("latin-1") and "\n" not in head.decode("latin-1"):
        raise DataError("its lines end with a carriage return alone (an old Mac 'CSV "
                        "(Macintosh)' export)", source=source,
                        fix="save it again as 'CSV UTF-8' or 'CSV (Comma delimited)', or "
                            "convert the line endings (e.g. tr '\\r' '\\n')")
    text = _decode_head(path, head, encoding)
    delimiter = sep if sep is not None else _sniff(text)
    if len(delimiter) == 1:
        try:
            header = next(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), [])
        except csv.Error as exc:
            raise DataError(f"its header cannot be read as delimited text ({exc})",
                            source=source, fix="check the delimiter (sep) and the line "
                            "endings") from None
    else:
        header = []
    _check_header(source, header, delimiter)
    return encoding, delimiter, header


def null_tokens(values: pd.Series) -> pd.Series:
    """Text columns with the "no value" words (:data:`NA_TOKENS`, as written) as missing."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not pd.api.types.is_string_dtype(values):
        return values
    text = values.astype(TEXT)
    arr = text.array.__arrow_array__()
    # one hash lookup per value; a word with spaces around it is not taken for "no value"
    # (it fails the number or date check, and says so, rather than being misread)
    hit = pc.fill_null(pc.is_in(arr, value_set=pa.array(NA_TOKENS)), False)
    if not pc.any(hit).as_py():
        return text
    kept = pc.if_else(hit, pa.scalar(None, arr.type), arr)
    return pd.Series(pd.array(kept, dtype=TEXT), index=values.index, name=values.name)


def _check_path(path: Path) -> None:
    if not path.exists():
        near = difflib.get_close_matches(path.name, [p.name for p in path.parent.glob("*")]
                                         if path.parent.is_dir() else [], n=1, cutoff=0.8)
        hint = f"did you mean {str(path.parent / near[0])!r}?" if near else \
            "check the path (it is read relative to the current directory)"
        raise DataError("no such file", source=str(path), fix=hint)
    if path.is_dir():
        raise DataError("this is a folder, not a file", source=str(path),
                        fix="give the path of a .csv or .parquet file inside it")


def _unreadable(path: Path, exc: OSError) -> DataError:
    reason = exc.strerror or str(exc)
    return DataError(f"cannot be read ({reason})", source=str(path),
                     fix="check the file's permissions (e.g. chmod u+r) and that it is not "
                         "locked by another program")


def _damaged(path: Path, exc: BaseException) -> DataError:
    return DataError(f"the compressed file is damaged or cut short ({exc})", source=str(path),
                     fix="download or export it again, or decompress it yourself and pass the "
                         "plain file")


def _open_binary(path: Path) -> IO[bytes]:
    """The file's bytes, decompressed (.gz .bz2 .xz, a .zip of exactly one file)."""
    suffix = path.suffix.lower()
    if suffix == ".gz":
        return gzip.open(path, "rb")
    if suffix == ".bz2":
        return bz2.open(path, "rb")
    if suffix == ".xz":
        return lzma.open(path, "rb")
    if suffix == ".zip":
        archive = zipfile.ZipFile(path)
        members = [m for m in archive.namelist() if not m.endswith("/")]
        if len(members) != 1:
            archive.close()
            raise DataError(
                f"the .zip holds {len(members)} files ({', '.join(map(repr, members[:5]))})",
                source=str(path), fix="unzip it and pass the one file to read")
        return archive.open(members[0])
    return open(path, "rb")  # the caller closes it


def _decode_head(path: Path, head: bytes, encoding: str) -> str:
    cut = head
    for _ in range(4):  # the 64 KiB may end inside a multi-byte character
        try:
            return cut.decode(encoding)
        except UnicodeDecodeError as exc:
            if exc.start < len(cut) - 4:
                raise _not_encoded(path, encoding, head, exc) from None
            cut = cut[:-1]
        except UnicodeError as exc:  # e.g. "utf-16" of a file without a byte-order mark
            raise DataError(f"cannot be read as {encoding}: {exc}", source=str(path),
                            fix="name the byte order: encoding='utf-16-le' (Windows) or "
                                "'utf-16-be'") from None
    return head.decode(encoding, errors="replace")


def _not_encoded(path: Path, encoding: str, data: bytes, exc: UnicodeDecodeError,
                 offset_line: int = 0) -> DataError:
    line = offset_line + data[: exc.start].count(b"\n") + 1
    start = data.rfind(b"\n", 0, exc.start) + 1
    end = data.find(b"\n", exc.start)
    shown = data[start: end if end >= 0 else len(data)][:60]
    name = codecs.lookup(encoding).name
    name = "UTF-8" if name in ("utf-8", "utf-8-sig") else name
    return DataError(f"line {line} is not valid {name} text: {shown!r}", source=str(path),
                     fix=_ENCODING_FIX)


def _sniff(text: str) -> str:
    try:
        return csv.Sniffer().sniff(text, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        return ","


def _check_header(source: str, header: list[str], delimiter: str) -> None:
    if any("\x00" in name for name in header):
        raise DataError("the header holds NUL bytes (\\x00)", source=source,
                        fix="the file is binary or in another encoding: export it again as "
                            "text, or pass encoding= (CLI: --encoding)")
    names = [name.strip() for name in header]
    seen: dict[str, list[int]] = {}
    for i, name in enumerate(names, 1):
        seen.setdefault(name, []).append(i)
    repeated = {name: at for name, at in seen.items() if len(at) > 1}
    if repeated:
        listed = "; ".join(f"{name!r} (columns {', '.join(map(str, at))})"
                           for name, at in repeated.items())
        raise DataError(f"the header repeats column names: {listed}", source=source,
                        fix="rename the repeated columns in the file so each name is used once")


def _read_arrow(path: Path, encoding: str, delimiter: str, header: list[str]
                ) -> tuple[pd.DataFrame, Lines]:
    import pyarrow as pa
    import pyarrow.compute as pc

    source = str(path)
    odd: list[int] = []  # field counts of rows that do not match the header

    def invalid(row) -> str:
        if row.text is not None and row.text.strip() == "":
            return "skip"  # a line of spaces is a blank line
        odd.append(row.actual_columns)
        return "skip"

    arrow_encoding = "utf8" if encoding in ("utf-8", "utf-8-sig") else encoding
    # Blocks are parsed in parallel, split at line ends: right unless a quoted value holds a
    # newline. The first read assumes none; any sign of one (a value with a newline, a parse
    # error, a row of the wrong width) reads the file again the slower, always-right way.
    for newlines in (False, True):
        odd.clear()
        try:
            table = _arrow_table(path, arrow_encoding, delimiter, header, newlines, invalid)
        except pa.ArrowInvalid as exc:
            if not newlines:
                continue
            raise _arrow_error(path, encoding, exc) from None
        if newlines or not (odd or any(_has_byte(column, 10) for column in table.columns)):
            break
    scan = _Scan(path, encoding, delimiter, len(header))
    if odd:
        raise scan.field_count_error()
    empty = None  # a row of empty fields and "no value" words is a blank line (row_lines)
    tokens = pa.array(NA_TOKENS)
    for column in table.columns:
        null = pc.or_kleene(pc.is_null(column), pc.is_in(column, value_set=tokens))
        null = pc.fill_null(null, True)
        empty = null if empty is None else pc.and_(empty, null)
    keep = None
    if empty is not None and pc.any(empty).as_py():
        keep = pc.invert(empty)
        table = table.filter(keep)
    nul = [name for name, column in zip(table.column_names, table.columns, strict=True)
           if _has_byte(column, 0) and pc.any(pc.match_substring(column, "\x00")).as_py()]
    frame = table.to_pandas(types_mapper=lambda t: TEXT if t in (pa.string(), pa.large_string())
                            else None, self_destruct=True)
    frame.columns = [str(c).strip() for c in frame.columns]
    lines = Lines(scan.row_lines)
    if nul:
        frame_nul = np.zeros(len(frame), bool)
        for name in nul:
            frame_nul |= frame[name.strip()].str.contains("\x00", regex=False).fillna(
                False).to_numpy(dtype=bool)
        from retaillab.errors import failing_rows

        raise DataError(f"{int(frame_nul.sum()):,} rows hold NUL bytes (\\x00) in "
                        f"{', '.join(map(repr, nul))}", source=source,
                        rows=failing_rows(frame, frame_nul, [n.strip() for n in nul],
                                          lines.array()),
                        n_bad=int(frame_nul.sum()),
                        fix="the file is partly binary or in another encoding (UTF-16 without "
                            "a byte-order mark?): export it again, or pass encoding= "
                            "(CLI: --encoding)")
    return frame, lines


def _arrow_table(path: Path, encoding: str, delimiter: str, header: list[str], newlines: bool,
                 invalid: Callable):
    """The file as a pyarrow table of text columns (compressed files decompressed)."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    read = pcsv.ReadOptions(encoding=encoding, block_size=BLOCK_SIZE)
    parse = pcsv.ParseOptions(delimiter=delimiter, newlines_in_values=newlines,
                              invalid_row_handler=invalid)
    convert = pcsv.ConvertOptions(column_types={name: pa.string() for name in header},
                                  null_values=[""], strings_can_be_null=True)
    plain = path.suffix.lower() in (".csv", ".tsv", ".txt")
    try:
        with (open(path, "rb") if plain else _open_binary(path)) as fh:
            return pcsv.read_csv(fh, read_options=read, parse_options=parse,
                                 convert_options=convert)
    except (EOFError, gzip.BadGzipFile, zipfile.BadZipFile, lzma.LZMAError, zlib.error) as exc:
        raise _damaged(path, exc) from None
    except OSError as exc:
        raise _unreadable(path, exc) from None
    except UnicodeDecodeError:
        raise _find_bad_encoding(path, encoding) from None
    except pa.ArrowInvalid as exc:
        message = str(exc).lower()
        if "utf8" in message or "utf-8" in message or "decode" in message:
            raise _find_bad_encoding(path, encoding) from None
        if not plain and ("compress" in message or "gzip" in message):
            raise _damaged(path, exc) from None
        raise


def _arrow_error(path: Path, encoding: str, exc: Exception) -> DataError:
    return DataError(f"cannot be parsed as delimited text: {exc}", source=str(path),
                     fix="check the delimiter (sep) and the quoting")


def _has_byte(column, byte: int) -> bool:
    """Whether a text column's bytes hold ``byte``: one vectorised pass over its buffers."""
    for chunk in column.chunks:
        data = chunk.buffers()[2]
        if data is not None and data.size and (np.frombuffer(data, np.uint8) == byte).any():
            return True
    return False


def _read_pandas(path: Path, encoding: str, delimiter: str) -> tuple[pd.DataFrame, Lines]:
    """A multi-character (regex) delimiter: pandas' Python engine, which pyarrow cannot."""
    try:
        frame = pd.read_csv(path, sep=delimiter, engine="python", dtype=str,
                            keep_default_na=False, na_values=[""],
                            skip_blank_lines=False, encoding=encoding)
    except pd.errors.EmptyDataError:
        raise DataError("the file is empty", source=str(path),
                        fix="export the data again; the file has no header and no rows") from None
    except UnicodeDecodeError:
        raise _find_bad_encoding(path, encoding) from None
    except pd.errors.ParserError as exc:
        raise DataError(f"cannot be parsed as delimited text: {exc}", source=str(path),
                        fix="check the delimiter (sep) and the quoting") from None
    filled = (frame.notna() & ~frame.isin(NA_TOKENS)).any(axis=1).to_numpy()
    frame = frame[filled].reset_index(drop=True).astype(TEXT)
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame, Lines(np.flatnonzero(filled) + 2)


def _find_bad_encoding(path: Path, encoding: str) -> DataError:
    """Scan the file for the first line that is not in ``encoding`` (only once it failed)."""
    decoder = codecs.getincrementaldecoder(encoding)()
    line = 0
    with _open_binary(path) as fh:
        while chunk := fh.read(1 << 20):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                return _not_encoded(path, encoding, chunk, exc, line)
            line += chunk.count(b"\n")
    return DataError("the file is not valid text in its encoding", source=str(path),
                     fix=_ENCODING_FIX)


class _Scan:
    """An exact, slow pass over the records of a CSV file: line numbers for messages."""

    def __init__(self, path: Path, encoding: str, delimiter: str, width: int) -> None:
        self.path, self.encoding, self.delimiter, self.width = path, encoding, delimiter, width

    def records(self) -> Iterator[tuple[int, list[str]]]:
        """``(first line, fields)`` of each record after the header, blank ones included."""
        with _open_binary(self.path) as raw, io.TextIOWrapper(
                raw, encoding=self.encoding, newline="", errors="replace") as fh:
            reader = csv.reader(fh, delimiter=self.delimiter)
            next(reader, None)
            end = reader.line_num
            for fields in reader:
                yield end + 1, fields
                end = reader.line_num

    def row_lines(self) -> np.ndarray:
        """The line of each row as read: blank records and odd-width ones are not rows."""
        na = set(NA_VALUES)
        return np.array([line for line, fields in self.records()
                         if len(fields) == self.width
                         and not all(f in na for f in fields)], dtype=np.int64)

    def field_count_error(self) -> DataError:
        """One error listing the lines with more fields than the header, and with fewer."""
        more: list[tuple[int, int, str]] = []
        fewer: list[tuple[int, int, str]] = []
        n_more = n_fewer = 0
        for line, fields in self.records():
            if len(fields) == self.width or not "".join(fields).strip():
                continue
            row = (line, len(fields), self.delimiter.join(fields))
            if len(fields) > self.width:
                n_more += 1
                if len(more) < 5:
                    more.append(row)
            else:
                n_fewer += 1
                if len(fewer) < 5:
                    fewer.append(row)
        sep = "tab" if self.delimiter == "\t" else repr(self.delimiter)
        problems = []
        if n_more:
            problems.append(DataError(
                f"{n_more:,} lines have more fields than the header's {self.width} (pandas "
                "would shift them into the wrong columns)", source=str(self.path),
                rows=_field_rows(more), n_bad=n_more,
                fix=f"quote the values that contain the delimiter {sep}, remove the extra "
                    "fields, or pass the right sep (CLI: --sep)"))
        if n_fewer:
            problems.append(DataError(
                f"{n_fewer:,} lines have fewer fields than the header's {self.width}",
                source=str(self.path), rows=_field_rows(fewer), n_bad=n_fewer,
                fix=f"give every line {self.width} fields ({self.width - 1} delimiters), "
                    "leaving the missing values empty"))
        if not problems:
            return DataError("some lines do not have as many fields as the header",
                             source=str(self.path), fix="check the quoting of the file")
        return DataError.of(problems)


def _field_rows(rows: list[tuple[int, int, str]]) -> pd.DataFrame:
    return pd.DataFrame({"fields": [n for _, n, _ in rows], "text": [t for _, _, t in rows]},
                        index=pd.Index([line for line, _, _ in rows], name="line"))


def _nested_columns(path: Path) -> list[str]:
    """Columns of list, struct or map type (from the schema: no value is looked at)."""
    import pyarrow.parquet as pq
    import pyarrow.types as pt

    try:
        schema = pq.ParquetDataset(path).schema if path.is_dir() else pq.read_schema(path)
    except Exception:  # read_parquet already read it; a schema it cannot give is no news
        return []
    return [f.name for f in schema if pt.is_nested(f.type)]


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        frame = pd.read_parquet(path)
    except OSError as exc:
        if isinstance(exc, PermissionError):
            raise _unreadable(path, exc) from None
        raise DataError(f"cannot be read as Parquet ({exc})", source=str(path),
                        fix="check that the file is a complete Parquet file") from None
    except Exception as exc:  # pyarrow raises many types for a bad file
        raise DataError(f"cannot be read as Parquet ({exc})", source=str(path),
                        fix="check that the file is a complete Parquet file") from None
    if frame.empty:
        raise DataError("the file has no rows", source=str(path), fix="export the data again")
    if any(name is not None for name in frame.index.names):  # df.set_index(...).to_parquet()
        frame = frame.reset_index()
    nested = _nested_columns(path)
    if nested:
        raise DataError(f"columns hold lists or records, not single values: "
                        f"{', '.join(map(repr, nested))}", source=str(path),
                        fix="flatten or drop those columns before loading")
    names = [str(c) for c in frame.columns]
    if len(set(names)) < len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise DataError(f"the file repeats column names: {', '.join(map(repr, twice))}",
                        source=str(path), fix="rename the repeated columns before loading")
    return frame
