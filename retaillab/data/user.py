"""Reading the user's own interactions, transactions and customer tables (CSV or Parquet).

Files are read by :mod:`retaillab.data.reading` (every CSV column as text, with pyarrow), mapped
onto the canonical tables (:mod:`retaillab.data.schema`) with a ``columns={canonical: theirs}``
dict, coerced and checked. All the problems of a file are found in one pass and raised as one
:class:`~retaillab.errors.DataError` naming the file, each column, up to five failing rows (by
line number for CSV) and the fix. The reader builds a new frame and returns it only when every
check passed, so nothing is ever half-loaded; a :class:`~retaillab.data.quality.Quality`, if
given, counts what was read and dropped.

The checks are written here rather than as a pandera schema (DESIGN's first choice): they run
on pyarrow's text buffers before any column is typed, each needs its own fix and the file's
line numbers, and a 5-million-line export must read in seconds (the earlier reader, object
columns checked by per-value regexes and a pandera schema, took 58 s for 5.6 M lines).

Example
-------
>>> orders = read_transactions("orders.csv",                      # doctest: +SKIP
...     columns={"customer": "cust_id", "date": "order_date", "amount": "total"})
"""

from __future__ import annotations

import difflib
import re
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from retaillab.data._checks import _COMMA_RE, Checker, check_date_format
from retaillab.data.quality import Quality
from retaillab.data.reading import TEXT, Lines, null_tokens, read_table
from retaillab.data.schema import COLUMNS as C
from retaillab.data.schema import FEATURE_TABLES, TABLES
from retaillab.errors import DataError, ParameterError, check_choice

__all__ = [
    "read_customers",
    "read_events",
    "read_interactions",
    "read_items",
    "read_table",
    "read_transactions",
]

IdType = Literal["auto", "int", "str"]
_ALIASES = {"transactions": {"timestamp": C.date}}  # DESIGN's example maps "timestamp"
_TRUE = {"1", "true", "yes", "y", "t"}
_FALSE = {"0", "false", "no", "n", "f"}
_PRICE_LIKE = re.compile(r"^(unit[ _]?)?price$|^price[ _]?(each|per[ _]?unit)$", re.I)
_QUANTITY_LIKE = re.compile(r"^(qty|quantity|units?)$", re.I)


def _mapped(frame: pd.DataFrame, kind: str, columns: dict[str, str] | None, source: str,
            required: tuple[str, ...] | None = None) -> tuple[pd.DataFrame, dict[str, str]]:
    """Rename the user's columns to canonical names; every missing one is in one error."""
    default_required, optional = TABLES[kind]
    required = default_required if required is None else required
    known = tuple(dict.fromkeys((*default_required, *optional)))
    if columns is not None and not isinstance(columns, dict):
        raise ParameterError("columns", "a dict {canonical: your column}", columns)
    mapping: dict[str, str] = {}
    for key, theirs in (columns or {}).items():
        key = _ALIASES.get(kind, {}).get(key, key)
        if kind not in FEATURE_TABLES and key not in known:
            raise ParameterError(f"columns key {key!r}", "one of " + ", ".join(known), key)
        if not isinstance(theirs, str) or not theirs:
            raise ParameterError(f"columns[{key!r}]", "the name of one of your columns", theirs)
        mapping[key] = theirs
    twice = {theirs for theirs in mapping.values() if list(mapping.values()).count(theirs) > 1}
    if twice:
        name = sorted(twice)[0]
        keys = [k for k, v in mapping.items() if v == name]
        raise ParameterError("columns", f"one canonical name per column; {name!r} is mapped to "
                             f"{' and '.join(map(repr, keys))}", columns)
    present = [str(c) for c in frame.columns]
    asked = set(mapping)  # every column the user named must exist, optional or not
    if (kind == "transactions" and C.date not in mapping and C.date not in present
            and C.timestamp in present):
        mapping[C.date] = C.timestamp  # a file whose date column is called timestamp
    for col in known if kind not in FEATURE_TABLES else required:
        mapping.setdefault(col, col)
    wanted = [*required, *(c for c in mapping if c in asked and c not in required)]
    missing = [col for col in wanted if mapping[col] not in present]
    if missing:
        listed = ", ".join(f"{mapping[col]!r} for {col!r}" for col in missing)
        hints = [h for h in (_hint(col, mapping[col], present, mapping) for col in missing) if h]
        flag = ",".join(f"{col}=<your column>" for col in missing)
        raise DataError(
            f"no column {listed}; the columns are {', '.join(map(repr, present))}",
            source=source, column=missing[0],
            fix=" ".join(hints) + (" " if hints else "") + "pass columns={" + ", ".join(
                f"{col!r}: '<your column>'" for col in missing) + f"}} (CLI: --columns {flag})")
    renames = {theirs: col for col, theirs in mapping.items() if theirs in present}
    clash = [c for c in renames.values() if c in present and c not in renames]
    if clash:
        raise DataError(f"column {clash[0]!r} exists and another column is mapped onto it",
                        source=source, column=clash[0],
                        fix="rename or drop one of the two before loading")
    return frame.rename(columns=renames), {c: mapping[c] for c in renames.values()}


