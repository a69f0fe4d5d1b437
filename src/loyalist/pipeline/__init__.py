"""The facade every door (CLI, API, dashboard) calls, so a result is the same whichever way it
comes. Functions here take paths and plain values, open the store, call the library, and return
plain data (dicts and frames) for the caller to show.
"""

from __future__ import annotations

import hashlib
import json
import logging
import platform
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from loyalist import __version__, jsontext
from loyalist import schema as s
from loyalist.errors import DataError, ParameterError, check_days
from loyalist.features import MAX_HORIZON_DAYS, to_as_of
from loyalist.ingest.parse import customer_key
from loyalist.pipeline.customers import (
    CLV_MODELS,
    clv_fit,
    evaluate_customers,
    evaluate_purchases,
    score,
    train,
)
from loyalist.pipeline.store import (
    SCENARIO_TABLES,
    STALE_DAYS,
    Progress,
    compact,
    features,
    generate,
    ingest,
    load_scenario,
    loads,
    resolve_as_of,
    stale_data_warning,
    unload,
)
from loyalist.store import Store

if TYPE_CHECKING:  # the promotion engine loads only when a plan is made
    from loyalist.promote.catalog import PlanParams

__all__ = [
    # store
    "Progress", "ingest", "loads", "unload", "compact", "resolve_as_of", "STALE_DAYS",
    "stale_data_warning", "features", "generate", "SCENARIO_TABLES", "load_scenario",
    # customers
    "CLV_MODELS", "clv_fit", "train", "score", "evaluate_customers", "evaluate_purchases",
    # products
    "MAX_TEST_DAYS", "RECOMMENDATIONS_CSV", "RECOMMENDATION_COLUMNS", "FORECAST_BY",
    "MIN_REPEAT_SHARE", "recommend", "evaluate_recommend", "forecast", "bought_together",
    "basket_rules",
    # promotions
    "PLAN_FILES", "plan_inputs", "load_priors", "PRIORS_HEADER", "prior_defaults",
    "plan_params", "plan", "save_plan", "write_plan", "evaluate_promotions",
    # the whole job and the report
    "demo", "run_all", "write_run_json", "report",
]

log = logging.getLogger(__name__)


#: the longest recommendation test window, in days (the longest horizon is
#: :data:`loyalist.features.MAX_HORIZON_DAYS`)
MAX_TEST_DAYS = 365


def demo(out: Path, *, scenario: str = "fashion", customers: int | None = None, months: int = 18,
         seed: int = 7, progress: Progress | None = None) -> dict[str, Any]:
    """The main job: generate a merchant scenario, load it into a fresh store, and run every
    part that exists, writing everything under ``out``."""
    say = progress or (lambda _m: None)
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    data_dir = out / "data"
    store_path = out / "loyalist.duckdb"
    for p in (store_path, store_path.with_name(store_path.name + ".wal")):
        p.unlink(missing_ok=True)
    say(f"generating the {scenario} scenario")
    gen = generate(scenario, customers=customers, months=months, seed=seed, out=data_dir)
    reports = load_scenario(store_path, gen["files"], progress=progress)
    (out / "quality_report.json").write_text(jsontext.dumps(reports))
    say("computing features")
    as_of, feats, feat_path = features(store_path, out=out / "features.parquet")
    feats.to_csv(out / "features.csv", index=False)
    say("training customer models (segments, churn, lifetime value)")
    trained = train(store_path, as_of=str(as_of.date()), out=out / "customers", progress=progress)
    say("recommending products (hybrid of popularity, item-item, ALS, content)")
    recs = recommend(store_path, as_of, out_dir=out / "recommendations")
    rec_eval = evaluate_recommend(store_path, None, 30, out_dir=out / "recommendations")
    say("finding products bought together")
    together = basket_rules(store_path, out / "together", as_of=as_of)
    say("forecasting daily revenue, total and per category")
    fc = forecast(store_path, 30, out / "forecast", by="category", as_of=as_of)
    meta = json.loads(Path(gen["files"]["scenario"]).read_text())
    goal = meta["goal"]
    say(f"planning promotions: budget {meta['monthly_budget']:,.0f} a month, goal {goal}")
    planned = plan(store_path, budget_per_month=float(meta["monthly_budget"]), goal=goal,
                   stale_check=False,
                   period=int(meta["planning_period_days"]), as_of=str(as_of.date()),
                   out=out / "plan")
    plan_eval = _plan_against_truth(Path(gen["files"]["truth_response"]), planned)
    say("writing the HTML report and exports")
    rep = report(store_path, out / "report", train_dir=out / "customers")
    result = {
        "out": str(out), "store": str(store_path), "scenario": gen, "as_of": str(as_of.date()),
        "loads": [{k: r[k] for k in ("table", "file", "rows_read", "rows_loaded",
                                     "rows_quarantined", "rules")} for r in reports],
        "customers_with_features": int(len(feats)),
        "customer_models": trained["summary"],
        "recommendations": {"customers": recs["customers"], "method": recs["method"],
                            "evaluation": rec_eval["summary"]},
        "bought_together": {k: together[k] for k in ("orders", "products", "rules")},
        "plan": {k: planned["summary"][k] for k in (
            "plan_id", "budget", "budget_per_month", "goal", "spend", "customers_targeted",
            "incremental_revenue", "net_profit", "roi", "confidence")}
                | {"against_truth": plan_eval},
        "forecast": {"series": len(fc["series"]), "total": {
            k: fc["series"]["total"][k] for k in ("model", "mase_vs_seasonal_naive")
            if k in fc["series"]["total"]}},
        "outputs": {"quality_report": str(out / "quality_report.json"),
                    "features": str(feat_path), "features_csv": str(out / "features.csv"),
                    **{k: v for k, v in trained["paths"].items()
                       if k in ("scores_csv", "card_html", "model") or k.startswith("plot_")},
                    "recommendations": recs["csv"],
                    "recommendation_metrics": rec_eval["outputs"][0],
                    "together": together["csv"],
                    **{f"forecast_{k}": v for k, v in fc["files"].items()},
                    **{f"plan_{k}": v for k, v in planned["summary"]["files"].items()},
                    "report": rep["files"].get("html", str(out / "report"))},
    }
    result["seconds"] = round(time.perf_counter() - started, 2)
    write_run_json(out, command="demo", as_of=as_of, inputs=[Path(p) for p in
                   gen["files"].values() if Path(p).is_file()],
                   metrics={"customer_models": trained["metrics"].get("evaluation", {}),
                            "recommendations": rec_eval["summary"],
                            "forecast": {n: r.get("backtest", {}).get(r.get("model"), {})
                                         for n, r in fc["series"].items()}},
                   extra=result)
    return result


