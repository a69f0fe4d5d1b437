"""Repair a staged transaction table where the file leaves an order's details implicit: a
line without its customer, date or status takes them from the other lines of its order, a
line without a product code is the product its description names, and an order id a till
reuses (a receipt counter that restarts) is split into one order per customer, day and
store, an order whose refund column holds its whole value is cancelled, and a line without a
product that sums its order's items is the order's summary row, and a refund or a credit
note's line written with a positive quantity is a return. Each repair applies the quarantine
rules again to the lines it changed and returns the report's sentences.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import duckdb

from loyalist import schema as s
from loyalist.ingest import parse, quarantine
from loyalist.ingest.adapters import DISCOUNT_LINE_SQL, Adapter, normalise
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
    # (not a totals row: 'Total for Gardening' where a grouped report's product is)
    cont = f"{' AND '.join(blank)} AND {s.PRODUCT_ID} IS NOT NULL AND NOT __total_label"
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


#: a column saying which kind of document a line belongs to (normalised names, in order of
#: preference): invoice or credit note (Sage's 'Type', Tally's 'Voucher Type', SAP's
#: 'Belegart', ...). Taken only when its values name a credit document
#: (:func:`is_credit_document`).
DOCUMENT_TYPE_NAMES = tuple(dict.fromkeys(normalise(n) for n in (
    "Document Type", "Doc Type", "Voucher Type", "Invoice Type", "Transaction Type",
    "Trans Type", "Txn Type", "Entry Type", "Sales Type", "Sale Type", "Record Type", "Type",
    "Kind",
    # German, French, Spanish/Portuguese/Italian, Dutch, Polish, Nordic, Finnish
    "Belegart", "Belegtyp", "Dokumentart", "Dokumenttyp", "Rechnungsart", "Rechnungstyp",
    "Vorgangsart", "Typ", "Type de document", "Type document", "Type de pièce",
    "Type de facture", "Tipo de documento", "Tipo documento", "Tipo de comprobante",
    "Tipo comprobante", "Tipo di documento", "Tipo de factura", "Tipo doc", "Tipo",
    "Documentsoort", "Soort document", "Factuursoort", "Factuurtype", "Soort",
    "Typ dokumentu", "Rodzaj dokumentu", "Dokumenttype", "Bilagstype", "Bilagstyp",
    "Fakturatyp", "Fakturatype", "Tositelaji", "Asiakirjatyyppi", "Laskutyyppi", "Tyyppi",
    # Russian/Ukrainian, Greek, Turkish, Czech, Hungarian, Japanese, Chinese, Korean
    "Тип документа", "Вид документа", "Тип", "Τύπος παραστατικού", "Είδος παραστατικού",
    "Belge Türü", "Belge Tipi", "Fatura Tipi", "Typ dokladu", "Druh dokladu",
    "Bizonylat típusa", "Bizonylattípus", "伝票種別", "伝票区分", "单据类型",
    "전표유형", "문서유형")))
#: at most this many different values: a column with more (descriptions, names) says no
#: document type
_MAX_DOCUMENT_TYPES = 50
#: words naming a credit document (normalised, whole words): a credit note or memo, a
#: refund, a return, in the languages column names are read in
_CREDIT_WORDS = frozenset(normalise(w) for w in (
    "credit", "creditnote", "creditmemo", "refund", "refunds", "return", "returns",
    "accreccredit", "avoir", "abono", "reso", "retour", "retur", "kredit", "korekta", "zwrot",
    "iade", "stornorechnung"))
#: beginnings of words naming one (normalised): Gutschrift, Rechnungskorrektur, rectificativa,
#: devolución/devolução, creditnota, kreditnota, korygująca, hyvityslasku, dobropis, jóváíró,
#: возврат, кредит-нота, корректировочный, повернення, πιστωτικό, επιστροφή
_CREDIT_STEMS = tuple(normalise(w) for w in (
    "gutschrift", "rechnungskorrektur", "retoure", "erstattung", "rembours", "rectificativ",
    "devolu", "creditnota", "creditfactu", "kreditnota", "kreditfaktura", "kreditering",
    "korygujac", "hyvitys", "palautus", "dobropis", "jóváír", "возврат", "кредит",
    "корректир", "повернен", "πιστωτικ", "επιστροφ"))
#: phrases naming one (normalised words joined by spaces), and East Asian words found
#: anywhere in a value (written without spaces): 返品, 返金, 赤伝, 退货, 退款, 红字, 반품, 환불
_CREDIT_PHRASES = tuple(" ".join(normalise(w) for w in p.split()) for p in (
    "nota de crédito", "nota di credito", "nota credito", "note de crédit", "nota de abono"))
_CREDIT_SCRIPT = tuple(normalise(w) for w in (
    "返品", "返金", "赤伝", "退货", "退貨", "退款", "红字", "紅字", "红冲", "반품", "환불"))
#: a sale on credit (paid later, on account) is a sale, not a credit note: 'Credit Sale'
#: beside 'Cash Sale', 'Kreditverkauf', 'Vente à crédit', 'Venta a crédito'
_CREDIT_SALE = tuple(" ".join(normalise(w) for w in p.split()) for p in (
    "credit sale", "credit sales", "sale on credit", "sales on credit", "kreditverkauf",
    "kreditkauf", "vente à crédit", "vente a credit", "venta a crédito", "venda a crédito",
    "vendita a credito"))
#: a payment's tender (cash, card, ...): a column holding one is how the line was paid
#: ('Type' = Cash / Credit / Debit), not a document type
_TENDER = re.compile(r"^(cash|debit|visa|mastercard|amex|paypal|cheque|check|bar|bargeld|ec|"
                     r"efectivo|especes|contanti|contant|kontant|gotowka|pin)$"
                     r"|card|karte|kort|carte|tarjeta|carta|karta|cartao|наличн|карт")


def _value_words(value: str) -> list[str]:
    return [w for w in (normalise(p) for p in re.split(r"[\W_]+", value)) if w]


def is_credit_document(value: str) -> bool:
    """Whether a document type (``value``) names a credit note, credit memo, refund or return
    ('Credit', 'Credit Note', 'out_refund', 'Gutschrift', 'Avoir', 'Nota de crédito',
    'Abono', 'Creditnota', 'Faktura korygująca', 'Kreditnota', 'Возврат', '返品', ...)."""
    ws = _value_words(value)
    joined = " ".join(ws)
    if any(f" {p} " in f" {joined} " for p in _CREDIT_SALE):
        return False
    return (any(w in _CREDIT_WORDS or w.startswith(_CREDIT_STEMS) for w in ws)
            or any(f" {p} " in f" {joined} " for p in _CREDIT_PHRASES)
            or any(c in joined for c in _CREDIT_SCRIPT))


def _is_tender(value: str) -> bool:
    return any(_TENDER.search(w) for w in _value_words(value))


def _document_type(con: duckdb.DuckDBPyConnection, src: Source, a: Adapter,
                   kind: Callable[[str], bool] = is_credit_document
                   ) -> tuple[str, list[str]] | None:
    """The file's document-type column (:data:`DOCUMENT_TYPE_NAMES`) no other use took, with
    its values of the ``kind`` asked for (a credit document, an offer); None when no such
    column holds one (a column with a tender, or with more than :data:`_MAX_DOCUMENT_TYPES`
    values, is none)."""
    used = a.read_columns()
    by_norm: dict[str, str] = {}
    for h in src.headers:
        if h not in used and h not in src.empty:
            by_norm.setdefault(normalise(h), h)
    for col in (by_norm[n] for n in DOCUMENT_TYPE_NAMES if n in by_norm):
        v = parse.plain_text_expr(col)
        values = [r[0] for r in con.execute(
            f"SELECT DISTINCT {v} FROM {src.view} WHERE {v} IS NOT NULL "
            f"LIMIT {_MAX_DOCUMENT_TYPES + 1}").fetchall()]
        if len(values) > _MAX_DOCUMENT_TYPES or any(_is_tender(x) for x in values):
            continue
        found = [x for x in values if kind(x)]
        if found:
            return col, found
    return None


#: words (normalised, whole words) naming an offer, not a sale: an estimate, a quote, a
#: pro-forma invoice (QuickBooks' 'Estimate'; 'Angebot', 'Devis', 'Presupuesto', 'Preventivo',
#: 'Offerte', 'Orçamento', 'Oferta')
_OFFER_WORDS = frozenset(normalise(w) for w in (
    "estimate", "quote", "quotation", "proforma", "angebot", "kostenvoranschlag", "devis",
    "presupuesto", "cotizacion", "preventivo", "offerte", "orcamento", "oferta"))


def is_offer_document(value: str) -> bool:
    """Whether a document type (``value``) names an offer, not a sale: 'Estimate', 'Quote',
    'Pro forma invoice', 'Angebot', 'Devis', ..."""
    ws = _value_words(value)
    return any(w in _OFFER_WORDS for w in ws) or " ".join(ws).startswith("pro forma")


def offer_documents(con: duckdb.DuckDBPyConnection, src: Source, a: Adapter
                    ) -> tuple[str, list[str]]:
    """SQL over the source view, TRUE on a line whose document type names an offer
    (:func:`is_offer_document`: an estimate or a quote is no sale, rule ``offer``), and the
    report's sentence; ('FALSE', []) when no document-type column names one."""
    found = _document_type(con, src, a, is_offer_document)
    if found is None:
        return "FALSE", []
    col, offers = found
    listed = ", ".join(quarantine.sql_str(c) for c in offers)
    return (f"coalesce({parse.plain_text_expr(col)} IN ({listed}), FALSE)",
            [f"lines whose {col!r} is an offer ({', '.join(map(repr, offers[:5]))}) are no "
             "sale: quarantined as offer"])


