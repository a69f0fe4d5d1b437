"""The winner's curse where the budget binds: each pair's value and cost as posterior means
within its promotion (loyalist.promote.selection), by hand and in a plan."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from loyalist import schema as s
from loyalist.promote.catalog import Constraints, PlanParams, normalise_catalog
from loyalist.promote.context import PlanContext
from loyalist.promote.plan import make_plan
from loyalist.promote.selection import correct_selection, pooled_noise, posterior_means
from loyalist.response.uplift import Z80


def test_posterior_means_by_hand() -> None:
    """Mean 4, spread about it 56/3, noise 3 on average: tau^2 = 56/3 - 3 = 47/3, so the
    noisy 10 keeps (47/3) / (47/3 + 9) of its distance from 4; precise rows keep theirs. With
    no spread beyond the noise (tau^2 = 0) every noisy row is its key's mean."""
    x = np.array([0.0, 2.0, 10.0])
    got = posterior_means(x, np.array([0.0, 0.0, 3.0]), np.zeros(3), np.zeros(3))
    w = (47 / 3) / (47 / 3 + 9)
    assert got == pytest.approx([0.0, 2.0, 4.0 + w * 6.0])
    flat = posterior_means(np.array([1.0, 3.0, 5.0, 7.0]), np.full(4, 10.0),
                           np.array([0, 0, 1, 1]), np.zeros(4))
    assert flat == pytest.approx([2.0, 2.0, 6.0, 6.0])


def test_pooled_noise_is_what_the_pooling_leaves() -> None:
    """The shrunk estimate keep x_ij + (1 - keep) mean_k x_ik: one promotion is its own mean
    (all the noise left), six at keep 0.1 leave sqrt(0.01 + 0.99 / 6)."""
    assert pooled_noise(0.1, 1) == pytest.approx(1.0)
    assert pooled_noise(0.1, 6) == pytest.approx(np.sqrt(0.01 + 0.99 / 6))
    assert pooled_noise(1.0, 6) == 1.0


def _one_offer(n: int = 20) -> tuple[pd.DataFrame, PlanContext]:
    """One promotion (10 off each redemption), ``n`` customers: c00 worth 10, c01 9.5, the
    rest 1; every cost about 2 (0.2 redemptions) and measured to within 0.01, except c00's
    (1.0: 0.1 redemptions, its 10% / 90% points 0 and 0.3, few of its like redeemed in the
    campaigns) and c01's (1.1, as precise as the rest)."""
    rng = np.random.default_rng(0)
    ids = [f"c{i:02d}" for i in range(n)]
    cost = 2.0 + rng.uniform(-0.1, 0.1, n)
    cost[:2] = [1.0, 1.1]
    value = np.ones(n)
    value[:2] = [10.0, 9.5]
    pred = pd.DataFrame({
        s.CUSTOMER_ID: ids, "promotion": "voucher", "kind": "fixed_voucher",
        "incremental_prob": 0.01, "incremental_orders": 0.01, "incremental_revenue": value,
        "incremental_revenue_p10": value, "incremental_revenue_p90": value,
        "incremental_margin": value / 4, "incremental_margin_p10": value / 4,
        "incremental_margin_p90": value / 4, "p_control": 0.3, "p_response": 0.31,
        "contact_cost": 0.0, "expected_redemptions": cost / 10,
        "expected_redemptions_p10": (cost - 0.01) / 10,
        "expected_redemptions_p90": (cost + 0.01) / 10, "expected_cost": cost,
        "expected_cost_p10": cost - 0.01, "expected_cost_p90": cost + 0.01,
        "discount_cost": cost, "redemption_in_price": 10.0, "redemption_outside": 0.0,
        "net_value": value / 4, "assumption": False, "assumption_text": ""})
    pred.loc[0, ["expected_redemptions_p10", "expected_redemptions_p90"]] = [0.0, 0.3]
    pred.loc[0, ["expected_cost_p10", "expected_cost_p90"]] = [0.0, 3.0]
    catalog = normalise_catalog(pd.DataFrame({"name": ["voucher"], "kind": ["fixed_voucher"],
                                              "value": [5.0], "contact_cost": [0.0]}))
    customers = pd.DataFrame({"segment": "all"}, index=pd.Index(ids, name=s.CUSTOMER_ID))
    return pred, PlanContext(customers, catalog, pd.Timestamp("2025-01-01"))


