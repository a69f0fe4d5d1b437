"""Ingest: read -> map columns -> clean -> validate -> load, with quarantine.

:func:`ingest_files` loads one or more files into a :class:`~loyalist.store.Store` in a single
transaction: either every file lands (each row loaded or quarantined, counts asserted) or, on any
error, the store is left exactly as it was.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from loyalist import jsontext, money
from loyalist import schema as s
from loyalist.errors import DataError, ParameterError
from loyalist.features import orders
from loyalist.ingest import (
    adapters,
    archives,
    currency,
    join,
    parse,
    persons,
    required,
    tables,
    text,
    transactions,
    units,
)
from loyalist.ingest.read import Source, open_sources
from loyalist.store import META, Store

log = logging.getLogger(__name__)

FORMATS = ("auto", "online-retail", "cdnow", "generic")
TABLES = ("auto", s.T_TRANSACTIONS, s.T_PRODUCTS, s.T_CUSTOMERS, s.T_PROMOTIONS, s.T_CATALOG,
          s.T_COMPETITORS, s.T_INVENTORY)

__all__ = ["FORMATS", "TABLES", "ingest_files"]


def map_strings(x: Any, f: Callable[[str], str]) -> Any:
    """``x`` (plain JSON) with ``f`` applied to every string in it."""
    if isinstance(x, str):
        return f(x)
    if isinstance(x, list):
        return [map_strings(v, f) for v in x]
    if isinstance(x, dict):
        return {k: map_strings(v, f) for k, v in x.items()}
    return x


def ingest_files(
    store: Store,
    files: Sequence[str | Path],
    *,
    fmt: str = "auto",
    mapping: Mapping[str, str] | Sequence[str] | None = None,
    table: str = "auto",
    day_one: str | date | None = None,
    loaded_at: datetime,
    progress: Callable[[str], None] | None = None,
    display: Callable[[str], str] | None = None,
    check: Callable[[Store], object] | None = None,
    currency: str | None = None,
    encoding: str | None = None,
) -> list[dict[str, Any]]:
    """Load ``files``; return one data-quality report per file (see README for its keys).
    ``day_one``: the date of day 1 when the transactions' date column holds day numbers.
    ``display``: text -> text as the user should see it, applied to every string of each report
    and to the file name before the ``loads`` row is written (an upload's temporary path shown
    as the client named the file), in the same transaction as the load. ``check``: called
    with the store once the rows are written, inside the load's transaction: an error it
    raises undoes the whole load (`loyalist run --as-of` checks its date against the data).
    ``currency``: the ISO 4217 code the amounts are in (``--currency``), over what the files
    show (:mod:`loyalist.ingest.currency`); a load in another currency than the store's is
    refused. ``encoding``: the text files' encoding (``--encoding``), over the one detected
    from their words (:func:`loyalist.ingest.text.text_encoding`)."""
    given = money.check_code(currency)
    enc = text.check_encoding(encoding)
    if fmt not in FORMATS:
        raise DataError(f"--format {fmt!r} is unknown; use one of: {', '.join(FORMATS)}")
    if table not in TABLES:
        raise DataError(f"--table {table!r} is unknown; use one of: {', '.join(TABLES)}")
    with ExitStack() as stack:
        def unpack() -> Path:
            return Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="loyalist-")))

        skipped: dict[str, list[str]] = {}
        members: dict[str, str] = {}
        shown = _expand(files, unpack, skipped, members)
        stack.callback(text.GIVEN_ENCODING.reset, text.GIVEN_ENCODING.set(enc))
        stack.enter_context(parse.one_load())
        try:
            return _ingest(store, shown, unpack(), fmt=fmt, mapping=mapping, table=table,
                           day_one=day_one, loaded_at=loaded_at, progress=progress,
                           skipped=skipped, display=display, members=members,
                           check=check, code=given)
        except DataError as e:  # a member of an archive by its name, not its unpacked copy
            msg = str(e)
            for real, name in sorted(shown, key=lambda x: -len(str(x[0]))):
                msg = msg.replace(str(real), name)
            if msg == str(e):
                raise
            raise type(e)(msg) from None


def _ingest(store: Store, given: list[tuple[Path, str]], scratch: Path, *, fmt: str,
            mapping: Mapping[str, str] | Sequence[str] | None, table: str,
            day_one: str | date | None, loaded_at: datetime,
            progress: Callable[[str], None] | None,
            skipped: dict[str, list[str]] | None = None,
            display: Callable[[str], str] | None = None,
            members: Mapping[str, str] | None = None,
            check: Callable[[Store], object] | None = None,
            code: str | None = None) -> list[dict[str, Any]]:
    """``skipped``: folder or archive (as shown) -> sentences on the files in it that were
    not read (documents, side tables that are no sales lines), added to the report of its
    first file. ``members``: file as shown -> the folder or archive (as shown) it was found
    in, for the files not named on the command line. ``code``: ``--currency``, checked."""
    skipped = {} if skipped is None else skipped
    files = [f for f, _ in given]
    shown = dict(given)
    if not files:
        raise DataError("no input file given; pass one or more CSV, Parquet, Excel, JSON or "
                        "Feather files")
    if mapping is not None and not isinstance(mapping, Mapping):
        mapping = adapters.parse_map(list(mapping))
    mapping = dict(mapping or {})
    first_day = _day_one(day_one)
    con = store.con
    with store.transaction():
        next_id = int(con.execute(
            f"SELECT coalesce(max(load_id), 0) + 1 FROM {s.T_LOADS}").fetchall()[0][0])
        money_in = currency.Keeper.open(con, str(store.path), code)
        sources: list[Source] = []
        for i, f in enumerate(files):
            if progress:
                progress(f"reading {Path(f).name}")
            sources += _usable(open_sources(con, Path(f), f"__src{i}", scratch), mapping)
        if table == "auto" and fmt in ("auto", "generic") and members:
            sources = _side_tables_left_out(sources, shown, members, mapping, first_day,
                                            skipped)
        pairs = (join.find_pairs(sources, mapping)
                 if fmt in ("auto", "generic") and table == "auto" else [])
        lines_of = {p.lines: p for p in pairs}
        heads = pairs[0].headers if pairs else ()
        if pairs:  # the headers files are read once for every join and report below
            join.stage_orders(con, [sources[h] for h in heads],
                              [sources[p.lines] for p in pairs], pairs)
        tbls = [s.T_TRANSACTIONS if i in lines_of or i in heads
                else table if table != "auto" else tables.detect_table(src.headers)
                for i, src in enumerate(sources)]
        dated: dict[int, tuple[str, ...]] = {}
        if fmt in ("auto", "generic") and day_one is None:
            mapping, sources, dated = _dates_by_value(con, sources, tbls, mapping,
                                                      {*lines_of, *heads})
        order_of_dates, evidence = _date_order(con, sources, tbls, mapping, day_one)
        done: dict[int, dict[str, Any]] = {}
        # customer lists after the sales, so they can be keyed the way the sales are
        # (tables.customer_key); reports stay in the order the files were given
        order = sorted(range(len(sources)), key=lambda k: (tbls[k] == s.T_CUSTOMERS, k))
        # the documents left out of a folder or archive are said in the report of its first
        # file read (of the first file read, if none of its files is recognised as its)
        notes_on = {w: next((k for k in order if shown[sources[k].path].startswith(w + "/")),
                            order[0]) for w in skipped}
        for i in order:
            src, tbl = sources[i], tbls[i]
            path = src.path
            load_id = next_id + i
            if i in heads:
                report = _earlier_load(con, src, tbl) or join.headers_report(
                    con, [sources[h] for h in heads], heads.index(i),
                    [sources[p.lines] for p in pairs], pairs, load_id)
            else:
                if i in lines_of:
                    src = join.joined_source(con, src, [sources[h] for h in heads],
                                             lines_of[i], f"__joined{i}")
                own = _own_mapping(mapping, src, sources)
                if tbl == s.T_TRANSACTIONS and fmt in ("auto", "generic"):
                    # sales keyed by a per-order id, a customers file naming the person
                    m = persons.person_map(con, src, [sources[k] for k in order
                                                      if tbls[k] == s.T_CUSTOMERS], mapping)
                    if m is not None:
                        src, own = persons.rekeyed(con, src, m, f"__persons{i}", own)
                report = _load(con, store, src, tbl, fmt, own, load_id, i, progress,
                               first_day, loaded_at,
                               dates=_dates_note(order_of_dates, evidence.get(i)),
                               dated=dated.get(i, ()))
            report.update(load_id=load_id, table=tbl)
            if shown[path] != str(path.resolve()):  # a member of an archive, or a .gz's copy
                report["file"] = str(report.get("file", path)).replace(str(path), shown[path])
            report.setdefault("status", "loaded")
            if tbl == s.T_TRANSACTIONS and report["status"] == "loaded":
                money_in.file(report)
            report.pop("currency_unsure", None)
            for where in [w for w, first in notes_on.items() if first == i]:
                report.setdefault("assumptions", []).extend(skipped[where])
            q = con.execute(f"SELECT count(*) FROM {s.T_QUARANTINE} WHERE load_id = ?",
                            [load_id]).fetchall()[0][0]
            if report["status"] == "loaded" and q != report["rows_quarantined"]:
                raise AssertionError(f"quarantine holds {q} rows for load {load_id}, "
                                     f"expected {report['rows_quarantined']}")
            name = shown[path]
            if display is not None:
                report, name = map_strings(report, display), display(name)
            con.execute(
                f"INSERT INTO {s.T_LOADS} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [load_id, tbl, name, src.sha256,
                 report.get("format", tbl), loaded_at, report["status"], report["rows_read"],
                 report["rows_loaded"], report["rows_quarantined"],
                 jsontext.dumps(report["rules"], indent=None),
                 jsontext.dumps(report, indent=None)])
            log.info("%s: %s rows read, %s loaded, %s quarantined", path, report["rows_read"],
                     report["rows_loaded"], report["rows_quarantined"])
            done[i] = report
        join.drop_orders(con)
        money_in.save(con)
        if order_of_dates[1] == "this load":  # later loads of the same shop read alike
            con.execute(f"INSERT OR REPLACE INTO {META} VALUES (?, ?)",
                        [DATE_ORDER_KEY, order_of_dates[0]])
        reports: list[dict[str, Any]] = [done[i] for i in sorted(done)]
        new = [r["load_id"] for r in reports
               if r["table"] == s.T_TRANSACTIONS and r["status"] == "loaded"]
        orders.refresh(con, new, progress)
        if check is not None:
            check(store)
    return reports


#: ``store_meta`` key: the order of day and month the store's dates proved ("day"/"month")
DATE_ORDER_KEY = "date_order"


def _dates_by_value(con: Any, sources: list[Source], tbls: list[str],
                    mapping: Mapping[str, str], joined: set[int]
                    ) -> tuple[dict[str, str], list[Source], dict[int, tuple[str, ...]]]:
    """The order date found by its values where no column's name says it (``Zeitpunkt``,
    ``Tarih``, ``Ngày``: names in languages the synonyms do not know): in each sales file
    without one that names its customers, the columns no other canonical column took that
    hold dates (:func:`parse.holds_dates`), except those whose name rules them out (a
    delivery or shipping date: :func:`adapters.may_be_order_date`). Where every such file has
    exactly one, and the same, it is mapped as ``ordered_at`` and each file's report says
    so. Returns the mapping, the sources (with that note) and per source index its date
    columns, for the message when there are several. Nothing is inferred when any sales file
    names its date (the others may be order lines to join with it) or for files joined as
    orders and lines."""
    sales = [i for i, t in enumerate(tbls) if t == s.T_TRANSACTIONS and i not in joined]
    found = {i: adapters.found_columns(sources[i].headers, mapping, sources[i].empty)
             for i in sales}
    if s.ORDERED_AT in mapping or any(s.ORDERED_AT in f for f in found.values()):
        return dict(mapping), sources, {}
    # a file without customers may be the lines half of an export, whose dates (shipping
    # limits, say) are not the orders': its message asks for the orders file instead
    dated = {i: tuple(c for c in sources[i].headers if c not in found[i].values()
                      and adapters.may_be_order_date(c)
                      and parse.holds_dates(con, sources[i].view, c, sources[i].types[c]))
             for i in sales if s.CUSTOMER_ID in found[i]}
    names = set(dated.values())
    if len(names) != 1 or len(next(iter(names))) != 1:
        return dict(mapping), sources, dated
    col = next(iter(names))[0]
    note = adapters.guessed_note(
        s.ORDERED_AT, col, "values", ": the only column holding dates, under a name Loyalist "
        "does not know); if it is not the order date, name the right column with --map "
        f"{s.ORDERED_AT}=<column>")
    out = [replace(src, notes=(*src.notes, note)) if i in dated else src
           for i, src in enumerate(sources)]
    return {**mapping, s.ORDERED_AT: col}, out, {}


def _own_mapping(mapping: Mapping[str, str], src: Source, sources: Sequence[Source]
                 ) -> dict[str, str]:
    """The ``--map`` entries for one file of several given together: those naming a column
    another file has and this one lacks are that file's (``--map category=...`` naming the
    products file's column)."""
    return {k: v for k, v in mapping.items()
            if v in src.headers or not any(v in o.headers for o in sources)}


