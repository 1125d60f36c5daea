"""What a retention campaign earns when it contacts the customers a churn model ranks highest.

The profit model follows the "maximum profit" measure of Verbeke, Dejaeger, Martens, Hur &
Baesens (2012), *New insights into churn prediction in the telecommunication sector: a profit
driven data mining approach*, EJOR 218(1), eq. 4-6, with a per-customer value allowed in place
of one CLV.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from retaillab.churn.metrics import ranked_cumsum
from retaillab.errors import DataError, ParameterError

__all__ = ["RetentionValue", "retention_value"]


@dataclass(frozen=True)
class RetentionValue:
    """Expected campaign profit against targeting depth.

    Attributes
    ----------
    curve
        One row per number of contacted customers ``k = 0 .. n``: ``depth`` (``k / n``),
        ``targeted`` (``k``), ``churners`` (expected churners among them), ``retained``
        (expected churners kept) and ``profit``.
    best_depth, best_targeted, best_profit
        The depth (share), count and profit where profit peaks (the smallest such depth).
    everyone, no_one
        Profit of contacting every customer, and of contacting none (always 0: profit is
        counted against running no campaign).
    """

    curve: pd.DataFrame
    best_depth: float
    best_targeted: int
    best_profit: float
    everyone: float
    no_one: float


def _number(name: str, value: object, low: float = 0.0, high: float = math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not math.isfinite(value) or not low <= value <= high:
        bounds = f"between {low:g} and {high:g}" if math.isfinite(high) else f">= {low:g}"
        raise ParameterError(name, f"a finite number {bounds}", value)
    return float(value)


def _vector(name: str, values: object, n: int | None, low: float = -math.inf,
            high: float = math.inf) -> np.ndarray:
    array = np.asarray(values, dtype="float64") if not isinstance(values, pd.Series) else \
        values.to_numpy(dtype="float64", na_value=np.nan)
    if array.ndim != 1 or array.size == 0 or (n is not None and array.size != n):
        shape = f"{n} values (one per customer)" if n is not None else "a non-empty 1-D array"
        raise DataError(f"{name} must have {shape}; got shape {array.shape}",
                        source="retention_value")
    bad = ~np.isfinite(array) | (array < low) | (array > high)
    if bad.any():
        where = int(np.flatnonzero(bad)[0])
        bounds = f" in [{low:g}, {high:g}]" if math.isfinite(low) and math.isfinite(high) else ""
        raise DataError(f"{int(bad.sum())} values of {name} are not finite numbers{bounds} "
                        f"(first at position {where}: {array[where]!r})",
                        source="retention_value", column=name)
    return array


def retention_value(scores: object, outcome: object = None, *, contact_cost: float,
                    offer_cost: float, acceptance_rate: float, value_kept: object,
                    non_churner_acceptance: float = 1.0) -> RetentionValue:
    """Expected profit of contacting the top ``k`` customers by churn score, for every ``k``.

    Profit model. Customers are ranked by ``scores`` (highest first) and the top ``k`` are
    contacted; each contact costs ``f = contact_cost`` and carries an offer worth
    ``d = offer_cost`` to whoever accepts it. For a contacted customer ``i`` with churn
    indicator ``c_i`` (1 churner, 0 not; or a churn probability):

    * a would-be churner accepts with probability ``gamma = acceptance_rate``, then stays:
      the campaign gains ``v_i - d`` (``v_i = value_kept``, flat or per customer, e.g. CLV);
      if they decline they leave as they would have: nothing gained;
    * a customer who would have stayed anyway accepts with probability
      ``delta = non_churner_acceptance`` (default 1: a free offer is taken by everyone it is
      sent to, the assumption of Verbeke et al. 2012), costing ``d``: the offer is wasted.

    So the expected profit of contacting set ``S`` is::

        profit(S) = sum_{i in S} [ c_i * gamma * (v_i - d) - (1 - c_i) * delta * d - f ]

    counted against running no campaign (``profit({}) = 0``). Customers with tied scores
    are contacted in random order: the curve holds the expectation over that order.

    Parameters
    ----------
    scores
        Churn scores (any scale); only their order matters.
    outcome
        What happened: true labels (bool or 0/1), or churn probabilities in [0, 1] for an
        expected profit before the truth is known. ``None`` uses ``scores`` as probabilities.
    contact_cost, offer_cost
        Cost per contacted customer, and cost of the offer to a customer who accepts it.
    acceptance_rate
        Share of would-be churners who accept the offer and stay.
    value_kept
        Value of keeping one churner: a number, or one value per customer.
    non_churner_acceptance
        Share of non-churners who take the offer when contacted.

    Returns
    -------
    RetentionValue
        The profit curve, the best depth, and the profits of targeting everyone and no one.

    Example
    -------
    >>> found = retention_value([0.9, 0.2], [True, False], contact_cost=1, offer_cost=10,
    ...                         acceptance_rate=0.5, value_kept=100)
    >>> found.best_targeted, found.best_profit     # 0.5 * (100 - 10) - 1
    (1, 44.0)
    """
    s = _vector("scores", scores, None)
    n = s.size
    c = _vector("outcome", s if outcome is None else np.asarray(outcome, dtype="float64"), n,
                0.0, 1.0)
    f = _number("contact_cost", contact_cost)
    d = _number("offer_cost", offer_cost)
    gamma = _number("acceptance_rate", acceptance_rate, 0.0, 1.0)
    delta = _number("non_churner_acceptance", non_churner_acceptance, 0.0, 1.0)
    if np.ndim(value_kept) == 0:
        v = np.full(n, _number("value_kept", value_kept, -math.inf))
    else:
        v = _vector("value_kept", value_kept, n)
    gain = c * gamma * (v - d) - (1 - c) * delta * d - f
    # ties: each member of a tied block counts as the block's mean (expected under a random
    # order of the block), so each prefix sum is the expectation the docstring promises
    profit = ranked_cumsum(s, gain)
    churners = ranked_cumsum(s, c)
    curve = pd.DataFrame({"depth": np.arange(n + 1) / n, "targeted": np.arange(n + 1),
                          "churners": churners, "retained": gamma * churners,
                          "profit": profit})
    best = int(np.argmax(profit))
    return RetentionValue(curve=curve, best_depth=best / n, best_targeted=best,
                          best_profit=float(profit[best]), everyone=float(profit[-1]),
                          no_one=0.0)
