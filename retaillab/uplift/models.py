"""Uplift models: the effect of a treatment on each customer, learned from a randomised campaign.

Every model is a scikit-learn estimator: ``fit(X, treatment, y)`` returns the model and
``predict(X)`` the uplift, ``P(y = 1 | x, treated) - P(y = 1 | x, control)`` for a 0/1 outcome
or ``E[y | x, treated] - E[y | x, control]`` for an amount. Each wraps any scikit-learn base
estimator (a classifier's ``predict_proba`` is used for a 0/1 outcome, a regressor's
``predict`` otherwise):

- :class:`TwoModel`: the T-learner, one model per arm, uplift = their difference;
- :class:`ClassTransformation`: one model of a transformed target whose mean is the uplift
  (Jaskowski & Jaroszewicz 2012 for 0/1 outcomes; Athey & Imbens 2016's transformed outcome
  for amounts);
- :class:`SoloModel`: the S-learner, one model with the arm as a feature;
- :class:`XLearner`: Künzel, Sekhon, Bickel & Yu (2019), imputed effects modelled per arm and
  blended by the propensity; it helps most when one arm is much smaller than the other.

They are written on scikit-learn rather than taken from a library: scikit-uplift has had no
release since 2022, causalml pulls in xgboost, shap, seaborn and more (``uv pip install
--dry-run causalml``), and each learner is a few lines here. This module imports
``sklearn.base`` (for :class:`~sklearn.base.BaseEstimator`); the base estimators load when a
model is fitted, and ``import retaillab.uplift`` loads neither.

The propensity ``e`` (chance of being treated) is the treated share of the training rows,
unless given: under complete randomisation it is the design's share, the same for everyone.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator

from retaillab.errors import DataError, NotFittedError, ParameterError, check_choice
from retaillab.uplift import _checks

__all__ = ["ClassTransformation", "SoloModel", "TwoModel", "XLearner", "default_estimator",
           "out_of_fold"]

SOURCE = _checks.SOURCE
BINARY, NUMERIC = "binary", "numeric"
#: Column added to a DataFrame by :class:`SoloModel` (the arm, 0/1).
ARM_FEATURE = "__treatment__"


def default_estimator(kind: str = BINARY, seed: int = 0) -> Any:
    """The base estimator used when none is given: gradient boosting kept shallow and slow
    (``learning_rate=0.03``, 100 trees of 4 leaves, at least 100 customers a leaf, L2 1.0, no
    early stopping, ``random_state=seed``), because uplift is a small difference of noisy
    fits and deeper trees learn the noise (on the synthetic campaign, 8 leaves of 50 lowered
    the T-learner's rank correlation with the true uplift by 0.06-0.09 over three seeds).
    Sized for thousands of customers. A classifier for a 0/1 outcome, a regressor otherwise."""
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    check_choice("kind", kind, (BINARY, NUMERIC))
    options = dict(learning_rate=0.03, max_iter=100, max_leaf_nodes=4, min_samples_leaf=100,
                   l2_regularization=1.0, early_stopping=False, random_state=seed)
    if kind == BINARY:
        return HistGradientBoostingClassifier(**options)
    return HistGradientBoostingRegressor(**options)


def _rows(X: Any) -> int:
    shape = getattr(X, "shape", None)
    if shape is None or len(shape) != 2:
        raise DataError(f"X must be a 2-D table of features (a DataFrame or array); got "
                        f"{type(X).__name__} of shape {shape}", source=SOURCE)
    return int(shape[0])


def _take(X: Any, mask: np.ndarray) -> Any:
    """Rows of ``X`` selected by a boolean mask, for DataFrames and arrays alike."""
    return X.iloc[mask] if hasattr(X, "iloc") else np.asarray(X)[mask]


def _outcome(y: object, n: int) -> tuple[np.ndarray, str]:
    values = np.asarray(y)
    if values.ndim != 1 or values.size != n:
        raise DataError(f"y must have {n} values (one per row of X); got shape {values.shape}",
                        source=SOURCE, column="y")
    try:
        values = values.astype("float64")
    except (TypeError, ValueError):
        raise DataError("y must be numbers (0/1 or amounts); found text", source=SOURCE,
                        column="y") from None
    if not np.isfinite(values).all():
        raise DataError(f"{int((~np.isfinite(values)).sum()):,} values of y are NaN or "
                        "infinite", source=SOURCE, column="y",
                        fix="fill missing outcomes (e.g. 0 revenue for non-buyers)")
    return values, (BINARY if np.isin(values, (0.0, 1.0)).all() else NUMERIC)


def _propensity(value: object, w: np.ndarray) -> float:
    if value is None:
        return float(w.mean())
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating) \
            or not 0 < value < 1:
        raise ParameterError("propensity", "None (the treated share) or a number in (0, 1)",
                             value)
    return float(value)


class _Uplift(BaseEstimator):
    """What every uplift model shares: input checks, the fitted flag, base estimators."""

    def __sklearn_is_fitted__(self) -> bool:
        return "outcome_" in vars(self)

    def _check_fitted(self) -> None:
        if not self.__sklearn_is_fitted__():
            raise NotFittedError(self)

    def _inputs(self, X: Any, treatment: object, y: object):
        n = _rows(X)
        w = _checks.treatment(treatment, n)
        values, kind = _outcome(y, n)
        return w, values, kind

    def _fitted(self, X: Any, w: np.ndarray, kind: str) -> None:
        """What every model learns besides its own: set last, so a failed fit stays unfitted."""
        self.outcome_ = kind
        self.n_features_in_ = int(X.shape[1])
        self.treated_share_ = float(w.mean())

    def _base(self, estimator: Any, kind: str, *, regression: str | None = None,
              name: str = "estimator") -> Any:
        """A fresh clone of ``estimator`` (or the default) for an outcome of ``kind``, or for
        the regression target ``regression`` names."""
        from sklearn.base import clone, is_classifier

        if estimator is None:
            return default_estimator(NUMERIC if regression else kind)
        if not hasattr(estimator, "fit"):
            raise ParameterError(name, "a scikit-learn estimator (with fit)", estimator)
        if is_classifier(estimator) and (regression or kind == NUMERIC):
            need = regression or "a numeric outcome (y not 0/1)"
            raise ParameterError(name, f"a regressor for {need}", type(estimator).__name__)
        return clone(estimator)


def _mean(model: Any, X: Any) -> np.ndarray:
    """``P(y = 1 | x)`` of a fitted classifier, ``E[y | x]`` of a regressor."""
    from sklearn.base import is_classifier

    if is_classifier(model):
        proba = model.predict_proba(X)
        classes = list(model.classes_)
        if 1 not in classes and 1.0 not in classes:  # an arm where nobody converted
            return np.zeros(proba.shape[0])
        return proba[:, classes.index(1)]
    return np.asarray(model.predict(X), dtype="float64").ravel()


class TwoModel(_Uplift):
    """T-learner: one model of the outcome per arm; uplift = ``mu_1(x) - mu_0(x)``.

    Parameters
    ----------
    estimator
        Base estimator, cloned for each arm (default :func:`default_estimator`).

    Attributes
    ----------
    control_model_, treatment_model_
        The fitted models of each arm.
    """

    def __init__(self, estimator: Any = None) -> None:
        self.estimator = estimator

    def fit(self, X: Any, treatment: object, y: object) -> TwoModel:
        """Fit one model on the control rows, one on the treated rows."""
        w, values, kind = self._inputs(X, treatment, y)
        self.control_model_ = self._base(self.estimator, kind).fit(_take(X, ~w), values[~w])
        self.treatment_model_ = self._base(self.estimator, kind).fit(_take(X, w), values[w])
        self._fitted(X, w, kind)
        return self

    def predict_arms(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """``(mu_0(x), mu_1(x))``: the expected outcome without and with treatment."""
        self._check_fitted()
        return _mean(self.control_model_, X), _mean(self.treatment_model_, X)

    def predict(self, X: Any) -> np.ndarray:
        """Uplift ``mu_1(x) - mu_0(x)``."""
        control, treated = self.predict_arms(X)
        return treated - control


class SoloModel(_Uplift):
    """S-learner: one model of the outcome with the arm as a feature;
    uplift = ``mu(x, 1) - mu(x, 0)``.

    The arm is appended as a last column (named ``__treatment__`` in a DataFrame). A model
    that does not let the arm interact with the features (a linear model) predicts the same
    uplift for everyone: its coefficient of the arm.
    """

    def __init__(self, estimator: Any = None) -> None:
        self.estimator = estimator

    def fit(self, X: Any, treatment: object, y: object) -> SoloModel:
        """Fit one model on every row, the arm as an extra feature."""
        w, values, kind = self._inputs(X, treatment, y)
        self.model_ = self._base(self.estimator, kind).fit(_with_arm(X, w), values)
        self._fitted(X, w, kind)
        return self

    def predict_arms(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """``(mu(x, 0), mu(x, 1))``: the expected outcome without and with treatment."""
        self._check_fitted()
        n = _rows(X)
        return (_mean(self.model_, _with_arm(X, np.zeros(n, dtype=bool))),
                _mean(self.model_, _with_arm(X, np.ones(n, dtype=bool))))

    def predict(self, X: Any) -> np.ndarray:
        """Uplift ``mu(x, 1) - mu(x, 0)``."""
        control, treated = self.predict_arms(X)
        return treated - control


def _with_arm(X: Any, w: np.ndarray) -> Any:
    if hasattr(X, "assign"):
        if ARM_FEATURE in X.columns:
            raise DataError(f"X already has a column {ARM_FEATURE!r}", source=SOURCE,
                            column=ARM_FEATURE, fix="rename it: SoloModel adds the arm there")
        return X.assign(**{ARM_FEATURE: w.astype("float64")})
    return np.column_stack([np.asarray(X, dtype="float64"), w.astype("float64")])


class ClassTransformation(_Uplift):
    """One model of a transformed target whose conditional mean is the uplift.

    ``method="class"`` (0/1 outcomes; Jaskowski & Jaroszewicz 2012): the class variable
    ``z = y w + (1 - y)(1 - w)`` (1 for treated buyers and control non-buyers) has
    ``P(z = 1 | x) = (P(y | x, treated) + 1 - P(y | x, control)) / 2`` when half the customers
    are treated, so uplift ``= 2 P(z = 1 | x) - 1``. With a treated share ``e`` other than 1/2
    the rows are weighted ``1 / (2e)`` (treated) and ``1 / (2(1 - e))`` (control), which makes
    the weighted arms equal and the identity exact again (the estimator must accept
    ``sample_weight``). A classifier fits ``z``.

    ``method="outcome"`` (any outcome; Athey & Imbens 2016): the transformed outcome
    ``z = y w / e - y (1 - w) / (1 - e)`` has ``E[z | x] = uplift`` for any ``e``; a regressor
    fits it.

    Both targets are unbiased for the uplift; they differ in noise. On the uplift scale the
    class variable ``2z - 1`` is always +-1 (variance about 1), while the transformed outcome
    of a 0/1 outcome has ``E[z^2] = p_1 / e + p_0 / (1 - e)`` (``p`` the arms' conversion
    rates), which is smaller when conversion is rare: 0.5 at ``e = 1/2`` and 12% conversion.
    So ``method="auto"`` (default) takes the estimator's kind when one is given (a classifier:
    ``"class"``, a regressor: ``"outcome"``), and otherwise, for a 0/1 outcome, whichever
    target has the smaller variance on the training rows (``"outcome"`` for a numeric
    outcome). ``method_`` says which was used.

    Parameters
    ----------
    estimator
        Base estimator: a classifier for ``"class"``, a regressor for ``"outcome"`` (default
        :func:`default_estimator` of that kind).
    method
        ``"auto"``, ``"class"`` or ``"outcome"``.
    propensity
        ``e``; ``None`` uses the treated share of the training rows.

    Attributes
    ----------
    model_, method_, propensity_
        The fitted model, the method used and ``e``.
    """

    METHODS = ("auto", "class", "outcome")

    def __init__(self, estimator: Any = None, method: str = "auto",
                 propensity: float | None = None) -> None:
        self.estimator = estimator
        self.method = method
        self.propensity = propensity

    def fit(self, X: Any, treatment: object, y: object) -> ClassTransformation:
        """Fit the base estimator on the transformed target."""
        from sklearn.base import is_classifier

        check_choice("method", self.method, self.METHODS)
        w, values, kind = self._inputs(X, treatment, y)
        e = _propensity(self.propensity, w)
        method = self.method
        if method == "auto" and kind == NUMERIC:
            method = "outcome"
        elif method == "auto" and self.estimator is not None:
            method = "class" if is_classifier(self.estimator) else "outcome"
        elif method == "auto":
            p1, p0 = values[w].mean(), values[~w].mean()
            method = "outcome" if p1 / e + p0 / (1 - e) < 1.0 else "class"
        if method == "class" and kind != BINARY:
            raise ParameterError("method", "'outcome' or 'auto' for a numeric outcome (the "
                                 "class variable needs y in 0/1)", self.method)
        if method == "class":
            z = np.where(w, values, 1.0 - values)
            model = self._base(self.estimator, BINARY)
            if math.isclose(e, 0.5, rel_tol=0.0, abs_tol=1e-12):
                model.fit(X, z)
            else:
                _fit_weighted(model, X, z, np.where(w, 0.5 / e, 0.5 / (1 - e)))
        else:
            z = np.where(w, values / e, -values / (1 - e))
            model = self._base(self.estimator, NUMERIC,
                               regression="the transformed outcome").fit(X, z)
        self.model_, self.method_, self.propensity_ = model, method, e
        self._fitted(X, w, kind)
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Uplift: ``2 P(z = 1 | x) - 1`` (class) or ``E[z | x]`` (outcome)."""
        self._check_fitted()
        if self.method_ == "class":
            return 2.0 * _mean(self.model_, X) - 1.0
        return _mean(self.model_, X)


