"""Churn scored by a baseline ranking, for when it beat the boosted model out of time.

The out-of-time evaluation (:func:`loyalist.evaluation.out_of_time.evaluate`) compares the churn
model with three simple rankings of the same customers: days since the last purchase ("recency
only"), BG/NBD's probability of having dropped out (``1 - P(alive)``, Fader, Hardie & Lee 2005,
eq. 11) and BG/NBD's expected orders in the horizon (eq. 10, negated). When one of them finds
the churners of the test window better than the model by more than the margin
(:data:`~loyalist.evaluation.clv_check.BASELINE_MARGIN`), the scores use that ranking instead
(:class:`BaselineChurnModel`).

A ranking is not a probability: it is turned into one by a one-feature logistic model on a
transform of the baseline's score (log days since the last purchase; ``1 - P(alive)`` itself;
``log(1 + expected orders)``, negated), fitted on the churn model's own training panel, with:

- one intercept per training window (a stratified, or fixed-effects, logit: Hosmer, Lemeshow
  & Sturdivant, *Applied Logistic Regression*, 3rd ed., ch. 7), so the slope says how the
  ranking separates churners *within* a window, as the out-of-time ROC-AUC does, and not how
  windows' churn rates differ (a season);
- a slope constrained to be >= 0 (the log-likelihood is concave, so the constrained maximum is
  the slope 0 when the unconstrained one is negative): a calibrator keeps the ranking's order
  or, when the training windows rank churners backwards, gives everyone the same probability;
- the latest window's intercept as the level (as the churn model is calibrated on its latest
  training cutoff), moved by the same seasonal rule as the churn model
  (:func:`loyalist.churn.model._season_shift`).

Tiers cut the probability at the usual thresholds; reasons name the baseline's own input
("no purchase for 412 days", "BG/NBD: probability still active 0.12 ...").
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import expit

from loyalist.churn.model import check_thresholds, score_frame, season_shift, shift_log_odds, tier
from loyalist.churn.reasons import phrase
from loyalist.errors import DataError, NotFittedError, ParameterError
from loyalist.evaluation.splits import panel_horizon, require_panel
from loyalist.features import bg_inputs

log = logging.getLogger(__name__)

__all__ = ["BASELINES", "BaselineChurnModel", "baseline_score"]

#: the baselines of the out-of-time evaluation (keys of ``metrics["churn"]["models"]``) and
#: their names in plain words
BASELINES: dict[str, str] = {
    "recency_only": "recency only",
    "bgnbd_1_minus_p_alive": "BG/NBD 1 - P(alive)",
    "bgnbd_expected_orders": "BG/NBD expected orders",
}
_BGNBD = ("bgnbd_1_minus_p_alive", "bgnbd_expected_orders")
#: bounds of the windows' intercepts (log-odds) in the stratified fit
_MAX_LOGIT = 30.0


def _check_name(name: str) -> None:
    if name not in BASELINES:
        raise ParameterError(f"churn baseline {name!r}: use one of {sorted(BASELINES)}")


def baseline_score(name: str, features: pd.DataFrame, *, bgnbd: Any = None,
                   horizon_days: int | None = None) -> np.ndarray:
    """The baseline's churn score per row of ``features`` (higher = more likely to churn), as
    the out-of-time evaluation ranks by it: ``recency_days``; ``1 - P(alive)``; minus the
    expected orders in ``horizon_days``. The BG/NBD ones need the fitted ``bgnbd``."""
    _check_name(name)
    if name == "recency_only":
        return features["recency_days"].to_numpy(dtype=float)
    if bgnbd is None:
        raise DataError(f"churn baseline {BASELINES[name]}: no fitted BG/NBD model to score "
                        "it with (see the model card's notes for why BG/NBD was not fitted)")
    x, tx, t = bg_inputs(features)
    if name == "bgnbd_1_minus_p_alive":
        return 1.0 - np.asarray(bgnbd.probability_alive(x, tx, t), dtype=float)
    if horizon_days is None:
        raise ParameterError("baseline_score: horizon_days is needed for expected orders")
    return -np.asarray(bgnbd.expected_purchases(horizon_days, x, tx, t), dtype=float)


def _transform(name: str, score: np.ndarray) -> np.ndarray:
    """The calibrator's input: increasing in the score, on a scale where log-odds are about
    linear (days and counts are skewed: logs; a probability is kept)."""
    if name == "recency_only":
        return np.log1p(np.maximum(score, 0.0))
    if name == "bgnbd_expected_orders":
        return -np.log1p(np.maximum(-score, 0.0))
    return score


def _stratified_logit(z: np.ndarray, y: np.ndarray, group: np.ndarray, n_groups: int
                      ) -> tuple[float, np.ndarray]:
    """Maximum-likelihood slope (>= 0) and per-group intercepts of
    ``P(y = 1) = expit(a[group] + b z)``. ``z`` is standardised for the optimiser and the
    estimates mapped back."""
    mu, sd = float(z.mean()), float(z.std())
    sd = sd if sd > 0 else 1.0
    u = (z - mu) / sd

    def nll(theta: np.ndarray) -> tuple[float, np.ndarray]:
        eta = theta[1 + group] + theta[0] * u
        r = expit(eta) - y
        grad = np.empty_like(theta)
        grad[0] = r @ u
        grad[1:] = np.bincount(group, weights=r, minlength=n_groups)
        return float(np.sum(np.logaddexp(0.0, eta) - y * eta)), grad

    bounds = [(0.0, None)] + [(-_MAX_LOGIT, _MAX_LOGIT)] * n_groups
    res = minimize(nll, np.zeros(n_groups + 1), jac=True, method="L-BFGS-B", bounds=bounds)
    slope = float(res.x[0]) / sd
    return slope, res.x[1:] - slope * mu


class BaselineChurnModel:
    """A churn probability, tier and reasons from one baseline ranking (see the module).

    Parameters
    ----------
    baseline:
        ``"recency_only"``, ``"bgnbd_1_minus_p_alive"`` or ``"bgnbd_expected_orders"``
        (:data:`BASELINES`).
    thresholds:
        ``(medium, high)`` tier thresholds, as for :class:`~loyalist.churn.ChurnModel`.

    Learned attributes: ``slope_`` (log-odds per unit of the transformed score, >= 0),
    ``intercept_`` (the latest training window's), ``horizon_days_``, ``bgnbd_`` (the BG/NBD
    model it scores with, or None), ``train_cutoffs_``, ``holdout_cutoff_`` (the latest),
    ``n_train_``, ``latest_rate_`` (churn rate of the latest window), ``season_shift_``,
    ``season_cutoff_``, ``season_note_`` (as for the churn model), ``note_`` (when the
    training windows rank churners backwards by this baseline, so the slope is 0; else None).
    """

    def __init__(self, *, baseline: str, thresholds: tuple[float, float] = (0.4, 0.7)) -> None:
        self.baseline = baseline
        self.thresholds = thresholds

    def _validate(self) -> tuple[float, float]:
        _check_name(self.baseline)
        return check_thresholds(self.thresholds)

    @property
    def label(self) -> str:
        """The baseline in plain words, e.g. "recency only"."""
        return BASELINES.get(self.baseline, self.baseline)

    def fit(self, panel: pd.DataFrame, *, bgnbd: Any = None) -> BaselineChurnModel:
        """Fit on the churn model's training panel (features, ``as_of``, ``churned``); the
        BG/NBD baselines score with ``bgnbd`` (fitted at the cutoff scored)."""
        self._validate()
        require_panel(panel, ("as_of", "churned"))
        if self.baseline in _BGNBD and bgnbd is None:
            raise DataError(f"churn baseline {self.label}: BG/NBD was not fitted at this "
                            "cutoff, so it cannot score")
        horizon = panel_horizon(panel)
        y = panel["churned"].to_numpy(dtype=float)
        z = _transform(self.baseline, baseline_score(self.baseline, panel, bgnbd=bgnbd,
                                                     horizon_days=horizon))
        cut = pd.to_datetime(panel["as_of"]).reset_index(drop=True)
        days, group = np.unique(cut.to_numpy(), return_inverse=True)
        n = np.bincount(group)
        churned = np.bincount(group, weights=y)
        # a window with one outcome only says nothing about the ranking within it
        both = (churned > 0) & (churned < n)
        latest = len(days) - 1
        if not both[latest]:
            raise DataError(f"churn baseline {self.label}: the latest training window "
                            f"({pd.Timestamp(days[latest]).date()}) has only "
                            f"{'churners' if churned[latest] else 'customers who bought again'}"
                            "; its level cannot be measured")
        keep = both[group]
        index = np.cumsum(both) - 1  # window -> its position among the kept windows
        slope, intercepts = _stratified_logit(z[keep], y[keep], index[group[keep]],
                                              int(both.sum()))
        self.slope_ = slope
        self.intercept_ = float(intercepts[-1])
        self.horizon_days_ = horizon
        self.bgnbd_ = bgnbd if self.baseline in _BGNBD else None
        self.train_cutoffs_ = [str(pd.Timestamp(d).date()) for d in days]
        self.holdout_cutoff_ = self.train_cutoffs_[-1]
        self.n_train_ = int(len(panel))
        self.latest_rate_ = float(churned[latest] / n[latest])
        self.season_shift_, self.season_cutoff_, self.season_note_ = season_shift(
            lambda rows: self._level(z[np.asarray(rows)]), y.astype(int), cut, horizon)
        self.note_ = None
        if slope <= 1e-9:
            moved = (f", moved by the season a year earlier ({self.season_shift_:+.2f} on the "
                     "log-odds scale)" if self.season_shift_ else "")
            self.note_ = (f"the training windows do not rank churners by {self.label} (its "
                          "fitted slope is 0: they rank them backwards, if at all), so every "
                          "customer gets the same probability: the latest training window's "
                          f"churn rate {self.latest_rate_:.1%}{moved}")
        log.info("churn scored by %s: slope %.3f, latest window %s (churn %.1f%%), season "
                 "shift %.2f", self.label, self.slope_, self.holdout_cutoff_,
                 100 * self.latest_rate_, self.season_shift_)
        return self

    # -- predictions ----------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "slope_"):
            raise NotFittedError("this BaselineChurnModel is not fitted yet; call fit(panel) "
                                 "first")

    def _level(self, z: np.ndarray) -> np.ndarray:
        """The probability at the latest window's level, before the seasonal shift."""
        return np.asarray(expit(self.intercept_ + self.slope_ * z), dtype=float)

    def score_raw(self, features: pd.DataFrame) -> np.ndarray:
        """The baseline's own score (higher = more likely to churn), as the evaluation ranks."""
        self._check_fitted()
        return baseline_score(self.baseline, features, bgnbd=self.bgnbd_,
                              horizon_days=self.horizon_days_)

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        """Probability of no purchase in the horizon, one per row of ``features``."""
        z = _transform(self.baseline, self.score_raw(features))
        return shift_log_odds(self._level(z), self.season_shift_)

    def tier(self, probability: Any) -> np.ndarray:
        """"high" above the high threshold, "medium" from the medium one up, else "low"."""
        return tier(probability, self._validate())

    def reasons(self, features: pd.DataFrame, probability: np.ndarray | None = None
                ) -> list[list[str]]:
        """The baseline's input for each customer, in words; "low risk: ..." in the low
        tier (as the churn model says when nothing raises the risk)."""
        self._check_fitted()
        p = self.predict_proba(features) if probability is None else probability
        low = self.tier(p) == "low"
        raw = self.score_raw(features)
        out = []
        for i, row in enumerate(features.to_dict("records")):
            said = _phrase(self.baseline, row, float(raw[i]), self.horizon_days_)
            out.append([f"low risk: {said[0]}", *said[1:]] if low[i] else said)
        return out

    def score(self, features: pd.DataFrame) -> pd.DataFrame:
        """``customer_id, churn_probability, churn_tier, reasons`` ("; "-joined), as
        :meth:`loyalist.churn.ChurnModel.score`."""
        return score_frame(self, features, lambda p: self.reasons(features, p))

    def describe(self) -> dict[str, Any]:
        """The fitted calibration as JSON-able data (for the metrics and the model card)."""
        self._check_fitted()
        return {"baseline": self.baseline, "label": self.label,
                "slope": round(self.slope_, 6), "latest_window": self.holdout_cutoff_,
                "latest_churn_rate": self.latest_rate_,
                "season_shift": round(self.season_shift_, 4),
                "season_cutoff": self.season_cutoff_, "season_note": self.season_note_,
                "note": self.note_}


