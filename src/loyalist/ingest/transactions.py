"""Stage a transaction file: parse, apply the cleaning rules, profile, then write atomically.

Every row read ends in exactly one place: ``transactions`` (loaded, with its ``line_kind`` and
``is_guest`` flag) or ``quarantine`` (with the first rule it broke, the reason and the raw row).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import duckdb

from loyalist import schema as s
from loyalist.errors import DataError
from loyalist.ingest import parse, quarantine, zeros
from loyalist.ingest.adapters import (
    DISCOUNT_LINE_SQL,
    NOT_A_PURCHASE_EVENT,
    ORDER_TOTAL_NAMES,
    VOID_SET,
    Adapter,
    day_number_column,
    normalise,
)
from loyalist.ingest.groups import heading_row
from loyalist.ingest.join import FOUND
from loyalist.ingest.notes import (
    corrections,
    order_adjustments,
    placeholder_customers,
    repeated_lines_note,
    spreadsheet_errors,
    units_written,
    unix_times,
    unknown_values,
    utc_offsets,
)
from loyalist.ingest.persons import is_placeholder, zero_is_guest
from loyalist.ingest.read import ROW, Source, duplicate_note, units_row
from loyalist.ingest.repairs import (
    continuation_lines,
    credit_documents,
    fill_from_order,
    negative_totals,
    offer_documents,
    one_customer,
    order_summaries,
    product_from_description,
    refunded_orders,
    split_reused_orders,
)
from loyalist.ingest.text import TOTAL_LABELS

log = logging.getLogger(__name__)

#: |quantity| above this is not a real order line (Online Retail's largest is 80,995)
MAX_ABS_QUANTITY = 1_000_000
#: an order status saying the order is not (or no longer) a sale: cancelled, voided, failed,
#: declined, abandoned, rejected, unavailable, wholly refunded or returned, charged back, or a
#: payment that failed ('Payment error' (PrestaShop), 'payment failed', 'card declined',
#: 'error', 'refused', 'denied'), or never paid (WooCommerce's 'Pending payment', slug
#: 'wc-pending': a checkout left unpaid; 'unpaid', 'awaiting payment') ("partially refunded",
#: "payment accepted", and a card payment "authorized" or "pending" capture are sales)
CANCELLED_STATUS = (r"^\s*(wc-pending\s*$|(wc-)?(cancel|void|fail|declin|abandon|reject"
                    r"|unavailable|refund|return|charge[ _-]?back|error|refus|denied|unpaid"
                    r"|pending[ _-]*payment|awaiting[ _-]*payment"
                    r"|(payment|card|transaction)[ _-]*(error|fail|declin|reject|refus|denied)"
                    # the same in German, French, Spanish, Portuguese, Italian, Dutch, Polish
                    # (storniert, annulé, anulado, devolvido, rimborsato, geannuleerd, ...)
                    r"|storn|abgebrochen|erstattet|zur[uü]ckerstattet|annul|anulad|anulowan"
                    r"|rembours|reembols|rimbors|terugbetaal|devolvid|devuelt|estornad"
                    r"|retourn|geretourneerd|zwr[oó]con|[ée]chou|mislukt|fallid|rechazad"
                    r"|recusad|rifiutat|geweigerd|odrzucon|geannuleerd"
                    # failed or never paid: 'Fehlgeschlagen', 'Zahlung ausstehend', 'Erreur
                    # de paiement', 'En attente du paiement par chèque', 'Pago fallido',
                    # 'Pendiente de pago', 'Aguardando pagamento', 'In attesa di pagamento',
                    # 'Wacht op betaling', 'Oczekuje na płatność', 'Płatność nieudana'; a
                    # returned order ('Retoure', 'Reso'); a draft invoice, an order on hold
                    # (WooCommerce's 'on-hold': awaiting a bank transfer)
                    r"|fehlgeschlag|zahlung[ _-]*(ausstehend|fehlgeschlag|abgelehnt)|erreur"
                    r"|paiement[ _-]*(refus|rejet|[ée]chou)|en[ _-]*attente[ _-]*d[eu]"
                    r"[ _-]*(paiement|virement|ch[eè]que|r[eè]glement)"
                    r"|pago[ _-]*(fallid|rechazad|denegad|pendiente)|pendiente[ _-]*de[ _-]*pago"
                    r"|aguardando[ _-]*pagamento|pagamento[ _-]*(recusad|fallit|rifiutat|pendente)"
                    r"|in[ _-]*attesa[ _-]*d(i|el)[ _-]*pagamento|wacht[ _-]*op[ _-]*betaling"
                    r"|betaling[ _-]*(mislukt|geweigerd)|oczekuj[eę][ _-]*na[ _-]*p[lł]atno"
                    r"|p[lł]atno[sś][cć][ _-]*(nieudan|odrzucon)|retoure|reso\b|draft"
                    r"|on[ _-]*hold|delet|(awaiting|pending)[ _-]*approval"
                    # cancelled, returned or refunded in Turkish, Czech, Hungarian, Russian,
                    # Greek, Japanese, Chinese and Korean ('İptal Edildi', 'Zrušeno',
                    # 'Törölve', 'Отменен', 'Ακυρώθηκε', 'キャンセル', '已取消', '취소')
                    r"|iptal|iade|zru[sš]en|vr[aá]cen|t[öo]r[öo]lv|visszak[üu]ld"
                    r"|отмен|аннулир|возврат|ακυρ|επιστροφ|キャンセル|返品|返金|取消"
                    r"|已取消|退款|退货|退貨|취소|반품|환불"
                    # not paid yet: Korean 'before deposit', Japanese, Chinese
                    r"|입금전|입금대기|미입금|入金待ち|未入金|待付款|未付款))")
#: a payment state saying nothing is paid yet: Clover's 'Open' (an unpaid tab), 'offen',
#: 'ouvert', 'abierto', 'aberto', 'aperto', 'openstaand', 'otwarte'; read only in a column
#: named as the payment's state (:attr:`Adapter.payment_status`), since in an order status an
#: open order is a paid one not yet shipped
OPEN_PAYMENT = r"^\s*(open|offen|ouvert|abiert|abert|apert|openstaand|otwart)[a-z]*\s*$"
#: an invoice's status saying it is not approved yet: Xero's SUBMITTED (awaiting approval),
#: read only where the orders are invoices (:attr:`Adapter.invoice_status`)
UNAPPROVED_INVOICE = r"^\s*submitted\s*$"
#: a line total equal on every line of at least this share of the orders with several
#: products (and at least this many such orders) is an order total repeated per line
REPEATED_TOTAL_SHARE = 0.8
MIN_ORDERS_FOR_TOTALS_CHECK = 3
#: quarantine rules whose lines are no sale at all: no customer, order or value of their own
#: (a header line repeated, a units line under it, a spreadsheet's totals row, an order's
#: summary row)
NOT_A_SALE_RULES = ("repeated_header", "units_line", "totals_row", "group_heading",
                    "order_summary")
#: quarantine rules whose lines have no value to count: no sale at all, or the line's
#: quantity or price cannot be read (its value is unknown); they are out of revenue_read and
#: get no share of value in the report
NO_VALUE_RULES = (*NOT_A_SALE_RULES, "unparseable_quantity", "unparseable_price")

#: above this share of unparseable non-empty values, a column is the wrong column: the load fails
MAX_BAD_SHARE = 0.5

_KIND_OF = {
    s.CUSTOMER_ID: "customer", s.ORDER_ID: "id", s.PRODUCT_ID: "id", s.STORE_ID: "id",
    s.ORDERED_AT: "timestamp", s.QUANTITY: "number", s.UNIT_PRICE: "number", s.AMOUNT: "number",
    s.CATEGORY: "text", s.DESCRIPTION: "text", s.CHANNEL: "text", s.COUNTRY: "text",
    s.ORDERED_TIME: "time",
}


#: a group's total in a grouped report, named after the group: QuickBooks Online's 'Total for
#: Amy's Bird Sanctuary', QuickBooks Desktop's 'Total Amy's Bird Sanctuary'
GROUP_TOTAL = r"^(sub)?totals?( for)? \S"


def total_label(a: Adapter) -> str:
    """SQL over the source view: TRUE where a column read as the customer, the order, the
    product or the date holds a :data:`TOTAL_LABELS` label as written ('Grand Total' in
    Tally's 'Date' column, 'Summe' in a receipt number's), the first cell of a totals row,
    or a group's total named after it (:data:`GROUP_TOTAL`)."""
    labels = "(" + ", ".join(f"'{w}'" for w in TOTAL_LABELS) + ")"
    cols = [a.columns[c] for c in (s.CUSTOMER_ID, s.ORDER_ID, s.PRODUCT_ID, s.ORDERED_AT)
            if c in a.columns]
    label = " OR ".join(f"regexp_replace(lower({parse.plain_text_expr(c)}), '[^a-z]', '', "
                        f"'g') IN {labels} OR regexp_matches(lower("
                        f"{parse.plain_text_expr(c)}), '{GROUP_TOTAL}')" for c in cols)
    return f"coalesce({label or 'FALSE'}, FALSE)"


