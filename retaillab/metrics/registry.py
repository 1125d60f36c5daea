"""Metric names as stored in configs, and :func:`get` to turn one into its function."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

from retaillab.errors import UnknownNameError
from retaillab.metrics.beyond import BEYOND_METRICS
from retaillab.metrics.ranking import RANKING_METRICS
from retaillab.metrics.rating import RATING_METRICS

#: name -> scalar metric function. Signatures by family: rating ``fn(y_true, y_pred)``;
#: ranking ``fn(recs, test, k, *, threshold=None)``; beyond accuracy ``fn(recs, train)``,
#: ``coverage(recs, n_items)``, ``intra_list_diversity(recs, item_features)``.
METRICS: dict[str, Callable[..., float]] = {**RATING_METRICS, **RANKING_METRICS,
                                            **BEYOND_METRICS}

_AT_K = re.compile(r"^(?P<stem>\w+?)_at_(?P<k>[1-9]\d*)$")


def get(name: str) -> Callable[..., float]:
    """The metric function registered as ``name``.

    A ranking name with a number, as logged (``"ndcg_at_10"``), gives that metric with ``k``
    bound: ``get("ndcg_at_10")(recs, test)``.

    Raises
    ------
    UnknownNameError
        For a name that is not in :data:`METRICS` (the closest is suggested).
    """
    if isinstance(name, str) and name in METRICS:
        return METRICS[name]
    match = _AT_K.match(name) if isinstance(name, str) else None
    if match and f"{match['stem']}_at_k" in METRICS:
        return functools.partial(METRICS[f"{match['stem']}_at_k"], k=int(match["k"]))
    raise UnknownNameError("metric", name, list(METRICS))
