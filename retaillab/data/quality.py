"""What reading and preparing a file did to it: rows read, dropped by reason, altered, kept.

A :class:`Quality` is filled in by the readers (:mod:`retaillab.data.user`) and the
preparation steps (:mod:`retaillab.data.prepare`), logged with every run that reads a source
(as ``data.<table>.*`` metrics) and printed by ``retaillab validate``. It holds counts and
ranges only, never a customer's row, so it is safe in logs and reports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from retaillab.data.schema import COLUMNS as C

#: entity columns counted in the summary, with their labels
_ENTITIES = ((C.customer, "customers"), (C.user, "users"), (C.item, "items"))


@dataclass
class Quality:
    """Counts of one table's way from file to canonical frame.

    ``dropped`` maps a reason (``no_customer_id``, ``returns``, ``cancellations``,
    ``returns_unmatched``, ``duplicates``...) to the rows removed for it; ``changed`` maps a
    preparation step (``amount_from_price``, ``returns_netted``...) to the rows it altered.
    :meth:`finish` records what is left.
    """

    source: str = ""
    kind: str = ""
    rows_read: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    changed: dict[str, int] = field(default_factory=dict)
    rows: int = 0
    entities: dict[str, int] = field(default_factory=dict)
    date_min: str = ""
    date_max: str = ""

    def drop(self, reason: str, n: int) -> None:
        """Count ``n`` rows removed for ``reason`` (a zero count says it was checked)."""
        self.dropped[reason] = self.dropped.get(reason, 0) + int(n)

    def change(self, step: str, n: int) -> None:
        """Count ``n`` rows altered by the preparation ``step``."""
        self.changed[step] = self.changed.get(step, 0) + int(n)

    def finish(self, frame: pd.DataFrame) -> Quality:
        """Record the rows, distinct entities and date range of the table as returned."""
        self.rows = len(frame)
        self.entities = {label: int(frame[col].nunique()) for col, label in _ENTITIES
                         if col in frame.columns}
        when = next((frame[c] for c in (C.date, C.timestamp) if c in frame.columns
                     and pd.api.types.is_datetime64_any_dtype(frame[c])), None)
        if when is not None and len(when):
            self.date_min, self.date_max = f"{when.min():%Y-%m-%d}", f"{when.max():%Y-%m-%d}"
        return self

    def metrics(self, prefix: str | None = None) -> dict[str, float]:
        """Flat ``{name: count}`` for MLflow, e.g. ``data.transactions.dropped.returns``."""
        prefix = prefix or f"data.{self.kind or 'table'}"
        out = {f"{prefix}.rows_read": float(self.rows_read), f"{prefix}.rows": float(self.rows)}
        out.update({f"{prefix}.dropped.{k}": float(v) for k, v in self.dropped.items()})
        out.update({f"{prefix}.changed.{k}": float(v) for k, v in self.changed.items()})
        out.update({f"{prefix}.{k}": float(v) for k, v in self.entities.items()})
        return out

    def as_dict(self) -> dict[str, Any]:
        """Everything, JSON-ready (logged as ``data_quality.json``)."""
        return {"source": self.source, "kind": self.kind, "rows_read": self.rows_read,
                "dropped": dict(self.dropped), "changed": dict(self.changed),
                "rows": self.rows, **self.entities,
                "dates": [self.date_min, self.date_max] if self.date_min else []}

    def lines(self) -> list[str]:
        """Human-readable lines for ``retaillab validate`` and notebooks."""
        out = [f"{self.rows_read:,} rows read, {self.rows:,} kept"]
        for reason, n in self.dropped.items():  # zero counts stay in the metrics only
            if n:
                out.append(f"dropped {n:,} ({reason.replace('_', ' ')})")
        for step, n in self.changed.items():
            if n:
                out.append(f"changed {n:,} ({step.replace('_', ' ')})")
        if self.entities:
            out.append(", ".join(f"{n:,} {label}" for label, n in self.entities.items()))
        if self.date_min:
            out.append(f"dates {self.date_min} .. {self.date_max}")
        return out