def _date_order(con: Any, sources: list[Source], tbls: list[str],
                mapping: Mapping[str, str], day_one: date | None
                ) -> tuple[tuple[str | None, str | None], dict[int, tuple[int, int, int]]]:
    """``((order, proven by), evidence)``: whether this load's sales files write the day or
    the month first ("day", "month" or None), proven by "this load" (a value such as
    13/03/2024 in any file, none the other way) or by "earlier loads" (the store's record),
    and per source index its :func:`parse.date_order_evidence`. A file of the first twelve
    days of a month reads both ways on its own; the shop's other files decide it."""
    evidence: dict[int, tuple[int, int, int]] = {}
    if day_one is None:
        for i, (src, tbl) in enumerate(zip(sources, tbls, strict=True)):
            col = adapters.found_columns(src.headers, mapping, src.empty).get(s.ORDERED_AT)
            if tbl == s.T_TRANSACTIONS and col in src.types and parse.is_text(src.types[col]):
                evidence[i] = parse.date_order_evidence(con, src.view, col)
    day = sum(e[0] for e in evidence.values())
    month = sum(e[1] for e in evidence.values())
    if day and not month:
        return ("day", "this load"), evidence
    if month and not day:
        return ("month", "this load"), evidence
    if day or month:
        return (None, None), evidence
    got = con.execute(f"SELECT value FROM {META} WHERE key = ?", [DATE_ORDER_KEY]).fetchall()
    return ((got[0][0], "earlier loads") if got else (None, None)), evidence


