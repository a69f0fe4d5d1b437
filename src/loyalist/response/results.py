"""What a campaign made: each promotion's sends against its hold-out, in the response window.

A *campaign* is the exposures of chosen send days (default: the latest): the customers sent a
promotion and those held out (promotion ``control``). For every promotion, its sends are
compared with the controls that may stand for its untreated (:func:`controls_of`: the
hold-out of that promotion, or a randomised campaign's common hold-out) **on the same send
day**, and the days are combined weighted by the sends: the difference in each outcome per
customer sent, and in total over the sends measured. Outcomes, read from the transactions in
``[sent_at, sent_at + W)`` (cut at the end of the data while a window is still open):

- ``buyers``: customers with a purchase (0/1);
- ``orders``: orders with a purchase, each at the time of its first line;
- ``revenue``: purchase value (gross of later returns, net of the discounts the prices carry,
  as the response model learns it);
- ``margin``: that value less product costs (``unit_cost`` or ``margin`` of the products; at
  the store's margin rate for lines without, and at
  :data:`~loyalist.response.data.DEFAULT_MARGIN_RATE`, an assumption said in the notes, when
  no product has a cost).

Each outcome is first adjusted for the customer's own past before the send (CUPED: less its
regression on the same outcome in the :data:`PRE_DAYS` and the :data:`LONG_PRE_DAYS` before
it and on the days since the customer's last purchase, with slopes per arm of each send day,
Lin 2013). What a customer bought before the send cannot depend on the arm, so the
difference keeps its expectation, and it loses the variance the past explains. On generated
stores the median interval of the incremental orders is 35% narrower for a coffee chain's
weekly buyers, 12% for a fashion shop's and 8% for an electronics shop's (buyers: 32%, 10%,
7%); against the generator's own incremental orders the error is smaller and the coverage
kept (BENCHMARKS.md). With heavy-tailed spend on a small store one
interval can come out a little wider. The plain difference of means is reported beside
(``unadjusted_per_customer``, and in total ``unadjusted_total`` with its 95% interval) with
the ratio of the interval widths (``interval_vs_unadjusted``). Every readout shows both, the
plain difference of the shares bought beside the adjusted effect: when the groups differed
before the send (a hold-out that happened to buy less beforehand), the two can have opposite
signs (exploratory report 6, finding 5).

Intervals are 95%, from the normal approximation: each exposure's adjusted outcome enters the
estimate with a weight (a send +1, a control ``-sends / controls`` of its day), and the
variance is the sum of squared weights times the variance of the exposure's group (its
day's sends of that promotion, or its day's controls for it). The total over all
promotions adds the weights, so a control group shared by several promotions counts once
with its combined weight (its error is common to them). ``detectable``: the smallest
per-customer effect these group sizes would find with 80% power at 5% significance, ``(1.96 +
0.84) x`` the standard error: a hold-out too small to tell shows up there.

Discounts given in the price are in the lines' prices, so in the revenue and margin; costs
paid outside the price are nowhere in the lines: a free-shipping offer's fee on each order in
the window of a customer who used it, a points multiplier's extra points on their spend there
(the catalog's kind and value, :mod:`loyalist.response.value`'s table; every order of the
window where the promotions table does not say who redeemed). They are taken off the sent
customers' margin (:func:`_outside_costs`), as the plan's incremental margin has them. The
``net`` is that margin less the contact cost of the sends (the promotions table's ``cost``;
where a send carries none, as in a plan's ``sends.csv``, the catalog's contact cost of its
promotion); ``cost`` is the contact cost plus the costs outside the price, the cash the sends
cost beyond their discounts, and ``roi`` the net over it. So it is not the plan's ROI, whose
spend includes the discounts.

With a plan's customers (``plan.csv`` of ``loyalist plan``, or the store's ``plan_customers``),
each promotion's predicted incremental buyers, revenue and margin over the customers measured
stand next to what was measured, and whether the measured interval holds the prediction.
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

from loyalist import schema as s
from loyalist.errors import DataError, ParameterError
from loyalist.features import to_as_of
from loyalist.money import with_code
from loyalist.response.data import (
    CONTROL,
    DEFAULT_MARGIN_RATE,
    _check_window,
    _costed_sales,
    campaign_dates,
    controls_of,
    default_window_days,
    exposure_rows,
    promotion_arms,
    purchase_lines,
)
from loyalist.store import Store, currency

__all__ = ["METRICS", "campaign_results", "select_days"]

#: outcome name -> exposure column
METRICS = {"buyers": "y_purchased", "orders": "y_orders", "revenue": "y_spend",
           "margin": "y_margin"}
#: days before each send whose purchases adjust its outcomes (CUPED): the same outcome in the
#: last ``PRE_DAYS`` (``x_*``), and over the last ``LONG_PRE_DAYS`` (``h_*``) with the log of
#: one plus the days since the last purchase then (``h_recency``; no purchase: the whole span)
PRE_DAYS = 90
LONG_PRE_DAYS = 365
#: outcome column -> its covariates
COVARIATES = {
    "y_purchased": ("x_purchased", "h_orders", "h_recency"),
    "y_orders": ("x_orders", "h_orders", "h_recency"),
    "y_spend": ("x_spend", "h_spend", "h_recency"),
    "y_margin": ("x_margin", "h_margin", "h_recency"),
}
Z95 = NormalDist().inv_cdf(0.975)
#: the power term of the detectable effect (80% power)
Z_POWER = NormalDist().inv_cdf(0.8)
#: the plan's predictions compared, by outcome: plan.csv column
PREDICTED = {"buyers": "incremental_prob", "revenue": "incremental_revenue",
             "margin": "incremental_margin"}


def select_days(dates: pd.Series, sent_from: Any = None, sent_to: Any = None) -> pd.Series:
    """The send days of the campaign: those in ``[sent_from, sent_to]`` (either end open),
    the latest when neither is given; a DataError names the days there are."""
    if len(dates) == 0:
        raise DataError(f"this store has no promotion history (table {s.T_PROMOTIONS} is empty "
                        "or absent): load the campaign's sends, with the customers held out as "
                        "promotion 'control', with `loyalist ingest sends.csv --table "
                        "promotions`")
    if sent_from is None and sent_to is None:
        return dates.iloc[-1:].reset_index(drop=True)
    lo = to_as_of(sent_from, "--from") if sent_from is not None else dates.iloc[0]
    hi = to_as_of(sent_to, "--to") if sent_to is not None else dates.iloc[-1]
    if hi < lo:
        raise ParameterError(f"--to {hi.date()} is before --from {lo.date()}; give a range "
                             "whose start is not after its end")
    days = dates[(dates >= lo) & (dates <= hi)].reset_index(drop=True)
    if len(days) == 0:
        shown = ", ".join(str(d.date()) for d in dates.iloc[-5:])
        raise DataError(f"no promotion was sent between {lo.date()} and {hi.date()}; the "
                        f"history has {len(dates)} send day{'s' if len(dates) != 1 else ''} "
                        f"from {dates.iloc[0].date()} to {dates.iloc[-1].date()} (the last: "
                        f"{shown})")
    return days


def _store_margin_rate(store: Store, end: pd.Timestamp) -> tuple[float, str]:
    """The margin rate of everything sold before ``end`` at product costs, and its source."""
    if store.has_rows(s.T_PRODUCTS):
        q = _costed_sales(store, end, s.CATEGORY)
        rev = math.fsum(q["rev"])
        if rev > 0:
            return math.fsum(q["profit"]) / rev, "products"
    return DEFAULT_MARGIN_RATE, "assumption"


def _exposures(store: Store, days: pd.Series, w: int, end: pd.Timestamp, rate: float
               ) -> pd.DataFrame:
    """One row per (customer, send time, promotion) sent on ``days``, with its window's
    outcomes up to ``end`` and its covariates before the send (:data:`COVARIATES`; one
    query)."""
    after = "l.ordered_at >= e.sent_at"
    recent = f"NOT {after} AND l.ordered_at >= e.sent_at - to_days(CAST($pre AS INTEGER))"
    costs = store.has_rows(s.T_PRODUCTS)
    line_cost = (f"coalesce(t.{s.QUANTITY} * p.{s.UNIT_COST}, t.{s.AMOUNT} * (1 - p.{s.MARGIN}),"
                 f" t.{s.AMOUNT} * (1 - $rate))" if costs else f"t.{s.AMOUNT} * (1 - $rate)")
    join = (f"LEFT JOIN {s.T_PRODUCTS} p ON p.{s.PRODUCT_ID} = t.{s.PRODUCT_ID}"
            if costs else "")
    store.con.register("__campaign_days", pd.DataFrame({"d": pd.to_datetime(days).dt.date}))
    try:
        return store.query(f"""
            WITH e AS ({exposure_rows(store, f"CAST({s.SENT_AT} AS DATE) IN "
                                             "(SELECT d FROM __campaign_days)")}
            ), l AS (  -- orders, each at its first line's time: counted without DISTINCT
                SELECT t.{s.CUSTOMER_ID} AS customer_id, min(t.{s.ORDERED_AT}) AS ordered_at,
                       sum(t.{s.AMOUNT}) AS amount, sum(t.{s.AMOUNT} - {line_cost}) AS profit
                FROM {s.T_TRANSACTIONS} t {join}
                WHERE {purchase_lines("t")} AND t.{s.ORDERED_AT} < $end
                  AND t.{s.ORDERED_AT} >= $first - to_days(CAST($long AS INTEGER))
                  AND t.{s.CUSTOMER_ID} IN (SELECT customer_id FROM e)
                GROUP BY t.{s.CUSTOMER_ID}, t.{s.ORDER_ID}
            )
            SELECT e.customer_id, e.sent_at, e.promotion, e.redeemed, e.redeemed_known, e.cost,
                   e.control_for,
                   count(l.ordered_at) FILTER (WHERE {after}) AS y_orders,
                   coalesce(sum(l.amount) FILTER (WHERE {after}), 0) AS y_spend,
                   coalesce(sum(l.profit) FILTER (WHERE {after}), 0) AS y_margin,
                   count(l.ordered_at) FILTER (WHERE {recent}) AS x_orders,
                   coalesce(sum(l.amount) FILTER (WHERE {recent}), 0) AS x_spend,
                   coalesce(sum(l.profit) FILTER (WHERE {recent}), 0) AS x_margin,
                   count(l.ordered_at) FILTER (WHERE NOT {after}) AS h_orders,
                   coalesce(sum(l.amount) FILTER (WHERE NOT {after}), 0) AS h_spend,
                   coalesce(sum(l.profit) FILTER (WHERE NOT {after}), 0) AS h_margin,
                   ln(1 + coalesce(date_diff('second', max(l.ordered_at) FILTER (
                       WHERE NOT {after}), any_value(e.sent_at)) / 86400.0, $long)) AS h_recency
            FROM e LEFT JOIN l
              ON l.customer_id = e.customer_id
             AND l.ordered_at >= e.sent_at - to_days(CAST($long AS INTEGER))
             AND l.ordered_at < e.sent_at + to_days(CAST($w AS INTEGER))
            GROUP BY ALL
            ORDER BY e.sent_at, e.customer_id, e.promotion""",
            {"end": end.to_pydatetime(), "w": w, "rate": rate, "pre": PRE_DAYS,
             "long": LONG_PRE_DAYS,
             "first": pd.Timestamp(days.min()).to_pydatetime()})
    finally:
        store.con.unregister("__campaign_days")


def _group_variances(frame: pd.DataFrame) -> pd.DataFrame:
    """Per exposure, the variance of each outcome within its group: its day's sends of its
    promotion, or its day's controls held out for the same promotion (or for all); groups of
    one take the variance of all exposures of their arm."""
    cols = list(METRICS.values())
    var = frame.groupby(["campaign", s.PROMOTION, s.CONTROL_FOR], dropna=False,
                        sort=False)[cols].transform("var")
    arm = frame[s.PROMOTION] == CONTROL
    for a in (arm, ~arm):
        fill = frame.loc[a, cols].var().fillna(0.0)
        var.loc[a] = var.loc[a].fillna(fill)
    return var.fillna(0.0)


def _weights(frame: pd.DataFrame, promo: str, controls: pd.Series) -> tuple[np.ndarray, dict]:
    """Each exposure's weight in ``promo``'s total effect (a measured send +1, a control of
    its day ``-sends / controls``, others 0) and the arms' counts."""
    treated, ctrl = promotion_arms(frame, promo, controls)
    day = frame["campaign"]
    n_t = day[treated].value_counts()
    n_c = day[ctrl].value_counts()
    both = n_t.index.intersection(n_c.index)
    measured = treated & day.isin(both)
    held = ctrl & day.isin(both)
    coef = np.zeros(len(frame))
    coef[measured.to_numpy()] = 1.0
    ratio = (n_t.reindex(both) / n_c.reindex(both))
    coef[held.to_numpy()] = -day[held].map(ratio).to_numpy(dtype=float)
    days_without = sorted(str(d.date()) for d in n_t.index.difference(both))
    return coef, {"sent": int(treated.sum()), "measured": int(measured.sum()),
                  "held_out": int(held.sum()), "days_without_holdout": days_without,
                  "treated_mask": treated.to_numpy(), "measured_mask": measured.to_numpy()}


