"""Reading a CSV that is not UTF-8 (Windows-1252) against its UTF-8 twin: how many times
Python reads the file end to end before DuckDB does, and what that costs.

Generates (seeded, into a temporary folder) a till export of ``--lines`` lines (~100 bytes
each: 1M lines is ~100 MB) with accented product names and euro signs on a share of its
lines, written three ways: Windows-1252, UTF-8, and Windows-1252 whose only non-ASCII byte is
on its last line (telling it is not UTF-8 needs the whole file there). For each, in fresh
processes:

- ``read``: ``loyalist.ingest.read.open_sources`` alone (the file as a DuckDB view: encoding,
  the UTF-8 copy, header, layout, footer, hash; imports excluded), median of ``--runs``;
- ``ingest``: ``loyalist -q ingest FILE --store NEW --json``, the whole command, median of
  ``--runs``;
- ``passes``: the bytes Python reads from the file during ``open_sources``, divided by its
  size (one counting run; DuckDB's own reads are not counted; the sample of up to 8 MB the
  encoding is told from counts too, so a file under 8 MB shows one pass more), and the same
  for the UTF-8 copy a legacy file is converted into;
- a digest of the ingest's report and of the store's transactions and quarantine, so two
  checkouts can be seen to give the same results.

With ``--compare SRC`` (another checkout's ``src``, e.g. a ``git worktree`` of an earlier
commit) every measure runs for both in the same run, and the ratios are printed.

    python benchmarks/bench_read_legacy.py [--lines 1000000] [--runs 3] [--compare /tmp/old/src]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import pathlib
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_clv import timed  # noqa: E402

HERE = Path(__file__).resolve().parents[1] / "src"
RESULTS = Path(__file__).resolve().parent / "results"
HEADER = ("order_id,customer_id,ordered_at,product_id,description,category,store,channel,"
          "payment,quantity,unit_price\n")
ACCENTED = ["Käse Gouda gereift 500g", "Crème fraîche 30% 200g", "Brötchen Körnermix 6 Stück",
            "Café au lait Röstung", "Weißwurst Münchner Art", "Geschenkkarte 10 €",
            "Bière blonde d'abbaye", "Jalapeño Scharfe Soße", "Pâté de campagne 180g",
            "Smörgåsbord Heringsfilet"]
PLAIN = ["Whole milk 1L organic", "Sourdough bread large", "Green tea bags 40 pack",
         "Mineral water 6x1.5L", "Chocolate bar dark 70%", "Coffee beans espresso 1kg",
         "Orange juice fresh 1L", "Butter unsalted 250g"]
CATEGORIES = ["Dairy", "Bakery", "Drinks", "Deli", "Pantry", "Gifts"]
CHANNELS = ["in-store", "online", "click-and-collect"]
PAYMENTS = ["card", "cash", "voucher"]


def export(lines: int, seed: int, accented_share: float) -> str:
    """The export's text: ``accented_share`` of its lines name an accented product."""
    rng = random.Random(seed)
    out = [HEADER]
    order = ""
    for i in range(lines):
        if i % 3 == 0:  # an order of three lines: one customer, time, store and channel
            order = (f"{100000 + i // 3},C{rng.randint(1, 50000):06d},2024-"
                     f"{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} "
                     f"{rng.randint(8, 20):02d}:{rng.randint(0, 59):02d}:00")
            where = f"S{rng.randint(1, 40):03d},{rng.choice(CHANNELS)},{rng.choice(PAYMENTS)}"
        names = ACCENTED if rng.random() < accented_share else PLAIN
        out.append(f"{order},P{rng.randint(1, 5000):05d},{rng.choice(names)},"
                   f"{rng.choice(CATEGORIES)},{where},{rng.randint(1, 6)},"
                   f"{rng.randint(50, 4999) / 100:.2f}\n")
    return "".join(out)


def write_files(work: Path, lines: int, seed: int) -> dict[str, Path]:
    text = export(lines, seed, 0.3)
    files = {"cp1252": work / "till_cp1252.csv", "utf-8": work / "till_utf8.csv",
             "cp1252, last line only": work / "till_cp1252_late.csv"}
    files["cp1252"].write_bytes(text.encode("cp1252"))
    files["utf-8"].write_bytes(text.encode("utf-8"))
    late = export(lines, seed, 0.0)
    files["cp1252, last line only"].write_bytes(
        (late + f"{100000 + lines},C000001,2024-12-30 10:00:00,P00001,{ACCENTED[1]},Dairy,"
         "S001,online,card,1,2.49\n").encode("cp1252"))
    return files


class CountingFile(io.FileIO):
    """A file that adds the bytes read from it to :data:`READ` under its path."""

    def readinto(self, b: Any) -> int | None:
        n = super().readinto(b)
        READ[self.name] = READ.get(self.name, 0) + (n or 0)
        return n

    def readall(self) -> bytes:
        data = super().readall()
        READ[self.name] = READ.get(self.name, 0) + len(data)
        return data


READ: dict[str, int] = {}


