"""Promotion catalog, randomised campaign history, and the true response model.

The response model (:func:`incremental_purchases`) is the one place that says how much a
promotion moves a customer; the history's outcomes and ``truth_response`` both call it.

**Response model.** A promotion sent at ``t`` raises a customer's purchase intensity during the
response window ``[t, t + W)`` by ``dmu`` expected extra purchases::

    lift = strength(kind, value, spend) * fit(category affinity) * promo_sensitivity
           * price_sensitivity ** PRICE_WEIGHT[kind] * (1 + WINBACK[kind] * lapsing)
           * max(0.15, 1 - COMPETITOR_DAMPING[kind] * competitor_pressure)      (capped at 3)
    dmu  = alive(t) * lift * mu0 / (1 + mu0 / saturation)

``mu0 = lambda * integral of m over the window`` is the customer's baseline expected purchases
(the same seasonal calendar as the history); ``fit = min(2, 0.3 + 0.7 * share / uniform share)``
for category promotions (1 otherwise); ``lapsing = clip((lambda * days since last purchase - 1) /
3, 0, 1)``, so win-back kinds (vouchers, free items, discounts) work better on lapsing customers
and points multipliers worse; ``competitor_pressure`` is the competitor's percent off times the
share of the window it covers (a 25%-off event over the whole window gives 0.25, so a percent
discount keeps half its lift). Dropped-out customers do not respond at all.

In the history, a treated customer makes ``Poisson(dmu)`` extra orders in the window, on top of
their unchanged baseline process, except those that would fall after the customer drops out (a
dropped-out customer never buys again): on average ``dmu * (1 - exp(-p mu0)) / (p mu0)`` of them
survive (dropout is a rate ``p mu0 / W`` process over the window). The chance of buying at all
stays ``1 - exp(-mu0 - dmu)``: without a baseline purchase there is no dropout.

Single-use offers are redeemed on the first incremental order or, without one, on the first
baseline order in the window with probability ``RHO[kind]`` (subsidy: they would have bought
anyway); multi-use offers (points, free shipping) on every incremental order and on each
baseline order with probability ``RHO``. A redeemed order carries the offer (added items, the
discount in ``unit_price``; see :mod:`loyalist.generate.baskets`).

``truth_response`` is the expectation of the same mechanism for a window starting at ``end``:
incremental revenue = surviving incremental orders x spend_mean + redemptions x (value of added
items - discount); incremental margin = the same at the customer's category margins, less the
discount and the offer's cost outside the price (shipping, points); ``basket`` = spend_mean,
which splits the revenue into the orders' part and the offer's. Contact cost is not
subtracted (it is in the catalog).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import gammainc

from loyalist import schema as s
from loyalist.generate.population import Population
from loyalist.generate.scenarios import Merchant, PromotionSpec
from loyalist.generate.simulate import (
    Events,
    alive_at,
    last_purchase_before,
    later_in_day,
    segment_offsets,
    window_events,
)
from loyalist.generate.timeline import DAY, Timeline, competitor_pressure, seconds_in_day

SINGLE_USE = frozenset({"percent_discount", "fixed_voucher", "bogo", "bundle", "free_item"})
#: probability that a baseline order in the window uses the offer
RHO = {"percent_discount": 0.5, "fixed_voucher": 0.35, "bogo": 0.3, "free_shipping": 0.6,
       "points_multiplier": 0.9, "bundle": 0.2, "free_item": 0.45}
#: extra relative lift for a fully lapsing customer (negative: works less on them)
WINBACK = {"percent_discount": 0.6, "fixed_voucher": 1.0, "bogo": 0.2, "free_shipping": 0.3,
           "points_multiplier": -0.5, "bundle": 0.0, "free_item": 1.0}
#: exponent of price sensitivity: price offers appeal to the price-sensitive
PRICE_WEIGHT = {"percent_discount": 1.0, "fixed_voucher": 1.0, "bogo": 0.8, "free_shipping": 0.5,
                "points_multiplier": 0.3, "bundle": 0.7, "free_item": 0.8}
#: how strongly competitor pressure cuts the lift
COMPETITOR_DAMPING = {"percent_discount": 2.0, "fixed_voucher": 1.8, "bogo": 1.6,
                      "free_shipping": 1.2, "points_multiplier": 0.8, "bundle": 1.5,
                      "free_item": 1.4}
#: value of the base loyalty points, as a share of spend (cost of a points multiplier)
POINTS_RATE = 0.03
MAX_LIFT = 3.0
#: kinds that put a promoted item of the promotion's category into a redeemed order
ADDS_ITEM = frozenset({"percent_discount", "bogo", "bundle", "free_item"})
SEND_HOUR = 10


def catalog_frame(m: Merchant) -> pd.DataFrame:
    """The promotion catalog (DESIGN.md columns); list cells are ``;``-separated, empty = all."""
    rows = [{"name": p.name, "kind": p.kind, "value": p.value, "contact_cost": p.contact_cost,
             "min_spend": p.min_spend, "max_spend": p.max_spend,
             "eligible_segments": ";".join(p.eligible_segments),
             "category": ";".join(p.categories)} for p in m.catalog]
    out = pd.DataFrame(rows, columns=list(s.CATALOG_COLUMNS))
    return out.astype({"min_spend": "float64", "max_spend": "float64"})


@dataclass
class ResponseInput:
    """A customer's state when a promotion reaches them (one row per (customer, promotion))."""

    alive: np.ndarray
    mu0: np.ndarray  # baseline expected purchases in the window, if alive
    lam: np.ndarray
    recency_days: np.ndarray
    spend_mean: np.ndarray
    promo_sens: np.ndarray
    price_sens: np.ndarray
    affinity: np.ndarray  # (rows, categories)
    pressure: np.ndarray  # competitor pressure on the window


