"""Request and response bodies (``XxxRequest`` / ``XxxResponse``): the API's contract, and
what ``/openapi.json`` and ``/docs`` describe."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from loyalist import schema as s
from loyalist.promote.catalog import GOAL_ALIASES, GOALS, MAX_HOLDOUT, canonical_kind

#: churn tiers as stored in ``scores.churn_tier`` (mirrors :data:`loyalist.churn.TIERS`,
#: not imported to keep the server's start-up free of the model libraries; a test checks it)
Tier = Literal["low", "medium", "high"]
Goal = Literal[GOALS]  # type: ignore[valid-type]
#: money and counts beyond this are typing errors (and overflow the plan's arithmetic)
MAX_AMOUNT = 1e12
Amounts = dict[str, Annotated[float, Field(ge=0, le=MAX_AMOUNT, allow_inf_nan=False)]]
PriorKind = Literal[(*s.PROMOTION_KINDS, s.DEFAULT_PRIOR_KIND)]  # type: ignore[valid-type]
LifecycleSegment = Literal[s.LIFECYCLE_SEGMENTS]  # type: ignore[valid-type]


class _Open(BaseModel):
    """A body whose listed fields are guaranteed; further fields may follow."""

    model_config = ConfigDict(extra="allow")


def _currency() -> Any:
    """The ``currency`` field of every response that carries money."""
    return Field(None, description="ISO 4217 code of the amounts (e.g. GBP), as the store "
                                   "recorded it at ingest; null when unknown.")


class ErrorResponse(BaseModel):
    message: str = Field(description="One line: what went wrong and what to do.")
    error: str = Field(description="Error class, e.g. NotFound, ParameterError, Unauthorized.")
    detail: Any = Field(None, description="Validation errors (field locations) for 422s.")


class HealthResponse(BaseModel):
    status: Literal["ok", "unavailable"]
    version: str
    store_reachable: bool
    scores_as_of: datetime | None = None
    customers_scored: int = 0
    recommendations_as_of: datetime | None = None
    latest_plan_id: str | None = None
    tables: dict[str, bool] = Field(default_factory=dict,
                                    description="Which result tables the store holds.")
    currency: str | None = _currency()


class OfferResponse(_Open):
    plan_id: str
    plan_as_of: datetime
    goal: str
    promotion: str | None = None
    target_segment: str | None = None
    expected_incremental_value: float | None = None
    expected_cost: float | None = None
    probability: float | None = None
    held_out: bool = Field(False, description="In the plan's control group: chosen for "
                                              "held_out_from and deliberately not sent, so "
                                              "the campaign can be measured; do not reach "
                                              "this customer with it another way.")
    held_out_from: str | None = None


class ProductResponse(_Open):
    rank: int
    product_id: str
    score: float | None = None
    category: str | None = None
    description: str | None = None
    reason: str | None = Field(None, description="Why it is on the list: selling well now, "
                                                 "bought by customers who bought what they "
                                                 "bought, like products they bought, ...")
    because_of: str | None = Field(None, description="The product the customer bought that "
                                                     "the reason refers to, if any.")


class CustomerResponse(BaseModel):
    customer_id: str
    as_of: datetime = Field(description="The scores' cutoff date.")
    segment: str | None = Field(None, description="RFM segment (the 11 named segments "
                                "unless the models were trained with the grid).")
    r_score: int | None = None
    f_score: int | None = None
    m_score: int | None = None
    grid_segment: str | None = Field(None, description=(
        "Cell of the 10-cell recency x frequency grid. Some cells share a name with an RFM "
        "segment but not its rule (At Risk, Can't Lose Them, Champions): show it beside "
        "`segment` labelled as the grid's, e.g. 'RF grid: At Risk'."))
    cluster_name: str | None = None
    churn_probability: float | None = None
    churn_tier: str | None = None
    reasons: list[str] = Field(default_factory=list, description="Churn reasons, strongest first.")
    p_alive: float | None = None
    expected_orders: float | None = None
    clv_p10: float | None = None
    clv_p50: float | None = None
    clv_p90: float | None = None
    clv_bgnbd: float | None = None
    clv_expected: float | None = Field(None, description="Expected spend over the next "
                                       "clv_horizon_days (the mean the segment tables sum; "
                                       "clv_p10 to clv_p90 is its 80% range).")
    clv_horizon_days: int | None = Field(None, description="The days the CLV values cover "
                                         "(the models' horizon).")
    plan: OfferResponse | None = Field(None, description="The customer's offer in the latest plan.")
    products: list[ProductResponse] = Field(default_factory=list,
                                            description="Top recommended products.")
    currency: str | None = _currency()


class CustomerSummaryResponse(_Open):
    customer_id: str
    segment: str | None = None
    churn_probability: float | None = None
    churn_tier: str | None = None


class CustomerPageResponse(BaseModel):
    as_of: datetime
    total: int
    limit: int
    offset: int
    items: list[CustomerSummaryResponse]
    currency: str | None = _currency()


class SegmentProfileResponse(_Open):
    segment: str
    customers: int
    share: float
    revenue: float | None = Field(None, description="Gross purchase value before as_of.")
    revenue_share: float | None = Field(None, description="Share of all segments' revenue.")
    mean_order_value: float | None = Field(None, description="Revenue / orders.")
    recency_days_median: float | None = Field(None, description="Median days since the last "
                                                                "purchase.")
    orders_mean: float | None = Field(None, description="Mean orders per customer.")


class SegmentsResponse(BaseModel):
    as_of: datetime
    customers: int
    segments: list[SegmentProfileResponse]
    currency: str | None = _currency()


class ChurnTierResponse(_Open):
    tier: str
    customers: int
    share: float
    mean_probability: float
    clv_expected: float | None = Field(None, description="Summed expected spend over the "
                                                         "models' horizon.")
    at_stake: float | None = Field(None, description="Summed churn probability x expected "
                                                     "spend.")


class ChurnCustomerResponse(_Open):
    customer_id: str
    segment: str | None = None
    churn_probability: float
    churn_tier: str
    clv_expected: float | None = None
    at_stake: float | None = None
    reasons: list[str]


class ChurnModelMetric(_Open):
    model: str = Field(description="'model' (the churn model) or a baseline's key.")
    name: str
    roc_auc: float | None = None


class ChurnEvaluationResponse(_Open):
    test_cutoff: str | None = None
    window: list[str | None] = Field(description="First and last day of the test window.")
    churn_rate: float | None = None
    models: list[ChurnModelMetric]
    scored_by: str
    tiers: dict[str, Any] = Field(description="Per tier: customers and observed churn rate "
                                              "in the test window.")
    warning: str | None = None


class ChurnResponse(BaseModel):
    as_of: datetime
    customers: int
    horizon_days: int | None = None
    tiers: list[ChurnTierResponse]
    top: list[ChurnCustomerResponse] = Field(description="High and medium risk customers "
                                                         "with the most spend at stake.")
    evaluation: ChurnEvaluationResponse | None = Field(
        None, description="The churn model's out-of-time evaluation kept by `loyalist train` "
                          "(null for scores trained by an earlier version).")
    currency: str | None = _currency()


class PriorRow(BaseModel):
    """One row of the response priors, as a row of ``loyalist plan --priors FILE``: it
    replaces the documented default of its kind x segment (``loyalist priors`` prints them)."""

    model_config = ConfigDict(extra="forbid")

    kind: PriorKind = Field(description="Promotion kind, as the catalog spells it (aliases "
                                        "accepted), or 'default' for kinds without rows of "
                                        "their own.")
    segment: LifecycleSegment = Field(description="The customer's lifecycle at the plan date.")
    incremental_prob: float = Field(ge=0, le=1, allow_inf_nan=False,
                                    description="Extra purchase probability in the response "
                                                "window, e.g. 0.02 for +2 percentage points.")
    use_rate: float = Field(ge=0, le=1, allow_inf_nan=False,
                            description="Share of buyers who use the offer, e.g. 0.3.")

    @field_validator("kind", mode="before")
    @classmethod
    def _kind_alias(cls, v: object) -> object:
        return canonical_kind(v) if isinstance(v, str) else v

    @field_validator("segment", mode="before")
    @classmethod
    def _segment_case(cls, v: object) -> object:
        return v.strip().lower() if isinstance(v, str) else v


class PlanRequest(BaseModel):
    """The merchant's parameters (as ``loyalist plan``), constraints inline."""

    model_config = ConfigDict(extra="forbid")

    budget: float | None = Field(None, ge=0, le=MAX_AMOUNT, allow_inf_nan=False,
                                 description="Total budget for the period (or give "
                                             "budget_per_month).")
    budget_per_month: float | None = Field(
        None, ge=0, le=MAX_AMOUNT, allow_inf_nan=False,
        description="Budget per 30-day month instead of a total: the period's budget is this x "
                    "its months, and no month of the plan spends more.")
    goal: Goal = Field("retention", description="What the plan maximises.")  # type: ignore[assignment]
    period: int = Field(30, ge=1, le=365, description="Planning period in days.")
    segments: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        default_factory=list, max_length=50, description="Target only these RFM segments.")
    as_of: date | None = Field(None, ge=date(1900, 1, 1), le=date(2199, 12, 31),
                               description="Plan from this date (default: the day after the "
                                           "last sale).")
    max_segment_share: float | None = Field(None, gt=0, le=1, allow_inf_nan=False,
                                            description="Most of the budget one segment gets.")
    cooldown_days: int | None = Field(None, ge=0, le=3650,
                                      description="Skip customers contacted in the last N days.")
    min_spend: Amounts = Field(default_factory=dict, description="Per promotion: spend at least.")
    max_spend: Amounts = Field(default_factory=dict, description="Per promotion: spend at most.")
    min_age: Amounts = Field(default_factory=dict,
                             description="Per category: customers younger (or of unknown age) "
                                         "never get a promotion on it.")
    inventory_caps: Amounts = Field(default_factory=dict,
                                    description="Per category: at most this many redemptions.")
    clear: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default_factory=list, max_length=200,
        description="Categories to clear (goal clear_inventory, or profit's overstock credit; "
                    "letter case ignored; default: the inventory's overstocked ones), as "
                    "`loyalist plan --clear`.")
    offer_fit: bool = Field(True, description="Assume an offer works best on the customers it "
                                              "fits (category offers on their categories, fixed "
                                              "amounts on smaller baskets); false drops this "
                                              "assumption (as `loyalist plan --no-offer-fit`).")
    holdout: float = Field(0.0, ge=0.0, le=MAX_HOLDOUT,
                           description="Share of the chosen customers (e.g. 0.1) kept as a "
                                       "control group, not sent: drawn at random within each "
                                       "promotion x segment, to measure what the plan made "
                                       "(as `loyalist plan --holdout`); GET "
                                       "/plans/{id}/sends.csv lists them with the sends.")
    priors: list[PriorRow] | None = Field(
        None, max_length=len(s.PROMOTION_KINDS + (s.DEFAULT_PRIOR_KIND,))
        * len(s.LIFECYCLE_SEGMENTS),
        description="Response priors for the promotions without a measured response, as "
                    "`loyalist plan --priors FILE`: each row replaces the documented default "
                    "of its kind x segment; the rows not given keep theirs.")

    @field_validator("goal", mode="before")
    @classmethod
    def _alias(cls, v: object) -> object:
        if isinstance(v, str):
            g = v.strip().lower().replace("-", "_").replace(" ", "_")
            return GOAL_ALIASES.get(g, g)
        return v

    @model_validator(mode="after")
    def _one_budget(self) -> PlanRequest:
        if (self.budget is None) == (self.budget_per_month is None):
            raise ValueError("give exactly one of budget (the period's total) and "
                             "budget_per_month")
        seen: dict[tuple[str, str], int] = {}
        for i, r in enumerate(self.priors or []):
            if (r.kind, r.segment) in seen:
                raise ValueError(f"priors: {r.kind} x {r.segment} is given twice "
                                 f"(priors[{seen[r.kind, r.segment]}] and priors[{i}]); give "
                                 "each kind x segment once")
            seen[r.kind, r.segment] = i
        return self

    def budget_text(self) -> str:
        """'budget 5,000' or 'budget 2,000 a month' (for progress lines)."""
        if self.budget_per_month is not None:
            return f"budget {self.budget_per_month:,.0f} a month"
        return f"budget {self.budget or 0:,.0f}"

    def constraints(self) -> dict[str, dict[str, float]]:
        """The per-name constraint tables that were given (for a constraints file)."""
        return {k: v for k, v in (("min_spend", self.min_spend), ("max_spend", self.max_spend),
                                  ("min_age", self.min_age),
                                  ("inventory_caps", self.inventory_caps)) if v}