def run_all(store_path: Path, out: Path, *, files: Sequence[str | Path] = (),
            fmt: str = "auto", mapping: Sequence[str] | None = None,
            day_one: str | None = None, as_of: str | None = None,
            horizon: int = 90, budget: float | None = None, goal: str = "retention",
            period: int = 30, catalog: Path | None = None, constraints: Path | None = None,
            budget_per_month: float | None = None, forecast_days: int = 30,
            progress: Progress | None = None, priors: Path | None = None) -> dict[str, Any]:
    """The main job on the merchant's own data: load ``files`` (if any) into ``store_path``,
    then features, customer models, recommendations, the revenue forecast (``forecast_days``
    ahead), a promotion plan (with ``budget``) and the report, all under ``out``.

    Parameters are checked before anything runs (a ParameterError stops it), and an
    ``as_of`` beyond the data before any step (with ``files``, the load is undone). A step
    the data cannot support (too few customers, one product, no categories...) is skipped
    with its reason and the rest go on; ``steps`` lists each step's status, detail and outputs. When
    churn and CLV cannot be trained, the customer models step still segments the customers
    (status ``partial``) and the plan runs on those segments."""
    from loyalist.forecast.forecaster import MAX_HORIZON
    from loyalist.promote.catalog import amount_text
    from loyalist.promote.plan import CLOSED_SEASON, goal_value_text

    say = progress or (lambda _m: None)
    started = time.perf_counter()
    check_days(horizon, "--horizon", max_days=MAX_HORIZON_DAYS, example=90)
    forecast_days = check_days(forecast_days, "--forecast-days", max_days=MAX_HORIZON,
                               example=30)
    if budget is not None or budget_per_month is not None:
        goal = plan_params(budget, goal, period, budget_per_month=budget_per_month).goal
    if as_of is not None:
        to_as_of(as_of)
    # read now, so that a file the plan step would refuse stops the job before the load
    from loyalist.promote.catalog import load_catalog, load_constraints

    if catalog is not None:
        load_catalog(catalog)
    if constraints is not None:
        load_constraints(constraints)
    load_priors(priors)
    out.mkdir(parents=True, exist_ok=True)
    loads: list[dict[str, Any]] = []
    if files:
        say(f"loading {len(files)} file(s) into {store_path}")
        # an as_of the loaded data cannot support undoes the load, as any other refusal would
        loads = ingest(store_path, files, fmt=fmt, mapping=mapping, day_one=day_one,
                       progress=progress,
                       check=lambda st: st.has_rows(s.T_TRANSACTIONS) and resolve_as_of(
                           st, as_of))
        (out / "quality_report.json").write_text(jsontext.dumps(loads))
    elif not Path(store_path).exists():
        raise DataError(f"{store_path}: no such store; pass the data file(s) to load, e.g. "
                        f"loyalist run sales.csv --store {store_path}")
    with Store(store_path, read_only=True) as st:
        st.require(s.T_TRANSACTIONS)
        ts = resolve_as_of(st, as_of)
        has_category = bool(st.con.execute(
            f"SELECT count({s.CATEGORY}) > 0 FROM {s.T_LINES}").fetchall()[0][0])
        stale = stale_data_warning(st.date_range()[1], as_of=ts)
    warnings = [stale] if stale else []
    for w in warnings:
        log.warning("%s", w)
    day = str(ts.date())
    steps: list[dict[str, Any]] = []
    partial: set[str] = set()  # steps that did only part of their work (said in the detail)

    def step(name: str, what: str, fn: Callable[[], tuple[str, dict[str, str]]]) -> None:
        say(what)
        t0 = time.perf_counter()
        try:
            detail, outputs = fn()
            steps.append({"step": name, "status": "partial" if name in partial else "done",
                          "detail": detail,
                          "outputs": outputs, "seconds": round(time.perf_counter() - t0, 2)})
        except DataError as e:  # the data cannot support this step: say why, go on
            log.info("%s skipped: %s", name, e)
            steps.append({"step": name, "status": "skipped", "detail": str(e), "outputs": {},
                          "seconds": round(time.perf_counter() - t0, 2)})
        except Exception as e:  # noqa: BLE001 - a fault in one step must not cost the others
            # (exploratory report 6a, G1: a plan step's crash left the run without a report)
            log.debug("%s failed", name, exc_info=True)
            first = (str(e).strip().splitlines() or [""])[0][:300]
            steps.append({"step": name, "status": "failed",
                          "detail": f"{type(e).__name__}: {first} (an internal error; the "
                                    "other steps ran; `loyalist -v run ...` shows where, "
                                    "please report it)",
                          "outputs": {}, "seconds": round(time.perf_counter() - t0, 2)})

    def do_features() -> tuple[str, dict[str, str]]:
        _, feats, path = features(store_path, as_of=day, out=out / "features.parquet")
        return f"{len(feats):,} customers", {"features": str(path)}

    def do_train() -> tuple[str, dict[str, str]]:
        res = train(store_path, as_of=day, horizon=horizon, out=out / "customers",
                    progress=progress)
        outputs = {k: str(v) for k, v in res["paths"].items()
                   if k in ("scores_csv", "card_html", "model")}
        if res["segments_only"]:
            partial.add("customer_models")
            k = res["metrics"]["segments"]["clusters_k"]
            return (f"segments only: {res['customers']:,} customers in RFM segments"
                    + (f" and {k} clusters" if k else "") + "; churn and lifetime value "
                    f"not trained: {res['segments_only']}"), outputs
        ev = res["metrics"].get("evaluation", {})
        auc = (ev.get("churn", {}).get("models", {}).get("model", {}).get("roc_auc")
               if "skipped" not in ev else None)
        detail = f"{res['customers']:,} customers scored" + (
            f"; out-of-time churn ROC-AUC {auc:.3f}" if auc is not None else
            f"; no out-of-time evaluation ({ev.get('skipped', 'not run')})")
        if auc is not None and ev.get("churn", {}).get("warning"):
            detail += f"; WARNING: {ev['churn']['warning']}"
        if auc is not None and ev.get("clv", {}).get("warning"):
            detail += f"; WARNING: {ev['clv']['warning']}"
        return detail, outputs

    def do_recommend() -> tuple[str, dict[str, str]]:
        res = recommend(store_path, day, out_dir=out / "recommendations")
        return (f"{res['customers']:,} customers x {res['n']} products ({res['method']})"
                + ("; only products not bought yet: few customers buy a product twice"
                   if res["new_only"] else ""), {"recommendations": res["csv"]})

    def do_together() -> tuple[str, dict[str, str]]:
        res = basket_rules(store_path, out / "together", as_of=day)
        return (f"{res['rules']:,} rules for {res['products']:,} products over "
                f"{res['orders']:,} orders", {"together": res["csv"]})

    def do_forecast() -> tuple[str, dict[str, str]]:
        res = forecast(store_path, forecast_days, out / "forecast",
                       by="category" if has_category else None, as_of=ts)
        tot = res["series"]["total"]
        notes = "".join(f"; {n}" for n in tot["calendar"]["notes"])
        return (f"{len(res['series'])} series; total: {tot.get('model')}{notes}",
                {f"forecast_{k}": str(v) for k, v in res["files"].items()})

    def trained() -> bool:  # scores at as_of: full, or segments only
        return any(st["step"] == "customer_models" and st["status"] in ("done", "partial")
                   for st in steps)

    def do_plan() -> tuple[str, dict[str, str]]:
        if budget is None and budget_per_month is None:
            raise DataError("no --budget given: pass --budget or --budget-per-month (and "
                            "--goal, --period) for a promotion plan")
        if not trained():
            raise DataError("a plan needs the customers' scores (segments at least), which "
                            "were skipped above")
        res = plan(store_path, budget=budget, budget_per_month=budget_per_month, goal=goal,
                   period=period, catalog=catalog, constraints=constraints, as_of=day,
                   out=out / "plan", progress=progress, priors=priors)
        sm = res["summary"]
        why = f"; nobody targeted: {sm['empty_reason']}" if sm.get("empty_reason") else ""
        why += "".join(f"; WARNING: {w}" for w in sm["warnings"] if w.startswith(CLOSED_SEASON))
        return (f"{sm['goal']}: {sm['customers_targeted']:,} customers, spend "
                f"{amount_text(sm['spend'])} of {amount_text(sm['budget'])}, expected "
                f"{goal_value_text(sm['goal'], sm['goal_value'], sm.get('goal_unit'))}"
                + ("; by segment and response model only: no churn risk or value scores"
                   if "customer_models" in partial else "") + why,
                {f"plan_{k}": str(v) for k, v in sm["files"].items()})

    def do_report() -> tuple[str, dict[str, str]]:
        res = report(store_path, out / "report", as_of=day,
                     train_dir=out / "customers" if trained() else None)
        return (f"sections: {', '.join(res['sections'])}",
                {"report": str(res["files"].get("html", out / "report"))})

    step("features", "computing features", do_features)
    step("customer_models", "training customer models (segments, churn, lifetime value)",
         do_train)
    step("recommendations", "recommending products", do_recommend)
    step("bought_together", "finding products bought together", do_together)
    step("forecast", "forecasting daily revenue", do_forecast)
    step("plan", "planning promotions", do_plan)
    step("report", "writing the HTML report and exports", do_report)
    result = {"out": str(out), "store": str(store_path), "as_of": day,
              "loads": [{k: r.get(k) for k in ("table", "format", "file", "rows_read",
                                               "rows_loaded", "rows_quarantined", "status",
                                               "note")}
                        for r in loads],
              # a folder's files that were not read (documents, side tables), and why
              "left_out": [a for r in loads for a in r.get("assumptions", [])
                           if " was not read: " in a],
              "steps": steps, "warnings": warnings,
              "seconds": round(time.perf_counter() - started, 2)}
    write_run_json(out, command="run", as_of=ts, inputs=[Path(f) for f in files],
                   metrics={}, extra=result)
    return result


