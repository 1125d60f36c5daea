"""What a measured effect pays: a campaign's net margin and return, a recommender's payback.

Every figure comes with an interval, carried through from the effect's interval: each money
figure here is a monotone function of the effect, so the figure at the interval's ends is the
interval of the figure, at the same level (``P(lo <= effect <= hi) = P(f(lo) <= f(effect) <=
f(hi))`` for increasing ``f``; the ends swap for a decreasing one, such as payback months).
The other inputs (customers, margin rate, costs) are taken as known: their uncertainty is
not in the interval.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import pandas as pd

from retaillab.campaigns._checks import count, number
from retaillab.errors import ParameterError, check_choice

__all__ = ["METRICS", "Money", "campaign_value", "recommender_payback"]

METRICS = ("revenue", "conversion")


@dataclass(frozen=True)
class Money:
    """A money figure with its interval, its parts and the inputs it came from.

    Attributes
    ----------
    what
        What ``estimate`` is: ``"campaign net margin"`` or ``"recommender yearly net
        benefit"``.
    estimate, ci_low, ci_high
        The figure at the effect's estimate and at its interval's ends (sorted).
    level
        The effect interval's level, if given (``None``: not stated).
    parts
        One row per quantity (incremental revenue, margin, costs, net, ``roi``, and
        ``payback_months`` for a recommender), columns ``estimate``, ``ci_low``,
        ``ci_high``. ``roi`` is ``(incremental margin - cost) / cost``.
    inputs
        The arguments used, including the effect and its interval.
    """

    what: str
    estimate: float
    ci_low: float
    ci_high: float
    level: float | None
    parts: pd.DataFrame
    inputs: dict = field(repr=False)

    @property
    def roi(self) -> tuple[float, float, float]:
        """Return on spend ``(estimate, ci_low, ci_high)``; ``nan`` when nothing is spent."""
        return tuple(float(v) for v in self.parts.loc["roi"])  # type: ignore[return-value]

    def __str__(self) -> str:
        p = self.parts
        level = f"{self.level:.0%} " if self.level is not None else ""
        head = (f"{self.what}: {_money(self.estimate)} [{_money(self.ci_low)}, "
                f"{_money(self.ci_high)}] ({level}interval: the effect's mapped through the "
                "formula)")
        margin = p.loc["incremental_margin"]
        text = (f"{head}; incremental margin {_money(margin['estimate'])} "
                f"[{_money(margin['ci_low'])}, {_money(margin['ci_high'])}], cost "
                f"{_money(p.loc['cost', 'estimate'])}")
        roi = self.roi
        if not math.isnan(roi[0]):
            text += f"; ROI {roi[0]:.0%} [{roi[1]:.0%}, {roi[2]:.0%}]"
        if "payback_months" in p.index:
            months = p.loc["payback_months"]
            text += (f"; payback {_months(months['estimate'])} [{_months(months['ci_low'])}, "
                     f"{_months(months['ci_high'])}]")
        return text


def _money(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:,.2f}"


def _months(x: float) -> str:
    return "never" if math.isinf(x) else f"{x:.1f} months"


def _effect(effect: object, names: tuple[str, str, str], what: str
            ) -> tuple[float, float, float, pd.Series | None]:
    """``(estimate, low, high)`` from a number, a triple, or a readout table row."""
    row = effect if isinstance(effect, pd.Series) else None
    if row is not None:
        missing = [n for n in names if n not in row.index]
        if missing:
            raise ParameterError(what, f"a readout table row with {', '.join(names)}",
                                 f"a Series without {missing[0]!r}")
        values = [row[n] for n in names]
    elif isinstance(effect, (tuple, list)):
        if len(effect) != 3:
            raise ParameterError(what, "a number or (estimate, ci_low, ci_high)", effect)
        values = list(effect)
    else:
        values = [effect] * 3
    est, low, high = (number(f"{what} ({n})", v) for n, v in zip(names, values, strict=True))
    if not low <= est <= high:
        raise ParameterError(what, "(estimate, ci_low, ci_high) with ci_low <= estimate <= "
                             "ci_high", (est, low, high))
    return est, low, high, row


def _through(formulas: dict[str, Callable[[float], float]], est: float, low: float,
             high: float) -> pd.DataFrame:
    """Each formula at the estimate and at the interval's ends (sorted: monotone maps)."""
    rows = {}
    for name, f in formulas.items():
        a, b = f(low), f(high)
        lo, hi = (a, b) if not (a > b) else (b, a)  # nan stays as it is
        rows[name] = {"estimate": f(est), "ci_low": lo, "ci_high": hi}
    return pd.DataFrame.from_dict(rows, orient="index")


