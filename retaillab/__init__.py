"""retaillab: a research workbench for retail customer analytics.

Subpackages load on first use, so ``import retaillab`` stays fast::

    from retaillab import data
    ml = data.load("movielens")
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

_SUBMODULES = ("behaviour", "campaigns", "churn", "clv", "data", "errors", "metrics", "recsys")

__all__ = ["__version__", "behaviour", "campaigns", "churn", "clv", "data", "errors",
           "metrics", "recsys"]

if TYPE_CHECKING:  # pragma: no cover
    from retaillab import behaviour, campaigns, churn, clv, data, errors, metrics, recsys


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"retaillab.{name}")
    raise AttributeError(f"module 'retaillab' has no attribute {name!r}")
