"""What the report shows, read from the store: one plain dict (numbers and frames) per section,
or the reason a section is absent. Nothing here draws or writes; see :mod:`.plots`,
:mod:`.html` and :mod:`.files`.

Each result section reads the rows of one ``as_of``: the one asked for, else the latest in its
table. Data quality covers the whole store.
"""

from __future__ import annotations

import json
import logging
import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from loyalist import schema as s
from loyalist.evaluation.runs import TRAIN_RUN, stored_run
from loyalist.ingest.unload import UNLOADED
from loyalist.names import REPORT_SECTIONS
from loyalist.store import Store, currency

log = logging.getLogger(__name__)

__all__ = ["EXPORT_NAMES", "MONEY_EXPORTS", "SECTIONS", "Report", "collect"]

#: section key -> heading, in report order
SECTIONS = REPORT_SECTIONS
BASELINE = "seasonal_naive"
#: every export a report can write (the writer removes stale ones left by an earlier report)
EXPORT_NAMES = ("scores", "segments", "segments_grid", "clusters", "campaign_results",
                "plan_customers", "plan_promotions", "forecast", "forecast_backtest",
                "recommendations", "together")
#: the exports holding amounts of money: they carry a ``currency`` column when the store's
#: currency is known (:func:`loyalist.report.files.write_report`)
MONEY_EXPORTS = frozenset({"scores", "segments", "segments_grid", "clusters",
                           "campaign_results", "plan_customers", "plan_promotions", "forecast"})


@dataclass
class Report:
    """The report's content: ``sections`` (key -> data) for what the store holds, ``absent``
    (key -> reason and fix) for what it does not, and ``exports`` (name -> frame)."""

    store: str
    as_of: pd.Timestamp | None
    tables: dict[str, int]
    sections: dict[str, dict[str, Any]] = field(default_factory=dict)
    absent: dict[str, str] = field(default_factory=dict)
    exports: dict[str, pd.DataFrame] = field(default_factory=dict)
    #: ISO 4217 code of the store's amounts (None: unknown)
    currency: str | None = None

    def summary(self) -> dict[str, Any]:
        """The headline numbers of each present section, JSON-ready."""
        return {k: v.get("headline", {}) for k, v in self.sections.items()}


def collect(st: Store, *, as_of: pd.Timestamp | None = None,
            train_metrics: dict[str, Any] | None = None) -> Report:
    """Read every section the store can fill. Raises :class:`~loyalist.errors.StoreError`
    when the store holds no transactions. ``train_metrics`` is the ``metrics.json`` of
    ``loyalist train`` (its out-of-time evaluation goes into the churn and CLV sections); by
    default the store's own (:func:`~loyalist.evaluation.runs.stored_run`) of the scores'
    as_of."""
    st.require(s.T_TRANSACTIONS)
    tables = {t: st.count(t) for t in st.query(
        "SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE' "
        "ORDER BY 1")["table_name"]}
    rep = Report(store=str(st.path), as_of=as_of, tables=tables, currency=currency(st))
    rep.sections["quality"] = quality(st, as_of)
    fix = f"--store {st.path}"
    scores_at, why = _pick_as_of(st, s.T_SCORES, as_of, f"run `loyalist train {fix}`")
    guests = _guest_only(st, rep.sections["quality"]["headline"])
    if scores_at is None:
        for key in ("segments", "churn", "clv"):
            rep.absent[key] = guests or why or ""
    else:
        scores = st.query(f"SELECT * FROM {s.T_SCORES} WHERE as_of = ? ORDER BY {s.CUSTOMER_ID}",
                          [scores_at.to_pydatetime()])
        rep.exports["scores"] = scores
        _customer_sections(st, rep, scores, scores_at,
                           train_metrics or stored_run(st, TRAIN_RUN, scores_at))
    for key, fn, cmd in (
            ("campaign", campaign, f"load the sends, with the customers held out as promotion "
                                   f"'control', with `loyalist ingest sends.csv {fix} --table "
                                   "promotions`"),
            ("plan", plan, f"run `loyalist plan {fix} --budget 5000`"),
            ("forecast", forecast, f"run `loyalist forecast {fix}`"),
            ("recommendations", recommendations, f"run `loyalist recommend {fix}`"),
            ("together", together, f"run `loyalist together {fix}`")):
        got, why = fn(st, as_of, cmd)
        if got is None:
            rep.absent[key] = (guests if key in ("plan", "recommendations") else None) \
                or why or ""
        else:
            rep.exports.update(got.pop("exports", {}))
            rep.sections[key] = got
    rep.sections = {k: rep.sections[k] for k in SECTIONS if k in rep.sections}
    return rep


def _guest_only(st: Store, quality: dict[str, Any]) -> str | None:
    """Why nothing per customer can be made when every transaction line is a guest line (no
    customer id): training, plans and recommendations would refuse the store."""
    if not quality["lines"] or quality["guest_lines"] < quality["lines"]:
        return None
    from loyalist.features import no_purchase_error

    return str(no_purchase_error(st, st.default_as_of()))


