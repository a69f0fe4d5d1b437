"""Pareto/NBD: Poisson purchasing with exponential lifetimes, both gamma-mixed.

Schmittlein, D. C., Morrison, D. G. & Colombo, R. (1987), "Counting Your Customers: Who Are They
and What Will They Do Next?", *Management Science* 33(1), 1-24. Likelihood and conditional
expressions as derived in Fader, P. S. & Hardie, B. G. S. (2005), "A Note on Deriving the
Pareto/NBD Model and Related Expressions" (brucehardie.com/notes/009).

While active a customer buys at rate ``lambda ~ Gamma(r, alpha)``; the lifetime is exponential
with rate ``mu ~ Gamma(s, beta)``. Input per customer: frequency x, recency t_x, age T.

Numerics. The likelihood (note 009, eq. 18) is

    L = G(r+x) a^r b^s / G(r) * [ (a+T)^-(r+x) (b+T)^-s + s * (I(t_x) - I(T)) ],
    I(t) = int_t^inf (alpha+y)^-(r+x) (beta+y)^-(s+1) dy
         = (m+t)^-n / n * 2F1(n, e; n+1; z),   n = r+s+x,

with m = max(alpha, beta), z = |alpha-beta| / (m+t) in [0, 1) and e = s+1 if alpha >= beta else
r+x (note 009, eqs. 19-20). The hypergeometric function is evaluated through Euler's
transformation, ``(1-z)^(1-e) 2F1(1, n+1-e; n+1; z)``, whose series has a first parameter of 1
and stays O(1); everything is combined in log space. Close to z = 1 scipy's ``hyp2f1`` becomes
slow (~25 us per value) and for large n returns NaN, so there (z > 0.98, or wherever it fails)
the same quantity is integrated directly,
``2F1(n, e; n+1; z) = int_0^inf exp(-u) (1 - z exp(-u/n))^-e du``, with 64-point Gauss-Legendre
on a log-mapped axis (checked against adaptive quadrature to ~1e-9 over n in [0.2, 2000],
e in (0, n+1], z up to 1 - 1e-12).

Gradient: exact chain rule through I(t). The partial derivatives of log 2F1 are exact for
z <= 0.25 (the Euler-transformed series, summed with its parameter derivatives; this covers
most data: z = |alpha-beta|/(max(alpha,beta)+t)) and in the quadrature (z > 0.98); in between
d/dz is analytic (a contiguous function) and d/dn, d/de are central differences of scipy's
hyp2f1 (relative step 1e-4, error ~1e-9).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
from scipy.integrate import quad
from scipy.special import digamma, expit, gammaln, hyp2f1

from loyalist.clv._fitting import (
    ProbabilisticModel,
    as_times,
    blas_single_thread,
    check_hyper,
    compress,
    data_notes,
    factorize,
    minimize_nll,
    skipped,
    validate_rfm,
    wrap,
)
from loyalist.errors import ParameterError

PARAMS = ("r", "alpha", "s", "beta")
_WARM_ROWS = 10_000  # above about this many unique rows, warm-start from a subset


# --------------------------------------------------------------------------------------------
# log 2F1(n, e; n+1; z) and its partial derivatives
# --------------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _legendre() -> tuple[np.ndarray, np.ndarray]:
    return np.polynomial.legendre.leggauss(64)


def _log_f_quad(n: np.ndarray, e: np.ndarray, z: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """log 2F1(n, e; n+1; z) and d/dn, d/de, d/dz by quadrature of its Laplace form.

    ``2F1(n, e; n+1; z) = int_0^inf exp(-u) B(u)^-e du`` with ``B = 1 - z exp(-u/n)``; the axis
    is mapped by ``u = c (exp(v) - 1)`` with ``c = n(1-z) / (z max(e, 1))`` capped at 1 (the
    scale on which B^-e falls from its peak (1-z)^-e), v in [0, log(1 + 60/c)], so the peak
    and the exp(-u) tail both spread over the nodes. Derivatives are integrated alongside.
    """
    nodes, weights = _legendre()
    n, e, z = (np.asarray(a, dtype=float)[:, None] for a in (n, e, z))
    d = 1.0 - z
    c = np.clip(n * d / (np.maximum(z, 1e-300) * np.maximum(e, 1.0)), 1e-300, 1.0)
    span = np.log1p(60.0 / c)
    v = 0.5 * span * (nodes[None, :] + 1.0)
    u = c * np.expm1(v)
    emu = np.exp(-u / n)
    b = d - z * np.expm1(-u / n)  # = 1 - z exp(-u/n), accurate when z ~ 1
    log_b = np.log(b)
    ell = -u - e * log_b + np.log(c) + v
    top = ell.max(axis=1, keepdims=True)
    p = weights[None, :] * np.exp(ell - top)
    total = p.sum(axis=1, keepdims=True)
    value = (top + np.log(total * 0.5 * span))[:, 0]
    p = p / total
    dn = (p * (e * z * emu * u / (n * n * b))).sum(axis=1)
    de = (p * -log_b).sum(axis=1)
    dz = (p * (e * emu / b)).sum(axis=1)
    return value, dn, de, dz


# Above this argument scipy's hyp2f1 slows down sharply (~25 us per value for small n) and,
# for large n, returns NaN; the quadrature is accurate to ~1e-9 there and costs ~1-2 us.
_Z_QUAD = 0.98


def _log_f(n: np.ndarray, e: np.ndarray, z: np.ndarray) -> np.ndarray:
    """log 2F1(n, e; n+1; z) for z in [0, 1): Euler-transformed hyp2f1, quadrature near z = 1."""
    n, e, z = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in (n, e, z)))
    out = np.full(n.shape, np.nan)
    easy = z <= _Z_QUAD
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        out[easy] = _log_f_hyp(n[easy], e[easy], z[easy])
    hard = ~np.isfinite(out)
    if hard.any():
        out[hard] = _log_f_quad(n[hard], e[hard], z[hard])[0]
    return out


def _log_f_series(n: np.ndarray, e: np.ndarray, z: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """log 2F1(n, e; n+1; z) and exact d/dn, d/de, d/dz from the Euler-transformed series.

    ``2F1(n, e; n+1; z) = (1-z)^(1-e) H``, ``H = sum_j t_j``, ``t_{j+1} = t_j z (b+j)/(c+j)``,
    b = n+1-e, c = n+1. Every ratio is below z, so for z <= 0.25 thirty terms reach 1e-17;
    the parameter derivatives are series too: ``d t_j/db = t_j sum_{i<j} 1/(b+i)``,
    ``d t_j/dc = -t_j sum_{i<j} 1/(c+i)``, ``d t_j/dz = j t_j / z``.
    """
    b = n + 1.0 - e
    c = n + 1.0
    zmax = float(z.max()) if len(z) else 0.0
    terms = 1 if zmax <= 0.0 else int(np.ceil(np.log(1e-17 * (1.0 - zmax)) / np.log(zmax))) + 1
    t = np.ones_like(z)
    h = np.ones_like(z)
    sb, sc, su = np.zeros_like(z), np.zeros_like(z), np.zeros_like(z)
    cum_b, cum_c = np.zeros_like(z), np.zeros_like(z)
    ratio, tmp = np.empty_like(z), np.empty_like(z)
    for j in range(terms):
        np.add(b, j, out=tmp)
        np.divide(1.0, tmp, out=ratio)
        cum_b += ratio  # sum_{i<=j} 1/(b+i)
        np.add(c, j, out=ratio)
        np.divide(tmp, ratio, out=ratio)  # (b+j)/(c+j)
        np.multiply(t, ratio, out=tmp)
        tmp *= j + 1.0
        su += tmp  # d t_{j+1}/dz
        t *= ratio
        t *= z
        np.add(c, j, out=tmp)
        np.divide(1.0, tmp, out=tmp)
        cum_c += tmp
        h += t
        np.multiply(t, cum_b, out=tmp)
        sb += tmp
        np.multiply(t, cum_c, out=tmp)
        sc += tmp
    log1mz = np.log1p(-z)
    value = (1.0 - e) * log1mz + np.log(h)
    return value, (sb - sc) / h, -log1mz - sb / h, (e - 1.0) / (1.0 - z) + su / h


# Below this argument the series converges in <= 30 terms and is the cheapest exact route.
_Z_SERIES = 0.25


def _log_f_grad(n: np.ndarray, e: np.ndarray, z: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """log 2F1(n, e; n+1; z) with its derivatives in n, e and z.

    z <= 0.25: the series (exact derivatives). 0.25 < z <= 0.98: scipy's hyp2f1 for the value,
    the contiguous relation ``d 2F1/dz = n e/(n+1) 2F1(n+1, e+1; n+2; z)``, i.e.
    ``d log F/dz = n e / ((n+1)(1-z)) * H(n+2) / H(n+1)`` with ``H(c) = 2F1(1, n+1-e; c; z)``,
    and central differences (relative step 1e-4, error ~1e-9) in n and e. Above 0.98 (and
    wherever hyp2f1 fails) the quadrature, with derivatives integrated alongside.
    """
    n, e, z = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in (n, e, z)))
    value, dn, de, dz = (np.full(n.shape, np.nan) for _ in range(4))
    low = z <= _Z_SERIES
    if low.any():
        value[low], dn[low], de[low], dz[low] = _log_f_series(n[low], e[low], z[low])
    mid = ~low & (z <= _Z_QUAD)
    ne, ee, ze = n[mid], e[mid], z[mid]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        b = ne + 1.0 - ee
        h1 = hyp2f1(1.0, b, ne + 1.0, ze)
        h2 = hyp2f1(1.0, b, ne + 2.0, ze)
        value[mid] = (1.0 - ee) * np.log1p(-ze) + np.log(h1)
        dz[mid] = ne * ee / ((ne + 1.0) * (1.0 - ze)) * h2 / h1
        step_n = 1e-4 * np.minimum(ne, b)
        step_e = 1e-4 * np.minimum(ee, b)
        dn[mid] = (_log_f_hyp(ne + step_n, ee, ze) - _log_f_hyp(ne - step_n, ee, ze)) / (
            2.0 * step_n)
        de[mid] = (_log_f_hyp(ne, ee + step_e, ze) - _log_f_hyp(ne, ee - step_e, ze)) / (
            2.0 * step_e)
    hard = ~(np.isfinite(value) & np.isfinite(dz) & np.isfinite(dn) & np.isfinite(de))
    if hard.any():
        value[hard], dn[hard], de[hard], dz[hard] = _log_f_quad(n[hard], e[hard], z[hard])
    return value, dn, de, dz


def _log_f_hyp(n: np.ndarray, e: np.ndarray, z: np.ndarray) -> np.ndarray:
    return (1.0 - e) * np.log1p(-z) + np.log(hyp2f1(1.0, n + 1.0 - e, n + 1.0, z))


# --------------------------------------------------------------------------------------------
# log I(t) and the likelihood
# --------------------------------------------------------------------------------------------
def _log_integral(params: np.ndarray, x: np.ndarray, t: np.ndarray, grad: bool
                  ) -> tuple[np.ndarray, np.ndarray | None]:
    """log I(t) (note 009, eqs. 19-20) per row and optionally its gradient (4, n)."""
    r, alpha, s, beta = params
    n = r + s + x
    if alpha >= beta:
        base = alpha + t
        z = (alpha - beta) / base
        e = np.full(len(x), s + 1.0)
    else:
        base = beta + t
        z = (beta - alpha) / base
        e = r + x
    log_base = np.log(base)
    if not grad:
        return -n * log_base - np.log(n) + _log_f(n, e, z), None
    lf, fn, fe, fz = _log_f_grad(n, e, z)
    value = -n * log_base - np.log(n) + lf
    g = np.empty((4, len(x)))
    common = -log_base - 1.0 / n + fn
    if alpha >= beta:
        g[0] = common
        g[2] = common + fe
        g[1] = -n / base + fz * (beta + t) / (base * base)
        g[3] = -fz / base
    else:
        g[0] = common + fe
        g[2] = common
        g[3] = -n / base + fz * (alpha + t) / (base * base)
        g[1] = -fz / base
    return value, g


class _Pairs:
    """Distinct (x, t) pairs behind log I(t_x) and log I(T): the costly hypergeometric terms
    are evaluated once per pair (many customers share a frequency and an age or recency)."""

    def __init__(self, x: np.ndarray, tx: np.ndarray, T: np.ndarray):
        k = len(x)
        both_x = np.concatenate([x, x])
        both_t = np.concatenate([tx, T])
        codes, rep = factorize(both_x, both_t)
        self.x, self.t = both_x[rep], both_t[rep]
        self.cx, self.cT = codes[:k], codes[k:]

    def integrals(self, params: np.ndarray, grad: bool
                  ) -> tuple[np.ndarray, np.ndarray, Any, Any]:
        """log I(t_x), log I(T) per row, and their gradients (4, n) when ``grad``."""
        g, dg = _log_integral(params, self.x, self.t, grad)
        if dg is None:
            return g[self.cx], g[self.cT], None, None
        return g[self.cx], g[self.cT], dg[:, self.cx], dg[:, self.cT]


def _loglik_terms(params: np.ndarray, x: np.ndarray, tx: np.ndarray, T: np.ndarray,
                  grad: bool, pairs: _Pairs | None = None
                  ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Per-row log-likelihood (note 009, eq. 18), gradient (4, n) and log-odds of being dead.

    ``log L = A1 + logaddexp(P, log s + log(I(t_x) - I(T)))`` with
    ``log(I(t_x) - I(T)) = G_x + log(-expm1(G_T - G_x))``.
    """
    r, alpha, s, beta = params
    if pairs is None:
        pairs = _Pairs(x, tx, T)
    gx, gT, dgx, dgT = pairs.integrals(params, grad)
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    log_at = np.log(alpha + T)
    log_bt = np.log(beta + T)
    p = -(r + x) * log_at - s * log_bt
    delta = np.minimum(gT - gx, 0.0)
    log_j = gx + np.log(-np.expm1(delta))  # -inf when t_x == T
    q = np.log(s) + log_j
    lse = np.logaddexp(p, q)
    ll = a1 + lse
    log_odds_dead = q - p
    if not grad:
        return ll, None, log_odds_dead
    assert dgx is not None and dgT is not None
    omega = np.exp(q - lse)
    keep = 1.0 - omega
    scale = np.exp(np.log(s) + gx - lse)
    dj = scale * (dgx - np.exp(delta) * dgT)
    g = np.empty((4, len(x)))
    g[0] = digamma(r + x) - digamma(r) + np.log(alpha) - keep * log_at + dj[0]
    g[1] = r / alpha - keep * (r + x) / (alpha + T) + dj[1]
    g[2] = np.log(beta) - keep * log_bt + omega / s + dj[2]
    g[3] = s / beta - keep * s / (beta + T) + dj[3]
    return ll, g, log_odds_dead


