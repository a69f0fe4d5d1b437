"""Write a generated scenario to a folder: Parquet tables, CSV context, ``scenario.json``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from loyalist import jsontext
from loyalist.generate.generator import Scenario

#: name -> file name, in the order they are written
FILES: dict[str, str] = {
    "transactions": "transactions.parquet",
    "products": "products.parquet",
    "customers": "customers.parquet",
    "promotions": "promotions.parquet",
    "catalog": "catalog.csv",
    "seasonality": "seasonality.csv",
    "competitor_calendar": "competitor_calendar.csv",
    "inventory": "inventory.csv",
    "truth": "truth.parquet",
    "truth_response": "truth_response.parquet",
    "scenario": "scenario.json",
}


def write_scenario(s: Scenario, out_dir: Path) -> dict[str, Path]:
    """Write every file of ``s`` under ``out_dir`` (created if needed); return {name: path}.

    ``truth.parquet`` and ``truth_response.parquet`` are for evaluation only: a model must
    never read them."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for name, frame in s.frames().items():
        path = out_dir / FILES[name]
        if path.suffix == ".csv":
            frame = frame.copy()
            for col in frame.columns:
                if pd.api.types.is_datetime64_any_dtype(frame[col]):
                    frame[col] = frame[col].dt.strftime("%Y-%m-%d")
            frame.to_csv(path, index=False)
        else:
            frame.to_parquet(path, index=False)
        paths[name] = path
    meta = dict(s.meta)
    meta["files"] = {k: FILES[k] for k in FILES}
    path = out_dir / FILES["scenario"]
    path.write_text(jsontext.dumps(meta) + "\n")
    paths["scenario"] = path
    return paths
