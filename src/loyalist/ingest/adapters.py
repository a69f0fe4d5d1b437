"""Source formats -> canonical columns. The only module where source headers appear.

An :class:`Adapter` says, for one source format, which source column feeds each canonical column
(or a SQL expression when the source has no such column), how to recognise cancellations and
non-product lines, and which cleaning rules are switched off for that format, with the reason.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date

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
    #: an order status column: rows whose status says cancelled/voided/failed are not sales
    status_column: str | None = None
    #: the status column names the order's payment (:func:`names_payment`): a payment still
    #: 'open' is not paid, so its order is no sale yet
    payment_status: bool = False
    #: the status column is an invoice's (:func:`names_invoice`): an invoice 'submitted' is
    #: one awaiting approval, not yet a sale
    invoice_status: bool = False
    #: a customer name column keying the lines whose customer column (an e-mail) is empty
    #: (:data:`CONTACT_NAMES`)
    customer_fallback: str | None = None
    #: a line's void flag (Toast's 'Void?', a German till's 'Storno'): rows where it is set
    #: (:data:`VOID_SET`) are not sales
    void_column: str | None = None
    #: the till a receipt was rung up on ('Kasse', 'Register'): a receipt number runs per
    #: till, so the order id is ``till/receipt``
    till_column: str | None = None
    #: a clickstream's event type column: rows whose event is a view, a click or a cart
    #: change are not purchases (:data:`NOT_A_PURCHASE_EVENT`)
    event_column: str | None = None
    #: the date of day 1 when the date column holds day numbers (``--day-one``)
    day_one: date | None = None
    #: line-level cost information, not stored on the lines but turned into product margins:
    #: ``line_profit`` (profit of the line), ``line_cost`` (cost of the line), ``unit_cost``
    cost_columns: Mapping[str, str] = field(default_factory=dict)
    #: a date that reads both ways (02/01/2024) is day first (column names in a language whose
    #: countries write dates day first)
    day_first: bool = False
    #: a line's own discount amount (:func:`loyalist.ingest.units.line_discount`), taken off
    #: the line's value
    discount_column: str | None = None
    #: canonical columns the user named with --map (taken as meant, not second-guessed)
    mapped: frozenset[str] = frozenset()
    #: the line's number within its order (:data:`LINE_NUMBER_NAMES`): an order's line
    #: repeated with the same number is quarantined as ``repeated_line``
    line_column: str | None = None

    def read_columns(self) -> set[str | None]:
        """The file's columns this reader takes for something (the others are what a check
        for a units, line-total or document-type column may look at)."""
        return {*self.columns.values(), *self.cost_columns.values(), self.status_column,
                self.void_column, self.till_column, self.event_column, self.line_column,
                self.discount_column}


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

def positional_names(n: int) -> list[str]:
    """The names given to the ``n`` columns of a file without a header row."""
    return [f"column_{i + 1}" for i in range(n)]


def is_positional(headers: Sequence[str]) -> bool:
    """Whether ``headers`` are :func:`positional_names` (the file had no header row)."""
    return bool(headers) and list(headers) == positional_names(len(headers))


#: canonical columns of CDNOW's text files, which have no header row, by column count:
#: CDNOW_master.txt (id, yyyymmdd, CDs, dollars) and CDNOW_sample.txt (master id, sample id,
#: ...); the sample id is not loaded
CDNOW_TEXT_LAYOUTS = {
    4: (s.CUSTOMER_ID, s.ORDERED_AT, s.QUANTITY, s.AMOUNT),
    5: (s.CUSTOMER_ID, "sample_id", s.ORDERED_AT, s.QUANTITY, s.AMOUNT),
}

#: letters NFKD does not take apart into a Latin letter and an accent
_UNACCENTED = str.maketrans({"ß": "ss", "ẞ": "SS", "ø": "o", "Ø": "O", "æ": "ae", "Æ": "AE",
                             "œ": "oe", "Œ": "OE", "ł": "l", "Ł": "L", "đ": "d", "Đ": "D",
                             "ð": "d", "Ð": "D", "þ": "th", "Þ": "TH", "ı": "i"})


def normalise(name: str) -> str:
    """Lower case, accents and everything but letters and digits dropped: 'Quantité' ->
    'quantite', 'Stückpreis' -> 'stuckpreis', 'Straße' -> 'strasse', 'Beløb' -> 'belob',
    'Omsætning' -> 'omsaetning', 'Unit Price' -> 'unitprice', 'Fiyatı' -> 'fiyati'. Letters
    of other scripts are kept, lower-cased and taken apart as NFKD takes them: 'Кол-во' ->
    'колво', 'Ποσότητα' -> 'ποσοτητα', '顧客ID' -> '顧客id' (a Hangul syllable becomes its
    letters: compare with normalised names only)."""
    plain = unicodedata.normalize("NFKD", name.translate(_UNACCENTED)).casefold()
    return "".join(ch for ch in plain if ch in _ASCII_ALNUM or (
        not ch.isascii() and unicodedata.category(ch)[0] == "L"
        and not unicodedata.name(ch, "LATIN").startswith("LATIN")))


_ASCII_ALNUM = frozenset("0123456789abcdefghijklmnopqrstuvwxyz")


# --- generic: canonical names or common synonyms, overridable with --map ----------------------
#: the product of a line in a file without product codes: its name
_PRODUCT_IS_NAME = "{description}"
#: the product id of every line of a file without product lines (an order-level export)
NO_PRODUCT = "(no product detail)"
# The same columns as German, French, Spanish, Italian, Dutch, Portuguese, Polish, Swedish,
# Danish, Norwegian and Finnish tills and shops name them (normalised: accents dropped), after
# the English names. Left out on purpose:
# words that mean something else in an English file ('reference', 'code', 'nota') or a
# person's name ('nombre', 'nom').
#: a customer's number or card before the bare word, which may hold the name (a German shop
#: export's 'Kunde' = 'Maria Müller' beside 'Kundennummer')
_EU_CUSTOMER_IDS = ("kundennummer", "kundennr", "kundenid", "kundenkarte", "numeroclient",
                    "idclient", "codeclient", "idcliente", "numerocliente",
                    "codicecliente", "klantnummer", "klantid", "idklienta",
                    "nclient", "numerodeclient", "ncliente", "numerodecliente", "nocliente",
                    "noclient", "iddocliente", "codigocliente", "ncartefidelite",
                    "numerocartefidelite", "cartefidelite", "nrkartyklienta", "kartaklienta",
                    "numerklienta", "nrklienta", "loginklienta", "tesseracliente",
                    "kundnummer", "kundnr", "kundid", "kundenummer", "kundenr",
                    "asiakasnumero", "asiakasnro", "asiakastunnus")
_EU_CUSTOMER_WORDS = ("kunde", "cliente", "klant", "klient", "kund", "asiakas")
EU_CUSTOMER = (*_EU_CUSTOMER_IDS, *_EU_CUSTOMER_WORDS)
_EU_ORDER = ("bestellung", "bestellnummer", "bestellnr", "auftrag", "auftragsnummer",
             "rechnung", "rechnungsnummer", "rechnungsnr", "beleg", "belegnummer", "belegnr",
             "bon", "bonnummer", "bonnr", "kassenbon", "commande", "numerocommande",
             "facture", "numerofacture", "ticket", "numeroticket", "pedido", "numeropedido",
             "factura", "numerofactura", "boleta", "ordine", "numeroordine", "fattura",
             "numerofattura", "scontrino", "bestelnummer", "factuur", "factuurnummer",
             "zamowienie", "numerzamowienia", "faktura", "paragon",
             # 'N° facture', 'Numéro de commande', 'Nº pedido', 'N. ordine'
             "nfacture", "numerodefacture", "ncommande", "numerodecommande", "nticket",
             "npedido", "numerodepedido", "numerodopedido", "nfactura", "numerodefactura",
             "nordine",
             "nfattura", "numerodiordine",
             # Swedish (Zettle's 'Kvittonummer'), Danish, Norwegian, Finnish
             "ordernummer", "ordernr", "kvitto", "kvittonummer", "kvittonr", "fakturanummer",
             "fakturanr", "ordre", "ordrenummer", "ordrenr", "kvittering", "kvitteringsnummer",
             "kvitteringsnr", "tilaus", "tilausnumero", "kuitti", "kuittinumero",
             "lasku", "laskunumero")
_EU_DATE = ("datum", "belegdatum", "rechnungsdatum", "bestelldatum", "verkaufsdatum",
            "datecommande", "datefacture", "datevente", "fecha", "fechapedido", "fechaventa",
            "fechafactura", "dataordine", "datavendita", "besteldatum", "factuurdatum",
            "datapedido", "datavenda", "datazamowienia", "datasprzedazy", "data",
            "orderdatum", "fakturadatum", "forsaljningsdatum", "kopdatum", "dato",
            "ordredato", "fakturadato", "salgsdato", "kobsdato", "paivamaara", "pvm",
            "tilauspaiva", "myyntipaiva")
_EU_TIME = ("uhrzeit", "zeit", "heure", "hora", "ora", "orario", "tijd", "tijdstip", "godzina",
            "klockslag", "klokkeslett", "klokkeslaet", "kellonaika", "aika")
EU_PRODUCT = ("artikel", "artikelnummer", "artikelnr", "artikelid", "produkt", "produktid",
              "produktnummer", "codeproduit", "idproduit", "produit", "codearticle",
              "producto", "idproducto", "codigoproducto", "articulo", "prodotto",
              "codicearticolo", "codiceprodotto", "articolo", "artikelcode", "produto",
              "codigoproduto", "towar", "indeks", "vara", "varunummer", "varunr",
              "vare", "varenummer", "varenr", "tuote", "tuotenumero",
              "tuotekoodi")
_EU_QUANTITY = ("menge", "anzahl", "stuck", "stueck", "quantite", "qte", "cantidad",
                "unidades", "quantita", "qta", "aantal", "hoeveelheid", "quantidade", "qtd",
                "ilosc", "antal", "antall", "kvantitet", "maara", "lukumaara", "kpl")
_EU_PRICE = ("preis", "einzelpreis", "stuckpreis", "stueckpreis", "verkaufspreis", "vkpreis",
             "prix", "prixunitaire", "pu", "precio", "preciounitario", "prezzo",
             "prezzounitario", "prijs", "stuksprijs", "stukprijs", "eenheidsprijs", "preco",
             "precounitario", "cena", "cenajednostkowa", "pris", "styckpris", "enhetspris",
             "apris", "stykpris", "enhedspris", "stykkpris", "hinta", "yksikkohinta", "ahinta")
_EU_AMOUNT = ("betrag", "umsatz", "gesamtpreis", "gesamtbetrag", "summe", "bruttobetrag",
              "nettobetrag", "montant", "montantttc", "montantht", "chiffredaffaires",
              "importe", "monto", "ventas", "importo", "totale", "bedrag", "totaal", "omzet",
              "valor", "valortotal", "wartosc", "kwota", "belopp", "totalt", "summa",
              "totalbelopp", "forsaljning", "omsattning", "belob", "belop", "salg",
              "omsaetning", "omsetning", "yhteensa", "myynti", "kokonaissumma")
EU_CATEGORY = ("kategorie", "warengruppe", "produktgruppe", "categorie", "famille", "rayon",
               "categoria", "familia", "productgroep", "kategoria", "kategori", "varugrupp",
               "produktgrupp", "varegruppe", "tuoteryhma", "tuotekategoria")
EU_DESCRIPTION = ("bezeichnung", "artikelbezeichnung", "artikelname", "produktname",
                  "libelle", "designation", "nomproduit", "descripcion", "nombreproducto",
                  "descrizione", "nomeprodotto", "omschrijving", "productnaam", "descricao",
                  "nomeproduto", "opis", "nazwa", "nazwatowaru", "benamning", "beskrivning",
                  "produktnamn", "artikelnamn", "varunamn", "beskrivelse", "varenavn",
                  "produktnavn", "varebeskrivelse", "kuvaus", "nimike", "tuotenimi")
_EU_STORE = ("filiale", "geschaft", "markt", "magasin", "boutique", "tienda", "sucursal",
             "negozio", "puntovendita", "winkel", "filiaal", "loja", "sklep", "butik",
             "butikk", "myymala", "kauppa")

#: names that say the file is not English (so its dates are day first): the lists above but
#: the words English files use too
EU_NAMES = frozenset((*EU_CUSTOMER, *_EU_ORDER, *_EU_DATE, *_EU_TIME, *EU_PRODUCT,
                      *_EU_QUANTITY, *_EU_PRICE, *_EU_AMOUNT, *EU_CATEGORY, *EU_DESCRIPTION,
                      *_EU_STORE)) - {"ticket", "boutique", "data"}
#: Swedish, Danish and Norwegian for the time of day, taken only beside other column names
#: in a language of :data:`DAY_FIRST_NAMES`: in an English file 'TID' is a terminal's id
_NORDIC_TIME = "tid"

#: canonical column -> the names it is found under (lower-cased, non-alphanumerics removed),
#: tried in this order
SYNONYMS_BY_COLUMN: dict[str, tuple[str, ...]] = {
    # ids and numbers before the bare words, which may hold a name
    s.CUSTOMER_ID: ("customerid", "clientid", "memberid", "userid", "visitorid", "loyaltyid",
                    "cardid", "customerno", "customernumber", "loyaltycard",
                    "loyaltycardnumber", "loyaltynumber", "membernumber", "memberno",
                    *_EU_CUSTOMER_IDS, "customer", "client", "member",
                    "customeremail", "email", "emailaddress",
                    # WooCommerce's 'Email (Billing)', Etsy's 'Buyer' (a user name)
                    "emailbilling", "billingemail", "buyer", "buyeremail", *_EU_CUSTOMER_WORDS,
                    # UK bookkeeping's customer account: Sage's 'A/C' and 'A/C Ref'
                    "ac", "acref", "acreference", "acno"),
    # an order number before a transaction id: eBay's 'Transaction ID' is one item of the
    # order its 'Order Number' names
    s.ORDER_ID: ("orderid", "order", "invoice", "invoiceno", "invoiceid", "receipt",
                 "receiptid", "receiptno", "orderno", "ordernumber", "transactionid",
                 "ticketid", "basketid", "billno",
                 "num",  # QuickBooks' transaction number (an invoice's or receipt's)
                 "incrementid",  # Magento's order number (#000000101)
                 "orderref", "orderreference",  # Odoo's 'Order Ref' (Shop/0001)
                 "receiptnumber", "receiptnr",
                 *_EU_ORDER,
                 # French 'Référence commande', Italian 'Numero scontrino'; Tally's 'Voucher
                 # No.' (an invoice), last: elsewhere a voucher may be a coupon
                 "referencecommande", "referencedecommande", "numeroscontrino",
                 "voucherno", "vouchernumber"),
    s.ORDERED_AT: ("orderedat", "orderdate", "date", "datetime", "timestamp", "invoicedate",
                   "transactiondate", "purchasedate", "saledate", "createdat",
                   "datecreated", "createddate", "dateordered", *_EU_DATE,
                   "datadopedido", "datadavenda", "buchungsdatum"),
    # a separate time of day; a file whose only date column is called "time" uses it as the date
    s.ORDERED_TIME: ("orderedtime", "time", "ordertime", "transactiontime", "purchasetime",
                     "saletime", "invoicetime", "timeofday", "transtime", "txntime", *_EU_TIME),
    # a SKU or stock code is the id even beside a column called 'Product' (often its name)
    s.PRODUCT_ID: ("productid", "sku", "stockcode", "product", "itemid", "item", "article",
                   "articleid", "productcode", "itemcode", "ean", "upc", "barcode",
                   *EU_PRODUCT, "kodproduktu", "kodtowaru", "referenceproduit",
                   "codigoarticulo", "codigodoartigo"),
    s.QUANTITY: ("quantity", "qty", "units", "count", "pieces", "amountunits",
                 "quantityrefund",  # WooCommerce's 'Quantity (- Refund)': net of refunds
                 *_EU_QUANTITY),
    s.UNIT_PRICE: ("unitprice", "price", "priceeach", "itemprice", "sellingprice",
                   "soldfor",  # eBay's price of the item ('Total Price' is the order's)
                   *_EU_PRICE),
    # a line's own total before a bare 'Total', which may be the invoice's (Xero's invoice
    # export repeats the invoice's 'Total' with tax on each of its 'LineAmount' lines)
    s.AMOUNT: ("linetotal", "lineamount", "amount", "total", "sales", "revenue", "value",
               "netamount", "totalamount", "turnover", "ordertotal", "ordervalue",
               "ordertotalamount", "totalprice", "grandtotal", "salesamount", "netsales",
               "grosssales", "totalsales",
               # a lone subtotal (a till's line before tax); beside a gross 'Total' the
               # subtotal is taken too (see generic), the total adding tax and shipping
               "subtotal", "linesubtotal", *_EU_AMOUNT),
    s.CATEGORY: ("category", "productcategory", "department", "family", "group", "segment",
                 *EU_CATEGORY),
    s.DESCRIPTION: ("description", "productname", "itemname", "lineitemname",
                    # a web shop's JSON order, its lines flattened as line_items_<field>
                    "lineitemsname", "lineitemstitle", "lineitemtitle", "itemsname",
                    "itemstitle", "articlename", "itemtitle", "producttitle",
                    "productdescription", "itemdescription",
                    # QuickBooks' 'Memo/Description' and 'Memo' (Desktop, whose 'Name' is
                    # the customer)
                    "memodescription", "memo", "name", "title", "item",
                    "product", "article", *EU_DESCRIPTION, "beschreibung",
                    "artikelbeschreibung", "nomduproduit", "nazwaproduktu", "nomedoproduto",
                    "nombredelproducto"),
    s.STORE_ID: ("storeid", "store", "shop", "shopid", "branch", "pos", "posid", "outlet",
                 *_EU_STORE),
    s.CHANNEL: ("channel", "saleschannel", "kanal", "canal", "canale"),
    s.COUNTRY: ("country", "countrycode", "land", "pays", "pais", "paese", "nazione", "kraj"),
}
#: the same columns as Russian, Ukrainian, Greek, Turkish and Czech tills and shops name
#: them (countries that write the day first), and as Japanese, Chinese, Korean and Hungarian
#: ones do (the year first), as written: normalised below (:func:`normalise`). After every
#: name above, so none of them changes what an English or EU file reads. Left out on purpose:
#: words for a code or a number alone ('код', 'κωδικός', '코드', 'szám') and a person's name.
_WORLD_DAY_FIRST: dict[str, tuple[str, ...]] = {
    s.CUSTOMER_ID: ("клиент", "код клиента", "id клиента", "номер клиента", "покупатель",
                    "код покупателя", "номер карты", "контрагент", "клієнт", "покупець",
                    "πελάτης", "κωδικός πελάτη", "αριθμός πελάτη", "müşteri", "müşteri no",
                    "müşteri kodu", "müşteri id", "zákazník", "číslo zákazníka",
                    "id zákazníka", "odběratel"),
    s.ORDER_ID: ("заказ", "номер заказа", "id заказа", "чек", "номер чека", "счет",
                 "номер счета", "замовлення", "номер замовлення", "номер чеку",
                 "παραγγελία", "αριθμός παραγγελίας", "απόδειξη", "αριθμός απόδειξης",
                 "τιμολόγιο", "sipariş", "sipariş no", "sipariş numarası", "fiş", "fiş no",
                 "fatura no", "objednávka", "číslo objednávky", "doklad", "číslo dokladu",
                 "účtenka"),
    s.ORDERED_AT: ("дата", "дата заказа", "дата продажи", "дата чека", "дата и время",
                   "дата продажу", "ημερομηνία", "ημερομηνία παραγγελίας", "tarih",
                   "sipariş tarihi", "satış tarihi", "işlem tarihi", "fatura tarihi",
                   "datum objednávky", "datum prodeje"),
    s.ORDERED_TIME: ("время", "час", "ώρα", "saat"),
    s.PRODUCT_ID: ("артикул", "код товара", "id товара", "штрихкод", "товар", "код товару",
                   "κωδικός προϊόντος", "είδος", "ürün kodu", "stok kodu", "barkod", "ürün",
                   "kód zboží", "zboží", "katalogové číslo"),
    s.QUANTITY: ("количество", "кол-во", "кількість", "ποσότητα", "τεμάχια", "miktar", "adet",
                 "množství", "počet"),
    s.UNIT_PRICE: ("cena za mj", "cena za jednotku",
                   "цена", "цена за единицу", "ціна", "τιμή", "τιμή μονάδας", "fiyat",
                   "birim fiyat", "birim fiyatı", "satış fiyatı", "jednotková cena",
                   "cena za kus"),
    s.AMOUNT: ("сумма", "итого", "стоимость", "выручка", "сумма продажи", "сума", "разом",
               "ποσό", "σύνολο", "αξία", "tutar", "toplam", "toplam tutar", "satış tutarı",
               "ciro", "částka", "celkem", "tržba", "cena celkem"),
    s.CATEGORY: ("категория", "группа товаров", "категорія", "κατηγορία", "ürün grubu",
                 "kategorie zboží", "skupina zboží"),
    s.DESCRIPTION: ("наименование", "наименование товара", "название товара", "номенклатура",
                    "найменування", "назва товару", "περιγραφή", "όνομα προϊόντος",
                    "ürün adı", "açıklama", "název", "název zboží", "popis", "položka"),
    s.STORE_ID: ("магазин", "торговая точка", "магазин код", "κατάστημα", "mağaza", "şube",
                 "prodejna", "pobočka"),
    s.COUNTRY: ("страна", "країна", "χώρα", "ülke", "země"),
}
_WORLD_YEAR_FIRST: dict[str, tuple[str, ...]] = {
    s.CUSTOMER_ID: ("주문자ID", "구매자ID",
                    "顧客ID", "顧客番号", "顧客コード", "会員ID", "会員番号", "お客様番号",
                    "得意先コード", "顧客", "客户ID", "客户编号", "客户", "会员编号", "会员号",
                    "顾客ID", "客戶ID", "客戶編號", "會員編號", "고객ID", "고객번호", "고객",
                    "회원ID", "회원번호", "vevő", "vevőkód", "ügyfél", "ügyfélazonosító"),
    s.ORDER_ID: ("注文番号", "注文ID", "伝票番号", "伝票No", "受注番号", "レシート番号",
                 "取引ID", "取引番号", "订单号", "订单编号", "订单ID", "订单", "单号", "小票号",
                 "交易号", "訂單編號", "訂單號碼", "訂單號", "單號", "交易編號", "주문번호",
                 "주문ID", "영수증번호", "거래번호", "rendelés", "rendelésszám", "számla",
                 "számlaszám", "nyugta", "nyugtaszám", "bizonylat", "bizonylatszám"),
    s.ORDERED_AT: ("日付", "注文日", "注文日時", "購入日", "購入日時", "売上日", "取引日",
                   "取引日時", "日時", "受注日", "販売日", "日期", "下单时间", "订单日期",
                   "交易日期", "交易时间", "销售日期", "下單時間", "訂單日期", "銷售日期",
                   "交易時間", "주문일", "주문일자", "주문일시", "날짜", "일자", "거래일",
                   "거래일시", "판매일", "판매일자", "결제일", "dátum", "rendelés dátuma",
                   "számla kelte", "teljesítés dátuma"),
    s.ORDERED_TIME: ("時刻", "时间", "時間", "시간", "시각", "időpont", "idő"),
    s.PRODUCT_ID: ("商品コード", "商品ID", "商品番号", "品番", "JANコード", "商品编号",
                   "商品编码", "产品编号", "产品ID", "货号", "条码", "商品編號", "產品編號",
                   "貨號", "條碼", "상품코드", "상품번호", "상품ID", "품번", "바코드",
                   "cikkszám", "termékkód", "termék"),
    s.QUANTITY: ("数量", "個数", "數量", "件数", "수량", "mennyiség"),
    s.UNIT_PRICE: ("単価", "販売単価", "価格", "売価", "单价", "單價", "价格", "價格",
                   "售价", "售價", "단가", "판매가", "가격", "egységár"),
    s.AMOUNT: ("金額", "合計", "小計", "売上", "売上金額", "合計金額", "金额", "总计", "合计",
               "销售额", "銷售額", "小计", "总金额", "總金額", "实付金额", "금액", "합계",
               "합계금액", "판매금액", "결제금액", "매출", "매출액", "összeg", "végösszeg"),
    s.CATEGORY: ("カテゴリ", "カテゴリー", "分類", "商品分類", "部門", "类别", "類別", "分类",
                 "品类", "品類", "카테고리", "분류", "상품분류", "kategória", "termékcsoport"),
    s.DESCRIPTION: ("商品名", "品名", "商品名称", "商品名稱", "产品名称", "產品名稱", "상품명",
                    "품명", "megnevezés", "terméknév"),
    s.STORE_ID: ("店舗", "店舗ID", "店舗コード", "店舗名", "门店", "門店", "店铺", "店鋪",
                 "门店编号", "매장", "지점", "매장코드", "üzlet"),
    s.COUNTRY: ("国", "国家", "國家", "국가", "ország"),
}
for _extra in (_WORLD_DAY_FIRST, _WORLD_YEAR_FIRST):
    for _canon, _names in _extra.items():
        SYNONYMS_BY_COLUMN[_canon] += tuple(dict.fromkeys(
            n for n in map(normalise, _names) if n not in SYNONYMS_BY_COLUMN[_canon]))
#: names that say the file's dates are day first: :data:`EU_NAMES` and the other day-first
#: countries' names above
DAY_FIRST_NAMES = EU_NAMES | frozenset(normalise(n) for names in _WORLD_DAY_FIRST.values()
                                       for n in names)
#: a customer's phone or name (normalised), the customer id of a file that has no id or
#: e-mail (an Indian billing app's 'Party Name' and 'Party Phone No.'): phones first, since
#: two people share a name more often than a number
CUSTOMER_FALLBACK_NAMES = (
    "customerphone", "customerphoneno", "customerphonenumber", "customermobile",
    "customermobileno", "customermobilenumber", "partyphone", "partyphoneno",
    "partyphonenumber", "partymobile", "partymobileno", "buyerphone", "clientphone",
    "phone", "phoneno", "phonenumber", "mobile", "mobileno", "mobilenumber", "telephone",
    "contactno", "contactnumber", "telefon", "telefono", "telefone", "telefoon",
    "customername", "clientname", "buyername", "partyname", "billingname", "billtoname",
    "customerfullname", "membername", "kundenname", "kundename", "nomclient", "nomduclient",
    "nombrecliente", "nombredelcliente", "nomecliente", "nomedocliente", "klantnaam",
    "kundnamn", "kundenavn", "asiakkaannimi", "nazwaklienta", "contactname")
#: an accounting package's name of the customer's account (Xero's 'ContactName', unique per
#: contact): keys a line whose e-mail is empty, where a web shop's billing name, typed per
#: order, does not
CONTACT_NAMES = ("contactname", "customername", "clientname", "accountname")
#: what the report says when a file's European column names make its dates day first
DAY_FIRST_NOTE = ("the column names are in a language whose countries write the day first: a "
                  "date that reads both ways (02/01/2024) is 2 January")
#: names of an order's total (normalised): on a line of a multi-line order it repeats the
#: order's total, so it is no line total
ORDER_TOTAL_NAMES = frozenset(("ordertotal", "ordervalue", "ordertotalamount", "grandtotal",
                               "ordertotalprice", "ordersubtotal", "orderamount"))
#: names of a total that includes tax and shipping (normalised): an order export with a subtotal
#: beside it is read from the subtotal
_GROSS_TOTAL_NAMES = frozenset(("total", "ordertotal", "grandtotal", "totalamount",
                                "ordertotalamount", "totalprice", "ordertotalprice",
                                "totalpaid", "amountpaid", "totalcollected"))
#: line-level cost columns (normalised names), in order of preference
_COST_NAMES = {
    "line_profit": ("profit", "grossprofit", "lineprofit", "margin", "grossmargin",
                    "marginamount", "profitamount"),
    "line_cost": ("cogs", "costofgoods", "costofgoodssold", "linecost", "totalcost",
                  "costamount", "cost", "asset"),  # Ta-Feng's ASSET: the line's cost
    "unit_cost": ("unitcost", "costprice", "purchaseprice", "costperitem", "costperunit",
                  "itemcost", "buyprice"),
}
#: an order's status (normalised names, in order of preference)
_STATUS_NAMES = ("orderstatus", "status", "financialstatus", "paymentstatus", "transactionstatus",
                 "salestatus", "invoicestatus",
                 # German, French, Spanish, Portuguese, Italian, Dutch, Polish
                 # (not a bare 'estado': in Portuguese and Mexican addresses, the state)
                 "bestellstatus", "auftragsstatus", "statut", "statutcommande",
                 "statutdelacommande", "estadopedido", "estadodelpedido",
                 "statusdopedido", "situacao", "situacaodopedido", "stato", "statoordine",
                 "statodellordine", "bestelstatus", "statuszamowienia",
                 # Clover's 'Order Payment State', PrestaShop's 'current_state' (a bare
                 # 'state' is an address's)
                 "orderpaymentstate", "paymentstate", "orderstate", "currentstate",
                 # Czech, Turkish, Hungarian; Russian, Greek; Japanese, Chinese, Korean
                 "stav", "stavobjednavky", "durum", "siparisdurumu", "allapot", "statusz",
                 *map(normalise, ("статус", "статус заказа", "состояние", "κατάσταση",
                                  "注文ステータス", "ステータス", "状態", "订单状态", "状态",
                                  "訂單狀態", "狀態", "주문상태", "상태")))
#: words (normalised) of a status column's name saying it holds the order's payment, not its
#: fulfilment: Clover's 'Order Payment State', Shopify's 'Financial Status', 'Payment Status',
#: 'Zahlungsstatus', 'Statut du paiement', 'Estado del pago', 'Status do pagamento',
#: 'Betaalstatus', 'Status płatności'
_PAYMENT_WORDS = ("payment", "financial", "zahlung", "paiement", "pago", "pagamento",
                  "betaal", "betaling", "platnosc")


def names_payment(column: str) -> bool:
    """Whether a status column's name says it is the order's payment state. There an 'Open'
    order is one not paid yet (Clover's unpaid tabs); in an order or fulfilment status
    ('Status', 'Order Status') 'Open' is a paid order not yet shipped or closed (Shopify's
    and Odoo's open orders), so only the column's name can tell the two apart."""
    name = normalise(column)
    return any(w in name for w in _PAYMENT_WORDS)


def names_invoice(column: str | None) -> bool:
    """Whether the order id column's name says the orders are invoices ('InvoiceNumber',
    'Invoice No'): there a status 'submitted' is an invoice awaiting approval (Xero's
    SUBMITTED), while a web shop's submitted order is a placed one."""
    return column is not None and "invoice" in normalise(column)


#: a line's void flag (normalised names): Toast's 'Void?', a till's 'Storno' (Ja/Nein)
_VOID_NAMES = ("void", "voided", "isvoid", "isvoided", "voidflag", "voiditem", "storno",
               "refunded", "isrefunded", "linerefunded", "itemrefunded",  # Clover's flag
               "storniert", "stornierung", "iscancelled", "iscanceled", "annule", "annulation",
               "anulado", "anulada", "annullato", "geannuleerd")
#: the till (normalised names) a receipt number belongs to: tills count their receipts each
#: on their own (a tobacconist's 'Kasse' K1 and K2 both print receipt 1 every morning)
_TILL_NAMES = ("till", "tillid", "tillno", "tillnumber", "register", "registerid",
               "registerno", "registernumber", "cashregister", "terminal", "terminalid",
               "posterminal", "kasse", "kassennr", "kassennummer", "kassenid", "caisse",
               "numerocaisse", "ncaisse", "caja", "numerocaja", "cassa", "kassa", "kasa")
#: a void flag's values saying the line is voided (lower case, trimmed)
VOID_SET = ("true", "t", "yes", "y", "1", "x", "ja", "j", "oui", "si", "sí", "sim", "tak",
            "wahr", "vrai", "waar", "void", "voided", "storno")
#: an event log's event type (normalised names, in order of preference): Retail Rocket's
#: 'event' = view / addtocart / transaction, Taobao's 'behavior_type' = pv / cart / fav / buy
_EVENT_NAMES = ("event", "eventtype", "eventname", "behavior", "behaviour", "behaviortype",
                "behaviourtype", "interaction", "interactiontype", "activitytype")
#: an event that is no purchase: a page view, a click, a search, a cart or wish-list change
NOT_A_PURCHASE_EVENT = (r"^\s*(view|pageview|page[ _-]?view|pv|detail|click|impression|search|"
                        r"add|remove|cart|basket|wish|fav|like|rate|review|session|login|"
                        r"browse|visit)")
#: lower-cased, non-alphanumerics removed -> canonical column
SYNONYMS: dict[str, str] = {n: c for c, names in SYNONYMS_BY_COLUMN.items() for n in names}

_GENERIC_NON_PRODUCT_CODES = (
    "upper({product_id}) IN ('POST', 'POSTAGE', 'SHIPPING', 'SHIP', 'DELIVERY', 'FEE', "
    "'DISCOUNT', 'DISC', 'COUPON', 'TIP', 'TIPS', 'GRATUITY', 'VERSAND', 'PORTO', 'FRACHT', "
    "'PFAND', 'TRINKGELD')"
)
#: a discount or coupon line's first words, in English and the languages whose column names
#: are read (German 'Gutschein SOMMER10', 'Rabatt'; French 'Remise', 'Code promo'; Spanish
#: 'Descuento', 'Cupón'; Italian 'Sconto', 'Buono sconto'; Dutch 'Korting'; Portuguese
#: 'Desconto', 'Cupom'; Polish 'Rabat', 'Kupon'; Nordic 'Rabatt', 'Alennus')
_DISCOUNT_WORDS = ("discount|coupon|promo(tion)? code|rebate|gutschein|rabatt|nachlass|"
                   "remise|r[ée]duction|code promo|bon de r[ée]duction|descuento|cup[oó]n|"
                   "sconto|buono sconto|coupon sconto|korting|desconto|cupom|rabat|kupon|"
                   "alennus")
_GENERIC_NON_PRODUCT_TEXT = (
    "regexp_matches(lower(coalesce({description}, '')), "
    "'^(postage|shipping|delivery|carriage|bank charges?|manual|adjust|tips?$|gratuity|"
    "service charge|gift ?card|deposit|" + _DISCOUNT_WORDS + "|"
    # shipping, tips, gift cards, bottle deposits and service charges in German, French,
    # Spanish, Italian, Dutch, Portuguese, Polish and the Nordic languages
    "versand|porto($| ?[&+]| und| (dhl|ups|dpd|gls|hermes|inland|ausland))|fracht|"
    "frais (de port|d.envoi|de livraison|de service)|livraison|"
    "gastos de env[ií]o|env[ií]o|spese di (spedizione|consegna)|spedizione|verzend|"
    "bezorgkosten|portokosten|frete|portes|custos de envio|koszt(y)? (wysy[lł]ki|dostawy)|"
    "wysy[lł]ka|frakt|fragt|toimitusmaksu|postikulut|"
    "trinkgeld|pourboire|propina|mancia|fooi|gorjeta|napiwek|dricks|drikkepenge|"
    "geschenkgutschein|geschenkkarte|carte cadeau|ch[eè]que cadeau|tarjeta regalo|"
    "carta regalo|buono regalo|cadeaubon|cadeaukaart|vale presente|cart[aã]o presente|"
    "karta podarunkowa|bon podarunkowy|presentkort|gavekort|lahjakortti|"
    "pfand|leergut|consigne|statiegeld|servicegeb[uü]hr|coperto)')"
)
#: a discount written as a line of its own at a negative price (a web shop's "Discount code
#: SUMMER10" line, a German shop's "Gutschein SOMMER10"): kept as a non-product line that
#: lowers the order's revenue, where any other negative price (a bad-debt adjustment, a gift
#: card paid with) is quarantined
DISCOUNT_LINE_SQL = (
    "(upper(coalesce({product_id}, '')) IN ('DISCOUNT', 'DISC', 'COUPON') OR "
    "regexp_matches(lower(coalesce({description}, '')), "
    "'^(" + _DISCOUNT_WORDS + ")'))"
)


def words(name: str) -> list[str]:
    """A column name's words, lower-cased: 'order_purchase_timestamp' and 'OrderPurchaseTimestamp'
    -> ['order', 'purchase', 'timestamp']."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name)
    return [w for w in re.split(r"[^0-9a-z]+", spaced.lower()) if w]


@dataclass(frozen=True)
class _Words:
    """Finds a column by the words of its name when no synonym matched: a candidate has one of
    ``any_of`` and none of ``none_of`` (word prefixes); among several, those with a ``prefer``
    word win, and a tie is not guessed."""
    any_of: frozenset[str]
    none_of: tuple[str, ...]
    prefer: frozenset[str] = frozenset()
    last_word: frozenset[str] = frozenset()  # also a candidate when its last word is one of these
    #: words a name may end with after its ``last_word`` ('Created (UTC)')
    trailing: frozenset[str] = frozenset()

    def pick(self, headers: Sequence[str], synonyms: Sequence[str] = ()) -> str | None:
        """The one candidate column, or None. Several with a ``prefer`` word are told apart
        by the column's own synonyms as the end of their names (``line_items_product_id``
        before ``line_items_sku``, as ``product_id`` comes before ``sku``)."""
        found = []
        for h in headers:
            w = words(h)
            if not w or any(x.startswith(self.none_of) for x in w):
                continue
            core = w
            while len(core) > 1 and core[-1] in self.trailing:
                core = core[:-1]
            if set(w) & self.any_of or core[-1] in self.last_word:
                found.append((h, w))
        if len(found) > 1:
            found = [(h, w) for h, w in found if set(w) & self.prefer] or found
        if len(found) > 1 and synonyms:
            norm = {h: normalise(h) for h, _ in found}
            rank = {h: min((i for i, syn in enumerate(synonyms)
                            if len(syn) >= 3 and norm[h].endswith(syn)), default=None)
                    for h, _ in found}
            best = min((r for r in rank.values() if r is not None), default=None)
            if best is not None:
                found = [(h, w) for h, w in found if rank[h] == best]
        return found[0][0] if len(found) == 1 else None


#: canonical column -> how to find it by words when no synonym matched (tried in this order)
_BY_WORDS: dict[str, _Words] = {
    s.CUSTOMER_ID: _Words(
        frozenset({"customer", "client", "member", "household", "user", "shopper", "buyer",
                   "account", "patron", "loyalty", "cust", "consumer", "card",
                   "visitor"}),  # a web shop's event log (Retail Rocket's visitorid)
        ("name", "type", "segment", "group", "since", "city", "state", "zip", "postcode", "age",
         "gender", "sex", "country", "region", "phone", "address", "first", "last", "count",
         "status", "note", "tier", "birth", "created", "signup", "is", "has", "flag",
         # Etsy's 'VAT Paid by Buyer': money, not a customer
         "vat", "tax", "paid", "payment", "fee", "price", "amount", "total", "cost", "discount"),
        prefer=frozenset({"id", "key", "no", "number", "code", "unique", "nr", "num"})),
    s.ORDERED_AT: _Words(
        frozenset({"date", "datetime", "timestamp", "dt", "dat", "ts"}),
        ("deliver", "ship", "approv", "updat", "modif", "return", "cancel", "due", "estimat",
         "limit", "birth", "dob", "signup", "regist", "expir", "refund", "clos", "end", "valid",
         "dispatch", "pay", "paid", "load", "import", "export", "print", "zone", "tz"),
        prefer=frozenset({"order", "purchase", "transaction", "trans", "txn", "sale", "sales",
                          "invoice", "created", "placed", "receipt", "bought", "booking",
                          "visit", "checkout"}),
        # 'Created at', 'Placed on'; a bare 'Created' (Stripe's 'Created (UTC)'), the record's
        # creation time, is the date of a payment or an order: its values are checked as
        # dates like any date column's (mostly unreadable: the load stops and says so)
        last_word=frozenset({"at", "on", "created"}),
        trailing=frozenset({"utc", "gmt", "local", "z"})),
    s.ORDER_ID: _Words(
        frozenset({"order", "invoice", "receipt", "basket", "transaction", "trans", "txn",
                   "ticket", "bill", "cart", "sale", "checkout", "purchase"}),
        ("date", "time", "dt", "status", "type", "total", "amount", "value", "line", "item",
         "qty", "quantity", "count", "price", "note", "channel", "source", "currency", "tax"),
        prefer=frozenset({"id", "no", "number", "key", "code", "nr", "num", "ref", "reference"})),
    s.PRODUCT_ID: _Words(
        frozenset({"sku", "product", "item", "article", "stockcode", "ean", "upc", "barcode",
                   "gtin", "lineitem", "plu", "material"}),
        ("name", "desc", "title", "price", "qty", "quantity", "count", "categ", "type", "vendor",
         "brand", "status", "fulfil", "discount", "tax", "propert", "require", "weight",
         "total", "amount", "value", "cost", "compare", "date", "time", "image", "url", "group",
         "family", "class", "size", "colou", "color"),
        prefer=frozenset({"id", "sku", "code", "no", "number", "ean", "upc", "barcode", "nr"})),
    s.QUANTITY: _Words(
        frozenset({"quantity", "qty", "units", "pieces", "pcs", "quantities"}),
        ("price", "amount", "total", "value", "cost", "refund", "return", "cancel", "avail",
         "stock", "min", "max", "pack", "fulfil", "ship", "deliver", "onhand")),
    s.UNIT_PRICE: _Words(
        frozenset({"price"}),
        ("compare", "list", "cost", "total", "sum", "discount", "tax", "vat", "ship", "freight",
         "orig", "regular", "msrp", "rrp", "min", "max", "avg", "average", "currency", "level",
         "point", "tier", "type", "code", "change", "date"),
        prefer=frozenset({"unit", "item", "lineitem", "each", "sale", "sales", "sold", "net",
                          "paid", "actual", "selling"})),
    s.AMOUNT: _Words(
        frozenset({"sales", "sale", "value", "amount", "total", "revenue", "spend", "spent",
                   "paid", "turnover"}),
        ("disc", "tax", "vat", "cost", "ship", "freight", "fee", "tip", "refund", "coupon",
         "count", "qty", "quantity", "unit", "price", "point", "date", "time", "id", "no",
         "number", "weight", "margin", "profit", "budget", "target", "avg", "average", "mean",
         "deposit", "balance",
         # a label, not a sum: H&M's 'perceived_colour_value_name'
         "name", "desc", "title", "label"),
        prefer=frozenset({"net", "line", "total"})),
}


#: words that name the person behind a customer id ('customer_unique_id', 'person_id'): an
#: export whose customer id is new for every order names the person so
_PERSON_ENTITY = frozenset({"person", "persons", "people", "individual", "individuals"})
_PERSON_QUALIFIER = frozenset({"unique", "persistent", "master", "global", "canonical",
                               "golden"})


def names_a_person(name: str) -> bool:
    """Whether a column's name says it holds the person behind customer ids:
    ``customer_unique_id``, ``unique_customer_id``, ``master_client_id``, ``person_id``
    (and no word a customer id never has, such as name or city)."""
    w = set(words(name))
    rule = _BY_WORDS[s.CUSTOMER_ID]
    if not w or any(x.startswith(rule.none_of) for x in w):
        return False
    return bool(w & _PERSON_ENTITY or (w & _PERSON_QUALIFIER and w & rule.any_of))


#: names (normalised) of a line's number within its order ('order_item_id' in Olist,
#: 'line_no'): the same number twice in one order is the same line
LINE_NUMBER_NAMES = ("orderitemid", "orderitemno", "orderitemnumber", "orderlineid",
                     "orderline", "orderlineno", "orderlinenumber", "lineno", "linenumber",
                     "linenum", "lineid", "linenr", "lineitemnumber", "lineitemno",
                     "itemseq", "lineseq", "lineitemseq", "itemsequence", "linesequence",
                     "itemlineno", "itemlinenumber", "position", "posnr", "positionsnummer")


def guessed_note(canon: str, column: str, by: str, rest: str) -> str:
    """The report's sentence for a column taken by the words of its name or by its values
    (``by``: "name" or "values"), not by the file's own naming or ``--map``: a guess the
    merchant should see before any result (:func:`is_guessed_note`)."""
    return f"{canon} read from column {column!r} (found by its {by}{rest}"


#: how :func:`guessed_note` sentences begin
_GUESSED = re.compile(r"^\w+ read from column '.*' \(found by its (name|values)")


def is_guessed_note(note: str) -> bool:
    """Whether a report's sentence says a column was guessed (:func:`guessed_note`)."""
    return bool(_GUESSED.match(note))


