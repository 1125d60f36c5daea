"""Checks of RFM summaries before a model reads them: one clear message per problem."""

from __future__ import annotations

import numpy as np
import pandas as pd

from retaillab.errors import DataError, failing_rows

FREQUENCY, RECENCY, T, MONETARY = "frequency", "recency", "T", "monetary_value"

_FIX_SUMMARY = ("build the summary with retaillab.clv.rfm_summary(transactions, "
                "calibration_end=...), which computes frequency, recency and T consistently")


def numeric_columns(summary: pd.DataFrame, columns: tuple[str, ...], source: str) -> list:
    """The columns as float arrays, after checking they exist, are numeric and finite."""
    if not isinstance(summary, pd.DataFrame):
        raise DataError(f"expected a DataFrame summary, got {type(summary).__name__}",
                        source=source, fix=_FIX_SUMMARY)
    missing = [c for c in columns if c not in summary.columns]
    if missing:
        raise DataError(f"missing column(s) {', '.join(map(repr, missing))}; the summary has "
                        f"{', '.join(map(repr, summary.columns))}", source=source,
                        fix=_FIX_SUMMARY)
    out = []
    for column in columns:
        values = pd.to_numeric(summary[column], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(values)
        if bad.any():
            raise DataError("values must be finite numbers", source=source, column=column,
                            rows=failing_rows(summary, bad, columns), n_bad=int(bad.sum()),
                            fix="drop or repair these customers")
        out.append(values)
    return out


def transaction_summary(summary: pd.DataFrame, source: str):
    """``frequency, recency, T`` arrays of a BTYD calibration summary, checked."""
    cols = (FREQUENCY, RECENCY, T)
    x, tx, big_t = numeric_columns(summary, cols, source)
    checks = [
        (x < 0, FREQUENCY, "frequency (repeat purchases) must be >= 0",
         "frequency counts repeat purchases: distinct purchase days minus one"),
        (x != np.round(x), FREQUENCY, "frequency must be a whole number",
         "frequency counts repeat purchases: distinct purchase days minus one"),
        (tx < 0, RECENCY, "recency must be >= 0",
         "recency is the time from the first to the last purchase"),
        (big_t < 0, T, "T must be >= 0", "T is the time from the first purchase to the "
         "end of calibration"),
        (tx > big_t * (1 + 1e-9) + 1e-12, RECENCY, "recency is greater than T",
         "recency (first to last purchase) cannot exceed T (first purchase to the end of "
         "calibration): check that both use the same time unit and cut-off"),
        ((x == 0) & (tx > 0), RECENCY, "recency must be 0 when frequency is 0",
         "a customer without repeat purchases has recency 0"),
    ]
    for bad, column, what, fix in checks:
        if bad.any():
            raise DataError(what, source=source, column=column,
                            rows=failing_rows(summary, bad, cols), n_bad=int(bad.sum()),
                            fix=fix)
    return x, tx, big_t
