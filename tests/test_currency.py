"""The store's currency: detected at ingest from each kind of evidence, kept across loads,
a load in another currency refused with the store untouched."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import LOADED_AT, line, write_csv

from loyalist import money
from loyalist.errors import DataError, ParameterError
from loyalist.ingest import ingest_files
from loyalist.store import Store, currency


def _load(path: Path, files: list[Path], **kw: object) -> list[dict]:
    with Store(path) as st:
        return ingest_files(st, files, loaded_at=LOADED_AT, **kw)  # type: ignore[arg-type]


def _sales(path: Path, prices: list[object], **extra: object) -> Path:
    return write_csv(path, [line(order=f"{path.stem}{i}", price=p, **extra)
                            for i, p in enumerate(prices)])


@pytest.mark.parametrize(("prices", "code", "evidence"), [
    (["£3.50", "£1,204.00"], "GBP", "£ in column 'unit_price'"),
    (["3,50 €", "12,00 €"], "EUR", "€ in column 'unit_price'"),
    (["¥1,200", "￥300"], "JPY", "¥ in column 'unit_price'"),
    (["₹1,23,456.00", "₹99"], "INR", "₹ in column 'unit_price'"),
    (["12,50 zł", "3 zł"], "PLN", "ZŁ in column 'unit_price'"),
    (["120 Kč", "99 Kč"], "CZK", "KČ in column 'unit_price'"),
    (["R$ 388,50", "R$ 12,00"], "BRL", "R$ in column 'unit_price'"),
    (["EUR 12.50", "1,000.00 eur"], "EUR", "EUR in column 'unit_price'"),
])
def test_signs_and_codes_in_the_amounts(tmp_path: Path, prices: list[str], code: str,
                                        evidence: str) -> None:
    (rep,) = _load(tmp_path / "s.duckdb", [_sales(tmp_path / "t.csv", prices)])
    assert rep["rows_loaded"] == 2
    assert (rep["currency"], rep["currency_evidence"]) == (code, evidence)
    assert currency(tmp_path / "s.duckdb") == code


def test_dollar_is_usd_with_a_note_and_kr_stays_unknown(tmp_path: Path) -> None:
    (rep,) = _load(tmp_path / "a.duckdb", [_sales(tmp_path / "d.csv", ["$3.50", "$12"])])
    assert rep["currency"] == "USD"
    assert any(a.startswith("$ in column 'unit_price' read as USD: $ is written for US, "
                            "Canadian") for a in rep["assumptions"]), rep["assumptions"]
    (rep,) = _load(tmp_path / "b.duckdb", [_sales(tmp_path / "k.csv", ["12,50 kr", "3 kr"])])
    assert rep["rows_loaded"] == 2 and rep["currency"] is None
    assert ("'kr' in column 'unit_price' is written for Swedish, Norwegian, Danish and "
            "Icelandic crowns: the currency is left unknown; give it with --currency SEK (or "
            "NOK, DKK)") in rep["assumptions"]
    assert currency(tmp_path / "b.duckdb") is None


def test_plain_numbers_leave_the_currency_unknown(tmp_path: Path) -> None:
    (rep,) = _load(tmp_path / "s.duckdb", [_sales(tmp_path / "t.csv", [3.5, "12.00"])])
    assert rep["currency"] is None and rep["currency_evidence"] is None
    assert currency(tmp_path / "s.duckdb") is None


def test_a_currency_column_with_several_codes(tmp_path: Path) -> None:
    """Shopify's Currency column: the most common code is the store's, the rows in others
    are counted in the report, nothing is converted."""
    rows = [line(order=f"o{i}", price=5.0, Currency=c)
            for i, c in enumerate(["EUR", "eur", "EUR", "USD", ""])]
    (rep,) = _load(tmp_path / "s.duckdb", [write_csv(tmp_path / "t.csv", rows)])
    assert rep["rows_loaded"] == 5
    assert (rep["currency"], rep["currency_evidence"]) == ("EUR", "column 'Currency'")
    assert ("the column 'Currency' holds 2 currencies (EUR on 3 rows, USD on 1 row): EUR, the "
            "most common, is the store's, and the 1 row(s) in the others are added up as they "
            "are, without exchange rates; convert them to EUR before loading for revenue, "
            "value and plans in one currency") in rep["assumptions"]
    with Store(tmp_path / "s.duckdb", read_only=True) as st:
        assert st.query("SELECT sum(amount) AS a FROM transactions").a.iloc[0] == 25.0


def test_the_column_comes_before_the_signs(tmp_path: Path) -> None:
    rows = [line(order="o1", price="$5.00", currency_code="CAD")]
    (rep,) = _load(tmp_path / "s.duckdb", [write_csv(tmp_path / "t.csv", rows)])
    assert (rep["currency"], rep["currency_evidence"]) == ("CAD", "column 'currency_code'")


def test_online_retail_format_is_in_pounds(tmp_path: Path) -> None:
    """The UCI Online Retail layout (a UK shop) carries no sign: its format says GBP."""
    rows = [{"InvoiceNo": f"5363{i}", "StockCode": "85123A", "Description": "HEART",
             "Quantity": 6, "InvoiceDate": "2010-12-01 08:26", "UnitPrice": 2.55,
             "CustomerID": 17850, "Country": "United Kingdom"} for i in range(3)]
    (rep,) = _load(tmp_path / "s.duckdb", [write_csv(tmp_path / "uci.csv", rows)])
    assert rep["format"] == "online-retail"
    assert (rep["currency"], rep["currency_evidence"]) == ("GBP", "format online-retail")


def test_a_generated_scenario_knows_its_currency(tmp_path: Path) -> None:
    from loyalist.pipeline import generate

    gen = generate("coffee", customers=30, months=3, seed=1, out=tmp_path / "data")
    meta = json.loads(Path(gen["files"]["scenario"]).read_text())
    (rep,) = _load(tmp_path / "s.duckdb", [gen["files"]["transactions"]])
    assert rep["currency"] == meta["currency"] and money.is_code(meta["currency"])
    assert rep["currency_evidence"] == "the generated scenario's scenario.json"


def test_currency_option_over_the_files_and_bad_codes(tmp_path: Path) -> None:
    f = _sales(tmp_path / "t.csv", ["$3.50"])
    (rep,) = _load(tmp_path / "s.duckdb", [f], currency=" cad ")
    assert (rep["currency"], rep["currency_evidence"]) == ("CAD", "--currency")
    assert ("the amounts look like USD ($ in column 'unit_price'); read as CAD, as --currency "
            "says") in rep["assumptions"]
    # --currency settles what $ may mean: no "$ is written for other dollars" note beside it
    assert not [a for a in rep["assumptions"] if "other dollars" in a]
    assert "currency_unsure" not in rep
    (plain,) = _load(tmp_path / "p.duckdb", [f])
    assert [a for a in plain["assumptions"] if "other dollars" in a]
    with pytest.raises(ParameterError, match=r"^--currency 'euro' is not an ISO 4217 currency "
                                             r"code; give its three letters, e\.g\. GBP"):
        _load(tmp_path / "t.duckdb", [f], currency="euro")
    assert not (tmp_path / "t.duckdb").exists() or currency(tmp_path / "t.duckdb") is None


def test_the_store_keeps_its_currency_and_refuses_another(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    _load(db, [_sales(tmp_path / "gbp.csv", ["£3.50", "£2.00"])])
    (rep,) = _load(db, [_sales(tmp_path / "plain.csv", [4.0])])  # unknown: the store's
    assert (rep["currency"], rep["currency_evidence"]) == (
        "GBP", "the store's (£ in column 'unit_price')")
    with Store(db, read_only=True) as st:
        before = (st.count("transactions"), st.count("loads"))
    eur = _sales(tmp_path / "eur.csv", ["3,50 €"])
    with pytest.raises(DataError, match=r"s\.duckdb holds amounts in GBP \(£ in column "
                                        r"'unit_price'\), and .*eur\.csv's amounts are in EUR "
                                        r"\(€ in column 'unit_price'\); nothing was loaded.*"
                                        r"--store other\.duckdb.*--currency GBP$"):
        _load(db, [eur])
    with pytest.raises(DataError, match=r"--currency says the amounts are in EUR; nothing"):
        _load(db, [_sales(tmp_path / "more.csv", [1.0])], currency="EUR")
    with Store(db, read_only=True) as st:
        assert (st.count("transactions"), st.count("loads")) == before
    assert currency(db) == "GBP"
    (rep,) = _load(db, [eur], currency="GBP")  # the user confirms: its amounts are pounds
    assert rep["currency"] == "GBP" and rep["rows_loaded"] == 1


def test_files_of_one_load_in_two_currencies_are_refused(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    a, b = _sales(tmp_path / "a.csv", ["£1"]), _sales(tmp_path / "b.csv", ["1 €"])
    with pytest.raises(DataError, match=r"a\.csv is in GBP \(£ in column 'unit_price'\), and "
                                        r".*b\.csv's amounts are in EUR"):
        _load(db, [a, b])
    assert not db.exists() or currency(db) is None


def test_money_text_names_the_code_only_when_known() -> None:
    assert money.with_code("3,490,112", "GBP") == "3,490,112 GBP"
    assert money.with_code("3,490,112", None) == "3,490,112"
    assert money.label("revenue", "EUR") == "revenue (EUR)"
    assert money.label("revenue", None) == "revenue"
    assert money.check_code("gbp") == "GBP" and money.check_code(None) is None


def test_unloading_every_sale_forgets_the_currency(tmp_path: Path) -> None:
    """The store's currency belongs to its sales: with the last of them unloaded, a file in
    another currency may be loaded (it was refused as a mixed load)."""
    from loyalist.ingest.unload import unload

    store = tmp_path / "s.duckdb"
    (first,) = _load(store, [_sales(tmp_path / "gbp.csv", ["£3.50"])])
    assert currency(store) == "GBP"
    with Store(store) as st:
        unload(st, [first["load_id"]])
    assert currency(store) is None
    (rep,) = _load(store, [_sales(tmp_path / "eur.csv", ["€3.50"])])
    assert rep["currency"] == currency(store) == "EUR"
