"""Purchase interactions for the recommenders: the one place that reads the store, and the
indexed, time-aware :class:`Interactions` every recommender fits on.

An interaction is a distinct (customer, order, product) purchase: quantities are ignored on
purpose, so a wholesaler's 480 units and a household's 2 count as one purchase each (quantity
scales differ by orders of magnitude between customers and would let a few accounts dominate
every co-occurrence). Repeated purchases of a product in different orders count again.

A return cancels the purchase it undoes. Returns and cancellations are stored as lines of
their own with a negative quantity (see the ingest rules ``return`` and ``cancellation``), so
per customer and product the sold quantity is netted with them: a product whose net quantity
is <= 0 was sent back in full, and its purchases are neither interactions nor "bought
before"; the customer is never recommended it (:attr:`Interactions.returned`). A product
returned in part (net > 0) counts as bought, in every order it was bought in: the customer
kept some, which says as much about their taste as a purchase kept whole, and which of its
orders the return undid is not recorded. Only lines before ``as_of`` are netted, so a
return after ``as_of`` changes nothing the models see (the evaluation's test window is netted
on its own, with its own returns).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime

import numpy as np
import pandas as pd
import scipy.sparse as sp

from loyalist import schema as s
from loyalist.errors import DataError, ParameterError, is_whole_number
from loyalist.store import Store, day_after

log = logging.getLogger(__name__)

__all__ = ["Interactions", "decay_weights", "load"]

LINE_COLUMNS = (s.CUSTOMER_ID, s.ORDER_ID, s.ORDERED_AT, s.PRODUCT_ID)
#: the optional column of ``lines`` flagging a purchase of a product the customer sent back
#: in full (:func:`load`)
RETURNED = "returned"
#: the catalogue's columns; ``stock`` is the products table's (taken as the stock at as_of: the
#: table has no date), missing where it is not known
CATALOG_COLUMNS = (s.CATEGORY, s.DESCRIPTION, s.PRICE, s.STOCK)


#: a product nobody bought in this many days before as_of is not recommended
#: (:meth:`Interactions.on_sale`)
ON_SALE_DAYS = 60


def load(store: Store, as_of: pd.Timestamp | datetime | date | str, *, horizon_days: int = 0
         ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read what the recommenders need from ``store``.

    Returns ``(lines, catalog)``:

    - ``lines``: one row per distinct (customer, order, product) purchase with
      ``ordered_at < as_of + horizon_days`` (``horizon_days=0``: training data only; the
      evaluation asks for the test window too and splits it off itself). Only customer lines
      (``NOT is_guest``) of kind ``sale`` with a positive quantity: postage and fees are out.
      ``returned`` is True on the purchases of a product the customer sent back in full
      (net quantity <= 0 after returns and cancellations; netted before ``as_of`` and, for
      the lines from ``as_of`` on, within those: see the module docstring).
    - ``catalog``: one row per product known before ``as_of`` (indexed by ``product_id``):
      ``category`` (most frequent), ``description`` (the latest), ``price`` (median unit price)
      from sale lines before ``as_of`` (guest lines included: they describe the product), then
      overridden by the optional ``products`` table, whose products without any sale are added
      (cold items: only the content-based model can rank them).
    """
    ts = pd.Timestamp(as_of)
    if not is_whole_number(horizon_days) or horizon_days < 0:
        raise ParameterError(f"horizon_days {horizon_days!r} is impossible; use an integer >= 0")
    store.require(s.T_TRANSACTIONS)
    end = ts + pd.Timedelta(days=horizon_days)
    lines = store.query(_purchases_sql(),
                        {"as_of": ts.to_pydatetime(), "end": end.to_pydatetime()})
    catalog = _catalog(store, ts)
    lines[s.ORDERED_AT] = pd.to_datetime(lines[s.ORDERED_AT])
    log.info("loaded %d purchases of %d customers, %d catalogue products before %s",
             len(lines), lines[s.CUSTOMER_ID].nunique(), len(catalog), end)
    return lines, catalog


