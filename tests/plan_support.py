"""What the plan's test files share: a generated merchant with its plan inputs (the fashion
merchant of tests/test_plan.py, the electronics one of tests/test_plan_electronics.py), and
reading a plan's JSON and its warnings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from loyalist import pipeline
from loyalist.store import Store


def fresh_warnings(warnings: list[str]) -> list[str]:
    """The warnings other than the stale-data one, which depends on today's date."""
    return [w for w in warnings if not w.startswith("the data end on ")]


def generated_merchant(root: Path, scenario: str, *, seed: int) -> dict:
    """A generated merchant (3,000 customers, 18 months) loaded, customer models trained, the
    plan inputs read once, and the scenario's true responses."""
    gen = pipeline.generate(scenario, customers=3000, months=18, seed=seed, out=root / "data")
    store = root / "s.duckdb"
    pipeline.load_scenario(store, gen["files"])
    pipeline.train(store)
    with Store(store, read_only=True) as st:
        ts = st.default_as_of()
        inp = pipeline.plan_inputs(st, ts)
    truth = pd.read_parquet(gen["files"]["truth_response"])
    return {"root": root, "store": store, "as_of": ts, "inp": inp, "truth": truth,
            "files": gen["files"]}


def strict_json(text: str) -> Any:
    """``text`` parsed as JSON proper: NaN and Infinity, which Python's json module writes and
    reads but JSON.parse and jq refuse, are an error."""
    def refuse(const: str) -> None:
        raise ValueError(f"{const} is not JSON")
    return json.loads(text, parse_constant=refuse)
