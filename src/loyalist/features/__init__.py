"""Point-in-time customer features and future-window labels (see :mod:`loyalist.features.sql`).

Both are pure functions of the store's transactions and an explicit ``as_of``: features read
only ``ordered_at < as_of``, labels only ``[as_of, as_of + horizon)``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime

import numpy as np
import pandas as pd

from loyalist import schema as s
from loyalist.errors import DataError, DateRangeError, ParameterError, check_days
from loyalist.features import orders
from loyalist.features.sql import FEATURES, features_sql, labels_sql, summary_sql
from loyalist.store import Store

__all__ = ["BG_SUMMARY", "FEATURES", "MAX_HORIZON_DAYS", "SELECTABLE", "bg_inputs",
           "customer_features", "features_sql", "labels", "labels_sql", "rfm_summary",
           "summary_sql", "to_as_of"]

#: the features BG/NBD and Pareto/NBD take, in the order of their ``fit``: repeat order days
#: (x), days from the first to the last order day (t_x), days since the first (T)
BG_SUMMARY = ("bg_frequency", "bg_recency", "bg_T")


def bg_inputs(feats: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(x, t_x, T)`` of each row of ``feats`` (:data:`BG_SUMMARY`) as float arrays, for a
    probabilistic model's ``fit`` and predictions."""
    x, tx, t = (feats[c].to_numpy(dtype=float) for c in BG_SUMMARY)
    return x, tx, t

TIME_UNITS = {"D": 1, "W": 7, "M": 30.4375}

#: the longest churn / CLV label horizon, in days (three years)
MAX_HORIZON_DAYS = 1095


#: an ISO date, optionally with a time and a UTC offset
_ISO_DATE = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?"
                       r"(Z|[+-]\d{2}:?\d{2})?)?$")


def to_as_of(value: str | date | datetime | pd.Timestamp, what: str = "as_of") -> pd.Timestamp:
    """Parse an as-of date (``2011-09-01``, an ISO date and time, or a timestamp); a bad value
    is a ParameterError. Text must be ISO (year first): ``01/02/2011`` is 1 February in one
    country and 2 January in another, and words such as 'today' would read the clock.

    A time zone (``2025-12-28T00:00+02:00``, a tz-aware Timestamp) is dropped keeping the
    clock time: the store holds local clock times (a zoned file keeps the local time of its
    zone), so midnight in Berlin is the store's midnight, not 23:00 the day before.

    ``what`` names the value in messages (``--from`` for a campaign's first send day). A
    number is refused, not read as nanoseconds since 1970 (``20250901``)."""
    if isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool):
        raise ParameterError(f"{what} {value!r} is a number, not a date; give it as text "
                             f"YYYY-MM-DD, e.g. '2011-09-01'")
    if isinstance(value, str) and not _ISO_DATE.match(value.strip()):
        raise ParameterError(
            f"{what} {value!r} is not a date; use YYYY-MM-DD, e.g. 2011-09-01")
    try:
        ts = pd.Timestamp(value.strip() if isinstance(value, str) else value)
    except (ValueError, TypeError):
        raise ParameterError(
            f"{what} {value!r} is not a date; use YYYY-MM-DD, e.g. 2011-09-01") from None
    if ts is pd.NaT or pd.isna(ts):
        raise ParameterError(f"{what} {value!r} is not a date; use YYYY-MM-DD")
    if ts.tzinfo is not None:
        ts = ts.tz_localize(None)
    if not 1900 <= ts.year <= 2199:
        raise ParameterError(f"{what} {str(value)!r} is outside 1900-2199; give a date "
                             "within the data's dates (the store's report shows its first and "
                             "last day)")
    return ts.as_unit("ns")  # a parsed date is in seconds; one resolution everywhere


#: the columns ``customer_features(columns=...)`` may ask for: the features and the first and
#: last purchase times
SELECTABLE = (*FEATURES, "first_purchase_at", "last_purchase_at")


def customer_features(store: Store, as_of: str | date | datetime | pd.Timestamp, *,
                      customers: str | None = None, columns: Sequence[str] | None = None
                      ) -> pd.DataFrame:
    """One row per customer with a purchase before ``as_of`` (see ``FEATURES``).

    Read from the per-order table built at ingest when it is up to date with the store
    (:mod:`loyalist.features.orders`), else from the lines; both give the same frame.

    ``customers``: the name of a table or view on the store's connection with a
    ``customer_id`` column (e.g. a registered frame of ids): only those customers' rows, the
    same as in the whole frame, read without computing the others' (empty when none of them
    has a purchase). ``columns``: only these feature columns besides ``customer_id`` (DuckDB
    then skips the others' aggregates). Either way a DataError when no customer in the store
    has a purchase before ``as_of``."""
    if not isinstance(store, Store):
        raise ParameterError(f"store: give a loyalist.store.Store, e.g. "
                             f"Store({str(store)!r}, read_only=True); got a "
                             f"{type(store).__name__}")
    ts = to_as_of(as_of)
    store.require(s.T_TRANSACTIONS)
    sql = (orders.features_from_orders_sql(customers=customers) if orders.is_fresh(store.con)
           else features_sql(customers=customers))
    unknown = [c for c in columns or () if c not in SELECTABLE]
    if unknown:
        raise ParameterError(f"columns: {unknown[0]!r} is no feature; the features are "
                             f"{', '.join(SELECTABLE)}")
    if columns is not None:
        sql = f"SELECT {', '.join([s.CUSTOMER_ID, *columns])} FROM ({sql}) ORDER BY 1"
    out = store.query(sql, {"as_of": ts.to_pydatetime()})  # type: ignore[arg-type]
    if out.empty and (customers is None or not _any_purchase(store, ts)):
        raise no_purchase_error(store, ts)
    if "preferred_hour" in out.columns and len(out) and not _has_times(store, ts):
        # dates without a time of day (CDNOW, invoice exports): every order at 0:00, so the
        # hour is unknown, not midnight ("orders mostly around 0:00" was a churn reason)
        out["preferred_hour"] = np.nan
    return out


