"""The Pareto/NBD model (Schmittlein, Morrison & Colombo 1987).

Equations follow Fader & Hardie (2005), "A note on deriving the Pareto/NBD model and related
expressions" (note 009). The likelihood (their eq. 22) is rewritten as a sum of two positive
terms, so its log is a ``logaddexp`` without cancellation. For a customer with rates
``lambda, mu``::

    L(lambda, mu) = lambda^x mu/(lambda+mu) e^{-(lambda+mu) t_x}
                  + lambda^(x+1)/(lambda+mu) e^{-(lambda+mu) T}

and, writing ``1/(lambda+mu) = int_t^inf e^{-(lambda+mu)u} du`` and integrating over the gamma
mixing distributions, each term is ``Gamma(r+x) alpha^r beta^s / Gamma(r)`` times an integral

    I(t; p, q) = int_t^inf (alpha+u)^-p (beta+u)^-q du
               = (m+t)^(1-p-q) / (p+q-1) * 2F1(p+q-1, k; p+q; |alpha-beta|/(m+t))

with ``m = max(alpha, beta)`` and ``k = q`` if ``alpha >= beta`` else ``p``. Every
hypergeometric here has positive parameters, ``c = a + 1`` and ``0 <= z < 1``, so
``1 <= 2F1 <= (1-z)^-k``; where that bound could overflow, Pfaff's transformation
``2F1(a,k;a+1;z) = (1-z)^-k 2F1(1,k;a+1;z/(z-1))`` is evaluated in log space instead.
"""

from __future__ import annotations

import numpy as np

from retaillab.clv._engine import unique_rows
from retaillab.clv._transaction import TransactionModel

__all__ = ["ParetoNBD"]

_OVERFLOW_GUARD = 600.0  # log of the largest 2F1 evaluated directly


def log_hyp2f1_c_is_a_plus_1(a, k, z) -> np.ndarray:
    """``log 2F1(a, k; a + 1; z)`` for ``a, k > 0`` and ``0 <= z < 1``, without overflow."""
    from scipy.special import hyp2f1

    a, k, z = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (a, k, z)))
    log1mz = np.log1p(-z)
    direct = -k * log1mz < _OVERFLOW_GUARD
    if direct.all():  # the common case, without masking
        return np.log(hyp2f1(a, k, a + 1, z))
    out = np.empty(a.shape)
    if direct.any():
        out[direct] = np.log(hyp2f1(a[direct], k[direct], a[direct] + 1, z[direct]))
    far = ~direct
    if far.any():
        zf = z[far]
        out[far] = -k[far] * log1mz[far] + np.log(hyp2f1(1.0, k[far], a[far] + 1,
                                                         zf / (zf - 1)))
    return out


def _log_integral(alpha, beta, t, p, q) -> np.ndarray:
    """``log I(t; p, q)`` (module docstring), ``p + q > 1``; ``alpha`` and ``beta`` may be
    arrays (parameter draws), the branch on ``alpha >= beta`` is then taken per element."""
    if np.ndim(alpha) == 0 and np.ndim(beta) == 0:
        if alpha >= beta:
            top, k, z = alpha, q, (alpha - beta) / (alpha + t)
        else:
            top, k, z = beta, p, (beta - alpha) / (beta + t)
    else:
        top = np.maximum(alpha, beta)
        k = np.where(alpha >= beta, q, p)
        z = np.abs(alpha - beta) / (top + t)
    a = p + q - 1
    return -a * np.log(top + t) - np.log(a) + log_hyp2f1_c_is_a_plus_1(a, k, z)


def _lifetime_integral(s, base, t):
    """``int_0^t (base / (base + u))^s du``: ``base / (s - 1) (1 - (base / (base + t))^(s-1))``,
    ``base log(1 + t / base)`` at ``s = 1`` (per element when ``s`` is an array of draws)."""
    if np.ndim(s) == 0:
        if abs(s - 1) < 1e-8:
            return np.log1p(t / base) * base
        return base / (s - 1) * (1 - (base / (base + t)) ** (s - 1))
    near = np.abs(s - 1) < 1e-8
    sm1 = np.where(near, 1.0, s - 1)
    return np.where(near, np.log1p(t / base) * base,
                    base / sm1 * (1 - (base / (base + t)) ** sm1))


