"""What a dashboard page reads from the store, in one read through the API's store gate and
:mod:`loyalist.api.reads` (the same numbers ``GET /plans/{id}``, ``/segments`` and
``/customers/{id}`` serve). Each section that cannot be shown carries a one-line message
instead of failing the page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from loyalist import schema as s
from loyalist.api import reads
from loyalist.api.storegate import Reader, StoreGate, StoreUnavailable
from loyalist.dashboard import charts
from loyalist.dashboard.jobs import one_line
from loyalist.errors import LoyalistError

#: the button that makes a promotion plan (not "recommendations": those are products)
PLAN_BUTTON = "Make a promotion plan"
#: store states, in the order a merchant meets them (``guest_only``: lines but no customer
#: id in any of them, so there is nothing to train)
EMPTY, NO_SCORES, GUEST_ONLY, READY, UNAVAILABLE = (
    "empty", "no_scores", "guest_only", "ready", "unavailable")


def page(gate: StoreGate, *, plan_id: str | None = None, customer_id: str | None = None
         ) -> dict[str, Any]:
    """Everything the main page shows: store state and counts, stored plans, the plan to show
    (``plan_id`` or the latest), segment profiles, a customer lookup, the stored revenue
    forecast (:func:`forecast`), churn risk per tier and the customers most worth keeping
    (:func:`~loyalist.api.reads.churn_risk`), the loads' quality
    (:func:`~loyalist.api.reads.quarantine`) and the page's ``charts`` (:func:`figures`).
    ``new_customers``:
    registered customers with no purchase before the scores' as_of (the plans'
    :data:`~loyalist.schema.NEW_SEGMENT`); ``plan_missing``: ``plan_id`` is not in the store."""
    out: dict[str, Any] = {"store": str(gate.path), "state": EMPTY, "error": None,
                           "transactions": 0, "plans": [], "plan": None, "plan_error": None,
                           "plan_missing": False, "segments": None, "new_customers": 0,
                           "customer": None, "customer_error": None, "health": None,
                           "campaign": None, "campaign_error": None, "forecast": None,
                           "churn": None, "churn_error": None, "quality": None,
                           "currency": None, "charts": {}}
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
    if _count(r, s.T_LOADS):  # even with no transaction line: every row may be quarantined
        out["quality"] = r.memo("dashboard:quality", lambda: reads.quarantine(r))
    out["transactions"] = _count(r, s.T_TRANSACTIONS)
    out["currency"] = reads.currency(r)
    if out["transactions"] == 0:
        return
    out["forecast"] = forecast(r)
    if _count(r, s.T_SCORES) == 0:
        out["state"] = GUEST_ONLY if _guest_only(r) else NO_SCORES
        return
    out["state"] = READY
    out["health"] = reads.health(r)
    out["segments"] = reads.segments(r)
    try:
        out["churn"] = r.memo("dashboard:churn", lambda: reads.churn_risk(r))
    except reads.NotFound as e:
        out["churn_error"] = one_line(e)
    out["new_customers"] = _new_customers(r)
    if s.T_PLANS in reads.tables(r):
        out["plans"] = reads.plans(r)
    shown = plan_id or (out["plans"][0]["plan_id"] if out["plans"] else None)
    if shown is not None:
        try:
            out["plan"] = reads.plan_summary(r, shown)
        except reads.NotFound:  # a stale or mistyped link: say so, show the latest plan
            out["plan_missing"] = True
            latest = out["plans"][0]["plan_id"] if out["plans"] else None
            out["plan_error"] = f"plan {shown[:70]!r} is not in this store; " + (
                f"make one with “{PLAN_BUTTON}”" if latest is None else
                f"showing the latest plan, {latest}"
                + ("; pick another from “Stored plans”" if len(out["plans"]) > 1 else ""))
            if latest is not None:
                out["plan"] = reads.plan_summary(r, latest)
        except LoyalistError as e:
            out["plan_error"] = one_line(e)
    if _count(r, s.T_PROMOTIONS):
        out["campaign"], out["campaign_error"] = campaign(r, out["plan"])
    shown_id = out["plan"]["plan_id"] if out["plan"] is not None else None
    out["charts"] = r.memo(f"dashboard:charts:{shown_id}", lambda: figures(out))
    if customer_id:
        try:
            out["customer"] = customer(r, customer_id, out["plan"])
        except LoyalistError as e:
            out["customer_error"] = one_line(e)


def figures(view: dict[str, Any]) -> dict[str, str | None]:
    """The page's charts of the plan on show and the segments (plotly JSON, by name). They
    depend on the store and the plan shown alone, so :func:`_fill` builds them once per
    version of the store and plan: building them took ~45 ms of a warm page's ~50 ms on the
    demo's store."""
    out: dict[str, str | None] = {}
    if view["plan"] is not None:
        out["allocation"] = charts.allocation(view["plan"])
        out["sensitivity"] = charts.sensitivity(view["plan"])
    if view["segments"] is not None:
        out["segments"] = charts.segments(view["segments"], view["plan"],
                                          new_customers=view["new_customers"])
    return out


