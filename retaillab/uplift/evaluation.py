"""How well a score ranks customers by uplift, measured on a randomised campaign.

Customers are sorted by score, highest first. For the top ``k`` let ``N_t(k)``, ``N_c(k)`` be
the treated and control customers among them and ``Y_t(k)``, ``Y_c(k)`` the sums of their
outcomes (conversions, or revenue). Then (Radcliffe 2007, "Using control groups to target on
predicted lift"; the definitions of scikit-uplift's ``uplift_curve`` and ``qini_curve``):

    uplift curve  U(k) = (Y_t(k) / N_t(k) - Y_c(k) / N_c(k)) * k
    Qini curve    Q(k) = Y_t(k) - Y_c(k) * N_t(k) / N_c(k)

``U(k)`` estimates the extra outcome of treating the top ``k`` (all ``k`` of them), ``Q(k)``
that of treating the treated among them (with half the customers treated, ``Q ~ U / 2``).
Both are 0 where an arm is missing from the top ``k``, and ``U(0) = Q(0) = 0``. Random
targeting draws the straight line from 0 to the curve's end, ``k U(n) / n``.

The areas are taken on the depth axis ``x = k / n`` with the curves per customer, ``U / n``:

    AUUC = integral_0^1 (U(x n) - x U(n)) / n dx      (the area between the curve and random)
    Qini coefficient = integral_0^1 (Q(x n) - x Q(n)) / n dx

in outcome units per customer (conversions, or money): the average, over targeting depths, of
what the model adds over random targeting. (scikit-uplift's ``uplift_auc_score`` and
``qini_auc_score`` divide these areas by the area of the best possible ranking of the observed
outcomes; the unnormalised area keeps the units and compares models on one campaign alike.)
``uplift_at(q)`` is the treated rate minus the control rate among the top ``ceil(q n)``.

Ties. Customers with equal scores cannot be ordered by the score, and their row order must not
decide the answer: the curves are computed at the ends of runs of tied scores only and joined
by straight lines (as scikit-uplift does), and at a depth that cuts a run, as in
:func:`uplift_at`, each tied customer counts with the share of the run that fits (for a sum,
its expectation over a random order of the run). A constant score so gives exactly the random
line.

Intervals resample customers with replacement (a seeded percentile bootstrap, ``n_resamples``
resamples, drawn as ``numpy.random.default_rng(seed).integers(0, n, size=(b, n),
dtype=np.int32)`` in batches of ``b`` resamples, at most 2 million customers at once); a
resample in which an arm is missing from a top ``k`` gives no ``uplift_at`` and is left out of
its interval. :func:`compare_scores` scores two models on the same resamples, so the interval
of their difference is paired. About 1 s per model for 1,000 resamples of 5,000 customers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from retaillab.errors import ParameterError
from retaillab.uplift import _checks

__all__ = ["DEPTHS", "auuc", "compare_scores", "evaluate", "qini", "qini_curve",
           "uplift_at", "uplift_curve"]

#: Depths of ``uplift_at`` reported by :func:`evaluate` (top 10% and 20%).
DEPTHS: tuple[float, ...] = (0.1, 0.2)
_BATCH_VALUES = 2_000_000  # resampled customers held in memory at once


def _inputs(y: object, treatment: object, score: object,
            source: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    w = _checks.treatment(treatment, source=source)
    outcome = _checks.values("y", y, w.size, source=source)
    s = _checks.values("score", score, w.size, source=source)
    return outcome, w, s


class _Ranking:
    """Customers in score order (stable, highest first) and where each run of ties ends."""

    def __init__(self, score: np.ndarray) -> None:
        self.order = np.argsort(-score, kind="stable")
        ranked = score[self.order]
        self.starts = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])

    def running(self, counts: np.ndarray, parts: Mapping[str, np.ndarray]
                ) -> dict[str, np.ndarray]:
        """Running sums in score order, at 0 and at the end of every run of ties: ``k`` (the
        customers, by ``counts``: one row per resample, customers in input order) and each
        of ``parts`` weighted by the counts; shape (resamples, runs + 1)."""
        c = counts[:, self.order]
        tied = self.starts.size < c.shape[1]
        out = {}
        for name, part in (("k", c), *((n, c * p[self.order]) for n, p in parts.items())):
            runs = np.add.reduceat(part, self.starts, axis=1) if tied else part
            total = np.zeros((runs.shape[0], runs.shape[1] + 1))
            np.cumsum(runs, axis=1, out=total[:, 1:])
            out[name] = total
        return out

    def cumulative(self, counts: np.ndarray, y: np.ndarray, w: np.ndarray
                   ) -> dict[str, np.ndarray]:
        """:meth:`running` ``k``, ``nt``, ``yt``, ``nc``, ``yc``: customers, treated, their
        outcomes, control, their outcomes."""
        out = self.running(counts, {"nt": w.astype("float64"), "y": y, "yt": w * y})
        out["nc"] = out["k"] - out["nt"]
        out["yc"] = out.pop("y") - out["yt"]
        return out


def upto(k: np.ndarray, sums: Mapping[str, np.ndarray], top: np.ndarray
         ) -> dict[str, np.ndarray]:
    """Each running sum over the top ``top[r]`` customers of resample ``r``, from the sums at
    the ends of the runs of ties (:meth:`_Ranking.running`); a run cut by ``top`` counts pro
    rata, the expectation over a random order of the run. ``0 <= top <= n``; ``top`` has one
    value per resample, or a row of them (shape (resamples, t)), and the sums its shape."""
    rows, width = k.shape
    top = np.asarray(top, dtype="float64")
    targets = top.reshape(rows, -1)
    offsets = np.arange(rows)[:, None] * (float(k[:, -1].max()) + 1)
    j = np.searchsorted((k + offsets).ravel(), (targets + offsets).ravel(), side="left")
    j = np.maximum(j.reshape(targets.shape) - np.arange(rows)[:, None] * width, 1)
    r = np.arange(rows)[:, None]
    before = k[r, j - 1]
    gap = k[r, j] - before
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(gap > 0, (targets - before) / gap, 0.0)
    return {name: (s[r, j - 1] + frac * (s[r, j] - s[r, j - 1])).reshape(top.shape)
            for name, s in sums.items()}


def _curves(cum: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    nt, nc, yt, yc, k = cum["nt"], cum["nc"], cum["yt"], cum["yc"], cum["k"]
    both = (nt > 0) & (nc > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        up = np.where(both, (yt / nt - yc / nc) * k, 0.0)
        qi = np.where(both, yt - yc * nt / nc, 0.0)
    return up, qi


def _area(curve: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Area between ``curve / n`` and the random line on ``x = k / n`` (module docstring)."""
    n = k[:, -1:]
    x, v = k / n, curve / n
    trapezoids = np.sum(np.diff(x, axis=1) * (v[:, 1:] + v[:, :-1]) / 2, axis=1)
    return trapezoids - v[:, -1] / 2


