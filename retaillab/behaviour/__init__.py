"""Behaviour analytics before any model: the funnel and the dwell effect, KPIs and cohorts,
customer segments as personas.

One module per analysis (``funnel``, ``dwell``, ``kpis``, ``segments``); each returns tidy
DataFrames, with a ``customers`` count on every group so reports can suppress small cells
(:func:`retaillab.behaviour.privacy.suppress`). scikit-learn, scipy and matplotlib load when
an analysis or figure needs them.
"""
