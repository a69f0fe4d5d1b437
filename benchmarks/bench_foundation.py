"""Foundation benchmark: ingest + features on real and generated data, against their floors.

Each ingest+features trial runs in a fresh subprocess (so peak RSS is that trial's own) on a
fresh store. Reported: medians over trials, rows/s, peak memory, and in the same run:
- the floor: one DuckDB GROUP BY customer (count, sum, max date) over the same Parquet, and the
  same GROUP BY over the store table, against our full feature query;
- our BG/NBD summary against lifetimes' ``summary_data_from_transaction_data`` on the same
  1M-line log.

``customer_features`` reads the per-order table that ingest builds (``features.orders``); the
reference query over the lines (``features_sql``) is timed next to it, and ingest reports how
much of its time went into that table.

``--features-only --store PATH`` skips ingest: it times ``customer_features`` on an existing
store against the bare GROUP BY customer floor, interleaved in one process (so both see the same
machine load), optionally with a baseline ``features_sql`` from another file, and records the
medians under ``features_only`` in ``results/foundation.json``:

    python benchmarks/bench_foundation.py [--trials 3] [--lines 10000000] [--quick]
    loyalist ingest benchmarks/results/generated_10000000.parquet --store /tmp/feat10m.duckdb
    python benchmarks/bench_foundation.py --features-only --store /tmp/feat10m.duckdb \
        [--trials 5] [--baseline-sql old_sql.py]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "online_retail_2010_2011.parquet"
RESULTS = ROOT / "benchmarks" / "results"
# the floor: one bare GROUP BY customer of simple aggregates over the store's table
FLOOR_STORE_SQL = ("SELECT customer_id, count(*), sum(amount), min(ordered_at), max(ordered_at) "
                   "FROM transactions GROUP BY 1")


def trial(path: Path, as_of: str | None) -> dict[str, float]:
    """One ingest + features run on a fresh store (called in a subprocess)."""
    from loyalist.features import customer_features
    from loyalist.ingest import ingest_files
    from loyalist.store import Store

    marks: dict[str, float] = {}

    def progress(msg: str) -> None:
        if msg.startswith("grouping orders"):
            marks["orders"] = time.perf_counter()

    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        with Store(Path(d) / "s.duckdb") as st:
            rep = ingest_files(st, [path], loaded_at=datetime(2026, 1, 1), progress=progress)[0]
            t1 = time.perf_counter()
            f = customer_features(st, as_of or st.default_as_of())
            t2 = time.perf_counter()
    return {"ingest_s": t1 - t0, "of_which_order_table_s": t1 - marks.get("orders", t1),
            "features_s": t2 - t1, "total_s": t2 - t0,
            "rows": rep["rows_read"], "customers": len(f),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            # CPU seconds of every thread: less sensitive than wall time to a shared machine
            "cpu_s": sum(resource.getrusage(resource.RUSAGE_SELF)[:2])}


def run_trials(path: Path, n: int, as_of: str | None = None) -> list[dict[str, float]]:
    out = []
    for i in range(n):
        p = subprocess.run([sys.executable, __file__, "--trial", str(path)]
                           + (["--as-of", as_of] if as_of else []),
                           capture_output=True, text=True, check=True)
        out.append(json.loads(p.stdout.strip().splitlines()[-1]))
        print(f"  trial {i + 1}: {out[-1]}", file=sys.stderr)
    return out


def floors(path: Path, n: int) -> dict[str, float]:
    """Median seconds: GROUP BY over Parquet, GROUP BY over the store, our features on the store
    (from the per-order table, as ``customer_features`` reads them, and from the lines)."""
    import duckdb

    from loyalist.features import customer_features, features_sql
    from loyalist.ingest import ingest_files
    from loyalist.store import Store

    with tempfile.TemporaryDirectory() as d:
        st = Store(Path(d) / "s.duckdb")
        ingest_files(st, [path], loaded_at=datetime(2026, 1, 1))
        as_of = st.default_as_of()
        cols = [r[0] for r in duckdb.sql(f"DESCRIBE SELECT * FROM '{path}'").fetchall()]
        cust, amt, qty, price, when = _source_cols(cols)
        raw = duckdb.connect()
        q_parquet = (f"SELECT {cust}, count(*), sum({qty} * {price}), max({when}) "
                     f"FROM read_parquet('{path}') GROUP BY 1")
        q_store = FLOOR_STORE_SQL
        res: dict[str, list[float]] = {"floor_parquet_s": [], "floor_store_s": [],
                                       "features_s": [], "features_from_lines_s": []}
        for _ in range(n):
            t = time.perf_counter()
            raw.execute(q_parquet).fetchall()
            res["floor_parquet_s"].append(time.perf_counter() - t)
            t = time.perf_counter()
            st.con.execute(q_store).fetchall()
            res["floor_store_s"].append(time.perf_counter() - t)
            t = time.perf_counter()
            customer_features(st, as_of)
            res["features_s"].append(time.perf_counter() - t)
            t = time.perf_counter()
            st.query(features_sql(), {"as_of": as_of.to_pydatetime()})
            res["features_from_lines_s"].append(time.perf_counter() - t)
        st.close()
    med = {k: statistics.median(v) for k, v in res.items()}
    med["features_over_floor_parquet"] = med["features_s"] / med["floor_parquet_s"]
    med["features_over_floor_store"] = med["features_s"] / med["floor_store_s"]
    med["from_lines_over_floor_store"] = med["features_from_lines_s"] / med["floor_store_s"]
    return med


def features_only(store_path: Path, n: int, baseline: Path | None = None) -> dict[str, object]:
    """Median seconds of ``customer_features`` on an existing store against the floor, the runs
    interleaved (floor, features[, baseline]) so each trial sees the same machine load. Both
    return a DataFrame, as ``customer_features`` does."""
    from loyalist.features import customer_features, features_sql, orders
    from loyalist.store import Store

    with Store(store_path, read_only=True) as st:
        as_of = st.default_as_of()
        params = {"as_of": as_of.to_pydatetime()}
        fresh = orders.is_fresh(st.con)
        runs = {"floor_s": lambda: st.con.execute(FLOOR_STORE_SQL).df(),
                "features_s": lambda: customer_features(st, as_of),
                "features_from_lines_s": lambda: st.query(features_sql(), params)}
        if baseline is not None:
            base_sql = _features_sql_from(baseline)
            runs["baseline_s"] = lambda: st.query(base_sql, params)  # type: ignore[arg-type]
        customers = len(runs["features_s"]())  # warm-up: loads the columns into the buffer pool
        runs["floor_s"]()
        times: dict[str, list[float]] = {k: [] for k in runs}
        for i in range(n):
            for k, run in runs.items():
                t = time.perf_counter()
                run()
                times[k].append(time.perf_counter() - t)
            print(f"  trial {i + 1}: " + ", ".join(f"{k} {v[-1]:.2f}" for k, v in times.items()),
                  file=sys.stderr)
        lines = st.count("transactions")
        threads = st.con.execute("SELECT current_setting('threads')").fetchall()[0][0]
    med = {k: statistics.median(v) for k, v in times.items()}
    out: dict[str, object] = {
        "store": str(store_path), "lines": lines, "customers": customers, "as_of": str(as_of),
        "duckdb_threads": threads, "trials": n, "floor_sql": FLOOR_STORE_SQL, **med,
        "per_order_table_used": fresh,
        "features_over_floor": med["features_s"] / med["floor_s"],
        "from_lines_over_floor": med["features_from_lines_s"] / med["floor_s"]}
    if baseline is not None:
        out["baseline_sql"] = str(baseline)
        out["baseline_over_floor"] = med["baseline_s"] / med["floor_s"]
        out["speedup_vs_baseline"] = med["baseline_s"] / med["features_s"]
    out["runs"] = times
    return out


def _features_sql_from(path: Path) -> str:
    """``features_sql()`` of a Python file, e.g. an earlier version of ``features/sql.py``."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("baseline_features_sql", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"{path}: not a Python file")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return str(mod.features_sql())


