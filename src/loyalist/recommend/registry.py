"""The recommenders by name, as the CLI, the evaluation and the API refer to them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from loyalist.errors import ParameterError
from loyalist.recommend.hybrid import HybridRecommender, default_components
from loyalist.recommend.ranking import Recommender

__all__ = ["BASELINE", "COMPONENTS", "METHODS", "REASONS", "make_model", "reasons"]

#: name -> factory(random_state) of an unfitted model with default parameters.
METHODS: dict[str, Callable[[int | None], Recommender]] = {
    **{name: (lambda rs, name=name: default_components(rs)[name])
       for name in default_components(None)},
    "hybrid": lambda rs: HybridRecommender(random_state=rs),
}
#: The parts the hybrid blends by default.
COMPONENTS = tuple(default_components(None))
#: The baseline every model is compared with: recent popularity (the last 30 days).
BASELINE = "popularity"
#: Why a product is on a customer's list, by the model (or the hybrid's component) that put it
#: there: the ``reason`` column of the recommendations.
REASONS = {
    "popularity": "selling well now",
    "adoption": "new buyers are taking it up now",
    "history": "they bought it before",
    "itemknn": "bought by customers who bought what they bought",
    "als": "bought by customers who shop like them",
    "content": "like products they bought",
}


def reasons(model: Recommender, method: str, customer_ids: object, items: Any, *,
            exclude_purchased: bool = False) -> Any:
    """``(reason, because_of)`` for each recommended item: the reason (:data:`REASONS`; None
    for padding) is, for the hybrid, the component with the largest share of its blended
    score, for a single model the model itself, and for a customer without a purchase (ranked
    by popularity) "selling well now"; ``because_of`` is, for an item-neighbour reason, the
    product the customer bought that adds most to the item's score (:func:`anchors`)."""
    import numpy as np

    items = np.asarray(items, dtype=object)
    if isinstance(model, HybridRecommender):
        src = model.sources(customer_ids, items, exclude_purchased=exclude_purchased)
    else:
        cold = model._rows(customer_ids) < 0
        src = np.full(items.shape, method, dtype=object)
        src[cold] = BASELINE
    out = np.full(items.shape, None, dtype=object)
    for name, text in REASONS.items():
        out[src == name] = text
    out[np.equal(items, None)] = None
    anchor = np.full(items.shape, None, dtype=object)
    parts = model.components_ if isinstance(model, HybridRecommender) else {method: model}
    for name in ANCHORED:
        if name in parts:
            anchor = np.where(src == name, anchors(parts[name], customer_ids, items), anchor)
    again = np.equal(anchor, items) & ~np.equal(items, None)  # its own neighbour: a repeat
    out[again], anchor[again] = REASONS["history"], None
    return out, anchor


#: the models whose score sums a customer's purchases' similarity to the item
#: (``profile_ @ similarity_``): the purchase that adds most is the reason's product
ANCHORED = ("itemknn", "content")


def anchors(model: Recommender, customer_ids: object, items: Any) -> Any:
    """For each customer and recommended item, the product the customer bought that adds most
    to the item's score (its largest ``profile x similarity`` term), None where nothing
    does: the "because they bought X" of an item-neighbour recommendation."""
    import numpy as np

    from loyalist.recommend.ranking import BATCH

    codes = model._item_codes(items)
    out = np.full(codes.shape, None, dtype=object)
    rows = model._rows(customer_ids)
    names = np.asarray(model.items_, dtype=object)
    profile = model.profile_.tocsr()
    by_item = model.similarity_.T.tocsr()  # row c: every product's similarity to product c
    k = codes.shape[1] if codes.ndim == 2 else 0
    for start in range(0, len(rows), BATCH):
        r = np.arange(start, min(start + BATCH, len(rows)))
        ok = (codes[r] >= 0) & (rows[r] >= 0)[:, None]
        if not ok.any():
            continue
        # one row per (customer, item): the customer's purchases times each one's similarity
        # to the item, whose largest term names the purchase
        terms = profile[np.repeat(rows[r], k)[ok.ravel()]].multiply(
            by_item[codes[r].ravel()[ok.ravel()]]).tocsr()
        terms.eliminate_zeros()
        found = np.diff(terms.indptr) > 0
        best = np.asarray(terms.argmax(axis=1)).ravel()
        picked = np.full(len(best), None, dtype=object)
        picked[found] = names[best[found]]
        block = out[r]
        block[ok] = picked
        out[r] = block
    return out


def make_model(method: str, *, random_state: int | None = 0,
               params: Mapping[str, Mapping[str, Any]] | None = None) -> Recommender:
    """An unfitted model by name. ``params`` maps a method name to parameters overriding the
    defaults; for ``hybrid`` they apply to its components of those names."""
    if method not in METHODS:
        raise ParameterError(f"method {method!r} is unknown; use one of {', '.join(METHODS)}")
    params = dict(params or {})
    if method == "hybrid":
        comps = {name: make_model(name, random_state=random_state, params=params)
                 for name in COMPONENTS}
        return HybridRecommender(components=comps, random_state=random_state,
                                 **dict(params.get("hybrid", {})))
    return METHODS[method](random_state).set_params(**dict(params.get(method, {})))
