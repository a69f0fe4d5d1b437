"""Documented priors for promotions without a measured response (no history, no control group).

Every number here is an **assumption**, and every row predicted from it says so
(``assumption=True`` and a human-readable ``assumption_text``). Replace them with measured
uplift as soon as a campaign with a random hold-out group has run.

**Segments** (lifecycle at ``as_of``, from the customer's own purchase pace):
``new`` (no purchase yet), ``active`` (days since the last purchase at most twice their usual
gap between purchase days), ``lapsing`` (at most four times), ``lost`` (longer). The usual gap
is the customer's mean inter-purchase gap, or for one-time buyers the population median gap
(at least the response window).

**Baseline** purchase probability in the window ``W``: ``1 - exp(-rate W)`` with ``rate`` the
customer's purchases per day over their tenure (at least ``W``), times an activity factor
(active 1, lapsing 0.5, lost 0.15; new: ``NEW_BASELINE``). A buyer places ``rate W / (1 -
exp(-rate W))`` orders in the window (a Poisson count given at least one; a new customer
one), and an extra buyer brought by the offer one.

**Incremental purchase probability** (``PRIOR_TABLE``, per kind x segment, percentage points
over the window). Scale: in the Hillstrom / MineThatData e-mail experiment (64,000 customers,
two-week window) an e-mail without a discount lifted conversion from about 0.6% to 0.9-1.3%
(+0.3 to +0.7 points) and visits by 4.5-7.7 points; offers with money off are taken to lift a
little more (+1 to +3 points for active customers), win-back offers (vouchers, free items,
discounts) more on lapsing customers and points multipliers less, lost customers barely, new
sign-ups half. ``use_rate`` is the share of buyers in the window who use the offer (single-use
offers: once; multi-use: per order), conventional mid-range values.

**Intervals.** Both numbers are assumed, and so is what a redemption adds and costs (the
offer's mechanics, :mod:`loyalist.response.value`: for a BOGO or a voucher with a threshold
most of the assumed revenue comes from the redemptions, not from the extra buyers). The 10% /
90% points take the incremental probability at ``RANGE`` = (0.5, 1.5) x the prior and the use
rate at ``USE_RANGE`` = (0.5, 2) x the prior (a rate known to a factor of two; at most every
order redeems), each end at whichever combination gives the lowest / highest value
(:func:`assumed_redemptions`: the redemptions move with the use rate and with the buyers the
effect adds). One assumption holds for every customer of a promotion, so these ends are not
independent errors that average out over customers: the plan adds them up per promotion
(``loyalist.promote.explain._interval``), as it does a learned model's bootstrap error. A measured
plan's 80% intervals were 0.7-1.6x its revenue wide (median per promotion x segment on the
generated scenarios); without the use rate's range a prior-only plan's were 0.2x.

Override with ``PriorResponse(priors=frame)`` with columns ``kind, segment, incremental_prob,
use_rate`` (a ``default`` kind row covers kinds without their own), or some rows of it with
:func:`with_overrides` (what ``loyalist plan --priors FILE`` does: the file's rows replace
those of :data:`PRIOR_TABLE`, the others keep their default; ``loyalist priors`` prints the
table).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from loyalist import schema as s
from loyalist.errors import DataError, NotFittedError, ParameterError
from loyalist.response.uplift import PREDICTION_COLUMNS
from loyalist.response.value import MULTI_USE, OfferMechanics, redemption_discount

__all__ = ["PRIOR_TABLE", "PriorResponse", "RANGE", "SEGMENTS", "USE_RANGE", "assumed_range",
           "assumed_redemptions",
           "changed_rows", "lifecycle_segment", "priors_note", "range_text",
           "with_overrides"]

SEGMENTS = s.LIFECYCLE_SEGMENTS
ACTIVITY = {"new": np.nan, "active": 1.0, "lapsing": 0.5, "lost": 0.15}
NEW_BASELINE = 0.05
#: the 10% / 90% points of a prior's incremental probability, as multiples of it
RANGE = (0.5, 1.5)
#: the 10% / 90% points of a prior's use rate (share of buyers who use the offer), as multiples
USE_RANGE = (0.5, 2.0)

# incremental purchase probability (points over the window) for active customers, and the share
# of buyers in the window who use the offer
_BASE = {  # kind: (incremental_prob active, use_rate)
    "percent_discount": (0.020, 0.45),
    "fixed_voucher": (0.020, 0.30),
    "bogo": (0.015, 0.25),
    "free_shipping": (0.010, 0.50),
    "points_multiplier": (0.010, 0.80),
    "bundle": (0.010, 0.20),
    "free_item": (0.020, 0.40),
    "default": (0.010, 0.30),
}
# multiplier of the active-segment incremental probability
_SEGMENT = {"active": 1.0, "lapsing": 1.0, "lost": 0.25, "new": 0.5}
_WINBACK = {"percent_discount": 1.3, "fixed_voucher": 1.5, "free_item": 1.5,
            "points_multiplier": 0.6}


def _table() -> pd.DataFrame:
    rows = []
    for kind, (inc, use) in _BASE.items():
        for seg in SEGMENTS:
            mult = _SEGMENT[seg] * (_WINBACK.get(kind, 1.0) if seg == "lapsing" else 1.0)
            rows.append({"kind": kind, "segment": seg, "incremental_prob": round(inc * mult, 4),
                         "use_rate": use})
    return pd.DataFrame(rows)


#: the default priors: one row per (kind, segment); see the module docstring for the sources
PRIOR_TABLE = _table()


def with_overrides(overrides: pd.DataFrame | None) -> pd.DataFrame:
    """:data:`PRIOR_TABLE` with the rows of ``overrides`` (columns ``kind, segment,
    incremental_prob, use_rate``; one row per (kind, segment) of the table, checked by the
    caller, e.g. :func:`loyalist.promote.catalog.normalise_priors`) in place of its own; the
    other rows keep their default."""
    table = PRIOR_TABLE.set_index(["kind", "segment"])
    if overrides is None or not len(overrides):
        return table.reset_index()
    given = overrides.set_index(["kind", "segment"])[["incremental_prob", "use_rate"]]
    unknown = given.index.difference(table.index)
    if len(unknown):
        raise ParameterError(f"priors: no kind x segment {unknown[0][0]} x {unknown[0][1]}; "
                             f"kinds: {', '.join(_BASE)}; segments: {', '.join(SEGMENTS)}")
    table.update(given.astype(float))
    return table.reset_index()


def changed_rows(overrides: pd.DataFrame | None) -> list[dict[str, Any]]:
    """The rows of ``overrides`` whose numbers differ from :data:`PRIOR_TABLE`'s, each with
    the default it replaces (``default_incremental_prob``, ``default_use_rate``)."""
    if overrides is None or not len(overrides):
        return []
    base = PRIOR_TABLE.set_index(["kind", "segment"])
    out = []
    for r in overrides.itertuples(index=False):
        key = (str(r.kind), str(r.segment))
        inc0, use0 = (base.loc[key, "incremental_prob"], base.loc[key, "use_rate"]) \
            if key in base.index else (None, None)
        if inc0 is not None and np.isclose(r.incremental_prob, inc0) \
                and np.isclose(r.use_rate, use0):
            continue
        out.append({"kind": key[0], "segment": key[1],
                    "incremental_prob": float(r.incremental_prob), "use_rate": float(r.use_rate),
                    "default_incremental_prob": None if inc0 is None else float(inc0),
                    "default_use_rate": None if use0 is None else float(use0)})
    return out


def _row_text(r: dict[str, Any]) -> str:
    text = f"{r['kind']} x {r['segment']}"
    for c in ("incremental_prob", "use_rate"):
        default = r[f"default_{c}"]
        if default is None or not np.isclose(r[c], default):
            text += f" {c} {r[c]:g}" + ("" if default is None else f" (default {default:g})")
    return text


def priors_note(sources: dict[str, str], overrides: pd.DataFrame | None, *,
                use_rate_for: list[str] | tuple[str, ...] = (),
                kinds: dict[str, str] | None = None) -> tuple[str | None, dict[str, Any]]:
    """Which priors a response model used, as a plan's assumption (None: no prior used and
    none given), and as data: ``source`` (``"defaults"``, or the file of ``overrides``, its
    ``attrs["source"]``), ``overridden`` (:func:`changed_rows`), ``priced`` (the promotions
    priced by priors: ``sources`` is :attr:`ResponseModel.sources_`) and ``use_rate_for``
    (measured promotions whose redemptions were not recorded, priced with the priors' use
    rate). Given priors that nothing used are said too, not ignored silently, and so are
    changed rows of kinds no such promotion has (``kinds``: promotion -> kind)."""
    priced = [p for p, m in sources.items() if m == "prior"]
    src = None if overrides is None else str(overrides.attrs.get("source", "priors"))
    changed = changed_rows(overrides)
    info = {"source": src or "defaults", "overridden": changed, "priced": priced,
            "use_rate_for": list(use_rate_for)}
    if not priced and not use_rate_for:
        if src is None:
            return None, info
        return (f"response priors from {src} not used: every promotion's response is "
                f"measured from the promotion history ({', '.join(sources)}), none is priced "
                "by priors"), info
    what = ", ".join(
        ([f"the promotions without a measured response ({', '.join(priced)})"] if priced
         else [])
        + ([f"the use rate of {', '.join(use_rate_for)} (measured, redemptions not recorded)"]
           if use_rate_for else []))
    if src is None:
        return (f"response priors: the documented defaults for {what} (`loyalist priors` "
                "prints them; --priors FILE changes them)"), info
    rows = "; ".join(_row_text(r) for r in changed[:8]) + (
        f"; and {len(changed) - 8} more rows" if len(changed) > 8 else "")
    unused: list[str] = []
    if kinds is not None:
        table_kinds = set(PRIOR_TABLE["kind"])
        used = {kinds[p] if kinds.get(p) in table_kinds else s.DEFAULT_PRIOR_KIND
                for p in [*priced, *use_rate_for]}
        unused = list(dict.fromkeys(r["kind"] for r in changed if r["kind"] not in used))
    return (f"response priors from {src} for {what}: "
            + (f"it changes {rows}" if rows else "every row it gives is the default")
            + "; the other kind x segment rows are the documented defaults"
            + (f"; its rows for {', '.join(unused)} are not used: no promotion of "
               f"{'that kind' if len(unused) == 1 else 'those kinds'} is priced by priors"
               if unused else "")), info


def range_text() -> str:
    """The priors' interval rule, as the assumption texts state it."""
    return (f"80% interval: {RANGE[0]:g}-{RANGE[1]:g}x that purchase probability and "
            f"{USE_RANGE[0]:g}-{USE_RANGE[1]:g}x that use rate, for all the promotion's "
            "customers at once")


