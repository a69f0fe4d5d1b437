"""Undo a load: remove every row a load wrote, so that a wrong file, or an export that a
corrected one replaces, leaves the store as if it had never been loaded.

Every row a load writes carries its ``load_id``: the transactions and their quarantined lines,
promotion history and competitor events (appended), and the rows of the keyed tables
(customers, products, promotion catalog, inventory), where a later load's row replaces an
earlier one for the same key. Removing a load deletes those rows, marks the load
``unloaded`` in ``loads`` (its record stays; the same file can then be loaded again), and
rebuilds the per-order table the features read.

What cannot be undone is refused, with the command that can:

- a later load of the same table that is still in the store: its lines were checked against
  this load's (a re-sent line is quarantined ``already_loaded``, a reused receipt number is
  split by what the store holds), so removing this one alone would lose them. Remove the
  later ones first, or name them all in one command.
- a keyed table's load that replaced rows of an earlier load: the replaced values are gone.
  Loading a corrected file replaces the rows again.

Results computed from the store (scores, plans, recommendations, forecast) are kept; the
summary names them, as they still count the removed rows until they are made again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from loyalist import schema as s
from loyalist.errors import ParameterError
from loyalist.features import orders
from loyalist.store import Store, forget_currency, table_exists

log = logging.getLogger(__name__)

#: tables whose rows are replaced by key by a later load (the others are appended to)
KEYED = (s.T_CUSTOMERS, s.T_PRODUCTS, s.T_CATALOG, s.T_INVENTORY)

#: results computed from the data, kept by an unload: table -> what it is
RESULTS = {s.T_SCORES: "customer scores", s.T_PLANS: "promotion plans",
           s.T_RECOMMENDATIONS: "recommendations", s.T_FORECAST: "the revenue forecast",
           s.T_BASKET_RULES: "products bought together",
           s.T_RUNS: "the customer models' out-of-time metrics"}

UNLOADED = "unloaded"


def list_loads(con: Any) -> list[dict[str, Any]]:
    """Every load, oldest first: id, table, file, when, status and its row counts
    (``con``: a DuckDB connection or cursor on the store)."""
    if not table_exists(con, s.T_LOADS):
        return []
    cols = ("load_id", "table", "file", "loaded_at", "status", "rows_read", "rows_loaded",
            "rows_quarantined")
    rows = con.execute(f"""SELECT load_id, tbl, file, strftime(loaded_at, '%Y-%m-%d %H:%M:%S'),
                                  status, rows_read, rows_loaded, rows_quarantined
                           FROM {s.T_LOADS} ORDER BY load_id""").fetchall()
    return [dict(zip(cols, r, strict=True)) for r in rows]


def _ids(given: Sequence[int | str]) -> list[int]:
    if not given:
        raise ParameterError("give the id of the load to remove, e.g. `loyalist unload 3`; "
                             "`loyalist loads` lists them")
    out = []
    for g in given:
        try:
            out.append(int(str(g).strip()))
        except ValueError:
            raise ParameterError(f"load id {g!r} is not a number; `loyalist loads` lists the "
                                 "loads with their ids") from None
    return sorted(set(out))


def _checked(con: Any, ids: list[int]) -> dict[int, dict[str, Any]]:
    """The loads to remove by id, after checking that removing them can be undone exactly."""
    rows = con.execute(f"SELECT load_id, tbl, file, status, report FROM {s.T_LOADS} "
                       "ORDER BY load_id").fetchall()
    loads = {int(r[0]): {"load_id": int(r[0]), "table": r[1], "file": r[2], "status": r[3],
                         "report": json.loads(r[4]) if r[4] else {}} for r in rows}
    if not loads:
        raise ParameterError("the store has no loads to remove")
    for i in ids:
        if i not in loads:
            raise ParameterError(f"there is no load {i} in the store (loads {min(loads)} to "
                                 f"{max(loads)}); `loyalist loads` lists them")
        if loads[i]["status"] == UNLOADED:
            raise ParameterError(f"load {i} ({loads[i]['file']}) was removed before; nothing "
                                 "to do")
    chosen = set(ids)
    for i in ids:
        me = loads[i]
        if me["status"] != "loaded":  # a file loaded before: it wrote nothing but its record
            continue
        later = [j for j, x in loads.items() if j > i and j not in chosen
                 and x["table"] == me["table"] and x["status"] == "loaded"]
        if later:
            names = ", ".join(f"{j} ({loads[j]['file']})" for j in later)
            both = " ".join(str(j) for j in sorted({*later, *ids}, reverse=True))
            raise ParameterError(
                f"load {i} ({me['file']}) cannot be removed alone: later {me['table']} "
                f"load(s) {names} were checked against its rows (re-sent lines, reused order "
                f"numbers); remove them too: `loyalist unload {both}`")
        if me["table"] in KEYED:
            earlier = [j for j, x in loads.items() if j < i and j not in chosen
                       and x["status"] == "loaded"
                       and (x["table"] == me["table"] or (
                           me["table"] == s.T_PRODUCTS and x["table"] == s.T_TRANSACTIONS
                           and x["report"].get("products_with_derived_margin")))]
            if earlier:
                every = " ".join(str(j) for j in sorted({*earlier, *ids}, reverse=True))
                raise ParameterError(
                    f"load {i} ({me['file']}) replaced the {me['table']} rows of earlier "
                    f"load(s) {', '.join(map(str, earlier))} with the same keys; their old "
                    f"values are gone, so removing it cannot restore them. Load a corrected "
                    f"{me['table']} file instead (its rows replace the stored ones), or remove "
                    f"them all: `loyalist unload {every}`")
    return {i: loads[i] for i in ids}


def unload(st: Store, given: Sequence[int | str]) -> dict[str, Any]:
    """Remove loads ``given`` (ids) and everything they wrote, in one transaction; returns a
    summary: the loads, rows removed per table, and the results that still count them."""
    ids = _ids(given)
    con = st.con
    with st.transaction():
        loads = _checked(con, ids)
        id_list = ", ".join(map(str, ids))
        tables = [r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.columns WHERE column_name = ? "
            "AND table_name <> ? AND table_catalog <> 'temp' ORDER BY table_name",  # no views
            [s.LOAD_ID, s.T_LOADS]).fetchall()]
        removed: dict[str, int] = {}
        for t in tables:
            n = con.execute(f"SELECT count(*) FROM {t} WHERE {s.LOAD_ID} IN ({id_list})"
                            ).fetchall()[0][0]
            if n:
                con.execute(f"DELETE FROM {t} WHERE {s.LOAD_ID} IN ({id_list})")
                removed[t] = int(n)
        con.execute(f"UPDATE {s.T_LOADS} SET status = '{UNLOADED}' "
                    f"WHERE load_id IN ({id_list})")
        if any(x["table"] in (s.T_TRANSACTIONS, s.T_PRODUCTS) for x in loads.values()):
            orders.refresh(con)  # the lines or their categories changed: a full rebuild
        if not con.execute(f"SELECT count(*) FROM {s.T_LOADS} WHERE tbl = ? AND status = ?",
                           [s.T_TRANSACTIONS, "loaded"]).fetchall()[0][0]:
            forget_currency(con)  # no sales left: the next load may be in any currency
        stale = {}
        for t, what in RESULTS.items():
            if st.has_table(t) and st.has_rows(t):
                stale[t] = what
    notes = []
    margins = sum(int(x["report"].get("products_with_derived_margin") or 0)
                  for x in loads.values())
    if margins:
        notes.append(f"the margins derived from the removed lines for up to {margins:,} "
                     "products without a cost stay until a load gives them a cost")
    if stale:
        notes.append("computed before the removal and still counting its rows: "
                     f"{', '.join(stale.values())}; make them again with `loyalist run "
                     f"--store {st.path}` (or train, recommend, forecast, plan)")
    log.info("unloaded %s: %s", ids, removed)
    return {"unloaded": [{k: x[k] for k in ("load_id", "table", "file", "status")}
                         for x in loads.values()],
            "rows_removed": removed, "stale_results": sorted(stale), "notes": notes}
