"""A plan re-made in the same process (the API server, the dashboard, a notebook) with another
budget, goal or period: the first plan fits the response model, the next reuse the fit
(``loyalist.pipeline.promotions.plan_inputs``). Both are timed in the same run on a generated
store, medians of ``--trials``; the first is what every plan cost before the fit was kept.

    python benchmarks/bench_plan_reuse.py [--scenario fashion] [--customers 3000] [--trials 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

from loyalist import pipeline
from loyalist.pipeline import promotions

RESULTS = Path(__file__).resolve().parent / "results" / "plan_reuse.json"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="fashion")
    ap.add_argument("--customers", type=int, default=3000)
    ap.add_argument("--months", type=int, default=18)
    ap.add_argument("--trials", type=int, default=3)
    args = ap.parse_args()
    machine = f"{platform.platform()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}"
    print(machine, flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        gen = pipeline.generate(args.scenario, customers=args.customers, months=args.months,
                                seed=11, out=root / "data")
        store = root / "s.duckdb"
        pipeline.load_scenario(store, gen["files"])
        pipeline.train(store)
        first, again = [], []
        for _ in range(args.trials):
            promotions.forget_fits()  # a new process: nothing kept
            t0 = time.perf_counter()
            a = pipeline.plan(store, budget=5000, goal="retention", save=False,
                              stale_check=False)
            first.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            b = pipeline.plan(store, budget=8000, goal="revenue", period=60, save=False,
                              stale_check=False)
            again.append(time.perf_counter() - t0)
            assert a["summary"]["goal"] == "retention" and b["summary"]["goal"] == "revenue"
    res = {"machine": machine, "scenario": args.scenario, "customers": args.customers,
           "months": args.months, "trials": args.trials,
           "first_plan_s": first, "next_plan_s": again,
           "first_median_s": statistics.median(first), "next_median_s": statistics.median(again),
           "ratio": statistics.median(first) / statistics.median(again)}
    print(f"first plan (fits the response model) {res['first_median_s']:.2f} s; the next "
          f"(another budget, goal and period) {res['next_median_s']:.2f} s; "
          f"ratio {res['ratio']:.1f}x")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(res, indent=2) + "\n")


if __name__ == "__main__":
    main()
