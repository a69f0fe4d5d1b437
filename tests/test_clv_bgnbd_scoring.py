"""BG/NBD scoring at scale: the hypergeometric factor 1 - g of eqs. 9-10 for many customers.

``hyp2f1_series.one_minus_g_sum`` evaluates ``1 - (1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z)``
with Gauss series and band-wise Taylor series instead of one scipy ``hyp2f1`` call per value.
Layers: agreement with scipy row by row over a grid of parameters (extreme ones included), with
mpmath at 50 digits, with the small-horizon expansion (where scipy loses digits), the Taylor
coefficients against scipy's derivatives, the sort, the safety net, and that realistic data
really takes the fast path.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.special import hyp2f1, poch

from loyalist.clv import BetaGeoModel, GammaGammaModel, bgnbd, hyp2f1_series

CDNOW = (0.2426, 4.414, 0.7929, 2.426)
GRID = {
    "cdnow": CDNOW,
    "a_above_1": (2.0, 10.0, 2.5, 5.0),
    "tiny_r": (0.001, 1.0, 0.5, 3.0),
    "large_r": (20.0, 5.0, 0.8, 2.0),
    "very_large_r": (100.0, 50.0, 0.5, 0.7),
    "tiny_alpha": (0.5, 1e-6, 0.8, 2.4),  # z within 1e-7 of 1 for new customers
    "huge_alpha": (0.5, 1e6, 0.8, 2.4),  # z ~ 1e-5
    "a_near_1": (0.3, 3.0, 1.0 + 1e-5, 2.0),  # 1 - g = O(a-1)
    "large_a_b": (0.3, 3.0, 50.0, 100.0),
    "a_plus_b_below_1": (0.3, 3.0, 0.05, 0.2),  # C <= 0 for x = 0: scipy route
    "a_plus_b_well_below_1": (0.672, 46.95, 0.00587, 0.488),  # and g < 0 for most z
    "small_b": (5.0, 2.0, 3.0, 0.5),
    "r_equals_a": (0.7, 4.4, 0.7, 1.5),  # C - A - B whole: the logarithmic case at z = 1
}
HORIZONS = {
    "one": ([39.0], [1.0]),
    "long": ([1e4], [1.0]),
    "clv_12": (list(4.345 * np.arange(1, 13)), list(np.linspace(0.02, 0.01, 12))),
    "with_zero": ([0.0, 5.0], [1.0, -0.5]),
}


def _params(values: tuple[float, ...]) -> np.ndarray:
    p = np.array(values, dtype=float)
    p[2] = bgnbd._safe_a(p[2])
    return p


def _reference(p: np.ndarray, x: np.ndarray, beta: np.ndarray, times, weights) -> np.ndarray:
    """Row by row with scipy (the implementation before the fast path); g = (1-z)^(a-1) h is
    negative where h is (possible for x = 0 when a + b < 1)."""
    r, _, a, b = p
    out = np.zeros(len(x))
    for t, c in zip(times, weights, strict=True):
        if t > 0:
            z = t / (beta + t)
            h = hyp2f1(a + b - 1.0 - r, a - 1.0, a + b + x - 1.0, z)
            with np.errstate(divide="ignore", invalid="ignore"):
                log_g = (a - 1.0) * np.log1p(-z) + np.log(np.abs(h))
            out += c * np.where(h < 0, 1.0 + np.exp(log_g), -np.expm1(log_g))
    return out


def _customers(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Frequencies from 0 to 2,000 and ages from 0 to 1e5, with duplicated rows."""
    x = np.concatenate([np.zeros(800), rng.integers(1, 4, 800), rng.integers(4, 30, 600),
                        rng.integers(30, 2001, 400)]).astype(float)
    T = np.concatenate([np.zeros(50), rng.uniform(0, 1e-3, 250), rng.uniform(0, 200, 2000),
                        rng.uniform(0, 1e5, 300)])
    T[::7] = np.round(T[::7])  # whole weeks: identical (x, T) rows
    return x, T


