"""Point-in-time customer features as one DuckDB query over the ``transactions`` table.

Leak-free by construction: the only transaction rows read are those with ``ordered_at < as_of``.
Guest lines are excluded. A *purchase* is a line with positive quantity (any kind but a
cancellation); an *order* is a distinct order id holding a purchase; an *order day* a distinct
calendar day with a purchase. Amounts are gross purchase values unless named ``net``/``return``.

BG/NBD summary (``bg_frequency``, ``bg_recency``, ``bg_T``, ``bg_monetary_value``) follows
lifetimes' ``summary_data_from_transaction_data`` / PyMC-Marketing's ``rfm_summary`` with
``freq='D'`` and ``observation_period_end = as_of - 1 day`` (the last whole day observed):
frequency = order days - 1; recency = last order day - first order day; T = observation end -
first order day; monetary_value = mean purchase value of the repeat order days (0 if none).
Divide the three time columns by 7 for weeks.
"""

from __future__ import annotations

from loyalist import schema as s

# Feature columns in output order, with their meaning (used in docs and the model card).
FEATURES: dict[str, str] = {
    "recency_days": "days from the last purchase to as_of",
    "tenure_days": "days from the first purchase to as_of",
    "orders": "distinct orders with a purchase",
    "order_days": "distinct calendar days with a purchase",
    "monetary_total": "gross purchase value",
    "net_spend": "purchase value minus returns and cancellations",
    "aov_mean": "mean order value",
    "aov_median": "median order value",
    "aov_max": "largest order value",
    "items_total": "units bought",
    "ipi_mean_days": "mean days between consecutive order days",
    "ipi_std_days": "std of days between consecutive order days",
    "spend_last_90": "purchase value in the 90 days before as_of",
    "spend_prev_90": "purchase value in the 90 days before those",
    "orders_last_90": "orders in the 90 days before as_of",
    "trend_90": "log1p(spend_last_90) - log1p(spend_prev_90)",
    "distinct_products": "distinct products bought",
    "distinct_categories": "distinct categories on the lines bought (0 when the data has none)",
    "return_rate": "returned/cancelled value over gross purchase value",
    "weekend_share": "share of orders placed on Saturday or Sunday",
    "preferred_hour": "most frequent hour of day of orders (ties: earliest)",
    "days_to_first_repeat": "days from the first to the second order day (null if none)",
    "bg_frequency": "BG/NBD repeat order days",
    "bg_recency": "BG/NBD recency in days (last - first order day)",
    "bg_T": "BG/NBD age in days (observation end - first order day)",
    "bg_monetary_value": "mean purchase value of repeat order days",
}


