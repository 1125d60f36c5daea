"""Behaviour analytics before any model: the funnel and the dwell effect, KPIs and cohorts,
customer segments as personas.

One module per analysis, each loaded on first use: ``funnel`` (sessions, stage funnel,
Wilson intervals), ``dwell`` (the dwell dose-response and the honest threshold search),
``kpis`` (KPIs per period, cohorts, tier migration), ``segments`` (features, k-means /
Gaussian mixtures, stability, personas, transitions) and ``privacy`` (small-cell
suppression). Each returns tidy DataFrames with a ``customers`` count on every group so
reports can suppress small cells. scikit-learn, scipy and matplotlib load when an analysis or
figure needs them.

>>> from retaillab import behaviour, data
>>> world = data.synthetic(2000, 200, seed=1)
>>> stages = behaviour.funnel.funnel(world.events)                          # doctest: +SKIP
>>> effect = behaviour.dwell.dwell_effect(world.events, threshold=30)       # doctest: +SKIP
>>> monthly = behaviour.kpis.kpis(world.transactions, period="M")           # doctest: +SKIP
>>> table = behaviour.segments.customer_features(world.transactions)        # doctest: +SKIP
>>> found = behaviour.segments.segment(table, k=range(2, 7), seed=0)        # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

_SUBMODULES = ("dwell", "funnel", "kpis", "privacy", "segments")

__all__ = ["dwell", "funnel", "kpis", "privacy", "segments"]

if TYPE_CHECKING:  # pragma: no cover
    from retaillab.behaviour import dwell, funnel, kpis, privacy, segments


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"retaillab.behaviour.{name}")
    raise AttributeError(f"module 'retaillab.behaviour' has no attribute {name!r}")
