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
