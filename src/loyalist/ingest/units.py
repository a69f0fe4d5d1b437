"""Which column counts a line's units, and whether its price is per unit or for the whole line,
decided by the data where the column names cannot tell.

Names alone mislead here. Ta-Feng's ``AMOUNT`` is the number of units, and its ``SALES_PRICE``
is the line's total. A reading by name took ``AMOUNT`` for a line total and dropped it, then
counted one unit per line at the line's total. Mapping ``--map quantity=AMOUNT`` alone then
multiplied the totals by the units again: 2.3 times the revenue. Two checks on the values
correct that (exploratory report 6b, H6):

- :func:`units_column`: a file with a price but no quantity column, and a column whose name is
  used both for units and for money (:data:`UNITS_OR_MONEY`, e.g. 'amount'). If that column
  holds whole numbers well below the price on nearly every line, it counts units.
- :func:`price_per_line`: a price column whose name does not say "per unit", beside a
  quantity. Across the lines of one product, a line total grows with the quantity, and a unit
  price does not. The within-product slope of log(price) on log(quantity) is 1 for line totals
  and about 0 for unit prices (Online Retail's volume discounts give -0.14). When the slope
  cannot tell, the report says which reading was taken and how to change it.

Then the line's value after its discount: :func:`discounted_total` takes a column holding it,
else :func:`line_discount` takes a line's own discount amount off the value read.

A column the user named with ``--map`` is taken as meant.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import duckdb

from loyalist import schema as s
from loyalist.ingest import adapters, parse
from loyalist.ingest.adapters import Adapter
from loyalist.ingest.read import Source

#: normalised names of a column that counts units in some exports and holds money in others
UNITS_OR_MONEY = ("amount", "amt", "volume", "salesvolume")
#: a units column's values are below half the unit price on at least this share of lines
_BELOW_PRICE = 0.9
#: words of a price column's name that say it is the price of one unit
_PER_UNIT_WORDS = frozenset({"unit", "units", "each", "per", "ea", "piece", "unitario",
                             "unitaire", "jednostkowa"})
#: the largest number a units column holds (a larger one is no count of units)
MAX_UNITS = 1_000_000
#: normalised price names that say "per unit" in one word
_PER_UNIT_NAMES = frozenset(("unitprice", "priceeach", "priceperunit", "priceperitem",
                             "einzelpreis", "stuckpreis", "stueckpreis", "prixunitaire",
                             "preciounitario", "prezzounitario", "stuksprijs",
                             "eenheidsprijs", "precounitario", "cenajednostkowa", "pu"))
#: within-product slope of log(price) on log(quantity): at or above it the price is the
#: line's total, at or below the other it is the price of one unit; in between: undecided
_TOTAL_SLOPE, _UNIT_SLOPE = 0.7, 0.3
#: products bought in at least two different quantities needed to read the slope
MIN_PRODUCTS = 3


def units_and_prices(con: duckdb.DuckDBPyConnection, src: Source, a: Adapter,
                     mapping: Mapping[str, str]) -> Adapter:
    """``a`` (the generic reader's columns for ``src``) with its units column and the meaning
    of its price decided by the data: :func:`units_column`, then :func:`price_per_line`,
    then :func:`discounted_total`, or, when it finds no line value after discount,
    :func:`line_discount`."""
    if a.name != "generic":
        return a  # a named format's columns are its documented ones
    a = price_per_line(con, src, units_column(con, src, a, mapping))
    read = _line_value(con, src, a)  # parsed once: each number_expr samples its column
    if read is None:
        return a
    after = discounted_total(con, src, a, read)
    return after if after is not a else line_discount(con, src, a, read)


def units_column(con: duckdb.DuckDBPyConnection, src: Source, a: Adapter,
                 mapping: Mapping[str, str]) -> Adapter:
    """``a`` reading the quantity from a :data:`UNITS_OR_MONEY` column the name-based reading
    left unused. This is done when the file has a unit price but no quantity column, and the
    column holds whole numbers below half the price on nearly every line (money would be at
    least the price)."""
    price = a.columns.get(s.UNIT_PRICE)
    if price is None or s.QUANTITY in a.columns or s.QUANTITY in a.mapped:
        return a
    used = a.read_columns()
    p = parse.number_expr(con, src.view, price, src.types[price])
    for col in [h for h in src.headers
                if h not in used and adapters.normalise(h) in UNITS_OR_MONEY]:
        x = parse.number_expr(con, src.view, col, src.types[col])
        n, fractional, both, below, top = con.execute(f"""
            SELECT count(x), count(x) FILTER (WHERE x <> round(x)),
                   count(*) FILTER (WHERE x > 0 AND p > 0),
                   count(*) FILTER (WHERE x > 0 AND p > 0 AND x <= p / 2), max(abs(x))
            FROM (SELECT {x} AS x, {p} AS p FROM {src.view})""").fetchall()[0]
        if not (n and not fractional and both and below >= _BELOW_PRICE * both
                and top <= MAX_UNITS):
            continue
        b = adapters.generic(src.headers, {**mapping, s.QUANTITY: col}, src.empty)
        note = (f"{s.QUANTITY} read from column {col!r}: it holds whole numbers, below half "
                f"the price {price!r} on {below:,} of {both:,} lines, so it counts units, "
                "not money; name another quantity column with --map quantity=<column> if "
                "that is wrong")
        return replace(b, mapped=a.mapped, assumptions=(*b.assumptions, note))
    return a



def price_per_line(con: duckdb.DuckDBPyConnection, src: Source, a: Adapter) -> Adapter:
    """``a`` reading its price column as the line's total (the unit price is then the total
    over the quantity) when, across the lines of each product, the price grows in proportion
    to the quantity. If the data cannot tell, the report says that the price is read as the
    price of one unit, and how to read it as the line's total."""
    price, qty, prod = (a.columns.get(c) for c in (s.UNIT_PRICE, s.QUANTITY, s.PRODUCT_ID))
    if (price is None or qty is None or prod is None or a.amount_given
            or s.UNIT_PRICE in a.mapped or set(adapters.words(price)) & _PER_UNIT_WORDS
            or adapters.normalise(price) in _PER_UNIT_NAMES):
        return a
    p = parse.number_expr(con, src.view, price, src.types[price])
    x = parse.number_expr(con, src.view, qty, src.types[qty])
    k = parse.text_expr(prod, src.types[prod])
    # the slope of a least-squares fit within each product, pooled over products
    # (sums per product, so one aggregate and no window over the file)
    products, sxy, sxx, not_one = con.execute(f"""
        WITH l AS (SELECT {k} AS k, ln({x}) AS x, ln({p}) AS y FROM {src.view}
                   WHERE {x} > 0 AND {p} > 0 AND {k} IS NOT NULL),
        g AS (SELECT count(*) AS n, sum(x) AS sx, sum(y) AS sy, sum(x * y) AS sxy,
                     sum(x * x) AS sxx, count(*) FILTER (WHERE x <> 0) AS not_one
              FROM l GROUP BY k)
        SELECT count(*) FILTER (WHERE sxx - sx * sx / n > 1e-9),
               sum(sxy - sx * sy / n), sum(sxx - sx * sx / n), sum(not_one)
        FROM g""").fetchall()[0]
    if not not_one:
        return a  # every line is one unit: a unit price and a line total are the same
    slope = sxy / sxx if products >= MIN_PRODUCTS and sxx else None
    if slope is not None and slope >= _TOTAL_SLOPE:
        columns = {c: v for c, v in a.columns.items() if c != s.UNIT_PRICE}
        columns[s.AMOUNT] = price
        note = (f"{s.AMOUNT} read from column {price!r}: it is the line's total, not the price "
                f"of one unit. Across the lines of each of {products:,} products bought in "
                f"different quantities, it grows with the quantity {qty!r} (slope {slope:.2f} "
                f"on a log scale, where a unit price gives about 0), so the unit price is "
                f"{price!r} / {qty!r}; map --map unit_price={price!r} if it is the price of "
                "one unit")
        found = f"{s.UNIT_PRICE} read from column {price!r}"
        return replace(a, columns=columns, amount_given=True, assumptions=(
            *[n for n in a.assumptions if not n.startswith(found)], note))
    if slope is not None and slope <= _UNIT_SLOPE:
        return a
    why = (f"only {products:,} product(s) are bought in different quantities"
           if slope is None else
           f"across the lines of each of {products:,} products bought in different "
           f"quantities, it neither stays put nor grows in proportion to {qty!r} (slope "
           f"{slope:.2f} on a log scale)")
    return replace(a, assumptions=(
        *a.assumptions,
        f"{s.UNIT_PRICE} ({price!r}) is read as the price of one unit, and a line's value "
        f"as it times {qty!r}. The data cannot tell whether it is that or the line's total "
        f"({why}); if it is the line's total, map --map amount={price!r}"))


