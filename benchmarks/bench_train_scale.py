"""Customer-model training at scale: `train_and_score` on generated logs of 1M and 10M lines,
with the default training-panel cap (``max_train_rows``, a fixed share of the customers) and
without it (every row), in the same run.

Each configuration runs in a fresh subprocess on the same store (ingest excluded): wall time,
peak RSS of that process, and the out-of-time metrics at ``as_of - 90 days`` (churn ROC-AUC,
CLV RMSE and Spearman), so the cost of the cap in accuracy is read next to its gain in time.
The logs come from ``bench_foundation.generated_log`` (the coffee scenario, seeded) and are
reused from benchmarks/results when present.

    python benchmarks/bench_train_scale.py [--lines 1000000 10000000] [--trials 1]
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
from datetime import datetime
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
sys.path.insert(0, str(Path(__file__).resolve().parent))


def child(store: Path, cap: str) -> dict:
    """One timed training run in this process (called in a subprocess)."""
    import resource

    from loyalist.evaluation.train import train_and_score
    from loyalist.store import Store

    t0 = time.perf_counter()
    with Store(store, read_only=True) as st:
        res = train_and_score(st, max_train_rows=None if cap == "none" else int(cap))
    seconds = time.perf_counter() - t0
    ev = res["metrics"]["evaluation"]
    return {"seconds": seconds,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "customers": len(res["scores"]), "train_rows": res["metrics"]["training"]["n_rows"],
            "churn_auc": ev["churn"]["models"]["model"]["roc_auc"],
            "clv_rmse": ev["clv"]["models"]["model"]["rmse"],
            "clv_spearman": ev["clv"]["models"]["model"]["spearman"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, nargs="+", default=[1_000_000, 10_000_000])
    ap.add_argument("--trials", type=int, default=1)
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(Path(args.child[0]), args.child[1])))
        return
    from bench_foundation import generated_log

    from loyalist.evaluation.run import ModelSettings
    from loyalist.ingest import ingest_files
    from loyalist.store import Store

    RESULTS.mkdir(parents=True, exist_ok=True)
    cap = ModelSettings.max_train_rows
    out: dict = {"when": datetime.now().isoformat(timespec="seconds"),
                 "machine": platform.platform(), "cpus": os.cpu_count(),
                 "max_train_rows": cap, "runs": {}}
    print(f"{'lines':>11} {'cap':>9} {'rows':>9} {'seconds':>8} {'peak MB':>8} "
          f"{'churn AUC':>9} {'CLV RMSE':>9} {'Spearman':>8}")
    for lines in args.lines:
        log = generated_log(lines, RESULTS / f"generated_{lines}.parquet")
        with tempfile.TemporaryDirectory() as d:
            store = Path(d) / "s.duckdb"
            with Store(store) as st:
                ingest_files(st, [log], loaded_at=datetime(2026, 1, 1))
            for c in (str(cap), "none"):
                runs = []
                for _ in range(args.trials):
                    p = subprocess.run([sys.executable, __file__, "--child", str(store), c],
                                       capture_output=True, text=True, check=True)
                    runs.append(json.loads(p.stdout.strip().splitlines()[-1]))
                r = {k: statistics.median(x[k] for x in runs) for k in runs[0]}
                r["load_average"] = os.getloadavg()[0]
                out["runs"][f"{lines}_{c}"] = r
                print(f"{lines:>11,} {c:>9} {int(r['train_rows']):>9,} {r['seconds']:>8.1f} "
                      f"{r['peak_rss_mb']:>8.0f} {r['churn_auc']:>9.4f} {r['clv_rmse']:>9.2f} "
                      f"{r['clv_spearman']:>8.4f}", flush=True)
    (RESULTS / "train_scale.json").write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