def credit_documents(con: duckdb.DuckDBPyConnection, src: Source, a: Adapter, table: str,
                     rule: str) -> list[str]:
    """Credit notes among invoices: a document-type column (:func:`_document_type`) whose
    value names a credit document (Sage's 'Credit', Tally's 'Credit Note', 'Gutschrift',
    'Avoir', ...) makes the line a return. Sage and Tally write a credit's quantities and
    amounts positive: the quantity is made negative. SAP writes them negative: a line that
    is already negative stays so (its price made positive), never flipped twice. A line of
    a credit document with no type of its own (the type written on the document's first
    line only) is one when every typed line of its order is. Discount lines keep their
    sign. Returns the report's sentence."""
    found = _document_type(con, src, a)
    if found is None:
        return []
    col, credits = found
    q, p, o = s.QUANTITY, s.UNIT_PRICE, s.ORDER_ID
    doc = parse.plain_text_expr(col, "v")
    listed = ", ".join(quarantine.sql_str(c) for c in credits)
    discount = DISCOUNT_LINE_SQL.format(product_id=f"t.{s.PRODUCT_ID}",
                                        description=f"t.{s.DESCRIPTION}")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {table}_credit AS
        SELECT {ROW}, {q} * {p} < 0 AS was_negative FROM (
            SELECT t.{ROW}, t.{q}, t.{p}, t.{o}, coalesce({discount}, FALSE) AS disc,
                   {doc} IN ({listed}) AS credit,
                   bool_and({doc} IN ({listed})) OVER (PARTITION BY t.{o}) AS order_credit
            FROM {table} t JOIN {src.view} v USING ({ROW}))
        WHERE (credit OR (credit IS NULL AND {o} IS NOT NULL AND order_credit))
          AND NOT disc AND {q} IS NOT NULL AND {p} IS NOT NULL""")
    amount = f", {s.AMOUNT} = -abs({s.AMOUNT})" if s.AMOUNT in a.columns else ""
    if con.execute(f"""
            UPDATE {table} SET {q} = -abs({q}), {p} = abs({p}){amount}
            WHERE {ROW} IN (SELECT {ROW} FROM {table}_credit) AND ({q} > 0 OR {p} < 0)
            """).fetchall()[0][0]:
        _apply_rules(con, table, rule)
    lines, negative = con.execute(f"""
        SELECT count(*), count(*) FILTER (WHERE was_negative) FROM {table}_credit
        JOIN {table} USING ({ROW}) WHERE __rule IS NULL""").fetchall()[0]
    con.execute(f"DROP TABLE {table}_credit")
    if not lines:
        return []
    kinds = ", ".join(repr(c) for c in credits[:5]) + (", ..." if len(credits) > 5 else "")
    how = [f"{lines - negative:,} written with a positive value were read with a negative "
           "quantity"] * bool(lines - negative)
    how += [f"{negative:,} were written negative already and stay so"] * bool(negative)
    return [f"{lines:,} line(s) loaded whose {col!r} is a credit document ({kinds}) are "
            f"returns, lowering revenue: {' and '.join(how)}"]