def _source_cols(cols: list[str]) -> tuple[str, str, str, str, str]:
    if "Customer ID" in cols:
        return '"Customer ID"', "", "Quantity", "Price", "InvoiceDate"
    return "customer_id", "", "quantity", "unit_price", "ordered_at"


def lifetimes_vs_ours(path: Path, n: int) -> dict[str, float]:
    """BG/NBD summary on the same log: lifetimes (pandas) vs ours (DuckDB over the store)."""
    import pandas as pd
    from lifetimes.utils import summary_data_from_transaction_data

    from loyalist.features import rfm_summary
    from loyalist.ingest import ingest_files
    from loyalist.store import Store

    log = pd.read_parquet(path, columns=["customer_id", "ordered_at", "quantity", "unit_price"])
    log = log[log.customer_id.notna() & (log.quantity > 0)]
    log["amount"] = log.quantity * log.unit_price
    with tempfile.TemporaryDirectory() as d:
        st = Store(Path(d) / "s.duckdb")
        ingest_files(st, [path], loaded_at=datetime(2026, 1, 1))
        as_of = st.default_as_of()
        ours, theirs = [], []
        for _ in range(n):
            t = time.perf_counter()
            a = rfm_summary(st, as_of, "D")
            ours.append(time.perf_counter() - t)
        for _ in range(max(1, n)):
            t = time.perf_counter()
            b = summary_data_from_transaction_data(
                log, "customer_id", "ordered_at", monetary_value_col="amount",
                observation_period_end=as_of - pd.Timedelta(days=1), freq="D")
            theirs.append(time.perf_counter() - t)
        st.close()
    same = (len(a) == len(b)) and bool(
        (a.set_index("customer_id").frequency.sort_index().values
         == b.frequency.sort_index().values).all())
    return {"lines": int(len(log)), "ours_s": statistics.median(ours),
            "lifetimes_s": statistics.median(theirs),
            "speedup": statistics.median(theirs) / statistics.median(ours),
            "same_frequencies": same}


