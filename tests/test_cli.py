"""The real command, run as a subprocess: output, JSON, exit codes, one-line errors."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest
from conftest import CDNOW_MASTER, CDNOW_SAMPLE, line, need_shared, write_csv

EXE = [sys.executable, "-m", "loyalist"]


def run(*args: str | Path, ok: bool = True) -> subprocess.CompletedProcess[str]:
    p = subprocess.run([*EXE, *map(str, args)], capture_output=True, text=True, timeout=300)
    if ok:
        assert p.returncode == 0, p.stderr
    return p


def test_version_and_help_examples() -> None:
    assert run("--version").stdout.startswith("loyalist ")
    for cmd in ("ingest", "features", "generate", "demo", "run", "clv fit", "evaluate purchases",
                "evaluate promotions", "evaluate campaign"):
        out = run(*cmd.split(), "--help").stdout
        assert "Example" in out and f"loyalist {cmd}" in out, cmd


def test_ingest_json_then_features(tmp_path: Path) -> None:
    f = write_csv(tmp_path / "t.csv", [line(), line(order="2", price=0),
                                       line(order="3", when="2024-01-05 10:00:00")])
    store = tmp_path / "s.duckdb"
    doc = json.loads(run("ingest", f, "--store", store, "--json").stdout)
    for key in ("rows_read", "rows_loaded", "rows_quarantined", "rules", "customers",
                "customers_with_purchases", "first_date", "last_date"):
        assert key in doc
    assert (doc["rows_read"], doc["rows_loaded"], doc["rules"]["non_positive_price"]) == (3, 2, 1)
    human = run("ingest", f, "--store", store).stdout
    assert "already_loaded" in human
    out = tmp_path / "f.csv"
    feat = json.loads(run("features", "--store", store, "--as-of", "2024-02-01", "--out", out,
                          "--json").stdout)
    assert feat["customers"] == 1 and out.exists()


def test_ingest_counts_as_loaded_only_customers_with_a_loaded_line(tmp_path: Path) -> None:
    """A customer whose every line was quarantined (c2: a zero price and a date that is no
    date) is not loaded; a customer with only a return loaded (c3) is, without a purchase.
    The customers seen in the file, theirs included, are shown apart under their own name."""
    f = write_csv(tmp_path / "t.csv", [
        line(), line(order="2", product="B"),
        line(order="3", customer="c2", price=0), line(order="4", customer="c2", when="soon"),
        line(order="5", customer="c3", qty=-1)])
    store = tmp_path / "s.duckdb"
    doc = json.loads(run("ingest", f, "--store", store, "--json").stdout)
    assert (doc["rows_loaded"], doc["rows_quarantined"]) == (3, 2)
    assert (doc["customers"], doc["customers_with_purchases"], doc["customers_in_file"]) == (
        2, 1, 3)
    with duckdb.connect(str(store), read_only=True) as con:
        stored = con.execute("SELECT count(DISTINCT customer_id) FROM transactions").fetchone()
    assert stored == (doc["customers"],)
    human = run("ingest", f, "--store", tmp_path / "h.duckdb").stdout
    assert re.search(r"│ customers +│ +2 │", human), human
    assert re.search(r"│ customers_in_file +│ +3 │", human), human


def test_ingest_names_the_currency_and_refuses_another(tmp_path: Path) -> None:
    store = tmp_path / "s.duckdb"
    pounds = write_csv(tmp_path / "gbp.csv", [line(price="£2.50"), line(order="2", price="£4")])
    human = run("ingest", pounds, "--store", store).stdout
    assert re.search(r"│ currency +│ GBP \(£ in column 'unit_price'\) │", human), human
    assert re.search(r"│ revenue_read \(GBP\) +│ +6\.5 │", human), human
    before = _digest(store)
    euros = write_csv(tmp_path / "eur.csv", [line(order="3", price="2,50 €")])
    p = run("ingest", euros, "--store", store, ok=False)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    (msg,) = [x for x in p.stderr.splitlines() if x.startswith("error:")]
    assert "holds amounts in GBP (£ in column 'unit_price')" in msg
    assert "eur.csv's amounts are in EUR (€ in column 'unit_price'); nothing was loaded" in msg
    assert _digest(store) == before


def test_budgets_as_merchants_write_them(tmp_path: Path) -> None:
    """`--budget 5k` (or 5,000, 5 000, £5000, 5000 GBP) is 5,000 and `--budget-per-month
    2,5k` over two months too, as the spend check made before anything is loaded reads them;
    a budget in another currency than the store's is refused, by `plan` before the fit and by
    `run` after the load, which it undoes."""
    store = tmp_path / "s.duckdb"
    pounds = write_csv(tmp_path / "gbp.csv", [line(price="£2.50"), line(order="2", price="£4")])
    run("ingest", pounds, "--store", store)
    limits = tmp_path / "limits.toml"
    limits.write_text("[min_spend]\nten_off = 6000\n")
    for budget in (["--budget", "5k"], ["--budget", "5,000"], ["--budget", "5 000"],
                   ["--budget", "£5000"], ["--budget", "5000 gbp"],
                   ["--budget-per-month", "2,5k", "--months", "2"]):
        p = run("plan", "--store", store, *budget, "--constraints", limits, ok=False)
        assert p.returncode == 2 and "Traceback" not in p.stderr, p.stderr
        assert "(6,000.00) is more than the budget 5,000.00" in p.stderr, (budget, p.stderr)
    before = _digest(store)
    p = run("plan", "--store", store, "--budget", "€5k", "--out", tmp_path / "p", ok=False)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert ("error: --budget is in EUR, but the store's amounts are in GBP, and amounts are "
            "never converted; give it in GBP, e.g. --budget '5,000 GBP'") in p.stderr
    assert _digest(store) == before and not (tmp_path / "p").exists()
    p = run("run", pounds, "--store", tmp_path / "new.duckdb", "--out", tmp_path / "o",
            "--budget-per-month", "2000 USD", ok=False)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert "--budget-per-month is in USD, but the store's amounts are in GBP" in p.stderr
    assert not (tmp_path / "new.duckdb").exists()


def _digest(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def one_line_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store of one sales line, loaded once by the command line; each bad-input case gets
    a copy of the file (loading it per case was 48 more processes)."""
    root = tmp_path_factory.mktemp("one_line")
    store = root / "s.duckdb"
    run("ingest", write_csv(root / "good.csv", [line()]), "--store", store)
    assert not Path(f"{store}.wal").exists()  # the whole store is the one file copied
    return store


