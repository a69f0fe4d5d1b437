"""Small-business accounting exports through the real `loyalist ingest`: QuickBooks' grouped
'Sales by Customer Detail' report (Online and Desktop, and its 'by Product/Service' variant)
and Xero's sales invoice export. The files are written here from the public layouts."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

EXE = [sys.executable, "-m", "loyalist", "ingest"]


def _ingest(f: Path, store: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*EXE, str(f), "--store", str(store), "-q", *args],
                          capture_output=True, text=True, timeout=300)


def _report(f: Path, store: Path) -> tuple[dict, str]:
    """The quality report as JSON (a first load) and as the console prints it (a second load
    of the same file into a store of its own)."""
    p = _ingest(f, store, "--json")
    assert p.returncode == 0, p.stderr
    human = _ingest(f, store.with_suffix(".human.duckdb"))
    assert human.returncode == 0, human.stderr
    return json.loads(p.stdout), human.stdout


def _rows(store: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(store), read_only=True) as con:
        return con.execute(sql).fetchall()


_QBO_HEAD = ('Sales by Customer Detail\nCraig\'s Design and Landscaping Services\n'
             '"January 1 - December 31, 2024"\n\n'
             ",Date,Transaction Type,Num,Product/Service,Memo/Description,Qty,Sales Price,"
             "Amount,Balance\n")
_QBO_LINES = """\
,01/02/2024,Sales Receipt,1001,Pest Control,Walk-up job,1,35.00,35.00,35.00
Amy's Bird Sanctuary,,,,,,,,,
,01/23/2024,Invoice,1021,Gardening,Weekly Gardening Service,4,25.00,100.00,100.00
,02/10/2024,Sales Receipt,1008,Pest Control,,1,35.00,35.00,135.00
,02/15/2024,Estimate,1040,Gardening,Spring clean-up,10,25.00,250.00,135.00
,03/02/2024,Credit Memo,1031,Pest Control,Refund,-1,35.00,-35.00,100.00
,03/09/2024,Refund Receipt,1033,Gardening,Missed visit,-1,25.00,-25.00,75.00
Total for Amy's Bird Sanctuary,,,,,,,,$75.00,
Bill's Windsurf Shop,,,,,,,,,
,01/05/2024,Invoice,1002,Hours,,2,"1,200.00","$2,400.00","$2,400.00"
,01/05/2024,Invoice,1002,Gardening,,1,25.00,$25.00,"$2,425.00"
Total for Bill's Windsurf Shop,,,,,,,,"$2,425.00",
TOTAL,,,,,,,,"$2,535.00",


"Accrual basis Monday, January 6, 2025 09:12 AM GMT-08:00"
"""
#: the same report from QuickBooks Desktop: two unnamed indentation columns, 'Type', 'Memo',
#: 'Name' (the customer again) and 'Item', and 'Total <name>' closing each customer
_QBD = """\
Craig's Design and Landscaping Services
Sales by Customer Detail
January through December 2024

,,Type,Date,Num,Memo,Name,Item,Qty,Sales Price,Amount,Balance
,,Sales Receipt,01/02/2024,1001,Walk-up job,,Pest Control,1,35.00,35.00,35.00
Amy's Bird Sanctuary,,,,,,,,,,,
,,Invoice,01/23/2024,1021,Weekly service,Amy's Bird Sanctuary,Gardening,4,25.00,100.00,100.00
,,Sales Receipt,02/10/2024,1008,,Amy's Bird Sanctuary,Pest Control,1,35.00,35.00,135.00
,,Estimate,02/15/2024,1040,Spring clean-up,Amy's Bird Sanctuary,Gardening,10,25.00,250.00,135.00
,,Credit Memo,03/02/2024,1031,Refund,Amy's Bird Sanctuary,Pest Control,-1,35.00,-35.00,100.00
,,Refund Receipt,03/09/2024,1033,Missed visit,Amy's Bird Sanctuary,Gardening,-1,25.00,-25.00,75.00
Total Amy's Bird Sanctuary,,,,,,,,,,75.00,
Bill's Windsurf Shop,,,,,,,,,,,
,,Invoice,01/05/2024,1002,,Bill's Windsurf Shop,Hours,2,"1,200.00","2,400.00","2,400.00"
,,Invoice,01/05/2024,1002,,Bill's Windsurf Shop,Gardening,1,25.00,25.00,"2,425.00"
Total Bill's Windsurf Shop,,,,,,,,,,"2,425.00",
TOTAL,,,,,,,,,,"2,535.00",
"""
#: the same sales grouped by product, each line naming its customer
_QBO_PRODUCT = """\
Sales by Product/Service Detail
Craig's Design and Landscaping Services
"January 1 - December 31, 2024"