#: fewer exposures than this in an arm of a send day: its slope is its population's, pooled
#: over its arms (one arm's own slope would be too noisy)
MIN_ARM_SLOPE = 50
#: fewest customers sent and held out for an effect to be measured: below it the normal
#: approximation of the difference's interval and p-value fails (a sent arm of 1 to 3 has no
#: variance to speak of), so no p-value is given and the verdict says so
MIN_MEASURED = 20


def _audiences(frame: pd.DataFrame) -> np.ndarray:
    """Each exposure's experiment population, as group codes: a targeted hold-out's
    promotion's sends and its controls (``control_for`` naming a promotion sent that day)
    form one per send day; everything else of the day (a randomised campaign) another."""
    held = frame[s.CONTROL_FOR]
    day = frame["campaign"]
    if held.isna().all():  # randomised campaigns only: one population per day
        return day.groupby(day, sort=False).ngroup().to_numpy()
    ctrl = (frame[s.PROMOTION] == CONTROL).to_numpy()
    sent = pd.MultiIndex.from_arrays([day[~ctrl], frame.loc[~ctrl, s.PROMOTION].astype(str)])
    own = pd.MultiIndex.from_arrays([day, held.astype(str)])
    specific = ctrl & held.notna().to_numpy() & own.isin(sent.unique())
    targeted = own[specific].unique()
    mine = pd.MultiIndex.from_arrays([day, frame[s.PROMOTION].astype(str)]).isin(targeted)
    who = np.where(specific, held.astype(str), np.where(~ctrl & mine,
                                                        frame[s.PROMOTION].astype(str), ""))
    return pd.DataFrame({"d": day.to_numpy(), "a": who}).groupby(
        ["d", "a"], sort=False).ngroup().to_numpy()