def features_sql(as_of_param: str = "$as_of", customers: str | None = None) -> str:
    """SQL returning one row per customer with a purchase before ``as_of`` (a TIMESTAMP param);
    with ``customers`` (a table or view with a ``customer_id`` column), only those customers.

    Shaped for speed on millions of lines: the three passes over the lines (customer totals,
    orders, customer-product pairs) each read only their own columns, since ``lines`` is
    inlined rather than materialised; orders are grouped once, and one window sort of the orders
    by (customer, day) turns every day-level statistic (order days, gaps between them, first
    repeat, first-day value) into a plain aggregate and leaves the rows clustered by customer,
    which keeps the median cheap; the preferred hour is an ``arg_max`` over per-(customer, hour)
    counts. No ordered aggregate (``mode``/``list`` with ``ORDER BY``), no list arithmetic.
    """
    t = s.T_LINES  # a line's category completed from the product master
    a = as_of_param
    return f"""
WITH lines AS NOT MATERIALIZED (
    SELECT {s.CUSTOMER_ID} AS cid, {s.ORDER_ID} AS oid, {s.ORDERED_AT} AS ts,
           {s.PRODUCT_ID} AS pid, {s.CATEGORY} AS cat, {s.QUANTITY} AS qty, {s.AMOUNT} AS amt,
           {s.LINE_KIND} AS kind, {s.QUANTITY} > 0 AND {s.LINE_KIND} <> 'cancellation' AS buy
    FROM {t}
    WHERE {s.ORDERED_AT} < {a} AND NOT {s.IS_GUEST} {only_customers(s.CUSTOMER_ID, customers)}
),
line_stats AS (
    SELECT cid, min(CASE WHEN buy THEN ts END) AS first_ts,
           max(CASE WHEN buy THEN ts END) AS last_ts,
           sum(CASE WHEN buy THEN amt END) AS monetary_total,
           sum(amt) AS net_spend,
           -sum(CASE WHEN qty < 0 THEN amt END) AS returned_value,
           sum(CASE WHEN buy THEN qty END) AS items_total,
           sum(CASE WHEN buy AND ts >= {a} - INTERVAL 90 DAY THEN amt END) AS spend_last_90,
           sum(CASE WHEN buy AND ts >= {a} - INTERVAL 180 DAY AND ts < {a} - INTERVAL 90 DAY
                    THEN amt END) AS spend_prev_90
    FROM lines GROUP BY cid
),
orders AS (
    SELECT cid, min(ts) AS ts, CAST(min(ts) AS DATE) AS d, sum(amt) AS value
    FROM lines WHERE buy GROUP BY cid, oid
),
order_seq AS (
    -- gap: days since the customer's previous order (0 on the same day, NULL for the first);
    -- day1: the customer's first order day
    SELECT cid, ts, d, value, d - lag(d) OVER w AS gap, first_value(d) OVER w AS day1
    FROM orders
    WINDOW w AS (PARTITION BY cid ORDER BY d)
),
order_stats AS (
    SELECT cid, count(*) AS orders, avg(value) AS aov_mean, median(value) AS aov_median,
           max(value) AS aov_max,
           count(*) FILTER (WHERE ts >= {a} - INTERVAL 90 DAY) AS orders_last_90,
           avg(CASE WHEN dayofweek(ts) IN (0, 6) THEN 1.0 ELSE 0.0 END) AS weekend_share,
           -- the gaps > 0 are the gaps between consecutive order days
           1 + count(*) FILTER (WHERE gap > 0) AS order_days,
           min(d) AS first_day, max(d) AS last_day,
           min(d) FILTER (WHERE gap > 0) AS second_day,
           stddev_samp(gap) FILTER (WHERE gap > 0) AS ipi_std_days,
           sum(value) AS value_total,
           sum(value) FILTER (WHERE d = day1) AS first_value
    FROM order_seq GROUP BY cid
),
hours AS (
    -- most orders first, then the earliest hour: n * 24 + (23 - h) orders by (n, -h)
    SELECT cid, arg_max(h, n * 24 + (23 - h)) AS preferred_hour
    FROM (SELECT cid, hour(ts) AS h, count(*) AS n FROM order_seq GROUP BY cid, hour(ts))
    GROUP BY cid
),
products AS (
    SELECT cid, count(DISTINCT pid) AS distinct_products,
           count(DISTINCT cat) AS distinct_categories
    FROM lines WHERE qty > 0 AND kind = 'sale' GROUP BY cid
)
SELECT
    l.cid AS {s.CUSTOMER_ID},
    CAST({a} AS TIMESTAMP) AS as_of,
    date_diff('second', l.last_ts, {a}) / 86400.0 AS recency_days,
    date_diff('second', l.first_ts, {a}) / 86400.0 AS tenure_days,
    o.orders, o.order_days,
    l.monetary_total, l.net_spend,
    o.aov_mean, o.aov_median, o.aov_max, l.items_total,
    CASE WHEN o.order_days > 1
         THEN date_diff('day', o.first_day, o.last_day) / (o.order_days - 1.0) END
        AS ipi_mean_days,
    CASE WHEN o.order_days > 2 THEN o.ipi_std_days END AS ipi_std_days,
    coalesce(l.spend_last_90, 0) AS spend_last_90,
    coalesce(l.spend_prev_90, 0) AS spend_prev_90,
    o.orders_last_90,
    ln(1 + greatest(coalesce(l.spend_last_90, 0), 0))
        - ln(1 + greatest(coalesce(l.spend_prev_90, 0), 0)) AS trend_90,
    coalesce(p.distinct_products, 0) AS distinct_products,
    coalesce(p.distinct_categories, 0) AS distinct_categories,
    coalesce(l.returned_value, 0) / l.monetary_total AS return_rate,
    o.weekend_share, h.preferred_hour,
    date_diff('day', o.first_day, o.second_day) AS days_to_first_repeat,
    o.order_days - 1 AS bg_frequency,
    date_diff('day', o.first_day, o.last_day) AS bg_recency,
    date_diff('day', o.first_day, CAST({a} - INTERVAL 1 MICROSECOND AS DATE)) AS bg_T,
    CASE WHEN o.order_days > 1 THEN (o.value_total - o.first_value) / (o.order_days - 1)
         ELSE 0 END AS bg_monetary_value,
    l.first_ts AS first_purchase_at, l.last_ts AS last_purchase_at
FROM line_stats l
JOIN order_stats o USING (cid)
JOIN hours h USING (cid)
LEFT JOIN products p USING (cid)
ORDER BY l.cid
"""