class PlanResponse(_Open):
    """The plan summary, as ``loyalist plan --json`` prints it."""

    plan_id: str
    as_of: str
    goal: str
    budget: float
    spend: float | None = None
    spend_lo80: float | None = Field(None, description="The spend's 80% interval, low end: "
                                     "redemptions as the response model's bootstrap and the "
                                     "priors' range put them (none in a plan saved before it).")
    spend_hi80: float | None = Field(None, description="The spend's 80% interval, high end.")
    customers_targeted: int | None = None
    roi: float | None = Field(None, description="Net incremental profit / spend, a ratio: 1.40 "
                              "is the CLI's, report's and dashboard's 140%.")
    promotions: list[dict[str, Any]] = Field(default_factory=list)
    currency: str | None = _currency()


class CampaignResponse(_Open):
    """A campaign's results, as ``loyalist evaluate campaign --json`` prints them."""

    days: list[str] = Field(description="The campaign's send days.")
    window_days: int
    data_end: str = Field(description="The last day with sales read.")
    promotions: dict[str, dict[str, Any]] = Field(description=(
        "Per promotion: sent, measured, held_out, and per outcome (buyers, orders, revenue, "
        "margin) sent_mean, held_out_mean, per_customer and total with _lo95/_hi95 "
        "(adjusted for the customer's own past 90 days), p_value, detectable_per_customer, "
        "the plain difference (unadjusted_per_customer, unadjusted_total with _lo95/_hi95), "
        "interval_vs_unadjusted; cost and net (after it); "
        "verdict; plan (with plan_id)."))
    total: dict[str, Any]
    notes: list[str]
    currency: str | None = _currency()


