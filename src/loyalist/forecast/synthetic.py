"""Synthetic daily revenue with known structure, for tests and the forecasting benchmark.

Each series is ``level(t) * weekly(dow) * yearly(doy) * holiday(t) * noise``: a level with a
linear trend, a weekly profile, a smooth yearly cycle with a pre-Christmas build-up, public
holidays (of a ``holidays`` country) that cut the day's sales, and log-normal noise. Nothing
here reads data; everything is drawn from ``np.random.default_rng(random_state)``.
"""

from __future__ import annotations

import holidays as hol
import numpy as np
import pandas as pd

__all__ = ["synthetic_daily"]


def synthetic_daily(
    n_series: int = 1, *, start: str = "2022-01-01", days: int = 730, country: str | None = "GB",
    closed_weekdays: tuple[int, ...] = (), noise: float = 0.1, random_state: int = 0,
) -> pd.DataFrame:
    """Long frame ``series, date, y`` of ``n_series`` daily series of ``days`` days.

    ``closed_weekdays`` (0 = Monday) are days with no sales at all; public holidays of
    ``country`` sell a random 20-50% of a normal day and the day before sells 10-30% more.
    """
    rng = np.random.default_rng(random_state)
    dates = pd.date_range(start, periods=days, freq="D")
    t = np.arange(days) / 365.25
    doy = dates.dayofyear.to_numpy()
    dow = dates.dayofweek.to_numpy()
    hdays = set()
    if country:
        hdays = set(hol.country_holidays(country, years=sorted(set(dates.year))).keys())
    is_h = np.array([d.date() in hdays for d in dates])
    eve = np.r_[is_h[1:], False] & ~is_h
    # Days to Christmas, wrapped to [0, 365): drives a build-up over the last weeks before it.
    xmas = np.array([(pd.Timestamp(year=d.year, month=12, day=25) - d).days for d in dates])
    frames = []
    for i in range(n_series):
        base = float(np.exp(rng.uniform(np.log(500), np.log(50_000))))
        growth = rng.uniform(-0.1, 0.3)
        weekly = np.exp(rng.normal(0, 0.25, 7))
        weekly /= weekly.mean()
        amp = rng.uniform(0.05, 0.25)
        phase = rng.uniform(0, 2 * np.pi)
        yearly = 1 + amp * np.sin(2 * np.pi * doy / 365.25 + phase)
        build = rng.uniform(0.1, 0.6)
        yearly = yearly * (1 + build * np.exp(-np.clip(xmas, 0, None) / 20.0) * (xmas >= 0))
        h_mult = (np.where(is_h, rng.uniform(0.2, 0.5), 1.0)
                  * np.where(eve, rng.uniform(1.1, 1.3), 1.0))
        eps = rng.normal(0, noise, days)
        y = base * (1 + growth * t) * weekly[dow] * yearly * h_mult * np.exp(eps - noise**2 / 2)
        y[np.isin(dow, closed_weekdays)] = 0.0
        frames.append(pd.DataFrame({"series": f"s{i:04d}", "date": dates, "y": y}))
    return pd.concat(frames, ignore_index=True)
