"""The store's side of the facade: loading files and generated scenarios, listing, removing
and compacting loads, the as_of every command resolves (and when the data are stale), and the
customer features.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from loyalist import schema as s
from loyalist.errors import DataError, ParameterError
from loyalist.features import customer_features, to_as_of
from loyalist.ingest import ingest_files
from loyalist.store import Store, remove_store_files

# the facade's logger name, as before the package split (what `-v` and the API's log show)
log = logging.getLogger("loyalist.pipeline")

Progress = Callable[[str], None]


@contextlib.contextmanager
def _new_store_guard(path: Path) -> Iterator[None]:
    """If ``path`` did not exist and the block fails, remove what opening it created, so a failed
    first load leaves no half-made store behind."""
    existed = path.exists()
    try:
        yield
    except Exception:  # a bug too: never leave a half-made store behind
        if not existed:
            remove_store_files(path)
        raise


def ingest(store_path: Path, files: Sequence[str | Path], *, fmt: str = "auto",
           mapping: Sequence[str] | None = None, table: str = "auto",
           day_one: str | None = None, progress: Progress | None = None,
           display: Callable[[str], str] | None = None,
           check: Callable[[Store], object] | None = None,
           currency: str | None = None, encoding: str | None = None) -> list[dict[str, Any]]:
    """Load ``files`` into the store (created if new); ``display``, ``check``, ``currency``
    and ``encoding``: see :func:`loyalist.ingest.ingest_files`."""
    with _new_store_guard(store_path), Store(store_path) as st:
        reports = ingest_files(st, files, fmt=fmt, mapping=mapping, table=table,
                               day_one=day_one, loaded_at=datetime.now(), progress=progress,
                               display=display, check=check, currency=currency,
                               encoding=encoding)
        _suggest_compact(st)
        return reports


def loads(store_path: Path) -> list[dict[str, Any]]:
    """Every load in the store, oldest first (:func:`loyalist.ingest.unload.list_loads`)."""
    from loyalist.ingest.unload import list_loads

    with Store(store_path, read_only=True) as st:
        return list_loads(st.con)


def unload(store_path: Path, load_ids: Sequence[int | str]) -> dict[str, Any]:
    """Remove loads and every row they wrote (:func:`loyalist.ingest.unload.unload`)."""
    from loyalist.ingest.unload import unload as remove

    with Store(store_path, create=False) as st:
        res = remove(st, load_ids)
        _suggest_compact(st)
        return res


def _suggest_compact(st: Store) -> None:
    """A warning suggesting ``loyalist compact`` after a command that removed or replaced
    much data, when most of the file is free blocks (``Store.compaction_hint``)."""
    if note := st.compaction_hint():
        log.warning("%s", note)


def compact(store_path: Path, *, progress: Progress | None = None) -> dict[str, Any]:
    """Give the store's free blocks back to the disk (:func:`loyalist.store.compact`)."""
    from loyalist.store import compact as rewrite

    return rewrite(store_path, progress=progress)


def resolve_as_of(st: Store, as_of: str | None) -> pd.Timestamp:
    """An explicit as_of, or the day after the store's last transaction. An explicit one more
    than :data:`~loyalist.evaluation.splits.MAX_GAP_DAYS` after the last purchase is refused
    (:func:`~loyalist.evaluation.splits.check_observed`), before anything is computed or
    written: every command that takes ``--as-of`` and writes results for it goes through here
    (features, train, score, clv fit, plan, run), as `recommend`, `together` and `forecast`
    check their own (exploratory report 7, I4: `run --as-of 2030-01-01` stored features
    describing everyone as lapsed, and `clv fit` fitted such a summary)."""
    if not as_of:
        return st.default_as_of()
    from loyalist.evaluation.splits import check_observed

    ts = to_as_of(as_of)
    check_observed(st.date_range()[1], ts, why="the data say nothing of the customers then, "
                   "and every one would look lapsed")
    return ts


#: data ending longer ago than this before today is said to be stale (run, plan)
STALE_DAYS = 90