def _pick_as_of(st: Store, table: str, as_of: pd.Timestamp | None, fix: str
                ) -> tuple[pd.Timestamp | None, str | None]:
    """The as_of whose rows a section reads, or why there is none."""
    if not st.has_rows(table):
        return None, f"the store has no `{table}` table; {fix}"
    if as_of is None:
        return pd.Timestamp(st.query(f"SELECT max(as_of) AS a FROM {table}")["a"].iloc[0]), None
    n = st.query(f"SELECT count(*) AS n FROM {table} WHERE as_of = ?", [as_of.to_pydatetime()])
    if int(n["n"].iloc[0]) == 0:
        have = st.query(f"SELECT DISTINCT as_of FROM {table} ORDER BY 1 DESC LIMIT 3")["as_of"]
        dates = ", ".join(str(pd.Timestamp(d).date()) for d in have)
        first = st.date_range()[0] if st.has_rows(s.T_TRANSACTIONS) else None
        if first is not None and as_of <= first:  # the command would fail there too
            return None, (f"`{table}` has no rows at as_of {as_of.date()} (latest: {dates}), "
                          f"which is not after the first sale ({first.date()}), so nothing "
                          "can be computed at it; give a later --as-of")
        # the option goes inside the command's backticks: "run `loyalist train ... --as-of D`"
        at = (fix[:-1] + f" --as-of {as_of.date()}`" if fix.endswith("`")
              else f"{fix} --as-of {as_of.date()}")
        return None, f"`{table}` has no rows at as_of {as_of.date()} (latest: {dates}); {at}"
    return as_of, None


# --- data quality -------------------------------------------------------------------------
def quality(st: Store, as_of: pd.Timestamp | None = None) -> dict[str, Any]:
    """Loads, rule counts and shares, and what the transactions table holds (before ``as_of``
    when given, as every other section reads it; the loads and rules are the whole store's,
    and ``after_as_of_lines`` counts the lines left out)."""
    t = s.T_TRANSACTIONS
    if as_of is not None:
        t = (f"(SELECT * FROM {s.T_TRANSACTIONS} WHERE {s.ORDERED_AT} < "
             f"TIMESTAMP '{as_of:%Y-%m-%d %H:%M:%S}')")
    tx = st.query(f"""
        SELECT count(*) AS lines, count(DISTINCT {s.ORDER_ID}) AS orders,
               count(DISTINCT {s.CUSTOMER_ID}) AS customers,
               count(DISTINCT {s.PRODUCT_ID}) AS products,
               count(*) FILTER (WHERE {s.IS_GUEST}) AS guest_lines,
               min({s.ORDERED_AT}) AS first_date, max({s.ORDERED_AT}) AS last_date,
               coalesce(sum({s.AMOUNT}), 0) AS net_revenue,
               coalesce(sum({s.AMOUNT}) FILTER (WHERE {s.AMOUNT} > 0), 0) AS gross_revenue
        FROM {t}""").iloc[0].to_dict()
    if as_of is not None and not tx["lines"]:  # nothing before it: the sections say why
        return quality(st)
    headline = {k: (int(v) if k in ("lines", "orders", "customers", "products", "guest_lines")
                    else float(v) if "revenue" in k else str(pd.Timestamp(v)))
                for k, v in tx.items()}
    if as_of is not None:
        headline["as_of"] = str(as_of.date())
        headline["after_as_of_lines"] = st.count(s.T_TRANSACTIONS) - headline["lines"]
    kinds = st.query(f"""SELECT {s.LINE_KIND} AS line_kind, count(*) AS lines,
                                sum({s.AMOUNT}) AS revenue
                         FROM {t} GROUP BY 1 ORDER BY 2 DESC""")
    monthly = st.query(f"""SELECT date_trunc('month', {s.ORDERED_AT}) AS month,
                                  sum({s.AMOUNT}) AS revenue,
                                  count(DISTINCT {s.ORDER_ID}) AS orders,
                                  count(DISTINCT {s.CUSTOMER_ID}) AS customers
                           FROM {t} GROUP BY 1 ORDER BY 1""")
    monthly["covers"] = _covers(monthly["month"], headline["first_date"],
                                headline["last_date"])
    loads, rules = loads_and_rules(st)
    if len(loads):
        headline |= {k: int(loads[k].sum())
                     for k in ("rows_read", "rows_loaded", "rows_quarantined")}
        headline["loads"] = len(loads)
    return {"headline": headline, "loads": loads, "rules": rules, "line_kinds": kinds,
            "monthly": monthly}