#: names of a day-number column (a household panel's DAY = 1..711), the date with --day-one
DAY_NUMBER_NAMES = ("day", "dayno", "daynumber", "dayindex", "daynum", "dayid")


def day_number_column(headers: Sequence[str]) -> str | None:
    """The column whose name says it holds day numbers (:data:`DAY_NUMBER_NAMES`), or None."""
    return next((h for h in headers if normalise(h) in DAY_NUMBER_NAMES), None)


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
            status = (" (an order status column is found by its name: 'status', 'order "
                      "status', 'Statut', ...; rename the column 'status' to have it read)"
                      if canon in ("status", "order_status", "void") else "")
            raise DataError(
                f"--map {pair!r}: {canon!r} is not a canonical column; "
                f"use one of: {', '.join(s.MAPPABLE)}{status}"
            )
        if not source:
            raise DataError(f"--map {pair!r}: the source column name is empty")
        out[canon] = source
    return out


#: normalised column-name endings that say a price or total is with tax (gross) or without
_GROSS_SUFFIXES = ("brutto", "inklmwst", "inclmwst", "inklust", "inclvat", "incvat",
                   "incltax", "inctax", "ttc", "ivaincluido", "coniva",
                   "taxincl", "withtax",  # PrestaShop's 'unit_price_tax_incl'
                   "sdph", "sdani", "kdvdahil")  # Czech 's DPH', Turkish 'KDV dahil'
