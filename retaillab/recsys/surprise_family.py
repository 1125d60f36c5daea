"""The rating models of Surprise behind the :class:`Recommender` interface.

Each class fits the Surprise algorithm of the same name on the training ratings and keeps it as
``algo_``; its hyperparameters are Surprise's, with Surprise's defaults, as keyword arguments
(``sim_options``/``bsl_options`` dicts become flat ``sim_*``/``bsl_*`` arguments, so that
``get_params`` and Optuna see them). Surprise seeds from ``random_state=None`` (numpy's global
generator); here it defaults to ``0`` so fits repeat.

``predict`` returns exactly ``algo_.predict(u, i).est``: the estimate clipped to the training
rating scale, and the training mean where Surprise finds the estimate impossible. That includes
every pair with a user or item unseen in training (flagged ``fallback=True``), except where the
model has a partial answer, as Surprise does: the baseline models (BaselineOnly, biased SVD and
NMF, SVD++, KNNBaseline) drop the unknown side's bias and factors.

``recommend`` ranks by the same estimate computed for all items of a batch of users in one
vectorised pass from ``algo_``'s learned arrays (see ``_surprise_scores``), not clipped: clipping
only creates ties at the ends of the scale. Top-10 for all MovieLens users takes well under a
second for the factor models, against minutes for Surprise's own per-pair ``predict`` loop
(``bench/recsys_topn.py``).

>>> model = SVD(n_factors=50, random_state=1).fit(train)          # doctest: +SKIP
>>> model.predict(test)                                             # doctest: +SKIP
>>> model.recommend(train["user"].unique(), k=10)                   # doctest: +SKIP
"""

from __future__ import annotations

from numbers import Integral
from typing import ClassVar

import numpy as np

from retaillab.errors import ParameterError, check_choice
from retaillab.recsys._surprise_scores import (
    CoClusteringScores,
    FactorScores,
    KNNScores,
    NormalScores,
    SlopeOneScores,
    count_matrix,
)

__all__ = ["NMF", "SVD", "BaselineOnly", "CoClustering", "KNNBaseline", "KNNBasic",
           "KNNWithMeans", "NormalPredictor", "SVDpp", "SlopeOne"]

SIMILARITIES = ("cosine", "msd", "pearson", "pearson_baseline")


