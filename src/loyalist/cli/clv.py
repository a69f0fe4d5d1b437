"""``loyalist clv ...``: the probabilistic lifetime-value models."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from loyalist.cli.lazy import lazy
from loyalist.cli.options import JsonOpt, StoreOpt
from loyalist.names import DEFAULT_STORE

pipeline = lazy("loyalist.pipeline")

app = typer.Typer(no_args_is_help=True, help="Probabilistic CLV models (BG/NBD, Pareto/NBD, "
                  "Gamma-Gamma).")


@app.command("fit")
def fit(
    store: StoreOpt = Path(DEFAULT_STORE),
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="Calibration end (exclusive).")] = None,
    time_unit: Annotated[str, typer.Option("--time-unit", help="D, W or M.")] = "W",
    model: Annotated[str, typer.Option(help="bgnbd | pareto | gammagamma")] = "bgnbd",
    as_json: JsonOpt = False,
) -> None:
    """Fit a model by maximum likelihood on the RFM summary before --as-of.

    Example:

      loyalist clv fit --store cdnow.duckdb --as-of 1997-10-01 --time-unit W --model bgnbd --json
    """
    from loyalist.cli.main import emit_json, out

    res = pipeline.clv_fit(store, as_of=as_of, time_unit=time_unit, model=model)
    if as_json:
        emit_json(res)
        return
    params = ", ".join(f"{k}={v:.4g}" for k, v in res["params"].items())
    out.print(f"{model} on {res['customers']:,} customers before {res['as_of']} "
              f"(time unit {time_unit}): {params}; log-likelihood {res['log_likelihood']:.2f}; "
              f"converged {res['converged']}"
              + (f"; spend in {res['currency']}" if model == "gammagamma" and res["currency"]
                 else ""))
    for d in res["diagnostics"]:
        out.print(f"  note: {d}")