def offer_strength(promo: PromotionSpec, spend_mean: np.ndarray) -> np.ndarray:
    """Relative lift of the offer for a customer of unit sensitivities with a perfect category
    fit: bigger offers lift more, with diminishing returns; money offers relative to spend."""
    v = promo.value
    spend = np.maximum(spend_mean, 1e-6)
    if promo.kind == "percent_discount":
        out = 0.9 * (v / 25.0) ** 0.8 * np.ones_like(spend)
    elif promo.kind == "fixed_voucher":
        out = 1.2 * (v / np.maximum(spend, promo.min_spend or 0.0)) ** 0.6
    elif promo.kind == "bogo":
        out = (0.15 + 0.45 * v / 100.0) * np.ones_like(spend)
    elif promo.kind == "free_shipping":
        out = 0.35 * np.sqrt(10.0 * v / spend)
    elif promo.kind == "points_multiplier":
        out = 0.25 * max(v - 1.0, 0.0) * np.ones_like(spend)
    elif promo.kind == "bundle":
        out = 0.45 * (v / 15.0) ** 0.8 * np.ones_like(spend)
    else:  # free_item
        out = 0.9 * np.sqrt(v / spend)
    return np.minimum(out, 1.5)


def category_share(promo: PromotionSpec, m: Merchant, affinity: np.ndarray) -> np.ndarray:
    """Share of the customer's affinity on the promotion's categories (1 = all categories)."""
    if not promo.categories:
        return np.ones(len(affinity))
    idx = [m.category_names.index(c) for c in promo.categories]
    return affinity[:, idx].sum(axis=1)


