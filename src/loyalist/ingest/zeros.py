"""Customer ids that lost (or gained) their leading zeros on the way, given the spelling of the
customers the store's sales already name: a spreadsheet reads a loyalty card's 00123 as the
number 123, so a file saved from it names 123 where the till's sales say 00123.

- A customer list or a promotion history (:func:`as_in_sales`): each id that matches no stored
  sale's customer as written but exactly one with the zeros ignored takes that customer's
  spelling (the customer's consent or sends would otherwise belong to nobody who bought).
- A later sales file (:func:`sales_as_stored`): the same, but only where the file and the
  store spell ids differently throughout (one never writes a leading zero, the other does): a
  new customer 123 beside a stored 00123 is then the same person, not a new one; where both
  write leading zeros, 123 and 00123 are told apart as written.
"""

from __future__ import annotations

import duckdb

from loyalist import schema as s

__all__ = ["as_in_sales", "sales_as_stored"]

_SALES = (f"(SELECT DISTINCT {s.CUSTOMER_ID} AS c FROM {s.T_TRANSACTIONS} "
          f"WHERE NOT {s.IS_GUEST} AND {s.CUSTOMER_ID} IS NOT NULL)")
_BARE = "nullif(ltrim({v}, '0'), '')"
#: the stored customers whose id is the only one of its spelling with the zeros ignored
_LOOSE = (f"(SELECT {_BARE.format(v='c')} AS b, any_value(c) AS c FROM {_SALES} "
          f"GROUP BY 1 HAVING count(*) = 1)")
#: an id of digits only with a leading zero
_ZERO_LED = "regexp_full_match({v}, '0[0-9]+')"


def _rekey(con: duckdb.DuckDBPyConnection, rows: str, expr: str, name: str
           ) -> tuple[str, int, str | None]:
    """Temp table ``name`` of the file's ids (``expr`` over ``rows``) that match no stored
    customer as written but exactly one with leading zeros ignored, with that customer's id;
    the key expression that takes it, how many ids change and one example."""
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {name} AS
        WITH f AS (SELECT DISTINCT {expr} AS k FROM {rows})
        SELECT f.k AS k, l.c AS c
        FROM f LEFT JOIN {_SALES} e ON e.c = f.k JOIN {_LOOSE} l ON {_BARE.format(v='f.k')} = l.b
        WHERE f.k IS NOT NULL AND e.c IS NULL""")
    changed, example = con.execute(
        f"SELECT count(*), any_value(k || ' -> ' || c) FROM {name}").fetchall()[0]
    keyed = f"coalesce((SELECT z.c FROM {name} z WHERE z.k = {expr}), {expr})"
    return keyed, int(changed), example


def _note(col: str, changed: int, example: str, whose: str) -> str:
    return (f"{s.CUSTOMER_ID} ({col!r}): {changed:,} id(s) match {whose} customers only with "
            f"leading zeros ignored (e.g. {example}), as when a spreadsheet read them as "
            "numbers: they take the sales' spelling")


def as_in_sales(con: duckdb.DuckDBPyConnection, rows: str, expr: str, col: str, name: str
                ) -> tuple[str, str | None]:
    """A customer list's or promotion history's ids (``expr`` over ``rows``, of column
    ``col``) in the stored sales' spelling where they match a sale's customer only with
    leading zeros ignored (temp table ``name`` holds them). Returns the key expression and
    the note (None, and ``expr`` unchanged, where nothing changes)."""
    keyed, changed, example = _rekey(con, rows, expr, name)
    if not changed:
        return expr, None
    return keyed, _note(col, changed, example, "the sales'")


def sales_as_stored(con: duckdb.DuckDBPyConnection, rows: str, expr: str, col: str, name: str
                    ) -> tuple[str, str | None]:
    """A later sales file's customer ids in the spelling of the customers already stored,
    where the file never writes an id of digits with a leading zero and the store does, or the
    other way round; unchanged otherwise (both or neither: 0123 and 123 are two cards)."""
    # cheap first: a scan stops at the first id with a leading zero ('0%' before the pattern)
    stored = con.execute(f"SELECT EXISTS (SELECT 1 FROM {s.T_TRANSACTIONS} WHERE "
                         f"{s.CUSTOMER_ID} LIKE '0%' AND {_ZERO_LED.format(v=s.CUSTOMER_ID)} "
                         f"AND NOT {s.IS_GUEST})").fetchall()[0][0]
    k = f"({expr})"
    written = con.execute(f"SELECT EXISTS (SELECT 1 FROM {rows} WHERE {k} LIKE '0%' AND "
                          f"{_ZERO_LED.format(v=k)})").fetchall()[0][0]
    if stored == written:
        return expr, None
    keyed, changed, example = _rekey(con, rows, expr, name)
    if not changed:
        return expr, None
    return keyed, _note(col, changed, example, "earlier sales'")