def _adjusted(frame: pd.DataFrame) -> pd.DataFrame:
    """The outcomes adjusted for each customer's past before the send (CUPED with a slope
    per arm, Lin 2013; :data:`COVARIATES`: the same outcome in the last :data:`PRE_DAYS` and
    in the last :data:`LONG_PRE_DAYS`, and the days since the last purchase):
    ``y - (X - mean_p(X)) theta_a``, ``theta_a`` the least-squares slopes of ``y`` on ``X``
    within arm ``a`` (a send day's sends of one promotion, or its controls for one or for
    all), ``mean_p`` the mean over the arm's experiment population (:func:`_audiences`). An
    arm under :data:`MIN_ARM_SLOPE` takes its population's slopes, pooled over its arms.
    ``X`` was fixed before the send, so the arms' difference keeps its expectation and loses
    the variance ``X`` explains; slopes per arm, because an offer's effect grows with how
    much a customer buys, so the sent arms' slopes are not the held-out one's."""
    out = frame[["campaign", s.PROMOTION, s.CONTROL_FOR]].copy()
    pop = _audiences(frame)
    arm = frame.groupby(["campaign", s.PROMOTION, s.CONTROL_FOR], dropna=False,
                        sort=False).ngroup().to_numpy()
    small = (np.bincount(arm) < MIN_ARM_SLOPE)[arm]

    def mean(v: np.ndarray, g: np.ndarray) -> np.ndarray:  # each row's group mean(s)
        n = np.bincount(g)
        if v.ndim == 1:
            return (np.bincount(g, v) / n)[g]
        return np.stack([np.bincount(g, c) / n for c in v.T], axis=1)[g]

    def slopes(dx: np.ndarray, dy: np.ndarray, g: np.ndarray) -> np.ndarray:
        """Per group the least-squares slopes of ``dy`` on ``dx`` (centred within the arms),
        for each row; a covariate constant in a group gets no slope there (pseudo-inverse)."""
        k, n = dx.shape[1], g.max() + 1
        sxx = np.zeros((n, k, k))
        for i in range(k):
            for j in range(i, k):
                sxx[:, i, j] = sxx[:, j, i] = np.bincount(g, dx[:, i] * dx[:, j], minlength=n)
        sxy = np.stack([np.bincount(g, dx[:, i] * dy, minlength=n) for i in range(k)], axis=1)
        theta = np.einsum("gij,gj->gi", np.linalg.pinv(sxx, rcond=1e-10, hermitian=True), sxy)
        return theta[g]

    for y, xs in COVARIATES.items():
        xv = frame[list(xs)].to_numpy(dtype=float)
        yv = frame[y].to_numpy(dtype=float)
        dx, dy = xv - mean(xv, arm), yv - mean(yv, arm)
        theta = np.where(small[:, None], slopes(dx, dy, pop), slopes(dx, dy, arm))
        out[y] = yv - ((xv - mean(xv, pop)) * theta).sum(axis=1)
    return out


