"""Point forecasters for a batch of open-day series: seasonal naive, statsforecast's AutoETS,
MSTL, AutoTheta and AutoARIMA, and a harmonic regression. The LightGBM model is in :mod:`.gbm`.

Every model follows one contract: ``fit(batch) -> self`` where ``batch`` is a list of
:class:`SeriesData` (history on open days before the origin, and the open days to forecast);
``predict()`` returns one array of point forecasts per series, NaN where the model failed on
that series. Like statsforecast's ``forecast``, fitting already computes the forecasts (the
future days are part of the input), so ``predict`` only returns them. Prediction intervals
are not made here: :mod:`.intervals` calibrates them from each model's backtest errors.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Self

import numpy as np
import pandas as pd

from loyalist.errors import NotFittedError

log = logging.getLogger(__name__)

__all__ = ["ENSEMBLE", "MODELS", "YEARLY_MODELS", "SeriesData", "day_numbers", "last_year_factor",
           "make_model"]


@dataclass(frozen=True)
class SeriesData:
    """One series at one forecast origin, on open days only (closed weekdays removed)."""

    name: str
    dates: pd.DatetimeIndex   # open days before the origin (fitting data)
    y: np.ndarray             # net revenue on ``dates``; irregular closures already imputed
    future: pd.DatetimeIndex  # open days to forecast, in [origin, origin + horizon)
    m: int                    # open days per week (the weekly seasonal period)
    holidays: np.ndarray      # datetime64[D] public holidays covering history and future
    yearly: bool              # enough history (a year plus the horizon) for a yearly pattern
    imputed: np.ndarray | None = None  # True where ``y`` was imputed (a closed day)
    monthly: bool = False     # one value per billing day of the month, not per open weekday

    @property
    def h(self) -> int:
        return len(self.future)


class _Model:
    """Shared fitted-check and failure handling."""

    name = "model"

    def __init__(self) -> None:
        pass

    def fit(self, batch: Sequence[SeriesData]) -> Self:
        self.forecasts_ = self._fit_predict(list(batch))
        return self

    def predict(self) -> list[np.ndarray]:
        if not hasattr(self, "forecasts_"):
            raise NotFittedError(f"{type(self).__name__}: call fit(batch) before predict()")
        return self.forecasts_

    def _fit_predict(self, batch: list[SeriesData]) -> list[np.ndarray]:
        return [self._guarded(d) for d in batch]

    def _guarded(self, d: SeriesData) -> np.ndarray:
        if d.h == 0:
            return np.zeros(0)
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                # Optimisers in statsforecast/numpy warn on flat or short series; the backtest
                # judges the result, so a warning is not an error here.
                warnings.simplefilter("ignore")
                out = np.asarray(self._one(d), dtype=float)[: d.h]
        except Exception as e:  # noqa: BLE001 - third-party fitting can raise anything; the
            # series then has no forecast from this model and selection skips it.
            log.warning("%s failed on %s (%s: %s)", self.name, d.name, type(e).__name__, e)
            return np.full(d.h, np.nan)
        if out.shape != (d.h,) or not np.all(np.isfinite(out)):
            log.warning("%s gave a non-finite forecast on %s", self.name, d.name)
            return np.full(d.h, np.nan)
        return out

    def _one(self, d: SeriesData) -> np.ndarray:
        raise NotImplementedError


class SeasonalNaive(_Model):
    """Same open weekday last week: ``y[T + k] = y[T + k - m * ceil(k / m)]`` (the baseline
    every metric is compared with)."""

    name = "seasonal_naive"

    def _one(self, d: SeriesData) -> np.ndarray:
        return seasonal_naive(d.y, d.m, d.h)


def seasonal_naive(y: np.ndarray, m: int, h: int) -> np.ndarray:
    """Repeat the last ``m`` values ``h`` steps ahead (hand-checkable reference)."""
    y = np.asarray(y, dtype=float)
    if y.size < m:
        raise ValueError(f"seasonal naive needs at least m={m} values, got {y.size}")
    last = y[-m:]
    return np.array([last[k % m] for k in range(h)], dtype=float)


YEAR_WEEKS_DAYS = 364  # 52 weeks back: the same weekday a year earlier
FULL_CHANGE = 2.0     # a year-ago level this many times off (or more) is taken whole


def last_year_factor(d: SeriesData, f: np.ndarray, closed: np.ndarray | None = None
                     ) -> float | None:
    """The factor that moves ``f`` (a forecast on ``d.future`` blind to the season) toward
    last year's same days, or None when it does not apply: a series with a yearly model
    (``d.yearly``), billing days, a history that does not hold every day 52 weeks before
    ``d.future`` (same weekdays), or no positive total to compare. Days predicted ``closed``
    (on ``d.future``) and days whose year-ago value was imputed (a closure then) are left out.

    With ``r`` the year-ago days' total over ``f``'s total, the factor is ``r ** w`` with
    ``w = min(1, |ln r| / ln FULL_CHANGE)``: ``r`` mixes the season (the change to forecast)
    with a year's growth (unknown from one year of history: there is no earlier year to
    compare with), so a small ``r`` is mostly growth and is shrunk toward 1, a change of
    ``FULL_CHANGE`` times or more is taken whole (a January after a December peak). Not
    backtested: no earlier origin of such a history has a year before it
    (BENCHMARKS.md, "Seasonal origins on generated stores")."""
    if d.yearly or d.monthly or d.h == 0:
        return None
    pos = d.dates.get_indexer(d.future - pd.Timedelta(days=YEAR_WEEKS_DAYS))
    if (pos < 0).any():
        return None
    keep = np.ones(d.h, dtype=bool) if closed is None else ~np.asarray(closed, dtype=bool)
    if d.imputed is not None:
        keep &= ~d.imputed[pos]
    before, now = float(d.y[pos][keep].sum()), float(np.sum(f[keep]))
    if not (before > 0 and now > 0):
        return None
    log_r = np.log(before / now)
    return float(np.exp(np.sign(log_r) * min(abs(log_r), log_r ** 2 / np.log(FULL_CHANGE))))


class _StatsForecast(_Model):
    """A statsforecast model fitted to the last ``window_weeks`` weeks of each series."""

    window_weeks: int | None = None

    def _make(self, d: SeriesData) -> Any:
        raise NotImplementedError

    def _one(self, d: SeriesData) -> np.ndarray:
        y = d.y if self.window_weeks is None else d.y[-self.window_weeks * d.m:]
        return self._make(d).forecast(y=y.astype(float), h=d.h)["mean"]


class ETS(_StatsForecast):
    """AutoETS (Hyndman et al. 2008; statsforecast's port of R's ``forecast::ets``) with
    weekly seasonality and no trend component (``ZNZ``: error and season type chosen by AICc)
    on the last year. A trend extrapolated 30 days ahead from daily retail data mostly adds
    error, and dropping it makes the fit ~6x faster (measured in benchmarks/bench_forecast.py)."""

    name = "ets"
    window_weeks = 52

    def _make(self, d: SeriesData) -> Any:
        from statsforecast.models import AutoETS
        return AutoETS(season_length=d.m, model="ZNZ") if d.m > 1 else AutoETS(model="ZNN")


class MSTLModel(_StatsForecast):
    """MSTL (Bandara, Hyndman & Bergmeir 2021): STL weekly decomposition, seasonal naive on
    the seasonal part, AutoETS (no season) on trend plus remainder; last year of data."""

    name = "mstl"
    window_weeks = 52

    def _make(self, d: SeriesData) -> Any:
        from statsforecast.models import MSTL, AutoETS
        if d.m <= 1:
            return AutoETS(model="ZZN")
        return MSTL(season_length=d.m, trend_forecaster=AutoETS(model="ZZN"))


class Theta(_StatsForecast):
    """AutoTheta (Fiorucci et al. 2016) with weekly seasonal adjustment; last year of data."""

    name = "theta"
    window_weeks = 52

    def _make(self, d: SeriesData) -> Any:
        from statsforecast.models import AutoTheta
        return AutoTheta(season_length=d.m)


class ARIMA(_Model):
    """AutoARIMA (Hyndman & Khandakar 2008) with weekly seasonality and, as regressors,
    holiday and day-before-holiday dummies and (with a year of history) yearly Fourier terms:
    a dynamic harmonic regression with ARIMA errors. Accurate but slow (seconds per series)."""

    name = "arima"

    def _one(self, d: SeriesData) -> np.ndarray:
        from statsforecast.models import AutoARIMA
        x, xf = _regressors(d, weekday=False, trend=False)
        keep = x.std(axis=0) > 0
        model = AutoARIMA(season_length=d.m)
        if not keep.any():
            return model.forecast(y=d.y.astype(float), h=d.h)["mean"]
        return model.forecast(y=d.y.astype(float), h=d.h, X=x[:, keep],
                              X_future=xf[:, keep])["mean"]


class Harmonic(_Model):
    """Harmonic regression with AR(1) errors (Hyndman & Athanasopoulos, *Forecasting:
    Principles and Practice*, 3rd ed., sections 10.5-10.6), fitted by ridge least squares.

    Regressors: intercept, linear trend, open-weekday dummies, holiday and day-before-holiday
    dummies, and ``fourier_order`` yearly sine/cosine pairs when ``SeriesData.yearly``. When the
    series is essentially positive (at most 2% of days <= 0) it is fitted on the log scale
    (multiplicative seasonality; the few non-positive days clipped to 5% of the median) and
    retransformed with Duan's (1983) smearing factor, so the forecast is a mean.
    The residuals' AR(1) coefficient carries the current deviation forward, decaying.
    """

    name = "harmonic"
    fourier_order = 6
    ridge = 1.0

    def _one(self, d: SeriesData) -> np.ndarray:
        x, xf = _regressors(d, weekday=True, trend=True, fourier_order=self.fourier_order)
        y = d.y.astype(float)
        use_log = np.mean(y <= 0) <= 0.02 and np.any(y > 0)
        if use_log:
            floor = 0.05 * float(np.median(y[y > 0]))
            z = np.log(np.maximum(y, floor))
        else:
            z = y
        penalty = np.full(x.shape[1], self.ridge)
        penalty[0] = 0.0
        beta = np.linalg.solve(x.T @ x + np.diag(penalty), x.T @ z)
        r = z - x @ beta
        den = float(r[:-1] @ r[:-1])
        phi = float(np.clip(r[1:] @ r[:-1] / den, 0.0, 0.98)) if den > 0 else 0.0
        f = xf @ beta + r[-1] * phi ** np.arange(1, d.h + 1)
        if not use_log:
            return f
        innov = r[1:] - phi * r[:-1]
        return np.exp(f) * float(np.mean(np.exp(innov)))


def day_numbers(index: pd.DatetimeIndex | np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(days since 1970-01-01, weekday with Monday = 0, day of year from 1) as int arrays:
    numpy arithmetic, ~20x faster than the pandas accessors on short indexes."""
    d = np.asarray(index).astype("datetime64[D]")
    n = d.astype(np.int64)
    dow = (n + 3) % 7  # 1970-01-01 was a Thursday
    doy = (d - d.astype("datetime64[Y]").astype("datetime64[D]")).astype(np.int64) + 1
    return n, dow, doy


