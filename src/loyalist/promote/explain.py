"""The words and numbers a merchant reads in a plan: each promotion x segment's rationale,
confidence and 80% interval, the goal's value and unit, the offers' mechanics, why a plan
is empty, leaves budget unspent, loses money or falls in a closed season, and the
optimizer's messages in the merchant's words."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from loyalist import schema as s
from loyalist.money import amount, whole, with_code
from loyalist.promote.catalog import (
    COUNT_GOALS,
    GOAL_UNITS,
    PlanParams,
    amount_text,
    catalog_points_rate,
    split_list,
)
from loyalist.promote.context import PlanContext
from loyalist.promote.effects import OVERSTOCK_BONUS, target_categories
from loyalist.promote.instance import PlanInstance, to_matrix
from loyalist.response.priors import PriorResponse
from loyalist.response.uplift import ALIVE, Z80
from loyalist.response.value import Offer, mechanics_text
from loyalist.schema import CHURN_TIERS, NEW_SEGMENT

__all__ = ["closed_season_text", "goal_value_text", "losing_money"]

#: a plan leaving more than this share of its budget unspent says why (:func:`budget_text`)
UNSPENT_SHARE = 0.05


def in_merchant_words(message: str, promotions: list[str], source: str | None) -> str:
    """An optimizer message in the merchant's words: promotion names for the optimizer's
    column numbers, the constraints file's keys for its row names, and the file."""
    text = re.sub(r"\bpromotion (\d+)\b",
                  lambda m: promotions[int(m[1])] if int(m[1]) < len(promotions) else m[0],
                  message)
    text = text.replace("promo_min_spend", "min_spend").replace("promo_max_spend", "max_spend")
    text = text.replace("promo_max_count", "inventory cap")
    return f"{source}: {text}" if source and "_spend" in text else text


def mechanics_notes(ctx: PlanContext, promotions: list[str]) -> list[str]:
    """One assumption per kind among ``promotions``: what a redemption adds and costs, with
    the catalog's numbers (:func:`loyalist.response.value.mechanics_text`)."""
    cat = ctx.catalog.drop_duplicates("name").set_index("name")
    rate, given = catalog_points_rate(ctx.catalog)
    by_kind: dict[str, list[Offer]] = {}
    for p in promotions:
        if p not in cat.index:
            continue
        row = cat.loc[p]
        ms = pd.to_numeric(row.get("min_spend"), errors="coerce")
        price = ctx.item_prices.get(p)
        by_kind.setdefault(str(row["kind"]), []).append(Offer(
            name=str(p), value=float(row["value"]),
            min_spend=float(ms) if pd.notna(ms) and ms > 0 else None,
            item_price=float(price) if price is not None and np.isfinite(price) else None,
            categories=tuple(split_list(row.get("category")))))
    return [mechanics_text(k, offers, points_rate=rate, points_given=given)
            for k, offers in by_kind.items()]


def empty_promotions() -> pd.DataFrame:
    """The ranked promotions of a plan with none: no row, the columns
    (:data:`~loyalist.schema.PLAN_PROMOTION_COLUMNS`) and their types, so a BI tool reading
    ``promotions.csv`` or the report's export sees the same header as for any other plan."""
    text = ("promotion", "kind", "target_segment", "confidence", "rationale")
    return pd.DataFrame({c: pd.Series(dtype="string" if c in text else "int64"
                                      if c in ("rank", "customers") else "float64")
                         for c in s.PLAN_PROMOTION_COLUMNS})


def confidence_level(pred: pd.DataFrame, lo: float, hi: float, code: str | None = None
                     ) -> str:
    """'high' when ``lo``..``hi``, the 80% interval of the rows' incremental revenue
    (:func:`summed_interval`), excludes zero and is narrower than the revenue itself, and it
    carries the response model's error for kinds of customers (``error_scale``:
    :mod:`loyalist.response.model_error`) for every row; 'low' when it includes zero or most
    rows rest on assumed response; else 'medium'. Without that error an interval is the fit's
    sampling error alone, too narrow for a promotion x segment row: about half of them held
    their true revenue on generated stores."""
    if pred.empty:
        return "n/a"
    prior = pred["assumption"].astype(bool).mean()
    if prior > 0.5:
        return "low (mostly assumed response: no comparable promotion history)"
    mean = float(pred["incremental_revenue"].sum())
    if lo <= 0:
        return (f"low (the 80% interval of the incremental revenue, {lo:,.0f} to "
                f"{whole(hi, code)}, includes zero)")
    if hi - lo >= mean or prior > 0:
        return "medium"
    if not _model_error_known(pred):
        return ("medium (the 80% interval is the response model's sampling error only: its "
                "error for these kinds of customers could not be checked on the history)")
    return "high"