def _purchases_sql() -> str:
    """The customer sale lines before ``$end`` as distinct (customer, order, product)
    purchases with their flag ``returned``: the customer's net quantity of the product (sales
    less returns and cancellations, stored negative) is <= 0, netted on the lines before
    ``$as_of`` for a purchase before it and on those from ``$as_of`` to ``$end`` for one in
    that window, so no later line changes a purchase's flag."""
    cid, oid, pid, at = s.CUSTOMER_ID, s.ORDER_ID, s.PRODUCT_ID, s.ORDERED_AT
    customer = (f"NOT {s.IS_GUEST} AND {at} < $end AND {cid} IS NOT NULL "
                f"AND {pid} IS NOT NULL AND {at} IS NOT NULL")
    return f"""
        WITH net AS (
            SELECT {cid}, {pid}, {at} >= $as_of AS later, sum({s.QUANTITY}) <= 0 AS returned
            FROM {s.T_TRANSACTIONS}
            WHERE {customer} AND {s.LINE_KIND} IN ('sale', 'return', 'cancellation')
            GROUP BY ALL)
        SELECT {cid}, {oid}, min({at}) AS {at}, {pid}, bool_and(returned) AS {RETURNED}
        FROM {s.T_TRANSACTIONS} JOIN net USING ({cid}, {pid})
        WHERE {customer} AND {s.LINE_KIND} = 'sale' AND {s.QUANTITY} > 0
          AND net.later = ({at} >= $as_of)
        GROUP BY {cid}, {oid}, {pid}"""


def _catalog(store: Store, ts: pd.Timestamp) -> pd.DataFrame:
    """The catalogue :func:`load` describes, indexed by ``product_id``."""
    catalog = store.query(
        f"""SELECT {s.PRODUCT_ID}, mode({s.CATEGORY}) AS {s.CATEGORY},
                   arg_max({s.DESCRIPTION}, {s.ORDERED_AT})
                       FILTER (WHERE {s.DESCRIPTION} IS NOT NULL) AS {s.DESCRIPTION},
                   median({s.UNIT_PRICE}) AS {s.PRICE}
            FROM {s.T_TRANSACTIONS}
            WHERE {s.LINE_KIND} = 'sale' AND {s.QUANTITY} > 0 AND {s.ORDERED_AT} < ?
            GROUP BY {s.PRODUCT_ID}""",
        [ts.to_pydatetime()]).set_index(s.PRODUCT_ID)
    if store.has_rows(s.T_PRODUCTS):
        products = store.query(
            f"SELECT {s.PRODUCT_ID}, {s.CATEGORY}, {s.DESCRIPTION}, {s.PRICE}, {s.STOCK} "
            f"FROM {s.T_PRODUCTS}").set_index(s.PRODUCT_ID)
        catalog = catalog.reindex(catalog.index.union(products.index))
        for col in CATALOG_COLUMNS:
            known = products[col].dropna()
            catalog.loc[known.index, col] = known
    return catalog


def positions(index: pd.Index, ids: object) -> np.ndarray:
    """Position of each id (compared as text) in ``index``; -1 where it is not there."""
    return np.asarray(index.get_indexer(np.asarray(ids, dtype=object).astype(str).ravel()))


def decay_weights(age_days: np.ndarray, half_life_days: float | None) -> np.ndarray:
    """``0.5 ** (age / half_life)``; all ones when ``half_life_days`` is None (no decay)."""
    if half_life_days is None:
        return np.ones(len(age_days), dtype=np.float64)
    return np.exp2(-np.asarray(age_days, dtype=np.float64) / float(half_life_days))


