"""Out-of-time purchase-count forecasts: BG/NBD against a boosted count model.

How many purchase days will each customer have in ``[as_of, as_of + horizon)``? Three
forecasts, each made only from purchases before ``as_of``, are scored on the observed window:

- **BG/NBD** fitted on every customer's (frequency, recency, T) in days (Fader, Hardie & Lee
  2005); it needs no earlier label window, so it forecasts any horizon;
- **boosted** (:class:`loyalist.clv.ml.BoostedCLVModel` with ``target="future_order_days"``),
  trained on earlier cutoffs whose label windows end by ``as_of`` (the leak-free rule of
  :mod:`loyalist.evaluation.splits`); when the history before ``as_of`` holds no such cutoffs
  for the horizon, it reports why instead of a number;
- **boosted, extrapolated**, only when the boosted model cannot be trained for the horizon:
  trained on the longest window that fits, stretched by BG/NBD's time profile
  (:func:`_extrapolated`);
- **same as last period**: each customer's purchase days in ``[as_of - horizon, as_of)``.

A "purchase day" is a distinct day with a purchase, the BG/NBD transaction (the CDNOW
literature counts repeat transactions at the day level).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from loyalist import schema as s
from loyalist.errors import LoyalistError
from loyalist.evaluation.metrics import clv_metrics
from loyalist.evaluation.splits import build_panel, check_test_window, last_period, plan_cutoffs
from loyalist.features import bg_inputs, customer_features, labels, to_as_of
from loyalist.store import Store

__all__ = ["compare_purchase_forecasts"]

TARGET = "future_order_days"


def last_period_days(store: Store, feats: pd.DataFrame, as_of: pd.Timestamp,
                     horizon_days: int) -> np.ndarray:
    """Purchase days in ``[as_of - horizon, as_of)`` per customer
    (:func:`loyalist.evaluation.splits.last_period`; a new customer's are all their purchase
    days, ``bg_frequency + 1``)."""
    return last_period(store, feats, as_of, horizon_days, TARGET, feats["bg_frequency"] + 1)


#: the shortest label window the extrapolated boosted model is trained on (days)
MIN_TRAIN_WINDOW_DAYS = 28


def _boosted(store: Store, plan: Any, window_days: int, random_state: int) -> Any:
    """The boosted purchase-day model trained on ``plan``'s cutoffs for ``window_days``."""
    from loyalist.clv.ml import BoostedCLVModel

    return BoostedCLVModel(target=TARGET, quantiles=(0.5,), random_state=random_state).fit(
        build_panel(store, plan.cutoffs, window_days))


def _extrapolated(store: Store, feats: pd.DataFrame, ts: pd.Timestamp, horizon_days: int,
                  bg_expected: Callable[[int], np.ndarray], bg_pred: np.ndarray,
                  random_state: int, min_history_days: int
                  ) -> tuple[np.ndarray, dict[str, Any]] | None:
    """For a horizon longer than any label window the history can train (a young cohort: every
    window ending by ``as_of`` would start before the first purchase): the boosted count model
    trained on the longest window ``w`` that fits (weekly steps down to
    :data:`MIN_TRAIN_WINDOW_DAYS`), its forecast for ``w`` stretched to the horizon by each
    customer's BG/NBD ratio ``E[X(horizon)] / E[X(w)]``. The level is learned, the shape over
    time is BG/NBD's (``bg_expected(days)``: each customer's E[X(days)]; ``bg_pred`` its value
    for the horizon). None when no window fits."""
    first = pd.Timestamp(feats["first_purchase_at"].min())
    w = horizon_days - 7
    while w >= MIN_TRAIN_WINDOW_DAYS:
        try:
            plan = plan_cutoffs(first, ts, w, min_history_days=min_history_days,
                                purpose="the boosted count model")
            break
        except LoyalistError:
            w -= 7
    else:
        return None
    ml = _boosted(store, plan, w, random_state)
    bg_w = bg_expected(w)
    ratio = np.where(bg_w > 0, bg_pred / np.maximum(bg_w, 1e-12), horizon_days / w)
    return np.asarray(ml.predict(feats), dtype=float) * ratio, {
        "trained_window_days": w, "rounds": ml.n_rounds_["point"],
        "training_rows": ml.n_train_, "training": plan.to_dict(),
        "method": f"boosted forecast for {w} days x each customer's BG/NBD ratio "
                  f"E[X({horizon_days})] / E[X({w})]"}


def compare_purchase_forecasts(store: Store, as_of: Any, horizon_days: int, *,
                               random_state: int = 0, min_history_days: int = 60
                               ) -> dict[str, Any]:
    """Forecast each customer's purchase days in ``[as_of, as_of + horizon_days)`` three ways and
    score them on what happened (:func:`loyalist.evaluation.metrics.clv_metrics`: MAE, RMSE,
    Spearman, error of the total, ...).

    Returns ``{"as_of", "horizon_days", "customers", "actual_total", "models": {name: metrics
    or {"unavailable": reason}}, "training": cutoff plan of the boosted model or None}``.
    Raises :class:`DataError` when the window is not fully observed in the store.
    """
    from loyalist.clv import BetaGeoModel

    ts = to_as_of(as_of)
    check_test_window(store.date_range()[1], ts, horizon_days)
    feats = customer_features(store, ts)
    truth = feats[[s.CUSTOMER_ID]].merge(labels(store, ts, horizon_days), on=s.CUSTOMER_ID,
                                         how="left", validate="one_to_one")
    actual = truth[TARGET].fillna(0).to_numpy(dtype=float)
    models: dict[str, dict[str, Any]] = {}

    x, tx, big_t = bg_inputs(feats)
    bg = BetaGeoModel().fit(x, tx, big_t)

    def bg_expected(days: int) -> np.ndarray:
        return np.asarray(bg.expected_purchases(float(days), x, tx, big_t), dtype=float)

    bg_pred = bg_expected(horizon_days)
    models["bgnbd"] = {**clv_metrics(actual, bg_pred),
                       "params": {k: float(v) for k, v in bg.params_.items()}}

    training: dict[str, Any] | None = None
    try:
        plan = plan_cutoffs(pd.Timestamp(feats["first_purchase_at"].min()), ts, horizon_days,
                            min_history_days=min_history_days, purpose="the boosted count model")
        ml = _boosted(store, plan, horizon_days, random_state)
        models["boosted"] = {**clv_metrics(actual, ml.predict(feats)),
                             "rounds": ml.n_rounds_["point"], "training_rows": ml.n_train_}
        training = plan.to_dict()
    except LoyalistError as e:
        models["boosted"] = {"unavailable": str(e)}
        longer = _extrapolated(store, feats, ts, horizon_days, bg_expected, bg_pred,
                               random_state, min_history_days)
        if longer is not None:
            pred, info = longer
            models["boosted_extrapolated"] = {**clv_metrics(actual, pred), **info}

    models["last_period"] = clv_metrics(actual, last_period_days(store, feats, ts, horizon_days))
    return {"as_of": str(ts.date()), "horizon_days": horizon_days, "customers": len(feats),
            "actual_total": float(actual.sum()), "models": models, "training": training}
