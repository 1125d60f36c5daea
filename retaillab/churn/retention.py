"""What a retention campaign earns when it contacts the customers a churn model ranks highest.

:func:`retention_value` gives the expected profit against targeting depth;
:func:`contact_list` names the customers worth contacting, by each one's expected net value.

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

__all__ = ["ContactList", "RetentionValue", "contact_list", "retention_value"]


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
            high: float = math.inf, source: str = "retention_value") -> np.ndarray:
    array = np.asarray(values, dtype="float64") if not isinstance(values, pd.Series) else \
        values.to_numpy(dtype="float64", na_value=np.nan)
    if array.ndim != 1 or array.size == 0 or (n is not None and array.size != n):
        shape = f"{n} values (one per customer)" if n is not None else "a non-empty 1-D array"
        raise DataError(f"{name} must have {shape}; got shape {array.shape}", source=source)
    bad = ~np.isfinite(array) | (array < low) | (array > high)
    if bad.any():
        where = int(np.flatnonzero(bad)[0])
        bounds = f" in [{low:g}, {high:g}]" if math.isfinite(low) and math.isfinite(high) else ""
        raise DataError(f"{int(bad.sum())} values of {name} are not finite numbers{bounds} "
                        f"(first at position {where}: {array[where]!r})",
                        source=source, column=name)
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


@dataclass(frozen=True)
class ContactList:
    """The customers a retention campaign should contact, best first, and what it expects.

    Attributes
    ----------
    table
        One row per customer to contact, best first: ``customer`` (the id as given),
        ``churn_probability``, ``value`` (value kept if they stay), ``expected_value`` (the
        expected net gain of contacting them), ``rank`` (1 .. n) and ``cumulative_value``
        (running sum of ``expected_value``).
    expected_value
        The campaign's expected net value: the sum of ``table.expected_value`` (0.0 when the
        list is empty).
    top_decile_share
        Share of ``expected_value`` earned by the top 10% of the listed customers
        (``ceil(n / 10)`` rows): how concentrated the campaign's value is. ``nan`` when the
        list is empty or its value is 0.
    candidates
        Customers scored.
    positive
        Customers whose expected value is above 0 (the list holds all of them unless a
        budget cut it).
    curve
        :func:`retention_value`'s profit curve over every candidate ranked by expected value:
        its ``profit`` at ``targeted == len(table)`` is ``expected_value``.
    """

    table: pd.DataFrame
    expected_value: float
    top_decile_share: float
    candidates: int
    positive: int
    curve: pd.DataFrame


def _ids(customers: object) -> pd.Series:
    """The customer ids as a Series with a fresh index, values and type as given.

    A Series, Index or array keeps its dtype; a list gets the dtype pandas infers for it,
    except that a mix of integers and decimals stays a mix (pandas would make 1 into 1.0).
    """
    if np.ndim(customers) != 1:
        raise DataError(f"customers must be a non-empty 1-D array of ids; got shape "
                        f"{np.shape(customers)}", source="contact_list", column="customers")
    if isinstance(customers, (pd.Series, pd.Index, np.ndarray, pd.api.extensions.ExtensionArray)):
        ids = pd.Series(customers, copy=True).reset_index(drop=True)
    else:
        values = list(customers)  # type: ignore[call-overload]
        mixed = pd.api.types.infer_dtype(values, skipna=True) == "mixed-integer-float"
        ids = pd.Series(values, dtype=object if mixed else None)
    if ids.empty:
        raise DataError("customers must be a non-empty 1-D array of ids; got shape (0,)",
                        source="contact_list", column="customers")
    missing = int(ids.isna().sum())
    if missing:
        raise DataError(f"{missing} customer ids are missing", source="contact_list",
                        column="customers", fix="give every customer an id")
    duplicated = int(ids.duplicated().sum())
    if duplicated:
        raise DataError(f"{duplicated} customer ids are duplicates of an earlier id; each "
                        f"customer must appear once", source="contact_list", column="customers",
                        fix="give one row per customer (e.g. aggregate per customer first)")
    return ids.rename(None)


def contact_list(customers: object, probability: object, value: object, *,
                 acceptance_rate: float, contact_cost: float, offer_cost: float,
                 non_churner_acceptance: float = 1.0,
                 budget: int | None = None) -> ContactList:
    """The customers worth contacting in a retention campaign, ranked by expected net value.

    Each customer ``i`` is scored by the expected gain of contacting them, the profit model
    of :func:`retention_value` for one customer::

        gain_i = c_i * gamma * (v_i - d) - (1 - c_i) * delta * d - f

    with ``c_i`` the churn probability, ``v_i`` the value kept if they stay (e.g. a CLV
    prediction), ``gamma = acceptance_rate``, ``delta = non_churner_acceptance``,
    ``d = offer_cost`` and ``f = contact_cost``. Ranking by this gain rather than by churn
    probability alone puts a likely churner worth little below a less likely one worth much.

    Only customers with ``gain_i > 0`` are listed: contacting anyone else loses money in
    expectation. ``budget=N`` keeps at most the ``N`` best of them.

    Ranking rule: by expected value, highest first; customers with equal expected value keep
    their order in the input (a stable sort), so the same input always gives the same list.

    Parameters
    ----------
    customers
        Customer ids, unique, of any hashable type; they come back exactly as given.
    probability
        Churn probability per customer, in [0, 1].
    value
        Value kept per customer if they stay (finite; may be negative).
    acceptance_rate, contact_cost, offer_cost, non_churner_acceptance
        The campaign's economics, as in :func:`retention_value`.
    budget
        Most customers to contact (a positive integer), or ``None`` for no limit.

    Returns
    -------
    ContactList
        The ranked list, its expected value and concentration, counts, and the profit curve.

    Example
    -------
    >>> found = contact_list(["a", "b"], [0.9, 0.2], [100.0, 100.0], acceptance_rate=0.5,
    ...                      contact_cost=1, offer_cost=10)
    >>> found.table["customer"].tolist(), found.expected_value  # 0.9*0.5*90 - 0.1*10 - 1
    (['a'], 38.5)
    """
    ids = _ids(customers)
    n = len(ids)
    c = _vector("probability", probability, n, 0.0, 1.0, source="contact_list")
    v = _vector("value", value, n, source="contact_list")
    f = _number("contact_cost", contact_cost)
    d = _number("offer_cost", offer_cost)
    gamma = _number("acceptance_rate", acceptance_rate, 0.0, 1.0)
    delta = _number("non_churner_acceptance", non_churner_acceptance, 0.0, 1.0)
    if budget is not None and (isinstance(budget, bool) or not isinstance(budget, (int, np.integer))
                               or budget < 1):
        raise ParameterError("budget", "a positive integer or None", budget)
    gain = c * gamma * (v - d) - (1 - c) * delta * d - f
    order = np.argsort(-gain, kind="stable")
    positive = int((gain > 0).sum())
    listed = order[:positive if budget is None else min(positive, int(budget))]
    kept = gain[listed]
    table = pd.DataFrame({
        "customer": ids.iloc[listed].reset_index(drop=True),
        "churn_probability": c[listed],
        "value": v[listed],
        "expected_value": kept,
        "rank": np.arange(1, listed.size + 1, dtype="int64"),
        "cumulative_value": np.cumsum(kept),
    })
    total = float(kept.sum())
    top = kept[:math.ceil(listed.size / 10)].sum()
    share = float(top / total) if listed.size and total != 0 else math.nan
    curve = retention_value(gain, c, contact_cost=f, offer_cost=d, acceptance_rate=gamma,
                            value_kept=v, non_churner_acceptance=delta).curve
    return ContactList(table=table, expected_value=total, top_decile_share=share,
                       candidates=n, positive=positive, curve=curve)
