"""The Lagrangian method of :mod:`loyalist.promote.optimize`: the smoothed dual search for the
multipliers of the budget and side rows (:class:`_Dual`), working-set rounds, warm starts along
a budget sweep (:class:`Warm`), and the recovery of a feasible plan with its proven bound
(:func:`lagrangian`). The model, plans and moves it works on are in
:mod:`loyalist.promote._mckp`.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import minimize
from threadpoolctl import ThreadpoolController

from loyalist.errors import InfeasibleError
from loyalist.promote._mckp import (
    EPS,
    Hull,
    Model,
    Plan,
    _improve,
    _listing,
    _polish,
    _scan,
    exact,
    repair,
)

logger = logging.getLogger(__name__)

_NEAR = 2000  # customers first considered by the repair (at least)
_SAMPLE = 20_000  # customers in the systematic sample that prices the dual first
_COARSE_TAUS = (0.1, 0.03, 0.01, 0.003, 0.001)  # smoothing temperatures (mean |value| = 1)
_FINE_TAUS = (0.001, 0.0003)
_WARM_TAUS = (0.003,)  # from the multipliers at a nearby budget (sensitivity sweeps)
_WARM_FINE = (0.0003,)
_WARM_GTOL = 1e-4  # warm sample search: stop at this row residual per customer (x mean cost)
_WARM_ITER = 6  # warm working-set rounds: L-BFGS-B iterations each
_SCREEN = 0.05  # customers whose best two reduced values differ by more are held fixed
_FALLBACK_MILP_CELLS = 100_000  # a failed repair falls back to the exact MILP up to this size


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
    search runs on (m, k) copies of ``rows`` with values and costs rescaled to mean 1 (so
    smoothing temperatures are unit-free): either a systematic sample (the right-hand sides
    scaled by ``k / n``), or the customers near a tie with everyone else held at ``fixed``
    (their usage moved to the right-hand sides). Proven bounds come from :func:`_scan`.
    """

    def __init__(self, M: Model, rows: np.ndarray | None = None,
                 fixed: np.ndarray | None = None):
        m = M.m
        self.M = M
        self.sv, self.sc = M.sv, M.sc
        sub = slice(None) if rows is None else rows
        take = (lambda a: a[:m]) if rows is None else (lambda a: np.take(a[:m], rows, axis=1))
        self.v = take(M.vT) * (1.0 / self.sv)  # (m, k) C-ordered: reductions over promotions
        self.c = take(M.cT) * (1.0 / self.sc)  # are elementwise over rows, fast
        self.g = M.g[sub]
        self.iS = np.flatnonzero(np.isfinite(M.gcap))
        self.iU = np.flatnonzero(np.isfinite(M.pmax[:m]))
        self.iL = np.flatnonzero(M.pmin[:m] > 0)
        self.iK = np.flatnonzero(np.isfinite(M.pcnt[:m]))
        self.sizes = [1, len(self.iS), len(self.iU), len(self.iL), len(self.iK)]
        self.dim = sum(self.sizes)
        self.const = 0.0
        B, S = M.budget, M.gcap[self.iS]
        U, Lm, K = M.pmax[self.iU], M.pmin[self.iL], M.pcnt[self.iK]
        if fixed is not None:  # usage and value of everyone outside rows, at their choice
            at = fixed * M.n + np.arange(M.n)  # flat positions in the (m + 1, n) copies
            cc, vv = M.cT.ravel().take(at), M.vT.ravel().take(at)
            cc[rows] = vv[rows] = 0.0
            self.const = float(vv.sum()) / self.sv
            pspend = np.bincount(fixed, weights=cc, minlength=m + 1)
            pcount = np.bincount(fixed, minlength=m + 1) - np.bincount(fixed[rows],
                                                                       minlength=m + 1)
            B, S = B - float(cc.sum()), S - np.bincount(M.g, weights=cc, minlength=M.G)[self.iS]
            U, Lm = U - pspend[self.iU], Lm - pspend[self.iL]
            K = K - pcount[self.iK]
        frac = 1.0 if rows is None or fixed is not None else len(rows) / max(M.n, 1)
        self.rhs = frac * np.concatenate([[B], S, U, -Lm, K]) / np.concatenate(
            [np.full(sum(self.sizes[:4]), self.sc), np.ones(self.sizes[4])])
        self.buf = np.empty_like(self.v)
        self.evals = 0

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

    def smoothed(self, y: np.ndarray, tau: float) -> tuple[float, np.ndarray]:
        """Entropy-smoothed dual ``sum_i tau log(1 + sum_j exp(r_ij / tau)) + y . rhs`` and its
        gradient (Nesterov 2005), normalised units."""
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
        np.maximum(r, -700.0, out=r)  # exp(-700) is already 0 next to 1; below -708 it is slow
        np.exp(r, out=r)
        z = r.sum(axis=0) + np.exp(np.maximum(-mx / tau, -700.0))
        val = float(mx.sum() + tau * np.log(z).sum() + y @ self.rhs) + self.const
        w = 1.0 / z  # option weights are r / z: fold the division into the reductions
        count_j = r[self.iK] @ w
        r *= self.c
        spend_j = r @ w
        spend_g = (np.bincount(self.g, weights=w * r.sum(axis=0), minlength=self.M.G)
                   if len(self.iS) else np.zeros(self.M.G))
        use = np.concatenate([[spend_j.sum()], spend_g[self.iS], spend_j[self.iU],
                              -spend_j[self.iL], count_j])
        return val, self.rhs - use

    def solve(self, y: np.ndarray, taus: tuple[float, ...], deadline: float, maxiter: int = 60,
              gtol: float = 1e-12) -> np.ndarray:
        """Minimise the smoothed dual at each temperature in turn (L-BFGS-B, ``y >= 0``, at
        most ``maxiter`` iterations each).

        The smoothed dual is above the dual, so once it falls below the value of the worst
        plan, :attr:`Model.lower`, these customers cannot meet the rows (weak duality; held
        ones can leave a working set short of a minimum spend): the search stops there.
        """
        k = max(self.v.shape[1], 1)
        M = self.M
        floor = (M.lower - 1e-6 * max(abs(M.lower), M.sv)) / self.sv
        y = np.maximum(y, 0.0)
        for tau in taus:
            def fun(x: np.ndarray, tau: float = tau) -> tuple[float, np.ndarray]:
                val, grad = self.smoothed(x, tau)
                if val < floor:
                    raise _Unbounded(x.copy())
                return val / k, grad / k

            try:
                with _blas().limit(limits=1, user_api="blas"):
                    y = minimize(fun, y, jac=True, method="L-BFGS-B",
                                 bounds=[(0.0, None)] * self.dim,
                                 options={"maxiter": maxiter, "ftol": 1e-13, "gtol": gtol}).x
            except _Unbounded as stop:
                logger.debug("%d customers cannot meet the rows: dual search stopped", k)
                return stop.y
            if time.perf_counter() > deadline:
                break
        return y


