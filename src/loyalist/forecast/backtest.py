"""Rolling-origin backtest: fit every model at each origin on data strictly before it, forecast
the next ``horizon`` days, and score against what happened.

Origins (``step`` = min(horizon, 30) days apart by default) end at ``as_of``: the last scored
origin is ``as_of - horizon``. Before the first scored origin, ``n_warmup`` more origins are
run only to calibrate the first scored origin's intervals (:mod:`.intervals`) and to let
model selection be judged out of sample (the ``auto`` row). The final "origin" is ``as_of``
itself: the forecast the user gets.

At every origin the business calendar is re-learned from the data before it (a closed
weekday, a holiday closure or a yearly break is only known from the past), so the whole
procedure is leak-free; :func:`series_at` is the single place where history is cut.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from loyalist.forecast import metrics as mt
from loyalist.forecast.closures import BusinessCalendar, detect_closures, impute_closed
from loyalist.forecast.models import ENSEMBLE, YEARLY_MODELS, SeriesData, make_model
from loyalist.forecast.public_holidays import Country, holiday_dates

log = logging.getLogger(__name__)

__all__ = ["Round", "min_history_days", "rolling_origins", "run_round", "score_rounds",
           "series_at", "yearly_history_days"]

MIN_TRAIN_DAYS = 56  # 8 weeks of history before the earliest origin


def default_step(horizon: int) -> int:
    return min(horizon, 30)


def rolling_origins(as_of: pd.Timestamp, horizon: int, *, n_origins: int = 4,
                    step: int | None = None, n_warmup: int = 2
                    ) -> tuple[list[pd.Timestamp], list[pd.Timestamp]]:
    """(warm-up origins, scored origins), oldest first. Scored windows end at ``as_of``;
    warm-up windows end no later than the first scored origin."""
    step = step or default_step(horizon)
    as_of = pd.Timestamp(as_of).normalize()
    scored = [as_of - pd.Timedelta(days=horizon + (n_origins - 1 - k) * step)
              for k in range(n_origins)]
    first = scored[0]
    warm = [first - pd.Timedelta(days=horizon + (n_warmup - 1 - w) * step)
            for w in range(n_warmup)]
    return warm, scored


def yearly_history_days(horizon: int) -> int:
    """Days of history before an origin from which the yearly pattern is modelled: a year
    plus the horizon, so that the days to forecast were seen a year earlier."""
    return 365 + horizon


def min_history_days(horizon: int, *, n_origins: int = 4, step: int | None = None,
                     n_warmup: int = 2, min_train_days: int = MIN_TRAIN_DAYS) -> int:
    """Days of history the backtest needs before ``as_of``."""
    warm, scored = rolling_origins(pd.Timestamp("2000-01-01"), horizon, n_origins=n_origins,
                                   step=step, n_warmup=n_warmup)
    earliest = (warm or scored)[0]
    return (pd.Timestamp("2000-01-01") - earliest).days + min_train_days


@dataclass
class Round:
    """Everything one origin produced: per series the calendar and the per-model forecasts on
    the ``horizon`` calendar days from the origin (0 on days predicted closed)."""

    origin: pd.Timestamp
    horizon: int
    dates: pd.DatetimeIndex
    calendars: dict[str, BusinessCalendar] = field(default_factory=dict)
    forecasts: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)  # model->series
    closed: dict[str, np.ndarray] = field(default_factory=dict)      # predicted closed days
    level: dict[str, float] = field(default_factory=dict)            # 4-week mean at origin
    scale: dict[str, float] = field(default_factory=dict)            # MASE denominator
    floor: dict[str, float] = field(default_factory=dict)            # lowest plausible value
    seconds: dict[str, float] = field(default_factory=dict)          # fit+forecast per model
    inputs: dict[str, SeriesData] = field(default_factory=dict)
    # What happened on ``dates`` (NaN from as_of on), for scoring only: never given to a model.
    actual: dict[str, np.ndarray] = field(default_factory=dict)
    _closed_cache: dict[tuple[int, pd.Timestamp], np.ndarray] = field(default_factory=dict)

    def closed_by(self, cal: BusinessCalendar) -> np.ndarray:
        """``cal.closed(self.dates)``, cached per calendar (series often share one)."""
        key = (id(cal), self.origin)
        if key not in self._closed_cache:
            self._closed_cache[key] = cal.closed(self.dates)
        return self._closed_cache[key]


def series_at(y: pd.Series, origin: pd.Timestamp, horizon: int, cal: BusinessCalendar,
              holidays: np.ndarray, name: str) -> tuple[SeriesData, np.ndarray]:
    """Cut ``y`` strictly before ``origin`` and build the model input on the calendar's regular
    days (open weekdays, or billing days), plus the mask of the ``horizon`` calendar days from
    ``origin`` predicted closed."""
    days = y.index.values.astype("datetime64[D]")
    cut = int(np.searchsorted(days, np.datetime64(origin.date(), "D")))
    open_hist = cal.regular(days[:cut])
    dates = pd.DatetimeIndex(days[:cut][open_hist])
    closed_hist = cal.closed(dates)
    values = impute_closed(y.to_numpy(dtype=float)[:cut][open_hist], dates, closed_hist)
    window = pd.date_range(origin, periods=horizon, freq="D")
    closed = cal.closed(window)
    future = window[cal.regular(window)]
    yearly = (origin - y.index[0]).days >= yearly_history_days(horizon)
    data = SeriesData(name=name, dates=dates, y=values, future=future, m=cal.season_length,
                      holidays=holidays, yearly=yearly, imputed=closed_hist,
                      monthly=bool(cal.month_days))
    return data, closed


def _floor(y: np.ndarray) -> float:
    """Lowest plausible daily value: 0, unless net-negative days are common (> 5%) in the
    history, then its minimum. Forecasts and lower bounds are clipped to it."""
    neg = y < 0
    return float(np.min(y)) if neg.mean() > 0.05 else 0.0


def run_round(series: Mapping[str, pd.Series], origin: pd.Timestamp, horizon: int,
              models: Sequence[str], *, calendar_of: Mapping[str, str],
              countries: Mapping[str, Country | None], min_train_days: int = MIN_TRAIN_DAYS,
              model_params: Mapping[str, Mapping[str, object]] | None = None) -> Round:
    """Fit ``models`` on each series' data before ``origin`` and forecast ``horizon`` days.

    ``calendar_of[name]`` names the series whose history defines ``name``'s open days (itself
    for the total or a store; the total for a category or a country). ``countries[name]`` is
    the holiday country of a series (None: the calendar's)."""
    origin = pd.Timestamp(origin).normalize()
    rnd = Round(origin=origin, horizon=horizon,
                dates=pd.date_range(origin, periods=horizon, freq="D"))
    own: dict[str, BusinessCalendar] = {}
    batch: list[SeriesData] = []
    for name, y in series.items():
        if (origin - y.index[0]).days < min_train_days:
            continue
        src = calendar_of.get(name, name)
        if src not in own:
            base = series[src]
            own[src] = detect_closures(base[base.index < origin], countries.get(src))
        cal = own[src]
        hol = cal.holidays
        c = countries.get(name)
        if c is not None and src != name:
            hol = holiday_dates(c, y.index[0], origin + pd.Timedelta(days=horizon + 7))
        data, closed = series_at(y, origin, horizon, cal, hol, name)
        if len(data.y) < 2 * data.m:
            continue
        rnd.calendars[name] = cal
        rnd.closed[name] = closed
        rnd.actual[name] = y.reindex(rnd.dates).to_numpy(dtype=float)
        rnd.inputs[name] = data
        tail = data.y[-4 * data.m:]
        rnd.level[name] = float(np.mean(np.abs(tail))) if tail.size else float("nan")
        rnd.scale[name] = mt.mase_scale(data.y, data.m)
        rnd.floor[name] = _floor(data.y)
        batch.append(data)
    for model in models:
        if model == ENSEMBLE:
            continue
        t0 = time.perf_counter()
        est = make_model(model, **dict((model_params or {}).get(model, {})))
        preds = est.fit(batch).predict() if batch else []
        rnd.seconds[model] = time.perf_counter() - t0
        out: dict[str, np.ndarray] = {}
        for data, p in zip(batch, preds, strict=True):
            full = np.zeros(horizon)
            full[rnd.calendars[data.name].regular(rnd.dates)] = p
            full[rnd.closed[data.name]] = 0.0
            full = np.maximum(full, rnd.floor[data.name])
            out[data.name] = full
        rnd.forecasts[model] = out
    if ENSEMBLE in models:
        rnd.forecasts[ENSEMBLE] = _ensemble(rnd, [m for m in models
                                                  if m not in (ENSEMBLE, "seasonal_naive")])
    return rnd


def _ensemble(rnd: Round, members: Sequence[str]) -> dict[str, np.ndarray]:
    """Equal-weight mean of the member models' forecasts (a forecast combination: Bates &
    Granger 1969; robust to any one model's bad month). NaN where every member failed.

    On a series with a year of history (``SeriesData.yearly``) only the members that learn
    the yearly pattern (:data:`.models.YEARLY_MODELS`) are averaged, when any ran: a model
    that carries December's level into January would pull the mean off the season it cannot
    see, and backtest origins in the autumn would not show it."""
    out = {}
    for name, data in rnd.inputs.items():
        ran = [m for m in members if m in rnd.forecasts]
        seasonal = [m for m in ran if m in YEARLY_MODELS]
        use = seasonal if data.yearly and seasonal else ran
        stack = np.vstack([rnd.forecasts[m][name] for m in use]
                          or [np.full(rnd.horizon, np.nan)])
        ok = np.isfinite(stack).all(axis=1)
        out[name] = stack[ok].mean(axis=0) if ok.any() else np.full(rnd.horizon, np.nan)
    return out


def score_rounds(rounds: Sequence[Round], evaluation: Mapping[str, BusinessCalendar]
                 ) -> pd.DataFrame:
    """Point metrics per (series, model, origin) on days the business was open (judged by the
    ``evaluation`` calendars, learned with hindsight: scoring may know that a day was a
    closure; forecasting may not). Columns: series, model, origin, days, mape, smape, mase."""
    rows = []
    for rnd in rounds:
        for model, per_series in rnd.forecasts.items():
            for name, f in per_series.items():
                y = rnd.actual[name]
                keep = np.isfinite(y) & ~rnd.closed_by(evaluation[name])
                a, b = y[keep], f[keep]
                ok = np.isfinite(b).all() and keep.any()
                rows.append({
                    "series": name, "model": model, "origin": rnd.origin, "days": int(keep.sum()),
                    "mape": mt.mape(a, b) if ok else np.nan,
                    "smape": mt.smape(a, b) if ok else np.nan,
                    "mase": mt.mase(a, b, scale=rnd.scale[name]) if ok else np.nan,
                })
    return pd.DataFrame(rows, columns=["series", "model", "origin", "days", "mape", "smape",
                                       "mase"])