def _plan_against_truth(truth_file: Path, planned: dict[str, Any]) -> dict[str, Any]:
    """A generated scenario knows the truth: the plan's true value as a share of the oracle's,
    next to random targeting, cheapest-for-everyone and highest-churn-first."""
    from loyalist.promote.catalog import PlanParams
    from loyalist.promote.evaluate import evaluate_against_truth

    summ = planned["summary"]
    res = evaluate_against_truth(planned["predictions"], pd.read_parquet(truth_file),
                                 planned["context"],
                                 PlanParams(budget=summ["budget"], goal=summ["goal"],
                                            period_days=summ["period_days"]),
                                 planned["constraints"])
    return {k: v["share_of_oracle"] for k, v in res.items()
            if k in ("model", "random", "cheapest_for_everyone", "highest_churn_first")}


def write_run_json(out: Path, *, command: str, as_of: pd.Timestamp | None, inputs: list[Path],
                   metrics: dict[str, Any], extra: dict[str, Any] | None = None) -> Path:
    """``run.json``: versions, as_of, the inputs' hashes and the metrics of one run."""
    import duckdb
    import numpy
    import sklearn

    def sha(p: Path) -> str | dict[str, str]:
        """A file's hash; a folder's (``run FOLDER``), each data file's in it by name."""
        if p.is_dir():
            return {x.name: str(sha(x)) for x in sorted(p.iterdir())
                    if x.is_file() and not x.name.startswith(".")}
        h = hashlib.sha256()
        with p.open("rb") as f:  # in blocks: an export may be larger than memory
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        return h.hexdigest()

    doc = {
        "command": command, "loyalist": __version__, "python": sys.version.split()[0],
        "platform": platform.platform(),
        "versions": {"duckdb": duckdb.__version__, "pandas": pd.__version__,
                     "numpy": numpy.__version__, "scikit-learn": sklearn.__version__},
        "as_of": str(as_of) if as_of is not None else None,
        "inputs": {str(p): sha(p) for p in inputs}, "metrics": metrics, **(extra or {}),
    }
    path = out / "run.json"
    path.write_text(jsontext.dumps(doc))
    return path


def evaluate_promotions(store_path: Path, *, as_of: str | None = None, out: Path | None = None,
                        progress: Progress | None = None) -> dict[str, Any]:
    """The promotion response model judged out of time: trained on the campaigns before
    ``as_of`` (default: all but the last three with a complete response window), tested on the
    later ones against "highest churn risk first" and random targeting
    (:func:`loyalist.evaluation.promotions.evaluate_promotions`). With ``out``: the card
    (markdown and HTML), the JSON and the Qini curves (``paths``). The store is only read."""
    from loyalist.evaluation import promotions as ev

    say = progress or (lambda _m: None)
    started = time.perf_counter()
    with Store(store_path, read_only=True) as st:
        ts, _ = ev.check_history(st, as_of=as_of)  # refused before the work is announced
        say(f"training the response model on the campaigns before {ts.date()}, testing it on "
            "those sent from then")
        res = ev.evaluate_promotions(st, as_of=ts)
        if out is not None:
            say("scoring the test campaigns again for the Qini curves")
            res["curves"] = ev.qini_curves(st, res)
    res["paths"] = ({k: str(v) for k, v in ev.write_promotion_card(res, out).items()}
                    if out is not None else {})
    res["seconds"] = round(time.perf_counter() - started, 2)
    return res


# --- demand models: recommendations and forecasts ----------------------------------------
#: the file the recommendations are written to (and the store table s.T_RECOMMENDATIONS,
#: keyed by as_of, method, customer)
RECOMMENDATIONS_CSV = "recommendations.csv"
RECOMMENDATION_COLUMNS = (s.CUSTOMER_ID, "rank", s.PRODUCT_ID, "score", "method")

FORECAST_BY = ("category", "store_id", "country")
#: below this share of (customer, product) pairs bought again, a product already bought is
#: not recommended (a store of one-off items: nobody buys the same item twice)
MIN_REPEAT_SHARE = 0.01


def _check_n(n: object) -> None:
    """``-n`` (products per customer, companions per product): an integer 1..1000."""
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 1000:
        raise ParameterError(f"-n {n!r} is impossible; use an integer 1..1000")


def _check_min_count(min_count: object) -> None:
    """``--min-count`` (fewest shared orders for a basket rule): an integer >= 1."""
    if isinstance(min_count, bool) or not isinstance(min_count, int) or min_count < 1:
        raise ParameterError(f"--min-count {min_count!r} is impossible; give the fewest orders "
                             "two products must share, a whole number >= 1, e.g. --min-count 5")


def _rec_as_of(st: Store, as_of: str | pd.Timestamp | None) -> pd.Timestamp:
    """``as_of`` for recommendations: the default, or one at most
    :data:`~loyalist.evaluation.splits.MAX_GAP_DAYS` after the last purchase (as `train`
    and `forecast` allow): a later one would rank products on a past that stopped long
    before, and replace the store's recommendations under a date with no data."""
    from loyalist.evaluation.splits import check_observed

    if as_of is None:
        return st.default_as_of()
    ts = to_as_of(as_of)
    if st.has_rows(s.T_TRANSACTIONS):
        check_observed(st.date_range()[1], ts, why="nothing is known of what sells then")
    return ts


def _interactions(store_path: Path | str, as_of: str | pd.Timestamp | None
                  ) -> tuple[Any, pd.Timestamp]:
    """Customer purchases before ``as_of`` as :class:`~loyalist.recommend.Interactions`."""
    from loyalist.features import no_purchase_error
    from loyalist.recommend.interactions import Interactions

    with Store(store_path, read_only=True) as st:
        ts = _rec_as_of(st, as_of)
        data = Interactions.from_store(st, ts)
        if data.events.empty:
            raise DataError(f"{store_path}: {no_purchase_error(st, ts)}")
    _require_two_products(store_path, data.items[:data.n_warm_items], ts)
    return data, ts


def _require_known_customers(store_path: Path | str, ids: Sequence[str]) -> None:
    """A customer id must be in the store (transactions or the customers table): a typo would
    otherwise get cold-start recommendations as if it were a new customer."""
    with Store(store_path, read_only=True) as st:
        st.require(s.T_TRANSACTIONS)
        frame = pd.DataFrame({s.CUSTOMER_ID: list(dict.fromkeys(ids))})
        st.con.register("__asked", frame)
        try:
            cid = s.CUSTOMER_ID
            where = f"SELECT 1 FROM {s.T_TRANSACTIONS} t WHERE t.{cid} = a.{cid}"
            if st.has_rows(s.T_CUSTOMERS):
                where += f" UNION ALL SELECT 1 FROM {s.T_CUSTOMERS} c WHERE c.{cid} = a.{cid}"
            unknown = [r[0] for r in st.con.execute(
                f"SELECT {cid} FROM __asked a WHERE NOT EXISTS ({where})").fetchall()]
        finally:
            st.con.unregister("__asked")
    if unknown:
        more = f" (and {len(unknown) - 1:,} more)" if len(unknown) > 1 else ""
        raise DataError(
            f"{store_path}: customer {unknown[0]!r}{more} is not in the store (no transaction, "
            "not in the customers table); check the id, or load the customer first "
            "(loyalist ingest customers.csv) to get recommendations for a new customer")


