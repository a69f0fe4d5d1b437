"""From response predictions to a promotion plan: merchant context, goal values, eligibility,
the optimizer, and the tables a merchant reads (:func:`make_plan`).

The steps it puts together are beside it: :mod:`loyalist.promote.context` (what surrounds the
decision), :mod:`loyalist.promote.season` (the planning window's season and competitors),
:mod:`loyalist.promote.effects` (the effects and goal values; its docstring states how every
number of a plan is valued), :mod:`loyalist.promote.eligibility` (who may be sent what),
:mod:`loyalist.promote.instance` (the optimizer's problem, inventory caps and months) and
:mod:`loyalist.promote.explain` (the words and numbers a merchant reads).
"""

from __future__ import annotations

import logging
import re
from typing import Any

import numpy as np
import pandas as pd

from loyalist import schema as s
from loyalist.errors import InfeasibleError
from loyalist.money import amount
from loyalist.promote.catalog import (
    CLEAR_GOALS,
    COUNT_GOALS,
    MONTH_DAYS,
    Constraints,
    PlanParams,
)
from loyalist.promote.context import PlanContext
from loyalist.promote.effects import target_categories
from loyalist.promote.explain import (
    budget_text,
    closed_season_text,
    confidence_level,
    empty_promotions,
    goal_unit,
    goal_value_text,
    holdout_text,
    in_merchant_words,
    losing_money,
    mechanics_notes,
    rationale,
    segment_table,
    summed_interval,
    why_empty,
)
from loyalist.promote.instance import (
    build_instance,
    floor_sends,
    meet_inventory_caps,
    schedule,
    to_matrix,
)
from loyalist.promote.optimize import (
    AUTO_MILP_MAX_CELLS,
    Problem,
    Solution,
    greedy_baseline,
    sensitivity,
    solve,
)
from loyalist.response.priors import PriorResponse
from loyalist.response.uplift import ALIVE
from loyalist.schema import NEW_SEGMENT

log = logging.getLogger(__name__)

__all__ = ["hold_out", "make_plan", "sends_table"]

SENSITIVITY_POINTS = 12


