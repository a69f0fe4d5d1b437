"""Canonical table and column names: the contract between modules (see DESIGN.md).

Source headers (``"Customer ID"``, ``"InvoiceDate"``) appear only in ``loyalist.ingest.adapters``.
"""

from __future__ import annotations

from dataclasses import dataclass

# --- transactions -------------------------------------------------------------------------
CUSTOMER_ID = "customer_id"
ORDER_ID = "order_id"
ORDERED_AT = "ordered_at"
PRODUCT_ID = "product_id"
QUANTITY = "quantity"
UNIT_PRICE = "unit_price"
AMOUNT = "amount"
CATEGORY = "category"
DESCRIPTION = "description"
STORE_ID = "store_id"
CHANNEL = "channel"
COUNTRY = "country"

# Columns the ingest step adds to every loaded line.
LINE_KIND = "line_kind"  # 'sale' | 'return' | 'cancellation' | 'non_product'
IS_GUEST = "is_guest"  # no customer id: kept for revenue/products/forecasts, out of customer models
LOAD_ID = "load_id"
SOURCE_ROW = "source_row"  # 1-based row number in the source file (header excluded)

LINE_KINDS = ("sale", "return", "cancellation", "non_product")

TRANSACTION_REQUIRED = (CUSTOMER_ID, ORDER_ID, ORDERED_AT, PRODUCT_ID, QUANTITY, UNIT_PRICE)
TRANSACTION_OPTIONAL = (CATEGORY, DESCRIPTION, STORE_ID, CHANNEL, COUNTRY)
TRANSACTION_COLUMNS = TRANSACTION_REQUIRED + (AMOUNT,) + TRANSACTION_OPTIONAL
# A separate time-of-day column, folded into ``ordered_at`` at ingest (never stored).
ORDERED_TIME = "ordered_time"
# Anything a user may name in ``--map canonical=source``.
MAPPABLE = TRANSACTION_REQUIRED + (AMOUNT,) + TRANSACTION_OPTIONAL + (ORDERED_TIME,)

# --- products ----------------------------------------------------------------------------
PRICE = "price"
UNIT_COST = "unit_cost"
MARGIN = "margin"
STOCK = "stock"
PRODUCT_COLUMNS = (PRODUCT_ID, CATEGORY, PRICE, UNIT_COST, MARGIN, STOCK)

# --- customers ---------------------------------------------------------------------------
BIRTH_DATE = "birth_date"
AGE = "age"
GENDER = "gender"
REGION = "region"
SIGNUP_AT = "signup_at"
MARKETING_CONSENT = "marketing_consent"
EMAIL_OPT_OUT = "email_opt_out"
CUSTOMER_COLUMNS = (
    CUSTOMER_ID, AGE, GENDER, REGION, SIGNUP_AT, MARKETING_CONSENT, EMAIL_OPT_OUT,
)

# --- promotions (exposure history) -------------------------------------------------------
SENT_AT = "sent_at"
PROMOTION = "promotion"
COST = "cost"
REDEEMED = "redeemed"
CONTROL = "control"  # the hold-out arm's promotion name
#: of a ``control`` row: the promotion it was held out from (a targeted plan's hold-out,
#: comparable with that promotion's sends only); empty: a control for every promotion sent
#: the same day (a randomised campaign)
CONTROL_FOR = "control_for"
PROMOTION_COLUMNS = (CUSTOMER_ID, SENT_AT, PROMOTION, CHANNEL, COST, REDEEMED)  # + CONTROL_FOR

# --- promotion catalog -------------------------------------------------------------------
PROMOTION_KINDS = (
    "percent_discount", "fixed_voucher", "bogo", "free_shipping",
    "points_multiplier", "bundle", "free_item",
)
CATALOG_COLUMNS = (
    "name", "kind", "value", "contact_cost", "min_spend", "max_spend",
    "eligible_segments", "category",
)

