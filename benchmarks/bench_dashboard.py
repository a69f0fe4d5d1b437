"""Time of the dashboard's main page (``GET /app``) on a store with scores, a plan, a revenue
forecast and campaign results, warm (the store already read once), against rebuilding its
charts on every request, in the same run.

The store is ``loyalist demo``'s (the fashion scenario through ingest -> train -> plan ->
forecast -> campaign), built once under --work and reused (--rebuild to redo). Requests go
through the real app (FastAPI's test client, in process, so the numbers are the server's work
without the network). The alternative ("charts per request") calls
:func:`loyalist.dashboard.views.figures` on the page's view for each request, as the page did
before its charts were kept per store version and plan shown.

Prints a table and one JSON line (prefix ``BENCH_JSON``), also written to
benchmarks/results/dashboard.json.

    uv run python benchmarks/bench_dashboard.py [--requests 30] [--work DIR] [--rebuild]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from pathlib import Path

from bench_clv import timed
from fastapi.testclient import TestClient

import loyalist
from loyalist import pipeline
from loyalist.api import Settings, create_app
from loyalist.dashboard import views

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
KEY = "bench-reader"


def build_store(work: Path, rebuild: bool) -> Path:
    """The demo's store (built once under ``work``)."""
    store = work / "out" / "loyalist.duckdb"
    if rebuild or not store.exists():
        pipeline.demo(work / "out")
    return store


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=30)
    ap.add_argument("--work", type=Path, default=Path("/tmp/loyalist-bench-dashboard"))
    ap.add_argument("--rebuild", action="store_true")
    a = ap.parse_args()
    a.work.mkdir(parents=True, exist_ok=True)
    store = build_store(a.work, a.rebuild)
    app = create_app(Settings(store=store, api_keys=KEY))  # type: ignore[arg-type]
    with TestClient(app, base_url="http://testserver") as c:
        c.post("/app/login", data={"key": KEY, "next": "/app"}, follow_redirects=False)

        def get() -> None:
            r = c.get("/app")
            assert r.status_code == 200, r.text[:300]

        get()  # the first read of the store: not counted
        gate = app.state.gate
        view = views.page(gate)
        page, _, _ = timed(get, a.requests)
        charts, _, _ = timed(lambda: views.figures(view), a.requests)
    ms = {"page": 1000 * page, "charts": 1000 * charts}
    ms["page_with_charts_per_request"] = ms["page"] + ms["charts"]
    res = {"loyalist": loyalist.__version__, "machine": platform.platform(),
           "cores": os.cpu_count(), "requests": a.requests, "median_ms": ms,
           "ratio": ms["page_with_charts_per_request"] / ms["page"]}
    print(f"GET /app, warm, median of {a.requests}: {ms['page']:.1f} ms; building the charts "
          f"per request adds {ms['charts']:.1f} ms ({res['ratio']:.1f}x)")
    print("BENCH_JSON " + json.dumps(res))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "dashboard.json").write_text(json.dumps(res, indent=2) + "\n")


if __name__ == "__main__":
    main()
