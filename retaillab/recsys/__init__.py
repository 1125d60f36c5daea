"""Recommenders behind one interface: ``create(name, **params).fit(train).recommend(users, k)``.

>>> from retaillab import recsys
>>> recsys.available()                                   # doctest: +SKIP
>>> model = recsys.create("ease", l2=500.0).fit(train)    # doctest: +SKIP
>>> model.recommend(test["user"].unique(), k=10)          # doctest: +SKIP
"""

from retaillab.data.feedback import from_transactions
from retaillab.recsys._base import Recommender
from retaillab.recsys.features import item_features
from retaillab.recsys.ranking import TIE_BREAK
from retaillab.recsys.registry import available, create, model_class

__all__ = ["TIE_BREAK", "Recommender", "available", "create", "from_transactions",
           "item_features", "model_class"]
