"""How good is a plan? On a generated scenario the truth file knows every customer's true
response to every promotion, so a plan's *true* value can be measured and compared with the
oracle plan (same budget, constraints and eligibility, true effects known) and with simple
targeting rules: random, "everyone gets the cheapest promotion", "highest churn risk first".

Baselines fill the budget by the same *predicted* costs the plan uses (they know what we know),
in their own order; every plan is then scored with the true values and true costs.

A plan chosen under predicted costs may truly spend more than the budget (where the costs are
under-predicted), which the oracle, bound by the budget at true costs, may not: where the budget
binds, its share of the oracle can then pass 100% (a generated electronics store at a quarter
of its budget: 101.7%). ``share_of_oracle_at_its_spend`` therefore also compares each plan with
the oracle given the plan's own true spend as its budget (the same share where the plan stays
within the budget).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd

from loyalist import schema as s
from loyalist.promote.catalog import Constraints, PlanParams
from loyalist.promote.context import PlanContext
from loyalist.promote.instance import PlanInstance, build_instance
from loyalist.promote.optimize import Problem, solve

__all__ = ["TRUTH_TO_PREDICTION", "evaluate_against_truth", "truth_predictions"]

#: generator truth column -> response prediction column
TRUTH_TO_PREDICTION = {"incremental_purchase_prob": "incremental_prob",
                       "treated_purchase_prob": "p_response"}


def truth_predictions(truth: pd.DataFrame, catalog: pd.DataFrame) -> pd.DataFrame:
    """The truth in the shape of :meth:`loyalist.response.ResponseModel.predict` (intervals
    collapse to the point value; cost = true discount cost + contact cost)."""
    t = truth.rename(columns=TRUTH_TO_PREDICTION).copy()
    cat = catalog.set_index("name")
    t["kind"] = t["promotion"].map(cat["kind"])
    t["contact_cost"] = t["promotion"].map(cat["contact_cost"]).astype(float)
    t["expected_cost"] = t["discount_cost"] + t["contact_cost"]
    for col in ("incremental_revenue", "incremental_margin"):
        t[f"{col}_p10"] = t[col]
        t[f"{col}_p90"] = t[col]
    t["net_value"] = t["incremental_margin"] - t["contact_cost"]
    t["assumption"] = False
    t["assumption_text"] = ""
    return t


def _true_score(choice: np.ndarray, truth: PlanInstance) -> tuple[float, float]:
    idx = np.flatnonzero(choice >= 0)
    v = np.asarray(truth.problem.value)[idx, choice[idx]].sum()
    c = np.asarray(truth.problem.cost)[idx, choice[idx]].sum()
    return float(v), float(c)


def _fill(order: np.ndarray, promo: np.ndarray, inst: PlanInstance) -> np.ndarray:
    """Give ``promo[k]`` to customer ``order[k]`` while the predicted spend fits the budget."""
    cost = np.asarray(inst.problem.cost)
    elig = np.asarray(inst.problem.eligible)
    choice = np.full(cost.shape[0], -1)
    spend = 0.0
    for i, j in zip(order, promo, strict=True):
        if j < 0 or not elig[i, j]:
            continue
        if spend + cost[i, j] > inst.problem.budget:
            continue
        choice[i] = j
        spend += cost[i, j]
    return choice


def evaluate_against_truth(pred: pd.DataFrame, truth: pd.DataFrame, ctx: PlanContext,
                           params: PlanParams, constraints: Constraints, *, seed: int = 0,
                           time_limit: float = 60.0) -> dict[str, Any]:
    """True value of the model's plan and of the baselines, as shares of the oracle's."""
    rng = np.random.default_rng(seed)
    model = build_instance(pred, ctx, params, constraints)
    truth_pred = truth_predictions(truth, ctx.catalog)
    truth_pred = truth_pred[truth_pred[s.CUSTOMER_ID].isin(model.customers)]
    true = build_instance(truth_pred, ctx, params, constraints, context_effects=False)
    # align the truth instance to the model's customer order
    order = pd.Index(true.customers).get_indexer(model.customers)
    if (order < 0).any():
        missing = model.customers[order < 0][:3]
        raise ValueError(f"truth lacks customers {list(missing)}")
    tp = true.problem
    aligned = Problem(np.asarray(tp.value)[order], np.asarray(tp.cost)[order], tp.budget,
                      eligible=np.asarray(model.problem.eligible), group=model.problem.group,
                      promo_min_spend=model.problem.promo_min_spend,
                      promo_max_spend=model.problem.promo_max_spend,
                      promo_max_count=model.problem.promo_max_count,
                      group_max_share=model.problem.group_max_share)
    true = PlanInstance(aligned, model.customers, true.promotions, model.segments, truth_pred,
                        true.rows, true.cols, true.excluded, true.notes)
    ours = solve(model.problem, time_limit=time_limit)
    oracle = solve(aligned, time_limit=time_limit)
    n, m = np.asarray(model.problem.cost).shape
    elig = np.asarray(model.problem.eligible)
    # random targeting: random customers, a random eligible promotion each
    rand_promo = np.array([rng.choice(np.flatnonzero(e)) if e.any() else -1 for e in elig])
    plans = {"model": ours.choice, "oracle": oracle.choice,
             "random": _fill(rng.permutation(n), rand_promo, model)}
    cost = np.asarray(model.problem.cost)
    mean_cost = np.where(elig, cost, np.nan)
    cheapest = int(np.nanargmin(np.nanmean(mean_cost, axis=0)))
    plans["cheapest_for_everyone"] = _fill(rng.permutation(n), np.full(n, cheapest), model)
    churn = ctx.customers["churn_probability"] if "churn_probability" in ctx.customers else None
    if churn is not None:
        risk = churn.reindex(model.customers).fillna(0).to_numpy()
        value = np.asarray(model.problem.value)
        ratio = np.nansum(np.where(elig, value, np.nan), axis=0) / np.maximum(
            np.nansum(np.where(elig, cost, np.nan), axis=0), 1e-9)
        best = int(np.nanargmax(ratio))  # the campaign-level pick: best value per spend
        plans["highest_churn_first"] = _fill(np.argsort(-risk, kind="stable"),
                                             np.full(n, best), model)
    o_val, _ = _true_score(oracle.choice, true)
    out: dict[str, Any] = {"goal": params.goal, "budget": params.budget,
                           "customers": int(n), "promotions": int(m),
                           "oracle_value": o_val, "oracle_gap": oracle.gap}
    for name, choice in plans.items():
        val, spend = _true_score(choice, true)
        same = (o_val if spend <= aligned.budget * (1 + 1e-9)
                else _true_score(solve(dataclasses.replace(aligned, budget=spend),
                                       time_limit=time_limit).choice, true)[0])
        out[name] = {"true_value": val, "true_spend": spend,
                     "share_of_oracle": val / o_val if o_val > 0 else None,
                     "share_of_oracle_at_its_spend": val / same if same > 0 else None,
                     "customers": int((choice >= 0).sum())}
    out["model"]["predicted_value"] = ours.value
    out["model"]["predicted_spend"] = ours.spend
    return out
