"""Budget-optimal promotion plans: at most one promotion per customer, maximising total value.

Customers ``i = 1..n``, promotions ``j = 1..m``; giving ``j`` to ``i`` is worth ``v_ij`` (may be
negative) and costs ``c_ij >= 0`` in expected spend. Choose ``x_ij in {0, 1}`` with
``sum_j x_ij <= 1`` (ineligible cells fixed at 0) to maximise ``sum v_ij x_ij`` subject to

- budget: ``sum c_ij x_ij <= B``;
- per promotion ``j``: spend ``sum_i c_ij x_ij`` in ``[L_j, U_j]`` and count ``sum_i x_ij <= K_j``;
- per segment ``g``: spend of its customers ``<= s_g B``.

This is a multiple-choice knapsack with side constraints. Methods:

``"lagrangian"`` (large instances)
    The budget-only LP relaxation is solved exactly by the incremental-efficiency greedy over the
    upper concave hull of each customer's options including "none" at (0, 0), after which
    LP-dominated options disappear (Sinha & Zoltners 1979; Pisinger 1995, section 2). Side
    constraints are priced by Lagrange multipliers (Fisher 1981): the dual function is convex
    and piecewise linear in the multipliers, each evaluation a vectorised argmax per customer.
    It is minimised with entropy smoothing (Nesterov 2005) and L-BFGS-B under ``y >= 0`` (Byrd,
    Lu, Nocedal & Zhu 1995), lowering the temperature in stages, first on a systematic sample
    of customers, then on a working set of the customers near a tie with the others held at
    their choice (a set the held customers leave infeasible shows as a smoothed dual below any
    plan's value: that round stops, the set grows and the next round starts from the best
    multipliers). Any multipliers give a proven upper bound (weak duality), evaluated exactly;
    its minimum equals the LP-relaxation value. A plan is recovered as each customer's best
    option at the best multipliers, repaired (downgrade or drop the choices losing least value
    per unit of a violated resource, move or swap customers onto promotions short of their
    minimum), filled greedily with feasible improvements (with side constraints, moves of the
    customers nearest a tie; by value per Lagrangian price, and by value; the better is kept),
    and, while its gap exceeds ``tol / 10``, polished by an exact MILP over the ``core_size``
    customers closest to a tie, the rest fixed (the core idea of Balas & Zemel 1980 and
    Pisinger 1995). Should the repair fail on a small instance, the exact MILP takes over.
``"milp"`` (exact, small instances)
    ``scipy.optimize.milp`` (HiGHS; Huangfu & Hall 2018) on the full model.
``"greedy"``
    Naive baseline: options by ``value / cost`` descending, each taken if the customer is free
    and every constraint still holds (minimum spends served first).
``"auto"``
    ``"milp"`` when ``n * m <= 20,000``, else ``"lagrangian"``. The exact solve then has
    ``AUTO_MILP_SECONDS``: a tiny budget (a dozen sends among thousands of near-equal ones)
    took HiGHS 30-40 s to prove a plan it had found at once. Stopped there, the plan is the
    better of its incumbent and the Lagrangian method's, and the bound the lower of theirs.

Every :class:`Solution` reports a proven upper bound and ``gap = (bound - value) /
max(|bound|, eps)``.

References: Sinha, P. & Zoltners, A. A. (1979), "The multiple-choice knapsack problem",
*Operations Research* 27(3), 503-515. Balas, E. & Zemel, E. (1980), "An algorithm for large
zero-one knapsack problems", *Operations Research* 28(5), 1130-1154. Fisher, M. L. (1981), "The
Lagrangian relaxation method for solving integer programming problems", *Management Science*
27(1), 1-18. Pisinger, D. (1995), "A minimal algorithm for the multiple-choice knapsack problem",
*EJOR* 83(2), 394-410. Byrd, R. H., Lu, P., Nocedal, J. & Zhu, C. (1995), "A limited memory
algorithm for bound constrained optimization", *SIAM J. Sci. Comput.* 16(5), 1190-1208.
Nesterov, Y. (2005), "Smooth minimization of non-smooth functions", *Math. Programming* 103,
127-152. Huangfu, Q. & Hall, J. A. J. (2018), "Parallelizing the dual revised simplex method",
*Math. Programming Computation* 10, 119-142.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import KW_ONLY, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from loyalist.errors import ConvergenceError, DataError, InfeasibleError, ParameterError
from loyalist.promote._lagrange import Warm, lagrangian, sample_start, zero_prices
from loyalist.promote._mckp import EPS, Hull, Model, Plan, exact, greedy, repair

logger = logging.getLogger(__name__)

METHODS = ("auto", "lagrangian", "milp", "greedy")
AUTO_MILP_MAX_CELLS = 20_000
#: seconds ``"auto"`` gives the exact solve of a small instance (see the module docstring)
AUTO_MILP_SECONDS = 5.0
_SWEEP_ENOUGH = 0.1  # a sweep's budget is done once its gap is within this share of tol


@dataclass
class Problem:
    """A promotion-planning instance.

    Parameters
    ----------
    value : array (n, m)
        Goal value of giving promotion ``j`` to customer ``i`` (may be negative; ignored where
        ineligible, so NaN is fine there).
    cost : array (n, m)
        Expected spend of that choice, ``>= 0``.
    budget : float
        Total spend allowed, ``B >= 0``.
    eligible : bool array (n, m), optional
        Ineligible cells are never chosen. Default: all eligible.
    group : int array (n,), optional
        Segment ``0..G-1`` of each customer (for ``group_max_share`` and reporting).
    promo_min_spend, promo_max_spend : array (m,), optional
        Bounds on the spend of each promotion; NaN means none.
    promo_max_count : array (m,), optional
        Most customers that may receive each promotion (e.g. inventory); NaN means none.
    group_max_share : array (G,), optional
        Most spend on each segment's customers as a share of ``budget``; NaN means none.
    """

    value: ArrayLike
    cost: ArrayLike
    budget: float
    _: KW_ONLY
    eligible: ArrayLike | None = None
    group: ArrayLike | None = None
    promo_min_spend: ArrayLike | None = None
    promo_max_spend: ArrayLike | None = None
    promo_max_count: ArrayLike | None = None
    group_max_share: ArrayLike | None = None


@dataclass
class Solution:
    """A feasible plan and its proven optimality gap.

    Attributes
    ----------
    choice : int array (n,)
        Promotion given to each customer, ``-1`` for none.
    value, spend : float
        Total value and expected spend of the plan.
    bound, gap : float
        A proven upper bound on the optimal value (Lagrangian dual, HiGHS's dual bound, or for
        the greedy the budget-only LP) and ``gap = (bound - value) / max(|bound|, eps)``.
    method : str
        ``"lagrangian"``, ``"milp"`` or ``"greedy"`` (what ``"auto"`` resolved to).
    iterations : int
        Dual evaluations (Lagrangian), branch-and-bound nodes (MILP), 0 (greedy).
    seconds : float
        Wall time of the solve.
    promo_spend, promo_count, group_spend : arrays (m,), (m,), (G,)
        Spend and customers per promotion, spend per segment.
    multipliers : dict
        Lagrangian only: the prices of ``"budget"`` and of each ``"group_max_share"``,
        ``"promo_max_spend"``, ``"promo_min_spend"`` row (value per unit of spend) and
        ``"promo_max_count"`` row (value per customer); 0 where a row is slack or absent.
    status : str
        ``"optimal"`` (MILP within ``tol``), ``"time_limit"`` (MILP stopped early) or
        ``"feasible"``.
    """

    choice: np.ndarray
    value: float
    spend: float
    bound: float
    gap: float
    method: str
    iterations: int
    seconds: float
    promo_spend: np.ndarray
    promo_count: np.ndarray
    group_spend: np.ndarray
    multipliers: dict[str, Any] = field(default_factory=dict)
    status: str = "feasible"

    @property
    def value_per_spend(self) -> float:
        """Goal value per unit of spend (NaN for an empty plan). Not the plan's ROI (net profit
        per spend) unless the goal is profit."""
        return self.value / self.spend if self.spend > 0 else float("nan")


# --------------------------------------------------------------------------- validation


def _vector(name: str, x: ArrayLike | None, size: int, what: str) -> np.ndarray:
    if x is None:
        return np.full(size, np.nan)
    a = np.asarray(x, dtype=float)
    if a.shape != (size,):
        raise DataError(f"{name} must have one entry per {what} (shape ({size},)); got shape "
                        f"{a.shape}.")
    bad = np.isinf(a) | (a < 0)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise ParameterError(f"{name}[{k}] = {a[k]}: limits must be finite and >= 0 (NaN means "
                             f"no limit).")
    return a


def _first_bad(mask: np.ndarray, what: str, total: int, rule: str, fix: str) -> DataError:
    i, j = np.argwhere(mask)[0]
    k = int(mask.sum())
    return DataError(f"{what}: {k:,} of {total:,} eligible cells ({k / total:.2%}) {rule}, e.g. "
                     f"customer {i}, promotion {j}; {fix}")


def _prepare(p: Problem) -> Model:
    """Validate a :class:`Problem` and build the internal model (raises on bad input)."""
    return _at_budget(_base(p), p.budget)


def _base(p: Problem) -> Model:
    """The budget-independent part of :func:`_prepare` (arrays, limits, reach)."""
    value = np.asarray(p.value, dtype=float)
    cost = np.asarray(p.cost, dtype=float)
    if value.ndim != 2 or min(value.shape) == 0:
        raise DataError(f"value must be a non-empty 2-D array (customers x promotions); got "
                        f"shape {value.shape}.")
    n, m = value.shape
    if cost.shape != value.shape:
        raise DataError(f"cost has shape {cost.shape} but value has shape {value.shape}; both "
                        f"must be (customers, promotions).")
    if p.eligible is None:
        elig = np.ones((n, m), dtype=bool)
    else:
        e = np.asarray(p.eligible)
        if e.shape != (n, m):
            raise DataError(f"eligible has shape {e.shape}; expected {(n, m)} like value.")
        if e.dtype != bool and not np.isin(e, (0, 1)).all():
            raise DataError("eligible must be boolean (or 0/1); got other values.")
        elig = e.astype(bool)
    n_elig = int(elig.sum())
    if n_elig == 0:
        raise InfeasibleError(f"no customer is eligible for any promotion (eligible is False in "
                              f"all {n:,} x {m} cells); nothing to plan: check the eligibility "
                              f"mask.")
    if not np.isfinite(value[elig]).all():
        raise _first_bad(elig & ~np.isfinite(value), "value", n_elig, "are NaN or infinite",
                         "fill them or mark those cells ineligible.")
    if not np.isfinite(cost[elig]).all():
        raise _first_bad(elig & ~np.isfinite(cost), "cost", n_elig, "are NaN or infinite",
                         "fill them or mark those cells ineligible.")
    if (cost[elig] < 0).any():
        raise _first_bad(elig & (cost < 0), "cost", n_elig, "are negative",
                         "expected spend must be >= 0.")
    if p.group is None:
        if p.group_max_share is not None:
            raise ParameterError("group_max_share needs group (the segment of each customer).")
        g_all = np.zeros(n, dtype=np.intp)
        G = 1
    else:
        ga = np.asarray(p.group)
        if ga.shape != (n,):
            raise DataError(f"group must have one entry per customer (shape ({n},)); got "
                            f"{ga.shape}.")
        if not np.issubdtype(ga.dtype, np.integer):
            if not (np.isfinite(ga).all() and (ga == np.round(ga)).all()):
                raise DataError("group must hold integer segment indices 0..G-1.")
        g_all = ga.astype(np.intp)
        if g_all.min() < 0:
            raise DataError(f"group holds negative index {int(g_all.min())}; segments are "
                            f"0..G-1.")
        G = int(g_all.max()) + 1
        if p.group_max_share is not None:
            G_s = np.asarray(p.group_max_share).shape
            if len(G_s) != 1 or G_s[0] < G:
                raise DataError(f"group_max_share must have one entry per segment (at least "
                                f"{G}, the largest group index + 1); got shape {G_s}.")
            G = G_s[0]
    share = _vector("group_max_share", p.group_max_share, G, "segment")
    pmin = _vector("promo_min_spend", p.promo_min_spend, m, "promotion")
    pmax = _vector("promo_max_spend", p.promo_max_spend, m, "promotion")
    pcnt = _vector("promo_max_count", p.promo_max_count, m, "promotion")
    both = np.isfinite(pmin) & np.isfinite(pmax) & (pmin > pmax)
    if both.any():
        j = int(np.flatnonzero(both)[0])
        raise InfeasibleError(f"promotion {j}: promo_min_spend {pmin[j]:,.2f} exceeds "
                              f"promo_max_spend {pmax[j]:,.2f}; lower the minimum or raise the "
                              f"maximum.")
    has_min = np.nan_to_num(pmin) > 0
    ok = elig & ((value > 0) | has_min[None, :])
    rows = np.flatnonzero(ok.any(axis=1))
    ok = ok[rows]
    v = np.full((len(rows), m + 1), -np.inf)
    v[:, :m][ok] = value[rows][ok]
    v[:, m] = 0.0
    c = np.zeros((len(rows), m + 1))
    c[:, :m][ok] = cost[rows][ok]
    okx = np.ones((len(rows), m + 1), dtype=bool)
    okx[:, :m] = ok
    g = g_all[rows]
    col_cost = c[:, :m].sum(axis=0)
    c_ok, v_ok = c[:, :m][ok], v[:, :m][ok]
    mean_c = float(c_ok.mean()) if len(c_ok) else 1.0
    mean_v = float(np.abs(v_ok).mean()) if len(v_ok) else 1.0
    pos = c_ok[c_ok > 0]
    vmin = np.where(okx, v, np.inf).min(axis=1) if len(rows) else np.zeros(0)
    col_top = np.full(m, np.inf)  # what _reach needs at every budget, once
    for j in np.flatnonzero(has_min & (np.nan_to_num(pcnt, nan=np.inf) < n)):
        col_top[j] = float(np.sort(c[ok[:, j], j])[::-1][:int(pcnt[j])].sum())
    col_group = np.array([np.bincount(g, weights=c[:, j], minlength=G) for j in range(m)])
    return Model(
        v=v, c=c, ok=okx, g=g, G=G, rows=rows, n_all=n, budget=0.0, share=share,
        pmin=np.append(np.nan_to_num(pmin), 0.0),
        pmax=np.append(np.nan_to_num(pmax, nan=np.inf), np.inf),
        pcnt=np.append(np.nan_to_num(pcnt, nan=np.inf), np.inf), gcap=np.full(G, np.inf),
        col_cost=col_cost, col_count=ok.sum(axis=0).astype(float), col_top=col_top,
        col_group=col_group.reshape(m, G),
        group_reach=np.bincount(g, weights=c.max(axis=1), minlength=G),
        tol=1e-9 * max(mean_c, EPS), vtol=1e-12 * max(mean_v, EPS), sv=mean_v or 1.0,
        sc=float(pos.mean()) if len(pos) else 1.0,
        lower=float(np.minimum(vmin, 0.0).sum()),
        vT=np.ascontiguousarray(v.T), cT=np.ascontiguousarray(c.T),
    )


def _at_budget(model: Model, budget: float) -> Model:
    """The model at another budget: caps recomputed, redundant ones dropped, checks redone."""
    try:
        B = float(budget)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"budget must be a number; got {budget!r}.") from exc
    if not np.isfinite(B):
        raise ParameterError(f"budget must be finite; got {B}.")
    if B < 0:
        raise InfeasibleError(f"budget is {B:,.2f} < 0: no plan spends a negative amount; pass "
                              f"budget >= 0.")
    M = dataclasses.replace(model, budget=B)
    M.tol = max(model.tol, 1e-12 * B)
    m = M.m
    gcap = np.where(np.isnan(M.share), np.inf, M.share * B)
    gcap[gcap >= np.minimum(B, M.group_reach)] = np.inf  # cannot bind
    M.gcap = gcap
    pmin = M.pmin[:m]
    reach = np.minimum(M.col_cost, B)
    pmax = np.array(model.pmax[:m])
    pmax[pmax >= reach] = np.inf
    pcnt = np.array(model.pcnt[:m])
    pcnt[pcnt >= M.col_count] = np.inf
    M.pmax = np.append(pmax, np.inf)
    M.pcnt = np.append(pcnt, np.inf)
    total_min = float(pmin.sum())
    if total_min > B * (1 + 1e-12) + M.tol:
        listed = ", ".join(f"{j}: {pmin[j]:,.2f}" for j in np.flatnonzero(pmin > 0))
        raise InfeasibleError(f"promo_min_spend sums to {total_min:,.2f} (promotion {listed}), "
                              f"more than the budget {B:,.2f}; lower the minimums or raise the "
                              f"budget.")
    for j in np.flatnonzero(pmin > 0):
        can, why = _reach(M, j)
        if can < pmin[j] - M.tol:
            raise InfeasibleError(f"promotion {j}: promo_min_spend {pmin[j]:,.2f} cannot be "
                                  f"reached: at most {can:,.2f} can be spent on it, {why}; "
                                  f"lower the minimum or widen eligibility.")
    if total_min > 0:
        cap = float(np.minimum(gcap, M.group_reach).sum())
        if total_min > cap + M.tol:
            raise InfeasibleError(f"promo_min_spend sums to {total_min:,.2f} but at most "
                                  f"{cap:,.2f} can be spent in all (each customer's costliest "
                                  f"option, within the segment caps); lower the minimums, widen "
                                  f"eligibility or raise the caps.")
    return M


def _reach(M: Model, j: int) -> tuple[float, str]:
    """Most spend promotion ``j`` can take on its own, and the binding reason, worded to follow
    "at most X can be spent on it, ..."."""
    n = int(M.col_count[j])
    whom = "its only eligible customer" if n == 1 else f"all {n:,} of its eligible customers"
    eligible = ("no customer is eligible for it" if n == 0 else
                f"the expected cost of sending it to {whom}")
    limits = {eligible: float(M.col_cost[j]), "the whole budget": M.budget,
              "its promo_max_spend": float(M.pmax[j])}
    if np.isfinite(M.pcnt[j]):
        limits[f"the cost of its costliest {int(M.pcnt[j]):,} sends (promo_max_count)"] = float(
            M.col_top[j])
    if np.isfinite(M.gcap).any():
        limits["within the segment caps"] = float(np.minimum(M.col_group[j], M.gcap).sum())
    why = min(limits, key=limits.__getitem__)
    return limits[why], why


def _report(M: Model, plan: Plan, bound: float, method: str, iterations: int, t0: float,
            prices: dict[str, Any], status: str) -> Solution:
    m = M.m
    plan.recount()
    choice = np.full(M.n_all, -1, dtype=np.intp)
    choice[M.rows] = np.where(plan.choice < m, plan.choice, -1)
    value = plan.value()
    bound = max(bound, value) + 0.0  # + 0.0: no negative zero (a MILP's negated objective)
    return Solution(
        choice=choice, value=value, spend=plan.total, bound=bound,
        gap=(bound - value) / max(abs(bound), EPS), method=method, iterations=iterations,
        seconds=time.perf_counter() - t0, promo_spend=plan.pspend[:m].copy(),
        promo_count=plan.pcount[:m].astype(np.int64), group_spend=plan.gspend.copy(),
        multipliers=prices, status=status)


def solve(problem: Problem, *, method: str = "auto", tol: float = 1e-3, time_limit: float = 60.0,
          core_size: int = 300) -> Solution:
    """Choose at most one promotion per customer maximising total value under the constraints.

    Parameters
    ----------
    problem : Problem
    method : {"auto", "lagrangian", "milp", "greedy"}
        See the module docstring; ``"auto"`` uses ``"milp"`` when ``n * m <= 20,000``.
    tol : float
        Target relative gap. ``"milp"``: HiGHS stops within it. ``"lagrangian"``: while the
        recovered plan is more than ``tol / 10`` from the bound, the ``core_size`` customers
        nearest a tie are re-solved exactly (HiGHS allowed ``tol / 4`` of the bound).
    time_limit : float
        Seconds for the whole solve (HiGHS stops at its limit with the best plan found).
    core_size : int
        Customers re-solved exactly by the Lagrangian method's polish (0 = no polish).

    Returns
    -------
    Solution
        A feasible plan with a proven bound and gap.

    Raises
    ------
    DataError, ParameterError
        Malformed input.
    InfeasibleError
        The constraints admit no plan (the message names the constraint and the numbers).
    """
    t0 = time.perf_counter()
    if method not in METHODS:
        raise ParameterError(f"method must be one of {METHODS}; got {method!r}.")
    if not (0 < tol < 1):
        raise ParameterError(f"tol must be in (0, 1); got {tol}.")
    if not time_limit > 0:
        raise ParameterError(f"time_limit must be > 0 seconds; got {time_limit}.")
    if core_size < 0:
        raise ParameterError(f"core_size must be >= 0 customers; got {core_size}.")
    M = _prepare(problem)
    auto = method == "auto"
    if auto:
        method = "milp" if M.n_all * M.m <= AUTO_MILP_MAX_CELLS else "lagrangian"
    deadline = t0 + time_limit
    if M.n == 0:
        prices = zero_prices(M) if method == "lagrangian" else {}
        return _report(M, Plan(M, np.full(M.n, M.m)), 0.0, method, 0, t0, prices, "optimal")
    if method == "milp":
        res_box: list[Any] = []
        limit = min(time_limit, AUTO_MILP_SECONDS) if auto else time_limit
        try:
            plan = Plan(M, exact(M, limit, tol, res_box))
        except ConvergenceError:
            if not auto:
                raise
            method = "lagrangian"  # no plan in the time given: the Lagrangian's, below
        else:
            bound, res = res_box
            if plan.violation() is not None:  # HiGHS works to a feasibility tolerance
                repair(plan)
            status = "optimal" if res is not None and res.status == 0 else "time_limit"
            nodes = int(res.mip_node_count or 0) if res is not None else 0
            if auto and status == "time_limit":  # the Lagrangian's plan, bound may be better
                lag, lag_bound, _, _, _ = lagrangian(M, deadline=deadline,
                                                     core_size=core_size, tol=tol)
                if lag.violation() is None and lag.value() > plan.value():
                    plan = lag
                bound = min(bound, lag_bound)
            return _report(M, plan, bound, "milp", nodes, t0, {}, status)
    if method == "greedy":
        plan = greedy(M)
        if plan.violation() is not None:
            kind, k, excess = plan.violation()
            raise InfeasibleError(f"the greedy baseline could not meet {kind}[{k}] (off by "
                                  f"{excess:,.2f}); use method='lagrangian' or 'milp'.")
        hull = Hull(M.c[:, :M.m], M.v[:, :M.m], M.ok[:, :M.m])
        return _report(M, plan, hull.lp_value(M.budget), "greedy", 0, t0, {}, "feasible")
    plan, bound, evals, prices, _ = lagrangian(M, deadline=deadline, core_size=core_size,
                                               tol=tol)
    return _report(M, plan, bound, "lagrangian", evals, t0, prices, "feasible")


def greedy_baseline(problem: Problem) -> Solution:
    """The naive "best value/cost ratio first" plan, for comparison (see :func:`solve`)."""
    return solve(problem, method="greedy")


def sensitivity(problem: Problem, budgets: ArrayLike, *, tol: float = 1e-3,
                time_limit: float = 60.0, profit: ArrayLike | None = None,
                solved: Solution | None = None) -> pd.DataFrame:
    """Plan value, spend and ROI at each budget, each with its own proven bound.

    Without side constraints every budget is a prefix of the same sorted hull segments (its
    value read off the cumulative sums; a greedy fill only where that prefix is more than
    ``tol / 10`` from the LP bound). With them the Lagrangian method runs at each budget in
    increasing order, without the core polish: the first from the budget price of a sample's
    hull, each next one warm from the previous budget (see ``_lagrange.Warm``: a short search on
    the sample, the previous sample error added back, then working-set rounds of a few
    iterations, the plan recovered after each round), stopping once the plan is within
    ``tol / 10`` of the bound; a budget still more than ``tol`` from it gets a cold search as
    well. Every bound is the Lagrangian dual evaluated exactly at that budget's own
    multipliers, so no budget's gap is interpolated or borrowed. Segment caps scale with the
    budget; promotion limits do not.

    Given ``solved`` (a Lagrangian solve of this very problem at its own budget, as a plan
    has just made), no budget starts cold: the budgets from the solved one up run warm from
    its multipliers in increasing order, and those below it in decreasing order.

    Parameters
    ----------
    problem : Problem
        Its ``budget`` is ignored.
    budgets : array (k,)
        Budgets to evaluate, in any order (rows come back in this order).
    tol : float
        Relative gap each budget's plan should be within (it stops improving at ``tol / 10``).
    time_limit : float
        Seconds for the whole sweep.
    profit : array (n, m), optional
        Net profit of each choice (the plan's ``net_profit``: incremental margin less the
        contact cost). With it, each budget's plan, the very choice its value and spend are
        read from (the hull prefix or the Lagrangian plan; nothing is solved again), also
        gives ``net_profit`` and ``roi`` (net profit / spend, as a plan's ``roi``).
    solved : Solution, optional
        The Lagrangian solve of ``problem`` at its budget, to start from (ignored if it has no
        multipliers, e.g. an exact MILP solve).

    Returns
    -------
    DataFrame
        Columns ``budget, value, spend, value_per_spend, bound, gap, feasible``
        (``value_per_spend``: goal value per unit of spend; the plan's ROI is net profit per
        spend, the same only for the profit goal), with ``profit`` also ``net_profit, roi``
        after ``value_per_spend``; a budget at which the constraints are infeasible gets NaN
        and ``feasible=False``.
    """
    t0 = time.perf_counter()
    b = np.asarray(budgets, dtype=float)
    if b.ndim != 1 or not len(b) or not np.isfinite(b).all():
        raise ParameterError("budgets must be a non-empty 1-D array of finite numbers.")
    M0 = _base(problem)
    m = M0.m
    # net profit of each model row's options, "none" (column m) last at 0
    pm = None
    if profit is not None:
        pa = np.asarray(profit, dtype=float)
        if pa.shape != (M0.n_all, m):
            raise DataError(f"profit has shape {pa.shape}; expected {(M0.n_all, m)} like "
                            "value.")
        pm = np.zeros((M0.n, m + 1))
        pm[:, :m] = np.where(M0.ok[:, :m], np.nan_to_num(pa[M0.rows]), 0.0)

    def net(choice: np.ndarray) -> float:
        return float(pm[np.arange(M0.n), choice].sum()) if pm is not None else np.nan

    hull: Hull | None = None  # built at the first budget that has no side constraints
    rows: dict[float, tuple[float, float, float, bool, float]] = {}

    def point(B: float, warm: Warm | None) -> Warm | None:
        """Fill ``rows[B]``; return what the next budget of the leg starts from."""
        nonlocal hull
        try:
            M = _at_budget(M0, B)
            if not M.side:  # the prefix of the sorted hull segments, unless a fill is worth it
                if hull is None:
                    hull = Hull(M0.c[:, :m], M0.v[:, :m], M0.ok[:, :m])
                k = hull.taken(B)
                value, spend = (hull.cum_r[k - 1], hull.cum_c[k - 1]) if k else (0.0, 0.0)
                bound = hull.lp_value(B)
                if bound - value <= 0.1 * tol * max(abs(bound), EPS):
                    rows[B] = (float(value), float(spend), bound, True,
                               net(hull.choice(B)) if pm is not None else np.nan)
                    return warm
            cold = sample_start(M) if M.side and warm is None else None
            plan, bound, _, _, carry = lagrangian(
                M, deadline=t0 + time_limit, core_size=0, tol=tol, hull=hull, start=cold,
                warm=warm, enough=_SWEEP_ENOUGH)
        except InfeasibleError:
            rows[B] = (np.nan, np.nan, np.nan, False, np.nan)
            return warm
        rows[B] = (plan.value(), plan.total, max(bound, plan.value()), True, net(plan.choice))
        return carry or warm

    legs, start = [np.unique(b)], None
    if solved is not None and solved.multipliers and solved.method == "lagrangian":
        # outwards from the solved budget: each leg warm from its multipliers
        start = Warm(solved.multipliers, solved.multipliers)
        B0, u = float(problem.budget), legs[0]
        legs = [u[u >= B0], u[u < B0][::-1]]
    for leg in legs:
        warm = start
        for B in leg:
            warm = point(B, warm)
    out = pd.DataFrame([(B, *rows[B]) for B in b],
                       columns=["budget", "value", "spend", "bound", "feasible", "net_profit"])
    out["value_per_spend"] = out["value"] / out["spend"].where(out["spend"] > 0)
    out["roi"] = out["net_profit"] / out["spend"].where(out["spend"] > 0)
    out["gap"] = (out["bound"] - out["value"]) / out["bound"].abs().clip(lower=EPS)
    extra = ["net_profit", "roi"] if pm is not None else []
    return out[["budget", "value", "spend", "value_per_spend", *extra, "bound", "gap",
                "feasible"]]


def synthetic_problem(n: int, m: int = 6, *, n_groups: int = 5, budget_share: float = 0.25,
                      constraints: bool = True, random_state: int | np.random.Generator | None
                      = None) -> Problem:
    """A realistic random instance (for tests, benchmarks and examples).

    Customer ``i`` has basket size ``a_i ~ LogNormal(3.5, 0.7)`` and promotion sensitivity
    ``s_i ~ Beta(2, 5)``; promotion ``j`` has depth ``d_j`` from 5% to 40%. Expected spend is
    ``a_i d_j`` times a redemption probability that grows with ``s_i`` and ``d_j``; value is an
    uplift ``~ a_i s_i sqrt(d_j)`` (diminishing returns in depth, so value is correlated with
    cost) less part of the spend and a contact cost, so some options are negative. 90% of cells
    are eligible. Segments are tiers of ``a_i s_i`` (responsive big spenders last). With
    ``constraints``: budget = ``budget_share`` x the spend of every customer's costliest
    option; minimum spends on the two deepest promotions, maximum spends on the middle ones, a
    count cap on the shallowest, and segment caps of 30-40% of the budget.
    """
    if n < 1 or m < 2 or n_groups < 1:
        raise ParameterError(f"need n >= 1, m >= 2, n_groups >= 1; got {n}, {m}, {n_groups}.")
    rng = np.random.default_rng(random_state)
    basket = rng.lognormal(3.5, 0.7, n)
    sens = rng.beta(2.0, 5.0, n)
    depth = np.linspace(0.05, 0.40, m)
    redeem = np.clip(0.1 + 0.8 * sens[:, None] * depth[None, :] ** 0.3
                     * rng.lognormal(0.0, 0.2, (n, m)), 0.0, 0.95)
    cost = basket[:, None] * depth[None, :] * redeem
    uplift = (basket * sens)[:, None] * 1.5 * np.sqrt(depth)[None, :] * rng.lognormal(
        0.0, 0.35, (n, m))
    value = uplift - 0.5 * cost - 0.03 * basket[:, None]
    eligible = rng.random((n, m)) < 0.9
    score = basket * sens * rng.lognormal(0.0, 0.3, n)
    group = np.searchsorted(np.quantile(score, np.linspace(0, 1, n_groups + 1)[1:-1]), score)
    budget = budget_share * float(np.where(eligible, cost, 0.0).max(axis=1).sum())
    if not constraints:
        return Problem(value, cost, budget, eligible=eligible, group=group)
    pmin = np.full(m, np.nan)
    pmax = np.full(m, np.nan)
    pcnt = np.full(m, np.nan)
    pmin[-2:] = [0.25 * budget, 0.20 * budget]
    pmax[m // 2 - 1: m // 2 + 1] = 0.15 * budget
    pcnt[0] = 0.05 * n
    share = np.linspace(0.30, 0.40, n_groups)
    return Problem(value, cost, budget, eligible=eligible, group=group, promo_min_spend=pmin,
                   promo_max_spend=pmax, promo_max_count=pcnt, group_max_share=share)