BAD_INPUT = [
    (["ingest", "{missing}"], "no such file"),
    (["ingest", "{bad}"], "missing required column"),
    (["ingest", "{good}", "--map", "nope=x"], "not a canonical column"),
    (["ingest", "{good}", "--format", "sap"], "is unknown"),
    (["ingest", "{good}", "--currency", "euro"], "--currency 'euro' is not an ISO 4217 currency "
                                                 "code; give its three letters, e.g. GBP"),
    (["run", "{later}", "--out", "{tmp}/o", "--currency", "XX"], "--currency 'XX' is not an ISO"),
    (["features", "--as-of", "31/31/2020"], "is not a date"),
    # day and month first differ between countries; words would read the clock
    (["features", "--as-of", "01/02/2024"], "use YYYY-MM-DD"),
    (["features", "--as-of", "today"], "use YYYY-MM-DD"),
    (["features", "--as-of", "1990-01-01"], "choose an as_of after"),
    # no example date from another data set
    (["features", "--as-of", "1800-01-01"], "outside 1900-2199; give a date within the data"),
    (["features", "--out", "{tmp}/f.xlsx"], "use a .parquet or .csv"),
    (["generate", "--scenario", "bakery", "--out", "{tmp}/g"], "bakery"),
    # the main job checks its parameters and files before it loads anything
    (["run", "{good}", "--out", "{tmp}/o", "--as-of", "2020-02-30"], "is not a date"),
    (["run", "{good}", "--out", "{tmp}/o", "--budget", "100", "--constraints", "{badtoml}"],
     "cannot parse it as TOML"),
    (["run", "{good}", "--out", "{tmp}/o", "--budget", "100", "--catalog", "{badcatalog}"],
     "catalog"),
    # an as_of far beyond the data, refused before anything is evaluated or planned
    (["train", "--as-of", "2030-01-01", "--out", "{tmp}/t"], "days after the last purchase"),
    (["plan", "--budget", "100", "--as-of", "2030-01-01", "--out", "{tmp}/p"],
     "days after the last purchase"),
    # ... by every command that takes one (exploratory report 7, I4: features stored rows at
    # it with a log warning, clv fit fitted on it, run skipped every step and exited 0), run
    # before any step, and after a load, which it undoes
    (["features", "--as-of", "2030-01-01"], "is 2190 days after the last purchase in the "
                                            "store (2024-01-02)"),
    (["clv", "fit", "--as-of", "2030-01-01"], "days after the last purchase"),
    (["run", "--out", "{tmp}/o", "--as-of", "2030-01-01"], "days after the last purchase"),
    (["run", "{later}", "--out", "{tmp}/o", "--as-of", "2030-01-01"],
     "is 2187 days after the last purchase in the store (2024-01-05)"),
    # a catalog or constraints file that is a folder or no text (exploratory report 7, I5)
    (["plan", "--budget", "100", "--catalog", "{parquet}", "--out", "{tmp}/p"],
     "t.parquet: a Parquet file, not text; pass a catalog in TOML, YAML, JSON or CSV"),
    (["plan", "--budget", "100", "--constraints", "{parquet}", "--out", "{tmp}/p"],
     "t.parquet: a Parquet file, not text; pass constraints in TOML, YAML or JSON"),
    (["plan", "--budget", "100", "--catalog", "{tmp}", "--out", "{tmp}/p"],
     "a folder, not a file; pass a catalog"),
    (["run", "--out", "{tmp}/o", "--budget", "100", "--constraints", "{tmp}"],
     "a folder, not a file; pass constraints"),
    # a priors file (issue #5): one line naming the file, the row, the value and the fix,
    # before anything is read from the store (or, by `run`, loaded into it)
    (["plan", "--budget", "100", "--priors", "{tmp}/priors_prob.csv", "--out", "{tmp}/p"],
     "priors_prob.csv: row 2 (bogo x active): incremental_prob 1.5 is outside 0..1; give the "
     "extra purchase probability in the response window, 0 to 1 (e.g. 0.02 for +2 "
     "percentage points)"),
    (["plan", "--budget", "100", "--priors", "{tmp}/priors_use.yaml", "--out", "{tmp}/p"],
     "priors_use.yaml: row 1 (bogo x lost): use_rate 30 is outside 0..1; give the share of "
     "buyers who use the offer, 0 to 1"),
    (["plan", "--budget", "100", "--priors", "{tmp}/priors_kind.csv", "--out", "{tmp}/p"],
     "priors_kind.csv: row 1: kind 'loyalty_card' is unknown; use one of percent_discount, "),
    (["plan", "--budget", "100", "--priors", "{tmp}/priors_segment.toml", "--out", "{tmp}/p"],
     "priors_segment.toml: row 1 (bogo): segment 'vip' is unknown; use one of new, active, "
     "lapsing, lost"),
    (["plan", "--budget", "100", "--priors", "{tmp}/priors_column.csv", "--out", "{tmp}/p"],
     "priors_column.csv: column(s) use_rate missing"),
    (["plan", "--budget", "100", "--priors", "{tmp}/priors_empty.csv", "--out", "{tmp}/p"],
     "priors_empty.csv: the file holds no priors"),
    (["plan", "--budget", "100", "--priors", "{parquet}", "--out", "{tmp}/p"],
     "t.parquet: a Parquet file, not text; pass priors in CSV, TOML, YAML or JSON"),
    (["run", "{later}", "--out", "{tmp}/o", "--budget", "100", "--priors",
      "{tmp}/priors_kind.csv"], "kind 'loyalty_card' is unknown"),
    # money as merchants write it (5k, 5,000, 5000 EUR) is read; what is not money is one
    # line naming the option, the value and what to write (was typer's boxed usage error)
    (["plan", "--budget", "5 bucks", "--out", "{tmp}/p"],
     "--budget '5 bucks' is not an amount of money; write a number, e.g. 5000, 5,000, 5k"),
    (["run", "{good}", "--out", "{tmp}/o", "--budget-per-month", "lots"],
     "--budget-per-month 'lots' is not an amount of money"),
    (["plan", "--budget", "5.000", "--out", "{tmp}/p"],
     "--budget '5.000': 5.000 reads as 5 or as 5,000; write it without the dot (5000)"),
    # a budget in another currency than the store's, refused before the load
    (["run", "{good}", "--out", "{tmp}/o", "--currency", "gbp", "--budget", "5000 EUR"],
     "--budget is in EUR, but the store's amounts are in GBP, and amounts are never "
     "converted; give it in GBP, e.g. --budget '5,000 GBP'"),
    # a window of days is checked before a date is computed from it (100,000 days overflow)
    (["train", "--horizon", "50000", "--out", "{tmp}/t"],
     "--horizon 50000 is impossible: it must be between 1 and 1,095 days"),
    # churn tier thresholds (audit 8 finding 5)
    (["train", "--tiers", "0.7,0.4", "--out", "{tmp}/t"],
     "--tiers 0.7,0.4: need 0 < medium < high < 1, e.g. 0.4,0.7"),
    (["train", "--tiers", "high", "--out", "{tmp}/t"],
     "--tiers 'high': give two numbers MEDIUM,HIGH between 0 and 1, e.g. --tiers 0.4,0.7"),
    (["evaluate", "--as-of", "2023-12-01", "--horizon", "100000"],
     "--horizon 100000 is impossible: it must be between 1 and 1,095 days"),
    (["evaluate", "purchases", "--as-of", "2023-12-01", "--horizon", "100000"],
     "--horizon 100000 is impossible"),
    (["evaluate", "recommend", "--as-of", "2023-12-01", "--test-days", "100000"],
     "--test-days 100000 is impossible: it must be between 1 and 365 days"),
    # a test window must lie in the data; the example as_of comes from the store's dates
    (["evaluate", "recommend", "--as-of", "2023-12-01", "--test-days", "300"],
     "ends on 2024-09-26, after the last purchase in the store (2024-01-02)"),
    (["evaluate", "--as-of", "2023-12-01"], "ends on 2024-02-29, after the last purchase"),
    (["evaluate"], "needs --as-of, the test cutoff; the 90-day window after it must lie in the "
                   "data (2024-01-02 to 2024-01-02), e.g. --as-of 2024-01-02"),
    (["evaluate", "purchases", "--horizon", "7"], "e.g. --as-of 2024-01-02"),
    # the options as typed, not the library's parameter names (explore7 I12)
    (["together", "--product", "P1", "--by", "lfit"], "--by 'lfit' is unknown; use one of: "
                                                      "confidence, lift, support"),
    (["together", "--min-count", "-1"], "--min-count -1 is impossible"),
    (["forecast", "--horizon", "0"], "--horizon 0 is impossible"),
    (["evaluate", "recommend", "--methods", "hybird"], "--methods 'hybird': unknown; give a "
                                                       "comma-separated list of: popularity,"),
    (["generate", "--customers", "0", "--out", "{tmp}/g"], "--customers 0 is out of range"),
    (["generate", "--customers", "1", "--months", "1", "--out", "{tmp}/g"],
     "--customers 1 --months 1: the fashion scenario's customers made no purchase in 1 month"),
]


