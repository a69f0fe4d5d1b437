"""BG/NBD: the beta-geometric / negative binomial model of repeat purchasing.

Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005), "'Counting Your Customers' the Easy Way:
An Alternative to the Pareto/NBD Model", *Marketing Science* 24(2), 275-284.

While active, a customer buys at Poisson rate ``lambda ~ Gamma(r, alpha)``; after each repeat
purchase they drop out with probability ``p ~ Beta(a, b)``. Input per customer: ``frequency``
(x, repeat purchases), ``recency`` (t_x, time of the last purchase since the first) and ``T``
(time since the first purchase), all in one time unit (e.g. weeks).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.special import betainc, betaln, digamma, expit, gammaln, hyp2f1

from loyalist.clv._fitting import (
    ProbabilisticModel,
    as_times,
    blas_single_thread,
    check_hyper,
    compress,
    data_notes,
    minimize_nll,
    skipped,
    validate_rfm,
    wrap,
)
from loyalist.errors import ParameterError

PARAMS = ("r", "alpha", "a", "b")


# --------------------------------------------------------------------------------------------
# Likelihood
# --------------------------------------------------------------------------------------------
def _loglik(params: np.ndarray, x: np.ndarray, tx: np.ndarray, T: np.ndarray) -> np.ndarray:
    """Per-customer log-likelihood (FHL 2005, eq. 6), summed in log space.

    ``L = B(a,b+x)/B(a,b) G(r+x)alpha^r/(G(r)(alpha+T)^(r+x))
    + [x>0] B(a+1,b+x-1)/B(a,b) G(r+x)alpha^r/(G(r)(alpha+t_x)^(r+x))``.
    """
    r, alpha, a, b = params
    ux, ix = np.unique(x, return_inverse=True)
    pos = ux > 0
    bab = betaln(a, b)
    u_a1 = gammaln(r + ux) - gammaln(r)
    u_b2 = betaln(a, b + ux) - bab
    u_b3 = np.full(len(ux), -np.inf)
    u_b3[pos] = betaln(a + 1.0, b + ux[pos] - 1.0) - bab
    rx = r + x
    a2 = u_b2[ix] - rx * np.log(alpha + T)
    a3 = u_b3[ix] - rx * np.log(alpha + tx)  # -inf where x == 0
    return u_a1[ix] + r * np.log(alpha) + np.logaddexp(a2, a3)


class _FitData:
    """Weighted unique rows arranged for the likelihood: customers without repeat purchases
    (whose term is r log(alpha/(alpha+T))) apart, and frequency-only terms per distinct x."""

    def __init__(self, x: np.ndarray, tx: np.ndarray, T: np.ndarray, w: np.ndarray):
        zero = x == 0
        self.T0, self.w0 = T[zero], w[zero]
        self.W0 = float(self.w0.sum())
        pos = ~zero
        self.tx, self.T, self.w = tx[pos], T[pos], w[pos]
        self.ux, self.ix = np.unique(x[pos], return_inverse=True)
        self.x = x[pos]
        self.Wx = np.bincount(self.ix, weights=self.w, minlength=len(self.ux))
        self.Wp = float(self.w.sum())
        self.total = self.W0 + self.Wp


def _loglik_grad(params: np.ndarray, d: _FitData) -> tuple[float, np.ndarray]:
    """Total weighted log-likelihood (eq. 6) and its analytic gradient in (r, alpha, a, b).

    With ``A2 = ln B(a,b+x) - ln B(a,b) - (r+x) ln(alpha+T)``,
    ``A3 = ln B(a+1,b+x-1) - ln B(a,b) - (r+x) ln(alpha+t_x)`` and the weights
    ``w3 = exp(A3 - logaddexp(A2, A3))``, ``w2 = 1 - w3``:
    d/dr = psi(r+x) - psi(r) + ln alpha - w2 ln(alpha+T) - w3 ln(alpha+t_x);
    d/dalpha = r/alpha - (r+x)(w2/(alpha+T) + w3/(alpha+t_x));
    d/da = w2 (psi(a+b) - psi(a+b+x)) + w3 (psi(a+1) - psi(a) + psi(a+b) - psi(a+b+x));
    d/db = w2 (psi(b+x) - psi(b) + psi(a+b) - psi(a+b+x))
         + w3 (psi(b+x-1) - psi(b) + psi(a+b) - psi(a+b+x)).
    """
    r, alpha, a, b = params
    log_alpha = np.log(alpha)
    grad = np.zeros(4)
    ll = 0.0
    if d.W0 > 0:  # x = 0: log L = r (ln alpha - ln(alpha+T))
        log_at0 = np.log(alpha + d.T0)
        s_log = float(d.w0 @ log_at0)
        ll += r * (d.W0 * log_alpha - s_log)
        grad[0] += d.W0 * log_alpha - s_log
        grad[1] += r * (d.W0 / alpha - float(d.w0 @ (1.0 / (alpha + d.T0))))
    if d.Wp > 0:
        ux = d.ux
        k = len(ux)
        # One call per special function; the shifted values follow from recurrences:
        # B(a, b+x) = B(a, b+x-1) (b+x-1)/(a+b+x-1), B(a+1, b+x-1) = B(a, b+x-1) a/(a+b+x-1),
        # psi(z+1) = psi(z) + 1/z.
        bx1 = b + ux - 1.0
        abx1 = a + bx1
        lb = betaln(np.full(k + 1, a), np.append(bx1, b))
        lg = gammaln(np.append(r + ux, r))
        ps = digamma(np.concatenate([r + ux, bx1, abx1, [r, b, a + b]]))
        bab = lb[k]
        log_abx1 = np.log(abx1)
        u_b2 = lb[:k] + np.log(bx1) - log_abx1 - bab
        u_b3 = lb[:k] + np.log(a) - log_abx1 - bab
        log_at = np.log(alpha + d.T)
        log_atx = np.log(alpha + d.tx)
        rx = r + d.x
        a2 = u_b2[d.ix] - rx * log_at
        a3 = u_b3[d.ix] - rx * log_atx
        m = np.logaddexp(a2, a3)
        ll += float(d.Wx @ (lg[:k] - lg[k])) + r * d.Wp * log_alpha + float(d.w @ m)
        ww3 = d.w * np.exp(a3 - m)
        ww2 = d.w - ww3
        s2 = np.bincount(d.ix, weights=ww2, minlength=k)
        s3 = np.bincount(d.ix, weights=ww3, minlength=k)
        psi_rx, psi_bx1, psi_abx1 = ps[:k], ps[k:2 * k], ps[2 * k:3 * k]
        psi_r, psi_b, psi_ab = ps[3 * k:]
        psi_abx = psi_abx1 + 1.0 / abx1
        psi_bx = psi_bx1 + 1.0 / bx1
        grad[0] += (float(d.Wx @ (psi_rx - psi_r)) + d.Wp * log_alpha
                    - float(ww2 @ log_at) - float(ww3 @ log_atx))
        grad[1] += r * d.Wp / alpha - float(rx @ (ww2 / (alpha + d.T) + ww3 / (alpha + d.tx)))
        grad[2] += float(s2 @ (psi_ab - psi_abx) + s3 @ (1.0 / a + psi_ab - psi_abx))
        grad[3] += float(s2 @ (psi_bx - psi_b + psi_ab - psi_abx)
                         + s3 @ (psi_bx1 - psi_b + psi_ab - psi_abx))
    return ll, grad


def _objective(theta: np.ndarray, data: _FitData, penalizer: float) -> tuple[float, np.ndarray]:
    """Mean negative log-likelihood over log-parameters + ``penalizer * sum(params**2)``."""
    params = np.exp(theta)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        ll, g = _loglik_grad(params, data)
    value = -ll / data.total + penalizer * float(params @ params)
    grad = -g / data.total * params + 2.0 * penalizer * params * params
    return value, grad


def _start(x: np.ndarray, T: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Starting point: r = 1 and alpha matching the pooled repeat-purchase rate; a = b = 1."""
    rate = max(float(w @ x), 1.0) / max(float(w @ T), 1e-12)
    alpha = 1.0 / rate if np.any(T > 0) else 1.0
    return np.log(np.array([1.0, alpha, 1.0, 1.0]))


