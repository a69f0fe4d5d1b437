"""``generate()``: validate the parameters, run the simulation, assemble the frames.

Pure: no I/O, no clock. Randomness comes from ``np.random.default_rng(seed)``, spawned into one
independent stream per stage, so toggling the competitor events (which only changes promotion
response) leaves the customers, their baseline purchases and the campaign assignment unchanged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from loyalist import schema as s
from loyalist.errors import ParameterError
from loyalist.generate.baskets import (
    Products,
    build_products,
    draw_lines,
    draw_returns,
    expected_offer_item,
)
from loyalist.generate.population import Population, draw_population
from loyalist.generate.promotions import (
    Campaigns,
    campaign_days,
    catalog_frame,
    run_campaigns,
    truth_response,
)
from loyalist.generate.scenarios import SCENARIOS, Merchant
from loyalist.generate.simulate import Events, purchase_events, segment_offsets
from loyalist.generate.timeline import (
    DAY,
    Timeline,
    build_timeline,
    competitor_calendar,
    seasonality_frame,
    seconds_in_day,
)

log = logging.getLogger(__name__)

MAX_CUSTOMERS = 10_000_000
MAX_MONTHS = 120
STOCK_WEEKS = 8  # weekly sales in inventory.csv: the last 8 weeks of the history
OVERSTOCK_WEEKS = 12.0  # weeks of cover above which a category is overstocked
TRUTH_COLUMNS = ("customer_id", "purchase_rate", "dropout_prob", "dropped_out_at",
                 "alive_at_end", "spend_mean", "promo_sensitivity", "price_sensitivity",
                 "favourite_category")
RESPONSE_COLUMNS = ("customer_id", "promotion", "alive", "baseline_purchase_prob",
                    "treated_purchase_prob", "incremental_purchase_prob", "incremental_orders",
                    "expected_redemptions", "discount_cost", "incremental_revenue",
                    "incremental_margin", "basket")


@dataclass
class Scenario:
    """A generated merchant: the observable tables, the merchant context and the truth."""

    transactions: pd.DataFrame
    products: pd.DataFrame
    customers: pd.DataFrame
    promotions: pd.DataFrame
    catalog: pd.DataFrame
    seasonality: pd.DataFrame
    competitor_calendar: pd.DataFrame
    inventory: pd.DataFrame
    truth: pd.DataFrame
    truth_response: pd.DataFrame
    meta: dict[str, Any] = field(default_factory=dict)

    def frames(self) -> dict[str, pd.DataFrame]:
        return {k: getattr(self, k) for k in FRAME_NAMES}


FRAME_NAMES = ("transactions", "products", "customers", "promotions", "catalog", "seasonality",
               "competitor_calendar", "inventory", "truth", "truth_response")


def _check_int(name: str, value: object, lo: int, hi: int | None) -> int:
    """``name`` is a keyword (``customers=0``) or a command-line option (``--customers 0``)."""
    allowed = f"an integer from {lo:,} to {hi:,}" if hi is not None else f"an integer >= {lo}"
    sep = " " if name.startswith("-") else "="
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ParameterError(f"{name}{sep}{value!r} is not an integer: use {allowed}")
    if value < lo or (hi is not None and value > hi):
        raise ParameterError(f"{name}{sep}{value:,} is out of range: use {allowed}")
    return int(value)


def validate(scenario: str, customers: object, months: object, seed: object,
             end: object, *, prefix: str = "") -> tuple[Merchant, int, int, int, pd.Timestamp]:
    """The merchant and checked parameters, or :class:`ParameterError` naming the bad one
    (``prefix="--"``: as the command-line option, ``--customers 0``)."""
    if scenario not in SCENARIOS:
        raise ParameterError(f"{prefix}scenario{' ' if prefix else '='}{scenario!r} is unknown: "
                             f"use one of {', '.join(SCENARIOS)}")
    m = SCENARIOS[scenario]
    n = _check_int(f"{prefix}customers", customers, 1, MAX_CUSTOMERS)
    months_ = _check_int(f"{prefix}months", months, 1, MAX_MONTHS)
    seed_ = _check_int(f"{prefix}seed", seed, 0, None)
    if end is None:
        end = m.default_end
    if isinstance(end, datetime) or not isinstance(end, date):
        raise ParameterError(f"end={end!r} is not a date: use a datetime.date such as "
                             f"{m.default_end.isoformat()}")
    if not date(1990, 1, 1) <= end <= date(2199, 12, 31):
        raise ParameterError(f"end={end.isoformat()} is out of range: use a date from "
                             "1990-01-01 to 2199-12-31")
    return m, n, months_, seed_, pd.Timestamp(end)


def generate(scenario: str, *, customers: int, months: int, seed: int, end: date | None = None,
             competitor: bool = True) -> Scenario:
    """Simulate ``months`` months of a merchant's history up to ``end`` (exclusive).

    ``scenario``: one of :data:`SCENARIOS` (fashion, coffee, electronics); ``customers``: 1 to
    10,000,000; ``months``: 1 to 120; ``end``: default per scenario (fashion and coffee
    2026-01-01, electronics 2026-08-01: the start of the season each merchant plans for);
    ``competitor=False`` removes the competitor events (calendar and their effect on the
    response), everything else staying the same for the seed.
    """
    m, n, months, seed, end_ts = validate(scenario, customers, months, seed, end)
    start = end_ts - pd.DateOffset(months=months)
    if m.campaign_every_days < m.response_window_days:  # windows of one customer never overlap
        raise ParameterError(f"{m.key}: campaign_every_days < response_window_days")
    tl = build_timeline(m, start, end_ts, max(m.response_window_days, m.planning_period_days))
    streams = np.random.default_rng(seed).spawn(8)
    calendar = competitor_calendar(m, start, tl.stop)
    if not competitor:
        calendar = calendar.iloc[0:0]

    pr = build_products(streams[0], m)
    pop = draw_population(streams[1], m, n, tl)
    ev = purchase_events(streams[2], m, pop, tl)
    camp = run_campaigns(streams[3], m, pop, ev, tl, calendar)
    o_cust, o_t, o_promo, o_chan, o_store = _orders(streams[4], m, pop, ev, camp, tl)
    lines = draw_lines(streams[5], m, pr, pop, o_cust, o_promo)
    ret_line, ret_qty, ret_t = draw_returns(streams[6], m, lines, o_cust, o_t, tl.end_s)

    ids = _ids(b"C", np.arange(1, n + 1), max(6, len(str(n))))
    tx = _transactions(m, pr, tl, ids, lines, o_cust, o_t, o_chan, o_store,
                       ret_line, ret_qty, ret_t)
    products, inventory = _products(streams[7], m, pr, tl, lines, o_t)
    margin_rate = pop.affinity @ _category_margins(m, pr)
    offers = [expected_offer_item(pr, m, p) for p in m.catalog]
    tr = truth_response(m, pop, ev, tl, calendar, margin_rate, offers)
    truth_resp = _truth_response_frame(m, ids, tr)
    meta = _meta(m, n, months, seed, start, end_ts, calendar, competitor, camp, tl, inventory)
    sc = Scenario(
        transactions=tx, products=products, customers=_customers(m, tl, pop, ids),
        promotions=_promotions(m, tl, ids, camp), catalog=catalog_frame(m),
        seasonality=seasonality_frame(m), competitor_calendar=calendar.reset_index(drop=True),
        inventory=inventory, truth=_truth(m, tl, pop, ev, ids), truth_response=truth_resp,
        meta=meta)
    sc.meta["rows"] = {k: int(len(v)) for k, v in sc.frames().items()}
    return sc


# --- orders -----------------------------------------------------------------------------------

def _orders(rng: np.random.Generator, m: Merchant, pop: Population, ev: Events,
            camp: Campaigns, tl: Timeline
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """All orders (baseline, incremental, guest): customer (-1 guest), time, redeemed offer,
    channel index, store index."""
    seen = ev.t >= tl.start_s  # purchases before the history are not in the log
    n_cust_orders = int(seen.sum()) + len(camp.inc_t)
    n_guest = int(round(m.guest_share / (1 - m.guest_share) * n_cust_orders))
    g_day = tl.draw_days(rng, tl.start_day, tl.end_day, n_guest)
    g_t = g_day * DAY + seconds_in_day(rng, m, n_guest)
    o_cust = np.concatenate([ev.cust[seen], camp.inc_cust, np.full(n_guest, -1, dtype=np.int64)])
    o_t = np.concatenate([ev.t[seen], camp.inc_t, g_t])
    o_promo = np.concatenate([camp.base_promo[seen], camp.inc_promo,
                              np.full(n_guest, -1, dtype=np.int64)])
    guest = o_cust < 0
    alt_p = np.where(guest, m.alt_channel_share, pop.alt_channel_p[np.maximum(o_cust, 0)])
    chan = (rng.random(len(o_t)) < alt_p).astype(np.int64)
    physical = np.array([i for i, st in enumerate(m.stores) if st != "web"], dtype=np.int64)
    web = m.stores.index("web") if "web" in m.stores else -1
    if len(physical):
        # the customer's usual store, mostly; guests and the rest anywhere
        usual = (rng.random(len(o_t)) < 0.85) & ~guest
        other = physical[rng.integers(0, len(physical), size=len(o_t))]
        store = np.where(usual, pop.home_store[np.maximum(o_cust, 0)], other)
        if web >= 0:
            store = np.where(np.asarray(m.channels)[chan] == "web", web, store)
    else:
        store = np.full(len(o_t), web, dtype=np.int64)
    return o_cust, o_t, o_promo, chan, store


# --- frames -----------------------------------------------------------------------------------

def _ids(prefix: bytes | np.ndarray, numbers: np.ndarray, width: int) -> pa.StringArray:
    """Fixed-width ids like ``C000123`` built straight into an Arrow string array."""
    n = len(numbers)
    buf = np.empty((n, width + 1), dtype=np.uint8)
    buf[:, 0] = np.frombuffer(prefix, dtype=np.uint8)[0] if isinstance(prefix, bytes) else prefix
    x = np.asarray(numbers, dtype=np.int64).copy()
    for j in range(width, 0, -1):
        buf[:, j] = 48 + x % 10
        x //= 10
    offsets = np.arange(0, (n + 1) * (width + 1), width + 1, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(buf.ravel()))


def _str(arr: pa.Array | list[str], idx: np.ndarray | None = None,
         null: np.ndarray | None = None) -> pd.Series:
    """A pandas ``string[pyarrow]`` column: ``arr[idx]``, null where ``null``."""
    a = arr if isinstance(arr, pa.Array) else pa.array(arr, type=pa.string())
    if idx is not None:
        ind = pa.array(np.asarray(idx, dtype=np.int64), mask=null)
        a = pc.take(a, ind)
    return pd.Series(pd.arrays.ArrowStringArray(a))


def _ts(tl: Timeline, t_s: np.ndarray) -> pd.Series:
    ns = np.int64(tl.origin.value) + np.asarray(t_s, dtype=np.int64) * 1_000_000_000
    return pd.Series(ns.view("datetime64[ns]"))


def _transactions(m: Merchant, pr: Products, tl: Timeline, ids: pa.StringArray, lines: Any,
                  o_cust: np.ndarray, o_t: np.ndarray, o_chan: np.ndarray, o_store: np.ndarray,
                  ret_line: np.ndarray, ret_qty: np.ndarray, ret_t: np.ndarray
                  ) -> pd.DataFrame:
    # order numbers follow time; lines are grouped by order (sorted by product within), so the
    # time-ordered log is the orders' blocks in time order, with the returns merged in
    perm = np.argsort(o_t, kind="stable")
    number = np.empty(len(o_t), dtype=np.int64)
    number[perm] = np.arange(1, len(o_t) + 1)
    lens = np.bincount(lines.order, minlength=len(o_t))
    starts = np.cumsum(lens) - lens
    sel = np.repeat(starts[perm], lens[perm]) + segment_offsets(lens[perm])
    r_order = lines.order[ret_line]
    r_srt = np.lexsort((lines.product[ret_line], number[r_order], ret_t))
    ret_line, ret_qty, ret_t, r_order = (a[r_srt] for a in (ret_line, ret_qty, ret_t, r_order))
    order = lines.order[sel]
    t = o_t[order]
    at = np.searchsorted(t, ret_t, side="right")
    order = np.insert(order, at, r_order)
    t = np.insert(t, at, ret_t)
    is_ret = np.insert(np.zeros(len(sel), dtype=bool), at, True)
    product = np.insert(lines.product[sel], at, lines.product[ret_line])
    qty = np.insert(lines.qty[sel], at, ret_qty)
    price = np.insert(lines.unit_price[sel], at, lines.unit_price[ret_line])
    del sel, at
    cust = o_cust[order]
    width = max(7, len(str(len(o_t))))
    prefix = np.where(is_ret, ord("R"), ord("O")).astype(np.uint8)
    pid = _ids(b"P", pr.number, 4)
    return pd.DataFrame({
        s.CUSTOMER_ID: _str(ids, np.maximum(cust, 0), cust < 0),
        s.ORDER_ID: _str(_ids(prefix, number[order], width)),
        s.ORDERED_AT: _ts(tl, t),
        s.PRODUCT_ID: _str(pid, product),
        s.QUANTITY: qty.astype(np.int64),
        s.UNIT_PRICE: price.astype(np.float64),
        s.CATEGORY: _str(list(m.category_names), pr.cat[product]),
        s.DESCRIPTION: _str(pr.description, product),
        s.STORE_ID: _str(list(m.stores), o_store[order]),
        s.CHANNEL: _str(list(m.channels), o_chan[order]),
        s.COUNTRY: _str([m.country], np.zeros(len(t), dtype=np.int64)),
    })


def _category_margins(m: Merchant, pr: Products) -> np.ndarray:
    margin = (pr.price - pr.unit_cost) / pr.price
    return np.array([margin[pr.start[c]:pr.stop[c]].mean() for c in range(len(m.categories))])


def _products(rng: np.random.Generator, m: Merchant, pr: Products, tl: Timeline, lines: Any,
              o_t: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Products with stock, and inventory per category: stock covers a few weeks of recent
    sales, many more in overstocked (slow-moving) categories."""
    weeks = min(STOCK_WEEKS, tl.history_days / 7)
    recent = o_t[lines.order] >= tl.end_s - weeks * 7 * DAY
    units = np.bincount(lines.product[recent], weights=lines.qty[recent], minlength=pr.n)
    weekly = units / weeks
    over = np.array([c.overstocked for c in m.categories])[pr.cat]
    cover = np.where(over, rng.uniform(18, 30, pr.n), rng.uniform(3, 8, pr.n))
    floor = np.where(over, rng.integers(10, 60, pr.n), rng.integers(0, 3, pr.n))
    stock = np.maximum(np.rint(weekly * cover), floor).astype(np.int64)
    margin = np.round((pr.price - pr.unit_cost) / pr.price, 4)
    products = pd.DataFrame({
        s.PRODUCT_ID: _str(_ids(b"P", pr.number, 4)),
        s.CATEGORY: _str(list(m.category_names), pr.cat),
        s.DESCRIPTION: _str(pr.description),
        s.PRICE: pr.price, s.UNIT_COST: pr.unit_cost, s.MARGIN: margin, s.STOCK: stock,
    }).sort_values(s.PRODUCT_ID, ignore_index=True)
    stock_c = np.bincount(pr.cat, weights=stock, minlength=len(m.categories))
    weekly_c = np.bincount(pr.cat, weights=weekly, minlength=len(m.categories))
    with np.errstate(divide="ignore", invalid="ignore"):
        cover_c = np.where(weekly_c > 0, stock_c / weekly_c, np.inf)
    inventory = pd.DataFrame({
        s.CATEGORY: list(m.category_names),
        "stock_units": stock_c.astype(np.int64),
        "weekly_sales_units": np.round(weekly_c, 1),
        "weeks_of_cover": np.round(np.minimum(cover_c, 999.0), 1),
        "overstocked": cover_c > OVERSTOCK_WEEKS,
    })
    return products, inventory


