"""Batch scoring of logged models (``retaillab score``) against the in-memory models it wraps.

Every model is fitted, logged into a run of a throwaway MLflow store (SQLite, in a temporary
folder deleted at the end) with :func:`retaillab.models.log_model`, then scored by
:func:`retaillab.models.scoring.score` (what ``retaillab score`` calls: read the model's
metadata, load it, build its input from the data set, predict in chunks) on synthetic data
made with ``numpy.random.default_rng(0)``. The peer is the fitted object still in memory,
called the way its user would, on the same input, in the same process:

* churn, 1,000,000 customers (10 numeric features, one 5-level categorical, a boolean target
  drawn from known coefficients; logistic and gbm pipelines of ``churn.create`` fitted on a
  20,000-row sample): ``score`` on a data set whose customer table holds the features, against
  ``pipeline.predict_proba(features)[:, 1]`` on the whole feature frame, and in the same
  250,000-row chunks ``score`` uses (which isolates what MLflow and ``score`` add);
* CLV, 1,000,000 customers (BG/NBD and Gamma-Gamma fitted on ``cdnow_sample``, weeks, logged
  as one ``CLVModel``): first the loaded pyfunc's ``predict`` on an RFM summary in chunks of
  250,000 (as ``score`` does), against the in-memory models' ``conditional_probability_alive``,
  ``conditional_expected_purchases``, ``conditional_expected_average_profit`` and
  ``clv.customer_lifetime_value``; then the whole ``score`` path from the generated order log
  that summary was made from (2.2 million transactions: RFM summary at its last day, then
  the pyfunc) against ``clv.rfm_summary`` and the same four methods;
* recommenders, top-10 for 100,000 users (a generated implicit interaction table: 5,000
  items, about 20 interactions a user, popularity skewed, 20 taste clusters), EASE and ALS
  (registry defaults): ``score`` on a data set holding the interactions, against the fitted
  model's own ``recommend(every user, k=10)`` in one call; for ALS also ``implicit``'s batch
  ``model.recommend(userids, user_items, N=10)``.

``same`` says whether both sides agree, checked on the first timed round: churn
probabilities equal to 1e-12, every CLV column equal to 1e-12 (relative) for the same
customers in the same order, the same top-10 lists (user, item, rank) with equal scores (for
``implicit``, equal to 1e-5: it returns float32); ``N u`` is the number of users whose list
differs. ``ours`` includes reading the model's metadata, loading it from the store and
building its input from the data set; ``load s`` is the load alone. Seconds are the best of
``repeats`` rounds (default 2), each round calling every side in turn; ``CPU ratio`` is the
same ratio of CPU seconds (all threads), the one to read when other jobs share the machine;
``MiB`` is the
resident memory a call added at its peak over what the process held before it (the kernel's
high-water mark, reset before each call through ``/proc/self/clear_refs``, after handing
freed heap back with ``malloc_trim``; blank where that is not available). Timings are from
one run on a shared machine: read the ratios, not the last digit.

Run: ``python bench/score_models.py [repeats]`` (prints a table; about two and a half minutes
on two cores).
"""

from __future__ import annotations

import ctypes
import gc
import os
import shutil
import sys
import tempfile
import time
import warnings

import numpy as np
import pandas as pd

REPEATS = 2
N_CUSTOMERS = 1_000_000
N_TRAIN = 20_000
N_USERS, N_ITEMS, PER_USER, CLUSTERS = 100_000, 5_000, 20, 20
K = 10
LEVELS = ["basic", "plus", "premium", "family", "business"]


# -- measuring ------------------------------------------------------------------------------

def _status(field: str) -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1])  # kB
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as handle:
            handle.write("5")  # resets VmHWM to the current VmRSS (Linux >= 4.0)
        return True
    except OSError:
        return False


