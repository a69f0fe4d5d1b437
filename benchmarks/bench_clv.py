"""Benchmark loyalist.clv against lifetimes 0.11.3, measured in the same run.

1. BG/NBD fit on the CDNOW sample (2,357 customers), median of --runs runs each.
2. Pareto/NBD fit on 100,000 customers simulated from the CDNOW Pareto/NBD estimates with
   continuous times (no two rows alike: the worst case for our row compression). Ours: median
   of --runs; lifetimes once (about a minute). Ours on the same customers recorded at day
   resolution is reported as well.
3. Scoring 1,000,000 customers: BG/NBD expected purchases (next 39 weeks) + P(alive) (the
   issue's target, < 2 s), and the full set with Gamma-Gamma expected spend + 12-month
   discounted CLV, on day-resolution data (realistic) and on continuous times (worst case: no
   two customers alike). Ours: median of --runs; lifetimes once, with the largest element-wise
   relative difference to ours. The 1-minute load average is recorded (shared machine).

Prints a table and one JSON line (prefix ``BENCH_JSON``), also written to
benchmarks/results/clv.json.

    uv run python benchmarks/bench_clv.py [--runs 7] [--skip-slow] [--data PATH]
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
import pandas as pd

import loyalist
from loyalist.clv import BetaGeoModel, GammaGammaModel, ParetoNBDModel

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "cdnow_sample.parquet"
RESULTS = ROOT / "benchmarks" / "results"
CAL_END = pd.Timestamp("1997-09-30")
PNBD_CDNOW = {"r": 0.5533, "alpha": 10.58, "s": 0.6062, "beta": 11.67}
BG_CDNOW = {"r": 0.2426, "alpha": 4.414, "a": 0.7929, "b": 2.426}
GG_CDNOW = {"p": 6.249, "q": 3.745, "gamma": 15.45}


def timed(fn: Callable[[], Any], runs: int) -> tuple[float, list[float], Any]:
    """Median wall time of ``runs`` calls (and all times, and the last result)."""
    times = []
    out = None
    for _ in range(runs):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times, out


def machine(load_at_start: tuple[float, float, float]) -> dict[str, Any]:
    """The machine a benchmark's JSON records: platform, Python, CPUs and the load averages
    at its start (``load_at_start``, from ``os.getloadavg()``) and now, its end."""
    return {"platform": platform.platform(), "python": sys.version.split()[0],
            "cpus": os.cpu_count(), "load_avg_at_start": load_at_start,
            "load_avg_at_end": os.getloadavg()}


def cdnow_summary(path: Path) -> pd.DataFrame:
    """Day-level calibration summary in weeks (see tests/test_clv_probabilistic.py)."""
    raw = pd.read_parquet(path)
    raw["date"] = pd.to_datetime(raw["date"])
    days = raw.groupby(["sample_id", "date"], as_index=False)["amount"].sum()
    cal = days[days["date"] <= CAL_END]
    g = cal.groupby("sample_id")["date"]
    first, last = g.min(), g.max()
    return pd.DataFrame({
        "frequency": g.size() - 1,
        "recency": (last - first).dt.days / 7.0,
        "T": (CAL_END - first).dt.days / 7.0,
    })


def bench_bgnbd_cdnow(path: Path, runs: int) -> dict[str, Any] | None:
    if not path.exists():
        print(f"[skip] BG/NBD on CDNOW: {path} not found")
        return None
    import lifetimes

    s = cdnow_summary(path)
    f, r, T = s["frequency"], s["recency"], s["T"]
    ours, ours_all, model = timed(lambda: BetaGeoModel().fit(f, r, T), runs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref, ref_all, ref_model = timed(lambda: lifetimes.BetaGeoFitter().fit(f, r, T), runs)
    return {
        "customers": len(s), "ours_s": ours, "lifetimes_s": ref, "speedup": ref / ours,
        "ours_runs_s": ours_all, "lifetimes_runs_s": ref_all,
        "ours_params": model.params_, "ours_log_likelihood": model.log_likelihood_,
        "lifetimes_params": {k: float(v) for k, v in ref_model.params_.items()},
    }


def simulate_pareto(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    T = 39.0 - rng.uniform(0.0, 12.0, n)  # a 12-week acquisition cohort, 39-week calibration
    x, tx = ParetoNBDModel.from_dict({"params": PNBD_CDNOW}).sample(T, random_state=rng)
    return x, tx, T


def bench_pareto_100k(runs: int, skip_slow: bool) -> dict[str, Any]:
    x, tx, T = simulate_pareto(100_000, seed=20240601)
    ours, ours_all, model = timed(lambda: ParetoNBDModel().fit(x, tx, T), runs)
    xd, txd, Td = x, np.floor(tx * 7.0) / 7.0, np.floor(T * 7.0) / 7.0
    day, day_all, day_model = timed(lambda: ParetoNBDModel().fit(xd, txd, Td), runs)
    out: dict[str, Any] = {
        "customers": len(x), "ours_s": ours, "ours_runs_s": ours_all,
        "ours_params": model.params_, "ours_converged": model.converged_,
        "ours_day_level_s": day, "ours_day_level_runs_s": day_all,
        "ours_day_level_params": day_model.params_,
        "ours_day_level_unique_rows": day_model.diagnostics_[0],
    }
    if not skip_slow:
        import lifetimes

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t0 = time.perf_counter()
            ref_model = lifetimes.ParetoNBDFitter().fit(x, tx, T)
            ref = time.perf_counter() - t0
        out.update({"lifetimes_s": ref, "speedup": ref / ours, "lifetimes_runs": 1,
                    "lifetimes_params": {k: float(v) for k, v in ref_model.params_.items()}})
    return out


def simulate_scoring(n: int, seed: int, day_level: bool
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    if day_level:
        T = rng.integers(1, 731, n) / 7.0  # first purchases over two years, in weeks
    else:
        T = rng.uniform(1.0 / 7.0, 730.0 / 7.0, n)
    x, tx = BetaGeoModel.from_dict({"params": BG_CDNOW}).sample(T, random_state=rng)
    if day_level:
        tx = np.floor(tx * 7.0) / 7.0
    money = GammaGammaModel.from_dict({"params": GG_CDNOW}).sample(x, random_state=rng)
    money[x == 0] = 0.0
    return x, tx, T, money


def _score_ours_bg(bg: BetaGeoModel, x: np.ndarray, tx: np.ndarray, T: np.ndarray
                   ) -> dict[str, np.ndarray]:
    return {"expected": bg.expected_purchases(39.0, x, tx, T),
            "alive": bg.probability_alive(x, tx, T)}


def _score_ours(bg: BetaGeoModel, gg: GammaGammaModel, x: np.ndarray, tx: np.ndarray,
                T: np.ndarray, money: np.ndarray) -> dict[str, np.ndarray]:
    out = _score_ours_bg(bg, x, tx, T)
    out["spend"] = gg.expected_spend(x, money)
    out["clv"] = gg.clv(bg, x, tx, T, money, horizon=12, time_unit_per_period=4.345,
                        discount_rate=0.01)
    return out


def _score_lifetimes(x: np.ndarray, tx: np.ndarray, T: np.ndarray, money: np.ndarray
                     ) -> tuple[dict[str, np.ndarray], float]:
    """lifetimes' scores and the seconds its expected purchases + P(alive) took."""
    import lifetimes

    lbg = lifetimes.BetaGeoFitter()
    lbg.params_ = pd.Series(BG_CDNOW)
    lbg.predict = lbg.conditional_expected_number_of_purchases_up_to_time
    lgg = lifetimes.GammaGammaFitter()
    lgg.params_ = pd.Series({"p": GG_CDNOW["p"], "q": GG_CDNOW["q"], "v": GG_CDNOW["gamma"]})
    fs, rs, Ts, ms = (pd.Series(a) for a in (x, tx, T, money))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        e = lbg.conditional_expected_number_of_purchases_up_to_time(39.0, fs, rs, Ts)
        alive = lbg.conditional_probability_alive(fs, rs, Ts)
        bg_s = time.perf_counter() - t0
        spend = lgg.conditional_expected_average_profit(fs, ms)
        clv = lgg.customer_lifetime_value(lbg, fs, rs, Ts, ms, time=12, discount_rate=0.01,
                                          freq="W")
    scores = {"expected": e, "alive": alive, "spend": spend, "clv": clv}
    return {k: np.asarray(v, dtype=float) for k, v in scores.items()}, bg_s


