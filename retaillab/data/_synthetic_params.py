"""Private: the true parameters of the synthetic world, checked (see :mod:`.synthetic_world`).

Their own module, below both generators, so that the funnel and the order generators can
name them without importing the world that imports them.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, fields

import numpy as np
from numpy.polynomial.hermite_e import hermegauss
from scipy.special import expit

from retaillab.errors import ParameterError

_MIN_PURCHASE_RATE = 1e-3
_POSITIVE = ("r", "alpha", "a", "b", "p_gg", "q", "gamma", "affinity_concentration",
             "dwell_log_sd")
_NON_NEGATIVE = ("lines_extra_mean", "quantity_extra_mean", "popularity_exponent",
                 "rating_user_sd", "rating_item_sd", "rating_noise_sd")
_MAX_SEGMENTS = 12  # one favourite category at least per segment (see segment_focus)
_FINITE = ("dwell_log_mean", "dwell_beta0", "dwell_beta1", "rating_mu", "rating_kappa")


@dataclass(frozen=True)
class SyntheticParams:
    """The true parameters of the synthetic world; time is in weeks, money in dollars.

    Defaults are close to the CDNOW estimates of the BG/NBD and Gamma-Gamma literature, so a
    typical order is about ``p_gg * gamma / (q - 1)`` = $35.

    Parameters
    ----------
    r, alpha
        Purchase rate while alive: ``lambda ~ Gamma(shape r, rate alpha)`` per week.
    a, b
        Dropout after each repeat purchase: ``p ~ Beta(a, b)``.
    p_gg, q, gamma
        Order value ``z ~ Gamma(shape p_gg, rate nu)`` with ``nu ~ Gamma(shape q, rate gamma)``.
    signup_share
        Signups fall uniformly in this leading share of ``[start, end)``.
    lines_extra_mean, quantity_extra_mean
        An order has ``1 + Poisson(lines_extra_mean)`` lines, a line ``1 + Poisson(...)`` units.
    affinity_concentration
        Category affinity ``theta ~ Dirichlet(concentration)``; small means peaky tastes.
    popularity_exponent
        Within a category the ``k``-th most popular item has weight ``k ** -exponent``.
    dwell_log_mean, dwell_log_sd
        Candidate session dwell ``log(seconds) ~ Normal(mean, sd)``.
    dwell_beta0, dwell_beta1
        ``P(purchase | dwell) = sigmoid(beta0 + beta1 log dwell)``.
    browse_stop
        Probabilities that a session without purchase stops after view, click, add-to-cart.
    rating_share
        Share of purchased lines that get rated.
    rating_mu, rating_user_sd, rating_item_sd, rating_kappa, rating_noise_sd
        ``rating = clip(round(mu + b_user + b_item + kappa (theta_ic - 1/C) + noise), 1, 5)``
        with normal biases and noise of these standard deviations.
    segments
        Planted customer segments, opt-in: 0 (the default) plants none and the world is the
        one every earlier version drew. With ``S > 0`` each customer is put in one of ``S``
        equally likely segments (``truth.customers["segment"]``) drawn, with everything below,
        from a second generator seeded ``[seed, 1]``, so segment structure never shifts the
        main stream. At most 12 (each has its own favourite category).
    segment_separation
        Ratio between neighbouring segments' purchase-rate scales, and between their spend
        scales (segment ``s`` of ``S`` has rate scale ``separation ** (s - (S - 1) / 2)``;
        the spend ranks are a seeded permutation of the rate ranks, so rate and spend vary
        independently across segments).
    segment_shape
        Within a segment ``lambda ~ Gamma(shape, mean = r / alpha * rate scale)``: a larger
        shape makes segments tighter (the default world's ``r`` is far more dispersed).
        Spend rate: ``nu`` as without segments, divided by the segment's spend scale.
    segment_focus
        Share of a segment's category affinity on its favourite category (segment ``s``
        favours category ``s``): ``theta ~ Dirichlet(C * affinity_concentration * base_s)``
        with ``base_s`` putting ``focus`` on the favourite, the rest evenly on the others.
    """

    r: float = 0.24
    alpha: float = 4.41
    a: float = 0.79
    b: float = 2.43
    p_gg: float = 6.25
    q: float = 3.74
    gamma: float = 15.44
    signup_share: float = 0.6
    lines_extra_mean: float = 0.6
    quantity_extra_mean: float = 0.25
    affinity_concentration: float = 0.3
    popularity_exponent: float = 1.0
    dwell_log_mean: float = 3.7
    dwell_log_sd: float = 1.0
    dwell_beta0: float = -6.0
    dwell_beta1: float = 1.2
    browse_stop: tuple[float, float, float] = (0.6, 0.25, 0.15)
    rating_share: float = 0.3
    rating_mu: float = 3.2
    rating_user_sd: float = 0.5
    rating_item_sd: float = 0.4
    rating_kappa: float = 3.0
    rating_noise_sd: float = 0.8
    segments: int = 0
    segment_separation: float = 4.0
    segment_shape: float = 8.0
    segment_focus: float = 0.9

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            name = f"SyntheticParams.{f.name}"
            if f.name == "browse_stop":
                _check_probabilities(name, value)
                continue
            if f.name == "segments":
                if not isinstance(value, numbers.Integral) or isinstance(value, bool) \
                        or not 0 <= value <= _MAX_SEGMENTS:
                    raise ParameterError(name, f"a whole number in [0, {_MAX_SEGMENTS}]", value)
                continue
            if not _is_real(value) or not math.isfinite(value):
                raise ParameterError(name, "a finite number", value)
            if f.name in _POSITIVE and value <= 0:
                raise ParameterError(name, "> 0", value)
            if f.name in _NON_NEGATIVE and value < 0:
                raise ParameterError(name, ">= 0", value)
        if self.segment_separation <= 1:
            raise ParameterError("SyntheticParams.segment_separation", "> 1",
                                 self.segment_separation)
        if self.segment_shape <= 0:
            raise ParameterError("SyntheticParams.segment_shape", "> 0", self.segment_shape)
        if not 0 < self.segment_focus < 1:
            raise ParameterError("SyntheticParams.segment_focus", "in (0, 1)",
                                 self.segment_focus)
        for name in ("signup_share", "rating_share"):
            if not 0 < getattr(self, name) <= 1:
                raise ParameterError(f"SyntheticParams.{name}", "in (0, 1]", getattr(self, name))
        rate = purchase_rate(self)
        if rate < _MIN_PURCHASE_RATE:
            raise ParameterError(
                "SyntheticParams.dwell_beta0",
                f"a value giving sessions a purchase probability of at least {_MIN_PURCHASE_RATE}"
                f" (with dwell_beta1 and the dwell distribution it gives {rate:.2g})",
                self.dwell_beta0)


def purchase_rate(params: SyntheticParams) -> float:
    """Share of candidate sessions that end in a purchase: E[sigmoid(b0 + b1 log dwell)]."""
    nodes, weights = hermegauss(60)
    logit = params.dwell_beta0 + params.dwell_beta1 * (
        params.dwell_log_mean + params.dwell_log_sd * nodes)
    return float(weights @ expit(logit) / np.sqrt(2 * np.pi))


def _is_real(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _check_probabilities(name: str, value: object) -> None:
    ok = (isinstance(value, tuple) and len(value) == 3
          and all(_is_real(v) and 0 <= v <= 1 for v in value)
          and math.isclose(sum(value), 1.0, abs_tol=1e-9))
    if not ok:
        raise ParameterError(name, "a tuple of 3 probabilities (stop after view, click, "
                             "add_to_cart) summing to 1",
                             value)