def _hint(col: str, theirs: str, present: list[str], mapping: dict[str, str]) -> str:
    """A plausible column for ``col``: a near spelling, or quantity x price for amounts."""
    if col == C.amount:
        mapped = mapping.get(C.quantity) in present  # already found: not to be repeated
        qty = mapping.get(C.quantity) if mapped else next(
            (c for c in present if _QUANTITY_LIKE.match(c)), None)
        price = next((c for c in present if _PRICE_LIKE.match(c)), None)
        if qty and price:
            cols = {**({C.quantity: qty} if qty != C.quantity and not mapped else {}),
                    **({C.price: price} if price != C.price else {})}
            return (f"the file has quantities ({qty!r}) and unit prices ({price!r}): pass "
                    f"amount='quantity*price' with columns={cols} (CLI: --amount "
                    "quantity*price); or")
    lower = {c.lower(): c for c in present}
    near = difflib.get_close_matches(theirs.lower(), list(lower), n=1, cutoff=0.8)
    return f"is it {lower[near[0]]!r}? or" if near else ""


def _start(data: pd.DataFrame | str | Path, kind: str, columns: dict[str, str] | None,
           sep: str | None, source: str | None, id_type: str, encoding: str | None,
           quality: Quality | None, required: tuple[str, ...] | None = None,
           decimal: str = ".") -> tuple[pd.DataFrame, Checker]:
    """Read (or take) the table, map its columns and start its checks; fill ``quality``."""
    check_choice("id_type", id_type, ("auto", "int", "str"))
    check_choice("decimal", decimal, (".", ","))
    csv_text = False  # CSV text: words like NA are "no value" outside ids (below)
    if isinstance(data, pd.DataFrame):
        raw, lines, source = data, Lines(None), source or f"{kind} DataFrame"
        if raw.empty:
            raise DataError("the table has no rows", source=source, fix="pass a non-empty table")
    else:
        raw, lines = read_table(data, sep=sep, encoding=encoding)
        source = source or str(data)
        csv_text = Path(data).suffix.lower() not in (".parquet", ".pq")
    if quality is not None:
        quality.source = quality.source or source
        quality.kind = quality.kind or kind
        quality.rows_read = len(raw)
    frame, names = _mapped(raw.reset_index(drop=True), kind, columns, source, required)
    extras = None
    if kind not in FEATURE_TABLES:  # other columns are only carried: taken once, at the end
        required_, optional = TABLES[kind]
        canonical = [c for c in frame.columns if c in (*required_, *optional)]
        extras = frame[[c for c in frame.columns if c not in canonical]]
        frame = frame[canonical]
        if csv_text:  # numbers, dates, event names: NA, NULL... are missing; ids keep them
            frame = frame.assign(**{c: null_tokens(frame[c]) for c in frame.columns
                                    if c not in _ID_COLUMNS})
    chk = Checker(frame, source, names, lines)
    chk.extras = extras
    chk.decimal = decimal
    return frame, chk