class PlanListItemResponse(BaseModel):
    plan_id: str
    as_of: datetime
    goal: str | None = None
    budget: float | None = None


class PlansResponse(BaseModel):
    plans: list[PlanListItemResponse]
    currency: str | None = _currency()


class RecommendationsResponse(BaseModel):
    customer_id: str
    as_of: datetime
    method: str
    items: list[ProductResponse]


class CompanionResponse(_Open):
    rank: int
    product_id: str = Field(description="The product bought with the asked one.")
    description: str | None = None
    orders_with_both: int
    confidence: float = Field(description="Share of the asked product's orders that also "
                                          "hold this one.")
    lift: float = Field(description="How many times more often than if bought independently.")
    support: float = Field(description="Share of all orders that hold both.")


class TogetherResponse(BaseModel):
    product_id: str
    as_of: datetime
    description: str | None = None
    product_orders: int = Field(description="Orders holding the asked product.")
    orders: int = Field(description="All orders the rules were counted over (guests' too).")
    items: list[CompanionResponse]


class ForecastResponse(BaseModel):
    as_of: datetime | None = None
    rows: list[dict[str, Any]]
    totals: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Each series' totals over the next `days` (7, 30) with 80%/95% intervals "
                    "of the total itself (not sums of the daily bounds); empty for a forecast "
                    "stored before they were.")
    currency: str | None = _currency()


class IngestResponse(BaseModel):
    reports: list[dict[str, Any]] = Field(description="One data-quality report per file, as "
                                                      "`loyalist ingest --json` prints it.")


class LoadRecord(BaseModel):
    load_id: int
    table: str
    file: str
    loaded_at: str
    status: str = Field(description="loaded, already_loaded (the same file before; nothing "
                                    "added) or unloaded (removed by DELETE /loads).")
    rows_read: int
    rows_loaded: int
    rows_quarantined: int


class LoadsResponse(BaseModel):
    loads: list[LoadRecord] = Field(description="Every load, oldest first (`loyalist loads`).")


class UnloadResponse(BaseModel):
    unloaded: list[dict[str, Any]] = Field(description="The loads removed.")
    rows_removed: dict[str, int] = Field(description="Rows removed per table.")
    stale_results: list[str] = Field(description="Result tables made before the removal that "
                                                 "still count its rows until made again.")
    notes: list[str]
