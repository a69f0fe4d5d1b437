"""Source formats -> canonical columns. The only module where source headers appear.

An :class:`Adapter` says, for one source format, which source column feeds each canonical column
(or a SQL expression when the source has no such column), how to recognise cancellations and
non-product lines, and which cleaning rules are switched off for that format, with the reason.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from loyalist import schema as s
from loyalist.errors import DataError


@dataclass(frozen=True)
class Adapter:
    name: str
    #: canonical column -> source column (as in the file)
    columns: Mapping[str, str]
    #: canonical column -> SQL expression over *canonical* parsed columns (computed after parsing)
    derived: Mapping[str, str] = field(default_factory=dict)
    #: SQL predicate over the raw order id marking a cancelled order line
    cancellation_sql: str | None = None
    #: SQL predicate over raw product id / description marking postage, fees, adjustments...
    non_product_sql: str | None = None
    #: rules that do not apply to this format -> why
    rules_off: Mapping[str, str] = field(default_factory=dict)
    #: the source gives the line total (amount) instead of a unit price
    amount_given: bool = False
    #: why a zero price is a real purchase in this format (empty: zero prices are quarantined)
    keep_zero_price: str = ""
    #: what was assumed about this file, stated in the quality report
    assumptions: tuple[str, ...] = ()


# --- UCI Online Retail (2010-2011) and Online Retail II: both column spellings ----------------
_OR_NON_PRODUCT_CODES = (
    "POST", "DOT", "M", "m", "C2", "D", "S", "B", "BANK CHARGES", "AMAZONFEE", "CRUK", "PADS",
    "ADJUST", "ADJUST2", "TEST001", "TEST002",
)
_OR_NON_PRODUCT = (
    "({product_id} IN (" + ", ".join(f"'{c}'" for c in _OR_NON_PRODUCT_CODES) + ")"
    " OR starts_with(lower({product_id}), 'gift_0001_')"
    " OR starts_with(upper({product_id}), 'DCGS'))"
)


def _online_retail(invoice: str, price: str, customer: str) -> Adapter:
    return Adapter(
        name="online-retail",
        columns={
            s.ORDER_ID: invoice,
            s.PRODUCT_ID: "StockCode",
            s.DESCRIPTION: "Description",
            s.QUANTITY: "Quantity",
            s.ORDERED_AT: "InvoiceDate",
            s.UNIT_PRICE: price,
            s.CUSTOMER_ID: customer,
            s.COUNTRY: "Country",
        },
        cancellation_sql="starts_with(upper({order_id}), 'C')",
        non_product_sql=_OR_NON_PRODUCT,
    )


ONLINE_RETAIL_II = _online_retail("Invoice", "Price", "Customer ID")
ONLINE_RETAIL = _online_retail("InvoiceNo", "UnitPrice", "CustomerID")

# --- CDNOW (Fader & Hardie): customer_id, date, quantity, amount (+ sample_id) -----------------
CDNOW = Adapter(
    name="cdnow",
    columns={
        s.CUSTOMER_ID: "customer_id",
        s.ORDERED_AT: "date",
        s.QUANTITY: "quantity",
        s.AMOUNT: "amount",
    },
    derived={
        # one source row = one purchase record; CDNOW has no order or product ids
        s.ORDER_ID: "'cdnow-' || {customer_id} || '-' || CAST({source_row} AS VARCHAR)",
        s.PRODUCT_ID: "'cd'",
    },
    amount_given=True,
    rules_off={
        "exact_duplicate": "CDNOW rows carry no order id; identical rows are separate purchase "
        "records in the published data (its published totals include them)",
    },
    keep_zero_price="a $0 CDNOW record is a recorded purchase in the published data "
    "(the BG/NBD literature counts it)",
)

# --- generic: canonical names or common synonyms, overridable with --map ----------------------
#: the product id of every line of a file without product lines (an order-level export)
NO_PRODUCT = "(no product detail)"
#: canonical column -> the names it is found under (lower-cased, non-alphanumerics removed),
#: tried in this order
SYNONYMS_BY_COLUMN: dict[str, tuple[str, ...]] = {
    s.CUSTOMER_ID: ("customerid", "customer", "clientid", "client", "memberid", "member",
                    "userid", "loyaltyid", "cardid", "customerno", "customernumber",
                    "customeremail", "email", "emailaddress"),
    s.ORDER_ID: ("orderid", "order", "invoice", "invoiceno", "invoiceid", "receipt",
                 "receiptid", "receiptno", "transactionid", "ticketid", "basketid", "orderno",
                 "ordernumber", "billno"),
    s.ORDERED_AT: ("orderedat", "orderdate", "date", "datetime", "timestamp", "invoicedate",
                   "transactiondate", "purchasedate", "saledate", "createdat"),
    # a separate time of day; a file whose only date column is called "time" uses it as the date
    s.ORDERED_TIME: ("orderedtime", "time", "ordertime", "transactiontime", "purchasetime",
                     "saletime", "invoicetime", "timeofday"),
    s.PRODUCT_ID: ("productid", "product", "sku", "stockcode", "itemid", "item", "article",
                   "articleid", "productcode", "itemcode", "ean", "upc", "barcode"),
    s.QUANTITY: ("quantity", "qty", "units", "count", "pieces", "amountunits"),
    s.UNIT_PRICE: ("unitprice", "price", "priceeach", "itemprice", "sellingprice", "unitcost"),
    s.AMOUNT: ("amount", "total", "linetotal", "sales", "revenue", "value", "netamount",
               "totalamount", "lineamount", "turnover", "ordertotal", "ordervalue",
               "ordertotalamount", "totalprice", "grandtotal", "salesamount", "netsales",
               "grosssales", "totalsales"),
    s.CATEGORY: ("category", "productcategory", "department", "family", "group", "segment"),
    s.DESCRIPTION: ("description", "productname", "itemname", "name", "title"),
    s.STORE_ID: ("storeid", "store", "shop", "shopid", "branch", "pos", "posid", "outlet"),
    s.CHANNEL: ("channel", "saleschannel"),
    s.COUNTRY: ("country", "countrycode"),
}
#: lower-cased, non-alphanumerics removed -> canonical column
SYNONYMS: dict[str, str] = {n: c for c, names in SYNONYMS_BY_COLUMN.items() for n in names}

_GENERIC_NON_PRODUCT_CODES = (
    "upper({product_id}) IN ('POST', 'POSTAGE', 'SHIPPING', 'DELIVERY', 'FEE', 'DISCOUNT')"
)
_GENERIC_NON_PRODUCT_TEXT = (
    "regexp_matches(lower(coalesce({description}, '')), "
    "'^(postage|shipping|delivery|carriage|bank charges?|manual|discount|adjust)')"
)


def normalise(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", name.lower())


def parse_map(pairs: Sequence[str]) -> dict[str, str]:
    """``["unit_price=Preis", ...]`` -> ``{"unit_price": "Preis"}``, validating canonical names."""
    out: dict[str, str] = {}
    for pair in pairs:
        if "=" not in pair:
            raise DataError(
                f"--map {pair!r}: expected canonical=source, e.g. --map customer_id='Client No'"
            )
        canon, source = (p.strip() for p in pair.split("=", 1))
        if canon not in s.MAPPABLE:
            raise DataError(
                f"--map {pair!r}: {canon!r} is not a canonical column; "
                f"use one of: {', '.join(s.MAPPABLE)}"
            )
        if not source:
            raise DataError(f"--map {pair!r}: the source column name is empty")
        out[canon] = source
    return out


def generic(headers: Sequence[str], mapping: Mapping[str, str] | None = None) -> Adapter:
    """Canonical columns found by exact name, then by synonym; ``mapping`` overrides both."""
    mapping = dict(mapping or {})
    by_norm: dict[str, str] = {}
    for h in headers:
        by_norm.setdefault(normalise(h), h)
    cols: dict[str, str] = {}
    for canon, source in mapping.items():
        if source not in headers:
            raise DataError(
                f"--map {canon}={source}: the file has no column {source!r}; "
                f"its columns are: {', '.join(headers)}"
            )
        cols[canon] = source
    used = set(cols.values())
    for h in headers:  # exact canonical names first, then synonyms
        if h in s.MAPPABLE and h not in cols and h not in used:
            cols[h] = h
            used.add(h)
    for canon, names in SYNONYMS_BY_COLUMN.items():  # per column, its synonyms in their order
        for norm in names:
            h = by_norm.get(norm)
            if h is not None and canon not in cols and h not in used:
                cols[canon] = h
                used.add(h)
    if s.ORDERED_TIME in cols and s.ORDERED_AT not in cols and s.ORDERED_TIME not in mapping:
        cols[s.ORDERED_AT] = cols.pop(s.ORDERED_TIME)  # "Time" holding whole timestamps
    amount_given = s.UNIT_PRICE not in cols and s.AMOUNT in cols
    if s.UNIT_PRICE in cols and s.AMOUNT in cols:
        # both present: the unit price is the truth, a line total column is carried as is
        cols.pop(s.AMOUNT)
    derived: dict[str, str] = {}
    assumptions: list[str] = []
    if amount_given and s.QUANTITY not in cols:
        # a receipt-style export: one line total per product line and no units
        derived[s.QUANTITY] = f"CASE WHEN {s.AMOUNT} < 0 THEN -1.0 ELSE 1.0 END"
        assumptions.append(f"no quantity column: every line counts as one unit priced at its "
                           f"line total ({cols[s.AMOUNT]!r}), and a negative total as one unit "
                           "returned; map one with --map quantity=<column> if the file has it")
    if s.ORDER_ID not in cols and s.CUSTOMER_ID in cols and s.ORDERED_AT in cols:
        # lines of one customer at one moment are one order (a guest line is its own order)
        derived[s.ORDER_ID] = ("coalesce({customer_id} || '@' || "
                               "strftime({ordered_at}, '%Y-%m-%dT%H:%M:%S'), "
                               "'row-' || CAST({source_row} AS VARCHAR))")
        when = repr(cols[s.ORDERED_AT]) + (f" + {cols[s.ORDERED_TIME]!r}"
                                           if s.ORDERED_TIME in cols else "")
        assumptions.append("no order id column: the lines of one customer with the same "
                           f"timestamp ({when}) form one order, and a line "
                           "without a customer is an order of its own; map one with "
                           "--map order_id=<column> if the file has it")
    if s.PRODUCT_ID not in cols and s.CUSTOMER_ID in cols and s.ORDERED_AT in cols:
        # an order-level export (one row per order, no product lines)
        derived[s.PRODUCT_ID] = f"'{NO_PRODUCT}'"
        assumptions.append(f"no product column: every line is recorded as the product "
                           f"{NO_PRODUCT!r}, so customer models, plans and revenue forecasts "
                           "work, but recommendations and bought-together rules have no products "
                           "to learn from; map one with --map product_id=<column> if the file "
                           "has it")
    return Adapter(
        name="generic",
        columns=cols,
        cancellation_sql=None,
        non_product_sql=(
            f"({_GENERIC_NON_PRODUCT_CODES} OR {_GENERIC_NON_PRODUCT_TEXT})"
            if s.DESCRIPTION in cols else _GENERIC_NON_PRODUCT_CODES
        ),
        amount_given=amount_given,
        derived=derived,
        assumptions=tuple(assumptions),
    )


def detect(headers: Sequence[str]) -> Adapter:
    """Pick an adapter from the file's headers (``--format auto``)."""
    h = set(headers)
    if {"Invoice", "StockCode", "InvoiceDate", "Price", "Customer ID"} <= h:
        return ONLINE_RETAIL_II
    if {"InvoiceNo", "StockCode", "InvoiceDate", "UnitPrice", "CustomerID"} <= h:
        return ONLINE_RETAIL
    if {"customer_id", "date", "quantity", "amount"} <= h and s.ORDER_ID not in h \
            and s.PRODUCT_ID not in h:
        return CDNOW
    return generic(headers)