def is_totals_row(src: Source | None = None) -> str:
    """SQL over the parsed columns: TRUE on a spreadsheet's totals row, a
    :data:`TOTAL_LABELS` label in an id or date column (``__total_label``,
    :func:`total_label`) of a row without an order id, product id or date (a sale has all
    three, so a customer or product really called 'Total' is kept), and on the lines of a
    CSV's or a sheet's report footer (``src.footer``)."""
    footer = f" OR {ROW} > {src.rows - src.footer}" if src is not None and src.footer else ""
    return (f"((({s.ORDER_ID} IS NULL OR {s.PRODUCT_ID} IS NULL OR {s.ORDERED_AT} IS NULL) "
            f"AND __total_label){footer})")


def repeated_header(src: Source, a: Adapter) -> str:
    """SQL: TRUE on a row of a CSV or a sheet that repeats the header line (monthly exports
    joined one after another, or pasted below each other, keep each month's header): every
    column read holds its own name."""
    cols = list(dict.fromkeys(a.columns.values()))
    if not cols or src.kind not in ("csv", "excel"):
        return "FALSE"
    same = " AND ".join(f"lower({parse.plain_text_expr(c)}) = {quarantine.sql_str(c.lower())}"
                        for c in cols)
    return f"coalesce({same}, FALSE)"


#: the customer id as parsed once per row, before placeholders and e-mail case are applied
_CUSTOMER_RAW = "__customer_raw"


