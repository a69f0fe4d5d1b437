"""Reading campaigns against their hold-out (``loyalist evaluate campaign``) against the
obvious alternative, in the same run on the same store:

- ``readout``: :func:`loyalist.response.results.campaign_results` over the chosen send days:
  one query for every exposure's window outcomes (buyers, orders, revenue, margin at product
  costs), then per promotion its day-matched hold-out, the effects with 95% intervals (the
  shared control group's covariance in the total), the net after cost and the sentences;
- ``bare_sql``: one DuckDB query for the arms' mean buying and spend per (send day,
  promotion): the numbers a notebook would start from, without margin, matching, intervals
  or the total.

Both over every campaign of the history (``all``) and over the latest send day
(``latest``). The store: a generated scenario (default coffee, 28,000 customers, 18 months,
~1M lines, its promotion history with randomised control groups) loaded once; ``--store S``
reads a store of your own instead. Reported: median wall seconds over ``--trials`` (the
methods interleaved), their ratio, and a check that both give the same arm means on the
latest day.

    python benchmarks/bench_campaign.py [--scenario coffee] [--customers 28000] [--trials 7]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"

BARE = """
    WITH e AS (
        SELECT DISTINCT customer_id, sent_at, promotion FROM promotions
        WHERE CAST(sent_at AS DATE) BETWEEN CAST($lo AS DATE) AND CAST($hi AS DATE))
    SELECT CAST(e.sent_at AS DATE) AS day, e.promotion, count(*) AS n,
           avg(CASE WHEN w.orders > 0 THEN 1 ELSE 0 END) AS buyers, avg(w.spend) AS spend
    FROM e, LATERAL (
        SELECT count(DISTINCT t.order_id) AS orders, coalesce(sum(t.amount), 0) AS spend
        FROM transactions t
        WHERE t.customer_id = e.customer_id AND t.ordered_at >= e.sent_at
          AND t.ordered_at < e.sent_at + to_days(CAST($w AS INTEGER))
          AND t.quantity > 0 AND t.line_kind <> 'cancellation' AND NOT t.is_guest) w
    GROUP BY ALL ORDER BY 1, 2"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenario", default="coffee")
    ap.add_argument("--customers", type=int, default=28_000)
    ap.add_argument("--months", type=int, default=18)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--trials", type=int, default=7)
    ap.add_argument("--store", type=Path, help="a store of your own (read only)")
    args = ap.parse_args()

    from loyalist import pipeline
    from loyalist.response.data import campaign_dates, default_window_days
    from loyalist.response.results import campaign_results
    from loyalist.store import Store

    tmp = tempfile.TemporaryDirectory(prefix="bench_campaign_")
    store = args.store
    built: dict[str, object] = {}
    if store is None:
        t = time.perf_counter()
        gen = pipeline.generate(args.scenario, customers=args.customers, months=args.months,
                                seed=args.seed, out=Path(tmp.name) / "data")
        store = Path(tmp.name) / "s.duckdb"
        pipeline.load_scenario(store, gen["files"])
        built = {"scenario": args.scenario, "customers": args.customers,
                 "months": args.months, "seed": args.seed,
                 "build_seconds": round(time.perf_counter() - t, 1)}
    with Store(store, read_only=True) as st:
        dates = campaign_dates(st)
        w = default_window_days(dates)
        size = {"lines": st.count("transactions"), "exposures": st.count("promotions"),
                "send_days": len(dates)}
        print(f"store: {size}, window {w} days", flush=True)
        spans = {"all": (dates.iloc[0], dates.iloc[-1]), "latest": (dates.iloc[-1],) * 2}
        times: dict[str, dict[str, list[float]]] = {k: {"readout": [], "bare_sql": []}
                                                    for k in spans}
        for _ in range(args.trials):
            for span, (lo, hi) in spans.items():
                t = time.perf_counter()
                res = campaign_results(st, sent_from=lo, sent_to=hi)
                times[span]["readout"].append(time.perf_counter() - t)
                t = time.perf_counter()
                bare = st.query(BARE, {"lo": lo.to_pydatetime(), "hi": hi.to_pydatetime(),
                                       "w": w})
                times[span]["bare_sql"].append(time.perf_counter() - t)
        # the same arm means on the latest day
        day = bare.set_index("promotion")
        agree = all(abs(r["revenue"]["sent_mean"] - day.loc[p, "spend"]) < 1e-6
                    and abs(r["buyers"]["sent_mean"] - day.loc[p, "buyers"]) < 1e-9
                    for p, r in res["promotions"].items())
    out = {"date": datetime.now().isoformat(timespec="seconds"),
           "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                       "load_avg": os.getloadavg()},
           "store": {**size, **built, "window_days": w}, "trials": args.trials,
           "same_arm_means": agree, "spans": {}}
    for span, t in times.items():
        med = {k: statistics.median(v) for k, v in t.items()}
        out["spans"][span] = {**{f"{k}_s": round(v, 4) for k, v in med.items()},
                              "ratio": round(med["readout"] / med["bare_sql"], 2)}
        print(f"{span:7s} readout {med['readout']:.3f} s, bare SQL {med['bare_sql']:.3f} s "
              f"(x{med['readout'] / med['bare_sql']:.2f})", flush=True)
    print(f"same arm means on the latest day: {agree}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"campaign_{pd.Timestamp.now():%Y%m%d_%H%M}.json"
    path.write_text(json.dumps(out, indent=2, default=str))
    print(f"written {path}")
    tmp.cleanup()


if __name__ == "__main__":
    main()
