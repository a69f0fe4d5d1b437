"""Item-item neighbourhood recommender (customer co-purchase similarity, time-decayed).

Sarwar et al. 2001, "Item-based collaborative filtering recommendation algorithms"; the
asymmetric cosine ``c_ij / (n_i^alpha n_j^(1-alpha))`` is Aiolli 2013 ("Efficient top-n
recommendation for very large scale binary rated datasets"), ``alpha = 0.5`` being the cosine.
Similarities are the sparse product of the item x customer matrix with itself, keeping only
the ``k`` nearest neighbours of each item as it is computed (:func:`top_k_product`, on
``sparse_dot_topn``: the items x items product is never held whole, and a co-purchase matrix
that is mostly empty costs only its non-zeros); a customer's score for item i is
``sum_j r_uj * sim(j, i)`` over the items j they bought, with ``r_uj`` their time-decayed
purchase count.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sparse_dot_topn import sp_matmul_topn

from loyalist.errors import ParameterError
from loyalist.recommend.interactions import Interactions, positions
from loyalist.recommend.popularity import check_half_life
from loyalist.recommend.ranking import Recommender

__all__ = ["ItemKNNRecommender", "item_popularity", "prune_top_k", "top_k_product"]

SIMILARITIES = ("cosine", "cooccurrence")
#: relative nudge that orders tied similarities by preference (:func:`top_k_product`)
TIE_NUDGE = 1e-7
# Items per similarity block: bounds the dense block at ITEM_BLOCK x n_items float32.
ITEM_BLOCK = 1024


def prune_top_k(dense: np.ndarray, k: int, offset: int, include_self: bool
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """COO triplets (row, col, value) of the ``k`` largest positive entries of each row of a
    dense similarity block whose first row is item ``offset``."""
    n_rows, n_cols = dense.shape
    if not include_self:
        dense[np.arange(n_rows), offset + np.arange(n_rows)] = 0.0
    kk = min(k, n_cols)
    if kk < n_cols:
        idx = np.argpartition(-dense, kk - 1, axis=1)[:, :kk]
    else:
        idx = np.broadcast_to(np.arange(n_cols), dense.shape)
    vals = np.take_along_axis(dense, idx, axis=1)
    keep = vals > 0
    rows = np.broadcast_to(np.arange(n_rows)[:, None] + offset, idx.shape)
    return rows[keep], idx[keep], vals[keep]


def item_popularity(interactions: Interactions) -> np.ndarray:
    """Purchases of each item (order lines), the tie-break of :func:`top_k_product`."""
    return np.bincount(interactions.events["item"].to_numpy(), minlength=interactions.n_items)


def preference_rank(prefer: np.ndarray) -> np.ndarray:
    """1..n by ``prefer`` ascending, ties by position: the higher, the more preferred among
    columns tied in value (:func:`top_k_product`)."""
    return pd.Series(np.asarray(prefer, dtype=float)).rank(method="first").to_numpy()


def top_k_rows(m: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """``m`` with only the ``k`` largest entries of each row (ties: the lower column first)."""
    m = m.tocsr()
    counts = np.diff(m.indptr)
    if not len(counts) or counts.max() <= k:
        return m
    row = np.repeat(np.arange(m.shape[0]), counts)
    order = np.lexsort((m.indices, -m.data, row))
    rank = np.arange(len(order)) - np.repeat(m.indptr[:-1], counts)
    keep = order[rank < k]
    return sp.csr_matrix((m.data[keep], (row[keep], m.indices[keep])), shape=m.shape)


def top_k_product(a: sp.spmatrix, b: sp.spmatrix, k: int, include_self: bool, *,
                  prefer: np.ndarray | None = None, n_threads: int | None = None
                  ) -> sp.csr_matrix:
    """The ``k`` largest positive entries of each row of ``a @ b`` (items x items, float32),
    computed without holding the whole product (``sparse_dot_topn``); ``include_self=False``
    leaves out the diagonal (an item is not its own neighbour).

    ``prefer`` (one number per column, e.g. how often the item was bought) breaks ties: of
    columns with the same value, the more preferred are kept. Ties are common (a content
    row often has dozens of items of the same category and price band at exactly the
    k-th value) and which of them are kept decides what is recommended."""
    n = a.shape[0]
    if n == 0 or b.shape[1] == 0 or a.nnz == 0 or b.nnz == 0:
        return sp.csr_matrix((n, b.shape[1]), dtype=np.float32)
    a = sp.csr_matrix(a, dtype=np.float64)
    b = sp.csr_matrix(b, dtype=np.float64)
    scale = None
    if prefer is not None:
        # a relative nudge far below float32's resolution of the values kept, far above
        # float64's rounding: it only orders exact ties, and is divided out afterwards
        rank = preference_rank(prefer)
        scale = 1.0 + TIE_NUDGE * rank / len(rank)
        b = b @ sp.diags(scale)
    c = sp_matmul_topn(a, b, top_n=min(k + (0 if include_self else 1), b.shape[1]),
                       threshold=0.0, n_threads=n_threads or min(os.cpu_count() or 1, 8))
    if not include_self:
        c = c.tocoo()
        off = c.row != c.col
        c = sp.csr_matrix((c.data[off], (c.row[off], c.col[off])), shape=c.shape)
        c = top_k_rows(c, k)
    if scale is not None:
        c = c @ sp.diags(1.0 / scale)
    c = sp.csr_matrix(c, dtype=np.float32)
    c.eliminate_zeros()
    c.sort_indices()
    return c


def neighbours_from_block_fn(block_fn: object, n_items: int, k: int, include_self: bool
                             ) -> sp.csr_matrix:
    """Assemble the items x items top-k neighbour matrix from ``block_fn(start, stop)`` (dense
    similarity rows ``start:stop``), block by block."""
    rows, cols, vals = [], [], []
    for start in range(0, n_items, ITEM_BLOCK):
        stop = min(start + ITEM_BLOCK, n_items)
        dense = block_fn(start, stop)  # type: ignore[operator]
        r, c, v = prune_top_k(dense, k, start, include_self)
        rows.append(r)
        cols.append(c)
        vals.append(v)
    if not rows:
        return sp.csr_matrix((n_items, n_items), dtype=np.float32)
    return sp.csr_matrix((np.concatenate(vals).astype(np.float32),
                          (np.concatenate(rows), np.concatenate(cols))),
                         shape=(n_items, n_items))


class ItemKNNRecommender(Recommender):
    """Item-item collaborative filtering.

    Parameters: ``k`` neighbours kept per item; ``similarity`` ``"cosine"`` (asymmetric with
    ``alpha``; 0.5 = cosine) or ``"cooccurrence"`` (raw co-purchase counts); ``shrink`` added to
    the cosine denominator (damps pairs of rare items); ``half_life_days`` decays the customer's
    own purchases when scoring; ``similarity_half_life_days`` decays each customer's purchases
    before counting co-purchases, so recent co-occurrences weigh more; ``include_self`` keeps an
    item as its own neighbour (favours re-purchases).

    Learned: ``similarity_`` (items x items, sparse, ``k`` per row), ``profile_`` (customers x
    items decayed purchase counts).
    """

    def __init__(self, *, k: int = 100, similarity: str = "cosine", alpha: float = 0.5,
                 shrink: float = 0.0, half_life_days: float | None = 90.0,
                 similarity_half_life_days: float | None = None,
                 include_self: bool = True) -> None:
        self.k = k
        self.similarity = similarity
        self.alpha = alpha
        self.shrink = shrink
        self.half_life_days = half_life_days
        self.similarity_half_life_days = similarity_half_life_days
        self.include_self = include_self

    def _validate_params(self) -> None:
        if isinstance(self.k, bool) or not isinstance(self.k, int | np.integer) or self.k < 1:
            raise ParameterError(f"k = {self.k!r} neighbours is impossible; use an integer >= 1")
        if self.similarity not in SIMILARITIES:
            raise ParameterError(f"similarity {self.similarity!r} is unknown; use one of "
                                 f"{', '.join(SIMILARITIES)}")
        if not 0.0 <= float(self.alpha) <= 1.0:
            raise ParameterError(f"alpha = {self.alpha!r} is impossible; use 0 <= alpha <= 1")
        if not float(self.shrink) >= 0.0:
            raise ParameterError(f"shrink = {self.shrink!r} is impossible; use >= 0")
        check_half_life("half_life_days", self.half_life_days)
        check_half_life("similarity_half_life_days", self.similarity_half_life_days)

    def _fit(self, interactions: Interactions) -> None:
        if self.similarity_half_life_days is None:
            w = interactions.matrix(binary=True)
        else:
            age = interactions.last_purchase_age()
            w = sp.csr_matrix((np.exp2(-age.data / self.similarity_half_life_days)
                               .astype(np.float32), age.indices, age.indptr), shape=age.shape)
        self.similarity_ = self._neighbours(w, item_popularity(interactions))
        self.profile_ = interactions.matrix(half_life_days=self.half_life_days)

    def _neighbours(self, w: sp.csr_matrix, popularity: np.ndarray) -> sp.csr_matrix:
        wt = w.T.tocsr()  # items x customers
        counts = np.asarray(w.multiply(w).sum(axis=0)).ravel()  # sum of squared weights
        a = float(self.alpha)
        cosine = self.similarity == "cosine"
        left = np.power(np.maximum(counts, 1e-12), a)
        right = np.power(np.maximum(counts, 1e-12), 1.0 - a)
        k, include_self = int(self.k), bool(self.include_self)
        if not cosine or float(self.shrink) == 0.0:
            # c_ij / (left_i right_j) = (row i / left_i) . (column j / right_j): one product
            if cosine:
                return top_k_product(sp.diags(1.0 / left) @ wt, w @ sp.diags(1.0 / right),
                                     k, include_self, prefer=popularity)
            return top_k_product(wt, w, k, include_self, prefer=popularity)
        # with a shrink term the denominator does not factor: dense blocks of items

        def block(start: int, stop: int) -> np.ndarray:
            c = (wt[start:stop] @ w).toarray().astype(np.float32)
            if cosine:
                c /= (left[start:stop, None] * right[None, :] + self.shrink).astype(np.float32)
            return c

        return neighbours_from_block_fn(block, w.shape[1], k, include_self)

    def _score(self, rows: np.ndarray) -> np.ndarray:
        return (self.profile_[rows] @ self.similarity_).toarray()

    def similar_items(self, product_ids: object, n: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The ``n`` most similar products to each given product (itself excluded)."""
        self._check_fitted()
        n = self._check_n(n)
        cols = positions(self.items_, product_ids)
        items = np.full((len(cols), n), None, dtype=object)
        scores = np.full((len(cols), n), -np.inf)
        for r, c in enumerate(cols):
            if c < 0:
                continue
            row = self.similarity_[c]
            keep = row.indices != c
            idx, val = row.indices[keep], row.data[keep]
            order = np.argsort(-val, kind="stable")[:n]
            items[r, :len(order)] = np.asarray(self.items_, dtype=object)[idx[order]]
            scores[r, :len(order)] = val[order]
        return items, scores
