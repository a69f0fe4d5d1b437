"""Open a source file (CSV in any delimiter/encoding DuckDB can sniff, Parquet, Excel, JSON or
JSON lines, Feather/Arrow) as a DuckDB view.

The view has the file's columns as they are plus ``__row``, the 1-based data row number (header
excluded), so every quarantined row can be traced back to its line in the file.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import duckdb

from loyalist import schema as s
from loyalist.errors import DataError
from loyalist.ingest import groups
from loyalist.ingest.parse import q
from loyalist.ingest.text import (
    ENCODING_NAMES,
    FOOTER_LINES,
    GIVEN_ENCODING,
    HEADER_SEARCH_LINES,
    detect_encoding,
    footer_lines,
    footer_rows,
    head_lines,
    header_cells,
    header_line,
    header_row,
    known_hits,
    open_binary,
    spaces_to_tabs,
    text_layout,
    to_utf8,
    two_row_names,
    units_line,
)

log = logging.getLogger(__name__)

#: what the note on a detected legacy encoding adds: how to overrule it
GUESSED = "; if its names look garbled, give its encoding with --encoding, e.g. --encoding cp1255"

ROW = "__row"


class Sheets(NamedTuple):
    """A workbook's other sheet group, registered as a view of its own."""

    view: str
    names: list[str]
    rows: int
    #: the header as written (None: no column looks repeated)
    raw: list[str] | None
    #: the filled cells of its first row when that is a units line (:func:`_sheet_units`)
    units: tuple[str, ...]
    #: the note saying so
    notes: tuple[str, ...]


@dataclass(frozen=True)
class Source:
    path: Path
    kind: str  # 'csv' | 'parquet' | 'excel' | 'json' | 'arrow'
    view: str
    headers: tuple[str, ...]
    types: dict[str, str]
    rows: int
    sha256: str
    #: what was assumed while reading (e.g. which workbook sheets were combined), for the report
    notes: tuple[str, ...] = ()
    #: order lines joined with an order headers file: the view has ``__order_found``
    joined: bool = False
    #: the workbook sheets this source holds (empty: the whole file)
    sheets: tuple[str, ...] = ()
    #: column names the file repeats: (name, the names its later copies were read under),
    #: e.g. ('price', ('price_1',)) (:func:`duplicate_note` says which one was used)
    duplicates: tuple[tuple[str, tuple[str, ...]], ...] = ()
    #: columns without a single value (:func:`_empty_columns`): never guessed as anything
    empty: frozenset[str] = frozenset()
    #: the last rows are this many lines of a report's footer (:func:`footer_lines`)
    footer: int = 0
    #: the first row is a units line under the header, these its filled cells
    #: (:func:`~loyalist.ingest.text.units_line`); empty: it is data
    units: tuple[str, ...] = ()
    #: a grouped report's column carried down from its heading rows
    #: (:func:`~loyalist.ingest.groups.carry_down`); empty: the file is no grouped report
    group: str = ""

    @property
    def label(self) -> str:
        """The file's name as reports show it, with the sheets when a workbook was split."""
        return f"{self.path} [{', '.join(self.sheets)}]" if self.sheets else str(self.path)

    @property
    def name(self) -> str:
        """The file's base name (with its sheets), for messages."""
        return (f"{self.path.name} [{', '.join(self.sheets)}]" if self.sheets
                else self.path.name)


def units_row(src: Source) -> str:
    """SQL over the view: TRUE on the units line under the file's header (``src.units``:
    its first row)."""
    return f"{ROW} = 1" if src.units else "FALSE"


def units_note(where: str, units: Sequence[str]) -> str:
    """The load's note on a units line under the header (``where``: 'line 2', ...)."""
    return (f"{where}, directly under the column names, says what the columns hold "
            f"({', '.join(repr(u[:20]) for u in units[:6])}), not values: a units line under "
            "the header, quarantined (rule units_line)")