def _parsed_columns(con: duckdb.DuckDBPyConnection, src: Source, a: Adapter, *,
                    zero_guest: bool = True) -> dict[str, str]:
    """canonical column -> SQL expression over the source view, with the customer id's parse
    in column :data:`_CUSTOMER_RAW` (:func:`_with_customer_raw`): the placeholder and e-mail
    rules read it several times, and parsing it each time cost a tenth of an ingest.

    A separate time-of-day column is folded into ``ordered_at`` (the date's day + the time; an
    empty time is midnight, an unparseable one makes the timestamp unparseable, so the row is
    quarantined as ``unparseable_date`` rather than loaded at a wrong hour)."""
    exprs = {canon: (parse.day_number_expr(col, a.day_one)
                     if canon == s.ORDERED_AT and a.day_one is not None else
                     parse.column_expr(con, src.view, col, src.types[col], _KIND_OF[canon],
                                       day_first=a.day_first))
             for canon, col in a.columns.items()}
    if s.CUSTOMER_ID in exprs:  # a placeholder id stands for "no customer"
        e = parse.customer_id_expr(_CUSTOMER_RAW, "VARCHAR", parsed=True)
        exprs[s.CUSTOMER_ID] = (f"CASE WHEN {is_placeholder(_CUSTOMER_RAW, zero_guest)} THEN NULL "
                                f"ELSE {e} END")
    if a.till_column is not None and s.ORDER_ID in exprs and not src.joined:
        # receipt 1 of till K1 and receipt 1 of till K2 are two orders
        till, o = parse.plain_text_expr(a.till_column), exprs[s.ORDER_ID]
        exprs[s.ORDER_ID] = (f"CASE WHEN {o} IS NULL OR {till} IS NULL THEN {o} "
                             f"ELSE {till} || '/' || {o} END")
    if a.discount_column is not None:
        _take_off_discount(con, src, a, exprs)
    tm = exprs.pop(s.ORDERED_TIME, None)
    if tm is not None and s.ORDERED_AT in exprs:
        raw = parse.plain_text_expr(a.columns[s.ORDERED_TIME])
        exprs[s.ORDERED_AT] = (
            f"CASE WHEN {raw} IS NULL THEN date_trunc('day', {exprs[s.ORDERED_AT]}) "
            f"ELSE CAST({exprs[s.ORDERED_AT]} AS DATE) + {tm} END")
    return exprs


def _take_off_discount(con: duckdb.DuckDBPyConnection, src: Source, a: Adapter,
                       exprs: dict[str, str]) -> None:
    """The line's own discount (``a.discount_column``, written positive or negative) taken
    off its value in ``exprs``: a line total loses it (a return's total, negative, shrinks
    towards 0 by it), a unit price loses it over the units."""
    assert a.discount_column is not None  # noqa: S101 (checked by the caller)
    col = a.discount_column
    d = f"coalesce(abs({parse.number_expr(con, src.view, col, src.types[col])}), 0)"
    if s.AMOUNT in exprs:
        v = exprs[s.AMOUNT]
        exprs[s.AMOUNT] = f"(({v}) - sign({v}) * {d})"
    elif s.UNIT_PRICE in exprs and s.QUANTITY in exprs:
        p, q = exprs[s.UNIT_PRICE], exprs[s.QUANTITY]
        exprs[s.UNIT_PRICE] = (f"CASE WHEN coalesce({q}, 0) = 0 THEN {p} "
                               f"ELSE ({p}) - {d} / abs({q}) END")


