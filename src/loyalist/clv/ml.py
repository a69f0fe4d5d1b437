"""Machine-learning lifetime value: gradient boosting on the customer features for the spend in
the next horizon (``future_spend`` of :func:`loyalist.features.labels`), with quantiles.

- The point model predicts the expected spend with a Poisson objective (log link): a
  quasi-likelihood for a non-negative mean that is exact-zero for many customers and
  right-skewed for the rest, whose fitted mean is unbiased in total on the training data
  (McCullagh & Nelder 1989, ch. 9). ``objective="tweedie"`` (compound Poisson-gamma,
  variance power 1.5; Jorgensen 1987) and ``"regression"`` (L2) are the alternatives. Poisson
  had the lower RMSE at the same ranking quality in an out-of-time check on Online Retail at a
  cutoff before the benchmark's test cutoff (2011-06-03); it is not tuned per data set.
- Three quantile models (pinball loss; Koenker & Bassett 1978) give the 10/50/90% quantiles;
  per customer the three predictions are sorted, so ``p10 <= p50 <= p90`` always holds
  (Chernozhukov, Fernandez-Val & Galichon 2010: sorting never worsens the estimates), and
  negatives are clipped to 0.
- The quantile models predict each customer's spend *relative to their own history*: the
  target is divided by the customer's history rate for one horizon (:func:`history_scale`,
  spend so far over ``max(tenure, horizon)`` days, times the horizon) and the predicted
  quantiles are multiplied back. The scale is a function of the features, so this is the same
  conditional quantile (quantiles are equivariant under a positive rescaling known from x;
  Koenker 2005, sec. 2.2), but what a tree leaf pools changes: a quantile leaf takes the
  alpha-quantile of its rows' residuals (LightGBM's quantile leaf renewal), and leaves hold
  at least ``min_child_samples`` rows, more than a few big accounts have at 12 cutoffs. On raw
  spend, three wholesalers' 36 rows in a 50-row leaf set that leaf's p50 and p90 for the
  ordinary customers sharing it (a 1,161 spender got p90 97,586, 80x his two years); on the
  ratio scale a wholesaler's "1.2x his usual quarter" is an ordinary number to share.
- The ratios are winsorised (Dixon 1960) at Tukey's far-out fence of the buyers' log ratios,
  ``Q3 + 3 IQR`` (Tukey 1977; :func:`quantile_cap`): a robust quantile rule, unit-free and
  unmoved by any number of big accounts below a quarter of the buyers, that caps only a
  customer who suddenly spends many times his own history (e.g. a trial order, then
  wholesale). The point model keeps the raw targets, so its total stays unbiased, and
  ``capped_customers_`` names the customers above the cap (their p90 is a floor).

Training follows :mod:`loyalist.evaluation.boosting`: a panel stacked over earlier cutoffs, the
latest held out for early stopping, then a refit on all cutoffs.
"""

from __future__ import annotations

import os

# LightGBM stalls (100 s instead of 4 s) after scikit-learn's OpenMP work unless OpenMP threads
# wait passively; this must be set before lightgbm (and its OpenMP runtime) is first imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import logging  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from loyalist import schema as s  # noqa: E402
from loyalist.errors import DataError, NotFittedError, ParameterError  # noqa: E402
from loyalist.evaluation.boosting import fit_with_holdout, parallel_map  # noqa: E402
from loyalist.evaluation.splits import (  # noqa: E402
    model_matrix,
    panel_horizon,
    require_panel,
    year_earlier_cutoff,
)

log = logging.getLogger(__name__)

__all__ = ["BoostedCLVModel"]

MIN_BUYERS = 20  # customers with future spend > 0 in the training panel
#: Tukey's far-out fence: the quantile models' ratio targets are capped at Q3 + CAP_IQR * IQR of
#: the buyers' log ratios (see :func:`quantile_cap`)
CAP_IQR = 3.0
TARGETS = ("future_spend", "future_orders", "future_order_days")
#: the history column each target is scaled by (:func:`history_scale`)
HISTORY = {"future_spend": "monetary_total", "future_orders": "orders",
           "future_order_days": "order_days"}


def history_scale(features: pd.DataFrame, horizon_days: int,
                  target: str = "future_spend") -> np.ndarray:
    """Each customer's own rate for one horizon: the target's history column (spend, orders
    or order days so far) over ``max(tenure_days, horizon_days)`` days, times the horizon. A
    customer newer than one horizon is scaled by what they have bought so far. A non-positive
    history (never in a store that quarantines zero prices) takes the median positive scale,
    so the ratio stays finite."""
    total = features[HISTORY[target]].to_numpy(dtype=float)
    tenure = features["tenure_days"].to_numpy(dtype=float)
    scale = total * horizon_days / np.maximum(np.nan_to_num(tenure, nan=0.0), horizon_days)
    good = np.isfinite(scale) & (scale > 0)
    if not good.all():
        scale = np.where(good, scale, float(np.median(scale[good])) if good.any() else 1.0)
    return scale