def file_hash(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


_ARROW_SUFFIXES = (".feather", ".arrow", ".ipc")


def _is_web_page(path: Path) -> bool:
    """Whether a text file starts as an HTML page does (``<!DOCTYPE html``, ``<html``)."""
    with open_binary(path) as raw:
        head = raw.read(512).lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith((b"<!doctype html", b"<html"))


def sniff_kind(path: Path) -> str:
    with path.open("rb") as f:
        head = f.read(8)
    if head[:4] == b"PAR1":
        return "parquet"
    if head[:6] == b"ARROW1" or head[:4] == b"FEA1":
        return "arrow"
    if head[:2] == b"PK" or head[:8] == bytes.fromhex("D0CF11E0A1B11AE1"):
        return "excel"
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return "parquet"  # wrong magic: reading will say it is corrupt
    if suffix in _ARROW_SUFFIXES:
        return "arrow"
    if suffix in (".xlsx", ".xls", ".xlsm"):
        return "excel"
    if suffix in (".json", ".jsonl", ".ndjson") or head.lstrip()[:1] in (b"[", b"{"):
        return "json"
    return "csv"


def _sql_str(v: str) -> str:
    return "'" + v.replace("'", "''") + "'"


def open_sources(con: duckdb.DuckDBPyConnection, path: Path, view: str, scratch: Path
                 ) -> list[Source]:
    """The file as a source (:func:`_open`), and for a workbook whose sheets hold different
    tables (an ERP's 'Orders' and 'Order lines', a 'Customers' sheet beside 'Sales') one more
    source per group of sheets with the same columns, after the first (views ``{view}_s1``,
    ...). The caller decides which of those extra sheets it can use. The workbook is read
    once. ``scratch``: a folder for converted copies, kept until the views are no longer
    read."""
    first, sheets = _open(con, path, view, scratch)
    out = [first]
    for group in sheets:
        desc = con.execute(f"DESCRIBE {group.view}").fetchall()
        headers = tuple(d[0] for d in desc if d[0] != ROW)
        out.append(Source(
            path=path, kind="excel", view=group.view, headers=headers,
            types={d[0]: d[1] for d in desc}, rows=group.rows,
            sha256=first.sha256 + ":" + group.names[0], sheets=tuple(group.names),
            notes=group.notes, duplicates=_duplicates(headers, group.raw),
            empty=_empty_columns(con, group.view, headers), units=group.units))
    return out


def _open(con: duckdb.DuckDBPyConnection, path: Path, view: str, scratch: Path
          ) -> tuple[Source, list[Sheets]]:
    """Register ``path`` as temp view ``view``; raise :class:`DataError` with a fix on bad input.
    Also returns a workbook's other sheet groups, registered as views of their own
    (:func:`_register_excel`)."""
    if not path.exists():
        raise DataError(f"{path}: no such file; check the path")
    if path.is_dir():
        raise DataError(f"{path}: is a directory; pass the data file(s) inside it")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty (0 bytes); export it again from the source")
    if path.suffix.lower() in _SETTINGS_SUFFIXES:
        raise DataError(
            f"{path}: ingest reads tables (CSV, Excel, Parquet, JSON, Feather), not "
            f"{path.suffix[1:].upper()} files; a promotion catalog or constraints in TOML or "
            f"YAML is read by `loyalist plan --catalog {path}` (or --constraints), or save the "
            "catalog as CSV (name, kind, value, contact_cost) to load it with --table "
            f"{s.T_CATALOG}")
    kind = sniff_kind(path)
    if kind == "csv" and _is_binary(path):
        raise DataError(_NOT_A_TABLE.format(path=path, why="it holds binary data, not text"))
    if kind == "csv" and _is_web_page(path):
        raise DataError(f"{path}: is a web page (HTML), not a data export: often a login or "
                        "error page saved in place of the download; sign in to the shop "
                        "system and export the file again (as CSV or Excel)")
    p = _sql_str(str(path))
    raw_names: list[str] | None = None
    notes: tuple[str, ...] = ()
    sheets: list[Sheets] = []
    footer, units, sha256, group = 0, (), None, ""
    try:
        if kind == "parquet":
            con.execute(
                f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT * EXCLUDE (file_row_number)"
                f"{_local_times(path)}, file_row_number + 1 AS {ROW} "
                f"FROM read_parquet({p}, file_row_number = true)"
            )
        elif kind == "arrow":  # Feather / Arrow IPC file (pandas' to_feather, R's arrow)
            _register_arrow(con, path, view)
        elif kind == "excel":
            notes, sheets, raw_names, units, footer, group = _register_excel(con, path, view)
        elif kind == "json":  # an array of records, or one record per line
            notes = _register_json(con, view, p)
        else:
            notes, raw_names, counted, footer, units, sha256, group = _register_csv(
                con, path, view, p, scratch)
        desc = con.execute(f"DESCRIBE {view}").fetchall()
        rows = (counted if kind == "csv" else
                con.execute(f"SELECT count(*) FROM {view}").fetchall()[0][0])
    except DataError:
        raise
    except (duckdb.Error, OSError, ValueError) as e:
        raise DataError(_unreadable(path, kind, e, scratch)) from None
    headers = tuple(d[0] for d in desc if d[0] != ROW)
    if rows == 0:
        raise DataError(f"{path}: has a header ({', '.join(headers)}) but no data rows")
    if kind == "csv" and len(headers) == 1 and any(c in headers[0] for c in ",;\t|"):
        raise DataError(
            f"{path}: the columns could not be told apart (the header reads as one column "
            f"{headers[0][:120]!r}): some rows have a different number of fields than the "
            "header, e.g. a value with an unquoted comma or semicolon; quote such values "
            "(\"Jan 2, 2024\") or export the file again")
    return Source(
        path=path, kind=kind, view=view, headers=headers,
        types={d[0]: d[1] for d in desc}, rows=int(rows), sha256=sha256 or file_hash(path),
        notes=notes, duplicates=_duplicates(headers, raw_names),
        empty=_empty_columns(con, view, headers), footer=footer, units=units, group=group,
    ), sheets


#: rows a file's columns are first looked at for values (:func:`_empty_columns`)
_EMPTY_SAMPLE = 100_000


def _empty_columns(con: duckdb.DuckDBPyConnection, view: str, headers: Sequence[str]
                   ) -> frozenset[str]:
    """The columns with no value in any row (NULL or blank text): a web shop's SKU column
    for a shop without SKUs, an Amazon report's merchant order id. Such a column, guessed by
    its name, wins a tie it should not (Amazon's empty 'merchant-order-id' beside
    'amazon-order-id' left the file without order ids) or refuses the file (an empty 'SKU'
    beside 'Item Name'). Looked at in the first :data:`_EMPTY_SAMPLE` rows, and those empty
    there in every row."""
    def empty_in(cols: Sequence[str], rows: str) -> list[str]:
        if not cols:
            return []
        got = con.execute("SELECT " + ", ".join(
            f"count(nullif(trim(CAST({q(c)} AS VARCHAR)), ''))" for c in cols)
            + f" FROM {rows}").fetchall()[0]
        return [c for c, n in zip(cols, got, strict=True) if not n]

    sample = empty_in(list(headers), f"(SELECT * FROM {view} LIMIT {_EMPTY_SAMPLE})")
    return frozenset(empty_in(sample, view))


#: settings files (a plan's catalog or constraints), never a table to ingest
_SETTINGS_SUFFIXES = (".toml", ".yaml", ".yml")
#: the one line for a file that holds no table at all
_NOT_A_TABLE = ("{path}: is not a readable table: {why} (a corrupt file, or a binary file or "
                "document saved as CSV?); export the data again as CSV, Excel or Parquet")


def _is_binary(path: Path) -> bool:
    """Whether a file taken for text holds a NUL byte in its first 8,000 bytes (git's test
    for binary files): text tables never do, except UTF-16, which starts with its BOM."""
    with open_binary(path) as f:
        head = f.read(8000)
    return b"\0" in head and head[:2] not in (b"\xff\xfe", b"\xfe\xff")


def _unreadable(path: Path, kind: str, e: Exception, scratch: Path) -> str:
    """The one line for a file its reader refuses, naming the user's file (never a converted
    copy in ``scratch``). A text file in which DuckDB's CSV sniffer finds no table (random
    bytes, a binary or a document saved as .csv) gets a sentence instead of its internals."""
    first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    if kind == "csv" and "sniffing file" in first:
        return _NOT_A_TABLE.format(path=path, why="no columns and rows could be found in it")
    first = re.sub(re.escape(str(scratch)) + r"[^\"'\s]*", str(path), first)
    return (f"{path}: cannot be read as {kind} (corrupt or truncated?): {first[:200]}; "
            "export the file again")


def _local_times(path: Path) -> str:
    """`` REPLACE (...)`` turning time-zone-aware Parquet timestamps into the wall-clock time
    of their own zone (a shop's opening hours and days are local; DuckDB would otherwise see
    UTC instants). The zone name lives in the Arrow schema, which DuckDB does not read."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except (pa.ArrowException, OSError):
        return ""  # DuckDB's own read reports a broken file
    parts = [f"timezone({_sql_str(_zone(str(f.type.tz)))}, {q(f.name)}) AS {q(f.name)}"
             for f in schema if pa.types.is_timestamp(f.type) and f.type.tz]
    return f" REPLACE ({', '.join(parts)})" if parts else ""


def _zone(tz: str) -> str:
    """An Arrow time zone as DuckDB (ICU) names it: 'Europe/Berlin' as is, a fixed offset
    '+05:30' as 'GMT+05:30' (ICU's custom id; its 'UTC+05:30' drops the minutes); a zone
    neither knows is read as UTC."""
    import re
    import zoneinfo

    if re.fullmatch(r"[+-]\d{2}:?\d{2}", tz):
        return f"GMT{tz[:3]}:{tz[-2:]}"
    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        log.warning("unknown time zone %r in the file: its times are read as UTC", tz)
        return "UTC"
    return tz


def _duplicates(headers: Sequence[str], raw_names: Sequence[str] | None
                ) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The names the file repeats, with the names their copies were given: DuckDB reads a
    CSV's second 'price' as 'price_1' (checked against ``raw_names``, the header line as
    written, so a real 'price_1' is no copy), polars an Excel sheet's as
    'price_duplicated_0'."""
    import re

    have = set(headers)
    out: dict[str, list[str]] = {}
    for h in headers:
        m = re.fullmatch(r"(.+?)(?:_duplicated_\d+|_(\d+))", h)
        if m is None or m.group(1) not in have:
            continue
        base = m.group(1)
        if m.group(2) is not None and (raw_names is None or h in raw_names
                                       or raw_names.count(base) < 2):
            continue
        out.setdefault(base, []).append(h)
    return tuple((b, tuple(c)) for b, c in out.items())


def duplicate_note(src: Source, used: dict[str, str]) -> list[str]:
    """The report's sentences on the column names ``src`` repeats: which of the copies
    ``used`` (canonical column -> source column) reads, and that the others are not read."""
    notes = []
    for base, copies in src.duplicates:
        names = (base, *copies)
        took = [(c, names.index(col)) for c, col in used.items() if col in names]
        what = ("; ".join(f"{c} is read from the {_ORDINAL[i]}" for c, i in took)
                if took else "none of them is read")
        other = next((n for n in names if n not in {names[i] for _, i in took}), None)
        fix = (f"; --map {took[0][0]}={other} reads the {_ORDINAL[names.index(other)]} instead"
               if took and took[0][0] in s.MAPPABLE and other else "")
        notes.append(f"the file has {len(names)} columns named {base!r} (read as "
                     f"{', '.join(map(repr, names))}): {what}"
                     + (f", the other(s) unused{fix}" if other else ""))
    return notes


_ORDINAL = ("first", "second", "third", "fourth", "fifth", *(f"{n}th" for n in range(6, 1000)))


def _quoted_delimiter(con: duckdb.DuckDBPyConnection, p: str, enc: str, skip: int) -> str:
    """The ``delim`` option for a CSV whose header's cells are quoted, from DuckDB's strict
    sniffer ('' when it cannot tell). Its lenient sniffer (``strict_mode = false``, which
    reads a stray quote inside a value) takes ``"ID";"Customer"`` for one column: every
    field quoted with semicolons between, as PrestaShop and many ERPs export."""
    try:
        delim = con.execute(f"SELECT Delimiter FROM sniff_csv({p}, encoding = '{enc}', "
                            f"skip = {skip}, sample_size = 20480)").fetchall()[0][0]
    except duckdb.Error:
        return ""
    return f", delim = {_sql_str(delim)}" if delim and len(delim) == 1 else ""


@functools.cache
def _probe_database() -> duckdb.DuckDBPyConnection:
    """An in-memory database apart from the store's, for counting a CSV's rows
    (:func:`_register_csv`); each count takes a cursor of it (one per thread, as DuckDB's
    Python API asks). Made once per process: a new in-memory database per file cost ~12 ms,
    a twentieth of a small file's ingest."""
    return duckdb.connect()


def _register_csv(con: duckdb.DuckDBPyConnection, path: Path, view: str, p: str,
                  scratch: Path
                  ) -> tuple[tuple[str, ...], list[str], int, int, tuple[str, ...], str | None,
                             str]:
    """A CSV (any delimiter DuckDB sniffs) as ``view``, every column text, the names of its
    header line as written (for :func:`_duplicates`), its number of rows, how many of the
    last ones are a report's footer (:func:`footer_lines`) and the filled cells of its first
    row when that is a units line under the header (:func:`units_line`), and its SHA-256
    when the check of its encoding or its UTF-8 copy read it whole (None: it is still to be
    hashed, :func:`file_hash`), and the column a grouped report's headings were carried
    down in (:func:`~loyalist.ingest.groups.carry_down`; '' for other files). A file that
    is not UTF-8 or UTF-16 is read in its legacy encoding (:func:`detect_encoding`:
    Windows-1252 unless its text reads as garbage there) through a UTF-8 copy in ``scratch``
    (DuckDB reads Latin-1 but refuses its bytes 0x80-0x9F, where Windows puts the euro sign
    and typographic quotes: 'EUR 3,50' in a German till export)."""
    enc, sha256 = detect_encoding(path)
    shown_enc = enc
    # a given encoding goes through the copy too: bytes it does not define become U+FFFD
    # there, where DuckDB's own reader refuses the file
    if enc not in ("utf-8", "utf-16") or GIVEN_ENCODING.get() is not None:
        path, sha256 = to_utf8(path, scratch / view / path.name, enc)
        p = _sql_str(str(path))
        enc, shown_enc = "utf-8", ENCODING_NAMES.get(enc, enc)
    head = head_lines(path, enc)
    skip = header_line(head)
    layout = text_layout(head, skip)
    extra = ""
    notes = []
    if layout.spaces:
        path = spaces_to_tabs(path, scratch / view / (path.name + ".tsv"), enc)
        p, enc = _sql_str(str(path)), "utf-8"
        extra += ", delim = '\t'"
        notes.append("no delimiter: the columns are aligned with spaces, and were split on them")
    if layout.headerless:
        from loyalist.ingest.adapters import positional_names

        names = positional_names(layout.columns)
        extra += ", header = false, names = [" + ", ".join(_sql_str(n) for n in names) + "]"
        notes.append(f"the file has no header row (its first line is data): its columns are "
                     f"named {names[0]} .. {names[-1]} in file order; name them with --map, "
                     f"e.g. --map customer_id={names[0]}")
    else:
        extra += ", header = true"
    # counted on a connection of its own: a file DuckDB's parallel reader refuses (a value
    # with a line break inside its quotes, such as a Shopify order's note, beside
    # null_padding) is read in one thread, and the error of a broken file leaves the load's
    # transaction usable for the message
    with _probe_database().cursor() as probe:
        if not layout.spaces and layout.quoted:
            # the delimiter written after the header's first quoted cell; DuckDB's sniffer,
            # which a report's footer lines can mislead ('|' for eBay's orders report), only
            # when none follows it
            extra += (f", delim = {_sql_str(layout.delimiter)}" if layout.delimiter
                      else _quoted_delimiter(probe, p, enc, skip))
        src = (f"read_csv({p}, all_varchar = true, encoding = '{enc}', "
               f"sample_size = 20480, strict_mode = false, null_padding = true, skip = {skip}"
               f"{extra})")
        try:
            rows = probe.execute(f"SELECT count(*) FROM {src}").fetchall()[0][0]
        except duckdb.Error as e:
            if "parallel=false" not in str(e):
                raise
            src = src[:-1] + ", parallel = false)"
            rows = probe.execute(f"SELECT count(*) FROM {src}").fetchall()[0][0]
    raw_names = [] if layout.headerless else header_cells(head, skip, layout.spaces)
    title = [" ".join(header_cells(head, i, layout.spaces)) for i in range(skip)]
    footer = [] if layout.spaces else footer_lines(path, enc, layout.delimiter, layout.columns)
    grouped = groups.carry_down(con, view, f"(SELECT *, row_number() OVER () AS {ROW} "
                                f"FROM {src})", ROW, raw_names, title, int(rows) - len(footer))
    if grouped is None:
        con.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS "
                    f"SELECT *, row_number() OVER () AS {ROW} FROM {src}")
    if GIVEN_ENCODING.get() is not None:
        notes.append(f"the file is read as {shown_enc} (--encoding)")
    elif shown_enc == "utf-16":  # its byte-order mark says so
        notes.append(f"the file is not UTF-8: read as {shown_enc}")
    elif shown_enc != "utf-8":  # told from its words: say how to overrule it
        notes.append(f"the file is not UTF-8: read as {shown_enc}{GUESSED}")
    if skip:
        notes.append(f"the column names are on line {skip + 1}: the {skip} line(s) above them "
                     "(a report title) were skipped")
    if grouped is not None:
        notes.append(grouped[1])
    units = [] if layout.headerless else units_line(
        header_cells(head, skip + 1, layout.spaces))
    if units:
        notes.append(units_note(f"line {skip + 2}", units))
    if footer:
        notes.append(footer_note(footer))
    return (tuple(notes), raw_names, int(rows), len(footer), tuple(units), sha256,
            grouped[0] if grouped else "")


#: words naming an order's list of lines in a nested JSON export (Shopify's line_items, ...)
_LINE_LIST_WORDS = ("line", "lines", "items", "item", "products", "entries", "details",
                    "positions", "articles", "orderlines", "lineitems")


def _is_record_list(sql_type: str) -> bool:
    """A JSON field holding a list of objects (DuckDB type ``STRUCT(...)[]``)."""
    return sql_type.startswith("STRUCT(") and sql_type.endswith("[]")


def _is_plain(sql_type: str) -> bool:
    """A JSON field holding one value: not an object, not a list."""
    return not sql_type.startswith("STRUCT(") and not sql_type.endswith("]")


def _json_wrapper(con: duckdb.DuckDBPyConnection, raw: str, desc: list[tuple[str, str]]
                  ) -> str | None:
    """The field of a one-object JSON file that holds its records, as web shops' and
    payment tools' APIs answer (``{"orders": [...]}``, ``{"data": [...], "meta": {...}}``):
    the object's only list of objects, when its own plain fields name fewer than two known
    columns (a single order with its ``line_items`` names its customer, date or total, and
    stays an order). None otherwise."""
    lists = [c for c, t in desc if _is_record_list(t)]
    if len(lists) != 1 or con.execute(f"SELECT count(*) FROM {raw}").fetchall()[0][0] != 1:
        return None
    return lists[0] if known_hits([c for c, t in desc if _is_plain(t)]) < 2 else None


def _register_json(con: duckdb.DuckDBPyConnection, view: str, p: str) -> tuple[str, ...]:
    """Register a JSON file as ``view``, flattened: an object field becomes columns named
    ``parent_field`` (``customer.id`` -> ``customer_id``), and the order's list of lines
    (``line_items``: a list of objects; the one list, else the one whose fields name the most
    known columns, else the one named like lines) becomes one row per line, its fields
    ``list_field`` (an order without lines keeps one row, whose empty product quarantines
    it), and the order's own ``id`` its order id when it names none otherwise. Other lists
    are left out, and the notes say so. A file that is one object wrapping the records (an
    API response, :func:`_json_wrapper`) is unwrapped first."""
    raw = f"{view}__raw"
    # dates stay text, read by the ingest's own parsers like a CSV's: DuckDB would turn
    # '10:00+01:00' into a UTC instant, and a shop's hours are local
    con.execute(f"CREATE OR REPLACE TEMP VIEW {raw} AS SELECT *, row_number() OVER () AS "
                f"__rr FROM read_json_auto({p}, sample_size = 20480, timestampformat = 'none', "
                "dateformat = 'none')")
    desc = [(d[0], d[1]) for d in con.execute(f"DESCRIBE {raw}").fetchall() if d[0] != "__rr"]

    def fields(sql: str) -> list[tuple[str, str]]:
        return [(d[0], d[1]) for d in con.execute(f"DESCRIBE {sql}").fetchall()]

    from loyalist.ingest.adapters import SYNONYMS_BY_COLUMN, normalise, words

    notes = []
    wrapper = _json_wrapper(con, raw, desc)
    if wrapper is not None:
        # an API response: the records are the one list in one object ({"orders": [...]})
        con.execute(f"CREATE OR REPLACE TEMP VIEW {raw}__records AS SELECT unnest(rec), "
                    f"row_number() OVER () AS __rr FROM (SELECT unnest({q(wrapper)}) AS rec "
                    f"FROM {raw})")
        raw = f"{raw}__records"
        desc = [(d[0], d[1]) for d in con.execute(f"DESCRIBE {raw}").fetchall()
                if d[0] != "__rr"]
        notes.append(f"the file is one object holding the records in {wrapper!r} (an API "
                     "response); its other fields are left out")

    lists = [c for c, t in desc if _is_record_list(t)]
    named = [c for c in lists if {*words(c), normalise(c)} & set(_LINE_LIST_WORDS)]
    lines = lists[0] if len(lists) == 1 else (named[0] if len(named) == 1 else None)
    if len(lists) > 1:
        # several lists (line_items, shipping_lines, refunds): the one whose elements name
        # the most known columns (sku, quantity, price) holds the order's lines
        hits = {c: known_hits([f for f, _ in fields(
            f"SELECT li.* FROM (SELECT unnest({q(c)}) AS li FROM {raw})")]) for c in lists}
        best = max(hits.values())
        top = [c for c in lists if hits[c] == best]
        if best >= 2 and len(top) == 1:
            lines = top[0]
    cols: list[str] = []
    dropped: list[str] = []
    plain = {normalise(c): c for c, t in desc if _is_plain(t)}
    # the lines' parent record is the order: its own "id" is the order id, unless it names
    # one otherwise (order_number; a Shopify order's name, #1001)
    order_key = plain.get("id") if lines is not None and not (
        set(plain) & {*SYNONYMS_BY_COLUMN[s.ORDER_ID], "name"}) else None
    for c, t in desc:
        if c == lines:
            continue
        if t.endswith("[]") or t.endswith("]") and "[" in t:
            dropped.append(c)
        elif t.startswith("STRUCT("):
            cols += [f"r.{q(c)}.{q(f)} AS {q(c + '_' + f)}"
                     for f, ft in fields(f"SELECT {q(c)}.* FROM {raw}")
                     if _is_plain(ft)]
        elif c == order_key:
            cols.append(f"r.{q(c)} AS {q(s.ORDER_ID)}")
            notes.append(f"the order records' {c!r} is their order id (each holds its lines in "
                         f"{lines!r})")
        else:
            cols.append(f"r.{q(c)}")
    if lines is None:
        con.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT {', '.join(cols)}, "
                    f"row_number() OVER (ORDER BY r.__rr) AS {ROW} FROM {raw} r")
    else:
        sub = fields(f"SELECT li.* FROM (SELECT unnest({q(lines)}) AS li FROM {raw})")
        cols += [f"u.li.{q(f)} AS {q(lines + '_' + f)}" for f, ft in sub
                 if _is_plain(ft)]
        con.execute(f"""
            CREATE OR REPLACE TEMP VIEW {view} AS
            SELECT {', '.join(cols)}, row_number() OVER (ORDER BY r.__rr, u.pos) AS {ROW}
            FROM {raw} r LEFT JOIN LATERAL (
                SELECT unnest(r.{q(lines)}) AS li,
                       unnest(range(1, len(r.{q(lines)}) + 1)) AS pos) u ON TRUE""")
        notes.append(f"nested records: one row per element of {lines!r} (the order's lines), "
                     "with the order's fields repeated; object fields read as parent_field "
                     "columns")
    if dropped:
        notes.append(f"list field(s) {', '.join(map(repr, dropped))} left out (one row per "
                     "order line is read from one list only)")
    return tuple(notes)


