"""The comparison driver: same folds for every model, metrics, intervals and child runs."""

from __future__ import annotations

import pandas as pd
import pytest

from retaillab import data, tracking, visuals
from retaillab.recsys.compare import compare, sample_users


@pytest.fixture(scope="module")
def movielens():
    return data.load("movielens")


def test_compare_scores_every_model_on_the_same_folds(movielens, tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'm.db'}")
    tracking._CLIENTS.clear()
    run = tracking.notebook_run(None, experiment="compare-test", params={})
    result = compare(movielens.interactions, ["most_popular", "ease"], k=5, seed=1,
                     n_users=40, items=movielens.items, run=run, progress=False)
    run.close()
    assert list(result.summary.index) == ["most_popular", "ease"]
    for column in ("ndcg_at_5", "recall_at_5", "fit_seconds", "recommend_seconds", "coverage"):
        assert column in result.summary.columns
    ndcg = result.intervals[result.intervals["metric"] == "ndcg_at_5"].set_index("model")
    assert (ndcg["low"] <= ndcg["mean"]).all() and (ndcg["mean"] <= ndcg["high"]).all()
    # the same test users were scored for both models
    users = {m: set(t.index) for m, t in result.per_user.items()}
    assert users["most_popular"] == users["ease"] and len(users["ease"]) == 40
    children = tracking.Run(run.run_id, run.experiment_id).children()
    logged = {c.data.tags[tracking.RUN_NAME_TAG]: c.data.metrics for c in children}
    assert logged["ease"]["ndcg_at_5"] == pytest.approx(result.summary.loc["ease", "ndcg_at_5"])
    # per-user values for paired tests in reports, keyed by a hash, never the raw user id
    ease = next(c for c in children if c.data.tags[tracking.RUN_NAME_TAG] == "ease")
    path = tracking.client().download_artifacts(ease.info.run_id, "per_user.csv", str(tmp_path))
    table = pd.read_csv(path, index_col=0)
    assert len(table) == 40 and {"fold", "user", "ndcg_at_5"} <= set(table.columns)
    assert not set(table["user"].astype(str)) & {str(u) for u in users["ease"]}
    assert table["ndcg_at_5"].mean() == pytest.approx(result.summary.loc["ease", "ndcg_at_5"])
    tracking._CLIENTS.clear()


def test_k_fold_intervals_are_over_folds(movielens):
    result = compare(movielens.interactions, ["most_popular"], k=5, n_folds=3, n_users=30,
                     progress=False)
    per_fold = result.per_user["most_popular"].groupby("fold")["ndcg_at_5"].mean()
    assert len(per_fold) == 3
    assert result.summary.loc["most_popular", "ndcg_at_5"] == pytest.approx(per_fold.mean())


def test_sample_users_is_seeded_and_exact(movielens):
    a = sample_users(movielens.interactions, 25, seed=3)
    b = sample_users(movielens.interactions, 25, seed=3)
    assert a["user"].nunique() == 25 and a.equals(b)
    assert set(a["user"]) != set(sample_users(movielens.interactions, 25, seed=4)["user"])


def test_interval_table_formats_mean_and_bounds():
    intervals = pd.DataFrame({"model": ["a", "a", "b"], "metric": ["x", "y", "x"],
                              "mean": [0.5, 1.0, 0.25], "low": [0.4, 0.9, 0.2],
                              "high": [0.6, 1.1, 0.3]})
    table = visuals.interval_table(intervals, ["x", "y"], digits=2)
    assert table.loc["a", "x"] == "0.50 [0.40, 0.60]"
    assert table.loc["b", "x"] == "0.25 [0.20, 0.30]" and pd.isna(table.loc["b", "y"])


def test_figures_are_figures():
    from matplotlib.figure import Figure

    intervals = pd.DataFrame({"model": ["a", "b"], "metric": ["x", "x"], "mean": [0.5, 0.2],
                              "low": [0.4, 0.1], "high": [0.6, 0.3]})
    assert isinstance(visuals.bars_with_intervals(intervals, ["x"]), Figure)
    summary = pd.DataFrame({"x": [0.5, 0.2], "fit_seconds": [1.0, 0.1]}, index=["a", "b"])
    assert isinstance(visuals.accuracy_vs_cost(summary, "x", ["fit_seconds"]), Figure)
