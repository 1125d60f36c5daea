"""All six ranking metrics for every user: retaillab.metrics against plain pandas versions.

Two pandas peers, both merge/groupby:

- ``per metric``: the shape of MS Recommenders' ``python_evaluation`` (each metric function
  takes the scored lists, keeps each user's top k by score, merges with the test pairs and
  groups by user; NDCG ranks the test set for its ideal DCG), what most analysts copy;
- ``lean``: the cheapest pandas we could write (ranks given, a few merges, no re-ranking).

All compute the same definitions (see :mod:`retaillab.metrics.ranking`); the script checks that
every per-user value agrees to 1e-12 before it reports a ratio. Ratio = pandas seconds /
retaillab seconds, best of REPEATS, in one process.

Cases: EASE's top-10 for every MovieLens user (671 users), and random top-10 lists against
random test sets for 100,000 users (a mid-size retailer). Last, the size the test suite used
to time (100,000 test rows, 600 users, k=10, once with a rating threshold): ``metrics.ranking``
alone, best of REPEATS, against the half second it was once held to (measured here, never
asserted in tests).

Run: ``python bench/ranking_metrics.py``.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from retaillab import data, metrics, recsys

K = 10
REPEATS = 3


def pandas_metrics(recs: pd.DataFrame, test: pd.DataFrame, k: int) -> pd.DataFrame:
    """Per-user precision, recall, NDCG, MAP, MRR and hit rate at k, by merge and groupby."""
    top = recs[recs["rank"] <= k][["user", "item", "rank"]]
    rel = test[["user", "item"]].drop_duplicates()
    n_rel = rel.groupby("user").size().rename("n_rel")
    users = n_rel.index

    def hits() -> pd.DataFrame:  # each metric merges afresh, as separate functions would
        return top.merge(rel, on=["user", "item"]).sort_values(["user", "rank"])

    precision = (hits().groupby("user").size() / k).reindex(users, fill_value=0.0)
    recall = (hits().groupby("user").size() / n_rel).reindex(users).fillna(0.0)
    h = hits()
    h["gain"] = 1.0 / np.log2(h["rank"] + 1.0)
    dcg = h.groupby("user")["gain"].sum().reindex(users, fill_value=0.0)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    idcg = n_rel.clip(upper=k).map(lambda n: discounts[:n].sum())
    ndcg = dcg / idcg
    h = hits()
    h["nth"] = h.groupby("user").cumcount() + 1
    h["prec_at_i"] = h["nth"] / h["rank"]
    ap = (h.groupby("user")["prec_at_i"].sum() / n_rel.clip(upper=k)).reindex(users).fillna(0.0)
    mrr = (1.0 / hits().groupby("user")["rank"].min()).reindex(users, fill_value=0.0)
    hit = (hits().groupby("user").size() > 0).astype(float).reindex(users, fill_value=0.0)
    return pd.DataFrame({f"precision_at_{k}": precision, f"recall_at_{k}": recall,
                         f"ndcg_at_{k}": ndcg, f"map_at_{k}": ap, f"mrr_at_{k}": mrr,
                         f"hit_rate_at_{k}": hit}).rename_axis("user")


def _top_k_by_score(recs: pd.DataFrame, k: int) -> pd.DataFrame:
    top = (recs.sort_values(["user", "score"], ascending=[True, False])
           .groupby("user", as_index=False).head(k).reset_index(drop=True))
    top["rank"] = top.groupby("user", sort=False).cumcount() + 1
    return top


def _merge_true_pred(recs: pd.DataFrame, test: pd.DataFrame, k: int):
    common = set(test["user"]) & set(recs["user"])
    true = test[test["user"].isin(common)]
    pred = recs[recs["user"].isin(common)]
    hit = pd.merge(_top_k_by_score(pred, k), true, on=["user", "item"])[["user", "item", "rank"]]
    count = pd.merge(hit.groupby("user").size().rename("hit").reset_index(),
                     true.groupby("user").size().rename("actual").reset_index(),
                     on="user", how="right").fillna({"hit": 0}).set_index("user")
    return hit, count


def per_metric_pandas(recs: pd.DataFrame, test: pd.DataFrame, k: int) -> pd.DataFrame:
    """Per-user metrics, one merge per metric function, as MS Recommenders computes them."""
    test = test[["user", "item"]].drop_duplicates()

    def precision():
        _, count = _merge_true_pred(recs, test, k)
        return count["hit"] / k

    def recall():
        _, count = _merge_true_pred(recs, test, k)
        return count["hit"] / count["actual"]

    def ndcg():
        hit, count = _merge_true_pred(recs, test, k)
        hit = hit.assign(dcg=1.0 / np.log2(1 + hit["rank"]))
        ideal = test.assign(irank=test.groupby("user").cumcount() + 1)
        ideal = ideal[ideal["irank"] <= k].assign(idcg=lambda d: 1.0 / np.log2(1 + d["irank"]))
        user = ideal.groupby("user")["idcg"].sum().to_frame().join(
            hit.groupby("user")["dcg"].sum()).fillna({"dcg": 0.0})
        return (user["dcg"] / user["idcg"]).reindex(count.index)

    def average_precision():
        hit, count = _merge_true_pred(recs, test, k)
        hit = hit.sort_values(["user", "rank"])
        hit["rr"] = (hit.groupby("user").cumcount() + 1) / hit["rank"]
        merged = count.join(hit.groupby("user")["rr"].sum()).fillna({"rr": 0.0})
        return merged["rr"] / merged["actual"].clip(upper=k)

    def reciprocal_rank():
        hit, count = _merge_true_pred(recs, test, k)
        return (1.0 / hit.groupby("user")["rank"].min()).reindex(count.index, fill_value=0.0)

    def hit_rate():
        _, count = _merge_true_pred(recs, test, k)
        return (count["hit"] > 0).astype(float)

    return pd.DataFrame({f"precision_at_{k}": precision(), f"recall_at_{k}": recall(),
                         f"ndcg_at_{k}": ndcg(), f"map_at_{k}": average_precision(),
                         f"mrr_at_{k}": reciprocal_rank(), f"hit_rate_at_{k}": hit_rate()})


def best_seconds(fn, *args) -> tuple[float, pd.DataFrame]:
    times, out = [], None
    for _ in range(REPEATS):
        start = time.perf_counter()
        out = fn(*args)
        times.append(time.perf_counter() - start)
    return min(times), out


def movielens_case() -> tuple[pd.DataFrame, pd.DataFrame]:
    ratings = data.load("movielens").interactions
    train, test = data.split(ratings, "stratified", ratio=0.75, seed=42)
    recs = recsys.create("ease").fit(train).recommend(test["user"].unique(), k=K)
    return recs, test


def random_case(n_users: int = 100_000, n_items: int = 5_000,
                seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    users = np.repeat(np.arange(n_users), K)
    items = np.concatenate([rng.choice(n_items, K, replace=False) for _ in range(n_users)])
    ranks = np.tile(np.arange(1, K + 1), n_users)
    recs = pd.DataFrame({"user": users, "item": items, "score": -ranks.astype(float),
                         "rank": ranks})
    sizes = rng.integers(1, 20, n_users)
    test = pd.DataFrame({"user": np.repeat(np.arange(n_users), sizes),
                         "item": rng.integers(0, n_items // 20, sizes.sum())})
    return recs, test


def main() -> None:
    peers = [("per metric", per_metric_pandas), ("lean", pandas_metrics)]
    print(f"{'case':<24} {'rows':>10} {'retaillab s':>12}"
          + "".join(f" {'pandas ' + p + ' s':>20} {'ratio':>6}" for p, _ in peers))
    for label, (recs, test) in [("MovieLens, EASE top-10", movielens_case()),
                                ("random, 100,000 users", random_case())]:
        ours_s, ours = best_seconds(metrics.ranking_per_user, recs, test, K)
        line = f"{label:<24} {len(recs):>10,} {ours_s:>12.3f}"
        for _, peer in peers:
            theirs_s, theirs = best_seconds(peer, recs, test, K)
            pd.testing.assert_frame_equal(ours, theirs.loc[ours.index].rename_axis("user"),
                                          check_exact=False, rtol=1e-12, atol=1e-12,
                                          check_index_type=False, check_names=False)
            line += f" {theirs_s:>20.3f} {theirs_s / ours_s:>5.0f}x"
        print(line, flush=True)
    recs, test = suite_case()
    for threshold in (None, 4):
        seconds, _ = best_seconds(lambda r, t, th=threshold: metrics.ranking(r, t, K,
                                                                              threshold=th),
                                  recs, test)
        print(f"metrics.ranking, 100,000 test rows, 600 users, k={K}, threshold={threshold}: "
              f"{seconds:.3f} s (budget 0.5 s)", flush=True)


def suite_case(seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The size tests/metrics/test_ranking.py checks for correctness: 600 users' random
    top-10 lists against 100,000 random test ratings of 5,000 items."""
    rng = np.random.default_rng(seed)
    n_users, n_items = 600, 5000
    test = pd.DataFrame({"user": rng.integers(0, n_users, 100_000),
                         "item": rng.integers(0, n_items, 100_000),
                         "rating": rng.integers(1, 6, 100_000).astype(float)})
    items = np.argsort(rng.random((n_users, n_items)), axis=1)[:, :K]
    recs = pd.DataFrame({"user": np.repeat(np.arange(n_users), K), "item": items.ravel(),
                         "rank": np.tile(np.arange(1, K + 1), n_users)})
    return recs, test


if __name__ == "__main__":
    main()
