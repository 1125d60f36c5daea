"""The readout of an A/B campaign test: what each treatment did, and whether it is established.

:func:`readout` takes a campaign table (one row per customer: arm, ``converted`` 0/1 and/or
``revenue``, optionally a pre-period value) and compares every treatment arm with the
control: conversion by the two-proportion z test, revenue per customer by Welch's t test,
each with a seeded bootstrap interval as a distribution-free check, and with ``pre`` the
CUPED-adjusted versions of both. It checks the sample ratio first (:mod:`.srm`) and refuses
to call any effect established when the arms are not the split planned.

The readout shows aggregates only: counts, rates and means per arm, never a customer id.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from retaillab.campaigns._checks import (
    campaign_table,
    check_level,
    check_resamples,
    check_seed,
    number,
)
from retaillab.campaigns.cuped import cuped as _cuped
from retaillab.campaigns.effects import (
    Difference,
    bootstrap_difference,
    mean_difference,
    proportion_difference,
)
from retaillab.campaigns.srm import THRESHOLD, SampleRatio, srm
from retaillab.errors import ParameterError

__all__ = ["COLUMNS", "CampaignReadout", "readout"]

#: the columns of :attr:`CampaignReadout.table`, in order
COLUMNS = ("metric", "arm", "test", "interval", "control_n", "treatment_n", "control_value",
           "treatment_value", "difference", "ci_low", "ci_high", "p_value", "p_holm",
           "relative_lift", "lift_low", "lift_high", "boot_low", "boot_high", "variance_ratio",
           "established")
_LABELS = {"conversion": "conversion", "revenue": "revenue per customer",
           "conversion_cuped": "conversion (CUPED)", "revenue_cuped": "revenue per customer "
           "(CUPED)"}


@dataclass(frozen=True, eq=False)
class CampaignReadout:
    """What a campaign test found.

    Attributes
    ----------
    table
        One row per metric and treatment arm (:data:`COLUMNS`): ``metric`` (``conversion``,
        ``revenue``, and with a pre-period ``conversion_cuped``, ``revenue_cuped``), ``arm``,
        ``test`` and ``interval`` (the methods), customers and the outcome's mean (a rate for
        conversion) in each arm, ``difference`` (treatment minus control) with ``ci_low`` /
        ``ci_high``, the two-sided ``p_value`` and ``p_holm`` (Holm-adjusted over the
        treatment arms of the metric), the ``relative_lift`` with its interval, the
        bootstrap interval ``boot_low`` / ``boot_high``, ``variance_ratio`` (CUPED rows: the
        squared standard error ``s_t²/n_t + s_c²/n_c`` of the adjusted difference over that of
        the raw one) and ``established``.
    arms
        One row per arm, control first: ``arm``, ``customers``, ``share`` and the mean of
        each outcome (and of the pre-period value).
    srm
        The sample-ratio check of the arms' counts against ``planned``.
    verdicts
        One plain sentence per row of ``table``.
    cuped
        With a pre-period value: one row per outcome, ``theta``, ``correlation`` and
        ``variance_ratio`` (pooled within arms; see :func:`~retaillab.campaigns.cuped`);
        else ``None``.
    control, level, dropped, n_resamples, seed
        The control arm, the interval level (``alpha = 1 - level`` decides), customers
        dropped for a missing value (``missing='drop'``), and the bootstrap's settings.
    """

    table: pd.DataFrame
    arms: pd.DataFrame
    srm: SampleRatio
    verdicts: tuple[str, ...]
    cuped: pd.DataFrame | None
    control: object
    level: float
    dropped: int
    n_resamples: int
    seed: int

    @property
    def verdict(self) -> str:
        """The verdicts, one per line."""
        return "\n".join(self.verdicts)

    def row(self, metric: str, arm: object = None) -> pd.Series:
        """The table's row of ``metric`` for ``arm`` (default: the only treatment arm)."""
        rows = self.table[self.table["metric"] == metric]
        if arm is not None:
            rows = rows[rows["arm"] == arm]
        if len(rows) != 1:
            have = sorted(set(self.table["metric"]))
            arms = list(dict.fromkeys(self.table["arm"]))
            raise ParameterError("metric and arm", f"one of the metrics {have} and, with "
                                 f"several treatment arms, one of {arms}", (metric, arm))
        return rows.iloc[0]

    def summary(self) -> str:
        """The readout in a few lines: arms, sample ratio, one verdict per metric and arm."""
        n = int(self.arms["customers"].sum())
        arms = ", ".join(f"{a} {c:,}" for a, c in zip(self.arms["arm"], self.arms["customers"],
                                                         strict=True))
        lines = [f"campaign readout: {len(self.arms)} arms, {n:,} customers ({arms}); control "
                 f"{self.control!r}; {self.level:.0%} intervals"]
        if self.dropped:
            lines.append(f"  {self.dropped:,} customers left out for a missing value")
        lines.append(f"  {self.srm}")
        if self.cuped is not None:
            for _, c in self.cuped.iterrows():
                lines.append(f"  CUPED on {c['outcome']}: theta {c['theta']:.4g}, "
                             f"correlation {c['correlation']:.3f}, variance x "
                             f"{c['variance_ratio']:.3f}")
        lines.extend(f"  {v}" for v in self.verdicts)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def readout(table: pd.DataFrame, *, arm: str = "arm", control: object = "control",
            conversion: str | None = "converted", revenue: str | None = "revenue",
            pre: str | None = None, customer: str | None = "customer",
            planned: Mapping[object, float] | None = None, level: float = 0.95,
            interval: str = "newcombe", n_resamples: int = 2000, seed: int = 0,
            missing: str = "error", srm_threshold: float = THRESHOLD) -> CampaignReadout:
    """Compare each treatment arm of a campaign test with the control.

    Per treatment arm ``t`` against the control ``c`` (differences are ``t - c``):

    - ``conversion``: the pooled two-proportion z test and Newcombe's interval
      (``interval="wald"``: Wald's), see
      :func:`~retaillab.campaigns.effects.proportion_difference`;
    - ``revenue``: Welch's t test and interval, see
      :func:`~retaillab.campaigns.effects.mean_difference`;
    - with ``pre``: both again on the CUPED-adjusted outcomes (``theta`` pooled within arms;
      :func:`~retaillab.campaigns.cuped.cuped`), by Welch's t;
    - every row: a percentile bootstrap interval (``n_resamples``; row ``i`` draws from
      ``numpy.random.SeedSequence((seed, i))``, so one seed gives one readout).

    With several treatment arms the p-values of each metric are Holm-adjusted over the arms
    (:func:`retaillab.metrics.holm`); intervals stay at ``level``. An effect is
    **established** when (1) the sample-ratio check is not flagged, (2) ``p_holm < 1 -
    level`` and (3) the interval excludes 0. A bootstrap interval that includes 0 under an
    established effect is reported in the verdict as a caveat.

    Parameters
    ----------
    table
        One row per customer.
    arm, control
        The arm column and the control arm's label. The other arms are ordered by their text.
    conversion, revenue, pre
        Outcome columns (``None`` to leave one out; at least one): ``conversion`` 0/1 or
        bool, ``revenue`` numbers, ``pre`` a numeric pre-period value for CUPED.
    customer
        The customer id column, checked to hold each customer once (``None``: no check).
    planned
        The planned split, arm -> share or weight (``None``: equal).
    level, interval, n_resamples, seed
        Interval level, the conversion interval's method, and the bootstrap's settings (its
        cost grows with customers times resamples: about 3 s per 100,000 customers and
        revenue row at 2,000; pass fewer on very large tables).
    missing
        ``"error"`` (default) refuses missing outcomes and says how many; ``"drop"`` leaves
        those customers out and counts them in ``dropped``.
    srm_threshold
        The sample-ratio check's p-value threshold (0.001).

    Example
    -------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> table = pd.DataFrame({"arm": np.repeat(["control", "B"], 5000),
    ...                       "converted": rng.random(10000) < np.repeat([0.10, 0.12], 5000),
    ...                       "revenue": rng.gamma(2.0, 20.0, 10000)})
    >>> print(readout(table, customer=None, n_resamples=200).verdicts[0])  # doctest: +SKIP
    conversion, B vs control: +1.5 points [0.2, 2.7] (two-proportion z test, p = 0.021): established
    """
    level = check_level(level)
    n_resamples, seed = check_resamples(n_resamples), check_seed(seed)
    threshold = number("srm_threshold", srm_threshold, 0.0, 1.0, open_low=True, open_high=True)
    checked = campaign_table(table, arm=arm, control=control, customer=customer,
                             conversion=conversion, revenue=revenue, pre=pre, missing=missing)
    groups, arms = checked.groups, checked.arms
    counts = {a: len(next(iter(groups[a].values()))) for a in arms}
    ratio = srm(counts, planned, threshold=threshold)
    outcomes = {"conversion": conversion, "revenue": revenue}
    adjusted, cuped_rows = {}, []
    if pre is not None:
        for metric, col in outcomes.items():
            if col is None:
                continue
            y = np.concatenate([groups[a][col] for a in arms])
            x = np.concatenate([groups[a][pre] for a in arms])
            labels = np.repeat(np.arange(len(arms)), [counts[a] for a in arms])
            found = _cuped(y, x, labels)
            bounds = np.cumsum([0] + [counts[a] for a in arms])
            adjusted[metric] = {a: found.adjusted[bounds[i]:bounds[i + 1]]
                                for i, a in enumerate(arms)}
            cuped_rows.append({"outcome": metric, "theta": found.theta,
                               "correlation": found.correlation,
                               "variance_ratio": found.variance_ratio})
    rows: list[dict] = []
    for metric, col in outcomes.items():
        if col is None:
            continue
        for variant in ("", "_cuped") if metric in adjusted else ("",):
            for treated in arms[1:]:
                if variant:
                    y_t, y_c = adjusted[metric][treated], adjusted[metric][control]
                    diff = mean_difference(y_t, y_c, level=level)
                    raw = _se2(groups[treated][col], groups[control][col])
                    var_ratio = _se2(y_t, y_c) / raw if raw > 0 else math.nan
                    test = f"Welch t test on CUPED-adjusted {metric}"
                else:
                    y_t, y_c = groups[treated][col], groups[control][col]
                    diff = _raw(metric, y_t, y_c, level, interval)
                    var_ratio, test = math.nan, diff.test
                boot = _boot(y_t, y_c, level, n_resamples, (seed, len(rows)))
                rows.append(_row(metric + variant, treated, test, diff, boot, var_ratio))
    frame = pd.DataFrame(rows)
    frame["p_holm"] = _holm_by_metric(frame)
    alpha = 1 - level
    frame["established"] = (~ratio.flagged) & (frame["p_holm"] < alpha) & (
        (frame["ci_low"] > 0) | (frame["ci_high"] < 0))
    frame = frame[list(COLUMNS)]
    verdicts = tuple(_verdict(r, ratio, alpha, len(arms) > 2) for _, r in frame.iterrows())
    return CampaignReadout(table=frame, arms=_arm_table(groups, arms, counts, outcomes, pre),
                           srm=ratio, verdicts=verdicts,
                           cuped=pd.DataFrame(cuped_rows) if cuped_rows else None,
                           control=control, level=level, dropped=checked.dropped,
                           n_resamples=n_resamples, seed=seed)


