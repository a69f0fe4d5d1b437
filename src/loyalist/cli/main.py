"""The ``loyalist`` command. Each command parses options, calls :mod:`loyalist.pipeline`, and
prints a short summary (or one JSON document with ``--json``). A :class:`LoyalistError` becomes
one red line on stderr and exit code 2; anything else is a bug and keeps its traceback.

Output: the result goes to stdout; progress lines (``… step``) and log records go to stderr.
``loyalist -q CMD`` (or a command's own ``--quiet``, or ``--json``) drops the progress lines and
keeps log records of warnings and above only; ``loyalist -v CMD`` adds the INFO log records.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from loyalist import __version__, jsontext, money
from loyalist.cli.lazy import lazy
from loyalist.cli.options import (
    MONEY,
    Amount,
    JsonOpt,
    OutOpt,
    StoreOpt,
    amount_code,
    amount_value,
    one_of,
)
from loyalist.errors import LoyalistError, ParameterError
from loyalist.names import DEFAULT_STORE, INGEST_FORMATS, INGEST_TABLES, SCENARIOS

pipeline = lazy("loyalist.pipeline")

app = typer.Typer(
    name="loyalist", no_args_is_help=True, add_completion=False,
    help="Loyalist: turn a retailer's transactions into customer and promotion decisions.",
    context_settings={"help_option_names": ["-h", "--help"]},
)
out = Console()
err = Console(stderr=True)

# how files are read, shared by `ingest` and `run`
FormatOpt = Annotated[str, typer.Option("--format", help=one_of(INGEST_FORMATS, "Source format"))]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress lines.")]
ScenarioOpt = Annotated[str, typer.Option(help=one_of(SCENARIOS, "Merchant"))]
MapOpt = Annotated[list[str] | None, typer.Option(
    "--map", help="canonical=source column, repeatable (e.g. --map unit_price=Preis).")]
DayOneOpt = Annotated[str | None, typer.Option(
    "--day-one", help="The date of day 1 when the date column holds day numbers (1, 2, ...) "
    "instead of dates, e.g. --map ordered_at=DAY --day-one 2019-01-01.")]
EncodingOpt = Annotated[str | None, typer.Option(
    "--encoding", help="The text files' encoding (e.g. cp1255, cp1251, latin-1), over the one "
    "told from their words; for a file whose names load garbled.")]
CurrencyOpt = Annotated[str | None, typer.Option(
    "--currency", help="ISO 4217 code the amounts are in (e.g. GBP, EUR), over what the files "
    "show (a currency column, signs such as £ or €); a store keeps one currency.")]


def emit_json(doc: Any) -> None:
    sys.stdout.write(jsontext.dumps(doc) + "\n")


#: this invocation's root options, set by :func:`main` before any command runs
ROOT: dict[str, bool] = {"quiet": False, "verbose": False}


def progress(quiet: bool = False) -> pipeline.Progress:
    """A progress callback printing ``… step`` on stderr; silent with ``quiet`` (the command's
    ``--quiet`` or ``--json``) or the root ``--quiet``."""
    silent = quiet or ROOT["quiet"]

    def say(msg: str) -> None:
        if not silent:
            err.print(f"[dim]… {msg}[/dim]", highlight=False)
    return say


def _version(value: bool) -> None:
    if value:
        out.print(f"loyalist {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Show the version and exit.")] = False,
    verbose: Annotated[bool, typer.Option(
        "--verbose", "-v", help="Also show INFO log records on stderr.")] = False,
    quiet: Annotated[bool, typer.Option(
        "--quiet", "-q", help="No progress lines; only warnings and errors on stderr.")] = False,
) -> None:
    """Examples:

      loyalist demo --out out                      # the whole pipeline on generated data

      loyalist ingest sales.csv --store shop.duckdb

      loyalist features --store shop.duckdb --as-of 2011-09-01 --out features.parquet

      loyalist -q train --store shop.duckdb        # only the result (-v: with log records)
    """
    if quiet and verbose:
        raise ParameterError("--quiet and --verbose contradict each other; give one of them")
    ROOT.update(quiet=quiet, verbose=verbose)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s") if verbose
                         else _PlainFormatter())
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, handlers=[handler])


class _PlainFormatter(logging.Formatter):
    """Without -v a log record is a message to the user: "warning: ..." as the commands print
    their own warnings, not "WARNING loyalist.pipeline: ..."."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        return f"{record.levelname.lower()}: {record.getMessage()}"


