"""Sample-ratio mismatch: do the arms hold the customers the assignment planned?

When the arms' counts differ from the planned split by more than chance allows, something
between assignment and measurement lost or added customers unevenly (a redirect, a filter, a
bot rule); an effect measured on such arms is not to be trusted, whatever its p-value.

The check is Pearson's chi-square goodness of fit of the counts against the planned shares,
flagged below ``p < 0.001``. The threshold is strict on purpose: the check runs on every
test, so a lax one would cry wolf often (at 0.05, one healthy test in twenty), while a real
mismatch on campaign-sized arms gives far smaller p-values. Practice in online experiments
uses thresholds of this order (Kohavi, Tang & Xu 2020, *Trustworthy Online Controlled
Experiments*, ch. 21; Fabijan et al. 2019, "Diagnosing sample ratio mismatch in online
controlled experiments", KDD). With a planned 50/50 split and 5,000 customers in one arm,
the other is flagged from about 5,340 (p = 0.0008); 5,000 vs 5,300 gives p = 0.0031, which
is not flagged (it would be at ``threshold=0.01``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from retaillab.campaigns._checks import count, number, planned_shares
from retaillab.errors import ParameterError

__all__ = ["THRESHOLD", "SampleRatio", "srm"]

#: p-value below which the counts are flagged as a sample-ratio mismatch
THRESHOLD = 0.001


@dataclass(frozen=True)
class SampleRatio:
    """A sample-ratio check.

    Attributes
    ----------
    table
        One row per arm: ``arm``, ``customers``, ``share`` (observed), ``planned_share`` and
        ``expected`` (customers the planned split expects).
    chi2, dof, p_value
        Pearson's statistic ``sum (observed - expected)² / expected``, its degrees of
        freedom (arms - 1) and the p-value.
    threshold, flagged
        The threshold, and whether ``p_value < threshold``.
    """

    table: pd.DataFrame
    chi2: float
    dof: int
    p_value: float
    threshold: float
    flagged: bool

    def __str__(self) -> str:
        t = self.table
        counts = " / ".join(f"{c:,}" for c in t["customers"])
        shares = " / ".join(f"{s:.1%}" for s in t["share"])
        planned = " / ".join(f"{s:.1%}" for s in t["planned_share"])
        p = f"{self.p_value:.2g}"
        verdict = (f"p = {p} < {self.threshold:g}: sample ratio mismatch, the assignment is "
                   "suspect" if self.flagged else f"p = {p}: no mismatch")
        return (f"sample ratio: {counts} customers ({shares}; planned {planned}), chi-square "
                f"{self.chi2:.2f} ({self.dof} df), {verdict}")


def srm(counts: Mapping[object, int] | pd.Series, planned: Mapping[object, float] | None = None,
        *, threshold: float = THRESHOLD) -> SampleRatio:
    """Chi-square goodness of fit of the arms' customer counts against the planned split.

    ``chi2 = sum_a (n_a - N w_a)² / (N w_a)`` with ``N`` the customers of all arms and
    ``w_a`` the planned shares (``planned``: a mapping arm -> share or weight, normalised;
    ``None``: equal), compared with a chi-square of ``arms - 1`` degrees of freedom. Flagged
    when ``p < threshold`` (default 0.001; see the module docstring).

    >>> srm({"control": 5000, "treatment": 5400}).flagged     # chi2 = 15.4, p = 9e-05
    True
    """
    from scipy import stats

    if not hasattr(counts, "items") or len(counts) < 2:
        raise ParameterError("counts", "a mapping arm -> customers with at least 2 arms",
                             counts)
    arms = list(counts.keys())
    n = np.array([count(f"counts[{a!r}]", counts[a], 0) for a in arms], dtype=float)
    if n.sum() == 0:
        raise ParameterError("counts", "customer counts that are not all 0", counts)
    threshold = number("threshold", threshold, 0.0, 1.0, open_low=True, open_high=True)
    shares = planned_shares(planned, arms)
    expected = n.sum() * shares
    chi2 = float(((n - expected) ** 2 / expected).sum())
    dof = len(arms) - 1
    p_value = float(stats.chi2.sf(chi2, dof))
    table = pd.DataFrame({"arm": pd.Series(arms, dtype=object), "customers": n.astype("int64"),
                          "share": n / n.sum(), "planned_share": shares,
                          "expected": expected})
    return SampleRatio(table, chi2, dof, p_value, threshold, p_value < threshold)
