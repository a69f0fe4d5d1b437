"""Writing quarantined rows: load, source row number, table, rule, reason and the raw row
as JSON."""

from __future__ import annotations

import duckdb

from loyalist import schema as s
from loyalist.ingest import parse
from loyalist.ingest.read import ROW, Source


def sql_str(v: str) -> str:
    return "'" + v.replace("'", "''") + "'"


def insert(con: duckdb.DuckDBPyConnection, src: Source, staged: str, load_id: int, table: str,
           reason_sql: str) -> None:
    """Copy every staged row with a ``__rule`` into the quarantine table with its raw values."""
    raw = ", ".join(f"{sql_str(h)}: v.{parse.q(h)}" for h in src.headers)
    con.execute(f"""
        INSERT INTO {s.T_QUARANTINE}
        SELECT {load_id}, t.{ROW}, {sql_str(table)}, t.__rule, {reason_sql}, to_json({{{raw}}})
        FROM (SELECT {ROW}, __rule FROM {staged} WHERE __rule IS NOT NULL) t
        JOIN {src.view} v USING ({ROW})
    """)


def reason_case(reasons: dict[str, str]) -> str:
    """SQL mapping ``t.__rule`` to its human reason."""
    whens = " ".join(f"WHEN {sql_str(k)} THEN {sql_str(v)}" for k, v in reasons.items())
    return f"CASE t.__rule {whens} END"