def _estimate(coef: np.ndarray, raw: tuple[pd.DataFrame, pd.DataFrame],
              adj: tuple[pd.DataFrame, pd.DataFrame], n: int) -> dict[str, Any]:
    """Per outcome: the measured sends' mean, the hold-out's (on the sends' days), the effect
    per customer and in total with 95% intervals from the adjusted outcomes (``adj``: values
    and group variances; :func:`_adjusted`), its p-value and the detectable effect; and the
    unadjusted difference (``raw``) with how much narrower the adjusted interval is."""
    out: dict[str, Any] = {}
    sent = coef > 0

    def effect(y: pd.Series, var: pd.Series) -> tuple[float, float]:
        total = float(np.dot(coef, y.to_numpy(dtype=float)))
        return total, float(np.sqrt(np.dot(coef ** 2, var.to_numpy(dtype=float))))

    for name, col in METRICS.items():
        raw_total, raw_se = effect(raw[0][col], raw[1][col])
        total, se_total = effect(adj[0][col], adj[1][col])
        per, se = total / n, se_total / n
        mean_sent = float(raw[0].loc[sent, col].mean())
        p = math.erfc(abs(per) / se / math.sqrt(2)) if se > 0 else (0.0 if per else 1.0)
        out[name] = {
            "sent_mean": mean_sent, "held_out_mean": mean_sent - raw_total / n,
            "per_customer": per, "per_customer_lo95": per - Z95 * se,
            "per_customer_hi95": per + Z95 * se, "total": total,
            "total_lo95": total - Z95 * se_total, "total_hi95": total + Z95 * se_total,
            "p_value": p, "detectable_per_customer": (Z95 + Z_POWER) * se,
            "unadjusted_per_customer": raw_total / n, "unadjusted_total": raw_total,
            "unadjusted_total_lo95": raw_total - Z95 * raw_se,
            "unadjusted_total_hi95": raw_total + Z95 * raw_se,
            "interval_vs_unadjusted": se_total / raw_se if raw_se > 0 else None,
        }
    return out


