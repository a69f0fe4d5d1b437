"""Repair a staged transaction table where the file leaves an order's details implicit: a
line without its customer, date or status takes them from the other lines of its order, a
line without a product code is the product its description names, and an order id a till
reuses (a receipt counter that restarts) is split into one order per customer, day and
store, an order whose refund column holds its whole value is cancelled, and a line without a
product that sums its order's items is the order's summary row, and a refund written with
a positive quantity is a return. Each repair applies the quarantine rules again to the lines
it changed and returns the report's sentences.
"""

from __future__ import annotations

import duckdb

from loyalist import schema as s
from loyalist.ingest import parse
from loyalist.ingest.adapters import DISCOUNT_LINE_SQL, Adapter
from loyalist.ingest.notes import adjustment_columns
from loyalist.ingest.read import ROW, Source


def _apply_rules(con: duckdb.DuckDBPyConnection, table: str, rule: str) -> None:
    """The quarantine rules (``rule``, a SQL CASE) applied again to every line of the staged
    ``table``, after a repair changed its values."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS "
                f"SELECT * REPLACE ({rule} AS __rule) FROM {table} p")


def continuation_lines(con: duckdb.DuckDBPyConnection, a: Adapter, table: str, rule: str
                       ) -> list[str]:
    """Exports that write an order's own fields on its first line only, its order id too
    (Odoo's POS orders: the other lines of the order have only the product, quantity and
    price; a spreadsheet with merged order cells): a line with a product and no order id,
    date or customer continues the order of the line above it, whose id it takes (its date
    and customer are then filled by :func:`fill_from_order`). The duplicate check ran on the
    lines as written, where two orders' continuation lines for the same product look alike:
    the lines given an id are no duplicates. Returns the report's sentence."""
    o = s.ORDER_ID
    if o not in a.columns or s.ORDERED_AT not in a.columns:
        return []
    blank = [f'NOT "__has_{c}"' for c in (o, s.ORDERED_AT, s.CUSTOMER_ID) if c in a.columns]
    cont = f"{' AND '.join(blank)} AND {s.PRODUCT_ID} IS NOT NULL"
    if not con.execute(f"SELECT count(*) FROM {table} WHERE {cont}").fetchall()[0][0]:
        return []  # (a cheap scan first: the window below orders every line)
    n = con.execute(f"""
        UPDATE {table} SET {o} = f.o, __dup = 1 FROM (
            SELECT {ROW} AS r, o FROM (
                SELECT {ROW}, {cont} AS cont,
                       last_value({o} IGNORE NULLS) OVER (
                           ORDER BY {ROW} ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS o
                FROM {table})
            WHERE cont AND o IS NOT NULL) f
        WHERE {table}.{ROW} = f.r""").fetchall()[0][0]
    if not n:
        return []
    _apply_rules(con, table, rule)  # the rules see the ids
    return [f"{n:,} line(s) with a product and no order id ({a.columns[o]!r}), date or "
            "customer continue the order of the line above them (order details on its first "
            "line only)"]


