"""Multiple-choice knapsack machinery behind :mod:`loyalist.promote.optimize`.

The internal model (:class:`Model`), the budget-only convex hull (:class:`Hull`), the
Lagrangian dual's value at given prices (:func:`_scan`), plans with their resource usage and
the repair / fill moves (:class:`Plan`), HiGHS on all or part of the problem (:func:`exact`)
and the greedy baseline (:func:`greedy`). The search for the multipliers, :func:`lagrangian`,
is in :mod:`loyalist.promote._lagrange`. See the optimize module for the problem, the
algorithm and the references.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

from loyalist.errors import ConvergenceError, InfeasibleError

logger = logging.getLogger(__name__)

EPS = 1e-12
_BLOCK = 16_384  # customers per block of a scan: its working arrays stay in the L2 cache


@dataclass
class Model:
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
    col_top: np.ndarray  # (m,) spend of the promo_max_count costliest cells (min-spend columns)
    col_group: np.ndarray  # (m, G) column spend per segment
    group_reach: np.ndarray  # (G,) most spend a segment can take
    tol: float  # feasibility tolerance on spend
    vtol: float  # smallest value gain worth a move
    sv: float  # mean |value| of usable options
    sc: float  # mean positive cost of usable options
    lower: float  # smallest value any plan can have
    vT: np.ndarray  # (m+1, n) contiguous copies of v and c: the scans and the dual's working
    cT: np.ndarray  # sets read promotion rows (budget-free, shared by every budget's model)

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


# --------------------------------------------------------------------------- hull greedy


class Hull:
    """Upper concave hull of each customer's (cost, value) options including none at (0, 0).

    Built by vectorised gift wrapping; the hull segments sorted by incremental efficiency once
    give the budget-only LP optimum at every budget as a prefix (Sinha & Zoltners 1979).
    """

    def __init__(self, c: np.ndarray, r: np.ndarray, ok: np.ndarray):
        n, m = c.shape
        cT = np.ascontiguousarray(c.T)  # column loops over (m, n) copies: no (n, m) temporaries
        rT = np.where(ok, r, -np.inf).T.copy()
        verts = np.full((n, m + 1), m, dtype=np.intp)
        cust, dcs, drs = [], [], []
        cur_c = np.zeros(n)
        cur_r = np.zeros(n)
        nv = np.zeros(n, dtype=np.intp)
        bz = np.zeros(n)  # free options first: infinite efficiency
        jz = np.full(n, -1)
        for j in range(m):
            better = (cT[j] <= 0) & (rT[j] > bz)
            bz[better], jz[better] = rT[j][better], j
        hit = np.flatnonzero(jz >= 0)
        if len(hit):
            verts[hit, 1] = jz[hit]
            nv[hit] = 1
            cur_r[hit] = bz[hit]
            cust.append(hit)
            dcs.append(np.zeros(len(hit)))
            drs.append(bz[hit])
        active = np.arange(n)
        for _ in range(m):
            full = len(active) == n
            ac, ar = cur_c[active], cur_r[active]
            best = np.full(len(active), -np.inf)
            arg = np.zeros(len(active), dtype=np.intp)
            slope = np.empty(len(active))
            for j in range(m):
                dc = (cT[j] if full else cT[j, active]) - ac
                dr = (rT[j] if full else rT[j, active]) - ar
                slope.fill(-np.inf)
                np.divide(dr, dc, out=slope, where=(dc > 0) & (dr > 0))
                better = slope > best
                best[better], arg[better] = slope[better], j
            keep = best > -np.inf
            active, j = active[keep], arg[keep]
            if not len(active):
                break
            nv[active] += 1
            verts[active, nv[active]] = j
            cust.append(active)
            dcs.append(cT[j, active] - cur_c[active])
            drs.append(rT[j, active] - cur_r[active])
            cur_c[active] = cT[j, active]
            cur_r[active] = rT[j, active]
        self.verts = verts
        self.n = n
        if cust:
            cu, dc_all, dr_all = np.concatenate(cust), np.concatenate(dcs), np.concatenate(drs)
        else:
            cu, dc_all, dr_all = np.zeros(0, dtype=np.intp), np.zeros(0), np.zeros(0)
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


def _scan(M: Model, prices: dict[str, Any]) -> tuple[float, np.ndarray, np.ndarray]:
    """The Lagrangian dual at ``prices`` (original units): a proven upper bound on the optimum.

    Also returns each customer's best option under the prices (the first of equals, "none"
    last, as ``argmax``) and the margin to their second best. One pass over the promotion
    rows of ``M.vT`` / ``M.cT`` keeping the top two, instead of an (n, m + 1) matrix, in
    blocks of ``_BLOCK`` customers (twice as fast as whole rows, measured at 200,000).
    """
    m, n = M.m, M.n
    unit = prices["budget"] + prices["group_max_share"][M.g]
    per_j = prices["promo_max_spend"] - prices["promo_min_spend"]
    kap = prices["promo_max_count"]
    arg, margin = np.empty(n, dtype=np.intp), np.empty(n)
    size = min(n, _BLOCK)
    bufs = [np.empty(size) for _ in range(4)] + [np.empty(size, dtype=bool),
                                                 np.empty(size, dtype=np.intp)]
    total = 0.0
    for a in range(0, n, _BLOCK):
        b = min(a + _BLOCK, n)
        best, second, r, low, ge, step = (x[:b - a] for x in bufs)
        ab = arg[a:b]
        best.fill(0.0)
        second.fill(-np.inf)
        ab.fill(m)
        for j in range(m - 1, -1, -1):  # none first, then backwards: ties go to the lower index
            np.add(unit[a:b], per_j[j], out=r)
            r *= M.cT[j, a:b]
            np.subtract(M.vT[j, a:b], r, out=r)
            if kap[j]:
                r -= kap[j]
            np.greater_equal(r, best, out=ge)
            np.minimum(r, best, out=low)  # the new second best is max(second, min(r, best))
            np.maximum(second, low, out=second)
            np.maximum(best, r, out=best)
            np.subtract(ab, j, out=step)  # arg = j where ge (arithmetic: faster than a mask)
            step *= ge
            ab -= step
        total += float(best.sum())
        np.subtract(best, second, out=margin[a:b])
    iS = np.isfinite(M.gcap)
    iU = np.isfinite(M.pmax[:m])
    iK = np.isfinite(M.pcnt[:m])
    lin = (prices["budget"] * M.budget + prices["group_max_share"][iS] @ M.gcap[iS]
           + prices["promo_max_spend"][iU] @ M.pmax[:m][iU]
           + prices["promo_max_count"][iK] @ M.pcnt[:m][iK]
           - prices["promo_min_spend"] @ M.pmin[:m])
    return total + float(lin), arg, margin


# --------------------------------------------------------------------------- plan, repair, fill


class Plan:
    """A plan (column ``m`` = none) with its value and resource usage, and feasible moves.

    :meth:`move` updates the sums; :meth:`recount` recomputes them (after editing ``choice``).
    """

    def __init__(self, M: Model, choice: np.ndarray):
        self.M = M
        self.choice = np.asarray(choice, dtype=np.intp).copy()
        self.recount()

    def recount(self) -> None:
        M, m = self.M, self.M.m
        at = self.choice * M.n  # flat positions of the chosen cells in the (m + 1, n) copies
        at += np.arange(M.n)
        cc = M.cT.ravel().take(at)
        self.pspend = np.bincount(self.choice, weights=cc, minlength=m + 1)
        self.pcount = np.bincount(self.choice, minlength=m + 1).astype(float)
        self.gspend = np.bincount(M.g, weights=cc, minlength=M.G)
        self.total = float(cc.sum())
        self.val = float(M.vT.ravel().take(at).sum())

    def value(self) -> float:
        return self.val

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
        self.val += M.v[i, o] - M.v[i, cur]
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

    def excess(self, kind: str, k: int) -> float:
        """How far row ``(kind, k)`` is violated (<= 0: satisfied within tolerance)."""
        M = self.M
        if kind == "budget":
            return self.total - M.budget - M.tol
        if kind == "segment":
            return self.gspend[k] - M.gcap[k] - M.tol
        if kind == "promo_max_spend":
            return self.pspend[k] - M.pmax[k] - M.tol
        if kind == "promo_max_count":
            return self.pcount[k] - M.pcnt[k] - 1e-9
        return M.pmin[k] - M.tol - self.pspend[k]

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


def _option_prices(M: Model, prices: dict[str, Any], idx: np.ndarray) -> np.ndarray:
    """Lagrangian price of every option of customers ``idx`` (value units), none = 0:
    (len(idx), m + 1)."""
    unit = prices["budget"] + prices["group_max_share"][M.g[idx]]
    per_j = np.append(prices["promo_max_spend"] - prices["promo_min_spend"], 0.0)
    kap = np.append(prices["promo_max_count"], 0.0)
    return M.c[idx] * (unit[:, None] + per_j[None, :]) + kap[None, :]


def _apply(plan: Plan, idx: np.ndarray, opt: np.ndarray, order: np.ndarray,
           done: Any = None, relax: bool = False, patience: int = 2000) -> int:
    """Apply moves in ``order`` while they fit (until ``done()``); returns how many applied."""
    applied = misses = 0
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
    return applied


def _fix_row(plan: Plan, kind: str, k: int, pool: np.ndarray | None) -> None:
    """Lower a violated ``<=`` row by downgrades or drops of least value lost per unit freed.

    Only customers in ``pool`` (a mask) are moved, if given; else anyone, dropping to none as a
    last resort even where that breaks a minimum spend (repaired next).
    """
    M, m = plan.M, plan.M.m
    idx = np.arange(M.n) if pool is None else np.flatnonzero(pool)
    ch = plan.choice[idx]
    if kind == "budget":
        on = ch < m
    elif kind == "segment":
        on = (ch < m) & (M.g[idx] == k)
    else:
        on = ch == k
    idx = idx[on]
    if not len(idx):
        return
    cur = plan.choice[idx]
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
        return plan.excess(kind, k) <= 0

    _apply(plan, idx, opt, order, done, patience=len(order))
    if pool is None and not done():  # last resort: drop to none even if it breaks a minimum spend
        order = np.argsort(M.v[idx, cur] / np.maximum(freed[:, m], EPS), kind="stable")
        for t in order:
            if freed[t, m] > 0:
                plan.move(int(idx[t]), m)
                if done():
                    break


def _fix_min(plan: Plan, j: int, pool: np.ndarray | None) -> None:
    """Raise promotion ``j`` to its minimum spend by moving customers onto it, cheapest first
    (only customers in ``pool`` if given); budget and segment rows may overflow on the second
    pass and are repaired next."""
    M = plan.M
    idx = np.arange(M.n) if pool is None else np.flatnonzero(pool)
    idx = idx[M.ok[idx, j] & (plan.choice[idx] != j) & (M.cT[j, idx] > 0)]
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
    # count cap reached: swap the cheapest customers on j for the costliest candidates
    out = np.flatnonzero(plan.choice == j)
    out = out[np.argsort(M.c[out, j], kind="stable")]
    cand = idx[np.argsort(-M.c[idx, j], kind="stable")]
    cand = cand[plan.choice[cand] != j]
    for i_out, i_in in zip(out, cand, strict=False):
        if M.c[i_in, j] <= M.c[i_out, j]:
            break
        plan.move(int(i_out), M.m)
        if plan.fits(int(i_in), j, relax=True):
            plan.move(int(i_in), j)
        else:
            plan.move(int(i_out), j)
        if done():
            return


def repair(plan: Plan, near: np.ndarray | None = None) -> None:
    """Make a plan feasible: fix the worst violated row until none is, moving customers in
    ``near`` (a mask: those closest to a tie) first and anyone if that does not suffice."""
    moved = False  # the moves keep the sums; recount once before declaring the plan feasible
    for _ in range(20 + 4 * (plan.M.m + plan.M.G)):
        v = plan.violation()
        if v is None and moved:
            plan.recount()
            moved, v = False, plan.violation()
        if v is None:
            return
        kind, k, _ = v
        for pool in (near, None) if near is not None else (None,):
            if kind == "promo_min_spend":
                _fix_min(plan, k, pool)
            else:
                _fix_row(plan, kind, k, pool)
            moved = True
            if plan.excess(kind, k) <= 0:
                break
    plan.recount()
    v = plan.violation()
    if v is not None:
        kind, k, excess = v
        raise InfeasibleError(f"no plan found that meets {kind}[{k}] (still off by {excess:,.2f}) "
                              f"together with the other constraints; they may be infeasible "
                              f"together: relax the minimum spends or the caps, or raise the "
                              f"budget.")


def _fill(plan: Plan, prices: dict[str, Any], by_value: bool, pool: np.ndarray | None,
          rounds: int = 8) -> None:
    """Greedily add feasible improvements, by value per Lagrangian price (or by value), moving
    customers in ``pool`` (indices; None: everyone).

    Later rounds look only at customers that had a feasible improvement in the round before.
    """
    M = plan.M
    idx = np.arange(M.n) if pool is None else pool
    for r in range(rounds):
        cur = plan.choice[idx]
        vv, cc = (M.v, M.c) if r == 0 and pool is None else (M.v[idx], M.c[idx])
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
            P = _option_prices(M, prices, idx)
            dp = P - P[np.arange(len(idx)), cur][:, None]
            key = np.full(ok.shape, np.inf)
            np.divide(gain, dp, out=key, where=ok & (dp > EPS))
            key[~ok] = -np.inf
        opt = np.argmax(key, axis=1)
        a = np.arange(len(idx))
        order = np.lexsort((-gain[a, opt], -key[a, opt]))
        if not _apply(plan, idx, opt, order):
            return


def _improve(plan: Plan, prices: dict[str, Any], pool: np.ndarray | None = None) -> Plan:
    """Fill by Lagrangian efficiency and by plain value from the same start, moving customers
    in ``pool`` (see :func:`_fill`); keep the better (its sums recomputed)."""
    other = Plan(plan.M, plan.choice)
    _fill(plan, prices, False, pool)
    _fill(other, prices, True, pool)
    better = plan if plan.value() >= other.value() else other
    better.recount()
    return better


# --------------------------------------------------------------------------- MILP

_FD_LOCK = threading.Lock()


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Hold what native code writes to file descriptor 1 meanwhile, and pass it on to
    stderr without HiGHS's stray debug line.

    HiGHS prints ``HighsMipSolverData::transformNewIntegerFeasibleSolution tmpSolver.run();``
    to stdout even when silenced (ERGO-Code/HiGHS#2783; seen here on a 3,000-customer
    instance), which would corrupt ``loyalist plan --json`` and means nothing to a merchant.
    Calls are serialised, so threads (the API's) never interleave their swaps."""
    with _FD_LOCK:
        try:
            sys.stdout.flush()
            saved = os.dup(1)
        except (OSError, ValueError, AttributeError):  # no usable fd 1: nothing to protect
            yield
            return
        with tempfile.TemporaryFile() as held:
            try:
                os.dup2(held.fileno(), 1)
                yield
            finally:
                os.dup2(saved, 1)
                os.close(saved)
                held.seek(0)
                rest = [line for line in held.read().decode(errors="replace").splitlines()
                        if line.strip() and _HIGHS_NOISE not in line]
                if rest:
                    print("\n".join(rest), file=sys.stderr)


