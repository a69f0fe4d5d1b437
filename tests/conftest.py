from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("LOYALIST_SHARED_DATA", ROOT.parent / "shared" / "data"))
ONLINE_RETAIL = SHARED / "online_retail_2010_2011.parquet"
CDNOW_SAMPLE = SHARED / "cdnow_sample.parquet"
CDNOW_MASTER = SHARED / "cdnow_master.parquet"
LOADED_AT = datetime(2026, 1, 1)


def need_shared(path: Path) -> pytest.MarkDecorator:
    return pytest.mark.skipif(
        not path.exists(),
        reason=f"shared data {path} is absent (the repo never copies it; set LOYALIST_SHARED_DATA)",
    )


def write_csv(path: Path, rows: list[dict[str, object]], **kw: object) -> Path:
    pd.DataFrame(rows).to_csv(path, index=False, **kw)  # type: ignore[arg-type]
    return path


#: product names of a Hebrew till export (:func:`hebrew_till`)
HEBREW_NAMES = ["חלב 3%", "לחם אחיד", "גבינה צהובה"]


def hebrew_till(path: Path, prefix: str = "") -> Path:
    """A Hebrew till export in Windows-1255, 12 lines (ids starting ``prefix``), whose few
    short words read as plausibly in another script when the encoding is detected."""
    lines = ["Receipt;Customer;Date;Product;Description;Qty;Price"] + [
        f"{prefix}R{i};{prefix}C-{i % 3};0{1 + i % 9}.03.2024;{prefix}P{i % 3};"
        f"{HEBREW_NAMES[i % 3]};2;3,50" for i in range(12)]
    path.write_bytes("\r\n".join(lines).encode("cp1255"))
    return path


def line(order: str = "1001", product: str = "A", qty: object = 1, price: object = 2.5,
         customer: object = "c1", when: object = "2024-01-02 10:00:00", **extra: object
         ) -> dict[str, object]:
    return {"order_id": order, "product_id": product, "quantity": qty, "unit_price": price,
            "customer_id": customer, "ordered_at": when, **extra}


def trained_store(root: Path, name: str, *, customers: int = 600, months: int = 12,
                  train_out: Path | None = None) -> tuple[Path, dict[str, Any], dict[str, Any]]:
    """A generated fashion merchant (seed 3) loaded into ``root / name`` and its customer
    models trained: the store, the generator's result and the training's."""
    from loyalist import pipeline

    gen = pipeline.generate("fashion", customers=customers, months=months, seed=3,
                            out=root / "data")
    store = root / name
    pipeline.load_scenario(store, gen["files"])
    return store, gen, pipeline.train(store, out=train_out)


@pytest.fixture(scope="session")
def fashion(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """:func:`trained_store` at its defaults, built once per test process (per xdist worker)
    for every file that starts from it: ``store`` (never changed: copy it with
    :func:`fashion_copy`), ``gen``, ``trained`` and ``train_dir`` (the training's outputs)."""
    root = tmp_path_factory.mktemp("fashion")
    store, gen, trained = trained_store(root, "fashion.duckdb", train_out=root / "train")
    return {"store": store, "gen": gen, "trained": trained, "train_dir": root / "train"}


def fashion_copy(fashion: dict[str, Any], folder: Path, name: str) -> Path:
    """A copy of the shared trained fashion store (:func:`fashion`) at ``folder / name``."""
    folder.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy(fashion["store"], folder / name))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serve_subprocess(store: Path, tmp: Path, env: dict[str, str],
                     ready: tuple[int, ...] = (200,)) -> Iterator[dict[str, object]]:
    """``loyalist serve --store STORE`` as a subprocess on a free port of 127.0.0.1, waited
    for until ``/health`` answers with a status in ``ready`` (90 s at most; the server's log
    is the assertion message), terminated on exit."""
    import httpx2 as httpx

    port = free_port()
    log_path = tmp / "server.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "loyalist", "serve", "--store", str(store),
                                 "--port", str(port)], env=os.environ | env, stderr=log,
                                stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code in ready:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.2)
        yield {"base": base, "log": log_path, "store": store, "proc": proc}
    finally:
        proc.terminate()
        proc.wait(timeout=30)
