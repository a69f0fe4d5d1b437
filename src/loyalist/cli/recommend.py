"""``loyalist recommend`` and ``loyalist evaluate recommend``.

:func:`loyalist.pipeline.recommend` and :func:`loyalist.pipeline.evaluate_recommend` do the
work (every door calls them); the typer commands below only parse options and print.
A :class:`~loyalist.errors.LoyalistError` propagates to the entry point (one line, exit 2).

Registering in the main CLI::

    from loyalist.cli import recommend as rec
    app.command("recommend")(rec.recommend)
    evaluate_app.command("recommend")(rec.evaluate)

``rec.app`` holds both commands (``recommend``, ``evaluate``) for standalone use.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from loyalist import jsontext
from loyalist import schema as s
from loyalist.cli.lazy import lazy
from loyalist.cli.options import JsonOpt, OutOpt, StoreOpt, one_of, writable_folder
from loyalist.errors import ParameterError
from loyalist.names import DEFAULT_STORE, TOGETHER_ORDERS
from loyalist.names import RECOMMEND_METHODS as METHODS

pipeline = lazy("loyalist.pipeline")

__all__ = ["app", "evaluate", "recommend", "run_evaluate", "run_recommend"]


def run_recommend(*args: Any, **kwargs: Any) -> dict[str, Any]:
    """:func:`loyalist.pipeline.recommend` (imported on first use)."""
    return pipeline.recommend(*args, **kwargs)  # type: ignore[no-any-return]


def run_evaluate(*args: Any, **kwargs: Any) -> dict[str, Any]:
    """:func:`loyalist.pipeline.evaluate_recommend` (imported on first use)."""
    return pipeline.evaluate_recommend(*args, **kwargs)  # type: ignore[no-any-return]

app = typer.Typer(name="recommend", no_args_is_help=True, add_completion=False,
                  help="Product recommendations per customer, and their evaluation.")
out = Console()


# --- commands ----------------------------------------------------------------------------
AsOfOpt = Annotated[str | None, typer.Option(
    "--as-of", help="Cutoff date: train on purchases before it.")]


def _emit_json(doc: Any) -> None:
    sys.stdout.write(jsontext.dumps(doc) + "\n")


@app.command("recommend")
def recommend(
    store: StoreOpt = Path(DEFAULT_STORE),
    as_of: AsOfOpt = None,
    customer: Annotated[list[str] | None, typer.Option(
        "--customer", help="Customer id (repeatable; default: every customer).")] = None,
    out_dir: OutOpt = Path("out"),
    n: Annotated[int, typer.Option("-n", "--n", help="Products per customer.")] = 10,
    method: Annotated[str, typer.Option(help=one_of(METHODS, "Recommender"))] = "hybrid",
    new_only: Annotated[bool, typer.Option(
        "--new-only", help="Only products the customer has not bought yet.")] = False,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same result).")] = 0,
    as_json: JsonOpt = False,
) -> None:
    """Recommend products to customers; writes OUT/recommendations.csv and the store table
    `recommendations`.

    Examples:

      loyalist recommend --store shop.duckdb --out out/

      loyalist recommend --customer 12347 --new-only -n 5 --json
    """
    from loyalist.cli.main import progress

    res = pipeline.recommend(store, as_of, customer, out_dir, n, method, new_only=new_only,
                             random_state=seed, progress=progress(as_json))
    if as_json:
        _emit_json(res)
        return
    out.print(f"{res['method']}: {res['n']} products for {res['customers']:,} customers "
              f"(as_of {res['as_of']}, {res['cold_start_customers']:,} cold start) in "
              f"{res['seconds']} s -> {res['csv']}" + (f", table {res['table']}"
                                                       if res["table"] else ""))
    for note in res.get("notes", []):
        out.print(f"  note: {note}")
    if res.get("reasons"):
        out.print("  why: " + ", ".join(f"{share:.0%} {why}"
                                        for why, share in res["reasons"].items()))
    for r in res.get("recommendations", [])[:20]:
        why = r["reason"] + (f": {r['because_of']}" if r.get("because_of") else "")
        out.print(f"  {r[s.CUSTOMER_ID]} #{r['rank']}: {r[s.PRODUCT_ID]} ({r['score']:.4g}; "
                  f"{why})")


@app.command("evaluate")
def evaluate(
    store: StoreOpt = Path(DEFAULT_STORE),
    as_of: AsOfOpt = None,
    test_days: Annotated[int, typer.Option("--test-days", help="Test window length.")] = 30,
    methods: Annotated[str | None, typer.Option(
        help="Comma-separated methods (default: all).")] = None,
    tune: Annotated[bool, typer.Option(
        "--tune", help="Choose hyper-parameters on the window before --as-of first.")] = False,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Write metrics here.",
                                                 callback=writable_folder)] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    as_json: JsonOpt = False,
) -> None:
    """Evaluate recommenders on a temporal split: HR, NDCG, MRR, precision, recall @10,
    coverage and novelty, for "anything next" and "new to the customer", against recent
    popularity.

    Example:

      loyalist evaluate recommend --store shop.duckdb --as-of 2011-11-09 --test-days 30
    """
    from loyalist.cli.main import progress

    chosen = [m.strip() for m in methods.split(",") if m.strip()] if methods else None
    rep = pipeline.evaluate_recommend(store, as_of, test_days, methods=chosen, tune=tune,
                                      out_dir=out_dir, random_state=seed,
                                      progress=progress(as_json))
    if as_json:
        _emit_json(rep)
        return
    out.print(f"as_of {rep['as_of']}, test {rep['test_days']} days; baseline: {rep['baseline']}")
    import pandas as pd

    metrics = pd.DataFrame(rep["metrics"])
    for task, grp in metrics.groupby("task", sort=False):
        out.print(_metrics_table(f"task {task}: {rep['tasks'][task]}", grp))
    for task, summ in rep["summary"].items():
        out.print(f"{task}: best {summ['best_model']} (HR {summ['best_hr_lift']:+.1%}, NDCG "
                  f"{summ['best_ndcg_lift']:+.1%} vs baseline)")


#: the evaluation table's columns: (metric, header, format); lifts are relative to the baseline
_METRIC_COLUMNS = (("hr", "HR", "{:.3f}"), ("ndcg", "NDCG", "{:.3f}"), ("mrr", "MRR", "{:.3f}"),
                   ("precision", "prec.", "{:.3f}"), ("recall", "recall", "{:.3f}"),
                   ("coverage", "cover.", "{:.3f}"), ("novelty", "novelty", "{:.2f}"),
                   ("hr_lift", "HR lift", "{:+.1%}"), ("ndcg_lift", "NDCG lift", "{:+.1%}"))


def _metrics_table(title: str, grp: Any) -> Table:
    """One task's metrics @10 per model, narrow enough for an 80-column terminal or a file
    (11 framed columns of 4 decimals were cut to '0.6…'): 3 decimals, lifts in percent, no
    vertical rules, the customers (the same for every model) in the title."""
    from loyalist.cli.tables import compact_table, whole

    n = grp["customers"].iloc[0] if len(grp) else 0
    t = compact_table(f"{title} ({int(n):,} customers, @10)")
    t.add_column("model", justify="left", **whole(grp["model"], "model"))
    for _, head, _fmt in _METRIC_COLUMNS:
        t.add_column(head, justify="right", no_wrap=True)
    for _, r in grp.iterrows():
        t.add_row(str(r["model"]), *[fmt.format(r[c]) for c, _, fmt in _METRIC_COLUMNS])
    return t


def together(
    product: Annotated[list[str] | None, typer.Option(
        "--product", help="Product id (repeatable); without it, every product's companions "
        "are written to --out and stored for the API.")] = None,
    store: StoreOpt = Path(DEFAULT_STORE),
    as_of: AsOfOpt = None,
    n: Annotated[int, typer.Option("-n", "--n", help="Companions per product.")] = 10,
    by: Annotated[str, typer.Option(help=one_of(TOGETHER_ORDERS, "Rank companions by"))
                  ] = "confidence",
    min_count: Annotated[int, typer.Option(help="Fewest shared orders for a rule.")] = 5,
    out_dir: Annotated[Path, typer.Option(
        "--out", help="Folder for together.csv (without --product).",
        callback=writable_folder)] = Path("out/together"),
    as_json: JsonOpt = False,
) -> None:
    """Frequently bought together: each product's best companions by association rules over
    the orders before --as-of (support, confidence, lift), guest orders included.

    Examples:

      loyalist together --store shop.duckdb --product 85123A -n 5

      loyalist together --store shop.duckdb --out results/together  (every product, stored)
    """
    if not product:
        if by != "confidence":
            raise ParameterError("--by applies to --product; the table of every product ranks "
                                 "companions by confidence")
        allres = pipeline.basket_rules(store, out_dir, as_of=as_of, n=n, min_count=min_count)
        if as_json:
            _emit_json(allres)
            return
        out.print(f"{allres['rules']:,} rules for {allres['products']:,} products over "
                  f"{allres['orders']:,} orders before {allres['as_of']} -> {allres['csv']}, "
                  "table basket_rules")
        return
    res = pipeline.bought_together(store, product, as_of=as_of, n=n, by=by,
                                   min_count=min_count)
    if as_json:
        _emit_json(res)
        return
    out.print(f"{res['orders']:,} orders before {res['as_of']}, ranked by {res['by']}")
    t = Table(show_header=True, header_style="bold")
    for c in ("product", "rank", "with", "orders", "confidence", "lift"):
        t.add_column(c, justify="left" if c in ("product", "with") else "right")
    for r in res["rules"]:
        t.add_row(str(r[s.PRODUCT_ID]), str(r["rank"]), str(r["consequent"]), str(r["count"]),
                  f"{r['confidence']:.1%}", f"{r['lift']:.1f}")
    out.print(t)
    if res["unknown_products"]:
        out.print(f"no purchases of: {', '.join(res['unknown_products'])}")
