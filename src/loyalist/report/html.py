"""The report as one self-contained HTML page: inline CSS, pictures as base64 PNG data URIs,
no script and no external resource, so it works opened from disk with no network."""

from __future__ import annotations

import base64
import functools
import html
import math
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from loyalist import __version__
from loyalist.evaluation.clv_check import BASELINE_MARGIN
from loyalist.money import label, whole
from loyalist.report.data import SECTIONS, Report
from loyalist.schema import CHURN_TIERS
from loyalist.segment.rfm import grid_label

__all__ = ["render_html"]

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
 margin:0 auto;max-width:1100px;padding:1.5rem;color:#1a202c;line-height:1.45}
h1{margin-bottom:.2rem}h2{border-bottom:2px solid #2b6cb0;padding-bottom:.2rem;margin-top:2.4rem}
h3{margin-top:1.4rem}.meta{color:#4a5568;font-size:.9rem}
table{border-collapse:collapse;margin:.6rem 0;font-size:.85rem}
th,td{border:1px solid #e2e8f0;padding:.25rem .5rem;text-align:right;vertical-align:top}
th{background:#edf2f7}td.t,th.t{text-align:left}
dl.facts{display:flex;flex-wrap:wrap;gap:.6rem;margin:.6rem 0}
dl.facts div{background:#f7fafc;border:1px solid #e2e8f0;border-radius:6px;padding:.4rem .7rem}
dl.facts dt{font-size:.75rem;color:#4a5568}dl.facts dd{margin:0;font-weight:600}
img{max-width:100%;height:auto;display:block;margin:.6rem 0}
.note{color:#744210;background:#fefcbf;padding:.4rem .7rem;border-radius:4px}
nav a{margin-right:.8rem}
"""

Fmt = Callable[[Any], str]


def _na(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA


#: the currency of the page being rendered (:func:`render_html` sets it): after each amount
#: shown alone, in the heading of each table column of amounts
_CODE: ContextVar[str | None] = ContextVar("currency", default=None)


def money(v: Any) -> str:
    """An amount in whole units, with the page's currency ("3,490,112 GBP")."""
    return "n/a" if _na(v) else whole(float(v), _CODE.get())


def _cell_money(v: Any) -> str:
    """An amount in a table, whose heading names the currency."""
    return "n/a" if _na(v) else f"{float(v):,.0f}"


def count(v: Any) -> str:
    return "n/a" if _na(v) else f"{int(v):,}"


def pct(v: Any) -> str:
    return "n/a" if _na(v) else f"{100 * float(v):.1f}%"


def ratio_pct(v: Any) -> str:
    """A ratio such as ROI as a whole percent, as the CLI and the dashboard show it."""
    from loyalist.promote.catalog import roi_text

    return "n/a" if _na(v) else roi_text(float(v))


def gap(v: Any) -> str:
    """The optimizer's optimality gap as the CLI and the dashboard show it."""
    from loyalist.promote.catalog import gap_text

    return "n/a" if _na(v) else gap_text(float(v))


def vs_baseline(ratio: float) -> str:
    """``ratio`` (a model's error over the baseline's) as the change in error: 0.74 is
    "-26.0%". ``loyalist forecast`` prints the same text from the same unrounded ratio."""
    return f"{100 * (ratio - 1):+.1f}%"


def digits(values: Iterable[Any]) -> int:
    """Decimals for a set of numbers shown together (a table column): 0 from 1,000 up, 1 from
    10, else 3; 0 when every value is a whole number (or there is none)."""
    xs = [abs(float(v)) for v in values
          if not _na(v) and not isinstance(v, bool | str) and math.isfinite(float(v))]
    if not xs or all(x == int(x) for x in xs):
        return 0
    top = max(xs)
    return 0 if top >= 1000 else 1 if top >= 10 else 3


def num(v: Any, places: int | None = None) -> str:
    """A number with ``places`` decimals (default: :func:`digits` of the number alone)."""
    if _na(v):
        return "n/a"
    if isinstance(v, bool | str):
        return str(v)
    f = float(v)
    return f"{f:,.{digits([f]) if places is None else places}f}"


def day(v: Any) -> str:
    return "n/a" if _na(v) else str(pd.Timestamp(v).date())


def when(v: Any) -> str:
    return "n/a" if _na(v) else f"{pd.Timestamp(v):%Y-%m-%d %H:%M}"


def text(v: Any) -> str:
    return "" if _na(v) else str(v)


def _e(v: Any) -> str:
    return html.escape(str(v))


def table(frame: pd.DataFrame, cols: Iterable[tuple[str, str, Fmt]], *, limit: int = 60) -> str:
    """``cols``: (column, heading, formatter); missing columns are left out. A :func:`num`
    column shows every row with the same decimals (:func:`digits` of the rows shown)."""
    cols = [c for c in cols if c[0] in frame.columns]
    shown = frame.head(limit)
    cols = [(c, label(h, _CODE.get()), _cell_money) if f is money else
            (c, h, functools.partial(num, places=digits(shown[c])) if f is num else f)
            for c, h, f in cols]
    left = {text, day, when}
    th = "".join(f'<th class="{"t" if f in left else ""}">{_e(h)}</th>' for _, h, f in cols)
    rows = []
    for _, r in shown.iterrows():
        rows.append("<tr>" + "".join(
            f'<td class="{"t" if f in left else ""}">{_e(f(r[c]))}</td>' for c, _, f in cols)
            + "</tr>")
    more = (f'<p class="meta">first {limit} of {len(frame):,} rows; all of them are in the '
            "exports</p>") if len(frame) > limit else ""
    return f"<table><thead><tr>{th}</tr></thead><tbody>{''.join(rows)}</tbody></table>{more}"


def facts(items: Iterable[tuple[str, str]]) -> str:
    return '<dl class="facts">' + "".join(
        f"<div><dt>{_e(k)}</dt><dd>{_e(v)}</dd></div>" for k, v in items) + "</dl>"


def img(images: dict[str, bytes], name: str, alt: str) -> str:
    if name not in images:
        return ""
    data = base64.b64encode(images[name]).decode("ascii")
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{data}">'


def note(msg: str | None) -> str:
    return f'<p class="note">{_e(msg)}</p>' if msg else ""


# --- sections -----------------------------------------------------------------------------
def _quality(d: dict[str, Any], images: dict[str, bytes]) -> str:
    h = d["headline"]
    out = [facts([  # what the store keeps; rows read are counted by the loads below
        ("transaction lines stored", count(h["lines"])),
        ("orders stored", count(h["orders"])), ("customers stored", count(h["customers"])),
        ("products stored", count(h["products"])),
        ("guest lines stored", count(h["guest_lines"])),
        ("date range", f"{day(h['first_date'])} to {day(h['last_date'])}"),
        ("net revenue", money(h["net_revenue"])), ("gross revenue", money(h["gross_revenue"])),
        *[(k.replace("_", " "), count(h[k])) for k in
          ("loads", "rows_read", "rows_loaded", "rows_quarantined") if k in h]])]
    if h.get("as_of"):
        out.append(note(f"Sales before as_of {h['as_of']}, as every section reads them; the "
                        f"store holds {h['after_as_of_lines']:,} more line(s) after it. The "
                        "loads and rules below are the whole store's."))
    out.append(img(images, "monthly", "net revenue and customers per month"))
    part = d["monthly"].dropna(subset=["covers"]) if "covers" in d["monthly"] else []
    if len(part):
        out.append(note("Part of a month only (hatched bars): " + ", ".join(
            f"{pd.Timestamp(m):%B %Y} holds {c}" for m, c in
            zip(part["month"], part["covers"], strict=True))
            + "; compare these bars with whole months with care."))
    if len(d["loads"]):
        loads = d["loads"].assign(file=d["loads"]["file"].map(lambda f: Path(str(f)).name))
        out += ["<h3>Loads</h3>", table(loads, [
            ("load_id", "load", count), ("table", "table", text), ("file", "file", text),
            ("format", "format", text), ("loaded_at", "loaded", when),
            ("status", "status", text), ("rows_read", "rows read", count),
            ("rows_loaded", "loaded", count), ("rows_quarantined", "quarantined", count)])]
    out.append("<h3>Rules</h3>")
    if len(d["rules"]):
        out.append(table(d["rules"], [
            ("table", "table", text), ("rule", "rule", text), ("action", "action", text),
            ("rows", "rows", count), ("share_rows", "% of rows read", pct),
            ("reason", "reason", text)]))
    else:
        out.append("<p>No row was quarantined, classified or flagged.</p>")
    out += ["<h3>Transaction lines by kind</h3>", table(d["line_kinds"], [
        ("line_kind", "kind", text), ("lines", "lines", count), ("revenue", "revenue", money)])]
    return "".join(out)


PROFILE_COLS: list[tuple[str, str, Fmt]] = [
    ("customers", "customers", count), ("customer_share", "% customers", pct),
    ("revenue", "revenue (gross)", money), ("revenue_share", "% revenue", pct),
    ("mean_order_value", "mean order", money),
    ("recency_days_median", "median recency (days)", num), ("orders_mean", "mean orders", num),
    ("churn_probability_mean", "mean churn", pct), ("clv_expected_mean", "mean CLV", money),
    ("p_alive_mean", "mean P(alive)", pct)]


def profile_cols(first: str) -> list[tuple[str, str, Fmt]]:
    return [("segment", first, text), *PROFILE_COLS]


#: what the segment tables' revenue and P(alive) are, said below each of them
PROFILE_NOTE = ("Revenue is what the customers bought, before returns and without guest "
                "orders (the data quality section's net revenue is after returns and with "
                "guests). P(alive) is BG/NBD's chance that a customer still buys: a customer "
                "with one purchase has 100% by the model's definition (nothing yet says they "
                "left), so segments of one-time buyers show it high; churn risk is the "
                "measure of leaving.")

RULE_COLS: list[tuple[str, str, Fmt]] = [
    ("order", "order", count), ("segment", "segment", text), ("rule", "rule", text),
    ("who", "who", text)]
RULES_NOTE = ("R, F and M are 1-5 quintile scores of recency, orders and spend (5 = the most "
              "recent, most orders, most spend); each customer gets the first rule, in this "
              "order, that matches, so every customer has one segment.")


def _segments(d: dict[str, Any], images: dict[str, bytes]) -> str:
    out = [f"<p>RFM segments of {d['headline']['customers']:,} customers at as_of "
           f"{day(d['as_of'])}.</p>", table(d["profile"], profile_cols("segment")),
           f'<p class="meta" id="segment-columns">{_e(PROFILE_NOTE)}</p>',
           img(images, "segments", "share of customers and revenue per RFM segment")]
    if "rules" in d:
        out += ['<h3 id="segment-rules">Segment rules</h3>', f"<p>{_e(RULES_NOTE)}</p>",
                table(d["rules"], RULE_COLS)]
    if "grid" in d:
        out += ['<h3 id="grid">Recency x frequency grid (10 cells)</h3>',
                "<p>The same customers in the common 10-cell grid of R and F scores "
                "(<code>grid_segment</code> in the scores). Some cells share a name with a "
                "segment above but not its rule, so they are shown as "
                f"&ldquo;{_e(grid_label('At Risk'))}&rdquo;.</p>",
                table(_grid_labelled(d["grid"]), profile_cols("cell")),
                table(_grid_labelled(d["grid_rules"]), RULE_COLS)]
    if "clusters" in d:
        out += ["<h3>Clusters</h3>", "<p>k-means clusters on scaled log features, named from "
                "their profiles.</p>", table(d["clusters"], profile_cols("cluster")),
                img(images, "clusters", "share of customers and revenue per cluster")]
    return "".join(out)


def _grid_labelled(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its grid cells' names as shown beside the named segments."""
    return frame.assign(segment=frame["segment"].map(grid_label))


CHURN_EVAL: list[tuple[str, str, Fmt]] = [
    ("model", "model", text), ("roc_auc", "ROC-AUC", num), ("pr_auc", "PR-AUC", num),
    ("brier", "Brier", num), ("lift_top_decile", "lift top 10%", num), ("n", "customers", count)]
CLV_EVAL: list[tuple[str, str, Fmt]] = [
    ("model", "model", text), ("mae", "MAE", num), ("rmse", "RMSE", num),
    ("spearman", "Spearman", num), ("gini_normalized", "norm. Gini", num),
    ("lift_top_decile", "lift top 10%", num), ("total_error", "error of total", pct)]


def _models(ev: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame([{"model": k, **v} for k, v in (ev.get("models") or {}).items()])


def _churn(d: dict[str, Any], images: dict[str, bytes]) -> str:
    h = d["headline"]
    out = [facts([("as_of", h["as_of"]), ("customers", count(h["customers"])),
                  ("mean churn probability", pct(h["mean_probability"]))]
                 + [(f"tier {t}", count(h[f"tier_{t}"])) for t in CHURN_TIERS
                    if f"tier_{t}" in h]),
           table(d["tiers"], [("tier", "tier", text), ("customers", "customers", count),
                              ("share", "share", pct), ("mean_probability", "mean", pct),
                              ("min_probability", "min", pct),
                              ("max_probability", "max", pct)]),
           img(images, "churn", "churn probability histogram by tier")]
    out.append(_season(d, "churn-season"))
    sc = d.get("scoring") or {}
    if sc.get("tier_thresholds"):
        lo, hi = sc["tier_thresholds"]
        out.append(f'<p class="meta" id="churn-tiers">Tiers: high above {hi:g}, '
                   f"medium {lo:g} to {hi:g}, low below {lo:g} (<code>loyalist train "
                   "--tiers MEDIUM,HIGH</code>).</p>")
    if sc.get("scored_by", "model") != "model":
        out.append(f'<p class="note" id="churn-scored-by"><strong>Scored by '
                   f'{_e(sc.get("label", sc["scored_by"]))}, not the churn model:</strong> '
                   f'{_e(sc.get("reason") or "")}. The churn probability, tiers and reasons '
                   "come from that baseline, calibrated on the training windows; the churn "
                   "model's out-of-time numbers stay in the table below.</p>")
    elif sc:
        out.append('<p class="meta" id="churn-scored-by">Scored by the LightGBM churn model'
                   f"{_auc_against_baselines(d.get('evaluation'))}: a baseline scores instead "
                   f"when the model's out-of-time ROC-AUC is more than {BASELINE_MARGIN:g} "
                   "below the best baseline's (the table below compares them on every "
                   "metric; a baseline may rank better on some).</p>")
    if len(d["reasons"]):
        out += ["<h3>Commonest reasons among high-risk customers</h3>",
                table(d["reasons"], [("reason", "reason (N = a number)", text),
                                     ("customers", "customers", count)])]
    ev = d.get("evaluation")
    if ev:
        out += ["<h3>Out-of-time evaluation (model card)</h3>", note(d.get("evaluation_note"))]
        if ev.get("warning"):
            out.append(f'<p class="note"><strong>Warning:</strong> {_e(ev["warning"])}.</p>')
        out.append(table(_models(ev), CHURN_EVAL))
        if ev.get("tiers"):
            tiers = pd.DataFrame([{"tier": k, **v} for k, v in ev["tiers"].items()])
            out.append(table(tiers, [("tier", "tier", text), ("customers", "customers", count),
                                     ("churn_rate", "observed churn", pct)]))
        out.append(img(images, "churn_calibration", "churn calibration plot"))
    else:
        out.append('<p class="meta">No model metrics: the store keeps none for these scores '
                   "(trained by an earlier version, or scored by <code>loyalist score</code>); "
                   "train again, or pass <code>--train-dir</code> (the output folder of "
                   "<code>loyalist train</code>), for the out-of-time evaluation and "
                   "calibration.</p>")
    return "".join(out)


def _auc_against_baselines(ev: dict[str, Any] | None) -> str:
    """' (out-of-time ROC-AUC 0.840; the best baseline, recency only, 0.828)', or '' without
    the evaluation's numbers."""
    from loyalist.evaluation.out_of_time import best_baseline

    own, name, base = best_baseline((ev or {}).get("models") or {})
    if own is None or name is None:
        return ""
    return (f" (out-of-time ROC-AUC {own:.3f}; the best baseline, "
            f"{_e(name)}, {base[name]:.3f})")


def _season(d: dict[str, Any], id_: str) -> str:
    """The section's note that its model is not corrected for the season (empty without)."""
    return f'<p class="note" id="{id_}">{_e(d["season"])}</p>' if d.get("season") else ""


def _clv(d: dict[str, Any], images: dict[str, bytes]) -> str:
    h = d["headline"]
    out = [facts([("as_of", h["as_of"]), ("customers", count(h["customers"])),
                  ("total expected CLV", money(h["total"])), ("mean", money(h["mean"])),
                  ("median", money(h["median"])),
                  ("top decile share", pct(h["top_decile_share"]))]
                 + ([("median p10-p90 width per customer", money(h["median_interval_width"]))]
                    if "median_interval_width" in h else [])),
           _season(d, "clv-season"),
           img(images, "clv", "CLV distribution and deciles"),
           '<p class="meta">CLV is each customer\'s expected spend in the '
           + (f"{h['horizon_days']} days" if h.get("horizon_days") else "model's horizon")
           + " after as_of, gross: what they will buy, before any returns (as the segments' "
           "revenue; the data quality section's net revenue is after them). "
           'p10, p50 and p90 are quantiles of each customer\'s value; they do '
           "not add up to quantiles of the total, so the table shows their means per "
           "decile.</p>",
           table(d["deciles"], [
               ("decile", "decile", count), ("customers", "customers", count),
               ("share_of_total", "share of total", pct),
               ("clv_expected_mean", "mean expected", money), ("clv_p10_mean", "mean p10", money),
               ("clv_p50_mean", "mean p50", money), ("clv_p90_mean", "mean p90", money),
               ("clv_bgnbd_mean", "mean BG/NBD+GG", money),
               ("churn_probability_mean", "mean churn", pct)])]
    ev = d.get("evaluation")
    if ev:
        out += ["<h3>Out-of-time evaluation</h3>", note(d.get("evaluation_note"))]
        if ev.get("warning"):
            out.append(f'<p class="note" id="clv-warning"><strong>Warning:</strong> '
                       f'{_e(ev["warning"])}.</p>')
        out.append(table(_models(ev), CLV_EVAL))
        iv = ev.get("interval") or {}
        if "coverage" in iv:
            out.append(f"<p>p10-p90 interval coverage out of time: {pct(iv['coverage'])}.</p>")
        out.append(img(images, "clv_calibration", "CLV calibration plot"))
    return "".join(out)


def _plan(d: dict[str, Any], images: dict[str, bytes]) -> str:
    s, h = d["summary"], d["headline"]
    opt = s.get("optimizer") or {}
    out = [facts([
        ("plan", h["plan_id"]), ("as_of", text(h["as_of"])), ("goal", text(h["goal"])),
        ("period", f"{h['period_days']} days"), ("budget", money(h["budget"])),
        ("spend", money(h["spend"]) + (
            f" (80%: {money(h['spend_lo80'])} to {money(h['spend_hi80'])})"
            if h.get("spend_lo80") is not None else "")),
        ("customers targeted", f"{count(h['customers_targeted'])} of "
                               f"{count(h['customers_considered'])}"),
        *([("expected value", f"{_goal_value(h)} {text(h['goal_unit'])}"
            + (f" ({money(h['cost_per_goal_unit'])} of spend each)"
               if h.get("cost_per_goal_unit") is not None else ""))]
          if h.get("goal_unit") else []),
        ("incremental revenue", money(h["incremental_revenue"])),
        ("80% interval", f"{money(h['incremental_revenue_lo80'])} to "
                         f"{money(h['incremental_revenue_hi80'])}"),
        ("net profit", money(h["net_profit"])), ("ROI", ratio_pct(h["roi"])),
        ("confidence", text(h["confidence"])),
        ("optimality gap", f"{gap(opt.get('gap'))} ({text(opt.get('method'))})")])]
    if d["plans_at_as_of"] > 1:
        out.append(f'<p class="meta">{d["plans_at_as_of"]} plans at this as_of; the latest '
                   "is shown.</p>")
    out.append("<h3>Ranked promotions</h3>")
    if not len(d["promotions"]):  # as the dashboard says it
        out.append("<p>The plan targets nobody: " + _e(
            "; ".join(s.get("warnings") or []) or "no promotion pays off for this goal and "
            "budget") + ".</p>")
    else:
        out.append(table(d["promotions"], [
            ("rank", "#", count), ("promotion", "promotion", text), ("kind", "kind", text),
            ("target_segment", "segment", text), ("customers", "customers", count),
            ("participation", "participation", pct),
            ("incremental_revenue", "incr. revenue", money),
            ("incremental_revenue_lo80", "80% low", money),
            ("incremental_revenue_hi80", "80% high", money), ("cost", "cost", money),
            ("roi", "ROI", ratio_pct), ("confidence", "confidence", text)]))
    if len(d["promotions"]) and "rationale" in d["promotions"]:
        out.append("<ol>" + "".join(f"<li>{_e(r)}</li>" for r in
                                    d["promotions"]["rationale"].head(10)) + "</ol>")
    out += ["<h3>Allocation and budget sensitivity</h3>",
            img(images, "plan", "budget allocation and sensitivity curve"),
            table(d["allocation"], [("promotion", "promotion", text),
                                    ("customers", "customers", count), ("cost", "cost", money),
                                    ("incremental_value", "incremental value", money)]),
            table(d["sensitivity"], [("budget", "budget", money), ("spend", "spend", money),
                                     ("value", "goal value", money),
                                     ("value_per_spend", "value per spend", num),
                                     *([("roi", "ROI", ratio_pct)]
                                       if "roi" in d["sensitivity"] else []),
                                     ("gap", "gap", gap)])]
    excluded = s.get("excluded") or {}
    if excluded:
        out.append("<p>Excluded: " + _e(", ".join(f"{k.replace('_', ' ')} {v:,}"
                                                   for k, v in excluded.items())) + ".</p>")
    for w in (s.get("warnings") or []) if len(d["promotions"]) else []:  # else said above
        out.append(f"<p><strong>Warning:</strong> {_e(w)}.</p>")
    if s.get("assumptions"):
        out += ["<h3>Assumptions</h3>",
                "<ul>" + "".join(f"<li>{_e(a)}</li>" for a in s["assumptions"]) + "</ul>"]
    out.append(f'<p class="meta">{h["plan_customers"]:,} customers in the execution plan '
               "(exports/plan_customers).</p>")
    return "".join(out)


def _goal_value(h: dict[str, Any]) -> str:
    """The plan's goal value as the dashboard shows it: one decimal for a count of customers
    (when the plan has a cost per unit), else a whole number, with the currency for an
    amount."""
    from loyalist.promote.catalog import COUNT_GOALS

    if h.get("cost_per_goal_unit") is not None:
        return num(h["goal_value"], 1)
    if h.get("goal") in COUNT_GOALS:
        return num(h["goal_value"], 0)
    return money(h["goal_value"])


def _forecast(d: dict[str, Any], images: dict[str, bytes]) -> str:
    h = d["headline"]
    items = [("as_of", h["as_of"]), ("horizon", f"{h['horizon_days']} days"),
             ("series", count(h["series"]))]
    if "model" in h:
        items += [("model (total)", h["model"]),
                  ("forecast revenue (sum of daily means)", money(h["forecast_total"]))]
    if "mase_vs_seasonal_naive" in h:
        items.append(("MASE vs seasonal naive", vs_baseline(h["mase_vs_seasonal_naive"])))
    out = [facts(items), img(images, "forecast", "revenue history and forecast with intervals"),
           "<h3>Per series: forecast, and backtest means over rolling origins</h3>",
           table(d["series"], [
               ("series", "series", text), ("model", "model", text),
               ("days", "days forecast", count),
               ("forecast_total", "forecast revenue", money), ("mase", "backtest MASE", num),
               ("naive_mase", "naive MASE", num), ("mase_vs_naive", "MASE / naive", num),
               ("mape", "MAPE", pct), ("coverage80", "80% coverage", pct),
               ("coverage95", "95% coverage", pct)])]
    notes = ["forecast revenue is the sum of the daily means over the days forecast from "
             f"{h['as_of']}; the other columns are the chosen model's (and the seasonal "
             "naive's) mean errors over the backtest origins", *d.get("notes", [])]
    for p in d.get("parts") or []:
        if p["vs_total"] is not None:
            notes.append(
                f"each series has its own model, so the {p['series']:,} {p['by']} forecasts "
                f"are not reconciled with the total: they add up to {money(p['sum'])}, "
                f"{abs(100 * p['vs_total']):.1f}% {'above' if p['vs_total'] >= 0 else 'below'}"
                f" the total's {money(h['forecast_total'])}")
    if d["origins"]:
        notes.append(f"backtest origins: {', '.join(d['origins'])}")
    out += [f'<p class="meta">{_e(n)}.</p>' for n in notes]
    return "".join(out)


def _recommendations(d: dict[str, Any], images: dict[str, bytes]) -> str:
    h = d["headline"]
    out = [facts([("as_of", h["as_of"]), ("method", h["method"]),
                  ("customers", count(h["customers"])),
                  ("per customer", f"{h['per_customer']:.1f}"),
                  ("customer coverage", pct(h["customer_coverage"])),
                  ("products recommended", count(h["products_recommended"])),
                  ("catalogue coverage", pct(h["catalogue_coverage"]))]),
           table(d["methods"], [("method", "method", text), ("n", "rows", count)])]
    if len(d.get("reasons", ())):
        out += ["<h3>Why products are on the lists</h3>",
                table(d["reasons"], [("reason", "reason", text), ("rows", "recommendations",
                                                                  count),
                                     ("share", "share", pct)])]
    out += ["<h3>Most recommended products</h3>",
            table(d["top"], [("product_id", "product", text),
                             ("description", "description", text),
                             ("category", "category", text), ("customers", "customers", count),
                             ("mean_rank", "mean rank", num)]),
            img(images, "recommendations", "most recommended products")]
    return "".join(out)


def _together(d: dict[str, Any], images: dict[str, bytes]) -> str:
    h = d["headline"]
    named = "description" in d["top"] and d["top"]["description"].notna().any()
    cols = [("product_id", "product", text)]
    cols += [("description", "description", text)] if named else []
    cols += [("consequent", "bought with", text)]
    cols += [("consequent_description", "its description", text)] if named else []
    cols += [("count", "orders with both", count), ("confidence", "confidence", pct),
             ("lift", "lift", num)]
    return "".join([
        facts([("as_of", h["as_of"]), ("orders", count(h["orders"])),
               ("products with a companion", count(h["products"])),
               ("rules", count(h["rules"]))]),
        "<h3>Pairs bought together most often</h3>",
        '<p class="meta">confidence: share of the orders with the first product that also '
        'hold the second; lift: how much more often than if they were bought independently. '
        'Guest orders count. Every rule is in the export together.csv.</p>',
        table(d["top"], cols)])


def _campaign(d: dict[str, Any], images: dict[str, bytes]) -> str:
    from loyalist.evaluation.campaign import ADJUSTED_BUYERS, ADJUSTED_NOTE, PLAIN_BUYERS

    r, h = d["result"], d["headline"]
    out = [facts([("sent", ", ".join(h["days"])),
                   ("window", f"{h['window_days']} days after each send"),
                   ("data to", text(r["data_end"])), ("customers sent", count(h["sent"])),
                   ("held out", count(h["held_out"])),
                   ("incremental revenue", f"{money(h['incremental_revenue'])} (95%: "
                    f"{money(h['incremental_revenue_lo95'])} to "
                    f"{money(h['incremental_revenue_hi95'])})")]),
           '<p class="meta">Each promotion\'s customers sent against those held out from it '
           "on the same day; effects in total over the customers measured, with 95% "
           "intervals (one that spans 0 cannot tell the effect from chance). Every number is "
           f"in the export campaign_results.</p><p class=\"meta\">{_e(ADJUSTED_NOTE)}</p>",
           table(d["table"], [
               ("promotion", "promotion", text), ("sent", "sent", count),
               ("held_out", "held out", count), ("buyers_sent_mean", "bought, sent", pct),
               ("buyers_held_out_mean", "bought, held out", pct),
               ("buyers_unadjusted_total", PLAIN_BUYERS, num),
               ("buyers_total", ADJUSTED_BUYERS, num),
               ("revenue_total", "incr. revenue", money),
               ("revenue_total_lo95", "95% low", money),
               ("revenue_total_hi95", "95% high", money), ("net", "net after cost", money)]),
           img(images, "campaign", "incremental revenue and buyers per promotion"),
           "<ul>" + "".join(f"<li>{_e(p['verdict'])}</li>"
                            for p in r["promotions"].values()) + "</ul>"]
    if r["notes"]:
        out.append("<p class=\"meta\">" + _e("; ".join(r["notes"])) + ".</p>")
    return "".join(out)


RENDER = {"quality": _quality, "segments": _segments, "churn": _churn, "clv": _clv,
          "campaign": _campaign, "plan": _plan, "forecast": _forecast,
          "recommendations": _recommendations, "together": _together}


def render_html(rep: Report, images: dict[str, bytes], *, exports: Iterable[str] = (),
                generated_at: datetime | None = None) -> str:
    """The whole page. ``exports``: the names written to ``exports/`` (listed at the end).
    Amounts are named in the store's currency (``rep.currency``), when it is known."""
    token = _CODE.set(rep.currency)
    try:
        return _page(rep, images, exports, generated_at)
    finally:
        _CODE.reset(token)


def _page(rep: Report, images: dict[str, bytes], exports: Iterable[str],
          generated_at: datetime | None) -> str:
    nav = "".join(f'<a href="#{k}">{_e(SECTIONS[k])}</a>' for k in rep.sections)
    head = (f"store {Path(rep.store).name}"
            + (f" · as_of {rep.as_of.date()}" if rep.as_of is not None else
               " · latest results of each kind")
            + (f" · amounts in {rep.currency}" if rep.currency else "")
            + (f" · generated {generated_at:%Y-%m-%d %H:%M}" if generated_at else "")
            + f" · loyalist {__version__}")
    body = [f"<h1>Loyalist report</h1><p class='meta'>{_e(head)}</p><nav>{nav}</nav>"]
    if rep.absent:
        body += ["<h3>Not in this report</h3><ul>"
                 + "".join(f"<li><b>{_e(SECTIONS[k])}</b>: {_e(v)}</li>"
                           for k, v in rep.absent.items()) + "</ul>"]
    for key, data in rep.sections.items():
        body.append(f'<section id="{key}"><h2>{_e(SECTIONS[key])}</h2>'
                    f"{RENDER[key](data, images)}</section>")
    names = list(exports)
    if names:
        body.append('<section id="exports"><h2>Exports</h2><p>BI-ready tables in '
                    "<code>exports/</code>, each as CSV and Parquet: "
                    + _e(", ".join(names)) + ".</p></section>")
    store_tables = ", ".join(f"{k} {v:,}" for k, v in rep.tables.items())
    body.append(f'<p class="meta">store tables (rows): {_e(store_tables)}</p>')
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>Loyalist report</title><style>{CSS}</style></head><body>"
            + "\n".join(body) + "</body></html>\n")
