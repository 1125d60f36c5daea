"""The canonical tables and their column names: the one place they are spelled.

Every loader returns these names and every model reads them, so no function takes
``col_user=...``-style arguments. A user's own files are mapped onto them with a
``columns={canonical: theirs}`` dict.

=============  ==============================================================
table          columns (``?`` = optional)
=============  ==============================================================
interactions   user, item, rating?, timestamp?
items          item, then attributes (title, year, genres, category, ...)
customers      customer, then features, then the target (e.g. bool ``churn``)
transactions   customer, date, amount, quantity?, price?, item?, order?
events         customer, item, event, timestamp, dwell_seconds, session
=============  ==============================================================
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Columns:
    """Column names of the canonical tables."""

    user: str = "user"
    item: str = "item"
    rating: str = "rating"
    timestamp: str = "timestamp"
    customer: str = "customer"
    date: str = "date"
    amount: str = "amount"
    quantity: str = "quantity"
    price: str = "price"
    order: str = "order"
    churn: str = "churn"
    event: str = "event"
    dwell: str = "dwell_seconds"
    session: str = "session"


COLUMNS = Columns()

#: For each table kind: (required columns, optional columns).
TABLES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "interactions": ((COLUMNS.user, COLUMNS.item), (COLUMNS.rating, COLUMNS.timestamp)),
    "transactions": (
        (COLUMNS.customer, COLUMNS.date, COLUMNS.amount),
        (COLUMNS.quantity, COLUMNS.price, COLUMNS.item, COLUMNS.order),
    ),
    "customers": ((COLUMNS.customer,), ()),
    "items": ((COLUMNS.item,), ()),
    "events": ((COLUMNS.customer, COLUMNS.item, COLUMNS.event, COLUMNS.timestamp),
               (COLUMNS.dwell, COLUMNS.session)),
}
#: tables whose other columns are features (typed on reading), not carried text
FEATURE_TABLES = ("customers", "items")

#: Event types of the synthetic funnel, in funnel order.
EVENT_TYPES: tuple[str, ...] = ("view", "click", "add_to_cart", "purchase")