def counting_open(self: pathlib.Path, mode: str = "r", buffering: int = -1, *args: Any,
                  **kw: Any) -> Any:
    if "b" not in mode or "r" not in mode:
        return open(self, mode, buffering, *args, **kw)
    return io.BufferedReader(CountingFile(str(self), "r"))


def read_trial(path: Path, count: bool) -> dict[str, Any]:
    """``open_sources`` on ``path`` in this process (run as a subprocess)."""
    import duckdb

    from loyalist.ingest.read import open_sources

    if count:
        pathlib.Path.open = counting_open  # type: ignore[method-assign]
    with tempfile.TemporaryDirectory(dir=path.parent) as scratch, duckdb.connect() as con:
        t0 = time.perf_counter()
        (src,) = open_sources(con, path, "v", Path(scratch))
        seconds = time.perf_counter() - t0
        copies = {name: n / os.path.getsize(name) for name, n in READ.items()
                  if name != str(path) and os.path.exists(name)}
    return {"seconds": seconds, "rows": src.rows, "sha256": src.sha256,
            "passes": READ.get(str(path), 0) / path.stat().st_size,
            "copy_passes": max(copies.values(), default=0.0)}


def in_process(src: Path, *argv: str) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    out = subprocess.run([sys.executable, __file__, *argv], env=env, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.splitlines()[-1])


def ingest_once(src: Path, path: Path, store: Path) -> str:
    env = {**os.environ, "PYTHONPATH": str(src)}
    store.unlink(missing_ok=True)
    return subprocess.run([sys.executable, "-m", "loyalist", "-q", "ingest", str(path),
                           "--store", str(store), "--json"], env=env, check=True,
                          capture_output=True, text=True).stdout


def results_digest(report: str, store: Path) -> str:
    """The report (as JSON, keys sorted) and the store's transactions and quarantine."""
    import duckdb

    h = hashlib.sha256(json.dumps(json.loads(report), sort_keys=True).encode())
    with duckdb.connect(str(store), read_only=True) as con:
        for table in ("transactions", "quarantine"):
            for row in con.execute(f"SELECT * FROM {table} ORDER BY source_row").fetchall():
                h.update(repr(row).encode())
    return h.hexdigest()[:16]


def measure(src: Path, path: Path, runs: int, work: Path) -> dict[str, Any]:
    trials = [in_process(src, "--trial-read", str(path)) for _ in range(runs)]
    read_s = statistics.median(t["seconds"] for t in trials)
    counted = in_process(src, "--trial-read", str(path), "--count")
    store = work / "s.duckdb"
    ingest_s, _, report = timed(lambda: ingest_once(src, path, store), runs)
    return {"read_s": read_s, "ingest_s": ingest_s, "passes": counted["passes"],
            "copy_passes": counted["copy_passes"], "rows": trials[-1]["rows"],
            "digest": results_digest(report, store)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--compare", type=Path, help="another checkout's src folder")
    ap.add_argument("--trial-read", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--count", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.trial_read:
        print(json.dumps(read_trial(args.trial_read, args.count)))
        return
    machine = f"{platform.platform()}, {os.cpu_count()} cores"
    print(f"{machine}, load {os.getloadavg()[0]:.2f}, {args.lines:,} lines, medians of "
          f"{args.runs}")
    checkouts = {"this": HERE, **({"compared": args.compare} if args.compare else {})}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for name, path in write_files(work, args.lines, args.seed).items():
            size = path.stat().st_size / 1e6
            for who, src in checkouts.items():
                got = measure(src, path, args.runs, work)
                rows.append({"file": name, "mb": size, "checkout": who, **got})
                print(f"{name:24s} {size:6.1f} MB {who:8s} read {got['read_s']:6.2f} s  "
                      f"ingest {got['ingest_s']:6.2f} s  passes {got['passes']:.2f} "
                      f"(copy {got['copy_passes']:.2f})  rows {got['rows']:,}  "
                      f"results {got['digest']}", flush=True)
    for who in checkouts:
        mine = {r["file"]: r for r in rows if r["checkout"] == who}
        for f in ("cp1252", "cp1252, last line only"):
            print(f"{who}: {f} / utf-8: read {mine[f]['read_s'] / mine['utf-8']['read_s']:.2f}x"
                  f", ingest {mine[f]['ingest_s'] / mine['utf-8']['ingest_s']:.2f}x")
    if args.compare:
        for r in (r for r in rows if r["checkout"] == "this"):
            old = next(o for o in rows if o["checkout"] == "compared" and o["file"] == r["file"])
            print(f"{r['file']}: compared / this: read {old['read_s'] / r['read_s']:.2f}x, "
                  f"ingest {old['ingest_s'] / r['ingest_s']:.2f}x, same results: "
                  f"{old['digest'] == r['digest']}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "read_legacy.json").write_text(json.dumps({
        "machine": machine, "load": os.getloadavg()[0], "lines": args.lines, "runs": args.runs,
        "seed": args.seed, "compared": str(args.compare or ""), "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
