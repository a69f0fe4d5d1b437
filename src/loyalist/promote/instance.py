"""A plan's optimisation instance: the value and cost matrices, eligibility and side
constraints for the optimizer (:func:`build_instance`, :class:`PlanInstance`), the inventory
caps held by pricing each expected redemption (:func:`meet_inventory_caps`), and the chosen
sends placed into the months' budgets (:func:`schedule`, :func:`floor_sends`)."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from loyalist import schema as s
from loyalist.errors import DataError, InfeasibleError
from loyalist.promote.catalog import Constraints, PlanParams, split_folded
from loyalist.promote.context import PlanContext
from loyalist.promote.effects import (
    SHRINKAGE_KEEP,
    apply_competitors,
    goal_values,
    offer_fit,
    shrink_effects,
)
from loyalist.promote.eligibility import (
    CATALOG_SEGMENTS_RULE,
    catalog_segments_text,
    check_segments,
    check_target_segments,
    consent_waived,
    drop_wasteful,
    eligibility,
    known_age,
    no_age_text,
    no_consent_data,
    no_offer_on_targets,
    unsold_age_limits,
    unsold_categories,
)
from loyalist.promote.optimize import Problem, Solution
from loyalist.promote.selection import PRICED_REDEMPTIONS, correct_selection, pooled_noise
from loyalist.response.priors import PriorResponse

__all__ = ["InventoryCap", "PlanInstance", "build_instance", "floor_sends",
           "meet_inventory_caps", "schedule"]

#: most solves :func:`meet_inventory_caps` makes to fit the customers per promotion to the caps
CAP_ROUNDS = 12


def to_matrix(pred: pd.DataFrame, col: str | np.ndarray, rows: np.ndarray, cols: np.ndarray,
              shape: tuple[int, int], fill: float) -> np.ndarray:
    out = np.full(shape, fill, dtype=float)
    out[rows, cols] = pred[col].to_numpy(dtype=float) if isinstance(col, str) else col
    return out


@dataclass(frozen=True)
class InventoryCap:
    """One ``[inventory_caps]`` entry: the most expected redemptions of ``category`` over
    the promotions on it (column numbers)."""

    category: str
    cap: float
    promotions: list[int]


@dataclass
class PlanInstance:
    """The optimizer's problem and the index maps back to customers and promotions."""

    problem: Problem
    customers: np.ndarray
    promotions: list[str]
    segments: list[str]
    pred: pd.DataFrame
    rows: np.ndarray
    cols: np.ndarray
    excluded: dict[str, int]
    notes: list[str]
    #: what the merchant should check before sending (catalog categories never sold, ...)
    warnings: list[str] = field(default_factory=list)
    #: the inventory caps (met by :func:`meet_inventory_caps`) and the expected redemptions
    #: of every (customer, promotion) that its cost is priced at, when there are caps
    caps: list[InventoryCap] = field(default_factory=list)
    redemptions: np.ndarray | None = None