def _objective(theta: np.ndarray, x: np.ndarray, tx: np.ndarray, T: np.ndarray, w: np.ndarray,
               penalizer: float, pairs: _Pairs | None = None) -> tuple[float, np.ndarray]:
    """Mean negative log-likelihood over log-parameters + ``penalizer * sum(params**2)``."""
    params = np.exp(theta)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        ll, g, _ = _loglik_terms(params, x, tx, T, grad=True, pairs=pairs)
        assert g is not None
        wsum = w.sum()
        value = -float(w @ ll) / wsum + penalizer * float(params @ params)
        grad = -(g @ w) / wsum * params + 2.0 * penalizer * params * params
    return value, grad


def _start(x: np.ndarray, T: np.ndarray, w: np.ndarray) -> np.ndarray:
    """r = s = 1; alpha from the pooled repeat rate, beta = mean age (a lifetime ~ T)."""
    mean_t = float(w @ T) / float(w.sum())
    rate = max(float(w @ x), 1.0) / max(float(w @ T), 1e-12)
    alpha = 1.0 / rate if mean_t > 0 else 1.0
    beta = mean_t if mean_t > 0 else 1.0
    return np.log(np.array([1.0, alpha, 1.0, beta]))


# --------------------------------------------------------------------------------------------
# Predictions
# --------------------------------------------------------------------------------------------
def _one_minus_pow_over(s: float, log_ratio: np.ndarray) -> np.ndarray:
    """(1 - exp(-(s-1) L)) / (s-1), continuous at s = 1 (where it is L)."""
    if abs(s - 1.0) < 1e-10:
        return np.asarray(log_ratio, dtype=float)
    return -np.expm1(-(s - 1.0) * log_ratio) / (s - 1.0)


