"""Prediction intervals by split conformal prediction on rolling-origin errors.

For a forecast made at origin ``o`` the errors of the same model on the same series in the
``n_cal`` most recent backtest windows that ended by ``o`` are turned into relative scores
``z = |y - f| / s`` with ``s = max(|f|, 0.1 * level)`` (``level``: the mean absolute revenue
of the 4 weeks before that window's origin; the floor keeps days forecast near zero from
dividing by ~0). The interval at level ``a`` is ``f +/- q_a * s`` with ``q_a`` the
``ceil((n + 1) a)``-th smallest score (Vovk et al. 2005; Angelopoulos & Bates 2021, eq. 1).
Only open days count (by the calendar known at ``o``). Width grows with the forecast
(multiplicative noise, as in retail revenue) and does not depend on the model's own error
model, so every model's intervals are calibrated the same way. Lower bounds are clipped at the
lowest value of the history (0 for a series that was never negative); closed days get 0.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from loyalist.forecast.backtest import Round

__all__ = ["conformal_quantile", "interval_bounds"]

MIN_SCORES = 10    # fewer scores than this for a model: pool the series' scores of all models
SCALE_FLOOR = 0.1  # s = max(|f|, 0.1 * level)


def conformal_quantile(scores: np.ndarray, level: float) -> float:
    """The ``ceil((n + 1) * level)``-th smallest score (the largest if that exceeds ``n``);
    NaN for no scores. ``level`` is a fraction (0.95)."""
    z = np.sort(np.asarray(scores, dtype=float)[np.isfinite(scores)])
    if z.size == 0:
        return float("nan")
    k = int(np.ceil((z.size + 1) * level)) - 1
    return float(z[min(max(k, 0), z.size - 1)])


def _scale(f: np.ndarray, level: float) -> np.ndarray:
    lv = level if np.isfinite(level) else 0.0
    return np.maximum(np.abs(f), SCALE_FLOOR * abs(lv)) + 1e-12


def _scores(prior: Sequence[Round], target: Round, model: str, name: str, n_cal: int
            ) -> np.ndarray:
    prior = [r for r in prior if name in r.forecasts.get(model, {})][-n_cal:]
    cal = target.calendars[name]
    out = []
    for r in prior:
        f = r.forecasts[model][name]
        y = r.actual[name]
        keep = np.isfinite(y) & np.isfinite(f) & ~r.closed[name] & ~r.closed_by(cal)
        if keep.any():
            out.append(np.abs(y[keep] - f[keep]) / _scale(f[keep], r.level[name]))
    return np.concatenate(out) if out else np.zeros(0)


def interval_bounds(rounds: Sequence[Round], target: Round,
                    levels: Sequence[int] = (80, 95), n_cal: int = 4
                    ) -> dict[str, dict[str, dict[int, tuple[np.ndarray, np.ndarray]]]]:
    """``{model: {series: {level: (lo, hi)}}}`` for the forecasts of ``target``, calibrated on
    earlier ``rounds`` only (those whose windows ended by ``target.origin``)."""
    out: dict[str, dict[str, dict[int, tuple[np.ndarray, np.ndarray]]]] = {}
    prior = [r for r in rounds if r.origin + pd.Timedelta(days=r.horizon) <= target.origin]
    for name in target.calendars:
        by_model = {m: _scores(prior, target, m, name, n_cal) for m in target.forecasts
                    if name in target.forecasts[m]}
        pooled = np.concatenate(list(by_model.values())) if by_model else np.zeros(0)
        for model, sc in by_model.items():
            use = sc if sc.size >= MIN_SCORES else pooled
            f = target.forecasts[model][name]
            s = _scale(f, target.level[name])
            closed = target.closed[name]
            floor = target.floor[name]
            bounds = {}
            for lv in levels:
                q = conformal_quantile(use, lv / 100)
                lo = np.maximum(f - q * s, floor)
                hi = f + q * s
                lo[closed] = 0.0
                hi[closed] = 0.0
                bounds[lv] = (lo, hi)
            out.setdefault(model, {})[name] = bounds
    return out
