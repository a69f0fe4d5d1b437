"""`loyalist compact`: a store rewritten without its free blocks holds exactly what it held and
still serves its scores and plans; every refusal and failure leaves the file byte for byte as
it was, with no copy left beside it. Real DuckDB files and real failures, no mocks."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from conftest import line, trained_store, write_csv

from loyalist import pipeline
from loyalist.errors import StoreError
from loyalist.features import customer_features
from loyalist.store import Store, compact, compaction

EXE = [sys.executable, "-m", "loyalist"]


#: the whole file on one xdist worker: its module-scoped stores are built once, not once
#: per worker (--dist loadgroup sends ungrouped tests to either)
pytestmark = pytest.mark.xdist_group("compact")


@pytest.fixture(scope="module")
def churned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fashion store trained and planned, then churned as a merchant's store is: its sales
    unloaded and loaded again, and the customer models retrained (the scores replaced)."""
    out = tmp_path_factory.mktemp("compact")
    store, gen, _ = trained_store(out, "churned.duckdb", customers=300)
    pipeline.plan(store, budget=1000, goal="revenue", save=True)
    pipeline.unload(store, [r["load_id"] for r in pipeline.loads(store)
                            if r["table"] == "transactions"])
    pipeline.ingest(store, [gen["files"]["transactions"]], table="transactions")
    pipeline.train(store)
    return store


def copy_of(src: Path, folder: Path, name: str = "shop.duckdb") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy(src, folder / name))


def run(*args: str | Path, limit_file_bytes: int | None = None
        ) -> subprocess.CompletedProcess[str]:
    def limit() -> None:  # a real failure: writes past this size fail with EFBIG
        if limit_file_bytes is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit_file_bytes, resource.RLIM_INFINITY))

    return subprocess.run([*EXE, *map(str, args)], capture_output=True, text=True, timeout=300,
                          preexec_fn=limit)


