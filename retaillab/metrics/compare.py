"""Uncertainty of a metric, and whether two models differ: intervals and paired tests.

Both work on per-unit values (per user from ``ranking_per_user``/``rating_per_user``, or per
fold): the unit is the sample, so the interval says how much the mean would move with other
users, and the paired test compares two models on the same users.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from retaillab.errors import DataError, ParameterError
from retaillab.metrics._util import values_array


def confidence_interval(values: object, level: float = 0.95) -> tuple[float, float, float]:
    """Mean of ``values`` and its Student-t confidence interval: ``(mean, low, high)``.

    ``mean ± t_{(1+level)/2, n-1} * s / sqrt(n)`` with ``s`` the sample standard deviation
    (``ddof=1``) of the ``n`` values, e.g. per-user NDCG or per-fold RMSE.

    >>> confidence_interval(ranking_per_user(recs, test, 10)["ndcg_at_10"])  # doctest: +SKIP
    (0.251, 0.238, 0.264)
    """
    from scipy import stats

    if isinstance(level, bool) or not isinstance(level, (int, float, np.floating)) \
            or not 0 < level < 1:
        raise ParameterError("level", "a number strictly between 0 and 1 (e.g. 0.95)", level)
    x = values_array(values, "values", min_size=2)
    mean = float(x.mean())
    half = float(stats.t.ppf((1 + level) / 2, x.size - 1) * x.std(ddof=1) / np.sqrt(x.size))
    return mean, mean - half, mean + half


def _paired(a: object, b: object) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(a, pd.Series) and isinstance(b, pd.Series) and not a.index.equals(b.index):
        if not (a.index.is_unique and b.index.is_unique) or len(a) != len(b) \
                or len(a.index.difference(b.index)):
            only = a.index.symmetric_difference(b.index)
            raise DataError(f"a and b are indexed by different units ({len(only):,} labels in "
                            f"only one of them, e.g. {only[:3].tolist()!r})", source="paired_test",
                            fix="compare the same users: a.align(b, join='inner')")
        b = b.reindex(a.index)
    x, y = values_array(a, "a", min_size=2), values_array(b, "b", min_size=2)
    if x.size != y.size:
        raise DataError(f"a has {x.size:,} values but b has {y.size:,}; a paired test needs "
                        "one value per unit in each", source="paired_test")
    return x, y


def paired_test(a: object, b: object) -> dict[str, float]:
    """Paired t-test and Wilcoxon signed-rank test of ``a - b`` on aligned per-unit values.

    Two Series are matched by index label; anything else by position. Returns ``n``,
    ``mean_a``, ``mean_b``, ``mean_difference`` (``mean(a - b)``), ``t_statistic``,
    ``t_pvalue``, ``wilcoxon_statistic`` and ``wilcoxon_pvalue`` (two-sided; Wilcoxon drops
    zero differences). When every difference is 0 both p-values are 1; when every difference
    is the same non-zero value the t statistic is infinite and its p-value 0.
    """
    from scipy import stats

    x, y = _paired(a, b)
    d = x - y
    if np.all(d == d[0]):
        t_stat, t_p = (0.0, 1.0) if d[0] == 0 else (float(np.sign(d[0]) * np.inf), 0.0)
    else:
        t = stats.ttest_rel(x, y)
        t_stat, t_p = float(t.statistic), float(t.pvalue)
    if np.all(d == 0):
        w_stat, w_p = 0.0, 1.0
    else:
        w = stats.wilcoxon(x, y)
        w_stat, w_p = float(w.statistic), float(w.pvalue)
    return {"n": int(d.size), "mean_a": float(x.mean()), "mean_b": float(y.mean()),
            "mean_difference": float(d.mean()), "t_statistic": t_stat, "t_pvalue": t_p,
            "wilcoxon_statistic": w_stat, "wilcoxon_pvalue": w_p}