class _Unbounded(Exception):
    """Raised inside :meth:`_Dual.solve` where the smoothed dual proves the rows infeasible."""

    def __init__(self, y: np.ndarray):
        super().__init__()
        self.y = y


def zero_prices(M: Model) -> dict[str, Any]:
    return {"budget": 0.0, "group_max_share": np.zeros(M.G), "promo_max_spend": np.zeros(M.m),
            "promo_min_spend": np.zeros(M.m), "promo_max_count": np.zeros(M.m)}


@dataclass
class Warm:
    """What a budget sweep carries to the next budget (multipliers in original units).

    ``sample``: the optimum of the sample's smoothed dual at this budget; ``prices``: where
    the whole dual ended. The systematic sample is the same at every budget, so its error
    ``prices - sample`` moves little from one budget to the next: the next budget's sample
    search starts at ``sample`` and its working set at the new sample optimum plus that error.
    """

    sample: dict[str, Any]
    prices: dict[str, Any]


@dataclass
class _Priced:
    """The best multipliers found so far, with what :func:`_scan` says there."""

    prices: dict[str, Any]
    bound: float
    choice: np.ndarray
    margin: np.ndarray
    evals: int
    warm: Warm


def _sample(M: Model) -> np.ndarray | None:
    """The systematic 1-in-k sample that prices the dual first (None: everyone)."""
    step = M.n // _SAMPLE
    return np.arange(0, M.n, step) if step >= 4 else None


def sample_start(M: Model) -> dict[str, Any]:
    """Cold-start multipliers without the full hull: the budget price of the sample's hull."""
    rows = _sample(M)
    if rows is None:
        rows = np.arange(M.n)
    m = M.m
    hull = Hull(M.c[rows, :m], M.v[rows, :m], M.ok[rows, :m])
    return dict(zero_prices(M), budget=hull.price(M.budget * len(rows) / max(M.n, 1)))


