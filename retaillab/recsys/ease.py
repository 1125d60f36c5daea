"""EASE: a shallow linear autoencoder whose item-item weights have a closed form.

Steck (2019, "Embarrassingly Shallow Autoencoders for Sparse Data", WWW, eq. 8) learns an item
x item matrix ``B`` that reconstructs the binary user x item matrix ``X`` as ``X B`` under an L2
penalty, with ``diag(B) = 0`` so an item cannot predict itself. The solution is::

    G = X^T X + lambda I,    P = G^{-1},    B_ij = -P_ij / P_jj  (i != j),    B_jj = 0

and a user's scores are ``x_u B``. There is no iteration and no seed: one Gram matrix and one
inverse. ``G`` is symmetric positive definite (``lambda > 0``), so it is inverted by Cholesky
(LAPACK ``potrf``/``potri``), about half the work of a general inverse.

Cost: ``B`` is dense, ``n_items^2`` floats (float32: 330 MB for MovieLens' 9,000 items), and the
inverse is cubic in the items (a few seconds for MovieLens on two cores). Computing in float32
halves both against float64; as ``G``'s eigenvalues are at least ``lambda`` it is well
conditioned, and the scores agree with a float64 inverse to about 1e-5 relative.
"""

from __future__ import annotations

from numbers import Real
from typing import ClassVar

import numpy as np
import pandas as pd
from scipy.linalg import lapack

from retaillab.errors import DataError, ParameterError
from retaillab.recsys._base import Recommender


class EASE(Recommender):
    """Steck's EASE^R item-item model (closed form, zero diagonal).

    Parameters
    ----------
    l2
        The L2 penalty ``lambda`` added to the diagonal of ``X^T X`` (default 500.0, the value
        Steck reports for MovieLens-20M); larger values shrink ``B`` towards zero and favour
        rarer items less.

    Fitted attributes: ``weights_``, the dense ``n_items x n_items`` matrix ``B``.
    """

    #: Optuna search space (see :mod:`retaillab.tuning.spaces`); a spec's ``space`` overrides it
    search_space: ClassVar[dict[str, tuple]] = {"l2": ("float", 1.0, 5000.0, {"log": True})}

    def __init__(self, *, l2: float = 500.0) -> None:
        self.l2 = l2

    def _fit(self, train: pd.DataFrame, users: np.ndarray, items: np.ndarray) -> None:
        if not isinstance(self.l2, Real) or isinstance(self.l2, bool) or not self.l2 > 0:
            raise ParameterError("EASE l2", "a number > 0", self.l2)
        self.weights_ = ease_weights(self.seen_, float(self.l2))

    def _scores(self, users: np.ndarray) -> np.ndarray:
        return np.asarray(self.seen_[users] @ self.weights_)


def ease_weights(x, l2: float, dtype: type = np.float32) -> np.ndarray:
    """``B`` of Steck (2019, eq. 8) for the user x item matrix ``x`` and penalty ``l2``."""
    gram = np.asarray((x.T @ x).toarray(), dtype=dtype)
    gram[np.diag_indices_from(gram)] += l2
    potrf, potri = lapack.get_lapack_funcs(("potrf", "potri"), (gram,))
    # G is symmetric, so its transpose is the same matrix in Fortran order: LAPACK then works
    # in place instead of on a copy
    factor, info = potrf(gram.T, lower=False, overwrite_a=True, clean=False)
    if info == 0:
        inverse, info = potri(factor, lower=False, overwrite_c=True)
    if info != 0:  # pragma: no cover - G is positive definite for l2 > 0
        raise DataError(f"X^T X + l2 I could not be inverted (LAPACK info {info})",
                        source="EASE", fix="raise l2")
    _mirror_upper(inverse)
    inverse = inverse.T  # the same symmetric matrix, back in C order for fast products
    inverse /= -np.diag(inverse).copy()  # column j divided by -P_jj, in place
    inverse[np.diag_indices_from(inverse)] = 0.0
    return inverse


def _mirror_upper(a: np.ndarray, block: int = 1024) -> None:
    """Copy the upper triangle of square ``a`` onto its lower triangle, in place."""
    for start in range(0, a.shape[0], block):
        stop = min(start + block, a.shape[0])
        a[start:stop, :start] = a[:start, start:stop].T
        tile = a[start:stop, start:stop]
        lower = np.tril_indices(stop - start, -1)
        tile[lower] = tile.T[lower]
