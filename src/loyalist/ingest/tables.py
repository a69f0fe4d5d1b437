"""Ingest of the optional tables: products, customers, promotions (exposure history), and the
merchant context: promotion catalog, competitor calendar, inventory.

Columns are found by canonical name or a common synonym (or ``--map``). Rows without their key
are quarantined (``missing_key``), exact repeats too (``exact_duplicate``), and promotions the
plan's catalog checks refuse (``invalid_promotion``). Products and customers are upserted by key
(a later file updates a record); promotion exposures are appended once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb

from loyalist import schema as s
from loyalist.errors import DataError
from loyalist.ingest import parse, quarantine, zeros
from loyalist.ingest.adapters import (
    DAY_FIRST_NAMES,
    DAY_FIRST_NOTE,
    EU_CATEGORY,
    EU_CUSTOMER,
    EU_DESCRIPTION,
    EU_PRODUCT,
    SYNONYMS_BY_COLUMN,
    generic,
    guessed_note,
    names_a_person,
    normalise,
    words,
)
from loyalist.ingest.notes import spreadsheet_errors
from loyalist.ingest.read import ROW, Source, duplicate_note, units_row


@dataclass(frozen=True)
class TableSpec:
    name: str
    kinds: Mapping[str, str]  # canonical column -> id|customer|text|number|timestamp|bool
    required: tuple[str, ...]
    key: tuple[str, ...]  # upsert key; empty = append-only, deduplicated on all columns
    synonyms: Mapping[str, str]


#: the names below that are not English (dates in such files are day first)
_EU_TABLE_NAMES: set[str] = set(DAY_FIRST_NAMES)


def _names(canon: str, names: Sequence[str], english: Sequence[str] = ()) -> dict[str, str]:
    """Synonym entries: each (normalised) name -> ``canon``; ``names`` are European-language
    names (they switch the file's ambiguous dates to day first), ``english`` English ones."""
    _EU_TABLE_NAMES.update(names)
    return dict.fromkeys((*english, *names), canon)


SPECS: dict[str, TableSpec] = {
    s.T_PRODUCTS: TableSpec(
        s.T_PRODUCTS,
        {s.PRODUCT_ID: "id", s.CATEGORY: "text", s.DESCRIPTION: "text", s.PRICE: "number",
         s.UNIT_COST: "number", s.MARGIN: "number", s.STOCK: "number"},
        (s.PRODUCT_ID,), (s.PRODUCT_ID,),
        {"sku": s.PRODUCT_ID, "stockcode": s.PRODUCT_ID, "itemid": s.PRODUCT_ID,
         "productcode": s.PRODUCT_ID, "cost": s.UNIT_COST, "listprice": s.PRICE,
         "unitprice": s.PRICE, "inventory": s.STOCK, "stocklevel": s.STOCK,
         "articleid": s.PRODUCT_ID, "article": s.PRODUCT_ID, "articleno": s.PRODUCT_ID,
         "articlenumber": s.PRODUCT_ID,
         "name": s.DESCRIPTION, "productname": s.DESCRIPTION, "prodname": s.DESCRIPTION,
         "articlename": s.DESCRIPTION, "categoryname": s.CATEGORY,
         "department": s.CATEGORY, "productcategory": s.CATEGORY,
         "producttype": s.CATEGORY, "producttypename": s.CATEGORY,
         "productgroup": s.CATEGORY, "productgroupname": s.CATEGORY,
         "departmentname": s.CATEGORY,
         **_names(s.PRODUCT_ID, EU_PRODUCT), **_names(s.DESCRIPTION, EU_DESCRIPTION),
         **_names(s.CATEGORY, EU_CATEGORY),
         **_names(s.UNIT_COST, ("einkaufspreis", "ekpreis",
                                "prixdachat", "prixachat", "preciodecoste", "preciocoste",
                                "costo", "prezzodiacquisto", "prezzoacquisto", "inkoopprijs",
                                "precodecusto", "custo", "cenazakupu"),
                  english=("costprice", "purchaseprice")),
         **_names(s.PRICE, ("preis", "verkaufspreis", "vkpreis", "prix", "prixdevente",
                            "precio", "preciodeventa", "prezzo", "prezzodivendita", "prijs",
                            "verkoopprijs", "preco", "cena")),
         **_names(s.STOCK, ("bestand", "lagerbestand", "existencias", "giacenza",
                            "voorraad", "estoque", "zapas"))},
    ),
    s.T_CUSTOMERS: TableSpec(
        s.T_CUSTOMERS,
        {s.CUSTOMER_ID: "customer", s.AGE: "number", s.GENDER: "text", s.REGION: "text",
         s.SIGNUP_AT: "timestamp", s.MARKETING_CONSENT: "bool", s.EMAIL_OPT_OUT: "bool",
         s.BIRTH_DATE: "timestamp"},
        (s.CUSTOMER_ID,), (s.CUSTOMER_ID,),
        {"customer": s.CUSTOMER_ID, "clientid": s.CUSTOMER_ID, "memberid": s.CUSTOMER_ID,
         "location": s.REGION, "city": s.REGION, "state": s.REGION, "province": s.REGION,
         "sex": s.GENDER, "signupdate": s.SIGNUP_AT,
         "joinedat": s.SIGNUP_AT, "consent": s.MARKETING_CONSENT, "optin": s.MARKETING_CONSENT,
         "optout": s.EMAIL_OPT_OUT, "birthdate": s.BIRTH_DATE, "dateofbirth": s.BIRTH_DATE,
         "dob": s.BIRTH_DATE, "birthday": s.BIRTH_DATE,
         **_names(s.CUSTOMER_ID, EU_CUSTOMER,
                  english=("customerno", "customernumber", "loyaltyid", "cardid", "userid",
                           "client", "member")),
         **_names(s.SIGNUP_AT, ("anmeldedatum", "registrierungsdatum",
                                "kundeseit", "dateinscription", "datedinscription",
                                "fechaalta", "fechadealta", "fecharegistro",
                                "dataiscrizione", "inschrijfdatum", "klantsinds",
                                "datacadastro", "dataregistracji"),
                  english=("createdat", "registeredat", "registrationdate", "membersince",
                           "customersince")),
         **_names(s.MARKETING_CONSENT, ("einwilligung",
                                        "werbeeinwilligung", "consentement", "optinnewsletter",
                                        "consentimiento", "consenso", "toestemming",
                                        "consentimento", "zgodamarketingowa"),
                  english=("acceptsmarketing", "acceptsemailmarketing", "newsletter",
                           "emailconsent", "marketingoptin", "subscribed", "emailsubscribed")),
         **_names(s.EMAIL_OPT_OUT, ("abgemeldet", "desabonne", "desinscrit", "baja",
                                    "afgemeld"),
                  english=("unsubscribed", "emailoptout", "donotcontact", "donotemail")),
         **_names(s.BIRTH_DATE, ("geburtsdatum", "geburtstag", "datedenaissance",
                                 "fechadenacimiento", "fechanacimiento", "datadinascita",
                                 "geboortedatum", "datadenascimento", "dataurodzenia")),
         **_names(s.GENDER, ("geschlecht", "sexe", "genero", "sexo", "sesso", "geslacht",
                             "plec")),
         **_names(s.REGION, ("stadt", "ort", "bundesland", "ville", "ciudad", "provincia",
                             "citta", "stad", "cidade", "miasto", "wojewodztwo")),
         **_names(s.AGE, ("alter", "edad", "eta", "leeftijd", "idade", "wiek"))},
    ),
    s.T_PROMOTIONS: TableSpec(
        s.T_PROMOTIONS,
        {s.CUSTOMER_ID: "customer", s.SENT_AT: "timestamp", s.PROMOTION: "text", s.CHANNEL: "text",
         s.COST: "number", s.REDEEMED: "bool", s.CONTROL_FOR: "text"},
        (s.CUSTOMER_ID, s.SENT_AT, s.PROMOTION), (),
        {"customer": s.CUSTOMER_ID, "sentdate": s.SENT_AT, "date": s.SENT_AT,
         "campaign": s.PROMOTION, "offer": s.PROMOTION, "treatment": s.PROMOTION,
         "contactcost": s.COST, "heldoutfrom": s.CONTROL_FOR, "holdoutfor": s.CONTROL_FOR,
         "controlgroupfor": s.CONTROL_FOR},
    ),
    s.T_CATALOG: TableSpec(
        s.T_CATALOG,
        {s.NAME: "id", s.KIND: "text", s.VALUE: "number", s.CONTACT_COST: "number",
         s.MIN_SPEND: "number", s.MAX_SPEND: "number", s.ELIGIBLE_SEGMENTS: "text",
         s.CATEGORY: "text", s.POINTS_RATE: "number"},
        (s.NAME, s.KIND), (s.NAME,),
        {"promotion": s.NAME, "offer": s.NAME, "type": s.KIND, "promotionkind": s.KIND,
         "amount": s.VALUE, "discount": s.VALUE, "contactcost": s.CONTACT_COST,
         "costpercontact": s.CONTACT_COST, "segments": s.ELIGIBLE_SEGMENTS,
         "categories": s.CATEGORY, "pointsvalue": s.POINTS_RATE,
         "pointvalue": s.POINTS_RATE},
    ),
    s.T_COMPETITORS: TableSpec(
        s.T_COMPETITORS,
        {s.COMPETITOR: "text", s.STARTS_AT: "timestamp", s.ENDS_AT: "timestamp",
         s.KIND: "text", s.VALUE: "number"},
        (s.COMPETITOR, s.STARTS_AT, s.ENDS_AT), (),
        {"start": s.STARTS_AT, "end": s.ENDS_AT, "startdate": s.STARTS_AT,
         "startsat": s.STARTS_AT, "from": s.STARTS_AT,
         "enddate": s.ENDS_AT, "endsat": s.ENDS_AT, "to": s.ENDS_AT, "percentoff": s.VALUE},
    ),
    s.T_INVENTORY: TableSpec(
        s.T_INVENTORY,
        {s.CATEGORY: "id", s.STOCK_UNITS: "number", s.WEEKLY_SALES_UNITS: "number",
         s.WEEKS_OF_COVER: "number", s.OVERSTOCKED: "bool"},
        (s.CATEGORY,), (s.CATEGORY,),
        {"stock": s.STOCK_UNITS, "units": s.STOCK_UNITS, "onhand": s.STOCK_UNITS,
         "weeklysales": s.WEEKLY_SALES_UNITS, "cover": s.WEEKS_OF_COVER},
    ),
}


#: the entity a table describes, as column names prefix it ('customer_city', 'product_name')
_PREFIXES = {s.T_CUSTOMERS: ("customer", "client", "member", "cust"),
             s.T_PRODUCTS: ("product", "item", "article")}


def _unprefixed(norm: str, table: str) -> str:
    """'customercity' -> 'city' for customers; names without the prefix as they are."""
    for p in _PREFIXES.get(table, ()):
        if norm.startswith(p) and len(norm) > len(p) and norm[len(p):] != "id":
            return norm[len(p):]
    return norm


def _sells(headers: Sequence[str]) -> bool:
    """Whether the transactions adapter finds sales lines in ``headers``: a date, a price
    (or line total), and a quantity or a product. A customer list has a date (signed up)
    and maybe a total spent, but no quantity or product."""
    cols = generic(headers).columns
    return (s.ORDERED_AT in cols and (s.UNIT_PRICE in cols or s.AMOUNT in cols)
            and (s.QUANTITY in cols or s.PRODUCT_ID in cols))


#: words of a column that describes a person or household (a demographics file: dunnhumby's
#: AGE_DESC, INCOME_DESC, MARITAL_STATUS_CODE, HOMEOWNER_DESC, KID_CATEGORY_DESC)
_PERSON_WORDS = frozenset({
    "age", "gender", "sex", "birth", "birthday", "dob", "income", "marital", "married",
    "homeowner", "kid", "kids", "child", "children", "household", "hh", "zip", "zipcode",
    "postal", "postcode", "city", "state", "country", "region", "education", "occupation",
    "email", "phone", "newsletter", "consent", "club", "loyalty", "signup", "joined"})
#: words of a column that describes a product (H&M's prod_name, product_type_name,
#: department_name, detail_desc; Instacart's product_name)
_PRODUCT_WORDS = frozenset({
    "name", "desc", "description", "title", "type", "category", "department", "brand",
    "manufacturer", "colour", "color", "size", "section", "commodity", "aisle", "garment",
    "material", "weight", "photos"})


def _keyed_list(headers: Sequence[str]) -> str | None:
    """A customer or product list that :func:`detect_table`'s names miss, by what the sales
    reader finds in it: the one key it finds (a customer such as ``household_key``, or a
    product such as ``article_id``) and no date, order, price or total, beside columns whose
    words describe a person (a demographics file) or a product (a catalogue); else None."""
    cols = generic(headers).columns
    if cols.keys() & {s.ORDERED_AT, s.ORDER_ID, s.UNIT_PRICE, s.AMOUNT, s.ORDERED_TIME}:
        return None
    for table, key, described in ((s.T_CUSTOMERS, s.CUSTOMER_ID, _PERSON_WORDS),
                                  (s.T_PRODUCTS, s.PRODUCT_ID, _PRODUCT_WORDS)):
        other = s.PRODUCT_ID if key == s.CUSTOMER_ID else s.CUSTOMER_ID
        if key in cols and other not in cols and any(
                set(words(h)) & described for h in headers if h != cols[key]):
            return table
    return None


def detect_table(headers: Sequence[str]) -> str:
    """Which canonical table a file holds, from its headers (``--table auto``)."""
    norm = {normalise(h) for h in headers}
    plain = norm | {_unprefixed(n, t) for n in norm for t in _PREFIXES}
    if {"name", "kind", "value"} <= norm:
        return s.T_CATALOG
    if "competitor" in norm and norm & {"start", "startdate", "startsat"}:
        return s.T_COMPETITORS
    if "category" in norm and norm & {"stockunits", "weeksofcover"} and "productid" not in norm:
        return s.T_INVENTORY
    if "sentat" in norm and norm & {"promotion", "campaign", "offer", "treatment"}:
        return s.T_PROMOTIONS
    has_order = bool(norm & {"orderid", *SYNONYMS_BY_COLUMN[s.ORDER_ID]})
    has_date = bool(norm & {"orderedat", *SYNONYMS_BY_COLUMN[s.ORDERED_AT]} - {"createdat"})
    has_qty = bool(norm & {"amount", *SYNONYMS_BY_COLUMN[s.QUANTITY]})
    if (has_order or has_date) and has_qty:
        return s.T_TRANSACTIONS
    if has_order and norm & (set(SYNONYMS_BY_COLUMN[s.PRODUCT_ID]) | {"productid"}):
        return s.T_TRANSACTIONS  # order lines (maybe without their orders: ingest says so)
    customer_named = bool(norm & {"customerid", *SYNONYMS_BY_COLUMN[s.CUSTOMER_ID]})
    prod = columns_for(SPECS[s.T_PRODUCTS], headers, None)
    if (("productid" in norm or s.PRODUCT_ID in prod) and not customer_named and (
            plain & {"price", "unitcost", "margin", "stock", "category", "categoryname"}
            or set(prod) & {s.PRICE, s.UNIT_COST, s.MARGIN, s.STOCK, s.CATEGORY})):
        return s.T_PRODUCTS
    if _sells(headers):
        return s.T_TRANSACTIONS  # lines found by their words (Magento's items_qty_ordered)
    cust = columns_for(SPECS[s.T_CUSTOMERS], headers, None)
    if (("customerid" in norm or s.CUSTOMER_ID in cust) and not has_order
            and not (norm & {"productid", "orderid"}) and s.PRODUCT_ID not in prod and (
            plain & {"age", "gender", "region", "signupat", "marketingconsent", "emailoptout",
                     "city", "state", "zip", "zipcode", "postcode", "country", "birthdate",
                     "dateofbirth", "dob", "sex", "consent", "optin", "optout"}
            or set(cust) - {s.CUSTOMER_ID})):
        return s.T_CUSTOMERS
    return _keyed_list(headers) or s.T_TRANSACTIONS


#: a promotion history's hold-out flag: a column saying which rows are the control group
#: (TRUE / 'control' / 'holdout' -> the row is stored as promotion 'control'), or, inverted,
#: which rows were treated. ``--map control=<column>`` names one explicitly.
CONTROL = "control"
_CONTROL_NAMES = ("control", "iscontrol", "controlgroup", "incontrol", "holdout", "isholdout",
                  "holdoutgroup", "group", "testgroup", "abgroup", "arm", "variant", "cell")
_TREATED_NAMES = ("treated", "istreated", "intreatment", "treatmentgroup")
_CONTROL_VALUES = ("control", "controlgroup", "holdout", "holdoutgroup", "ctrl", "c", "true",
                   "yes", "y", "1", "hold")
_TREATED_VALUES = ("test", "testgroup", "treatment", "treated", "target", "t", "false", "no",
                   "n", "0", "exposed", "mailed", "sent")


def _control_column(headers: Sequence[str], mapping: Mapping[str, str] | None
                    ) -> tuple[str, bool] | None:
    """(source column, True if it flags the control rows / False if it flags treated rows)."""
    if mapping and CONTROL in mapping:
        return mapping[CONTROL], True
    by_norm = {normalise(h): h for h in headers}
    for names, flags_control in ((_CONTROL_NAMES, True), (_TREATED_NAMES, False)):
        for n in names:
            if n in by_norm:
                return by_norm[n], flags_control
    return None


def _control_expr(con: duckdb.DuckDBPyConnection, src: Source, col: str, flags_control: bool
                  ) -> str:
    """SQL: TRUE on control rows, FALSE on treated rows, NULL when the value is neither."""
    dtype = src.types[col]
    if dtype.upper() == "BOOLEAN" or parse._is_numeric(dtype):
        flag = parse.bool_expr(col, dtype)
    else:
        v = f"regexp_replace(lower(trim(CAST({parse.q(col)} AS VARCHAR))), '[^0-9a-z]', '', 'g')"
        yes = ", ".join(f"'{x}'" for x in _CONTROL_VALUES)
        no = ", ".join(f"'{x}'" for x in _TREATED_VALUES)
        flag = f"(CASE WHEN {v} IN ({yes}) THEN TRUE WHEN {v} IN ({no}) THEN FALSE END)"
    return flag if flags_control else f"(NOT {flag})"


def columns_for(spec: TableSpec, headers: Sequence[str], mapping: Mapping[str, str] | None
                ) -> dict[str, str]:
    cols: dict[str, str] = {}
    for canon, source in (mapping or {}).items():
        if canon == CONTROL and spec.name == s.T_PROMOTIONS:
            if source not in headers:
                raise DataError(f"--map {canon}={source}: the file has no column {source!r}; "
                                f"its columns are: {', '.join(headers)}")
            continue
        if canon not in spec.kinds:
            raise DataError(f"--map {canon}={source}: {canon!r} is not a column of "
                            f"{spec.name}; use one of: {', '.join(spec.kinds)}")
        if source not in headers:
            raise DataError(f"--map {canon}={source}: the file has no column {source!r}; "
                            f"its columns are: {', '.join(headers)}")
        cols[canon] = source
    for h in headers:
        canon = h if h in spec.kinds else spec.synonyms.get(
            normalise(h), spec.synonyms.get(_unprefixed(normalise(h), spec.name)))
        if canon is None and normalise(h) in {normalise(k) for k in spec.kinds}:
            canon = next(k for k in spec.kinds if normalise(k) == normalise(h))
        if canon and canon not in cols and h not in cols.values():
            cols[canon] = h
    return cols


#: column names of a customer's e-mail address (normalised)
_EMAIL_NAMES = ("email", "emailaddress", "mail", "customeremail", "emailadresse", "courriel",
                "correo", "correoelectronico")


def _sold_held(con: duckdb.DuckDBPyConnection, src: Source, expr: str, column: str) -> int:
    """How many distinct values of ``expr`` over the file are among the stored sales'
    ``column`` (customer or product ids): how well a candidate key column matches the sales."""
    return int(con.execute(
        f"SELECT count(DISTINCT k) FROM (SELECT {expr} AS k FROM {src.view}) WHERE k IN "
        f"(SELECT {column} FROM {s.T_TRANSACTIONS})").fetchall()[0][0])


def customer_key(con: duckdb.DuckDBPyConnection, src: Source, cols: dict[str, str]
                 ) -> tuple[dict[str, str], str | None]:
    """The customer list's key column, keyed the way the store's sales are: a shop's customer
    export carries its own 'Customer ID' and the e-mail, while its order export names the
    customer by e-mail only; an export whose customer id is new for every order names the
    person in a column of its own. Among the found id column and any e-mail or person column
    (:func:`~loyalist.ingest.adapters.names_a_person`), the one holding
    the most of the sales lines' customers already in the store is the key, when it holds at
    least half of them and more than the found one does; a note says so."""
    found = cols.get(s.CUSTOMER_ID)
    emails = [h for h in src.headers if normalise(h) in _EMAIL_NAMES and h != found]
    # a person id beside a per-order customer id (Olist's customer_unique_id), which the
    # sales were keyed by (:mod:`loyalist.ingest.persons`)
    emails += [h for h in src.headers if names_a_person(h) and h != found and h not in emails]
    buyers = con.execute(f"SELECT count(DISTINCT {s.CUSTOMER_ID}) FROM {s.T_TRANSACTIONS} "
                         f"WHERE NOT {s.IS_GUEST}").fetchall()[0][0] if emails else 0
    if not buyers:
        return cols, None

    def matched(h: str) -> int:
        return _sold_held(con, src, parse.customer_id_expr(h, src.types[h]), s.CUSTOMER_ID)

    base = matched(found) if found else 0
    hits, best = max((matched(h), h) for h in emails)
    if hits < 0.5 * buyers or hits <= base:
        return cols, None
    return {**cols, s.CUSTOMER_ID: best}, (
        f"{s.CUSTOMER_ID} read from column {best!r}: it holds {hits:,} of the {buyers:,} "
        "customers of the sales lines" + (f" ({found!r} holds {base:,})" if found else "")
        + f"; map another with --map {s.CUSTOMER_ID}=<column> if that is wrong")


def product_key(con: duckdb.DuckDBPyConnection, src: Source, cols: dict[str, str],
                mapped: bool) -> tuple[dict[str, str], str | None]:
    """The product list's key column, keyed the way the store's sales are. A product master
    often holds several codes (H&M's ``article_id`` per colour and ``product_code`` per
    family; an ``ean`` beside a ``sku``): among the columns named like a product id, the one
    holding the most of the products already sold in the store is the key, when it holds more
    than the found one; a note says so. A key that matches none of the sold products (while
    the sales name products) gets a note too: its categories and prices would describe
    nothing that was sold."""
    found = cols.get(s.PRODUCT_ID)
    sold = int(con.execute(
        f"SELECT count(DISTINCT {s.PRODUCT_ID}) FROM {s.T_TRANSACTIONS}").fetchall()[0][0])
    if not sold or found is None:
        return cols, None
    names = set(SPECS[s.T_PRODUCTS].synonyms) | set(SYNONYMS_BY_COLUMN[s.PRODUCT_ID])
    candidates = [found] if mapped else list(dict.fromkeys(
        [found] + [h for h in src.headers
                   if h not in cols.values()
                   and (normalise(h) in names or _unprefixed(normalise(h), s.T_PRODUCTS)
                        in names)
                   and SPECS[s.T_PRODUCTS].synonyms.get(normalise(h), s.PRODUCT_ID)
                   == s.PRODUCT_ID]))

    hits = {h: _sold_held(con, src, parse.column_expr(con, src.view, h, src.types[h], "id"),
                          s.PRODUCT_ID) for h in candidates}
    best = max(candidates, key=lambda h: (hits[h], h == found))
    if hits[best] == 0:
        return cols, (
            f"none of the ids in column {found!r} is among the {sold:,} products of the sales "
            "already in the store, so these rows describe nothing that was sold; name the "
            f"column holding the sales' product ids with --map {s.PRODUCT_ID}=<column>")
    if best == found:
        return cols, None
    return {**cols, s.PRODUCT_ID: best}, (
        f"{s.PRODUCT_ID} read from column {best!r}: it holds {hits[best]:,} of the {sold:,} "
        f"products of the sales lines ({found!r} holds {hits[found]:,}); map another with "
        f"--map {s.PRODUCT_ID}=<column> if that is wrong")


def stage(con: duckdb.DuckDBPyConnection, src: Source, spec: TableSpec,
          mapping: Mapping[str, str] | None, *, table: str) -> dict[str, Any]:
    cols = columns_for(spec, src.headers, mapping)
    key_note = None
    key = {s.T_CUSTOMERS: s.CUSTOMER_ID, s.T_PROMOTIONS: s.CUSTOMER_ID,
           s.T_PRODUCTS: s.PRODUCT_ID}.get(spec.name)
    found = generic(src.headers).columns.get(key) if key is not None else None
    if key not in cols and found is not None and found not in cols.values():
        # the key as the sales reader finds it by the words of its name (household_key)
        cols[key] = found
        key_note = guessed_note(key, found, "name", ", as in sales files); map another "
                                f"with --map {key}=<column> if that is wrong")
    if spec.name == s.T_CUSTOMERS and s.CUSTOMER_ID not in (mapping or {}):
        cols, email_note = customer_key(con, src, cols)
        key_note = email_note or key_note
    if spec.name == s.T_PRODUCTS:
        cols, product_note = product_key(con, src, cols, s.PRODUCT_ID in (mapping or {}))
        key_note = product_note or key_note
    missing = [c for c in spec.required if c not in cols]
    if missing:
        raise DataError(
            f"{src.path}: table {spec.name} needs column(s) {', '.join(missing)}; the file's "
            f"columns are: {', '.join(src.headers)}. Name them with --map {missing[0]}=<column>"
        )
    day_first = any(normalise(col) in _EU_TABLE_NAMES for col in cols.values())
    exprs = {canon: parse.column_expr(con, src.view, col, src.types[col], spec.kinds[canon],
                                      day_first=day_first)
             for canon, col in cols.items()}
    notes = (list(src.notes) + ([key_note] if key_note else []) + duplicate_note(src, cols)
             + spreadsheet_errors(con, src, cols))
    if key == s.CUSTOMER_ID and s.CUSTOMER_ID in cols:
        exprs[s.CUSTOMER_ID], zeros_note = zeros.as_in_sales(
            con, src.view, exprs[s.CUSTOMER_ID], cols[s.CUSTOMER_ID], f"{table}_zeros")
        notes += [zeros_note] if zeros_note else []
    if spec.kinds.get(s.CUSTOMER_ID) == "customer" and s.CUSTOMER_ID in cols:
        col = cols[s.CUSTOMER_ID]
        notes += parse.email_case_note(con, src.view, col, src.types[col])
    if day_first and any(spec.kinds[c] == "timestamp" for c in cols):
        notes.append(DAY_FIRST_NOTE)
    ctl = _control_column(src.headers, mapping) if spec.name == s.T_PROMOTIONS else None
    if ctl is not None and ctl[0] not in cols.values() and s.PROMOTION in exprs:
        col, flags_control = ctl
        flag = _control_expr(con, src, col, flags_control)
        exprs[s.PROMOTION] = (f"CASE WHEN {flag} THEN '{CONTROL}' "
                              f"ELSE {exprs[s.PROMOTION]} END")
        n_ctl, n_bad = con.execute(
            f"SELECT count(*) FILTER (WHERE {flag}), count(*) FILTER (WHERE {flag} IS NULL AND "
            f"{parse.plain_text_expr(col)} IS NOT NULL) FROM {src.view}"
        ).fetchall()[0]
        notes.append(
            f"control group read from column {col!r}: {n_ctl:,} rows stored as promotion "
            f"'{CONTROL}'" + (f"; {n_bad:,} values were neither control nor treated and count "
                             "as treated" if n_bad else ""))
    for canon in spec.kinds:
        exprs.setdefault(canon, "NULL")
    raw_cols = ", ".join(parse.q(h) for h in src.headers)
    missing_key = " OR ".join(f"{c} IS NULL" for c in spec.required)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {table} AS
        WITH r AS (SELECT {ROW},
                          row_number() OVER (PARTITION BY {raw_cols} ORDER BY {ROW}) AS __dup,
                   {', '.join(f'{e} AS {c}' for c, e in exprs.items())} FROM {src.view})
        SELECT *, CASE WHEN __dup > 1 THEN 'exact_duplicate'
                       WHEN {units_row(src)} THEN 'units_line'
                       WHEN {missing_key} THEN 'missing_key' END AS __rule
        FROM r
    """)
    refused = _invalid_promotions(con, src, cols, table) if spec.name == s.T_CATALOG else []
    rows, loaded = con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE __rule IS NULL) FROM {table}").fetchall()[0]
    rules = dict(con.execute(
        f"SELECT __rule, count(*) FROM {table} WHERE __rule IS NOT NULL GROUP BY 1").fetchall())
    assert rows == src.rows  # noqa: S101
    if spec.key:
        key = ", ".join(spec.key)
        superseded = con.execute(
            f"SELECT count(*) - count(DISTINCT ({key})) FROM {table} WHERE __rule IS NULL"
        ).fetchall()[0][0]
        if superseded:
            notes.append(f"{superseded:,} rows repeat the {' + '.join(spec.key)} of a later row "
                         f"of this file: the last row of each is kept, "
                         f"{loaded - superseded:,} distinct record(s) in all")
    why = _rule_reasons(spec)
    if refused:  # each refused promotion in the plan's own words, not the rule's summary
        why["invalid_promotion"] = "; ".join(refused) + " (the plan would refuse the catalog " \
            "with it)"
    details = {k: {"rows": int(n), "share_rows": round(n / rows, 6), "action": "quarantine",
                   "reason": why[k]} for k, n in rules.items()}
    return {"file": src.label, "sha256": src.sha256, "table": spec.name,
            "columns": cols, "rows_read": int(rows), "rows_loaded": int(loaded),
            "rows_quarantined": int(rows - loaded), "rules": {k: int(v) for k, v in rules.items()},
            "rule_details": details, "assumptions": notes}


def _rule_reasons(spec: TableSpec) -> dict[str, str]:
    """Why a row of a side table is quarantined, per rule (the quarantine table's reason)."""
    return {
        "exact_duplicate": "row repeats an earlier row of the same file",
        "units_line": s.RULES_BY_NAME["units_line"].reason,
        "missing_key": f"a required column ({', '.join(spec.required)}) is empty or unparseable",
        "invalid_promotion": "the plan's catalog checks refuse the promotion (an unknown kind, "
                             "an impossible value, cost or spend threshold); the load's report "
                             "says which and why",
    }


def _invalid_promotions(con: duckdb.DuckDBPyConnection, src: Source, cols: Mapping[str, str],
                        table: str) -> list[str]:
    """Quarantine (``invalid_promotion``) the staged catalog rows that the plan's catalog
    checks (:func:`loyalist.promote.catalog.normalise_catalog`) refuse: stored, one of them
    would make every later plan on the store fail. Returns the plan's own line (file,
    promotion, fix) per refused row, for the report's rule details. A value that cannot be
    read as a number is checked as written, so the line shows it."""
    from loyalist.promote.catalog import normalise_catalog

    kinds = SPECS[s.T_CATALOG].kinds
    raw = "".join(
        f", CASE WHEN t.{c} IS NULL THEN {parse.plain_text_expr(col, 'v')} "
        f'END AS "__raw_{c}"' for c, col in cols.items() if kinds[c] == "number")
    frame = con.execute(
        f"SELECT t.{ROW}, {', '.join(f't.{c}' for c in kinds)}{raw} FROM {table} t "
        f"JOIN {src.view} v USING ({ROW}) WHERE t.__rule IS NULL ORDER BY t.{ROW}").df()
    for c in kinds:
        if f"__raw_{c}" in frame:
            frame[c] = frame[c].astype(object).where(frame[c].notna(), frame[f"__raw_{c}"])
    frame = frame[[ROW, *kinds]]
    try:  # a valid catalog in one call; row by row only to find the refused ones
        normalise_catalog(frame.drop(columns=[ROW]).drop_duplicates(s.NAME, keep="last"),
                          source=str(src.path))
        return []
    except DataError:
        pass
    refused: dict[int, str] = {}
    for i in range(len(frame)):
        try:
            normalise_catalog(frame.iloc[[i]].drop(columns=[ROW]), source=str(src.path))
        except DataError as e:
            refused[int(frame[ROW].iloc[i])] = str(e)
    if refused:
        con.execute(f"UPDATE {table} SET __rule = 'invalid_promotion' WHERE {ROW} IN "
                    f"({', '.join(map(str, refused))})")
    return list(refused.values())


def write(con: duckdb.DuckDBPyConnection, src: Source, spec: TableSpec, table: str,
          load_id: int) -> None:
    cols = ", ".join(spec.kinds)
    if spec.key:
        # the last row per key within the file wins, and replaces any stored record
        key = ", ".join(spec.key)
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE {table}_last AS
            SELECT {cols} FROM {table} WHERE __rule IS NULL
            QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY {ROW} DESC) = 1""")
        con.execute(f"DELETE FROM {spec.name} WHERE ({key}) IN (SELECT ({key}) FROM {table}_last)"
                    if len(spec.key) > 1 else
                    f"DELETE FROM {spec.name} WHERE {key} IN (SELECT {key} FROM {table}_last)")
        con.execute(f"INSERT INTO {spec.name} BY NAME SELECT *, {load_id} AS {s.LOAD_ID} "
                    f"FROM {table}_last")
    else:
        con.execute(f"""
            INSERT INTO {spec.name} BY NAME
            SELECT {cols}, {load_id} AS {s.LOAD_ID} FROM {table} t WHERE __rule IS NULL
            AND NOT EXISTS (SELECT 1 FROM {spec.name} p WHERE
                {' AND '.join(f'p.{c} IS NOT DISTINCT FROM t.{c}' for c in spec.kinds)})""")
    quarantine.insert(con, src, table, load_id, spec.name,
                      quarantine.reason_case(_rule_reasons(spec)))
