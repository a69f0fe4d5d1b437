"""Frequently bought together: pairwise association rules over orders (baskets).

For products A and B over N orders: ``support(A->B) = n_AB / N``, ``confidence(A->B) =
n_AB / n_A`` (Agrawal, Imielinski & Swami 1993) and ``lift(A->B) = confidence / (n_B / N)``
(Brin, Motwani, Ullman & Tsur 1997): above 1, B is in A's baskets more often than in baskets at
large. Only pairs; the co-occurrence counts are one sparse product ``B^T B`` of the orders x
items incidence matrix, so this scales to millions of order lines without candidate
generation.
"""

from __future__ import annotations

import logging
from typing import Self

import numpy as np
import pandas as pd
import scipy.sparse as sp

from loyalist import schema as s
from loyalist.errors import NotFittedError, ParameterError
from loyalist.recommend.interactions import Interactions, positions

log = logging.getLogger(__name__)

__all__ = ["FrequentlyBoughtTogether"]

ORDERINGS = ("confidence", "lift", "support")


class FrequentlyBoughtTogether:
    """Association rules A -> B between products bought in the same order.

    Parameters: ``min_count`` orders containing both (default 5: fewer is anecdote),
    ``min_support`` (share of all orders), ``min_confidence``, ``min_lift`` (default 1: only
    pairs bought together more often than by chance).

    Learned: ``counts_`` (items x items co-occurrence counts, sparse, pairs under the count and
    support floors dropped), ``item_orders_`` (orders per item), ``n_orders_``, ``items_``.
    """

    def __init__(self, *, min_count: int = 5, min_support: float = 0.0,
                 min_confidence: float = 0.0, min_lift: float = 1.0) -> None:
        self.min_count = min_count
        self.min_support = min_support
        self.min_confidence = min_confidence
        self.min_lift = min_lift

    def __repr__(self) -> str:
        return (f"FrequentlyBoughtTogether(min_count={self.min_count!r}, min_support="
                f"{self.min_support!r}, min_confidence={self.min_confidence!r}, "
                f"min_lift={self.min_lift!r})")

    def _validate_params(self) -> None:
        if isinstance(self.min_count, bool) or not isinstance(self.min_count, int | np.integer) \
                or self.min_count < 1:
            raise ParameterError(f"min_count = {self.min_count!r} is impossible; use an "
                                 "integer >= 1")
        for name in ("min_support", "min_confidence"):
            v = getattr(self, name)
            if not 0.0 <= float(v) <= 1.0:
                raise ParameterError(f"{name} = {v!r} is impossible; use 0..1")
        if not float(self.min_lift) >= 0.0:
            raise ParameterError(f"min_lift = {self.min_lift!r} is impossible; use >= 0")

    def fit(self, interactions: Interactions) -> Self:
        """Count co-purchases in the orders of ``interactions``."""
        if not isinstance(interactions, Interactions):
            raise ParameterError("fit expects loyalist.recommend.Interactions, got "
                                 f"{type(interactions).__name__}")
        ev = interactions.events
        order_codes, _ = pd.factorize(ev["order"].to_numpy())
        return self.fit_baskets(order_codes, ev["item"].to_numpy(), interactions.items)

    def fit_baskets(self, order_codes: np.ndarray, item_codes: np.ndarray, items: pd.Index
                    ) -> Self:
        """Count co-purchases from (order, item) code pairs: orders coded 0..n-1, items as
        positions in ``items`` (what :meth:`fit` does with an :class:`Interactions`; a store's
        baskets can come straight from SQL, without the customer-level structures)."""
        self._validate_params()
        order_codes = np.asarray(order_codes)
        n_orders = int(order_codes.max()) + 1 if len(order_codes) else 0
        basket = sp.csr_matrix((np.ones(len(order_codes), dtype=np.float32),
                                (order_codes, np.asarray(item_codes))),
                               shape=(n_orders, len(items)))
        basket.sum_duplicates()
        basket.data[:] = 1.0
        self.item_orders_ = np.asarray(basket.sum(axis=0)).ravel()
        counts = (basket.T @ basket).tocsr()
        counts.setdiag(0)
        floor = max(float(self.min_count), float(self.min_support) * n_orders)
        counts.data[counts.data < floor] = 0
        counts.eliminate_zeros()
        counts.sort_indices()
        self.counts_ = counts
        self.n_orders_ = n_orders
        self.items_ = items
        log.info("basket rules: %d orders, %d product pairs with >= %g co-purchases", n_orders,
                 counts.nnz // 2, floor)
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "counts_"):
            raise NotFittedError("FrequentlyBoughtTogether is not fitted; call "
                                 ".fit(interactions) first")

    def _pairs(self, rows: np.ndarray) -> tuple[np.ndarray, ...]:
        """The rules from the products at positions ``rows`` above the thresholds, as arrays:
        antecedent and consequent positions, orders with both, confidence, lift."""
        sub = self.counts_[rows]
        ante = np.repeat(rows, np.diff(sub.indptr))
        cons = sub.indices
        n_ab = sub.data.astype(np.float64)
        conf = n_ab / self.item_orders_[ante]
        lift = conf / (self.item_orders_[cons] / self.n_orders_)
        keep = (conf >= self.min_confidence) & (lift >= self.min_lift)
        return ante[keep], cons[keep], n_ab[keep], conf[keep], lift[keep]

    def _frame(self, ante: np.ndarray, cons: np.ndarray, n_ab: np.ndarray, conf: np.ndarray,
               lift: np.ndarray) -> pd.DataFrame:
        items = np.asarray(self.items_, dtype=object)
        return pd.DataFrame({
            "antecedent": items[ante], "consequent": items[cons],
            "count": n_ab.astype(np.int64), "support": n_ab / self.n_orders_,
            "confidence": conf, "lift": lift, "_a": ante})

    def rules(self) -> pd.DataFrame:
        """Every rule A -> B above the thresholds (both directions of each pair), strongest
        confidence first."""
        self._check_fitted()
        out = self._frame(*self._pairs(np.arange(len(self.items_))))
        return out.drop(columns="_a").sort_values(
            ["confidence", "lift", "antecedent", "consequent"],
            ascending=[False, False, True, True], ignore_index=True)

    def together(self, product_ids: object, n: int = 10, *, by: str = "confidence"
                 ) -> pd.DataFrame:
        """For each product, its ``n`` best companions: one row per (product, rank) with
        ``product_id, rank, consequent, count, support, confidence, lift``. A product without
        a rule (or unknown) has no row."""
        self._check_fitted()
        if by not in ORDERINGS:
            raise ParameterError(f"by {by!r} is unknown; use one of {', '.join(ORDERINGS)}")
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
            raise ParameterError(f"n = {n!r} is impossible; use an integer >= 1")
        ids = np.asarray(product_ids, dtype=object).astype(str).ravel()
        cols = positions(self.items_, ids)
        known = np.unique(cols[cols >= 0])
        # rank on arrays (a frame of every pair first took seconds on 3M pairs), then build
        # the frame of the kept rows only
        ante, cons, n_ab, conf, lift = self._pairs(known)
        value = {"confidence": conf, "lift": lift, "support": n_ab}[by]
        tie = lift if by == "confidence" else conf
        name_rank = np.argsort(np.argsort(np.asarray(self.items_, dtype=str), kind="stable"),
                               kind="stable")
        order = np.lexsort((name_rank[cons], -tie, -value, ante))
        starts = np.r_[0, np.flatnonzero(np.diff(ante[order])) + 1]
        rank = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)]))
        top = order[rank < n]
        frame = self._frame(ante[top], cons[top], n_ab[top], conf[top], lift[top]).assign(
            rank=rank[rank < n] + 1)
        order = pd.DataFrame({"_a": cols, "_pos": np.arange(len(cols))})
        out = order[order["_a"] >= 0].merge(frame, on="_a").sort_values(["_pos", "rank"])
        out = out.rename(columns={"antecedent": s.PRODUCT_ID})
        return out[[s.PRODUCT_ID, "rank", "consequent", "count", "support", "confidence",
                    "lift"]].reset_index(drop=True)

    def recommend(self, product_ids: object, n: int = 10, *, by: str = "confidence"
                  ) -> tuple[np.ndarray, np.ndarray]:
        """Array form of :meth:`together`: ``(items, scores)`` of shape (len(product_ids), n),
        padded with None / -inf."""
        ids = np.asarray(product_ids, dtype=object).astype(str).ravel()
        table = self.together(ids, n, by=by)
        items = np.full((len(ids), n), None, dtype=object)
        scores = np.full((len(ids), n), -np.inf)
        pos = {}
        for i, p in enumerate(ids):
            pos.setdefault(p, []).append(i)
        for p, grp in table.groupby(s.PRODUCT_ID, sort=False):
            r = grp["rank"].to_numpy() - 1
            for i in pos[str(p)]:
                items[i, r] = grp["consequent"].to_numpy()
                scores[i, r] = grp[by].to_numpy()
        return items, scores
