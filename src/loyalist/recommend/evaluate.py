"""Ranking metrics and the temporal evaluation harness.

Protocol: train on purchases before ``as_of``, test on the next ``test_days``. The ranking is
over the full catalogue of products bought in training (no sampled negatives); the customers
are those with at least one training purchase and at least one relevant test purchase. Two
tasks, reported separately:

- ``all``: anything the customer buys next (repeat purchases count);
- ``new``: items new to the customer: products they bought in training are removed from both
  the ranking and the ground truth.

Metrics at cutoff k (Järvelin & Kekäläinen 2002 for NDCG with binary gains and
``IDCG = sum_{r<=min(|rel|,k)} 1/log2(r+1)``): hit rate (share of customers with a relevant
item in the top k), NDCG, precision (hits / k), recall (hits / |relevant|), MRR (mean
reciprocal rank of the first relevant item in the full ranking, 0 if none), catalogue coverage
(share of the catalogue appearing in someone's top k) and novelty (mean self-information
``-log2 p(i)`` of the recommended items, p(i) the share of training customers who bought i;
Zhou et al. 2010).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from loyalist import schema as s
from loyalist.errors import DataError, ParameterError, is_whole_number
from loyalist.recommend.interactions import RETURNED, Interactions
from loyalist.recommend.ranking import Recommender

log = logging.getLogger(__name__)

__all__ = [
    "TASKS", "coverage", "evaluate", "evaluate_models", "ground_truth", "hit_rate", "mrr",
    "ndcg", "novelty", "precision", "recall", "temporal_split",
]

TASKS = {
    "all": "anything the customer buys next (repeat purchases count)",
    "new": "items new to the customer (training purchases out of ranking and ground truth)",
}
METRICS = ("hr", "ndcg", "mrr", "precision", "recall", "coverage", "novelty")


# --- metrics on ids ----------------------------------------------------------------------
def _check_k(k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ParameterError(f"k = {k!r} is impossible; use an integer >= 1")
    return int(k)


def hits_matrix(recommended: object, relevant: Sequence[Collection[object]]) -> np.ndarray:
    """Boolean (n_customers, depth): whether each recommended item is relevant."""
    rec = np.asarray(recommended, dtype=object)
    if rec.ndim != 2 or rec.shape[0] != len(relevant):
        raise ParameterError(f"recommended must be 2-d with one row per customer; got shape "
                             f"{rec.shape} for {len(relevant)} customers")
    sets = [set(r) for r in relevant]
    return np.array([[x in r for x in row] for row, r in zip(rec, sets, strict=True)],
                    dtype=bool).reshape(rec.shape)


def _dcg_weights(depth: int) -> np.ndarray:
    return 1.0 / np.log2(np.arange(2, depth + 2))


def _hr(h: np.ndarray, k: int) -> float:
    return float(h[:, :k].any(axis=1).mean()) if len(h) else float("nan")


def _ndcg(h: np.ndarray, n_rel: np.ndarray, k: int) -> float:
    if not len(h):
        return float("nan")
    w = _dcg_weights(k)
    kk = min(k, h.shape[1])
    dcg = h[:, :kk].astype(float) @ w[:kk]
    ideal = np.cumsum(w)[np.minimum(n_rel, k) - 1]
    return float(np.mean(dcg / ideal))


def _mrr(h: np.ndarray) -> float:
    if not len(h):
        return float("nan")
    any_hit = h.any(axis=1)
    first = np.argmax(h, axis=1) + 1
    return float(np.mean(np.where(any_hit, 1.0 / first, 0.0)))


def _precision(h: np.ndarray, k: int) -> float:
    return float(np.mean(h[:, :k].sum(axis=1) / k)) if len(h) else float("nan")


def _recall(h: np.ndarray, n_rel: np.ndarray, k: int) -> float:
    return float(np.mean(h[:, :k].sum(axis=1) / n_rel)) if len(h) else float("nan")


def _n_relevant(relevant: Sequence[Collection[object]]) -> np.ndarray:
    n = np.array([len(set(r)) for r in relevant])
    if (n == 0).any():
        raise ParameterError(f"{int((n == 0).sum())} customers have no relevant item; leave "
                             "them out of the evaluation (they have no test purchase)")
    return n


def hit_rate(recommended: object, relevant: Sequence[Collection[object]], k: int = 10) -> float:
    """Share of customers with at least one relevant item in their top ``k``."""
    k = _check_k(k)
    _n_relevant(relevant)
    return _hr(hits_matrix(recommended, relevant), k)


def ndcg(recommended: object, relevant: Sequence[Collection[object]], k: int = 10) -> float:
    """Mean NDCG@k with binary gains."""
    k = _check_k(k)
    return _ndcg(hits_matrix(recommended, relevant), _n_relevant(relevant), k)


def mrr(recommended: object, relevant: Sequence[Collection[object]]) -> float:
    """Mean reciprocal rank of the first relevant item over the given ranking depth (pass the
    full ranking for the unbounded MRR); 0 for a customer with no relevant item in it."""
    _n_relevant(relevant)
    return _mrr(hits_matrix(recommended, relevant))


def precision(recommended: object, relevant: Sequence[Collection[object]], k: int = 10) -> float:
    """Mean of (relevant items in the top k) / k."""
    k = _check_k(k)
    _n_relevant(relevant)
    return _precision(hits_matrix(recommended, relevant), k)


def recall(recommended: object, relevant: Sequence[Collection[object]], k: int = 10) -> float:
    """Mean of (relevant items in the top k) / (number of relevant items)."""
    k = _check_k(k)
    return _recall(hits_matrix(recommended, relevant), _n_relevant(relevant), k)


def coverage(recommended: object, n_catalog: int, k: int = 10) -> float:
    """Share of the ``n_catalog`` products that appear in at least one top-k list."""
    k = _check_k(k)
    rec = np.asarray(recommended, dtype=object)[:, :k].ravel()
    rec = rec[pd.notna(rec)]
    return float(len(pd.unique(rec)) / n_catalog) if n_catalog else float("nan")


def novelty(recommended: object, popularity: Mapping[object, float] | pd.Series, k: int = 10
            ) -> float:
    """Mean self-information ``-log2 p(i)`` of the top-k items (``popularity`` maps a product
    to p(i), the share of customers who bought it; unknown products are skipped)."""
    k = _check_k(k)
    p = pd.Series(popularity, dtype=float)
    rec = pd.Series(np.asarray(recommended, dtype=object)[:, :k].ravel()).dropna()
    share = p.reindex(rec.to_numpy()).dropna()
    share = share[share > 0]
    return float(np.mean(-np.log2(share.to_numpy()))) if len(share) else float("nan")


# --- the same metrics on codes (fast path for the harness) ---------------------------------
def code_hits(idx: np.ndarray, truth: sp.csr_matrix, rows: np.ndarray) -> np.ndarray:
    """Boolean hits of item codes ``idx`` (n, depth; -1 = empty slot) against ``truth``
    (customers x items, nonzero = relevant) for truth rows ``rows``."""
    n_items = truth.shape[1]
    sub = truth[rows].tocsr()
    sub.sort_indices()
    keys_true = np.repeat(np.arange(len(rows), dtype=np.int64), np.diff(sub.indptr)) * n_items \
        + sub.indices
    keys = np.arange(len(rows), dtype=np.int64)[:, None] * n_items + idx
    hit = np.isin(keys, keys_true, assume_unique=False)
    return hit & (idx >= 0)


def code_metrics(idx: np.ndarray, truth_rows: sp.csr_matrix, k: int, *,
                 item_share: np.ndarray | None = None, n_catalog: int | None = None
                 ) -> dict[str, float]:
    """All metrics from a ranking of codes ``idx`` (n, depth >= k) and the customers' truth."""
    h = code_hits(idx, truth_rows, np.arange(truth_rows.shape[0]))
    n_rel = np.diff(truth_rows.indptr)
    out = {"hr": _hr(h, k), "ndcg": _ndcg(h, n_rel, k), "mrr": _mrr(h),
           "precision": _precision(h, k), "recall": _recall(h, n_rel, k)}
    top = idx[:, :k]
    valid = top[top >= 0]
    if n_catalog:
        out["coverage"] = float(len(np.unique(valid)) / n_catalog)
    if item_share is not None:
        p = item_share[valid]
        p = p[p > 0]
        out["novelty"] = float(np.mean(-np.log2(p))) if len(p) else float("nan")
    return out


