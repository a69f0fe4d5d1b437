"""Removing a load (`loyalist unload`): every row it wrote goes, the store is as if it had never
been loaded, and what cannot be undone exactly is refused with the command that can."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from conftest import LOADED_AT, line, write_csv

from loyalist.errors import ParameterError
from loyalist.features import customer_features, orders
from loyalist.ingest import ingest_files
from loyalist.ingest.unload import list_loads, unload
from loyalist.report.data import loads_and_rules
from loyalist.store import Store

AS_OF = pd.Timestamp("2024-04-01")

JAN = [line("A1", "P1", 1, 5, "c1", "2024-01-05 10:00:00"),
       line("A1", "P2", 2, 3, "c1", "2024-01-05 10:00:00"),
       line("A2", "P1", 1, 5, "c2", "2024-01-09 11:00:00"),
       line("A3", "P3", 1, 0, "c3", "2024-01-10 12:00:00")]  # zero price: quarantined
FEB = [line("B1", "P1", 1, 5, "c1", "2024-02-02 10:00:00"),
       line("B2", "P2", 3, 3, "c4", "2024-02-03 09:00:00"),
       line("A2", "P1", 1, 5, "c2", "2024-01-09 11:00:00")]  # re-sent: already_loaded


def _ingest(st: Store, path: Path, **kw: object) -> dict:
    return ingest_files(st, [path], loaded_at=LOADED_AT, **kw)[0]  # type: ignore[arg-type]


def _counts(st: Store) -> dict[str, int]:
    return {t: st.count(t) for t in ("transactions", "quarantine", "customers", "products",
                                     "customer_orders")}


def test_removing_the_latest_load_leaves_the_store_as_before_it(tmp_path: Path) -> None:
    jan, feb = write_csv(tmp_path / "jan.csv", JAN), write_csv(tmp_path / "feb.csv", FEB)
    with Store(tmp_path / "ref.duckdb") as ref:
        _ingest(ref, jan)
        before, feats = _counts(ref), customer_features(ref, AS_OF)
    with Store(tmp_path / "s.duckdb") as st:
        _ingest(st, jan)
        rep = _ingest(st, feb)
        assert rep["rules"]["already_loaded"] == 1 and st.count("quarantine") == 2
        res = unload(st, [2])
        assert res["rows_removed"] == {"transactions": 2, "quarantine": 1}
        assert _counts(st) == before
        assert orders.is_fresh(st.con)  # the per-order table follows, and matches the lines
        pd.testing.assert_frame_equal(customer_features(st, AS_OF), feats)
        assert [x["status"] for x in list_loads(st.con)] == ["loaded", "unloaded"]
        # the report's (and dashboard's) data quality counts only the loads still in the store
        loads, rules = loads_and_rules(st)
        assert loads["load_id"].tolist() == [1] and loads["rows_loaded"].sum() == before[
            "transactions"]
        assert "already_loaded" not in set(rules["rule"])  # FEB's re-sent line went with it
        # the same file can be loaded again, and gives what it gave the first time
        again = _ingest(st, feb)
        assert (again["status"], again["rows_loaded"], again["rules"]) == (
            "loaded", rep["rows_loaded"], rep["rules"])


def test_an_earlier_load_goes_only_with_the_later_ones(tmp_path: Path) -> None:
    """FEB's re-sent line was quarantined against JAN's: removing JAN alone would lose it."""
    with Store(tmp_path / "s.duckdb") as st:
        _ingest(st, write_csv(tmp_path / "jan.csv", JAN))
        _ingest(st, write_csv(tmp_path / "feb.csv", FEB))
        before = _counts(st)
        with pytest.raises(ParameterError, match=r"load 1 \(.*jan.csv\) cannot be removed alone: "
                           r"later transactions load\(s\) 2 \(.*feb.csv\).*`loyalist unload 2 1`"):
            unload(st, [1])
        assert _counts(st) == before  # refused: untouched
        res = unload(st, ["2", "1"])
        assert res["rows_removed"]["transactions"] == 5
        assert _counts(st) == {"transactions": 0, "quarantine": 0, "customers": 0,
                               "products": 0, "customer_orders": 0}


def test_a_corrected_export_replaces_the_stored_one(tmp_path: Path) -> None:
    """The workflow the ingest report now names: a corrected re-export of JAN (A1's P1 is 2,
    P2 voided) is loaded beside JAN; unloading both and loading it alone gives its totals."""
    fixed_rows = [line("A1", "P1", 2, 5, "c1", "2024-01-05 10:00:00"),
                  line("A2", "P1", 1, 5, "c2", "2024-01-09 11:00:00")]
    fixed = write_csv(tmp_path / "fixed.csv", fixed_rows)
    with Store(tmp_path / "s.duckdb") as st:
        _ingest(st, write_csv(tmp_path / "jan.csv", JAN))
        rep = _ingest(st, fixed)
        said = next(a for a in rep["assumptions"] if "loyalist unload" in a)
        command = said.split("`")[1].split()[2:]
        assert command == ["2", "1"]
        unload(st, command)
        _ingest(st, fixed)
        assert st.con.execute("SELECT sum(amount) FROM transactions").fetchone()[0] == 15


def test_keyed_tables(tmp_path: Path) -> None:
    """A customers file replaces rows by key: the only load of a table can go, one that
    replaced an earlier load's rows cannot (their old values are gone)."""
    people = write_csv(tmp_path / "c1.csv", [{"customer_id": "c1", "age": 30},
                                             {"customer_id": "c2", "age": 40}])
    newer = write_csv(tmp_path / "c2.csv", [{"customer_id": "c1", "age": 31}])
    with Store(tmp_path / "s.duckdb") as st:
        _ingest(st, write_csv(tmp_path / "jan.csv", JAN))
        _ingest(st, people, table="customers")
        _ingest(st, newer, table="customers")
        with pytest.raises(ParameterError, match=r"load 3 \(.*c2.csv\) replaced the customers "
                           r"rows of earlier load\(s\) 2 .*Load a corrected customers file "
                           r"instead .*`loyalist unload 3 2`"):
            unload(st, [3])
        assert st.con.execute("SELECT age FROM customers WHERE customer_id = 'c1'"
                              ).fetchone()[0] == 31
        res = unload(st, [3, 2])
        assert res["rows_removed"] == {"customers": 2}
        assert st.count("transactions") == 3  # the lines stay