,Date,Transaction Type,Num,Customer,Memo/Description,Qty,Sales Price,Amount,Balance
Gardening,,,,,,,,,
,01/23/2024,Invoice,1021,Amy's Bird Sanctuary,Weekly Gardening Service,4,25.00,100.00,100.00
,02/15/2024,Estimate,1040,Amy's Bird Sanctuary,Spring clean-up,10,25.00,250.00,100.00
,03/09/2024,Refund Receipt,1033,Amy's Bird Sanctuary,Missed visit,-1,25.00,-25.00,75.00
,01/05/2024,Invoice,1002,Bill's Windsurf Shop,,1,25.00,25.00,100.00
Total for Gardening,,,,,,,,$100.00,
Hours,,,,,,,,,
,01/05/2024,Invoice,1002,Bill's Windsurf Shop,,2,"1,200.00","$2,400.00","$2,400.00"
Total for Hours,,,,,,,,"$2,400.00",
Pest Control,,,,,,,,,
,01/02/2024,Sales Receipt,1001,,Walk-up job,1,35.00,35.00,35.00
,02/10/2024,Sales Receipt,1008,Amy's Bird Sanctuary,,1,35.00,35.00,70.00
,03/02/2024,Credit Memo,1031,Amy's Bird Sanctuary,Refund,-1,35.00,-35.00,35.00
Total for Pest Control,,,,,,,,$35.00,
TOTAL,,,,,,,,"$2,535.00",


"Cash Basis Monday, January 6, 2025 09:12 AM GMT-08:00"
"""


@pytest.mark.parametrize(("layout", "headings", "totals"), [
    ("online", 2, 4),  # two customers' totals, the grand total, the footer
    ("desktop", 2, 3),
    ("by_product", 3, 5),  # three products' totals, the grand total, the footer
])
def test_quickbooks_sales_detail_report(tmp_path: Path, layout: str, headings: int,
                                        totals: int) -> None:
    """Each customer's heading is carried down to its lines (a line above every heading is a
    guest's), its 'Total for' row, the grand total and the footer are no sales, 'Num' is the
    order, credit memos and refund receipts are returns, an estimate is no sale, and the
    revenue loaded is the report's own TOTAL."""
    f = tmp_path / "sales.csv"
    f.write_text({"online": _QBO_HEAD + _QBO_LINES, "desktop": _QBD,
                  "by_product": _QBO_PRODUCT}[layout], encoding="utf-8")
    store = tmp_path / "s.duckdb"
    rep, human = _report(f, store)
    assert rep["rows_read"] == rep["rows_loaded"] + rep["rows_quarantined"] == 8 + headings + totals
    assert {k: v for k, v in rep["rules"].items() if v} == {
        "group_heading": headings, "totals_row": totals, "offer": 1, "return": 2, "guest": 1}
    assert rep["columns"]["order_id"] == "Num"
    assert rep["columns"]["customer_id"] == "Customer"
    assert rep["revenue_loaded"] == 2535.0  # the report's TOTAL
    assert "a grouped report" in human and "group_heading" in human
    got = _rows(store, "SELECT customer_id, order_id, product_id, quantity, unit_price, line_kind "
                       "FROM transactions ORDER BY order_id, product_id")
    assert got == [
        (None, "1001", "Pest Control", 1.0, 35.0, "sale"),
        ("Bill's Windsurf Shop", "1002", "Gardening", 1.0, 25.0, "sale"),
        ("Bill's Windsurf Shop", "1002", "Hours", 2.0, 1200.0, "sale"),
        ("Amy's Bird Sanctuary", "1008", "Pest Control", 1.0, 35.0, "sale"),
        ("Amy's Bird Sanctuary", "1021", "Gardening", 4.0, 25.0, "sale"),
        ("Amy's Bird Sanctuary", "1031", "Pest Control", -1.0, 35.0, "return"),
        ("Amy's Bird Sanctuary", "1033", "Gardening", -1.0, 25.0, "return"),
    ]
    quarantined = _rows(store, "SELECT rule, count(*) FROM quarantine GROUP BY ALL")
    assert dict(quarantined) == {"group_heading": headings, "totals_row": totals, "offer": 1}