MONTHLY_FOURIER = 2  # yearly sine/cosine pairs for a billing-day series


def _regressors(d: SeriesData, *, weekday: bool, trend: bool, fourier_order: int = 6
                ) -> tuple[np.ndarray, np.ndarray]:
    """Design matrices for history and future days (same columns). Billing days
    (``d.monthly``: a dozen values a year per billing day) get no weekday or holiday dummies
    and at most :data:`MONTHLY_FOURIER` yearly pairs."""
    day_n, dow, doy_ = day_numbers(np.concatenate([d.dates.values, d.future.values]))
    n = len(d.dates)
    cols: list[np.ndarray] = [np.ones(day_n.size)]
    if trend:
        t = (day_n - day_n[0]) / 365.25
        cols.append(t - t[:n].mean())
    if weekday and not d.monthly:
        for w in np.unique(dow[:n])[1:]:
            cols.append((dow == w).astype(float))
    if not d.monthly:
        hol = d.holidays.astype(np.int64)
        is_h = np.isin(day_n, hol)
        eve = np.isin(day_n + 1, hol) & ~is_h
        cols += [is_h.astype(float), eve.astype(float)]
    else:
        fourier_order = min(fourier_order, MONTHLY_FOURIER)
    if d.yearly:
        doy = 2 * np.pi * doy_ / 365.25
        for k in range(1, fourier_order + 1):
            cols += [np.sin(k * doy), np.cos(k * doy)]
    x = np.column_stack(cols)
    return x[:n], x[n:]


def _lightgbm(**params: Any) -> Any:
    from loyalist.forecast.gbm import LightGBMForecaster
    return LightGBMForecaster(**params)


ENSEMBLE = "ensemble"  # the mean of the other candidates' forecasts (made in backtest.py)
# Models that learn the yearly pattern when ``SeriesData.yearly`` (Fourier terms, last year's
# same week); the others (seasonal naive, ETS, MSTL, theta) carry the recent level forward.
YEARLY_MODELS = frozenset({"harmonic", "arima", "lightgbm"})

MODELS: dict[str, Callable[..., Any]] = {
    "seasonal_naive": SeasonalNaive,
    "ets": ETS,
    "mstl": MSTLModel,
    "theta": Theta,
    "arima": ARIMA,
    "harmonic": Harmonic,
    "lightgbm": _lightgbm,
    ENSEMBLE: lambda **_: None,
}


def make_model(name: str, **params: Any) -> Any:
    """A fresh, unfitted model by name (see :data:`MODELS`), with optional parameters."""
    return MODELS[name](**params)
