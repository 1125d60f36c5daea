"""CLV model fit time against lifetimes at the same optimum, and scoring at scale.

For ``cdnow_sample`` (2,357 customers) and the full ``cdnow`` master file (23,570), both
summarised at the literature's cut (calibration to 1997-09-30, weeks), each model is fitted by
retaillab and by the matching lifetimes fitter in the same process, each the median of
REPEATS fits after one warm-up. Both log-likelihoods are computed by retaillab's likelihood at
each side's parameters (lifetimes reports its own on a rescaled time axis), so the columns
show that both reached the same optimum.

Then 1,000,000 *distinct* customers (#16): summaries drawn from each model with known,
CDNOW-like parameters and ages T uniform on [1, 78] weeks, so no two (frequency, recency, T)
rows are equal and fitting each repeated row once cannot help. retaillab's fit is the median
of 3; lifetimes' is a single timed fit (about 20 s for BG/NBD and MBG/NBD, several minutes for
Pareto/NBD, whose lifetimes fitter has no gradient); pass ``--pareto-peer-rows 100000`` to
time lifetimes' Pareto/NBD on the first 100,000 rows instead and scale its time by the row
ratio (the table then says so). Last, P(alive) and 12-month discounted CLV (BG/NBD and
Pareto/NBD with Gamma-Gamma) are scored for 1,000,000 customers.

Run: ``flock /tmp/bench.lock python bench/clv_fit.py [cdnow] [distinct] [scoring]`` (all three
by default; about a minute for cdnow, up to ten for distinct). Prints tables.
"""

from __future__ import annotations

import statistics
import sys
import time
import warnings

import numpy as np
import pandas as pd

from retaillab import clv, data

REPEATS = 5
N_SCORE = 1_000_000
N_DISTINCT = 1_000_000
TRUTH = {"BetaGeo": {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426},
         "ModifiedBetaGeo": {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426},
         "ParetoNBD": {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}}


def _lifetimes_fitters():
    import lifetimes

    return {"BetaGeo": lifetimes.BetaGeoFitter, "ModifiedBetaGeo": lifetimes.ModifiedBetaGeoFitter,
            "ParetoNBD": lifetimes.ParetoNBDFitter, "GammaGamma": lifetimes.GammaGammaFitter}


