"""The comparison driver: same folds for every model, metrics, intervals and child runs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from retaillab import data, tracking, visuals
from retaillab.recsys.compare import Comparison, compare, sample_users


@pytest.fixture(scope="module")
def movielens():
    return data.load("movielens")


def test_compare_scores_every_model_on_the_same_folds(movielens, store):
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
    # per-user values for paired tests in reports, keyed by a pseudonym, never the raw id
    tables = {name: logged_per_user(run, name, store) for name in ("ease", "most_popular")}
    table = tables["ease"]
    assert len(table) == 40 and {"fold", "user", "ndcg_at_5"} <= set(table.columns)
    assert not set(table["user"]) & {str(u) for u in users["ease"]}
    assert table["ndcg_at_5"].mean() == pytest.approx(result.summary.loc["ease", "ndcg_at_5"])
    # one user, one key in every model's table, so a report can pair them
    assert set(table["user"]) == set(tables["most_popular"]["user"])


def logged_per_user(run, model: str, folder) -> pd.DataFrame:
    """The per_user.csv a model's child run logged, with keys read as text."""
    children = tracking.Run(run.run_id, run.experiment_id).children()
    child = next(c for c in children if c.data.tags[tracking.RUN_NAME_TAG] == model)
    path = tracking.client().download_artifacts(child.info.run_id, "per_user.csv", str(folder))
    return pd.read_csv(path, index_col=0, dtype={"user": str})


@pytest.fixture(scope="module")
def unsalted() -> dict[str, np.ndarray]:
    """What an attacker computes for every integer id below a million: the obvious unsalted
    hashes, each as the 64-bit number its first 16 hex characters (the key length) spell,
    sorted."""
    import hashlib

    ids = np.arange(10**6)
    text = list(map(str, ids.tolist()))
    raw = [t.encode() for t in text]
    found = {"hash_array(str)": pd.util.hash_array(np.array(text, dtype=object)),
             "hash_array(int)": pd.util.hash_array(ids)}
    for algorithm in ("sha256", "md5", "sha1"):
        digest = getattr(hashlib, algorithm)
        found[algorithm] = np.frombuffer(b"".join(digest(t).digest()[:8] for t in raw),
                                         dtype=">u8").astype(np.uint64)
    return {label: np.sort(values) for label, values in found.items()}  # for searchsorted


def _members(keys: np.ndarray, ordered: np.ndarray) -> int:
    """How many of ``keys`` occur in the sorted array ``ordered``."""
    at = np.minimum(np.searchsorted(ordered, keys), len(ordered) - 1)
    return int((ordered[at] == keys).sum())


def reversed_keys(keys: set[str], unsalted: dict[str, np.ndarray]) -> dict[str, int]:
    """How many ``keys`` each unsalted hash recovers: keys read as 16 hex characters, and
    (pandas' hash, whose numbers the old ``per_user.csv`` held) as decimals."""
    as_hex = np.array([int(k, 16) for k in keys if len(k) == 16], dtype=np.uint64)
    as_decimal = np.array([int(k) for k in keys if k.isdigit() and int(k) < 2**64],
                          dtype=np.uint64)
    found = {}
    for label, values in unsalted.items():
        found[label] = _members(as_hex, values)
        if label.startswith("hash_array"):
            found[label] += _members(as_decimal, values)
    return found


def test_per_user_keys_cannot_be_reversed_by_hashing_every_id(store, unsalted):
    """Users 0..199 with plain integer ids, the easiest case for an attacker who hashes
    every integer up to a million."""
    rng = np.random.default_rng(0)
    interactions = pd.DataFrame({"user": np.repeat(np.arange(200), 8),
                                 "item": rng.integers(0, 60, 1600)}).drop_duplicates()
    run = tracking.notebook_run(None, experiment="keys-test", params={})
    compare(interactions, ["most_popular"], k=5, seed=0, run=run, progress=False)
    run.close()
    keys = set(logged_per_user(run, "most_popular", store)["user"])
    assert len(keys) == 200 and all(len(k) == 16 and int(k, 16) >= 0 for k in keys)
    assert reversed_keys(keys, unsalted) == dict.fromkeys(unsalted, 0)
    # the same attack recovers every key of an unsalted scheme: the one the table used to
    # hold (pandas' hash of the id as text, written as a decimal) and a truncated md5
    import hashlib

    users = np.arange(200)
    old = {str(v) for v in pd.util.hash_array(users.astype(str).astype(object)).tolist()}
    assert reversed_keys(old, unsalted)["hash_array(str)"] == 200
    plain = {hashlib.md5(str(u).encode()).hexdigest()[:16] for u in users}
    assert reversed_keys(plain, unsalted)["md5"] == 200


