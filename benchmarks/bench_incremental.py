"""Incremental load: one more month into a store, against a fresh load of all lines.

A generated scenario's transactions (or ``--source FILE``) are split into "all but the last
N months" and one file per month after (``--months-added N``, default 1). Each load runs in its
own subprocess (so peak RSS is that load's own) on the same machine:

- ``fresh_head``: all but the last N months into a new store;
- ``increment_YYYY_MM``: each month after into that store (the case this benchmark is about);
- ``fresh_all``: every line into another new store (what the increments should match).

Reported per load: wall and CPU seconds, peak RSS (the process's own, ``VmHWM``), seconds after
the "grouping orders" progress line (the per-order table's refresh), and the store file's size
after it (with its WAL, if any). Then the incremented store is compared with the fresh one: the
per-order tables row for row, ``customer_features`` at the default as_of, and that query's time
on each.

    python benchmarks/bench_incremental.py [--customers 45000] [--months 18] [--seed 3] \
        [--months-added 1]
    python benchmarks/bench_incremental.py --source tx.parquet   # a log of your own
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
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def trial(store: Path, files: list[str]) -> dict[str, object]:
    """One ingest of ``files`` into ``store`` (called in a subprocess)."""
    import resource

    from loyalist.ingest import ingest_files
    from loyalist.store import Store

    marks: dict[str, float] = {}

    def progress(msg: str) -> None:
        marks[msg] = time.perf_counter()

    t0 = time.perf_counter()
    with Store(store) as st:
        reps = ingest_files(st, [Path(f) for f in files], loaded_at=datetime(2026, 1, 1),
                            progress=progress)
    t1 = time.perf_counter()
    grouping = next((t for m, t in marks.items() if m.startswith("grouping orders")), t1)
    return {"wall_s": t1 - t0, "order_table_s": t1 - grouping,
            "rows_loaded": sum(int(r["rows_loaded"]) for r in reps),
            "cpu_s": sum(resource.getrusage(resource.RUSAGE_SELF)[:2]),
            "peak_rss_mb": peak_rss_mb(),
            "progress": [[m, round(t - t0, 2)] for m, t in marks.items()]}


def peak_rss_mb() -> float:
    """This process's own peak resident memory. Linux's ``ru_maxrss`` of a child started by
    ``subprocess`` (vfork, then exec) also counts the parent's peak, so it is read from
    ``VmHWM`` of this process's memory map where there is one."""
    import resource

    status = Path("/proc/self/status")
    if status.exists():
        for row in status.read_text().splitlines():
            if row.startswith("VmHWM:"):
                return int(row.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_trial(store: Path, files: list[Path]) -> dict[str, object]:
    """``trial`` in a subprocess; adds the store's size on disk after it."""
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    p = subprocess.run([sys.executable, __file__, "--trial", str(store), *map(str, files)],
                       stdout=subprocess.PIPE, text=True, env=env, check=True)
    res = json.loads(p.stdout.strip().splitlines()[-1])
    wal = store.with_name(store.name + ".wal")
    res["store_mb"] = (store.stat().st_size + (wal.stat().st_size if wal.exists() else 0)) / 2**20
    return res


def split(source: Path, folder: Path, months: int) -> tuple[Path, list[Path]]:
    """``source`` into head (before the last ``months`` months) and one file per month after."""
    import duckdb

    con = duckdb.connect()
    when = "ordered_at"
    last = con.execute(f"SELECT date_trunc('month', max({when})) FROM read_parquet(?)",
                       [str(source)]).fetchall()[0][0]
    starts = [con.execute(f"SELECT TIMESTAMP '{last}' - INTERVAL {k} MONTH").fetchall()[0][0]
              for k in range(months - 1, -1, -1)]
    head = folder / "head.parquet"
    bounds = [(head, None, starts[0])] + [
        (folder / f"month_{lo:%Y_%m}.parquet", lo, hi)
        for lo, hi in zip(starts, [*starts[1:], None], strict=True)]
    for path, lo, hi in bounds:
        cond = " AND ".join([f"{when} >= TIMESTAMP '{lo}'"] * (lo is not None)
                            + [f"{when} < TIMESTAMP '{hi}'"] * (hi is not None))
        con.execute(f"COPY (SELECT * FROM read_parquet('{source}') WHERE {cond}) TO '{path}' "
                    "(FORMAT parquet)")
    return head, [b[0] for b in bounds[1:]]


def compare(inc: Path, fresh: Path, trials: int) -> dict[str, object]:
    """Rows of the per-order tables that differ, whether the features are equal, and the
    median seconds of ``customer_features`` on each store."""
    import pandas as pd

    from loyalist import schema as s
    from loyalist.features import customer_features, orders
    from loyalist.store import Store

    out: dict[str, object] = {}
    with Store(inc, read_only=True) as a, Store(fresh, read_only=True) as b:
        a.con.execute(f"ATTACH '{fresh}' AS fresh (READ_ONLY)")
        for t in (s.T_CUSTOMER_ORDERS, s.T_CUSTOMER_ORDER_PARTS):
            n = a.con.execute(f"SELECT (SELECT count(*) FROM (FROM {t} EXCEPT ALL FROM fresh.{t})) "
                              f"+ (SELECT count(*) FROM (FROM fresh.{t} EXCEPT ALL FROM {t})), "
                              f"(SELECT count(*) FROM {t})").fetchall()[0]
            out[f"{t}_rows"], out[f"{t}_rows_differing"] = int(n[1]), int(n[0])
        a.con.execute("DETACH fresh")
        out["per_order_table_fresh"] = orders.is_fresh(a.con)
        as_of = b.default_as_of()
        fa, fb = customer_features(a, as_of), customer_features(b, as_of)
        try:
            pd.testing.assert_frame_equal(fa, fb, check_dtype=False, rtol=1e-9)
            out["features_equal"] = True
        except AssertionError:
            out["features_equal"] = False
        # the increments append each month's orders: is the feature query slower on them?
        times: dict[str, list[float]] = {"features_s_incremental": [], "features_s_fresh": []}
        for _ in range(trials):
            for key, st in (("features_s_incremental", a), ("features_s_fresh", b)):
                t = time.perf_counter()
                customer_features(st, as_of)
                times[key].append(time.perf_counter() - t)
        out.update({k: statistics.median(v) for k, v in times.items()})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="coffee")
    ap.add_argument("--customers", type=int, default=45000)
    ap.add_argument("--months", type=int, default=18)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--source", type=Path, help="a transactions Parquet file (column "
                    "ordered_at) instead")
    ap.add_argument("--months-added", type=int, default=1,
                    help="the last N months are loaded one by one after the rest")
    ap.add_argument("--trials", type=int, default=3, help="feature query timings per store")
    ap.add_argument("--trial", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.trial:
        print(json.dumps(trial(Path(args.trial[0]), args.trial[1:])))
        return
    RESULTS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-incremental-") as tmp:
        d = Path(tmp)
        source = args.source
        if source is None:
            from loyalist.pipeline import generate

            gen = generate(args.scenario, customers=args.customers, months=args.months,
                           seed=args.seed, out=d / "gen")
            source = Path(gen["files"]["transactions"])
        head, months = split(source, d, args.months_added)
        res: dict[str, object] = {
            "date": datetime.now().isoformat(timespec="minutes"),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores",
            "python": platform.python_version(),
            "source": str(args.source or f"{args.scenario} x {args.customers}, {args.months} "
                                         f"months, seed {args.seed}"),
            "load_average_before": os.getloadavg()}
        runs = [("fresh_head", d / "inc.duckdb", [head])]
        runs += [(f"increment_{m.stem[6:]}", d / "inc.duckdb", [m]) for m in months]
        runs += [("fresh_all", d / "all.duckdb", [head, *months])]
        for name, store, files in runs:
            res[name] = run_trial(store, files)
            shown = {k: v for k, v in res[name].items() if k != "progress"}  # type: ignore[union-attr]
            print(f"{name}: {json.dumps(shown)}", file=sys.stderr)
        res["load_average_after"] = os.getloadavg()
        res["increments_vs_fresh_all"] = compare(d / "inc.duckdb", d / "all.duckdb", args.trials)
        print(f"compare: {json.dumps(res['increments_vs_fresh_all'])}", file=sys.stderr)
    (RESULTS / "incremental.json").write_text(json.dumps(res, indent=2) + "\n")
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