def test_wrong_ids_are_one_clear_line(tmp_path: Path) -> None:
    with Store(tmp_path / "s.duckdb") as st:
        _ingest(st, write_csv(tmp_path / "jan.csv", JAN))
        for ids, match in (([], "give the id of the load"), (["x"], "'x' is not a number"),
                           ([7], r"no load 7 in the store \(loads 1 to 1\)")):
            with pytest.raises(ParameterError, match=match):
                unload(st, ids)
        unload(st, [1])
        with pytest.raises(ParameterError, match="load 1 .* was removed before"):
            unload(st, [1])


def test_results_made_from_the_removed_rows_are_named(tmp_path: Path) -> None:
    with Store(tmp_path / "s.duckdb") as st:
        _ingest(st, write_csv(tmp_path / "jan.csv", JAN))
        st.con.execute("CREATE TABLE scores AS SELECT 'c1' AS customer_id, 0.5 AS x")
        res = unload(st, [1])
        assert res["stale_results"] == ["scores"]
        assert "still counting its rows: customer scores" in res["notes"][-1]


def test_cli_loads_and_unload(tmp_path: Path) -> None:
    store = tmp_path / "s.duckdb"
    jan = write_csv(tmp_path / "jan.csv", JAN)
    exe = [sys.executable, "-m", "loyalist"]

    def run(*args: object) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*exe, *map(str, args)], capture_output=True, text=True,
                              timeout=300, cwd=tmp_path)

    assert run("ingest", jan, "--store", store).returncode == 0
    listed = run("loads", "--store", store)
    assert listed.returncode == 0 and "jan.csv" in listed.stdout and "loaded" in listed.stdout
    bad = run("unload", "9", "--store", store)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "there is no load 9" in bad.stderr and len(bad.stderr.strip().splitlines()) <= 2
    ok = run("unload", "1", "--store", store, "--json")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["rows_removed"]["transactions"] == 3
    doc = json.loads(run("loads", "--store", store, "--json").stdout)
    assert [d["status"] for d in doc] == ["unloaded"]