def digest(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def contents(path: Path) -> dict[str, object]:
    """Every table's rows (sorted), the tables' definitions, and the other catalog entries."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() "
                                            "ORDER BY 1").fetchall()]
        out: dict[str, object] = {
            t: con.execute(f'SELECT * FROM "{t}" ORDER BY ALL').df() for t in tables}
        out["__definitions"] = con.execute(
            "SELECT table_name, sql FROM duckdb_tables() ORDER BY 1").fetchall()
        out["__constraints"] = con.execute(
            "SELECT table_name, constraint_type, constraint_text FROM duckdb_constraints() "
            "ORDER BY ALL").fetchall()
        return out
    finally:
        con.close()


def assert_same(a: dict[str, object], b: dict[str, object]) -> None:
    assert a.keys() == b.keys()
    for k, v in a.items():
        if isinstance(v, pd.DataFrame):
            pd.testing.assert_frame_equal(v, b[k], obj=k)  # type: ignore[arg-type]
        else:
            assert v == b[k], k


def one_error(p: subprocess.CompletedProcess[str]) -> str:
    assert p.returncode == 2 and "Traceback" not in p.stderr, p.stderr
    lines = [x for x in p.stderr.strip().splitlines() if not x.startswith("…")]
    assert len(lines) == 1 and lines[0].startswith("error: "), p.stderr
    return " ".join(lines[0].split())


def only_the_store(store: Path) -> None:
    """No copy, no WAL and nothing else beside the store."""
    assert sorted(p.name for p in store.parent.iterdir()) == [store.name]


def test_a_churned_store_shrinks_and_holds_exactly_what_it_held(
        churned: Path, tmp_path: Path) -> None:
    """`loyalist compact --json`: one strict JSON document; the file is smaller, with no free
    block; every table's rows and definition are as they were (store_meta, loads, scores,
    plans included); the store opens as every command opens it and reads the same; and a
    second compaction changes nothing."""
    store = copy_of(churned, tmp_path / "s")
    before, size = contents(store), store.stat().st_size
    with Store(store, read_only=True) as st:
        as_of = st.default_as_of()
        feats, scores = customer_features(st, as_of), st.table("scores")
    loads = pipeline.loads(store)
    p = run("compact", "--store", store, "--json")
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout, parse_constant=lambda c: pytest.fail(f"not strict JSON: {c}"))
    assert doc["bytes_before"] == size and doc["bytes_after"] == store.stat().st_size
    assert doc["bytes_after"] < doc["bytes_before"]
    assert doc["blocks_before"]["free"] > 0 and doc["blocks_after"]["free"] == 0
    assert doc["tables"] == len([k for k in before if not k.startswith("__")])
    assert doc["rows"] == sum(len(v) for v in before.values() if isinstance(v, pd.DataFrame))
    assert p.stderr == ""  # --json: no progress lines
    only_the_store(store)
    assert_same(before, contents(store))  # store_meta, loads, scores, plans, ... included
    # the store opens as every command opens it, and reads the same
    with Store(store, create=False) as st:
        pd.testing.assert_frame_equal(customer_features(st, as_of), feats)
        pd.testing.assert_frame_equal(st.table("scores"), scores)
    assert pipeline.loads(store) == loads
    # compacting a compact store changes no row and gains nothing
    again = compact(store)
    assert again["bytes_after"] <= again["bytes_before"] == doc["bytes_after"]
    assert_same(before, contents(store))
    only_the_store(store)


def test_the_summary_says_sizes_and_time_and_the_progress_goes_to_stderr(
        churned: Path, tmp_path: Path) -> None:
    """Run where the store is, named by a relative path: the copy is made beside it (the
    same disk, so that os.replace is atomic)."""
    store = copy_of(churned, tmp_path / "s")
    p = subprocess.run([*EXE, "compact", "--store", "shop.duckdb"], capture_output=True,
                       text=True, timeout=300, cwd=store.parent,
                       env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert p.returncode == 0, p.stderr
    out = " ".join(p.stdout.split())
    assert out.startswith("compacted shop.duckdb: ") and " MB -> " in out, out
    assert "% smaller) in " in out and " tables, " in out and " rows checked" in out
    assert len(p.stdout.splitlines()) == 1
    assert [x.split()[:2] for x in p.stderr.splitlines()] == [
        ["…", "copying"], ["…", "checking"], ["…", "replacing"]], p.stderr
    only_the_store(store)


def test_views_sequences_indexes_macros_and_types_are_kept(tmp_path: Path) -> None:
    """What a store written by hand (or a later version) may hold besides plain tables
    survives: a sequence with its last value, a type, constraints (a foreign key: the tables
    are filled in the order they were made), a generated column, an index, a view, a
    macro."""
    store = tmp_path / "s" / "shop.duckdb"
    store.parent.mkdir()
    pipeline.ingest(store, [write_csv(tmp_path / "t.csv", [line(), line(order="2")])])
    con = duckdb.connect(str(store))
    con.execute("CREATE SEQUENCE note_id START 5")
    con.execute("CREATE TYPE mood AS ENUM ('glad', 'sad')")
    con.execute("CREATE TABLE notes (id INTEGER DEFAULT nextval('note_id') PRIMARY KEY, "
                "m mood, body VARCHAR UNIQUE, x DOUBLE CHECK (x > 0), "
                "twice_x DOUBLE GENERATED ALWAYS AS (x * 2) VIRTUAL)")
    con.execute("INSERT INTO notes (m, body, x) VALUES ('glad', 'a', 1), ('sad', 'b', 2)")
    con.execute("CREATE TABLE note_tags (note_id INTEGER REFERENCES notes (id), tag VARCHAR)")
    con.execute("INSERT INTO note_tags VALUES (5, 'first'), (6, 'second')")
    con.execute("CREATE INDEX notes_x ON notes (x)")
    con.execute("CREATE VIEW big_orders AS SELECT * FROM transactions WHERE amount > 1")
    con.execute("CREATE MACRO twice(a) AS a * 2")
    con.close()
    before = contents(store)
    compact(store)
    assert_same(before, contents(store))
    con = duckdb.connect(str(store))
    try:
        assert con.execute("SELECT index_name FROM duckdb_indexes()").fetchall() == [("notes_x",)]
        assert con.execute("SELECT count(*), twice(2) FROM big_orders").fetchall() == [(2, 4)]
        con.execute("INSERT INTO notes (m, body, x) VALUES ('glad', 'c', 3)")
        assert con.execute("SELECT max(id) FROM notes").fetchall() == [(7,)]  # 5, 6, then 7
        with pytest.raises(duckdb.ConstraintException, match="body"):
            con.execute("INSERT INTO notes (m, body, x) VALUES ('glad', 'a', 4)")
        with pytest.raises(duckdb.ConstraintException, match="foreign key"):
            con.execute("INSERT INTO note_tags VALUES (99, 'none')")
        assert con.execute("SELECT sum(twice_x) FROM notes").fetchall() == [(12.0,)]
    finally:
        con.close()


def not_a_store(folder: Path, case: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    store = folder / ("sales.csv" if case == "csv" else "shop.duckdb")
    if case == "folder":
        store.mkdir()
    elif case == "csv":
        write_csv(store, [line()])
    elif case in ("other", "empty"):
        con = duckdb.connect(str(store))
        if case == "other":
            con.execute("CREATE TABLE crm AS SELECT 1 AS a")
        con.close()
    return store


@pytest.mark.parametrize(("case", "want"), [
    ("missing", "no store here, so nothing to compact"),
    ("folder", "a folder, not a store; --store names the store's file"),
    ("csv", "a CSV or text file, not a Loyalist store"),
    ("other", "a DuckDB database but not a Loyalist store (it holds crm); nothing was changed"),
    ("empty", "an empty DuckDB database, not a store yet"),
])
def test_what_is_not_a_store_is_refused_and_left_alone(tmp_path: Path, case: str,
                                                       want: str) -> None:
    """The library's refusals; the command prints each as one line and exits with 2, as
    the refusals below that run it show."""
    store = not_a_store(tmp_path / "s", case)
    before = digest(store) if store.is_file() else None
    with pytest.raises(StoreError, match=re.escape(f"{store}: {want}")):
        compact(store)
    if before is None:
        assert not any(p.is_file() for p in store.parent.rglob("*"))
    else:
        assert digest(store) == before
        only_the_store(store)


def test_a_store_another_process_has_open_is_refused_and_left_alone(
        churned: Path, tmp_path: Path) -> None:
    """`loyalist serve` keeps a read-only handle while it answers requests: the store is
    named as in use, by which process, and what to do."""
    store = copy_of(churned, tmp_path / "s")
    before = digest(store)
    with subprocess.Popen(
            [sys.executable, "-c", "import duckdb, sys; c = duckdb.connect(sys.argv[1], "
             "read_only=True); print('open', flush=True); sys.stdin.read()", str(store)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as holder:
        assert holder.stdout is not None and holder.stdin is not None
        try:
            assert holder.stdout.readline().strip() == "open"
            err = one_error(run("compact", "--store", store))
        finally:
            holder.stdin.close()
    assert f"{store}: the store is in use by another process (PID {holder.pid})" in err, err
    assert "`loyalist serve`" in err
    assert digest(store) == before
    only_the_store(store)


def test_no_room_for_the_copy_is_refused_before_anything_is_written(
        churned: Path, tmp_path: Path) -> None:
    """The disk's real free space, less what must stay free, against the used blocks."""
    store = copy_of(churned, tmp_path / "s")
    before = digest(store)
    free = shutil.disk_usage(store.parent).free
    with pytest.raises(StoreError, match=r"not enough free disk space to compact the store: "
                       r"the copy needs about [\d.,]+ MB \(and [\d.,]+ MB must stay free\), and "):
        compact(store, keep_free=free)
    assert digest(store) == before
    only_the_store(store)