def _check_int(name: str, value: object, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < low:
        raise ParameterError(name, f"an integer >= {low}", value)


class _Baselines:
    """The ``bsl_*`` hyperparameters, as Surprise's ``bsl_options`` dict."""

    def _bsl_options(self) -> dict:
        check_choice("bsl_method", self.bsl_method, ("als", "sgd"))
        options = {"method": self.bsl_method, "reg_u": self.bsl_reg_u, "reg_i": self.bsl_reg_i,
                   "reg": self.bsl_reg, "learning_rate": self.bsl_learning_rate}
        if self.bsl_n_epochs is not None:
            options["n_epochs"] = self.bsl_n_epochs
        return options


class BaselineOnly(_Baselines, FactorScores):
    """``mu + b_u + b_i``: the global mean plus user and item biases (Koren 2010, eq. 2.1).

    Parameters (Surprise's ``bsl_options``, same defaults)
    ----------
    bsl_method : {"als", "sgd"}, default "als"
        Alternating least squares or stochastic gradient descent.
    bsl_n_epochs : int or None, default None
        Passes; None keeps Surprise's default of the method (10 for als, 20 for sgd).
    bsl_reg_u, bsl_reg_i : float, default 15 and 10
        ALS regularisation of user and item biases.
    bsl_reg, bsl_learning_rate : float, default 0.02 and 0.005
        SGD regularisation and learning rate.

    Fitted: ``algo_`` (``surprise.BaselineOnly``), ``bu_``/``bi_`` in ``users_``/``items_``
    order. An unknown user or item counts with a zero bias.
    """

    def __init__(self, *, bsl_method: str = "als", bsl_n_epochs: int | None = None,
                 bsl_reg_u: float = 15, bsl_reg_i: float = 10, bsl_reg: float = 0.02,
                 bsl_learning_rate: float = 0.005) -> None:
        self.bsl_method = bsl_method
        self.bsl_n_epochs = bsl_n_epochs
        self.bsl_reg_u = bsl_reg_u
        self.bsl_reg_i = bsl_reg_i
        self.bsl_reg = bsl_reg
        self.bsl_learning_rate = bsl_learning_rate

    def _algorithm(self):
        import surprise

        return surprise.BaselineOnly(bsl_options=self._bsl_options(), verbose=False)

    def _factors(self, users, items, ratings):
        return np.zeros((len(self.users_), 0)), np.zeros((len(self.items_), 0))


class SVD(FactorScores):
    """Funk's SVD as in the Netflix prize: ``mu + b_u + b_i + q_i . p_u``, fitted by SGD
    (Koren et al. 2009, eq. 5); with ``biased=False``, ``q_i . p_u`` (probabilistic MF).

    Parameters (Surprise's, same defaults)
    ----------
    n_factors : int, default 100
    n_epochs : int, default 20
    biased : bool, default True
    init_mean, init_std_dev : float, default 0 and 0.1
        Normal initialisation of the factors.
    lr_all, reg_all : float, default 0.005 and 0.02
        Learning rate and regularisation of every parameter...
    lr_bu, lr_bi, lr_pu, lr_qi, reg_bu, reg_bi, reg_pu, reg_qi : float or None, default None
        ...unless set for one of them.
    random_state : int, default 0 (Surprise: None, the global generator)

    Fitted: ``algo_`` (``surprise.SVD``); ``bu_``, ``bi_``, ``pu_``, ``qi_`` in
    ``users_``/``items_`` order.
    """

    #: Optuna search space (see :mod:`retaillab.tuning.spaces`); a spec's ``space`` overrides it
    search_space: ClassVar[dict[str, tuple]] = {
        "n_factors": ("int", 10, 200, {"log": True}), "n_epochs": ("int", 10, 60),
        "lr_all": ("float", 1e-3, 0.05, {"log": True}),
        "reg_all": ("float", 5e-3, 0.5, {"log": True})}

    def __init__(self, *, n_factors: int = 100, n_epochs: int = 20, biased: bool = True,
                 init_mean: float = 0, init_std_dev: float = 0.1, lr_all: float = 0.005,
                 reg_all: float = 0.02, lr_bu: float | None = None, lr_bi: float | None = None,
                 lr_pu: float | None = None, lr_qi: float | None = None,
                 reg_bu: float | None = None, reg_bi: float | None = None,
                 reg_pu: float | None = None, reg_qi: float | None = None,
                 random_state: int = 0) -> None:
        self.n_factors = n_factors
        self.n_epochs = n_epochs
        self.biased = biased
        self.init_mean = init_mean
        self.init_std_dev = init_std_dev
        self.lr_all = lr_all
        self.reg_all = reg_all
        self.lr_bu = lr_bu
        self.lr_bi = lr_bi
        self.lr_pu = lr_pu
        self.lr_qi = lr_qi
        self.reg_bu = reg_bu
        self.reg_bi = reg_bi
        self.reg_pu = reg_pu
        self.reg_qi = reg_qi
        self.random_state = random_state

    def _algorithm(self):
        import surprise

        return surprise.SVD(**self.get_params())


class SVDpp(FactorScores):
    """SVD++: SVD whose user factor adds the items the user rated, ``p_u + |N(u)|^-1/2 *
    sum(y_j for j in N(u))`` (Koren 2008, section 4); always biased.

    Parameters (Surprise's, same defaults)
    ----------
    n_factors : int, default 20
    n_epochs : int, default 20
    init_mean, init_std_dev : float, default 0 and 0.1
    lr_all, reg_all : float, default 0.007 and 0.02
    lr_bu, lr_bi, lr_pu, lr_qi, lr_yj, reg_bu, reg_bi, reg_pu, reg_qi, reg_yj : float or None
        Per-parameter overrides, default None.
    cache_ratings : bool, default False
        Cache each user's items during fit: faster, more memory.
    random_state : int, default 0 (Surprise: None)

    Fitted: ``algo_`` (``surprise.SVDpp``); ``pu_`` holds the user factors with the implicit
    term added, so scoring is the SVD formula.
    """

    #: Optuna search space (see :mod:`retaillab.tuning.spaces`); a spec's ``space`` overrides it
    search_space: ClassVar[dict[str, tuple]] = {
        "n_factors": ("int", 5, 100, {"log": True}), "n_epochs": ("int", 10, 40),
        "lr_all": ("float", 1e-3, 0.03, {"log": True}),
        "reg_all": ("float", 5e-3, 0.3, {"log": True})}

    def __init__(self, *, n_factors: int = 20, n_epochs: int = 20, init_mean: float = 0,
                 init_std_dev: float = 0.1, lr_all: float = 0.007, reg_all: float = 0.02,
                 lr_bu: float | None = None, lr_bi: float | None = None,
                 lr_pu: float | None = None, lr_qi: float | None = None,
                 lr_yj: float | None = None, reg_bu: float | None = None,
                 reg_bi: float | None = None, reg_pu: float | None = None,
                 reg_qi: float | None = None, reg_yj: float | None = None,
                 cache_ratings: bool = False, random_state: int = 0) -> None:
        self.n_factors = n_factors
        self.n_epochs = n_epochs
        self.init_mean = init_mean
        self.init_std_dev = init_std_dev
        self.lr_all = lr_all
        self.reg_all = reg_all
        self.lr_bu = lr_bu
        self.lr_bi = lr_bi
        self.lr_pu = lr_pu
        self.lr_qi = lr_qi
        self.lr_yj = lr_yj
        self.reg_bu = reg_bu
        self.reg_bi = reg_bi
        self.reg_pu = reg_pu
        self.reg_qi = reg_qi
        self.reg_yj = reg_yj
        self.cache_ratings = cache_ratings
        self.random_state = random_state

    def _algorithm(self):
        import surprise

        return surprise.SVDpp(**self.get_params())

    def _factors(self, users, items, ratings):
        algo = self.algo_
        u, i = self.user_inner_[users], self.item_inner_[items]
        rated = count_matrix(u, i, (len(self.users_), len(self.items_)))  # Surprise's ur
        n_rated = np.asarray(rated.sum(axis=1))
        return algo.pu + (rated @ algo.yj) / np.sqrt(n_rated), algo.qi


class NMF(FactorScores):
    """Non-negative matrix factorisation, ``q_i . p_u`` with non-negative factors (Luo et al.
    2014); ``biased=True`` adds ``mu + b_u + b_i``.

    Parameters (Surprise's, same defaults)
    ----------
    n_factors : int, default 15
    n_epochs : int, default 50
    biased : bool, default False
    reg_pu, reg_qi : float, default 0.06
    reg_bu, reg_bi : float, default 0.02 (biased only)
    lr_bu, lr_bi : float, default 0.005 (biased only)
    init_low, init_high : float, default 0 and 1
        Uniform initialisation of the factors; ``init_low`` must be >= 0.
    random_state : int, default 0 (Surprise: None)

    Fitted: as :class:`SVD`. Unbiased, an unknown user or item is impossible: the training mean.
    """

    def __init__(self, *, n_factors: int = 15, n_epochs: int = 50, biased: bool = False,
                 reg_pu: float = 0.06, reg_qi: float = 0.06, reg_bu: float = 0.02,
                 reg_bi: float = 0.02, lr_bu: float = 0.005, lr_bi: float = 0.005,
                 init_low: float = 0, init_high: float = 1, random_state: int = 0) -> None:
        self.n_factors = n_factors
        self.n_epochs = n_epochs
        self.biased = biased
        self.reg_pu = reg_pu
        self.reg_qi = reg_qi
        self.reg_bu = reg_bu
        self.reg_bi = reg_bi
        self.lr_bu = lr_bu
        self.lr_bi = lr_bi
        self.init_low = init_low
        self.init_high = init_high
        self.random_state = random_state

    def _algorithm(self):
        import surprise

        if not self.init_low >= 0:
            raise ParameterError("NMF init_low", "a number >= 0 (factors stay non-negative)",
                                 self.init_low)
        return surprise.NMF(**self.get_params())


class SlopeOne(SlopeOneScores):
    """Slope One (Lemire & Maclachlan 2005): ``mu_u`` plus the mean deviation ``dev(i, j)`` over
    the items ``j`` the user rated that share a rater with ``i``. No hyperparameters.

    Memory: Surprise keeps two dense item x item matrices (``dev``, ``freq``); scoring keeps
    another 1.5 (``dev_`` cleaned of Surprise's NaN where no user is shared, ``support_``):
    about 2.3 GB for MovieLens' 9,000 items.
    """

    def __init__(self) -> None:
        pass

    def _algorithm(self):
        import surprise

        return surprise.SlopeOne()


class _KNN(_Baselines, KNNScores):
    """Shared hyperparameters of the k-NN models (documented on each)."""

    surprise_name: ClassVar[str]

    def __init__(self, *, k: int = 40, min_k: int = 1, sim_name: str = "msd",
                 user_based: bool = True, min_support: int = 1, shrinkage: float = 100,
                 bsl_method: str = "als", bsl_n_epochs: int | None = None,
                 bsl_reg_u: float = 15, bsl_reg_i: float = 10, bsl_reg: float = 0.02,
                 bsl_learning_rate: float = 0.005) -> None:
        self.k = k
        self.min_k = min_k
        self.sim_name = sim_name
        self.user_based = user_based
        self.min_support = min_support
        self.shrinkage = shrinkage
        self.bsl_method = bsl_method
        self.bsl_n_epochs = bsl_n_epochs
        self.bsl_reg_u = bsl_reg_u
        self.bsl_reg_i = bsl_reg_i
        self.bsl_reg = bsl_reg
        self.bsl_learning_rate = bsl_learning_rate

    def _algorithm(self):
        import surprise

        _check_int("k", self.k, 1)
        _check_int("min_k", self.min_k, 0)
        check_choice("sim_name", self.sim_name, SIMILARITIES)
        sim_options = {"name": self.sim_name, "user_based": bool(self.user_based),
                       "min_support": self.min_support, "shrinkage": self.shrinkage}
        return getattr(surprise, self.surprise_name)(
            k=self.k, min_k=self.min_k, sim_options=sim_options,
            bsl_options=self._bsl_options(), verbose=False)


_KNN_PARAMETERS = """
    Parameters (Surprise's, same defaults)
    ----------
    k : int, default 40
        At most this many neighbours: the most similar among those who rated the item (items
        the user rated, when item-based); only those with positive similarity count.
    min_k : int, default 1
        Fewer neighbours than this: {few}.
    sim_name : {{"msd", "cosine", "pearson", "pearson_baseline"}}, default "msd"
    user_based : bool, default True
        Similarities between users; False: between items.
    min_support : int, default 1
        Common ratings below which a similarity is 0.
    shrinkage : float, default 100
        Shrinkage of ``pearson_baseline``.
    bsl_method, bsl_n_epochs, bsl_reg_u, bsl_reg_i, bsl_reg, bsl_learning_rate
        Baseline options as :class:`BaselineOnly` (used by {bsl}).

    Fitted: ``algo_`` (its ``sim`` is the similarity matrix in Surprise's inner ids) and
    ``yr_``, the neighbour lists. Top-N keeps Surprise's rule exactly, ties included (the
    earlier neighbour in Surprise's list wins, as in ``heapq.nlargest``): user-based, one
    counting sort per batch of users (a stable sort if the training rows are not grouped by
    user); item-based, a partial sort per user over the items with more than ``k`` candidates.
"""


class KNNBasic(_KNN):
    surprise_name = "KNNBasic"
    __doc__ = ("""The similarity-weighted mean of the k nearest neighbours' ratings.
""" + _KNN_PARAMETERS.format(few="impossible, the training mean (so also with ``min_k=0`` "
                                  "and no neighbour, where Surprise divides by zero)",
                             bsl="pearson_baseline"))
    centre = "none"


class KNNWithMeans(_KNN):
    surprise_name = "KNNWithMeans"
    __doc__ = ("""The mean rating of the user (item, if item-based) plus the similarity-weighted
    mean of the k nearest neighbours' deviations from their own means.
""" + _KNN_PARAMETERS.format(few="the mean alone", bsl="pearson_baseline"))
    centre = "means"


class KNNBaseline(_KNN):
    surprise_name = "KNNBaseline"
    __doc__ = ("""The baseline ``mu + b_u + b_i`` plus the similarity-weighted mean of the k
    nearest neighbours' deviations from their baselines (Koren 2010, eq. 3). An unknown user
    or item gets the baseline of the known part.
""" + _KNN_PARAMETERS.format(few="the baseline alone", bsl="the baselines and pearson_baseline"))
    #: Optuna search space (see :mod:`retaillab.tuning.spaces`); a spec's ``space`` overrides it
    search_space: ClassVar[dict[str, tuple]] = {
        "k": ("int", 10, 100), "min_k": ("int", 1, 10),
        "sim_name": ("categorical", ["msd", "cosine", "pearson_baseline"]),
        "user_based": ("categorical", [True, False]),
        "shrinkage": ("float", 0.0, 200.0)}
    centre = "baseline"


class CoClustering(CoClusteringScores):
    """Co-clustering (George & Merugu 2005): ``avg(C_ui) + (mu_u - avg(C_u)) + (mu_i -
    avg(C_i))`` for user cluster ``C_u``, item cluster ``C_i``, co-cluster ``C_ui``.

    Parameters (Surprise's, same defaults)
    ----------
    n_cltr_u, n_cltr_i : int, default 3
        User and item clusters.
    n_epochs : int, default 20
    random_state : int, default 0 (Surprise: None)
    """

    def __init__(self, *, n_cltr_u: int = 3, n_cltr_i: int = 3, n_epochs: int = 20,
                 random_state: int = 0) -> None:
        self.n_cltr_u = n_cltr_u
        self.n_cltr_i = n_cltr_i
        self.n_epochs = n_epochs
        self.random_state = random_state

    def _algorithm(self):
        import surprise

        return surprise.CoClustering(**self.get_params())


class NormalPredictor(NormalScores):
    """A random rating from the normal distribution of the training ratings (maximum-likelihood
    mean and deviation): the floor every model must beat.

    Parameters
    ----------
    random_state : int, default 0
        Seeds the draws. Surprise draws from numpy's global generator at each ``predict``; here
        the draw of (user, item) is fixed by the seed, the same in ``predict`` and
        ``recommend``. Unlike Surprise, which draws even for unknown ids, unknown users and
        items get the training mean (the expected draw) as every model's cold-start fallback.
    """

    def __init__(self, *, random_state: int = 0) -> None:
        self.random_state = random_state

    def _algorithm(self):
        import surprise

        return surprise.NormalPredictor()
