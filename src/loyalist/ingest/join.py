"""Order headers + order lines in two files (ERP and web-shop exports, e.g. ``orders.csv`` with
order id, customer and date, and ``order_items.csv`` with order id, product and price): joined
on the order id into one transaction source before the usual cleaning.

Nothing is lost on either side. A line whose order is not in the headers file is quarantined
(``order_not_found``); a header row is loaded when its order has lines, and otherwise
quarantined in its own load (a repeated order id: ``duplicate_order``; no lines:
``order_without_lines``), so both files' counts add up.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import duckdb

from loyalist import schema as s
from loyalist.errors import DataError
from loyalist.ingest import adapters, parse, quarantine
from loyalist.ingest.read import ROW, Source

#: a column of the joined view: TRUE where the line's order is in the headers file
FOUND = "__order_found"

_HEADER_RULES = {
    "duplicate_order": "the order id repeats an earlier row of the orders file: the first is "
                       "used for the order's customer and date",
    "order_without_lines": "no line of the order-lines file has this order id",
}


@dataclass(frozen=True)
class Pair:
    lines: int  # index of the lines file among the sources
    headers: tuple[int, ...]  # indexes of the order headers files (monthly exports: several)
    lines_order: str  # order id column in the lines file
    headers_order: tuple[str, ...]  # order id column in each headers file


def find_pairs(sources: Sequence[Source], mapping: Mapping[str, str]) -> list[Pair]:
    """Pair each file of order lines (order id + product, but no customer or no date) with the
    files of order headers (order id + customer + date, no product): several headers files
    (one per month, say) are read as one, and an order is looked up in all of them."""
    cols = [adapters.found_columns(src.headers, mapping, src.empty) for src in sources]
    lines = [i for i, c in enumerate(cols)
             if {s.ORDER_ID, s.PRODUCT_ID} <= set(c)
             and not {s.CUSTOMER_ID, s.ORDERED_AT} <= set(c)]
    heads = [i for i, c in enumerate(cols)
             if {s.ORDER_ID, s.CUSTOMER_ID, s.ORDERED_AT} <= set(c) and s.PRODUCT_ID not in c]
    near = [i for i, c in enumerate(cols)
            if s.ORDER_ID in c and s.PRODUCT_ID not in c and i not in heads]
    if lines and not heads and near:
        # an orders file is there but lacks what the lines need from it: say what
        i = near[0]
        missing = [c for c in (s.CUSTOMER_ID, s.ORDERED_AT) if c not in cols[i]]
        what = " and ".join(missing)
        raise DataError(
            f"{sources[i].name} has order ids but no {what} column, so the order lines of "
            f"{sources[lines[0]].name} cannot take their {what} from it (its columns: "
            f"{', '.join(sources[i].headers)}); name them with --map, e.g. "
            f"--map {missing[0]}=<column>. Order numbers, weekdays or days between orders "
            "are not dates")
    lines = [i for i in lines if s.UNIT_PRICE in cols[i] or s.AMOUNT in cols[i]]
    if not lines or not heads:
        return []
    return [Pair(i, tuple(heads), cols[i][s.ORDER_ID],
                 tuple(cols[h][s.ORDER_ID] for h in heads)) for i in lines]


#: temp table of every headers row of one ingest (:func:`stage_orders`)
ORDERS = "__orders_staged"


def stage_orders(con: duckdb.DuckDBPyConnection, heads: Sequence[Source],
                 lines: Sequence[Source], pairs: Sequence[Pair]) -> None:
    """Read the headers files once for every join and report of one ingest (monthly exports:
    each lines file is joined with, and each headers file checked against, all of them).
    Table :data:`ORDERS` holds every headers row (columns aligned by name across files) with
    its order key ``__okey``, file number ``__hfile``, its rank among its order's rows
    (``__rank``: first file, then first row, first) and its rule (``__rule``: no line has the
    order id, or the id repeats an earlier row). Drop it with :func:`drop_orders`."""
    rows = " UNION ALL BY NAME ".join(
        f"SELECT *, {parse.text_expr(col, src.types[col])} AS __okey, {k} AS __hfile "
        f"FROM {src.view}"
        for k, (src, col) in enumerate(zip(heads, pairs[0].headers_order, strict=True)))
    keys = " UNION ALL ".join(
        f"SELECT {parse.text_expr(p.lines_order, src.types[p.lines_order])} AS k FROM {src.view}"
        for p, src in zip(pairs, lines, strict=True))
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {ORDERS} AS
        SELECT *, CASE
            WHEN __okey IS NULL OR __okey NOT IN (SELECT k FROM ({keys}) WHERE k IS NOT NULL)
                THEN 'order_without_lines'
            WHEN __rank > 1 THEN 'duplicate_order' END AS __rule
        FROM (SELECT *, row_number() OVER (PARTITION BY __okey ORDER BY __hfile, {ROW})
                        AS __rank
              FROM ({rows}))""")


