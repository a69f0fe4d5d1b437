"""Benchmark loyalist.promote.optimize: speed, proven gap, agreement with exact HiGHS MILP.

1. 200,000 customers x 6 promotions with budget, per-promotion min/max spend, a count cap and
   5 segment caps (30-40% of the budget): Lagrangian time and proven gap (target < 10 s,
   gap < 0.1%); the naive "best value/cost first" greedy on the same instance.
2. The same customers with the budget only (target well under 1 s).
3. 12-point budget sensitivity (0 .. 2B) for both, against one solve (target < 2x), the two
   alternated run by run so that both see the same load on a shared machine: cold, and warm
   from that solve's multipliers (as a plan runs it); the same on smaller instances
   (``--sweep-sizes``, ``--sweep-seeds``).
4. Agreement with HiGHS MILP (``method="milp"``, tol 1e-4) up to 5,000 customers: the
   Lagrangian's shortfall against the MILP plan and its own proven gap.

Instances come from :func:`loyalist.promote.synthetic_problem` (seeded). Times are medians of
``--trials`` runs (the MILP runs once), with CPU seconds alongside and the load average
before and after. Prints a table and one JSON line (prefix ``BENCH_JSON``), also written to
benchmarks/results/optimize.json.

    uv run python benchmarks/bench_optimize.py [--trials 3] [--n 200000] [--milp-sizes 1000 5000]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import scipy
from bench_clv import timed

import loyalist
from loyalist.promote import Problem, greedy_baseline, sensitivity, solve, synthetic_problem

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def summary(s: Any) -> dict[str, Any]:
    return {"value": s.value, "bound": s.bound, "gap": s.gap, "spend": s.spend,
            "iterations": s.iterations, "status": s.status}


def bench_large(p: Problem, trials: int, label: str) -> dict[str, Any]:
    """One solve and the 12-budget sweep, alternated so that both see the same machine load
    (wall and CPU seconds of each run; the ratio is also taken run by run)."""
    budgets = np.linspace(0.0, 2.0 * float(p.budget), 12)
    runs: dict[str, list[float]] = {k: [] for k in ("solve", "solve_cpu", "sens", "sens_cpu",
                                                     "warm", "warm_cpu")}
    # the first solve untimed: first-touch costs would flatter the ratio; the warm sweep
    # starts from the solve just timed
    last = {"solve": solve(p, method="lagrangian")}
    for _ in range(trials):
        for key, fn in (("solve", lambda: solve(p, method="lagrangian")),
                        ("sens", lambda: sensitivity(p, budgets)),
                        ("warm", lambda: sensitivity(p, budgets, solved=last["solve"]))):
            t0, c0 = time.perf_counter(), time.process_time()
            last[key] = fn()
            runs[key].append(time.perf_counter() - t0)
            runs[key + "_cpu"].append(time.process_time() - c0)
    lag, table, warm_table = last["solve"], last["sens"], last["warm"]
    gr_t, gr_all, gr = timed(lambda: greedy_baseline(p), trials)
    med = {k: statistics.median(v) for k, v in runs.items()}
    return {
        "instance": label, "customers": len(lag.choice), "promotions": len(lag.promo_spend),
        "lagrangian_s": med["solve"], "lagrangian_runs_s": runs["solve"],
        "lagrangian_cpu_s": med["solve_cpu"], "lagrangian": summary(lag),
        "greedy_s": gr_t, "greedy_runs_s": gr_all, "greedy": summary(gr),
        "greedy_below_lagrangian": 1.0 - gr.value / lag.value,
        "greedy_below_bound": 1.0 - gr.value / lag.bound,
        "sensitivity_s": med["sens"], "sensitivity_runs_s": runs["sens"],
        "sensitivity_cpu_s": med["sens_cpu"],
        "sensitivity_over_solve": med["sens"] / med["solve"],
        "sensitivity_over_solve_runs": [a / b for a, b in zip(runs["sens"], runs["solve"],
                                                               strict=True)],
        "sensitivity_over_solve_cpu": med["sens_cpu"] / med["solve_cpu"],
        "sensitivity": table.to_dict(orient="list"),
        "warm_sensitivity_s": med["warm"], "warm_sensitivity_runs_s": runs["warm"],
        "warm_sensitivity_over_solve": med["warm"] / med["solve"],
        "warm_sensitivity_over_solve_cpu": med["warm_cpu"] / med["solve_cpu"],
        "warm_sensitivity": warm_table.to_dict(orient="list"),
    }


def bench_sweeps(sizes: list[int], seeds: list[int], trials: int) -> list[dict[str, Any]]:
    """The 12-budget sweep against one solve on smaller instances with every constraint: cold,
    and warm from that solve (as a plan runs it), CPU seconds, medians of ``trials``."""
    out = []
    for n in sizes:
        for seed in seeds:
            p = synthetic_problem(n, random_state=seed)
            budgets = np.linspace(0.0, 2.0 * float(p.budget), 12)
            last = {"solve": solve(p, method="lagrangian")}  # untimed, as in bench_large
            runs: dict[str, list[float]] = {"solve": [], "cold": [], "warm": [],
                                            "cold_gap": [], "warm_gap": []}
            for _ in range(trials):
                for key, fn in (("solve", lambda p=p: solve(p, method="lagrangian")),
                                ("cold", lambda p=p, b=budgets: sensitivity(p, b)),
                                ("warm", lambda p=p, b=budgets, last=last:
                                 sensitivity(p, b, solved=last["solve"]))):
                    c0 = time.process_time()
                    last[key] = res = fn()
                    runs[key].append(time.process_time() - c0)
                    if key != "solve":
                        runs[key + "_gap"].append(float(res["gap"][res["feasible"]].max()))
            med = {k: statistics.median(v) for k, v in runs.items()}
            out.append({"customers": n, "seed": seed, "solve_cpu_s": med["solve"],
                        "cold_over_solve": med["cold"] / med["solve"],
                        "warm_over_solve": med["warm"] / med["solve"],
                        "cold_worst_gap": max(runs["cold_gap"]),
                        "warm_worst_gap": max(runs["warm_gap"])})
    return out


def bench_milp(sizes: list[int], trials: int, time_limit: float) -> list[dict[str, Any]]:
    out = []
    for n in sizes:
        p = synthetic_problem(n, random_state=100 + n)
        t0 = time.perf_counter()
        exact = solve(p, method="milp", tol=1e-4, time_limit=time_limit)
        milp_s = time.perf_counter() - t0
        lag_t, _, lag = timed(lambda p=p: solve(p, method="lagrangian"), trials)
        gr = greedy_baseline(p)
        out.append({
            "customers": n, "milp_s": milp_s, "milp": summary(exact),
            "lagrangian_s": lag_t, "lagrangian": summary(lag),
            "lagrangian_below_milp": 1.0 - lag.value / exact.value,
            "greedy_below_milp": 1.0 - gr.value / exact.value,
            "lagrangian_bound_ok": bool(lag.bound >= exact.value * (1 - 1e-9)),
        })
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=3, help="timed runs per measurement")
    ap.add_argument("--n", type=int, default=200_000, help="customers in the large instance")
    ap.add_argument("--milp-sizes", type=int, nargs="*", default=[1000, 2000, 5000],
                    help="customers in the MILP comparisons (none to skip)")
    ap.add_argument("--milp-time-limit", type=float, default=600.0, help="seconds per MILP")
    ap.add_argument("--sweep-sizes", type=int, nargs="*", default=[5000, 20000, 50000, 100000],
                    help="customers in the smaller sweep-vs-solve instances (none to skip)")
    ap.add_argument("--sweep-seeds", type=int, nargs="*", default=[1, 2, 3],
                    help="seeds of the smaller sweep-vs-solve instances")
    args = ap.parse_args(argv)
    trials = max(args.trials, 1)
    load_before = os.getloadavg()
    constrained = synthetic_problem(args.n, random_state=2024)
    budget_only = dataclasses.replace(constrained, promo_min_spend=None, promo_max_spend=None,
                                      promo_max_count=None, group_max_share=None)
    results: dict[str, Any] = {
        "bench": "optimize", "trials": trials,
        "versions": {"loyalist": loyalist.__version__, "numpy": np.__version__,
                     "scipy": scipy.__version__, "python": platform.python_version()},
        "constrained": bench_large(constrained, trials, "budget + promo min/max + count cap "
                                   "+ 5 segment caps 30-40%"),
        "budget_only": bench_large(budget_only, trials, "budget only"),
        "milp": bench_milp(args.milp_sizes, trials, args.milp_time_limit),
        "sweeps": bench_sweeps(args.sweep_sizes, args.sweep_seeds, trials),
        "cores": os.cpu_count(), "load_before": load_before, "load_after": os.getloadavg(),
    }

    def pct(v: float) -> str:
        return f"{100 * v:.4f}%"

    con, bud = results["constrained"], results["budget_only"]
    n = f"{args.n:,} x 6"
    rows = [
        (f"Lagrangian, {n}, all constraints", f"{con['lagrangian_s']:.3f}",
         pct(con["lagrangian"]["gap"]), "target < 10 s, gap < 0.1%"),
        (f"Greedy ratio baseline, {n}, all constraints", f"{con['greedy_s']:.3f}",
         pct(con["greedy"]["gap"]),
         f"{pct(con['greedy_below_lagrangian'])} below the Lagrangian plan"),
        (f"Sensitivity 12 budgets, {n}, all constraints", f"{con['sensitivity_s']:.3f}",
         pct(max(g for g in con["sensitivity"]["gap"] if g == g)),
         f"{con['sensitivity_over_solve']:.2f}x one solve (CPU "
         f"{con['sensitivity_over_solve_cpu']:.2f}x; target < 2x); worst gap"),
        (f"Lagrangian, {n}, budget only", f"{bud['lagrangian_s']:.3f}",
         pct(bud["lagrangian"]["gap"]), "target well under 1 s"),
        (f"Greedy ratio baseline, {n}, budget only", f"{bud['greedy_s']:.3f}",
         pct(bud["greedy"]["gap"]),
         f"{pct(bud['greedy_below_lagrangian'])} below the Lagrangian plan"),
        (f"Sensitivity 12 budgets, {n}, budget only", f"{bud['sensitivity_s']:.3f}",
         pct(max(bud["sensitivity"]["gap"])),
         f"{bud['sensitivity_over_solve']:.2f}x one solve (CPU "
         f"{bud['sensitivity_over_solve_cpu']:.2f}x; target < 2x); worst gap"),
    ]
    for lab, r in (("all constraints", con), ("budget only", bud)):
        rows.append((f"Sensitivity warm from the solve, {n}, {lab}",
                     f"{r['warm_sensitivity_s']:.3f}",
                     pct(max(g for g in r["warm_sensitivity"]["gap"] if g == g)),
                     f"{r['warm_sensitivity_over_solve']:.2f}x one solve (CPU "
                     f"{r['warm_sensitivity_over_solve_cpu']:.2f}x); worst gap"))
    for r in results["sweeps"]:
        rows.append((f"Sweep / solve (CPU), {r['customers']:,} x 6 seed {r['seed']}",
                     f"{r['solve_cpu_s']:.3f}", pct(r["warm_worst_gap"]),
                     f"cold {r['cold_over_solve']:.2f}x, warm {r['warm_over_solve']:.2f}x "
                     f"(s: one solve; gap: warm sweep's worst)"))
    for r in results["milp"]:
        rows.append((f"HiGHS MILP, {r['customers']:,} x 6, all constraints", f"{r['milp_s']:.3f}",
                     pct(r["milp"]["gap"]), "exact reference (tol 1e-4)"))
        rows.append((f"Lagrangian, {r['customers']:,} x 6, all constraints",
                     f"{r['lagrangian_s']:.3f}", pct(r["lagrangian"]["gap"]),
                     f"{pct(r['lagrangian_below_milp'])} below MILP; greedy "
                     f"{pct(r['greedy_below_milp'])} below"))
    width = max(len(r[0]) for r in rows)
    print(f"{'benchmark':<{width}}  {'median s':>9}  {'gap':>9}  note")
    for name, secs, gap, note in rows:
        print(f"{name:<{width}}  {secs:>9}  {gap:>9}  {note}")
    print(f"load average (1, 5, 15 min) on {os.cpu_count()} cores: before "
          f"{', '.join(f'{x:.2f}' for x in load_before)}; after "
          f"{', '.join(f'{x:.2f}' for x in results['load_after'])}")
    line = json.dumps(results, default=float)
    print("BENCH_JSON " + line)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "optimize.json").write_text(line + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