def stage(con: duckdb.DuckDBPyConnection, src: Source, a: Adapter, *, table: str,
          load_id: int, check_store: bool, latest: datetime | None = None) -> dict[str, Any]:
    """Create temp table ``table`` with parsed canonical columns and the quarantine rule per row;
    return the data-quality report. Raises :class:`DataError` if a column is mostly unparseable.
    ``latest``: lines dated after it are ``future_date`` (the load time plus a day: a sale
    cannot be dated after its export; one mistyped 2099 would otherwise become the store's
    last day, the default as_of of every model)."""
    zero_guest, zero_note = zero_is_guest(con, src, a)
    exprs = _parsed_columns(con, src, a, zero_guest=zero_guest)
    zeros_note = None
    if check_store and s.CUSTOMER_ID in exprs:  # a later export saved by a spreadsheet
        exprs[s.CUSTOMER_ID], zeros_note = zeros.sales_as_stored(
            con, _with_customer_raw(src, a), exprs[s.CUSTOMER_ID], a.columns[s.CUSTOMER_ID],
            f"{table}_zeros")
    raw_cols = [parse.q(h) for h in src.headers]
    dedupe = "exact_duplicate" not in a.rules_off
    if dedupe:
        # rows repeating an earlier row: one hash aggregate over the raw columns, keeping every
        # row number of a group but its first (cheaper than a window over 10M rows)
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE {table}_dups AS
            SELECT unnest(list_sort(list({ROW}))[2:]) AS {ROW}
            FROM {src.view} GROUP BY {', '.join(raw_cols)} HAVING count(*) > 1""")
        dup = (f"CASE WHEN {ROW} IN (SELECT {ROW} FROM {table}_dups) THEN 2 ELSE 1 END")
    else:
        dup = "1"
    if a.line_column is not None:
        # an order's line repeated under its own line number with the same item fields: a
        # join with a table of several rows per order (payments) repeated it (__dup = 3)
        same = [parse.q(h) for h in dict.fromkeys(
            (*a.columns.values(), *a.cost_columns.values(), a.line_column))]
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE {table}_lines AS
            SELECT unnest(list_sort(list({ROW}))[2:]) AS {ROW}
            FROM {src.view}
            WHERE {parse.plain_text_expr(a.line_column)} IS NOT NULL
              AND {parse.plain_text_expr(a.columns[s.ORDER_ID])} IS NOT NULL
            GROUP BY {', '.join(same)} HAVING count(*) > 1""")
        dup = (f"CASE WHEN {dup} = 2 THEN 2 WHEN {ROW} IN (SELECT {ROW} FROM {table}_lines) "
               "THEN 3 ELSE 1 END")
    has = ", ".join(
        f"({parse.plain_text_expr(col)} IS NOT NULL) AS \"__has_{canon}\""
        for canon, col in a.columns.items()
    )
    # cells holding a spreadsheet's error value, read as empty: one bit per text column, for
    # the report (:func:`_error_counts`)
    texts = [c for c, col in a.columns.items() if parse.is_text(src.types.get(col, ""))]
    if texts:
        bits = " + ".join(
            f"CASE WHEN {parse.error_cell(a.columns[c])} THEN {1 << i} ELSE 0 END"
            for i, c in enumerate(texts))
        has += f", CAST({bits} AS INTEGER) AS __errors"
    first = ", ".join(f"{e} AS {c}" for c, e in exprs.items())
    # second pass: derived columns and the unit price from a line total
    sel: dict[str, str] = {}
    for c in s.TRANSACTION_COLUMNS:
        if c in exprs and c != s.AMOUNT:
            sel[c] = c
        elif c in a.derived:
            sel[c] = a.derived[c].format(customer_id=s.CUSTOMER_ID, source_row=ROW,
                                         ordered_at=s.ORDERED_AT, description=s.DESCRIPTION)
        elif c not in (s.AMOUNT, s.UNIT_PRICE):
            sel[c] = "CAST(NULL AS VARCHAR)"
    if s.AMOUNT in exprs:
        sel[s.AMOUNT] = s.AMOUNT
    if a.amount_given and s.QUANTITY not in exprs:  # one unit per line: the price is the total
        sel[s.UNIT_PRICE] = f"abs({s.AMOUNT})"
    elif a.amount_given:
        sel[s.UNIT_PRICE] = (f"CASE WHEN {s.QUANTITY} = 0 OR {s.QUANTITY} IS NULL THEN {s.AMOUNT}"
                             f" ELSE {s.AMOUNT} / {s.QUANTITY} END")
    else:
        sel[s.UNIT_PRICE] = s.UNIT_PRICE
    second = ", ".join(f"{e} AS {c}" for c, e in sel.items())
    cancel = (a.cancellation_sql or "FALSE").format(order_id=s.ORDER_ID)
    discount = DISCOUNT_LINE_SQL.format(product_id=s.PRODUCT_ID, description=s.DESCRIPTION)
    nonprod = "(" + (a.non_product_sql or "FALSE").format(
        product_id=s.PRODUCT_ID, description=s.DESCRIPTION) + f" OR {discount})"
    keep_zero = "TRUE" if a.keep_zero_price else "FALSE"
    future = (f"{s.ORDERED_AT} > TIMESTAMP '{latest:%Y-%m-%d %H:%M:%S}'" if latest is not None
              else "FALSE")
    exists = "FALSE"
    span = _date_span(con, src, a, exprs) if check_store else None
    if span is not None:
        # a stored line can repeat this file's only within the file's dates: the store's scan
        # reads those row groups alone, and the join's table holds their lines, not the store's
        t = s.T_TRANSACTIONS
        exists = (f"EXISTS (SELECT 1 FROM {t} WHERE {t}.{s.ORDERED_AT} BETWEEN {span} "
                  f"AND {t}.{s.ORDER_ID} = p.{s.ORDER_ID} "
                  f"AND {t}.{s.PRODUCT_ID} = p.{s.PRODUCT_ID} "
                  f"AND {t}.{s.ORDERED_AT} = p.{s.ORDERED_AT} "
                  f"AND {t}.{s.QUANTITY} = p.{s.QUANTITY} "
                  f"AND {t}.{s.UNIT_PRICE} = p.{s.UNIT_PRICE} "
                  f"AND {t}.{s.CUSTOMER_ID} IS NOT DISTINCT FROM p.{s.CUSTOMER_ID})")
    rule = f"""CASE
        WHEN __dup = 2 THEN 'exact_duplicate'
        WHEN __dup = 3 THEN 'repeated_line'
        WHEN __header THEN 'repeated_header'
        WHEN {units_row(src)} THEN 'units_line'
        WHEN {is_totals_row(src)} THEN 'totals_row'
        WHEN __heading THEN 'group_heading'
        WHEN NOT __found THEN 'order_not_found'
        WHEN __status_cancelled THEN 'cancelled_order'
        WHEN __offer THEN 'offer'
        WHEN __not_purchase THEN 'not_a_purchase'
        WHEN {s.ORDER_ID} IS NULL THEN 'missing_order_id'
        WHEN {s.PRODUCT_ID} IS NULL THEN 'missing_product_id'
        WHEN {s.ORDERED_AT} IS NULL OR {s.ORDERED_AT} < TIMESTAMP '1900-01-01'
             OR {s.ORDERED_AT} >= TIMESTAMP '2200-01-01' THEN 'unparseable_date'
        WHEN {future} THEN 'future_date'
        WHEN {s.QUANTITY} IS NULL THEN 'unparseable_quantity'
        WHEN {s.UNIT_PRICE} IS NULL OR NOT isfinite({s.UNIT_PRICE}) THEN 'unparseable_price'
        WHEN {s.QUANTITY} = 0 THEN 'zero_quantity'
        WHEN NOT isfinite({s.QUANTITY}) OR abs({s.QUANTITY}) > {MAX_ABS_QUANTITY}
             THEN 'impossible_quantity'
        WHEN ({s.UNIT_PRICE} < 0 AND NOT coalesce({discount}, FALSE))
             OR ({s.UNIT_PRICE} = 0 AND NOT {keep_zero}) THEN 'non_positive_price'
        WHEN {exists} THEN 'already_loaded'
    END"""
    header = repeated_header(src, a)
    has_cols = ", ".join([f'"__has_{c}"' for c in a.columns] + ["__errors"] * bool(texts))
    costs = "".join(f", {parse.number_expr(con, src.view, col, src.types[col])} AS __{kind}"
                    for kind, col in a.cost_columns.items())
    cost_cols = "".join(f", __{kind}" for kind in a.cost_columns)
    found = FOUND if src.joined else "TRUE"
    unsold = "|".join((CANCELLED_STATUS, *[OPEN_PAYMENT] * a.payment_status,
                       *[UNAPPROVED_INVOICE] * a.invoice_status))
    status = (f"regexp_matches(lower({parse.plain_text_expr(a.status_column)}), "
              f"'{unsold}')" if a.status_column else "FALSE")
    if a.void_column:  # Toast's 'Void?' = true, a till's 'Storno' = Ja
        status = (f"({status} OR lower({parse.plain_text_expr(a.void_column)}) IN "
                  f"({', '.join(repr(v) for v in VOID_SET)}))")
    no_status = (f"{parse.plain_text_expr(a.status_column)} IS NULL" if a.status_column
                 else "FALSE")
    offer, offer_note = offer_documents(con, src, a)
    not_purchase = (f"regexp_matches(lower({parse.plain_text_expr(a.event_column)}), "
                    f"'{NOT_A_PURCHASE_EVENT}')" if a.event_column else "FALSE")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {table} AS
        WITH r AS (SELECT {ROW}, {dup} AS __dup, {found} AS __found,
                          coalesce({status}, FALSE) AS __status_cancelled,
                          {no_status} AS __no_status,
                          coalesce({not_purchase}, FALSE) AS __not_purchase,
                          {header} AS __header, {total_label(a)} AS __total_label,
                          {heading_row(src.group, src.headers)} AS __heading,
                          {offer} AS __offer,
                          {first}, {has}
                          {costs}
                   FROM {_with_customer_raw(src, a)}),
        p AS (SELECT {ROW}, __dup, __found, __status_cancelled, __no_status, __not_purchase,
                     __header, __total_label, __heading, __offer,
                     {second},
                     {has_cols}
                     {cost_cols} FROM r)
        SELECT p.*,
            {rule} AS __rule,
            coalesce({cancel}, FALSE) AS __cancel,
            coalesce({nonprod}, FALSE) AS __nonprod
        FROM p
    """)
    filled = continuation_lines(con, a, table, rule)
    filled += fill_from_order(con, a, table, rule) if s.ORDER_ID in a.columns else []
    filled += product_from_description(con, a, table, rule)
    filled += one_customer(con, a, table, rule)
    if s.ORDER_ID in a.columns:
        filled += split_reused_orders(con, table, rule)
    filled += negative_totals(con, a, table, rule)
    filled += credit_documents(con, src, a, table, rule)
    filled += refunded_orders(con, src, a, table, rule)
    if s.ORDER_ID in a.columns:
        order_summaries(con, table)
    _check_types(con, src, a, table)
    _check_line_totals(con, src, a, table)
    report = _report(con, src, a, table)
    if "repeated_line" in report["rules"]:
        report["assumptions"].append(repeated_lines_note(a, report))
    cust = a.columns.get(s.CUSTOMER_ID)
    used = {**a.columns, **a.cost_columns,
            **({"the order status": a.status_column} if a.status_column else {}),
            **({"the void flag": a.void_column} if a.void_column else {}),
            **({"the line's discount": a.discount_column} if a.discount_column else {})}
    report["assumptions"] += (duplicate_note(src, used) + offer_note + filled
                              + unix_times(con, src, a) + utc_offsets(con, src, a)
                              + units_written(con, src, a)
                              + spreadsheet_errors(con, src, used, _error_counts(
                                  con, table, [a.columns[c] for c in texts]))
                              + placeholder_customers(con, src, a, table, zero_guest)
                              + zero_note + ([zeros_note] if zeros_note else [])
                              + order_adjustments(con, src, a, table)
                              + (corrections(con, table, load_id) if check_store else [])
                              + unknown_values(con, src, a, table)
                              + (parse.email_case_note(con, src.view, cust, src.types[cust])
                                 if cust else []))
    return report


def _error_counts(con: duckdb.DuckDBPyConnection, table: str, cols: list[str]
                  ) -> dict[str, int]:
    """Per text column read (in the order of the staged ``__errors`` bits), the staged lines
    whose cell holds a spreadsheet's error value."""
    if not cols:
        return {}
    row = con.execute("SELECT " + ", ".join(
        f"count(*) FILTER (WHERE __errors & {1 << i} <> 0)" for i in range(len(cols)))
        + f" FROM {table} WHERE __errors <> 0").fetchall()[0]
    return dict(zip(cols, (int(n) for n in row), strict=True))


