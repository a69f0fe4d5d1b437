"""Daily revenue series: the one query that reads them, and their calendar-complete form.

Revenue is **net**: the sum of ``amount`` over every transaction line of the day, whatever its
``line_kind`` (sales, cancellations and returns as negative lines, postage and fees) and
including guest lines (no customer id), because that is what the business takes in. A day can
therefore be negative (a day of cancellations). Days without a line are zeros in the
calendar-complete series; :mod:`.closures` then decides which zeros are closed days.
"""

from __future__ import annotations

import logging

import pandas as pd

from loyalist import schema as s
from loyalist.errors import DataError, ParameterError
from loyalist.store import Store

log = logging.getLogger(__name__)

__all__ = ["BY_COLUMNS", "TOTAL", "complete_days", "read_daily_revenue"]

TOTAL = "total"
BY_COLUMNS = (s.CATEGORY, s.STORE_ID, s.COUNTRY)


def read_daily_revenue(store: Store, *, as_of: pd.Timestamp, by: str | None = None
                       ) -> tuple[pd.DataFrame, pd.Series]:
    """Net revenue per day before ``as_of``: a long frame ``series, date, y`` holding the
    ``total`` series and, with ``by``, one series per value of that column (named
    ``"<by>=<value>"``; lines with no value count in the total only), plus revenue by country
    (for the default holiday calendar)."""
    if by is not None and by not in BY_COLUMNS:
        raise ParameterError(f"--by {by!r} is not supported; use one of: {', '.join(BY_COLUMNS)}")
    store.require(s.T_TRANSACTIONS)
    day = f"CAST({s.ORDERED_AT} AS DATE)"
    t = s.T_LINES  # a line's category completed from the product master
    if by is None:
        sql = (f"SELECT {day} AS date, NULL::VARCHAR AS grp, 1 AS is_total, "
               f"SUM({s.AMOUNT}) AS y FROM {t} WHERE {s.ORDERED_AT} < ? GROUP BY 1 ORDER BY 1")
    else:
        sql = (f"SELECT {day} AS date, CAST({by} AS VARCHAR) AS grp, "
               f"GROUPING(grp) AS is_total, SUM({s.AMOUNT}) AS y FROM {t} "
               f"WHERE {s.ORDERED_AT} < ? GROUP BY GROUPING SETS ((date), (date, grp)) "
               "ORDER BY 1")
    cutoff = pd.Timestamp(as_of).to_pydatetime()
    daily = store.query(sql, [cutoff])
    countries = store.query(
        f"SELECT {s.COUNTRY} AS country, SUM({s.AMOUNT}) AS revenue FROM {t} "
        f"WHERE {s.ORDERED_AT} < ? AND {s.COUNTRY} IS NOT NULL GROUP BY 1", [cutoff])
    if daily.empty:
        raise DataError(
            f"{s.T_TRANSACTIONS}: no line has {s.ORDERED_AT} before as_of {as_of.date()}; "
            "choose a later as_of or load older data")
    daily["date"] = pd.to_datetime(daily["date"])
    total = daily[daily["is_total"] == 1]
    frames = [pd.DataFrame({"series": TOTAL, "date": total["date"], "y": total["y"]})]
    if by is not None:
        grp = daily[(daily["is_total"] == 0) & daily["grp"].notna()]
        if grp.empty:
            raise DataError(
                f"{s.T_TRANSACTIONS}.{by}: empty on every line before {as_of.date()}; load a "
                f"file with a {by} column (or --map {by}=<source column>) or drop --by")
        frames.append(pd.DataFrame({"series": by + "=" + grp["grp"].astype(str),
                                    "date": grp["date"], "y": grp["y"]}))
    out = pd.concat(frames, ignore_index=True)
    out["y"] = out["y"].astype(float)
    return out, countries.set_index("country")["revenue"].astype(float)


def complete_days(frame: pd.DataFrame, *, end: pd.Timestamp) -> dict[str, pd.Series]:
    """``series, date, y`` -> one daily series per name, from its first non-zero day to the
    day before ``end``, with explicit zeros on days without lines."""
    out: dict[str, pd.Series] = {}
    last = pd.Timestamp(end).normalize() - pd.Timedelta(days=1)
    for name, g in frame.groupby("series", sort=False):
        g = g[g["y"] != 0]
        if g.empty:
            continue
        idx = pd.date_range(g["date"].min(), last, freq="D")
        out[str(name)] = (g.groupby("date")["y"].sum().reindex(idx, fill_value=0.0)
                          .astype(float).rename(str(name)))
    return out
