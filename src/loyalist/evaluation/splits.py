"""Time splits: training cutoffs before a target cutoff, stacked feature/label panels, and the
model matrix the supervised models read.

The rule that keeps everything leak-free: a model that predicts at ``as_of`` is trained only on
cutoffs ``c`` whose label window ``[c, c + horizon)`` ends on or before ``as_of``, so no
transaction on or after ``as_of`` is read, neither as a feature nor as a label. The latest
such cutoff is ``as_of - horizon``; earlier ones step back by calendar months (or
``step_days``) while at least ``min_history_days`` of history precede them.

Three cutoffs matter in a run (see :func:`loyalist.evaluation.train.train_and_score`):

- **scoring** at ``as_of`` (usually the day after the last transaction): no label exists yet;
  models are trained on cutoffs whose windows end by ``as_of``;
- **evaluation** at ``as_of - horizon``: the last cutoff whose future is fully observed; the
  evaluation models are trained on cutoffs whose windows end by ``as_of - horizon``;
- inside every training set, the **latest training cutoff is held out** for early stopping and
  probability calibration. The same rule applies to it: the first-stage model is fitted only on
  the *inner* cutoffs, whose label windows end by the hold-out cutoff (a cutoff one month
  earlier would see, as its label, purchases inside the hold-out's label window by the same
  customers, and reward overfitting). The boosters are then refitted on all training cutoffs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from loyalist import schema as s
from loyalist.errors import DataError, DateRangeError, ParameterError, check_days
from loyalist.features import FEATURES, MAX_HORIZON_DAYS, customer_features, labels
from loyalist.store import Store, day_after

__all__ = ["CutoffPlan", "build_panel", "check_observed", "check_test_window", "fingerprint",
           "last_period",
           "last_period_spend",
           "model_matrix", "panel_horizon", "plan_cutoffs"]

#: how many days after the last purchase in the store an ``as_of`` may lie before the label
#: windows of the latest training cutoffs count as "not observed yet"
MAX_GAP_DAYS = 30


@dataclass(frozen=True)
class CutoffPlan:
    """Training cutoffs (oldest first) for a model that predicts at ``as_of``."""

    as_of: pd.Timestamp
    horizon_days: int
    cutoffs: tuple[pd.Timestamp, ...]
    first_purchase: pd.Timestamp
    min_history_days: int

    @property
    def holdout(self) -> pd.Timestamp:
        """The latest training cutoff: held out for early stopping and calibration."""
        return self.cutoffs[-1]

    @property
    def inner(self) -> tuple[pd.Timestamp, ...]:
        """The cutoffs the first-stage model is fitted on: label windows end by the hold-out."""
        return tuple(c for c in self.cutoffs if self.window_end(c) <= self.holdout)

    def window_end(self, cutoff: pd.Timestamp) -> pd.Timestamp:
        return cutoff + pd.Timedelta(days=self.horizon_days)

    def to_dict(self) -> dict[str, object]:
        return {"as_of": str(self.as_of), "horizon_days": self.horizon_days,
                "cutoffs": [str(c.date()) for c in self.cutoffs],
                "holdout_cutoff": str(self.holdout.date()),
                "inner_cutoffs": [str(c.date()) for c in self.inner],
                "label_windows_end_by": str(max(self.window_end(c) for c in self.cutoffs)),
                "min_history_days": self.min_history_days}


def plan_cutoffs(first_purchase: pd.Timestamp, as_of: pd.Timestamp, horizon_days: int, *,
                 step_days: int | None = None, max_cutoffs: int = 12,
                 min_history_days: int = 60, min_cutoffs: int = 2,
                 purpose: str = "training") -> CutoffPlan:
    """Cutoffs ``as_of - horizon``, then one calendar month (or ``step_days``) earlier each,
    while ``min_history_days`` of data precede them, at most ``max_cutoffs``.

    Raises :class:`DataError` naming the dates needed when fewer than ``min_cutoffs`` fit (one
    to train on and one held out, at least).
    """
    horizon_days = check_days(horizon_days, "horizon", max_days=MAX_HORIZON_DAYS, example=90)
    if step_days is not None and step_days < 1:
        raise ParameterError(f"step_days {step_days!r} must be >= 1 (or None for months)")
    if max_cutoffs < min_cutoffs or min_cutoffs < 1:
        raise ParameterError(f"max_cutoffs {max_cutoffs} must be >= min_cutoffs {min_cutoffs} "
                             ">= 1")
    first = pd.Timestamp(first_purchase).normalize()
    cuts = _grid_cutoffs(first, as_of, horizon_days, step_days, max_cutoffs, min_history_days,
                         min_cutoffs)
    if cuts is None:
        raise DataError(_too_short(first, pd.Timestamp(as_of), horizon_days, step_days,
                                   max_cutoffs, min_history_days, min_cutoffs, purpose))
    plan = CutoffPlan(pd.Timestamp(as_of), horizon_days, tuple(sorted(cuts)), first,
                      min_history_days)
    for c in plan.cutoffs:  # the invariant every test relies on
        assert plan.window_end(c) <= plan.as_of, (c, plan.as_of)
    return plan


def _grid(as_of: pd.Timestamp, horizon_days: int, step_days: int | None, k: int
          ) -> pd.Timestamp:
    """The ``k``-th training cutoff back from the latest, ``as_of - horizon``."""
    latest = pd.Timestamp(as_of) - pd.Timedelta(days=horizon_days)
    return pd.Timestamp(latest - pd.DateOffset(months=k) if step_days is None
                        else latest - pd.Timedelta(days=k * step_days))


def _grid_cutoffs(first: pd.Timestamp, as_of: pd.Timestamp, horizon_days: int,
                  step_days: int | None, max_cutoffs: int, min_history_days: int,
                  min_cutoffs: int) -> list[pd.Timestamp] | None:
    """The cutoffs of :func:`plan_cutoffs` (newest first), or None when too few fit."""
    latest = pd.Timestamp(as_of) - pd.Timedelta(days=horizon_days)
    cuts: list[pd.Timestamp] = []
    k = 0
    while len(cuts) < max_cutoffs and (_grid(as_of, horizon_days, step_days, k)
                                       - first).days >= min_history_days:
        cuts.append(_grid(as_of, horizon_days, step_days, k))
        k += 1
    inner = [c for c in cuts if c + pd.Timedelta(days=horizon_days) <= latest]
    if len(cuts) < min_cutoffs or len(inner) < min_cutoffs - 1:
        return None
    return cuts


def history_needed(as_of: pd.Timestamp, horizon_days: int, *, step_days: int | None = None,
                   min_history_days: int = 60, min_cutoffs: int = 2
                   ) -> tuple[pd.Timestamp, pd.Timestamp]:
    """(the oldest training cutoff needed, the first purchase date needed) for a model that
    predicts at ``as_of`` with ``horizon_days``: the ``(min_cutoffs - 1)``-th grid cutoff whose
    label window ends by the hold-out cutoff ``as_of - horizon``, less ``min_history_days``."""
    latest = pd.Timestamp(as_of) - pd.Timedelta(days=horizon_days)
    k, found = 0, 0
    while found < min_cutoffs - 1:
        k += 1
        if _grid(as_of, horizon_days, step_days, k) + pd.Timedelta(days=horizon_days) <= latest:
            found += 1
    oldest = _grid(as_of, horizon_days, step_days, k)
    return oldest, oldest - pd.Timedelta(days=min_history_days)


def _too_short(first: pd.Timestamp, as_of: pd.Timestamp, horizon_days: int,
               step_days: int | None, max_cutoffs: int, min_history_days: int,
               min_cutoffs: int, purpose: str) -> str:
    """Why no cutoff plan fits, with only the remedies that can work: a shorter horizon only
    when one fits the history; else how much history the models need and how much there is."""
    fits = [h for h in range(horizon_days - 1, 0, -1)
            if _grid_cutoffs(first, as_of, h, step_days, max_cutoffs, min_history_days,
                             min_cutoffs) is not None]
    if not fits:
        have = (as_of - first).days
        from_ = history_needed(as_of, 1, step_days=step_days, min_history_days=min_history_days,
                               min_cutoffs=min_cutoffs)[1]
        least = (as_of - from_).days
        apart = "a month" if step_days is None else f"{step_days} days"
        return (f"too short a history for {purpose} at {as_of.date()}, whatever the horizon: "
                f"the churn and value models need at least {least} days of history before "
                f"as_of (they learn from earlier cutoffs {apart} apart, each with "
                f"{min_history_days} days of "
                f"purchases before it, even with a 1-day horizon), and the data has {have} "
                f"day{'' if have == 1 else 's'} (first purchase {first.date()}). Load purchases "
                f"from {from_.date()} or earlier, or train again once the shop has {least} days "
                "of history")
    oldest, need_from = history_needed(as_of, horizon_days, step_days=step_days,
                                       min_history_days=min_history_days,
                                       min_cutoffs=min_cutoffs)
    latest = as_of - pd.Timedelta(days=horizon_days)
    what = (f"too short a history for {purpose} at {as_of.date()} with a {horizon_days}-day "
            f"horizon: training cutoffs need {horizon_days}-day label windows ending by "
            f"{as_of.date()} (the latest cutoff is {latest.date()}, held out for early stopping "
            f"and calibration) and at least {min_cutoffs - 1} earlier cutoff(s) whose windows "
            f"end by that hold-out (the oldest needed is {oldest.date()}), each with "
            f"{min_history_days} days of purchases before it: that needs purchases from "
            f"{need_from.date()} or earlier, i.e. {(as_of - need_from).days} days of history "
            f"before as_of; the first purchase is on {first.date()}")
    return (f"{what}. Use a horizon of at most {fits[0]} days, a later as_of, or load more "
            "history")


def check_observed(last_purchase: Any, as_of: pd.Timestamp, *,
                   why: str = "the label windows of the latest training cutoffs would cover "
                              "days with no data") -> None:
    """``as_of`` must not lie more than :data:`MAX_GAP_DAYS` beyond the data: label windows
    ending by it must be observed. ``last_purchase`` is the last purchase in the store (days
    up to it are observed, sales or not: a shop closed for a season has its closed days
    observed); ``why`` says what a later ``as_of`` would do, in the caller's terms."""
    last = pd.Timestamp(last_purchase)
    gap = (pd.Timestamp(as_of) - last).days
    # the latest midnight whose gap is at most MAX_GAP_DAYS whole days
    latest_ok = (last + pd.Timedelta(days=MAX_GAP_DAYS + 1) - pd.Timedelta(1)).date()
    if gap > MAX_GAP_DAYS:
        raise DateRangeError(
            f"as_of {pd.Timestamp(as_of).date()} is {gap} days after the last purchase in the "
            f"store ({last.date()}): {why}. Use an as_of up to {latest_ok}; the default, the "
            f"day after the last transaction ({day_after(last).date()}), shows the customers "
            "as the data leave them"
        )