def _not_a_workbook(path: Path) -> str:
    """What a file named as a workbook really is when it is a web page's table or Excel
    2003's XML ('' otherwise): both are what 'Export to Excel' writes in many systems."""
    try:
        with path.open("rb") as f:
            head = f.read(2048).lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    except OSError:
        return ""
    if head.startswith((b"<!doctype html", b"<html", b"<table", b"<meta")):
        return "a web page's table (HTML)"
    if head.startswith(b"<?xml") and b"urn:schemas-microsoft-com:office:spreadsheet" in head:
        return "an Excel 2003 XML spreadsheet (SpreadsheetML)"
    return ""


#: how polars names a column whose header cell is empty (a merged cell's others)
UNNAMED = "__UNNAMED__"


def _excel_groups(path: Path) -> tuple[list[tuple[list[str], Any, Any, list[str]]], list[str]]:
    """A workbook's non-empty sheets grouped by their columns, in order of first appearance:
    (sheet names, their rows one after the other as one polars frame, the header as written
    (:func:`_excel_header`), the report title's rows above the first sheet's header); and
    notes. A sheet whose first row names fewer than two known columns is searched for its
    header row below a report title (as :func:`~loyalist.ingest.text.header_line` for
    CSV)."""
    import polars as pl

    try:
        sheets = pl.read_excel(path, engine="calamine", sheet_id=0, infer_schema_length=10_000)
    except Exception as e:  # noqa: BLE001 - calamine raises its own types; all mean "unreadable"
        if "empty excel sheet" in str(e).lower():
            raise DataError(f"{path}: every sheet is empty; put the data on the first "
                            "sheet") from None
        kind = _not_a_workbook(path)
        if kind:
            raise DataError(f"{path}: this is {kind}, not an Excel workbook, though its name "
                            "ends in .xls (many tills and web admins export so); open it in "
                            "Excel or LibreOffice and save it as .xlsx or CSV") from None
        raise DataError(
            f"{path}: cannot be read as Excel (corrupt, encrypted or not a workbook): "
            f"{str(e).splitlines()[0][:200]}; save it again as .xlsx or CSV"
        ) from None
    filled = {name: f for name, f in sheets.items() if f.width and f.height}
    if not filled:
        raise DataError(f"{path}: every sheet is empty; put the data on the first sheet")
    notes = []
    header_rows: dict[str, int] = {}
    titles: dict[str, list[str]] = {}
    for name, f in list(filled.items()):
        if known_hits(f.columns) >= 2 and not any(c.startswith(UNNAMED) for c in f.columns):
            continue
        # a report title (and maybe a blank line) above the column names, or group titles
        # merged over them
        rows = pl.read_excel(path, engine="calamine", sheet_name=name, has_header=False,
                             drop_empty_rows=False,
                             read_options={"n_rows": HEADER_SEARCH_LINES}).rows()
        k = header_row(rows)
        names = two_row_names(rows[k], rows[k + 1]) if k + 1 < len(rows) else None
        if k > 0:
            notes.append(f"sheet {name!r}: the column names are on row {k + 1}; the "
                         f"{k} row(s) above them were skipped (a report title)")
        if names is not None:
            notes.append(f"sheet {name!r}: the column names span rows {k + 1} and {k + 2} "
                         f"(titles over groups of columns), read as {', '.join(names)}")
        titles[name] = [" ".join(str(c) for c in r if c is not None) for r in rows[:k]]
        if k > 0 or names is not None:
            header_rows[name] = k + (names is not None)
            filled[name] = pl.read_excel(path, engine="calamine", sheet_name=name,
                                         infer_schema_length=10_000,
                                         read_options={"header_row": header_rows[name]})
        if names is not None:
            filled[name].columns = names
    groups: dict[tuple[str, ...], list[str]] = {}
    for name, f in filled.items():
        groups.setdefault(tuple(f.columns), []).append(name)
    out = []
    for names in groups.values():
        parts = [filled[n] for n in names]
        try:
            frame = pl.concat(parts, how="vertical_relaxed")
        except Exception:  # noqa: BLE001 - e.g. ids read as numbers on one sheet, text on another
            frame = pl.concat([f.select(pl.all().cast(pl.Utf8)) for f in parts])
        out.append((names, frame, _excel_header(path, names[0], frame.columns, header_rows),
                    titles.get(names[0], [])))
    return out, notes


