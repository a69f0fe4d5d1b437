"""The recommenders by name, as the CLI, the evaluation and the API refer to them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from loyalist.errors import ParameterError
from loyalist.recommend.hybrid import HybridRecommender, default_components
from loyalist.recommend.ranking import Recommender

__all__ = ["BASELINE", "COMPONENTS", "METHODS", "make_model"]

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