@app.command()
def ingest(
    files: Annotated[list[Path], typer.Argument(
        help="CSV, Parquet, Excel, JSON or Feather files, zip archives or folders of them.")],
    store: StoreOpt = Path(DEFAULT_STORE),
    fmt: FormatOpt = "auto",
    mapping: MapOpt = None,
    day_one: DayOneOpt = None,
    currency: CurrencyOpt = None,
    encoding: EncodingOpt = None,
    table: Annotated[str, typer.Option(
        help=one_of(INGEST_TABLES, "The table the files hold (auto: recognised from their "
                                   "columns)"))] = "auto",
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Load files into the store, quarantining bad rows with a reason; print a quality report.

    Examples:

      loyalist ingest online_retail.xlsx --store shop.duckdb

      loyalist ingest sales.csv --map customer_id=Client --map amount=Total --json

      loyalist ingest kassenbuch.csv --currency EUR --store laden.duckdb
    """
    reports = pipeline.ingest(store, files, fmt=fmt, mapping=mapping, table=table,
                              day_one=day_one, progress=progress(quiet or as_json),
                              currency=currency, encoding=encoding)
    if as_json:
        emit_json(reports[0] if len(reports) == 1 else reports)
        return
    for r in reports:
        _print_report(r)
    out.print(f"store: {store}")


@app.command("loads")
def loads_command(store: StoreOpt = Path(DEFAULT_STORE), as_json: JsonOpt = False) -> None:
    """List the store's loads: id, table, file, when, status and row counts.

    Example:

      loyalist loads --store shop.duckdb
    """
    rows = pipeline.loads(store)
    if as_json:
        emit_json(rows)
        return
    if not rows:
        out.print(f"{store}: no loads yet")
        return
    line = "{:>5}  {:<18} {:<14} {:>11} {:>11} {:>11}  {:<16}  {}"
    out.print(line.format("id", "table", "status", "read", "loaded", "quarantined", "loaded at",
                          "file"), style="bold", highlight=False, soft_wrap=True)
    for r in rows:
        counts = (f"{int(r[k] or 0):,}" for k in ("rows_read", "rows_loaded", "rows_quarantined"))
        out.print(line.format(r["load_id"], r["table"], r["status"], *counts,
                              str(r["loaded_at"])[:16], Path(str(r["file"])).name),
                  highlight=False, soft_wrap=True)


@app.command("unload")
def unload_command(
    load_ids: Annotated[list[str], typer.Argument(
        help="Ids of the loads to remove (`loyalist loads` lists them).")],
    store: StoreOpt = Path(DEFAULT_STORE),
    as_json: JsonOpt = False,
) -> None:
    """Remove loads and every row they wrote (lines, quarantined lines, customers, ...), e.g.
    a wrong file, or an export that a corrected one replaces; the file can then be loaded
    again. Later loads of the same table must go first (or in the same command).

    Examples:

      loyalist unload 3 --store shop.duckdb

      loyalist unload 5 4 --store shop.duckdb && loyalist ingest corrected.csv --store shop.duckdb
    """
    res = pipeline.unload(store, load_ids)
    if as_json:
        emit_json(res)
        return
    for x in res["unloaded"]:
        out.print(f"removed load {x['load_id']}: {Path(str(x['file'])).name} -> {x['table']}")
    if res["rows_removed"]:
        out.print("  rows removed: " + ", ".join(f"{t} {n:,}"
                                                 for t, n in res["rows_removed"].items()))
    else:
        out.print("  no rows to remove (the load added none)")
    for n in res["notes"]:
        out.print(f"  [yellow]note:[/yellow] {n}")
    out.print(f"store: {store}")


@app.command("compact")
def compact_command(store: StoreOpt = Path(DEFAULT_STORE), as_json: JsonOpt = False) -> None:
    """Give the store's free space back to the disk: DuckDB reuses the space that removed and
    replaced data (unloads, reloads, retraining, plans) leave in the file, but never shrinks
    it. The store is copied into a fresh file beside it, the copy checked table by table and
    put in its place. It needs the store to itself (stop `loyalist serve`) and free disk
    space for the copy; if anything fails, the store stays as it was.

    Example:

      loyalist compact --store shop.duckdb
    """
    res = pipeline.compact(store, progress=progress(as_json))
    if as_json:
        emit_json(res)
        return
    before, after = res["bytes_before"], res["bytes_after"]
    out.print(f"compacted {store}: {before / 2**20:,.1f} MB -> {after / 2**20:,.1f} MB "
              f"({1 - after / before:.0%} smaller) in {res['seconds']:.1f} s; "
              f"{res['tables']} tables, {res['rows']:,} rows checked", highlight=False,
              soft_wrap=True)


def _print_report(r: dict[str, Any]) -> None:
    out.print(f"[bold]{r['file']}[/bold] -> {r['table']} "
              f"({r.get('format', r['table'])}, load {r['load_id']}, {r['status']})")
    if r.get("note"):
        out.print(f"  {r['note']}")
    if r.get("rows_read") and not r.get("rows_loaded") and r.get("rows_quarantined"):
        rows = "the only row was" if r["rows_read"] == 1 else f"all {r['rows_read']:,} rows were"
        out.print(f"  [yellow]nothing loaded:[/yellow] {rows} quarantined; the rules below say "
                  "why")
    for a in r.get("assumptions") or []:
        out.print(f"  [yellow]assumption:[/yellow] {a}")
    t = Table(show_header=True, header_style="bold")
    t.add_column("measure")
    t.add_column("value", justify="right")
    for k in ("rows_read", "rows_loaded", "rows_quarantined", "customers",
              "customers_with_purchases", "customers_in_file", "orders", "products",
              "first_date", "last_date", "revenue_read", "revenue_loaded"):
        if k in r:
            v = r[k]
            t.add_row(money.label(k, r.get("currency")) if k.startswith("revenue") else k,
                      f"{v:,}" if isinstance(v, int | float) else str(v))
    if "currency" in r:
        t.add_row("currency", f"{r['currency']} ({r['currency_evidence']})" if r["currency"]
                  else "unknown (give it with --currency)")
    out.print(t)
    details = r.get("rule_details")
    if details:
        rt = Table(show_header=True, header_style="bold")
        for c in ("rule", "action", "rows", "% rows", "% value", "reason"):
            rt.add_column(c, justify="right" if c in ("rows", "% rows", "% value") else "left",
                          overflow="fold")  # a reason names a file: wrap it, do not cut it
        for name, d in details.items():
            rt.add_row(name, d["action"], f"{d['rows']:,}", f"{100 * d.get('share_rows', 0):.2f}",
                       f"{100 * d['share_revenue']:.2f}" if "share_revenue" in d else "",
                       d["reason"])
        out.print(rt)
    elif r.get("rules"):
        out.print("  rules: " + ", ".join(f"{k} {v:,}" for k, v in r["rules"].items()))


@app.command()
def features(
    store: StoreOpt = Path(DEFAULT_STORE),
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="Cutoff date (default: the day after the last transaction).")] = None,
    out_file: Annotated[Path | None, typer.Option("--out", help="Write .parquet or .csv")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Point-in-time customer features (RFM, behaviour, BG/NBD summary) at --as-of.

    Example:

      loyalist features --store shop.duckdb --as-of 2011-09-01 --out features.parquet
    """
    progress(as_json)("computing customer features")
    ts, frame, path = pipeline.features(store, as_of=as_of, out=out_file)
    if as_json:
        emit_json({"as_of": str(ts.date()), "customers": len(frame),
                    "columns": list(frame.columns), "out": str(path) if path else None})
        return
    out.print(f"features at as_of {ts.date()}: {len(frame):,} customers x "
              f"{frame.shape[1] - 1} columns" + (f" -> {path}" if path else ""))
    out.print(frame.describe().T[["mean", "50%", "max"]].round(2).to_string())


@app.command()
def generate(
    scenario: ScenarioOpt = "fashion",
    customers: Annotated[int | None, typer.Option(help="Customers (default per scenario).")] = None,
    months: Annotated[int, typer.Option(help="Months of history.")] = 18,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same data).")] = 7,
    out_dir: OutOpt = Path("scenario"),
    as_json: JsonOpt = False,
) -> None:
    """Generate a merchant scenario: customers, transactions, catalog, promotion history, truth.

    Example:

      loyalist generate --scenario coffee --customers 500 --months 12 --seed 1 --out coffee/
    """
    res = pipeline.generate(scenario, customers=customers, months=months, seed=seed, out=out_dir)
    if as_json:
        emit_json(res)
        return
    out.print(f"{scenario}: {res['customers']:,} customers, {res['transactions']:,} "
              f"transaction lines, {months} months -> {out_dir}")
    for name, p in res["files"].items():
        out.print(f"  {name}: {p}")