def build_instance(pred: pd.DataFrame, ctx: PlanContext, params: PlanParams,
                   constraints: Constraints, *, context_effects: bool = True,
                   shrinkage_keep: float = SHRINKAGE_KEEP) -> PlanInstance:
    """Value and cost matrices, eligibility and side constraints for the optimizer.
    ``context_effects=False`` skips the shrinkage, the offer fit and the seasonal and
    competitor adjustments (for effects that are already exact, such as a generated
    scenario's truth); ``params.offer_fit=False`` skips the offer fit only."""
    params.check()
    constraints.check_spend(params.budget)
    if pred.empty:
        raise DataError("no (customer, promotion) predictions to plan with: the store holds no "
                        "customers known at as_of")
    ctx = check_segments(ctx)  # eligible_segments as the store spells them
    check_target_segments(ctx.catalog, params.segments)
    notes: list[str] = []
    warnings = (unsold_categories(ctx) + unsold_age_limits(ctx, constraints)
                + no_consent_data(ctx, constraints) + consent_waived(ctx, constraints)
                + no_offer_on_targets(ctx, params))
    usual_value = usual_cost = None
    if context_effects:
        # the fit shapes the shrinkage's structure: without shrinkage it has nothing to shape
        fit, fit_note = (offer_fit(pred, ctx) if params.offer_fit and shrinkage_keep < 1.0
                         else (None, None))
        pred = shrink_effects(pred, shrinkage_keep, fit)
        if ctx.closed_season and params.goal != "profit":
            # the same sends in an ordinary period: what the budget kept buys (drop_wasteful);
            # profit's value is net of the spend, so a send worth more than 0 pays for itself
            ordinary = apply_competitors(pred, dataclasses.replace(ctx, season_factor=1.0,
                                                                   promotion_season={}),
                                         params)[0]
            usual_value = goal_values(params.goal, ordinary, ctx, params)[0]
            usual_cost = ordinary["expected_cost"].to_numpy(dtype=float)
        pred, notes = apply_competitors(pred, ctx, params)
        if fit_note:
            notes.insert(0, fit_note)
    value, goal_notes = goal_values(params.goal, pred, ctx, params)
    notes += goal_notes + warnings
    ok, excluded = eligibility(pred, ctx, params, constraints)
    customers = pd.Index(pd.unique(pred[s.CUSTOMER_ID]))
    promotions = list(ctx.catalog["name"])
    constraints.check_promotions(promotions)
    keep = pred["promotion"].isin(promotions).to_numpy()
    pred, value, ok = pred[keep].reset_index(drop=True), value[keep], ok[keep]
    rows = customers.get_indexer(pred[s.CUSTOMER_ID])
    cols = pd.Index(promotions).get_indexer(pred["promotion"])
    seg = ctx.customers["segment"].astype(str) if "segment" in ctx.customers else \
        pd.Series("all", index=ctx.customers.index)
    seg_of = seg.reindex(customers).fillna("unknown").to_numpy()
    segments = sorted(set(seg_of))
    group = pd.Index(segments).get_indexer(seg_of)
    if context_effects:  # the winner's curse at a binding budget (promote.selection)
        # an assumed response's points, and an assumed use rate's (a measured promotion
        # whose redemptions were not recorded), are the assumptions' range, not noise
        assumed = (pred["method"].eq(PriorResponse.method) if "method" in pred
                   else pd.Series(False, index=pred.index))
        assumed = (assumed | pred["promotion"].isin(pred.attrs.get("use_rate_assumed", []))
                   ).to_numpy()
        pred = correct_selection(pred, cols * len(segments) + group[rows],
                                 pooled_noise(shrinkage_keep, len(promotions)), assumed)
    shape = (len(customers), len(promotions))
    v = to_matrix(pred, value, rows, cols, shape, 0.0)
    c = to_matrix(pred, "expected_cost", rows, cols, shape, 0.0)
    elig = np.zeros(shape, dtype=bool)
    elig[rows, cols] = ok
    if not elig.any():
        worst = max(excluded, key=excluded.get) if excluded else "none"
        why = (no_age_text(ctx, constraints, worst.removeprefix("under_age_"))
               if worst.startswith("under_age_") else
               catalog_segments_text(ctx.catalog, excluded)
               if worst == CATALOG_SEGMENTS_RULE else None)
        raise DataError(f"no eligible customers: every customer is excluded (largest rule: "
                        f"{worst}, {excluded.get(worst, 0):,} customers)"
                        + (f": {why}" if why else "; relax the constraints or target other "
                           "segments"))
    if constraints.min_age and not known_age(ctx).any():
        notes.append(no_age_text(ctx, constraints, None) or "")
    usual = None
    if usual_value is not None and usual_cost is not None:
        usual = (to_matrix(pred, usual_value[keep], rows, cols, shape, 0.0),
                 to_matrix(pred, usual_cost[keep], rows, cols, shape, 0.0))
    v, waste_note = drop_wasteful(v, c, elig, params.goal, constraints, promotions,
                                  usual=usual)
    if waste_note:
        notes.append(waste_note)
    cat = ctx.catalog.set_index("name").reindex(promotions)
    # the catalog's min_spend / max_spend are the offer's order thresholds (e.g. "20 off over
    # 100"); the plan's spend bounds per promotion come from the constraints
    lo = np.array([constraints.min_spend.get(p, np.nan) for p in promotions], dtype=float)
    hi = np.array([constraints.max_spend.get(p, np.nan) for p in promotions], dtype=float)
    caps: list[InventoryCap] = []
    # a cap counts the redemptions the costs are priced at (the winner's-curse correction's)
    redemptions = to_matrix(pred, PRICED_REDEMPTIONS if PRICED_REDEMPTIONS in pred
                            else "expected_redemptions", rows, cols, shape, 0.0) \
        if constraints.inventory_caps else None
    for category, cap in constraints.inventory_caps.items():
        on = [j for j, p in enumerate(promotions)  # without letter case, as min_age
              if category.casefold() in split_folded(cat.loc[p, "category"])]
        if not on:  # a typo, or a category no offer is on: the cap limits nothing, said
            warnings.append(f"{constraints.where}inventory_caps names {category!r}, which "
                            "no promotion of the catalog is on, so it limits nothing; check "
                            "its spelling against the catalog's categories")
            continue
        caps.append(InventoryCap(category, float(cap), on))
    share = None
    if constraints.max_segment_share is not None:
        share = np.full(len(segments), constraints.max_segment_share)
    problem = Problem(v, c, float(params.budget), eligible=elig, group=group,
                      promo_min_spend=lo, promo_max_spend=hi,
                      group_max_share=share)
    return PlanInstance(problem, customers.to_numpy(), promotions, segments, pred, rows, cols,
                        excluded, [n for n in notes if n], warnings, caps, redemptions)