class ParetoNBD(TransactionModel):
    """Pareto/NBD: Poisson purchases at ``lambda ~ Gamma(r, alpha)``, an exponential lifetime
    with rate ``mu ~ Gamma(s, beta)``.

    Keyword-only hyperparameters as :class:`retaillab.clv.BetaGeo`. The gradient is taken by
    central differences of the vectorised log-likelihood (the hypergeometric function has no
    cheap parameter derivatives); the likelihood is smooth, so this is well behaved.
    """

    _names = ("r", "alpha", "s", "beta")

    def _log_alive_and_total(self, theta, x, tx, big_t, prep=None):
        """log of the alive term and of the likelihood; ``prep`` (from :meth:`_prepare`)
        evaluates each hypergeometric once per distinct (x, t_x) and (x, T)."""
        from scipy.special import gammaln

        if prep is None:  # predictions: each hypergeometric once per distinct pair
            x, tx, big_t = (np.ravel(v) for v in np.broadcast_arrays(x, tx, big_t))
            prep = self._prepare((x, tx, big_t))[3:]
        (xu, xinv), (x1, t1, inv1), (x2, t2, inv2) = prep
        r, alpha, s, beta = theta  # each a number, or draws broadcasting against the rows
        head = (gammaln(r + xu) - gammaln(r) + r * np.log(alpha)
                + s * np.log(beta))[..., xinv]
        term1 = (np.log(s) + _log_integral(alpha, beta, t1, r + x1, s + 1))[..., inv1]
        term2 = (np.log(r + x2) + _log_integral(alpha, beta, t2, r + x2 + 1, s))[..., inv2]
        total = head + np.logaddexp(term1, term2)
        alive = head - (r + x) * np.log(alpha + big_t) - s * np.log(beta + big_t)
        return alive, total

    @staticmethod
    def _prepare(data):
        x, tx, big_t = data[:3]
        (xu,), xinv, _ = unique_rows(x)
        pairs = []
        for t in (tx, big_t):
            (xp, tp), inv, _ = unique_rows(x, t)
            pairs.append((xp, tp, inv))
        return (x, tx, big_t, (xu, xinv), *pairs)

    def _loglik(self, theta, x, tx, big_t, *prep):
        """Note 009 eq. (22), as the sum of two positive terms."""
        return self._log_alive_and_total(theta, x, tx, big_t, prep or None)[1]

    def _p_alive(self, theta, x, tx, big_t):
        """Note 009 eq. (24): the alive term of the likelihood over the whole likelihood."""
        shape = np.broadcast(x, tx, big_t).shape
        alive, total = self._log_alive_and_total(theta, x, tx, big_t)
        out = np.exp(np.minimum(alive - total, 0.0))
        return out.reshape(out.shape[:-1] + shape)  # a leading axis of draws, if any

    def _expected(self, theta, t):
        """Note 009 eq. (27) (s != 1; s = 1 by its limit)."""
        r, alpha, s, beta = theta
        if abs(s - 1) < 1e-8:
            return r * beta / alpha * np.log1p(t / beta)
        return r * beta / (alpha * (s - 1)) * (1 - (beta / (beta + t)) ** (s - 1))

    def _conditional(self, theta, t, x, tx, big_t):
        """Note 009 eq. (28)."""
        return self._given_alive(theta, t, x, big_t) * self._p_alive(theta, x, tx, big_t)

    def _given_alive(self, theta, t, x, big_t):
        """E[Y(t) | alive at T, x, T]: note 009 eq. (28) without its P(alive) factor.
        ``theta`` entries may carry a leading axis of parameter draws."""
        r, alpha, s, beta = theta
        return (r + x) / (alpha + big_t) * _lifetime_integral(s, beta + big_t, t)