def _model_error_known(pred: pd.DataFrame) -> bool:
    """Does every measured row carry the response model's error scale?"""
    if "error_scale" not in pred:
        return False
    scale = pred["error_scale"]
    if "method" in pred:
        scale = scale[pred["method"] != PriorResponse.method]
    return bool(scale.notna().all())


def model_error(rows: pd.DataFrame, col: str = "incremental_revenue") -> pd.Series:
    """Each promotion x segment row's (``target_segment``; else each promotion's) distance
    from its point to its 10% or 90% point for the response model's error for kinds of
    customers: ``Z80 x error_scale x |value|`` of its sends, added up (one row's customers
    share their group's error; :mod:`loyalist.response.model_error`). Zero where a send has
    no error scale (rows on priors: their interval is the priors' range)."""
    if "error_scale" not in rows or rows.empty:
        return pd.Series(dtype=float)
    d = Z80 * rows["error_scale"].fillna(0.0).to_numpy(dtype=float) * rows[col].abs().to_numpy()
    keys = [rows["promotion"].to_numpy()] + (
        [rows["target_segment"].to_numpy()] if "target_segment" in rows else [])
    return pd.Series(d).groupby(keys).sum()


#: the least P(alive) :func:`survival_variance` divides by (a guard against 0, not a model)
ALIVE_FLOOR = 1e-3


def survival_variance(rows: pd.DataFrame, col: str = "incremental_revenue") -> float:
    """The variance of ``col`` summed over ``rows`` (sends) from whether each customer is still
    one, given their P(alive) (:data:`~loyalist.response.uplift.ALIVE`, the response model's own;
    0 without it). A prediction ``v`` is an expectation over that: a customer who has left
    buys and redeems nothing, with or without an offer (Fader, Hardie & Lee 2005), so their
    true value is ``v / p`` with probability ``p`` and 0 otherwise, variance
    ``v^2 (1 - p) / p``, independent between customers. For a cost only its discount part
    varies (the contact is paid either way). The bootstrap and the model's error are about
    the response's level, which averages over who has left; a row of a few customers, or of
    customers likely gone, does not: on a generated coffee store (seed 11) 43 of 105 rows
    missed their truth, 16 of them rows whose every customer had left, truth 0
    (BENCHMARKS.md, "Where the rows' intervals miss")."""
    if ALIVE not in rows or rows.empty:
        return 0.0
    p = np.clip(rows[ALIVE].fillna(1.0).to_numpy(dtype=float), ALIVE_FLOOR, 1.0)
    v = rows[col].to_numpy(dtype=float)
    if col == "expected_cost" and "contact_cost" in rows:
        v = v - rows["contact_cost"].fillna(0.0).to_numpy(dtype=float)
    return float((v ** 2 * (1.0 - p) / p).sum())