def _used(choice: np.ndarray, redemptions: np.ndarray, cap: InventoryCap) -> float:
    """Expected redemptions of ``cap``'s promotions in a plan (``choice``: -1 for none)."""
    idx = np.flatnonzero(np.isin(choice, cap.promotions))
    return float(redemptions[idx, choice[idx]].sum())


def cap_allows(inst: PlanInstance, j: int, cap: InventoryCap) -> float:
    """The most promotion ``j`` can spend within ``cap`` alone: its eligible sends taken by
    spend per expected redemption, the last one in part (an upper bound: the budget, the
    other promotions and the other caps only lower it)."""
    ok = np.asarray(inst.problem.eligible, dtype=bool)[:, j] \
        if inst.problem.eligible is not None else np.ones(len(inst.customers), dtype=bool)
    cost = np.asarray(inst.problem.cost, dtype=float)[ok, j]
    red = np.nan_to_num(np.asarray(inst.redemptions, dtype=float)[ok, j])
    keep = cost > 0
    cost, red = cost[keep], red[keep]
    free = red <= 0
    room = cap.cap
    order = np.argsort(-cost[~free] / red[~free], kind="stable")
    c, r = cost[~free][order], red[~free][order]
    used = np.cumsum(r)
    k = int(np.searchsorted(used, room, side="right"))
    part = 0.0 if k >= len(r) else c[k] * (room - (used[k - 1] if k else 0.0)) / r[k]
    return float(cost[free].sum() + c[:k].sum() + part)


def _min_spends(inst: PlanInstance) -> np.ndarray:
    """Each promotion's ``min_spend`` (0 where it has none)."""
    floors = inst.problem.promo_min_spend
    return np.nan_to_num(np.asarray(floors, dtype=float)) if floors is not None \
        else np.zeros(len(inst.promotions))


def _check_cap_minimums(inst: PlanInstance) -> None:
    """Refuse at once a ``min_spend`` that a promotion's inventory cap cannot allow even
    alone (:func:`cap_allows`), instead of after every priced solve has missed it."""
    floors = _min_spends(inst)
    for c in inst.caps:
        for j in c.promotions:
            if floors[j] > 0 and (most := cap_allows(inst, j, c)) < floors[j] * (1 - 1e-9):
                raise InfeasibleError(
                    f"inventory cap {c.category} ({c.cap:g} expected redemptions) and "
                    f"min_spend {inst.promotions[j]} {floors[j]:,.2f} cannot both hold: "
                    f"within the cap {inst.promotions[j]} can spend at most {most:,.2f}, "
                    "even on its customers with the most spend per expected redemption; "
                    "raise the cap or lower the minimum")