# --- harness -----------------------------------------------------------------------------
def temporal_split(lines: pd.DataFrame, as_of: pd.Timestamp | str, test_days: int = 30, *,
                   catalog: pd.DataFrame | None = None) -> tuple[Interactions, pd.DataFrame]:
    """Train interactions (``ordered_at < as_of``) and test pairs (customer_id, product_id) in
    ``[as_of, as_of + test_days)``; with the column ``returned`` (:func:`.interactions.load`),
    a product sent back in full is no test purchase either."""
    if not is_whole_number(test_days) or test_days < 1:
        raise ParameterError(f"test_days = {test_days!r} is impossible; use an integer >= 1")
    ts = pd.Timestamp(as_of)
    when = pd.to_datetime(lines[s.ORDERED_AT])
    train = lines[when < ts]
    test = lines[(when >= ts) & (when < ts + pd.Timedelta(days=test_days))]
    if RETURNED in test:
        test = test[~test[RETURNED].fillna(False).astype(bool)]
    if train.empty:
        raise DataError(f"no purchase before as_of {ts.date()}; choose a later as_of")
    if test.empty:
        raise DataError(f"no purchase in the {test_days} test days from {ts.date()}; choose an "
                        "earlier as_of (the test window must lie inside the data)")
    pairs = test[[s.CUSTOMER_ID, s.PRODUCT_ID]].astype(str).drop_duplicates(ignore_index=True)
    return Interactions.from_lines(train, as_of=ts, catalog=catalog), pairs