@pytest.fixture
def fast_everywhere(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every frequency takes the fast path; returns the list of runs recomputed by scipy."""
    monkeypatch.setattr(hyp2f1_series, "_MIN_ELEMENTS", 1)
    fallbacks: list[float] = []
    check = hyp2f1_series._check_run

    def spy(params, x, bg, om, pieces):
        before = om.copy()
        check(params, x, bg, om, pieces)
        if not np.array_equal(before, om, equal_nan=True):
            fallbacks.append(x)

    monkeypatch.setattr(hyp2f1_series, "_check_run", spy)
    return fallbacks


@pytest.mark.parametrize("horizon", HORIZONS.values(), ids=HORIZONS.keys())
@pytest.mark.parametrize("values", GRID.values(), ids=GRID.keys())
def test_fast_path_matches_scipy_row_by_row(values, horizon, fast_everywhere) -> None:
    # Against mpmath: scipy is off by up to 3.5e-10 for r = 100 and small z (ours: 2e-16);
    # with a = 1 + 1e-5 both are off by up to 1.5e-9 near z = 1 (1 - g = O(a-1) cancels).
    rtol = {GRID["very_large_r"]: 1e-9, GRID["a_near_1"]: 1e-8}.get(values, 1e-10)
    p = _params(values)
    x, T = _customers(np.random.default_rng(1))
    times, weights = horizon
    fast = hyp2f1_series.one_minus_g_sum(p, x, p[1] + T, np.array(times), np.array(weights))
    ref = _reference(p, x, p[1] + T, times, weights)
    ok = np.isfinite(ref)  # scipy's hyp2f1 gives NaN for some large x near z = 1
    assert ok.mean() > 0.6
    # atol: both lose ~1e-16/|a-1| relative as a -> 1 (1 - g = O(a-1))
    np.testing.assert_allclose(fast[ok], ref[ok], rtol=rtol, atol=5e-15)


def test_blocks_of_one_frequency_give_the_same_result(monkeypatch: pytest.MonkeyPatch,
                                                      fast_everywhere) -> None:
    p = _params(CDNOW)
    x, T = _customers(np.random.default_rng(12))
    times, weights = np.array(HORIZONS["clv_12"][0]), np.array(HORIZONS["clv_12"][1])
    whole = hyp2f1_series.one_minus_g_sum(p, x, p[1] + T, times, weights)
    monkeypatch.setattr(hyp2f1_series, "_GROUP_ROWS", 97)
    np.testing.assert_allclose(hyp2f1_series.one_minus_g_sum(p, x, p[1] + T, times, weights),
                               whole, rtol=1e-13)


def test_cdnow_data_needs_no_fallback(fast_everywhere) -> None:
    p = _params(CDNOW)
    x, T = _customers(np.random.default_rng(2))
    T = np.minimum(T, 500.0)
    times, weights = HORIZONS["clv_12"]
    hyp2f1_series.one_minus_g_sum(p, x, p[1] + T, np.array(times), np.array(weights))
    assert fast_everywhere == []


def test_agrees_with_mpmath_at_extreme_points(fast_everywhere) -> None:
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 50
    rng = np.random.default_rng(3)
    for name in ("cdnow", "tiny_alpha", "huge_alpha", "large_r", "very_large_r", "large_a_b",
                 "r_equals_a"):
        p = _params(GRID[name])
        x, T = _customers(rng)
        for t in (4.345, 39.0, 1e4):
            fast = hyp2f1_series.one_minus_g_sum(p, x, p[1] + T, np.array([t]), np.ones(1))
            scipy_ok = np.isfinite(_reference(p, x, p[1] + T, [t], [1.0]))
            r, alpha, a, b = (mpmath.mpf(float(v)) for v in p)
            # where scipy's hyp2f1 fails (NaN) the result stays NaN, as before
            for i in rng.choice(np.flatnonzero(scipy_ok), 12, replace=False):
                beta = alpha + mpmath.mpf(float(T[i]))
                z = t / (beta + t)
                exact = 1 - (1 - z) ** (a - 1) * mpmath.hyp2f1(a + b - 1 - r, a - 1,
                                                               a + b + float(x[i]) - 1, z)
                assert fast[i] == pytest.approx(float(exact), rel=1e-11, abs=1e-15), (name, t, i)


@pytest.mark.parametrize("values", [CDNOW, GRID["large_r"], GRID["huge_alpha"]])
def test_small_horizon_expansion(values, fast_everywhere) -> None:
    # E[Y(t) | alive] = E_p[(1 - (1 + p t/beta)^-(r+x)) / p], p ~ Beta(a, b+x): for small t,
    # 1 - g = (a-1)/(a+b+x-1) (n u - n(n+1) u^2 a/(2(a+b+x))), n = r+x, u = t/beta. scipy's
    # log(hyp2f1) loses most digits here (h = 1 - 1e-10); the Gauss series keeps h - 1 apart.
    p = _params(values)
    r, alpha, a, b = p
    x, T = _customers(np.random.default_rng(4))
    t = 1e-9
    beta = alpha + T
    fast = hyp2f1_series.one_minus_g_sum(p, x, beta, np.array([t]), np.ones(1))
    n, u = r + x, t / beta
    expansion = (a - 1) / (a + b + x - 1) * (n * u - n * (n + 1) * u**2 * a / (2 * (a + b + x)))
    np.testing.assert_allclose(fast, expansion, rtol=1e-9)


def test_taylor_coefficients_are_scaled_derivatives() -> None:
    r, _, a, b = _params(CDNOW)
    A, B = a + b - 1.0 - r, a - 1.0
    bands = np.arange(len(hyp2f1_series._Z0))
    for x in (0.0, 3.0, 40.0):
        C = np.full(len(bands), a + b - 1.0 + x)
        coef, n_terms, usable = hyp2f1_series._taylor_coefficients(A, B, C, bands)
        assert usable.all()
        assert np.all(n_terms <= 40)
        z0, half = hyp2f1_series._Z0, hyp2f1_series._HALF
        for k in range(6):  # h^(k)(z0)/k! = (A)_k (B)_k / ((C)_k k!) 2F1(A+k, B+k; C+k; z0)
            deriv = (poch(A, k) * poch(B, k) / (poch(C, k) * np.prod(np.arange(1, k + 1)))
                     * hyp2f1(A + k, B + k, C + k, z0))
            np.testing.assert_allclose(coef[k] * (-1) ** k, deriv * half**k, rtol=1e-9,
                                       atol=1e-13 * np.abs(coef[0]).max())


def test_bands_cover_w_with_margin() -> None:
    edges, z0, w0, half = (hyp2f1_series._W_EDGES, hyp2f1_series._Z0, hyp2f1_series._W0,
                           hyp2f1_series._HALF)
    assert np.all(np.diff(edges) < 0) and edges[-1] < 1e-11
    assert np.all(z0 + w0 == 1.0)
    assert np.all(half <= 0.2 * np.minimum(z0, w0) + 1e-15)
    assert np.all((edges[1:] <= w0) & (w0 < edges[:-1]))


def test_sort_orders_by_frequency_then_beta() -> None:
    rng = np.random.default_rng(5)
    x = rng.integers(0, 200, 100_000).astype(float)
    beta = np.round(rng.uniform(4.0, 110.0, 100_000), 3)  # duplicates
    order = hyp2f1_series._sort_rows(x, beta)
    assert np.array_equal(np.sort(order), np.arange(len(x)))
    xs, bs = x[order], beta[order]
    assert np.all(np.diff(xs) >= 0)
    same = xs[1:] == xs[:-1]
    assert np.all(bs[1:][same] >= bs[:-1][same] * (1 - 1e-7))  # leading 25 bits of beta
    huge = x.copy()
    huge[0] = 2.0**40  # does not fit the packed key: lexsort
    order = hyp2f1_series._sort_rows(huge, beta)
    assert np.array_equal(order, np.lexsort((beta, huge)))


def test_wrong_fast_run_is_recomputed(monkeypatch: pytest.MonkeyPatch, fast_everywhere) -> None:
    taylor, series = hyp2f1_series._om_taylor, hyp2f1_series._om_series
    monkeypatch.setattr(hyp2f1_series, "_om_taylor", lambda *a: taylor(*a) * (1 + 1e-7))
    monkeypatch.setattr(hyp2f1_series, "_om_series", lambda *a: series(*a) * (1 + 1e-7))
    p = _params(CDNOW)
    x, T = _customers(np.random.default_rng(6))
    times, weights = HORIZONS["clv_12"]
    fast = hyp2f1_series.one_minus_g_sum(p, x, p[1] + T, np.array(times), np.array(weights))
    np.testing.assert_allclose(fast, _reference(p, x, p[1] + T, times, weights), rtol=1e-10)
    assert len(fast_everywhere) > 10


def _simulated(n: int, seed: int, continuous: bool = True):
    rng = np.random.default_rng(seed)
    T = rng.uniform(1 / 7, 730 / 7, n) if continuous else rng.integers(1, 731, n) / 7.0
    bg = BetaGeoModel.from_dict({"params": dict(zip(bgnbd.PARAMS, CDNOW, strict=True))})
    x, tx = bg.sample(T, random_state=rng)
    return bg, x, tx, T


def test_realistic_data_takes_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    bg, x, tx, T = _simulated(60_000, 7)
    scipy_rows = []
    reference = hyp2f1_series._log_g_beta

    def counted(params, xx, beta, t):
        scipy_rows.append(len(xx))
        return reference(params, xx, beta, t)

    monkeypatch.setattr(hyp2f1_series, "_log_g_beta", counted)
    times = 4.345 * np.arange(1, 13)
    hyp2f1_series.one_minus_g_sum(bg._p(), x, bg.params_["alpha"] + T, times, np.ones(12))
    assert sum(scipy_rows) < 0.03 * len(x) * len(times)


@pytest.mark.parametrize("continuous", [True, False], ids=["continuous", "day_level"])
def test_public_scores_match_row_by_row_formulas(continuous: bool) -> None:
    bg, x, tx, T = _simulated(100_000, 8, continuous)
    p = bg._p()
    alive = bg.probability_alive(x, tx, T)
    expected = bg.expected_purchases(39.0, x, tx, T)
    prefactor = (p[2] + p[3] + x - 1) / (p[2] - 1) * alive
    ref = prefactor * _reference(p, x, p[1] + T, [39.0], [1.0])
    np.testing.assert_allclose(expected, ref, rtol=1e-10)
    # per-customer horizons, zeros included
    t = np.random.default_rng(9).choice([0.0, 13.0, 39.0, 52.0], len(x))
    ref_t = np.zeros(len(x))
    for h in (13.0, 39.0, 52.0):
        on = t == h
        ref_t[on] = prefactor[on] * _reference(p, x[on], p[1] + T[on], [h], [1.0])
    np.testing.assert_allclose(bg.expected_purchases(t, x, tx, T), ref_t, rtol=1e-10)
    # discounted sum over 12 monthly steps (the Gamma-Gamma CLV path)
    steps = 4.345 * np.arange(1, 13)
    d = 1.01 ** -np.arange(1, 13.0)
    weights = d - np.append(d[1:], 0.0)
    ref_clv = prefactor * _reference(p, x, p[1] + T, steps, weights)
    np.testing.assert_allclose(bg._discounted_expected_purchases(steps, d, x, tx, T), ref_clv,
                               rtol=1e-10)


def test_scores_match_lifetimes_on_continuous_times() -> None:
    lt = pytest.importorskip("lifetimes", reason="lifetimes (reference implementation) absent")
    import pandas as pd

    bg, x, tx, T = _simulated(50_000, 10)
    gg = GammaGammaModel.from_dict({"params": {"p": 6.25, "q": 3.74, "gamma": 15.4}})
    money = gg.sample(x, random_state=11)
    ref = lt.BetaGeoFitter()
    ref.params_ = pd.Series(bg.params_)
    ref.predict = ref.conditional_expected_number_of_purchases_up_to_time
    ref_gg = lt.GammaGammaFitter()
    ref_gg.params_ = pd.Series({"p": 6.25, "q": 3.74, "v": 15.4})
    f, r, age, m = (pd.Series(v) for v in (x, tx, T, money))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        e_ref = ref.conditional_expected_number_of_purchases_up_to_time(39.0, f, r, age)
        clv_ref = ref_gg.customer_lifetime_value(ref, f, r, age, m, time=12, discount_rate=0.01,
                                                 freq="W")
    ok = np.isfinite(e_ref.to_numpy())
    np.testing.assert_allclose(bg.expected_purchases(39.0, x, tx, T)[ok], e_ref[ok], rtol=1e-9)
    clv = gg.clv(bg, x, tx, T, money, horizon=12, time_unit_per_period=4.345,
                 discount_rate=0.01)
    np.testing.assert_allclose(clv[ok], clv_ref.to_numpy()[ok], rtol=1e-9)
