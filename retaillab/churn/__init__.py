"""Churn: features from transactions at a cut-off, model pipelines, evaluation, retention value.

>>> from retaillab import churn, data
>>> churn.available()
['dummy', 'logistic', 'tree', 'forest', 'gbm']
>>> telco = data.load("telco_churn")                                       # doctest: +SKIP
>>> result = churn.compare(telco.customers, target="churn", models=["logistic", "gbm"],
...                        n_splits=5, n_repeats=2, seed=0)                 # doctest: +SKIP
>>> result.table                     # model x metric: mean, ci_low, ci_high  # doctest: +SKIP
>>> tx = data.load("cdnow").transactions                                   # doctest: +SKIP
>>> churn.timeline(tx, cutoff="1997-09-30", horizon_days=180,
...                models=["bg_nbd", "pareto_nbd", "logistic", "gbm", "cox"])  # doctest: +SKIP

scikit-learn and matplotlib are imported only when a model is built or a figure drawn.
"""

from retaillab.churn.compare import ChurnComparison, compare, folds, permutation_importance
from retaillab.churn.features import churn_labels, churn_table, transaction_features
from retaillab.churn.metrics import METRICS, capture_at, fold_metrics, lift_at
from retaillab.churn.out_of_time import OutOfTime, active_only, out_of_time
from retaillab.churn.registry import available, create, hyperparameters
from retaillab.churn.retention import ContactList, RetentionValue, contact_list, retention_value
from retaillab.churn.timeline import Timeline, next_purchase, timeline

__all__ = [
    "METRICS", "ChurnComparison", "ContactList", "OutOfTime", "RetentionValue", "Timeline",
    "active_only", "available", "capture_at", "churn_labels", "churn_table", "compare",
    "contact_list", "create", "fold_metrics", "folds", "hyperparameters", "lift_at",
    "next_purchase", "out_of_time", "permutation_importance", "retention_value", "timeline",
    "transaction_features",
]
