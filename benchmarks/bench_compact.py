"""Compacting a churned store (``loyalist compact``) against the obvious alternatives, in the
same run on copies of the same file:

- ``compact``: :func:`loyalist.store.compact`: the store opened for writing (its lock), the
  disk checked for room, ``COPY FROM DATABASE ... (SCHEMA)`` into a file beside it, then the
  tables one by one, each checkpointed, the copy compared with the store (catalog, and per
  table the row count and the sum of row hashes), fsync, ``os.replace``;
- ``copy_only``: one bare ``COPY FROM DATABASE`` into a new file (no check, no replace);
- ``export_import``: ``EXPORT DATABASE`` to a folder of Parquet files, then ``IMPORT
  DATABASE`` into a new file.

The churned store: a generated log (default coffee, 28,000 customers, 18 months: ~1M lines)
loaded with its products and customers, then its lines unloaded and loaded again (what a
corrected re-export does); ``--store S`` compacts copies of a store of your own instead.
Reported per method: median wall and CPU seconds over ``--trials`` (the methods interleaved
in each), the file's size after, the most disk its files took beside the store while it ran
(sampled every 10 ms), and for ``compact`` its phases.

    python benchmarks/bench_compact.py [--customers 28000] [--trials 5] [--store S]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def churned_store(folder: Path, scenario: str, customers: int, months: int, seed: int
                  ) -> tuple[Path, dict[str, object]]:
    """A store loaded, its lines unloaded and loaded again; its size after each step."""
    from loyalist import pipeline
    from loyalist.store.compaction import on_disk

    gen = pipeline.generate(scenario, customers=customers, months=months, seed=seed,
                            out=folder / "data")
    store = folder / "churned.duckdb"
    steps: dict[str, object] = {}

    def step(name: str, work: Callable[[], object]) -> None:
        t = time.perf_counter()
        work()
        steps[name] = {"seconds": round(time.perf_counter() - t, 1), **sizes(store)}
        print(f"  {name:32s} {steps[name]}", flush=True)

    files = gen["files"]
    step("load lines, products, customers", lambda: [
        pipeline.ingest(store, [files[k]], table=k)
        for k in ("transactions", "products", "customers")])
    step("unload the lines", lambda: pipeline.unload(store, [
        r["load_id"] for r in pipeline.loads(store) if r["table"] == "transactions"]))
    step("load the lines again", lambda: pipeline.ingest(store, [files["transactions"]],
                                                         table="transactions"))
    con = duckdb.connect(str(store), read_only=True)
    steps["lines"] = int(con.execute("SELECT count(*) FROM transactions").fetchall()[0][0])
    con.close()
    steps["bytes_on_disk"] = on_disk(store)
    return store, steps


def sizes(store: Path) -> dict[str, int]:
    from loyalist.store.compaction import space

    con = duckdb.connect(str(store), read_only=True)
    try:
        sp = space(con)
    finally:
        con.close()
    return {"file_bytes": store.stat().st_size, "used_bytes": sp["used_bytes"],
            "total_blocks": sp["total_blocks"], "free_blocks": sp["free_blocks"]}


def ours(store: Path) -> dict[str, object]:
    from loyalist.store import compact

    marks: dict[str, float] = {}

    def progress(msg: str) -> None:  # "copying ...", "checking the copy", "replacing ..."
        marks[msg.split()[0]] = time.perf_counter()

    t = time.perf_counter()
    res = compact(store, progress=progress)
    end = time.perf_counter()
    return {"seconds": end - t, "bytes_after": res["bytes_after"],
            "open_s": marks["copying"] - t, "copy_s": marks["checking"] - marks["copying"],
            "check_s": marks["replacing"] - marks["checking"],
            "replace_s": end - marks["replacing"], "rows": res["rows"], "tables": res["tables"]}


def peak_disk(store: Path, method: Callable[[Path], dict[str, object]]) -> dict[str, object]:
    """``method(store)``, and the most bytes its files beside the store (the copy, its WAL, an
    export folder) took on the disk while it ran, sampled every 10 ms: everything in the
    store's folder less the store's own size before."""
    base = store.stat().st_size
    peak = [0]
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            n = 0
            for p in store.parent.rglob("*"):
                with contextlib.suppress(OSError):  # a file removed meanwhile
                    n += p.stat().st_size if p.is_file() else 0
            peak[0] = max(peak[0], n - base)
            time.sleep(0.01)

    th = threading.Thread(target=watch)
    th.start()
    try:
        res = method(store)
    finally:
        done.set()
        th.join()
    return {**res, "peak_copy_bytes": peak[0]}


def copy_only(store: Path) -> dict[str, object]:
    new = store.with_name("copy_only.duckdb")
    t = time.perf_counter()
    con = duckdb.connect()
    con.execute(f"ATTACH '{store}' AS old (READ_ONLY)")
    con.execute(f"ATTACH '{new}' AS new")
    con.execute("COPY FROM DATABASE old TO new")
    con.execute("DETACH new")
    con.close()
    return {"seconds": time.perf_counter() - t, "bytes_after": new.stat().st_size}


def export_import(store: Path) -> dict[str, object]:
    folder, new = store.with_name("export"), store.with_name("imported.duckdb")
    t = time.perf_counter()
    con = duckdb.connect(str(store), read_only=True)
    con.execute(f"EXPORT DATABASE '{folder}' (FORMAT parquet)")
    con.close()
    con = duckdb.connect(str(new))
    con.execute(f"IMPORT DATABASE '{folder}'")
    con.close()
    return {"seconds": time.perf_counter() - t, "bytes_after": new.stat().st_size}


METHODS = {"compact": ours, "copy_only": copy_only, "export_import": export_import}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="coffee")
    ap.add_argument("--customers", type=int, default=28000)
    ap.add_argument("--months", type=int, default=18)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--trials", type=int, default=5)
    ap.add_argument("--store", type=Path, help="compact copies of this store instead")
    args = ap.parse_args()
    started = time.perf_counter()
    res: dict[str, object] = {
        "date": datetime.now().isoformat(timespec="minutes"),
        "machine": f"{platform.platform()}, {os.cpu_count()} cores",
        "python": platform.python_version(), "duckdb": duckdb.__version__,
        "load_average_before": os.getloadavg()}
    print(f"{res['machine']}, load {os.getloadavg()[0]:.2f}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-compact-") as tmp:
        d = Path(tmp)
        if args.store:
            source, res["store"] = args.store, str(args.store)
        else:
            print("building the churned store", flush=True)
            source, res["churn"] = churned_store(d / "build", args.scenario, args.customers,
                                                 args.months, args.seed)
            res["store"] = (f"{args.scenario} x {args.customers}, {args.months} months, "
                            f"seed {args.seed}")
        before = sizes(source)
        runs: dict[str, list[dict[str, object]]] = {m: [] for m in METHODS}
        for _ in range(args.trials):
            for name, method in METHODS.items():  # interleaved: the machine drifts alike
                work = d / f"trial_{name}"
                shutil.rmtree(work, ignore_errors=True)
                work.mkdir()
                copy = Path(shutil.copy(source, work / "shop.duckdb"))
                cpu = time.process_time()  # every thread of this process (the watcher's too)
                runs[name].append(peak_disk(copy, method))
                runs[name][-1]["cpu_s"] = time.process_time() - cpu
                shutil.rmtree(work)
        res["before"] = before
        res["trials"] = args.trials
        res["methods"] = {}
        print(f"\nstore before: {before['file_bytes'] / 2**20:,.1f} MB, "
              f"{before['free_blocks']} of {before['total_blocks']} blocks free\n")
        print(f"{'method':15s} {'median s':>9s} {'trials s':>30s} {'CPU s':>6s} "
              f"{'MB after':>9s} {'vs before':>9s} {'vs compact':>10s} {'peak MB':>8s}")
        base = statistics.median(float(r["seconds"]) for r in runs["compact"])  # type: ignore[arg-type]
        for name, rs in runs.items():
            secs = [float(r["seconds"]) for r in rs]  # type: ignore[arg-type]
            row = {"median_s": statistics.median(secs), "trials_s": secs,
                   "median_cpu_s": statistics.median(float(r["cpu_s"]) for r in rs),  # type: ignore[arg-type]
                   "bytes_after": rs[-1]["bytes_after"]}
            row["peak_copy_bytes"] = max(int(r["peak_copy_bytes"]) for r in rs)  # type: ignore[call-overload]
            if name == "compact":
                row["rows_checked"], row["tables"] = rs[-1]["rows"], rs[-1]["tables"]
                for phase in ("open_s", "copy_s", "check_s", "replace_s"):
                    row[phase] = statistics.median(float(r[phase]) for r in rs)  # type: ignore[arg-type]
            res["methods"][name] = row  # type: ignore[index]
            after = int(row["bytes_after"])  # type: ignore[call-overload]
            print(f"{name:15s} {row['median_s']:9.2f} "
                  f"{', '.join(f'{s:.2f}' for s in secs):>30s} {row['median_cpu_s']:6.2f} "
                  f"{after / 2**20:9.1f} {after / before['file_bytes']:9.0%} "
                  f"{row['median_s'] / base:9.2f}x {int(row['peak_copy_bytes']) / 2**20:8.1f}")  # type: ignore[call-overload]
        ours_row = res["methods"]["compact"]  # type: ignore[index]
        print(f"\ncompact, medians: open and checks {ours_row['open_s']:.2f} s, copy "
              f"{ours_row['copy_s']:.2f} s, comparing the copy ({ours_row['rows_checked']:,} "
              f"rows) {ours_row['check_s']:.2f} s, fsync and replace "
              f"{ours_row['replace_s']:.2f} s. Peak MB: the most disk the method's files "
              f"took beside the store (used blocks before {before['used_bytes'] / 2**20:,.1f} "
              "MB)")
    res["load_average_after"] = os.getloadavg()
    res["seconds"] = round(time.perf_counter() - started, 1)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "compact.json").write_text(json.dumps(res, indent=2) + "\n")
    print(f"whole run {res['seconds']} s; benchmarks/results/compact.json")


if __name__ == "__main__":
    main()
