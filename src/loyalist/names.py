"""Names the command line shows in its options and help before anything heavy is imported
(``loyalist --help`` should not load pandas, scikit-learn and SciPy): the default store, the
plan goals, the recommendation methods and the report sections. The modules that implement
them import these lists, so there is one spelling of each (``tests/test_cli.py`` checks
that the recommenders' registry matches)."""

from __future__ import annotations

__all__ = ["DEFAULT_STORE", "GOALS", "RECOMMEND_METHODS", "REPORT_SECTIONS"]

DEFAULT_STORE = "loyalist.duckdb"

GOALS = ("retention", "revenue", "profit", "visit_frequency", "average_order_value",
         "clear_inventory", "reactivation")

#: :data:`loyalist.recommend.registry.METHODS`, in its order
RECOMMEND_METHODS = ("popularity", "adoption", "history", "itemknn", "als", "content", "hybrid")

REPORT_SECTIONS = {
    "quality": "Data quality",
    "segments": "Segments",
    "churn": "Churn risk",
    "clv": "Customer lifetime value",
    "plan": "Promotion plan",
    "forecast": "Revenue forecast",
    "recommendations": "Recommendations",
    "together": "Bought together",
}
