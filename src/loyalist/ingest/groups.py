"""Grouped reports: a heading row names the customer (or product) of the lines below it.

An accounting package's sales report (QuickBooks' 'Sales by Customer Detail', Online and
Desktop) lists each customer's name on a row of its own, in a first column without a name,
and the customer's lines below it with that column empty, each group closed by a
'Total for <name>' row. Read as a table, every line would be a guest line. The heading is
carried down to the lines below it, and the column named after what the report says it is
grouped by ('Sales by Customer Detail' -> 'Customer'), so the column is found as any other;
the heading rows themselves are no sale (rule ``group_heading``). The same report saved as
a workbook goes through the same function; a customer's jobs nested under it (QuickBooks
Desktop) are the customer's (:func:`carry_down`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import duckdb

from loyalist.ingest.parse import plain_text_expr, q

#: a report title saying what its rows are grouped by: 'Sales by Customer Detail',
#: 'Sales by Product/Service Detail', 'Sales by Customer Summary'
_GROUPED_BY = re.compile(r"\bby\s+(.+?)(?:\s+(?:detail|details|summary|report))?\s*$",
                         re.IGNORECASE)


def grouped_by(title: Sequence[str]) -> str | None:
    """What a report's title lines say its rows are grouped by ('Customer'), or None."""
    for line in title:
        m = _GROUPED_BY.search(line.strip().strip('"'))
        if m:
            return m.group(1).strip()
    return None


def _others_empty(headers: Sequence[str], first: str) -> str:
    """SQL: TRUE where every column but ``first`` is empty (NULL or blank)."""
    return " AND ".join(f"{plain_text_expr(h)} IS NULL" for h in headers if h != first)


def _indents(raw_names: Sequence[str], headers: Sequence[str]) -> list[str]:
    """The report's leading columns without a name (``raw_names``, the header as written):
    where it writes its group headings and totals, one column per level (QuickBooks
    Desktop: the customer in the first, a job of it in the second)."""
    n = next((i for i, r in enumerate(raw_names) if r.strip()), len(raw_names))
    return list(headers[:n])


def carry_down(con: duckdb.DuckDBPyConnection, view: str, rows: str, row: str,
               raw_names: Sequence[str], title: Sequence[str], last: int
               ) -> tuple[str, str] | None:
    """Create ``view`` over ``rows`` (a relation: the file's columns and the row number
    ``row``) with its first column carried down to the lines below each heading row, when
    the file is a grouped report: its first column has no name (``raw_names``, the header as
    written), some rows hold a value in the unnamed leading columns and nothing else (the
    headings), and rows with other values leave those empty but for at most one per heading
    (a group's total) and one more (the report's grand total), among the rows up to
    ``last`` (the report's footer below them is no heading). The column is renamed after
    the ``title`` lines' 'by <what>' (kept as it is without one, and not over a column of
    that name). Returns (the column's name, the report's note), or None, creating nothing,
    when the file is no such report.

    A group nested in another (QuickBooks Desktop's jobs of a customer: a heading in the
    second unnamed column, closed by its own 'Total <job>') is no group of its own: its
    lines take the outer heading, its heading and total rows show their text in the first
    column (so they are quarantined as a heading and a total), and the other unnamed
    columns are left out. Grouped by customer, a heading 'Customer:Job' (QuickBooks' full
    name of a job) gives its lines the customer, the part before the colon."""
    if len(raw_names) < 3 or raw_names[0].strip():
        return None
    headers = [d[0] for d in con.execute(f"DESCRIBE SELECT * FROM {rows}").fetchall()
               if d[0] != row]
    indents = _indents(raw_names, headers)
    first = headers[0]
    if len(indents) == len(headers):
        return None
    v = plain_text_expr(first)
    empty = " AND ".join(f"{plain_text_expr(h)} IS NULL" for h in headers if h not in indents)
    g = f"coalesce({', '.join(plain_text_expr(h) for h in indents)})"
    headings, lines, both, inner = con.execute(f"""
        SELECT count(*) FILTER (WHERE {g} IS NOT NULL AND {empty}),
               count(*) FILTER (WHERE {g} IS NULL AND NOT ({empty})),
               count(*) FILTER (WHERE {g} IS NOT NULL AND NOT ({empty})),
               count(*) FILTER (WHERE {v} IS NULL AND {g} IS NOT NULL AND {empty})
        FROM {rows} WHERE {row} <= {last}""").fetchall()[0]
    if not headings or not lines or both > headings + 1:
        return None
    what = grouped_by(title)
    name = what if what and what not in headers else first
    carried = (f"last_value(CASE WHEN {empty} THEN {v} END IGNORE NULLS) OVER ("
               f"ORDER BY {row} ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)")
    if what and what.lower() == "customer":
        carried = f"split_part({carried}, ':', 1)"
    rest = ", ".join(q(h) for h in headers if h not in indents)
    con.execute(f"""
        CREATE OR REPLACE TEMP VIEW {view} AS
        SELECT coalesce({g}, {carried}) AS {q(name)}, {rest}, {row}
        FROM {rows}""")
    return name, (
        f"a grouped report: {headings - inner:,} row(s) name a group in the first column with "
        f"nothing else (a heading), and the lines below each take it as their {name!r}"
        + (f"; {inner:,} heading(s) in a later column without a name are groups within "
           "one (a customer's jobs), whose lines are the outer group's" if inner else "")
        + ("" if what else " (the title above the column names does not say what the groups "
           "are: name the column's meaning with --map, e.g. --map customer_id=" + name + ")")
        + "; the heading rows are no sale (rule group_heading)")


def heading_row(group: str, headers: Sequence[str]) -> str:
    """SQL over the source view: TRUE on a grouped report's heading row (``group``: the
    carried-down column, :func:`carry_down`; '' for other files), whose other columns are
    all empty."""
    return f"coalesce({_others_empty(headers, group)}, FALSE)" if group else "FALSE"
