"""Probabilistic CLV models: BG/NBD, Pareto/NBD, Gamma-Gamma.

Layers: golden numbers on the CDNOW sample (Fader, Hardie & Lee 2005 and the Fader-Hardie
notes), agreement with lifetimes 0.11.3 (reference only), analytic gradients against finite
differences, parameter recovery on data simulated from each model, degenerate data, errors.
"""

from __future__ import annotations

import itertools
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import CDNOW_SAMPLE
from scipy.integrate import quad
from scipy.special import betaln, hyp2f1

from loyalist.clv import (
    BetaGeoModel,
    GammaGammaModel,
    ParetoNBDModel,
    bgnbd,
    gammagamma,
    hyp2f1_series,
    paretonbd,
)
from loyalist.clv._fitting import _information, compress
from loyalist.errors import DataError, ModelVersionError, NotFittedError, ParameterError

CAL_END = pd.Timestamp("1997-09-30")

BG_PAPER = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}


# --------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------
def _cdnow_summary(path: Path) -> pd.DataFrame:
    """Calibration summary in weeks, one row per customer (FHL 2005 conventions).

    Day level (rows aggregated by customer and date); calibration 1997-01-01..1997-09-30;
    T = 1997-09-30 minus first purchase date (customer 1: 38.86 weeks); frequency = repeat
    purchase days; recency = last minus first purchase; monetary_value = mean amount of the
    repeat purchase days; holdout = purchase days 1997-10-01..1998-06-30.
    """
    raw = pd.read_parquet(path)
    raw["date"] = pd.to_datetime(raw["date"])
    days = raw.groupby(["sample_id", "date"], as_index=False)["amount"].sum()
    cal = days[days["date"] <= CAL_END].copy()
    first = cal.groupby("sample_id")["date"].transform("min")
    cal["repeat"] = cal["date"] > first
    g = cal.groupby("sample_id")
    first_day, last_day = g["date"].min(), g["date"].max()
    out = pd.DataFrame({
        "frequency": g.size() - 1,
        "recency": (last_day - first_day).dt.days / 7.0,
        "T": (CAL_END - first_day).dt.days / 7.0,
    })
    repeat_spend = cal[cal["repeat"]].groupby("sample_id")["amount"].mean()
    out["monetary_value"] = repeat_spend.reindex(out.index).fillna(0.0)
    holdout = days[days["date"] > CAL_END].groupby("sample_id").size()
    out["holdout"] = holdout.reindex(out.index).fillna(0).astype(int)
    return out


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    if not CDNOW_SAMPLE.exists():
        pytest.skip(f"shared data {CDNOW_SAMPLE} is absent (the repo never copies it; set "
                    "LOYALIST_SHARED_DATA)")
    return _cdnow_summary(CDNOW_SAMPLE)


@pytest.fixture(scope="module")
def bg_cdnow(cdnow: pd.DataFrame) -> BetaGeoModel:
    return BetaGeoModel().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])


@pytest.fixture(scope="module")
def pnbd_cdnow(cdnow: pd.DataFrame) -> ParetoNBDModel:
    return ParetoNBDModel().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])


@pytest.fixture(scope="module")
def gg_cdnow(cdnow: pd.DataFrame) -> GammaGammaModel:
    return GammaGammaModel().fit(cdnow["frequency"], cdnow["monetary_value"])


@pytest.fixture(scope="module")
def small_rfm() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """500 simulated BG/NBD customers (used where the CDNOW file is not needed)."""
    rng = np.random.default_rng(7)
    T = rng.uniform(20, 40, 500)
    x, tx = _bg(r=0.3, alpha=5.0, a=0.8, b=2.5).sample(T, random_state=rng)
    return x, tx, T


def _bg(**params: float) -> BetaGeoModel:
    return BetaGeoModel.from_dict({"params": params})


def _pnbd(**params: float) -> ParetoNBDModel:
    return ParetoNBDModel.from_dict({"params": params})


def _gg(**params: float) -> GammaGammaModel:
    return GammaGammaModel.from_dict({"params": params})


def _lifetimes():
    return pytest.importorskip("lifetimes", reason="lifetimes (reference implementation) absent")


# --------------------------------------------------------------------------------------------
# Golden numbers on CDNOW
# --------------------------------------------------------------------------------------------
@pytest.mark.shared
def test_cdnow_summary_matches_published_counts(cdnow: pd.DataFrame) -> None:
    assert len(cdnow) == 2357
    assert cdnow["frequency"].sum() == 2457
    assert (cdnow["frequency"] > 0).sum() == 946
    assert cdnow["holdout"].sum() == 1882
    assert cdnow.loc[1, "T"] == pytest.approx(38.86, abs=0.005)
    assert cdnow.loc[1, "recency"] == pytest.approx(30.43, abs=0.005)


@pytest.mark.shared
def test_bgnbd_cdnow_golden(bg_cdnow: BetaGeoModel) -> None:
    p = bg_cdnow.params_
    expected = {"r": 0.2426, "alpha": 4.414, "a": 0.7929, "b": 2.426}
    for k, v in expected.items():
        assert p[k] == pytest.approx(v, rel=1e-3), k
    assert bg_cdnow.log_likelihood_ == pytest.approx(-9582.43, abs=0.01)
    assert bg_cdnow.converged_ is True
    assert bg_cdnow.n_customers_ == 2357
    assert any("unique" in d for d in bg_cdnow.diagnostics_)


@pytest.mark.shared
def test_paretonbd_cdnow_golden(pnbd_cdnow: ParetoNBDModel) -> None:
    p = pnbd_cdnow.params_
    expected = {"r": 0.5533, "alpha": 10.58, "s": 0.6062, "beta": 11.67}
    for k, v in expected.items():
        assert p[k] == pytest.approx(v, rel=1e-3), k
    assert pnbd_cdnow.log_likelihood_ == pytest.approx(-9594.97, abs=0.01)
    assert pnbd_cdnow.converged_ is True


@pytest.mark.shared
def test_gammagamma_cdnow_golden(gg_cdnow: GammaGammaModel) -> None:
    p = gg_cdnow.params_
    for k, v in {"p": 6.249, "q": 3.745, "gamma": 15.45}.items():
        assert p[k] == pytest.approx(v, rel=1e-3), k
    assert gg_cdnow.log_likelihood_ == pytest.approx(-4055.92, abs=0.01)
    assert gg_cdnow.n_customers_ == 946
    assert gg_cdnow.converged_ is True
    assert any("dropped 1,411 of 2,357" in d for d in gg_cdnow.diagnostics_)


def test_bgnbd_paper_quantities() -> None:
    m = _bg(**BG_PAPER)
    assert m.probability_of_n_purchases(0, 39.0) == pytest.approx(0.5737864, abs=1e-7)
    assert m.expected_purchases(39.0, 2, 30.43, 38.86) == pytest.approx(1.226, abs=5e-4)


