"""Customer lifetime value: RFM, value tiers, BTYD models, CLV and holdout evaluation.

>>> from retaillab import clv, data
>>> tx = data.load("cdnow_sample").transactions                       # doctest: +SKIP
>>> summary = clv.rfm_summary(tx, calibration_end="1997-09-30", unit="W")   # doctest: +SKIP
>>> bg = clv.BetaGeo().fit(summary)                                   # doctest: +SKIP
>>> gg = clv.GammaGamma().fit(summary)                                # doctest: +SKIP
>>> clv.customer_lifetime_value(bg, gg, summary, months=12)           # doctest: +SKIP
>>> clv.predict_interval(bg, summary, what="purchases", t=39).total   # doctest: +SKIP

Names load on first use, so ``import retaillab.clv`` does not import scipy or matplotlib.
``compare`` is imported at once (it needs only pandas): a lazy name would be replaced by the
module ``retaillab.clv.compare`` as soon as anything imported that module.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from retaillab.clv.compare import compare

_LAZY = {
    "BetaGeo": "beta_geo",
    "ModifiedBetaGeo": "beta_geo",
    "ParetoNBD": "pareto_nbd",
    "GammaGamma": "gamma_gamma",
    "FitError": "_engine",
    "MODELS": "registry",
    "create": "registry",
    "available": "registry",
    "rfm_summary": "rfm",
    "rfm_scores": "rfm",
    "rfm_segments": "rfm",
    "SEGMENTS": "rfm",
    "value_tiers": "tiers",
    "tier_transitions": "tiers",
    "tier_repeat_rates": "tiers",
    "customer_lifetime_value": "value",
    "simple_clv": "baselines",
    "rate_baseline": "baselines",
    "last_period_baseline": "baselines",
    "holdout_table": "evaluation",
    "holdout_metrics": "evaluation",
    "tracking": "evaluation",
    "conditional_by_frequency": "evaluation",
    "predict_interval": "uncertainty",
    "parameter_draws": "uncertainty",
    "likelihood_ratio_test": "uncertainty",
    "PredictionIntervals": "uncertainty",
    "LikelihoodRatio": "uncertainty",
}

__all__ = [
    "MODELS",
    "SEGMENTS",
    "BetaGeo",
    "FitError",
    "GammaGamma",
    "LikelihoodRatio",
    "ModifiedBetaGeo",
    "ParetoNBD",
    "PredictionIntervals",
    "available",
    "compare",
    "conditional_by_frequency",
    "create",
    "customer_lifetime_value",
    "holdout_metrics",
    "holdout_table",
    "last_period_baseline",
    "likelihood_ratio_test",
    "parameter_draws",
    "predict_interval",
    "rate_baseline",
    "rfm_scores",
    "rfm_segments",
    "rfm_summary",
    "simple_clv",
    "tier_repeat_rates",
    "tier_transitions",
    "tracking",
    "value_tiers",
]

if TYPE_CHECKING:  # pragma: no cover
    from retaillab.clv._engine import FitError
    from retaillab.clv.baselines import last_period_baseline, rate_baseline, simple_clv
    from retaillab.clv.beta_geo import BetaGeo, ModifiedBetaGeo
    from retaillab.clv.evaluation import (
        conditional_by_frequency,
        holdout_metrics,
        holdout_table,
        tracking,
    )
    from retaillab.clv.gamma_gamma import GammaGamma
    from retaillab.clv.pareto_nbd import ParetoNBD
    from retaillab.clv.registry import MODELS, available, create
    from retaillab.clv.rfm import SEGMENTS, rfm_scores, rfm_segments, rfm_summary
    from retaillab.clv.tiers import tier_repeat_rates, tier_transitions, value_tiers
    from retaillab.clv.uncertainty import (
        LikelihoodRatio,
        PredictionIntervals,
        likelihood_ratio_test,
        parameter_draws,
        predict_interval,
    )
    from retaillab.clv.value import customer_lifetime_value


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(f"retaillab.clv.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'retaillab.clv' has no attribute {name!r}")