def summed_interval(rows: pd.DataFrame, col: str = "incremental_revenue", *,
                    kinds: bool = True) -> tuple[float, float]:
    """80% interval of the summed expected ``col`` of ``rows`` (sends) from each row's 10/90%
    points and, with ``kinds``, the response model's error for kinds of customers
    (:func:`model_error`: measured on incremental revenue, so not for a cost).

    The points are the sampling error of the response model's fit (bootstrap bags), and one
    promotion's customers share its fitted models (a bag refits them for all of them at once),
    so within a promotion the errors add up: the promotion's distance from the point is the sum
    of its rows' distances to their 10% (90%) points. Promotions are bootstrapped independently,
    so their distances add in quadrature. (Adding every row's error in quadrature, as for
    independent customers, made the interval of a plan of a few thousand customers about 10x
    too narrow: it covered the true value of 2 of 52 generated plans.) The model's error for
    kinds of customers is one per promotion x segment row, independent of the bootstrap's and
    between rows, so each row's adds in quadrature too: a row's interval widens by it, a plan's
    of many rows far less. (Added to every send and summed within a promotion, it made the
    plans' intervals 2.5x wider.) Whether each customer is still one
    (:func:`survival_variance`) is independent between customers: it adds in quadrature,
    and matters for small rows and rows of customers likely gone."""
    mean = float(rows[col].sum())
    by = rows["promotion"].to_numpy()
    # a prediction without the points (a fit saved before the cost's) has only its point
    p10, p90 = (rows[c] if c in rows else rows[col] for c in (f"{col}_p10", f"{col}_p90"))
    lo = (rows[col] - p10).groupby(by).sum().clip(lower=0.0)
    hi = (p90 - rows[col]).groupby(by).sum().clip(lower=0.0)
    model = float((model_error(rows, col) ** 2).sum()) if kinds else 0.0
    own = model + Z80 ** 2 * survival_variance(rows, col)
    return (mean - float(np.sqrt((lo ** 2).sum() + own)),
            mean + float(np.sqrt((hi ** 2).sum() + own)))


def rationale(promo: str, kind: str, seg: str, g: pd.DataFrame, goal: str, ctx: PlanContext
              ) -> str:
    c = ctx.customers.reindex(g[s.CUSTOMER_ID])
    who = f"{len(g):,} {seg} customer{'' if len(g) == 1 else 's'}"
    bits = []
    if "churn_probability" in c and c["churn_probability"].notna().any():
        bits.append(f"mean churn risk {c['churn_probability'].mean():.0%}")
    if "recency_days" in c and c["recency_days"].notna().any():
        bits.append(f"last bought {c['recency_days'].median():.0f} days ago (median)")
    why = ", ".join(bits)
    rev = float(g["incremental_revenue"].sum())
    lift = float(g["incremental_prob"].mean())
    effect = ((f"expected to lift buying by {lift:.1%} points and " if lift >= 0 else
               f"expected to lower buying by {-lift:.1%} points and ")
              + (f"add {amount(rev, ctx.currency)} in revenue" if rev >= 0 else
                 f"lower revenue by {amount(-rev, ctx.currency)} (discounts on orders that "
                 "would come anyway)"))
    source = _revenue_source(promo, kind, g, ctx) if rev >= 0 else None
    if source:
        effect += source
    if goal == "retention" and seg == NEW_SEGMENT:
        goal = "retention: customers activated, their first purchase, not customers kept"
    elif goal == "retention" and _mostly_low_risk(c):
        # exploratory report 6, finding 14: retention money on Champions, explained nowhere
        kept, cost = float(g["incremental_prob"].sum()), float(g["expected_cost"].sum())
        per = (f", {100 * kept / cost:.1f} per 100{' ' + ctx.currency if ctx.currency else ''}"
               " of spend" if cost > 0 else "")
        goal = (f"retention: most of them are at low churn risk, but the offer is expected to "
                f"make {kept:.1f} more of them buy in the period{per}; retention counts the "
                "customers an offer makes buy who would not have, whatever their risk")
    return f"Send {promo} ({kind.replace('_', ' ')}) to {who}" + (f" ({why})" if why else "") \
        + f": {effect} for {amount(g['expected_cost'].sum(), ctx.currency)} of spend ({goal})."


def _mostly_low_risk(c: pd.DataFrame) -> bool:
    """Are most of these customers in the low churn tier (``churn_tier``, the scores')?"""
    if "churn_tier" not in c or c["churn_tier"].isna().all():
        return False
    return bool((c["churn_tier"].astype(str) == CHURN_TIERS[-1]).mean() > 0.5)


#: what a redemption adds to its order, as a rationale says where revenue comes from
ADDED_BY = {"fixed_voucher": "topping orders up to the {min_spend} minimum spend",
            "bogo": "the two units each redemption adds", "bundle": "the items bundles add",
            "percent_discount": "the items redemptions add"}


