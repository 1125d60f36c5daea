"""Synthetic-world extras for transactional churn features: category mix and funnel behaviour.

Both take tables and a cut-off mask (see :mod:`retaillab.churn.features`), so they cannot read
the future. Both are linear in the rows: each row gets the integer position of its customer
once (a lookup table for compact integer ids, else one hash lookup), and every feature is then
a ``np.bincount``, ``np.maximum.at`` or a pandas group reduction over those codes (which adds
floats as a pandas groupby does, so sums equal the plain-pandas ones bit for bit). No wide
pivot, crosstab, per-group Python function or copy of the event table is made.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from retaillab.data.schema import COLUMNS as C
from retaillab.data.schema import EVENT_TYPES
from retaillab.errors import DataError

DAY = pd.Timedelta(days=1)

#: integer ids spanning at most this many times the number of customers get a lookup table
_DENSE_SPAN = 8


def _compact(array: np.ndarray, size: int) -> bool:
    """Whether integer ids span few enough values for a lookup table of them."""
    return (array.dtype.kind == "i" or (array.dtype.kind == "u" and array.itemsize < 8)) and \
        len(array) > 0 and int(array.max()) - int(array.min()) < _DENSE_SPAN * size + 1_000_000


def _slot_type(n: int) -> type:
    """The integer type of slots 0 .. n: 32 bits while they fit (half the memory per row)."""
    return np.int32 if n < 2**31 - 1 else np.int64


def slots_of(values: pd.Series, customers: pd.Index) -> np.ndarray:
    """Each value's slot: ``1 + `` its position in ``customers`` (unique), ``0`` where it is
    not there (missing ids included); 32-bit integers while they fit.

    The same matching as ``frame.reindex(customers)`` after a groupby. Integer ids in a
    compact range look up a table instead of a hash.
    """
    array = values.to_numpy() if isinstance(values, pd.Series) else np.asarray(values)
    known = customers.to_numpy()
    kind = _slot_type(len(known))
    if len(array) and _compact(known, len(known)) and array.dtype.kind in "iu" \
            and array.dtype != np.uint64:
        lo, hi = int(known.min()), int(known.max())
        table = np.zeros(hi - lo + 2, dtype=kind)
        table[known.astype(np.int64) - lo] = np.arange(1, len(known) + 1)
        shifted = array.astype(np.int64)
        shifted -= lo
        # anything outside [lo, hi] looks up the table's last entry, which holds 0
        np.copyto(shifted, hi - lo + 1, where=(shifted < 0) | (shifted > hi - lo))
        return table[shifted]
    slots = customers.get_indexer(values).astype(kind)
    slots += 1
    return slots


def group_sum(values: np.ndarray, slots: np.ndarray, n: int, how: str = "sum") -> np.ndarray:
    """Per slot ``1 .. n`` the sum (or ``how="mean"``) of ``values``, NaN skipped; slot 0 is
    left out. A pandas group reduction on the slots as categories (no hashing), so floats are
    added as a pandas groupby adds them (compensated, in row order; pandas adds sorted groups
    without missing values by ``np.add.reduceat`` instead, which can differ in the last bit)."""
    grouper = pd.Categorical.from_codes(slots, categories=pd.RangeIndex(n + 1), validate=False)
    grouped = pd.Series(values, copy=False).groupby(grouper, observed=False)
    return getattr(grouped, how)().to_numpy()[1:]


def category_mix(history: pd.DataFrame, items: pd.DataFrame, customers: pd.Index,
                 slots: np.ndarray) -> pd.DataFrame:
    """Per customer: share of spend in each item category, and how many categories they buy.

    Columns ``share_<category>`` (summing to 1 over a customer's spend; every category of
    ``items``, in text order) and ``n_categories``. ``slots`` places each history line among
    ``customers`` (:func:`slots_of`); spend on items missing from ``items`` counts nowhere.
    """
    for table, name, columns in ((history, "transactions", (C.item,)),
                                 (items, "items", (C.item, "category"))):
        missing = [c for c in columns if c not in table.columns]
        if missing:
            raise DataError(f"no column {missing[0]!r} for the category mix", source=name,
                            column=missing[0], fix="pass items=None to skip category features")
    catalogue = pd.Index(items[C.item])
    if not catalogue.is_unique:
        twice = catalogue[catalogue.duplicated()].unique()
        raise DataError(f"{len(twice):,} item ids appear more than once (e.g. {twice[0]!r})",
                        source="items", column=C.item,
                        fix="give each item one row: items.drop_duplicates('item')")
    text = items["category"].astype(str)
    # every category of the table in text order (a missing one reads "nan", and stays empty)
    levels = sorted(str(c) for c in pd.unique(text))
    distinct = pd.Index(levels).unique()
    # an item's level: its category's place among the levels (-1: no category)
    item_level = distinct.get_indexer(text.to_numpy())
    item_level[text.isna().to_numpy()] = -1
    where = catalogue.get_indexer(history[C.item])
    level = np.where(where >= 0, item_level[where], -1)
    n, k = len(customers), len(distinct)
    # cell (slot, level) of customers x levels, slot 0's cells left out (as lines of no level)
    cell = np.where(level >= 0, slots.astype(np.int64) * k + level, 0)
    amount = history[C.amount].to_numpy(dtype="float64")
    # group_sum drops cell 0; the rest of slot 0's cells, 1 .. k-1, go too
    spend = group_sum(amount, cell, (n + 1) * k - 1)[k - 1:] if k else np.zeros(0)
    # the same frame arithmetic as on a pivot table (customers x categories), on the same
    # memory layout (a customer's row contiguous: no copy), so row totals add in its order
    spend = pd.DataFrame(spend.reshape(n, k), index=customers, columns=distinct, copy=False)
    if len(distinct) < len(levels):  # "nan" twice: a missing category and the text "nan"
        spend = spend.reindex(columns=levels)
    total = spend.sum(axis=1).replace(0.0, np.nan)
    shares = spend.div(total, axis=0).fillna(0.0).add_prefix("share_")
    shares["n_categories"] = (spend > 0).sum(axis=1)
    shares.columns.name = None
    return shares


def _kinds(event: pd.Series) -> np.ndarray:
    """Each event's column of the counts (int8): 0-3 its place in :data:`EVENT_TYPES`, 4
    another type, 5 no type (missing, as ``astype(str)`` leaves it)."""
    if isinstance(event.dtype, pd.CategoricalDtype):
        codes, names = event.cat.codes.to_numpy(), pd.Index(event.cat.categories)
    else:
        codes, names = pd.factorize(event)
        names = pd.Index(names)
    place = pd.Index(list(EVENT_TYPES)).get_indexer(names.astype(str))
    table = np.append(np.where(place >= 0, place, 4), 5).astype(np.int8)
    return table[codes]  # code -1 (missing) takes the last entry


def _sessions(session: pd.Series, slots: np.ndarray, n: int) -> np.ndarray:
    """Distinct non-missing sessions per slot 1..n (``nunique``), without hashing pairs: a
    session of one customer counts once for them; only sessions shared by several customers
    (rare) go through ``np.unique`` of their (session, customer) pairs."""
    values = session.to_numpy()
    if _compact(values, len(values)):
        n_ids = int(values.max()) - int(values.min()) + 1
        ids = np.empty(len(values), dtype=_slot_type(n_ids))
        np.subtract(values, values.min(), out=ids, casting="unsafe")  # fits: 0 .. n_ids - 1
    else:
        ids, uniques = pd.factorize(session)  # missing: -1
        n_ids = len(uniques)
    # rows left out (and missing sessions) go to one extra id, n_ids, dropped below
    np.copyto(ids, n_ids, where=(slots == 0) | (ids < 0))
    low = np.full(n_ids + 1, n + 1, dtype=slots.dtype)
    high = np.zeros(n_ids + 1, dtype=slots.dtype)
    np.minimum.at(low, ids, slots)
    np.maximum.at(high, ids, slots)
    alone = low == high  # one customer's (unused ids have low > high)
    alone[n_ids] = True
    count = np.bincount(low[alone[:n_ids].nonzero()[0]], minlength=n + 1)[1:]
    shared = ~alone[ids]
    if shared.any():
        pairs = np.unique(ids[shared].astype(np.int64) * (n + 1) + slots[shared])
        count += np.bincount(pairs % (n + 1), minlength=n + 1)[1:]
    return count


def funnel(events: pd.DataFrame, cutoff: pd.Timestamp, customers: pd.Index,
           past: np.ndarray, *, whole_day: bool = False) -> pd.DataFrame:
    """Per customer of ``customers``, from their events where ``past`` holds: counts per event
    type, sessions, funnel conversion rates, mean dwell, days since the last event and events
    in the last 30 days.

    Rates are NaN when their denominator is 0 (the pipeline imputes them). A customer with no
    event of a type (of any type, even outside the funnel) gets NaN everywhere, as a reindex to
    ``customers`` would leave them (the caller sets their counts to 0). With ``whole_day`` (a
    cut-off given as a date) days are calendar days before the cut-off day, as in
    :func:`retaillab.churn.transaction_features`.
    """
    missing = [c for c in (C.customer, C.event, C.timestamp) if c not in events.columns]
    if missing:
        raise DataError(f"no column {missing[0]!r} for funnel features", source="events",
                        column=missing[0], fix="pass events=None to skip funnel features")
    n = len(customers)
    slots = slots_of(events[C.customer], customers)
    slots[~past] = 0
    # columns 0-3: the funnel's types, 4: another type, 5: no type (in no count)
    cell = slots.astype(np.intp)  # as np.bincount takes it
    cell *= 6
    cell += _kinds(events[C.event])
    counts = np.bincount(cell, minlength=(n + 1) * 6).reshape(n + 1, 6)[1:]
    del cell
    present = counts[:, :5].any(axis=1)  # who has an event with a type
    out = pd.DataFrame(counts[:, :4].astype("float64"), index=customers,
                       columns=[f"{e}_events" for e in EVENT_TYPES])
    if C.session in events.columns:
        out["sessions"] = _sessions(events[C.session], slots, n)
    views, carts, buys = (out[f"{e}_events"] for e in ("view", "add_to_cart", "purchase"))
    out["view_to_cart"] = carts / views.where(views > 0)
    out["cart_to_purchase"] = buys / carts.where(carts > 0)
    if C.dwell in events.columns:
        # only the rows with a dwell time, and one missing one in slot 0 after them: pandas
        # then adds as on every row (compensated, skipping missing values), as a groupby of
        # the events does, instead of its uncompensated path for data without NaN
        dwell = events[C.dwell].to_numpy(dtype="float64")
        timed = (slots > 0) & ~np.isnan(dwell)
        out["mean_dwell_seconds"] = group_sum(np.append(dwell[timed], np.nan),
                                              np.append(slots[timed], 0), n, how="mean")
    stamps = events[C.timestamp]
    values = stamps.to_numpy()
    latest = np.full(n + 1, np.iinfo(np.int64).min, dtype=np.int64)  # NaT
    np.maximum.at(latest, slots, values.view(np.int64))
    latest = pd.Series(latest[1:].view(values.dtype), index=customers)
    if whole_day:  # the last event's calendar day; an event is recent from 29 days before
        latest, recent = latest.dt.normalize(), (stamps >= cutoff - 29 * DAY).to_numpy()
    else:
        recent = (stamps > cutoff - 30 * DAY).to_numpy()
    out["days_since_last_event"] = (cutoff - latest) / DAY
    out["events_last_30d"] = np.bincount(slots[recent], minlength=n + 1)[1:]
    if not present.all():
        out = out.astype({c: "float64" for c in ("sessions", "events_last_30d")
                          if c in out.columns})
        out.loc[~present] = np.nan
    out.columns.name = None
    out.index.name = C.customer
    return out
