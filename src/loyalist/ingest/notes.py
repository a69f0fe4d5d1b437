"""The quality report's sentences on a staged transaction file, read off the file and the
staged table without changing either: dates given as Unix times, spreadsheet serial days or
with UTC offsets, order-level discounts and refunds, placeholder customer
ids, quantities or prices that cannot be read, lines the file repeats, and lines that correct
what an earlier load stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import duckdb

from loyalist import schema as s
from loyalist.ingest import parse
from loyalist.ingest.adapters import Adapter, normalise, words
from loyalist.ingest.persons import is_placeholder
from loyalist.ingest.read import ROW, Source


def repeated_lines_note(a: Adapter, report: dict[str, Any]) -> str:
    """The report's sentence on the lines quarantined as ``repeated_line``."""
    d = report["rule_details"]["repeated_line"]
    return (f"{d['rows']:,} rows repeat an earlier row's order and line number "
            f"({a.columns[s.ORDER_ID]!r}, {a.line_column!r}) with the same product, price, "
            "customer and date: the file repeats its lines, as a join with a table of several "
            "rows per order (payments, shipments) does; they were quarantined as "
            f"repeated_line, {d.get('revenue', 0):,.2f} of revenue not counted twice")


def corrections(con: duckdb.DuckDBPyConnection, table: str, load_id: int) -> list[str]:
    """A re-export that corrects earlier lines (another quantity, price, date or customer for
    an order and product already stored) loads the corrected line beside the stored one, and
    a line it leaves out (a voided sale) stays: say how many, and how to replace the earlier
    load(s) with this file (:mod:`loyalist.ingest.unload`)."""
    t = s.T_TRANSACTIONS
    same = (f"t.{s.ORDER_ID} = p.{s.ORDER_ID} AND t.{s.PRODUCT_ID} = p.{s.PRODUCT_ID}")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE __corrected AS
        SELECT 'changed' AS what, p.{ROW} AS k, min(t.{s.LOAD_ID}) AS load_id
        FROM {table} p JOIN {t} t ON {same} WHERE p.__rule IS NULL GROUP BY p.{ROW}
        UNION ALL
        SELECT 'missing', t.rowid, t.{s.LOAD_ID} FROM {t} t
        WHERE t.{s.ORDER_ID} IN (SELECT {s.ORDER_ID} FROM {table})
          AND NOT EXISTS (SELECT 1 FROM {table} p WHERE {same})""")
    changed, missing = (int(x) for x in con.execute(
        "SELECT count(*) FILTER (WHERE what = 'changed'), count(*) FILTER (WHERE what = "
        "'missing') FROM __corrected").fetchone())
    earlier = [int(r[0]) for r in con.execute(
        "SELECT DISTINCT load_id FROM __corrected ORDER BY 1 DESC").fetchall()]
    con.execute("DROP TABLE __corrected")
    out = []
    if changed:
        out.append(f"{changed:,} line(s) repeat an order and product already in the store with "
                   "another quantity, price, date or customer (a corrected re-export?): they were "
                   "loaded beside the stored lines, which stay, so both count")
    if missing:
        out.append(f"{missing:,} stored line(s) of orders this file repeats have a product "
                   "the file does not list for that order (removed from the order since?): "
                   "they stay in the store")
    if out:
        # a load goes only with the later loads of its table (unload's rule)
        since = [int(r[0]) for r in con.execute(
            f"SELECT load_id FROM {s.T_LOADS} WHERE tbl = ? AND status = 'loaded' "
            "AND load_id >= ? ORDER BY 1 DESC", [t, min(earlier)]).fetchall()]
        others = sorted(set(since) - set(earlier))
        also = (f", then load this file again, and the files of load(s) "
                f"{', '.join(map(str, others))}" if others else ", then load this file again")
        out.append(f"the store keeps every load: to replace the earlier export (load(s) "
                   f"{', '.join(map(str, sorted(earlier)))}) with this corrected one, run "
                   f"`loyalist unload {' '.join(map(str, [load_id, *since]))}`{also} "
                   "(`loyalist loads` lists them)")
    return out


def placeholder_customers(con: duckdb.DuckDBPyConnection, src: Source, a: Adapter,
                          table: str, zero_guest: bool = True) -> list[str]:
    """How many lines name their customer by a placeholder (:func:`is_placeholder`), which makes
    them guest lines: one customer '0' buying for every guest would be the best customer.
    Counted on the staged table (a non-empty customer cell parsed to no customer is a
    placeholder); the source is read again for the values only when there are any."""
    col = a.columns.get(s.CUSTOMER_ID)
    if col is None:
        return []
    n = con.execute(f'SELECT count(*) FROM {table} WHERE {s.CUSTOMER_ID} IS NULL '
                    f'AND "__has_{s.CUSTOMER_ID}"').fetchall()[0][0]
    if not n:
        return []
    e = parse.column_expr(con, src.view, col, src.types[col], "id")
    vals = ", ".join(repr(v) for (v,) in con.execute(
        f"SELECT lower({e}) AS v FROM {src.view} WHERE {is_placeholder(e, zero_guest)} "
        "GROUP BY 1 ORDER BY count(*) DESC LIMIT 12").fetchall())
    return [f"{n:,} line(s) name their customer {vals} in {col!r}: a placeholder for no "
            "customer (a guest checkout), so they are guest lines"]


def spreadsheet_errors(con: duckdb.DuckDBPyConnection, src: Source, used: Mapping[str, str],
                       counts: Mapping[str, int] | None = None) -> list[str]:
    """The report's sentence when cells of the columns read (``used``: canonical name ->
    column) hold a spreadsheet's error value (#N/A of a failed lookup, #VALUE!, ...;
    :data:`~loyalist.ingest.parse.SPREADSHEET_ERROR`), which are read as empty cells: a
    customer's then makes a guest line, an id's or a price's a quarantined one. ``counts``:
    how many there are per column, where the caller counted them (else one scan of the text
    columns); the source is read again for an example only where there are any."""
    cols = [c for c in dict.fromkeys(used.values()) if parse.is_text(src.types.get(c, ""))]
    if counts is None and cols:
        row = con.execute("SELECT " + ", ".join(
            f"count(*) FILTER (WHERE {parse.error_cell(c)})" for c in cols)
            + f" FROM {src.view}").fetchall()[0]
        counts = dict(zip(cols, (int(n) for n in row), strict=True))
    hits = [(c, n) for c, n in (counts or {}).items() if n]
    if not hits:
        return []
    where = []
    for c, n in hits:
        ex = con.execute(f"SELECT {parse.q(c)} FROM {src.view} WHERE {parse.error_cell(c)} "
                         "LIMIT 1").fetchall()[0][0]
        where.append(f"{n:,} in {c!r} (e.g. {ex!r})")
    return [f"cells holding a spreadsheet's error value, such as a failed lookup's #N/A, are "
            f"read as empty: {'; '.join(where)}; fix the formulas in the source and export "
            "again to keep those values"]


def unknown_values(con: duckdb.DuckDBPyConnection, src: Source, a: Adapter, table: str
                   ) -> list[str]:
    """The report's sentence per rule quarantining lines whose quantity or price cannot be
    read: their value is unknown, so revenue_read and the share of value leave them out
    (:data:`~loyalist.ingest.transactions.NO_VALUE_RULES`), which a merchant must be told;
    none when there are none."""
    notes = []
    for rule, canon in (("unparseable_quantity", s.QUANTITY),
                        ("unparseable_price", s.AMOUNT if a.amount_given else s.UNIT_PRICE)):
        col = a.columns.get(canon)
        if col is None:
            continue
        value = parse.plain_text_expr(col, "v")
        n, ex = con.execute(
            f"SELECT count(*), any_value({value}) FROM {table} t "
            f"JOIN {src.view} v USING ({ROW}) WHERE t.__rule = '{rule}'").fetchall()[0]
        if n:
            notes.append(
                f"{n:,} line(s) were quarantined as {rule}: {col!r} is empty or not a number"
                + (f" (e.g. {ex!r})" if ex else "") + ", so their value is unknown and is not "
                "in revenue_read or the share of value; fix those values and load the file "
                "again")
    return notes


def unix_times(con: duckdb.DuckDBPyConnection, src: Source, a: Adapter) -> list[str]:
    """Dates given as Unix time carry no time zone: they are read as UTC, which the report
    must say (a shop's hours and days are local)."""
    col = a.columns.get(s.ORDERED_AT)
    if col is None or a.day_one is not None:
        return []
    x = f"trim(CAST({parse.q(col)} AS VARCHAR))"
    n = con.execute(f"""SELECT count(*) FROM (SELECT {x} AS v FROM {src.view} LIMIT 1000)
                        WHERE regexp_full_match(v, '{parse.UNIX_SECONDS}')
                           OR regexp_full_match(v, '{parse.UNIX_MILLISECONDS}')
                     """).fetchall()[0][0]
    notes = []
    if n:
        notes.append(f"{s.ORDERED_AT} ({col!r}) holds Unix times: read as UTC (the file gives "
                     "no time zone), so hours and days may be shifted from the shop's local time")
    serial = con.execute(f"""SELECT count(*) FROM (SELECT TRY_CAST({x} AS DOUBLE) AS v
                                                  FROM {src.view} LIMIT 1000)
                             WHERE v BETWEEN {parse.SERIAL_MIN} AND 99999""").fetchall()[0][0]
    if serial:
        notes.append(f"{s.ORDERED_AT} ({col!r}) holds spreadsheet serial day numbers (45382.5 "
                     "is 2024-03-31 12:00, days since 1899-12-30): read as the dates and times "
                     "they stand for")
    return notes


#: a time of day followed by its UTC offset: 'T11:21:00Z', '10:00:00 -0500', '11:21+02:00'
#: rows read to see whether a file writes offsets at all
OFFSET_SAMPLE_ROWS = 10_000
_UTC_OFFSET = r"[0-9]{1,2}:[0-9]{2}(:[0-9]{2}([.][0-9]+)?)?\s*(Z|[+-][0-9]{2}(:?[0-9]{2})?)$"


def units_written(con: duckdb.DuckDBPyConnection, src: Source, a: Adapter) -> list[str]:
    """Quantities written with their unit ('2 pcs', '0,5 kg'): read as the numbers, which the
    report says with an example (a price per kg beside quantities in g would be off by 1,000,
    which only the merchant can see)."""
    col = a.columns.get(s.QUANTITY)
    if col is None or not parse.is_text(src.types.get(col, "")):
        return []
    units = parse.sampled_units(con, src.view, col)
    ex, mixed = units.example, units.conversions
    if ex is None:
        return []
    if not mixed:
        return [f"{s.QUANTITY} ({col!r}) is written with units (e.g. {ex!r}): the numbers are "
                "read and the units left out, so each price must be per that unit"]
    larger = sorted({big for big, _ in mixed.values()})
    read = "; ".join(f"{u.lower()} as {f:g} {big.lower()}" for u, (big, f) in sorted(mixed.items()))
    return [f"{s.QUANTITY} ({col!r}) is written with units (e.g. {ex!r}) and mixes units of "
            f"one kind: each is read in {' and '.join(b.lower() for b in larger)} ({read}), so "
            "a weighed or measured item's price must be per that unit"]


def utc_offsets(con: duckdb.DuckDBPyConnection, src: Source, a: Adapter) -> list[str]:
    """Times written with their UTC offset are read as the clock time they show, offset
    dropped (a shop's hours and days are local; Shopify's '10:00:00 -0500' is 10:00, as a
    zoned Parquet time is its zone's wall-clock time). That is one shop's local time only
    when the offsets agree: when rows give different offsets (several time zones, or
    daylight saving), the report says their times were not converted to one zone. A column
    named as UTC ('Created (UTC)') is said too: its hours are UTC, not the shop's."""
    col = a.columns.get(s.ORDERED_AT)
    if col is None or a.day_one is not None:
        return []
    notes = []
    if {"utc", "gmt"} & set(words(col)):
        notes.append(f"{s.ORDERED_AT} ({col!r}) is named as UTC: its times are read as given, "
                     "so hours and days may be shifted from the shop's local time")
    if not parse.is_text(src.types[col]):
        return notes
    x = f"trim(CAST({parse.q(col)} AS VARCHAR))"
    # an export writes offsets on every row or on none: the first rows tell, and the whole
    # column is scanned only when they hold one
    if not con.execute(f"SELECT count(*) FROM (SELECT {x} AS x FROM {src.view} "
                       f"LIMIT {OFFSET_SAMPLE_ROWS}) WHERE regexp_matches(x, '{_UTC_OFFSET}')"
                       ).fetchall()[0][0]:
        return notes
    found = con.execute(f"""
        WITH o AS (SELECT replace(replace(regexp_extract({x}, '{_UTC_OFFSET}', 3), ':', ''),
                                  'Z', '+0000') AS o FROM {src.view})
        SELECT CASE WHEN length(o) = 3 THEN o || '00' ELSE o END AS o, count(*) AS n
        FROM o WHERE o <> '' GROUP BY 1 ORDER BY n DESC, 1""").fetchall()
    if len(found) > 1:
        shown = ", ".join(f"{o[:3]}:{o[3:]} ({n:,} rows)" for o, n in found[:5])
        notes.append(
            f"{s.ORDERED_AT} ({col!r}) gives times with {len(found)} different UTC offsets "
            f"({shown}{', ...' if len(found) > 5 else ''}): each time is read as the clock "
            "time it shows, its offset dropped, not converted to one time zone; convert them "
            "to the shop's local time before loading if they come from different zones")
    elif found and found[0][0] in ("+0000", "-0000"):
        notes.append(
            f"{s.ORDERED_AT} ({col!r}) gives its times in UTC ('Z' or +00:00, as payment and "
            "API exports do): read as UTC clock time, so for a shop in another time zone the "
            "hours, and the day of orders near midnight, are UTC's; convert them to the shop's "
            "local time before loading to have its own")
    return notes


#: order-level columns of money taken off an order after its lines (normalised names)
ORDER_ADJUSTMENTS = {
    "discountamount": "discounts", "totaldiscount": "discounts", "totaldiscounts": "discounts",
    "orderdiscount": "discounts", "discounttotal": "discounts", "cartdiscount": "discounts",
    "refundedamount": "refunds", "amountrefunded": "refunds", "totalrefunded": "refunds",
    "refundamount": "refunds", "refundtotal": "refunds",
}


def adjustment_columns(src: Source, a: Adapter) -> list[tuple[str, str]]:
    """The file's order-level adjustment columns no canonical or cost column took, each with
    what it holds (:data:`ORDER_ADJUSTMENTS`: "discounts" or "refunds")."""
    used = set(a.columns.values()) | set(a.cost_columns.values())
    return [(h, ORDER_ADJUSTMENTS[normalise(h)]) for h in src.headers
            if normalise(h) in ORDER_ADJUSTMENTS and h not in used]


def order_adjustments(con: duckdb.DuckDBPyConnection, src: Source, a: Adapter, table: str
                      ) -> list[str]:
    """A web shop's order export gives an order's discount and partial refunds in columns of
    their own ('Discount Amount', 'Refunded Amount' on its first line), not as lines: the
    lines' revenue is before them, which the report must say, with how much they hold on the
    lines loaded (a wholly refunded order's lines are quarantined)."""
    notes = []
    for h, what in adjustment_columns(src, a):
        total = _loaded_sum(con, src, h, table)
        if not total:
            continue
        taken = (_loaded_sum(con, src, a.discount_column, table) or 0.0
                 if what == "discounts" and a.discount_column else 0.0)
        if taken:  # Shopify's 'Discount Amount' also holds the lines' own discounts
            notes.append(f"{h!r} holds order-level {what} ({total:,.2f} in all); the lines' "
                         f"own discounts ({a.discount_column!r}, {taken:,.2f}) were taken off "
                         f"the lines, and an order's total may include them, so between "
                         f"{max(total - taken, 0.0):,.2f} and {total:,.2f} is not taken off: "
                         "revenue and each customer's spend are before it")
            continue
        notes.append(f"{h!r} holds order-level {what} ({total:,.2f} in all) that are not "
                     "taken off the lines: revenue and each customer's spend are before "
                     f"them (lines that are {what} themselves are)")
    return notes


def _loaded_sum(con: duckdb.DuckDBPyConnection, src: Source, h: str, table: str
                ) -> float | None:
    """The sum of column ``h``'s absolute values over the lines loaded (no rule)."""
    value = parse.number_expr(con, src.view, h, src.types[h]).replace(
        parse.q(h), f"v.{parse.q(h)}")
    return con.execute(f"SELECT sum(abs({value})) FROM {src.view} v JOIN {table} p "
                       f"USING ({ROW}) WHERE p.__rule IS NULL").fetchall()[0][0]