def _revenue_source(promo: str, kind: str, g: pd.DataFrame, ctx: PlanContext) -> str | None:
    """Where a promotion x segment's revenue comes from, when the offer's mechanics (what
    its redemptions add to their orders, less their discount) carry more than half of it:
    '(7,039 from topping orders up to the 500 minimum spend, net of the discount; less 751
    lost with fewer orders at the usual basket)'. A voucher that lowers buying but adds revenue said
    only "lower buying ... and add 6,288 in revenue" (exploratory report 8, finding 2)."""
    need = ("incremental_orders", "basket", "expected_redemptions", "redemption_added",
            "redemption_in_price")
    if kind not in ADDED_BY or not all(c in g for c in need):
        return None
    orders = float((g["incremental_orders"] * g["basket"]).sum())
    added = float((g["expected_redemptions"]
                   * (g["redemption_added"] - g["redemption_in_price"])).sum())
    total = orders + added
    if added <= 0 or total <= 0 or added < 0.5 * total:
        return None
    cat = ctx.catalog.drop_duplicates("name").set_index("name")
    ms = pd.to_numeric(cat.at[promo, "min_spend"], errors="coerce") \
        if promo in cat.index and "min_spend" in cat else np.nan
    if kind == "fixed_voucher" and not (pd.notna(ms) and ms > 0):
        return None
    what = ADDED_BY[kind].format(min_spend=amount_text(float(ms)) if pd.notna(ms) else "")
    rest = (f"{amount_text(orders)} from the extra orders at the usual basket" if orders >= 0
            else f"less {amount_text(-orders)} lost with fewer orders at the usual basket")
    return f" ({amount_text(added)} from {what}, net of the discount; {rest})"


def range_text(lo: float | None, hi: float | None) -> str:
    """' (80%: 5,120 to 7,480)': an amount's 80% interval, in :func:`amount_text`'s digits;
    '' without one (an end unknown, or no wider than its point)."""
    return "" if lo is None or hi is None or hi <= lo else \
        f" (80%: {amount_text(lo)} to {amount_text(hi)})"


def spend_range_text(summ: dict) -> str:
    """A plan summary's spend interval (:func:`range_text`); '' for a plan saved before it, or
    a spend without one (nobody targeted, or a fit without the cost's points)."""
    return range_text(summ.get("spend_lo80"), summ.get("spend_hi80"))


def goal_value_text(goal: str, value: float, unit: str | None = None) -> str:
    """'16.7 customers kept' / '1,234 of incremental revenue': a plan's value in its goal's
    unit, or ``unit`` (a plan's ``goal_unit``; counts and small amounts with one decimal)."""
    digits = 1 if goal in COUNT_GOALS or abs(value) < 100 else 0
    return f"{value:,.{digits}f} {unit or GOAL_UNITS[goal]}"


def holdout_text(holdout: pd.DataFrame, sent: int, share: float, spend: float,
                 planned_spend: float, code: str | None = None) -> str:
    """What the hold-out is, what it leaves out of the numbers and how to use it."""
    n = len(holdout)
    return (f"hold-out: {n:,} of the {n + sent:,} customers the plan chose ({share:.0%}, drawn "
            "at random within each promotion x segment) are not sent their promotion; they are "
            "the control group whose purchases, against the sent customers', measure what the "
            f"plan made. Spend ({amount(spend, code)}), expected value and ROI are for the "
            f"{sent:,} sent; the budget, spend limits, optimality gap and budget curve are for "
            f"the plan before the hold-out (spend {amount(planned_spend, code)}). sends.csv "
            "lists both groups as promotion history: after the response window load it "
            "(`loyalist ingest sends.csv --table promotions`) and the next model learns from "
            "it; `loyalist evaluate promotions` compares the arms")