def _command(args: list[str]) -> str:
    """The command a case's arguments call: 'features', 'evaluate purchases', 'clv fit'."""
    return " ".join(a for a in args[:2] if not a.startswith(("-", "{")))


#: each command's first bad-input case runs as a real process (its exit code and stderr);
#: the others run the same entry point, loyalist.cli.main.run, in the test's process (each
#: process cost 1-3 s of Python start and imports: 36 cases)
OWN_PROCESS = {_command(args): args for args, _ in reversed(BAD_INPUT)}


def run_here(*args: str | Path, capsys: pytest.CaptureFixture[str],
             caplog: pytest.LogCaptureFixture) -> subprocess.CompletedProcess[str]:
    """``loyalist ARGS`` through its console-script entry point in this process: the exit
    code and stderr as :func:`run` gives them, a log record at WARNING or above written
    into stderr as the command's own process shows it."""
    from loyalist.cli import main

    capsys.readouterr()
    with pytest.MonkeyPatch.context() as mp, pytest.raises(SystemExit) as exit_:
        mp.setattr(sys, "argv", ["loyalist", *map(str, args)])
        main.run()
    err = capsys.readouterr().err + "".join(
        f"{r.levelname}: {r.getMessage()}\n" for r in caplog.records
        if r.levelno >= logging.WARNING)
    return subprocess.CompletedProcess(args, exit_.value.code, "", err)


@pytest.mark.parametrize(("args", "match"), BAD_INPUT)
def test_bad_input_is_one_line_exit_2_store_untouched(tmp_path: Path, args: list[str],
                                                      match: str, one_line_store: Path,
                                                      capsys: pytest.CaptureFixture[str],
                                                      caplog: pytest.LogCaptureFixture
                                                      ) -> None:
    store = tmp_path / "s.duckdb"
    good = write_csv(tmp_path / "good.csv", [line()])
    shutil.copy(one_line_store, store)
    before = _digest(store)
    bad = write_csv(tmp_path / "bad.csv", [{"order_id": 1, "quantity": 1}])
    (tmp_path / "bad.toml").write_text("x\n")
    (tmp_path / "catalog.csv").write_text("name,kind,value\nten_off,percent_discount,ten\n")
    later = write_csv(tmp_path / "later.csv", [line(order="2", when="2024-01-05 10:00:00")])
    pd.DataFrame([line()]).to_parquet(tmp_path / "t.parquet")
    head = "kind,segment,incremental_prob,use_rate\n"
    (tmp_path / "priors_prob.csv").write_text(head + "bogo,new,0.01,0.25\nbogo,active,1.5,0.25\n")
    (tmp_path / "priors_use.yaml").write_text(
        "priors:\n  - {kind: bogo, segment: lost, incremental_prob: 0.01, use_rate: 30}\n")
    (tmp_path / "priors_kind.csv").write_text(head + "loyalty_card,active,0.02,0.3\n")
    (tmp_path / "priors_segment.toml").write_text(
        '[[prior]]\nkind = "bogo"\nsegment = "vip"\nincremental_prob = 0.02\nuse_rate = 0.3\n')
    (tmp_path / "priors_column.csv").write_text("kind,segment,incremental_prob\nbogo,new,0.01\n")
    (tmp_path / "priors_empty.csv").write_text("")
    subst = {"{missing}": str(tmp_path / "nope.csv"), "{bad}": str(bad), "{good}": str(good),
             "{badtoml}": str(tmp_path / "bad.toml"), "{later}": str(later),
             "{badcatalog}": str(tmp_path / "catalog.csv"),
             "{parquet}": str(tmp_path / "t.parquet")}
    argv = [subst.get(a, a.replace("{tmp}", str(tmp_path))) for a in args]
    argv += ["--store", str(store)] if args[0] != "generate" else []
    p = (run(*argv, ok=False) if OWN_PROCESS[_command(args)] is args
         else run_here(*argv, capsys=capsys, caplog=caplog))
    assert p.returncode == 2, p.stderr
    assert not (tmp_path / "g").exists()
    assert "Traceback" not in p.stderr
    lines = [x for x in p.stderr.strip().splitlines() if x.startswith("error")]
    assert len(lines) == 1 and match in p.stderr.replace("\n", " ")
    assert "WARNING" not in p.stderr
    assert _digest(store) == before


def test_failed_first_load_leaves_no_store(tmp_path: Path) -> None:
    store = tmp_path / "new.duckdb"
    p = run("ingest", tmp_path / "nope.csv", "--store", store, ok=False)
    assert p.returncode == 2 and not store.exists()


def test_features_shortly_after_the_data_are_made(tmp_path: Path) -> None:
    """An as_of up to 30 days after the last sale is taken as every command takes it (one
    years later is refused: test_bad_input_is_one_line_exit_2_store_untouched)."""
    store = tmp_path / "s.duckdb"
    run("ingest", write_csv(tmp_path / "t.csv", [line()]), "--store", store)
    p = run("-q", "features", "--store", store, "--as-of", "2024-01-20", "--json")
    assert json.loads(p.stdout)["customers"] == 1 and "WARNING" not in p.stderr