# --------------------------------------------------------------------------------------------
# Predictions (FHL 2005 eqs. 8-11)
# --------------------------------------------------------------------------------------------
def _log_odds_dead(params: np.ndarray, x: np.ndarray, tx: np.ndarray, T: np.ndarray
                   ) -> np.ndarray:
    """log[(1 - P(alive)) / P(alive)] = log(a/(b+x-1)) + (r+x) log((alpha+T)/(alpha+t_x))."""
    r, alpha, a, b = params
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.add(T, alpha)
        np.log(out, out=out)
        tmp = np.add(tx, alpha)
        np.log(tmp, out=tmp)
        out -= tmp
        np.add(x, r, out=tmp)
        out *= tmp
        np.add(x, b, out=tmp)
        tmp -= 1.0
        np.log(tmp, out=tmp)
        np.subtract(np.log(a), tmp, out=tmp)
        out += tmp
    return np.where(x > 0, out, -np.inf)


def _probability_alive(params: np.ndarray, x: np.ndarray, tx: np.ndarray, T: np.ndarray
                       ) -> np.ndarray:
    """P(alive | x, t_x, T) = 1 / (1 + [x>0] a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x)) (eq. 11)."""
    return expit(-_log_odds_dead(params, x, tx, T))


def _safe_a(a: float) -> float:
    """Nudge a off 1, where the closed forms have a removable 0/0."""
    return a if abs(a - 1.0) > 1e-7 else (1.0 + 1e-7 if a >= 1.0 else 1.0 - 1e-7)


def _safe_ab(a: float, b: float) -> tuple[float, float]:
    """(a, b) for the predictions: a off 1 (:func:`_safe_a`), and a + b - 1 at least 1e-12 away
    from 0. For x = 0 that is the third parameter C of 2F1, undefined at C = 0 (where eqs. 9-10
    are a removable 0 * inf) and beyond scipy's hyp2f1 for |C| below ~1e-13. b moves by 1e-12;
    the results, analytic in C there, move by ~1e-12/b relative (1e-9 for b = 0.001)."""
    a = _safe_a(a)
    c = a + b - 1.0
    if abs(c) >= 1e-12:
        return a, b
    return a, 1.0 - a + (1e-12 if c >= 0.0 else -1e-12)