def _dual_rounds(M: Model, start: dict[str, Any], warm: Warm | None, deadline: float
                 ) -> Iterator[_Priced]:
    """Multipliers for the side constraints, better after each working-set round (the last
    one yielded when the set is stable). See :func:`lagrangian`."""
    coarse = _Dual(M, rows=_sample(M))
    if warm is None:
        y = coarse.solve(coarse.from_full(start), _COARSE_TAUS, deadline)
        sample = coarse.to_full(y)
        taus, maxiter = _FINE_TAUS, 60
    else:
        y = coarse.solve(coarse.from_full(warm.sample), _WARM_TAUS, deadline, gtol=_WARM_GTOL)
        sample = coarse.to_full(y)
        y = np.maximum(coarse.from_full(
            {k: sample[k] + warm.prices[k] - warm.sample[k] for k in sample}), 0.0)
        taus, maxiter = _WARM_FINE, _WARM_ITER
    prices = coarse.to_full(y)
    bound, fixed, margin = _scan(M, prices)
    _check_bound(M, bound)
    choice, evals = fixed, coarse.evals + 1
    logger.debug("sample: %d evaluations, bound %.9g", evals, bound)

    def best() -> _Priced:
        return _Priced(prices, bound, choice, margin, evals, Warm(sample, prices))

    near = margin < _SCREEN * coarse.sv
    for _ in range(4):  # working set: add held customers that come near a tie, re-solve
        if not near.any() or time.perf_counter() > deadline:
            break
        fine = _Dual(M, rows=np.flatnonzero(near), fixed=fixed)
        y_fine = fine.solve(y, taus, deadline, maxiter)
        fine_prices = fine.to_full(y_fine)
        fine_bound, fine_choice, fine_margin = _scan(M, fine_prices)
        evals += fine.evals + 1
        if fine_bound < bound:
            prices, bound, choice, margin, y = (fine_prices, fine_bound, fine_choice,
                                                fine_margin, y_fine)
        else:  # the round went astray (e.g. the held customers left it infeasible): the
            taus, maxiter = _FINE_TAUS, 60  # next ones start over from y with the full search
        new = ~near & ((fine_margin < _SCREEN * coarse.sv) | (fine_choice != fixed))
        logger.debug("working set %d, bound %.9g, %d to add", near.sum(), fine_bound,
                     new.sum())
        if new.sum() <= 1e-3 * M.n:
            break
        yield best()
        near |= new
        fixed = choice  # the next round starts from the best multipliers, held at their choice
    logger.debug("dual: %d evaluations (%d on the sample), bound %.9g", evals, coarse.evals,
                 bound)
    yield best()