def season_factor(pred: np.ndarray, y: np.ndarray, cut: pd.Series, horizon: int
                  ) -> tuple[float, str | None, str | None]:
    """Seasonality for the window the model predicts, the one after the latest cutoff: the
    features say nothing of the season, so a beach shop got its summer's spend forecast in
    November (exploratory report 10: 65,913 for a window that had sold 3,246-5,219 in each
    earlier year). When the panel holds the cutoff a year before the predicted window
    (:func:`~loyalist.evaluation.splits.year_earlier_cutoff`), the forecasts are multiplied by
    how much that window a year earlier bought against the model's own level there: ``(actual
    + m) / (predicted + m)`` over the cutoff's customers, with ``pred`` the final model's
    in-sample predictions of the panel's rows and ``m`` one buyer's mean spend in a window,
    so a window where (almost) nobody bought gives a small factor, not zero.

    Unlike the churn model's :func:`~loyalist.churn.model.season_shift`, the ratio is not
    taken relative to the latest window's: the churn calibrator is fitted on the latest
    window, so its level is that season's, but the point model's level is the mean over all
    its training cutoffs, a year of seasons. Measured out of time (``bench_churn_season.py``,
    48 windows of generated stores with such a cutoff): the error of the total, median 11.3%
    -> 5.8% (better in 32 windows, worse in 16), where the ratio relative to the latest
    window's gave 7.8% and doubled some electronics errors. Returns ``(factor, that cutoff,
    None)``, or ``(1.0, None, why)``."""
    near, why = year_earlier_cutoff(cut, horizon)
    if near is None:
        return 1.0, None, why
    m = float(y[y > 0].mean()) if (y > 0).any() else 0.0
    rows = (cut == near).to_numpy()
    return ((float(y[rows].sum()) + m) / (float(pred[rows].sum()) + m), str(near.date()),
            None)


def quantile_cap(ratio: np.ndarray, iqr_factor: float = CAP_IQR) -> float:
    """The level the quantile models' ratio targets are capped at: Tukey's far-out fence
    ``exp(Q3 + iqr_factor * IQR)`` of the log of the positive ratios (Tukey 1977, ch. 2), i.e.
    ``Q3 * (Q3 / Q1) ** 3``. Quartiles of the buyers' rows do not move for a handful of
    extreme customers, however many up to a quarter of the buyers; ``inf`` (no cap) with
    fewer than :data:`MIN_BUYERS` positive ratios."""
    r = np.asarray(ratio, dtype=float)
    r = r[np.isfinite(r) & (r > 0)]
    if r.size < MIN_BUYERS:
        return float("inf")
    q1, q3 = np.quantile(np.log(r), [0.25, 0.75])
    return float(np.exp(q3 + iqr_factor * (q3 - q1)))