def test_a_copy_that_fails_midway_leaves_the_store_and_no_copy(
        churned: Path, tmp_path: Path) -> None:
    """The process may write files of 1 MB at most (``ulimit -f``): the copy fails with a
    real EFBIG once it grows past that, after the checks passed."""
    store = copy_of(churned, tmp_path / "s")
    before = digest(store)
    assert store.stat().st_size > 2 * 2**20
    err = one_error(run("compact", "--store", store, limit_file_bytes=2**20))
    assert f"{store}: compacting failed while writing the copy shop.duckdb.compacting" in err
    assert "File too large" in err and "the store was not changed and the partial copy was " \
                                      "removed" in err, err
    assert digest(store) == before
    only_the_store(store)
    assert compact(store)["bytes_after"] < store.stat().st_size + 1  # and it still compacts


def test_a_copy_left_by_a_killed_compaction_is_cleared(churned: Path,
                                                        tmp_path: Path) -> None:
    store = copy_of(churned, tmp_path / "s")
    before = contents(store)
    for name in ("shop.duckdb.compacting", "shop.duckdb.compacting.wal"):
        (store.parent / name).write_bytes(b"half a copy" * 1000)
    compact(store)
    only_the_store(store)
    assert_same(before, contents(store))


def test_a_wal_left_by_a_process_that_stopped_is_kept_and_removed(churned: Path,
                                                                     tmp_path: Path) -> None:
    """A process that wrote and stopped without closing the store left its last changes in
    the WAL: they are in the compacted store, and no WAL is left beside it."""
    store = copy_of(churned, tmp_path / "s")
    con = duckdb.connect(str(store), read_only=True)
    kept = con.execute("SELECT count(*) FROM scores WHERE rowid % 2 = 1").fetchall()[0][0]
    con.close()
    subprocess.run([sys.executable, "-c", "import duckdb, os, sys; c = duckdb.connect("
                    "sys.argv[1]); c.execute(\"SET checkpoint_threshold = '1TB'\"); "
                    "c.execute(\"INSERT INTO store_meta VALUES ('in_the_wal', 'x')\"); "
                    "c.execute('DELETE FROM scores WHERE rowid % 2 = 0'); os._exit(0)",
                    str(store)], check=True, timeout=120)
    wal = store.with_name(store.name + ".wal")
    assert wal.stat().st_size > 0
    res = compact(store)
    assert res["bytes_before"] > store.stat().st_size == res["bytes_after"]
    only_the_store(store)
    with Store(store, read_only=True) as st:
        assert st.query("SELECT value FROM store_meta WHERE key = 'in_the_wal'").iloc[0, 0] == "x"
        assert st.count("scores") == kept > 0


