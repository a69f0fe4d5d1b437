"""``loyalist evaluate promotions``: the promotion response model judged out of time."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.table import Table

from loyalist.cli.lazy import lazy
from loyalist.cli.options import JsonOpt, StoreOpt, writable_folder
from loyalist.names import DEFAULT_STORE

pipeline = lazy("loyalist.pipeline")


def evaluate_promotions(
        store: StoreOpt = Path(DEFAULT_STORE),
        as_of: Annotated[str | None, typer.Option(
            "--as-of", help="Cutoff: the model learns from campaigns whose response window "
            "closed by it and is judged on those sent on or after it (default: the last 3 "
            "campaigns with a complete window are held out).")] = None,
        out_dir: Annotated[Path | None, typer.Option(
            "--out", help="Write the card (markdown, HTML), JSON and Qini-curve PNG here.",
            callback=writable_folder)] = None,
        as_json: JsonOpt = False) -> None:
    """Judge the promotion response model on later campaigns than it learned from: Qini,
    AUUC and uplift@10%/30% per promotion and pooled, against "highest churn risk first" and
    random targeting. Needs a promotion history with a control group (`loyalist ingest
    promotions.csv --table promotions`); the store is only read.

    Example:

      loyalist evaluate promotions --store shop.duckdb --out card/
    """
    from loyalist.cli.main import emit_json, out, progress

    res = pipeline.evaluate_promotions(store, as_of=as_of, out=out_dir,
                                       progress=progress(as_json))
    if as_json:
        emit_json({k: v for k, v in res.items() if k != "curves"})
        return
    tr, te, w = res["train"], res["test"], res["window_days"]
    out.print(f"response model ({res['learner']}), out of time: trained on {tr['exposures']:,}"
              f" exposures ({tr['control']:,} control) of {tr['campaigns']} campaigns whose "
              f"{w}-day window closed by {res['cutoff']}; tested on the {te['campaigns']} "
              f"campaigns sent from then ({te['exposures']:,} exposures, {te['control']:,} "
              f"control) with windows closed by {res['end']}", highlight=False)
    for outcome in ("purchase", "spend"):
        out.print(_table(res, outcome))
    for promo, why in res["skipped"].items():
        out.print(f"  not learned: {promo} ({why})", highlight=False)
    out.print("  Qini: area between the order's incremental-gain curve and random targeting's, "
              "per exposure (0 = no better than random); uplift@k: treated minus control mean "
              "among the top k%; random: mean of 20 orderings (p90: how far luck goes)",
              highlight=False)
    for k, p in res["paths"].items():
        out.print(f"  {k}: {p}")


def _table(res: dict[str, Any], outcome: str) -> Table:
    """Per promotion and pooled: each targeting order's Qini, AUUC and uplift@k, the random
    orderings' Qini p90, and the test arms under the promotion's name (80 columns)."""
    from loyalist.evaluation.promotions import (
        METRIC_HEAD,
        STRATEGIES,
        UPLIFT_UNIT,
        fmt_metric,
        metric_rows,
    )

    t = Table(title=f"{outcome} in the {res['window_days']}-day window (uplift@k in "
                    f"{UPLIFT_UNIT[outcome]})",
              header_style="bold", box=box.SIMPLE, pad_edge=False,
              padding=(0, 1), collapse_padding=True)
    for c in ("promotion", *METRIC_HEAD):
        t.add_column(c, justify="left" if c in ("promotion", "targeting") else "right",
                     no_wrap=c in ("promotion", "targeting"))
    groups = [("pooled", res["pooled"][outcome])] + [
        (p, r[outcome]) for p, r in res["promotions"].items()]
    for name, rep in groups:
        rows = metric_rows(rep, outcome, p90=False)
        rows.append(["random p90", fmt_metric(outcome, "qini", rep["random_qini_p90"]),
                     "", "", ""])
        left = [name, f"{rep['n_treated']:,} treated", f"{rep['n_control']:,} control", ""]
        for i, row in enumerate(rows):
            t.add_row(left[i], *row, end_section=i == len(STRATEGIES))
    return t


def evaluate_campaign(
        store: StoreOpt = Path(DEFAULT_STORE),
        sent_from: Annotated[str | None, typer.Option(
            "--from", help="First send day of the campaign (default: the latest send day, or "
            "the plan's with --plan).")] = None,
        sent_to: Annotated[str | None, typer.Option(
            "--to", help="Last send day of the campaign (default: --from, or the latest).")
        ] = None,
        window: Annotated[int | None, typer.Option(
            "--window", help="Days after each send in which purchases count (default: the "
            "response model's window, 30 days or 14 when campaigns are less than 30 days "
            "apart).")] = None,
        as_of: Annotated[str | None, typer.Option(
            "--as-of", help="Read as if the data ended on this day: the sales before it, and "
            "by default the last send day before it.")] = None,
        plan: Annotated[str | None, typer.Option(
            "--plan", help="The plan the campaign carried out: the folder `loyalist plan "
            "--out` wrote, its plan.csv, or a plan id saved in the store; its predictions are "
            "shown beside what was measured.")] = None,
        out_dir: Annotated[Path | None, typer.Option(
            "--out", help="Write the results (CSV, JSON, markdown, HTML, PNG) here.",
            callback=writable_folder)] = None,
        as_json: JsonOpt = False) -> None:
    """What a campaign made: each promotion's customers sent against those held out from it,
    in the response window (buyers, orders, revenue, margin; 95% intervals). Load the sends
    first (`loyalist ingest sends.csv --table promotions`: `loyalist plan --holdout 0.1`
    writes sends.csv) and the sales since; the store is only read.

    Example:

      loyalist evaluate campaign --store shop.duckdb --plan plan_out/ --out results/
    """
    from loyalist.cli.main import emit_json, out, progress

    if sent_from is not None and sent_to is None and plan is None:
        sent_to = sent_from
    res = pipeline.campaign_results(store, sent_from=sent_from, sent_to=sent_to,
                                    window_days=window, plan=plan, as_of=as_of,
                                    out=out_dir,
                                    progress=progress(as_json))
    if as_json:
        emit_json(res)
        return
    out.print(f"campaign of {', '.join(res['days'])}: purchases in the {res['window_days']} "
              f"days after each send (data to {res['data_end']}); bought %: sent / held out; "
              "effects in total ± their 95% interval: +buyers plain, the plain difference of "
              "the shares bought; +buyers adj. and +revenue, adjusted for how active each "
              "group was before the send (the two buyers' numbers can differ, even in sign)",
              highlight=False)
    out.print(_campaign_table(res))
    ratio = (res["total"].get("revenue") or {}).get("interval_vs_unadjusted")
    if ratio is not None:
        out.print(f"  adjusted: {res['adjustment']}; the total revenue interval is "
                  f"{ratio:.0%} of the plain difference's", highlight=False)
    for r in res["promotions"].values():
        out.print(f"  {r['verdict']}", highlight=False)
    for line in _against_plan(res):
        out.print(f"  {line}", highlight=False)
    for n in res["notes"]:
        out.print(f"  note: {n}", highlight=False)
    for k, p in res["paths"].items():
        out.print(f"  {k}: {p}")


def _against_plan(res: dict[str, Any]) -> list[str]:
    """With ``--plan``: per promotion and outcome, the plan's prediction against the measured
    95% interval over the same customers, and whether it holds it."""
    from loyalist.money import label

    code = res.get("currency")
    lines = []
    for promo, r in res["promotions"].items():
        p = r.get("plan") or {}
        said = [f"{label(m, code if m != 'buyers' else None)} predicted "
                f"{p[m]['predicted']:+,.1f}, measured {p[m]['measured']:+,.1f} "
                f"({p[m]['measured_lo95']:+,.1f} to {p[m]['measured_hi95']:+,.1f}): "
                + ("inside" if p[m]["within_interval"] else "outside")
                for m in ("buyers", "revenue", "margin") if m in p]
        if said:
            lines.append(f"plan vs measured, {promo} ({p['customers_in_plan']:,} customers of "
                         "the plan): " + "; ".join(said))
    return lines


def _campaign_table(res: dict[str, Any]) -> Table:
    from loyalist.evaluation.campaign import TOTAL, interval
    from loyalist.money import label

    t = Table(header_style="bold", box=box.SIMPLE, pad_edge=False, padding=(0, 1),
              collapse_padding=True)
    for c in ("promotion", "sent", "held", "bought %", "+buyers plain", "+buyers adj.",
              label("+revenue", res.get("currency"))):
        t.add_column(c, justify="left" if c == "promotion" else "right", no_wrap=True)
    items = [*res["promotions"].items(), (TOTAL, res["total"])]
    for i, (name, r) in enumerate(items):
        if r.get("revenue"):
            bu = r["buyers"]
            cells = [f"{100 * bu['sent_mean']:.1f} / {100 * bu['held_out_mean']:.1f}",
                     interval(bu, "buyers", "unadjusted_total"), interval(bu, "buyers"),
                     interval(r["revenue"], "revenue")]
        else:
            cells = ["", "not measured", "not measured", "not measured"]
        t.add_row(name, f"{r['sent']:,}", f"{r['held_out']:,}", *cells,
                  end_section=i == len(items) - 2)
    return t