def _log_g_beta(params: np.ndarray, x: np.ndarray, beta: np.ndarray, t: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    """log |g| and where g < 0, for ``g = (beta/(beta+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; z)``,
    z = t/(beta+t), beta = alpha + T.

    Evaluated through Euler's transformation as
    ``(1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z)``: the big (r+x) exponent cancels analytically,
    so the hypergeometric factor stays O(1) and nothing overflows for large x. Row by row with
    scipy's ``hyp2f1``: the reference for (and fallback of) :func:`_one_minus_g_sum`.

    g < 0 is legitimate when C = a+b+x-1 < 0, i.e. x = 0 and a + b < 1: every term of the
    paper's series after the first is then negative ((C)_k < 0 for k >= 1), and 2F1 falls
    through zero to -inf as z -> 1 (DLMF 15.4.23: Gamma(C) < 0). E[Y(t)] stays positive
    (1 - g > 0 and, as a < 1, (a+b+x-1)/(a-1) > 0), so the sign is kept apart from the log.
    Where C > 0 every series term is positive and a g <= 0 from scipy is a failure: the next
    evaluation is tried, as for NaN.
    """
    r, _, a, b = params
    x, beta, t = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (x, beta, t)))
    z = t / (beta + t)
    A, B, C = a + b - 1.0 - r, a - 1.0, a + b + x - 1.0
    signed = C < 0  # where g may be negative

    def log_abs(v: np.ndarray, rows: Any) -> np.ndarray:
        return np.log(np.where(signed[rows], np.abs(v), v))

    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_w = np.log1p(-z)
        h = np.asarray(hyp2f1(A, B, C, z), dtype=float)
        out = np.asarray((a - 1.0) * log_w + log_abs(h, ...), dtype=float)
        negative = np.array(h < 0)
        bad = ~np.isfinite(out)
        if bad.any():
            # a, b in the tens of thousands (dropout nearly the same for everyone): Euler's h
            # is ~(1-z)^-(a-1), beyond floating point, while the paper's own form
            # 2F1(r+x, b+x; a+b+x-1; z) stays O(1) there (its first parameter is small)
            xb = x[bad]
            hb = hyp2f1(r + xb, b + xb, C[bad], z[bad])
            out[bad] = (r + xb) * log_w[bad] + log_abs(hb, bad)
            negative[bad] = hb < 0
            bad = ~np.isfinite(out)
        if bad.any():  # e.g. r, alpha ~ 1e7 (no rate heterogeneity): scipy gives NaN
            hb = _gauss_series(A, B, C[bad], z[bad])
            out[bad] = (a - 1.0) * log_w[bad] + log_abs(hb, bad)
            negative[bad] = hb < 0
        return out, negative


def _one_minus_g_rows(params: np.ndarray, x: np.ndarray, beta: np.ndarray, t: np.ndarray
                      ) -> np.ndarray:
    """1 - g row by row (scipy, :func:`_log_g_beta`), without cancellation where g < 0."""
    log_g, negative = _log_g_beta(params, x, beta, t)
    with np.errstate(over="ignore"):
        return np.where(negative, 1.0 + np.exp(log_g), -np.expm1(log_g))


def _gauss_series(A: float, B: float, C: np.ndarray, z: np.ndarray, *, terms: int = 2000
                  ) -> np.ndarray:
    """2F1(A, B; C; z) summed term by term (DLMF 15.2.1), NaN where it does not converge in
    ``terms`` terms or cancels (largest term above 1e8 x the sum): the fallback for scipy's
    ``hyp2f1``, which returns NaN for |A| in the millions even where the series is tame
    (C > 0 large and |A z| moderate: the terms shrink from the first)."""
    total = np.ones(len(z))
    term = np.ones(len(z))
    biggest = np.ones(len(z))
    done = np.zeros(len(z), dtype=bool)
    for k in range(terms):
        term = term * ((A + k) * (B + k) / ((C + k) * (k + 1.0)) * z)
        total += np.where(done, 0.0, term)
        biggest = np.maximum(biggest, np.abs(term))
        done |= np.abs(term) <= 1e-17 * np.abs(total)
        if done.all():
            break
    ok = done & np.isfinite(total) & (biggest <= 1e8 * np.abs(total))
    return np.where(ok, total, np.nan)


# --------------------------------------------------------------------------------------------
# 1 - g for many customers at once
# --------------------------------------------------------------------------------------------
# With beta = alpha + T, z = t/(beta+t) and w = 1 - z = beta/(beta+t), eqs. 9-10 need
# 1 - g = 1 - w^(a-1) h(z), h = 2F1(A, B; C; z), A = a+b-1-r, B = a-1, C = a+b+x-1 (Euler's
# form). scipy's hyp2f1 costs 0.2-1 us per value (more near z = 1), too slow for millions of
# (customer, horizon) pairs. For one frequency x, h is one analytic function of z, so customers
# are sorted by (x, beta): for every horizon t the customers of one x whose z falls in a band
# are then a contiguous run, and a polynomial with scalar coefficients evaluates the run by
# Horner's rule (two in-cache numpy passes per term):
#   z <= Z_d: Gauss's series sum (A)_k (B)_k / ((C)_k k!) z^k (DLMF 15.2.1), h - 1 kept apart
#     from the 1. Z_d is the largest band edge the series reaches in _SERIES_CAP terms without
#     cancelling: 0.3 for x = 0 with the CDNOW estimates, ~1 for large x, where (C)_k makes it
#     converge fast.
#   above: Taylor series around the centre z0 = 1 - w0 of a band of half-width 0.2 min(z0, w0)
#     (the distance to the singular points z = 0, 1): ~25 terms. The coefficients follow from
#     h(z0), h'(z0) (scipy) and the hypergeometric equation (DLMF 15.10.1).
# Each run is compared with scipy at both ends of its pieces (where truncation and rounding
# errors peak) and recomputed with scipy if they differ by more than 1e-11 relative to 1 - g or
# 1e-13 relative to g (scipy's own error in log h). Frequencies with few customers, z within
# 1e-12 of 1 and C <= 0 go to scipy directly (C < 0: x = 0 with a + b < 1, where h and g can
# be negative, which the polynomial paths, working with log h, do not handle; see _log_g_beta).
_SERIES_TERMS = 64  # Gauss-series coefficients computed per frequency
_SERIES_CAP = 32  # the Gauss series covers the band edges it reaches in this many terms
_TAYLOR_TERMS = 48  # Taylor coefficients computed per band
_EPS = 1e-17  # truncation target relative to |h|
_MIN_ELEMENTS = 2048  # fewer (customer, horizon) pairs (per frequency): scipy's hyp2f1
_CHUNK = 16384  # elements per Horner pass (stays in cache)
_GROUP_ROWS = 1 << 17  # customers per block (with 12 horizons: ~25 MB of temporaries)
_CHECK_RTOL, _CHECK_GTOL = 1e-11, 1e-13  # relative to 1 - g and to g (scipy's log h error)