def loads_and_rules(st: Store) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The store's loads (file, table, rows read, loaded and quarantined; empty without a
    load log) and the rows per (table, rule) of :func:`_rules`. The report's data quality
    section and the dashboard's both read them here. A removed load (``loyalist unload``)
    is left out: the store no longer holds its rows, so they count nowhere."""
    if not st.has_rows(s.T_LOADS):
        return pd.DataFrame(), pd.DataFrame(
            columns=["table", "rule", "action", "rows", "share_rows", "reason"])
    loads = st.query(f"""SELECT load_id, tbl AS "table", file, format, loaded_at, status,
                                rows_read, rows_loaded, rows_quarantined, rules
                         FROM {s.T_LOADS} WHERE status <> ? ORDER BY load_id""", [UNLOADED])
    return loads.drop(columns="rules"), _rules(st, loads)


def _covers(months: pd.Series, first: str, last: str) -> pd.Series:
    """Per month: None when the data cover it whole, else the days they cover (``1-9 Dec``):
    the first month of the data (when they start after its 1st) and the last (an export made
    mid-month; exploratory report 6a, G10: a 9-day December drew as a collapse)."""
    first_day, last_day = pd.Timestamp(first).normalize(), pd.Timestamp(last).normalize()
    out = []
    for m in pd.to_datetime(months):
        end = m + pd.offsets.MonthEnd(0)
        lo, hi = max(m, first_day), min(end, last_day)
        out.append(None if (lo, hi) == (m, end) else
                   f"{lo.day}-{hi.day} {hi:%b}" if lo != hi else f"{hi.day} {hi:%b}")
    return pd.Series(out, index=months.index, dtype=object)


def _rules(st: Store, loads: pd.DataFrame) -> pd.DataFrame:
    """Rows per (table, rule): quarantined rows from the ``quarantine`` table, classified and
    flagged rows from each load's rule counts; share = rows / rows read into that table."""
    read = loads.groupby("table")["rows_read"].sum()
    rows: list[dict[str, Any]] = []
    if st.has_rows(s.T_QUARANTINE):
        q = st.query(f"""SELECT tbl AS "table", rule, count(*) AS rows, any_value(reason) AS reason
                         FROM {s.T_QUARANTINE} GROUP BY 1, 2""")
        rows += q.assign(action="quarantine").to_dict(orient="records")
    counts: dict[tuple[str, str], int] = {}
    for tbl, raw in zip(loads["table"], loads["rules"], strict=True):
        for name, n in (json.loads(raw) if isinstance(raw, str) else raw or {}).items():
            rule = s.RULES_BY_NAME.get(name)
            if rule is not None and rule.action != "quarantine" and n:
                counts[(tbl, name)] = counts.get((tbl, name), 0) + int(n)
    for (tbl, name), n in counts.items():
        r = s.RULES_BY_NAME[name]
        rows.append({"table": tbl, "rule": name, "rows": n, "reason": r.reason,
                     "action": r.action})
    out = pd.DataFrame(rows, columns=["table", "rule", "action", "rows", "reason"])
    denom = out["table"].map(read).astype(float)
    out.insert(4, "share_rows", out["rows"] / denom.where(denom > 0))
    return out.sort_values(["table", "rows"], ascending=[True, False], ignore_index=True)


# --- customers: segments, churn, CLV ------------------------------------------------------
def _customer_sections(st: Store, rep: Report, scores: pd.DataFrame, ts: pd.Timestamp,
                       metrics: dict[str, Any] | None) -> None:
    from loyalist.features import customer_features
    from loyalist.segment.profile import segment_profile
    from loyalist.segment.rfm import rule_table

    ev = (metrics or {}).get("evaluation") or {}
    metrics_as_of = (metrics or {}).get("as_of")
    if ev and metrics_as_of and pd.Timestamp(metrics_as_of) != ts:
        ev = dict(ev, note=f"the model metrics are for as_of {pd.Timestamp(metrics_as_of).date()}"
                           f", the scores for {ts.date()}")
    if "rfm_segment" in scores:
        feats = customer_features(st, ts)
        joined = scores.merge(feats, on=s.CUSTOMER_ID, how="left", suffixes=("", "_f"))
        prof = segment_profile(joined, by="rfm_segment")
        rep.exports["segments"] = prof
        scheme = ((metrics or {}).get("segments") or {}).get("rfm_scheme") or _scheme(scores)
        seg: dict[str, Any] = {"as_of": ts, "profile": prof, "scheme": scheme,
                               "rules": rule_table(scheme), "headline": {
            "as_of": str(ts.date()), "customers": len(scores), "segments": len(prof)}}
        if "grid_segment" in scores and scores["grid_segment"].notna().any():
            grid = segment_profile(joined.dropna(subset=["grid_segment"]), by="grid_segment",
                                   order=list(rule_table("grid10")["segment"]))
            rep.exports["segments_grid"] = grid
            seg["grid"], seg["grid_rules"] = grid, rule_table("grid10")
        if "cluster_name" in scores and scores["cluster_name"].notna().any():
            clusters = segment_profile(joined.assign(
                cluster_name=joined["cluster_name"].fillna("(none)")), by="cluster_name")
            rep.exports["clusters"] = clusters
            seg["clusters"] = clusters
            seg["headline"]["clusters"] = len(clusters)
        rep.sections["segments"] = seg
    else:
        rep.absent["segments"] = "the scores have no `rfm_segment` column"
    # segments only (churn and CLV could not be trained): their columns are empty
    untrained = (metrics or {}).get("training", {}).get("skipped")

    def why(col: str) -> str:
        return (f"churn and lifetime value were not trained: {untrained}" if untrained else
                f"the scores' `{col}` column is empty: churn and lifetime value were not "
                f"trained at {ts.date()} (see `loyalist train`)")

    season = unseasoned(st, (metrics or {}).get("training") or {}) \
        if metrics_as_of is None or pd.Timestamp(metrics_as_of) == ts else {}
    if "churn_probability" not in scores:
        rep.absent["churn"] = "the scores have no `churn_probability` column"
    elif scores["churn_probability"].isna().all():
        rep.absent["churn"] = why("churn_probability")
    else:
        scoring = (metrics or {}).get("churn") if metrics_as_of is None or pd.Timestamp(
            metrics_as_of) == ts else None  # which model scored: only for the scores it wrote
        rep.sections["churn"] = churn(scores, ts, ev.get("churn"), ev.get("note"), scoring)
        rep.sections["churn"]["season"] = season.get("churn")
    if "clv_expected" not in scores:
        rep.absent["clv"] = "the scores have no `clv_expected` column"
    elif scores["clv_expected"].isna().all():
        rep.absent["clv"] = why("clv_expected")
    else:
        rep.sections["clv"] = clv(scores, ts, ev.get("clv"), ev.get("note"),
                                  (metrics or {}).get("horizon_days"))
        rep.sections["clv"]["season"] = season.get("clv")