def make_plan(pred: pd.DataFrame, ctx: PlanContext, params: PlanParams,
              constraints: Constraints, *, method: str = "auto", time_limit: float = 60.0,
              with_baseline: bool = True) -> dict[str, Any]:
    """Solve the plan and build what the merchant reads: ``customers`` (the execution plan),
    ``promotions`` (promotion x segment, ranked), ``allocation``, ``segments``, ``sensitivity``
    and a JSON-ready ``summary``. With a budget per month (:meth:`PlanParams.months`) the
    plan is solved on the pooled budget and its sends scheduled into the months
    (:func:`loyalist.promote.instance.schedule`); ``solution`` is then the pooled solve,
    before sends that fit no month were left out."""
    inst = build_instance(pred, ctx, params, constraints)
    try:
        def solver(problem: Problem) -> Solution:
            return solve(problem, method=method, time_limit=time_limit)

        def search(problem: Problem) -> Solution:  # the caps' price search
            return solve(problem, method="lagrangian", time_limit=time_limit)

        # only where `auto` solves exactly is a faster search worth its one extra exact solve
        n, m = np.shape(inst.problem.cost)
        exact = method == "auto" and n * m <= AUTO_MILP_MAX_CELLS
        sol, cap_notes = meet_inventory_caps(inst, solver(inst.problem), solver,
                                             search if exact else None)
    except InfeasibleError as e:
        raise InfeasibleError(in_merchant_words(str(e), inst.promotions,
                                                constraints.source)) from None
    inst.notes.extend(cap_notes)
    v = np.asarray(inst.problem.value)
    cost = np.asarray(inst.problem.cost)
    choice = sol.choice.copy()
    months = params.months()
    idx = np.flatnonzero(choice >= 0)
    spent = cost[idx, choice[idx]]
    # priority: goal value per unit of spend, best first (ties: customer order)
    ratio = v[idx, choice[idx]] / np.where(spent > 0, spent, np.nan)
    by_priority = np.argsort(-np.nan_to_num(ratio, nan=-np.inf), kind="stable")
    idx, spent = idx[by_priority], spent[by_priority]
    month = np.zeros(len(idx), dtype=int)
    dropped = 0
    floors = np.asarray(inst.problem.promo_min_spend, dtype=float) \
        if inst.problem.promo_min_spend is not None else np.full(len(inst.promotions), np.nan)
    if len(months) > 1:
        # the sends that minimum spends rest on are placed first, then the rest; both in
        # priority order
        order = np.argsort(~floor_sends(choice[idx], spent, floors), kind="stable")
        month = np.empty(len(idx), dtype=int)
        month[order] = schedule(spent[order], [b for _, _, b in months])
        dropped = int((month < 0).sum())
        choice[idx[month < 0]] = -1
        idx, month = idx[month >= 0], month[month >= 0]
    chosen = choice >= 0
    cell = pd.Series(np.arange(len(inst.pred)),
                     index=pd.MultiIndex.from_arrays([inst.rows, inst.cols]))
    take = cell.reindex(pd.MultiIndex.from_arrays([idx, choice[idx]])).to_numpy()
    picked = inst.pred.iloc[take].reset_index(drop=True)
    picked["expected_incremental_value"] = v[idx, choice[idx]]
    starts = np.array([str((ctx.as_of + pd.Timedelta(days=a)).date()) for a, _, _ in months])
    picked["send_month"] = month + 1
    picked["send_from"] = starts[month]
    seg = ctx.customers["segment"].astype(str) if "segment" in ctx.customers else \
        pd.Series("all", index=ctx.customers.index)
    picked["target_segment"] = seg.reindex(picked[s.CUSTOMER_ID]).fillna("unknown").to_numpy()
    if ALIVE in ctx.customers:  # whether each is still a customer widens the rows' intervals
        picked[ALIVE] = ctx.customers[ALIVE].reindex(picked[s.CUSTOMER_ID]).to_numpy(dtype=float)
    picked["priority"] = np.arange(1, len(picked) + 1)
    reasons = ctx.customers["reasons"] if "reasons" in ctx.customers else None
    picked["reasons"] = [
        "; ".join(x for x in (
            f"segment {sg}", f"p(respond) {p:.0%}", f"{ip:+.1%} chance to buy",
            (str(reasons.get(cid)) if reasons is not None and pd.notna(reasons.get(cid))
             else ""), (str(a) if a else "")) if x)
        for cid, sg, p, ip, a in zip(picked[s.CUSTOMER_ID], picked["target_segment"],
                                     picked["p_response"], picked["incremental_prob"],
                                     picked["assumption_text"], strict=True)]
    # the plan as optimised, before the hold-out: what the budget, limits and gap are about
    planned_spend = float(picked["expected_cost"].sum())
    planned_range = summed_interval(picked, "expected_cost", kinds=False)
    planned_value = float(sol.value) if not dropped else float(
        picked["expected_incremental_value"].sum())
    held = hold_out(picked, params.holdout)
    holdout = picked.loc[held, [s.CUSTOMER_ID, "promotion", "target_segment",
                                "expected_incremental_value", "expected_cost", "send_month",
                                "send_from"]].reset_index(drop=True)
    picked = picked.loc[~held].reset_index(drop=True)
    picked["priority"] = np.arange(1, len(picked) + 1)
    # each send's own 80% interval: its 10% / 90% points, the fit's sampling error (one
    # promotion's customers share it, so they add up per promotion, and each promotion x
    # segment adds the model's error of its own and its customers' survival:
    # :func:`loyalist.promote.explain.summed_interval`)
    plan_csv = picked.rename(columns={"p_response": "probability",
                                      "incremental_revenue_p10": "incremental_revenue_lo80",
                                      "incremental_revenue_p90": "incremental_revenue_hi80"})[
        [s.CUSTOMER_ID, "promotion", "target_segment", "expected_incremental_value",
         "expected_cost", "probability", "incremental_prob", "incremental_revenue",
         "incremental_revenue_lo80", "incremental_revenue_hi80", "incremental_margin",
         "priority", "send_month", "send_from", "reasons"]]

    net = picked["incremental_margin"] - picked["contact_cost"]
    picked["net_profit"] = net
    rows = []
    for (promo, sg), g in picked.groupby(["promotion", "target_segment"], sort=False):
        rev_lo, rev_hi = summed_interval(g)
        spend = g["expected_cost"].sum()
        cost_lo, cost_hi = summed_interval(g, "expected_cost", kinds=False)
        rows.append({
            "promotion": promo, "kind": g["kind"].iloc[0], "target_segment": sg,
            "customers": len(g), "participation": float(g["p_response"].mean()),
            "incremental_buyers": float(g["incremental_prob"].sum()),
            "incremental_revenue": float(g["incremental_revenue"].sum()),
            "incremental_revenue_lo80": rev_lo, "incremental_revenue_hi80": rev_hi,
            "incremental_margin": float(g["incremental_margin"].sum()),
            "cost": float(spend), "cost_lo80": cost_lo, "cost_hi80": cost_hi,
            "net_profit": float(g["net_profit"].sum()),
            "roi": float(g["net_profit"].sum() / spend) if spend > 0 else None,
            "goal_value": float(g["expected_incremental_value"].sum()),
            "confidence": confidence_level(g, rev_lo, rev_hi, ctx.currency),
            "rationale": rationale(promo, g["kind"].iloc[0], sg, g, params.goal, ctx),
        })
    if rows:
        promos = pd.DataFrame(rows).sort_values("goal_value", ascending=False) \
            .reset_index(drop=True)
        promos.insert(0, "rank", np.arange(1, len(promos) + 1))
    else:  # the columns still, for the CSV and Parquet readers of an empty plan
        promos = empty_promotions()
    allocation = (picked.groupby("promotion")
                  .agg(customers=(s.CUSTOMER_ID, "size"), spend=("expected_cost", "sum"),
                       goal_value=("expected_incremental_value", "sum"))
                  .reindex(inst.promotions).fillna(0.0).reset_index())
    allocation["share_of_budget"] = allocation["spend"] / params.budget if params.budget else 0.0
    segs = segment_table(ctx, picked)
    budgets = np.linspace(0.0, 2.0 * params.budget, SENSITIVITY_POINTS) if params.budget > 0 \
        else np.array([0.0])
    # each budget's ROI from the very plan its value is read from (net profit as the plan's)
    profit = to_matrix(inst.pred, (inst.pred["incremental_margin"]
                                 - inst.pred["contact_cost"]).to_numpy(dtype=float),
                     inst.rows, inst.cols, (len(inst.customers), len(inst.promotions)), 0.0)
    # warm from the plan's own solve, unless the inventory caps' price changed the problem
    sens = sensitivity(inst.problem, budgets, time_limit=time_limit, profit=profit,
                       solved=None if inst.caps else sol)
    base, base_note = None, None
    if with_baseline:  # a comparison only: a baseline that cannot meet a limit is no reason
        try:           # to withhold the plan
            base = greedy_baseline(inst.problem)
        except InfeasibleError as e:
            why = re.sub(r"\b(min_spend|max_spend|inventory cap)\[(\d+)\]",
                         lambda m: f"{m[1]} of {inst.promotions[int(m[2])]}",
                         in_merchant_words(str(e), inst.promotions, None).split(";")[0])
            base_note = ("no greedy baseline to compare with: taking the best value per spend "
                         f"first could not meet the constraints ({why.removeprefix('the ')})")
    spend = float(picked["expected_cost"].sum())
    net_total = float(net.sum())
    rev_lo, rev_hi = summed_interval(picked)
    # nobody held out: the sends are the planned ones, their interval already summed
    spend_lo, spend_hi = (summed_interval(picked, "expected_cost", kinds=False) if len(holdout)
                          else planned_range)
    closed = (closed_season_text(ctx.closed_season, params, spend, len(picked), ctx.currency)
              if ctx.closed_season else None)
    # an empty plan for a closed season: the season is why, said once
    empty = None if chosen.any() else closed or why_empty(inst, params, ctx.currency)
    value = float(picked["expected_incremental_value"].sum()) if len(holdout) \
        else planned_value
    # the solver's bound holds for one pooled budget, a relaxation of the monthly ones
    gap = sol.gap if not dropped else (sol.bound - planned_value) / max(abs(sol.bound), 1e-12)
    gap = max(0.0, gap)  # the bound is proven >= the value: below 0 is rounding (and -0.0)
    per_unit = spend / value if params.goal in COUNT_GOALS and value > 0 else None
    losing = (losing_money(params.goal, net_total, value, per_unit, ctx.currency)
              if chosen.any() else None)
    short = []
    if dropped:  # a floor can still fail if its own sends fit no month
        got = picked.groupby("promotion")["expected_cost"].sum()
        short = [f"{p} spends {got.get(p, 0.0):,.2f}, below its minimum of {lo:,.2f}: sends "
                 "that fit no month's budget were left out; raise the budget per month or "
                 "lower the minimum"
                 for p, lo in zip(inst.promotions, floors, strict=True)
                 if lo > 0 and got.get(p, 0.0) < lo * (1 - 1e-9)]
    # a minimum spend met by sends worth less than nothing: the merchant's constraint costs
    worth = picked.groupby("promotion")["expected_incremental_value"].sum()
    short += [f"{constraints.where}min_spend {p} = {amount(lo, ctx.currency)} is met by sends "
              "worth "
              f"{goal_value_text(params.goal, float(worth[p]))} in all: the minimum costs more "
              "than it returns; lower or remove it unless the promotion must run"
              for p, lo in constraints.min_spend.items()
              if lo > 0 and p in worth and worth[p] < 0]
    month_notes = []
    if len(months) > 1:
        month_notes.append(
            f"budget per month: {params.budget_per_month:,.2f} over {len(months)} months of "
            f"{MONTH_DAYS} days; each send goes to the earliest month with budget left, the "
            "highest value per spend first, and its effect is estimated as of the plan date")
    if dropped:
        month_notes.append(f"{dropped:,} chosen send(s) fit no month's remaining budget and "
                           "were left out")
    by_month = (picked.groupby("send_month")
                .agg(customers=(s.CUSTOMER_ID, "size"), spend=("expected_cost", "sum"),
                     goal_value=("expected_incremental_value", "sum"))
                .reindex(range(1, len(months) + 1)).fillna(0.0))
    month_rows = [{"month": k + 1, "from": str(starts[k]),
                   "days": d, "budget": b, "customers": int(by_month.at[k + 1, "customers"]),
                   "spend": float(by_month.at[k + 1, "spend"]),
                   "goal_value": float(by_month.at[k + 1, "goal_value"])}
                  for k, (_, d, b) in enumerate(months)]
    new = picked["target_segment"] == NEW_SEGMENT
    activated = (float(picked.loc[new, "expected_incremental_value"].sum())
                 if params.goal in ("retention", "reactivation") and new.any() else None)
    if activated is not None:
        month_notes.append(
            f"{picked.loc[new, 'expected_incremental_value'].sum():,.1f} of the "
            f"{goal_value_text(params.goal, value)} are first purchases by registered customers "
            f"who have not bought yet ({NEW_SEGMENT}): customers activated, not kept")
    budget_note = budget_text(inst, params, planned_spend, int(chosen.sum()), ctx.currency,
                              planned_range)
    if len(holdout):
        month_notes.append(holdout_text(holdout, len(picked), params.holdout, spend,
                                        planned_spend, ctx.currency))
    candidates = [p for p in inst.promotions if p in set(inst.pred["promotion"])]
    # what this plan did first (the budget left unspent or binding, the hold-out, the
    # months), then what its inputs assume, then how each promotion kind works
    assumptions = list(dict.fromkeys(
        ([budget_note] if budget_note else []) + month_notes + ([base_note] if base_note else [])
        + ctx.assumptions + inst.notes
        # what the intervals rest on (:mod:`loyalist.response.model_error`)
        + ([pred.attrs["interval_note"]] if pred.attrs.get("interval_note") and
           (picked["method"] != PriorResponse.method).any() else [])
        + sorted({t for t in picked["assumption_text"].astype(str) if t})
        + mechanics_notes(ctx, candidates)))
    summary = {
        "budget": float(params.budget), "budget_per_month": params.budget_per_month,
        "months": month_rows, "goal": params.goal, "period_days": params.period_days,
        "as_of": str(ctx.as_of.date()), "segments": params.segments or None,
        "offer_fit": bool(params.offer_fit),
        # the categories whose clearance the goal values (named, else the overstocked ones)
        "categories_to_clear": target_categories(ctx, params)
        if params.goal in CLEAR_GOALS else None,
        "spend": spend, "spend_lo80": spend_lo, "spend_hi80": spend_hi,
        "expected_value": value, "goal_value": value,
        # of a retention or reactivation goal's value, the first purchases of registered
        # customers who had not bought (customers activated, not kept)
        "goal_value_activated": activated,
        "goal_unit": goal_unit(params, ctx), "cost_per_goal_unit": per_unit,
        "incremental_revenue": float(picked["incremental_revenue"].sum()),
        "incremental_revenue_lo80": rev_lo, "incremental_revenue_hi80": rev_hi,
        "incremental_margin": float(picked["incremental_margin"].sum()),
        "net_profit": net_total, "roi": net_total / spend if spend > 0 else None,
        "customers_targeted": len(picked), "customers_considered": len(inst.customers),
        # the control group held out of the chosen customers (None without --holdout)
        "holdout": {"share": params.holdout, "customers": len(holdout),
                    "expected_value": float(holdout["expected_incremental_value"].sum()),
                    "spend": float(holdout["expected_cost"].sum())}
        if params.holdout > 0 else None,
        "eligible_customers": int(inst.problem.eligible.any(axis=1).sum()),  # type: ignore[union-attr]
        "excluded": inst.excluded,
        "confidence": confidence_level(picked, rev_lo, rev_hi, ctx.currency),
        # why nobody is targeted, in one sentence (None when someone is); also a warning
        "empty_reason": empty,
        "optimizer": {"method": sol.method, "bound": sol.bound, "gap": gap,
                      "seconds": sol.seconds, "status": sol.status,
                      "greedy_value": None if base is None else base.value,
                      # both before the hold-out: the greedy plan holds none out
                      "greedy_gap_vs_plan": None if base is None or planned_value == 0 else
                      (planned_value - base.value) / abs(planned_value),
                      "left_out_by_months": dropped},
        "promotions": promos.to_dict(orient="records"),
        "sensitivity": sens.to_dict(orient="records"),
        "assumptions": assumptions,
        "warnings": [w for w in (empty, losing, *short, *inst.warnings,
                                 None if closed == empty else closed) if w],
    }
    return {"summary": summary, "customers": plan_csv, "promotions": promos,
            "allocation": allocation, "segments": segs, "sensitivity": sens,
            "holdout": holdout, "sends": sends_table(plan_csv, holdout),
            "solution": sol, "instance": inst}


