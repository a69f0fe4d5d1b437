"""Small-business accounting exports through the real `loyalist ingest`: QuickBooks' grouped
'Sales by Customer Detail' report (Online and Desktop, and its 'by Product/Service' variant).
The files are written here from the public layouts."""

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