def _customers(m: Merchant, tl: Timeline, pop: Population, ids: pa.StringArray) -> pd.DataFrame:
    return pd.DataFrame({
        s.CUSTOMER_ID: _str(ids),
        s.AGE: pop.age.astype(np.int64),
        s.GENDER: _str([g for g, _ in m.genders], pop.gender),
        s.REGION: _str([r for r, _ in m.regions], pop.region),
        s.SIGNUP_AT: _ts(tl, pop.signup_s),
        s.MARKETING_CONSENT: pop.consent.astype(bool),
        s.EMAIL_OPT_OUT: pop.opt_out.astype(bool),
    })


def _promotions(m: Merchant, tl: Timeline, ids: pa.StringArray, camp: Campaigns
                ) -> pd.DataFrame:
    names = [p.name for p in m.catalog] + [s.CONTROL]
    cost = np.array([p.contact_cost for p in m.catalog] + [0.0])
    srt = np.lexsort((camp.cust, camp.sent_s))
    promo = np.where(camp.promo[srt] < 0, len(m.catalog), camp.promo[srt])
    return pd.DataFrame({
        s.CUSTOMER_ID: _str(ids, camp.cust[srt]),
        s.SENT_AT: _ts(tl, camp.sent_s[srt]),
        s.PROMOTION: _str(names, promo),
        s.CHANNEL: _str([m.contact_channel], np.zeros(len(promo), dtype=np.int64)),
        s.COST: cost[promo],
        s.REDEEMED: camp.redeemed[srt],
    }) if len(promo) else pd.DataFrame({
        s.CUSTOMER_ID: _str([]), s.SENT_AT: _ts(tl, np.zeros(0, dtype=np.int64)),
        s.PROMOTION: _str([]), s.CHANNEL: _str([]), s.COST: np.zeros(0),
        s.REDEEMED: np.zeros(0, dtype=bool)})


