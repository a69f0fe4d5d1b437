"""What the API serves, read from the store's result tables (``scores``, ``plans``,
``plan_customers``, ``recommendations``, ``forecast``) as plain dicts.

Each function takes a :class:`~loyalist.api.storegate.Reader` and raises :class:`NotFound` (404)
or :class:`~loyalist.errors.ParameterError` (422) with a message that says what to run. "Latest"
means the greatest ``as_of``; for plans, the greatest ``as_of`` and then the one written last.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime, timedelta
from typing import Any

from loyalist import jsontext
from loyalist import schema as s
from loyalist.api.cache import CustomerCache, Sorted, plan_offer
from loyalist.api.storegate import Reader
from loyalist.errors import LoyalistError, ParameterError
from loyalist.ingest.parse import customer_key
from loyalist.store import stored_currency

log = logging.getLogger(__name__)

#: result tables /health reports on
RESULT_TABLES = (s.T_FEATURES, s.T_SCORES, s.T_PLANS, s.T_PLAN_CUSTOMERS, s.T_RECOMMENDATIONS,
                 s.T_FORECAST)
#: what a customer lookup returns from ``scores`` (when the column exists)
SCORE_FIELDS = ("r_score", "f_score", "m_score", "grid_segment", "cluster_name",
                "churn_probability",
                "churn_tier", "p_alive", "expected_orders", "clv_p10", "clv_p50", "clv_p90",
                "clv_bgnbd", "clv_expected", "clv_horizon_days")
#: what a customer's row of the latest plan returns (when the column exists)
PLAN_FIELDS = ("promotion", "target_segment", "expected_incremental_value", "expected_cost",
               "probability", "incremental_prob", "reasons")
NO_SEGMENT = "(none)"


class NotFound(LoyalistError):
    """The thing asked for is not in the store (HTTP 404)."""


#: JSON-safe: NaN and infinities become None, recursively (one rule with every JSON document
#: Loyalist writes)
clean = jsontext.finite


def tables(r: Reader) -> frozenset[str]:
    return r.memo("tables", lambda: frozenset(
        t for (t,) in r.con.execute("SELECT table_name FROM duckdb_tables()").fetchall()))


def columns(r: Reader, table: str) -> tuple[str, ...]:
    return r.memo(f"columns:{table}", lambda: tuple(
        c for (c,) in r.con.execute("SELECT column_name FROM duckdb_columns() "
                                    "WHERE table_name = ? ORDER BY column_index",
                                    [table]).fetchall()))


def _latest(r: Reader, table: str) -> datetime | None:
    if table not in tables(r):
        return None
    return r.memo(f"as_of:{table}", lambda: r.con.execute(
        f"SELECT max(as_of) FROM {table}").fetchall()[0][0])


def scores_as_of(r: Reader) -> datetime:
    ts = _latest(r, s.T_SCORES)
    if ts is None:
        raise NotFound(f"{r.path}: no customer scores in the store; run `loyalist train "
                       f"--store {r.path}` first")
    return ts


def currency(r: Reader) -> str | None:
    """The ISO 4217 code of the store's amounts (None: unknown), in every response that
    carries money (:func:`loyalist.store.stored_currency`)."""
    return r.memo("currency", lambda: stored_currency(r.con)[0])


def health(r: Reader) -> dict[str, Any]:
    return r.memo("health", lambda: _health(r))


def _health(r: Reader) -> dict[str, Any]:
    have = tables(r)
    ts = _latest(r, s.T_SCORES)
    n = r.con.execute(f"SELECT count(*) FROM {s.T_SCORES} WHERE as_of = ?",
                      [ts]).fetchall()[0][0] if ts is not None else 0
    return {"scores_as_of": ts, "customers_scored": int(n),
            "recommendations_as_of": _latest(r, s.T_RECOMMENDATIONS),
            "latest_plan_id": (latest_plan(r) or {}).get("plan_id"),
            "tables": {t: t in have for t in RESULT_TABLES}, "currency": currency(r)}


def customer(r: Reader, customer_id: str, *, products: int = 10) -> dict[str, Any]:
    """Scores at the latest as_of, the customer's offer in the latest plan, top products."""
    customer_id = customer_key(customer_id)
    ts = scores_as_of(r)
    cache = customer_cache(r)
    if cache is not None:
        row = cache.score_row(customer_id)
        offer = cache.offer(customer_id)
        top = cache.top_products(customer_id, products) if row else []
    else:
        rows = r.rows(f"SELECT * FROM {s.T_SCORES} WHERE as_of = ? AND {s.CUSTOMER_ID} = ?",
                      [ts, customer_id])
        row = rows[0] if rows else None
        offer = customer_offer(r, customer_id)
        top = _products(r, customer_id, None, products)[2] if row else []
    if row is None and offer is None:
        raise NotFound(f"customer {customer_id!r} is not in the scores at as_of {ts.date()} "
                       + ("(a registered customer with no purchase before that date: no "
                          "scores yet)" if registered(r, customer_id) else
                          "(unknown id, or a customer first seen after that date)"))
    if row is None:  # a registered customer with no purchase yet, in the plan
        row = {"rfm_segment": offer.get("target_segment")}
    reasons = row.get("reasons")
    out = {"customer_id": customer_id, "as_of": ts, "segment": row.get("rfm_segment"),
           **{k: row.get(k) for k in SCORE_FIELDS},
           "reasons": [x for x in reasons.split("; ") if x] if reasons else [],
           "plan": offer, "products": top, "currency": currency(r)}
    return clean(out)  # type: ignore[no-any-return]


