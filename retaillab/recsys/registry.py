"""Names of the recommenders, and :func:`create` / :func:`available`.

Models are imported on first use, so listing them loads neither Surprise nor implicit.
"""

from __future__ import annotations

import importlib
import inspect

from retaillab.errors import ParameterError, UnknownNameError

#: name -> "module:Class"
MODELS: dict[str, str] = {
    # rating models from Surprise (top-N computed here, vectorised)
    "baseline_only": "retaillab.recsys.surprise_family:BaselineOnly",
    "svd": "retaillab.recsys.surprise_family:SVD",
    "svdpp": "retaillab.recsys.surprise_family:SVDpp",
    "nmf": "retaillab.recsys.surprise_family:NMF",
    "slope_one": "retaillab.recsys.surprise_family:SlopeOne",
    "knn_basic": "retaillab.recsys.surprise_family:KNNBasic",
    "knn_with_means": "retaillab.recsys.surprise_family:KNNWithMeans",
    "knn_baseline": "retaillab.recsys.surprise_family:KNNBaseline",
    "co_clustering": "retaillab.recsys.surprise_family:CoClustering",
    "normal_predictor": "retaillab.recsys.surprise_family:NormalPredictor",
    # top-N models
    "most_popular": "retaillab.recsys.popular:MostPopular",
    "item_knn": "retaillab.recsys.item_knn:ItemKNN",
    "ease": "retaillab.recsys.ease:EASE",
    "als": "retaillab.recsys.implicit_models:ALS",
    "bpr": "retaillab.recsys.implicit_models:BPR",
    "content_based": "retaillab.recsys.content:ContentBased",
    "bought_together": "retaillab.recsys.together:BoughtTogether",
}


def available() -> list[str]:
    """Names :func:`create` accepts."""
    return list(MODELS)


def model_class(name: str) -> type:
    """The class registered as ``name``."""
    if name not in MODELS:
        raise UnknownNameError("recommender", name, list(MODELS))
    module, cls = MODELS[name].split(":")
    return getattr(importlib.import_module(module), cls)


def create(name: str, **params: object):
    """A new, unfitted recommender ``name`` with hyperparameters ``params``.

    Raises
    ------
    UnknownNameError
        For a name not in :func:`available` (the closest is suggested).
    ParameterError
        For a hyperparameter the model does not have.
    """
    cls = model_class(name)
    accepted = [p for p in inspect.signature(cls).parameters]
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise ParameterError(f"{name} hyperparameter {unknown[0]!r}",
                             "one of " + (", ".join(accepted) or "(none)"), unknown[0])
    return cls(**params)