def assumed_redemptions(redemptions: Any, control_orders: Any, incremental_orders: Any,
                        orders_p10: Any, orders_p90: Any) -> tuple[np.ndarray, np.ndarray]:
    """Expected redemptions at the low and high ends of the priors' range (module docstring):
    the use rate at ``USE_RANGE`` and the buyers at the effect's 10% / 90% points
    (``control_orders + orders_p10`` over ``control_orders + incremental_orders``), the high
    end at most every order in the window (and never below ``redemptions``)."""
    red = np.maximum(np.nan_to_num(np.asarray(redemptions, dtype=float)), 0.0)
    base = np.nan_to_num(np.asarray(control_orders, dtype=float))
    inc = np.nan_to_num(np.asarray(incremental_orders, dtype=float))
    lo_o = np.nan_to_num(np.asarray(orders_p10, dtype=float))
    hi_o = np.nan_to_num(np.asarray(orders_p90, dtype=float))
    orders = base + inc
    known = orders > 1e-12
    safe = np.where(known, orders, 1.0)
    low = np.where(known, np.clip((base + np.minimum(lo_o, hi_o)) / safe, 0.0, 1.0), 1.0)
    high = np.where(known, np.maximum((base + np.maximum(lo_o, hi_o)) / safe, 1.0), 1.0)
    every = np.maximum(red, base + np.maximum(lo_o, hi_o))
    return red * USE_RANGE[0] * low, np.minimum(red * USE_RANGE[1] * high, every)