def registered(r: Reader, customer_id: str) -> bool:
    """Whether ``customer_id`` is in the customers table (registered, bought or not)."""
    if s.T_CUSTOMERS not in tables(r):
        return False
    return bool(r.rows(f"SELECT 1 FROM {s.T_CUSTOMERS} WHERE {s.CUSTOMER_ID} = ? LIMIT 1",
                       [customer_key(customer_id)]))


def customer_cache(r: Reader) -> CustomerCache | None:
    """The in-memory read model (:mod:`loyalist.api.cache`), or None above the size limit."""
    return r.memo("customer_cache", lambda: _build_cache(r))


def _build_cache(r: Reader) -> CustomerCache | None:
    ts = scores_as_of(r)
    n = r.con.execute(f"SELECT count(*) FROM {s.T_SCORES} WHERE as_of = ?", [ts]).fetchall()
    if n[0][0] > r.cache_max_customers:
        return None

    def arrow(sql: str, params: list[object] | dict[str, object]) -> Sorted:
        return Sorted.of(r.con.sql(sql, params=params).to_arrow_table())

    scores = arrow(f"SELECT * FROM {s.T_SCORES} WHERE as_of = ? AND {s.CUSTOMER_ID} IS NOT NULL "
                   f"ORDER BY {s.CUSTOMER_ID}", [ts])
    plan, offers = latest_plan(r), None
    if plan is not None and s.T_PLAN_CUSTOMERS in tables(r):
        offers = arrow(f"SELECT * FROM ({plan_rows_sql(r, '')}) ORDER BY {s.CUSTOMER_ID}",
                       {"plan": plan["plan_id"]})
    rec_ts, methods = _rec_methods(r)
    method = ("hybrid" if "hybrid" in methods else methods[0]) if methods else None
    products = None
    if method is not None:
        pick, join = _product_columns(r)
        products = arrow(f"SELECT rec.{s.CUSTOMER_ID}, {pick} "
                         f"FROM {s.T_RECOMMENDATIONS} rec {join} "
                         "WHERE rec.as_of = ? AND rec.method = ? "
                         f"ORDER BY rec.{s.CUSTOMER_ID}, rec.rank", [rec_ts, method])
    return CustomerCache(scores=scores, offers=offers, plan=plan, products=products,
                         rec_method=method, rec_as_of=rec_ts)


def warm(r: Reader) -> None:
    """Build what the hot endpoints memoise (at start-up, so no request pays for it)."""
    if s.T_SCORES in tables(r):
        customer_cache(r)
        health(r)


def latest_plan(r: Reader) -> dict[str, Any] | None:
    if s.T_PLANS not in tables(r):
        return None
    return r.memo("latest_plan", lambda: next(iter(r.rows(
        f"SELECT plan_id, as_of, goal, budget FROM {s.T_PLANS} "
        "ORDER BY as_of DESC, rowid DESC LIMIT 1")), None))


