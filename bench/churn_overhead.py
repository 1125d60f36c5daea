"""Overhead of ``churn.compare`` over a plain scikit-learn loop, on the same folds and pipelines.

On IBM telco churn (7,043 customers), every registered model on stratified 5-fold CV repeated
twice: the wall and CPU seconds of :func:`retaillab.churn.compare` (permutation importance
off, no MLflow run) against one ``sklearn.model_selection.cross_validate`` call per model with
the same pipelines (``churn.create``), the same fold indices and the scorers ``roc_auc``,
``average_precision``, ``neg_brier_score`` and ``neg_log_loss``. Both run with one OpenMP
thread (``compare``'s default). It checks that both give the same fold metrics, then prints
the ratio ours / theirs (the aim: at most 1.10). ``compare`` also computes lift and capture,
keeps the out-of-fold predictions and the intervals; ``cross_validate`` predicts once per
scorer. Timings are from one run on a shared machine: read the CPU ratio when it is busy.

Run: ``python bench/churn_overhead.py [rounds]`` (rounds: alternate runs of each, best kept).
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pandas as pd
from sklearn.model_selection import cross_validate
from threadpoolctl import threadpool_limits

from retaillab import churn, data

SCORERS = {"roc_auc": "roc_auc", "pr_auc": "average_precision", "brier": "neg_brier_score",
           "log_loss": "neg_log_loss"}
N_SPLITS, N_REPEATS, SEED = 5, 2, 0


def ours(customers: pd.DataFrame) -> pd.DataFrame:
    result = churn.compare(customers, models=churn.available(), n_splits=N_SPLITS,
                           n_repeats=N_REPEATS, seed=SEED, importance=False)
    return result.folds


def theirs(customers: pd.DataFrame) -> pd.DataFrame:
    x = customers.drop(columns=["customer", "churn"])
    y = customers["churn"].to_numpy()
    splits = churn.folds(y, n_splits=N_SPLITS, n_repeats=N_REPEATS, seed=SEED)
    rows = []
    with threadpool_limits(limits=1, user_api="openmp"):
        for name in churn.available():
            found = cross_validate(churn.create(name, seed=SEED), x, y, cv=splits,
                                   scoring=SCORERS)
            table = pd.DataFrame({m: found[f"test_{m}"] for m in SCORERS})
            table[["brier", "log_loss"]] *= -1  # scikit-learn negates losses
            rows.append(table.assign(model=name))
    return pd.concat(rows, ignore_index=True)


def timed(function, customers):
    wall, cpu = time.perf_counter(), time.process_time()
    out = function(customers)
    return out, time.perf_counter() - wall, time.process_time() - cpu


def main(rounds: int = 1) -> None:
    customers = data.load("telco_churn").customers
    churn.compare(customers.head(300), models=["dummy"], n_splits=2, n_repeats=1,
                  importance=False)  # imports and first-call costs out of the timing
    best = {"ours": (np.inf, np.inf), "theirs": (np.inf, np.inf)}
    for _ in range(rounds):
        for label, function in (("ours", ours), ("theirs", theirs)):
            folds, wall, cpu = timed(function, customers)
            best[label] = (min(best[label][0], wall), min(best[label][1], cpu))
            if label == "ours":
                mine = folds
            else:
                peer = folds
    gap = max(float(np.max(np.abs(mine[m].to_numpy() - peer[m].to_numpy()))) for m in SCORERS)
    print(f"telco_churn: {len(customers):,} customers, {len(churn.available())} models "
          f"({', '.join(churn.available())}), stratified {N_SPLITS}-fold x {N_REPEATS}\n")
    print(f"{'':<26}{'wall s':>9}{'CPU s':>9}")
    for label, name in (("ours", "churn.compare"), ("theirs", "cross_validate loop")):
        print(f"{name:<26}{best[label][0]:>9.2f}{best[label][1]:>9.2f}")
    print(f"{'ratio ours / theirs':<26}{best['ours'][0] / best['theirs'][0]:>9.3f}"
          f"{best['ours'][1] / best['theirs'][1]:>9.3f}")
    same = list(mine["model"]) == list(peer["model"]) and gap <= 1e-12
    print(f"\nfold metrics ({', '.join(SCORERS)}): largest difference {gap:.1e} -> "
          f"{'identical' if same else 'DIFFERENT'}")
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