@pytest.mark.parametrize(("given", "args"), [
    ("csv", ["plan", "--budget", "100", "--out", "{tmp}/p"]),
    ("csv", ["loads"]),
    ("csv", ["report", "--out", "{tmp}/r"]),
    ("csv", ["train", "--out", "{tmp}/t"]),
    ("csv", ["ingest", "{good}"]),
    ("csv", ["serve"]),
    ("parquet", ["features"]),
])
def test_a_data_file_given_as_the_store_is_one_line(tmp_path: Path, given: str,
                                                    args: list[str]) -> None:
    """Exploratory report 7, I2: a CSV or Parquet file as --store gave a traceback on read
    commands ("Cannot launch in-memory database in read-only mode"), was called "a DuckDB
    database but not a Loyalist store" by others, and `serve` started on it."""
    good = write_csv(tmp_path / "good.csv", [line()])
    store = tmp_path / f"sales.{given}"
    if given == "parquet":
        pd.DataFrame([line()]).to_parquet(store)
    else:
        write_csv(store, [line()])
    before = _digest(store)
    argv = [a.replace("{tmp}", str(tmp_path)).replace("{good}", str(good)) for a in args]
    p = subprocess.run([*EXE, *argv, "--store", str(store)], capture_output=True, text=True,
                       timeout=60, env={**os.environ, "LOYALIST_API_KEYS": "k"})
    assert p.returncode == 2 and "Traceback" not in p.stderr, p.stderr
    kind = "a CSV or text file" if given == "csv" else "a Parquet file"
    assert [x for x in p.stderr.splitlines() if x.startswith("error")] == [
        f"error: {store}: {kind}, not a Loyalist store; --store (or LOYALIST_STORE) names the "
        f"DuckDB store file. Load this file into one with `loyalist ingest {store} --store "
        "shop.duckdb`, then use --store shop.duckdb"]
    assert _digest(store) == before


@pytest.mark.parametrize("args", [["features"], ["train", "--out", "{tmp}/t"]])
def test_a_command_on_a_missing_store_leaves_no_file(tmp_path: Path, args: list[str]) -> None:
    store = tmp_path / "missing.duckdb"
    p = run(*[a.replace("{tmp}", str(tmp_path)) for a in args], "--store", store, ok=False)
    assert p.returncode == 2 and "no store here" in p.stderr, p.stderr
    assert not store.exists()


@need_shared(CDNOW_SAMPLE)
def test_cdnow_autodetected(tmp_path: Path) -> None:
    doc = json.loads(run("ingest", CDNOW_SAMPLE, "--store", tmp_path / "s.duckdb",
                         "--json").stdout)
    assert doc["format"] == "cdnow" and doc["rows_loaded"] == 6_919


@need_shared(CDNOW_SAMPLE)
@pytest.mark.parametrize(("model", "expected", "ll"), [
    ("bgnbd", {"r": 0.2426, "alpha": 4.414, "a": 0.7929, "b": 2.426}, -9582.43),
    ("pareto", {"r": 0.5533, "alpha": 10.58, "s": 0.6062, "beta": 11.67}, -9594.97),
    ("gammagamma", {"p": 6.249, "q": 3.745, "gamma": 15.45}, -4055.92),
])
def test_clv_fit_cli_reproduces_cdnow_goldens(tmp_path: Path, model: str,
                                              expected: dict[str, float], ll: float) -> None:
    store = tmp_path / "s.duckdb"
    run("ingest", CDNOW_SAMPLE, "--store", store)
    doc = json.loads(run("clv", "fit", "--store", store, "--as-of", "1997-10-01",
                         "--time-unit", "W", "--model", model, "--json").stdout)
    assert doc["customers"] == 2_357 and doc["converged"] is True
    for k, v in expected.items():
        assert doc["params"][k] == pytest.approx(v, rel=2e-3), k
    assert doc["log_likelihood"] == pytest.approx(ll, abs=0.01)


@need_shared(CDNOW_MASTER)
def test_clv_fit_gammagamma_on_a_file_with_free_repeat_orders(tmp_path: Path) -> None:
    """CDNOW's master file has one repeat customer whose repeat purchases were all $0; the
    Gamma-Gamma fit refused the whole file for it. It is now left out, and said so."""
    store = tmp_path / "s.duckdb"
    run("ingest", CDNOW_MASTER, "--store", store)
    doc = json.loads(run("clv", "fit", "--store", store, "--as-of", "1997-10-01",
                         "--time-unit", "W", "--model", "gammagamma", "--json").stdout)
    assert doc["converged"] is True and doc["customers"] == 23_570
    assert doc["diagnostics"][0].startswith("Gamma-Gamma fitted without 1 of 9,451 repeat "
                                            "customers whose repeat purchases average zero")
    assert doc["customers_fitted"] == 9_450
    assert 1 < doc["params"]["q"] and all(v > 0 for v in doc["params"].values())


@need_shared(CDNOW_SAMPLE)
def test_evaluate_purchases_cli(tmp_path: Path) -> None:
    store = tmp_path / "s.duckdb"
    run("ingest", CDNOW_SAMPLE, "--store", store)
    doc = json.loads(run("evaluate", "purchases", "--store", store, "--as-of", "1997-10-01",
                         "--horizon", "91", "--json").stdout)
    assert doc["actual_total"] == 726 and doc["customers"] == 2_357
    assert set(doc["models"]) == {"bgnbd", "boosted", "last_period"}
    assert doc["models"]["bgnbd"]["total_predicted"] == pytest.approx(628, abs=1)
    bad = run("evaluate", "purchases", "--store", store, "--as-of", "1998-06-01", ok=False)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "ends on 1998-08-30, after the last purchase in the store (1998-06-30)" in bad.stderr


def test_root_quiet_and_verbose(tmp_path: Path) -> None:
    f = write_csv(tmp_path / "t.csv", [line(), line(order="2", when="2024-01-05 10:00:00")])
    store = tmp_path / "s.duckdb"
    loud = run("ingest", f, "--store", store)
    assert "… " in loud.stderr and "INFO" not in loud.stderr  # progress lines, no log records
    verbose = run("-v", "ingest", f, "--store", tmp_path / "v.duckdb")
    assert "… " in verbose.stderr and "INFO loyalist.ingest" in verbose.stderr
    quiet = run("-q", "ingest", f, "--store", tmp_path / "q.duckdb")
    assert quiet.stderr == "" and "rows_loaded" in quiet.stdout
    assert "… computing customer features" in run("features", "--store", store).stderr
    feat = run("--quiet", "features", "--store", store)
    assert feat.stderr == "" and feat.stdout.startswith("features at as_of 2024-01-06")
    root_help = run("-h").stdout
    assert "--quiet" in root_help and "--verbose" in root_help
    both = run("-q", "-v", "features", "--store", store, ok=False)
    assert both.returncode == 2 and "--quiet and --verbose contradict" in both.stderr