def plan_rows_sql(r: Reader, where: str) -> str:
    """The latest plan's rows per customer: its offers (:data:`PLAN_FIELDS`) and, from its
    sends, the customers held out as its control group (``held_out_from``: the promotion held
    back; a back office must not reach them another way, or the readout loses its control)."""
    want = [c for c in PLAN_FIELDS if c in columns(r, s.T_PLAN_CUSTOMERS)]
    sql = (f"SELECT {', '.join([s.CUSTOMER_ID, *want])}, CAST(NULL AS VARCHAR) AS held_out_from "
           f"FROM {s.T_PLAN_CUSTOMERS} WHERE plan_id = $plan {where}")
    if s.T_PLAN_SENDS in tables(r):
        sql += (f" UNION ALL BY NAME SELECT {s.CUSTOMER_ID}, {s.CONTROL_FOR} AS held_out_from "
                f"FROM {s.T_PLAN_SENDS} WHERE plan_id = $plan AND {s.PROMOTION} = "
                f"'{s.CONTROL}' {where}")
    return sql


def customer_offer(r: Reader, customer_id: str) -> dict[str, Any] | None:
    plan = latest_plan(r)
    if plan is None or s.T_PLAN_CUSTOMERS not in tables(r):
        return None
    rows = r.rows(plan_rows_sql(r, f"AND {s.CUSTOMER_ID} = $id") + " LIMIT 1",
                  {"plan": plan["plan_id"], "id": customer_id})
    return plan_offer(plan, rows[0]) if rows else None


def _rec_methods(r: Reader) -> tuple[datetime | None, tuple[str, ...]]:
    ts = _latest(r, s.T_RECOMMENDATIONS)
    if ts is None:
        return None, ()
    return ts, r.memo("rec_methods", lambda: tuple(m for (m,) in r.con.execute(
        f"SELECT DISTINCT method FROM {s.T_RECOMMENDATIONS} WHERE as_of = ? ORDER BY 1",
        [ts]).fetchall()))


def _products(r: Reader, customer_id: str, method: str | None, n: int
              ) -> tuple[datetime | None, str | None, list[dict[str, Any]]]:
    ts, methods = _rec_methods(r)
    if ts is None or not methods:
        return ts, None, []
    if method is None:
        method = "hybrid" if "hybrid" in methods else methods[0]
    elif method not in methods:
        raise ParameterError(f"method {method!r} has no stored recommendations at as_of "
                             f"{ts.date()}; stored: {', '.join(methods)}")
    cache = customer_cache(r)
    if cache is not None and method == cache.rec_method and ts == cache.rec_as_of:
        return ts, method, cache.top_products(customer_id, n)
    pick, join = _product_columns(r)
    rows = r.rows(f"SELECT {pick} FROM {s.T_RECOMMENDATIONS} rec {join} WHERE rec.as_of = ? "
                  f"AND rec.method = ? AND rec.{s.CUSTOMER_ID} = ? ORDER BY rec.rank LIMIT ?",
                  [ts, method, customer_id, n])
    return ts, method, rows


def _product_columns(r: Reader) -> tuple[str, str]:
    """What a recommended product shows, and the join to ``products`` that gives it."""
    pick = "rec.rank, rec.product_id, rec.score"
    have = columns(r, s.T_RECOMMENDATIONS)  # reason, description: stored since 2026-11
    pick += "".join(f", rec.{c}" for c in ("reason", "because_of", s.DESCRIPTION)
                    if c in have)
    if s.T_PRODUCTS not in tables(r):
        return pick, ""
    pick += f", p.{s.CATEGORY}"
    if s.DESCRIPTION not in have:
        pick += f", p.{s.DESCRIPTION}"
    return pick, f"LEFT JOIN {s.T_PRODUCTS} p ON p.{s.PRODUCT_ID} = rec.{s.PRODUCT_ID}"


def _no_products(r: Reader, why: str) -> str:
    """``why``, or, when the store's purchases hold one product, that nothing can be
    recommended or paired (the command ``why`` suggests would refuse the store)."""
    from loyalist.report.data import no_products
    from loyalist.store import Store

    return no_products(Store.over(r.con, r.path), None, why) or why


def recommendations(r: Reader, customer_id: str, *, method: str | None, n: int
                    ) -> dict[str, Any]:
    customer_id = customer_key(customer_id)
    ts, chosen, items = _products(r, customer_id, method, n)
    if ts is None:
        raise NotFound(_no_products(r, f"{r.path}: no stored recommendations; run `loyalist "
                                       f"recommend --store {r.path}` first"))
    if not items:
        raise NotFound(f"no recommendations for customer {customer_id!r} at as_of {ts.date()} "
                       f"(method {chosen}); run `loyalist recommend --customer {customer_id}`")
    return clean({"customer_id": customer_id, "as_of": ts, "method": chosen, "items": items})