@app.command("run")
def run_all(
    files: Annotated[list[Path] | None, typer.Argument(
        help="CSV, Parquet, Excel, JSON or Feather files, zip archives or folders of them, to "
        "load first (none: use what the store holds).")
    ] = None,
    store: StoreOpt = Path(DEFAULT_STORE),
    out_dir: OutOpt = Path("out"),
    fmt: FormatOpt = "auto",
    mapping: MapOpt = None,
    day_one: DayOneOpt = None,
    currency: CurrencyOpt = None,
    encoding: EncodingOpt = None,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="Cutoff (default: the day after the last transaction).")] = None,
    horizon: Annotated[int, typer.Option(help="Churn / CLV horizon in days.")] = 90,
    budget: Annotated[Amount | None, typer.Option(
        **MONEY, help="Promotion budget for the plan period (e.g. 5000, 5k or 5000 "
        "EUR); without it (or --budget-per-month) no plan is made.")] = None,
    budget_per_month: Annotated[Amount | None, typer.Option(
        "--budget-per-month", **MONEY, help="Promotion budget per 30-day month "
        "instead of --budget; no month of the plan spends more.")] = None,
    goal: Annotated[str, typer.Option(help="Plan goal (see `loyalist plan --help`).")
                    ] = "retention",
    period: Annotated[int, typer.Option(help="Plan period in days.")] = 30,
    catalog: Annotated[Path | None, typer.Option(help="Promotion catalog file.")] = None,
    constraints: Annotated[Path | None, typer.Option(help="Plan constraints file.")] = None,
    priors: Annotated[Path | None, typer.Option(
        "--priors", help="Response priors file for the plan (see `loyalist plan --help`); "
        "rows it leaves out keep the documented defaults.")] = None,
    forecast_days: Annotated[int, typer.Option(
        "--forecast-days", help="Days ahead of the revenue forecast (a young shop's history "
        "may fit only a shorter one).")] = 30,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """The main job on your own data: load the files, then features, customer models,
    recommendations, products bought together, the revenue forecast, a promotion plan (with
    --budget) and the report.
    A step the data cannot support is skipped with its reason; the others still run.

    Examples:

      loyalist run sales.csv --store shop.duckdb --out results/ --budget 5000 --goal retention

      loyalist run orders.csv --map order_id="Order No" --budget 2000 --goal reactivation

      loyalist run order_items.csv orders.csv --store shop.duckdb  (lines + orders, joined)
    """
    from loyalist.cli.plan import check_spend_limits

    total, per_month = amount_value(budget), amount_value(budget_per_month)
    check_spend_limits(constraints, total, per_month, period, goal)
    res = pipeline.run_all(store, out_dir, files=files or (), fmt=fmt, mapping=mapping,
                           day_one=day_one, as_of=as_of, horizon=horizon, budget=total, goal=goal,
                           period=period, catalog=catalog, constraints=constraints,
                           budget_per_month=per_month, forecast_days=forecast_days,
                           progress=progress(quiet or as_json), priors=priors,
                           currency=currency, encoding=encoding,
                           budget_currency=amount_code(budget, budget_per_month))
    failed = [st["step"] for st in res["steps"] if st["status"] == "failed"]
    if as_json:
        emit_json(res)
        if failed:
            raise typer.Exit(1)
        return
    for load in res["loads"]:
        joined = " (order headers)" if load.get("format") == "order headers" else ""
        out.print(f"{load['file']} -> {load['table']}{joined}: " + (
                  load["note"] if load.get("note") else
                  f"{load['rows_read']:,} read, {load['rows_loaded']:,} loaded, "
                  f"{load['rows_quarantined']:,} quarantined"))
        for a in load.get("guessed") or []:
            out.print(f"  [yellow]guessed:[/yellow] {escape(a)}", highlight=False)
    for note in res.get("left_out", []):
        out.print(f"  left out: {note}")
    t = Table(show_header=True, header_style="bold",
              title=f"as_of {res['as_of']}, {res['seconds']} s")
    for c in ("step", "status", "detail"):
        t.add_column(c)
    for st in res["steps"]:
        colour = {"done": "green", "partial": "cyan", "failed": "red"}.get(st["status"], "yellow")
        t.add_row(st["step"], f"[{colour}]{st['status']}[/{colour}]", escape(st["detail"]))
    out.print(t)
    for st in res["steps"]:
        for name, path in st["outputs"].items():
            out.print(f"  {name}: {path}")
    if failed:  # the results above are written; the exit code says not everything ran
        raise typer.Exit(1)


