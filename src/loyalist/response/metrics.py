"""Uplift evaluation metrics on a randomised test set: Qini and uplift curves, their areas, and
uplift at the top k%.

Rows are sorted by score, highest first; rows with equal scores form one group (the curve has
a point only after each whole group, so the order of ties does not matter). After the first
``k`` rows, with ``N_T(k)``, ``N_C(k)`` treated and control rows and ``Y_T(k)``, ``Y_C(k)`` their
summed outcomes:

- **Qini curve** (Radcliffe 2007, "Using control groups to target on predicted lift"):
  ``Q(k) = Y_T(k) - Y_C(k) N_T(k) / N_C(k)``: incremental outcomes among the targeted treated
  rows (the control term is 0 while ``N_C(k) = 0``, as scikit-uplift does).
- **Uplift curve** (Rzepakowski & Jaroszewicz 2012): ``U(k) = (Y_T(k)/N_T(k) - Y_C(k)/N_C(k))
  * k``: incremental outcomes had all ``k`` targeted rows been treated (a mean over an empty
  arm counts as 0).
- **Qini coefficient**: the area between the Qini curve and the random-targeting diagonal from
  ``(0, 0)`` to ``(1, Q(n))``, with the x axis the fraction targeted and the curve divided by
  ``n`` (incremental outcomes per row scored), by the trapezoidal rule. Random targeting scores
  0 in expectation; higher is better; it is in outcome units per row (purchases, currency).
- **AUUC**: the area under ``U(k) / n`` the same way (random targeting: ``U(n) / (2n)``);
  ``auuc_gain`` is the area above random.
- **uplift at k** (Gutierrez & Gerardy 2017; scikit-uplift ``uplift_at_k``, strategy
  "overall"): mean treated outcome minus mean control outcome among the top ``ceil(k n)`` rows
  (ties by row order), ``nan`` if an arm is empty there.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from loyalist.errors import DataError, ParameterError

__all__ = ["auuc", "qini_coefficient", "qini_curve", "uplift_at_k", "uplift_report"]


def _arrays(y: Any, treated: Any, score: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    yy = np.asarray(y, dtype=float).ravel()
    tt = np.asarray(treated).ravel()
    ss = np.asarray(score, dtype=float).ravel()
    if not len(yy) == len(tt) == len(ss):
        raise DataError(f"uplift metrics: y, treated and score differ in length "
                        f"({len(yy)}, {len(tt)}, {len(ss)})")
    if len(yy) == 0:
        raise DataError("uplift metrics: no rows to evaluate")
    if not np.isin(tt, [0, 1, True, False]).all():
        raise DataError("uplift metrics: treated must be 0/1 (1 = received the promotion)")
    if not (np.isfinite(yy).all() and np.isfinite(ss).all()):
        raise DataError("uplift metrics: y and score must be finite (no NaN/inf)")
    return yy, tt.astype(bool), ss


def qini_curve(y: Any, treated: Any, score: Any) -> pd.DataFrame:
    """Points of the Qini and uplift curves after each group of tied scores (plus the origin):
    ``targeted`` (k), ``fraction`` (k / n), ``qini`` Q(k) and ``uplift`` U(k)."""
    yy, tt, ss = _arrays(y, treated, score)
    order = np.argsort(-ss, kind="stable")
    yy, tt, ss = yy[order], tt[order], ss[order]
    ends = np.r_[np.flatnonzero(np.diff(ss) != 0), len(ss) - 1]
    nt = np.cumsum(tt)[ends].astype(float)
    nc = np.cumsum(~tt)[ends].astype(float)
    yt = np.cumsum(yy * tt)[ends]
    yc = np.cumsum(yy * ~tt)[ends]
    k = ends + 1.0
    ratio = np.divide(nt, nc, out=np.zeros_like(nt), where=nc > 0)
    mt = np.divide(yt, nt, out=np.zeros_like(yt), where=nt > 0)
    mc = np.divide(yc, nc, out=np.zeros_like(yc), where=nc > 0)
    return pd.DataFrame({
        "targeted": np.r_[0.0, k], "fraction": np.r_[0.0, k / len(ss)],
        "qini": np.r_[0.0, yt - yc * ratio], "uplift": np.r_[0.0, (mt - mc) * k],
    })


def _trapezoid(x: np.ndarray, y: np.ndarray) -> float:
    return float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2.0))


def qini_coefficient(y: Any, treated: Any, score: Any) -> float:
    """Area between the Qini curve (per row scored) and the random diagonal (module doc)."""
    c = qini_curve(y, treated, score)
    n = float(c["targeted"].iloc[-1])
    q = c["qini"].to_numpy() / n
    return _trapezoid(c["fraction"].to_numpy(), q) - q[-1] / 2.0


def auuc(y: Any, treated: Any, score: Any) -> float:
    """Area under the uplift curve per row scored (random targeting: ``U(n) / (2n)``)."""
    c = qini_curve(y, treated, score)
    n = float(c["targeted"].iloc[-1])
    return _trapezoid(c["fraction"].to_numpy(), c["uplift"].to_numpy() / n)


def uplift_at_k(y: Any, treated: Any, score: Any, k: float = 0.3) -> float:
    """Treated minus control mean outcome in the top ``ceil(k n)`` rows by score."""
    if not 0 < k <= 1:
        raise ParameterError(f"k={k!r} is a fraction of rows targeted; use 0 < k <= 1")
    yy, tt, ss = _arrays(y, treated, score)
    top = np.argsort(-ss, kind="stable")[: math.ceil(k * len(ss))]
    t, c = tt[top], ~tt[top]
    if not t.any() or not c.any():
        return float("nan")
    return float(yy[top][t].mean() - yy[top][c].mean())


def _finite(v: float) -> float | None:
    return float(v) if np.isfinite(v) else None


def uplift_report(y: Any, treated: Any, scores: dict[str, Any], *, ks: tuple[float, ...] = (
        0.1, 0.3), random_trials: int = 20, random_state: int = 0) -> dict[str, Any]:
    """Qini coefficient, AUUC, AUUC gain and uplift@k for each named score, plus ``random``:
    the mean over ``random_trials`` random orderings, and ``random_qini_p90``, the 90th
    percentile of their Qini coefficients (how far luck alone goes on this test set)."""
    yy, tt, _ = _arrays(y, treated, np.zeros(len(np.asarray(y))))
    overall = float(yy[tt].mean() - yy[~tt].mean()) if tt.any() and (~tt).any() else np.nan
    out: dict[str, Any] = {"n_treated": int(tt.sum()), "n_control": int((~tt).sum()),
                           "observed_uplift": _finite(overall)}

    def one(score: Any) -> dict[str, float | None]:
        c = qini_curve(yy, tt, score)
        n = float(c["targeted"].iloc[-1])
        area_u = _trapezoid(c["fraction"].to_numpy(), c["uplift"].to_numpy() / n)
        row: dict[str, float | None] = {
            "qini": _finite(qini_coefficient(yy, tt, score)), "auuc": _finite(area_u),
            "auuc_gain": _finite(area_u - float(c["uplift"].iloc[-1]) / n / 2.0)}
        for k in ks:
            row[f"uplift_at_{round(k * 100)}"] = _finite(uplift_at_k(yy, tt, score, k))
        return row

    for name, sc in scores.items():
        out[name] = one(sc)
    rng = np.random.default_rng(random_state)
    rand = [one(rng.random(len(yy))) for _ in range(max(random_trials, 1))]
    keys = rand[0].keys()
    avg: dict[str, float | None] = {}
    for k in keys:
        vals = [r[k] for r in rand if r[k] is not None]
        avg[k] = float(np.mean(vals)) if vals else None
    out["random"] = avg
    out["random_qini_p90"] = _finite(float(np.quantile([r["qini"] or 0.0 for r in rand], 0.9)))
    return out
