"""The response model the rest of the engine uses: per (customer, promotion) probability,
incremental orders, revenue and margin, with intervals, from an uplift learner where the history
has a control group and documented priors where it does not; every assumption is marked.

Value columns (see :mod:`loyalist.response.value`): ``expected_redemptions`` (single-use
offers: ``p_redeem``; multi-use: ``p_redeem`` times the treated orders per buyer; baseline
orders that use the offer included), the offer's mechanics per redemption
(``redemption_added`` / ``redemption_added_margin``: items it adds and their margin,
``redemption_in_price``: the discount, ``redemption_outside``: shipping or points),
``discount_cost`` (redemptions x (in_price + outside)), ``contact_cost`` (catalog),
``expected_cost`` (their sum; its p10/p90 and ``expected_redemptions_p10/p90`` from the
redemption model's bootstrap bags, the priors' use-rate range for assumed responses, or the
assumed use rate's range where redemptions were not recorded), ``incremental_revenue`` =
incremental orders x ``basket`` + redemptions x (added - in_price) and ``incremental_margin``
(the same at margins, less the whole discount and outside cost, before contact cost), their
p10/p90 from the incremental orders' interval, and ``net_value`` = margin - contact cost.
``incremental_spend`` is the spend uplift the learner measured directly (noisier; kept as a
check, see :func:`~loyalist.response.value.structural_value`).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from loyalist import schema as s
from loyalist.errors import DataError, NotFittedError, ParameterError
from loyalist.response.data import (
    CONTROL,
    DEFAULT_MARGIN_RATE,
    TrainingSet,
    build_training_set,
    catalog_categories,
    offer_item_prices,
    response_features,
    share_column,
)
from loyalist.response.model_error import ModelError, check_model_error
from loyalist.response.priors import (
    PRIOR_TABLE,
    USE_RANGE,
    PriorResponse,
    assumed_range,
    lifecycle_segment,
)
from loyalist.response.uplift import LEARNERS, PREDICTION_COLUMNS
from loyalist.response.value import (
    MULTI_USE,
    POINTS_RATE,
    offer_costs,
    offer_mechanics,
    order_value_spread,
    structural_value,
)
from loyalist.store import Store

log = logging.getLogger(__name__)

__all__ = ["RESPONSE_COLUMNS", "ResponseModel", "fit_response"]

#: columns of :meth:`ResponseModel.predict`, one row per (customer, promotion)
RESPONSE_COLUMNS = (
    "customer_id", "promotion", "kind", "method", "segment",
    *PREDICTION_COLUMNS[3:],
    "expected_redemptions", "expected_redemptions_p10", "expected_redemptions_p90",
    "discount_cost", "contact_cost", "expected_cost", "expected_cost_p10", "expected_cost_p90",
    "margin_rate",
    "incremental_margin", "incremental_margin_p10", "incremental_margin_p90", "net_value",
    "incremental_spend", "basket", "redemption_added", "redemption_added_margin",
    "redemption_in_price", "redemption_outside", "error_scale", "assumption", "assumption_text",
)


def _catalog_from_history(training: TrainingSet) -> pd.DataFrame:
    f = training.frame
    names = training.promotions
    cost = (f[f[s.PROMOTION] != CONTROL].groupby(s.PROMOTION)["cost"].mean()
            if "cost" in f and len(f) else pd.Series(dtype=float))
    return pd.DataFrame({"name": names, "kind": "unknown", "value": 0.0,
                         "contact_cost": [float(cost.get(n, 0.0)) if pd.notna(cost.get(n))
                                          else 0.0 for n in names], "category": ""})


class ResponseModel:
    """Per (customer, promotion) response and value (module docstring).

    Parameters
    ----------
    learner:
        ``"relative_lift"`` (default: the baseline times a learned lift, the least noisy),
        ``"t"`` or ``"x"`` (:mod:`loyalist.response.uplift`).
    priors:
        Use :class:`~loyalist.response.priors.PriorResponse` for promotions without enough
        exposures or without a control group (rows marked ``assumption``). With ``False`` such
        promotions are left out, and no measurable promotion at all is a ``DataError``.
    prior_table:
        Priors replacing :data:`~loyalist.response.priors.PRIOR_TABLE` (e.g.
        :func:`~loyalist.response.priors.with_overrides`), for the promotions priced by
        priors and for the use rate of a measured promotion whose redemptions were not
        recorded.
    margin_rate:
        A margin rate for every customer (else each customer's from the products' unit costs;
        without costs ``DEFAULT_MARGIN_RATE``, marked as an assumption).
    points_rate:
        Value of the base loyalty points as a share of spend (points multiplier cost).
    learner_params:
        Passed to the learner (``n_bags``, ``n_estimators``, ``min_arm``, ``num_threads``, ...).
    random_state:
        Seed of the learner's bootstrap and boosters.
    """

    def __init__(self, *, learner: str = "relative_lift", priors: bool = True,
                 prior_table: pd.DataFrame | None = None, margin_rate: float | None = None,
                 points_rate: float = POINTS_RATE, learner_params: dict[str, Any] | None = None,
                 random_state: int = 0) -> None:
        self.learner = learner
        self.priors = priors
        self.prior_table = prior_table
        self.margin_rate = margin_rate
        self.points_rate = points_rate
        self.learner_params = learner_params
        self.random_state = random_state

    def _validate(self) -> None:
        if self.learner not in LEARNERS:
            raise ParameterError(f"learner={self.learner!r} is unknown; use one of: "
                                 f"{', '.join(LEARNERS)}")
        if self.margin_rate is not None and not 0 <= self.margin_rate < 1:
            raise ParameterError(f"margin_rate={self.margin_rate!r}; use a share in [0, 1)")
        if not 0 <= self.points_rate < 1:
            raise ParameterError(f"points_rate={self.points_rate!r}; use a share in [0, 1)")

    def fit(self, training: TrainingSet, catalog: pd.DataFrame | None = None, *,
            item_prices: dict[str, float] | None = None) -> ResponseModel:
        """Learn each catalog promotion's uplift from ``training`` where it can, priors
        elsewhere. ``catalog``: name, kind, value, contact_cost, optional category (DESIGN.md);
        without one, the promotions of the history are used with unknown kinds (no discount
        cost; marked as an assumption). ``item_prices``: promotion -> price of the item the
        offer adds or discounts (:func:`~loyalist.response.data.offer_item_prices`)."""
        self._validate()
        notes: list[str] = []
        if catalog is None:
            catalog = _catalog_from_history(training)
            notes.append("no promotion catalog: kinds unknown, discount cost not subtracted")
        for c in ("name", "kind", "value"):
            if c not in catalog.columns:
                raise DataError(f"promotion catalog lacks column {c!r}; it needs name, kind, "
                                "value, contact_cost (see DESIGN.md, promotion catalog)")
        catalog = catalog.reset_index(drop=True).copy()
        if "contact_cost" not in catalog:
            catalog["contact_cost"] = 0.0
            notes.append("catalog has no contact_cost: taken as 0")
        catalog["contact_cost"] = pd.to_numeric(catalog["contact_cost"]).fillna(0.0)
        names = catalog["name"].astype(str).tolist()
        f = training.frame
        n, n_ctrl = len(f), int((f[s.PROMOTION] == CONTROL).sum()) if len(f) else 0
        reasons: dict[str, str] = {}
        self.learner_ = None
        if n == 0:
            why = "; ".join(training.notes) or "no exposures"
            msg = (f"promotions: no exposure with a complete {training.window_days}-day response "
                   f"window before {training.cutoff.date()} ({why})")
            if not self.priors:
                raise DataError(f"{msg}; the uplift learners need a promotion history with a "
                                f"'{CONTROL}' hold-out arm. Load one (`loyalist ingest "
                                "promotions.csv --table promotions`) or allow the documented "
                                "priors (priors=True)")
            reasons = dict.fromkeys(names, "no promotion history")
        elif n_ctrl == 0:
            if not self.priors:
                raise DataError(f"promotions: 0 of {n:,} exposures are in the '{CONTROL}' "
                                "hold-out arm, so uplift cannot be measured; hold out a random "
                                "share of each campaign, or allow the documented priors "
                                "(priors=True)")
            reasons = dict.fromkeys(names, "no control group in the history")
        else:
            seen = set(training.promotions)
            learnable = [p for p in names if p in seen]
            gone = sorted(seen - set(names))
            if gone:
                notes.append(f"promotions in the history but not in the catalog are not "
                             f"scored: {', '.join(gone)}")
            reasons = {p: "never sent in the history" for p in names if p not in seen}
            params = {"random_state": self.random_state, **(self.learner_params or {})}
            if learnable:
                try:
                    self.learner_ = LEARNERS[self.learner](**params).fit(
                        training, promotions=learnable)
                except DataError as e:
                    if not self.priors:
                        raise
                    reasons.update(dict.fromkeys(learnable, f"too few exposures ({e})"))
                else:
                    reasons.update({p: f"too few exposures: {r}"
                                    for p, r in self.learner_.skipped_.items()})
                    notes += self.learner_.notes_
        if reasons and not self.priors:
            notes.append("left out (no measured response, priors disabled): "
                         + "; ".join(f"{k}: {v}" for k, v in reasons.items()))
            if self.learner_ is None:
                raise DataError("no catalog promotion has a measurable response and priors are "
                                "disabled: " + "; ".join(f"{k}: {v}" for k, v in reasons.items()))
        self.prior_model_ = None
        if reasons and self.priors:
            self.prior_model_ = PriorResponse(priors=self.prior_table,
                                              window_days=training.window_days).fit(
                catalog[catalog["name"].isin(list(reasons))], reasons=reasons,
                item_prices=item_prices)
        self.catalog_ = catalog
        self.item_prices_ = dict(item_prices or {})
        # the most orders anyone placed in one response window: a bound on orders per buyer
        self.max_window_orders_ = (float(max(f["y_orders"].max(), 1.0))
                                   if n and "y_orders" in f else float("inf"))
        self.window_days_ = training.window_days
        self.cutoff_ = training.cutoff
        self.sources_ = {p: (self.learner_.method if self.learner_ is not None
                             and p in self.learner_.promotions_ else
                             ("prior" if self.priors else "left out")) for p in names}
        self.reasons_ = reasons
        self.notes_ = notes
        # how far its predictions for kinds of customers stray from the history's experiments
        self.model_error_ = (check_model_error(self, training) if self.learner_ is not None
                             else ModelError(reason="no promotion's response is measured"))
        return self

    # --- prediction -----------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "sources_"):
            raise NotFittedError("this ResponseModel is not fitted; call fit() first")

    def predict(self, features: pd.DataFrame) -> pd.DataFrame:
        """One row per (customer of ``features``, promotion) with :data:`RESPONSE_COLUMNS`.
        ``features``: :func:`~loyalist.response.data.response_features` at the as_of to score,
        with the model's ``window_days_``."""
        self._check_fitted()
        if "customer_id" not in features.columns:
            raise DataError("features frame lacks column 'customer_id'; build it with "
                            "loyalist.response.response_features")
        parts = []
        if self.learner_ is not None:
            pred = self.learner_.predict(features)
            pred["assumption"] = False
            pred["assumption_text"] = ""
            parts.append(pred)
        if self.prior_model_ is not None:
            parts.append(self.prior_model_.predict(features).drop(columns=["segment"]))
        if not parts:
            return pd.DataFrame(columns=list(RESPONSE_COLUMNS))
        out = pd.concat(parts, ignore_index=True)
        return self.valued(out, features)

    def valued(self, pred: pd.DataFrame, features: pd.DataFrame) -> pd.DataFrame:
        """The learners' (or priors') volume predictions ``pred`` for the customers of
        ``features`` with kind, segment, redemptions, the offer's mechanics, costs, and the
        structural revenue and margin added (module docstring): what :meth:`predict` returns,
        and how :mod:`loyalist.response.model_error` values its check's predictions."""
        feats = features.set_index("customer_id")
        seg = pd.Series(lifecycle_segment(features, self.window_days_),
                        index=features["customer_id"].to_numpy())
        if self.margin_rate is not None:
            mr_all = pd.Series(float(self.margin_rate), index=feats.index)
            margin_note = ""
            cat_margin: dict[str, float] = {}
        else:
            source = features.attrs.get("margin_source", "assumption")
            default = float(features.attrs.get("margin_rate_global", DEFAULT_MARGIN_RATE))
            mr_all = (pd.to_numeric(feats["margin_rate"], errors="coerce").fillna(default)
                      if "margin_rate" in feats else pd.Series(default, index=feats.index))
            margin_note = ("" if source == "products" and "margin_rate" in feats else
                           f"margin rate {default:.0%} assumed (products carry no unit_cost "
                           "or margin)")
            cat_margin = dict(features.attrs.get("category_margin") or {})
        if "basket" in feats:
            basket_all = pd.to_numeric(feats["basket"], errors="coerce")
        else:
            aov = pd.to_numeric(feats.get("aov_mean", pd.Series(np.nan, index=feats.index)),
                                errors="coerce")
            # (a frame without order values, e.g. simulated exposures: no basket, no warning)
            basket_all = aov.fillna(aov.median()) if aov.notna().any() else aov
        basket_all = basket_all.fillna(0.0)
        has_shares = any(str(c).startswith("share__") for c in feats.columns)
        cats = catalog_categories(self.catalog_)
        cat = self.catalog_.set_index("name")
        # a voucher with a threshold is met or missed by single orders: how they spread
        spread = None
        if "min_spend" in cat and "orders" in feats and "aov_mean" in feats and (
                pd.to_numeric(cat.loc[cat["kind"] == "fixed_voucher", "min_spend"],
                              errors="coerce") > 0).any():
            spread = order_value_spread(feats["orders"], feats["aov_mean"])
        # the priors' use rates (the merchant's, when given) where redemptions were not recorded
        use_rate = (PRIOR_TABLE if self.prior_table is None else self.prior_table).set_index(
            ["kind", "segment"])["use_rate"]
        rate_kinds = set(use_rate.index.get_level_values(0))
        use_assumed = []  # measured promotions priced with the priors' use rate
        frames = []
        for promo, g in pred.groupby("promotion", sort=False):
            g = g.copy()
            ids = g["customer_id"].to_numpy()
            kind = str(cat.loc[promo, "kind"])
            value = float(cat.loc[promo, "value"])
            contact = float(cat.loc[promo, "contact_cost"])
            min_spend = pd.to_numeric(cat.loc[promo, "min_spend"], errors="coerce") \
                if "min_spend" in cat else np.nan
            item = self.item_prices_.get(promo)
            basket = basket_all.reindex(ids).to_numpy(dtype=float)
            share = None
            if cats.get(promo) and has_shares:
                cols = [share_column(c) for c in cats[promo] if share_column(c) in feats]
                share = (feats[cols].sum(axis=1).reindex(ids).to_numpy(dtype=float) if cols
                         else np.zeros(len(ids)))
            known = [cat_margin[c] for c in cats.get(promo, []) if c in cat_margin]
            item_margin = float(np.mean(known)) if known else None
            notes = g["assumption_text"].astype(str).to_numpy()
            extra = []
            p_redeem = g["p_redeem"].to_numpy(dtype=float)
            if np.isnan(p_redeem).any():
                by_seg = use_rate.loc[kind if kind in rate_kinds else s.DEFAULT_PRIOR_KIND]
                segs = seg.reindex(ids).to_numpy()
                rate = by_seg.reindex(segs).to_numpy(dtype=float)
                p_redeem = np.where(np.isnan(p_redeem), g["p_response"].to_numpy() * rate,
                                    p_redeem)
                shown = by_seg[by_seg.index.isin(segs)]
                extra.append("redemptions not recorded: " + (
                    f"{shown.iloc[0]:.0%}" if shown.nunique() == 1 else
                    ", ".join(f"{r:.0%} ({g_})" for g_, r in shown.items()))
                    + " of buyers assumed to use the offer")
                g["p_redeem"] = p_redeem
                use_assumed.append(str(promo))
            if kind in MULTI_USE:
                # orders per buyer; a learner whose purchase and order models disagree (an
                # X-learner's purchase probability clipped at 0 with orders left) must not
                # make it explode: at most the most orders anyone placed in one window
                per_buyer = g["treated_orders"].to_numpy() / np.maximum(
                    g["p_response"].to_numpy(), 1e-9)
                per_use = np.clip(per_buyer, 1.0, self.max_window_orders_)
            else:
                per_use = 1.0
            red = p_redeem * per_use
            # the redemption model's bootstrap (its sampling error) where it was learned, the
            # assumed use rate's range where redemptions were not recorded (at most every
            # buyer uses it)
            buyers = g["p_response"].to_numpy(dtype=float)
            r_lo, r_hi = (np.where(np.isnan(x), np.minimum(p_redeem * u, buyers), x) * per_use
                          for x, u in ((g["p_redeem_p10"].to_numpy(dtype=float), USE_RANGE[0]),
                                       (g["p_redeem_p90"].to_numpy(dtype=float),
                                        USE_RANGE[1])))
            if kind not in s.PROMOTION_KINDS:
                extra.append(f"kind {kind!r} unknown: discount cost taken as 0")
            mr = mr_all.reindex(ids).to_numpy(dtype=float)
            if margin_note:
                extra.append(margin_note)
            mech = offer_mechanics(kind, value, basket, item_price=item,
                                   item_margin_rate=item_margin, category_share=share,
                                   min_spend=None if pd.isna(min_spend) else float(min_spend),
                                   margin_rate=mr, points_rate=self.points_rate,
                                   basket_shape=spread.shape if spread else None)
            g["kind"] = kind
            g["segment"] = seg.reindex(ids).to_numpy()
            g["incremental_spend"] = g["incremental_revenue"].to_numpy(dtype=float)
            g["expected_redemptions"] = red
            g["expected_redemptions_p10"] = np.minimum(r_lo, red)
            g["expected_redemptions_p90"] = np.maximum(r_hi, red)
            g["contact_cost"] = contact
            g["margin_rate"] = mr
            g["basket"] = basket
            g["redemption_added"] = mech.added
            g["redemption_added_margin"] = mech.added_margin
            g["redemption_in_price"] = mech.in_price
            g["redemption_outside"] = mech.outside
            for sfx in ("", "_p10", "_p90"):
                rev, margin = structural_value(g[f"incremental_orders{sfx}"].to_numpy(), basket,
                                               mr, red, mech)
                g[f"incremental_revenue{sfx}"] = rev
                g[f"incremental_margin{sfx}"] = margin
            if (g["method"] == PriorResponse.method).any():  # the priors' whole range
                assumed_range(g, mech, red, basket, mr)
            offer_costs(g, mech)
            g["net_value"] = g["incremental_margin"] - contact
            if extra:
                add = "; ".join(extra)
                notes = np.array([f"{t}; {add}" if t else add for t in notes], dtype=object)
                g["assumption"] = True
            g["assumption_text"] = notes
            frames.append(g)
        out = pd.concat(frames, ignore_index=True)
        out["assumption"] = out["assumption"].astype(bool)
        # the model's error for each row's kind of customer (not for rows on priors, whose
        # interval is the priors' range); a model saved before the check has none
        err = getattr(self, "model_error_", None) or ModelError(reason="a model saved before it")
        prior = (out["method"] == PriorResponse.method).to_numpy()
        out["error_scale"] = np.where(prior, np.nan, err.scale(out["segment"]))
        out = out[list(RESPONSE_COLUMNS)]
        if not prior.all():  # what the plan's intervals rest on
            out.attrs["interval_note"] = err.text
        if spread is not None:  # how vouchers' top-ups were valued, for the plan's assumptions
            out.attrs["order_value_note"] = spread.note
        if use_assumed:  # which priors the plan used (loyalist.response.priors.priors_note)
            out.attrs["use_rate_assumed"] = use_assumed
        return out

    def summary(self) -> dict[str, Any]:
        """How each promotion's response is obtained, and the notes."""
        self._check_fitted()
        arms = self.learner_.arm_sizes_ if self.learner_ is not None else {}
        return {"window_days": self.window_days_, "cutoff": str(self.cutoff_),
                "learner": self.learner, "sources": dict(self.sources_),
                "reasons": dict(self.reasons_), "arm_sizes": arms, "notes": list(self.notes_)}


def fit_response(store: Store, *, as_of: Any, catalog: pd.DataFrame | None = None,
                 window_days: int | None = None, **params: Any
                 ) -> tuple[ResponseModel, pd.DataFrame]:
    """Fit a :class:`ResponseModel` on every exposure whose window closed by ``as_of`` and
    score every customer known at ``as_of``: ``(model, predictions)``."""
    training = build_training_set(store, cutoff=as_of, window_days=window_days)
    prices = offer_item_prices(store, catalog) if catalog is not None else None
    model = ResponseModel(**params).fit(training, catalog, item_prices=prices)
    feats = response_features(store, as_of, window_days=model.window_days_)
    return model, model.predict(feats)