def _bands() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Band edges in w (descending; band j is edges[j+1] <= w < edges[j]), centres z0 and
    w0 = 1 - z0 (exactly), half-widths."""
    ratio = (2.0 / 3.0) ** np.arange(80)
    left = 0.2 * ratio[:14][::-1]  # z from 1e-3 to 0.2: used where the Gauss series cancels
    right = 0.45 * ratio
    edges = np.concatenate([1.0 - left, [0.7, 0.55], right[right >= 1e-12]])
    z0 = 1.0 - 0.5 * (edges[:-1] + edges[1:])
    w0 = 1.0 - z0
    half = np.maximum(edges[:-1] - w0, w0 - edges[1:])
    return edges, z0, w0, half


_W_EDGES, _Z0, _W0, _HALF = _bands()
_Z_EDGES = 1.0 - _W_EDGES
_Z_POWERS = _Z_EDGES[:, None] ** np.arange(1, _SERIES_TERMS + 1)  # z_e^k, k = 1..K


def _horner(coef: list[float], v: np.ndarray, out: np.ndarray) -> None:
    """out = sum_k coef[k] v^k."""
    out.fill(coef[-1])
    for c in coef[-2::-1]:
        out *= v
        out += c


def _one_minus_chunked(v: np.ndarray, am1: float,
                       logs: Callable[[np.ndarray, np.ndarray, np.ndarray], None]) -> np.ndarray:
    """``1 - exp(log h + (a-1) log w)`` over ``v`` in cache-sized chunks: ``logs(chunk, o, u)``
    writes log h into ``o`` and log w into ``u``."""
    out = np.empty_like(v)
    tmp = np.empty(min(_CHUNK, len(v)))
    for s in range(0, len(v), _CHUNK):
        vv, o = v[s:s + _CHUNK], out[s:s + _CHUNK]
        u = tmp[:len(vv)]
        logs(vv, o, u)
        u *= am1
        o += u
        np.expm1(o, out=o)
        np.negative(o, out=o)
    return out


def _om_series(coef: list[float], am1: float, z: np.ndarray) -> np.ndarray:
    """1 - (1-z)^(a-1) (1 + z sum_k coef[k] z^k) (``coef`` = Gauss coefficients from k = 1)."""
    def logs(zz: np.ndarray, o: np.ndarray, u: np.ndarray) -> None:
        _horner(coef, zz, o)
        o *= zz  # h - 1, kept apart from the 1 so that small t loses nothing
        np.log1p(o, out=o)
        np.negative(zz, out=u)
        np.log1p(u, out=u)
    return _one_minus_chunked(z, am1, logs)


def _om_taylor(coef: list[float], w0: float, half: float, am1: float, w: np.ndarray
               ) -> np.ndarray:
    """1 - w^(a-1) sum_k coef[k] ((w - w0)/half)^k."""
    scale = 1.0 / half

    def logs(ww: np.ndarray, o: np.ndarray, u: np.ndarray) -> None:
        np.subtract(ww, w0, out=u)
        u *= scale
        _horner(coef, u, o)
        np.log(o, out=o)
        np.log(ww, out=u)
    return _one_minus_chunked(w, am1, logs)


def _series_reach(coef: np.ndarray) -> tuple[int, int]:
    """(d, K): the Gauss series with coefficients ``coef`` (k = 1..) gets within _EPS of h for
    z <= _Z_EDGES[d] in K terms; d = -1 when it does not even reach the first edge."""
    with np.errstate(all="ignore"):
        terms = np.abs(coef) * _Z_POWERS  # (edges, K)
        tail = np.cumsum(terms[:, ::-1], axis=1)[:, ::-1]  # tail[e, j] = sum over k > j
        rest = terms[:, -1] * _Z_EDGES / _W_EDGES  # beyond the last coefficient (geometric)
        h = 1.0 + (coef * _Z_POWERS).sum(axis=1)
        target = _EPS * 0.5 * np.minimum(1.0, np.abs(h))
        done = (tail + rest[:, None]) < target[:, None]
        # rounding: Horner's error is ~1e-16 sum |terms|; keep it below ~5e-15 |h|
        stable = tail[:, 0] <= 32.0 * np.abs(h)
    n_terms = np.maximum(np.where(done.any(axis=1), done.argmax(axis=1), _SERIES_TERMS + 1), 1)
    ok = np.isfinite(h) & (n_terms <= _SERIES_CAP) & stable
    if not ok[0]:
        usable = bool(np.isfinite(h[0]) and n_terms[0] <= _SERIES_TERMS and stable[0])
        return (0, int(n_terms[0])) if usable else (-1, 0)
    d = len(ok) - 1 if ok.all() else int(np.argmin(ok)) - 1
    return d, int(n_terms[d])


def _taylor_coefficients(A: float, B: float, C: np.ndarray, band: np.ndarray
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Taylor coefficients of h = 2F1(A, B; C; z) in powers of v = (w - w0)/half (|v| <= 1 on
    the band) at the centres of the given bands (one column per (C, band) pair), the number of
    terms each needs, and whether the expansion is usable.

    With z = z0 + half u, the coefficients e_j of h in powers of u follow from the
    hypergeometric equation (coefficient of u^j; v = -u):
    ``z0 w0 (j+2)(j+1) e_{j+2} = -half (j+1)((w0 - z0) j + C - (A+B+1) z0) e_{j+1}
    + half^2 (AB + (A+B+1) j + j(j-1)) e_j``.
    """
    z0, w0, half = _Z0[band], _W0[band], _HALF[band]
    n = _TAYLOR_TERMS
    d = np.empty((n + 1, len(band)))
    with np.errstate(all="ignore"):
        d[0] = hyp2f1(A, B, C, z0)
        d[1] = half * A * B / C * hyp2f1(A + 1.0, B + 1.0, C + 1.0, z0)
        p0, p1 = z0 * w0, w0 - z0
        q0, q1, s = C - (A + B + 1.0) * z0, -(A + B + 1.0), -A * B
        h1, h2 = half / p0, half * half / p0
        for j in range(n - 1):
            d[j + 2] = -(h1 * (j + 1) * (p1 * j + q0) * d[j + 1]
                         + h2 * (q1 * j - j * (j - 1) + s) * d[j]) / ((j + 2) * (j + 1))
        d[1::2] *= -1.0  # powers of v = -u
        terms = np.abs(d)
        low = terms[0] - terms[1:].sum(axis=0)  # |h| >= low on the band
        tail = np.cumsum(terms[::-1], axis=0)[::-1]  # tail[j] = sum over k >= j
        done = tail < _EPS * low
        n_terms = np.where(done.any(axis=0), done.argmax(axis=0), n + 1)
        ok = (np.all(np.isfinite(d), axis=0) & (low > 0.25 * terms[0])
              & (terms[-1] < 1e-3 * _EPS * low))
    return d, np.maximum(n_terms, 1), ok


