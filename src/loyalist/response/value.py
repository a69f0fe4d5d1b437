"""What a redemption costs and adds, and incremental revenue and margin from the volume
effects.

**Structural value** (:func:`structural_value`; what :class:`~loyalist.response.ResponseModel`
reports and the plan uses). A promotion moves a customer in two ways: it brings *incremental
orders* (learned from order counts, valued at the customer's usual basket), and every order that
*redeems* it, incremental or one the customer would have placed anyway, carries the offer's
mechanics: items it adds, a discount in the price, a cost outside the price::

    incremental_revenue = incremental_orders x basket + redemptions x (added - in_price)
    incremental_margin  = incremental_orders x basket x margin_rate
                          + redemptions x (added_margin - in_price - outside)

Redemptions count the baseline orders that use the offer too: the discount on purchases that
would have happened anyway (the subsidy) is subtracted in full. Why not the spend uplift learned
directly from the window's spend? It is the noisiest outcome there is: on the generated
electronics scenario (orders of 30-3,000, 2,000 treated customers per promotion) its standard
error was as large as the effects, and its errors, multiplied by a 10-20% margin rate, became
2-10x overstated margins. Order counts, redemptions and the catalog's mechanics are measured far
more precisely. The learned spend uplift is kept as ``incremental_spend`` (a check).

Per redemption, by catalog kind (:func:`offer_mechanics`; ``basket`` the customer's usual order
value, ``item`` the promoted item's price, ``share`` the customer's share of spend in the
promotion's categories, 1 for an offer on the whole assortment):

=================  ==========================  ================================  =============
kind               added                       in-price discount                 outside
=================  ==========================  ================================  =============
percent_discount   item (category offer)       value% x (added + share x basket)  0
bundle             item (when known)           value% x (basket + added)          0
bogo               2 x item                    value% x item (second unit)        0
free_item          value (the free item)       value                              0
fixed_voucher      E[(min_spend - X)+] (*)     min(value, basket + added)         0
free_shipping      0                           0                                  value
points_multiplier  0                           0                                  (value-1) x
                                                                                  points_rate x
                                                                                  basket
=================  ==========================  ================================  =============

(*) ``X`` one order's value, gamma-distributed around the basket with the shape of
:func:`order_value_spread`; ``max(min_spend - basket, 0)`` when that shape is unknown.

These are assumptions about how such offers work (an offer on a category is used on an item of
it, on top of the usual basket; a voucher with a threshold tops the order up to it); the added
items earn the margin rate of the promotion's categories (the customer's own for a top-up).

**Margin from a net revenue** (:func:`incremental_margin`, for a revenue learned from
``transactions``, whose ``unit_price`` already carries in-price discounts)::

    incremental_margin = incremental_revenue * margin_rate
                         - redemptions * (in_price * (1 - margin_rate) + outside_price)

``revenue * margin_rate`` already removes ``margin_rate`` of every in-price discount; the rest
``(1 - margin_rate)`` of it, and costs paid outside the price (shipping, points) in full, are
subtracted here. (With ``in_price`` the discount per redemption: a free item worth ``a`` adds
``a`` of revenue and takes ``a`` off it, leaving ``a (1 - margin_rate)`` = its unit cost.)
Contact cost is per message, not per redemption, and is kept apart (``net_value`` =
``incremental_margin - contact_cost``).

:func:`redemption_discount` is the older per-redemption cost with ``basket`` the discountable
amount (used by the priors):

=================  =======================================  ====================
kind               in-price discount                        outside the price
=================  =======================================  ====================
percent_discount   value% x basket                          0
bundle             value% x basket                          0
bogo               value% x item_price (second unit)        0
free_item          value (retail value of the free item)    0
fixed_voucher      min(value, basket)                       0
free_shipping      0                                        value (shipping fee)
points_multiplier  0                                        (value - 1) x points_rate x basket
=================  =======================================  ====================

``points_rate`` (value of the base loyalty points as a share of spend) defaults to 3%, an
assumption to replace with the merchant's programme terms (the catalog's optional
``points_rate``). An unknown kind costs 0 per redemption (callers flag that as an assumption).

:func:`mechanics_text` states a kind's rule with the catalog's numbers, for a plan's
assumptions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.special import gammainc

from loyalist import schema as s
from loyalist.errors import ParameterError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["MAX_SPREAD_CUSTOMERS", "MIN_BASKET_CUSTOMERS", "MULTI_USE", "POINTS_RATE",
           "SINGLE_USE", "Offer", "OfferMechanics", "OrderValueSpread", "expected_cost",
           "incremental_margin", "mechanics_text", "offer_costs", "offer_mechanics",
           "order_value_spread", "redemption_discount", "structural_value"]

#: value of base loyalty points as a share of spend (an assumption; set the programme's)
POINTS_RATE = 0.03
#: offers used at most once per exposure; the others apply to every order in the window
SINGLE_USE = frozenset({"percent_discount", "fixed_voucher", "bogo", "bundle", "free_item"})
MULTI_USE = frozenset({"free_shipping", "points_multiplier"})


#: fewest customers with a positive mean order value to fit the order-value model on
MIN_BASKET_CUSTOMERS = 30
#: most customers the order-value spread is fitted on (an even, deterministic sample beyond:
#: one shape parameter needs no more, and a fit on 1M customers took ~5 s)
MAX_SPREAD_CUSTOMERS = 100_000


def _arr(x: Any) -> np.ndarray:
    return np.asarray(x, dtype=float)


@dataclass(frozen=True)
class OrderValueSpread:
    """How much one order's value varies around the customer's usual basket
    (:func:`order_value_spread`)."""

    #: gamma shape ``p`` of one order's value around the customer's mean (coefficient of
    #: variation ``1 / sqrt(p)``); None when it could not be estimated
    shape: float | None
    #: how it was obtained, for the outputs' assumptions
    note: str


def order_value_spread(orders: Any, aov_mean: Any) -> OrderValueSpread:
    """The spread of single orders around each customer's mean order value: the shape ``p`` of
    the Gamma-Gamma model (Fader, Hardie & Lee 2005), fitted by maximum likelihood on the
    customers' order counts and mean order values. A voucher's threshold is met or missed by
    single orders, not by the average one (:func:`offer_mechanics`).

    None (with a note) when fewer than :data:`MIN_BASKET_CUSTOMERS` customers have a positive
    mean, or the model does not fit. Fitted on at most :data:`MAX_SPREAD_CUSTOMERS` of them.
    """
    from loyalist.clv.gammagamma import GammaGammaModel
    from loyalist.errors import LoyalistError

    n = np.nan_to_num(_arr(orders), nan=0.0)
    m = _arr(aov_mean)
    ok = np.isfinite(m) & (m > 0) & (n >= 1)
    if ok.sum() < MIN_BASKET_CUSTOMERS:
        return OrderValueSpread(None, f"order values taken as their mean (fewer than "
                                      f"{MIN_BASKET_CUSTOMERS} customers with orders)")
    idx = np.flatnonzero(ok)
    if len(idx) > MAX_SPREAD_CUSTOMERS:
        idx = idx[np.linspace(0, len(idx) - 1, MAX_SPREAD_CUSTOMERS).astype(np.int64)]
    try:
        gg = GammaGammaModel().fit(np.floor(n[idx]).astype(np.int64), m[idx])
    except (LoyalistError, FloatingPointError, ValueError) as e:
        return OrderValueSpread(None, f"order values taken as their mean (the Gamma-Gamma "
                                      f"model did not fit: {e})")
    p = float(gg.params_["p"])
    if not gg.converged_ or not np.isfinite(p) or p <= 0:
        return OrderValueSpread(None, "order values taken as their mean (the Gamma-Gamma fit "
                                      "did not converge)")
    return OrderValueSpread(p, f"one order's value varies around the customer's mean with a "
                               f"coefficient of variation of {1 / np.sqrt(p):.2f} (Gamma-Gamma "
                               f"shape p {p:.2f}, fitted on {len(idx):,} customers)")


def _checked_value(kind: str, value: float) -> float:
    """The catalog ``value`` as a float; ParameterError when impossible for its kind."""
    v = float(value)
    if not np.isfinite(v) or v < 0:
        raise ParameterError(f"promotion value {value!r} is impossible; use a number >= 0")
    if kind in ("percent_discount", "bundle", "bogo") and v > 100:
        raise ParameterError(f"{kind} value {v:g} is a percent above 100; use 0..100")
    return v


def redemption_discount(kind: str, value: float, basket: Any, *, item_price: Any = None,
                        points_rate: float = POINTS_RATE) -> tuple[np.ndarray, np.ndarray]:
    """Cost of one redemption: ``(in_price, outside_price)`` per row of ``basket`` (module
    table)."""
    b = np.maximum(_arr(basket), 0.0)
    zero = np.zeros_like(b)
    v = _checked_value(kind, value)
    item = b if item_price is None else np.broadcast_to(_arr(item_price), b.shape)
    if kind in ("percent_discount", "bundle"):
        return v / 100.0 * b, zero
    if kind == "bogo":
        return v / 100.0 * np.nan_to_num(item, nan=0.0), zero
    if kind == "free_item":
        return zero + v, zero
    if kind == "fixed_voucher":
        return np.minimum(v, b), zero
    if kind == "free_shipping":
        return zero, zero + v
    if kind == "points_multiplier":
        return zero, max(v - 1.0, 0.0) * points_rate * b
    if kind in s.PROMOTION_KINDS:  # pragma: no cover - every catalog kind is handled above
        raise AssertionError(kind)
    return zero, zero


def expected_cost(kind: str, value: float, basket: Any, p_redeem: Any, contact_cost: Any, *,
                  item_price: Any = None, points_rate: float = POINTS_RATE) -> np.ndarray:
    """Expected cash cost of sending the offer: ``p_redeem`` (expected redemptions) times the
    discount and outside-price cost of one redemption (module table), plus ``contact_cost``."""
    in_price, outside = redemption_discount(kind, value, basket, item_price=item_price,
                                            points_rate=points_rate)
    return _arr(p_redeem) * (in_price + outside) + _arr(contact_cost)


def incremental_margin(incremental_revenue: Any, margin_rate: Any, redemptions: Any,
                       in_price: Any, outside: Any) -> np.ndarray:
    """Incremental margin from net incremental revenue (module docstring), before contact
    cost."""
    mr = _arr(margin_rate)
    return (_arr(incremental_revenue) * mr
            - _arr(redemptions) * (_arr(in_price) * (1.0 - mr) + _arr(outside)))


@dataclass
class OfferMechanics:
    """Per redemption: list-price value of the items the offer adds to the order, their
    margin, the discount taken off the price and the cost paid outside it (module table)."""

    added: np.ndarray
    added_margin: np.ndarray
    in_price: np.ndarray
    outside: np.ndarray


def offer_mechanics(kind: str, value: float, basket: Any, *, item_price: float | None = None,
                    item_margin_rate: float | None = None, category_share: Any = None,
                    min_spend: float | None = None, margin_rate: Any = 0.0,
                    points_rate: float = POINTS_RATE,
                    basket_shape: float | None = None) -> OfferMechanics:
    """What one redemption adds and costs, per row of ``basket`` (module table).
    ``category_share``: the customer's share of spend in the promotion's categories (None: an
    offer on the whole assortment); ``margin_rate``: the customer's (for a voucher top-up, and
    for added items when ``item_margin_rate`` is unknown); ``basket_shape``: the gamma shape of
    one order's value around ``basket`` (:func:`order_value_spread`). With it, a voucher's top-up
    is the expected shortfall of an order below the threshold, ``E[(min_spend - X)+]``, not
    the shortfall of the average order: a customer whose orders average 600 still tops up the
    ones below 500."""
    b = np.maximum(np.nan_to_num(_arr(basket)), 0.0)
    zero = np.zeros_like(b)
    v = _checked_value(kind, value)
    mr = np.broadcast_to(np.nan_to_num(_arr(margin_rate)), b.shape)
    item = None if item_price is None or not np.isfinite(item_price) else float(item_price)
    imr = mr if item_margin_rate is None or not np.isfinite(item_margin_rate) else \
        np.full(b.shape, float(item_margin_rate))
    added, added_mr, in_price, outside = zero, imr, zero, zero
    if kind == "percent_discount":
        if category_share is None:
            in_price = v / 100.0 * b
        else:
            share = np.clip(np.nan_to_num(np.broadcast_to(_arr(category_share), b.shape)), 0, 1)
            added = zero + (item or 0.0)
            in_price = v / 100.0 * (added + share * b)
    elif kind == "bundle":
        added = zero + (item or 0.0)
        in_price = v / 100.0 * (b + added)
    elif kind == "bogo":
        unit = b if item is None else zero + item
        added = 2.0 * unit
        in_price = v / 100.0 * unit
    elif kind == "free_item":
        added = zero + v
        in_price = zero + v
    elif kind == "fixed_voucher":
        ms = float(min_spend or 0.0)
        if basket_shape is not None and np.isfinite(basket_shape) and basket_shape > 0 and ms > 0:
            k = float(basket_shape)
            rate = k / np.maximum(b, 1e-12)  # X ~ Gamma(k, rate), mean b
            added = np.where(b > 0, ms * gammainc(k, rate * ms)
                             - b * gammainc(k + 1.0, rate * ms), ms)
            added = np.maximum(added, 0.0)
        else:
            added = np.maximum(ms - b, 0.0)
        added_mr = mr
        in_price = np.minimum(v, b + added)
    elif kind == "free_shipping":
        outside = zero + v
    elif kind == "points_multiplier":
        outside = max(v - 1.0, 0.0) * points_rate * b
    elif kind in s.PROMOTION_KINDS:  # pragma: no cover - every catalog kind is handled above
        raise AssertionError(kind)
    return OfferMechanics(added=added, added_margin=added * added_mr, in_price=in_price,
                          outside=outside)


def offer_costs(pred: pd.DataFrame, mech: OfferMechanics) -> None:
    """``discount_cost`` and ``expected_cost`` (with ``expected_cost_p10/p90``) of ``pred``'s
    rows from their ``expected_redemptions`` (and its 10% / 90% points, where given) at the
    offer's per-redemption discount, plus ``contact_cost``. In place."""
    per = mech.in_price + mech.outside
    contact = pred["contact_cost"].to_numpy(dtype=float)
    red = pred["expected_redemptions"].to_numpy(dtype=float)
    pred["discount_cost"] = red * per
    pred["expected_cost"] = red * per + contact
    for sfx in ("_p10", "_p90"):
        r = (pred[f"expected_redemptions{sfx}"].to_numpy(dtype=float)
             if f"expected_redemptions{sfx}" in pred else red)
        pred[f"expected_cost{sfx}"] = r * per + contact