def _raw(metric: str, y_t: np.ndarray, y_c: np.ndarray, level: float,
         interval: str) -> Difference:
    if metric == "conversion":
        return proportion_difference(int(y_t.sum()), y_t.size, int(y_c.sum()), y_c.size,
                                     level=level, interval=interval)
    return mean_difference(y_t, y_c, level=level)


def _se2(y_t: np.ndarray, y_c: np.ndarray) -> float:
    """The squared standard error of a difference in means, ``s_t²/n_t + s_c²/n_c``."""
    return float(y_t.var(ddof=1) / y_t.size + y_c.var(ddof=1) / y_c.size)


def _boot(y_t: np.ndarray, y_c: np.ndarray, level: float, n_resamples: int,
          seed: tuple[int, int]) -> tuple[float, float]:
    """The bootstrap interval of one row, its stream seeded by ``SeedSequence((seed, row))``
    so rows draw independent resamples and one seed gives one readout."""
    row_seed = int(np.random.SeedSequence(list(seed)).generate_state(1)[0])
    return bootstrap_difference(y_t, y_c, level=level, n_resamples=n_resamples, seed=row_seed)


def _row(metric: str, arm: object, test: str, d: Difference, boot: tuple[float, float],
         variance_ratio: float) -> dict:
    return {"metric": metric, "arm": arm, "test": test, "interval": d.interval,
            "control_n": d.control_n, "treatment_n": d.treatment_n,
            "control_value": d.control_value, "treatment_value": d.treatment_value,
            "difference": d.difference, "ci_low": d.ci_low, "ci_high": d.ci_high,
            "p_value": d.p_value, "relative_lift": d.relative_lift, "lift_low": d.lift_low,
            "lift_high": d.lift_high, "boot_low": boot[0], "boot_high": boot[1],
            "variance_ratio": variance_ratio}


