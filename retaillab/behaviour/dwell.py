"""Dwell and purchase: does time spent in a session raise the odds that it ends in a purchase?

Per session: its dwell (seconds; the largest ``dwell_seconds`` among its events, which most
logs, the synthetic world's included, record once on the view) and whether it has a purchase
event. A logistic dose-response ``P(purchase) = sigmoid(beta0 + beta1 log dwell)`` gives the
curve with a delta-method band; a 2x2 odds ratio compares sessions above and below a threshold.
:func:`search_threshold` chooses a threshold on one half of the customers and estimates it on
the other, so the reported odds ratio is not inflated by the search.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from retaillab.behaviour.funnel import (
    _check_level,
    _combine,
    _is_number,
    _require,
    sessions,
    wilson_interval,
)
from retaillab.data.schema import COLUMNS as C
from retaillab.errors import DataError, ParameterError, check_choice

__all__ = ["DwellEffect", "OddsRatio", "ThresholdSearch", "dwell_curve", "dwell_effect",
           "odds_ratio", "search_threshold", "split_halves"]

PURCHASE = "purchase"
TRANSFORMS = ("log", "linear")
CRITERIA = ("odds_ratio", "likelihood")


@dataclass(frozen=True, eq=False)
class OddsRatio:
    """Odds of purchase above vs at-or-below ``threshold`` seconds, with Woolf's interval.

    ``table`` has rows ``above``/``below`` and columns ``sessions``, ``customers``,
    ``purchases``, ``no_purchase``, ``rate``. A zero cell adds 0.5 to every cell (Haldane).
    """

    threshold: float
    estimate: float
    low: float
    high: float
    level: float
    table: pd.DataFrame


@dataclass(frozen=True, eq=False)
class DwellEffect:
    """The dwell dose-response fit, its curve, binned observed rates and a threshold OR.

    Attributes
    ----------
    coefficients
        Index ``beta0``, ``beta1``: ``estimate``, ``se``, ``low``, ``high``, ``z``,
        ``p_value`` (beta1 per unit of log seconds, or per second with ``transform="linear"``).
    curve
        ``dwell`` grid (1st to 99th percentile), ``probability``, band ``low``/``high``.
    bins
        Equal-count dwell bins: ``dwell_low``, ``dwell_high``, ``dwell_median``, ``sessions``,
        ``customers``, ``purchases``, ``rate`` with Wilson ``low``/``high``, ``predicted``.
    odds_ratio
        Above vs below ``threshold``.
    sessions, customers, dropped
        Sessions fitted, their distinct customers, sessions left out (no dwell, or dwell 0
        under the log).
    method
        ``"statsmodels"`` or ``"scikit-learn"`` (with the covariance computed here).
    """

    coefficients: pd.DataFrame
    curve: pd.DataFrame
    bins: pd.DataFrame
    odds_ratio: OddsRatio
    sessions: int
    customers: int
    dropped: int
    transform: str
    level: float
    method: str


@dataclass(frozen=True, eq=False)
class ThresholdSearch:
    """A threshold chosen on one half of the customers, its odds ratio estimated on the other.

    ``candidates`` holds each candidate's ``log_odds_ratio`` and ``log_likelihood`` on the
    search half only (with ``sessions_above``/``sessions_below`` there); ``estimate`` is the
    chosen threshold's
    :class:`OddsRatio` on the estimation half.
    """

    threshold: float
    estimate: OddsRatio
    candidates: pd.DataFrame
    criterion: str
    search_sessions: int
    estimate_sessions: int
    seed: int


def dwell_effect(events: pd.DataFrame, *, threshold: float = 30.0, transform: str = "log",
                 level: float = 0.95, seed: int = 0, n_bins: int = 10,
                 gap_minutes: float = 30) -> DwellEffect:
    """Logistic dose-response of purchase on dwell, with intervals, and a threshold odds ratio.

    Parameters
    ----------
    events
        The event log (customer, event, dwell_seconds, and session or timestamp).
    threshold
        Seconds splitting sessions for the odds ratio (above means ``dwell > threshold``).
    transform
        ``"log"`` fits on log seconds (the planted law of the synthetic world), ``"linear"``
        on seconds.
    level
        Confidence level of every interval.
    seed
        Seeds the solver when scikit-learn fits.
    n_bins
        Equal-count bins of observed rates.
    gap_minutes
        Session cut when the log has no ``session`` column (see :func:`.funnel.sessions`).

    Raises
    ------
    DataError
        On missing columns, dwell missing everywhere, or sessions all of one outcome.
    """
    check_choice("transform", transform, TRANSFORMS)
    _check_level("level", level)
    if not _is_number(threshold) or threshold < 0:
        raise ParameterError("threshold", "a number of seconds >= 0", threshold)
    if not isinstance(n_bins, int) or n_bins < 1:
        raise ParameterError("n_bins", "an integer >= 1", n_bins)
    frame, dropped = _per_session(events, transform, gap_minutes)
    x = _x(frame["dwell"].to_numpy(), transform)
    y = frame["purchase"].to_numpy()
    coef, cov, method = fit_logit(x, y, seed=seed)
    from scipy.stats import norm

    z = norm.ppf(0.5 + level / 2)
    se = np.sqrt(np.diag(cov))
    zs = coef / se
    coefficients = pd.DataFrame(
        {"estimate": coef, "se": se, "low": coef - z * se, "high": coef + z * se, "z": zs,
         "p_value": 2 * norm.sf(np.abs(zs))}, index=pd.Index(["beta0", "beta1"], name="term"))

    dwell = frame["dwell"].to_numpy()
    lo, hi = np.quantile(dwell, [0.01, 0.99])
    grid = (np.geomspace(max(lo, 1e-3), max(hi, lo * 1.01, 1e-2), 60) if transform == "log"
            else np.linspace(lo, max(hi, lo + 1), 60))
    probability, low, high = _band(coef, cov, _x(grid, transform), z)
    curve = pd.DataFrame({"dwell": grid, "probability": probability, "low": low, "high": high})
    predicted = _expit(coef[0] + coef[1] * x)
    bins = _bins(frame.assign(predicted=predicted), n_bins, level)
    return DwellEffect(coefficients=coefficients, curve=curve, bins=bins,
                       odds_ratio=_odds_ratio(frame, threshold, level),
                       sessions=len(frame), customers=int(frame["customer"].nunique()),
                       dropped=dropped, transform=transform, level=level, method=method)


def odds_ratio(events: pd.DataFrame, threshold: float, *, level: float = 0.95,
               gap_minutes: float = 30) -> OddsRatio:
    """Odds ratio of purchase for sessions with dwell above vs at-or-below ``threshold``."""
    _check_level("level", level)
    frame, _ = _per_session(events, "linear", gap_minutes)
    return _odds_ratio(frame, threshold, level)


def split_halves(events: pd.DataFrame, seed: int = 0) -> pd.Series:
    """``"search"`` or ``"estimate"`` for every event: customers shuffled by ``seed`` and cut
    in two, so a customer's sessions all fall in one half."""
    _require(events, (C.customer,), "splitting customers")
    if not isinstance(seed, int | np.integer) or seed < 0:
        raise ParameterError("seed", "an integer >= 0", seed)
    codes, uniques = pd.factorize(events[C.customer])
    rank = np.empty(len(uniques), dtype=np.int64)
    rank[np.random.default_rng(seed).permutation(len(uniques))] = np.arange(len(uniques))
    search = rank[codes] < (len(uniques) + 1) // 2
    return pd.Series(np.where(search, "search", "estimate"), index=events.index, name="half")


