"""The workspace store: one DuckDB file holding inputs (transactions, products, customers,
promotions), the ingest record (loads, quarantine) and results (features, scores, plans, runs).

Only this package and the entry points open DuckDB connections.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from loyalist import schema as s
from loyalist.errors import StoreError
from loyalist.names import DEFAULT_STORE as NAMED_STORE
from loyalist.store.compaction import compact as compact  # loyalist.store.compact(path)
from loyalist.store.files import remove_store_files as remove_store_files
from loyalist.store.files import wal_path as wal_path

log = logging.getLogger(__name__)

DEFAULT_STORE = NAMED_STORE  # loyalist.names: the CLI reads it without importing the store

DDL = {
    s.T_LOADS: f"""
        CREATE TABLE IF NOT EXISTS {s.T_LOADS} (
            load_id INTEGER PRIMARY KEY, tbl VARCHAR, file VARCHAR, file_sha256 VARCHAR,
            format VARCHAR, loaded_at TIMESTAMP, status VARCHAR, rows_read BIGINT,
            rows_loaded BIGINT, rows_quarantined BIGINT, rules JSON, report JSON)""",
    s.T_TRANSACTIONS: f"""
        CREATE TABLE IF NOT EXISTS {s.T_TRANSACTIONS} (
            {s.CUSTOMER_ID} VARCHAR, {s.ORDER_ID} VARCHAR NOT NULL,
            {s.ORDERED_AT} TIMESTAMP NOT NULL, {s.PRODUCT_ID} VARCHAR NOT NULL,
            {s.QUANTITY} DOUBLE NOT NULL, {s.UNIT_PRICE} DOUBLE NOT NULL,
            {s.AMOUNT} DOUBLE NOT NULL,
            {s.CATEGORY} VARCHAR, {s.DESCRIPTION} VARCHAR, {s.STORE_ID} VARCHAR,
            {s.CHANNEL} VARCHAR, {s.COUNTRY} VARCHAR,
            {s.LINE_KIND} VARCHAR NOT NULL, {s.IS_GUEST} BOOLEAN NOT NULL,
            {s.LOAD_ID} INTEGER NOT NULL, {s.SOURCE_ROW} BIGINT NOT NULL)""",
    s.T_QUARANTINE: f"""
        CREATE TABLE IF NOT EXISTS {s.T_QUARANTINE} (
            {s.LOAD_ID} INTEGER NOT NULL, {s.SOURCE_ROW} BIGINT NOT NULL, tbl VARCHAR,
            rule VARCHAR NOT NULL, reason VARCHAR NOT NULL, raw JSON)""",
    s.T_PRODUCTS: f"""
        CREATE TABLE IF NOT EXISTS {s.T_PRODUCTS} (
            {s.PRODUCT_ID} VARCHAR PRIMARY KEY, {s.CATEGORY} VARCHAR, {s.DESCRIPTION} VARCHAR,
            {s.PRICE} DOUBLE, {s.UNIT_COST} DOUBLE, {s.MARGIN} DOUBLE, {s.STOCK} DOUBLE,
            {s.LOAD_ID} INTEGER)""",
    s.T_CUSTOMERS: f"""
        CREATE TABLE IF NOT EXISTS {s.T_CUSTOMERS} (
            {s.CUSTOMER_ID} VARCHAR PRIMARY KEY, {s.AGE} DOUBLE, {s.GENDER} VARCHAR,
            {s.REGION} VARCHAR, {s.SIGNUP_AT} TIMESTAMP, {s.MARKETING_CONSENT} BOOLEAN,
            {s.EMAIL_OPT_OUT} BOOLEAN, {s.LOAD_ID} INTEGER, {s.BIRTH_DATE} TIMESTAMP)""",
    s.T_PROMOTIONS: f"""
        CREATE TABLE IF NOT EXISTS {s.T_PROMOTIONS} (
            {s.CUSTOMER_ID} VARCHAR NOT NULL, {s.SENT_AT} TIMESTAMP NOT NULL,
            {s.PROMOTION} VARCHAR NOT NULL, {s.CHANNEL} VARCHAR, {s.COST} DOUBLE,
            {s.REDEEMED} BOOLEAN, {s.LOAD_ID} INTEGER, {s.CONTROL_FOR} VARCHAR)""",
    s.T_CATALOG: f"""
        CREATE TABLE IF NOT EXISTS {s.T_CATALOG} (
            {s.NAME} VARCHAR PRIMARY KEY, {s.KIND} VARCHAR NOT NULL, {s.VALUE} DOUBLE,
            {s.CONTACT_COST} DOUBLE, {s.MIN_SPEND} DOUBLE, {s.MAX_SPEND} DOUBLE,
            {s.ELIGIBLE_SEGMENTS} VARCHAR, {s.CATEGORY} VARCHAR, {s.LOAD_ID} INTEGER,
            {s.POINTS_RATE} DOUBLE)""",
    s.T_COMPETITORS: f"""
        CREATE TABLE IF NOT EXISTS {s.T_COMPETITORS} (
            {s.COMPETITOR} VARCHAR NOT NULL, {s.STARTS_AT} TIMESTAMP NOT NULL,
            {s.ENDS_AT} TIMESTAMP NOT NULL, {s.KIND} VARCHAR, {s.VALUE} DOUBLE,
            {s.LOAD_ID} INTEGER)""",
    s.T_INVENTORY: f"""
        CREATE TABLE IF NOT EXISTS {s.T_INVENTORY} (
            {s.CATEGORY} VARCHAR PRIMARY KEY, {s.STOCK_UNITS} DOUBLE,
            {s.WEEKLY_SALES_UNITS} DOUBLE, {s.WEEKS_OF_COVER} DOUBLE, {s.OVERSTOCKED} BOOLEAN,
            {s.LOAD_ID} INTEGER)""",
}


#: the lines as every reader of a line's category sees them: a line's own category, else its
#: product's in the product master. A view, so a products file loaded after the sales counts
#: too (exploratory report 6b, H5: dunnhumby's DEPARTMENT, Olist's product_category_name); a
#: temporary one, made on every connection, read-only ones and older stores included
LINES_VIEW = f"""
    CREATE OR REPLACE TEMP VIEW {s.T_LINES} AS
    SELECT t.* REPLACE (coalesce(t.{s.CATEGORY}, p.{s.CATEGORY}) AS {s.CATEGORY})
    FROM {s.T_TRANSACTIONS} t LEFT JOIN {s.T_PRODUCTS} p ON p.{s.PRODUCT_ID} = t.{s.PRODUCT_ID}"""

#: columns added to existing tables since a store may have been created (idempotent)
MIGRATIONS = (
    f"ALTER TABLE {s.T_CUSTOMERS} ADD COLUMN IF NOT EXISTS {s.BIRTH_DATE} TIMESTAMP",
    f"ALTER TABLE {s.T_CATALOG} ADD COLUMN IF NOT EXISTS {s.POINTS_RATE} DOUBLE",
    f"ALTER TABLE {s.T_PROMOTIONS} ADD COLUMN IF NOT EXISTS {s.CONTROL_FOR} VARCHAR",
)


def default_path() -> Path:
    return Path(os.environ.get("LOYALIST_STORE", DEFAULT_STORE))


def default_memory_limit() -> str:
    """DuckDB's memory limit for a store connection: ``LOYALIST_MEMORY_LIMIT`` if set (any
    DuckDB size, e.g. '6GB'), else 1 GB per core with at least 2 GB, never above DuckDB's own
    default of 80% of RAM. DuckDB spills sorts, joins and aggregates to disk beyond it.

    Why not DuckDB's default: it lets the buffer pool keep up to 80% of RAM, and an ingest of
    10M lines then peaked at 4.1 GB of resident memory here; with 2 GB it peaked at 2.2 GB and
    finished sooner (BENCHMARKS.md, foundation)."""
    env = os.environ.get("LOYALIST_MEMORY_LIMIT", "").strip()
    if env:
        return env
    gb = max(2, os.cpu_count() or 1)
    try:
        ram_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
        gb = min(gb, max(1, int(0.8 * ram_gb)))
    except (ValueError, OSError, AttributeError):  # no sysconf (Windows): keep the rule
        pass
    return f"{gb}GB"


def lock_message(path: Path, duckdb_message: str, *, read_only: bool) -> str | None:
    """One line for DuckDB's "Could not set lock on file ... (PID n)" (None for other I/O
    errors): which process holds the store, and what to do. A server holds it while it reads
    (``loyalist serve`` closes it after LOYALIST_STORE_IDLE_SECONDS without a request)."""
    text = duckdb_message.lower()
    if "lock" not in text and "used by another process" not in text:
        return None
    pid = re.search(r"\(PID (\d+)\)", duckdb_message)
    who = f"another process (PID {pid.group(1)})" if pid else "another process"
    if read_only:
        return (f"{path}: the store is open for writing in {who}; try again when it has "
                "finished")
    return (f"{path}: the store is in use by {who}; if that is `loyalist serve`, try again once "
            "it has had no request for LOYALIST_STORE_IDLE_SECONDS (default 2 s: it then closes "
            "the store), or stop it; a server started with LOYALIST_STORE_IDLE_SECONDS=0 opens "
            "the store per request and never blocks writes for long")


NOT_DUCKDB = ("{path}: not a Loyalist store (the file is not a DuckDB database); give the path "
              "of a store made by `loyalist ingest`, or a new file name")


def open_error_message(path: Path, duckdb_message: str, *, read_only: bool) -> str:
    """One line for an I/O error opening the store that is not a lock: what is wrong with
    the path, and what to do."""
    text = duckdb_message.lower()
    first = duckdb_message.splitlines()[0]
    if "not a valid duckdb database" in text:
        return NOT_DUCKDB.format(path=path)
    if "no such file or directory" in text:
        return (f"{path}: the folder {path.parent} does not exist; create it or give another "
                "--store path")
    if any(w in text for w in ("permission denied", "operation not permitted",
                               "read-only file system")):
        return (f"{path}: no permission to {'read' if read_only else 'write'} the store "
                f"({first}); check the file's and its folder's permissions")
    return f"{path}: cannot open the store ({first})"


#: the text a DuckDB database file holds at byte 8 (its header's magic bytes)
DUCKDB_MAGIC = b"DUCK"


def check_store_file(path: Path) -> None:
    """Refuse an existing ``path`` that is no DuckDB database, before DuckDB opens it: a
    sales file or a catalog given as the store (DuckDB 2 opens a .csv or .parquet path as an
    in-memory database over the file, so `plan` failed with "Cannot launch in-memory database
    in read-only mode" and `train` called it "a DuckDB database but not a Loyalist store";
    exploratory report 7, I2). Every command and ``loyalist serve`` open the store through
    :class:`Store`, which calls this first."""
    if not path.is_file():
        return
    with path.open("rb") as f:
        head = f.read(8000)
    if head[8:12] == DUCKDB_MAGIC:
        return
    from loyalist.ingest.archives import DATA_SUFFIXES
    from loyalist.ingest.read import sniff_kind

    kind = sniff_kind(path)  # by the magic bytes, else the name; "csv" when neither tells
    if kind == "csv" and (b"\0" in head or not path.name.lower().endswith(DATA_SUFFIXES)):
        raise StoreError(NOT_DUCKDB.format(path=path))
    what = {"csv": "a CSV or text file", "json": "a JSON file", "excel": "an Excel file",
            "parquet": "a Parquet file", "arrow": "an Arrow/Feather file"}[kind]
    raise StoreError(f"{path}: {what}, not a Loyalist store; --store (or LOYALIST_STORE) "
                     f"names the DuckDB store file. Load this file into one with `loyalist "
                     f"ingest {path} --store shop.duckdb`, then use --store shop.duckdb")


@functools.cache
def _ddl_columns() -> dict[str, set[str]]:
    """Every column of every table :data:`DDL` and :data:`MIGRATIONS` create, by table."""
    con = duckdb.connect()
    try:
        for ddl in (*DDL.values(), *MIGRATIONS):
            con.execute(ddl)
        out: dict[str, set[str]] = {}
        for table, col in con.execute("SELECT table_name, column_name FROM "
                                      "information_schema.columns").fetchall():
            out.setdefault(table, set()).add(col)
        return out
    finally:
        con.close()


def check_ours(con: duckdb.DuckDBPyConnection, path: Path, *, create: bool) -> None:
    """Refuse a DuckDB file that is not a Loyalist store before anything is written to it:
    one holding other tables (another application's database), or, for a command that needs
    an existing store (``create=False``), one holding no table at all."""
    cols: dict[str, set[str]] = {}
    for table, col in con.execute("SELECT table_name, column_name FROM information_schema.columns "
                                  "WHERE table_schema = 'main'").fetchall():
        cols.setdefault(table, set()).add(col)
    names = set(cols)
    if META in names or s.T_LOADS in names:  # a store has its load log (META since 2026-11)
        return
    if names and all(cols[t] <= _ddl_columns().get(t, set()) for t in names):
        return  # an early store: only Loyalist's tables, with columns of today's or fewer
    if names:
        listed = ", ".join(sorted(names)[:5]) + (", ..." if len(names) > 5 else "")
        raise StoreError(f"{path}: a DuckDB database but not a Loyalist store (it holds "
                         f"{listed}); nothing was changed. Give the path of a store made by "
                         "`loyalist ingest`, or a new file name")
    if not create:
        raise StoreError(f"{path}: an empty DuckDB database, not a store yet; create one with "
                         f"`loyalist ingest FILE --store {path}`")


def day_after(last: object) -> pd.Timestamp:
    """Midnight after the day of ``last`` (a purchase time): the first as_of that sees every
    purchase of that day, and the default as_of after the last one (one definition for the
    store, the splits' checks and the recommenders)."""
    return pd.Timestamp(last).normalize() + pd.Timedelta(days=1)  # type: ignore[arg-type]


class Store:
    """A DuckDB file. Use as a context manager; ``read_only`` for serving and features;
    ``create=False`` to write only into a store that exists (a command that reads the data
    first must not leave an empty store behind)."""

    def __init__(self, path: str | os.PathLike[str] | None = None, *, read_only: bool = False,
                 memory_limit: str | None = None, create: bool = True) -> None:
        self.path = Path(path) if path is not None else default_path()
        self.read_only = read_only
        check_store_file(self.path)
        #: this Store made the file: closed with nothing written, it removes it again
        self._created = create and not read_only and not self.path.exists()
        if (read_only or not create) and not self.path.exists():
            raise StoreError(
                f"{self.path}: no store here; create one with `loyalist ingest FILE --store "
                f"{self.path}` (or `loyalist demo`)"
            )
        try:
            config = {"memory_limit": memory_limit or default_memory_limit()}
            self.con = duckdb.connect(str(self.path), read_only=read_only, config=config)
        except duckdb.ParserException as e:
            raise StoreError(f"memory limit {config['memory_limit']!r} (LOYALIST_MEMORY_LIMIT): "
                             f"{str(e).splitlines()[0]}; use a size such as '4GB'") from None
        except duckdb.IOException as e:
            raise StoreError(lock_message(self.path, str(e), read_only=read_only) or
                             open_error_message(self.path, str(e), read_only=read_only)) from None
        # DuckDB's own progress bar (long queries) would draw over the commands' progress lines
        self.con.execute("SET enable_progress_bar = false")
        try:
            if not self._created:  # a file this Store made holds nothing to check
                check_ours(self.con, self.path, create=create and not read_only)
        except StoreError:
            self.con.close()
            raise
        if not read_only:
            for ddl in DDL.values():
                self.con.execute(ddl)
            for ddl in MIGRATIONS:  # columns added after a store may have been created
                self.con.execute(ddl)
        if self.has_table(s.T_TRANSACTIONS) and self.has_table(s.T_PRODUCTS):
            self.con.execute(LINES_VIEW)
        if not read_only:
            self._migrate()
        elif self._migration_due(SCORES_KEY) and (n := _duplicate_scores(self.con)):
            # it cannot be mended read-only: readers see the rows a writer keeps
            db = self.con.execute("SELECT current_database()").fetchall()[0][0]
            self.con.execute(f"""CREATE TEMP VIEW {s.T_SCORES} AS SELECT * FROM
                "{db}".main.{s.T_SCORES} QUALIFY {_FIRST_SCORE} = 1""")
            log.warning("%s: table %s holds %d row(s) more than one per customer and as_of, "
                        "written by `loyalist score --as-of` of an earlier version; the first "
                        "of each is read, and the next command that writes to the store "
                        "removes the others", self.path, s.T_SCORES, n)

    def _migration_due(self, key: str) -> bool:
        """Whether the one-time migration ``key`` has not been done on this store."""
        return not self.has_table(META) or not self.con.execute(
            f"SELECT count(*) FROM {META} WHERE key = ?", [key]).fetchall()[0][0]

    def _migrate(self) -> None:
        """Bring data written by an earlier version to today's form, once per store (marked in
        ``store_meta``). E-mail customer ids are stored lower-cased since commit 1bcd06e
        (:func:`loyalist.ingest.parse.customer_id_expr`); a store loaded before holds them as
        the files wrote them, so a reload would add the same lines again and 'User@X.com' would
        stay apart from 'user@x.com'."""
        con = self.con
        con.execute(f"CREATE TABLE IF NOT EXISTS {META} (key VARCHAR PRIMARY KEY, value VARCHAR)")
        if self._created:  # a new store holds no earlier version's data: nothing to mend
            con.execute(f"INSERT OR IGNORE INTO {META} VALUES (?, '0'), (?, '0')",
                        [EMAIL_CASE_KEY, SCORES_KEY])
            return
        if self._migration_due(EMAIL_CASE_KEY):
            with self.transaction():
                changed = _lower_email_ids(con)
                con.execute(f"INSERT INTO {META} VALUES (?, ?)", [EMAIL_CASE_KEY, str(changed)])
            if changed:
                log.warning("%s: %d customer id(s) written as e-mail addresses with capital "
                            "letters by an earlier version are now lower-cased (one mailbox, "
                            "one customer)", self.path, changed)
        if self._migration_due(SCORES_KEY):
            with self.transaction():
                removed = _duplicate_scores(con)
                if removed:
                    con.execute(f"""DELETE FROM {s.T_SCORES} WHERE rowid IN (
                        SELECT rowid FROM {s.T_SCORES} QUALIFY {_FIRST_SCORE} > 1)""")
                con.execute(f"INSERT INTO {META} VALUES (?, ?)", [SCORES_KEY, str(removed)])
            if removed:
                log.warning("%s: table %s held %d row(s) more than one per customer and as_of, "
                            "written by `loyalist score --as-of` of an earlier version (another "
                            "day's scores labelled with the models' as_of); the first of each, "
                            "scored at that as_of, is kept and the others were removed: score "
                            "the days you meant again with `loyalist score --as-of DAY`",
                            self.path, s.T_SCORES, removed)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @classmethod
    def over(cls, con: duckdb.DuckDBPyConnection, path: Path) -> Store:
        """A Store reading through a connection someone else opened and will close (a cursor
        of the API's shared read-only handle, which opened the file as a Store, checks and
        migrations done): for the readers that take a Store, e.g. the features. Do not close
        it or use it as a context manager."""
        st = cls.__new__(cls)
        st.path, st.read_only, st.con = Path(path), True, con
        # temporary views belong to the connection that made them, and a cursor is another
        # connection: the lines view the readers query, made again here
        con.execute(LINES_VIEW)
        return st

    def close(self) -> None:
        """Close the connection; a store this Store created and nothing was written into
        (``Store("typo.duckdb")`` followed by a read that found it empty) is removed, so a
        mistyped path leaves no empty store behind."""
        empty = getattr(self, "_created", False) and self._holds_nothing()
        self.con.close()
        if empty:
            remove_store_files(self.path)

    def _holds_nothing(self) -> bool:
        """No row in any table but the store's own bookkeeping (``store_meta``)."""
        tables = [t for (t,) in self.con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' AND "
            "table_type = 'BASE TABLE' AND table_catalog = current_database()").fetchall()
            if t != META]
        return not any(self.con.execute(f'SELECT 1 FROM "{t}" LIMIT 1').fetchall()
                       for t in tables)

    def compaction_hint(self) -> str | None:
        """One line suggesting ``loyalist compact`` when most of the file is free blocks (see
        :func:`loyalist.store.compaction.hint`); for a command that replaced or removed much
        data, just before it closes the store."""
        from loyalist.store.compaction import hint

        return None if self.read_only else hint(self.con, self.path)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """All-or-nothing: on any exception the store is left exactly as it was."""
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield self.con
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    # --- reading --------------------------------------------------------------------------
    def has_table(self, name: str) -> bool:
        return table_exists(self.con, name)

    def has_column(self, table: str, column: str) -> bool:
        return bool(self.con.execute(
            "SELECT count(*) FROM information_schema.columns WHERE table_name = ? "
            "AND column_name = ?", [table, column]).fetchall()[0][0])

    def has_rows(self, name: str) -> bool:
        """Whether table ``name`` exists and holds at least one row (optional inputs such as
        the catalog or the competitor calendar exist empty in every store)."""
        return self.has_table(name) and self.count(name) > 0

    def require(self, name: str) -> None:
        if not self.has_rows(name):
            raise StoreError(
                f"{self.path}: table {name!r} is empty; load data first with "
                f"`loyalist ingest FILE --store {self.path}`"
            )

    def count(self, name: str) -> int:
        return int(self.con.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0])

    def query(self, sql: str, params: list[object] | dict[str, object] | None = None
              ) -> pd.DataFrame:
        return self.con.execute(sql, params or []).df()

    def table(self, name: str) -> pd.DataFrame:
        """The whole table, its rows sorted by every column: a scan has no order (a parallel
        insert may store a small table's rows rotated), and what is made from a table must
        not depend on the order its rows come back in."""
        self.require(name)
        return self.query(f"SELECT * FROM {name} ORDER BY ALL")

    def date_range(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        """First and last order time in the store."""
        self.require(s.T_TRANSACTIONS)
        lo, hi = self.con.execute(
            f"SELECT min({s.ORDERED_AT}), max({s.ORDERED_AT}) FROM {s.T_TRANSACTIONS}"
        ).fetchall()[0]
        return pd.Timestamp(lo), pd.Timestamp(hi)

    def default_as_of(self) -> pd.Timestamp:
        """The day after the last transaction (the CLI's default cutoff)."""
        return day_after(self.date_range()[1])

    # --- writing results ------------------------------------------------------------------
    def write_frame(self, name: str, frame: pd.DataFrame, *, replace_where: str | None = None,
                    params: list[object] | None = None) -> None:
        """Append ``frame`` to table ``name`` (created from the frame on first use), first
        deleting rows matching ``replace_where`` — all in one transaction. Columns the frame
        has and the table lacks (a store written by an earlier version) are added first;
        the table's older rows get NULL in them.

        Timestamps are written in microseconds (DuckDB's TIMESTAMP) whatever their pandas
        resolution: ``pd.Timestamp("2011-09-01")`` is in seconds, and a table created from it
        (TIMESTAMP_S) could not take nanosecond rows later."""
        frame = _microsecond_timestamps(frame)
        # registered outside the transaction: unregistering inside an aborted one raised
        # "transaction is aborted" and hid the error that aborted it
        self.con.register("__frame", frame)
        try:
            with self.transaction() as con:
                # an empty frame's text columns have no type yet ("NULL"): they are text
                types = [(col, "VARCHAR" if typ.strip('"') == "NULL" else typ)
                         for col, typ, *_ in
                         con.execute("DESCRIBE SELECT * FROM __frame").fetchall()]
                if not self.has_table(name):
                    con.execute(f"CREATE TABLE {name} ("
                                + ", ".join(f'"{c}" {typ}' for c, typ in types) + ")")
                else:
                    have = dict(r[:2] for r in con.execute(f"DESCRIBE {name}").fetchall())
                    for col, typ in types:
                        if col not in have:
                            con.execute(f'ALTER TABLE {name} ADD COLUMN "{col}" {typ}')
                        elif have[col] != typ and not frame[col].isna().all() and not (
                                con.execute(f'SELECT count("{col}") FROM {name}'
                                            ).fetchall()[0][0]):
                            # a column that never held a value (a table created by an
                            # earlier version from an empty frame: type "NULL", or a number
                            # for text) takes the type of the first values it gets
                            con.execute(f'ALTER TABLE {name} ALTER COLUMN "{col}" TYPE {typ}')
                    if replace_where:
                        con.execute(f"DELETE FROM {name} WHERE {replace_where}", params or [])
                con.execute(f"INSERT INTO {name} BY NAME SELECT * FROM __frame")
        finally:
            self.con.unregister("__frame")


#: the store's own record of the migrations done, and facts of the whole store such as its
#: currency (``key``, ``value``)
META = "store_meta"
#: ``store_meta`` keys: the ISO 4217 code the store's amounts are in (absent: unknown), and
#: what showed it ("column 'Currency'", "£ in column 'UnitPrice'", "--currency", ...)
CURRENCY_KEY, CURRENCY_EVIDENCE_KEY = "currency", "currency_evidence"
EMAIL_CASE_KEY = "email_ids_lowercased"
#: scores hold one row per customer and as_of (exploratory report 7, I1: `score --as-of`
#: labelled another day's scores with the models' as_of, so `plan` crashed on the duplicates
#: and the report counted customers twice); the value is how many rows were removed
SCORES_KEY = "scores_one_per_customer"
#: 1 for the first-written score row of each customer and as_of: the one scored at that as_of
#: (the rows added under it by the earlier `score --as-of` were appended after it)
_FIRST_SCORE = (f"row_number() OVER (PARTITION BY as_of, {s.CUSTOMER_ID} ORDER BY rowid)")


def table_exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Whether the store on ``con`` (a DuckDB connection or cursor) has table ``name``."""
    return bool(con.execute("SELECT count(*) FROM information_schema.tables "
                            "WHERE table_name = ?", [name]).fetchall()[0][0])


def stored_currency(con: duckdb.DuckDBPyConnection) -> tuple[str | None, str | None]:
    """The store's currency code and its evidence, (None, None) when unknown."""
    if not table_exists(con, META):
        return None, None
    got = dict(con.execute(f"SELECT key, value FROM {META} WHERE key IN (?, ?)",
                           [CURRENCY_KEY, CURRENCY_EVIDENCE_KEY]).fetchall())
    return got.get(CURRENCY_KEY), got.get(CURRENCY_EVIDENCE_KEY)


def forget_currency(con: duckdb.DuckDBPyConnection) -> None:
    """Drop the store's recorded currency (its last sales were unloaded)."""
    if table_exists(con, META):
        con.execute(f"DELETE FROM {META} WHERE key IN (?, ?)",
                    [CURRENCY_KEY, CURRENCY_EVIDENCE_KEY])


def currency(store: Store | str | os.PathLike[str]) -> str | None:
    """The ISO 4217 code of the amounts in ``store`` (an open :class:`Store`, or a store's
    path, opened read-only for the read), None when unknown: the one reader every output that
    shows money uses (format amounts with :mod:`loyalist.money`)."""
    if isinstance(store, Store):
        return stored_currency(store.con)[0]
    with Store(store, read_only=True) as st:
        return stored_currency(st.con)[0]


def _duplicate_scores(con: duckdb.DuckDBPyConnection) -> int:
    """How many rows of the scores table are not the first of their customer and as_of (0
    without such a table, or one without both columns)."""
    if con.execute("SELECT count(*) FROM information_schema.columns WHERE table_name = ? "
                   "AND column_name IN ('as_of', ?)", [s.T_SCORES, s.CUSTOMER_ID]
                   ).fetchall()[0][0] < 2:
        return 0
    return int(con.execute(f"SELECT count(*) - count(DISTINCT (as_of, {s.CUSTOMER_ID})) "
                           f"FROM {s.T_SCORES}").fetchall()[0][0])


def _lower_email_ids(con: duckdb.DuckDBPyConnection) -> int:
    """Lower-case the e-mail customer ids of every table holding customer ids (inputs and
    results); customer rows that then share an id keep the latest load's. The per-order table
    is rebuilt from the transactions. Returns how many distinct ids changed."""
    from loyalist.ingest.parse import EMAIL  # the ingest's own test of an address

    wrong = (f"contains({s.CUSTOMER_ID}, '@') AND {s.CUSTOMER_ID} <> lower({s.CUSTOMER_ID}) "
             f"AND regexp_full_match({s.CUSTOMER_ID}, '{EMAIL}')")
    tables = [r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.columns WHERE column_name = ? "
        "AND data_type = 'VARCHAR' AND table_name <> ? AND table_catalog <> 'temp' "
        "ORDER BY table_name",
        [s.CUSTOMER_ID, s.T_QUARANTINE]).fetchall()]
    ids: set[str] = set()
    for tbl in tables:
        ids.update(r[0] for r in con.execute(
            f"SELECT DISTINCT {s.CUSTOMER_ID} FROM {tbl} WHERE {wrong}").fetchall())
    if not ids:
        return 0
    if s.T_CUSTOMERS in tables:  # a primary key: one row per mailbox, the latest load's
        con.execute(f"""
            DELETE FROM {s.T_CUSTOMERS} WHERE rowid IN (
                SELECT rowid FROM (
                    SELECT rowid, row_number() OVER (PARTITION BY lower({s.CUSTOMER_ID})
                        ORDER BY {s.LOAD_ID} DESC NULLS LAST, {s.CUSTOMER_ID} = lower(
                        {s.CUSTOMER_ID}) DESC) AS k
                    FROM {s.T_CUSTOMERS}
                    WHERE contains({s.CUSTOMER_ID}, '@')
                      AND regexp_full_match({s.CUSTOMER_ID}, '{EMAIL}'))
                WHERE k > 1)""")
    for tbl in tables:
        con.execute(f"UPDATE {tbl} SET {s.CUSTOMER_ID} = lower({s.CUSTOMER_ID}) WHERE {wrong}")
    if s.T_TRANSACTIONS in tables:
        from loyalist.features import orders  # the per-order table follows the lines

        con.execute(f"DROP TABLE IF EXISTS {s.T_DERIVED_STATE}")  # a full rebuild
        orders.refresh(con)
    return len(ids)


def _microsecond_timestamps(frame: pd.DataFrame) -> pd.DataFrame:
    cols = [c for c, t in frame.dtypes.items()
            if isinstance(t, np.dtype) and t.kind == "M" and np.datetime_data(t)[0] != "us"]
    if not cols:
        return frame
    return frame.assign(**{str(c): frame[c].astype("datetime64[us]") for c in cols})

