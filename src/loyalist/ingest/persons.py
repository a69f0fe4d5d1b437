"""Customer ids that name an order, not a person, and the person id that fixes them.

Some exports give every order a customer id of its own and name the person in another column
(Olist: ``customer_id`` is new for every order, ``customer_unique_id`` is the person, in the
customers file or beside it in a merged file). Keyed by the per-order id, every order is a new
customer and nobody ever buys again. Two cases are handled:

- one file with both columns (:func:`person_in_file`): when the id picked is (nearly) one per
  order and a column named as the person (``customer_unique_id``, ``person_id``, ...) repeats
  across orders and is one per picked id, the person column is the customer;
- sales with a customers file that maps the per-order id onto a person id
  (:func:`person_map`): the id unique in that file, the person column repeating, and the
  sales' ids found there. The sales get the person as their customer id (a column added to
  their view, so the raw row keeps both), and the customers file is keyed by the person
  (:func:`loyalist.ingest.tables.customer_key` picks the column holding the sales' ids).
  ``--map customer_id=<column of the customers file>`` asks for the same explicitly.

And the ids that name no person: placeholders for a guest (:func:`is_placeholder`). The id 0
is one only where the data says so (:func:`zero_is_guest`): WooCommerce writes guest checkouts
as user 0, while Retail Rocket's visitor ids start at 0 (exploratory report 6b, H9).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import duckdb

from loyalist import schema as s
from loyalist.errors import DataError
from loyalist.ingest import adapters, parse
from loyalist.ingest.adapters import Adapter
from loyalist.ingest.read import ROW, Source

#: share of the picked customer ids with a single order above which they are ids of orders
_PER_ORDER = 0.95
#: at most this many persons per id: the person column merges ids (it repeats)
_MERGES = 0.95
#: share of the sales' customer ids a customers file must hold to re-key them
_FOUND = 0.9

#: customer ids that mean "no customer" (a web shop's guest checkout is user 0, where
#: :func:`zero_is_guest` says so)
GUEST_IDS = ("0", "-1", "guest", "n/a", "na", "none", "null", "unknown", "anonymous", "-")
#: ... and the words tills write for no customer, compared on their letters and digits only
#: ('Walk-in customer', 'Walk In Customer' -> 'walkincustomer'; 'CASH', 'Cash Sale')
GUEST_WORDS = ("guest", "guestcustomer", "guestcheckout", "guestuser", "walkin",
               "walkincustomer", "walkinclient", "walkinguest", "walkinsale", "cash",
               "cashcustomer", "cashclient", "cashsale", "cashsales", "cashaccount",
               "anonymouscustomer", "unknowncustomer", "nocustomer", "noname",
               # the same as tills elsewhere write it (accents dropped): Latin America's
               # 'Consumidor Final' and 'Público en General', 'Cliente Contado', a German
               # 'Laufkunde' or 'Barverkauf', a French 'Client de passage', a Russian 1C's
               # 'Розничный покупатель'
               "consumidorfinal", "publicoengeneral", "publicogeneral", "clientecontado",
               "clientegenerico", "clienteocasional", "clientedepassage", "clientdepassage",
               "clientpassage", "laufkunde", "barverkauf", "barkunde",
               "розничныйпокупатель", "покупатель", "гость", "частноелицо")


def _no_accents(word: str) -> str:
    """The word without combining marks, as DuckDB's ``strip_accents`` leaves it."""
    import unicodedata

    return "".join(c for c in unicodedata.normalize("NFKD", word)
                   if not unicodedata.combining(c))