_NET_SUFFIXES = ("netto", "exklmwst", "exclmwst", "exclvat", "exvat", "excltax", "extax",
                 "ht", "siniva", "taxexcl", "withouttax", "bezdph", "kdvharic")


def _named(by_norm: Mapping[str, str], names: Sequence[str], used: Collection[str],
           taken: str | None = None) -> str | None:
    """The file's column (``by_norm``: normalised name -> column) under the first of
    ``names`` that no canonical column (``used``) and not ``taken`` (the status column)
    has."""
    return next((by_norm[n] for n in names
                 if n in by_norm and by_norm[n] not in used and by_norm[n] != taken), None)


def generic(headers: Sequence[str], mapping: Mapping[str, str] | None = None,
            empty: Collection[str] = ()) -> Adapter:
    """Canonical columns found by exact name, then by synonym; ``mapping`` overrides both.
    Columns in ``empty`` (no value in any row) are taken only by ``mapping`` or their exact
    canonical name, never guessed."""
    mapping = dict(mapping or {})
    for canon, source in mapping.items():
        if source not in headers:
            raise DataError(
                f"--map {canon}={source}: the file has no column {source!r}; "
                f"its columns are: {', '.join(headers)}"
            )
    cols: dict[str, str] = dict(mapping)
    used = set(cols.values())
    for h in headers:  # exact canonical names first, then synonyms
        if h in s.MAPPABLE and h not in cols and h not in used:
            cols[h] = h
            used.add(h)
    headers = [h for h in headers if h not in empty or h in used]
    by_norm: dict[str, str] = {}
    for h in headers:
        by_norm.setdefault(normalise(h), h)
    for canon, names in SYNONYMS_BY_COLUMN.items():  # per column, its synonyms in their order
        for norm in names:
            h = by_norm.get(norm)
            if h is not None and canon not in cols and h not in used:
                cols[canon] = h
                used.add(h)
    assumptions: list[str] = []
    # a till's 'Einzelpreis brutto' / 'Prix TTC': a synonym with a tax suffix, the price with
    # tax (what the customer paid) before the one without
    by_stem: dict[str, str] = {}
    for gross in (True, False):
        for h in headers:
            for suffix in (_GROSS_SUFFIXES if gross else _NET_SUFFIXES):
                n = normalise(h)
                if n.endswith(suffix) and len(n) > len(suffix):
                    by_stem.setdefault(n[:-len(suffix)], h)
    for canon, names in SYNONYMS_BY_COLUMN.items():
        if canon == s.AMOUNT and s.UNIT_PRICE in cols:  # as found by words below
            continue
        for norm in names:
            h = by_stem.get(norm)
            if h is not None and canon not in cols and h not in used:
                cols[canon] = h
                used.add(h)
                assumptions.append(f"{canon} read from column {h!r} (a {norm!r} with or without "
                                   "tax: the one with tax where both are given); map another "
                                   f"with --map {canon}=<column> if that is wrong")
    shop_name = by_norm.get("name")
    if (s.ORDER_ID not in cols and shop_name is not None and shop_name not in used
            and any(normalise(h).startswith("lineitem") for h in headers)):
        # a Shopify-style order export: line items are 'Lineitem ...' columns and 'Name' is
        # the order's name (#1001)
        cols[s.ORDER_ID] = shop_name
        used.add(shop_name)
        assumptions.append(f"{s.ORDER_ID} read from column {shop_name!r}: in an order export "
                           "whose line items are 'Lineitem ...' columns it is the order's name "
                           f"(#1001); map another with --map {s.ORDER_ID}=<column> if that is "
                           "wrong")
    nordic_time = by_norm.get(_NORDIC_TIME)
    if (s.ORDERED_TIME not in cols and nordic_time is not None and nordic_time not in used
            and any(normalise(h) in DAY_FIRST_NAMES for h in cols.values())):
        cols[s.ORDERED_TIME] = nordic_time
        used.add(nordic_time)
    if s.ORDERED_TIME in cols and s.ORDERED_AT not in cols and s.ORDERED_TIME not in mapping:
        cols[s.ORDERED_AT] = cols.pop(s.ORDERED_TIME)  # "Time" holding whole timestamps
    for canon, rule in _BY_WORDS.items():  # columns no synonym named, found by their words
        if canon in cols or (canon == s.AMOUNT and s.UNIT_PRICE in cols):
            continue
        h = rule.pick([h for h in headers if h not in used], SYNONYMS_BY_COLUMN.get(canon, ()))
        if h is not None:
            cols[canon] = h
            used.add(h)
            assumptions.append(guessed_note(canon, h, "name", f"); map another with --map "
                                            f"{canon}=<column> if that is wrong"))
    party = by_norm.get("particulars")
    if (s.CUSTOMER_ID not in cols and party is not None and party not in used
            and "vouchertype" in by_norm):
        # Tally's registers: 'Particulars' beside 'Voucher Type' is the party (the customer)
        cols[s.CUSTOMER_ID] = party
        used.add(party)
        assumptions.append(guessed_note(
            s.CUSTOMER_ID, party, "name", ": in a register with a 'Voucher Type' (Tally) it "
            f"is the party); map another with --map {s.CUSTOMER_ID}=<column> if that is wrong"))
    fallback = _named(by_norm, CUSTOMER_FALLBACK_NAMES, used)
    if s.CUSTOMER_ID not in cols and fallback is not None:
        cols[s.CUSTOMER_ID] = fallback
        used.add(fallback)
        assumptions.append(guessed_note(
            s.CUSTOMER_ID, fallback, "name",
            ": the file has no customer id or e-mail, so customers are told apart by it: two "
            "customers with the same one are read as one, one written two ways as two); map "
            f"another with --map {s.CUSTOMER_ID}=<column> if the file has an id"))
    contact = None
    if s.CUSTOMER_ID in cols and "email" in normalise(cols[s.CUSTOMER_ID]):
        contact = _named(by_norm, CONTACT_NAMES, used)
    if contact is not None:
        used.add(contact)
        assumptions.append(f"{s.CUSTOMER_ID} is the e-mail ({cols[s.CUSTOMER_ID]!r}), and on "
                           f"a line without one the account's name ({contact!r}): such a "
                           "line is that customer's, not a guest's")
    # an order export whose only money column per item is 'Item Cost' (WooCommerce): with no
    # price per item and at most the order's total, it is what the item sold for
    item_cost = by_norm.get("itemcost")
    if (s.UNIT_PRICE not in cols and item_cost is not None and item_cost not in used
            and (s.AMOUNT not in cols or normalise(cols[s.AMOUNT]) in ORDER_TOTAL_NAMES)):
        cols[s.UNIT_PRICE] = item_cost
        used.add(item_cost)
        assumptions.append(f"{s.UNIT_PRICE} read from column {item_cost!r}: the file has no "
                           "other price per item (an order export's item cost is what the "
                           "customer paid); map another with --map unit_price=<column> if "
                           "that is wrong")
    if s.AMOUNT in mapping and s.UNIT_PRICE in cols and s.UNIT_PRICE not in mapping:
        # the merchant named the line total: it is the line's value (after its discount, say),
        # not a column carried beside a price found by its name
        price = cols.pop(s.UNIT_PRICE)
        assumptions.append(f"{s.UNIT_PRICE} not read from column {price!r}: --map "
                           f"{s.AMOUNT}={cols[s.AMOUNT]} gives each line's total, so the unit "
                           "price is that total over the quantity; map --map "
                           f"{s.UNIT_PRICE}=<column> as well to take the price from a column")
    amount_given = s.UNIT_PRICE not in cols and s.AMOUNT in cols
    subtotal = next((h for h in headers if "subtotal" in normalise(h) and h not in used
                     and not any(w in normalise(h) for w in ("tax", "ship", "disc", "refund"))),
                    None)
    if (amount_given and s.AMOUNT not in mapping and subtotal is not None
            and normalise(cols[s.AMOUNT]) in _GROSS_TOTAL_NAMES):
        # an order export with both: the total adds tax and shipping, which are not sales
        assumptions.append(f"{s.AMOUNT} read from column {subtotal!r}, not {cols[s.AMOUNT]!r}: "
                           "an order's total adds tax and shipping, which are not the shop's "
                           f"sales; map --map {s.AMOUNT}={cols[s.AMOUNT]!r} to use the total")
        cols[s.AMOUNT] = subtotal
        used.add(subtotal)
    unused_total = None
    if s.UNIT_PRICE in cols and s.AMOUNT in cols:
        # both present: the unit price is the truth, a line total column is carried as is
        unused_total = cols.pop(s.AMOUNT)
    derived: dict[str, str] = {}
    if s.UNIT_PRICE in cols and s.QUANTITY not in cols:
        # one row per item sold (fashion and grocery item logs): each row is one unit
        derived[s.QUANTITY] = "1.0"
        assumptions.append(
            f"no quantity column: every row counts as one unit at its price "
            f"({cols[s.UNIT_PRICE]!r})" + (f", and the column {unused_total!r} is not used"
                                           if unused_total else "")
            + "; map one with --map quantity=<column> if the file has it")
    if amount_given and s.QUANTITY not in cols:
        # a receipt-style export: one line total per product line and no units
        derived[s.QUANTITY] = f"CASE WHEN {s.AMOUNT} < 0 THEN -1.0 ELSE 1.0 END"
        assumptions.append(f"no quantity column: every line counts as one unit priced at its "
                           f"line total ({cols[s.AMOUNT]!r}), and a negative total as one unit "
                           "returned; map one with --map quantity=<column> if the file has it")
    guest = guest_lines(cols)
    if guest:
        # a till's sales without a customer column (Kaggle's "Supermarket sales": Customer
        # type is Member/Normal): every line is a guest line, as a line with an empty id is
        assumptions.append(
            "no customer column: every line is a guest line, kept for revenue, products, "
            "forecasts and bought-together rules; customer models (segments, churn, CLV, "
            "plans) need customers and are skipped; name one with --map "
            "customer_id=<column> if the file has it, or give the orders file that has it")
    if s.ORDER_ID not in cols and (s.CUSTOMER_ID in cols or guest) and s.ORDERED_AT in cols:
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
    if (s.PRODUCT_ID not in cols and s.DESCRIPTION in cols
            and (s.CUSTOMER_ID in cols or guest) and s.ORDERED_AT in cols):
        # items without codes (a craft shop's Etsy export, a restaurant's menu items): the
        # product is its name
        derived[s.PRODUCT_ID] = _PRODUCT_IS_NAME
        assumptions.append(f"no product code column: each line's product is the one its name "
                           f"({cols[s.DESCRIPTION]!r}) says; map one with --map "
                           "product_id=<column> if the file has it")
    elif s.PRODUCT_ID not in cols and (s.CUSTOMER_ID in cols or guest) and s.ORDERED_AT in cols:
        # an order-level export (one row per order, no product lines)
        derived[s.PRODUCT_ID] = f"'{NO_PRODUCT}'"
        assumptions.append(f"no product column: every line is recorded as the product "
                           f"{NO_PRODUCT!r}, so customer models, plans and revenue forecasts "
                           "work, but recommendations and bought-together rules have no products "
                           "to learn from; map one with --map product_id=<column> if the file "
                           "has it")
    # one source of truth for margins: a profit column, else a cost column
    costs = next(({kind: by_norm[n]} for kind, names in _COST_NAMES.items() for n in names
                  if n in by_norm and by_norm[n] not in used), {})
    if costs:
        kind, col = next(iter(costs.items()))
        assumptions.append(
            f"{MARGIN_NOTE} {col!r} ("
            + {"line_profit": "profit of the line over its value",
               "line_cost": "1 - cost of the line over its value",
               "unit_cost": "1 - unit cost x quantity over the line's value"}[kind]
            + ", per product over its sales in this file) for products without a cost in the "
            "products table; plans use them instead of an assumed margin rate")
    status = _named(by_norm, _STATUS_NAMES, used)
    if status is not None:
        assumptions.append(f"rows whose {status!r} says cancelled, voided, failed, declined, "
                           "rejected, refunded, returned or charged back, that the payment "
                           "failed (payment error, card declined) or never came (pending "
                           "payment, unpaid)"
                           + (", or, as it is the payment's state, is still open (not paid)"
                              if names_payment(status) else "")
                           + ", are not sales and are quarantined as cancelled_order")
    void = _named(by_norm, _VOID_NAMES, used, status)
    if void is not None:
        assumptions.append(f"rows whose {void!r} is set (true, yes, ja, x, ...) are voided "
                           "lines, not sales, and are quarantined as cancelled_order")
    till = _named(by_norm, _TILL_NAMES, used)
    if till is not None and s.ORDER_ID in cols and s.ORDER_ID not in mapping:
        assumptions.append(f"{s.ORDER_ID} is the till ({till!r}) and the receipt "
                           f"({cols[s.ORDER_ID]!r}), till/receipt: each till numbers its own "
                           "receipts")
    else:
        till = None
    event = _named(by_norm, _EVENT_NAMES, used, status)
    if event is not None:
        assumptions.append(f"rows whose {event!r} is a view, click, search or cart change "
                           "(view, addtocart, ...) are not purchases and are quarantined as "
                           "not_a_purchase")
    rules_off: dict[str, str] = {}
    line = _named(by_norm, LINE_NUMBER_NAMES, used)
    if s.QUANTITY in derived:
        # a row is one unit: two identical rows are two units of one item, not a repeated row
        rules_off["exact_duplicate"] = (
            "the file has no quantity column, so each row is one unit: identical rows are "
            "several units of the same item")
    elif derived.get(s.PRODUCT_ID) == _PRODUCT_IS_NAME and line is None:
        # nothing on a row tells two items of one name and price apart (a till without
        # product codes: two products both called 'Metal Sign, Cupcake' at 1.25 on one
        # receipt), so a row repeated is no evidence of a repeated line; with a product code
        # (Online Retail) or a line number, the row names its item and the rule holds
        rules_off["exact_duplicate"] = (
            "the file has no product code and no line number, so two items of the same name, "
            "price and quantity on one receipt are identical rows: they are kept as sales")
    day_first = any(normalise(h) in DAY_FIRST_NAMES for h in cols.values())
    if day_first:
        assumptions.append(DAY_FIRST_NOTE)
    return Adapter(
        name="generic",
        columns=cols,
        rules_off=rules_off,
        status_column=status,
        payment_status=status is not None and names_payment(status),
        invoice_status=status is not None and names_invoice(cols.get(s.ORDER_ID)),
        customer_fallback=contact,
        void_column=void,
        till_column=till,
        event_column=event,
        cost_columns=costs,
        cancellation_sql=None,
        non_product_sql=(
            f"({_GENERIC_NON_PRODUCT_CODES} OR {_GENERIC_NON_PRODUCT_TEXT})"
            if s.DESCRIPTION in cols else _GENERIC_NON_PRODUCT_CODES
        ),
        amount_given=amount_given,
        derived=derived,
        assumptions=tuple(assumptions),
        day_first=day_first,
        mapped=frozenset(mapping),
        line_column=line if s.ORDER_ID in cols else None,
    )