def incremental_purchases(promo: PromotionSpec, m: Merchant, x: ResponseInput) -> np.ndarray:
    """THE response model: expected extra purchases ``dmu`` in the window (module docstring)."""
    kind = promo.kind
    if promo.categories:
        uniform = len(promo.categories) / len(m.categories)
        fit = np.minimum(2.0, 0.3 + 0.7 * category_share(promo, m, x.affinity) / uniform)
    else:
        fit = 1.0
    lapsing = np.clip((x.lam * x.recency_days - 1.0) / 3.0, 0.0, 1.0)
    competitor = np.maximum(0.15, 1.0 - COMPETITOR_DAMPING[kind] * x.pressure)
    lift = (offer_strength(promo, x.spend_mean) * fit * x.promo_sens
            * x.price_sens ** PRICE_WEIGHT[kind] * (1.0 + WINBACK[kind] * lapsing) * competitor)
    lift = np.clip(lift, 0.0, MAX_LIFT)
    return np.where(x.alive, lift * x.mu0 / (1.0 + x.mu0 / m.saturation), 0.0)


def expected_outcome(promo: PromotionSpec, m: Merchant, x: ResponseInput, dmu: np.ndarray,
                     p: np.ndarray, gg_p: float, margin_rate: np.ndarray,
                     item_price: float, item_profit: float) -> dict[str, np.ndarray]:
    """Expected incremental outcome in the window of the redemption mechanism (module
    docstring). Per redeemed order an offer adds items worth ``a`` (profit ``a_profit``), takes
    ``d_rev`` off the price and costs ``d_cost`` outside the price (shipping, points)."""
    v, kind, z = promo.value, promo.kind, x.spend_mean
    zeros = np.zeros_like(z)
    a, a_profit, d_rev, d_cost = zeros, zeros, zeros, zeros
    if kind == "percent_discount":
        if promo.categories:
            share = category_share(promo, m, x.affinity)
            a, a_profit = zeros + item_price, zeros + item_profit
            d_rev = v / 100.0 * (item_price + z * share)
        else:
            d_rev = v / 100.0 * z
    elif kind == "bundle":
        a, a_profit = zeros + item_price, zeros + item_profit
        d_rev = v / 100.0 * (z + item_price)
    elif kind == "bogo":
        a, a_profit = zeros + 2 * item_price, zeros + 2 * item_profit
        d_rev = zeros + v / 100.0 * item_price
    elif kind == "free_item":
        a, a_profit = zeros + item_price, zeros + item_profit
        d_rev = zeros + item_price
    elif kind == "fixed_voucher":
        ms = promo.min_spend or 0.0
        nu = gg_p / np.maximum(z, 1e-9)
        a = ms * gammainc(gg_p, nu * ms) - z * gammainc(gg_p + 1.0, nu * ms)  # E[(ms - z)+]
        a_profit = a * margin_rate
        d_rev = zeros + v
    elif kind == "free_shipping":
        d_cost = zeros + v
    else:  # points_multiplier
        d_cost = (v - 1.0) * POINTS_RATE * z
    alive = x.alive
    pm = np.maximum(p * x.mu0, 1e-12)
    dmu_seen = dmu * -np.expm1(-pm) / pm  # incremental orders before a dropout in the window
    p0 = np.where(alive, -np.expm1(-x.mu0), 0.0)
    p1 = np.where(alive, -np.expm1(-(x.mu0 + dmu)), 0.0)
    rho = RHO[kind]
    if kind in SINGLE_USE:
        redemptions = -np.expm1(-dmu_seen) + np.exp(-dmu_seen) * p0 * rho
    else:
        base_orders = np.where(alive, -np.expm1(-p * x.mu0) / p, 0.0)
        redemptions = dmu_seen + rho * base_orders
    redemptions = np.where(alive, redemptions, 0.0)
    return {
        "alive": alive,
        "baseline_purchase_prob": p0,
        "treated_purchase_prob": p1,
        "incremental_purchase_prob": p1 - p0,
        "incremental_orders": dmu_seen,
        "expected_redemptions": redemptions,
        "discount_cost": redemptions * (d_rev + d_cost),
        "incremental_revenue": dmu_seen * z + redemptions * (a - d_rev),
        "incremental_margin": (dmu_seen * z * margin_rate
                               + redemptions * (a_profit - d_rev - d_cost)),
        "basket": z,
    }


