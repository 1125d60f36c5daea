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

Fits and scalar predictions do not call scipy's ``hyp2f1``: after Pfaff's transformation,
``Phi = 2F1(k, 1; a+1; zeta)`` with ``zeta = z/(z-1)`` is a power series whose coefficients
``(k)_j/(a+1)_j`` depend on the frequency alone, so its value and its derivatives in ``k``,
``a`` and ``zeta`` are a few matrix products per frequency group (:func:`_log_scaled_integral`)
and the log-likelihood has an analytic gradient, taken on the same branch (``alpha >= beta``
or not) as the value. For ``z > 1/3`` Euler's transformation gives a series of positive terms
instead (:func:`_far_terms`). Parameter draws (:mod:`retaillab.clv.uncertainty`) still go
through ``hyp2f1`` (:func:`_log_integral`).
"""

from __future__ import annotations

import math

import numpy as np

from retaillab.clv._engine import _order_by, groups, unique_rows
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


#: Rows per block of the series evaluation (its powers of zeta, up to ~20 x this many
#: floats, stay in L2 cache).
_BLOCK = 4096
#: |zeta| up to which Phi is summed as a series (at most ~63 terms); beyond (z > 1/3, e.g.
#: alpha > 2 beta and t small), Euler's transformation (:func:`_far_terms`)
_SERIES_MAX = 0.5
_SERIES_TOL = 1e-17


def _blocks(lo: int, hi: int) -> list[tuple[int, int]]:
    return [(i, min(i + _BLOCK, hi)) for i in range(lo, hi, _BLOCK)]


def _n_terms(zmax: float) -> int:
    """Terms of the series for ``|zeta| <= zmax``: the first ``n`` with ``n zmax^(n-1)``
    (a bound on the first omitted term of Phi and of its derivatives) below 1e-17."""
    n = 2
    while n * zmax ** (n - 1) > _SERIES_TOL:
        n += 1
    return n


_N_MAX = _n_terms(_SERIES_MAX)


def _coefficients(k: np.ndarray, a: np.ndarray, n: int) -> np.ndarray:
    """Per group: coefficients of the powers ``zeta^1 .. zeta^(n-1)`` in ``Phi``,
    ``dPhi/dk``, ``dPhi/da`` and ``dPhi/dzeta`` (``[group, 4, power - 1]``), and the
    constant terms (``[group, 4]``).

    ``Phi(zeta) = 2F1(k, 1; a + 1; zeta) = sum_j c_j zeta^j`` with ``c_j = (k)_j / (a+1)_j``,
    so ``dc_j/dk = c_j sum_{i<j} 1/(k+i)`` and ``dc_j/da = -c_j sum_{i<j} 1/(a+1+i)``.
    """
    j = np.arange(n - 1)
    kk, aa = k[:, None] + j, a[:, None] + 1.0 + j
    c = np.ones((len(k), n))
    c[:, 1:] = np.cumprod(kk / aa, axis=1)
    hk = np.zeros((len(k), n))
    hk[:, 1:] = np.cumsum(1.0 / kk, axis=1)
    ha = np.zeros((len(k), n))
    ha[:, 1:] = np.cumsum(1.0 / aa, axis=1)
    coef = np.zeros((len(k), 4, n))
    coef[:, 0] = c
    coef[:, 1] = c * hk
    coef[:, 2] = -c * ha
    coef[:, 3, :-1] = (j + 1) * c[:, 1:]
    return coef


def _log_scaled_integral(t, k, a, codes, coef, m, mn, grad: bool):
    """``Q = log(a I(t; p, q))`` (module docstring) and its derivatives in ``a``, ``k``,
    ``m = max(alpha, beta)`` and ``mn = min(alpha, beta)``, for rows sorted by group.

    With ``zeta = -(m - mn) / (mn + t) = z / (z - 1)``, Pfaff's transformation gives
    ``Q = -(a - k) log(m + t) - k log(mn + t) + log Phi(zeta)``; ``Phi`` and its
    derivatives are polynomials in ``zeta`` with per-group coefficients (:func:`_coefficients`),
    summed as one matrix product per group of rows. Terms of an alternating series of
    decreasing terms, all below 1 in size, so there is no cancellation. Rows with
    ``|zeta| > 1/2`` (``z > 1/3``) take another series (:func:`_far_terms`).
    ``k`` and ``a`` are per-row arrays (or numbers); ``codes`` index the groups of ``coef``.
    """
    lm = np.log(m + t)
    ln = np.log(mn + t)
    zeta = -(m - mn) / (mn + t)
    far = zeta < -_SERIES_MAX
    if far.any():
        zeta = np.where(far, 0.0, zeta)
    n = _n_terms(float(-zeta.min())) if len(zeta) else 2
    powers = np.empty((n - 1, len(zeta)))  # zeta^1 .. zeta^(n-1), one contiguous row each
    powers[0] = zeta
    for i in range(1, n - 1):
        np.multiply(powers[i - 1], zeta, out=powers[i])
    sums = np.empty((4, len(zeta)))
    cuts = np.flatnonzero(codes[1:] != codes[:-1]) + 1
    for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, len(zeta)], strict=True):
        g = coef[codes[lo]]
        sums[:, lo:hi] = g[:, :1] + g[:, 1:n] @ powers[:, lo:hi]
    q = -(a - k) * lm - k * ln + np.log(sums[0])
    if not grad:
        if far.any():
            q[far] = _far_terms(t, k, a, m, mn, far, False)[0]
        return q, None
    inv = 1.0 / sums[0]
    rz = sums[3] * inv
    mnt = 1.0 / (mn + t)
    parts = np.empty((4, len(zeta)))
    parts[0] = sums[2] * inv - lm  # d/da
    parts[1] = lm - ln + sums[1] * inv  # d/dk
    parts[2] = -(a - k) / (m + t) - rz * mnt  # d/dm
    parts[3] = (rz * (m + t) * mnt - k) * mnt  # d/dmn
    if far.any():
        q[far], parts[:, far] = _far_terms(t, k, a, m, mn, far, True)
    return q, parts


_FAR_TERMS = 4000  # at most this many terms of Psi's series (z <= ~0.99), then scipy


def _far_terms(t, k, a, m, mn, far, grad: bool):
    """:func:`_log_scaled_integral` for the rows ``far`` (``z > 1/3``).

    Euler's transformation ``2F1(a, k; a+1; z) = (1-z)^(1-k) Psi``, ``Psi = 2F1(1, b; a+1;
    z) = sum_j (b)_j / (a+1)_j z^j`` with ``b = a + 1 - k > 0``: positive terms whose ratio
    is below ``z``, so ``1 <= Psi <= 1/(1-z)``, no cancellation and no overflow; derivatives
    in ``a``, ``k`` and ``z`` from the terms as they are summed. Rows whose series has not
    converged after :data:`_FAR_TERMS` terms (z very close to 1) take scipy's ``hyp2f1``
    with central differences in ``a`` and ``k``.
    """
    t, k, a = (np.broadcast_to(v, far.shape)[far].astype(float) for v in (t, k, a))
    lm, ln = np.log(m + t), np.log(mn + t)
    z = (m - mn) / (m + t)
    log_psi, d_b, d_c, d_z, done = _psi_series(a + 1.0 - k, a + 1.0, z, grad)
    if not done.all():
        rest = ~done
        lp = _log_psi_scipy(a[rest], k[rest], z[rest])
        log_psi[rest] = lp
        if grad:
            h = 1e-5
            ha, hk = h * a[rest], h * k[rest]
            up_a = _log_psi_scipy(a[rest] + ha, k[rest], z[rest])
            dn_a = _log_psi_scipy(a[rest] - ha, k[rest], z[rest])
            up_k = _log_psi_scipy(a[rest], k[rest] + hk, z[rest])
            dn_k = _log_psi_scipy(a[rest], k[rest] - hk, z[rest])
            # b = a + 1 - k, c = a + 1: d/da = d_b + d_c, d/dk = -d_b
            d_b[rest] = -(up_k - dn_k) / (2 * hk)
            d_c[rest] = (up_a - dn_a) / (2 * ha) - d_b[rest]
            # d/dz 2F1(a, k; a+1; z) = a ((1-z)^-k - 2F1) / z, and (1-z)^-k / 2F1 =
            # 1 / ((1-z) Psi): no differences in z, which is close to 1 here
            zs, ks, one_z = z[rest], k[rest], (mn + t[rest]) / (m + t[rest])
            d_z[rest] = (a[rest] * np.expm1(-np.log(one_z) - lp) / zs
                         + (1.0 - ks) / one_z)
    log_1mz = ln - lm
    q = -a * lm + (1.0 - k) * log_1mz + log_psi
    if not grad:
        return q, None
    g_a = d_b + d_c
    g_k = -log_1mz - d_b
    g_z = -(1.0 - k) * np.exp(-log_1mz) + d_z
    parts = np.empty((4, len(t)))
    parts[0] = g_a - lm
    parts[1] = g_k
    parts[2] = -a / (m + t) + g_z * (mn + t) / (m + t) ** 2
    parts[3] = -g_z / (m + t)
    return q, parts


def _psi_series(b, c, z, grad: bool):
    """``log Psi`` and ``dlogPsi/db``, ``dlogPsi/dc``, ``dlogPsi/dz`` for
    ``Psi = sum_j (b)_j/(c)_j z^j`` (``0 < b <= c``, ``0 < z < 1``), summed term by term
    for all rows at once, dropping rows as they converge; and which rows converged."""
    n = len(z)
    total, s_b, s_c, s_n = np.ones(n), np.zeros(n), np.zeros(n), np.zeros(n)
    done = np.zeros(n, dtype=bool)
    rows = np.arange(n)
    e, hb, hc = np.ones(n), np.zeros(n), np.zeros(n)
    bb, cc, zz = b.copy(), c.copy(), z.copy()
    tail = 1.0 / (1.0 - zz) ** 2  # sum_j (j+1) z^j: bounds what the terms left can add
    for j in range(_FAR_TERMS):
        hb += 1.0 / (bb + j)
        hc += 1.0 / (cc + j)
        e *= (bb + j) / (cc + j) * zz
        total[rows] += e
        if grad:
            s_b[rows] += e * hb
            s_c[rows] -= e * hc
            s_n[rows] += (j + 1) * e
        if j % 8 == 7:  # drop converged rows now and then
            ok = e * (j + 2) * tail * (1.0 + hb + hc) <= 1e-17 * total[rows]
            if ok.any():
                done[rows[ok]] = True
                keep = ~ok
                rows, e, hb, hc = rows[keep], e[keep], hb[keep], hc[keep]
                bb, cc, zz, tail = bb[keep], cc[keep], zz[keep], tail[keep]
                if not len(rows):
                    break
    inv = 1.0 / total
    return np.log(total), s_b * inv, s_c * inv, s_n * inv / z, done


def _log_psi_scipy(a, k, z):
    """``log 2F1(1, a + 1 - k; a + 1; z)`` by scipy (no overflow: between 0 and
    ``-log(1-z)``); where scipy fails, from :func:`log_hyp2f1_c_is_a_plus_1`."""
    from scipy.special import hyp2f1

    out = np.log(hyp2f1(1.0, a + 1.0 - k, a + 1.0, z))
    bad = ~np.isfinite(out)
    if bad.any():
        out[bad] = (log_hyp2f1_c_is_a_plus_1(a[bad], k[bad], z[bad])
                    - (1.0 - k[bad]) * np.log1p(-z[bad]))
    return out


class ParetoNBD(TransactionModel):
    """Pareto/NBD: Poisson purchases at ``lambda ~ Gamma(r, alpha)``, an exponential lifetime
    with rate ``mu ~ Gamma(s, beta)``.

    Keyword-only hyperparameters as :class:`retaillab.clv.BetaGeo`. The log-likelihood and
    its analytic gradient come from one series per term (:func:`_log_scaled_integral`),
    whose coefficients depend on the frequency alone.
    """

    _names = ("r", "alpha", "s", "beta")
    _has_gradient = True

    # -- the likelihood: per-evaluation constants, blocks of rows ------------------------
    @staticmethod
    def _constants(theta, xu):
        """What one evaluation shares across rows: the branch (``alpha >= beta``), ``m``,
        ``mn``, each term's ``k`` per frequency group and its series coefficients."""
        r, alpha, s, beta = (float(v) for v in theta)
        ge = alpha >= beta
        a = r + s + xu
        if ge:
            k1, k2 = np.full(len(xu), s + 1.0), np.full(len(xu), s)
        else:
            k1, k2 = r + xu, r + xu + 1.0
        return (r, alpha, s, beta, ge, max(alpha, beta), min(alpha, beta),
                _coefficients(k1, a, _N_MAX), _coefficients(k2, a, _N_MAX))

    @staticmethod
    def _per_frequency(theta, xu, grad: bool):
        """``log Gamma(r+x) alpha^r beta^s / Gamma(r) - log(r + s + x)`` per frequency and
        its gradient (``[group, 4]``)."""
        from scipy.special import digamma, gammaln

        r, alpha, s, beta = (float(v) for v in theta)
        a = r + s + xu
        value = (gammaln(r + xu) - gammaln(r) + r * math.log(alpha) + s * math.log(beta)
                 - np.log(a))
        if not grad:
            return value, None
        g = np.empty((len(xu), 4))
        g[:, 0] = digamma(r + xu) - digamma(r) + math.log(alpha) - 1.0 / a
        g[:, 1] = r / alpha
        g[:, 2] = math.log(beta) - 1.0 / a
        g[:, 3] = s / beta
        return value, g

    @staticmethod
    def _to_params(parts, ge: bool) -> np.ndarray:
        """Derivatives in (a, k, m, mn) to (r, alpha, s, beta), for either branch."""
        da, dk, dm, dmn = parts
        if ge:  # m = alpha, mn = beta, k = s (+1)
            return np.stack([da, dm, da + dk, dmn])
        return np.stack([da + dk, dmn, da, dm])  # m = beta, mn = alpha, k = r + x (+1)

    @staticmethod
    def _term1(c, x, tx, codes, grad: bool):
        """Term 1, ``log s + Q(t_x; k1, a)``, and its gradient in the parameters."""
        r, _, s, _, ge, m, mn, coef1, _ = c
        a = r + x + s
        k1 = s + 1.0 if ge else r + x
        q1, p1 = _log_scaled_integral(tx, k1, a, codes, coef1, m, mn, grad)
        if not grad:
            return math.log(s) + q1, None
        g1 = ParetoNBD._to_params(p1, ge)
        g1[2] += 1.0 / s
        return math.log(s) + q1, g1

    def _block(self, c, x, tx, big_t, codes, grad: bool, first=None):
        """Each row's ``logaddexp(term1, term2)`` (the likelihood without its frequency
        part) and, with ``grad``, term 1's weight in it and both terms' gradients
        (``[4, rows]``). ``first`` is term 1 (value, gradient ``[4, 1]``) when it is the
        same for every row (``t_x = 0`` and a single frequency)."""
        r, _, s, _, ge, m, mn, _, coef2 = c
        big_k = r + x
        l1, g1 = self._term1(c, x, tx, codes, grad) if first is None else first
        q2, p2 = _log_scaled_integral(big_t, s if ge else big_k + 1.0, big_k + s, codes,
                                      coef2, m, mn, grad)
        l2 = np.log(big_k) + q2
        d = l1 - l2
        lae = np.maximum(l1, l2) + np.log1p(np.exp(-np.abs(d)))
        if not grad:
            return lae, None
        g2 = self._to_params(p2, ge)
        g2[0] += 1.0 / big_k
        return lae, (1.0 / (1.0 + np.exp(-d)), g1, g2)

    def _problem(self, data, weights):
        """Rows sorted by frequency (as the engine gives them) and grouped by it; the rows
        with ``x = 0`` first, whose term 1 (at ``t_x = 0``) is one value per evaluation."""
        x, tx, big_t = data
        xu, codes, wx = groups(x, weights)
        n0 = int(np.searchsorted(x, 0.0, side="right"))
        return xu, wx, codes, x, tx, big_t, weights, n0

    def _sums(self, theta, problem, grad: bool):
        """Weighted log-likelihood and gradient sums, block by block (no per-row arrays)."""
        xu, wx, codes, x, tx, big_t, w, n0 = problem
        c = self._constants(theta, xu)
        value, g_x = self._per_frequency(theta, xu, grad)
        total = float(wx @ value)
        g = wx @ g_x if grad else None
        first = None
        if n0:  # x = 0: t_x = 0, so term 1 is one value (and gradient) for all these rows
            first = self._term1(c, x[:1], tx[:1], codes[:1], grad)
        for lo, hi in _blocks(0, n0) + _blocks(n0, len(x)):
            part = slice(lo, hi)
            lae, parts = self._block(c, x[part], tx[part], big_t[part], codes[part], grad,
                                     first if hi <= n0 else None)
            wp = w[part]
            total += float(wp @ lae)
            if grad:
                w1, g1, g2 = parts
                ww1 = wp * w1
                g += g1[:, 0] * float(ww1.sum()) if hi <= n0 else g1 @ ww1
                g += g2 @ (wp - ww1)
        return total, g

    def _rows(self, theta, x, tx, big_t, grad: bool):
        """Each customer's log-likelihood (and gradient ``[rows, 4]``), in the given order:
        the rows are sorted by frequency for the series and put back."""
        x, tx, big_t = (np.ravel(v).astype(float) for v in np.broadcast_arrays(x, tx, big_t))
        order = _order_by(x)
        xs, txs, ts = x[order], tx[order], big_t[order]
        xu, codes, _ = groups(xs, np.ones(len(xs)))
        c = self._constants(theta, xu)
        value, g_x = self._per_frequency(theta, xu, grad)
        ll = np.empty(len(xs))
        gr = np.empty((len(xs), 4)) if grad else None
        for lo, hi in _blocks(0, len(xs)):
            part = slice(lo, hi)
            lae, parts = self._block(c, xs[part], txs[part], ts[part], codes[part], grad)
            ll[part] = value[codes[part]] + lae
            if grad:
                w1, g1, g2 = parts
                gr[part] = g_x[codes[part]] + (w1 * g1 + (1.0 - w1) * g2).T
        out = np.empty(len(xs))
        out[order] = ll
        if not grad:
            return out, None
        g_out = np.empty_like(gr)
        g_out[order] = gr
        return out, g_out

    def _loglik(self, theta, x, tx, big_t):
        """Note 009 eq. (22), as the sum of two positive terms."""
        return self._rows(theta, x, tx, big_t, False)[0]

    def _loglik_grad(self, theta, x, tx, big_t):
        return self._rows(theta, x, tx, big_t, True)

    def _log_alive_and_total(self, theta, x, tx, big_t):
        """log of the alive term and of the likelihood, per customer (raveled rows).

        ``theta`` entries may carry a leading axis of parameter draws
        (:mod:`retaillab.clv.uncertainty`); those take scipy's ``hyp2f1`` once per distinct
        (x, t_x) and (x, T) pair (:meth:`_draws_total`).
        """
        from scipy.special import gammaln

        x, tx, big_t = (np.ravel(v) for v in np.broadcast_arrays(x, tx, big_t))
        r, alpha, s, beta = theta
        if all(np.ndim(v) == 0 for v in theta):
            total = self._rows(theta, x, tx, big_t, False)[0]
            log_head = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
        else:
            log_head, total = self._draws_total(theta, x, tx, big_t)
        alive = log_head - (r + x) * np.log(alpha + big_t) - s * np.log(beta + big_t)
        return alive, total

    @staticmethod
    def _draws_total(theta, x, tx, big_t):
        """The log-likelihood under parameter draws, each hypergeometric once per distinct
        (x, t_x) and (x, T); and the log of the frequency part."""
        from scipy.special import gammaln

        (xu,), xinv, _ = unique_rows(x)
        (x1, t1), inv1, _ = unique_rows(x, tx)
        (x2, t2), inv2, _ = unique_rows(x, big_t)
        r, alpha, s, beta = theta  # draws broadcasting against the rows
        head = (gammaln(r + xu) - gammaln(r) + r * np.log(alpha)
                + s * np.log(beta))[..., xinv]
        term1 = (np.log(s) + _log_integral(alpha, beta, t1, r + x1, s + 1))[..., inv1]
        term2 = (np.log(r + x2) + _log_integral(alpha, beta, t2, r + x2 + 1, s))[..., inv2]
        return head, head + np.logaddexp(term1, term2)

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