#: the hold-out's draws: fixed, so the same plan re-made holds out the same customers
HOLDOUT_SEED = 20240601


def hold_out(picked: pd.DataFrame, share: float) -> np.ndarray:
    """Which chosen sends to hold out as a control group: ``share`` of each promotion x
    segment's customers, drawn at random (its count rounded at random, so the shares add up
    to ``share`` on average, and never the group's last customer: a group of one is sent).
    A random draw within each group the plan chose alike is what makes the held-out
    customers' purchases the sent ones' counterfactual."""
    held = np.zeros(len(picked), dtype=bool)
    if share <= 0 or picked.empty:
        return held
    rng = np.random.default_rng(HOLDOUT_SEED)
    groups = picked.groupby(["promotion", "target_segment"], sort=True).indices
    for _, rows in sorted(groups.items()):
        k = min(int(np.floor(share * len(rows) + rng.random())), len(rows) - 1)
        held[rng.choice(rows, size=k, replace=False)] = True
    return held


def sends_table(plan_csv: pd.DataFrame, holdout: pd.DataFrame) -> pd.DataFrame:
    """The plan as promotion history (``sends.csv``): one row per customer sent a promotion
    and per customer held out (promotion ``control``, ``control_for`` the promotion held back),
    dated the first day of its send month. Loaded after the campaign (``loyalist ingest
    sends.csv --table promotions``) it is the history the next response model learns from and
    the cool-down reads."""
    sent = pd.DataFrame({s.CUSTOMER_ID: plan_csv[s.CUSTOMER_ID],
                         s.SENT_AT: plan_csv["send_from"], s.PROMOTION: plan_csv["promotion"],
                         s.CONTROL_FOR: None})
    ctrl = pd.DataFrame({s.CUSTOMER_ID: holdout[s.CUSTOMER_ID],
                         s.SENT_AT: holdout["send_from"], s.PROMOTION: s.CONTROL,
                         s.CONTROL_FOR: holdout["promotion"]})
    out = pd.concat([sent, ctrl], ignore_index=True)
    # the promotions table's types (a date, and text also where no one is held out), so the
    # store keeps them as the CSV reads
    out = out.astype({s.SENT_AT: "datetime64[ns]", s.CONTROL_FOR: "string"})
    return out.sort_values([s.SENT_AT, s.CUSTOMER_ID], kind="stable").reset_index(drop=True)
