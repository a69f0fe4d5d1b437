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

import pandas as pd

from loyalist import __version__, jsontext
from loyalist import schema as s
from loyalist.errors import DataError, ParameterError, check_days
from loyalist.features import MAX_HORIZON_DAYS, to_as_of
from loyalist.pipeline.customers import (
    CLV_MODELS,
    clv_fit,
    evaluate_customers,
    evaluate_purchases,
    score,
    train,
)
from loyalist.pipeline.products import (
    FORECAST_BY,
    MAX_TEST_DAYS,
    MIN_REPEAT_SHARE,
    RECOMMENDATION_COLUMNS,
    RECOMMENDATIONS_CSV,
    basket_rules,
    bought_together,
    evaluate_recommend,
    forecast,
    recommend,
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
