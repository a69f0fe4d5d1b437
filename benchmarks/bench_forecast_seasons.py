"""The revenue forecast on seasonal origins of generated stores: does it see January coming?

For each scenario (coffee, fashion, electronics) and seed a store is generated with 36 months
of history; its daily revenue is cut to 12, 18 or 24 months before each origin (1 and 8
January, 1 December, 1 July, 1 October, where the data allow) and forecast ``--horizon``
days ahead with the default models (``forecast_daily_revenue``). Per origin group and
"a year plus the horizon of history or not": the chosen model's median MASE (the seasonal
naive's beside it), the median and worst absolute error of the window's total, and the mean
80% interval coverage. Exploratory report 6 (finding 3) found a coffee store's January
forecast 35% above its own history; BENCHMARKS.md "Seasonal origins on generated stores".

    python benchmarks/bench_forecast_seasons.py [--scenarios coffee fashion electronics]
                                                [--seeds 11 5] [--customers 2500] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
from bench_clv import machine

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
ORIGINS = {"January": ("01-01", "01-08"), "December": ("12-01",), "July/October": ("07-01",
                                                                                   "10-01")}


def daily_revenue(transactions: Path) -> pd.Series:
    """Net revenue per calendar day (every day, 0 where nothing sold)."""
    t = pd.read_parquet(transactions, columns=["ordered_at", "quantity", "unit_price"])
    y = (t["quantity"] * t["unit_price"]).groupby(t["ordered_at"].dt.normalize()).sum()
    return y.asfreq("D", fill_value=0.0)


def generated_revenue(scenarios: list[str], seeds: list[int], customers: int, months: int
                      ) -> Iterator[tuple[str, int, pd.Series]]:
    """``(scenario, seed, daily net revenue)`` of each generated store (in a temporary
    folder, removed after)."""
    from loyalist import pipeline

    with tempfile.TemporaryDirectory() as tmp:
        for sc in scenarios:
            for seed in seeds:
                gen = pipeline.generate(sc, customers=customers, months=months, seed=seed,
                                        out=Path(tmp) / f"{sc}_{seed}")
                yield sc, seed, daily_revenue(gen["files"]["transactions"])


def one(y: pd.Series, as_of: pd.Timestamp, months: int, horizon: int) -> dict:
    """The forecast from ``months`` of history before ``as_of``, scored on what followed."""
    from loyalist.forecast import forecast_daily_revenue
    from loyalist.forecast import metrics as mt

    hist = y[(y.index >= as_of - pd.DateOffset(months=months)) & (y.index < as_of)]
    t0 = time.perf_counter()
    fc = forecast_daily_revenue(pd.DataFrame({"series": "total", "date": hist.index,
                                              "y": hist.to_numpy()}),
                                pd.Series({"US": 1.0}), as_of=as_of, horizon=horizon)
    seconds = time.perf_counter() - t0
    final = fc.rounds_[-1]
    actual = y.reindex(final.dates).to_numpy()
    mean = fc.predict()
    naive = final.forecasts["seasonal_naive"]["total"]
    scale = final.scale["total"]
    return {"chosen": fc.chosen_["total"], "yearly": bool(final.inputs["total"].yearly),
            "mase": mt.mase(actual, mean["mean"].to_numpy(), scale=scale),
            "mase_naive": mt.mase(actual, naive, scale=scale),
            "total_error": float(mean["mean"].sum() / actual.sum() - 1),
            "coverage80": mt.coverage(actual, mean["lo80"], mean["hi80"]),
            "seconds": seconds}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenarios", nargs="+", default=["coffee", "fashion", "electronics"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[11, 5])
    ap.add_argument("--customers", type=int, default=2500)
    ap.add_argument("--horizon", type=int, default=30)
    ap.add_argument("--quick", action="store_true",
                    help="coffee, seed 11, 800 customers, 18 months of history only")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    scenarios, seeds, lengths = args.scenarios, args.seeds, (12, 18, 24)
    customers = args.customers
    if args.quick:
        scenarios, seeds, lengths, customers = ["coffee"], [11], (18,), 800
    rows = []
    started, load0 = time.perf_counter(), os.getloadavg()
    for sc, seed, y in generated_revenue(scenarios, seeds, customers, 36):
        for group, days in ORIGINS.items():
            for year in range(y.index[0].year + 1, y.index[-1].year + 1):
                for md in days:
                    as_of = pd.Timestamp(f"{year}-{md}")
                    if as_of + pd.Timedelta(days=args.horizon - 1) > y.index[-1]:
                        continue
                    for months in lengths:
                        if as_of - pd.DateOffset(months=months) < y.index[0]:
                            continue
                        r = {"scenario": sc, "seed": seed, "origin": str(as_of.date()),
                             "group": group, "months": months,
                             **one(y, as_of, months, args.horizon)}
                        rows.append(r)
                        print(f"{sc:12s} {seed:3d} {r['origin']} {months:2d} months "
                              f"{r['chosen']:15s} MASE {r['mase']:.3f} (naive "
                              f"{r['mase_naive']:.3f}) total {r['total_error']:+.1%} "
                              f"cov80 {r['coverage80']:.2f}", flush=True)
    res = pd.DataFrame(rows)
    summary = []
    for (group, yearly), g in res.groupby(["group", "yearly"], sort=False):
        err = g["total_error"].abs()
        summary.append({"origins": group, "a year of history": yearly, "forecasts": len(g),
                        "mase": float(g["mase"].median()),
                        "mase_naive": float(g["mase_naive"].median()),
                        "total_error_median": float(err.median()),
                        "total_error_worst": float(err.max()),
                        "coverage80": float(g["coverage80"].mean())})
    print(pd.DataFrame(summary).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    doc = {"machine": machine(load0),
           "args": vars(args), "summary": summary, "forecasts": rows,
           "chosen": res["chosen"].value_counts().to_dict(),
           "seconds": time.perf_counter() - started,
           "median_forecast_seconds": float(np.median(res["seconds"]))}
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "forecast_seasons.json"
    path.write_text(json.dumps(doc, indent=2, default=str))
    print(f"-> {path}")


if __name__ == "__main__":
    main()