def _require_products(store_path: Path | str, lines: pd.DataFrame, ts: pd.Timestamp) -> None:
    """Product models need two products at least (an order-level file has one placeholder)."""
    _require_two_products(store_path, lines.loc[lines[s.ORDERED_AT] < ts, s.PRODUCT_ID].unique(),
                          ts)


def _require_two_products(store_path: Path | str, products: Any, ts: pd.Timestamp) -> None:
    if len(products) == 1:
        raise DataError(
            f"{store_path}: the purchases before as_of {ts.date()} hold one product "
            f"({products[0]!r}), so there is nothing to recommend or pair; product models need "
            "order lines with product ids (load a line-level export, or name the product column "
            "with --map product_id=<column>)")


def _customers(customer: str | Sequence[str] | None) -> list[str] | None:
    if customer is None:
        return None
    ids = [customer] if isinstance(customer, str) else [str(c) for c in customer]
    ids = [customer_key(c) for c in ids if c and c.strip()]
    if not ids:
        raise ParameterError("--customer is empty; pass a customer id, e.g. --customer 12347")
    return ids


def recommend(store_path: Path | str, as_of: str | pd.Timestamp | None = None,
                  customer: str | Sequence[str] | None = None, out_dir: Path | str = "out",
                  n: int = 10, method: str = "hybrid", *, new_only: bool = False,
                  random_state: int | None = 0, save: bool = True,
                  progress: Progress | None = None) -> dict[str, Any]:
    """Fit ``method`` on purchases before ``as_of`` and recommend ``n`` products to
    ``customer`` (one id or several; default: every customer with a purchase before
    ``as_of``). ``new_only`` leaves out products the customer already bought.

    Writes ``out_dir/recommendations.csv`` (customer_id, rank, product_id, score, method,
    reason, because_of: :func:`loyalist.recommend.registry.reasons`) and,
    with ``save``, the store table ``recommendations`` (plus as_of and new_only), replacing the
    rows of the same as_of, method and customers. Returns a summary dict."""
    from loyalist.recommend.hybrid import HybridRecommender
    from loyalist.recommend.interactions import ON_SALE_DAYS
    from loyalist.recommend.registry import METHODS, make_model, reasons

    if method not in METHODS:
        raise ParameterError(f"--method {method!r} is unknown; use one of {', '.join(METHODS)}")
    _check_n(n)
    ids = _customers(customer)
    if ids is not None:
        _require_known_customers(store_path, ids)
    say = progress or (lambda _m: None)
    t0 = time.perf_counter()
    say("reading the purchases")
    data, ts = _interactions(store_path, as_of)
    say(f"fitting the {method} recommender on {len(data.events):,} purchases of "
        f"{data.n_customers:,} customers and {data.n_items:,} products")
    model = make_model(method, random_state=random_state).fit(data)
    fit_s = time.perf_counter() - t0
    targets = np.asarray(ids if ids is not None else data.customers, dtype=object)
    notes: list[str] = []
    repeat = data.repeat_share()
    if not new_only and repeat < MIN_REPEAT_SHARE:
        new_only = True
        notes.append(f"{repeat:.1%} of the products customers bought were bought again in "
                     f"another order (< {MIN_REPEAT_SHARE:.0%}): products a customer already "
                     "bought are left out, as with --new-only")
    on_sale = data.on_sale()
    candidates = None
    if n <= on_sale.sum() < data.n_warm_items:
        candidates = data.items[on_sale]
        notes.append(f"{data.n_warm_items - int(on_sale.sum()):,} products nobody bought in the "
                     f"{ON_SALE_DAYS} days before as_of (a past season's, or out of the range) "
                     "are not recommended")
    say(f"ranking {n} products for {len(targets):,} customers")
    items, scores = model.recommend(targets, n, exclude_purchased=new_only,
                                    candidates=candidates)
    say("why each product is on its list")
    why, because = reasons(model, method, targets, items, exclude_purchased=new_only)
    frame = _frame(targets, items, scores, method, why, because)
    say("writing the recommendations")
    out_path = Path(out_dir)
    out_path.mkdir(parents=True, exist_ok=True)
    csv = out_path / RECOMMENDATIONS_CSV
    frame.to_csv(csv, index=False)
    if save:
        stored = frame.assign(as_of=ts, new_only=bool(new_only))
        where, params = "as_of = ? AND method = ?", [ts.to_pydatetime(), method]
        if ids is not None:
            where += f" AND {s.CUSTOMER_ID} IN ({', '.join('?' * len(ids))})"
            params += list(ids)
        with Store(store_path) as st:
            st.write_frame(s.T_RECOMMENDATIONS, stored, replace_where=where, params=params)
    cold = int((data.customer_rows(targets) < 0).sum())
    result: dict[str, Any] = {
        "as_of": str(ts.date()), "method": method, "n": n, "new_only": bool(new_only),
        "customers": len(targets), "cold_start_customers": cold, "rows": len(frame),
        "catalogue_items": data.n_items, "training_purchases": len(data.events),
        "seconds": round(time.perf_counter() - t0, 2), "fit_seconds": round(fit_s, 2),
        "csv": str(csv), "table": s.T_RECOMMENDATIONS if save else None,
        "repeat_share": round(repeat, 4), "notes": notes,
        "reasons": {str(k): round(float(v), 4) for k, v in
                    frame["reason"].value_counts(normalize=True).items()},
    }
    if isinstance(model, HybridRecommender):
        result["weights"] = model.weights_
    if ids is not None and len(ids) <= 5:
        result["recommendations"] = frame.to_dict(orient="records")
    return result


def _frame(customers: np.ndarray, items: np.ndarray, scores: np.ndarray, method: str,
           why: np.ndarray, because: np.ndarray) -> pd.DataFrame:
    n = items.shape[1]
    frame = pd.DataFrame({
        s.CUSTOMER_ID: np.repeat(customers.astype(str), n),
        "rank": np.tile(np.arange(1, n + 1), len(customers)),
        s.PRODUCT_ID: items.ravel(), "score": np.round(scores.ravel(), 6), "method": method,
        "reason": why.ravel(), "because_of": because.ravel()})
    return frame[frame[s.PRODUCT_ID].notna()].reset_index(drop=True)


