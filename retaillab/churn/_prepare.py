"""The preprocessing every churn model shares: impute, scale numbers, one-hot categories.

Columns are routed by dtype when the pipeline is fitted (not when it is built), so one
pipeline definition serves any customer table: numbers and booleans go to the numeric branch,
categories and text to the categorical branch. The selectors are module-level functions so a
pipeline can be pickled and cloned.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def numeric_columns(frame: pd.DataFrame) -> list[str]:
    """Columns of numbers or booleans (nullable pandas dtypes included)."""
    return [c for c in frame.columns if _is_numeric(frame[c].dtype)]


def categorical_columns(frame: pd.DataFrame) -> list[str]:
    """Every other column: categories, text, objects."""
    return [c for c in frame.columns if not _is_numeric(frame[c].dtype)]


def _is_numeric(dtype: object) -> bool:
    if isinstance(dtype, pd.CategoricalDtype):
        return False
    return pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype)


def as_float(frame: pd.DataFrame) -> np.ndarray:
    """Numbers and booleans as a float matrix; missing values (NaN, NA, None) become NaN."""
    if not isinstance(frame, pd.DataFrame):
        return np.asarray(frame, dtype="float64")
    if frame.shape[1] == 0:
        return np.empty((len(frame), 0))
    return np.column_stack([frame[c].to_numpy(dtype="float64", na_value=np.nan)
                            for c in frame.columns])


def as_text(frame: pd.DataFrame) -> np.ndarray:
    """Categories as an object matrix of strings; missing values stay NaN for the imputer.

    Booleans and numbers-as-categories become their text, so one column never mixes types
    (which :class:`~sklearn.preprocessing.OneHotEncoder` refuses).
    """
    values = frame.to_numpy(dtype=object) if isinstance(frame, pd.DataFrame) else np.asarray(
        frame, dtype=object)
    missing = pd.isna(values)
    out = values.astype(str).astype(object)
    out[missing] = np.nan
    return out


def preprocessor():
    """The shared :class:`~sklearn.compose.ColumnTransformer`.

    Numeric branch: median imputation, then standard scaling. Categorical branch: missing
    values become their own level ``"missing"``, then one-hot encoding with
    ``handle_unknown="ignore"`` (a level first seen in a test fold is all zeros). Dense output,
    because histogram gradient boosting takes no sparse input.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

    numeric = Pipeline([
        ("to_float", FunctionTransformer(as_float, feature_names_out="one-to-one")),
        ("impute", SimpleImputer(strategy="median")),
        ("scale", StandardScaler()),
    ])
    categorical = Pipeline([
        ("to_text", FunctionTransformer(as_text, feature_names_out="one-to-one")),
        ("impute", SimpleImputer(strategy="constant", fill_value="missing")),
        ("one_hot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
    ])
    return ColumnTransformer([("numeric", numeric, numeric_columns),
                              ("categorical", categorical, categorical_columns)],
                             sparse_threshold=0.0, verbose_feature_names_out=False)
