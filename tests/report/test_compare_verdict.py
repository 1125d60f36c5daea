"""The report's verdict over many models: "no significant winner" when that is the truth;
per-user values of several folds averaged per user before testing; the same correction as the
comparison that logged the folds."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from scipy import stats

from retaillab import churn, report, tracking

from ..churn.conftest import toy_customers


def test_two_identical_models_give_no_significant_winner(store):
    """dummy and a tree that cannot split (one leaf: the training churn rate) predict the same
    probability for every customer on every fold."""
    run = tracking.notebook_run(None, experiment="churn-twins", params={})
    result = churn.compare(toy_customers(150), models={
        "dummy": {}, "tree": {"min_samples_leaf": 10_000}}, n_splits=3, n_repeats=2, run=run,
        importance=False, log_models="none", progress=False)
    run.close()
    folds = result.folds.set_index("model")
    assert folds.loc["dummy", "brier"].tolist() == pytest.approx(
        folds.loc["tree", "brier"].tolist(), abs=1e-12)
    rep = report.gather("churn-twins", metric="brier")
    paired = rep.paired
    assert paired["tests"]["p_holm"].tolist() == pytest.approx([1.0])
    assert paired["significant"] is False and paired["better_than"] == []
    assert paired["verdict"].startswith("No significant winner: ")
    assert "corrected resampled paired t over 6 folds" in paired["verdict"]
    page = report.render_html([rep])
    assert "No significant winner: " in page and "significant winner:" not in page.replace(
        "No significant winner:", "")
    # the report's interval is the one the comparison logged: same folds, same sizes
    row = rep.intervals.set_index(["model", "metric"]).loc[("dummy", "brier")]
    logged = result.table.loc[("dummy", "brier")]
    assert (row["low"], row["high"]) == pytest.approx((logged["ci_low"], logged["ci_high"]))
    assert row["source"] == "corrected resampled t over 6 folds (Nadeau\u2013Bengio)"


def log_per_user(experiment: str, models: dict[str, list[list[float]]],
                 sizes: tuple[int, int] | None = (300, 100)) -> None:
    """One parent run; per model a per_user.csv of users u0.. on every fold (a list per fold)."""
    client = tracking.client()
    exp = tracking.experiment_id(experiment)
    parent = tracking.Run(client.create_run(exp, tags={tracking.TAG_KIND: "notebook"})
                          .info.run_id, exp)
    for name, by_fold in models.items():
        table = pd.concat([pd.DataFrame({"ndcg_at_10": v, "fold": f,
                                         "user": [f"u{i}" for i in range(len(v))]})
                           for f, v in enumerate(by_fold)], ignore_index=True)
        with parent.model(name) as child:
            child.log_metrics({"ndcg_at_10": float(pd.Series(
                [sum(v) / len(v) for v in by_fold]).mean())})
            if sizes is not None:
                child.set_tags({"retaillab.n_train": sizes[0], "retaillab.n_test": sizes[1]})
            child.log_table(table, "per_user.csv")
    client.set_terminated(parent.run_id, "FINISHED")


def test_per_user_values_of_several_folds_count_each_user_once(store):
    a = [[0.5, 0.4, 0.3, 0.2, 0.6], [0.4, 0.4, 0.5, 0.3, 0.5]]
    b = [[0.3, 0.2, 0.3, 0.1, 0.5], [0.3, 0.3, 0.2, 0.2, 0.4]]
    c = [[0.5, 0.3, 0.3, 0.2, 0.5], [0.4, 0.4, 0.4, 0.3, 0.5]]
    log_per_user("users", {"a": a, "b": b, "c": c})
    rep = report.gather("users")
    assert rep.ranking == ["a", "c", "b"]
    paired = rep.paired
    # per user, averaged over the two folds: a - b = 0.15, 0.15, 0.15, 0.1, 0.1
    d = [(a[0][i] + a[1][i] - b[0][i] - b[1][i]) / 2 for i in range(5)]
    assert d == pytest.approx([0.15, 0.15, 0.15, 0.1, 0.1])
    tests = paired["tests"]
    assert tests.loc["b", "n"] == 5  # users, not 10 (user, fold) rows
    assert tests.loc["b", "mean_difference"] == pytest.approx(0.13)
    mean, var = 0.13, sum((x - 0.13) ** 2 for x in d) / 4
    t = mean / math.sqrt(var / 5)
    assert tests.loc["b", "t_statistic"] == pytest.approx(t)
    assert tests.loc["b", "p_value"] == pytest.approx(2 * stats.t.sf(t, 4))
    assert paired["test"] == "paired t over 5 users (each user's values averaged over 2 folds)"
    assert paired["n_tests"] == 3 and paired["better_than"] == ["b"]
    assert paired["not_better_than"] == ["c"]
    assert paired["verdict"].startswith(
        "No significant winner: a has the best mean and is significantly better than 1 of 2 "
        "others (Holm-adjusted p < 0.05), but not significantly better than c (p = ")
    # the interval: corrected t over the 2 fold means, with the logged sizes 300 / 100
    fold_means = [sum(v) / 5 for v in a]
    centre = sum(fold_means) / 2
    var_f = sum((x - centre) ** 2 for x in fold_means)  # / (2 - 1)
    half = stats.t.ppf(0.975, 1) * math.sqrt((1 / 2 + 100 / 300) * var_f)
    row = rep.intervals.set_index(["model", "metric"]).loc[("a", "ndcg_at_10")]
    assert (row["mean"], row["low"], row["high"]) == pytest.approx(
        (centre, centre - half, centre + half))
    assert row["n"] == 2
    assert row["source"] == "corrected resampled t over 2 folds (Nadeau\u2013Bengio)"


def test_a_clear_winner_is_called_significant(store):
    users = range(40)
    a = [[0.5 + 0.01 * (i % 7) for i in users]]
    log_per_user("clear", {"a": a, "b": [[x - 0.1 - 0.001 * (i % 3) for i, x in enumerate(
        a[0])]], "c": [[x - 0.2 + 0.002 * (i % 5) for i, x in enumerate(a[0])]]}, sizes=None)
    rep = report.gather("clear")
    assert rep.paired["significant"] is True
    assert rep.paired["verdict"].startswith("a is the significant winner: better than all 2 "
                                            "other models (Holm-adjusted p < 0.05")
    row = rep.intervals.set_index(["model", "metric"]).loc[("a", "ndcg_at_10")]
    assert row["source"] == "BCa bootstrap over 40 users" and row["low"] < row["mean"]


def test_fold_tables_without_sizes_assume_k_fold_and_say_so(store):
    from .conftest import log_comparison

    log_comparison("old", {"x": {"roc_auc": [0.80, 0.82, 0.84]},
                           "y": {"roc_auc": [0.70, 0.72, 0.75]}})
    row = report.gather("old").intervals.set_index(["model", "metric"]).loc[("x", "roc_auc")]
    half = stats.t.ppf(0.975, 2) * math.sqrt((1 / 3 + 1 / 2) * 0.0004)  # 3-fold: 1/2
    assert (row["low"], row["high"]) == pytest.approx((0.82 - half, 0.82 + half))
    assert row["source"] == ("corrected resampled t over 3 folds (Nadeau\u2013Bengio; "
                             "n_test/n_train = 1/2 assumed from 3-fold)")