#: how the note announcing margins from a cost or profit column begins (withdrawn when the
#: column turns out to be no cost: :func:`loyalist.ingest.transactions.derive_product_margins`)
MARGIN_NOTE = "product margins derived from the column"


def guest_lines(cols: Mapping[str, str]) -> bool:
    """Whether a file with the canonical columns ``cols`` is sales lines without any customer
    column: a date, a price or line total, and a product or an order id. Order lines whose
    customer and date are in an orders file have no date
    (:func:`~loyalist.ingest.required.check_required` asks for it)."""
    return (s.CUSTOMER_ID not in cols and s.ORDERED_AT in cols
            and bool({s.UNIT_PRICE, s.AMOUNT} & set(cols))
            and bool({s.PRODUCT_ID, s.ORDER_ID} & set(cols)))


def may_be_order_date(header: str) -> bool:
    """Whether a column's name allows it to be the order date when its values are dates: not
    a delivery, shipping, payment, birth or other date that the words of a name rule out
    (:data:`_BY_WORDS`)."""
    return not any(x.startswith(_BY_WORDS[s.ORDERED_AT].none_of) for x in words(header))


def found_columns(headers: Sequence[str], mapping: Mapping[str, str],
                  empty: Collection[str] = ()) -> Mapping[str, str]:
    """The canonical columns the generic reader finds in one file among several given
    together: ``--map`` entries naming one of its columns, then names and synonyms (not
    the ``empty`` columns)."""
    own = {k: v for k, v in mapping.items() if v in headers}
    return generic(headers, own, empty).columns


