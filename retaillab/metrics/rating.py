"""Rating-prediction metrics: how far predicted ratings are from the true ones.

The four scalar metrics are pure functions of two aligned arrays ``(y_true, y_pred)``.
:func:`rating` and :func:`rating_per_user` take the frames a recommender works with:
``predictions`` from :meth:`Recommender.predict` (column ``prediction``) and the ``test``
interactions (column ``rating``), aligned by their index.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from retaillab.data.schema import COLUMNS as C
from retaillab.errors import DataError
from retaillab.metrics._util import require, values_array

PREDICTION = "prediction"


def _pair(y_true: object, y_pred: object) -> tuple[np.ndarray, np.ndarray]:
    true, pred = values_array(y_true, "y_true"), values_array(y_pred, "y_pred")
    if true.size != pred.size:
        raise DataError(f"y_true has {true.size:,} values but y_pred has {pred.size:,}",
                        fix="pass one prediction per true value, in the same order")
    return true, pred


def rmse(y_true: object, y_pred: object) -> float:
    """Root mean squared error: ``sqrt(mean((y_true - y_pred) ** 2))``."""
    true, pred = _pair(y_true, y_pred)
    return float(np.sqrt(np.mean((true - pred) ** 2)))


def mae(y_true: object, y_pred: object) -> float:
    """Mean absolute error: ``mean(|y_true - y_pred|)``."""
    true, pred = _pair(y_true, y_pred)
    return float(np.mean(np.abs(true - pred)))


def _one_minus_ratio(residual: float, total: float) -> float:
    """``1 - residual / total``; for constant ``y_true`` (total 0): 1 if perfect, else 0."""
    if total == 0:
        return 1.0 if residual == 0 else 0.0
    return float(1.0 - residual / total)


def r2(y_true: object, y_pred: object) -> float:
    """Coefficient of determination: ``1 - sum((y - ŷ)²) / sum((y - mean(y))²)``.

    For constant ``y_true`` the ratio is undefined; as in scikit-learn the result is 1.0 for a
    perfect prediction and 0.0 otherwise.
    """
    true, pred = _pair(y_true, y_pred)
    return _one_minus_ratio(float(np.sum((true - pred) ** 2)),
                            float(np.sum((true - true.mean()) ** 2)))


def explained_variance(y_true: object, y_pred: object) -> float:
    """Explained variance: ``1 - Var(y - ŷ) / Var(y)``.

    Unlike :func:`r2` a constant bias in the predictions is not penalised. Constant
    ``y_true`` gives 1.0 for a zero-variance residual, else 0.0 (as in scikit-learn).
    """
    true, pred = _pair(y_true, y_pred)
    return _one_minus_ratio(float(np.var(true - pred)), float(np.var(true)))


def _aligned(predictions: object, test: object, test_columns: list[str]) -> pd.DataFrame:
    """Test rows with their ``prediction``, matched by index label.

    The two indexes must hold the same labels: equal as they are, or (when unique) the same
    set in another order. Where both frames have ``user``/``item`` columns they must agree.
    """
    require(predictions, "predictions", [PREDICTION],
            fix="pass the output of Recommender.predict(test)")
    require(test, "test", test_columns)
    if len(predictions) != len(test):
        raise DataError(f"predictions has {len(predictions):,} rows but test has "
                        f"{len(test):,}; they must be aligned row for row by index",
                        source="predictions", fix="pass model.predict(test) for this same test")
    pred = predictions
    if not predictions.index.equals(test.index):
        if not (predictions.index.is_unique and test.index.is_unique):
            raise DataError("the predictions index differs from the test index and has "
                            "repeated labels, so rows cannot be matched", source="predictions",
                            fix="keep the index predict() returned (do not reset it)")
        absent = test.index.difference(predictions.index)
        if len(absent):
            shown = ", ".join(map(repr, absent[:5].tolist()))
            raise DataError(f"{len(absent):,} test index labels have no prediction "
                            f"(e.g. {shown})", source="predictions",
                            fix="keep the index predict() returned (do not reset it)")
        pred = predictions.reindex(test.index)
    frame = test[test_columns].assign(**{PREDICTION: pred[PREDICTION].to_numpy()})
    for col in (C.user, C.item):
        if col in pred.columns and col in test.columns:
            differ = (pred[col].to_numpy() != test[col].to_numpy())
            if np.any(differ):
                raise DataError(f"{int(np.sum(differ)):,} rows have a different {col} in "
                                "predictions and test at the same index label",
                                source="predictions", column=col,
                                fix="pass model.predict(test) for this same test table")
    return frame


def rating(predictions: pd.DataFrame, test: pd.DataFrame) -> dict[str, float]:
    """RMSE, MAE, R² and explained variance of ``predictions['prediction']`` against
    ``test['rating']``, rows matched by index.

    Raises
    ------
    DataError
        When a column is missing, the row counts differ, the indexes do not hold the same
        labels, values are missing, or user/item columns disagree at the same label.
    """
    frame = _aligned(predictions, test, [C.rating])
    true = values_array(frame[C.rating], "test column 'rating'")
    pred = values_array(frame[PREDICTION], "predictions column 'prediction'")
    return {name: fn(true, pred) for name, fn in RATING_METRICS.items()}


def rating_per_user(predictions: pd.DataFrame, test: pd.DataFrame) -> pd.DataFrame:
    """Each test user's RMSE and MAE over their own test rows (index user; columns rmse, mae).

    These are the per-user values to feed :func:`~retaillab.metrics.confidence_interval` or
    :func:`~retaillab.metrics.paired_test`. Their mean differs from :func:`rating`'s, which
    weighs every row (not every user) equally.
    """
    frame = _aligned(predictions, test, [C.user, C.rating])
    true = values_array(frame[C.rating], "test column 'rating'")
    pred = values_array(frame[PREDICTION], "predictions column 'prediction'")
    err = pd.DataFrame({C.user: frame[C.user].to_numpy(), "se": (true - pred) ** 2,
                        "ae": np.abs(true - pred)})
    means = err.groupby(C.user, sort=True)[["se", "ae"]].mean()
    return pd.DataFrame({"rmse": np.sqrt(means["se"]), "mae": means["ae"]})


#: The scalar rating metrics, each ``fn(y_true, y_pred) -> float``.
RATING_METRICS = {"rmse": rmse, "mae": mae, "r2": r2, "explained_variance": explained_variance}