def _date_span(con: duckdb.DuckDBPyConnection, src: Source, a: Adapter,
               exprs: dict[str, str]) -> str | None:
    """``TIMESTAMP 'first' AND TIMESTAMP 'last'``: the span of the file's parsed order times,
    or None when it has none."""
    if s.ORDERED_AT not in exprs:
        return None
    lo, hi = con.execute(f"SELECT CAST(min(e) AS TIMESTAMP), CAST(max(e) AS TIMESTAMP) FROM "
                         f"(SELECT {exprs[s.ORDERED_AT]} AS e FROM {_with_customer_raw(src, a)})"
                         ).fetchall()[0]
    if lo is None:
        return None
    return f"TIMESTAMP '{lo:%Y-%m-%d %H:%M:%S.%f}' AND TIMESTAMP '{hi:%Y-%m-%d %H:%M:%S.%f}'"


def _with_customer_raw(src: Source, a: Adapter) -> str:
    """The source view with the customer id parsed once (column :data:`_CUSTOMER_RAW`)."""
    col = a.columns.get(s.CUSTOMER_ID)
    if col is None:
        return src.view
    raw = parse.text_expr(col, src.types[col])
    if a.customer_fallback is not None:  # a line without an e-mail: the account's name
        name = a.customer_fallback
        raw = f"coalesce(nullif(trim({raw}), ''), {parse.text_expr(name, src.types[name])})"
    return f"(SELECT *, {raw} AS {_CUSTOMER_RAW} FROM {src.view}) AS {src.view}"