#: orders per day in the latest training window within this factor of the history's: "about
#: the history's average"
USUAL_LEVEL = 1.15


#: per model: who is set at the window's level, and what a quieter (busier) season means for it
_SEASON_SUBJECT = {
    "churn": ("Churn risk is", "more customers will leave", "fewer customers will leave"),
    "clv": ("Expected spend is", "customers will spend less", "customers will spend more")}


def unseasoned(st: Store, training: dict[str, Any]) -> dict[str, str]:
    """Per model ("churn", "clv"), one plain sentence when it could not be corrected for the
    season (no training cutoff a year before the scored window: under about 14 months of
    history, its ``{model}_season`` entry of the training metrics has a note and no cutoff): it
    is set at the level of the latest training window, which this names and compares with the
    history before it (orders per day), so an owner reads "risk too low, value too high" after
    a busy season. A model that was corrected, or metrics that do not say (written by an older
    version), have no entry."""
    seasons = {m: training.get(f"{m}_season") or {} for m in _SEASON_SUBJECT}
    notes = {m: e["note"] for m, e in seasons.items() if e.get("note") and not e.get("cutoff")}
    latest, h = training.get("holdout_cutoff"), training.get("horizon_days")
    if not notes or not latest or not h:
        return {}
    start = pd.Timestamp(latest)
    end = start + pd.Timedelta(days=int(h))
    ratio = _window_busyness(st, start, end)
    window = f"the latest training window, {start.date()} to {(end - pd.Timedelta(days=1)).date()}"
    out = {}
    for m, note in notes.items():
        subject, quieter, busier = _SEASON_SUBJECT[m]
        said = f"{subject} set at the level of {window}"
        why = f" It is not corrected for the season: {note}."
        if ratio is None:
            out[m] = said + "." + why
        elif 1 / USUAL_LEVEL <= ratio <= USUAL_LEVEL:
            out[m] = said + (f", whose orders per day were about the history's average "
                             f"({ratio:.2f}x the days before it).") + why
        else:
            busy = ratio > 1
            effect = quieter if busy else busier
            out[m] = said + (f", which had {ratio:.1f}x the orders per day of the history "
                             f"before it: in a {'quieter' if busy else 'busier'} season "
                             f"{effect} than shown.") + why
    return out


def _window_busyness(st: Store, start: pd.Timestamp, end: pd.Timestamp) -> float | None:
    """Orders per day in ``[start, end)`` over orders per day before ``start`` (None when there
    is no history before the window)."""
    row = st.query(
        f"SELECT count(DISTINCT {s.ORDER_ID}) FILTER (WHERE {s.ORDERED_AT} >= $1) AS win, "
        f"count(DISTINCT {s.ORDER_ID}) FILTER (WHERE {s.ORDERED_AT} < $1) AS before, "
        f"min({s.ORDERED_AT}) AS first FROM {s.T_TRANSACTIONS} "
        f"WHERE {s.QUANTITY} > 0 AND {s.ORDERED_AT} < $2", [start, end]).iloc[0]
    days_before = (start - pd.Timestamp(row["first"])).days if pd.notna(row["first"]) else 0
    if days_before <= 0 or not row["before"]:
        return None
    return (row["win"] / (end - start).days) / (row["before"] / days_before)


def _scheme(scores: pd.DataFrame) -> str:
    """The RFM scheme of the scores' ``rfm_segment`` (when no model metrics say): the grid
    when a name only the grid gives is there, else the 11 named segments."""
    from loyalist.segment.rfm import GRID10, NAMED11

    only_grid = {r.name for r in GRID10} - {r.name for r in NAMED11}
    return "grid10" if only_grid & set(scores["rfm_segment"].dropna()) else "named11"