def assumed_range(pred: pd.DataFrame, mech: OfferMechanics, red: np.ndarray,
                   basket: np.ndarray, mr: np.ndarray) -> None:
    """The 10% / 90% points of revenue, margin and redemptions (the cost's) for the rows
    whose response is assumed (:class:`~loyalist.response.priors.PriorResponse`): the
    priors' whole range, the effect's
    (``incremental_orders_p10/p90``) and the use rate's
    (:func:`~loyalist.response.priors.assumed_redemptions`), each end at the combination that
    gives the lowest / highest value, since the redemptions' part is negative for an offer
    that only discounts orders that come anyway. A learned row's redemptions are measured, and
    its points stay the bootstrap's. In place. The response model's rows
    (:class:`~loyalist.response.model.ResponseModel`) and the plan's, after it moves the
    effects (:func:`loyalist.promote.effects.revalue`), both take them from here."""
    prior = (pred["method"] == PriorResponse.method).to_numpy()
    lo_o = pred["incremental_orders_p10"].to_numpy(dtype=float)
    hi_o = pred["incremental_orders_p90"].to_numpy(dtype=float)
    # the use rate applies to the buyers of a single-use offer, to the orders of a multi-use one
    uses = pred["control_orders"].to_numpy(dtype=float)
    if "kind" in pred and "p_control" in pred:
        uses = np.where(pred["kind"].isin(MULTI_USE).to_numpy(), uses,
                        pred["p_control"].to_numpy(dtype=float))
    r_lo, r_hi = assumed_redemptions(red, uses, pred["incremental_orders"].to_numpy(dtype=float),
                                     lo_o, hi_o)
    o_lo, o_hi = np.minimum(lo_o, hi_o), np.maximum(lo_o, hi_o)
    for sfx, r in (("_p10", r_lo), ("_p90", r_hi)):  # the cost's range (value.offer_costs)
        known = (pred[f"expected_redemptions{sfx}"].to_numpy(dtype=float)
                 if f"expected_redemptions{sfx}" in pred else red)
        pred[f"expected_redemptions{sfx}"] = np.where(prior, r, known)
    for col, per_order, per_red in (
            ("incremental_revenue", basket, mech.added - mech.in_price),
            ("incremental_margin", basket * mr,
             mech.added_margin - mech.in_price - mech.outside)):
        point = pred[col].to_numpy(dtype=float)
        a, b = o_lo * per_order, o_hi * per_order
        x, y = r_lo * per_red, r_hi * per_red
        lo = np.minimum(np.minimum(a, b) + np.minimum(x, y), point)
        hi = np.maximum(np.maximum(a, b) + np.maximum(x, y), point)
        pred[f"{col}_p10"] = np.where(prior, lo, pred[f"{col}_p10"].to_numpy(dtype=float))
        pred[f"{col}_p90"] = np.where(prior, hi, pred[f"{col}_p90"].to_numpy(dtype=float))