def _pairs(customer_ids: object, product_ids: object) -> pd.DataFrame:
    """Distinct (customer_id, product_id) pairs as text, sorted: the same frame whatever
    order a parallel query returned its rows in (a test comparing the store's and the lines'
    pairs failed on x3 coming before x1)."""
    return pd.DataFrame({s.CUSTOMER_ID: np.asarray(customer_ids, dtype=object).astype(str),
                         s.PRODUCT_ID: np.asarray(product_ids, dtype=object).astype(str)}
                        ).drop_duplicates().sort_values([s.CUSTOMER_ID, s.PRODUCT_ID],
                                                         ignore_index=True)


@dataclass(frozen=True, eq=False)
class Interactions:
    """Purchases indexed for matrix work, with the cutoff they were observed at.

    ``events`` has one row per distinct (customer, order, product) purchase with integer codes
    ``user`` (into ``customers``), ``item`` (into ``items``), ``order`` and ``age_days``
    (``as_of - ordered_at`` in days, > 0). ``items`` is every product with a purchase plus any
    catalogue product without one (cold items, at the end); ``catalog`` is aligned to ``items``.
    ``returned`` holds the (customer_id, product_id) pairs the customer bought and sent back
    in full before ``as_of``: not in ``events``, and never recommended to that customer (who
    may have no other purchase, so ids rather than codes).
    """

    events: pd.DataFrame
    customers: pd.Index
    items: pd.Index
    catalog: pd.DataFrame
    as_of: pd.Timestamp
    n_warm_items: int
    returned: pd.DataFrame = field(default_factory=lambda: _pairs([], []))

    @classmethod
    def from_lines(cls, lines: pd.DataFrame, *, as_of: pd.Timestamp | datetime | str | None = None,
                   catalog: pd.DataFrame | None = None) -> Interactions:
        """Index purchase ``lines`` (``customer_id, order_id, ordered_at, product_id``, and
        optionally ``returned``: the lines :func:`load` flags as a product sent back in full,
        kept out of the purchases and listed in :attr:`returned`).

        ``as_of`` is the reference time for ages and decay (default: the day after the last
        line; lines at or after ``as_of`` are an error, not silently dropped). Time-zone-aware
        ``ordered_at`` values and ``as_of`` keep their wall-clock time and lose the zone, as the
        store keeps local clock times (``2025-03-01 10:00+01:00`` is ``2025-03-01 10:00``)."""
        missing = [c for c in LINE_COLUMNS if c not in lines.columns]
        if missing:
            raise DataError(f"interactions: columns {missing} are missing; expected "
                            f"{list(LINE_COLUMNS)}")
        if lines.empty:
            raise DataError("interactions: no purchase lines to fit on; choose a later as_of "
                            "or load transactions first")
        frame = lines.loc[:, [*LINE_COLUMNS, *[c for c in (RETURNED,) if c in lines]]].dropna(
            subset=[s.CUSTOMER_ID, s.PRODUCT_ID, s.ORDERED_AT])
        if len(frame) < len(lines):
            log.info("interactions: dropped %d of %d lines without customer, product or date",
                     len(lines) - len(frame), len(lines))
        when = pd.to_datetime(frame[s.ORDERED_AT])
        if when.dt.tz is not None:  # local clock times, as the store keeps them (see README)
            when = when.dt.tz_localize(None)
        ts = day_after(when.max()) if as_of is None \
            else pd.Timestamp(as_of)
        if ts.tzinfo is not None:
            ts = ts.tz_localize(None)
        late = when >= ts
        if late.any():
            ex = frame.loc[late, s.ORDER_ID].iloc[0]
            raise DataError(f"interactions: {int(late.sum())} of {len(frame)} lines are at or "
                            f"after as_of {ts}, e.g. order_id {ex}; split by time first")
        returned = frame.pop(RETURNED).fillna(False).astype(bool) if RETURNED in frame \
            else pd.Series(False, index=frame.index)
        sent_back = _pairs(frame.loc[returned, s.CUSTOMER_ID], frame.loc[returned, s.PRODUCT_ID])
        frame, when = frame[~returned], when[~returned]
        if frame.empty:
            raise DataError("interactions: every purchase line was returned in full; there is "
                            "nothing to fit on")
        cust_codes, customers = pd.factorize(frame[s.CUSTOMER_ID].astype(str), sort=True)
        item_codes, items = pd.factorize(frame[s.PRODUCT_ID].astype(str), sort=True)
        order_codes, _ = pd.factorize(frame[s.ORDER_ID].astype(str))
        events = pd.DataFrame({
            "user": cust_codes.astype(np.int32), "item": item_codes.astype(np.int32),
            "order": order_codes.astype(np.int64),
            "age_days": ((ts - when).dt.total_seconds().to_numpy() / 86400.0),
        }).drop_duplicates(["user", "order", "item"], ignore_index=True)
        return cls._indexed(events, customers, items, catalog, ts, sent_back)

    @classmethod
    def from_store(cls, store: Store, as_of: pd.Timestamp | datetime | date | str
                   ) -> Interactions:
        """The purchases :func:`load` reads before ``as_of``, coded in DuckDB: what
        ``from_lines(*load(store, as_of))`` gives (same codes, ages and catalogue), without
        pulling every line's customer, order and product ids into Python strings. On a
        9.6M-purchase store that read peaked at 3.8 GB; here only four numeric columns and the
        distinct ids cross over."""
        ts = pd.Timestamp(as_of)
        if ts.tzinfo is not None:
            ts = ts.tz_localize(None)
        store.require(s.T_TRANSACTIONS)
        con = store.con
        cid, oid, pid, at = s.CUSTOMER_ID, s.ORDER_ID, s.PRODUCT_ID, s.ORDERED_AT
        at_ts = ts.to_pydatetime()
        con.execute(f"CREATE OR REPLACE TEMP TABLE __rec_all AS {_purchases_sql()}",
                    {"as_of": at_ts, "end": at_ts})
        try:
            sent_back = con.sql(f"SELECT DISTINCT {cid}, {pid} FROM __rec_all WHERE {RETURNED}"
                                ).df()
            con.execute("CREATE OR REPLACE TEMP TABLE __rec_lines AS "
                        f"SELECT * FROM __rec_all WHERE NOT {RETURNED}")
            for key, col in (("user", cid), ("item", pid)):
                con.execute(
                    f"""CREATE OR REPLACE TEMP TABLE __rec_{key} AS
                        SELECT {col}, (row_number() OVER (ORDER BY {col}) - 1)::INTEGER AS code
                        FROM (SELECT DISTINCT {col} FROM __rec_lines)""")
            con.execute(
                f"""CREATE OR REPLACE TEMP TABLE __rec_order AS
                    SELECT {oid}, (row_number() OVER (ORDER BY {oid}) - 1)::BIGINT AS code
                    FROM (SELECT DISTINCT {oid} FROM __rec_lines)""")
            customers = con.sql(f"SELECT {cid} FROM __rec_user ORDER BY code"
                                ).fetchnumpy()[cid]
            items = con.sql(f"SELECT {pid} FROM __rec_item ORDER BY code").fetchnumpy()[pid]
            cols = con.sql(
                f"""SELECT u.code AS user, i.code AS item, o.code AS "order",
                           date_diff('microsecond', l.{at}, ?::TIMESTAMP) / 86400e6 AS age_days
                    FROM __rec_lines l JOIN __rec_user u USING ({cid})
                    JOIN __rec_item i USING ({pid}) JOIN __rec_order o USING ({oid})
                    ORDER BY user, item, "order" """,
                params=[ts.to_pydatetime()]).fetchnumpy()
        finally:
            for name in ("all", "lines", "user", "item", "order"):
                con.execute(f"DROP TABLE IF EXISTS __rec_{name}")
        events = pd.DataFrame({
            "user": np.asarray(cols["user"], dtype=np.int32),
            "item": np.asarray(cols["item"], dtype=np.int32),
            "order": np.asarray(cols["order"], dtype=np.int64),
            "age_days": np.asarray(cols["age_days"], dtype=np.float64)})
        catalog = _catalog(store, ts)
        log.info("coded %d purchases of %d customers, %d catalogue products before %s",
                 len(events), len(customers), len(catalog), ts)
        return cls._indexed(events, np.asarray(customers, dtype=object),
                            np.asarray(items, dtype=object), catalog, ts,
                            _pairs(sent_back[cid], sent_back[pid]))

    @classmethod
    def _indexed(cls, events: pd.DataFrame, customers: object, items: object,
                 catalog: pd.DataFrame | None, ts: pd.Timestamp, returned: pd.DataFrame
                 ) -> Interactions:
        """Attach the id indexes and the catalogue (cold items after the bought ones)."""
        items = pd.Index(items, name=s.PRODUCT_ID)
        n_warm = len(items)
        if catalog is not None and len(catalog):
            cat = catalog.copy()
            cat.index = cat.index.astype(str)
            cold = cat.index.difference(items).sort_values()
            items = items.append(pd.Index(cold, name=s.PRODUCT_ID))
            cat = cat.reindex(items)
        else:
            cat = pd.DataFrame(index=items)
        for col in CATALOG_COLUMNS:
            if col in (s.PRICE, s.STOCK):
                cat[col] = pd.to_numeric(cat[col], errors="coerce") if col in cat else np.nan
            elif col not in cat.columns:
                cat[col] = None
        return cls(events=events, customers=pd.Index(customers, name=s.CUSTOMER_ID),
                   items=items, catalog=cat.loc[:, list(CATALOG_COLUMNS)], as_of=ts,
                   n_warm_items=n_warm, returned=returned)

    # --- shape ---------------------------------------------------------------------------
    @property
    def n_customers(self) -> int:
        return len(self.customers)

    @property
    def n_items(self) -> int:
        return len(self.items)

    def __repr__(self) -> str:
        return (f"Interactions({len(self.events):,} purchases, {self.n_customers:,} customers, "
                f"{self.n_items:,} items ({self.n_items - self.n_warm_items} cold), "
                f"as_of={self.as_of})")

    def on_sale(self, days: int = ON_SALE_DAYS) -> np.ndarray:
        """Which ``items`` someone bought in the ``days`` before ``as_of``: the products the
        store still sells. A product last sold months ago (a past season's, or one taken out
        of the range) is no recommendation: on Online Retail at 2011-11-09 the 758 of 3,618
        products not sold in the 60 days before made 0.43% of the next 30 days' purchases."""
        mask = np.zeros(len(self.items), dtype=bool)
        recent = self.events.loc[self.events["age_days"] <= days, "item"].to_numpy()
        mask[np.unique(recent)] = True
        return mask

    def repeat_share(self) -> float:
        """Share of the (customer, product) pairs bought in more than one order: how often a
        customer buys a product again (0 when no one ever does, e.g. one-off items)."""
        if self.events.empty:
            return 0.0
        sizes = self.events.groupby(["user", "item"], sort=False).size()
        return float((sizes > 1).mean())

    # --- matrices ------------------------------------------------------------------------
    def matrix(self, *, half_life_days: float | None = None, binary: bool = False
               ) -> sp.csr_matrix:
        """Customers x items: the number of orders containing the item, each weighted by
        ``0.5 ** (age / half_life_days)`` (no decay when None); 1/0 when ``binary``."""
        ev = self.events
        if binary:
            data = np.ones(len(ev), dtype=np.float32)
        else:
            data = decay_weights(ev["age_days"].to_numpy(), half_life_days).astype(np.float32)
        m = sp.csr_matrix((data, (ev["user"].to_numpy(), ev["item"].to_numpy())),
                          shape=(self.n_customers, self.n_items), dtype=np.float32)
        m.sum_duplicates()
        if binary:
            m.data[:] = 1.0
        return m

    def last_purchase_age(self, *, first: bool = False) -> sp.csr_matrix:
        """Customers x items: days since the customer last (``first``: first) bought the item
        (stored entries only where they did; ages are > 0 as lines are before ``as_of``)."""
        grouped = self.events.groupby(["user", "item"], sort=False)["age_days"]
        ev = grouped.max() if first else grouped.min()
        u = ev.index.get_level_values(0).to_numpy()
        i = ev.index.get_level_values(1).to_numpy()
        return sp.csr_matrix((np.maximum(ev.to_numpy(), 1e-6), (u, i)),
                             shape=(self.n_customers, self.n_items))

    def returns(self) -> tuple[pd.Index, sp.csr_matrix]:
        """The customers of :attr:`returned` and, per customer (row), the ``items`` they sent
        back in full (1), for excluding them from the customer's list."""
        customers, rows = np.unique(self.returned[s.CUSTOMER_ID].to_numpy(dtype=str),
                                    return_inverse=True)
        cols = self.item_columns(self.returned[s.PRODUCT_ID])
        known = cols >= 0
        m = sp.csr_matrix((np.ones(known.sum(), dtype=np.float32), (rows[known], cols[known])),
                          shape=(len(customers), self.n_items))
        return pd.Index(customers, dtype=object, name=s.CUSTOMER_ID), m

    def customer_rows(self, customer_ids: object) -> np.ndarray:
        """Row code per id; -1 for a customer without a purchase here (cold start)."""
        return positions(self.customers, customer_ids)

    def item_columns(self, product_ids: object) -> np.ndarray:
        """Column code per product id; -1 for a product not in ``items``."""
        return positions(self.items, product_ids)

    # --- time ----------------------------------------------------------------------------
    def before(self, cutoff: pd.Timestamp | datetime | str) -> Interactions:
        """The purchases strictly before ``cutoff``, re-indexed with ``as_of = cutoff`` (for
        validation windows inside the training period). The catalogue keeps the products
        bought before ``cutoff`` and products never bought at all."""
        cut = pd.Timestamp(cutoff)
        if cut > self.as_of:
            raise ParameterError(f"cutoff {cut} is after as_of {self.as_of}")
        shift = (self.as_of - cut).total_seconds() / 86400.0
        ev = self.events[self.events["age_days"] > shift]
        if ev.empty:
            raise DataError(f"interactions: no purchase before {cut.date()}; the validation "
                            "window is longer than the history, shorten it")
        return self._subset(ev, age_shift=shift, as_of=cut)

    def _subset(self, ev: pd.DataFrame, *, age_shift: float, as_of: pd.Timestamp
                ) -> Interactions:
        u_codes, u_uniq = pd.factorize(ev["user"].to_numpy(), sort=True)
        i_codes, i_uniq = pd.factorize(ev["item"].to_numpy(), sort=True)
        never = np.setdiff1d(np.arange(self.n_warm_items, self.n_items), i_uniq)
        keep_items = np.concatenate([i_uniq, never])
        events = pd.DataFrame({
            "user": u_codes.astype(np.int32), "item": i_codes.astype(np.int32),
            "order": ev["order"].to_numpy(), "age_days": ev["age_days"].to_numpy() - age_shift})
        items = self.items[keep_items]
        return Interactions(events=events, customers=self.customers[u_uniq], items=items,
                            catalog=self.catalog.iloc[keep_items], as_of=as_of,
                            n_warm_items=len(i_uniq), returned=self.returned)

    def window(self, start: pd.Timestamp | datetime | str) -> pd.DataFrame:
        """Purchases in ``[start, as_of)`` as (customer_id, product_id) pairs (validation
        ground truth)."""
        shift = (self.as_of - pd.Timestamp(start)).total_seconds() / 86400.0
        ev = self.events[self.events["age_days"] <= shift]
        return pd.DataFrame({s.CUSTOMER_ID: self.customers[ev["user"].to_numpy()],
                             s.PRODUCT_ID: self.items[ev["item"].to_numpy()]})
