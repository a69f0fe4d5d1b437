"""LightGBM forecaster: one global gradient-boosting model over every series of a batch, with
calendar and holiday features, predicting each horizon step directly (no recursion).

A training row is (series, origin ``j``, target day ``i >= j``): features use only values
before ``j``, so the model learns what it can know at an origin, ``k = i - j + 1`` steps ahead
(the "direct" strategy; Taieb & Hyndman 2014). The target is the day's revenue divided by the
series' level at the origin (mean of the 4 weeks before it), so series of any size share one
model (Montero-Manso & Hyndman 2021, "global" models). Features:

- ``k``, weekday, holiday / day-before-holiday flags and days to / since the nearest holiday;
- recent ratios at the origin: last week and last quarter over the level;
- the target weekday's last value and its mean over the last 4 weeks, over the level;
- with a year of history: the same week last year over the level a year before the origin,
  the level's growth over that year, and day-of-year sine/cosine pairs.

Intervals come from :mod:`.intervals` (conformal, from backtest errors), not quantile models.
"""

from __future__ import annotations

import os

# LightGBM's OpenMP threads spin-wait after scikit-learn (or any other OpenMP user) ran in the
# same process, turning a 4 s fit into 100 s (DEPENDENCIES.md). Passive waiting avoids it; it
# must be set before the OpenMP runtime loads, i.e. before lightgbm is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import logging  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from typing import Self  # noqa: E402

import lightgbm as lgb  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from loyalist.errors import NotFittedError  # noqa: E402
from loyalist.forecast.models import SeriesData, day_numbers  # noqa: E402

log = logging.getLogger(__name__)

__all__ = ["LightGBMForecaster"]

LEVEL_WEEKS = 4
FEATURES = ("k", "dow", "holiday", "eve", "to_holiday", "since_holiday", "r_week", "r_quarter",
            "same_dow_1", "same_dow_4", "yoy_season", "yoy_growth", "doy_s1", "doy_c1",
            "doy_s2", "doy_c2")


class LightGBMForecaster:
    """Global direct LightGBM model; ``fit(batch) -> self``, ``predict()`` per series."""

    name = "lightgbm"

    def __init__(self, *, n_estimators: int = 150, learning_rate: float = 0.1,
                 num_leaves: int = 15, min_child_samples: int = 20, objective: str = "l2",
                 max_rows: int = 100_000, max_bin: int = 63, random_state: int = 0,
                 n_jobs: int | None = None) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.objective = objective
        self.max_rows = max_rows
        self.max_bin = max_bin
        self.random_state = random_state
        self.n_jobs = n_jobs

    def fit(self, batch: Sequence[SeriesData]) -> Self:
        batch = list(batch)
        rng = np.random.default_rng(self.random_state)
        h_max = max((d.h for d in batch), default=0)
        total_days = sum(len(d.y) for d in batch)
        # Rows per target day: all horizons when data are few, a random subset (or a random
        # subset of days) so that a batch yields about ``max_rows`` rows.
        per_day = self.max_rows / max(total_days, 1)
        xs, ts = [], []
        for d in batch:
            x, t = _training_rows(d, h_max, per_day, rng)
            if len(t):
                xs.append(x)
                ts.append(t)
        self.model_: lgb.LGBMRegressor | None = None
        if xs and h_max > 0:
            x_all = np.vstack(xs)
            t_all = np.concatenate(ts)
            self.model_ = lgb.LGBMRegressor(
                objective=self.objective, n_estimators=self.n_estimators,
                learning_rate=self.learning_rate, num_leaves=self.num_leaves,
                min_child_samples=self.min_child_samples, subsample=0.8, subsample_freq=1,
                colsample_bytree=0.8, max_bin=self.max_bin, random_state=self.random_state,
                verbose=-1,
                n_jobs=self.n_jobs or min(4, os.cpu_count() or 1))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # feature-name warnings on numpy input
                self.model_.fit(pd.DataFrame(x_all, columns=list(FEATURES)), t_all)
            self.n_rows_ = len(t_all)
        else:
            self.n_rows_ = 0
        self.forecasts_ = self._predict_all(batch)
        return self

    def predict(self) -> list[np.ndarray]:
        if not hasattr(self, "forecasts_"):
            raise NotFittedError("LightGBMForecaster: call fit(batch) before predict()")
        return self.forecasts_

    def _predict_all(self, batch: list[SeriesData]) -> list[np.ndarray]:
        """One ``predict`` call for every series (per-call overhead dominates otherwise)."""
        out = [np.full(d.h, np.nan) for d in batch]
        rows, levels, owners = [], [], []
        for idx, d in enumerate(batch):
            n = len(d.y)
            if self.model_ is None or d.h == 0 or n < LEVEL_WEEKS * d.m + 1:
                continue
            y = np.r_[d.y.astype(float), np.full(d.h, np.nan)]
            x, level = _features(y, d.dates.append(d.future), np.arange(n, n + d.h),
                                 np.full(d.h, n), d)
            if np.isfinite(level[0]):
                rows.append(x)
                levels.append(level)
                owners.append(idx)
        if rows and self.model_ is not None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ratio = self.model_.predict(pd.DataFrame(np.vstack(rows), columns=list(FEATURES)))
            pos = 0
            for idx, level in zip(owners, levels, strict=True):
                out[idx] = np.asarray(ratio[pos:pos + level.size], dtype=float) * level
                pos += level.size
        return out