def test_a_store_reached_by_a_symbolic_link_is_compacted_where_it_is(churned: Path,
                                                                        tmp_path: Path) -> None:
    """A store kept on another disk and linked from the working folder: the file itself is
    compacted in its own folder, and the link stays a link to it."""
    store = copy_of(churned, tmp_path / "disk")
    before = contents(store)
    work = tmp_path / "work"
    work.mkdir()
    (work / "shop.duckdb").symlink_to(store)
    res = compact(work / "shop.duckdb")
    assert (work / "shop.duckdb").is_symlink() and (work / "shop.duckdb").resolve() == store
    assert [p.name for p in work.iterdir()] == ["shop.duckdb"]
    only_the_store(store)
    assert res["bytes_after"] == store.stat().st_size < res["bytes_before"]
    assert_same(before, contents(store))


def test_a_store_mostly_free_after_an_unload_suggests_compacting(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """150,000 lines loaded, then unloaded: more than half of the file is free blocks. The
    command says so in one warning (the size threshold lowered: this store is small), a store
    under the threshold says nothing, and a compacted store has nothing to say."""
    store = tmp_path / "s" / "shop.duckdb"
    store.parent.mkdir()
    lines = tmp_path / "lines.parquet"
    duckdb.execute(f"""COPY (SELECT 'o' || (i // 3) AS order_id, 'p' || (i % 50) AS product_id,
        1 + i % 3 AS quantity, 2.5 AS unit_price, 'c' || (i // 3 % 4000) AS customer_id,
        TIMESTAMP '2024-01-01' + INTERVAL (i // 3) MINUTE AS ordered_at
        FROM range(150000) t(i)) TO '{lines}'""")
    pipeline.ingest(store, [lines])
    monkeypatch.setattr(compaction, "HINT_MIN_BYTES", 0)
    with caplog.at_level(logging.WARNING, logger="loyalist"):
        pipeline.unload(store, [1])
    notes = [r.getMessage() for r in caplog.records if "loyalist compact" in r.getMessage()]
    assert len(notes) == 1 and notes[0].startswith(f"{store}: "), notes
    assert notes[0].endswith(f"is free space left by removed or replaced data; `loyalist "
                             f"compact --store {store}` gives it back to the disk"), notes
    monkeypatch.undo()
    con = duckdb.connect(str(store))
    try:
        assert compaction.hint(con, store) is None  # a few MB: not worth a command
        assert compaction.hint(con, store, min_bytes=0) == notes[0]
    finally:
        con.close()
    compact(store)
    con = duckdb.connect(str(store))
    try:
        assert compaction.hint(con, store, min_bytes=0) is None
    finally:
        con.close()