def together(r: Reader, product_id: str, *, n: int) -> dict[str, Any]:
    """A product's companions from the stored basket rules (latest as_of)."""
    ts = _latest(r, s.T_BASKET_RULES)
    if ts is None:
        raise NotFound(_no_products(r, f"{r.path}: no stored basket rules; run `loyalist "
                                       f"together --store {r.path} --out DIR` (or `loyalist "
                                       "run`) first"))
    have = set(columns(r, s.T_BASKET_RULES))
    desc = ", description, consequent_description" if "description" in have else ""
    rows = r.rows(f"""SELECT rank, consequent, count, confidence, lift, support, product_orders,
                             orders{desc}
                      FROM {s.T_BASKET_RULES} WHERE as_of = ? AND {s.PRODUCT_ID} = ?
                      ORDER BY rank LIMIT ?""", [ts, product_id, n])
    if not rows:
        raise NotFound(f"product {product_id!r} has no companion in the basket rules at as_of "
                       f"{ts.date()} (bought together with nothing in 5 or more orders, or "
                       "unknown)")
    items = [{"rank": x["rank"], "product_id": x["consequent"],
              "description": x.get("consequent_description"), "orders_with_both": x["count"],
              "confidence": x["confidence"], "lift": x["lift"], "support": x["support"]}
             for x in rows]
    return clean({"product_id": product_id, "as_of": ts,
                  "description": rows[0].get("description"),
                  "product_orders": rows[0]["product_orders"], "orders": rows[0]["orders"],
                  "items": items})


def segments(r: Reader) -> dict[str, Any]:
    """One profile per RFM segment at the latest as_of."""
    ts = scores_as_of(r)
    have = set(columns(r, s.T_SCORES))
    aggs = [f"avg({c}) AS mean_{c}" for c in (
        "churn_probability", "p_alive", "expected_orders", "clv_p50", "clv_expected",
        "r_score", "f_score", "m_score") if c in have]
    aggs += [f"sum({c}) AS total_{c}" for c in ("clv_p50", "clv_expected") if c in have]
    if "churn_tier" in have:
        aggs.append("count(*) FILTER (WHERE churn_tier = 'high') AS high_churn_customers")
    rows = r.rows(f"""
        SELECT coalesce(rfm_segment, '{NO_SEGMENT}') AS segment, count(*) AS customers,
               count(*) / sum(count(*)) OVER () AS share{''.join(', ' + a for a in aggs)}
        FROM {s.T_SCORES} WHERE as_of = ? GROUP BY 1 ORDER BY customers DESC, segment""", [ts])
    behaviour = r.memo(f"segment_behaviour:{ts}", lambda: _segment_behaviour(r, ts))
    rows = [x | behaviour.get(x["segment"], {}) for x in rows]
    return clean({"as_of": ts, "customers": sum(x["customers"] for x in rows),
                  "segments": rows, "currency": currency(r)})


#: the columns of the segments CSVs (:func:`loyalist.segment.profile.segment_profile`) that
#: ``/segments`` adds to each segment
BEHAVIOUR = ("revenue", "revenue_share", "mean_order_value", "recency_days_median",
             "orders_mean")


def _segment_behaviour(r: Reader, ts: datetime) -> dict[str, dict[str, Any]]:
    """Revenue and its share, mean order value, median recency and mean orders per RFM
    segment at ``ts``: the segments CSVs' and the report's numbers, from the same source (the
    customer features at ``ts`` joined to the scores, profiled by ``segment_profile``)."""
    from loyalist.features import customer_features
    from loyalist.segment.profile import segment_profile
    from loyalist.store import Store

    scores = r.con.execute(
        f"SELECT {s.CUSTOMER_ID}, coalesce(rfm_segment, '{NO_SEGMENT}') AS rfm_segment "
        f"FROM {s.T_SCORES} WHERE as_of = ? AND {s.CUSTOMER_ID} IS NOT NULL", [ts]).df()
    if scores.empty:
        return {}
    try:
        feats = customer_features(Store.over(r.con, r.path), ts,
                                  columns=("monetary_total", "orders", "recency_days"))
    except LoyalistError as e:  # e.g. the transactions were unloaded after the scores
        log.warning("/segments: no revenue, order value, recency or frequency per segment "
                    "at %s: %s", ts.date(), e)
        return {}
    prof = segment_profile(scores.merge(feats, on=s.CUSTOMER_ID, how="left"), "rfm_segment")
    return {row["segment"]: {k: row[k] for k in BEHAVIOUR}
            for row in prof.to_dict("records")}