def _truth(m: Merchant, tl: Timeline, pop: Population, ev: Events, ids: pa.StringArray
           ) -> pd.DataFrame:
    dropped = _ts(tl, np.maximum(ev.dropped_at_s, 0))
    dropped[ev.alive_at_end] = pd.NaT
    return pd.DataFrame({
        "customer_id": _str(ids), "purchase_rate": pop.lam, "dropout_prob": pop.p,
        "dropped_out_at": dropped, "alive_at_end": ev.alive_at_end.copy(),
        "spend_mean": pop.spend_mean, "promo_sensitivity": pop.promo_sens,
        "price_sensitivity": pop.price_sens,
        "favourite_category": _str(list(m.category_names), pop.affinity.argmax(axis=1)),
    }, columns=list(TRUTH_COLUMNS))


def _truth_response_frame(m: Merchant, ids: pa.StringArray, tr: dict[str, np.ndarray]
                          ) -> pd.DataFrame:
    n_p = len(m.catalog)
    n = len(ids)
    cols: dict[str, Any] = {
        "customer_id": _str(ids, np.repeat(np.arange(n), n_p)),
        "promotion": _str([p.name for p in m.catalog], np.tile(np.arange(n_p), n)),
    }
    cols.update(tr)
    return pd.DataFrame(cols, columns=list(RESPONSE_COLUMNS))


