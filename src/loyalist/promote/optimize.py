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
    Lu, Nocedal & Zhu 1995), lowering the temperature in stages; every evaluated point gives a
    proven upper bound, whose minimum equals the LP-relaxation value. A plan is recovered by the
    hull greedy on Lagrangian-reduced values, repaired (downgrade or drop the cheapest choices
    per unit of a violated resource, move customers onto promotions short of their minimum),
    filled greedily with feasible improvements, and finally polished by an exact MILP over the
    ``core_size`` customers whose decision is closest to a tie (the core idea of Balas & Zemel
    1980 and Pisinger 1995).
``"milp"`` (exact, small instances)
    ``scipy.optimize.milp`` (HiGHS; Huangfu & Hall 2018) on the full model.
``"greedy"``
    Naive baseline: options by ``value / cost`` descending, each taken if the customer is free
    and every constraint still holds (minimum spends served first).
``"auto"``
    ``"milp"`` when ``n * m <= 20,000``, else ``"lagrangian"``.

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
import functools
import logging
import time
from dataclasses import KW_ONLY, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp, minimize
from threadpoolctl import ThreadpoolController

from loyalist.errors import ConvergenceError, DataError, InfeasibleError, ParameterError

logger = logging.getLogger(__name__)

METHODS = ("auto", "lagrangian", "milp", "greedy")
AUTO_MILP_MAX_CELLS = 20_000
_EPS = 1e-12
_NEAR = 2000  # customers first considered by the repair (at least)
_TAUS = (0.1, 0.03, 0.01, 0.003, 0.001, 0.0003)  # smoothing temperatures, in mean |value|
import os, json
_COARSE = int(os.environ.get("COARSE", "20000"))
_CT = tuple(json.loads(os.environ.get("CT", "[0.1, 0.03, 0.01, 0.003, 0.001]")))
_FT = tuple(json.loads(os.environ.get("FT", "[0.003, 0.001, 0.0003]")))
_CTW = tuple(json.loads(os.environ.get("CTW", "[0.01, 0.003, 0.001]")))
_FTW = tuple(json.loads(os.environ.get("FTW", "[0.001]")))
_CFTOL = float(os.environ.get("CFTOL", "1e-10"))
_MCW = int(os.environ.get("MCW", "60"))
_MW = int(os.environ.get("MW", "10"))
_WARM = json.loads(os.environ.get("WARM", '{"taus": [0.01, 0.002], "maxiter": 12}'))


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

    ``choice[i]`` is the promotion given to customer ``i`` (``-1`` = none). ``bound`` is a proven
    upper bound on the optimal value and ``gap = (bound - value) / max(|bound|, eps)``.
    ``multipliers`` are the Lagrange prices (value per unit of spend; per customer for counts).
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
    def roi(self) -> float:
        """Value per unit of spend (NaN for an empty plan)."""
        return self.value / self.spend if self.spend > 0 else float("nan")


# --------------------------------------------------------------------------- validation


@dataclass
class _Model:
    """Validated instance on the customers with at least one usable option.

    Arrays have ``m + 1`` columns, the last one being "none" (value 0, cost 0). ``v`` is -inf
    where an option is not usable (ineligible, or value <= 0 on a promotion without minimum
    spend: the "none" option dominates it).
    """

    v: np.ndarray
    c: np.ndarray
    ok: np.ndarray
    g: np.ndarray
    G: int
    rows: np.ndarray
    n_all: int
    budget: float
    share: np.ndarray  # (G,) nan = none
    pmin: np.ndarray  # (m+1,) 0 = none
    pmax: np.ndarray  # (m+1,) inf = none
    pcnt: np.ndarray  # (m+1,) inf = none
    gcap: np.ndarray  # (G,) inf = none
    col_cost: np.ndarray  # (m,) spend if every usable cell of the column were chosen
    col_count: np.ndarray  # (m,)
    group_reach: np.ndarray  # (G,) most spend a segment can take
    tol: float  # feasibility tolerance on spend
    vtol: float  # smallest value gain worth a move
    lower: float  # smallest value any plan can have

    @property
    def n(self) -> int:
        return self.v.shape[0]

    @property
    def m(self) -> int:
        return self.v.shape[1] - 1

    @property
    def side(self) -> bool:
        return bool(np.isfinite(self.gcap).any() or np.isfinite(self.pmax).any()
                    or np.isfinite(self.pcnt).any() or (self.pmin > 0).any())


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


def _prepare(p: Problem) -> _Model:
    """Validate a :class:`Problem` and build the internal model (raises on bad input)."""
    return _at_budget(_base(p), p.budget)


def _base(p: Problem) -> _Model:
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
    mean_c = float(c[:, :m][ok].mean()) if ok.any() else 1.0
    mean_v = float(np.abs(v[:, :m][ok]).mean()) if ok.any() else 1.0
    vmin = np.where(okx, v, np.inf).min(axis=1) if len(rows) else np.zeros(0)
    return _Model(
        v=v, c=c, ok=okx, g=g, G=G, rows=rows, n_all=n, budget=0.0, share=share,
        pmin=np.append(np.nan_to_num(pmin), 0.0),
        pmax=np.append(np.nan_to_num(pmax, nan=np.inf), np.inf),
        pcnt=np.append(np.nan_to_num(pcnt, nan=np.inf), np.inf), gcap=np.full(G, np.inf), col_cost=col_cost,
        col_count=ok.sum(axis=0).astype(float),
        group_reach=np.bincount(g, weights=c.max(axis=1), minlength=G),
        tol=1e-9 * max(mean_c, _EPS), vtol=1e-12 * max(mean_v, _EPS), lower=float(np.minimum(vmin, 0.0).sum()),
    )