def lifecycle_segment(features: pd.DataFrame, window_days: int) -> np.ndarray:
    """``new`` / ``active`` / ``lapsing`` / ``lost`` per row (module docstring)."""
    n = len(features)

    def col(name: str) -> np.ndarray:
        if name in features:
            return pd.to_numeric(features[name], errors="coerce").to_numpy(dtype=float)
        return np.full(n, np.nan)

    rec, gap = col("recency_days"), col("ipi_mean_days")
    med = float(np.nanmedian(gap)) if np.isfinite(gap).any() else float(window_days)
    gap = np.where(np.isfinite(gap) & (gap > 0), gap, max(med, float(window_days)))
    out = np.where(rec <= 2 * gap, "active", np.where(rec <= 4 * gap, "lapsing", "lost"))
    return np.where(np.isfinite(rec), out, "new").astype(object)


class PriorResponse:
    """Response per (customer, promotion) from documented priors (module docstring).

    Parameters: ``priors`` (a frame like :data:`PRIOR_TABLE`; default it), ``window_days``
    (the response window the priors describe).
    """

    method = "prior"

    def __init__(self, *, priors: pd.DataFrame | None = None, window_days: int = 30) -> None:
        self.priors = priors
        self.window_days = window_days

    def fit(self, catalog: pd.DataFrame, *, reasons: dict[str, str] | None = None,
            item_prices: dict[str, float] | None = None) -> PriorResponse:
        """Take the catalog (``name``, ``kind``, ``value``; optional ``category``) of the
        promotions to cover; ``reasons`` says per promotion why it has no measured response."""
        table = PRIOR_TABLE if self.priors is None else self.priors
        need = {"kind", "segment", "incremental_prob", "use_rate"}
        if not need <= set(table.columns):
            raise ParameterError(f"priors lack columns {sorted(need - set(table.columns))}; "
                                 "use kind, segment, incremental_prob, use_rate")
        bad = table[(table["incremental_prob"] < 0) | (table["incremental_prob"] > 1)
                    | (table["use_rate"] < 0) | (table["use_rate"] > 1)]
        if len(bad):
            raise ParameterError(f"priors: {len(bad)} rows have a probability outside 0..1, "
                                 f"e.g. kind {bad['kind'].iloc[0]!r}")
        if not isinstance(self.window_days, int) or not 1 <= self.window_days <= 366:
            raise ParameterError(f"window_days={self.window_days!r}; use 1..366 days")
        for c in ("name", "kind", "value"):
            if c not in catalog.columns:
                raise DataError(f"promotion catalog lacks column {c!r}; it needs name, kind, "
                                "value (see DESIGN.md, promotion catalog)")
        self.table_ = table.set_index(["kind", "segment"])
        self.catalog_ = catalog.reset_index(drop=True)
        self.reasons_ = dict(reasons or {})
        self.item_prices_ = dict(item_prices or {})
        self.promotions_ = self.catalog_["name"].tolist()
        return self

    def _lookup(self, kind: str, seg: np.ndarray) -> tuple[np.ndarray, np.ndarray, str]:
        k = kind if (kind, "active") in self.table_.index else "default"
        if (k, "active") not in self.table_.index:
            raise ParameterError(f"priors have no row for kind {kind!r} and no 'default' kind")
        inc = np.array([self.table_.loc[(k, g), "incremental_prob"] for g in SEGMENTS])
        use = np.array([self.table_.loc[(k, g), "use_rate"] for g in SEGMENTS])
        idx = pd.Index(SEGMENTS).get_indexer(seg)
        return inc[idx], use[idx], k

    def predict(self, features: pd.DataFrame, promotions: list[str] | None = None
                ) -> pd.DataFrame:
        """:data:`~loyalist.response.uplift.PREDICTION_COLUMNS` plus ``segment``,
        ``assumption`` (True) and ``assumption_text``."""
        if not hasattr(self, "table_"):
            raise NotFittedError("this PriorResponse is not fitted; call fit(catalog) first")
        names = self.promotions_ if promotions is None else list(promotions)
        w = self.window_days
        seg = lifecycle_segment(features, w)
        n = len(features)

        def col(name: str, fill: float) -> np.ndarray:
            if name not in features:
                return np.full(n, fill)
            return pd.to_numeric(features[name], errors="coerce").fillna(fill).to_numpy(float)

        orders, tenure = col("orders", 0.0), col("tenure_days", 0.0)
        rate = orders / np.maximum(tenure, w)
        act = np.array([ACTIVITY[g] for g in seg], dtype=float)
        lam = rate * w  # orders in the window of a customer still buying at their pace
        p0 = np.where(seg == "new", NEW_BASELINE, -np.expm1(-lam) * np.nan_to_num(act))
        # orders per buyer in the window (a Poisson count given at least one; a new
        # customer's first order is one); an extra buyer brings one order
        per_buyer = np.where((seg == "new") | (lam < 1e-9), 1.0,
                             lam / np.maximum(-np.expm1(-np.maximum(lam, 1e-9)), 1e-12))
        base_orders = p0 * per_buyer
        basket = col("basket", 0.0)
        if "basket" not in features and "aov_mean" in features:
            aov = pd.to_numeric(features["aov_mean"], errors="coerce")
            basket = aov.fillna(aov.median()).fillna(0.0).to_numpy(float)
        frames = []
        cat = self.catalog_.set_index("name")
        for name in names:
            if name not in cat.index:
                raise ParameterError(f"promotion {name!r} is not in the catalog given to fit")
            kind, value = str(cat.loc[name, "kind"]), float(cat.loc[name, "value"])
            prior, use, used_kind = self._lookup(kind, seg)
            inc = np.minimum(prior, 1.0 - p0)  # nobody buys with probability above 1
            p1 = p0 + inc
            p_redeem = p1 * use
            in_price, _ = redemption_discount(kind, value, basket,
                                              item_price=self.item_prices_.get(name))
            # a single-use offer is used once by a share of the buyers, a multi-use one on
            # that share of their orders (module docstring)
            multi = kind in MULTI_USE
            uses = base_orders if multi else p0  # what the use rate applies to, untreated
            red = (uses + inc) * use
            rev = inc * basket - red * in_price
            red_lo, red_hi = assumed_redemptions(red, uses, inc, inc * RANGE[0],
                                                 inc * RANGE[1])
            # the priors' range, each end at its worst / best combination (module docstring)
            lo = inc * RANGE[0] * basket - np.maximum(red_lo * in_price, red_hi * in_price)
            hi = inc * RANGE[1] * basket - np.minimum(red_lo * in_price, red_hi * in_price)
            why = self.reasons_.get(name, "no measured response")
            # one text per (kind, segment), written once: the table's prior, not each
            # customer's capped lift
            first = dict(zip(*np.unique(seg, return_index=True), strict=True))
            text = {g: f"prior for {used_kind} x {g}: +{prior[k]:.1%} purchase probability in "
                       f"{w} days (at most 1 - the customer's baseline), {use[k]:.0%} of buyers "
                       f"use the offer ({why}); {range_text()}; replace with measured "
                       "uplift once a campaign with a control group has run"
                    for g, k in first.items()}
            texts = [text[g] for g in seg]
            frames.append(pd.DataFrame({
                "customer_id": features["customer_id"].to_numpy(), "promotion": name,
                "method": self.method, "p_control": p0, "p_response": p1,
                "incremental_prob": inc, "control_orders": base_orders,
                "treated_orders": base_orders + inc,
                "incremental_orders": inc, "incremental_orders_p10": inc * RANGE[0],
                "incremental_orders_p90": inc * RANGE[1],
                "control_revenue": base_orders * basket,
                "incremental_revenue": rev, "incremental_revenue_p10": lo,
                "incremental_revenue_p90": hi, "p_redeem": p_redeem,
                "p_redeem_p10": p_redeem, "p_redeem_p90": p_redeem, "segment": seg,
                "assumption": True, "assumption_text": texts,
            }))
        cols = [*PREDICTION_COLUMNS, "segment", "assumption", "assumption_text"]
        if not frames:
            return pd.DataFrame(columns=cols)
        return pd.concat(frames, ignore_index=True)[cols]

