"""Recommendation benchmark: fit + recommend 10 items for every customer of a simulated
1M-interaction log (50k customers x 5k items, Zipf item popularity, taste clusters), for each
model and the hybrid, next to the ``implicit`` library's own ALS and item-item (cosine) fit and
batch recommend, measured in the same run on the same matrix.

Reported: medians over trials of wall time and process CPU time (the machine may be shared:
CPU time shows the work, wall time what a user waits), and the 1-minute load average.

    python benchmarks/bench_recommend.py [--trials 3] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
TARGET_S = 30.0


def timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c


def run_trial(data: Any, models: list[str]) -> dict[str, dict[str, float]]:
    import threadpoolctl
    from implicit.cpu.als import AlternatingLeastSquares
    from implicit.nearest_neighbours import CosineRecommender

    from loyalist.recommend import ALSRecommender, make_model
    from loyalist.recommend.registry import reasons

    out: dict[str, dict[str, float]] = {}
    customers = data.customers
    for name in models:
        model = make_model(name, random_state=0)
        _, fw, fc = timed(lambda model=model: model.fit(data))
        (items, _), rw, rc = timed(lambda model=model: model.recommend(customers, 10))
        # why each item is on the list (the recommend command's reason and because_of)
        _, yw, yc = timed(lambda model=model, name=name, items=items: reasons(
            model, name, customers, items))
        out[name] = {"fit_s": fw, "fit_cpu_s": fc, "recommend_s": rw, "recommend_cpu_s": rc,
                     "reasons_s": yw, "reasons_cpu_s": yc,
                     "total_s": fw + rw, "total_cpu_s": fc + rc}
        print(f"  {name:<11} fit {fw:6.2f} s  recommend {rw:6.2f} s  (cpu {fc + rc:6.2f} s)"
              f"  reasons {yw:6.2f} s", file=sys.stderr)
    # implicit's own classes on the same input our models build
    ours = ALSRecommender(random_state=0)
    r = data.matrix(half_life_days=ours.half_life_days)
    r.data = np.log1p(r.data)
    users = np.arange(data.n_customers)
    with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
        als = AlternatingLeastSquares(factors=ours.factors, regularization=ours.regularization,
                                      alpha=ours.alpha, iterations=ours.iterations,
                                      random_state=0, num_threads=ours.num_threads)
        _, fw, fc = timed(lambda: als.fit(r, show_progress=False))
        _, rw, rc = timed(lambda: als.recommend(users, r, N=10,
                                                filter_already_liked_items=False))
    out["implicit_als"] = {"fit_s": fw, "fit_cpu_s": fc, "recommend_s": rw,
                           "recommend_cpu_s": rc, "total_s": fw + rw, "total_cpu_s": fc + rc}
    binary = data.matrix(binary=True)
    knn = CosineRecommender(K=100, num_threads=2)
    # implicit's cosine normalises into a COO matrix internally and warns about it
    warnings.filterwarnings("ignore", message="Method expects CSR input",
                            module="implicit")
    _, fw, fc = timed(lambda: knn.fit(binary, show_progress=False))
    _, rw, rc = timed(lambda: knn.recommend(users, binary, N=10,
                                            filter_already_liked_items=False))
    out["implicit_cosine"] = {"fit_s": fw, "fit_cpu_s": fc, "recommend_s": rw,
                              "recommend_cpu_s": rc, "total_s": fw + rw,
                              "total_cpu_s": fc + rc}
    for name in ("implicit_als", "implicit_cosine"):
        v = out[name]
        print(f"  {name:<11} fit {v['fit_s']:6.2f} s  recommend {v['recommend_s']:6.2f} s",
              file=sys.stderr)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="100k interactions, 1 trial")
    args = ap.parse_args()
    from loyalist import __version__
    from loyalist.recommend import Interactions, simulate_purchases

    size = dict(n_customers=5_000, n_items=1_000, n_interactions=100_000) if args.quick \
        else dict(n_customers=50_000, n_items=5_000, n_interactions=1_000_000)
    trials = 1 if args.quick else max(1, args.trials)
    lines, catalog = simulate_purchases(**size, seed=0)
    (data, index_s, _) = timed(lambda: Interactions.from_lines(lines, catalog=catalog))
    print(f"{data}; indexed in {index_s:.2f} s", file=sys.stderr)
    models = ["popularity", "history", "itemknn", "als", "content", "hybrid"]
    runs, loads = [], []
    for t in range(trials):
        print(f"trial {t + 1}/{trials}", file=sys.stderr)
        loads.append(os.getloadavg()[0])
        runs.append(run_trial(data, models))
    names = list(runs[0])
    med = {n: {k: statistics.median(r[n][k] for r in runs) for k in runs[0][n]} for n in names}
    print(f"\n{'model':<16}{'fit s':>9}{'recommend s':>13}{'total s':>9}{'total cpu s':>13}"
          f"{'reasons s':>11}")
    for n in names:
        m = med[n]
        why = f"{m['reasons_s']:11.2f}" if "reasons_s" in m else f"{'':>11}"
        print(f"{n:<16}{m['fit_s']:9.2f}{m['recommend_s']:13.2f}{m['total_s']:9.2f}"
              f"{m['total_cpu_s']:13.2f}{why}")
    hyb = med["hybrid"]["total_s"]
    print(f"\nhybrid fit + recommend for {data.n_customers:,} customers: {hyb:.1f} s "
          f"(target < {TARGET_S:.0f} s: {'met' if hyb < TARGET_S else 'NOT met'}); "
          f"ALS fit ours {med['als']['fit_s']:.2f} s vs implicit {med['implicit_als']['fit_s']:.2f}"
          f" s; item-kNN fit ours {med['itemknn']['fit_s']:.2f} s vs implicit cosine "
          f"{med['implicit_cosine']['fit_s']:.2f} s; load average {statistics.median(loads):.1f}")
    import implicit
    import scipy
    import sklearn
    doc = {
        "benchmark": "recommend", "loyalist": __version__, "quick": args.quick,
        "data": {**size, "purchases": len(data.events), "clusters": 25, "zipf": 1.0},
        "trials": trials, "median": med, "runs": runs, "load_average_1m": loads,
        "target_total_s": TARGET_S, "hybrid_total_s": hyb, "target_met": hyb < TARGET_S,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "platform": platform.platform(), "numpy": np.__version__,
                    "scipy": scipy.__version__, "sklearn": sklearn.__version__,
                    "implicit": implicit.__version__},
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "recommend_quick.json" if args.quick else "recommend.json"
    (RESULTS / name).write_text(json.dumps(doc, indent=2))
    print(f"-> {RESULTS / name}")


if __name__ == "__main__":
    main()
