"""Behaviour analytics before any model: the funnel and the dwell effect, KPIs and cohorts,
customer segments as personas.

One module per analysis (``funnel``, ``dwell``, ``kpis``, ``segments``); each returns tidy
DataFrames, with a ``customers`` count on every group so reports can suppress small cells
(:func:`retaillab.behaviour.privacy.suppress`). scikit-learn, scipy and matplotlib load when
an analysis or figure needs them.

>>> from retaillab import behaviour, data
>>> world = data.synthetic(2000, 200, seed=1)
>>> stages = behaviour.funnel(world.events)                       # doctest: +SKIP
>>> effect = behaviour.dwell_effect(world.events, threshold=30)  # doctest: +SKIP
>>> monthly = behaviour.kpis(world.transactions, period="M")     # doctest: +SKIP
>>> found = behaviour.segment(behaviour.customer_features(world.transactions))  # doctest: +SKIP
"""

from retaillab.behaviour.dwell import (
    DwellEffect,
    OddsRatio,
    ThresholdSearch,
    dwell_curve,
    dwell_effect,
    odds_ratio,
    search_threshold,
    split_halves,
)
from retaillab.behaviour.funnel import Funnel, funnel, funnel_chart, sessions, wilson_interval
from retaillab.behaviour.kpis import (
    Cohorts,
    TierMigration,
    cohort_heatmap,
    cohorts,
    kpi_figure,
    kpis,
    tier_migration,
)
from retaillab.behaviour.privacy import K, suppress, too_small
from retaillab.behaviour.segments import (
    Segmentation,
    customer_features,
    export,
    persona_figure,
    personas,
    segment,
    transitions,
)

__all__ = [
    "Cohorts", "DwellEffect", "Funnel", "K", "OddsRatio", "Segmentation", "ThresholdSearch",
    "TierMigration", "cohort_heatmap", "cohorts", "customer_features", "dwell_curve",
    "dwell_effect", "export", "funnel", "funnel_chart", "kpi_figure", "kpis", "odds_ratio",
    "persona_figure", "personas", "search_threshold", "segment", "sessions", "split_halves",
    "suppress", "tier_migration", "too_small", "transitions", "wilson_interval",
]
