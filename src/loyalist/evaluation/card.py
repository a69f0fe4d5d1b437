"""The model card: the metrics dict of :func:`loyalist.evaluation.out_of_time.evaluate`
rendered as markdown and as one self-contained HTML file (plots embedded as base64 PNG, no
external resource), plus the PNG files themselves.

Plots: churn calibration (mean predicted vs observed churn per decile), churn cumulative gains
(model vs baselines), CLV decile calibration (model vs BG/NBD + Gamma-Gamma) and CLV gains.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

import pandas as pd

from loyalist import __version__, jsontext
from loyalist.errors import DataError

__all__ = ["write_model_card"]

CHURN_COLS = [("roc_auc", "ROC-AUC"), ("pr_auc", "PR-AUC"), ("brier", "Brier"),
              ("lift_top_decile", "lift top 10%")]
CLV_COLS = [("mae", "MAE"), ("rmse", "RMSE"), ("spearman", "Spearman"),
            ("gini_normalized", "norm. Gini"), ("lift_top_decile", "lift top 10%"),
            ("total_error", "error of total")]
LABELS = {
    "model": "LightGBM (this model)",
    "model_p50": "LightGBM median (p50)",
    "recency_only": "recency only",
    "bgnbd_1_minus_p_alive": "BG/NBD 1 - P(alive)",
    "bgnbd_expected_orders": "BG/NBD expected orders (negated)",
    "bgnbd_gg": "BG/NBD + Gamma-Gamma",
    "last_period": "same as last period",
}


def _fmt(v: Any, key: str = "") -> str:
    if v is None:
        return "n/a"
    if key == "total_error":
        return f"{v:+.1%}"
    if isinstance(v, float):
        if abs(v) >= 100:
            return f"{v:,.0f}"
        return f"{v:.3f}"
    return str(v)


def _table(rows: dict[str, dict[str, Any]], cols: list[tuple[str, str]]
           ) -> tuple[list[str], list[list[str]]]:
    head = ["model", *[c[1] for c in cols]]
    body = [[LABELS.get(k, k), *[_fmt(r.get(c[0]), c[0]) for c in cols]]
            for k, r in rows.items()]
    return head, body


def _md_table(head: list[str], body: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in body]
    return "\n".join(lines)


def _html_table(head: list[str], body: list[list[str]]) -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    trs = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>"
                  for r in body)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{trs}</tbody></table>"


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return buf.getvalue()


def _figure() -> tuple[Any, Any]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # plotting only: import late
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.5, 4.2))
    FigureCanvasAgg(fig)
    return fig, fig.subplots()


def _calibration_plot(bins: list[dict[str, float]], title: str, xlabel: str, ylabel: str,
                      others: dict[str, list[dict[str, float]]] | None = None,
                      log: bool = False) -> bytes:
    fig, ax = _figure()
    series = {"model": bins, **(others or {})}
    hi = 0.0
    for name, b in series.items():
        x = [r["mean_predicted"] for r in b]
        y = [r["mean_observed"] for r in b]
        hi = max(hi, *x, *y)
        ax.plot(x, y, marker="o", label=LABELS.get(name, name))
    values = [v for b in series.values() for r in b
              for v in (r["mean_predicted"], r["mean_observed"])]
    lo = min(values)
    if log:
        positive = [v for v in values if v > 0]
        lo = min(positive) if positive else 1.0
        ax.set_xscale("symlog", linthresh=lo)
        ax.set_yscale("symlog", linthresh=lo)
    ax.plot([lo, hi], [lo, hi], ls="--", color="grey", label="perfect")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _png(fig)


def _gains_plot(gains: dict[str, list[dict[str, float]]], title: str, ylabel: str) -> bytes:
    fig, ax = _figure()
    for name, pts in gains.items():
        ax.plot([p["fraction"] * 100 for p in pts], [p["captured"] * 100 for p in pts],
                label=LABELS.get(name, name))
    ax.plot([0, 100], [0, 100], ls="--", color="grey", label="random")
    ax.set_xlabel("customers targeted, % (highest score first)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _png(fig)


def _sections(metrics: dict[str, Any]) -> tuple[list[tuple[str, Any]], dict[str, bytes]]:
    """Card content as (kind, payload) blocks, and the plots by file name."""
    ev = metrics.get("evaluation") or {}
    blocks: list[tuple[str, Any]] = []
    plots: dict[str, bytes] = {}
    h = metrics.get("horizon_days")
    blocks.append(("h1", "Loyalist customer models: model card"))
    blocks.append(("p", f"loyalist {metrics.get('loyalist_version', '?')}; scoring as_of "
                        f"{metrics.get('as_of', '?')}; horizon {h} days."))
    blocks.append(("h2", "What the models do"))
    skipped = (metrics.get("training") or {}).get("skipped")
    if skipped:  # segments only: churn and CLV could not be trained
        seg = metrics.get("segments") or {}
        k = seg.get("clusters_k")
        blocks.append(("ul", [
            f"Segments: RFM quintile scores and named segments ({seg.get('rfm_scheme', '?')})"
            + (f"; k-means clusters, k = {k} by silhouette." if k else
               "; no behavioural clusters (see the notes)."),
            f"Churn and lifetime value: not trained, so the scores' churn and CLV columns are "
            f"empty: {skipped}",
        ]))
        blocks += _segment_rules(seg)
        notes = [n for n in metrics.get("notes") or [] if skipped not in n]
        if notes:
            blocks.append(("h2", "Notes"))
            blocks.append(("ul", notes))
        return blocks, plots
    season = (metrics.get("training") or {}).get("churn_season") or {}
    if season.get("cutoff"):
        moved = (f", then moved by {season['log_odds_shift']:+.2f} on the log-odds scale: how "
                 f"the same season a year earlier (cutoff {season['cutoff']}) differed from "
                 "the latest window" + (f"; {season['note']}" if season.get("note") else ""))
    elif season.get("note"):
        moved = f"; {season['note']}"
    else:  # metrics written before the note existed
        moved = "; no seasonal correction"
    cs = (metrics.get("training") or {}).get("clv_season") or {}
    clv_moved = (f", multiplied by {cs['factor']:.2f}: how much the same window a year "
                 f"earlier (cutoff {cs['cutoff']}) bought against the model's level there"
                 if cs.get("cutoff") else "")
    cuts = ((metrics.get("churn") or {}).get("tier_thresholds")
            or (ev.get("churn") or {}).get("tier_thresholds"))
    tiers = (f"tiers (high above {cuts[1]:g}, medium {cuts[0]:g} to {cuts[1]:g}, low below "
             f"{cuts[0]:g})" if cuts else "tiers")
    blocks.append(("ul", [
        f"Churn: probability of no purchase in the {h} days after the cutoff (LightGBM on the "
        f"customer features, calibrated on the latest training cutoff{moved}), {tiers} and "
        "reasons.",
        f"CLV: gross spend in the {h} days after the cutoff (LightGBM Poisson point model and "
        f"10/50/90% quantile models{clv_moved}).",
        "Baselines on the same customers: recency only, BG/NBD 1 - P(alive) and BG/NBD expected "
        "orders for churn; BG/NBD + Gamma-Gamma and 'same as last period' for spend.",
        *([_scored_by(metrics["churn"])] if metrics.get("churn") else []),
    ]))
    blocks += _segment_rules(metrics.get("segments") or {})
    if not ev or ev.get("skipped"):
        blocks.append(("h2", "Out-of-time evaluation"))
        blocks.append(("p", "Not run: " + str(ev.get("skipped", "no evaluation in the metrics"))))
        return blocks, plots
    blocks.append(("h2", "Out-of-time evaluation"))
    blocks.append(("p", (
        f"Test cutoff {ev['test_cutoff']}: the models were trained on cutoffs "
        f"{', '.join(ev['train_cutoffs'])} (latest held out for early stopping and "
        f"calibration), whose label windows all end by {ev['test_cutoff']}; they were scored "
        f"on the {ev['n_customers']:,} customers with a purchase before the test cutoff and "
        f"compared with what those customers did in [{ev['label_window'][0]}, "
        f"{ev['label_window'][1]}). Nothing on or after the test cutoff was used to fit.")))
    ch = ev["churn"]
    blocks.append(("h3", f"Churn (observed churn rate {ch['churn_rate']:.1%})"))
    if ch.get("warning"):
        blocks.append(("p", f"WARNING: {ch['warning']}."))
    blocks.append(("table", _table(ch["models"], CHURN_COLS)))
    if ch.get("tiers"):
        blocks.append(("table", _tier_table(ch["tiers"])))
    fb = ch.get("fallback") or {}
    if fb.get("metrics"):
        m = fb["metrics"]
        blocks.append(("p", (
            f"Scored by {fb['label']} instead, as scoring does when the model loses: turned into "
            "a probability on this evaluation's training windows, it has Brier "
            f"{_fmt(m['brier'])} (the model {_fmt(ch['models']['model'].get('brier'))}) and "
            f"ROC-AUC {_fmt(m['roc_auc'])} in the test window"
            + (f"; {fb['note']}" if fb.get("note") else "") + ". Its tiers:")))
        blocks.append(("table", _tier_table(fb["tiers"])))
    elif fb.get("skipped"):
        blocks.append(("p", f"The baseline scoring would use could not be fitted: "
                            f"{fb['skipped']}."))
    plots["churn_calibration.png"] = _calibration_plot(
        ch["calibration"], "Churn calibration (deciles)", "mean predicted probability",
        "observed churn rate")
    plots["churn_gains.png"] = _gains_plot(ch["gains"], "Churn: cumulative gains",
                                           "churners captured, %")
    blocks.append(("img", "churn_calibration.png"))
    blocks.append(("img", "churn_gains.png"))
    cl = ev["clv"]
    blocks.append(("h3", f"Spend in the next {h} days"))
    if cl.get("warning"):
        blocks.append(("p", f"WARNING: {cl['warning']}."))
    blocks.append(("table", _table(cl["models"], CLV_COLS)))
    iv = cl.get("interval")
    if iv:
        blocks.append(("p", (f"10-90% interval: {iv['coverage']:.1%} of customers inside "
                             f"(nominal 80%), {iv['below']:.1%} below p10, {iv['above']:.1%} "
                             "above p90.")))
    plots["clv_calibration.png"] = _calibration_plot(
        cl["calibration"]["model"], "Spend: decile calibration", "mean predicted spend",
        "mean observed spend", {k: v for k, v in cl["calibration"].items() if k != "model"},
        log=True)
    plots["clv_gains.png"] = _gains_plot(cl["gains"], "Spend: cumulative gains",
                                         "spend captured, %")
    blocks.append(("img", "clv_calibration.png"))
    blocks.append(("img", "clv_gains.png"))
    notes = ev.get("notes") or []
    if notes:
        blocks.append(("h2", "Notes"))
        blocks.append(("ul", notes))
    return blocks, plots


def _segment_rules(seg: dict[str, Any]) -> list[tuple[str, Any]]:
    """The RFM scheme's rules in the order they are applied, and the 10-cell grid's (from
    :func:`loyalist.segment.rfm.rule_table`), with the customers in each segment."""
    if not seg:
        return []
    from loyalist.segment.rfm import rule_table

    scheme = seg.get("rfm_scheme") or "named11"
    out: list[tuple[str, Any]] = [
        ("h2", "Segment rules"),
        ("p", "R, F and M are 1-5 quintile scores of recency, orders and spend (5 = the most "
              "recent, most orders, most spend); each customer gets the first rule, in this "
              "order, that matches, so every customer has one segment.")]
    grids = [(f"RFM segments ({scheme}, the scores' rfm_segment)", scheme,
              seg.get("rfm_counts") or {})]
    if scheme != "grid10":
        grids.append(("Recency x frequency grid (grid10, the scores' grid_segment)", "grid10",
                      seg.get("grid_counts") or {}))
    for title, name, counts in grids:
        rules = rule_table(name)
        out.append(("h3", title))
        out.append(("table", (["order", "segment", "rule", "who", "customers"], [
            [str(r.order), r.segment, r.rule, r.who,
             f"{int(counts.get(r.segment, 0)):,}" if counts else "n/a"]
            for r in rules.itertuples()])))
    return out


def _tier_table(tiers: dict[str, dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    rows = [[t, f"{v['customers']:,}", f"{v['churn_rate']:.1%}"
             if v["churn_rate"] is not None else "n/a"] for t, v in tiers.items()]
    return ["tier", "customers", "observed churn"], rows


def _scored_by(churn: dict[str, Any]) -> str:
    """Which model the scores' churn probability, tier and reasons come from."""
    by = churn.get("scored_by", "model")
    if by == "model":
        return ("Churn scores (probability, tier, reasons): from the LightGBM churn model"
                + (f"; it was kept although {churn['reason']}" if churn.get("reason") else "")
                + ".")
    cal = churn.get("calibration") or {}
    level = (f"the latest training window's churn rate ({cal['latest_churn_rate']:.1%}, "
             f"cutoff {cal.get('latest_window')})" if cal.get("latest_churn_rate") is not None
             else "the latest training window's level")
    season = (f", moved by {cal['season_shift']:+.2f} on the log-odds scale for the season a "
              f"year earlier (cutoff {cal['season_cutoff']})" if cal.get("season_cutoff")
              else "")
    text = (f"Churn scores (probability, tier, reasons): from {churn.get('label', by)}, not "
            f"from the LightGBM model, because {churn.get('reason')}. The baseline is turned "
            "into a probability by a one-feature logistic model fitted on the churn model's "
            "training windows (one intercept per window; slope "
            f"{cal.get('slope', float('nan')):.3g}, constrained to keep the baseline's order), "
            f"at {level}{season}; the reasons give the baseline's input.")
    if cal.get("note"):
        text += f" Note: {cal['note']}."
    return text