def _cost(name: str, value: object) -> float:
    return number(name, value, 0.0)


def campaign_value(effect: object, *, customers: int, margin: float, metric: str | None = None,
                   value_per_conversion: float | None = None, baseline_rate: float | None = None,
                   contact_cost: float = 0.0, offer_cost: float = 0.0,
                   redemption_rate: float | None = None, population: int | None = None,
                   level: float | None = None) -> Money:
    """A campaign's net margin and return on spend when it treats ``customers`` customers.

    With ``N = customers``, margin rate ``m``, contact cost ``f`` per treated customer and
    offer cost ``d`` per redeemed offer, for the effect ``D`` per customer:

    - ``metric="revenue"`` (``D`` = revenue per customer, treatment minus control)::

          incremental revenue R = N D,   incremental margin M = m N D
          cost C = N f + N q d           (q = redemption_rate, the treated who redeem)

    - ``metric="conversion"`` (``D`` = conversion difference as a share, 0.018 for 1.8
      points; ``v = value_per_conversion``, revenue of one conversion; ``p = baseline_rate``,
      the control's conversion)::

          incremental conversions N D,   R = N D v,   M = m N D v
          cost C = N f + N d min(1, max(0, p + D))     (offers go to converting treated)

      so the offer cost rises with the effect: a campaign that converts more pays more
      offers.

    Then ``net = M - C`` and ``ROI = (M - C) / C`` (``nan`` when ``C = 0``). Each is
    monotone in ``D``, so the interval of each is the formula at the effect's interval ends.

    Parameters
    ----------
    effect
        The effect per customer: a number, ``(estimate, ci_low, ci_high)``, or a row of
        :attr:`CampaignReadout.table` (then ``metric`` and ``baseline_rate`` come from the
        row unless given).
    customers
        Customers the campaign will treat (the rollout's size, or the test's treated arm).
    population
        The eligible population, if known: ``customers`` may not exceed it.
    margin
        Margin rate on revenue, in (0, 1] (1: count revenue).
    contact_cost, offer_cost
        Cost per treated customer, and per redeemed (``revenue``) or per converted
        (``conversion``) treated customer; both >= 0.
    level
        The effect interval's level, for the line ``str(money)`` prints.

    >>> m = campaign_value((2.0, 1.0, 3.0), metric="revenue", customers=1000, margin=0.5,
    ...                    contact_cost=0.25)
    >>> m.estimate, m.ci_low, m.ci_high     # 0.5 * 1000 * D - 1000 * 0.25 at D = 2, 1, 3
    (750.0, 250.0, 1250.0)
    """
    est, low, high, row = _effect(effect, ("difference", "ci_low", "ci_high"), "effect")
    if metric is None and row is not None:
        metric = str(row.get("metric", "")).removesuffix("_cuped")
    if metric is None:
        raise ParameterError("metric", "'revenue' or 'conversion' (what the effect measures)",
                             None)
    check_choice("metric", metric, METRICS)
    n = count("customers", customers, 1)
    if population is not None:
        pop = count("population", population, 1)
        if n > pop:
            raise ParameterError("customers", f"at most the population ({pop:,} customers); "
                                 "a campaign cannot treat more customers than there are", n)
    m = number("margin", margin, 0.0, 1.0, open_low=True)
    f, d = _cost("contact_cost", contact_cost), _cost("offer_cost", offer_cost)
    level = None if level is None else number("level", level, 0.0, 1.0, open_low=True,
                                              open_high=True)
    inputs = {"metric": metric, "effect": (est, low, high), "customers": n,
              "population": population, "margin": m, "contact_cost": f, "offer_cost": d}
    formulas: dict[str, Callable[[float], float]] = {}
    if metric == "revenue":
        if value_per_conversion is not None or baseline_rate is not None:
            raise ParameterError("value_per_conversion and baseline_rate", "left unset for "
                                 "metric='revenue' (they price a conversion effect)",
                                 (value_per_conversion, baseline_rate))
        q = 0.0 if redemption_rate is None and d == 0 else redemption_rate
        if q is None:
            raise ParameterError("redemption_rate", "the share of treated customers who "
                                 "redeem the offer (needed with an offer_cost)", None)
        q = number("redemption_rate", q, 0.0, 1.0)
        inputs["redemption_rate"] = q
        formulas["incremental_revenue"] = lambda e: n * e
        formulas["incremental_margin"] = lambda e: m * n * e
        formulas["contact_cost"] = lambda e: n * f
        formulas["offer_cost"] = lambda e: n * q * d
    else:
        if redemption_rate is not None:
            raise ParameterError("redemption_rate", "left unset for metric='conversion' "
                                 "(offers are counted per converted treated customer)",
                                 redemption_rate)
        if value_per_conversion is None:
            raise ParameterError("value_per_conversion", "the revenue of one conversion "
                                 "(needed to price a conversion effect)", None)
        v = number("value_per_conversion", value_per_conversion, 0.0)
        if baseline_rate is None and row is not None and "control_value" in row.index:
            baseline_rate = row["control_value"]
        if baseline_rate is None and d > 0:
            raise ParameterError("baseline_rate", "the control's conversion rate (needed to "
                                 "count the offers redeemed)", None)
        p = number("baseline_rate", 0.0 if baseline_rate is None else baseline_rate, 0.0, 1.0)
        inputs.update(value_per_conversion=v, baseline_rate=p)
        formulas["incremental_conversions"] = lambda e: n * e
        formulas["incremental_revenue"] = lambda e: n * e * v
        formulas["incremental_margin"] = lambda e: m * n * e * v
        formulas["contact_cost"] = lambda e: n * f
        formulas["offer_cost"] = lambda e: n * d * min(1.0, max(0.0, p + e))
    core = dict(formulas)

    def cost(e: float) -> float:
        return core["contact_cost"](e) + core["offer_cost"](e)

    def net(e: float) -> float:
        return core["incremental_margin"](e) - cost(e)

    formulas["cost"] = cost
    formulas["net"] = net
    formulas["roi"] = lambda e: net(e) / cost(e) if cost(e) > 0 else math.nan
    parts = _through(formulas, est, low, high)
    return Money("campaign net margin", *map(float, parts.loc["net"]), level, parts, inputs)


