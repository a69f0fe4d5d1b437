"""Are the forecast's 7- and 30-day totals' 80% ranges honest?

The dashboard shows the revenue forecast's totals over the next 7 and 30 days. Their range is
now a conformal interval of the total itself (``forecast_totals``, from
:func:`loyalist.forecast.intervals.total_bounds`); before, it was the sum of the days' 80%
bounds. For generated stores (``--scenarios`` x ``--seeds``, 24 months of history) and Online
Retail (if ../shared/data has it), the total series is forecast 30 days ahead with the
default models (``forecast_daily_revenue``) from several origins (``--step`` days apart, each
with the history the backtest needs before it and 30 days of truth after it), and per total
(7 and 30 days) and level (80 and 95%) this counts how often the true total falls inside the
new interval and inside the summed daily bounds, and the median width of each as a share of
the true total. Windows of one store overlap when ``--step`` < 30, so the counts are not
independent draws; the origins are in the JSON.

    python benchmarks/bench_forecast_totals.py [--scenarios coffee fashion] [--seeds 11 5]
                                               [--customers 2500] [--step 30] [--or-step 14]
                                               [--quick]

Writes benchmarks/results/forecast_totals.json and prints the table.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import warnings
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
from bench_clv import machine
from bench_forecast_seasons import generated_revenue

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SHARED = Path(os.environ.get("LOYALIST_SHARED_DATA", ROOT.parent / "shared" / "data"))
ONLINE_RETAIL = SHARED / "online_retail_2010_2011.parquet"
H = 30


def origins(y: pd.Series, step: int) -> list[pd.Timestamp]:
    """Origins ``step`` days apart, the last one with ``H`` days of truth after it, the first
    with the history a ``H``-day forecast's backtest needs before it."""
    from loyalist.forecast.backtest import min_history_days

    first = y.index[0] + pd.Timedelta(days=min_history_days(H))
    last = y.index[-1] - pd.Timedelta(days=H - 1)
    out = []
    while last >= first:
        out.append(last)
        last -= pd.Timedelta(days=step)
    return out[::-1]


def one(y: pd.Series, as_of: pd.Timestamp, country: pd.Series) -> list[dict]:
    """Per total (days) and level: the truth, the new interval and the summed daily one."""
    from loyalist.forecast import forecast_daily_revenue
    from loyalist.forecast.forecaster import LEVELS

    hist = y[y.index < as_of]
    fc = forecast_daily_revenue(pd.DataFrame({"series": "total", "date": hist.index,
                                              "y": hist.to_numpy()}),
                                country, as_of=as_of, horizon=H)
    days = fc.predict()
    # the forecast says when a total's widest range rests on too few earlier misses
    few = any("earlier totals' misses" in n for n in fc.report()["total"]["notes"])
    rows = []
    for t in fc.predict_totals().itertuples():
        first = days.iloc[:t.days]
        truth = float(y.reindex(first["date"]).sum())
        for lv in LEVELS:
            rows.append({"origin": str(as_of.date()), "model": t.model, "days": t.days,
                         "level": lv, "truth": truth, "mean": t.mean,
                         "lo": getattr(t, f"lo{lv}"), "hi": getattr(t, f"hi{lv}"),
                         "sum_lo": float(first[f"lo{lv}"].sum()),
                         "sum_hi": float(first[f"hi{lv}"].sum()), "few_scores": few})
    return rows


def run_store(name: str, y: pd.Series, country: pd.Series, step: int) -> list[dict]:
    rows = []
    for as_of in origins(y, step):
        t0 = time.perf_counter()
        got = one(y, as_of, country)
        for r in got:
            r["store"] = name
        rows += got
        r30 = next(r for r in got if r["days"] == H and r["level"] == 80)
        print(f"{name:16s} {as_of.date()} {r30['model']:15s} 30-day truth {r30['truth']:,.0f} "
              f"in [{r30['lo']:,.0f}, {r30['hi']:,.0f}] (summed [{r30['sum_lo']:,.0f}, "
              f"{r30['sum_hi']:,.0f}]) {time.perf_counter() - t0:.1f} s", flush=True)
    return rows


def online_retail() -> tuple[pd.Series, pd.Series]:
    """Online Retail's net daily revenue as the forecast reads it (ingested into a store), and
    its revenue per country (for the holiday calendar)."""
    from loyalist.forecast import complete_days, read_daily_revenue
    from loyalist.ingest import ingest_files
    from loyalist.store import Store

    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "or.duckdb") as st:
        ingest_files(st, [ONLINE_RETAIL], loaded_at=datetime(2026, 1, 1))
        as_of = st.default_as_of()
        daily, countries = read_daily_revenue(st, as_of=as_of)
    return complete_days(daily, end=as_of)["total"], countries


def summarise(res: pd.DataFrame) -> list[dict]:
    out = []
    for (group, days, lv), g in res.groupby(["group", "days", "level"], sort=False):
        inside = (g["truth"] >= g["lo"]) & (g["truth"] <= g["hi"])
        inside_sum = (g["truth"] >= g["sum_lo"]) & (g["truth"] <= g["sum_hi"])
        out.append({"data": group, "days": int(days), "level": int(lv), "forecasts": len(g),
                    "coverage": float(inside.mean()), "coverage_summed": float(inside_sum.mean()),
                    "width": float(((g["hi"] - g["lo"]) / g["truth"]).median()),
                    "width_summed": float(((g["sum_hi"] - g["sum_lo"]) / g["truth"]).median()),
                    "abs_error": float(((g["mean"] - g["truth"]) / g["truth"]).abs().median()),
                    "few_scores": float(g["few_scores"].mean())})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenarios", nargs="+", default=["coffee", "fashion"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[11, 5])
    ap.add_argument("--customers", type=int, default=2500)
    ap.add_argument("--step", type=int, default=30, help="days between origins")
    ap.add_argument("--or-step", type=int, default=14,
                    help="days between Online Retail's origins (its year fits few 30-day ones)")
    ap.add_argument("--quick", action="store_true", help="coffee, seed 11, 800 customers")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    scenarios, seeds, customers = args.scenarios, args.seeds, args.customers
    if args.quick:
        scenarios, seeds, customers = ["coffee"], [11], 800
    rows: list[dict] = []
    started, load0 = time.perf_counter(), os.getloadavg()
    for sc, seed, y in generated_revenue(scenarios, seeds, customers, 24):
        rows += [r | {"group": "generated"} for r in
                 run_store(f"{sc} {seed}", y, pd.Series({"US": 1.0}), args.step)]
    if ONLINE_RETAIL.exists() and not args.quick:
        y, countries = online_retail()
        rows += [r | {"group": "Online Retail"} for r in
                 run_store("Online Retail", y, countries, args.or_step)]
    else:
        print(f"Online Retail skipped ({'--quick' if args.quick else f'no {ONLINE_RETAIL}'})")
    res = pd.DataFrame(rows)
    summary = summarise(res)
    print(pd.DataFrame(summary).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    doc = {"machine": machine(load0),
           "args": vars(args), "summary": summary, "totals": rows,
           "seconds": time.perf_counter() - started}
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "forecast_totals.json"
    path.write_text(json.dumps(doc, indent=2, default=str))
    print(f"-> {path}")
    if not np.isfinite(res[["lo", "hi"]].to_numpy()).all():
        sys.exit("some totals have no interval (NaN): see the JSON")


if __name__ == "__main__":
    main()