def check_test_window(last_purchase: Any, as_of: pd.Timestamp, days: int, *,
                      option: str = "horizon") -> None:
    """A test window ``[as_of, as_of + days)`` must end by the day after the last purchase in
    the store: what is scored must have been observed. ``option`` names the window's length
    in the message (``horizon``, ``--test-days``)."""
    last = pd.Timestamp(last_purchase)
    data_end = day_after(last)
    end = pd.Timestamp(as_of) + pd.Timedelta(days=days)
    if end > data_end:
        latest = data_end - pd.Timedelta(days=days)
        raise DateRangeError(
            f"the window {pd.Timestamp(as_of).date()} + {days} days ends on {end.date()}, "
            f"after the last purchase in the store ({last.date()}): nothing to compare "
            f"against. Use an as_of up to {latest.date()} or a shorter {option}")


def build_panel(store: Store, cutoffs: tuple[pd.Timestamp, ...] | list[pd.Timestamp],
                horizon_days: int, *, progress: Callable[[str], None] | None = None
                ) -> pd.DataFrame:
    """Features at each cutoff joined with that cutoff's labels, stacked (column ``as_of``);
    ``progress`` hears of each cutoff."""
    frames = []
    for i, c in enumerate(cutoffs, 1):
        if progress is not None:
            progress(f"  training panel: cutoff {i}/{len(cutoffs)} ({c.date()})")
        f = customer_features(store, c)
        lab = labels(store, c, horizon_days)[[s.CUSTOMER_ID, "horizon_days", "churned",
                                               "future_spend", "future_orders",
                                               "future_order_days"]]
        frames.append(f.merge(lab, on=s.CUSTOMER_ID, how="left", validate="one_to_one"))
    panel = pd.concat(frames, ignore_index=True)
    if panel["churned"].isna().any():  # labels' population equals features' by construction
        raise DataError("labels are missing for some customers of the training panel; the "
                        "features and labels queries disagree on who is a customer")
    panel["churned"] = panel["churned"].astype(bool)
    return panel