def meet_inventory_caps(inst: PlanInstance, sol: Solution, solver: Any,
                        search_solver: Any | None = None) -> tuple[Solution, list[str]]:
    """Hold each ``[inventory_caps]`` category to its cap on *expected redemptions*, summed
    over every promotion on it (a promotion on several categories counts toward each).

    The cap is priced (Lagrangian relaxation, Fisher 1981): each expected redemption of a
    capped category costs ``price`` of goal value, so the optimizer prefers customers with
    more value per redemption; the price is bisected (:data:`CAP_ROUNDS` solves per cap,
    caps in turn) to the lowest at which the plan fits, and the best plan within every cap
    (valued at the true, unpriced values) is kept. Any price gives a proven bound, the priced
    problem's bound plus ``price x cap``; the lowest found is the plan's bound, so the gap is
    against the caps themselves. Should no priced plan fit, the last plan's sends with the
    least value per redemption are dropped until each cap holds. With ``search_solver`` (a
    faster one, e.g. the Lagrangian method where ``solver`` is the exact MILP) the prices are
    bisected with it and the plan at the prices found is then solved once more by
    ``solver``; every solve's plan and bound count either way."""
    if not inst.caps or inst.redemptions is None:
        return sol, []
    _check_cap_minimums(inst)
    t0 = time.perf_counter() - sol.seconds
    red = inst.redemptions
    base = np.asarray(inst.problem.value, dtype=float)
    prices = np.zeros(len(inst.caps))

    def fits(s: Solution) -> bool:
        return all(_used(s.choice, red, c) <= c.cap * (1 + 1e-9) for c in inst.caps)

    def priced(p: np.ndarray, run: Any = search_solver or solver) -> tuple[Solution, float]:
        v = base.copy()
        for price, c in zip(p, inst.caps, strict=True):
            v[:, c.promotions] -= price * red[:, c.promotions]
        s = run(dataclasses.replace(inst.problem, value=v))
        bound = s.bound + float(sum(price * c.cap for price, c in zip(p, inst.caps,
                                                                       strict=True)))
        return _resolution(inst.problem, s, s.choice), bound  # valued unpriced

    best = sol if fits(sol) else None
    bound = sol.bound  # at price 0: the problem without caps, a relaxation
    last = sol
    for _ in range(2 if len(inst.caps) > 1 else 1):
        for k, c in enumerate(inst.caps):
            if _used(last.choice, red, c) <= c.cap * (1 + 1e-9) and prices[k] == 0:
                continue
            elig = np.asarray(inst.problem.eligible, dtype=bool)[:, c.promotions]
            r = red[:, c.promotions]
            top = base[:, c.promotions][elig & (r > 0)] / r[elig & (r > 0)]
            lo, hi = 0.0, max(float(top.max()) if top.size else 0.0, 0.0) * 1.01 + 1e-9
            for _ in range(CAP_ROUNDS):
                prices[k] = (lo + hi) / 2
                s, b = priced(prices)
                bound, last = min(bound, b), s
                if _used(s.choice, red, c) <= c.cap * (1 + 1e-9):
                    hi = prices[k]
                    if fits(s) and (best is None or s.value > best.value):
                        best = s
                else:
                    lo = prices[k]
            prices[k] = hi
    if search_solver is not None and prices.any():  # the prices found, solved exactly
        s, b = priced(prices, solver)
        bound = min(bound, b)
        if fits(s) and (best is None or s.value > best.value):
            best = s
        elif best is None:
            last = s  # the fallback below drops sends from the exact plan
    notes = []
    if best is None:  # drop the sends with the least value per redemption until each cap holds
        choice = last.choice.copy()
        used = {c.category: _used(choice, red, c) for c in inst.caps}
        for c in inst.caps:
            idx = np.flatnonzero(np.isin(choice, c.promotions))
            r = red[idx, choice[idx]]
            order = np.argsort(base[idx, choice[idx]] / np.maximum(r, 1e-12), kind="stable")
            over = float(r.sum()) - c.cap
            k = int(np.searchsorted(np.cumsum(r[order]), over * (1 + 1e-12))) + 1 \
                if over > 0 else 0
            choice[idx[order[:k]]] = -1
        best = _resolution(inst.problem, last, choice)
        floors = _min_spends(inst)
        short = np.flatnonzero(best.promo_spend < floors * (1 - 1e-9))
        if len(short):
            j = int(short[0])
            c = next(c for c in inst.caps if j in c.promotions)
            raise InfeasibleError(
                f"inventory cap {c.category} ({c.cap:g} expected redemptions) and min_spend "
                f"{inst.promotions[j]} {floors[j]:,.2f} cannot both hold: the plans that spend "
                f"the minimum expect {used[c.category]:,.1f} redemptions of {c.category}, and "
                f"within the cap {inst.promotions[j]} spends {best.promo_spend[j]:,.2f}; raise "
                "the cap or lower the minimum")
        notes.append("inventory caps: no priced plan fitted every cap; the sends with the "
                     "least value per expected redemption were left out until each held")
    bound = max(bound, best.value)
    best = dataclasses.replace(best, bound=bound, seconds=time.perf_counter() - t0,
                               gap=(bound - best.value) / max(abs(bound), 1e-12))
    # the baseline and the budget curve keep the capped promotions to the plan's customers
    capped = sorted({j for c in inst.caps for j in c.promotions})
    count = np.full(len(inst.promotions), np.nan)
    count[capped] = np.bincount(best.choice[best.choice >= 0],
                                minlength=len(inst.promotions))[capped]
    inst.problem = dataclasses.replace(inst.problem, promo_max_count=count)
    for price, c in zip(prices, inst.caps, strict=True):
        names = ", ".join(inst.promotions[j] for j in c.promotions)
        notes.append(f"inventory cap {c.category}: at most {c.cap:g} expected redemptions over "
                     f"{names}; the plan expects {_used(best.choice, red, c):,.1f}"
                     + (f" (each redemption priced at {price:,.2f} of goal value to fit)"
                        if price > 0 else ""))
    return best, notes