def _sort_rows(x: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """Row order by (x, beta).

    Usually one ``np.sort`` of packed uint64 keys (frequency | the leading bits of beta's IEEE
    pattern, monotone for beta > 0 | row number): rows whose beta agree to 3e-8 relative may
    stay in row order, which moves a band edge by as much and changes nothing else.
    """
    n = len(x)
    top = float(x.max())
    x_bits = int(top).bit_length() if top < 2.0**31 else 64
    i_bits = max(int(n - 1).bit_length(), 1)
    b_bits = 64 - x_bits - i_bits
    if b_bits >= 36:  # >= 25 mantissa bits of beta
        u = np.uint64
        key = beta.view(u) >> u(63 - b_bits)
        key <<= u(i_bits)
        key |= np.arange(n, dtype=u)
        if x_bits:
            key |= x.astype(u) << u(b_bits + i_bits)
        key.sort()
        key &= u((1 << i_bits) - 1)
        return key.astype(np.int64)
    return np.lexsort((beta, x))


def _one_minus_g_sum(params: np.ndarray, x: np.ndarray, beta: np.ndarray, times: np.ndarray,
                     weights: np.ndarray) -> np.ndarray:
    """``sum_i weights[i] (1 - g(x_j, beta_j, times[i]))`` for every customer j, where
    ``g = (beta/(beta+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; t/(beta+t))`` and beta = alpha + T.

    Identical (x, beta) rows are evaluated once; see the comment above for the method.
    """
    r, _, a, b = params
    steps = [(float(t), float(c)) for t, c in zip(times, weights, strict=True)
             if t > 0 and c != 0]
    n = len(x)
    if n * len(steps) < _MIN_ELEMENTS:
        out = np.zeros(n)
        for t, c in steps:
            out += c * _one_minus_g_rows(params, x, beta, np.full(n, t))
        return out
    order = _sort_rows(x, beta)
    xs, bs = x[order], beta[order]
    first = np.empty(n, dtype=bool)
    first[0] = True
    np.not_equal(bs[1:], bs[:-1], out=first[1:])
    first[1:] |= xs[1:] != xs[:-1]
    n_u = int(np.count_nonzero(first))
    inverse = None
    if n_u < n:  # identical rows (e.g. times in whole days): evaluate each once
        inverse = np.cumsum(first) - 1
        xs, bs = xs[first], bs[first]
    # runs of one frequency, cut into blocks of at most _GROUP_ROWS rows (bounded memory)
    cut = np.flatnonzero(xs[1:] != xs[:-1]) + 1
    starts = np.concatenate([np.arange(lo, hi, _GROUP_ROWS) for lo, hi in
                             zip(np.append(0, cut).tolist(), np.append(cut, n_u).tolist(),
                                 strict=True)])
    total = np.zeros(n_u)
    slow: list[tuple[int, int, float, float]] = []  # (row from, row to, t, weight) for scipy
    plans = _plan_groups(params, xs, bs, starts, np.append(starts[1:], n_u), steps, slow)
    if plans:
        A, B = a + b - 1.0 - r, a - 1.0
        lane_c = np.concatenate([np.full(len(p[4]), a + b - 1.0 + float(xs[p[0]])) for p in plans])
        lane_band = np.concatenate([p[4] for p in plans])
        taylor = _taylor_coefficients(A, B, lane_c, lane_band)
        lane0 = 0
        for lo, hi, d, series, bands in plans:
            _evaluate_group(params, float(xs[lo]), bs[lo:hi], total[lo:hi], d, series, bands,
                            taylor, lane0, steps, slow, lo)
            lane0 += len(bands)
    if slow:
        idx = np.concatenate([np.arange(p0, p1) for p0, p1, _, _ in slow])
        lengths = [p1 - p0 for p0, p1, _, _ in slow]
        om = _one_minus_g_rows(params, xs[idx], bs[idx],
                               np.repeat([s[2] for s in slow], lengths))
        om *= np.repeat([s[3] for s in slow], lengths)
        total += np.bincount(idx, weights=om, minlength=n_u)
    if inverse is not None:
        total = total[inverse]
    out = np.empty(n)
    out[order] = total
    return out


def _plan_groups(params: np.ndarray, xs: np.ndarray, bs: np.ndarray, starts: np.ndarray,
                 ends: np.ndarray, steps: list[tuple[float, float]],
                 slow: list[tuple[int, int, float, float]]
                 ) -> list[tuple[int, int, int, list[float], np.ndarray]]:
    """Per frequency (rows lo:hi): the band edge d the Gauss series reaches, its coefficients
    and the Taylor bands below it that the rows need; small frequencies go to ``slow``."""
    r, _, a, b = params
    A, B = a + b - 1.0 - r, a - 1.0
    k = np.arange(_SERIES_TERMS)
    t_max = max(t for t, _ in steps)
    plans = []
    for lo, hi in zip(starts.tolist(), ends.tolist(), strict=True):
        C = a + b - 1.0 + float(xs[lo])
        d = -1
        if (hi - lo) * len(steps) >= _MIN_ELEMENTS and C > 0:
            with np.errstate(all="ignore"):
                coef = np.cumprod((A + k) * (B + k) / ((C + k) * (k + 1.0)))
            d, n_series = _series_reach(coef)
        if d < 0:
            slow.extend((lo, hi, t, c) for t, c in steps)
            continue
        w_min = bs[lo] / (bs[lo] + t_max)
        last = min(int(np.count_nonzero(_W_EDGES > w_min)) - 1, len(_Z0) - 1)
        plans.append((lo, hi, d, coef[:n_series].tolist(), np.arange(d, last + 1)))
    return plans


def _evaluate_group(params: np.ndarray, x: float, bg: np.ndarray, acc: np.ndarray, d: int,
                    series: list[float], bands: np.ndarray,
                    taylor: tuple[np.ndarray, np.ndarray, np.ndarray], lane0: int,
                    steps: list[tuple[float, float]],
                    slow: list[tuple[int, int, float, float]], offset: int) -> None:
    """Add ``weight * (1 - g)`` over all horizons to ``acc`` for one frequency (rows sorted by
    beta = ``bg``): one polynomial per region (Gauss series or band), checked against scipy."""
    coef, n_terms, usable = taylor
    am1 = params[2] - 1.0
    w_asc = _W_EDGES[d:][::-1]
    ratio = w_asc / (1.0 - w_asc)
    n_edges, n_rows = len(ratio), len(bg)
    last = d + len(bands) - 1  # the last band with coefficients
    runs: dict[int, list[tuple[float, float, int, int]]] = {}
    for t, c in steps:
        pos = np.concatenate([[0], np.searchsorted(bg, t * ratio), [n_rows]]).tolist()
        for i in range(n_edges + 1):
            p0, p1 = pos[i], pos[i + 1]
            if p1 <= p0:
                continue
            # i = 0: w below the last edge (scipy); i = n_edges: the Gauss series; else a band
            region = -1 if i == n_edges else len(_W_EDGES) - 1 - i
            if i == 0 or (region >= 0 and (region > last or not usable[lane0 + region - d])):
                slow.append((offset + p0, offset + p1, t, c))
            else:
                runs.setdefault(region, []).append((t, c, p0, p1))
    for region, pieces in runs.items():
        val = np.empty(sum(p1 - p0 for _, _, p0, p1 in pieces))
        off = 0
        for t, _, p0, p1 in pieces:
            v = val[off:off + p1 - p0]
            np.add(bg[p0:p1], t, out=v)
            np.divide(t if region < 0 else bg[p0:p1], v, out=v)  # z for the series, else w
            off += p1 - p0
        with np.errstate(all="ignore"):
            if region < 0:
                om = _om_series(series, am1, val)
            else:
                j = lane0 + region - d
                om = _om_taylor(coef[:n_terms[j], j].tolist(), float(_W0[region]),
                                float(_HALF[region]), am1, val)
        _check_run(params, x, bg, om, pieces)
        off = 0
        for _, c, p0, p1 in pieces:
            seg = om[off:off + p1 - p0]
            seg *= c
            acc[p0:p1] += seg
            off += p1 - p0


def _check_run(params: np.ndarray, x: float, bg: np.ndarray, om: np.ndarray,
               pieces: list[tuple[float, float, int, int]]) -> None:
    """Compare a run with scipy at both ends of each piece (where truncation and rounding
    errors peak); recompute the whole run with scipy if they disagree (or scipy gives NaN)."""
    lengths = np.array([p1 - p0 for _, _, p0, p1 in pieces])
    ends = np.cumsum(lengths)
    probe = np.concatenate([ends - lengths, ends - 1])
    rows = np.array([p[2] for p in pieces] + [p[3] - 1 for p in pieces])
    ts = np.array([p[0] for p in pieces] * 2)
    ref = _one_minus_g_rows(params, np.full(len(rows), x), bg[rows], ts)
    with np.errstate(invalid="ignore"):
        good = (np.abs(om[probe] - ref)
                <= _CHECK_RTOL * np.abs(ref) + _CHECK_GTOL * np.abs(1.0 - ref))
    if not good.all():
        all_rows = np.concatenate([np.arange(p0, p1) for _, _, p0, p1 in pieces])
        om[:] = _one_minus_g_rows(params, np.full(len(om), x), bg[all_rows],
                                  np.repeat([p[0] for p in pieces], lengths))


def _one_minus_g(params: np.ndarray, x: np.ndarray, beta: np.ndarray, t: np.ndarray
                 ) -> np.ndarray:
    """1 - g per customer for one horizon per customer (``t`` an array like ``x``)."""
    if len(t) == 0 or np.all(t == t[0]):
        return _one_minus_g_sum(params, x, beta, t[:1], np.ones(min(len(t), 1)))
    out = np.zeros(len(x))
    pos = t > 0  # t = 0: nothing happens, 1 - g = 0
    # g depends on (beta, t) only through beta/t: scale every horizon to 1.
    out[pos] = _one_minus_g_sum(params, x[pos], beta[pos] / t[pos], np.ones(1), np.ones(1))
    return out


def _expected_purchases(params: np.ndarray, t: np.ndarray, x: np.ndarray, tx: np.ndarray,
                        T: np.ndarray) -> np.ndarray:
    """E[Y(t) | x, t_x, T] (eq. 10): expected repeat purchases in (T, T+t]."""
    r, alpha, a, b = params
    a, b = _safe_ab(a, b)
    p = np.array([r, alpha, a, b])
    one_minus_g = _one_minus_g(p, x, alpha + T, t)
    return (a + b + x - 1.0) / (a - 1.0) * one_minus_g * _probability_alive(p, x, tx, T)


def _discounted_purchases(params: np.ndarray, times: np.ndarray, discounts: np.ndarray,
                          x: np.ndarray, tx: np.ndarray, T: np.ndarray) -> np.ndarray:
    """sum_i discounts[i] * (E[Y(times[i])] - E[Y(times[i-1])]), times[-1] := 0.

    Rearranged as ``sum_i (discounts[i] - discounts[i+1]) E[Y(times[i])]`` so that every
    horizon is one pass of :func:`_one_minus_g_sum` over the customers.
    """
    r, alpha, a, b = params
    a, b = _safe_ab(a, b)
    p = np.array([r, alpha, a, b])
    d = np.asarray(discounts, dtype=float)
    weights = d - np.append(d[1:], 0.0)
    acc = _one_minus_g_sum(p, x, alpha + T, np.asarray(times, dtype=float), weights)
    return (a + b + x - 1.0) / (a - 1.0) * acc * _probability_alive(p, x, tx, T)


def _expected_purchases_new(params: np.ndarray, t: np.ndarray) -> np.ndarray:
    """E[X(t)] for a randomly chosen new customer (eq. 9)."""
    r, alpha, a, b = params
    a, b = _safe_ab(a, b)
    tt = np.atleast_1d(t).astype(float).ravel()
    zero = np.zeros(len(tt))
    om = _one_minus_g(np.array([r, alpha, a, b]), zero, np.full(len(tt), alpha), tt)
    out = (a + b - 1.0) / (a - 1.0) * om
    return out.reshape(np.shape(t))


def _probability_of_n(params: np.ndarray, n: np.ndarray, t: np.ndarray) -> np.ndarray:
    """P(X(t) = n) (eq. 8); the NBD tail ``1 - sum_{j<n} NB(j)`` is ``I_{t/(alpha+t)}(n, r)``."""
    r, alpha, a, b = params
    n, t = np.broadcast_arrays(np.asarray(n, dtype=float), np.asarray(t, dtype=float))
    with np.errstate(divide="ignore", invalid="ignore"):
        log_q = np.log(alpha) - np.log(alpha + t)  # log(alpha/(alpha+t))
        log_p = np.log(t) - np.log(alpha + t)
        log_p = np.where(t > 0, log_p, -np.inf)
        nb = (gammaln(r + n) - gammaln(r) - gammaln(n + 1.0) + r * log_q
              + np.where(n > 0, n * log_p, 0.0))
        first = np.exp(betaln(a, b + n) - betaln(a, b) + nb)
        tail = betainc(np.maximum(n, 1.0), r, np.exp(log_p))
        second = np.where(
            n > 0, np.exp(betaln(a + 1.0, np.maximum(b + n - 1.0, 1e-300)) - betaln(a, b)) * tail,
            0.0,
        )
    return first + second


def _simulate(params: np.ndarray, T: np.ndarray, rng: np.random.Generator
              ) -> tuple[np.ndarray, np.ndarray]:
    """Draw (frequency, recency) per customer of age T from the BG/NBD process."""
    r, alpha, a, b = params
    lam = rng.gamma(r, 1.0 / alpha, size=len(T))
    p = rng.beta(a, b, size=len(T))
    n_events = rng.poisson(lam * T)  # purchases in (0, T] had nobody dropped out
    repeats_before_drop = rng.geometric(p)  # dropout after the d-th repeat purchase
    x = np.minimum(n_events, repeats_before_drop)
    tx = np.zeros(len(T))
    pos = x > 0
    # The x-th of N uniform event times on (0, T] is T * Beta(x, N - x + 1).
    tx[pos] = T[pos] * rng.beta(x[pos], n_events[pos] - x[pos] + 1)
    return x.astype(float), tx


# --------------------------------------------------------------------------------------------
# Estimator
# --------------------------------------------------------------------------------------------
class BetaGeoModel(ProbabilisticModel):
    """BG/NBD model fitted by maximum likelihood (Fader, Hardie & Lee 2005).

    Parameters
    ----------
    penalizer:
        L2 penalty ``penalizer * (r^2 + alpha^2 + a^2 + b^2)`` added to the mean negative
        log-likelihood (lifetimes' ``penalizer_coef`` convention). 0 = plain MLE.
    tol:
        L-BFGS-B tolerance on the projected gradient of the mean negative log-likelihood with
        respect to the log-parameters.
    max_iter:
        Iteration limit of the optimiser.

    Learned attributes: ``params_`` (r, alpha, a, b), ``log_likelihood_`` (total, unpenalised),
    ``n_customers_``, ``converged_``, ``n_iter_``, ``diagnostics_``.
    """

    _param_names = PARAMS
    _init_names = ("penalizer", "tol", "max_iter")

    def __init__(self, *, penalizer: float = 0.0, tol: float = 1e-8, max_iter: int = 1000):
        self.penalizer = penalizer
        self.tol = tol
        self.max_iter = max_iter

    # -- fit ----------------------------------------------------------------------------------
    @blas_single_thread
    def fit(self, frequency: Any, recency: Any, T: Any) -> BetaGeoModel:
        """Maximum-likelihood fit on one row per customer; returns ``self``.

        Identical (frequency, recency, T) rows are collapsed into weighted unique rows first,
        and the optimiser works on log-parameters with the analytic gradient.
        """
        check_hyper(self)
        cols = validate_rfm(frequency, recency, T)
        x, tx, t = (cols.values[k] for k in ("frequency", "recency", "T"))
        comp = compress({"x": x, "tx": tx, "T": t})
        cx, ctx, cT, w = comp.columns["x"], comp.columns["tx"], comp.columns["T"], comp.weights
        notes, identified = data_notes(x, tx, t, comp, cols)

        data = _FitData(cx, ctx, cT, w)

        def objective(th: np.ndarray) -> tuple[float, np.ndarray]:
            return _objective(th, data, float(self.penalizer))

        theta0 = _start(cx, cT, w)
        if np.all(t == 0):
            result = skipped(objective, theta0, "no customer has T > 0")
        else:
            result = minimize_nll(objective, theta0, names=PARAMS, tol=float(self.tol),
                                  max_iter=int(self.max_iter), n_obs=float(w.sum()))
        result.converged = result.converged and identified
        params = np.exp(result.theta)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            ll = _loglik(params, cx, ctx, cT)
        self._store_fit(dict(zip(PARAMS, params, strict=True)), float(w @ ll), cols.n, result,
                        notes)
        return self

    # -- helpers ------------------------------------------------------------------------------


    # -- public predictions ---------------------------------------------------------------------
    def log_likelihood_per_customer(self, frequency: Any, recency: Any, T: Any
                                    ) -> np.ndarray | Any:
        """Log-likelihood of each customer's (x, t_x) given T (FHL 2005, eq. 6)."""
        p = self._p()
        cols, x, tx, t = self._rfm(frequency, recency, T)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            ll = _loglik(p, x, tx, t)
        return wrap(ll, cols, "log_likelihood")

    def probability_alive(self, frequency: Any, recency: Any, T: Any) -> np.ndarray | Any:
        """P(customer still active at T | x, t_x, T) (FHL 2005, eq. 11)."""
        p = self._p()
        cols, x, tx, t = self._rfm(frequency, recency, T)
        with np.errstate(over="ignore"):
            out = _probability_alive(p, x, tx, t)
        return wrap(out, cols, "probability_alive")

    def expected_purchases(self, t: Any, frequency: Any, recency: Any, T: Any
                           ) -> np.ndarray | Any:
        """Expected repeat purchases in the next ``t`` time units, given the history (eq. 10).

        ``t`` is a scalar or one value per customer.
        """
        p = self._p()
        cols, x, tx, age = self._rfm(frequency, recency, T)
        tt = np.broadcast_to(as_times(t), (cols.n,)).astype(float)
        with np.errstate(over="ignore"):
            out = _expected_purchases(p, tt, x, tx, age)
        return wrap(out, cols, "expected_purchases")

    def expected_purchases_new(self, t: Any) -> np.ndarray | float:
        """Unconditional E[X(t)]: repeat purchases of a new customer in ``t`` units (eq. 9)."""
        p = self._p()
        out = _expected_purchases_new(p, as_times(t))
        return float(out) if np.ndim(out) == 0 else out

    def probability_of_n_purchases(self, n: Any, t: Any) -> np.ndarray | float:
        """P(X(t) = n): probability of exactly ``n`` repeat purchases in ``t`` units (eq. 8)."""
        p = self._p()
        nn = np.asarray(n, dtype=float)
        if np.any(nn < 0) or np.any(nn != np.round(nn)):
            raise ParameterError(f"n: must be whole numbers >= 0, got {n!r}")
        out = _probability_of_n(p, nn, as_times(t))
        return float(out) if np.ndim(out) == 0 else out

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
        with np.errstate(over="ignore"):
            return _discounted_purchases(self._p(), times, discounts, x, tx, T)
