"""CUPED: a smaller variance for the same effect, from what customers did before the test.

Deng, Xu, Kohavi & Walker (2013), *Improving the sensitivity of online controlled experiments
by utilizing pre-experiment data*, WSDM. With ``X`` a pre-period value (last quarter's
revenue) that the assignment cannot have touched, the adjusted outcome

    Y_cuped = Y - theta (X - mean X),   theta = cov(Y, X) / var(X)

has the same difference in means between arms in expectation (``X`` has the same mean in
every arm) and the variance ``var(Y) (1 - rho²)``, ``rho`` the correlation of ``Y`` and ``X``:
a test that needs ``1 - rho²`` times the customers for the same interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from retaillab.errors import DataError

__all__ = ["Cuped", "cuped"]


@dataclass(frozen=True, eq=False)
class Cuped:
    """A CUPED adjustment.

    Attributes
    ----------
    adjusted
        ``Y_cuped``, one value per customer in the order given.
    theta
        The slope ``cov(Y, X) / var(X)``, pooled within arms.
    correlation
        The pooled within-arm correlation of ``Y`` and ``X``.
    variance_ratio
        ``var(Y_cuped) / var(Y)``, pooled within arms; equals ``1 - correlation²``.
    x_mean
        The mean of ``X`` over all customers, the centre of the adjustment.
    """

    adjusted: np.ndarray
    theta: float
    correlation: float
    variance_ratio: float
    x_mean: float


def _array(values: object, name: str) -> np.ndarray:
    x = np.asarray(values, dtype="float64")
    if x.ndim != 1 or x.size < 2 or not np.all(np.isfinite(x)):
        raise DataError(f"{name} must be at least 2 finite numbers, one per customer",
                        source="cuped", column=name, fix="drop or fill missing values first")
    return x


def cuped(y: object, x: object, arm: object = None) -> Cuped:
    """Adjust outcomes ``y`` by the pre-period covariate ``x`` (Deng et al. 2013).

    ``theta`` is pooled over the arms (``arm``: one label per customer; ``None``: one
    group), from the within-arm sums of squares and products::

        theta = sum_a sum_i (y_i - ybar_a)(x_i - xbar_a) / sum_a sum_i (x_i - xbar_a)²

    so the treatment's shift of ``y`` in one arm does not leak into the slope. Then
    ``y_cuped = y - theta (x - mean(x))`` with ``mean(x)`` over all customers, which keeps
    ``y_cuped`` on the scale of ``y``. The pooled within-arm variance of ``y_cuped`` is
    ``1 - r²`` times that of ``y``, ``r`` the pooled within-arm correlation.

    >>> found = cuped([1.0, 2.0, 3.0, 5.0], [1.0, 2.0, 3.0, 4.0])
    >>> round(found.theta, 2), round(found.variance_ratio, 3)
    (1.3, 0.034)
    """
    y_values, x_values = _array(y, "y"), _array(x, "x")
    if y_values.size != x_values.size:
        raise DataError(f"y has {y_values.size:,} values but x has {x_values.size:,}; CUPED "
                        "needs one pre-period value per customer", source="cuped",
                        fix="align the pre-period values with the outcomes")
    if arm is None:
        codes = np.zeros(y_values.size, dtype=np.intp)
    else:
        labels = np.asarray(arm)
        if labels.shape != y_values.shape:
            raise DataError(f"arm has shape {labels.shape}; expected one label per customer "
                            f"({y_values.size:,})", source="cuped", column="arm")
        codes = np.unique(labels, return_inverse=True)[1].ravel()
    groups = np.bincount(codes)
    y_dev = y_values - (np.bincount(codes, y_values) / groups)[codes]
    x_dev = x_values - (np.bincount(codes, x_values) / groups)[codes]
    sxx, syy, sxy = float(x_dev @ x_dev), float(y_dev @ y_dev), float(x_dev @ y_dev)
    if sxx <= 1e-12 * max(1.0, float(x_values @ x_values)):
        raise DataError("the pre-period value is constant within every arm, so it explains "
                        "nothing of the outcome", source="cuped", column="x",
                        fix="pass a pre-period value that varies between customers, or none")
    theta = sxy / sxx
    x_mean = float(x_values.mean())
    adjusted = y_values - theta * (x_values - x_mean)
    correlation = sxy / math.sqrt(sxx * syy) if syy > 0 else math.nan
    adj_dev = y_dev - theta * x_dev
    ratio = float(adj_dev @ adj_dev) / syy if syy > 0 else math.nan
    return Cuped(adjusted, theta, correlation, ratio, x_mean)