def campaign(r: Reader, plan: dict[str, Any] | None
             ) -> tuple[dict[str, Any] | None, str | None]:
    """The campaign the page reads against its hold-out (``GET /campaigns/results``): the
    plan on show's, once its sends are loaded as promotion history, else the latest; and a
    one-line message (why the plan's own campaign is not shown, or why none is)."""
    def read(plan_id: str | None) -> dict[str, Any]:
        return r.memo(f"dashboard:campaign:{plan_id}",
                      lambda: reads.campaign(r, plan_id=plan_id))

    note = None
    if plan is not None and plan.get("holdout"):
        try:
            return read(plan["plan_id"]), None
        except reads.NotFound:  # its sends are not loaded yet
            note = (f"plan {plan['plan_id']}'s sends are not in the promotion history yet: "
                    "after the campaign, load its sends file (table promotions) and the sales "
                    "since; until then this is the latest campaign")
        except LoyalistError as e:
            note = one_line(e)
    try:
        return read(None), note
    except LoyalistError as e:
        return None, one_line(e)


def forecast(r: Reader) -> dict[str, Any] | None:
    """The stored revenue forecast of the latest as_of, read as the report reads it
    (:func:`loyalist.report.data.forecast`), for the page: the total's recent daily revenue
    (the forecast plot's :data:`~loyalist.forecast.plot.HISTORY_DAYS`) and daily forecast,
    its totals over the next :data:`~loyalist.forecast.forecaster.FORECAST_TOTALS` days
    (:func:`_totals`), the model chosen with its backtest error beside the seasonal
    naive's, the forecast's notes, and ``data_to`` (the sales' last day) to tell a forecast
    made before the latest sales. None when the store holds no forecast."""
    if not _count(r, s.T_FORECAST):
        return None
    def shaped() -> dict[str, Any] | None:
        fc = _forecast(r)
        if fc is not None:  # the chart depends on the store alone: built once per version
            fc["figure"] = charts.forecast(fc)
        return fc
    return r.memo("dashboard:forecast", shaped)


def _forecast(r: Reader) -> dict[str, Any] | None:
    from loyalist.forecast.plot import HISTORY_DAYS
    from loyalist.forecast.series import TOTAL
    from loyalist.report.data import forecast as report_forecast
    from loyalist.store import Store, day_after

    st = Store.over(r.con, r.path)
    got, _ = report_forecast(st, None, "")
    if got is None:
        return None
    fc, table = got["forecast"], got["series"]
    name = TOTAL if (fc["series"] == TOTAL).any() else str(fc["series"].iloc[0])
    days = fc[fc["series"] == name]
    row = table[table["series"] == name].iloc[0].to_dict()
    history = got["history"].iloc[-HISTORY_DAYS:] if name == TOTAL else got["history"].iloc[:0]
    last = st.date_range()[1]
    totals, summed = _totals(r, got["as_of"], name, days)
    return reads.clean({
        "as_of": got["as_of"], "series": name, "horizon_days": len(days),
        "data_to": last, "stale": bool(got["as_of"] < day_after(last)),
        "other_series": len(table) - 1,
        **{k: row.get(k) for k in ("model", "mase", "naive_mase", "mase_vs_naive",
                                   "coverage80")},
        "totals": totals, "totals_summed": summed, "notes": got["notes"],
        "currency": reads.currency(r),
        "history": {"date": [str(d.date()) for d in history.index],
                    "y": [float(y) for y in history]},
        "days": {"date": [str(d.date()) for d in pd.to_datetime(days["date"])],
                 **{k: [float(x) for x in days[k]] for k in ("mean", "lo80", "hi80")}}})