def ground_truth(train: Interactions, test: pd.DataFrame, task: str
                 ) -> tuple[np.ndarray, sp.csr_matrix]:
    """Customer rows (into ``train.customers``) and their relevant items (csr, one row per
    evaluated customer, columns = ``train.items``) for ``task`` (see :data:`TASKS`)."""
    if task not in TASKS:
        raise ParameterError(f"task {task!r} is unknown; use one of {', '.join(TASKS)}")
    u = train.customers.get_indexer(test[s.CUSTOMER_ID].astype(str))
    i = train.items.get_indexer(test[s.PRODUCT_ID].astype(str))
    ok = (u >= 0) & (i >= 0) & (i < train.n_warm_items)
    truth = sp.csr_matrix((np.ones(ok.sum(), dtype=np.float32), (u[ok], i[ok])),
                          shape=(train.n_customers, train.n_items))
    truth.sum_duplicates()
    truth.data[:] = 1.0
    if task == "new":
        seen = train.matrix(binary=True)
        truth = (truth - truth.multiply(seen)).tocsr()
        truth.eliminate_zeros()
    rows = np.flatnonzero(np.diff(truth.indptr) > 0)
    return rows, truth[rows]


def rank_codes(model: Recommender, rows: np.ndarray, depth: int, *, exclude_purchased: bool,
               n_warm_items: int, on_sale: np.ndarray | None = None) -> np.ndarray:
    """Item codes of each customer's top ``depth`` among the warm items (catalogue order of
    the training interactions the model was fitted on), and only those ``on_sale`` (a mask
    over the items) when given; never one the customer sent back in full, as served."""
    mask = np.zeros(len(model.items_), dtype=bool)
    mask[:n_warm_items] = True
    if on_sale is not None:
        mask &= on_sale
    out = np.empty((len(rows), depth), dtype=np.int64)
    sent_back = model._returner_rows(model.customers_[rows])
    for start, idx, _ in model._ranked_blocks(rows, depth, exclude_purchased, mask, sent_back):
        out[start:start + len(idx)] = idx
    return out


def evaluate(model: Recommender, train: Interactions, test: pd.DataFrame, *, task: str = "all",
             k: int = 10, full_mrr: bool = True, on_sale_days: int | None = None
             ) -> dict[str, Any]:
    """Metrics of a model fitted on ``train`` for ``task``; MRR over the full ranking unless
    ``full_mrr=False`` (then MRR@k). With ``on_sale_days`` the ranking holds only products
    bought in that many days before the cutoff (:meth:`Interactions.on_sale`), as
    ``loyalist recommend`` serves them."""
    k = _check_k(k)
    model._check_fitted()
    if not (model.items_.equals(train.items) and model.customers_.equals(train.customers)):
        raise ParameterError("the model was not fitted on these training interactions; fit it "
                             "on the train part of temporal_split")
    rows, truth = ground_truth(train, test, task)
    if not len(rows):
        raise DataError(f"task {task!r}: no customer has both a training purchase and a "
                        "relevant test purchase; widen the test window")
    depth = max(k, train.n_warm_items) if full_mrr else k
    on_sale = train.on_sale(on_sale_days) if on_sale_days is not None else None
    idx = rank_codes(model, rows, min(depth, train.n_warm_items), n_warm_items=train.n_warm_items,
                     exclude_purchased=task == "new", on_sale=on_sale)
    if idx.shape[1] < k:
        idx = np.pad(idx, ((0, 0), (0, k - idx.shape[1])), constant_values=-1)
    share = model.item_popularity_ / max(train.n_customers, 1)
    out = code_metrics(idx, truth, k, item_share=share, n_catalog=train.n_warm_items)
    out["customers"] = len(rows)
    return out


def evaluate_models(models: Mapping[str, Recommender], train: Interactions, test: pd.DataFrame,
                    *, tasks: Sequence[str] = ("all", "new"), k: int = 10,
                    baseline: str | None = None, full_mrr: bool = True,
                    on_sale_days: int | None = None) -> pd.DataFrame:
    """Fit each model on ``train`` and evaluate it on every task: one row per (task, model)
    with the metrics, ``fit_s`` and, when ``baseline`` names one of the models, the relative
    lift of HR and NDCG over it (``hr_lift`` = hr / baseline hr - 1)."""
    rows = []
    for name, model in models.items():
        t0 = time.perf_counter()
        model.fit(train)
        fit_s = time.perf_counter() - t0
        for task in tasks:
            t1 = time.perf_counter()
            m = evaluate(model, train, test, task=task, k=k, full_mrr=full_mrr,
                         on_sale_days=on_sale_days)
            rows.append({"task": task, "model": name, **m, "fit_s": fit_s,
                         "eval_s": time.perf_counter() - t1})
            log.info("%s %s: %s", task, name, m)
    frame = pd.DataFrame(rows)
    if baseline is not None:
        if baseline not in models:
            raise ParameterError(f"baseline {baseline!r} is not one of the models "
                                 f"{sorted(models)}")
        base = frame[frame["model"] == baseline].set_index("task")
        for metric in ("hr", "ndcg"):
            frame[f"{metric}_lift"] = frame[metric] / frame["task"].map(base[metric]) - 1.0
    return frame
