"""Response training sets: one row per exposure, features at send time, outcomes in the window.

An *exposure* is one row of the ``promotions`` table (a customer sent a promotion, or held out
in the ``control`` arm) at ``sent_at``. Its **features** are the customer's state at the start of
the send day (:func:`response_features`, built on :func:`loyalist.features.customer_features`,
so they read only ``ordered_at < as_of``); its **outcomes** are read from ``transactions`` in the
response window ``[sent_at, sent_at + W)``: ``y_purchased`` (any purchase), ``y_orders``
(distinct orders with a purchase) and ``y_spend`` (gross purchase value, net of in-price
discounts since ``unit_price`` carries them; as ``loyalist.features.labels``).

Leak-free: an exposure is used only if its window ends by the ``cutoff``
(``sent_at + W <= cutoff``) and no transaction at or after the cutoff is read. Features are
computed once per distinct send day (campaigns go out on a few days, so that is a handful of
feature queries), for that day's exposed customers only; what the population decides (the
median basket, the store-wide margin rate, the category columns) still comes from everyone.

The window ``W`` defaults (:func:`default_window_days`) to 30 days, or 14 days when campaigns
are less than 30 days apart (so one customer's windows do not overlap); pass the scenario's
``response_window_days`` when it is known.

These functions are the package's only store readers: thin loaders taking a
:class:`~loyalist.store.Store` and returning frames.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from loyalist import schema as s
from loyalist.errors import DataError, LoyalistError, ParameterError
from loyalist.features import BG_SUMMARY, FEATURES, bg_inputs, customer_features, to_as_of
from loyalist.features.sql import only_customers
from loyalist.store import Store

log = logging.getLogger(__name__)

__all__ = ["CONTROL", "DEFAULT_MARGIN_RATE", "OUTCOMES", "TrainingSet", "build_exposures",
           "controls_of", "exposure_rows", "promotion_arms", "purchase_lines",
           "build_training_set", "campaign_dates", "catalog_categories", "category_margins",
           "default_window_days",
           "feature_columns", "offer_item_prices", "response_features", "share_column"]

CONTROL = s.CONTROL
#: outcome columns of a training set: purchase (0/1), orders and spend in the window
OUTCOMES = ("y_purchased", "y_orders", "y_spend")
#: margin rate used when products carry neither ``unit_cost`` nor ``margin`` (an assumption)
DEFAULT_MARGIN_RATE = 0.4
DEFAULT_WINDOW_DAYS = 30
SHORT_WINDOW_DAYS = 14
#: mantissa bits dropped from float features (53 - 20 = 33 kept: about 10 significant digits)
DROP_BITS = 20
#: columns of the feature frame that are not model inputs
ID_COLUMNS = ("customer_id", "as_of", "first_purchase_at", "last_purchase_at")
#: columns of the feature frame used to price an offer, not to learn the response
CONTEXT_COLUMNS = ("margin_rate", "basket")


def purchase_lines(alias: str = "") -> str:
    """SQL: the line is a customer's purchase (not a return, cancellation or guest line);
    with ``alias``, of the table so aliased."""
    a = f"{alias}." if alias else ""
    return f"{a}{s.QUANTITY} > 0 AND {a}{s.LINE_KIND} <> 'cancellation' AND NOT {a}{s.IS_GUEST}"


_BUY = purchase_lines()


@dataclass
class TrainingSet:
    """Exposures with their features and outcomes, and how they were selected."""

    frame: pd.DataFrame  # one row per exposure: ids, features, outcomes
    features: list[str]  # model input columns of ``frame``
    window_days: int
    cutoff: pd.Timestamp  # windows end by here; nothing at or after it was read
    sent_from: pd.Timestamp | None = None
    excluded_open_windows: int = 0  # exposures left out because their window ends after cutoff
    notes: list[str] = field(default_factory=list)

    @property
    def promotions(self) -> list[str]:
        """Promotion names with at least one exposure (``control`` excluded)."""
        names = self.frame[s.PROMOTION].unique().tolist() if len(self.frame) else []
        return sorted(n for n in names if n != CONTROL)

    def summary(self) -> dict[str, Any]:
        f = self.frame
        return {"exposures": int(len(f)), "control": int((f[s.PROMOTION] == CONTROL).sum())
                if len(f) else 0, "promotions": self.promotions,
                "campaigns": int(f["campaign"].nunique()) if len(f) else 0,
                "window_days": self.window_days, "cutoff": str(self.cutoff),
                "excluded_open_windows": self.excluded_open_windows, "notes": list(self.notes)}


def controls_of(frame: pd.DataFrame, promo: str) -> pd.Series:
    """The ``control`` rows that may stand for ``promo``'s untreated: those held out from it
    (``control_for``, a targeted plan's hold-out: comparable with that promotion's sends
    only) and those held out from nothing in particular (a randomised campaign's arm). A
    ``control_for`` naming no promotion sent on the control's day (a campaign's name, say)
    is held out from nothing in particular."""
    control = frame[s.PROMOTION] == CONTROL
    if s.CONTROL_FOR not in frame.columns or frame[s.CONTROL_FOR].isna().all():
        return control
    held = frame[s.CONTROL_FOR]
    sent = pd.MultiIndex.from_arrays([frame.loc[~control, "campaign"],
                                      frame.loc[~control, s.PROMOTION].astype(str)]).unique()
    specific = held.notna().to_numpy() & pd.MultiIndex.from_arrays(
        [frame["campaign"], held.astype(str)]).isin(sent)
    return control & (~specific | (held == promo).to_numpy())


def promotion_arms(frame: pd.DataFrame, promo: str, controls: pd.Series | None = None
                   ) -> tuple[pd.Series, pd.Series]:
    """``promo``'s sends, and the controls of its campaigns (send days) that may stand for its
    untreated: of ``controls``, its :func:`controls_of` on any day when the caller has them
    already, else computed here."""
    treated = frame[s.PROMOTION] == promo
    days = frame.loc[treated, "campaign"].unique()
    if controls is None:
        controls = controls_of(frame, promo)
    return treated, controls & frame["campaign"].isin(days)


def _check_window(window_days: object) -> int:
    if isinstance(window_days, bool) or not isinstance(window_days, int | np.integer) \
            or not 1 <= int(window_days) <= 366:
        raise ParameterError(f"window_days={window_days!r} is impossible; use 1..366 days "
                             "(the response window after each send)")
    return int(window_days)


def default_window_days(sent_dates: pd.Series | list[Any]) -> int:
    """30 days, or 14 when consecutive campaign days are less than 30 days apart (median gap):
    a customer contacted in every campaign then has non-overlapping windows."""
    days = pd.Series(pd.to_datetime(pd.Series(sent_dates)).dt.normalize().unique()).sort_values()
    if len(days) < 2:
        return DEFAULT_WINDOW_DAYS
    gap = float(days.diff().dt.days.dropna().median())
    return DEFAULT_WINDOW_DAYS if gap >= DEFAULT_WINDOW_DAYS else SHORT_WINDOW_DAYS


def campaign_dates(store: Store) -> pd.Series:
    """Distinct send days in the ``promotions`` table (empty if it is empty or absent)."""
    if not store.has_table(s.T_PROMOTIONS):
        return pd.Series([], dtype="datetime64[ns]")
    out = store.query(f"SELECT DISTINCT CAST({s.SENT_AT} AS DATE) AS d FROM {s.T_PROMOTIONS} "
                      "ORDER BY 1")
    return pd.to_datetime(out["d"])


def _round_bits(a: np.ndarray, drop: int = DROP_BITS) -> np.ndarray:
    """Round floats to ``53 - drop`` mantissa bits (to nearest). Unlike rounding to decimals,
    values that are short binary fractions (sums of cents divided by small counts) sit on the
    grid, not on a rounding boundary, so last-bit noise always rounds the same way."""
    bits = np.ascontiguousarray(a, dtype=np.float64).view(np.int64)
    mask = np.int64(~((1 << drop) - 1))
    out = ((bits + np.int64(1 << (drop - 1))) & mask).view(np.float64)
    return np.where(np.isfinite(a), out, a)


def _slug(name: object) -> str:
    return re.sub(r"[^0-9a-zA-Z]+", "_", str(name)).strip("_").lower() or "none"


def share_column(category: object) -> str:
    """The feature column holding a customer's share of purchase value in ``category``."""
    return f"share__{_slug(category)}"


