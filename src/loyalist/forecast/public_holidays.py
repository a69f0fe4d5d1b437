"""Public holidays for the forecast: which country, which subdivision, which dates.

A country is given as an ISO code (``GB``), code and subdivision (``GB-ENG``), or an English
name as stored in ``transactions.country`` (``United Kingdom``). The default is the data's
dominant country (at least half of revenue) when the ``holidays`` package knows it, else none.
Many countries differ by region (England and Scotland have different bank holidays); when no
subdivision is given and the business closes on holidays, :func:`choose_subdivision` picks the
subdivision whose calendar best matches the days the history shows closed.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import holidays as hol
import numpy as np
import pandas as pd

from loyalist.errors import ParameterError

log = logging.getLogger(__name__)

__all__ = ["Country", "choose_subdivision", "dominant_country", "holiday_dates", "resolve_country"]

# Share of revenue a country needs to be "the data's country" for the default holidays.
DOMINANT_SHARE = 0.5


@dataclass(frozen=True)
class Country:
    """A ``holidays`` country code, an optional subdivision and where the choice came from."""

    code: str
    subdiv: str | None = None
    source: str = "argument"  # 'argument' | 'data' | 'data+subdivision'

    @property
    def label(self) -> str:
        return f"{self.code}-{self.subdiv}" if self.subdiv else self.code


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


@lru_cache(maxsize=1)
def _lookup() -> dict[str, str]:
    """Normalised country name / alias / code -> ISO alpha-2 code, from the holidays registry."""
    from holidays.registry import COUNTRIES

    table: dict[str, str] = {}
    for module, names in COUNTRIES.items():
        code = names[1]
        for key in (module, *names[:4]):
            table.setdefault(_norm(key), code)
    return table


def resolve_country(value: str | None, *, strict: bool = True) -> Country | None:
    """``'GB'``, ``'gb-eng'``, ``'United Kingdom'`` -> :class:`Country`; ``None``/``''`` -> None.

    With ``strict`` an unknown value is a :class:`ParameterError`; otherwise it gives None.
    """
    if value is None or not str(value).strip():
        return None
    raw = str(value).strip()
    code_part, _, sub_part = raw.partition("-") if re.fullmatch(r"[A-Za-z]{2,3}-\w+", raw) \
        else (raw, "", "")
    code = _lookup().get(_norm(code_part))
    if code is None:
        if strict:
            raise ParameterError(
                f"--country {raw!r} is not a country the holidays package knows; use an ISO "
                "code or English name, e.g. --country GB, --country GB-ENG, --country 'Germany'")
        return None
    subdiv = None
    if sub_part:
        known = _subdivisions(code)
        match = [s for s in known if _norm(s) == _norm(sub_part)]
        if not match:
            raise ParameterError(
                f"--country {raw!r}: {code} has no subdivision {sub_part!r}; known: "
                f"{', '.join(known[:12]) or 'none'}")
        subdiv = match[0]
    return Country(code, subdiv)


@lru_cache(maxsize=64)
def _subdivisions(code: str) -> tuple[str, ...]:
    return tuple(hol.list_supported_countries().get(code, ()))


def dominant_country(revenue_by_country: pd.Series) -> Country | None:
    """The country with at least :data:`DOMINANT_SHARE` of revenue, if the holidays package
    knows it; else None (and the forecast uses no holidays)."""
    rev = revenue_by_country.dropna()
    rev = rev[rev > 0]
    if rev.empty:
        return None
    top = rev.idxmax()
    share = float(rev.max() / rev.sum())
    if share < DOMINANT_SHARE:
        log.info("no dominant country (top %s has %.0f%% of revenue): no holidays", top,
                 100 * share)
        return None
    found = resolve_country(str(top), strict=False)
    if found is None:
        log.info("dominant country %r is unknown to the holidays package: no holidays", top)
        return None
    return Country(found.code, found.subdiv, source="data")


@lru_cache(maxsize=256)
def _dates(code: str, subdiv: str | None, years: tuple[int, ...]) -> np.ndarray:
    cal = hol.country_holidays(code, subdiv=subdiv, years=list(years))
    return np.array(sorted(cal.keys()), dtype="datetime64[D]")


def holiday_dates(country: Country | None, first: pd.Timestamp, last: pd.Timestamp
                  ) -> np.ndarray:
    """Sorted ``datetime64[D]`` holiday dates of ``country`` between ``first`` and ``last``
    (inclusive); empty without a country."""
    if country is None:
        return np.array([], dtype="datetime64[D]")
    years = tuple(range(first.year, last.year + 1))
    d = _dates(country.code, country.subdiv, years)
    lo, hi = np.datetime64(first.date(), "D"), np.datetime64(last.date(), "D")
    return d[(d >= lo) & (d <= hi)]


def choose_subdivision(country: Country, closed_zero: Iterable[np.datetime64],
                       open_days: np.ndarray, first: pd.Timestamp, last: pd.Timestamp
                       ) -> Country:
    """The subdivision whose holidays best explain the zero-sale days of the history.

    Score of a calendar = holidays (on ``open_days``) with no sales minus holidays with sales;
    a subdivision replaces the national calendar only if it scores strictly higher. Only
    meaningful for a business that closes on holidays; a given subdivision is kept as is.
    """
    if country.subdiv is not None:
        return country
    subs = _subdivisions(country.code)
    if not subs:
        return country
    zero = np.asarray(sorted(set(closed_zero)), dtype="datetime64[D]")
    if zero.size == 0:  # nothing to explain: keep the national calendar
        return country

    def score(c: Country) -> int:
        d = holiday_dates(c, first, last)
        d = d[np.isin(d, open_days)]
        z = np.isin(d, zero)
        return int(z.sum() - (~z).sum())

    best, best_score = country, score(country)
    for sub in subs:
        cand = Country(country.code, sub, source=f"{country.source}+subdivision")
        sc = score(cand)
        if sc > best_score:
            best, best_score = cand, sc
    if best is not country:
        log.info("holidays: %s matches the closed days best", best.label)
    return best
