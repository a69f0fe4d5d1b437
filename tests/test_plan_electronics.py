"""The plan on a generated electronics merchant (expensive baskets, thin margins, few orders
per customer) against the generator's truth: its profit is not a subsidy."""

from __future__ import annotations

import pytest
from plan_support import generated_merchant

from loyalist.promote.catalog import Constraints, PlanParams
from loyalist.promote.context import PlanContext
from loyalist.promote.evaluate import evaluate_against_truth

pytestmark = pytest.mark.xdist_group("plan_electronics")


@pytest.fixture(scope="module")
def electronics(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """An electronics merchant (3,000 customers, 18 months): expensive baskets, thin
    margins, few orders per customer, the case where discounts mostly subsidise purchases that
    would have happened anyway."""
    return generated_merchant(tmp_path_factory.mktemp("plan_electronics"), "electronics", seed=5)


@pytest.mark.slow
@pytest.mark.parametrize("goal", ["profit", "average_order_value"])
def test_electronics_profit_is_not_a_subsidy(electronics: dict, goal: str) -> None:
    """On this scenario the plan's predicted profit was 8x its true value and its true profit
    16% of the oracle's, below random targeting (24%): the margin came from a noisy spend
    uplift, every promotion's lift was inflated by the baselines' out-of-sample shortfall, and
    the discount on purchases that would have happened anyway was not paid in full. (Measured
    before the fix: profit 16%, predicted/true 8.3; average order value 38%.)"""
    inp = electronics["inp"]
    ctx = PlanContext(inp["customers"], inp["catalog"], electronics["as_of"],
                      inp["inventory"], inp["competitors"], season_factor=inp["season_factor"])
    r = evaluate_against_truth(inp["predictions"], electronics["truth"], ctx,
                               PlanParams(budget=15_000, goal=goal), Constraints())
    share = r["model"]["share_of_oracle"]
    assert share >= 0.65, r
    assert share >= r["random"]["share_of_oracle"] + 0.3, r
    assert r["model"]["predicted_value"] <= 2.0 * r["model"]["true_value"], r
