"""What the plan reads from files: the promotion catalog (formats, encodings, keys, the points
value), the response priors, the constraints' spend limits; and the generic catalog a store
without one gets, scaled to its order value."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from loyalist import pipeline
from loyalist.cli.main import app
from loyalist.errors import DataError, LoyalistError, ParameterError
from loyalist.promote.catalog import load_catalog, load_constraints


def test_catalog_formats_agree(tmp_path: Path) -> None:
    (tmp_path / "c.toml").write_text(
        '[[promotion]]\nname = "ten_off"\nkind = "percent_discount"\nvalue = 10\n'
        'contact_cost = 0.05\ncategory = ["coffee", "tea"]\n'
        '[[promotion]]\nname = "pts"\nkind = "points_multiplier"\nvalue = 2\n')
    (tmp_path / "c.yaml").write_text(
        "promotions:\n  - {name: ten_off, kind: percent_discount, value: 10, "
        "contact_cost: 0.05, category: [coffee, tea]}\n"
        "  - {name: pts, kind: points_multiplier, value: 2}\n")
    (tmp_path / "c.csv").write_text(
        "name,kind,value,contact_cost,category\nten_off,percent_discount,10,0.05,coffee;tea\n"
        "pts,points_multiplier,2,,\n")
    frames = [load_catalog(tmp_path / f"c.{x}") for x in ("toml", "yaml", "csv")]
    for f in frames[1:]:
        pd.testing.assert_frame_equal(frames[0], f)
    assert frames[0]["category"].tolist() == ["coffee;tea", ""]
    # kinds as merchants' tools spell them
    (tmp_path / "spelled.csv").write_text(
        "name,kind,value,contact_cost,category\nten_off,Percentage,10,0.05,coffee;tea\n"
        "pts,Double Points,2,,\n")
    pd.testing.assert_frame_equal(frames[0], load_catalog(tmp_path / "spelled.csv"))
    (tmp_path / "bad.csv").write_text("name,kind,value\nx,teleport,10\n")
    with pytest.raises(DataError, match="promotion 'x' has kind 'teleport'; use one of"):
        load_catalog(tmp_path / "bad.csv")
    (tmp_path / "neg.csv").write_text("name,kind,value\nx,fixed_voucher,-1\n")
    with pytest.raises(DataError, match="has value -1"):
        load_catalog(tmp_path / "neg.csv")
    assert np.isnan(frames[0]["min_spend"]).all()


@pytest.mark.parametrize("encoding", ["cp1252", "utf-16", "utf-8-sig"])
def test_a_catalog_is_read_in_the_encodings_ingest_reads(tmp_path: Path, encoding: str) -> None:
    """Exploratory report 7, I5: a Windows-1252 catalog CSV was refused ("'utf-8' codec
    can't decode byte 0xc9") although `ingest` reads that encoding."""
    for suffix, text in (("csv", "name,kind,value\nÉté_sale,percent_discount,10\n"),
                         ("yaml", "promotions:\n  - {name: Été_sale, kind: bogo, value: 50}\n")):
        (tmp_path / f"c.{suffix}").write_bytes(text.encode(encoding))
        assert load_catalog(tmp_path / f"c.{suffix}")["name"].tolist() == ["Été_sale"]


def test_a_binary_file_or_folder_is_no_catalog_or_constraints(tmp_path: Path) -> None:
    """Exploratory report 7, I5: a Parquet file gave a UnicodeDecodeError traceback, and a
    folder was called "no such file"."""
    pq = tmp_path / "sales.csv"  # a Parquet file, whatever its name says
    pd.DataFrame({"a": [1]}).to_parquet(pq)
    with pytest.raises(DataError, match=r"sales.csv: a Parquet file, not text; pass a catalog "
                                        r"in TOML, YAML, JSON or CSV \(a table in another "
                                        r"format loads into the store with `loyalist ingest "
                                        r"FILE --table promotion_catalog`\)"):
        load_catalog(pq)
    (tmp_path / "c.toml").write_bytes(b"\x00\x01binary")
    with pytest.raises(DataError, match="c.toml: a binary file, not text; pass constraints"):
        load_constraints(tmp_path / "c.toml")
    with pytest.raises(DataError, match=f"{tmp_path}: a folder, not a file; pass constraints"):
        load_constraints(tmp_path)


def test_the_default_priors_are_printed_and_written_to_edit(tmp_path: Path) -> None:
    """``loyalist priors --out FILE`` writes the documented table with a first line saying what
    the columns mean; read back as a priors file it is the defaults, row for row."""
    from loyalist.promote.catalog import load_priors
    from loyalist.response.priors import PRIOR_TABLE, changed_rows, with_overrides

    out = tmp_path / "priors.csv"
    r = CliRunner().invoke(app, ["priors", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "incremental_prob" in r.stdout and str(out) in r.stdout.replace("\n", "")
    first = out.read_text().splitlines()[0]
    assert first.startswith("# ") and "use_rate: share of buyers who use the offer" in first
    back = load_priors(out)
    assert len(back) == len(PRIOR_TABLE) and changed_rows(back) == []
    pd.testing.assert_frame_equal(with_overrides(back), PRIOR_TABLE)
    doc = json.loads(CliRunner().invoke(app, ["priors", "--json"]).stdout)
    assert doc["priors"] == PRIOR_TABLE.to_dict(orient="records")
    r = CliRunner().invoke(app, ["priors", "--out", str(tmp_path / "priors.toml")])
    assert isinstance(r.exception, ParameterError) and "give a .csv file" in str(r.exception)


@pytest.mark.parametrize(("text", "suffix", "rows"), [
    ('[[prior]]\nkind = "bogo"\nsegment = "Active"\nincremental_prob = 0.05\n'
     "use_rate = 0.3\n", ".toml", [("bogo", "active", 0.05, 0.3)]),
    ("priors:\n  - {kind: voucher, segment: lost, incremental_prob: 0.01, use_rate: 0.2}\n"
     "  - {kind: default, segment: new, incremental_prob: 0, use_rate: 1}\n", ".yaml",
     [("fixed_voucher", "lost", 0.01, 0.2), ("default", "new", 0.0, 1.0)]),
    ('[{"kind": "free_item", "segment": "lapsing", "incremental_prob": 0.04, '
     '"use_rate": 0.5}]', ".json", [("free_item", "lapsing", 0.04, 0.5)]),
    # a spreadsheet's in a comma-decimal locale, as the catalog's
    ("# edited\nkind;segment;incremental_prob;use_rate\nbogo;active;0,05;0,3\n", ".csv",
     [("bogo", "active", 0.05, 0.3)]),
], ids=["toml", "yaml", "json", "semicolon-csv"])
def test_a_priors_file_reads_as_the_catalog_does(tmp_path: Path, text: str, suffix: str,
                                                 rows: list[tuple[Any, ...]]) -> None:
    """TOML ``[[prior]]`` tables, YAML / JSON lists (under ``priors`` or bare), the catalog's
    kind aliases; a partial table replaces only its rows."""
    from loyalist.promote.catalog import load_priors
    from loyalist.response.priors import PRIOR_TABLE, with_overrides

    f = tmp_path / f"p{suffix}"
    f.write_text(text)
    got = load_priors(f)
    assert list(got.itertuples(index=False, name=None)) == rows
    merged = with_overrides(got).set_index(["kind", "segment"])
    base = PRIOR_TABLE.set_index(["kind", "segment"])
    for k, g, inc, use in rows:
        assert tuple(merged.loc[(k, g)]) == (inc, use)
    assert (merged.drop(index=[(k, g) for k, g, *_ in rows])
            == base.drop(index=[(k, g) for k, g, *_ in rows])).all().all()


def test_the_priors_note_says_which_priors_were_used() -> None:
    """Priors given but used by no promotion (every response measured) are said, not
    ignored; so are changed rows of a kind no prior-priced promotion has."""
    from loyalist.response.priors import priors_note

    given = pd.DataFrame({"kind": ["bogo", "fixed_voucher"], "segment": ["active", "lost"],
                          "incremental_prob": [0.05, 0.005], "use_rate": [0.25, 0.3]})
    given.attrs["source"] = "mine.csv"
    measured = {"a": "relative_lift", "b": "t"}
    assert priors_note(measured, None) == (None, {"source": "defaults", "overridden": [],
                                                  "priced": [], "use_rate_for": []})
    note, info = priors_note(measured, given)
    assert note == ("response priors from mine.csv not used: every promotion's response is "
                    "measured from the promotion history (a, b), none is priced by priors")
    # the voucher row equals its default: only the BOGO row is a change
    assert [(r["kind"], r["segment"]) for r in info["overridden"]] == [("bogo", "active")]
    note, info = priors_note({"a": "prior", "b": "t"}, given, use_rate_for=["b"],
                             kinds={"a": "fixed_voucher", "b": "percent_discount"})
    assert note == ("response priors from mine.csv for the promotions without a measured "
                    "response (a), the use rate of b (measured, redemptions not recorded): it "
                    "changes bogo x active incremental_prob 0.05 (default 0.015); the other "
                    "kind x segment rows are the documented defaults; its rows for bogo are "
                    "not used: no promotion of that kind is priced by priors")
    assert info["priced"] == ["a"] and info["use_rate_for"] == ["b"]


@pytest.mark.parametrize(("median", "voucher", "fee", "contact"), [
    (None, 5.0, 5.0, 0.05),  # order values unknown: the catalog as written
    (40.0, 6.0, 5.0, 0.05),  # inside the range: only the voucher follows the order value
    (4.2, 0.63, 2.1, 0.021),  # a coffee bar: everything smaller
    (169.0, 25.0, 8.4, 0.085),  # large orders (or a currency with small units)
    (0.2, 0.03, 0.1, 0.001),  # prices recorded in thousands
])
def test_generic_catalog_fits_the_stores_order_value(median: float | None, voucher: float,
                                                     fee: float, contact: float) -> None:
    """Without a catalog, fixed money amounts written for orders of 10-100 would be a 100%
    voucher in a coffee bar and a 0.05 contact cost would outweigh every order of a store that
    records prices in thousands: they follow the store's median order value, and say so."""
    from loyalist.promote.catalog import generic_catalog

    cat, what = generic_catalog(median)
    v = cat.set_index("kind")
    assert v.loc["fixed_voucher", "value"] == pytest.approx(voucher)
    assert v.loc["free_shipping", "value"] == pytest.approx(fee)
    assert cat["contact_cost"].tolist() == pytest.approx([contact] * len(cat))
    assert v.loc["percent_discount", "value"] == 10.0 and v.loc["points_multiplier", "value"] == 2
    assert f"voucher_{voucher:g}" in what and what.endswith("pass --catalog FILE")
    assert ("median order value" in what) == (median is not None)
    assert ("scaled to it" in what) == (median is not None and not 10 <= median <= 100)


def test_median_order_value_with_and_without_the_per_order_table(tmp_path: Path) -> None:
    """The generic catalog's scale: the per-order table when it is up to date, else the lines
    (a store from before that table: the 10M-line benchmark store crashed the plan with
    'customer_orders does not exist'); both give the same median."""
    from test_churn import make_store, synthetic_lines

    from loyalist.store import Store

    path = tmp_path / "t.duckdb"
    make_store(path, synthetic_lines(n_customers=200)).close()
    with Store(path) as st:
        ts = st.default_as_of()
        fresh = pipeline.promotions._median_order_value(st, ts)
        st.con.execute("DROP TABLE customer_orders")
        assert pipeline.promotions._median_order_value(st, ts) == pytest.approx(fresh)
        assert fresh > 0


def test_catalog_refuses_unknown_keys_and_impossible_percents(tmp_path: Path) -> None:
    """A misspelt catalog key was ignored (a category offer went store-wide, a contact cost
    fell back to its default): refused like the constraints file's, naming file, promotion,
    the likely key and the known keys."""
    files = {
        "a.toml": '[[promotion]]\nname = "knit20"\nkind = "percent_discount"\nvalue = 20\n'
                  'categroy = "knitwear"\n',
        "b.yaml": "promotions:\n  - {name: knit20, kind: percent_discount, value: 20, "
                  "min_spnd: 100}\n",
        "c.csv": "name,kind,value,contact_cots\nknit20,percent_discount,20,0.1\n",
    }
    for (f, text), (key, near) in zip(files.items(), [("categroy", "category"),
                                                      ("min_spnd", "min_spend"),
                                                      ("contact_cots", "contact_cost")],
                                      strict=True):
        (tmp_path / f).write_text(text)
        with pytest.raises(DataError, match=rf"{f}: unknown key '{key}' \(promotion 'knit20'\); "
                                            rf"did you mean '{near}'\? known keys: name, kind"):
            load_catalog(tmp_path / f)
    # the other names `ingest --table promotion_catalog` reads are read here too, also when
    # one promotion spells a key one way and the next another
    (tmp_path / "d.yaml").write_text(
        "promotions:\n  - {name: p10, kind: percent_discount, value: 10, contactcost: 0.1}\n"
        "  - {name: v5, Type: fixed_voucher, value: 5, Contact Cost: 0.2}\n")
    got = load_catalog(tmp_path / "d.yaml")
    assert got[["kind", "contact_cost"]].values.tolist() == [["percent_discount", 0.1],
                                                             ["fixed_voucher", 0.2]]
    (tmp_path / "p.csv").write_text("name,kind,value\nfree_money,percent_discount,150\n")
    with pytest.raises(DataError, match=r"p.csv: promotion 'free_money' has value 150; .*0..100"):
        load_catalog(tmp_path / "p.csv")


def test_a_blank_contact_cost_is_said_and_a_missing_value_named(tmp_path: Path) -> None:
    """Exploratory report 3: an empty contact_cost cell became 0 without a word (every send
    then looks free to contact), and a free item without a value read 'has value nan'."""
    (tmp_path / "c.csv").write_text("name,kind,value,contact_cost\n"
                                    "nocost,percent_discount,10,\nv5,fixed_voucher,5,0.1\n")
    got = load_catalog(tmp_path / "c.csv")
    assert got["contact_cost"].tolist() == [0.0, 0.1]
    assert got.attrs["notes"] == [f"{tmp_path / 'c.csv'}: no contact_cost for nocost: taken "
                                  "as 0 per customer contacted; give the cost of a message in "
                                  "the catalog if there is one"]
    (tmp_path / "n.csv").write_text("name,kind,value\nfree_tabi,free_item,\n")
    with pytest.raises(DataError, match=r"promotion 'free_tabi' has no value; give a positive"):
        load_catalog(tmp_path / "n.csv")


def test_run_and_plan_check_spend_limits_before_loading(tmp_path: Path) -> None:
    """`run` refused minimums above the budget only after loading and training everything."""
    c = tmp_path / "c.toml"
    c.write_text("[min_spend]\nfree_shipping = 500\n")
    sales = tmp_path / "sales.csv"
    sales.write_text("customer_id,order_id,ordered_at,product_id,quantity,unit_price\n"
                     "C1,O1,2025-01-01,P1,1,10\n")
    store = tmp_path / "s.duckdb"
    for args in (["run", str(sales), "--store", str(store), "--out", str(tmp_path / "o"),
                  "--budget", "100", "--constraints", str(c)],
                 ["plan", "--store", str(store), "--budget", "100", "--constraints", str(c)]):
        r = CliRunner().invoke(app, args)
        assert isinstance(r.exception, LoyalistError), r.output  # one line, exit code 2
        assert "c.toml: min_spend for free_shipping (500.00) is more than the budget 100.00" \
            in str(r.exception)
        assert not store.exists()


def test_generic_catalog_writes_large_amounts_readably() -> None:
    """A shop in rupiah (median order 9.5 million): the generic catalog's names and notes carry
    no scientific notation (the bug: a promotion named ``voucher_1.4e+06`` and "median order
    value 9.499e+06"), and ordinary shops keep their names."""
    from loyalist.promote.catalog import generic_catalog

    cat, what = generic_catalog(9_498_786.0)
    assert "voucher_1400000" in list(cat["name"])
    assert "e+" not in what and "e-" not in what
    for text in ("voucher 1,400,000", "shipping fee 470,000", "contact cost 4,700",
                 "median order value 9,498,786"):
        assert text in what, text
    from loyalist.promote.catalog import amount_name, amount_text

    assert [amount_name(x) for x in (5.0, 0.63, 25.0, 0.00003)] == ["5", "0.63", "25",
                                                                    "0.00003"]
    assert [amount_text(x) for x in (0.0, -0.0, 0.04, 16.7, 1998.88, 1.4e6)] == [
        "0", "0", "0.04", "16.7", "1,999", "1,400,000"]
    assert amount_text(4964.2, up=True) == "4,965" and amount_text(0.03121, up=True) == "0.0313"


def test_a_catalog_gives_the_points_value(tmp_path: Path) -> None:
    """A points programme may be worth 1% or 5% of spend, not the assumed 3%: the catalog's
    optional points_rate (one for the catalog) sets it, and the plan says so."""
    from loyalist.promote.catalog import catalog_points_rate, normalise_catalog
    from loyalist.response.value import Offer, mechanics_text

    c = tmp_path / "c.toml"
    c.write_text('[[promotion]]\nname = "pts3"\nkind = "points_multiplier"\nvalue = 3\n'
                 'points_rate = 0.01\n[[promotion]]\nname = "ten"\nkind = "percent_discount"\n'
                 'value = 10\n')
    cat = load_catalog(c)
    assert catalog_points_rate(cat) == (0.01, True)
    assert catalog_points_rate(cat.drop(columns=["points_rate"]))[1] is False
    text = mechanics_text("points_multiplier", [Offer("pts3", 3.0)], points_rate=0.01,
                          points_given=True)
    assert "(3 - 1) x 1.0% = 2.0% of the order" in text and "(the catalog's points_rate)" in text
    two = pd.DataFrame({"name": ["a", "b"], "kind": "points_multiplier", "value": [2.0, 3.0],
                        "points_rate": [0.01, 0.02]})
    with pytest.raises(DataError, match=r"promotions 'a' and 'b' give points_rate 0.01 and "
                                        r"0.02; .* one for the whole catalog"):
        normalise_catalog(two)
    with pytest.raises(DataError, match=r"promotion 'a' has points_rate 3; give the base "
                                        r"points' value as a share of spend"):
        normalise_catalog(two.assign(points_rate=3))
    with pytest.raises(DataError, match=r"leave it empty on other kinds"):
        normalise_catalog(two.assign(kind="percent_discount", points_rate=0.01))
    # without the column the catalog is as before (plan ids hash the catalog's records)
    assert "points_rate" not in normalise_catalog(two.drop(columns=["points_rate"]))


@pytest.mark.parametrize(("cell", "hint"), [
    ('"10%"', "write 10 (a percent discount's value is its percentage), a plain number"),
    ('"1,000"', "write 1000, a plain number"),
    ('"5,50"', "write 5.50, a plain number"),
    ('"$5"', "write 5, a plain number"),
])
def test_a_spreadsheets_number_text_is_refused_with_what_to_write(
        tmp_path: Path, cell: str, hint: str) -> None:
    """Exploratory report 3: '10%' or '1,000' from a spreadsheet was refused as 'not a number'
    without saying what to write instead."""
    (tmp_path / "c.csv").write_text(f"name,kind,value\np,percent_discount,{cell}\n")
    with pytest.raises(DataError, match=re.escape(f"not a number; {hint}")):
        load_catalog(tmp_path / "c.csv")
    (tmp_path / "w.csv").write_text("name,kind,value\np,percent_discount,ten\n")
    with pytest.raises(DataError, match=r"has value 'ten', not a number$"):
        load_catalog(tmp_path / "w.csv")


@pytest.mark.parametrize(("text", "message"), [
    ('name = ""', r"promotion 1 \(kind fixed_voucher\) has no name; give each promotion"),
    ('name = "Control"', r"promotion name 'Control' is the hold-out group's in the promotion "
                         r"history \(its sends would be read as the control group\); rename"),
])
def test_a_promotion_needs_a_name_that_is_not_the_hold_outs(tmp_path: Path, text: str,
                                                             message: str) -> None:
    """A nameless promotion was planned and written to sends.csv under '', and one named
    'control' was sent under the hold-out group's name: loaded back as promotion history,
    its sends would have been read as the control group."""
    (tmp_path / "c.toml").write_text(f'[[promotion]]\n{text}\nkind = "fixed_voucher"\n'
                                     "value = 5\n")
    with pytest.raises(DataError, match=message):
        load_catalog(tmp_path / "c.toml")
    (tmp_path / "c.csv").write_text("name,kind,value\nv5,fixed_voucher,5\n,bogo,50\n")
    with pytest.raises(DataError, match=r"c.csv: promotion 2 \(kind bogo\) has no name"):
        load_catalog(tmp_path / "c.csv")


@pytest.mark.parametrize(("cell", "message"), [
    ("value = inf", r"promotion 'v' has value inf, not a finite number$"),
    ("value = true", r"promotion 'v' has value True, not a number$"),
    ("value = 5\ncontact_cost = inf", r"promotion 'v' has contact_cost inf, not a finite number$"),
    ("value = 5\nmin_spend = inf", r"promotion 'v' has min_spend inf, not a finite number$"),
])
def test_an_infinite_or_true_amount_is_refused_by_the_catalog(tmp_path: Path, cell: str,
                                                              message: str) -> None:
    """An infinite value or contact cost passed the catalog's checks and failed after the
    response fit with a message naming no file ("cost: 1,149 of 1,149 eligible cells are NaN
    or infinite"), and `value = true` was read as 1."""
    (tmp_path / "c.toml").write_text(f'[[promotion]]\nname = "v"\nkind = "fixed_voucher"\n'
                                     f"{cell}\n")
    with pytest.raises(DataError, match=rf"c.toml: {message}"):
        load_catalog(tmp_path / "c.toml")


def test_a_catalog_saved_by_a_spreadsheet_with_semicolons_is_read(tmp_path: Path) -> None:
    """A catalog saved by Excel in a locale whose decimal mark is a comma (a byte-order mark,
    CRLF line ends, ';' between cells, '12,5') was refused: "the catalog needs column(s) name,
    kind, value; it has name;kind;value;contact_cost"."""
    (tmp_path / "c.csv").write_bytes(
        "\ufeffname;kind;value;contact_cost;eligible_segments\r\n"
        "pct;percent_discount;12,5;0,10;Champions,Loyal\r\nv5;fixed_voucher;5;0,05;\r\n"
        .encode())
    got = load_catalog(tmp_path / "c.csv")
    assert got[["name", "kind", "value", "contact_cost", "eligible_segments"]].values.tolist() \
        == [["pct", "percent_discount", 12.5, 0.1, "Champions;Loyal"],
            ["v5", "fixed_voucher", 5.0, 0.05, ""]]
    (tmp_path / "t.csv").write_text("name\tkind\tvalue\npct\tpercent_discount\t12.5\n")
    assert load_catalog(tmp_path / "t.csv")["value"].tolist() == [12.5]


def test_a_catalog_row_with_more_cells_than_the_header_is_refused(tmp_path: Path) -> None:
    """An unquoted list of segments in a comma CSV shifted the row (pandas took the first
    cell as its index): "promotion 'free_item' has value 12 ..." about promotion 'gift'."""
    (tmp_path / "c.csv").write_text("name,kind,value,contact_cost,eligible_segments\n"
                                    "pct,percent_discount,10,0.1,\n"
                                    "gift,free_item,12,0.1,Champions,Loyal\n")
    with pytest.raises(DataError, match=r"c.csv: line 3 has 6 cells, the header 5; put a cell "
                                        r"that holds ',' in double quotes \(e.g. "
                                        r'"Champions,Loyal"\) or remove the extra cells$'):
        load_catalog(tmp_path / "c.csv")
    (tmp_path / "q.csv").write_text("name,kind,value,contact_cost,eligible_segments\n"
                                    'gift,free_item,12,0.1,"Champions,Loyal"\n')
    assert load_catalog(tmp_path / "q.csv")["eligible_segments"].tolist() == ["Champions;Loyal"]


def test_a_priors_row_with_more_cells_than_the_header_is_refused_naming_its_line(
        tmp_path: Path) -> None:
    """As the catalog's: decimal commas in a comma CSV shifted the first row ("row 1: kind
    'active' is unknown"), and a later row was "line 3" of the file without its comments
    (line 5 of the file)."""
    from loyalist.promote.catalog import load_priors

    head = "# edited\n\n# again\nkind,segment,incremental_prob,use_rate\n"
    (tmp_path / "p.csv").write_text(head + "bogo,active,0,03,0.25\n")
    fix = r"; write its numbers with a decimal point \(0.03, not 0,03\) or remove the extra cells$"
    with pytest.raises(DataError, match=r"p.csv: line 5 has 5 cells, the header 4" + fix):
        load_priors(tmp_path / "p.csv")
    (tmp_path / "p.csv").write_text(head + "bogo,active,0.03,0.25\nbundle,lost,0.01,0.2,x\n")
    with pytest.raises(DataError, match=r"p.csv: line 6 has 5 cells, the header 4" + fix):
        load_priors(tmp_path / "p.csv")
    (tmp_path / "p.csv").write_text(head.replace(",", ";") + "bogo;active;0,03;0,25;x\n")
    with pytest.raises(DataError, match=r"p.csv: line 5 has 5 cells, the header 4; put a cell "
                                        r"that holds ';' in double quotes"):
        load_priors(tmp_path / "p.csv")
    (tmp_path / "p.csv").write_text(head + "bogo,active,0.03,0.25\n")
    assert load_priors(tmp_path / "p.csv").values.tolist() == [["bogo", "active", 0.03, 0.25]]


def test_a_catalogs_empty_spreadsheet_rows_are_skipped(tmp_path: Path) -> None:
    """Rows a spreadsheet saves as ',,,' below the table were read as a promotion named
    'nan' without a kind."""
    (tmp_path / "c.csv").write_text("name,kind,value,contact_cost\npct,percent_discount,10,0.1"
                                    "\n,,,\n,,,\n")
    assert load_catalog(tmp_path / "c.csv")["name"].tolist() == ["pct"]
    (tmp_path / "e.csv").write_text("name,kind,value,contact_cost\n,,,\n")
    with pytest.raises(DataError, match="e.csv: the catalog has no promotions; add at least"):
        load_catalog(tmp_path / "e.csv")


@pytest.mark.parametrize(("text", "days"), [("cooldown_days = 14.0", 14),
                                            ("cooldown_days = 14", 14),
                                            ("cooldown_days = 14.5", None),
                                            ('cooldown_days = "2 weeks"', None),
                                            ("cooldown_days = inf", None)])
def test_a_cooldown_is_whole_days_written_either_way(tmp_path: Path, text: str,
                                                      days: int | None) -> None:
    """``cooldown_days = 14.0`` (as Python's json writes 14 days kept as a float) was refused
    as "impossible; give whole days"."""
    (tmp_path / "c.toml").write_text(text + "\n")
    if days is None:
        with pytest.raises(ParameterError, match=r"c.toml: cooldown_days = .* is impossible; "
                                                 r"give whole days >= 0"):
            load_constraints(tmp_path / "c.toml")
    else:
        got = load_constraints(tmp_path / "c.toml").cooldown_days
        assert (got, type(got)) == (days, int)


@pytest.mark.parametrize(("name", "text", "message"), [
    ("c.yaml", "promotions:\n  - {name: a, kind: bogo, value: 10, value: 90}\n",
     r"c.yaml: cannot parse it as YAML: key 'value' is given twice in one mapping \(line 2\); "
     r"keep one$"),
    ("c.json", '{"promotions": [{"name": "a", "kind": "bogo", "value": 10, "value": 90}]}',
     r"c.json: cannot parse it as JSON: key 'value' is given twice in one object; keep one$"),
    ("l.yaml", "cooldown_days: 7\nmax_segment_share: 0.4\ncooldown_days: 30\n",
     r"l.yaml: cannot parse it as YAML: key 'cooldown_days' is given twice in one mapping "
     r"\(line 3\)"),
])
def test_a_key_given_twice_is_refused_as_toml_refuses_it(tmp_path: Path, name: str, text: str,
                                                         message: str) -> None:
    """A YAML or JSON catalog or constraints file giving a key twice kept the last one without
    a word (a 10% discount planned at 90%, a cool-down of 7 days at 30); TOML refuses it."""
    (tmp_path / name).write_text(text)
    with pytest.raises(DataError, match=message):
        (load_constraints if name.startswith("l") else load_catalog)(tmp_path / name)
    # a key a YAML merge ('<<: *base') brings in may still be given on its own
    (tmp_path / "m.yaml").write_text(
        "base: &b {kind: percent_discount, value: 10}\n"
        "promotions:\n  - {<<: *b, name: a}\n  - {<<: *b, name: b, value: 20}\n")
    assert load_catalog(tmp_path / "m.yaml")["value"].tolist() == [10.0, 20.0]
