"""``loyalist report``: a self-contained HTML page whose numbers match the store, BI exports in
CSV and Parquet, the forecast tables in the store, partial stores, and one-line errors."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest
from conftest import fashion_copy, line, write_csv

from loyalist import pipeline
from loyalist import schema as s
from loyalist.errors import DataError, StoreError
from loyalist.evaluation.campaign import ADJUSTED_BUYERS, ADJUSTED_NOTE, PLAIN_BUYERS
from loyalist.promote.catalog import gap_text
from loyalist.report import SECTIONS
from loyalist.report.data import MONEY_EXPORTS, mase_vs_naive
from loyalist.store import Store, currency

HEADINGS = list(SECTIONS.values())
EXPORTS = ("scores", "segments", "segments_grid", "clusters", "campaign_results", "plan_customers",
           "plan_promotions", "forecast", "forecast_backtest", "recommendations", "together")


#: the whole file on one xdist worker: its module-scoped stores are built once, not once
#: per worker (--dist loadgroup sends ungrouped tests to either)
pytestmark = pytest.mark.xdist_group("report")


@pytest.fixture(scope="module")
def built(fashion: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
          ) -> dict[str, Any]:
    """A generated merchant with every result: scores, a plan, recommendations, a forecast."""
    root = tmp_path_factory.mktemp("report_store")
    store, trained = fashion_copy(fashion, root, "shop.duckdb"), fashion["trained"]
    shutil.copytree(fashion["train_dir"], root / "train")  # the training's files, this file's
    planned = pipeline.plan(store, budget=1000, goal="revenue", save=True)
    recs = pipeline.recommend(store, out_dir=root / "recs")
    fc = pipeline.forecast(store, 14, root / "forecast")
    together = pipeline.basket_rules(store, root / "together")
    return {"root": root, "store": store, "train": trained, "plan": planned["summary"],
            "recs": recs, "forecast": fc, "together": together}


@pytest.fixture(scope="module")
def full(built: dict[str, Any]) -> dict[str, Any]:
    store = built["store"]
    before = hashlib.sha256(store.read_bytes()).hexdigest()
    out = built["root"] / "report"
    res = pipeline.report(store, out, train_dir=built["root"] / "train")
    assert hashlib.sha256(store.read_bytes()).hexdigest() == before  # read-only
    return {"res": res, "out": out, "html": (out / "report.html").read_text(encoding="utf-8")}


def q(store: Path, sql: str, params: list[object] | None = None) -> pd.DataFrame:
    with duckdb.connect(str(store), read_only=True) as con:
        return con.execute(sql, params or []).df()


class StrictParser(HTMLParser):
    """Collects tags, attributes and nesting errors (every non-void tag closed in order)."""

    VOID = {"meta", "img", "br", "hr", "link", "input", "source", "col", "wbr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.h2: list[str] = []
        self._in_h2 = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in self.VOID:
            self.stack.append(tag)
        if tag == "h2":
            self._in_h2 = True
            self.h2.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()
        if tag == "h2":
            self._in_h2 = False

    def handle_data(self, data: str) -> None:
        if self._in_h2:
            self.h2[-1] += data


def parse(page: str) -> StrictParser:
    p = StrictParser()
    p.feed(page)
    p.close()
    return p


def test_every_section_with_numbers_from_the_store(built: dict[str, Any],
                                                   full: dict[str, Any]) -> None:
    page, res, store = full["html"], full["res"], built["store"]
    assert res["sections"] == list(SECTIONS) and res["absent"] == {}
    assert parse(page).h2 == [*HEADINGS, "Exports"]
    summ = json.loads(q(store, "SELECT summary FROM plans")["summary"].iloc[0])
    assert summ["plan_id"] == built["plan"]["plan_id"]
    n_plan = int(q(store, "SELECT count(*) AS n FROM plan_customers")["n"].iloc[0])
    assert n_plan == summ["customers_targeted"] > 0
    assert f"{summ['spend']:,.0f}" in page and f"{summ['budget']:,.0f}" in page
    from loyalist.money import whole

    code = summ.get("currency")  # what the plan will cost, with its 80% interval (issue 5)
    assert (f"(80%: {whole(summ['spend_lo80'], code)} to {whole(summ['spend_hi80'], code)})"
            in page)
    assert f"{summ['customers_targeted']:,} of {summ['customers_considered']:,}" in page
    # the campaign section: the latest campaign as `loyalist evaluate campaign` reads it
    camp = pipeline.campaign_results(store)
    rows = pd.read_csv(full["out"] / "exports" / "campaign_results.csv")
    assert list(rows["promotion"]) == [*camp["promotions"], "all promotions"]
    assert rows["revenue_total"].iloc[-1] == pytest.approx(camp["total"]["revenue"]["total"])
    # both extra-buyers numbers, labelled, and why they can differ (exploratory report 6, 5)
    assert rows["buyers_unadjusted_total"].iloc[-1] == pytest.approx(
        camp["total"]["buyers"]["unadjusted_total"])
    for words in (PLAIN_BUYERS, ADJUSTED_BUYERS, ADJUSTED_NOTE):
        assert html.escape(words) in page, words
    assert f"<dt>sent</dt><dd>{camp['days'][0]}</dd>" in page
    assert f"{summ['incremental_revenue']:,.0f}" in page
    assert summ["promotions"][0]["rationale"] in page
    loads = q(store, "SELECT sum(rows_read) AS r, count(*) AS n FROM loads").iloc[0]
    assert f"{int(loads['r']):,}" in page
    tx = q(store, "SELECT count(*) AS n, count(DISTINCT order_id) AS o, sum(amount) AS rev, "
                  "min(ordered_at) AS lo, max(ordered_at) AS hi FROM transactions").iloc[0]
    for v in (f"{int(tx['n']):,}", f"{int(tx['o']):,}", f"{tx['rev']:,.0f}",
              f"{tx['lo'].date()} to {tx['hi'].date()}"):
        assert v in page, v
    scores = q(store, "SELECT * FROM scores")
    tiers = scores["churn_tier"].value_counts()
    assert res["summary"]["churn"]["tier_high"] == tiers["high"]
    assert res["summary"]["clv"]["total"] == pytest.approx(scores["clv_expected"].sum())
    assert f"{scores['clv_expected'].sum():,.0f}" in page
    champions = (scores["rfm_segment"] == "Champions").sum()
    assert re.search(rf"<td class=\"t\">Champions</td><td class=\"\">{champions:,}</td>", page)
    # the model card's out-of-time numbers, from --train-dir
    models = built["train"]["metrics"]["evaluation"]["churn"]["models"]
    auc = models["model"]["roc_auc"]
    assert f"{auc:.3f}" in page and "alt=\"churn calibration plot\"" in page
    # the numbers a page scored by the churn model gives (this store scores by a baseline)
    from loyalist.report.html import _auc_against_baselines

    best = max((v["roc_auc"], k) for k, v in models.items()
               if k != "model" and v.get("roc_auc") is not None)
    assert _auc_against_baselines({"models": models}) == (
        f" (out-of-time ROC-AUC {auc:.3f}; the best baseline, {best[1]}, {best[0]:.3f})")
    assert _auc_against_baselines(None) == _auc_against_baselines({"models": {}}) == ""
    fc = res["summary"]["forecast"]
    assert fc["model"] == built["forecast"]["series"]["total"]["model"]
    assert fc["mase_vs_seasonal_naive"] == pytest.approx(
        built["forecast"]["series"]["total"]["mase_vs_seasonal_naive"], abs=1e-3)
    rc = res["summary"]["recommendations"]
    assert rc["customers"] == built["recs"]["customers"] and rc["method"] == "hybrid"
    assert "Why products are on the lists" in page  # the reasons' shares, as recommend said
    for why, share in built["recs"]["reasons"].items():
        assert re.search(rf"<td class=\"t\">{re.escape(why)}</td>.*?{100 * share:.1f}%",
                         page), why
    # bought together: the most frequent pair, counted in the store's own orders
    tg = res["summary"]["together"]
    assert (tg["orders"], tg["rules"]) == (built["together"]["orders"],
                                           built["together"]["rules"])
    best = q(store, "SELECT * FROM basket_rules ORDER BY count DESC, confidence DESC, "
                    "product_id LIMIT 1").iloc[0]
    both = q(store, """SELECT count(*) AS n FROM (
        SELECT order_id FROM transactions WHERE line_kind = 'sale' AND quantity > 0
        GROUP BY order_id HAVING bool_or(product_id = ?) AND bool_or(product_id = ?))""",
             [best["product_id"], best["consequent"]])["n"].iloc[0]
    assert tg["top_pair_orders"] == best["count"] == both
    assert re.search(rf"<td class=\"t\">{re.escape(str(best['consequent']))}</td>"
                     rf"(<td class=\"t\">[^<]*</td>)?<td class=\"\">{both:,}</td>", page)
    run = json.loads((full["out"] / "run.json").read_text())
    assert run["command"] == "report" and str(store) in run["inputs"]
    assert run["metrics"]["plan"]["spend"] == pytest.approx(summ["spend"])


def test_self_contained_offline(full: dict[str, Any]) -> None:
    page = full["html"]
    p = parse(page)
    assert not any(t in ("script", "link", "iframe", "object") for t, _ in p.tags)
    refs = [(t, k, v) for t, a in p.tags for k, v in a.items() if k in ("src", "href")]
    assert refs
    for tag, key, value in refs:
        assert value and not re.match(r"(?i)\s*(https?:)?//", value), (tag, key, value)
        assert value.startswith("data:") if key == "src" else value.startswith("#")
    assert not re.search(r"(?i)(src|href)\s*=\s*[\"']?\s*https?://", page)
    assert "url(" not in page and "@import" not in page
    imgs = [a for t, a in p.tags if t == "img"]
    assert len(imgs) >= 10
    for a in imgs:
        src = a["src"] or ""
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1]).startswith(b"\x89PNG\r\n\x1a\n")
        assert a.get("alt")


def test_html_parses_without_errors(full: dict[str, Any]) -> None:
    p = parse(full["html"])
    assert p.errors == [] and p.stack == []
    assert [t for t, _ in p.tags].count("h1") == 1
    assert full["html"].startswith("<!DOCTYPE html>")


def test_exports_both_formats_with_store_row_counts(built: dict[str, Any],
                                                    full: dict[str, Any]) -> None:
    store, exp = built["store"], full["out"] / "exports"
    with Store(store, read_only=True) as st:
        code = currency(st)
    assert code == "USD"  # a generated scenario's
    summ = json.loads(q(store, "SELECT summary FROM plans")["summary"].iloc[0])
    expected = {
        "scores": q(store, "SELECT count(*) AS n FROM scores")["n"].iloc[0],
        "segments": q(store, "SELECT count(DISTINCT rfm_segment) AS n FROM scores")["n"].iloc[0],
        "clusters": q(store, "SELECT count(DISTINCT cluster_name) AS n FROM scores")["n"].iloc[0],
        "plan_customers": summ["customers_targeted"],
        "plan_promotions": len(summ["promotions"]),
        "forecast": q(store, "SELECT count(*) AS n FROM forecast")["n"].iloc[0],
        "forecast_backtest": q(store, "SELECT count(*) AS n FROM forecast_backtest")["n"].iloc[0],
        "recommendations": q(store, "SELECT count(*) AS n FROM recommendations")["n"].iloc[0],
    }
    assert set(full["res"]["exports"]) == set(EXPORTS)
    for name, n in expected.items():
        csv, parquet = pd.read_csv(exp / f"{name}.csv"), pd.read_parquet(exp / f"{name}.parquet")
        assert len(csv) == len(parquet) == n > 0, name
        assert list(csv.columns) == list(parquet.columns), name
        # amounts of money say their currency (the store's); the other tables do not
        assert ("currency" in csv.columns) == (name in MONEY_EXPORTS), name
        if name in MONEY_EXPORTS:
            assert set(csv["currency"]) == {code}, name
    seg = pd.read_parquet(exp / "segments.parquet")
    assert seg["customers"].sum() == expected["scores"]
    assert seg["customer_share"].sum() == pytest.approx(1.0)
    pc = pd.read_parquet(exp / "plan_customers.parquet")
    assert pc["expected_cost"].sum() == pytest.approx(summ["spend"], rel=1e-6)
    assert sorted(pd.read_csv(exp / "plan_promotions.csv")["rank"]) == list(
        range(1, len(summ["promotions"]) + 1))
    # the header an empty plan writes is the one a plan with promotions has
    assert list(pd.read_parquet(exp / "plan_promotions.parquet").columns) == [
        *s.PLAN_PROMOTION_COLUMNS, "currency"]


def test_forecast_writes_its_tables_replacing_the_same_as_of(built: dict[str, Any]) -> None:
    store, fc = built["store"], built["forecast"]
    rows = q(store, "SELECT * FROM forecast ORDER BY series, date")
    assert len(rows) == 14 and set(rows["series"]) == {"total"}
    assert {"series", "date", "model", "mean", "lo80", "hi80", "lo95", "hi95", "as_of"} <= set(
        rows.columns)
    assert (rows["as_of"].dt.date.astype(str) == fc["as_of"]).all()
    assert rows["model"].iloc[0] == fc["series"]["total"]["model"]
    assert (rows["lo95"] <= rows["lo80"]).all() and (rows["hi80"] <= rows["hi95"]).all()
    csv = pd.read_csv(built["root"] / "forecast" / "forecast.csv")
    assert rows["mean"].to_numpy() == pytest.approx(csv["mean"].to_numpy())
    assert set(csv["currency"]) == {"USD"}  # the store's: a generated scenario's
    bt = q(store, "SELECT * FROM forecast_backtest")
    assert len(bt) == len(pd.read_csv(built["root"] / "forecast" / "backtest.csv")) > 0
    assert {"seasonal_naive", "auto"} <= set(bt["model"])
    # the same as_of again replaces; another as_of adds (on a copy: others read the original)
    copy = built["root"] / "copy.duckdb"
    shutil.copy(store, copy)
    again = pipeline.forecast(copy, 7, built["root"] / "fc2", models="seasonal_naive")
    assert again["as_of"] == fc["as_of"]
    assert len(q(copy, "SELECT * FROM forecast")) == 7
    pipeline.forecast(copy, 7, built["root"] / "fc3", models="seasonal_naive",
                      as_of="2025-12-01")
    n = q(copy, "SELECT as_of, count(*) AS n FROM forecast GROUP BY 1 ORDER BY 1")
    assert list(n["n"]) == [7, 7]
    bt_at = q(copy, "SELECT DISTINCT as_of FROM forecast_backtest")
    assert len(bt_at) == 2
    pipeline.forecast(copy, 7, built["root"] / "fc4", models="seasonal_naive",
                      as_of="2025-11-01", save=False)
    assert len(q(copy, "SELECT * FROM forecast")) == 14


def test_as_of_picks_results_and_notes_what_is_missing(built: dict[str, Any],
                                                       tmp_path: Path) -> None:
    res = pipeline.report(built["store"], tmp_path, as_of=built["plan"]["as_of"])
    assert res["sections"] == list(SECTIONS) and set(res["exports"]) == set(EXPORTS)
    page = (tmp_path / "report.html").read_text()
    value = f"{built['plan']['goal_value']:,.0f}"
    # the plan's value in the goal's own unit, as the dashboard shows it (money: no decimals)
    assert f"<dt>expected value</dt><dd>{value} USD of incremental revenue</dd>" in page
    # no --train-dir: the out-of-time evaluation `train` kept in the store's runs table
    auc = built["train"]["metrics"]["evaluation"]["churn"]["models"]["model"]["roc_auc"]
    assert "Out-of-time evaluation (model card)" in page and f"{auc:.3f}" in page
    assert "No model metrics" not in page
    # the same folder again, for a cutoff with no results: nothing stale is left behind
    res = pipeline.report(built["store"], tmp_path, as_of="2025-06-01")
    # the campaign is read from the data, as of then: the last one sent before 2025-06-01
    assert res["sections"] == ["quality", "campaign"] and res["as_of"] == "2025-06-01"
    assert set(res["absent"]) == set(SECTIONS) - {"quality", "campaign"}
    assert "no rows at as_of 2025-06-01" in res["absent"]["churn"]
    page = (tmp_path / "report.html").read_text()
    assert "Not in this report" in page and "--as-of 2025-06-01" in page
    last = q(built["store"], "SELECT max(CAST(sent_at AS DATE)) AS d FROM promotions "
             "WHERE sent_at < DATE '2025-06-01'")["d"].iloc[0]
    assert f"<dt>sent</dt><dd>{pd.Timestamp(last).date()}</dd>" in page
    assert set(res["exports"]) == {"campaign_results"}
    assert {p.stem for p in (tmp_path / "exports").iterdir()} == {"campaign_results"}
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == ["campaign.png",
                                                                      "monthly.png"]
    # exploratory report 4: the data quality totals and the monthly chart read the sales
    # before as_of, as every section does, and say how many lines come after it
    before = q(built["store"], "SELECT count(*) AS n, max(ordered_at) AS last, sum(amount) AS v "
               "FROM transactions WHERE ordered_at < DATE '2025-06-01'").iloc[0]
    after = q(built["store"], "SELECT count(*) AS n FROM transactions "
              "WHERE ordered_at >= DATE '2025-06-01'")["n"].iloc[0]
    assert f"<dt>transaction lines stored</dt><dd>{before['n']:,}</dd>" in page
    assert f"to {pd.Timestamp(before['last']).date()}</dd>" in page
    assert (f"Sales before as_of 2025-06-01, as every section reads them; the store holds "
            f"{after:,} more line(s) after it.") in page


def test_store_with_only_transactions(tmp_path: Path) -> None:
    rows = [line(order=str(i), customer=f"c{i % 4}", when=f"2024-0{1 + i % 6}-0{1 + i % 9} 10:00",
                 price=2.5 + i) for i in range(30)]
    rows += [line(order="bad", price=0), line(order="bad2", qty="x"), line(order="g", customer="")]
    store = tmp_path / "tx.duckdb"
    pipeline.ingest(store, [write_csv(tmp_path / "t.csv", rows)])
    res = pipeline.report(store, tmp_path / "out")
    assert res["sections"] == ["quality"] and res["exports"] == {}
    assert set(res["absent"]) == set(SECTIONS) - {"quality"}
    assert "loyalist train" in res["absent"]["segments"]
    assert "loyalist plan" in res["absent"]["plan"]
    # its lines all hold one product: `loyalist together` would refuse it, so the report says
    # why instead of sending the reader to that command
    assert "hold one product" in res["absent"]["together"]
    assert "loyalist together" not in res["absent"]["together"]
    page = (tmp_path / "out" / "report.html").read_text()
    p = parse(page)
    assert p.errors == [] and p.h2 == ["Data quality"]
    assert "Not in this report" in page
    for heading in HEADINGS[1:]:
        assert f"<b>{heading}</b>" in page
    h = res["summary"]["quality"]
    assert (h["rows_read"], h["rows_loaded"], h["rows_quarantined"]) == (33, 31, 2)
    assert h["guest_lines"] == 1
    # exploratory report 6a, G10: a month the data end in drew as a collapse, unmarked
    assert "Part of a month only (hatched bars): June 2024 holds 1-9 Jun;" in page
    assert "January 2024 holds" not in page
    for rule in ("non_positive_price", "unparseable_quantity", "guest"):
        assert f">{rule}<" in page
    # the store's counts say so (the ingest quality report counts the rows read)
    facts = dict(re.findall(r"<dt>([^<]*)</dt><dd>([^<]*)</dd>", page))
    assert (facts["transaction lines stored"], facts["rows read"]) == ("31", "33")
    assert facts["orders stored"] == str(q(store, "SELECT count(DISTINCT order_id) AS n "
                                                  "FROM transactions")["n"].iloc[0])
    assert {"customers stored", "products stored"} <= set(facts) and "orders" not in facts
    assert "3.0%" in page  # 1 of 33 rows read
    # plain numbers: the currency is unknown, and no code or sign is invented
    assert "amounts in" not in page and "net revenue" in facts
    assert re.fullmatch(r"[0-9,]+", facts["net revenue"])
    assert (tmp_path / "out" / "run.json").is_file()
    assert list((tmp_path / "out" / "exports").iterdir()) == []


def test_missing_or_empty_store_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"no store here; create one with `loyalist ingest"):
        pipeline.report(tmp_path / "nope.duckdb", tmp_path / "out")
    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()
    with pytest.raises(StoreError, match=r"an empty DuckDB database, not a store yet; create "
                                         r"one with `loyalist ingest"):
        pipeline.report(empty, tmp_path / "out")
    with Store(tmp_path / "typo.duckdb"):  # made and left empty: removed again on close
        pass
    assert not (tmp_path / "typo.duckdb").exists()
    with Store(tmp_path / "new.duckdb") as st:  # customers loaded, no sales yet
        st.con.execute("INSERT INTO customers (customer_id) VALUES ('c1')")
    with pytest.raises(StoreError, match=r"table 'transactions' is empty; load data first"):
        pipeline.report(tmp_path / "new.duckdb", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_train_dir_without_metrics(built: dict[str, Any], tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"no metrics.json there"):
        pipeline.report(built["store"], tmp_path / "out", train_dir=tmp_path)


def test_cli_report(built: dict[str, Any], tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from loyalist.cli.main import app

    runner = CliRunner()
    r = runner.invoke(app, ["report", "--store", str(built["store"]), "--out",
                            str(tmp_path / "r"), "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["sections"] == list(SECTIONS) and Path(doc["files"]["html"]).is_file()
    r = runner.invoke(app, ["report", "--store", str(built["store"]), "--out",
                            str(tmp_path / "r"), "--quiet"])
    said = " ".join(r.stdout.split())  # rich wraps at the terminal width
    assert r.exit_code == 0 and "(9 sections: Data quality, Segments" in said
    assert f"plan_customers {built['plan']['customers_targeted']:,} rows" in said
    assert "loyalist report --store" in runner.invoke(app, ["report", "--help"]).stdout
    # the real entry point: one red line and exit code 2, no traceback
    p = subprocess.run([sys.executable, "-m", "loyalist", "report", "--store",
                        str(tmp_path / "none.duckdb"), "--out", str(tmp_path / "r2")],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert "no store here" in p.stderr and len(p.stderr.strip().splitlines()) <= 2


def number_columns(page: str) -> dict[tuple[int, str], list[str]]:
    """(table number, heading) -> the numbers of that column, as printed."""
    out: dict[tuple[int, str], list[str]] = {}
    for i, tab in enumerate(re.findall(r"<table>(.*?)</table>", page, re.S)):
        heads = re.findall(r"<th[^>]*>([^<]*)</th>", tab)
        for row in re.findall(r"<tr>(.*?)</tr>", tab.split("</thead>")[-1], re.S):
            for head, cell in zip(heads, re.findall(r"<td[^>]*>([^<]*)</td>", row),
                                  strict=True):
                if re.fullmatch(r"-?[\d,]+(\.\d+)?", cell):
                    out.setdefault((i, head), []).append(cell)
    return out


def test_one_format_per_column_and_roi_as_percent(built: dict[str, Any],
                                                  full: dict[str, Any]) -> None:
    page = full["html"]
    columns = number_columns(page)
    assert ("recency" in " ".join(h for _, h in columns))
    for key, cells in columns.items():
        places = {len(c.split(".")[1]) if "." in c else 0 for c in cells}
        assert len(places) == 1, (key, cells)  # one number of decimals per column
    assert not re.search(r">0\.000<", page)
    # ROI as a whole percent, as the dashboard shows it
    summ = built["plan"]
    assert f"<dt>ROI</dt><dd>{100 * summ['roi']:,.0f}%</dd>" in page
    for promo in summ["promotions"]:
        if promo["roi"] is not None:
            assert f">{100 * promo['roi']:,.0f}%<" in page
    # the optimality gap as the dashboard and the CLI show it (exploratory report 6, finding
    # 16: 0.05% on the dashboard, "0.0% (milp)" here, for the same plan)
    opt = summ["optimizer"]
    assert f"<dt>optimality gap</dt><dd>{gap_text(opt['gap'])} ({opt['method']})</dd>" in page


def test_one_gap_text_for_every_output() -> None:
    assert [gap_text(x) for x in (0.0005, 0.0, -0.0, -1e-12, 0.01234, None, float("nan"))] == [
        "0.05%", "0.00%", "0.00%", "0.00%", "1.23%", "n/a", "n/a"]


def test_forecast_vs_naive_is_one_rounding_of_one_ratio(monkeypatch: pytest.MonkeyPatch,
                                                       tmp_path: Path) -> None:
    """Mean MASE 0.74146 against 1.0: -25.854%, "-25.9%" in the report and the CLI (the CLI
    printed "-25.8%" from the ratio rounded to 0.7415 first; the forecaster now reports it
    unrounded, test_forecast.py checks that, and the CLI formats it as the report does)."""
    from typer.testing import CliRunner

    from loyalist.cli.main import app
    from loyalist.report.html import vs_baseline

    bt = pd.DataFrame({"series": "total", "model": ["ets", "ets", "seasonal_naive",
                                                    "seasonal_naive"],
                       "origin": ["2025-11-01", "2025-12-01"] * 2,
                       "mase": [0.64146, 0.84146, 1.1, 0.9]})
    bt.to_csv(tmp_path / "backtest.csv", index=False)
    ratio = mase_vs_naive(bt, "total", "ets")
    assert ratio == pytest.approx(0.74146, abs=1e-12) and vs_baseline(ratio) == "-25.9%"
    assert mase_vs_naive(bt.iloc[::-1], "total", "ets") == ratio  # row order does not matter
    assert mase_vs_naive(bt, "total", "theta") is None
    metrics = {"mase": 0.7415, "mape": 0.1, "coverage80": 0.8, "coverage95": 0.95}
    res = {"as_of": "2026-01-01", "horizon": 14, "holidays": None, "origins": ["2025-11-01"],
           "skipped": {}, "files": {"backtest": str(tmp_path / "backtest.csv")}, "totals": [],
           "series": {"total": {"model": "ets", "mase_vs_seasonal_naive": ratio,
                                "calendar": {"notes": []}, "notes": [],
                                "backtest": {"ets": metrics,
                                             "seasonal_naive": {"mase": 1.0}}}}}
    monkeypatch.setattr(pipeline, "forecast", lambda *a, **k: res)  # the CLI calls the facade
    r = CliRunner().invoke(app, ["forecast", "--store", str(tmp_path / "x.duckdb"), "--out",
                                 str(tmp_path)])
    assert r.exit_code == 0, r.output
    assert "-25.9%" in r.stdout and "-25.8%" not in r.stdout


def test_plan_with_no_promotion(built: dict[str, Any], tmp_path: Path) -> None:
    """A plan that targets nobody: promotions.csv and the exports keep their header, and the
    report says why under "Ranked promotions", as the dashboard does."""
    store = tmp_path / "copy.duckdb"
    shutil.copy(built["store"], store)
    planned = pipeline.plan(store, budget=300, goal="reactivation", segments=[s.NEW_SEGMENT],
                            out=tmp_path / "plan")
    assert planned["summary"]["customers_targeted"] == 0
    csv = pd.read_csv(tmp_path / "plan" / "promotions.csv")  # the store's currency beside
    assert list(csv.columns) == [*s.PLAN_PROMOTION_COLUMNS, "currency"] and len(csv) == 0
    res = pipeline.report(store, tmp_path / "report")
    exp = tmp_path / "report" / "exports"
    for frame in (pd.read_csv(exp / "plan_promotions.csv"),
                  pd.read_parquet(exp / "plan_promotions.parquet")):
        assert list(frame.columns) == [*s.PLAN_PROMOTION_COLUMNS, "currency"] and len(
            frame) == 0
    assert res["summary"]["plan"]["plan_id"] == planned["summary"]["plan_id"]
    page = (tmp_path / "report" / "report.html").read_text()
    after = re.sub(r"<[^>]+>", " ", page.split("<h3>Ranked promotions</h3>")[1])
    assert after.split()[:4] == ["The", "plan", "targets", "nobody:"]
    assert "<dt>expected value</dt><dd>0 lapsed customers won back</dd>" in page
    assert "0.000" not in page


def test_guest_only_store_says_so_instead_of_train(tmp_path: Path) -> None:
    rows = [line(order=str(i), customer="", when=f"2024-0{1 + i % 6}-0{1 + i % 9} 10:00")
            for i in range(20)]
    store = tmp_path / "guests.duckdb"
    pipeline.ingest(store, [write_csv(tmp_path / "g.csv", rows)])
    res = pipeline.report(store, tmp_path / "out")
    for key in ("segments", "churn", "clv", "plan", "recommendations"):
        assert "every line in the store is a guest line" in res["absent"][key], key
        assert "loyalist train" not in res["absent"][key]
    assert "loyalist forecast" in res["absent"]["forecast"]


def test_a_missing_as_of_hint_keeps_the_option_inside_the_command(tmp_path: Path) -> None:
    """Exploratory report 4b, D8: the hint read "run `loyalist train --store S` --as-of D",
    the option outside the command's backticks."""
    from loyalist.report.data import _pick_as_of

    with Store(tmp_path / "s.duckdb") as st:
        st.write_frame(s.T_SCORES, pd.DataFrame({s.CUSTOMER_ID: ["c1"],
                                                 "as_of": [pd.Timestamp("2025-01-01")]}))
        ts, why = _pick_as_of(st, s.T_SCORES, pd.Timestamp("2024-06-01"),
                              f"run `loyalist train --store {st.path}`")
    assert ts is None and why == (
        "`scores` has no rows at as_of 2024-06-01 (latest: 2025-01-01); run `loyalist train "
        f"--store {tmp_path / 's.duckdb'} --as-of 2024-06-01`")