def is_placeholder(e: str, zero: bool = True) -> str:
    """SQL: TRUE when the customer id ``e`` is a placeholder for no customer
    (:data:`GUEST_IDS`, without '0' unless ``zero``; :data:`GUEST_WORDS`)."""
    ids = "(" + ", ".join(f"'{i}'" for i in GUEST_IDS if zero or i != "0") + ")"
    # as strip_accents leaves them ('й' is 'и' with a breve)
    plain = [_no_accents(w) for w in GUEST_WORDS]
    names = "(" + ", ".join(f"'{w}'" for w in plain) + ")"
    first = "(" + ", ".join(sorted({f"'{w[0]}'" for w in (*GUEST_WORDS, *plain)})) + ")"
    # the regular expression only for ids starting with one of the words' letters (not for
    # the digits of most shops' ids): it is the costly part, on every line
    return (f"(lower({e}) IN {ids} OR CASE WHEN lower(left(ltrim({e}), 1)) IN {first} "
            f"THEN regexp_replace(strip_accents(lower({e})), '[^\\pL\\pN]', '', 'g') IN "
            f"{names} ELSE FALSE END)")


def zero_is_guest(con: duckdb.DuckDBPyConnection, src: Source, a: Adapter
                  ) -> tuple[bool, list[str]]:
    """Whether the customer id 0 is a placeholder for guests in ``src``, and the report's
    sentence when it is not. It is one unless the column's other ids are all whole numbers
    counted from 0 (1 is one of them) and one of them has at least as many orders as '0': then
    0 is just the first number of the ids (Retail Rocket's visitor 0), not every guest's
    checkout under one id (WooCommerce's user 0, beside user ids such as 12 and 15, with more
    orders than any customer in a shop of any size)."""
    col = a.columns.get(s.CUSTOMER_ID)
    if col is None:
        return True, []
    c = parse.customer_id_expr(col, src.types[col])
    zero = (f"{parse.q(col)} = 0" if not parse.is_text(src.types[col])
            else f"starts_with(ltrim(CAST({parse.q(col)} AS VARCHAR)), '0') AND {c} = '0'")
    if not con.execute(f"SELECT count(*) FROM (SELECT 1 FROM {src.view} WHERE {zero} LIMIT 1)"
                       ).fetchall()[0][0]:
        return True, []
    order = next((a.columns[k] for k in (s.ORDER_ID, s.ORDERED_AT) if k in a.columns), None)
    o = parse.text_expr(order, src.types[order]) if order is not None else ROW
    zero_n, most, other, one = con.execute(f"""
        WITH per AS (SELECT c, count(DISTINCT o) AS n
                     FROM (SELECT {c} AS c, {o} AS o FROM {src.view}) WHERE c IS NOT NULL
                     GROUP BY c)
        SELECT max(n) FILTER (WHERE c = '0'),
               max(n) FILTER (WHERE c <> '0' AND NOT {is_placeholder('c')}),
               count(*) FILTER (WHERE c <> '0' AND NOT {is_placeholder('c')}
                                AND NOT regexp_full_match(c, '[0-9]+')),
               count(*) FILTER (WHERE c = '1')
        FROM per""").fetchall()[0]
    if most is None or other or not one or zero_n > most:
        return True, []
    return False, [f"the customer id '0' in {col!r} is a customer, not a placeholder for "
                   f"guests: the column's ids are whole numbers counted from 0 (1 is one of "
                   f"them), and '0' has {zero_n:,} "
                   f"order(s) where another id has {most:,}, so it is the first of the "
                   "numbers, not every guest's checkout; blank its cells "
                   "before loading if they are guest checkouts"]


def person_columns(headers: Sequence[str], exclude: Sequence[str] = ()) -> list[str]:
    """The columns named as a person's id (:func:`adapters.names_a_person`), in file order."""
    return [h for h in headers if h not in exclude and adapters.names_a_person(h)]