def _at_budget(model: _Model, budget: float) -> _Model:
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
                                  f"reached, at most {can:,.2f} can be spent on it ({why}); "
                                  f"lower the minimum or widen eligibility.")
    if total_min > 0:
        cap = float(np.minimum(gcap, M.group_reach).sum())
        if total_min > cap + M.tol:
            raise InfeasibleError(f"promo_min_spend sums to {total_min:,.2f} but the segment "
                                  f"caps (group_max_share x budget) allow at most {cap:,.2f}; "
                                  f"lower the minimums or raise the caps.")
    return M


def _reach(M: _Model, j: int) -> tuple[float, str]:
    """Most spend promotion ``j`` can take on its own, and the binding reason."""
    ok = M.ok[:, j]
    cj = M.c[ok, j]
    limits = {f"{int(ok.sum()):,} eligible customers with total expected cost": float(cj.sum()),
              "budget": M.budget, "promo_max_spend": float(M.pmax[j])}
    if np.isfinite(M.pcnt[j]):
        k = int(M.pcnt[j])
        limits[f"promo_max_count {k:,} of the costliest customers"] = float(
            np.sort(cj)[::-1][:k].sum())
    if np.isfinite(M.gcap).any():
        per_g = np.bincount(M.g[ok], weights=cj, minlength=M.G)
        limits["segment caps"] = float(np.minimum(per_g, M.gcap).sum())
    why = min(limits, key=limits.__getitem__)
    return limits[why], why


# --------------------------------------------------------------------------- hull greedy


class _Hull:
    """Upper concave hull of each customer's (cost, value) options including none at (0, 0).

    Built by vectorised gift wrapping; the hull segments sorted by incremental efficiency once
    give the budget-only LP optimum at every budget as a prefix (Sinha & Zoltners 1979).
    """

    def __init__(self, c: np.ndarray, r: np.ndarray, ok: np.ndarray):
        n, m = c.shape
        rr = np.where(ok, r, -np.inf)
        verts = np.full((n, m + 1), m, dtype=np.intp)
        cust, step, dcs, drs = [], [], [], []
        cur_c = np.zeros(n)
        cur_r = np.zeros(n)
        zero = np.where(ok & (c <= 0), rr, -np.inf)  # free options: infinite efficiency
        jz = np.argmax(zero, axis=1)
        bz = zero[np.arange(n), jz]
        hit = np.flatnonzero(bz > 0)
        nv = np.zeros(n, dtype=np.intp)
        if len(hit):
            verts[hit, 1] = jz[hit]
            nv[hit] = 1
            cur_r[hit] = bz[hit]
            cust.append(hit)
            step.append(np.zeros(len(hit), dtype=np.intp))
            dcs.append(np.zeros(len(hit)))
            drs.append(bz[hit])
        active = np.arange(n)
        for s in range(1, m + 1):
            dc = c[active] - cur_c[active, None]
            dr = rr[active] - cur_r[active, None]
            up = (dc > 0) & (dr > 0)
            slope = np.full(dc.shape, -np.inf)
            np.divide(dr, dc, out=slope, where=up)
            j = np.argmax(slope, axis=1)
            best = slope[np.arange(len(active)), j]
            keep = best > -np.inf
            active, j = active[keep], j[keep]
            if not len(active):
                break
            nv[active] += 1
            verts[active, nv[active]] = j
            cust.append(active)
            step.append(np.full(len(active), s, dtype=np.intp))
            dcs.append(c[active, j] - cur_c[active])
            drs.append(rr[active, j] - cur_r[active])
            cur_c[active] = c[active, j]
            cur_r[active] = rr[active, j]
        self.verts = verts
        self.n = n
        if cust:
            cu, st = np.concatenate(cust), np.concatenate(step)
            dc_all, dr_all = np.concatenate(dcs), np.concatenate(drs)
        else:
            cu = st = np.zeros(0, dtype=np.intp)
            dc_all = dr_all = np.zeros(0)
        eff = np.full(len(dc_all), np.inf)
        np.divide(dr_all, dc_all, out=eff, where=dc_all > 0)
        order = np.argsort(-eff, kind="stable")  # segments come in step order
        self.cust = cu[order]
        self.dc = dc_all[order]
        self.dr = dr_all[order]
        self.eff = eff[order]
        self.cum_c = np.cumsum(self.dc)
        self.cum_r = np.cumsum(self.dr)

    def taken(self, budget: float) -> int:
        """Number of sorted segments that fit in ``budget``."""
        return int(np.searchsorted(self.cum_c, budget * (1 + 1e-15), side="right"))

    def choice(self, budget: float) -> np.ndarray:
        """Integer plan: every whole segment in the budget prefix (column ``m`` = none)."""
        k = self.taken(budget)
        counts = np.bincount(self.cust[:k], minlength=self.n)
        return self.verts[np.arange(self.n), counts]

    def lp_value(self, budget: float) -> float:
        """Optimal value of the budget-only LP relaxation (prefix plus a fractional segment)."""
        k = self.taken(budget)
        val = float(self.cum_r[k - 1]) if k else 0.0
        if k < len(self.dc):
            used = float(self.cum_c[k - 1]) if k else 0.0
            val += float(self.dr[k]) * (budget - used) / float(self.dc[k])
        return val

    def price(self, budget: float) -> float:
        """Budget multiplier: efficiency of the first segment left out (0 if none is)."""
        k = self.taken(budget)
        return float(self.eff[k]) if k < len(self.eff) else 0.0


# --------------------------------------------------------------------------- Lagrangian dual


@functools.cache
def _blas() -> ThreadpoolController:
    """One controller per process: L-BFGS-B makes hundreds of tiny BLAS calls, and a threaded
    OpenBLAS waking its workers for each costs ~4 ms per call on a busy machine (measured)."""
    return ThreadpoolController()


