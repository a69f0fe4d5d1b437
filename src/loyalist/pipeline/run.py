"""The whole job behind the facade: ``demo`` (a generated scenario) and ``run_all`` (the
merchant's own data) call every other part in turn; ``report`` and ``run.json``.
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
from typing import Any

import pandas as pd

from loyalist import __version__, jsontext, money
from loyalist import schema as s
from loyalist.errors import DataError, ParameterError, check_days
from loyalist.features import MAX_HORIZON_DAYS, to_as_of
from loyalist.ingest.adapters import is_guessed_note
from loyalist.pipeline.customers import train
from loyalist.pipeline.products import basket_rules, evaluate_recommend, forecast, recommend
from loyalist.pipeline.promotions import (
    UNUSED_HISTORY,
    campaign_results,
    check_budget_currency,
    load_priors,
    plan,
    plan_against_truth,
    plan_params,
)
from loyalist.pipeline.store import (
    Progress,
    data_warnings,
    features,
    generate,
    ingest,
    load_scenario,
    resolve_as_of,
)
from loyalist.store import Store, remove_store_files
from loyalist.store import currency as store_currency

# the facade's logger name, as before the package split (what `-v` and the API's log show)
log = logging.getLogger("loyalist.pipeline")

def demo(out: Path, *, scenario: str = "fashion", customers: int | None = None, months: int = 18,
         seed: int = 7, progress: Progress | None = None) -> dict[str, Any]:
    """The main job: generate a merchant scenario, load it into a fresh store, and run every
    part that exists, writing everything under ``out``."""
    say = progress or (lambda _m: None)
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    data_dir = out / "data"
    store_path = out / "loyalist.duckdb"
    remove_store_files(store_path)
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
    say("reading the latest campaign against its control group")
    campaign = campaign_results(store_path, out=out / "campaign")
    meta = json.loads(Path(gen["files"]["scenario"]).read_text())
    goal = meta["goal"]
    say(f"planning promotions: budget {meta['monthly_budget']:,.0f} a month, goal {goal}")
    planned = plan(store_path, budget_per_month=float(meta["monthly_budget"]), goal=goal,
                   stale_check=False,
                   period=int(meta["planning_period_days"]), as_of=str(as_of.date()),
                   out=out / "plan")
    plan_eval = plan_against_truth(Path(gen["files"]["truth_response"]), planned)
    say("writing the HTML report and exports")
    rep = report(store_path, out / "report", train_dir=out / "customers")
    result = {
        "out": str(out), "store": str(store_path), "scenario": gen, "as_of": str(as_of.date()),
        "currency": planned["summary"]["currency"],
        "loads": [{k: r[k] for k in ("table", "file", "rows_read", "rows_loaded",
                                     "rows_quarantined", "rules")} for r in reports],
        "customers_with_features": int(len(feats)),
        "customer_models": trained["summary"],
        "recommendations": {"customers": recs["customers"], "method": recs["method"],
                            "evaluation": rec_eval["summary"]},
        "bought_together": {k: together[k] for k in ("orders", "products", "rules")},
        "plan": {k: planned["summary"][k] for k in (
            "plan_id", "budget", "budget_per_month", "goal", "spend", "customers_targeted",
            "customers_considered", "excluded", "incremental_revenue", "net_profit", "roi",
            "confidence", "currency")}
                | {"against_truth": plan_eval},
        "campaign": campaign_summary(campaign),
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
                    **{f"campaign_{k}": v for k, v in campaign["paths"].items()},
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


def campaign_summary(res: dict[str, Any]) -> dict[str, Any]:
    """The latest campaign's readout in brief: its days, per promotion (and for all) the
    customers sent and held out and the incremental revenue with its 95% interval, and the
    :func:`campaign_line` the commands print."""
    def brief(r: dict[str, Any]) -> dict[str, Any]:
        rev = r.get("revenue") or {}
        return {"sent": r["sent"], "held_out": r["held_out"],
                "incremental_revenue": rev.get("total"),
                "incremental_revenue_lo95": rev.get("total_lo95"),
                "incremental_revenue_hi95": rev.get("total_hi95")}

    return {"days": res["days"], "window_days": res["window_days"],
            "promotions": {p: brief(r) for p, r in res["promotions"].items()},
            "total": brief(res["total"]), "line": campaign_line(res)}


def campaign_line(res: dict[str, Any]) -> str:
    """One line on the latest campaign: its day, sends, hold-out and incremental revenue (in
    the store's currency, ``res["currency"]``, when known)."""
    tot = res["total"]
    head = (f"{', '.join(res['days'])}: {tot['sent']:,} sent, {tot['held_out']:,} held out")
    if not tot.get("revenue"):
        return head + "; nothing measured (no hold-out on the send day)"
    rev = tot["revenue"]
    sure = [p for p, r in res["promotions"].items()
            if r.get("revenue") and r["revenue"]["total_lo95"] > 0]
    total = money.with_code(f"{rev['total']:+,.0f}", res.get("currency"))
    return (head + f"; incremental revenue {total} (95%: {rev['total_lo95']:+,.0f}"
            f" to {rev['total_hi95']:+,.0f}) over {res['window_days']} days; "
            f"{len(sure)} of {len(res['promotions'])} promotions measurably positive")


def run_all(store_path: Path, out: Path, *, files: Sequence[str | Path] = (),
            fmt: str = "auto", mapping: Sequence[str] | None = None,
            day_one: str | None = None, as_of: str | None = None,
            horizon: int = 90, budget: float | None = None, goal: str = "retention",
            period: int = 30, catalog: Path | None = None, constraints: Path | None = None,
            budget_per_month: float | None = None, forecast_days: int = 30,
            progress: Progress | None = None, priors: Path | None = None,
            currency: str | None = None, encoding: str | None = None,
            budget_currency: str | None = None) -> dict[str, Any]:
    """The main job on the merchant's own data: load ``files`` (if any) into ``store_path``,
    then features, customer models, recommendations, the revenue forecast (``forecast_days``
    ahead), a promotion plan (with ``budget``) and the report, all under ``out``.

    Parameters are checked before anything runs (a ParameterError stops it), and an
    ``as_of`` beyond the data before any step (with ``files``, the load is undone). A step
    the data cannot support (too few customers, one product, no categories...) is skipped
    with its reason and the rest go on; ``steps`` lists each step's status, detail and outputs. When
    churn and CLV cannot be trained, the customer models step still segments the customers
    (status ``partial``) and the plan runs on those segments. ``currency``: the ISO 4217
    code of the files' amounts (``--currency``, :func:`loyalist.ingest.ingest_files`);
    ``encoding``: their text encoding (``--encoding``, the same); ``budget_currency``: the
    currency the budget was typed in, refused unless the store's (a load that makes the
    store's another is undone)."""
    from loyalist.forecast.forecaster import MAX_HORIZON
    from loyalist.promote.catalog import amount_text
    from loyalist.promote.explain import goal_value_text, spend_range_text
    from loyalist.promote.season import CLOSED_SEASON

    say = progress or (lambda _m: None)
    started = time.perf_counter()
    check_days(horizon, "--horizon", max_days=MAX_HORIZON_DAYS, example=90)
    forecast_days = check_days(forecast_days, "--forecast-days", max_days=MAX_HORIZON,
                               example=30)
    if budget is not None or budget_per_month is not None:
        goal = plan_params(budget, goal, period, budget_per_month=budget_per_month).goal
    if as_of is not None:
        to_as_of(as_of)
    check_budget_currency(budget_currency, money.check_code(currency), budget,
                          budget_per_month)
    from loyalist.ingest.text import check_encoding

    check_encoding(encoding)
    # read now, so that a file the plan step would refuse stops the job before the load
    from loyalist.promote.catalog import load_catalog, load_constraints

    if catalog is not None:
        load_catalog(catalog)
    if constraints is not None:
        load_constraints(constraints)
    load_priors(priors)
    out.mkdir(parents=True, exist_ok=True)
    loads: list[dict[str, Any]] = []

    def check_load(st: Store) -> object:
        """An as_of the loaded data cannot support, or a budget typed in another currency
        than the loaded amounts', undoes the load, as any other refusal would."""
        check_budget_currency(budget_currency, store_currency(st), budget, budget_per_month)
        return st.has_rows(s.T_TRANSACTIONS) and resolve_as_of(st, as_of)

    if files:
        say(f"loading {len(files)} file(s) into {store_path}")
        loads = ingest(store_path, files, fmt=fmt, mapping=mapping, day_one=day_one,
                       progress=progress, currency=currency, encoding=encoding,
                       check=check_load)
        (out / "quality_report.json").write_text(jsontext.dumps(loads))
    elif not Path(store_path).exists():
        raise DataError(f"{store_path}: no such store; pass the data file(s) to load, e.g. "
                        f"loyalist run sales.csv --store {store_path}")
    with Store(store_path, read_only=True) as st:
        st.require(s.T_TRANSACTIONS)
        ts = resolve_as_of(st, as_of)
        has_category = bool(st.con.execute(
            f"SELECT count({s.CATEGORY}) > 0 FROM {s.T_LINES}").fetchall()[0][0])
        warnings = data_warnings(st, ts)
        code = store_currency(st)
        check_budget_currency(budget_currency, code, budget, budget_per_month)
    warnings += [w for w in map(quarantined_warning, loads) if w]
    for w in warnings:
        log.warning("%s", w)
    day = str(ts.date())
    steps: list[dict[str, Any]] = []
    partial: set[str] = set()  # steps that did only part of their work (said in the detail)

    def step(name: str, what: str, fn: Callable[[], tuple[str, dict[str, str]]]) -> None:
        say(what)
        t0 = time.perf_counter()

        def record(status: str, detail: str, outputs: dict[str, str] | None = None) -> None:
            steps.append({"step": name, "status": status, "detail": detail,
                          "outputs": outputs or {},
                          "seconds": round(time.perf_counter() - t0, 2)})

        try:
            detail, outputs = fn()
            record("partial" if name in partial else "done", detail, outputs)
        except DataError as e:  # the data cannot support this step: say why, go on
            log.info("%s skipped: %s", name, e)
            record("skipped", str(e))
        except ParameterError as e:  # a parameter the step refused (a constraints file naming
            # a promotion the catalog lacks): the run fails, naming it, after the other steps
            log.info("%s refused: %s", name, e)
            record("failed", str(e))
        except Exception as e:  # noqa: BLE001 - a fault in one step must not cost the others
            # (exploratory report 6a, G1: a plan step's crash left the run without a report)
            log.debug("%s failed", name, exc_info=True)
            first = (str(e).strip().splitlines() or [""])[0][:300]
            record("failed", f"{type(e).__name__}: {first} (an internal error; the other "
                             "steps ran; `loyalist -v run ...` shows where, please report it)")

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
        notes = "".join(f"; {n}" for n in [*tot["calendar"]["notes"], *tot["notes"]])
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
        why += "".join(f"; WARNING: {w}" for w in sm["warnings"]
                       if w.startswith((CLOSED_SEASON, UNUSED_HISTORY)))
        return (f"{sm['goal']}: {sm['customers_targeted']:,} customers, spend "
                f"{amount_text(sm['spend'])}{spend_range_text(sm)} of "
                f"{money.amount(sm['budget'], code)}"
                f", expected "
                f"{goal_value_text(sm['goal'], sm['goal_value'], sm.get('goal_unit'))}"
                + ("; by segment and response model only: no churn risk or value scores"
                   if "customer_models" in partial else "") + why,
                {f"plan_{k}": str(v) for k, v in sm["files"].items()})

    def do_campaign() -> tuple[str, dict[str, str]]:
        res = campaign_results(store_path, as_of=day, out=out / "campaign")
        return campaign_line(res), {f"campaign_{k}": v for k, v in res["paths"].items()}

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
    step("campaign", "reading the latest campaign against its hold-out", do_campaign)
    step("plan", "planning promotions", do_plan)
    step("report", "writing the HTML report and exports", do_report)
    result = {"out": str(out), "store": str(store_path), "as_of": day, "currency": code,
              "loads": [{**{k: r.get(k) for k in ("table", "format", "file", "rows_read",
                                                  "rows_loaded", "rows_quarantined", "status",
                                                  "note")},
                         # columns taken by the words of their names or by their values: a
                         # guess the merchant should see before reading any result
                         "guessed": [a for a in r.get("assumptions", []) if is_guessed_note(a)]}
                        for r in loads],
              # a folder's files that were not read (documents, side tables), and why
              "left_out": [a for r in loads for a in r.get("assumptions", [])
                           if " was not read: " in a],
              "steps": steps, "warnings": warnings,
              "seconds": round(time.perf_counter() - started, 2)}
    write_run_json(out, command="run", as_of=ts, inputs=[Path(f) for f in files],
                   metrics={}, extra=result)
    return result


#: share of a file's revenue read that, quarantined, makes the run warn
QUARANTINED_SHARE = 0.1


def quarantined_warning(load: dict[str, Any]) -> str | None:
    """A sentence when quarantine took at least :data:`QUARANTINED_SHARE` of a file's revenue
    read (exploratory report 10: exact duplicates were 29% of a shop's revenue, said only in
    the quality report), naming the rules that took most."""
    details = load.get("rule_details") or {}
    took = sorted(((d.get("share_revenue") or 0.0, rule) for rule, d in details.items()
                   if d.get("action") == "quarantine"), reverse=True)
    total = sum(share for share, _ in took)
    if total < QUARANTINED_SHARE:
        return None
    rules = ", ".join(f"{rule} {share:.0%}" for share, rule in took if share >= 0.01)
    return (f"{Path(str(load.get('file'))).name}: {total:.0%} of the revenue read was "
            f"quarantined ({rules}), so it is in no result; see quality_report.json for why, "
            "and fix the file or map its columns if that is wrong")


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
    images = draw_all(rep.sections, rep.currency)
    page = render_html(rep, images, exports=rep.exports, generated_at=datetime.now())
    say(f"writing the report and {len(rep.exports)} exports")
    out = Path(out)
    files = write_report(out, page, images, rep.exports, rep.currency)
    result = {"store": str(store_path), "as_of": str(rep.as_of.date()) if rep.as_of else None,
              "sections": list(rep.sections), "absent": rep.absent,
              "exports": {k: len(v) for k, v in rep.exports.items()}, "files": files,
              "summary": rep.summary(), "seconds": round(time.perf_counter() - t0, 2)}
    files["run"] = str(write_run_json(
        out, command="report", as_of=rep.as_of, inputs=[Path(store_path)],
        metrics=result["summary"], extra={k: v for k, v in result.items() if k != "summary"}))
    return result