def _dates_note(order: tuple[str | None, str | None], ev: tuple[int, int, int] | None
                ) -> tuple[str | None, str | None]:
    """``(day or month first, note)`` for one file: what the shop's dates prove (None: they
    prove nothing); the note for a file whose own dates all read both ways (no number above
    12), or None."""
    first, proof = order
    if ev is None or ev[0] or ev[1] or not ev[2]:
        return first, None
    if first is None:
        return None, ("every date reads both ways (no day above 12, e.g. 02/03/2024): read "
                      "month first (US), as 3 February; if the shop writes the day first, "
                      "load this file together with one that has a day above 12")
    where = "the other files of this load" if proof == "this load" else "the store's earlier loads"
    return first, (f"every date reads both ways (no day above 12): read "
                   f"{'day' if first == 'day' else 'month'} first, as {where} show")


def _load(con: Any, store: Store, src: Source, tbl: str, fmt: str, mapping: Mapping[str, str],
          load_id: int, i: int, progress: Callable[[str], None] | None,
          day_one: date | None = None, loaded_at: datetime | None = None,
          dates: tuple[str | None, str | None] = (None, None),
          dated: Sequence[str] = ()) -> dict[str, Any]:
    """Stage and write one source into ``tbl``; return its data-quality report. ``dates``:
    ("day" or "month": which comes first in dates that read both ways, as the shop's dates
    proved; None: as the column names' language says), and the note saying how they were
    read (:func:`_dates_note`); ``dated``: the file's columns holding dates by their values
    when none is named as the order date (:func:`_dates_by_value`), for the message."""
    earlier = _earlier_load(con, src, tbl)
    if earlier is not None:
        return earlier
    staged = f"__staged{i}"
    if tbl == s.T_TRANSACTIONS:
        if day_one is not None and s.ORDERED_AT not in mapping:
            # with --day-one, a column called DAY (day number, ...) is the date
            day = adapters.day_number_column(src.headers)
            if day is not None:
                mapping = {**mapping, s.ORDERED_AT: day}
        adapter = adapters.by_name(fmt, src.headers, mapping, src.empty)
        first = None
        if adapters.is_positional(src.headers):  # no header row: show the values
            first = con.execute(f"SELECT * FROM {src.view} LIMIT 1").fetchone()
        required.check_required(adapter, src.headers, str(src.path), first, dated,
                                src.empty)
        adapter = units.units_and_prices(con, src, adapter, mapping)
        adapter = persons.person_in_file(con, src, adapter)
        first, note = dates
        if first is not None and adapter.day_first != (first == "day"):
            adapter = replace(adapter, day_first=first == "day")  # the data over the names
        elif first is None and adapter.day_first:
            note = None  # read day first by the column names' language, which is said
        if note:
            adapter = replace(adapter, assumptions=(
                *adapter.assumptions,
                f"{s.ORDERED_AT} ({adapter.columns.get(s.ORDERED_AT)!r}): {note}"))
        if day_one is not None:
            adapter = replace(adapter, day_one=day_one, assumptions=(
                *adapter.assumptions, f"{s.ORDERED_AT} ({adapter.columns[s.ORDERED_AT]!r}) holds "
                f"day numbers: day 1 is {day_one.isoformat()} (--day-one)"))
        if progress:
            progress(f"cleaning {src.rows:,} rows ({adapter.name})")
        report = transactions.stage(con, src, adapter, table=staged, load_id=load_id,
                                    check_store=store.count(s.T_TRANSACTIONS) > 0,
                                    latest=None if loaded_at is None
                                    else loaded_at + timedelta(days=1))
        transactions.write(con, src, adapter, staged, load_id)
        found = currency.detect(con, src, adapter)
        report.update(currency=found.code, currency_evidence=found.evidence)
        report["assumptions"] += found.notes
        report["currency_unsure"] = list(found.unsure)
        if adapter.cost_columns:
            n, note = transactions.derive_product_margins(con, adapter, staged, load_id)
            report["products_with_derived_margin"] = n
            if note:  # the column was not used after all: its announcement goes
                report["assumptions"] = [
                    x for x in report["assumptions"]
                    if not x.startswith(adapters.MARGIN_NOTE)] + [note]
    else:
        spec = tables.SPECS[tbl]
        report = tables.stage(con, src, spec, mapping, table=staged)
        tables.write(con, src, spec, staged, load_id)
    con.execute(f"DROP TABLE {staged}")
    return report