def _net(margin: dict[str, Any], contact: float, outside: float) -> dict[str, Any]:
    """Incremental margin (after the costs outside the price) less the contact cost of the
    sends measured (:func:`_costs`), and its return on their cash cost, contact and outside
    the price (None without a cost)."""
    net = margin["total"] - contact
    cost = contact + outside
    return {"total": net, "lo95": margin["total_lo95"] - contact,
            "hi95": margin["total_hi95"] - contact, "cost": cost, "contact_cost": contact,
            "outside_price_cost": outside, "roi": net / cost if cost > 0 else None}


def _outside_costs(store: Store, frame: pd.DataFrame, notes: list[str]) -> np.ndarray:
    """Each exposure's cost paid outside the price in its window (module docstring): a
    free-shipping offer's fee on each of the customer's orders there, a points multiplier's
    extra points (``(value - 1) x points_rate``) on their spend there; nothing for a send
    recorded as not redeemed, nor for other kinds (their discount is in the price)."""
    from loyalist.promote.catalog import catalog_points_rate
    from loyalist.response.value import MULTI_USE, redemption_discount

    out = np.zeros(len(frame))
    if not store.has_rows(s.T_CATALOG):
        return out
    cat = store.query(f"SELECT * FROM {s.T_CATALOG}")
    kinds = dict(zip(cat[s.NAME], cat[s.KIND], strict=True))
    values = dict(zip(cat[s.NAME], pd.to_numeric(cat[s.VALUE], errors="coerce"), strict=True))
    rate, _ = catalog_points_rate(cat)
    used = ~(frame["redeemed_known"].astype(bool) & ~frame["redeemed"].fillna(False).astype(bool))
    said = []
    for promo in frame[s.PROMOTION].unique():
        kind, v = kinds.get(promo), values.get(promo)
        if kind not in MULTI_USE or v is None or not np.isfinite(v):
            continue
        rows = ((frame[s.PROMOTION] == promo) & used).to_numpy()
        # one order's cost outside the price (response.value's table) is a fee per order plus
        # a share of its value, so the window's is the fee x its orders + the share x its spend
        fee = float(redemption_discount(kind, v, 0.0, points_rate=rate)[1])
        share = float(redemption_discount(kind, v, 1.0, points_rate=rate)[1]) - fee
        out[rows] = (fee * frame.loc[rows, "y_orders"].to_numpy(dtype=float)
                     + share * frame.loc[rows, "y_spend"].to_numpy(dtype=float))
        said.append(f"{promo}: the shipping fee, {v:g}, on each order" if kind == "free_shipping"
                    else f"{promo}: {max(v - 1.0, 0.0):g} x {rate:.0%} of the spend in extra "
                    "points")
    if said:
        notes.append("costs paid outside the price are taken off the margin of the customers "
                     "sent (in the window, of those who redeemed, or of all where the history "
                     "does not say who did): " + "; ".join(said))
    return out