def _with_extras(chk: Checker, frame: pd.DataFrame) -> pd.DataFrame:
    """The canonical frame with the file's other columns, for the rows it kept."""
    extras = chk.extras
    if extras is None or extras.shape[1] == 0:
        return frame
    if chk.positions is not None:
        extras = extras.take(chk.positions)
    return pd.concat([frame.reset_index(drop=True), extras.reset_index(drop=True)], axis=1)


def _check_common(missing_ids: str, dayfirst: bool | None, date_format: str | None) -> None:
    check_choice("missing_ids", missing_ids, ("error", "drop"))
    check_choice("dayfirst", dayfirst, (None, True, False))
    check_date_format(date_format)


def _value_check(chk: Checker, frame: pd.DataFrame, col: str, bad: np.ndarray, what: str,
                 fix: str) -> None:
    if bad.any():
        chk.problems.append(chk.fail(col, f"{bad.sum():,} {what}", bad, fix, [col], frame))


def _duplicates(chk: Checker, frame: pd.DataFrame, key: list[str], mode: str, what: str,
                fix: str, quality: Quality | None) -> pd.DataFrame:
    """Repeated rows (on ``key``): an error (``mode="error"``), dropped, or kept."""
    if mode in ("error", "drop", "first", "last"):
        repeat = frame.duplicated(key, keep="last" if mode == "last" else "first").to_numpy()
        if mode == "error":
            if repeat.any():
                chk.problems.append(chk.fail(None, f"{repeat.sum():,} {what}", repeat, fix,
                                             list(frame.columns), frame))
            return frame
        if quality is not None:
            quality.drop("duplicates", int(repeat.sum()))
        if repeat.any():
            current = np.arange(len(frame)) if chk.positions is None else chk.positions
            chk.positions = current[~repeat]
            chk.frame = frame = frame[~repeat].reset_index(drop=True)
    return frame