def test_an_as_of_before_the_data_is_not_sent_to_a_command_that_fails(
        built: dict[str, Any], tmp_path: Path) -> None:
    """explore7 I12: `report --as-of 2019-01-01` (before the first sale) advised "run `loyalist
    train ... --as-of 2019-01-01`", which then failed: no customer has a purchase before it."""
    res = pipeline.report(built["store"], tmp_path, as_of="2019-01-01")
    first = q(built["store"], "SELECT min(ordered_at) AS t FROM transactions")["t"].iloc[0]
    assert res["sections"] == ["quality"]
    for why in res["absent"].values():
        assert "run `loyalist" not in why, why
        assert why.endswith(f"which is not after the first sale ({first.date()}), so nothing "
                            "can be computed at it; give a later --as-of"), why


def test_churn_section_warns_when_the_model_loses_to_its_baseline() -> None:
    """The report's churn section repeats the evaluation's warning above its table."""
    from loyalist.report.html import RENDER

    tiers = pd.DataFrame({"tier": ["medium", "low"], "customers": [200, 200],
                          "share": [0.5, 0.5], "mean_probability": [0.5, 0.38],
                          "min_probability": [0.4, 0.37], "max_probability": [0.68, 0.4]})
    d = {"headline": {"as_of": "2025-01-01", "customers": 400, "mean_probability": 0.45},
         "tiers": tiers, "reasons": pd.DataFrame(columns=["reason", "customers"]),
         "evaluation": {"models": {"model": {"roc_auc": 0.448}}, "warning": "the churn "
                        "model's out-of-time ROC-AUC 0.448 is no better than chance"}}
    page = RENDER["churn"](d, {})
    assert "<strong>Warning:</strong> the churn model&#x27;s out-of-time ROC-AUC 0.448" in page
    assert page.index("Warning:") < page.index("<table", page.index("Out-of-time"))
    del d["evaluation"]["warning"]
    assert "Warning:" not in RENDER["churn"](d, {})