def _workbook(report: str, path: Path) -> Path:
    """The report as QuickBooks' 'Export to Excel' writes it: the title rows merged across
    the table, text as text, amounts and quantities as numbers, dates as Excel dates
    (mm/dd/yyyy), empty cells empty."""
    from datetime import datetime

    from openpyxl import Workbook

    def cell(v: str) -> object:
        v = v.strip()
        if not v:
            return None
        for parse in (lambda x: datetime.strptime(x, "%m/%d/%Y"),
                      lambda x: float(x.replace("$", "").replace(",", ""))):
            try:
                return parse(v)
            except ValueError:
                pass
        return v

    rows = list(csv.reader(report.splitlines()))
    width = max(map(len, rows))
    wb = Workbook()
    ws = wb.active
    ws.title = "Sales by Customer Detail"
    for i, r in enumerate(rows, start=1):
        ws.append([cell(v) if j else (v or None) for j, v in enumerate(r)])
        if len(r) == 1 and r[0]:  # a title or footer line: one cell over the table's width
            ws.merge_cells(start_row=i, start_column=1, end_row=i, end_column=width)
        for c in ws[i]:
            if isinstance(c.value, datetime):
                c.number_format = "mm/dd/yyyy"
    wb.save(path)
    return path


_SALES = ("SELECT customer_id, order_id, product_id, quantity, unit_price, line_kind "
          "FROM transactions ORDER BY order_id, product_id")


@pytest.mark.parametrize("layout", ["online", "desktop"])
def test_quickbooks_report_exported_to_excel(tmp_path: Path, layout: str) -> None:
    """The same report saved as a workbook (numbers as numbers, dates as dates, the title
    merged over the columns) loads as its CSV does: the same lines, rules and revenue (the
    report's TOTAL); every row loaded or quarantined."""
    text = {"online": _QBO_HEAD + _QBO_LINES, "desktop": _QBD}[layout]
    (tmp_path / "sales.csv").write_text(text, encoding="utf-8")
    got = {}
    for f in (tmp_path / "sales.csv", _workbook(text, tmp_path / "sales.xlsx")):
        store = tmp_path / f"{f.suffix[1:]}.duckdb"
        rep, human = _report(f, store)
        assert rep["rows_read"] == rep["rows_loaded"] + rep["rows_quarantined"]
        assert rep["revenue_loaded"] == 2535.0
        assert "a grouped report" in human
        got[f.suffix] = (rep["rows_read"], rep["rules"], rep["columns"]["customer_id"],
                         rep["customers"], _rows(store, _SALES),
                         _rows(store, "SELECT rule, count(*) FROM quarantine GROUP BY ALL "
                                      "ORDER BY 1"))
    assert got[".xlsx"] == got[".csv"]
    assert got[".xlsx"][2:4] == ("Customer", 2)


