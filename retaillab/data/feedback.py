"""Implicit feedback from an order log: who bought what, how often, and when last.

:func:`from_transactions` turns the canonical transactions table (``customer``, ``date``,
``amount``, ``quantity``?, ``item``, ``order``?) into the interactions every recommender takes:
one row per customer x item with ``user``, ``item``, ``timestamp`` (the last purchase of that
item by that customer) and ``count``. There is no ``rating``: the top-N models (most popular,
item-kNN, EASE, ALS, BPR, bought together) treat each row as "interacted", and
:func:`retaillab.recsys.compare.compare` skips the rating models with a warning. The
``timestamp`` is what ``data.split(..., "chronological")`` and ``"leave_last"`` order a
customer's items by, so the items bought last are held out.

Example::

    tx = data.read_transactions("orders.csv", id_type="str")
    interactions = recsys.from_transactions(tx)
    recsys.compare(interactions, ["most_popular", "item_knn", "ease"], split="chronological")
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from retaillab.data.schema import COLUMNS as C
from retaillab.errors import DataError, ParameterError, check_choice, failing_rows

__all__ = ["WEIGHTS", "from_transactions"]

#: What ``count`` counts: transaction lines, or units bought.
WEIGHTS: tuple[str, ...] = ("lines", "quantity")

SOURCE = "transactions"


def from_transactions(transactions: pd.DataFrame, *, weight: str = "lines") -> pd.DataFrame:
    """Implicit interactions ``user, item, timestamp, count``, one row per customer x item.

    Parameters
    ----------
    transactions
        The canonical transactions table; it must have ``customer``, ``date`` (datetimes) and
        ``item`` columns (``amount`` and ``order`` are not used). Not changed.
    weight
        What ``count`` holds: ``"lines"`` (default), the number of transaction lines of that
        customer and item; ``"quantity"``, the total ``quantity`` bought. With ``"quantity"``
        a pair whose total is 0 or less (everything returned) is dropped, with a warning that
        counts the pairs dropped.

    Returns
    -------
    DataFrame
        ``user`` (the customer id, its type kept), ``item``, ``timestamp`` (the latest
        ``date`` of the pair) and ``count``, sorted by user then item.

    Raises
    ------
    DataError
        A missing column (a table without ``item`` says where to get one), dates that are not
        datetimes, missing customer, item or date values, or missing quantities.
    """
    check_choice("weight", weight, WEIGHTS)
    if not isinstance(transactions, pd.DataFrame):
        raise ParameterError("transactions", "a DataFrame (customer, date, amount, item, ...)",
                             type(transactions).__name__)
    tx = transactions
    if C.item not in tx.columns:
        raise DataError("no column 'item': implicit feedback needs to know what each customer "
                        f"bought; the table has {', '.join(map(str, tx.columns)) or 'none'}",
                        source=SOURCE, column=C.item,
                        fix="read an order log with one line per item bought and map its "
                            "product column onto 'item' (data.read_transactions(..., "
                            "columns={'item': 'your_product_column'}))")
    need = [C.customer, C.date] + ([C.quantity] if weight == "quantity" else [])
    for column in need:
        if column not in tx.columns:
            raise DataError(f"no column {column!r}; the table has "
                            f"{', '.join(map(str, tx.columns))}", source=SOURCE, column=column,
                            fix="weight='lines' counts lines and needs no quantity"
                            if column == C.quantity else "read it with data.read_transactions")
    if len(tx) == 0:
        raise DataError("the table has no rows", source=SOURCE, fix="pass a non-empty table")
    if not pd.api.types.is_datetime64_any_dtype(tx[C.date]):
        raise DataError(f"dates must be datetimes, not {tx[C.date].dtype}", source=SOURCE,
                        column=C.date, fix="parse them: pd.to_datetime(tx['date'])")
    for column in [C.customer, C.item, C.date, *need[2:]]:
        bad = tx[column].isna().to_numpy()
        if bad.any():
            raise DataError(f"{int(bad.sum()):,} rows have no {column}", source=SOURCE,
                            column=column, n_bad=int(bad.sum()),
                            rows=failing_rows(tx, bad, [C.customer, C.date, C.item, column]),
                            fix="drop or fill those rows first")
    lines = pd.DataFrame({C.user: tx[C.customer].array, C.item: tx[C.item].array,
                          C.timestamp: tx[C.date].to_numpy(),
                          "count": (tx[C.quantity].to_numpy() if weight == "quantity"
                                    else np.ones(len(tx), dtype=np.int64))})
    grouped = lines.groupby([C.user, C.item], sort=True, observed=True)
    out = grouped.agg(timestamp=(C.timestamp, "max"), count=("count", "sum")).reset_index()
    if weight == "quantity":
        returned = (out["count"] <= 0).to_numpy()
        if returned.any():
            warnings.warn(f"from_transactions: {int(returned.sum()):,} of {len(out):,} customer "
                          "x item pairs have a total quantity of 0 or less (returned) and are "
                          "dropped", UserWarning, stacklevel=2)
            out = out[~returned].reset_index(drop=True)
    return out[[C.user, C.item, C.timestamp, "count"]]
