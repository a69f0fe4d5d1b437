"""The out-of-time evaluation of the customer models (:func:`evaluate`): the whole recipe is
refitted as if the test cutoff were today (training cutoffs' windows end by it), and its
predictions are compared with what the customers did in the ``horizon`` days after it, next to
the baselines (recency alone; BG/NBD's 1 - P(alive) and expected orders; BG/NBD + Gamma-Gamma
and last period's spend for CLV).

Also what follows from it for churn: :func:`churn_warning` (the model at chance or beaten by a
baseline) and :func:`churn_fallback` (the baseline churn is scored by instead); and the cutoff
a run is evaluated at (:func:`evaluation_cutoff`: ``as_of - horizon``, or the latest earlier
cutoff that can be evaluated, for a seasonal business).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from loyalist import schema as s
from loyalist.churn.baseline import BASELINES, BaselineChurnModel
from loyalist.churn.model import MIN_CUSTOMERS, ChurnModel
from loyalist.clv.ml import BoostedCLVModel
from loyalist.errors import DataError
from loyalist.evaluation import metrics as M
from loyalist.evaluation.clv_check import BASELINE_MARGIN, clv_warning, total_error_note
from loyalist.evaluation.run import (
    CustomerModels,
    ModelSettings,
    fit_customer_models,
    score_customers,
)
from loyalist.evaluation.splits import last_period_spend
from loyalist.features import labels, to_as_of
from loyalist.store import Store

log = logging.getLogger(__name__)

__all__ = ["BASELINE_MARGIN", "CHURN_AUC_FLOOR", "EVALUATION_STEP_DAYS", "best_baseline",
           "churn_fallback", "churn_warning", "clv_season", "evaluate", "evaluation_cutoff",
           "sentence"]


def churn_season(churn: ChurnModel) -> dict[str, Any]:
    """The churn model's seasonal shift (``season_shift_``) and the cutoff it came from."""
    return {"cutoff": churn.season_cutoff_, "log_odds_shift": round(churn.season_shift_, 4),
            "note": getattr(churn, "season_note_", None)}


def clv_season(clv: BoostedCLVModel) -> dict[str, Any]:
    """The lifetime value model's seasonal factor (``season_factor_``) and its cutoff."""
    return {"cutoff": getattr(clv, "season_cutoff_", None),
            "factor": round(getattr(clv, "season_factor_", 1.0), 4),
            "note": getattr(clv, "season_note_", None)}


def _tiers(y: np.ndarray, tier: np.ndarray) -> dict[str, dict[str, Any]]:
    out = {}
    for t in s.CHURN_TIERS:
        mask = tier == t
        out[t] = {"customers": int(mask.sum()),
                  "churn_rate": float(y[mask].mean()) if mask.any() else None}
    return out


#: at or below this out-of-time ROC-AUC a churn ranking is treated as no better than chance
#: (the standard error of an AUC on a few hundred customers is about 0.03)
CHURN_AUC_FLOOR = 0.55


def best_baseline(models: dict[str, dict[str, Any]]
                   ) -> tuple[float | None, str | None, dict[str, float]]:
    """(the model's ROC-AUC, the best baseline's key, every baseline's ROC-AUC)."""
    auc = (models.get("model") or {}).get("roc_auc")
    base = {k: m["roc_auc"] for k, m in models.items()
            if k != "model" and (m or {}).get("roc_auc") is not None}
    best = max(base, key=lambda k: base[k]) if base else None
    return auc, best, base


def sentence(text: str) -> str:
    """``text`` as a note: its first letter upper case (warnings are built lower case to be
    quoted after a colon in the log)."""
    return text[:1].upper() + text[1:]


def churn_fallback(models: dict[str, dict[str, Any]], margin: float = BASELINE_MARGIN
                   ) -> str | None:
    """The baseline churn is scored by instead of the model: the best baseline when the
    model's out-of-time ROC-AUC is more than ``margin`` below its (the rule of
    :func:`churn_warning`; ``models`` is ``metrics["churn"]["models"]``); None when the model
    holds its own or was not evaluated. Decided from the out-of-time evaluation alone."""
    auc, best, base = best_baseline(models)
    if auc is None or best is None or not auc < base[best] - margin:
        return None
    return best