def recommender_payback(lift: object, *, yearly_revenue: float, margin: float,
                        yearly_cost: float | Mapping[str, float],
                        level: float | None = None) -> Money:
    """What a recommender pays in a year, and how many months of its lift pay its yearly cost.

    With ``L`` the relative revenue lift a test measured (0.03: +3% revenue per customer
    over the control), ``R`` the yearly revenue of the customers it serves (without it),
    ``m`` the margin rate and ``C`` the yearly cost (data, development, servers: a number or
    a mapping of such parts, summed)::

        yearly incremental margin G = R L m,   yearly net benefit = G - C
        ROI = (G - C) / C,   payback months = 12 C / G   (never, if G <= 0)

    Net benefit and ROI rise with ``L``, payback months fall: the intervals are the formulas
    at the lift's interval ends (payback's swapped).

    ``lift``: a number, ``(estimate, ci_low, ci_high)``, or a row of
    :attr:`CampaignReadout.table` (its ``relative_lift``, ``lift_low``, ``lift_high``).

    >>> m = recommender_payback((0.03, 0.01, 0.05), yearly_revenue=2e6, margin=0.3,
    ...                         yearly_cost={"servers": 6000, "development": 6000})
    >>> m.estimate, float(m.parts.loc["payback_months", "estimate"])  # G = 18,000
    (6000.0, 8.0)
    """
    est, low, high, _ = _effect(lift, ("relative_lift", "lift_low", "lift_high"), "lift")
    r = number("yearly_revenue", yearly_revenue, 0.0)
    m = number("margin", margin, 0.0, 1.0, open_low=True)
    if isinstance(yearly_cost, Mapping):
        if not yearly_cost:
            raise ParameterError("yearly_cost", "a cost or a mapping of named costs",
                                 yearly_cost)
        costs = {str(k): _cost(f"yearly_cost[{k!r}]", v) for k, v in yearly_cost.items()}
    else:
        costs = {"yearly_cost": _cost("yearly_cost", yearly_cost)}
    c = sum(costs.values())
    level = None if level is None else number("level", level, 0.0, 1.0, open_low=True,
                                              open_high=True)

    def gain(e: float) -> float:
        return r * e * m

    formulas: dict[str, Callable[[float], float]] = {
        "incremental_revenue": lambda e: r * e,
        "incremental_margin": gain,
        "cost": lambda e: c,
        "net": lambda e: gain(e) - c,
        "roi": lambda e: (gain(e) - c) / c if c > 0 else math.nan,
        "payback_months": lambda e: 12 * c / gain(e) if gain(e) > 0 else math.inf,
    }
    parts = _through(formulas, est, low, high)
    inputs = {"lift": (est, low, high), "yearly_revenue": r, "margin": m,
              "yearly_cost": costs}
    return Money("recommender yearly net benefit", *map(float, parts.loc["net"]), level, parts,
                 inputs)