def churn(scores: pd.DataFrame, ts: pd.Timestamp, evaluation: dict[str, Any] | None = None,
          note: str | None = None, scoring: dict[str, Any] | None = None) -> dict[str, Any]:
    """Tier counts and probability ranges, the commonest reasons among high-risk customers
    (numbers masked so that like reasons count together) and, with the model metrics, the
    out-of-time evaluation and which model scored (``scoring``: ``metrics["churn"]`` of
    ``loyalist train``, whose ``scored_by`` is "model" or the baseline the model lost to)."""
    p = scores["churn_probability"]
    g = scores.groupby("churn_tier")["churn_probability"]
    tiers = pd.DataFrame({"customers": g.size(), "mean_probability": g.mean(),
                          "min_probability": g.min(), "max_probability": g.max()})
    tiers = tiers.reindex([t for t in s.CHURN_TIERS if t in tiers.index]
                          + [t for t in tiers.index if t not in s.CHURN_TIERS])
    tiers.insert(1, "share", tiers["customers"] / len(scores))
    tiers = tiers.rename_axis("tier").reset_index()
    high = scores.loc[scores["churn_tier"] == "high", "reasons"] if "reasons" in scores \
        else pd.Series(dtype=object)
    kinds = (high.dropna().str.split("; ").explode().dropna()
             .map(lambda r: re.sub(r"\d[\d,.]*", "N", r)))
    reasons = kinds.value_counts().head(8).rename_axis("reason").reset_index(name="customers")
    out: dict[str, Any] = {
        "as_of": ts, "tiers": tiers, "reasons": reasons,
        "probability": p.to_numpy(dtype=float), "tier": scores["churn_tier"].to_numpy(),
        "headline": {"as_of": str(ts.date()), "customers": len(scores),
                     "mean_probability": float(p.mean()),
                     **{f"tier_{t}": int(n) for t, n in zip(tiers["tier"], tiers["customers"],
                                                             strict=True)}}}
    if scoring:
        out["scoring"] = scoring
        out["headline"]["scored_by"] = scoring.get("scored_by", "model")
    if evaluation:
        out["evaluation"] = evaluation
        out["evaluation_note"] = note
        m = evaluation.get("models", {}).get("model", {})
        out["headline"] |= {f"oot_{k}": m[k] for k in ("roc_auc", "brier") if m.get(k) is not None}
    return out


def clv(scores: pd.DataFrame, ts: pd.Timestamp, evaluation: dict[str, Any] | None = None,
        note: str | None = None, horizon: int | None = None) -> dict[str, Any]:
    """Expected value over the horizon (``horizon`` days, when the model's metrics say):
    totals, the median width of the customers' p10-p90 intervals, and deciles (highest
    first) with their share of the total."""
    v = scores["clv_expected"].astype(float)
    order = np.argsort(-v.to_numpy(), kind="stable")
    decile = np.empty(len(v), dtype=int)
    decile[order] = np.arange(len(v)) * 10 // max(len(v), 1) + 1
    cols = {c: "mean" for c in ("clv_expected", "clv_p10", "clv_p50", "clv_p90", "clv_bgnbd",
                                "churn_probability") if c in scores}
    g = scores.assign(decile=decile).groupby("decile")
    dec = g.agg(cols).add_suffix("_mean")
    dec.insert(0, "customers", g.size())
    total = float(v.sum())
    dec.insert(1, "share_of_total", g["clv_expected"].sum() / total if total else np.nan)
    dec = dec.reset_index()
    head = {"as_of": str(ts.date()), "horizon_days": horizon, "customers": len(scores),
            "total": total,
            "mean": float(v.mean()), "median": float(v.median()),
            "top_decile_share": float(dec["share_of_total"].iloc[0]) if len(dec) else None}
    # no sums of the quantiles: a sum of per-customer p90s is no quantile of the total
    if {"clv_p10", "clv_p90"} <= set(scores):
        head["median_interval_width"] = float((scores["clv_p90"] - scores["clv_p10"]).median())
    out: dict[str, Any] = {"as_of": ts, "deciles": dec, "values": v.to_numpy(), "headline": head}
    if evaluation:
        out["evaluation"] = evaluation
        out["evaluation_note"] = note
    return out


# --- results: plan, forecast, recommendations ---------------------------------------------
def campaign(st: Store, as_of: pd.Timestamp | None, fix: str
             ) -> tuple[dict[str, Any] | None, str | None]:
    """The latest campaign (sent before ``as_of`` when given, read with the sales before it)
    against its hold-out (:func:`loyalist.response.results.campaign_results`); absent, with
    why, when the store has no promotion history or nothing to measure."""
    from loyalist.errors import DataError
    from loyalist.evaluation.campaign import campaign_table
    from loyalist.response.results import campaign_results

    if not st.has_rows(s.T_PROMOTIONS):
        return None, f"no promotion history: {fix}"
    first = st.date_range()[0]
    if as_of is not None and as_of <= first:  # as the other sections say it
        return None, (f"no campaign can be read at as_of {as_of.date()}, which is not after "
                      f"the first sale ({first.date()}), so nothing can be computed at it; "
                      "give a later --as-of")
    try:
        res = campaign_results(st, as_of=as_of)
    except DataError as e:
        return None, str(e)
    tot = res["total"]
    head = {"days": res["days"], "window_days": res["window_days"], "sent": tot["sent"],
            "held_out": tot["held_out"],
            **{f"incremental_revenue{k}": (tot.get("revenue") or {}).get(f"total{k}")
               for k in ("", "_lo95", "_hi95")}}
    table = campaign_table(res)
    return {"result": res, "table": table, "headline": head,
            "exports": {"campaign_results": table}}, None


