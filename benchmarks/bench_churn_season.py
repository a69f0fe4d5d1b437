"""Churn calibration across seasons: does moving the probabilities by the same season a year
earlier (``ChurnModel.season_shift_``) bring them closer to what happened?

For each generated store (``--customers`` x ``--months``; fashion, coffee, electronics; each
``--seeds``) and each of ``--windows`` monthly test cutoffs (the last fully observed 90-day
window, then one month earlier each), the production protocol is run as if the cutoff were
today (``fit_customer_models``: trained on cutoffs whose label windows end by it), and the
churn probabilities are compared with what happened in the next 90 days, with the shift and
without it (the calibrator alone, fitted on the latest training window). Reported per window:
the churn rate, the mean probability, the Brier score and the customers above 0.7 (the "high"
tier), and per store the mean absolute error of the level and the mean Brier score.

    python benchmarks/bench_churn_season.py [--customers 3000] [--months 18 30] [--seeds 3 7]
                                            [--windows 6] [--out benchmarks/results]
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

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from loyalist import schema as s  # noqa: E402
from loyalist.churn.model import level_shift, shift_log_odds  # noqa: E402
from loyalist.evaluation.run import fit_customer_models  # noqa: E402
from loyalist.features import labels  # noqa: E402
from loyalist.pipeline import generate, load_scenario  # noqa: E402
from loyalist.store import Store, day_after  # noqa: E402

HORIZON = 90


def windows(store: Store, n: int) -> list[pd.Timestamp]:
    last = store.con.execute(f"SELECT max(ordered_at) FROM {s.T_TRANSACTIONS}").fetchone()
    end = day_after(last[0])
    return [end - pd.Timedelta(days=HORIZON) - pd.DateOffset(months=k) for k in range(n)]


def one_store(scenario: str, seed: int, customers: int, months: int, n: int,
              work: Path) -> list[dict[str, object]]:
    path = work / f"{scenario}{seed}_{months}.duckdb"
    gen = generate(scenario, customers=customers, months=months, seed=seed,
                   out=work / f"{scenario}{seed}_{months}")
    load_scenario(path, gen["files"])
    rows = []
    with Store(path, read_only=True) as st:
        for ts in windows(st, n):
            models, feats, panel = fit_customer_models(st, ts, HORIZON, segments=False)
            churn = models.churn
            y = labels(st, ts, HORIZON).set_index(s.CUSTOMER_ID).loc[
                feats[s.CUSTOMER_ID], "churned"].to_numpy(dtype=float)
            shifted = churn.predict_proba(feats)
            plain = churn.calibrate(churn.predict_raw(feats))
            level = plain  # the alternative: the season's level alone, without the latest gap
            if churn.season_cutoff_ is not None:
                at = (pd.to_datetime(panel["as_of"]) == churn.season_cutoff_).to_numpy()
                gap = level_shift(churn.calibrate(churn.predict_raw(panel[at])),
                                  float(panel.loc[at, "churned"].mean()))
                level = shift_log_odds(plain, gap)
            row: dict[str, object] = {
                "scenario": scenario, "seed": seed, "cutoff": str(ts.date()),
                "season_cutoff": churn.season_cutoff_, "shift": churn.season_shift_,
                "churn_rate": float(y.mean()), "customers": int(y.size)}
            for name, p in (("plain", plain), ("shifted", shifted), ("level", level)):
                row[f"mean_{name}"] = float(p.mean())
                row[f"brier_{name}"] = float(np.mean((p - y) ** 2))
                high = p > 0.7
                row[f"high_{name}"] = int(high.sum())
                row[f"high_rate_{name}"] = float(y[high].mean()) if high.any() else None
            rows.append(row)
            print(f"{scenario} seed {seed} {ts.date()}: churn {y.mean():.3f}, mean "
                  f"{row['mean_plain']:.3f} -> {row['mean_shifted']:.3f}, Brier "
                  f"{row['brier_plain']:.4f} -> {row['brier_shifted']:.4f}, high "
                  f"{row['high_plain']} -> {row['high_shifted']}; level only: mean "
                  f"{row['mean_level']:.3f}, Brier {row['brier_level']:.4f} (season cutoff "
                  f"{churn.season_cutoff_}, shift {churn.season_shift_:+.3f})", flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=3000)
    ap.add_argument("--months", type=int, nargs="+", default=[18, 30])
    ap.add_argument("--seeds", type=int, nargs="+", default=[3, 7])
    ap.add_argument("--scenarios", nargs="+", default=["fashion", "coffee", "electronics"])
    ap.add_argument("--windows", type=int, default=6)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = ap.parse_args()
    started = time.perf_counter()
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for months in args.months:
            for scenario in args.scenarios:
                for seed in args.seeds:
                    rows.extend({"months": months, **r} for r in one_store(
                        scenario, seed, args.customers, months, args.windows, Path(tmp)))
    df = pd.DataFrame(rows)
    print("\nper store (mean over windows): |mean prob - churn rate| and Brier, plain -> shifted")
    summary = []
    for (months, scenario, seed), g in df.groupby(["months", "scenario", "seed"], sort=False):
        err_p = (g["mean_plain"] - g["churn_rate"]).abs().mean()
        err_s = (g["mean_shifted"] - g["churn_rate"]).abs().mean()
        err_l = (g["mean_level"] - g["churn_rate"]).abs().mean()
        line = {"months": int(months), "scenario": scenario, "seed": int(seed), "windows": len(g),
                "shifted_windows": int(g["season_cutoff"].notna().sum()),
                "level_error_plain": err_p, "level_error_shifted": err_s,
                "level_error_level": err_l, "brier_level": g["brier_level"].mean(),
                "brier_plain": g["brier_plain"].mean(), "brier_shifted": g["brier_shifted"].mean(),
                "brier_better": int((g["brier_shifted"] < g["brier_plain"]).sum()),
                "brier_worse": int((g["brier_shifted"] > g["brier_plain"]).sum())}
        summary.append(line)
        print(f"{months} months {scenario:12s} seed {seed}: level error {err_p:.3f} -> "
              f"{err_s:.3f}, Brier "
              f"{line['brier_plain']:.4f} -> {line['brier_shifted']:.4f} (better in "
              f"{line['brier_better']}, worse in {line['brier_worse']} of {len(g)}); level "
              f"only: {err_l:.3f}, Brier {line['brier_level']:.4f}")
    print(f"median Brier change over all windows: "
          f"{statistics.median(df['brier_shifted'] - df['brier_plain']):+.5f}; "
          f"wall {time.perf_counter() - started:.0f} s")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "churn_season.json").write_text(json.dumps(
        {"machine": platform.platform(), "cpus": os.cpu_count(), "args": vars(args) | {
            "out": str(args.out)}, "windows": rows, "summary": summary}, indent=2, default=str))


if __name__ == "__main__":
    main()