#: words of a column name that may hold a line's value (normalised substrings), for
#: :func:`discounted_total`'s candidates
_LINE_VALUE_WORDS = ("total", "amount", "net", "revenue", "subtotal", "value", "sum", "betrag",
                     "gesamt", "montant", "importe", "importo", "totaal", "bedrag", "valor",
                     "wartosc", "kwota", "belopp", "belob", "summa", "yhteensa", "castka",
                     "tutar", "сумма", "金額", "金额", "금액")
#: ... but not a payment's or a balance's (Xero's 'InvoiceAmountPaid' and 'InvoiceAmountDue':
#: the invoice's total paid or still owed, repeated on its lines, equal to a one-line
#: invoice's value and below it once paid)
_NOT_LINE_VALUE_WORDS = ("due", "paid", "owing", "outstanding", "balance", "remaining")
#: a line total within this share (or 0.01) of quantity x price equals it
_SAME = 0.005
#: discounted_total's conditions: at least this many lines, this share equal to quantity x
#: price (so it is no gross or order total), at most this share above it (tax or shipping
#: added), and this share (at least one line) below it
_MIN_LINES, _EQUAL_SHARE, _ABOVE_SHARE, _BELOW_SHARE = 10, 0.5, 0.01, 0.005


def discounted_total(con: duckdb.DuckDBPyConnection, src: Source, a: Adapter,
                     read: tuple[str, str]) -> Adapter:
    """``a`` reading the line's value from a column that holds each line's total after its
    discount: a column (named like a total or an amount) equal to the line's value as read
    (quantity x unit price, or the line total read) on most lines, below it on some, and
    above it on (almost) none. Zoho's 'Item Total', Sage's 'Net', Odoo's 'Subtotal w/o Tax',
    Clover's 'Item Revenue', a German shop's 'Gesamtpreis Brutto' beside a 'Rabatt %', and
    Lightspeed's 'Total' beside its 'Subtotal' and 'Discount': the value as read would count
    the discounts as revenue. A total with tax or shipping (above on most lines), an order's
    total repeated per line, or a tax amount is not taken. The unit price is then the total
    over the quantity; a price or line total the user mapped is taken as meant.
    ``read``: the line's value as ``a`` reads it (:func:`_line_value`)."""
    price, qty = a.columns.get(s.UNIT_PRICE), a.columns.get(s.QUANTITY)
    line = a.columns.get(s.AMOUNT) if a.amount_given else None
    used = a.read_columns()
    cands = [(h, parse.number_expr(con, src.view, h, src.types[h])) for h in src.headers
             if h not in used and h not in src.empty
             and any(w in adapters.normalise(h) for w in _LINE_VALUE_WORDS)
             and not any(w in adapters.normalise(h) for w in _NOT_LINE_VALUE_WORDS)]
    if not cands:
        return a
    value, what = read
    near = f"greatest(0.01, {_SAME} * v)"
    parts = ", ".join(f"""count(t{i}), count(*) FILTER (WHERE abs(t{i} - v) <= {near}),
        count(*) FILTER (WHERE t{i} > v + {near}),
        count(*) FILTER (WHERE t{i} >= 0 AND t{i} < v - {near}),
        sum(v - t{i}) FILTER (WHERE t{i} >= 0 AND t{i} < v - {near})"""
                      for i in range(len(cands)))
    cols = ", ".join(f"{t} AS t{i}" for i, (_, t) in enumerate(cands))
    row = con.execute(f"""SELECT {parts} FROM (
        SELECT {value} AS v, {cols} FROM {src.view}) WHERE v > 0""").fetchall()[0]
    best = None
    for i, (col, _) in enumerate(cands):
        n, equal, above, below, off = row[5 * i:5 * i + 5]
        if (n >= _MIN_LINES and equal >= _EQUAL_SHARE * n and above <= _ABOVE_SHARE * n
                and below >= max(1, _BELOW_SHARE * n) and (best is None or below > best[1])):
            best = (col, below, n, off, above)
    if best is None:
        return a
    col, below, n, off, above = best
    columns = {c: v for c, v in a.columns.items() if c != s.UNIT_PRICE}
    columns[s.AMOUNT] = col
    replaced = (f"{s.UNIT_PRICE} read from column {price!r}", f"{s.AMOUNT} read from column "
                f"{line!r}")
    unit = f"{col!r} / {qty!r}" if qty is not None else f"{col!r}"
    undo = (f"--map amount={line!r}" if line is not None else f"--map unit_price={price!r}")
    note = (f"{s.AMOUNT} read from column {col!r}: it is each line's value after its discount "
            f"(on {below:,} of {n:,} lines it is below {what}, by {off:,.2f} in all, and above "
            f"it on {above:,}), so the unit price is {unit}; map {undo} to count lines before "
            "their discounts")
    return replace(a, columns=columns, amount_given=True, assumptions=(
        *[n for n in a.assumptions if not n.startswith(replaced)], note))


