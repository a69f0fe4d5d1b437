"""What a dashboard page reads from the store, in one read through the API's store gate and
:mod:`loyalist.api.reads` (the same numbers ``GET /plans/{id}``, ``/segments`` and
``/customers/{id}`` serve). Each section that cannot be shown carries a one-line message
instead of failing the page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from loyalist import schema as s
from loyalist.api import reads
from loyalist.api.storegate import Reader, StoreGate, StoreUnavailable
from loyalist.dashboard.jobs import one_line
from loyalist.errors import LoyalistError

#: store states, in the order a merchant meets them
EMPTY, NO_SCORES, READY, UNAVAILABLE = "empty", "no_scores", "ready", "unavailable"


def page(gate: StoreGate, *, plan_id: str | None = None, customer_id: str | None = None
         ) -> dict[str, Any]:
    """Everything the main page shows: store state and counts, stored plans, the plan to show
    (``plan_id`` or the latest), segment profiles, and a customer lookup."""
    out: dict[str, Any] = {"store": str(gate.path), "state": EMPTY, "error": None,
                           "transactions": 0, "plans": [], "plan": None, "plan_error": None,
                           "segments": None, "customer": None, "customer_error": None,
                           "health": None}
    if not Path(gate.path).exists():
        return out
    try:
        with gate.read() as r:
            _fill(r, out, plan_id, customer_id)
    except StoreUnavailable as e:
        out.update(state=UNAVAILABLE, error=one_line(e))
    return out


def _count(r: Reader, table: str) -> int:
    if table not in reads.tables(r):
        return 0
    return r.memo(f"dashboard:count:{table}", lambda: int(
        r.con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]))


def _fill(r: Reader, out: dict[str, Any], plan_id: str | None, customer_id: str | None
          ) -> None:
    out["transactions"] = _count(r, s.T_TRANSACTIONS)
    if out["transactions"] == 0:
        return
    if _count(r, s.T_SCORES) == 0:
        out["state"] = NO_SCORES
        return
    out["state"] = READY
    out["health"] = reads.health(r)
    out["segments"] = reads.segments(r)
    if s.T_PLANS in reads.tables(r):
        out["plans"] = reads.plans(r)
    shown = plan_id or (out["plans"][0]["plan_id"] if out["plans"] else None)
    if shown is not None:
        try:
            out["plan"] = reads.plan_summary(r, shown)
        except LoyalistError as e:
            out["plan_error"] = one_line(e)
    if customer_id:
        try:
            out["customer"] = customer(r, customer_id, out["plan"])
        except LoyalistError as e:
            out["customer_error"] = one_line(e)


def customer(r: Reader, customer_id: str, plan: dict[str, Any] | None) -> dict[str, Any]:
    """``GET /customers/{id}``, with the customer's row of the plan on show (the API's lookup
    gives the row of the latest plan). A customer the plan targets without scores (signed up,
    no purchase before as_of) still shows the plan row."""
    row = None
    if plan is not None and s.T_PLAN_CUSTOMERS in reads.tables(r):
        rows = r.rows(f"SELECT * EXCLUDE (plan_id) FROM {s.T_PLAN_CUSTOMERS} "
                      f"WHERE plan_id = ? AND {s.CUSTOMER_ID} = ? LIMIT 1",
                      [plan["plan_id"], customer_id])
        row = reads.clean(rows[0]) if rows else None
    try:
        doc = reads.customer(r, customer_id)
    except reads.NotFound:
        if row is None:
            raise
        doc = {"customer_id": customer_id, "segment": row.get("target_segment"),
               "reasons": [], "products": [], "unscored": True,
               **{k: None for k in reads.SCORE_FIELDS}}
    doc["plan_row"] = row
    return doc


def plan_csv(gate: StoreGate, plan_id: str) -> str:
    """The plan's execution list (``GET /plans/{id}/customers.csv``)."""
    with gate.read() as r:
        return reads.plan_customers_csv(r, plan_id)