def test_run_on_own_data_every_step_or_a_reason(tmp_path: Path) -> None:
    """`loyalist run FILE --budget B`: the main job on a merchant's own file. Line-level data
    runs every step; an order-level export (no products) skips recommendations with the
    reason and still plans; a bad parameter stops before anything is loaded."""
    from test_churn import synthetic_lines

    lines = synthetic_lines(n_customers=400)
    lines.to_csv(tmp_path / "lines.csv", index=False)
    p = run("run", tmp_path / "lines.csv", "--store", tmp_path / "a.duckdb", "--out",
            tmp_path / "a", "--budget", "500", "--goal", "retention", "--currency", "eur",
            "--json")
    doc = json.loads(p.stdout)
    # plain numbers, said to be euros: the store keeps it, the plan step names it
    assert doc["currency"] == "EUR"
    assert " of 500 EUR, expected " in next(s["detail"] for s in doc["steps"]
                                            if s["step"] == "plan")
    status = {s["step"]: s["status"] for s in doc["steps"]}
    assert status == {**{k: "done" for k in ("features", "customer_models", "recommendations",
                                             "bought_together", "forecast", "plan", "report")},
                      "campaign": "skipped"}, doc["steps"]
    # sales alone: no campaign to read, and the step says what to load
    assert "no promotion history" in next(s["detail"] for s in doc["steps"]
                                          if s["step"] == "campaign")
    assert doc["loads"][0]["rows_loaded"] == len(lines)
    assert doc["loads"][0]["guessed"] == []  # every column named as Loyalist names it
    for step in doc["steps"]:
        for path in step["outputs"].values():
            assert Path(path).exists(), path
    assert (tmp_path / "a" / "run.json").exists()

    orders = (lines.assign(total=lines.quantity * lines.unit_price)
              .groupby(["order_id", "customer_id", "ordered_at"], as_index=False)["total"].sum())
    orders.to_csv(tmp_path / "orders.csv", index=False)
    p = run("-q", "run", tmp_path / "orders.csv", "--store", tmp_path / "b.duckdb", "--out",
            tmp_path / "b", "--budget-per-month", "250", "--period", "60", "--goal", "revenue")
    assert "skipped" in p.stdout and "nothing to recommend" in p.stdout
    planned = json.loads((tmp_path / "b" / "plan" / "plan.json").read_text())
    assert planned["budget"] == 500 and planned["budget_per_month"] == 250
    assert [m["budget"] for m in planned["months"]] == [250, 250]
    doc = json.loads((tmp_path / "b" / "run.json").read_text())
    status = {s["step"]: s["status"] for s in doc["steps"]}
    assert status["recommendations"] == "skipped" and status["plan"] == "done"
    assert status["bought_together"] == "skipped"
    assert status["customer_models"] == "done" and status["report"] == "done"

    # too few customers for churn and CLV: the customers are still segmented (exploratory
    # report 6a, G6: they got nothing), the plan runs on the segments and the report says why
    # churn and CLV are missing. Its date column has a name Loyalist does not know: the one
    # column holding dates is taken, and the run says it guessed
    small = lines[lines.customer_id < "C0040"].rename(columns={"ordered_at": "Zeitpunkt"})
    small.to_csv(tmp_path / "small.csv", index=False)
    shown = run("run", tmp_path / "small.csv", "--store", tmp_path / "d.duckdb", "--out",
                tmp_path / "d", "--budget", "500").stdout
    assert "guessed: ordered_at read from column 'Zeitpunkt' (found by its values" in \
        " ".join(shown.split()), shown
    doc = json.loads((tmp_path / "d" / "run.json").read_text())
    assert [g.split(" (")[0] for g in doc["loads"][0]["guessed"]] == [
        "ordered_at read from column 'Zeitpunkt'"]
    steps = {s["step"]: s for s in doc["steps"]}
    assert steps["customer_models"]["status"] == "partial"
    assert steps["customer_models"]["detail"].startswith(
        "segments only: 40 customers in RFM segments and ")
    assert "churn and lifetime value not trained: too few customers" in \
        steps["customer_models"]["detail"]
    assert steps["plan"]["status"] == "done" and "no churn risk or value scores" in \
        steps["plan"]["detail"]
    assert steps["report"]["status"] == "done" and steps["forecast"]["status"] == "done"
    assert "segments" in steps["report"]["detail"]
    html = (tmp_path / "d" / "report" / "report.html").read_text()
    assert "churn and lifetime value were not trained: too few customers" in html

    p = run("run", tmp_path / "lines.csv", "--store", tmp_path / "c.duckdb", "--budget", "5",
            "--goal", "happiness", ok=False)
    assert p.returncode == 2 and "--goal 'happiness' is unknown" in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1 and not (tmp_path / "c.duckdb").exists()
    p = run("run", tmp_path / "lines.csv", "--store", tmp_path / "c.duckdb", "--budget", "5",
            "--budget-per-month", "5", ok=False)
    assert p.returncode == 2 and "--budget and --budget-per-month both given" in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1 and not (tmp_path / "c.duckdb").exists()