def _at(cum: dict[str, np.ndarray], q: float) -> np.ndarray:
    """Treated minus control rate among the top ``ceil(q n)``, a cut run shared pro rata."""
    k = cum["k"]
    top = np.maximum(1, np.ceil(q * k[:, -1] - 1e-9))
    got = upto(k, {name: cum[name] for name in ("nt", "nc", "yt", "yc")}, top)
    nt, nc = got["nt"], got["nc"]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((nt > 0) & (nc > 0), got["yt"] / nt - got["yc"] / nc, np.nan)


def _metrics(cum: dict[str, np.ndarray], depths: tuple[float, ...]) -> dict[str, np.ndarray]:
    up, qi = _curves(cum)
    out = {"auuc": _area(up, cum["k"]), "qini": _area(qi, cum["k"])}
    for q in depths:
        out[f"uplift_at_{round(q * 100):d}"] = _at(cum, q)
    return out


def _curve_frame(y: object, treatment: object, score: object, which: str) -> pd.DataFrame:
    outcome, w, s = _inputs(y, treatment, score, f"{which}_curve")
    cum = _Ranking(s).cumulative(np.ones((1, w.size)), outcome, w)
    up, qi = _curves(cum)
    values = (up if which == "uplift" else qi)[0]
    k = cum["k"][0]
    return pd.DataFrame({"targeted": k.astype("int64"), "share": k / w.size,
                         "treated": cum["nt"][0].astype("int64"),
                         "control": cum["nc"][0].astype("int64"),
                         which: values, "random": k / w.size * values[-1]})