# --- response priors (loyalist.response.priors; ``loyalist plan --priors FILE``) -----------
#: the columns of a priors table: one row per (kind, segment)
PRIOR_COLUMNS = ("kind", "segment", "incremental_prob", "use_rate")
#: the customers' lifecycle segments the priors are given for
LIFECYCLE_SEGMENTS = ("new", "active", "lapsing", "lost")
#: the priors' kind whose rows cover a promotion of a kind without rows of its own
DEFAULT_PRIOR_KIND = "default"

# --- merchant context: promotion catalog, competitor calendar, inventory ------------------
NAME = "name"
KIND = "kind"
VALUE = "value"
CONTACT_COST = "contact_cost"
MIN_SPEND = "min_spend"
MAX_SPEND = "max_spend"
ELIGIBLE_SEGMENTS = "eligible_segments"
#: optional: the base loyalty points' value as a share of spend (a points multiplier's cost)
POINTS_RATE = "points_rate"
#: the churn tiers (``scores.churn_tier``), riskiest first: the order every output lists them
CHURN_TIERS = ("high", "medium", "low")
#: the plan's segment of registered customers with no purchase yet (no scores, so no RFM
#: segment; a retention plan's first purchase of theirs is an activation)
NEW_SEGMENT = "New (no purchase yet)"
#: a plan's ranked promotions (``promotions.csv``, the report's ``plan_promotions``), in order:
#: a plan with no promotion still writes them as the header
PLAN_PROMOTION_COLUMNS = (
    "rank", "promotion", "kind", "target_segment", "customers", "participation",
    "incremental_buyers", "incremental_revenue", "incremental_revenue_lo80",
    "incremental_revenue_hi80", "incremental_margin", "cost", "cost_lo80", "cost_hi80",
    "net_profit", "roi", "goal_value", "confidence", "rationale",
)
COMPETITOR = "competitor"
STARTS_AT = "starts_at"
ENDS_AT = "ends_at"
STOCK_UNITS = "stock_units"
WEEKLY_SALES_UNITS = "weekly_sales_units"
WEEKS_OF_COVER = "weeks_of_cover"
OVERSTOCKED = "overstocked"

# --- store tables ------------------------------------------------------------------------
T_TRANSACTIONS = "transactions"
T_QUARANTINE = "quarantine"
T_LOADS = "loads"
T_PRODUCTS = "products"
T_CUSTOMERS = "customers"
T_PROMOTIONS = "promotions"
T_FEATURES = "features"
T_SCORES = "scores"
T_CATALOG = "promotion_catalog"
T_COMPETITORS = "competitor_events"
T_INVENTORY = "inventory"
T_PLANS = "plans"
T_RUNS = "runs"
# derived at ingest from transactions (see features.orders); rebuilt, never edited by hand
T_CUSTOMER_ORDERS = "customer_orders"
# results the pipeline writes and the report, API and dashboard read
T_RECOMMENDATIONS = "recommendations"
T_FORECAST = "forecast"
T_FORECAST_BACKTEST = "forecast_backtest"
T_FORECAST_TOTALS = "forecast_totals"  # the 7- and 30-day totals with their own intervals
T_PLAN_CUSTOMERS = "plan_customers"
T_PLAN_SENDS = "plan_sends"  # a plan's sends and hold-out as promotion history
# every product's best companions per as_of (written by `together`/`run`, read by the report
# and the API)
T_BASKET_RULES = "basket_rules"
T_CUSTOMER_ORDER_PARTS = "customer_order_parts"
# a view of every store connection: the transactions, each line's category completed from the
# product master where the line has none (see store.LINES_VIEW); read it wherever a line's
# category is used
T_LINES = "transaction_lines"
T_DERIVED_STATE = "derived_state"


@dataclass(frozen=True)
class Rule:
    """A named cleaning rule: what it catches and what happens to the row."""

    name: str
    action: str  # 'quarantine' | 'flag' | 'classify'
    reason: str


