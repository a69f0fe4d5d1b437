"""What a plan is made in (:class:`PlanContext`): the customers, the catalog, the merchant
context (inventory, competitor calendar), the planning window's season and the as_of; every
step from predictions to a plan (:mod:`loyalist.promote.plan`) reads it."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

__all__ = ["PlanContext"]


@dataclass
class PlanContext:
    """What surrounds the decision: the customers (one row each, with segment, churn, CLV,
    recency, consent, age, last contact, category shares), the catalog, the merchant context
    (inventory, competitor calendar) and the as_of."""

    customers: pd.DataFrame
    catalog: pd.DataFrame
    as_of: pd.Timestamp
    inventory: pd.DataFrame | None = None
    competitors: pd.DataFrame | None = None
    assumptions: list[str] = field(default_factory=list)
    #: expected activity in the planning window relative to the campaigns the response model
    #: learned from (:func:`loyalist.promote.season.seasonal_factor`); multiplies every
    #: incremental effect
    season_factor: float = 1.0
    #: the same per promotion, against the campaigns that sent it
    #: (:func:`loyalist.promote.season.promotion_season_factors`); a promotion not in it takes
    #: ``season_factor``
    promotion_season: dict[str, float] = field(default_factory=dict)
    season_note: str = ""
    #: :func:`loyalist.promote.season.closed_season`'s warning when the planning period is a
    #: closed season (the plan's warnings carry it, with what the plan did about it:
    #: :func:`loyalist.promote.explain.closed_season_text`)
    closed_season: str | None = None
    #: price of the item each promotion adds or discounts
    #: (:func:`loyalist.response.data.offer_item_prices`), named in the offers' mechanics
    item_prices: dict[str, float] = field(default_factory=dict)
    #: ISO 4217 code of the amounts (:func:`loyalist.store.currency`), named after them in the
    #: plan's sentences; None: unknown
    currency: str | None = None
