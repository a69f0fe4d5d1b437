"""Out-of-time training, evaluation, model cards and model persistence for the customer models.

- :func:`train_and_score` (:mod:`.train`): the facade the CLI calls.
- :func:`fit_customer_models` / :func:`score_customers` (:mod:`.run`): fitting and scoring
  every customer model for one as_of (:class:`CustomerModels`).
- :func:`evaluate` (:mod:`.out_of_time`): the out-of-time evaluation against the baselines.
- :mod:`.segment_outputs`: segment-only scores, segment profiles, the files a run writes.
- :mod:`.splits`: training cutoffs, stacked panels, the model matrix.
- :mod:`.metrics`: churn and CLV metrics as JSON-able dicts.
- :func:`write_model_card` (:mod:`.card`): markdown and self-contained HTML.
- :func:`save` / :func:`load` (:mod:`.persist`): models with metadata and a version check.

Names are imported lazily, so that model modules can import :mod:`.splits` and
:mod:`.boosting` without importing the whole facade.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "train_and_score": "train", "evaluate": "out_of_time", "fit_customer_models": "run",
    "score_customers": "run", "CustomerModels": "run", "ModelSettings": "run",
    "write_model_card": "card", "save": "persist", "load": "persist",
    "read_metadata": "persist",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(f"loyalist.evaluation.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'loyalist.evaluation' has no attribute {name!r}")
