"""1 - g, the hypergeometric factor of BG/NBD's expected purchases (Fader, Hardie & Lee
2005, eqs. 9-10), for many customers and horizons at once.

``g = (beta/(beta+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; t/(beta+t))``, beta = alpha + T: row by row
with scipy's ``hyp2f1`` (:func:`_one_minus_g_rows`, the reference and the fallback), and for
many (customer, horizon) pairs at once by Gauss and band-wise Taylor series of the same 2F1,
each run checked against scipy (:func:`one_minus_g_sum`; the method is described above it).
The predictions of :mod:`loyalist.clv.bgnbd` are built on it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.special import hyp2f1


def _log_g_beta(params: np.ndarray, x: np.ndarray, beta: np.ndarray, t: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    """log |g| and where g < 0, for ``g = (beta/(beta+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; z)``,
    z = t/(beta+t), beta = alpha + T.

    Evaluated through Euler's transformation as
    ``(1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z)``: the big (r+x) exponent cancels analytically,
    so the hypergeometric factor stays O(1) and nothing overflows for large x. Row by row with
    scipy's ``hyp2f1``: the reference for (and fallback of) :func:`one_minus_g_sum`.

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


def one_minus_g_sum(params: np.ndarray, x: np.ndarray, beta: np.ndarray, times: np.ndarray,
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
