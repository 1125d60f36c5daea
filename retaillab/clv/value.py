"""Discounted customer lifetime value from a purchase model and a spend model.

Definition (the lifetimes convention, made explicit): with ``L`` the length of a month in the
summary's time unit and ``d`` the monthly discount rate,

    CLV = sum_{i=1..months} E[spend] * (E[Y(i L) | x, t_x, T] - E[Y((i-1) L) | x, t_x, T])
                                      / (1 + d)^i

where ``E[Y(t) | ...]`` is the model's conditional expected number of purchases in
``(T, T + t]`` and ``E[spend]`` the Gamma-Gamma conditional expected average spend (note 025
eq. 5). Purchases in month ``i`` are discounted as if made at its end. ``L`` defaults to
365.25 / 12 days (4.348 weeks); lifetimes uses 4.345 weeks, pass ``month_length=4.345`` to
reproduce its figures.

For the BTYD models ``E[Y(t) | x, t_x, T] = P(alive | x, t_x, T) E[Y(t) | alive, x, T]``, so
CLV is ``E[spend] P(alive) B(x, T)`` with the discounted bracket ``B`` of expected purchases
given alive, which does not depend on recency. BG/NBD's needs a hypergeometric function per
customer and month (12 million for a million customers and a year); it is smooth in
``log(alpha + T)`` (analytic in a strip of half-width pi around the real line), so for each
frequency with many customers it is evaluated at Chebyshev points in that variable and
interpolated, the degree doubled until the interpolant agrees with the function to 1e-12
(relative) at the points between the nodes; groups that do not converge are evaluated
directly. Pareto/NBD's bracket is closed form and is evaluated directly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from retaillab.clv._occasions import unit_days
from retaillab.errors import ParameterError

__all__ = ["customer_lifetime_value", "month_length"]

DAYS_PER_MONTH = 365.25 / 12
_CHUNK = 200_000  # customers scored at once (bounds memory at months x chunk floats)
#: a frequency group with fewer customers than this is evaluated directly, not interpolated
_MIN_INTERPOLATED = 256
_DEGREES = (16, 32, 64, 128)  # Chebyshev degrees tried, in order
_AGREE = 1e-12  # relative agreement required at the points between the nodes


def month_length(unit: str) -> float:
    """One month (365.25 / 12 days) in ``unit``."""
    return DAYS_PER_MONTH / unit_days(unit)


def customer_lifetime_value(transaction_model, spend_model, summary: pd.DataFrame, *,
                            months: int = 12, discount_rate: float = 0.01, unit: str = "W",
                            month_length: float | None = None) -> pd.Series:
    """Each customer's discounted expected spend over the next ``months`` (module docstring).

    Parameters
    ----------
    transaction_model
        A fitted :class:`BetaGeo`, :class:`ModifiedBetaGeo` or :class:`ParetoNBD`.
    spend_model
        A fitted :class:`GammaGamma`.
    summary
        ``frequency``, ``recency``, ``T``, ``monetary_value`` per customer (in ``unit``).
    months, discount_rate
        Horizon in months and monthly discount rate (0.01 = 1% a month).
    """
    from retaillab.clv._engine import one_blas_thread
    from retaillab.clv._transaction import _as_arrays

    if not isinstance(months, (int, np.integer)) or months < 1:
        raise ParameterError("months", "a whole number >= 1", months)
    if not (isinstance(discount_rate, (int, float)) and 0 <= discount_rate < 1):
        raise ParameterError("discount_rate", "a number in [0, 1) (per month)", discount_rate)
    length = globals()["month_length"](unit) if month_length is None else float(month_length)
    if not length > 0:
        raise ParameterError("month_length", "> 0", month_length)
    spend = spend_model.conditional_expected_average_profit(summary)
    steps = np.arange(1, int(months) + 1, dtype=float)
    ends = steps * length
    weights = (1 + discount_rate) ** -steps
    if hasattr(type(transaction_model), "_given_alive"):
        x, tx, big_t = _as_arrays(summary, None, None)
        theta = transaction_model._fitted_theta()
        with np.errstate(all="ignore"), one_blas_thread():
            alive = transaction_model._p_alive(theta, x, tx, big_t)
            bracket = _bracket(transaction_model, theta, ends, weights, x, big_t)
        return pd.Series(spend * alive * bracket, index=summary.index, name="clv")
    x, tx, big_t = (summary[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
    total = np.empty(len(summary))
    for lo in range(0, len(summary), _CHUNK):  # any other model: its own expectations
        part = slice(lo, lo + _CHUNK)
        cumulative = transaction_model.conditional_expected_purchases(
            ends[:, None], x[part], tx[part], big_t[part])
        in_month = np.diff(cumulative, axis=0, prepend=0.0)
        total[part] = spend[part] * (weights @ in_month)
    return pd.Series(total, index=summary.index, name="clv")


def _direct(model, theta, ends, weights, x, big_t) -> np.ndarray:
    """``sum_i w_i (G(e_i) - G(e_(i-1)))`` with ``G(t) = E[Y(t) | alive, x, T]``, per row."""
    out = np.empty(len(x))
    for lo in range(0, len(x), _CHUNK):
        part = slice(lo, lo + _CHUNK)
        cumulative = model._given_alive(theta, ends[:, None], x[part], big_t[part])
        out[part] = weights @ np.diff(cumulative, axis=0, prepend=0.0)
    return out


def _bracket(model, theta, ends, weights, x, big_t) -> np.ndarray:
    """The discounted bracket per customer (module docstring): direct for Pareto/NBD and
    small groups, Chebyshev interpolation in ``log(alpha + T)`` per frequency otherwise."""
    from retaillab.clv._engine import _order_by, groups
    from retaillab.clv.beta_geo import BetaGeo

    if not isinstance(model, BetaGeo) or len(x) < _MIN_INTERPOLATED:
        return _direct(model, theta, ends, weights, x, big_t)
    alpha = float(theta[1])
    order = _order_by(x)
    xs, ts = x[order], big_t[order]
    _, _, counts = groups(xs, np.ones(len(xs)))
    starts = np.concatenate([[0], np.cumsum(counts).astype(np.intp)])
    out = np.empty(len(xs))
    for g in range(len(counts)):
        part = slice(starts[g], starts[g + 1])
        xg, tg = xs[part], ts[part]
        found = None
        if len(tg) >= _MIN_INTERPOLATED:
            found = _interpolated(model, theta, ends, weights, float(xg[0]), tg, alpha)
        out[part] = found if found is not None else _direct(model, theta, ends, weights,
                                                            xg, tg)
    result = np.empty(len(x))
    result[order] = out
    return result


def _interpolated(model, theta, ends, weights, x: float, big_t: np.ndarray, alpha: float):
    """The bracket of one frequency group by Chebyshev interpolation in ``v = log(alpha+T)``,
    or ``None`` when no degree in :data:`_DEGREES` reaches :data:`_AGREE`."""
    lo_t, hi_t = float(big_t.min()), float(big_t.max())
    lo, hi = np.log(alpha + lo_t), np.log(alpha + hi_t)
    if not hi > lo:
        return None
    mid, half = (hi + lo) / 2, (hi - lo) / 2

    def exact(s: np.ndarray) -> np.ndarray:
        t = np.clip(np.exp(mid + half * s) - alpha, lo_t, hi_t)
        return _direct(model, theta, ends, weights, np.full(len(t), x), t)

    for n in _DEGREES:
        nodes = np.cos(np.pi * np.arange(n + 1) / n)  # Chebyshev-Lobatto points
        values = exact(nodes)
        coef = _chebyshev_coefficients(values)
        between = np.cos(np.pi * (np.arange(n) + 0.5) / n)
        check = exact(between)
        approx = _clenshaw(coef, between)
        scale = np.maximum(np.abs(check), 1e-300)
        if np.all(np.isfinite(approx)) and np.max(np.abs(approx - check) / scale) <= _AGREE:
            return _clenshaw(coef, (np.log(alpha + big_t) - mid) / half)
    return None


def _chebyshev_coefficients(values: np.ndarray) -> np.ndarray:
    """Coefficients of the degree-``n`` interpolant through values at ``cos(pi j / n)``
    (a type-I discrete cosine transform, written out: ``n`` is at most 128)."""
    n = len(values) - 1
    j = np.arange(n + 1)
    f = values.copy()
    f[0] /= 2
    f[-1] /= 2
    coef = (2.0 / n) * (np.cos(np.pi * np.outer(j, j) / n) @ f)
    coef[0] /= 2
    coef[-1] /= 2
    return coef


def _clenshaw(coef: np.ndarray, s: np.ndarray) -> np.ndarray:
    """``sum_k coef_k T_k(s)`` by Clenshaw's recurrence, in blocks that stay in cache."""
    out = np.empty(len(s))
    for lo in range(0, len(s), 16_384):
        sp = s[lo:lo + 16_384]
        two_s = 2.0 * sp
        b1 = np.zeros(len(sp))
        b2 = np.zeros(len(sp))
        for c in coef[:0:-1]:
            b1, b2 = two_s * b1 - b2 + c, b1
        out[lo:lo + 16_384] = sp * b1 - b2 + coef[0]
    return out