#: the debug line HiGHS writes to stdout regardless of its output settings
_HIGHS_NOISE = "transformNewIntegerFeasibleSolution"


def _milp(M: Model, idx: np.ndarray, base: Plan | None, time_limit: float, rel_gap: float,
          presolve: bool = True) -> tuple[np.ndarray | None, float, Any]:
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
        sub = Plan(M, base.choice)
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
    with stdout_to_stderr():
        res = milp(-M.v[idx[ii], jj], integrality=np.ones(nv), bounds=Bounds(0, 1),
                   constraints=LinearConstraint(A, np.concatenate(lb), np.concatenate(ub)),
                   options={"time_limit": max(time_limit, 0.01), "mip_rel_gap": rel_gap,
                            "presolve": presolve})
    bound = -res.mip_dual_bound if res.mip_dual_bound is not None else np.inf
    if res.x is None:
        return None, bound, res
    choice = np.full(k, m)
    on = res.x > 0.5
    choice[ii[on]] = jj[on]
    return choice, bound, res


#: a budget that buys fewer sends than this (at the median cost of a send worth something)
#: is solved without HiGHS's presolve: on a fashion store's 2,000 x 6 plan with a budget of
#: 12 (7 sends) the presolve ran 16 s past a 5 s time limit, where the solve without it took
#: 0.28 s; budgets of 30-250 took 0.1-0.7 s either way (BENCHMARKS.md)
FEW_SENDS = 50