def plan(st: Store, as_of: pd.Timestamp | None, fix: str
         ) -> tuple[dict[str, Any] | None, str | None]:
    """The latest plan (of ``as_of`` when given): its summary, ranked promotions, allocation
    over promotions and the budget-sensitivity curve."""
    from loyalist.promote.explain import empty_promotions

    ts, why = _pick_as_of(st, s.T_PLANS, as_of, fix)
    if ts is None:
        return None, why
    plans = st.query(f"""SELECT plan_id, as_of, goal, budget, summary FROM {s.T_PLANS}
                         WHERE as_of = ? ORDER BY rowid DESC""", [ts.to_pydatetime()])
    row = plans.iloc[0]
    summ = json.loads(row["summary"])
    promos = _flat(pd.DataFrame(summ.get("promotions") or [])) if summ.get("promotions") \
        else empty_promotions()  # the summary's JSON list has no header of its own
    cust = pd.DataFrame()
    if st.has_table(s.T_PLAN_CUSTOMERS):
        cust = st.query(f"SELECT * FROM {s.T_PLAN_CUSTOMERS} WHERE plan_id = ? "
                        "ORDER BY priority, customer_id", [row["plan_id"]])
    alloc = pd.DataFrame()
    if len(cust):
        g = cust.groupby(s.PROMOTION)
        alloc = pd.DataFrame({"customers": g.size(), "cost": g["expected_cost"].sum(),
                              "incremental_value": g["expected_incremental_value"].sum()})
        alloc = alloc.sort_values("cost", ascending=False).rename_axis("promotion").reset_index()
    head = {k: summ.get(k) for k in (
        "plan_id", "as_of", "goal", "budget", "period_days", "spend", "spend_lo80", "spend_hi80",
        "customers_targeted",
        "customers_considered", "incremental_revenue", "incremental_revenue_lo80",
        "incremental_revenue_hi80", "net_profit", "roi", "confidence", "goal_value",
        "goal_unit", "cost_per_goal_unit")}
    head["plan_id"] = str(row["plan_id"])
    head["plan_customers"] = len(cust)
    return {"as_of": ts, "summary": summ, "promotions": promos, "allocation": alloc,
            "sensitivity": pd.DataFrame(summ.get("sensitivity") or []),
            "plans_at_as_of": len(plans), "headline": head,
            "exports": {"plan_customers": cust, "plan_promotions": promos}}, None


def _flat(frame: pd.DataFrame) -> pd.DataFrame:
    """Nested cells (lists, dicts) as JSON text, so the frame exports to CSV and Parquet."""
    for c in frame.columns:
        if frame[c].map(lambda x: isinstance(x, list | dict)).any():
            frame[c] = frame[c].map(lambda x: json.dumps(x) if isinstance(x, list | dict) else x)
    return frame


def forecast(st: Store, as_of: pd.Timestamp | None, fix: str
             ) -> tuple[dict[str, Any] | None, str | None]:
    """The forecast of ``as_of`` (default latest), recent history of the total, and per series
    the chosen model's backtest next to the seasonal naive's."""
    from loyalist.forecast.series import TOTAL, read_daily_revenue

    ts, why = _pick_as_of(st, s.T_FORECAST, as_of, fix)
    if ts is None:
        return None, why
    at = [ts.to_pydatetime()]
    fc = st.query(f"SELECT * FROM {s.T_FORECAST} WHERE as_of = ? ORDER BY series, date", at)
    bt = st.query(f"SELECT * FROM {s.T_FORECAST_BACKTEST} WHERE as_of = ? "
                  "ORDER BY series, model, origin",
                  at) if st.has_table(s.T_FORECAST_BACKTEST) else pd.DataFrame()
    daily, _ = read_daily_revenue(st, as_of=ts)
    history = daily[daily["series"] == TOTAL].set_index("date")["y"]
    chosen = fc.groupby("series", sort=False)["model"].first()
    rows = []
    means = (bt.groupby(["series", "model"])[["mase", "mape", "coverage80", "coverage95"]]
             .mean() if len(bt) else pd.DataFrame())
    for name, model in chosen.items():
        f = fc[fc["series"] == name]
        r: dict[str, Any] = {"series": name, "model": model, "days": len(f),
                             "forecast_total": float(f["mean"].sum())}
        m = means.loc[(name, model)] if (name, model) in means.index else None
        b = means.loc[(name, BASELINE)] if (name, BASELINE) in means.index else None
        if m is not None:
            r |= {"mase": m["mase"], "mape": m["mape"], "coverage80": m["coverage80"],
                  "coverage95": m["coverage95"]}
        if b is not None:
            r["naive_mase"] = b["mase"]
        ratio = mase_vs_naive(bt, name, model) if len(bt) else None
        if ratio is not None:
            r["mase_vs_naive"] = ratio
        rows.append(r)
    table = pd.DataFrame(rows)
    total = table[table["series"] == TOTAL]
    head: dict[str, Any] = {"as_of": str(ts.date()), "series": len(table),
                            "horizon_days": int(fc.groupby("series").size().max())}
    parts: list[dict[str, Any]] = []
    if len(total):
        t = total.iloc[0]
        head |= {"model": t["model"], "forecast_total": float(t["forecast_total"])}
        if "mase_vs_naive" in t and pd.notna(t["mase_vs_naive"]):
            head["mase_vs_seasonal_naive"] = float(t["mase_vs_naive"])
        parts = _parts_vs_total(table, float(t["forecast_total"]))
    return {"as_of": ts, "forecast": fc, "history": history, "series": table, "parts": parts,
            "notes": _series_notes(fc),
            "origins": sorted({str(pd.Timestamp(o).date()) for o in bt.get("origin", [])}),
            "headline": head, "exports": {"forecast": fc, "forecast_backtest": bt}}, None