def _costed_sales(store: Store, ts: pd.Timestamp, key: str, *, where: str = "",
                  extra: str = "") -> pd.DataFrame:
    """Sales before ``ts`` of products with a unit cost or margin, per ``key`` (a column of
    the transactions ``t``): revenue ``rev`` and ``profit`` at product costs (plus ``extra``
    aggregates), groups with positive revenue only."""
    q = store.query(f"""
        SELECT t.{key} AS {key}, sum(t.{s.AMOUNT}) AS rev,
               sum(t.{s.AMOUNT} - coalesce(t.{s.QUANTITY} * p.{s.UNIT_COST},
                                           t.{s.AMOUNT} * (1 - p.{s.MARGIN}))) AS profit{extra}
        FROM {s.T_LINES} t JOIN {s.T_PRODUCTS} p USING ({s.PRODUCT_ID})
        WHERE t.{s.ORDERED_AT} < $as_of AND t.{s.QUANTITY} > 0 AND t.{s.LINE_KIND} = 'sale'
          AND (p.{s.UNIT_COST} IS NOT NULL OR p.{s.MARGIN} IS NOT NULL) {where}
        GROUP BY 1""", {"as_of": ts.to_pydatetime()})
    return q[q["rev"] > 0]


def category_margins(store: Store, ts: pd.Timestamp) -> dict[str, float]:
    """Margin rate of what sold in each category before ``ts`` (sales at product costs), for
    the items an offer adds; empty without product costs."""
    if not store.has_rows(s.T_PRODUCTS):
        return {}
    q = _costed_sales(store, ts, s.CATEGORY, where=f"AND t.{s.CATEGORY} IS NOT NULL")
    return {str(c): float(_round_bits(np.array([pr / rv]))[0])
            for c, rv, pr in zip(q["category"], q["rev"], q["profit"], strict=True)}


