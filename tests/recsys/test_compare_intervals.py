"""Which interval recsys.compare gives: BCa bootstrap over users for one split, the corrected
resampled t over folds (Nadeau-Bengio) for k folds; the child run's tags say which."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from retaillab import data, tracking
from retaillab.recsys.compare import compare


@pytest.fixture(scope="module")
def movielens():
    return data.load("movielens")


def test_k_fold_intervals_are_corrected_t_over_folds(movielens, store):
    run = tracking.notebook_run(None, experiment="intervals", params={})
    result = compare(movielens.interactions, ["most_popular"], k=5, n_folds=3, n_users=30,
                     run=run, progress=False, log_models="none")
    run.close()
    n_train = np.mean([len(train) for train, _ in result.folds])
    n_test = np.mean([len(test) for _, test in result.folds])
    per_fold = result.per_user["most_popular"].groupby("fold")["ndcg_at_5"].mean().to_numpy()
    mean = per_fold.sum() / 3
    variance = ((per_fold - mean) ** 2).sum() / 2
    half = stats.t.ppf(0.975, 2) * math.sqrt((1 / 3 + n_test / n_train) * variance)
    row = result.intervals.set_index(["model", "metric"]).loc[("most_popular", "ndcg_at_5")]
    assert (row["mean"], row["low"], row["high"]) == pytest.approx(
        (mean, mean - half, mean + half))
    child = tracking.Run(run.run_id, run.experiment_id).children()[0].data.tags
    assert child["retaillab.interval"] == "corrected resampled t over 3 folds (Nadeau-Bengio)"
    assert float(child["retaillab.n_train"]) == pytest.approx(n_train, rel=1e-5)
    assert float(child["retaillab.n_test"]) == pytest.approx(n_test, rel=1e-5)


def test_one_split_intervals_are_bca_over_users(movielens):
    result = compare(movielens.interactions, ["most_popular"], k=5, n_users=40, seed=3,
                     progress=False)
    values = result.per_user["most_popular"]["ndcg_at_5"].to_numpy()
    reference = stats.bootstrap((values,), np.mean, n_resamples=2000, method="BCa",
                                random_state=3).confidence_interval
    row = result.intervals.set_index(["model", "metric"]).loc[("most_popular", "ndcg_at_5")]
    assert row["mean"] == pytest.approx(values.mean())
    assert (row["low"], row["high"]) == pytest.approx((reference.low, reference.high))
    # the BCa interval is not the symmetric t interval over users
    t_low, _ = stats.t.interval(0.95, len(values) - 1, values.mean(), stats.sem(values))
    assert row["low"] != pytest.approx(t_low, rel=1e-6)