def structural_value(incremental_orders: Any, basket: Any, margin_rate: Any, redemptions: Any,
                     mech: OfferMechanics) -> tuple[np.ndarray, np.ndarray]:
    """``(incremental_revenue, incremental_margin)`` from the volume effects and the offer's
    mechanics (module docstring), before contact cost."""
    o, b, mr, r = _arr(incremental_orders), _arr(basket), _arr(margin_rate), _arr(redemptions)
    revenue = o * b + r * (mech.added - mech.in_price)
    margin = o * b * mr + r * (mech.added_margin - mech.in_price - mech.outside)
    return revenue, margin


@dataclass(frozen=True)
class Offer:
    """One catalog promotion, as :func:`mechanics_text` names it."""

    name: str
    value: float
    min_spend: float | None = None
    #: the price of the item it adds or discounts (median of its categories), when known
    item_price: float | None = None
    #: its categories; empty: the whole assortment
    categories: tuple[str, ...] = ()


def _num(x: float) -> str:
    return f"{x:,.2f}".rstrip("0").rstrip(".")


def mechanics_text(kind: str, offers: list[Offer], *, points_rate: float = POINTS_RATE,
                   points_given: bool = False) -> str:
    """The per-redemption rule of ``kind`` (module table), with the catalog's numbers for
    ``offers``, as one line of a plan's assumptions. Every rule applies to every redemption,
    the orders that would have come anyway included."""
    def item(o: Offer) -> str:
        where = "/".join(o.categories) or "any category"
        return (f"one {where} item at {_num(o.item_price)} (median price)" if o.item_price
                else f"one {where} item at the customer's usual basket (no product prices)")

    each = []
    for o in offers:
        v = _num(o.value)
        if kind == "percent_discount":
            each.append(f"{o.name} takes {v}% off the usual basket" if not o.categories else
                        f"{o.name} adds {item(o)} and takes {v}% off it and off the "
                        f"customer's usual spend in {'/'.join(o.categories)}")
        elif kind == "fixed_voucher":
            each.append(f"{o.name} tops the order up to {_num(o.min_spend)} by one order's "
                        f"expected shortfall below it, and takes {v} off" if o.min_spend else
                        f"{o.name} takes {v} off (at most the order)")
        elif kind == "bogo":
            each.append(f"{o.name} adds two units of {item(o)} and takes {v}% off one")
        elif kind == "bundle":
            each.append(f"{o.name} adds {item(o)} to the usual basket and takes {v}% off both")
        elif kind == "free_item":
            each.append(f"{o.name} adds the free item, worth {v}, and takes its value off "
                        "(it costs its unit cost)")
        elif kind == "free_shipping":
            each.append(f"{o.name} costs the shipping fee, {v}, outside the price on each "
                        "order in the window that uses it")
        elif kind == "points_multiplier":
            each.append(f"{o.name} costs ({v} - 1) x {points_rate:.1%} = "
                        f"{max(o.value - 1.0, 0.0) * points_rate:.1%} of the order, outside "
                        "the price, on each order in the window that uses it")
        else:
            each.append(f"{o.name} (kind unknown) costs nothing")
    text = (f"offer mechanics (assumption), {kind}, on every redemption, orders that would have "
            "come anyway included: " + "; ".join(each))
    if kind == "points_multiplier":
        text += (f". The base points are worth {points_rate:.1%} of spend ("
                 + ("the catalog's points_rate" if points_given else "assumed") + "); set your "
                 "programme's with the catalog's points_rate column, e.g. 0.01 for 1%")
    return text