def _margins(store: Store, ts: pd.Timestamp, ids: pd.Series | None = None
             ) -> tuple[pd.DataFrame, float, str]:
    """Per-customer margin rate from their purchase mix at product costs, shrunk towards the
    store-wide rate by one average order; the store-wide rate; and where it came from. With
    ``ids``, only those customers' rates (the store-wide rate and order still from everyone)."""
    has = store.has_rows(s.T_PRODUCTS)
    if has:
        q = _costed_sales(store, ts, s.CUSTOMER_ID, where=f"AND NOT t.{s.IS_GUEST}",
                          extra=f", count(DISTINCT t.{s.ORDER_ID}) AS orders")
        # exactly rounded sums: DuckDB returns the groups in no fixed order, and a plain sum of
        # the same floats in another order can differ in the last bit
        rev = math.fsum(q["rev"])
        if len(q) and rev > 0:
            glob = math.fsum(q["profit"]) / rev
            k = rev / max(int(q["orders"].sum()), 1)  # one average order
            if ids is not None:
                q = q[q["customer_id"].isin(ids)]
            rate = (q["profit"] + k * glob) / (q["rev"] + k)
            return (pd.DataFrame({"customer_id": q["customer_id"], "margin_rate": rate}),
                    glob, "products")
    return (pd.DataFrame({"customer_id": pd.Series([], dtype=object),
                          "margin_rate": pd.Series([], dtype=float)}),
            DEFAULT_MARGIN_RATE, "assumption")


#: the view of the customers :func:`response_features` is asked for
_IDS = "__response_customers"


def response_features(store: Store, as_of: Any, *, window_days: int = DEFAULT_WINDOW_DAYS,
                      customers: Any = None, silence: pd.DataFrame | None = None
                      ) -> pd.DataFrame:
    """One row per customer known at ``as_of``: :func:`customer_features` (customers with a
    purchase before ``as_of``) plus customers of the ``customers`` table signed up before it
    (no purchase yet: ``has_history = 0``), with

    - ``share__<category>``: share of the customer's purchase value in each category;
    - ``age``, ``signup_days`` (days since sign-up), when the customers table has them;
    - ``past_offers``, ``past_redemptions``, ``past_redeem_rate``: promotions received (not
      control) whose response window of ``window_days`` closed before ``as_of``, and how many
      were redeemed;
    - context (not model inputs): ``margin_rate`` (the customer's purchase mix at product costs;
      ``attrs['margin_source']`` says ``products`` or ``assumption``; ``attrs['category_margin']``
      the margin rate of each category's sales, for the items offers add) and ``basket`` (mean
      order value, the population median when unknown).

    With ``customers`` (ids), the rows of those customers alone, with the values they have in
    the whole frame: their own features are computed for them only, while what is the whole
    population's (the median basket, the store-wide margin rate and one average order the
    margin rates shrink towards, the category columns) is still read from everyone.

    Reads only ``ordered_at < as_of`` and exposures whose windows closed by ``as_of``.
    ``silence``: :func:`silence_checkpoints` read once for several as_ofs up to a later one
    (the rows it uses are those before ``as_of``).
    """
    ts = to_as_of(as_of)
    w = _check_window(window_days)
    if customers is None:
        return _response_features(store, ts, w, None, silence)
    ids = pd.Series(pd.unique(pd.Series(customers, dtype=object)), dtype=object,
                    name="customer_id")
    store.con.register(_IDS, ids.to_frame())
    try:
        return _response_features(store, ts, w, ids, silence)
    finally:
        store.con.unregister(_IDS)


#: SQL: the store's first order before ``$as_of`` (as ``t``), from which a registered
#: customer can be seen buying
DATA_START = (f"SELECT min({s.ORDERED_AT}) AS t FROM {s.T_TRANSACTIONS} "
              f"WHERE {s.ORDERED_AT} < $as_of")


def seen_from(start: str, alias: str = "") -> str:
    """SQL: since when a registered customer with no purchase is silent: the later of the
    sign-up and the data's first order ``start`` (a registration older than the data is
    observed from the data's start; none recorded: the data's start). ``alias``: the
    customers table's, with its dot."""
    return f"greatest(coalesce({alias}{s.SIGNUP_AT}, {start}), {start})"


