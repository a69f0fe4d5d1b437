"""Gamma-Gamma model of spend per transaction, and discounted customer lifetime value.

Colombo, R. & Jiang, W. (1999), "A stochastic RFM model", *Journal of Interactive Marketing*
13(3), 2-12; Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005), "RFM and CLV: Using Iso-Value
Curves for Customer Base Analysis", *Journal of Marketing Research* 42(4), 415-430; likelihood
and conditional mean as in Fader & Hardie, "The Gamma-Gamma Model of Monetary Value" (2013,
brucehardie.com/notes/025).

A customer's transaction values are Gamma(p, nu) with ``nu ~ Gamma(q, gamma)`` across customers;
the model is fitted on each repeat customer's average repeat-transaction value ``m`` over
``x = frequency`` transactions. Spend is assumed independent of the transaction process.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
from scipy.special import digamma, gammaln

from loyalist.clv._fitting import (
    LOG_LOWER,
    ProbabilisticModel,
    as_columns,
    blas_single_thread,
    check_hyper,
    compress,
    minimize_nll,
    validate_rfm,
    wrap,
)
from loyalist.errors import DataError, ParameterError

PARAMS = ("p", "q", "gamma")


def _loglik_terms(params: np.ndarray, x: np.ndarray, m: np.ndarray, grad: bool
                  ) -> tuple[np.ndarray, np.ndarray | None]:
    """Per-row log density of the average spend m over x transactions (note 025, eq. 1a).

    ``log f = lnG(px+q) - lnG(px) - lnG(q) + q ln(gamma) + (px-1) ln m + px ln x
    - (px+q) ln(x m + gamma)``; gradient rows are d/dp, d/dq, d/dgamma.
    """
    p, q, gamma = params
    px = p * x
    log_m = np.log(m)
    log_xm_g = np.log(x * m + gamma)
    ll = (gammaln(px + q) - gammaln(px) - gammaln(q) + q * np.log(gamma)
          + (px - 1.0) * log_m + px * np.log(x) - (px + q) * log_xm_g)
    if not grad:
        return ll, None
    psi_pxq = digamma(px + q)
    g = np.empty((3, len(x)))
    g[0] = x * (psi_pxq - digamma(px) + log_m + np.log(x) - log_xm_g)
    g[1] = psi_pxq - digamma(q) + np.log(gamma) - log_xm_g
    g[2] = q / gamma - (px + q) / (x * m + gamma)
    return ll, g


def _params_from_theta(theta: np.ndarray, q_gt_1: bool) -> tuple[np.ndarray, np.ndarray]:
    """(p, q, gamma) and d params / d theta. With ``q_gt_1`` the q coordinate is log(q - 1)."""
    e = np.exp(theta)
    if q_gt_1:
        params = np.array([e[0], 1.0 + e[1], e[2]])
    else:
        params = e.copy()
    return params, e


def _objective(theta: np.ndarray, x: np.ndarray, m: np.ndarray, w: np.ndarray,
               penalizer: float, q_gt_1: bool) -> tuple[float, np.ndarray]:
    params, dparams = _params_from_theta(theta, q_gt_1)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        ll, g = _loglik_terms(params, x, m, grad=True)
        assert g is not None
        wsum = w.sum()
        value = -float(w @ ll) / wsum + penalizer * float(params @ params)
        grad = (-(g @ w) / wsum + 2.0 * penalizer * params) * dparams
    return value, grad


def _start(x: np.ndarray, m: np.ndarray, w: np.ndarray, q_gt_1: bool) -> np.ndarray:
    """p = 1, q = 2 and gamma so that the population mean p gamma/(q-1) is the mean spend."""
    mean = float(w @ m) / float(w.sum())
    return np.log(np.array([1.0, 1.0 if q_gt_1 else 2.0, max(mean, 1e-12)]))


def _expected_spend(params: np.ndarray, x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """E[Z | x, m] = (p gamma + p x m) / (p x + q - 1) (note 025, eq. 5); x = 0 -> p gamma/(q-1)."""
    p, q, gamma = params
    return (p * gamma + p * x * m) / (p * x + q - 1.0)


def positive_spend(frequency: Any, monetary_value: Any) -> tuple[np.ndarray, str | None]:
    """Which customers a Gamma-Gamma model can be fitted on from a store's summary, and a note
    of the repeat customers left out: those whose repeat purchases average zero or less (free
    orders, or returns netted against them). :meth:`GammaGammaModel.fit` refuses them (the
    model is of positive spend), which would leave a whole store without a spend model for a
    handful of such customers (CDNOW: 1 of 11,146). Frequency-0 customers stay in (the fit
    drops them itself and says so)."""
    x = np.nan_to_num(np.asarray(frequency, dtype=float), nan=0.0)
    m = np.asarray(monetary_value, dtype=float)
    out = (x > 0) & ~(m > 0)
    if not out.any():
        return ~out, None
    if out.sum() == (x > 0).sum():
        raise DataError(f"monetary_value: all {int(out.sum()):,} repeat customers' repeat "
                        "purchases average zero or less (free or returned orders); Gamma-Gamma "
                        "needs customers with positive spend")
    return ~out, (f"Gamma-Gamma fitted without {int(out.sum()):,} of {int((x > 0).sum()):,} "
                  "repeat customers whose repeat purchases average zero or less (free or "
                  "returned orders); their spend per order is the model's estimate for an "
                  "average of 0")


class GammaGammaModel(ProbabilisticModel):
    """Gamma-Gamma spend model fitted by maximum likelihood.

    Parameters
    ----------
    penalizer:
        L2 penalty ``penalizer * (p^2 + q^2 + gamma^2)`` on the mean negative log-likelihood.
    tol:
        L-BFGS-B tolerance on the projected gradient (log-parameters, mean NLL).
    max_iter:
        Iteration limit of the optimiser.
    require_q_gt_1:
        Keep q > 1 (default), so the population mean spend ``p gamma / (q - 1)`` is finite and
        the conditional expectation is a proper weighted average. The constraint is built into
        the parametrisation (q = 1 + exp(theta)).

    Learned attributes: ``params_`` (p, q, gamma), ``log_likelihood_``, ``n_customers_`` (repeat
    customers used), ``converged_``, ``n_iter_``, ``diagnostics_``.
    """

    _param_names = PARAMS
    _init_names = ("penalizer", "tol", "max_iter", "require_q_gt_1")

    def __init__(self, *, penalizer: float = 0.0, tol: float = 1e-8, max_iter: int = 1000,
                 require_q_gt_1: bool = True):
        self.penalizer = penalizer
        self.tol = tol
        self.max_iter = max_iter
        self.require_q_gt_1 = require_q_gt_1

    @blas_single_thread
    def fit(self, frequency: Any, monetary_value: Any) -> GammaGammaModel:
        """Fit on customers' repeat frequency and average repeat-transaction value.

        Customers with frequency 0 carry no spend information and are dropped (noted in
        ``diagnostics_``); every kept customer needs monetary_value > 0.
        """
        check_hyper(self)
        cols = as_columns([("frequency", frequency), ("monetary_value", monetary_value)],
                          integer=("frequency",))
        x, m = cols.values["frequency"], cols.values["monetary_value"]
        keep = x > 0
        n_keep = int(keep.sum())
        notes: list[str] = []
        if n_keep == 0:
            raise DataError(f"frequency: all {cols.n:,} customers have frequency 0, so no "
                            "repeat-transaction spend is observed; Gamma-Gamma needs customers "
                            "with at least one repeat purchase")
        if n_keep < cols.n:
            notes.append(f"dropped {cols.n - n_keep:,} of {cols.n:,} customers with frequency 0 "
                         "(no repeat transactions, no spend information)")
        bad = keep & (m <= 0)
        if bad.any():
            raise DataError(f"monetary_value: {int(bad.sum()):,} of {n_keep:,} repeat customers "
                            f"have an average spend <= 0, e.g. {cols.example(bad)}; the model "
                            "needs positive spend: remove them or net out returns upstream")
        xk, mk = x[keep], m[keep]
        comp = compress({"x": xk, "m": mk})
        cx, cm, w = comp.columns["x"], comp.columns["m"], comp.weights
        notes.append(f"compressed {n_keep:,} repeat customers to {comp.n_unique:,} unique "
                     "(frequency, monetary_value) rows")
        if comp.n_unique == 1:
            notes.append("all repeat customers have the same (frequency, monetary_value): "
                         "there is no heterogeneity in spend, so p, q and gamma are not "
                         "identified")
        if n_keep >= 3 and np.std(xk) > 0 and np.std(mk) > 0:
            corr = float(np.corrcoef(xk, mk)[0, 1])
            if abs(corr) > 0.3:
                notes.append(f"frequency and monetary_value are correlated (r = {corr:.2f}); "
                             "the Gamma-Gamma model assumes they are independent")
        q_gt_1 = bool(self.require_q_gt_1)
        names = ("p", "q-1" if q_gt_1 else "q", "gamma")
        result = minimize_nll(
            lambda th: _objective(th, cx, cm, w, float(self.penalizer), q_gt_1),
            _start(cx, cm, w, q_gt_1), names=names, tol=float(self.tol),
            max_iter=int(self.max_iter), n_obs=float(w.sum()), lower=np.full(3, LOG_LOWER),
        )
        if comp.n_unique == 1:
            result.converged = False
        params, _ = _params_from_theta(result.theta, q_gt_1)
        if q_gt_1 and result.theta[1] <= LOG_LOWER + 0.5:
            notes.append("q reached its lower limit 1 (require_q_gt_1=True): the data favour "
                         "q <= 1, a spend distribution without a finite mean (often a few "
                         "very large averages); check monetary_value for outliers")
        elif not q_gt_1 and params[1] <= 1.0:
            notes.append(f"q = {params[1]:.3g} <= 1: the population mean spend is infinite and "
                         "expected_spend is not defined; refit with require_q_gt_1=True")
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            ll, _ = _loglik_terms(params, cx, cm, grad=False)
        self._store_fit(dict(zip(PARAMS, params, strict=True)), float(w @ ll), n_keep, result,
                        notes)
        return self


    def _spend_params(self) -> np.ndarray:
        p = self._p()
        if p[1] <= 1.0:
            raise ParameterError(f"q = {p[1]:.4g} <= 1: the mean spend is infinite, so expected "
                                 "spend and CLV are undefined; refit with require_q_gt_1=True")
        return p

    def log_likelihood_per_customer(self, frequency: Any, monetary_value: Any
                                    ) -> np.ndarray | Any:
        """Log density of each customer's average spend (NaN where frequency is 0)."""
        p = self._p()
        cols = as_columns([("frequency", frequency), ("monetary_value", monetary_value)],
                          integer=("frequency",))
        x, m = cols.values["frequency"], cols.values["monetary_value"]
        out = np.full(cols.n, np.nan)
        ok = (x > 0) & (m > 0)
        ll, _ = _loglik_terms(p, x[ok], m[ok], grad=False)
        out[ok] = ll
        return wrap(out, cols, "log_likelihood")

    def expected_spend(self, frequency: Any, monetary_value: Any) -> np.ndarray | Any:
        """E[spend per transaction | x, m]: a credibility-weighted mix of the customer's average
        and the population mean p gamma/(q-1) (note 025, eq. 5)."""
        p = self._spend_params()
        cols = as_columns([("frequency", frequency), ("monetary_value", monetary_value)],
                          integer=("frequency",))
        out = _expected_spend(p, cols.values["frequency"], cols.values["monetary_value"])
        return wrap(out, cols, "expected_spend")

    def sample(self, frequency: Any, *, random_state: int | np.random.Generator | None = None
               ) -> np.ndarray:
        """Simulate average repeat spend for customers with the given frequencies (0 if x=0)."""
        p, q, gamma = self._p()
        x = as_columns([("frequency", frequency)], integer=("frequency",)).values["frequency"]
        rng = np.random.default_rng(random_state)
        nu = rng.gamma(q, 1.0 / gamma, size=len(x))
        out = np.zeros(len(x))
        pos = x > 0
        out[pos] = rng.gamma(p * x[pos], 1.0 / (x[pos] * nu[pos]))
        return out

    def clv(self, bg_model: Any, frequency: Any, recency: Any, T: Any, monetary_value: Any, *,
            horizon: int, time_unit_per_period: float, discount_rate: float = 0.01
            ) -> np.ndarray | Any:
        """Discounted customer lifetime value over ``horizon`` periods.

        ``sum_{i=1..horizon} E[spend] * (E[Y(i k)] - E[Y((i-1) k)]) / (1 + discount_rate)^i``
        with ``k = time_unit_per_period`` (e.g. 4.345 weeks per month when the transaction
        model is in weeks and periods are months): the same discounted-cash-flow scheme as
        lifetimes' ``customer_lifetime_value``. ``bg_model`` is a fitted
        :class:`~loyalist.clv.BetaGeoModel` or :class:`~loyalist.clv.ParetoNBDModel` (or any
        object with ``expected_purchases(t, frequency, recency, T)``).
        """
        p = self._spend_params()
        if (not _is_real(horizon) or not np.isfinite(horizon) or int(horizon) != horizon
                or horizon < 1):
            raise ParameterError(f"horizon: number of periods must be a positive integer, got "
                                 f"{horizon!r}")
        if not (_is_real(time_unit_per_period) and np.isfinite(time_unit_per_period)
                and time_unit_per_period > 0):
            raise ParameterError("time_unit_per_period: must be > 0 (a number of model time "
                                 f"units per period, e.g. 4.345 weeks per month), got "
                                 f"{time_unit_per_period!r}")
        if not (_is_real(discount_rate) and np.isfinite(discount_rate) and discount_rate > -1):
            raise ParameterError(f"discount_rate: must be > -1 (a number per period, e.g. 0.01; "
                                 f"0 for no discounting), got {discount_rate!r}")
        check = getattr(bg_model, "_check_fitted", None)
        if check is not None:
            check()
        rfm = validate_rfm(frequency, recency, T)
        money = as_columns([("monetary_value", monetary_value)]).values["monetary_value"]
        if len(money) != rfm.n:
            raise DataError(f"monetary_value has {len(money):,} values but frequency has "
                            f"{rfm.n:,}; pass one value per customer")
        x, tx, age = (rfm.values[k] for k in ("frequency", "recency", "T"))
        steps = np.arange(1, int(horizon) + 1, dtype=float)
        times = steps * float(time_unit_per_period)
        discounts = (1.0 + float(discount_rate)) ** -steps
        if hasattr(bg_model, "_discounted_expected_purchases"):
            purchases = bg_model._discounted_expected_purchases(times, discounts, x, tx, age)
        else:
            purchases = np.zeros(rfm.n)
            prev = np.zeros(rfm.n)
            for t_i, d in zip(times, discounts, strict=True):
                cur = np.asarray(bg_model.expected_purchases(t_i, x, tx, age), dtype=float)
                purchases += d * (cur - prev)
                prev = cur
        out = _expected_spend(p, x, money) * purchases
        return wrap(out, rfm, "clv")


def _is_real(value: object) -> bool:
    """A real number (int, float, numpy number), not a bool and not text such as ``'30'``."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)