def _totals(r: Reader, as_of: pd.Timestamp, name: str, days: pd.DataFrame
            ) -> tuple[list[dict[str, Any]], bool]:
    """The forecast's totals over its first n days (each of ``FORECAST_TOTALS`` it reaches)
    with their stored 80% intervals (table ``forecast_totals``), and False; in a store
    written before those were stored, the sums of the daily means and bounds, and True."""
    from loyalist.forecast.forecaster import FORECAST_TOTALS

    keys = ("mean", "lo80", "hi80")
    stored = {int(x["days"]): x for x in reads.forecast_totals(r, as_of.to_pydatetime(), name)}
    if stored:
        return [{"days": n, **{k: float(stored[n][k]) for k in keys}}
                for n in FORECAST_TOTALS if n in stored], False
    return [{"days": n, **{k: float(days[k].iloc[:n].sum()) for k in keys}}
            for n in FORECAST_TOTALS if len(days) >= n], True


def _guest_only(r: Reader) -> bool:
    """Every transaction line is a guest line (no customer id): no customer to train on."""
    return bool(r.memo("dashboard:guest_only", lambda: r.con.execute(
        f"SELECT count(*) FILTER (WHERE NOT {s.IS_GUEST}) = 0 FROM {s.T_TRANSACTIONS}"
    ).fetchall()[0][0]))


def _new_customers(r: Reader) -> int:
    """Registered customers (signed up before the scores' as_of, or with no sign-up date)
    without scores at that as_of: the plans' :data:`~loyalist.schema.NEW_SEGMENT`."""
    if s.T_CUSTOMERS not in reads.tables(r):
        return 0
    signed = (f"AND ({s.SIGNUP_AT} IS NULL OR {s.SIGNUP_AT} < a.as_of)"
              if s.SIGNUP_AT in reads.columns(r, s.T_CUSTOMERS) else "")
    sql = f"""
        WITH a AS (SELECT max(as_of) AS as_of FROM {s.T_SCORES})
        SELECT count(DISTINCT c.{s.CUSTOMER_ID}) FROM {s.T_CUSTOMERS} c, a
        WHERE c.{s.CUSTOMER_ID} IS NOT NULL {signed} AND NOT EXISTS (
            SELECT 1 FROM {s.T_SCORES} x
            WHERE x.{s.CUSTOMER_ID} = c.{s.CUSTOMER_ID} AND x.as_of = a.as_of)"""
    return r.memo("dashboard:new_customers",
                  lambda: int(r.con.execute(sql).fetchall()[0][0]))


def customer(r: Reader, customer_id: str, plan: dict[str, Any] | None) -> dict[str, Any]:
    """``GET /customers/{id}``, with the customer's row of the plan on show (the API's lookup
    gives the row of the latest plan). A registered customer without scores (no purchase
    before as_of) is a card that says so (``unscored``), with the plan row if the plan
    targets them; only an id the store does not know is an error."""
    row = None
    if plan is not None and s.T_PLAN_CUSTOMERS in reads.tables(r):
        rows = r.rows(f"SELECT * EXCLUDE (plan_id) FROM {s.T_PLAN_CUSTOMERS} "
                      f"WHERE plan_id = ? AND {s.CUSTOMER_ID} = ? LIMIT 1",
                      [plan["plan_id"], customer_id])
        row = reads.clean(rows[0]) if rows else None
    try:
        doc = reads.customer(r, customer_id)
    except reads.NotFound:
        if row is None and not reads.registered(r, customer_id):
            raise
        doc = {"customer_id": customer_id, "reasons": [], "products": [],
               **{k: None for k in reads.SCORE_FIELDS}}
    doc["unscored"] = doc.get("r_score") is None  # no RFM: no purchase before as_of
    if doc["unscored"]:
        doc["segment"] = (row or {}).get("target_segment") or s.NEW_SEGMENT
    doc.setdefault("as_of", reads.scores_as_of(r))
    doc["plan_row"] = row
    return doc


def quarantine_csv(gate: StoreGate) -> str:
    """Every quarantined row of the store (``GET /app/quality/quarantine.csv``)."""
    with gate.read() as r:
        return reads.quarantine_csv(r)


def plan_csv(gate: StoreGate, plan_id: str, kind: str = "customers") -> str:
    """The plan's execution list (``GET /plans/{id}/customers.csv``), or with ``kind``
    ``sends`` its sends and hold-out as promotion history (``sends.csv``)."""
    with gate.read() as r:
        if kind == "sends":
            return reads.plan_sends_csv(r, plan_id)
        return reads.plan_customers_csv(r, plan_id)