class _Dual:
    """Lagrangian dual over y = (budget, segment caps, promo max, promo min, promo count).

    ``L(y) = sum_i max(0, max_j r_ij) + theta B + sum rho_g s_g B + sum lam_j U_j + sum kap_j K_j
    - sum mu_j L_j`` with ``r_ij = v_ij - c_ij (theta + rho_g(i) + lam_j - mu_j) - kap_j``. The
    search runs on (m, n) copies with values and costs rescaled to mean 1 (so smoothing
    temperatures are unit-free); bounds are evaluated in original units.
    """

    def __init__(self, M: _Model, rows: np.ndarray | None = None):
        m = M.m
        self.M = M
        self.full = rows is None
        self.frac = 1.0 if rows is None else len(rows) / max(M.n, 1)
        okv = M.ok[:, :m]
        self.sv = float(np.abs(M.v[:, :m][okv]).mean()) or 1.0
        pos = M.c[:, :m][okv & (M.c[:, :m] > 0)]
        self.sc = float(pos.mean()) if len(pos) else 1.0
        sub = slice(None) if rows is None else rows
        self.v = (M.v[sub, :m] / self.sv).T.copy()  # (m, n): reductions over promotions
        self.c = (M.c[sub, :m] / self.sc).T.copy()  # are elementwise over rows, fast
        self.g = M.g[sub]
        self.B = M.budget / self.sc
        self.iS = np.flatnonzero(np.isfinite(M.gcap))
        self.iU = np.flatnonzero(np.isfinite(M.pmax[:m]))
        self.iL = np.flatnonzero(M.pmin[:m] > 0)
        self.iK = np.flatnonzero(np.isfinite(M.pcnt[:m]))
        self.S = M.gcap[self.iS] / self.sc
        self.U = M.pmax[self.iU] / self.sc
        self.Lm = M.pmin[self.iL] / self.sc
        self.K = M.pcnt[self.iK]
        self.sizes = [1, len(self.iS), len(self.iU), len(self.iL), len(self.iK)]
        self.dim = sum(self.sizes)
        self.buf = np.empty_like(self.v)
        self.evals = 0
        self.best = np.inf
        self.best_y = np.zeros(self.dim)

    def split(self, y: np.ndarray) -> list[np.ndarray]:
        return np.split(y, np.cumsum(self.sizes)[:-1])

    def from_full(self, full: dict[str, np.ndarray]) -> np.ndarray:
        """Normalised y from multipliers in original units (see :meth:`to_full`)."""
        r = self.sc / self.sv
        return np.concatenate([[full["budget"] * r], full["group_max_share"][self.iS] * r,
                               full["promo_max_spend"][self.iU] * r,
                               full["promo_min_spend"][self.iL] * r,
                               full["promo_max_count"][self.iK] / self.sv])

    def to_full(self, y: np.ndarray) -> dict[str, Any]:
        th, rho, lam, mu, kap = self.split(y)
        r = self.sv / self.sc
        M = self.M
        out: dict[str, Any] = {"budget": float(th[0]) * r}
        for key, size, idx, val, scale in (("group_max_share", M.G, self.iS, rho, r),
                                           ("promo_max_spend", M.m, self.iU, lam, r),
                                           ("promo_min_spend", M.m, self.iL, mu, r),
                                           ("promo_max_count", M.m, self.iK, kap, self.sv)):
            a = np.zeros(size)
            a[idx] = val * scale
            out[key] = a
        return out

    def _linear(self, y: np.ndarray) -> float:
        th, rho, lam, mu, kap = self.split(y)
        return self.frac * float(th[0] * self.B + rho @ self.S + lam @ self.U + kap @ self.K
                                 - mu @ self.Lm)

    def smoothed(self, y: np.ndarray, tau: float) -> tuple[float, np.ndarray]:
        """Entropy-smoothed dual ``sum_i tau log(1 + sum_j exp(r_ij / tau)) + linear`` and its
        gradient (Nesterov 2005), normalised units; records the exact dual at ``y``."""
        self.evals += 1
        th, rho, lam, mu, kap = self.split(y)
        pg = np.full(self.M.G, th[0])
        pg[self.iS] += rho
        pj = np.zeros(self.M.m)
        pj[self.iU] += lam
        pj[self.iL] -= mu
        r = self.buf
        np.add.outer(pj, pg[self.g], out=r)
        r *= self.c
        np.subtract(self.v, r, out=r)
        if len(self.iK):
            kj = np.zeros(self.M.m)
            kj[self.iK] = kap
            r -= kj[:, None]
        mx = np.maximum(r.max(axis=0), 0.0)
        r -= mx
        r *= 1.0 / tau
        np.exp(r, out=r)
        z = r.sum(axis=0) + np.exp(-mx / tau)
        lin = self._linear(y)
        exact = self.sv * (float(mx.sum()) + lin)  # the dual itself at y: also a bound
        if exact < self.best and self.full:
            self.best, self.best_y = exact, y.copy()
        val = float(mx.sum() + tau * np.log(z).sum()) + lin
        r /= z
        wc = r * self.c
        spend_j = wc.sum(axis=1)
        count_j = r.sum(axis=1)
        spend_g = np.bincount(self.g, weights=wc.sum(axis=0), minlength=self.M.G)
        grad = np.concatenate([[self.B - spend_j.sum()], self.S - spend_g[self.iS],
                               self.U - spend_j[self.iU], spend_j[self.iL] - self.Lm,
                               self.K - count_j[self.iK]])
        return val, grad

    def exact(self, y: np.ndarray) -> float:
        """The dual function at ``y`` in float64 and original units: a proven upper bound."""
        self.evals += 1
        r = self.M.v - _option_prices(self.M, self.to_full(y))
        val = float(r.max(axis=1).sum()) + self.sv * self._linear(y)
        if val < self.best:
            self.best, self.best_y = val, y.copy()
        return val

    def solve(self, y: np.ndarray, deadline: float, taus: tuple[float, ...] = _TAUS,
              rel_stop: float = 1e-7, maxiter: int = 60, ftol: float = 1e-13) -> Any:
        """Minimise the dual by smoothing continuation; returns the best bound found."""
        n = max(self.v.shape[1], 1)
        y = np.maximum(y, 0.0)
        if self.full:
            self.exact(y)
        prev = self.best
        for tau in taus:
            def fun(x: np.ndarray, tau: float = tau) -> tuple[float, np.ndarray]:
                val, grad = self.smoothed(x, tau)
                return val / n, grad / n

            with _blas().limit(limits=1, user_api="blas"):
                res = minimize(fun, y, jac=True, method="L-BFGS-B",
                               bounds=[(0.0, None)] * self.dim,
                               options={"maxiter": maxiter, "ftol": ftol, "gtol": 1e-12})
            y = res.x
            if not self.full:
                continue
            self.exact(y)
            logger.debug("dual tau=%g evals=%d best=%.9g", tau, self.evals, self.best)
            if self.best < self.M.lower - 1e-6 * max(abs(self.M.lower), self.sv):
                break  # proven infeasible, caller raises
            if time.perf_counter() > deadline:
                break
            if tau <= 0.01 and prev - self.best <= rel_stop * max(abs(self.best), _EPS):
                break
            prev = self.best
        return self.best if self.full else y