#: QuickBooks Desktop's report with a customer's jobs: the job's heading indented one column
#: (its full name, 'Customer:Job', on each of its lines under 'Name'), closed by
#: 'Total <job>' in that column, then the customer's own lines and 'Total <customer>'
_QBD_JOBS = """Craig's Design and Landscaping Services
Sales by Customer Detail
January through December 2024

,,,Type,Date,Num,Memo,Name,Item,Qty,Sales Price,Amount,Balance
Amy's Bird Sanctuary,,,,,,,,,,,,
,Feeders,,,,,,,,,,,
,,,Invoice,01/23/2024,1021,Weekly,Amy's Bird Sanctuary:Feeders,Gardening,4,25.00,100.00,100.00
,,,Sales Receipt,02/10/2024,1008,,Amy's Bird Sanctuary:Feeders,Pest Control,1,35.00,35.00,135.00
,Total Feeders,,,,,,,,,,135.00,
,Pond,,,,,,,,,,,
,,,Invoice,02/20/2024,1050,,Amy's Bird Sanctuary:Pond,Hours,1,"1,200.00","1,200.00","1,335.00"
,Total Pond,,,,,,,,,,"1,200.00",
,,,Credit Memo,03/02/2024,1031,Refund,Amy's Bird Sanctuary,Pest Control,-1,35.00,-35.00,"1,300.00"
Total Amy's Bird Sanctuary,,,,,,,,,,,"1,300.00",
Bill's Windsurf Shop,,,,,,,,,,,,
,,,Invoice,01/05/2024,1002,,Bill's Windsurf Shop,Hours,2,"1,200.00","2,400.00","2,400.00"
Total Bill's Windsurf Shop,,,,,,,,,,,"2,400.00",
TOTAL,,,,,,,,,,,"3,700.00",
"""
#: the same with the jobs' headings as their full names in the first column
_QBD_FULL_NAMES = """Craig's Design and Landscaping Services
Sales by Customer Detail
January through December 2024

,,Type,Date,Num,Memo,Name,Item,Qty,Sales Price,Amount,Balance
Amy's Bird Sanctuary:Feeders,,,,,,,,,,,
,,Invoice,01/23/2024,1021,Weekly,Amy's Bird Sanctuary:Feeders,Gardening,4,25.00,100.00,100.00
,,Sales Receipt,02/10/2024,1008,,Amy's Bird Sanctuary:Feeders,Pest Control,1,35.00,35.00,135.00
Total Amy's Bird Sanctuary:Feeders,,,,,,,,,,135.00,
Amy's Bird Sanctuary:Pond,,,,,,,,,,,
,,Invoice,02/20/2024,1050,,Amy's Bird Sanctuary:Pond,Hours,1,"1,200.00","1,200.00","1,335.00"
Total Amy's Bird Sanctuary:Pond,,,,,,,,,,"1,200.00",
Amy's Bird Sanctuary,,,,,,,,,,,
,,Credit Memo,03/02/2024,1031,Refund,Amy's Bird Sanctuary,Pest Control,-1,35.00,-35.00,"1,300.00"
Total Amy's Bird Sanctuary,,,,,,,,,,-35.00,
Bill's Windsurf Shop,,,,,,,,,,,
,,Invoice,01/05/2024,1002,,Bill's Windsurf Shop,Hours,2,"1,200.00","2,400.00","2,400.00"
Total Bill's Windsurf Shop,,,,,,,,,,"2,400.00",
TOTAL,,,,,,,,,,"3,700.00",
"""


@pytest.mark.parametrize(("layout", "suffix", "headings", "totals"), [
    ("indented", ".csv", 4, 5),  # two customers, two jobs; their totals and the TOTAL
    ("indented", ".xlsx", 4, 5),
    ("full_names", ".csv", 4, 5),  # two jobs, the customer's own lines, the other customer
])
def test_quickbooks_desktop_jobs_belong_to_their_customer(
        tmp_path: Path, layout: str, suffix: str, headings: int, totals: int) -> None:
    """Lines under a customer's job are the customer's; the job's heading and its total are
    no sale, and nothing is counted twice: the revenue loaded is the report's TOTAL."""
    text = {"indented": _QBD_JOBS, "full_names": _QBD_FULL_NAMES}[layout]
    f = tmp_path / f"sales{suffix}"
    if suffix == ".xlsx":
        _workbook(text, f)
    else:
        f.write_text(text, encoding="utf-8")
    store = tmp_path / "s.duckdb"
    rep, human = _report(f, store)
    assert rep["rows_read"] == rep["rows_loaded"] + rep["rows_quarantined"] == 5 + headings + totals
    said = " ".join(human.split())
    assert ("2 heading(s) in a later column without a name are groups within one (a customer's "
            "jobs)" in said) == (layout == "indented"), said
    assert {k: v for k, v in rep["rules"].items() if v} == {
        "group_heading": headings, "totals_row": totals, "return": 1}
    assert rep["revenue_loaded"] == 3700.0  # the report's TOTAL
    assert rep["customers"] == rep["customers_in_file"] == 2
    assert _rows(store, "SELECT order_id, customer_id FROM transactions ORDER BY 1") == [
        ("1002", "Bill's Windsurf Shop"), ("1008", "Amy's Bird Sanctuary"),
        ("1021", "Amy's Bird Sanctuary"), ("1031", "Amy's Bird Sanctuary"),
        ("1050", "Amy's Bird Sanctuary")]


def test_quickbooks_report_without_its_money_columns(tmp_path: Path) -> None:
    """A customised report without 'Sales Price' and 'Amount' has no value per line: one
    line naming the file and its columns, never the running 'Balance' taken as the amount."""
    keep = [0, 1, 2, 3, 4, 5, 6, 9]
    rows = list(csv.reader((_QBO_HEAD + _QBO_LINES).splitlines()))
    f = tmp_path / "sales.csv"
    with f.open("w", newline="", encoding="utf-8") as out:
        w = csv.writer(out)
        for r in rows:
            w.writerow([r[i] for i in keep if i < len(r)] if len(r) == 10 else r)
    p = _ingest(f, tmp_path / "s.duckdb")
    assert p.returncode == 2
    assert p.stdout == "" and len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert "sales.csv" in p.stderr and "unit_price (or amount" in p.stderr
    assert "Balance" in p.stderr and "Traceback" not in p.stderr


