"""The Gamma-Gamma model of spend per transaction (Fader, Hardie & Lee 2005b; Fader & Hardie
2013, "The Gamma-Gamma Model of Monetary Value", note 025).

A customer's transaction values are ``z ~ Gamma(p, nu)`` with ``nu ~ Gamma(q, gamma)`` across
customers; the model is fitted on the mean repeat spend ``m_x`` of customers with ``x > 0``
repeat purchases. Equation numbers refer to note 025.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd

from retaillab.clv._engine import Fitter
from retaillab.clv._validate import FREQUENCY, MONETARY, numeric_columns
from retaillab.errors import DataError, ParameterError

__all__ = ["GammaGamma"]


def _spend_arrays(summary: pd.DataFrame, source: str, *, warn: bool) -> tuple[np.ndarray, ...]:
    x, m = numeric_columns(summary, (FREQUENCY, MONETARY), source)
    if np.any(x < 0):
        raise DataError("frequency must be >= 0", source=source, column=FREQUENCY,
                        n_bad=int(np.sum(x < 0)),
                        fix="frequency counts repeat purchases: distinct purchase days - 1")
    repeat = x > 0
    bad = repeat & (m <= 0)
    if bad.any() and warn:
        warnings.warn(
            f"{source}: dropped {int(bad.sum())} of {int(repeat.sum())} repeat customers with "
            "zero or negative monetary_value (the Gamma-Gamma model needs positive spend; "
            "returns and free orders should be netted out or removed first)",
            UserWarning, stacklevel=3)
    keep = repeat & (m > 0)
    if not keep.any():
        raise DataError("no customer has frequency > 0 and a positive monetary_value",
                        source=source, column=MONETARY,
                        fix="the Gamma-Gamma model is fitted on repeat customers' mean spend")
    return x[keep], m[keep]


class GammaGamma(Fitter):
    """Gamma-Gamma spend model: ``fit(summary)`` uses customers with ``frequency > 0``.

    Customers with zero or negative ``monetary_value`` among them are dropped with a
    ``UserWarning`` that counts them.
    """

    _names = ("p", "q", "gamma")
    _has_gradient = True

    def fit(self, summary: pd.DataFrame, *,
            fixed: Mapping[str, float] | None = None) -> GammaGamma:
        """Fit by maximum likelihood (note 025, eq. 3); ``fixed`` (name -> value) holds some
        parameters at given values (as :meth:`retaillab.clv.BetaGeo.fit`)."""
        data = _spend_arrays(summary, "GammaGamma.fit", warn=True)
        self._fit_arrays(data, len(data[0]), fixed)
        return self

    def _data(self, summary):
        return _spend_arrays(summary, "GammaGamma", warn=False)

    def _start(self, data) -> np.ndarray:
        _, m = data
        return np.array([1.0, 2.0, float(np.mean(m))])

    @staticmethod
    def _parts(theta, x, m, grad: bool):
        from scipy.special import digamma, gammaln

        p, q, g = theta
        px = p * x
        log_gm = np.log(g + m * x)
        ll = (gammaln(px + q) - gammaln(px) - gammaln(q) + q * np.log(g)
              + (px - 1) * np.log(m) + px * np.log(x) - (px + q) * log_gm)
        if not grad:
            return ll, None
        dpq = digamma(px + q)
        out = np.empty((len(x), 3))
        out[:, 0] = x * (dpq - digamma(px) + np.log(m) + np.log(x) - log_gm)
        out[:, 1] = dpq - digamma(q) + np.log(g) - log_gm
        out[:, 2] = q / g - (px + q) / (g + m * x)
        return ll, out

    def _loglik(self, theta, x, m):
        """log f(m_x | p, q, gamma, x), note 025 eq. (3)."""
        return self._parts(theta, x, m, grad=False)[0]

    def _loglik_grad(self, theta, x, m):
        return self._parts(theta, x, m, grad=True)

    def conditional_expected_average_profit(self, frequency, monetary_value=None) -> np.ndarray:
        """E[Z | m_x, x] (note 025, eq. 5): a weighted mean of the population mean
        ``p gamma / (q - 1)`` and the customer's ``m_x``; the population mean when ``x = 0``.
        """
        p, q, g = self._fitted_theta()
        if isinstance(frequency, pd.DataFrame):
            x, m = numeric_columns(frequency, (FREQUENCY, MONETARY), "summary")
        else:
            if monetary_value is None:
                raise ParameterError("monetary_value", "given when frequency is not a summary",
                                     None)
            x, m = np.broadcast_arrays(np.asarray(frequency, dtype=float),
                                       np.asarray(monetary_value, dtype=float))
        if q <= 1:
            raise ParameterError("GammaGamma q", "> 1 for a finite mean spend", q)
        return self._spend(np.array([p, q, g]), x, m)

    @staticmethod
    def _spend(theta, x, m):
        """Note 025 eq. (5); ``theta`` entries may carry a leading axis of parameter draws."""
        p, q, g = theta
        return p * (g + x * m) / (p * x + q - 1)

    def expected_average_profit(self) -> float:
        """Population mean spend per transaction, ``p gamma / (q - 1)``."""
        p, q, g = self._fitted_theta()
        return float(p * g / (q - 1)) if q > 1 else float("inf")

    def customer_lifetime_value(self, transaction_model, summary: pd.DataFrame, *,
                                months: int = 12, discount_rate: float = 0.01,
                                unit: str = "W", month_length: float | None = None):
        """Discounted CLV; see :func:`retaillab.clv.customer_lifetime_value`."""
        from retaillab.clv.value import customer_lifetime_value

        return customer_lifetime_value(transaction_model, self, summary, months=months,
                                       discount_rate=discount_rate, unit=unit,
                                       month_length=month_length)
