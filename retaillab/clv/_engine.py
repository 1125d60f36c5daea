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

    def _loglik_grad(self, theta: np.ndarray, *data: np.ndarray):
        return None

    def _prepare(self, data: tuple[np.ndarray, ...]) -> tuple:
        """Extra arrays the log-likelihood may precompute once per fit (default: none)."""
        return data

    def _objective(self, phi: np.ndarray, data, weights: np.ndarray, n: float,
                   with_grad: bool = True):
        theta = np.exp(phi)
        pen = self.penalizer * float(np.sum(theta**2))
        if not with_grad:
            return -float(weights @ self._loglik(theta, *data)) / n + pen
        found = self._loglik_grad(theta, *data)
        if found is None:  # forward differences while optimising (half the cost of central)
            value = self._objective(phi, data, weights, n, with_grad=False)
            return value, _forward_gradient(
                lambda p: self._objective(p, data, weights, n, with_grad=False), phi, value)
        ll, grad = found
        value = -float(weights @ ll) / n + pen
        g_theta = -(weights @ grad) / n + 2 * self.penalizer * theta
        return value, g_theta * theta

    def _fit_arrays(self, data: tuple[np.ndarray, ...], n_rows: int,
                    fixed: Mapping[str, float] | None = None) -> None:
        """Minimise the objective over the log-parameters not in ``fixed`` (name -> value)."""
        from scipy.optimize import minimize

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
        data = self._prepare(data)
        base = np.log(start)

        def full(pf: np.ndarray) -> np.ndarray:
            phi = base.copy()
            phi[free] = pf
            return phi

        def objective(pf, with_grad=True):
            if not with_grad:
                return self._objective(full(pf), data, weights, n_rows, with_grad=False)
            value, grad = self._objective(full(pf), data, weights, n_rows)
            return value, grad[free]

        started = time.perf_counter()
        with np.errstate(all="ignore"):
            result = minimize(objective, base[free], jac=True, method="BFGS",
                              options={"maxiter": self.max_iter, "gtol": self.tol})
            pf = result.x
            value, grad = objective(pf)
            if self._loglik_grad(np.exp(full(pf)), *data) is None:
                func = lambda p: objective(p, False)  # noqa: E731
                grad = _central_gradient(func, pf)
                hessian = _hessian_from_values(func, pf, value) * n_rows
            else:
                hessian = _hessian(lambda p: objective(p)[1], pf) * n_rows
        phi = full(pf)
        self._check_optimum(result, phi, free, value, grad, hessian)
        theta = np.exp(phi)
        cov_phi = np.zeros((len(theta), len(theta)))
        cov_phi[np.ix_(free, free)] = np.linalg.inv(hessian)  # fixed: no variance
        cov = cov_phi * np.outer(theta, theta)  # delta method; exact at a stationary point
        ll = float(weights @ self._loglik(theta, *data))  # unpenalised, whatever penalizer
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
    """Unique rows of the sufficient statistics and how many customers share each."""
    unique, _, counts = unique_rows(*data)
    return unique, counts.astype(float)


def _fingerprint(unique: tuple[np.ndarray, ...], counts: np.ndarray) -> str:
    """A hash of the fitted sufficient statistics (the compressed rows and their counts), so
    two fits can tell whether they saw the same data, whatever the customers' order."""
    digest = hashlib.sha256()
    for column in (*unique, counts):
        digest.update(np.ascontiguousarray(column, dtype=float).tobytes())
        digest.update(b"|")
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