def _series_notes(fc: pd.DataFrame) -> list[str]:
    """Each distinct forecast ``note`` (e.g. no yearly pattern) once, led by the series that
    have it: ``total: ...``, ``category=tea and 3 more series: ...``. None in a forecast
    written before notes were stored."""
    from loyalist.forecast.series import TOTAL

    if "note" not in fc:
        return []
    firsts = fc.groupby("series", sort=False)["note"].first()
    firsts = firsts.sort_index(key=lambda names: names != TOTAL, kind="stable")  # total first
    firsts = firsts[firsts.fillna("").str.len() > 0]
    out = []
    for note, names in firsts.index.to_series().groupby(firsts.to_numpy(), sort=False):
        more = f" and {len(names) - 1} more series" if len(names) > 1 else ""
        out.append(f"{names.iloc[0]}{more}: {note}")
    return out


def _parts_vs_total(table: pd.DataFrame, total: float) -> list[dict[str, Any]]:
    """Per breakdown (``category`` of the series ``category=shoes``, ...): how many series, the
    sum of their forward forecasts and its difference from the total's. Each series has its
    own model, so the parts are not reconciled with the total (nor can they be exactly when
    some revenue has no category)."""
    named = table[table["series"].str.contains("=", regex=False)]
    out = []
    for by, g in named.groupby(named["series"].str.split("=", n=1).str[0], sort=True):
        sum_ = float(g["forecast_total"].sum())
        out.append({"by": str(by), "series": len(g), "sum": sum_,
                    "vs_total": sum_ / total - 1 if total else None})
    return out


def mase_vs_naive(backtest: pd.DataFrame, series: str, model: str) -> float | None:
    """``model``'s mean backtest MASE over the seasonal naive's for ``series``, unrounded (the
    means are exact sums, so row order does not matter); None without a usable baseline.
    The report and ``loyalist forecast`` both show this ratio."""
    def mean(name: str) -> float | None:
        x = backtest.loc[(backtest["series"] == series) & (backtest["model"] == name), "mase"]
        x = x.dropna().astype(float)
        return math.fsum(x) / len(x) if len(x) else None

    m, b = mean(model), mean(BASELINE)
    if m is None or not b or not math.isfinite(b):
        return None
    return m / b


def no_products(st: Store, as_of: pd.Timestamp | None, why: str | None) -> str | None:
    """Why a product section is missing: a store whose purchases hold one product can have
    no recommendations or basket rules (``loyalist run`` skipped them), and the table's
    absence (``why``, which suggests the command) would send the reader to a refusal."""
    if why is None or not st.has_rows(s.T_TRANSACTIONS):
        return why
    from loyalist.pipeline.products import one_product

    ts = as_of if as_of is not None else st.default_as_of()
    products = st.query(f"""SELECT DISTINCT {s.PRODUCT_ID} AS p FROM {s.T_TRANSACTIONS}
                            WHERE {s.ORDERED_AT} < ? AND {s.LINE_KIND} = 'sale'
                              AND {s.PRODUCT_ID} IS NOT NULL LIMIT 2""",
                        [ts.to_pydatetime()])["p"].tolist()
    return one_product(st.path, products, ts) or why