def by_name(fmt: str, headers: Sequence[str], mapping: Mapping[str, str] | None) -> Adapter:
    if mapping and fmt not in ("auto", "generic"):
        raise DataError(f"--map works with --format generic (or auto), not --format {fmt}")
    if mapping:
        return generic(headers, mapping)
    if fmt == "auto":
        return detect(headers)
    if fmt == "online-retail":
        a = ONLINE_RETAIL_II if "Invoice" in headers else ONLINE_RETAIL
    elif fmt == "cdnow":
        a = CDNOW
    elif fmt == "generic":
        a = generic(headers)
    else:
        raise DataError(f"--format {fmt!r} is unknown; use auto, online-retail, cdnow or generic")
    missing = [src for src in a.columns.values() if src not in headers]
    if missing and fmt != "generic":
        raise DataError(
            f"--format {fmt}: the file lacks column(s) {', '.join(missing)}; "
            f"its columns are: {', '.join(headers)}"
        )
    return a


def check_required(adapter: Adapter, headers: Sequence[str], file: str) -> None:
    """Every required canonical column must come from a source column or be derived."""
    have = set(adapter.columns) | set(adapter.derived)
    missing = [c for c in s.TRANSACTION_REQUIRED if c not in have]
    if s.UNIT_PRICE in missing and adapter.amount_given:
        missing.remove(s.UNIT_PRICE)
    if s.UNIT_PRICE in missing and s.QUANTITY in missing:
        missing.remove(s.QUANTITY)  # a line total alone would do: one unit per line
    if missing:
        names = [c if c != s.UNIT_PRICE else f"{c} (or {s.AMOUNT}, the line total)"
                 for c in missing]
        raise DataError(
            f"{file}: missing required column(s) {', '.join(names)} "
            f"(format {adapter.name}); the file's columns are: {', '.join(headers)}. "
            f"Name them with --map, e.g. --map {missing[0]}=<your column>"
        )