def _line_value(con: duckdb.DuckDBPyConnection, src: Source, a: Adapter
                ) -> tuple[str, str] | None:
    """SQL over ``src.view`` for a line's value as ``a`` reads it (its line total, else
    quantity x unit price) and how the report names it; None when the value is the user's
    (a mapped price or line total is taken as meant) or the file gives no value to check."""
    price, qty = a.columns.get(s.UNIT_PRICE), a.columns.get(s.QUANTITY)
    line = a.columns.get(s.AMOUNT) if a.amount_given else None
    if {s.UNIT_PRICE, s.AMOUNT} & a.mapped:
        return None
    if line is not None:
        return parse.number_expr(con, src.view, line, src.types[line]), repr(line)
    if price is None or qty is None:
        return None
    return (f"{parse.number_expr(con, src.view, qty, src.types[qty])} * "
            f"{parse.number_expr(con, src.view, price, src.types[price])}",
            f"{qty!r} x {price!r}")


#: words (normalised) of a discount and of a line in a column's name: a line's own discount
#: amount is named with both (Amazon's 'item-promotion-discount', Shopify's 'Lineitem
#: discount', 'Line Discount', 'Item Discount Amount', 'Positionsrabatt', 'Remise ligne')
_DISCOUNT_NAME_WORDS = ("discount", "rabat", "remise", "descuento", "sconto", "korting", "desconto")
_LINE_WORDS = ("item", "line", "position", "zeile", "artikel", "ligne", "article", "linea",
               "articulo", "articolo", "regel", "pozycj")