def _horizon(ev: dict[str, Any]) -> int | None:
    try:
        a, b = (pd.Timestamp(x) for x in ev["label_window"])
    except (KeyError, ValueError, TypeError):
        return None
    return int((b - a).days)


CSS = ("body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;color:#222}"
       "table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccc;"
       "padding:.3rem .6rem;text-align:right}td:first-child,th:first-child{text-align:left}"
       "img{max-width:48%;margin:.5rem 1%}")


def render_blocks(blocks: list[tuple[str, Any]], images: dict[str, bytes], *, title: str,
                  css: str = CSS) -> tuple[str, str]:
    """A card's ``blocks`` (``(kind, payload)``: ``h1``-``h3`` and ``p`` text, ``ul`` a list of
    lines, ``table`` (head, rows), ``img`` a file name in ``images``; an image not there is
    left out) as (markdown, a self-contained HTML document with the images embedded)."""
    md: list[str] = []
    hb: list[str] = []
    for kind, payload in blocks:
        if kind in ("h1", "h2", "h3"):
            md.append("#" * int(kind[1]) + " " + payload)
            hb.append(f"<{kind}>{html.escape(payload)}</{kind}>")
        elif kind == "p":
            md.append(payload)
            hb.append(f"<p>{html.escape(payload)}</p>")
        elif kind == "ul":
            md.append("\n".join(f"- {x}" for x in payload))
            hb.append("<ul>" + "".join(f"<li>{html.escape(x)}</li>" for x in payload) + "</ul>")
        elif kind == "table":
            md.append(_md_table(*payload))
            hb.append(_html_table(*payload))
        elif kind == "img" and payload in images:
            md.append(f"![{payload}]({payload})")
            b64 = base64.b64encode(images[payload]).decode()
            hb.append(f'<img alt="{html.escape(payload)}" src="data:image/png;base64,{b64}">')
    doc = ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>"
           f"{html.escape(title)}</title><style>{css}</style></head><body>" + "\n".join(hb)
           + "</body></html>\n")
    return "\n\n".join(md) + "\n", doc