_XERO_HEAD = ("ContactName,EmailAddress,POAddressLine1,POCity,POPostalCode,POCountry,"
              "InvoiceNumber,Reference,InvoiceDate,DueDate,Total,TaxTotal,InvoiceAmountPaid,"
              "InvoiceAmountDue,InventoryItemCode,Description,Quantity,UnitAmount,Discount,"
              "LineAmount,AccountCode,TaxType,TaxAmount,TrackingName1,TrackingOption1,Currency,"
              "Type,Sent,Status")
#: the required fields of Xero's import template, starred as many exports write them
_XERO_STARRED = ("ContactName", "InvoiceNumber", "InvoiceDate", "DueDate", "Description",
                 "Quantity", "UnitAmount", "AccountCode", "TaxType")
# invoice -> (contact, e-mail, date, type, status, lines of (item, qty, unit, discount %))
_XERO_INVOICES = {
    "INV-0001": ("Bayside Club", "bayside@example.com", "03/02/2024", "Sales invoice", "PAID",
                 [("GB1-White", 10, 10.0, 0), ("TSH-01", 2, 25.0, 20)]),
    "INV-0002": ("City Agency", "accounts@city.example", "14/02/2024", "Sales invoice",
                 "AUTHORISED", [("GB1-White", 5, 10.0, 0), ("TSH-01", 1, 25.0, 0)]),
    "CN-0001": ("City Agency", "accounts@city.example", "20/02/2024", "Sales credit note",
                "AUTHORISED", [("GB1-White", -1, 10.0, 0)]),
    "INV-0003": ("Marine Systems", "", "21/02/2024", "Sales invoice", "DRAFT",
                 [("TSH-01", 4, 25.0, 0)]),
    "INV-0004": ("Ridgeway University", "", "22/02/2024", "Sales invoice", "VOIDED",
                 [("GB1-White", 20, 10.0, 0), ("TSH-01", 3, 25.0, 0)]),
    "INV-0005": ("Ridgeway University", "", "23/02/2024", "Sales invoice", "PAID",
                 [("GB1-White", 5, 10.0, 0), ("TSH-01", 1, 25.0, 10)]),
    "INV-0006": ("Bayside Club", "bayside@example.com", "13/03/2024", "Sales invoice",
                 "SUBMITTED", [("GB1-White", 3, 10.0, 0)]),
    "INV-0007": ("City Agency", "accounts@city.example", "14/03/2024", "Sales invoice",
                 "DELETED", [("TSH-01", 6, 25.0, 0), ("GB1-White", 1, 10.0, 0)]),
}
_GST = 0.15


def _xero(path: Path, *, starred: bool = False, drop: str = "") -> float:
    """Write the export; return its revenue as its invoices state it: Total - TaxTotal over
    the authorised and paid invoices and credit notes."""
    head = _XERO_HEAD.split(",")
    names = [f"*{h}" if starred and h in _XERO_STARRED else h for h in head]
    revenue = 0.0
    with path.open("w", newline="", encoding="utf-8") as out:
        w = csv.writer(out)
        w.writerow([n for n, h in zip(names, head, strict=True) if h != drop])
        for number, (contact, email, day, kind, status, lines) in _XERO_INVOICES.items():
            amounts = [round(q * unit * (1 - d / 100), 2) for _, q, unit, d in lines]
            net = sum(amounts)
            total, tax = round(net * (1 + _GST), 2), round(net * _GST, 2)
            paid = total if status == "PAID" else 0.0
            if status in ("AUTHORISED", "PAID"):
                revenue += total - tax
            for (item, q, unit, d), amount in zip(lines, amounts, strict=True):
                row = dict(zip(head, [
                    contact, email, "1 Wharf St", "Auckland", "1010", "New Zealand", number, "",
                    day, day, f"{total:.2f}", f"{tax:.2f}", f"{paid:.2f}", f"{total - paid:.2f}",
                    item, f"{item} item", str(q),
                    f"{unit:.2f}", str(d) if d else "", f"{amount:.2f}", "200", "OUTPUT2",
                    f"{amount * _GST:.2f}", "Region", "North", "NZD", kind,
                    "Sent" if status != "DRAFT" else "", status], strict=True))
                w.writerow([v for h, v in row.items() if h != drop])
    return round(revenue, 2)


