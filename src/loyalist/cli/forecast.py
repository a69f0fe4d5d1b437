"""``loyalist forecast``: daily revenue for the next days, with intervals and a backtest.

:func:`loyalist.pipeline.forecast` does the work (store path in, files and a dict out); this
command only parses options and prints. A :class:`~loyalist.errors.LoyalistError`
propagates to the entry point (one red line, exit code 2).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from loyalist import jsontext
from loyalist.cli.lazy import lazy
from loyalist.cli.options import JsonOpt, OutOpt, StoreOpt, one_of
from loyalist.names import DEFAULT_STORE, FORECAST_BY

pipeline = lazy("loyalist.pipeline")

__all__ = ["app", "forecast_command", "run_forecast"]


def run_forecast(*args: Any, **kwargs: Any) -> dict[str, Any]:
    """:func:`loyalist.pipeline.forecast` (imported on first use)."""
    return pipeline.forecast(*args, **kwargs)  # type: ignore[no-any-return]


def forecast_command(
    store: StoreOpt = Path(DEFAULT_STORE),
    horizon: Annotated[int, typer.Option(help="Days to forecast (1-365).")] = 30,
    out_dir: OutOpt = Path("out"),
    by: Annotated[str | None, typer.Option(
        help=one_of(FORECAST_BY, "Also forecast a series per value of"))] = None,
    country: Annotated[str | None, typer.Option(
        help="Holiday calendar: ISO code, CODE-SUBDIVISION or name (default: the data's "
             "dominant country).")] = None,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="Forecast from this date (default: the day after the last sale).")
    ] = None,
    models: Annotated[str | None, typer.Option(
        help="Candidate models, comma-separated (default: seasonal_naive,ets,harmonic,"
             "lightgbm,ensemble; without ets beyond 200 series; also mstl, theta, arima).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Forecast daily net revenue with 80/95% intervals; each series gets the model that won
    a rolling-origin backtest against the seasonal naive.

    Examples:

      loyalist forecast --store shop.duckdb --horizon 30 --out out/

      loyalist forecast --store shop.duckdb --by category --country GB --json
    """
    from loyalist.cli.main import progress

    res = pipeline.forecast(store, horizon, out_dir, by=by, country=country, as_of=as_of,
                            models=models, progress=progress(as_json))
    if as_json:
        sys.stdout.write(jsontext.dumps(res) + "\n")
        return
    from loyalist.cli.tables import compact_table, whole
    from loyalist.forecast.series import TOTAL
    from loyalist.report.html import vs_baseline

    con = Console()
    amounts = f", amounts in {res['currency']}" if res.get("currency") else ""
    con.print(f"forecast from {res['as_of']}, {res['horizon']} days{amounts}, holidays "
              f"{res['holidays'] or 'none'}; backtest origins {', '.join(res['origins'])}")
    t = compact_table("backtest: the chosen model's MASE, the seasonal naive's, MAPE and the "
                      "share of days inside the 80% and 95% intervals")
    head, shown = _series_names(list(res["series"]))
    for c in (head, "model", "MASE", "naive", "vs naive", "MAPE", "in 80%", "in 95%"):
        keep = whole(shown.values(), c) if c == head else {"no_wrap": True}
        t.add_column(c, justify="left" if c in (head, "model") else "right", **keep)
    for name, r in res["series"].items():
        m = r["backtest"].get(r["model"], {})
        n = r["backtest"].get("seasonal_naive", {})
        ratio = r["mase_vs_seasonal_naive"]  # unrounded, as the report shows it
        t.add_row(shown[name], r["model"], _f(m.get("mase")), _f(n.get("mase")),
                  "" if ratio is None else vs_baseline(ratio), _pct(m.get("mape")),
                  _pct(m.get("coverage80")), _pct(m.get("coverage95")))
    con.print(t)
    for x in res["totals"]:
        if x["series"] == TOTAL:
            con.print(f"next {x['days']} days: {x['mean']:,.0f} (80%: {x['lo80']:,.0f} to "
                      f"{x['hi80']:,.0f})")
    said: set[str] = set()
    for name, r in res["series"].items():  # closed seasons, billing days (once per calendar),
        for note in [*r["calendar"]["notes"], *r["notes"]]:  # no yearly pattern
            if note not in said:
                said.add(note)
                con.print(f"{name}: {note}")
    if res["skipped"]:
        con.print(f"skipped {len(res['skipped'])} series (too little history), e.g. "
                  f"{next(iter(res['skipped']))}")
    for k, p in res["files"].items():
        con.print(f"  {k}: {p}")


def _series_names(names: list[str]) -> tuple[str, dict[str, str]]:
    """The table's first column: its header and each series' name in it; 'category=beans' as
    'beans' under the header 'category' when every series but the total is of one kind."""
    kinds = {n.split("=", 1)[0] for n in names if "=" in n}
    if len(kinds) != 1:
        return "series", {n: n for n in names}
    return kinds.pop(), {n: n.split("=", 1)[1] if "=" in n else n for n in names}


def _f(v: float | None) -> str:
    return "" if v is None else f"{v:.3f}"


def _pct(v: float | None) -> str:
    return "" if v is None else f"{100 * v:.1f}%"


app = typer.Typer(add_completion=False, no_args_is_help=False)
app.command("forecast")(forecast_command)