def person_in_file(con: duckdb.DuckDBPyConnection, src: Source, a: Adapter) -> Adapter:
    """``a`` with the customer read from a person column of the same file when the column it
    picked is a new id for (nearly) every order and the person column repeats across orders,
    one person per picked id; the report says so. Unchanged when the user mapped the
    customer, or without an order id column."""
    cust, order = a.columns.get(s.CUSTOMER_ID), a.columns.get(s.ORDER_ID)
    if cust is None or order is None or s.CUSTOMER_ID in a.mapped:
        return a
    c = parse.customer_id_expr(cust, src.types[cust])
    o = parse.text_expr(order, src.types[order])
    for p_col in person_columns(src.headers, exclude=tuple(a.columns.values())):
        p = parse.customer_id_expr(p_col, src.types[p_col])
        ids, one_order, persons, split, with_person, orders = con.execute(f"""
            WITH r AS (SELECT {c} AS c, {o} AS o, {p} AS p FROM {src.view}),
            per AS (SELECT c, count(DISTINCT o) AS n_o, count(DISTINCT p) AS n_p
                    FROM r WHERE c IS NOT NULL GROUP BY c)
            SELECT (SELECT count(*) FROM per),
                   (SELECT count(*) FILTER (WHERE n_o <= 1) FROM per),
                   (SELECT count(DISTINCT p) FROM r WHERE c IS NOT NULL),
                   (SELECT count(*) FILTER (WHERE n_p > 1) FROM per),
                   (SELECT count(*) FILTER (WHERE n_p = 1) FROM per),
                   (SELECT count(DISTINCT o) FROM r WHERE c IS NOT NULL)""").fetchall()[0]
        if not (ids and one_order >= _PER_ORDER * ids and with_person >= _PER_ORDER * ids
                and split <= 0.01 * ids and persons <= _MERGES * ids):
            continue
        note = (f"{s.CUSTOMER_ID} read from column {p_col!r}, not {cust!r}: {cust!r} is a new "
                f"id for (nearly) every order ({ids:,} ids, {orders:,} orders), {p_col!r} "
                f"names the person across orders ({persons:,} persons); map "
                f"--map {s.CUSTOMER_ID}={cust} to key customers by {cust!r}")
        return replace(a, columns={**a.columns, s.CUSTOMER_ID: p_col},
                       assumptions=(*a.assumptions, note))
    return a


@dataclass(frozen=True)
class PersonMap:
    """A customers file mapping the sales' customer ids (``key``) onto persons (``person``)."""
    customers: Source
    key: str
    person: str


def person_map(con: duckdb.DuckDBPyConnection, sales: Source, customers: Sequence[Source],
               mapping: Mapping[str, str]) -> PersonMap | None:
    """The customers file (among ``customers``) and its columns that map the customer ids of
    ``sales`` onto person ids, or None. Found when ``--map customer_id=<column>`` names a
    column of a customers file rather than of the sales (the map then must hold the sales'
    ids, else an error says so), or by itself: a column named as the person, repeating, beside
    a key unique in that file which holds at least :data:`_FOUND` of the sales' ids."""
    asked = mapping.get(s.CUSTOMER_ID)
    if asked is not None and asked in sales.headers:
        return None
    cust = adapters.found_columns(sales.headers, mapping).get(s.CUSTOMER_ID)
    if cust is None:
        return None
    candidates = [(cs, [h for h in ([asked] if asked is not None
                                    else person_columns(cs.headers)) if h in cs.headers])
                  for cs in customers]
    candidates = [(cs, persons) for cs, persons in candidates if persons]
    if not candidates:
        return None
    c = parse.customer_id_expr(cust, sales.types[cust])
    sales_ids = f"(SELECT DISTINCT {c} AS c FROM {sales.view} WHERE {c} IS NOT NULL)"
    n_sales = int(con.execute(f"SELECT count(*) FROM {sales_ids}").fetchall()[0][0])
    if not n_sales:
        return None
    tried: list[str] = []  # why a customers file with the asked column could not map
    for cs, persons in candidates:
        keys = [cust] if cust in cs.headers else []
        keys += [k for k in _key_columns(cs) if k not in keys and k not in persons]
        for key in keys:
            k = parse.customer_id_expr(key, cs.types[key])
            rows, distinct, found = con.execute(
                f"SELECT count({k}), count(DISTINCT {k}), "
                f"(SELECT count(*) FROM {sales_ids} WHERE c IN "
                f"(SELECT {k} FROM {cs.view})) FROM {cs.view}").fetchall()[0]
            if found < _FOUND * n_sales or distinct < rows:
                tried.append(f"{cs.name}'s {key!r} holds {found:,} of the sales' {n_sales:,} "
                             "customer ids" + (", some more than once" if distinct < rows
                                               else ""))
                continue
            for person in persons:
                if asked is None:
                    p = parse.customer_id_expr(person, cs.types[person])
                    n_persons, n_with = con.execute(
                        f"SELECT count(DISTINCT {p}), count({p}) FROM {cs.view} "
                        f"WHERE {k} IS NOT NULL").fetchall()[0]
                    if n_with < _PER_ORDER * rows or n_persons > _MERGES * distinct:
                        continue
                return PersonMap(cs, key, person)
        if asked is not None and not keys:
            tried.append(f"{cs.name} has no customer id column besides {asked!r}")
    if asked is not None and tried:
        raise DataError(
            f"--map {s.CUSTOMER_ID}={asked}: {sales.name} has no column {asked!r}, and the "
            f"customers file that has it cannot link the sales' customer ids ({cust!r}) to it: "
            f"{'; '.join(tried)}. Load a sales file with the column {asked!r}, or a customers "
            f"file with both {cust!r} (each id once) and {asked!r}")
    return None