def test_an_empty_plan_then_a_real_one_and_a_failing_step(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    """Exploratory report 6a, G1: a first plan with nobody in it (a budget below one send)
    created plan_customers with untyped columns, and every later plan on the store crashed
    (`run` exited 1 without its report, the API answered 500). And a step's internal error
    now fails that step only: the others run and the exit code is 1."""
    from test_churn import synthetic_lines

    from loyalist import pipeline

    synthetic_lines(n_customers=300).to_csv(tmp_path / "lines.csv", index=False)
    store = tmp_path / "s.duckdb"
    doc = json.loads(run("run", tmp_path / "lines.csv", "--store", store, "--out",
                         tmp_path / "a", "--budget", "0.04", "--json").stdout)
    plan_step = next(s for s in doc["steps"] if s["step"] == "plan")
    assert plan_step["status"] == "done" and " 0 customers" in plan_step["detail"], plan_step
    p = run("-q", "plan", "--store", store, "--budget", "500", "--goal", "retention",
            "--period", "30", "--out", tmp_path / "p", "--json")
    planned = json.loads(p.stdout)
    assert planned["customers_targeted"] > 0
    # 6a, G7: data that ended long ago are said to be stale, in the run and in the plan
    assert any(w.startswith("the data end on 20") for w in doc["warnings"]), doc["warnings"]
    assert any("send dates are in the past" in w for w in planned["warnings"])
    assert pipeline.stale_data_warning(pd.Timestamp("2023-06-30 18:00"),
                                       today=pd.Timestamp("2026-11-24")).startswith(
        "the data end on 2023-06-30, 3.4 years before today (2026-11-24)")
    assert "200 days before" in pipeline.stale_data_warning(
        pd.Timestamp("2026-05-08"), today=pd.Timestamp("2026-11-24"))
    assert pipeline.stale_data_warning(pd.Timestamp("2026-09-01"),
                                       today=pd.Timestamp("2026-11-24")) is None

    def broken(*_a: object, **_k: object) -> None:
        raise RuntimeError("forecast exploded\nsecond line")

    monkeypatch.setattr(pipeline.run, "forecast", broken)  # what run_all calls
    res = pipeline.run_all(store, tmp_path / "b", as_of=None)
    steps = {s["step"]: s for s in res["steps"]}
    assert steps["forecast"]["status"] == "failed"
    assert steps["forecast"]["detail"].startswith("RuntimeError: forecast exploded (an internal")
    assert steps["report"]["status"] == "done" and steps["features"]["status"] == "done"
    # exploratory report 3: a constraints file naming a promotion the catalog lacks left the
    # plan "skipped" and the run exited 0 (its "[min_spend]" eaten by the console's markup):
    # the step fails with the message as written
    bad = tmp_path / "cons.toml"
    bad.write_text("[min_spend]\nnonexistent = 10\n")
    res = pipeline.run_all(store, tmp_path / "c", as_of=None, budget=100, constraints=bad)
    plan = next(s for s in res["steps"] if s["step"] == "plan")
    assert plan["status"] == "failed" and plan["detail"].startswith(
        f"{bad}: [min_spend] names promotion 'nonexistent', which is not in the catalog")


def test_a_file_that_is_not_a_store_is_named_and_left_untouched(tmp_path: Path) -> None:
    """Exploratory report 4b, D2 and D7: a command on another application's DuckDB file added
    Loyalist's tables to it (even when it then failed) or showed a traceback; an empty DuckDB
    file took the tables too; and every open error ended in "is another process writing to
    it?" (a text file, a missing folder)."""
    import duckdb

    crm = tmp_path / "crm.duckdb"
    con = duckdb.connect(str(crm))
    con.execute("CREATE TABLE transactions (a INTEGER, b VARCHAR)")
    con.execute("INSERT INTO transactions VALUES (1, 'x')")
    con.close()
    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()
    before = {p: _digest(p) for p in (crm, empty)}
    good = write_csv(tmp_path / "t.csv", [line()])
    for args in (["train", "--store", crm], ["report", "--store", crm, "--out", tmp_path / "r"],
                 ["ingest", good, "--store", crm], ["features", "--store", crm]):
        p = run(*args, ok=False)
        assert p.returncode == 2 and "Traceback" not in p.stderr, p.stderr
        assert "a DuckDB database but not a Loyalist store (it holds transactions); nothing " \
               "was changed" in " ".join(p.stderr.split()), p.stderr
    p = run("train", "--store", empty, ok=False)
    assert p.returncode == 2 and "an empty DuckDB database, not a store yet" in " ".join(
        p.stderr.split()), p.stderr
    assert {p: _digest(p) for p in (crm, empty)} == before
    with duckdb.connect(str(crm), read_only=True) as con:
        assert [r[0] for r in con.execute("SHOW TABLES").fetchall()] == ["transactions"]

    text = tmp_path / "notes.duckdb"
    text.write_text("not a database\n" * 100)
    cases = [(text, "not a Loyalist store (the file is not a DuckDB database)"),
             (tmp_path / "no" / "such" / "s.duckdb", "does not exist; create it or give "
                                                      "another --store path")]
    for store, want in cases:
        p = run("ingest", good, "--store", store, ok=False)
        err = " ".join(p.stderr.split())
        assert p.returncode == 2 and want in err and "another process" not in err, p.stderr


def test_an_out_folder_that_cannot_be_written_is_refused_before_the_work(
        tmp_path: Path) -> None:
    """Exploratory report 4b, D3: `train --out` on a file, or `report --out` under one, ran
    the whole job (minutes on a large store) and then showed a traceback with exit code 1."""
    afile = tmp_path / "afile"
    afile.write_text("x")
    store = tmp_path / "none.duckdb"  # no store either: the --out check comes first
    for args, want in (
            (["train", "--store", store, "--out", afile], "a file, not a folder"),
            (["report", "--store", store, "--out", afile / "rep"],
             f"{afile} is a file, so no folder can be made under it"),
            (["forecast", "--store", store, "--out", afile / "a" / "b"], "is a file"),
            (["generate", "--scenario", "coffee", "--out", afile], "a file, not a folder"),
            (["evaluate", "--store", store, "--out", afile], "a file, not a folder")):
        p = run(*args, ok=False)
        err = " ".join(p.stderr.split())
        assert p.returncode == 2 and "Traceback" not in p.stderr, p.stderr
        assert err.startswith("error: --out ") and want in err, p.stderr
    assert not store.exists() and afile.read_text() == "x"


def test_the_command_line_starts_without_the_heavy_libraries() -> None:
    """Exploratory report 4b, D5: every command, `--help` and `--version` included, spent 4.5
    CPU-seconds importing pandas, scikit-learn and SciPy before its first line (9-16 s on a
    loaded machine). The commands now import them on first use; the names their options show
    come from loyalist.names, which must match the modules that implement them."""
    code = ("import sys, loyalist.cli.main; "
            "print(sorted(m for m in ('pandas', 'sklearn', 'scipy', 'duckdb', 'lightgbm') "
            "if m in sys.modules))")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0 and p.stdout.strip() == "[]", p.stdout + p.stderr
    from loyalist import names
    from loyalist.promote.catalog import GOALS
    from loyalist.recommend.registry import METHODS
    from loyalist.report import SECTIONS
    from loyalist.store import DEFAULT_STORE
    assert tuple(METHODS) == names.RECOMMEND_METHODS and GOALS == names.GOALS
    assert SECTIONS == names.REPORT_SECTIONS and DEFAULT_STORE == names.DEFAULT_STORE
    from loyalist.forecast.series import BY_COLUMNS
    from loyalist.generate.scenarios import SCENARIOS
    from loyalist.ingest import FORMATS, TABLES
    from loyalist.promote.catalog import GOAL_ALIASES
    from loyalist.recommend.basket import ORDERINGS
    assert FORMATS == names.INGEST_FORMATS and TABLES == names.INGEST_TABLES
    assert tuple(SCENARIOS) == names.SCENARIOS and ORDERINGS == names.TOGETHER_ORDERS
    assert BY_COLUMNS == names.FORECAST_BY and GOAL_ALIASES == names.GOAL_ALIASES


def test_run_json_hashes_the_files_of_a_folder_given(tmp_path: Path) -> None:
    """Exploratory report 5a, E4: `loyalist run FOLDER` did all the work, then crashed with
    IsADirectoryError writing run.json (exit 1, no summary): a folder's files are hashed."""
    from loyalist.pipeline import write_run_json

    folder = tmp_path / "exports"
    folder.mkdir()
    (folder / "jan.csv").write_text("a\n1\n")
    (folder / "feb.csv").write_text("a\n2\n")
    one = write_csv(tmp_path / "one.csv", [line()])
    path = write_run_json(tmp_path, command="run", as_of=None, inputs=[folder, one], metrics={})
    got = json.loads(path.read_text())["inputs"]
    assert got[str(folder)] == {"feb.csv": _digest(folder / "feb.csv"),
                                "jan.csv": _digest(folder / "jan.csv")}
    assert got[str(one)] == _digest(one)


def test_running_out_of_memory_is_one_line(tmp_path: Path) -> None:
    """Exploratory report 5b, F4: under a 4 GB limit `recommend` on a 10M-line store ended in
    a 60-line traceback (MemoryError). Here the command's work is an allocation larger than
    the process's address-space limit: a real MemoryError, through the real entry point."""
    import resource

    def limit() -> None:  # enough to start Python and import, not to fill a large array
        resource.setrlimit(resource.RLIMIT_AS, (1_500_000_000, 1_500_000_000))

    code = ("import numpy, sys; sys.argv = ['loyalist', 'recommend']; "
            "from loyalist.cli import main; "
            "main.app = lambda: numpy.ones(10 ** 10); main.run()")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=300, preexec_fn=limit)
    assert p.returncode == 2, p.stderr
    assert "out of memory in `loyalist recommend`" in p.stderr
    assert "Traceback" not in p.stderr and len(p.stderr.strip().splitlines()) <= 3