def evaluate_recommend(store_path: Path | str, as_of: str | pd.Timestamp | None = None,
                 test_days: int = 30, *, methods: Sequence[str] | None = None,
                 tune: bool = False, validation_days: int | None = None, k: int = 10,
                 out_dir: Path | str | None = None, random_state: int | None = 0,
                 progress: Progress | None = None) -> dict[str, Any]:
    """Temporal evaluation: fit on purchases before ``as_of``, test on the next ``test_days``;
    every method next to recent popularity, on both tasks (see
    :mod:`loyalist.recommend.evaluate`). ``tune`` chooses hyper-parameters on the
    ``validation_days`` before ``as_of`` first. Default ``as_of``: ``test_days`` before the
    day after the last transaction. With ``out_dir``, writes ``recommend_metrics.csv`` and
    ``recommend_evaluation.json``. The options are checked before ``progress`` hears of the
    work."""
    from loyalist.evaluation.splits import check_test_window
    from loyalist.recommend import interactions as inter_mod
    from loyalist.recommend.registry import METHODS
    from loyalist.recommend.tuning import compare

    test_days = check_days(test_days, "--test-days", max_days=MAX_TEST_DAYS, example=30)
    if validation_days is not None:
        validation_days = check_days(validation_days, "validation_days",
                                     max_days=MAX_TEST_DAYS, example=30)
    unknown = [m for m in methods or () if m not in METHODS]
    if unknown:
        raise ParameterError(f"--methods {', '.join(map(repr, unknown))}: unknown; give a "
                             f"comma-separated list of: {', '.join(METHODS)}")
    if progress is not None:
        progress(f"evaluating {', '.join(methods) if methods else 'every'} recommender on the "
                 f"{test_days} days after as_of" + (" (tuning first)" if tune else ""))
    t0 = time.perf_counter()
    with Store(store_path, read_only=True) as st:
        ts = to_as_of(as_of) if as_of is not None \
            else st.default_as_of() - pd.Timedelta(days=test_days)
        check_test_window(st.date_range()[1], ts, test_days, option="--test-days")
        lines, catalog = inter_mod.load(st, ts, horizon_days=test_days)
    _require_products(store_path, lines, ts)
    report = compare(lines, catalog, ts, test_days=test_days, methods=methods,
                     tune_params=tune, validation_days=validation_days, k=k,
                     random_state=random_state)
    report["seconds"] = round(time.perf_counter() - t0, 2)
    if out_dir is not None:
        path = Path(out_dir)
        path.mkdir(parents=True, exist_ok=True)
        pd.DataFrame(report["metrics"]).to_csv(path / "recommend_metrics.csv", index=False)
        (path / "recommend_evaluation.json").write_text(
            jsontext.dumps(report))
        report["outputs"] = [str(path / "recommend_metrics.csv"),
                             str(path / "recommend_evaluation.json")]
    return report


def forecast(store_path: str | Path, horizon: int = 30, out_dir: str | Path = "out",
                 by: str | None = None, country: str | None = None,
                 as_of: str | pd.Timestamp | None = None,
                 models: str | list[str] | tuple[str, ...] | None = None, *,
                 save: bool = True, progress: Progress | None = None) -> dict[str, Any]:
    """Forecast daily net revenue ``horizon`` days from ``as_of`` (default: the day after the
    last transaction) for the total and, with ``by``, each category / store / country.

    Writes into ``out_dir``: ``forecast.csv`` (series, date, model, mean, lo80, hi80, lo95,
    hi95; the chosen model per series), ``backtest.csv`` (series, model, origin, days, mape,
    smape, mase, coverage80, coverage95; every model and the honest ``auto`` selection) and
    ``forecast.png``; with ``save``, the same two tables to the store (``forecast`` and
    ``forecast_backtest``, plus ``as_of``), replacing the rows of the same as_of. Returns a
    JSON-ready dict: as_of, horizon, holidays, origins, per series
    the chosen model, its backtest metrics and the seasonal naive's, skipped series, files.
    ``models`` (names or a comma list) overrides the candidates (default
    :data:`loyalist.forecast.DEFAULT_MODELS`; the seasonal naive is always run). The options
    are checked before ``progress`` hears of the work.
    """
    from loyalist.forecast import forecast_daily_revenue, read_daily_revenue
    from loyalist.forecast.forecaster import MAX_HORIZON, MODELS
    from loyalist.forecast.plot import plot_forecast
    from loyalist.forecast.public_holidays import resolve_country

    t0 = time.perf_counter()
    horizon = check_days(horizon, "--horizon", max_days=MAX_HORIZON, example=30)
    if by is not None and by not in FORECAST_BY:
        raise ParameterError(f"--by {by!r} is not supported; use one of: {', '.join(FORECAST_BY)}")
    if country:
        resolve_country(country)  # fail on a bad --country before reading anything
    params: dict[str, Any] = {}
    if models:
        params["models"] = tuple(m.strip() for m in (models.split(",") if isinstance(models, str)
                                                     else models) if m.strip())
        unknown = [m for m in params["models"] if m not in MODELS]
        if unknown:
            raise ParameterError(f"--models {', '.join(map(repr, unknown))}: unknown; give a "
                                 f"comma-separated list of: {', '.join(MODELS)}")
    if progress is not None:
        progress(f"backtesting the candidate models and forecasting {horizon} days"
                 + (f" (total and per {by})" if by else ""))
    with Store(store_path, read_only=True) as st:
        ts = to_as_of(as_of) if as_of is not None else st.default_as_of()
        daily, by_country = read_daily_revenue(st, as_of=ts, by=by)
    fc = forecast_daily_revenue(daily, by_country, as_of=ts, horizon=horizon, by=by,
                                country=country, **params)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {"forecast": out / "forecast.csv", "backtest": out / "backtest.csv",
             "plot": out / "forecast.png"}
    fcst = fc.predict()
    fcst.assign(date=fcst["date"].dt.date).to_csv(files["forecast"], index=False)
    bt = fc.backtest_.assign(origin=fc.backtest_["origin"].dt.date)
    bt.to_csv(files["backtest"], index=False)
    plot_forecast(fc.series_, fcst, files["plot"], chosen=fc.chosen_)
    if save:
        where, at = "as_of = ?", [ts.to_pydatetime()]
        with Store(store_path) as st:
            st.write_frame(s.T_FORECAST, fcst.assign(as_of=ts), replace_where=where, params=at)
            st.write_frame(s.T_FORECAST_BACKTEST, fc.backtest_.assign(as_of=ts),
                           replace_where=where, params=at)
    business = fc.countries_.get("total")
    return {
        "as_of": str(ts.date()),
        "horizon": horizon,
        "by": by,
        "models": fc.models_,
        "holidays": fc.calendars_["total"].country.label
        if fc.calendars_["total"].country else None,
        "holidays_source": business.source if business else None,
        "origins": [str(o.date()) for o in fc.origins_],
        "series": fc.report(),
        "skipped": fc.skipped_,
        "files": {k: str(v) for k, v in files.items()},
        "seconds": round(time.perf_counter() - t0, 2),
    }


# --- promotion plan ---------------------------------------------------------------------
PLAN_FILES = ("plan.csv", "promotions.csv", "allocation.csv", "segments.csv",
              "sensitivity.csv", "plan.json", "plan.png")


def _median_order_value(st: Store, ts: pd.Timestamp) -> float:
    """The median value of the customers' orders before ``ts`` (a plan's offers go to
    customers), from the per-order table when it is up to date, else from the lines (a store
    from an older version)."""
    from loyalist.features import orders

    if st.has_table(s.T_CUSTOMER_ORDERS) and orders.is_fresh(st.con):
        sql = (f"SELECT median(buy_amt) AS m FROM {s.T_CUSTOMER_ORDERS} "
               "WHERE ts < ? AND buy_amt > 0")
    else:
        sql = (f"SELECT median(v) AS m FROM (SELECT sum({s.AMOUNT}) AS v FROM "
               f"{s.T_TRANSACTIONS} WHERE {s.LINE_KIND} = 'sale' AND {s.QUANTITY} > 0 AND "
               f"NOT {s.IS_GUEST} AND "
               f"{s.ORDERED_AT} < ? GROUP BY {s.ORDER_ID}) WHERE v > 0")
    return st.query(sql, [ts.to_pydatetime()])["m"].iloc[0]


