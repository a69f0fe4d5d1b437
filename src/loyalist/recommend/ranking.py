"""The batch ranking machinery every recommender shares.

A recommender learns, in ``_fit``, whatever it needs to score items, and implements
``_score(rows)``: a dense (len(rows), n_items) float32 block of scores for known customers.
:class:`Recommender` does the rest the same way for every model: validation, batching,
excluding purchased items, restricting to candidates, breaking ties by popularity, the cold-start
fallback (customers without a training purchase get the popularity ranking), and top-n
selection.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterator
from typing import Any, Self

import numpy as np
import scipy.sparse as sp

from loyalist.errors import NotFittedError, ParameterError
from loyalist.recommend.interactions import Interactions, positions

log = logging.getLogger(__name__)

__all__ = ["Recommender", "top_n"]

# Customers scored per block: bounds memory at BATCH x n_items float32 (2048 x 5k = 40 MB).
BATCH = 2048
# Relative size of the popularity tie-break added to each row (see ``_tie_break``).
TIE = 1e-6


def top_n(scores: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Column indices and values of the ``n`` largest entries of each row, best first (ties:
    lower column first). Entries equal to -inf are never returned: their index is -1.

    For small ``n`` a row's n-th largest value is bounded below by the n-th largest of its
    block maxima (blocks of ``w`` columns: n blocks each hold a value at least that large), so
    only the few entries above that bound are sorted: about twice as fast as argpartition."""
    n_rows, n_cols = scores.shape
    k = min(n, n_cols)
    w = min(64, n_cols // (4 * k)) if k else 0
    if w >= 8:
        full = (n_cols // w) * w
        bm = scores[:, :full].reshape(n_rows, -1, w).max(axis=2)
        if full < n_cols:
            bm = np.concatenate([bm, scores[:, full:].max(axis=1, keepdims=True)], axis=1)
        thr = np.partition(bm, bm.shape[1] - k, axis=1)[:, bm.shape[1] - k]
        rr, cc = np.nonzero(scores >= thr[:, None])
    elif 4 * k >= n_cols:  # long lists (full rankings): one stable sort per row
        order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        vals = np.take_along_axis(scores, order, axis=1)
        idx = np.where(np.isneginf(vals), -1, order)
        if k < n:
            idx = np.pad(idx, ((0, 0), (0, n - k)), constant_values=-1)
            vals = np.pad(vals, ((0, 0), (0, n - k)), constant_values=-np.inf)
        return idx.astype(np.int64), vals
    else:
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        rr = np.repeat(np.arange(n_rows), k)
        cc = part.ravel()
    vv = scores[rr, cc]
    order = np.lexsort((cc, -vv, rr))
    rr, cc, vv = rr[order], cc[order], vv[order]
    pos = np.arange(len(rr)) - np.searchsorted(rr, np.arange(n_rows))[rr]
    keep = (pos < k) & ~np.isneginf(vv)
    idx = np.full((n_rows, n), -1, dtype=np.int64)
    vals = np.full((n_rows, n), -np.inf, dtype=scores.dtype)
    idx[rr[keep], pos[keep]] = cc[keep]
    vals[rr[keep], pos[keep]] = vv[keep]
    return idx, vals


def exclude_rows(block: np.ndarray, seen: sp.csr_matrix, rows: np.ndarray) -> None:
    """Set ``block[r, j] = -inf`` wherever customer ``rows[r]`` bought item ``j`` (row -1: none)."""
    known = np.flatnonzero(rows >= 0)
    if not len(known):
        return
    sub = seen[rows[known]]
    r = np.repeat(known, np.diff(sub.indptr))
    block[r, sub.indices] = -np.inf


class Recommender:
    """Base class: the batch-first ``recommend`` API over a model's ``_score``.

    Learned state shared by every model (set by :meth:`fit`): ``customers_`` and ``items_``
    (the id indexes), ``seen_`` (customers x items purchases, for ``exclude_purchased``),
    ``item_popularity_`` (distinct customers per item, for the cold-start fallback and ties),
    ``n_warm_items_``, and ``returned_`` (``returners_`` x items: the products each sent back
    in full, never recommended to them, whatever the model scores).
    """

    #: Scores can tie (sparse or count-based models); ties are broken by popularity.
    _ties = True
    #: Every customer gets the same scores (popularity): blends compute them once.
    _row_constant = False

    def fit(self, interactions: Interactions) -> Self:
        """Learn from ``interactions`` (an :class:`Interactions`); returns ``self``."""
        if not isinstance(interactions, Interactions):
            raise ParameterError(
                f"fit expects loyalist.recommend.Interactions, got {type(interactions).__name__}; "
                "build one with Interactions.from_lines(lines, as_of=...)")
        self._validate_params()
        seen = interactions.matrix(binary=True)
        self.customers_ = interactions.customers
        self.items_ = interactions.items
        self.n_warm_items_ = interactions.n_warm_items
        self.seen_ = seen
        self.item_popularity_ = np.asarray(seen.sum(axis=0)).ravel().astype(np.float64)
        self.returners_, self.returned_ = interactions.returns()
        self._fit(interactions)
        return self

    # --- to implement --------------------------------------------------------------------
    def _validate_params(self) -> None:
        """Raise ParameterError for an impossible parameter."""

    def _fit(self, interactions: Interactions) -> None:
        raise NotImplementedError

    def _score(self, rows: np.ndarray) -> np.ndarray:
        """(len(rows), n_items) float32 scores for known customer rows (all >= 0)."""
        raise NotImplementedError

    def _cold_scores(self) -> np.ndarray:
        """Scores for a customer with no training purchase: item popularity."""
        return self.item_popularity_

    # --- public --------------------------------------------------------------------------
    def get_params(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if not k.endswith("_")
                and not k.startswith("_")}

    def set_params(self, **params: Any) -> Self:
        for k, v in params.items():
            if k not in self.get_params():
                raise ParameterError(f"{type(self).__name__} has no parameter {k!r}; "
                                     f"it has {sorted(self.get_params())}")
            setattr(self, k, v)
        return self

    def clone(self) -> Self:
        """An unfitted copy with the same parameters."""
        new = copy.copy(self)
        new.__dict__ = {k: copy.deepcopy(v) for k, v in self.get_params().items()}
        return new

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    def _check_fitted(self) -> None:
        if not hasattr(self, "items_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted; call "
                                 ".fit(interactions) first")

    def recommend(self, customer_ids: object, n: int = 10, *, exclude_purchased: bool = False,
                  candidates: object = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-``n`` products for each customer, best first.

        Returns ``(items, scores)``, both of shape ``(len(customer_ids), n)``: product ids
        (object array) and float scores, non-increasing along each row: the scores the items
        were ranked by, including the popularity tie-break of models whose scores can tie (a
        relative 1e-6, see :meth:`_ranking_scores`). Customers without a training purchase get the
        model's cold-start ranking (popularity). ``exclude_purchased`` drops items the customer
        bought before ``as_of``; ``candidates`` (product ids) restricts the ranking to those
        products. A product the customer sent back in full is never returned. When fewer than
        ``n`` products are left, the row is padded with ``None`` and ``-inf``.
        """
        self._check_fitted()
        rows = self._rows(customer_ids)
        n = self._check_n(n)
        mask = self._candidate_mask(candidates)
        items = np.empty((len(rows), n), dtype=object)
        scores = np.empty((len(rows), n), dtype=np.float64)
        sent_back = self._returner_rows(customer_ids)
        for start, idx, val in self._ranked_blocks(rows, n, exclude_purchased, mask, sent_back):
            stop = start + len(idx)
            ids = np.asarray(self.items_, dtype=object)[np.maximum(idx, 0)]
            ids[idx < 0] = None
            items[start:stop] = ids
            scores[start:stop] = val
        return items, scores

    def score_items(self, customer_ids: object, product_ids: object) -> np.ndarray:
        """Scores of given products for given customers, shape (n_customers, n_products);
        NaN for a product the model does not know."""
        self._check_fitted()
        rows = self._rows(customer_ids)
        cols = np.asarray(self.items_.get_indexer(
            np.asarray(product_ids, dtype=object).astype(str).ravel()))
        out = np.full((len(rows), len(cols)), np.nan)
        ok = cols >= 0
        for start in range(0, len(rows), BATCH):
            block = self._scores_block(rows[start:start + BATCH])
            out[start:start + len(block), ok] = block[:, cols[ok]]
        return out

    # --- machinery -----------------------------------------------------------------------
    def _item_codes(self, items: object) -> np.ndarray:
        """Positions in ``items_`` of product ids shaped as :meth:`recommend` returns them
        (any shape); -1 for ``None`` padding and for products the model does not know."""
        ids = np.asarray(items, dtype=object)
        pad = np.equal(ids, None)
        codes = np.asarray(self.items_.get_indexer(np.where(pad, "", ids).astype(str).ravel()))
        codes = codes.reshape(ids.shape)
        codes[pad] = -1
        return codes

    def _returner_rows(self, customer_ids: object) -> np.ndarray:
        """Row of each customer in ``returned_`` (-1: sent nothing back in full)."""
        return positions(self.returners_, customer_ids)

    def _rows(self, customer_ids: object) -> np.ndarray:
        if isinstance(customer_ids, str | bytes) or np.ndim(customer_ids) != 1:
            raise ParameterError("customer_ids must be a 1-d list of ids (batch-first API); "
                                 "for one customer pass [customer_id]")
        return positions(self.customers_, customer_ids)

    @staticmethod
    def _check_n(n: int) -> int:
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
            raise ParameterError(f"n = {n!r} items is impossible; use an integer >= 1")
        return int(n)

    def _candidate_mask(self, candidates: object) -> np.ndarray | None:
        if candidates is None:
            return None
        ids = np.asarray(list(candidates), dtype=object).astype(str)
        cols = positions(self.items_, ids)
        if len(ids) and not (cols >= 0).any():
            raise ParameterError(f"none of the {len(ids)} candidate products is known to the "
                                 f"model, e.g. {ids[0]!r}; pass product ids from the catalogue")
        mask = np.zeros(len(self.items_), dtype=bool)
        mask[cols[cols >= 0]] = True
        return mask

    def _scores_block(self, rows: np.ndarray) -> np.ndarray:
        """Scores for any rows (cold rows get ``_cold_scores``): a new float32 array the caller
        may modify."""
        known = rows >= 0
        if known.all():
            return np.asarray(self._score(rows), dtype=np.float32)
        block = np.empty((len(rows), len(self.items_)), dtype=np.float32)
        if known.any():
            block[known] = self._score(rows[known])
        block[~known] = self._cold_scores()
        return block

    def _standardised(self, rows: np.ndarray, exclude: bool = False, weight: float = 1.0
                      ) -> tuple[np.ndarray, np.ndarray]:
        """``(weight x scores / std, weight x mean / std)`` per row for known ``rows``
        (weight x z = first - second): what the hybrid blends. With ``exclude`` the moments
        are those of the items the customer has not bought (the ones that can be
        recommended). A model may override this to avoid a pass over the block (ALS computes
        the moments from its factors). Rows with no spread get std 1."""
        block = self._scores_block(rows)
        n_items = block.shape[1]
        s1 = (block @ np.ones(n_items, dtype=np.float32)).astype(np.float64)
        s2 = np.einsum("ij,ij->i", block, block, dtype=np.float64)
        mean, std = self._moments(s1, s2, rows, n_items,
                                  lambda r, c: block[r, c] if exclude else None)
        block *= (weight / std).astype(np.float32)[:, None]
        return block, weight * mean / std

    def _moments(self, s1: np.ndarray, s2: np.ndarray, rows: np.ndarray, n_items: int,
                 excluded: Any) -> tuple[np.ndarray, np.ndarray]:
        """Row mean and std from the row sums ``s1`` and sums of squares ``s2`` over all
        items, less the entries ``excluded(r, c)`` returns for the purchased items (None: keep
        all)."""
        count = np.full(len(rows), float(n_items))
        sub = self.seen_[rows]
        r = np.repeat(np.arange(len(rows)), np.diff(sub.indptr))
        vals = excluded(r, sub.indices)
        if vals is not None:
            vals = np.asarray(vals, dtype=np.float64)
            s1 = s1 - np.bincount(r, vals, minlength=len(rows))
            s2 = s2 - np.bincount(r, vals * vals, minlength=len(rows))
            count = np.maximum(count - np.diff(sub.indptr), 1.0)
        mean = s1 / count
        return mean, safe_std(s2 / count - mean * mean)

    def _tie_break(self) -> np.ndarray:
        pop = self.item_popularity_
        return (pop / pop.max() if pop.max() > 0 else pop).astype(np.float32)

    def _ranking_scores(self, rows: np.ndarray, exclude: bool
                        ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """``(key, offset, tie_scale)``: the scores items are ranked by, and how to turn a key
        back into the model's score: ``score = key - offset[row] - tie_scale[row] * tie[item]``
        (None = 0), ``tie`` being :meth:`_tie_break`.

        For models whose scores can tie, ``key = score + TIE x (row's largest |score|) x
        normalised popularity``, so equal scores (e.g. zero for items no neighbour reaches) rank
        by popularity while real score gaps are untouched. With ``exclude``, -inf where the
        customer bought the item."""
        key = self._scores_block(rows)
        tie_scale = None
        if self._ties:
            tie_scale = tie_scale_of(key)
            key += tie_scale[:, None] * self._tie_break()[None, :]
        if exclude:
            exclude_rows(key, self.seen_, rows)
        return key, None, tie_scale

    def _ranked_blocks(self, rows: np.ndarray, n: int, exclude_purchased: bool,
                       mask: np.ndarray | None, sent_back: np.ndarray
                       ) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """Per block of customers: (first position, top-n item codes, their scores), leaving
        out the items each customer sent back in full (``sent_back``: rows into
        ``returned_``, :meth:`_returner_rows`).

        The score returned is the ranking key less the row's offset: the score the items were
        actually ranked by, popularity tie-break included, so it never increases with the
        rank. (Taking the tie-break back out would make an item ranked first on a near-tie by
        its popularity show a lower score than the next one.) The tie-break is at most
        ``TIE`` x the row's largest |score| (the hybrid: ``Z_TIE`` standard deviations per
        unit of weight); :meth:`score_items` gives the scores without it."""
        for start in range(0, len(rows), BATCH):
            key, offset, _ = self._ranking_scores(rows[start:start + BATCH], exclude_purchased)
            if mask is not None:
                key[:, ~mask] = -np.inf
            exclude_rows(key, self.returned_, sent_back[start:start + BATCH])
            idx, vals = top_n(key, n)
            vals = vals.astype(np.float64)
            if offset is not None:  # one constant per row: keeps the order (rounding is monotone)
                vals -= offset[:, None]
            yield start, idx, vals


def safe_std(var: np.ndarray) -> np.ndarray:
    std = np.sqrt(np.maximum(var, 0.0))
    std[~(std > 1e-12)] = 1.0
    return std


def tie_scale_of(block: np.ndarray) -> np.ndarray:
    """TIE x the largest |score| of each row (1 for an all-zero row), float32."""
    scale = np.maximum(np.abs(block.max(axis=1)), np.abs(block.min(axis=1)))
    scale[~(scale > 0) | ~np.isfinite(scale)] = 1.0
    return (TIE * scale).astype(np.float32)