def customers_page(r: Reader, *, segment: str | None, tier: str | None, limit: int,
                   offset: int) -> dict[str, Any]:
    ts = scores_as_of(r)
    where, params = ["as_of = ?"], [ts]
    if segment is not None:
        known = r.memo("segments", lambda: tuple(x for (x,) in r.con.execute(
            f"SELECT DISTINCT rfm_segment FROM {s.T_SCORES} WHERE as_of = ? ORDER BY 1",
            [ts]).fetchall() if x is not None))
        if segment == s.NEW_SEGMENT and segment not in known:
            raise ParameterError(
                f"segment {segment!r} is the plans' segment of registered customers with no "
                "purchase yet; they have no scores, so /customers (scored customers) does not "
                f"list them; segments at as_of {ts.date()}: {', '.join(known)}")
        if segment not in known:
            raise ParameterError(f"segment {segment!r} is not a segment at as_of {ts.date()}; "
                                 f"segments: {', '.join(known)}")
        where.append("rfm_segment = ?")
        params.append(segment)
    if tier is not None:
        where.append("churn_tier = ?")
        params.append(tier)
    cond = " AND ".join(where)
    total = r.con.execute(f"SELECT count(*) FROM {s.T_SCORES} WHERE {cond}",
                          params).fetchall()[0][0]
    pick = [c for c in ("churn_probability", "churn_tier", "p_alive", "clv_p50",
                        "clv_expected") if c in columns(r, s.T_SCORES)]
    items = r.rows(f"SELECT {s.CUSTOMER_ID}, rfm_segment AS segment, {', '.join(pick)} "
                   f"FROM {s.T_SCORES} WHERE {cond} ORDER BY {s.CUSTOMER_ID} "
                   "LIMIT ? OFFSET ?", [*params, limit, offset])
    return clean({"as_of": ts, "total": int(total), "limit": limit, "offset": offset,
                  "items": items, "currency": currency(r)})


def _plans_table(r: Reader) -> None:
    if s.T_PLANS not in tables(r):
        raise NotFound(f"{r.path}: no plans in the store; make one with POST /plans or "
                       f"`loyalist plan --store {r.path}`")


def plans(r: Reader) -> list[dict[str, Any]]:
    _plans_table(r)
    rows = r.rows(f"SELECT plan_id, as_of, goal, budget FROM {s.T_PLANS} "
                  "ORDER BY as_of DESC, rowid DESC")
    return [clean(x) for x in rows]


def plan_summary(r: Reader, plan_id: str) -> dict[str, Any]:
    _plans_table(r)
    rows = r.con.execute(f"SELECT summary FROM {s.T_PLANS} WHERE plan_id = ?",
                         [plan_id]).fetchall()
    if not rows:
        raise NotFound(f"plan {plan_id!r} is not in the store; GET /plans lists the plans")
    summary = json.loads(rows[0][0])
    if summary.get("currency") is None:  # a plan made before the store knew its currency
        summary["currency"] = currency(r)
    return clean(summary)  # type: ignore[no-any-return]


def plan_customers_csv(r: Reader, plan_id: str) -> str:
    plan_summary(r, plan_id)  # 404 for an unknown plan
    if s.T_PLAN_CUSTOMERS not in tables(r):
        return ""
    order = "priority, " if "priority" in columns(r, s.T_PLAN_CUSTOMERS) else ""
    frame = r.con.execute(f"SELECT * EXCLUDE (plan_id) FROM {s.T_PLAN_CUSTOMERS} WHERE plan_id = ? "
                          f"ORDER BY {order}{s.CUSTOMER_ID}", [plan_id]).df()
    return str(frame.to_csv(index=False))