def _response_features(store: Store, ts: pd.Timestamp, w: int, ids: pd.Series | None,
                       silence: pd.DataFrame | None = None) -> pd.DataFrame:
    """:func:`response_features`; with ``ids`` (registered as the view ``_IDS``), only theirs."""
    p = {"as_of": ts.to_pydatetime()}
    scope = None if ids is None else _IDS
    only = only_customers(s.CUSTOMER_ID, scope)
    # the whole population's orders values, for the median basket (before anything else: no
    # purchase in the store is a DataError, as without ids)
    aov_all = None if ids is None else customer_features(store, ts, columns=["aov_mean"])
    feats = customer_features(store, ts, customers=scope)
    feats["has_history"] = 1.0
    if store.has_rows(s.T_CUSTOMERS):
        # age at as_of from the birth date when there is one (a stored age goes stale)
        age = (f"coalesce(date_sub('year', {s.BIRTH_DATE}, $as_of), {s.AGE})"
               if store.has_column(s.T_CUSTOMERS, s.BIRTH_DATE) else s.AGE)
        # days without a purchase since the customer could first be seen buying
        cust = store.query(f"""
            WITH data_start AS ({DATA_START})
            SELECT {s.CUSTOMER_ID} AS customer_id, {age} AS age,
                   date_diff('second', {s.SIGNUP_AT}, $as_of) / 86400.0 AS signup_days,
                   date_diff('second', {seen_from('data_start.t')}, $as_of) / 86400.0
                       AS days_without_purchase
            FROM {s.T_CUSTOMERS}, data_start
            WHERE ({s.SIGNUP_AT} IS NULL OR {s.SIGNUP_AT} < $as_of) {only}""", p)
        feats = feats.merge(cust, on="customer_id", how="outer")
        feats["has_history"] = feats["has_history"].fillna(0.0)
        # a buyer's silence is recency_days; this one is for customers with no purchase yet
        feats.loc[feats["has_history"] > 0, "days_without_purchase"] = np.nan
        feats["as_of"] = ts
    buy = f"{s.ORDERED_AT} < $as_of AND {_BUY} AND {s.CATEGORY} IS NOT NULL"
    cats = store.query(f"""
        SELECT {s.CUSTOMER_ID} AS customer_id, {s.CATEGORY} AS category,
               sum({s.AMOUNT}) AS spend
        FROM {s.T_LINES} WHERE {buy} {only}
        GROUP BY 1, 2""", p)
    # a column per category anyone bought, as for the whole population
    names = (cats["category"].unique() if ids is None else
             store.query(f"SELECT DISTINCT {s.CATEGORY} AS category FROM {s.T_LINES} "
                         f"WHERE {buy}", p)["category"].to_numpy())
    if len(names):
        wide = cats.pivot_table(index="customer_id", columns="category", values="spend",
                                aggfunc="sum", fill_value=0.0)
        if ids is not None:  # the same columns in the same order: the same row sums
            wide = wide.reindex(columns=sorted(names), fill_value=0.0)
        wide = wide.clip(lower=0.0)
        tot = wide.sum(axis=1).replace(0.0, np.nan)
        wide = wide.div(tot, axis=0)
        wide.columns = [share_column(c) for c in wide.columns]
        if wide.columns.duplicated().any():  # names equal once slugged: add their shares
            wide = wide.T.groupby(level=0).sum().T
        feats = feats.merge(wide.reset_index(), on="customer_id", how="left")
    if store.has_rows(s.T_PROMOTIONS):
        past = store.query(f"""
            SELECT {s.CUSTOMER_ID} AS customer_id,
                   count(*) FILTER (WHERE {s.PROMOTION} <> '{CONTROL}') AS past_offers,
                   count(*) FILTER (WHERE {s.PROMOTION} <> '{CONTROL}'
                                    AND coalesce({s.REDEEMED}, false)) AS past_redemptions
            FROM {s.T_PROMOTIONS}
            WHERE {s.SENT_AT} + to_days(CAST($w AS INTEGER)) <= $as_of {only}
            GROUP BY 1""", {**p, "w": w})
        feats = feats.merge(past, on="customer_id", how="left")
        feats[["past_offers", "past_redemptions"]] = (
            feats[["past_offers", "past_redemptions"]].fillna(0.0).astype(float))
        feats["past_redeem_rate"] = (feats["past_redemptions"]
                                     / feats["past_offers"].where(feats["past_offers"] > 0))
    for col in ("orders", "order_days", "monetary_total", "net_spend", "items_total",
                "spend_last_90", "spend_prev_90", "orders_last_90", "distinct_products",
                "distinct_categories"):
        if col in feats:
            feats[col] = feats[col].astype(float).fillna(0.0)
    share_cols = [c for c in feats.columns if c.startswith("share__")]
    feats[share_cols] = feats[share_cols].fillna(0.0)
    feats["bg_p_alive"] = _p_alive(store, ts, feats, ids)
    if "days_without_purchase" in feats:
        none = feats["days_without_purchase"].notna().to_numpy()
        if none.any():
            feats.loc[none, "bg_p_alive"] = silent_alive(
                store, ts, w, feats.loc[none, "days_without_purchase"].to_numpy(dtype=float),
                silence)
    margins, glob, source = _margins(store, ts, ids)
    feats = feats.merge(margins, on="customer_id", how="left")
    feats["margin_rate"] = feats["margin_rate"].fillna(glob)
    aov = feats["aov_mean"].astype(float)
    pop = aov if aov_all is None else aov_all["aov_mean"].astype(float)
    feats["basket"] = aov.fillna(float(pop.median()) if pop.notna().any() else 0.0)
    # DuckDB's parallel aggregates sum in a varying order, so the last bits of a float feature
    # can differ between runs; a tree split falling between them would change a model.
    for c in feats.columns:
        if pd.api.types.is_float_dtype(feats[c]):
            feats[c] = _round_bits(feats[c].to_numpy(dtype=float))
    feats = feats.sort_values("customer_id", ignore_index=True)
    feats.attrs.update({"margin_source": source, "margin_rate_global": glob,
                        "category_margin": category_margins(store, ts),
                        "as_of": ts, "window_days": w})
    return feats