def _excel_header(path: Path, sheet: str, columns: Sequence[str], header_rows: dict[str, int]
                  ) -> list[str] | None:
    """The sheet's column names as written, when polars may have renamed a repeated one
    ('price', 'price' -> 'price', 'price_1'; for :func:`_duplicates`); None when no column
    looks like such a copy (the sheet is not read again)."""
    import re

    import polars as pl

    have = set(columns)
    if not any((m := re.fullmatch(r"(.+?)_\d+", c)) and m.group(1) in have for c in columns):
        return None
    k = header_rows.get(sheet, 0)
    top = pl.read_excel(path, engine="calamine", sheet_name=sheet, has_header=False,
                        drop_empty_rows=False, read_options={"n_rows": k + 1})
    return [str(v) for v in top.row(k) if v is not None] if top.height > k else None


def _register_arrow(con: duckdb.DuckDBPyConnection, path: Path, view: str) -> None:
    """A Feather (v1 or v2) / Arrow IPC file as ``view``, with row numbers; memory-mapped, so
    an uncompressed file is not read into memory. Zoned timestamps become their wall-clock
    time (as for Parquet)."""
    import pyarrow as pa
    import pyarrow.feather as feather

    try:
        table = feather.read_table(str(path), memory_map=True)
    except (pa.ArrowInvalid, pa.ArrowIOError, OSError) as e:
        raise DataError(f"{path}: cannot be read as a Feather/Arrow file (corrupt or "
                        f"truncated?): {str(e).splitlines()[0][:200]}; export it again") from None
    import pyarrow.compute as pc

    cols = [pc.local_timestamp(c) if pa.types.is_timestamp(c.type) and c.type.tz else c
            for c in table.columns]
    cols.append(pa.array(range(1, table.num_rows + 1), type=pa.int64()))
    table = pa.table(cols, names=[*table.column_names, ROW])
    tmp = f"{view}__arrow"
    con.register(tmp, table)
    con.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT * FROM {tmp}")