def budget_text(inst: PlanInstance, params: PlanParams, spend: float, targeted: int,
                code: str | None = None, spend_range: tuple[float, float] | None = None
                ) -> str | None:
    """What a plan's spend says of its budget (None without a budget or without anyone
    targeted: :func:`why_empty` says that).

    - More than :data:`UNSPENT_SHARE` left unspent: why (everyone worth an offer has one, or
      the limits bind first).
    - The budget binds: the spend is the expected cost at the predicted redemptions and order
      values, and sends chosen for the most value per expected cost are more often the
      under-priced ones (a selection effect, as the winner's curse is for value), so the
      spend can run over the budget; ``spend_range`` (the spend's 80% interval, from the
      redemption model's bootstrap) says by how much it might."""
    if params.budget <= 0 or targeted == 0:
        return None
    if spend >= (1 - UNSPENT_SHARE) * params.budget:
        span = range_text(*spend_range) if spend_range else ""
        return (f"the budget binds: spend {amount_text(spend)}{span} of "
                f"{amount(params.budget, code)} expected; the spend is the expected cost at the "
                "predicted redemptions and order values, not a cap, and choosing the sends with "
                "the most value per expected cost favours those whose cost is under-predicted, "
                "so the actual spend can run over the budget; a use limit on each offer's codes "
                "holds it")
    v = np.asarray(inst.problem.value, dtype=float)
    worth = int((np.asarray(inst.problem.eligible, dtype=bool) & (v > 0)).any(axis=1).sum())
    left = (f"{amount_text(params.budget - spend)} of the {amount(params.budget, code)} "
            "budget is left unspent: ")
    if targeted >= worth:
        return left + (f"all {worth:,} eligible customers with an offer worth its cost are "
                       "targeted, one offer each, so a larger budget would buy nothing more")
    return left + ("the limits bind before the budget (a promotion's maximum spend, the "
                   "segment share, inventory caps or the budget per month)")


def goal_unit(params: PlanParams, ctx: PlanContext) -> str:
    """What a plan's goal value counts. Profit with overstocked categories is not profit
    alone: their revenue is credited :data:`loyalist.promote.effects.OVERSTOCK_BONUS` on top
    (avoided markdowns), so the unit says so and the net profit stays the plan's profit."""
    if params.goal == "profit" and target_categories(ctx, params):
        return (f"of goal value (incremental profit plus a {OVERSTOCK_BONUS:.0%} credit on "
                "revenue in overstocked categories)")
    return GOAL_UNITS[params.goal]


def losing_money(goal: str, net_profit: float, value: float, per_unit: float | None,
                 code: str | None = None) -> str | None:
    """A warning when a plan for another goal than profit costs more than it earns: the
    merchant buys the goal (customers kept, orders, ...) at a loss and should know its price."""
    if goal == "profit" or net_profit >= 0:
        return None
    got = goal_value_text(goal, value)
    each = (f" ({with_code(f'{per_unit:,.2f}', code)} of spend for each)"
            if per_unit is not None else "")
    return (f"this plan costs more than it earns: net profit {whole(net_profit, code)} for {got}"
            f"{each}; the profit goal picks only offers that pay for themselves")


def closed_season_text(warning: str, params: PlanParams, spend: float, targeted: int,
                       code: str | None = None) -> str:
    """:func:`loyalist.promote.season.closed_season`'s ``warning`` with what the plan did: in
    a closed season the effects follow the season
    (:func:`loyalist.promote.season.seasonal_factor`), so a plan sends nothing, or only the few
    sends still worth their cost, and keeps the budget."""
    budget = amount(params.budget, code)
    if targeted == 0:
        return f"{warning}; this plan sends nothing and keeps the whole budget of {budget}"
    return (f"{warning}; this plan spends only {amount_text(spend)} of the {budget} budget, on "
            f"{targeted:,} send(s) still worth their cost at the season's few sales")