def _meta(m: Merchant, n: int, months: int, seed: int, start: pd.Timestamp,
          end: pd.Timestamp, calendar: pd.DataFrame, competitor: bool, camp: Campaigns,
          tl: Timeline, inventory: pd.DataFrame) -> dict[str, Any]:
    plan_end = end + pd.Timedelta(days=m.planning_period_days)
    current = calendar[(calendar["start"] < plan_end) & (calendar["end"] > end)]
    return {
        "scenario": m.key, "name": m.name, "business": m.business, "currency": m.currency,
        "monthly_budget": m.monthly_budget, "goal": m.goal, "goal_text": m.goal_text,
        "planning_period_days": m.planning_period_days,
        "response_window_days": m.response_window_days, "season": m.season,
        "competitor_promo": [
            {"competitor": r.competitor, "kind": r.kind, "value": r.value,
             "start": r.start.date().isoformat(), "end": r.end.date().isoformat()}
            for r in current.itertuples(index=False)],
        "competitor_events": bool(competitor),
        "default_customers": m.default_customers, "country": m.country,
        "holiday_country": m.country, "seed": seed, "customers": n, "months": months,
        "start": start.date().isoformat(), "end": end.date().isoformat(),
        "categories": list(m.category_names),
        "overstocked_categories": inventory.loc[inventory["overstocked"], s.CATEGORY].tolist(),
        "stores": list(m.stores), "channels": list(m.channels),
        "contact_channel": m.contact_channel, "control_share": m.control_share,
        "campaigns": [(tl.origin + pd.Timedelta(days=d)).date().isoformat()
                      for d in campaign_days(m, tl)],
        "exposures": int(len(camp.cust)),
    }