def _costs(store: Store, frame: pd.DataFrame, notes: list[str]) -> pd.Series:
    """Each exposure's cost: as the promotions table records it, else (a plan's sends.csv
    carries none) the catalog's contact cost of its promotion, said in ``notes``. Discounts
    are in the prices, so in the margin, not here."""
    cost = pd.to_numeric(frame["cost"], errors="coerce")
    missing = cost.isna() & (frame[s.PROMOTION] != CONTROL)
    if missing.any() and store.has_rows(s.T_CATALOG):
        cat = store.query(f"SELECT {s.NAME} AS name, {s.CONTACT_COST} AS c FROM {s.T_CATALOG} "
                          f"WHERE {s.CONTACT_COST} IS NOT NULL")
        fill = frame.loc[missing, s.PROMOTION].map(dict(zip(cat["name"], cat["c"],
                                                             strict=True)))
        cost = cost.fillna(fill)
        n = int(fill.notna().sum())
        if n:
            notes.append(f"{n:,} sends carry no cost: the catalog's contact cost of their "
                         "promotion is used")
    return cost


def _too_few(est: dict[str, Any], n: int, held: int) -> bool:
    """Whether fewer than :data:`MIN_MEASURED` customers were sent or held out; if so the
    estimates ``est`` lose their p-values (their intervals rest on a variance of a handful)."""
    if min(n, held) >= MIN_MEASURED:
        return False
    for e in est.values():
        e["p_value"] = None
    return True