def _holm_by_metric(frame: pd.DataFrame) -> np.ndarray:
    from retaillab.metrics.compare import holm

    out = np.empty(len(frame))
    for _, idx in frame.groupby("metric", sort=False).indices.items():
        out[idx] = holm(frame["p_value"].to_numpy()[idx])
    return out


def _arm_table(groups: dict, arms: list, counts: dict, outcomes: dict,
               pre: str | None) -> pd.DataFrame:
    total = sum(counts.values())
    out: dict[str, list] = {"arm": list(arms), "customers": [counts[a] for a in arms],
                            "share": [counts[a] / total for a in arms]}
    for metric, col in outcomes.items():
        if col is not None:
            out[metric] = [float(groups[a][col].mean()) for a in arms]
    if pre is not None:
        out["pre"] = [float(groups[a][pre].mean()) for a in arms]
    frame = pd.DataFrame(out)
    frame["arm"] = frame["arm"].astype(object)
    return frame


def _decimals(width: float) -> int:
    """Decimals that show an interval of this width with two significant digits (1 to 4)."""
    if not math.isfinite(width) or width <= 0:
        return 2
    return int(min(4, max(1, 1 - math.floor(math.log10(width)))))


def _p(p: float) -> str:
    if p < 1e-4:
        return "p < 0.0001"
    return f"p = {p:.4f}" if p < 0.001 else f"p = {p:.3f}"


