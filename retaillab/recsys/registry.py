"""Names of the recommenders, and :func:`create` / :func:`available`.

Models are imported on first use, so listing them loads neither Surprise nor implicit. The
lookup and the hyperparameter check are :class:`retaillab.registry.Registry`'s, shared with
every model family.
"""

from __future__ import annotations

from typing import Any

from retaillab.registry import Registry

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


REGISTRY = Registry("recommender", MODELS)


def available() -> list[str]:
    """Names :func:`create` accepts."""
    return REGISTRY.available()


def model_class(name: str) -> type:
    """The class registered as ``name``."""
    return REGISTRY.factory(name)


def create(name: str, **params: Any) -> Any:
    """A new, unfitted recommender ``name`` with hyperparameters ``params``.

    Raises
    ------
    UnknownNameError
        For a name not in :func:`available` (the closest is suggested).
    ParameterError
        For a hyperparameter the model does not have.
    """
    return REGISTRY.create(name, **params)