def require_panel(panel: pd.DataFrame, columns: tuple[str, ...]) -> None:
    """A training panel has ``columns`` and at least one row (what every model's ``fit`` needs
    before it looks at the values)."""
    for col in columns:
        if col not in panel.columns:
            raise DataError(f"training panel: column {col!r} is missing; build it with "
                            "loyalist.evaluation.splits.build_panel")
    if len(panel) == 0:
        raise DataError("training panel: the panel is empty (no rows); build it with "
                        "loyalist.evaluation.splits.build_panel over cutoffs that have "
                        "customers")


def panel_horizon(panel: pd.DataFrame) -> int:
    """The one label horizon of a training panel (column ``horizon_days``)."""
    if "horizon_days" not in panel.columns:
        raise DataError("training panel: column 'horizon_days' is missing; build it with "
                        "loyalist.evaluation.splits.build_panel")
    values = pd.unique(panel["horizon_days"])
    if len(values) != 1:
        raise DataError(f"training panel: mixes label horizons {sorted(values)}; use one")
    return int(values[0])


def last_period(store: Store, features: pd.DataFrame, as_of: pd.Timestamp, horizon_days: int,
                label: str, so_far: pd.Series) -> np.ndarray:
    """Label ``label`` (e.g. ``future_spend``) over ``[as_of - horizon, as_of)`` per row of
    ``features`` (the "same as last period" baseline): from the labels at ``as_of - horizon``,
    and ``so_far`` (the whole history, aligned with ``features``) for customers whose first
    purchase is inside that window."""
    start = pd.Timestamp(as_of) - pd.Timedelta(days=horizon_days)
    prev = labels(store, start, horizon_days).set_index(s.CUSTOMER_ID)[label]
    out = features[s.CUSTOMER_ID].map(prev)
    new = features["first_purchase_at"] >= start
    out = out.where(~new, so_far)
    return out.fillna(0.0).to_numpy(dtype=float)