class BoostedCLVModel:
    """Spend in the next horizon: a Poisson point model plus quantile models.

    Parameters
    ----------
    quantiles:
        Quantile levels, strictly increasing in (0, 1); default ``(0.1, 0.5, 0.9)``.
    objective:
        Point-model objective: ``"poisson"`` (default), ``"tweedie"`` or ``"regression"`` (L2).
    params:
        LightGBM parameters overriding :data:`loyalist.evaluation.boosting.BOOSTER_DEFAULTS`.
    target:
        The label predicted: ``"future_spend"`` (default, gross spend), ``"future_orders"`` or
        ``"future_order_days"`` (distinct purchase days, the BG/NBD "transaction").
    random_state, n_jobs:
        Passed to LightGBM (one thread by default: fast enough here, same model everywhere).
    workers:
        Boosters (the point model and each quantile) fitted at once, in threads; None = one
        per CPU. Each is seeded alike whatever the order, so the model does not depend on it.

    Learned attributes: ``point_``, ``quantile_models_`` ({level: booster}), ``columns_``,
    ``n_rounds_`` ({"point": n, level: n}), ``train_cutoffs_``, ``holdout_cutoff_``,
    ``n_train_``, ``horizon_days_``, ``quantile_cap_`` (the cap on the quantile models' ratio
    targets, see :func:`quantile_cap`), ``capped_customers_`` ({customer: highest ratio of
    a window's target to their own :func:`history_scale`} above it), and ``season_factor_``,
    ``season_cutoff_``, ``season_note_`` (:func:`season_factor`: every forecast's seasonal
    multiplier, the cutoff a year back it came from, or why there is none).
    """

    def __init__(self, *, quantiles: tuple[float, ...] = (0.1, 0.5, 0.9),
                 objective: str = "poisson", params: dict[str, Any] | None = None,
                 target: str = "future_spend", random_state: int = 0,
                 n_jobs: int | None = 1, workers: int | None = None) -> None:
        self.quantiles = quantiles
        self.objective = objective
        self.target = target
        self.workers = workers
        self.params = params
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _validate(self) -> tuple[float, ...]:
        q = tuple(float(v) for v in self.quantiles)
        if not q or any(not 0 < v < 1 for v in q) or list(q) != sorted(set(q)):
            raise ParameterError(f"quantiles {self.quantiles!r}: use strictly increasing "
                                 "levels in (0, 1), e.g. (0.1, 0.5, 0.9)")
        if self.objective not in ("tweedie", "poisson", "regression"):
            raise ParameterError(f"objective {self.objective!r}: use 'tweedie', 'poisson' or "
                                 "'regression'")
        if self.target not in TARGETS:
            raise ParameterError(f"target {self.target!r}: use one of {', '.join(TARGETS)}")
        return q

    def fit(self, panel: pd.DataFrame) -> BoostedCLVModel:
        """Fit on a panel with the feature columns, ``as_of`` and the target column."""
        levels = self._validate()
        require_panel(panel, ("as_of", s.CUSTOMER_ID, self.target))
        y = panel[self.target].to_numpy(dtype=float)
        if not np.isfinite(y).all():
            raise DataError(f"training panel: {self.target} has NaN or infinite values")
        buyers = int((y > 0).sum())
        if buyers < MIN_BUYERS:
            raise DataError(f"training panel: {buyers} of {y.size:,} customer-cutoffs bought "
                            f"anything in the label window; the model needs at least "
                            f"{MIN_BUYERS}. Use a longer history or horizon")
        y = np.maximum(y, 0.0)  # gross purchase value; never negative, but be safe
        horizon = panel_horizon(panel)
        x = model_matrix(panel)
        extra = dict(self.params or {})
        scale = history_scale(panel, horizon, self.target)
        ratio = y / scale
        cap = quantile_cap(ratio[y > 0])
        above = pd.Series(ratio).groupby(panel[s.CUSTOMER_ID].to_numpy(), sort=False).max()
        self.horizon_days_ = int(horizon)
        self.quantile_cap_ = cap
        self.capped_customers_ = {str(k): float(v) for k, v in
                                  above[above > cap].sort_values(ascending=False).items()}
        y_capped = np.minimum(ratio, cap)
        specs: list[tuple[dict[str, Any], np.ndarray]] = [
            ({**extra, "objective": self.objective}, y)] + [
            ({**extra, "objective": "quantile", "alpha": q}, y_capped) for q in levels]
        fits = parallel_map(
            lambda spec: fit_with_holdout(x, spec[1], panel["as_of"], horizon_days=horizon,
                                          kind="regressor", params=spec[0],
                                          random_state=self.random_state, n_jobs=self.n_jobs),
            specs, self.workers)
        self.point_ = fits[0].model
        self.n_rounds_: dict[str, int] = {"point": fits[0].best_iteration}
        self.quantile_models_: dict[float, Any] = {}
        for q, fit in zip(levels, fits[1:], strict=True):
            self.quantile_models_[q] = fit.model
            self.n_rounds_[f"p{round(q * 100)}"] = fit.best_iteration
        self.columns_ = list(x.columns)
        cut = pd.to_datetime(panel["as_of"])
        self.season_factor_, self.season_cutoff_, self.season_note_ = season_factor(
            np.maximum(self.point_.predict(x), 0.0), y, cut, horizon)
        self.train_cutoffs_ = [str(c.date()) for c in sorted(cut.unique())]
        self.holdout_cutoff_ = str(cut.max().date())
        self.n_train_ = int(len(panel))
        log.info("clv: %d rows over %d cutoffs, rounds %s", self.n_train_,
                 len(self.train_cutoffs_), self.n_rounds_)
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "point_"):
            raise NotFittedError("this BoostedCLVModel is not fitted yet; call fit(panel) "
                                 "first")

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        """Expected spend in the horizon, one per row of ``features``, with the seasonal
        factor (``season_factor_``) for the window after the latest cutoff."""
        self._check_fitted()
        return (np.maximum(self.point_.predict(model_matrix(features)[self.columns_]), 0.0)
                * getattr(self, "season_factor_", 1.0))

    def predict_quantiles(self, features: pd.DataFrame) -> pd.DataFrame:
        """One column per quantile (``clv_p10``, ...), sorted per row, clipped at 0."""
        self._check_fitted()
        x = model_matrix(features)[self.columns_]
        raw = np.column_stack([m.predict(x) for m in self.quantile_models_.values()])
        raw = np.maximum(np.sort(raw, axis=1), 0.0) * getattr(self, "season_factor_", 1.0)
        if hasattr(self, "horizon_days_"):  # saved by an older 0.1.0: learned raw targets
            raw = raw * history_scale(features, self.horizon_days_, self.target)[:, None]
        names = [f"clv_p{round(q * 100)}" for q in self.quantile_models_]
        return pd.DataFrame(raw, columns=names)

    def score(self, features: pd.DataFrame) -> pd.DataFrame:
        """``customer_id, clv_expected, clv_p10, clv_p50, clv_p90``."""
        self._check_fitted()
        if len(features) == 0:
            raise DataError("CLV scoring: the feature frame has no customers")
        out = self.predict_quantiles(features)
        out.insert(0, "clv_expected", self.predict(features))
        out.insert(0, s.CUSTOMER_ID, features[s.CUSTOMER_ID].to_numpy())
        return out
