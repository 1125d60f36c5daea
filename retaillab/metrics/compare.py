"""Uncertainty of a metric, and whether models differ: intervals, paired tests, Holm.

All work on per-unit values (per user from ``ranking_per_user``/``rating_per_user``, or per
fold): the unit is the sample, so the interval says how much the mean would move with other
users, and the paired test compares two models on the same users.

Which to use:

- **folds of (repeated) k-fold**: :func:`corrected_interval` and :func:`corrected_paired_test`,
  the corrected resampled t of Nadeau & Bengio (2003), as Bouckaert & Frank (2004) use it for
  repeated k-fold. Folds share most of their training rows, so their values are correlated; the
  plain t (:func:`confidence_interval`, :func:`paired_test`) treats them as independent and is
  too narrow (on telco, 5 x 2 folds, logistic ROC AUC: +-0.0095 against +-0.0178 corrected);
- **users of one split**: :func:`bootstrap_interval` (BCa bootstrap over users) and
  :func:`paired_test` over users;
- **many models**: :func:`compare_with_best`, paired tests of the best model against each
  other one with Holm's step-down correction (:func:`holm`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from retaillab.errors import DataError, ParameterError
from retaillab.metrics._util import values_array

#: child-run tags that say which interval a comparison logged and over how many units, and the
#: mean training and test sizes of its folds (the report applies the same correction)
TAG_INTERVAL = "retaillab.interval"
TAG_N_TRAIN = "retaillab.n_train"
TAG_N_TEST = "retaillab.n_test"
FAMILIES = ("pairs", "best")


def _check_level(level: object) -> float:
    if isinstance(level, bool) or not isinstance(level, (int, float, np.floating)) \
            or not 0 < level < 1:
        raise ParameterError("level", "a number strictly between 0 and 1 (e.g. 0.95)", level)
    return float(level)


def _size(value: object, name: str) -> float:
    """A training or test size: a positive number, or per-fold sizes (their mean)."""
    try:
        x = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ParameterError(name, "a positive number of rows (or one per fold)",
                             value) from None
    if isinstance(value, bool) or x.size == 0 or not np.all(np.isfinite(x)) or np.any(x <= 0):
        raise ParameterError(name, "a positive number of rows (or one per fold)", value)
    return float(x.mean())


def correction(n_folds: int, n_train: object, n_test: object) -> float:
    """Nadeau and Bengio's variance factor ``1/J + n_test/n_train`` for ``J`` fold values
    (instead of the plain ``1/J``): ``Var(mean) ~= factor * s**2``."""
    return 1.0 / n_folds + _size(n_test, "n_test") / _size(n_train, "n_train")


def corrected_interval(values: object, n_train: object, n_test: object,
                       level: float = 0.95) -> tuple[float, float, float]:
    """Mean of ``J`` fold values and its corrected resampled t interval: ``(mean, low, high)``.

    ``mean +- t_{(1+level)/2, J-1} * sqrt((1/J + n_test/n_train) * s**2)`` with ``s**2`` the
    sample variance (``ddof=1``) of the fold values (Nadeau & Bengio 2003; Bouckaert & Frank
    2004). ``n_train`` and ``n_test`` are the rows each fold trained and tested on (numbers, or
    one per fold: their means are used). For 5-fold CV ``n_test/n_train = 1/4``.

    >>> corrected_interval(result.folds["roc_auc"], n_train=5634, n_test=1409)  # doctest: +SKIP
    """
    from scipy import stats

    level = _check_level(level)
    x = values_array(values, "values", min_size=2)
    factor = correction(x.size, n_train, n_test)
    mean = float(x.mean())
    half = float(stats.t.ppf((1 + level) / 2, x.size - 1) * np.sqrt(factor * x.var(ddof=1)))
    return mean, mean - half, mean + half


def bootstrap_interval(values: object, level: float = 0.95, *, n_resamples: int = 2000,
                       seed: int = 0) -> tuple[float, float, float]:
    """Mean of ``values`` (e.g. per-user NDCG) and its BCa bootstrap interval, resampling the
    units with replacement: ``scipy.stats.bootstrap(..., method="BCa", random_state=seed)``.

    Constant values give a point ``(v, v, v)``.
    """
    from scipy import stats

    level = _check_level(level)
    if not isinstance(n_resamples, (int, np.integer)) or isinstance(n_resamples, bool) \
            or n_resamples < 2:
        raise ParameterError("n_resamples", "an integer of at least 2", n_resamples)
    x = values_array(values, "values", min_size=2)
    if np.all(x == x[0]):
        return float(x[0]), float(x[0]), float(x[0])
    mean = float(x.mean())
    batch = max(1, min(int(n_resamples), 4_000_000 // x.size))  # bounds memory on many users
    found = stats.bootstrap((x,), np.mean, n_resamples=int(n_resamples), batch=batch,
                            vectorized=True, confidence_level=level, method="BCa",
                            random_state=seed)
    low, high = found.confidence_interval
    return mean, float(low), float(high)


def confidence_interval(values: object, level: float = 0.95) -> tuple[float, float, float]:
    """Mean of ``values`` and its Student-t confidence interval: ``(mean, low, high)``.

    ``mean ± t_{(1+level)/2, n-1} * s / sqrt(n)`` with ``s`` the sample standard deviation
    (``ddof=1``) of the ``n`` values. It assumes independent values: for folds of k-fold use
    :func:`corrected_interval`, for users :func:`bootstrap_interval` is free of the normal
    approximation.

    >>> confidence_interval(ranking_per_user(recs, test, 10)["ndcg_at_10"])  # doctest: +SKIP
    (0.251, 0.238, 0.264)
    """
    from scipy import stats

    level = _check_level(level)
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


def corrected_paired_test(a: object, b: object, n_train: object,
                          n_test: object) -> dict[str, float]:
    """Corrected resampled paired t-test of ``a - b`` over the same ``J`` folds.

    ``t = mean(d) / sqrt((1/J + n_test/n_train) * var(d))`` with ``J - 1`` degrees of freedom
    (Nadeau & Bengio 2003; Bouckaert & Frank 2004), two-sided. Returns ``n``, ``mean_a``,
    ``mean_b``, ``mean_difference``, ``t_statistic``, ``t_pvalue``. Alignment and the
    constant-difference cases are as in :func:`paired_test`.
    """
    x, y = _paired(a, b)
    return _t_test(x, y, correction(x.size, n_train, n_test))


def _t_test(x: np.ndarray, y: np.ndarray, factor: float) -> dict[str, float]:
    """Paired t of ``x - y`` with ``Var(mean) = factor * s**2`` (``1/n``: the plain paired t;
    Nadeau-Bengio's for folds) and ``n - 1`` degrees of freedom, two-sided."""
    from scipy import stats

    d = x - y
    if np.all(d == d[0]):
        t_stat, t_p = (0.0, 1.0) if d[0] == 0 else (float(np.sign(d[0]) * np.inf), 0.0)
    else:
        t_stat = float(d.mean() / np.sqrt(factor * d.var(ddof=1)))
        t_p = float(2 * stats.t.sf(abs(t_stat), d.size - 1))
    return {"n": int(d.size), "mean_a": float(x.mean()), "mean_b": float(y.mean()),
            "mean_difference": float(d.mean()), "t_statistic": t_stat, "t_pvalue": t_p}


def holm(pvalues: object) -> np.ndarray:
    """Holm's step-down adjusted p-values, in the order given.

    Sorted ascending, the ``i``-th smallest (from 0) of ``m`` becomes
    ``max_{j <= i} min(1, (m - j) * p_(j))``; reject where the adjusted value is below
    ``alpha``. Controls the family-wise error rate at ``alpha`` under any dependence.

    >>> holm([0.01, 0.04, 0.03])
    array([0.03, 0.06, 0.06])
    """
    p = values_array(pvalues, "pvalues")
    if np.any((p < 0) | (p > 1)):
        raise DataError("p-values must lie in [0, 1]", source="holm")
    order = np.argsort(p, kind="stable")
    m = p.size
    stepped = np.maximum.accumulate(np.minimum(1.0, (m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = stepped
    return out


@dataclass
class BestComparison:
    """What :func:`compare_with_best` found.

    ``table``: one row per other model (index ``model``), best mean first: ``n`` (paired
    units), ``mean_best``, ``mean_other``, ``mean_difference`` (best minus other),
    ``t_statistic``, ``p_value`` (unadjusted), ``p_holm`` (Holm-adjusted) and ``better``
    (``p_holm < alpha`` with the difference in the good direction).
    """

    best: str
    table: pd.DataFrame
    test: str
    family: str
    n_tests: int
    alpha: float

    @property
    def better_than(self) -> list[str]:
        return list(self.table.index[self.table["better"]])

    @property
    def not_better_than(self) -> list[str]:
        return list(self.table.index[~self.table["better"]])

    @property
    def significant(self) -> bool:
        """Whether the best is significantly better than every other model."""
        return bool(len(self.table)) and bool(self.table["better"].all())


def compare_with_best(values: Mapping[str, object], *, best: str | None = None,
                      lower_is_better: bool = False, n_train: object = None,
                      n_test: object = None, alpha: float = 0.05,
                      family: str = "pairs") -> BestComparison:
    """Paired tests of the best model against each other one, Holm-corrected.

    Parameters
    ----------
    values
        Model -> its per-unit values: Series matched by index label (users, or folds keyed
        e.g. by ``(repeat, fold)``); each pair is tested on the units both have. Per-user
        values of several folds should be averaged over folds first (one value per user).
    best
        The model to test against the others; default: the best mean.
    n_train, n_test
        Given: the units are folds, tested by :func:`corrected_paired_test`; otherwise the
        units are independent (users) and tested by a paired t-test (:func:`paired_test`).
    family
        Which tests Holm's correction counts. ``"pairs"`` (default): every pair of models,
        ``m(m-1)/2`` tests, of which the best's are reported; this keeps the family-wise error
        at ``alpha`` although the best is chosen from the same data. ``"best"``: only the
        ``m-1`` tests of the best, more powerful but optimistic: with five models of equal
        quality, about 9% of comparisons call the best significantly better instead of 5%.
    """
    if family not in FAMILIES:
        raise ParameterError("family", "one of " + ", ".join(FAMILIES), family)
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha < 1:
        raise ParameterError("alpha", "a number strictly between 0 and 1", alpha)
    series = {str(m): (v if isinstance(v, pd.Series) else pd.Series(v)).astype(float)
              for m, v in values.items()}
    if len(series) < 2:
        raise ParameterError("values", "per-unit values of at least two models", len(series))
    repeated = [m for m, v in series.items() if not v.index.is_unique]
    if repeated:
        raise DataError(f"{repeated[0]}'s values repeat unit labels (one value per unit is "
                        "needed)", source="compare_with_best",
                        fix="average per-user values over folds first: "
                            "values.groupby(level=0).mean()")
    means = pd.Series({m: v.mean() for m, v in series.items()})
    order = list(means.sort_values(ascending=lower_is_better, kind="stable").index)
    best = order[0] if best is None else str(best)
    if best not in series:
        raise ParameterError("best", "one of " + ", ".join(series), best)
    folds = n_train is not None or n_test is not None
    if folds and (n_train is None or n_test is None):
        raise ParameterError("n_test" if n_test is None else "n_train",
                             "given with the other (the folds' training and test sizes)", None)

    def one(a: str, b: str) -> dict[str, float]:
        x, y = series[a], series[b]
        shared = x.index.intersection(y.index)
        x, y = _paired(x.loc[shared].to_numpy(), y.loc[shared].to_numpy())
        return _t_test(x, y, correction(x.size, n_train, n_test) if folds else 1 / x.size)

    others = [m for m in order if m != best]
    pairs = [(best, o) for o in others]
    if family == "pairs":
        pairs += [(a, b) for i, a in enumerate(others) for b in others[i + 1:]]
    found = [one(a, b) for a, b in pairs]
    adjusted = holm([f["t_pvalue"] for f in found])
    sign = -1.0 if lower_is_better else 1.0
    rows = []
    for (_, other), f, p_holm in zip(pairs, found, adjusted, strict=False):
        if len(rows) == len(others):
            break
        rows.append({"model": other, "n": f["n"], "mean_best": f["mean_a"],
                     "mean_other": f["mean_b"], "mean_difference": f["mean_difference"],
                     "t_statistic": f["t_statistic"], "p_value": f["t_pvalue"],
                     "p_holm": float(p_holm),
                     "better": bool(p_holm < alpha and sign * f["mean_difference"] > 0)})
    table = pd.DataFrame(rows).set_index("model")
    return BestComparison(best, table, "corrected resampled t over folds (Nadeau-Bengio)"
                          if folds else "paired t over users", family, len(pairs), float(alpha))
