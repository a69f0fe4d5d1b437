"""The simulated calendar: daily demand multipliers, operational time, competitor events.

Time inside the simulation is integer seconds since the timeline's ``origin`` (midnight, the
first day a customer can sign up: ``prehistory_years`` before the history ``start``). The
daily multiplier ``m(d) = monthly[month] * weekday[dow] * holiday/peak`` thins the customers'
Poisson purchase processes; a process of rate ``lambda`` is simulated as a unit-rate process in
*operational time* ``Lambda(t) = integral_0^t m``, piecewise linear within a day, and mapped back
to calendar days by inverting ``Lambda`` (a Poisson process with intensity ``lambda * m(t)``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

import numpy as np
import pandas as pd

from loyalist.generate.scenarios import Merchant

DAY = 86_400
#: named retail days a merchant can give a multiplier to
PEAK_DAYS = ("black_friday", "cyber_monday", "christmas_run", "christmas_eve", "christmas_day",
             "boxing_day", "new_years_day")


@lru_cache(maxsize=32)
def _public_holidays(country: str, years: tuple[int, ...]) -> frozenset[date]:
    import holidays

    return frozenset(holidays.country_holidays(country, years=list(years)).keys())


def black_friday(year: int) -> date:
    """The day after the fourth Thursday of November."""
    nov1 = date(year, 11, 1)
    first_thu = nov1 + timedelta(days=(3 - nov1.weekday()) % 7)
    return first_thu + timedelta(days=22)


def _peak_dates(name: str, year: int) -> list[date]:
    bf = black_friday(year)
    return {
        "black_friday": [bf, bf + timedelta(days=1)],
        "cyber_monday": [bf + timedelta(days=3)],
        "christmas_run": [date(year, 12, d) for d in range(10, 24)],
        "christmas_eve": [date(year, 12, 24)],
        "christmas_day": [date(year, 12, 25)],
        "boxing_day": [date(year, 12, 26)],
        "new_years_day": [date(year, 1, 1)],
    }[name]


@dataclass(frozen=True)
class Timeline:
    """Days ``[origin, stop)`` with their demand multipliers; the history is ``[start, end)``."""

    origin: pd.Timestamp
    start: pd.Timestamp
    end: pd.Timestamp
    stop: pd.Timestamp
    mult: np.ndarray  # float64, one per day from origin to stop
    cum: np.ndarray  # cum[k] = sum(mult[:k]), len(mult) + 1

    @property
    def start_day(self) -> int:
        return int((self.start - self.origin).days)

    @property
    def end_day(self) -> int:
        return int((self.end - self.origin).days)

    @property
    def history_days(self) -> int:
        return self.end_day - self.start_day

    @property
    def start_s(self) -> int:
        return self.start_day * DAY

    @property
    def end_s(self) -> int:
        return self.end_day * DAY

    def op(self, t_s: np.ndarray | int) -> np.ndarray:
        """Operational time Lambda(t) of times ``t_s`` (seconds since origin)."""
        days = np.asarray(t_s, dtype=np.float64) / DAY
        k = np.clip(np.floor(days).astype(np.int64), 0, len(self.mult) - 1)
        return self.cum[k] + self.mult[k] * (days - k)

    def day_of(self, lam: np.ndarray) -> np.ndarray:
        """Calendar day index of operational times ``lam`` (inverse of :meth:`op`, floored)."""
        k = np.searchsorted(self.cum, lam, side="right") - 1
        return np.clip(k, 0, len(self.mult) - 1)

    def draw_days(self, rng: np.random.Generator, lo_day: np.ndarray | int,
                  hi_day: np.ndarray | int, n: int) -> np.ndarray:
        """``n`` day indices in ``[lo_day, hi_day)`` drawn with probability proportional to the
        daily multiplier (``lo_day``/``hi_day`` broadcast)."""
        a = self.cum[np.asarray(lo_day)]
        b = self.cum[np.asarray(hi_day)]
        day = self.day_of(a + rng.random(n) * (b - a))
        return np.clip(day, lo_day, np.asarray(hi_day) - 1)


def build_timeline(m: Merchant, start: pd.Timestamp, end: pd.Timestamp, extra_days: int
                   ) -> Timeline:
    """Daily multipliers from ``prehistory_years`` before ``start`` to ``end + extra_days`` (the
    response window after the history needs them for the truth)."""
    origin = start - pd.DateOffset(years=m.prehistory_years)
    stop = end + pd.Timedelta(days=extra_days)
    days = pd.date_range(origin, stop, freq="D", inclusive="left")
    monthly = np.asarray(m.monthly, dtype=np.float64)
    monthly = monthly / monthly.mean()
    weekday = np.asarray(m.weekday, dtype=np.float64)
    weekday = weekday / weekday.mean()
    mult = monthly[days.month.to_numpy() - 1] * weekday[days.dayofweek.to_numpy()]
    years = tuple(range(origin.year, stop.year + 1))
    pydays = days.date
    public = _public_holidays(m.country, years)
    is_public = np.fromiter((d in public for d in pydays), dtype=bool, count=len(pydays))
    mult[is_public] *= m.holiday_multiplier
    index = {d: i for i, d in enumerate(pydays)}
    for name, factor in m.peaks:
        for y in years:
            for d in _peak_dates(name, y):
                i = index.get(d)
                if i is not None:
                    # a peak replaces the public-holiday effect on its day
                    mult[i] *= factor / (m.holiday_multiplier if is_public[i] else 1.0)
    cum = np.concatenate([[0.0], np.cumsum(mult)])
    return Timeline(origin=origin, start=start, end=end, stop=stop, mult=mult, cum=cum)


def seconds_in_day(rng: np.random.Generator, m: Merchant, n: int) -> np.ndarray:
    """Seconds after midnight following the merchant's hour-of-day profile."""
    p = np.asarray(m.hours, dtype=np.float64)
    hour = rng.choice(24, size=n, p=p / p.sum())
    return hour.astype(np.int64) * 3600 + rng.integers(0, 3600, size=n)