def drop_orders(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"DROP TABLE IF EXISTS {ORDERS}")


def joined_source(con: duckdb.DuckDBPyConnection, lines: Source, heads: Sequence[Source],
                  pair: Pair, view: str) -> Source:
    """The lines with the header columns they lack (the first header row per order id, in the
    order the headers files were given; from :func:`stage_orders`)."""
    add = list(dict.fromkeys(h for src, col in zip(heads, pair.headers_order, strict=True)
                             for h in src.headers if h not in lines.headers and h != col))
    lkey = parse.text_expr(pair.lines_order, lines.types[pair.lines_order])
    picked = "".join(f"o.{parse.q(h)}, " for h in add)
    con.execute(f"""
        CREATE OR REPLACE TEMP VIEW {view} AS
        WITH o AS (SELECT * FROM {ORDERS} WHERE __okey IS NOT NULL AND __rank = 1)
        SELECT l.* EXCLUDE ({ROW}), {picked}(o.__okey IS NOT NULL) AS {FOUND}, l.{ROW}
        FROM (SELECT *, {lkey} AS __lkey FROM {lines.view}) l
        LEFT JOIN o ON l.__lkey = o.__okey""")
    types = {**lines.types, **{h: src.types[h] for src in reversed(heads) for h in add
                               if h in src.types}}
    matched = con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE {FOUND}), "
        f"count(DISTINCT __lkey) FILTER (WHERE {FOUND}) FROM {view}").fetchall()[0]
    names = ", ".join(repr(src.name) for src in heads)
    note = (f"order lines joined with the orders of {names} on the order id "
            f"({pair.lines_order!r} = {pair.headers_order[0]!r}): {matched[1]:,} of "
            f"{matched[0]:,} "
            f"lines found their order ({matched[2]:,} orders); the columns "
            f"{', '.join(repr(h) for h in add)} come from the orders file")
    return replace(lines, view=view, headers=(*lines.headers, *add), types=types,
                   notes=(*lines.notes, note), joined=True)


def headers_report(con: duckdb.DuckDBPyConnection, heads: Sequence[Source], which: int,
                   lines: Sequence[Source], pairs: Sequence[Pair], load_id: int
                   ) -> dict[str, Any]:
    """Account for every row of headers file ``heads[which]``: loaded (its order has lines) or
    quarantined, with the quarantined rows written under ``load_id``. A repeated order id is
    one repeated in this file or in an earlier headers file (rules from
    :func:`stage_orders`)."""
    head = heads[which]
    staged = "__headers_staged"
    con.execute(f"CREATE OR REPLACE TEMP TABLE {staged} AS "
                f"SELECT {ROW}, __rule FROM {ORDERS} WHERE __hfile = {which}")
    rules = dict(con.execute(
        f"SELECT __rule, count(*) FROM {staged} WHERE __rule IS NOT NULL GROUP BY 1").fetchall())
    quarantine.insert(con, head, staged, load_id, s.T_TRANSACTIONS,
                      quarantine.reason_case(_HEADER_RULES))
    con.execute(f"DROP TABLE {staged}")
    bad = int(sum(rules.values()))
    return {
        "file": head.label, "sha256": head.sha256, "format": "order headers",
        "columns": {s.ORDER_ID: pairs[0].headers_order[which]},
        "rows_read": head.rows, "rows_loaded": head.rows - bad, "rows_quarantined": bad,
        "rules": {k: int(v) for k, v in rules.items()},
        "rule_details": {k: {"rows": int(n), "share_rows": round(n / head.rows, 6),
                             "action": "quarantine", "reason": _HEADER_RULES[k]}
                         for k, n in rules.items()},
        "assumptions": [*head.notes,
                        "order headers: each order's customer, date and other columns were "
                        "joined to its lines from " + ", ".join(repr(x.name) for x in lines)],
    }