def test_a_young_shop_gets_segments_and_advice_that_can_work(tmp_path: Path) -> None:
    """Exploratory report 6a, G6: a shop with under 3 months of history got no segments, and
    was told to use a shorter horizon (none works) and to forecast fewer days ahead (`run` had
    no option for it)."""
    from test_churn import synthetic_lines

    synthetic_lines(n_customers=150, seed=5, start="2024-01-01", days=80).to_csv(
        tmp_path / "young.csv", index=False)
    doc = json.loads(run("run", tmp_path / "young.csv", "--store", tmp_path / "y.duckdb",
                         "--out", tmp_path / "y", "--horizon", "14", "--json").stdout)
    steps = {s["step"]: s for s in doc["steps"]}
    models = steps["customer_models"]
    assert models["status"] == "partial" and "scores_csv" in models["outputs"]
    assert "whatever the horizon: the churn and value models need at least" in models["detail"]
    assert "shorter horizon" not in models["detail"]
    head = (tmp_path / "y" / "customers" / "scores.csv").read_text().splitlines()[:2]
    row = dict(zip(head[0].split(","), head[1].split(","), strict=True))
    assert row["rfm_segment"] and row["churn_probability"] == "" and row["clv_expected"] == ""
    # the forecast said "forecast fewer days ahead": it names the longest that fits, and
    # --forecast-days makes one
    assert steps["forecast"]["status"] == "skipped"
    fits = re.search(r"load more history or forecast at most (\d+) days ahead$",
                     steps["forecast"]["detail"])
    assert fits, steps["forecast"]["detail"]
    doc = json.loads(run("run", "--store", tmp_path / "y.duckdb", "--out", tmp_path / "y2",
                         "--forecast-days", fits[1], "--json").stdout)
    assert {s["step"]: s["status"] for s in doc["steps"]}["forecast"] == "done"
    p = run("train", "--store", tmp_path / "y.duckdb", "--horizon", "1", "--out",
            tmp_path / "t")
    assert "segments only at as_of" in p.stdout and "whatever the horizon" in p.stdout
    p = run("run", "--store", tmp_path / "y.duckdb", "--out", tmp_path / "y2",
            "--forecast-days", "0", ok=False)
    assert p.returncode == 2 and "--forecast-days 0 is impossible" in p.stderr


def _commands() -> list[tuple[str, Any]]:
    """Every command of the CLI as ``("evaluate recommend", click command)``."""
    import typer.main

    from loyalist.cli.main import app

    def walk(c: Any, path: list[str]) -> Any:
        if path and c.params:
            yield " ".join(path), c
        for name, sub in getattr(c, "commands", {}).items():
            yield from walk(sub, [*path, name])
    return list(walk(typer.main.get_command(app), []))


def test_help_is_readable_at_80_columns() -> None:
    """explore7 I10: at 80 columns choice lists written without spaces were cut
    (`--goal retention|revenue|p…`), and `ingest --help` left out three --table kinds."""
    from typer.testing import CliRunner

    from loyalist.cli.main import app
    from loyalist.names import INGEST_TABLES

    for name, _ in _commands():
        r = CliRunner().invoke(app, [*name.split(), "--help"], env={"COLUMNS": "80"})
        assert r.exit_code == 0, r.output
        assert "…" not in r.output and max(map(len, r.output.splitlines())) <= 80, name
        if name == "ingest":
            assert all(t in " ".join(r.output.split()) for t in INGEST_TABLES), r.output


def test_readme_names_every_option_and_choice() -> None:
    """explore7 I10: ~25 options were in no README row, and the README's choices differed from
    the CLI's (`--goal aov`, no `adoption` or `history` methods). Every option of every command
    must appear in that command's invocation in the README's table ("What exists now"), and
    every choice list there must be the CLI's."""
    from loyalist import names

    text = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    table = text.split("## What exists now", 1)[1].split("\nEvery command has", 1)[0]
    spans = re.findall(r"`[^`]*?\bloyalist ([^`]+)`", table)
    commands = _commands()
    by_cmd: dict[str, str] = {}
    for span in spans:
        words = span.split()
        name = max((n for n, _ in commands if words[:len(n.split())] == n.split()),
                   key=len, default=None)
        assert name is not None, span
        by_cmd[name] = by_cmd.get(name, "") + " " + span
    for name, cmd in commands:
        assert name in by_cmd, f"no README row shows `loyalist {name}`"
        for p in cmd.params:
            flags = [*p.opts, *getattr(p, "secondary_opts", [])]
            if p.param_type_name != "option" or "--help" in flags:
                continue
            assert any(re.search(rf"(?<![\w-]){re.escape(f)}(?![\w-])", by_cmd[name])
                       for f in flags), f"README: `loyalist {name}` lacks {flags[0]}"
    choices = {("plan", "--goal"): names.GOALS, ("recommend", "--method"): names.RECOMMEND_METHODS,
               ("ingest", "--format"): names.INGEST_FORMATS, ("run", "--format"):
               names.INGEST_FORMATS, ("ingest", "--table"): names.INGEST_TABLES,
               ("generate", "--scenario"): names.SCENARIOS, ("demo", "--scenario"):
               names.SCENARIOS, ("together", "--by"): names.TOGETHER_ORDERS,
               ("forecast", "--by"): names.FORECAST_BY}
    for (name, flag), want in choices.items():
        listed = re.search(rf"{flag} ([\w\\|-]+)", by_cmd[name])
        assert listed and set(listed.group(1).split("\\|")) == set(want), (name, flag)


def test_a_wrong_option_is_refused_before_the_work_is_announced(tmp_path: Path) -> None:
    """explore7 I12: `forecast --by categroy` printed "… forecasting 30 days (total and per
    categroy)" and only then the error; the options are checked before the progress line."""
    store = tmp_path / "s.duckdb"
    run("ingest", write_csv(tmp_path / "t.csv", [line()]), "--store", store)
    for args, said in ((["forecast", "--by", "categroy"], "--by 'categroy' is not supported"),
                       (["forecast", "--models", "etz"], "--models 'etz': unknown"),
                       (["evaluate", "recommend", "--methods", "als,hybird"],
                        "--methods 'hybird': unknown")):
        p = run(*args, "--store", store, "--out", tmp_path / "o", ok=False)
        assert p.returncode == 2 and p.stderr.startswith(f"error: {said}"), p.stderr


def test_a_catalog_whose_rows_are_all_refused_says_nothing_was_loaded(tmp_path: Path) -> None:
    """explore7 I12: the refused row was printed as "assumption: ..." under a "loaded" header;
    it is the quarantine rule's reason, and the report says nothing was loaded."""
    cat = tmp_path / "cat.csv"
    cat.write_text("name,kind,value,contact_cost\nten_off,percentage_off_everything,10,0.1\n")
    p = run("ingest", cat, "--table", "promotion_catalog", "--store", tmp_path / "s.duckdb")
    out = " ".join(p.stdout.split())
    assert "assumption" not in out and "nothing loaded: the only row was quarantined" in out
    assert "invalid_promotion │ quarantine │ 1 │ 100.00" in out


def test_a_library_warning_prints_as_the_commands_own(tmp_path: Path) -> None:
    """Without -v a log record is a message to the user, 'warning: ...', as the commands print
    theirs, not 'WARNING loyalist.store: ...' (explore7 I12); -v keeps the log format."""
    import duckdb

    store = tmp_path / "s.duckdb"
    run("ingest", write_csv(tmp_path / "t.csv", [line(customer="ann@shop.com")]),
        "--store", store)
    for verbose in (False, True):
        con = duckdb.connect(str(store))  # what an earlier version left: the file's own case
        con.execute("UPDATE transactions SET customer_id = 'Ann@shop.com'")
        con.execute("DROP TABLE store_meta")
        con.close()
        p = run(*(["-v"] if verbose else []), "features", "--store", store, "--as-of",
                "2024-01-20")
        said = [x for x in p.stderr.splitlines() if "lower-cased" in x]
        assert len(said) == 1, p.stderr
        assert said[0].startswith("WARNING loyalist.store: " if verbose else "warning: "), said