def _training_rows(d: SeriesData, h_max: int, per_day: float, rng: np.random.Generator
                   ) -> tuple[np.ndarray, np.ndarray]:
    n = len(d.y)
    lo = LEVEL_WEEKS * d.m
    targets = np.arange(lo + 1, n)
    if d.imputed is not None:
        targets = targets[~d.imputed[targets]]
    if per_day < 1:
        targets = targets[rng.random(targets.size) < per_day]
    if targets.size == 0 or h_max == 0:
        return np.zeros((0, len(FEATURES))), np.zeros(0)
    reps = int(min(max(per_day, 1), h_max))
    if reps >= h_max:
        k = np.tile(np.arange(1, h_max + 1), targets.size)
        i = np.repeat(targets, h_max)
    else:  # a random subset of horizons per target day (with replacement: cheap, unbiased)
        k = rng.integers(1, h_max + 1, size=targets.size * reps)
        i = np.repeat(targets, reps)
    j = i - k + 1
    ok = j >= lo
    i, j = i[ok], j[ok]
    x, level = _features(d.y.astype(float), d.dates, i, j, d)
    t = d.y[i] / level
    keep = np.isfinite(t)
    return x[keep], t[keep]


def _features(y: np.ndarray, dates: pd.DatetimeIndex, i: np.ndarray, j: np.ndarray,
              d: SeriesData) -> tuple[np.ndarray, np.ndarray]:
    """Feature matrix for targets ``i`` seen from origins ``j`` (only ``y[:j]`` is used), and
    the level at each origin (NaN where it is not positive)."""
    m = d.m
    n = len(y)
    cs = np.r_[0.0, np.nancumsum(np.nan_to_num(y))]

    def mean_before(end: np.ndarray, width: int) -> np.ndarray:
        """Mean of ``y[end - width:end]``; NaN if it starts before 0 or reaches past ``j``."""
        start = end - width
        ok = (start >= 0) & (end <= j) & (end <= n)
        out = np.full(end.shape, np.nan)
        out[ok] = (cs[end[ok]] - cs[start[ok]]) / width
        return out

    level = mean_before(j, LEVEL_WEEKS * m)
    level = np.where(level > 1e-9, level, np.nan)
    k = i - j + 1
    back = np.ceil(k / m).astype(int) * m
    same = []
    for r in range(4):
        p = i - back - r * m
        same.append(np.where(p >= 0, y[np.clip(p, 0, n - 1)], np.nan))
    same_arr = np.vstack(same)
    with np.errstate(all="ignore"):
        same4 = np.nanmean(np.where(np.isfinite(same_arr), same_arr, np.nan), axis=0) \
            if same_arr.size else np.full(i.shape, np.nan)
    _, dow, doy_ = day_numbers(dates.values[i])
    day = dates.values[i].astype("datetime64[D]")
    cols = {
        "k": k.astype(float),
        "dow": dow.astype(float),
        **_holiday_features(day, d.holidays),
        "r_week": mean_before(j, m) / level,
        "r_quarter": mean_before(j, 13 * m) / level,
        "same_dow_1": same_arr[0] / level,
        "same_dow_4": same4 / level,
    }
    nan = np.full(i.shape, np.nan)
    if d.yearly:
        ly = 52 * m
        level_ly = mean_before(j - ly, LEVEL_WEEKS * m)
        level_ly = np.where(level_ly > 1e-9, level_ly, np.nan)
        centre = i - ly
        week_ly = mean_before(np.minimum(centre + (m + 1) // 2, j), m)
        doy = 2 * np.pi * doy_ / 365.25
        cols.update(yoy_season=week_ly / level_ly, yoy_growth=level / level_ly,
                    doy_s1=np.sin(doy), doy_c1=np.cos(doy),
                    doy_s2=np.sin(2 * doy), doy_c2=np.cos(2 * doy))
    else:
        cols.update(yoy_season=nan, yoy_growth=nan, doy_s1=nan, doy_c1=nan, doy_s2=nan,
                    doy_c2=nan)
    x = np.column_stack([cols[f] for f in FEATURES])
    return x, level


def _holiday_features(day: np.ndarray, hol: np.ndarray) -> dict[str, np.ndarray]:
    if hol.size == 0:
        z = np.zeros(day.shape)
        return {"holiday": z, "eve": z, "to_holiday": z + 30, "since_holiday": z + 30}
    pos = np.searchsorted(hol, day)
    nxt = np.where(pos < hol.size, (hol[np.minimum(pos, hol.size - 1)] - day).astype(int), 999)
    prev_pos = np.searchsorted(hol, day, side="right") - 1
    prv = np.where(prev_pos >= 0, (day - hol[np.maximum(prev_pos, 0)]).astype(int), 999)
    return {"holiday": (nxt == 0).astype(float), "eve": (nxt == 1).astype(float),
            "to_holiday": np.clip(nxt, 0, 30).astype(float),
            "since_holiday": np.clip(prv, 0, 30).astype(float)}
