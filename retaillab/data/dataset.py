"""The :class:`Dataset` every loader returns: named canonical tables plus where they came from."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

import pandas as pd

from retaillab.data.schema import COLUMNS, EVENT_TYPES
from retaillab.errors import DataError, check_choice

#: what :meth:`Dataset.feedback` can return: explicit ratings or one kind of event
FEEDBACK = ("ratings", *EVENT_TYPES)

TABLE_NAMES = ("interactions", "items", "customers", "transactions", "events")


@dataclass(frozen=True)
class Dataset:
    """A loaded data set: up to five canonical tables (see :mod:`retaillab.data.schema`).

    Tables a data set does not have are ``None``. ``truth`` holds what a generator planted
    (synthetic data only), so models can be checked against it. ``origins`` say where each
    table of a user's source came from and what reading it did (runs log them).
    """

    name: str
    source: str
    interactions: pd.DataFrame | None = None
    items: pd.DataFrame | None = None
    customers: pd.DataFrame | None = None
    transactions: pd.DataFrame | None = None
    events: pd.DataFrame | None = None
    truth: Any = field(default=None, repr=False)
    #: for data read from a user's files: one :class:`~retaillab.data.sources.Origin` per table
    origins: tuple = field(default=(), repr=False)

    def tables(self) -> dict[str, pd.DataFrame]:
        """The tables this data set has, by name."""
        return {f.name: getattr(self, f.name) for f in fields(self)
                if f.name in TABLE_NAMES and getattr(self, f.name) is not None}

    def feedback(self, kind: str = "ratings") -> pd.DataFrame:
        """Interactions for recommenders: ``ratings``, or one event type as implicit feedback.

        Event feedback (``view``, ``click``, ``add_to_cart``, ``purchase``) is the event log's
        rows of that type as ``user``, ``item``, ``timestamp``: the signal retail sites have
        in bulk, where explicit ratings are rare. Repeats are kept; models count them once.
        ``purchase`` from a data set with no event log but an order log with items is the
        order log's customer x item purchases (:func:`retaillab.data.feedback.from_transactions`).
        """
        check_choice("feedback", kind, FEEDBACK)
        if kind == "ratings":
            table = self.interactions
        elif (kind == "purchase" and self.events is None and self.transactions is not None
              and COLUMNS.item in self.transactions.columns):
            from retaillab.data.feedback import from_transactions

            table = from_transactions(self.transactions)
        elif self.events is None:
            table = None
        else:
            events = self.events[self.events[COLUMNS.event] == kind]
            table = events.rename(columns={COLUMNS.customer: COLUMNS.user})[
                [COLUMNS.user, COLUMNS.item, COLUMNS.timestamp]].reset_index(drop=True)
        if table is None:
            has = ", ".join(self.tables()) or "no tables"
            raise DataError(f"no {'interactions' if kind == 'ratings' else 'events'} table "
                            f"for feedback {kind!r}; it has {has}", source=self.name,
                            fix="use feedback='ratings' for rating data sets, an event type "
                                "for event logs (the synthetic world has both), 'purchase' "
                                "for an order log with items")
        return table

    @property
    def quality(self) -> dict[str, Any]:
        """Each table's :class:`~retaillab.data.quality.Quality`, for tables read from files."""
        return {origin.table: origin.quality for origin in self.origins}

    def __repr__(self) -> str:
        shapes = ", ".join(f"{k}={v.shape[0]:,}x{v.shape[1]}" for k, v in self.tables().items())
        return f"Dataset({self.name!r}: {shapes})"

    def summary(self) -> dict[str, object]:
        """Rows, entities and date range of the main table, for listings."""
        main_name, main = next(iter(self.tables().items()))
        for name in ("interactions", "transactions", "customers"):
            table = getattr(self, name)
            if table is not None:
                main_name, main = name, table
                break
        entities = []
        for col, label in ((COLUMNS.customer, "customers"), (COLUMNS.user, "users"),
                           (COLUMNS.item, "items")):
            if col in main.columns:
                entities.append(f"{main[col].nunique():,} {label}")
                if (col == COLUMNS.customer and COLUMNS.churn in main.columns
                        and main[COLUMNS.churn].dtype == bool):
                    entities[-1] += f" ({int(main[COLUMNS.churn].sum()):,} churned)"
        when = next((main[c] for c in (COLUMNS.timestamp, COLUMNS.date) if c in main.columns),
                    None)
        dates = "" if when is None else f"{when.min():%Y-%m-%d} .. {when.max():%Y-%m-%d}"
        return {
            "name": self.name,
            "table": main_name,
            "rows": len(main),
            "entities": ", ".join(entities),
            "dates": dates,
            "source": self.source,
        }