def _probability_alive(params: np.ndarray, x: np.ndarray, tx: np.ndarray, T: np.ndarray
                       ) -> np.ndarray:
    """P(alive | x, t_x, T) = term1 / L (note 009, eq. 36)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        _, _, log_odds = _loglik_terms(params, x, tx, T, grad=False)
        return expit(-log_odds)


def _expected_purchases(params: np.ndarray, t: np.ndarray, x: np.ndarray, tx: np.ndarray,
                        T: np.ndarray) -> np.ndarray:
    """E[Y(t) | x, t_x, T] (note 009, eq. 41)."""
    r, alpha, s, beta = params
    alive = _probability_alive(params, x, tx, T)
    body = (r + x) * (beta + T) / (alpha + T) * _one_minus_pow_over(s, np.log1p(t / (beta + T)))
    return alive * body


def _discounted_purchases(params: np.ndarray, times: np.ndarray, discounts: np.ndarray,
                          x: np.ndarray, tx: np.ndarray, T: np.ndarray) -> np.ndarray:
    """sum_i discounts[i] * (E[Y(times[i])] - E[Y(times[i-1])]), times[-1] := 0."""
    r, alpha, s, beta = params
    alive = _probability_alive(params, x, tx, T)
    acc = np.zeros(len(x))
    prev = np.zeros(len(x))
    for step, d in zip(times, discounts, strict=True):
        cur = _one_minus_pow_over(s, np.log1p(step / (beta + T)))
        acc += d * (cur - prev)
        prev = cur
    return alive * (r + x) * (beta + T) / (alpha + T) * acc


def _expected_purchases_new(params: np.ndarray, t: np.ndarray) -> np.ndarray:
    """E[X(t)] = r beta / (alpha (s-1)) [1 - (beta/(beta+t))^(s-1)] (note 009, eq. 27)."""
    r, alpha, s, beta = params
    return r * beta / alpha * _one_minus_pow_over(s, np.log1p(np.asarray(t) / beta))


def _probability_of_n(params: np.ndarray, n: float, t: float) -> float:
    """P(X(t) = n) for a new customer.

    Alive throughout: NBD(n; r, alpha, t) * (beta/(beta+t))^s. Died at tau < t:
    ``int_0^t NBD(n; r, alpha, tau) s beta^s (beta+tau)^-(s+1) dtau``, which with
    u = tau/(alpha+tau) is ``G(r+n)/(G(r) n!) s beta^s alpha
    int_0^{t/(alpha+t)} u^n (1-u)^(r+s-1) (beta + (alpha-beta) u)^-(s+1) du``, integrated by
    adaptive quadrature.
    """
    r, alpha, s, beta = params
    if t == 0:
        return 1.0 if n == 0 else 0.0
    log_coef = gammaln(r + n) - gammaln(r) - gammaln(n + 1.0)
    first = np.exp(log_coef + r * np.log(alpha / (alpha + t)) + n * np.log(t / (alpha + t))
                   + s * np.log(beta / (beta + t)))
    upper = t / (alpha + t)

    def log_f(u: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore"):
            return (n * np.log(u) + (r + s - 1.0) * np.log1p(-u)
                    - (s + 1.0) * np.log(beta + (alpha - beta) * u))

    grid = np.linspace(upper * 1e-6, upper, 257)
    top = float(np.max(log_f(grid)))
    val, _ = quad(lambda u: float(np.exp(log_f(np.asarray(u)) - top)), 0.0, upper,
                  epsabs=0.0, epsrel=1e-11, limit=200)
    second = np.exp(log_coef + np.log(s) + s * np.log(beta) + np.log(alpha) + top) * val
    return float(first + second)


def _simulate(params: np.ndarray, T: np.ndarray, rng: np.random.Generator
              ) -> tuple[np.ndarray, np.ndarray]:
    """Draw (frequency, recency) per customer of age T from the Pareto/NBD process."""
    r, alpha, s, beta = params
    lam = rng.gamma(r, 1.0 / alpha, size=len(T))
    mu = rng.gamma(s, 1.0 / beta, size=len(T))
    lifetime = rng.exponential(1.0 / np.maximum(mu, 1e-300))
    active = np.minimum(lifetime, T)
    x = rng.poisson(lam * active)
    tx = np.zeros(len(T))
    pos = x > 0
    # The last of N uniform event times on (0, d] is d * U^(1/N).
    tx[pos] = active[pos] * rng.random(int(pos.sum())) ** (1.0 / x[pos])
    return x.astype(float), tx


# --------------------------------------------------------------------------------------------
# Estimator
# --------------------------------------------------------------------------------------------
class ParetoNBDModel(ProbabilisticModel):
    """Pareto/NBD model fitted by maximum likelihood (Schmittlein, Morrison & Colombo 1987).

    Parameters
    ----------
    penalizer:
        L2 penalty ``penalizer * (r^2 + alpha^2 + s^2 + beta^2)`` on the mean negative
        log-likelihood (lifetimes' convention). 0 = plain MLE.
    tol:
        L-BFGS-B tolerance on the projected gradient (log-parameters, mean NLL).
    max_iter:
        Iteration limit of the optimiser.

    Learned attributes: ``params_`` (r, alpha, s, beta), ``log_likelihood_``, ``n_customers_``,
    ``converged_``, ``n_iter_``, ``diagnostics_``.
    """

    _param_names = PARAMS
    _init_names = ("penalizer", "tol", "max_iter")

    def __init__(self, *, penalizer: float = 0.0, tol: float = 1e-7, max_iter: int = 1000):
        self.penalizer = penalizer
        self.tol = tol
        self.max_iter = max_iter

    @blas_single_thread
    def fit(self, frequency: Any, recency: Any, T: Any) -> ParetoNBDModel:
        """Maximum-likelihood fit on one row per customer; returns ``self``.

        Identical rows are collapsed first, and the hypergeometric terms are evaluated once per
        distinct (frequency, t) pair.
        """
        check_hyper(self)
        cols = validate_rfm(frequency, recency, T)
        x, tx, t = (cols.values[k] for k in ("frequency", "recency", "T"))
        comp = compress({"x": x, "tx": tx, "T": t})
        cx, ctx, cT, w = comp.columns["x"], comp.columns["tx"], comp.columns["T"], comp.weights
        notes, identified = data_notes(x, tx, t, comp, cols)
        pairs = _Pairs(cx, ctx, cT)

        def objective(th: np.ndarray) -> tuple[float, np.ndarray]:
            return _objective(th, cx, ctx, cT, w, float(self.penalizer), pairs)

        theta0 = _start(cx, cT, w)
        if np.all(t == 0):
            result = skipped(objective, theta0, "no customer has T > 0")
        else:
            theta0, hessian0, warm = self._warm_start(theta0, cx, ctx, cT, w)
            notes.extend(warm)
            result = minimize_nll(objective, theta0, names=PARAMS, tol=float(self.tol),
                                  max_iter=int(self.max_iter), n_obs=float(w.sum()),
                                  hessian0=hessian0)
        result.converged = result.converged and identified
        params = np.exp(result.theta)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
            ll, _, _ = _loglik_terms(params, cx, ctx, cT, grad=False, pairs=pairs)
        self._store_fit(dict(zip(PARAMS, params, strict=True)), float(w @ ll), cols.n, result,
                        notes)
        return self

    def _warm_start(self, theta0: np.ndarray, x: np.ndarray, tx: np.ndarray, T: np.ndarray,
                    w: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, list[str]]:
        """With many unique rows, first fit an evenly spaced 1-in-k subset of them (a cheap
        stand-in for the data). Its estimate and curvature start Newton steps on the full data,
        which then need a handful of the costly full-data evaluations. The final estimate is
        the full-data MLE, under the same convergence criteria."""
        k = int(np.ceil(len(x) / _WARM_ROWS))
        if k < 2:
            return theta0, None, []
        sl = slice(0, None, k)
        xs, txs, Ts, ws = x[sl], tx[sl], T[sl], w[sl]
        pairs = _Pairs(xs, txs, Ts)
        sub = minimize_nll(
            lambda th: _objective(th, xs, txs, Ts, ws, float(self.penalizer), pairs), theta0,
            names=PARAMS, tol=1e-6, max_iter=int(self.max_iter), n_obs=float(ws.sum()),
        )
        if not np.all(np.isfinite(sub.theta)):
            return theta0, None, []
        return sub.theta, sub.hessian, [
            f"warm start: fitted 1 in {k} of the unique rows ({len(xs):,}) in {sub.n_iter} "
            "iterations before the full-data fit"]



    def log_likelihood_per_customer(self, frequency: Any, recency: Any, T: Any
                                    ) -> np.ndarray | Any:
        """Log-likelihood of each customer's (x, t_x) given T (note 009, eq. 18)."""
        p = self._p()
        cols, x, tx, t = self._rfm(frequency, recency, T)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
            ll, _, _ = _loglik_terms(p, x, tx, t, grad=False)
        return wrap(ll, cols, "log_likelihood")

    def probability_alive(self, frequency: Any, recency: Any, T: Any) -> np.ndarray | Any:
        """P(customer still active at T | x, t_x, T) (note 009, eq. 36)."""
        p = self._p()
        cols, x, tx, t = self._rfm(frequency, recency, T)
        return wrap(_probability_alive(p, x, tx, t), cols, "probability_alive")

    def expected_purchases(self, t: Any, frequency: Any, recency: Any, T: Any
                           ) -> np.ndarray | Any:
        """Expected purchases in the next ``t`` time units given the history (note 009, eq. 41)."""
        p = self._p()
        cols, x, tx, age = self._rfm(frequency, recency, T)
        tt = np.broadcast_to(as_times(t), (cols.n,)).astype(float)
        return wrap(_expected_purchases(p, tt, x, tx, age), cols, "expected_purchases")

    def expected_purchases_new(self, t: Any) -> np.ndarray | float:
        """Unconditional E[X(t)] for a new customer (note 009, eq. 27)."""
        p = self._p()
        out = _expected_purchases_new(p, as_times(t))
        return float(out) if np.ndim(out) == 0 else out

    def probability_of_n_purchases(self, n: Any, t: Any) -> np.ndarray | float:
        """P(X(t) = n) for a new customer (integral form of note 009, section 4)."""
        p = self._p()
        nn = np.asarray(n, dtype=float)
        if np.any(nn < 0) or np.any(nn != np.round(nn)):
            raise ParameterError(f"n: must be whole numbers >= 0, got {n!r}")
        nb, tb = np.broadcast_arrays(nn, as_times(t))
        out = np.array([_probability_of_n(p, float(a), float(b))
                        for a, b in zip(nb.ravel(), tb.ravel(), strict=True)])
        out = out.reshape(nb.shape)
        return float(out) if out.ndim == 0 else out

    def sample(self, T: Any, *, random_state: int | np.random.Generator | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
        """Simulate (frequency, recency) for customers of ages ``T`` from the fitted process."""
        p = self._p()
        age = as_times(T, "T").ravel()
        return _simulate(p, age, np.random.default_rng(random_state))

    def _discounted_expected_purchases(self, times: np.ndarray, discounts: np.ndarray,
                                       x: np.ndarray, tx: np.ndarray, T: np.ndarray
                                       ) -> np.ndarray:
        """Discounted sum of per-step expected purchases (used by Gamma-Gamma CLV)."""
        return _discounted_purchases(self._p(), times, discounts, x, tx, T)
