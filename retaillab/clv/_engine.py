"""The one maximum-likelihood engine every BTYD and spend model shares.

Like lifetimes' ``BaseFitter._fit``, a model is little more than its named parameters and a
vectorised log-likelihood; this module minimises the negative log-likelihood over the
log-parameters (so every parameter stays positive), checks that the optimum is real, and turns
the Hessian into standard errors and intervals.

Written by hand rather than taken from lifetimes because lifetimes depends on ``autograd``
(unmaintained), rescales time internally, changes warning filters on import and is several
times slower on CDNOW (see ``bench/clv_fit.py``).

The objective is the *mean* negative log-likelihood plus ``penalizer * sum(theta ** 2)`` over
the natural parameters ``theta`` (lifetimes' definition, so penalizer values carry over). Rows
with identical sufficient statistics are fitted once with a weight, which is exact.

At scale (a million distinct customers, #16) three things keep a fit cheap: models sum their
likelihood and analytic gradient over blocks of rows that stay in cache (``_sums``), with
BLAS held to one thread (:func:`one_blas_thread`); many distinct rows are first fitted on an
evenly spaced subsample, whose optimum and inverse Hessian start the full BFGS run, which
then needs a handful of steps to the same tolerance (:meth:`Fitter._warm_start`); and
distinct rows are only ordered by frequency, never lexicographically sorted.

``log_likelihood_`` is always the *unpenalised* log-likelihood at the estimates (the penalty
enters only the objective), so fits with different penalizers compare on the same scale
(:func:`retaillab.clv.likelihood_ratio_test`). The Hessian, and so ``covariance_``,
``standard_errors_`` and the summary intervals, is that of the objective actually minimised:
with ``penalizer > 0`` it includes the penalty's curvature, which ``se_basis_`` and
:meth:`Fitter.summary` say.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Mapping
from typing import ClassVar

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from retaillab.errors import NotFittedError, ParameterError, RetailLabError

log = logging.getLogger(__name__)

#: Parameters outside ``[_LOW, _HIGH]`` mean the optimum ran off to a boundary.
_LOW, _HIGH = 1e-7, 1e7
_Z95 = 1.959963984540054

#: What ``fit`` learns; before fit, reading one raises :class:`NotFittedError`.
LEARNED = frozenset({"params_", "log_likelihood_", "covariance_", "standard_errors_",
                     "n_customers_", "n_iterations_", "se_basis_", "fixed_",
                     "data_fingerprint_"})

#: ``se_basis_`` of an unpenalised and of a penalised fit.
SE_LIKELIHOOD, SE_PENALISED = "likelihood", "penalised"


class FitError(RetailLabError, RuntimeError):
    """A maximum-likelihood fit that did not reach a usable optimum."""


class Fitter(BaseEstimator):
    """Base of the CLV models: estimator contract, the fit engine, the summary table.

    The estimator contract is scikit-learn's: keyword-only hyperparameters stored unchanged by
    ``__init__``, so ``get_params``, ``set_params`` and :func:`sklearn.base.clone` come from
    :class:`~sklearn.base.BaseEstimator`; what ``fit`` learns is in attributes ending in
    ``_`` (:data:`LEARNED`), which :func:`~sklearn.utils.validation.check_is_fitted` finds.

    Subclasses set ``_names`` (parameter names, in order), ``_columns`` (summary columns they
    read) and implement ``_data(summary)`` (arrays of sufficient statistics), ``_loglik(theta,
    *data)`` (per-row log-likelihood) and optionally ``_loglik_grad(theta, *data)`` (per-row
    log-likelihood and its gradient in ``theta``; otherwise central differences are used).
    """

    _names: tuple[str, ...] = ()
    #: Optuna search space (see :mod:`retaillab.tuning.spaces`); a spec's ``space`` overrides it
    search_space: ClassVar[dict[str, tuple]] = {
        "penalizer": ("float", 1e-5, 1.0, {"log": True})}

    def __init__(self, *, penalizer: float = 0.0, initial: Mapping[str, float] | None = None,
                 tol: float = 1e-7, max_iter: int = 2000) -> None:
        self.penalizer = penalizer
        self.initial = initial
        self.tol = tol
        self.max_iter = max_iter

    # -- estimator contract (the rest is BaseEstimator's) --------------------------------
    def __getattr__(self, name: str):
        # only called when normal lookup fails: a learned attribute before fit says so,
        # anything else (a misspelt name) is the ordinary "no such attribute"
        if name in LEARNED:
            raise NotFittedError(self)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}",
                             name=name, obj=self)

    def __sklearn_is_fitted__(self) -> bool:
        """Fitted once ``fit`` has set the estimates (what ``check_is_fitted`` asks)."""
        return "params_" in vars(self)

    def _check_fitted(self) -> None:
        if not self.__sklearn_is_fitted__():
            raise NotFittedError(self)

    def __repr__(self) -> str:  # the estimates once fitted, not only the hyperparameters
        name = type(self).__name__
        if not self.__sklearn_is_fitted__():
            return f"{name}(penalizer={self.penalizer})"
        inner = ", ".join(f"{k}={v:.4g}" for k, v in self.params_.items())
        return f"{name}({inner}, log_likelihood={self.log_likelihood_:.2f})"

    def _fitted_theta(self) -> np.ndarray:
        self._check_fitted()
        return np.array([self.params_[n] for n in self._names])

    # -- the engine ---------------------------------------------------------------------
    def _start(self, data: tuple[np.ndarray, ...]) -> np.ndarray:
        return np.ones(len(self._names))

    #: whether ``_loglik_grad`` / ``_sums`` give the gradient (otherwise finite differences)
    _has_gradient: ClassVar[bool] = False

    def _loglik_grad(self, theta: np.ndarray, *data: np.ndarray):
        return None

    def _prepare(self, data: tuple[np.ndarray, ...]) -> tuple:
        """Extra arrays the log-likelihood may precompute once per fit (default: none)."""
        return data

    def _problem(self, data: tuple[np.ndarray, ...], weights: np.ndarray):
        """What :meth:`_sums` reads, built once per fit from the distinct rows (sorted by
        their first column) and their weights; by default the prepared arrays and weights."""
        return self._prepare(data), weights

    def _sums(self, theta: np.ndarray, problem, grad: bool):
        """``(sum_i w_i ll_i, sum_i w_i d ll_i / d theta)`` over the rows of ``problem`` (the
        gradient ``None`` when not asked for, or when the model has none).

        The default sums the per-row :meth:`_loglik` / :meth:`_loglik_grad`; models whose
        per-row terms share work across rows override it (chunked, summing as they go).
        """
        data, weights = problem
        if grad and self._has_gradient:
            ll, g = self._loglik_grad(theta, *data)
            return float(weights @ ll), weights @ g
        return float(weights @ self._loglik(theta, *data)), None

    def _objective(self, phi: np.ndarray, problem, n: float, with_grad: bool = True):
        """Mean negative log-likelihood plus the penalty at ``phi = log(theta)``, and its
        gradient in ``phi`` (forward differences for models without one)."""
        theta = np.exp(phi)
        pen = self.penalizer * float(np.sum(theta**2))
        ll, grad = self._sums(theta, problem, with_grad)
        value = -ll / n + pen
        if not with_grad:
            return value
        if grad is None:  # forward differences while optimising (half the cost of central)
            return value, _forward_gradient(
                lambda p: self._objective(p, problem, n, with_grad=False), phi, value)
        g_theta = -np.asarray(grad, dtype=float) / n + 2 * self.penalizer * theta
        return value, g_theta * theta

    def _fit_arrays(self, data: tuple[np.ndarray, ...], n_rows: int,
                    fixed: Mapping[str, float] | None = None) -> None:
        """Minimise the objective over the log-parameters not in ``fixed`` (name -> value)."""
        if not (isinstance(self.penalizer, (int, float)) and math.isfinite(self.penalizer)
                and self.penalizer >= 0):
            raise ParameterError(f"{type(self).__name__}.penalizer", "a number >= 0",
                                 self.penalizer)
        fixed = self._check_fixed(fixed)
        data, weights = _compress(data)
        fingerprint = _fingerprint(data, weights)
        start = self._initial(data)
        free = np.array([n not in fixed for n in self._names])
        start[~free] = [fixed[n] for n, f in zip(self._names, free, strict=True) if not f]
        base = np.log(start)
        started = time.perf_counter()
        with np.errstate(all="ignore"), one_blas_thread():
            x0, hess_inv0 = self._warm_start(data, weights, base, free)
            problem = self._problem(data, weights)
            result, pf, value, grad, hessian = self._minimise(problem, n_rows, base, free, x0,
                                                              hess_inv0)
        phi = base.copy()
        phi[free] = pf
        self._check_optimum(result, phi, free, value, grad, hessian)
        theta = np.exp(phi)
        cov_phi = np.zeros((len(theta), len(theta)))
        cov_phi[np.ix_(free, free)] = np.linalg.inv(hessian)  # fixed: no variance
        cov = cov_phi * np.outer(theta, theta)  # delta method; exact at a stationary point
        with np.errstate(all="ignore"), one_blas_thread():  # unpenalised, any penalizer
            ll = self._sums(theta, problem, False)[0]
        self.params_ = dict(zip(self._names, map(float, theta), strict=True))
        self.log_likelihood_ = ll
        self.covariance_ = pd.DataFrame(cov, index=self._names, columns=self._names)
        self.standard_errors_ = dict(zip(self._names, map(float, np.sqrt(np.diag(cov))),
                                         strict=True))
        self.se_basis_ = SE_PENALISED if self.penalizer > 0 else SE_LIKELIHOOD
        self.fixed_ = {n: float(v) for n, v in fixed.items()}
        self.data_fingerprint_ = fingerprint
        self._se_log = np.sqrt(np.diag(cov_phi))
        self.n_customers_ = int(n_rows)
        self.n_iterations_ = int(result.nit)
        log.debug("%s fitted in %.3fs, %d iterations", type(self).__name__,
                  time.perf_counter() - started, result.nit)

    def _minimise(self, problem, n_rows: int, base: np.ndarray, free: np.ndarray,
                  x0: np.ndarray, hess_inv0: np.ndarray | None, hessian: bool = True):
        """BFGS on the free log-parameters from ``x0``; then the Hessian at the optimum
        (central differences of the gradient, or of values for models without one)."""
        from scipy.optimize import minimize

        def full(pf: np.ndarray) -> np.ndarray:
            phi = base.copy()
            phi[free] = pf
            return phi

        last: dict = {}

        def objective(pf, with_grad=True):
            if not with_grad:
                return self._objective(full(pf), problem, n_rows, with_grad=False)
            key = pf.tobytes()
            if key not in last:  # BFGS asks again for the point it stops at
                last.clear()
                value, grad = self._objective(full(pf), problem, n_rows)
                last[key] = value, grad[free]
            return last[key]

        options = {"maxiter": self.max_iter, "gtol": self.tol}
        if hess_inv0 is not None:
            options["hess_inv0"] = hess_inv0
        result = minimize(objective, x0, jac=True, method="BFGS", options=options)
        pf = result.x
        value, grad = objective(pf)
        if not hessian:
            return result, pf, value, grad, None
        if not self._has_gradient:
            func = lambda p: objective(p, False)  # noqa: E731
            grad = _central_gradient(func, pf)
            h = _hessian_from_values(func, pf, value) * n_rows
        else:
            h = _hessian(lambda p: objective(p)[1], pf) * n_rows
        return result, pf, value, grad, h

    #: above this many distinct rows, a fit first runs on a subsample of them (see _warm_start)
    _WARM_ROWS = 200_000
    _WARM_SAMPLE = 50_000

    def _warm_start(self, data, weights, base, free):
        """Start values for the full fit: ``base`` itself, or for many distinct rows the
        optimum and inverse Hessian of the same objective on an evenly spaced subsample.

        The full fit then converges in a few BFGS steps instead of dozens; it still runs to
        the same tolerance on all rows, so the optimum is the same.
        """
        rows = len(weights)
        if rows <= self._WARM_ROWS:
            return base[free], None
        pick = np.linspace(0, rows - 1, self._WARM_SAMPLE).astype(np.intp)
        sub = tuple(c[pick] for c in data)
        sub_w = weights[pick]
        n_sub = float(sub_w.sum())
        try:
            result = self._minimise(self._problem(sub, sub_w), n_sub, base, free, base[free],
                                    None, hessian=False)[0]
        except (ArithmeticError, ValueError, np.linalg.LinAlgError):
            return base[free], None
        h_inv = getattr(result, "hess_inv", None)
        if not (np.all(np.isfinite(result.x)) and h_inv is not None
                and np.all(np.isfinite(h_inv))):
            return base[free], None
        h_inv = (h_inv + h_inv.T) / 2
        if np.linalg.eigvalsh(h_inv).min() <= 0:
            return result.x, None
        return result.x, h_inv

    def _check_fixed(self, fixed: Mapping[str, float] | None) -> dict[str, float]:
        name = f"{type(self).__name__}.fit fixed"
        if fixed is None:
            return {}
        if not isinstance(fixed, Mapping):
            raise ParameterError(name, "a dict of parameter name -> value", fixed)
        unknown = set(fixed) - set(self._names)
        if unknown:
            raise ParameterError(name, "a dict with keys among " + ", ".join(self._names),
                                 sorted(unknown))
        if len(fixed) == len(self._names):
            raise ParameterError(name, "leaving at least one parameter free", dict(fixed))
        out = {}
        for key, value in fixed.items():
            if not (isinstance(value, (int, float, np.floating, np.integer))
                    and math.isfinite(value) and _LOW <= value <= _HIGH):
                raise ParameterError(f"{name}[{key!r}]", f"a number in [{_LOW:g}, {_HIGH:g}]",
                                     value)
            out[key] = float(value)
        return out

    def _initial(self, data) -> np.ndarray:
        start = np.asarray(self._start(data), dtype=float)
        if self.initial is not None:
            unknown = set(self.initial) - set(self._names)
            if unknown:
                raise ParameterError(f"{type(self).__name__}.initial",
                                     "a dict with keys among " + ", ".join(self._names),
                                     sorted(unknown))
            for i, name in enumerate(self._names):
                if name in self.initial:
                    value = float(self.initial[name])
                    if not value > 0:
                        raise ParameterError(f"{type(self).__name__}.initial[{name!r}]",
                                             "> 0", value)
                    start[i] = value
        return start

    def _check_optimum(self, result, phi, free, value, grad, hessian) -> None:
        name = type(self).__name__
        advice = ("try penalizer=0.001 (or larger), or express time in a coarser unit "
                  "(unit='W' instead of 'D') so that rates are of order 0.01-10")
        theta = np.exp(phi)
        shown = ", ".join(f"{n}={t:.4g}" for n, t in zip(self._names, theta, strict=True))
        if not np.isfinite(value) or not np.all(np.isfinite(grad)):
            raise FitError(f"{name}: the log-likelihood is not finite at {shown}; {advice}.")
        tiny_gradient = float(np.max(np.abs(grad))) < 1e-5
        if not (result.success or tiny_gradient):
            raise FitError(f"{name}: the optimiser did not converge ({result.message}; "
                           f"stopped at {shown}); {advice}.")
        if np.any(theta[free] < _LOW) or np.any(theta[free] > _HIGH):
            raise FitError(f"{name}: the estimates ran to a boundary ({shown}): the data do "
                           f"not identify the model as it is; {advice}.")
        if not np.all(np.isfinite(hessian)):
            raise FitError(f"{name}: the Hessian is not finite at {shown}; {advice}.")
        eig = np.linalg.eigvalsh((hessian + hessian.T) / 2)
        if eig.min() <= 0:
            raise FitError(f"{name}: the optimum at {shown} is not a strict maximum (the "
                           f"Hessian is not positive definite); {advice}.")

    # -- reporting ----------------------------------------------------------------------
    def summary(self) -> pd.DataFrame:
        """Estimate, standard error and 95% interval of each parameter.

        Intervals are Wald intervals on the log scale, ``exp(log(est) -/+ 1.96 se_log)``, so
        they stay positive (the scale the optimiser works on).

        Standard errors come from the Hessian of the objective minimised. With
        ``penalizer > 0`` that is the *penalised* objective, whose penalty adds curvature, so
        they are not the likelihood's (typically smaller): the table then says so in
        its column header (``columns.name``) and in ``attrs["se_basis"] == "penalised"`` and
        ``attrs["note"]`` (``se_basis_`` on the model). A parameter held fixed in ``fit`` has
        standard error 0.
        """
        theta = self._fitted_theta()
        table = pd.DataFrame({
            "estimate": theta,
            "se": [self.standard_errors_[n] for n in self._names],
            "lower_95": theta * np.exp(-_Z95 * self._se_log),
            "upper_95": theta * np.exp(_Z95 * self._se_log),
        }, index=pd.Index(self._names, name="parameter"))
        basis = self._se_basis()
        note = "standard errors from the Hessian of the log-likelihood"
        if basis == SE_PENALISED:
            note = (f"standard errors from the Hessian of the penalised objective "
                    f"(penalizer={self.penalizer:g}), not of the likelihood alone: the "
                    f"penalty adds curvature, so they are typically smaller than the "
                    f"likelihood's")
            table.columns.name = f"se: penalised (penalizer={self.penalizer:g})"
        fixed = vars(self).get("fixed_") or {}
        if fixed:
            note += "; held fixed (se 0): " + ", ".join(fixed)
        table.attrs.update(se_basis=basis, note=note)
        return table

    def _se_basis(self) -> str:
        """``se_basis_``, or for estimates set by hand, what the penalizer implies."""
        found = vars(self).get("se_basis_")
        if found is not None:
            return found
        return SE_PENALISED if self.penalizer > 0 else SE_LIKELIHOOD

    def log_likelihood(self, summary: pd.DataFrame) -> float:
        """Log-likelihood of ``summary`` at the fitted parameters."""
        return float(np.sum(self.log_likelihood_per_customer(summary)))

    def log_likelihood_per_customer(self, summary: pd.DataFrame) -> np.ndarray:
        """Each customer's log-likelihood at the fitted parameters."""
        data = self._prepare(self._data(summary))
        with np.errstate(all="ignore"):
            return self._loglik(self._fitted_theta(), *data)