def _expand(files: Sequence[str | Path], unpack: Callable[[], Path],
            skipped: dict[str, list[str]] | None = None,
            members: dict[str, str] | None = None) -> list[tuple[Path, str]]:
    """Each file to read, with the name the loads table records for it: files as given, a
    folder as the data files directly inside it (by name, :data:`archives.DATA_SUFFIXES`), a zip
    archive as its data files (extracted into ``unpack()``, recorded as
    ``archive.zip/member.csv``), a gzipped file as its decompressed copy (recorded under its own
    name). A folder or archive without any is an error naming it. In a folder or an archive, a
    text file that is a document rather than a table (README.txt, notes:
    :func:`archives.not_a_table`) is left out, and ``skipped`` (folder or archive as shown ->
    sentences) says so.
    ``members`` (name recorded -> folder or archive as shown) gets the files found inside
    one."""
    skipped = {} if skipped is None else skipped
    members = {} if members is None else members
    out: list[tuple[Path, str]] = []
    for f in files:
        p = Path(f)
        if p.is_dir():
            inside = sorted(x for x in p.iterdir() if x.is_file() and not x.name.startswith(".")
                            and (x.name.lower().endswith(archives.DATA_SUFFIXES)
                                 or archives.is_archive(x)))
            inside = _truth_left_out(inside, str(p.resolve()), skipped)
            inside = _documents_left_out([(x, x.name) for x in inside], str(p.resolve()),
                                         skipped)
            if not inside:
                raise DataError(f"{p}: the folder holds no data file "
                                f"({', '.join(archives.DATA_SUFFIXES)}, or a .zip of them); pass "
                                "the files themselves")
            members.update({str(x.resolve()): str(p.resolve()) for x, _ in inside})
            out += _expand([x for x, _ in inside], unpack, skipped, members)
        elif archives.is_archive(p):
            into = unpack()
            found = _documents_left_out(
                [(x, str(x.relative_to(into / p.name))) for x in archives.extract_archive(p, into)],
                str(p.resolve()), skipped)
            if not found:
                raise DataError(f"{p}: the archive holds no data file, only documents "
                                f"({'; '.join(skipped.get(str(p.resolve()), []))})")
            out += [(x, str(p.resolve() / member)) for x, member in found]
            members.update({str(p.resolve() / member): str(p.resolve()) for _, member in found})
        elif archives.is_gzip(p):
            out.append((archives.gunzip(p, unpack()), str(p.resolve())))
        else:
            out.append((p, str(p.resolve())))
    return out