# Every rule the ingest step applies, in the order it applies them. A row is quarantined by the
# first quarantine rule it meets; flag/classify rules annotate loaded rows.
RULES: tuple[Rule, ...] = (
    Rule("exact_duplicate", "quarantine", "row repeats an earlier row of the same file exactly"),
    Rule("repeated_line", "quarantine",
         "the order's line number repeats an earlier row's with the same product, price, "
         "customer and date: the line repeated by a join with several rows per order "
         "(payments, shipments), not a second sale"),
    Rule("repeated_header", "quarantine",
         "the file's header line again (exports joined one after another): column names, "
         "not a sale"),
    Rule("units_line", "quarantine",
         "a units line under the header: the line directly below the column names says what "
         "each column holds (units such as 'pcs' or 'kg', currency codes such as 'EUR', types "
         "such as '(text)' or '(date)') instead of values: no sale or record, no value"),
    Rule("totals_row", "quarantine",
         "a totals or summary row of the export ('Total', 'Summe', ... where an id belongs, "
         "and no order id, product id or date), or a line of a report's footer below the "
         "data (one value: '1606 record(s) downloaded'): not a sale, its value is left out"),
    Rule("group_heading", "quarantine",
         "a grouped report's heading row (QuickBooks' 'Sales by Customer Detail': the "
         "customer's name on a row of its own above its lines): the lines below it take its "
         "value; not a sale"),
    Rule("order_not_found", "quarantine",
         "the line's order id is not in the orders file given with it (no customer or date)"),
    Rule("cancelled_order", "quarantine",
         "the order's status says it was cancelled, voided, failed, refunded or returned, or "
         "never paid: not a sale"),
    Rule("offer", "quarantine",
         "the line's document type says it is an estimate, a quote or a pro-forma invoice "
         "(QuickBooks' 'Estimate'): an offer, not a sale"),
    Rule("not_a_purchase", "quarantine",
         "an event log's row whose event is a view, click, search or cart change: not a sale"),
    Rule("missing_order_id", "quarantine", "order id is empty"),
    Rule("order_summary", "quarantine",
         "no product, in an order whose items are rows of their own: the order's summary, "
         "header or payment row (eBay's multi-item orders, a till's 'Sale' and 'Payment' "
         "rows), not a sale; its value is left out"),
    Rule("missing_product_id", "quarantine", "product id is empty"),
    Rule("unparseable_date", "quarantine", "order date is empty or cannot be parsed"),
    Rule("future_date", "quarantine",
         "dated more than a day after the file was loaded: a typo in the year, or a date read "
         "in the wrong format"),
    Rule("unparseable_quantity", "quarantine", "quantity is empty or not a number"),
    Rule("unparseable_price", "quarantine", "unit price / amount is empty or not a number"),
    Rule("zero_quantity", "quarantine", "quantity is 0: the line moves nothing"),
    Rule("impossible_quantity", "quarantine",
         "quantity is not finite or its magnitude exceeds the plausibility limit"),
    Rule("non_positive_price", "quarantine",
         "unit price is <= 0 (free items, bad-debt adjustments, gift cards paid with): not a "
         "sale at a price"),
    Rule("already_loaded", "quarantine",
         "the same line is already in the store from an earlier load"),
    Rule("cancellation", "classify", "cancelled order line: kept as a negative line"),
    Rule("return", "classify",
         "negative quantity on a normal order (also a negative line total beside a positive "
         "quantity, and a credit note's line): kept as a return"),
    Rule("non_product", "classify",
         "postage, fees, tips, gift card sales, manual lines, discounts (a discount line at a "
         "negative price too), adjustments: kept, out of product models"),
    Rule("guest", "flag",
         "no customer id: kept for revenue/products/forecasts, out of customer models"),
)
RULES_BY_NAME = {r.name: r for r in RULES}
QUARANTINE_RULES = tuple(r.name for r in RULES if r.action == "quarantine")
