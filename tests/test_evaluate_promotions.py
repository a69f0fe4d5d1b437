"""`loyalist evaluate promotions`: the response model judged out of time against churn-first
and random targeting, run as the real command on generated stores (issue #5; explore8
finding 3: the evaluation existed only as a library call)."""

from __future__ import annotations

import hashlib
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from loyalist import pipeline
from loyalist.errors import DataError
from loyalist.evaluation.promotions import evaluate_promotions
from loyalist.response import evaluate_out_of_time
from loyalist.store import Store

EXE = [sys.executable, "-m", "loyalist"]
STRATEGIES = ("model", "churn_heuristic", "random")
METRICS = ("qini", "auuc", "uplift_at_10", "uplift_at_30")


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*EXE, *map(str, args)], capture_output=True, text=True, timeout=300)


def digest(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def strict(text: str) -> Any:
    def refuse(name: str) -> None:
        raise AssertionError(f"not strict JSON: {name}")
    return json.loads(text, parse_constant=refuse)


#: the whole file on one xdist worker: its module-scoped stores are built once, not once
#: per worker (--dist loadgroup sends ungrouped tests to either)
pytestmark = pytest.mark.xdist_group("evaluate_promotions")


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A small fashion scenario (600 customers, 18 months: 12 campaigns with a control group)
    in a store; the same sales with no promotions, with only the first 3 campaigns, and with
    no control group."""
    root = tmp_path_factory.mktemp("evaluate_promotions")
    gen = pipeline.generate("fashion", customers=600, months=18, seed=3, out=root / "data")
    out = {name: root / f"{name}.duckdb" for name in ("full", "bare", "few", "no_control")}
    pipeline.load_scenario(out["full"], gen["files"])
    pipeline.load_scenario(out["bare"], gen["files"], skip=["promotions"])
    sends = pd.read_parquet(gen["files"]["promotions"])
    parts = {"few": sends[pd.to_datetime(sends["sent_at"]) < "2024-11-01"],
             "no_control": sends[sends["promotion"] != "control"]}
    for name, part in parts.items():
        part.to_csv(root / f"{name}.csv", index=False)
        pipeline.ingest(out[name], [gen["files"]["transactions"]])
        pipeline.ingest(out[name], [root / f"{name}.csv"], table="promotions")
    return out


def test_the_table_names_every_promotion_and_targeting_order(stores: dict[str, Path],
                                                            tmp_path: Path) -> None:
    before = digest(stores["full"])
    p = run("evaluate", "promotions", "--store", stores["full"], "--out", tmp_path / "card")
    assert p.returncode == 0, p.stderr
    text = p.stdout
    for want in ("response model (relative_lift), out of time", "trained on",
                 "purchase in the 30-day window", "spend in the 30-day window", "pooled",
                 "treated", "control", "model", "churn-first", "random p90", "Qini", "AUUC",
                 "uplift@10%", "uplift@30%", "double_points", "winter_clearance_30"):
        assert want in text, want
    assert "training the response model on the campaigns before 2025-08-31" in p.stderr
    assert digest(stores["full"]) == before  # only read
    card = tmp_path / "card"
    md = (card / "promotion_card.md").read_text()
    assert "## Pooled: spend in the 30-day window" in md and "| churn-first |" in md
    assert "Qini coefficient: the area between" in md
    html = (card / "promotion_card.html").read_text()
    assert '<img alt="qini_curves.png" src="data:image/png;base64,' in html
    assert (card / "qini_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    doc = strict((card / "promotion_evaluation.json").read_text())
    curves = doc["curves"]
    assert len(curves["fraction"]) == 101
    for outcome in ("purchase", "spend"):
        c = curves[outcome]
        assert c["model"][0] == 0 and math.isclose(c["model"][-1], c["random"][-1])
        assert all(lo <= hi for lo, hi in zip(c["random_p10"], c["random_p90"], strict=True))
        # the curves' scores are the evaluation's: the same fit, so the same Qini
        for key in ("model", "churn_heuristic"):
            assert math.isclose(c["qini"][key], doc["pooled"][outcome][key]["qini"],
                                rel_tol=1e-9, abs_tol=1e-12), (outcome, key)


def test_json_is_one_strict_document_with_finite_numbers(stores: dict[str, Path]) -> None:
    p = run("evaluate", "promotions", "--store", stores["full"], "--json")
    assert p.returncode == 0 and p.stderr == "", p.stderr
    doc = strict(p.stdout)
    assert doc["cutoff"] == "2025-08-31" and doc["test_campaigns"] == 3
    assert doc["train"]["campaigns"] == 9 and doc["paths"] == {} and "curves" not in doc
    assert set(doc["strategies"]) == set(STRATEGIES)
    reports = [doc["pooled"][o] for o in ("purchase", "spend")] + [
        r[o] for r in doc["promotions"].values() for o in ("purchase", "spend")]
    assert len(doc["promotions"]) == 6
    for rep in reports:
        assert rep["n_treated"] > 20 and rep["n_control"] > 20
        assert math.isfinite(rep["random_qini_p90"])
        for key in STRATEGIES:
            assert all(math.isfinite(rep[key][m]) for m in METRICS), (key, rep[key])
    pooled = doc["pooled"]["spend"]
    assert pooled["n_treated"] == sum(r["spend"]["n_treated"] for r in doc["promotions"].values())


def test_no_bootstrap_bags_give_the_same_numbers(stores: dict[str, Path]) -> None:
    """The command fits the learner with n_bags=1: the scores evaluated are the fit on every
    row, which the bags (intervals only) do not change."""
    with Store(stores["full"], read_only=True) as st:
        fast = evaluate_promotions(st)
        full = evaluate_out_of_time(st)
    assert fast["pooled"] == full["pooled"] and fast["promotions"] == full["promotions"]


def test_a_refusal_is_one_line_exit_2_store_untouched(stores: dict[str, Path]) -> None:
    unchanged = digest(stores["bare"])
    p = run("evaluate", "promotions", "--store", stores["bare"])
    assert p.returncode == 2 and p.stdout == "" and "Traceback" not in p.stderr, p.stderr
    assert len(p.stderr.strip().splitlines()) == 1, p.stderr  # refused before any progress
    assert " ".join(p.stderr.split()) == (
        "error: this store has no promotion history (table promotions is empty), so the "
        "response model has nothing to be evaluated on; load the campaign sends (customer_id, "
        "promotion, sent_at; the hold-out group as promotion 'control') with `loyalist ingest "
        f"promotions.csv --store {stores['bare']} --table promotions`")
    assert digest(stores["bare"]) == unchanged


@pytest.mark.parametrize(("store", "as_of", "said"), [
    ("few", None, r"^promotions: 3 campaigns \(send days, 2024-07-22 to 2024-10-20\), 3 with a "
                  r"complete 30-day response window before the data end on 2026-01-01; an "
                  r"out-of-time evaluation needs at least 4 \(at least 1 to train on, 3 held "
                  r"out to test\): load a longer promotion history"),
    ("no_control", None, r"^promotions: 0 of 1,722 exposures are 'control'; .* `loyalist "
                         r"ingest promotions.csv --store .* --table promotions`$"),
    ("full", "2030-01-01", r"^--as-of 2030-01-01 is beyond the data \(last sale on "
                           r"2025-12-31\): .* give --as-of 2025-11-29 or earlier"),
    ("full", "2025-12-01", r"^--as-of 2025-12-01 leaves no campaign to test: .* give --as-of "
                           r"2025-11-29 or earlier"),
    ("full", "2024-08-01", r"^--as-of 2024-08-01 leaves nothing to train on: .* give --as-of "
                           r"2024-08-21 or later$"),
    ("full", "2024-09-10", r"^cannot evaluate the response model with the campaigns before "
                           r"2024-09-10: no promotion has enough exposures to learn its uplift "
                           r"\(free_shipping: 27 control exposures \(< min_arm 100\)"),
])
def test_what_cannot_be_evaluated_is_refused_with_the_fix(stores: dict[str, Path], store: str,
                                                          as_of: str | None, said: str) -> None:
    unchanged = digest(stores[store])
    with pytest.raises(DataError, match=said):
        pipeline.evaluate_promotions(stores[store], as_of=as_of)
    assert digest(stores[store]) == unchanged
