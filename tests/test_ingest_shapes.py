"""Transaction files in the shapes other tools and public data sets export them: orders and
order lines in two files, item logs without quantities, columns named in ways no synonym
covers, order status columns, day numbers instead of dates."""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from conftest import HEBREW_NAMES, LOADED_AT, hebrew_till, line, write_csv

from loyalist.errors import DataError, ParameterError
from loyalist.ingest import ingest_files
from loyalist.ingest.adapters import is_guessed_note
from loyalist.ingest.read import GUESSED
from loyalist.store import Store


def _ingest(tmp_path: Path, files: list[Path], **kw: object) -> tuple[Store, list[dict]]:
    st = Store(tmp_path / "s.duckdb")
    return st, ingest_files(st, files, loaded_at=LOADED_AT, **kw)  # type: ignore[arg-type]


def _orders_and_items(tmp_path: Path) -> tuple[Path, Path]:
    """An e-shop export in two files (the Olist layout): orders with customer, status and
    several dates; items with order id, product, price and freight."""
    orders = [
        {"order_id": "o1", "customer_id": "c1", "order_status": "delivered",
         "order_purchase_timestamp": "2024-01-02 10:00:00",
         "order_approved_at": "2024-01-02 11:00:00",
         "order_delivered_customer_date": "2024-01-05 16:00:00"},
        {"order_id": "o2", "customer_id": "c2", "order_status": "canceled",
         "order_purchase_timestamp": "2024-01-03 09:00:00",
         "order_approved_at": "", "order_delivered_customer_date": ""},
        {"order_id": "o3", "customer_id": "c1", "order_status": "delivered",
         "order_purchase_timestamp": "2024-02-01 12:30:00",
         "order_approved_at": "2024-02-01 12:40:00",
         "order_delivered_customer_date": "2024-02-04 10:00:00"},
        # the same order id again (a re-export): the first row is used
        {"order_id": "o3", "customer_id": "c9", "order_status": "delivered",
         "order_purchase_timestamp": "2024-03-01 12:30:00",
         "order_approved_at": "", "order_delivered_customer_date": ""},
        # an order with no lines
        {"order_id": "o4", "customer_id": "c3", "order_status": "delivered",
         "order_purchase_timestamp": "2024-02-10 08:00:00",
         "order_approved_at": "", "order_delivered_customer_date": ""},
    ]
    items = [
        {"order_id": "o1", "order_item_id": 1, "product_id": "p1",
         "shipping_limit_date": "2024-01-04 00:00:00", "price": 10.0, "freight_value": 2.0},
        {"order_id": "o1", "order_item_id": 2, "product_id": "p1",
         "shipping_limit_date": "2024-01-04 00:00:00", "price": 10.0, "freight_value": 2.0},
        {"order_id": "o2", "order_item_id": 1, "product_id": "p2",
         "shipping_limit_date": "2024-01-05 00:00:00", "price": 30.0, "freight_value": 4.0},
        {"order_id": "o3", "order_item_id": 1, "product_id": "p2",
         "shipping_limit_date": "2024-02-03 00:00:00", "price": 30.0, "freight_value": 4.0},
        {"order_id": "o9", "order_item_id": 1, "product_id": "p3",  # its order is missing
         "shipping_limit_date": "2024-02-03 00:00:00", "price": 5.0, "freight_value": 1.0},
    ]
    return (write_csv(tmp_path / "order_items.csv", items),
            write_csv(tmp_path / "orders.csv", orders))


def test_orders_and_order_lines_in_two_files_are_joined(tmp_path: Path) -> None:
    items, orders = _orders_and_items(tmp_path)
    st, (rl, rh) = _ingest(tmp_path, [items, orders])
    # the lines: customer and purchase date from the orders file (not the delivery dates)
    assert rl["columns"]["customer_id"] == "customer_id"
    assert rl["columns"]["ordered_at"] == "order_purchase_timestamp"
    assert rl["rows_read"] == 5 and rl["rows_loaded"] == 3
    assert rl["rules"]["order_not_found"] == 1 and rl["rules"]["cancelled_order"] == 1
    assert any("joined with the orders of 'orders.csv'" in a for a in rl["assumptions"])
    got = st.query("SELECT order_id, customer_id, ordered_at, quantity, unit_price "
                   "FROM transactions ORDER BY source_row")
    assert got.order_id.tolist() == ["o1", "o1", "o3"]
    assert got.customer_id.tolist() == ["c1", "c1", "c1"]  # o3's first header row
    assert got.ordered_at.tolist() == [pd.Timestamp("2024-01-02 10:00"),
                                       pd.Timestamp("2024-01-02 10:00"),
                                       pd.Timestamp("2024-02-01 12:30")]
    # no quantity column: each item row is one unit, and identical rows are two units
    assert got.quantity.tolist() == [1.0, 1.0, 1.0]
    assert st.query("SELECT sum(amount) AS s FROM transactions").s[0] == 50.0
    # the orders file: every row loaded or quarantined, with its reason
    assert rh["format"] == "order headers"
    assert (rh["rows_read"], rh["rows_loaded"], rh["rows_quarantined"]) == (5, 3, 2)
    assert rh["rules"] == {"duplicate_order": 1, "order_without_lines": 1}
    q = st.query("SELECT load_id, source_row, rule FROM quarantine ORDER BY load_id, source_row")
    assert list(q.itertuples(index=False, name=None)) == [
        (rl["load_id"], 3, "cancelled_order"), (rl["load_id"], 5, "order_not_found"),
        (rh["load_id"], 4, "duplicate_order"), (rh["load_id"], 5, "order_without_lines")]
    # given in the other order, the same result
    (tmp_path / "b").mkdir()
    st2, reps = _ingest(tmp_path / "b", [orders, items])
    assert [r["rows_loaded"] for r in reps] == [3, 3]
    assert st2.query("SELECT count(*) AS n FROM transactions").n[0] == 3


def test_one_half_of_an_order_export_says_what_is_missing(tmp_path: Path) -> None:
    items, orders = _orders_and_items(tmp_path)
    with pytest.raises(DataError, match="order lines without their orders: give the orders"):
        _ingest(tmp_path, [items])
    with pytest.raises(DataError, match="order headers without lines or totals"):
        _ingest(tmp_path, [orders])
    assert not (tmp_path / "s.duckdb").exists() or Store(tmp_path / "s.duckdb").count(
        "transactions") == 0
    # an orders file without dates (order numbers and weekdays instead): says what it lacks
    undated = write_csv(tmp_path / "orders_undated.csv", [
        {"order_id": "o1", "user_id": 1, "order_number": 1, "order_dow": 2}])
    with pytest.raises(DataError, match=r"orders_undated.csv has order ids but no ordered_at "
                                        r"column, so the order lines of order_items.csv"):
        _ingest(tmp_path, [items, undated])


def test_item_log_without_quantity_or_order_id(tmp_path: Path) -> None:
    """One row per item sold (the H&M layout: t_dat, customer_id, article_id, price): the
    date is found by its name, each row is one unit, and identical rows are not duplicates."""
    rows = [{"t_dat": "2020-09-01", "customer_id": "a", "article_id": "x", "price": 0.05,
             "sales_channel_id": 2}] * 3 + [
            {"t_dat": "2020-09-02", "customer_id": "b", "article_id": "y", "price": 0.02,
             "sales_channel_id": 1}]
    st, (rep,) = _ingest(tmp_path, [write_csv(tmp_path / "t.csv", rows)])
    assert rep["columns"]["ordered_at"] == "t_dat"
    assert rep["rows_loaded"] == 4 and "exact_duplicate" not in rep["rules"]
    assert rep["orders"] == 2
    assert st.query("SELECT sum(quantity) AS q FROM transactions").q[0] == 4
    assert any(a.startswith("ordered_at read from column 't_dat' (found by its name)")
               for a in rep["assumptions"])


def test_columns_found_by_the_words_of_their_names(tmp_path: Path) -> None:
    """A household panel (household_key, BASKET_ID, SALES_VALUE) and a grocery log
    (TRANSACTION_DT): no synonym names them, their words do."""
    rows = [{"household_key": 7, "BASKET_ID": 100, "PURCHASE_DT": "2021-03-04",
             "PRODUCT_ID": 55, "QUANTITY": 2, "SALES_VALUE": 3.98, "RETAIL_DISC": -0.5}]
    _, (rep,) = _ingest(tmp_path, [write_csv(tmp_path / "t.csv", rows)])
    assert rep["columns"] == {"customer_id": "household_key", "order_id": "BASKET_ID",
                              "ordered_at": "PURCHASE_DT", "product_id": "PRODUCT_ID",
                              "quantity": "QUANTITY", "amount": "SALES_VALUE"}
    assert rep["rows_loaded"] == 1


def test_two_date_columns_of_equal_standing_are_not_guessed(tmp_path: Path) -> None:
    rows = [{"customer": "a", "sku": "x", "qty": 1, "price": 2.0, "first_dt": "2024-01-01",
             "second_dt": "2024-01-02"}]
    with pytest.raises(DataError, match=r"missing required column.*ordered_at.* Its columns "
                                        r"'first_dt', 'second_dt' hold dates: name the order "
                                        r"date, e.g. --map ordered_at=first_dt"):
        _ingest(tmp_path, [write_csv(tmp_path / "t.csv", rows)])
    assert not (tmp_path / "s.duckdb").exists() or Store(tmp_path / "s.duckdb").count(
        "transactions") == 0


#: the same four days as each language's shop prints them (some with a time)
_NAMED_MONTHS = [
    ("Datum", ["29. Jan. 2024", "6. Juni 2024", "1. März 2024 14:05", "1. Okt. 2024"]),
    ("Date", ["29 janv. 2024", "6 juin 2024", "1er mars 2024", "1 oct. 2024"]),
    ("Fecha", ["29 de enero de 2024", "6 de junio de 2024", "1 de marzo de 2024",
               "1 de octubre de 2024"]),
    ("Data", ["29 gennaio 2024", "6 giugno 2024", "1 marzo 2024", "1 ottobre 2024"]),
    ("Datum", ["29 januari 2024", "6 juni 2024", "1 maart 2024", "1 okt 2024"]),
    # with the weekday, as a long date format prints it
    ("Datum", ["Montag, 29. Januar 2024", "Donnerstag, 6. Juni 2024", "Fr., 1. März 2024",
               "Dienstag, 1. Oktober 2024"]),
    ("Date", ["lundi 29 janvier 2024", "jeudi 6 juin 2024", "vendredi 1er mars 2024",
              "mardi 1 octobre 2024"]),
    ("Fecha", ["lunes, 29 de enero de 2024", "jueves, 6 de junio de 2024",
               "viernes, 1 de marzo de 2024", "martes, 1 de octubre de 2024"]),
    # no month names, but a shop's own way of writing dates all the same
    ("Date", ["2024年1月29日", "2024年6月6日", "2024年3月1日 14:05", "2024年10月1日"]),
    ("Date", ["2024. 1. 29.", "2024. 6. 6.", "2024. 3. 1. 14:05", "2024. 10. 1."]),
    ("Date", ["Monday, January 29, 2024", "Thursday, June 6, 2024", "Friday, March 1, 2024",
              "Tuesday, October 1, 2024"]),
    ("Date", ["29/01/2024", "06/06/2024", "01/03/2024 14h05", "01/10/2024"]),
    # a JavaScript app's Date.toString() and Oracle's default format
    ("Date", ["Mon Jan 29 2024 00:00:00 GMT+0100 (Central European Standard Time)",
              "Thu Jun 06 2024 00:00:00 GMT+0200 (Central European Summer Time)",
              "Fri Mar 01 2024 14:05:00 GMT+0100 (Central European Standard Time)",
              "Tue Oct 01 2024 00:00:00 GMT+0200 (Central European Summer Time)"]),
    ("Date", ["29-JAN-24 12.00.00.000000 AM", "06-JUN-24 12.00.00.000000 AM",
              "01-MAR-24 02.05.00.000000 PM", "01-OCT-24 12.00.00.000000 AM"]),
    # compact date and time, which the CSV reader types as integers
    ("Date", ["20240129000000", "20240606000000", "20240301140500", "20241001000000"]),
    # 12-hour clocks as other locales write them: Spanish Excel, Korean and Chinese (the
    # marker before the time), lower case after an ISO date (a cast to TIMESTAMP read 2:05 pm
    # as 02:05), SQL Server's default, C's asctime, a spreadsheet's 'at'
    ("Fecha", ["29/01/2024 12:00:00 a. m.", "06/06/2024 12:00:00 a. m.",
               "01/03/2024 02:05:00 p. m.", "01/10/2024 12:00:00 a. m."]),
    ("Date", ["2024-01-29 오전 12:00:00", "2024-06-06 오전 12:00:00", "2024-03-01 오후 2:05:00",
              "2024-10-01 오전 12:00:00"]),
    ("Date", ["2024/1/29 上午12:00", "2024/6/6 上午12:00", "2024/3/1 下午2:05",
              "2024/10/1 上午12:00"]),
    ("Date", ["2024-01-29 12:00 am", "2024-06-06 12:00 am", "2024-03-01 2:05 pm",
              "2024-10-01 12:00 am"]),
    ("Date", ["Jan 29 2024 12:00AM", "Jun  6 2024 12:00AM", "Mar  1 2024  2:05PM",
              "Oct  1 2024 12:00AM"]),
    ("Date", ["Mon Jan 29 00:00:00 2024", "Thu Jun  6 00:00:00 2024",
              "Fri Mar  1 14:05:00 2024", "Tue Oct  1 00:00:00 2024"]),
    # English ordinal days, and a database's fractional seconds after a day-first date
    ("Date", ["January 29th, 2024", "6th June 2024", "1st Mar 2024 14:05", "October 1st, 2024"]),
    ("Date", ["29/01/2024 00:00:00.000", "06/06/2024 00:00:00.000", "01/03/2024 14:05:00.000",
              "01/10/2024 00:00:00.000"]),
    # milliseconds after a comma (Python's logging), an Italian or Finnish dotted time
    ("Date", ["2024-01-29 00:00:00,000", "2024-06-06 00:00:00,000", "2024-03-01 14:05:00,000",
              "2024-10-01 00:00:00,000"]),
    ("Data", ["29/01/2024 00.00", "06/06/2024 00.00", "01/03/2024 14.05", "01/10/2024 00.00"]),
    ("Date", ["29.1.2024 0.00", "6.6.2024 0.00", "1.3.2024 14.05", "1.10.2024 0.00"]),
    ("Date", ["January 29, 2024 at 12:00 AM", "June 6, 2024 at 12:00 AM",
              "March 1, 2024 at 2:05 PM", "October 1, 2024 at 12:00 AM"]),
    # a 24-hour time after a word (English, German, French, Spanish), a web server's access
    # log (brackets and the offset: the clock time shown is kept), an offset after a time
    ("Date", ["29 January 2024 at 00:00", "6 June 2024 at 00:00", "1 March 2024 at 14:05",
              "1 October 2024 at 00:00"]),
    ("Datum", ["29. Januar 2024 um 00:00", "6. Juni 2024 um 00:00", "1. März 2024 um 14:05",
               "1. Oktober 2024 um 00:00"]),
    ("Date", ["29 janvier 2024 à 00:00", "6 juin 2024 à 00:00", "1 mars 2024 à 14:05",
              "1 octobre 2024 à 00:00"]),
    ("Fecha", ["29 de enero de 2024 a las 00:00", "6 de junio de 2024 a las 00:00",
               "1 de marzo de 2024 a las 14:05", "1 de octubre de 2024 a las 00:00"]),
    ("Date", ["[29/Jan/2024:00:00:00 +0000]", "[06/Jun/2024:00:00:00 +0000]",
              "[01/Mar/2024:14:05:00 +0100]", "[01/Oct/2024:00:00:00 -0500]"]),
    ("Date", ["29/Jan/2024:00:00:00 +0000", "06/Jun/2024:00:00:00 +0000",
              "01/Mar/2024:14:05:00 +0100", "01/Oct/2024:00:00:00 -0500"]),
    ("Date", ["29.01.2024 00:00 +0100", "06.06.2024 00:00 +0200", "01.03.2024 14:05 +0100",
              "01.10.2024 00:00 +0200"]),
    # eBay's orders report, Clover's line items (a zone's abbreviation after a 12-hour time),
    # an ISO date with a 12-hour time and a zone (not read as 02:05)
    ("Sale Date", ["Jan-29-24", "Jun-06-24", "Mar-01-24", "Oct-01-24"]),
    ("Date", ["29-Jan-2024 12:00 AM EST", "06-Jun-2024 12:00 AM EDT", "01-Mar-2024 02:05 PM EST",
              "01-Oct-2024 12:00 AM EDT"]),
    ("Date", ["2024-01-29 12:00 AM PST", "2024-06-06 12:00 AM PDT", "2024-03-01 02:05 PM PST",
              "2024-10-01 12:00 AM PDT"]),
]


@pytest.mark.parametrize(("header", "dates"), _NAMED_MONTHS)
def test_dates_as_shops_in_other_languages_write_them(tmp_path: Path, header: str,
                                                      dates: list[str]) -> None:
    """A shop's export with dates as it prints them ('30. Juni 2024', '1er mars 2024',
    '30 de junio de 2024', '2024年6月30日', '2024. 6. 30.'): each is read."""
    path = tmp_path / "t.csv"
    rows = "".join(f"o{i};c{i};{d};p1;1;2,50\n" for i, d in enumerate(dates))
    path.write_text(f"Bestellnummer;Kunde;{header};Artikel;Menge;Preis\n{rows}",
                    encoding="utf-8")
    st, (rep,) = _ingest(tmp_path, [path])
    assert rep["rows_loaded"] == 4 and rep["rows_quarantined"] == 0, rep["rules"]
    got = st.query("SELECT order_id, ordered_at FROM transactions ORDER BY order_id")
    third = ("2024-03-01 14:05:00" if re.search("14|PM|pm|p. m.|오후|下午", dates[2])
             else "2024-03-01 00:00:00")
    assert [str(x) for x in got.ordered_at] == [
        "2024-01-29 00:00:00", "2024-06-06 00:00:00", third, "2024-10-01 00:00:00"]


def _till_export(where: Path, lines: list[str], loaded: int | None = None
                 ) -> tuple[Store, dict]:
    """A German till's export of ``lines`` (receipt;customer;date;item;quantity;price),
    ingested; ``loaded`` lines loaded and the others quarantined (default: every line)."""
    where.mkdir(exist_ok=True)
    path = where / "kasse.csv"
    path.write_text("Bon;Kunde;Datum;Artikel;Menge;Preis\n" + "".join(f"{x}\n" for x in lines),
                    encoding="utf-8")
    st, (rep,) = _ingest(where, [path])
    loaded = len(lines) if loaded is None else loaded
    assert rep["rows_loaded"] == loaded, rep["rules"]
    assert rep["rows_quarantined"] == len(lines) - loaded, rep["rules"]
    return st, rep


def test_quantities_in_grams_beside_kilograms_are_one_unit(tmp_path: Path) -> None:
    """A deli till that weighs in grams on one scale and kilograms on another ('500 g' and
    '0,5 kg', prices per kg or per litre): each is read in the larger unit, so the 500 g line
    costs 6.00 and not 6,000.00; counted items keep their numbers, and the report says so."""
    st, rep = _till_export(tmp_path, [
        "B1;K1;05.01.2024;Käse;500 g;12,00", "B1;K1;05.01.2024;Käse;0,5 kg;12,00",
        "B2;K2;06.01.2024;Brot;2 Stk.;1,50", "B3;K2;07.01.2024;Öl;250 ml;8,00",
        "B3;K2;07.01.2024;Öl;1 l;8,00"])
    got = st.query("SELECT quantity, amount FROM transactions ORDER BY source_row")
    assert got.quantity.tolist() == pytest.approx([0.5, 0.5, 2.0, 0.25, 1.0])
    assert got.amount.tolist() == pytest.approx([6.0, 6.0, 3.0, 2.0, 8.0])
    assert any("mixes units of one kind: each is read in kg and l (g as 0.001 kg; ml as "
               "0.001 l)" in a for a in rep["assumptions"]), rep["assumptions"]


def test_amounts_in_indian_grouping_and_other_currency_signs(tmp_path: Path) -> None:
    """₹1,23,456.00 (lakhs: groups of two above the thousands), ₩, ₺ and Swiss 1'234.50: each
    amount is read as written, none quarantined."""
    rows = [{"order_id": f"o{i}", "customer_id": "c1", "date": f"2024-01-0{i + 1}",
             "product_id": "p1", "quantity": 1, "price": v}
            for i, v in enumerate(["₹1,23,456.00", "₹12,34,567.5", "1,000.00", "₩15,000",
                                   "₺99.90", "CHF 1'234.50"])]
    st, (rep,) = _ingest(tmp_path, [write_csv(tmp_path / "t.csv", rows)])
    assert rep["rows_loaded"] == 6 and rep["rows_quarantined"] == 0, rep["rules"]
    got = st.query("SELECT unit_price FROM transactions ORDER BY order_id").unit_price
    assert list(got) == [123456.0, 1234567.5, 1000.0, 15000.0, 99.9, 1234.5]


def test_negatives_written_with_the_minus_sign(tmp_path: Path) -> None:
    """A Swedish till (and Apple's Numbers) writes negatives with the minus sign U+2212:
    '−1' is a returned unit and '−2,50' a discount line, read as numbers, not quarantined."""
    st, rep = _till_export(tmp_path, [
        "B1;K1;05.01.2024;A1;2;1 234,50", "B2;K1;06.01.2024;A1;\u22121;1 234,50",
        "B3;K2;07.01.2024;A2;1;12,00"])
    got = st.query("SELECT quantity, amount FROM transactions ORDER BY source_row")
    assert got.quantity.tolist() == [2.0, -1.0, 1.0]
    assert got.amount.tolist() == [2469.0, -1234.5, 12.0]
    assert rep["rules"]["return"] == 1