def _side_tables_left_out(sources: list[Source], shown: Mapping[Path, str],
                          members: Mapping[str, str], mapping: Mapping[str, str],
                          day_one: date | None, skipped: dict[str, list[str]]) -> list[Source]:
    """``sources`` without the files found in a folder or archive (``members``) that hold
    neither a table Loyalist recognises nor sales lines (:func:`required.not_sales_lines`: a
    downloaded data set's payments, reviews, campaign definitions, coupon redemptions), each
    of which adds a sentence to ``skipped`` of its folder. A file named on the command line is
    never left out: its error says what it lacks. If nothing is left, the error lists why."""
    keep: list[Source] = []
    left: list[str] = []
    for src in sources:
        where = members.get(shown[src.path])
        why = None
        if where is not None and tables.detect_table(src.headers) == s.T_TRANSACTIONS:
            cols = dict(adapters.found_columns(src.headers, mapping, src.empty))
            if day_one is not None and s.ORDERED_AT not in cols:
                day = adapters.day_number_column(src.headers)
                if day is not None:
                    cols[s.ORDERED_AT] = day
            why = required.not_sales_lines(cols)
        if why is None:
            keep.append(src)
            continue
        inside = shown[src.path][len(where) + 1:] + (
            f" [{', '.join(src.sheets)}]" if src.sheets else "")
        note = (f"{Path(where).name}/{inside} was not read: not sales lines ({why}; its "
                f"columns: {', '.join(src.headers)}) nor a table Loyalist recognises; load it "
                f"with --table {required.OTHER_TABLES} if it is one of those")
        skipped.setdefault(where, []).append(note)
        left.append(note)
    if not keep:
        raise DataError("no file holds sales lines or a table Loyalist reads: "
                        + "; ".join(left))
    return keep