def response_input(m: Merchant, pop: Population, ev: Events, tl: Timeline,
                   calendar: pd.DataFrame, cust: np.ndarray, t: np.ndarray) -> ResponseInput:
    """Customers' state at ``t`` for a response window of ``m.response_window_days`` days."""
    w = m.response_window_days * DAY
    last = last_purchase_before(ev, pop, cust, t)
    return ResponseInput(
        alive=alive_at(ev, pop, cust, t),
        mu0=pop.lam[cust] * (tl.op(t + w) - tl.op(t)),
        lam=pop.lam[cust],
        recency_days=np.maximum(t - last, 0) / DAY,
        spend_mean=pop.spend_mean[cust],
        promo_sens=pop.promo_sens[cust],
        price_sens=pop.price_sens[cust],
        affinity=pop.affinity[cust],
        pressure=competitor_pressure(calendar, tl.origin, t, w),
    )


@dataclass
class Campaigns:
    """Exposures (one row per customer contacted or held out) and their outcomes."""

    cust: np.ndarray
    sent_s: np.ndarray
    promo: np.ndarray  # catalog index, -1 = control
    redeemed: np.ndarray
    inc_cust: np.ndarray  # incremental orders
    inc_t: np.ndarray
    inc_promo: np.ndarray  # catalog index of the offer the order redeems, -1 none
    base_promo: np.ndarray  # per baseline event: catalog index of the offer it redeems, -1


def campaign_days(m: Merchant, tl: Timeline) -> list[int]:
    """Send days (since origin): every ``campaign_every_days`` from the history's day 21, the
    whole response window inside the history."""
    last = tl.end_day - m.response_window_days - 1
    first = tl.start_day + min(21, m.campaign_every_days)
    return list(range(first, last + 1, m.campaign_every_days))