def _check_line_totals(con: duckdb.DuckDBPyConnection, src: Source, a: Adapter, table: str
                       ) -> None:
    """A line total (``amount``) named like an order's total and the same on every line of
    most orders with several products is the order's total repeated on each line (web-shop
    exports): summing it would count an order's revenue once per line. That is one clear
    error, not a silent overcount."""
    if (not a.amount_given or s.ORDER_ID not in a.columns or s.AMOUNT in a.mapped
            or normalise(a.columns[s.AMOUNT]) not in {*ORDER_TOTAL_NAMES, "total", "subtotal"}):
        return  # a column named as a line total is one (a one-price shop's lines are equal)
    multi, same = con.execute(f"""
        SELECT count(*), count(*) FILTER (WHERE lo = hi AND lines > 1 AND kinds > 1)
        FROM (SELECT {s.ORDER_ID}, count(*) AS lines, min({s.AMOUNT}) AS lo,
                     max({s.AMOUNT}) AS hi, count(DISTINCT {s.PRODUCT_ID}) AS kinds
              FROM {table} WHERE __rule IS NULL AND {s.ORDER_ID} IS NOT NULL
              GROUP BY 1 HAVING count(*) > 1 AND count(DISTINCT {s.PRODUCT_ID}) > 1)
        """).fetchall()[0]
    if multi >= MIN_ORDERS_FOR_TOTALS_CHECK and same >= REPEATED_TOTAL_SHARE * multi:
        col = a.columns[s.AMOUNT]
        raise DataError(
            f"{src.path}: column {col!r} (-> {s.AMOUNT}) holds the same value on every line of "
            f"{same:,} of the {multi:,} orders with several products: it is the order's total "
            "repeated on each line, not the line's total, and summing it would count each "
            "order once per line. Map the price per item with --map unit_price=<column> (or "
            "the line total with --map amount=<column>)")


def _check_types(con: duckdb.DuckDBPyConnection, src: Source, a: Adapter, table: str) -> None:
    checks = [c for c in a.columns if _KIND_OF[c] in ("timestamp", "number")]
    checks += [c for c in (s.ORDER_ID, s.PRODUCT_ID) if c in a.columns]
    if s.ORDERED_TIME in a.columns:  # folded into ordered_at: checked on the source itself
        col = a.columns[s.ORDERED_TIME]
        tm = parse.column_expr(con, src.view, col, src.types[col], "time")
        raw = parse.plain_text_expr(col)
        nonempty, bad, ex = con.execute(
            f"SELECT count({raw}), count({raw}) FILTER (WHERE {tm} IS NULL), "
            f"any_value({raw}) FILTER (WHERE {tm} IS NULL) FROM {src.view}").fetchall()[0]
        if nonempty and bad / nonempty > MAX_BAD_SHARE:
            raise DataError(
                f"{src.path}: column {col!r} (-> time of {s.ORDERED_AT}): {bad:,} of "
                f"{nonempty:,} values ({bad / nonempty:.0%}) cannot be read as a time of day, "
                f"e.g. {ex!r}; fix the file or map the right column with "
                f"--map {s.ORDERED_TIME}=<column>")
    if not checks:
        return
    sel = ", ".join(
        f'count(*) FILTER (WHERE "__has_{c}"), '
        f'count(*) FILTER (WHERE "__has_{c}" AND {c} IS NULL)'
        for c in checks
    )
    row = con.execute(f"SELECT {sel} FROM {table}").fetchall()[0]
    for i, c in enumerate(checks):
        nonempty, bad = row[2 * i], row[2 * i + 1]
        col = a.columns[c]
        if c in (s.ORDER_ID, s.PRODUCT_ID) and nonempty == 0:
            raise DataError(
                f"{src.path}: column {col!r} (-> {c}) is empty in all {src.rows:,} rows; "
                f"map another column with --map {c}=<column>"
            )
        if nonempty and bad / nonempty > MAX_BAD_SHARE:
            example = con.execute(
                f'SELECT CAST(s.{parse.q(col)} AS VARCHAR) FROM {src.view} s JOIN {table} t '
                f'USING ({ROW}) WHERE t."__has_{c}" AND t.{c} IS NULL LIMIT 1'
            ).fetchall()
            ex = example[0][0] if example else "?"
            if c == s.ORDERED_AT and a.day_one is not None:
                raise DataError(
                    f"{src.path}: column {col!r} (-> {c}): {bad:,} of {nonempty:,} values "
                    f"({bad / nonempty:.0%}) are not day numbers (whole numbers from 1), e.g. "
                    f"{ex!r}; drop --day-one if the column holds dates")
            if c == s.ORDERED_AT:
                lo, hi, n_num = con.execute(
                    f"SELECT min(v), max(v), count(v) FROM (SELECT TRY_CAST(trim(CAST("
                    f"{parse.q(col)} AS VARCHAR)) AS DOUBLE) AS v FROM {src.view})"
                ).fetchall()[0]
                day = day_number_column(src.headers)
                if day is not None and day != col:  # a panel: DAY is the date, col its time
                    raise DataError(
                        f"{src.path}: column {col!r} (-> {c}) holds numbers from {lo:g} to "
                        f"{hi:g}, not dates, and the file has a day-number column {day!r}: "
                        f"give the date of its day 1 with --day-one YYYY-MM-DD (then {day!r} "
                        f"is the date), or map the date column with --map {c}=<column>")
                if n_num == nonempty and hi is not None and hi < parse.SERIAL_MIN:
                    raise DataError(
                        f"{src.path}: column {col!r} (-> {c}) holds numbers from {lo:g} to "
                        f"{hi:g}, which look like day or week numbers, not dates; if they are "
                        f"day numbers, give the date of day 1 with --day-one YYYY-MM-DD, else "
                        f"map the date column with --map {c}=<column>")
            raise DataError(
                f"{src.path}: column {col!r} (-> {c}): {bad:,} of {nonempty:,} values "
                f"({bad / nonempty:.0%}) cannot be read as a {_KIND_OF[c]}, e.g. {ex!r}; "
                f"fix the file or map the right column with --map {c}=<column>"
            )


