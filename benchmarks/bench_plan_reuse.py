"""A plan re-made with another budget, goal or period: the first plan fits the response model,
the next reuse the fit (``loyalist.pipeline.fits``): in the same process (the API server, the
dashboard, a notebook) from memory, in a new process (the next ``loyalist plan`` command) from
the file saved beside the store. Timed in the same run on a generated store, medians of
``--trials``, in process and as ``loyalist plan`` commands; the first plan is what every plan
cost before fits were kept.

    python benchmarks/bench_plan_reuse.py [--scenario fashion] [--customers 3000] [--trials 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from loyalist import pipeline
from loyalist.pipeline import fits, promotions

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
        first, saved, again, cli_first, cli_saved = [], [], [], [], []

        def timed(**kw: object) -> float:
            t0 = time.perf_counter()
            pipeline.plan(store, save=False, stale_check=False, **kw)  # type: ignore[arg-type]
            return time.perf_counter() - t0

        def command(out: str) -> float:
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "loyalist", "-q", "plan", "--store",
                            str(store), "--budget", "5000", "--goal", "retention", "--out",
                            str(root / out)], check=True, capture_output=True)
            return time.perf_counter() - t0

        for _ in range(args.trials):
            promotions.forget_fits(store)  # nothing kept, in memory or on disk
            first.append(timed(budget=5000, goal="retention"))
            fits._FITS.clear()  # a new process: only the saved fit
            saved.append(timed(budget=8000, goal="revenue", period=60))
            again.append(timed(budget=8000, goal="revenue", period=60))
            promotions.forget_fits(store)
            cli_first.append(command("first"))
            cli_saved.append(command("saved"))
    med = statistics.median
    res = {"machine": machine, "scenario": args.scenario, "customers": args.customers,
           "months": args.months, "trials": args.trials,
           "first_plan_s": first, "saved_fit_plan_s": saved, "next_plan_s": again,
           "cli_first_s": cli_first, "cli_saved_s": cli_saved,
           "first_median_s": med(first), "saved_median_s": med(saved),
           "next_median_s": med(again), "cli_first_median_s": med(cli_first),
           "cli_saved_median_s": med(cli_saved),
           "ratio": med(first) / med(again), "saved_ratio": med(first) / med(saved),
           "cli_ratio": med(cli_first) / med(cli_saved)}
    print(f"in process: first plan (fits the response model) {res['first_median_s']:.2f} s; "
          f"from the saved fit {res['saved_median_s']:.2f} s ({res['saved_ratio']:.1f}x); "
          f"from memory {res['next_median_s']:.2f} s ({res['ratio']:.1f}x)")
    print(f"loyalist plan: first {res['cli_first_median_s']:.2f} s, the next "
          f"{res['cli_saved_median_s']:.2f} s ({res['cli_ratio']:.1f}x)")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(res, indent=2) + "\n")


if __name__ == "__main__":
    main()