def plan_inputs(st: Store, ts: pd.Timestamp, *, catalog: Path | None = None,
                window_days: int | None = None, period_days: int = 30,
                priors: pd.DataFrame | None = None) -> dict[str, Any]:
    """Everything a plan reads from the store at ``ts``: catalog (file > store > generic),
    merchant context, customer scores and features, and the response model fitted at ``ts``
    (never a stored one) with its predictions for every customer known at ``ts``. ``priors``:
    checked rows replacing the documented priors' (:func:`load_priors`); ``priors`` in the
    result says which were used."""
    from loyalist.promote.catalog import (
        catalog_points_rate,
        generic_catalog,
        load_catalog,
        normalise_catalog,
    )
    from loyalist.response import ResponseModel, build_training_set, response_features
    from loyalist.response.data import MAX_EXPOSURES, SAMPLE_NOTE, offer_item_prices
    from loyalist.response.priors import priors_note, with_overrides

    assumptions: list[str] = []
    if catalog is not None:
        cat = load_catalog(catalog)
    elif st.has_rows(s.T_CATALOG):
        cat = normalise_catalog(st.table(s.T_CATALOG).drop(columns=[s.LOAD_ID]),
                                source=f"store table {s.T_CATALOG}")
    else:
        median = _median_order_value(st, ts)
        cat, what = generic_catalog(None if pd.isna(median) else float(median))
        cat = normalise_catalog(cat, source="generic catalog")
        assumptions.append(what)
    competitors = st.table(s.T_COMPETITORS) if st.has_rows(s.T_COMPETITORS) else None
    inventory = st.table(s.T_INVENTORY) if st.has_rows(s.T_INVENTORY) else None
    from loyalist.evaluation.splits import check_observed

    check_observed(st.date_range()[1], ts)  # beyond the data, `train` would refuse it too
    if not st.has_table(s.T_SCORES) or st.query(
            f"SELECT count(*) AS n FROM {s.T_SCORES} WHERE as_of = ?",
            [ts.to_pydatetime()])["n"].iloc[0] == 0:
        raise DataError(f"{st.path}: no customer scores at as_of {ts.date()}; run `loyalist "
                        f"train --store {st.path} --as-of {ts.date()}` first")
    scores = st.query(f"SELECT * FROM {s.T_SCORES} WHERE as_of = ?", [ts.to_pydatetime()])
    # the exposures of a sample of customers when there are many (MAX_EXPOSURES), sampled
    # before their features are built: on a 10M-line store building all 1.56M first took
    # most of the plan's time and 3 GB
    training = build_training_set(st, cutoff=ts, window_days=window_days,
                                  max_rows=MAX_EXPOSURES)
    assumptions += [n for n in training.notes if n.startswith(SAMPLE_NOTE)]
    prices = offer_item_prices(st, cat)
    points_rate, _ = catalog_points_rate(cat)  # the merchant's points value, else 3%
    model = ResponseModel(points_rate=points_rate,
                          prior_table=None if priors is None else with_overrides(priors)).fit(
        training, cat, item_prices=prices)
    feats = response_features(st, ts, window_days=model.window_days_)
    pred = model.predict(feats)
    note, used_priors = priors_note(model.sources_, priors,
                                    use_rate_for=pred.attrs.get("use_rate_assumed", []),
                                    kinds=dict(zip(cat["name"].astype(str),
                                                   cat["kind"].astype(str), strict=True)))
    if note:
        assumptions.append(note)
    if pred.attrs.get("order_value_note"):  # how vouchers' top-ups were valued
        assumptions.append(pred.attrs["order_value_note"])
    cust = feats.set_index(s.CUSTOMER_ID)
    sc = scores.set_index(s.CUSTOMER_ID)
    cust = cust.join(sc[[c for c in ("rfm_segment", "churn_probability", "churn_tier", "reasons",
                                     "clv_expected", "p_alive") if c in sc]], how="left")
    cust["segment"] = cust["rfm_segment"].fillna(s.NEW_SEGMENT) \
        if "rfm_segment" in cust else "all"
    if st.has_rows(s.T_CUSTOMERS):
        extra = st.query(f"SELECT {s.CUSTOMER_ID}, {s.MARKETING_CONSENT}, {s.EMAIL_OPT_OUT} "
                         f"FROM {s.T_CUSTOMERS}").set_index(s.CUSTOMER_ID)
        cust = cust.join(extra, how="left")
    if st.has_rows(s.T_PROMOTIONS):
        last = st.query(f"""SELECT {s.CUSTOMER_ID}, max({s.SENT_AT}) AS last_contact_at
                            FROM {s.T_PROMOTIONS} WHERE {s.SENT_AT} < ?
                              AND {s.PROMOTION} <> '{s.CONTROL}' GROUP BY 1""",
                        [ts.to_pydatetime()]).set_index(s.CUSTOMER_ID)
        cust = cust.join(last, how="left")
    from loyalist.promote.plan import closed_season, promotion_season_factors, seasonal_factor

    daily = st.query(f"""SELECT CAST({s.ORDERED_AT} AS DATE) AS day,
                                count(DISTINCT {s.ORDER_ID}) AS orders
                         FROM {s.T_TRANSACTIONS}
                         WHERE {s.ORDERED_AT} < ? AND {s.LINE_KIND} = 'sale' GROUP BY 1""",
                     [ts.to_pydatetime()])
    daily = pd.Series(daily["orders"].to_numpy(dtype=float),
                      index=pd.to_datetime(daily["day"])).sort_index()
    if len(daily):
        daily = daily.reindex(pd.date_range(daily.index.min(), ts - pd.Timedelta(days=1)),
                              fill_value=0.0)
    starts = sorted(pd.to_datetime(training.frame["sent_at"]).dt.normalize().unique()) \
        if "sent_at" in training.frame else []
    season, season_note = seasonal_factor(daily, ts, period_days, list(starts),
                                          model.window_days_)
    f = training.frame
    sends = ({str(p): sorted(pd.to_datetime(g[s.SENT_AT]).dt.normalize().unique())
              for p, g in f[f[s.PROMOTION] != s.CONTROL].groupby(s.PROMOTION)}
             if s.SENT_AT in f and s.PROMOTION in f else {})
    by_promotion = promotion_season_factors(daily, ts, period_days, sends, model.window_days_)
    return {"catalog": cat, "competitors": competitors, "inventory": inventory,
            "customers": cust, "predictions": pred, "model": model,
            "assumptions": assumptions, "priors": used_priors, "season_factor": season,
            "season_note": season_note,
            "promotion_season": by_promotion,
            "closed_season": closed_season(daily, ts, period_days)}


def load_priors(priors: Path | str | pd.DataFrame | None) -> pd.DataFrame | None:
    """The checked rows of a priors file (``--priors``), or of a frame of them (the API's
    ``priors``; ``attrs["source"]`` names it), that replace the documented priors' own
    (:func:`loyalist.promote.catalog.normalise_priors`); None: the documented priors."""
    from loyalist.promote.catalog import load_priors as load_file
    from loyalist.promote.catalog import normalise_priors

    if priors is None:
        return None
    if isinstance(priors, pd.DataFrame):
        return normalise_priors(priors, source=str(priors.attrs.get("source", "priors")))
    return load_file(priors)


#: the first line of ``loyalist priors --out FILE``: what the columns mean
PRIORS_HEADER = (
    "# Loyalist's documented response priors, for promotions without a measured response "
    "(no history with a control group). kind: promotion kind ('default': kinds without rows "
    "of their own); segment: the customer's lifecycle at the plan date (new, active, lapsing, "
    "lost); incremental_prob: extra purchase probability in the response window (0-1); "
    "use_rate: share of buyers who use the offer (0-1). Keep the rows to change and pass the "
    "file with `loyalist plan --priors FILE`; rows left out keep these defaults.")


def prior_defaults(out: Path | None = None) -> dict[str, Any]:
    """The documented priors (:data:`loyalist.response.priors.PRIOR_TABLE`) as rows, and
    written to ``out`` (a CSV file, :data:`PRIORS_HEADER` first) when given."""
    from loyalist.response.priors import PRIOR_TABLE

    res: dict[str, Any] = {"priors": PRIOR_TABLE.to_dict(orient="records"),
                           "header": PRIORS_HEADER}
    if out is not None:
        if out.suffix.lower() != ".csv":
            raise ParameterError(f"--out {out}: the defaults are written as CSV; give a .csv "
                                 "file, e.g. --out priors.csv")
        if out.is_dir():
            raise ParameterError(f"--out {out}: a folder; give a .csv file, e.g. "
                                 f"--out {out / 'priors.csv'}")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(PRIORS_HEADER + "\n" + PRIOR_TABLE.to_csv(index=False))
        res["file"] = str(out)
    return res


