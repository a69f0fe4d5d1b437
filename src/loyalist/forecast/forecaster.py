"""The automatic revenue forecaster: backtest every candidate model, keep the best per series,
forecast with calibrated 80/95% intervals.

Per series the chosen model is the one with the lowest mean MASE over the scored backtest
origins (ties: the earlier model in ``models``, i.e. the simpler); once the series has a year
of history, among the models that learn the yearly pattern (``YEARLY_MODELS`` and the
ensemble) when any ran. Because that choice is made
on the very origins it is scored on, the backtest also reports an ``auto`` row: at each
scored origin, the model that was best on the windows completed *before* it (warm-up windows
included), scored at that origin -- the honest accuracy of the selection procedure.

With a year of history but under a year plus the horizon (no yearly model), the chosen
forecast's level is moved toward the same days 52 weeks earlier
(:func:`.models.last_year_factor`); the backtest cannot test that move, and the note says so.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any, Self

import numpy as np
import pandas as pd

from loyalist.errors import DataError, NotFittedError, ParameterError, check_days
from loyalist.forecast import metrics as mt
from loyalist.forecast.backtest import (
    MIN_TRAIN_DAYS,
    Round,
    default_step,
    min_history_days,
    rolling_origins,
    run_round,
    score_rounds,
    yearly_history_days,
)
from loyalist.forecast.closures import detect_closures, month_days
from loyalist.forecast.intervals import fewest_scores, interval_bounds, total_bounds
from loyalist.forecast.models import ENSEMBLE, MODELS, YEARLY_MODELS, last_year_factor
from loyalist.forecast.public_holidays import Country

log = logging.getLogger(__name__)

__all__ = ["BASELINE", "DEFAULT_MODELS", "FAST_MODELS", "FORECAST_TOTALS", "LEVELS",
           "MAX_HORIZON", "RevenueForecaster",
           "check_horizon", "forecast_daily_revenue", "yearly_note"]

DEFAULT_MODELS = ("seasonal_naive", "ets", "harmonic", "lightgbm", "ensemble")
# Without the per-series statsforecast fits (~40 ms each, 7 per series with the backtest).
FAST_MODELS = ("seasonal_naive", "harmonic", "lightgbm", "ensemble")
MANY_SERIES = 200  # models=None: DEFAULT_MODELS up to this many series, FAST_MODELS beyond
BASELINE = "seasonal_naive"
AUTO = "auto"
LEVELS = (80, 95)
#: the n-day totals (from as_of) given their own intervals (:func:`.intervals.total_bounds`),
#: those within the horizon; the dashboard shows them
FORECAST_TOTALS = (7, 30)
MAX_HORIZON = 365
MIN_SALES_DAYS = 28  # a series with fewer days with sales is skipped (the total: an error),
#                      unless they are billing days (closures.month_days)
FORECAST_COLUMNS = ["series", "date", "model", "mean", "lo80", "hi80", "lo95", "hi95", "note"]
TOTALS_COLUMNS = ["series", "model", "days", "mean", "lo80", "hi80", "lo95", "hi95"]
BACKTEST_COLUMNS = ["series", "model", "origin", "days", "mape", "smape", "mase",
                    "coverage80", "coverage95"]


def check_horizon(horizon: object) -> int:
    """A horizon in days, 1 to :data:`MAX_HORIZON`; anything else is a ParameterError."""
    return check_days(horizon, "horizon", max_days=MAX_HORIZON, example=30)


class RevenueForecaster:
    """Backtest, select and forecast daily revenue series.

    ``fit(series, as_of=...)`` takes calendar-complete daily series (see
    :func:`.series.complete_days`) and sets ``origins_``, ``rounds_``, ``backtest_``
    (metrics per series, model, scored origin; plus ``auto`` rows), ``summary_`` (mean over
    origins), ``chosen_`` ({series: model}), ``calendars_``, ``notes_`` ({series: the
    :func:`yearly_note` of a series whose yearly pattern is not modelled and the
    :func:`few_scores_note` of one whose totals' ranges rest on too few misses, joined by
    '; '}), ``last_year_`` ({series: factor} of the forecasts moved toward last year's same
    days, :func:`.models.last_year_factor`), ``forecast_`` and ``totals_``
    (:meth:`predict_totals`).
    """

    def __init__(self, *, horizon: int = 30, models: Sequence[str] | None = None,
                 n_origins: int = 4, step: int | None = None, n_warmup: int = 2,
                 n_cal: int = 4, min_train_days: int = MIN_TRAIN_DAYS,
                 model_params: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self.horizon = horizon
        self.models = models
        self.n_origins = n_origins
        self.step = step
        self.n_warmup = n_warmup
        self.n_cal = n_cal
        self.min_train_days = min_train_days
        self.model_params = model_params

    # --- fitting ------------------------------------------------------------------------
    def _validate(self, n_series: int) -> list[str]:
        check_horizon(self.horizon)
        if self.models is None:
            chosen = DEFAULT_MODELS if n_series <= MANY_SERIES else FAST_MODELS
            if n_series > MANY_SERIES:
                log.info("%d series (> %d): candidates %s (no per-series ETS)", n_series,
                         MANY_SERIES, ", ".join(FAST_MODELS))
        else:
            chosen = tuple(self.models)
        unknown = [m for m in chosen if m not in MODELS]
        if unknown:
            raise ParameterError(f"unknown model(s) {', '.join(map(repr, unknown))}; choose "
                                 f"from: {', '.join(MODELS)}")
        if self.n_origins < 1 or self.n_warmup < 1 or self.n_cal < 1:
            raise ParameterError("n_origins, n_warmup and n_cal must each be at least 1")
        return list(dict.fromkeys([BASELINE, *chosen]))

    def min_history(self) -> int:
        """Days of history needed before ``as_of`` (see :func:`.backtest.min_history_days`)."""
        return min_history_days(check_horizon(self.horizon), n_origins=self.n_origins,
                                step=self.step, n_warmup=self.n_warmup,
                                min_train_days=self.min_train_days)

    def _shorter(self, have: int) -> str:
        """The remedy for ``have`` days of history, too few for this horizon: the longest
        horizon that fits them, or (when none does) the history even a 1-day forecast needs."""
        fits = [h for h in range(check_horizon(self.horizon) - 1, 0, -1)
                if min_history_days(h, n_origins=self.n_origins, step=self.step,
                                    n_warmup=self.n_warmup,
                                    min_train_days=self.min_train_days) <= have]
        if fits:
            return f"load more history or forecast at most {fits[0]} days ahead"
        least = min_history_days(1, n_origins=self.n_origins, step=self.step,
                                 n_warmup=self.n_warmup, min_train_days=self.min_train_days)
        return (f"no forecast fits this history: even a 1-day forecast needs {least} days; "
                "load more history, or forecast once the data covers that much")

    def fit(self, series: Mapping[str, pd.Series], *, as_of: pd.Timestamp,
            calendar_of: Mapping[str, str] | None = None,
            countries: Mapping[str, Country | None] | None = None) -> Self:
        """``series``: name -> daily net revenue (DatetimeIndex, zeros filled) before
        ``as_of``. The first series is the primary one (the total): if it is too short for the
        backtest this is a DataError; other short series are skipped (``skipped_``).
        ``calendar_of[name]`` names the series whose open days ``name`` shares (default: its
        own); ``countries[name]`` its holiday country. With ``models=None`` the candidates are
        :data:`DEFAULT_MODELS`, or :data:`FAST_MODELS` beyond :data:`MANY_SERIES` series."""
        models = self._validate(len(series))
        if not series:
            raise DataError("no revenue series to forecast: `series` is empty; pass at least "
                            "one name -> daily revenue Series (the first is the total)")
        series = {name: _check_series(name, y) for name, y in series.items()}
        as_of = pd.Timestamp(as_of).normalize()
        h = self.horizon
        need = self.min_history()
        step = self.step or default_step(h)
        first_name = next(iter(series))
        self.skipped_: dict[str, str] = {}
        keep: dict[str, pd.Series] = {}
        for name, y in series.items():
            if y.empty:
                why = "an empty series: no day of revenue"
                if name == first_name:
                    raise DataError(f"{name}: {why}; pass the daily revenue before as_of")
                self.skipped_[name] = why
                continue
            have = (as_of - y.index[0]).days
            if not (y > 0).any():
                why = ("no sales, only returns (no day's net revenue is above zero): nothing "
                       "to forecast")
                if name == first_name:
                    raise DataError(f"{name}: {why}; load the sales, not only the returns")
                self.skipped_[name] = why
            elif have < need:
                why = (f"{have} day{'' if have == 1 else 's'} of history before as_of "
                       f"{as_of.date()} (from "
                       f"{y.index[0].date()}); a {h}-day forecast with a {self.n_origins}-origin "
                       f"backtest needs at least {need} days ({self.min_train_days} days of "
                       f"training, {self.n_warmup} calibration and {self.n_origins} test "
                       f"windows of {h} days, {step} days apart)")
                if name == first_name:
                    raise DataError(f"{name}: {why}; {self._shorter(have)}")
                self.skipped_[name] = why
            elif int((y != 0).sum()) < MIN_SALES_DAYS and not month_days(y[y.index < as_of]):
                # (billing days, e.g. the 1st of each month, are few by nature: one a month
                # for two years is a regular series, forecast on those days)
                why = f"only {int((y != 0).sum())} days with sales (< {MIN_SALES_DAYS})"
                if name == first_name:
                    raise DataError(f"{name}: {why}; there is too little to forecast")
                self.skipped_[name] = why
            elif (as_of - (last := y.index[y != 0].max())).days > h * self.n_origins \
                    and not _in_closed_season(y[y.index < as_of], last):
                # the backtest's test windows would hold no sale: nothing to choose a model by
                # (unless the business is in its closed season: then 0 is the forecast)
                why = (f"the last sale is {(as_of - last).days} days before as_of "
                       f"{as_of.date()} (on {last.date()}): the {self.n_origins} test windows "
                       f"of {h} days would hold none")
                if name == first_name:
                    raise DataError(f"{name}: {why}; forecast from an as_of up to "
                                    f"{(last + pd.Timedelta(days=1)).date()}")
                self.skipped_[name] = why
            else:
                keep[name] = y[y.index < as_of].asfreq("D", fill_value=0.0).astype(float)
        warm, scored = rolling_origins(as_of, h, n_origins=self.n_origins, step=self.step,
                                       n_warmup=self.n_warmup)
        calendar_of = dict(calendar_of or {})
        countries = dict(countries or {})
        t0 = time.perf_counter()
        rounds: list[Round] = []
        for origin in [*warm, *scored, as_of]:
            rounds.append(run_round(keep, origin, h, models, calendar_of=calendar_of,
                                    countries=countries, min_train_days=self.min_train_days,
                                    model_params=self.model_params))
            log.info("origin %s done (%.1f s)", origin.date(), time.perf_counter() - t0)
        self.series_ = keep
        self.countries_ = countries
        self.origins_ = scored
        self.warmup_origins_ = warm
        self.rounds_ = rounds
        self.models_ = models
        self.calendars_ = rounds[-1].calendars
        self.seconds_ = {m: float(sum(r.seconds.get(m, 0.0) for r in rounds)) for m in models}
        self.notes_ = {name: yearly_note((as_of - keep[name].index[0]).days, h)
                       for name, data in rounds[-1].inputs.items() if not data.yearly}
        self._score(rounds, scored)
        self._forecast(rounds)
        return self

    def _score(self, rounds: list[Round], scored: list[pd.Timestamp]) -> None:
        backtest = rounds[:-1]
        evaluation = rounds[-1].calendars
        point = score_rounds(backtest, evaluation)
        cov = []
        for i, rnd in enumerate(backtest):
            if rnd.origin not in scored:
                continue
            bounds = interval_bounds(rounds[:i], rnd, LEVELS, self.n_cal)
            for model, per in bounds.items():
                for name, b in per.items():
                    y = rnd.actual[name]
                    keep = np.isfinite(y) & ~rnd.closed_by(evaluation[name])
                    a = y[keep]
                    cov.append((name, model, rnd.origin,
                                *[mt.coverage(a, b[lv][0][keep], b[lv][1][keep])
                                  for lv in LEVELS]))
        cov_df = pd.DataFrame(cov, columns=["series", "model", "origin",
                                            *[f"coverage{lv}" for lv in LEVELS]])
        allm = point.merge(cov_df, on=["series", "model", "origin"], how="left")
        table = allm[allm["origin"].isin(scored)]
        # mase[(series, model), origin], models in preference order (ties -> simpler model).
        mase = allm.pivot_table(index=["series", "model"], columns="origin", values="mase",
                                aggfunc="first", dropna=False)
        order = list(self.models_)

        blind = [m for m in order if m not in YEARLY_MODELS and m != ENSEMBLE]
        at = {r.origin: r for r in rounds}

        def best(cols: list[pd.Timestamp], *, require_all: bool, origin: pd.Timestamp
                 ) -> pd.Series:
            sub = mase[cols]
            mean = sub.mean(axis=1, skipna=True)
            if require_all:
                mean[sub.isna().any(axis=1)] = np.nan
            wide = mean.unstack("model").reindex(columns=order)
            # With a year of history at ``origin`` a model blind to the season is not chosen:
            # autumn windows cannot show what it misses in January (report 6, finding 3).
            seen = wide.index.isin([n for n, d in at[origin].inputs.items() if d.yearly])
            seeing = wide.drop(columns=blind).notna().any(axis=1).to_numpy()
            wide.loc[seen & seeing, blind] = np.nan
            ok = wide.notna().any(axis=1)
            out = pd.Series(BASELINE, index=wide.index, dtype=object)
            out[ok] = wide[ok].idxmin(axis=1)  # first minimum: the earlier (simpler) model
            return out

        # Selection on the scored origins (what the user's forecast uses).
        self.chosen_: dict[str, str] = best(list(scored), require_all=True,
                                            origin=rounds[-1].origin).to_dict()
        # Honest selection: at each scored origin, the best model on windows ended before it.
        keyed = allm.set_index(["series", "model", "origin"])
        auto_parts = []
        for origin in scored:
            past = [o for o in mase.columns if o + pd.Timedelta(days=self.horizon) <= origin]
            if not past:
                continue
            pick = best(past, require_all=False, origin=origin)
            idx = pd.MultiIndex.from_arrays([pick.index, pick.to_numpy(),
                                             [origin] * len(pick)],
                                            names=["series", "model", "origin"])
            rows = keyed.reindex(idx).reset_index()
            rows["selected"] = rows["model"]
            rows["model"] = AUTO
            auto_parts.append(rows)
        auto = pd.concat(auto_parts, ignore_index=True) if auto_parts else pd.DataFrame(
            columns=[*allm.columns, "selected"])
        self.auto_choices_ = auto[["series", "origin", "selected"]].reset_index(drop=True)
        self.backtest_ = pd.concat([table, auto.drop(columns="selected")],
                                   ignore_index=True)[BACKTEST_COLUMNS]
        self.summary_ = (self.backtest_.groupby(["series", "model"], sort=False)[
            ["mape", "smape", "mase", "coverage80", "coverage95"]].mean().reset_index())

    def _to_last_year(self, final: Round) -> None:
        """Move the chosen forecast of each series with a year of history but not a year plus
        the horizon toward last year's same days (:func:`.models.last_year_factor`), in
        ``final`` (so its intervals and totals follow), and say so in its note;
        ``last_year_`` holds the factors."""
        self.last_year_: dict[str, float] = {}
        for name, model in self.chosen_.items():
            data = final.inputs.get(name)
            f = final.forecasts[model].get(name)
            if data is None or f is None or not np.isfinite(f).all():
                continue
            on = final.dates.isin(data.future)
            k = last_year_factor(data, f[on], final.closed[name][on])
            if k is None:
                continue
            final.forecasts[model][name] = np.maximum(f * k, final.floor[name])
            self.last_year_[name] = k
            self.notes_[name] = yearly_note((final.origin - self.series_[name].index[0]).days,
                                            self.horizon, last_year=k)

    def _forecast(self, rounds: list[Round]) -> None:
        final = rounds[-1]
        self._to_last_year(final)
        totals = total_bounds(rounds[:-1], final, FORECAST_TOTALS, LEVELS, self.n_cal)
        for name, model in self.chosen_.items():
            few = few_scores_note(totals.get(model, {}).get(name, {}))
            if few:
                self.notes_[name] = "; ".join(filter(None, [self.notes_.get(name), few]))
        bounds = interval_bounds(rounds[:-1], final, LEVELS, self.n_cal)
        frames = []
        for name, model in self.chosen_.items():
            f = final.forecasts[model][name]
            b = bounds[model][name]
            frames.append(pd.DataFrame({
                "series": name, "date": final.dates, "model": model, "mean": f,
                "lo80": b[80][0], "hi80": b[80][1], "lo95": b[95][0], "hi95": b[95][1],
                "note": self.notes_.get(name, "")}))
        self.forecast_ = (pd.concat(frames, ignore_index=True) if frames
                          else pd.DataFrame(columns=FORECAST_COLUMNS))[FORECAST_COLUMNS]
        self.totals_ = pd.DataFrame(
            [{"series": name, "model": model, "days": n, "mean": mean,
              **{f"{side}{lv}": b[lv][i] for lv in LEVELS for i, side in enumerate(("lo", "hi"))}}
             for name, model in self.chosen_.items()
             for n, (mean, b, _) in totals.get(model, {}).get(name, {}).items()],
            columns=TOTALS_COLUMNS
        ).astype({"series": object, "model": object, "days": "int64",
                  **{c: float for c in TOTALS_COLUMNS[3:]}})

    # --- results -------------------------------------------------------------------------
    def _check(self) -> None:
        if not hasattr(self, "forecast_"):
            raise NotFittedError("RevenueForecaster: call fit(series, as_of=...) first")

    def predict(self) -> pd.DataFrame:
        """The forecast of each series by its chosen model: ``series, date, model, mean,
        lo80, hi80, lo95, hi95`` (0 with a zero-width interval on closed days) and ``note``
        (:func:`yearly_note` when the series' yearly pattern is not modelled,
        :func:`few_scores_note` when its totals' ranges rest on too few misses, else empty)."""
        self._check()
        return self.forecast_.copy()

    def predict_totals(self) -> pd.DataFrame:
        """The total of each series' first ``days`` forecast days, for each of
        :data:`FORECAST_TOTALS` within the horizon, by its chosen model: ``series, model, days,
        mean, lo80, hi80, lo95, hi95``, the bounds conformal intervals of the total itself
        (:func:`.intervals.total_bounds`), not sums of the daily bounds."""
        self._check()
        return self.totals_.copy()

    def report(self) -> dict[str, Any]:
        """Plain-data summary: chosen model, backtest means per model and against the
        seasonal naive, the learned calendar, and ``notes`` (what the forecast could not
        learn, e.g. :func:`yearly_note`), per series."""
        self._check()
        out: dict[str, Any] = {}
        for name, model in self.chosen_.items():
            s = self.summary_[self.summary_["series"] == name].drop(columns="series") \
                .set_index("model")
            metrics = {m: {k: _num(v) for k, v in row.items()} for m, row in s.iterrows()}
            base = s["mase"].get(BASELINE, np.nan)
            out[name] = {
                "model": model,
                # unrounded: the report and `loyalist run` show it as a percentage, and a
                # ratio rounded to 4 places first can land 0.1 point off theirs
                "mase_vs_seasonal_naive": _ratio(s["mase"].get(model, np.nan), base),
                "backtest": metrics,
                "calendar": self.calendars_[name].describe(),
                "notes": [self.notes_[name]] if name in self.notes_ else [],
            }
        return out


def few_scores_note(totals: Mapping[int, tuple[float, Any, int | None]]) -> str | None:
    """The line saying which of a series' n-day totals (``{n: (total, bounds, scores)}``,
    :func:`.intervals.total_bounds`; None scores: closed days only, nothing to calibrate)
    rest on too few earlier misses for which of their levels
    (:func:`.intervals.fewest_scores`), or None."""
    scores = {n: k for n, (_, _, k) in totals.items() if k is not None}
    short = [lv for lv in LEVELS if any(k < fewest_scores(lv / 100) for k in scores.values())]
    if not short:
        return None
    few = {n: k for n, k in scores.items() if k < fewest_scores(short[-1] / 100)}
    ranges = " and ".join(f"{lv}%" for lv in short)
    needs = ", ".join(f"{lv}% {fewest_scores(lv / 100)}" for lv in short)
    days = " and ".join(f"{n}-day" for n in few)
    if not max(few.values()):
        return (f"the {ranges} ranges of the {days} totals have no earlier total's miss to "
                f"rest on (needed: {needs}): no range is given")
    return (f"the {ranges} ranges of the {days} totals rest on {min(few.values())} earlier "
            f"totals' misses (needed: {needs}): each is the widest miss seen, not a bound at "
            "its level")


def yearly_note(history_days: int, horizon: int, *, last_year: float | None = None) -> str:
    """The line saying that a forecast from ``history_days`` of history, under
    :func:`.backtest.yearly_history_days`, has no yearly pattern (whether it has one is the
    series data's ``yearly``, decided once from the same rule), and, with ``last_year``
    (:func:`.models.last_year_factor`), that its level was moved toward last year's days."""
    need = yearly_history_days(horizon)
    head = (f"no yearly pattern: {history_days} days of history, and a {horizon}-day forecast "
            f"needs {need} (a year plus the horizon) to learn the season (a year-end peak, a "
            "January dip), so it follows the recent weeks")
    if last_year is None:
        return head
    return (f"{head} with their level moved x{last_year:.2f} toward the same days 52 weeks "
            "earlier (not backtested: no earlier year to test it on)")


def _check_series(name: str, y: object) -> pd.Series:
    """A daily revenue series as :meth:`RevenueForecaster.fit` needs it (sorted by date), or a
    DataError naming the series, what is wrong and the fix."""
    if not isinstance(y, pd.Series):
        raise DataError(f"series {name!r}: a {type(y).__name__} is not a pandas Series; pass "
                        "name -> Series of daily revenue indexed by date")
    if y.empty:  # refused (the total) or skipped (another series) by fit, with that reason
        return y
    if not isinstance(y.index, pd.DatetimeIndex):
        raise DataError(f"series {name!r}: the index must be dates (a DatetimeIndex), not "
                        f"{y.index.dtype} values such as {y.index[:1].tolist()[0]!r}; convert "
                        "it with series.index = pd.to_datetime(series.index)")
    if y.index.tz is not None:
        raise DataError(f"series {name!r}: the dates carry a time zone ({y.index.tz}); as_of "
                        "and the store's times are local clock times, so drop it with "
                        "series.tz_localize(None)")
    if not (pd.api.types.is_numeric_dtype(y.dtype) and not pd.api.types.is_bool_dtype(y.dtype)):
        raise DataError(f"series {name!r}: the values must be numbers (revenue per day), not "
                        f"{y.dtype} values such as {y.iloc[:1].tolist()[0]!r}; convert them "
                        "with series.astype(float)")
    return y if y.index.is_monotonic_increasing else y.sort_index()


def _in_closed_season(y: pd.Series, last_sale: pd.Timestamp) -> bool:
    """True when every day of ``y`` after ``last_sale`` is in a closed season learned from
    ``y`` (a seasonal business between seasons, not one that stopped selling)."""
    gap = y.index[y.index > last_sale]
    return bool(gap.size) and bool(detect_closures(y).in_season(gap).all())


def _ratio(a: object, b: object) -> float | None:
    """``a / b`` as a float, None when either is missing or ``b`` is 0."""
    try:
        x, y = float(a), float(b)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return x / y if y and np.isfinite(x) and np.isfinite(y) else None


def _num(v: object) -> float | None:
    try:
        f = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return round(f, 4) if np.isfinite(f) else None


def forecast_daily_revenue(daily: pd.DataFrame, country_revenue: pd.Series, *,
                           as_of: pd.Timestamp, horizon: int = 30, by: str | None = None,
                           country: str | None = None, **params: Any) -> RevenueForecaster:
    """Fit a :class:`RevenueForecaster` on the output of :func:`.series.read_daily_revenue`.

    Holidays: ``country`` (code, ``code-subdivision`` or name) or else the data's dominant
    country. The total (and each store, with ``by="store_id"``) learns its own open days;
    category and country series share the total's, so a quiet day in one category is a zero,
    not a closure. Country series use their own country's holidays when it is known.
    """
    from loyalist.forecast.public_holidays import dominant_country, resolve_country
    from loyalist.forecast.series import TOTAL, complete_days

    check_horizon(horizon)
    business = resolve_country(country) if country else dominant_country(country_revenue)
    series = complete_days(daily, end=as_of)
    if TOTAL not in series:
        raise DataError(f"net revenue is zero on every day before {pd.Timestamp(as_of).date()}")
    series = {TOTAL: series.pop(TOTAL), **series}
    calendar_of: dict[str, str] = {}
    countries: dict[str, Country | None] = {TOTAL: business}
    for name in series:
        if name == TOTAL:
            continue
        if by == "store_id":
            countries[name] = business
            continue
        calendar_of[name] = TOTAL
        if by == "country":
            countries[name] = resolve_country(name.split("=", 1)[1], strict=False)
    fc = RevenueForecaster(horizon=horizon, **params)
    return fc.fit(series, as_of=as_of, calendar_of=calendar_of, countries=countries)
