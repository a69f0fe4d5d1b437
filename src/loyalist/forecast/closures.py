"""When is the business open? Closed days detected from the sales history.

A missing day is a zero only if the business was plausibly open. Four kinds of closure are
read from a daily net-revenue series (calendar-complete, zeros where nothing sold):

1. **Closed weekdays**: a weekday that, over the last 26 weeks, sold on fewer than 10% as
   many of its days as the busiest weekday (Online Retail: no Saturdays). Stretches of 14 or
   more days without any sale (a closed season) do not count as days of any weekday. These
   days leave the modelling series entirely, so a seasonal period is the number of open
   weekdays.
2. **Holiday closures**: if at least half of the public holidays that fell on open weekdays
   had no sales (and there were at least 2), the business closes on holidays: future holidays
   are forecast as 0. With a country but no subdivision, the subdivision whose holidays best
   match the zero days is chosen (:func:`.public_holidays.choose_subdivision`).
3. **Gaps**: a run of ``k`` consecutive open-weekday days without sales is a closure when it
   is improbable for a business that sells on a share ``p`` of its open days:
   ``(1 - p) ** k < 0.01`` (``p`` estimated outside runs of 3+ days). A run of 3+ days spanning
   at most 6 weeks with at least 3 days that are not holidays (a Christmas break, not an
   Easter weekend) is expected to recur on the same dates every year, unless another year of
   the history sold on those dates. A longer closure is a **closed season** (a Christmas
   stall closed from 25 Dec to 19 Nov) only where it was closed on the same dates in every
   other year of the history that covers them, and at least one does: a closure seen once
   (a lockdown, a refit) or sold through in another year is not projected.
4. **Billing days** (decided first): when at most 4 fixed days of the month (a day past a
   month's end meaning its last day) each sold in at least half the months and together carry
   90% of the sales revenue over at least 3 months (a subscription billed on the 1st), only
   those days are open and weekdays do not apply. Every other day leaves the modelling series,
   which then holds one value per billing day (its seasonal period: the billing days per
   month), and is forecast as 0.

Closed days are excluded from fitting (imputed from the same weekday nearby) and from error
metrics, and forecast as exactly 0 with a zero-width interval.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from loyalist.forecast.public_holidays import Country, choose_subdivision, holiday_dates

log = logging.getLogger(__name__)

__all__ = ["BusinessCalendar", "detect_closures", "impute_closed", "month_days"]

WEEKDAY_SHARE = 0.10   # a weekday selling on < 10% as many days as the busiest one is closed
RUN_ALPHA = 0.01       # a zero run with probability below 1% under the sell rate is a closure
LONG_RUN = 3           # open days: a run this long is a break (robust sell rate, annual check)
ANNUAL_MAX_DAYS = 42   # longest break projected to recur every year
HOLIDAY_CLOSED_SHARE = 0.5
NO_SALE_WEEKS = 2      # a stretch this long without any sale holds no weekday evidence
MONTH_DAYS_MAX = 4     # billing calendar: at most this many days of the month ...
MONTH_DAYS_REVENUE = 0.9  # ... holding this share of the sales revenue ...
MONTH_DAYS_MIN_MONTHS = 3  # ... each sold in at least half (and this many) of the months
MIN_WEEKDAY_OBS = 4
RECENT_WEEKS = 26      # weekday shares are judged on the last half year
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True)
class BusinessCalendar:
    """Open/closed days learned from history up to ``last`` (inclusive)."""

    first: pd.Timestamp
    last: pd.Timestamp
    closed_weekdays: tuple[int, ...] = ()
    country: Country | None = None
    closes_on_holidays: bool = False
    holidays: np.ndarray = field(default_factory=lambda: np.array([], dtype="datetime64[D]"))
    history_closed: np.ndarray = field(default_factory=lambda: np.array([], "datetime64[D]"))
    breaks: tuple[tuple[pd.Timestamp, pd.Timestamp], ...] = ()  # recurring yearly
    seasons: tuple[tuple[pd.Timestamp, pd.Timestamp], ...] = ()  # long ones, every year
    month_days: tuple[int, ...] = ()  # billing days of the month (empty: not billing)
    sell_rate: float = 1.0

    @property
    def open_weekdays(self) -> tuple[int, ...]:
        return tuple(w for w in range(7) if w not in self.closed_weekdays)

    @property
    def season_length(self) -> int:
        """The period of the open-day series: open days per week, or billing days per month."""
        return max(1, len(self.month_days) or len(self.open_weekdays))

    def regular(self, dates: pd.DatetimeIndex | np.ndarray) -> np.ndarray:
        """True on the days the weekly (or monthly billing) pattern opens: the days of the
        modelling series. Closures within them are :meth:`closed` too."""
        d = np.asarray(dates).astype("datetime64[D]")
        out = ~np.isin((d.astype(np.int64) + 3) % 7, self.closed_weekdays)  # Monday = 0
        if self.month_days:
            out &= _on_month_days(d, self.month_days)
        return out

    def closed(self, dates: pd.DatetimeIndex | np.ndarray) -> np.ndarray:
        """True where the business is (expected to be) closed: closed weekdays (or days other
        than the billing days), closures seen in history, and after ``last`` holidays (if it
        closes on them), recurring breaks and closed seasons."""
        d = np.asarray(dates).astype("datetime64[D]")
        out = ~self.regular(d)
        if self.history_closed.size:
            out |= np.isin(d, self.history_closed)
        future = d > np.datetime64(self.last.date(), "D")
        if future.any() and (self.closes_on_holidays or self.breaks or self.seasons):
            fut = np.zeros(d.size, dtype=bool)
            if self.closes_on_holidays and self.holidays.size:
                fut |= np.isin(d, self.holidays)
            fut |= _yearly(d, self.breaks, since=1) | self.in_season(d)
            out |= fut & future
        return out

    def in_season(self, dates: pd.DatetimeIndex | np.ndarray) -> np.ndarray:
        """True on dates inside a closed season, in any year."""
        d = np.asarray(dates).astype("datetime64[D]")
        return _yearly(d, self.seasons, since=None)

    def describe(self) -> dict[str, object]:
        return {
            "closed_weekdays": [WEEKDAYS[w] for w in self.closed_weekdays],
            "holidays": self.country.label if self.country else None,
            "closes_on_holidays": self.closes_on_holidays,
            "closed_days_in_history": int(self.history_closed.size),
            "yearly_breaks": [f"{s.date()}..{e.date()}" for s, e in self.breaks],
            "closed_seasons": [f"{s.date()}..{e.date()}" for s, e in self.seasons],
            "billing_days": list(self.month_days),
            "sell_rate": round(self.sell_rate, 3),
            "notes": self.notes(),
        }

    def notes(self) -> list[str]:
        """What the calendar implies for the forecast, in words (empty when unremarkable)."""
        out = [f"closed {s.day} {s:%b} - {e.day} {e:%b} in every year of the history, so forecast "
               "as 0 then" for s, e in self.seasons]
        if self.month_days:
            days = " and ".join(_day_of_month(k) for k in self.month_days)
            out.append(f"sales fall only on {days} of each month (billing days): other days "
                       "are forecast as 0, billing days from the earlier billing days")
        if self.closed_weekdays:  # said in the console too, not only in --json
            import calendar

            days = " and ".join(f"{calendar.day_name[w]}s" for w in self.closed_weekdays)
            out.append(f"closed on {days} (no sale on that weekday in the history), so "
                       "forecast as 0 then")
        return out


def _yearly(d: np.ndarray, spans: tuple[tuple[pd.Timestamp, pd.Timestamp], ...], *,
            since: int | None) -> np.ndarray:
    """True on dates ``d`` inside one of ``spans`` moved by whole years (by ``since`` or more
    years; None: any number, backwards too)."""
    out = np.zeros(d.size, dtype=bool)
    if not spans or not d.size:
        return out
    years = d.astype("datetime64[Y]").astype(int) + 1970
    for start, end in spans:
        low = since if since is not None else int(years.min()) - end.year - 1
        for k in range(low, int(years.max()) - start.year + 1):
            s = np.datetime64((start + pd.DateOffset(years=k)).date(), "D")
            e = np.datetime64((end + pd.DateOffset(years=k)).date(), "D")
            out |= (d >= s) & (d <= e)
    return out


def _day_of_month(k: int) -> str:
    th = "th" if 10 < k < 14 else {1: "st", 2: "nd", 3: "rd"}.get(k % 10, "th")
    return f"the {k}{th}" + (" (or the month's last day)" if k > 28 else "")


def _on_month_days(d: np.ndarray, days: tuple[int, ...]) -> np.ndarray:
    """True on dates whose day of the month is in ``days``; a day past a month's end (the
    31st in April) falls on that month's last day."""
    dom, dim = _day_and_length(d)
    return np.isin(dom, days) | ((dom == dim) & (max(days) > dim))


