"""The promotion-response training set and the plan around it: time, CPU and peak memory of
``build_training_set`` (at the plan's exposure cap and at a smaller one, which on this store
keeps about the share of customers the cap keeps on a 10M-line store) and of ``loyalist plan``
end to end, on a generated store (coffee, 30,000 customers, 18 months by default).

Every measurement runs in a fresh subprocess (peak RSS is that process's, imports included;
CPU counts DuckDB's threads). With ``--baseline-src`` (the ``src`` folder of another checkout,
e.g. ``git archive <commit> src | tar -x -C /tmp/base``) the same runs are made with that code
too, alternating run by run so that both see the same load, and each training frame is
checked equal to the baseline's (integer features compared as floats).

    python benchmarks/bench_training_set.py [--customers 30000] [--trials 3]
        [--caps 250000 27000] [--baseline-src /tmp/base/src] [--no-plan]
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

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def _usage() -> tuple[float, float]:
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime, r.ru_maxrss / 1024


def child_training(store: Path, cap: int, dump: Path) -> dict:
    """``build_training_set`` at the store's as_of with at most ``cap`` exposures."""
    from loyalist.response.data import build_training_set
    from loyalist.store import Store

    with Store(store, read_only=True) as st:
        ts = st.default_as_of()
        cpu0, _ = _usage()
        t0 = time.perf_counter()
        tr = build_training_set(st, cutoff=ts, max_rows=cap)
        seconds = time.perf_counter() - t0
        cpu, rss = _usage()
    tr.frame.to_pickle(dump)
    return {"seconds": seconds, "cpu_s": cpu - cpu0, "peak_rss_mb": rss,
            "exposures": len(tr.frame)}


def child_plan(store: Path, budget: float, goal: str, out: Path) -> dict:
    """``loyalist plan`` as the command line runs it, in this process."""
    import runpy

    sys.argv = ["loyalist", "-q", "plan", "--store", str(store), "--budget", str(budget),
                "--goal", goal, "--out", str(out)]
    t0 = time.perf_counter()
    try:
        runpy.run_module("loyalist", run_name="__main__", alter_sys=True)
    except SystemExit as e:
        if e.code not in (0, None):
            raise
    cpu, rss = _usage()
    return {"seconds": time.perf_counter() - t0, "cpu_s": cpu, "peak_rss_mb": rss}


def _run(src: Path, *args: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(src)}
    p = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True,
                       text=True, check=True, env=env)
    return json.loads(p.stdout.strip().splitlines()[-1])


def _same(a: Path, b: Path) -> bool:
    import pandas as pd

    fa, fb = pd.read_pickle(a), pd.read_pickle(b)
    ints = {c: float for c in fa.columns if pd.api.types.is_integer_dtype(fa[c])
            and not pd.api.types.is_integer_dtype(fb[c])}
    try:
        pd.testing.assert_frame_equal(fa.astype(ints), fb, check_exact=True)
    except AssertionError:
        return False
    return True


def make_store(scenario: str, customers: int, months: int, seed: int, root: Path) -> Path:
    """Generated, loaded and trained (customer scores, which the plan needs) once; reused."""
    from loyalist import pipeline

    store = root / "s.duckdb"
    if store.exists():
        return store
    gen = pipeline.generate(scenario, customers=customers, months=months, seed=seed,
                            out=root / "data")
    pipeline.load_scenario(store, gen["files"])
    pipeline.train(store)
    return store


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="coffee")
    ap.add_argument("--customers", type=int, default=30_000)
    ap.add_argument("--months", type=int, default=18)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument("--caps", type=int, nargs="+", default=[250_000, 27_000])
    ap.add_argument("--goal", default="visit_frequency")
    ap.add_argument("--no-plan", action="store_true", help="skip `loyalist plan`")
    ap.add_argument("--baseline-src", type=Path, help="src folder of the code to compare with")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        kind, *rest = args.child
        res = (child_training(Path(rest[0]), int(rest[1]), Path(rest[2])) if kind == "train"
               else child_plan(Path(rest[0]), float(rest[1]), rest[2], Path(rest[3])))
        print(json.dumps(res))
        return
    from loyalist.generate import SCENARIOS

    root = RESULTS / f"training_set_{args.scenario}_{args.customers}_{args.months}_{args.seed}"
    root.mkdir(parents=True, exist_ok=True)
    store = make_store(args.scenario, args.customers, args.months, args.seed, root)
    m = SCENARIOS[args.scenario]
    budget = m.monthly_budget * args.customers / m.default_customers
    codes = {"now": ROOT / "src"}
    if args.baseline_src:
        codes = {"baseline": args.baseline_src.resolve(), **codes}
    load0 = os.getloadavg()
    out: dict = {"machine": platform.platform(), "cpus": os.cpu_count(), "args": vars(args),
                 "budget": budget, "load_avg_at_start": load0, "runs": {}}
    jobs = [("train", str(c)) for c in args.caps] + ([] if args.no_plan else [("plan", "")])
    print(f"{'job':>14} {'code':>8} {'wall s':>7} {'CPU s':>7} {'peak MB':>8} {'rows':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        for kind, cap in jobs:
            runs: dict[str, list[dict]] = {k: [] for k in codes}
            for trial in range(args.trials):
                for name, src in codes.items():
                    if kind == "train":
                        r = _run(src, "train", str(store), cap, f"{tmp}/{name}_{cap}.pkl")
                    else:
                        r = _run(src, "plan", str(store), str(budget), args.goal,
                                 f"{tmp}/plan_{name}_{trial}")
                    runs[name].append(r)
            for name in codes:
                med = {k: statistics.median(x[k] for x in runs[name]) for k in runs[name][0]}
                med["load_avg"] = os.getloadavg()[0]
                job = f"{kind} {cap}".strip()
                out["runs"][f"{job} {name}"] = {"median": med, "trials": runs[name]}
                print(f"{job:>14} {name:>8} {med['seconds']:>7.1f} {med['cpu_s']:>7.1f} "
                      f"{med['peak_rss_mb']:>8.0f} {int(med.get('exposures', 0)):>8,}",
                      flush=True)
            if kind == "train" and args.baseline_src:
                same = _same(Path(tmp) / f"baseline_{cap}.pkl", Path(tmp) / f"now_{cap}.pkl")
                out["runs"][f"train {cap} now"]["same_frame_as_baseline"] = same
                print(f"{'':>14} training frame equal to the baseline's: {same}", flush=True)
    out["load_avg_at_end"] = os.getloadavg()
    path = RESULTS / "training_set.json"
    path.write_text(json.dumps(out, indent=2, default=str))
    print(f"load average {load0[0]:.1f} -> {out['load_avg_at_end'][0]:.1f}; -> {path}")


if __name__ == "__main__":
    main()
