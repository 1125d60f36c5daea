"""Input checks shared by the metric modules.

Each helper either returns clean input or raises one error that names the input, what was
expected, what was found and what to do, so a user never reads a traceback from inside pandas.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from retaillab.data.schema import COLUMNS as C
from retaillab.errors import DataError, ParameterError, failing_rows

RANK = "rank"


def require(frame: object, source: str, columns: list[str], fix: str | None = None) -> None:
    """Raise unless ``frame`` is a DataFrame holding ``columns``."""
    if not isinstance(frame, pd.DataFrame):
        raise ParameterError(source, "a DataFrame with columns " + ", ".join(columns),
                             type(frame).__name__)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        have = ", ".join(map(str, frame.columns)) or "no columns"
        raise DataError(f"no column {missing[0]!r}; it has {have}", source=source,
                        column=missing[0], fix=fix or "pass a table with columns "
                        + ", ".join(columns))


def check_k(k: object) -> int:
    """``k`` as an int, or :class:`ParameterError` unless it is a positive integer."""
    if not isinstance(k, (int, np.integer)) or isinstance(k, (bool, np.bool_)) or k < 1:
        raise ParameterError("k", "a positive integer", k)
    return int(k)


def values_array(values: object, name: str, min_size: int = 1) -> np.ndarray:
    """A 1-D float array of finite values, or :class:`DataError` saying what is wrong."""
    if isinstance(values, (pd.DataFrame, str, bytes, dict)):
        raise ParameterError(name, "a 1-D array or Series of numbers", type(values).__name__)
    array = np.asarray(values)
    if array.ndim != 1:
        raise DataError(f"expected a 1-D array of numbers; got shape {array.shape}",
                        source=name, fix="pass one value per row (e.g. a Series)")
    if array.size and not (np.issubdtype(array.dtype, np.number)
                           or np.issubdtype(array.dtype, np.bool_)):
        try:
            array = array.astype(np.float64)
        except (TypeError, ValueError):
            raise DataError(f"expected numbers; got values of dtype {array.dtype}",
                            source=name, fix="convert the values to numbers") from None
    array = array.astype(np.float64)
    bad = ~np.isfinite(array)
    if bad.any():
        raise DataError(f"{int(bad.sum()):,} of {array.size:,} values are missing or "
                        f"infinite (first at position {int(np.flatnonzero(bad)[0])})",
                        source=name, fix="drop or fill them first (e.g. values.dropna())")
    if array.size < min_size:
        raise DataError(f"needs at least {min_size} value{'s' * (min_size > 1)}; "
                        f"got {array.size}", source=name)
    return array


def check_same_ids(left: pd.DataFrame, right: pd.DataFrame, sources: tuple[str, str],
                   columns: tuple[str, ...] = (C.user, C.item)) -> None:
    """Raise when an id column is numeric in one table and text in the other (no match)."""
    if not (len(left) and len(right)):
        return
    for col in columns:
        numeric = [pd.api.types.is_numeric_dtype(t[col]) for t in (left, right)]
        text = [pd.api.types.is_string_dtype(t[col]) for t in (left, right)]
        if (numeric[0] and text[1]) or (text[0] and numeric[1]):
            raise DataError(f"{sources[0]} holds {left[col].dtype} ids but {sources[1]} holds "
                            f"{right[col].dtype} ids, so no id could ever match", column=col,
                            fix=f"convert both {col!r} columns to one type, e.g. .astype(str)")


def dense_codes(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Codes ``0..n-1`` and the sorted distinct values, as :func:`pandas.factorize` (sorted).

    Integer ids in a compact range (the usual case) are coded by offset, without hashing,
    several times faster on millions of rows.
    """
    array = values.to_numpy()
    if array.dtype.kind in "iu" and len(array):
        low, high = int(array.min()), int(array.max())
        if high - low <= max(4 * len(array), 1 << 20):
            offset = (array - low).astype(np.intp)
            present = np.zeros(high - low + 1, dtype=bool)
            present[offset] = True
            remap = np.cumsum(present) - 1
            return remap[offset], pd.Index(np.flatnonzero(present) + low, dtype=array.dtype)
    return pd.factorize(values, sort=True)


def pair_keys(first: pd.Series, second: pd.Series) -> np.ndarray:
    """One int64 per row that is equal exactly when both columns are (dense codes)."""
    a, _ = dense_codes(first)
    b, b_uniques = dense_codes(second)
    return a.astype(np.int64) * max(len(b_uniques), 1) + b


def has_repeats(keys: np.ndarray) -> bool:
    """Whether any value of ``keys`` occurs twice (sort-based: fast on int64)."""
    ordered = np.sort(keys)
    return bool(len(ordered) > 1 and (ordered[1:] == ordered[:-1]).any())


def unique_pairs(frame: pd.DataFrame, source: str, columns: list[str]) -> None:
    """Raise :class:`DataError` when ``columns`` repeat a combination of values."""
    if not has_repeats(pair_keys(frame[columns[0]], frame[columns[1]])):
        return
    dup = frame.duplicated(columns, keep=False).to_numpy()
    if dup.any():
        raise DataError(f"{int(dup.sum()):,} rows repeat a ({', '.join(columns)}) pair",
                        source=source, rows=failing_rows(frame, dup, [C.user, C.item, RANK]),
                        n_bad=int(dup.sum()), fix="keep one row per pair (drop_duplicates)")


def top_k(recs: object, k: int, source: str = "recs") -> pd.DataFrame:
    """The user, item, rank rows of ``recs`` with ``rank <= k``, checked.

    Ranks must be whole numbers >= 1; a user may not have two items at one rank, nor one item
    twice.
    """
    require(recs, source, [C.user, C.item, RANK],
            fix="pass the output of Recommender.recommend (user, item, score, rank, fallback)")
    rank = recs[RANK]
    if not pd.api.types.is_numeric_dtype(rank) or pd.api.types.is_bool_dtype(rank):
        raise DataError(f"ranks must be numbers; got dtype {rank.dtype}", source=source,
                        column=RANK, fix="give each user's items ranks 1, 2, ...")
    values = rank.to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~(np.isfinite(values) & (values >= 1) & (values == np.round(values)))
    if bad.any():
        raise DataError("ranks must be whole numbers >= 1", source=source, column=RANK,
                        rows=failing_rows(recs, bad, [C.user, C.item, RANK]),
                        n_bad=int(bad.sum()), fix="give each user's items ranks 1, 2, ...")
    keep = values <= k
    out = recs.loc[keep, [C.user, C.item, RANK]]
    users, _ = dense_codes(out[C.user])
    items, item_ids = dense_codes(out[C.item])
    by_rank = np.bincount(users.astype(np.int64) * k + values[keep].astype(np.int64) - 1)
    if len(by_rank) and by_rank.max() > 1:
        unique_pairs(out, source, [C.user, RANK])
    if has_repeats(users.astype(np.int64) * max(len(item_ids), 1) + items):
        unique_pairs(out, source, [C.user, C.item])
    return out


def group_starts(codes: np.ndarray) -> np.ndarray:
    """Positions where a run of equal values starts in the sorted array ``codes``."""
    if not len(codes):
        return np.zeros(0, dtype=np.intp)
    return np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