def _nearest(margin: np.ndarray) -> np.ndarray:
    """The ``max(_NEAR, n / 20)`` customers nearest a tie (sorted indices)."""
    n = len(margin)
    k = min(n, max(_NEAR, n // 20))
    return np.sort(np.argpartition(margin, k - 1)[:k]) if k < n else np.arange(n)


def _recover(M: Model, dual: _Priced, deadline: float) -> Plan:
    """The plan at the multipliers: each customer's best option, repaired (the customers
    nearest a tie moved first); the exact MILP if the repair fails on a small instance."""
    plan = Plan(M, dual.choice)
    pool = np.zeros(M.n, dtype=bool)
    pool[_nearest(dual.margin)] = True
    try:
        repair(plan, pool)
    except InfeasibleError:
        if M.n * M.m > _FALLBACK_MILP_CELLS:
            raise
        logger.info("repair failed (%d customers): falling back to the exact MILP", M.n)
        plan = Plan(M, exact(M, deadline - time.perf_counter(), 1e-4))
    return plan


def _priced_plan(M: Model, start: dict[str, Any], warm: Warm | None, deadline: float,
                 good: float) -> tuple[Plan, _Priced]:
    """The multipliers of :func:`_dual_rounds` and the plan recovered at them. Warm-started,
    the plan is recovered after every round, the best kept, and the search stops once it is
    within ``good`` (relative) of the bound."""
    plan = None
    for dual in _dual_rounds(M, start, warm, deadline):
        if warm is not None:
            found = _recover(M, dual, deadline)
            logger.debug("recovered %.9g (bound %.9g)", found.value(), dual.bound)
            if plan is None or found.value() > plan.value():
                plan = found
            if dual.bound - plan.value() <= good * max(abs(dual.bound), EPS):
                break
    return plan if plan is not None else _recover(M, dual, deadline), dual


def lagrangian(M: Model, *, deadline: float, core_size: int, tol: float,
               hull: Hull | None = None, start: dict[str, Any] | None = None,
               warm: Warm | None = None, enough: float = 0.01
               ) -> tuple[Plan, float, int, dict[str, Any], Warm | None]:
    """Lagrangian bound, recovered plan, multipliers (original units), and what the next
    budget of a sweep starts from (None without side constraints).

    Budget only: the hull prefix (exact LP bound) plus a greedy fill. With side constraints the
    dual is priced on a systematic 1-in-k sample of about ``_SAMPLE`` customers (everyone if
    fewer than four times that), then refined on a working set, the customers within
    ``_SCREEN`` (x mean |value|) of a tie, everyone else held at their best option; held
    customers that come near a tie join and the set is re-solved until it is stable (a round
    that does not lower the bound is not started from). Every candidate is scored by
    :func:`_scan` (a proven bound) and the best is kept. The plan is the argmax at the best
    multipliers, repaired (moving the ``max(_NEAR, n / 20)`` customers nearest a tie first),
    filled while its gap exceeds ``enough * tol``, and polished by a core MILP while it
    exceeds ``tol / 10``.

    ``hull``: the budget-only hull of ``M`` if already built (else built when needed: no side
    constraints, or no ``start`` and no ``warm``); it adds its LP value as a bound. ``start``:
    multipliers for a cold search (default: the hull's budget price). ``warm`` (from a nearby
    budget, see :class:`Warm`): one temperature on the sample, stopped at ``_WARM_GTOL``, at
    most ``_WARM_ITER`` iterations per working-set round (the full search again after a round
    that did not lower the bound), the plan recovered after every round and the remaining
    rounds run only while its gap exceeds ``enough * tol``; if the gap still exceeds ``tol``
    after that, a cold search from the multipliers reached runs as well. The bound stays
    proven; only the effort is cut.
    """
    m = M.m
    if hull is None and (not M.side or (start is None and warm is None)):
        hull = Hull(M.c[:, :m], M.v[:, :m], M.ok[:, :m])
    bound = hull.lp_value(M.budget) if hull is not None else np.inf
    if start is None:
        start = dict(zero_prices(M), budget=hull.price(M.budget) if hull is not None else 0.0)
    prices, evals, carry = start, 0, None

    def short(plan: Plan, bound: float, share: float = enough) -> bool:
        return bound - plan.value() > share * tol * max(abs(bound), EPS)

    if not M.side:
        plan = Plan(M, hull.choice(M.budget))
        if short(plan, bound):
            plan = _improve(plan, prices)
    else:
        plan, dual = _priced_plan(M, start, warm, deadline, enough * tol)
        evals = dual.evals
        filled = None  # the plan and multipliers a fill has already run on
        if warm is not None and short(plan, min(bound, dual.bound), 1.0):
            plan = _improve(plan, dual.prices, _nearest(dual.margin))  # a fill may do
            filled = (plan, dual)
        if warm is not None and short(plan, min(bound, dual.bound), 1.0):
            logger.debug("warm search %.3g from the bound: cold search", 1 - plan.value()
                         / dual.bound)
            cold_plan, cold = _priced_plan(M, dual.prices, None, deadline, enough * tol)
            evals += cold.evals
            if cold_plan.value() > plan.value():
                plan = cold_plan
            if cold.bound < dual.bound:
                dual = cold
        prices, carry = dual.prices, dual.warm
        bound = min(bound, dual.bound)
        _check_bound(M, bound)
        if short(plan, bound) and not (filled and filled[0] is plan and filled[1] is dual):
            plan = _improve(plan, prices, _nearest(dual.margin))
    slack = tol * max(abs(bound), EPS)
    if core_size > 0 and bound - plan.value() > 0.1 * slack:
        plan = _polish(plan, prices, core_size, deadline - time.perf_counter(), 0.25 * slack)
    return plan, bound, evals, prices, carry


def _check_bound(M: Model, bound: float) -> None:
    """Raise if a Lagrangian bound is below the lowest value any plan can have: a certificate
    that no plan, not even a fractional one, meets the constraints (weak duality)."""
    if bound < M.lower - 1e-6 * max(abs(M.lower), M.sv):
        raise InfeasibleError(
            f"the constraints admit no plan, not even a fractional one: the Lagrangian bound "
            f"{bound:,.2f} is below the lowest value any plan can have ({M.lower:,.2f}); the "
            f"minimum spends {_listing(M.pmin[:M.m])} cannot be met together with the budget "
            f"{M.budget:,.2f} and the caps; relax them.")
