"""Preparing a retailer's own order export: amounts from prices, returns and cancellations.

An order log as shops export it (one line per invoice and product, like the "Online Retail"
file) is not yet a table of purchases: amounts may be ``quantity x price``, returns are lines
with a negative quantity, cancelled invoices carry a prefix (``C536379``) and some lines have a
quantity of zero. :func:`prepare_transactions` turns a coerced canonical transactions frame
(:mod:`retaillab.data.schema`) into purchases, and counts every line it removes or alters in a
:class:`~retaillab.data.quality.Quality`.

This is written here, by hand, because no maintained library nets returns against the
purchases of an order log: pandas gives the building blocks (groupby, cumsum, merge) and the
data-cleaning packages stop at "drop negative rows". Netting needs a rule (which purchase does a
return take units off?) and that rule is stated in :func:`prepare_transactions`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from retaillab.data.quality import Quality
from retaillab.data.schema import COLUMNS as C
from retaillab.errors import DataError, ParameterError, check_choice, failing_rows

__all__ = ["prepare_transactions"]

PRICE = "price"  # the optional unit-price column of transactions
_SHOWN = (C.customer, C.date, C.item, C.order, C.quantity, PRICE, C.amount)
_RETURN_OPTIONS = ("returns='drop' removes them, returns='net' takes them off the customer's "
                   "earlier purchases of the same item (CLI: --returns drop|net)")


def prepare_transactions(frame: pd.DataFrame, *, amount: str = "column", returns: str = "error",
                         cancelled: str | None = None, quality: Quality | None = None,
                         source: str = "transactions") -> pd.DataFrame:
    """Turn a coerced order log into purchases: amounts, zero lines, returns, cancellations.

    Parameters
    ----------
    frame
        Canonical transactions (customer, date, amount?, quantity?, price?, item?, order?) with
        ``date`` a datetime column. It is not modified.
    amount
        ``"column"`` keeps ``amount`` as it is; ``"quantity*price"`` computes it from
        ``quantity`` and ``price`` (counted as ``changed["amount_from_price"]``, every line).
    returns
        What to do with return lines: ``"error"`` (the default) raises one
        :class:`~retaillab.errors.DataError` counting them; ``"drop"`` removes them; ``"net"``
        takes them off the purchases they undo (below).
    cancelled
        The prefix of cancelled invoices' order ids, e.g. ``"C"``: every line whose order id
        (as text) starts with it is a cancellation, whatever the sign of its quantity.
    quality
        Filled with counts (``dropped[...]``, ``changed[...]``); nothing else is recorded.
    source
        The file or table name used in error messages.

    Returns
    -------
    A new frame with the same columns (plus ``amount`` if it was computed), the kept lines in
    their original order, and a fresh ``RangeIndex``.

    Rules
    -----
    * A **return line** has a negative quantity (without a ``quantity`` column: a negative
      amount). A **cancellation** is a line of a ``cancelled``-prefixed order; it is handled like
      a return of its absolute quantity (and amount). Both are removed in ``"drop"`` and
      ``"net"`` mode and counted as ``dropped["returns"]`` and ``dropped["cancellations"]``.
    * Lines with a quantity of 0 are removed first (``dropped["zero_quantity"]``).
    * ``returns="net"`` needs ``item`` (without it a return cannot be tied to a purchase: use
      ``returns="drop"``). Each return takes its units off the same customer's purchases of the
      same item dated **on or before** the return (the ``date`` values compared as they are,
      time of day included), **latest purchase first**; of purchases with the same date, the one
      further down the file goes first. Returns are applied in date order, ties in file order.
      That is a stack (last in, first out) per customer and item, computed with sorted
      cumulative sums, not a loop.

      - a purchase left with 0 units is removed (``dropped["returned_in_full"]``);
      - a purchase partly returned keeps its remaining units, and its ``amount`` is scaled by
        remaining / original units (``changed["returns_netted"]``; ``price`` is unchanged);
      - returned units that no earlier purchase can absorb are dropped. A return line with any
        such units is counted once, as ``dropped["returns_unmatched"]``, instead of under
        ``returns``/``cancellations``, so the ``dropped`` counts never count a line twice.

      Without a ``quantity`` column the amounts play the part of units.
    * Lines that are neither returns nor cancellations are never inspected for anything else
      (for example a positive quantity with a negative price stays as it is).
    """
    check_choice("amount", amount, ("column", "quantity*price"))
    check_choice("returns", returns, ("error", "drop", "net"))
    if cancelled is not None and (not isinstance(cancelled, str) or not cancelled):
        raise ParameterError("cancelled", "a non-empty prefix such as 'C', or None", cancelled)
    q = quality if quality is not None else Quality()
    out = frame.reset_index(drop=True)
    _require(out, (C.customer, C.date), source, "map it with columns={...}")

    if amount == "quantity*price":
        _require(out, (C.quantity, PRICE), source,
                 "map both with columns={'quantity': ..., 'price': ...}, or use amount='column' "
                 "with an amount column (CLI: --amount column)")
        out = out.assign(**{C.amount: out[C.quantity].to_numpy(dtype="float64")
                            * out[PRICE].to_numpy(dtype="float64")})
        q.change("amount_from_price", len(out))
    else:
        _require(out, (C.amount,), source,
                 "map the amount column, or compute it with amount='quantity*price' "
                 "(CLI: --amount 'quantity*price')")

    has_qty = C.quantity in out.columns
    if has_qty:
        zero = out[C.quantity].to_numpy() == 0
        q.drop("zero_quantity", int(zero.sum()))
        if zero.any():
            out = out[~zero].reset_index(drop=True)

    cancel = _cancellations(out, cancelled, source)
    signed = out[C.quantity if has_qty else C.amount].to_numpy()
    ret = (signed < 0) & ~cancel
    n_ret, n_cancel = int(ret.sum()), int(cancel.sum())

    if returns == "error":
        if n_ret or n_cancel:
            raise _returns_error(out, ret, cancel, cancelled, source)
        return out
    if returns == "net" and (n_ret or n_cancel or C.item in out.columns):
        if C.item not in out.columns:
            raise DataError(
                f"returns='net' needs an item column to tie the {n_ret + n_cancel:,} return "
                "lines to the purchases they undo", source=source, column=C.item,
                fix="map the product column with columns={'item': ...}, or pass "
                    "returns='drop' (CLI: --returns drop)")
        return _net(out, ret, cancel, has_qty, cancelled is not None, q)
    keep = ~(ret | cancel)
    q.drop("returns", n_ret)
    if cancelled is not None:
        q.drop("cancellations", n_cancel)
    return out[keep].reset_index(drop=True) if not keep.all() else out


def _require(frame: pd.DataFrame, columns: tuple[str, ...], source: str, fix: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(f"no {' or '.join(map(repr, missing))} column; the columns are "
                        f"{', '.join(map(repr, map(str, frame.columns)))}", source=source,
                        column=missing[0], fix=fix)


def _cancellations(frame: pd.DataFrame, prefix: str | None, source: str) -> np.ndarray:
    """Lines whose order id, as text, starts with ``prefix`` (tested once per distinct id)."""
    if prefix is None:
        return np.zeros(len(frame), bool)
    if C.order not in frame.columns:
        raise DataError(f"cancelled={prefix!r} needs the order (invoice) column", source=source,
                        column=C.order,
                        fix="map it with columns={'order': ...} (for Online Retail: "
                            "'InvoiceNo'), or leave cancelled unset")
    codes, ids = pd.factorize(frame[C.order])
    starts = np.asarray(pd.Index(ids).astype(str).str.startswith(prefix), dtype=bool)
    return np.where(codes >= 0, starts[np.maximum(codes, 0)], False)


def _returns_error(frame: pd.DataFrame, ret: np.ndarray, cancel: np.ndarray,
                   cancelled: str | None, source: str) -> DataError:
    bad = ret | cancel
    sign = C.quantity if C.quantity in frame.columns else C.amount
    parts = []
    if ret.any():
        parts.append(f"{int(ret.sum()):,} return lines (negative {sign})")
    if cancel.any():
        parts.append(f"{int(cancel.sum()):,} cancellation lines (order ids starting with "
                     f"{cancelled!r})")
    fix = _RETURN_OPTIONS
    hint = _prefix_hint(frame, ret) if cancelled is None else None
    if hint:
        fix += (f"; their order ids start with {hint!r}: pass cancelled={hint!r} "
                f"(CLI: --cancelled {hint}) to count those as cancellations")
    return DataError(" and ".join(parts) + " are not purchases", source=source, column=sign,
                     rows=failing_rows(frame, bad, _SHOWN), n_bad=int(bad.sum()), fix=fix)


def _prefix_hint(frame: pd.DataFrame, ret: np.ndarray) -> str | None:
    """The letter prefix most return lines' order ids share (``"C"`` for Online Retail)."""
    if C.order not in frame.columns or not ret.any():
        return None
    prefix = frame.loc[ret, C.order].astype(str).str.extract(r"^([A-Za-z]+)\d", expand=False)
    counts = prefix.value_counts()
    if counts.empty or counts.iloc[0] * 2 < ret.sum():
        return None
    return str(counts.index[0])


