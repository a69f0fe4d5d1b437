"""From response predictions to a promotion plan: merchant context, goal values, eligibility,
the optimizer, and the tables a merchant reads.

Every number in a plan comes from the response model (learned uplift or a named prior), the
catalog's cost model, or one of the named assumptions below; ``assumptions`` in the result
lists the ones that were used.

**Goal -> value of giving promotion j to customer i** (``v_ij``; the cost ``c_ij`` is always
the expected spend: discount cost of the expected redemptions, baseline orders that use the
offer included, plus the contact cost). Revenue and margin are structural
(:func:`loyalist.response.value.structural_value`): incremental orders x the customer's basket
plus, per redemption, what the offer adds less its discount (and, for margin, less its cost
outside the price); so the average-order-value goal is what redemptions add to their orders:

================  ================================================================
retention         incremental probability of buying in the window (customers kept)
reactivation      the same, for lapsed customers only (no purchase for
                  ``LAPSED_FACTOR`` x their usual gap and at least ``LAPSED_MIN_DAYS``)
revenue           incremental revenue
profit            incremental margin after the discount, less the contact cost
visit_frequency   incremental orders
average_order_value
                  incremental revenue beyond the customer's usual basket per extra order
                  (with the structural revenue: redemptions x (added - discount))
clear_inventory   incremental revenue landing in the categories to clear (named, or the
                  inventory's overstocked ones), x (1 + ``OVERSTOCK_BONUS``): the
                  incremental orders' baskets at the customer's share of spend there,
                  plus what redemptions add less their discount where the offer is
                  (:func:`target_revenue`)
================  ================================================================

**Before valuing**, each customer's effects are shrunk towards a structure across promotions
(:func:`shrink_effects`: buying, orders and redemptions; the offer's economics per redemption
stay the customer's own): how responsive the customer is, times how strong the promotion is,
times how well the offer fits the customer (:func:`offer_fit`, an assumption); then scaled to
the planning window (:func:`apply_competitors`).

**Merchant context.** The planning window's season (``PlanContext.season_factor``, per
promotion against the campaigns that sent it: ``PlanContext.promotion_season``) scales the
incremental effects and every redemption (a busier month has more orders that use the offer,
the subsidised ones too). In a closed season (:func:`closed_season`: (almost) no sales in the
period's days of every earlier year) the factor is that season's measured index, not floored,
so offers are worth (almost) nothing, cost (almost) only their contact, and a send is bought
only if it returns what a typical send returns in an ordinary period (:func:`drop_wasteful`;
for profit, if it pays for itself): the plan keeps the budget and says so. A competitor
promotion overlapping the planning period cuts the response to our promotions: incremental
effects, and the redemptions of the customers they win, are multiplied by
``max(0.15, 1 - COMPETITOR_ELASTICITY[kind] x pressure)``, ``pressure`` = the competitor's
percent off x the share of the period it covers (an assumption: price offers compete head-on,
points and free shipping less; the effects' 10% / 90% points take 1.5x and 0.5x the
elasticity, ``ELASTICITY_RANGE``); customers who buy anyway still redeem.
Overstocked categories make revenue there worth ``OVERSTOCK_BONUS`` more under the profit goal
too (avoided markdowns and holding cost).
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
import math
import re
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from loyalist import schema as s
from loyalist.errors import DataError, InfeasibleError, ParameterError
from loyalist.promote.catalog import (
    CLEAR_GOALS,
    COUNT_GOALS,
    GOAL_UNITS,
    MONTH_DAYS,
    Constraints,
    PlanParams,
    amount_text,
    catalog_points_rate,
    split_list,
)
from loyalist.promote.optimize import Problem, Solution, greedy_baseline, sensitivity, solve
from loyalist.response.priors import RANGE as PRIOR_RANGE
from loyalist.response.priors import PriorResponse, assumed_range
from loyalist.response.value import (
    MULTI_USE,
    Offer,
    OfferMechanics,
    mechanics_text,
    structural_value,
)

log = logging.getLogger(__name__)

__all__ = ["BASKET_ELASTICITY", "CATEGORY_REVENUE_RULE", "CLOSED_SEASON", "CLOSED_SHARE",
           "COMPETITOR_ELASTICITY", "FIT_CAP", "FIT_FLOOR", "FIT_PRIOR_ITEMS", "OVERSTOCK_BONUS",
           "PlanContext", "closed_season", "closed_season_text", "competitor_pressure",
           "eligibility", "goal_value_text", "goal_values", "losing_money", "make_plan",
           "match_categories", "promotion_season_factors", "seasonal_factor",
           "target_revenue"]

#: how strongly a competitor's percent-off cuts our response, per kind (assumption)
COMPETITOR_ELASTICITY = {"percent_discount": 1.6, "fixed_voucher": 1.4, "bogo": 1.3,
                         "bundle": 1.2, "free_item": 1.1, "free_shipping": 0.8,
                         "points_multiplier": 0.6}
MIN_COMPETITOR_FACTOR = 0.15
#: the range of the assumed elasticities carried into the effects' 10% / 90% points: the
#: priors' range for assumed effects
ELASTICITY_RANGE = PRIOR_RANGE
#: extra value of a unit of revenue in an overstocked category (assumption)
OVERSTOCK_BONUS = 0.25
#: how a plan counts the incremental revenue in given categories (:func:`target_revenue`)
CATEGORY_REVENUE_RULE = (
    "The revenue counted in them is the incremental orders x the customer's usual basket x "
    "the customer's past share of spend in those categories, plus what redemptions add less "
    "their discount: all of it for an offer on those categories, the overlapping share for an "
    "offer on some of them, the customer's share for a store-wide offer")
LAPSED_FACTOR = 2.0
LAPSED_MIN_DAYS = 60.0
#: weight kept on each (customer, promotion) estimate; the rest goes to its rank-1 structure
#: (see :func:`shrink_effects`). Chosen on generated scenarios (benchmarks/bench_plan.py).
SHRINKAGE_KEEP = 0.1
#: offer fit (:func:`offer_fit`; assumptions): the share of a category offer's lift that does
#: not depend on the customer buying its categories, the cap on the fit, the pseudo-count of
#: items at the customer base's category mix that a customer's own shares are shrunk with, and
#: the elasticity of a money offer's lift to its value relative to the customer's basket
FIT_FLOOR = 0.3
FIT_CAP = 3.0
FIT_PRIOR_ITEMS = 10.0
BASKET_ELASTICITY = 0.5
#: offers worth a fixed amount of money (their depth is the amount over the basket)
MONEY_KINDS = frozenset({"fixed_voucher", "free_item", "free_shipping"})
#: the incremental effects of a prediction without the offer's mechanics (a frame not made by
#: ResponseModel): shrunk, and scaled by season and competitors, as they are
EFFECT_COLUMNS = ("incremental_prob", "incremental_orders", "incremental_revenue",
                  "incremental_revenue_p10", "incremental_revenue_p90", "incremental_margin",
                  "incremental_margin_p10", "incremental_margin_p90")
#: the volume effects of a ResponseModel prediction: shrunk and scaled; revenue, margin and cost
#: are then recomputed from them and the offer's mechanics (:func:`revalue`)
VOLUME_COLUMNS = ("incremental_prob", "incremental_orders", "incremental_orders_p10",
                  "incremental_orders_p90", "expected_redemptions")
#: per-redemption mechanics of a ResponseModel prediction (loyalist.response.value)
MECHANICS_COLUMNS = ("basket", "margin_rate", "redemption_added", "redemption_added_margin",
                     "redemption_in_price", "redemption_outside")
SENSITIVITY_POINTS = 12
#: a plan leaving more than this share of its budget unspent says why (:func:`unspent_text`)
UNSPENT_SHARE = 0.05
#: most solves :func:`meet_inventory_caps` makes to fit the customers per promotion to the caps
CAP_ROUNDS = 12
#: a send must be worth its cost: a (customer, promotion) pair whose goal value per unit of
#: expected spend is below this share of the median over all candidate pairs (eligible, value
#: and spend above 0) is not bought (:func:`drop_wasteful`)
MIN_VALUE_PER_SPEND_SHARE = 0.01
#: in a closed season (:func:`closed_season`) a pair is not bought when its value per unit of
#: spend is below this share of the median of the same candidate pairs in an ordinary period
#: (:func:`drop_wasteful`): the budget kept for the days the shop sells buys that much
CLOSED_MIN_VALUE_PER_SPEND_SHARE = 1.0
NEW_SEGMENT = s.NEW_SEGMENT


@dataclass
class PlanContext:
    """What surrounds the decision: the customers (one row each, with segment, churn, CLV,
    recency, consent, age, last contact, category shares), the catalog, the merchant context
    (inventory, competitor calendar) and the as_of."""

    customers: pd.DataFrame
    catalog: pd.DataFrame
    as_of: pd.Timestamp
    inventory: pd.DataFrame | None = None
    competitors: pd.DataFrame | None = None
    assumptions: list[str] = field(default_factory=list)
    #: expected activity in the planning window relative to the campaigns the response model
    #: learned from (:func:`seasonal_factor`); multiplies every incremental effect
    season_factor: float = 1.0
    #: the same per promotion, against the campaigns that sent it
    #: (:func:`promotion_season_factors`); a promotion not in it takes ``season_factor``
    promotion_season: dict[str, float] = field(default_factory=dict)
    season_note: str = ""
    #: :func:`closed_season`'s warning when the planning period is a closed season (the
    #: plan's warnings carry it, with what the plan did about it: :func:`closed_season_text`)
    closed_season: str | None = None
    #: price of the item each promotion adds or discounts
    #: (:func:`loyalist.response.data.offer_item_prices`), named in the offers' mechanics
    item_prices: dict[str, float] = field(default_factory=dict)


def _rate(daily: pd.Series, start: pd.Timestamp, days: int) -> float:
    """Mean orders per day over ``[start, start + days)``; NaN where the history does not
    cover the whole window."""
    end = start + pd.Timedelta(days=days)
    if start < daily.index.min() or end > daily.index.max() + pd.Timedelta(days=1):
        return math.nan
    return float(daily[(daily.index >= start) & (daily.index < end)].sum() / days)


def _season_index(daily: pd.Series, as_of: pd.Timestamp, start: pd.Timestamp, days: int,
                  *, first_year: bool = False) -> float:
    """Orders per day in ``[start, start + days)`` over the orders per day of the surrounding
    year (the 365 days centred on it, or ending at ``as_of`` when the centre is too recent;
    with ``first_year``, the history's first 365 days when the centre is too early); NaN where
    the history does not cover both or that year had no orders."""
    year = pd.Timedelta(days=365)
    ref = start + pd.Timedelta(days=days / 2) - pd.Timedelta(days=182)
    if ref + year > as_of:
        ref = as_of - year
    if first_year and ref < daily.index.min():
        ref = daily.index.min()
    base = _rate(daily, ref, 365)
    return _rate(daily, start, days) / base if base and base > 0 else math.nan


#: a planning period whose orders per day, in every earlier year of the history, were at most
#: this share of an average day's is said to have (almost) no sales (:func:`closed_season`)
CLOSED_SHARE = 0.05
#: how :func:`closed_season`'s warning begins
CLOSED_SEASON = "the plan's period had (almost) no sales in every earlier year"


def _closed_years(daily: pd.Series, as_of: pd.Timestamp, period_days: int
                  ) -> list[tuple[pd.Timestamp, float]] | None:
    """The start and seasonal index of the planning period's days in each earlier year the
    history covers, when every one of them is at most :data:`CLOSED_SHARE` (a closed
    season); None otherwise (no earlier year covers the period, or one had sales then).
    ``daily`` sorted, not empty."""
    years = []
    start = pd.Timestamp(as_of) - pd.Timedelta(days=365)
    while start >= daily.index.min():
        ix = _season_index(daily, as_of, start, period_days)
        if math.isfinite(ix):
            years.append((start, ix))
        start -= pd.Timedelta(days=365)
    if not years or max(ix for _, ix in years) > CLOSED_SHARE:
        return None
    return sorted(years)


def closed_season(daily: pd.Series, as_of: pd.Timestamp, period_days: int) -> str | None:
    """A warning when the planning period ``[as_of, as_of + period_days)`` had (almost) no
    sales in the same days of every earlier year the history covers (its seasonal index,
    orders per day over the surrounding year's, at most :data:`CLOSED_SHARE`): a seasonal
    shop closed then (a Christmas stall in January), where offers reach no one who can buy.
    None when no earlier year covers the period or one had sales then. ``daily`` is orders
    per calendar day before ``as_of``, days without orders included as 0. The plan's effects
    follow that season (:func:`seasonal_factor`), so it spends (almost) nothing then."""
    if daily.empty:
        return None
    daily = daily.sort_index()
    years = _closed_years(daily, as_of, period_days)
    if years is None:
        return None
    end = pd.Timestamp(as_of) + pd.Timedelta(days=period_days - 1)
    seen = "; ".join(
        f"{a.date()} to {(a + pd.Timedelta(days=period_days - 1)).date()}: "
        f"{_rate(daily, a, period_days) * period_days:,.0f} orders, {ix:.0%} of an average "
        "day's rate" for a, ix in years)
    return (f"{CLOSED_SEASON} ({seen}): {as_of.date()} to {end.date()} looks like a closed "
            "season, so offers sent for it will likely go unused; keep the budget for the "
            "days the shop sells")


def seasonal_factor(daily: pd.Series, as_of: pd.Timestamp, period_days: int,
                    campaign_starts: list[pd.Timestamp], window_days: int
                    ) -> tuple[float, str]:
    """How busy the planning window will be relative to the campaigns the response model
    learned from, from the merchant's own order counts (``daily``: orders per calendar day).

    A window's seasonal index is its orders per day over the orders per day of the surrounding
    year (the 365 days centred on it, or ending at ``as_of`` when the centre is too recent);
    the planning window's index is read off the same calendar window one year earlier. The
    factor is the planning index over the mean index of the campaign windows, kept within
    [0.25, 4] (1 when the history is shorter than a year plus the period, or there were no
    campaigns). Promotion effects scale with a customer's baseline purchase rate, so
    incremental effects are multiplied by it. A campaign in the history's first half year,
    whose surrounding year the history does not hold, is indexed against the history's first
    365 days (else the first year's campaigns would not count, and a promotion sent in them
    would be compared with the others' seasons: :func:`promotion_season_factors`).

    A closed season (:func:`closed_season`: the planning window at most :data:`CLOSED_SHARE`
    of an average day's orders in every earlier year) is not floored at 0.25: the shop then
    sells (almost) nothing, and offers can bring (almost) nothing, so the factor is the
    highest index any earlier year had then (0 for a shop that never sold then) over the
    campaigns' mean index, or over 1 (an average day's) when no campaign was measured: the
    priors describe an ordinary period."""
    if daily.empty:
        return 1.0, ""
    daily = daily.sort_index()
    closed = _closed_years(daily, as_of, period_days)
    camp = [_season_index(daily, as_of, pd.Timestamp(c), window_days, first_year=True)
            for c in campaign_starts]
    camp = [c for c in camp if math.isfinite(c)]
    if closed is not None:
        plan_ix = max(ix for _, ix in closed)
        ref = float(np.mean(camp)) if camp else 1.0
        factor = float(np.clip(plan_ix / ref, 0.0, 4.0)) if ref > 0 else 0.0
        against = (f"the campaigns the response model learned from {ref:.2f}x" if camp else
                   "the assumed response (no campaign measured) describes an average day")
        return factor, (f"seasonality: the planning window is a closed season, at most "
                        f"{plan_ix:.2f}x an average day in every earlier year; {against}; "
                        f"incremental effects and redemptions scaled by {factor:.2f}")
    if not campaign_starts:
        return 1.0, ""
    plan_ix = _season_index(daily, as_of, as_of - pd.Timedelta(days=365), period_days)
    if not math.isfinite(plan_ix) or not camp:
        return 1.0, ""
    factor = float(np.clip(plan_ix / float(np.mean(camp)), 0.25, 4.0))
    note = (f"seasonality: the planning window was {plan_ix:.2f}x an average day last year, "
            f"the campaigns the response model learned from {float(np.mean(camp)):.2f}x; "
            f"incremental effects scaled by {factor:.2f}")
    return factor, note


def promotion_season_factors(daily: pd.Series, as_of: pd.Timestamp, period_days: int,
                             sends: dict[str, list[pd.Timestamp]], window_days: int
                             ) -> dict[str, float]:
    """Each promotion's :func:`seasonal_factor`: the planning window against the campaigns
    that *sent it* (``sends``: promotion -> its send days), not against all campaigns.

    Each promotion's response is learned from its own campaigns (its treated and those
    campaigns' controls, :mod:`loyalist.response.uplift`), so its predictions carry their
    season; campaigns offer a few promotions each, so one promotion may have been sent in
    busy weeks and another in quiet ones. On the generated fashion scenario (seed 5) the
    knitwear buy-one-get-one's campaigns were quiet (factor 0.87) and the 30%-off clearance's
    busy (0.69), the generator's own ratios of the planning window's to the campaigns'
    baseline purchases 0.86 and 0.71, where one factor for all gave both 0.77. Empty in a
    closed season (:func:`closed_season`) or without a history to index: the one factor
    then applies."""
    if daily.empty or _closed_years(daily.sort_index(), as_of, period_days) is not None:
        return {}
    out = {}
    for promo, days in sends.items():
        f, note = seasonal_factor(daily, as_of, period_days, list(days), window_days)
        if note:
            out[str(promo)] = f
    return out


def competitor_pressure(competitors: pd.DataFrame | None, start: pd.Timestamp, days: int
                        ) -> tuple[float, list[str]]:
    """Competitor percent-off x share of ``[start, start + days)`` it covers, summed over the
    events (capped at 1), and a line per event for the rationale."""
    if competitors is None or competitors.empty:
        return 0.0, []
    end = start + pd.Timedelta(days=days)
    total, notes = 0.0, []
    for _, ev in competitors.iterrows():
        a = max(pd.Timestamp(ev[s.STARTS_AT]), start)
        b = min(pd.Timestamp(ev[s.ENDS_AT]) + pd.Timedelta(days=1), end)
        overlap = (b - a).total_seconds() / 86400.0
        if overlap <= 0:
            continue
        kind = str(ev.get(s.KIND) or "percent_discount")
        off = float(ev.get(s.VALUE) or 0.0) / 100.0 if kind == "percent_discount" else 0.1
        share = overlap / days
        total += off * share
        notes.append(f"{ev[s.COMPETITOR]} runs {off:.0%} off over {share:.0%} of the period")
    return min(total, 1.0), notes


def _target_categories(ctx: PlanContext, params: PlanParams) -> list[str]:
    if params.clear_categories:
        return list(params.clear_categories)
    inv = ctx.inventory
    if inv is not None and not inv.empty and s.OVERSTOCKED in inv:
        return inv.loc[inv[s.OVERSTOCKED].fillna(False).astype(bool), s.CATEGORY].astype(
            str).tolist()
    return []


def match_categories(names: list[str], known: list[str]) -> tuple[list[str], list[str]]:
    """The categories to clear (``--clear``) as the store's ``known`` categories, and a note
    for each name matched without letter case. ParameterError, naming the store's categories,
    for a name the store does not have: it would clear nothing."""
    out: list[str] = []
    notes: list[str] = []
    for name in names:
        if name in known:
            out.append(name)
            continue
        same = [k for k in known if k.casefold() == name.casefold()]
        if same:
            out += same
            notes.append(f"--clear {name!r} taken as this store's category "
                         f"{', '.join(map(repr, same))} (matched without letter case)")
            continue
        if not known:
            raise ParameterError(f"--clear {name!r}: this store's sales have no categories, so "
                                 "there is none to clear; load products with a category "
                                 "(`loyalist ingest products.csv --table products`)")
        near = difflib.get_close_matches(name.casefold(), [k.casefold() for k in known], n=1,
                                         cutoff=0.75)
        hint = f"did you mean {near[0]!r}? " if near else ""
        shown = ", ".join(sorted(known)[:30]) + (", ..." if len(known) > 30 else "")
        raise ParameterError(f"--clear {name!r} is not a category of this store; {hint}its "
                             f"{len(known):,} categories: {shown}")
    return list(dict.fromkeys(out)), notes


def _share(customers: pd.DataFrame, ids: np.ndarray, cats: list[str]) -> np.ndarray:
    """Each customer's past share of spend in ``cats`` (0 where unknown)."""
    from loyalist.response.data import share_column

    cols = list(dict.fromkeys(share_column(c) for c in cats))
    cols = [c for c in cols if c in customers]
    if not cols:
        return np.zeros(len(ids))
    return np.nan_to_num(customers[cols].sum(axis=1).reindex(ids).to_numpy(dtype=float))


def _usual_basket(pred: pd.DataFrame, ctx: PlanContext) -> np.ndarray:
    """Each row's usual order value: the prediction's ``basket`` (what its revenue was
    valued with), else the customer's mean order value, else the median one."""
    if "basket" in pred:
        b = pred["basket"].to_numpy(dtype=float)
    else:
        aov = ctx.customers["aov_mean"] if "aov_mean" in ctx.customers else \
            pd.Series(np.nan, index=ctx.customers.index)
        b = aov.reindex(pred[s.CUSTOMER_ID].to_numpy()).to_numpy(dtype=float)
    known = np.isfinite(b)
    return np.where(known, b, np.median(b[known]) if known.any() else 0.0)


def target_revenue(pred: pd.DataFrame, ctx: PlanContext, cats: list[str]) -> np.ndarray:
    """The part of each (customer, promotion)'s incremental revenue expected in ``cats``.

    The revenue is structural (:func:`loyalist.response.value.structural_value`): incremental
    orders x the customer's usual basket, plus what redemptions add less their discount. The
    baskets are the customer's whole usual order, so their share in ``cats`` is the customer's
    past share of spend there, whatever the offer. What redemptions add and take off is in
    the offer's categories: all of it in ``cats`` for an offer on them, the overlap share
    for one on some of them, the customer's share for an offer on the whole assortment. (A
    store-wide offer's revenue is thus the customer's share of all of it.) Category names
    match without letter case."""
    out = np.zeros(len(pred))
    if not cats or pred.empty:
        return out
    ids = pred[s.CUSTOMER_ID].to_numpy()
    own = _share(ctx.customers, ids, cats)
    rev = pred["incremental_revenue"].to_numpy(dtype=float)
    orders = (pred["incremental_orders"].to_numpy(dtype=float)
              if "incremental_orders" in pred else np.zeros(len(pred)))
    from_orders = np.nan_to_num(orders * _usual_basket(pred, ctx))
    offer_share = own.copy()
    promo_cats = ctx.catalog.set_index("name")["category"].map(split_list)
    target = {c.casefold() for c in cats}
    for promo, idx in pred.groupby("promotion", sort=False).indices.items():
        pc = {c.casefold() for c in promo_cats.get(promo, [])}
        if pc:
            offer_share[idx] = len(target & pc) / len(pc)
    return from_orders * own + (rev - from_orders) * offer_share


def goal_values(goal: str, pred: pd.DataFrame, ctx: PlanContext, params: PlanParams
                ) -> tuple[np.ndarray, list[str]]:
    """The value ``v_ij`` of each row of ``pred`` for ``goal`` (module docstring) and the
    assumptions it used."""
    notes: list[str] = []
    cats = _target_categories(ctx, params)
    rev = pred["incremental_revenue"].to_numpy(dtype=float)
    if goal == "retention":
        v = pred["incremental_prob"].to_numpy(dtype=float)
    elif goal == "reactivation":
        c = ctx.customers
        gap = c["ipi_mean_days"] if "ipi_mean_days" in c else pd.Series(np.nan, index=c.index)
        limit = np.maximum(LAPSED_FACTOR * gap.fillna(LAPSED_MIN_DAYS), LAPSED_MIN_DAYS)
        lapsed = (c["recency_days"] >= limit) if "recency_days" in c else \
            pd.Series(False, index=c.index)
        is_lapsed = lapsed.reindex(pred[s.CUSTOMER_ID].to_numpy()).fillna(False).to_numpy(bool)
        v = np.where(is_lapsed, pred["incremental_prob"].to_numpy(dtype=float), 0.0)
        notes.append(f"lapsed = no purchase for {LAPSED_FACTOR:g}x the customer's usual gap "
                     f"and at least {LAPSED_MIN_DAYS:g} days")
    elif goal == "revenue":
        v = rev
    elif goal == "profit":
        v = pred["incremental_margin"].to_numpy(dtype=float) - pred["contact_cost"].to_numpy(
            dtype=float)
        if cats:
            v = v + OVERSTOCK_BONUS * target_revenue(pred, ctx, cats)
            notes.append(f"revenue in overstocked categories ({', '.join(cats)}) is worth "
                         f"{OVERSTOCK_BONUS:.0%} more (avoided markdowns and holding cost). "
                         f"{CATEGORY_REVENUE_RULE}")
    elif goal == "visit_frequency":
        v = pred["incremental_orders"].to_numpy(dtype=float)
    elif goal == "average_order_value":
        basket = ctx.customers["aov_mean"] if "aov_mean" in ctx.customers else \
            pd.Series(np.nan, index=ctx.customers.index)
        b = basket.reindex(pred[s.CUSTOMER_ID].to_numpy()).to_numpy(dtype=float)
        b = np.where(np.isfinite(b), b, np.nanmedian(basket) if basket.notna().any() else 0.0)
        v = rev - pred["incremental_orders"].to_numpy(dtype=float) * b
    elif goal == "clear_inventory":
        if not cats:
            raise DataError("goal clear_inventory needs categories to clear: name them with "
                            "--clear CATEGORY or load an inventory file with an 'overstocked' "
                            "column")
        v = target_revenue(pred, ctx, cats) * (1.0 + OVERSTOCK_BONUS)
        notes.append(f"categories to clear: {', '.join(cats)}; their revenue counts "
                     f"{1 + OVERSTOCK_BONUS:g}x. {CATEGORY_REVENUE_RULE}")
    else:  # PlanParams.check() guards this
        raise DataError(f"unknown goal {goal!r}")
    return np.nan_to_num(v), notes


def has_mechanics(pred: pd.DataFrame) -> bool:
    """Whether ``pred`` carries the offer's mechanics (:data:`MECHANICS_COLUMNS`), so its
    revenue, margin and cost can be recomputed from its volume effects."""
    return all(c in pred for c in (*MECHANICS_COLUMNS, *VOLUME_COLUMNS))


def offer_fit(pred: pd.DataFrame, ctx: PlanContext) -> tuple[np.ndarray, str | None]:
    """How well each row's offer fits its customer, as a multiple of the promotion's average
    over the customers in ``pred`` (so each promotion's values average 1), and the assumption
    this states (None when the fit is the same for every customer of every promotion).

    Two assumptions about who responds to what, both standard in promotion planning:

    - an offer on some categories lifts a customer in proportion to
      ``FIT_FLOOR + (1 - FIT_FLOOR) x share / average share``, with
      ``share`` the customer's past share of spend in those categories: a 30%-off knitwear
      offer matters more to a customer who buys knitwear, and ``FIT_FLOOR`` of its lift (the
      contact, the visit it prompts) reaches everyone. Shares from a handful of items are
      mostly noise, so each customer's shares are shrunk towards the customer base's mix
      with ``FIT_PRIOR_ITEMS`` pseudo-items (empirical Bayes, Dirichlet-multinomial);
    - an offer worth a fixed amount (a voucher, a free item, free shipping) lifts in
      proportion to ``(amount / basket) ** BASKET_ELASTICITY``: 25 off means more on a 40
      basket than on a 400 one (perceived discount depth; for a voucher with a minimum
      spend the basket counts as at least that minimum).

    Either way, and both together, no customer's fit exceeds ``FIT_CAP`` times the average.

    Per-promotion uplift models cannot learn this from a few thousand exposures (an offer's
    average effect has a standard error near its size on the generated electronics scenario),
    and a promotion's average effect is what they do measure, so the fit only redistributes
    it between customers (:func:`shrink_effects`)."""
    n = len(pred)
    fit = np.ones(n)
    if n == 0:
        return fit, None
    cat = ctx.catalog.drop_duplicates("name").set_index("name")
    cust = ctx.customers
    ids = pred[s.CUSTOMER_ID].to_numpy()
    basket = (pred["basket"].to_numpy(dtype=float) if "basket" in pred
              else np.full(n, np.nan))
    evidence = None
    for col in ("items_total", "orders"):
        if col in cust:
            evidence = np.nan_to_num(pd.to_numeric(cust[col], errors="coerce").reindex(ids)
                                     .to_numpy(dtype=float)).clip(0)
            break
    used: set[str] = set()
    from loyalist.response.data import share_column

    for promo, idx in pred.groupby("promotion", sort=False).indices.items():
        if promo not in cat.index:
            continue
        m = np.ones(len(idx))
        cats = split_list(cat.at[promo, "category"]) if "category" in cat else []
        if cats and evidence is not None and any(share_column(c) in cust for c in cats):
            own = _share(cust, ids[idx], cats)
            n_i = evidence[idx]
            mix = float(np.average(own, weights=n_i)) if n_i.sum() > 0 else float(own.mean())
            shrunk = (n_i * own + FIT_PRIOR_ITEMS * mix) / (n_i + FIT_PRIOR_ITEMS)
            if shrunk.mean() > 0:
                m *= np.minimum(FIT_FLOOR + (1 - FIT_FLOOR) * shrunk / shrunk.mean(), FIT_CAP)
                used.add("category")
        if cat.at[promo, "kind"] in MONEY_KINDS and np.isfinite(basket[idx]).any():
            b = basket[idx]
            known = np.isfinite(b) & (b > 0)
            b = np.where(known, b, np.median(b[known]) if known.any() else 1.0)
            floor = cat.at[promo, "min_spend"] if "min_spend" in cat else np.nan
            b = np.maximum(b, float(floor) if pd.notna(floor) else 0.0)
            m *= b ** -BASKET_ELASTICITY
            used.add("money")
        fit[idx] = np.minimum(m / m.mean(), FIT_CAP)
    if not used:
        return fit, None
    parts = []
    if "category" in used:
        parts.append(f"a category offer lifts a customer by {FIT_FLOOR:g} + {1 - FIT_FLOOR:g} x "
                     "their share of spend in its categories over the average share (shares "
                     f"shrunk towards the customer base's mix with {FIT_PRIOR_ITEMS:g} items)")
    if "money" in used:
        parts.append("a voucher, free item or free shipping lifts in proportion to (its value "
                     f"/ the customer's basket)^{BASKET_ELASTICITY:g}")
    return fit, ("offer fit (assumption): " + "; ".join(parts) + "; each promotion's average "
                 "effect is kept as measured")


def shrink_effects(pred: pd.DataFrame, keep: float = SHRINKAGE_KEEP,
                   fit: np.ndarray | None = None) -> pd.DataFrame:
    """Shrink each customer's per-promotion effects towards a rank-1 structure
    ``a_i * b_j`` (how responsive the customer is, times how strong the promotion is), times
    the offer's fit ``fit`` (one value per row of ``pred``, :func:`offer_fit`; None = 1).

    Per-promotion uplift models are each fitted on one promotion's treated and control arms,
    so the differences *between* promotions for one customer are the noisiest part of the
    estimates, and choosing each customer's best promotion by them picks noise (the winner's
    curse). The rank-1 part pools all promotions: ``a_i`` is the customer's mean effect over
    promotions and ``b_j`` the promotion's mean effect over customers, relative to the mean
    (Efron & Morris 1975 in spirit; the weight is chosen on generated scenarios, where it
    raised the plan's share of the oracle's true value from 58% to 88% on electronics revenue
    and from 91% to 97% on coffee revenue).

    With the offer's mechanics (:func:`has_mechanics`) only the volume effects are shrunk
    (:data:`VOLUME_COLUMNS`: buying, orders, redemptions); revenue and margin follow from them
    (:func:`revalue`). They are *not* rank-1 across promotions: what an offer adds and costs
    per redemption depends on the customer's basket (a 50-off voucher over 500 tops up a small
    basket, a 15%-off bundle discounts a large one), and shrinking them towards a rank-1
    structure cost even the true effects 10-20% of the oracle's profit and average order
    value on the electronics scenario.

    The fit redistributes each promotion's rank-1 effect between customers and is rescaled so
    that the promotion's total (``sum_i a_i b_j``) is unchanged. Without it, one relative lift
    per promotion ranks the promotions the same way for every customer: the fashion retention
    plan gave all 3,947 eligible customers the same offer, where the oracle splits them by
    category fit and basket (benchmarks/bench_plan.py).

    The fit is not applied to ``expected_redemptions``: it is an assumption about who an offer
    *moves*, and most redemptions are by customers who buy anyway; whether they use a
    category offer is recorded for every treated customer and learned by the redemption
    model (the category shares among its features), so it keeps its own structure. On the
    generated fashion scenario (seed 11) the knitwear buy-one-get-one's treated redeemed 0.43
    per buyer without knitwear in their past and 0.47-0.62 with it, where the fit would
    multiply the redemptions of a knitwear-heavy customer by up to ``FIT_CAP``; it overstated
    the buy-one-get-one's redemptions by 1.18x on the customers the clearance plan gave it
    (the 30%-off clearance's by 1.07x) and moved them to it from the clearance."""
    if pred.empty:
        return pred
    if keep >= 1.0:  # nothing shrunk; the values still carry the assumed responses' range
        return revalue(pred.copy()) if has_mechanics(pred) else pred
    pred = pred.copy()
    rows = pd.Index(pd.unique(pred[s.CUSTOMER_ID]))
    cols = pd.Index(pd.unique(pred["promotion"]))
    r = rows.get_indexer(pred[s.CUSTOMER_ID])
    c = cols.get_indexer(pred["promotion"])
    for col in VOLUME_COLUMNS if has_mechanics(pred) else EFFECT_COLUMNS:
        if col not in pred:
            continue
        w = np.full((len(rows), len(cols)), np.nan)
        w[r, c] = pred[col].to_numpy(dtype=float)
        a = np.nanmean(w, axis=1)
        b = np.nanmean(w, axis=0)
        scale = float(np.nanmean(b))
        rel = b / scale if abs(scale) > 1e-12 else np.ones_like(b)
        rank1 = np.outer(np.nan_to_num(a), np.nan_to_num(rel, nan=1.0))
        if fit is not None and col != "expected_redemptions":
            f = np.ones_like(w)
            f[r, c] = fit
            # keep each promotion's total: sum_i a_i b_j f_ij = sum_i a_i b_j
            wa = np.clip(np.nan_to_num(a), 0, None)[:, None] * ~np.isnan(w)
            norm = (wa * f).sum(axis=0) / np.maximum(wa.sum(axis=0), 1e-300)
            f = f / np.where(norm > 0, norm, 1.0)
            rank1 = rank1 * f
        pred[col] = keep * w[r, c] + (1.0 - keep) * rank1[r, c]
    return revalue(cap_buying(pred))


def cap_buying(pred: pd.DataFrame) -> pd.DataFrame:
    """Keep each customer's buying probability with the offer in [0, 1] and state it: the
    incremental probability is clipped to ``[-p_control, 1 - p_control]`` and ``p_response``
    (the probability of buying with the offer, shown as the plan's ``probability``) is set to
    ``p_control + incremental_prob``, the response model's definition
    (:mod:`loyalist.response.uplift`, :mod:`loyalist.response.priors`). Every step that moves
    the incremental effects (shrinkage, offer fit, season, competitors) ends here, so the two
    never disagree (the bug: the offer fit raised a customer's incremental probability to
    0.076 while the plan still showed the model's 0.064 as their probability of buying at
    all). ``treated_orders`` likewise follows ``control_orders + incremental_orders``. In
    place; returns ``pred``."""
    if "incremental_prob" in pred and "p_control" in pred:
        base = np.clip(pred["p_control"].to_numpy(dtype=float), 0.0, 1.0)
        inc = pred["incremental_prob"].to_numpy(dtype=float)
        known = ~np.isnan(base)
        inc = np.where(known, np.clip(inc, -base, 1.0 - base), inc)
        pred["incremental_prob"] = inc
        pred["p_response"] = base + inc
    if "treated_orders" in pred and "control_orders" in pred and "incremental_orders" in pred:
        pred["treated_orders"] = (pred["control_orders"].to_numpy(dtype=float)
                                  + pred["incremental_orders"].to_numpy(dtype=float))
    return pred


def revalue(pred: pd.DataFrame) -> pd.DataFrame:
    """Revenue, margin (with p10/p90), discount and expected cost, and net value recomputed from
    the volume effects and the offer's mechanics
    (:func:`loyalist.response.value.structural_value`); only ``net_value`` for a frame
    without mechanics."""
    if has_mechanics(pred):
        mech = OfferMechanics(*(pred[c].to_numpy(dtype=float) for c in (
            "redemption_added", "redemption_added_margin", "redemption_in_price",
            "redemption_outside")))
        red = pred["expected_redemptions"].to_numpy(dtype=float)
        basket = pred["basket"].to_numpy(dtype=float)
        mr = pred["margin_rate"].to_numpy(dtype=float)
        for sfx in ("", "_p10", "_p90"):
            rev, margin = structural_value(pred[f"incremental_orders{sfx}"].to_numpy(dtype=float),
                                           basket, mr, red, mech)
            pred[f"incremental_revenue{sfx}"] = rev
            pred[f"incremental_margin{sfx}"] = margin
        if "method" in pred and (pred["method"] == PriorResponse.method).any():
            assumed_range(pred, mech, red, basket, mr)
        pred["discount_cost"] = red * (mech.in_price + mech.outside)
        pred["expected_cost"] = pred["discount_cost"] + pred["contact_cost"]
    if "net_value" in pred:
        pred["net_value"] = pred["incremental_margin"] - pred["contact_cost"]
    return pred


def apply_competitors(pred: pd.DataFrame, ctx: PlanContext, params: PlanParams
                      ) -> tuple[pd.DataFrame, list[str]]:
    """Scale incremental effects for the planning window: seasonality (each promotion's
    ``ctx.promotion_season``, else ``ctx.season_factor``) and a competitor promotion in the
    period.

    With the offer's mechanics the redemptions are split: those of incremental buyers (one per
    incremental buyer for a single-use offer, one per incremental order for a multi-use one, at
    most all of them) move with the incremental effects, season x competitor; the rest are
    baseline orders that use the offer, whose number follows the season only (a competitor's
    sale takes away the customers we would *win*, not the ones who buy anyway). Revenue, margin
    and cost are then recomputed (:func:`revalue`), so the cost of the planning window's
    redemptions, subsidised ones included, is what the budget pays. The baseline becomes the
    window's too (``p_control``: a rate ``season`` times as high, ``1 - (1 - p) ** season``;
    ``control_orders`` x season), so the incremental probability stays within its room and the
    probability of buying with the offer is that of the window (:func:`cap_buying`)."""
    pressure, events = competitor_pressure(ctx.competitors, ctx.as_of, params.period_days)
    # each promotion against the campaigns that sent it (promotion_season_factors)
    season = (pred["promotion"].map(ctx.promotion_season).fillna(ctx.season_factor)
              .to_numpy(dtype=float) if ctx.promotion_season and "promotion" in pred
              else np.full(len(pred), float(ctx.season_factor)))
    if pressure <= 0 and (season == 1.0).all():
        return pred, []
    pred = pred.copy()
    kinds = pred["kind"].map(COMPETITOR_ELASTICITY).fillna(1.0).to_numpy(dtype=float)

    def scaled(strength: float) -> np.ndarray:
        return np.maximum(MIN_COMPETITOR_FACTOR, 1.0 - strength * kinds * pressure) * season

    factor = scaled(1.0)
    # the elasticity is assumed, not measured: the 10% / 90% points take its documented range
    # (ELASTICITY_RANGE), the stronger response for the low point
    weak, strong = scaled(ELASTICITY_RANGE[0]), scaled(ELASTICITY_RANGE[1])
    if has_mechanics(pred):
        red = pred["expected_redemptions"].to_numpy(dtype=float)
        multi = pred["kind"].isin(MULTI_USE).to_numpy()
        won = np.where(multi, pred["incremental_orders"].to_numpy(dtype=float),
                       pred["incremental_prob"].to_numpy(dtype=float))
        won = np.clip(won, 0.0, np.maximum(red, 0.0))
        pred["expected_redemptions"] = won * factor + (red - won) * season
        cols: tuple[str, ...] = tuple(c for c in VOLUME_COLUMNS if c != "expected_redemptions")
    else:
        cols = EFFECT_COLUMNS
    for col in cols:
        if col not in pred:
            continue
        x = pred[col].to_numpy(dtype=float)
        if col.endswith("_p10"):
            pred[col] = np.minimum(x * weak, x * strong)
        elif col.endswith("_p90"):
            pred[col] = np.maximum(x * weak, x * strong)
        else:
            pred[col] = x * factor
    # the baseline of a window `season` times as busy (a rate `season` times as high)
    if "p_control" in pred:
        p0 = np.clip(pred["p_control"].to_numpy(dtype=float), 0.0, 1.0)
        pred["p_control"] = 1.0 - (1.0 - p0) ** np.maximum(season, 0.0)
    if "control_orders" in pred:
        pred["control_orders"] = pred["control_orders"].to_numpy(dtype=float) * season
    pred = revalue(cap_buying(pred))
    notes = [ctx.season_note] if ctx.season_note else []
    if ctx.promotion_season:
        lo, hi = min(ctx.promotion_season.items(), key=lambda kv: kv[1]), \
            max(ctx.promotion_season.items(), key=lambda kv: kv[1])
        notes.append(f"each promotion's effects scaled against the season of the campaigns "
                     f"that sent it: {lo[1]:.2f} ({lo[0]}) to {hi[1]:.2f} ({hi[0]})")
    if pressure > 0:
        notes.append(f"competitor pressure {pressure:.2f} ({'; '.join(events)}): incremental "
                     f"effects scaled by 1 - elasticity x pressure (elasticity "
                     f"{min(COMPETITOR_ELASTICITY.values())}-{max(COMPETITOR_ELASTICITY.values())}"
                     f" by kind, an assumption: the intervals take {ELASTICITY_RANGE[0]}-"
                     f"{ELASTICITY_RANGE[1]}x it)")
    return pred, notes


def eligibility(pred: pd.DataFrame, ctx: PlanContext, params: PlanParams,
                constraints: Constraints) -> tuple[np.ndarray, dict[str, int]]:
    """Which (customer, promotion) rows may be chosen, and how many customers each rule
    excluded. Rules, in this order: consent/opt-out, cool-down since the last contact, target
    segments, then per promotion its eligible segments and the minimum age of age-restricted
    categories (matched to the promotion's categories without letter case).

    The counts do not overlap: a customer is counted under the first customer rule that
    excludes them, and ``under_age_<promotion>`` counts the customers the age limit alone
    keeps from that promotion."""
    c = ctx.customers
    ids = pred[s.CUSTOMER_ID].to_numpy()
    ok = np.ones(len(pred), dtype=bool)
    excluded: dict[str, int] = {}
    # the customers considered, not yet excluded by an earlier customer rule
    still = pd.Series(True, index=pd.Index(pd.unique(ids)))

    def per_customer(mask: pd.Series, rule: str) -> None:
        nonlocal ok, still
        m = mask.reindex(still.index).fillna(False).astype(bool)
        excluded[rule] = int((still & ~m).sum())
        still &= m
        ok &= mask.reindex(ids).fillna(False).to_numpy(dtype=bool)

    if constraints.require_consent:
        # eq(True), not fillna(False): a customer missing from the customers table makes the
        # column object dtype, and fillna then warns (pandas FutureWarning) on every plan
        consent = c[s.MARKETING_CONSENT].eq(True) \
            if s.MARKETING_CONSENT in c else pd.Series(True, index=c.index)
        opt_out = c[s.EMAIL_OPT_OUT].eq(True) \
            if s.EMAIL_OPT_OUT in c else pd.Series(False, index=c.index)
        per_customer(consent & ~opt_out, "no_consent_or_opted_out")
    if constraints.cooldown_days > 0 and "last_contact_at" in c:
        since = (ctx.as_of - pd.to_datetime(c["last_contact_at"])).dt.total_seconds() / 86400
        per_customer(~(since < constraints.cooldown_days), "contacted_within_cooldown")
    seg = c["segment"].astype(str) if "segment" in c else pd.Series("", index=c.index)
    if params.segments:
        per_customer(seg.isin(params.segments), "outside_target_segments")
    cat = ctx.catalog.set_index("name")
    seg_row = seg.reindex(ids).to_numpy()
    age = c[s.AGE].reindex(ids).to_numpy(dtype=float) if s.AGE in c else np.full(len(ids),
                                                                                   np.nan)
    for promo, idx in pred.groupby("promotion", sort=False).indices.items():
        allowed = split_list(cat.loc[promo, "eligible_segments"]) if promo in cat.index else []
        if allowed:
            bad = ~np.isin(seg_row[idx], allowed)
            ok[idx[bad]] = False
        pcats = {p.casefold() for p in split_list(cat.loc[promo, "category"])} \
            if promo in cat.index else set()
        limits = [v for k, v in constraints.min_age.items() if not pcats or k.casefold() in pcats]
        if limits:
            under = ~(age[idx] >= max(limits))  # unknown age counts as under age
            excluded[f"under_age_{promo}"] = int((under & ok[idx]).sum())
            ok[idx[under]] = False
    return ok, excluded


def drop_wasteful(value: np.ndarray, cost: np.ndarray, eligible: np.ndarray, goal: str,
                  constraints: Constraints, promotions: list[str], *,
                  usual: tuple[np.ndarray, np.ndarray] | None = None
                  ) -> tuple[np.ndarray, str | None]:
    """``value`` with the pairs not worth their cost set to 0 (the optimizer never buys a
    send worth 0), and the assumption this states (None when no pair was dropped).

    The optimizer buys any send with a positive value while the budget lasts, so with a budget
    that does not bind it bought, e.g., 10% off for a wholesaler at an expected cost of 189 for
    2e-7 customers kept. A pair is dropped when its value per unit of expected spend is below
    :data:`MIN_VALUE_PER_SPEND_SHARE` of the median value per spend over the candidate pairs
    (eligible, value and spend above 0). For the money goals the value and the spend are in the
    same money, and the floor is the same share of what a typical send returns per unit spent
    (for profit the value is already net of the spend). A promotion with a minimum spend keeps
    all its pairs (its floor may need them). A dropped pair adds at most that share of a typical
    send's value per unit spent, so a plan loses at most about 1% of the value of the spend it
    saves.

    In a closed season (:func:`closed_season`) every send is worth (almost) nothing, so the
    median over them is no yardstick: ``usual`` is then the (value, cost) of the same pairs
    in an ordinary period (the campaigns' season), and a pair is dropped when it returns less
    per unit of spend than the median of those (:data:`CLOSED_MIN_VALUE_PER_SPEND_SHARE`): the
    budget kept buys that much in the days the shop sells."""
    cand = eligible & (value > 0) & (cost > 0)
    if not cand.any():
        return value, None
    ratio = np.where(cand, value / np.where(cost > 0, cost, 1.0), np.nan)
    ref = float(np.nanmedian(ratio[cand]))
    share = MIN_VALUE_PER_SPEND_SHARE
    if usual is not None:
        u_value, u_cost = usual
        u_cand = eligible & (u_value > 0) & (u_cost > 0)
        if u_cand.any():
            ref = float(np.median(u_value[u_cand] / u_cost[u_cand]))
            share = CLOSED_MIN_VALUE_PER_SPEND_SHARE
        else:
            usual = None
    waste = cand & (ratio < share * ref)
    floors = [j for j, p in enumerate(promotions) if constraints.min_spend.get(p, 0.0) > 0]
    waste[:, floors] = False
    if not waste.any():
        return value, None
    at_most = float(np.where(waste, value, 0.0).max(axis=1).sum())
    out = np.where(waste, 0.0, value)
    unit = GOAL_UNITS.get(goal, "value")
    if usual is not None:
        return out, (
            f"a send in a closed season must return what a typical send returns in an ordinary "
            f"period (the budget kept buys that in the days the shop sells): "
            f"{int(waste.sum()):,} (customer, promotion) pair(s) of "
            f"{int(waste.any(axis=1).sum()):,} customer(s) whose expected value per unit of "
            f"spend is below the median of the same sends in an ordinary period "
            f"({amount_text(share * ref)} {unit} per unit) are never bought (together worth at "
            f"most {amount_text(at_most)} {unit})")
    note = (f"a send must be worth its cost: {int(waste.sum()):,} (customer, promotion) "
            f"pair(s) of {int(waste.any(axis=1).sum()):,} customer(s) whose expected value is "
            f"below {MIN_VALUE_PER_SPEND_SHARE:.0%} of the median value per unit of spend "
            f"({amount_text(MIN_VALUE_PER_SPEND_SHARE * ref)} {unit} per unit, the median "
            f"{amount_text(ref)}) are never bought (together worth at most "
            f"{amount_text(at_most)} {unit})")
    if goal == "profit":
        note += "; the profit goal's value is already net of the spend"
    return out, note


def check_segments(ctx: PlanContext) -> None:
    """Refuse a catalog ``eligible_segments`` entry that is no segment (a typo would make its
    promotion reach nobody, or every customer look excluded), naming this store's segments."""
    from loyalist.segment.rfm import SEGMENT_NAMES

    cat = ctx.catalog
    if "eligible_segments" not in cat:
        return
    present = set(ctx.customers["segment"].astype(str)) if "segment" in ctx.customers \
        else set()
    known = present | set(SEGMENT_NAMES) | {NEW_SEGMENT}
    source = cat.attrs.get("source", "catalog")
    for name, cell in zip(cat["name"], cat["eligible_segments"], strict=True):
        for sg in split_list(cell):
            if sg in known:
                continue
            near = [k for k in sorted(known) if k.lower() == sg.lower()]
            hint = f"; did you mean {near[0]!r}?" if near else ";"
            raise DataError(f"{source}: promotion {name!r} has eligible_segments {sg!r}, which "
                            f"is not a segment{hint} this store's segments: "
                            f"{', '.join(sorted(present or known))}")


def _sold_share_columns(ctx: PlanContext) -> set[str] | None:
    """The customers' category share columns (``share__<category>``) of the categories the
    store has sold; None when the store has no categories (nothing to check against)."""
    c = ctx.customers
    shares = [col for col in c.columns if str(col).startswith("share__")]
    if not shares:
        return None
    return {col for col in shares if (pd.to_numeric(c[col], errors="coerce") > 0).any()}


def unsold_age_limits(ctx: PlanContext, constraints: Constraints) -> list[str]:
    """A warning per ``min_age`` category the store has never sold: the limit still keeps
    under-age customers (and those of unknown age) out of every store-wide promotion, which is
    right only if the store sells it. Empty when the store has no categories."""
    from loyalist.response.data import share_column

    sold = _sold_share_columns(ctx)
    if sold is None or not constraints.min_age:
        return []
    where = f"{constraints.source}: " if constraints.source else ""
    return [f"{where}min_age {v:g} for {k!r}, a category this store has never sold: it still "
            "keeps customers under that age, or of unknown age, out of every store-wide "
            "promotion; remove it if the store does not sell "
            f"{k!r}" for k, v in constraints.min_age.items() if share_column(k) not in sold]


def no_consent_data(ctx: PlanContext, constraints: Constraints) -> list[str]:
    """A warning when consent is required but no customer has a consent or opt-out record
    (no customers file, or one without those columns): every customer is then taken as
    consented, unlike an unknown age, so that a store without a CRM export can still plan."""
    c = ctx.customers
    known = [col for col in (s.MARKETING_CONSENT, s.EMAIL_OPT_OUT)
             if col in c and c[col].notna().any()]
    if not constraints.require_consent or known:
        return []
    return ["no marketing consent or opt-out is known for any customer (no customers file was "
            "loaded, or it has no consent or opt-out column), so every customer was taken as "
            "consented: check consent in your e-mail or SMS tool before sending, or load a "
            "customers file with a consent column (marketing_consent, Newsletter, accepts "
            "marketing) and an opt-out column"]


def no_offer_on_targets(ctx: PlanContext, params: PlanParams) -> list[str]:
    """A warning when the goal is to clear categories that no catalog promotion is on: only
    store-wide offers reach them, through each customer's usual share of spend there."""
    cats = _target_categories(ctx, params)
    if params.goal != "clear_inventory" or not cats or "category" not in ctx.catalog:
        return []
    wanted = {c.casefold() for c in cats}
    on = {c.casefold() for cell in ctx.catalog["category"] for c in split_list(cell)}
    if wanted & on:
        return []
    return [f"no promotion in the catalog is on the categories to clear ({', '.join(cats)}): "
            "only store-wide offers reach them, through the share of each customer's spend "
            "that goes there, so little stock will move; add a promotion on those categories "
            "to the catalog"]


def unsold_categories(ctx: PlanContext) -> list[str]:
    """A warning per catalog promotion on a category the store has never sold (a typo, or a
    new category): its effect cannot have been measured on that category. Empty when the store
    has no categories at all (nothing to check against)."""
    from loyalist.response.data import share_column

    sold = _sold_share_columns(ctx)
    if sold is None or "category" not in ctx.catalog:
        return []
    names = sorted(col.removeprefix("share__") for col in sold)
    source = ctx.catalog.attrs.get("source", "catalog")
    out = []
    for name, cell in zip(ctx.catalog["name"], ctx.catalog["category"], strict=True):
        missing = [k for k in split_list(cell) if share_column(k) not in sold]
        if missing:
            out.append(f"{source}: promotion {name!r} is on {', '.join(map(repr, missing))}, "
                       "which this store has never sold (it sells "
                       f"{', '.join(names[:12])}{', ...' if len(names) > 12 else ''}): its "
                       "expected effect is the promotion's average, not measured on that "
                       "category; check the spelling before sending it")
    return out


def _known_age(ctx: PlanContext) -> np.ndarray:
    c = ctx.customers
    return c[s.AGE].notna().to_numpy() if s.AGE in c else np.zeros(len(c), dtype=bool)


def no_age_text(ctx: PlanContext, constraints: Constraints, promo: str | None) -> str | None:
    """Why an age limit excludes everyone when no customer has a known age (None when some
    have one): an unknown age counts as under age."""
    if _known_age(ctx).any() or not constraints.min_age:
        return None
    rules = ", ".join(f"{k} {v:g}" for k, v in constraints.min_age.items())
    where = f" in {constraints.source}" if constraints.source else ""
    text = (f"no customer has a known age (the customers loaded have no birth date or age), "
            f"and an unknown age counts as under age for min_age ({rules}){where}")
    cat = ctx.catalog.set_index("name")
    if promo is not None and promo in cat.index and "category" in cat \
            and not split_list(cat.at[promo, "category"]):
        text += f"; {promo} is on every category, so every age limit applies to it"
    return text + ("; load a customers file with a birth date (birth_date, Date of Birth, dob) "
                   "or an age column, or remove min_age")


def _named(message: str, promotions: list[str], source: str | None) -> str:
    """An optimizer message in the merchant's words: promotion names for the optimizer's
    column numbers, the constraints file's keys for its row names, and the file."""
    text = re.sub(r"\bpromotion (\d+)\b",
                  lambda m: promotions[int(m[1])] if int(m[1]) < len(promotions) else m[0],
                  message)
    text = text.replace("promo_min_spend", "min_spend").replace("promo_max_spend", "max_spend")
    text = text.replace("promo_max_count", "inventory cap")
    return f"{source}: {text}" if source and "_spend" in text else text


def _matrix(pred: pd.DataFrame, col: str | np.ndarray, rows: np.ndarray, cols: np.ndarray,
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
    #: of every (customer, promotion), when there are caps
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
    check_segments(ctx)
    notes: list[str] = []
    warnings = (unsold_categories(ctx) + unsold_age_limits(ctx, constraints)
                + no_consent_data(ctx, constraints) + no_offer_on_targets(ctx, params))
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
    for key in ("min_spend", "max_spend"):
        unknown = sorted(p for p in getattr(constraints, key) if p not in promotions)
        if unknown:
            raise DataError(f"{constraints.source or 'constraints'}: [{key}] names promotion "
                            f"{unknown[0]!r}, which is not in the catalog "
                            f"({', '.join(promotions)}); use a catalog name or remove it")
    keep = pred["promotion"].isin(promotions).to_numpy()
    pred, value, ok = pred[keep].reset_index(drop=True), value[keep], ok[keep]
    rows = customers.get_indexer(pred[s.CUSTOMER_ID])
    cols = pd.Index(promotions).get_indexer(pred["promotion"])
    shape = (len(customers), len(promotions))
    v = _matrix(pred, value, rows, cols, shape, 0.0)
    c = _matrix(pred, "expected_cost", rows, cols, shape, 0.0)
    elig = np.zeros(shape, dtype=bool)
    elig[rows, cols] = ok
    if not elig.any():
        worst = max(excluded, key=excluded.get) if excluded else "none"
        why = (no_age_text(ctx, constraints, worst.removeprefix("under_age_"))
               if worst.startswith("under_age_") else None)
        raise DataError(f"no eligible customers: every customer is excluded (largest rule: "
                        f"{worst}, {excluded.get(worst, 0):,} customers)"
                        + (f": {why}" if why else "; relax the constraints or target other "
                           "segments"))
    if constraints.min_age and not _known_age(ctx).any():
        notes.append(no_age_text(ctx, constraints, None) or "")
    usual = None
    if usual_value is not None and usual_cost is not None:
        usual = (_matrix(pred, usual_value[keep], rows, cols, shape, 0.0),
                 _matrix(pred, usual_cost[keep], rows, cols, shape, 0.0))
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
    redemptions = _matrix(pred, "expected_redemptions", rows, cols, shape, 0.0) \
        if constraints.inventory_caps else None
    for category, cap in constraints.inventory_caps.items():
        on = [j for j, p in enumerate(promotions)
              if category in split_list(cat.loc[p, "category"])]
        if not on:
            continue
        caps.append(InventoryCap(category, float(cap), on))
    seg = ctx.customers["segment"].astype(str) if "segment" in ctx.customers else \
        pd.Series("all", index=ctx.customers.index)
    seg_of = seg.reindex(customers).fillna("unknown").to_numpy()
    segments = sorted(set(seg_of))
    group = pd.Index(segments).get_indexer(seg_of)
    share = None
    if constraints.max_segment_share is not None:
        share = np.full(len(segments), constraints.max_segment_share)
    problem = Problem(v, c, float(params.budget), eligible=elig, group=group,
                      promo_min_spend=lo, promo_max_spend=hi,
                      group_max_share=share)
    return PlanInstance(problem, customers.to_numpy(), promotions, segments, pred, rows, cols,
                        excluded, [n for n in notes if n], warnings, caps, redemptions)


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


def _used(choice: np.ndarray, redemptions: np.ndarray, cap: InventoryCap) -> float:
    """Expected redemptions of ``cap``'s promotions in a plan (``choice``: -1 for none)."""
    idx = np.flatnonzero(np.isin(choice, cap.promotions))
    return float(redemptions[idx, choice[idx]].sum())


def meet_inventory_caps(inst: PlanInstance, sol: Solution, solver: Any
                        ) -> tuple[Solution, list[str]]:
    """Hold each ``[inventory_caps]`` category to its cap on *expected redemptions*, summed
    over every promotion on it (a promotion on several categories counts toward each).

    The cap is priced (Lagrangian relaxation, Fisher 1981): each expected redemption of a
    capped category costs ``price`` of goal value, so the optimizer prefers customers with
    more value per redemption; the price is bisected (:data:`CAP_ROUNDS` solves per cap,
    caps in turn) to the lowest at which the plan fits, and the best plan within every cap
    (valued at the true, unpriced values) is kept. Any price gives a proven bound, the priced
    problem's bound plus ``price x cap``; the lowest found is the plan's bound, so the gap is
    against the caps themselves. Should no priced plan fit, the last plan's sends with the
    least value per redemption are dropped until each cap holds."""
    if not inst.caps or inst.redemptions is None:
        return sol, []
    t0 = time.perf_counter() - sol.seconds
    red = inst.redemptions
    base = np.asarray(inst.problem.value, dtype=float)
    prices = np.zeros(len(inst.caps))

    def fits(s: Solution) -> bool:
        return all(_used(s.choice, red, c) <= c.cap * (1 + 1e-9) for c in inst.caps)

    def priced(p: np.ndarray) -> tuple[Solution, float]:
        v = base.copy()
        for price, c in zip(p, inst.caps, strict=True):
            v[:, c.promotions] -= price * red[:, c.promotions]
        s = solver(dataclasses.replace(inst.problem, value=v))
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
        floors = np.nan_to_num(np.asarray(
            inst.problem.promo_min_spend if inst.problem.promo_min_spend is not None
            else np.zeros(len(inst.promotions)), dtype=float))
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


def empty_promotions() -> pd.DataFrame:
    """The ranked promotions of a plan with none: no row, the columns
    (:data:`~loyalist.schema.PLAN_PROMOTION_COLUMNS`) and their types, so a BI tool reading
    ``promotions.csv`` or the report's export sees the same header as for any other plan."""
    text = ("promotion", "kind", "target_segment", "confidence", "rationale")
    return pd.DataFrame({c: pd.Series(dtype="string" if c in text else "int64"
                                      if c in ("rank", "customers") else "float64")
                         for c in s.PLAN_PROMOTION_COLUMNS})


def _confidence(pred: pd.DataFrame, lo: float, hi: float) -> str:
    """'high' when ``lo``..``hi``, the 80% interval of the rows' incremental revenue
    (:func:`_interval`), excludes zero and is narrower than the revenue itself, 'low' when it
    includes zero or most rows rest on assumed response, else 'medium'."""
    if pred.empty:
        return "n/a"
    prior = pred["assumption"].astype(bool).mean()
    if prior > 0.5:
        return "low (mostly assumed response: no comparable promotion history)"
    mean = float(pred["incremental_revenue"].sum())
    if lo <= 0:
        return (f"low (the 80% interval of the incremental revenue, {lo:,.0f} to {hi:,.0f}, "
                "includes zero)")
    return "high" if hi - lo < mean and prior == 0 else "medium"


def _interval(rows: pd.DataFrame, col: str = "incremental_revenue") -> tuple[float, float]:
    """80% interval of the summed expected ``col`` of ``rows`` from each row's 10/90% points.

    The points are the sampling error of the response model's fit (bootstrap bags), and one
    promotion's customers share its fitted models (a bag refits them for all of them at once),
    so within a promotion the errors add up: the promotion's interval runs from the sum of its
    rows' 10% points to the sum of their 90% points. Promotions are bootstrapped independently,
    so their distances from the point add in quadrature. (Adding every row's error in
    quadrature, as for independent customers, made the interval of a plan of a few thousand
    customers about 10x too narrow: it covered the true value of 2 of 52 generated plans.)"""
    mean = float(rows[col].sum())
    by = rows["promotion"].to_numpy()
    lo = (rows[col] - rows[f"{col}_p10"]).groupby(by).sum().clip(lower=0.0)
    hi = (rows[f"{col}_p90"] - rows[col]).groupby(by).sum().clip(lower=0.0)
    return mean - float(np.sqrt((lo ** 2).sum())), mean + float(np.sqrt((hi ** 2).sum()))


def _rationale(promo: str, kind: str, seg: str, g: pd.DataFrame, goal: str, ctx: PlanContext
               ) -> str:
    c = ctx.customers.reindex(g[s.CUSTOMER_ID])
    who = f"{len(g):,} {seg} customers"
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
              + (f"add {rev:,.0f} in revenue" if rev >= 0 else
                 f"lower revenue by {-rev:,.0f} (discounts on orders that would come anyway)"))
    source = _revenue_source(promo, kind, g, ctx) if rev >= 0 else None
    if source:
        effect += source
    if goal == "retention" and seg == NEW_SEGMENT:
        goal = "retention: customers activated, their first purchase, not customers kept"
    return f"Send {promo} ({kind.replace('_', ' ')}) to {who}" + (f" ({why})" if why else "") \
        + f": {effect} for {g['expected_cost'].sum():,.0f} of spend ({goal})."


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
    rest = (f"{orders:,.0f} from the extra orders at the usual basket" if orders >= 0 else
            f"less {-orders:,.0f} lost with fewer orders at the usual basket")
    return f" ({added:,.0f} from {what}, net of the discount; {rest})"


def goal_value_text(goal: str, value: float, unit: str | None = None) -> str:
    """'16.7 customers kept' / '1,234 of incremental revenue': a plan's value in its goal's
    unit, or ``unit`` (a plan's ``goal_unit``; counts and small amounts with one decimal)."""
    digits = 1 if goal in COUNT_GOALS or abs(value) < 100 else 0
    return f"{value:,.{digits}f} {unit or GOAL_UNITS[goal]}"


def unspent_text(inst: PlanInstance, params: PlanParams, spend: float, targeted: int
                 ) -> str | None:
    """Why a plan leaves more than :data:`UNSPENT_SHARE` of its budget unspent (None when it
    does not, or targets nobody: :func:`why_empty` says that)."""
    if params.budget <= 0 or targeted == 0 or spend >= (1 - UNSPENT_SHARE) * params.budget:
        return None
    v = np.asarray(inst.problem.value, dtype=float)
    worth = int((np.asarray(inst.problem.eligible, dtype=bool) & (v > 0)).any(axis=1).sum())
    left = (f"{amount_text(params.budget - spend)} of the {amount_text(params.budget)} budget "
            "is left unspent: ")
    if targeted >= worth:
        return left + (f"all {worth:,} eligible customers with an offer worth its cost are "
                       "targeted, one offer each, so a larger budget would buy nothing more")
    return left + ("the limits bind before the budget (a promotion's maximum spend, the "
                   "segment share, inventory caps or the budget per month)")


def goal_unit(params: PlanParams, ctx: PlanContext) -> str:
    """What a plan's goal value counts. Profit with overstocked categories is not profit
    alone: their revenue is credited :data:`OVERSTOCK_BONUS` on top (avoided markdowns), so
    the unit says so and the net profit stays the plan's profit."""
    if params.goal == "profit" and _target_categories(ctx, params):
        return (f"of goal value (incremental profit plus a {OVERSTOCK_BONUS:.0%} credit on "
                "revenue in overstocked categories)")
    return GOAL_UNITS[params.goal]


def losing_money(goal: str, net_profit: float, value: float, per_unit: float | None
                 ) -> str | None:
    """A warning when a plan for another goal than profit costs more than it earns: the
    merchant buys the goal (customers kept, orders, ...) at a loss and should know its price."""
    if goal == "profit" or net_profit >= 0:
        return None
    got = goal_value_text(goal, value)
    each = f" ({per_unit:,.2f} of spend for each)" if per_unit is not None else ""
    return (f"this plan costs more than it earns: net profit {net_profit:,.0f} for {got}"
            f"{each}; the profit goal picks only offers that pay for themselves")


def closed_season_text(warning: str, params: PlanParams, spend: float, targeted: int) -> str:
    """:func:`closed_season`'s ``warning`` with what the plan did: in a closed season the
    effects follow the season (:func:`seasonal_factor`), so a plan sends nothing, or only the
    few sends still worth their cost, and keeps the budget."""
    budget = amount_text(params.budget)
    if targeted == 0:
        return f"{warning}; this plan sends nothing and keeps the whole budget of {budget}"
    return (f"{warning}; this plan spends only {amount_text(spend)} of the {budget} budget, on "
            f"{targeted:,} send(s) still worth their cost at the season's few sales")


def why_empty(inst: PlanInstance, params: PlanParams) -> str | None:
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
        need = amount_text(c_min, up=True)
        contact = (_matrix(inst.pred, "contact_cost", inst.rows, inst.cols, v.shape, np.nan)
                   if "contact_cost" in inst.pred else np.full(v.shape, np.nan))
        cc = float(contact[i, j])
        parts = ""
        if np.isfinite(cc):
            parts = f" ({amount_text(cc)} contact cost" + (
                f" and {amount_text(c_min - cc, up=True)} of expected discount)"
                if c_min - cc > 0 else ")")
        each = float(cheapest[worth.any(axis=1)].min(axis=1).sum())
        which = "the budget per month" if len(months) > 1 else "the budget"
        return (f"{which} {amount_text(room)} is below the cost of a single send worth making: "
                f"the cheapest, {inst.promotions[j]}, costs {need}{parts}; raise {which} to at "
                f"least {need} (sending each of the {int(worth.any(axis=1).sum()):,} customers "
                f"with an offer worth its cost their cheapest one would cost {amount_text(each)})")
    limits = []
    hi = inst.problem.promo_max_spend
    if hi is not None and (np.nan_to_num(np.asarray(hi, dtype=float), nan=np.inf) < c_min).any():
        limits.append("a promotion's max_spend")
    share = inst.problem.group_max_share
    if share is not None and float(np.min(share)) * params.budget < c_min:
        limits.append("the most of the budget a segment may get (max_segment_share)")
    if inst.caps:
        limits.append("the inventory caps")
    return (f"sends worth making fit the budget {amount_text(params.budget)} (the cheapest costs "
            f"{amount_text(c_min)}, {inst.promotions[j]}), but the limits leave none of them: "
            + (", ".join(limits) if limits else "the constraints") + "; relax them")


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


def make_plan(pred: pd.DataFrame, ctx: PlanContext, params: PlanParams,
              constraints: Constraints, *, method: str = "auto", time_limit: float = 60.0,
              with_baseline: bool = True) -> dict[str, Any]:
    """Solve the plan and build what the merchant reads: ``customers`` (the execution plan),
    ``promotions`` (promotion x segment, ranked), ``allocation``, ``segments``, ``sensitivity``
    and a JSON-ready ``summary``. With a budget per month (:meth:`PlanParams.months`) the
    plan is solved on the pooled budget and its sends scheduled into the months
    (:func:`schedule`); ``solution`` is then the pooled solve, before sends that fit no month
    were left out."""
    inst = build_instance(pred, ctx, params, constraints)
    try:
        def solver(problem: Problem) -> Solution:
            return solve(problem, method=method, time_limit=time_limit)

        sol, cap_notes = meet_inventory_caps(inst, solver(inst.problem), solver)
    except InfeasibleError as e:
        raise InfeasibleError(_named(str(e), inst.promotions, constraints.source)) from None
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
    # each send's own 80% interval: its 10% / 90% points (one promotion's customers share
    # its error, so they add up per promotion: :func:`_interval`)
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
        rev_lo, rev_hi = _interval(g)
        spend = g["expected_cost"].sum()
        rows.append({
            "promotion": promo, "kind": g["kind"].iloc[0], "target_segment": sg,
            "customers": len(g), "participation": float(g["p_response"].mean()),
            "incremental_buyers": float(g["incremental_prob"].sum()),
            "incremental_revenue": float(g["incremental_revenue"].sum()),
            "incremental_revenue_lo80": rev_lo, "incremental_revenue_hi80": rev_hi,
            "incremental_margin": float(g["incremental_margin"].sum()),
            "cost": float(spend), "net_profit": float(g["net_profit"].sum()),
            "roi": float(g["net_profit"].sum() / spend) if spend > 0 else None,
            "goal_value": float(g["expected_incremental_value"].sum()),
            "confidence": _confidence(g, rev_lo, rev_hi),
            "rationale": _rationale(promo, g["kind"].iloc[0], sg, g, params.goal, ctx),
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
    segs = _segment_table(ctx, picked)
    budgets = np.linspace(0.0, 2.0 * params.budget, SENSITIVITY_POINTS) if params.budget > 0 \
        else np.array([0.0])
    # each budget's ROI from the very plan its value is read from (net profit as the plan's)
    profit = _matrix(inst.pred, (inst.pred["incremental_margin"]
                                 - inst.pred["contact_cost"]).to_numpy(dtype=float),
                     inst.rows, inst.cols, (len(inst.customers), len(inst.promotions)), 0.0)
    sens = sensitivity(inst.problem, budgets, time_limit=time_limit, profit=profit)
    base, base_note = None, None
    if with_baseline:  # a comparison only: a baseline that cannot meet a limit is no reason
        try:           # to withhold the plan
            base = greedy_baseline(inst.problem)
        except InfeasibleError as e:
            why = re.sub(r"\b(min_spend|max_spend|inventory cap)\[(\d+)\]",
                         lambda m: f"{m[1]} of {inst.promotions[int(m[2])]}",
                         _named(str(e), inst.promotions, None).split(";")[0])
            base_note = ("no greedy baseline to compare with: taking the best value per spend "
                         f"first could not meet the constraints ({why.removeprefix('the ')})")
    spend = float(picked["expected_cost"].sum())
    net_total = float(net.sum())
    rev_lo, rev_hi = _interval(picked)
    closed = (closed_season_text(ctx.closed_season, params, spend, int(chosen.sum()))
              if ctx.closed_season else None)
    # an empty plan for a closed season: the season is why, said once
    empty = None if chosen.any() else closed or why_empty(inst, params)
    value = float(sol.value) if not dropped else float(
        picked["expected_incremental_value"].sum())
    # the solver's bound holds for one pooled budget, a relaxation of the monthly ones
    gap = sol.gap if not dropped else (sol.bound - value) / max(abs(sol.bound), 1e-12)
    gap = max(0.0, gap)  # the bound is proven >= the value: below 0 is rounding (and -0.0)
    per_unit = spend / value if params.goal in COUNT_GOALS and value > 0 else None
    losing = losing_money(params.goal, net_total, value, per_unit) if chosen.any() else None
    short = []
    if dropped:  # a floor can still fail if its own sends fit no month
        got = picked.groupby("promotion")["expected_cost"].sum()
        short = [f"{p} spends {got.get(p, 0.0):,.2f}, below its minimum of {lo:,.2f}: sends "
                 "that fit no month's budget were left out; raise the budget per month or "
                 "lower the minimum"
                 for p, lo in zip(inst.promotions, floors, strict=True)
                 if lo > 0 and got.get(p, 0.0) < lo * (1 - 1e-9)]
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
    if params.goal in ("retention", "reactivation") and new.any():
        month_notes.append(
            f"{picked.loc[new, 'expected_incremental_value'].sum():,.1f} of the "
            f"{goal_value_text(params.goal, value)} are first purchases by registered customers "
            f"who have not bought yet ({NEW_SEGMENT}): customers activated, not kept")
    left = unspent_text(inst, params, spend, int(chosen.sum()))
    candidates = [p for p in inst.promotions if p in set(inst.pred["promotion"])]
    assumptions = list(dict.fromkeys(
        ctx.assumptions + inst.notes + mechanics_notes(ctx, candidates) + month_notes
        + ([base_note] if base_note else [])
        + ([left] if left else [])
        + sorted({t for t in picked["assumption_text"].astype(str) if t})))
    summary = {
        "budget": float(params.budget), "budget_per_month": params.budget_per_month,
        "months": month_rows, "goal": params.goal, "period_days": params.period_days,
        "as_of": str(ctx.as_of.date()), "segments": params.segments or None,
        "offer_fit": bool(params.offer_fit),
        # the categories whose clearance the goal values (named, else the overstocked ones)
        "categories_to_clear": _target_categories(ctx, params)
        if params.goal in CLEAR_GOALS else None,
        "spend": spend, "expected_value": value, "goal_value": value,
        "goal_unit": goal_unit(params, ctx), "cost_per_goal_unit": per_unit,
        "incremental_revenue": float(picked["incremental_revenue"].sum()),
        "incremental_revenue_lo80": rev_lo, "incremental_revenue_hi80": rev_hi,
        "incremental_margin": float(picked["incremental_margin"].sum()),
        "net_profit": net_total, "roi": net_total / spend if spend > 0 else None,
        "customers_targeted": int(chosen.sum()), "customers_considered": len(inst.customers),
        "eligible_customers": int(inst.problem.eligible.any(axis=1).sum()),  # type: ignore[union-attr]
        "excluded": inst.excluded, "confidence": _confidence(picked, rev_lo, rev_hi),
        # why nobody is targeted, in one sentence (None when someone is); also a warning
        "empty_reason": empty,
        "optimizer": {"method": sol.method, "bound": sol.bound, "gap": gap,
                      "seconds": sol.seconds, "status": sol.status,
                      "greedy_value": None if base is None else base.value,
                      "greedy_gap_vs_plan": None if base is None or value == 0 else
                      (value - base.value) / abs(value),
                      "left_out_by_months": dropped},
        "promotions": promos.to_dict(orient="records"),
        "sensitivity": sens.to_dict(orient="records"),
        "assumptions": assumptions,
        "warnings": [w for w in (empty, losing, *short, *inst.warnings,
                                 None if closed == empty else closed) if w],
    }
    return {"summary": summary, "customers": plan_csv, "promotions": promos,
            "allocation": allocation, "segments": segs, "sensitivity": sens,
            "solution": sol, "instance": inst}


def _segment_table(ctx: PlanContext, picked: pd.DataFrame) -> pd.DataFrame:
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
