"""How long the command line takes before it does any work: ``loyalist --version``,
``loyalist plan --help`` and a one-line ``ingest`` into a new store, each in a fresh process,
medians of ``--trials`` runs. With ``--compare SRC``, the same commands run from another
checkout's ``src`` folder (e.g. a ``git worktree`` of an earlier commit) in the same run, and
the ratio is printed.

    python benchmarks/bench_cli_start.py [--trials 7] [--compare /tmp/old/src]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1] / "src"


def timed(src: Path, args: list[str], trials: int, work: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(src)}
    runs = []
    for i in range(trials):
        store = work / f"s{i}.duckdb"
        argv = [a.replace("{store}", str(store)) for a in args]
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "loyalist", *argv], env=env, check=True,
                       capture_output=True)
        runs.append(time.perf_counter() - t0)
        store.unlink(missing_ok=True)
    return statistics.median(runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=7)
    ap.add_argument("--compare", type=Path, help="another checkout's src folder")
    args = ap.parse_args()
    print(f"{platform.platform()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        lines = work / "lines.csv"
        lines.write_text("order_id,product_id,quantity,unit_price,customer_id,ordered_at\n"
                         "1,A,1,2.5,c1,2024-01-02 10:00:00\n")
        cases = {"--version": ["--version"], "plan --help": ["plan", "--help"],
                 "ingest one line": ["-q", "ingest", str(lines), "--store", "{store}"]}
        for name, argv in cases.items():
            now = timed(HERE, argv, args.trials, work)
            line = f"{name:18s} this checkout {now:6.2f} s"
            if args.compare:
                then = timed(args.compare, argv, args.trials, work)
                line += f"   compared {then:6.2f} s   ratio {then / now:5.1f}x"
            print(line, flush=True)


if __name__ == "__main__":
    main()
