"""Out-of-core order logs: files too big for pandas, checked and aggregated by DuckDB.

An order log of tens of millions of lines does not fit pandas on a laptop: its text columns
alone take several times the file's size once read. DuckDB (embedded: nothing to start)
reads a folder of Parquet files or a large CSV in a bounded amount of memory, spilling to a
temporary directory, and reduces it in SQL to what the analyses need; only those aggregates
come into pandas::

    from retaillab import outofcore

    with outofcore.OrderLog("orders/", columns={"customer": "cust_id"}) as orders:
        summary = orders.rfm_summary(calibration_end="2024-06-30", unit="W")
        features = orders.transaction_features("2024-06-30")
        interactions = orders.interactions()
        kpis = orders.kpis(period="M")

Each result is the frame the pandas path gives (:func:`retaillab.data.read_transactions` then
:func:`retaillab.clv.rfm_summary`, :func:`retaillab.churn.transaction_features`,
:func:`retaillab.data.feedback.from_transactions`, :func:`retaillab.behaviour.kpis`,
:func:`retaillab.behaviour.cohorts`): same index, columns, dtypes and order, counts equal and
sums equal to float rounding (DuckDB adds in another order). The file is refused where the
pandas reader refuses it, with one :class:`~retaillab.errors.DataError`.

``duckdb`` is imported when an :class:`OrderLog` is made, not with this package.
"""

from __future__ import annotations

from retaillab.outofcore.log import OrderLog

__all__ = ["OrderLog"]
