"""Promotion response benchmark on the generated fashion, coffee and electronics scenarios.

Per scenario (``--customers`` customers, ``--months`` months, seed ``--seed``, its own response
window), generated and loaded into a temporary store:

1. Speed: build the training set (every exposure whose window closed by the end of the
   history), fit the default ``ResponseModel`` (relative-lift learner: a fit on every row and
   5 bootstrap bags) and score every customer x catalog promotion: median of ``--trials``
   runs, and each step; each trial also runs with ``n_jobs=1`` (one promotion at a time, as
   before promotions were fitted in parallel threads) for the speed-up in the same run.
2. Out of time: each learner (relative_lift, t, x) trained on campaigns before the cutoff (the
   3rd-last campaign with a complete window) and evaluated on the later ones: pooled Qini
   coefficient and uplift@10%/30% on the window's purchase and spend, against random targeting
   (mean of 20 orderings, and the 90th percentile of their Qini) and the churn-risk heuristic;
   per-promotion spend Qini.
3. Truth: each learner fitted on the whole history and scored at its end, against the
   generator's ``truth_response`` (read here, for evaluation only): Spearman correlation and
   ratio of totals of incremental revenue, purchase probability and margin per (customer,
   promotion), and of the directly learned spend uplift against the true revenue.

Prints tables and one JSON line (prefix ``BENCH_JSON``), also written to
benchmarks/results/response.json.

    uv run python benchmarks/bench_response.py [--trials 3] [--customers 5000] [--months 18]
                                               [--scenarios fashion coffee electronics]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see loyalist.evaluation.boosting

import lightgbm  # noqa: E402
import pandas as pd  # noqa: E402

import loyalist  # noqa: E402
from loyalist import pipeline  # noqa: E402
from loyalist.generate import SCENARIOS  # noqa: E402
from loyalist.response import (  # noqa: E402
    ResponseModel,
    build_training_set,
    compare_with_truth,
    evaluate_out_of_time,
    offer_item_prices,
    response_features,
)
from loyalist.store import Store  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
LEARNERS = ("relative_lift", "t", "x")


def build_store(scenario: str, customers: int, months: int, seed: int, out: Path
                ) -> dict[str, Any]:
    t0 = time.perf_counter()
    gen = pipeline.generate(scenario, customers=customers, months=months, seed=seed,
                            out=out / "data")
    store = out / "store.duckdb"
    pipeline.load_scenario(store, gen["files"])
    return {"store": store, "files": gen["files"], "transactions": gen["transactions"],
            "seconds": time.perf_counter() - t0}


def fit_and_score(store: Path, catalog: pd.DataFrame, window: int, learner: str,
                  n_jobs: int | None = None
                  ) -> tuple[dict[str, float], pd.DataFrame, ResponseModel]:
    """One end-to-end run, timed by step."""
    with Store(store, read_only=True) as st:
        end = st.default_as_of()
        t0 = time.perf_counter()
        training = build_training_set(st, cutoff=end, window_days=window)
        prices = offer_item_prices(st, catalog)
        t1 = time.perf_counter()
        model = ResponseModel(learner=learner, learner_params={"n_jobs": n_jobs}).fit(
            training, catalog, item_prices=prices)
        t2 = time.perf_counter()
        feats = response_features(st, end, window_days=window)
        pred = model.predict(feats)
        t3 = time.perf_counter()
    return ({"training_set_s": t1 - t0, "fit_s": t2 - t1, "score_s": t3 - t2, "total_s": t3 - t0,
             "exposures": float(len(training.frame)), "rows_scored": float(len(pred))},
            pred, model)


def bench_scenario(name: str, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    m = SCENARIOS[name]
    window = m.response_window_days
    built = build_store(name, args.customers, args.months, args.seed, tmp / name)
    catalog = pd.read_csv(built["files"]["catalog"])
    truth = pd.read_parquet(built["files"]["truth_response"])  # evaluation only
    out: dict[str, Any] = {"customers": args.customers, "months": args.months,
                           "window_days": window, "transactions": built["transactions"],
                           "generate_and_load_s": built["seconds"]}
    runs, serial = [], []
    pred = None
    for _ in range(args.trials):
        serial.append(fit_and_score(built["store"], catalog, window, "relative_lift", 1)[0])
        times, pred, model = fit_and_score(built["store"], catalog, window, "relative_lift")
        runs.append(times)
    out["speed"] = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    out["speed"]["total_runs_s"] = [r["total_s"] for r in runs]
    out["speed"]["n_jobs_1"] = {k: statistics.median(r[k] for r in serial) for k in serial[0]}
    out["speed"]["cpus"] = os.cpu_count()
    out["sources"] = model.summary()["sources"]
    out["truth"] = {"relative_lift": compare_with_truth(pred, truth)}
    out["out_of_time"] = {}
    for learner in args.learners:
        if learner != "relative_lift":
            _, p, _ = fit_and_score(built["store"], catalog, window, learner)
            out["truth"][learner] = compare_with_truth(p, truth)
        with Store(built["store"], read_only=True) as st:
            ev = evaluate_out_of_time(st, learner=learner, window_days=window)
        out["out_of_time"][learner] = {
            "cutoff": ev["cutoff"], "end": ev["end"], "fit_seconds": ev["fit_seconds"],
            "train_exposures": ev["train"]["exposures"],
            "test_exposures": ev["test"]["exposures"], "pooled": ev["pooled"],
            "spend_qini_by_promotion": {
                p: {"model": r["spend"]["model"]["qini"],
                    "churn_heuristic": r["spend"]["churn_heuristic"]["qini"],
                    "random_p90": r["spend"]["random_qini_p90"],
                    "n_treated": r["spend"]["n_treated"]}
                for p, r in ev["promotions"].items()}}
    return out


def _f(v: Any, nd: int = 3) -> str:
    return "-" if v is None else f"{v:.{nd}f}"


def report(results: dict[str, Any]) -> None:
    print(f"{'scenario':<12} {'exposures':>9} {'train set s':>11} {'fit s':>7} {'score s':>8} "
          f"{'total s':>8} {'rows':>7}  {'1 job: fit s':>12} {'score s':>8} {'speed-up':>8}")
    for name, r in results["scenarios"].items():
        sp, one = r["speed"], r["speed"]["n_jobs_1"]
        print(f"{name:<12} {int(sp['exposures']):>9} {sp['training_set_s']:>11.2f} "
              f"{sp['fit_s']:>7.2f} {sp['score_s']:>8.2f} {sp['total_s']:>8.2f} "
              f"{int(sp['rows_scored']):>7}  {one['fit_s']:>12.2f} {one['score_s']:>8.2f} "
              f"{(one['fit_s'] + one['score_s']) / (sp['fit_s'] + sp['score_s']):>7.2f}x")
    print()
    print(f"{'scenario':<12} {'learner':<14} {'outcome':<9} {'qini':>8} {'churn':>8} "
          f"{'random':>8} {'rnd p90':>8} {'u@10':>8} {'u@10 rnd':>8} {'u@30':>8}")
    for name, r in results["scenarios"].items():
        for learner, ev in r["out_of_time"].items():
            for outcome in ("purchase", "spend"):
                p = ev["pooled"][outcome]
                nd = 4 if outcome == "purchase" else 2
                print(f"{name:<12} {learner:<14} {outcome:<9} {_f(p['model']['qini'], nd):>8} "
                      f"{_f(p['churn_heuristic']['qini'], nd):>8} "
                      f"{_f(p['random']['qini'], nd):>8} {_f(p['random_qini_p90'], nd):>8} "
                      f"{_f(p['model']['uplift_at_10'], nd):>8} "
                      f"{_f(p['random']['uplift_at_10'], nd):>8} "
                      f"{_f(p['model']['uplift_at_30'], nd):>8}")
    print()
    print(f"{'scenario':<12} {'learner':<14} {'rho rev':>8} {'ratio rev':>9} {'rho prob':>8} "
          f"{'ratio prob':>10} {'rho margin':>10} {'ratio margin':>12} {'rho spend':>9} "
          f"{'ratio spend':>11}")
    for name, r in results["scenarios"].items():
        for learner, t in r["truth"].items():
            a = t["all"]
            print(f"{name:<12} {learner:<14} {_f(a['spearman_revenue']):>8} "
                  f"{_f(a['ratio_revenue'], 2):>9} {_f(a['spearman_prob']):>8} "
                  f"{_f(a['ratio_prob'], 2):>10} {_f(a.get('spearman_margin')):>10} "
                  f"{_f(a.get('ratio_margin'), 2):>12} {_f(a.get('spearman_spend')):>9} "
                  f"{_f(a.get('ratio_spend'), 2):>11}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=3, help="timed end-to-end runs (median)")
    ap.add_argument("--customers", type=int, default=5000)
    ap.add_argument("--months", type=int, default=18)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--scenarios", nargs="+", default=list(SCENARIOS), choices=list(SCENARIOS))
    ap.add_argument("--learners", nargs="+", default=list(LEARNERS), choices=list(LEARNERS))
    args = ap.parse_args(argv)
    args.trials = max(args.trials, 1)
    results: dict[str, Any] = {
        "bench": "response", "trials": args.trials, "seed": args.seed,
        "versions": {"loyalist": loyalist.__version__, "lightgbm": lightgbm.__version__,
                     "pandas": pd.__version__, "python": platform.python_version()},
        "threads": 1, "scenarios": {},
    }
    with tempfile.TemporaryDirectory(prefix="bench_response_") as tmp:
        for name in args.scenarios:
            results["scenarios"][name] = bench_scenario(name, args, Path(tmp))
    report(results)
    line = json.dumps(results, default=float)
    print("BENCH_JSON " + line)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "response.json").write_text(line + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