def only_customers(column: str, customers: str | None) -> str:
    """``AND column IN (the ids of customers)``, a SQL condition restricting a query to the
    customers of a table or view with a ``customer_id`` column; '' for every customer."""
    if customers is None:
        return ""
    return f"AND {column} IN (SELECT {s.CUSTOMER_ID} FROM {customers})"


def labels_sql(as_of_param: str = "$as_of", horizon_param: str = "$horizon") -> str:
    """Future outcomes in ``[as_of, as_of + horizon days)`` for customers with a purchase before
    ``as_of``: orders, order days, gross spend, net spend, and ``churned`` (no order)."""
    t = s.T_TRANSACTIONS
    a, h = as_of_param, horizon_param
    return f"""
WITH pop AS (
    SELECT DISTINCT {s.CUSTOMER_ID} AS cid FROM {t}
    WHERE {s.ORDERED_AT} < {a} AND NOT {s.IS_GUEST} AND {s.QUANTITY} > 0
      AND {s.LINE_KIND} <> 'cancellation'
),
fut AS (
    SELECT {s.CUSTOMER_ID} AS cid,
           count(DISTINCT {s.ORDER_ID}) FILTER (WHERE {s.QUANTITY} > 0
               AND {s.LINE_KIND} <> 'cancellation') AS future_orders,
           count(DISTINCT CAST({s.ORDERED_AT} AS DATE)) FILTER (WHERE {s.QUANTITY} > 0
               AND {s.LINE_KIND} <> 'cancellation') AS future_order_days,
           sum({s.AMOUNT}) FILTER (WHERE {s.QUANTITY} > 0
               AND {s.LINE_KIND} <> 'cancellation') AS future_spend,
           sum({s.AMOUNT}) AS future_net_spend
    FROM {t}
    WHERE {s.ORDERED_AT} >= {a} AND {s.ORDERED_AT} < {a} + to_days(CAST({h} AS INTEGER))
      AND NOT {s.IS_GUEST}
    GROUP BY 1
)
SELECT pop.cid AS {s.CUSTOMER_ID}, CAST({a} AS TIMESTAMP) AS as_of,
       CAST({h} AS INTEGER) AS horizon_days,
       coalesce(future_orders, 0) AS future_orders,
       coalesce(future_order_days, 0) AS future_order_days,
       coalesce(future_spend, 0) AS future_spend,
       coalesce(future_net_spend, 0) AS future_net_spend,
       coalesce(future_orders, 0) = 0 AS churned
FROM pop LEFT JOIN fut USING (cid)
ORDER BY 1
"""


def summary_sql(as_of_param: str = "$as_of", unit_days_param: str = "$unit_days") -> str:
    """Just the BG/NBD / Gamma-Gamma summary (the CLV models' input), lighter than the full
    feature set: ``customer_id, frequency, recency, T, monetary_value`` with time in units of
    ``unit_days`` days (1 = days, 7 = weeks). Same definitions as ``bg_*`` in ``features_sql``."""
    t = s.T_TRANSACTIONS
    a, u = as_of_param, unit_days_param
    return f"""
WITH days AS (
    SELECT {s.CUSTOMER_ID} AS cid, CAST({s.ORDERED_AT} AS DATE) AS d, sum({s.AMOUNT}) AS value
    FROM {t}
    WHERE {s.ORDERED_AT} < {a} AND NOT {s.IS_GUEST} AND {s.QUANTITY} > 0
      AND {s.LINE_KIND} <> 'cancellation'
    GROUP BY 1, 2
),
firsts AS (SELECT cid, min(d) AS first_day FROM days GROUP BY cid)
SELECT cid AS {s.CUSTOMER_ID},
       count(*) - 1 AS frequency,
       date_diff('day', first_day, max(d)) / CAST({u} AS DOUBLE) AS recency,
       date_diff('day', first_day, CAST({a} - INTERVAL 1 MICROSECOND AS DATE))
           / CAST({u} AS DOUBLE) AS T,
       coalesce(avg(value) FILTER (WHERE d > first_day), 0) AS monetary_value
FROM days JOIN firsts USING (cid)
GROUP BY cid, first_day
ORDER BY cid
"""