def _fit_weighted(model: Any, X: Any, y: np.ndarray, weight: np.ndarray) -> None:
    from sklearn.utils.validation import has_fit_parameter

    if not has_fit_parameter(model, "sample_weight"):
        raise ParameterError("estimator", "an estimator whose fit accepts sample_weight (the "
                             "class transformation weights the arms when the treated share "
                             "is not 1/2)", type(model).__name__)
    model.fit(X, y, sample_weight=weight)


class XLearner(_Uplift):
    """X-learner (Künzel, Sekhon, Bickel & Yu 2019, PNAS 116(10)).

    1. Outcome models ``mu_0``, ``mu_1`` per arm (as :class:`TwoModel`).
    2. Imputed effects: ``D_1 = y - mu_0(x)`` for the treated, ``D_0 = mu_1(x) - y`` for the
       control; regressors ``tau_1`` on the treated's ``D_1`` and ``tau_0`` on the control's
       ``D_0``.
    3. Uplift ``= e tau_0(x) + (1 - e) tau_1(x)``: each arm's effect model is weighted by the
       *other* arm's share, so the larger arm's imputations, made with the smaller arm's model,
       count less (the paper's ``g(x) = e(x)``; constant under randomisation).

    Parameters
    ----------
    estimator
        Base estimator of the outcome models (default :func:`default_estimator`).
    effect_estimator
        Regressor of the imputed effects (default :func:`default_estimator` ``("numeric")``).
    propensity
        ``e``; ``None`` uses the treated share of the training rows.
    """

    def __init__(self, estimator: Any = None, effect_estimator: Any = None,
                 propensity: float | None = None) -> None:
        self.estimator = estimator
        self.effect_estimator = effect_estimator
        self.propensity = propensity

    def fit(self, X: Any, treatment: object, y: object) -> XLearner:
        """Fit the outcome models, then the effect models on the imputed effects."""
        w, values, kind = self._inputs(X, treatment, y)
        e = _propensity(self.propensity, w)
        x0, x1 = _take(X, ~w), _take(X, w)
        control = self._base(self.estimator, kind).fit(x0, values[~w])
        treated = self._base(self.estimator, kind).fit(x1, values[w])
        d1 = values[w] - _mean(control, x1)
        d0 = _mean(treated, x0) - values[~w]
        self.control_model_, self.treatment_model_ = control, treated
        effects = dict(regression="the imputed effects", name="effect_estimator")
        self.effect_treated_ = self._base(self.effect_estimator, kind, **effects).fit(x1, d1)
        self.effect_control_ = self._base(self.effect_estimator, kind, **effects).fit(x0, d0)
        self.propensity_ = e
        self._fitted(X, w, kind)
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Uplift ``e tau_0(x) + (1 - e) tau_1(x)``."""
        self._check_fitted()
        e = self.propensity_
        return e * _mean(self.effect_control_, X) + (1 - e) * _mean(self.effect_treated_, X)


def out_of_fold(model: Any, X: Any, treatment: object, y: object, *, n_splits: int = 5,
                seed: int = 0, threads: int | None = 1) -> np.ndarray:
    """Each customer's uplift predicted by a clone of ``model`` fitted without them.

    Scores to evaluate a model on the campaign it learned from: in-sample predictions follow
    the campaign's own noise, so their AUUC and profit estimates are optimistic (on the
    synthetic campaign a T-learner's in-sample AUUC exceeded the true uplift's own). Folds are
    ``StratifiedKFold(n_splits, shuffle=True, random_state=seed)`` over the arm (and, for a
    0/1 outcome, the arm x outcome cells), so every training fold holds both arms.
    ``threads`` caps OpenMP threads during the fits (``None``: no cap): on a shared 2-core
    machine gradient boosting ran one fit in 0.5 s on one thread and 4.7 s on all.
    """
    from sklearn.base import clone
    from sklearn.model_selection import StratifiedKFold
    from threadpoolctl import threadpool_limits

    if not isinstance(model, _Uplift):
        raise ParameterError("model", "a retaillab.uplift model (TwoModel, ...)", model)
    n = _rows(X)
    w = _checks.treatment(treatment, n)
    values, kind = _outcome(y, n)
    splits = _checks.whole("n_splits", n_splits, 2)
    cells = w.astype(np.int64) * 2 + (values.astype(np.int64) if kind == BINARY else 0)
    folds = StratifiedKFold(splits, shuffle=True, random_state=_checks.seed(seed))
    out = np.empty(n)
    with threadpool_limits(limits=threads, user_api="openmp"):
        for train, test in folds.split(np.zeros(n), cells):
            fitted = clone(model).fit(_take(X, _mask(train, n)), w[train], values[train])
            out[test] = fitted.predict(_take(X, _mask(test, n)))
    return out


def _mask(index: np.ndarray, n: int) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    mask[index] = True
    return mask