def generated_log(lines: int, out: Path) -> Path:
    """A generated transaction log of about ``lines`` lines (electronics-free, coffee-sized
    baskets: the coffee scenario has the most lines per customer)."""
    from loyalist.generate import generate

    if out.exists():
        return out
    probe = generate("coffee", customers=2_000, months=12, seed=1)
    per_customer = len(probe.transactions) / 2_000
    n = max(1_000, int(lines / per_customer))
    t = time.perf_counter()
    sc = generate("coffee", customers=n, months=12, seed=1)
    sc.transactions.to_parquet(out, index=False)
    print(f"  generated {len(sc.transactions):,} lines for {n:,} customers in "
          f"{time.perf_counter() - t:.1f} s", file=sys.stderr)
    return out


def file_formats(n: int) -> dict[str, dict[str, float]]:
    """Online Retail ingest + features from the same lines in each file format a merchant
    may hand over: Parquet (the shared file), CSV, gzipped CSV, a zip archive holding the CSV
    (a downloaded export), Feather. Medians of ``n`` fresh-process trials each, interleaved
    (trial 1 of every format, then trial 2, ...) so that machine load hits them alike."""
    import zipfile

    import pandas as pd

    frame = pd.read_parquet(SHARED)
    out: dict[str, list[dict[str, float]]] = {}
    with tempfile.TemporaryDirectory() as d:
        files = {"parquet": SHARED, "csv": Path(d) / "online_retail.csv",
                 "csv.gz": Path(d) / "online_retail.csv.gz",
                 "zip": Path(d) / "online_retail_export.zip",
                 "feather": Path(d) / "online_retail.feather"}
        frame.to_csv(files["csv"], index=False)
        frame.to_csv(files["csv.gz"], index=False, compression="gzip")
        with zipfile.ZipFile(files["zip"], "w", zipfile.ZIP_DEFLATED) as z:
            z.write(files["csv"], "export/online_retail.csv")
        frame.to_feather(files["feather"])
        for i in range(n):
            for name, path in files.items():
                out.setdefault(name, []).extend(run_trials(path, 1))
                print(f"  {name} trial {i + 1}", file=sys.stderr)
        sizes = {name: path.stat().st_size / 1e6 for name, path in files.items()}
    return {name: _summarise(t) | {"file_mb": sizes[name]} for name, t in out.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trial")
    ap.add_argument("--as-of")
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument("--lines", type=int, default=10_000_000)
    ap.add_argument("--quick", action="store_true", help="small generated log, 1 trial")
    ap.add_argument("--features-only", action="store_true",
                    help="time features vs the floor on an existing --store (no ingest)")
    ap.add_argument("--store", type=Path, help="existing store for --features-only")
    ap.add_argument("--formats", action="store_true",
                    help="Online Retail as Parquet, CSV, csv.gz, zip and Feather only")
    ap.add_argument("--baseline-sql", type=Path,
                    help="with --features-only: also time features_sql() from this file")
    args = ap.parse_args()
    if args.trial:
        print(json.dumps(trial(Path(args.trial), args.as_of)))
        return
    if args.features_only:
        if args.store is None or not args.store.exists():
            ap.error("--features-only needs --store PATH of an existing store")
        res = features_only(args.store, args.trials, args.baseline_sql)
        print(f"features {res['features_s']:.2f} s vs floor {res['floor_s']:.2f} s: "
              f"{res['features_over_floor']:.1f}x (median of {args.trials}; per-order table "
              f"{'used' if res['per_order_table_used'] else 'stale: lines used'}); from the "
              f"lines {res['features_from_lines_s']:.2f} s, {res['from_lines_over_floor']:.1f}x"
              + (f"; baseline {res['baseline_s']:.2f} s, {res['speedup_vs_baseline']:.2f}x "
                 "slower than features" if args.baseline_sql else ""), file=sys.stderr)
        RESULTS.mkdir(parents=True, exist_ok=True)
        path = RESULTS / "foundation.json"
        doc = json.loads(path.read_text()) if path.exists() else {}
        doc["features_only"] = {"machine": _machine()} | res
        path.write_text(json.dumps(doc, indent=2))
        print(json.dumps(doc["features_only"], indent=2))
        return
    if args.formats:
        if not SHARED.exists():
            ap.error(f"--formats needs {SHARED}")
        res = file_formats(args.trials)
        RESULTS.mkdir(parents=True, exist_ok=True)
        path = RESULTS / "foundation.json"
        doc = json.loads(path.read_text()) if path.exists() else {}
        doc["file_formats"] = {"machine": _machine()} | res
        path.write_text(json.dumps(doc, indent=2))
        for name, r in res.items():
            print(f"{name:8s} {r['file_mb']:7.1f} MB  ingest {r['ingest_s']:.2f} s  total "
                  f"{r['total_s']:.2f} s  cpu {r['cpu_s']:.1f} s  rss {r['peak_rss_mb']:.0f} MB")
        return
    if args.quick:
        args.trials, args.lines = 1, 500_000
    RESULTS.mkdir(parents=True, exist_ok=True)
    doc: dict[str, object] = {"machine": _machine(), "trials": args.trials}
    if SHARED.exists():
        print("Online Retail: ingest + features", file=sys.stderr)
        t = run_trials(SHARED, args.trials)
        doc["online_retail"] = _summarise(t) | floors(SHARED, max(5, args.trials))
    big = generated_log(args.lines, RESULTS / f"generated_{args.lines}.parquet")
    print(f"generated log {big.name}: ingest + features", file=sys.stderr)
    doc["generated"] = _summarise(run_trials(big, args.trials)) | floors(big, args.trials)
    one_m = generated_log(1_000_000, RESULTS / "generated_1000000.parquet")
    print("BG/NBD summary vs lifetimes on ~1M lines", file=sys.stderr)
    doc["summary_vs_lifetimes"] = lifetimes_vs_ours(one_m, args.trials)
    (RESULTS / "foundation.json").write_text(json.dumps(doc, indent=2))
    print(json.dumps(doc, indent=2))


def _machine() -> dict[str, object]:
    return {"platform": platform.platform(), "python": platform.python_version(),
            "cpus": os.cpu_count(), "load_average": os.getloadavg()}


def _summarise(trials: list[dict[str, float]]) -> dict[str, float]:
    med = {k: statistics.median(t[k] for t in trials) for k in trials[0]}
    med["rows_per_s"] = med["rows"] / med["total_s"]
    med["peak_rss_mb_max"] = max(t["peak_rss_mb"] for t in trials)
    return med


if __name__ == "__main__":
    main()
