"""The out-of-time fitting protocol shared by the gradient-boosting models (churn, ML CLV).

Given a panel stacked over training cutoffs (column ``as_of``), the latest cutoff is held out:
a LightGBM model is fitted on the *inner* cutoffs, those whose label windows end by the held-out
cutoff, with early stopping on the held-out one (its predictions there also feed the churn
calibrator), then refitted on every cutoff with the number of rounds early stopping found.
Cutoffs less than a horizon before the hold-out are left out of the first stage: their labels
are purchases inside the hold-out's label window by the same customers, so they would reward
memorising customers and pick too many rounds (measured: it did).

No hyper-parameter is tuned to a data set: the defaults below are conventional for small,
noisy tabular data (shallow trees, large leaves, row and column subsampling, a moderate
learning rate), and only the number of rounds is chosen, on the held-out cutoff.
"""

from __future__ import annotations

import os

# LightGBM stalls (100 s instead of 4 s) after scikit-learn's OpenMP work unless OpenMP threads
# wait passively; this must be set before lightgbm (and its OpenMP runtime) is first imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import inspect  # noqa: E402
from collections.abc import Callable  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Any  # noqa: E402

import lightgbm as lgb  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from loyalist.errors import DataError, ParameterError  # noqa: E402

__all__ = ["BOOSTER_DEFAULTS", "HoldoutFit", "fit_with_holdout", "parallel_map",
           "split_holdout"]

BOOSTER_DEFAULTS: dict[str, Any] = {
    "learning_rate": 0.05,
    "num_leaves": 7,
    "min_child_samples": 50,
    "subsample": 0.8,
    "subsample_freq": 1,
    "colsample_bytree": 0.8,
    "reg_lambda": 1.0,
}
MAX_ROUNDS = 1000
PATIENCE = 50


def parallel_map(fn: Callable[[Any], Any], items: list[Any], workers: int | None = None
                 ) -> list[Any]:
    """``[fn(i) for i in items]``, ``workers`` at a time in threads (None: one per CPU).

    For independent boosters: LightGBM and numpy release the GIL, so threads run them side by
    side. Each booster keeps its own seed and thread count, so the results do not depend on
    ``workers``."""
    n = min(workers or os.cpu_count() or 1, len(items))
    if n <= 1:
        return [fn(i) for i in items]
    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(fn, items))


@dataclass
class HoldoutFit:
    """A booster refitted on all cutoffs, plus the held-out model's predictions."""

    model: Any  # lightgbm.LGBMModel refitted on every cutoff
    best_iteration: int
    holdout_pred: np.ndarray  # predictions of the model fitted without the held-out cutoff
    holdout_index: np.ndarray  # row positions of the held-out cutoff in the panel


def split_holdout(cutoffs: pd.Series, horizon_days: int
                  ) -> tuple[np.ndarray, np.ndarray, pd.Timestamp]:
    """Row positions of the inner cutoffs (label windows end by the latest cutoff) and of the
    latest cutoff (the hold-out). Cutoffs between the two are used only in the refit."""
    values = pd.to_datetime(cutoffs).to_numpy()
    last = pd.Timestamp(values.max())
    hold = values == last.to_datetime64()
    inner = values + np.timedelta64(int(horizon_days), "D") <= last.to_datetime64()
    if not inner.any():
        raise DataError(
            f"the training panel has no cutoff whose {horizon_days}-day label window ends by "
            f"its latest cutoff {last.date()}; at least one is needed to early-stop and "
            "calibrate on the latest without overlap. Use more history or a shorter horizon"
        )
    return np.flatnonzero(inner), np.flatnonzero(hold), last


def _make(kind: str, params: dict[str, Any], n_estimators: int, random_state: int,
          n_jobs: int | None) -> Any:
    common = {**BOOSTER_DEFAULTS, **params, "n_estimators": n_estimators,
              "random_state": random_state, "verbose": -1, "deterministic": True,
              "force_row_wise": True}
    if n_jobs is not None:
        common["n_jobs"] = n_jobs
    if kind == "classifier":
        return lgb.LGBMClassifier(**common)
    return lgb.LGBMRegressor(**common)


def _eval_kwargs(x: pd.DataFrame, y: np.ndarray) -> dict[str, Any]:
    """The validation set in the spelling this LightGBM wants (4.7 renamed ``eval_set``)."""
    if "eval_X" in inspect.signature(lgb.LGBMModel.fit).parameters:
        return {"eval_X": (x,), "eval_y": (y,)}
    return {"eval_set": [(x, y)]}


def fit_with_holdout(x: pd.DataFrame, y: np.ndarray, cutoffs: pd.Series, *, horizon_days: int,
                     kind: str,
                     params: dict[str, Any] | None = None, random_state: int = 0,
                     n_jobs: int | None = None, refit: bool = True) -> HoldoutFit:
    """Early-stop on the latest cutoff, then refit on all cutoffs with the rounds found."""
    if kind not in ("classifier", "regressor"):
        raise ParameterError(f"kind {kind!r}: use 'classifier' or 'regressor'")
    params = dict(params or {})
    unknown = set(params) - set(BOOSTER_DEFAULTS) - {"objective", "alpha",
                                                     "tweedie_variance_power", "max_depth",
                                                     "reg_alpha", "min_split_gain"}
    if unknown:
        raise ParameterError(f"unknown booster parameter(s) {sorted(unknown)}; known: "
                             f"{sorted(BOOSTER_DEFAULTS)} and objective, alpha, "
                             "tweedie_variance_power, max_depth, reg_alpha, min_split_gain")
    tr, ho, _ = split_holdout(cutoffs, horizon_days)
    yv = np.asarray(y)
    first = _make(kind, params, MAX_ROUNDS, random_state, n_jobs)
    first.fit(x.iloc[tr], yv[tr], **_eval_kwargs(x.iloc[ho], yv[ho]),
              callbacks=[lgb.early_stopping(PATIENCE, first_metric_only=True, verbose=False)])
    best = int(first.best_iteration_ or MAX_ROUNDS)
    best = max(best, 10)
    if kind == "classifier":
        hold_pred = first.predict_proba(x.iloc[ho], num_iteration=best)[:, 1]
    else:
        hold_pred = first.predict(x.iloc[ho], num_iteration=best)
    final = _make(kind, params, best, random_state, n_jobs)
    if refit:
        final.fit(x, yv)
    else:
        final.fit(x.iloc[tr], yv[tr])
    return HoldoutFit(final, best, np.asarray(hold_pred, dtype=float), ho)
