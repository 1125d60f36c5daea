"""Small-cell suppression: no group of fewer than ``k`` customers is shown as it is.

A table or figure that describes a group of 3 customers can say who they are (their
spend, their churn risk); statistical agencies publish such cells as "< k". Reports and
notebooks pass every grouped table through :func:`suppress` before showing it.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

__all__ = ["K", "suppress", "too_small"]

#: the smallest group shown as it is
K = 10


def too_small(counts: pd.Series, k: int = K) -> pd.Series:
    """Whether each group (its customer count in ``counts``) is below ``k`` (0 is not: an
    empty group describes nobody)."""
    counts = pd.to_numeric(counts, errors="coerce")
    return (counts > 0) & (counts < k)


def suppress(table: pd.DataFrame, counts: str | Sequence[str] = "customers", k: int = K
             ) -> pd.DataFrame:
    """A display copy of ``table`` where every row whose customer count (column ``counts``,
    or the smallest of several) is below ``k`` shows ``"< k"`` in every cell but its
    labels (the index). A table without the count column is returned unchanged."""
    columns = [counts] if isinstance(counts, str) else list(counts)
    present = [c for c in columns if c in table.columns]
    if not present:
        return table
    smallest = table[present].apply(pd.to_numeric, errors="coerce").min(axis=1)
    hidden = too_small(smallest, k)
    if not hidden.any():
        return table
    shown = table.astype(object).copy()
    shown.loc[hidden.to_numpy(), :] = f"< {k}"
    return shown