def why_empty(inst: PlanInstance, params: PlanParams, code: str | None = None) -> str | None:
    """Why a plan chose nobody, in one sentence (None when nobody is eligible: the plan is
    refused earlier). In this order: no eligible (customer, promotion) pair has a positive
    expected value (the best one's value, and for the average-order-value goal under assumed
    response what would change it); the budget, or each month's, is below the cost of the
    cheapest send worth making (that cost, its contact cost, and the budget that buys it); or
    the limits (a promotion's maximum spend, the segment share, inventory caps) leave none."""
    goal = params.goal
    v = np.asarray(inst.problem.value, dtype=float)
    ok = np.asarray(inst.problem.eligible, dtype=bool)
    if not ok.any():
        return None
    best = np.where(ok, v, -np.inf)
    i, j = np.unravel_index(int(np.argmax(best)), best.shape)
    if best[i, j] <= 0:
        what = goal.replace("_", " ")
        text = (f"no promotion is expected to raise {what} for any of the "
                f"{int(ok.any(axis=1).sum()):,} eligible customers: the best expected value is "
                f"{amount_text(best[i, j])} ({inst.promotions[j]}), so sending anything would "
                "add nothing or lose value")
        assumed = "assumption" in inst.pred and bool(inst.pred["assumption"].astype(bool).all())
        if goal == "average_order_value" and assumed:
            text += ("; the response is assumed (no promotion history), and under the priors an "
                     "offer brings extra buyers at their usual basket and a discount, never a "
                     "larger basket: run a bundle, bogo or minimum-spend voucher with a control "
                     "group and load its history to measure what it adds")
        return text
    cost = np.asarray(inst.problem.cost, dtype=float)
    worth = ok & (v > 0)
    cheapest = np.where(worth, cost, np.inf)
    i, j = np.unravel_index(int(np.argmin(cheapest)), cheapest.shape)
    c_min = float(cheapest[i, j])
    months = params.months()
    room = max(b for _, _, b in months)
    if c_min > room * (1 + 1e-9):
        need = amount(c_min, code, up=True)
        contact = (to_matrix(inst.pred, "contact_cost", inst.rows, inst.cols, v.shape, np.nan)
                   if "contact_cost" in inst.pred else np.full(v.shape, np.nan))
        cc = float(contact[i, j])
        parts = ""
        if np.isfinite(cc):
            parts = f" ({amount(cc, code)} contact cost" + (
                f" and {amount(c_min - cc, code, up=True)} of expected discount)"
                if c_min - cc > 0 else ")")
        each = float(cheapest[worth.any(axis=1)].min(axis=1).sum())
        which = "the budget per month" if len(months) > 1 else "the budget"
        return (f"{which} {amount(room, code)} is below the cost of a single send worth "
                "making: "
                f"the cheapest, {inst.promotions[j]}, costs {need}{parts}; raise {which} to at "
                f"least {need} (sending each of the {int(worth.any(axis=1).sum()):,} customers "
                f"with an offer worth its cost their cheapest one would cost "
                f"{amount(each, code)})")
    limits = []
    hi = inst.problem.promo_max_spend
    if hi is not None and (np.nan_to_num(np.asarray(hi, dtype=float), nan=np.inf) < c_min).any():
        limits.append("a promotion's max_spend")
    share = inst.problem.group_max_share
    if share is not None and float(np.min(share)) * params.budget < c_min:
        limits.append("the most of the budget a segment may get (max_segment_share)")
    if inst.caps:
        limits.append("the inventory caps")
    return (f"sends worth making fit the budget {amount(params.budget, code)} (the cheapest "
            f"costs {amount(c_min, code)}, {inst.promotions[j]}), but the limits leave none of "
            "them: "
            + (", ".join(limits) if limits else "the constraints") + "; relax them")


def segment_table(ctx: PlanContext, picked: pd.DataFrame) -> pd.DataFrame:
    c = ctx.customers
    seg = c["segment"].astype(str) if "segment" in c else pd.Series("all", index=c.index)
    agg: dict[str, Any] = {"customers": (s.CUSTOMER_ID, "size")}
    frame = c.assign(segment=seg.to_numpy(), customer_id=c.index)
    for col, name in (("churn_probability", "mean_churn_risk"), ("clv_expected", "mean_clv"),
                      ("monetary_total", "mean_spend")):
        if col in frame:
            agg[name] = (col, "mean")
    table = frame.groupby("segment").agg(**agg)
    got = picked.groupby("target_segment").agg(
        targeted=(s.CUSTOMER_ID, "size"), spend=("expected_cost", "sum"),
        incremental_revenue=("incremental_revenue", "sum"),
        goal_value=("expected_incremental_value", "sum"))
    table = table.join(got, how="left").fillna({"targeted": 0, "spend": 0.0,
                                                 "incremental_revenue": 0.0, "goal_value": 0.0})
    table["targeted_share"] = table["targeted"] / table["customers"]
    return table.reset_index().sort_values("spend", ascending=False)