def _trim() -> None:
    """Hand freed heap memory back to the system (glibc), so the next call's peak is not
    hidden by memory the process already holds."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def measured(function):
    """``(result, wall seconds, CPU seconds of every thread, MiB added at the peak or
    None)`` of one call of ``function``."""
    gc.collect()
    _trim()
    peak_known = _reset_peak()
    before = _status("VmRSS")
    cpu, start = time.process_time(), time.perf_counter()
    out = function()
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    peak = _status("VmHWM")
    added = None if not peak_known or before is None or peak is None else (peak - before) / 1024
    return out, seconds, cpu, added


def race(functions: dict, repeats: int) -> tuple[dict, dict, dict]:
    """``(best wall and CPU seconds, largest peak MiB, first output)`` of each of
    ``functions`` (label -> callable) over ``repeats`` rounds, each round calling them in
    turn; the first round's outputs are kept for the caller to check that they agree."""
    seconds = {label: (np.inf, np.inf) for label in functions}
    peaks: dict = dict.fromkeys(functions)
    outputs: dict = {}
    for _ in range(max(1, repeats)):
        for label, function in functions.items():
            out, took, cpu, added = measured(function)
            outputs.setdefault(label, out)
            del out
            seconds[label] = (min(seconds[label][0], took), min(seconds[label][1], cpu))
            if added is not None:
                peaks[label] = max(peaks[label] or 0.0, added)
    return seconds, peaks, outputs


def timings(seconds: dict, peaks: dict, peer: str) -> dict:
    return {"ours_s": seconds["ours"][0], "peer_s": seconds[peer][0],
            "cpu_ratio": seconds["ours"][1] / seconds[peer][1], "ours_mib": peaks["ours"],
            "peer_mib": peaks[peer]}


def load_seconds(uri: str) -> float:
    from retaillab import models

    start = time.perf_counter()
    models.load(uri)
    return time.perf_counter() - start


# -- data -----------------------------------------------------------------------------------

