"""Uplift: who a campaign changes, how to check a targeting model, and whom to treat for profit.

- :mod:`~retaillab.uplift.models`: :class:`TwoModel`, :class:`ClassTransformation`,
  :class:`SoloModel`, :class:`XLearner`, scikit-learn estimators with ``fit(X, treatment, y)``
  and ``predict(X)`` = the uplift;
- :mod:`~retaillab.uplift.evaluation`: uplift and Qini curves, AUUC and the Qini coefficient,
  uplift at the top k%, each with a seeded bootstrap interval (paired for two models);
- :mod:`~retaillab.uplift.policy`: the expected incremental value of treating a customer
  (uplift x value - costs), profit curves of targeting policies estimated from the campaign
  by inverse-propensity weighting, a budget, and on synthetic truth the true profit.

>>> from retaillab import uplift
>>> model = uplift.TwoModel().fit(X, treatment, converted)                 # doctest: +SKIP
>>> uplift.evaluate(converted, treatment, {"two": model.predict(X)}, seed=0)  # doctest: +SKIP

Names load on first use, so ``import retaillab.uplift`` loads neither scikit-learn nor
matplotlib.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

_LAZY = {
    "TwoModel": "models",
    "ClassTransformation": "models",
    "SoloModel": "models",
    "XLearner": "models",
    "default_estimator": "models",
    "out_of_fold": "models",
    "uplift_curve": "evaluation",
    "qini_curve": "evaluation",
    "auuc": "evaluation",
    "qini": "evaluation",
    "uplift_at": "evaluation",
    "compare_scores": "evaluation",
    "evaluate": "evaluation",
    "Costs": "policy",
    "incremental_value": "policy",
    "policy_scores": "policy",
    "profit_curves": "policy",
    "profit_at_budget": "policy",
    "true_profit": "policy",
    "true_profit_curves": "policy",
    "profit_figure": "policy",
}

__all__ = [  # noqa: RUF022 - grouped by module
    "ClassTransformation", "SoloModel", "TwoModel", "XLearner", "default_estimator",
    "out_of_fold",
    "auuc", "compare_scores", "evaluate", "qini", "qini_curve", "uplift_at", "uplift_curve",
    "Costs", "incremental_value", "policy_scores", "profit_at_budget", "profit_curves",
    "profit_figure", "true_profit", "true_profit_curves",
]

if TYPE_CHECKING:  # pragma: no cover
    from retaillab.uplift.evaluation import (
        auuc,
        compare_scores,
        evaluate,
        qini,
        qini_curve,
        uplift_at,
        uplift_curve,
    )
    from retaillab.uplift.models import (
        ClassTransformation,
        SoloModel,
        TwoModel,
        XLearner,
        default_estimator,
        out_of_fold,
    )
    from retaillab.uplift.policy import (
        Costs,
        incremental_value,
        policy_scores,
        profit_at_budget,
        profit_curves,
        profit_figure,
        true_profit,
        true_profit_curves,
    )


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(f"retaillab.uplift.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'retaillab.uplift' has no attribute {name!r}")