def write_model_card(metrics: dict[str, Any], out_dir: str | Path) -> dict[str, Path]:
    """Write ``model_card.md``, ``model_card.html``, ``metrics.json`` and the plot PNGs into
    ``out_dir``; return their paths by kind (``markdown``, ``html``, ``metrics`` and one per
    plot).

    ``metrics`` is ``train_and_score(...)["metrics"]``, or the dict returned by
    ``evaluate(...)[0]`` alone."""
    if not isinstance(metrics, dict):
        raise DataError("model card: metrics must be the dict returned by train_and_score() "
                        "or evaluate()")
    if "churn" in metrics and "evaluation" not in metrics:  # evaluate()'s dict alone
        metrics = {"loyalist_version": __version__, "as_of": metrics.get("test_cutoff"),
                   "horizon_days": _horizon(metrics), "evaluation": metrics}
    blocks, plots = _sections(metrics)
    return write_card(out_dir, blocks, plots, title="Loyalist model card", stem="model_card",
                      data=("metrics", "metrics.json", metrics))


def write_card(out_dir: str | Path, blocks: list[tuple[str, Any]], images: dict[str, bytes], *,
               title: str, stem: str, data: tuple[str, str, Any],
               css: str = CSS) -> dict[str, Path]:
    """Write a card (:func:`render_blocks`) as ``{stem}.md`` and ``{stem}.html``, its
    ``images`` as PNG files and ``data`` (key, file name, value) as JSON into ``out_dir``;
    return their paths by kind: ``markdown``, ``html``, the data's key and one per image (its
    name without ``.png``)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for name, png in images.items():
        (out / name).write_bytes(png)
        paths[name.removesuffix(".png")] = out / name
    md, doc = render_blocks(blocks, images, title=title, css=css)
    paths["markdown"] = out / f"{stem}.md"
    paths["markdown"].write_text(md)
    paths["html"] = out / f"{stem}.html"
    paths["html"].write_text(doc)
    key, name, value = data
    paths[key] = out / name
    paths[key].write_text(jsontext.dumps(value))
    return paths