def recommendations(st: Store, as_of: pd.Timestamp | None, fix: str
                    ) -> tuple[dict[str, Any] | None, str | None]:
    """Coverage of customers and catalogue, and the most recommended products, for one method
    (hybrid when present) at ``as_of`` (default latest)."""
    ts, why = _pick_as_of(st, s.T_RECOMMENDATIONS, as_of, fix)
    if ts is None:
        return None, no_products(st, as_of, why)
    at = [ts.to_pydatetime()]
    methods = st.query(f"""SELECT method, count(*) AS n FROM {s.T_RECOMMENDATIONS}
                           WHERE as_of = ? GROUP BY 1 ORDER BY 2 DESC, 1""", at)
    method = "hybrid" if "hybrid" in set(methods["method"]) else str(methods["method"].iloc[0])
    recs = st.query(f"""SELECT * FROM {s.T_RECOMMENDATIONS} WHERE as_of = ? AND method = ?
                        ORDER BY {s.CUSTOMER_ID}, rank""", [*at, method])
    base = st.query(f"""SELECT count(DISTINCT {s.CUSTOMER_ID}) FILTER (WHERE NOT {s.IS_GUEST})
                               AS customers, count(DISTINCT {s.PRODUCT_ID}) AS products
                        FROM {s.T_TRANSACTIONS}
                        WHERE {s.ORDERED_AT} < ? AND {s.LINE_KIND} = 'sale'""", at).iloc[0]
    customers = recs[s.CUSTOMER_ID].nunique()
    # coverage is of the customers who bought: a registered customer without a purchase
    # given recommendations (`recommend --customer`) is not one of them
    buyers = int(st.query(f"""SELECT count(DISTINCT r.{s.CUSTOMER_ID}) AS n
                              FROM {s.T_RECOMMENDATIONS} r
                              WHERE r.as_of = ? AND r.method = ? AND EXISTS (
                                  SELECT 1 FROM {s.T_TRANSACTIONS} t
                                  WHERE t.{s.CUSTOMER_ID} = r.{s.CUSTOMER_ID}
                                    AND t.{s.ORDERED_AT} < ? AND t.{s.LINE_KIND} = 'sale')""",
                          [*at, method, *at])["n"].iloc[0])
    products = recs[s.PRODUCT_ID].nunique()
    g = recs.groupby(s.PRODUCT_ID)
    top = pd.DataFrame({"customers": g[s.CUSTOMER_ID].nunique(), "mean_rank": g["rank"].mean()})
    described = s.DESCRIPTION in recs  # stored since 2026-11: the products table's, else the
    if described:                      # sale lines' (a store without a products table)
        top[s.DESCRIPTION] = g[s.DESCRIPTION].first()
    top = top.sort_values(["customers", "mean_rank"], ascending=[False, True]).head(10)
    top = top.reset_index()
    if st.has_rows(s.T_PRODUCTS) and len(top):
        ids = list(top[s.PRODUCT_ID])
        want = [s.PRODUCT_ID, s.CATEGORY] + ([] if described else [s.DESCRIPTION])
        info = st.query(f"""SELECT {', '.join(want)}
                            FROM {s.T_PRODUCTS} WHERE {s.PRODUCT_ID} IN
                            ({', '.join('?' * len(ids))})""", ids)
        top = top.merge(info, on=s.PRODUCT_ID, how="left")
    head = {"as_of": str(ts.date()), "method": method, "customers": int(customers),
            "rows": len(recs),
            "per_customer": float(len(recs) / customers) if customers else 0.0,
            "customer_coverage": float(buyers / base["customers"]) if base["customers"]
            else None,
            "products_recommended": int(products),
            "catalogue_coverage": float(products / base["products"]) if base["products"]
            else None}
    reasons = pd.DataFrame(columns=["reason", "rows", "share"])
    if "reason" in recs and recs["reason"].notna().any():  # stored since 2026-11
        counts = recs["reason"].value_counts()
        reasons = pd.DataFrame({"reason": counts.index, "rows": counts.to_numpy(),
                                "share": counts.to_numpy() / counts.sum()})
    return {"as_of": ts, "methods": methods, "top": top, "headline": head, "reasons": reasons,
            "exports": {"recommendations": recs}}, None


#: pairs shown in the report's "bought together" table
TOGETHER_ROWS = 15


def together(st: Store, as_of: pd.Timestamp | None, fix: str
             ) -> tuple[dict[str, Any] | None, str | None]:
    """The pairs bought together most often (each product's best companion, one row per
    pair, the direction with the higher confidence), from ``basket_rules`` at ``as_of``."""
    ts, why = _pick_as_of(st, s.T_BASKET_RULES, as_of, fix)
    if ts is None:
        return None, no_products(st, as_of, why)
    rules = st.query(f"SELECT * FROM {s.T_BASKET_RULES} WHERE as_of = ? "
                     f"ORDER BY product_orders DESC, {s.PRODUCT_ID}, rank", [ts.to_pydatetime()])
    a, b = rules[s.PRODUCT_ID].astype(str), rules["consequent"].astype(str)
    top = (rules.assign(_lo=a.where(a <= b, b), _hi=b.where(a <= b, a))  # the unordered pair
           .sort_values(["count", "confidence", s.PRODUCT_ID], ascending=[False, False, True])
           .drop_duplicates(["_lo", "_hi"]).head(TOGETHER_ROWS)
           .drop(columns=["_lo", "_hi", "as_of"]))
    head = {"as_of": str(ts.date()), "orders": int(rules["orders"].iloc[0]),
            "products": int(rules[s.PRODUCT_ID].nunique()), "rules": len(rules),
            "top_pair_orders": int(top["count"].iloc[0]) if len(top) else 0}
    return {"as_of": ts, "top": top, "headline": head,
            "exports": {"together": rules.drop(columns=["as_of"])}}, None