@app.command()
def demo(
    out_dir: OutOpt = Path("out"),
    scenario: ScenarioOpt = "fashion",
    customers: Annotated[int | None, typer.Option(help="Customers (default per scenario).")] = None,
    months: Annotated[int, typer.Option(help="Months of history.")] = 18,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """The main job: generate a scenario, load it into a fresh store, run every part, and say
    where the results went.

    Example:

      loyalist demo --scenario coffee --out out/
    """
    res = pipeline.demo(out_dir, scenario=scenario, customers=customers, months=months,
                        seed=seed, progress=progress(quiet or as_json))
    if as_json:
        emit_json(res)
        return
    known = res["plan"].get("customers_considered")
    out.print(f"[bold green]done[/bold green] in {res['seconds']} s: {scenario} scenario, "
              f"as_of {res['as_of']}, "
              + (f"{known:,} customers, {res['customers_with_features']:,} of them with a "
                 "purchase before it (the models' customers)" if known is not None else
                 f"{res['customers_with_features']:,} customers with a purchase before it"))
    for load in res["loads"]:
        out.print(f"  {load['table']}: {load['rows_read']:,} read, {load['rows_loaded']:,} "
                  f"loaded, {load['rows_quarantined']:,} quarantined")
    from loyalist.cli.customers import print_summary

    print_summary(res["customer_models"])
    for task, summ in res["recommendations"]["evaluation"].items():
        out.print(f"recommendations ({task}): best {summ['best_model']}, HR@10 "
                  f"{summ['best_hr_lift']:+.1%} and NDCG@10 {summ['best_ndcg_lift']:+.1%} "
                  "vs recent popularity")
    out.print(f"latest campaign {res['campaign']['line']}", highlight=False)
    from loyalist.cli.plan import short_line

    pl = res["plan"]
    out.print(short_line(pl))
    tr = pl["against_truth"]
    if tr.get("model") is not None:
        out.print(f"  against the scenario's truth: {tr['model']:.0%} of the oracle plan's value"
                  f" (random {tr['random']:.0%}, cheapest for everyone "
                  f"{tr['cheapest_for_everyone']:.0%}, highest churn first "
                  f"{tr.get('highest_churn_first') or 0:.0%})")
        from loyalist.promote.explain import UNSPENT_SHARE

        if pl["spend"] < (1 - UNSPENT_SHARE) * pl["budget"]:
            out.print(f"  the budget does not bind ({pl['spend']:,.0f} of {pl['budget']:,.0f} "
                      "spent): every offer worth its cost is sent, so these shares say little "
                      "about the order of targeting")
    total = res["forecast"]["total"]
    if "mase_vs_seasonal_naive" in total:
        out.print(f"forecast: {res['forecast']['series']} series; total revenue by "
                  f"{total['model']}, backtest MASE {total['mase_vs_seasonal_naive'] - 1:+.1%} "
                  "vs seasonal naive")
    out.print(f"  store: {res['store']}")
    for name, p in res["outputs"].items():
        out.print(f"  {name}: {p}")


def _register() -> None:
    from loyalist.cli import clv, customers, forecast, plan, recommend, report, response, serve

    app.add_typer(clv.app, name="clv")
    app.command()(customers.train)
    app.command()(customers.score)
    customers.evaluate_app.command("recommend")(recommend.evaluate)
    customers.evaluate_app.command("promotions")(response.evaluate_promotions)
    customers.evaluate_app.command("campaign")(response.evaluate_campaign)
    app.add_typer(customers.evaluate_app, name="evaluate")
    app.command("recommend")(recommend.recommend)
    app.command("together")(recommend.together)
    app.command("forecast")(forecast.forecast_command)
    app.command("plan")(plan.plan)
    app.command("priors")(plan.priors)
    app.command("serve")(serve.serve)
    app.command("report")(report.report)


_register()


def run() -> None:
    """Entry point: one red line and exit 2 for a user error, a traceback for a bug."""
    try:
        app()
    except LoyalistError as e:
        # the message as written: "[min_spend]" is a constraints file's key, not rich markup
        err.print(f"[red]error:[/red] {escape(str(e))}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except MemoryError:
        # the machine, not the data: one line with what to do, no traceback
        cmd = next((a for a in sys.argv[1:] if not a.startswith("-")), "the command")
        err.print(f"[red]error:[/red] out of memory in `loyalist {cmd}`: the process could not "
                  "get the memory this store needs; free memory or raise the process's limit "
                  "(ulimit -v, a container's memory), or work on fewer customers (e.g. "
                  "--customer for recommend); LOYALIST_MEMORY_LIMIT bounds only the store's "
                  "own queries", highlight=False, soft_wrap=True)
        sys.exit(2)


if __name__ == "__main__":  # pragma: no cover
    run()