def test_segments_section_shows_the_rules_and_the_grid(full: dict[str, Any]) -> None:
    """Audit 8 findings 10 and 8: the 11-segment rules were only in segment/rfm.py and the
    10-cell recency x frequency grid only in the library. The report lists the rules in the
    order they are applied (from the scheme itself) and profiles the grid's cells."""
    import html as htmllib

    from loyalist.segment.rfm import GRID10, NAMED11, grid_label

    page = full["html"]
    seg = page[page.index('id="segments"'):page.index('id="churn"')]
    rules = seg[seg.index('id="segment-rules"'):seg.index('id="grid"')]
    at = [rules.index(f'<td class="t">{htmllib.escape(r.name)}</td>'
                      f'<td class="t">{htmllib.escape(r.rule)}</td>') for r in NAMED11]
    assert at == sorted(at)
    assert "R 4-5 and F 4-5 and M 4-5" in rules and "first rule, in this order" in rules
    grid = seg[seg.index('id="grid"'):]
    for r in GRID10:
        assert f'<td class="t">{htmllib.escape(r.rule)}</td>' in grid
    # the grid's cells are labelled as its own where they share a name with a segment of
    # other rules (exploratory report 6, finding 8); the export keeps the cells' names
    shared = {r.name for r in GRID10} & {r.name for r in NAMED11}
    assert {"At Risk", "Can't Lose Them", "Champions"} <= shared
    for name in shared:
        assert f'<td class="t">{htmllib.escape(grid_label(name))}</td>' in grid, name
        assert f'<td class="t">{htmllib.escape(name)}</td>' not in grid, name
    assert "RF grid:" not in seg[:seg.index('id="grid"')]
    exported = pd.read_csv(full["out"] / "exports" / "segments_grid.csv")
    scores = pd.read_csv(full["out"] / "exports" / "scores.csv")
    assert exported["customers"].sum() == len(scores)
    assert set(exported["segment"]) == set(scores["grid_segment"])