def _verdict(promo: str, est: dict[str, Any], n: int, held: int, code: str | None = None
             ) -> str:
    """One sentence on the promotion's revenue effect, from the numbers (``code``: the
    store's currency, after the amounts)."""
    r = est["revenue"]
    span = (with_code(f"{r['total']:+,.0f}", code)
            + f" (95%: {r['total_lo95']:+,.0f} to {r['total_hi95']:+,.0f})")
    if _too_few(est, n, held):
        return (f"{promo}: too few customers to measure, {n:,} sent and {held:,} held out (at "
                f"least {MIN_MEASURED} of each are needed); {span} revenue is no evidence "
                "either way.")
    if r["total_lo95"] > 0:
        return (f"{promo} made {span} revenue from {n:,} customers sent, more than the "
                f"{held:,} held out bought in the same window.")
    if r["total_hi95"] < 0:
        return (f"{promo} lost {span} revenue over {n:,} customers sent: they bought less than "
                f"the {held:,} held out.")
    return (f"{promo}: no measurable effect, {span} revenue from {n:,} customers sent; with "
            f"{n:,} sent and {held:,} held out, an effect smaller than "
            f"{with_code(format(r['detectable_per_customer'], ',.2f'), code)} per customer "
            "cannot be told from chance.")


def _against_plan(est: dict[str, Any], plan: pd.DataFrame, frame: pd.DataFrame,
                  measured: np.ndarray, promo: str) -> dict[str, Any]:
    """The plan's predictions summed over the measured sends it holds, and whether each
    measured 95% interval (over those same sends, scaled) holds it."""
    sent = frame.loc[measured, [s.CUSTOMER_ID]].assign(promotion=promo)
    mine = plan[plan["promotion"] == promo]
    j = sent.merge(mine, on=[s.CUSTOMER_ID, "promotion"], how="inner")
    out: dict[str, Any] = {"customers_in_plan": int(len(j)),
                           "customers_measured": int(measured.sum())}
    if len(j) == 0:
        return out
    share = len(j) / max(int(measured.sum()), 1)
    for name, col in PREDICTED.items():
        if col not in j:
            continue
        pred = float(pd.to_numeric(j[col], errors="coerce").sum())
        m = est[name]
        lo, hi = m["total_lo95"] * share, m["total_hi95"] * share
        out[name] = {"predicted": pred, "measured": m["total"] * share,
                     "measured_lo95": lo, "measured_hi95": hi,
                     "within_interval": bool(lo <= pred <= hi)}
    return out


