"""The only part of the report that touches files: read the model metrics of ``loyalist
train``, and write ``report.html``, the pictures and the BI exports."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pandas as pd

from loyalist.errors import DataError
from loyalist.report.data import EXPORT_NAMES, MONEY_EXPORTS
from loyalist.report.plots import PLOT_NAMES

log = logging.getLogger(__name__)

__all__ = ["read_train_metrics", "write_report"]


def read_train_metrics(train_dir: Path) -> dict[str, Any]:
    """``metrics.json`` from the output folder of ``loyalist train``."""
    path = Path(train_dir) / "metrics.json"
    if not path.is_file():
        raise DataError(f"--train-dir {train_dir}: no metrics.json there; pass the --out folder "
                        "of `loyalist train`")
    try:
        doc = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise DataError(f"{path}: not valid JSON ({e.msg} at line {e.lineno}); rerun "
                        "`loyalist train`") from None
    if not isinstance(doc, dict):
        raise DataError(f"{path}: expected a JSON object; rerun `loyalist train`")
    return doc


def write_report(out: Path, page: str, images: dict[str, bytes],
                 exports: dict[str, pd.DataFrame], currency: str | None = None
                 ) -> dict[str, str]:
    """``out/report.html``, ``out/plots/NAME.png`` and ``out/exports/NAME.{csv,parquet}``;
    returns the paths written, by name. The exports holding money (:data:`MONEY_EXPORTS`)
    get a ``currency`` column with ``currency`` (the store's ISO 4217 code) when known."""
    out = Path(out)
    (out / "exports").mkdir(parents=True, exist_ok=True)
    files = {"html": out / "report.html"}
    files["html"].write_text(page, encoding="utf-8")
    if images:
        (out / "plots").mkdir(exist_ok=True)
    for name, png in images.items():
        files[f"plot_{name}"] = out / "plots" / f"{name}.png"
        files[f"plot_{name}"].write_bytes(png)
    for name, frame in exports.items():
        if currency and name in MONEY_EXPORTS:
            frame = frame.assign(currency=currency)
        csv, parquet = out / "exports" / f"{name}.csv", out / "exports" / f"{name}.parquet"
        frame.to_csv(csv, index=False)
        frame.to_parquet(parquet, index=False)
        files[f"{name}_csv"], files[f"{name}_parquet"] = csv, parquet
    _remove_stale(out, images, exports)
    log.info("report: %d files in %s", len(files), out)
    return {k: str(v) for k, v in files.items()}


def _remove_stale(out: Path, images: dict[str, bytes], exports: dict[str, pd.DataFrame]) -> None:
    """Pictures and exports an earlier report wrote into ``out`` that this one did not: a
    reused folder must not mix results. Only our own file names are touched."""
    stale = [out / "plots" / f"{n}.png" for n in PLOT_NAMES if n not in images]
    stale += [out / "exports" / f"{n}.{ext}" for n in EXPORT_NAMES if n not in exports
              for ext in ("csv", "parquet")]
    for p in stale:
        if p.is_file():
            log.info("report: removing %s (not part of this report)", p)
            p.unlink()