def _key_columns(cs: Source) -> list[str]:
    """The customers file's own customer id column (as the customers table finds it)."""
    from loyalist.ingest import tables

    key = tables.columns_for(tables.SPECS[s.T_CUSTOMERS], cs.headers, None).get(s.CUSTOMER_ID)
    return [key] if key is not None else []


def rekeyed(con: duckdb.DuckDBPyConnection, sales: Source, m: PersonMap, view: str,
            mapping: Mapping[str, str]) -> tuple[Source, dict[str, str]]:
    """``sales`` with column ``m.person`` added: the person of each line's customer id (the id
    itself where the customers file lacks it), and the mapping that reads it as the customer;
    the note says how many ids became how many persons."""
    cust = adapters.found_columns(sales.headers, mapping)[s.CUSTOMER_ID]
    c = parse.customer_id_expr(cust, sales.types[cust])
    k = parse.customer_id_expr(m.key, m.customers.types[m.key])
    p = parse.customer_id_expr(m.person, m.customers.types[m.person])
    known = f"(SELECT {k} FROM {m.customers.view} WHERE {k} IS NOT NULL)"
    con.execute(f"""
        CREATE OR REPLACE TEMP VIEW {view} AS
        WITH m AS (SELECT {k} AS __k, any_value({p}) AS __p FROM {m.customers.view}
                   WHERE {k} IS NOT NULL GROUP BY 1)
        SELECT l.* EXCLUDE ({ROW}, __c), coalesce(m.__p, l.__c) AS {parse.q(m.person)},
               l.{ROW}
        FROM (SELECT *, {c} AS __c FROM {sales.view}) l LEFT JOIN m ON l.__c = m.__k""")
    ids, kept = con.execute(
        f"SELECT count(DISTINCT c), count(DISTINCT c) FILTER (WHERE c NOT IN {known}) "
        f"FROM (SELECT {c} AS c FROM {sales.view})").fetchall()[0]
    persons = con.execute(f"SELECT count(DISTINCT {parse.q(m.person)}) FROM {view}"
                          ).fetchall()[0][0]
    note = (f"customer ids re-keyed through {m.customers.name}: its {m.person!r} names the "
            f"person behind each {m.key!r}, so the sales' {ids:,} customer ids ({cust!r}) are "
            f"{persons:,} persons" + (f" ({kept:,} ids not in it kept as they are)" if kept
                                     else "")
            + f"; the customers table is keyed by {m.person!r} too")
    out = replace(sales, view=view, headers=(*sales.headers, m.person),
                  types={**sales.types, m.person: "VARCHAR"}, notes=(*sales.notes, note))
    return out, {**mapping, s.CUSTOMER_ID: m.person}