def test_clv_section_warns_when_the_model_loses_to_bgnbd() -> None:
    """Audit 8 finding 4: the report's CLV section repeats the evaluation's CLV warning above
    its table (the model lost to BG/NBD + Gamma-Gamma), and the churn section says its tier
    thresholds (finding 5)."""
    from loyalist.report.data import churn, clv
    from loyalist.report.html import RENDER

    ts = pd.Timestamp("2025-01-01")
    scores = pd.DataFrame({"customer_id": ["a", "b", "c"], "clv_expected": [10.0, 20.0, 30.0],
                           "churn_probability": [0.2, 0.4, 0.8],
                           "churn_tier": ["low", "medium", "high"], "reasons": ["", "", ""]})
    w = ("the CLV model's out-of-time RMSE 341.6 is 3.4% above BG/NBD + Gamma-Gamma's (330.3) "
         "and its Spearman 0.180 is 0.050 below (0.230)")
    ev = {"models": {"model": {"rmse": 341.6}, "bgnbd_gg": {"rmse": 330.3}}, "warning": w}
    page = RENDER["clv"](clv(scores, ts, ev), {})
    assert "<strong>Warning:</strong> the CLV model&#x27;s out-of-time RMSE 341.6" in page
    assert page.index("Warning:") < page.index("<table", page.index("Out-of-time"))
    del ev["warning"]
    assert "Warning:" not in RENDER["clv"](clv(scores, ts, ev), {})
    # what CLV is: the horizon and gross (exploratory report 10: neither was said)
    assert ("CLV is each customer's expected spend in the 90 days after as_of, gross: "
            "what they will buy, before any returns") in RENDER["clv"](
        clv(scores, ts, ev, horizon=90), {})
    page = RENDER["churn"](churn(scores, ts, scoring={"scored_by": "model",
                                                      "tier_thresholds": [0.3, 0.6]}), {})
    assert "Tiers: high above 0.6, medium 0.3 to 0.6, low below 0.3" in page


