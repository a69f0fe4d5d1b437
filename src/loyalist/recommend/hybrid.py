"""A hybrid that blends recommenders, with weights chosen on a validation window before
``as_of`` and a popularity fallback for cold-start customers.

Blending: each component's scores are standardised per customer (z-scores over the items that
can be recommended to them: the catalogue, or with ``exclude_purchased`` the items they have not
bought), so components on different scales add up, then summed with weights (linear score
fusion, Fox & Shaw 1994's CombSUM on normalised scores). Weights are chosen separately for the
two uses: ranking anything (``exclude_purchased=False``) and ranking items new
to the customer (``exclude_purchased=True``), by coordinate ascent on NDCG@k over the last
``validation_days`` before ``as_of``: components are fitted on the purchases before that window,
the customers with a purchase in it are ranked, the search starts from the best single
component and only accepts a change that improves validation NDCG, so on validation the blend
is never worse than its best part. The test period is never looked at. The components are then
refitted on all purchases before ``as_of``.

Cold start: a customer without a training purchase gets the popularity component's ranking;
a product without a purchase (cold item) can only be scored by the content component and
enters the blend through it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from loyalist import schema as s
from loyalist.errors import DataError, ParameterError
from loyalist.recommend.als import ALSRecommender
from loyalist.recommend.content import ContentRecommender
from loyalist.recommend.evaluate import code_hits
from loyalist.recommend.interactions import Interactions
from loyalist.recommend.itemknn import ItemKNNRecommender
from loyalist.recommend.popularity import PopularityRecommender, PurchaseHistoryRecommender
from loyalist.recommend.ranking import (
    BATCH,
    Recommender,
    exclude_rows,
    tie_scale_of,
    top_n,
)

log = logging.getLogger(__name__)

__all__ = ["HybridRecommender", "default_components"]

# Weight values tried for each component during coordinate ascent.
WEIGHT_GRID = (0.0, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0)
MODES = {False: "all", True: "new"}
# A component's popularity tie-break in the blend, in standard deviations of its scores: large
# enough to survive float32 rounding of z-scores (|z| < sqrt(n_items)), far below real gaps.
Z_TIE = 1e-3
# Relative validation-NDCG gain a weight change must bring to be kept.
MIN_GAIN = 0.001
# The source of a cold-start customer's list (:meth:`HybridRecommender.sources`).
FALLBACK = "popularity"


def default_components(random_state: int | None = 0) -> dict[str, Recommender]:
    """The standard line-up: recent popularity, adoption (recent first-time buyers), purchase
    history, item-kNN, ALS, content."""
    return {
        "popularity": PopularityRecommender(window_days=30),
        "adoption": PopularityRecommender(window_days=30, first_purchases=True),
        "history": PurchaseHistoryRecommender(),
        "itemknn": ItemKNNRecommender(),
        "als": ALSRecommender(random_state=random_state),
        "content": ContentRecommender(),
    }


def _standardised(model: Recommender, rows: np.ndarray, exclude: bool, weight: float = 1.0
                  ) -> tuple[np.ndarray, np.ndarray, float | None]:
    """The model's scores standardised per customer, times ``weight``, in a form that keeps a
    blend cheap: ``(weight x scores / std, weight x mean / std, tie)`` with weight x z = first
    - second. ``tie`` is the size of the model's popularity tie-break in standard deviations
    (a constant, added once for the whole blend since it is linear; None for models that need
    none). Row-constant models (popularity) are standardised once over all items and returned
    as a broadcast view."""
    tie = Z_TIE if model._ties else None
    if model._row_constant:
        z, off = model._standardised(np.zeros(1, dtype=np.int64), False, weight)
        return np.broadcast_to(z, (len(rows), z.shape[1])), np.repeat(off, len(rows)), tie
    z, off = model._standardised(rows, exclude, weight)
    return z, off, tie


class HybridRecommender(Recommender):
    """Weighted blend of recommenders (see the module docstring).

    Parameters: ``components`` (name -> unfitted recommender; default
    :func:`default_components`), ``weights`` (fixed ``{name: weight}`` used for both modes, or
    ``{"all": {...}, "new": {...}}``; None = choose on validation), ``validation_days``,
    ``pool`` (per-component candidates kept when searching weights),
    ``max_validation_customers`` (a random sample bounds the search cost), ``k`` (the NDCG
    cutoff optimised), ``random_state``.

    Learned: ``components_`` (fitted, those with a weight), ``fallback_`` (the popularity
    model cold-start customers get), ``weights_`` ({"all": {...}, "new": {...}}),
    ``validation_`` (per mode: validation NDCG@k of each component alone and of the blend).
    """

    _ties = False

    def __init__(self, *, components: Mapping[str, Recommender] | None = None,
                 weights: Mapping[str, Any] | None = None, validation_days: int = 30,
                 pool: int = 50,
                 max_validation_customers: int = 2000, k: int = 10,
                 random_state: int | None = 0) -> None:
        self.components = components
        self.weights = weights
        self.validation_days = validation_days
        self.pool = pool
        self.max_validation_customers = max_validation_customers
        self.k = k
        self.random_state = random_state

    # --- fit -----------------------------------------------------------------------------
    def _validate_params(self) -> None:
        comps = self._component_spec()
        if not comps:
            raise ParameterError("HybridRecommender needs at least one component")
        for name, c in comps.items():
            if not isinstance(c, Recommender) or isinstance(c, HybridRecommender):
                raise ParameterError(f"component {name!r} must be a (non-hybrid) Recommender, "
                                     f"got {type(c).__name__}")
        for name in ("validation_days", "pool", "max_validation_customers", "k"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1:
                raise ParameterError(f"{name} = {v!r} is impossible; use an integer >= 1")
        if self.weights is not None:
            self._fixed_weights(comps)

    def _component_spec(self) -> dict[str, Recommender]:
        return dict(self.components) if self.components is not None \
            else default_components(self.random_state)

    def _fixed_weights(self, comps: Mapping[str, Recommender]) -> dict[str, dict[str, float]]:
        w = dict(self.weights or {})
        per_mode = {m: dict(w[m]) for m in MODES.values()} if set(w) == set(MODES.values()) \
            else {m: dict(w) for m in MODES.values()}
        for mode, ws in per_mode.items():
            unknown = set(ws) - set(comps)
            if unknown:
                raise ParameterError(f"weights name unknown components {sorted(unknown)}; the "
                                     f"components are {sorted(comps)}")
            if any(not np.isfinite(v) or v < 0 for v in ws.values()) or not any(ws.values()):
                raise ParameterError(f"weights for {mode!r} must be >= 0 with one > 0; got {ws}")
            per_mode[mode] = {n: float(ws.get(n, 0.0)) for n in comps}
        return per_mode

    def _fit(self, interactions: Interactions) -> None:
        spec = self._component_spec()
        self.validation_: dict[str, Any] = {}
        if self.weights is not None:
            self.weights_ = self._fixed_weights(spec)
        else:
            self.weights_ = self._choose_weights(spec, interactions)
        t0 = time.perf_counter()
        self.components_ = {name: c.clone().fit(interactions) for name, c in spec.items()
                            if any(self.weights_[m][name] > 0 for m in self.weights_)}
        # cold-start customers: the (first) popularity component, fitted even at weight 0
        pop_name = next((n for n, c in spec.items() if isinstance(c, PopularityRecommender)
                         and not c.first_purchases), None)
        if pop_name is None:
            self.fallback_ = PopularityRecommender(window_days=30).fit(interactions)
        elif pop_name in self.components_:
            self.fallback_ = self.components_[pop_name]
        else:
            self.fallback_ = spec[pop_name].clone().fit(interactions)
        log.info("hybrid: refitted %d components in %.1f s; weights %s", len(self.components_),
                 time.perf_counter() - t0, self.weights_)

    def _choose_weights(self, spec: Mapping[str, Recommender], inter: Interactions
                        ) -> dict[str, dict[str, float]]:
        names = list(spec)
        equal = {m: {n: 1.0 for n in names} for m in MODES.values()}
        cutoff = inter.as_of - pd.Timedelta(days=int(self.validation_days))
        try:
            vtrain = inter.before(cutoff)
        except (DataError, ParameterError) as e:  # too little history: say so, equal weights
            log.warning("hybrid: no validation window (%s); using equal weights", e)
            self.validation_["note"] = f"no validation window: {e}"
            return equal
        pairs = inter.window(cutoff)
        u = vtrain.customers.get_indexer(pairs[s.CUSTOMER_ID])
        i = vtrain.items.get_indexer(pairs[s.PRODUCT_ID])
        ok = (u >= 0) & (i >= 0) & (i < vtrain.n_warm_items)
        truth = sp.csr_matrix((np.ones(ok.sum(), dtype=np.float32), (u[ok], i[ok])),
                              shape=(vtrain.n_customers, vtrain.n_items))
        truth.sum_duplicates()
        truth.data[:] = 1.0
        if truth.nnz == 0 or len(names) == 1:
            self.validation_["note"] = "no validation purchase by a known customer" \
                if truth.nnz == 0 else "one component"
            return equal
        fitted = {n: c.clone().fit(vtrain) for n, c in spec.items()}
        seen = vtrain.matrix(binary=True)
        rng = np.random.default_rng(self.random_state)
        targets: dict[bool, tuple[np.ndarray, sp.csr_matrix]] = {}
        for exclude in MODES:
            t = (truth - truth.multiply(seen)).tocsr() if exclude else truth
            t.eliminate_zeros()
            rows = np.flatnonzero(np.diff(t.indptr) > 0)
            if len(rows) > self.max_validation_customers:
                rows = np.sort(rng.choice(rows, self.max_validation_customers, replace=False))
            targets[exclude] = (rows, t[rows])
        pools = self._pools(fitted, targets, seen, vtrain.n_warm_items)
        weights = {}
        for exclude, mode in MODES.items():
            rows, t = targets[exclude]
            if not len(rows):
                weights[mode] = equal[mode]
                continue
            cand, mats = pools[exclude]
            weights[mode], self.validation_[mode] = self._search(cand, mats, t, exclude)
        return weights

    def _pools(self, fitted: Mapping[str, Recommender],
               targets: Mapping[bool, tuple[np.ndarray, sp.csr_matrix]], seen: sp.csr_matrix,
               n_warm: int) -> dict[bool, tuple[np.ndarray, dict[str, np.ndarray]]]:
        """Per mode: each validation customer's candidate pool (the union of every component's
        top ``pool`` warm items, -1 = empty slot) and each component's standardised score on
        it, standardised as :meth:`_blend` does in that mode."""
        out = {}
        for ex, (rows, _) in targets.items():
            cands, mats = [], {n: [] for n in fitted}
            for start in range(0, len(rows), BATCH):
                r = rows[start:start + BATCH]
                zs, tops = {}, []
                for n, m in fitted.items():
                    z, off, tie = _standardised(m, r, ex)
                    z = np.array(z)  # own it (a row-constant model returns a broadcast view)
                    if tie is not None:  # the component's own tie-break, as it ranks alone
                        z += np.float32(tie) * m._tie_break()[None, :]
                    zs[n] = (z, off)
                    key = z.copy()
                    if ex:
                        exclude_rows(key, seen, r)
                    key[:, n_warm:] = -np.inf  # rank warm items only, as the harness does
                    tops.append(top_n(key, self.pool)[0])
                cand = np.sort(np.concatenate(tops, axis=1), axis=1)
                cand[:, 1:][cand[:, 1:] == cand[:, :-1]] = -1
                cands.append(cand)
                for n, (z, off) in zs.items():
                    g = np.take_along_axis(z, np.maximum(cand, 0), axis=1) \
                        - off[:, None].astype(np.float32)
                    g[cand < 0] = 0.0
                    mats[n].append(g)
            out[ex] = (np.concatenate(cands) if cands else np.empty((0, 0), dtype=np.int64),
                       {n: np.concatenate(v) if v else np.empty((0, 0)) for n, v in mats.items()})
        return out

    def _search(self, cand: np.ndarray, mats: Mapping[str, np.ndarray], truth: sp.csr_matrix,
                exclude: bool) -> tuple[dict[str, float], dict[str, Any]]:
        """Coordinate ascent on validation NDCG@k over the candidate pools: start from the
        best single component, try each weight of WEIGHT_GRID for each component in turn, keep
        a change only if NDCG improves by more than 0.1%, up to three sweeps."""
        names = list(mats)
        k = min(int(self.k), cand.shape[1])
        hits = code_hits(cand, truth, np.arange(truth.shape[0]))
        gains = 1.0 / np.log2(np.arange(2, k + 2))
        ideal = np.cumsum(gains)[np.minimum(np.diff(truth.indptr), k) - 1]
        empty = cand < 0

        def score(w: Mapping[str, float]) -> float:
            """Validation NDCG@k of the blend with weights ``w`` (ties: lower pool slot)."""
            total = np.zeros(cand.shape, dtype=np.float32)
            for n, wn in w.items():
                if wn:
                    total += np.float32(wn) * mats[n]
            total[empty] = -np.inf
            part = np.argpartition(-total, k - 1, axis=1)[:, :k]
            order = np.argsort(-np.take_along_axis(total, part, axis=1), axis=1, kind="stable")
            top = np.take_along_axis(part, order, axis=1)
            got = np.take_along_axis(hits, top, axis=1) & ~np.take_along_axis(empty, top, axis=1)
            return float(np.mean((got @ gains) / ideal))

        single = {n: score({n: 1.0}) for n in names}
        best_name = max(single, key=lambda n: single[n])
        w = {n: (1.0 if n == best_name else 0.0) for n in names}
        best = single[best_name]
        for _ in range(3):
            improved = False
            for n in names:
                for g in WEIGHT_GRID:
                    if g == w[n]:
                        continue
                    trial = {**w, n: g}
                    if not any(trial.values()):
                        continue
                    val = score(trial)
                    if val > best * (1 + MIN_GAIN):
                        best, w, improved = val, trial, True
            if not improved:
                break
        info = {"ndcg_single": single, "ndcg_blend": best, "customers": len(cand)}
        log.info("hybrid %s: validation NDCG@%d single %s -> blend %.4f with %s",
                 MODES[exclude], k, {n: round(v, 4) for n, v in single.items()}, best, w)
        return w, info

    # --- score ---------------------------------------------------------------------------
    def _cold_scores(self) -> np.ndarray:
        return self.fallback_._cold_scores()

    def _ranking_scores(self, rows: np.ndarray, exclude: bool
                        ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        known = rows >= 0
        if known.all():
            key, offset, tie_scale = self._blend(rows, exclude)
        else:
            key = np.empty((len(rows), len(self.items_)), dtype=np.float32)
            offset, tie_scale = np.zeros(len(rows)), np.zeros(len(rows), dtype=np.float32)
            if known.any():
                key[known], offset[known], tie_scale[known] = self._blend(rows[known], exclude)
            cold = np.asarray(self._cold_scores(), dtype=np.float32)
            cold_tie = tie_scale_of(cold[None, :])
            key[~known] = cold + cold_tie[0] * self._tie_break()
            tie_scale[~known] = cold_tie[0]
        if exclude:
            exclude_rows(key, self.seen_, rows)
        return key, offset, tie_scale

    def _blend(self, rows: np.ndarray, exclude: bool
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Sum over components of weight x z-score (a customer's blended score is in standard
        deviations of each component's scores for that customer), plus the components'
        popularity tie-breaks, as ranking key with its offset and tie scale."""
        w = self.weights_[MODES[bool(exclude)]]
        total: np.ndarray | None = None
        offset = np.zeros(len(rows))
        tie_size = 0.0
        shared = np.zeros(len(self.items_), dtype=np.float32)  # row-constant parts + ties
        for name, model in self.components_.items():
            wn = float(w.get(name, 0.0))
            if wn <= 0:
                continue
            z, off, tie = _standardised(model, rows, exclude, wn)
            offset += off
            if tie is not None:
                tie_size += wn * tie
            if model._row_constant:
                shared += z[0]
                continue
            if total is None:
                total = z
            else:
                total += z
        if tie_size:
            shared += np.float32(tie_size) * self._tie_break()
        if total is None:
            total = np.empty((len(rows), len(self.items_)), dtype=np.float32)
            total[:] = shared
        else:
            total += shared[None, :]
        return total, offset, np.full(len(rows), tie_size, dtype=np.float32)

    def sources(self, customer_ids: object, items: np.ndarray, *,
                exclude_purchased: bool = False) -> np.ndarray:
        """Which component put each recommended item where it is: for each customer (row) and
        item of ``items`` (product ids as :meth:`recommend` returns them, ``None`` padding), the
        name of the component with the largest weighted z-score for it in the blend, the
        reason the list shows. A cold-start customer's items come from the fallback
        (``"popularity"``); padding gets ``None``."""
        self._check_fitted()
        rows = self._rows(customer_ids)
        codes = self._item_codes(items)
        out = np.full(codes.shape, None, dtype=object)
        w = self.weights_[MODES[bool(exclude_purchased)]]
        names = [n for n, m in self.components_.items() if float(w.get(n, 0.0)) > 0]
        cold = rows < 0
        out[cold[:, None] & (codes >= 0)] = FALLBACK
        known = np.flatnonzero(~cold)
        for start in range(0, len(known), BATCH):
            r = known[start:start + BATCH]
            c = np.maximum(codes[r], 0)
            best = np.full(c.shape, -np.inf)
            which = np.zeros(c.shape, dtype=np.int64)
            for j, name in enumerate(names):
                z, off, _ = _standardised(self.components_[name], rows[r], exclude_purchased,
                                          float(w[name]))
                got = np.take_along_axis(np.asarray(z), c, axis=1) - off[:, None]
                better = got > best
                best[better], which[better] = got[better], j
            label = np.asarray(names, dtype=object)[which]
            label[codes[r] < 0] = None
            out[r] = label
        return out

    def _score(self, rows: np.ndarray) -> np.ndarray:
        key, offset, tie_scale = self._blend(rows, exclude=False)
        key -= offset.astype(np.float32)[:, None]
        key -= tie_scale[:, None] * self._tie_break()[None, :]
        return key
