"""Give a store's free space back to the disk.

DuckDB reuses the blocks that deleted and rewritten rows leave (an unload, a reload, a
regrouped customer's orders, replaced scores and plans), but it never shrinks the file: a store
that was rebuilt a few times stays as large as it ever was. :func:`compact` rewrites it into a
fresh file beside it (its catalog with ``COPY FROM DATABASE ... (SCHEMA)``, which keeps every
table with its constraints, view, sequence with its last value, index, macro and type; then
the tables one by one), checks the copy against the store and puts it in the store's place
with one ``os.replace``. ``EXPORT``/``IMPORT DATABASE`` would lose a sequence's last value,
and was 1.5 times slower with twice the disk.

Measured (BENCHMARKS.md, "Compacting a store"): a 1M-line store loaded, unloaded and loaded
again, 66.3 MB, to 44.8 MB in 4.8 s, of which 0.5 s comparing the copy with the store.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb

from loyalist.errors import StoreError
from loyalist.store.files import remove_store_files, wal_path

log = logging.getLogger(__name__)

#: the copy is written beside the store under its name plus this suffix (a compaction that was
#: killed leaves it; the next one removes it: while it holds the store's lock no other runs)
TEMP_SUFFIX = ".compacting"
#: suggest compacting when more than this share of the file is free blocks ...
HINT_FREE_SHARE = 0.5
#: ... and the file is larger than this (below it the space is not worth a command)
HINT_MIN_BYTES = 32 * 2**20

#: what the copy must hold exactly as the store does, besides every table's rows
_CATALOG = {
    "schemas": "SELECT schema_name, comment FROM duckdb_schemas() WHERE database_name = ? "
               "AND NOT internal",
    "tables": "SELECT schema_name, table_name, sql, comment FROM duckdb_tables() "
              "WHERE database_name = ?",
    "views": "SELECT schema_name, view_name, sql, comment FROM duckdb_views() "
             "WHERE database_name = ? AND NOT internal",
    "sequences": "SELECT schema_name, sequence_name, start_value, min_value, max_value, "
                 "increment_by, cycle, last_value FROM duckdb_sequences() WHERE database_name = ?",
    "indexes": "SELECT schema_name, index_name, table_name, sql FROM duckdb_indexes() "
               "WHERE database_name = ?",
    "macros": "SELECT schema_name, function_name, function_type, parameters, macro_definition "
              "FROM duckdb_functions() WHERE database_name = ? AND NOT internal",
    "types": "SELECT schema_name, type_name, logical_type FROM duckdb_types() "
             "WHERE database_name = ? AND NOT internal",
}


def space(con: duckdb.DuckDBPyConnection, database: str | None = None) -> dict[str, int]:
    """Blocks of ``database`` (default: the connection's own) as of its last checkpoint:
    ``block_size``, ``total_blocks``, ``used_blocks``, ``free_blocks``, and ``used_bytes``
    (used blocks x block size). ``PRAGMA database_size`` reads them from the block manager:
    no table is scanned."""
    cur = con.execute("SELECT block_size, total_blocks, used_blocks, free_blocks "
                      "FROM pragma_database_size() WHERE database_name = "
                      "coalesce(?, current_database())", [database])
    names = [d[0] for d in cur.description]
    out = {k: int(v or 0) for k, v in zip(names, cur.fetchall()[0], strict=True)}
    out["used_bytes"] = out["used_blocks"] * out["block_size"]
    return out


def on_disk(path: Path) -> int:
    """Bytes of the store file and its WAL."""
    wal = wal_path(path)
    return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


def hint(con: duckdb.DuckDBPyConnection, path: Path, *, free_share: float | None = None,
         min_bytes: int | None = None) -> str | None:
    """One line suggesting ``loyalist compact`` when more than ``free_share`` (default
    :data:`HINT_FREE_SHARE`) of the store's file is free blocks and the file is larger than
    ``min_bytes`` (default :data:`HINT_MIN_BYTES`); None otherwise, and when the store cannot
    say (the command that asks has done its work). Checkpoints first (what closing the store
    does anyway), so that the blocks freed by the command's own deletes count."""
    free_share = HINT_FREE_SHARE if free_share is None else free_share
    min_bytes = HINT_MIN_BYTES if min_bytes is None else min_bytes
    try:
        con.execute("CHECKPOINT")
        sp = space(con)
    except duckdb.Error as e:  # e.g. another connection of this process is mid-transaction
        log.debug("%s: no compaction hint (%s)", path, e)
        return None
    # the file, not the block count: DuckDB cuts free blocks off the end of the file
    size = path.stat().st_size
    free = max(0, size - sp["used_bytes"])
    if size <= min_bytes or free <= free_share * size:
        return None
    return (f"{path}: {_mb(free)} of the store's {_mb(size)} is free space left by removed or "
            f"replaced data; `loyalist compact --store {path}` gives it back to the disk")


def compact(path: str | os.PathLike[str], *, keep_free: int = 0,
            memory_limit: str | None = None,
            progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Rewrite the store at ``path`` without its free blocks; returns its size before and
    after (file and WAL, bytes), its blocks before and after, the tables and rows checked,
    and the seconds taken.

    The store is opened for writing, so no other process can use it meanwhile (one that has
    it open is named in the refusal). The copy needs :func:`room_needed` of the store's used
    blocks on the same disk, plus ``keep_free`` bytes that must stay free; without it the
    store is refused before anything is written. The copy is checked before it replaces
    the store: the same schemas, tables (with their constraints), views, sequences, indexes,
    macros and types, and in every table the same number of rows and the same sum of row
    hashes. Any failure (refusal, a full disk, an interruption) leaves the store as it was and
    removes the copy."""
    from loyalist.store import (
        check_ours,
        check_store_file,
        default_memory_limit,
        lock_message,
        open_error_message,
    )

    path = Path(path)
    say = progress or (lambda _m: None)
    check_store_file(path)
    if path.is_dir():
        raise StoreError(f"{path}: a folder, not a store; --store names the store's file, e.g. "
                         f"{path / 'loyalist.duckdb'}")
    if not path.is_file():
        raise StoreError(f"{path}: no store here, so nothing to compact; give the path of a "
                         "store made by `loyalist ingest`")
    # a symbolic link (a store kept on another disk): the file it names is compacted, in its
    # own folder, and the link stays
    real = path.resolve()
    if wal_path(real).exists() and not (wal_path(path).exists()
                                    and os.path.samefile(wal_path(real), wal_path(path))):
        raise StoreError(f"{path}: a link to {real}, which has a WAL of its own (a process "
                         "stopped while writing it by that name); nothing was changed. Open it "
                         f"once by that name, e.g. `loyalist loads --store {real}`, then compact")
    started = time.perf_counter()
    bytes_before = on_disk(path)
    try:
        con = duckdb.connect(str(path), config={
            "memory_limit": memory_limit or default_memory_limit()})
    except duckdb.IOException as e:
        raise StoreError(lock_message(path, str(e), read_only=False) or
                         open_error_message(path, str(e), read_only=False)) from None
    tmp = real.with_name(real.name + TEMP_SUFFIX)
    try:
        con.execute("SET enable_progress_bar = false")
        check_ours(con, path, create=False)
        if wal_path(path).exists():  # a WAL left by a process that stopped: into the file first
            con.execute("CHECKPOINT")
        before = space(con)
        remove_store_files(tmp)  # left by a compaction that was killed
        _check_room(path, real.parent, room_needed(before["used_bytes"]), keep_free)
        db = con.execute("SELECT current_database()").fetchall()[0][0]
        alias = f"{db}_compacted"
        target = str(tmp).replace("'", "''")
        try:
            say(f"copying {_mb(before['used_bytes'])} of {_mb(bytes_before)} into {tmp.name}")
            con.execute(f"ATTACH '{target}' AS {_q(alias)}")
            _copy(con, db, alias)
            con.execute(f"DETACH {_q(alias)}")
            say("checking the copy")
            con.execute(f"ATTACH '{target}' AS {_q(alias)} (READ_ONLY)")
            checked = _check_copy(con, db, alias, path)
            after = space(con, alias)
            con.execute(f"DETACH {_q(alias)}")
            _fsync(tmp)
            say(f"replacing {real.name}")
            try:  # still holding the store's lock: no process can open the old file meanwhile
                os.replace(tmp, real)
            except PermissionError:  # Windows replaces no open file
                con.close()
                os.replace(tmp, real)
        except BaseException as e:  # an interruption too: the copy goes, the store stays
            with contextlib.suppress(duckdb.Error):
                con.execute(f"DETACH DATABASE IF EXISTS {_q(alias)}")
            remove_store_files(tmp)
            if isinstance(e, duckdb.Error | OSError):
                raise StoreError(_failed(path, tmp, e)) from None
            raise
    finally:
        con.close()
    wal_path(path).unlink(missing_ok=True)  # the old file's (empty: checkpointed above)
    _fsync(real.parent)
    bytes_after = on_disk(path)
    return {"store": str(path), "bytes_before": bytes_before, "bytes_after": bytes_after,
            "bytes_freed": bytes_before - bytes_after,
            "blocks_before": _blocks(before), "blocks_after": _blocks(after),
            "tables": checked["tables"], "rows": checked["rows"],
            "seconds": round(time.perf_counter() - started, 2)}


def room_needed(used_bytes: int) -> int:
    """Bytes of disk the copy of a store with ``used_bytes`` in use may take while it is
    written: the copy and its WAL peaked at 0.98 and 1.30 times the used blocks (a churned
    1M-line store, a 3,000-customer one; BENCHMARKS.md); a quarter more and 64 MB."""
    return used_bytes * 5 // 4 + 64 * 2**20


def _copy(con: duckdb.DuckDBPyConnection, db: str, alias: str) -> None:
    """Database ``db`` into the empty database ``alias``: its catalog, then table by table,
    each checkpointed into the file before the next. One ``COPY FROM DATABASE`` writes the
    same file, but as one transaction: every table too small to be written straight to
    blocks waits in the WAL until the end, and the copy's WAL and file together peaked at
    1.91 times the store's used blocks (a 3,000-customer store; 1.23 on 1M lines) against 1.30
    and 0.98 table by table, in the same CPU time."""
    con.execute(f"COPY FROM DATABASE {_q(db)} TO {_q(alias)} (SCHEMA)")
    tables = con.execute("SELECT schema_name, table_name FROM duckdb_tables() "
                         "WHERE database_name = ? ORDER BY table_oid", [db]).fetchall()
    for schema, table in tables:  # in the order made: a referenced table before its referrers
        cols = ", ".join(_q(c) for c, generated in con.execute(
            "SELECT column_name, is_generated FROM information_schema.columns WHERE "
            "table_catalog = ? AND table_schema = ? AND table_name = ? ORDER BY "
            "ordinal_position", [db, schema, table]).fetchall() if generated != "ALWAYS")
        con.execute(f"INSERT INTO {_q(alias)}.{_q(schema)}.{_q(table)} ({cols}) "
                    f"SELECT {cols} FROM {_q(db)}.{_q(schema)}.{_q(table)}")
        con.execute(f"CHECKPOINT {_q(alias)}")  # DETACH would too, but hide why it failed


def _q(name: str) -> str:
    """``name`` as a quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def _check_room(path: Path, folder: Path, need: int, keep_free: int) -> None:
    free = shutil.disk_usage(folder).free
    if free - need >= keep_free:
        return
    kept = f" (and {_mb(keep_free)} must stay free)" if keep_free else ""
    raise StoreError(f"{path}: not enough free disk space to compact the store: the copy "
                     f"needs about {_mb(need)}{kept}, and {folder} has {_mb(free)} "
                     "free; nothing was changed. Free some space on that disk, or move the "
                     "store to a disk with room and compact it there")


def _check_copy(con: duckdb.DuckDBPyConnection, db: str, alias: str, path: Path
                ) -> dict[str, int]:
    """Raise unless database ``alias`` holds what ``db`` holds (:data:`_CATALOG` and every
    table's rows); the tables and rows compared."""
    for what, sql in _CATALOG.items():
        mine, theirs = (sorted(con.execute(sql, [d]).fetchall(), key=repr) for d in (db, alias))
        if mine != theirs:
            diff = next(iter({*map(repr, mine)} ^ {*map(repr, theirs)}), "")
            raise StoreError(f"{path}: the compacted copy's {what} differ from the store's "
                             f"({diff[:200]}); the store was not changed")
    tables = con.execute("SELECT schema_name, table_name FROM duckdb_tables() "
                         "WHERE database_name = ? ORDER BY ALL", [db]).fetchall()
    rows = 0
    for schema, table in tables:
        # a row's hash over all its columns, summed: equal sums and counts, equal tables
        # (short of a collision), in any row order
        mine, theirs = (con.execute(
            "SELECT count(*), sum(hash(*COLUMNS(*))::HUGEINT) "
            f"FROM {_q(d)}.{_q(schema)}.{_q(table)}").fetchall()[0] for d in (db, alias))
        if mine != theirs:
            raise StoreError(f"{path}: the compacted copy of table {table} differs from the "
                             f"store's ({mine[0]:,} rows in the store, {theirs[0]:,} in the "
                             "copy, or other values); the store was not changed")
        rows += int(mine[0])
    return {"tables": len(tables), "rows": rows}


def _failed(path: Path, tmp: Path, e: BaseException) -> str:
    """One line for a copy that failed: why, and that nothing changed."""
    text = str(e).splitlines()[0] if str(e) else type(e).__name__
    low = text.lower()
    fix = ""
    if "no space left" in low or "file too large" in low or "disk quota" in low:
        fix = "; free some space on that disk (or raise the process's file size limit)"
    elif "permission denied" in low or "read-only file system" in low:
        fix = f"; the copy is written in {tmp.parent}, which must be writable"
    return (f"{path}: compacting failed while writing the copy {tmp.name} ({text}); the store "
            f"was not changed and the partial copy was removed{fix}")


def _blocks(sp: dict[str, int]) -> dict[str, int]:
    return {"block_size": sp["block_size"], "total": sp["total_blocks"],
            "used": sp["used_blocks"], "free": sp["free_blocks"]}




def _fsync(path: Path) -> None:
    """Flush ``path`` (a file, or a folder's entries) to the disk, where the system allows."""
    flags = os.O_RDONLY | (os.O_DIRECTORY if path.is_dir() and hasattr(os, "O_DIRECTORY") else 0)
    try:
        fd = os.open(path, flags)
    except OSError:  # a folder cannot be opened on Windows: its entries need no flush there
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _mb(n: float) -> str:
    return f"{n / 2**20:,.1f} MB"
