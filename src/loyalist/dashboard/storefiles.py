"""Picking a store: the DuckDB store files (``*.duckdb``) in the served store's folder, which is
where ``loyalist serve --store`` points and where the dashboard puts a sample scenario beside
the served store (:mod:`.actions`). Each is listed with its row counts, date range and whether
it has customer scores; a write key may switch the server to one of them
(:func:`loyalist.dashboard.actions.switch_store`, the mechanism a loaded scenario uses).

A name from the form is only ever looked up among the names listed (:meth:`StoreFiles.find`),
never joined to the folder, so ``../x.duckdb``, ``sub/x.duckdb`` or an absolute path cannot
reach a file outside the folder. Hidden files (a scenario being built) and symbolic links are
not listed. The served store is read through the server's store gate, the others read-only;
a summary is kept while the file and its WAL keep their inode, size and mtime.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import duckdb

from loyalist import schema as s
from loyalist.api.storegate import StoreGate, StoreUnavailable, file_version
from loyalist.dashboard.jobs import one_line
from loyalist.errors import LoyalistError, StoreError
from loyalist.store import Store

SUFFIX = ".duckdb"
#: most files listed (the rest are counted)
MAX_FILES = 40
#: row counts shown per store
COUNTED = (s.T_TRANSACTIONS, s.T_CUSTOMERS, s.T_PRODUCTS, s.T_PROMOTIONS, s.T_PLANS)

Version = tuple[object, ...]


def folder(gate: StoreGate) -> Path:
    """The served store's folder, absolute: a store served as ``shop.duckdb`` listed its
    files "in ``.``" (exploratory report 6, finding 16)."""
    return Path(gate.path).absolute().parent


def store_names(where: Path) -> list[str]:
    """Names of the regular, non-hidden ``*.duckdb`` files directly in ``where``, sorted."""
    try:
        entries = list(os.scandir(where))
    except OSError:
        return []
    return sorted(e.name for e in entries if e.name.endswith(SUFFIX)
                  and not e.name.startswith(".") and e.is_file(follow_symlinks=False))


def version(path: Path) -> Version:
    return file_version(path)


def summarize(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Row counts, first and last order, latest scores (as_of, customers) of an open store."""
    have = {t for (t,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    counts = {t: int(con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0])
              for t in COUNTED if t in have}
    first = last = scores_as_of = None
    scored = 0
    if counts.get(s.T_TRANSACTIONS):
        first, last = con.execute(f"SELECT min({s.ORDERED_AT}), max({s.ORDERED_AT}) "
                                  f"FROM {s.T_TRANSACTIONS}").fetchall()[0]
    if s.T_SCORES in have:
        rows = con.execute(f"SELECT as_of, count(*) FROM {s.T_SCORES} GROUP BY as_of "
                           "ORDER BY as_of DESC LIMIT 1").fetchall()
        if rows:
            scores_as_of, scored = rows[0][0], int(rows[0][1])
    state = "ready" if scored else "no_scores" if counts.get(s.T_TRANSACTIONS) else "empty"
    return {"counts": counts, "first": first, "last": last, "scores_as_of": scores_as_of,
            "customers_scored": scored, "state": state, "error": None}


def read_summary(path: Path) -> dict[str, Any]:
    """:func:`summarize` of a store file that is not served; :class:`StoreError` when it cannot
    be read (not a DuckDB file, written by another process, another DuckDB version)."""
    try:
        with Store(path, read_only=True) as st:
            return summarize(st.con)
    except duckdb.Error as e:
        raise StoreError(f"{path}: cannot read it as a store "
                         f"({one_line(str(e).splitlines()[0])})") from None


class StoreFiles:
    """The listing, with each file's summary cached by file version (one per app)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[Path, tuple[Version, dict[str, Any]]] = {}

    def listing(self, gate: StoreGate) -> dict[str, Any]:
        """``{"folder", "files": [{name, path, served, size, counts, first, last,
        scores_as_of, customers_scored, state, error}, ...], "more"}``; the served store is
        listed even before its file exists."""
        served = Path(gate.path)
        names = store_names(folder(gate))
        if served.name not in names:
            names = sorted([*names, served.name])
        shown, more = names[:MAX_FILES], max(len(names) - MAX_FILES, 0)
        if served.name not in shown:
            shown[-1] = served.name
        with self._lock:
            files = [self._entry(gate, served.with_name(n), n == served.name) for n in shown]
            for p in [p for p in self._cache if p.name not in shown]:
                del self._cache[p]
        return {"folder": str(folder(gate)), "files": files, "more": more}

    def _entry(self, gate: StoreGate, path: Path, served: bool) -> dict[str, Any]:
        base = {"name": path.name, "path": str(path), "served": served, "size": None}
        if not path.exists():
            return base | {"counts": {}, "first": None, "last": None, "scores_as_of": None,
                           "customers_scored": 0, "state": "empty", "error": None}
        base["size"] = path.stat().st_size
        ver = version(path)
        cached = self._cache.get(path)
        if cached is not None and cached[0] == ver:
            return base | cached[1]
        try:
            if served:
                with gate.read() as r:
                    info = summarize(r.con)
            else:
                info = read_summary(path)
        except (StoreUnavailable, StoreError, duckdb.Error) as e:
            return base | {"counts": {}, "first": None, "last": None, "scores_as_of": None,
                           "customers_scored": 0, "state": "unreadable",
                           "error": one_line(e)}
        self._cache[path] = (ver, info)
        return base | info

    @staticmethod
    def find(gate: StoreGate, name: str) -> Path:
        """The listed store file called ``name`` (not the served one): the path is built from
        the listing's entry, never from ``name``."""
        where = folder(gate)
        listed = {n: where / n for n in store_names(where)}
        if name not in listed:
            raise LoyalistError(f"store {name[:80]!r} is not one of the store files listed in "
                                f"{where}; pick one from the list")
        if listed[name].name == Path(gate.path).name:
            raise LoyalistError(f"{name} is the store being served already")
        return listed[name]
