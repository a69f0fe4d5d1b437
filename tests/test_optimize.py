"""Promotion-plan optimizer: loyalist.promote.optimize.

Layers: a hand-computed 3 x 2 case, the convex-hull and dominance pruning, structural rules
(eligibility, negative values, zero budget, caps), the exact HiGHS MILP as oracle for the
Lagrangian method on random instances with every kind of constraint, sensitivity sweeps, and
the error messages for infeasible or malformed problems. Every returned plan is checked for
feasibility from scratch.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
from collections.abc import Iterator

import numpy as np
import pytest

from loyalist.errors import DataError, InfeasibleError, ParameterError
from loyalist.promote import (
    Problem,
    _lagrange,
    greedy_baseline,
    optimize,
    sensitivity,
    solve,
    synthetic_problem,
)
from loyalist.promote._mckp import Hull, Plan, repair
from loyalist.promote.optimize import _prepare

# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------
RTOL = 1e-7


def assert_feasible(p: Problem, s) -> None:
    """Recompute everything from the problem: one promotion per customer, eligibility, budget,
    promotion min/max spend and count, segment caps, and the reported aggregates."""
    v = np.asarray(p.value, dtype=float)
    c = np.asarray(p.cost, dtype=float)
    n, m = v.shape
    ch = np.asarray(s.choice)
    assert ch.shape == (n,) and ch.min() >= -1 and ch.max() < m
    on = np.flatnonzero(ch >= 0)
    j = ch[on]
    elig = np.ones((n, m), bool) if p.eligible is None else np.asarray(p.eligible, bool)
    assert elig[on, j].all(), "an ineligible cell was chosen"
    spend_i = np.zeros(n)
    spend_i[on] = c[on, j]
    B = float(p.budget)
    tol = RTOL * max(B, 1.0)
    assert spend_i.sum() <= B + tol
    ps = np.bincount(j, weights=c[on, j], minlength=m)
    pc = np.bincount(j, minlength=m)
    if p.promo_max_spend is not None:
        cap = np.asarray(p.promo_max_spend, float)
        assert np.all(np.isnan(cap) | (ps <= cap + tol))
    if p.promo_min_spend is not None:
        lo = np.asarray(p.promo_min_spend, float)
        assert np.all(np.isnan(lo) | (ps >= lo - tol))
    if p.promo_max_count is not None:
        k = np.asarray(p.promo_max_count, float)
        assert np.all(np.isnan(k) | (pc <= k))
    if p.group_max_share is not None:
        share = np.asarray(p.group_max_share, float)
        gs = np.bincount(np.asarray(p.group), weights=spend_i, minlength=len(share))
        assert np.all(np.isnan(share) | (gs <= share * B + tol))
    assert s.value == pytest.approx(v[on, j].sum(), rel=1e-9, abs=1e-9)
    assert s.spend == pytest.approx(spend_i.sum(), rel=1e-9, abs=1e-9)
    np.testing.assert_allclose(s.promo_spend, ps, rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(s.promo_count, pc)
    assert s.bound >= s.value - 1e-9 * max(1.0, abs(s.value))
    assert s.gap == pytest.approx((s.bound - s.value) / max(abs(s.bound), 1e-12), abs=1e-12)


def brute_force(p: Problem) -> float:
    """Best value by enumeration (tiny problems only)."""
    v, c = np.asarray(p.value, float), np.asarray(p.cost, float)
    n, m = v.shape
    best = -np.inf
    for combo in itertools.product(range(-1, m), repeat=n):
        ch = np.array(combo)
        on = np.flatnonzero(ch >= 0)
        if c[on, ch[on]].sum() <= p.budget:
            best = max(best, v[on, ch[on]].sum())
    return float(best)


# --------------------------------------------------------------------------------------------
# Hand-computed micro cases
# --------------------------------------------------------------------------------------------
TINY = Problem(value=np.array([[10.0, 14.0], [6.0, 9.0], [4.0, 3.0]]),
               cost=np.array([[5.0, 8.0], [2.0, 5.0], [2.0, 1.0]]), budget=9.0)


def test_tiny_case_by_hand() -> None:
    # Hull segments by efficiency: c1->p0 (2, 6: 3.0), c2->p1 (1, 3: 3.0), c0->p0 (5, 10: 2.0),
    # c0 p0->p1 (3, 4: 1.33), ... The budget 9 takes 2 + 1 + 5 = 8 (value 19) and a third of
    # c0's upgrade in the LP (bound 19 + 4/3); the fill moves c2 p1 -> p0 (+1 cost, +1 value).
    assert brute_force(TINY) == 20.0
    for method in ("lagrangian", "milp"):
        s = solve(TINY, method=method)
        assert_feasible(TINY, s)
        assert s.value == 20.0
        np.testing.assert_array_equal(s.choice, [0, 0, 0])
    lag = solve(TINY, method="lagrangian", core_size=0)
    assert lag.value == 20.0
    assert lag.bound == pytest.approx(19.0 + 4.0 / 3.0)
    assert lag.gap == pytest.approx((4.0 / 3.0 - 1.0) / (19.0 + 4.0 / 3.0))
    # ratio order c1p0, c2p1 (3.0), c0p0 (2.0): 8 spent, nothing else fits
    g = greedy_baseline(TINY)
    assert_feasible(TINY, g)
    assert g.value == 19.0 and g.method == "greedy"


def test_hull_prunes_dominated_and_lp_dominated_options() -> None:
    # Options of one customer: A (2, 5), B (3, 4) dominated by A, C (4, 6) under the segment
    # A -> D, D (6, 9). The hull from none is none -> A (eff 2.5) -> D (eff 1.0).
    c = np.array([[2.0, 3.0, 4.0, 6.0]])
    v = np.array([[5.0, 4.0, 6.0, 9.0]])
    h = Hull(c, v, np.ones_like(c, dtype=bool))
    assert list(h.verts[0, :3]) == [4, 0, 3]
    np.testing.assert_allclose(h.eff, [2.5, 1.0])
    assert h.lp_value(4.0) == pytest.approx(5.0 + 2.0)  # A plus half of A -> D
    assert h.choice(4.0)[0] == 0 and h.choice(6.0)[0] == 3 and h.choice(1.0)[0] == 4
    assert h.price(4.0) == pytest.approx(1.0)
    # the dominated option B is never part of a plan, at any budget
    p = Problem(np.tile(v, (3, 1)), np.tile(c, (3, 1)), budget=0.0)
    for B in np.linspace(0.0, 20.0, 21):
        for method in ("lagrangian", "milp"):
            s = solve(dataclasses.replace(p, budget=B), method=method)
            assert_feasible(dataclasses.replace(p, budget=B), s)
            assert not (s.choice == 1).any()


def test_zero_cost_options_have_infinite_efficiency() -> None:
    p = Problem(np.array([[3.0, 5.0], [1.0, 2.0]]), np.array([[0.0, 4.0], [0.0, 0.0]]), 0.0)
    s = solve(p, method="lagrangian")
    assert_feasible(p, s)
    np.testing.assert_array_equal(s.choice, [0, 1])
    assert s.value == 5.0 and s.spend == 0.0


def test_zero_budget_gives_an_empty_plan() -> None:
    p = synthetic_problem(300, random_state=3, constraints=False)
    p = dataclasses.replace(p, budget=0.0)
    for method in ("lagrangian", "milp", "greedy"):
        s = solve(p, method=method)
        assert_feasible(p, s)
        assert (s.choice == -1).all() and s.value == 0.0 and s.spend == 0.0 and s.gap == 0.0


def test_no_useful_option_gives_an_empty_plan() -> None:
    p = Problem(-np.ones((4, 2)), np.ones((4, 2)), budget=10.0)
    s = solve(p)
    assert (s.choice == -1).all() and s.value == 0.0 and s.bound == 0.0


# --------------------------------------------------------------------------------------------
# Structural rules
# --------------------------------------------------------------------------------------------
def test_ineligible_cells_are_never_chosen_even_when_best() -> None:
    p = synthetic_problem(1500, random_state=5, constraints=False)
    value = np.array(p.value, dtype=float)
    elig = np.array(p.eligible)
    value[~elig] = 1e6  # irresistible, but not allowed
    value[~elig & (np.arange(value.size).reshape(value.shape) % 7 == 0)] = np.nan
    p = dataclasses.replace(p, value=value)
    for method in ("lagrangian", "milp", "greedy"):
        s = solve(p, method=method)
        assert_feasible(p, s)
        assert s.value < 1e6


def test_negative_value_options_are_never_chosen_without_a_minimum() -> None:
    p = synthetic_problem(2000, random_state=6)
    p = dataclasses.replace(p, promo_min_spend=None, budget=10 * p.budget)  # ample budget
    v = np.asarray(p.value)
    assert (v < 0).mean() > 0.03
    for method in ("lagrangian", "milp", "greedy"):
        s = solve(p, method=method)
        assert_feasible(p, s)
        on = np.flatnonzero(s.choice >= 0)
        assert (v[on, s.choice[on]] > 0).all()


def test_minimum_spend_can_force_negative_value_options() -> None:
    # promotion 1 is worth -1 everywhere but must take at least 3 of spend
    v = np.array([[4.0, -1.0], [3.0, -1.0], [2.0, -1.0], [1.0, -1.0]])
    c = np.ones((4, 2))
    p = Problem(v, c, 4.0, promo_min_spend=[np.nan, 3.0])
    for method in ("lagrangian", "milp"):
        s = solve(p, method=method)
        assert_feasible(p, s)
        assert s.value == pytest.approx(4.0 - 3.0)
        assert s.promo_count[1] == 3


def test_repair_swaps_customers_when_a_count_cap_blocks_a_minimum() -> None:
    # promotion 1 may go to 2 customers but must take 7 of spend: only the cost-4 customers
    # reach it, so the repair has to swap the cheap ones it starts with for costly ones
    v = np.column_stack([np.full(6, 5.0), [3.0, 3.0, 3.0, 1.0, 1.0, 1.0]])
    c = np.column_stack([np.ones(6), [1.0, 1.0, 1.0, 4.0, 4.0, 4.0]])
    p = Problem(v, c, 20.0, promo_min_spend=[np.nan, 7.0], promo_max_count=[np.nan, 2.0])
    M = _prepare(p)
    plan = Plan(M, np.array([1, 1, 0, 0, 0, 0]))
    repair(plan)
    assert plan.violation() is None
    assert plan.pspend[1] == 8.0 and sorted(np.flatnonzero(plan.choice == 1)) != [0, 1]
    s = solve(p, method="lagrangian")
    assert_feasible(p, s)
    assert s.value == solve(p, method="milp").value == 4 * 5.0 + 2 * 1.0


def test_count_caps_and_segment_caps_bind() -> None:
    p = synthetic_problem(3000, random_state=7)
    free = solve(dataclasses.replace(p, promo_max_count=None, group_max_share=None,
                                     promo_min_spend=None, promo_max_spend=None),
                 method="lagrangian")
    k = free.promo_count.max() // 2
    j = int(np.argmax(free.promo_count))
    counts = np.full(6, np.nan)
    counts[j] = k
    top = int(np.argmax(free.group_spend))
    share = np.full(5, np.nan)
    share[top] = 0.5 * free.group_spend[top] / p.budget
    q = dataclasses.replace(p, promo_max_count=counts, group_max_share=share,
                            promo_min_spend=None, promo_max_spend=None)
    s = solve(q, method="lagrangian")
    assert_feasible(q, s)
    assert s.promo_count[j] == k
    assert s.group_spend[top] == pytest.approx(share[top] * p.budget, rel=1e-3)
    assert s.value < free.value and s.gap < 1e-3
    assert s.multipliers["promo_max_count"][j] > 0
    assert s.multipliers["group_max_share"][top] > 0


def test_report_fields_add_up() -> None:
    p = synthetic_problem(2500, random_state=8)
    s = solve(p, method="lagrangian")
    assert_feasible(p, s)
    assert s.method == "lagrangian" and s.iterations > 0 and s.seconds > 0
    assert s.promo_spend.sum() == pytest.approx(s.spend)
    assert s.group_spend.sum() == pytest.approx(s.spend)
    assert s.promo_count.sum() == (s.choice >= 0).sum()
    assert s.value_per_spend == pytest.approx(s.value / s.spend)
    assert set(s.multipliers) == {"budget", "group_max_share", "promo_max_spend",
                                  "promo_min_spend", "promo_max_count"}
    assert s.multipliers["budget"] > 0


# --------------------------------------------------------------------------------------------
# Lagrangian against the exact MILP
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("n", "seed", "constraints"), [
    (50, 0, True), (50, 1, False), (120, 2, True), (300, 3, True), (300, 4, False),
    (800, 5, True), (800, 6, False), (2000, 7, True),
])
def test_lagrangian_agrees_with_milp(n: int, seed: int, constraints: bool) -> None:
    p = synthetic_problem(n, random_state=seed, constraints=constraints)
    exact = solve(p, method="milp", tol=1e-4)
    lag = solve(p, method="lagrangian")
    for s in (exact, lag):
        assert_feasible(p, s)
    scale = max(1.0, abs(exact.value))
    assert lag.value >= exact.value * (1 - 1e-3)
    assert lag.bound >= exact.value - 1e-7 * scale  # a proven bound
    assert exact.bound >= lag.value - 1e-7 * scale
    if n >= 800:  # on small instances the LP bound itself is loose (1.4% at n = 50)
        assert lag.gap < 1e-3


@pytest.mark.parametrize("seed", [11, 12])
def test_lagrangian_alone_reaches_the_gap_without_polish(seed: int) -> None:
    p = synthetic_problem(5000, random_state=seed)
    s = solve(p, method="lagrangian", core_size=0)
    assert_feasible(p, s)
    assert s.gap < 1e-3


def test_budget_only_lagrangian_is_within_one_segment() -> None:
    p = synthetic_problem(20000, random_state=13, constraints=False)
    s = solve(p, method="lagrangian", core_size=0)
    assert_feasible(p, s)
    assert s.iterations == 0 and s.gap < 1e-5


def test_auto_method_picks_milp_for_small_problems() -> None:
    small = synthetic_problem(200, random_state=14)
    assert solve(small).method == "milp"
    big = synthetic_problem(4000, random_state=14)
    s = solve(big)
    assert s.method == "lagrangian"
    assert_feasible(big, s)


def test_greedy_baseline_is_feasible_and_worse() -> None:
    p = synthetic_problem(3000, random_state=15)
    g = greedy_baseline(p)
    s = solve(p, method="lagrangian")
    assert_feasible(p, g)
    assert g.value < s.value and g.gap > s.gap
    assert g.multipliers == {}


# --------------------------------------------------------------------------------------------
# Sensitivity
# --------------------------------------------------------------------------------------------
def test_sensitivity_budget_only_is_monotone_and_matches_solve() -> None:
    p = synthetic_problem(5000, random_state=16, constraints=False)
    budgets = np.linspace(0.0, 2.0 * p.budget, 12)
    df = sensitivity(p, budgets)
    assert list(df.columns) == ["budget", "value", "spend", "value_per_spend", "bound", "gap",
                                "feasible"]
    np.testing.assert_allclose(df["budget"], budgets)
    assert df["feasible"].all()
    assert (np.diff(df["value"]) > 0).all()
    assert (df["spend"] <= df["budget"] * (1 + RTOL) + RTOL).all()
    assert (df["bound"] >= df["value"]).all() and (df["gap"] < 1e-3).all()
    assert df["value"].iloc[0] == 0.0 and np.isnan(df["value_per_spend"].iloc[0])
    per_spend = df["value_per_spend"].to_numpy()[1:]
    assert (np.diff(per_spend) < 0).all()  # diminishing returns
    s = solve(p, method="lagrangian", core_size=0)
    at = sensitivity(p, [p.budget])
    assert at["value"].iloc[0] == pytest.approx(s.value, rel=1e-9)


def test_sensitivity_with_constraints_flags_infeasible_budgets() -> None:
    p = synthetic_problem(4000, random_state=17)
    budgets = np.array([2.0, 1.0, 0.0, 0.3, 1.5]) * p.budget  # unsorted on purpose
    df = sensitivity(p, budgets)
    np.testing.assert_allclose(df["budget"], budgets)
    # minimum spends add up to 45% of the problem's budget
    np.testing.assert_array_equal(df["feasible"], [True, True, False, False, True])
    ok = df[df["feasible"]].sort_values("budget")
    assert (np.diff(ok["value"]) > 0).all() and (ok["gap"] < 1e-3).all()
    assert df.loc[~df["feasible"], "value"].isna().all()
    s = solve(p, method="lagrangian")
    assert ok["value"].iloc[0] == pytest.approx(s.value, rel=1e-3)


@pytest.fixture
def small_sample(monkeypatch: pytest.MonkeyPatch) -> None:
    """Price the dual on a 1-in-10 sample from 20,000 customers, as from 200,000 by default,
    so that the sweeps below carry the sample's multipliers and error from budget to budget."""
    monkeypatch.setattr(_lagrange, "_SAMPLE", 2000)


