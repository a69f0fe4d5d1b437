"""Small-file ingest benchmark: the fixed cost of one ``ingest`` of a small file.

A merchant's dashboard upload of a short export and each of the test suite's several hundred
loads pay it. Five small files of the shapes the ingest tests write:

- ``tiny.csv``: 5 lines under canonical column names;
- ``report.csv``: 200 lines under a report title, a units line under the header, dates day
  first (31/01/2024), a totals row at the end;
- ``sheet.xlsx``: a 30-line Excel sheet with German column names;
- ``orders.json``: a web shop's API answer, 10 orders with their ``line_items``;
- ``orders+items``: an e-shop export in two CSVs (orders, order lines), joined.

Each trial is an in-process ``ingest_files`` into a fresh store (the store's creation
included, imports and Python start-up excluded); one warm-up load of every file runs first
(lazy imports, DuckDB's extension loading). A *round* is one fresh process doing ``--repeats``
trials of every file. With ``--baseline SRC`` (the ``src`` folder of another checkout, e.g. a
``git worktree`` of an earlier commit) the rounds alternate between that tree and this one, so
both see the same machine load. Medians over all trials of all rounds; the JSON goes to
``benchmarks/results/small_ingest.json``:

    python benchmarks/bench_small_ingest.py [--rounds 3] [--repeats 5] [--baseline SRC]
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
CASES = ("tiny.csv", "report.csv", "sheet.xlsx", "orders.json", "orders+items")


def write_files(d: Path) -> dict[str, list[Path]]:
    """The benchmark's files in ``d``, by case name."""
    import pandas as pd

    tiny = d / "tiny.csv"
    tiny.write_text("order_id,product_id,quantity,unit_price,customer_id,ordered_at\n"
                    + "".join(f"o{i},p{i % 2},{i + 1},2.50,c{i % 3},2024-01-0{i + 1} 10:00:00\n"
                              for i in range(4)))
    report = d / "report.csv"
    rows = [f"R{1000 + i // 3},{1 + i % 28:02d}/{1 + i % 12:02d}/2024,C{i % 40},SKU{i % 25},"
            f"{1 + i % 4},{3 + i % 7}.{i % 100:02d}" for i in range(200)]
    report.write_text("Sales by line, period 2024\n\nInvoice,Date,Customer,Item,Qty,Price\n"
                      ",(dd/mm/yyyy),,,pcs,EUR\n" + "\n".join(rows)
                      + "\nTotal,,,,,1234.56\n")
    sheet = d / "sheet.xlsx"
    pd.DataFrame({"Belegnummer": [f"B{i // 2}" for i in range(30)],
                  "Datum": pd.date_range("2024-03-01", periods=30, freq="D"),
                  "Kundennummer": [f"K{i % 7}" for i in range(30)],
                  "Artikelnummer": [f"A{i % 5}" for i in range(30)],
                  "Menge": [1 + i % 3 for i in range(30)],
                  "Einzelpreis": [4.5 + i % 4 for i in range(30)]}).to_excel(sheet, index=False)
    shop = d / "orders.json"
    shop.write_text(json.dumps({"orders": [
        {"id": 450789469 + n, "name": f"#10{n:02d}", "email": f"c{n % 4}@x.com",
         "created_at": f"2024-01-{n + 1:02d}T10:00:00+01:00", "financial_status": "paid",
         "total_price": "30.00",
         "line_items": [{"id": 10 * n + i, "sku": f"S{(n + i) % 6}", "title": f"Item {i}",
                         "quantity": 1 + i, "price": "10.00"} for i in range(1 + n % 3)],
         "shipping_lines": [{"title": "Standard", "price": "4.90"}]} for n in range(10)]}))
    orders = d / "orders.csv"
    pd.DataFrame({"order_id": [f"o{i}" for i in range(12)],
                  "customer_id": [f"c{i % 5}" for i in range(12)],
                  "order_status": ["delivered"] * 11 + ["canceled"],
                  "order_purchase_timestamp": [f"2024-02-{i + 1:02d} 10:00:00" for i in range(12)],
                  "order_delivered_customer_date": [f"2024-02-{i + 5:02d} 16:00:00"
                                                    for i in range(12)]}).to_csv(orders,
                                                                                  index=False)
    items = d / "order_items.csv"
    pd.DataFrame({"order_id": [f"o{i // 2}" for i in range(24)],
                  "order_item_id": [1 + i % 2 for i in range(24)],
                  "product_id": [f"p{i % 4}" for i in range(24)],
                  "shipping_limit_date": [f"2024-02-{i // 2 + 3:02d} 00:00:00" for i in range(24)],
                  "price": [10.0 + i % 3 for i in range(24)],
                  "freight_value": [2.0] * 24}).to_csv(items, index=False)
    return {"tiny.csv": [tiny], "report.csv": [report], "sheet.xlsx": [sheet],
            "orders.json": [shop], "orders+items": [items, orders]}