def plan_sends_csv(r: Reader, plan_id: str) -> str:
    """The plan's sends and hold-out as promotion history (``sends.csv`` of ``loyalist
    plan``); the header only for a plan stored before the table existed."""
    plan_summary(r, plan_id)  # 404 for an unknown plan
    cols = [s.CUSTOMER_ID, s.SENT_AT, s.PROMOTION, s.CONTROL_FOR]
    if s.T_PLAN_SENDS not in tables(r):
        return ",".join(cols) + "\n"
    frame = r.con.execute(f"SELECT {', '.join(cols)} FROM {s.T_PLAN_SENDS} WHERE plan_id = ? "
                          f"ORDER BY {s.SENT_AT}, {s.CUSTOMER_ID}", [plan_id]).df()
    return str(frame.to_csv(index=False))  # dates at midnight are written as dates


def forecast(r: Reader, *, limit: int = 10_000) -> dict[str, Any]:
    """The stored forecast (table ``forecast``, latest as_of if it has one) and its ``totals``
    over the next 7 and 30 days with intervals of their own (table ``forecast_totals``; empty
    for a forecast stored before it). Forecasting on request is too slow for an API call, so
    without the table this is a 404."""
    if s.T_FORECAST not in tables(r):
        raise NotFound("no stored forecast: the store has no 'forecast' table and computing one "
                       "per request is too slow; run `loyalist forecast --store "
                       f"{r.path} --out DIR` and read DIR/forecast.csv")
    ts = _latest(r, s.T_FORECAST) if "as_of" in columns(r, s.T_FORECAST) else None
    where, params = ("WHERE as_of = ?", [ts]) if ts is not None else ("", [])
    rows = r.rows(f"SELECT * FROM {s.T_FORECAST} {where} LIMIT ?", [*params, limit])
    totals = forecast_totals(r, ts)
    return clean({"as_of": ts, "rows": rows, "totals": totals, "currency": currency(r)})


def forecast_totals(r: Reader, as_of: Any, series: str | None = None) -> list[dict[str, Any]]:
    """The stored forecast's totals over its first 7 and 30 days with their own intervals
    (table ``forecast_totals``), of ``as_of`` (every row when None: a table without as_of)
    and ``series`` (every series when None), by series and days; empty in a store written
    before they were stored."""
    if s.T_FORECAST_TOTALS not in tables(r):
        return []
    conds, params = [], []
    for col, value in (("as_of", as_of), ("series", series)):
        if value is not None:
            conds.append(f"{col} = ?")
            params.append(value)
    where = f"WHERE {' AND '.join(conds)}" if conds else ""
    return r.rows(f"SELECT * EXCLUDE (as_of) FROM {s.T_FORECAST_TOTALS} {where} "
                  "ORDER BY series, days", params)


def option_fields(msg: str, options: dict[str, str]) -> str:
    """A library message as the API's: each CLI option of ``options`` named as its request
    field or query parameter, outside the `commands` the message suggests."""
    parts = msg.split("`")
    parts[::2] = [re.sub(r"(?<![\w-])--[a-z][a-z-]*",
                         lambda m: options.get(m.group(), m.group()), x) for x in parts[::2]]
    return "`".join(parts)


#: the ``loyalist evaluate campaign`` options its messages name, as ``GET
#: /campaigns/results`` query parameters
CAMPAIGN_OPTIONS = {"--from": "from", "--to": "to", "--window": "window", "--plan": "plan_id"}


def campaign(r: Reader, *, sent_from: str | None = None, sent_to: str | None = None,
             window_days: int | None = None, plan_id: str | None = None) -> dict[str, Any]:
    """What a campaign made against its hold-out (``loyalist evaluate campaign``): the latest
    send day, those from ``sent_from`` to ``sent_to``, or the saved plan ``plan_id``'s (whose
    predictions then stand beside). NotFound when the store has nothing to measure there."""
    from loyalist.errors import DataError
    from loyalist.pipeline.promotions import no_such_plan, stored_plan_customers
    from loyalist.response.results import campaign_results
    from loyalist.store import Store

    st = Store.over(r.con, r.path)
    planned = None
    if plan_id is not None:
        planned = stored_plan_customers(st, plan_id)
        if planned is None:
            raise NotFound(str(no_such_plan(st, f"plan_id {plan_id}", "no plan of that id is "
                                            "saved in the store; GET /plans lists them")))
    try:
        res = campaign_results(st, sent_from=sent_from, sent_to=sent_to,
                               window_days=window_days, plan=planned)
    except (DataError, ParameterError) as e:
        msg = option_fields(str(e), CAMPAIGN_OPTIONS).replace("window_days=", "window=")
        msg = msg.replace("`loyalist plan --holdout 0.1`", "POST /plans with \"holdout\": 0.1")
        raise (NotFound(msg) if isinstance(e, DataError) else ParameterError(msg)) from None
    return clean(res)  # the store's currency included (campaign_results)