def test_forecast_and_clv_figures_read_as_labelled(built: dict[str, Any],
                                                   tmp_path: Path) -> None:
    """explore7 I9: the table called "Backtest" had a "forecast total" column that is the
    forward forecast, with category rows adding up to more than the total and nothing saying
    why; the CLV section showed "sum of p90", which is no quantile of the total."""
    copy = tmp_path / "copy.duckdb"
    shutil.copy(built["store"], copy)
    pipeline.forecast(copy, 7, tmp_path / "fc", by="category", models="seasonal_naive")
    pipeline.report(copy, tmp_path / "report")
    page = (tmp_path / "report" / "report.html").read_text(encoding="utf-8")
    fc = q(copy, "SELECT series, sum(mean) AS s, count(*) AS n FROM forecast GROUP BY 1")
    total = float(fc.loc[fc["series"] == "total", "s"].iloc[0])
    parts = fc[fc["series"].str.startswith("category=")]
    assert len(parts) > 1
    diff = float(parts["s"].sum()) / total - 1
    assert "<th class=\"\">forecast revenue (USD)</th>" in page and "forecast total" not in page
    assert "Backtest (means over rolling origins)" not in page
    assert (f"each series has its own model, so the {len(parts)} category forecasts are not "
            f"reconciled with the total: they add up to {parts['s'].sum():,.0f} USD, "
            f"{abs(100 * diff):.1f}% {'above' if diff >= 0 else 'below'} the total&#x27;s "
            f"{total:,.0f} USD.") in page
    assert "sum of p" not in page
    scores = q(copy, "SELECT clv_p10, clv_p90 FROM scores")
    width = (scores["clv_p90"] - scores["clv_p10"]).median()
    assert (f"<dt>median p10-p90 width per customer</dt><dd>{width:,.0f} USD</dd>") in page