def _history(row: dict[str, Any], name: str) -> str:
    """The BG/NBD inputs in words: repeat purchase days and the last purchase."""
    x, r = row.get("bg_frequency"), row.get("recency_days")
    if any(v is None or not np.isfinite(float(v)) for v in (x, r)):
        return "purchase history not known for this customer"
    k, days = int(x), round(float(r))  # type: ignore[arg-type]
    last = ("less than a day ago" if days == 0 else
            f"{days} day{'s' if days != 1 else ''} ago")
    if k > 0:
        return f"{k} repeat purchase day{'s' if k != 1 else ''}, the last {last}"
    if name == "bgnbd_1_minus_p_alive":
        return "no repeat purchase yet: BG/NBD counts a customer as active until one"
    return f"a single purchase day so far, {last}"


def _phrase(name: str, row: dict[str, Any], raw: float, horizon: int) -> list[str]:
    if name == "recency_only":
        return [phrase("recency", row)]
    if not np.isfinite(raw):
        return ["BG/NBD inputs not known for this customer"]
    if name == "bgnbd_1_minus_p_alive":
        return [f"BG/NBD: probability still active {1.0 - raw:.2f} ({_history(row, name)})"]
    return [f"BG/NBD: {-raw:.2f} orders expected in the next {horizon} days "
            f"({_history(row, name)})"]
