"""Time to the next purchase: the chance of none within a horizon, from BTYD and survival models.

The churn label of a timeline (:func:`retaillab.churn.timeline`) is "no purchase in the
``h`` days after the cut-off". Every model family gives that probability its own way:

**BTYD models** (fitted on the RFM summary at the cut-off, no labels needed). Given the
history ``(x, t_x, T)`` a customer is alive with probability ``P(alive)``; given alive, the
posterior of the purchase rate is ``lambda ~ Gamma(r + x, alpha + T)`` (rate parametrisation;
the alive likelihood is ``lambda^x exp(-lambda T)`` times a factor free of ``lambda``).

- BG/NBD and MBG/NBD: an alive customer can drop out only *after* a purchase, so no purchase
  in ``h`` means no purchase event of the Poisson process, ``exp(-lambda h)``; averaged over
  the gamma posterior::

      P(none in h) = 1 - P(alive) + P(alive) ((alpha + T) / (alpha + T + h))^(r + x)

- Pareto/NBD: given alive, ``lambda ~ Gamma(r + x, A)`` and ``mu ~ Gamma(s, B)`` independent,
  ``A = alpha + T``, ``B = beta + T``. The remaining lifetime is exponential, so
  ``P(none in h | lambda, mu) = mu/(lambda+mu) + lambda/(lambda+mu) exp(-(lambda+mu) h)``
  (die before buying, or outlive ``h`` without buying). Writing
  ``1/(lambda+mu) = int_0^inf exp(-(lambda+mu) u) du`` and taking the gamma expectations
  inside (``E[mu exp(-mu u)] = s B^s (B+u)^-(s+1)``, ``E[exp(-lambda u)] = A^k (A+u)^-k``,
  ``k = r + x``) gives two positive terms, so nothing cancels::

      P(none in h | alive) = A^k B^s [ s I(0; k, s+1) + k I(h; k+1, s) ],
      I(t; p, q) = int_t^inf (A+u)^-p (B+u)^-q du

  a Gauss hypergeometric function, evaluated in log space as the Pareto/NBD likelihood is
  (:mod:`retaillab.clv.pareto_nbd`); then ``P(none in h) = 1 - P(alive) (1 - P(none | alive))``.

``tests/churn/test_survival.py`` checks both against a Monte Carlo simulation of each model's
purchase process from known parameters, and the Pareto/NBD one against a 2-D quadrature
over ``(lambda, mu)``.

**Survival models** on the transactional features (:func:`cox`, :func:`rsf`): the time from
a training cut-off to the next purchase, censored at the horizon, fitted by scikit-survival's
Cox proportional hazards model or random survival forest; the churn probability is the
survival function at the horizon, ``S(h | x)``. Each is a scikit-learn pipeline with the
preprocessing every churn classifier uses (:func:`retaillab.churn._prepare.preprocessor`).
scikit-survival is imported only when a model is fitted.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from retaillab.churn._prepare import preprocessor
from retaillab.errors import DataError, NotFittedError, ParameterError

__all__ = ["CoxChurn", "ForestChurn", "cox", "no_purchase_probability", "rsf", "survival_at",
           "survival_target"]

def no_purchase_probability(model: Any, t: float, frequency: Any, recency: Any = None,
                            T: Any = None) -> np.ndarray:
    """P(no purchase in ``(T, T + t]`` | history) under a fitted BTYD model (module docstring).

    Parameters
    ----------
    model
        A fitted :class:`~retaillab.clv.BetaGeo`, :class:`~retaillab.clv.ModifiedBetaGeo` or
        :class:`~retaillab.clv.ParetoNBD` (or one whose ``params_`` were set by hand).
    t
        The horizon, in the summary's time unit (weeks for ``unit="W"``); ``t >= 0``.
    frequency, recency, T
        An RFM summary (:func:`retaillab.clv.rfm_summary`) as ``frequency``, or three arrays.

    Example
    -------
    >>> bg = clv.BetaGeo().fit(summary)                                  # doctest: +SKIP
    >>> no_purchase_probability(bg, 26, summary)     # no purchase within 26 weeks
    """
    from retaillab.clv._transaction import _as_arrays
    from retaillab.clv.beta_geo import BetaGeo
    from retaillab.clv.pareto_nbd import ParetoNBD

    if isinstance(t, bool) or not isinstance(t, (int, float, np.integer, np.floating)) \
            or not np.isfinite(t) or t < 0:
        raise ParameterError("t", "a horizon >= 0 in the summary's time unit", t)
    if not isinstance(model, (BetaGeo, ParetoNBD)):
        raise ParameterError("model", "a fitted BetaGeo, ModifiedBetaGeo or ParetoNBD",
                             type(model).__name__)
    x, _, big_t = _as_arrays(frequency, recency, T)
    alive = model.conditional_probability_alive(frequency, recency, T)
    params = model.params_
    with np.errstate(all="ignore"):
        if isinstance(model, BetaGeo):
            given_alive = _bg_none_given_alive(params, float(t), x, big_t)
        else:
            given_alive = _pareto_none_given_alive(params, float(t), x, big_t)
    return 1.0 - alive * (1.0 - given_alive)


def _bg_none_given_alive(params: dict, t: float, x: np.ndarray, big_t: np.ndarray
                         ) -> np.ndarray:
    """``((alpha + T) / (alpha + T + t))^(r + x)``: no purchase in ``t`` given alive."""
    r, alpha = params["r"], params["alpha"]
    return np.exp(-(r + x) * np.log1p(t / (alpha + big_t)))


def _pareto_none_given_alive(params: dict, t: float, x: np.ndarray, big_t: np.ndarray
                             ) -> np.ndarray:
    """``A^k B^s [s I(0; k, s+1) + k I(t; k+1, s)]`` (module docstring), in log space."""
    from retaillab.clv.pareto_nbd import _log_integral

    r, alpha, s, beta = (params[n] for n in ("r", "alpha", "s", "beta"))
    a, b = alpha + big_t, beta + big_t
    k = r + x
    head = k * np.log(a) + s * np.log(b)
    dies = np.log(s) + _log_integral(a, b, 0.0, k, s + 1.0)
    outlives = np.log(k) + _log_integral(a, b, t, k + 1.0, s)
    return np.minimum(np.exp(head + np.logaddexp(dies, outlives)), 1.0)


# -- survival models ----------------------------------------------------------------------

def survival_target(event: Any, time: Any) -> np.ndarray:
    """The structured array scikit-survival fits on: fields ``event`` (bool: bought) and
    ``time`` (days to the purchase, or to censoring)."""
    e = np.asarray(event, dtype=bool)
    t = np.asarray(time, dtype="float64")
    if e.shape != t.shape or e.ndim != 1:
        raise DataError(f"event and time must be 1-D of one length; got {e.shape} and "
                        f"{t.shape}", source="survival target")
    if not np.isfinite(t).all() or (t <= 0).any():
        raise DataError("times must be finite and positive", source="survival target",
                        fix="measure time in days after the cut-off (a purchase the next "
                            "day is 1)")
    out = np.empty(e.size, dtype=[("event", bool), ("time", "float64")])
    out["event"], out["time"] = e, t
    return out


def _as_target(y: Any) -> np.ndarray:
    """A survival target from a structured array, or two columns (event, time)."""
    if isinstance(y, np.ndarray) and y.dtype.names and len(y.dtype.names) == 2:
        return survival_target(y[y.dtype.names[0]], y[y.dtype.names[1]])
    frame = pd.DataFrame(y)
    if frame.shape[1] != 2:
        raise DataError(f"a survival target has two columns (event, time); got "
                        f"{frame.shape[1]}", source="survival target",
                        fix="pass survival_target(bought, days)")
    return survival_target(frame.iloc[:, 0].to_numpy(), frame.iloc[:, 1].to_numpy())


def _steps(knots: np.ndarray, values: np.ndarray, times: np.ndarray, before: float
           ) -> np.ndarray:
    """A right-continuous step function (``values`` from each knot on) at ``times``;
    ``before`` ahead of the first knot. ``values`` has one column per knot."""
    at = np.searchsorted(knots, times, side="right") - 1
    out = values[:, np.maximum(at, 0)]
    out[:, at < 0] = before
    return out


class _SurvivalChurn(BaseEstimator):
    """Shared contract: ``fit(X, y)`` with a survival target, ``predict_survival(X, times)``
    and ``predict_proba(X)`` (column 1: churned = survived the horizon without a purchase)."""

    horizon: float | None

    def fit(self, X: Any, y: Any) -> _SurvivalChurn:
        """Fit on features ``X`` and a survival target ``y`` (:func:`survival_target`)."""
        target = _as_target(y)
        if not target["event"].any():
            raise DataError("no customer bought in the training window: a survival model "
                            "needs purchase times", source="survival target",
                            fix="choose an earlier fit cut-off or a longer horizon")
        self.model_ = self._estimator(len(target)).fit(np.asarray(X, dtype="float64"), target)
        self.horizon_ = float(target["time"].max() if self.horizon is None else self.horizon)
        self.classes_ = np.array([False, True])
        return self

    def predict_survival(self, X: Any, times: Any) -> np.ndarray:
        """``S(t | x)``, one row per customer and one column per time in ``times``."""
        if not hasattr(self, "model_"):
            raise NotFittedError(self)
        times = np.atleast_1d(np.asarray(times, dtype="float64"))
        return self._survival(np.asarray(X, dtype="float64"), times)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Columns ``[P(purchase by the horizon), S(horizon)]``, as a classifier's."""
        if not hasattr(self, "model_"):
            raise NotFittedError(self)
        stay = self.predict_survival(X, [self.horizon_])[:, 0]
        return np.column_stack([1.0 - stay, stay])

    def predict(self, X: Any) -> np.ndarray:
        """Churned (no purchase by the horizon) when ``S(horizon) > 0.5``."""
        return self.predict_proba(X)[:, 1] > 0.5

    def _estimator(self, n_rows: int) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _survival(self, X: np.ndarray, times: np.ndarray) -> np.ndarray:
        raise NotImplementedError  # pragma: no cover - abstract