def test_a_date_axis_over_a_gap_draws_without_warnings() -> None:
    """Exploratory report 10: two years of months and one stray month two years later made
    matplotlib print "AutoDateLocator was unable to pick an appropriate interval" on the
    merchant's screen; it picks its own ticks and says nothing."""
    import warnings

    import numpy as np

    from loyalist.report.plots import monthly

    months = [*pd.date_range("2022-12-01", "2024-11-01", freq="MS"), pd.Timestamp("2026-11-01")]
    frame = pd.DataFrame({"month": months, "revenue": np.arange(len(months)) * 10.0,
                          "customers": np.arange(len(months))})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert monthly(frame).startswith(b"\x89PNG")
    # the currency is drawn on the axis of amounts ("net revenue (GBP)"): the same picture
    # without it differs, and the same one with it does not
    assert monthly(frame, "GBP") == monthly(frame, "GBP") != monthly(frame)


def test_a_model_not_corrected_for_the_season_says_how_busy_its_window_was(
        tmp_path: Path) -> None:
    # exploratory report 6, findings 1-2: on UCI (one year) the models are set at the level of
    # the Christmas quarter and applied to January, and only the model card said so
    from loyalist.report.data import unseasoned

    days = pd.date_range("2024-01-01", "2024-06-29", freq="D")
    rows = [line(order=f"o{i}", customer=f"c{i % 7}", when=f"{d.date()} 10:00")
            for i, d in enumerate(days)]  # one order a day until the window...
    rows += [line(order=f"w{i}-{k}", customer=f"c{k}", when=f"{d.date()} 11:00")
             for i, d in enumerate(pd.date_range("2024-05-31", "2024-06-29"))
             for k in range(2)]  # ...then three a day in it
    store = tmp_path / "s.duckdb"
    pipeline.ingest(store, [write_csv(tmp_path / "t.csv", rows)])
    note = "no training cutoff a year before the scored window (it needs 14 months)"
    training = {"holdout_cutoff": "2024-05-31", "horizon_days": 30,
                "churn_season": {"cutoff": None, "note": note}}
    with Store(store, read_only=True) as st:
        said = unseasoned(st, training)
        assert said == {"churn": (
            "Churn risk is set at the level of the latest training window, "
            "2024-05-31 to 2024-06-29, which had 3.0x the orders per day of the history before "
            "it: in a quieter season more customers will leave than shown. It is not corrected "
            f"for the season: {note}.")}  # the CLV model's entry is missing: it says nothing
        # each model speaks for itself: the CLV model corrected, the churn model not
        both = dict(training, clv_season={"cutoff": None, "note": note})
        assert unseasoned(st, both)["clv"].startswith(
            "Expected spend is set at the level of the latest training window, 2024-05-31 to "
            "2024-06-29, which had 3.0x the orders per day of the history before it: in a "
            "quieter season customers will spend less than shown.")
        corrected = dict(both, churn_season={"cutoff": "2023-07-01", "note": None})
        assert set(unseasoned(st, corrected)) == {"clv"}
        assert unseasoned(st, {}) == {}  # metrics of an older version


