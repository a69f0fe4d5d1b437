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

The total of the first ``n`` days (:func:`total_bounds`) is calibrated the same way, one score
per earlier window: ``z = |sum y - sum f| / sum s`` over that window's first ``n`` calendar
days that are open (by both calendars, as above), the interval ``F +/- q_a * S`` with ``F`` the
sum of the forecast over the target's first ``n`` days and ``S`` the sum of its ``s`` over the
open ones. Summing the daily bounds instead assumes every day misses the same way at once: an
interval far wider than 80% of the total's. Only each window's *first* ``n`` days are scored,
the lead times the target's total has (errors grow with the lead), not every ``n``-day
sub-window, whose overlapping scores are not independent.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import pandas as pd

from loyalist.forecast.backtest import Round

__all__ = ["conformal_quantile", "fewest_scores", "interval_bounds", "total_bounds"]

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


def fewest_scores(level: float) -> int:
    """The fewest scores that give a ``level`` conformal quantile (19 for 0.95, 4 for 0.8):
    with ``n`` fewer, ``ceil((n + 1) * level) > n`` and :func:`conformal_quantile` returns
    the largest score where the bound is infinite, so the interval is the widest miss seen
    and holds the truth at most ``n / (n + 1)`` of the time, short of ``level``."""
    return int(np.ceil(level / (1.0 - level) - 1e-9))


def _scale(f: np.ndarray, level: float) -> np.ndarray:
    lv = level if np.isfinite(level) else 0.0
    return np.maximum(np.abs(f), SCALE_FLOOR * abs(lv)) + 1e-12


def _windows(prior: Sequence[Round], target: Round, model: str, name: str, n_cal: int
             ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, float]]:
    """``(forecast, actual, open, level)`` of ``model``'s ``n_cal`` latest earlier windows of
    series ``name``: ``open`` its days open by both the window's calendar and the target's."""
    cal = target.calendars[name]
    for r in [r for r in prior if name in r.forecasts.get(model, {})][-n_cal:]:
        yield (r.forecasts[model][name], r.actual[name], ~r.closed[name] & ~r.closed_by(cal),
               r.level[name])


def _scores(prior: Sequence[Round], target: Round, model: str, name: str, n_cal: int
            ) -> np.ndarray:
    out = []
    for f, y, is_open, level in _windows(prior, target, model, name, n_cal):
        keep = np.isfinite(y) & np.isfinite(f) & is_open
        if keep.any():
            out.append(np.abs(y[keep] - f[keep]) / _scale(f[keep], level))
    return np.concatenate(out) if out else np.zeros(0)


def _total_scores(prior: Sequence[Round], target: Round, model: str, name: str, n_cal: int,
                  n: int) -> np.ndarray:
    """One score per earlier window: the relative error of its first ``n`` days' total."""
    out = []
    for f, y, is_open, level in _windows(prior, target, model, name, n_cal):
        f, y, keep = f[:n], y[:n], is_open[:n]
        if keep.any() and np.isfinite(y[keep]).all() and np.isfinite(f[keep]).all():
            out.append(abs(y[keep].sum() - f[keep].sum()) / _scale(f[keep], level).sum())
    return np.asarray(out, dtype=float)


def _before(rounds: Sequence[Round], target: Round) -> list[Round]:
    """The rounds whose windows ended by ``target.origin`` (no leakage)."""
    return [r for r in rounds if r.origin + pd.Timedelta(days=r.horizon) <= target.origin]


def _calibration(by_model: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each model's scores, or the series' scores of all models pooled when it has fewer than
    :data:`MIN_SCORES`."""
    pooled = np.concatenate(list(by_model.values())) if by_model else np.zeros(0)
    return {m: sc if sc.size >= MIN_SCORES else pooled for m, sc in by_model.items()}


def interval_bounds(rounds: Sequence[Round], target: Round,
                    levels: Sequence[int] = (80, 95), n_cal: int = 4
                    ) -> dict[str, dict[str, dict[int, tuple[np.ndarray, np.ndarray]]]]:
    """``{model: {series: {level: (lo, hi)}}}`` for the forecasts of ``target``, calibrated on
    earlier ``rounds`` only (those whose windows ended by ``target.origin``)."""
    out: dict[str, dict[str, dict[int, tuple[np.ndarray, np.ndarray]]]] = {}
    prior = _before(rounds, target)
    for name in target.calendars:
        use_of = _calibration({m: _scores(prior, target, m, name, n_cal)
                               for m in target.forecasts if name in target.forecasts[m]})
        for model, use in use_of.items():
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


#: a forecast total, its intervals ({level: (lo, hi)}) and how many scores calibrated them
#: (None: every day of it is closed, so it is known and needs none)
Total = tuple[float, dict[int, tuple[float, float]], int | None]


def total_bounds(rounds: Sequence[Round], target: Round, days: Sequence[int],
                 levels: Sequence[int] = (80, 95), n_cal: int = 4
                 ) -> dict[str, dict[str, dict[int, Total]]]:
    """``{model: {series: {n: (total, {level: (lo, hi)}, scores)}}}``: the forecast total of
    ``target``'s first ``n`` days for each ``n`` of ``days`` within its horizon, with its
    conformal intervals, calibrated on earlier ``rounds`` only (those whose windows ended by
    ``target.origin``), and the number of scores behind them (:func:`fewest_scores` says
    when they are too few for a level; None for a total of closed days only, whose interval
    is the total itself). The lower bound is clipped at the series' floor times the open
    days."""
    out: dict[str, dict[str, dict[int, Total]]] = {}
    prior = _before(rounds, target)
    for name in target.calendars:
        models = [m for m in target.forecasts if name in target.forecasts[m]]
        for n in (d for d in days if d <= target.horizon):
            use_of = _calibration({m: _total_scores(prior, target, m, name, n_cal, n)
                                   for m in models})
            is_open = ~target.closed[name][:n]
            for model, use in use_of.items():
                f = target.forecasts[model][name][:n]
                total = float(f.sum())
                if not is_open.any():  # every day closed: the total is known, 0 wide
                    out.setdefault(model, {}).setdefault(name, {})[n] = (
                        total, {lv: (total, total) for lv in levels}, None)
                    continue
                s = float(_scale(f[is_open], target.level[name]).sum())
                low = target.floor[name] * int(is_open.sum())
                bounds = {}
                for lv in levels:
                    q = conformal_quantile(use, lv / 100)
                    bounds[lv] = (float(np.maximum(total - q * s, low)), total + q * s)
                out.setdefault(model, {}).setdefault(name, {})[n] = (
                    total, bounds, int(np.isfinite(use).sum()))
    return out