def churn_warning(models: dict[str, dict[str, Any]], floor: float = CHURN_AUC_FLOOR,
                  margin: float = BASELINE_MARGIN, *, fallback: bool = True) -> str | None:
    """A plain warning when the churn model's out-of-time ROC-AUC is at most ``floor`` or more
    than ``margin`` below its best baseline's (``models`` is ``metrics["churn"]["models"]``);
    None otherwise. When it loses to a baseline, the warning says that churn is scored by that
    baseline instead (:func:`churn_fallback`), or, with ``fallback=False`` (the baseline could
    not score), to use the model's scores with caution."""
    auc, best, base = best_baseline(models)
    if auc is None:
        return None
    loses = best is not None and auc < base[best] - margin
    if not loses and auc > floor:
        return None
    why = []
    if auc <= floor:
        why.append(f"no better than chance (<= {floor})")
    if loses:
        assert best is not None
        why.append(f"below its best baseline, {BASELINES.get(best, best)} "
                   f"({base[best]:.3f})")
    head = f"the churn model's out-of-time ROC-AUC {auc:.3f} is {' and '.join(why)}"
    if loses and fallback:
        assert best is not None
        name = BASELINES.get(best, best)
        text = (f"{head}: that simpler ranking found the churners better in the test window, "
                f"so churn_probability and churn_tier are scored by {name} instead, "
                "calibrated on the model's training windows (the model's metrics stay in the "
                "table)")
        if base[best] <= floor:
            text += (f"; {name} is itself no better than chance (<= {floor}), so do not "
                     "target customers by churn_probability or churn_tier")
        return text
    if auc <= floor:
        return (f"{head}: on this data its probabilities and tiers do not rank who stops "
                "buying; do not target customers by churn_probability or churn_tier (the "
                "tier table shows how little observed churn differs between tiers)")
    return (f"{head}: that simpler ranking found the churners better in the test window, so "
            "use churn_probability and churn_tier with caution (compare observed churn "
            "between the tiers)")


def _fallback_evaluation(name: str, models: CustomerModels, panel: pd.DataFrame,
                         feats: pd.DataFrame, y: np.ndarray,
                         thresholds: tuple[float, float]) -> dict[str, Any]:
    """The baseline churn is scored by when the model loses (:func:`churn_fallback`), fitted
    as scoring fits it (on the training panel) and judged on the same test window: its
    calibration, Brier score and tiers (its ranking is the baseline's own)."""
    try:
        fb = BaselineChurnModel(baseline=name, thresholds=thresholds).fit(
            panel, bgnbd=models.bgnbd)
    except DataError as e:
        return {"baseline": name, "skipped": str(e)}
    p = fb.predict_proba(feats)
    return {**fb.describe(), "metrics": M.churn_metrics(y, p),
            "tiers": _tiers(y, fb.tier(p)), "calibration": M.decile_calibration(y, p)}


