"""What every transaction (purchase-count) model offers: fit on an RFM summary, then predict."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from retaillab.clv._engine import Fitter
from retaillab.clv._validate import FREQUENCY, RECENCY, T, transaction_summary
from retaillab.errors import ParameterError


def _as_arrays(frequency, recency, big_t) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if isinstance(frequency, pd.DataFrame):
        summary = frequency
        return transaction_summary(summary, "summary")
    if recency is None or big_t is None:
        raise ParameterError("recency and T", "given when frequency is not a summary "
                             "DataFrame", (recency, big_t))
    x, tx, tt = np.broadcast_arrays(*(np.asarray(v, dtype=float)
                                      for v in (frequency, recency, big_t)))
    frame = pd.DataFrame({FREQUENCY: x.ravel(), RECENCY: tx.ravel(), T: tt.ravel()})
    checked = transaction_summary(frame, "arrays")
    return tuple(v.reshape(x.shape) for v in checked)  # type: ignore[return-value]


def _as_time(t, name: str = "t") -> np.ndarray:
    arr = np.asarray(t, dtype=float)
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ParameterError(name, "finite and >= 0 (in the summary's time unit)", t)
    return arr


class TransactionModel(Fitter):
    """A BTYD purchase model: ``fit(summary)`` on ``frequency``, ``recency``, ``T``.

    Prediction methods take either a summary DataFrame as ``frequency`` or three arrays.
    """

    def fit(self, summary: pd.DataFrame, *,
            fixed: Mapping[str, float] | None = None) -> TransactionModel:
        """Fit by maximum likelihood on a calibration summary (see :func:`rfm_summary`).

        ``fixed`` (name -> value) holds some parameters at given values and estimates the
        others: a restricted model, for :func:`retaillab.clv.likelihood_ratio_test` (they
        get standard error 0 and are listed in ``fixed_``).

        Raises
        ------
        DataError
            Missing columns, negative or fractional frequency, recency greater than T, ...
        FitError
            The optimiser found no usable optimum (the message suggests what to try).
        """
        data = self._data(summary)
        self._fit_arrays(data, len(data[0]), fixed)
        return self

    def _data(self, summary: pd.DataFrame):
        return transaction_summary(summary, type(self).__name__ + ".fit")

    def _start(self, data) -> np.ndarray:
        x, _, big_t = data
        alpha = max(float(np.mean(big_t)), 1e-3) / max(float(np.mean(x)) + 1.0, 1.0)
        return np.array([1.0, alpha, 1.0, 1.0 if self._names[3] != "beta" else alpha])

    def conditional_probability_alive(self, frequency, recency=None, T=None) -> np.ndarray:
        """P(alive at T | frequency, recency, T) for each customer."""
        x, tx, big_t = _as_arrays(frequency, recency, T)
        with np.errstate(all="ignore"):
            return self._p_alive(self._fitted_theta(), x, tx, big_t)

    def expected_purchases(self, t) -> np.ndarray:
        """E[X(t)]: repeat purchases of a new customer in ``(0, t]`` (unconditional)."""
        theta = self._fitted_theta()
        with np.errstate(all="ignore"):
            return self._expected(theta, _as_time(t))

    def conditional_expected_purchases(self, t, frequency, recency=None, T=None) -> np.ndarray:
        """E[Y(t) | frequency, recency, T]: expected purchases in ``(T, T + t]``."""
        x, tx, big_t = _as_arrays(frequency, recency, T)
        theta = self._fitted_theta()
        with np.errstate(all="ignore"):
            return self._conditional(theta, _as_time(t), x, tx, big_t)

    # subclasses
    def _p_alive(self, theta, x, tx, big_t):  # pragma: no cover - abstract
        raise NotImplementedError

    def _expected(self, theta, t):  # pragma: no cover - abstract
        raise NotImplementedError

    def _conditional(self, theta, t, x, tx, big_t):  # pragma: no cover - abstract
        raise NotImplementedError