def run_campaigns(rng: np.random.Generator, m: Merchant, pop: Population, ev: Events,
                  tl: Timeline, calendar: pd.DataFrame) -> Campaigns:
    """Randomised campaigns: each contacts ``campaign_reach`` of the eligible customers (consent,
    no opt-out, signed up) and assigns them at random to control or one of its promotions."""
    n_promos = len(m.catalog)
    per = min(3, n_promos)
    days = campaign_days(m, tl)
    cycle = np.concatenate([rng.permutation(n_promos) for _ in range(len(days) * per
                                                                     // n_promos + 1)])
    eligible_base = pop.consent & ~pop.opt_out
    custs, sents, promos = [], [], []
    for j, d in enumerate(days):
        sent = d * DAY + SEND_HOUR * 3600
        eligible = np.flatnonzero(eligible_base & (pop.signup_s < sent))
        chosen = eligible[rng.random(len(eligible)) < m.campaign_reach]
        offers = cycle[j * per:(j + 1) * per]
        arm = np.where(rng.random(len(chosen)) < m.control_share, -1,
                       offers[rng.integers(0, per, size=len(chosen))])
        custs.append(chosen)
        sents.append(np.full(len(chosen), sent, dtype=np.int64))
        promos.append(arm)
    cust = np.concatenate(custs) if custs else np.zeros(0, dtype=np.int64)
    sent = np.concatenate(sents) if sents else np.zeros(0, dtype=np.int64)
    promo = np.concatenate(promos).astype(np.int64) if promos else np.zeros(0, dtype=np.int64)

    x = response_input(m, pop, ev, tl, calendar, cust, sent)
    dmu = np.zeros(len(cust))
    for j, spec in enumerate(m.catalog):
        rows = np.flatnonzero(promo == j)
        xj = ResponseInput(**{f: getattr(x, f)[rows] for f in x.__dataclass_fields__})
        dmu[rows] = incremental_purchases(spec, m, xj)
    n_inc = rng.poisson(dmu)

    # incremental orders: days in the window following the calendar, then the hour of day
    w = m.response_window_days * DAY
    e_idx = np.repeat(np.arange(len(cust)), n_inc)
    t_from, t_to = sent[e_idx], sent[e_idx] + w
    day = tl.draw_days(rng, t_from // DAY, t_to // DAY + 1, len(e_idx))
    inc_t = day * DAY + seconds_in_day(rng, m, len(e_idx))
    inc_t = later_in_day(rng, inc_t, t_from, tl.end_s)
    late = inc_t >= t_to
    inc_t[late] = t_to[late] - 1 - (rng.random(int(late.sum())) * 3600 * 6).astype(np.int64)
    # a customer who drops out during the window makes no order after that
    gone = ev.dropped_at_s[cust[e_idx]]
    keep = (gone < 0) | (inc_t <= gone)
    e_idx, inc_t = e_idx[keep], inc_t[keep]
    n_inc = np.bincount(e_idx, minlength=len(cust))

    kinds = np.array([p.kind for p in m.catalog] + ["none"])
    single = np.isin(kinds, list(SINGLE_USE))
    rho = np.array([RHO[p.kind] for p in m.catalog] + [0.0])
    ex_single = single[promo] & (promo >= 0)
    ex_multi = ~single[promo] & (promo >= 0)

    # redemptions of incremental orders: all (multi-use) or the earliest (single-use)
    inc_promo = np.full(len(e_idx), -1, dtype=np.int64)
    order = np.lexsort((inc_t, e_idx))
    first = np.ones(len(order), dtype=bool)
    first[1:] = e_idx[order][1:] != e_idx[order][:-1]
    redeem_inc = ex_multi[e_idx].copy()
    redeem_inc[order[first & ex_single[e_idx[order]]]] = True
    inc_promo[redeem_inc] = promo[e_idx[redeem_inc]]

    # redemptions of baseline orders in the window
    base_promo = np.full(len(ev.t), -1, dtype=np.int64)
    lo, hi = window_events(ev, cust, sent, sent + w)
    has_base = hi > lo
    # single-use without an incremental order: the first baseline order, with probability rho
    cand = np.flatnonzero(ex_single & (n_inc == 0) & has_base)
    use = cand[rng.random(len(cand)) < rho[promo[cand]]]
    base_promo[lo[use]] = promo[use]
    # multi-use: every baseline order in the window, each with probability rho
    multi = np.flatnonzero(ex_multi & has_base)
    counts = (hi - lo)[multi]
    idx = np.repeat(lo[multi], counts) + segment_offsets(counts)
    owner = np.repeat(multi, counts)
    take = rng.random(len(idx)) < rho[promo[owner]]
    base_promo[idx[take]] = promo[owner[take]]

    redeemed = np.zeros(len(cust), dtype=bool)
    redeemed[e_idx[redeem_inc]] = True
    redeemed[use] = True
    redeemed[owner[take]] = True
    return Campaigns(cust=cust, sent_s=sent, promo=promo, redeemed=redeemed,
                     inc_cust=cust[e_idx], inc_t=inc_t, inc_promo=inc_promo,
                     base_promo=base_promo)


def truth_response(m: Merchant, pop: Population, ev: Events, tl: Timeline,
                   calendar: pd.DataFrame, margin_rate: np.ndarray,
                   offer_items: list[tuple[float, float]]) -> dict[str, np.ndarray]:
    """Expected outcome of every catalog promotion for every customer, for a window starting at
    ``end`` (customer-major: row ``i * P + j`` is customer ``i``, promotion ``j``)."""
    n, n_p = pop.n, len(m.catalog)
    cust = np.arange(n, dtype=np.int64)
    x = response_input(m, pop, ev, tl, calendar, cust, np.full(n, tl.end_s, dtype=np.int64))
    cols: dict[str, np.ndarray] = {}
    for j, spec in enumerate(m.catalog):
        dmu = incremental_purchases(spec, m, x)
        out = expected_outcome(spec, m, x, dmu, pop.p, pop.gg_p, margin_rate, *offer_items[j])
        for k, v in out.items():
            cols.setdefault(k, np.empty(n * n_p, dtype=v.dtype))[j::n_p] = v
    return cols