def _net(frame: pd.DataFrame, ret: np.ndarray, cancel: np.ndarray, has_qty: bool,
         cancelled: bool, q: Quality) -> pd.DataFrame:
    """Net returns against purchases, last in first out per (customer, item); see the rules.

    Per (customer, item), the purchases and returns are put on one time line (date, purchases
    before returns at equal dates, then file position) and ``s`` is +units for a purchase, -units
    for a return. The stock of unreturned units is the running sum reflected at zero,
    ``h = S - min(0, cummin(S))`` (a return cannot take more than is there). A purchase that
    brought the stock from ``h - u`` to ``h`` keeps the units below the lowest stock seen from
    then on, ``m`` (the suffix minimum of ``h``): ``clip(m - (h - u), 0, u)``. A return finding
    stock ``h_before`` leaves ``max(0, u - h_before)`` units unmatched.
    """
    undo = ret | cancel
    unit_col = C.quantity if has_qty else C.amount
    units = np.abs(frame[unit_col].to_numpy())
    # only (customer, item) pairs with a return matter: first narrow to customers with one
    cust, customers = pd.factorize(frame[C.customer])
    returning = np.zeros(len(customers) + 1, bool)
    returning[cust[undo]] = True
    pos = np.flatnonzero(returning[cust])
    item, items = pd.factorize(frame[C.item].take(pos))
    key = cust[pos].astype("int64") * (len(items) + 1) + item.astype("int64")
    hit = pd.Series(key).isin(np.unique(key[undo[pos]])).to_numpy()  # hashed, not sorted
    pos, k = pos[hit], key[hit]
    is_ret = undo[pos]
    when = pd.DatetimeIndex(frame[C.date]).asi8[pos]
    order = np.lexsort((pos, is_ret, when, k))
    pos, k, is_ret, u = pos[order], k[order], is_ret[order], units[pos][order]
    s = np.where(is_ret, -u, u)

    start = np.r_[True, k[1:] != k[:-1]]
    group = np.cumsum(start) - 1
    total = np.cumsum(s)
    S = total - np.r_[0, total][np.flatnonzero(start)][group]  # running sum within the group
    low = pd.Series(S).groupby(group).cummin().to_numpy()
    h = S - np.minimum(low, 0)
    h_before = np.where(start, 0, np.r_[0, h[:-1]])
    m = pd.Series(h[::-1]).groupby(group[::-1]).cummin().to_numpy()[::-1]

    kept = np.where(is_ret, 0, np.clip(m - (h - u), 0, u))
    crumb = 0 if has_qty else 1e-9 * np.maximum(u, 1.0)  # amounts as units: float sums
    if not has_qty:
        kept = np.where(kept <= crumb, 0.0, kept)
    unmatched = is_ret & (u > h_before + crumb)

    buy = ~is_ret
    full = buy & (kept == 0) & (u > 0)  # a free line (amount 0, no quantity) stays
    part = buy & (kept > 0) & (kept < u)
    n = len(frame)
    drop = np.zeros(n, bool)
    drop[pos[full]] = True
    drop |= undo
    q.drop("returns", int((ret[pos] & ~unmatched).sum()))
    if cancelled:
        q.drop("cancellations", int((cancel[pos] & ~unmatched).sum()))
    q.drop("returns_unmatched", int(unmatched.sum()))
    q.drop("returned_in_full", int(full.sum()))
    q.change("returns_netted", int(part.sum()))

    out = frame
    if part.any():
        rows, left, was = pos[part], kept[part], u[part]
        new_amount = frame[C.amount].to_numpy(dtype="float64", copy=True)
        new_amount[rows] = new_amount[rows] * (left / was) if has_qty else left
        changes = {C.amount: new_amount}
        if has_qty:
            new_qty = frame[C.quantity].to_numpy(copy=True)
            new_qty[rows] = left
            changes[C.quantity] = new_qty
        out = frame.assign(**changes)
    return out[~drop].reset_index(drop=True) if drop.any() else out