def _register_frame(con: duckdb.DuckDBPyConnection, frame: Any, view: str) -> None:
    arrow = frame.with_row_index(ROW, offset=1).to_arrow()
    tmp = f"{view}__arrow"
    con.register(tmp, arrow)
    con.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT * FROM {tmp}")


def _sheet_units(frame: Any, sheet: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The filled cells of a sheet group's first row (its first sheet's, ``sheet``) when that
    is a units line under the header (:func:`~loyalist.ingest.text.units_line`), and the
    note naming the sheet; ((), ()) when it is data."""
    units = tuple(units_line(["" if v is None else str(v) for v in frame.row(0)])
                  if frame.height else [])
    return units, (units_note(f"the row of sheet {sheet!r}", units),) if units else ()


def footer_note(footer: Sequence[str]) -> str:
    """The load's note on a report's footer lines below the data."""
    shown = ", ".join(repr(f[:60]) for f in footer)
    return (f"the last {len(footer)} line(s) hold one value each below the data ({shown}): "
            "a report's footer, not sales, quarantined as totals_row")


def _sheet_footer(frame: Any) -> list[str]:
    """A sheet's report footer below its data (:func:`~loyalist.ingest.text.footer_rows`:
    QuickBooks' 'Accrual basis Monday, January 6, 2025 09:12 AM'), for a sheet of three or
    more columns, as for a CSV."""
    if frame.width < 3:
        return []
    tail = frame.tail(FOOTER_LINES + 1).rows()
    return footer_rows([["" if v is None else str(v) for v in r] for r in reversed(tail)])


def _sheet_groups(con: duckdb.DuckDBPyConnection, view: str, frame: Any, title: list[str]
                  ) -> tuple[list[str], str, list[str]]:
    """A sheet registered as ``view`` that is a grouped report (QuickBooks' 'Sales by
    Customer Detail' saved as a workbook) with its headings carried down
    (:func:`~loyalist.ingest.groups.carry_down`; ``title``: the report's rows above its
    header): its footer lines, the carried-down column ('' when it is no such report) and
    the notes saying so."""
    footer = _sheet_footer(frame)
    raw = ["" if c.startswith(UNNAMED) else c for c in frame.columns]
    grouped = groups.carry_down(con, view, f"{view}__arrow", ROW, raw, title,
                                frame.height - len(footer))
    notes = [grouped[1]] if grouped else []
    return footer, grouped[0] if grouped else "", notes + (
        [footer_note(footer)] if footer else [])


def _register_excel(con: duckdb.DuckDBPyConnection, path: Path, view: str
                    ) -> tuple[tuple[str, ...], list[Sheets], list[str] | None, tuple[str, ...],
                               int, str]:
    """Register a workbook's data as ``view``: the first non-empty sheet, followed by every
    later sheet with the same columns (Online Retail II ships one year per sheet). Sheets with
    other columns are registered as ``{view}_s1``, ... for :func:`open_sources`, returned as
    (:class:`Sheets`); the returned notes say what was combined. Also returns the first
    group's header as written (None: no column looks repeated) and the filled cells of its
    first row when that is a units line under the header (:func:`_sheet_units`), and for a
    grouped report its footer's length and carried-down column (:func:`_sheet_groups`)."""
    found, notes = _excel_groups(path)
    (same, frame, raw, title), *others = found
    units, units_notes = _sheet_units(frame, same[0])
    notes += units_notes
    _register_frame(con, frame, view)
    footer, group, group_notes = _sheet_groups(con, view, frame, title)
    notes += group_notes
    sheets = []
    for k, (names, other, other_raw, _) in enumerate(others, start=1):
        _register_frame(con, other, f"{view}_s{k}")
        sheets.append(Sheets(f"{view}_s{k}", names, other.height, other_raw,
                             *_sheet_units(other, names[0])))
    if len(same) > 1:
        notes.append(f"workbook sheets {', '.join(repr(n) for n in same)} have the same columns"
                     " and were loaded one after the other (row numbers run on across them)")
    return tuple(notes), sheets, raw, units, len(footer), group

