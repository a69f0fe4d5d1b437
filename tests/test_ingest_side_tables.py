"""A downloaded data set's folder (Olist, dunnhumby, H&M): its side tables that are no sales
lines are left out with a note, customer and product lists are recognised by the keys the
sales reader finds; sales without any customer column load as guest lines; an event log's
views and cart events are no purchases."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import LOADED_AT, write_csv

from loyalist.errors import DataError
from loyalist.ingest import ingest_files
from loyalist.store import Store


def _ingest(tmp_path: Path, files: list[Path], **kw: object) -> tuple[Store, list[dict]]:
    st = Store(tmp_path / "s.duckdb")
    return st, ingest_files(st, files, loaded_at=LOADED_AT, **kw)  # type: ignore[arg-type]


def _panel(folder: Path) -> dict[str, Path]:
    """A household panel's folder (the dunnhumby layout, dates as day numbers) with an
    H&M-like article list and Olist-like payments beside the sales."""
    folder.mkdir()
    return {
        "sales": write_csv(folder / "transaction_data.csv", [
            {"household_key": h, "BASKET_ID": 100 + i, "DAY": 1 + i, "PRODUCT_ID": p,
             "QUANTITY": 1, "SALES_VALUE": 2.5}
            for i, (h, p) in enumerate([(1, "a1"), (1, "a2"), (2, "a1")])]),
        "demographics": write_csv(folder / "hh_demographic.csv", [
            {"AGE_DESC": "45-54", "MARITAL_STATUS_CODE": "A", "INCOME_DESC": "35-49K",
             "household_key": h} for h in (1, 2)]),
        "articles": write_csv(folder / "articles.csv", [
            {"article_id": p, "prod_name": n, "product_type_name": "Trousers",
             "perceived_colour_value_name": "Dark", "detail_desc": "cotton"}
            for p, n in (("a1", "Strap top"), ("a2", "Jeans"))]),
        "campaigns": write_csv(folder / "campaign_desc.csv", [
            {"DESCRIPTION": "TypeA", "CAMPAIGN": 1, "START_DAY": 1, "END_DAY": 30}]),
        "coupons": write_csv(folder / "coupon_redempt.csv", [
            {"household_key": 1, "DAY": 2, "COUPON_UPC": 555, "CAMPAIGN": 1}]),
        "payments": write_csv(folder / "order_payments.csv", [
            {"order_id": "o1", "payment_sequential": 1, "payment_type": "voucher",
             "payment_installments": 1, "payment_value": 9.5}]),
    }


def test_a_data_sets_folder_loads_what_it_can_and_says_what_it_left_out(tmp_path: Path
                                                                         ) -> None:
    files = _panel(tmp_path / "panel")
    st, reps = _ingest(tmp_path, [tmp_path / "panel"], day_one="2024-01-01")
    by_name = {Path(r["file"]).name: r for r in reps}
    assert sorted(by_name) == ["articles.csv", "hh_demographic.csv", "transaction_data.csv"]
    assert by_name["transaction_data.csv"]["rows_loaded"] == 3
    # the demographics are a customer list keyed by household_key, as the sales are
    dem = by_name["hh_demographic.csv"]
    assert (dem["table"], dem["columns"]["customer_id"], dem["rows_loaded"]) == (
        "customers", "household_key", 2)
    assert st.query("SELECT count(*) AS n FROM customers WHERE customer_id IN "
                    "(SELECT customer_id FROM transactions)").n[0] == 2
    # the articles are a product list (not sales with a colour name for a line total)
    assert by_name["articles.csv"]["table"] == "products"
    assert by_name["articles.csv"]["rows_loaded"] == 2
    # the rest: one note each, naming the file and why, in the first report of the folder
    notes = [a for r in reps for a in r.get("assumptions", []) if "was not read" in a]
    assert len(notes) == 3
    for key in ("campaigns", "coupons", "payments"):
        note = next(n for n in notes if f"panel/{files[key].name} was not read" in n)
        assert "not sales lines (it has" in note and "--table customers|products" in note
    assert any("order_payments.csv was not read: not sales lines (it has a sum but no "
               "product, customer or date column" in n for n in notes)
    # every row of what was read is accounted for
    for r in reps:
        assert r["rows_read"] == r["rows_loaded"] + r["rows_quarantined"]


def test_a_side_table_named_on_the_command_line_says_it_is_no_sales_lines(tmp_path: Path
                                                                          ) -> None:
    files = _panel(tmp_path / "panel")
    for key in ("payments", "campaigns"):
        with pytest.raises(DataError, match=rf"{files[key].name}: this file does not look like "
                                            r"sales lines \(it has .*\); leave it out, or "
                                            r"load it with --table customers\|products"):
            _ingest(tmp_path, [files[key]])
    with pytest.raises(DataError, match=r"campaign_desc.csv: this file does not look like "):
        _ingest(tmp_path, [files["sales"], files["campaigns"]], day_one="2024-01-01")
    assert not (tmp_path / "s.duckdb").exists() or Store(tmp_path / "s.duckdb").count(
        "transactions") == 0
    # a folder of nothing but side tables: one error listing why each was left out
    (tmp_path / "side").mkdir()
    for key in ("payments", "campaigns"):
        (tmp_path / "side" / files[key].name).write_bytes(files[key].read_bytes())
    with pytest.raises(DataError, match=r"no file holds sales lines or a table Loyalist reads: "
                                        r"side/campaign_desc.csv was not read"):
        _ingest(tmp_path / "side", [tmp_path / "side"])


def test_demographics_keyed_by_household_are_customers(tmp_path: Path) -> None:
    files = _panel(tmp_path / "panel")
    for table in ("auto", "customers"):
        (tmp_path / table).mkdir()
        _, (rep,) = _ingest(tmp_path / table, [files["demographics"]], table=table)
        assert (rep["table"], rep["rows_loaded"]) == ("customers", 2)
        assert any(a.startswith("customer_id read from column 'household_key' (found by its "
                                "name") for a in rep["assumptions"])


def _supermarket(path: Path) -> Path:
    """The "Supermarket sales" layout: invoices with product line, price and date, and no
    customer column at all ('Customer type' is Member/Normal)."""
    return write_csv(path, [
        {"Invoice ID": f"750-67-{i:04d}", "Branch": "A", "City": "Yangon",
         "Customer type": "Member" if i % 2 else "Normal", "Gender": "Female",
         "Product line": ("Health and beauty", "Sports and travel")[i % 2],
         "Unit price": 10.0 + i, "Quantity": 1 + i % 3, "Tax 5%": 0.5,
         "Total": 10.5, "Date": f"1/{1 + i % 28}/2019", "Time": "13:08", "Payment": "Cash",
         "cogs": 10.0, "gross margin percentage": 4.76, "gross income": 0.5, "Rating": 9.1}
        for i in range(40)])


def test_sales_without_a_customer_column_are_guest_lines(tmp_path: Path) -> None:
    f = _supermarket(tmp_path / "supermarket_sales.csv")
    st, (rep,) = _ingest(tmp_path, [f])
    assert (rep["rows_read"], rep["rows_loaded"], rep["rules"]["guest"]) == (40, 40, 40)
    assert any(a.startswith("no customer column: every line is a guest line") and
               "--map customer_id=<column>" in a for a in rep["assumptions"])
    got = st.query("SELECT count(*) AS n, count(DISTINCT order_id) AS o, "
                   "bool_and(is_guest) AS g FROM transactions")
    assert (got.n[0], got.o[0], got.g[0]) == (40, 40, True)
    # order lines with neither customer nor date still ask for their orders file
    items = write_csv(tmp_path / "items.csv", [{"order_id": "o1", "product_id": "p",
                                                "price": 3.0}])
    (tmp_path / "x").mkdir()
    with pytest.raises(DataError, match="order lines without their orders"):
        _ingest(tmp_path / "x", [items])


def test_run_on_guest_lines_skips_the_customer_steps_with_their_reason(tmp_path: Path
                                                                        ) -> None:
    f = _supermarket(tmp_path / "supermarket_sales.csv")
    p = subprocess.run([sys.executable, "-m", "loyalist", "run", str(f), "--store",
                        str(tmp_path / "s.duckdb"), "--out", str(tmp_path / "o"), "--json"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    steps = {s["step"]: s for s in json.loads(p.stdout)["steps"]}
    for step in ("features", "customer_models", "recommendations"):
        assert steps[step]["status"] == "skipped"
        assert "every line in the store is a guest line" in steps[step]["detail"]
    assert steps["report"]["status"] == "done"


def test_run_on_a_folder_says_which_files_it_left_out(tmp_path: Path) -> None:
    _panel(tmp_path / "panel")
    p = subprocess.run([sys.executable, "-m", "loyalist", "-q", "run", str(tmp_path / "panel"),
                        "--day-one", "2024-01-01", "--store", str(tmp_path / "s.duckdb"),
                        "--out", str(tmp_path / "o"), "--json"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert sorted(Path(x["file"]).name for x in doc["loads"]) == [
        "articles.csv", "hh_demographic.csv", "transaction_data.csv"]
    assert sorted(n.split(" was not read")[0] for n in doc["left_out"]) == [
        "panel/campaign_desc.csv", "panel/coupon_redempt.csv", "panel/order_payments.csv"]


def test_an_event_log_needs_prices_and_its_views_are_no_purchases(tmp_path: Path) -> None:
    """The Retail Rocket layout: timestamp (ms), visitorid, event, itemid, transactionid."""
    rows = [{"timestamp": 1433221332117 + i, "visitorid": v, "event": e, "itemid": item,
             "transactionid": t}
            for i, (v, e, item, t) in enumerate([
                (257597, "view", 355908, ""), (257597, "addtocart", 355908, ""),
                (257597, "transaction", 355908, 4000), (992329, "view", 248676, ""),
                (992329, "transaction", 248676, 4001)])]
    bare = write_csv(tmp_path / "events.csv", rows)
    with pytest.raises(DataError, match=r"missing required column\(s\) unit_price .* The file "
                                        r"has dates but no price or line total") as e:
        _ingest(tmp_path, [bare])
    assert "order lines without their orders" not in str(e.value)
    priced = write_csv(tmp_path / "events_priced.csv",
                       [{**r, "price": 12.5} for r in rows])
    st, (rep,) = _ingest(tmp_path, [priced])
    assert rep["columns"]["customer_id"] == "visitorid"
    assert (rep["rows_read"], rep["rows_loaded"], rep["rows_quarantined"]) == (5, 2, 3)
    assert rep["rules"]["not_a_purchase"] == 3
    q = st.query("SELECT rule, reason FROM quarantine")
    assert set(q.rule) == {"not_a_purchase"} and "not a sale" in q.reason[0]
