"""Churn calibration and lifetime value across seasons: does moving the churn probabilities
(``ChurnModel.season_shift_``) and the 90-day spend forecasts (``BoostedCLVModel.season_factor_``)
by the same season a year earlier bring them closer to what happened?

For each generated store (``--customers`` x ``--months``; fashion, coffee, electronics; each
``--seeds``) and each of ``--windows`` monthly test cutoffs (the last fully observed 90-day
window, then one month earlier each), the production protocol is run as if the cutoff were
today (``fit_customer_models``: trained on cutoffs whose label windows end by it), and the
churn probabilities are compared with what happened in the next 90 days, with the shift and
without it (the calibrator alone, fitted on the latest training window). Reported per window:
the churn rate, the mean probability, the Brier score and the customers above 0.7 (the "high"
tier), and per store the mean absolute error of the level and the mean Brier score; for the
spend forecasts (``clv_expected``), with and without the seasonal factor, the error of the
total, the RMSE and the share of customers inside their 10-90% interval.

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
            lab = labels(st, ts, HORIZON).set_index(s.CUSTOMER_ID).loc[feats[s.CUSTOMER_ID]]
            y = lab["churned"].to_numpy(dtype=float)
            spend = lab["future_spend"].to_numpy(dtype=float)
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
            clv = models.clv
            factor = clv.season_factor_
            q = clv.predict_quantiles(feats)
            row |= {"clv_factor": factor, "spend_total": float(spend.sum())}
            # the alternative: the season's ratio relative to the latest window's, as the
            # churn model's shift is taken
            latest = 1.0
            if clv.season_cutoff_ is not None:
                cut = pd.to_datetime(panel["as_of"])
                at = (cut == cut.max()).to_numpy()
                y_p = panel["future_spend"].to_numpy(dtype=float)
                m = float(y_p[y_p > 0].mean())
                raw = clv.predict(panel[at]) / factor
                latest = (float(y_p[at].sum()) + m) / (float(raw.sum()) + m)
            row["clv_latest_ratio"] = latest
            for name, f in (("plain", 1.0 / factor), ("seasonal", 1.0),
                            ("relative", 1.0 / latest)):
                pred = clv.predict(feats) * f
                inside = ((spend >= q["clv_p10"] * f) & (spend <= q["clv_p90"] * f))
                row[f"clv_total_error_{name}"] = float(pred.sum() / spend.sum() - 1)
                row[f"clv_rmse_{name}"] = float(np.sqrt(np.mean((pred - spend) ** 2)))
                row[f"clv_coverage_{name}"] = float(inside.mean())
            rows.append(row)
            print(f"{scenario} seed {seed} {ts.date()}: churn {y.mean():.3f}, mean "
                  f"{row['mean_plain']:.3f} -> {row['mean_shifted']:.3f}, Brier "
                  f"{row['brier_plain']:.4f} -> {row['brier_shifted']:.4f}, high "
                  f"{row['high_plain']} -> {row['high_shifted']}; level only: mean "
                  f"{row['mean_level']:.3f}, Brier {row['brier_level']:.4f} (season cutoff "
                  f"{churn.season_cutoff_}, shift {churn.season_shift_:+.3f}); CLV total "
                  f"{row['clv_total_error_plain']:+.1%} -> {row['clv_total_error_seasonal']:+.1%}"
                  f", RMSE {row['clv_rmse_plain']:.2f} -> {row['clv_rmse_seasonal']:.2f}, "
                  f"10-90% coverage {row['clv_coverage_plain']:.1%} -> "
                  f"{row['clv_coverage_seasonal']:.1%} (factor {factor:.3f})", flush=True)
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
                "brier_worse": int((g["brier_shifted"] > g["brier_plain"]).sum()),
                **{f"clv_{m}_{n}": float(g[f"clv_{m}_{n}"].abs().mean() if m == "total_error"
                                         else g[f"clv_{m}_{n}"].mean())
                   for m in ("total_error", "rmse", "coverage")
                   for n in ("plain", "seasonal", "relative")},
                "clv_rmse_better": int((g["clv_rmse_seasonal"] < g["clv_rmse_plain"]).sum()),
                "clv_rmse_worse": int((g["clv_rmse_seasonal"] > g["clv_rmse_plain"]).sum()),
                "clv_total_better": int((g["clv_total_error_seasonal"].abs()
                                         < g["clv_total_error_plain"].abs()).sum()),
                "clv_total_worse": int((g["clv_total_error_seasonal"].abs()
                                        > g["clv_total_error_plain"].abs()).sum())}
        summary.append(line)
        print(f"{months} months {scenario:12s} seed {seed}: level error {err_p:.3f} -> "
              f"{err_s:.3f}, Brier "
              f"{line['brier_plain']:.4f} -> {line['brier_shifted']:.4f} (better in "
              f"{line['brier_better']}, worse in {line['brier_worse']} of {len(g)}); level "
              f"only: {err_l:.3f}, Brier {line['brier_level']:.4f}; CLV |total error| "
              f"{line['clv_total_error_plain']:.1%} -> {line['clv_total_error_seasonal']:.1%}, "
              f"RMSE {line['clv_rmse_plain']:.2f} -> {line['clv_rmse_seasonal']:.2f} (better in "
              f"{line['clv_rmse_better']}, worse in {line['clv_rmse_worse']}), coverage "
              f"{line['clv_coverage_plain']:.1%} -> {line['clv_coverage_seasonal']:.1%}; total "
              f"better in {line['clv_total_better']}, worse in {line['clv_total_worse']}; "
              f"relative to the latest window: {line['clv_total_error_relative']:.1%}, RMSE "
              f"{line['clv_rmse_relative']:.2f}")
    w = df[df["clv_factor"] != 1.0]
    if len(w):
        gain = w["clv_total_error_plain"].abs() - w["clv_total_error_seasonal"].abs()
        print(f"CLV over the {len(w)} windows with a factor: median |total error| "
              f"{w['clv_total_error_plain'].abs().median():.1%} -> "
              f"{w['clv_total_error_seasonal'].abs().median():.1%} (relative to the latest: "
              f"{w['clv_total_error_relative'].abs().median():.1%}), better in "
              f"{int((gain > 0).sum())}, worse in {int((gain < 0).sum())}; median RMSE ratio "
              f"{(w['clv_rmse_seasonal'] / w['clv_rmse_plain']).median():.4f}")
    print(f"median Brier change over all windows: "
          f"{statistics.median(df['brier_shifted'] - df['brier_plain']):+.5f}; "
          f"wall {time.perf_counter() - started:.0f} s")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "churn_season.json").write_text(json.dumps(
        {"machine": platform.platform(), "cpus": os.cpu_count(), "args": vars(args) | {
            "out": str(args.out)}, "windows": rows, "summary": summary}, indent=2, default=str))


if __name__ == "__main__":
    main()
