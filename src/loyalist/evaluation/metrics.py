"""Out-of-time metrics for churn scores and spend predictions, as plain JSON-able dicts.

Ranking metrics break ties in the score by row order (a stable sort), so every number here is
deterministic. Definitions:

- **lift at a fraction** ``q``: mean outcome of the top ``ceil(q n)`` rows by score divided by the
  mean outcome of all rows. For a 0/1 outcome this is the response rate of the top decile over
  the base rate; for spend it is the share of total spend captured by the top decile over ``q``
  (so it is at most ``1/q``).
- **normalised Gini** (the Kaggle / Allstate definition): order rows by prediction (descending),
  ``G(a, p) = sum_i (cumsum(a)_i / sum(a)) / n - (n + 1) / (2 n)``, normalised by ``G(a, a)``;
  1 is a perfect ordering, 0 is random.
- **Brier score**: mean squared difference between a probability and the 0/1 outcome
  (Brier 1950).
- **decile calibration**: rows split into ten groups of equal size by predicted value (ties by
  row order); per group the mean prediction, the mean outcome and the count.
"""

from __future__ import annotations

import math
import os

# LightGBM stalls after scikit-learn's OpenMP work unless OpenMP threads wait passively; the
# variable is read when the OpenMP runtime loads, so set it before scikit-learn is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
from scipy.stats import spearmanr  # noqa: E402
from sklearn.metrics import average_precision_score, roc_auc_score  # noqa: E402

from loyalist.errors import DataError  # noqa: E402

__all__ = [
    "brier", "churn_metrics", "clv_metrics", "cumulative_gains", "decile_calibration",
    "lift_at", "normalized_gini", "pr_auc", "roc_auc",
]


def _arrays(y: Any, score: Any, name: str = "score") -> tuple[np.ndarray, np.ndarray]:
    yy = np.asarray(y, dtype=float).ravel()
    ss = np.asarray(score, dtype=float).ravel()
    if yy.shape != ss.shape:
        raise DataError(f"{name}: {ss.size:,} predictions for {yy.size:,} outcomes; "
                        "pass one prediction per customer")
    if yy.size == 0:
        raise DataError(f"{name}: no rows to evaluate")
    if not np.isfinite(ss).all():
        bad = int((~np.isfinite(ss)).sum())
        raise DataError(f"{name}: {bad:,} of {ss.size:,} predictions are NaN or infinite, "
                        f"e.g. row {int(np.flatnonzero(~np.isfinite(ss))[0])}")
    return yy, ss


def _order_desc(score: np.ndarray) -> np.ndarray:
    """Row indices by score, highest first; ties keep row order."""
    return np.argsort(-score, kind="stable")


def _binary(y: np.ndarray, what: str) -> None:
    if not np.isin(y, (0.0, 1.0)).all():
        raise DataError(f"{what}: the outcome must be 0/1")
    if y.min() == y.max():
        raise DataError(f"{what}: every outcome is {int(y[0])}; ROC-AUC and PR-AUC need both "
                        "churners and non-churners in the test period")


def roc_auc(y: Any, score: Any) -> float:
    """Area under the ROC curve of a 0/1 outcome against a score (ties count one half)."""
    yy, ss = _arrays(y, score)
    _binary(yy, "roc_auc")
    return float(roc_auc_score(yy, ss))


def pr_auc(y: Any, score: Any) -> float:
    """Average precision (the step-wise area under the precision-recall curve)."""
    yy, ss = _arrays(y, score)
    _binary(yy, "pr_auc")
    return float(average_precision_score(yy, ss))


def brier(y: Any, prob: Any) -> float:
    """Mean squared error of probabilities against 0/1 outcomes (Brier 1950)."""
    yy, pp = _arrays(y, prob, "probability")
    if ((pp < 0) | (pp > 1)).any():
        raise DataError("brier: probabilities must lie in [0, 1]")
    return float(np.mean((pp - yy) ** 2))


