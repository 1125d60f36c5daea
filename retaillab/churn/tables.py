"""The customer table a churn comparison needs, from any data set (notebooks and tuning).

A data set with a customer table holding the target (telco churn) is used as it is. An order
log (CDNOW, the synthetic world, a retailer's own export) becomes features at a cut-off and
labels after it (:func:`retaillab.churn.churn_table`).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from retaillab.data.schema import COLUMNS as C
from retaillab.errors import DataError

#: cut-offs of the built-in order logs (the published CDNOW split; the synthetic world's year end)
CUTOFFS = {"cdnow": "1997-12-31", "cdnow_sample": "1997-12-31", "synthetic": "2024-12-31"}


def default_cutoff(dataset: Any, horizon_days: int) -> str:
    """The built-in cut-off, else the last order's day minus ``horizon_days`` (so the whole
    horizon lies inside the data: a later cut-off would call every customer a churner)."""
    if dataset.name in CUTOFFS:
        return CUTOFFS[dataset.name]
    last = dataset.transactions[C.date].max().normalize()
    return f"{last - pd.Timedelta(days=int(horizon_days)):%Y-%m-%d}"


def customer_table(dataset: Any, target: str = "churn", cutoff: object = None,
                   horizon_days: int = 180) -> tuple[pd.DataFrame, str | None]:
    """``(customers, cutoff used)``: the data set's customer table when it has ``target``,
    else the churn table of its order log at ``cutoff`` (default :func:`default_cutoff`)."""
    from retaillab.churn.features import churn_table

    customers = dataset.customers
    if customers is not None and target in customers.columns:
        return customers, None
    if dataset.transactions is None:
        raise DataError(f"no customer table with a {target!r} column and no order log to "
                        "derive one from", source=dataset.name,
                        fix="use a customers source with the target, or a transactions source")
    cutoff = cutoff or default_cutoff(dataset, horizon_days)
    table = churn_table(dataset.transactions, cutoff, horizon_days, events=dataset.events,
                        items=dataset.items)
    return table, str(cutoff)
