"""Names the command line shows in its options and help before anything heavy is imported
(``loyalist --help`` should not load pandas, scikit-learn and SciPy): the default store, the
choices of the options (plan goals, ingest formats and tables, scenarios, ...) and the report
sections. The modules that implement
them import these lists, so there is one spelling of each (``tests/test_cli.py`` checks
that they match)."""

from __future__ import annotations

__all__ = ["DEFAULT_STORE", "FORECAST_BY", "GOALS", "GOAL_ALIASES", "INGEST_FORMATS",
           "INGEST_TABLES", "RECOMMEND_METHODS", "REPORT_SECTIONS", "SCENARIOS",
           "TOGETHER_ORDERS"]

DEFAULT_STORE = "loyalist.duckdb"

GOALS = ("retention", "revenue", "profit", "visit_frequency", "average_order_value",
         "clear_inventory", "reactivation")
#: other spellings accepted for ``--goal``
GOAL_ALIASES = {"aov": "average_order_value", "frequency": "visit_frequency",
                "visits": "visit_frequency", "clearance": "clear_inventory",
                "winback": "reactivation", "win_back": "reactivation", "churn": "retention"}

#: :data:`loyalist.ingest.FORMATS` and :data:`loyalist.ingest.TABLES`
INGEST_FORMATS = ("auto", "online-retail", "cdnow", "generic")
INGEST_TABLES = ("auto", "transactions", "products", "customers", "promotions",
                 "promotion_catalog", "competitor_events", "inventory")

#: :data:`loyalist.generate.scenarios.SCENARIOS`
SCENARIOS = ("fashion", "coffee", "electronics")

#: :data:`loyalist.recommend.basket.ORDERINGS` (``together --by``)
TOGETHER_ORDERS = ("confidence", "lift", "support")

#: :data:`loyalist.forecast.series.BY_COLUMNS` (``forecast --by``)
FORECAST_BY = ("category", "store_id", "country")

#: :data:`loyalist.recommend.registry.METHODS`, in its order
RECOMMEND_METHODS = ("popularity", "adoption", "history", "itemknn", "als", "content", "hybrid")

REPORT_SECTIONS = {
    "quality": "Data quality",
    "segments": "Segments",
    "churn": "Churn risk",
    "clv": "Customer lifetime value",
    "campaign": "Campaign results",
    "plan": "Promotion plan",
    "forecast": "Revenue forecast",
    "recommendations": "Recommendations",
    "together": "Bought together",
}