def _p_alive(store: Store, ts: pd.Timestamp, feats: pd.DataFrame, ids: pd.Series | None
             ) -> np.ndarray:
    """Each row's BG/NBD probability of still being a customer at ``ts`` (Fader, Hardie & Lee
    2005, eq. 11), the model fitted on every customer's history before ``ts`` (NaN without a
    purchase, or when it cannot be fitted): the feature ``bg_p_alive``, whose log the
    relative-lift learner's baselines start from (:mod:`loyalist.response.uplift`).

    The boosted baselines, fitted on a campaign's few hundred controls, cannot learn it where
    it matters: it falls with the time since the last purchase much faster for a frequent
    buyer than for a one-time one, and customers silent for years are few in any experiment.
    On a generated electronics store (1,500 customers, 36 months; 242 of 4,738 exposures more
    than 730 days after the last purchase, 3 of them followed by one) the baseline put the
    customers silent for more than 730 days with more than four orders at a 4.3% chance to
    buy in the window; none of them was still a customer (BG/NBD P(alive) 0.009).
    """
    from loyalist.clv._fitting import fit_warnings_as_info
    from loyalist.clv.bgnbd import BetaGeoModel

    out = np.full(len(feats), np.nan)
    if not all(c in feats for c in BG_SUMMARY):
        return out
    pop = feats if ids is None else customer_features(store, ts, columns=list(BG_SUMMARY))
    pop = pop[pop["bg_frequency"].notna()]
    rows = feats["bg_frequency"].notna().to_numpy()
    if len(pop) < 2 or not rows.any():
        return out
    try:
        with fit_warnings_as_info():
            bg = BetaGeoModel().fit(*bg_inputs(pop))
        out[rows] = bg.probability_alive(*bg_inputs(feats.loc[rows]))
    except LoyalistError as e:
        log.info("P(alive) at %s left unknown: %s", ts.date(), e)
    return out


def silence_checkpoints(store: Store, until: pd.Timestamp, w: int) -> pd.DataFrame:
    """The rows :func:`silent_alive` learns from, for every ``ts`` up to ``until``: at each
    checkpoint ``cp`` (every ``w`` days from the store's first order + ``w`` to ``until - w``),
    per day of silence ``d`` (rounded, at least 1: :func:`silent_alive` reads a silence under
    a day as one, and the log of 0 stopped its fit), the registered customers with no
    purchase yet (``n``) and those of them whose first purchase came in ``[cp, cp + w)``
    (``k``).

    The rows of the checkpoints up to ``ts - w`` are exactly those a query at ``ts`` makes
    (a first purchase in a checkpoint's window is before ``ts``; one after it leaves the
    customer silent either way), so a training set reads them once for all its send days
    (:func:`build_exposures`) instead of once per day: on a generated coffee store (30,000
    customers, 18 months, 20 send days) the per-day queries took 2.2 of the training set's
    13.2 s."""
    return store.query(f"""
        WITH start AS ({DATA_START}),
        cp AS (SELECT unnest(generate_series(start.t + to_days(CAST($w AS INTEGER)),
                                             $as_of - to_days(CAST($w AS INTEGER)),
                                             to_days(CAST($w AS INTEGER)))) AS t FROM start),
        first_buy AS (SELECT {s.CUSTOMER_ID} AS customer_id, min({s.ORDERED_AT}) AS f
                      FROM {s.T_TRANSACTIONS} WHERE {s.ORDERED_AT} < $as_of AND {_BUY}
                      GROUP BY 1),
        silent AS (
            SELECT cp.t AS cp,
                   date_diff('second', {seen_from('start.t', 'c.')}, cp.t) / 86400.0 AS d,
                   (fb.f IS NOT NULL AND fb.f < cp.t + to_days(CAST($w AS INTEGER))) AS y
            FROM {s.T_CUSTOMERS} c CROSS JOIN cp CROSS JOIN start
            LEFT JOIN first_buy fb ON fb.customer_id = c.{s.CUSTOMER_ID}
            WHERE {seen_from('start.t', 'c.')} < cp.t AND (fb.f IS NULL OR fb.f >= cp.t))
        SELECT cp, greatest(round(d), 1) AS d, count(*) AS n,
               count(*) FILTER (WHERE y) AS k
        FROM silent WHERE d > 0 GROUP BY 1, 2 ORDER BY 1, 2""",
                       {"as_of": until.to_pydatetime(), "w": w})