def test_spreadsheet_error_values_are_empty_cells(tmp_path: Path) -> None:
    """An export assembled in a spreadsheet whose lookups failed in places (#NV, German
    Excel's #N/A; #WERT!, its #VALUE!): a customer's error makes a guest line, a product's or
    a price's a quarantined one, never a customer or product called '#NV'; the report names
    the columns."""
    st, rep = _till_export(tmp_path, [
        "B1;K1;05.01.2024;A1;2;1,50", "B2;#NV;06.01.2024;A1;1;1,50",
        "B3;K2;07.01.2024;#NV;1;4,00", "B4;K2;08.01.2024;A2;1;#WERT!",
        "B5;K3;09.01.2024;A2;1;4,00"], loaded=3)
    assert rep["rules"]["guest"] == 1
    assert rep["rules"]["missing_product_id"] == 1 and rep["rules"]["unparseable_price"] == 1
    assert st.query("SELECT count(*) AS n FROM transactions WHERE customer_id LIKE '#%' "
                    "OR product_id LIKE '#%'").n[0] == 0
    assert any(a.startswith("cells holding a spreadsheet's error value") and "'Kunde'" in a
               and "'Artikel'" in a and "'#WERT!'" in a for a in rep["assumptions"])


def test_quantities_written_with_their_unit(tmp_path: Path) -> None:
    """A till that prints the unit beside the quantity ('2 Stk.', '0,5 kg', '3x', '1 pcs'):
    the numbers are read, decimal commas included, and the report says the units were left
    out; a plain quantity column says nothing of units."""
    st, rep = _till_export(tmp_path, [
        "B1;K1;05.01.2024;A1;2 Stk.;1,50", "B1;K1;05.01.2024;A2;0,5 kg;12,00",
        "B2;K2;06.01.2024;A1;3x;1,50", "B3;K2;07.01.2024;A3;1 pcs;4,00"])
    got = st.query("SELECT quantity, amount FROM transactions ORDER BY source_row")
    assert got.quantity.tolist() == [2.0, 0.5, 3.0, 1.0]
    assert got.amount.tolist() == [3.0, 6.0, 4.5, 4.0]
    assert any(a.startswith("quantity ('Menge') is written with units (e.g. '2 Stk.')")
               for a in rep["assumptions"]), rep["assumptions"]
    (tmp_path / "p").mkdir()
    plain = write_csv(tmp_path / "p" / "t.csv", [
        {"order_id": "o1", "customer_id": "c1", "date": "2024-01-05", "product_id": "p1",
         "quantity": "2", "price": 1.5}])
    _, (rep2,) = _ingest(tmp_path / "p", [plain])
    assert not any("written with units" in a for a in rep2["assumptions"])


def test_the_one_column_holding_dates_is_the_order_date_whatever_its_name(
        tmp_path: Path) -> None:
    """A German till export (Bon, Kunde, Zeitpunkt, ...; semicolons, decimal commas, times
    with their offset): no synonym names 'Zeitpunkt', but it is the only column whose values
    are dates, so it is read as the order date and the report says so; the weights sold by
    the kilo and the local times are kept as written. A numeric column is never taken for
    dates (its values could be ids or amounts)."""
    path = tmp_path / "kasse.csv"
    path.write_text("Bon;Kunde;Zeitpunkt;Artikel;Menge;Einzelpreis;Filiale\n"
                    "B1;K1;2024-04-08T09:11:00+01:00;A5;0,881;1,35;F0\n"
                    "B1;K1;2024-04-08T09:11:00+01:00;A66;2;5,62;F0\n"
                    "B2;K2;2024-04-09T17:40:00+01:00;A5;1,5;1,35;F1\n", encoding="utf-8")
    st, (rep,) = _ingest(tmp_path, [path])
    assert rep["columns"]["ordered_at"] == "Zeitpunkt" and rep["rows_loaded"] == 3
    assert any(a.startswith("ordered_at read from column 'Zeitpunkt' (found by its values")
               for a in rep["assumptions"]), rep["assumptions"]
    got = st.query("SELECT ordered_at, quantity FROM transactions ORDER BY ordered_at, "
                   "quantity")
    assert [str(x) for x in got.ordered_at] == ["2024-04-08 09:11:00"] * 2 + [
        "2024-04-09 17:40:00"]
    assert list(got.quantity) == [0.881, 2.0, 1.5]
    # beside a shipping date, still the one: a delivery or shipping date is never the order's
    ship = tmp_path / "kasse2.csv"
    ship.write_text("Bon;Kunde;Zeitpunkt;Artikel;Menge;Einzelpreis;shipped_on\n"
                    "B1;K1;2024-04-08T09:11:00+01:00;A5;0,881;1,35;2024-04-10\n",
                    encoding="utf-8")
    (tmp_path / "s2").mkdir()
    _, (rep2,) = _ingest(tmp_path / "s2", [ship])
    assert rep2["columns"]["ordered_at"] == "Zeitpunkt"
    # the same sales with the date as yyyymmdd numbers under an unknown name: not guessed
    numeric = write_csv(tmp_path / "n.csv", [
        {"order_id": "o1", "customer_id": "a", "product_id": "x", "quantity": 1,
         "unit_price": 2.0, "stempel": 20240105}])
    (tmp_path / "n").mkdir()
    with pytest.raises(DataError, match="missing required column.*ordered_at"):
        _ingest(tmp_path / "n", [numeric])


def test_order_status_cancelled_rows_are_quarantined(tmp_path: Path) -> None:
    rows = [{"Order": f"o{i}", "Customer": "c", "Date": "2024-01-02", "SKU": "x", "Qty": 1,
             "Price": 5.0, "Financial Status": st}
            for i, st in enumerate(["paid", "voided", "Cancelled", "refunded", "pending",
                                    "partially_refunded", "Returned", "chargeback"])]
    st, (rep,) = _ingest(tmp_path, [write_csv(tmp_path / "t.csv", rows)])
    # a wholly refunded, returned or charged-back order is no sale; a partial refund is
    assert rep["rules"]["cancelled_order"] == 5 and rep["rows_loaded"] == 3
    assert sorted(st.query("SELECT order_id FROM transactions").order_id) == ["o0", "o4", "o5"]
    assert any("'Financial Status' says cancelled" in a for a in rep["assumptions"])


def test_day_numbers_instead_of_dates_are_one_clear_error(tmp_path: Path) -> None:
    rows = [{"household_key": 1, "BASKET_ID": i, "DAY": 1 + i, "PRODUCT_ID": 3,
             "QUANTITY": 1, "SALES_VALUE": 2.0} for i in range(5)]
    f = write_csv(tmp_path / "t.csv", rows)
    with pytest.raises(DataError, match=r"'DAY' .*numbers from 1 to 5, which look like day.*"
                                        r"--day-one YYYY-MM-DD"):
        _ingest(tmp_path, [f], mapping=["ordered_at=DAY"])


def test_a_panel_without_day_one_is_pointed_at_its_day_column(tmp_path: Path) -> None:
    """A household panel's clock time (TRANS_TIME 0803) is taken for the date without
    --day-one; the error names the day-number column the user must date, not only the time."""
    rows = [{"household_key": 1, "BASKET_ID": i, "DAY": 1 + i, "PRODUCT_ID": 3,
             "QUANTITY": 1, "SALES_VALUE": 2.0, "TRANS_TIME": f"{800 + 100 * i:04d}"}
            for i in range(5)]
    f = write_csv(tmp_path / "t.csv", rows)
    with pytest.raises(DataError, match=r"'TRANS_TIME'.*day-number column 'DAY'.*--day-one"):
        _ingest(tmp_path, [f])


def test_web_shop_export_with_order_details_on_the_first_line_only(tmp_path: Path) -> None:
    """A web-shop order export: line item columns named 'Lineitem sku/quantity/price', and the
    customer and date written on an order's first line only; the other lines take them from
    it. A line whose order has no customer anywhere stays a guest line."""
    head = {"Order No": "#1001", "Email": "a@x.io", "Financial Status": "paid",
            "Created at": "2024-03-01 10:00:00", "Lineitem name": "Mug", "Lineitem sku": "M1",
            "Lineitem quantity": 2, "Lineitem price": 8.0, "Lineitem compare at price": 10.0,
            "Total": 21.0}
    rows = [head,
            {"Order No": "#1001", "Lineitem name": "Tea", "Lineitem sku": "T1",
             "Lineitem quantity": 1, "Lineitem price": 5.0},
            {"Order No": "#1002", "Email": "b@x.io", "Financial Status": "voided",
             "Created at": "2024-03-02 11:00:00", "Lineitem name": "Mug", "Lineitem sku": "M1",
             "Lineitem quantity": 1, "Lineitem price": 8.0, "Total": 8.0},
            {"Order No": "#1003", "Created at": "2024-03-03 12:00:00", "Lineitem name": "Tea",
             "Lineitem sku": "T1", "Lineitem quantity": 1, "Lineitem price": 5.0, "Total": 5.0}]
    st, (rep,) = _ingest(tmp_path, [write_csv(tmp_path / "orders_export.csv", rows)])
    assert {k: rep["columns"][k] for k in ("order_id", "customer_id", "ordered_at", "product_id",
                                           "quantity", "unit_price", "description")} == {
        "order_id": "Order No", "customer_id": "Email", "ordered_at": "Created at",
        "product_id": "Lineitem sku", "quantity": "Lineitem quantity",
        "unit_price": "Lineitem price", "description": "Lineitem name"}
    assert rep["rows_loaded"] == 3 and rep["rules"]["cancelled_order"] == 1
    got = st.query("SELECT order_id, customer_id, ordered_at, is_guest FROM transactions "
                   "ORDER BY source_row")
    assert got.customer_id.tolist()[:2] == ["a@x.io", "a@x.io"]
    assert got.ordered_at.tolist()[1] == pd.Timestamp("2024-03-01 10:00")
    assert got.is_guest.tolist() == [False, False, True]
    assert any(a.startswith("1 line(s) with an empty customer_id ('Email') took it from another")
               for a in rep["assumptions"])
    assert any(a.startswith("1 line(s) with an empty ordered_at") for a in rep["assumptions"])


def test_several_currencies_are_stated(tmp_path: Path) -> None:
    rows = [{"Order": f"o{i}", "Customer": "c", "Date": "2024-01-02", "SKU": "x", "Qty": 1,
             "Price": 5.0, "Currency": cur} for i, cur in enumerate(["EUR", "eur", "USD", ""])]
    _, (rep,) = _ingest(tmp_path, [write_csv(tmp_path / "t.csv", rows)])
    assert rep["rows_loaded"] == 4
    assert [a for a in rep["assumptions"] if "currencies" in a] == [
        "the column 'Currency' holds 2 currencies (EUR on 2 rows, USD on 1 row): EUR, the most "
        "common, is the store's, and the 1 row(s) in the others are added up as they are, "
        "without exchange rates; convert them to EUR before loading for revenue, value and "
        "plans in one currency"]
    (tmp_path / "one").mkdir()
    _, (rep,) = _ingest(tmp_path / "one", [write_csv(tmp_path / "one" / "t.csv",
                                                     [dict(r, Currency="EUR") for r in rows])])
    assert not any("currencies" in a for a in rep["assumptions"])


def test_day_numbers_with_the_date_of_day_one(tmp_path: Path) -> None:
    """A household panel that numbers its days (DAY = 1, 2, ...) and writes the time as a
    number (TRANS_TIME = 826 for 8:26): with --day-one the days become dates, DAY is found
    without --map, and the time is kept."""
    rows = [{"household_key": 1, "BASKET_ID": 10, "DAY": 1, "PRODUCT_ID": 3, "QUANTITY": 2,
             "SALES_VALUE": 4.0, "TRANS_TIME": 826},
            {"household_key": 1, "BASKET_ID": 11, "DAY": 32, "PRODUCT_ID": 3, "QUANTITY": 1,
             "SALES_VALUE": 2.0, "TRANS_TIME": 1631},
            {"household_key": 2, "BASKET_ID": 12, "DAY": 2.5, "PRODUCT_ID": 3, "QUANTITY": 1,
             "SALES_VALUE": 2.0, "TRANS_TIME": 1200}]
    # exploratory report 6b, H2: 00:21 written as 21 (and 00:00 as 0) was quarantined as an
    # unparseable date, 3% of a household panel's lines
    rows += [{"household_key": 3, "BASKET_ID": 13 + i, "DAY": 3, "PRODUCT_ID": 3,
              "QUANTITY": 1, "SALES_VALUE": 2.0, "TRANS_TIME": tm}
             for i, tm in enumerate((21, 0, 5))]
    f = write_csv(tmp_path / "transaction_data.csv", rows)
    st, (rep,) = _ingest(tmp_path, [f], day_one="2019-01-01")
    assert rep["columns"]["ordered_at"] == "DAY" and rep["columns"]["ordered_time"] == "TRANS_TIME"
    assert rep["rows_loaded"] == 5 and rep["rules"]["unparseable_date"] == 1  # day 2.5
    assert any("day 1 is 2019-01-01 (--day-one)" in a for a in rep["assumptions"])
    got = st.query("SELECT ordered_at FROM transactions ORDER BY source_row").ordered_at
    assert got.tolist() == [pd.Timestamp("2019-01-01 08:26"), pd.Timestamp("2019-02-01 16:31")
                            ] + [pd.Timestamp("2019-01-03 00:" + m) for m in ("21", "00", "05")]
    st.close()
    (tmp_path / "x").mkdir()
    with pytest.raises(ParameterError, match="--day-one 'soon' is not a date"):
        _ingest(tmp_path / "x", [f], day_one="soon")
    (tmp_path / "d").mkdir()
    dated = write_csv(tmp_path / "d" / "t.csv", [{**rows[0], "DAY": "2019-01-01"}] * 3)
    with pytest.raises(DataError, match="are not day numbers .*drop --day-one"):
        _ingest(tmp_path / "d", [dated], day_one="2019-01-01")


def test_customer_and_product_files_with_prefixed_column_names(tmp_path: Path) -> None:
    """Data sets prefix every column with the entity (customer_city, product_category_name):
    the files are recognised as customers and products, and the prefixed names read."""
    cust = write_csv(tmp_path / "customers.csv", [
        {"customer_id": "c1", "customer_unique_id": "u1", "customer_zip_code_prefix": "01000",
         "customer_city": "sao paulo", "customer_state": "SP"}])
    prod = write_csv(tmp_path / "products.csv", [
        {"product_id": "p1", "product_category_name": "perfumaria", "product_weight_g": 300}])
    st, (rc, rp) = _ingest(tmp_path, [cust, prod])
    assert (rc["table"], rp["table"]) == ("customers", "products")
    assert rc["columns"] == {"customer_id": "customer_id", "region": "customer_city"}
    assert rp["columns"] == {"product_id": "product_id", "category": "product_category_name"}
    assert st.query("SELECT region FROM customers").region.tolist() == ["sao paulo"]
    assert st.query("SELECT category FROM products").category.tolist() == ["perfumaria"]


def test_ids_that_lost_their_leading_zeros_in_a_spreadsheet_match_the_sales(
        tmp_path: Path) -> None:
    """The till's sales name loyalty cards 00123 and 00456; the customer list and the
    campaign's sends went through a spreadsheet, which read them as the numbers 123 and 456.
    Each takes the sales' spelling, so the consent and the sends belong to the customers who
    bought; an id no sale has stays as it is, and the report says how many changed."""
    sales = tmp_path / "sales.csv"
    sales.write_text("order_id,customer_id,date,product_id,quantity,price\n"
                     "o1,00123,2024-01-05,p1,1,3.50\n"
                     "o2,00456,2024-01-06,p2,2,12.00\n"
                     "o3,00123,2024-02-05,p1,1,3.50\n", encoding="utf-8")
    cust = write_csv(tmp_path / "customers.csv", [
        {"customer_id": "123", "marketing_consent": "yes"},
        {"customer_id": "00456", "marketing_consent": "no"},
        {"customer_id": "A789", "marketing_consent": "yes"}])
    sends = write_csv(tmp_path / "sends.csv", [
        {"customer_id": 123, "sent_at": "2024-02-01", "promotion": "pct10"},
        {"customer_id": 456, "sent_at": "2024-02-01", "promotion": "control"}])
    st, reps = _ingest(tmp_path, [sales, cust, sends])
    by_table = {r["table"]: r for r in reps}
    assert st.query("SELECT customer_id FROM customers ORDER BY 1").customer_id.tolist() == [
        "00123", "00456", "A789"]
    assert st.query("SELECT customer_id FROM promotions ORDER BY 1").customer_id.tolist() == [
        "00123", "00456"]
    assert any(a.startswith("customer_id ('customer_id'): 1 id(s) match the sales' customers "
                            "only with leading zeros ignored (e.g. 123 -> 00123)")
               for a in by_table["customers"]["assumptions"]), by_table["customers"]
    assert any("2 id(s) match" in a for a in by_table["promotions"]["assumptions"])
    # the sales are the spelling the others follow: nothing of theirs is re-keyed
    assert not any("leading zeros" in a for a in by_table["transactions"]["assumptions"])


def test_a_later_sales_export_that_lost_its_leading_zeros_names_the_same_customers(
        tmp_path: Path) -> None:
    """January's till export names loyalty cards 00123 and 00456; February's went through a
    spreadsheet (123, 456, and a new card 789). Its customers take January's spelling, so
    00123 is one customer with two orders, not two customers; a store that writes no leading
    zeros keeps 0123 and 123 apart as written."""
    jan = tmp_path / "jan.csv"
    jan.write_text("order_id,customer_id,date,product_id,quantity,price\n"
                   "o1,00123,2024-01-05,p1,1,3.50\n"
                   "o2,00456,2024-01-06,p2,2,12.00\n", encoding="utf-8")
    feb = tmp_path / "feb.csv"
    feb.write_text("order_id,customer_id,date,product_id,quantity,price\n"
                   "o3,123,2024-02-05,p1,1,3.50\n"
                   "o4,789,2024-02-06,p2,1,12.00\n"
                   "o5,456,2024-02-07,p1,1,3.50\n", encoding="utf-8")
    st, (_, rep) = _ingest(tmp_path, [jan, feb])
    got = st.query("SELECT customer_id, count(*) AS n FROM transactions GROUP BY 1 ORDER BY 1")
    assert dict(zip(got.customer_id, got.n, strict=True)) == {"00123": 2, "00456": 2, "789": 1}
    assert any(a.startswith("customer_id ('customer_id'): 2 id(s) match earlier sales' "
                            "customers only with leading zeros ignored") for a in
               rep["assumptions"]), rep["assumptions"]
    # the other way round: the spreadsheet's export first, the till's after it
    (tmp_path / "r").mkdir()
    st2, _ = _ingest(tmp_path / "r", [feb, jan])
    got = st2.query("SELECT customer_id, count(*) AS n FROM transactions GROUP BY 1 ORDER BY 1")
    assert dict(zip(got.customer_id, got.n, strict=True)) == {"123": 2, "456": 2, "789": 1}
    # both write leading zeros: 0123 and 00123 are different cards
    (tmp_path / "z").mkdir()
    mar = tmp_path / "z" / "mar.csv"
    mar.write_text("order_id,customer_id,date,product_id,quantity,price\n"
                   "o6,0123,2024-03-05,p1,1,3.50\n", encoding="utf-8")
    st3, (_, rep3) = _ingest(tmp_path / "z", [jan, mar])
    assert sorted(st3.query("SELECT DISTINCT customer_id FROM transactions").customer_id) == [
        "00123", "00456", "0123"]
    assert not any("leading zeros" in a for a in rep3["assumptions"])


def test_a_header_line_repeated_inside_the_file(tmp_path: Path) -> None:
    """Two months' exports joined one after another keep the second one's header line: it
    is quarantined as a repeated header, not as a sale with an unreadable date, and counts
    as no customer, order or value."""
    path = tmp_path / "sales.csv"
    path.write_text("order_id,customer_id,date,product_id,quantity,price\n"
                    "o1,c1,2024-01-05,p1,1,3.50\no2,c2,2024-01-06,p2,2,12.00\n"
                    "order_id,customer_id,date,product_id,quantity,price\n"
                    "o3,c1,2024-02-05,p1,1,3.50\n", encoding="utf-8")
    st, (rep,) = _ingest(tmp_path, [path])
    assert rep["rows_loaded"] == 3 and rep["rules"]["repeated_header"] == 1, rep["rules"]
    assert "unparseable_date" not in rep["rules"]
    assert rep["customers"] == 2 and rep["orders"] == 3, rep
    assert st.query("SELECT rule FROM quarantine").rule.tolist() == ["repeated_header"]
    # the same months pasted below each other in a sheet
    (tmp_path / "x").mkdir()
    book = tmp_path / "x" / "sales.xlsx"
    pd.read_csv(path, dtype=str).to_excel(book, index=False)
    _, (rep2,) = _ingest(tmp_path / "x", [book])
    assert rep2["rows_loaded"] == 3 and rep2["rules"]["repeated_header"] == 1, rep2["rules"]


def test_values_with_line_breaks_inside_their_quotes(tmp_path: Path) -> None:
    """A shop's export whose order notes and product names hold line breaks inside their
    quotes (Excel writes them as a bare LF in a CRLF file): every row is read, the break
    kept in the value. DuckDB's parallel CSV reader refused such a file outright."""
    path = tmp_path / "orders.csv"
    rows = ['order_id,customer_id,date,product_id,description,quantity,price,notes',
            'o1,c1,2024-01-05,p1,"Mug\nblue",2,3.50,"leave at the door\nring twice"',
            'o2,c2,2024-01-06,p2,Plate,1,12.00,',
            'o3,c1,2024-02-05,p1,"Mug\nblue",1,3.50,"gift, ""wrapped"""']
    path.write_bytes("\r\n".join(rows).encode() + b"\r\n")
    st, (rep,) = _ingest(tmp_path, [path])
    assert rep["rows_read"] == 3 and rep["rows_loaded"] == 3, rep
    got = st.query("SELECT description, amount FROM transactions ORDER BY order_id")
    assert got.description.tolist() == ["Mug\nblue", "Plate", "Mug\nblue"]
    assert got.amount.tolist() == [7.0, 12.0, 3.5]