def search_threshold(events: pd.DataFrame, candidates: Sequence[float] | None = None, *,
                     seed: int = 0, criterion: str = "odds_ratio", level: float = 0.95,
                     gap_minutes: float = 30) -> ThresholdSearch:
    """Choose the dwell threshold on half of the customers, estimate its odds ratio on the rest.

    Parameters
    ----------
    candidates
        Thresholds in seconds; default the search half's dwell deciles (10% to 90%).
    seed
        Seeds the customer split (:func:`split_halves`).
    criterion
        ``"odds_ratio"`` (largest log odds ratio) or ``"likelihood"`` (largest log likelihood
        of a two-rate step model). Candidates leaving an empty side are skipped.

    Why: the best of many thresholds, scored on the data that chose it, overstates the effect;
    scored on customers the search never saw, its interval is honest.
    """
    check_choice("criterion", criterion, CRITERIA)
    _check_level("level", level)
    half = split_halves(events, seed)
    search, _ = _per_session(events[half.to_numpy() == "search"], "linear", gap_minutes)
    estimate, _ = _per_session(events[half.to_numpy() == "estimate"], "linear", gap_minutes)
    dwell, y = search["dwell"].to_numpy(), search["purchase"].to_numpy()
    if candidates is None:
        candidates = np.unique(np.quantile(dwell, np.linspace(0.1, 0.9, 9)))
    cand = np.asarray(candidates, dtype=float)
    if cand.ndim != 1 or cand.size == 0 or not np.isfinite(cand).all():
        raise ParameterError("candidates", "one or more finite thresholds in seconds", candidates)
    above = dwell[None, :] > cand[:, None]  # candidates x sessions, a handful of rows
    n_a, n_b = above.sum(axis=1), (~above).sum(axis=1)
    y_a = (above & y[None, :]).sum(axis=1)
    y_b = y.sum() - y_a
    with np.errstate(divide="ignore", invalid="ignore"):
        log_or = (np.log(y_a) - np.log(n_a - y_a)) - (np.log(y_b) - np.log(n_b - y_b))
        loglik = _binomial_loglik(y_a, n_a) + _binomial_loglik(y_b, n_b)
    score = log_or if criterion == "odds_ratio" else loglik
    score = np.where((n_a > 0) & (n_b > 0) & np.isfinite(score), score, np.nan)
    if np.isnan(score).all():
        raise DataError("no candidate threshold leaves sessions on both sides with both "
                        "outcomes", source="events", column=C.dwell,
                        fix="pass candidates within the range of the dwell times")
    best = float(cand[int(np.nanargmax(score))])
    table = pd.DataFrame({"threshold": cand, "log_odds_ratio": log_or, "log_likelihood": loglik,
                          "sessions_above": n_a, "sessions_below": n_b})
    return ThresholdSearch(threshold=best, estimate=_odds_ratio(estimate, best, level),
                           candidates=table, criterion=criterion, search_sessions=len(search),
                           estimate_sessions=len(estimate), seed=seed)