def fill_from_order(con: duckdb.DuckDBPyConnection, a: Adapter, table: str, rule: str
                    ) -> list[str]:
    """Exports that write an order's customer and date on its first line only (web-shop order
    exports, spreadsheets with merged cells): a line without them takes them from another line
    of the same order; a value that is there but unreadable is not replaced. Returns the
    report's sentences (none when nothing was filled)."""
    notes = []
    o, cid, ts, st = s.ORDER_ID, s.CUSTOMER_ID, s.ORDERED_AT, s.STORE_ID
    # the same order: the same id, and wherever both lines say them, the same day (to fill a
    # customer) or customer (to fill a date), and the same store: a till's receipt number
    # restarts each day and runs per store, so an id alone may be many receipts, and a guest
    # line must not take a card holder's id from another one. A value is filled only where
    # the lines it could come from agree on it.
    for c in (cid, ts):
        if c not in a.columns or not con.execute(
                f'SELECT count(*) FROM {table} WHERE NOT "__has_{c}"').fetchall()[0][0]:
            continue  # (a cheap scan first: most files have no empty cells there)
        if c == cid:  # the key the other lines must share where the line has it
            other, key_of, on = ts, f"CAST({ts} AS DATE)", f"k.key = CAST(e.{ts} AS DATE)"
            value, agree = f"min({cid})", "count(DISTINCT k.v) = 1"
        else:
            other, key_of, on = cid, cid, f"k.key = e.{cid}"
            value, agree = f"min({ts})", "count(DISTINCT CAST(k.v AS DATE)) = 1"
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE __fill_keys AS
            SELECT {o} AS o, {key_of} AS key, {st} AS st, {value} AS v
            FROM {table} WHERE {c} IS NOT NULL AND {o} IS NOT NULL GROUP BY ALL""")
        n = 0
        for join, where in ((f"k.o = e.{o} AND {on}", f"e.{other} IS NOT NULL"),
                            (f"k.o = e.{o}", f"e.{other} IS NULL")):
            n += con.execute(f"""
                UPDATE {table} SET {c} = f.v FROM (
                    SELECT e.{ROW} AS r, min(k.v) AS v
                    FROM {table} e JOIN __fill_keys k ON {join}
                    WHERE e.{c} IS NULL AND NOT e."__has_{c}" AND {where}
                      AND (e.{st} IS NULL OR k.st IS NULL OR k.st = e.{st})
                    GROUP BY e.{ROW} HAVING {agree}) f
                WHERE {table}.{ROW} = f.r""").fetchall()[0][0]
        con.execute("DROP TABLE __fill_keys")
        if n:
            notes.append(f"{n:,} line(s) with an empty {c} ({a.columns[c]!r}) took it from "
                         "another line of the same order (order details on the first line "
                         "only; the same order id, day and store)")
    if a.status_column:  # an order's status on its first line only: the order's other lines
        n = con.execute(f"""
            UPDATE {table} SET __status_cancelled = TRUE
            WHERE __no_status AND NOT __status_cancelled AND {s.ORDER_ID} IN (
                SELECT {s.ORDER_ID} FROM {table} WHERE __status_cancelled
                  AND {s.ORDER_ID} IS NOT NULL)""").fetchall()[0][0]
        if n:
            notes.append(f"{n:,} line(s) with an empty status ({a.status_column!r}) took it "
                         "from another line of the same order, which says the order is no "
                         "sale")
    if notes:  # the rules see the filled values
        _apply_rules(con, table, rule)
    return notes


#: orders above which one customer on every order is the file's owner, not a buyer
ONE_CUSTOMER_ORDERS = 50


def one_customer(con: duckdb.DuckDBPyConnection, a: Adapter, table: str, rule: str
                 ) -> list[str]:
    """A customer column naming one customer on every one of more than
    :data:`ONE_CUSTOMER_ORDERS` orders names the account the file belongs to, not the buyers
    (SumUp's transaction report: the merchant's own login e-mail on every payment, which
    made one customer of a barber's 1,048 orders). Its lines are guest lines; returns the
    report's sentence."""
    if s.CUSTOMER_ID not in a.columns:
        return []
    low, high = con.execute(f"SELECT min({s.CUSTOMER_ID}), max({s.CUSTOMER_ID}) FROM {table} "
                            "WHERE __rule IS NULL").fetchall()[0]
    if low is None or low != high:  # (cheaper than counting distinct ids and orders)
        return []
    who = low
    orders = con.execute(f"SELECT count(DISTINCT {s.ORDER_ID}) FROM {table} "
                         "WHERE __rule IS NULL").fetchall()[0][0]
    if orders <= ONE_CUSTOMER_ORDERS:
        return []
    con.execute(f'UPDATE {table} SET {s.CUSTOMER_ID} = NULL, "__has_{s.CUSTOMER_ID}" = FALSE')
    _apply_rules(con, table, rule)
    return [f"{s.CUSTOMER_ID} ({a.columns[s.CUSTOMER_ID]!r}) names one customer, {who!r}, on "
            f"all {orders:,} orders: the account the file belongs to, not the buyers, so every "
            "line is a guest line; name the buyers' column with --map customer_id=<column> if "
            "the file has one"]


def product_from_description(con: duckdb.DuckDBPyConnection, a: Adapter, table: str,
                             rule: str) -> list[str]:
    """A line with an empty product code and a product name (a till's open-price "Custom
    Amount" line, items a small shop never gave a SKU) is that product, named by its
    description, rather than quarantined with its revenue; returns the report's sentence."""
    if s.PRODUCT_ID not in a.columns or s.DESCRIPTION not in a.columns:
        return []
    n = con.execute(f"""
        UPDATE {table} SET {s.PRODUCT_ID} = {s.DESCRIPTION}
        WHERE {s.PRODUCT_ID} IS NULL AND NOT "__has_{s.PRODUCT_ID}"
          AND {s.DESCRIPTION} IS NOT NULL""").fetchall()[0][0]
    if not n:
        return []
    _apply_rules(con, table, rule)  # the rules see the products
    return [f"{n:,} line(s) with an empty product id ({a.columns[s.PRODUCT_ID]!r}) are the "
            f"product their description ({a.columns[s.DESCRIPTION]!r}) names"]


def split_reused_orders(con: duckdb.DuckDBPyConnection, table: str, rule: str) -> list[str]:
    """An order id whose purchase lines belong to different customers or different days is
    several orders: a till's receipt counter that restarts (each day, or after a reset)
    reuses its numbers, within a file or from one load to the next. Lines are grouped by
    (order id, customer, day); the groups already in the store keep their ids, and so does the
    earliest group of an id the store does not hold; the others become ``<id>#<yyyy-mm-dd>``
    (``#<customer>`` added when two groups share the day), so orders stay apart in the store
    and in ``customer_orders``. The lines of one order a few minutes apart (Online Retail's
    invoices) stay one order, and so do returns dated after an order that is not reused, and
    lines loaded again (they find their group in the store). Returns the report's sentence."""
    ok = "(__rule IS NULL OR __rule = 'already_loaded')"
    day = f"CAST({s.ORDERED_AT} AS DATE)"
    st = s.STORE_ID
    n_ids, n_orders, n_stored = con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {table}_reused AS
        WITH g0 AS (SELECT {s.ORDER_ID} AS o, {s.CUSTOMER_ID} AS c, {day} AS d, {st} AS st,
                           min({ROW}) AS r, bool_or({s.QUANTITY} > 0) AS buys, TRUE AS mine
                    FROM {table}
                    WHERE {ok} AND {s.ORDER_ID} IS NOT NULL AND {s.ORDERED_AT} IS NOT NULL
                    GROUP BY ALL),
        kept AS (SELECT {s.ORDER_ID} AS o, {s.CUSTOMER_ID} AS c, {day} AS d, {st} AS st,
                        -1 AS r,
                      bool_or({s.QUANTITY} > 0 AND {s.LINE_KIND} <> 'cancellation') AS buys,
                      FALSE AS mine
               FROM {s.T_TRANSACTIONS}
               WHERE {s.ORDER_ID} IN (SELECT o FROM g0) GROUP BY ALL),
        g AS (SELECT o, c, d, st, min(r) AS r, bool_or(buys) AS buys, bool_or(mine) AS mine,
                     bool_or(NOT mine) AS stored
              FROM (SELECT * FROM g0 UNION ALL SELECT * FROM kept) GROUP BY o, c, d, st),
        k AS (SELECT *, row_number() OVER (PARTITION BY o ORDER BY d, r) AS k,
                     bool_or(stored) OVER (PARTITION BY o) AS held,
                     count(*) FILTER (WHERE buys) OVER (PARTITION BY o) AS buying_groups,
                     count(*) OVER (PARTITION BY o, d) AS same_day,
                     count(DISTINCT st) OVER (PARTITION BY o, d) AS stores,
                     count(*) OVER (PARTITION BY o, d, st) AS same_store
              FROM g)
        -- the store (a receipt number that runs per store) and the customer are added to the
        -- id only where the day alone does not tell the orders apart
        SELECT o, c, d, st, held,
               CASE WHEN stored OR (k = 1 AND NOT held) THEN o
                    WHEN same_day = 1 THEN o || '#' || strftime(d, '%Y-%m-%d')
                    ELSE o || '#' || strftime(d, '%Y-%m-%d')
                         || CASE WHEN stores > 1 THEN '#' || coalesce(st, '') ELSE '' END
                         || CASE WHEN same_store > 1 THEN '#' || coalesce(c, 'guest') ELSE ''
                            END END AS new_o
        FROM k WHERE buying_groups > 1 AND mine;
        SELECT count(DISTINCT o), count(*), count(DISTINCT o) FILTER (WHERE held)
        FROM {table}_reused""").fetchall()[0]
    if not n_ids:
        con.execute(f"DROP TABLE {table}_reused")
        return []
    con.execute(f"""
        UPDATE {table} SET {s.ORDER_ID} = r.new_o FROM {table}_reused r
        WHERE {table}.{s.ORDER_ID} = r.o AND r.new_o <> r.o AND {table}.{s.ORDERED_AT} IS NOT NULL
          AND CAST({table}.{s.ORDERED_AT} AS DATE) = r.d
          AND {table}.{s.CUSTOMER_ID} IS NOT DISTINCT FROM r.c
          AND {table}.{st} IS NOT DISTINCT FROM r.st""")
    renamed = con.execute(f"SELECT new_o FROM {table}_reused WHERE new_o <> o ORDER BY d, o "
                          "LIMIT 1").fetchall()
    con.execute(f"DROP TABLE {table}_reused")
    if not renamed:  # every group is one the store holds (lines loaded again)
        return []
    _apply_rules(con, table, rule)  # the rules see the new ids
    held = (f"; {n_stored:,} of them name orders of earlier loads, which keep their ids"
            if n_stored else "")
    return [f"{n_ids:,} order id(s) are reused by different customers, days or stores "
            f"(a receipt counter that restarts): their lines here were split into {n_orders:,} "
            "orders by customer, day and store, the earliest keeping its id and the others stored "
            f"as '<id>#<day>' (e.g. {renamed[0][0]!r}){held}"]


def refunded_orders(con: duckdb.DuckDBPyConnection, src: Source, a: Adapter, table: str,
                    rule: str) -> list[str]:
    """An order export's refund column ('Total Refunded', 'Refunded Amount':
    :data:`~loyalist.ingest.notes.ORDER_ADJUSTMENTS`) holding at least the value of the
    order's lines says the order was refunded in full, whatever its status says (Magento's
    'Closed'): its lines are no sales and are quarantined as ``cancelled_order``. A partial
    refund stays with the lines (:func:`~loyalist.ingest.notes.order_adjustments` says how
    much). The refund is the order's largest (written on its first line, or on every line).
    Returns the report's sentence."""
    col = next((h for h, what in adjustment_columns(src, a) if what == "refunds"), None)
    if col is None:
        return []
    o = s.ORDER_ID
    refund = parse.number_expr(con, src.view, col, src.types[col])
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {table}_refunded AS
        SELECT t.{o}, max(f.refund) AS refund, count(*) AS lines FROM {table} t
        JOIN (SELECT {ROW}, abs({refund}) AS refund FROM {src.view}) f USING ({ROW})
        WHERE t.__rule IS NULL AND t.{o} IS NOT NULL GROUP BY t.{o}
        HAVING max(f.refund) > 0 AND sum(t.{s.QUANTITY} * t.{s.UNIT_PRICE}) > 0
           AND max(f.refund) >= sum(t.{s.QUANTITY} * t.{s.UNIT_PRICE}) - 0.005""")
    orders, lines, total = con.execute(f"SELECT count(*), sum(lines), sum(refund) "
                                       f"FROM {table}_refunded").fetchall()[0]
    if not orders:
        return []
    con.execute(f"UPDATE {table} SET __status_cancelled = TRUE WHERE __rule IS NULL "
                f"AND {o} IN (SELECT {o} FROM {table}_refunded)")
    _apply_rules(con, table, rule)
    return [f"{orders:,} order(s) whose {col!r} is their whole value ({total:,.2f} in all) were "
            f"refunded in full: their {lines:,} line(s) are no sales and are quarantined as "
            "cancelled_order"]


def order_summaries(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """A line without a product in an order of two or more product lines, with no price or
    quantity, or the quantity of those lines together, is the order's summary, header or
    payment row (eBay writes a multi-item order's totals on a row of its own above its items;
    a till's 'Sale' row sums its 'Sale Line' rows): quarantined as ``order_summary`` rather
    than ``missing_product_id``, a sale's missing product. Run after every repair (it is not
    one of the rules :func:`_apply_rules` applies)."""
    o, qty = s.ORDER_ID, s.QUANTITY
    if not con.execute(f"SELECT count(*) FROM {table} WHERE __rule = 'missing_product_id'"
                       ).fetchall()[0][0]:
        return
    con.execute(f"""
        UPDATE {table} SET __rule = 'order_summary' FROM (
            SELECT {o} AS o, sum({qty}) AS units FROM {table}
            WHERE {s.PRODUCT_ID} IS NOT NULL AND {o} IS NOT NULL
            GROUP BY {o} HAVING count(*) >= 2) items
        WHERE __rule = 'missing_product_id' AND {table}.{o} = items.o
          AND ({table}.{qty} IS NULL OR {table}.{s.UNIT_PRICE} IS NULL
               OR abs({table}.{qty} - items.units) < 1e-9)""")


def negative_totals(con: duckdb.DuckDBPyConnection, a: Adapter, table: str, rule: str
                    ) -> list[str]:
    """A line total below zero beside a positive quantity (a till's refund row written
    'Qty 1, Net Sales -$5.00') is a return: its quantity is made negative, so its unit price
    (total / quantity) is positive, rather than quarantining it as ``non_positive_price`` and
    losing the refund from revenue. A discount line keeps its negative price (a non-product
    line). Only for a file with both a quantity and a line total; returns the report's
    sentence."""
    if not a.amount_given or s.QUANTITY not in a.columns:
        return []
    q, p = s.QUANTITY, s.UNIT_PRICE
    discount = DISCOUNT_LINE_SQL.format(product_id=s.PRODUCT_ID, description=s.DESCRIPTION)
    n = con.execute(f"UPDATE {table} SET {q} = -{q}, {p} = -{p} "
                    f"WHERE {q} > 0 AND {p} < 0 AND NOT coalesce({discount}, FALSE)"
                    ).fetchall()[0][0]
    if not n:
        return []
    _apply_rules(con, table, rule)
    return [f"{n:,} line(s) with a positive quantity ({a.columns[q]!r}) and a negative line "
            f"total ({a.columns[s.AMOUNT]!r}) are returns: their quantity was read as negative"]