def silent_alive(store: Store, ts: pd.Timestamp, w: int, days: np.ndarray,
                 checkpoints: pd.DataFrame | None = None) -> np.ndarray:
    """For registered customers with no purchase yet, silent for ``days`` (since the later of
    sign-up and the store's first order): how likely they still are to buy, relative to one
    just seen, read from the store's own history before ``ts``. BG/NBD cannot say it (with no
    purchase its P(alive) is 1 whatever the silence), and the boosted baselines, given a
    handful of such controls, learned a flat rate: on a generated coffee store (3,000
    customers, 18 months) 750 customers registered before the data and never seen buying
    were predicted a 0.7% chance to buy in the window against a true 0.02% (98.5% of them had
    left), where the store's own rate falls from 9.7% in the first 60 days to 0.06% after a
    year.

    At checkpoints every ``w`` days whose window ends by ``ts``, every registered customer
    with no purchase yet gives a row (silence, bought in the next ``w`` days); a logistic
    regression of the outcome on log(silence) gives the rate ``q(d)``, and the result is
    ``q(d) / q(w)``, at most 1 (the relative-lift learner's baselines start from its log, as
    from BG/NBD's P(alive): :mod:`loyalist.response.uplift`). NaN when the history holds
    fewer than two checkpoints or no first purchase to learn from. ``checkpoints``:
    :func:`silence_checkpoints` up to ``ts`` or later (read here when not given)."""
    out = np.full(len(days), np.nan)
    if checkpoints is None:
        checkpoints = silence_checkpoints(store, ts, w)
    rows = checkpoints[pd.to_datetime(checkpoints["cp"]) <= ts - pd.Timedelta(days=w)]
    bins = rows.groupby("d", sort=True)[["n", "k"]].sum().reset_index()
    if bins["d"].nunique() < 2 or bins["k"].sum() == 0 or (bins["k"] == bins["n"]).all():
        return out
    a, b = _logistic_fit(np.log(bins["d"].to_numpy(dtype=float)),
                         bins["k"].to_numpy(dtype=float), bins["n"].to_numpy(dtype=float))

    def rate(d: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-(a + b * np.log(np.maximum(d, 1.0)))))

    ok = np.isfinite(days)
    out[ok] = np.minimum(rate(days[ok]) / rate(np.array([float(w)]))[0], 1.0)
    return out


def _logistic_fit(x: np.ndarray, k: np.ndarray, n: np.ndarray) -> tuple[float, float]:
    """Intercept and slope of a binomial GLM with logit link, ``k`` successes of ``n`` at
    ``x``: scikit-learn's unpenalised logistic regression on the successes and the failures
    of each ``x``, weighted by their counts."""
    from sklearn.linear_model import LogisticRegression

    xs = np.concatenate([x, x])[:, None]
    ys = np.concatenate([np.ones(len(x)), np.zeros(len(x))])
    ws = np.concatenate([k, n - k]).astype(float)
    keep = ws > 0
    fit = LogisticRegression(C=np.inf, max_iter=1000, tol=1e-10).fit(
        xs[keep], ys[keep], sample_weight=ws[keep])
    return float(fit.intercept_[0]), float(fit.coef_[0, 0])


def catalog_categories(catalog: pd.DataFrame) -> dict[str, list[str]]:
    """Promotion name -> its categories (the catalog's ``;``-separated ``category``; empty =
    the whole assortment)."""
    out: dict[str, list[str]] = {}
    for row in catalog.itertuples(index=False):
        raw = getattr(row, "category", None)
        cats = [] if raw is None or (isinstance(raw, float) and np.isnan(raw)) else [
            c.strip() for c in str(raw).split(";") if c.strip()]
        out[str(row.name)] = cats
    return out


def offer_item_prices(store: Store, catalog: pd.DataFrame) -> dict[str, float]:
    """Price of the item an offer adds or discounts, per promotion: the catalog value for
    ``free_item``; else the median product price in the promotion's categories (``products``
    table), or over all products when it names none; without product prices there, the
    median unit price of the sales lines in those categories (a merchant with only a sales
    export: its coupon for obi was priced at each customer's usual basket, and cost nothing
    to customers who never bought obi). Promotions with neither are left out."""
    out: dict[str, float] = {}
    has = store.has_rows(s.T_PRODUCTS)
    prices = store.query(f"SELECT {s.CATEGORY} AS category, {s.PRICE} AS price "
                         f"FROM {s.T_PRODUCTS} WHERE {s.PRICE} > 0") if has else None
    cats = catalog_categories(catalog)
    from_lines = []  # promotions priced from the sales lines: one scan for all of them
    for row in catalog.itertuples(index=False):
        name = str(row.name)
        if str(row.kind) == "free_item" and pd.notna(row.value):
            out[name] = float(row.value)
            continue
        if prices is not None and len(prices):
            sel = prices[prices["category"].isin(cats[name])] if cats[name] else prices
            if len(sel):
                out[name] = float(sel["price"].median())
                continue
        from_lines.append(name)
    if from_lines and store.has_rows(s.T_TRANSACTIONS):
        params: list[str] = []
        medians = []
        for name in from_lines:
            where = (f" FILTER (WHERE {s.CATEGORY} IN ({', '.join('?' * len(cats[name]))}))"
                     if cats[name] else "")
            medians.append(f"median({s.UNIT_PRICE}){where}")
            params += cats[name]
        got = store.query(f"""
            SELECT {', '.join(medians)} FROM {s.T_LINES}
            WHERE {s.QUANTITY} > 0 AND {s.UNIT_PRICE} > 0 AND {s.LINE_KIND} = 'sale'""",
                          params).iloc[0].tolist()
        out |= {name: float(p) for name, p in zip(from_lines, got, strict=True) if pd.notna(p)}
    return out