def uplift_curve(y: object, treatment: object, score: object) -> pd.DataFrame:
    """The uplift curve ``U(k)`` (module docstring) at 0 and at the end of every run of tied
    scores: ``targeted`` (``k``), ``share`` (``k / n``), ``treated``, ``control`` (``N_t``,
    ``N_c``), ``uplift`` and ``random`` (the random-targeting line)."""
    return _curve_frame(y, treatment, score, "uplift")


def qini_curve(y: object, treatment: object, score: object) -> pd.DataFrame:
    """The Qini curve ``Q(k)`` (module docstring), laid out as :func:`uplift_curve` with a
    ``qini`` column."""
    return _curve_frame(y, treatment, score, "qini")


def _point(y: object, treatment: object, score: object, source: str,
           depths: tuple[float, ...]) -> dict[str, float]:
    outcome, w, s = _inputs(y, treatment, score, source)
    cum = _Ranking(s).cumulative(np.ones((1, w.size)), outcome, w)
    return {name: float(v[0]) for name, v in _metrics(cum, depths).items()}


def auuc(y: object, treatment: object, score: object) -> float:
    """Area between the uplift curve and random targeting, per customer (module docstring)."""
    return _point(y, treatment, score, "auuc", ())["auuc"]


def qini(y: object, treatment: object, score: object) -> float:
    """The Qini coefficient: area between the Qini curve and random, per customer (module
    docstring)."""
    return _point(y, treatment, score, "qini", ())["qini"]


def uplift_at(y: object, treatment: object, score: object, q: float = 0.1) -> float:
    """Treated rate minus control rate among the top ``ceil(q n)`` customers by score.

    Customers tied with the last place share the places left, each counted with weight
    ``places / run length``. ``nan`` when the top holds no treated or no control customer.
    """
    depth = _checks.depth(q)
    return _point(y, treatment, score, "uplift_at", (depth,))[f"uplift_at_{round(depth * 100):d}"]


