"""Top-N with the Surprise models: retaillab's vectorised scoring against Surprise's own loop.

For each Surprise model (registry defaults, plus item-based KNNBasic) on full MovieLens
(100k ratings): the seconds to fit, and to ``recommend`` top-10 for every user (all unseen
items scored). The peer is what a Surprise user writes: ``algo.predict(u, i)`` for every item
the user has not rated, then the 10 best. It is timed for SAMPLE random users and scaled to all
users (its cost per user is roughly constant: one ``predict`` per unseen item), so its column
is an estimate. Ratio = Surprise loop / ours. Timings are from one run on a shared machine.

Run: ``python bench/recsys_topn.py [sample_users]``.
"""

from __future__ import annotations

import heapq
import sys
import time

import numpy as np

from retaillab import data, recsys

SAMPLE = 5
MODELS = [(name, {}) for name in recsys.registry.MODELS
          if "surprise_family" in recsys.registry.MODELS[name]]
MODELS.append(("knn_basic", {"user_based": False}))


def surprise_loop_seconds(model, users: np.ndarray) -> float:
    """Seconds for Surprise's own top-10 of ``users`` (raw ids): predict every unseen item."""
    algo, items = model.algo_, model.items_.tolist()
    start = time.perf_counter()
    for user in users:
        seen = set(model.items_[model.seen_[model.users_.get_loc(user)].indices])
        preds = [algo.predict(user, item) for item in items if item not in seen]
        heapq.nlargest(10, preds, key=lambda p: p.est)
    return time.perf_counter() - start


def main(sample: int = SAMPLE) -> None:
    ratings = data.load("movielens").interactions
    users = ratings["user"].unique()
    sampled = np.random.default_rng(0).choice(users, size=sample, replace=False)
    print(f"MovieLens: {len(ratings):,} ratings, {len(users)} users, "
          f"{ratings['item'].nunique():,} items; top-10 for every user\n"
          f"Surprise loop timed on {sample} random users, scaled to {len(users)}\n")
    header = (f"{'model':<22} {'fit s':>7} {'top-N s ours':>13} {'top-N s Surprise':>17} "
              f"{'ratio':>8}")
    print(header)
    print("-" * len(header))
    for name, params in MODELS:
        label = name + ("" if not params else " (item-based)")
        model = recsys.create(name, **params)
        start = time.perf_counter()
        model.fit(ratings)
        fit = time.perf_counter() - start
        start = time.perf_counter()
        model.recommend(users, k=10)
        ours = time.perf_counter() - start
        theirs = surprise_loop_seconds(model, sampled) * len(users) / sample
        print(f"{label:<22} {fit:>7.2f} {ours:>13.2f} {theirs:>17.1f} {theirs / ours:>7.0f}x",
              flush=True)
        del model


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else SAMPLE)