def test_a_csv_whose_columns_cannot_be_told_apart(tmp_path: Path) -> None:
    f = tmp_path / "t.csv"
    lines = ["order_id,customer_id,ordered_at,product_id,quantity,unit_price"]
    lines += [f"o{i},c{i},2024-01-0{1 + i % 9} 10:00,p,1,2.0" for i in range(10)]
    lines += ["o99,c99,Jan 2, 2024 10:00,p,1,2.0"]  # an unquoted comma
    f.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match="the columns could not be told apart .*unquoted comma"):
        _ingest(tmp_path, [f])


def test_a_column_mixing_date_formats_reads_each_value(tmp_path: Path) -> None:
    """Two systems' exports appended: most rows ISO, some US 12-hour, compact ISO or month
    names; each value is read by the first format, in order of how many values it reads, that
    reads it."""
    vals = ["2024-01-02 10:00:00"] * 6 + ["2024-01-02T10:00:00Z", "1/2/2024 10:00:00 AM",
                                          "20240102T100000", "Jan 2, 2024 10:00:00 AM",
                                          "02-Jan-2024 10:00", "2024.01.02 10:00"]
    rows = [{"order_id": f"o{i}", "customer_id": "c", "ordered_at": v, "product_id": "p",
             "quantity": 1, "unit_price": 2.0} for i, v in enumerate(vals)]
    st, (rep,) = _ingest(tmp_path, [write_csv(tmp_path / "t.csv", rows)])
    assert rep["rows_loaded"] == len(vals)
    got = st.query("SELECT DISTINCT ordered_at FROM transactions").ordered_at.tolist()
    assert got == [pd.Timestamp("2024-01-02 10:00")]
    # the second system's rows only after the first values every format is tried on
    # (parse._FIRST_VALUES): still read, the formats chosen on the whole sample
    late = (["2024-01-02 10:00:00"] * 2100 + ["02.01.2024 10:00"] * 300
            + ["1/2/2024 10:00:00 AM"] * 100)
    rows = [{"order_id": f"o{i}", "customer_id": "c", "ordered_at": v, "product_id": "p",
             "quantity": 1, "unit_price": 2.0} for i, v in enumerate(late)]
    (tmp_path / "late").mkdir()
    st, (rep,) = _ingest(tmp_path / "late", [write_csv(tmp_path / "late" / "t.csv", rows)])
    assert rep["rows_loaded"] == len(late) and rep["rows_quarantined"] == 0, rep["rules"]
    got = st.query("SELECT DISTINCT ordered_at FROM transactions").ordered_at.tolist()
    assert got == [pd.Timestamp("2024-01-02 10:00")]


def test_a_workbook_with_orders_lines_and_customers_on_separate_sheets(tmp_path: Path) -> None:
    """An accounting export as one workbook: 'Orders', 'Order lines', 'Customers' and a notes
    sheet. Each table sheet loads as a table of its own (the orders and their lines joined);
    the notes sheet is left out, and the report says both."""
    items, orders = _orders_and_items(tmp_path)
    f = tmp_path / "export.xlsx"
    with pd.ExcelWriter(f) as w:
        pd.read_csv(items).to_excel(w, sheet_name="Order lines", index=False)
        pd.read_csv(orders).to_excel(w, sheet_name="Orders", index=False)
        pd.DataFrame({"customer_id": ["c1", "c2"], "customer_city": ["Lyon", "Nice"]}
                     ).to_excel(w, sheet_name="Customers", index=False)
        pd.DataFrame({"note": ["exported 2024-03-01"]}).to_excel(w, sheet_name="About",
                                                                 index=False)
    st, reps = _ingest(tmp_path, [f])
    assert [(r["file"], r["table"], r["rows_loaded"]) for r in reps] == [
        (str(f), "transactions", 3), (f"{f} [Orders]", "transactions", 3),
        (f"{f} [Customers]", "customers", 2)]
    assert reps[1]["format"] == "order headers"
    notes = reps[0]["assumptions"]
    assert any(n.startswith("workbook sheet(s) 'About' left out") for n in notes)
    assert any(n.startswith("workbook sheet(s) 'Orders' hold other columns") for n in notes)
    assert st.query("SELECT region FROM customers ORDER BY 1").region.tolist() == ["Lyon",
                                                                                     "Nice"]
    # the same workbook again adds nothing, sheet by sheet
    again = ingest_files(st, [f], loaded_at=LOADED_AT)
    assert [r["status"] for r in again] == ["already_loaded"] * 3
    assert st.count("transactions") == 3


def test_a_folder_is_its_data_files(tmp_path: Path) -> None:
    """`loyalist run exports/`: the folder's data files are loaded (here an orders file and
    its lines, joined); other files are ignored; an empty folder is one clear error."""
    folder = tmp_path / "exports"
    folder.mkdir()
    items, orders = _orders_and_items(folder)
    (folder / "README.md").write_text("exported from the shop")
    st, reps = _ingest(tmp_path, [folder])
    assert sorted(Path(r["file"]).name for r in reps) == ["order_items.csv", "orders.csv"]
    assert st.count("transactions") == 3
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="the folder holds no data file"):
        _ingest(tmp_path / "empty", [tmp_path / "empty"])


@pytest.mark.parametrize("name", ["orders.json", "orders.jsonl", "api.json"])
def test_nested_json_orders_with_line_items(tmp_path: Path, name: str) -> None:
    """A web shop's API dump: one record per order with a customer object, a list of line
    items and a list of shipping lines; as an array, one record per line, or an API response
    (``{"orders": [...], "count": 3, ...}``). One row per line item (the list whose fields
    name products, quantities and prices), object fields as parent_field columns, local times
    kept; a voided order and an order without lines are quarantined, so every order is
    accounted for."""
    import json as js

    def order(n: int, status: str, items: list[dict[str, object]]) -> dict[str, object]:
        return {"id": 5000 + n, "order_number": 1000 + n, "financial_status": status,
                "created_at": f"2024-03-0{n}T10:00:00+01:00", "total_price": "21.00",
                "customer": {"id": 70 + n % 2, "email": f"c{n % 2}@x.io"},
                "line_items": items, "discount_codes": [{"code": "X", "amount": "1.00"}],
                "shipping_lines": [{"title": "Standard", "price": "4.90"}]}

    orders = [order(1, "paid", [{"id": 1, "sku": "M1", "title": "Mug", "quantity": 2,
                                 "price": "8.00"},
                                {"id": 2, "sku": "T1", "title": "Tea", "quantity": 1,
                                 "price": "5.00"}]),
              order(2, "voided", [{"id": 3, "sku": "M1", "title": "Mug", "quantity": 1,
                                   "price": "8.00"}]),
              order(3, "paid", [])]
    f = tmp_path / name
    if name == "api.json":
        f.write_text(js.dumps({"orders": orders, "count": 3, "next_page": None}))
    else:
        f.write_text(js.dumps(orders) if name.endswith(".json")
                     else "\n".join(js.dumps(o) for o in orders) + "\n")
    st, (rep,) = _ingest(tmp_path, [f])
    assert any("holding the records in 'orders'" in a
               for a in rep["assumptions"]) == (name == "api.json")
    assert {k: rep["columns"][k] for k in ("order_id", "customer_id", "ordered_at",
                                           "product_id", "quantity", "unit_price")} == {
        "order_id": "order_number", "customer_id": "customer_id", "ordered_at": "created_at",
        "product_id": "line_items_sku", "quantity": "line_items_quantity",
        "unit_price": "line_items_price"}
    assert (rep["rows_read"], rep["rows_loaded"]) == (4, 2)
    assert rep["rules"]["cancelled_order"] == 1 and rep["rules"]["missing_product_id"] == 1
    assert any("left out" in a and "discount_codes" in a and "shipping_lines" in a
               for a in rep["assumptions"])
    got = st.query("SELECT order_id, customer_id, ordered_at, product_id, quantity FROM "
                   "transactions ORDER BY source_row")
    assert got.product_id.tolist() == ["M1", "T1"] and got.quantity.tolist() == [2.0, 1.0]
    assert got.customer_id.tolist() == ["71", "71"] and got.order_id.tolist() == ["1001"] * 2
    assert got.ordered_at.tolist() == [pd.Timestamp("2024-03-01 10:00")] * 2


def test_a_shopify_api_orders_response_loads_its_line_items(tmp_path: Path) -> None:
    """Shopify's REST answer as saved from the API: ``{"orders": [...]}``, each order with
    its ``name`` (#1001), ``email``, ``line_items`` (sku, title, quantity, price),
    ``shipping_lines`` and ``refunds``. The lines load with the order's name as order id and
    the line's title as description; the refunded order is quarantined. A single order
    object (not a wrapper: it names its customer and date) stays one order."""
    import json as js

    def order(n: int, email: str, status: str, lines: list[tuple[str, str, int, str]]
              ) -> dict[str, object]:
        return {"id": 450789469 + n, "name": f"#100{n}", "email": email,
                "created_at": f"2024-01-0{n}T10:00:00+01:00", "financial_status": status,
                "total_price": "30.00",
                "line_items": [{"id": 10 * n + i, "sku": sku, "title": title,
                                "quantity": qty, "price": price}
                               for i, (sku, title, qty, price) in enumerate(lines)],
                "shipping_lines": [{"title": "Standard", "price": "4.90"}],
                "refunds": [{"id": 1, "note": "damaged"}] if status == "refunded" else []}

    orders = [order(1, "a@x.com", "paid", [("A1", "Mug", 2, "10.00"), ("B2", "Tea", 1, "10.00")]),
              order(2, "b@x.com", "refunded", [("C3", "Pot", 1, "15.00")]),
              order(3, "a@x.com", "paid", [("B2", "Tea", 1, "12.00")])]
    f = tmp_path / "orders.json"
    f.write_text(js.dumps({"orders": orders}))
    st, (rep,) = _ingest(tmp_path, [f])
    assert (rep["rows_read"], rep["rows_loaded"], rep["rules"]["cancelled_order"]) == (4, 3, 1)
    got = st.query("SELECT order_id, customer_id, product_id, description, quantity, "
                   "unit_price FROM transactions ORDER BY source_row")
    assert got.order_id.tolist() == ["#1001", "#1001", "#1003"]
    assert got.customer_id.tolist() == ["a@x.com"] * 3
    assert got.description.tolist() == ["Mug", "Tea", "Tea"]
    assert got.quantity.tolist() == [2.0, 1.0, 1.0] and got.unit_price.sum() == 32.0
    one = tmp_path / "one" / "order.json"
    one.parent.mkdir()
    one.write_text(js.dumps(orders[0]))
    st2, (rep2,) = _ingest(tmp_path / "one", [one])
    assert not any("holding the records" in a for a in rep2["assumptions"])
    assert rep2["rows_loaded"] == 2 and st2.query(
        "SELECT DISTINCT order_id, customer_id FROM transactions").values.tolist() == [
        ["#1001", "a@x.com"]]


def test_a_woocommerce_api_orders_dump_loads_with_products_and_order_ids(
        tmp_path: Path) -> None:
    """WooCommerce's REST orders: ``date_created`` (local) beside ``date_created_gmt``, the
    order's ``id``, ``customer_id`` 0 for guests, and lines with both ``product_id`` and
    ``sku`` (often empty), next to tax, shipping, fee and coupon lists. The lines load with
    the product id, the order's id as order id and the local time; a refunded order is
    quarantined; guests stay guests."""
    import json as js

    def order(n: int, customer: int, status: str) -> dict[str, object]:
        return {"id": 700 + n, "number": str(700 + n), "status": status,
                "date_created": f"2024-05-0{n}T14:00:00",
                "date_created_gmt": f"2024-05-0{n}T12:00:00", "total": "29.90",
                "customer_id": customer, "billing": {"email": f"c{customer}@x.de"},
                "line_items": [{"id": 1, "name": "Kaffee 1kg", "product_id": 93,
                                "variation_id": 0, "quantity": 2, "total": "25.00",
                                "sku": "KAF-1", "price": 12.5},
                               {"id": 2, "name": "Filter", "product_id": 94,
                                "variation_id": 0, "quantity": 1, "total": "4.90",
                                "sku": "", "price": 4.9}],
                "tax_lines": [{"id": 3, "rate_code": "DE-MWST", "tax_total": "4.77"}],
                "shipping_lines": [{"id": 4, "method_title": "Flat rate", "total": "4.90"}],
                "fee_lines": [], "coupon_lines": [], "refunds": []}

    f = tmp_path / "orders.json"
    f.write_text(js.dumps([order(1, 12, "completed"), order(2, 0, "completed"),
                           order(3, 12, "refunded"), order(4, 15, "processing")]))
    st, (rep,) = _ingest(tmp_path, [f])
    assert {k: rep["columns"][k] for k in ("order_id", "ordered_at", "product_id")} == {
        "order_id": "order_id", "ordered_at": "date_created",
        "product_id": "line_items_product_id"}
    assert (rep["rows_read"], rep["rows_loaded"], rep["rules"]["cancelled_order"]) == (8, 6, 2)
    got = st.query("SELECT order_id, customer_id, ordered_at, product_id, description FROM "
                   "transactions ORDER BY source_row")
    assert got.order_id.tolist() == ["701", "701", "702", "702", "704", "704"]
    assert got.product_id.tolist() == ["93", "94"] * 3
    assert got.customer_id.isna().tolist() == [False, False, True, True, False, False]
    assert got.ordered_at.iloc[0] == pd.Timestamp("2024-05-01 14:00")
    assert got.description.iloc[0] == "Kaffee 1kg"


def test_a_magento_api_orders_search_result_loads_as_sales(tmp_path: Path) -> None:
    """Magento 2's REST search result: ``{"items": [orders], "search_criteria": {...},
    "total_count": 3}``, each order with ``increment_id``, ``created_at``, ``customer_id``
    (null for a guest), ``customer_email`` and its own ``items`` (sku, name, qty_ordered,
    price). It names customers and e-mails but no 'order' or 'quantity' column, and was
    stored as a customer list; it is sales: the lines load with the order number as order id
    and a cancelled order is quarantined."""
    import json as js

    def order(n: int, customer: int | None, status: str) -> dict[str, object]:
        return {"entity_id": 100 + n, "increment_id": f"00000010{n}", "status": status,
                "created_at": f"2024-06-0{n} 09:15:00", "customer_id": customer,
                "customer_email": f"c{customer}@x.de", "customer_is_guest": int(not customer),
                "grand_total": 54.0,
                "billing_address": {"city": "Berlin", "country_id": "DE"},
                "items": [{"item_id": 10 * n, "sku": "TSHIRT-M", "name": "T-Shirt",
                           "qty_ordered": 2, "price": 20.0, "row_total": 40.0},
                          {"item_id": 10 * n + 1, "sku": "MUG-1", "name": "Mug",
                           "qty_ordered": 1, "price": 14.0, "row_total": 14.0}],
                "status_histories": []}

    f = tmp_path / "orders.json"
    f.write_text(js.dumps({"items": [order(1, 5, "complete"), order(2, None, "complete"),
                                     order(3, 5, "canceled")],
                           "search_criteria": {"page_size": 100}, "total_count": 3}))
    st, (rep,) = _ingest(tmp_path, [f])
    assert rep["table"] == "transactions"
    assert (rep["rows_read"], rep["rows_loaded"], rep["rules"]["cancelled_order"]) == (6, 4, 2)
    got = st.query("SELECT order_id, customer_id, product_id, description, quantity FROM "
                   "transactions ORDER BY source_row")
    assert got.order_id.tolist() == ["000000101"] * 2 + ["000000102"] * 2
    assert got.customer_id.tolist()[:2] == ["5", "5"] and got.customer_id.iloc[2:].isna().all()
    assert got.product_id.tolist() == ["TSHIRT-M", "MUG-1"] * 2
    assert got.description.tolist() == ["T-Shirt", "Mug"] * 2


def test_profit_or_cost_on_the_lines_gives_product_margins(tmp_path: Path) -> None:
    """Sales exports that carry each line's profit (the Superstore layout) or cost: the
    products get a margin rate (profit over sales, per product), which plans use instead of
    an assumed rate; a products file's own cost is never overwritten, and a rate outside
    -100%..100% (a profit column in another unit) is not a margin."""
    from loyalist.response.data import category_margins

    rows = [{"Order ID": f"o{i}", "Order Date": "1/5/2024", "Customer ID": f"c{i % 3}",
             "Product ID": p, "Category": "Tables", "Sales": sales, "Quantity": 2,
             "Profit": profit}
            for i, (p, sales, profit) in enumerate([("A", 100.0, 20.0), ("A", 300.0, 40.0),
                                                    ("B", 50.0, -5.0), ("C", 10.0, 400.0),
                                                    ("K", 80.0, 8.0)])]
    prods = write_csv(tmp_path / "products.csv", [{"product_id": "K", "unit_cost": 30.0}])
    st, (rp, rep) = _ingest(tmp_path, [prods, write_csv(tmp_path / "t.csv", rows)])
    assert rep["products_with_derived_margin"] == 3  # A, B and K (C's rate is impossible)
    got = st.query("SELECT product_id, unit_cost, margin FROM products ORDER BY 1")
    assert got.product_id.tolist() == ["A", "B", "K"]
    assert got.margin.tolist()[:2] == pytest.approx([60 / 400, -0.1])
    assert got.unit_cost.tolist()[2] == 30.0 and pd.isna(got.margin.tolist()[2])
    assert any("product margins derived from the column 'Profit'" in a
               for a in rep["assumptions"])
    # what the plans read: the category's margin at product costs
    rate = category_margins(st, pd.Timestamp("2024-02-01"))["Tables"]
    assert rate == pytest.approx((20 + 40 - 5 + (80 - 2 * 30)) / (100 + 300 + 50 + 80))


def test_a_cost_equal_to_the_sale_is_no_cost(tmp_path: Path) -> None:
    """Exploratory report 6b, H8: Kaggle's "Supermarket sales" has a `cogs` column equal to
    the pre-tax sale on every line; it gave every product a 0% margin, stored as float noise
    (+-1e-17, some negative), which plans then used. Such a column is not used, and said."""
    rows = [{"Invoice ID": f"750-67-{i:04d}", "Customer": f"c{i % 4}", "Date": "1/5/2019",
             "Product line": p, "Unit price": price, "Quantity": q,
             "cogs": round(price * q, 2)}
            for i, (p, price, q) in enumerate([("Health", 74.69, 7), ("Sports", 15.28, 5),
                                                ("Home", 46.33, 7), ("Health", 58.22, 8)])]
    st, (rep,) = _ingest(tmp_path, [write_csv(tmp_path / "supermarket_sales.csv", rows)])
    assert rep["rows_loaded"] == 4 and rep["products_with_derived_margin"] == 0
    assert any("the column 'cogs' leaves no profit on 4 of 4 sale lines (cost = sale), so it "
               "is not a cost" in a for a in rep["assumptions"]), rep["assumptions"]
    assert not any(a.startswith("product margins derived") for a in rep["assumptions"])
    assert st.query("SELECT count(margin) AS n FROM products")["n"].iloc[0] == 0
    st.close()


def test_a_zip_archive_is_its_data_files(tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A downloaded export (`shop-export.zip`: orders and their lines in a folder, a README,
    macOS resource forks) loads as the data files inside it; the loads table and the reports
    name each file as `archive.zip/member`; the unpacked copies are removed afterwards."""
    import zipfile

    src = tmp_path / "src"
    src.mkdir()
    items, orders = _orders_and_items(src)
    archive = tmp_path / "shop-export.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(items, "export/order_items.csv")
        z.write(orders, "export/orders.csv")
        z.writestr("export/README.txt.md", "exported from the shop")
        z.writestr("__MACOSX/export/._orders.csv", b"\x00\x05\x16\x07junk")
    scratch = tmp_path / "tmp"  # this test's own temporary folder (others run in parallel)
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    st, reps = _ingest(tmp_path, [archive])
    assert sorted(r["file"] for r in reps) == [str(archive.resolve() / "order_items.csv"),
                                               str(archive.resolve() / "orders.csv")]
    assert st.count("transactions") == 3
    loads = st.query("SELECT file FROM loads ORDER BY load_id").file.tolist()
    assert sorted(loads) == sorted(r["file"] for r in reps)
    assert list(scratch.iterdir()) == []  # the unpacked copies are gone
    # the same archive again: both members are recognised as already loaded
    reps2 = ingest_files(st, [archive], loaded_at=LOADED_AT)
    assert [r["status"] for r in reps2] == ["already_loaded", "already_loaded"]
    st.close()


def test_documents_in_a_zip_or_folder_are_left_out_and_said(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An export's README.txt or notes.txt is prose, not a table: it is left out and the
    report says so, while a .txt that is a table (aligned with spaces, or tab-separated)
    loads. An error about a member names it as `archive.zip/member`, not its unpacked copy."""
    import zipfile

    sales = write_csv(tmp_path / "sales.csv", [
        {"order_id": "1", "customer_id": "c1", "ordered_at": "2024-01-02 10:00",
         "product_id": "A", "quantity": 1, "unit_price": 2.5}])
    prose = "This is an export\nof the shop's sales, made on Monday by the till.\n"
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(sales, "sales.csv")
        z.writestr("README.txt", "This is an export\n")
        z.writestr("about the data.txt", prose)
        z.writestr("till.txt", "customer_id  date  quantity  amount\n" + CDNOW_RAW)
        z.writestr("__MACOSX/._sales.csv", b"\x00\x05\x16\x07junk")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    (tmp_path / "a").mkdir()
    st, reps = _ingest(tmp_path / "a", [archive])
    assert sorted(r["file"].rsplit("/", 1)[1] for r in reps) == ["sales.csv", "till.txt"]
    assert st.count("transactions") == 7
    notes = [a for r in reps for a in r["assumptions"] if "was not read" in a]
    assert sorted(notes) == [
        "export.zip/README.txt was not read: a README or notes file",
        "export.zip/about the data.txt was not read: text whose lines do not split into "
        "columns (prose, not a table)"]
    stored = [a for r in st.query("SELECT report FROM loads").report
              for a in json.loads(r)["assumptions"] if "was not read" in a]
    assert sorted(stored) == sorted(notes)  # in the loads table's reports too
    st.close()
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "sales.csv").write_bytes(sales.read_bytes())
    (folder / "notes.txt").write_text(prose)
    (tmp_path / "b").mkdir()
    st, (rep,) = _ingest(tmp_path / "b", [folder])
    assert rep["rows_loaded"] == 1
    assert rep["assumptions"][-1] == "folder/notes.txt was not read: a README or notes file"
    st.close()
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as z:
        z.write(sales, "sales.csv")
        z.writestr("empty.csv", "order_id,customer_id,ordered_at\n")
    (tmp_path / "c").mkdir()
    with pytest.raises(DataError, match=r"^[^ ]*/bad\.zip/empty\.csv: has a header") as e:
        _ingest(tmp_path / "c", [bad])
    assert "loyalist-" not in str(e.value) and str(scratch) not in str(e.value)


