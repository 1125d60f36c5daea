"""Evaluation metrics as pure functions: rating error, top-k ranking, beyond accuracy, and the
intervals and paired tests to compare models.

>>> from retaillab import metrics
>>> metrics.ranking(model.recommend(users, k=10), test, k=10)          # doctest: +SKIP
>>> metrics.rating(model.predict(test), test)                          # doctest: +SKIP
>>> per_user = metrics.ranking_per_user(recs, test, k=10)["ndcg_at_10"]  # doctest: +SKIP
>>> metrics.bootstrap_interval(per_user)                               # doctest: +SKIP
>>> metrics.corrected_interval(fold_values, n_train=800, n_test=200)   # doctest: +SKIP
>>> metrics.get("ndcg_at_10")(recs, test)                              # doctest: +SKIP

scipy is imported only by the interval and test functions.
"""

from retaillab.metrics.beyond import (
    beyond_accuracy,
    coverage,
    intra_list_diversity,
    intra_list_diversity_per_user,
    novelty,
    novelty_per_user,
    popularity_bias,
    popularity_bias_per_user,
)
from retaillab.metrics.compare import (
    bootstrap_interval,
    compare_with_best,
    confidence_interval,
    corrected_interval,
    corrected_paired_test,
    holm,
    paired_test,
)
from retaillab.metrics.ranking import (
    hit_rate_at_k,
    map_at_k,
    mrr_at_k,
    ndcg_at_k,
    precision_at_k,
    ranking,
    ranking_per_user,
    recall_at_k,
)
from retaillab.metrics.rating import (
    explained_variance,
    mae,
    r2,
    rating,
    rating_per_user,
    rmse,
)
from retaillab.metrics.registry import METRICS, get

__all__ = [
    "METRICS",
    "beyond_accuracy",
    "bootstrap_interval",
    "compare_with_best",
    "confidence_interval",
    "corrected_interval",
    "corrected_paired_test",
    "coverage",
    "explained_variance",
    "get",
    "hit_rate_at_k",
    "holm",
    "intra_list_diversity",
    "intra_list_diversity_per_user",
    "mae",
    "map_at_k",
    "mrr_at_k",
    "ndcg_at_k",
    "novelty",
    "novelty_per_user",
    "paired_test",
    "popularity_bias",
    "popularity_bias_per_user",
    "precision_at_k",
    "r2",
    "ranking",
    "ranking_per_user",
    "rating",
    "rating_per_user",
    "recall_at_k",
    "rmse",
]
