from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

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


def line(order: str = "1001", product: str = "A", qty: object = 1, price: object = 2.5,
         customer: object = "c1", when: object = "2024-01-02 10:00:00", **extra: object
         ) -> dict[str, object]:
    return {"order_id": order, "product_id": product, "quantity": qty, "unit_price": price,
            "customer_id": customer, "ordered_at": when, **extra}
