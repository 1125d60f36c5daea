"""Uncertainty of CLV predictions: parameter-sampling intervals and likelihood-ratio tests.

:func:`predict_interval` propagates the estimation error of a fitted model into its
predictions. Maximum likelihood makes the log-parameters ``phi = log(theta)`` (the scale the
engine optimises, :mod:`retaillab.clv._engine`) asymptotically normal around the estimates,
with the inverse Hessian as covariance; the parameters are drawn there and exponentiated, so
every draw is positive, and each prediction is recomputed under every draw. The spread of
those recomputed predictions is an interval for the *expected* value (P(alive), expected
purchases, CLV) given the parameter uncertainty: it says how well the data pin down the
model's expectation, not where a customer's realised purchases or spend will fall (those
vary much more, by Poisson and Gamma noise that no amount of data removes).

:func:`likelihood_ratio_test` compares two fits of nested models on the same data, e.g. a
fit with some parameters held fixed (``fit(summary, fixed={...})``) against the free fit,
or a penalised fit against the unpenalised one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd

from retaillab.clv._engine import SE_PENALISED, FitError, Fitter, unique_rows
from retaillab.clv._validate import MONETARY, numeric_columns, transaction_summary
from retaillab.errors import DataError, ParameterError

__all__ = ["LikelihoodRatio", "PredictionIntervals", "likelihood_ratio_test",
           "parameter_draws", "predict_interval"]

#: Parameter draws of :func:`predict_interval` unless told otherwise.
N_DRAWS = 500
#: draws x customers evaluated at once (a few float arrays of this many values in memory)
_ELEMENTS = 1 << 21
WHAT = ("p_alive", "purchases", "clv")
COLUMNS = ("point", "mean", "low", "high")


@dataclass(frozen=True)
class PredictionIntervals:
    """What :func:`predict_interval` found.

    Attributes
    ----------
    what, level, n_draws
        The quantity (``"p_alive"``, ``"purchases"``, ``"clv"``), the interval's level and the
        number of parameter draws.
    customers
        Indexed like the summary: ``point`` (the prediction at the estimates, as the model's
        own method gives it), ``mean`` (its mean over the draws), ``low`` and ``high`` (the
        draws' ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles).
    totals
        The same columns for ``"total"`` (the sum over customers, drawn jointly: each draw's
        total, then its quantiles, not a sum of the customers' bounds) and ``"mean"`` (the
        total over the number of customers). For ``p_alive`` the total is the expected
        number of customers alive.
    total_draws
        The total under each parameter draw, in draw order.
    draws, spend_draws
        The purchase model's parameter draws (one row per draw, as :func:`parameter_draws`
        gives them for the same seed) and, for CLV, the spend model's (else ``None``).
    """

    what: str
    level: float
    n_draws: int
    customers: pd.DataFrame
    totals: pd.DataFrame
    total_draws: np.ndarray
    draws: pd.DataFrame
    spend_draws: pd.DataFrame | None = None

    @property
    def total(self) -> pd.Series:
        """``totals.loc["total"]``: point, mean, low, high of the sum over customers."""
        return self.totals.loc["total"]


class LikelihoodRatio(NamedTuple):
    """What :func:`likelihood_ratio_test` found: ``statistic, df, p_value = ...``."""

    statistic: float
    df: int
    p_value: float


def parameter_draws(model: Fitter, n_draws: int = N_DRAWS, *, seed=0) -> pd.DataFrame:
    """``n_draws`` parameter vectors from the estimates' asymptotic distribution.

    ``log(theta) ~ Normal(log(params_), covariance_ / outer(params_, params_))`` (the inverse
    Hessian on the log scale the engine optimises), exponentiated: every draw is positive.
    A parameter held fixed in ``fit`` is the same in every draw. With ``penalizer > 0`` the
    covariance is that of the penalised objective (``se_basis_ == "penalised"``).

    ``seed`` is anything :func:`numpy.random.default_rng` takes; the same seed gives the same
    draws (and the draws :func:`predict_interval` makes for the purchase model with that
    seed). Returns a frame of ``n_draws`` rows, one column per parameter.
    """
    _check_count(n_draws)
    _, names, draws = _draw(model, n_draws, np.random.default_rng(seed))
    return pd.DataFrame(draws, columns=pd.Index(names, name="parameter"))


def predict_interval(model, summary: pd.DataFrame, *, what: str = "purchases",
                     t: float | None = None, spend_model=None, months: int = 12,
                     discount_rate: float = 0.01, unit: str = "W",
                     month_length: float | None = None, n_draws: int = N_DRAWS, seed=0,
                     level: float = 0.95) -> PredictionIntervals:
    """Per-customer and total intervals of a prediction, by sampling the parameters.

    The parameters are drawn ``n_draws`` times from their asymptotic normal distribution on
    the log scale (:func:`parameter_draws`), the prediction is recomputed for every customer
    under every draw (draws x customers arrays, in chunks of customers), and ``low`` / ``high``
    are the draws' quantiles at ``(1 -/+ level) / 2``.

    **These are intervals for the expected value given parameter uncertainty**, not
    prediction intervals for what a customer will actually do: a customer's realised holdout
    purchases scatter around their expectation by far more than this (Poisson noise while
    alive, the chance of dropping out), and that scatter does not shrink with more data,
    while these intervals do. On a large calibration set they are narrow; that means the
    model's parameters are well determined, not that its forecast is that accurate (model
    error is not in them either; check the holdout, :func:`retaillab.clv.holdout_metrics`).

    Parameters
    ----------
    model
        A fitted :class:`BetaGeo`, :class:`ModifiedBetaGeo` or :class:`ParetoNBD` (fitted
        here: a model rebuilt from saved ``params_`` has no covariance).
    summary
        ``frequency``, ``recency``, ``T`` per customer (and ``monetary_value`` for CLV).
    what
        ``"p_alive"`` (P(alive at T)), ``"purchases"`` (expected purchases in ``(T, T + t]``)
        or ``"clv"`` (:func:`retaillab.clv.customer_lifetime_value` with ``spend_model``,
        ``months``, ``discount_rate``, ``unit``, ``month_length``).
    t
        The horizon for ``"purchases"``, in the summary's time unit (e.g. the holdout's
        ``duration_holdout``).
    spend_model
        A fitted :class:`GammaGamma`, for ``"clv"``. Its parameters are drawn independently
        of the purchase model's: the two likelihoods share no parameter, and the Gamma-Gamma
        likelihood is conditional on the frequency, so the joint Hessian is block diagonal.
        Spend draws with ``q <= 1`` (no finite mean spend) are drawn again.
    n_draws, seed, level
        Number of parameter draws (>= 2), their seed (an int or ``None``; the same int gives
        the same result; a :class:`numpy.random.Generator` is used for both models in turn)
        and the interval's level.

    With a penalised fit (``penalizer > 0``, ``se_basis_ == "penalised"``) the draws come
    from the penalised objective's curvature: intervals around the penalised estimates.
    Memory stays bounded: customers are taken a few thousand at a time (about two million
    draw x customer values per chunk), each P(alive) computed once per distinct
    (frequency, recency, T) and each conditional expectation once per distinct
    (frequency, T). 23,570 CDNOW customers x 500 draws take well under a second for
    P(alive) or purchases and about a second for 12 months of CLV.

    Returns
    -------
    PredictionIntervals
        ``customers`` (point, mean, low, high per customer), ``totals`` (rows ``"total"``
        and ``"mean"``) and ``total_draws``.

    Example
    -------
    >>> out = predict_interval(bg, summary, what="purchases", t=39)    # doctest: +SKIP
    >>> out.total                                                      # doctest: +SKIP
    """
    from retaillab.clv.value import customer_lifetime_value
    from retaillab.clv.value import month_length as unit_month

    if what not in WHAT:
        raise ParameterError("what", "one of " + ", ".join(map(repr, WHAT)), what)
    _check_count(n_draws)
    if not (isinstance(level, (int, float)) and 0 < level < 1):
        raise ParameterError("level", "a number in (0, 1), e.g. 0.95", level)
    if not hasattr(type(model), "_given_alive"):
        raise ParameterError("model", "a fitted BetaGeo, ModifiedBetaGeo or ParetoNBD",
                             type(model).__name__)
    source = "predict_interval"
    x, tx, big_t = transaction_summary(summary, source)
    if isinstance(seed, np.random.Generator):
        rng_t = rng_s = seed
    else:
        rng_t = np.random.default_rng(seed)
        rng_s = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
    _, names, draws = _draw(model, n_draws, rng_t)
    spend_draws = money = None
    if what == "purchases":
        if t is None or not (isinstance(t, (int, float, np.integer, np.floating))
                             and math.isfinite(t) and t >= 0):
            raise ParameterError("t", "a number >= 0 (the horizon, in the summary's time unit) "
                                 "when what='purchases'", t)
        horizons = np.array([float(t)])
        weights = np.ones(1)
        point = model.conditional_expected_purchases(float(t), x, tx, big_t)
    elif what == "clv":
        if spend_model is None or not hasattr(type(spend_model), "_spend"):
            raise ParameterError("spend_model", "a fitted GammaGamma when what='clv'",
                                 type(spend_model).__name__)
        point = customer_lifetime_value(model, spend_model, summary, months=months,
                                        discount_rate=discount_rate, unit=unit,
                                        month_length=month_length).to_numpy()
        length = unit_month(unit) if month_length is None else float(month_length)
        steps = np.arange(1, int(months) + 1, dtype=float)
        horizons, weights = steps * length, (1 + discount_rate) ** -steps
        _, money = numeric_columns(summary, ("frequency", MONETARY), source)
        spend_draws = _spend_draws(spend_model, n_draws, rng_s)
    else:
        horizons = weights = None
        point = model.conditional_probability_alive(x, tx, big_t)

    n = len(x)
    out = np.empty((n, 3))
    totals = np.zeros(n_draws)
    order = np.lexsort((tx, big_t, x))  # neighbours share (x, T): few distinct rows per chunk
    size = max(1, _ELEMENTS // n_draws)
    theta = tuple(draws[:, j][:, None] for j in range(draws.shape[1]))
    spend_theta = None if spend_draws is None else tuple(
        spend_draws[:, j][:, None] for j in range(spend_draws.shape[1]))
    quantiles = [(1 - level) / 2, (1 + level) / 2]
    with np.errstate(all="ignore"):
        for lo in range(0, n, size):
            rows = order[lo:lo + size]
            values = _chunk(model, theta, x[rows], tx[rows], big_t[rows], horizons, weights)
            if spend_theta is not None:
                values = values * type(spend_model)._spend(spend_theta, x[rows], money[rows])
            if not np.all(np.isfinite(values)):
                bad = int(np.sum(~np.all(np.isfinite(values), axis=1)))
                raise FitError(f"predict_interval: {bad} of {n_draws} parameter draws give "
                               f"non-finite predictions for some customers; the estimates "
                               f"are poorly determined (see model.summary()): try a "
                               f"penalizer or more data")
            out[rows, 0] = values.mean(axis=0)
            out[rows, 1:] = np.quantile(values, quantiles, axis=0).T
            totals += values.sum(axis=1)
    customers = pd.DataFrame(np.column_stack([point, out]), index=summary.index,
                             columns=list(COLUMNS))
    low, high = np.quantile(totals, quantiles)
    total = [float(np.sum(point)), float(totals.mean()), float(low), float(high)]
    table = pd.DataFrame([total, [v / n for v in total]], index=["total", "mean"],
                         columns=list(COLUMNS))
    label = pd.Index(names, name="parameter")
    return PredictionIntervals(
        what=what, level=float(level), n_draws=int(n_draws), customers=customers,
        totals=table, total_draws=totals, draws=pd.DataFrame(draws, columns=label),
        spend_draws=None if spend_draws is None else pd.DataFrame(
            spend_draws, columns=pd.Index(list(spend_model.params_), name="parameter")))


def likelihood_ratio_test(restricted: Fitter, full: Fitter, df: int | None = None
                          ) -> LikelihoodRatio:
    """Likelihood-ratio test of ``restricted`` against the ``full`` model it is nested in.

    ``statistic = 2 (log_likelihood_(full) - log_likelihood_(restricted))``, referred to a
    chi-square with ``df`` degrees of freedom (``p_value`` is its upper tail). Both
    log-likelihoods are the *unpenalised* ones at each fit's estimates (``log_likelihood_``
    never includes the penalty), so a penalised fit can be the restricted one.

    ``df`` may be left out for two fits of the same model class:

    * ``restricted`` fitted with parameters held fixed (``fit(summary, fixed={...})``): the
      number of parameters it fixes beyond those ``full`` fixes (``full`` must fix a subset,
      at the same values);
    * ``restricted`` penalised, ``full`` not: the number of free parameters, treating the
      penalised estimates as a hypothesised point. A small p-value then says the penalty
      moves the estimates further than the data support. (The point is itself estimated, so
      this is a guide rather than an exact test.)

    For models of different classes give ``df``: retaillab does not know whether one nests
    in the other (BG/NBD, MBG/NBD and Pareto/NBD do not nest in each other).

    Raises
    ------
    DataError
        The two were fitted on different data (different numbers of customers, or different
        sufficient statistics: ``data_fingerprint_``).
    ParameterError
        Unfitted models, a penalised ``full``, fits that do not nest, or a ``df`` that
        cannot be inferred.
    FitError
        ``full`` fits clearly worse than ``restricted``: not nested, or an optimiser stopped
        short of the maximum.
    """
    from scipy.stats import chi2

    for role, model in (("restricted", restricted), ("full", full)):
        if not isinstance(model, Fitter) or "log_likelihood_" not in vars(model):
            raise ParameterError(role, "a CLV model fitted here (fit(summary))",
                                 type(model).__name__)
    if full.penalizer > 0:
        raise ParameterError("full", "an unpenalised fit (penalizer=0): the test compares "
                             "the likelihood's maximum with the restricted fit",
                             f"penalizer={full.penalizer}")
    _check_same_data(restricted, full)
    if df is None:
        df = _nested_df(restricted, full)
    elif not (isinstance(df, (int, np.integer)) and not isinstance(df, bool) and df >= 1):
        raise ParameterError("df", "a whole number >= 1", df)
    statistic = 2.0 * (full.log_likelihood_ - restricted.log_likelihood_)
    slack = 1e-6 * max(full.n_customers_, 1)
    if statistic < -slack:
        raise FitError(f"likelihood_ratio_test: the full {type(full).__name__} has a lower "
                       f"log-likelihood ({full.log_likelihood_:.4f}) than the restricted "
                       f"{type(restricted).__name__} ({restricted.log_likelihood_:.4f}): "
                       f"they are not nested, or the full fit stopped short of its maximum")
    statistic = max(statistic, 0.0)
    return LikelihoodRatio(float(statistic), int(df), float(chi2.sf(statistic, int(df))))


# -- helpers ------------------------------------------------------------------------------
def _check_count(n_draws) -> None:
    if not (isinstance(n_draws, (int, np.integer)) and not isinstance(n_draws, bool)
            and n_draws >= 2):
        raise ParameterError("n_draws", "a whole number >= 2 (e.g. 500)", n_draws)


def _draw(model, n_draws: int, rng: np.random.Generator, role: str = "model"):
    """(estimates, names, draws): ``n_draws`` x parameters, drawn on the log scale."""
    name = type(model).__name__
    if not isinstance(model, Fitter) or "covariance_" not in vars(model):
        raise ParameterError(role, "a CLV model fitted here (fit(summary)): one rebuilt "
                             "from its saved params_ has no covariance to sample from",
                             name)
    names = list(model.params_)
    theta = np.array([model.params_[n] for n in names])
    cov = model.covariance_.loc[names, names].to_numpy() / np.outer(theta, theta)
    free = np.diag(cov) > 0
    phi = np.tile(np.log(theta), (n_draws, 1))
    if free.any():
        block = cov[np.ix_(free, free)]
        try:
            root = np.linalg.cholesky((block + block.T) / 2)
        except np.linalg.LinAlgError as exc:
            raise FitError(f"{name}: the covariance of the estimates is not positive "
                           f"definite, so no parameter draws can be made") from exc
        phi[:, free] += rng.standard_normal((n_draws, int(free.sum()))) @ root.T
    return theta, names, np.exp(phi)


def _spend_draws(spend_model, n_draws: int, rng: np.random.Generator) -> np.ndarray:
    """Gamma-Gamma draws with ``q > 1`` (a finite mean spend), redrawn until enough."""
    q = list(spend_model.params_).index("q")
    kept, tries = [], 0
    while sum(len(k) for k in kept) < n_draws:
        tries += 1
        if tries > 20:
            raise FitError("predict_interval: most Gamma-Gamma parameter draws have q <= 1 "
                           "(no finite mean spend); the spend model is poorly determined")
        _, _, draws = _draw(spend_model, n_draws, rng, "spend_model")
        kept.append(draws[draws[:, q] > 1])
    return np.concatenate(kept)[:n_draws]


def _chunk(model, theta, x, tx, big_t, horizons, weights) -> np.ndarray:
    """draws x customers: P(alive), or the weighted sum over ``horizons`` of the expected
    purchases in each step (``weights`` discount them), each computed once per distinct
    (x, t_x, T) or (x, T)."""
    (xa, ta, ba), alive_of, _ = unique_rows(x, tx, big_t)
    p_alive = model._p_alive(theta, xa, ta, ba)[:, alive_of]
    if horizons is None:
        return p_alive
    (xg, bg), given_of, _ = unique_rows(x, big_t)
    total, before = 0.0, 0.0
    for horizon, weight in zip(horizons, weights, strict=True):
        now = model._given_alive(theta, horizon, xg, bg)
        total = total + weight * (now - before)
        before = now
    return total[:, given_of] * p_alive


def _check_same_data(restricted, full) -> None:
    n_r, n_f = restricted.n_customers_, full.n_customers_
    fix = "fit both models on the same summary (same customers, cut-off and time unit)"
    if n_r != n_f:
        raise DataError(f"the models were fitted on different data: {n_r} customers "
                        f"(restricted) vs {n_f} (full)", source="likelihood_ratio_test",
                        fix=fix)
    a, b = vars(restricted).get("data_fingerprint_"), vars(full).get("data_fingerprint_")
    if a is not None and b is not None and a != b:
        raise DataError(f"the models were fitted on different data: the same number of "
                        f"customers ({n_r}) but different frequency/recency/T (or spend) "
                        f"values (fingerprints {a} vs {b})", source="likelihood_ratio_test",
                        fix=fix)


def _nested_df(restricted, full) -> int:
    if type(restricted) is not type(full):
        raise ParameterError("df", f"given when comparing a {type(restricted).__name__} with "
                             f"a {type(full).__name__} (retaillab does not know whether one "
                             f"nests in the other)", None)
    fixed_r = vars(restricted).get("fixed_") or {}
    fixed_f = vars(full).get("fixed_") or {}
    for name, value in fixed_f.items():
        if name not in fixed_r or not math.isclose(fixed_r[name], value, rel_tol=1e-12):
            raise ParameterError("full", f"a fit whose fixed parameters are also fixed, at "
                                 f"the same values, in restricted (restricted fixes "
                                 f"{fixed_r or 'nothing'})", fixed_f)
    free_full = len(full.params_) - len(fixed_f)
    if restricted._se_basis() == SE_PENALISED:
        return free_full
    df = len(fixed_r) - len(fixed_f)
    if df < 1:
        raise ParameterError("df", "given: the two fits estimate the same parameters and "
                             "neither is penalised, so nothing is restricted", None)
    return df