def test_a_binding_budget_prefers_a_measured_cheap_send_to_a_noisy_cheaper_one() -> None:
    """Room for one send: by the estimates c00 gives 10 for 1.0 and c01 9.5 for 1.1, but
    c00's redemptions are barely measured and far below its promotion's ~0.2, so priced at
    their posterior mean its cost is ~2, past the budget; c01's is measured and stays. The
    plan sends c01 and says the spend it was chosen under."""
    pred, ctx = _one_offer()
    res = make_plan(pred, ctx, PlanParams(budget=1.15, goal="revenue"), Constraints(),
                    with_baseline=False)
    sent = res["customers"]
    assert list(sent[s.CUSTOMER_ID]) == ["c01"]
    assert res["summary"]["spend"] == pytest.approx(1.1, abs=0.01)
    assert res["summary"]["spend"] <= 1.15


def test_an_assumed_use_rates_range_is_not_noise_to_shrink() -> None:
    """A measured promotion whose redemptions were not recorded has its redemptions' 10% / 90%
    points from the assumed use rate's range (ResponseModel, ``use_rate_assumed``): an
    assumption, not the fit's noise, so its sends keep their costs and the plan takes c00."""
    pred, ctx = _one_offer()
    pred.attrs["use_rate_assumed"] = ["voucher"]
    res = make_plan(pred, ctx, PlanParams(budget=1.15, goal="revenue"), Constraints(),
                    with_baseline=False)
    assert list(res["customers"][s.CUSTOMER_ID]) == ["c00"]
    assert res["summary"]["spend"] == pytest.approx(1.0, abs=0.01)


def test_a_send_predicted_to_redeem_nothing_is_priced_at_its_offers_discount() -> None:
    """The discount per redemption is the offer's mechanics (``redemption_in_price`` +
    ``redemption_outside``), not ``discount_cost / expected_redemptions``: that division gave a
    send with no predicted redemptions a price of 0 per redemption, so however far its
    redemptions' posterior mean moved up, its cost stayed its contact cost."""
    red = np.array([0.2, 0.2, 0.0])
    pred = pd.DataFrame({
        "promotion": "voucher", "expected_redemptions": red,
        "expected_redemptions_p10": [0.2, 0.2, 0.0], "expected_redemptions_p90": [0.2, 0.2, 0.3],
        "redemption_in_price": 8.0, "redemption_outside": 2.0, "discount_cost": red * 10,
        "contact_cost": 0.5, "expected_cost": red * 10 + 0.5})
    out = correct_selection(pred, np.zeros(3), 1.0)
    shrunk = posterior_means(red, np.array([0.0, 0.0, 0.3 / (2 * Z80)]), np.zeros(3),
                             np.zeros(3))
    assert shrunk[2] > 0.05  # the barely measured send's redemptions move up
    np.testing.assert_allclose(out["expected_cost"], 0.5 + 10 * shrunk)
    np.testing.assert_allclose(out["discount_cost"], 10 * shrunk)
    # the measured sends keep theirs, the model's redemptions stay
    assert out["expected_cost"].iloc[:2].tolist() == pytest.approx([2.5, 2.5])
    np.testing.assert_array_equal(out["expected_redemptions"], red)


def test_a_binding_budget_does_not_take_a_barely_measured_send_for_free() -> None:
    """c00 is predicted to redeem nothing (cost 0) but its redemptions are barely measured:
    at its posterior mean it costs ~10 x 0.2 = 2, past a budget of 1.15, and the plan sends
    c01 alone (by the division it kept cost 0 and was sent beside c01)."""
    pred, ctx = _one_offer()
    pred.loc[0, ["expected_redemptions", "expected_cost", "discount_cost"]] = 0.0
    res = make_plan(pred, ctx, PlanParams(budget=1.15, goal="revenue"), Constraints(),
                    with_baseline=False)
    assert list(res["customers"][s.CUSTOMER_ID]) == ["c01"]
    c00 = res["instance"].pred.set_index(s.CUSTOMER_ID).loc["c00"]
    assert c00["expected_cost"] > 1.15
