"""BG/NBD: the beta-geometric / negative binomial model of repeat purchasing.

Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005), "'Counting Your Customers' the Easy Way:
An Alternative to the Pareto/NBD Model", *Marketing Science* 24(2), 275-284.

While active, a customer buys at Poisson rate ``lambda ~ Gamma(r, alpha)``; after each repeat
purchase they drop out with probability ``p ~ Beta(a, b)``. Input per customer: ``frequency``
(x, repeat purchases), ``recency`` (t_x, time of the last purchase since the first) and ``T``
(time since the first purchase), all in one time unit (e.g. weeks).

The hypergeometric factor of the expected purchases (eqs. 9-10) is evaluated in
:mod:`loyalist.clv.hyp2f1_series`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import betainc, betaln, digamma, expit, gammaln

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
from loyalist.clv.hyp2f1_series import one_minus_g_sum
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


def _one_minus_g(params: np.ndarray, x: np.ndarray, beta: np.ndarray, t: np.ndarray
                 ) -> np.ndarray:
    """1 - g per customer for one horizon per customer (``t`` an array like ``x``)."""
    if len(t) == 0 or np.all(t == t[0]):
        return one_minus_g_sum(params, x, beta, t[:1], np.ones(min(len(t), 1)))
    out = np.zeros(len(x))
    pos = t > 0  # t = 0: nothing happens, 1 - g = 0
    # g depends on (beta, t) only through beta/t: scale every horizon to 1.
    out[pos] = one_minus_g_sum(params, x[pos], beta[pos] / t[pos], np.ones(1), np.ones(1))
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
    horizon is one pass of :func:`one_minus_g_sum` over the customers.
    """
    r, alpha, a, b = params
    a, b = _safe_ab(a, b)
    p = np.array([r, alpha, a, b])
    d = np.asarray(discounts, dtype=float)
    weights = d - np.append(d[1:], 0.0)
    acc = one_minus_g_sum(p, x, alpha + T, np.asarray(times, dtype=float), weights)
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
            out = _expected_purchases(p, tt, x, tx, age) + 0.0  # + 0.0: no -0.0 at t = 0
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