def _report(con: duckdb.DuckDBPyConnection, src: Source, a: Adapter, table: str
            ) -> dict[str, Any]:
    amt = f"coalesce(CASE WHEN isfinite({s.QUANTITY} * {s.UNIT_PRICE}) " \
          f"THEN {s.QUANTITY} * {s.UNIT_PRICE} END, 0)"
    ok = "__rule IS NULL"
    sale = ("(__rule IS NULL OR __rule NOT IN ("
            + ", ".join(quarantine.sql_str(r) for r in NOT_A_SALE_RULES) + "))")
    dated = f"({sale}) AND (__rule IS NULL OR __rule NOT IN ('unparseable_date', 'future_date'))"
    r = con.execute(f"""
        SELECT count(*), count(*) FILTER (WHERE {ok}),
            count(DISTINCT {s.CUSTOMER_ID}) FILTER (WHERE {sale}),
            count(DISTINCT {s.CUSTOMER_ID}) FILTER (WHERE {ok}),
            count(DISTINCT {s.CUSTOMER_ID}) FILTER (WHERE {ok} AND {s.QUANTITY} > 0),
            count(*) FILTER (WHERE {s.CUSTOMER_ID} IS NULL),
            count(*) FILTER (WHERE __cancel),
            count(*) FILTER (WHERE __dup = 2),
            count(*) FILTER (WHERE {s.QUANTITY} < 0),
            count(*) FILTER (WHERE {s.UNIT_PRICE} = 0),
            count(*) FILTER (WHERE __nonprod),
            min({s.ORDERED_AT}) FILTER (WHERE {dated}),
            max({s.ORDERED_AT}) FILTER (WHERE {dated}),
            sum({amt}) FILTER (WHERE {sale}), sum(abs({amt})) FILTER (WHERE {sale}),
            sum({amt}) FILTER (WHERE {ok}),
            count(DISTINCT {s.ORDER_ID}) FILTER (WHERE {sale}),
            count(DISTINCT {s.ORDER_ID}) FILTER (WHERE {ok}),
            count(DISTINCT {s.PRODUCT_ID}) FILTER (WHERE {sale}),
            count(*) FILTER (WHERE {ok} AND __cancel),
            count(*) FILTER (WHERE {ok} AND NOT __cancel AND __nonprod),
            count(*) FILTER (WHERE {ok} AND NOT __cancel AND NOT __nonprod AND {s.QUANTITY} < 0),
            count(*) FILTER (WHERE {ok} AND {s.CUSTOMER_ID} IS NULL)
        FROM {table}
    """).fetchall()[0]
    (rows, loaded, cust_in_file, customers, cust_purch, no_cust, cancel, dups, neg, zero_price,
     nonprod, first, last, revenue, abs_revenue, revenue_loaded, orders, orders_loaded,
     products,
     l_cancel, l_nonprod, l_return, l_guest) = r
    per_rule = con.execute(f"""
        SELECT __rule, count(*), sum({amt}), sum(abs({amt})) FROM {table}
        WHERE __rule IS NOT NULL GROUP BY __rule
    """).fetchall()
    rules: dict[str, dict[str, Any]] = {}
    for name, n, rev, absrev in sorted(per_rule, key=lambda x: s.QUARANTINE_RULES.index(x[0])):
        if name in NO_VALUE_RULES:  # no share of value rather than a misleading 0%
            rev = absrev = None
        rules[name] = _rule_entry(name, n, rows, rev, absrev, abs_revenue)
    for name, n in (("cancellation", l_cancel), ("return", l_return),
                    ("non_product", l_nonprod), ("guest", l_guest)):
        rules[name] = _rule_entry(name, n, rows, None, None, abs_revenue)
    for name, why in a.rules_off.items():
        rules.setdefault(name, {"rows": 0, "action": "off", "reason": why})
    if a.keep_zero_price and "non_positive_price" in rules:
        rules["non_positive_price"]["note"] = f"zero prices kept: {a.keep_zero_price}"
    quarantined = rows - loaded
    assert loaded + quarantined == rows == src.rows, "ingest lost rows"  # noqa: S101
    return {
        "file": src.label, "sha256": src.sha256, "format": a.name,
        "columns": dict(a.columns), "assumptions": [*src.notes, *a.assumptions],
        "rows_read": int(rows), "rows_loaded": int(loaded), "rows_quarantined": int(quarantined),
        "rules": {k: v["rows"] for k, v in rules.items() if v.get("action") != "off"},
        "rule_details": rules,
        # customers with a loaded line (one whose every line was quarantined is none), and
        # those seen on the file's sale lines, quarantined ones included
        "customers": int(customers), "customers_with_purchases": int(cust_purch),
        "customers_in_file": int(cust_in_file),
        "orders": int(orders), "orders_loaded": int(orders_loaded),
        "products": int(products),
        "first_date": first.isoformat() if first is not None else None,
        "last_date": last.isoformat() if last is not None else None,
        "revenue_read": round(float(revenue or 0), 2),
        "revenue_loaded": round(float(revenue_loaded or 0), 2),
        "profile": {
            "lines_without_customer": int(no_cust), "cancellation_lines": int(cancel),
            "duplicate_rows": int(dups), "negative_quantity_lines": int(neg),
            "zero_price_lines": int(zero_price), "non_product_lines": int(nonprod),
        },
    }