def test_sensitivity_roi_axis_starts_at_zero_and_shows_the_bound() -> None:
    """Exploratory report 6, finding 10: the plan plots' ROI axis ran from 400% to 540%, so a
    flat 399% ROI from budget 1,091 on read as a crash to zero, and the 'upper bound' line lay
    hidden under the plan's. The report's and ``loyalist plan``'s plots draw one panel."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from loyalist.promote.report import draw_sensitivity

    sens = pd.DataFrame({"budget": [0.0, 545.0, 1091.0, 2000.0, 4000.0],
                         "value": [0.0, 50.2, 79.4, 79.4, 79.4],
                         "bound": [0.0, 50.3, 79.4, 79.4, 79.4],
                         "roi": [None, 5.359, 3.994, 3.994, 3.994]})
    fig = Figure()
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    draw_sensitivity(ax, sens, 2000.0, "retention value")
    (roi,) = [a for a in fig.axes if a is not ax]
    lo, hi = roi.get_ylim()
    assert lo == 0 and hi > 536 and ax.get_ylim()[0] <= 0
    ticks = [t for t in roi.get_yticks() if lo <= t <= hi]
    assert ticks[0] == 0 and all(t % 100 == 0 for t in ticks), ticks
    fig.canvas.draw()
    assert [t.get_text() for t in roi.get_yticklabels()][:2] == ["0%", f"{ticks[1]:.0f}%"]
    handles, labels = ax.get_legend().legend_handles, [
        t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0] == "upper bound (proven)"
    assert handles[0].get_linewidth() > handles[1].get_linewidth()


def test_amounts_name_the_store_currency(built: dict[str, Any], full: dict[str, Any],
                                         tmp_path: Path) -> None:
    """The generated fashion store is in USD (its scenario.json, read at ingest): the page
    says so at the top, after each amount shown alone and in each heading of a column of
    amounts; the plan's JSON, CSVs and sentences name it too."""
    page, h = full["html"], full["res"]["summary"]["quality"]
    assert currency(built["store"]) == "USD"
    assert " · amounts in USD · " in page
    assert f"<dt>net revenue</dt><dd>{h['net_revenue']:,.0f} USD</dd>" in page
    assert '<th class="">revenue (gross) (USD)</th>' in page
    assert '<th class="">incr. revenue (USD)</th>' in page
    plan = built["plan"]
    assert plan["currency"] == "USD" and plan["promotions"]
    assert all(re.search(r" [0-9,.]+ USD of spend \(", p["rationale"])
               for p in plan["promotions"]), [p["rationale"] for p in plan["promotions"]]
    files = pipeline.plan(built["store"], budget=1000, goal="revenue", save=False,
                          out=tmp_path / "plan")["summary"]["files"]
    assert json.loads(Path(files["json"]).read_text())["currency"] == "USD"
    for name in ("customers", "promotions", "allocation", "segments", "sensitivity"):
        assert set(pd.read_csv(files[name])["currency"]) == {"USD"}, name
    assert "currency" not in pd.read_csv(files["sends"]).columns  # history to load, as it was
    # the commands' JSON documents that carry amounts
    assert built["forecast"]["currency"] == "USD"
    assert pipeline.clv_fit(built["store"], model="gammagamma")["currency"] == "USD"
    copy = tmp_path / "copy.duckdb"
    shutil.copy(built["store"], copy)
    scored = pipeline.score(copy, model_dir=built["root"] / "train" / "model")
    assert scored["currency"] == "USD"
