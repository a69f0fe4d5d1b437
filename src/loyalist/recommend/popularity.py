"""Popularity (global or recent, time-decayed) and a customer's own purchase history."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from loyalist.errors import ParameterError
from loyalist.recommend.interactions import Interactions, decay_weights
from loyalist.recommend.ranking import Recommender

__all__ = ["PopularityRecommender", "PurchaseHistoryRecommender", "check_half_life"]


def check_half_life(name: str, value: float | None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ParameterError(f"{name} = {value!r} is impossible; use a number of days > 0 "
                             "or None for no time decay")


class PopularityRecommender(Recommender):
    """The same ranking for everyone: how many distinct customers bought each item.

    ``half_life_days=None`` and ``window_days=None`` give global popularity. ``window_days``
    counts only customers who bought in the last ``window_days`` before ``as_of``;
    ``half_life_days`` weights each customer by ``0.5 ** (days since their last purchase of the
    item / half_life_days)`` (recent popularity, e.g. 30). Counting customers rather than orders
    keeps one account that re-orders weekly from making an item look popular.

    ``first_purchases=True`` counts each customer at their *first* purchase of the item, so
    the window holds the item's new buyers (adoption: what customers are starting to buy, the
    natural prior for items new to a customer).
    """

    _row_constant = True

    def __init__(self, *, half_life_days: float | None = None,
                 window_days: float | None = None, first_purchases: bool = False) -> None:
        self.half_life_days = half_life_days
        self.window_days = window_days
        self.first_purchases = first_purchases

    def _validate_params(self) -> None:
        check_half_life("half_life_days", self.half_life_days)
        check_half_life("window_days", self.window_days)

    def _fit(self, interactions: Interactions) -> None:
        age = interactions.last_purchase_age(first=bool(self.first_purchases))
        w = decay_weights(age.data, self.half_life_days)
        if self.window_days is not None:
            w = np.where(age.data <= self.window_days, w, 0.0)
        weights = sp.csr_matrix((w, age.indices, age.indptr), shape=age.shape)
        self.scores_ = np.asarray(weights.sum(axis=0)).ravel().astype(np.float32)

    def _score(self, rows: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.scores_, (len(rows), len(self.scores_))).copy()

    def _cold_scores(self) -> np.ndarray:
        return self.scores_


class PurchaseHistoryRecommender(Recommender):
    """A customer's own purchases: score = sum over their orders containing the item of
    ``0.5 ** (age / half_life_days)`` ("buy again"). Items they never bought score 0 and follow
    in popularity order, so this is also "history, then popularity"."""

    def __init__(self, *, half_life_days: float | None = 90.0) -> None:
        self.half_life_days = half_life_days

    def _validate_params(self) -> None:
        check_half_life("half_life_days", self.half_life_days)

    def _fit(self, interactions: Interactions) -> None:
        self.history_ = interactions.matrix(half_life_days=self.half_life_days)

    def _score(self, rows: np.ndarray) -> np.ndarray:
        return self.history_[rows].toarray()
