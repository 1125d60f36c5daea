"""Ranking metrics against a plain per-user reference written from the textbook definitions,
on seeded random data and on cases worked out by hand; bad inputs; speed."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from retaillab import metrics
from retaillab.errors import DataError, ParameterError
from retaillab.metrics.ranking import CONVENTIONS, RANKING_STEMS, _highest_level_per_key

# --- the reference: loops over users and ranks -----------------------------------------------


def reference(recs: pd.DataFrame, test: pd.DataFrame, k: int, threshold=None, *,
              relevance="binary", ap_denominator="min_k_n", no_list="zero",
              no_relevant="skip") -> pd.DataFrame:
    relevant: dict[object, dict] = {}  # user -> item -> gain (its highest rating if graded)
    judged = set()
    for row in test.itertuples():
        judged.add(row.user)
        if threshold is None or row.rating >= threshold:
            gains = relevant.setdefault(row.user, {})
            gain = 1.0 if relevance == "binary" else row.rating
            gains[row.item] = max(gains.get(row.item, gain), gain)
    if no_relevant == "zero" and threshold is not None:
        for user in judged:
            relevant.setdefault(user, {})
    lists: dict[object, list] = {}
    for row in recs.itertuples():
        lists.setdefault(row.user, []).append((row.rank, row.item))
    out = {}
    for user, rel in relevant.items():
        ranked = [(r, i) for r, i in sorted(lists.get(user, [])) if r <= k]
        if no_list == "skip" and not ranked:
            continue
        n = len(rel)
        hits = 0
        dcg = ap = rr = 0.0
        for r, item in ranked:
            if item in rel:
                hits += 1
                dcg += rel[item] / math.log2(r + 1)
                precision_at_r = sum(1 for r2, i2 in ranked if r2 <= r and i2 in rel) / r
                ap += precision_at_r
                if rr == 0.0:
                    rr = 1 / r
        best = sorted(rel.values(), reverse=True)[:k]
        idcg = sum(g / math.log2(i + 1) for i, g in enumerate(best, start=1))
        ap_by = min(k, n) if ap_denominator == "min_k_n" else n
        out[user] = {
            f"precision_at_{k}": hits / k,
            f"recall_at_{k}": hits / n if n else 0.0,
            f"ndcg_at_{k}": dcg / idcg if idcg > 0 else 0.0,
            f"map_at_{k}": ap / ap_by if ap_by else 0.0,
            f"mrr_at_{k}": rr,
            f"hit_rate_at_{k}": float(hits > 0),
        }
    return pd.DataFrame.from_dict(out, orient="index").sort_index()


def random_case(seed: int):
    """Users with 0..12 test items (some with none, some only below the threshold), lists of
    0..k+4 distinct items with ranks that may skip values, users only in recs, repeated test
    rows, shuffled row order."""
    rng = np.random.default_rng(seed)
    n_users, n_items = int(rng.integers(5, 40)), int(rng.integers(8, 60))
    k = int(rng.integers(1, 15))
    as_text = seed % 2 == 0
    name = (lambda p, i: f"{p}{i}") if as_text else (lambda p, i: i)
    test_rows, rec_rows = [], []
    for u in range(n_users):
        n_test = int(rng.integers(0, 13))
        mine = rng.choice(n_items, size=min(n_test, n_items), replace=False)
        for i in mine:
            test_rows.append((name("u", u), name("i", int(i)), float(rng.integers(1, 6))))
        if rng.random() < 0.15:
            continue  # no recommendations for this user
        length = int(rng.integers(0, k + 5))
        pool = rng.permutation(np.unique(np.r_[mine, rng.choice(n_items, size=8)]))
        items = pool[:length]  # about half the list is relevant
        ranks = np.arange(1, len(items) + 1)
        if rng.random() < 0.3:  # gaps in the ranks
            ranks = np.sort(rng.choice(np.arange(1, 2 * len(items) + 2), size=len(items),
                                       replace=False))
        for r, i in zip(ranks, items, strict=True):
            rec_rows.append((name("u", u), name("i", int(i)), float(-r), int(r), False))
    for u in range(n_users, n_users + 3):  # users only in recs
        rec_rows.append((name("u", u), name("i", 0), 0.0, 1, False))
    test = pd.DataFrame(test_rows, columns=["user", "item", "rating"])
    test = pd.concat([test, test.sample(frac=0.1, random_state=seed)])  # repeated pairs
    test = test.sample(frac=1.0, random_state=seed)
    recs = pd.DataFrame(rec_rows, columns=["user", "item", "score", "rank", "fallback"])
    recs = recs.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    return recs, test, k


# --- against the reference ------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("threshold", [None, 4, 2.5])
def test_per_user_matches_reference(seed, threshold):
    recs, test, k = random_case(seed)
    got = metrics.ranking_per_user(recs, test, k, threshold=threshold)
    want = reference(recs, test, k, threshold)
    assert list(got.columns) == [f"{s}_at_{k}" for s in RANKING_STEMS]
    assert got.index.name == "user"
    assert list(got.index) == list(want.index)
    for col in got.columns:
        assert got[col].to_numpy() == pytest.approx(want[col].to_numpy(), abs=1e-12), col


CONVENTION_CASES = [
    {"relevance": "graded"},
    {"ap_denominator": "n_relevant"},
    {"no_list": "skip"},
    {"no_relevant": "zero"},
    {"relevance": "graded", "ap_denominator": "n_relevant", "no_list": "skip",
     "no_relevant": "zero"},
]


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("threshold", [None, 4])
@pytest.mark.parametrize("conventions", CONVENTION_CASES, ids=lambda c: "-".join(c.values()))
def test_every_convention_matches_reference(seed, threshold, conventions):
    recs, test, k = random_case(seed)
    if "relevance" in conventions:  # a repeated pair with another rating: the highest counts
        extra = test.iloc[:3].assign(rating=lambda t: t["rating"] + 0.5)
        test = pd.concat([test, extra])
    got = metrics.ranking_per_user(recs, test, k, threshold=threshold, **conventions)
    want = reference(recs, test, k, threshold, **conventions)
    assert list(got.index) == list(want.index)
    for col in got.columns:
        assert got[col].to_numpy() == pytest.approx(want[col].to_numpy(), abs=1e-12), col
    means = metrics.ranking(recs, test, k, threshold=threshold, **conventions)
    assert means == pytest.approx(want.mean().to_dict(), abs=1e-12)


def test_defaults_are_the_first_convention_values():
    recs, test, k = random_case(3)
    pd.testing.assert_frame_equal(
        metrics.ranking_per_user(recs, test, k, threshold=4),
        metrics.ranking_per_user(recs, test, k, threshold=4, **{
            name: values[0] for name, values in CONVENTIONS.items()}))


@pytest.mark.parametrize("seed", range(6))
def test_summary_and_single_metrics_are_means_over_users(seed):
    recs, test, k = random_case(seed)
    want = reference(recs, test, k).mean()
    got = metrics.ranking(recs, test, k)
    assert got == pytest.approx(want.to_dict(), abs=1e-12)
    for stem in RANKING_STEMS:
        single = getattr(metrics, f"{stem}_at_k")(recs, test, k)
        assert single == pytest.approx(want[f"{stem}_at_{k}"], abs=1e-12)


# --- by hand ---------------------------------------------------------------------------------


def frame(rows, columns=("user", "item", "rank")):
    return pd.DataFrame(rows, columns=list(columns))


def test_rel_non_rel_with_two_relevant():
    recs = frame([("a", "x", 1), ("a", "y", 2), ("a", "z", 3)])
    test = frame([("a", "x"), ("a", "z")], ("user", "item"))
    row = metrics.ranking_per_user(recs, test, 3).loc["a"]
    assert row["precision_at_3"] == pytest.approx(2 / 3)
    assert row["recall_at_3"] == pytest.approx(1.0)
    assert row["map_at_3"] == pytest.approx((1 + 2 / 3) / 2)
    assert row["ndcg_at_3"] == pytest.approx((1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3)))
    assert row["mrr_at_3"] == 1.0 and row["hit_rate_at_3"] == 1.0


def test_cut_at_k_missing_lists_and_users_only_in_recs():
    recs = frame([("a", "y", 1), ("a", "x", 2), ("a", "z", 3),   # z (relevant) is beyond k=2
                  ("c", "x", 1)])                                 # c has no test items
    test = frame([("a", "x"), ("a", "z"), ("a", "w"), ("b", "x")], ("user", "item"))
    table = metrics.ranking_per_user(recs, test, 2)
    assert list(table.index) == ["a", "b"]                        # b counted, c ignored
    a = table.loc["a"]
    assert a["precision_at_2"] == pytest.approx(1 / 2)
    assert a["recall_at_2"] == pytest.approx(1 / 3)
    assert a["mrr_at_2"] == pytest.approx(1 / 2)
    assert a["map_at_2"] == pytest.approx((1 / 2) / 2)             # min(k=2, n=3) = 2
    assert a["ndcg_at_2"] == pytest.approx((1 / math.log2(3)) / (1 + 1 / math.log2(3)))
    assert (table.loc["b"] == 0).all()                            # relevant item, no list


def test_short_list_still_divides_precision_by_k_and_gaps_in_ranks_are_positions():
    recs = frame([("a", "x", 1), ("a", "y", 4)])
    test = frame([("a", "y")], ("user", "item"))
    row = metrics.ranking_per_user(recs, test, 5).loc["a"]
    assert row["precision_at_5"] == pytest.approx(1 / 5)
    assert row["mrr_at_5"] == pytest.approx(1 / 4)
    assert row["map_at_5"] == pytest.approx(1 / 4)
    assert row["ndcg_at_5"] == pytest.approx(1 / math.log2(5))


def test_threshold_counts_only_high_ratings_and_drops_users_without_any():
    recs = frame([("a", "x", 1), ("a", "y", 2), ("b", "x", 1)])
    test = pd.DataFrame({"user": ["a", "a", "b"], "item": ["x", "y", "x"],
                         "rating": [2.0, 5.0, 3.0]})
    table = metrics.ranking_per_user(recs, test, 2, threshold=4)
    assert list(table.index) == ["a"]
    assert table.loc["a", "mrr_at_2"] == pytest.approx(1 / 2)


def test_repeated_test_pair_counts_once_and_inputs_are_not_changed():
    recs = frame([("a", "x", 1), ("a", "y", 2)])
    test = frame([("a", "x"), ("a", "x")], ("user", "item"))
    before = recs.copy(), test.copy()
    row = metrics.ranking_per_user(recs, test, 2).loc["a"]
    assert row["recall_at_2"] == 1.0 and row["ndcg_at_2"] == pytest.approx(1.0)
    pd.testing.assert_frame_equal(recs, before[0])
    pd.testing.assert_frame_equal(test, before[1])


def test_graded_keeps_the_highest_rating_on_both_sort_paths():
    rng = np.random.default_rng(1)
    keys = rng.integers(0, 50, 400).astype(np.int64)
    gains = rng.integers(0, 11, 400) / 2
    fast = _highest_level_per_key(keys, gains)
    slow = _highest_level_per_key(keys + 2**61, gains)  # key * n_levels would overflow int64
    want = pd.Series(gains).groupby(keys).max()
    for (distinct, level, levels), shift in ((fast, 0), (slow, 2**61)):
        assert list(distinct - shift) == list(want.index)
        assert list(levels[level]) == list(want)


# --- bad input -------------------------------------------------------------------------------

RECS = frame([("a", "x", 1), ("a", "y", 2)])
TEST = pd.DataFrame({"user": ["a"], "item": ["x"], "rating": [5.0]})


@pytest.mark.parametrize("k", [0, -1, 1.5, True, "10", None])
def test_k_must_be_a_positive_integer(k):
    with pytest.raises(ParameterError, match="k must be a positive integer"):
        metrics.ranking(RECS, TEST, k)


@pytest.mark.parametrize("recs, test, threshold, match", [
    (RECS.drop(columns="rank"), TEST, None, "recs, column 'rank': no column"),
    (RECS, TEST.drop(columns="item"), None, "test, column 'item': no column"),
    (RECS, TEST.drop(columns="rating"), 4, "no column 'rating'; it has user, item"),
    (RECS.assign(rank=[1, 1]), TEST, None, r"repeat a \(user, rank\) pair"),
    (RECS.assign(item=["x", "x"]), TEST, None, r"repeat a \(user, item\) pair"),
    (RECS.assign(rank=[1, 0]), TEST, None, "whole numbers >= 1"),
    (RECS.assign(rank=[1, 2.5]), TEST, None, "whole numbers >= 1"),
    (RECS.assign(rank=["1", "2"]), TEST, None, "ranks must be numbers"),
    (RECS, TEST.assign(user=[7]), None, "no id could ever match"),
    (RECS, TEST, 6, "no relevant"),
    (RECS, TEST.iloc[:0], None, "no relevant"),
])
def test_bad_tables_raise_data_errors_naming_the_problem(recs, test, threshold, match):
    with pytest.raises(DataError, match=match):
        metrics.ranking_per_user(recs, test, 2, threshold=threshold)


def test_bad_arguments():
    with pytest.raises(ParameterError, match="recs must be a DataFrame"):
        metrics.ranking([("a", "x", 1)], TEST, 2)
    with pytest.raises(ParameterError, match="threshold"):
        metrics.ranking(RECS, TEST, 2, threshold="4")


# --- size (timings live in bench/ranking_metrics.py) ----------------------------------------


def test_100k_test_rows_600_users_k10_agree_with_a_merge():
    rng = np.random.default_rng(0)
    n_users, n_items, k = 600, 5000, 10
    test = pd.DataFrame({"user": rng.integers(0, n_users, 100_000),
                         "item": rng.integers(0, n_items, 100_000),
                         "rating": rng.integers(1, 6, 100_000).astype(float)})
    items = np.argsort(rng.random((n_users, n_items)), axis=1)[:, :k]
    recs = pd.DataFrame({"user": np.repeat(np.arange(n_users), k), "item": items.ravel(),
                         "rank": np.tile(np.arange(1, k + 1), n_users)})
    for threshold in (None, 4):
        relevant = test if threshold is None else test[test["rating"] >= threshold]
        relevant = relevant[["user", "item"]].drop_duplicates()
        hits = recs.merge(relevant, on=["user", "item"]).groupby("user").size()
        n_relevant = relevant.groupby("user").size()
        hits = hits.reindex(n_relevant.index, fill_value=0)
        found = metrics.ranking(recs, test, k, threshold=threshold)
        assert found[f"precision_at_{k}"] == pytest.approx((hits / k).mean())
        assert found[f"recall_at_{k}"] == pytest.approx((hits / n_relevant).mean())
        assert found[f"hit_rate_at_{k}"] == pytest.approx((hits > 0).mean())