def exact(M: Model, time_limit: float, rel_gap: float, out: list[Any] | None = None
          ) -> np.ndarray:
    """The whole problem by HiGHS: the plan (``out`` receives bound and raw result)."""
    worth = M.ok[:, :M.m] & (M.v[:, :M.m] > 0)
    few = bool(worth.any()) and M.budget < FEW_SENDS * float(np.median(M.c[:, :M.m][worth]))
    choice, bound, res = _milp(M, np.arange(M.n), None, time_limit, rel_gap, presolve=not few)
    if out is not None:
        out.extend([bound, res])
    if res is not None and res.status == 2:
        raise InfeasibleError(
            f"HiGHS proved the constraints infeasible: the minimum spends "
            f"{_listing(M.pmin[:M.m])} cannot be met within the budget {M.budget:,.2f}, the "
            f"promotion caps and the segment caps; relax them.")
    if choice is None:
        raise ConvergenceError(f"HiGHS found no feasible plan within {time_limit:g} s (status: "
                               f"{res.message}); raise time_limit or use method='lagrangian'.")
    return choice


def _polish(plan: Plan, prices: dict[str, Any], core_size: int, time_limit: float,
            abs_gap: float) -> Plan:
    """Re-solve exactly the ``core_size`` customers closest to a tie, the rest fixed.

    HiGHS may stop once within ``abs_gap`` (value units) of the core's optimum.
    """
    M = plan.M
    k = min(core_size, M.n)
    if k <= 0 or time_limit <= 0.05:
        return plan
    if k < M.n:
        _, best, margin = _scan(M, prices)
        margin[plan.choice != best] = -np.inf
        core = np.sort(np.argpartition(margin, k - 1)[:k])
    else:
        core = np.arange(M.n)
    core_value = float(np.abs(M.v[core, plan.choice[core]]).sum())
    rel_gap = float(np.clip(abs_gap / max(core_value, EPS), 1e-6, 0.5))
    sub, _, res = _milp(M, core, plan, time_limit, rel_gap)
    if sub is None:
        return plan
    new = Plan(M, plan.choice)
    new.choice[core] = sub
    new.recount()
    if new.violation() is None and new.value() > plan.value():
        logger.debug("core polish on %d customers: %.9g -> %.9g", k, plan.value(), new.value())
        return new
    return plan