def lift_at(y: Any, score: Any, fraction: float = 0.1) -> float:
    """Mean outcome in the top ``fraction`` of rows by score over the overall mean outcome."""
    yy, ss = _arrays(y, score)
    if not 0 < fraction <= 1:
        raise DataError(f"lift fraction {fraction!r} must be in (0, 1]")
    mean = yy.mean()
    if mean == 0:
        return float("nan")
    k = max(1, math.ceil(fraction * yy.size - 1e-9))
    top = yy[_order_desc(ss)[:k]]
    return float(top.mean() / mean)


def _gini(actual: np.ndarray, pred: np.ndarray) -> float:
    n = actual.size
    total = actual.sum()
    if total == 0:
        return float("nan")
    a = actual[_order_desc(pred)]
    return float(np.cumsum(a).sum() / total / n - (n + 1) / (2 * n))


def normalized_gini(actual: Any, pred: Any) -> float:
    """Gini of the ordering by ``pred`` over the Gini of the perfect ordering (1 = perfect)."""
    a, p = _arrays(actual, pred)
    best = _gini(a, a)
    if not np.isfinite(best) or best == 0:
        return float("nan")
    return _gini(a, p) / best


def decile_calibration(y: Any, pred: Any, n_bins: int = 10) -> list[dict[str, float]]:
    """Equal-count bins by prediction (lowest first): mean prediction, mean outcome, count."""
    yy, pp = _arrays(y, pred)
    order = np.argsort(pp, kind="stable")
    out = []
    for i, idx in enumerate(np.array_split(order, min(n_bins, yy.size))):
        if idx.size:
            out.append({"bin": i + 1, "mean_predicted": float(pp[idx].mean()),
                        "mean_observed": float(yy[idx].mean()), "count": int(idx.size)})
    return out


def cumulative_gains(y: Any, score: Any, points: int = 20) -> list[dict[str, float]]:
    """Share of all outcome captured by the top x of rows by score, at ``points`` even steps."""
    yy, ss = _arrays(y, score)
    total = yy.sum()
    cum = np.concatenate([[0.0], np.cumsum(yy[_order_desc(ss)])])
    out = []
    for j in range(points + 1):
        k = round(j / points * yy.size)
        out.append({"fraction": j / points,
                    "captured": float(cum[k] / total) if total else float("nan")})
    return out


def _finite(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def churn_metrics(y: Any, score: Any, *, probability: bool = True) -> dict[str, Any]:
    """ROC-AUC, PR-AUC, top-decile lift, and (if ``score`` is a probability) Brier score."""
    yy, ss = _arrays(y, score)
    out: dict[str, Any] = {
        "roc_auc": roc_auc(yy, ss), "pr_auc": pr_auc(yy, ss),
        "lift_top_decile": lift_at(yy, ss, 0.1), "n": int(yy.size),
        "base_rate": float(yy.mean()),
    }
    out["brier"] = brier(yy, ss) if probability else None
    return out


def clv_metrics(actual: Any, pred: Any) -> dict[str, Any]:
    """MAE, RMSE, Spearman, normalised Gini, top-decile lift and the error of the total."""
    a, p = _arrays(actual, pred, "prediction")
    total_a, total_p = float(a.sum()), float(p.sum())
    rho = spearmanr(p, a).statistic if np.ptp(p) > 0 and np.ptp(a) > 0 else float("nan")
    return {
        "mae": float(np.mean(np.abs(p - a))),
        "rmse": float(np.sqrt(np.mean((p - a) ** 2))),
        "spearman": _finite(float(rho)),
        "gini_normalized": _finite(normalized_gini(a, p)),
        "lift_top_decile": _finite(lift_at(a, p, 0.1)),
        "total_actual": total_a, "total_predicted": total_p,
        "total_error": (total_p - total_a) / total_a if total_a else None,
        "n": int(a.size),
    }