def test_bad_zip_archives_are_one_clear_error(tmp_path: Path) -> None:
    import zipfile

    empty = tmp_path / "notes.zip"
    with zipfile.ZipFile(empty, "w") as z:
        z.writestr("notes.md", "nothing here")
    with pytest.raises(DataError, match=r"notes.zip: the archive holds no data file \(notes.md\)"):
        _ingest(tmp_path, [empty])
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"PK\x03\x04" + b"\x00" * 40)
    with pytest.raises(DataError, match="broken.zip: is not a readable zip archive"):
        _ingest(tmp_path, [broken])
    assert not (tmp_path / "s.duckdb").exists() or Store(tmp_path / "s.duckdb").count(
        "transactions") == 0


def test_a_feather_file_with_zoned_times(tmp_path: Path) -> None:
    """Feather / Arrow IPC (pandas `to_feather`, R's arrow): read as a table, with row numbers
    for the quarantine and zoned times as their local wall-clock time."""
    frame = pd.DataFrame({
        "order_id": ["A1", "A1", "A2", "A3"],
        "customer_id": ["c1", "c1", "c2", None],
        "ordered_at": pd.to_datetime(["2024-03-01 09:15", "2024-03-01 09:15",
                                      "2024-03-02 18:40", "2024-03-03 12:00"]
                                     ).tz_localize("Europe/Berlin"),
        "product_id": ["p1", "p2", "p1", "p3"],
        "quantity": [1, 2, -5, 1],
        "unit_price": [3.5, 2.0, 3.5, 9.0],
    })
    path = tmp_path / "sales.feather"
    frame.to_feather(path)
    st, (rep,) = _ingest(tmp_path, [path])
    assert rep["rows_read"] == 4 and rep["rows_loaded"] + rep["rows_quarantined"] == 4
    got = st.query("SELECT source_row, ordered_at FROM transactions ORDER BY source_row")
    assert got.ordered_at[0] == pd.Timestamp("2024-03-01 09:15")
    quarantined = st.query("SELECT source_row FROM quarantine").source_row.tolist()
    assert sorted([*got.source_row, *quarantined]) == [1, 2, 3, 4]
    bad = tmp_path / "bad" / "bad.feather"
    bad.parent.mkdir()
    bad.write_bytes(b"ARROW1\x00\x00garbage")
    with pytest.raises(DataError, match="bad.feather: cannot be read as a Feather/Arrow file"):
        _ingest(bad.parent, [bad])


