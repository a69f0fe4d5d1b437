"""``loyalist report``: the analyst's HTML report and BI exports from what the store holds."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from loyalist.cli.lazy import lazy
from loyalist.cli.options import JsonOpt, OutOpt, StoreOpt
from loyalist.names import DEFAULT_STORE
from loyalist.names import REPORT_SECTIONS as SECTIONS

pipeline = lazy("loyalist.pipeline")


def report(
    store: StoreOpt = Path(DEFAULT_STORE),
    out_dir: OutOpt = Path("out/report"),
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="Report the results of this cutoff (default: the latest of each).")
    ] = None,
    train_dir: Annotated[Path | None, typer.Option(
        "--train-dir", help="The --out folder of `loyalist train`: adds the model card's "
                            "out-of-time evaluation and calibration.")] = None,
    as_json: JsonOpt = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress lines.")] = False,
) -> None:
    """Write a self-contained HTML report (opens offline from disk) of data quality, segments,
    churn, CLV, the latest plan, the forecast and recommendations, each when the store has it,
    plus CSV and Parquet exports for BI tools and run.json.

    Examples:

      loyalist report --store shop.duckdb --out report/

      loyalist report --store shop.duckdb --as-of 2011-12-01 --train-dir out/customers --json
    """
    from loyalist.cli.main import emit_json, out, progress

    res = pipeline.report(store, out_dir, as_of=as_of, train_dir=train_dir,
                          progress=progress(quiet or as_json))
    if as_json:
        emit_json(res)
        return
    out.print(f"report: {res['files']['html']} ({len(res['sections'])} sections: "
              + ", ".join(SECTIONS[k] for k in res["sections"]) + f"; {res['seconds']} s)")
    for key, why in res["absent"].items():
        out.print(f"  [dim]not included: {SECTIONS[key]} ({why})[/dim]", highlight=False)
    if res["exports"]:
        out.print(f"exports in {out_dir / 'exports'} (CSV and Parquet): " + ", ".join(
            f"{k} {n:,} rows" for k, n in res["exports"].items()))
    out.print(f"run.json: {res['files']['run']}")
