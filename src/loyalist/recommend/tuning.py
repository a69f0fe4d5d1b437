"""Hyper-parameters chosen on a validation window before ``as_of``, and the full comparison
report (every model next to the recent-popularity baseline, on both tasks).

Tuning never sees the test period: for a test starting at ``as_of``, the models are fitted on
purchases before ``as_of - validation_days`` and scored on ``[as_of - validation_days, as_of)``.
The grids are small and generic (orders of magnitude, not values fitted to one data set); the
search is coordinate-wise, one parameter at a time in grid order, keeping a change only when it
improves the mean over both tasks of NDCG@k relative to the baseline's NDCG on that task.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from loyalist.errors import ParameterError
from loyalist.recommend.evaluate import TASKS, evaluate, evaluate_models, temporal_split
from loyalist.recommend.hybrid import HybridRecommender, default_components
from loyalist.recommend.interactions import ON_SALE_DAYS, Interactions
from loyalist.recommend.popularity import PopularityRecommender
from loyalist.recommend.ranking import Recommender
from loyalist.recommend.registry import COMPONENTS, METHODS, make_model

log = logging.getLogger(__name__)

__all__ = ["GRIDS", "baseline_model", "compare", "tune"]

#: method -> parameter -> values tried (first value of each list = tried first).
GRIDS: dict[str, dict[str, tuple[Any, ...]]] = {
    "popularity": {"window_days": (7, 14, 30, 90)},
    "adoption": {"window_days": (7, 14, 30, 90)},
    "history": {"half_life_days": (30.0, 90.0, 365.0)},
    "itemknn": {"k": (10, 30, 100), "half_life_days": (30.0, 90.0, 365.0)},
    "als": {"alpha": (1.0, 3.0, 10.0), "half_life_days": (30.0, 90.0, 365.0)},
    "content": {"k": (10, 30, 100), "price_weight": (0.0, 0.5)},
}


def baseline_model(window_days: int = 30) -> PopularityRecommender:
    """Recent popularity: distinct customers per item over the last ``window_days``."""
    return PopularityRecommender(window_days=window_days)


def _objective(model: Recommender, train: Interactions, test: pd.DataFrame, k: int,
               base: Mapping[str, float]) -> tuple[float, dict[str, float]]:
    ndcg = {t: evaluate(model, train, test, task=t, k=k, full_mrr=False)["ndcg"] for t in TASKS}
    rel = [ndcg[t] / base[t] if base[t] > 0 else ndcg[t] for t in TASKS]
    return float(np.mean(rel)), ndcg


def tune(train: Interactions, *, methods: Sequence[str] = COMPONENTS, validation_days: int = 30,
         k: int = 10, random_state: int | None = 0,
         grids: Mapping[str, Mapping[str, Sequence[Any]]] | None = None) -> dict[str, Any]:
    """Choose each method's parameters on the last ``validation_days`` of ``train``.

    Returns ``{"params": {method: {param: value}}, "trials": [...], "validation": {...}}``;
    ``params`` feeds :func:`loyalist.recommend.registry.make_model`.
    """
    grids = GRIDS if grids is None else grids
    cutoff = train.as_of - pd.Timedelta(days=int(validation_days))
    vtrain = train.before(cutoff)
    vtest = train.window(cutoff)
    base_model = baseline_model().fit(vtrain)
    base = {t: evaluate(base_model, vtrain, vtest, task=t, k=k, full_mrr=False)["ndcg"]
            for t in TASKS}
    chosen: dict[str, dict[str, Any]] = {}
    trials: list[dict[str, Any]] = []
    for method in methods:
        if method == "hybrid":
            continue
        if method not in METHODS:
            raise ParameterError(f"method {method!r} is unknown; use one of {', '.join(METHODS)}")
        current: dict[str, Any] = {}
        best = -np.inf
        tried: dict[tuple[tuple[str, Any], ...], float] = {}
        for name, values in dict(grids.get(method, {})).items():
            for v in values:
                trial = {**current, name: v}
                key = tuple(sorted(trial.items()))
                if key not in tried:
                    t0 = time.perf_counter()
                    model = make_model(method, random_state=random_state,
                                       params={method: trial}).fit(vtrain)
                    tried[key], ndcg = _objective(model, vtrain, vtest, k, base)
                    trials.append({"method": method, "params": trial, "objective": tried[key],
                                   **{f"ndcg_{t}": x for t, x in ndcg.items()},
                                   "seconds": time.perf_counter() - t0})
                if tried[key] > best:
                    best, current = tried[key], trial
        chosen[method] = current
        log.info("tuned %s on validation: %s (objective %.3f)", method, current, best)
    return {"params": chosen, "trials": trials,
            "validation": {"cutoff": str(cutoff.date()), "as_of": str(train.as_of.date()),
                           "baseline_ndcg": base}}


def compare(lines: pd.DataFrame, catalog: pd.DataFrame | None, as_of: pd.Timestamp | str, *,
            test_days: int = 30, methods: Sequence[str] | None = None, tune_params: bool = False,
            validation_days: int | None = None, k: int = 10, random_state: int | None = 0,
            params: Mapping[str, Mapping[str, Any]] | None = None,
            on_sale_days: int | None = ON_SALE_DAYS) -> dict[str, Any]:
    """Temporal evaluation of ``methods`` (default: all) next to the recent-popularity baseline
    on both tasks, ranking only products on sale (bought in the ``on_sale_days`` before
    ``as_of``; None: every product), as ``loyalist recommend`` serves them. ``lines`` must
    reach ``as_of + test_days``. With ``tune_params`` each
    method's parameters are chosen on the ``validation_days`` (default ``test_days``) before
    ``as_of`` first; explicit ``params`` override them."""
    methods = list(methods) if methods is not None else list(METHODS)
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ParameterError(f"methods {unknown} are unknown; use some of {', '.join(METHODS)}")
    train, test = temporal_split(lines, as_of, test_days, catalog=catalog)
    chosen: dict[str, dict[str, Any]] = {}
    tuning = None
    if tune_params:
        t0 = time.perf_counter()
        wanted = COMPONENTS if "hybrid" in methods else [m for m in methods if m in COMPONENTS]
        tuning = tune(train, methods=wanted, validation_days=validation_days or test_days, k=k,
                      random_state=random_state)
        tuning["seconds"] = time.perf_counter() - t0
        chosen = tuning["params"]
    for m, p in (params or {}).items():
        chosen[m] = {**chosen.get(m, {}), **dict(p)}
    models: dict[str, Recommender] = {"baseline": baseline_model(test_days)}
    for m in methods:
        models[m] = make_model(m, random_state=random_state, params=chosen)
    if "hybrid" in models and validation_days:
        models["hybrid"].set_params(validation_days=int(validation_days))
    table = evaluate_models(models, train, test, k=k, baseline="baseline",
                            on_sale_days=on_sale_days)
    report: dict[str, Any] = {
        "as_of": str(pd.Timestamp(as_of).date()), "test_days": test_days, "k": k,
        "train": {"purchases": len(train.events), "customers": train.n_customers,
                  "items": train.n_warm_items},
        "baseline": f"recent popularity (distinct customers over the last {test_days} days)",
        "tasks": TASKS, "params": chosen, "metrics": table.to_dict(orient="records"),
        "on_sale_days": on_sale_days,
        "summary": _summary(table, models),
    }
    if tuning is not None:
        report["tuning"] = tuning
    hybrid = models.get("hybrid")
    if isinstance(hybrid, HybridRecommender):
        report["hybrid"] = {"weights": hybrid.weights_, "validation": hybrid.validation_}
    return report


def _summary(table: pd.DataFrame, models: Mapping[str, Recommender]) -> dict[str, Any]:
    """Per task: the best model and its lift over the baseline; the hybrid against its best
    part (relative differences, negative = worse)."""
    out: dict[str, Any] = {}
    for task, grp in table.groupby("task", sort=False):
        g = grp.set_index("model")
        others = g.drop(index="baseline")
        if others.empty:
            continue
        best = str(others["ndcg"].idxmax())
        entry: dict[str, Any] = {"best_model": best,
                                 "best_hr_lift": float(g.loc[best, "hr_lift"]),
                                 "best_ndcg_lift": float(g.loc[best, "ndcg_lift"])}
        hybrid = models.get("hybrid")
        if isinstance(hybrid, HybridRecommender) and "hybrid" in g.index:
            declared = hybrid.components if hybrid.components is not None \
                else default_components(None)
            parts = [p for p in declared if p in g.index]
            if parts:
                part = str(g.loc[parts, "ndcg"].idxmax())
                entry["hybrid_best_part"] = part
                entry["hybrid_vs_best_part_hr"] = float(g.loc["hybrid", "hr"]
                                                        / g.loc[parts, "hr"].max() - 1)
                entry["hybrid_vs_best_part_ndcg"] = float(g.loc["hybrid", "ndcg"]
                                                          / g.loc[part, "ndcg"] - 1)
        out[str(task)] = entry
    return out