def test_sensitivity_points_carry_their_own_proven_bound(small_sample: None) -> None:
    p = synthetic_problem(20_000, random_state=21)
    budgets = np.linspace(0.0, 2.0 * p.budget, 12)
    df = sensitivity(p, budgets)
    ok = df[df["feasible"]]
    assert len(ok) >= 8 and not df.loc[df["feasible"], ["value", "bound"]].isna().any().any()
    assert (ok["bound"] >= ok["value"]).all() and (ok["gap"] < 1e-3).all()
    assert (ok["spend"] <= ok["budget"] * (1 + RTOL)).all()
    # each point against its own independent solve (with polish): both values are feasible
    # plans and both bounds proven, so each bound covers the other's value
    for B in ok["budget"].to_numpy()[[0, len(ok) // 2, -1]]:
        q = dataclasses.replace(p, budget=B)
        s = solve(q, method="lagrangian")
        assert_feasible(q, s)
        row = ok[ok["budget"] == B].iloc[0]
        scale = 1e-9 * abs(s.value)
        assert row["bound"] >= s.value - scale and s.bound >= row["value"] - scale
        assert row["value"] == pytest.approx(s.value, rel=1e-3)


def test_sensitivity_bounds_cover_the_exact_optimum(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_lagrange, "_SAMPLE", 40)  # a 1-in-10 sample here too
    p = synthetic_problem(400, random_state=22)
    budgets = np.array([0.6, 1.0, 1.6]) * p.budget
    df = sensitivity(p, budgets)
    assert df["feasible"].all()
    for B, row in zip(budgets, df.itertuples(), strict=True):
        exact = solve(dataclasses.replace(p, budget=B), method="milp", tol=1e-3)
        scale = 1e-7 * max(1.0, abs(exact.value))
        assert row.bound >= exact.value - scale  # a proven upper bound on the optimum
        assert row.value <= exact.bound + scale  # and the value of a feasible plan


def test_sensitivity_falls_back_to_a_cold_search(small_sample: None,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    # a warm search stuck at the previous budget's multipliers leaves each next budget far
    # from its bound; the cold search from there brings every budget within tolerance
    search = _lagrange._dual_rounds

    def stuck(M: _lagrange.Model, start: dict, warm: _lagrange.Warm | None,
              deadline: float) -> Iterator[_lagrange._Priced]:
        if warm is None:
            yield from search(M, start, warm, deadline)
            return
        bound, choice, margin = _lagrange._scan(M, warm.prices)
        yield _lagrange._Priced(warm.prices, bound, choice, margin, 1, warm)

    monkeypatch.setattr(_lagrange, "_dual_rounds", stuck)
    caplog.set_level(logging.DEBUG, logger=_lagrange.__name__)
    p = synthetic_problem(20_000, random_state=21)
    df = sensitivity(p, np.linspace(0.5, 2.0, 6) * p.budget)
    assert sum("cold search" in r.getMessage() for r in caplog.records) >= 3
    assert df["feasible"].all()
    assert (df["bound"] >= df["value"]).all() and (df["gap"] < 1e-3).all()


def test_sensitivity_warm_from_the_plans_solve_needs_no_cold_search(
        small_sample: None, monkeypatch: pytest.MonkeyPatch) -> None:
    # the plan has just solved its own budget: the sweep runs outwards from its multipliers,
    # so no budget starts cold, and every point keeps its own proven bound
    p = synthetic_problem(20_000, random_state=21)
    budgets = np.linspace(0.0, 2.0 * p.budget, 12)
    cold = sensitivity(p, budgets)
    s = solve(p, method="lagrangian")

    def no_cold_start(M: _lagrange.Model) -> dict:
        raise AssertionError("a budget of the sweep started cold")

    monkeypatch.setattr(optimize, "sample_start", no_cold_start)
    warm = sensitivity(p, budgets, solved=s)
    assert (warm["budget"] == budgets).all()
    assert (warm["feasible"] == cold["feasible"]).all()
    ok = warm[warm["feasible"]]
    assert (ok["bound"] >= ok["value"]).all() and (ok["gap"] < 1e-3).all()
    assert (ok["spend"] <= ok["budget"] * (1 + RTOL)).all()
    # both sweeps' points are feasible plans under proven bounds: each bound covers the other
    both = cold[cold["feasible"]]
    scale = 1e-9 * both["value"].abs().max()
    assert (ok["bound"].to_numpy() >= both["value"].to_numpy() - scale).all()
    assert (both["bound"].to_numpy() >= ok["value"].to_numpy() - scale).all()
    # an exact solve has no multipliers to start from: the sweep then starts cold as before
    with pytest.raises(AssertionError, match="started cold"):
        sensitivity(p, budgets, solved=dataclasses.replace(s, multipliers={}))


def test_sensitivity_rejects_bad_budgets() -> None:
    p = synthetic_problem(100, random_state=18)
    with pytest.raises(ParameterError, match="budgets must be a non-empty 1-D array"):
        sensitivity(p, [])
    with pytest.raises(ParameterError, match="budgets must be a non-empty 1-D array"):
        sensitivity(p, [1.0, np.nan])


# --------------------------------------------------------------------------------------------
# Infeasible constraints and malformed input
# --------------------------------------------------------------------------------------------
def _small() -> Problem:
    return synthetic_problem(200, random_state=19)


@pytest.mark.parametrize("method", ["lagrangian", "milp", "greedy"])
def test_min_spends_above_budget_are_infeasible(method: str) -> None:
    p = _small()
    lo = np.full(6, np.nan)
    lo[[1, 4]] = [0.7 * p.budget, 0.6 * p.budget]
    with pytest.raises(InfeasibleError, match=r"promo_min_spend sums to .* more than the "
                                              r"budget .*; lower the minimums"):
        solve(dataclasses.replace(p, promo_min_spend=lo), method=method)


def test_unreachable_min_spend_names_the_promotion() -> None:
    p = _small()
    elig = np.array(p.eligible)
    elig[:, 5] = False
    elig[:3, 5] = True
    lo = np.full(6, np.nan)
    lo[5] = 0.2 * p.budget
    with pytest.raises(InfeasibleError, match=r"promotion 5: promo_min_spend [\d,.]+ cannot be "
                                              r"reached: at most [\d,.]+ can be spent on it, the "
                                              r"expected cost of sending it to all 3 of its "
                                              r"eligible customers; lower the minimum"):
        solve(dataclasses.replace(p, eligible=elig, promo_min_spend=lo))
    # explore7 I12: "(limited by 0 eligible customers with total expected cost)"
    elig[:, 5] = False
    with pytest.raises(InfeasibleError, match=r"promotion 5: promo_min_spend [\d,.]+ cannot be "
                                              r"reached: at most 0.00 can be spent on it, no "
                                              r"customer is eligible for it; lower the minimum"):
        solve(dataclasses.replace(p, eligible=elig, promo_min_spend=lo))


def test_min_above_max_is_infeasible() -> None:
    p = _small()
    with pytest.raises(InfeasibleError, match="promotion 0: promo_min_spend 5.00 exceeds "
                                              "promo_max_spend 4.00"):
        solve(dataclasses.replace(p, promo_min_spend=[5.0] + [np.nan] * 5,
                                  promo_max_spend=[4.0] + [np.nan] * 5))
    with pytest.raises(InfeasibleError, match=r"promo_min_spend sums to 6.00 but at most 4.00 "
                                              r"can be spent in all"):
        solve(Problem(np.ones((4, 2)), np.ones((4, 2)), 10.0, promo_min_spend=[3.0, 3.0]))


def test_no_eligible_customer_is_infeasible() -> None:
    p = _small()
    with pytest.raises(InfeasibleError, match=r"no customer is eligible for any promotion"):
        solve(dataclasses.replace(p, eligible=np.zeros((200, 6), dtype=bool)))


def test_negative_budget_is_infeasible() -> None:
    with pytest.raises(InfeasibleError, match=r"budget is -1.00 < 0"):
        solve(dataclasses.replace(_small(), budget=-1.0))


@pytest.mark.parametrize("method", ["lagrangian", "milp"])
def test_jointly_infeasible_minimums_are_detected(method: str) -> None:
    # customers 0-3 can take promotion 0 or 1 (cost 1 each), 4-9 only promotion 2: each
    # minimum (3) is reachable alone and the total is, but 3 + 3 of customers 0-3 are not
    elig = np.zeros((10, 3), dtype=bool)
    elig[:4, :2] = True
    elig[4:, 2] = True
    p = Problem(np.ones((10, 3)), np.ones((10, 3)), 10.0, eligible=elig,
                promo_min_spend=[3.0, 3.0, np.nan])
    with pytest.raises(InfeasibleError, match=r"(admit no plan|proved the constraints "
                                              r"infeasible).*minimum spends \(0: 3.00, 1: 3.00\)"):
        solve(p, method=method)


def test_malformed_input_is_rejected_with_the_reason() -> None:
    p = _small()
    with pytest.raises(DataError, match=r"cost has shape \(200, 5\) but value has shape"):
        solve(dataclasses.replace(p, cost=np.asarray(p.cost)[:, :5]))
    value = np.array(p.value)
    value[4, 1] = np.nan
    elig = np.ones((200, 6), dtype=bool)
    with pytest.raises(DataError, match=r"value: 1 of 1,200 eligible cells .* NaN or infinite, "
                                        r"e.g. customer 4, promotion 1"):
        solve(dataclasses.replace(p, value=value, eligible=elig))
    cost = np.array(p.cost)
    cost[7, 3] = -2.0
    with pytest.raises(DataError, match=r"cost: 1 of .* are negative, e.g. customer 7"):
        solve(dataclasses.replace(p, cost=cost, eligible=elig))
    with pytest.raises(ParameterError, match="method must be one of"):
        solve(p, method="simplex")
    with pytest.raises(ParameterError, match="group_max_share needs group"):
        solve(dataclasses.replace(p, group=None))
    with pytest.raises(DataError, match=r"promo_max_spend must have one entry per promotion"):
        solve(dataclasses.replace(p, promo_max_spend=[1.0, 2.0]))
    with pytest.raises(ParameterError, match=r"promo_max_count\[0\] = -1.0"):
        solve(dataclasses.replace(p, promo_max_count=[-1.0] + [np.nan] * 5))
    with pytest.raises(ParameterError, match="budget must be finite"):
        solve(dataclasses.replace(p, budget=np.inf))


def test_native_stdout_during_milp_goes_to_stderr() -> None:
    """HiGHS can print a stray line to file descriptor 1 even when silenced, which would
    corrupt ``loyalist plan --json``; while it runs, fd 1 is held aside and restored
    afterwards, HiGHS's known debug line is dropped and anything else is passed on to stderr
    (checked in a real subprocess, at the file-descriptor level)."""
    import subprocess
    import sys

    code = ("import os\n"
            "from loyalist.promote._mckp import stdout_to_stderr\n"
            "with stdout_to_stderr():\n"
            "    os.write(1, b'native noise\\n')\n"
            "    os.write(1, b'HighsMipSolverData::transformNewIntegerFeasibleSolution "
            "tmpSolver.run();\\n')\n"
            "print('{\"ok\": 1}')\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=60, check=True)
    assert r.stdout == '{"ok": 1}\n'
    assert r.stderr == "native noise\n"


@pytest.mark.parametrize("constraints", [False, True], ids=["hull", "lagrangian"])
def test_sensitivity_roi_comes_from_each_budgets_own_plan(constraints: bool) -> None:
    """Exploratory report 8, finding 9: the curve had value and spend per budget but no ROI
    (issue #5: "value and ROI vs budget"). Net profit is summed over the very plan each
    point's value and spend are read from (the hull prefix, or the Lagrangian plan), so a
    profit that is a linear function of value and cost gives the same function of the
    point's value and spend, at every budget."""
    p = synthetic_problem(3000, random_state=21, constraints=constraints)
    budgets = np.linspace(0.0, 2.0 * p.budget, 6)
    value, cost = np.asarray(p.value, dtype=float), np.asarray(p.cost, dtype=float)
    df = sensitivity(p, budgets, profit=2.0 * value - cost)
    plain = sensitivity(p, budgets)
    assert list(df.columns) == ["budget", "value", "spend", "value_per_spend", "net_profit",
                                "roi", "bound", "gap", "feasible"]
    ok = df["feasible"] & (df["spend"] > 0)
    assert ok.sum() >= 3
    np.testing.assert_allclose(df.loc[ok, "net_profit"],
                               2.0 * df.loc[ok, "value"] - df.loc[ok, "spend"], rtol=1e-9)
    np.testing.assert_allclose(df.loc[ok, "roi"],
                               df.loc[ok, "net_profit"] / df.loc[ok, "spend"], rtol=1e-12)
    # the same points as without profit: nothing is solved differently
    np.testing.assert_allclose(df["value"], plain["value"], rtol=1e-12)
    with pytest.raises(DataError, match=r"profit has shape \(3, 1\)"):
        sensitivity(p, budgets, profit=np.zeros((3, 1)))


def test_auto_falls_back_to_the_lagrangian_when_the_exact_solve_finds_no_plan(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """``auto`` gives the exact solve of a small instance ``AUTO_MILP_SECONDS``; a HiGHS that
    found no plan in them leaves the plan to the Lagrangian method (``milp`` asked for by name
    still raises), and one stopped at its limit keeps the better plan and the lower bound."""
    import loyalist.promote.optimize as O
    from loyalist.errors import ConvergenceError

    p = synthetic_problem(300, random_state=21)

    def no_plan(*_a: object, **_k: object) -> None:
        raise ConvergenceError("HiGHS found no feasible plan within 5 s")

    monkeypatch.setattr(O, "exact", no_plan)
    s = solve(p)
    assert s.method == "lagrangian" and s.gap < 1e-2
    assert_feasible(p, s)
    with pytest.raises(ConvergenceError):
        solve(p, method="milp")