def fit_logit(x: np.ndarray, y: np.ndarray, *, seed: int = 0
              ) -> tuple[np.ndarray, np.ndarray, str]:
    """``(beta0, beta1)``, their covariance and the library used, for ``logit P(y) = b0 + b1 x``.

    statsmodels' ``Logit`` when installed; else scikit-learn's unpenalised
    ``LogisticRegression`` with the covariance from :func:`observed_information`.
    """
    try:
        import statsmodels.api as sm
    except ImportError:
        return (*_fit_sklearn(x, y, seed), "scikit-learn")
    fit = sm.Logit(y.astype(float), sm.add_constant(x, has_constant="add")).fit(disp=0)
    return np.asarray(fit.params), np.asarray(fit.cov_params()), "statsmodels"


def _fit_sklearn(x: np.ndarray, y: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=np.inf, tol=1e-10, max_iter=1000, random_state=seed)
    model.fit(x[:, None], y.astype(int))
    coef = np.array([model.intercept_[0], model.coef_[0, 0]])
    return coef, np.linalg.inv(observed_information(coef, x))


def observed_information(coef: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``X' W X`` with ``W = p (1 - p)``: minus the Hessian of the logistic log likelihood at
    ``coef`` (for the logit link it does not depend on ``y``); its inverse is the covariance."""
    p = _expit(coef[0] + coef[1] * x)
    w = p * (1 - p)
    return np.array([[w.sum(), (w * x).sum()], [(w * x).sum(), (w * x * x).sum()]])


def dwell_curve(result: DwellEffect, *, title: str = "") -> object:
    """Observed purchase rate per dwell bin (with Wilson intervals) over the fitted curve and
    its band; the odds-ratio threshold as a dashed line."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    curve, bins = result.curve, result.bins
    ax.fill_between(curve["dwell"], curve["low"], curve["high"], alpha=0.25,
                    label=f"{result.level:.0%} band")
    ax.plot(curve["dwell"], curve["probability"], label="logistic fit")
    err = np.clip(np.vstack([bins["rate"] - bins["low"], bins["high"] - bins["rate"]]), 0, None)
    ax.errorbar(bins["dwell_median"], bins["rate"], yerr=err, fmt="o", ms=4,
                label="observed (per bin)")
    ax.axvline(result.odds_ratio.threshold, ls="--", color="grey",
               label=f"OR above {result.odds_ratio.threshold:g}s: "
                     f"{result.odds_ratio.estimate:.2f}")
    if result.transform == "log":
        ax.set_xscale("log")
    ax.set_xlabel("session dwell (seconds)")
    ax.set_ylabel("P(purchase)")
    ax.set_title(title or f"Dwell and purchase ({result.sessions:,} sessions)", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


# --- helpers ------------------------------------------------------------------------------


def _per_session(events: pd.DataFrame, transform: str, gap_minutes: float
                 ) -> tuple[pd.DataFrame, int]:
    """One row per session: internal customer code, dwell, purchase; and sessions dropped."""
    needed = (C.customer, C.event, C.dwell) + (() if C.session in events.columns
                                               else (C.timestamp,))
    _require(events, needed, "the dwell analysis")
    dwell = pd.to_numeric(events[C.dwell], errors="coerce")
    if dwell.isna().all():
        raise DataError("dwell is missing on every event", source="events", column=C.dwell,
                        fix="record dwell_seconds on (at least) each session's view event")
    customer = pd.factorize(events[C.customer])[0]
    session = pd.factorize(sessions(events, gap_minutes))[0]
    key = pd.factorize(_combine(customer, session))[0]
    bought = (events[C.event].astype(str) == PURCHASE).to_numpy()
    grouped = pd.DataFrame({"customer": customer, "dwell": dwell.to_numpy(),
                            "purchase": bought}).groupby(key, sort=False)
    frame = pd.DataFrame({"customer": grouped["customer"].first(),
                          "dwell": grouped["dwell"].max(),
                          "purchase": grouped["purchase"].any()})
    ok = frame["dwell"].notna() & (frame["dwell"] > 0 if transform == "log" else True)
    dropped = int((~ok).sum())
    frame = frame[ok].reset_index(drop=True)
    n_buy = int(frame["purchase"].sum())
    if n_buy == 0 or n_buy == len(frame):
        raise DataError(f"{'no' if n_buy == 0 else 'every'} session with a dwell ends in a "
                        f"purchase ({len(frame)} sessions), so dwell cannot explain it",
                        source="events", column=C.event,
                        fix=f"the analysis needs {PURCHASE!r} events and sessions without one")
    return frame, dropped


def _x(dwell: np.ndarray, transform: str) -> np.ndarray:
    return np.log(dwell) if transform == "log" else np.asarray(dwell, dtype=float)


def _expit(eta: np.ndarray) -> np.ndarray:
    from scipy.special import expit

    return expit(eta)


def _band(coef: np.ndarray, cov: np.ndarray, x: np.ndarray, z: float):
    """Fitted probability and delta-method band on the linear predictor, mapped through the
    sigmoid (so it stays in [0, 1])."""
    eta = coef[0] + coef[1] * x
    se = np.sqrt(cov[0, 0] + 2 * x * cov[0, 1] + x * x * cov[1, 1])
    return _expit(eta), _expit(eta - z * se), _expit(eta + z * se)


def _bins(frame: pd.DataFrame, n_bins: int, level: float) -> pd.DataFrame:
    codes = pd.qcut(frame["dwell"], n_bins, labels=False, duplicates="drop")
    g = frame.groupby(codes, sort=True)
    out = pd.DataFrame({
        "dwell_low": g["dwell"].min(), "dwell_high": g["dwell"].max(),
        "dwell_median": g["dwell"].median(), "sessions": g.size(),
        "customers": g["customer"].nunique(), "purchases": g["purchase"].sum(),
        "predicted": g["predicted"].mean()}).reset_index(drop=True)
    out["rate"] = out["purchases"] / out["sessions"]
    out["low"], out["high"] = wilson_interval(out["purchases"], out["sessions"], level)
    return out[["dwell_low", "dwell_high", "dwell_median", "sessions", "customers",
                "purchases", "rate", "low", "high", "predicted"]]


def _odds_ratio(frame: pd.DataFrame, threshold: float, level: float) -> OddsRatio:
    from scipy.stats import norm

    above = (frame["dwell"] > threshold).map({True: "above", False: "below"})
    g = frame.groupby(above)
    table = pd.DataFrame({"sessions": g.size(), "customers": g["customer"].nunique(),
                          "purchases": g["purchase"].sum()}).reindex(
        pd.Index(["above", "below"], name="dwell"), fill_value=0)
    table["no_purchase"] = table["sessions"] - table["purchases"]
    with np.errstate(divide="ignore", invalid="ignore"):
        table["rate"] = table["purchases"] / table["sessions"]
    cells = table[["purchases", "no_purchase"]].to_numpy(dtype=float)
    if (cells == 0).any():
        cells = cells + 0.5
    log_or = np.log(cells[0, 0] * cells[1, 1] / (cells[0, 1] * cells[1, 0]))
    se = np.sqrt((1 / cells).sum())
    z = norm.ppf(0.5 + level / 2)
    return OddsRatio(threshold=float(threshold), estimate=float(np.exp(log_or)),
                     low=float(np.exp(log_or - z * se)), high=float(np.exp(log_or + z * se)),
                     level=level, table=table)


def _binomial_loglik(k: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Maximised binomial log likelihood ``k log(k/n) + (n-k) log(1-k/n)`` (0 log 0 = 0)."""
    from scipy.special import xlogy

    return xlogy(k, k / n) + xlogy(n - k, (n - k) / n)