def stale_data_warning(last: pd.Timestamp, today: pd.Timestamp | None = None, *,
                       as_of: pd.Timestamp | None = None) -> str | None:
    """A sentence when the store's last sale is more than :data:`STALE_DAYS` before today
    (exploratory report 6a, G7: a history that ended 3.4 years ago was planned as if current,
    with sends dated then and "last bought 19 days ago"); None for an ``as_of`` inside the
    data (a look back, not a plan for now)."""
    if as_of is not None and as_of <= last:
        return None
    today = (today or pd.Timestamp.now()).normalize()
    age = (today - pd.Timestamp(last).normalize()).days
    if age <= STALE_DAYS:
        return None
    ago = f"{age:,} days" if age < 730 else f"{age / 365.25:.1f} years"
    return (f"the data end on {pd.Timestamp(last).date()}, {ago} before today "
            f"({today.date()}): segments, churn risk, recommendations and plans describe "
            "the customers as they were then, and a plan's send dates are in the past; load "
            "recent sales for today's picture")


#: a stray tail (:func:`stray_tail_warning`): at most this share of the orders, after a gap of
#: at least :data:`STRAY_GAP_DAYS` days, :data:`STRAY_GAP_TIMES` times the usual gap between
#: selling days and twice any gap before it
STRAY_SHARE, STRAY_GAP_DAYS, STRAY_GAP_TIMES = 0.01, 90, 10


def selling_days(store: Store, as_of: pd.Timestamp) -> tuple[pd.Series, np.ndarray]:
    """The days with sales before ``as_of``, in order, and their orders (the plan's season
    reads them too)."""
    daily = store.query(f"""SELECT CAST({s.ORDERED_AT} AS DATE) AS day,
                                   count(DISTINCT {s.ORDER_ID}) AS orders
                            FROM {s.T_TRANSACTIONS}
                            WHERE {s.LINE_KIND} = 'sale' AND {s.ORDERED_AT} < ?
                            GROUP BY 1 ORDER BY 1""", [as_of.to_pydatetime()])
    return pd.to_datetime(daily["day"]), daily["orders"].to_numpy(dtype=float)


#: a closure before ``as_of`` (:func:`closed_before_warning`): at least this many days
#: without a sale, and twice any closure before
CLOSED_DAYS = 30


def closed_before_warning(store: Store, as_of: pd.Timestamp, last: pd.Timestamp,
                          daily: tuple[pd.Series, np.ndarray] | None = None) -> str | None:
    """A sentence when the shop sold nothing in the :data:`CLOSED_DAYS` or more days before
    an ``as_of`` inside the data (``last``: the data's last sale), twice any break before
    it: a shop reopening after a renovation looks as if every customer had lapsed, and
    churn risk reads high for all (exploratory report 10: 444 of 533 customers "high" at
    the reopening, where half came back). None otherwise (after the data's end the stale
    warning speaks)."""
    if as_of > last:
        return None
    days, _ = daily or selling_days(store, as_of)
    if len(days) < 3:
        return None
    quiet = (as_of.normalize() - days.iloc[-1]).days - 1
    longest = int(days.diff().dt.days.max()) - 1
    if quiet < CLOSED_DAYS or quiet <= 2 * longest:
        return None
    return (f"the shop sold nothing in the {quiet:,} days before {as_of.date()} (since "
            f"{days.iloc[-1].date()}), twice as long as any break before: every customer "
            "looks lapsed as of then, so churn risk reads high and lifetime value low for "
            "customers who may simply come back after the closure")


def stray_tail_warning(store: Store, as_of: pd.Timestamp,
                       daily: tuple[pd.Series, np.ndarray] | None = None) -> str | None:
    """A sentence when the store's last orders before ``as_of`` stand apart from the rest:
    at most :data:`STRAY_SHARE` of the orders, after a gap far longer than the shop ever
    closed before (a test order dated today beside a log that ended two years ago, or a year typed
    wrong). Every result then describes the customers as of a day long after the data
    really end: all of them lapsed, "Champions" gone for two years, a forecast from one
    sale, and no stale warning (exploratory report 10). None when there is no such tail."""
    days, orders = daily or selling_days(store, as_of)
    if len(days) < 3:
        return None
    gaps = days.diff().dt.days.to_numpy()[1:]
    tail = orders[::-1].cumsum()[::-1][1:] / orders.sum()  # share from each day on
    usual = float(pd.Series(gaps).median())
    # longer than any closure before it too: a seasonal stall's yearly break is no stray
    before = pd.Series(gaps).cummax().shift(fill_value=0).to_numpy()
    far = ((gaps >= max(STRAY_GAP_DAYS, STRAY_GAP_TIMES * usual)) & (gaps > 2 * before)
           & (tail <= STRAY_SHARE))
    if not far.any():
        return None
    i = int(far.nonzero()[0][0])  # the earliest such gap: everything after it is the tail
    end, first = days.iloc[i], days.iloc[i + 1]
    n = int(orders[i + 1:].sum())
    return (f"the last {n:,} order(s) ({first.date()} to {days.iloc[-1].date()}) come "
            f"{int(gaps[i]):,} days after the rest of the data, which end on {end.date()}: a "
            f"test order or a wrong date? Results are as of {as_of.date()}, when every other "
            f"customer has not bought for {(as_of - end).days:,} days; unload or fix those "
            f"rows, or pass --as-of {(end + pd.Timedelta(days=1)).date()} to see the "
            "customers as the data leave them")