def one_load(files: list[Path], store: Path) -> tuple[float, list[dict[str, object]]]:
    """Seconds to create ``store`` and ingest ``files`` into it, and the reports."""
    from loyalist.ingest import ingest_files
    from loyalist.store import Store

    t = time.perf_counter()
    with Store(store) as st:
        reports = ingest_files(st, files, loaded_at=datetime(2026, 1, 1))
    return time.perf_counter() - t, reports


def worker(repeats: int) -> dict[str, object]:
    """One round: a warm-up load of every file, then ``repeats`` trials of each."""
    times: dict[str, list[float]] = {c: [] for c in CASES}
    outcome: dict[str, list[tuple[object, ...]]] = {}
    with tempfile.TemporaryDirectory() as d:
        files = write_files(Path(d))
        for case in CASES:
            _, reps = one_load(files[case], Path(d) / f"warm_{case}.duckdb")
            outcome[case] = [(r["rows_read"], r["rows_loaded"], r["rows_quarantined"])
                             for r in reps]
        for k in range(repeats):
            for case in CASES:
                dt, _ = one_load(files[case], Path(d) / f"{case}_{k}.duckdb")
                times[case].append(dt)
    return {"times": times, "outcome": outcome}


def run_round(src: Path, repeats: int) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    p = subprocess.run([sys.executable, __file__, "--worker", "--repeats", str(repeats)],
                       capture_output=True, text=True, check=True, env=env)
    return json.loads(p.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3, help="fresh processes per source tree")
    ap.add_argument("--repeats", type=int, default=5, help="trials of each file per round")
    ap.add_argument("--baseline", type=Path, help="the src folder of the code to compare with")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        print(json.dumps(worker(a.repeats)))
        return
    trees = {"current": ROOT / "src"}
    if a.baseline is not None:
        trees = {"baseline": a.baseline.resolve(), **trees}
    load = os.getloadavg()
    times: dict[str, dict[str, list[float]]] = {t: {c: [] for c in CASES} for t in trees}
    outcome: dict[str, object] = {}
    for r in range(a.rounds):
        order = list(trees) if r % 2 == 0 else list(reversed(trees))
        for tree in order:
            got = run_round(trees[tree], a.repeats)
            outcome[tree] = got["outcome"]
            for c in CASES:
                times[tree][c] += got["times"][c]  # type: ignore[index]
            print(f"  round {r + 1} {tree}: " + ", ".join(
                f"{c} {statistics.median(got['times'][c]):.3f}" for c in CASES),  # type: ignore[index]
                file=sys.stderr)
    med = {t: {c: statistics.median(v) for c, v in times[t].items()} for t in trees}
    out: dict[str, object] = {
        "when": datetime.now().isoformat(timespec="seconds"), "machine": platform.platform(),
        "python": platform.python_version(), "cpus": os.cpu_count(),
        "load_before": load, "load_after": os.getloadavg(), "rounds": a.rounds,
        "repeats": a.repeats, "trees": {t: str(p) for t, p in trees.items()},
        "median_s": med, "rows_read_loaded_quarantined": outcome, "times": times}
    if a.baseline is not None:
        out["same_outcome"] = outcome["baseline"] == outcome["current"]
        out["current_over_baseline"] = {c: med["current"][c] / med["baseline"][c] for c in CASES}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "small_ingest.json").write_text(json.dumps(out, indent=2))
    for t in trees:
        print(f"{t}: " + ", ".join(f"{c} {med[t][c]:.3f} s" for c in CASES))
    if a.baseline is not None:
        print("current / baseline: " + ", ".join(
            f"{c} {v:.2f}" for c, v in out["current_over_baseline"].items()))  # type: ignore[union-attr]


if __name__ == "__main__":
    main()
