"""Out-of-time evaluation of the uplift learners, and (generated scenarios only) comparison
with the true response.

**Out of time**: the learner is trained on exposures whose response window closed by
``cutoff``; it is evaluated on later campaigns (sent at or after ``cutoff``, windows closed by
the end of the data), each exposure scored with features at its own send day. Per promotion the
test set is its treated exposures and the control exposures of the same campaigns. Scores
compared, on the window's purchase (0/1) and spend:

- ``model``: the learner's incremental purchase probability (for purchase) or incremental
  revenue (for spend);
- ``churn_heuristic``: "target the highest churn risk": days since the last purchase over the
  customer's usual gap between purchase days (the population median gap for one-time buyers;
  customers without a purchase rank last);
- ``random``: random orderings (Qini 0 in expectation; ``random_qini_p90`` shows how far luck
  goes on the test set).

Metrics: :func:`loyalist.response.metrics.uplift_report` (Qini coefficient, AUUC, uplift at
10% and 30%). ``pooled`` stacks every promotion's test set (a control exposure appears once per
promotion of its campaign, scored by that promotion's model).

**Truth** (:func:`compare_with_truth`): the generator's ``truth_response`` holds the expected
outcome of each catalog promotion for each customer in a window starting at the end of the
history. It is for evaluation only: callers read it and pass it in; no model sees it.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd

from loyalist import schema as s
from loyalist.errors import DataError, ParameterError
from loyalist.features import to_as_of
from loyalist.response.data import (
    build_exposures,
    campaign_dates,
    default_window_days,
    promotion_arms,
)
from loyalist.response.metrics import uplift_report
from loyalist.response.uplift import LEARNERS
from loyalist.store import Store

__all__ = ["churn_heuristic", "compare_with_truth", "default_cutoff", "evaluate_out_of_time",
           "spearman"]


def churn_heuristic(frame: pd.DataFrame) -> np.ndarray:
    """Recency over the usual purchase gap (module docstring); -1 without a purchase."""
    def col(name: str) -> np.ndarray:
        if name not in frame:
            return np.full(len(frame), np.nan)
        return pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)

    rec, gap = col("recency_days"), col("ipi_mean_days")
    ok = np.isfinite(gap) & (gap > 0)
    med = float(np.median(gap[ok])) if ok.any() else 30.0
    gap = np.where(ok, gap, med)
    return np.where(np.isfinite(rec), rec / gap, -1.0)


def spearman(a: Any, b: Any) -> float | None:
    """Spearman rank correlation (average ranks for ties); None if either side is constant."""
    x = pd.Series(np.asarray(a, dtype=float)).rank().to_numpy()
    y = pd.Series(np.asarray(b, dtype=float)).rank().to_numpy()
    if len(x) < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return None
    return float(np.corrcoef(x, y)[0, 1])


def default_cutoff(store: Store, *, window_days: int | None = None, test_campaigns: int = 3
                   ) -> pd.Timestamp:
    """The send day of the ``test_campaigns``-th last campaign whose window closes by the end of
    the data: training uses the campaigns before it, evaluation it and the later ones."""
    dates = campaign_dates(store)
    w = window_days if window_days is not None else default_window_days(dates)
    end = store.default_as_of()
    closed = dates[dates + pd.Timedelta(days=w) <= end]
    if len(closed) < test_campaigns + 1:
        raise DataError(f"promotions: {len(closed)} campaigns have a complete {w}-day window "
                        f"before {end.date()}; an out-of-time evaluation needs at least "
                        f"{test_campaigns + 1} (some to train on, {test_campaigns} to test)")
    return pd.Timestamp(closed.iloc[-test_campaigns])


def _promo_test(test: pd.DataFrame, promo: str) -> pd.DataFrame:
    treated, control = promotion_arms(test, promo)
    return test[treated | control]


def evaluate_out_of_time(store: Store, *, cutoff: Any = None, learner: str = "relative_lift",
                         window_days: int | None = None, test_campaigns: int = 3,
                         random_trials: int = 20, learner_params: dict[str, Any] | None = None,
                         random_state: int = 0) -> dict[str, Any]:
    """Train on exposures closed by ``cutoff`` (default :func:`default_cutoff`), evaluate on
    later campaigns (module docstring). Returns a JSON-able dict."""
    if learner not in LEARNERS:
        raise ParameterError(f"learner={learner!r} is unknown; use one of: {', '.join(LEARNERS)}")
    w = window_days if window_days is not None else default_window_days(campaign_dates(store))
    ts = (to_as_of(cutoff) if cutoff is not None
          else default_cutoff(store, window_days=w, test_campaigns=test_campaigns))
    end = store.default_as_of()
    train = build_exposures(store, cutoff=ts, window_days=w)
    test = build_exposures(store, cutoff=end, window_days=w, sent_from=ts)
    if len(test.frame) == 0:
        raise DataError(f"promotions: no exposure sent on or after {ts.date()} has a complete "
                        f"{w}-day window before {end.date()}; choose an earlier cutoff")
    t0 = time.perf_counter()
    model = LEARNERS[learner](random_state=random_state, **(learner_params or {})).fit(train)
    fit_s = time.perf_counter() - t0
    tf = test.frame
    out: dict[str, Any] = {"cutoff": str(ts.date()), "end": str(end.date()), "window_days": w,
                           "learner": model.method, "fit_seconds": fit_s,
                           "train": train.summary(), "test": test.summary(),
                           "skipped": dict(model.skipped_), "promotions": {}}
    pooled: dict[str, list[np.ndarray]] = {}
    for promo in model.promotions_:
        part = _promo_test(tf, promo)
        treated = (part[s.PROMOTION] == promo).to_numpy()
        if treated.sum() == 0 or (~treated).sum() == 0:
            continue
        sc = model.uplift_scores(part, promo)
        churn = churn_heuristic(part)
        res: dict[str, Any] = {}
        for outcome, col, score in (("purchase", "y_purchased", sc["incremental_prob"]),
                                    ("spend", "y_spend", sc["incremental_revenue"])):
            y = part[col].to_numpy(dtype=float)
            res[outcome] = uplift_report(y, treated, {"model": score, "churn_heuristic": churn},
                                         random_trials=random_trials, random_state=random_state)
            for name, arr in (("y_" + outcome, y), ("t", treated.astype(float)),
                              ("m_" + outcome, score), ("c", churn)):
                if name in ("t", "c") and outcome == "spend":
                    continue
                pooled.setdefault(name, []).append(arr)
        out["promotions"][promo] = res
    if pooled:
        t = np.concatenate(pooled["t"]).astype(bool)
        churn = np.concatenate(pooled["c"])
        out["pooled"] = {
            outcome: uplift_report(np.concatenate(pooled["y_" + outcome]), t,
                                   {"model": np.concatenate(pooled["m_" + outcome]),
                                    "churn_heuristic": churn},
                                   random_trials=random_trials, random_state=random_state)
            for outcome in ("purchase", "spend")}
    return out


def compare_with_truth(pred: pd.DataFrame, truth: pd.DataFrame) -> dict[str, Any]:
    """Predicted vs true incremental revenue and purchase probability per (customer,
    promotion): Spearman correlation and ratio of totals (predicted / true), per promotion and
    over all pairs; the same for incremental margin and discount cost when both sides have
    them, and for the directly learned spend uplift (``incremental_spend``) against the true
    incremental revenue. ``truth``: the generator's ``truth_response`` (evaluation only)."""
    need = {"customer_id", "promotion", "incremental_revenue", "incremental_purchase_prob"}
    if not need <= set(truth.columns):
        raise DataError(f"truth_response lacks columns {sorted(need - set(truth.columns))}")
    extra = [c for c in ("incremental_margin", "discount_cost")
             if c in truth.columns and c in pred.columns]
    j = pred.merge(truth[[*need, *extra]], on=["customer_id", "promotion"],
                   suffixes=("", "_true"), how="inner")
    if j.empty:
        raise DataError("no (customer, promotion) pair of the predictions is in truth_response")

    def pair(a: pd.Series, b: pd.Series) -> tuple[float | None, float | None]:
        tot = float(b.sum())
        return spearman(a, b), (float(a.sum() / tot) if tot else None)

    def stats(g: pd.DataFrame) -> dict[str, Any]:
        out: dict[str, Any] = {"pairs": int(len(g))}
        out["spearman_revenue"], out["ratio_revenue"] = pair(g["incremental_revenue"],
                                                             g["incremental_revenue_true"])
        out["spearman_prob"], out["ratio_prob"] = pair(g["incremental_prob"],
                                                       g["incremental_purchase_prob"])
        for c in extra:
            name = c.split("_", 1)[1] if c.startswith("incremental_") else c
            out[f"spearman_{name}"], out[f"ratio_{name}"] = pair(g[c], g[f"{c}_true"])
        if "incremental_spend" in g:
            out["spearman_spend"], out["ratio_spend"] = pair(g["incremental_spend"],
                                                             g["incremental_revenue_true"])
        return out

    return {"all": stats(j),
            "promotions": {p: stats(g) for p, g in j.groupby("promotion", sort=True)}}
