"""A plan for a store with nothing but a transaction log: the generic catalog, every promotion
priced by the priors, and a merchant's priors file moving the plan."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from plan_support import fresh_warnings
from typer.testing import CliRunner

from loyalist import pipeline
from loyalist.cli.main import app

pytestmark = pytest.mark.xdist_group("plan_transactions_only")


@pytest.fixture(scope="module")
def transactions_only(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with nothing but a transaction log (400 customers) and its scores: every
    promotion of a plan is priced by the priors."""
    from test_churn import make_store, synthetic_lines

    store = tmp_path_factory.mktemp("transactions_only") / "t.duckdb"
    make_store(store, synthetic_lines(n_customers=400)).close()
    pipeline.train(store)
    return store


def test_plan_on_a_transactions_only_store(tmp_path: Path, transactions_only: Path) -> None:
    """A merchant with nothing but a transaction log (no catalog, promotion history, competitor
    calendar or inventory: those tables exist empty) gets a plan from the generic catalog and
    the priors, with each prior stated once per kind and segment."""
    store = transactions_only
    r = CliRunner().invoke(app, ["plan", "--store", str(store), "--budget", "500", "--goal",
                                 "retention", "--period", "30", "--out", str(tmp_path / "p"),
                                 "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["customers_targeted"] > 0 and 0 < doc["spend"] <= 500 + 1e-6
    # the goal's value in its own unit, with what each unit costs
    assert doc["goal_unit"] == "customers kept" and doc["goal_value"] > 0
    assert doc["cost_per_goal_unit"] == pytest.approx(doc["spend"] / doc["goal_value"])
    losing = [w for w in doc["warnings"] if w.startswith("this plan costs more than it earns")]
    assert len(losing) == (1 if doc["net_profit"] < 0 else 0)
    notes = doc["assumptions"]
    assert any(a.startswith("no promotion catalog given or loaded") for a in notes)
    priors = [a for a in notes if a.startswith("prior for ")]
    heads = [a.split(":")[0] for a in priors]
    assert priors and len(heads) == len(set(heads))  # one statement per (kind, segment)
    # under the priors no offer makes a basket larger: an empty plan that says why
    r = CliRunner().invoke(app, ["plan", "--store", str(store), "--budget", "500", "--goal",
                                 "aov", "--period", "30", "--out", str(tmp_path / "a"),
                                 "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["customers_targeted"] == 0 and doc["spend"] == 0
    assert doc["goal_unit"] == "of revenue above the usual baskets"
    assert doc["cost_per_goal_unit"] is None
    # a transactions-only store knows no consent: every customer is taken as consented, said
    doc["warnings"] = fresh_warnings(doc["warnings"])
    assert len(doc["warnings"]) == 2
    assert doc["warnings"][0].startswith("no promotion is expected to raise average order value")
    assert "minimum-spend voucher with a control group" in doc["warnings"][0]
    assert doc["warnings"][1].startswith("no marketing consent or opt-out is known for any "
                                         "customer")


def test_the_merchants_priors_move_a_plan_priced_by_priors(tmp_path: Path,
                                                           transactions_only: Path) -> None:
    """Issue #5: the priors are configurable from the command line. Double points is the
    generic catalog's weakest offer under the documented priors and gets nobody; a priors file
    that makes it lift buying by 8 points (4 for lost customers) moves the plan to it, its
    other rows keep their default, and the assumptions name the file and the rows it
    changes."""
    def plan(*extra: str) -> dict[str, Any]:
        r = CliRunner().invoke(app, ["plan", "--store", str(transactions_only), "--budget",
                                     "500", "--out", str(tmp_path / "p"), "--json", *extra])
        assert r.exit_code == 0, r.output
        return json.loads(r.stdout)  # type: ignore[no-any-return]

    def on(doc: dict[str, Any], promo: str, col: str) -> float:
        return sum(p[col] for p in doc["promotions"] if p["promotion"] == promo)

    before = plan()
    # every promotion of the generic catalog is priced by the documented priors
    assert before["priors"]["source"] == "defaults" and before["priors"]["overridden"] == []
    assert len(before["priors"]["priced"]) == 4 and "double_points" in before["priors"]["priced"]
    assert any(a.startswith("response priors: the documented defaults for the promotions "
                            "without a measured response") for a in before["assumptions"])
    priors = tmp_path / "priors.csv"
    priors.write_text("kind,segment,incremental_prob,use_rate\n"
                      "points_multiplier,active,0.08,0.8\n"
                      "points,lapsing,0.08,0.8\n"  # the catalog's aliases are accepted
                      "points_multiplier,lost,0.04,0.8\n")
    after = plan("--priors", str(priors))
    assert on(before, "double_points", "customers") == 0
    assert on(after, "double_points", "customers") > 0.5 * after["customers_targeted"]
    assert on(after, "double_points", "cost") > 0.5 * after["spend"]
    assert after["plan_id"] != before["plan_id"]
    assert after["priors"]["source"] == str(priors)
    assert [(r["kind"], r["segment"], r["incremental_prob"], r["default_incremental_prob"])
            for r in after["priors"]["overridden"]] == [
        ("points_multiplier", "active", 0.08, 0.01),
        ("points_multiplier", "lapsing", 0.08, 0.006),
        ("points_multiplier", "lost", 0.04, 0.0025)]
    note = next(a for a in after["assumptions"] if a.startswith("response priors"))
    assert note.startswith(f"response priors from {priors} for the promotions without a "
                           "measured response (")
    assert "points_multiplier x active incremental_prob 0.08 (default 0.01)" in note
    assert note.endswith("the other kind x segment rows are the documented defaults")
    # the promotions priced by priors are still marked as assumptions, with the new numbers
    assert any(a.startswith("prior for points_multiplier x active: +8.0% purchase probability")
               for a in after["assumptions"])
    assert after["confidence"].startswith("low")