def data_warnings(store: Store, as_of: pd.Timestamp) -> list[str]:
    """What the data's dates say about results as of ``as_of``: stale data
    (:func:`stale_data_warning`), a stray tail of orders (:func:`stray_tail_warning`), a
    closure just before (:func:`closed_before_warning`); the selling days read once."""
    last = store.date_range()[1]
    daily = selling_days(store, as_of)
    return [w for w in (stale_data_warning(last, as_of=as_of),
                        stray_tail_warning(store, as_of, daily),
                        closed_before_warning(store, as_of, last, daily)) if w]


def features(store_path: Path, *, as_of: str | None = None, out: Path | None = None,
             save: bool = True) -> tuple[pd.Timestamp, pd.DataFrame, Path | None]:
    """Compute features at ``as_of``; write them to ``out`` (.parquet or .csv) and the store."""
    if out is not None and out.suffix.lower() not in (".parquet", ".csv"):
        raise ParameterError(f"--out {out}: use a .parquet or .csv file name")
    with Store(store_path, read_only=not save, create=False) as st:
        ts = resolve_as_of(st, as_of)
        frame = customer_features(st, ts)
        if save:
            st.write_frame(s.T_FEATURES, frame, replace_where="as_of = ?",
                           params=[ts.to_pydatetime()])
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.suffix.lower() == ".csv":
            frame.to_csv(out, index=False)
        else:
            frame.to_parquet(out, index=False)
    return ts, frame, out


def generate(scenario: str, *, customers: int | None, months: int, seed: int, out: Path
             ) -> dict[str, Any]:
    from loyalist.generate import SCENARIOS, write_scenario
    from loyalist.generate import generate as _generate
    from loyalist.generate.generator import validate

    if scenario not in SCENARIOS:
        raise ParameterError(
            f"--scenario {scenario!r} is unknown; use one of: {', '.join(SCENARIOS)}")
    n = customers if customers is not None else SCENARIOS[scenario].default_customers
    validate(scenario, n, months, seed, None, prefix="--")
    sc = _generate(scenario, customers=n, months=months, seed=seed)
    if sc.transactions.empty:  # nothing to load, train or plan on: say so before writing
        raise DataError(f"--customers {n:,} --months {months}: the {scenario} scenario's "
                        f"customers made no purchase in {months} month(s) (seed {seed}); "
                        "give more customers or months, e.g. --customers 100 --months 12")
    files = write_scenario(sc, out)
    return {"scenario": scenario, "customers": n, "months": months, "seed": seed,
            "out": str(out), "files": {k: str(v) for k, v in files.items()},
            "transactions": int(len(sc.transactions))}


#: generated files and the store table each one loads into
SCENARIO_TABLES = {
    "transactions": s.T_TRANSACTIONS, "products": s.T_PRODUCTS,
    "customers": s.T_CUSTOMERS, "promotions": s.T_PROMOTIONS, "catalog": s.T_CATALOG,
    "competitor_calendar": s.T_COMPETITORS, "inventory": s.T_INVENTORY,
}


def load_scenario(store_path: Path, files: dict[str, str], *, progress: Progress | None = None,
                  skip: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Load every file of a generated scenario (``generate(...)["files"]``) into its store
    table (:data:`SCENARIO_TABLES`), except the names in ``skip``; the quality reports."""
    say = progress or (lambda _m: None)
    reports: list[dict[str, Any]] = []
    for name, table in SCENARIO_TABLES.items():
        if name in skip:
            continue
        say(f"loading {name}")
        reports += ingest(store_path, [files[name]], table=table, progress=progress)
    return reports
