"""Access to the store from a server process: many concurrent readers or one writer.

DuckDB lets one process write a file, or any number of processes read it, never both. Opening a
file costs ~12 ms (measured: DuckDB 2.0 instance start-up, even for an empty database), more
than the whole latency budget of ``GET /customers/{id}``. So reads share one read-only handle
(each request gets its own cursor) that is closed again once no request has used it for
``idle_seconds``; with 0 it is opened and closed per request. While it is open another process
cannot write the store (``loyalist train`` reports the store as busy); once it is closed the
next read sees what was written.

Writes (``POST /plans``, ``POST /ingest``) wait for the readers in flight, close the handle and
run with the store to themselves; reads that arrive meanwhile wait for them (a plan takes
seconds: reads stall that long).

What readers compute from the store once (table list, latest as_of, the customer read model of
:mod:`loyalist.api.cache`) is memoised per version of the file: kept across closing and
reopening the handle while the file and its WAL keep their inode, size and mtime.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import duckdb

from loyalist.errors import StoreError
from loyalist.store import Store, wal_path

T = TypeVar("T")


class StoreUnavailable(StoreError):
    """The store cannot be opened right now (missing, or another process is writing it)."""


class Reader:
    """One request's read-only view: a DuckDB cursor, and a memo shared by every reader of the
    same version of the store file."""

    def __init__(self, con: duckdb.DuckDBPyConnection, memo: dict[str, Any], lock: threading.RLock,
                 path: Path, cache_max_customers: int) -> None:
        self.con = con
        self.path = path
        self.cache_max_customers = cache_max_customers
        self._memo = memo
        self._lock = lock

    def memo(self, key: str, compute: Callable[[], T]) -> T:
        """``compute()`` once per version of the store file (one at a time)."""
        if key in self._memo:
            return self._memo[key]  # type: ignore[no-any-return]
        with self._lock:
            if key not in self._memo:
                self._memo[key] = compute()
            return self._memo[key]  # type: ignore[no-any-return]

    def rows(self, sql: str, params: list[object] | dict[str, object] | None = None
             ) -> list[dict[str, Any]]:
        cur = self.con.execute(sql, params or [])
        names = [d[0] for d in cur.description or []]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


class StoreGate:
    """Readers-writer access to one store file (module docstring)."""

    def __init__(self, path: Path, *, idle_seconds: float = 2.0,
                 cache_max_customers: int = 0) -> None:
        self.path = Path(path)
        self.idle_seconds = idle_seconds
        self.cache_max_customers = cache_max_customers
        self._memo_lock = threading.RLock()
        self._memo_version: tuple[object, ...] | None = None
        self._cond = threading.Condition()
        self._readers = 0
        self._writing = False
        self._writers_waiting = 0
        self._store: Store | None = None
        self._memo: dict[str, Any] = {}
        self._last_used = 0.0
        self._stop = threading.Event()
        self._reaper: threading.Thread | None = None

    @contextlib.contextmanager
    def read(self) -> Iterator[Reader]:
        """A cursor on the shared read-only handle, opened if needed."""
        with self._cond:
            self._cond.wait_for(lambda: not self._writing and not self._writers_waiting)
            if self._store is None:
                self._open()
            assert self._store is not None
            self._readers += 1
            cur = self._store.con.cursor()
            memo = self._memo
        try:
            yield Reader(cur, memo, self._memo_lock, self.path, self.cache_max_customers)
        finally:
            with self._cond:
                cur.close()
                self._readers -= 1
                self._last_used = time.monotonic()
                if self._readers == 0:
                    if self.idle_seconds <= 0:
                        self._close()
                    self._cond.notify_all()

    @contextlib.contextmanager
    def write(self) -> Iterator[Path]:
        """The store to oneself: waits for readers in flight, closes the shared handle."""
        with self._cond:
            self._writers_waiting += 1
            try:
                self._cond.wait_for(lambda: not self._writing and self._readers == 0)
            finally:
                self._writers_waiting -= 1
            self._writing = True
            self._close()
            self._memo, self._memo_version = {}, None
        try:
            yield self.path
        finally:
            with self._cond:
                self._writing = False
                self._cond.notify_all()

    def close(self) -> None:
        """Release the handle and stop the idle timer (server shutdown)."""
        self._stop.set()
        with self._cond:
            self._close()

    # --- under self._cond ---------------------------------------------------------------------
    def _version(self) -> tuple[object, ...]:
        return file_version(self.path)

    def _open(self) -> None:
        try:
            self._store = Store(self.path, read_only=True)
        except StoreError as e:
            raise StoreUnavailable(str(e)) from None
        version = self._version()
        if version != self._memo_version:
            self._memo, self._memo_version = {}, version
        self._last_used = time.monotonic()
        if self.idle_seconds > 0 and self._reaper is None:
            self._stop.clear()
            self._reaper = threading.Thread(target=self._reap, name="loyalist-store-idle",
                                            daemon=True)
            self._reaper.start()

    def _close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def _reap(self) -> None:
        interval = max(self.idle_seconds / 4, 0.05)
        while not self._stop.wait(interval):
            with self._cond:
                idle = time.monotonic() - self._last_used
                if self._store is not None and (self._readers or self._writing
                                                or idle < self.idle_seconds):
                    continue
                self._close()
                self._reaper = None
                return
        with self._cond:
            self._reaper = None


def file_version(path: Path) -> tuple[object, ...]:
    """What changes whenever a DuckDB store file (or its WAL) is written: inode, size and
    modification time of each (None where absent)."""
    out: list[object] = []
    for p in (path, wal_path(path)):
        try:
            st = p.stat()
            out.append((st.st_ino, st.st_size, st.st_mtime_ns))
        except OSError:
            out.append(None)
    return tuple(out)