def _rule_entry(name: str, n: int, rows: int, rev: float | None, absrev: float | None,
                abs_total: float | None) -> dict[str, Any]:
    rule = s.RULES_BY_NAME[name]
    e: dict[str, Any] = {"rows": int(n), "share_rows": round(n / rows, 6) if rows else 0.0,
                         "action": rule.action, "reason": rule.reason}
    if rev is not None:
        e["revenue"] = round(float(rev), 2)
        e["share_revenue"] = round(float(absrev) / abs_total, 6) if abs_total else 0.0
    return e


def write(con: duckdb.DuckDBPyConnection, src: Source, a: Adapter, table: str,
          load_id: int) -> None:
    """Insert the staged rows into transactions/quarantine (caller holds the transaction)."""
    kind = (f"CASE WHEN __cancel THEN 'cancellation' WHEN __nonprod THEN 'non_product' "
            f"WHEN {s.QUANTITY} < 0 THEN 'return' ELSE 'sale' END")
    cols = [c for c in s.TRANSACTION_COLUMNS if c != s.AMOUNT]
    con.execute(f"""
        INSERT INTO {s.T_TRANSACTIONS} BY NAME
        SELECT {', '.join(cols)}, {s.QUANTITY} * {s.UNIT_PRICE} AS {s.AMOUNT},
            {kind} AS {s.LINE_KIND}, {s.CUSTOMER_ID} IS NULL AS {s.IS_GUEST},
            {load_id} AS {s.LOAD_ID}, {ROW} AS {s.SOURCE_ROW}
        FROM {table} WHERE __rule IS NULL
    """)
    quarantine.insert(con, src, table, load_id, s.T_TRANSACTIONS,
                      quarantine.reason_case({r.name: r.reason for r in s.RULES}))


#: margin rates outside this range are data errors (a profit column in another currency...),
#: not margins: those products keep no derived margin
_MARGIN_RANGE = (-1.0, 1.0)


def derive_product_margins(con: duckdb.DuckDBPyConnection, a: Adapter, table: str,
                           load_id: int) -> tuple[int, str | None]:
    """Product margin rates from the file's line-level profit or cost (``a.cost_columns``),
    over its loaded sale lines, written to ``products`` for products that have no unit cost
    or margin there (a products file stays the truth). Returns how many products got one,
    and a note when the column was not used: a "cost" equal to the sale on (nearly) every
    line is no cost (exploratory report 6b, H8: Kaggle's "Supermarket sales" has a `cogs`
    column equal to the pre-tax sale, which gave every product a 0% margin, stored as float
    noise of +-1e-17)."""
    amount = f"({s.QUANTITY} * {s.UNIT_PRICE})"
    profit = {"line_profit": "__line_profit",
              "line_cost": f"{amount} - __line_cost",
              "unit_cost": f"{amount} - __unit_cost * {s.QUANTITY}"}[next(iter(a.cost_columns))]
    lines, zero = con.execute(f"""
        SELECT count(*), count(*) FILTER (WHERE abs(p) <= 1e-6 * abs(v))
        FROM (SELECT {amount} AS v, {profit} AS p FROM {table}
              WHERE __rule IS NULL AND NOT __cancel AND NOT __nonprod AND {s.QUANTITY} > 0)
        WHERE p IS NOT NULL AND isfinite(p) AND v > 0""").fetchall()[0]
    if lines and zero >= 0.99 * lines:
        col = next(iter(a.cost_columns.values()))
        return 0, (f"the column {col!r} leaves no profit on {zero:,} of {lines:,} sale lines "
                   "(cost = sale), so it is not a cost: no product margins were derived from "
                   "it, and plans keep their assumed margin rate; name the real cost column "
                   "with --map if the file has one")
    lo, hi = _MARGIN_RANGE
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE __margins AS
        SELECT {s.PRODUCT_ID}, round(sum(p) / sum(v), 6) AS m, mode({s.CATEGORY}) AS c,
               arg_max({s.DESCRIPTION}, {ROW}) AS d, median({s.UNIT_PRICE}) AS pr
        FROM (SELECT {s.PRODUCT_ID}, {s.CATEGORY}, {s.DESCRIPTION}, {s.UNIT_PRICE}, {ROW},
                     {amount} AS v, {profit} AS p
              FROM {table}
              WHERE __rule IS NULL AND NOT __cancel AND NOT __nonprod AND {s.QUANTITY} > 0)
        WHERE p IS NOT NULL AND isfinite(p)
        GROUP BY 1 HAVING sum(v) > 0 AND sum(p) / sum(v) BETWEEN {lo} AND {hi}""")
    t = s.T_PRODUCTS
    # known products without a cost get the margin; unknown ones are added with what the
    # lines say about them
    con.execute(f"""
        UPDATE {t} SET {s.MARGIN} = m.m FROM __margins m
        WHERE {t}.{s.PRODUCT_ID} = m.{s.PRODUCT_ID}
          AND {t}.{s.UNIT_COST} IS NULL AND {t}.{s.MARGIN} IS NULL""")
    con.execute(f"""
        INSERT INTO {t} ({s.PRODUCT_ID}, {s.CATEGORY}, {s.DESCRIPTION}, {s.PRICE}, {s.MARGIN},
                         {s.LOAD_ID})
        SELECT {s.PRODUCT_ID}, c, d, pr, m, {load_id} FROM __margins
        WHERE {s.PRODUCT_ID} NOT IN (SELECT {s.PRODUCT_ID} FROM {t})""")
    n = con.execute("SELECT count(*) FROM __margins").fetchall()[0][0]
    con.execute("DROP TABLE __margins")
    return int(n), None