#: ...but not a shipping discount (Amazon's 'ship-promotion-discount': shipping is no goods)
#: nor a rate ('Line Discount %', 'Item Discount Rate': a line total after it is found by
#: :func:`discounted_total`)
_NOT_LINE_DISCOUNT = ("ship", "versand", "porto", "envio", "percent", "pct", "rate", "satz",
                      "taux", "tasa", "tasso")


def line_discount(con: duckdb.DuckDBPyConnection, src: Source, a: Adapter,
                  read: tuple[str, str]) -> Adapter:
    """``a`` taking a line's own discount amount off the line's value: a column named as a
    line's or item's discount (:data:`_DISCOUNT_NAME_WORDS` and :data:`_LINE_WORDS`), written
    positive or negative, whose size is at most the line's value (as read: the line total,
    or quantity x unit price) on all its lines but a few. Such a column is money per line,
    not a rate and not an order's discount (those exceed a line's value somewhere), and the
    value as read is before it: a column holding the value after it would have been found by
    :func:`discounted_total` and taken instead. Without it, revenue counts the discounts as
    sales (Amazon's All Orders report: 'item-price' and 'item-promotion-discount', 2,583.78
    on 243,706.51). A value the user named with --map is taken as meant. ``read``: the
    line's value as ``a`` reads it (:func:`_line_value`)."""
    value, what = read
    used = a.read_columns()
    for col in [h for h in src.headers if h not in used and h not in src.empty
                and "%" not in h and _names_line_discount(adapters.normalise(h))]:
        d = f"abs({parse.number_expr(con, src.view, col, src.types[col])})"
        lines, above, total = con.execute(f"""
            SELECT count(*), count(*) FILTER (WHERE d > v + 0.01), sum(d)
            FROM (SELECT {value} AS v, {d} AS d FROM {src.view}) WHERE v > 0 AND d > 0"""
                                          ).fetchall()[0]
        if not lines or above > _ABOVE_SHARE * lines:
            continue
        note = (f"{col!r} is each line's discount ({total:,.2f} on {lines:,} lines read, "
                f"never above the line's value {what}): it is taken off the line's value, so "
                "revenue and each customer's spend are after it")
        return replace(a, discount_column=col, assumptions=(*a.assumptions, note))
    return a


def _names_line_discount(name: str) -> bool:
    """Whether a normalised column name names a line's own discount amount."""
    return (any(w in name for w in _DISCOUNT_NAME_WORDS) and any(w in name for w in _LINE_WORDS)
            and not any(w in name for w in _NOT_LINE_DISCOUNT))