def detect(headers: Sequence[str], empty: Collection[str] = ()) -> Adapter:
    """Pick an adapter from the file's headers (``--format auto``)."""
    h = set(headers)
    for a in (ONLINE_RETAIL_II, ONLINE_RETAIL):
        core = {a.columns[c] for c in (s.ORDER_ID, s.PRODUCT_ID, s.ORDERED_AT, s.UNIT_PRICE,
                                       s.CUSTOMER_ID)}
        if core <= h:  # Description and Country are optional (a trimmed export)
            return replace(a, columns={k: v for k, v in a.columns.items() if v in h})
    if {"customer_id", "date", "quantity", "amount"} <= h and s.ORDER_ID not in h \
            and s.PRODUCT_ID not in h:
        return CDNOW
    return generic(headers, empty=empty)


def by_name(fmt: str, headers: Sequence[str], mapping: Mapping[str, str] | None,
            empty: Collection[str] = ()) -> Adapter:
    """The adapter ``--format fmt`` (and ``--map``) names for a file; the generic reader
    guesses no ``empty`` column."""
    if mapping and fmt not in ("auto", "generic"):
        raise DataError(f"--map works with --format generic (or auto), not --format {fmt}")
    if mapping:
        return generic(headers, mapping, empty)
    if fmt == "auto":
        return detect(headers, empty)
    if fmt == "online-retail":
        a = ONLINE_RETAIL_II if "Invoice" in headers else ONLINE_RETAIL
    elif fmt == "cdnow":
        a = CDNOW
        if is_positional(headers) and len(headers) in CDNOW_TEXT_LAYOUTS:
            # the text files as distributed have no header row: their documented layout
            a = replace(CDNOW, columns={c: h for c, h in zip(
                CDNOW_TEXT_LAYOUTS[len(headers)], headers, strict=True) if c != "sample_id"})
    elif fmt == "generic":
        a = generic(headers, empty=empty)
    else:
        raise DataError(f"--format {fmt!r} is unknown; use auto, online-retail, cdnow or generic")
    missing = [src for src in a.columns.values() if src not in headers]
    if missing and fmt != "generic":
        raise DataError(
            f"--format {fmt}: the file lacks column(s) {', '.join(missing)}; "
            f"its columns are: {', '.join(headers)}"
        )
    return a