def evaluate(store: Store, test_as_of: Any, horizon: int = 90, *,
             settings: ModelSettings | None = None,
             progress: Callable[[str], None] | None = None
             ) -> tuple[dict[str, Any], pd.DataFrame]:
    """Out-of-time evaluation at ``test_as_of``: fit as if it were today, compare with what
    happened in ``[test_as_of, test_as_of + horizon)``. Returns (metrics, predictions)."""
    ts = to_as_of(test_as_of)
    models, feats, panel = fit_customer_models(store, ts, horizon, segments=False,
                                               settings=settings, progress=progress)
    say = progress or (lambda _m: None)
    say(f"  what happened in the test window, and the scores of {len(feats):,} customers")
    lab = labels(store, ts, horizon).set_index(s.CUSTOMER_ID)
    pred = score_customers(models, feats)
    y = lab.loc[feats[s.CUSTOMER_ID], "churned"].to_numpy(dtype=int)
    spend = lab.loc[feats[s.CUSTOMER_ID], "future_spend"].to_numpy(dtype=float)
    if min(y.sum(), (1 - y).sum()) == 0:
        raise DataError(f"evaluation at {ts.date()}: every customer "
                        f"{'churned' if y.all() else 'bought again'} in the {horizon}-day "
                        "window, so churn cannot be evaluated; choose another cutoff")
    pred["churned"] = y.astype(bool)
    pred["future_spend"] = spend
    last = last_period_spend(store, feats, ts, horizon)
    pred["last_period_spend"] = last
    p = pred["churn_probability"].to_numpy()
    churn_models: dict[str, Any] = {"model": M.churn_metrics(y, p)}
    churn_models["recency_only"] = M.churn_metrics(y, feats["recency_days"], probability=False)
    gains = {"model": M.cumulative_gains(y, p),
             "recency_only": M.cumulative_gains(y, feats["recency_days"])}
    if pred["p_alive"].notna().all():
        dead = 1.0 - pred["p_alive"].to_numpy()
        churn_models["bgnbd_1_minus_p_alive"] = M.churn_metrics(y, dead)
        churn_models["bgnbd_expected_orders"] = M.churn_metrics(
            y, -pred["expected_orders"].to_numpy(), probability=False)
        gains["bgnbd_1_minus_p_alive"] = M.cumulative_gains(y, dead)
    clv_models: dict[str, Any] = {
        "model": M.clv_metrics(spend, pred["clv_expected"]),
        "model_p50": M.clv_metrics(spend, pred["clv_p50"]),
    }
    cal = {"model": M.decile_calibration(spend, pred["clv_expected"])}
    clv_gains = {"model": M.cumulative_gains(spend, pred["clv_expected"])}
    if pred["clv_bgnbd"].notna().all():
        clv_models["bgnbd_gg"] = M.clv_metrics(spend, pred["clv_bgnbd"])
        cal["bgnbd_gg"] = M.decile_calibration(spend, pred["clv_bgnbd"])
        clv_gains["bgnbd_gg"] = M.cumulative_gains(spend, pred["clv_bgnbd"])
    clv_models["last_period"] = M.clv_metrics(spend, last)
    clv_gains["last_period"] = M.cumulative_gains(spend, last)
    below = spend < pred["clv_p10"].to_numpy()
    above = spend > pred["clv_p90"].to_numpy()
    notes = list(models.notes)
    train_rate = float(panel["churned"].mean())
    if abs(train_rate - y.mean()) > 0.05:
        notes.append(f"the churn rate in the test window ({y.mean():.1%}) differs from the "
                     f"training panel's ({train_rate:.1%}): probabilities calibrated on earlier "
                     "windows are off by about that much (seasonality or a trend)")
    warning = churn_warning(churn_models)
    if warning:
        log.warning("evaluation at %s: %s", ts.date(), warning)
        notes.insert(0, sentence(warning))
    fallback = churn_fallback(churn_models)
    churn_fb: dict[str, Any] | None = None
    clv_warn = clv_warning(clv_models)
    if clv_warn:
        log.warning("evaluation at %s: %s", ts.date(), clv_warn)
        notes.insert(1 if warning else 0, sentence(clv_warn))
    total_note = total_error_note(clv_models)
    if total_note:
        notes.append(total_note)
    cfg = settings or ModelSettings()
    if fallback is not None:  # what scoring would use instead, judged on the same window
        churn_fb = _fallback_evaluation(fallback, models, panel, feats, y, cfg.thresholds)
        if "skipped" in churn_fb:
            notes.append(f"churn scored by {BASELINES[fallback]}: not evaluated: "
                         f"{churn_fb['skipped']}")
        elif churn_fb.get("note"):
            notes.append(f"churn scored by {BASELINES[fallback]}: {churn_fb['note']}")
    metrics = {
        "test_cutoff": str(ts.date()),
        "label_window": [str(ts.date()), str((ts + pd.Timedelta(days=horizon)).date())],
        "train_cutoffs": [str(c.date()) for c in models.plan.cutoffs],
        "holdout_cutoff": str(models.plan.holdout.date()),
        "n_train_rows": int(len(panel)),
        "n_customers": int(len(feats)),
        "churn": {
            "churn_rate": float(y.mean()),
            "train_churn_rate": train_rate,
            "models": churn_models,
            "warning": warning,
            "holdout": models.churn.holdout_metrics_,
            "season": churn_season(models.churn),
            "tiers": _tiers(y, pred["churn_tier"].to_numpy()),
            "tier_thresholds": list(cfg.thresholds),
            "calibration": M.decile_calibration(y, p),
            "gains": gains,
            "scored_by": fallback or "model",
        },
        "clv": {
            "models": clv_models,
            "interval": {"coverage": float(1 - below.mean() - above.mean()),
                         "below": float(below.mean()), "above": float(above.mean())},
            "calibration": cal,
            "gains": clv_gains,
            "warning": clv_warn,
            "season": clv_season(models.clv),
        },
        "rounds": {"churn": models.churn.n_rounds_, **models.clv.n_rounds_},
        "notes": notes,
    }
    if churn_fb is not None:
        metrics["churn"]["fallback"] = churn_fb
    return metrics, pred