def plan_params(budget: float | None, goal: str, period: int, *,
                budget_per_month: float | None = None, **kw: Any) -> PlanParams:
    """Checked :class:`~loyalist.promote.catalog.PlanParams` from the CLI / API options:
    exactly one of ``budget`` (the period's total) and ``budget_per_month``."""
    from loyalist.promote.catalog import PlanParams

    if budget is not None and budget_per_month is not None:
        raise ParameterError("--budget and --budget-per-month both given; give the period's "
                             "total with --budget or a monthly amount with --budget-per-month")
    if budget is None and budget_per_month is None:
        raise ParameterError("no budget given: pass --budget (the period's total) or "
                             "--budget-per-month")
    return PlanParams(budget=0.0 if budget is None else budget, goal=goal, period_days=period,
                      budget_per_month=budget_per_month, **kw).check()


def plan(store_path: Path, *, budget: float | None = None, goal: str = "retention",
         period: int = 30, segments: Sequence[str] | None = None, catalog: Path | None = None,
         constraints: Path | None = None, clear: Sequence[str] | None = None,
         max_segment_share: float | None = None, cooldown_days: int | None = None,
         as_of: str | None = None, out: Path | None = None, save: bool = True,
         offer_fit: bool = True, budget_per_month: float | None = None,
         progress: Progress | None = None, stale_check: bool = True,
         priors: Path | pd.DataFrame | None = None) -> dict[str, Any]:
    """A budget-optimal promotion plan for ``goal`` over the next ``period`` days, written to
    ``out`` (see :data:`PLAN_FILES`) and to the store tables ``plans`` / ``plan_customers``.
    The budget is the period's total (``budget``) or an amount per 30-day month
    (``budget_per_month``: sends are scheduled so that no month spends more).
    ``offer_fit=False`` drops the offer-fit assumption (:func:`loyalist.promote.plan.offer_fit`).
    ``stale_check`` warns when the data end long before today (off for a generated scenario,
    whose end is its simulated present). ``priors``: a priors file (:func:`load_priors`) or
    a frame of its rows (``attrs["source"]`` names it in messages and in the assumptions)."""
    from loyalist.promote.catalog import load_constraints
    from loyalist.promote.plan import PlanContext, make_plan, match_categories

    say = progress or (lambda _m: None)
    params = plan_params(budget, goal, period, budget_per_month=budget_per_month,
                         segments=list(segments or []), clear_categories=list(clear or []),
                         offer_fit=offer_fit)
    cons = load_constraints(constraints, max_segment_share=max_segment_share,
                            cooldown_days=cooldown_days)
    overrides = load_priors(priors)
    t0 = time.perf_counter()
    with Store(store_path, read_only=True) as st:
        ts = resolve_as_of(st, as_of)
        stale = stale_data_warning(st.date_range()[1], as_of=ts) if stale_check else None
        clear_notes: list[str] = []
        if params.clear_categories:
            known = st.query(f"SELECT DISTINCT {s.CATEGORY} AS c FROM {s.T_LINES} "
                             f"WHERE {s.CATEGORY} IS NOT NULL")["c"].astype(str).tolist()
            params.clear_categories, clear_notes = match_categories(params.clear_categories,
                                                                    known)
        say("fitting the promotion response model")
        inp = plan_inputs(st, ts, catalog=catalog, period_days=period, priors=overrides)
    known = set(inp["customers"]["segment"].astype(str))
    unknown = [g for g in params.segments if g not in known]
    if unknown:
        raise ParameterError(f"--segments {unknown[0]!r} is not a segment at as_of {ts.date()}; "
                             f"segments: {', '.join(sorted(known))}")
    ctx = PlanContext(customers=inp["customers"], catalog=inp["catalog"], as_of=ts,
                      inventory=inp["inventory"], competitors=inp["competitors"],
                      assumptions=clear_notes + inp["assumptions"],
                      item_prices=dict(inp["model"].item_prices_),
                      season_factor=inp["season_factor"], season_note=inp["season_note"],
                      promotion_season=inp["promotion_season"],
                      closed_season=inp["closed_season"])
    say("optimising the plan")
    res = make_plan(inp["predictions"], ctx, params, cons)
    summ = res["summary"]
    summ["warnings"] = [*summ.get("warnings", []), *([stale] if stale else [])]
    summ["constraints"] = cons.as_dict()
    summ["response_model"] = inp["model"].summary()
    summ["priors"] = inp["priors"]
    # the parameters and what they chose: the same plan re-made on the same data keeps its id
    # (and replaces its rows); another store's plan with the same parameters gets its own
    chose = res["customers"][[s.CUSTOMER_ID, "promotion"]]
    key = json.dumps({"as_of": str(ts), "params": params.__dict__, "constraints": cons.as_dict(),
                      "catalog": inp["catalog"].to_dict(orient="records"),
                      "customers": len(inp["customers"]),
                      **({"priors": overrides.to_dict(orient="records")}
                         if overrides is not None else {}),
                      "chosen": hashlib.sha256(pd.util.hash_pandas_object(
                          chose, index=False).to_numpy().tobytes()).hexdigest()},
                     sort_keys=True, default=str)
    summ["plan_id"] = hashlib.sha256(key.encode()).hexdigest()[:12]
    summ["seconds"] = round(time.perf_counter() - t0, 2)
    if out is not None:
        summ["files"] = write_plan(res, out)
    done = {**res, "summary": summ, "context": ctx, "constraints": cons,
            "predictions": inp["predictions"], "as_of": ts}
    if save:
        save_plan(store_path, done)
    return done


def save_plan(store_path: Path, planned: dict[str, Any]) -> None:
    """Write a plan made by :func:`plan` (``save=False``) to the store tables ``plans`` and
    ``plan_customers``, replacing a plan of the same id: a server makes the plan while it
    still answers reads, and takes the store to itself only for this."""
    summ = planned["summary"]
    # without the files `--out` wrote: paths on the machine (and from the folder) the command
    # ran in, meaningless to the API and dashboard that serve the stored plan
    stored = {k: v for k, v in summ.items() if k != "files"}
    with Store(store_path) as st:
        st.write_frame(s.T_PLANS, pd.DataFrame({
            "plan_id": [summ["plan_id"]], "as_of": [planned["as_of"]],
            "goal": [summ["goal"]], "budget": [float(summ["budget"])],
            "summary": [jsontext.dumps(stored, indent=None)]}),
            replace_where="plan_id = ?", params=[summ["plan_id"]])
        st.write_frame(s.T_PLAN_CUSTOMERS,
                       planned["customers"].assign(plan_id=summ["plan_id"]),
                       replace_where="plan_id = ?", params=[summ["plan_id"]])


def write_plan(res: dict[str, Any], out: Path) -> dict[str, str]:
    """The plan's tables (CSV), its JSON and a picture of allocation and sensitivity."""
    from loyalist.promote.report import plot_plan

    out.mkdir(parents=True, exist_ok=True)
    files = {}
    for name in ("customers", "promotions", "allocation", "segments", "sensitivity"):
        fname = "plan.csv" if name == "customers" else f"{name}.csv"
        res[name].to_csv(out / fname, index=False)
        files[name] = str(out / fname)
    (out / "plan.json").write_text(jsontext.dumps(res["summary"]))
    files["json"] = str(out / "plan.json")
    plot_plan(res, out / "plan.png")
    files["plot"] = str(out / "plan.png")
    return files


