"""Planning the next test: customers needed, the smallest effect it can see, its power.

Give all but one of sample size ``n``, minimum detectable effect ``mde`` and ``power``, and
:func:`sample_size`, :func:`mde` or :func:`power` solves for the one left. Tests are
two-sided at ``alpha``; ``n`` is the control arm's customers and the treatment arm has
``ratio * n`` (``ratio = 1``: equal arms).

Conventions (``method``):

- proportions (``baseline`` rate ``p_c``, treatment rate ``p_t = p_c + mde``):
  ``"pooled"`` (default) is the normal approximation to the test :mod:`~retaillab.campaigns`
  runs, the pooled two-proportion z test: its standard error under no effect uses the
  pooled rate ``pbar = (p_c + ratio p_t) / (1 + ratio)``, under the effect the two rates
  (Fleiss, Levin & Paik 2003, *Statistical Methods for Rates and Proportions*, eq. 4.14)::

      n = [z_{1-alpha/2} sqrt(pbar (1 - pbar) (1 + 1/ratio))
           + z_{1-beta} sqrt(p_c (1 - p_c) + p_t (1 - p_t) / ratio)]² / mde²

  (10% vs 12%, alpha 0.05, power 0.8: 3,841 per arm). ``"unpooled"`` uses the two rates in
  both places (3,839). ``"arcsine"`` uses Cohen's ``h = 2 asin sqrt(p_t) - 2 asin sqrt(p_c)``
  and ``n = (z_{1-alpha/2} + z_{1-beta})² (1 + 1/ratio) / h²`` (3,835), as
  ``statsmodels.stats.power.NormalIndPower`` with ``proportion_effectsize``;
- means (``sd``, the outcome's standard deviation in each arm): ``"t"`` (default) is the
  power of the two-sample t test with ``n (1 + ratio) - 2`` degrees of freedom and
  noncentrality ``(mde / sd) / sqrt(1/n + 1/(ratio n))``, as
  ``statsmodels.stats.power.TTestIndPower``; ``"normal"`` is the normal approximation
  ``n = (z_{1-alpha/2} + z_{1-beta})² sd² (1 + 1/ratio) / mde²``.

Power counts both tails of the two-sided test (the far tail adds ``Phi(-4.76) = 1e-6`` at
alpha 0.05 and power 0.8), so ``n`` and ``mde`` are solved numerically (Brent's method, to
1e-10 relative); the closed forms above drop the far tail and agree to within 0.01
customer. The MDE is an increase over the baseline; ``relative=True`` reads and reports
``mde`` as a share of ``baseline`` (``0.2``: 20% over it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from retaillab.campaigns._checks import number
from retaillab.errors import ParameterError, check_choice

__all__ = ["METHODS", "Plan", "mde", "power", "sample_size"]

METHODS = {"proportion": ("pooled", "unpooled", "arcsine"), "mean": ("t", "normal")}
_MAX_N = 1e12


@dataclass(frozen=True)
class Plan:
    """A test plan: the customers, the effect and the power that go together.

    Attributes
    ----------
    outcome, method, solved
        ``"proportion"`` or ``"mean"``, the convention (see the module docstring) and which
        of ``"n"``, ``"mde"``, ``"power"`` was solved for.
    baseline, sd
        The control's rate (or mean, for a relative MDE on means) and the standard deviation
        (means only; ``nan`` for proportions).
    mde, mde_relative
        The effect as an absolute difference, and as a share of ``baseline`` (``nan``
        without one).
    alpha, power, ratio
        Two-sided level, power, and treatment customers per control customer.
    n_control, n_treatment
        Customers per arm (fractional when solved for; :attr:`customers` rounds up).
    """

    outcome: str
    method: str
    solved: str
    baseline: float
    sd: float
    mde: float
    mde_relative: float
    alpha: float
    power: float
    ratio: float
    n_control: float
    n_treatment: float

    @property
    def customers(self) -> tuple[int, int]:
        """Whole customers per arm ``(control, treatment)``: each rounded up."""
        return math.ceil(self.n_control - 1e-9), math.ceil(self.n_treatment - 1e-9)

    def __str__(self) -> str:
        n_c, n_t = self.customers
        arms = f"{n_c:,} customers per arm" if n_c == n_t else \
            f"{n_c:,} control and {n_t:,} treatment customers"
        if self.outcome == "proportion":
            effect = (f"{self.baseline + self.mde:.2%} vs {self.baseline:.2%} "
                      f"({self.mde * 100:+.2f} points, {self.mde_relative:+.1%} relative)")
        else:
            rel = "" if math.isnan(self.mde_relative) else f", {self.mde_relative:+.1%} relative"
            effect = f"a difference in means of {self.mde:+.4g} (sd {self.sd:.4g}{rel})"
        return (f"{effect}, alpha {self.alpha:g} two-sided, power {self.power:.1%}: {arms} "
                f"({n_c + n_t:,} in all), {self.method} method")


def _power(outcome: str, method: str, baseline: float, sd: float, delta: float, n: float,
           alpha: float, ratio: float) -> float:
    """Two-sided power at control size ``n`` for an increase ``delta`` (both tails)."""
    from scipy import stats

    z = float(stats.norm.ppf(1 - alpha / 2))
    n_t = ratio * n
    if outcome == "proportion":
        p_c, p_t = baseline, baseline + delta
        if method == "arcsine":
            h = abs(2 * math.asin(math.sqrt(p_t)) - 2 * math.asin(math.sqrt(p_c)))
            shift = h / math.sqrt(1 / n + 1 / n_t)
            return float(stats.norm.sf(z - shift) + stats.norm.cdf(-z - shift))
        se1 = math.sqrt(p_c * (1 - p_c) / n + p_t * (1 - p_t) / n_t)
        if method == "pooled":
            pbar = (p_c + ratio * p_t) / (1 + ratio)
            se0 = math.sqrt(pbar * (1 - pbar) * (1 / n + 1 / n_t))
        else:
            se0 = se1
        return float(stats.norm.cdf((abs(delta) - z * se0) / se1)
                     + stats.norm.cdf((-abs(delta) - z * se0) / se1))
    shift = abs(delta) / sd / math.sqrt(1 / n + 1 / n_t)
    if method == "normal":
        return float(stats.norm.sf(z - shift) + stats.norm.cdf(-z - shift))
    df = n + n_t - 2
    crit = float(stats.t.isf(alpha / 2, df))
    near, far = float(stats.nct.sf(crit, df, shift)), float(stats.nct.cdf(-crit, df, shift))
    # scipy's noncentral t gives nan far out in a tail (e.g. cdf(-2.6, 1e4, 11)), where the
    # tail is below 1e-28: its normal approximation is as good as exact there
    if math.isnan(near):
        near = float(stats.norm.sf(crit - shift))
    if math.isnan(far):
        far = float(stats.norm.cdf(-crit - shift))
    return near + far


def _setup(baseline: object, sd: object, method: str | None, alpha: object, ratio: object,
           relative: bool) -> tuple[str, str, float, float, float, float]:
    if sd is None:
        if baseline is None:
            raise ParameterError("baseline or sd", "a baseline rate (proportions) or an sd "
                                 "(means)", None)
        outcome = "proportion"
        base = number("baseline", baseline, 0.0, 1.0, open_low=True, open_high=True)
        spread = math.nan
    else:
        outcome = "mean"
        spread = number("sd", sd, 0.0, open_low=True)
        base = math.nan if baseline is None else number("baseline", baseline)
        if relative and (baseline is None or base == 0):
            raise ParameterError("baseline", "the control's mean (non-zero) for a relative "
                                 "MDE on means", baseline)
    method = METHODS[outcome][0] if method is None else method
    check_choice("method", method, METHODS[outcome])
    a = number("alpha", alpha, 0.0, 1.0, open_low=True, open_high=True)
    r = number("ratio", ratio, 0.0, open_low=True)
    return outcome, method, base, spread, a, r


def _delta(outcome: str, base: float, value: object, relative: bool) -> float:
    scale = abs(base) if relative else 1.0
    delta = number("mde", value, 0.0, open_low=True) * scale
    if outcome == "proportion" and base + delta >= 1:
        raise ParameterError("mde", f"an increase that keeps the treatment rate below 1 "
                             f"(baseline {base:g})", value)
    return delta


def _plan(outcome: str, method: str, solved: str, base: float, spread: float, delta: float,
          alpha: float, achieved: float, ratio: float, n: float) -> Plan:
    rel = delta / abs(base) if math.isfinite(base) and base != 0 else math.nan
    return Plan(outcome, method, solved, base, spread, delta, rel, alpha, achieved, ratio, n,
                ratio * n)


def _n_floor(outcome: str, method: str, ratio: float) -> float:
    """The smallest control size the method is defined at (t: 1 degree of freedom)."""
    return max(1.0, 3.0 / (1 + ratio)) if (outcome, method) == ("mean", "t") else 1e-3


def _solve(f, low: float, high: float) -> float:
    from scipy import optimize

    return float(optimize.brentq(f, low, high, xtol=1e-12, rtol=1e-10, maxiter=500))


def sample_size(*, baseline: float | None = None, sd: float | None = None, mde: float,
                power: float = 0.8, alpha: float = 0.05, ratio: float = 1.0,
                relative: bool = False, method: str | None = None) -> Plan:
    """Customers needed to detect an increase of ``mde`` with the given ``power``.

    Proportions: pass ``baseline`` (the control's rate); means: ``sd`` (and ``baseline``, the
    control's mean, for a relative ``mde``). See the module docstring for the formulas.

    >>> sample_size(baseline=0.10, mde=0.20, relative=True).customers
    (3841, 3841)
    """
    outcome, method, base, spread, a, r = _setup(baseline, sd, method, alpha, ratio, relative)
    delta = _delta(outcome, base, mde, relative)
    target = number("power", power, a / 2, 1.0, open_low=True, open_high=True)

    def gap(n: float) -> float:
        return _power(outcome, method, base, spread, delta, n, a, r) - target

    low = _n_floor(outcome, method, r)
    if gap(low) >= 0:
        return _plan(outcome, method, "n", base, spread, delta, a, target, r, low)
    high = max(2 * low, 16.0)
    while gap(high) < 0:
        high *= 4
        if high > _MAX_N:
            raise ParameterError("mde", "an effect a test of fewer than 1e12 customers can "
                                 "detect", mde)
    return _plan(outcome, method, "n", base, spread, delta, a, target, r,
                 _solve(gap, low, high))


def mde(*, baseline: float | None = None, sd: float | None = None, n: float,
        power: float = 0.8, alpha: float = 0.05, ratio: float = 1.0, relative: bool = False,
        method: str | None = None) -> Plan:
    """The smallest increase a test with ``n`` control customers detects with ``power``.

    The plan's ``mde`` is absolute and ``mde_relative`` its share of ``baseline``
    (``relative`` only chooses how the line prints; the solution is the same).
    """
    outcome, method, base, spread, a, r = _setup(baseline, sd, method, alpha, ratio, relative)
    size = number("n", n, _n_floor(outcome, method, r))
    target = number("power", power, a / 2, 1.0, open_low=True, open_high=True)

    def gap(delta: float) -> float:
        return _power(outcome, method, base, spread, delta, size, a, r) - target

    if outcome == "proportion":
        high = 1 - base - 1e-12
        if gap(high) < 0:
            raise ParameterError("n", f"enough customers to detect some increase over "
                                 f"{base:g} with power {target:g}", n)
    else:
        high = spread
        while gap(high) < 0:
            high *= 4
    return _plan(outcome, method, "mde", base, spread, _solve(gap, 1e-15 * max(high, 1), high),
                 a, target, r, size)


def power(*, baseline: float | None = None, sd: float | None = None, mde: float, n: float,
          alpha: float = 0.05, ratio: float = 1.0, relative: bool = False,
          method: str | None = None) -> Plan:
    """The power of a test with ``n`` control customers to detect an increase of ``mde``."""
    outcome, method, base, spread, a, r = _setup(baseline, sd, method, alpha, ratio, relative)
    delta = _delta(outcome, base, mde, relative)
    size = number("n", n, _n_floor(outcome, method, r))
    achieved = _power(outcome, method, base, spread, delta, size, a, r)
    return _plan(outcome, method, "power", base, spread, delta, a, achieved, r, size)
