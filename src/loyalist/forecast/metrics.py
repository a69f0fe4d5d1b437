"""Point and interval accuracy of a forecast, as fractions (0.082 = 8.2%).

All functions take equal-length arrays of actuals and forecasts; the caller chooses which days
count (the backtest passes only days the business was open, see :mod:`.closures`). NaN means
"undefined on these inputs" (e.g. MAPE when every actual is zero), never an error.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["coverage", "mape", "mase", "mase_scale", "smape"]

Array = npt.ArrayLike


def _pair(y: Array, f: Array) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(y, dtype=float)
    b = np.asarray(f, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"actuals {a.shape} and forecasts {b.shape} differ in shape")
    return a, b


def mape(y: Array, f: Array) -> float:
    """Mean absolute percentage error ``mean(|y - f| / |y|)`` over days with ``y != 0``
    (Hyndman & Koehler 2006, eq. 2); NaN if every actual is zero."""
    a, b = _pair(y, f)
    keep = a != 0
    if not keep.any():
        return float("nan")
    return float(np.mean(np.abs(a[keep] - b[keep]) / np.abs(a[keep])))


def smape(y: Array, f: Array) -> float:
    """Symmetric MAPE ``mean(2 |y - f| / (|y| + |f|))``, between 0 and 2; a day where both are
    zero counts as a perfect 0 (Makridakis 1993; the M4 definition)."""
    a, b = _pair(y, f)
    if a.size == 0:
        return float("nan")
    den = np.abs(a) + np.abs(b)
    term = np.divide(2 * np.abs(a - b), den, out=np.zeros_like(den), where=den > 0)
    return float(np.mean(term))


def mase_scale(y_train: Array, m: int) -> float:
    """In-sample mean absolute error of the seasonal naive forecast with period ``m``:
    ``mean(|y_t - y_{t-m}|)`` (the MASE denominator); NaN if too short or zero."""
    t = np.asarray(y_train, dtype=float)
    if m < 1 or t.size <= m:
        return float("nan")
    s = float(np.mean(np.abs(t[m:] - t[:-m])))
    return s if s > 0 else float("nan")


def mase(y: Array, f: Array, y_train: Array | None = None, m: int = 7, *,
         scale: float | None = None) -> float:
    """Mean absolute scaled error ``mean(|y - f|) / mean(|y_t - y_{t-m}|)`` with the denominator
    from the training series (Hyndman & Koehler 2006, eq. 9, seasonal form). Pass ``scale`` to
    reuse a precomputed denominator."""
    a, b = _pair(y, f)
    if scale is None:
        if y_train is None:
            raise ValueError("mase needs y_train (or a precomputed scale)")
        scale = mase_scale(y_train, m)
    if a.size == 0 or not np.isfinite(scale) or scale <= 0:
        return float("nan")
    return float(np.mean(np.abs(a - b)) / scale)


def coverage(y: Array, lo: Array, hi: Array) -> float:
    """Share of actuals inside the closed interval ``[lo, hi]``; NaN on empty input."""
    a = np.asarray(y, dtype=float)
    lo_ = np.asarray(lo, dtype=float)
    hi_ = np.asarray(hi, dtype=float)
    if a.size == 0:
        return float("nan")
    return float(np.mean((a >= lo_) & (a <= hi_)))
