"""The planning window from the merchant's own history: how busy it will be against the
campaigns the response model learned from (:func:`seasonal_factor`, and per promotion
:func:`promotion_season_factors`), whether it is a season the shop does not sell in
(:func:`closed_season`), and how hard competitor promotions overlapping it press
(:func:`competitor_pressure`)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from loyalist import schema as s

__all__ = ["CLOSED_SEASON", "CLOSED_SHARE", "closed_season", "competitor_pressure",
           "promotion_season_factors", "seasonal_factor"]


def _rate(daily: pd.Series, start: pd.Timestamp, days: int) -> float:
    """Mean orders per day over ``[start, start + days)``; NaN where the history does not
    cover the whole window."""
    end = start + pd.Timedelta(days=days)
    if start < daily.index.min() or end > daily.index.max() + pd.Timedelta(days=1):
        return math.nan
    return float(daily[(daily.index >= start) & (daily.index < end)].sum() / days)


def _season_index(daily: pd.Series, as_of: pd.Timestamp, start: pd.Timestamp, days: int,
                  *, first_year: bool = False) -> float:
    """Orders per day in ``[start, start + days)`` over the orders per day of the surrounding
    year (the 365 days centred on it, or ending at ``as_of`` when the centre is too recent;
    with ``first_year``, the history's first 365 days when the centre is too early); NaN where
    the history does not cover both or that year had no orders."""
    year = pd.Timedelta(days=365)
    ref = start + pd.Timedelta(days=days / 2) - pd.Timedelta(days=182)
    if ref + year > as_of:
        ref = as_of - year
    if first_year and ref < daily.index.min():
        ref = daily.index.min()
    base = _rate(daily, ref, 365)
    return _rate(daily, start, days) / base if base and base > 0 else math.nan


#: a planning period whose orders per day, in every earlier year of the history, were at most
#: this share of an average day's is said to have (almost) no sales (:func:`closed_season`)
CLOSED_SHARE = 0.05
#: how :func:`closed_season`'s warning begins
CLOSED_SEASON = "the plan's period had (almost) no sales in every earlier year"


def _closed_years(daily: pd.Series, as_of: pd.Timestamp, period_days: int
                  ) -> list[tuple[pd.Timestamp, float]] | None:
    """The start and seasonal index of the planning period's days in each earlier year the
    history covers, when every one of them is at most :data:`CLOSED_SHARE` (a closed
    season); None otherwise (no earlier year covers the period, or one had sales then).
    ``daily`` sorted, not empty."""
    years = []
    start = pd.Timestamp(as_of) - pd.Timedelta(days=365)
    while start >= daily.index.min():
        ix = _season_index(daily, as_of, start, period_days)
        if math.isfinite(ix):
            years.append((start, ix))
        start -= pd.Timedelta(days=365)
    if not years or max(ix for _, ix in years) > CLOSED_SHARE:
        return None
    return sorted(years)


def closed_season(daily: pd.Series, as_of: pd.Timestamp, period_days: int) -> str | None:
    """A warning when the planning period ``[as_of, as_of + period_days)`` had (almost) no
    sales in the same days of every earlier year the history covers (its seasonal index,
    orders per day over the surrounding year's, at most :data:`CLOSED_SHARE`): a seasonal
    shop closed then (a Christmas stall in January), where offers reach no one who can buy.
    None when no earlier year covers the period or one had sales then. ``daily`` is orders
    per calendar day before ``as_of``, days without orders included as 0. The plan's effects
    follow that season (:func:`seasonal_factor`), so it spends (almost) nothing then."""
    if daily.empty:
        return None
    daily = daily.sort_index()
    years = _closed_years(daily, as_of, period_days)
    if years is None:
        return None
    end = pd.Timestamp(as_of) + pd.Timedelta(days=period_days - 1)
    seen = "; ".join(
        f"{a.date()} to {(a + pd.Timedelta(days=period_days - 1)).date()}: "
        f"{_rate(daily, a, period_days) * period_days:,.0f} orders, {ix:.0%} of an average "
        "day's rate" for a, ix in years)
    return (f"{CLOSED_SEASON} ({seen}): {as_of.date()} to {end.date()} looks like a closed "
            "season, so offers sent for it will likely go unused; keep the budget for the "
            "days the shop sells")


def seasonal_factor(daily: pd.Series, as_of: pd.Timestamp, period_days: int,
                    campaign_starts: list[pd.Timestamp], window_days: int
                    ) -> tuple[float, str]:
    """How busy the planning window will be relative to the campaigns the response model
    learned from, from the merchant's own order counts (``daily``: orders per calendar day).

    A window's seasonal index is its orders per day over the orders per day of the surrounding
    year (the 365 days centred on it, or ending at ``as_of`` when the centre is too recent);
    the planning window's index is read off the same calendar window one year earlier. The
    factor is the planning index over the mean index of the campaign windows, kept within
    [0.25, 4] (1 when the history is shorter than a year plus the period, or there were no
    campaigns). Promotion effects scale with a customer's baseline purchase rate, so
    incremental effects are multiplied by it. A campaign in the history's first half year,
    whose surrounding year the history does not hold, is indexed against the history's first
    365 days (else the first year's campaigns would not count, and a promotion sent in them
    would be compared with the others' seasons: :func:`promotion_season_factors`).

    A closed season (:func:`closed_season`: the planning window at most :data:`CLOSED_SHARE`
    of an average day's orders in every earlier year) is not floored at 0.25: the shop then
    sells (almost) nothing, and offers can bring (almost) nothing, so the factor is the
    highest index any earlier year had then (0 for a shop that never sold then) over the
    campaigns' mean index, or over 1 (an average day's) when no campaign was measured: the
    priors describe an ordinary period."""
    if daily.empty:
        return 1.0, ""
    daily = daily.sort_index()
    closed = _closed_years(daily, as_of, period_days)
    camp = [_season_index(daily, as_of, pd.Timestamp(c), window_days, first_year=True)
            for c in campaign_starts]
    camp = [c for c in camp if math.isfinite(c)]
    if closed is not None:
        plan_ix = max(ix for _, ix in closed)
        ref = float(np.mean(camp)) if camp else 1.0
        factor = float(np.clip(plan_ix / ref, 0.0, 4.0)) if ref > 0 else 0.0
        against = (f"the campaigns the response model learned from {ref:.2f}x" if camp else
                   "the assumed response (no campaign measured) describes an average day")
        return factor, (f"seasonality: the planning window is a closed season, at most "
                        f"{plan_ix:.2f}x an average day in every earlier year; {against}; "
                        f"incremental effects and redemptions scaled by {factor:.2f}")
    if not camp:  # no campaign, or none the history can index
        return 1.0, ""
    plan_ix = _season_index(daily, as_of, as_of - pd.Timedelta(days=365), period_days)
    if not math.isfinite(plan_ix):  # said: the plan's numbers are the campaigns' season's
        return 1.0, SEASON_UNKNOWN
    factor = float(np.clip(plan_ix / float(np.mean(camp)), 0.25, 4.0))
    note = (f"seasonality: the planning window was {plan_ix:.2f}x an average day last year, "
            f"the campaigns the response model learned from {float(np.mean(camp)):.2f}x; "
            f"incremental effects scaled by {factor:.2f}")
    return factor, note


#: :func:`seasonal_factor`'s note when the history cannot index the planning window
SEASON_UNKNOWN = ("seasonality unknown: the history does not hold the planning window's days "
                  "a year earlier with a year around them (about 13 months or more are "
                  "needed), so the window's season is not applied and the effects are those "
                  "of the campaigns' average season (on generated 12-month stores plans "
                  "predicted 0.55-2.12x their true value, median 1.46: BENCHMARKS.md)")


def promotion_season_factors(daily: pd.Series, as_of: pd.Timestamp, period_days: int,
                             sends: dict[str, list[pd.Timestamp]], window_days: int
                             ) -> dict[str, float]:
    """Each promotion's :func:`seasonal_factor`: the planning window against the campaigns
    that *sent it* (``sends``: promotion -> its send days), not against all campaigns.

    Each promotion's response is learned from its own campaigns (its treated and those
    campaigns' controls, :mod:`loyalist.response.uplift`), so its predictions carry their
    season; campaigns offer a few promotions each, so one promotion may have been sent in
    busy weeks and another in quiet ones. On the generated fashion scenario (seed 5) the
    knitwear buy-one-get-one's campaigns were quiet (factor 0.87) and the 30%-off clearance's
    busy (0.69), the generator's own ratios of the planning window's to the campaigns'
    baseline purchases 0.86 and 0.71, where one factor for all gave both 0.77. Empty in a
    closed season (:func:`closed_season`) or without a history to index: the one factor
    then applies."""
    if daily.empty or _closed_years(daily.sort_index(), as_of, period_days) is not None:
        return {}
    out = {}
    for promo, days in sends.items():
        f, note = seasonal_factor(daily, as_of, period_days, list(days), window_days)
        if note and note != SEASON_UNKNOWN:
            out[str(promo)] = f
    return out


def competitor_pressure(competitors: pd.DataFrame | None, start: pd.Timestamp, days: int
                        ) -> tuple[float, list[str]]:
    """Competitor percent-off x share of ``[start, start + days)`` it covers, summed over the
    events (capped at 1), and a line per event for the rationale."""
    if competitors is None or competitors.empty:
        return 0.0, []
    end = start + pd.Timedelta(days=days)
    total, notes = 0.0, []
    for _, ev in competitors.iterrows():
        a = max(pd.Timestamp(ev[s.STARTS_AT]), start)
        b = min(pd.Timestamp(ev[s.ENDS_AT]) + pd.Timedelta(days=1), end)
        overlap = (b - a).total_seconds() / 86400.0
        if overlap <= 0:
            continue
        kind = str(ev.get(s.KIND) or "percent_discount")
        off = float(ev.get(s.VALUE) or 0.0) / 100.0 if kind == "percent_discount" else 0.1
        share = overlap / days
        total += off * share
        notes.append(f"{ev[s.COMPETITOR]} runs {off:.0%} off over {share:.0%} of the period")
    return min(total, 1.0), notes
