"""Top-N with the Surprise models: retaillab's vectorised scoring against Surprise's own loop.

For each Surprise model (registry defaults, plus item-based KNNBasic) on full MovieLens
(100k ratings): the seconds to fit, and to ``recommend`` top-10 for every user (all unseen
items scored). The peer is what a Surprise user writes: ``algo.predict(u, i)`` for every item
the user has not rated, then the 10 best. It is timed for SAMPLE random users and scaled to all
users (its cost per user is roughly constant: one ``predict`` per unseen item), so its column
is an estimate. Ratio = Surprise loop / ours. ``same``: for the sampled users our top-10 scores
equal Surprise's estimates to 1e-9, and the items are the same wherever no tie makes the order
arbitrary. Timings are from one run on a shared machine.

Run: ``python bench/recsys_topn.py [sample_users]``.
"""

from __future__ import annotations

import heapq
import sys
import time

import numpy as np

from retaillab import data, recsys

SAMPLE = 3
MODELS = [(name, {}) for name in recsys.registry.MODELS
          if "surprise_family" in recsys.registry.MODELS[name]]
MODELS.append(("knn_basic", {"user_based": False}))


def surprise_loop(model, users: np.ndarray) -> tuple[float, dict]:
    """Seconds for Surprise's own top-10 of ``users`` (raw ids), and the lists it found.

    ``predict(..., clip=False)``: clipping to the rating scale would tie every estimate above
    5 and make the order among them arbitrary; ranking wants the raw estimate, as ours uses.
    """
    algo, items = model.algo_, model.items_.tolist()
    found = {}
    start = time.perf_counter()
    for user in users:
        seen = set(model.items_[model.seen_[model.users_.get_loc(user)].indices])
        preds = [algo.predict(user, item, clip=False) for item in items if item not in seen]
        found[user] = heapq.nlargest(10, preds, key=lambda p: p.est)
    return time.perf_counter() - start, found


def same_lists(ours, theirs: dict) -> bool:
    """Whether our top-10 scores equal Surprise's estimates (1e-9), and the items too where
    no tie makes the order arbitrary."""
    for user, preds in theirs.items():
        mine = ours[ours["user"] == user]
        est = np.array([p.est for p in preds])
        if not np.allclose(mine["score"].to_numpy(), est, rtol=1e-9, atol=1e-9):
            return False
        if len(np.unique(est)) == len(est) and mine["item"].tolist() != [p.iid for p in preds]:
            return False
    return True


def main(sample: int = SAMPLE) -> None:
    ratings = data.load("movielens").interactions
    users = ratings["user"].unique()
    sampled = np.random.default_rng(0).choice(users, size=sample, replace=False)
    print(f"MovieLens: {len(ratings):,} ratings, {len(users)} users, "
          f"{ratings['item'].nunique():,} items; top-10 for every user\n"
          f"Surprise loop timed on {sample} random users, scaled to {len(users)}\n")
    header = (f"{'model':<22} {'fit s':>7} {'top-N s ours':>13} {'top-N s Surprise':>17} "
              f"{'ratio':>8} {'same':>5}")
    print(header)
    print("-" * len(header))
    for name, params in MODELS:
        label = name + ("" if not params else " (item-based)")
        model = recsys.create(name, **params)
        start = time.perf_counter()
        model.fit(ratings)
        fit = time.perf_counter() - start
        start = time.perf_counter()
        recs = model.recommend(users, k=10)
        ours = time.perf_counter() - start
        seconds, lists = surprise_loop(model, sampled)
        theirs = seconds * len(users) / sample
        same = "n/a" if name == "normal_predictor" else (  # random draws: no two runs agree
            "yes" if same_lists(recs, lists) else "NO")
        print(f"{label:<22} {fit:>7.2f} {ours:>13.2f} {theirs:>17.1f} {theirs / ours:>7.0f}x "
              f"{same:>5}", flush=True)
        del model


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else SAMPLE)