class CoxChurn(_SurvivalChurn):
    """Cox proportional hazards (scikit-survival's ``CoxPHSurvivalAnalysis``) on the scaled
    features; ``S(t | x) = exp(-H0(t) exp(x'beta))`` with Breslow's baseline ``H0``.

    ``alpha`` is the ridge penalty ``alpha/2 ||beta||^2`` on the log partial likelihood: a
    little keeps the Newton steps finite when features are collinear (recency, tenure and the
    window counts are), and is negligible against thousands of customers. ``ties``: Breslow's
    (fast) or Efron's handling of tied purchase days. ``horizon``: where ``predict_proba``
    reads the survival function (default: the longest training time).
    """

    def __init__(self, *, alpha: float = 1.0, ties: str = "breslow", n_iter: int = 100,
                 horizon: float | None = None) -> None:
        self.alpha = alpha
        self.ties = ties
        self.n_iter = n_iter
        self.horizon = horizon

    def _estimator(self, n_rows: int) -> Any:
        from sksurv.linear_model import CoxPHSurvivalAnalysis

        return CoxPHSurvivalAnalysis(alpha=self.alpha, ties=self.ties, n_iter=self.n_iter)

    def _survival(self, X: np.ndarray, times: np.ndarray) -> np.ndarray:
        hazard = self.model_.cum_baseline_hazard_
        base = _steps(hazard.x, hazard.y[np.newaxis, :], times, 0.0)[0]
        return np.exp(-np.outer(np.exp(self.model_.predict(X)), base))