@pytest.mark.shared
def test_bgnbd_holdout_prediction(cdnow: pd.DataFrame, bg_cdnow: BetaGeoModel) -> None:
    pred = bg_cdnow.expected_purchases(39.0, cdnow["frequency"], cdnow["recency"], cdnow["T"])
    assert isinstance(pred, pd.Series)
    assert pred.index.equals(cdnow.index)
    # FHL 2005 report ~1,653 predicted vs 1,882 actual repeat purchases in weeks 40-78.
    assert pred.sum() == pytest.approx(1653.0, abs=5.0)
    assert cdnow["holdout"].sum() == 1882


# --------------------------------------------------------------------------------------------
# Agreement with lifetimes 0.11.3 (reference implementation)
# --------------------------------------------------------------------------------------------
@pytest.mark.shared
def test_bgnbd_predictions_match_lifetimes(cdnow: pd.DataFrame, bg_cdnow: BetaGeoModel) -> None:
    lt = _lifetimes()
    ref = lt.BetaGeoFitter()
    ref.params_ = pd.Series(bg_cdnow.params_)
    f, r, T = cdnow["frequency"], cdnow["recency"], cdnow["T"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exp_ref = ref.conditional_expected_number_of_purchases_up_to_time(39.0, f, r, T)
        alive_ref = ref.conditional_probability_alive(f, r, T)
        new_ref = ref.expected_number_of_purchases_up_to_time(39.0)
        pn_ref = [ref.probability_of_n_purchases_up_to_time(39.0, n) for n in range(6)]
    np.testing.assert_allclose(bg_cdnow.expected_purchases(39.0, f, r, T), exp_ref, rtol=1e-9)
    np.testing.assert_allclose(bg_cdnow.probability_alive(f, r, T), alive_ref, rtol=1e-12)
    assert bg_cdnow.expected_purchases_new(39.0) == pytest.approx(new_ref, rel=1e-10)
    np.testing.assert_allclose(bg_cdnow.probability_of_n_purchases(np.arange(6), 39.0), pn_ref,
                               rtol=1e-9)


@pytest.mark.shared
def test_paretonbd_matches_lifetimes(cdnow: pd.DataFrame, pnbd_cdnow: ParetoNBDModel) -> None:
    lt = _lifetimes()
    f, r, T = cdnow["frequency"], cdnow["recency"], cdnow["T"]
    for params in ([0.5533, 10.58, 0.6062, 11.67], [0.5533, 12.58, 0.6062, 11.67],
                   [2.0, 3.0, 0.3, 50.0]):  # both hypergeometric branches
        ours = _pnbd(**dict(zip(paretonbd.PARAMS, params, strict=True)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref_ll = lt.ParetoNBDFitter._conditional_log_likelihood(
                params, f.to_numpy(), r.to_numpy(), T.to_numpy())
        np.testing.assert_allclose(ours.log_likelihood_per_customer(f, r, T), ref_ll,
                                   rtol=1e-10, atol=1e-10)
    ref = lt.ParetoNBDFitter()
    ref.params_ = pd.Series(pnbd_cdnow.params_)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exp_ref = ref.conditional_expected_number_of_purchases_up_to_time(39.0, f, r, T)
        alive_ref = ref.conditional_probability_alive(f, r, T)
        new_ref = ref.expected_number_of_purchases_up_to_time(39.0)
    np.testing.assert_allclose(pnbd_cdnow.expected_purchases(39.0, f, r, T), exp_ref, rtol=1e-9)
    np.testing.assert_allclose(pnbd_cdnow.probability_alive(f, r, T), alive_ref, rtol=1e-9)
    assert pnbd_cdnow.expected_purchases_new(39.0) == pytest.approx(new_ref, rel=1e-10)


@pytest.mark.shared
def test_gammagamma_clv_matches_lifetimes(cdnow: pd.DataFrame, bg_cdnow: BetaGeoModel,
                                          gg_cdnow: GammaGammaModel) -> None:
    lt = _lifetimes()
    bg_ref = lt.BetaGeoFitter()
    bg_ref.params_ = pd.Series(bg_cdnow.params_)
    bg_ref.predict = bg_ref.conditional_expected_number_of_purchases_up_to_time
    gg_ref = lt.GammaGammaFitter()
    p = gg_cdnow.params_
    gg_ref.params_ = pd.Series({"p": p["p"], "q": p["q"], "v": p["gamma"]})
    f, r, T, m = (cdnow[c] for c in ("frequency", "recency", "T", "monetary_value"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        spend_ref = gg_ref.conditional_expected_average_profit(f, m)
        clv_ref = gg_ref.customer_lifetime_value(bg_ref, f, r, T, m, time=12,
                                                 discount_rate=0.01, freq="W")
    np.testing.assert_allclose(gg_cdnow.expected_spend(f, m), spend_ref, rtol=1e-12)
    clv = gg_cdnow.clv(bg_cdnow, f, r, T, m, horizon=12, time_unit_per_period=4.345,
                       discount_rate=0.01)
    assert isinstance(clv, pd.Series)
    np.testing.assert_allclose(clv, clv_ref, rtol=1e-9)


def test_clv_fast_path_equals_generic_loop(small_rfm) -> None:
    x, tx, T = small_rfm
    money = _gg(p=6.0, q=4.0, gamma=15.0).sample(x, random_state=1)
    gg = _gg(p=6.0, q=4.0, gamma=15.0)

    class Wrapped:  # only the public method: forces the generic loop
        def __init__(self, model):
            self.model = model

        def expected_purchases(self, t, f, r, age):
            return self.model.expected_purchases(t, f, r, age)

    for model in (_bg(r=0.3, alpha=5.0, a=0.8, b=2.5),
                  _pnbd(r=0.5, alpha=10.0, s=0.6, beta=12.0)):
        kw = {"horizon": 6, "time_unit_per_period": 4.345, "discount_rate": 0.02}
        fast = gg.clv(model, x, tx, T, money, **kw)
        slow = gg.clv(Wrapped(model), x, tx, T, money, **kw)
        np.testing.assert_allclose(fast, slow, rtol=1e-10)
        assert np.all(fast >= 0)


# --------------------------------------------------------------------------------------------
# Gradients and compression
# --------------------------------------------------------------------------------------------
def _check_gradient(objective, theta: np.ndarray, rtol: float = 1e-5) -> None:
    value, grad = objective(theta)
    assert np.isfinite(value)
    for i in range(len(theta)):
        step = np.zeros(len(theta))
        step[i] = 1e-6
        fd = (objective(theta + step)[0] - objective(theta - step)[0]) / 2e-6
        assert grad[i] == pytest.approx(fd, rel=rtol, abs=1e-8), f"component {i}"


def test_bgnbd_gradient_matches_finite_differences(small_rfm) -> None:
    x, tx, T = small_rfm
    data = bgnbd._FitData(x, tx, T, np.ones(len(x)))
    for params in ([0.3, 5.0, 0.8, 2.5], [1.7, 0.4, 3.0, 0.6], [0.05, 40.0, 0.2, 9.0]):
        _check_gradient(lambda th: bgnbd._objective(th, data, 0.0), np.log(params))
        # the fitting path and the per-customer path compute the same likelihood
        value, _ = bgnbd._objective(np.log(params), data, 0.0)
        assert -value * len(x) == pytest.approx(bgnbd._loglik(np.array(params), x, tx, T).sum(),
                                                rel=1e-12)
    _check_gradient(lambda th: bgnbd._objective(th, data, 0.1), np.log([0.3, 5, 0.8, 2]))


def test_paretonbd_gradient_matches_finite_differences(small_rfm) -> None:
    x, tx, T = small_rfm
    w = np.ones(len(x))
    for params in ([0.55, 10.6, 0.6, 11.7],  # alpha < beta branch
                   [0.55, 12.0, 0.6, 11.7],  # alpha >= beta branch
                   [2.0, 3.0, 0.3, 50.0], [0.2, 40.0, 4.0, 2.0],
                   [0.5, 0.5, 0.6, 400.0],  # z > 0.98: quadrature path, alpha < beta
                   [0.5, 600.0, 0.6, 1.0]):  # z > 0.98: quadrature path, alpha >= beta
        _check_gradient(lambda th: paretonbd._objective(th, x, tx, T, w, 0.0), np.log(params))


def test_gammagamma_gradient_matches_finite_differences() -> None:
    rng = np.random.default_rng(3)
    x = rng.integers(1, 12, 400).astype(float)
    m = _gg(p=6.0, q=4.0, gamma=15.0).sample(x, random_state=rng)
    w = np.ones(len(x))
    for q_gt_1 in (True, False):
        def objective(th: np.ndarray, q_gt_1: bool = q_gt_1) -> tuple[float, np.ndarray]:
            return gammagamma._objective(th, x, m, w, 0.0, q_gt_1)

        for theta in (np.log([6.0, 3.0, 15.0]), np.log([0.7, 0.5, 2.0])):
            _check_gradient(objective, theta)


def test_compressed_fit_equals_fit_on_all_rows(small_rfm) -> None:
    x, tx, T = small_rfm
    # Round times to days so many rows repeat, then duplicate every row 3 times.
    tx, T = np.floor(tx * 7) / 7, np.floor(T * 7) / 7
    comp = compress({"x": x, "tx": tx, "T": T})
    assert comp.n_unique < len(x)
    assert comp.weights.sum() == len(x)
    m1 = BetaGeoModel().fit(x, tx, T)
    m3 = BetaGeoModel().fit(np.tile(x, 3), np.tile(tx, 3), np.tile(T, 3))
    for k in bgnbd.PARAMS:
        assert m3.params_[k] == pytest.approx(m1.params_[k], rel=1e-5)
    assert m3.log_likelihood_ == pytest.approx(3 * m1.log_likelihood_, rel=1e-10)
    per_customer = m1.log_likelihood_per_customer(x, tx, T)
    assert per_customer.sum() == pytest.approx(m1.log_likelihood_, rel=1e-12)
    assert f"to {comp.n_unique:,} unique" in m1.diagnostics_[0]


def test_hypergeometric_fallback_where_scipy_gives_up() -> None:
    # scipy's hyp2f1 returns NaN for large n with z near 1 (a Pareto/NBD customer with many
    # purchases when alpha >> beta); the quadrature fallback must take over, accurately.
    n, e, z = np.array([500.7]), np.array([1.6]), np.array([0.999])
    with np.errstate(invalid="ignore"):
        assert np.isnan(hyp2f1(1.0, n + 1.0 - e, n + 1.0, z))[0]

    def integrand(w: float) -> float:  # 2F1(n, e; n+1; z) = int_0^1 (1 - z w^(1/n))^-e dw
        return (1.0 - z[0] * w ** (1.0 / n[0])) ** (-e[0])

    ref = np.log(quad(integrand, 0.0, 1.0, epsabs=0, epsrel=1e-12, limit=500,
                      points=[0.5, 0.9, 0.99])[0])
    assert paretonbd._log_f(n, e, z)[0] == pytest.approx(ref, rel=1e-9)
    value, dn, de, dz = paretonbd._log_f_grad(n, e, z)
    assert np.all(np.isfinite([value[0], dn[0], de[0], dz[0]]))
    assert value[0] == pytest.approx(ref, rel=1e-9)


def test_hypergeometric_routes_agree() -> None:
    # Series (z <= 0.25), scipy hyp2f1 + differences, and quadrature give the same log 2F1
    # and derivatives where their ranges meet.
    rng = np.random.default_rng(4)
    n = rng.uniform(0.3, 80.0, 400)
    e = np.where(rng.random(400) < 0.5, 1.0 + rng.uniform(0.05, 3.0, 400), n * rng.random(400))
    z = rng.uniform(0.0, 0.25, 400)
    series = paretonbd._log_f_series(n, e, z)
    quadrature = paretonbd._log_f_quad(n, e, z)
    with np.errstate(all="ignore"):
        value = paretonbd._log_f_hyp(n, e, z)
        h = 1e-5 * np.minimum(n, n + 1.0 - e)
        dn = (paretonbd._log_f_hyp(n + h, e, z) - paretonbd._log_f_hyp(n - h, e, z)) / (2 * h)
    np.testing.assert_allclose(series[0], value, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(series[1], dn, rtol=1e-6, atol=1e-9)
    for got, want in zip(quadrature, series, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-10)


def test_paretonbd_warm_start_reaches_the_same_estimate(monkeypatch) -> None:
    rng = np.random.default_rng(12)
    T = rng.uniform(27.0, 39.0, 24_000)
    x, tx = _pnbd(r=0.55, alpha=10.5, s=0.6, beta=12.0).sample(T, random_state=rng)
    warm = ParetoNBDModel().fit(x, tx, T)
    assert any("warm start: fitted 1 in" in d for d in warm.diagnostics_)
    monkeypatch.setattr(paretonbd, "_WARM_ROWS", 10**9)
    cold = ParetoNBDModel().fit(x, tx, T)
    assert not any("warm start" in d for d in cold.diagnostics_)
    assert warm.converged_ and cold.converged_
    for k in paretonbd.PARAMS:
        assert warm.params_[k] == pytest.approx(cold.params_[k], rel=1e-5), k
    assert warm.log_likelihood_ == pytest.approx(cold.log_likelihood_, abs=1e-6)


def test_probability_of_n_purchases_is_a_distribution() -> None:
    n = np.arange(0, 400)
    for model in (_bg(**BG_PAPER), _pnbd(r=0.5533, alpha=10.58, s=0.6062, beta=11.67)):
        probs = model.probability_of_n_purchases(n, 39.0)
        assert probs.sum() == pytest.approx(1.0, abs=1e-9)
        assert (n * probs).sum() == pytest.approx(model.expected_purchases_new(39.0), rel=1e-8)
        assert model.probability_of_n_purchases(0, 0.0) == pytest.approx(1.0)


# --------------------------------------------------------------------------------------------
# Parameter recovery on simulated data
# --------------------------------------------------------------------------------------------
def _assert_recovered(model, objective, theta_true: np.ndarray, theta_hat: np.ndarray,
                      n: int) -> None:
    """Estimates within 4 standard errors (observed information in log-parameters)."""
    assert model.converged_ is True, model.diagnostics_
    _, grad = objective(theta_hat)
    cov = np.linalg.inv(_information(objective, theta_hat, grad, n))
    z = (theta_hat - theta_true) / np.sqrt(np.diag(cov))
    assert np.all(np.abs(z) < 4.0), (z, model.params_)


def test_bgnbd_recovers_simulated_parameters() -> None:
    rng = np.random.default_rng(2024)
    truth = {"r": 0.5, "alpha": 8.0, "a": 0.8, "b": 2.5}
    T = rng.uniform(26, 52, 20_000)
    x, tx = _bg(**truth).sample(T, random_state=rng)
    m = BetaGeoModel().fit(x, tx, T)
    comp = compress({"x": x, "tx": tx, "T": T})
    c = comp.columns
    data = bgnbd._FitData(c["x"], c["tx"], c["T"], comp.weights)
    _assert_recovered(m, lambda th: bgnbd._objective(th, data, 0.0),
                      np.log(list(truth.values())), np.log(list(m.params_.values())), len(x))
    for k, v in truth.items():
        assert m.params_[k] == pytest.approx(v, rel=0.25), k


def test_paretonbd_recovers_simulated_parameters() -> None:
    rng = np.random.default_rng(99)
    truth = {"r": 0.6, "alpha": 10.0, "s": 0.8, "beta": 12.0}
    T = np.floor(rng.uniform(26, 52, 20_000) * 7) / 7  # whole days, as real data come
    x, tx = _pnbd(**truth).sample(T, random_state=rng)
    tx = np.floor(tx * 7) / 7
    m = ParetoNBDModel().fit(x, tx, T)
    comp = compress({"x": x, "tx": tx, "T": T})
    c = comp.columns
    _assert_recovered(m, lambda th: paretonbd._objective(th, c["x"], c["tx"], c["T"],
                                                         comp.weights, 0.0),
                      np.log(list(truth.values())), np.log(list(m.params_.values())), len(x))
    for k, v in truth.items():
        assert m.params_[k] == pytest.approx(v, rel=0.3), k


def test_gammagamma_recovers_simulated_parameters() -> None:
    rng = np.random.default_rng(5)
    truth = {"p": 6.0, "q": 4.0, "gamma": 15.0}
    x = rng.integers(1, 10, 20_000).astype(float)
    money = _gg(**truth).sample(x, random_state=rng)
    m = GammaGammaModel().fit(x, money)
    w = np.ones(len(x))
    theta_true = np.log([6.0, 3.0, 15.0])  # q is parametrised as log(q - 1)
    theta_hat = np.log([m.params_["p"], m.params_["q"] - 1.0, m.params_["gamma"]])
    _assert_recovered(m, lambda th: gammagamma._objective(th, x, money, w, 0.0, True),
                      theta_true, theta_hat, len(x))


# --------------------------------------------------------------------------------------------
# Degenerate data: no crash, a diagnostic, converged_ False where the data cannot identify
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("model_cls", [BetaGeoModel, ParetoNBDModel])
def test_no_heterogeneity(model_cls) -> None:
    m = model_cls().fit(np.full(300, 2.0), np.full(300, 10.0), np.full(300, 30.0))
    assert m.converged_ is False
    assert any("no heterogeneity" in d for d in m.diagnostics_)
    assert np.isfinite(m.expected_purchases(10.0, 2, 10.0, 30.0))


def test_bgnbd_no_heterogeneity_corner_predicts_the_common_rate() -> None:
    """A store whose customers all buy steadily (800 customers, ~16 repeat purchases in
    ~380 days each, nobody lapsing) fitted to r = 1.9e7, alpha = 4.6e8, a = 4e-7: one Poisson
    rate r/alpha = 0.041 a day, no dropout. scipy's hyp2f1 returns NaN there, which made every
    prediction NaN. They must be finite and equal the common rate times the horizon."""
    p = {"r": 18796456.46070251, "alpha": 458308027.2939954, "a": 4.1225229167799455e-07,
         "b": 1320.0430118931151}
    m = BetaGeoModel.from_dict({"params": p})
    rng = np.random.default_rng(0)
    n = 5000  # above the fast path's threshold as well as below it
    for size in (3, n):
        T = rng.uniform(300, 400, size)
        x = rng.integers(5, 30, size).astype(float)
        tx = T * rng.uniform(0.5, 1.0, size)
        e = m.expected_purchases(90.0, x, tx, T)
        assert np.isfinite(e).all()
        np.testing.assert_allclose(e, 90.0 * p["r"] / p["alpha"], rtol=1e-5)


@pytest.mark.parametrize(("a", "b", "want"), [
    (2e4, 4e5, [0.08594471, 0.27088591, 0.0923243]),
    (2.3e5, 4e6, [0.08589533, 0.26852427, 0.09022951]),
])
def test_bgnbd_nearly_common_dropout_gives_finite_predictions(a: float, b: float,
                                                              want: list[float]) -> None:
    """a, b in the tens of thousands (dropout nearly the same for every customer: a generated
    fashion store fitted a = 2.3e5, b = 4.0e6) made every expected purchase and CLV NaN, so
    ``train`` wrote NaN expected_orders and clv_bgnbd and skipped its evaluation. Reference
    values from lifetimes 0.11.3 (scipy's hyp2f1 on the paper's form) at the same parameters."""
    m = BetaGeoModel.from_dict({"params": {"r": 1.02, "alpha": 68.2, "a": a, "b": b}})
    x, tx, T = np.array([0.0, 1.0, 3.0]), np.array([0.0, 1.0, 200.0]), np.array([50.0, 2.0, 300.0])
    np.testing.assert_allclose(m.expected_purchases(10.0, x, tx, T), want, rtol=1e-6)
    rng = np.random.default_rng(1)  # the fast path (thousands of customers) as well
    n = 5000
    xs = rng.integers(0, 20, n).astype(float)
    Ts = rng.uniform(10, 300, n)
    e = m.expected_purchases(90.0, xs, np.where(xs > 0, Ts * rng.uniform(0, 1, n), 0.0), Ts)
    assert np.isfinite(e).all() and (e > 0).all()
    assert np.isfinite(m.expected_purchases_new(90.0))


# a + b < 1 (an exploratory tester's small webshop store, times in days): C = a+b-1 < 0 for
# one-order customers, where 2F1(r, b; C; z) of eqs. 9-10 turns negative
E8 = {"r": 0.672, "alpha": 46.95, "a": 0.00587, "b": 0.488}


def _bg_expected_by_quadrature(p: dict[str, float], t: float, x: float, tx: float, T: float
                               ) -> float:
    """E[Y(t) | x, t_x, T] from the model's definition, with no hypergeometric function.

    Given alive at T the purchase rate is Gamma(r+x, alpha+T) and the dropout probability
    Beta(a, b+x), independently, and an active customer's expected purchases in t are
    ``(1 - exp(-lambda p t)) / p`` (FHL 2005, the expectation behind eq. 9); mixing over lambda
    leaves ``int_0^1 (1 - (1 + p t/(alpha+T))^-(r+x)) / p Beta(p; a, b+x) dp`` times P(alive)
    (eq. 11). QUADPACK's algebraic weight p^(a-1) (1-p)^(b+x-1) takes both singular ends.
    """
    r, alpha, a, b = (p[k] for k in bgnbd.PARAMS)
    n, u = r + x, t / (alpha + T)

    def f(q: float) -> float:
        return n * u if q == 0.0 else float(-np.expm1(-n * np.log1p(q * u)) / q)

    integral, _ = quad(f, 0.0, 1.0, weight="alg", wvar=(a - 1.0, b + x - 1.0), epsabs=0.0,
                       epsrel=1e-13, limit=200)
    alive = 1.0 if x == 0 else 1.0 / (1.0 + a / (b + x - 1.0)
                                      * ((alpha + T) / (alpha + tx)) ** (r + x))
    return alive * integral / np.exp(betaln(a, b + x))


def _rfm_days(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """n customers in days, half of them one-order customers (x = 0), ages 0-730."""
    rng = np.random.default_rng(seed)
    x = np.where(rng.random(n) < 0.5, 0, rng.integers(1, 40, n)).astype(float)
    T = rng.integers(0, 731, n).astype(float)
    T[: n // 4] = rng.uniform(0.0, 730.0, n // 4)  # continuous times as well
    tx = np.where(x > 0, np.floor(T * rng.uniform(0.0, 1.0, n)), 0.0)
    return x, tx, T


def test_bgnbd_a_plus_b_below_1_gives_finite_expected_purchases() -> None:
    """With a + b < 1 the third parameter of 2F1(r+x, b+x; a+b+x-1; z) is negative for
    one-order customers (x = 0) and 2F1 turns negative as z = t/(alpha+T+t) grows: -1.79 at
    T = 13 days, t = 90. Its log was NaN, so expected_orders and clv_bgnbd were NaN for those
    customers and ``train`` dropped its evaluation. The expectation itself is positive:
    1 - g > 1 and (a+b-1)/(a-1) > 0 as a < 1."""
    mpmath = pytest.importorskip("mpmath")
    m = _bg(**E8)
    T = np.array([13.0, 30.0, 70.0])
    zero = np.zeros(3)
    e = m.expected_purchases(90.0, zero, zero, T)
    assert np.isfinite(e).all() and (e > 0).all()
    want = [_bg_expected_by_quadrature(E8, 90.0, 0.0, 0.0, v) for v in T]
    np.testing.assert_allclose(e, want, rtol=1e-9)
    with mpmath.workdps(40):  # eq. 10 as printed, at 40 digits
        r, alpha, a, b = (mpmath.mpf(E8[k]) for k in bgnbd.PARAMS)
        exact = [(a + b - 1) / (a - 1) * (1 - ((alpha + v) / (alpha + v + 90)) ** r
                                          * mpmath.hyp2f1(r, b, a + b - 1, 90 / (alpha + v + 90)))
                 for v in T]
    np.testing.assert_allclose(e, [float(v) for v in exact], rtol=1e-12)
    # a new customer (eq. 9): the same 2F1 with T = 0
    horizons = np.array([30.0, 90.0, 365.0])
    new = m.expected_purchases_new(horizons)
    np.testing.assert_allclose(new, [_bg_expected_by_quadrature(E8, h, 0.0, 0.0, 0.0)
                                     for h in horizons], rtol=1e-9)
    # the scores' route: thousands of customers (sorted fast path), a per-customer horizon,
    # and the discounted 12-month CLV
    x, tx, age = _rfm_days(6000, 21)
    e = m.expected_purchases(90.0, x, tx, age)
    assert np.isfinite(e).all() and (e > 0).all()
    some = np.flatnonzero(x == 0)[:3].tolist() + np.flatnonzero(x > 0)[:3].tolist()
    np.testing.assert_allclose(e[some], [_bg_expected_by_quadrature(E8, 90.0, x[i], tx[i], age[i])
                                         for i in some], rtol=1e-9)
    t = np.random.default_rng(22).choice([0.0, 30.0, 90.0], len(x))
    e_t = m.expected_purchases(t, x, tx, age)
    assert np.isfinite(e_t).all() and np.all(e_t[t > 0] > 0) and np.all(e_t[t == 0] == 0)
    money = np.where(x > 0, 20.0 + x, 0.0)
    clv = _gg(p=6.25, q=3.74, gamma=15.4).clv(m, x, tx, age, money, horizon=12,
                                               time_unit_per_period=30.4)
    assert np.isfinite(clv).all() and (clv > 0).all()


@pytest.mark.parametrize("values", [E8, {"r": 0.3, "alpha": 3.0, "a": 0.05, "b": 0.2},
                                    {"r": 0.3, "alpha": 3.0, "a": 0.3, "b": 0.7}, BG_PAPER],
                         ids=["a_plus_b_0.49", "a_plus_b_0.25", "a_plus_b_1", "paper"])
def test_bgnbd_expected_purchases_grow_with_horizon(values: dict[str, float]) -> None:
    m = _bg(**values)
    horizons = np.array([1.0, 7.0, 13.0, 30.0, 90.0, 365.0, 3650.0])
    new = m.expected_purchases_new(horizons)
    assert np.all(np.isfinite(new)) and new[0] > 0 and np.all(np.diff(new) > 0)
    for x, tx in ((0.0, 0.0), (1.0, 5.0), (5.0, 40.0)):
        for T in (0.0, 13.0, 70.0, 400.0):
            if tx > T:
                continue
            n = len(horizons)
            e = m.expected_purchases(horizons, np.full(n, x), np.full(n, tx), np.full(n, T))
            assert np.all(np.isfinite(e)) and e[0] > 0 and np.all(np.diff(e) > 0), (x, T, e)


@pytest.mark.parametrize("a", [0.00587, 0.3, 0.999, 3.0])
def test_bgnbd_predictions_are_finite_over_a_parameter_grid(a: float,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    """Every prediction finite and in range over r, alpha, b, with a < 1 ((a-1) < 0), a + b < 1
    (C < 0 for x = 0) and a + b = 1 (C = 0, a removable 0 * inf), on both evaluation routes
    (scipy row by row, and the sorted fast path forced for every frequency); a few rows
    against the quadrature of the model's definition."""
    x, tx, T = _rfm_days(800, 23)
    gg = _gg(p=6.25, q=3.74, gamma=15.4)
    money = np.where(x > 0, 20.0 + x, 0.0)
    check = np.concatenate([np.flatnonzero(x == 0)[:3], np.flatnonzero(x > 0)[:3]])
    for r, alpha, b in itertools.product((0.05, 0.672, 5.0), (0.5, 46.95, 2000.0),
                                         (0.01, 0.488, 1.0 - a if a < 1 else 0.7, 3.0)):
        p = {"r": r, "alpha": alpha, "a": a, "b": b}
        m = _bg(**p)
        e = m.expected_purchases(90.0, x, tx, T)
        with monkeypatch.context() as patch:
            patch.setattr(hyp2f1_series, "_MIN_ELEMENTS", 1)
            e_fast = m.expected_purchases(90.0, x, tx, T)
        clv = gg.clv(m, x, tx, T, money, horizon=12, time_unit_per_period=30.4)
        new = m.expected_purchases_new(np.array([0.0, 1.0, 90.0, 3650.0]))
        alive = m.probability_alive(x, tx, T)
        probs = m.probability_of_n_purchases(np.arange(6), 90.0)
        for name, v in (("expected", e), ("fast", e_fast), ("clv", clv), ("new", new),
                        ("alive", alive), ("P(n)", probs)):
            assert np.all(np.isfinite(v)) and np.all(v >= 0), (p, name)
        assert np.all(alive <= 1.0) and probs.sum() <= 1.0 + 1e-12, p
        # a near 1: 1 - g = O(a-1) cancels, scipy's route loses ~1e-13/|a-1| relative
        np.testing.assert_allclose(e_fast, e, rtol=1e-10 if abs(a - 1.0) > 0.01 else 1e-9,
                                   err_msg=str(p))
        want = [_bg_expected_by_quadrature(p, 90.0, x[i], tx[i], T[i]) for i in check]
        np.testing.assert_allclose(e[check], want, rtol=1e-8, err_msg=str(p))


@pytest.mark.parametrize("model_cls", [BetaGeoModel, ParetoNBDModel])
def test_all_T_zero(model_cls) -> None:
    m = model_cls().fit(np.zeros(50), np.zeros(50), np.zeros(50))
    assert m.converged_ is False
    assert m.log_likelihood_ == 0.0
    assert any("T == 0" in d for d in m.diagnostics_)
    assert any("optimiser not run" in d for d in m.diagnostics_)


@pytest.mark.parametrize("model_cls", [BetaGeoModel, ParetoNBDModel])
def test_all_frequency_zero(model_cls) -> None:
    m = model_cls().fit(np.zeros(300), np.zeros(300), np.linspace(1, 40, 300))
    assert m.converged_ is False
    assert any("no customer made a repeat purchase" in d for d in m.diagnostics_)
    alive = m.probability_alive(np.zeros(3), np.zeros(3), np.array([1.0, 10.0, 40.0]))
    assert np.all(np.isfinite(alive))


@pytest.mark.parametrize(
    "truth", [_bg(r=0.3, alpha=5.0, a=0.8, b=2.5), _pnbd(r=0.5, alpha=10.0, s=0.6, beta=12.0)]
)
def test_one_customer_with_500_purchases(truth) -> None:
    rng = np.random.default_rng(8)
    T = rng.uniform(30, 80, 3000)
    x, tx = truth.sample(T, random_state=rng)
    x = np.append(x, 500.0)
    tx = np.append(tx, 80.0)  # bought on the last day: surely alive
    T = np.append(T, 80.0)
    m = type(truth)().fit(x, tx, T)
    assert m.converged_ is True, m.diagnostics_
    assert np.isfinite(m.log_likelihood_)
    assert any("extreme frequency: row 3000 has 500" in d for d in m.diagnostics_)
    pred = m.expected_purchases(39.0, x, tx, T)
    assert np.all(np.isfinite(pred)) and pred[-1] > 100
    assert np.all(np.isfinite(m.probability_alive(x, tx, T)))


def test_boundary_estimate_is_flagged() -> None:
    # Every repeat buyer bought on the last day: no sign of dropout, so the dropout
    # probability runs to 0 (a -> 0) and the fit must say so.
    rng = np.random.default_rng(11)
    T = rng.uniform(20, 40, 400)
    x = rng.integers(0, 5, 400).astype(float)
    tx = np.where(x > 0, T, 0.0)
    m = BetaGeoModel().fit(x, tx, T)
    assert m.converged_ is False
    assert any("nearly flat" in d or "limit" in d for d in m.diagnostics_)


def test_gammagamma_q_constraint_and_dropped_rows() -> None:
    rng = np.random.default_rng(0)
    heavy = rng.pareto(0.8, 2000) * 10.0 + 1.0  # infinite-mean spend
    freq = np.ones(2000)
    freq[:100] = 0
    m = GammaGammaModel().fit(freq, heavy)
    assert m.params_["q"] > 1.0
    assert any("dropped 100 of 2,000" in d for d in m.diagnostics_)
    assert any("q reached its lower limit 1" in d for d in m.diagnostics_)
    assert m.converged_ is False
    assert np.all(np.isfinite(m.expected_spend(freq, heavy)))
    free = GammaGammaModel(require_q_gt_1=False).fit(freq, heavy)
    assert free.params_["q"] < 1.0
    with pytest.raises(ParameterError, match="q = .* <= 1: the mean spend is infinite"):
        free.expected_spend(freq, heavy)


def test_gammagamma_no_heterogeneity() -> None:
    m = GammaGammaModel().fit(np.full(50, 3), np.full(50, 20.0))
    assert m.converged_ is False
    assert any("no heterogeneity in spend" in d for d in m.diagnostics_)


# --------------------------------------------------------------------------------------------
# Invalid input
# --------------------------------------------------------------------------------------------
def test_recency_greater_than_T_is_a_data_error() -> None:
    f = pd.Series([1, 2, 0, 3], index=["a", "b", "c", "d"])
    r = pd.Series([5.0, 12.0, 0.0, 40.0], index=f.index)
    T = pd.Series([10.0, 10.0, 10.0, 30.0], index=f.index)
    with pytest.raises(DataError, match=r"recency > T for 2 of 4 customers .*index 'b'"):
        BetaGeoModel().fit(f, r, T)


@pytest.mark.parametrize(
    ("f", "r", "T", "message"),
    [
        ([1, -1], [1.0, 0.0], [2.0, 2.0], r"frequency: 1 of 2 customers .* are negative"),
        ([1, 1], [1.0, np.nan], [2.0, 2.0], r"recency: 1 of 2 customers .* NaN or infinite"),
        ([1, 1], [1.0, 1.0], [2.0, 2.0, 3.0], r"different lengths \(frequency=2, recency=2, T=3\)"),
        ([1.5, 1], [1.0, 1.0], [2.0, 2.0], r"frequency: 1 of 2 .* not whole numbers"),
        ([0, 1], [1.0, 1.0], [2.0, 2.0], r"frequency is 0 but recency > 0 .* row 0"),
        ([], [], [], r"no customers"),
        (["x", 1], [1.0, 1.0], [2.0, 2.0], r"frequency: values must be numeric"),
    ],
)
def test_invalid_transaction_input(f, r, T, message) -> None:
    for model_cls in (BetaGeoModel, ParetoNBDModel):
        with pytest.raises(DataError, match=message):
            model_cls().fit(f, r, T)


def test_invalid_input_when_scoring(small_rfm) -> None:
    m = _bg(**BG_PAPER)
    with pytest.raises(DataError, match="recency > T"):
        m.probability_alive([1], [5.0], [2.0])
    with pytest.raises(ParameterError, match="t: must be >= 0"):
        m.expected_purchases(-1.0, [1], [1.0], [2.0])
    with pytest.raises(ParameterError, match="n: must be whole numbers"):
        m.probability_of_n_purchases(1.5, 10.0)


def test_a_store_with_free_or_returned_repeat_orders_keeps_its_spend_model() -> None:
    """CDNOW's master file holds one repeat customer (of 11,146) whose repeat purchases were
    all $0: the Gamma-Gamma fit refused the whole store, so `loyalist train` had no
    BG/NBD + Gamma-Gamma baseline and no clv_bgnbd for anyone. The product's callers fit on
    the customers with positive spend and say who was left out; a customer left out (or one
    whose returns net below 0) is scored as an average of 0, shrunk towards the population."""
    from types import SimpleNamespace

    from loyalist.evaluation.run import _bgnbd_scores, _fit_bgnbd

    rng = np.random.default_rng(3)
    n = 400
    x = rng.poisson(2.0, n)
    m = np.where(x > 0, rng.gamma(6.0, 5.0, n), 0.0)
    m[[1, 2]] = [0.0, -4.0]
    x[[1, 2]] = [3, 1]
    ok, note = gammagamma.positive_spend(x, m)
    assert not ok[1] and not ok[2] and ok.sum() == n - 2
    assert note.startswith(f"Gamma-Gamma fitted without 2 of {int((x > 0).sum()):,} repeat "
                           "customers whose repeat purchases average zero or less")
    every, none = gammagamma.positive_spend(x[3:], m[3:])
    assert every.all() and none is None
    with pytest.raises(DataError, match="all 2 repeat customers' repeat purchases average "
                                        "zero or less"):
        gammagamma.positive_spend([0, 3, 1], [0.0, 0.0, -1.0])
    with pytest.raises(DataError, match=r"monetary_value: 1 of \d+ repeat customers"):
        GammaGammaModel().fit(x[:2], m[:2])  # the model itself still refuses them

    t_ = rng.uniform(20, 60, n)
    feats = pd.DataFrame({"bg_frequency": x, "bg_recency": np.where(x > 0, t_ * 0.7, 0.0),
                          "bg_T": t_, "bg_monetary_value": m})
    notes: list[str] = []
    bg, gg = _fit_bgnbd(feats, notes)
    assert bg is not None and gg is not None and gg.n_customers_ == int((x > 0).sum()) - 2
    assert note in notes and not any("could not be fitted" in s for s in notes)
    scores = _bgnbd_scores(SimpleNamespace(bgnbd=bg, gammagamma=gg, horizon_days=90), feats)
    clv = scores["clv_bgnbd"].to_numpy()
    assert np.isfinite(clv).all() and (clv >= 0).all()
    # both left-out customers get the model's spend for an average of 0: p gamma / (p x + q - 1)
    p, q, g = (gg.params_[k] for k in ("p", "q", "gamma"))
    spend = clv[[1, 2]] / scores["expected_orders"].to_numpy()[[1, 2]]
    assert spend == pytest.approx([p * g / (p * 3 + q - 1), p * g / (p * 1 + q - 1)])


def test_gammagamma_invalid_input() -> None:
    with pytest.raises(DataError, match="all 3 customers have frequency 0"):
        GammaGammaModel().fit([0, 0, 0], [0.0, 0.0, 0.0])
    with pytest.raises(DataError, match=r"monetary_value: 1 of 2 repeat customers .* <= 0"):
        GammaGammaModel().fit([1, 2, 0], [10.0, 0.0, 0.0])
    with pytest.raises(DataError, match="monetary_value: 1 of 2 customers .* negative"):
        GammaGammaModel().fit([1, 2], [10.0, -3.0])
    gg = _gg(p=6.0, q=4.0, gamma=15.0)
    bg = _bg(**BG_PAPER)
    with pytest.raises(ParameterError, match="horizon: number of periods"):
        gg.clv(bg, [1], [1.0], [2.0], [10.0], horizon=0, time_unit_per_period=4.345)
    with pytest.raises(ParameterError, match="time_unit_per_period: must be > 0"):
        gg.clv(bg, [1], [1.0], [2.0], [10.0], horizon=3, time_unit_per_period=0.0)
    # exploratory report 3b, B6: text and None reached np.isfinite (a raw TypeError)
    with pytest.raises(ParameterError, match=r"time_unit_per_period: must be > 0 \(a number.*"
                                             r"got '30'"):
        gg.clv(bg, [1], [1.0], [2.0], [10.0], horizon=3, time_unit_per_period="30")
    with pytest.raises(ParameterError, match=r"discount_rate: must be > -1 \(a number per "
                                             r"period.*got None"):
        gg.clv(bg, [1], [1.0], [2.0], [10.0], horizon=3, time_unit_per_period=4.345,
               discount_rate=None)
    for bad in ("x", True, float("inf")):  # not a number of periods (True used to be 1)
        with pytest.raises(ParameterError, match="horizon: number of periods"):
            gg.clv(bg, [1], [1.0], [2.0], [10.0], horizon=bad, time_unit_per_period=4.345)
    # numpy numbers are numbers
    a = gg.clv(bg, [1], [1.0], [2.0], [10.0], horizon=np.int64(3),
               time_unit_per_period=np.float64(4.345), discount_rate=np.float32(0.01))
    b = gg.clv(bg, [1], [1.0], [2.0], [10.0], horizon=3, time_unit_per_period=4.345)
    assert a == pytest.approx(b, rel=1e-6)
    with pytest.raises(DataError, match="monetary_value has 2 values but frequency has 1"):
        gg.clv(bg, [1], [1.0], [2.0], [10.0, 3.0], horizon=3, time_unit_per_period=4.345)


def test_invalid_hyper_parameters_raise_in_fit(small_rfm) -> None:
    x, tx, T = small_rfm
    m = BetaGeoModel(penalizer=-1.0)  # __init__ only stores
    assert m.penalizer == -1.0
    with pytest.raises(ParameterError, match="penalizer must be >= 0"):
        m.fit(x, tx, T)
    with pytest.raises(ParameterError, match="max_iter must be a positive integer"):
        ParetoNBDModel(max_iter=0).fit(x, tx, T)
    with pytest.raises(ParameterError, match="tol must be > 0"):
        GammaGammaModel(tol=0.0).fit([1, 2], [1.0, 2.0])


# --------------------------------------------------------------------------------------------
# Estimator contract
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("model", "calls"),
    [
        (BetaGeoModel(), ["log_likelihood_per_customer", "probability_alive",
                          "expected_purchases", "expected_purchases_new",
                          "probability_of_n_purchases", "sample", "to_dict"]),
        (ParetoNBDModel(), ["log_likelihood_per_customer", "probability_alive",
                            "expected_purchases", "expected_purchases_new",
                            "probability_of_n_purchases", "sample", "to_dict"]),
        (GammaGammaModel(), ["log_likelihood_per_customer", "expected_spend", "sample", "clv",
                             "to_dict"]),
    ],
)
def test_not_fitted(model, calls) -> None:
    args = {
        "log_likelihood_per_customer": ([1], [1.0], [2.0]),
        "probability_alive": ([1], [1.0], [2.0]),
        "expected_purchases": (1.0, [1], [1.0], [2.0]),
        "expected_purchases_new": (1.0,),
        "probability_of_n_purchases": (1, 1.0),
        "sample": ([2.0],),
        "to_dict": (),
        "expected_spend": ([1], [10.0]),
        "clv": (_bg(**BG_PAPER), [1], [1.0], [2.0], [10.0]),
    }
    for name in calls:
        a = args[name]
        if isinstance(model, GammaGammaModel) and name == "log_likelihood_per_customer":
            a = ([1], [10.0])
        kwargs = {"horizon": 3, "time_unit_per_period": 4.345} if name == "clv" else {}
        with pytest.raises(NotFittedError, match=f"{type(model).__name__} is not fitted yet"):
            getattr(model, name)(*a, **kwargs)


def test_unfitted_transaction_model_in_clv() -> None:
    gg = _gg(p=6.0, q=4.0, gamma=15.0)
    with pytest.raises(NotFittedError, match="BetaGeoModel is not fitted yet"):
        gg.clv(BetaGeoModel(), [1], [1.0], [2.0], [10.0], horizon=3, time_unit_per_period=4.3)


def test_to_dict_round_trip(small_rfm) -> None:
    x, tx, T = small_rfm
    for model in (BetaGeoModel(penalizer=0.01).fit(x, tx, T), ParetoNBDModel().fit(x, tx, T),
                  GammaGammaModel().fit(x, _gg(p=6, q=4, gamma=15).sample(x, random_state=0))):
        data = json.loads(json.dumps(model.to_dict()))
        again = type(model).from_dict(data)
        assert again.params_ == model.params_
        assert again.get_params() == model.get_params()
        assert again.converged_ == model.converged_
        assert again.diagnostics_ == model.diagnostics_
    with pytest.raises(ParameterError, match="the saved model is a BetaGeoModel"):
        ParetoNBDModel.from_dict(BetaGeoModel().fit(x, tx, T).to_dict())
    with pytest.raises(ModelVersionError, match="saved format 'loyalist.clv/0'"):
        BetaGeoModel.from_dict({"format": "loyalist.clv/0", "params": BG_PAPER})
    with pytest.raises(ParameterError, match=r"params lack \['b'\]"):
        BetaGeoModel.from_dict({"params": {"r": 1, "alpha": 1, "a": 1}})
    with pytest.raises(ParameterError, match="must be finite and > 0"):
        BetaGeoModel.from_dict({"params": {**BG_PAPER, "a": -1.0}})


def test_output_types(small_rfm) -> None:
    x, tx, T = small_rfm
    m = _bg(**BG_PAPER)
    assert isinstance(m.expected_purchases(10.0, 1, 5.0, 20.0), float)
    assert isinstance(m.probability_alive(x, tx, T), np.ndarray)
    idx = pd.Index([f"c{i}" for i in range(len(x))])
    s = m.probability_alive(pd.Series(x, index=idx), pd.Series(tx, index=idx),
                            pd.Series(T, index=idx))
    assert isinstance(s, pd.Series) and s.index.equals(idx) and s.name == "probability_alive"
    per_customer_t = m.expected_purchases(np.linspace(1, 10, len(x)), x, tx, T)
    assert per_customer_t.shape == x.shape
    assert m.expected_purchases_new([0.0, 1.0]).tolist()[0] == 0.0


def test_penalizer_shrinks_parameters(small_rfm) -> None:
    x, tx, T = small_rfm
    plain = BetaGeoModel().fit(x, tx, T)
    shrunk = BetaGeoModel(penalizer=0.1).fit(x, tx, T)
    norm = lambda m: sum(v * v for v in m.params_.values())  # noqa: E731
    assert norm(shrunk) < norm(plain)
    assert shrunk.log_likelihood_ < plain.log_likelihood_


def test_the_transpose_passed_as_t_is_named() -> None:
    """Exploratory report 4: ``fit(r.frequency, r.recency, r.T)`` passed pandas' transpose of
    the frame, and the error did not say so (every lifetimes user writes ``r.T`` first)."""
    r = pd.DataFrame({"frequency": [1.0, 0.0, 2.0], "recency": [5.0, 0.0, 8.0],
                      "T": [10.0, 9.0, 12.0]})
    with pytest.raises(DataError, match=r"T: expected one column .*; `frame.T` is pandas' "
                                        r"transpose of the frame: write frame\['T'\]"):
        BetaGeoModel().fit(r.frequency, r.recency, r.T)


def test_no_purchases_expected_in_no_time_is_a_plain_zero() -> None:
    """Exploratory report 4: ``expected_purchases(0, ...)`` returned -0.0."""
    out = _bg(r=0.3, alpha=5.0, a=0.8, b=2.5).expected_purchases(
        0, np.array([0.0, 2.0]), np.array([0.0, 10.0]), np.array([30.0, 30.0]))
    assert np.array_equal(out, [0.0, 0.0]) and not np.signbit(out).any()