def churn_customers(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """``customer``, 10 numeric features, ``plan`` (5 levels), a boolean ``churn`` drawn from
    a logistic model with known coefficients."""
    x = rng.standard_normal((n, 10))
    x[:, 0] = rng.exponential(2.0, n)  # tenure-like, skewed
    x[:, 1] = rng.poisson(3.0, n)  # counts
    plan = rng.integers(0, len(LEVELS), n)
    beta = np.array([-0.6, 0.25, 0.8, -0.5, 0.3, 0.0, 0.15, -0.2, 0.0, 0.4])
    level_effect = np.array([0.5, 0.1, -0.4, 0.0, -0.8])
    logit = -1.0 + x @ beta + level_effect[plan]
    churned = rng.random(n) < 1 / (1 + np.exp(-logit))
    table = pd.DataFrame(x, columns=[f"f{i}" for i in range(10)])
    table.insert(0, "customer", np.arange(1, n + 1))
    table["plan"] = pd.Categorical.from_codes(plan, LEVELS)
    table["churn"] = churned
    return table


def clv_customers(rng: np.random.Generator, n: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(RFM summary, transactions)`` of ``n`` customers: first purchases spread over a
    year, repeat purchases of a BG/NBD process (gamma rates, geometric dropout after each
    purchase, CDNOW-like parameters) until 26 weeks after the last first purchase, spend per
    purchase from the Gamma-Gamma model. The summary is ``clv.rfm_summary`` of the
    transactions at their last day, in weeks, with the customer as a column."""
    from retaillab import clv

    start = pd.Timestamp("2023-01-01")
    birth = rng.integers(0, 365, n)  # day of the first purchase
    end = 365 + 182  # last day of the data
    span = (end - birth) / 7.0  # weeks observed after the first purchase
    rate = rng.gamma(0.25, 1 / 4.4, n)  # purchases per week
    drop = rng.beta(0.8, 2.4, n)
    repeats = np.minimum(rng.poisson(rate * span), rng.geometric(drop) - 1)
    # the first `repeats` of a Poisson process' events in (birth, end]: sorted uniform times
    # of the Poisson count, cut at the dropout (their order statistics are the process')
    owner = np.repeat(np.arange(n), repeats)
    offset = rng.uniform(0, 1, len(owner)) * (end - birth[owner])
    days = np.concatenate([birth, birth[owner] + np.ceil(offset).astype(np.int64)])
    customer = np.concatenate([np.arange(n), owner])
    nu = rng.gamma(3.74, 1 / 15.44, n)  # Gamma-Gamma: each customer's spend scale
    amount = np.round(rng.gamma(6.25, 1 / nu[customer]), 2)
    tx = pd.DataFrame({"customer": customer + 1,
                       "date": start + pd.to_timedelta(days, unit="D"),
                       "amount": np.maximum(amount, 0.01)})
    summary = clv.rfm_summary(tx, calibration_end=f"{tx['date'].max():%Y-%m-%d}", unit="W")
    return summary.reset_index(), tx


def interactions(rng: np.random.Generator, n_users: int = N_USERS,
                 n_items: int = N_ITEMS) -> pd.DataFrame:
    """Implicit feedback: every user draws about PER_USER items (with replacement: a repeat
    counts once), half from the global popularity (Zipf-like) and half from their taste
    cluster's own ranking of the items."""
    popularity = 1.0 / (np.arange(n_items) + 10.0) ** 0.9
    popularity /= popularity.sum()
    counts = np.maximum(rng.poisson(PER_USER, n_users), 1)
    user = np.repeat(np.arange(n_users), counts)
    cluster = rng.integers(0, CLUSTERS, n_users)[user]
    rank = rng.choice(n_items, size=len(user), p=popularity)
    taste = np.stack([rng.permutation(n_items) for _ in range(CLUSTERS)])
    own = rng.random(len(user)) < 0.5
    item = np.where(own, taste[cluster, rank], rank)
    user_ids = rng.permutation(n_users) + 1_000_000  # ids in a shuffled order
    return pd.DataFrame({"user": user_ids[user], "item": item + 1})


# -- cases ----------------------------------------------------------------------------------

def churn_rows(run, repeats: int) -> list[dict]:
    from retaillab import churn, models
    from retaillab.data import Dataset
    from retaillab.models import scoring

    customers = churn_customers(np.random.default_rng(0), N_CUSTOMERS)
    dataset = Dataset(name="bench_churn", source="synthetic", customers=customers)
    features = customers.drop(columns=["customer", "churn"])
    train = customers.sample(N_TRAIN, random_state=0)
    rows = []
    for name in ("logistic", "gbm"):
        pipeline = churn.create(name, seed=0).fit(train[features.columns], train["churn"])
        uri = models.log_model(pipeline, family="churn", name=f"churn_{name}", run_id=run.run_id,
                               uri=run.uri, input_example=features.head())
        load = load_seconds(uri)

        def ours(uri=uri):
            return scoring.score(uri, dataset, progress=False).table["churn_probability"]

        def whole(pipeline=pipeline):
            return pipeline.predict_proba(features)[:, 1]

        def chunked(pipeline=pipeline):
            return np.concatenate([pipeline.predict_proba(features.iloc[at:at + scoring.CHUNK])
                                   [:, 1] for at in range(0, len(features), scoring.CHUNK)])

        peers = {"predict_proba": whole, "predict_proba, chunks": chunked}
        seconds, peaks, outputs = race({"ours": ours, **peers}, repeats)
        for label in peers:
            same = np.allclose(outputs["ours"].to_numpy(), outputs[label], rtol=0, atol=1e-12)
            rows.append({"case": f"churn {name}", "rows": N_CUSTOMERS, "peer": label,
                         "same": "yes" if same else "NO", "load_s": load,
                         **timings(seconds, peaks, label)})
    return rows


def clv_peer(bg, gg, summary: pd.DataFrame) -> pd.DataFrame:
    """The four in-memory methods ``CLVModel`` scores with, at its default settings."""
    from retaillab import clv
    from retaillab.clv.value import month_length

    month = month_length("W")
    out = pd.DataFrame({"customer": summary["customer"].to_numpy()})
    out["p_alive"] = bg.conditional_probability_alive(summary)
    purchases = bg.conditional_expected_purchases(12 * month, summary)
    out["expected_purchases"] = purchases
    out["expected_spend"] = purchases * gg.conditional_expected_average_profit(summary)
    out["clv"] = clv.customer_lifetime_value(bg, gg, summary, months=12, discount_rate=0.01,
                                             unit="W", month_length=month).to_numpy()
    return out


def same_frames(mine: pd.DataFrame, theirs: pd.DataFrame) -> bool:
    """The same columns and customers, every number equal to 1e-12 relative."""
    if list(mine.columns) != list(theirs.columns) or len(mine) != len(theirs):
        return False
    if not np.array_equal(mine["customer"].to_numpy(), theirs["customer"].to_numpy()):
        return False
    return all(np.allclose(mine[c].to_numpy(dtype=float), theirs[c].to_numpy(dtype=float),
                           rtol=1e-12, atol=0) for c in mine.columns if c != "customer")


def clv_rows(run, repeats: int) -> list[dict]:
    from retaillab import clv, data, models
    from retaillab.data import Dataset
    from retaillab.models import scoring
    from retaillab.models.clv import CLVModel

    calibration = clv.rfm_summary(data.load("cdnow_sample").transactions,
                                  calibration_end="1997-09-30", unit="W")
    bg, gg = clv.BetaGeo().fit(calibration), clv.GammaGamma().fit(calibration)
    uri = models.log_model(CLVModel(bg, gg, unit="W"), family="clv", name="clv",
                           run_id=run.run_id, uri=run.uri,
                           input_example=calibration.reset_index().head())
    load = load_seconds(uri)
    start = time.perf_counter()
    summary, tx = clv_customers(np.random.default_rng(0), N_CUSTOMERS)
    print(f"CLV data: {len(tx):,} transactions of {len(summary):,} customers, "
          f"{(summary['frequency'] > 0).mean():.0%} with repeat purchases (generated and "
          f"summarised in {time.perf_counter() - start:.1f} s)", flush=True)
    dataset = Dataset(name="bench_clv", source="synthetic", transactions=tx)
    last = f"{tx['date'].max():%Y-%m-%d}"

    def ours_summary():
        model = models.load(uri, tracking_uri=run.uri)
        parts = [model.predict(summary.iloc[at:at + scoring.CHUNK])
                 for at in range(0, len(summary), scoring.CHUNK)]
        return pd.concat(parts, ignore_index=True)

    def ours_tx():
        return scoring.score(uri, dataset, progress=False).table

    def peer_tx():
        table = clv.rfm_summary(tx, calibration_end=last, unit="W").reset_index()
        return clv_peer(bg, gg, table)

    rows = []
    for case, ours, peer, label in (
            ("CLV from summary", ours_summary, lambda: clv_peer(bg, gg, summary),
             "4 model methods"),
            ("CLV from orders", ours_tx, peer_tx, "rfm_summary + 4 methods")):
        seconds, peaks, outputs = race({"ours": ours, label: peer}, repeats)
        same = same_frames(outputs["ours"], outputs[label])
        rows.append({"case": case, "rows": N_CUSTOMERS, "peer": label,
                     "same": "yes" if same else "NO", "load_s": load,
                     **timings(seconds, peaks, label)})
        del outputs
    return rows


def list_differences(mine: pd.DataFrame, theirs: pd.DataFrame) -> tuple[int, float]:
    """``(users whose top-k lists differ, largest score difference)`` between two
    recommendation tables of the same users in the same order (-1 users: not comparable)."""
    keys = ["user", "item", "rank", "fallback"]
    if len(mine) != len(theirs) or not np.array_equal(mine["user"].to_numpy(),
                                                      theirs["user"].to_numpy()):
        return -1, np.nan
    differ = ~(mine[keys].reset_index(drop=True) == theirs[keys].reset_index(drop=True)).all(
        axis=1)
    users = mine.loc[differ.to_numpy(), "user"].nunique()
    gap = float(np.max(np.abs(mine["score"].to_numpy() - theirs["score"].to_numpy())))
    return int(users), gap


def implicit_lists(fitted, users: pd.Index) -> tuple[np.ndarray, np.ndarray]:
    """``implicit``'s own batch top-k for ``users``: item codes and scores, one row a user."""
    codes = fitted.users_.get_indexer(users)
    return fitted.model_.recommend(codes, fitted.seen_[codes], N=K,
                                   filter_already_liked_items=True)


def recsys_rows(run, repeats: int) -> list[dict]:
    from retaillab import models, recsys
    from retaillab.data import Dataset
    from retaillab.models import scoring

    train = interactions(np.random.default_rng(0))
    users = pd.Index(pd.unique(train["user"]))
    dataset = Dataset(name="bench_recsys", source="synthetic", interactions=train)
    print(f"Interactions: {len(train):,} rows, {len(users):,} users, "
          f"{train['item'].nunique():,} items", flush=True)
    rows = []
    for name in ("ease", "als"):
        start = time.perf_counter()
        fitted = recsys.create(name).fit(train)
        fit_s = time.perf_counter() - start
        uri = models.log_model(fitted, family="recsys", name=name, run_id=run.run_id,
                               uri=run.uri)
        load = load_seconds(uri)
        print(f"{name}: fitted in {fit_s:.1f} s", flush=True)

        def ours(uri=uri):
            return scoring.score(uri, dataset, k=K, progress=False).table

        functions = {"ours": ours, "fitted.recommend": lambda f=fitted: f.recommend(users, k=K)}
        if name == "als":
            functions["implicit recommend"] = lambda f=fitted: implicit_lists(f, users)
        seconds, peaks, outputs = race(functions, repeats)
        mine = outputs["ours"]
        differ, gap = list_differences(mine, outputs["fitted.recommend"])
        same = "yes" if differ == 0 and gap == 0 else "NO" if differ < 0 else f"{differ} u"
        if same != "yes":
            print(f"{name}: score's lists differ from one recommend call for {differ:,} of "
                  f"{len(users):,} users; scores differ by up to {gap:.1e}", flush=True)
        rows.append({"case": f"top-{K} {name}", "rows": len(users), "peer": "fitted.recommend",
                     "same": same, "load_s": load,
                     **timings(seconds, peaks, "fitted.recommend")})
        if name == "als":
            items, scores = outputs["implicit recommend"]
            ours_items = fitted.items_.get_indexer(mine["item"]).reshape(len(users), K)
            ours_scores = mine["score"].to_numpy().reshape(len(users), K)
            differ = int((ours_items != items).any(axis=1).sum())
            close = bool(np.allclose(ours_scores, scores, rtol=1e-5, atol=1e-6))
            print(f"als against implicit's recommend: other items or order for {differ:,} of "
                  f"{len(users):,} users; scores equal to 1e-5: {close}", flush=True)
            rows.append({**rows[-1], "peer": "implicit recommend",
                         "same": ("yes" if differ == 0 else f"{differ} u") if close else "NO",
                         **timings(seconds, peaks, "implicit recommend")})
        del fitted, mine, outputs
    return rows


def _format(rows: list[dict]) -> str:
    header = (f"{'case':<20} {'rows':>9} {'peer':<24} {'same':>4} {'load s':>7} "
              f"{'ours s':>7} {'peer s':>7} {'ratio':>6} {'CPU ratio':>9} {'ours MiB':>9} "
              f"{'peer MiB':>9}")
    lines = [header, "-" * len(header)]
    for row in rows:
        mib = [f"{row[k]:>9.0f}" if row[k] is not None else f"{'':>9}"
               for k in ("ours_mib", "peer_mib")]
        lines.append(f"{row['case']:<20} {row['rows']:>9,} {row['peer']:<24} "
                     f"{row['same']:>4} {row['load_s']:>7.2f} "
                     f"{row['ours_s']:>7.2f} {row['peer_s']:>7.2f} "
                     f"{row['ours_s'] / row['peer_s']:>5.2f}x {row['cpu_ratio']:>8.2f}x "
                     f"{mib[0]} {mib[1]}")
    return "\n".join(lines)


def _load_average() -> str:
    try:
        return f"{os.getloadavg()[0]:.1f}"
    except OSError:
        return "?"


def main(repeats: int = REPEATS) -> None:
    warnings.simplefilter("ignore")  # MLflow's and implicit's notices; a script, not library
    folder = tempfile.mkdtemp(prefix="retaillab-bench-score-")
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{folder}/mlflow.db"
    try:
        from retaillab import tracking

        run = tracking.create_run(tracking.experiment_id("bench"), run_name="bench")
        start, load_before = time.perf_counter(), _load_average()
        rows = churn_rows(run, repeats)
        rows += clv_rows(run, repeats)
        rows += recsys_rows(run, repeats)
        print(f"\nours = retaillab.models.scoring.score (or the loaded pyfunc in chunks), "
              f"ratio = ours / peer; best of {repeats}; {os.cpu_count()} cores; "
              f"{time.perf_counter() - start:.0f} s in all; load average "
              f"{load_before} at the start, {_load_average()} at the end\n")
        print(_format(rows))
        tracking.client(run.uri).set_terminated(run.run_id)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else REPEATS)
