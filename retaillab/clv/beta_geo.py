"""BG/NBD (Fader, Hardie & Lee 2005) and MBG/NBD (Batislam, Denizel & Filiztekin 2007).

Equation numbers refer to Fader, Hardie & Lee (2005), "'Counting your customers' the easy
way: an alternative to the Pareto/NBD model", Marketing Science 24(2), and for P(alive) to
Fader, Hardie & Lee (2008), "Computing P(alive) using the BG/NBD model" (note 021).

Both log-likelihoods are computed in log space with ``gammaln`` / ``betaln`` and
``logaddexp``, with analytic gradients. Conditional expectations use Euler's transformation
``2F1(a,b;c;z) = (1-z)^(c-a-b) 2F1(c-a,c-b;c;z)``, which turns the BG/NBD eq. (10) term
``((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; z)`` into
``(1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z)``: bounded, with small numerator parameters,
so it stays finite at any frequency.
"""

from __future__ import annotations

import math

import numpy as np

from retaillab.clv._engine import groups
from retaillab.clv._transaction import TransactionModel

__all__ = ["BetaGeo", "ModifiedBetaGeo"]

#: Rows per block in :meth:`BetaGeo._sums`: its dozen temporaries of this length stay in L2.
_BLOCK = 16_384


class BetaGeo(TransactionModel):
    """The BG/NBD model: Poisson purchases at rate ``lambda ~ Gamma(r, alpha)`` while alive;
    after each repeat purchase the customer drops out with probability ``p ~ Beta(a, b)``.

    Keyword-only hyperparameters: ``penalizer`` (L2 on the parameters, lifetimes' scale),
    ``initial`` (starting values by name), ``tol``, ``max_iter``.

    Example
    -------
    >>> bg = BetaGeo().fit(summary)                              # doctest: +SKIP
    >>> bg.params_                                               # doctest: +SKIP
    {'r': 0.243, 'alpha': 4.414, 'a': 0.793, 'b': 2.426}
    """

    _names = ("r", "alpha", "a", "b")
    _has_gradient = True
    _modified = False

    def _terms(self, theta, x, tx, big_t, grad: bool, xu=None, inv=None):
        """Log of the two likelihood terms and the shared factor (eq. 6), with gradients.

        Everything that depends on the frequency alone is computed once per distinct
        frequency (``xu``, with ``inv`` mapping rows to it): a few dozen values, not one per
        customer.
        """
        from scipy.special import betaln, digamma, gammaln

        if xu is None:
            xu, inv = np.unique(x, return_inverse=True)
        r, alpha, a, b = theta
        m = 1.0 if self._modified else 0.0  # MBG: b+x+1 / a+1,b+x instead of b+x / a+1,b+x-1
        lab = betaln(a, b)
        has3u = (xu > 0) | bool(self._modified)
        b3u = np.where(has3u, b + xu - 1 + m, 1.0)
        a1 = (gammaln(r + xu) - gammaln(r) + r * np.log(alpha))[inv]
        c2 = (betaln(a, b + xu + m) - lab)[inv] - (r + x) * np.log(alpha + big_t)
        has3 = has3u[inv]
        log_tx = np.log(alpha + tx)
        c3 = np.where(has3, (betaln(a + 1, b3u) - lab)[inv] - (r + x) * log_tx, -np.inf)
        total = np.logaddexp(c2, c3)
        ll = a1 + total
        if not grad:
            return ll, None
        w3 = np.exp(c3 - total)
        w2 = 1.0 - w3
        dab = digamma(a + b)
        dabx = digamma(a + b + xu + m)
        db = dab - digamma(b) - dabx
        log_t = np.log(alpha + big_t)
        g = np.empty((len(x), 4))
        g[:, 0] = ((digamma(r + xu) - digamma(r))[inv] + np.log(alpha)
                   - w2 * log_t - w3 * log_tx)
        g[:, 1] = r / alpha - (r + x) * (w2 / (alpha + big_t) + w3 / (alpha + tx))
        g[:, 2] = (dab - dabx)[inv] + w3 * (digamma(a + 1) - digamma(a))
        g[:, 3] = w2 * (digamma(b + xu + m) + db)[inv] + w3 * (
            np.where(has3u, digamma(b3u), 0) + db)[inv]
        return ll, g

    def _prepare(self, data):
        x = data[0]
        xu, inv = np.unique(x, return_inverse=True)
        return (*data, xu, inv)

    def _problem(self, data, weights):
        """The distinct rows (sorted by frequency) split for :meth:`_sums`: the per-frequency
        groups, and first the rows whose likelihood has a single term (BG/NBD's ``x = 0``)."""
        x, tx, big_t = data
        xu, codes, wx = groups(x, weights)
        n_plain = 0 if self._modified else int(np.searchsorted(x, 0.0, side="right"))
        return xu, wx, codes, x, tx, big_t, weights, n_plain

    def _sums(self, theta, problem, grad: bool):
        """The weighted log-likelihood and gradient sums of :meth:`_terms`, without per-row
        arrays: terms of the frequency alone are summed per frequency group, the rest in
        blocks of :data:`_BLOCK` rows so that every temporary stays in cache."""
        from scipy.special import betaln, digamma, gammaln

        xu, wx, codes, x, tx, big_t, w, n_plain = problem
        r, alpha, a, b = (float(v) for v in theta)
        m = 1.0 if self._modified else 0.0
        lab = betaln(a, b)
        has3u = (xu > 0) | bool(self._modified)
        b3u = np.where(has3u, b + xu - 1 + m, 1.0)
        b2 = betaln(a, b + xu + m) - lab
        gap = np.where(has3u, betaln(a + 1, b3u) - lab - b2, 0.0)  # c3 - c2 at t_x = T
        log_alpha = math.log(alpha)
        total = float(wx @ (gammaln(r + xu) - gammaln(r) + r * log_alpha + b2))
        s_lt = s_klt = s_kit = s_sp = s_w3d = s_kw3 = 0.0
        s3 = np.zeros(len(xu))
        for lo in range(0, n_plain, _BLOCK):  # x = 0 (BG/NBD): -r log(alpha + T) only
            part = slice(lo, min(lo + _BLOCK, n_plain))
            at = alpha + big_t[part]
            s_lt += float(w[part] @ np.log(at))
            if grad:
                s_kit += r * float(w[part] @ (1.0 / at))
        s_klt = r * s_lt
        for lo in range(n_plain, len(x), _BLOCK):
            part = slice(lo, min(lo + _BLOCK, len(x)))
            wp, k = w[part], r + x[part]
            wk = wp * k
            at, ax = alpha + big_t[part], alpha + tx[part]
            log_t = np.log(at)
            diff = np.log(ax) - log_t  # <= 0
            d = gap[codes[part]] - k * diff  # c3 - c2
            e = np.exp(-np.abs(d))
            s_lt += float(wp @ log_t)
            s_klt += float(wk @ log_t)
            s_sp += float(wp @ (np.maximum(d, 0.0) + np.log1p(e)))  # log(1 + e^d)
            if grad:
                q = 1.0 / (1.0 + e)
                w3 = wp * (0.5 + np.copysign(q - 0.5, d))  # w * e^c3 / (e^c2 + e^c3)
                inv_t = 1.0 / at
                s_kit += float(wk @ inv_t)
                s_w3d += float(w3 @ diff)
                s_kw3 += float((w3 * k) @ (1.0 / ax - inv_t))
                c = codes[part]
                s3[c[0]:c[-1] + 1] += np.bincount(c - c[0], w3)
        ll = total - s_klt + s_sp
        if not grad:
            return ll, None
        dab, dabx = digamma(a + b), digamma(a + b + xu + m)
        g = np.empty(4)
        g[0] = float(wx @ (digamma(r + xu) - digamma(r) + log_alpha)) - s_lt - s_w3d
        g[1] = r / alpha * float(wx.sum()) - s_kit - s_kw3
        g[2] = float(wx @ (dab - dabx)) + (digamma(a + 1) - digamma(a)) * float(s3.sum())
        db_x = digamma(b + xu + m)
        g[3] = float(wx @ (db_x + dab - digamma(b) - dabx)) + float(
            s3 @ np.where(has3u, digamma(b3u) - db_x, 0.0))
        return ll, g

    def _loglik(self, theta, x, tx, big_t, xu=None, inv=None):
        return self._terms(theta, x, tx, big_t, False, xu, inv)[0]

    def _loglik_grad(self, theta, x, tx, big_t, xu=None, inv=None):
        return self._terms(theta, x, tx, big_t, True, xu, inv)

    def _odds_dead(self, theta, x, tx, big_t):
        """log of P(dead)/P(alive): note 021 eq. (2); MBG: Batislam et al. eq. (7)."""
        r, alpha, a, b = theta
        if self._modified:
            return np.log(a / (b + x)) + (r + x) * np.log((alpha + big_t) / (alpha + tx))
        safe = np.where(x > 0, b + x - 1, 1.0)
        return np.where(x > 0, np.log(a / safe) + (r + x) * np.log((alpha + big_t)
                                                                    / (alpha + tx)), -np.inf)

    def _p_alive(self, theta, x, tx, big_t):
        from scipy.special import expit

        return expit(-self._odds_dead(theta, x, tx, big_t))

    def _conditional(self, theta, t, x, tx, big_t):
        """Eq. (10) after Euler's transformation (see the module docstring)."""
        return self._given_alive(theta, t, x, big_t) * self._p_alive(theta, x, tx, big_t)

    def _given_alive(self, theta, t, x, big_t):
        """E[Y(t) | alive at T, x, T]: eq. (10) without its P(alive) factor (it does not
        depend on recency). ``theta`` entries may carry a leading axis of parameter draws."""
        from scipy.special import hyp2f1

        r, alpha, a, b = theta
        m = 1.0 if self._modified else 0.0
        z = t / (alpha + big_t + t)
        c = a + b + x - 1 + m
        bracket = 1.0 - (1.0 - z) ** (a - 1) * hyp2f1(a + b - 1 - r + m, a - 1, c, z)
        return c / (a - 1) * bracket

    def _expected(self, theta, t):
        """E[X(t)], eq. (9): eq. (10) for a customer born at 0 with no history. For MBG/NBD
        this includes the chance of dropping out right after the first purchase, giving
        ``b/(a-1) [1 - (alpha/(alpha+t))^r 2F1(r, b+1; a+b; t/(alpha+t))]`` (lifetimes 0.11
        has ``(a+b-1)/(a-1)`` in front, which disagrees with its own conditional formula)."""
        zero = np.zeros_like(t)
        return self._conditional(theta, t, zero, zero, zero)


class ModifiedBetaGeo(BetaGeo):
    """The MBG/NBD model: as BG/NBD, but a customer may also drop out right after the first
    purchase, so customers without repeat purchases are not certainly alive.

    Batislam, Denizel & Filiztekin (2007), "Empirical validation and comparison of models for
    customer base analysis", IJRM 24(3); the likelihood is their eq. (4).
    """

    _modified = True
