"""Dwell and purchase: the planted logistic law recovered, the covariance by hand, the Woolf
odds ratio by hand, an honest threshold search, and refusals."""

from __future__ import annotations

import math

import matplotlib
import numpy as np
import pandas as pd
import pytest

from retaillab import data
from retaillab.behaviour import dwell as dw
from retaillab.errors import DataError

matplotlib.use("Agg")

SEED, N_CUSTOMERS = 1, 3000  # the funnel tests' world (about 54,000 sessions)


@pytest.fixture(scope="module")
def world():
    return data.load("synthetic", n_customers=N_CUSTOMERS, seed=SEED)


@pytest.fixture(scope="module")
def effect(world):
    return dw.dwell_effect(world.events)


def test_planted_dwell_coefficients_are_inside_their_95_intervals(world, effect):
    beta = dict(zip(("beta0", "beta1"), world.truth.dwell_coefficients, strict=True))
    for term, true in beta.items():
        row = effect.coefficients.loc[term]
        assert row["low"] < true < row["high"], (term, true, row["low"], row["high"])
    assert effect.sessions == world.events["session"].nunique() and effect.dropped == 0
    assert effect.customers == N_CUSTOMERS


def test_curve_band_and_bins_agree_with_the_fit(effect):
    curve, bins = effect.curve, effect.bins
    assert (curve["low"] < curve["probability"]).all()
    assert (curve["probability"] < curve["high"]).all()
    assert curve["probability"].is_monotonic_increasing  # beta1 > 0
    assert bins["sessions"].sum() == effect.sessions and len(bins) == 10
    inside = (bins["low"] <= bins["predicted"]) & (bins["predicted"] <= bins["high"])
    assert inside.mean() >= 0.8  # the fitted law runs through the observed rates


def irls(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Newton-Raphson for the logistic MLE, written out: b += (X'WX)^-1 X'(y - p)."""
    X = np.column_stack([np.ones_like(x), x])
    b = np.zeros(2)
    for _ in range(30):
        p = 1 / (1 + np.exp(-X @ b))
        b = b + np.linalg.solve(X.T @ (X * (p * (1 - p))[:, None]), X.T @ (y - p))
    return b


def test_scikit_learn_fit_and_hand_covariance_match_newton_and_a_numerical_hessian():
    rng = np.random.default_rng(4)
    x = rng.normal(3.7, 1.0, 4000)
    y = rng.random(4000) < 1 / (1 + np.exp(-(-6 + 1.2 * x)))
    coef, cov = dw._fit_sklearn(x, y, seed=0)
    assert coef == pytest.approx(irls(x, y.astype(float)), abs=1e-4)

    def loglik(b):
        eta = b[0] + b[1] * x
        return float(np.sum(y * eta - np.logaddexp(0, eta)))

    h, hessian = 1e-4, np.empty((2, 2))
    for i in range(2):
        for j in range(2):
            e_i, e_j = np.eye(2)[i] * h, np.eye(2)[j] * h
            hessian[i, j] = (loglik(coef + e_i + e_j) - loglik(coef + e_i - e_j)
                             - loglik(coef - e_i + e_j) + loglik(coef - e_i - e_j)) / (4 * h * h)
    assert np.linalg.inv(-hessian) == pytest.approx(cov, rel=1e-3)
    fitted, fitted_cov, method = dw.fit_logit(x, y)
    assert fitted == pytest.approx(coef, abs=1e-4)  # statsmodels if installed: same numbers
    assert fitted_cov == pytest.approx(cov, rel=1e-3) and method in ("statsmodels",
                                                                    "scikit-learn")


def toy_sessions() -> pd.DataFrame:
    """Eight sessions of one view each (and a purchase for some): above 30 s 3 of 4 buy,
    at or below 30 s 1 of 4 buy."""
    t0 = pd.Timestamp("2024-05-01")
    dwell = [40, 50, 60, 70, 10, 20, 25, 30]
    buys = [1, 1, 1, 0, 1, 0, 0, 0]
    rows = []
    for s, (d, b) in enumerate(zip(dwell, buys, strict=True)):
        rows.append({"session": s, "customer": s % 5, "item": 1, "event": "view",
                     "timestamp": t0, "dwell_seconds": float(d)})
        if b:
            rows.append({"session": s, "customer": s % 5, "item": 1, "event": "purchase",
                         "timestamp": t0, "dwell_seconds": np.nan})
    return pd.DataFrame(rows)


def test_odds_ratio_and_woolf_interval_by_hand():
    result = dw.odds_ratio(toy_sessions(), 30.0)
    # (3/1) / (1/3) = 9; Woolf: se = sqrt(1/3 + 1/1 + 1/1 + 1/3)
    se = math.sqrt(1 / 3 + 1 + 1 + 1 / 3)
    assert result.estimate == pytest.approx(9.0)
    assert result.low == pytest.approx(9 * math.exp(-1.959963984540054 * se))
    assert result.high == pytest.approx(9 * math.exp(1.959963984540054 * se))
    table = result.table
    assert table["sessions"].tolist() == [4, 4] and table["purchases"].tolist() == [3, 1]
    assert table["customers"].tolist() == [4, 4]  # customers 0-3 / 4, 0, 1, 2
    empty = dw.odds_ratio(toy_sessions(), 100.0)  # nobody above: Haldane's 0.5 per cell
    assert empty.table.loc["above", "sessions"] == 0 and np.isfinite(empty.estimate)


def test_threshold_search_estimates_on_the_half_it_did_not_search(world):
    events = world.events
    search = dw.search_threshold(events, seed=5)
    half = dw.split_halves(events, seed=5)
    assert (events.assign(half=half).groupby("customer")["half"].nunique() == 1).all()
    assert (events.assign(half=half).groupby("session")["half"].nunique() == 1).all()
    estimate_half = events[half == "estimate"]
    honest = dw.odds_ratio(estimate_half, search.threshold)
    assert search.estimate.estimate == pytest.approx(honest.estimate)
    assert (search.estimate.table["sessions"].sum() == search.estimate_sessions
            == estimate_half["session"].nunique())
    assert search.search_sessions + search.estimate_sessions == events["session"].nunique()
    # the chosen threshold scored best on the search half
    assert search.threshold == search.candidates.loc[
        search.candidates["log_odds_ratio"].idxmax(), "threshold"]
    # shuffling the search half's dwell cannot change the estimate at a fixed threshold
    scrambled = events.copy()
    in_search = ((half == "search") & events["dwell_seconds"].notna()).to_numpy()
    scrambled.loc[in_search, "dwell_seconds"] = np.random.default_rng(0).permutation(
        events.loc[in_search, "dwell_seconds"].to_numpy())
    again = dw.search_threshold(scrambled, candidates=[search.threshold], seed=5)
    assert again.estimate.estimate == pytest.approx(search.estimate.estimate)


def test_refusals_are_one_clear_data_error(world):
    with pytest.raises(DataError, match="dwell is missing on every event"):
        dw.dwell_effect(world.events.assign(dwell_seconds=np.nan))
    with pytest.raises(DataError, match="'dwell_seconds'"):
        dw.dwell_effect(world.events.drop(columns="dwell_seconds"))
    with pytest.raises(DataError, match="no session with a dwell ends in a purchase"):
        dw.dwell_effect(world.events[world.events["event"] != "purchase"])


def test_dwell_curve_draws_fit_band_bins_and_threshold(effect):
    import matplotlib.pyplot as plt

    fig = dw.dwell_curve(effect)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "logistic fit" in labels and any(label.startswith("OR above 30s") for label in labels)
    plt.close("all")