@pytest.mark.parametrize("starred", [False, True])
def test_xero_sales_invoices_export(tmp_path: Path, starred: bool) -> None:
    """LineAmount (after its discount percent, before tax) is each line's value, never the
    invoice's Total; draft, submitted, voided and deleted invoices are no sales; a credit
    note's lines are returns; dates are day first; a contact without an e-mail is a customer
    by its name, not a guest."""
    f = tmp_path / "invoices.csv"
    stated = _xero(f, starred=starred)
    store = tmp_path / "s.duckdb"
    rep, human = _report(f, store)
    assert rep["columns"]["order_id"].lstrip("*") == "InvoiceNumber"
    assert rep["columns"]["amount"] == "LineAmount"
    assert rep["columns"]["customer_id"] == "EmailAddress"
    assert rep["rows_read"] == rep["rows_loaded"] + rep["rows_quarantined"] == 13
    assert {k: v for k, v in rep["rules"].items() if v} == {"cancelled_order": 6, "return": 1}
    assert rep["revenue_loaded"] == pytest.approx(stated) == 277.5
    assert "ContactName'" in human and "NZD" in human
    got = _rows(store, "SELECT order_id, customer_id, CAST(ordered_at AS DATE)::VARCHAR, "
                       "product_id, quantity, round(quantity * unit_price, 2), line_kind "
                       "FROM transactions ORDER BY order_id, product_id")
    assert got == [
        ("CN-0001", "accounts@city.example", "2024-02-20", "GB1-White", -1.0, -10.0, "return"),
        ("INV-0001", "bayside@example.com", "2024-02-03", "GB1-White", 10.0, 100.0, "sale"),
        ("INV-0001", "bayside@example.com", "2024-02-03", "TSH-01", 2.0, 40.0, "sale"),
        ("INV-0002", "accounts@city.example", "2024-02-14", "GB1-White", 5.0, 50.0, "sale"),
        ("INV-0002", "accounts@city.example", "2024-02-14", "TSH-01", 1.0, 25.0, "sale"),
        ("INV-0005", "Ridgeway University", "2024-02-23", "GB1-White", 5.0, 50.0, "sale"),
        ("INV-0005", "Ridgeway University", "2024-02-23", "TSH-01", 1.0, 22.5, "sale"),
    ]
    held = _rows(store, "SELECT json_extract_string(raw, '$.Status'), rule FROM quarantine "
                        "ORDER BY source_row")
    assert held == [("DRAFT", "cancelled_order"), ("VOIDED", "cancelled_order"),
                    ("VOIDED", "cancelled_order"), ("SUBMITTED", "cancelled_order"),
                    ("DELETED", "cancelled_order"), ("DELETED", "cancelled_order")]


def test_xero_export_without_line_amount(tmp_path: Path) -> None:
    """Without LineAmount the only money column left is the invoice's Total (with tax),
    repeated on each of its lines: one clear line, nothing loaded."""
    f = tmp_path / "invoices.csv"
    _xero(f, drop="LineAmount")
    store = tmp_path / "s.duckdb"
    p = _ingest(f, store)
    assert p.returncode == 2
    assert p.stdout == "" and len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert "invoices.csv" in p.stderr and "'Total'" in p.stderr
    assert "order's total repeated on each line" in p.stderr and "Traceback" not in p.stderr


def test_a_submitted_web_order_is_a_sale(tmp_path: Path) -> None:
    """'Submitted' is an invoice awaiting approval only where the orders are invoices: a
    web shop's submitted order is a placed one."""
    f = tmp_path / "orders.csv"
    f.write_text("Order ID,Customer ID,Order Date,SKU,Qty,Price,Status\n"
                 "A1,c1,2024-01-02,p1,1,5.00,Submitted\n"
                 "A2,c2,2024-01-03,p1,2,5.00,Deleted\n", encoding="utf-8")
    rep, _ = _report(f, tmp_path / "s.duckdb")
    assert (rep["rows_loaded"], rep["rules"]["cancelled_order"]) == (1, 1)
    assert rep["revenue_loaded"] == 5.0