def feature_columns(frame: pd.DataFrame) -> list[str]:
    """The model input columns of a :func:`response_features` frame: numeric, not ids or
    context."""
    skip = set(ID_COLUMNS) | set(CONTEXT_COLUMNS)
    return [c for c in frame.columns if c not in skip
            and (pd.api.types.is_numeric_dtype(frame[c]) or pd.api.types.is_bool_dtype(frame[c]))]


def exposure_rows(store: Store, where: str) -> str:
    """SQL: the ``promotions`` rows matching ``where`` as exposures, one per (customer, send
    time, promotion): ``customer_id, sent_at, promotion, redeemed, redeemed_known, cost,
    control_for``."""
    # a store written before the column existed, opened read-only (not migrated): none
    held = (f"max({s.CONTROL_FOR})" if store.has_column(s.T_PROMOTIONS, s.CONTROL_FOR)
            else "CAST(NULL AS VARCHAR)")
    return f"""
        SELECT {s.CUSTOMER_ID} AS customer_id, {s.SENT_AT} AS sent_at,
               {s.PROMOTION} AS promotion, bool_or(coalesce({s.REDEEMED}, false)) AS redeemed,
               bool_or({s.REDEEMED} IS NOT NULL) AS redeemed_known,
               max({s.COST}) AS cost, {held} AS control_for
        FROM {s.T_PROMOTIONS}
        WHERE {where}
        GROUP BY 1, 2, 3"""


def _outcomes(store: Store, w: int, cutoff: pd.Timestamp, sent_from: pd.Timestamp | None
              ) -> pd.DataFrame:
    """Exposures with complete windows by ``cutoff`` and their window outcomes (one query)."""
    lo = "" if sent_from is None else f"AND {s.SENT_AT} >= $sent_from"
    params: dict[str, object] = {"cutoff": cutoff.to_pydatetime(), "w": w}
    if sent_from is not None:
        params["sent_from"] = sent_from.to_pydatetime()
    return store.query(f"""
        WITH e AS ({exposure_rows(store, f"{s.SENT_AT} + to_days(CAST($w AS INTEGER)) "
                                         f"<= $cutoff {lo}")})
        SELECT e.customer_id, e.sent_at, e.promotion, e.redeemed, e.redeemed_known, e.cost,
               e.control_for,
               count(DISTINCT t.{s.ORDER_ID}) AS y_orders,
               coalesce(sum(t.{s.AMOUNT}), 0) AS y_spend
        FROM e LEFT JOIN {s.T_TRANSACTIONS} t
          ON t.{s.CUSTOMER_ID} = e.customer_id AND t.{s.ORDERED_AT} >= e.sent_at
         AND t.{s.ORDERED_AT} < e.sent_at + to_days(CAST($w AS INTEGER))
         AND t.{s.ORDERED_AT} < $cutoff AND {purchase_lines("t")}
        GROUP BY ALL
        ORDER BY e.sent_at, e.customer_id, e.promotion""", params)


def build_exposures(store: Store, *, cutoff: Any, window_days: int | None = None,
                    sent_from: Any = None, max_rows: int | None = None) -> TrainingSet:
    """Exposures sent at or after ``sent_from`` (if given) whose window ends by ``cutoff``, with
    features at the start of their send day and outcomes in ``[sent_at, sent_at + W)``.
    With ``max_rows``, only the exposures :func:`cap_exposures` would keep get features (the
    same customers, sampled before the features are built, not after).

    An empty ``promotions`` table gives an empty set (models decide whether that is an error).
    """
    ts = to_as_of(cutoff)
    lo = to_as_of(sent_from) if sent_from is not None else None
    store.require(s.T_TRANSACTIONS)
    dates = campaign_dates(store)
    w = _check_window(window_days) if window_days is not None else default_window_days(dates)
    notes: list[str] = []
    if window_days is None:
        notes.append(f"response window {w} days (default rule: 30, or 14 when campaigns are "
                     "less than 30 days apart); pass window_days to change it")
    empty = TrainingSet(frame=pd.DataFrame(columns=["customer_id", "sent_at", "promotion",
                                                    "campaign", *OUTCOMES]),
                        features=[], window_days=w, cutoff=ts, sent_from=lo, notes=notes)
    if len(dates) == 0:
        empty.notes.append("promotions: the table is empty")
        return empty
    ex = _outcomes(store, w, ts, lo)
    total = int(store.query(
        f"SELECT count(*) AS n FROM {s.T_PROMOTIONS}"
        + (" WHERE sent_at >= $lo" if lo is not None else ""),
        {"lo": lo.to_pydatetime()} if lo is not None else None)["n"].iloc[0])
    empty.excluded_open_windows = max(total - len(ex), 0)
    if ex.empty:
        empty.notes.append(f"promotions: none of {total:,} exposures has a complete {w}-day "
                           f"window before {ts.date()}")
        return empty
    if max_rows is not None:
        ex, note = _sample_customers(ex, max_rows)
        notes += [note] if note else []
    ex["campaign"] = pd.to_datetime(ex["sent_at"]).dt.normalize()
    ex["y_purchased"] = (ex["y_orders"] > 0).astype(np.int8)
    ex["y_orders"] = ex["y_orders"].astype(float)
    ex["y_spend"] = ex["y_spend"].astype(float)
    ex["treated"] = (ex["promotion"] != CONTROL).astype(np.int8)
    parts = []
    # the registered customers' silences, read once for every send day (silent_alive)
    silence = (silence_checkpoints(store, ts, w) if store.has_rows(s.T_CUSTOMERS) else None)
    for day, grp in ex.groupby("campaign", sort=True):
        try:  # the features of this day's customers only, as in the whole store's frame
            f = response_features(store, day, window_days=w, customers=grp["customer_id"],
                                  silence=silence)
        except DataError:  # no purchase at all before this day: history-free features only
            f = pd.DataFrame({"customer_id": grp["customer_id"].unique(), "has_history": 0.0})
        f = f.drop(columns=["as_of"], errors="ignore")
        # integer features (orders, hours, days) as floats: whether a column came out integer
        # depended on which customers were in the frame, now the exposed ones only
        f = f.astype({c: float for c in f.columns if pd.api.types.is_integer_dtype(f[c])})
        parts.append(grp.merge(f, on="customer_id", how="left"))
        log.debug("features at %s: %d customers", day.date(), len(f))
    frame = pd.concat(parts, ignore_index=True)
    frame["has_history"] = frame["has_history"].fillna(0.0)
    share_cols = [c for c in frame.columns if c.startswith("share__")]
    frame[share_cols] = frame[share_cols].fillna(0.0)
    skip = {"sent_at", "promotion", "campaign", "redeemed", "redeemed_known", "cost",
            "treated", s.CONTROL_FOR, *OUTCOMES}
    feats = [c for c in feature_columns(frame) if c not in skip]
    return TrainingSet(frame=frame, features=feats, window_days=w, cutoff=ts, sent_from=lo,
                       excluded_open_windows=empty.excluded_open_windows, notes=notes)


