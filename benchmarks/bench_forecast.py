"""Forecasting benchmark: accuracy against the seasonal naive and Prophet, and speed.

1. Online Retail daily net revenue (if ../shared/data has it): rolling-origin backtest, last
   4 x 30-day origins, every model (also mstl, theta, arima) vs the seasonal naive; the honest
   ``auto`` row; the chosen model. Targets: chosen MASE <= 0.9 x naive; 95% coverage 85-99%.
2. Synthetic 2-year daily series (weekly + yearly seasonality, GB holidays, log-normal noise;
   ``loyalist.forecast.synthetic``): 30-day MAPE over the same 4 origins for our models and
   Prophet with holidays. AutoARIMA with holiday and Fourier regressors is slow, so it runs on
   the first ``--arima-series`` series only (its column is averaged over that subset, next to
   the other models on the same subset).
3. Speed on ``--series`` (1,000) synthetic 2-year series, all in this run: Prophet with
   holidays (fit + 30-day predict with its default intervals) on the first
   ``--prophet-series`` (20) series, extrapolated per series to all of them; our models' fit +
   forecast at one origin (each model, the whole batch); the full automatic forecaster
   (6-origin backtest, selection, conformal intervals, final forecast) with the fast model set
   and with the default set. Medians over ``--repeats``.

    python benchmarks/bench_forecast.py [--series 1000] [--prophet-series 20] [--repeats 3]
                                        [--accuracy-series 20] [--arima-series 4] [--quick]

Writes benchmarks/results/forecast.json and prints the tables.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see loyalist.forecast.gbm

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from loyalist.forecast import metrics as mt  # noqa: E402
from loyalist.forecast.backtest import rolling_origins, run_round  # noqa: E402
from loyalist.forecast.forecaster import (  # noqa: E402
    DEFAULT_MODELS,
    FAST_MODELS,
    RevenueForecaster,
)
from loyalist.forecast.public_holidays import Country  # noqa: E402
from loyalist.forecast.synthetic import synthetic_daily  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("LOYALIST_SHARED_DATA", ROOT.parent / "shared" / "data"))
ONLINE_RETAIL = SHARED / "online_retail_2010_2011.parquet"
RESULTS = ROOT / "benchmarks" / "results"
H = 30
EXTRA = ("mstl", "theta")  # run next to the default set; arima separately (slow)
ALL = (*DEFAULT_MODELS, *EXTRA)
GB = Country("GB")


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def panel(n: int, seed: int = 3) -> tuple[dict[str, pd.Series], pd.Timestamp]:
    f = synthetic_daily(n, start="2022-01-01", days=730, random_state=seed)
    series = {k: g.set_index("date")["y"].asfreq("D") for k, g in f.groupby("series")}
    return series, f["date"].max() + pd.Timedelta(days=1)


def warm_up() -> float:
    """Compile numba (statsforecast) and import LightGBM once, outside every timing."""
    t = time.perf_counter()
    s, as_of = panel(2, seed=99)
    run_round(s, as_of, H, [*ALL, "arima"], calendar_of={}, countries={k: GB for k in s})
    prophet_forecast(s["s0000"], as_of, H)
    return time.perf_counter() - t


# --- 1. Online Retail ------------------------------------------------------------------------
def online_retail() -> dict[str, Any]:
    from loyalist.forecast.public_holidays import dominant_country
    from loyalist.forecast.series import complete_days, read_daily_revenue
    from loyalist.ingest import ingest_files
    from loyalist.store import Store

    with tempfile.TemporaryDirectory() as d:
        with Store(Path(d) / "s.duckdb") as st:
            ingest_files(st, [ONLINE_RETAIL], loaded_at=datetime(2026, 1, 1))
            as_of = st.default_as_of()
            daily, countries = read_daily_revenue(st, as_of=as_of)
    series = complete_days(daily, end=as_of)
    country = {"total": dominant_country(countries)}
    t = time.perf_counter()
    fc = RevenueForecaster(horizon=H).fit(series, as_of=as_of, countries=country)
    seconds = time.perf_counter() - t
    extra = RevenueForecaster(horizon=H, models=(*EXTRA, "arima")).fit(
        series, as_of=as_of, countries=country)
    bt = pd.concat([fc.backtest_, extra.backtest_[extra.backtest_["model"].isin(
        [*EXTRA, "arima"])]])
    s = bt.groupby("model")[["mape", "smape", "mase", "coverage80", "coverage95"]].mean()
    naive = s.loc["seasonal_naive", "mase"]
    per_origin = bt.pivot_table(index="model", columns="origin", values="mase")
    rows = {}
    for model, r in s.iterrows():
        rows[str(model)] = {k: float(r[k]) for k in ("mape", "smape", "mase", "coverage80",
                                                     "coverage95")}
        rows[str(model)]["mase_vs_naive"] = float(r["mase"] / naive)
        rows[str(model)]["mase_by_origin"] = [float(v) for v in per_origin.loc[model]]
        rows[str(model)]["seconds"] = {**fc.seconds_, **extra.seconds_}.get(str(model))
    chosen = fc.chosen_["total"]
    return {
        "as_of": str(as_of.date()), "origins": [str(o.date()) for o in fc.origins_],
        "chosen": chosen, "models": rows, "calendar": fc.calendars_["total"].describe(),
        "auto_choices": [str(x) for x in fc.auto_choices_["selected"]],
        "target_mase_ratio_met": rows[chosen]["mase_vs_naive"] <= 0.9,
        "target_coverage95_met": 0.85 <= rows[chosen]["coverage95"] <= 0.99,
        "seconds_default_models": seconds,
    }


# --- 2. Synthetic accuracy -----------------------------------------------------------------------
def prophet_forecast(y: pd.Series, origin: pd.Timestamp, horizon: int) -> np.ndarray:
    from prophet import Prophet

    hist = y[y.index < origin]
    m = Prophet()
    m.add_country_holidays(country_name="GB")
    m.fit(pd.DataFrame({"ds": hist.index, "y": hist.to_numpy()}))
    fut = m.make_future_dataframe(periods=horizon, include_history=False)
    return m.predict(fut)["yhat"].to_numpy()


def synthetic_accuracy(n: int, n_arima: int) -> dict[str, Any]:
    series, as_of = panel(n)
    countries = {k: GB for k in series}
    fc = RevenueForecaster(horizon=H).fit(series, as_of=as_of, countries=countries)
    extra = RevenueForecaster(horizon=H, models=EXTRA).fit(series, as_of=as_of,
                                                           countries=countries)
    bt = pd.concat([fc.backtest_, extra.backtest_[extra.backtest_["model"].isin(EXTRA)]])
    _, scored = rolling_origins(as_of, H)
    prophet = []
    for name, y in series.items():
        for o in scored:
            f = prophet_forecast(y, o, H)
            a = y.reindex(pd.date_range(o, periods=H)).to_numpy()
            prophet.append({"series": name, "origin": o, "mape": mt.mape(a, f),
                            "mase": np.nan})
    say(f"  prophet done on {n} series x {len(scored)} origins")
    arima = []
    subset = list(series)[:n_arima]
    for o in scored:
        r = run_round({k: series[k] for k in subset}, o, H, ["arima"], calendar_of={},
                      countries={k: GB for k in subset})
        for name, f in r.forecasts["arima"].items():
            a = series[name].reindex(r.dates).to_numpy()
            arima.append({"series": name, "origin": o, "mape": mt.mape(a, f),
                          "seconds": r.seconds["arima"] / len(subset)})
    say(f"  arima done on {n_arima} series")
    table: dict[str, dict[str, float]] = {}
    for model, g in bt.groupby("model"):
        table[str(model)] = {
            "mape": float(g["mape"].mean()),
            "mape_arima_subset": float(g[g["series"].isin(subset)]["mape"].mean()),
            "coverage80": float(g["coverage80"].mean()),
            "coverage95": float(g["coverage95"].mean())}
    p = pd.DataFrame(prophet)
    table["prophet_holidays"] = {"mape": float(p["mape"].mean()),
                                 "mape_arima_subset": float(
                                     p[p["series"].isin(subset)]["mape"].mean())}
    a = pd.DataFrame(arima)
    table["arima"] = {"mape": float("nan"), "mape_arima_subset": float(a["mape"].mean()),
                      "seconds_per_fit": float(a["seconds"].mean())}
    return {"series": n, "arima_series": n_arima, "origins": [str(o.date()) for o in scored],
            "chosen": pd.Series(fc.chosen_).value_counts().to_dict(), "models": table}


# --- 3. Speed ------------------------------------------------------------------------------------
def speed(n: int, n_prophet: int, repeats: int, full_default: bool) -> dict[str, Any]:
    series, as_of = panel(n)
    countries = {k: GB for k in series}
    out: dict[str, Any] = {"series": n, "days": 730, "horizon": H, "repeats": repeats}
    per = []
    for name in list(series)[:n_prophet]:
        t = time.perf_counter()
        prophet_forecast(series[name], as_of, H)
        per.append(time.perf_counter() - t)
    out["prophet_series_timed"] = n_prophet
    out["prophet_s_per_series_median"] = statistics.median(per)
    out["prophet_s_per_series_mean"] = statistics.mean(per)
    out["prophet_extrapolated_s"] = statistics.median(per) * n
    say(f"  prophet: {statistics.median(per):.3f} s per series (median of {n_prophet})")
    fit_forecast: dict[str, float] = {}
    for model in ("seasonal_naive", "ets", "mstl", "harmonic", "lightgbm"):  # each alone
        ts = []
        for _ in range(repeats if model != "ets" else 1):
            r = run_round(series, as_of, H, [model], calendar_of={}, countries=countries)
            ts.append(r.seconds[model])
        fit_forecast[model] = statistics.median(ts)
        say(f"  fit+forecast {model}: {fit_forecast[model]:.1f} s")
    out["fit_forecast_s"] = fit_forecast
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        RevenueForecaster(horizon=H, models=FAST_MODELS).fit(series, as_of=as_of,
                                                             countries=countries)
        ts.append(time.perf_counter() - t)
        say(f"  auto (fast set): {ts[-1]:.1f} s")
    out["auto_fast_models"] = list(FAST_MODELS)
    out["auto_fast_s"] = statistics.median(ts)
    if full_default:
        t = time.perf_counter()
        RevenueForecaster(horizon=H, models=DEFAULT_MODELS).fit(series, as_of=as_of,
                                                                 countries=countries)
        out["auto_default_models"] = list(DEFAULT_MODELS)
        out["auto_default_s"] = time.perf_counter() - t
        say(f"  auto (default set): {out['auto_default_s']:.1f} s")
    p = out["prophet_extrapolated_s"]
    out["speedup_vs_prophet"] = {
        **{f"fit_forecast_{m}": p / s for m, s in fit_forecast.items() if s > 0},
        "fit_forecast_default_set": p / sum(fit_forecast.get(m, 0.0) for m in DEFAULT_MODELS),
        "fit_forecast_fast_set": p / sum(fit_forecast.get(m, 0.0) for m in FAST_MODELS),
        "auto_fast": p / out["auto_fast_s"],
        **({"auto_default": p / out["auto_default_s"]} if full_default else {})}
    return out


def print_tables(doc: dict[str, Any]) -> None:
    o = doc.get("online_retail")
    if o:
        print(f"\nOnline Retail daily net revenue, origins {', '.join(o['origins'])} "
              f"(chosen: {o['chosen']})")
        print(f"{'model':16s} {'MAPE':>7s} {'sMAPE':>7s} {'MASE':>6s} {'/naive':>7s} "
              f"{'cov80':>6s} {'cov95':>6s}")
        for m, r in sorted(o["models"].items(), key=lambda kv: kv[1]["mase"]):
            print(f"{m:16s} {100 * r['mape']:6.1f}% {100 * r['smape']:6.1f}% {r['mase']:6.3f} "
                  f"{r['mase_vs_naive']:7.3f} {100 * r['coverage80']:5.1f}% "
                  f"{100 * r['coverage95']:5.1f}%")
    s = doc.get("synthetic")
    if s:
        print(f"\nSynthetic 2-year daily series ({s['series']}), 30-day MAPE over 4 origins "
              f"(arima subset: first {s['arima_series']})")
        print(f"{'model':18s} {'MAPE':>7s} {'subset':>7s} {'cov80':>6s} {'cov95':>6s}")
        for m, r in sorted(s["models"].items(), key=lambda kv: kv[1]["mape_arima_subset"]):
            mape = "" if np.isnan(r["mape"]) else f"{100 * r['mape']:6.1f}%"
            c80 = f"{100 * r['coverage80']:5.1f}%" if "coverage80" in r else ""
            c95 = f"{100 * r['coverage95']:5.1f}%" if "coverage95" in r else ""
            print(f"{m:18s} {mape:>7s} {100 * r['mape_arima_subset']:6.1f}% {c80:>6s} {c95:>6s}")
    sp = doc.get("speed")
    if sp:
        print(f"\nSpeed, {sp['series']} series x {sp['days']} days, horizon {sp['horizon']}")
        print(f"Prophet+holidays: {sp['prophet_s_per_series_median']:.3f} s/series (median of "
              f"{sp['prophet_series_timed']}) -> {sp['prophet_extrapolated_s']:.0f} s extrapolated")
        for m, v in sp["fit_forecast_s"].items():
            print(f"fit+forecast {m:15s} {v:7.1f} s  "
                  f"({sp['speedup_vs_prophet'].get('fit_forecast_' + m, 0):.0f}x Prophet)")
        print(f"auto, fast set {sp['auto_fast_models']}: {sp['auto_fast_s']:.1f} s "
              f"({sp['speedup_vs_prophet']['auto_fast']:.1f}x Prophet)")
        if "auto_default_s" in sp:
            print(f"auto, default set {sp['auto_default_models']}: {sp['auto_default_s']:.1f} s "
                  f"({sp['speedup_vs_prophet']['auto_default']:.1f}x Prophet)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--series", type=int, default=1000)
    ap.add_argument("--prophet-series", type=int, default=20)
    ap.add_argument("--accuracy-series", type=int, default=20)
    ap.add_argument("--arima-series", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-default", action="store_true",
                    help="skip the full automatic run with the default (slower) model set")
    ap.add_argument("--quick", action="store_true", help="100 series, 5 for accuracy, 1 repeat")
    args = ap.parse_args()
    if args.quick:
        args.series, args.prophet_series, args.accuracy_series = 100, 5, 5
        args.arima_series, args.repeats = 1, 1
    import prophet  # noqa: F401  (configures its loggers on import; quiet them after)

    for name in ("cmdstanpy", "prophet", "prophet.plot"):
        logging.getLogger(name).setLevel(logging.ERROR)
    RESULTS.mkdir(parents=True, exist_ok=True)
    doc: dict[str, Any] = {
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "cpus": os.cpu_count(), "load_avg_at_start": os.getloadavg()},
        "args": vars(args),
    }
    say("warm-up (numba compile, imports)")
    doc["warm_up_s"] = warm_up()
    if ONLINE_RETAIL.exists():
        say("Online Retail backtest")
        doc["online_retail"] = online_retail()
    say("synthetic accuracy")
    doc["synthetic"] = synthetic_accuracy(args.accuracy_series, args.arima_series)
    say("speed")
    doc["speed"] = speed(args.series, args.prophet_series, args.repeats,
                         full_default=not args.skip_default)
    doc["machine"]["load_avg_at_end"] = os.getloadavg()
    (RESULTS / "forecast.json").write_text(json.dumps(doc, indent=2, default=str))
    print_tables(doc)


if __name__ == "__main__":
    main()
