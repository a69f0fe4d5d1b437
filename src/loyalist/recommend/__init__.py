"""Recommendations: popularity, purchase history, item-item, ALS, content, a hybrid with
cold-start fallback, frequently-bought-together rules, and a temporal evaluation harness.

Every recommender has the same batch-first API::

    data = Interactions.from_store(store, as_of)  # the read from the store, coded in DuckDB
    # the same from a frame of lines (customer_id, order_id, ordered_at, product_id):
    #   lines, catalog = interactions.load(store, as_of)
    #   data = Interactions.from_lines(lines, as_of=as_of, catalog=catalog)
    model = HybridRecommender(random_state=0).fit(data)
    items, scores = model.recommend(customer_ids, n=10, exclude_purchased=True)
"""

from loyalist.recommend.als import ALSRecommender
from loyalist.recommend.basket import FrequentlyBoughtTogether
from loyalist.recommend.content import ContentRecommender
from loyalist.recommend.evaluate import (
    TASKS,
    coverage,
    evaluate,
    evaluate_models,
    hit_rate,
    mrr,
    ndcg,
    novelty,
    precision,
    recall,
    temporal_split,
)
from loyalist.recommend.hybrid import HybridRecommender, default_components
from loyalist.recommend.interactions import Interactions, load
from loyalist.recommend.itemknn import ItemKNNRecommender
from loyalist.recommend.popularity import PopularityRecommender, PurchaseHistoryRecommender
from loyalist.recommend.ranking import Recommender
from loyalist.recommend.registry import BASELINE, METHODS, make_model
from loyalist.recommend.simulate import simulate_purchases
from loyalist.recommend.tuning import GRIDS, baseline_model, compare, tune

__all__ = [
    "ALSRecommender", "BASELINE", "ContentRecommender", "FrequentlyBoughtTogether", "GRIDS",
    "HybridRecommender", "Interactions", "ItemKNNRecommender", "METHODS", "PopularityRecommender",
    "PurchaseHistoryRecommender", "Recommender", "TASKS", "baseline_model", "compare",
    "coverage", "default_components", "evaluate", "evaluate_models", "hit_rate", "load",
    "make_model", "mrr", "ndcg", "novelty", "precision", "recall", "simulate_purchases",
    "temporal_split", "tune",
]
