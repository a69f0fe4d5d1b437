"""``loyalist train``, ``loyalist score`` and ``loyalist evaluate``: the customer models."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from loyalist.cli.lazy import lazy
from loyalist.cli.options import JsonOpt, OutOpt, StoreOpt, writable_folder
from loyalist.names import DEFAULT_STORE

pipeline = lazy("loyalist.pipeline")

AsOfOpt = Annotated[str | None, typer.Option(
    "--as-of", help="Cutoff (default: the day after the last transaction).")]
HorizonOpt = Annotated[int, typer.Option(help="Churn / CLV horizon in days.")]


def _tiers(text: str) -> tuple[float, float]:
    """``--tiers MEDIUM,HIGH``, e.g. ``0.4,0.7`` (checked by the pipeline: 0 < medium < high
    < 1)."""
    from loyalist.errors import ParameterError

    parts = [p.strip() for p in text.split(",")]
    try:
        lo, hi = (float(p) for p in parts)
    except ValueError:
        raise ParameterError(f"--tiers {text!r}: give two numbers MEDIUM,HIGH between 0 and 1, "
                             "e.g. --tiers 0.4,0.7") from None
    return lo, hi


TiersOpt = Annotated[str, typer.Option(
    "--tiers", metavar="MEDIUM,HIGH",
    help="Churn tier thresholds: high above HIGH, medium from MEDIUM to HIGH, low below "
         "MEDIUM; saved with the models, so `score` uses them too.")]

evaluate_app = typer.Typer(
    invoke_without_command=True, no_args_is_help=False,
    help="Out-of-time evaluation: customer models (default), `evaluate purchases`, "
         "`evaluate recommend` or `evaluate promotions`.")


def print_summary(summary: dict[str, Any]) -> None:
    from loyalist.cli.main import out

    if "skipped" in summary:
        out.print(f"evaluation skipped: {summary['skipped']}")
        return
    out.print(f"out-of-time test at {summary['test_cutoff']}:")
    for name, cols in (("churn", ("roc_auc", "pr_auc", "brier", "lift_top_decile")),
                       ("clv", ("mae", "rmse", "spearman", "normalized_gini", "total_error"))):
        models = summary.get(name) or {}
        if not models:
            continue
        t = Table(title=f"{name}: model vs baselines", header_style="bold")
        t.add_column("model")
        present = [c for c in cols if any(c in m for m in models.values())]
        for c in present:
            t.add_column(c, justify="right")
        for m, vals in models.items():
            t.add_row(m, *[f"{vals[c]:.3f}" if isinstance(vals.get(c), int | float) else ""
                           for c in present])
        out.print(t)
    if summary.get("churn_scored_by", "model") != "model":
        out.print(f"[yellow]churn scored by {summary['churn_scored_by_label']}, not the churn "
                  f"model:[/yellow] {summary['churn_scored_by_reason']} (churn_probability, "
                  "churn_tier and reasons come from it, calibrated on the training windows)")


def train(store: StoreOpt = Path(DEFAULT_STORE), as_of: AsOfOpt = None,
          horizon: HorizonOpt = 90,
          tiers: TiersOpt = "0.4,0.7",
          out_dir: OutOpt = Path("out"),
          as_json: JsonOpt = False,
          quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress lines.")
                           ] = False) -> None:
    """Fit segments, churn risk and lifetime value; evaluate out of time; score everyone.

    Example:

      loyalist train --store shop.duckdb --as-of 2011-12-10 --horizon 90 --out out/
    """
    from loyalist.cli.main import emit_json, out, progress

    res = pipeline.train(store, as_of=as_of, horizon=horizon, out=out_dir, tiers=_tiers(tiers),
                         progress=progress(quiet or as_json))
    if as_json:
        emit_json({k: v for k, v in res.items() if k != "metrics"} | {"metrics": res["metrics"]})
        return
    if res["segments_only"]:
        out.print(f"segments only at as_of {res['as_of']}: {res['customers']:,} customers in RFM "
                  "segments and clusters -> table scores (churn and CLV columns empty)")
        out.print(f"[yellow]churn and lifetime value not trained:[/yellow] "
                  f"{res['segments_only']}")
    else:
        out.print(f"trained at as_of {res['as_of']} (horizon {horizon} days): "
                  f"{res['customers']:,} customers scored -> table scores; churn tiers: "
                  f"{res['tier_rule']}")
        print_summary(res["summary"])
    for k in ("scores_csv", "card_html", "model"):
        if k in res["paths"]:
            out.print(f"  {k}: {res['paths'][k]}")


def score(store: StoreOpt = Path(DEFAULT_STORE), as_of: AsOfOpt = None,
          model_dir: Annotated[Path, typer.Option("--model", help="Saved models (train --out "
                                                  "DIR writes DIR/model).")] = Path("out/model"),
          out_dir: Annotated[Path | None, typer.Option("--out", help="Output folder.",
                                                        callback=writable_folder)] = None,
          as_json: JsonOpt = False) -> None:
    """Score customers with saved models: segment, churn probability/tier/reasons, CLV.

    Example:

      loyalist score --store shop.duckdb --model out/model --out scores/ --json
    """
    from loyalist.cli.main import emit_json, out, progress

    say = progress(as_json)
    say(f"scoring customers with the models in {model_dir}")
    res = pipeline.score(store, model_dir=model_dir, as_of=as_of, out=out_dir, progress=say)
    if as_json:
        emit_json({k: v for k, v in res.items() if k != "scores"})
        return
    amounts = f"; lifetime values in {res['currency']}" if res.get("currency") else ""
    out.print(f"scored {res['customers']:,} customers at {res['as_of']}: tiers {res['tiers']} "
              f"({res['tier_rule']}){amounts}")
    if res["churn_scored_by"] != "model":
        out.print(f"churn scored by {res['churn_scored_by_label']}: the churn model lost to it "
                  "out of time when these models were trained (see the model card)")
    for w in res["warnings"]:
        out.print(f"[yellow]warning: {w}[/yellow]")
    for k, p in res["paths"].items():
        out.print(f"  {k}: {p}")


@evaluate_app.callback()
def evaluate(ctx: typer.Context, store: StoreOpt = Path(DEFAULT_STORE),
             as_of: Annotated[str | None, typer.Option(
                 "--as-of", help="Test cutoff: the models train before it and are judged on "
                 "[as_of, as_of + horizon).")] = None,
             horizon: HorizonOpt = 90,
             out_dir: Annotated[Path | None, typer.Option(
                 "--out", help="Model card folder.", callback=writable_folder)] = None,
             as_json: JsonOpt = False) -> None:
    """Evaluate churn and CLV out of time against baselines; write a model card.

    Example:

      loyalist evaluate --store shop.duckdb --as-of 2011-09-01 --horizon 90 --out card/
    """
    if ctx.invoked_subcommand is not None:
        return
    from loyalist.cli.main import emit_json, out, progress

    if as_of:
        progress(as_json)(f"training before {as_of} and testing churn and CLV on the {horizon} "
                          "days after it")
    res = pipeline.evaluate_customers(store, as_of=as_of, horizon=horizon, out=out_dir)
    if as_json:
        emit_json(res)
        return
    print_summary(res["summary"])
    for k, p in res["paths"].items():
        out.print(f"  {k}: {p}")


@evaluate_app.command("purchases")
def evaluate_purchases(
        store: StoreOpt = Path(DEFAULT_STORE),
        as_of: Annotated[str, typer.Option(
            "--as-of", help="Forecast origin: models see only purchases before it.")] = "",
        horizon: Annotated[int, typer.Option(help="Window to forecast, in days.")] = 90,
        as_json: JsonOpt = False) -> None:
    """Forecast each customer's purchase days after --as-of with BG/NBD, the boosted count
    model and "same as last period", and score them on what happened.

    The window must be observed in the store. The boosted model needs earlier windows of the
    same length that end by --as-of; when the history is too short it says why, and
    "boosted_extrapolated" is the boosted model trained on the longest window that fits,
    stretched to the horizon by each customer's BG/NBD time profile.

    Example (CDNOW, end of the 39-week calibration):

      loyalist evaluate purchases --store cdnow.duckdb --as-of 1997-10-01 --horizon 91
    """
    from loyalist.cli.main import emit_json, out, progress

    if as_of:
        progress(as_json)(f"forecasting purchase days in the {horizon} days after {as_of}")
    res = pipeline.evaluate_purchases(store, as_of=as_of or None, horizon=horizon)
    if as_json:
        emit_json(res)
        return
    t = Table(title=f"purchase days, {res['as_of']} + {horizon} days: {res['customers']:,} "
                    f"customers, {res['actual_total']:,.0f} actual", header_style="bold")
    for c in ("model", "predicted", "total error", "MAE", "RMSE", "Spearman"):
        t.add_column(c, justify="left" if c == "model" else "right")
    notes = []
    for name, m in res["models"].items():
        if "unavailable" in m:
            t.add_row(name, "-", "-", "-", "-", "-")
            notes.append(f"{name}: {m['unavailable']}")
            continue
        err = "" if m["total_error"] is None else f"{m['total_error']:+.1%}"
        rho = "" if m["spearman"] is None else f"{m['spearman']:.3f}"
        t.add_row(name, f"{m['total_predicted']:,.0f}", err, f"{m['mae']:.3f}",
                  f"{m['rmse']:.3f}", rho)
        if "method" in m:
            notes.append(f"{name}: {m['method']}")
    out.print(t)
    for n in notes:
        out.print(f"  {n}")