def _resampled(y: np.ndarray, w: np.ndarray, rankings: list[_Ranking],
               depths: tuple[float, ...], n_resamples: int, seed: int
               ) -> list[dict[str, np.ndarray]]:
    """Every metric of every ranking on the same ``n_resamples`` resamples of customers."""
    n = w.size
    rng = np.random.default_rng(seed)
    batch = max(1, min(n_resamples, _BATCH_VALUES // n))
    index = np.int32 if n < 2**31 else np.int64
    found: list[dict[str, list[np.ndarray]]] = [{} for _ in rankings]
    for lo in range(0, n_resamples, batch):
        size = min(batch, n_resamples - lo)
        draws = rng.integers(0, n, size=(size, n), dtype=index)
        flat = (draws + (np.arange(size, dtype=np.int64) * n)[:, None]).ravel()
        counts = np.bincount(flat, minlength=size * n).reshape(size, n).astype("float64")
        for store, ranking in zip(found, rankings, strict=True):
            for name, v in _metrics(ranking.cumulative(counts, y, w), depths).items():
                store.setdefault(name, []).append(v)
    return [{name: np.concatenate(v) for name, v in store.items()} for store in found]


def _interval(draws: np.ndarray, level: float) -> tuple[float, float]:
    finite = draws[np.isfinite(draws)]
    if finite.size == 0:
        return math.nan, math.nan
    low, high = np.quantile(finite, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)


def _depths(depths: object) -> tuple[float, ...]:
    if isinstance(depths, int | float) or not hasattr(depths, "__iter__"):
        depths = (depths,)
    return tuple(_checks.depth(q, "depths") for q in depths)  # type: ignore[union-attr]


def evaluate(y: object, treatment: object, scores: Mapping[str, object], *,
             depths: object = DEPTHS, n_resamples: int = 1000, level: float = 0.95,
             seed: int = 0) -> pd.DataFrame:
    """AUUC, Qini coefficient and uplift at each depth of every score, with intervals.

    Parameters
    ----------
    y, treatment
        The campaign's outcome (0/1 or amounts) and arm (0/1) per customer.
    scores
        Model name -> its predicted uplift per customer (any scale; only the order counts).
    depths
        Shares of customers for ``uplift_at_Q`` (Q in percent).
    n_resamples, level, seed
        The percentile bootstrap over customers (module docstring); 0 resamples gives no
        interval (NaN bounds).

    Returns
    -------
    DataFrame
        One row per model and metric: ``model``, ``metric`` (``auuc``, ``qini``,
        ``uplift_at_10``, ...), ``value``, ``ci_low``, ``ci_high``.
    """
    if not isinstance(scores, Mapping) or not scores:
        raise ParameterError("scores", "a non-empty mapping of model name -> scores",
                                     type(scores).__name__)
    qs = _depths(depths)
    resamples, level, seed = _checks.resamples(n_resamples), _checks.level(level), \
        _checks.seed(seed)
    w = _checks.treatment(treatment, source="evaluate")
    outcome = _checks.values("y", y, w.size, source="evaluate")
    names = [str(m) for m in scores]
    arrays = [_checks.values(f"scores[{m!r}]", s, w.size, source="evaluate")
              for m, s in zip(names, scores.values(), strict=True)]
    rankings = [_Ranking(s) for s in arrays]
    ones = np.ones((1, w.size))
    points = [_metrics(r.cumulative(ones, outcome, w), qs) for r in rankings]
    draws = _resampled(outcome, w, rankings, qs, resamples, seed) if resamples else None
    rows = []
    for i, name in enumerate(names):
        for metric, value in points[i].items():
            low, high = _interval(draws[i][metric], level) if draws else (math.nan, math.nan)
            rows.append({"model": name, "metric": metric, "value": float(value[0]),
                         "ci_low": low, "ci_high": high})
    return pd.DataFrame(rows)


def compare_scores(y: object, treatment: object, a: object, b: object, *,
                   names: tuple[str, str] = ("a", "b"), depths: object = DEPTHS,
                   n_resamples: int = 1000, level: float = 0.95,
                   seed: int = 0) -> pd.DataFrame:
    """Model ``a`` minus model ``b`` on every metric of :func:`evaluate`, paired.

    Both are scored on the same resamples of customers, so the interval of the difference
    counts the customers' shared luck once.

    Returns
    -------
    DataFrame
        One row per metric: ``metric``, the two models' values (columns named by ``names``),
        ``difference`` (a - b), ``ci_low``, ``ci_high`` and ``share_a_better`` (the share of
        resamples in which ``a`` scores higher; NaN without resamples).
    """
    if (not isinstance(names, tuple) or len(names) != 2 or names[0] == names[1]
            or not all(isinstance(x, str) for x in names)):
        raise ParameterError("names", "two different model names", names)
    qs = _depths(depths)
    resamples, level, seed = _checks.resamples(n_resamples), _checks.level(level), \
        _checks.seed(seed)
    w = _checks.treatment(treatment, source="compare_scores")
    outcome = _checks.values("y", y, w.size, source="compare_scores")
    sa = _checks.values("a", a, w.size, source="compare_scores")
    sb = _checks.values("b", b, w.size, source="compare_scores")
    rankings = [_Ranking(sa), _Ranking(sb)]
    ones = np.ones((1, w.size))
    pa, pb = (_metrics(r.cumulative(ones, outcome, w), qs) for r in rankings)
    draws = _resampled(outcome, w, rankings, qs, resamples, seed) if resamples else None
    rows = []
    for metric in pa:
        value_a, value_b = float(pa[metric][0]), float(pb[metric][0])
        low = high = better = math.nan
        if draws:
            diff = draws[0][metric] - draws[1][metric]
            low, high = _interval(diff, level)
            finite = diff[np.isfinite(diff)]
            better = float(np.mean(finite > 0)) if finite.size else math.nan
        rows.append({"metric": metric, names[0]: value_a, names[1]: value_b,
                     "difference": value_a - value_b, "ci_low": low, "ci_high": high,
                     "share_a_better": better})
    return pd.DataFrame(rows)