def build_training_set(store: Store, *, cutoff: Any, window_days: int | None = None,
                       max_rows: int | None = None) -> TrainingSet:
    """Every exposure whose response window ends by ``cutoff`` (the model's training as_of);
    with ``max_rows``, those of the customers :func:`cap_exposures` keeps."""
    return build_exposures(store, cutoff=cutoff, window_days=window_days, max_rows=max_rows)


#: the most exposures the response learners are fitted on: beyond it, a random set of whole
#: customers (measured on a 10M-line store, BENCHMARKS.md: all 1.56M exposures took 884
#: CPU-s where 250k took 331, for 1.2% more true value; the quality benchmark's 20-40k
#: customer histories, 110-230k exposures, are under it)
MAX_EXPOSURES = 250_000


def cap_exposures(training: TrainingSet, max_rows: int = MAX_EXPOSURES, seed: int = 0
                  ) -> TrainingSet:
    """``training`` with at most about ``max_rows`` exposures: every exposure of a random
    share of the customers (by a seeded hash of the id, so the same store gives the same
    sample), control arm and campaigns in their proportions; said in its notes."""
    kept, note = _sample_customers(training.frame, max_rows, seed)
    if note is None:
        return training
    return replace(training, frame=kept, notes=[*training.notes, note])


#: how the note on a sampled training set begins (the plan repeats it in its assumptions)
SAMPLE_NOTE = "the response model was fitted on the exposures of a random"


def _sample_customers(f: pd.DataFrame, max_rows: int, seed: int = 0
                      ) -> tuple[pd.DataFrame, str | None]:
    """:func:`cap_exposures` on a frame of exposures: the rows kept and the note (None, and
    the frame itself, when there are at most ``max_rows``)."""
    if len(f) <= max_rows:
        return f, None
    share = max_rows / len(f)
    ids = f[s.CUSTOMER_ID].astype(str)
    u = pd.util.hash_pandas_object(ids, index=False, hash_key=f"{seed:016d}").to_numpy()
    keep = (u % np.uint64(1_000_000)) < np.uint64(int(share * 1_000_000))
    kept = f[keep].reset_index(drop=True)
    return kept, (f"{SAMPLE_NOTE} {share:.0%} of the customers ({len(kept):,} of "
                  f"{len(f):,} exposures, at most about {max_rows:,}: more take several "
                  "times as long for little gain)")


#: feature names documented for the model card (the customer features plus ours)
RESPONSE_FEATURES: dict[str, str] = {
    **{k: v for k, v in FEATURES.items()},
    "has_history": "1 if the customer has a purchase before as_of",
    "share__<category>": "share of the customer's purchase value in the category",
    "age": "age (customers table)",
    "signup_days": "days since sign-up (customers table)",
    "days_without_purchase": "customers with no purchase yet: days since the later of sign-up "
                             "and the store's first order (how long they have been seen not "
                             "buying)",
    "past_offers": "promotions received whose window closed before as_of",
    "past_redemptions": "of those, redeemed",
    "past_redeem_rate": "past_redemptions / past_offers",
    "bg_p_alive": "BG/NBD probability of still being a customer, fitted on the history before "
               "as_of",
}
