"""Item features from an item table: one definition for the content model and the diversity metric.

:func:`item_features` turns an item table (``Dataset.items``) into 0/1 attribute indicators,
one row per item. The content-based recommender (:mod:`retaillab.recsys.content`) builds its
item vectors from it, and :func:`retaillab.recsys.compare.compare` passes the same table to
intra-list diversity (:func:`retaillab.metrics.intra_list_diversity`), so "similar items" means
the same thing to the model that recommends by similarity and to the metric that judges how
similar a list is.

Encoding, per attribute column:

- list/tuple columns (MovieLens ``genres``) are multi-hot, one feature per value;
- numeric columns (``year``, ``price``) are cut into ``n_bins`` equal-frequency bins, one-hot;
- any other column (``category``, ``brand``, ``price_band``) is one-hot;
- a missing value sets no feature (an item with none is a zero row).
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral

import numpy as np
import pandas as pd
from scipy import sparse

from retaillab.data.schema import COLUMNS as C
from retaillab.errors import DataError, ParameterError

__all__ = ["DEFAULT_FEATURES", "has_features", "item_features"]

#: Attributes used when ``features`` is not given, if the table has them: MovieLens' genres and
#: year, the synthetic world's category, brand and price band.
DEFAULT_FEATURES: tuple[str, ...] = ("genres", "year", "category", "brand", "price_band")


def has_features(items: pd.DataFrame) -> bool:
    """Whether ``items`` has any of the :data:`DEFAULT_FEATURES` columns."""
    return any(c in items.columns for c in DEFAULT_FEATURES)


def item_features(items: pd.DataFrame, features: Sequence[str] | None = None, *,
                  n_bins: int = 5) -> pd.DataFrame:
    """0/1 attribute indicators of each item: index ``item`` (one row per distinct item, in
    the table's order), one float column per attribute value, named ``"genres=Comedy"`` or
    ``"year=(1985.0, 1997.0]"``, sorted.

    Parameters
    ----------
    items
        An item table with an ``item`` column and attribute columns; a repeated item keeps
        its first row.
    features
        Attribute columns to encode (default ``None``: those of :data:`DEFAULT_FEATURES` the
        table has).
    n_bins
        Equal-frequency bins for numeric attributes (default 5).
    """
    if not isinstance(n_bins, Integral) or isinstance(n_bins, bool) or n_bins < 1:
        raise ParameterError("n_bins", "a positive integer", n_bins)
    if not isinstance(items, pd.DataFrame) or C.item not in items.columns:
        raise ParameterError("items", "a DataFrame with an 'item' column", type(items).__name__)
    if isinstance(features, str):
        raise ParameterError("features", "a list of column names", features)
    columns = list(features) if features is not None else [
        c for c in DEFAULT_FEATURES if c in items.columns]
    missing = [c for c in columns if c not in items.columns]
    if missing or not columns:
        raise DataError(f"no attribute column {missing[0]!r}" if missing else
                        "none of the default attribute columns "
                        f"{', '.join(DEFAULT_FEATURES)}", source="items table",
                        column=missing[0] if missing else None,
                        fix=f"pass features=[...] among {', '.join(map(str, items.columns))}")
    table = items.drop_duplicates(C.item).reset_index(drop=True)
    rows, labels = [], []
    for column in columns:
        row, label = _encode(table[column], n_bins)
        rows.append(row)
        labels.append(column + "=" + label.astype(str))
    row = np.concatenate(rows)
    codes, names = pd.factorize(pd.Series(np.concatenate(labels), dtype=object), sort=True)
    matrix = sparse.csr_matrix((np.ones(len(row)), (row, codes)), shape=(len(table), len(names)))
    matrix.data[:] = 1.0  # a value listed twice counts once
    return pd.DataFrame(matrix.toarray(), index=pd.Index(table[C.item], name=C.item),
                        columns=[str(n) for n in names])


def _encode(values: pd.Series, n_bins: int) -> tuple[np.ndarray, pd.Series]:
    """(row position, value label) pairs of one attribute column; missing values dropped."""
    present = values.dropna()
    if len(present) and present.map(lambda v: isinstance(v, (list, tuple, set, frozenset))).all():
        exploded = present.explode().dropna()
        return exploded.index.to_numpy(), exploded.astype(str)
    if pd.api.types.is_numeric_dtype(present) and not pd.api.types.is_bool_dtype(present):
        binned = pd.qcut(present, q=min(n_bins, max(present.nunique(), 1)), duplicates="drop")
        return present.index.to_numpy(), binned.astype(str)
    return present.index.to_numpy(), present.astype(str)