def _median_time(func, repeats: int) -> tuple[float, object]:
    out = func()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = func()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def bench_fits(name: str, repeats: int) -> list[dict]:
    summary = clv.rfm_summary(data.load(name).transactions, calibration_end="1997-09-30",
                              unit="W")
    repeat = summary[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
    rows = []
    for model_name, peer in _lifetimes_fitters().items():
        cls = getattr(clv, model_name)
        ours_s, ours = _median_time(lambda cls=cls: cls().fit(summary), repeats)
        if model_name == "GammaGamma":
            fit_peer = lambda peer=peer: peer().fit(repeat["frequency"],  # noqa: E731
                                                    repeat["monetary_value"])
        else:
            fit_peer = lambda peer=peer: peer().fit(summary["frequency"],  # noqa: E731
                                                    summary["recency"], summary["T"])
        peer_s, theirs = _median_time(fit_peer, repeats)
        their_params = dict(zip(ours.params_, theirs.params_.to_numpy(), strict=True))
        probe = cls()
        probe.params_ = their_params
        rows.append({
            "data": name, "model": model_name, "customers": len(summary),
            "retaillab_s": ours_s, "lifetimes_s": peer_s, "speedup": peer_s / ours_s,
            "retaillab_ll": ours.log_likelihood_, "lifetimes_ll": probe.log_likelihood(summary),
            "retaillab_params": {k: round(v, 4) for k, v in ours.params_.items()},
            "lifetimes_params": {k: round(float(v), 4) for k, v in their_params.items()},
        })
    return rows


def simulate(model: str, params: dict, n: int, seed: int) -> pd.DataFrame:
    """Distinct rows drawn from a model's story, vectorised (as tests/clv/test_scale.py):
    Pareto/NBD, Poisson purchases until an exponential death, the last purchase the maximum
    of x uniform times in the active window; (M)BG/NBD, K ~ Poisson(lambda T) chances,
    dropout after the N-th repeat (MBG: also at the first purchase), x = min(K, N)."""
    rng = np.random.default_rng(seed)
    big_t = rng.uniform(1.0, 78.0, n)
    lam = rng.gamma(params["r"], 1 / params["alpha"], n)
    recency = np.zeros(n)
    if model == "ParetoNBD":
        window = np.minimum(big_t, rng.exponential(1 / rng.gamma(params["s"],
                                                                 1 / params["beta"], n)))
        x = rng.poisson(lam * window)
        has = x > 0
        recency[has] = window[has] * rng.beta(x[has], 1.0)
    else:
        k = rng.poisson(lam * big_t)
        drop = rng.geometric(rng.beta(params["a"], params["b"], n))
        x = np.minimum(k, drop - (model == "ModifiedBetaGeo"))
        has = x > 0
        recency[has] = big_t[has] * rng.beta(x[has], k[has] - x[has] + 1)
    return pd.DataFrame({"frequency": x.astype(float), "recency": recency, "T": big_t})


def bench_distinct(n: int, pareto_peer_rows: int | None) -> list[dict]:
    """Fit time and both log-likelihoods at ``n`` distinct customers, ours against
    lifetimes'; lifetimes' Pareto/NBD optionally on fewer rows, its time scaled up."""
    peers = _lifetimes_fitters()
    rows = []
    for i, (model_name, truth) in enumerate(TRUTH.items()):
        summary = simulate(model_name, truth, n, seed=10 + i)
        cls = getattr(clv, model_name)
        cls().fit(summary.iloc[:20_000])  # warm-up: imports, caches
        ours_s, ours = _median_time(lambda cls=cls, s=summary: cls().fit(s), 2)
        peer_rows = n
        if model_name == "ParetoNBD" and pareto_peer_rows:
            peer_rows = min(n, pareto_peer_rows)
        part = summary.iloc[:peer_rows]
        start = time.perf_counter()
        theirs = peers[model_name]().fit(part["frequency"], part["recency"], part["T"])
        peer_s = (time.perf_counter() - start) * n / peer_rows
        probe = cls()
        probe.params_ = dict(zip(ours.params_, map(float, theirs.params_.to_numpy()),
                                 strict=True))
        ll_part = ours.log_likelihood_ if peer_rows == n else cls().fit(part).log_likelihood_
        rows.append({
            "model": model_name, "customers": n,
            "distinct_rows": int((~summary.duplicated()).sum()),
            "retaillab_s": ours_s, "lifetimes_s": peer_s, "speedup": peer_s / ours_s,
            "lifetimes_rows": peer_rows,
            "retaillab_ll": ll_part, "lifetimes_ll": probe.log_likelihood(part),
            "ll_gap": ll_part - probe.log_likelihood(part),  # ours minus theirs, >= 0 if best
            "truth": truth, "retaillab_params": {k: round(v, 4) for k, v in
                                                 ours.params_.items()},
            "lifetimes_params": {k: round(v, 4) for k, v in probe.params_.items()},
        })
    return rows


def bench_scoring(n: int) -> list[dict]:
    rng = np.random.default_rng(0)
    big_t = rng.uniform(1, 78, n)
    x = rng.poisson(rng.gamma(0.25, 1 / 4.4, n) * big_t).astype(float)
    tx = np.where(x > 0, big_t * rng.uniform(0, 1, n), 0.0)
    summary = pd.DataFrame({"frequency": x, "recency": tx, "T": big_t,
                            "monetary_value": np.where(x > 0, rng.gamma(6.0, 6.0, n), 0.0)})
    gg = clv.GammaGamma()
    gg.params_ = {"p": 6.25, "q": 3.74, "gamma": 15.44}
    rows = []
    for model, params in [(clv.BetaGeo(), {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}),
                          (clv.ParetoNBD(), {"r": 0.553, "alpha": 10.578, "s": 0.606,
                                             "beta": 11.669})]:
        model.params_ = params
        alive_s, _ = _median_time(lambda m=model: m.conditional_probability_alive(summary), 3)
        clv_s, _ = _median_time(lambda m=model: clv.customer_lifetime_value(
            m, gg, summary, months=12, discount_rate=0.01), 3)
        rows.append({"model": type(model).__name__, "customers": n,
                     "p_alive_s": alive_s, "clv_12_months_s": clv_s,
                     "p_alive_plus_clv_s": alive_s + clv_s})
    return rows


def main() -> None:
    warnings.simplefilter("ignore")  # lifetimes' own deprecation noise; a script, not library
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    sections = set(args) or {"cdnow", "distinct", "scoring"}
    pareto_peer_rows = None
    if "--pareto-peer-rows" in sys.argv:
        pareto_peer_rows = int(sys.argv[sys.argv.index("--pareto-peer-rows") + 1])
        sections.discard(str(pareto_peer_rows))
    with pd.option_context("display.width", 220, "display.max_colwidth", 90):
        if "cdnow" in sections:
            fits = bench_fits("cdnow_sample", REPEATS) + bench_fits("cdnow", 2)
            table = pd.DataFrame(fits)
            print(table[["data", "model", "customers", "retaillab_s", "lifetimes_s",
                         "speedup", "retaillab_ll", "lifetimes_ll"]].round(4).to_string(
                index=False))
            print()
            print(table[["data", "model", "retaillab_params", "lifetimes_params"]].to_string(
                index=False))
            print()
        if "distinct" in sections:
            table = pd.DataFrame(bench_distinct(N_DISTINCT, pareto_peer_rows))
            print(table[["model", "customers", "distinct_rows", "retaillab_s", "lifetimes_s",
                         "speedup", "lifetimes_rows", "retaillab_ll", "lifetimes_ll",
                         "ll_gap"]].round(
                {"retaillab_s": 3, "lifetimes_s": 2, "speedup": 1, "retaillab_ll": 3,
                 "lifetimes_ll": 3, "ll_gap": 6}).to_string(index=False))
            print()
            print(table[["model", "truth", "retaillab_params", "lifetimes_params"]].to_string(
                index=False))
            print()
        if "scoring" in sections:
            print(pd.DataFrame(bench_scoring(N_SCORE)).round(3).to_string(index=False))


if __name__ == "__main__":
    main()