def _baskets(store_path: Path | str, as_of: str | pd.Timestamp | None, min_count: int
             ) -> tuple[Any, pd.Series, pd.Timestamp]:
    """Basket rules over every order before ``as_of``, guest orders included (baskets need
    orders, not customers): the fitted :class:`FrequentlyBoughtTogether`, each product's
    latest description (empty when the data has none) and the as_of. The (order, product)
    codes come straight from DuckDB: 10M lines in a few seconds, where building the
    customer-level interaction structures took 29 s and 3.9 GB."""
    from loyalist.recommend.basket import FrequentlyBoughtTogether

    _check_min_count(min_count)
    model = FrequentlyBoughtTogether(min_count=min_count)
    model._validate_params()
    sale = (f"{s.LINE_KIND} = 'sale' AND {s.QUANTITY} > 0 AND {s.ORDERED_AT} < ? "
            f"AND {s.PRODUCT_ID} IS NOT NULL")
    with Store(store_path, read_only=True) as st:
        ts = _rec_as_of(st, as_of)
        at = [ts.to_pydatetime()]
        items = st.query(f"""SELECT {s.PRODUCT_ID}, arg_max({s.DESCRIPTION}, {s.ORDERED_AT})
                                 FILTER (WHERE {s.DESCRIPTION} IS NOT NULL) AS {s.DESCRIPTION}
                             FROM {s.T_TRANSACTIONS} WHERE {sale}
                             GROUP BY 1 ORDER BY 1""", at)
        if items.empty:
            raise DataError(f"{store_path}: no sale before as_of {ts.date()}; choose a later "
                            "--as-of")
        _require_two_products(store_path, items[s.PRODUCT_ID].unique(), ts)
        codes = st.con.execute(f"""
            WITH p AS (SELECT DISTINCT {s.ORDER_ID}, {s.PRODUCT_ID}
                       FROM {s.T_TRANSACTIONS} WHERE {sale})
            SELECT dense_rank() OVER (ORDER BY {s.ORDER_ID}) - 1 AS o,
                   dense_rank() OVER (ORDER BY {s.PRODUCT_ID}) - 1 AS i FROM p""",
                               at).fetchnumpy()
    ids = pd.Index(items[s.PRODUCT_ID].astype(str))
    model.fit_baskets(codes["o"].astype(np.int64), codes["i"].astype(np.int64), ids)
    return model, items[s.DESCRIPTION].set_axis(ids), ts


def bought_together(store_path: Path | str, product: Sequence[str], *,
                    as_of: str | pd.Timestamp | None = None, n: int = 10,
                    by: str = "confidence", min_count: int = 5) -> dict[str, Any]:
    """Frequently bought together: for each product, its ``n`` best companions by association
    rules over the orders before ``as_of`` (support, confidence, lift)."""
    from loyalist.recommend.basket import ORDERINGS

    _check_n(n)
    if by not in ORDERINGS:
        raise ParameterError(f"--by {by!r} is unknown; use one of: {', '.join(ORDERINGS)}")
    ids = [p.strip() for p in product if p and p.strip()]
    if not ids:
        raise ParameterError("--product is empty; pass a product id, e.g. --product 85123A")
    model, _, ts = _baskets(store_path, as_of, min_count)
    known = set(map(str, model.items_))
    unknown = [p for p in ids if p not in known]
    if len(unknown) == len(ids):
        raise DataError(f"product {unknown[0]!r} has no purchase before {ts.date()}; pass a "
                        f"product id from the transactions, e.g. {next(iter(sorted(known)))}")
    table = model.together(ids, n, by=by)
    return {"as_of": str(ts.date()), "by": by, "orders": int(model.n_orders_),
            "unknown_products": unknown,
            "rules": table.to_dict(orient="records")}


def basket_rules(store_path: Path | str, out_dir: Path, *,
                 as_of: str | pd.Timestamp | None = None, n: int = 5, min_count: int = 5,
                 save: bool = True) -> dict[str, Any]:
    """Every product's ``n`` best companions (association rules over all orders before
    ``as_of``, guest orders included), most-bought products first, written to
    ``out_dir/together.csv`` and (``save``) the store table ``basket_rules``: what to place,
    bundle or suggest next to what."""
    _check_n(n)
    model, names, ts = _baskets(store_path, as_of, min_count)
    by_orders = np.argsort(-model.item_orders_, kind="stable")
    table = model.together(np.asarray(model.items_, dtype=object)[by_orders], n)
    if table.empty:
        pairs = int(model.counts_.nnz // 2)
        if pairs:  # bought together often enough, but no more often than by chance
            raise DataError(
                f"{store_path}: {pairs:,} pair(s) of products were bought together in "
                f"{min_count} or more of the {model.n_orders_:,} orders before {ts.date()}, "
                f"but none more often than chance (lift above {model.min_lift:g}): the "
                "products sell independently of each other, so there are no basket rules to "
                "report")
        raise DataError(f"{store_path}: no two products were bought together in {min_count} or "
                        f"more of the {model.n_orders_:,} orders before {ts.date()}; there are "
                        "no basket rules to report")
    table.insert(1, "product_orders", model.item_orders_[
        model.items_.get_indexer(table[s.PRODUCT_ID].astype(str))].astype(np.int64))
    if names.notna().any():
        table.insert(1, s.DESCRIPTION, table[s.PRODUCT_ID].astype(str).map(names))
        table.insert(table.columns.get_loc("consequent") + 1, "consequent_description",
                     table["consequent"].astype(str).map(names))
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "together.csv"
    table.to_csv(path, index=False)
    if save:
        with Store(store_path) as st:
            st.write_frame(s.T_BASKET_RULES,
                           table.assign(orders=int(model.n_orders_), as_of=ts),
                           replace_where="as_of = ?", params=[ts.to_pydatetime()])
    return {"as_of": str(ts.date()), "orders": int(model.n_orders_),
            "products": int(table[s.PRODUCT_ID].nunique()), "rules": len(table),
            "csv": str(path)}


# --- report -----------------------------------------------------------------------------
def report(store_path: Path, out: Path, *, as_of: str | None = None,
           train_dir: Path | None = None, progress: Progress | None = None) -> dict[str, Any]:
    """A self-contained HTML report of every result the store holds, with BI exports (CSV
    and Parquet) of scores, segments, plan, forecast and recommendations, and ``run.json``.
    ``as_of`` picks the results of that cutoff (default: the latest of each kind);
    ``train_dir`` (the ``--out`` of ``train``) adds the model card's out-of-time metrics."""
    from loyalist.report import collect, draw_all, read_train_metrics, render_html, write_report

    say = progress or (lambda _m: None)
    t0 = time.perf_counter()
    metrics = read_train_metrics(train_dir) if train_dir is not None else None
    say("reading the store")
    with Store(store_path, read_only=True) as st:
        rep = collect(st, as_of=to_as_of(as_of) if as_of else None, train_metrics=metrics)
    say("drawing the pictures")
    images = draw_all(rep.sections)
    page = render_html(rep, images, exports=rep.exports, generated_at=datetime.now())
    say(f"writing the report and {len(rep.exports)} exports")
    out = Path(out)
    files = write_report(out, page, images, rep.exports)
    result = {"store": str(store_path), "as_of": str(rep.as_of.date()) if rep.as_of else None,
              "sections": list(rep.sections), "absent": rep.absent,
              "exports": {k: len(v) for k, v in rep.exports.items()}, "files": files,
              "summary": rep.summary(), "seconds": round(time.perf_counter() - t0, 2)}
    files["run"] = str(write_run_json(
        out, command="report", as_of=rep.as_of, inputs=[Path(store_path)],
        metrics=result["summary"], extra={k: v for k, v in result.items() if k != "summary"}))
    return result