def _max_rel_diff(ours: np.ndarray, ref: np.ndarray) -> float:
    """Largest |ours - ref| / |ref| over customers where lifetimes gives a finite value."""
    ok = np.isfinite(ref) & (ref != 0)
    return float(np.max(np.abs(ours[ok] - ref[ok]) / np.abs(ref[ok])))


def bench_scoring(runs: int, skip_slow: bool) -> dict[str, Any]:
    bg = BetaGeoModel.from_dict({"params": BG_CDNOW})
    gg = GammaGammaModel.from_dict({"params": GG_CDNOW})
    out: dict[str, Any] = {"customers": 1_000_000, "load_average_1min_start": os.getloadavg()[0]}
    for label, day_level in (("day_level", True), ("continuous", False)):
        data = simulate_scoring(1_000_000, seed=7, day_level=day_level)
        out[f"distinct_x_T_{label}"] = len(pd.DataFrame({"x": data[0], "T": data[2]})
                                           .drop_duplicates())
        bg_only, bg_all, _ = timed(lambda d=data: _score_ours_bg(bg, *d[:3]), runs)
        ours, ours_all, scores = timed(lambda d=data: _score_ours(bg, gg, *d), runs)
        out[f"ours_bg_{label}_s"] = bg_only
        out[f"ours_bg_{label}_runs_s"] = bg_all
        out[f"ours_{label}_s"] = ours
        out[f"ours_{label}_runs_s"] = ours_all
        out[f"load_average_1min_{label}"] = os.getloadavg()[0]
        if not skip_slow:
            ref, _, (ref_scores, ref_bg) = timed(lambda d=data: _score_lifetimes(*d), 1)
            out[f"lifetimes_{label}_s"] = ref
            out[f"lifetimes_bg_{label}_s"] = ref_bg
            out[f"speedup_{label}"] = ref / ours
            out[f"speedup_bg_{label}"] = ref_bg / bg_only
            out[f"max_rel_diff_{label}"] = {k: _max_rel_diff(scores[k], ref_scores[k])
                                            for k in scores}
            total = sum(float(v.sum()) for v in scores.values())
            ref_total = sum(float(np.nansum(v)) for v in ref_scores.values())
            out[f"checksum_rel_diff_{label}"] = abs(total - ref_total) / abs(ref_total)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7, help="timed runs per measurement (>= 5)")
    ap.add_argument("--skip-slow", action="store_true",
                    help="skip the lifetimes Pareto/NBD 100k fit and lifetimes scoring")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="cdnow_sample.parquet")
    args = ap.parse_args(argv)
    runs = max(args.runs, 5)
    import lifetimes
    import scipy

    results: dict[str, Any] = {
        "bench": "clv",
        "runs": runs,
        "versions": {"loyalist": loyalist.__version__, "lifetimes": lifetimes.__version__,
                     "numpy": np.__version__, "scipy": scipy.__version__,
                     "python": platform.python_version()},
        "bgnbd_fit_cdnow": bench_bgnbd_cdnow(args.data, runs),
        "paretonbd_fit_100k": bench_pareto_100k(runs, args.skip_slow),
        "scoring_1m": bench_scoring(runs, args.skip_slow),
    }

    def fmt(v: Any) -> str:
        return "-" if v is None else f"{v:.4f}"

    def ratio(v: Any) -> str:
        return "-" if v is None else f"{v:.1f}x"

    bg = results["bgnbd_fit_cdnow"] or {}
    pn = results["paretonbd_fit_100k"]
    sc = results["scoring_1m"]
    rows = [
        ("BG/NBD fit, CDNOW sample (2,357)", bg.get("ours_s"), bg.get("lifetimes_s"),
         bg.get("speedup"), "target >= 10x"),
        ("Pareto/NBD fit, 100k simulated (continuous)", pn["ours_s"], pn.get("lifetimes_s"),
         pn.get("speedup"), "target >= 10x; lifetimes 1 run"),
        ("Pareto/NBD fit, 100k simulated (day level)", pn["ours_day_level_s"], None, None,
         "same customers, times in whole days"),
        ("Scoring 1M BG/NBD E[Y] + P(alive), day level", sc["ours_bg_day_level_s"],
         sc.get("lifetimes_bg_day_level_s"), sc.get("speedup_bg_day_level"), "target < 2 s"),
        ("Scoring 1M BG/NBD E[Y] + P(alive), continuous", sc["ours_bg_continuous_s"],
         sc.get("lifetimes_bg_continuous_s"), sc.get("speedup_bg_continuous"),
         "target < 2 s; every (x, T) distinct"),
        ("Scoring 1M (E[Y], P(alive), GG, CLV) day level", sc["ours_day_level_s"],
         sc.get("lifetimes_day_level_s"), sc.get("speedup_day_level"), "12 monthly CLV steps"),
        ("Scoring 1M (E[Y], P(alive), GG, CLV) continuous", sc["ours_continuous_s"],
         sc.get("lifetimes_continuous_s"), sc.get("speedup_continuous"), "worst case"),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'benchmark':<{width}}  {'ours (s)':>10}  {'lifetimes (s)':>13}  {'ratio':>7}  note")
    for name, ours, ref, sp, note in rows:
        print(f"{name:<{width}}  {fmt(ours):>10}  {fmt(ref):>13}  {ratio(sp):>7}  {note}")
    for label in ("day_level", "continuous"):
        diffs = sc.get(f"max_rel_diff_{label}")
        if diffs:
            print(f"max relative difference to lifetimes, {label}: "
                  + ", ".join(f"{k} {v:.1e}" for k, v in diffs.items()))
    print(f"load average (1 min) at the start of scoring {sc['load_average_1min_start']:.2f}, "
          f"after day level {sc['load_average_1min_day_level']:.2f}, after continuous "
          f"{sc['load_average_1min_continuous']:.2f}")
    line = json.dumps(results, default=float)
    print("BENCH_JSON " + line)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "clv.json").write_text(line + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