def _has_times(store: Store, ts: pd.Timestamp) -> bool:
    """Whether any purchase before ``ts`` has a time of day (not every one at midnight);
    stops at the first one that has."""
    return bool(store.query(f"""
        SELECT EXISTS (SELECT 1 FROM {s.T_TRANSACTIONS}
                       WHERE {s.ORDERED_AT} < $as_of
                         AND CAST({s.ORDERED_AT} AS TIME) <> TIME '00:00:00') AS t""",
                            {"as_of": ts.to_pydatetime()})["t"].iloc[0])


def _any_purchase(store: Store, ts: pd.Timestamp) -> bool:
    """Whether any customer has a purchase before ``ts`` (a row of :func:`customer_features`)."""
    return bool(store.con.execute(
        f"SELECT count(*) FROM (SELECT 1 FROM {s.T_TRANSACTIONS} WHERE {s.ORDERED_AT} < ? "
        f"AND NOT {s.IS_GUEST} AND {s.QUANTITY} > 0 AND {s.LINE_KIND} <> 'cancellation' "
        "LIMIT 1)", [ts.to_pydatetime()]).fetchall()[0][0])


def no_purchase_error(store: Store, ts: pd.Timestamp) -> DataError:
    """Why no customer has a purchase before ``ts``: every line is a guest line (the files
    had no customer ids), or ``ts`` is before the data."""
    known = store.con.execute(
        f"SELECT count(*) FROM {s.T_TRANSACTIONS} WHERE NOT {s.IS_GUEST}").fetchall()[0][0]
    if not known:
        return DataError(
            "every line in the store is a guest line (no customer id), so there are no "
            "customers to describe, score, recommend to or plan for; load the transactions with "
            "their customer column (--map customer_id=<column>). Revenue forecasts and "
            "bought-together rules work without it")
    sales = store.con.execute(
        f"SELECT count(*) FROM {s.T_TRANSACTIONS} WHERE NOT {s.IS_GUEST} AND {s.QUANTITY} > 0 "
        f"AND {s.LINE_KIND} <> 'cancellation'").fetchall()[0][0]
    if not sales:
        return DataError(
            "the store holds no sale by a known customer, only returns or cancelled orders, so "
            "there are no customers to describe, score, recommend to or plan for; load the "
            "sales as well")
    lo, hi = store.date_range()
    return DateRangeError(
        f"no customer has a purchase before as_of {ts.date()}; the store's transactions "
        f"run from {lo.date()} to {hi.date()}: choose an as_of after {lo.date()}")


def labels(store: Store, as_of: str | date | datetime | pd.Timestamp, horizon_days: int = 90
           ) -> pd.DataFrame:
    """Future orders/spend per customer in ``[as_of, as_of + horizon_days)``."""
    ts = to_as_of(as_of)
    # numpy ints (e.g. from a frame) bind as plain integers
    horizon_days = check_days(horizon_days, "horizon", max_days=MAX_HORIZON_DAYS, example=90)
    store.require(s.T_TRANSACTIONS)
    return store.query(labels_sql(), {"as_of": ts.to_pydatetime(),  # type: ignore[arg-type]
                                      "horizon": horizon_days})


def rfm_summary(store: Store, as_of: str | date | datetime | pd.Timestamp, time_unit: str = "D"
                ) -> pd.DataFrame:
    """BG/NBD input per customer: frequency, recency, T (in ``time_unit``: D, W or M) and
    monetary_value, as lifetimes' ``summary_data_from_transaction_data``."""
    if time_unit not in TIME_UNITS:
        raise ParameterError(f"time unit {time_unit!r} is unknown; use D, W or M")
    ts = to_as_of(as_of)
    store.require(s.T_TRANSACTIONS)
    out = store.query(summary_sql(), {"as_of": ts.to_pydatetime(),  # type: ignore[arg-type]
                                      "unit_days": TIME_UNITS[time_unit]})
    if out.empty:
        raise no_purchase_error(store, ts)
    return out
