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
                   horizon_days: int = 180, active_days: int | None = None
                   ) -> tuple[pd.DataFrame, str | None]:
    """``(customers, cutoff used)``: the data set's customer table when it has ``target``,
    else the churn table of its order log at ``cutoff`` (default :func:`default_cutoff`),
    restricted to customers active within ``active_days`` of it when given
    (:func:`retaillab.churn.out_of_time.active_only`)."""
    from retaillab.churn.features import churn_table
    from retaillab.churn.out_of_time import active_only

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
    return active_only(table, active_days), str(cutoff)


def scoring_input(dataset: Any, target: str = "churn", cutoff: object = None,
                  horizon_days: int = 180) -> dict[str, Any]:
    """How a churn model compared on ``dataset`` gets its input when it scores other data
    (kept in the logged model's metadata, read by :func:`scoring_table`): the customer table
    without ``target``, or features of an order log at a cut-off."""
    customers = dataset.customers
    if customers is not None and target in customers.columns:
        return {"input": "customers", "target": target}
    return {"input": "transactions", "target": target, "cutoff": None if cutoff is None
            else str(cutoff), "horizon_days": int(horizon_days),
            "events": dataset.events is not None, "items": dataset.items is not None}


def last_day(dataset: Any) -> pd.Timestamp:
    """The day of the data set's last transaction."""
    return dataset.transactions[C.date].max().normalize()


def scoring_table(dataset: Any, recipe: dict[str, Any], cutoff: object = None
                  ) -> tuple[pd.Series, pd.DataFrame, str | None]:
    """``(customer ids, features, cut-off)`` to score with a churn model whose input is
    ``recipe`` (:func:`scoring_input`).

    A customer table is used as it is (its target column, if any, is dropped). An order log
    gives every customer's features at ``cutoff`` (default: its last day, so the model says
    who will churn in the horizon after the data ends); a cut-off after the last day is
    refused (every customer would look idle since). Raises :class:`DataError` for data
    without the table the model needs.
    """
    from retaillab.churn.features import transaction_features

    target = recipe.get("target", C.churn)
    if recipe.get("input") == "customers":
        customers = dataset.customers
        if customers is None:
            raise DataError("this churn model scores a customer table (one row per customer "
                            "with its features); the data has none", source=dataset.name,
                            fix="score a customers source with the model's feature columns")
        ids = customers[C.customer] if C.customer in customers.columns else \
            customers.index.to_series(name=C.customer)
        features = customers.drop(columns=[c for c in (target, C.customer)
                                           if c in customers.columns])
        return ids.reset_index(drop=True), features.reset_index(drop=True), None
    if dataset.transactions is None:
        raise DataError("this churn model scores customers from their orders at a cut-off; "
                        "the data has no transactions", source=dataset.name,
                        fix="score a transactions source (customer, date, amount)")
    last = last_day(dataset)
    stamp = last if cutoff is None else pd.Timestamp(cutoff)
    if stamp.normalize() > last:
        raise DataError(f"the cut-off {stamp:%Y-%m-%d} is after the data's last transaction "
                        f"({last:%Y-%m-%d}): every customer would look idle since",
                        source=dataset.name, fix=f"use --cutoff {last:%Y-%m-%d} or earlier")
    features = transaction_features(
        dataset.transactions, stamp, events=dataset.events if recipe.get("events") else None,
        items=dataset.items if recipe.get("items") else None)
    ids = features.index.to_series(name=C.customer).reset_index(drop=True)
    return ids, features.reset_index(drop=True), f"{stamp:%Y-%m-%d}"