class ForestChurn(_SurvivalChurn):
    """Random survival forest (scikit-survival's ``RandomSurvivalForest``), seeded.

    Small by default so a comparison stays quick: ``n_estimators`` trees, each grown on
    ``max_samples`` customers drawn with replacement (all when there are fewer), leaves of at
    least ``min_samples_leaf``. ``n_jobs`` parallelises trees without changing the result.
    """

    def __init__(self, *, n_estimators: int = 50, min_samples_leaf: int = 20,
                 max_features: str | float | None = "sqrt", max_depth: int | None = None,
                 max_samples: int | None = 3000, n_jobs: int | None = 1, seed: int = 0,
                 horizon: float | None = None) -> None:
        self.n_estimators = n_estimators
        self.min_samples_leaf = min_samples_leaf
        self.max_features = max_features
        self.max_depth = max_depth
        self.max_samples = max_samples
        self.n_jobs = n_jobs
        self.seed = seed
        self.horizon = horizon

    def _estimator(self, n_rows: int) -> Any:
        from sksurv.ensemble import RandomSurvivalForest

        drawn = None if self.max_samples is None else min(int(self.max_samples), n_rows)
        return RandomSurvivalForest(
            n_estimators=self.n_estimators, min_samples_leaf=self.min_samples_leaf,
            max_features=self.max_features, max_depth=self.max_depth, max_samples=drawn,
            n_jobs=self.n_jobs, random_state=self.seed)

    def _survival(self, X: np.ndarray, times: np.ndarray) -> np.ndarray:
        curves = self.model_.predict_survival_function(X, return_array=True)
        return _steps(self.model_.unique_times_, curves, times, 1.0)


def _pipeline(model: _SurvivalChurn):
    from sklearn.pipeline import Pipeline

    return Pipeline([("prepare", preprocessor()), ("model", model)])


def cox(*, alpha: float = 1.0, ties: str = "breslow", horizon: float | None = None,
        seed: int = 0):
    """Preprocessing, then :class:`CoxChurn` (``seed`` is accepted for a uniform call and
    unused: the fit is deterministic)."""
    return _pipeline(CoxChurn(alpha=alpha, ties=ties, horizon=horizon))


def rsf(*, n_estimators: int = 50, min_samples_leaf: int = 20,
        max_features: str | float | None = "sqrt", max_depth: int | None = None,
        max_samples: int | None = 3000, n_jobs: int | None = 1,
        horizon: float | None = None, seed: int = 0):
    """Preprocessing, then :class:`ForestChurn`."""
    return _pipeline(ForestChurn(n_estimators=n_estimators, min_samples_leaf=min_samples_leaf,
                                 max_features=max_features, max_depth=max_depth,
                                 max_samples=max_samples, n_jobs=n_jobs, seed=seed,
                                 horizon=horizon))


def survival_at(pipeline: Any, X: Any, times: Any) -> np.ndarray:
    """``S(t | x)`` from a fitted :func:`cox` or :func:`rsf` pipeline (customers x times)."""
    return pipeline[-1].predict_survival(pipeline[:-1].transform(X), times)