# --------------------------------------------------------------------------- plan, repair, fill


class _Plan:
    """A plan (column ``m`` = none) with its resource usage, and feasible moves."""

    def __init__(self, M: _Model, choice: np.ndarray):
        self.M = M
        self.choice = np.asarray(choice, dtype=np.intp).copy()
        self.recount()

    def recount(self) -> None:
        M, m = self.M, self.M.m
        cc = M.c[np.arange(M.n), self.choice]
        self.pspend = np.bincount(self.choice, weights=cc, minlength=m + 1)
        self.pcount = np.bincount(self.choice, minlength=m + 1).astype(float)
        self.gspend = np.bincount(M.g, weights=cc, minlength=M.G)
        self.total = float(cc.sum())

    def value(self) -> float:
        return float(self.M.v[np.arange(self.M.n), self.choice].sum())

    def move(self, i: int, o: int) -> None:
        M = self.M
        cur = self.choice[i]
        c_old, c_new = M.c[i, cur], M.c[i, o]
        self.pspend[cur] -= c_old
        self.pspend[o] += c_new
        self.pcount[cur] -= 1
        self.pcount[o] += 1
        self.gspend[M.g[i]] += c_new - c_old
        self.total += c_new - c_old
        self.choice[i] = o

    def fits(self, i: int, o: int, relax: bool = False) -> bool:
        """Whether moving customer ``i`` to option ``o`` keeps (or does not worsen) every row.

        With ``relax`` the budget and segment rows are ignored (they are repaired afterwards).
        """
        M = self.M
        cur = self.choice[i]
        if o == cur or not M.ok[i, o]:
            return False
        c_old, c_new = M.c[i, cur], M.c[i, o]
        dc = c_new - c_old
        tol = M.tol
        if dc > 0 and not relax:
            if self.total + dc > M.budget + tol:
                return False
            g = M.g[i]
            if self.gspend[g] + dc > M.gcap[g] + tol:
                return False
        if o < M.m:
            if self.pspend[o] + c_new > M.pmax[o] + tol or self.pcount[o] + 1 > M.pcnt[o] + 1e-9:
                return False
        if cur < M.m and M.pmin[cur] > 0 and self.pspend[cur] - c_old < M.pmin[cur] - tol:
            return False
        return True

    def moves(self, idx: np.ndarray) -> np.ndarray:
        """Vectorised :meth:`fits` for customers ``idx`` and every option: bool (k, m + 1)."""
        M = self.M
        tol = M.tol
        cur = self.choice[idx]
        ci = M.c[idx]
        c_old = ci[np.arange(len(idx)), cur]
        dc = ci - c_old[:, None]
        gi = M.g[idx]
        room = np.minimum(M.budget - self.total, M.gcap[gi] - self.gspend[gi])
        ok = M.ok[idx] & ((dc <= 0) | (dc <= room[:, None] + tol))
        ok &= ci <= (M.pmax - self.pspend)[None, :] + tol
        ok &= (M.pcnt - self.pcount >= 1 - 1e-9)[None, :]
        keep_min = self.pspend[cur] - c_old >= M.pmin[cur] - tol
        ok &= ((cur == M.m) | (M.pmin[cur] <= 0) | keep_min)[:, None]
        ok[np.arange(len(idx)), cur] = False
        return ok

    def violation(self) -> tuple[str, int, float] | None:
        """The worst violated row (kind, index, excess), relative to its size, or None."""
        M, m = self.M, self.M.m
        tol = M.tol
        rows = [("budget", 0, self.total - M.budget, max(M.budget, tol))]
        for kind, use, cap in (("segment", self.gspend, M.gcap),
                               ("promo_max_spend", self.pspend[:m], M.pmax[:m]),
                               ("promo_max_count", self.pcount[:m], M.pcnt[:m])):
            for k in np.flatnonzero(use > cap + (1e-9 if kind == "promo_max_count" else tol)):
                rows.append((kind, int(k), float(use[k] - cap[k]), max(float(cap[k]), tol)))
        for k in np.flatnonzero(self.pspend[:m] < M.pmin[:m] - tol):
            rows.append(("promo_min_spend", int(k), float(M.pmin[k] - self.pspend[k]),
                         float(M.pmin[k])))
        rows = [r for r in rows if r[2] > (1e-9 if r[0] == "promo_max_count" else tol)]
        if not rows:
            return None
        kind, k, excess, size = max(rows, key=lambda r: r[2] / r[3])
        return kind, k, excess