def groups(x: np.ndarray, weights: np.ndarray):
    """For rows sorted by ``x``: the distinct values, each row's group and each group's
    total weight."""
    if len(x) == 0:
        return x[:0], np.zeros(0, dtype=np.intp), weights[:0]
    new = np.empty(len(x), dtype=bool)
    new[0] = True
    np.not_equal(x[1:], x[:-1], out=new[1:])
    starts = np.flatnonzero(new)
    codes = np.cumsum(new) - 1
    return x[starts], codes, np.add.reduceat(weights, starts)


def one_blas_thread():
    """A context in which BLAS runs on one thread.

    The likelihoods sum blocks of a few thousand rows with BLAS dot products; OpenBLAS
    spreads a dot product of more than about 10,000 values over threads, whose start-up and
    synchronisation cost more than the product (worse still on a busy machine): the cost per
    row of a BG/NBD evaluation rose about fourfold from 10k to 100k rows.
    """
    global _CONTROLLER
    if _CONTROLLER is None:  # finding the loaded libraries costs ~10 ms: once per process
        from threadpoolctl import ThreadpoolController

        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER.limit(limits=1, user_api="blas")


_CONTROLLER = None


def unique_rows(*columns: np.ndarray) -> tuple[tuple[np.ndarray, ...], np.ndarray, np.ndarray]:
    """Distinct rows of equal-length columns: (unique columns, inverse index, counts).

    A lexicographic sort of the columns; several times faster than ``np.unique(axis=0)``,
    which sorts rows as opaque byte strings.
    """
    order = np.lexsort(columns[::-1])
    ordered = [c[order] for c in columns]
    new = np.ones(len(order), dtype=bool)
    if len(order) > 1:
        new[1:] = np.any([c[1:] != c[:-1] for c in ordered], axis=0)
    group = np.cumsum(new) - 1
    inverse = np.empty(len(order), dtype=np.intp)
    inverse[order] = group
    counts = np.bincount(group)
    return tuple(c[new] for c in ordered), inverse, counts


