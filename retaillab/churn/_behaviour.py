"""Synthetic-world extras for transactional churn features: category mix and funnel behaviour.

Both take tables already cut at the cut-off (see :mod:`retaillab.churn.features`), so they
cannot read the future.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from retaillab.data.schema import COLUMNS as C
from retaillab.data.schema import EVENT_TYPES
from retaillab.errors import DataError

DAY = pd.Timedelta(days=1)


def category_mix(history: pd.DataFrame, items: pd.DataFrame) -> pd.DataFrame:
    """Per customer: share of spend in each item category, and how many categories they buy.

    Columns ``share_<category>`` (summing to 1 over a customer's spend) and ``n_categories``.
    """
    for table, name, columns in ((history, "transactions", (C.item,)),
                                 (items, "items", (C.item, "category"))):
        missing = [c for c in columns if c not in table.columns]
        if missing:
            raise DataError(f"no column {missing[0]!r} for the category mix", source=name,
                            column=missing[0], fix="pass items=None to skip category features")
    category = items.set_index(C.item)["category"]
    lines = pd.DataFrame({C.customer: history[C.customer].to_numpy(),
                          "category": category.reindex(history[C.item]).astype(str).to_numpy(),
                          C.amount: history[C.amount].to_numpy()})
    spend = lines.pivot_table(index=C.customer, columns="category", values=C.amount,
                              aggfunc="sum", fill_value=0.0, observed=True)
    levels = [str(c) for c in pd.unique(category.astype(str))]
    spend = spend.reindex(columns=sorted(levels), fill_value=0.0)
    total = spend.sum(axis=1).replace(0.0, np.nan)
    shares = spend.div(total, axis=0).fillna(0.0).add_prefix("share_")
    shares["n_categories"] = (spend > 0).sum(axis=1)
    shares.columns.name = None
    return shares


def funnel(events: pd.DataFrame, cutoff: pd.Timestamp, *, whole_day: bool = False
           ) -> pd.DataFrame:
    """Per customer, from their events up to the cut-off: counts per event type, sessions,
    funnel conversion rates, mean dwell, days since the last event and events in the last 30
    days. Rates are NaN when their denominator is 0 (the pipeline imputes them). With
    ``whole_day`` (a cut-off given as a date) days are calendar days before the cut-off day,
    as in :func:`retaillab.churn.transaction_features`."""
    missing = [c for c in (C.customer, C.event, C.timestamp) if c not in events.columns]
    if missing:
        raise DataError(f"no column {missing[0]!r} for funnel features", source="events",
                        column=missing[0], fix="pass events=None to skip funnel features")
    kind = events[C.event].astype(str)
    counts = pd.crosstab(events[C.customer], kind).reindex(columns=list(EVENT_TYPES),
                                                           fill_value=0)
    counts.columns = [f"{e}_events" for e in EVENT_TYPES]
    grouped = events.groupby(C.customer)
    out = counts.astype("float64")
    if C.session in events.columns:
        out["sessions"] = grouped[C.session].nunique()
    views, carts, buys = (counts[f"{e}_events"] for e in ("view", "add_to_cart", "purchase"))
    out["view_to_cart"] = carts / views.where(views > 0)
    out["cart_to_purchase"] = buys / carts.where(carts > 0)
    if C.dwell in events.columns:
        out["mean_dwell_seconds"] = grouped[C.dwell].mean()
    stamps = events[C.timestamp].dt.normalize() if whole_day else events[C.timestamp]
    out["days_since_last_event"] = (cutoff - stamps.groupby(events[C.customer]).max()) / DAY
    recent = events[(stamps > cutoff - 30 * DAY).to_numpy()]
    out["events_last_30d"] = recent.groupby(C.customer).size().reindex(out.index, fill_value=0)
    out.columns.name = None
    out.index.name = C.customer
    return out