#: the tiers whose customers count as about to leave
AT_RISK_TIERS = s.CHURN_TIERS[:2]


def churn_risk(r: Reader, *, top: int = 20) -> dict[str, Any]:
    """Customers per churn tier at the latest scores' as_of (share, expected spend over the
    CLV horizon, and that spend times the churn risk: the spend at stake), and the ``top``
    customers of the :data:`AT_RISK_TIERS` with the most spend at stake. NotFound when the
    scores hold no churn risk (segments only)."""
    ts = scores_as_of(r)
    have = set(columns(r, s.T_SCORES))
    if not {"churn_probability", "churn_tier"} <= have:
        raise NotFound("the scores have no churn risk (written by a version without churn); "
                       f"run `loyalist train --store {r.path}`")
    value = "clv_expected" if "clv_expected" in have else "NULL::DOUBLE"
    horizon = "any_value(clv_horizon_days)" if "clv_horizon_days" in have else "NULL"
    where = "as_of = ? AND churn_probability IS NOT NULL"
    tiers = r.rows(f"""
        SELECT churn_tier AS tier, count(*) AS customers,
               count(*) / sum(count(*)) OVER () AS share,
               avg(churn_probability) AS mean_probability,
               sum({value}) AS clv_expected, sum(churn_probability * {value}) AS at_stake,
               {horizon} AS horizon_days
        FROM {s.T_SCORES} WHERE {where} GROUP BY 1""", [ts])
    if not tiers:
        raise NotFound(f"churn and lifetime value were not trained at {ts.date()} (the scores "
                       "hold segments only); train again with more history or customers")
    order = s.CHURN_TIERS
    tiers.sort(key=lambda x: (order.index(x["tier"]) if x["tier"] in order else len(order),
                              str(x["tier"])))
    reasons = "reasons" if "reasons" in have else "NULL"
    rows = r.rows(f"""
        SELECT {s.CUSTOMER_ID}, rfm_segment AS segment, churn_probability, churn_tier,
               {value} AS clv_expected, churn_probability * {value} AS at_stake,
               {reasons} AS reasons
        FROM {s.T_SCORES} WHERE {where} AND churn_tier IN ({', '.join('?' * len(AT_RISK_TIERS))})
        ORDER BY at_stake DESC NULLS LAST, churn_probability DESC, {s.CUSTOMER_ID}
        LIMIT ?""", [ts, *AT_RISK_TIERS, top])
    for x in rows:
        x["reasons"] = [t for t in (x["reasons"] or "").split("; ") if t]
    return clean({"as_of": ts, "customers": sum(x["customers"] for x in tiers),
                  "horizon_days": tiers[0]["horizon_days"], "tiers": tiers, "top": rows,
                  "evaluation": churn_evaluation(r, ts), "currency": currency(r)})


def churn_evaluation(r: Reader, ts: Any) -> dict[str, Any] | None:
    """The churn model's out-of-time evaluation kept by ``loyalist train`` for the scores of
    ``ts`` (:func:`~loyalist.evaluation.runs.stored_run`): test cutoff and window, customers,
    ROC-AUC of the model and of each baseline (named in words), which one scored, and each
    tier's observed churn. None when the store keeps none (trained by an earlier version)."""
    from loyalist.churn.baseline import BASELINES
    from loyalist.evaluation.runs import TRAIN_RUN, stored_run
    from loyalist.store import Store

    metrics = stored_run(Store.over(r.con, r.path), TRAIN_RUN, ts)
    ev = ((metrics or {}).get("evaluation") or {})
    churn = ev.get("churn") or {}
    if not churn.get("models"):
        return None
    names = {"model": "the churn model (LightGBM)", **BASELINES}
    models = [{"model": k, "name": names.get(k, k), "roc_auc": v.get("roc_auc"),
               "n": v.get("n")} for k, v in churn["models"].items()]
    scoring = (metrics or {}).get("churn") or {}
    window = ev.get("label_window") or [None, None]  # [start, end): its last day is shown
    last = (str((datetime.fromisoformat(str(window[1])) - timedelta(days=1)).date())
            if window[1] else None)
    return {"test_cutoff": ev.get("test_cutoff"), "window": [window[0], last],
            "churn_rate": churn.get("churn_rate"), "models": models,
            "scored_by": scoring.get("label") or names["model"],
            "tiers": churn.get("tiers") or {}, "warning": churn.get("warning")}