# --------------------------------------------------------------------------- methods


def _listing(a: np.ndarray) -> str:
    on = np.flatnonzero(a > 0)
    return "(" + ", ".join(f"{j}: {a[j]:,.2f}" for j in on) + ")" if len(on) else "(none)"


def greedy(M: Model) -> Plan:
    """Naive baseline: best value/cost first, minimum spends served first from the same list."""
    m = M.m
    plan = Plan(M, np.full(M.n, m))
    ii, jj = np.nonzero(M.ok[:, :m] & (M.v[:, :m] > 0))
    ratio = np.full(len(ii), np.inf)
    cc = M.c[ii, jj]
    np.divide(M.v[ii, jj], cc, out=ratio, where=cc > 0)
    order = np.argsort(-ratio, kind="stable")
    ii, jj = ii[order], jj[order]
    for j in np.flatnonzero(M.pmin[:m] > 0):
        ij = np.flatnonzero(M.ok[:, j])
        key = np.where(M.c[ij, j] > 0, M.v[ij, j] / np.maximum(M.c[ij, j], EPS), -np.inf)
        sel = ij[np.argsort(-key, kind="stable")]
        _apply(plan, sel, np.full(len(sel), j), np.arange(len(sel)),
               lambda j=j: plan.pspend[j] >= M.pmin[j] - M.tol, patience=len(sel))
    rounds = 0
    while len(ii):
        rounds += 1
        cc = M.c[ii, jj]
        gi = M.g[ii]
        ok = ((plan.choice[ii] == m) & (cc <= M.budget - plan.total + M.tol)
              & (cc <= M.gcap[gi] - plan.gspend[gi] + M.tol)
              & (cc <= M.pmax[jj] - plan.pspend[jj] + M.tol)
              & (plan.pcount[jj] + 1 <= M.pcnt[jj] + 1e-9))
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
    logger.debug("greedy: %d rounds", rounds)
    return plan