#: the ground-truth files of a scenario folder written by ``loyalist generate`` (its
#: ``scenario.json`` names them under ``files``)
TRUTH_FILES = ("truth", "truth_response")


def _truth_left_out(found: list[Path], where: str, skipped: dict[str, list[str]]
                    ) -> list[Path]:
    """``found`` (the files of folder ``where``) without the generator's ground truth, when
    the folder is a scenario written by ``loyalist generate`` (a ``scenario.json`` whose
    ``files`` name the truth files): what every customer would truly do, for scoring plans
    against; no model may read it, and it is no table of a store (loading the folder failed on
    it: exploratory report 8). Each file left out adds a sentence to ``skipped[where]``."""
    meta = next((x for x in found if x.name == "scenario.json"), None)
    if meta is None:
        return found
    try:
        names = json.loads(meta.read_text(encoding="utf-8")).get("files") or {}
    except (OSError, ValueError, AttributeError):
        return found
    truth = {str(names[k]) for k in TRUTH_FILES if isinstance(names, dict) and k in names}
    keep = []
    for x in found:
        if x.name in truth:
            skipped.setdefault(where, []).append(
                f"{Path(where).name}/{x.name} was not read: the generated scenario's ground "
                "truth (what each customer would truly do), kept for scoring plans; no model "
                "may read it")
        else:
            keep.append(x)
    return keep