#: example rows shown per quarantine rule
QUARANTINE_EXAMPLES = 3


def quarantine(r: Reader) -> dict[str, Any]:
    """The loads (rows read, loaded, quarantined per file), the rows per (table, rule) (the
    report's :func:`~loyalist.report.data.loads_and_rules`), the quarantined rows per load and
    rule, and :data:`QUARANTINE_EXAMPLES` raw rows per quarantine rule."""
    from loyalist.report.data import loads_and_rules
    from loyalist.store import Store

    loads, rules = loads_and_rules(Store.over(r.con, r.path))
    per_load: list[dict[str, Any]] = []
    examples: dict[tuple[str, str], list[dict[str, Any]]] = {}
    if s.T_QUARANTINE in tables(r):
        per_load = r.rows(f"SELECT {s.LOAD_ID}, rule, count(*) AS rows FROM {s.T_QUARANTINE} "
                          "GROUP BY ALL ORDER BY 1, 3 DESC, 2")
        for x in r.rows(f"""
                SELECT tbl, rule, {s.LOAD_ID}, {s.SOURCE_ROW}, raw FROM {s.T_QUARANTINE}
                QUALIFY row_number() OVER (PARTITION BY tbl, rule
                                           ORDER BY {s.LOAD_ID}, {s.SOURCE_ROW}) <= ?
                ORDER BY tbl, rule, {s.LOAD_ID}, {s.SOURCE_ROW}""", [QUARANTINE_EXAMPLES]):
            raw = json.loads(x.pop("raw")) if x["raw"] else {}
            examples.setdefault((x.pop("tbl"), x.pop("rule")), []).append(x | {"raw": raw})
    by_load: dict[int, dict[str, int]] = {}
    for x in per_load:
        by_load.setdefault(x[s.LOAD_ID], {})[x["rule"]] = x["rows"]
    load_rows = [x | {"file": file_name(x["file"]),
                      "quarantined_by_rule": by_load.get(x["load_id"], {})}
                 for x in loads.to_dict("records")] if len(loads) else []
    rule_rows = [x | {"examples": examples.get((x["table"], x["rule"]), [])}
                 for x in rules.to_dict("records")]
    return clean({"loads": load_rows, "rules": rule_rows,
                  **{k: int(loads[k].sum()) if len(loads) else 0
                     for k in ("rows_read", "rows_loaded", "rows_quarantined")}})


#: the first columns of the quarantined rows' CSV; the source file's own columns follow
QUARANTINE_COLUMNS = ("load_id", "file", "table", "source_row", "rule", "reason")


def quarantine_csv(r: Reader) -> str:
    """Every quarantined row: its load, file, table, row number in the file, rule and reason,
    then its raw values under the source file's headers (a header that is also one of
    :data:`QUARANTINE_COLUMNS` gets ``raw_`` before it)."""
    import pandas as pd

    head = ",".join(QUARANTINE_COLUMNS) + "\n"
    if s.T_QUARANTINE not in tables(r):
        return head
    file = (f"(SELECT file FROM {s.T_LOADS} l WHERE l.load_id = q.{s.LOAD_ID})"
            if s.T_LOADS in tables(r) else "NULL")
    frame = r.con.execute(f"""
        SELECT q.{s.LOAD_ID} AS load_id, {file} AS file, q.tbl AS "table",
               q.{s.SOURCE_ROW} AS source_row, q.rule, q.reason, q.raw
        FROM {s.T_QUARANTINE} q ORDER BY q.{s.LOAD_ID}, q.{s.SOURCE_ROW}""").df()
    if frame.empty:
        return head
    frame["file"] = frame["file"].map(file_name)
    raw = pd.DataFrame([json.loads(x) if x else {} for x in frame.pop("raw")],
                       index=frame.index)
    raw.columns = [f"raw_{c}" if c in QUARANTINE_COLUMNS else c for c in raw.columns]
    return str(pd.concat([frame, raw], axis=1).to_csv(index=False))


def file_name(path: str | None) -> str | None:
    """A loaded file's name without its folder (an upload's folder is a temporary one)."""
    return re.split(r"[\\/]", path)[-1] if path else path