def _option_prices(M: _Model, prices: dict[str, Any]) -> np.ndarray:
    """Lagrangian price of every option (value units), none = 0: (n, m + 1)."""
    unit = prices["budget"] + prices["group_max_share"][M.g]
    per_j = np.append(prices["promo_max_spend"] - prices["promo_min_spend"], 0.0)
    kap = np.append(prices["promo_max_count"], 0.0)
    return M.c * (unit[:, None] + per_j[None, :]) + kap[None, :]


def _apply(plan: _Plan, idx: np.ndarray, opt: np.ndarray, order: np.ndarray,
           done: Any = None, relax: bool = False, patience: int = 2000) -> int:
    """Apply moves in ``order`` while they fit (until ``done()``); returns how many applied."""
    applied = misses = 0
    _t = time.perf_counter()
    for t in order:
        i, o = int(idx[t]), int(opt[t])
        if plan.fits(i, o, relax=relax):
            plan.move(i, o)
            applied += 1
            misses = 0
            if done is not None and done():
                break
        else:
            misses += 1
            if misses > patience:
                break
    logger.debug("apply: %d candidates, %d applied, %.3fs", len(order), applied,
                 time.perf_counter() - _t)
    return applied


def _fix_row(plan: _Plan, kind: str, k: int, pool: np.ndarray | None) -> None:
    """Lower a violated ``<=`` row by downgrades or drops of least value lost per unit freed.

    Only customers in ``pool`` (a mask) are moved, if given; else anyone, dropping to none as a
    last resort even where that breaks a minimum spend (repaired next).
    """
    M, m = plan.M, plan.M.m
    ch = plan.choice
    if kind == "budget":
        on = ch < m
    elif kind == "segment":
        on = (ch < m) & (M.g == k)
    else:
        on = ch == k
    idx = np.flatnonzero(on if pool is None else on & pool)
    if not len(idx):
        return
    cur = ch[idx]
    ar = np.arange(len(idx))
    ci = M.c[idx]
    c_old = ci[ar, cur]
    if kind in ("budget", "segment"):
        freed = c_old[:, None] - ci
    elif kind == "promo_max_spend":
        freed = np.repeat(c_old[:, None], m + 1, axis=1)
    else:
        freed = np.ones_like(ci)
    ok = plan.moves(idx) & (freed > 0)
    loss = M.v[idx, cur][:, None] - M.v[idx]
    key = np.full(ok.shape, np.inf)
    np.divide(loss, freed, out=key, where=ok)
    opt = np.argmin(key, axis=1)
    best = key[ar, opt]
    order = np.argsort(best, kind="stable")
    order = order[np.isfinite(best[order])]

    def done() -> bool:
        v = plan.violation()
        return v is None or (v[0], v[1]) != (kind, k)

    _apply(plan, idx, opt, order, done, patience=len(order))
    if pool is None and not done():  # last resort: drop to none even if it breaks a minimum spend
        order = np.argsort(M.v[idx, cur] / np.maximum(freed[:, m], _EPS), kind="stable")
        for t in order:
            if freed[t, m] > 0:
                plan.move(int(idx[t]), m)
                if done():
                    break


def _fix_min(plan: _Plan, j: int, pool: np.ndarray | None) -> None:
    """Raise promotion ``j`` to its minimum spend by moving customers onto it, cheapest first
    (only customers in ``pool`` if given); budget and segment rows may overflow on the second
    pass and are repaired next."""
    M = plan.M
    on = M.ok[:, j] & (plan.choice != j) & (M.c[:, j] > 0)
    idx = np.flatnonzero(on if pool is None else on & pool)
    if not len(idx):
        return
    cur = plan.choice[idx]
    key = (M.v[idx, cur] - M.v[idx, j]) / M.c[idx, j]
    order = np.argsort(key, kind="stable")
    opt = np.full(len(idx), j)

    def done() -> bool:
        return plan.pspend[j] >= M.pmin[j] - M.tol

    for relax in (False, True):
        _apply(plan, idx, opt, order, done, relax=relax)
        if done():
            return


def _near(r: np.ndarray, k: int) -> np.ndarray:
    """Mask of the ``k`` customers whose best two reduced values are closest."""
    if k >= len(r):
        return np.ones(len(r), dtype=bool)
    top = np.partition(r, -2, axis=1)[:, -2:]
    out = np.zeros(len(r), dtype=bool)
    out[np.argpartition(top[:, 1] - top[:, 0], k - 1)[:k]] = True
    return out


def _repair(plan: _Plan, near: np.ndarray | None = None) -> None:
    """Make a plan feasible: fix the worst violated row until none is, moving customers in
    ``near`` (a mask: those closest to a tie) first and anyone if that does not suffice."""
    for _ in range(20 + 4 * (plan.M.m + plan.M.G)):
        v = plan.violation()
        if v is None:
            return
        kind, k, _ = v
        for pool in (near, None) if near is not None else (None,):
            if kind == "promo_min_spend":
                _fix_min(plan, k, pool)
            else:
                _fix_row(plan, kind, k, pool)
            plan.recount()
            v = plan.violation()
            if v is None or (v[0], v[1]) != (kind, k):
                break
    v = plan.violation()
    if v is not None:
        kind, k, excess = v
        raise InfeasibleError(f"no plan found that meets {kind}[{k}] (still off by {excess:,.2f}) "
                              f"together with the other constraints; they may be infeasible "
                              f"together: relax the minimum spends or the caps, or raise the "
                              f"budget.")