def _outcomes(store: Store, cutoff: pd.Timestamp, horizon: int) -> tuple[int, int]:
    """(churners, customers who bought again) in ``[cutoff, cutoff + horizon)`` among the
    customers with a purchase before ``cutoff``."""
    churned = labels(store, cutoff, horizon)["churned"].to_numpy(dtype=bool)
    return int(churned.sum()), int((~churned).sum())


#: how far back (days, at most a year) the out-of-time evaluation moves at a time when its
#: usual cutoff cannot be evaluated (:func:`evaluation_cutoff`)
EVALUATION_STEP_DAYS = 7


def evaluation_cutoff(store: Store, as_of: pd.Timestamp, horizon: int
                      ) -> tuple[pd.Timestamp, str | None]:
    """The cutoff of the out-of-time evaluation for scoring at ``as_of``, and a note when it
    is not the usual ``as_of - horizon``.

    The evaluation needs a hold-out window ``[c - horizon, c)`` with at least
    :data:`~loyalist.churn.model.MIN_PER_CLASS` churners and buyers (for early stopping and
    calibration) and a test window ``[c, c + horizon)`` with both outcomes. A seasonal
    business (a Christmas stall) has neither for a cutoff in or just after its closed
    season; the evaluation then moves back :data:`EVALUATION_STEP_DAYS` at a time, for at
    most a year (every season once), to the latest cutoff where both hold (the closest to
    the models scored), so the recipe is still tested out of time. When none does,
    ``as_of - horizon`` is returned and the evaluation says why it cannot run."""
    from loyalist.churn.model import MIN_PER_CLASS

    first = pd.Timestamp(as_of) - pd.Timedelta(days=horizon)
    why = ""
    for k in range(365 // EVALUATION_STEP_DAYS + 1):
        cut = first - pd.Timedelta(days=k * EVALUATION_STEP_DAYS)
        hold = cut - pd.Timedelta(days=horizon)
        held = _outcomes(store, hold, horizon)
        if sum(held) < MIN_CUSTOMERS:
            break  # earlier cutoffs have even fewer customers
        test = _outcomes(store, cut, horizon)
        if min(held) >= MIN_PER_CLASS and min(test) >= 1:
            if k == 0:
                return cut, None
            return cut, (f"evaluated at {cut.date()}, not at {first.date()} (as_of - {horizon} "
                         f"days): {why}; {cut.date()} is the latest cutoff before it whose "
                         f"hold-out window (from {hold.date()}) has at least {MIN_PER_CLASS} "
                         "churners and buyers and whose test window has both (a seasonal "
                         "business: the test window is not the season scored)")
        if k == 0:
            name, (c, b) = ((f"the hold-out window [{hold.date()}, {cut.date()})", held)
                            if min(held) < MIN_PER_CLASS else
                            (f"the test window [{cut.date()}, "
                             f"{(cut + pd.Timedelta(days=horizon)).date()})", test))
            why = (f"at {first.date()} {name} had {c:,} churners and {b:,} customers who "
                   "bought again (a closed season?)")
    return first, None
