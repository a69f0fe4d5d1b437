"""What a redemption costs, and incremental margin from incremental revenue.

Revenue in the response models is learned from ``transactions``, whose ``unit_price`` already
carries in-price discounts: incremental revenue is *net* of them. So incremental margin is::

    incremental_margin = incremental_revenue * margin_rate
                         - redemptions * (in_price * (1 - margin_rate) + outside_price)

``revenue * margin_rate`` already removes ``margin_rate`` of every in-price discount; the rest
``(1 - margin_rate)`` of it, and costs paid outside the price (shipping, points) in full, are
subtracted here. (With ``in_price`` the discount per redemption: a free item worth ``a`` adds
``a`` of revenue and takes ``a`` off it, leaving ``a (1 - margin_rate)`` = its unit cost.)
Contact cost is per message, not per redemption, and is kept apart (``net_value`` =
``incremental_margin - contact_cost``).

Per redemption, by catalog kind (``value`` as in the catalog; ``basket`` the discountable
amount of the order, ``item_price`` the promoted item's price where the offer adds one):

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
assumption to replace with the merchant's programme terms. An unknown kind costs 0 per
redemption (callers flag that as an assumption).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from loyalist import schema as s
from loyalist.errors import ParameterError

__all__ = ["MULTI_USE", "POINTS_RATE", "SINGLE_USE", "expected_cost", "incremental_margin",
           "redemption_discount"]

#: value of base loyalty points as a share of spend (an assumption; set the programme's)
POINTS_RATE = 0.03
#: offers used at most once per exposure; the others apply to every order in the window
SINGLE_USE = frozenset({"percent_discount", "fixed_voucher", "bogo", "bundle", "free_item"})
MULTI_USE = frozenset({"free_shipping", "points_multiplier"})


def _arr(x: Any) -> np.ndarray:
    return np.asarray(x, dtype=float)


def redemption_discount(kind: str, value: float, basket: Any, *, item_price: Any = None,
                        points_rate: float = POINTS_RATE) -> tuple[np.ndarray, np.ndarray]:
    """Cost of one redemption: ``(in_price, outside_price)`` per row of ``basket`` (module
    table)."""
    b = np.maximum(_arr(basket), 0.0)
    zero = np.zeros_like(b)
    v = float(value)
    if not np.isfinite(v) or v < 0:
        raise ParameterError(f"promotion value {value!r} is impossible; use a number >= 0")
    item = b if item_price is None else np.broadcast_to(_arr(item_price), b.shape)
    if kind in ("percent_discount", "bundle", "bogo") and v > 100:
        raise ParameterError(f"{kind} value {v:g} is a percent above 100; use 0..100")
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
