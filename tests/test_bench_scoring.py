"""bench/score_models.py: its synthetic data and its agreement checks, at toy sizes (the
timings themselves are the bench's, not a test's)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench" / "score_models.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_score_models", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_churn_customers_are_reproducible_and_learnable(bench):
    one = bench.churn_customers(np.random.default_rng(0), 3_000)
    two = bench.churn_customers(np.random.default_rng(0), 3_000)
    pd.testing.assert_frame_equal(one, two)
    assert list(one.columns) == ["customer", *[f"f{i}" for i in range(10)], "plan", "churn"]
    assert isinstance(one["plan"].dtype, pd.CategoricalDtype)
    assert one["churn"].dtype == bool and 0.1 < one["churn"].mean() < 0.9
    assert one["customer"].is_unique
    # the planted coefficients show: churners have shorter tenure (f0) and higher f2
    churned = one[one["churn"]]
    stayed = one[~one["churn"]]
    assert churned["f0"].mean() < stayed["f0"].mean()
    assert churned["f2"].mean() > stayed["f2"].mean()


def test_clv_summary_is_the_order_log_summarised(bench):
    summary, tx = bench.clv_customers(np.random.default_rng(0), 2_000)
    assert len(summary) == 2_000 and set(tx["customer"]) == set(summary["customer"])
    assert list(summary.columns) == ["customer", "frequency", "recency", "T",
                                     "monetary_value"]
    assert pd.api.types.is_integer_dtype(summary["frequency"])
    assert (summary["recency"] <= summary["T"]).all() and (summary["T"] > 0).all()
    repeat = summary["frequency"] > 0
    assert (summary.loc[repeat, "monetary_value"] > 0).all()
    assert (summary.loc[~repeat, ["recency", "monetary_value"]] == 0).all().all()
    assert 0.1 < repeat.mean() < 0.9 and (tx["amount"] > 0).all()


def test_interactions_cover_every_user_with_skewed_items(bench):
    table = bench.interactions(np.random.default_rng(0), n_users=500, n_items=200)
    assert table["user"].nunique() == 500
    assert table["item"].between(1, 200).all()
    assert 15 < len(table) / 500 < 25
    counts = table["item"].value_counts()
    assert counts.iloc[0] > 3 * counts.median()  # popularity is skewed


def _lists():
    return pd.DataFrame({"user": [1, 1, 2, 2], "item": [10, 11, 12, 13],
                         "score": [0.9, 0.8, 0.7, 0.6], "rank": [1, 2, 1, 2],
                         "fallback": [False] * 4})


def test_list_differences_counts_users_and_score_gaps(bench):
    mine = _lists()
    assert bench.list_differences(mine, _lists()) == (0, 0.0)
    other = _lists()
    other.loc[[0, 1], "item"] = [11, 10]
    other.loc[3, "score"] = 0.6 + 1e-7
    users, gap = bench.list_differences(mine, other)
    assert users == 1 and gap == pytest.approx(1e-7)
    assert bench.list_differences(mine, _lists().iloc[:3])[0] == -1


def test_same_frames_wants_the_same_customers_and_numbers(bench):
    frame = pd.DataFrame({"customer": [1, 2], "p_alive": [0.5, 0.25]})
    assert bench.same_frames(frame, frame.copy())
    assert not bench.same_frames(frame, frame.assign(p_alive=[0.5, 0.25 + 1e-9]))
    assert not bench.same_frames(frame, frame.assign(customer=[2, 1]))
    assert not bench.same_frames(frame, frame[["p_alive", "customer"]])


def test_race_keeps_the_first_output_and_the_best_time(bench):
    calls = []

    def ours():
        calls.append("ours")
        return len(calls)

    seconds, peaks, outputs = bench.race({"ours": ours, "peer": lambda: "peer"}, 2)
    assert calls == ["ours", "ours"] and outputs == {"ours": 1, "peer": "peer"}
    assert all(0 <= wall < 1 and 0 <= cpu < 1 for wall, cpu in seconds.values())
    assert set(peaks) == {"ours", "peer"}
    row = bench.timings({"ours": (2.0, 3.0), "peer": (1.0, 2.0)}, {"ours": 5.0, "peer": None},
                        "peer")
    assert row == {"ours_s": 2.0, "peer_s": 1.0, "cpu_ratio": 1.5, "ours_mib": 5.0,
                   "peer_mib": None}
