"""Validation of a customer table before any model sees it: one clear error per problem."""

from __future__ import annotations

import numpy as np
import pandas as pd

from retaillab.data.schema import COLUMNS as C
from retaillab.errors import DataError, ParameterError, failing_rows

SOURCE = "customers"


def features_and_target(customers: object, target: str,
                        drop: tuple[str, ...] = (C.customer,)) -> tuple[pd.DataFrame, np.ndarray]:
    """The feature columns (a new frame; the caller's is untouched) and a boolean target.

    Raises
    ------
    DataError
        When the target column is missing, has missing or non-binary values or one class
        only; when no feature is left, a feature is entirely missing, or a feature holds dates.
    """
    if not isinstance(customers, pd.DataFrame):
        raise ParameterError("customers", "a DataFrame of customers (one row each)",
                             type(customers).__name__)
    if not isinstance(target, str):
        raise ParameterError("target", "a column name", target)
    if target not in customers.columns:
        have = ", ".join(map(str, customers.columns)) or "no columns"
        raise DataError(f"no target column {target!r}; it has {have}", source=SOURCE,
                        column=target, fix="name the churn label column with target=...")
    if len(customers) == 0:
        raise DataError("no customers (the table has no rows)", source=SOURCE)
    y = binary_target(customers[target], target)
    features = customers.drop(columns=[target, *[c for c in drop if c in customers.columns]])
    if features.shape[1] == 0:
        raise DataError("no feature column besides the target and the customer id",
                        source=SOURCE, fix="add customer features to the table")
    empty = [c for c in features.columns if features[c].isna().all()]
    if len(empty) == features.shape[1]:
        raise DataError(f"every feature is missing in every row ({', '.join(map(str, empty))})",
                        source=SOURCE, column=str(empty[0]),
                        fix="check how the table was read: the features came through empty")
    if empty:
        raise DataError(f"feature {empty[0]!r} is missing in every row"
                        + (f" (so are {', '.join(map(str, empty[1:]))})" if empty[1:] else ""),
                        source=SOURCE, column=str(empty[0]),
                        fix=f"drop it: customers.drop(columns={empty!r})")
    dated = [c for c in features.columns if pd.api.types.is_datetime64_any_dtype(features[c])
             or isinstance(features[c].dtype, pd.PeriodDtype)
             or pd.api.types.is_timedelta64_dtype(features[c])]
    if dated:
        raise DataError("dates are not model features", source=SOURCE, column=str(dated[0]),
                        fix="turn them into numbers first, e.g. days since the date, "
                            "or drop them")
    return features, y


def binary_target(values: pd.Series, target: str) -> np.ndarray:
    """``values`` as a bool array: booleans, or numbers that are all 0 or 1."""
    missing = values.isna().to_numpy()
    if missing.any():
        raise DataError(f"{int(missing.sum()):,} missing target values", source=SOURCE,
                        column=target, rows=failing_rows(values.to_frame(), missing, [target]),
                        n_bad=int(missing.sum()), fix="drop or label those customers")
    if pd.api.types.is_bool_dtype(values.dtype):
        y = values.to_numpy(dtype=bool)
    else:
        numeric = pd.api.types.is_numeric_dtype(values.dtype) and not isinstance(
            values.dtype, pd.CategoricalDtype)
        bad = ~values.isin([0, 1]).to_numpy() if numeric else np.ones(len(values), bool)
        if bad.any():
            seen = ", ".join(repr(v) for v in pd.unique(values)[:5])
            raise DataError(f"the target must be binary (bool, or 0/1 numbers); found {seen}"
                            + ("" if numeric else f" of type {values.dtype}"),
                            source=SOURCE, column=target,
                            rows=failing_rows(values.to_frame(), bad, [target]),
                            n_bad=int(bad.sum()),
                            fix=f"map it to bool, e.g. customers[{target!r}] == 'Yes'")
        y = values.to_numpy(dtype="float64") == 1
    if y.all() or not y.any():
        raise DataError(f"the target has one class only (all {bool(y[0])}, {y.size:,} rows); "
                        "a churn model needs churners and non-churners", source=SOURCE,
                        column=target, fix="check the label, or the cut-off and horizon that "
                                           "made it")
    return y


def check_folds(y: np.ndarray, n_splits: object, n_repeats: object, seed: object) -> None:
    """Raise unless the fold settings are usable for stratified repeated k-fold on ``y``."""
    for name, value, low in (("n_splits", n_splits, 2), ("n_repeats", n_repeats, 1),
                             ("seed", seed, 0)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
            raise ParameterError(name, f"an integer >= {low}", value)
    smallest = int(min(y.sum(), (~y).sum()))
    if smallest < n_splits:
        raise DataError(f"the rarer class has {smallest} customers, fewer than n_splits="
                        f"{n_splits}: a stratified fold would miss it", source=SOURCE,
                        fix=f"use n_splits <= {smallest}, or more data")