def test_an_error_naming_a_files_key_in_brackets_prints_it() -> None:
    """Exploratory report 8, 5.22: `error: inf5.toml:  names promotion 'no_such_promo'`: the
    message's "[min_spend]" (the constraints file's table) was read as rich markup and
    dropped. The entry point prints a message as written."""
    code = ("import sys; sys.argv = ['loyalist', 'plan']; from loyalist.cli import main; "
            "from loyalist.errors import DataError\n"
            "def fail():\n"
            "    raise DataError(\"inf5.toml: [min_spend] names promotion 'no_such_promo', "
            "which is not in the catalog [bold]\")\n"
            "main.app = fail; main.run()")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 2, p.stderr
    assert ("error: inf5.toml: [min_spend] names promotion 'no_such_promo', which is not in "
            "the catalog [bold]") in p.stderr


def test_a_stray_order_or_a_closure_before_as_of_is_warned_about(tmp_path: Path) -> None:
    """Exploratory report 10: one test order dated yesterday beside a log that ended two years
    earlier hid the stale warning, and every result (Champions gone 756 days, a forecast from
    one sale) described a day long after the data end. The tail is named with the --as-of
    that shows the customers as the data leave them; a seasonal stall's yearly break is
    no stray tail."""
    from datetime import datetime

    from loyalist.ingest import ingest_files
    from loyalist.pipeline.store import closed_before_warning, stray_tail_warning
    from loyalist.store import Store

    def store(name: str, days: list[str]) -> Store:
        rows = [{"order_id": f"o{i}", "product_id": "p", "quantity": 1, "unit_price": 5.0,
                 "customer_id": f"c{i % 7}", "ordered_at": f"{d} 10:00:00"}
                for i, d in enumerate(days)]
        f = tmp_path / f"{name}.csv"
        pd.DataFrame(rows).to_csv(f, index=False)
        st = Store(tmp_path / f"{name}.duckdb")
        ingest_files(st, [f], loaded_at=datetime(2026, 11, 26))
        return st

    log = [str(d.date()) for d in pd.date_range("2023-01-02", "2024-11-20", freq="D")]
    st = store("stray", [*log, "2026-11-25"])
    said = stray_tail_warning(st, pd.Timestamp("2026-11-26"))
    assert said is not None and said.startswith(
        "the last 1 order(s) (2026-11-25 to 2026-11-25) come 735 days after the rest of the "
        "data, which end on 2024-11-20")
    assert "--as-of 2024-11-21" in said
    assert stray_tail_warning(st, pd.Timestamp("2024-11-21")) is None
    stall = [str(d.date()) for y in (2021, 2022, 2023, 2024)
             for d in pd.date_range(f"{y}-11-20", f"{y}-12-24", freq="D")]
    assert stray_tail_warning(store("stall", [*stall, "2025-11-20"]),
                              pd.Timestamp("2025-11-21")) is None
    # a shop reopening after two months closed: every customer looks lapsed at the reopening
    shut = [d for d in log if not "2024-03-01" <= d <= "2024-04-30"]
    st = store("reno", shut)
    said = closed_before_warning(st, pd.Timestamp("2024-05-01"), pd.Timestamp("2024-11-20"))
    assert said is not None and said.startswith(
        "the shop sold nothing in the 61 days before 2024-05-01 (since 2024-02-29)")
    assert closed_before_warning(st, pd.Timestamp("2024-06-01"),
                                 pd.Timestamp("2024-11-20")) is None


def test_a_run_warns_when_quarantine_takes_a_tenth_of_the_revenue() -> None:
    """Exploratory report 10: exact duplicates were 29% of a shop's revenue, said only in the
    quality report; the run's warnings name it from a tenth of the revenue read on."""
    from loyalist.pipeline.run import quarantined_warning

    def load(**shares: float) -> dict:
        return {"file": "/data/sales.csv", "rule_details": {
            **{r: {"action": "quarantine", "share_revenue": v} for r, v in shares.items()},
            "return": {"action": "classify", "share_revenue": 0.5}}}

    assert quarantined_warning(load(exact_duplicate=0.29, cancelled_order=0.004)) == (
        "sales.csv: 29% of the revenue read was quarantined (exact_duplicate 29%), so it is in "
        "no result; see quality_report.json for why, and fix the file or map its columns if "
        "that is wrong")
    assert quarantined_warning(load(exact_duplicate=0.05, cancelled_order=0.04)) is None
    assert quarantined_warning({"file": "customers.csv"}) is None


def test_a_retention_headline_says_activations_apart() -> None:
    """Exploratory report 3: 'expected 37.4 customers kept' counted 2.8 first purchases by
    registered customers who had not bought: customers activated, not kept."""
    from loyalist.cli.plan import _goal_value

    summ = {"goal": "retention", "goal_value": 37.4, "goal_value_activated": 2.8,
            "cost_per_goal_unit": 53.49}
    assert _goal_value(summ) == ("34.6 customers kept and 2.8 activated (a first purchase) "
                                 "(53.49 of spend each)")
    assert _goal_value({**summ, "goal_value_activated": None}) == \
        "37.4 customers kept (53.49 of spend each)"


def test_the_readme_main_job_runs_every_part_end_to_end(tmp_path: Path) -> None:
    """`make demo` (the README's main command) on a small store: generate, load, features,
    customer models, recommendations, forecast, campaign, plan and report, each step's output
    written and the counts adding up. (Its parts are tested one by one elsewhere; this is the
    one command a new user runs first.)"""
    out = tmp_path / "out"
    p = run("demo", "--scenario", "coffee", "--customers", "400", "--months", "12", "--out", out)
    assert p.stdout.startswith("done in ") and "Traceback" not in p.stderr
    assert "against the scenario's truth" in p.stdout
    for rel in ("loyalist.duckdb", "customers/scores.csv", "customers/model_card.html",
                "recommendations", "forecast/forecast.png", "plan/plan.csv",
                "plan/sensitivity.csv", "campaign/campaign_results.html", "report/report.html"):
        assert (out / rel).exists(), rel
    res = json.loads((out / "run.json").read_text())
    for load in res["loads"]:
        assert load["rows_read"] == load["rows_loaded"] + load["rows_quarantined"]
    plan = pd.read_csv(out / "plan" / "plan.csv")
    assert len(plan) == res["plan"]["customers_targeted"] > 0
    assert plan["expected_cost"].sum() == pytest.approx(res["plan"]["spend"], rel=1e-6)
    assert res["plan"]["spend"] <= res["plan"]["budget"] * (1 + 1e-9)
    with duckdb.connect(str(out / "loyalist.duckdb"), read_only=True) as con:
        n = con.execute("SELECT count(*) FROM transactions").fetchone()[0]
    assert n == next(x["rows_loaded"] for x in res["loads"] if x["table"] == "transactions")