def _day_and_length(d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(day of the month, days in the month) of datetime64 dates."""
    d = np.asarray(d).astype("datetime64[D]")
    month = d.astype("datetime64[M]")
    dom = (d - month.astype("datetime64[D]")).astype(np.int64) + 1
    dim = ((month + 1).astype("datetime64[D]") - month.astype("datetime64[D]")).astype(np.int64)
    return dom, dim


def month_days(y: pd.Series) -> tuple[int, ...]:
    """The billing days of a calendar-complete daily series ``y``: the days of the month (1-31)
    it sells on when it sells on a few fixed ones (see the module docstring, kind 4), else
    ``()``."""
    if y.size < 28 * MONTH_DAYS_MIN_MONTHS:
        return ()
    v = y.to_numpy(dtype=float)
    sells = v > 0
    dom, dim = _day_and_length(y.index.values)
    # Days 1-28 are in every month: counted at once (and a daily shop is out here).
    sold = np.bincount(dom[sells], minlength=32)
    seen = np.bincount(dom, minlength=32)
    days = [int(k) for k in range(1, 29)
            if sold[k] >= max(MONTH_DAYS_MIN_MONTHS, seen[k] / 2)]
    if len(days) > MONTH_DAYS_MAX:
        return ()
    for k in (29, 30, 31):  # on the month's last day in shorter months
        hit = (dom == k) | ((dom == dim) & (k > dim))
        if sold[k] and sells[hit].sum() >= max(MONTH_DAYS_MIN_MONTHS, hit.sum() / 2):
            days.append(k)
    if not days or len(days) > MONTH_DAYS_MAX:
        return ()
    on = _on_month_days(y.index.values, tuple(days))
    if v[on & sells].sum() < MONTH_DAYS_REVENUE * v[sells].sum():
        return ()
    return tuple(days)


def _zero_runs(zero: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) index pairs of maximal runs of True."""
    if not zero.any():
        return []
    z = np.r_[False, zero, False].astype(np.int8)
    edges = np.flatnonzero(np.diff(z))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def detect_closures(y: pd.Series, country: Country | None = None) -> BusinessCalendar:
    """Learn a :class:`BusinessCalendar` from a calendar-complete daily series ``y`` (zeros on
    days without sales). Uses only the days in ``y``; the caller passes history before the
    cutoff, so the calendar never sees the future."""
    if y.empty:
        raise ValueError("detect_closures needs at least one day")
    dates = pd.DatetimeIndex(y.index)
    first, last = dates[0], dates[-1]
    sells = y.to_numpy() != 0
    dow = dates.dayofweek.to_numpy()

    billing = month_days(y)
    # Weekday shares over the last RECENT_WEEKS weeks (opening days change), or the whole
    # history when it is shorter than 2 * MIN_WEEKDAY_OBS weeks; days in a stretch of
    # NO_SALE_WEEKS or more without a sale (a closed season) say nothing about weekdays.
    quiet = np.zeros(sells.size, dtype=bool)
    for a, b in _zero_runs(~sells):
        if b - a >= 7 * NO_SALE_WEEKS:
            quiet[a:b] = True
    recent = (dates >= last - pd.Timedelta(weeks=RECENT_WEEKS)) & ~quiet
    if recent.sum() < 7 * 2 * MIN_WEEKDAY_OBS:
        recent = ~quiet
    counts = np.bincount(dow[recent], minlength=7)
    share = np.bincount(dow[recent], weights=sells[recent], minlength=7) / np.maximum(counts, 1)
    top = share.max()
    closed_wd = tuple(int(w) for w in range(7)
                      if counts[w] >= MIN_WEEKDAY_OBS and share[w] < WEEKDAY_SHARE * top)
    if len(closed_wd) == 7 or billing:  # never sold, or billing days: weekdays do not apply
        closed_wd = ()
    open_mask = ~np.isin(dow, closed_wd)
    if billing:
        open_mask &= _on_month_days(dates.values, billing)
    od = dates[open_mask].values.astype("datetime64[D]")
    osell = sells[open_mask]

    # Holidays: choose the subdivision on zero-sale open days, then decide holiday closure.
    hol = np.array([], dtype="datetime64[D]")
    closes_h = False
    if country is not None:
        horizon_end = last + pd.Timedelta(days=400)
        national = holiday_dates(country, first, horizon_end)
        zero_days = od[~osell]
        cand = choose_subdivision(country, zero_days, od, first, last)
        if cand is not country and _holiday_score(cand, zero_days, od, first, last) <= 0:
            cand = country
        country = cand
        hol = holiday_dates(country, first, horizon_end) if cand.subdiv else national
        on_open = np.isin(od, hol)
        if on_open.sum() >= 2:
            closes_h = float(np.mean(~osell[on_open])) >= HOLIDAY_CLOSED_SHARE

    # Gaps: zero runs on open days; sell rate estimated outside long runs and holiday closures.
    zero = ~osell
    runs = _zero_runs(zero)
    in_long = np.zeros(zero.size, dtype=bool)
    for a, b in runs:
        if b - a >= LONG_RUN:
            in_long[a:b] = True
    hol_zero = np.isin(od, hol) & zero if closes_h else np.zeros(zero.size, dtype=bool)
    base = ~in_long & ~hol_zero
    p = float(osell[base].mean()) if base.any() else 1.0
    closed = hol_zero.copy()
    breaks: list[tuple[pd.Timestamp, pd.Timestamp]] = []
    spans: list[tuple[pd.Timestamp, pd.Timestamp]] = []
    in_closure = np.zeros(dates.size, dtype=bool)  # calendar days inside a closed run
    for a, b in runs:
        k = b - a
        if p >= 1.0 or (1.0 - p) ** k < RUN_ALPHA:
            closed[a:b] = True
            s, e = pd.Timestamp(od[a]), pd.Timestamp(od[b - 1])
            in_closure[(s - first).days:(e - first).days + 1] = True  # dates are daily
            # A yearly break needs LONG_RUN closed days that holidays do not explain (Easter
            # moves every year; its closure is a holiday closure, not a break).
            unexplained = int((~np.isin(od[a:b], hol)).sum())
            if unexplained >= LONG_RUN and (e - s).days <= ANNUAL_MAX_DAYS \
                    and _recurs(s, e, y):
                breaks.append((s, e))
            elif (e - s).days > ANNUAL_MAX_DAYS and b < od.size:
                spans.append((s, e))  # (one still going at the cutoff has no known end)
    seasons: dict[tuple[int, int, int, int], tuple[pd.Timestamp, pd.Timestamp]] = {}
    for s, e in spans:  # the latest of each closed season (its dates recur every year)
        if (season := _season(s, e, dates, in_closure)) is not None:
            a, b = season
            seasons[(a.month, a.day, b.month, b.day)] = season
    cal = BusinessCalendar(
        first=first, last=last, closed_weekdays=closed_wd, country=country,
        closes_on_holidays=closes_h, holidays=hol, history_closed=od[closed],
        breaks=tuple(breaks), seasons=tuple(seasons.values()), month_days=billing,
        sell_rate=p)
    if log.isEnabledFor(logging.DEBUG):
        log.debug("business calendar: %s", cal.describe())
    return cal


def _holiday_score(c: Country, zero_days: np.ndarray, open_days: np.ndarray,
                   first: pd.Timestamp, last: pd.Timestamp) -> int:
    d = holiday_dates(c, first, last)
    d = d[np.isin(d, open_days)]
    z = np.isin(d, zero_days)
    return int(z.sum() - (~z).sum())


def _recurs(start: pd.Timestamp, end: pd.Timestamp, y: pd.Series) -> bool:
    """A break recurs unless the same dates in another year of ``y`` mostly sold."""
    first, last = y.index[0], y.index[-1]
    span = range(first.year - end.year - 1, last.year - start.year + 2)
    for k in span:
        if k == 0:
            continue
        s, e = start + pd.DateOffset(years=k), end + pd.DateOffset(years=k)
        window = y[(y.index >= s) & (y.index <= e)]
        if len(window) >= max(2, ((e - s).days + 1) // 2) and (window != 0).mean() > 0.5:
            return False
    return True


def _season(start: pd.Timestamp, end: pd.Timestamp, dates: pd.DatetimeIndex,
            in_closure: np.ndarray) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """The longest stretch (at least LONG_RUN days) of the closure ``start..end`` whose every
    day was inside a closure on the same date in each other year of the history (``dates``)
    that covers it, and at least one does; None when there is none."""
    days = pd.date_range(start, end, freq="D")
    seen = np.zeros(days.size, dtype=bool)
    sold = np.zeros(days.size, dtype=bool)
    for k in range(dates[0].year - end.year - 1, dates[-1].year - start.year + 2):
        if k == 0:
            continue
        pos = np.asarray((days + pd.DateOffset(years=k) - dates[0]).days)
        inside = (pos >= 0) & (pos < dates.size)
        shut = in_closure[np.clip(pos, 0, dates.size - 1)]
        seen |= inside & shut
        sold |= inside & ~shut
    best = max(_zero_runs(seen & ~sold), key=lambda r: r[1] - r[0], default=None)
    if best is None or best[1] - best[0] < LONG_RUN:
        return None
    return days[best[0]], days[best[1] - 1]


def impute_closed(values: np.ndarray, dates: pd.DatetimeIndex, closed: np.ndarray,
                  *, weeks: int = 5) -> np.ndarray:
    """Replace closed days by the median of the same weekday within ``weeks`` weeks that was
    open; failing that, the median of all open days (0 if none). Used only for fitting."""
    out = np.asarray(values, dtype=float).copy()
    if not closed.any():
        return out
    ok = ~closed
    fallback = float(np.median(out[ok])) if ok.any() else 0.0
    d = dates.values.astype("datetime64[D]").astype(np.int64)
    dow = dates.dayofweek.to_numpy()
    for i in np.flatnonzero(closed):
        near = ok & (dow == dow[i]) & (np.abs(d - d[i]) <= 7 * weeks)
        out[i] = float(np.median(out[near])) if near.any() else fallback
    return out
