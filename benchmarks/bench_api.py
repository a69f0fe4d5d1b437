"""Latency of ``GET /customers/{id}`` on a real ``loyalist serve`` under open-loop load.

1. A store with ~20k scored customers: the coffee scenario (30,000 customers x 9 months, of
   whom ~20k buy before as_of) through ingest -> train -> plan -> recommend, so the lookup
   also reads the plan and the recommendations (built once under --work and reused;
   --rebuild to redo).
2. ``loyalist serve`` as a subprocess on 127.0.0.1 (JSON request logs to a file, as deployed).
3. An open-loop generator (asyncio + httpx2, keep-alive pool): request i is sent at
   t0 + i / rate whatever happened before, for random known customer ids; latency is measured
   from that scheduled instant, so a stalled server shows up in the tail (no coordinated
   omission). The first --warmup seconds are not counted. The server's own timings (from its
   access log) are reported next to the client's.
4. Twice: as configured by default (lookups from the in-memory read model,
   :mod:`loyalist.api.cache`) and with ``LOYALIST_CACHE_MAX_CUSTOMERS=0`` (every lookup from
   DuckDB, as for a store above the cache's size limit).

Target: p99 < 20 ms at 200 requests/s. Prints a table and one JSON line (prefix
``BENCH_JSON``), also written to benchmarks/results/api.json.

    uv run python benchmarks/bench_api.py [--rate 200] [--seconds 20] [--customers 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import duckdb
import httpx2 as httpx
import numpy as np

import loyalist
from loyalist import pipeline

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
KEY = "bench-reader-key"


def build_store(work: Path, customers: int, months: int, rebuild: bool) -> tuple[Path, float]:
    """The coffee store with scores, a plan and recommendations (seconds spent building)."""
    store = work / f"coffee_{customers}x{months}.duckdb"
    if store.exists() and not rebuild:
        return store, 0.0
    for p in (store, store.with_name(store.name + ".wal")):
        p.unlink(missing_ok=True)
    t0 = time.perf_counter()
    gen = pipeline.generate("coffee", customers=customers, months=months, seed=11,
                            out=work / "data")
    pipeline.load_scenario(store, gen["files"])
    pipeline.train(store)
    pipeline.plan(store, budget=5000, goal="retention", save=True)
    pipeline.recommend(store, out_dir=work / "recs")
    return store, time.perf_counter() - t0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(store: Path, port: int, log: Path, cache_max: int | None
                 ) -> subprocess.Popen[bytes]:
    env = os.environ | {"LOYALIST_API_KEYS": KEY}
    if cache_max is not None:
        env["LOYALIST_CACHE_MAX_CUSTOMERS"] = str(cache_max)
    with log.open("w") as f:
        proc = subprocess.Popen([sys.executable, "-m", "loyalist", "serve", "--store", str(store),
                                 "--port", str(port)], env=env, stderr=f,
                                stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"the server did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)


async def open_loop(base: str, ids: list[str], rate: float, seconds: float, warmup: float,
                    seed: int) -> dict[str, Any]:
    """Send at a fixed schedule; per request: scheduled-to-done and sent-to-done latency."""
    rng = random.Random(seed)
    n = int(rate * (seconds + warmup))
    lat_sched: list[float] = []
    lat_sent: list[float] = []
    statuses: dict[str, int] = {}
    errors: list[str] = []
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {KEY}"},
                                 limits=limits, timeout=30) as client:
        for cid in ids[:50]:  # open the pool and warm the server's caches
            await client.get(f"/customers/{cid}")

        async def one(i: int, due: float, cid: str) -> None:
            sent = time.perf_counter()
            try:
                r = await client.get(f"/customers/{cid}")
                code = str(r.status_code)
            except httpx.HTTPError as e:
                code = type(e).__name__
                errors.append(str(e))
            done = time.perf_counter()
            if i >= warmup * rate:
                statuses[code] = statuses.get(code, 0) + 1
                lat_sched.append(done - due)
                lat_sent.append(done - sent)

        tasks = []
        t0 = time.perf_counter() + 0.05
        for i in range(n):
            due = t0 + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i, due, rng.choice(ids))))
        await asyncio.gather(*tasks)
        wall = time.perf_counter() - t0
    return {"requests": n, "counted": len(lat_sched), "wall_s": wall,
            "achieved_rate": n / wall, "statuses": statuses, "errors": errors[:5],
            "from_schedule": pct(lat_sched), "from_send": pct(lat_sent)}


def pct(xs: list[float]) -> dict[str, float]:
    a = np.asarray(xs) * 1000.0
    if a.size == 0:
        return {}
    return {"p50_ms": float(np.percentile(a, 50)), "p95_ms": float(np.percentile(a, 95)),
            "p99_ms": float(np.percentile(a, 99)), "max_ms": float(a.max()),
            "mean_ms": float(a.mean())}


def server_timings(log: Path, skip: int) -> dict[str, float]:
    """Percentiles of the server's own per-request ms for /customers/{id} (access log)."""
    ms = []
    for line in log.read_text().splitlines():
        try:
            doc = json.loads(line)
        except json.JSONDecodeError:
            continue
        if doc.get("logger") == "loyalist.api.access" and doc.get("path", "").startswith(
                "/customers/"):
            ms.append(doc["ms"] / 1000.0)
    return pct(ms[skip:])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=float, default=200.0, help="requests per second")
    ap.add_argument("--seconds", type=float, default=20.0, help="measured seconds")
    ap.add_argument("--warmup", type=float, default=2.0, help="seconds sent but not counted")
    ap.add_argument("--customers", type=int, default=30_000,
                    help="generated customers (~2/3 buy before as_of and are scored)")
    ap.add_argument("--months", type=int, default=9,
                    help="months of history (training needs ~8)")
    ap.add_argument("--work", type=Path, default=RESULTS / "api_work",
                    help="folder for the generated data and store (reused)")
    ap.add_argument("--rebuild", action="store_true", help="rebuild the store")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--memory-only", action="store_true",
                    help="skip the comparison run with lookups from DuckDB")
    args = ap.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    store, build_s = build_store(args.work, args.customers, args.months, args.rebuild)
    con = duckdb.connect(str(store), read_only=True)
    ids = [r[0] for r in con.execute(
        "SELECT customer_id FROM scores WHERE as_of = (SELECT max(as_of) FROM scores)"
    ).fetchall()]
    con.close()
    modes: dict[str, dict[str, Any]] = {}
    for mode, cache_max in (("memory", None), ("duckdb", 0))[: 1 if args.memory_only else 2]:
        log = args.work / f"server_{mode}.log"
        port = free_port()
        proc = start_server(store, port, log, cache_max)
        try:
            load_before = os.getloadavg()
            run = asyncio.run(open_loop(f"http://127.0.0.1:{port}", ids, args.rate,
                                        args.seconds, args.warmup, args.seed))
            load_after = os.getloadavg()
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        modes[mode] = {"client": run,
                       "server": server_timings(log, skip=50 + int(args.warmup * args.rate)),
                       "loadavg_before": load_before, "loadavg_after": load_after}
    p99 = modes["memory"]["client"]["from_schedule"]["p99_ms"]
    results: dict[str, Any] = {
        "bench": "api", "endpoint": "GET /customers/{id}", "rate_per_s": args.rate,
        "seconds": args.seconds, "warmup_s": args.warmup, "scored_customers": len(ids),
        "store_build_s": build_s, "modes": modes,
        "target": {"p99_ms": 20.0, "met": bool(p99 < 20.0),
                   "on": "memory mode (the default), latency from the scheduled send"},
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "versions": {"loyalist": loyalist.__version__, "duckdb": duckdb.__version__,
                     "python": platform.python_version()},
    }
    print(f"GET /customers/{{id}} at {args.rate:.0f}/s for {args.seconds:.0f} s on "
          f"{len(ids):,} scored customers")
    print(f"{'latency (ms)':<44}{'p50':>8}{'p95':>8}{'p99':>8}{'max':>8}")
    for mode, m in modes.items():
        run = m["client"]
        print(f"[{mode}: achieved {run['achieved_rate']:.1f}/s, statuses {run['statuses']}, "
              f"load average {m['loadavg_before'][0]:.1f} -> {m['loadavg_after'][0]:.1f}]")
        for name, d in (("client, from scheduled send", run["from_schedule"]),
                        ("client, from actual send", run["from_send"]),
                        ("server (access log)", m["server"])):
            print(f"  {mode + ': ' + name:<42}" + "".join(
                f"{d.get(k, float('nan')):>8.2f}" for k in ("p50_ms", "p95_ms", "p99_ms",
                                                             "max_ms")))
    print(f"target p99 < 20 ms (memory mode, from scheduled send): "
          f"{'met' if p99 < 20 else 'NOT met'} ({p99:.1f} ms) on {os.cpu_count()} cores")
    line = json.dumps(results, default=float)
    print("BENCH_JSON " + line)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "api.json").write_text(line + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