def _fill(plan: _Plan, P: np.ndarray, by_value: bool, rounds: int = 8) -> None:
    """Greedily add feasible improvements, by value per Lagrangian price (or by value).

    Later rounds look only at customers that had a feasible improvement in the round before.
    """
    M = plan.M
    idx = np.arange(M.n)
    for r in range(rounds):
        cur = plan.choice[idx]
        vv, cc = (M.v, M.c) if r == 0 else (M.v[idx], M.c[idx])
        a = np.arange(len(idx))
        gain = vv - vv[a, cur][:, None]
        dc = cc - cc[a, cur][:, None]
        ok = (gain > M.vtol) & ((dc <= 0) | (dc <= M.budget - plan.total + M.tol))
        sel = np.flatnonzero(ok.any(axis=1))
        idx, cur, ok, gain = idx[sel], cur[sel], ok[sel], gain[sel]
        ok &= plan.moves(idx)
        sel = np.flatnonzero(ok.any(axis=1))
        if not len(sel):
            return
        idx, cur, ok, gain = idx[sel], cur[sel], ok[sel], gain[sel]
        if by_value:
            key = np.where(ok, gain, -np.inf)
        else:
            dp = P[idx] - P[idx, cur][:, None]
            key = np.full(ok.shape, np.inf)
            np.divide(gain, dp, out=key, where=ok & (dp > _EPS))
            key[~ok] = -np.inf
        opt = np.argmax(key, axis=1)
        a = np.arange(len(idx))
        order = np.lexsort((-gain[a, opt], -key[a, opt]))
        if not _apply(plan, idx, opt, order):
            return


def _improve(plan: _Plan, prices: dict[str, Any]) -> _Plan:
    """Fill by Lagrangian efficiency and by plain value from the same start; keep the better."""
    P = _option_prices(plan.M, prices)
    other = _Plan(plan.M, plan.choice)
    _fill(plan, P, by_value=False)
    _fill(other, P, by_value=True)
    return plan if plan.value() >= other.value() else other


# --------------------------------------------------------------------------- MILP


def _milp(M: _Model, idx: np.ndarray, base: _Plan | None, time_limit: float, rel_gap: float
          ) -> tuple[np.ndarray | None, float, Any]:
    """Exact plan for customers ``idx`` with every other customer fixed as in ``base``.

    Returns (choice for idx or None, HiGHS dual bound on their value, raw result).
    """
    m = M.m
    ok = M.ok[idx, :m]
    ii, jj = np.nonzero(ok)
    nv = len(ii)
    k = len(idx)
    if nv == 0:
        return np.full(k, m), 0.0, None
    cc = M.c[idx[ii], jj]
    spend_j = np.zeros(m + 1)
    count_j = np.zeros(m + 1)
    spend_g = np.zeros(M.G)
    total = 0.0
    if base is not None:  # usage of the customers outside idx
        sub = _Plan(M, base.choice)
        sub.choice[idx] = m
        sub.recount()
        spend_j, count_j, spend_g, total = sub.pspend, sub.pcount, sub.gspend, sub.total
    r_i, r_j, r_x, lb, ub = [ii], [np.arange(nv)], [np.ones(nv)], [np.full(k, -np.inf)], [
        np.ones(k)]
    row = k

    def add(mask: np.ndarray, coef: np.ndarray, lo: float, hi: float) -> None:
        nonlocal row
        sel = np.flatnonzero(mask)
        r_i.append(np.full(len(sel), row))
        r_j.append(sel)
        r_x.append(coef[sel])
        lb.append(np.array([lo]))
        ub.append(np.array([hi]))
        row += 1

    add(np.ones(nv, dtype=bool), cc, -np.inf, M.budget - total)
    gi = M.g[idx[ii]]
    for g in np.flatnonzero(np.isfinite(M.gcap)):
        add(gi == g, cc, -np.inf, M.gcap[g] - spend_g[g])
    for j in range(m):
        if np.isfinite(M.pmax[j]) or M.pmin[j] > 0:
            lo = M.pmin[j] - spend_j[j] if M.pmin[j] > 0 else -np.inf
            add(jj == j, cc, lo, M.pmax[j] - spend_j[j])
        if np.isfinite(M.pcnt[j]):
            add(jj == j, np.ones(nv), -np.inf, M.pcnt[j] - count_j[j])
    A = sparse.csr_array((np.concatenate(r_x), (np.concatenate(r_i), np.concatenate(r_j))),
                         shape=(row, nv))
    res = milp(-M.v[idx[ii], jj], integrality=np.ones(nv), bounds=Bounds(0, 1),
               constraints=LinearConstraint(A, np.concatenate(lb), np.concatenate(ub)),
               options={"time_limit": max(time_limit, 0.01), "mip_rel_gap": rel_gap})
    bound = -res.mip_dual_bound if res.mip_dual_bound is not None else np.inf
    if res.x is None:
        return None, bound, res
    choice = np.full(k, m)
    on = res.x > 0.5
    choice[ii[on]] = jj[on]
    return choice, bound, res


def _polish(plan: _Plan, prices: dict[str, Any], core_size: int, time_limit: float,
            abs_gap: float) -> _Plan:
    """Re-solve exactly the ``core_size`` customers closest to a tie, the rest fixed.

    HiGHS may stop once within ``abs_gap`` (value units) of the core's optimum.
    """
    M = plan.M
    k = min(core_size, M.n)
    if k <= 0 or time_limit <= 0.05:
        return plan
    if k < M.n:
        r = M.v - _option_prices(M, prices)
        top = np.partition(r, -2, axis=1)[:, -2:]
        margin = top[:, 1] - top[:, 0]
        margin[plan.choice != np.argmax(r, axis=1)] = -np.inf
        core = np.sort(np.argpartition(margin, k - 1)[:k])
    else:
        core = np.arange(M.n)
    core_value = float(np.abs(M.v[core, plan.choice[core]]).sum())
    rel_gap = float(np.clip(abs_gap / max(core_value, _EPS), 1e-6, 0.5))
    sub, _, res = _milp(M, core, plan, time_limit, rel_gap)
    if sub is None:
        return plan
    new = _Plan(M, plan.choice)
    new.choice[core] = sub
    new.recount()
    if new.violation() is None and new.value() > plan.value():
        logger.debug("core polish on %d customers: %.9g -> %.9g", k, plan.value(), new.value())
        return new
    return plan