def read_interactions(
    data: pd.DataFrame | str | Path, *, columns: dict[str, str] | None = None,
    sep: str | None = None, rating_scale: tuple[float, float] | None = None,
    id_type: IdType = "auto", duplicates: str = "error", date_format: str | None = None,
    dayfirst: bool | None = None, encoding: str | None = None, decimal: str = ".",
    missing_ids: str = "error", source: str | None = None, quality: Quality | None = None,
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
        ``"auto"`` (integers if every id is one, else all text: ``85123A`` is a code),
        ``"int"`` or ``"str"``.
    duplicates
        A repeated (user, item[, timestamp]) is an ``"error"``, or keep its ``"first"`` or
        ``"last"`` row.
    date_format
        strftime format of text timestamps; numbers are read as Unix seconds.
    dayfirst
        For dates like 05/01/2020: ``True`` (5 January), ``False`` (May 1). ``None`` takes the
        order the unambiguous dates show, and refuses a column where none is.
    encoding
        The file's text encoding, e.g. ``"cp1252"``; ``None``: UTF-8 or what its byte-order
        mark says.
    decimal
        The decimal mark of numbers written as text: ``"."``, or ``","`` for exports written
        ``1.234,50`` (then ``.`` may only group thousands: ``12.5`` is refused, not read as 125).
    missing_ids
        Rows without an id are an ``"error"``, or ``"drop"`` them (counted in ``quality``).
    quality
        Filled with the counts of what was read and dropped (:class:`Quality`).

    Returns
    -------
    A new DataFrame with canonical columns first, then the file's other columns.
    """
    check_choice("duplicates", duplicates, ("error", "first", "last"))
    _check_common(missing_ids, dayfirst, date_format)
    frame, chk = _start(data, "interactions", columns, sep, source, id_type, encoding, quality,
                        decimal=decimal)
    chk.missing_ids([C.user, C.item], missing_ids, quality)
    out = {C.user: chk.ids(C.user, id_type), C.item: chk.ids(C.item, id_type)}
    if C.rating in chk.frame.columns:
        out[C.rating] = chk.numbers(C.rating)
    if C.timestamp in chk.frame.columns:
        out[C.timestamp] = chk.dates(C.timestamp, date_format, unix=True, dayfirst=dayfirst)
    chk.raise_problems()
    frame = chk.coerced(out)
    if rating_scale is not None and C.rating in frame.columns:
        try:
            lo, hi = (float(x) for x in rating_scale)
        except (TypeError, ValueError):
            raise ParameterError("rating_scale", "(low, high) numbers", rating_scale) from None
        _value_check(chk, frame, C.rating, ~frame[C.rating].between(lo, hi).to_numpy(),
                     f"ratings are outside the scale {lo:g} to {hi:g}",
                     "check that the rating column is mapped, or pass the scale your data "
                     "uses (CLI: --rating-scale LOW,HIGH)")
    frame = _with_extras(chk, frame)
    key = [C.user, C.item] + ([C.timestamp] if C.timestamp in frame.columns else [])
    frame = _duplicates(chk, frame, key, duplicates,
                        f"rows repeat a ({', '.join(key)}) seen earlier",
                        "drop the repeats, or pass duplicates='first' or 'last' "
                        "(CLI: --duplicates last)", quality)
    chk.raise_problems()
    return _done(_order(frame, "interactions"), quality)


def read_transactions(
    data: pd.DataFrame | str | Path, *, columns: dict[str, str] | None = None,
    sep: str | None = None, id_type: IdType = "auto", duplicates: str = "keep",
    date_format: str | None = None, dayfirst: bool | None = None, encoding: str | None = None,
    decimal: str = ".", missing_ids: str = "error", amount: str = "column", returns: str = "error",
    cancelled: str | None = None, source: str | None = None, quality: Quality | None = None,
) -> pd.DataFrame:
    """Check and coerce a transactions table: customer, date, amount, quantity?, price?,
    item?, order?.

    Amounts must be non-negative (refunds are not purchases) and quantities at least 1, unless
    ``returns`` says what to do with return lines. Identical rows are kept by default (two equal
    purchases on one day happen: CDNOW has 255); ``duplicates="error"`` or ``"drop"`` changes
    that. ``columns`` may say ``"timestamp"`` for ``"date"``, and a file whose date column is
    called ``timestamp`` is read as such.

    ``amount="quantity*price"`` computes the amount of each line from ``quantity`` and
    ``price`` (then required); ``returns="drop"`` or ``"net"`` removes return lines or nets them
    against the purchases they undo, and ``cancelled="C"`` marks the orders whose id starts with
    it as cancellations (:func:`retaillab.data.prepare.prepare_transactions`, which counts into
    ``quality``). Other parameters as in :func:`read_interactions`.
    """
    check_choice("duplicates", duplicates, ("keep", "error", "drop"))
    check_choice("amount", amount, ("column", "quantity*price"))
    check_choice("returns", returns, ("error", "drop", "net"))
    if cancelled is not None and (not isinstance(cancelled, str) or not cancelled):
        raise ParameterError("cancelled", "the prefix of cancelled orders' ids, e.g. 'C'",
                             cancelled)
    _check_common(missing_ids, dayfirst, date_format)
    from_price = amount == "quantity*price"
    required = (C.customer, C.date) + ((C.quantity, C.price) if from_price else (C.amount,))
    frame, chk = _start(data, "transactions", columns, sep, source, id_type, encoding, quality,
                        required, decimal)
    _unit_price_warning(chk, from_price)
    id_cols = [c for c in (C.customer, C.item, C.order) if c in chk.frame.columns]
    chk.missing_ids(id_cols, missing_ids, quality)
    out = {C.customer: chk.ids(C.customer, id_type),
           C.date: chk.dates(C.date, date_format, unix=False, dayfirst=dayfirst)}
    if C.amount in chk.frame.columns and not from_price:
        out[C.amount] = chk.numbers(C.amount)
    if C.quantity in chk.frame.columns:
        out[C.quantity] = chk.numbers(C.quantity, integer=True)
    if C.price in chk.frame.columns:
        out[C.price] = chk.numbers(C.price)
    for col in (C.item, C.order):
        if col in chk.frame.columns:
            out[col] = chk.ids(col, id_type)
    if chk.problems and returns == "error":  # say the returns now too, not one round later
        _sign_checks(chk, chk.frame, {c: v for c, v in out.items() if v is not None})
    chk.raise_problems()
    frame = chk.coerced(out)
    if from_price and C.amount in frame.columns:
        frame = frame.drop(columns=[C.amount])  # computed below, not the file's own
    if from_price or returns != "error" or cancelled is not None:
        frame = _prepared(chk, frame, amount, returns, cancelled, quality)
    frame = _order(_with_extras(chk, frame), "transactions")
    _sign_checks(chk, frame, frame)
    frame = _duplicates(chk, frame, list(frame.columns), duplicates,
                        "rows are exact copies of an earlier row",
                        "drop the copies, or pass duplicates='keep' if they are real", quality)
    chk.raise_problems()
    return _done(frame, quality)


def _sign_checks(chk: Checker, frame: pd.DataFrame, columns: Mapping[str, pd.Series]) -> None:
    """Negative amounts and quantities below 1 (returns, refunds, zero lines), for the
    columns that could be read as numbers."""
    if C.amount in columns:
        negative = (columns[C.amount] < 0).to_numpy()
        adjusted = negative & (columns[C.quantity] >= 1).to_numpy() if C.quantity in columns \
            else np.zeros(len(negative), bool)
        _value_check(chk, frame, C.amount, negative & ~adjusted,
                     "amounts are negative", "remove refunds and returns, or net them against "
                     "their orders, then load again (returns='drop' or 'net'; CLI: --returns "
                     "drop|net)")
        _value_check(chk, frame, C.amount, adjusted, "amounts are negative on lines with a "
                     "positive quantity (price adjustments or bad-debt write-offs, not "
                     "purchases or returns)", "leave these lines out of the export, or drop "
                     "them before loading (returns= does not touch them)")
    if C.quantity in columns:
        _value_check(chk, frame, C.quantity, (columns[C.quantity] < 1).to_numpy(),
                     "quantities are below 1", "drop zero-quantity and return lines "
                     "(returns='drop' or 'net'; CLI: --returns drop|net)")


def _unit_price_warning(chk: Checker, from_price: bool) -> None:
    theirs = chk.names.get(C.amount, C.amount)
    if (not from_price and C.amount in chk.frame.columns and _PRICE_LIKE.match(theirs)
            and C.quantity in chk.frame.columns):
        warnings.warn(
            f"{chk.source}: amount is mapped to {theirs!r}, which looks like a unit price, and "
            "the file has quantities: pass amount='quantity*price' with columns={'price': "
            f"{theirs!r}}} (CLI: --amount quantity*price) if each line's amount is quantity x "
            "price", UserWarning, stacklevel=3)


_ROW = "__retaillab_row"
_ID_COLUMNS = (C.customer, C.user, C.item, C.order, C.session)


def _prepared(chk: Checker, frame: pd.DataFrame, amount: str, returns: str,
              cancelled: str | None, quality: Quality | None) -> pd.DataFrame:
    """Amounts from prices, returns and cancellations, keeping each row's way to its line."""
    from retaillab.data.prepare import prepare_transactions

    frame = frame.assign(**{_ROW: np.arange(len(frame))})
    out = prepare_transactions(frame, amount=amount, returns=returns, cancelled=cancelled,
                               quality=quality, source=chk.source)
    if _ROW in out.columns:
        kept = out[_ROW].to_numpy()
        current = np.arange(len(chk.frame)) if chk.positions is None else chk.positions
        out = out.drop(columns=[_ROW]).reset_index(drop=True)
        chk.positions, chk.frame = current[kept], out
    return out


def read_customers(
    data: pd.DataFrame | str | Path, *, columns: dict[str, str] | None = None,
    target: str | None = None, sep: str | None = None, id_type: IdType = "auto",
    encoding: str | None = None, decimal: str = ".", missing_ids: str = "error",
    source: str | None = None, quality: Quality | None = None,
) -> pd.DataFrame:
    """Check and coerce a customer table: customer, features..., and an optional binary target.

    Text features become categoricals and numeric text becomes numbers. ``target`` names the
    label column (after mapping); its values must be two-valued (1/0, true/false, yes/no) and
    become bool, placed last. Other parameters as in :func:`read_interactions`.
    """
    _check_common(missing_ids, None, None)
    frame, chk = _start(data, "customers", columns, sep, source, id_type, encoding, quality,
                        decimal=decimal)
    if target is not None and target not in frame.columns:
        raise DataError(f"no target column {target!r}", source=chk.source, column=target,
                        fix="pass target=<your label column> (CLI: --target NAME)")
    chk.missing_ids([C.customer], missing_ids, quality)
    frame = chk.frame
    out = {C.customer: chk.ids(C.customer, id_type), **_features(frame, (C.customer, target),
                                                                   decimal)}
    if target is not None:
        out[target] = _binary(chk, target)
    chk.raise_problems()
    frame = frame.assign(**out)
    if target is not None:
        frame = frame[[c for c in frame.columns if c != target] + [target]]
    frame = _duplicates(chk, frame, [C.customer], "error", "rows repeat a customer id seen "
                        "earlier", "keep one row per customer (aggregate or drop the repeats)",
                        quality)
    chk.raise_problems()
    return _done(_order(frame, "customers"), quality)


def read_items(
    data: pd.DataFrame | str | Path, *, columns: dict[str, str] | None = None,
    sep: str | None = None, id_type: IdType = "auto", encoding: str | None = None,
    decimal: str = ".", missing_ids: str = "error", source: str | None = None,
    quality: Quality | None = None,
) -> pd.DataFrame:
    """Check and coerce an item table: item, then attributes (title, category, price...).

    One row per item. Attributes are typed as a customer table's features are (numeric text
    becomes numbers, other text categoricals); content-based recommenders read them. Other
    parameters as in :func:`read_interactions`.
    """
    _check_common(missing_ids, None, None)
    frame, chk = _start(data, "items", columns, sep, source, id_type, encoding, quality,
                        decimal=decimal)
    chk.missing_ids([C.item], missing_ids, quality)
    frame = chk.frame
    out = {C.item: chk.ids(C.item, id_type), **_features(frame, (C.item,), decimal)}
    chk.raise_problems()
    frame = _duplicates(chk, frame.assign(**out), [C.item], "error",
                        "rows repeat an item id seen earlier", "keep one row per item", quality)
    chk.raise_problems()
    return _done(_order(frame, "items"), quality)


def read_events(
    data: pd.DataFrame | str | Path, *, columns: dict[str, str] | None = None,
    sep: str | None = None, id_type: IdType = "auto", date_format: str | None = None,
    dayfirst: bool | None = None, encoding: str | None = None, decimal: str = ".",
    missing_ids: str = "error", source: str | None = None, quality: Quality | None = None,
) -> pd.DataFrame:
    """Check and coerce an event log: customer, item, event, timestamp, dwell_seconds?, session?.

    ``event`` is the behaviour's name (``view``, ``click``, ``add_to_cart``, ``purchase`` in
    the funnel's terms; other names are kept as they are) and may not be blank; dwell times are
    seconds, non-negative. Timestamps as in :func:`read_interactions` (text with one format for
    the column, or Unix seconds). Other parameters as in :func:`read_interactions`.
    """
    _check_common(missing_ids, dayfirst, date_format)
    frame, chk = _start(data, "events", columns, sep, source, id_type, encoding, quality,
                        decimal=decimal)
    id_cols = [c for c in (C.customer, C.item, C.session) if c in chk.frame.columns]
    chk.missing_ids(id_cols, missing_ids, quality)
    events = chk.frame[C.event].astype(TEXT).str.strip()
    blank = events.isna() | events.eq("")
    if blank.any():
        chk.report(C.event, f"{int(blank.sum()):,} rows have no event name",
                   blank.to_numpy(dtype=bool), "fill in the event (view, click, add_to_cart, "
                   "purchase...) or drop those rows")
    out = {C.customer: chk.ids(C.customer, id_type), C.item: chk.ids(C.item, id_type),
           C.event: events.astype("category"),
           C.timestamp: chk.dates(C.timestamp, date_format, unix=True, dayfirst=dayfirst)}
    if C.dwell in chk.frame.columns:
        out[C.dwell] = chk.numbers(C.dwell)
    if C.session in chk.frame.columns:
        out[C.session] = chk.ids(C.session, id_type)
    chk.raise_problems()
    frame = _order(_with_extras(chk, chk.coerced(out)), "events")
    if C.dwell in frame.columns:
        _value_check(chk, frame, C.dwell, (frame[C.dwell] < 0).to_numpy(),
                     "dwell times are negative", "dwell_seconds are seconds spent, 0 or more")
    chk.raise_problems()
    return _done(frame, quality)


def _tokens_if_numeric(values: pd.Series) -> pd.Series:
    """A feature column with NA, NULL... as missing when its other values are numbers (a
    numeric feature's gaps); a text feature keeps them (NA is Namibia)."""
    nulled = null_tokens(values)
    if nulled.isna().sum() == values.isna().sum():
        return values
    rest = nulled.dropna().astype(TEXT).str.strip()
    looks = rest.str.fullmatch(r"[+-]?(\d[\d.,]*|\.\d+)([eE][+-]?\d+)?").all()
    return nulled if len(rest) and looks else values


def _features(frame: pd.DataFrame, skip: tuple, decimal: str = ".") -> dict[str, pd.Series]:
    """A feature table's other columns, typed: numeric text as numbers, other text as
    categories (codes with a leading zero, like zip codes, stay categories). With
    ``decimal=","`` a column is numeric only when every value is written 1234,5 or 1.234,5."""
    out = {}
    for col in frame.columns:
        if col in skip:
            continue
        values = frame[col]
        if values.dtype.kind in "OUT" or pd.api.types.is_string_dtype(values):
            values = _tokens_if_numeric(values)
            numeric_text = values
            if decimal == ",":
                text = values.astype(TEXT).str.strip()
                comma = text.str.match(_COMMA_RE).fillna(True).all()  # anchored: whole value
                numeric_text = (text.str.replace(".", "", regex=False)
                                .str.replace(",", ".", regex=False)) if comma else values
            as_num = pd.to_numeric(numeric_text, errors="coerce")
            numeric = (as_num.notna() | values.isna()).all() and as_num.notna().any()
            coded = values.astype(TEXT).str.fullmatch(r"0\d+").any()
            out[col] = as_num if numeric and not coded else values.astype("category")
    return out


def reader(kind: str) -> Callable[..., pd.DataFrame]:
    """The reader of a table kind: ``read_<kind>``."""
    return globals()[f"read_{kind}"]


def options(kind: str) -> list[str]:
    """The options a kind's reader takes: what a source entry or a command line may set
    (everything but the data, the column mapping, the source label and the counts)."""
    import inspect

    return [name for name in inspect.signature(reader(kind)).parameters
            if name not in ("data", "columns", "source", "quality")]


def _done(frame: pd.DataFrame, quality: Quality | None) -> pd.DataFrame:
    if quality is not None:
        quality.finish(frame)
    return frame


def _binary(chk: Checker, col: str) -> pd.Series:
    values = chk.frame[col]
    if values.dtype.kind == "b":
        return values
    text = values.astype(TEXT).str.strip().str.lower()
    text = text.str.replace(r"\.0$", "", regex=True)
    bad = ~(text.isin(_TRUE | _FALSE)).fillna(False).to_numpy()
    if bad.any():
        chk.report(col, "the target must be binary (1/0, true/false, yes/no)", bad,
                   "recode the target to two values, or name the right column")
    return text.isin(_TRUE).astype(bool)


def _order(frame: pd.DataFrame, kind: str) -> pd.DataFrame:
    required, optional = TABLES[kind]
    first = [c for c in (*required, *optional) if c in frame.columns]
    return frame[first + [c for c in frame.columns if c not in first]]
