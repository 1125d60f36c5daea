"""Data: built-in real sets, the synthetic retail world, user files, splits and fingerprints.

>>> from retaillab import data
>>> ml = data.load("movielens")                                    # doctest: +SKIP
>>> train, test = data.split(ml.interactions, "stratified", ratio=0.75, seed=42)  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from retaillab.data.dataset import Dataset
from retaillab.data.schema import COLUMNS, Columns

# imported at once (numpy and pandas only): a lazy name equal to its module's name would be
# replaced by the module as soon as anything imported it
from retaillab.data.synthetic_campaign import SyntheticCampaign, synthetic_campaign

_LAZY = {
    "load": "sources",
    "available": "builtin",
    "synthetic": "synthetic_world",
    "SyntheticParams": "synthetic_world",
    "SyntheticTruth": "synthetic_world",
    "read_interactions": "user",
    "read_transactions": "user",
    "read_customers": "user",
    "read_events": "user",
    "read_items": "user",
    "split": "splits",
    "kfold": "splits",
    "fingerprint": "fingerprinting",
    "fingerprints": "fingerprinting",
}

__all__ = [  # noqa: RUF022 - grouped by what they are for
    "COLUMNS", "Columns", "Dataset",
    "available", "load", "synthetic", "SyntheticParams", "SyntheticTruth",
    "synthetic_campaign", "SyntheticCampaign",
    "read_customers", "read_events", "read_interactions", "read_items", "read_transactions",
    "fingerprint", "fingerprints", "kfold", "split",
]

if TYPE_CHECKING:  # pragma: no cover
    from retaillab.data.builtin import available
    from retaillab.data.fingerprinting import fingerprint, fingerprints
    from retaillab.data.sources import load
    from retaillab.data.splits import kfold, split
    from retaillab.data.synthetic_world import SyntheticParams, SyntheticTruth, synthetic
    from retaillab.data.user import (
        read_customers,
        read_events,
        read_interactions,
        read_items,
        read_transactions,
    )


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(f"retaillab.data.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'retaillab.data' has no attribute {name!r}")