def test_progress_says_which_model_does_what(movielens, progress_bars):
    compare(movielens.interactions, {"most_popular": {}, "svd": {"n_epochs": 2}}, k=5,
            n_users=20, progress=True)
    (bar,) = progress_bars
    assert bar.total == 2 and bar.n == 2 and bar.closed
    assert bar.seen == [
        ("recsys: 0/2 models", 0),
        ("recsys: 1/2 models, most_popular fitting", 0),
        ("recsys: 1/2 models, most_popular recommending", 0),
        ("recsys: 1/2 models, most_popular scoring", 0),
        ("recsys: 2/2 models, svd fitting", 1),
        ("recsys: 2/2 models, svd recommending", 1),
        ("recsys: 2/2 models, svd scoring", 1),
        ("recsys: 2/2 models, svd predicting ratings", 1),
        ("recsys: 2/2 models, done", 2),
    ]
    progress_bars.clear()
    compare(movielens.interactions, ["most_popular"], k=5, n_users=20, n_folds=2,
            split="random", progress=True)
    assert [text for text, _ in progress_bars[0].seen][1:3] == [
        "recsys: 1/1 models, most_popular fitting (fold 1/2)",
        "recsys: 1/1 models, most_popular recommending (fold 1/2)"]
    progress_bars.clear()
    compare(movielens.interactions, ["most_popular"], k=5, n_users=20, progress=False)
    assert progress_bars == []


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


def hand_made_comparison() -> Comparison:
    def lists(rows):
        return pd.DataFrame(rows, columns=["user", "item"]).assign(
            rank=lambda t: t.groupby("user").cumcount() + 1)

    recs = {"a": lists([("u1", "x"), ("u1", "y"), ("u2", "x"), ("u2", "z")]),
            "b": lists([("u1", "x"), ("u1", "y"), ("u2", "w"), ("u2", "v")])}
    # training popularity: z is bought by three users, y by one, v and w by two each
    train = pd.DataFrame({"user": ["p", "q", "r", "p", "p", "q", "r", "s"],
                          "item": ["z", "z", "z", "y", "v", "v", "w", "w"]})
    return Comparison(pd.DataFrame(), pd.DataFrame(), recommendations=recs,
                      folds=[(train, train.head(0))])


def test_most_recommended_items_are_counted_over_users():
    table = hand_made_comparison().most_recommended(top=3, names=pd.Series(
        {"x": "Milk", "y": "Bread", "z": "Eggs", "v": "Tea", "w": "Jam"}))
    a = table[table["model"] == "a"]
    # x in both of a's lists; y and z in one each: z first, more popular in training
    assert a[["rank", "item", "name", "users"]].values.tolist() == [
        [1, "x", "Milk", 2], [2, "z", "Eggs", 1], [3, "y", "Bread", 1]]
    assert a["share"].tolist() == [1.0, 0.5, 0.5]
    b = table[table["model"] == "b"]
    # each in one list: v and w tie on popularity too (2), so by id; then y (1) before x (0)
    assert b["item"].tolist() == ["v", "w", "y"]


def test_overlap_is_the_mean_jaccard_of_each_users_lists():
    overlap = hand_made_comparison().overlap()
    # u1: the same two items (1.0); u2: nothing shared (0.0)
    assert overlap.loc["a", "b"] == overlap.loc["b", "a"] == pytest.approx(0.5)
    assert overlap.loc["a", "a"] == overlap.loc["b", "b"] == 1.0
