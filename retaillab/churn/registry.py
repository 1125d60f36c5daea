"""Churn models by name: :func:`create` gives a scikit-learn pipeline, :func:`available` lists.

Every model is ``Pipeline([("prepare", preprocessor()), ("model", classifier)])`` with the
same preprocessing (:func:`retaillab.churn._prepare.preprocessor`), so a comparison differs
only in the classifier.

**Probabilities mean what they say by default**: every model fits unweighted, so its
probabilities estimate the churn rate (Brier, log loss, the calibration curve and the
retention value read them as such). Class weights stay an option:
``class_weight="balanced"`` weighs each class by ``n / (2 n_class)``, which ranks the same or
better on rare churn but pushes probabilities towards 0.5; scikit-learn's histogram gradient
boosting turns that option into per-sample weights inside ``fit`` (scikit-learn >= 1.2), so a
plain ``cross_validate`` of the pipeline weighs exactly as :func:`~retaillab.churn.compare`.
``calibration="sigmoid"`` or ``"isotonic"`` wraps the classifier in scikit-learn's
``CalibratedClassifierCV`` (3-fold, on the training rows only), for models whose scores are
not probabilities (trees, forests, weighted fits).
Every model takes ``seed`` (its ``random_state``); scikit-learn is imported only when a model
is built.

>>> from retaillab import churn
>>> churn.available()
['dummy', 'logistic', 'tree', 'forest', 'gbm']
>>> model = churn.create("forest", n_estimators=100, seed=1)     # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from retaillab.churn._prepare import preprocessor
from retaillab.registry import Registry

__all__ = ["MODELS", "REGISTRY", "SEARCH_SPACES", "available", "create", "hyperparameters",
           "search_space"]


CALIBRATIONS = (None, "sigmoid", "isotonic")


def _pipeline(classifier: Any, calibration: str | None = None):
    """Preprocessing, then the classifier; with ``calibration`` the classifier is wrapped in
    :class:`~sklearn.calibration.CalibratedClassifierCV` (3-fold, on the training rows of
    whatever fold the pipeline is fitted on, so no test row ever calibrates it)."""
    from sklearn.pipeline import Pipeline

    from retaillab.errors import check_choice

    check_choice("calibration", calibration, CALIBRATIONS)
    if calibration is not None:
        from sklearn.calibration import CalibratedClassifierCV

        classifier = CalibratedClassifierCV(classifier, method=calibration, cv=3)
    return Pipeline([("prepare", preprocessor()), ("model", classifier)])


def dummy(*, strategy: str = "prior", seed: int = 0):
    """Baseline: every customer gets the training churn rate (ROC AUC 0.5, lift 1)."""
    from sklearn.dummy import DummyClassifier

    return _pipeline(DummyClassifier(strategy=strategy, random_state=seed))


def logistic(*, C: float = 1.0, class_weight: str | None = None,
             max_iter: int = 2000, calibration: str | None = None, seed: int = 0):
    """L2-penalised logistic regression (lbfgs) on the scaled, one-hot features."""
    from sklearn.linear_model import LogisticRegression

    return _pipeline(LogisticRegression(C=C, class_weight=class_weight, max_iter=max_iter,
                                        random_state=seed), calibration)


def tree(*, max_depth: int | None = 6, min_samples_leaf: int = 20,
         class_weight: str | None = None, calibration: str | None = None, seed: int = 0):
    """A single CART decision tree, kept shallow so its probabilities are not all 0 or 1."""
    from sklearn.tree import DecisionTreeClassifier

    return _pipeline(DecisionTreeClassifier(max_depth=max_depth, min_samples_leaf=min_samples_leaf,
                                            class_weight=class_weight, random_state=seed),
                     calibration)


def forest(*, n_estimators: int = 300, max_features: str | float = "sqrt",
           min_samples_leaf: int = 5, class_weight: str | None = None,
           n_jobs: int | None = None, calibration: str | None = None, seed: int = 0):
    """Random forest; ``n_jobs`` parallelises trees without changing the result."""
    from sklearn.ensemble import RandomForestClassifier

    return _pipeline(RandomForestClassifier(
        n_estimators=n_estimators, max_features=max_features, min_samples_leaf=min_samples_leaf,
        class_weight=class_weight, n_jobs=n_jobs, random_state=seed), calibration)


def gbm(*, learning_rate: float = 0.05, max_iter: int = 200, max_leaf_nodes: int = 15,
        l2_regularization: float = 1.0, class_weight: str | None = None,
        calibration: str | None = None, seed: int = 0):
    """Histogram gradient boosting; no early stopping, so no hidden validation split."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    return _pipeline(HistGradientBoostingClassifier(
        learning_rate=learning_rate, max_iter=max_iter, max_leaf_nodes=max_leaf_nodes,
        l2_regularization=l2_regularization, class_weight=class_weight, early_stopping=False,
        random_state=seed), calibration)


#: name -> factory of a fresh, unfitted pipeline
MODELS: dict[str, Callable[..., Any]] = {
    "dummy": dummy, "logistic": logistic, "tree": tree, "forest": forest, "gbm": gbm}

#: the lookup and hyperparameter checks shared with every model family
REGISTRY = Registry("churn model", MODELS)


#: name -> Optuna search space (see :mod:`retaillab.tuning.spaces`); a spec's ``space``
#: overrides it. Class weights and seeds stay fixed: they are choices, not tuning knobs.
SEARCH_SPACES: dict[str, dict[str, tuple]] = {
    "logistic": {"C": ("float", 1e-3, 100.0, {"log": True})},
    "tree": {"max_depth": ("int", 2, 12), "min_samples_leaf": ("int", 5, 200, {"log": True})},
    "forest": {"n_estimators": ("int", 50, 500, {"log": True}),
               "max_features": ("categorical", ["sqrt", "log2", 0.5]),
               "min_samples_leaf": ("int", 1, 50, {"log": True})},
    "gbm": {"learning_rate": ("float", 0.01, 0.3, {"log": True}),
            "max_iter": ("int", 50, 500, {"log": True}),
            "max_leaf_nodes": ("int", 4, 64, {"log": True}),
            "l2_regularization": ("float", 1e-3, 10.0, {"log": True})},
}


def search_space(name: str) -> dict[str, tuple]:
    """The default Optuna search space of churn model ``name`` (empty for ``dummy``)."""
    REGISTRY.factory(name)  # an unknown name fails here
    return dict(SEARCH_SPACES.get(name, {}))


def available() -> list[str]:
    """Names :func:`create` accepts."""
    return REGISTRY.available()


def hyperparameters(name: str) -> dict[str, object]:
    """The keyword arguments model ``name`` takes, with their defaults."""
    return REGISTRY.hyperparameters(name)


def create(name: str, **params: object) -> Any:
    """A new, unfitted scikit-learn pipeline for churn model ``name``.

    Parameters
    ----------
    name
        One of :func:`available`.
    **params
        Hyperparameters of that model (see :func:`hyperparameters`), including ``seed``.

    Raises
    ------
    UnknownNameError
        For a name not in :func:`available` (the closest is suggested).
    ParameterError
        For a hyperparameter the model does not have.
    """
    return REGISTRY.create(name, **params)