def competitor_calendar(m: Merchant, start: pd.Timestamp, stop: pd.Timestamp) -> pd.DataFrame:
    """Every competitor event overlapping ``[start, stop)``; ``end`` is exclusive."""
    rows = []
    for c in m.competitors:
        for y in range(start.year - 1, stop.year + 1):
            if c.start == "black_friday":
                s = pd.Timestamp(black_friday(y))
            else:
                s = pd.Timestamp(f"{y}-{c.start}")
            e = s + pd.Timedelta(days=c.days)
            if e > start and s < stop:
                rows.append({"start": s, "end": e, "competitor": c.competitor, "kind": c.kind,
                             "value": float(c.value)})
    cols = ["start", "end", "competitor", "kind", "value"]
    out = pd.DataFrame(rows, columns=cols)
    out["start"] = pd.to_datetime(out["start"])
    out["end"] = pd.to_datetime(out["end"])
    return out.sort_values(["start", "competitor"], ignore_index=True)


def competitor_pressure(calendar: pd.DataFrame, origin: pd.Timestamp,
                        window_start_s: np.ndarray, window_s: int) -> np.ndarray:
    """Competitor pressure on a response window ``[t, t + window)``: the sum over events of the
    event's percent-equivalent value / 100 times the share of the window it overlaps (a 25%-off
    event covering the whole window gives 0.25; a buy-one-get-one counts as 50% off)."""
    t0 = np.asarray(window_start_s, dtype=np.int64)
    out = np.zeros(t0.shape, dtype=np.float64)
    for ev in calendar.itertuples(index=False):
        s = int((ev.start - origin).total_seconds())
        e = int((ev.end - origin).total_seconds())
        overlap = np.clip(np.minimum(t0 + window_s, e) - np.maximum(t0, s), 0, None)
        pct = ev.value / 2.0 if ev.kind == "bogo" else ev.value
        out += pct / 100.0 * overlap / window_s
    return out


def seasonality_frame(m: Merchant) -> pd.DataFrame:
    """The monthly multipliers the simulation used (normalised to mean 1)."""
    monthly = np.asarray(m.monthly, dtype=np.float64)
    return pd.DataFrame({"month": np.arange(1, 13, dtype=np.int64),
                         "multiplier": np.round(monthly / monthly.mean(), 4)})
