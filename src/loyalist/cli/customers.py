"""``loyalist train``, ``loyalist score`` and ``loyalist evaluate``: the customer models."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from loyalist import pipeline
from loyalist.store import DEFAULT_STORE

StoreOpt = Annotated[Path, typer.Option("--store", envvar="LOYALIST_STORE",
                                        help="DuckDB store file.")]
AsOfOpt = Annotated[str | None, typer.Option(
    "--as-of", help="Cutoff (default: the day after the last transaction).")]
HorizonOpt = Annotated[int, typer.Option(help="Churn / CLV horizon in days.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="One JSON document on stdout.")]

evaluate_app = typer.Typer(
    invoke_without_command=True, no_args_is_help=False,
    help="Out-of-time evaluation: customer models (default) or `evaluate recommend`.")


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


def train(store: StoreOpt = Path(DEFAULT_STORE), as_of: AsOfOpt = None,
          horizon: HorizonOpt = 90,
          out_dir: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("out"),
          as_json: JsonOpt = False,
          quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False) -> None:
    """Fit segments, churn risk and lifetime value; evaluate out of time; score everyone.

    Example:

      loyalist train --store shop.duckdb --as-of 2011-12-10 --horizon 90 --out out/
    """
    from loyalist.cli.main import emit_json, out, progress

    res = pipeline.train(store, as_of=as_of, horizon=horizon, out=out_dir,
                         progress=progress(quiet or as_json))
    if as_json:
        emit_json({k: v for k, v in res.items() if k != "metrics"} | {"metrics": res["metrics"]})
        return
    out.print(f"trained at as_of {res['as_of']} (horizon {horizon} days): "
              f"{res['customers']:,} customers scored -> table scores")
    print_summary(res["summary"])
    for k in ("scores_csv", "card_html", "model"):
        if k in res["paths"]:
            out.print(f"  {k}: {res['paths'][k]}")


def score(store: StoreOpt = Path(DEFAULT_STORE), as_of: AsOfOpt = None,
          model_dir: Annotated[Path, typer.Option("--model", help="Saved models (train --out "
                                                  "DIR writes DIR/model).")] = Path("out/model"),
          out_dir: Annotated[Path | None, typer.Option("--out", help="Output folder.")] = None,
          as_json: JsonOpt = False) -> None:
    """Score customers with saved models: segment, churn probability/tier/reasons, CLV.

    Example:

      loyalist score --store shop.duckdb --model out/model --out scores/ --json
    """
    from loyalist.cli.main import emit_json, out, progress

    progress(as_json)(f"scoring customers with the models in {model_dir}")
    res = pipeline.score(store, model_dir=model_dir, as_of=as_of, out=out_dir)
    if as_json:
        emit_json({k: v for k, v in res.items() if k != "scores"})
        return
    out.print(f"scored {res['customers']:,} customers at {res['as_of']}: tiers {res['tiers']}")
    for k, p in res["paths"].items():
        out.print(f"  {k}: {p}")


@evaluate_app.callback()
def evaluate(ctx: typer.Context, store: StoreOpt = Path(DEFAULT_STORE),
             as_of: Annotated[str | None, typer.Option(
                 "--as-of", help="Test cutoff: the models train before it and are judged on "
                 "[as_of, as_of + horizon).")] = None,
             horizon: HorizonOpt = 90,
             out_dir: Annotated[Path | None, typer.Option("--out", help="Model card folder.")]
             = None,
             as_json: JsonOpt = False) -> None:
    """Evaluate churn and CLV out of time against baselines; write a model card.

    Example:

      loyalist evaluate --store shop.duckdb --as-of 2011-09-01 --horizon 90 --out card/
    """
    if ctx.invoked_subcommand is not None:
        return
    from loyalist.cli.main import emit_json, out, progress
    from loyalist.errors import ParameterError

    if as_of is None:
        raise ParameterError("loyalist evaluate needs --as-of, the test cutoff (e.g. "
                             "--as-of 2011-09-01); the test window follows it")
    progress(as_json)(f"training before {as_of} and testing churn and CLV on the {horizon} "
                      "days after it")
    res = pipeline.evaluate_customers(store, as_of=as_of, horizon=horizon, out=out_dir)
    if as_json:
        emit_json(res)
        return
    print_summary(res["summary"])
    for k, p in res["paths"].items():
        out.print(f"  {k}: {p}")