@pytest.mark.parametrize("kind", ["seconds", "milliseconds", "serial"])
def test_dates_as_unix_times_or_spreadsheet_serials(tmp_path: Path, kind: str) -> None:
    """App databases and payment exports give Unix times (read as UTC, and said so); a date
    column that lost its format in a spreadsheet gives serial days, read to the second."""
    when = pd.to_datetime(["2024-03-01 08:26:00", "2024-03-02 18:40:00", "2024-03-05 12:00:00"])
    if kind == "serial":
        values = [f"{v:.10f}" for v in (when - pd.Timestamp("1899-12-30")) / pd.Timedelta(days=1)]
    else:
        unit = pd.Timedelta(seconds=1 if kind == "seconds" else 0.001)
        values = [str(v) for v in (when - pd.Timestamp("1970-01-01")) // unit]
    rows = [{"order_id": f"A{i}", "customer_id": "c1", "ordered_at": v, "product_id": "p1",
             "quantity": 1, "unit_price": 2.5} for i, v in enumerate(values)]
    st, (rep,) = _ingest(tmp_path, [write_csv(tmp_path / "t.csv", rows)])
    got = st.query("SELECT ordered_at FROM transactions ORDER BY source_row").ordered_at
    assert got.tolist() == when.tolist()
    unix = [a for a in rep["assumptions"] if "Unix times" in a]
    assert bool(unix) == (kind != "serial")


def test_a_workbook_with_a_report_title_above_the_header(tmp_path: Path) -> None:
    path = tmp_path / "report.xlsx"
    data = pd.DataFrame({"Invoice": ["A1", "A2"], "Customer ID": ["c1", "c2"],
                         "InvoiceDate": pd.to_datetime(["2024-03-01 09:00", "2024-03-02 10:00"]),
                         "StockCode": ["p1", "p2"], "Quantity": [2, 1], "Price": [3.0, 4.5]})
    with pd.ExcelWriter(path) as xw:
        pd.DataFrame([["Sales by line, March 2024"], ["exported by the till"]]).to_excel(
            xw, sheet_name="Sales", index=False, header=False)
        data.to_excel(xw, sheet_name="Sales", index=False, startrow=3)
    st, (rep,) = _ingest(tmp_path, [path])
    assert (rep["rows_read"], rep["rows_loaded"]) == (2, 2)
    assert any("column names are on row 4" in a for a in rep["assumptions"])
    assert st.query("SELECT sum(amount) AS s FROM transactions").s[0] == 10.5


def _two_row_header_book(path: Path, names: list[str]) -> Path:
    """A till's sheet whose column names span two rows: group titles merged over their
    columns on row 1 ('Beleg' over three, 'Artikel' and 'Verkauf' over two), ``names`` on
    row 2, then three sales."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "Umsatz"
    sheet.append(["Beleg", None, None, "Artikel", None, "Verkauf", None])
    for cells in ("A1:C1", "D1:E1", "F1:G1"):
        sheet.merge_cells(cells)
    sheet.append(names)
    for row in (["545223", "01.03.2011", "K1", "22487", "Leiter", 4, 8.5],
                ["545227", "01.03.2011", "K2", "22445", "Etui", 6, 2.95],
                ["545227", "01.03.2011", "K2", "20979", "Stifte", 16, 1.25]):
        sheet.append(row)
    book.save(path)
    return path


def test_a_workbook_header_on_two_rows_under_merged_titles(tmp_path: Path) -> None:
    """Exploratory report 11, finding 12: a till's sheet with group titles merged over its
    columns ('Beleg | Artikel | Verkauf') above the names ('Nr. | Datum | Kunde | Nr. | ...')
    was refused as 'order lines without their orders', naming '__UNNAMED__1' columns no --map
    could reach. A name its row repeats takes its title; the others are found as they are.
    Where the second row's names are not known either, one line says the names seem to span
    two rows and what to do."""
    path = _two_row_header_book(tmp_path / "kasse.xlsx", ["Nr.", "Datum", "Kunde", "Nr.",
                                                          "Bezeichnung", "Menge", "Preis"])
    st, (rep,) = _ingest(tmp_path, [path])
    assert {k: rep["columns"][k] for k in ("order_id", "product_id", "ordered_at",
                                           "customer_id")} == {
        "order_id": "Beleg Nr.", "product_id": "Artikel Nr.", "ordered_at": "Datum",
        "customer_id": "Kunde"}
    assert (rep["rows_read"], rep["rows_loaded"], rep["orders"]) == (3, 3, 2)
    assert rep["revenue_loaded"] == pytest.approx(4 * 8.5 + 6 * 2.95 + 16 * 1.25)
    assert any(a.startswith("sheet 'Umsatz': the column names span rows 1 and 2")
               for a in rep["assumptions"])
    (tmp_path / "odd").mkdir()
    odd = _two_row_header_book(tmp_path / "odd" / "kasse.xlsx",
                               ["Nr.", "Tag", "Wer", "Nr.", "Was", "Stk", "EUR"])
    with pytest.raises(DataError, match=r"4 of its 7 column names are empty .* so the names "
                                        r"seem to span two rows") as e:
        _ingest(tmp_path / "odd", [odd])
    assert "orders file" not in str(e.value)


def test_a_shopify_order_export(tmp_path: Path) -> None:
    """Shopify's orders export: the order is 'Name' (#1001), line items are 'Lineitem ...'
    columns, and order-level fields (status, totals) are on an order's first line only. A
    refunded order is no sale on all its lines; a partially refunded one is a sale."""
    def line(name: str, sku: str, qty: int, price: float, **order: str) -> dict[str, object]:
        return {"Name": name, "Email": order.get("email", "a@x.com"),
                "Financial Status": order.get("status", ""), "Total": order.get("total", ""),
                "Created at": "2024-01-02 10:00:00 -0500", "Lineitem quantity": qty,
                "Lineitem name": sku.title(), "Lineitem price": price, "Lineitem sku": sku,
                "Billing Name": order.get("billing", ""), "Id": order.get("id", "")}
    rows = [line("#1001", "MUG", 2, 12.5, status="paid", total="30", billing="A B", id="11"),
            line("#1001", "TEA", 1, 5.0),
            line("#1002", "MUG", 1, 12.5, email="b@x.com", status="refunded", total="17.5",
                 id="12"),
            line("#1002", "TEA", 1, 5.0, email="b@x.com"),
            line("#1003", "POT", 1, 30.0, status="partially_refunded", total="30", id="13")]
    st, (rep,) = _ingest(tmp_path, [write_csv(tmp_path / "orders_export_1.csv", rows)])
    assert rep["columns"]["order_id"] == "Name"
    assert rep["columns"]["description"] == "Lineitem name"
    assert (rep["rows_loaded"], rep["rules"]["cancelled_order"]) == (3, 2)
    assert any("took it from another line of the same order, which says the order is no sale"
               in a for a in rep["assumptions"])
    got = st.query("SELECT order_id, ordered_at FROM transactions ORDER BY source_row")
    assert got.order_id.tolist() == ["#1001", "#1001", "#1003"]
    assert got.ordered_at[0] == pd.Timestamp("2024-01-02 10:00")  # the shop's wall-clock time


@pytest.mark.parametrize(("name", "header", "line", "encoding"), [
    ("kasse.csv", "Bon;Kunde;Datum;Uhrzeit;Artikel;Bezeichnung;Menge;Einzelpreis;Filiale",
     "B1;K-7;02.01.2024;10:15;4711;Käse;2;€ 3,50;Köln", "cp1252"),
    ("ventes.csv", "N° Facture;Code Client;Date;Heure;Produit;Libellé;Quantité;Prix Unitaire;"
     "Magasin", "F1;C-7;02/01/2024;10:15;4711;Crème;2;3,50 €;Lyon", "utf-8"),
    ("ventas.csv", "Número Pedido,Cliente,Fecha,Hora,Código Producto,Descripción,Cantidad,"
     "Precio Unitario,Tienda", "P1,C-7,02/01/2024,10:15,4711,Café,2,3.50,Madrid", "utf-8"),
])
def test_till_and_shop_exports_in_european_languages(tmp_path: Path, name: str, header: str,
                                                     line: str, encoding: str) -> None:
    """Column names in German, French or Spanish (accents and all) are found without --map; a
    Windows-1252 file (the euro sign is byte 0x80, which DuckDB's Latin-1 reader refuses) is
    read through a UTF-8 copy, and the report says so."""
    sep = ";" if ";" in header else ","
    second = line.replace("1" + sep, "2" + sep, 1).replace("02/01", "03/01").replace(
        "02.01", "03.01")
    path = tmp_path / name
    path.write_bytes(f"{header}\n{line}\n{second}\n".encode(encoding))
    st, (rep,) = _ingest(tmp_path, [path])
    assert set(rep["columns"]) >= {"order_id", "customer_id", "ordered_at", "product_id",
                                   "quantity", "unit_price", "description", "store_id"}
    assert (rep["rows_read"], rep["rows_loaded"]) == (2, 2)
    got = st.query("SELECT customer_id, ordered_at, description, unit_price, store_id "
                   "FROM transactions ORDER BY source_row")
    assert got.customer_id.tolist() == ["K-7" if name == "kasse.csv" else "C-7"] * 2
    assert got.ordered_at[0] == pd.Timestamp("2024-01-02 10:15")
    assert got.unit_price.tolist() == [3.5, 3.5]
    assert got.description[0] == line.split(sep)[5]
    assert any(a.startswith("the file is not UTF-8: read as Windows-1252")
               for a in rep["assumptions"]) == (encoding == "cp1252")


@pytest.mark.parametrize(("encoding", "shown", "header", "names"), [
    # a Russian till (1C) in Windows-1251: 'Хлеб' as cp1252 reads 'Õëåá'
    ("cp1251", "Windows-1251 (Cyrillic)", "Receipt;Customer;Date;Product;Description;Qty;Price",
     ["Хлеб ржаной", "Молоко 3,2%", "Сыр российский"]),
    # Polish column names and products in Windows-1250: 'Ilość' as cp1252 reads 'Iloœæ', a
    # column no reader knows
    ("cp1250", "Windows-1250 (Central European)", "Paragon;Klient;Data;Towar;Nazwa;Ilość;Cena",
     ["Kiełbasa śląska", "Żubrówka", "Pączek z różą"]),
    # an old Mac's export: 'Käse' as cp1252 reads 'KŠse', 'Weißwurst' 'Wei§wurst'
    ("mac_roman", "Mac Roman", "Bon;Kunde;Datum;Artikel;Bezeichnung;Menge;Einzelpreis",
     ["Käse", "Weißwurst süß", "Brötchen"]),
    # a DOS till (code page 850): 'Käse' as cp1252 reads 'K„se'
    ("cp850", "DOS code page 850", "Bon;Kunde;Datum;Artikel;Bezeichnung;Menge;Einzelpreis",
     ["Käse", "Weißwurst süß", "Grüner Tee"]),
    # a Japanese till (Shift_JIS, as Windows and Excel write it): full-width brackets inside
    ("cp932", "Shift_JIS (Japanese, Windows)",
     "Receipt;Customer;Date;Product;Description;Qty;Price",
     ["急須（常滑焼）", "ほうじ茶", "抹茶ラテ"]),
    # a Hebrew till (Windows-1255): its letters read as Cyrillic in Windows-1251 and KOI8-R,
    # where they were taken for KOI8-R; the geresh (0xD7 here) is a letter there too, so it
    # is the language that tells (a handful of short words may still read as Cyrillic)
    ("cp1255", "Windows-1255 (Hebrew)", "Receipt;Customer;Date;Product;Description;Qty;Price",
     ["חולצה כחולה", "נעלי ספורט", "ז׳קט ג׳ינס"]),
    # an Arabic one (Windows-1256)
    ("cp1256", "Windows-1256 (Arabic)", "Receipt;Customer;Date;Product;Description;Qty;Price",
     ["قميص أزرق", "حذاء رياضي", "قهوة عربية"]),
    # Windows-1252 stays Windows-1252, symbols inside words and all
    ("cp1252", "Windows-1252 (Latin-1 with the euro sign)",
     "Bon;Kunde;Datum;Artikel;Bezeichnung;Menge;Einzelpreis",
     ["Nutella® 400g", "Größe:XL “Spezial”", "Café–Bar Crème"]),
])
def test_legacy_encodings_other_than_windows_1252(tmp_path: Path, encoding: str,
                                                        shown: str, header: str,
                                                        names: list[str]) -> None:
    """A file that is not UTF-8 was always read as Windows-1252: a Russian, Polish, Mac, DOS or
    Japanese export loaded with its names garbled, and a Polish header's 'Ilość' was no quantity
    column. Its encoding is now the one whose words do not read as garbage, and the report
    names it."""
    lines = [header] + [f"R{i};C-{i % 3};0{1 + i % 9}.03.2024;P{i % 3};{names[i % 3]};2;3,50"
                        for i in range(12)]
    path = tmp_path / "export.csv"
    path.write_bytes("\r\n".join(lines).encode(encoding))
    st, (rep,) = _ingest(tmp_path, [path])
    assert (rep["rows_read"], rep["rows_loaded"]) == (12, 12)
    assert set(rep["columns"]) >= {"order_id", "customer_id", "ordered_at", "product_id",
                                   "description", "quantity", "unit_price"}
    assert f"the file is not UTF-8: read as {shown}{GUESSED}" in rep["assumptions"]
    got = st.query("SELECT DISTINCT product_id, description FROM transactions ORDER BY 1")
    assert got.description.tolist() == names


def test_encoding_given_over_the_detected_one(tmp_path: Path) -> None:
    """A handful of short Hebrew words (Windows-1255) read as plausibly in Windows-1251
    Cyrillic, which their words choose; the note says how to overrule it, and `--encoding
    cp1255` (or its alias windows-1255) reads the names right. A given encoding that does not
    fit the bytes loads them as U+FFFD instead of refusing the file; an unknown one is one
    line naming it, before the store is touched."""
    from loyalist.errors import ParameterError

    names = HEBREW_NAMES
    path = hebrew_till(tmp_path / "kupa.csv")
    st, (rep,) = _ingest(tmp_path, [path])
    guessed = [a for a in rep["assumptions"] if a.startswith("the file is not UTF-8")]
    assert guessed and guessed[0].endswith(GUESSED)
    got = st.query("SELECT DISTINCT product_id, description FROM transactions ORDER BY 1")
    assert got.description.tolist() != names  # the words alone cannot tell
    st.close()
    for given in ("cp1255", "windows-1255"):
        (tmp_path / given).mkdir()
        st, (rep,) = _ingest(tmp_path / given, [path], encoding=given)
        assert "the file is read as Windows-1255 (Hebrew) (--encoding)" in rep["assumptions"]
        got = st.query("SELECT DISTINCT product_id, description FROM transactions ORDER BY 1")
        assert got.description.tolist() == names
        st.close()
    (tmp_path / "u").mkdir()
    st, (rep,) = _ingest(tmp_path / "u", [path], encoding="utf-8")
    assert rep["rows_loaded"] == 12 and "the file is read as utf-8 (--encoding)" in rep[
        "assumptions"]
    assert st.query("SELECT description FROM transactions").description.str.contains(
        "\ufffd").all()
    st.close()
    (tmp_path / "k").mkdir()
    st = Store(tmp_path / "k" / "s.duckdb")
    with pytest.raises(ParameterError, match="--encoding 'klingon' is not a text encoding"):
        ingest_files(st, [path], loaded_at=LOADED_AT, encoding="klingon")
    assert not st.has_rows("transactions")


def test_customer_and_product_files_in_european_languages(tmp_path: Path) -> None:
    """A German customer list and a French product list load without --map: consent as
    ja/nein, birth and sign-up dates day first (01/02/1980 is 1 February: the names are
    German), cost and price with decimal commas."""
    kunden = tmp_path / "kunden.csv"
    kunden.write_text("Kundennummer;Geburtsdatum;Kunde seit;Newsletter;Geschlecht;Stadt\n"
                      "K-1;01/02/1980;03/04/2022;ja;w;Köln\n"
                      "K-2;05/06/1990;07/08/2023;nein;m;Bonn\n", encoding="utf-8")
    produits = tmp_path / "produits.csv"
    produits.write_text("Code article;Désignation;Catégorie;Prix d'achat;Prix de vente;"
                        "Stock\n4711;Crème;Soins;2,10;3,50;12\n", encoding="utf-8")
    st, (rk, rp) = _ingest(tmp_path, [kunden, produits])
    assert (rk["table"], rk["rows_loaded"]) == ("customers", 2)
    assert (rp["table"], rp["rows_loaded"]) == ("products", 1)
    c = st.query("SELECT customer_id, birth_date, signup_at, marketing_consent, gender, region "
                 "FROM customers ORDER BY customer_id")
    assert c.customer_id.tolist() == ["K-1", "K-2"]
    assert c.birth_date[0] == pd.Timestamp("1980-02-01")
    assert c.signup_at[1] == pd.Timestamp("2023-08-07")
    assert c.marketing_consent.tolist() == [True, False]
    assert any("write the day first" in a for a in rk["assumptions"])
    assert c.region.tolist() == ["Köln", "Bonn"]
    p = st.query("SELECT product_id, description, category, price, unit_cost, stock "
                 "FROM products")
    assert p.iloc[0].tolist() == ["4711", "Crème", "Soins", 3.5, 2.1, 12.0]


def test_a_till_log_in_german_is_read_as_sales_lines(tmp_path: Path) -> None:
    """Receipt, date, article, quantity and price: sales lines, not a product list (which
    article + price alone would suggest). Without a customer column its lines are guest
    lines, and the report says so."""
    path = tmp_path / "kasse.csv"
    path.write_text("Bon;Datum;Artikel;Menge;Preis\nB1;02.01.2024 10:15;4711;2;3,50\n",
                    encoding="utf-8")
    st, (rep,) = _ingest(tmp_path, [path])
    assert rep["table"] == "transactions" and rep["rules"]["guest"] == 1
    assert any(a.startswith("no customer column: every line is a guest line")
               for a in rep["assumptions"])
    assert st.query("SELECT amount FROM transactions").amount.tolist() == [7.0]


def test_a_shopify_customer_export_is_keyed_like_its_orders(tmp_path: Path) -> None:
    """Shopify's customers export has its own 'Customer ID' and the e-mail; its orders export
    names customers by e-mail only. Given together (customers first, as a folder lists them),
    the customer list is keyed by e-mail, so consent reaches the customers who bought; the
    reports keep the order the files were given in."""
    customers = write_csv(tmp_path / "customers_export.csv", [
        {"Customer ID": "7001", "First Name": "A", "Last Name": "B", "Email": "a@x.com",
         "Accepts Email Marketing": "yes", "Total Spent": "30.00", "Total Orders": 1},
        {"Customer ID": "7002", "First Name": "C", "Last Name": "D", "Email": "c@x.com",
         "Accepts Email Marketing": "no", "Total Spent": "0.00", "Total Orders": 0}])
    orders = write_csv(tmp_path / "orders_export_1.csv", [
        {"Name": "#1001", "Email": "a@x.com", "Created at": "2024-01-02 10:00:00 -0500",
         "Lineitem quantity": 2, "Lineitem name": "Mug", "Lineitem price": 12.5,
         "Lineitem sku": "MUG"}])
    st, (rc, ro) = _ingest(tmp_path, [customers, orders])
    assert (rc["table"], ro["table"]) == ("customers", "transactions")
    assert any("customer_id read from column 'Email': it holds 1 of the 1 customers of the "
               "sales lines ('Customer ID' holds 0)" in a for a in rc["assumptions"])
    got = st.query("SELECT customer_id, marketing_consent FROM customers ORDER BY 1")
    assert got.customer_id.tolist() == ["a@x.com", "c@x.com"]
    assert got.marketing_consent.tolist() == [True, False]
    # a customer list whose ids match the sales keeps them
    (tmp_path / "b").mkdir()
    st2, _ = _ingest(tmp_path / "b", [orders])
    ingest_files(st2, [write_csv(tmp_path / "b" / "c.csv", [
        {"customer_id": "a@x.com", "email": "other@x.com", "age": 40}])], loaded_at=LOADED_AT)
    assert st2.query("SELECT customer_id FROM customers").customer_id.tolist() == ["a@x.com"]


def test_monthly_exports_of_orders_and_their_lines(tmp_path: Path) -> None:
    """Orders and order lines exported month by month (orders_jan, items_jan, orders_feb,
    items_feb): every line finds its order in whichever orders file holds it; an order in two
    orders files is used from the first and the repeat quarantined; every row of every file is
    accounted for."""
    def order(o: str, c: str, day: str) -> dict[str, object]:
        return {"order_id": o, "customer_id": c, "order_purchase_timestamp": day}

    def item(o: str, p: str, price: float) -> dict[str, object]:
        return {"order_id": o, "product_id": p, "price": price}

    files = [
        write_csv(tmp_path / "orders_jan.csv", [order("o1", "c1", "2024-01-05 10:00"),
                                                order("o2", "c2", "2024-01-20 11:00")]),
        write_csv(tmp_path / "items_jan.csv", [item("o1", "p1", 10.0), item("o2", "p2", 5.0),
                                               item("o3", "p1", 10.0)]),  # o3: a late line
        write_csv(tmp_path / "orders_feb.csv", [order("o3", "c1", "2024-01-31 23:00"),
                                                order("o4", "c3", "2024-02-02 09:00"),
                                                order("o2", "c9", "2024-02-03 09:00")]),
        write_csv(tmp_path / "items_feb.csv", [item("o4", "p3", 7.5), item("o9", "p3", 7.5)]),
    ]
    st, reps = _ingest(tmp_path, files)
    by = {Path(r["file"]).name: r for r in reps}
    assert (by["items_jan.csv"]["rows_loaded"], by["items_feb.csv"]["rows_loaded"]) == (3, 1)
    assert by["items_feb.csv"]["rules"]["order_not_found"] == 1
    assert (by["orders_jan.csv"]["rows_loaded"], by["orders_jan.csv"]["rows_quarantined"]) == (
        2, 0)
    assert by["orders_feb.csv"]["rules"] == {"duplicate_order": 1}
    assert all(r["rows_read"] == r["rows_loaded"] + r["rows_quarantined"] for r in reps)
    got = st.query("SELECT order_id, customer_id FROM transactions ORDER BY order_id")
    assert list(got.itertuples(index=False, name=None)) == [
        ("o1", "c1"), ("o2", "c2"), ("o3", "c1"), ("o4", "c3")]
    assert any("'orders_jan.csv', 'orders_feb.csv'" in a
               for a in by["items_jan.csv"]["assumptions"])


def test_a_woocommerce_order_export(tmp_path: Path) -> None:
    """WooCommerce: statuses 'wc-refunded' / 'wc-cancelled', the item's price in 'Item Cost'
    next to an order total repeated on every line, and guest checkouts as user 0."""
    path = tmp_path / "orders-2024.csv"
    path.write_text(
        "Order Number,Order Status,Order Date,Customer User ID,Item Name,SKU,Quantity,"
        "Item Cost,Order Total Amount\n"
        "1001,wc-completed,2024-01-02 10:00:00,11,Mug,MUG-1,2,12.50,30.00\n"
        "1001,wc-completed,2024-01-02 10:00:00,11,Tea,TEA-1,1,5.00,30.00\n"
        "1002,wc-refunded,2024-01-03 11:00:00,12,Mug,MUG-1,1,12.50,12.50\n"
        "1003,wc-cancelled,2024-01-04 12:00:00,0,Tea,TEA-1,1,5.00,5.00\n"
        "1004,wc-processing,2024-01-05 12:00:00,0,Tea,TEA-1,3,5.00,15.00\n", encoding="utf-8")
    st, (rep,) = _ingest(tmp_path, [path])
    assert rep["columns"]["unit_price"] == "Item Cost" and "amount" not in rep["columns"]
    assert (rep["rows_loaded"], rep["rules"]["cancelled_order"]) == (3, 2)
    assert rep["revenue_loaded"] == 45.0  # not 30 + 30 + 15 from the repeated order total
    got = st.query("SELECT order_id, customer_id, is_guest FROM transactions ORDER BY 1, 2")
    assert got.customer_id.tolist() == ["11", "11", None]
    assert got.is_guest.tolist() == [False, False, True]
    assert any("name their customer '0' in 'Customer User ID'" in a for a in rep["assumptions"])


def test_an_order_total_repeated_on_every_line_is_refused(tmp_path: Path) -> None:
    """Lines with products but only the order's total (repeated on each line) as money: summing
    it would count each order once per line, so the load stops and says what to map; the
    store is untouched. A one-price shop's equal line totals, named as line totals, load."""
    rows = [{"order_id": o, "customer_id": "c1", "date": "2024-01-02", "sku": p, "qty": 1,
             "Order Total": tot}
            for o, tot in (("o1", 30.0), ("o2", 12.0), ("o3", 9.0), ("o4", 20.0))
            for p in ("A", "B")]
    path = write_csv(tmp_path / "lines.csv", rows)
    with pytest.raises(DataError, match=r"lines.csv: column 'Order Total' \(-> amount\) holds "
                                        r"the same value on every line of 4 of the 4 orders"):
        _ingest(tmp_path, [path])
    assert Store(tmp_path / "s.duckdb").count("transactions") == 0
    # named explicitly with --map, the column is taken as the line total it is said to be
    (tmp_path / "m").mkdir()
    _, (mapped,) = _ingest(tmp_path / "m", [path], mapping=["amount=Order Total"])
    assert mapped["rows_loaded"] == 8
    (tmp_path / "b").mkdir()
    flat = write_csv(tmp_path / "b" / "till.csv",
                     [{k: v for k, v in r.items() if k != "Order Total"} | {"Line Total": 1.0}
                      for r in rows])
    st, (rep,) = _ingest(tmp_path / "b", [flat])
    assert rep["rows_loaded"] == 8 and rep["revenue_loaded"] == 8.0


def test_a_pos_export_with_product_name_and_sku(tmp_path: Path) -> None:
    """A POS sales export (Vend/Lightspeed style): 'Product' is the name and 'SKU' the id;
    a voided sale is no sale, a negative line is a return."""
    path = tmp_path / "sales.csv"
    path.write_text(
        "Sale Date,Receipt Number,Customer Code,Product,SKU,Quantity,Subtotal,Total,Status\n"
        "2024-01-02 10:00:00,1001,C-1,Mug,MUG-1,2,25.00,27.50,CLOSED\n"
        "2024-01-02 10:00:00,1001,C-1,Tea,TEA-1,1,5.00,5.50,CLOSED\n"
        "2024-01-04 12:00:00,1003,C-2,Mug,MUG-1,1,12.50,13.75,VOIDED\n"
        "2024-01-05 12:00:00,1004,C-2,Mug,MUG-1,-1,-12.50,-13.75,CLOSED\n", encoding="utf-8")
    st, (rep,) = _ingest(tmp_path, [path])
    assert (rep["columns"]["product_id"], rep["columns"]["description"]) == ("SKU", "Product")
    assert rep["columns"]["order_id"] == "Receipt Number"
    assert (rep["rows_loaded"], rep["rules"]["cancelled_order"], rep["rules"]["return"]) == (
        3, 1, 1)
    got = st.query("SELECT product_id, description FROM transactions ORDER BY source_row")
    assert got.product_id.tolist() == ["MUG-1", "TEA-1", "MUG-1"]


def test_order_export_reads_the_subtotal_not_the_total_with_tax(tmp_path: Path) -> None:
    """One row per order with 'Subtotal', 'Shipping', 'Taxes' and 'Total': the shop's sales are
    the subtotal (the total adds tax and shipping, 20% and 4.90 here), and the report says so;
    --map amount=Total keeps the total."""
    rows = [{"Name": f"#{1000 + i}", "Email": f"c{i % 3}@x.io", "Created at":
             f"2024-03-{i + 1:02d} 10:00:00", "Subtotal": 50.0 + i, "Shipping": 4.9,
             "Taxes": round(0.2 * (50.0 + i), 2), "Total": round(1.2 * (50.0 + i) + 4.9, 2)}
            for i in range(6)]
    f = write_csv(tmp_path / "orders.csv", rows)
    st, (rep,) = _ingest(tmp_path, [f])
    assert rep["columns"]["amount"] == "Subtotal"
    assert st.query("SELECT sum(amount) AS v FROM transactions")["v"][0] == pytest.approx(
        sum(50.0 + i for i in range(6)))
    assert any(a.startswith("amount read from column 'Subtotal', not 'Total'")
               for a in rep["assumptions"])
    st.close()
    (tmp_path / "mapped").mkdir()
    st, (rep,) = _ingest(tmp_path / "mapped", [f], mapping=["amount=Total"])
    assert rep["columns"]["amount"] == "Total"
    assert not any("Subtotal" in a for a in rep["assumptions"])
    st.close()


def test_a_lone_subtotal_is_the_line_total(tmp_path: Path) -> None:
    """A till export whose only money column is 'Subtotal' (the line before tax) loads it as
    the line total; beside a 'Total' the subtotal is still the one read (test above)."""
    path = tmp_path / "sales.csv"
    path.write_text("Sale ID,Date,Customer,Item,Qty,Subtotal\n"
                    "1001,12/5/2023 3:45 pm,alice,Coffee Mug,1,12.00\n"
                    "1001,12/5/2023 3:45 pm,alice,Tea,2,8.00\n"
                    "1002,12/6/2023 10:02 am,bob,Latte,1,4.50\n", encoding="utf-8")
    st, (rep,) = _ingest(tmp_path, [path])
    assert rep["columns"]["amount"] == "Subtotal" and rep["rows_loaded"] == 3
    got = st.query("SELECT unit_price FROM transactions ORDER BY source_row").unit_price
    assert got.tolist() == [12.0, 4.0, 4.5]


CDNOW_RAW = """\
     1 19970101  1   11.77
     2 19970112  1   12.00
     2 19970112  5   77.00
     3 19970102  2   20.76
     3 19970330  2   20.76
     4 19970101  2   29.33
"""


def test_a_space_aligned_file_without_a_header_row(tmp_path: Path) -> None:
    """CDNOW as distributed (CDNOW_master.txt): columns aligned with spaces and no header
    row. Without --map it is one clear error showing each positional column's first value,
    and nothing is stored; mapped by position it loads every line."""
    f = tmp_path / "CDNOW_master.txt"
    f.write_text(CDNOW_RAW)
    with pytest.raises(DataError) as e:
        _ingest(tmp_path, [f])
    msg = str(e.value)
    # only what must be mapped: the order id and product are derived from the rest
    assert ("missing required column(s) customer_id, ordered_at, unit_price (or amount, the "
            "line total) (format generic)") in msg
    assert "the file's columns are: column_1, column_2, column_3, column_4" in msg
    assert ("no header row, so its columns are named by position (first line: "
            "column_1 = '1', column_2 = '19970101', column_3 = '1', column_4 = '11.77')") in msg
    assert "\n" not in msg
    st, (rep,) = _ingest(tmp_path, [f], mapping=[
        "customer_id=column_1", "ordered_at=column_2", "quantity=column_3", "amount=column_4"])
    assert rep["rows_read"] == rep["rows_loaded"] == 6 and rep["rows_quarantined"] == 0
    assert any("aligned with spaces" in n for n in rep["assumptions"])
    assert any("no header row" in n for n in rep["assumptions"])
    got = st.query("SELECT customer_id, CAST(ordered_at AS DATE) AS d, quantity, amount "
                   "FROM transactions ORDER BY customer_id, ordered_at, amount")
    assert got["customer_id"].tolist() == ["1", "2", "2", "3", "3", "4"]
    assert str(got["d"].iloc[4])[:10] == "1997-03-30" and got["amount"].sum() == pytest.approx(
        171.62)
    assert got["quantity"].tolist() == [1, 1, 5, 2, 2, 2]
    # two lines of customer 2 at the same time are one order
    assert st.query("SELECT count(DISTINCT order_id) AS n FROM transactions")["n"][0] == 5


def test_headerless_csv_and_space_aligned_with_a_header(tmp_path: Path) -> None:
    """The same layout rules whatever the delimiter: a comma file whose first line is data
    gets positional names; a space-aligned file with a header row keeps its names."""
    comma = tmp_path / "plain.csv"
    comma.write_text("".join(",".join(line.split()) + "\n"
                             for line in CDNOW_RAW.splitlines()))
    st, (rep,) = _ingest(tmp_path, [comma], mapping=[
        "customer_id=column_1", "ordered_at=column_2", "quantity=column_3", "amount=column_4"])
    assert rep["rows_loaded"] == 6 and not any("aligned with spaces" in n
                                               for n in rep["assumptions"])
    named = tmp_path / "named.txt"
    named.write_text("customer_id  date  quantity  amount\n" + CDNOW_RAW)
    st2 = Store(tmp_path / "t.duckdb")
    (rep2,) = ingest_files(st2, [named], loaded_at=LOADED_AT)
    assert rep2["rows_loaded"] == 6
    assert any("aligned with spaces" in n for n in rep2["assumptions"])
    assert not any("no header row" in n for n in rep2["assumptions"])


def test_cdnow_format_reads_the_distributed_text_layout(tmp_path: Path) -> None:
    """`--format cdnow` on the header-less text file maps its documented columns (id,
    yyyymmdd, CDs, dollars), keeps identical rows (separate purchases in CDNOW) and gives each
    row its own order, as for the named-column file."""
    f = tmp_path / "CDNOW_master.txt"
    f.write_text(CDNOW_RAW + CDNOW_RAW.splitlines()[1] + "\n")  # a repeated purchase
    st, (rep,) = _ingest(tmp_path, [f], fmt="cdnow")
    assert rep["format"] == "cdnow" and rep["rows_read"] == rep["rows_loaded"] == 7
    got = st.query("SELECT count(DISTINCT order_id) AS n, sum(amount) AS a FROM transactions")
    assert got["n"][0] == 7 and got["a"][0] == pytest.approx(171.62 + 12.0)
    other = tmp_path / "other"
    other.mkdir()
    g = other / "three.txt"
    g.write_text("1 19970101 11.77\n2 19970112 12.00\n")
    with pytest.raises(DataError, match="lacks column"):  # three columns are not CDNOW's
        _ingest(other, [g], fmt="cdnow")


@pytest.mark.parametrize("created", ["Created (UTC)", "Created", "created_utc"])
def test_a_stripe_payments_export_finds_its_created_date(tmp_path: Path, created: str) -> None:
    """Stripe's payments export dates a payment in 'Created (UTC)' (or 'Created'): that is
    the date, found without --map; 'Created By' is no date. A failed payment is no sale."""
    rows = [{"id": f"ch_{i}", "Description": f"Payment for invoice {i}", created:
             f"2024-01-{i + 1:02d} 10:00:00", "Amount": f"{10 + i:,.2f}", "Currency": "gbp",
             "Status": "Failed" if i == 3 else "Paid", "Customer ID": f"cus_{i % 2}",
             "Created By": "api"} for i in range(4)]
    st, (rep,) = _ingest(tmp_path, [write_csv(tmp_path / "unified_payments.csv", rows)])
    assert rep["columns"]["ordered_at"] == created
    assert (rep["rows_loaded"], rep["rules"]["cancelled_order"]) == (3, 1)
    assert st.query("SELECT max(ordered_at) AS m FROM transactions").m[0] == pd.Timestamp(
        "2024-01-03 10:00")


def test_a_created_column_that_holds_no_dates_is_refused(tmp_path: Path) -> None:
    """A bare 'Created' is taken as the date only if it holds dates: otherwise the load stops
    and names the column."""
    rows = [{"Customer ID": "c1", "Created": "yes", "Amount": 10.0},
            {"Customer ID": "c2", "Created": "no", "Amount": 12.0}]
    with pytest.raises(DataError, match=r"column 'Created' \(-> ordered_at\).*cannot be read "
                                        r"as a timestamp"):
        _ingest(tmp_path, [write_csv(tmp_path / "p.csv", rows)])


def test_a_prestashop_payment_error_is_no_sale(tmp_path: Path) -> None:
    """PrestaShop's orders list: 'Payment error' (the payment failed) is no sale, like
    'Canceled' and 'Refunded'; 'Payment accepted' and 'Awaiting bank wire payment' are."""
    path = tmp_path / "order.csv"
    path.write_text(
        "ID;Reference;New client;Delivery;Customer;Total;Payment;Status;Date\n"
        "1;QCIHSKAIR;Yes;France;G. MARTIN;€240.32;PayPal;Refunded;2023-11-16 09:13:00\n"
        "2;WFBOEZXZC;Yes;France;G. DOE;€149.91;Bank wire;Payment accepted;2023-06-01 08:26:00\n"
        "3;YZBMPXMSQ;No;France;H. BERNARD;€139.50;Bank wire;Payment error;2023-04-17 16:24:00\n"
        "4;QOHRTQGFB;Yes;France;D. SMITH;€29.97;Check;Canceled;2023-03-24 14:37:00\n"
        "5;QOHRTQGFC;No;France;D. SMITH;€19.97;Card;payment_failed;2023-03-25 14:37:00\n"
        "6;QOHRTQGFD;No;France;G. DOE;€9.99;Bank wire;Awaiting bank wire payment;"
        "2023-03-26 14:37:00\n", encoding="utf-8")
    st, (rep,) = _ingest(tmp_path, [path])
    assert (rep["rows_loaded"], rep["rules"]["cancelled_order"]) == (2, 4)
    assert any("the payment failed" in a for a in rep["assumptions"])
    reasons = st.query("SELECT DISTINCT reason FROM quarantine").reason.tolist()
    assert len(reasons) == 1 and "failed" in reasons[0]


@pytest.mark.parametrize(("nul", "why"), [
    (True, "it holds binary data"),  # random bytes hold NUL bytes, which text never does
    (False, "no columns and rows could be found"),  # DuckDB's CSV sniffer gives up
])
def test_random_bytes_named_csv_are_one_line_naming_the_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, nul: bool, why: str) -> None:
    import random

    data = random.Random(0).randbytes(4000)
    monkeypatch.chdir(tmp_path)  # a relative path, as typed
    Path("garbage.csv").write_bytes(data[:3000] if nul else data.replace(b"\0", b"")[:3000])
    with pytest.raises(DataError, match=f"garbage.csv: is not a readable table: {why}") as e:
        _ingest(tmp_path, [Path("garbage.csv")])
    # the user's file, never the converted copy in the scratch folder, nor DuckDB's internals
    assert str(e.value).startswith(str(tmp_path / "garbage.csv") + ":")
    assert "__src" not in str(e.value) and "loyalist-" not in str(e.value)
    assert "sniffing" not in str(e.value)


@pytest.mark.parametrize(("name", "text"), [
    ("catalog.toml", '[[promotion]]\nname = "pct10"\nkind = "percent_discount"\nvalue = 10\n'),
    ("catalog.yaml", "promotions:\n  - name: pct10\n    kind: percent_discount\n    value: 10\n"),
])
def test_a_toml_or_yaml_catalog_is_pointed_to_plan(tmp_path: Path, name: str, text: str) -> None:
    (tmp_path / name).write_text(text)
    with pytest.raises(DataError, match=rf"{name}: ingest reads tables .* is read by "
                                        rf"`loyalist plan --catalog "):
        _ingest(tmp_path, [tmp_path / name], table="promotion_catalog")


def test_product_list_keyed_by_the_code_the_sales_use(tmp_path: Path) -> None:
    """Exploratory report 6b, H3: H&M's articles.csv has ``article_id`` (what the sales name)
    and ``product_code`` (the family of colour variants); the family code was taken as the
    key, variants were merged and 0 of the products matched a sale, without a word. The key
    is now the id column holding the sold products; a key matching none of them is said."""
    sales = write_csv(tmp_path / "transactions_train.csv", [
        {"t_dat": "2020-09-0" + str(d), "customer_id": "h" * 63 + str(d % 2),
         "article_id": art, "price": 0.0339, "sales_channel_id": 2}
        for d, art in enumerate(["0108775015", "0108775044", "0110065001"], start=1)])
    articles = write_csv(tmp_path / "articles.csv", [
        {"article_id": art, "product_code": art[:7], "prod_name": name,
         "product_type_name": kind, "perceived_colour_value_name": "Dark"}
        for art, name, kind in [("0108775015", "Strap top", "Vest top"),
                                ("0108775044", "Strap top", "Vest top"),
                                ("0110065001", "OP T-shirt", "Bra")]])
    st, reps = _ingest(tmp_path, [sales])
    (rep,) = ingest_files(st, [articles], loaded_at=LOADED_AT, table="products")
    assert rep["columns"]["product_id"] == "article_id" and rep["rows_loaded"] == 3
    assert rep["columns"]["description"] == "prod_name"
    assert rep["columns"]["category"] == "product_type_name"
    got = st.query("SELECT product_id, category FROM products ORDER BY 1")
    assert got.product_id.tolist() == ["0108775015", "0108775044", "0110065001"]
    # a master with an internal sku first and the EAN the till scans second
    (tmp_path / "d").mkdir()
    ean = write_csv(tmp_path / "d" / "master.csv",
                    [{"sku": f"S{i}", "ean": art, "category": "tops", "price": 9.99}
                     for i, art in enumerate(["0108775015", "0108775044", "0110065001"])])
    (rep,) = ingest_files(st, [ean], loaded_at=LOADED_AT, table="products")
    assert rep["columns"]["product_id"] == "ean"
    assert any("read from column 'ean': it holds 3 of the 3 products" in a
               for a in rep["assumptions"])
    other = write_csv(tmp_path / "d" / "other.csv", [{"sku": "X1", "category": "toys"}])
    (rep,) = ingest_files(st, [other], loaded_at=LOADED_AT, table="products")
    assert any("none of the ids in column 'sku' is among the 3 products" in a
               for a in rep["assumptions"])
    st.close()


def _olist_like(tmp_path: Path) -> tuple[Path, Path, Path]:
    """The Olist layout in small: every order has a customer id of its own ('k1'...'k5');
    the person is 'customer_unique_id' in the customers file (u1 ordered three times, u2
    twice). Order k4's customer 'k4' also has a newer row (the person moved)."""
    orders = [{"order_id": f"o{n}", "customer_id": f"k{n}", "order_status": "delivered",
               "order_purchase_timestamp": f"2024-0{n}-02 10:00:00"} for n in range(1, 6)]
    items = [{"order_id": f"o{n}", "order_item_id": 1, "product_id": f"p{n % 2}",
              "price": 10.0 * n} for n in range(1, 6)]
    customers = [{"customer_id": f"k{n}", "customer_unique_id": u, "customer_city": city}
                 for n, u, city in ((1, "u1", "recife"), (2, "u2", "natal"), (3, "u1", "recife"),
                                    (4, "u2", "salvador"), (5, "u1", "olinda"))]
    return (write_csv(tmp_path / "orders.csv", orders),
            write_csv(tmp_path / "order_items.csv", items),
            write_csv(tmp_path / "customers.csv", customers))


def test_a_customers_file_naming_the_person_rekeys_per_order_customer_ids(
        tmp_path: Path) -> None:
    """Sales keyed by a per-order customer id, and a customers file mapping it onto the
    person (customer_unique_id): the sales' customers are the persons, said in the report,
    and the customers table has one row per person."""
    orders, items, customers = _olist_like(tmp_path)
    st, (ro, ri, rc) = _ingest(tmp_path, [orders, items, customers])
    got = st.query("SELECT order_id, customer_id FROM transactions ORDER BY order_id")
    assert got.customer_id.tolist() == ["u1", "u2", "u1", "u2", "u1"]
    assert ri["columns"]["customer_id"] == "customer_unique_id"
    assert ri["customers_with_purchases"] == ri["customers"] == 2 and ri["orders"] == 5
    assert any(a.startswith("customer ids re-keyed through customers.csv: its "
                            "'customer_unique_id' names the person behind each 'customer_id', "
                            "so the sales' 5 customer ids ('customer_id') are 2 persons")
               for a in ri["assumptions"])
    # every row accounted for, in each file
    for r in (ro, ri, rc):
        assert r["rows_loaded"] + r["rows_quarantined"] == r["rows_read"] == 5
    assert rc["columns"]["customer_id"] == "customer_unique_id"
    cust = st.query("SELECT customer_id, region FROM customers ORDER BY customer_id")
    assert list(cust.itertuples(index=False, name=None)) == [("u1", "olinda"),
                                                             ("u2", "salvador")]
    # the same by --map, which names a column of the customers file, not of the sales
    (tmp_path / "b").mkdir()
    st2, (_, ri2, _) = _ingest(tmp_path / "b", [orders, items, customers],
                               mapping={"customer_id": "customer_unique_id"})
    assert st2.query("SELECT count(DISTINCT customer_id) AS n FROM transactions").n[0] == 2
    assert ri2["columns"]["customer_id"] == "customer_unique_id"
    assert st2.query("SELECT count(*) AS n FROM customers").n[0] == 2


def test_a_person_map_that_cannot_link_the_sales_says_which_file_has_it(
        tmp_path: Path) -> None:
    orders, items, _ = _olist_like(tmp_path)
    other = write_csv(tmp_path / "people.csv", [
        {"customer_id": f"x{n}", "customer_unique_id": "u1", "customer_city": "natal"}
        for n in range(3)])
    with pytest.raises(DataError, match=r"--map customer_id=customer_unique_id: "
                                        r"order_items.csv has no column 'customer_unique_id', "
                                        r"and the customers file that has it cannot link .*"
                                        r"people.csv's 'customer_id' holds 0 of the sales' 5"):
        _ingest(tmp_path, [orders, items, other], mapping={"customer_id": "customer_unique_id"})
    # without the map, such a file keys nothing: the sales keep their own ids
    st, (_, ri, _) = _ingest(tmp_path, [orders, items, other])
    assert ri["columns"]["customer_id"] == "customer_id"
    assert st.query("SELECT count(DISTINCT customer_id) AS n FROM transactions").n[0] == 5


def test_one_file_with_a_per_order_customer_id_and_the_person_beside_it(
        tmp_path: Path) -> None:
    """Orders, items and customers merged into one file: 'customer_id' is new for every order,
    'customer_unique_id' repeats across orders, so the person is the customer."""
    rows = [{"order_id": f"o{n}", "customer_id": f"k{n}", "customer_unique_id": f"u{n % 2}",
             "order_purchase_timestamp": f"2024-0{n}-02 10:00:00", "order_item_id": 1,
             "product_id": "p1", "price": 10.0} for n in range(1, 7)]
    f = write_csv(tmp_path / "merged.csv", rows)
    st, (rep,) = _ingest(tmp_path, [f])
    assert rep["columns"]["customer_id"] == "customer_unique_id"
    assert st.query("SELECT count(DISTINCT customer_id) AS n FROM transactions").n[0] == 2
    assert ("customer_id read from column 'customer_unique_id', not 'customer_id': "
            "'customer_id' is a new id for (nearly) every order (6 ids, 6 orders), "
            "'customer_unique_id' names the person across orders (2 persons)") in " ".join(
                rep["assumptions"])
    # a map is taken as meant
    (tmp_path / "b").mkdir()
    st2, (rep2,) = _ingest(tmp_path / "b", [f], mapping={"customer_id": "customer_id"})
    assert st2.query("SELECT count(DISTINCT customer_id) AS n FROM transactions").n[0] == 6
    # customer ids that repeat across orders are persons already: kept
    for r in rows:
        r["customer_id"] = "c" + str(r["customer_unique_id"])
    (tmp_path / "c").mkdir()
    _, (rep3,) = _ingest(tmp_path / "c", [write_csv(tmp_path / "c" / "m.csv", rows)])
    assert rep3["columns"]["customer_id"] == "customer_id"


def test_lines_repeated_by_a_join_with_payments_are_quarantined(tmp_path: Path) -> None:
    """A merged file where an order paid in two payments repeats its item rows: the same
    order id and line number with the same item fields is one line (rule repeated_line, with
    its revenue in the report); two lines of the same product under two numbers stay two."""
    base = {"order_id": "o1", "customer_id": "c1", "order_purchase_timestamp":
            "2024-01-02 10:00:00", "product_id": "p1", "price": 10.0}
    rows = [{**base, "order_item_id": i, "payment_sequential": pay, "payment_value": v}
            for pay, v in ((1, 15.0), (2, 5.0)) for i in (1, 2)]
    rows.append({**base, "order_id": "o2", "order_item_id": 1, "payment_sequential": 1,
                 "payment_value": 10.0})
    st, (rep,) = _ingest(tmp_path, [write_csv(tmp_path / "merged.csv", rows)])
    assert (rep["rows_read"], rep["rows_loaded"], rep["rows_quarantined"]) == (5, 3, 2)
    assert rep["rules"]["repeated_line"] == 2
    assert rep["revenue_loaded"] == 30.0
    assert rep["rule_details"]["repeated_line"]["revenue"] == 20.0
    assert any(a.startswith("2 rows repeat an earlier row's order and line number ('order_id', "
                            "'order_item_id')") and "20.00 of revenue" in a
               for a in rep["assumptions"])
    q = st.query("SELECT source_row, rule FROM quarantine ORDER BY source_row")
    assert list(q.itertuples(index=False, name=None)) == [(3, "repeated_line"),
                                                         (4, "repeated_line")]


def _tafeng_rows(amount_is_units: bool = True) -> list[dict[str, object]]:
    """Ta-Feng's layout: ``AMOUNT`` units, ``ASSET`` cost and ``SALES_PRICE`` the line's
    total, five products at fixed unit prices bought 1 to 3 at a time."""
    unit = {"4710001": 35, "4710002": 120, "4710003": 59, "4710004": 18, "4710005": 249}
    rows = []
    for i in range(30):
        pid = list(unit)[i % 5]
        q = 1 + (i * 7) % 3
        rows.append({"TRANSACTION_DT": f"11/{1 + i % 28}/2000", "CUSTOMER_ID": f"{100 + i % 6}",
                     "AGE_GROUP": "35-39", "PIN_CODE": "221", "PRODUCT_SUBCLASS": "110411",
                     "PRODUCT_ID": pid, "AMOUNT": q if amount_is_units else q * unit[pid],
                     "ASSET": round(0.8 * q * unit[pid]), "SALES_PRICE": q * unit[pid]})
    return rows


@pytest.mark.parametrize("mapping", [None, {"quantity": "AMOUNT"}])
def test_tafeng_units_beside_a_line_total_called_price(tmp_path: Path,
                                                       mapping: dict[str, str] | None) -> None:
    """Ta-Feng: 'AMOUNT' counts units and 'SALES_PRICE' is the line's total (it grows with the
    units across the lines of a product). Both are read so, from the data, with or without
    --map quantity=AMOUNT; before, the units were dropped (one unit per line at the line's
    total), and with the map alone the total was multiplied by the units again (report 6b,
    H6). The report says what was read and how to read it otherwise."""
    rows = _tafeng_rows()
    f = write_csv(tmp_path / "ta_feng_all_months_merged.csv", rows)
    st, (rep,) = _ingest(tmp_path, [f], mapping=mapping)
    assert (rep["columns"]["quantity"], rep["columns"]["amount"]) == ("AMOUNT", "SALES_PRICE")
    assert "unit_price" not in rep["columns"]
    units, revenue = st.con.execute(
        "SELECT sum(quantity), sum(amount) FROM transactions").fetchall()[0]
    assert units == sum(r["AMOUNT"] for r in rows)
    assert revenue == rep["revenue_loaded"] == sum(r["SALES_PRICE"] for r in rows)
    prices = st.query("SELECT product_id, min(unit_price) AS lo, max(unit_price) AS hi "
                      "FROM transactions GROUP BY 1 ORDER BY 1")
    assert prices.lo.tolist() == prices.hi.tolist() == [35, 120, 59, 18, 249]
    assert any(a.startswith("amount read from column 'SALES_PRICE': it is the line's total")
               and "--map unit_price='SALES_PRICE'" in a for a in rep["assumptions"])
    assert (mapping is not None) != any(a.startswith("quantity read from column 'AMOUNT'")
                                        for a in rep["assumptions"])
    # 'ASSET' is the line's cost (20% below the sale here): it gives the products' margins,
    # where it used to be left unread and plans assumed a margin rate
    margins = st.query("SELECT DISTINCT round(margin, 2) AS m FROM products")["m"].tolist()
    assert margins == [0.2]
    assert any("'ASSET' (1 - cost of the line over its value" in a for a in rep["assumptions"])


def test_an_amount_holding_money_is_no_units_column(tmp_path: Path) -> None:
    """A column called 'AMOUNT' that holds the line's money (at least the price) is not read
    as units: as before, the file counts one unit per line at its price and says 'AMOUNT' is
    not used."""
    rows = [{k: v for k, v in r.items() if k != "ASSET"} for r in _tafeng_rows(False)]
    st, (rep,) = _ingest(tmp_path, [write_csv(tmp_path / "t.csv", rows)])
    assert "quantity" not in rep["columns"] and rep["columns"]["unit_price"] == "SALES_PRICE"
    assert any("the column 'AMOUNT' is not used" in a for a in rep["assumptions"])


def test_a_price_that_stays_put_is_a_unit_price_and_an_unclear_one_is_said(
        tmp_path: Path) -> None:
    """A 'price' beside a quantity that does not grow with it across a product's lines is the
    price of one unit (no note). When too few products are bought in different quantities to
    tell, it is read as the price of one unit and the report says how to read it as the line's
    total."""
    rows = [{"order": f"o{i}", "customer": f"c{i % 4}", "date": f"2024-01-{1 + i:02d}",
             "sku": f"P{i % 5}", "qty": 1 + i % 3, "price": [2.5, 4.0, 9.9, 1.2, 3.3][i % 5]}
            for i in range(20)]
    st, (rep,) = _ingest(tmp_path, [write_csv(tmp_path / "a.csv", rows)])
    assert rep["columns"]["unit_price"] == "price" and "amount" not in rep["columns"]
    assert not any("price of one unit" in a for a in rep["assumptions"])
    few = [r for r in rows if r["sku"] in ("P0", "P1")]
    (tmp_path / "few").mkdir()
    st, (rep,) = _ingest(tmp_path / "few", [write_csv(tmp_path / "b.csv", few)])
    assert rep["columns"]["unit_price"] == "price"
    assert any(a.startswith("unit_price ('price') is read as the price of one unit")
               and "only 2 product(s)" in a and "--map amount='price'" in a
               for a in rep["assumptions"])


def test_every_field_quoted_with_semicolons(tmp_path: Path) -> None:
    """Exploratory report 9: a CSV with every field quoted and semicolons between
    (PrestaShop's order export, LibreOffice's 'quote all text cells') was read as one column
    and refused: DuckDB's lenient sniffer, which tolerates a stray quote inside a value,
    takes ``"ID";"Customer"`` for one quoted value. A stray quote still reads."""
    path = tmp_path / "order_2026-11-25.csv"
    path.write_text('"ID";"Customer";"Total";"Status";"Date"\r\n'
                    '"1001";"T. MEYER";"37,50 €";"Livré";"02/05/2025 08:14:20"\r\n'
                    '"1002";"C. COSTA";"22,95 €";"Livré";"03/05/2025 09:00:00"\r\n'
                    '"1003";"T. MEYER";"12,95 €";"Livré";"23/06/2025 10:00:00"\r\n',
                    encoding="utf-8")
    st, (rep,) = _ingest(tmp_path, [path])
    assert (rep["rows_read"], rep["rows_loaded"]) == (3, 3)
    got = st.query("SELECT customer_id, amount, ordered_at FROM transactions "
                   "ORDER BY source_row")
    assert got.customer_id.tolist() == ["T. MEYER", "C. COSTA", "T. MEYER"]
    assert got.amount.tolist() == [37.5, 22.95, 12.95]
    assert got.ordered_at[2] == pd.Timestamp("2025-06-23 10:00")
    stray = tmp_path / "stray" / "lines.csv"
    stray.parent.mkdir()
    stray.write_text('order;customer;date;product;description;qty;price\n'
                     'o1;c1;2025-05-02;p1;Vinyl 12" single;1;9.99\n'
                     'o2;c2;2025-05-03;p2;Poster "A2";2;4.50\n', encoding="utf-8")
    st, (rep,) = _ingest(stray.parent, [stray])
    assert rep["rows_loaded"] == 2
    assert st.query("SELECT description FROM transactions ORDER BY source_row"
                    ).description.tolist() == ['Vinyl 12" single', 'Poster "A2"']


def test_an_empty_column_is_never_guessed(tmp_path: Path) -> None:
    """Exploratory report 9: an Etsy 'Sold Order Items' export (an empty 'SKU' column for a
    shop without SKUs, 'Buyer' beside 'VAT Paid by Buyer') was refused ("'SKU' is empty in
    all rows"), and an Amazon report's empty 'merchant-order-id' tied with
    'amazon-order-id', leaving every line its own order. An empty column is guessed as
    nothing; without product codes the product is its name; a money column is no buyer."""
    etsy = [{"Sale Date": f"0{1 + i % 9}/1{i % 9}/25", "Item Name": ["Keychain", "Mug"][i % 2],
             "Buyer": f"buyer{i % 3}", "Quantity": 1, "Price": "18.50",
             "Order ID": str(3000 + i // 2), "VAT Paid by Buyer": "0", "SKU": ""}
            for i in range(8)]
    st, (rep,) = _ingest(tmp_path / "etsy", [write_csv(_mkdir(tmp_path / "etsy") / "e.csv",
                                                        etsy)])
    assert rep["columns"]["customer_id"] == "Buyer"
    assert "product_id" not in rep["columns"] and rep["rows_loaded"] == 8
    assert any(a.startswith("no product code column: each line's product is the one its name "
                            "('Item Name') says") for a in rep["assumptions"])
    got = st.query("SELECT DISTINCT product_id FROM transactions ORDER BY 1").product_id
    assert got.tolist() == ["Keychain", "Mug"]
    amazon = [{"amazon-order-id": f"111-{i // 2}", "merchant-order-id": "",
               "purchase-date": f"2024-0{1 + i // 2}-10T10:00:00+00:00", "sku": f"S{i % 3}",
               "quantity": 1, "item-price": "12.00"} for i in range(8)]
    st, (rep,) = _ingest(tmp_path / "amazon", [write_csv(
        _mkdir(tmp_path / "amazon") / "orders.txt", amazon, sep="\t")])
    assert rep["columns"]["order_id"] == "amazon-order-id"
    assert st.query("SELECT count(DISTINCT order_id) AS n FROM transactions").n[0] == 4


def _mkdir(p: Path) -> Path:
    p.mkdir(parents=True, exist_ok=True)
    return p


@pytest.mark.parametrize(("status_col", "values", "extra"), [
    # void flags: Toast's 'Void?', a German till's 'Storno'
    ("Void?", ["false", "true", "false", "TRUE"], {}),
    ("Storno", ["Nein", "Ja", "", "ja"], {}),
    # cancel and refund words in French and Portuguese; 'Estado' is the address's state
    ("Statut", ["Livré", "Annulé", "Payé", "Remboursé"], {}),
    ("Status do Pedido", ["Entregue", "Cancelado", "Entregue", "Devolvido"], {"Estado": "SP"}),
])
def test_voided_and_cancelled_lines_in_other_words(tmp_path: Path, status_col: str,
                                                   values: list[str],
                                                   extra: dict[str, str]) -> None:
    """Exploratory report 9: a Toast 'Void?' = true or a till's 'Storno' = Ja line, and an
    order 'Annulé', 'Remboursé', 'Cancelado' or 'Devolvido' were loaded as sales (+4% to +12%
    revenue on those exports). They are quarantined as cancelled_order."""
    rows = [{**line(order=f"o{i}", product="p1", price=10.0, customer=f"c{i}"),
             status_col: v, **extra} for i, v in enumerate(values)]
    st, (rep,) = _ingest(tmp_path, [write_csv(tmp_path / "sales.csv", rows)])
    assert rep["rules"].get("cancelled_order") == 2, rep["assumptions"]
    assert st.query("SELECT order_id FROM transactions ORDER BY 1").order_id.tolist() == [
        "o0", "o2"]


def test_web_shop_columns_and_currencies_written_with_letters(tmp_path: Path) -> None:
    """Exploratory report 9: WooCommerce's 'Quantity (- Refund)' was left out for its word
    'refund' (every line one unit: -37% revenue) and 'Email (Billing)' was no customer;
    a Brazilian shop's 'R$ 388,50' was no number."""
    rows = [{"Order Number": f"{1000 + i}", "Order Date": "2025-05-01 11:11",
             "Email (Billing)": f"c{i % 2}@mail.de", "SKU": "NTB", "Item Name": "Notebook",
             "Quantity (- Refund)": 3, "Item Cost": f"R$ {i + 1}.050,50"} for i in range(3)]
    st, (rep,) = _ingest(tmp_path, [write_csv(tmp_path / "orders.csv", rows, sep=";")])
    assert rep["columns"]["quantity"] == "Quantity (- Refund)"
    assert rep["columns"]["customer_id"] == "Email (Billing)"
    got = st.query("SELECT quantity, unit_price FROM transactions ORDER BY order_id")
    assert got.quantity.tolist() == [3, 3, 3]
    assert got.unit_price.tolist() == [1050.5, 2050.5, 3050.5]


def test_order_fields_on_the_first_line_only_order_id_too(tmp_path: Path) -> None:
    """Exploratory report 9: Odoo's POS order export writes the order's ref, date, customer
    and status on its first line only; the other lines hold the product, quantity and price.
    They became identical rows (quarantined as exact duplicates) or undated ones: -51%
    revenue. Such a line continues the order above it, and takes its date and customer."""
    head = ('"Order Ref","Date","Customer","Status","Order Lines/Product",'
            '"Order Lines/Quantity","Order Lines/Unit Price"\n')
    rows = ['"Shop/1001","2025-05-01 16:40:15","Hugo","Posted","[F1] Chair","1.00","129.00"',
            '"","","","","[F3] Stand","1.00","49.90"',
            '"Shop/1002","2025-05-02 10:00:00","","Posted","[F2] Lamp","3.00","34.50"',
            '"","","","","[F3] Stand","1.00","49.90"',
            '"Shop/1003","2025-05-03 11:00:00","Ben","Cancelled","[F1] Chair","2.00","129.00"',
            '"","","","","[F3] Stand","1.00","49.90"']
    path = tmp_path / "pos.order.csv"
    path.write_text(head + "\n".join(rows) + "\n", encoding="utf-8")
    st, (rep,) = _ingest(tmp_path, [path])
    assert rep["columns"]["order_id"] == "Order Ref"
    assert (rep["rows_loaded"], rep["rules"].get("cancelled_order")) == (4, 2)
    assert "exact_duplicate" not in rep["rules"]
    got = st.query("SELECT order_id, customer_id, ordered_at, product_id FROM transactions "
                   "ORDER BY source_row")
    assert got.order_id.tolist() == ["Shop/1001", "Shop/1001", "Shop/1002", "Shop/1002"]
    assert got.customer_id.tolist()[:2] == ["Hugo", "Hugo"]
    assert got.customer_id.isna().tolist()[2:] == [True, True]  # a guest order stays one
    assert got.ordered_at[3] == pd.Timestamp("2025-05-02 10:00")
    assert any(a.startswith("3 line(s) with a product and no order id ('Order Ref'), date or "
                            "customer continue the order of the line above them")
               for a in rep["assumptions"])


def test_one_customer_on_every_order_is_the_files_owner(tmp_path: Path) -> None:
    """Exploratory report 9: SumUp's transaction report carries the merchant's own login
    e-mail on every payment, which made one customer of a barber's 1,048 orders. Above 50
    orders, one customer on every order is no buyer: the lines are guest lines, said once.
    A file with 50 orders of one customer (a customer's own purchase history) keeps it."""
    def report(n: int) -> Path:
        rows = [{"Email": "info@barber.de", "Date": f"2025-05-{1 + i % 28:02d} 13:{i % 60:02d}",
                 "Transaction ID": f"T{i}", "Status": "Successful",
                 "Description": "1 x Haircut", "Total Amount": "25.00"} for i in range(n)]
        return write_csv(_mkdir(tmp_path / str(n)) / "transactions-report.csv", rows)

    st, (rep,) = _ingest(tmp_path / "51", [report(51)])
    assert rep["rows_loaded"] == 51 and rep["rules"]["guest"] == 51
    said = [a for a in rep["assumptions"] if "names one customer" in a]
    assert said == ["customer_id ('Email') names one customer, 'info@barber.de', on all 51 "
                    "orders: the account the file belongs to, not the buyers, so every line "
                    "is a guest line; name the buyers' column with --map customer_id=<column> "
                    "if the file has one"]
    assert not any("placeholder" in a for a in rep["assumptions"])
    assert st.query("SELECT count(customer_id) AS n FROM transactions").n[0] == 0
    st, (rep,) = _ingest(tmp_path / "50", [report(50)])
    assert st.query("SELECT count(DISTINCT customer_id) AS n FROM transactions").n[0] == 1


def test_each_till_numbers_its_own_receipts(tmp_path: Path) -> None:
    """Exploratory report 9: a tobacconist's till journal restarts 'Bon-Nr.' at 1 every day on
    every till, and both tills of a shop print receipt 1: a walk-in's carton on till K2 at
    20:01 joined card customer 1018's receipt of 13:12 on till K1 and took his card. The
    order is till/receipt."""
    path = tmp_path / "Kassenjournal.csv"
    path.write_text(
        "Filiale;Kasse;Bon-Nr.;Datum;Uhrzeit;Kundenkarte;EAN;Menge;VK-Preis\n"
        "F02;K1;1;04.05.2025;13:12;1018;4001;1;1,30\n"
        "F02;K1;1;04.05.2025;13:12;1018;4015;2;8,20\n"
        "F02;K2;1;04.05.2025;20:01;;4016;2;82,00\n"
        "F02;K2;2;04.05.2025;20:05;;4001;1;1,30\n", encoding="utf-8")
    st, (rep,) = _ingest(tmp_path, [path])
    assert rep["rows_loaded"] == 4
    got = st.query("SELECT order_id, customer_id FROM transactions ORDER BY source_row")
    assert got.order_id.tolist() == ["K1/1", "K1/1", "K2/1", "K2/2"]
    assert got.customer_id.isna().tolist() == [False, False, True, True]
    assert "order_id is the till ('Kasse') and the receipt ('Bon-Nr.'), till/receipt: each "\
           "till numbers its own receipts" in rep["assumptions"]


def test_nordic_column_names(tmp_path: Path) -> None:
    """Exploratory report 9: a Swedish Zettle export (Datum, Tid, Kvittonummer, Produkt,
    Antal, Styckpris, Totalt) was refused as 'not sales lines'. Swedish, Danish, Norwegian
    and Finnish names are read, 'Tid' as the time only beside them (in an English file
    'TID' is a terminal's id), and letters NFKD keeps whole ('ø', 'æ') are spelt out."""
    path = tmp_path / "Zettle-Försäljning.csv"
    path.write_text("Datum;Tid;Kvittonummer;Produkt;Antal;Styckpris;Totalt;Enhet\n"
                    "2025-05-03;07:34;1001;Cappuccino;2;45,00;90,00;iPad Kassa 1\n"
                    "2025-05-03;07:34;1001;Kaffe bryggt;1;32,00;32,00;iPad Kassa 1\n"
                    "2025-05-04;09:10;1002;Kanelbulle;3;1 149,00;3 447,00;iPad Kassa 1\n",
                    encoding="utf-8")
    st, (rep,) = _ingest(tmp_path, [path])
    assert rep["columns"] == {"order_id": "Kvittonummer", "ordered_at": "Datum",
                              "product_id": "Produkt", "quantity": "Antal",
                              "unit_price": "Styckpris", "ordered_time": "Tid"}
    assert rep["revenue_loaded"] == 3569.0
    assert st.query("SELECT max(ordered_at) AS t FROM transactions").t[0] == \
        pd.Timestamp("2025-05-04 09:10")
    danish = tmp_path / "da" / "salg.csv"
    danish.parent.mkdir()
    danish.write_text("Dato;Ordrenummer;Kundenummer;Varenummer;Antal;Beløb\n"
                      "03.05.2025;A1;K7;V1;1;120,50\n04.05.2025;A2;K8;V2;2;80,00\n",
                      encoding="utf-8")
    st, (rep,) = _ingest(danish.parent, [danish])
    assert rep["columns"] == {"order_id": "Ordrenummer", "ordered_at": "Dato",
                              "customer_id": "Kundenummer", "product_id": "Varenummer",
                              "quantity": "Antal", "amount": "Beløb"}
    assert rep["customers"] == 2 and rep["revenue_loaded"] == 200.5
    english = tmp_path / "en" / "sales.csv"
    english.parent.mkdir()
    english.write_text("Date,Invoice,Customer,Product,Qty,Price,TID\n"
                       "2025-01-02 10:00,1,C1,A,1,10,TERM01\n"
                       "2025-01-03 11:00,2,C2,B,2,5,TERM02\n", encoding="utf-8")
    _, (rep,) = _ingest(english.parent, [english])
    assert "ordered_time" not in rep["columns"] and rep["rows_loaded"] == 2


def test_a_customers_phone_or_name_when_the_file_has_no_id(tmp_path: Path) -> None:
    """Exploratory report 9: an Indian billing app's sale report names its customers only by
    'Party Name' and 'Party Phone No.': every line was a guest line, 0 customers. The phone
    is the customer then (said), and a walk-in's 'Cash Sale' is still a guest."""
    path = tmp_path / "Sale_Report.csv"
    path.write_text("Date,Invoice No.,Party Name,Party Phone No.,Item Name,Item Code,Quantity,"
                    "Price/Unit,Amount\n"
                    "01/05/2025,INV-1,Vikram Iyer,9892200839,Dupatta,DP-4,1,₹749.00,₹749.00\n"
                    "02/05/2025,INV-2,Cash Sale,,Dupatta,DP-4,1,₹749.00,₹749.00\n"
                    "03/06/2025,INV-3,Vikram Iyer,9892200839,Sherwani,SH-5,2,\"₹32,500.00\","
                    "\"₹65,000.00\"\n", encoding="utf-8")
    st, (rep,) = _ingest(tmp_path, [path])
    assert rep["columns"]["customer_id"] == "Party Phone No."
    assert rep["customers"] == 1 and rep["rules"]["guest"] == 1
    # a guess, which `loyalist run` shows before any result
    assert any(a.startswith("customer_id read from column 'Party Phone No.' (found by its "
                            "name: the file has no customer id or e-mail")
               and is_guessed_note(a) for a in rep["assumptions"])
    names = tmp_path / "names" / "sales.csv"
    names.parent.mkdir()
    names.write_text("Date,Invoice,Customer Name,Product,Qty,Price\n"
                     "2025-01-02,1,Ann Lee,A,1,10\n2025-01-03,2,Bob Ray,B,2,5\n"
                     "2025-01-04,3,Ann Lee,A,1,10\n", encoding="utf-8")
    _, (rep,) = _ingest(names.parent, [names])
    assert rep["columns"]["customer_id"] == "Customer Name" and rep["customers"] == 2


def test_ebay_orders_report(tmp_path: Path) -> None:
    """Exploratory report 9: eBay's orders report (a blank first line; a multi-item order is a
    summary row with the order's 'Total Price' and no item, then one row per item with its
    'Sold For'; two footer lines) was refused: the footer made DuckDB's sniffer take '|' for
    the delimiter. The order is the 'Order Number' (not the item's 'Transaction ID'), the
    price 'Sold For', the summary rows are ``order_summary`` and the footer ``totals_row``,
    none of them in the revenue read."""
    head = ('"Sales Record Number","Order Number","Buyer Email","Item Number","Item Title",'
            '"Quantity","Sold For","Total Price","Sale Date","Transaction ID"')
    rows = ['"5001","23-1","lena@x.com","","","3","","$105.00","2025-05-01",""',
            '"5002","23-1","lena@x.com","3640","Jeans","1","$45.00","","2025-05-01","455"',
            '"5003","23-1","lena@x.com","3641","Belt","2","$30.00","","2025-05-01","456"',
            '"5004","23-2","olga@x.com","3640","Jeans","1","$45.00","$52.00","2025-06-02","457"']
    path = tmp_path / "eBay-OrdersReport.csv"
    path.write_text("\n" + "\n".join([head, *rows]) + "\n\n"
                    '"4 record(s) downloaded,from May-01-25 to Jun-30-25"\n\n'
                    '"Seller ID : vintage_finds"\n', encoding="utf-8")
    st, (rep,) = _ingest(tmp_path, [path])
    assert rep["columns"]["order_id"] == "Order Number"
    assert rep["columns"]["unit_price"] == "Sold For"
    assert rep["columns"]["description"] == "Item Title"
    assert (rep["rows_read"], rep["rows_loaded"]) == (6, 3)
    assert rep["rules"]["order_summary"] == 1 and rep["rules"]["totals_row"] == 2
    assert rep["revenue_read"] == rep["revenue_loaded"] == 150.0
    assert rep["orders"] == 2
    assert any("the last 2 line(s) hold one value each below the data ('4 record(s) "
               "downloaded,from May-01-25 to Jun-30-25', 'Seller ID : vintage_finds')" in a
               for a in rep["assumptions"])


def test_an_order_refunded_in_full_is_no_sale(tmp_path: Path) -> None:
    """Exploratory report 9: Magento's order grid says 'Closed' for an order refunded in full
    (its 'Total Refunded' is the grand total), which was loaded as a sale. An order whose
    refund column holds at least its lines' value is quarantined as cancelled_order; a
    partial refund stays with the lines and is said."""
    path = tmp_path / "export.csv"
    path.write_text('"ID","Purchase Date","Customer Email","Subtotal","Grand Total (Purchased)",'
                    '"Status","Total Refunded"\n'
                    '"0001","May 1, 2025 9:33:13 AM","a@x.com","€88.99","€93.99","Closed",'
                    '"€93.99"\n'
                    '"0002","May 2, 2025 9:33:13 AM","b@x.com","€60.00","€65.00","Complete",'
                    '"€10.00"\n'
                    '"0003","May 3, 2025 9:33:13 AM","a@x.com","€20.00","€25.00","Complete",'
                    '"€0.00"\n', encoding="utf-8")
    st, (rep,) = _ingest(tmp_path, [path])
    assert rep["rules"]["cancelled_order"] == 1
    assert rep["revenue_loaded"] == 80.0
    assert "1 order(s) whose 'Total Refunded' is their whole value (93.99 in all) were "\
           "refunded in full: their 1 line(s) are no sales and are quarantined as "\
           "cancelled_order" in rep["assumptions"]
    assert any(a.startswith("'Total Refunded' holds order-level refunds (10.00 in all)")
               for a in rep["assumptions"])


@pytest.mark.parametrize(("encoding", "given"), [
    ("utf-8", None), ("cp1252", None), ("utf-16", None), ("cp1252", "cp1252")])
def test_a_text_files_hash_is_of_its_bytes_as_written(tmp_path: Path, encoding: str,
                                                      given: str | None) -> None:
    """The file's SHA-256 (which tells a file loaded before) is taken as its encoding is
    checked (UTF-8) or its UTF-8 copy is written (a legacy encoding, detected or given), not
    in a pass over the file of its own; it is still the hash of the bytes as written."""
    import hashlib

    path = tmp_path / "kasse.csv"
    pd.DataFrame([line(order="1", description="Käse 3 €"), line(order="2", description="Tee")]
                 ).to_csv(path, index=False, encoding=encoding)
    st, (rep,) = _ingest(tmp_path, [path], **({"encoding": given} if given else {}))
    assert rep["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    got = st.query("SELECT description FROM transactions ORDER BY source_row").description
    assert got.tolist() == ["Käse 3 €", "Tee"]


def test_a_gzipped_text_files_hash_is_of_its_compressed_bytes(tmp_path: Path) -> None:
    """Read straight from a .gz, the text's passes are over the decompressed bytes: the hash
    is of the file as written, as before, and its UTF-8 copy is the text."""
    import gzip
    import hashlib

    import duckdb

    from loyalist.ingest.read import open_sources
    from loyalist.ingest.text import to_utf8

    path = tmp_path / "kasse.csv.gz"
    path.write_bytes(gzip.compress("order_id,product_id,description\n1,P1,Käse\n".encode()))
    with duckdb.connect() as con:
        (src,) = open_sources(con, path, "v", tmp_path / "scratch")
        assert con.execute("SELECT description FROM v").fetchall() == [("Käse",)]
    assert src.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    path.write_bytes(gzip.compress("Käse\n".encode("cp1252")))
    copy, sha = to_utf8(path, tmp_path / "copy.csv", "cp1252")
    assert (copy.read_text(encoding="utf-8"), sha) == ("Käse\n", None)


def test_a_legacy_byte_on_the_last_line_only(tmp_path: Path) -> None:
    """A file is UTF-8 only when all of it decodes as UTF-8: a Windows-1252 export whose one
    non-ASCII byte is on its last line, megabytes after the sample its words are read from,
    is still read as Windows-1252 ('Crème' loads as written, not refused or garbled)."""
    path = tmp_path / "kasse.csv"
    body = "".join(f"{i},C{i % 7},2024-03-0{1 + i % 9} 10:00:00,P{i % 5},{'x' * 80_000},1,2.50\n"
                   for i in range(110))
    path.write_bytes(("order_id,customer_id,ordered_at,product_id,description,quantity,"
                      "unit_price\n" + body + "999,C1,2024-03-09 11:00:00,P9,Crème,1,2.50\n"
                      ).encode("cp1252"))
    assert path.stat().st_size > 8 << 20
    st, (rep,) = _ingest(tmp_path, [path])
    assert (rep["rows_read"], rep["rows_loaded"]) == (111, 111)
    assert f"the file is not UTF-8: read as Windows-1252 (Latin-1 with the euro sign){GUESSED}" \
        in rep["assumptions"]
    assert st.query("SELECT description FROM transactions WHERE order_id = '999'"
                    ).description.tolist() == ["Crème"]


@pytest.mark.parametrize(("lang", "encoding", "header", "rows", "first_day"), [
    # Japanese, dates the year first as Japanese shops write them
    ("ja", "shift_jis", "顧客ID,伝票番号,日付,商品コード,数量,単価,カテゴリ",
     ["K1,R1,2024年7月4日,P1,2,1100,足袋", "K2,R2,2024年7月5日,P2,1,3000,帯"], "2024-07-04"),
    ("zh", "gb18030", "客户编号,订单号,下单时间,商品编码,数量,单价,商品名称",
     ["C1,O1,2024-07-04 10:00,S1,2,11.5,茶叶", "C2,O2,2024-07-05 11:00,S2,1,30,茶杯"],
     "2024-07-04"),
    ("ko", "cp949", "고객번호,주문번호,주문일자,상품코드,수량,단가,상품명",
     ["C1,O1,2024-07-04,S1,2,11.5,녹차", "C2,O2,2024-07-05,S2,1,30,찻잔"], "2024-07-04"),
    # day-first countries: 02.01.2024 is 2 January
    ("ru", "cp1251", "Дата;Номер чека;Код клиента;Артикул;Кол-во;Цена;Наименование",
     ["02.01.2024;Ч1;К1;А1;2;11,5;Чай", "03.01.2024;Ч2;К2;А2;1;30;Чашка"], "2024-01-02"),
    ("el", "cp1253", "Ημερομηνία;Αριθμός απόδειξης;Κωδικός πελάτη;Κωδικός προϊόντος;"
     "Ποσότητα;Τιμή", ["02/01/2024;A1;Π1;Κ1;2;11,5", "03/01/2024;A2;Π2;Κ2;1;30"],
     "2024-01-02"),
    ("tr", "cp1254", "Tarih;Fiş No;Müşteri No;Ürün Kodu;Miktar;Birim Fiyatı",
     ["02.01.2024;F1;M1;U1;2;11,5", "03.01.2024;F2;M2;U2;1;30"], "2024-01-02"),
    ("cs", "cp1250", "Datum;Číslo dokladu;Zákazník;Kód zboží;Množství;Jednotková cena",
     ["02.01.2024;D1;Z1;K1;2;11,5", "03.01.2024;D2;Z2;K2;1;30"], "2024-01-02"),
])
def test_column_names_in_other_scripts_and_languages(tmp_path: Path, lang: str, encoding: str,
                                                      header: str, rows: list[str],
                                                      first_day: str) -> None:
    """Exploratory report 3: a Japanese shop's sales file (顧客ID, 伝票番号, 日付, ...) was
    refused as 'not sales lines' (names were compared with every non-ASCII letter dropped).
    Japanese, Chinese, Korean, Russian, Greek, Turkish and Czech names are read, in the
    single-byte or CJK encodings those shops' files come in; the day-first countries' dates
    are read day first."""
    path = tmp_path / f"{lang}.csv"
    path.write_bytes(("\r\n".join([header, *rows]) + "\r\n").encode(encoding))
    st, (rep,) = _ingest(tmp_path, [path])
    assert {"customer_id", "order_id", "ordered_at", "product_id", "quantity",
            "unit_price"} <= set(rep["columns"]), rep["columns"]
    revenue = 2 * 1100 + 3000 if lang == "ja" else 2 * 11.5 + 30
    assert (rep["rows_loaded"], rep["customers"], rep["revenue_loaded"]) == (2, 2, revenue)
    got = st.query("SELECT min(ordered_at) AS d FROM transactions").d[0]
    assert got.normalize() == pd.Timestamp(first_day)


def test_a_mapped_line_total_wins_over_a_price_found_by_name(tmp_path: Path) -> None:
    """Exploratory report 11: Zoho Books' 'Item Total' is the line after its discount; with
    `--map amount="Item Total"` the price found by its name ('Item Price') was still used and
    the mapping silently dropped (124,158.38 with or without it)."""
    path = tmp_path / "Invoice.csv"
    path.write_text("Invoice Date,Invoice Number,Customer ID,SKU,Quantity,Item Price,Discount,"
                    "Item Total\n"
                    "2011-03-01,INV-1,C1,A,6,2.95,10.00%,15.93\n"
                    "2011-03-01,INV-1,C1,B,6,2.95,0.00,17.70\n"
                    "2011-03-02,INV-2,C2,A,1,2.95,0.00,2.95\n", encoding="utf-8")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    _, (plain,) = _ingest(tmp_path / "a", [path])
    assert plain["revenue_loaded"] == round(13 * 2.95, 2)
    st, (rep,) = _ingest(tmp_path / "b", [path], mapping=["amount=Item Total"])
    assert rep["columns"]["amount"] == "Item Total" and "unit_price" not in rep["columns"]
    assert rep["revenue_loaded"] == round(15.93 + 17.70 + 2.95, 2)
    assert any(a.startswith("unit_price not read from column 'Item Price': --map amount=Item "
                            "Total gives each line's total") for a in rep["assumptions"])
    got = st.query("SELECT unit_price FROM transactions ORDER BY source_row").unit_price
    assert got.round(4).tolist() == [round(15.93 / 6, 4), 2.95, 2.95]


def test_clover_and_prestashop_states_and_prices_with_tax(tmp_path: Path) -> None:
    """Exploratory report 11: Clover's 'Order Payment State' and its 'Refunded' line flag, and
    PrestaShop's 'current_state', were not read as statuses (refunded and cancelled orders
    loaded: +14% on PrestaShop); PrestaShop's order_detail 'unit_price_tax_incl' was no price,
    so orders + lines were refused as 'lines without their orders'."""
    clover = tmp_path / "clover" / "line_items.csv"
    clover.parent.mkdir()
    clover.write_text(
        "Line Item Date,Order ID,Order Payment State,Customer Name,Item Name,Item SKU,Quantity,"
        "Price,Refunded\n"
        "01-Jun-2011 09:06 AM EDT,O1,Paid,Cust 1,Thyme,22916,2,0.65,false\n"
        "01-Jun-2011 09:06 AM EDT,O1,Paid,Cust 1,Sage,22917,1,3.00,true\n"
        "01-Jun-2011 10:00 AM EDT,O2,Refunded,Cust 2,Thyme,22916,5,0.65,false\n",
        encoding="utf-8")
    _, (rep,) = _ingest(clover.parent, [clover])
    assert rep["rules"]["cancelled_order"] == 2 and rep["revenue_loaded"] == 1.3
    orders = tmp_path / "presta" / "orders.csv"
    orders.parent.mkdir()
    orders.write_text("id_order;reference;id_customer;email;current_state;date_add\n"
                      "1;A;7;a@x.fr;Livré;2011-08-01 10:08:00\n"
                      "2;B;8;b@x.fr;Annulé;2011-08-02 10:08:00\n"
                      "3;C;9;c@x.fr;Erreur de paiement;2011-08-03 10:08:00\n",
                      encoding="utf-8")
    (orders.parent / "order_detail.csv").write_text(
        "id_order_detail;id_order;product_id;product_name;product_quantity;"
        "unit_price_tax_excl;unit_price_tax_incl\n"
        "1;1;10;Tasse;2;5.000000;6.000000\n2;2;10;Tasse;1;5.000000;6.000000\n"
        "3;3;11;Bol;1;10.000000;12.000000\n", encoding="utf-8")
    _, reps = _ingest(orders.parent, [orders, orders.parent / "order_detail.csv"])
    lines = next(r for r in reps if r["file"].endswith("order_detail.csv"))
    assert lines["columns"]["unit_price"] == "unit_price_tax_incl"
    assert lines["rules"]["cancelled_order"] == 2 and lines["revenue_loaded"] == 12.0


def test_a_line_discount_column_is_taken_off_the_line_and_reported(tmp_path: Path) -> None:
    """Exploratory report 11: Amazon's All Orders report gives 'item-price' (the line's
    total) and 'item-promotion-discount' (negative, per line); the discount was neither taken
    off nor mentioned (2,583.78 too much). Shopify's 'Lineitem discount' (positive, beside a
    unit price) is the same; a shipping discount and a discount rate are not taken off."""
    amazon = tmp_path / "amazon" / "all_orders.txt"
    amazon.parent.mkdir()
    rows = [("o1", "A", 1, "6.00", "-0.60"), ("o1", "B", 2, "10.00", ""),
            ("o2", "A", 2, "12.00", ""), ("o2", "B", 1, "5.00", "-1.00"),
            ("o3", "C", 1, "3.00", ""), ("o3", "D", 4, "8.00", ""), ("o4", "C", 2, "6.00", ""),
            ("o4", "D", 1, "2.00", "")]
    amazon.write_text(
        "amazon-order-id\tpurchase-date\torder-status\tsku\tquantity\titem-price\t"
        "item-promotion-discount\tship-promotion-discount\n"
        + "".join(f"{o}\t2011-08-0{i % 8 + 1}T15:08:00+00:00\tShipped\t{k}\t{q}\t{p}\t{d}"
                  "\t-4.99\n" for i, (o, k, q, p, d) in enumerate(rows)), encoding="utf-8")
    st, (rep,) = _ingest(amazon.parent, [amazon])
    assert rep["columns"]["amount"] == "item-price"
    assert rep["revenue_loaded"] == pytest.approx(52.0 - 1.6)
    assert any(a.startswith("'item-promotion-discount' is each line's discount (1.60 on 2 "
                            "lines read") for a in rep["assumptions"])
    shop = tmp_path / "shop" / "orders_export.csv"
    shop.parent.mkdir()
    shop.write_text("Name,Email,Created at,Lineitem sku,Lineitem quantity,Lineitem price,"
                    "Lineitem discount,Line discount %\n"
                    "#1,a@x.io,2024-03-01 10:00,M1,2,8.00,3.00,20\n"
                    "#2,b@x.io,2024-03-02 10:00,T1,1,5.00,,30\n"
                    "#3,b@x.io,2024-03-03 10:00,T1,-1,5.00,1.00,\n", encoding="utf-8")
    st, (rep,) = _ingest(shop.parent, [shop])
    assert rep["rows_loaded"] == 3 and rep["revenue_loaded"] == pytest.approx(13.0 + 5.0 - 4.0)
    got = st.query("SELECT quantity, unit_price FROM transactions ORDER BY source_row")
    assert got.unit_price.tolist() == pytest.approx([6.5, 5.0, 4.0])
    assert any(a.startswith("'Lineitem discount' is each line's discount")
               for a in rep["assumptions"])


def test_customer_numbers_before_names_and_more_everyday_names(tmp_path: Path) -> None:
    """Exploratory report 11: a German shop export's 'Kunde' (the customer's name) was taken
    as the customer over 'Kundennummer'; Tally's register ('Particulars', 'Voucher No.',
    '3 Nos') loaded every line as a guest order of its own, or was refused for its unit;
    Portuguese 'Data do pedido' and Polish 'Nr karty klienta' were not found."""
    jtl = tmp_path / "jtl" / "auftragspositionen.csv"
    jtl.parent.mkdir()
    jtl.write_text("Auftragsnummer;Erstellt;Kunde;Kundennummer;Artikelnummer;Artikelname;Menge;"
                   "Einzelpreis Brutto\n"
                   "A1;01.11.2011 09:56;Maria Müller;K1;22362;Glas;2;4,50\n"
                   "A2;02.11.2011 10:00;Maria Müller;K2;22362;Glas;1;4,50\n", encoding="utf-8")
    _, (rep,) = _ingest(jtl.parent, [jtl])
    assert rep["columns"]["customer_id"] == "Kundennummer" and rep["customers"] == 2
    tally = tmp_path / "tally" / "register.csv"
    tally.parent.mkdir()
    tally.write_text("Date,Particulars,Voucher Type,Voucher No.,Stock Item,Item Code,Quantity,"
                     "Rate,Value\n"
                     "1-Nov-2011,Sharma Traders,Sales,573761,Glass Jar,22362,3 Nos,265.50/Nos,"
                     "796.50\n"
                     "1-Nov-2011,Sharma Traders,Sales,573761,Glass Bowl,22363,2 Pcs,100.00/Pcs,"
                     "200.00\n"
                     "2-Nov-2011,Gupta Stores,Sales,573762,Glass Jar,22362,1 Nos,265.50/Nos,"
                     "265.50\n", encoding="utf-8")
    _, (rep,) = _ingest(tally.parent, [tally])
    assert (rep["columns"]["customer_id"], rep["columns"]["order_id"]) == ("Particulars",
                                                                          "Voucher No.")
    assert (rep["customers"], rep["orders"], rep["revenue_loaded"]) == (2, 2, 1262.0)
    pt = tmp_path / "pt" / "vendas.csv"
    pt.parent.mkdir()
    pt.write_text("Número do pedido;Data do pedido;Nr karty klienta;Código do artigo;"
                  "Quantidade;Preço\nP1;01/11/2011;0042;A;1;9,90\n", encoding="utf-8")
    _, (rep,) = _ingest(pt.parent, [pt])
    assert (rep["columns"]["ordered_at"], rep["columns"]["customer_id"],
            rep["columns"]["product_id"]) == ("Data do pedido", "Nr karty klienta",
                                              "Código do artigo")


def test_a_line_total_after_its_discount_is_the_lines_value(tmp_path: Path) -> None:
    """Exploratory report 11: Zoho's 'Item Total', Odoo's 'Subtotal w/o Tax', Sage's 'Net',
    a German shop's 'Gesamtpreis Brutto' beside 'Rabatt %' and Lightspeed's 'Total' beside its
    'Subtotal' are each line after its discount; revenue was quantity x price (or the
    subtotal), discounts counted as sales (Sage: 8,797 too high). A total with tax is not
    taken, nor a column that is never below the line's value."""
    rows = [("A", 6, 2.95, 10.0), ("B", 6, 2.95, 0.0)] + [("C", 1, 4.0, 0.0)] * 10
    zoho = tmp_path / "zoho" / "Invoice.csv"
    zoho.parent.mkdir()
    zoho.write_text("Invoice Date,Invoice Number,Customer ID,SKU,Quantity,Item Price,"
                    "Discount,Item Total,Item Tax Amount,Total\n" + "".join(
                        f"2011-03-01,INV-{i},C{i % 3},{sku},{q},{p},{d}%,"
                        f"{round(q * p * (1 - d / 100), 2)},{round(q * p * 0.18, 2)},"
                        f"{round(q * p * 1.18, 2)}\n" for i, (sku, q, p, d) in enumerate(rows)),
                    encoding="utf-8")
    _, (rep,) = _ingest(zoho.parent, [zoho])
    assert rep["columns"]["amount"] == "Item Total" and "unit_price" not in rep["columns"]
    assert rep["revenue_loaded"] == round(15.93 + 17.70 + 40.0, 2)
    assert any(a.startswith("amount read from column 'Item Total': it is each line's value "
                            "after its discount (on 1 of 12 lines it is below 'Quantity' x "
                            "'Item Price', by 1.77 in all") for a in rep["assumptions"])
    light = tmp_path / "ls" / "lines.csv"
    light.parent.mkdir()
    light.write_text("Sale ID,Date,Customer ID,Item,Qty,Subtotal,Discount,Total,Tax\n" + "".join(
        f"{i},7/1/2011 8:58 am,{i % 4},{sku},{q},{q * p:.2f},{q * p * d / 100:.2f},"
        f"{q * p * (1 - d / 100):.2f},{q * p * 0.07:.2f}\n"
        for i, (sku, q, p, d) in enumerate(rows)), encoding="utf-8")
    _, (rep,) = _ingest(light.parent, [light])
    assert rep["columns"]["amount"] == "Total" and rep["revenue_loaded"] == round(
        15.93 + 17.70 + 40.0, 2)
    plain = tmp_path / "plain" / "lines.csv"  # no discount anywhere: price x quantity stays
    plain.parent.mkdir()
    plain.write_text("Invoice Date,Invoice Number,Customer ID,SKU,Quantity,Item Price,"
                     "Item Total\n" + "".join(f"2011-03-01,INV-{i},C1,{sku},{q},{p},"
                                              f"{round(q * p * 1.18, 2)}\n"
                                              for i, (sku, q, p, _) in enumerate(rows)),
                     encoding="utf-8")
    _, (rep,) = _ingest(plain.parent, [plain])
    assert rep["columns"]["unit_price"] == "Item Price" and "amount" not in rep["columns"]


def _sub(tmp_path: Path, name: str) -> Path:
    (tmp_path / name).mkdir()
    return tmp_path / name


def test_a_bookkeeping_customer_account_is_the_customer(tmp_path: Path) -> None:
    """Sage 50's invoice lines name the customer by its account ('A/C', 'A/C Ref'): without
    --map every line was a guest line and the customer models had nobody."""
    for i, name in enumerate(("A/C", "A/C Ref")):
        f = tmp_path / f"sage{i}.csv"
        f.write_text(f"Type,No,Date,{name},Name,Stock Code,Qty,Unit Price,Net\n"
                     "Invoice,565080,13/09/2011,C13509,C 13509 Ltd,20677,8,1.25,10.00\n"
                     "Invoice,565081,14/09/2011,C12474,C 12474 Ltd,22128,24,1.25,30.00\n",
                     encoding="utf-8")
        _, (rep,) = _ingest(_sub(tmp_path, f"s{i}"), [f])
        assert rep["columns"]["customer_id"] == name
        assert (rep["customers"], rep["rules"]["guest"]) == (2, 0)


def test_credit_notes_named_by_a_document_type_column_are_returns(tmp_path: Path) -> None:
    """Exploratory report 5, finding 2: Sage 50 lists a credit note's lines with positive
    Qty, Net and Gross and 'Type' = Credit, Tally's Sales Register with 'Voucher Type' =
    Credit Note; both loaded as sales, adding the credits to revenue twice over and counting
    customers with only a credit as buyers. SAP writes its 'Gutschrift' lines negative: they
    stay so."""
    sage = tmp_path / "sage50_invoice_items.csv"
    sage.write_text(
        "Type,No,Date,A/C,Name,Stock Code,Description,Qty,Unit Price,Disc %,Net,T/C,VAT,Gross\n"
        "Invoice,565080,01/09/2011,C13509,C 13509 Ltd,20677,PINK BOWL,8.00,1.25,0.00,10.00,"
        "T1,2.00,12.00\n"
        "Invoice,565080,01/09/2011,C13509,C 13509 Ltd,22128,PARTY CONES,24.00,1.25,0.00,30.00,"
        "T1,6.00,36.00\n"
        "Credit,565085,02/09/2011,C12474,C 12474 Ltd,23079,TOADSTOOL LIGHT,2.00,8.95,0.00,17.90,"
        "T1,3.58,21.48\n"
        "Credit,565086,03/09/2011,C13509,C 13509 Ltd,20677,PINK BOWL,1.00,1.25,0.00,1.25,"
        "T1,0.25,1.50\n", encoding="utf-8")
    st, (rep,) = _ingest(_sub(tmp_path, "sage"), [sage], mapping=["customer_id=A/C", "order_id=No"])
    assert rep["revenue_loaded"] == pytest.approx(10.0 + 30.0 - 17.90 - 1.25)
    assert rep["rules"]["return"] == 2 and rep["rows_loaded"] == 4
    assert rep["customers_with_purchases"] == 1  # C12474 has a credit only
    assert ("2 line(s) loaded whose 'Type' is a credit document ('Credit') are returns, "
            "lowering revenue: 2 written with a positive value were read with a negative "
            "quantity") in rep["assumptions"]
    got = st.query("SELECT quantity, unit_price, line_kind FROM transactions "
                   "ORDER BY source_row")
    assert got.quantity.tolist() == [8, 24, -2, -1]
    assert got.unit_price.tolist() == [1.25, 1.25, 8.95, 1.25]
    assert got.line_kind.tolist() == ["sale", "sale", "return", "return"]

    tally = tmp_path / "tally_sales_register.csv"
    tally.write_text(
        "Shree Ganesh Gift House\nMG Road, Pune\nSales Register\n1-Nov-2011 to 30-Nov-2011\n"
        "Date,Particulars,Voucher Type,Voucher No.,Stock Item,Item Code,Quantity,Rate,Value\n"
        "1-Nov-2011,Sharma Traders,Credit Note,573761,Glass Jar,22362,3 Pcs,265.50/Pcs,796.50\n"
        "2-Nov-2011,Sharma Traders,Sales,573762,Glass Jar,22362,10 Pcs,265.50/Pcs,"
        "\"2,655.00\"\n"
        "3-Nov-2011,Gupta Stores,Sales,573763,Bon Bon Jar,23089,3 Pcs,175.50/Pcs,526.50\n",
        encoding="utf-8")
    _, (rep,) = _ingest(_sub(tmp_path, "tally"), [tally], mapping=[
        "customer_id=Particulars", "order_id=Voucher No."])
    assert rep["revenue_loaded"] == pytest.approx(2655.00 + 526.50 - 796.50)
    assert rep["rules"]["return"] == 1
    assert any("'Voucher Type' is a credit document ('Credit Note')" in a
               for a in rep["assumptions"])

    sap = tmp_path / "sap.csv"
    sap.write_text(
        "Belegart;Belegnummer;Buchungsdatum;Kundennummer;Artikelnummer;Menge;Zeilensumme\n"
        "Ausgangsrechnung;569205;02.10.11;K16923;22910;2;5,90\n"
        "Gutschrift;569410;04.10.11;K13364;46000S;-8;-11,60\n", encoding="utf-8")
    st, (rep,) = _ingest(_sub(tmp_path, "sap"), [sap], mapping=[
        "ordered_at=Buchungsdatum", "amount=Zeilensumme"])
    assert rep["revenue_loaded"] == pytest.approx(5.90 - 11.60)
    assert st.query("SELECT quantity FROM transactions ORDER BY source_row"
                    ).quantity.tolist() == [2, -8]
    assert any("1 line(s) loaded whose 'Belegart' is a credit document ('Gutschrift') are "
               "returns, lowering revenue: 1 were written negative already and stay so" in a
               for a in rep["assumptions"])


def test_a_type_column_of_tenders_or_without_credits_changes_nothing(tmp_path: Path) -> None:
    """'Type' = Cash / Credit is how a line was paid (a credit card), not a credit note; a
    'Type' without a credit word is no document type either."""
    rows = [line("1", "A", 2, 5.0, Type="Cash"), line("2", "A", 1, 5.0, Type="Credit"),
            line("3", "B", 1, 4.0, Type="Debit")]
    _, (rep,) = _ingest(_sub(tmp_path, "t"), [write_csv(tmp_path / "tender.csv", rows)])
    assert rep["revenue_loaded"] == pytest.approx(19.0) and rep["rules"]["return"] == 0
    rows = [line("1", "A", 2, 5.0, Type="Retail"), line("2", "A", 1, 5.0, Type="Wholesale")]
    _, (rep,) = _ingest(_sub(tmp_path, "u"), [write_csv(tmp_path / "kinds.csv", rows)])
    assert rep["revenue_loaded"] == pytest.approx(15.0) and rep["rules"]["return"] == 0


@pytest.mark.parametrize(("value", "credit"), [
    ("Credit", True), ("Credit Note", True), ("A/R Credit Memo", True), ("out_refund", True),
    ("Sales Return", True), ("Gutschrift", True), ("Rechnungskorrektur", True),
    ("Avoir", True), ("Facture d'avoir", True), ("Nota de crédito", True), ("Abono", True),
    ("Factura rectificativa", True), ("Nota di credito", True), ("Creditnota", True),
    ("Nota de Crédito", True), ("Faktura korygująca", True), ("Korekta", True),
    ("Kreditnota", True), ("Kreditfaktura", True), ("Hyvityslasku", True),
    ("Возврат", True), ("Кредит-нота", True), ("Πιστωτικό τιμολόγιο", True),
    ("İade Faturası", True), ("Dobropis", True), ("Jóváíró számla", True), ("返品伝票", True),
    ("红字发票", True), ("반품", True),
    ("Invoice", False), ("Sales", False), ("Rechnung", False), ("Facture", False),
    ("Ausgangsrechnung", False), ("Debit Note", False), ("Credit Sale", False),
    ("Kreditverkauf", False), ("Vente à crédit", False)])
def test_credit_document_words(value: str, credit: bool) -> None:
    from loyalist.ingest.repairs import is_credit_document

    assert is_credit_document(value) is credit


def test_refund_rows_with_a_positive_quantity_and_negative_total_are_returns(
        tmp_path: Path) -> None:
    """Exploratory report 5, finding 3: Square Item Details with 'Qty' written without its
    minus sign on refund rows (the amounts still '-$...') quarantined them as
    non_positive_price, so the refunds vanished from revenue."""
    f = tmp_path / "items.csv"
    f.write_text(
        "Date,Time,Category,Item,Qty,SKU,Gross Sales,Discounts,Net Sales,Tax,Transaction ID,"
        "Event Type,Customer ID\n"
        "2011-04-01,09:19:00,Gifts,Felt Egg Cosy,12,22262,$10.20,$0.00,$10.20,$0.91,T1,"
        "Payment,C1\n"
        "2011-04-01,09:19:00,Gifts,Cupboard,1,22762,$102.00,$0.00,$102.00,$9.05,T1,Payment,C1\n"
        "2011-04-01,10:45:00,Gifts,Cupboard,8,22762,-$102.00,$0.00,-$102.00,-$9.05,T2,Refund,"
        "C2\n"
        "2011-04-01,11:22:00,Gifts,Heart Cabinet,-1,21277,-$21.95,$0.00,-$21.95,-$1.95,T3,"
        "Refund,C1\n"
        "2011-04-01,11:30:00,,Discount code SPRING,1,,-$1.00,$0.00,-$1.00,$0.00,T1,Payment,C1\n",
        encoding="utf-8")
    st, (rep,) = _ingest(tmp_path, [f])
    assert rep["rows_loaded"] == 5 and "non_positive_price" not in rep["rules"]
    assert rep["revenue_loaded"] == rep["revenue_read"] == pytest.approx(
        10.20 + 102.00 - 102.00 - 21.95 - 1.00)
    assert rep["rules"]["return"] == 2
    got = st.query("SELECT quantity, unit_price, line_kind FROM transactions "
                   "ORDER BY source_row")
    assert got.quantity.tolist() == [12, 1, -8, -1, 1]
    assert got.unit_price.tolist() == pytest.approx([0.85, 102.0, 12.75, 21.95, -1.0])
    assert got.line_kind.tolist() == ["sale", "sale", "return", "return", "non_product"]
    assert ("1 line(s) with a positive quantity ('Qty') and a negative line total "
            "('Net Sales') are returns: their quantity was read as negative"
            ) in rep["assumptions"]