def _verdict(r: pd.Series, ratio: SampleRatio, alpha: float, several: bool) -> str:
    points = r["metric"].startswith("conversion")
    scale = 100.0 if points else 1.0
    d = _decimals((r["ci_high"] - r["ci_low"]) * scale)
    unit = " points" if points else ""
    effect = (f"{r['difference'] * scale:+.{d}f}{unit} [{r['ci_low'] * scale:.{d}f}, "
              f"{r['ci_high'] * scale:.{d}f}]")
    p = _p(r["p_value"]) + (f", Holm {_p(r['p_holm'])}" if several else "")
    head = f"{_LABELS[r['metric']]}, {r['arm']} vs control: {effect} ({r['test']}, {p})"
    if ratio.flagged:
        return (f"{head}: not established (sample ratio mismatch, p = {ratio.p_value:.2g} < "
                f"{ratio.threshold:g}: the arms are not the split planned, so the assignment "
                "is suspect)")
    if r["ci_low"] <= 0 <= r["ci_high"]:
        return f"{head}: not established (interval includes 0)"
    if r["p_holm"] >= alpha:
        return f"{head}: not established (Holm p = {r['p_holm']:.3f} >= {alpha:g})"
    if r["boot_low"] <= 0 <= r["boot_high"]:
        return (f"{head}: established, but the bootstrap interval "
                f"[{r['boot_low'] * scale:.{d}f}, {r['boot_high'] * scale:.{d}f}] includes 0")
    return f"{head}: established"