def _documents_left_out(found: list[tuple[Path, str]], where: str,
                        skipped: dict[str, list[str]]) -> list[tuple[Path, str]]:
    """``found`` (file, its name inside folder or archive ``where``) without the documents
    among them (:func:`archives.not_a_table`), each of which adds a sentence to
    ``skipped[where]``."""
    keep = []
    for x, name in found:
        why = archives.not_a_table(x)
        if why is None:
            keep.append((x, name))
        else:
            skipped.setdefault(where, []).append(
                f"{Path(where).name}/{name} was not read: {why}")
    return keep


def _usable(found: list[Source], mapping: Mapping[str, str]) -> list[Source]:
    """The first source of a file, and the workbook's other sheets that hold a table Loyalist
    reads (an optional table by its columns, or transactions with three of their key columns,
    e.g. order headers or order lines); sheets that do not (notes, pivots) are left out, and
    the first source's notes say so."""
    key = {s.ORDER_ID, s.CUSTOMER_ID, s.ORDERED_AT, s.PRODUCT_ID, s.UNIT_PRICE, s.AMOUNT,
           s.QUANTITY}
    keep, left = [], []
    for src in found[1:]:
        usable = (tables.detect_table(src.headers) != s.T_TRANSACTIONS
                  or len(set(adapters.found_columns(src.headers, mapping, src.empty)) & key)
                  >= 3)
        (keep if usable else left).append(src)
    notes = []
    if left:
        names = ", ".join(repr(n) for src in left for n in src.sheets)
        notes.append(f"workbook sheet(s) {names} left out: their columns differ from the first "
                     "sheet's and hold no table Loyalist reads; save them as separate files to "
                     "load them")
    notes += [f"workbook sheet(s) {', '.join(map(repr, src.sheets))} hold other columns and "
              "were loaded as a table of their own (listed separately)" for src in keep]
    return [replace(found[0], notes=(*found[0].notes, *notes)), *keep]


def _day_one(value: str | date | None) -> date | None:
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise ParameterError(f"--day-one {value!r} is not a date; use YYYY-MM-DD, e.g. "
                             "--day-one 2019-01-01") from None


def _earlier_load(con: Any, src: Source, tbl: str) -> dict[str, Any] | None:
    """The report of a source whose exact content was loaded into ``tbl`` before, else None."""
    dup = con.execute(
        f"SELECT load_id FROM {s.T_LOADS} WHERE file_sha256 = ? AND tbl = ? "
        "AND status = 'loaded' LIMIT 1", [src.sha256, tbl]).fetchall()
    if not dup:
        return None
    return _already_loaded(src.rows, int(dup[0][0]), src.label, src.sha256, tbl)


def _already_loaded(rows: int, earlier: int, file: str, sha: str, tbl: str) -> dict[str, Any]:
    return {
        "file": file, "sha256": sha, "status": "already_loaded", "table": tbl,
        "rows_read": rows, "rows_loaded": 0, "rows_quarantined": rows,
        "rules": {"already_loaded": rows},
        "note": f"this exact file was loaded before (load {earlier}); nothing was added",
    }