def _compress(data: tuple[np.ndarray, ...]) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
    """Distinct rows of the sufficient statistics, sorted by their first column (the
    frequency), and how many customers share each.

    When the last column (T, or the spend) has no repeated value, every row is distinct:
    the rows are then only ordered by frequency (a radix sort of a small integer), without
    the lexicographic sort that finding repeated rows needs (several times dearer at a
    million rows).
    """
    last = np.sort(data[-1])
    if len(last) < 2 or bool(np.all(last[1:] != last[:-1])):
        order = _order_by(data[0])
        return tuple(c[order] for c in data), np.ones(len(last))
    unique, _, counts = unique_rows(*data)
    return unique, counts.astype(float)


def _order_by(first: np.ndarray) -> np.ndarray:
    """A stable order of rows by ``first``: a radix sort when it holds small whole numbers."""
    if len(first) and np.all(first == np.floor(first)) and 0 <= first.min() \
            and first.max() < 2**16:
        return np.argsort(first.astype(np.uint16), kind="stable")
    return np.argsort(first, kind="stable")


_MIX1, _MIX2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


def _mix(h: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser, vectorised: a well-spread 64-bit hash of each value."""
    h = (h ^ (h >> np.uint64(30))) * _MIX1
    h = (h ^ (h >> np.uint64(27))) * _MIX2
    return h ^ (h >> np.uint64(31))


def _fingerprint(unique: tuple[np.ndarray, ...], counts: np.ndarray) -> str:
    """A hash of the fitted sufficient statistics as a multiset (each distinct row hashed,
    weighted by its count, summed modulo 2^64), so two fits can tell whether they saw the
    same data whatever the customers' order, and whether or not repeated rows were merged."""
    h = np.full(len(counts), 0x9E3779B97F4A7C15, dtype=np.uint64)
    for column in unique:  # + 0.0: -0.0 and 0.0 are the same value
        h = _mix(h ^ (np.ascontiguousarray(column, dtype=float) + 0.0).view(np.uint64))
    total = int(np.sum(h * np.asarray(counts).astype(np.uint64), dtype=np.uint64))
    digest = hashlib.sha256(f"{len(unique)}|{total}|{float(np.sum(counts))}".encode())
    return digest.hexdigest()[:16]


def _central_gradient(func, x: np.ndarray, step: float = 1e-6) -> np.ndarray:
    grad = np.empty_like(x)
    for i in range(len(x)):
        e = np.zeros_like(x)
        e[i] = step
        grad[i] = (func(x + e) - func(x - e)) / (2 * step)
    return grad


def _forward_gradient(func, x: np.ndarray, value: float, step: float = 1e-7) -> np.ndarray:
    grad = np.empty_like(x)
    for i in range(len(x)):
        e = np.zeros_like(x)
        e[i] = step
        grad[i] = (func(x + e) - value) / step
    return grad


def _hessian_from_values(func, x: np.ndarray, value: float, step: float = 1e-3) -> np.ndarray:
    """Central second differences of function values (for models without a gradient)."""
    k = len(x)
    h = np.empty((k, k))
    eye = np.eye(k) * step
    plus = [func(x + eye[i]) for i in range(k)]
    minus = [func(x - eye[i]) for i in range(k)]
    for i in range(k):
        h[i, i] = (plus[i] - 2 * value + minus[i]) / step**2
        for j in range(i):
            h[i, j] = h[j, i] = (func(x + eye[i] + eye[j]) - func(x + eye[i] - eye[j])
                                 - func(x - eye[i] + eye[j]) + func(x - eye[i] - eye[j])
                                 ) / (4 * step**2)
    return h


def _hessian(gradient, x: np.ndarray, step: float = 1e-4) -> np.ndarray:
    """Central differences of the gradient, symmetrised."""
    k = len(x)
    h = np.empty((k, k))
    for i in range(k):
        e = np.zeros(k)
        e[i] = step
        h[:, i] = (gradient(x + e) - gradient(x - e)) / (2 * step)
    return (h + h.T) / 2
