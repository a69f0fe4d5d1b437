"""One test per cleaning rule with hand-made rows, plus classification and bad-input handling."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from conftest import LOADED_AT, line, write_csv

from loyalist.errors import DataError
from loyalist.ingest import ingest_files
from loyalist.ingest.read import GUESSED
from loyalist.store import Store


def load(tmp_path: Path, rows: list[dict[str, object]], name: str = "t.csv", **kw: object):
    f = write_csv(tmp_path / name, rows)
    st = Store(tmp_path / "s.duckdb")
    rep = ingest_files(st, [f], loaded_at=LOADED_AT, **kw)[0]  # type: ignore[arg-type]
    return st, rep


def quarantined(st: Store) -> dict[int, str]:
    return dict(st.con.execute("SELECT source_row, rule FROM quarantine").fetchall())


@pytest.mark.parametrize(("bad", "rule"), [
    (line(order=""), "missing_order_id"),
    (line(product=""), "missing_product_id"),
    (line(when="not a date"), "unparseable_date"),
    (line(when="1066-10-14 09:00:00"), "unparseable_date"),
    # after the load (LOADED_AT 2026-01-01) plus a day: a typo would become the store's last day
    (line(when="2099-12-01 10:00:00"), "future_date"),
    (line(when="2026-01-03 10:00:00"), "future_date"),
    (line(qty="many"), "unparseable_quantity"),
    (line(price="free"), "unparseable_price"),
    (line(qty=0), "zero_quantity"),
    (line(qty=5_000_000), "impossible_quantity"),
    (line(price=0), "non_positive_price"),
    (line(price=-11062.06), "non_positive_price"),
])
def test_each_quarantine_rule(tmp_path: Path, bad: dict[str, object], rule: str) -> None:
    good = [line(order=str(1000 + i), product=f"P{i}") for i in range(4)]
    st, rep = load(tmp_path, [*good, bad])
    assert rep["rows_read"] == 5
    assert rep["rows_loaded"] == 4
    assert rep["rules"][rule] == 1
    assert quarantined(st) == {5: rule}  # source row numbers are 1-based, header excluded
    reason = st.con.execute("SELECT reason, raw FROM quarantine").fetchall()[0]
    assert reason[0]
    assert '"order_id"' in reason[1]


def test_exact_duplicate_keeps_first(tmp_path: Path) -> None:
    rows = [line(), line(product="B"), line(), line()]
    st, rep = load(tmp_path, rows)
    assert rep["rules"]["exact_duplicate"] == 2
    assert rep["profile"]["duplicate_rows"] == 2
    assert quarantined(st) == {3: "exact_duplicate", 4: "exact_duplicate"}


@pytest.mark.parametrize(("extra", "kept"), [
    ({}, True),  # no product code, no line number: nothing tells the two items apart
    ({"product_id": "P1"}, False),  # a product code names the item: a repeated row
    ({"Position": 1}, False)])  # so does a line number
def test_identical_lines_of_a_till_without_product_codes_are_kept(
        tmp_path: Path, extra: dict[str, object], kept: bool) -> None:
    """Exploratory report 11, finding 14: a till exporting no product code and no line id
    writes two products of one name and price on one receipt as identical rows; both are
    sales (SumUp: 2 lines, 20.55, were quarantined as exact_duplicate)."""
    def sale(name: str) -> dict[str, object]:
        return {"order_id": "S1", "ordered_at": "2024-01-02 10:00:00", "customer_id": "",
                "description": name, "quantity": 3, "unit_price": 1.25, **extra}
    _, rep = load(tmp_path, [sale("Metal Sign, Cupcake"), sale("Metal Sign, Cupcake"),
                             sale("Doormat")])
    assert rep["rows_loaded"] == 3 - (not kept)
    assert rep["rules"].get("exact_duplicate", 0) == (not kept)
    if kept:
        assert rep["rule_details"]["exact_duplicate"]["action"] == "off"


def test_returns_and_guests_are_kept_and_flagged(tmp_path: Path) -> None:
    rows = [line(), line(order="1002", qty=-1), line(order="1003", customer="")]
    st, rep = load(tmp_path, rows)
    assert rep["rows_loaded"] == 3
    kinds = st.query("SELECT customer_id, line_kind, is_guest, amount FROM transactions "
                     "ORDER BY source_row")
    assert kinds.line_kind.tolist() == ["sale", "return", "sale"]
    assert kinds.is_guest.tolist() == [False, False, True]
    assert kinds.customer_id.tolist()[1] == "c1"  # a return stays linked to its customer
    assert kinds.amount.tolist()[1] == pytest.approx(-2.5)
    assert rep["rules"]["return"] == 1 and rep["rules"]["guest"] == 1


def test_online_retail_cancellations_and_non_product_codes(tmp_path: Path) -> None:
    base = {"Description": "X", "Country": "UK", "InvoiceDate": "2011-01-02 10:00:00"}
    rows = [
        {"Invoice": "536365", "StockCode": "85123A", "Quantity": 6, "Price": 2.55,
         "Customer ID": "17850", **base},
        {"Invoice": "C536379", "StockCode": "85123A", "Quantity": -6, "Price": 2.55,
         "Customer ID": "17850", **base},
        {"Invoice": "536366", "StockCode": "POST", "Quantity": 1, "Price": 18.0,
         "Customer ID": "17850", **base},
        {"Invoice": "536367", "StockCode": "gift_0001_20", "Quantity": 1, "Price": 20.0,
         "Customer ID": "", **base},
    ]
    st, rep = load(tmp_path, rows)
    assert rep["format"] == "online-retail"
    got = st.query("SELECT line_kind, is_guest FROM transactions ORDER BY source_row")
    assert got.line_kind.tolist() == ["sale", "cancellation", "non_product", "non_product"]
    assert rep["profile"]["cancellation_lines"] == 1
    assert rep["rules"]["cancellation"] == 1 and rep["rules"]["non_product"] == 2


def test_customer_id_stored_as_float_is_normalised(tmp_path: Path) -> None:
    st, _ = load(tmp_path, [line(customer=17850.0), line(order="2", customer="12346.0")])
    assert st.query("SELECT customer_id FROM transactions ORDER BY 1").customer_id.tolist() == [
        "12346", "17850"]


def test_counts_add_up_and_quarantine_matches(tmp_path: Path) -> None:
    rows = [line(), line(), line(qty=0), line(order="", product="Z"), line(order="9", qty=-2)]
    st, rep = load(tmp_path, rows)
    assert rep["rows_loaded"] + rep["rows_quarantined"] == rep["rows_read"] == 5
    assert st.count("transactions") == rep["rows_loaded"]
    assert st.count("quarantine") == rep["rows_quarantined"]
    loads = st.query("SELECT rows_read, rows_loaded, rows_quarantined, status FROM loads")
    assert loads.iloc[0].tolist() == [5, 2, 3, "loaded"]


def test_same_file_twice_adds_nothing_and_new_file_appends(tmp_path: Path) -> None:
    st, rep = load(tmp_path, [line(), line(order="2")])
    again = ingest_files(st, [tmp_path / "t.csv"], loaded_at=LOADED_AT)[0]
    assert again["status"] == "already_loaded" and again["rows_loaded"] == 0
    # a different file repeating one stored line and adding one new line
    f2 = write_csv(tmp_path / "t2.csv", [line(order="2"), line(order="3")])
    third = ingest_files(st, [f2], loaded_at=LOADED_AT)[0]
    assert third["rules"]["already_loaded"] == 1 and third["rows_loaded"] == 1
    assert st.count("transactions") == 3
    assert st.count("loads") == 3


def test_lines_at_the_edges_of_a_files_dates_are_found_already_loaded(tmp_path: Path) -> None:
    """The store is searched for a file's lines only within the file's first and last order
    times (so a month more reads that month of the store, not all of it): lines at exactly
    those times, to the microsecond, are still found."""
    first, last = "2024-01-02 10:00:00.250001", "2024-03-05 17:30:00.999999"
    st, _ = load(tmp_path, [line(order="1", when=first), line(order="2", when=last),
                            line(order="0", when="2023-12-01 09:00:00")])
    again = write_csv(tmp_path / "t2.csv", [line(order="1", when=first),
                                            line(order="3", when="2024-02-01 12:00:00"),
                                            line(order="2", when=last)])
    rep = ingest_files(st, [again], loaded_at=LOADED_AT)[0]
    assert rep["rules"]["already_loaded"] == 2 and rep["rows_loaded"] == 1
    assert st.query("SELECT order_id FROM transactions WHERE load_id = 2").order_id.tolist() == [
        "3"]


def test_generic_mapping_amount_and_semicolon_decimal_comma(tmp_path: Path) -> None:
    f = tmp_path / "kasse.csv"
    f.write_text(
        "Beleg;Artikel;Menge;Summe;Kunde;Datum\n"
        "A1;K-1;2;7,00;k9;02.01.2024 10:00\n"
        "A2;K-2;1;3,50;k9;03.01.2024 11:30\n",
        encoding="latin-1",
    )
    st = Store(tmp_path / "s.duckdb")
    rep = ingest_files(st, [f], loaded_at=LOADED_AT, mapping=[
        "order_id=Beleg", "product_id=Artikel", "quantity=Menge", "amount=Summe",
        "customer_id=Kunde", "ordered_at=Datum"])[0]
    assert rep["rows_loaded"] == 2
    got = st.query("SELECT unit_price, amount, ordered_at FROM transactions ORDER BY ordered_at")
    assert got.unit_price.tolist() == [3.5, 3.5]
    assert got.ordered_at.iloc[0] == pd.Timestamp("2024-01-02 10:00")


def test_generic_synonyms_without_map(tmp_path: Path) -> None:
    rows = [{"Receipt": "r1", "SKU": "s1", "Qty": 1, "Price": 4.0, "Member ID": "m1",
             "Date": "2024-02-01", "Store": "north"}]
    st, rep = load(tmp_path, rows)
    assert rep["format"] == "generic"
    assert st.query("SELECT store_id FROM transactions").store_id.tolist() == ["north"]


def test_line_totals_without_quantity(tmp_path: Path) -> None:
    """A receipt-style export (line totals, no units): one unit per line at its total, a
    negative total is one unit returned, and the report states the assumption."""
    rows = [{"receipt": "R1", "client": "a", "date": "2024-01-02", "sku": "X", "total": 12.5},
            {"receipt": "R1", "client": "a", "date": "2024-01-02", "sku": "Y", "total": 3.0},
            {"receipt": "R2", "client": "b", "date": "2024-01-03", "sku": "X", "total": -12.5}]
    st, rep = load(tmp_path, rows)
    assert rep["rows_loaded"] == 3 and rep["rows_quarantined"] == 0
    assert rep["columns"]["amount"] == "total" and "quantity" not in rep["columns"]
    assert len(rep["assumptions"]) == 1 and rep["assumptions"][0].startswith(
        "no quantity column: every line counts as one unit")
    got = st.query("SELECT quantity, unit_price, amount, line_kind FROM transactions "
                   "ORDER BY source_row")
    assert got.quantity.tolist() == [1.0, 1.0, -1.0]
    assert got.unit_price.tolist() == [12.5, 3.0, 12.5]
    assert got.amount.tolist() == [12.5, 3.0, -12.5]
    assert got.line_kind.tolist() == ["sale", "sale", "return"]
    assert rep["revenue_loaded"] == pytest.approx(3.0)
    # with a quantity column nothing is assumed
    (tmp_path / "q").mkdir()
    _, rep2 = load(tmp_path / "q", [dict(r, qty=2) for r in rows[:2]])
    assert rep2["assumptions"] == []


def test_separate_time_column_is_folded_into_the_timestamp(tmp_path: Path) -> None:
    """A till export with the date and the time of day in two columns: the time is kept (it
    used to be dropped, every order at midnight); '6:05 PM' and '1840' read too; an empty time
    is midnight, an unreadable one quarantines the row as an unparseable date."""
    rows = [{"Receipt": "r1", "SKU": "s1", "Qty": 1, "Price": 4.0, "Member": "m1",
             "Time": "18:40", "Date": "02.01.2024"},
            {"Receipt": "r2", "SKU": "s1", "Qty": 1, "Price": 4.0, "Member": "m1",
             "Time": "6:05 PM", "Date": "03.01.2024"},
            {"Receipt": "r3", "SKU": "s1", "Qty": 1, "Price": 4.0, "Member": "m2",
             "Time": "", "Date": "04.01.2024"},
            {"Receipt": "r4", "SKU": "s1", "Qty": 1, "Price": 4.0, "Member": "m2",
             "Time": "25:99", "Date": "05.01.2024"}]
    st, rep = load(tmp_path, rows)
    assert rep["columns"]["ordered_at"] == "Date" and rep["columns"]["ordered_time"] == "Time"
    assert rep["rows_loaded"] == 3 and rep["rules"]["unparseable_date"] == 1
    got = st.query("SELECT ordered_at FROM transactions ORDER BY source_row").ordered_at
    assert got.tolist() == [pd.Timestamp("2024-01-02 18:40"), pd.Timestamp("2024-01-03 18:05"),
                            pd.Timestamp("2024-01-04")]
    # a lone "Time" column holding whole timestamps is the date
    (tmp_path / "lone").mkdir()
    _, rep = load(tmp_path / "lone", [{"Receipt": "r1", "SKU": "s1", "Qty": 1, "Price": 4.0,
                                       "Member": "m1", "Time": "2024-01-02 09:15"}])
    assert rep["columns"]["ordered_at"] == "Time" and rep["rows_loaded"] == 1
    # a mapped time column with mostly unreadable values fails the load, naming it
    f = write_csv(tmp_path / "bad.csv", [dict(line(order=str(i)), hhmm="soon") for i in range(3)])
    with pytest.raises(DataError, match=r"column 'hhmm' .*cannot be read as a time of day"):
        ingest_files(Store(tmp_path / "bad.duckdb"), [f], loaded_at=LOADED_AT,
                     mapping=["ordered_time=hhmm"])


def test_file_without_order_ids_groups_lines_by_customer_and_moment(tmp_path: Path) -> None:
    rows = [{"customer": "a", "date": "2024-01-02 10:00", "sku": "X", "qty": 1, "price": 2.0},
            {"customer": "a", "date": "2024-01-02 10:00", "sku": "Y", "qty": 2, "price": 1.0},
            {"customer": "a", "date": "2024-01-05 09:00", "sku": "X", "qty": 1, "price": 2.0},
            {"customer": "", "date": "2024-01-05 09:00", "sku": "X", "qty": 1, "price": 2.0},
            {"customer": "", "date": "2024-01-05 09:00", "sku": "Y", "qty": 1, "price": 1.0}]
    st, rep = load(tmp_path, rows)
    assert rep["rows_loaded"] == 5 and rep["orders"] == 4  # a's two visits + two guest lines
    assert any(a.startswith("no order id column") for a in rep["assumptions"])
    got = st.query("SELECT order_id FROM transactions ORDER BY source_row").order_id.tolist()
    assert got[0] == got[1] == "a@2024-01-02T10:00:00" and got[2] != got[0]
    assert got[3] != got[4]
    # the same file again adds nothing: the derived ids are stable
    rep2 = ingest_files(st, [tmp_path / "t.csv"], loaded_at=LOADED_AT)[0]
    assert rep2["rows_loaded"] == 0


def test_order_level_export_without_products(tmp_path: Path) -> None:
    """One row per order (Shopify-style: order number, e-mail, created at, total): loads with
    a placeholder product and says so; product models refuse it with one clear line."""
    from loyalist import pipeline
    from loyalist.ingest.adapters import NO_PRODUCT

    rows = [{"Name": f"#{1000 + i}", "Email": f"c{i % 7}@shop.example",
             "Created at": f"2024-{1 + i % 12:02d}-{1 + i % 27:02d} 10:00:00 +0100",
             "Total": 20.0 + i} for i in range(60)]
    st, rep = load(tmp_path, rows, mapping=["order_id=Name"])
    assert rep["rows_loaded"] == 60 and rep["customers"] == 7 and rep["orders"] == 60
    assert rep["columns"]["customer_id"] == "Email"
    assert [a.split(":")[0] for a in rep["assumptions"]] == ["no quantity column",
                                                              "no product column"]
    got = st.query("SELECT DISTINCT product_id, ordered_at FROM transactions "
                   "WHERE order_id = '#1000'")
    assert got.product_id.tolist() == [NO_PRODUCT]
    assert got.ordered_at.tolist() == [pd.Timestamp("2024-01-01 10:00")]  # local time kept
    st.close()
    with pytest.raises(DataError, match="hold one product .* nothing to recommend"):
        pipeline.recommend(tmp_path / "s.duckdb", out_dir=tmp_path / "rec")
    # the report and the API say so too, instead of asking for `loyalist recommend` (CDNOW's
    # report said "the store has no recommendations table; run loyalist recommend")
    import threading

    import duckdb

    from loyalist.api import reads
    from loyalist.api.reads import NotFound
    from loyalist.api.storegate import Reader
    from loyalist.report import data as report_data

    with Store(tmp_path / "s.duckdb", read_only=True) as st:
        for section in (report_data.recommendations, report_data.together):
            got, why = section(st, None, "run it")
            assert got is None and "hold one product ('" in why and "run it" not in why
    with duckdb.connect(str(tmp_path / "s.duckdb"), read_only=True) as con:
        r = Reader(con, {}, threading.RLock(), tmp_path / "s.duckdb", 0)
        with pytest.raises(NotFound, match="hold one product .* nothing to recommend"):
            reads.recommendations(r, "c1@shop.example", method=None, n=5)
        with pytest.raises(NotFound, match="hold one product .* nothing to recommend"):
            reads.together(r, "x", n=5)


def test_customer_id_synonyms_prefer_an_id_over_an_email(tmp_path: Path) -> None:
    rows = [{"Email": "x@y.z", "Customer ID": "42", "Receipt": "r1", "SKU": "s", "Qty": 1,
             "Price": 1.0, "Date": "2024-01-01"}]
    _, rep = load(tmp_path, rows)
    assert rep["columns"]["customer_id"] == "Customer ID"


def test_excel_file(tmp_path: Path) -> None:
    f = tmp_path / "sales.xlsx"
    pd.DataFrame([line(), line(order="2", price=0)]).to_excel(f, index=False)
    st = Store(tmp_path / "s.duckdb")
    rep = ingest_files(st, [f], loaded_at=LOADED_AT)[0]
    assert (rep["rows_loaded"], rep["rules"]["non_positive_price"]) == (1, 1)


def _file(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _fingerprint(st: Store) -> list[object]:
    return [st.count(t) for t in ("transactions", "quarantine", "loads")]


@pytest.mark.parametrize(("make", "match"), [
    (lambda p: p / "missing.csv", "no such file"),
    (lambda p: _file(p / "empty.csv", b""), "is empty"),
    (lambda p: _file(p / "head.csv", b"order_id,product_id\n"), "no data rows"),
    (lambda p: _file(p / "bad.parquet", b"PAR1garbagegarbage"), "cannot be read as parquet"),
    (lambda p: write_csv(p / "nocol.csv", [{"order_id": 1, "product_id": 2, "quantity": 1}]),
     "missing required column"),
    (lambda p: write_csv(p / "types.csv", [line(when=f"soon{i}") for i in range(10)]),
     "cannot be read as a timestamp"),
])
def test_bad_input_fails_cleanly_and_store_is_untouched(tmp_path: Path, make, match: str) -> None:
    good = write_csv(tmp_path / "good.csv", [line()])
    st = Store(tmp_path / "s.duckdb")
    ingest_files(st, [good], loaded_at=LOADED_AT)
    before = _fingerprint(st)
    with pytest.raises(DataError, match=match):
        ingest_files(st, [make(tmp_path)], loaded_at=LOADED_AT)
    assert _fingerprint(st) == before


def test_truncated_parquet(tmp_path: Path) -> None:
    full = tmp_path / "full.parquet"
    pd.DataFrame([line(order=str(i)) for i in range(1000)]).to_parquet(full)
    cut = tmp_path / "cut.parquet"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    with pytest.raises(DataError, match="corrupt or truncated"):
        ingest_files(Store(tmp_path / "s.duckdb"), [cut], loaded_at=LOADED_AT)


def test_failure_in_second_file_rolls_back_first(tmp_path: Path) -> None:
    good = write_csv(tmp_path / "good.csv", [line()])
    st = Store(tmp_path / "s.duckdb")
    with pytest.raises(DataError, match="no such file"):
        ingest_files(st, [good, tmp_path / "nope.csv"], loaded_at=LOADED_AT)
    assert _fingerprint(st) == [0, 0, 0]


@pytest.mark.parametrize(("pairs", "match"), [
    (["price=Preis"], "not a canonical column"),
    (["customer_id"], "expected canonical=source"),
    (["customer_id=Nope"], "has no column 'Nope'"),
])
def test_bad_map(tmp_path: Path, pairs: list[str], match: str) -> None:
    f = write_csv(tmp_path / "t.csv", [line()])
    with pytest.raises(DataError, match=match):
        ingest_files(Store(tmp_path / "s.duckdb"), [f], mapping=pairs, loaded_at=LOADED_AT)


def test_row_numbers_follow_the_csv(tmp_path: Path) -> None:
    rows = [line(order=str(i), price=(0 if i % 97 == 0 else 1.0)) for i in range(1, 5001)]
    st, rep = load(tmp_path, rows)
    got = st.con.execute("SELECT source_row FROM quarantine ORDER BY 1").fetchall()
    assert [r[0] for r in got] == [i for i in range(1, 5001) if i % 97 == 0]
    back = st.con.execute("SELECT count(*) FROM transactions WHERE CAST(order_id AS INT) "
                          "<> source_row").fetchall()[0][0]
    assert back == 0


def test_aux_tables_upsert(tmp_path: Path) -> None:
    st = Store(tmp_path / "s.duckdb")
    c1 = write_csv(tmp_path / "c1.csv", [
        {"customer_id": "a", "age": 30, "marketing_consent": "yes"},
        {"customer_id": "", "age": 40, "marketing_consent": "no"}])
    rep = ingest_files(st, [c1], loaded_at=LOADED_AT)[0]
    assert (rep["table"], rep["rows_loaded"], rep["rules"]) == ("customers", 1, {"missing_key": 1})
    c2 = write_csv(tmp_path / "c2.csv", [{"customer_id": "a", "age": 31, "marketing_consent": 0}])
    ingest_files(st, [c2], loaded_at=LOADED_AT)
    assert st.query("SELECT age, marketing_consent FROM customers").iloc[0].tolist() == [31, False]
    assert isinstance(st.con, duckdb.DuckDBPyConnection)
    # a file repeating a key: the last row wins, and the report says how many were replaced
    c3 = write_csv(tmp_path / "c3.csv", [{"customer_id": "b", "age": a} for a in (20, 21, 22)])
    rep = ingest_files(st, [c3], loaded_at=LOADED_AT)[0]
    assert rep["rows_loaded"] == 3
    assert rep["assumptions"] == ["2 rows repeat the customer_id of a later row of this file: "
                                  "the last row of each is kept, 1 distinct record(s) in all"]
    assert st.query("SELECT age FROM customers WHERE customer_id = 'b'").age.tolist() == [22]


def test_store_memory_limit_default_env_and_bad_value(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from loyalist.errors import StoreError
    from loyalist.store import default_memory_limit

    def limit(st: Store) -> float:
        return st.con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]

    monkeypatch.delenv("LOYALIST_MEMORY_LIMIT", raising=False)
    gb = int(default_memory_limit().removesuffix("GB"))
    assert 1 <= gb
    with Store(tmp_path / "a.duckdb") as st:  # DuckDB shows GiB, rounded, of the GB asked for
        shown = limit(st)
        assert shown.endswith("GiB") and abs(float(shown.split()[0]) - gb / 1.073741824) < 0.1
    monkeypatch.setenv("LOYALIST_MEMORY_LIMIT", "700MB")
    with Store(tmp_path / "b.duckdb") as st:
        assert limit(st).startswith("667")  # 700 MB = 667.5 MiB
    monkeypatch.setenv("LOYALIST_MEMORY_LIMIT", "lots")
    with pytest.raises(StoreError, match=r"memory limit 'lots' \(LOYALIST_MEMORY_LIMIT\)"):
        Store(tmp_path / "c.duckdb")


def test_write_frame_takes_any_timestamp_resolution(tmp_path: Path) -> None:
    """`train --as-of 2011-09-01` wrote scores with as_of in seconds (pandas parses a date at
    that resolution), creating a TIMESTAMP_S column; a later `train` at the default as_of (in
    nanoseconds) then failed with a DuckDB conversion traceback."""
    from loyalist.features import to_as_of

    st = Store(tmp_path / "s.duckdb")
    sec = pd.DataFrame({"k": [1], "as_of": pd.Series([pd.Timestamp("2011-09-01")],
                                                      dtype="datetime64[s]")})
    st.write_frame("scores_t", sec)
    ns = pd.DataFrame({"k": [2], "as_of": pd.to_datetime(["2011-12-10 00:00:00.5"])})
    st.write_frame("scores_t", ns, replace_where="as_of = ?",
                   params=[pd.Timestamp("2011-12-10").to_pydatetime()])
    got = st.query("SELECT as_of FROM scores_t ORDER BY k").as_of.tolist()
    assert got == [pd.Timestamp("2011-09-01"), pd.Timestamp("2011-12-10 00:00:00.5")]
    assert to_as_of("2011-09-01").unit == "ns"


def test_write_frame_after_an_empty_first_frame(tmp_path: Path) -> None:
    """Exploratory report 6a, G1: an empty first plan (a budget below one send) created
    plan_customers from an empty frame, with text columns of type "NULL" and a text column
    as DOUBLE, and every later plan failed with a DuckDB conversion traceback. Empty text
    columns are now created as text, and a column that never held a value takes the type of
    the first values written to it (which also mends stores written by the old code)."""
    st = Store(tmp_path / "s.duckdb")
    empty = pd.DataFrame({"customer_id": pd.Series([], dtype=object),
                          "reasons": pd.Series([], dtype=float),
                          "value": pd.Series([], dtype=float)})
    st.write_frame("plan_t", empty)
    types = dict(r[:2] for r in st.con.execute("DESCRIBE plan_t").fetchall())
    assert types == {"customer_id": "VARCHAR", "reasons": "DOUBLE", "value": "DOUBLE"}
    st.con.execute('CREATE TABLE old_t (customer_id "NULL", reasons DOUBLE)')  # as 6a found it
    full = pd.DataFrame({"customer_id": ["C1", "C2"], "reasons": ["lapsing", "loyal"],
                         "value": [1.5, 2.0]})
    for table in ("plan_t", "old_t"):
        st.write_frame(table, full)
        got = st.query(f"SELECT * FROM {table} ORDER BY customer_id")
        assert got.customer_id.tolist() == ["C1", "C2"]
        assert got.reasons.tolist() == ["lapsing", "loyal"]
    with pytest.raises(Exception, match="Conversion"):  # a column with values keeps its type
        st.write_frame("plan_t", full.assign(value=["x", "y"]))
    st.close()


@pytest.mark.parametrize("value", [pd.Timestamp("2025-12-28", tz="Europe/Berlin"),
                                   pd.Timestamp("2025-12-28", tz="America/New_York"),
                                   "2025-12-28T00:00:00+02:00", "2025-12-28 00:00Z"])
def test_a_zoned_as_of_keeps_its_clock_time(value: object) -> None:
    """The store holds local clock times (a zoned file keeps its zone's local time), so a
    zoned as_of must too: converting it to UTC moved midnight in Berlin to 23:00 the day
    before (a customer's 22:30 order then fell after the cutoff) and New York's to 05:00."""
    from loyalist.features import to_as_of

    assert to_as_of(value) == pd.Timestamp("2025-12-28")  # type: ignore[arg-type]


def test_us_order_export_with_12_hour_clock_and_order_total(tmp_path: Path) -> None:
    rows = [{"Order Number": "1001", "Customer Email": "a@x.example",
             "Order Date": "12/01/2010 08:26 PM", "Order Total": "$1,139.12"},
            {"Order Number": "1002", "Customer Email": "b@x.example",
             "Order Date": "12/02/2010 12:05 AM", "Order Total": "$22.20"}]
    st, rep = load(tmp_path, rows)
    assert rep["rows_loaded"] == 2 and rep["columns"]["amount"] == "Order Total"
    got = st.query("SELECT ordered_at, amount FROM transactions ORDER BY source_row")
    assert got.ordered_at.tolist() == [pd.Timestamp("2010-12-01 20:26"),
                                       pd.Timestamp("2010-12-02 00:05")]
    assert got.amount.tolist() == [1139.12, 22.2]
    # without any price or total, the one missing piece is named (not product or quantity)
    f = write_csv(tmp_path / "no_money.csv", [{k: v for k, v in r.items() if k != "Order Total"}
                                              for r in rows])
    with pytest.raises(DataError, match=r"missing required column\(s\) unit_price \(or amount, "
                                        r"the line total\) \(format generic\)"):
        ingest_files(Store(tmp_path / "n.duckdb"), [f], loaded_at=LOADED_AT)


def test_time_zone_aware_parquet_keeps_local_wall_time(tmp_path: Path) -> None:
    """pandas writes tz-aware timestamps as UTC instants plus the zone name in the Arrow
    schema; DuckDB saw TIMESTAMPTZ_NS and the load died in a cast. The shop's local time is
    what day and hour mean, so it is kept: midnight in Berlin stays midnight, not 23:00 UTC."""
    f = tmp_path / "tz.parquet"
    pd.DataFrame([line(order="1", when=None), line(order="2", when=None)]).assign(
        ordered_at=pd.to_datetime(["2024-01-04 00:00", "2024-07-01 18:30"]).tz_localize(
            "Europe/Berlin")).to_parquet(f)
    st = Store(tmp_path / "s.duckdb")
    rep = ingest_files(st, [f], loaded_at=LOADED_AT)[0]
    assert rep["rows_loaded"] == 2
    got = st.query("SELECT ordered_at FROM transactions ORDER BY source_row").ordered_at
    assert got.tolist() == [pd.Timestamp("2024-01-04 00:00"), pd.Timestamp("2024-07-01 18:30")]


def test_spreadsheet_serial_dates_and_epoch_seconds(tmp_path: Path) -> None:
    """A date column that lost its format in Excel exports as serial day numbers (45293 is
    2024-01-02; .75 is 18:00), as numbers or as text; epoch seconds are UTC on any machine."""
    f = tmp_path / "serial.xlsx"
    pd.DataFrame([line(order="1", when=45293), line(order="2", when=45294.75)]).to_excel(
        f, index=False)
    st = Store(tmp_path / "s.duckdb")
    assert ingest_files(st, [f], loaded_at=LOADED_AT)[0]["rows_loaded"] == 2
    assert st.query("SELECT ordered_at FROM transactions ORDER BY source_row").ordered_at \
        .tolist() == [pd.Timestamp("2024-01-02"), pd.Timestamp("2024-01-03 18:00")]
    (tmp_path / "csv").mkdir()
    st2, rep = load(tmp_path / "csv", [line(order="1", when="45293.5"),
                                       line(order="2", when="45300")])
    assert rep["rows_loaded"] == 2 and rep["first_date"] == "2024-01-02T12:00:00"
    (tmp_path / "epoch").mkdir()
    f = tmp_path / "epoch" / "e.parquet"
    pd.DataFrame([line(order="1", when=None)]).assign(ordered_at=1704196800).to_parquet(f)
    st3 = Store(tmp_path / "epoch" / "s.duckdb")
    assert ingest_files(st3, [f], loaded_at=LOADED_AT)[0]["first_date"] == "2024-01-02T12:00:00"


def test_workbook_sheets_with_the_same_columns_are_all_loaded(tmp_path: Path) -> None:
    """Online Retail II ships one year per sheet: reading only the first sheet silently lost
    half the data. Sheets with the first sheet's columns are loaded one after the other (ids
    that are numbers on one sheet and text on another still match); others are left out, and
    the report says both."""
    f = tmp_path / "two_years.xlsx"
    with pd.ExcelWriter(f) as w:
        pd.DataFrame([line(order="1", customer=13085.0)]).to_excel(w, sheet_name="Y1",
                                                                   index=False)
        pd.DataFrame([line(order="2", customer="17850"), line(order="3", customer="17850")]
                     ).to_excel(w, sheet_name="Y2", index=False)
        pd.DataFrame({"note": ["exported by the till"]}).to_excel(w, sheet_name="About",
                                                                  index=False)
    st = Store(tmp_path / "s.duckdb")
    rep = ingest_files(st, [f], loaded_at=LOADED_AT)[0]
    assert (rep["rows_read"], rep["rows_loaded"]) == (3, 3)
    got = st.query("SELECT customer_id, source_row FROM transactions ORDER BY source_row")
    assert got.customer_id.tolist() == ["13085", "17850", "17850"]
    assert got.source_row.tolist() == [1, 2, 3]
    assert rep["assumptions"][0].startswith("workbook sheets 'Y1', 'Y2' have the same columns")
    assert rep["assumptions"][1].startswith("workbook sheet(s) 'About' left out")


@pytest.mark.parametrize("name", ["tx.json", "tx.jsonl", "tx.csv.gz"])
def test_json_records_and_gzipped_csv(tmp_path: Path, name: str) -> None:
    import gzip
    import json

    recs = [line(order="1", customer=17850, qty=2), line(order="2", customer=17851, price=3.5)]
    f = tmp_path / name
    if name.endswith(".json"):
        f.write_text(json.dumps(recs))
    elif name.endswith(".jsonl"):
        f.write_text("\n".join(json.dumps(r) for r in recs))
    else:
        with gzip.open(f, "wt") as g:
            pd.DataFrame(recs).to_csv(g, index=False)
    st = Store(tmp_path / "s.duckdb")
    rep = ingest_files(st, [f], loaded_at=LOADED_AT)[0]
    assert (rep["rows_read"], rep["rows_loaded"]) == (2, 2)
    assert rep["revenue_loaded"] == pytest.approx(2 * 2.5 + 3.5)
    got = st.query("SELECT customer_id FROM transactions ORDER BY source_row").customer_id
    assert got.tolist() == ["17850", "17851"]
    # a gzipped file is read from a decompressed copy, but named as given
    assert rep["file"] == str(f.resolve())
    assert st.query("SELECT file FROM loads").file.tolist() == [str(f.resolve())]


def test_truncated_gzip_is_one_clear_error(tmp_path: Path) -> None:
    import gzip

    whole = gzip.compress(b"order_id,customer_id,ordered_at,product_id,quantity,unit_price\n"
                          + b"1,c1,2024-01-02,p1,1,2.5\n" * 5000)
    f = tmp_path / "cut.csv.gz"
    f.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(DataError, match=r"cut.csv.gz: cannot be decompressed as gzip \(corrupt "
                                        r"or truncated\?\)"):
        ingest_files(Store(tmp_path / "s.duckdb"), [f], loaded_at=LOADED_AT)


def test_truncated_json_is_one_clear_error(tmp_path: Path) -> None:
    f = tmp_path / "bad.json"
    f.write_text('[{"order_id": "1", "customer_id": ')
    with pytest.raises(DataError, match=r"bad.json: cannot be read as json .*export the file"):
        ingest_files(Store(tmp_path / "s.duckdb"), [f], loaded_at=LOADED_AT)


def test_promotion_history_with_a_control_group_column(tmp_path: Path) -> None:
    """Campaign exports mark the hold-out in a column of its own (group = test/control, or a
    treated flag), not as a promotion named 'control'; such rows are stored as 'control', so
    the response model sees the control group, and the report says how many."""
    st = Store(tmp_path / "s.duckdb")
    ingest_files(st, [write_csv(tmp_path / "t.csv", [line()])], loaded_at=LOADED_AT)
    f = write_csv(tmp_path / "campaign.csv", [
        {"customer": "1", "sent_at": "2024-01-05", "offer": "voucher_5", "group": "test"},
        {"customer": "2", "sent_at": "2024-01-05", "offer": "voucher_5", "group": "Control"},
        {"customer": "3", "sent_at": "2024-01-05", "offer": "voucher_5", "group": "hold-out"},
        {"customer": "4", "sent_at": "2024-01-05", "offer": "voucher_5", "group": "VIP"}])
    rep = ingest_files(st, [f], table="promotions", loaded_at=LOADED_AT)[0]
    assert rep["rows_loaded"] == 4
    assert rep["assumptions"] == ["control group read from column 'group': 2 rows stored as "
                                  "promotion 'control'; 1 values were neither control nor "
                                  "treated and count as treated"]
    f2 = write_csv(tmp_path / "c2.csv", [
        {"customer_id": "5", "sent_at": "2024-02-01", "promotion": "pct10_off", "treated": 1},
        {"customer_id": "6", "sent_at": "2024-02-01", "promotion": "pct10_off", "treated": 0}])
    ingest_files(st, [f2], table="promotions", loaded_at=LOADED_AT)
    got = st.query("SELECT customer_id, promotion, control_for FROM promotions "
                   "ORDER BY customer_id")
    assert got.promotion.tolist() == ["voucher_5", "control", "control", "voucher_5",
                                      "pct10_off", "control"]
    # the offer a control row names may be the campaign's name, not what it was held out
    # from: such controls stand for every offer of their day
    assert got.control_for.isna().all()
    # a plan's sends file names what a control was held out from in a column of its own
    f3 = write_csv(tmp_path / "sends.csv", [
        {"customer_id": "7", "sent_at": "2024-03-01", "promotion": "control",
         "control_for": "pct10_off"},
        {"customer_id": "8", "sent_at": "2024-03-01", "promotion": "pct10_off",
         "control_for": ""}])
    assert ingest_files(st, [f3], loaded_at=LOADED_AT)[0]["table"] == "promotions"
    got = st.query("SELECT promotion, control_for FROM promotions WHERE customer_id IN "
                   "('7', '8') ORDER BY customer_id")
    assert got.values.tolist() == [["control", "pct10_off"], ["pct10_off", None]]


@pytest.mark.parametrize(("values", "want"), [
    # Excel's default CSV export: two-digit years, which %Y also "reads" as the year 10
    (["12/31/10 14:00", "1/2/11 9:05"], ["2010-12-31 14:00", "2011-01-02 09:05"]),
    (["1/2/24 10:00 AM", "12/31/10 2:05 PM"], ["2024-01-02 10:00", "2010-12-31 14:05"]),
    (["02-Jan-2024 10:00", "15-Mar-2024 18:30"], ["2024-01-02 10:00", "2024-03-15 18:30"]),
    (["Jan 2, 2024 10:00 AM", "Mar 15, 2024 6:30 PM"], ["2024-01-02 10:00", "2024-03-15 18:30"]),
    (["2 January 2024", "15 March 2024"], ["2024-01-02", "2024-03-15"]),
    (["Tue, 02 Jan 2024 10:00:00 GMT", "Fri, 15 Mar 2024 18:30:00 GMT"],
     ["2024-01-02 10:00", "2024-03-15 18:30"]),
])
def test_more_date_spellings(tmp_path: Path, values: list[str], want: list[str]) -> None:
    st, rep = load(tmp_path, [line(order=str(i), when=v) for i, v in enumerate(values)])
    assert rep["rows_loaded"] == len(values), rep["rules"]
    got = st.query("SELECT ordered_at FROM transactions ORDER BY source_row").ordered_at
    assert got.tolist() == [pd.Timestamp(w) for w in want]


@pytest.mark.parametrize(("prices", "want"), [
    (["(12.50)", "4.00"], [-12.5, 4.0]),  # accounting negative
    (["12.50-", "3.00"], [-12.5, 3.0]),  # trailing minus (SAP exports)
    (["1'234.50", "3.00"], [1234.5, 3.0]),  # Swiss thousands
    (["EUR 12.50", "1,000.00 usd"], [12.5, 1000.0]),  # currency codes
    (["1 234,50 €", "3,50 €"], [1234.5, 3.5]),
    # no-break (Excel, French locales), narrow no-break (CLDR) and thin spaces: one sale with
    # such a thousands separator among plain ones was quarantined, a column of them refused
    (["1\u00a0234,50", "3,50"], [1234.5, 3.5]),
    (["1\u202f234,50\u00a0€", "12,50\u00a0€"], [1234.5, 12.5]),
    (["1\u2009234.50", "3.00"], [1234.5, 3.0]),
])
def test_more_number_spellings(tmp_path: Path, prices: list[str], want: list[float]) -> None:
    rows = [{"receipt": f"r{i}", "client": "a", "date": "2024-01-02", "sku": "X", "total": p}
            for i, p in enumerate(prices)]
    st, rep = load(tmp_path, rows)
    assert rep["rows_read"] == len(prices) and rep["rules"].get("unparseable_price", 0) == 0
    got = st.query("SELECT amount FROM transactions ORDER BY source_row").amount
    assert got.tolist() == want


def test_birth_dates_give_the_age_at_the_plans_as_of(tmp_path: Path) -> None:
    """A tobacco or alcohol merchant's CRM keeps dates of birth, not ages (which go stale):
    the age the minimum-age rule reads is the age at the plan's as_of."""
    from loyalist.response import response_features

    st = Store(tmp_path / "s.duckdb")
    ingest_files(st, [write_csv(tmp_path / "t.csv", [line(customer="a"), line(customer="b"),
                                                     line(customer="c")])],
                 loaded_at=LOADED_AT)
    f = write_csv(tmp_path / "crm.csv", [
        {"Customer ID": "a", "Date of Birth": "2006-03-01", "Marketing Consent": "yes"},
        {"Customer ID": "b", "Date of Birth": "2006-02-28", "Marketing Consent": "yes"},
        {"Customer ID": "c", "Date of Birth": "", "Marketing Consent": "yes"}])
    rep = ingest_files(st, [f], table="customers", loaded_at=LOADED_AT)[0]
    assert rep["columns"]["birth_date"] == "Date of Birth" and rep["rows_loaded"] == 3
    feats = response_features(st, pd.Timestamp("2024-02-29"), window_days=30)
    age = feats.set_index("customer_id")["age"]
    assert age["a"] == 17 and age["b"] == 18 and pd.isna(age["c"])


def test_an_older_store_gains_the_birth_date_column(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE customers (customer_id VARCHAR PRIMARY KEY, age DOUBLE, "
                "gender VARCHAR, region VARCHAR, signup_at TIMESTAMP, marketing_consent "
                "BOOLEAN, email_opt_out BOOLEAN, load_id INTEGER)")
    con.close()
    with Store(path) as st:
        assert st.has_column("customers", "birth_date")


def test_report_title_above_the_header_is_skipped(tmp_path: Path) -> None:
    """Till and ERP exports often start with a title line (and a blank line) above the column
    names; the header row is found, and the report says which line it was."""
    f = tmp_path / "titled.csv"
    f.write_text("Sales by line; period 2024-01\n\n"
                 "order_id;product_id;quantity;unit_price;customer_id;ordered_at\n"
                 "1;A;1;2,50;c1;02.01.2024\n2;B;2;3,50;c2;03.01.2024\nTotal;;;;;\n")
    st = Store(tmp_path / "s.duckdb")
    rep = ingest_files(st, [f], loaded_at=LOADED_AT)[0]
    assert (rep["rows_read"], rep["rows_loaded"]) == (3, 2)
    assert rep["rules"]["totals_row"] == 1  # the totals line
    assert rep["assumptions"] == ["the column names are on line 3: the 2 line(s) above them "
                                  "(a report title) were skipped"]
    assert st.query("SELECT sum(amount) AS v FROM transactions").v.iloc[0] == pytest.approx(9.5)


@pytest.mark.parametrize("encoding", ["latin-1", "utf-16"])
def test_latin1_and_utf16_exports(tmp_path: Path, encoding: str) -> None:
    """A Windows-era European till writes Latin-1 ('Käse' in one byte) and Excel's 'Unicode
    text' is UTF-16 with tabs. The Latin-1 fallback used to run inside the load's transaction,
    which the failed UTF-8 attempt had already aborted: every such file was refused."""
    f = tmp_path / "kasse.txt"
    pd.DataFrame([line(order="1", description="Käse"), line(order="2", description="Brötchen")]
                 ).to_csv(f, index=False, sep=";" if encoding == "latin-1" else "\t",
                          encoding=encoding)
    st = Store(tmp_path / "s.duckdb")
    rep = ingest_files(st, [f], loaded_at=LOADED_AT)[0]
    assert rep["rows_loaded"] == 2
    assert rep["assumptions"] == ["the file is not UTF-8: read as " + (
        "Windows-1252 (Latin-1 with the euro sign)" + GUESSED if encoding == "latin-1"
        else encoding)]
    got = st.query("SELECT description FROM transactions ORDER BY source_row").description
    assert got.tolist() == ["Käse", "Brötchen"]


def test_fixed_offset_time_zone_in_parquet(tmp_path: Path) -> None:
    """Arrow writes a fixed-offset zone as '+05:30', a name DuckDB does not know; it is read
    as that offset, minutes included, so 00:10 local stays 00:10 (the day does not move)."""
    import datetime as dt

    f = tmp_path / "tz.parquet"
    pd.DataFrame([line(order="1", when=None)]).assign(
        ordered_at=pd.to_datetime(["2024-01-04 00:10"]).tz_localize(
            dt.timezone(dt.timedelta(hours=5, minutes=30)))).to_parquet(f)
    st = Store(tmp_path / "s.duckdb")
    assert ingest_files(st, [f], loaded_at=LOADED_AT)[0]["first_date"] == "2024-01-04T00:10:00"


def test_email_customer_ids_ignore_letter_case_everywhere(tmp_path: Path) -> None:
    """A shop that keys customers by e-mail writes the same mailbox as 'user@example.com' and
    '  User@Example.COM ': one customer, stored lower-cased, said once in the report; the
    customer list and the promotion history, written in yet another case, still join."""
    rows = [line(order=str(i), customer=c, email=c)
            for i, c in enumerate(["user1@example.com", "  User1@Example.COM ",
                                   "USER1@EXAMPLE.COM", "Bob@Shop.co.uk", "ABC-1"])]
    rows = [{k: v for k, v in r.items() if k != "customer_id"} for r in rows]
    st, rep = load(tmp_path, rows)
    assert rep["customers"] == 3
    got = st.query("SELECT DISTINCT customer_id FROM transactions ORDER BY 1").customer_id
    assert got.tolist() == ["ABC-1", "bob@shop.co.uk", "user1@example.com"]  # ids stay as is
    notes = [a for a in rep["assumptions"] if "without letter case" in a]
    assert len(notes) == 1 and notes[0].startswith("3 customer id(s) in 'email'")
    crm = write_csv(tmp_path / "crm.csv", [
        {"Email": "User1@example.com", "Gender": "f"}, {"Email": "bob@shop.CO.UK", "Gender": "m"}])
    crep = ingest_files(st, [crm], table="customers", loaded_at=LOADED_AT)[0]
    assert any("without letter case" in a for a in crep["assumptions"])
    promo = write_csv(tmp_path / "promo.csv", [
        {"customer_id": "USER1@EXAMPLE.COM", "sent_at": "2024-01-01", "promotion": "p10"}])
    ingest_files(st, [promo], table="promotions", loaded_at=LOADED_AT)
    joined = st.query("""SELECT count(DISTINCT t.customer_id) AS n FROM transactions t
                         JOIN customers c USING (customer_id)""").n[0]
    assert joined == 2
    assert st.query("SELECT count(*) AS n FROM promotions p JOIN transactions t "
                    "USING (customer_id)").n[0] == 3
    # an id typed at the CLI, the API or the dashboard finds the stored one
    from loyalist.ingest.parse import customer_key
    from loyalist.pipeline.products import _customers

    assert customer_key(" User1@Example.COM ") == "user1@example.com"
    assert customer_key("ABC-1") == "ABC-1"
    assert _customers(["USER1@example.com", " Bob@Shop.co.uk"]) == ["user1@example.com",
                                                                     "bob@shop.co.uk"]


def test_a_store_with_e_mail_ids_in_their_written_case_is_migrated_once(tmp_path: Path
                                                                        ) -> None:
    """A store loaded before e-mail ids were lower-cased holds them as the file wrote them.
    The next writable open lower-cases them in the lines, the customer list (one row per
    mailbox, the latest load's), the results and the per-order table, once; the same file
    loaded again then finds every line already loaded, and a read-only open changes nothing."""
    rows = [line(order=str(i), customer=c, product=f"P{i}")
            for i, c in enumerate(["ann@shop.com", "ann@shop.com", "bob@shop.com", "ABC-1"])]
    f = write_csv(tmp_path / "sales.csv", rows)
    db = tmp_path / "s.duckdb"
    with Store(db) as st:
        ingest_files(st, [f], loaded_at=LOADED_AT)
        crm = write_csv(tmp_path / "crm.csv", [{"customer_id": "ann@shop.com", "gender": "f"}])
        ingest_files(st, [crm], table="customers", loaded_at=LOADED_AT)
        st.write_frame("scores", pd.DataFrame({"customer_id": ["ann@shop.com", "ABC-1"],
                                               "churn_probability": [0.2, 0.5]}))
        # what an earlier version left: the file's own case, and an older customer row
        for tbl, col in (("transactions", "customer_id"), ("customer_orders", "cid"),
                         ("scores", "customer_id")):
            st.con.execute(f"UPDATE {tbl} SET {col} = replace({col}, 'ann@', 'Ann@')")
        st.con.execute("INSERT INTO customers (customer_id, gender, load_id) "
                       "VALUES ('ANN@SHOP.COM', 'x', 0)")
        st.con.execute("DROP TABLE store_meta")
    with Store(db, read_only=True) as st:
        ids = st.query("SELECT DISTINCT customer_id FROM transactions").customer_id
        assert "Ann@shop.com" in ids.tolist()
    with Store(db) as st:
        ids = st.query("SELECT DISTINCT customer_id FROM transactions ORDER BY 1").customer_id
        assert ids.tolist() == ["ABC-1", "ann@shop.com", "bob@shop.com"]
        assert st.query("SELECT customer_id, gender FROM customers").values.tolist() == [
            ["ann@shop.com", "f"]]
        assert sorted(st.query("SELECT customer_id FROM scores").customer_id) == [
            "ABC-1", "ann@shop.com"]
        assert sorted(set(st.query("SELECT cid FROM customer_orders").cid)) == [
            "ABC-1", "ann@shop.com", "bob@shop.com"]
        from loyalist.features import orders

        assert orders.is_fresh(st.con)
        rep = ingest_files(st, [write_csv(tmp_path / "again.csv", rows)],
                           loaded_at=LOADED_AT)[0]
        assert (rep["rows_loaded"], rep["rules"]["already_loaded"]) == (0, 4)
        from loyalist.store import EMAIL_CASE_KEY

        assert st.query("SELECT value FROM store_meta WHERE key = $k",
                        {"k": EMAIL_CASE_KEY}).value.tolist() == ["2"]  # two spellings


def test_a_new_store_is_marked_mended_and_an_existing_file_is_still_checked(
        tmp_path: Path) -> None:
    """A store a Store has just created holds no earlier version's data: it is marked as
    mended (as the migrations would mark it) without reading its tables; a DuckDB file that
    existed before is still checked, and another application's database refused."""
    import duckdb

    from loyalist.errors import StoreError
    from loyalist.store import EMAIL_CASE_KEY, SCORES_KEY

    with Store(tmp_path / "new.duckdb") as st:
        assert dict(st.con.execute("SELECT key, value FROM store_meta").fetchall()) == {
            EMAIL_CASE_KEY: "0", SCORES_KEY: "0"}
    with duckdb.connect(str(tmp_path / "other.duckdb")) as con:
        con.execute("CREATE TABLE invoices (id INTEGER)")
    with pytest.raises(StoreError, match="not a Loyalist store .it holds invoices"):
        Store(tmp_path / "other.duckdb")


@pytest.mark.parametrize("placeholder", ["walk-in", "Walk In Customer", "Walk-in customer",
                                         "CASH", "Cash Customer", "Cash Sale", "Guest", "0",
                                         "N/A", "-", "unknown",
                                         # as Latin American, German, French and Russian
                                         # tills write it (exploratory report 9)
                                         "Consumidor Final", "Público en General",
                                         "Laufkunde", "Client de passage",
                                         "Розничный покупатель"])
def test_walk_in_and_cash_placeholders_are_guests(tmp_path: Path, placeholder: str) -> None:
    """Tills write a sale without a customer as 'Walk-in customer' or 'Cash Sale' as well as
    'Guest' or 0 (or 'Consumidor Final', 'Розничный покупатель'): a guest line, not one
    customer buying for every walk-in; the report says so. A real customer whose name
    contains such a word stays a customer."""
    rows = [line(order="1", customer=placeholder), line(order="2", customer="Johnny Cash"),
            line(order="3", customer="c1")]
    st, rep = load(tmp_path, rows)
    got = st.query("SELECT customer_id, is_guest FROM transactions ORDER BY source_row")
    assert got.is_guest.tolist() == [True, False, False]
    assert rep["customers"] == 2 and rep["rules"]["guest"] == 1
    assert any(f"name their customer {placeholder.lower()!r}" in a for a in rep["assumptions"])


def test_a_repeated_column_name_is_said_with_the_one_used(tmp_path: Path) -> None:
    """A header naming 'price' twice (net and gross, say): the first is the unit price, and
    the report says the name repeats and which copy was read; a real column called 'price_1'
    beside 'price' is no repeat."""
    f = tmp_path / "dup.csv"
    f.write_text("order_id,date,customer_id,product_id,quantity,price,price\n"
                 "1,2024-01-02 10:00,c1,A,1,2.55,3.06\n2,2024-01-02 11:00,c2,B,2,1.25,1.50\n")
    st = Store(tmp_path / "s.duckdb")
    rep = ingest_files(st, [f], loaded_at=LOADED_AT)[0]
    assert rep["columns"]["unit_price"] == "price" and rep["revenue_loaded"] == 5.05
    assert ("the file has 2 columns named 'price' (read as 'price', 'price_1'): unit_price is "
            "read from the first, the other(s) unused; --map unit_price=price_1 reads the "
            "second instead") in rep["assumptions"]
    g = tmp_path / "g" / "real.csv"
    g.parent.mkdir()
    g.write_text("order_id,date,customer_id,product_id,quantity,price,price_1\n"
                 "1,2024-01-02 10:00,c1,A,1,2.55,3.06\n")
    rep = ingest_files(Store(g.parent / "s.duckdb"), [g], loaded_at=LOADED_AT)[0]
    assert not any("columns named" in a for a in rep["assumptions"])


def test_a_repeated_column_name_in_a_workbook_is_said(tmp_path: Path) -> None:
    """The same for Excel, where the reader renames the copy itself: a repeated 'price' below a
    report title is said (the header is read as written, from its own row), a real 'price_1'
    column is not."""
    import openpyxl

    def book(path: Path, header: list[str], title: bool) -> Path:
        wb = openpyxl.Workbook()
        ws = wb.active
        if title:
            ws.append(["Sales report, January 2024"])
            ws.append([])
        ws.append(header)
        ws.append(["1", "2024-01-02 10:00", "c1", "A", 1, 2.55, 3.06])
        ws.append(["2", "2024-01-02 11:00", "c2", "B", 2, 1.25, 1.50])
        wb.save(path)
        return path

    head = ["order_id", "date", "customer_id", "product_id", "quantity", "price"]
    for title in (False, True):
        f = book(tmp_path / f"dup{title}.xlsx", [*head, "price"], title)
        rep = ingest_files(Store(tmp_path / f"s{title}.duckdb"), [f], loaded_at=LOADED_AT)[0]
        assert rep["columns"]["unit_price"] == "price" and rep["revenue_loaded"] == 5.05
        assert ("the file has 2 columns named 'price' (read as 'price', 'price_1'): unit_price "
                "is read from the first, the other(s) unused; --map unit_price=price_1 reads "
                "the second instead") in rep["assumptions"]
    f = book(tmp_path / "real.xlsx", [*head, "price_1"], False)
    rep = ingest_files(Store(tmp_path / "r.duckdb"), [f], loaded_at=LOADED_AT)[0]
    assert not any("columns named" in a for a in rep["assumptions"])


def test_times_with_different_utc_offsets_are_said(tmp_path: Path) -> None:
    """ISO times with offsets (Z, +02:00, -05:00) keep the clock time they show, as Shopify's
    '-0500' and zoned Parquet times do; when the offsets differ between rows the times are not
    in one zone, and the report says they were not converted. One offset throughout: no note."""
    rows = [line(order=str(i), product=f"P{i}", when=f"2010-12-01T11:21:00{z}")
            for i, z in enumerate(["Z", "+02:00", "-05:00", "Z"])]
    f = write_csv(tmp_path / "tz.tsv", rows, sep="\t")
    st = Store(tmp_path / "s.duckdb")
    rep = ingest_files(st, [f], loaded_at=LOADED_AT)[0]
    assert st.query("SELECT DISTINCT ordered_at FROM transactions").ordered_at.tolist() == [
        pd.Timestamp("2010-12-01 11:21")]
    notes = [a for a in rep["assumptions"] if "UTC offsets" in a]
    assert notes == ["ordered_at ('ordered_at') gives times with 3 different UTC offsets "
                     "(+00:00 (2 rows), +02:00 (1 rows), -05:00 (1 rows)): each time is read "
                     "as the clock time it shows, its offset dropped, not converted to one "
                     "time zone; convert them to the shop's local time before loading if they "
                     "come from different zones"]
    same = [line(order=str(i), when=f"2024-01-0{i + 1} 10:00:00 -0500") for i in range(3)]
    (tmp_path / "g").mkdir()
    g = write_csv(tmp_path / "g" / "same.csv", same)
    rep = ingest_files(Store(tmp_path / "g" / "s.duckdb"), [g], loaded_at=LOADED_AT)[0]
    assert rep["rows_loaded"] == 3 and not any("UTC" in a for a in rep["assumptions"])


def test_reused_receipt_numbers_are_split_by_customer_and_day(tmp_path: Path) -> None:
    """A till's receipt counter restarts: receipt 5 is alice's on 1 January and again on
    1 February, and bob's in March. Those are three orders, not one; lines of one receipt a
    few minutes apart on one day stay one order. Loading the same lines again from another
    file finds them already loaded."""
    f = tmp_path / "receipts.csv"
    text = ("Receipt,Date,Customer,SKU,Qty,Price\n"
            "5,2023-01-01 10:00,alice,A,1,10\n5,2023-01-01 10:03,alice,B,1,5\n"
            "5,2023-02-01 11:00,alice,A,1,10\n7,2023-03-01 12:00,alice,C,2,4\n"
            "5,2023-03-05 09:00,bob,A,1,10\n7,2023-03-01 12:05,alice,C,-1,4\n")
    f.write_text(text)
    st = Store(tmp_path / "s.duckdb")
    rep = ingest_files(st, [f], loaded_at=LOADED_AT)[0]
    assert (rep["rows_loaded"], rep["orders"]) == (6, 4)
    got = st.query("SELECT order_id FROM transactions ORDER BY source_row").order_id.tolist()
    assert got == ["5", "5", "5#2023-02-01", "7", "5#2023-03-05", "7"]
    assert any(a.startswith("1 order id(s) are reused by different customers, days or stores")
               and "split into 3 orders" in a for a in rep["assumptions"])
    orders = st.query("SELECT cid, oid FROM customer_orders ORDER BY cid, oid")
    assert list(zip(orders.cid, orders.oid, strict=True)) == [
        ("alice", "5"), ("alice", "5#2023-02-01"), ("alice", "7"), ("bob", "5#2023-03-05")]
    g = tmp_path / "again.csv"
    g.write_text(text + "9,2023-04-01 10:00,bob,A,1,10\n")
    rep2 = ingest_files(st, [g], loaded_at=LOADED_AT)[0]
    assert (rep2["rows_loaded"], rep2["rules"]["already_loaded"]) == (1, 6)
    # the counter goes on reusing numbers in the next export: receipt 7 is alice's again in
    # June (a purchase, and a return two days later), receipt 9 carol's where it was bob's;
    # the orders of earlier loads keep their ids
    h = tmp_path / "june.csv"
    h.write_text("Receipt,Date,Customer,SKU,Qty,Price\n7,2023-06-01 10:00,alice,A,1,10\n"
                 "9,2023-06-02 10:00,carol,B,1,5\n7,2023-06-03 10:00,alice,C,-1,4\n")
    rep3 = ingest_files(st, [h], loaded_at=LOADED_AT)[0]
    assert rep3["rows_loaded"] == 3
    got = st.query("SELECT order_id, customer_id FROM transactions WHERE load_id = 3 "
                   "ORDER BY source_row")
    assert got.order_id.tolist() == ["7#2023-06-01", "9#2023-06-02", "7#2023-06-03"]
    assert any("split into 3 orders" in a and "2 of them name orders of earlier loads" in a
               for a in rep3["assumptions"]), rep3["assumptions"]
    orders = st.query("SELECT cid, oid FROM customer_orders WHERE cid IN ('alice', 'carol') "
                      "ORDER BY cid, oid")
    assert list(zip(orders.cid, orders.oid, strict=True)) == [
        ("alice", "5"), ("alice", "5#2023-02-01"), ("alice", "7"), ("alice", "7#2023-06-01"),
        ("alice", "7#2023-06-03"), ("carol", "9#2023-06-02")]


def test_a_line_dated_within_a_day_of_the_load_is_a_sale(tmp_path: Path) -> None:
    """The future-date rule leaves a day for time zones: a sale stamped the evening after the
    load (an export from a shop a few hours ahead) is loaded, and the report's last date is
    the last loaded line, not a quarantined 2099."""
    rows = [line(), line(order="1002", when="2026-01-01 20:00:00"),
            line(order="1003", when="2099-01-01 10:00:00")]
    _, rep = load(tmp_path, rows)
    assert rep["rows_loaded"] == 2 and rep["rules"]["future_date"] == 1
    assert str(rep["last_date"]).startswith("2026-01-01")


def test_an_unreadable_price_is_said_to_carry_no_known_value(tmp_path: Path) -> None:
    rows = [line(order="1", price=10), line(order="2", price="ten")]
    _, rep = load(tmp_path, rows)
    assert rep["rules"]["unparseable_price"] == 1
    # its value is unknown: no share of value (not 0%), and a sentence saying why
    assert "share_revenue" not in rep["rule_details"]["unparseable_price"]
    assert any("unparseable_price: 'unit_price' is empty or not a number (e.g. 'ten')" in a
               and "not in revenue_read" in a for a in rep["assumptions"])


@pytest.mark.parametrize("total", [
    {"customer_id": "Total", "order_id": "", "product_id": "", "ordered_at": ""},
    {"customer_id": "", "order_id": "TOTAL:", "product_id": "", "ordered_at": ""},
    {"customer_id": "Grand total", "order_id": "", "product_id": "", "ordered_at": ""},
    {"customer_id": "", "order_id": "Summe", "product_id": "", "ordered_at": ""},
    # exploratory report 11: Tally's register ends in 'Grand Total' in its date column (it was
    # quarantined as missing_order_id, or missing_product_id, and counted as an order)
    {"customer_id": "", "order_id": "", "product_id": "", "ordered_at": "Grand Total"},
    {"customer_id": "", "order_id": "", "product_id": "", "ordered_at": "Gesamtsumme:"},
])
def test_a_spreadsheet_totals_row_is_no_sale(tmp_path: Path, total: dict[str, str]) -> None:
    sales = [line(order=str(i), product=f"P{i}", customer=f"c{i % 3}", qty=2, price=10)
             for i in range(10)]
    # a customer called 'Total' on a real order line is a sale (the rule needs a missing id)
    sales.append(line(order="99", product="P99", customer="Total", qty=1, price=5))
    _, rep = load(tmp_path, [*sales, {**total, "quantity": 21, "unit_price": 205}])
    assert rep["rules"] == {**rep["rules"], "totals_row": 1}
    assert rep["rows_loaded"] == 11
    assert rep["revenue_read"] == rep["revenue_loaded"] == 205.0
    assert "share_revenue" not in rep["rule_details"]["totals_row"]
    assert (rep["customers"], rep["orders"], rep["products"]) == (4, 11, 11)


UNITS_HEADER = "order_id,customer_id,ordered_at,product_id,quantity,unit_price,amount\n"
UNITS_SALES = ("O1,C1,2024-03-01,P1,2,3.50,7.00\n"
               "O2,C2,2024-03-02,P2,1,4.00,4.00\n")


@pytest.mark.parametrize(("head", "units", "line_no"), [
    (UNITS_HEADER, ",,,,pcs,EUR,EUR\n", 2),
    (UNITS_HEADER, "(text),(text),(date),(text),(number),(currency),(currency)\n", 2),
    ("Sales by line 2024-03\n\n" + UNITS_HEADER, "[ID],,[YYYY-MM-DD],,Stück,€/kg,in EUR\n", 4),
])
def test_a_units_line_under_the_header_is_no_sale(tmp_path: Path, head: str, units: str,
                                                  line_no: int) -> None:
    """An export's second header line saying what the columns hold (units, currency codes,
    types) was quarantined as missing_order_id ('order id is empty') or unparseable_date:
    untrue. It is quarantined as a units line, named in the notes, and every row is still
    loaded or quarantined."""
    f = tmp_path / "units.csv"
    f.write_text(head + units + UNITS_SALES, encoding="utf-8")
    st = Store(tmp_path / "s.duckdb")
    rep = ingest_files(st, [f], loaded_at=LOADED_AT)[0]
    assert {k: v for k, v in rep["rules"].items() if v} == {"units_line": 1}
    assert (rep["rows_read"], rep["rows_loaded"], rep["rows_quarantined"]) == (3, 2, 1)
    assert rep["revenue_read"] == rep["revenue_loaded"] == 11.0
    assert rep["orders"] == 2
    assert any(a.startswith(f"line {line_no}, directly under the column names, says what the "
                            "columns hold (") for a in rep["assumptions"])
    ((row, rule, reason),) = st.con.execute(
        "SELECT source_row, rule, reason FROM quarantine").fetchall()
    assert (row, rule) == (1, "units_line")
    assert reason.startswith("a units line under the header: ")


def test_a_units_row_under_a_sheets_header_is_no_sale(tmp_path: Path) -> None:
    """The same in a workbook: its row under the column names ('pcs', 'EUR') is a units
    line, not a sale with an empty order id."""
    rows = [r.split(",") for r in (UNITS_HEADER + ",,,,pcs,EUR,EUR\n" + UNITS_SALES).split()]
    f = tmp_path / "units.xlsx"
    pd.DataFrame(rows[1:], columns=rows[0]).replace("", None).to_excel(f, index=False)
    st = Store(tmp_path / "s.duckdb")
    rep = ingest_files(st, [f], loaded_at=LOADED_AT)[0]
    assert {k: v for k, v in rep["rules"].items() if v} == {"units_line": 1}
    assert (rep["rows_read"], rep["rows_loaded"], rep["revenue_loaded"]) == (3, 2, 11.0)
    assert any(a.startswith("the row of sheet 'Sheet1', directly under the column names, says "
                            "what the columns hold ('pcs', 'EUR', 'EUR')")
               for a in rep["assumptions"])


def _sales_and_customers_book(path: Path, sales_units: list[str] | None,
                              customer_units: list[str] | None) -> Path:
    """A workbook with a 'Sales' sheet and a 'Customers' sheet beside it, each with the given
    units row under its column names (None: none)."""
    from openpyxl import Workbook

    book = Workbook()
    sales = book.active
    sales.title = "Sales"
    for row in [UNITS_HEADER.split(","), sales_units, *(r.split(",") for r in UNITS_SALES.split())]:
        if row is not None:
            sales.append([c.strip() or None for c in row])
    customers = book.create_sheet("Customers")
    for row in [["customer_id", "birth_date", "signup_at", "region"], customer_units,
                ["C1", "1980-02-01", "2022-04-03", "North"],
                ["C2", "1990-06-05", "2023-08-07", "South"]]:
        if row is not None:
            customers.append(row)
    book.save(path)
    return path


@pytest.mark.parametrize("sales_units", [None, ["", "", "", "", "pcs", "EUR", "EUR"]])
def test_a_units_row_in_a_second_sheet_group(tmp_path: Path,
                                              sales_units: list[str] | None) -> None:
    """A 'Customers' sheet beside 'Sales' with its own units row ('(text)', '(date)') under
    its column names: that row is a units line of the customers' table too (it was read as a
    customer), named with its sheet, and each table's rows add up, whether or not the sales
    sheet has a units row of its own."""
    f = _sales_and_customers_book(tmp_path / "book.xlsx", sales_units,
                                  ["(text)", "(date)", "(date)", "(text)"])
    st = Store(tmp_path / "s.duckdb")
    sales, customers = ingest_files(st, [f], loaded_at=LOADED_AT)
    assert (customers["file"], customers["table"]) == (f"{f} [Customers]", "customers")
    assert customers["rules"] == {"units_line": 1}
    assert (customers["rows_read"], customers["rows_loaded"], customers["rows_quarantined"]
            ) == (3, 2, 1)
    assert any(a.startswith("the row of sheet 'Customers', directly under the column names, "
                            "says what the columns hold ('(text)', '(date)', '(date)', '(text)')")
               for a in customers["assumptions"])
    assert not any("'Customers', directly under" in a for a in sales["assumptions"])
    has_units = sales_units is not None
    assert {k: v for k, v in sales["rules"].items() if v} == (
        {"units_line": 1} if has_units else {})
    assert (sales["rows_read"], sales["rows_loaded"], sales["rows_quarantined"]) == (
        2 + has_units, 2, int(has_units))
    assert st.query("SELECT customer_id FROM customers ORDER BY 1").customer_id.tolist() == [
        "C1", "C2"]
    assert sorted(st.con.execute("SELECT tbl, source_row, rule FROM quarantine").fetchall()
                  ) == [("customers", 1, "units_line"),
                        *([("transactions", 1, "units_line")] if has_units else [])]


def test_a_second_sheet_groups_first_row_of_data_is_no_units_line(tmp_path: Path) -> None:
    """A 'Customers' sheet whose first row is a customer: nothing is quarantined."""
    f = _sales_and_customers_book(tmp_path / "book.xlsx", None, None)
    st = Store(tmp_path / "s.duckdb")
    _, customers = ingest_files(st, [f], loaded_at=LOADED_AT)
    assert (customers["rows_read"], customers["rows_loaded"], customers["rules"]) == (2, 2, {})
    assert not any("units line" in a for a in customers["assumptions"])


def test_a_first_row_without_order_id_is_still_data(tmp_path: Path) -> None:
    """A first data row that merely lacks its order id (its other cells are values) is no
    units line: it keeps the true reason, 'order id is empty'."""
    f = tmp_path / "sales.csv"
    f.write_text(UNITS_HEADER + ",C9,2024-03-01,P9,1,2.00,2.00\n" + UNITS_SALES,
                 encoding="utf-8")
    st = Store(tmp_path / "s.duckdb")
    rep = ingest_files(st, [f], loaded_at=LOADED_AT)[0]
    assert {k: v for k, v in rep["rules"].items() if v} == {"missing_order_id": 1}
    assert not any("units line" in a for a in rep["assumptions"])
    assert st.con.execute("SELECT source_row, rule, reason FROM quarantine").fetchall() == [
        (1, "missing_order_id", "order id is empty")]


def test_a_units_line_in_a_customer_list(tmp_path: Path) -> None:
    """A side table's units line is quarantined as one too, not as a missing customer id."""
    f = tmp_path / "customers.csv"
    f.write_text("customer_id,birth_date,signup_at,region\n(text),(date),(date),(text)\n"
                 "C1,1980-02-01,2022-04-03,North\nC2,1990-06-05,2023-08-07,South\n",
                 encoding="utf-8")
    st = Store(tmp_path / "s.duckdb")
    rep = ingest_files(st, [f], loaded_at=LOADED_AT, table="customers")[0]
    assert rep["rules"] == {"units_line": 1}
    assert (rep["rows_read"], rep["rows_loaded"]) == (3, 2)
    assert st.con.execute("SELECT rule FROM quarantine").fetchall() == [("units_line",)]


def test_a_catalog_row_the_plan_would_refuse_is_quarantined(tmp_path: Path) -> None:
    from loyalist.promote.catalog import normalise_catalog

    st = Store(tmp_path / "s.duckdb")
    f = write_csv(tmp_path / "cat.csv", [
        {"name": "pct10", "kind": "percent", "value": 10, "contact_cost": 0.1},
        {"name": "weird", "kind": "mystery_offer", "value": 10, "contact_cost": 0.1},
        {"name": "neg", "kind": "fixed_voucher", "value": -5, "contact_cost": 0.1},
        {"name": "typo", "kind": "fixed_voucher", "value": "ten", "contact_cost": 0.1}])
    rep = ingest_files(st, [f], table="promotion_catalog", loaded_at=LOADED_AT)[0]
    assert (rep["rows_loaded"], rep["rules"]) == (1, {"invalid_promotion": 3})
    assert quarantined(st) == {2: "invalid_promotion", 3: "invalid_promotion",
                               4: "invalid_promotion"}
    # the reasons are the rule's, not assumptions of the load (explore7 I12)
    assert not [a for a in rep["assumptions"] if "quarantined" in a or "weird" in a]
    d = rep["rule_details"]["invalid_promotion"]
    assert (d["rows"], d["share_rows"], d["action"]) == (3, 0.75, "quarantine")
    said = d["reason"]
    assert "cat.csv: promotion 'weird' has kind 'mystery_offer'; use one of" in said
    assert "promotion 'typo' has value 'ten', not a number" in said
    # the store keeps a catalog the plan accepts
    stored = st.table("promotion_catalog").drop(columns=["load_id"])
    assert normalise_catalog(stored, source="store")["name"].tolist() == ["pct10"]


def test_a_catalog_percent_above_100_is_quarantined(tmp_path: Path) -> None:
    # the plan's check (promote.catalog.normalise_catalog: percent kinds at most 100)
    st = Store(tmp_path / "s.duckdb")
    f = write_csv(tmp_path / "pct150.csv", [
        {"name": "free_money", "kind": "percent_discount", "value": 150, "contact_cost": 0.1}])
    rep = ingest_files(st, [f], table="promotion_catalog", loaded_at=LOADED_AT)[0]
    assert rep["rules"] == {"invalid_promotion": 1}
    assert "promotion 'free_money' has value 150" in (
        rep["rule_details"]["invalid_promotion"]["reason"])
    assert st.count("promotion_catalog") == 0


def test_a_corrected_re_export_is_said_to_add_beside_the_stored_lines(tmp_path: Path) -> None:
    """Exploratory report 4b, D1: a re-export correcting a quantity loaded the corrected line
    beside the stored one (store revenue 36 where the export totals 29) with no word; the
    store keeps every load, so the report now says how many lines that concerns."""
    st, first = load(tmp_path, [line("A1", "P1", 1, 5), line("A1", "P2", 2, 3),
                                line("A2", "P1", 1, 5, "c2")], name="jan.csv")
    assert not [a for a in first["assumptions"] if "re-export" in a]
    again = write_csv(tmp_path / "again.csv", [line("A1", "P1", 1, 5), line("A1", "P2", 2, 3),
                                               line("B1", "P1", 1, 5, when="2024-02-01")])
    rep = ingest_files(st, [again], loaded_at=LOADED_AT)[0]
    assert rep["rules"]["already_loaded"] == 2
    assert not [a for a in rep["assumptions"] if "re-export" in a or "stay in the store" in a]
    fixed = write_csv(tmp_path / "fixed.csv", [line("A1", "P1", 2, 5), line("A2", "P1", 1, 5,
                                                                            "c2")])
    rep = ingest_files(st, [fixed], loaded_at=LOADED_AT)[0]
    assert rep["rows_loaded"] == 1 and rep["rules"]["already_loaded"] == 1
    said = " | ".join(rep["assumptions"])
    assert ("1 line(s) repeat an order and product already in the store with another "
            "quantity, price, date or customer (a corrected re-export?)") in said
    assert ("1 stored line(s) of orders this file repeats have a product the file does not "
            "list for that order") in said  # A1's P2
    assert ("to replace the earlier export (load(s) 1) with this corrected one, run "
            "`loyalist unload 3 2 1`, then load this file again, and the files of load(s) 2"
            ) in said
    assert st.con.execute("SELECT sum(quantity) FROM transactions WHERE order_id = 'A1' AND "
                          "product_id = 'P1'").fetchone()[0] == 3  # both lines, as said


def test_three_decimal_quantities_with_a_decimal_comma(tmp_path: Path) -> None:
    """Exploratory report 5a, E1: a German till writes quantities with three decimals, 1,000
    pieces and 0,350 kg; they were read as thousands (revenue 1000x) because 1,000 reads
    either way. 0,350 is never a thousands group, and the file's prices (2,80) decide the
    rest."""
    for name, qty, want in (("all_groups.csv", ["1,000", "1,250", "2,000"], [1.0, 1.25, 2.0]),
                            ("with_zero.csv", ["1,000", "0,350", "2,000"], [1.0, 0.35, 2.0]),
                            ("mixed.csv", ["1", "0,350", "2"], [1.0, 0.35, 2.0])):
        f = tmp_path / name
        f.write_text("Bon-Nr;Datum;Kundenkarte;Artikelnr;Menge;Einzelpreis\n" + "".join(
            f"{i};0{i}.03.2024;000471{i};A{i};{q};2,80\n" for i, q in enumerate(qty, 1)),
            encoding="utf-8")
        st = Store(tmp_path / f"{name}.duckdb")
        ingest_files(st, [f], loaded_at=LOADED_AT)
        got = st.query("SELECT quantity FROM transactions ORDER BY source_row").quantity
        assert got.tolist() == want, name
    # a file with a decimal point keeps 1,000 as a thousand
    f = write_csv(tmp_path / "us.csv", [line("1", "A", "1,000", "2.80"),
                                        line("2", "B", "2,500", "1.25")])
    st = Store(tmp_path / "us.duckdb")
    ingest_files(st, [f], loaded_at=LOADED_AT)
    assert st.query("SELECT quantity FROM transactions ORDER BY source_row"
                    ).quantity.tolist() == [1000.0, 2500.0]


def test_a_receipt_number_of_another_store_or_day_gives_no_customer(tmp_path: Path) -> None:
    """Exploratory report 5a, E2: a till's receipt number restarts each day and runs per store;
    the lines of a receipt without a loyalty card took a card holder's id from a receipt of
    the same number in another store or on another day (13,802 guest lines became customer
    purchases), and receipts of two stores merged into one order."""
    f = tmp_path / "pos.csv"
    f.write_text("Store,Receipt,Date,Card,SKU,Qty,Price\n"
                 "North,1,2024-03-01 09:00,0004711,A,1,2.5\n"
                 "North,1,2024-03-01 09:00,0004711,B,1,1.5\n"
                 "South,1,2024-03-01 09:10,,A,1,2.5\n"      # another store: a guest
                 "North,1,2024-03-02 09:00,,C,2,1.0\n"      # another day: a guest
                 "South,2,2024-03-01 11:00,0000815,A,1,2.5\n"
                 "South,2,2024-03-01 11:00,,B,1,1.5\n")     # the same receipt: card filled
    st = Store(tmp_path / "s.duckdb")
    rep = ingest_files(st, [f], loaded_at=LOADED_AT)[0]
    got = st.query("SELECT customer_id, order_id FROM transactions ORDER BY source_row")
    assert got.customer_id.tolist() == ["0004711", "0004711", None, None, "0000815", "0000815"]
    assert rep["orders"] == 4  # North 1 on two days, South 1, South 2
    assert got.order_id.nunique() == 4
    assert any("1 line(s) with an empty customer_id" in a for a in rep["assumptions"])


def test_dates_that_read_both_ways_follow_the_shops_other_files(tmp_path: Path) -> None:
    """Exploratory report 5a, E3: a UK shop's end-of-day files of 1-12 March read month first
    (02/03/2024 as 3 February) while the 13th's read day first, in one load, with no word. The
    files of one load, and after them the store, decide; a file alone says how it was read."""
    folder = tmp_path / "eod"
    folder.mkdir()
    for day in (2, 12, 13):
        (folder / f"eod_202403{day:02d}.csv").write_text(
            "Date,Receipt No,Customer,Item,Qty,Unit Price\n"
            f"{day:02d}/03/2024,1,c{day},Tea,1,2.50\n")
    st = Store(tmp_path / "s.duckdb")
    reps = ingest_files(st, [folder], loaded_at=LOADED_AT)
    got = st.query("SELECT CAST(ordered_at AS DATE) AS d FROM transactions ORDER BY d").d
    assert [str(d)[:10] for d in got] == ["2024-03-02", "2024-03-12", "2024-03-13"]
    said = [a for r in reps for a in r["assumptions"] if "reads both ways" in a]
    assert len(said) == 2 and "read day first, as the other files of this load show" in said[0]
    # a later file of the first days of April: the store's earlier loads decide
    april = tmp_path / "eod_20240405.csv"
    april.write_text("Date,Receipt No,Customer,Item,Qty,Unit Price\n05/04/2024,1,c1,Tea,1,2.5\n")
    rep = ingest_files(st, [april], loaded_at=LOADED_AT)[0]
    assert str(st.query("SELECT max(ordered_at) AS m FROM transactions").m[0].date()) == \
        "2024-04-05"
    assert any("as the store's earlier loads show" in a for a in rep["assumptions"])
    # alone, in a new store: month first, and said so
    st2 = Store(tmp_path / "t.duckdb")
    rep = ingest_files(st2, [april], loaded_at=LOADED_AT)[0]
    assert str(st2.query("SELECT max(ordered_at) AS m FROM transactions").m[0].date()) == \
        "2024-05-04"
    assert any("read month first (US)" in a for a in rep["assumptions"])


def test_web_shop_lines_that_are_not_products_or_not_sales(tmp_path: Path) -> None:
    """Exploratory report 5a, E5-E7, E12: a Square line with no SKU ("Custom Amount") was
    quarantined with a quarter of the revenue; a "Discount code" line at a negative price was
    quarantined, so revenue loaded exceeded the file's own total; tips and gift card sales
    loaded as products; an unpaid ("Pending payment") order counted as a sale."""
    f = write_csv(tmp_path / "shop.csv", [
        line("1", "TEA", 1, 4.0, description="Green tea", status="Completed"),
        line("1", None, 1, 7.5, description="Custom Amount", status="Completed"),
        line("1", "DISC", 1, -1.15, description="Discount code SUMMER10", status="Completed"),
        line("2", "TIP", 1, 2.0, description="Tip", status="Processing"),
        line("2", "GC-50", 1, 50.0, description="Gift Card 50", status="Processing"),
        line("2", "TEA", 2, 4.0, description="Green tea", status="Processing"),
        line("3", "TEA", 1, 4.0, description="Green tea", status="Pending payment"),
        line("4", "TEA", 1, 4.0, description="Green tea", status="wc-pending"),
        line("5", "TEA", 1, 4.0, description="Green tea", status="authorized"),
        line("6", "ADJ", 1, -30.0, description="Adjust bad debt", status="Completed")])
    st = Store(tmp_path / "s.duckdb")
    rep = ingest_files(st, [f], loaded_at=LOADED_AT)[0]
    assert rep["rules"]["cancelled_order"] == 2 and rep["rules"]["non_positive_price"] == 1
    got = st.query("SELECT order_id, product_id, line_kind, amount FROM transactions "
                   "ORDER BY source_row")
    assert got.product_id.tolist() == ["TEA", "Custom Amount", "DISC", "TIP", "GC-50", "TEA",
                                       "TEA"]
    assert got.line_kind.tolist() == ["sale", "sale", "non_product", "non_product",
                                      "non_product", "sale", "sale"]
    assert got.amount.sum() == pytest.approx(4 + 7.5 - 1.15 + 2 + 50 + 8 + 4)
    assert any("1 line(s) with an empty product id ('product_id') are the product their "
               "description ('description') names" in a for a in rep["assumptions"])


def test_prices_named_with_or_without_tax_are_found(tmp_path: Path) -> None:
    """Exploratory report 5a, E9: 'Einzelpreis brutto' (a German till's price with VAT) was
    not recognised, and the error guessed the file was order headers."""
    f = tmp_path / "kasse.csv"
    f.write_text("Bon-Nr;Datum;Kundenkarte;Artikelnr;Menge;Einzelpreis netto;Einzelpreis brutto\n"
                 "1;01.03.2024;0004711;A1;2;2,35;2,80\n", encoding="utf-8")
    st = Store(tmp_path / "s.duckdb")
    rep = ingest_files(st, [f], loaded_at=LOADED_AT)[0]
    assert st.query("SELECT amount FROM transactions").amount.tolist() == [5.6]
    assert any("unit_price read from column 'Einzelpreis brutto'" in a
               for a in rep["assumptions"])
    g = tmp_path / "ventes.csv"
    g.write_text("commande;date;client;article;quantite;prix HT\n7;2024-03-01;c1;B2;1;9,90\n",
                 encoding="utf-8")
    rep = ingest_files(st, [g], loaded_at=LOADED_AT)[0]
    assert rep["rows_loaded"] == 1


def test_a_web_page_or_an_empty_sheet_is_named_as_such(tmp_path: Path) -> None:
    """Exploratory report 5a, E11: a login page saved as export.csv was reported as a header of
    HTML fragments with no data rows, and an empty workbook as corrupt."""
    import openpyxl

    page = tmp_path / "export.csv"
    page.write_text("<!DOCTYPE html>\n<html><head><title>Login - MyShop Admin</title></head>\n"
                    "<body><form>user, password</form></body></html>\n")
    book = tmp_path / "empty.xlsx"
    wb = openpyxl.Workbook()
    wb.active.title = "Sales"
    wb.save(book)
    st = Store(tmp_path / "s.duckdb")
    with pytest.raises(DataError, match=r"export.csv: is a web page \(HTML\), not a data "
                                        r"export: .* export the file again"):
        ingest_files(st, [page], loaded_at=LOADED_AT)
    with pytest.raises(DataError, match=r"empty.xlsx: every sheet is empty"):
        ingest_files(st, [book], loaded_at=LOADED_AT)
    assert st.count("loads") == 0


def test_utc_times_and_spreadsheet_serial_days_are_said(tmp_path: Path) -> None:
    """Exploratory report 5a, E12: times ending in Z (UTC) put late orders of a Berlin shop on
    the previous day with no word, and serial day numbers loaded with none either."""
    z = write_csv(tmp_path / "z.csv", [line("1", when="2024-03-31T22:15:00Z"),
                                       line("2", when="2024-04-01T08:00:00Z")])
    serial = write_csv(tmp_path / "serial.csv", [line("3", when=45382.5),
                                                 line("4", when=45383.25)])
    st = Store(tmp_path / "s.duckdb")
    rz, rs = ingest_files(st, [z, serial], loaded_at=LOADED_AT)
    assert any("gives its times in UTC" in a for a in rz["assumptions"])
    assert any("holds spreadsheet serial day numbers" in a for a in rs["assumptions"])
    got = st.query("SELECT order_id, ordered_at FROM transactions ORDER BY order_id")
    assert [str(x) for x in got.ordered_at] == ["2024-03-31 22:15:00", "2024-04-01 08:00:00",
                                                "2024-03-31 12:00:00", "2024-04-01 06:00:00"]


def test_order_level_discounts_and_refunds_are_said_with_their_amount(tmp_path: Path) -> None:
    """Exploratory report 5a, E7: a Shopify export's 'Discount Amount' and 'Refunded Amount'
    (on an order's first line) were ignored without a word, so revenue was 2.4% above the
    shop's net; a wholly refunded order's lines are quarantined and do not count."""
    f = write_csv(tmp_path / "orders_export.csv", [
        line("#1", "A", 1, 20.0, **{"Discount Amount": 2.0, "Refunded Amount": 0.0,
                                    "Financial Status": "paid"}),
        line("#1", "B", 1, 10.0, **{"Discount Amount": None, "Refunded Amount": None,
                                    "Financial Status": None}),
        line("#2", "A", 1, 20.0, **{"Discount Amount": 0.0, "Refunded Amount": 5.0,
                                    "Financial Status": "partially_refunded"}),
        line("#3", "A", 1, 20.0, **{"Discount Amount": 1.0, "Refunded Amount": 20.0,
                                    "Financial Status": "refunded"})])
    st = Store(tmp_path / "s.duckdb")
    rep = ingest_files(st, [f], loaded_at=LOADED_AT)[0]
    said = " | ".join(rep["assumptions"])
    assert "'Discount Amount' holds order-level discounts (2.00 in all)" in said
    assert "'Refunded Amount' holds order-level refunds (5.00 in all)" in said
    assert rep["rows_loaded"] == 3


def test_an_order_discount_that_holds_the_lines_discounts_is_not_said_twice(
        tmp_path: Path) -> None:
    """Shopify's 'Discount Amount' (the order's first line) is the order's whole discount,
    its lines' 'Lineitem discount' included, which are taken off the lines: the note said
    all of it was left on revenue."""
    f = tmp_path / "orders_export.csv"
    f.write_text("Name,Email,Created at,Lineitem sku,Lineitem quantity,Lineitem price,"
                 "Lineitem discount,Discount Amount\n"
                 "#1,a@x.io,2024-03-01 10:00,M1,2,8.00,3.00,5.00\n"
                 "#1,a@x.io,2024-03-01 10:00,M2,1,4.00,,\n"
                 "#2,b@x.io,2024-03-02 10:00,T1,1,5.00,1.00,1.00\n", encoding="utf-8")
    rep = ingest_files(Store(tmp_path / "s.duckdb"), [f], loaded_at=LOADED_AT)[0]
    assert rep["revenue_loaded"] == pytest.approx(16.0 + 4.0 + 5.0 - 4.0)
    said = " | ".join(rep["assumptions"])
    assert ("'Discount Amount' holds order-level discounts (6.00 in all); the lines' own "
            "discounts ('Lineitem discount', 4.00) were taken off the lines, and an order's "
            "total may include them, so between 2.00 and 6.00 is not taken off") in said
    assert "that are not taken off the lines" not in said


def test_column_names_decide_slash_dates_the_data_leaves_open(tmp_path: Path) -> None:
    """A German file whose dates all read both ways is read day first (its column names), and
    not said to be read month first."""
    f = tmp_path / "umsatz.csv"
    f.write_text("Bon;Datum;Kunde;Artikel;Menge;Einzelpreis\n1;02/03/2024;k1;A;1;2,50\n",
                 encoding="utf-8")
    st = Store(tmp_path / "s.duckdb")
    rep = ingest_files(st, [f], loaded_at=LOADED_AT)[0]
    assert str(st.query("SELECT ordered_at FROM transactions").ordered_at[0].date()) == \
        "2024-03-02"
    assert not any("read month first" in a for a in rep["assumptions"])


def test_customer_zero_among_numbered_ids_is_a_customer(tmp_path: Path) -> None:
    """Ids counted from 0 (Retail Rocket's visitors): '0' with no more orders than another
    customer is a customer, and the report says why. Where '0' has more orders than any
    customer, or the ids do not count from 0 (no id 1), it is every guest's checkout
    (WooCommerce's user 0; see the WooCommerce tests): guest lines, as before."""
    rows = [line(order=f"o{i}", customer=c) for i, c in enumerate(["0", "0", "1", "1", "1", "7"])]
    st, rep = load(tmp_path, rows)
    got = st.query("SELECT customer_id, is_guest FROM transactions ORDER BY source_row")
    assert got.customer_id.tolist() == ["0", "0", "1", "1", "1", "7"]
    assert not got.is_guest.any() and rep["customers"] == 3
    assert any(a.startswith("the customer id '0' in 'customer_id' is a customer")
               and "'0' has 2 order(s) where another id has 3" in a for a in rep["assumptions"])
    rows = [line(order=f"o{i}", customer=c) for i, c in enumerate(["0", "0", "0", "1", "7"])]
    (tmp_path / "guest").mkdir()
    st, rep = load(tmp_path / "guest", rows)
    assert st.query("SELECT count(*) AS n FROM transactions WHERE is_guest").n[0] == 3
    assert any("name their customer '0'" in a for a in rep["assumptions"])


def test_unpaid_statuses_and_non_product_lines_in_other_languages(tmp_path: Path) -> None:
    """Exploratory report 11: SumUp's 'Fehlgeschlagen', Zoho's 'Draft', PrestaShop's 'Erreur
    de paiement' and the like loaded as sales; a German shop's 'Versandkosten DHL Paket' line
    loaded as a product (the first recommendation for every customer), its 'Gutschein
    SOMMER10' at a negative price was quarantined where 'Discount code SUMMER10' is kept."""
    unpaid = ["Fehlgeschlagen", "Zahlung ausstehend", "Retoure", "Erreur de paiement",
              "Paiement refusé", "En attente du paiement par chèque", "Pago fallido",
              "Pendiente de pago", "Aguardando pagamento", "Reso", "In attesa di pagamento",
              "Wacht op betaling", "Betaling mislukt", "Oczekuje na płatność",
              "Płatność nieudana", "Draft", "wc-on-hold"]
    paid = ["Bezahlt", "Payé", "Resolved", "Pending", "Processing", "Partially refunded"]
    rows = [line(str(i), "TEA", 1, 4.0, description="Green tea", status=w)
            for i, w in enumerate(unpaid + paid)]
    n = len(rows)
    rows += [
        line("k1", "TEA", 2, 4.0, description="Tee grün", status="Bezahlt"),
        line("k1", None, 1, 4.9, description="Versandkosten DHL Paket", status="Bezahlt"),
        line("k1", None, 1, -0.8, description="Gutschein SOMMER10", status="Bezahlt"),
        line("k1", None, 1, 0.25, description="Pfand", status="Bezahlt"),
        line("k1", None, 1, 1.0, description="Trinkgeld", status="Bezahlt"),
        line("k1", None, 1, 3.0, description="Frais de port", status="Bezahlt"),
        line("k1", None, 1, 20.0, description="Porto Tawny 10 Jahre", status="Bezahlt")]
    f = write_csv(tmp_path / "shop.csv", rows)
    st = Store(tmp_path / "s.duckdb")
    rep = ingest_files(st, [f], loaded_at=LOADED_AT)[0]
    assert rep["rules"]["cancelled_order"] == len(unpaid)
    assert rep["rows_loaded"] == n - len(unpaid) + 7
    # orders among the rows read (cancelled ones too), and those loaded
    assert (rep["orders"], rep["orders_loaded"]) == (n + 1, len(paid) + 1)
    got = st.query("SELECT description, line_kind FROM transactions WHERE order_id = 'k1' "
                   "ORDER BY source_row")
    assert got.line_kind.tolist() == ["sale", "non_product", "non_product", "non_product",
                                      "non_product", "non_product", "sale"]


@pytest.mark.parametrize(("column", "state", "cancelled"), [
    ("Order Payment State", "Open", True), ("Financial Status", "open", True),
    ("Payment Status", "OPEN", True), ("Order Payment State", "Paid", False),
    ("Order Payment State", "Partially Refunded", False),
    # an order (fulfilment) status: an open order is a paid one not yet shipped or closed
    ("Status", "Open", False), ("Order Status", "open", False)])
def test_an_open_payment_is_unpaid_an_open_order_is_not(tmp_path: Path, column: str,
                                                        state: str, cancelled: bool) -> None:
    """Exploratory report 11: Clover's orders whose 'Order Payment State' is 'Open' (unpaid
    tabs) loaded as sales (1,124.75 too much); 'Open' in an order status is a sale."""
    rows = [line("1", **{column: state}), line("2", product="B", **{column: "Paid"})]
    f = write_csv(tmp_path / "s.csv", rows)
    rep = ingest_files(Store(tmp_path / "s.duckdb"), [f], loaded_at=LOADED_AT)[0]
    assert rep["rules"].get("cancelled_order", 0) == int(cancelled)
    assert rep["rows_loaded"] == 2 - int(cancelled)


@pytest.mark.parametrize(("status", "cancelled"), [
    ("İptal Edildi", True), ("İade", True), ("Teslim Edildi", False), ("Zrušeno", True),
    ("Vyřízeno", False), ("Отменен", True), ("Ακυρώθηκε", True), ("キャンセル", True),
    ("已取消", True), ("취소완료", True), ("반품완료", True), ("입금전", True),
    ("배송완료", False)])
def test_cancelled_statuses_in_other_scripts(tmp_path: Path, status: str,
                                            cancelled: bool) -> None:
    """Exploratory report 11: a Turkish shop's 'İptal Edildi' and a Korean one's '취소완료',
    '반품완료' and '입금전' (not paid yet) loaded as sales (Korean: 254.6M for 214.2M)."""
    f = write_csv(tmp_path / "s.csv", [line("1", status=status), line("2", status="x")])
    rep = ingest_files(Store(tmp_path / "s.duckdb"), [f], loaded_at=LOADED_AT)[0]
    assert rep["rules"].get("cancelled_order", 0) == int(cancelled)


@pytest.mark.parametrize(("text", "kind"), [
    ("<html><body><table><tr><td>Receipt</td><td>Date</td></tr></table></body></html>",
     "a web page's table (HTML)"),
    ('<?xml version="1.0"?>\n<?mso-application progid="Excel.Sheet"?>\n<Workbook xmlns='
     '"urn:schemas-microsoft-com:office:spreadsheet"><Worksheet ss:Name="Sales"><Table/>'
     "</Worksheet></Workbook>", "an Excel 2003 XML spreadsheet (SpreadsheetML)")])
def test_an_xls_that_is_a_web_table_or_2003_xml_is_named(tmp_path: Path, text: str,
                                                        kind: str) -> None:
    """Exploratory report 11: 'Export to Excel' of many tills writes an HTML table or Excel
    2003 XML named .xls; it was called corrupt, with calamine's OLE error in the message."""
    f = tmp_path / "sales_export.xls"
    f.write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match=re.escape(f"this is {kind}, not an Excel workbook, "
                                                  "though its name ends in .xls")) as e:
        ingest_files(Store(tmp_path / "s.duckdb"), [f], loaded_at=LOADED_AT)
    assert "calamine" not in str(e.value) and "OLE" not in str(e.value)


def test_csv_files_load_at_once_in_two_threads(tmp_path: Path) -> None:
    """Each CSV's rows are counted on a cursor of one in-memory database kept for the
    process (a new database per file cost ~12 ms): two loads at once in two threads (the
    API serving two uploads) each count their own file, and one whose values hold line
    breaks inside quotes (read in one thread) still loads."""
    from concurrent.futures import ThreadPoolExecutor

    files = [write_csv(tmp_path / f"f{k}.csv",
                       [line(order=f"{k}-{i}", product=f"P{i}", description=f"a\nb {i}")
                        for i in range(3 + 4 * k)]) for k in range(4)]

    def load(k: int, where: str = "thread") -> tuple[int, int]:
        with Store(tmp_path / f"{where}{k}.duckdb") as st:
            rep = ingest_files(st, [files[k]], loaded_at=LOADED_AT)[0]
            return int(rep["rows_read"]), int(rep["rows_loaded"])

    with ThreadPoolExecutor(2) as pool:
        at_once = list(pool.map(load, range(4)))
    assert at_once == [load(k, "one_by_one") for k in range(4)]
    assert [n for n, _ in at_once] == [3, 7, 11, 15] and all(m > 0 for _, m in at_once)