def _resolution(problem: Problem, sol: Solution, choice: np.ndarray) -> Solution:
    """``sol`` with another ``choice``: its value, spend and per-promotion/segment totals."""
    v = np.asarray(problem.value, dtype=float)
    c = np.asarray(problem.cost, dtype=float)
    idx = np.flatnonzero(choice >= 0)
    m = v.shape[1]
    spend = c[idx, choice[idx]]
    group = np.asarray(problem.group, dtype=np.intp) if problem.group is not None else \
        np.zeros(len(choice), dtype=np.intp)
    return dataclasses.replace(
        sol, choice=choice, value=float(v[idx, choice[idx]].sum()), spend=float(spend.sum()),
        promo_spend=np.bincount(choice[idx], weights=spend, minlength=m),
        promo_count=np.bincount(choice[idx], minlength=m).astype(np.int64),
        group_spend=np.bincount(group[idx], weights=spend,
                                minlength=len(sol.group_spend)))


def schedule(cost: np.ndarray, budgets: list[float]) -> np.ndarray:
    """Send month of each chosen send, given in priority order (``cost[k]`` the k-th
    send's expected spend): first fit, so each send goes to the earliest month whose
    budget still has room for it, and no month spends more than its budget. A send that
    fits no month gets -1 (it is dropped from the plan). Month budgets that add up to the
    plan's total leave at most one send's cost unused in each month."""
    left = np.asarray(budgets, dtype=float).copy()
    cost = np.asarray(cost, dtype=float)
    month = np.full(len(cost), -1)
    tol = 1e-9 * max(1.0, float(left.sum()))
    start = 0
    for k in range(len(left)):
        if start >= len(cost):
            break
        # the longest run of the remaining sends, in priority order, that fits month k
        rest = np.flatnonzero(month[start:] < 0) + start
        fits = np.cumsum(cost[rest]) <= left[k] + tol
        run = rest[fits] if fits.all() else rest[:int(np.argmin(fits))]
        month[run] = k
        left[k] -= cost[run].sum()
        # then any later send small enough for what is left, in priority order
        later = rest[len(run):]
        for i in later[cost[later] <= left[k] + tol]:
            if left[k] < tol:
                break
            if cost[i] <= left[k] + tol:
                month[i] = k
                left[k] -= cost[i]
        unplaced = np.flatnonzero(month < 0)
        start = int(unplaced[0]) if len(unplaced) else len(cost)
    return month


def floor_sends(promo: np.ndarray, cost: np.ndarray, floors: np.ndarray) -> np.ndarray:
    """Which sends, given in priority order (``promo[k]`` the k-th send's promotion column,
    ``cost[k]`` its spend), a promotion needs to reach its minimum spend ``floors[j]`` (NaN:
    none): its best sends until their spend reaches the floor. Scheduling them first keeps
    the sends that fit no month away from the floors."""
    need = np.zeros(len(cost), dtype=bool)
    for j in np.flatnonzero(np.nan_to_num(floors, nan=0.0) > 0):
        mine = np.flatnonzero(promo == j)
        before = np.cumsum(cost[mine]) - cost[mine]  # spend of its better sends
        need[mine[before < floors[j]]] = True
    return need
