"""The most-popular baseline: every user gets the items most users interacted with."""

from __future__ import annotations

import numpy as np
import pandas as pd

from retaillab.recsys._base import Recommender


class MostPopular(Recommender):
    """Rank items by how many training users interacted with them.

    The reference every personalised model must beat; also the cold-start fallback of all.
    """

    def __init__(self) -> None:
        pass

    def _fit(self, train: pd.DataFrame, users: np.ndarray, items: np.ndarray) -> None:
        self.scores_ = self.popularity_.astype(np.float64)

    def _scores(self, users: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.scores_, (len(users), len(self.scores_))).copy()