def last_period_spend(store: Store, features: pd.DataFrame, as_of: pd.Timestamp,
                      horizon_days: int) -> np.ndarray:
    """Gross spend in ``[as_of - horizon, as_of)`` per row of ``features``
    (:func:`last_period`)."""
    return last_period(store, features, as_of, horizon_days, "future_spend",
                       features["monetary_total"])


#: derived columns the boosters read besides ``FEATURES``
DERIVED: dict[str, str] = {
    "recency_over_ipi": "days since the last purchase over the mean gap between purchase days",
    "orders_per_month": "orders per 30.44 days of tenure (tenure at least 30 days)",
    "spend_per_month": "gross spend per 30.44 days of tenure (tenure at least 30 days)",
}


def model_matrix(frame: pd.DataFrame) -> pd.DataFrame:
    """The boosters' input: every feature of ``FEATURES`` plus ``DERIVED``, as floats rounded
    to 1e-6 (DuckDB's parallel float sums can differ in the last bit between two stores holding
    the same rows; rounding keeps such noise from moving a split, so the same data gives the
    same model)."""
    missing = [c for c in FEATURES if c not in frame.columns]
    if missing:
        raise DataError(f"features: columns {missing} are missing; compute the frame with "
                        "loyalist.features.customer_features")
    try:
        x = frame[list(FEATURES)].astype(float).copy()
    except (TypeError, ValueError):
        for col in FEATURES:
            wrong = pd.to_numeric(frame[col], errors="coerce").isna() & frame[col].notna()
            if wrong.any():
                raise DataError(
                    f"features: column {col} (dtype {frame[col].dtype}): "
                    f"{int(wrong.sum()):,} of {len(frame):,} values are not numbers, e.g. "
                    f"{frame.loc[wrong, col].iloc[0]!r}; compute the frame with "
                    "loyalist.features.customer_features") from None
        raise
    ipi = x["ipi_mean_days"].where(x["ipi_mean_days"] > 0)
    x["recency_over_ipi"] = x["recency_days"] / ipi
    months = np.maximum(x["tenure_days"], 30.0) / 30.44
    x["orders_per_month"] = x["orders"] / months
    x["spend_per_month"] = x["monetary_total"] / months
    return x.round(6).reset_index(drop=True)


def fingerprint(*frames: pd.DataFrame) -> str:
    """A sha256 over the values of the frames (row order and column names included)."""
    h = hashlib.sha256()
    for f in frames:
        h.update(",".join(map(str, f.columns)).encode())
        h.update(pd.util.hash_pandas_object(f, index=False).to_numpy().tobytes())
    return h.hexdigest()


#: how far from "a year before the predicted window" a training cutoff may lie to stand for it
SEASON_TOLERANCE_DAYS = 20


def year_earlier_cutoff(cut: pd.Series, horizon: int) -> tuple[pd.Timestamp | None, str | None]:
    """The training cutoff that stands for the scored window a year earlier: the window after
    the latest cutoff ``h`` is ``[h + horizon, h + 2 horizon)``, so the cutoff nearest
    ``h + horizon - 365 days`` (within :data:`SEASON_TOLERANCE_DAYS`, and before ``h``).
    Returns ``(cutoff, None)``, or ``(None, why)`` when no cutoff lies a year back (a
    history of under about 14 months). The churn model's and the lifetime value model's
    seasonal corrections both start here."""
    latest = cut.max()
    target = latest + pd.Timedelta(days=horizon) - pd.Timedelta(days=365)
    cutoffs = pd.DatetimeIndex(cut.unique())
    near = cutoffs[np.abs((cutoffs - target).days).argmin()]
    if abs((near - target).days) > SEASON_TOLERANCE_DAYS or near >= latest:
        return None, (f"no training cutoff a year before the scored window (near "
                      f"{target.date()}; the earliest is {cutoffs.min().date()}), so no "
                      "seasonal correction (it needs about 14 months of history)")
    return near, None