def campaign_results(store: Store, *, sent_from: Any = None, sent_to: Any = None,
                     window_days: int | None = None, plan: pd.DataFrame | None = None,
                     as_of: Any = None) -> dict[str, Any]:
    """Each promotion of the campaign sent on the days in ``[sent_from, sent_to]`` (default:
    the plan's send days with ``plan``, else the latest send day) against its hold-out
    (module docstring). ``plan``: a plan's customer rows (``customer_id``, ``promotion``, its
    predictions and ``send_from``) to compare with. ``as_of``: read as if the data ended
    there (sales before it; the latest send day before it by default). JSON-able."""
    store.require(s.T_TRANSACTIONS)
    code = currency(store)
    end = store.default_as_of()
    if as_of is not None:
        end = min(end, to_as_of(as_of))
    every = campaign_dates(store)
    dates = every[every < end] if as_of is not None and sent_from is None \
        and sent_to is None and plan is None else every
    if len(dates) == 0 and len(every):
        raise DataError(f"no campaign was sent before {end.date()} (the first on "
                        f"{every.iloc[0].date()}); give a later as_of")
    if plan is not None and sent_from is None and sent_to is None \
            and "send_from" in plan and plan["send_from"].notna().any():
        sends = pd.to_datetime(plan["send_from"])  # the plan's own send days
        sent_from, sent_to = sends.min(), sends.max()
    days = select_days(dates, sent_from, sent_to)
    w = _check_window(window_days) if window_days is not None else default_window_days(every)
    late = days[days >= end]
    days = days[days < end]
    if len(days) == 0:
        raise DataError(f"no sale is recorded on or after the send day {late.iloc[0].date()} "
                        f"(the data ends {(end - pd.Timedelta(days=1)).date()}), so there is "
                        "nothing to measure yet: load the sales since the campaign with "
                        "`loyalist ingest sales.csv`")
    rate, source = _store_margin_rate(store, end)
    frame = _exposures(store, days, w, end, rate)
    frame["campaign"] = frame["sent_at"].astype("datetime64[ns]").dt.normalize()
    for k in ("y", "x", "h"):
        frame[f"{k}_purchased"] = (frame[f"{k}_orders"] > 0).astype(float)
        for c in ("orders", "spend", "margin"):
            frame[f"{k}_{c}"] = frame[f"{k}_{c}"].astype(float)
    notes = []
    if source == "assumption":
        notes.append(f"no product has a unit cost or margin: margin is revenue x "
                     f"{DEFAULT_MARGIN_RATE:.0%} (an assumption); load products.csv with "
                     "unit_cost to measure it")
    if len(late):
        notes.append(f"{len(late)} send day(s) on or after the data end left out: "
                     + ", ".join(str(d.date()) for d in late))
    windows = []
    for d in days:
        seen = min(w, (end - d).days)
        windows.append({"sent": str(d.date()), "days_observed": int(seen),
                        "complete": bool(seen >= w)})
        if seen < w:
            notes.append(f"the window of {d.date()} is open: {seen} of {w} days observed "
                         f"(data end {(end - pd.Timedelta(days=1)).date()}); totals will grow as "
                         "later sales are loaded")
    outside = _outside_costs(store, frame, notes)
    frame["y_margin"] -= outside
    raw = (frame, _group_variances(frame))
    adjusted = _adjusted(frame)
    adj = (adjusted, _group_variances(adjusted))
    promos = sorted(p for p in frame[s.PROMOTION].unique() if p != CONTROL)
    rows: dict[str, Any] = {}
    total_coef = np.zeros(len(frame))
    total_cost = total_outside = 0.0
    total_redeemed: int | None = None
    cost_col = _costs(store, frame, notes)
    for promo in promos:
        coef, arms = _weights(frame, promo, controls_of(frame, promo))
        treated, measured = arms.pop("treated_mask"), arms.pop("measured_mask")
        red = frame.loc[treated]
        known = red["redeemed_known"].to_numpy(dtype=bool)
        row: dict[str, Any] = {**arms,
                               "redeemed": int(red["redeemed"].sum()) if known.any() else None,
                               "cost": float(cost_col[treated].sum() + outside[treated].sum())
                               if cost_col[treated].notna().any() else None}
        if row["redeemed"] is not None:
            total_redeemed = (total_redeemed or 0) + row["redeemed"]
        if arms["measured"] == 0:
            row["verdict"] = (f"{promo}: not measurable, no customer was held out from it on its "
                              "send day(s); plan with --holdout (or keep a control group) to "
                              "measure it")
            rows[promo] = row
            continue
        est = _estimate(coef, raw, adj, arms["measured"])
        cost = float(cost_col[measured].fillna(0.0).sum())
        extra = float(outside[measured].sum())
        row.update(est)
        row["net"] = _net(est["margin"], cost, extra)
        total_cost += cost
        total_outside += extra
        row["verdict"] = _verdict(promo, est, arms["measured"], arms["held_out"], code)
        if plan is not None:
            row["plan"] = _against_plan(est, plan, frame, measured, promo)
        rows[promo] = row
        total_coef += coef
    n_all = int((total_coef > 0).sum())
    total: dict[str, Any] = {"sent": int((frame[s.PROMOTION] != CONTROL).sum()),
                             "measured": n_all,
                             "held_out": int((total_coef < 0).sum()),
                             "redeemed": total_redeemed,
                             "cost": (sum(r["cost"] for r in rows.values()
                                          if r.get("cost") is not None)
                                      if any(r.get("cost") is not None for r in rows.values())
                                      else None)}
    if n_all:
        total.update(_estimate(total_coef, raw, adj, n_all))
        total["net"] = _net(total["margin"], total_cost, total_outside)
        _too_few({m: total[m] for m in METRICS}, n_all, total["held_out"])
    if not any(r["measured"] for r in rows.values()):
        notes.append("no promotion of these days has a hold-out on its send day: nothing is "
                     "measured; keep a control group (`loyalist plan --holdout 0.1`)")
    return {"days": [str(d.date()) for d in days], "window_days": w, "windows": windows,
            "adjustment": f"each outcome less its regression on the customer's own in the "
                          f"{PRE_DAYS} and {LONG_PRE_DAYS} days before the send and the days "
                          "since their last purchase, per arm of each send day (CUPED)",
            "data_end": str((end - pd.Timedelta(days=1)).date()), "margin_source": source,
            "margin_rate": rate, "promotions": rows, "total": total, "notes": notes,
            "plan_compared": plan is not None, "currency": code}