# --------------------------------------------------------------------------- methods


def _zero_prices(M: _Model) -> dict[str, Any]:
    return {"budget": 0.0, "group_max_share": np.zeros(M.G), "promo_max_spend": np.zeros(M.m),
            "promo_min_spend": np.zeros(M.m), "promo_max_count": np.zeros(M.m)}


def _lagrangian(M: _Model, *, deadline: float, core_size: int, tol: float,
                hull: _Hull | None = None, warm: dict[str, Any] | None = None,
                taus: tuple[float, ...] = _TAUS, maxiter: int = 60
                ) -> tuple[_Plan, float, int, dict[str, Any]]:
    """Lagrangian bound, recovered plan, and multipliers (see the module docstring).

    ``hull`` is the budget-only hull of ``M`` if already built; ``warm`` are multipliers to
    start the dual from (e.g. the solution at a nearby budget).
    """
    m = M.m
    if hull is None:
        hull = _Hull(M.c[:, :m], M.v[:, :m], M.ok[:, :m])
    bound = hull.lp_value(M.budget)
    prices = dict(_zero_prices(M), budget=hull.price(M.budget))
    evals = 0
    if not M.side:
        plan = _Plan(M, hull.choice(M.budget))
        slack = tol * max(abs(bound), _EPS)
        if bound - plan.value() > 0.01 * slack:
            plan = _improve(plan, prices)
    else:
        dual = _Dual(M)
        y0 = dual.from_full(warm if warm is not None else prices)
        step = M.n // _COARSE
        if step >= 4:  # multipliers from a systematic 1-in-step sample first
            _t = time.perf_counter()
            coarse = _Dual(M, rows=np.arange(0, M.n, step))
            y0 = coarse.solve(y0, deadline, _CTW if warm is not None else _CT,
                              maxiter=_MCW if warm is not None else 60, ftol=_CFTOL)
            logger.debug("coarse %.3fs", time.perf_counter() - _t)
            taus = _FTW if warm is not None else _FT
            maxiter = _MW if warm is not None else 60
        _t = time.perf_counter()
        bound = min(bound, dual.solve(y0, deadline, taus, maxiter=maxiter))
        logger.debug("full dual: %d evals %.3fs; coarse %d evals", dual.evals,
                     time.perf_counter() - _t, coarse.evals if step >= 4 else 0)
        evals = dual.evals
        if bound < M.lower - 1e-6 * max(abs(M.lower), dual.sv):
            raise InfeasibleError(
                f"the constraints admit no plan, not even a fractional one: the Lagrangian "
                f"bound {bound:,.2f} is below the lowest value any plan can have "
                f"({M.lower:,.2f}); the minimum spends {_listing(M.pmin[:m])} cannot be met "
                f"together with the budget {M.budget:,.2f} and the caps; relax them.")
        prices = dual.to_full(dual.best_y)
        r = M.v - _option_prices(M, prices)
        plan = _Plan(M, np.argmax(r, axis=1))
        _repair(plan, _near(r, max(_NEAR, M.n // 20)))
        plan = _improve(plan, prices)
    slack = tol * max(abs(bound), _EPS)
    if core_size > 0 and bound - plan.value() > 0.1 * slack:
        plan = _polish(plan, prices, core_size, deadline - time.perf_counter(), 0.25 * slack)
    return plan, bound, evals, prices


def _listing(a: np.ndarray) -> str:
    on = np.flatnonzero(a > 0)
    return "(" + ", ".join(f"{j}: {a[j]:,.2f}" for j in on) + ")" if len(on) else "(none)"


def _greedy(M: _Model) -> _Plan:
    """Naive baseline: best value/cost first, minimum spends served first from the same list."""
    m = M.m
    plan = _Plan(M, np.full(M.n, m))
    ii, jj = np.nonzero(M.ok[:, :m] & (M.v[:, :m] > 0))
    ratio = np.full(len(ii), np.inf)
    cc = M.c[ii, jj]
    np.divide(M.v[ii, jj], cc, out=ratio, where=cc > 0)
    order = np.argsort(-ratio, kind="stable")
    ii, jj = ii[order], jj[order]
    for j in np.flatnonzero(M.pmin[:m] > 0):
        ij = np.flatnonzero(M.ok[:, j])
        key = np.where(M.c[ij, j] > 0, M.v[ij, j] / np.maximum(M.c[ij, j], _EPS), -np.inf)
        sel = ij[np.argsort(-key, kind="stable")]
        _apply(plan, sel, np.full(len(sel), j), np.arange(len(sel)),
               lambda j=j: plan.pspend[j] >= M.pmin[j] - M.tol, patience=len(sel))
    while len(ii):
        free = plan.choice[ii] == m
        ok = free & plan.moves(ii)[np.arange(len(ii)), jj]
        ii, jj = ii[ok], jj[ok]
        if not len(ii):
            break
        first = np.zeros(len(ii), dtype=bool)
        first[np.unique(ii, return_index=True)[1]] = True
        cc = np.where(first, M.c[ii, jj], 0.0)
        fits = np.cumsum(cc) <= M.budget - plan.total + M.tol
        for g in np.flatnonzero(np.isfinite(M.gcap)):
            fits &= np.cumsum(cc * (M.g[ii] == g)) <= M.gcap[g] - plan.gspend[g] + M.tol
        for j in range(m):
            on = jj == j
            if np.isfinite(M.pmax[j]):
                fits &= np.cumsum(cc * on) <= M.pmax[j] - plan.pspend[j] + M.tol
            if np.isfinite(M.pcnt[j]):
                fits &= np.cumsum(first & on) <= M.pcnt[j] - plan.pcount[j] + 1e-9
        stop = int(np.argmin(fits)) if not fits.all() else len(ii)
        take = np.flatnonzero(first[:stop])
        plan.choice[ii[take]] = jj[take]
        plan.recount()
        ii, jj = ii[stop + 1:], jj[stop + 1:]  # the entry at `stop` no longer fits: skipped
    return plan


def _report(M: _Model, plan: _Plan, bound: float, method: str, iterations: int, t0: float,
            prices: dict[str, Any], status: str) -> Solution:
    m = M.m
    plan.recount()
    choice = np.full(M.n_all, -1, dtype=np.intp)
    choice[M.rows] = np.where(plan.choice < m, plan.choice, -1)
    value = plan.value()
    bound = max(bound, value)
    return Solution(
        choice=choice, value=value, spend=plan.total, bound=bound,
        gap=(bound - value) / max(abs(bound), _EPS), method=method, iterations=iterations,
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
        Relative gap at which HiGHS may stop (the MILP and the core polish).
    time_limit : float
        Seconds for the whole solve (HiGHS stops at its limit with the best plan found).
    core_size : int
        Customers re-solved exactly by the Lagrangian method's polish (0 = none).

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
    M = _prepare(problem)
    if method == "auto":
        method = "milp" if M.n_all * M.m <= AUTO_MILP_MAX_CELLS else "lagrangian"
    deadline = t0 + time_limit
    if M.n == 0:
        return _report(M, _Plan(M, np.full(M.n, M.m)), 0.0, method, 0, t0, _zero_prices(M),
                       "optimal")
    if method == "milp":
        choice, bound, res = _milp(M, np.arange(M.n), None, time_limit, tol)
        if res is not None and res.status == 2:
            raise InfeasibleError(
                f"HiGHS proved the constraints infeasible: the minimum spends "
                f"{_listing(M.pmin[:M.m])} cannot be met within the budget {M.budget:,.2f}, "
                f"the promotion caps and the segment caps; relax them.")
        if choice is None:
            raise ConvergenceError(f"HiGHS found no feasible plan within {time_limit:g} s "
                                   f"(status: {res.message}); raise time_limit or use "
                                   f"method='lagrangian'.")
        plan = _Plan(M, choice)
        status = "optimal" if res is not None and res.status == 0 else "time_limit"
        nodes = int(res.mip_node_count or 0) if res is not None else 0
        return _report(M, plan, bound, "milp", nodes, t0, _zero_prices(M), status)
    if method == "greedy":
        plan = _greedy(M)
        if plan.violation() is not None:
            kind, k, excess = plan.violation()
            raise InfeasibleError(f"the greedy baseline could not meet {kind}[{k}] (off by "
                                  f"{excess:,.2f}); use method='lagrangian' or 'milp'.")
        hull = _Hull(M.c[:, :M.m], M.v[:, :M.m], M.ok[:, :M.m])
        return _report(M, plan, hull.lp_value(M.budget), "greedy", 0, t0, _zero_prices(M),
                       "feasible")
    plan, bound, evals, prices = _lagrangian(M, deadline=deadline, core_size=core_size,
                                             tol=tol)
    return _report(M, plan, bound, "lagrangian", evals, t0, prices, "feasible")


def greedy_baseline(problem: Problem) -> Solution:
    """The naive "best value/cost ratio first" plan, for comparison (see :func:`solve`)."""
    return solve(problem, method="greedy")


def sensitivity(problem: Problem, budgets: ArrayLike, *, tol: float = 1e-3,
                time_limit: float = 60.0) -> pd.DataFrame:
    """Plan value, spend and ROI at each budget, from one hull (warm-started multipliers).

    Without side constraints every budget is a prefix of the same sorted hull segments; with
    them the Lagrangian dual at each budget starts from the previous budget's multipliers (and
    skips the core polish). Segment caps scale with the budget; promotion limits do not.

    Returns
    -------
    DataFrame
        Columns ``budget, value, spend, roi, bound, gap, feasible``; a budget at which the
        constraints are infeasible gets NaN and ``feasible=False``.
    """
    t0 = time.perf_counter()
    b = np.asarray(budgets, dtype=float)
    if b.ndim != 1 or not len(b) or not np.isfinite(b).all():
        raise ParameterError("budgets must be a non-empty 1-D array of finite numbers.")
    M0 = _base(problem)
    m = M0.m
    hull = _Hull(M0.c[:, :m], M0.v[:, :m], M0.ok[:, :m])
    rows: dict[float, tuple[float, float, float, bool]] = {}
    warm = None
    for B in np.unique(b):
        try:
            M = _at_budget(M0, B)
            plan, bound, _, prices = _lagrangian(
                M, deadline=t0 + time_limit, core_size=0, tol=tol, hull=hull, warm=warm,
                )
        except InfeasibleError:
            rows[B] = (np.nan, np.nan, np.nan, False)
            continue
        if M.side:
            warm = prices
        rows[B] = (plan.value(), plan.total, max(bound, plan.value()), True)
    out = pd.DataFrame([(B, *rows[B]) for B in b],
                       columns=["budget", "value", "spend", "bound", "feasible"])
    out["roi"] = out["value"] / out["spend"].where(out["spend"] > 0)
    out["gap"] = (out["bound"] - out["value"]) / out["bound"].abs().clip(lower=_EPS)
    return out[["budget", "value", "spend", "roi", "bound", "gap", "feasible"]]


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
