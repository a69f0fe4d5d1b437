"""Churn risk: a calibrated gradient-boosting probability of no purchase in the next horizon.

Label: ``churned`` = no purchase in ``[as_of, as_of + horizon)`` (``loyalist.features.labels``).
The model is fitted on a panel stacked over earlier cutoffs (see
:mod:`loyalist.evaluation.splits`; every label window ends on or before the cutoff the model
predicts at). The latest training cutoff is held out: the booster is early-stopped on it and the
calibrator (Platt 1999 sigmoid on the log-odds, or isotonic regression, Zadrozny & Elkan 2002)
is fitted on the held-out predictions; the booster is then refitted on every cutoff with the
same number of rounds. When the panel reaches a year before the window the model predicts,
the calibrated probabilities are moved by that season's difference from the latest window
(:func:`season_shift`). Tiers cut the calibrated probability at configurable thresholds;
reasons come from the booster's own contributions (:mod:`loyalist.churn.reasons`).
"""

from __future__ import annotations

import os

# LightGBM stalls (100 s instead of 4 s) after scikit-learn's OpenMP work unless OpenMP threads
# wait passively; this must be set before lightgbm (and its OpenMP runtime) is first imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import logging  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy.optimize import brentq  # noqa: E402
from scipy.special import expit  # noqa: E402
from sklearn.isotonic import IsotonicRegression  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

from loyalist import schema as s  # noqa: E402
from loyalist.churn.reasons import explain  # noqa: E402
from loyalist.errors import DataError, NotFittedError, ParameterError  # noqa: E402
from loyalist.evaluation.boosting import fit_with_holdout  # noqa: E402
from loyalist.evaluation.metrics import brier, roc_auc  # noqa: E402
from loyalist.evaluation.splits import (  # noqa: E402
    model_matrix,
    panel_horizon,
    require_panel,
    year_earlier_cutoff,
)

log = logging.getLogger(__name__)

__all__ = ["ChurnModel", "TIERS", "check_thresholds", "describe_tiers", "tier"]

TIERS = tuple(reversed(s.CHURN_TIERS))  # low to high, as the thresholds go
MIN_CUSTOMERS = 100  # per training cutoff, and at the cutoff scored
MIN_PER_CLASS = 20  # churners and non-churners in the training panel and in the hold-out
#: a seasonal window whose rarer outcome is at most this share of its customers is one-sided
#: evidence (a closed season), rated by Laplace's rule rather than refused (:func:`_window_rate`)
ONE_SIDED_SHARE = 0.05
_EPS = 1e-6


def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(p, _EPS, 1 - _EPS)
    return np.log(q / (1 - q))


class ChurnModel:
    """Calibrated churn probability with tiers and per-customer reasons.

    Parameters
    ----------
    thresholds:
        ``(medium, high)``: a probability above ``high`` is tier "high", from ``medium`` up
        to ``high`` (both included) "medium", below ``medium`` "low" (default ``(0.4, 0.7)``:
        the issue's "high > 0.7, medium 0.4-0.7"; :func:`tier`).
    calibration:
        ``"sigmoid"`` (Platt scaling on the booster's log-odds: keeps the ranking, stable on a
        few hundred customers) or ``"isotonic"`` (non-parametric, needs more data).
    params:
        LightGBM parameters overriding :data:`loyalist.evaluation.boosting.BOOSTER_DEFAULTS`.
    refit:
        Refit the booster on all cutoffs after early stopping (default) or keep the one fitted
        without the held-out cutoff.
    random_state, n_jobs:
        Passed to LightGBM. One thread (the default) is as fast as several on a per-customer
        table of this size and gives the same model on every machine.

    Learned attributes: ``booster_``, ``calibrator_``, ``columns_``, ``n_rounds_``,
    ``train_cutoffs_``, ``holdout_cutoff_``, ``n_train_``, ``base_rate_``, ``holdout_metrics_``,
    ``typical_`` (medians at the latest training cutoff, for the wording of reasons),
    ``season_shift_`` and ``season_cutoff_`` (the seasonal log-odds shift and the cutoff a year
    before the predicted window it came from; 0.0 and None without one), ``season_note_`` (why
    there is no shift (too short a history), or that a window with (almost) no buyers or no
    churners had its rate bounded by Laplace's rule; None otherwise).
    """

    def __init__(self, *, thresholds: tuple[float, float] = (0.4, 0.7),
                 calibration: str = "sigmoid", params: dict[str, Any] | None = None,
                 refit: bool = True, random_state: int = 0, n_jobs: int | None = 1) -> None:
        self.thresholds = thresholds
        self.calibration = calibration
        self.params = params
        self.refit = refit
        self.random_state = random_state
        self.n_jobs = n_jobs

    # -- fit ----------------------------------------------------------------------------------
    def _validate(self) -> tuple[float, float]:
        lo, hi = check_thresholds(self.thresholds)
        if self.calibration not in ("sigmoid", "isotonic"):
            raise ParameterError(f"calibration {self.calibration!r}: use 'sigmoid' or "
                                 "'isotonic'")
        return lo, hi

    def fit(self, panel: pd.DataFrame) -> ChurnModel:
        """Fit on a panel with the feature columns, ``as_of`` (the cutoff) and ``churned``."""
        self._validate()
        require_panel(panel, ("as_of", "churned"))
        y = _churn_label(panel["churned"])
        _check_panel(panel, y.astype(bool))
        horizon = panel_horizon(panel)
        x = model_matrix(panel)
        fit = fit_with_holdout(x, y, panel["as_of"], horizon_days=horizon, kind="classifier",
                               params=self.params, random_state=self.random_state,
                               n_jobs=self.n_jobs, refit=self.refit)
        y_hold = y[fit.holdout_index]
        self.calibrator_ = _fit_calibrator(self.calibration, fit.holdout_pred, y_hold)
        self.booster_ = fit.model
        self.columns_ = list(x.columns)
        self.n_rounds_ = fit.best_iteration
        cut = pd.to_datetime(panel["as_of"])
        self.train_cutoffs_ = [str(c.date()) for c in sorted(cut.unique())]
        self.holdout_cutoff_ = str(cut.max().date())
        self.n_train_ = int(len(panel))
        self.base_rate_ = float(y.mean())
        latest = (cut == cut.max()).to_numpy()
        self.typical_ = {c: float(np.nanmedian(x.loc[latest, c]))
                         for c in ("monetary_total", "distinct_products", "orders", "aov_mean")
                         if c in x}
        cal = self._calibrate(fit.holdout_pred)
        self.season_shift_, self.season_cutoff_, self.season_note_ = season_shift(
            lambda rows: self._calibrate(self.booster_.predict_proba(x.loc[rows])[:, 1]),
            y, cut, horizon)
        self.holdout_metrics_ = {"roc_auc": roc_auc(y_hold, fit.holdout_pred),
                                 "brier_raw": brier(y_hold, fit.holdout_pred),
                                 "brier_calibrated": brier(y_hold, cal),
                                 "n": int(y_hold.size)}
        log.info("churn: %d rows over %d cutoffs, %d rounds, hold-out %s AUC %.3f",
                 self.n_train_, len(self.train_cutoffs_), self.n_rounds_, self.holdout_cutoff_,
                 self.holdout_metrics_["roc_auc"])
        return self

    # -- predictions ----------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "booster_"):
            raise NotFittedError("this ChurnModel is not fitted yet; call fit(panel) first")

    def _calibrate(self, raw: np.ndarray) -> np.ndarray:
        cal = self.calibrator_
        if isinstance(cal, IsotonicRegression):
            out = cal.predict(raw)
        else:
            out = cal.predict_proba(_logit(raw).reshape(-1, 1))[:, 1]
        return np.clip(np.asarray(out, dtype=float), 0.0, 1.0)

    def predict_raw(self, features: pd.DataFrame) -> np.ndarray:
        """The booster's uncalibrated churn probability."""
        self._check_fitted()
        return self.booster_.predict_proba(model_matrix(features)[self.columns_])[:, 1]

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        """Calibrated probability of no purchase in the horizon, one per row of ``features``,
        with the seasonal shift (``season_shift_``) for the window after the latest cutoff."""
        return shift_log_odds(self._calibrate(self.predict_raw(features)),
                      getattr(self, "season_shift_", 0.0))

    def calibrate(self, raw: Any) -> np.ndarray:
        """Apply the fitted calibrator to raw booster probabilities (monotone non-decreasing)."""
        self._check_fitted()
        return self._calibrate(np.asarray(raw, dtype=float).ravel())

    def tier(self, probability: Any) -> np.ndarray:
        """"high" above the high threshold, "medium" from the medium one up, else "low"."""
        return tier(probability, self._validate())

    def reasons(self, features: pd.DataFrame, top: int = 3) -> list[list[str]]:
        """Up to ``top`` readable reasons per customer from the booster's contributions."""
        self._check_fitted()
        x = model_matrix(features)[self.columns_]
        contrib = self.booster_.predict(x, pred_contrib=True)
        return explain(np.asarray(contrib), self.columns_, x, top=top,
                       typical=getattr(self, "typical_", None))

    def score(self, features: pd.DataFrame) -> pd.DataFrame:
        """``customer_id, churn_probability, churn_tier, reasons`` ("; "-joined)."""
        return score_frame(self, features, lambda _p: self.reasons(features))


def score_frame(model: Any, features: pd.DataFrame,
                reasons: Callable[[np.ndarray], list[list[str]]]) -> pd.DataFrame:
    """A fitted churn scorer's (:class:`ChurnModel`, or the baseline one of
    :mod:`loyalist.churn.baseline`) ``customer_id, churn_probability, churn_tier, reasons``
    ("; "-joined), ``reasons`` given the probabilities."""
    model._check_fitted()
    if len(features) == 0:
        raise DataError("churn scoring: the feature frame has no customers")
    p = model.predict_proba(features)
    return pd.DataFrame({
        s.CUSTOMER_ID: features[s.CUSTOMER_ID].to_numpy(),
        "churn_probability": p,
        "churn_tier": model.tier(p),
        "reasons": ["; ".join(r) for r in reasons(p)],
    })


def tier(probability: Any, thresholds: tuple[float, float]) -> np.ndarray:
    """"high" above ``thresholds[1]``, "medium" from ``thresholds[0]`` up to ``thresholds[1]``
    (both included: the issue's "medium 0.4-0.7"), "low" below ``thresholds[0]``."""
    lo, hi = thresholds
    p = np.asarray(probability, dtype=float)
    return np.where(p > hi, "high", np.where(p >= lo, "medium", "low"))


def check_thresholds(thresholds: Any, name: str = "churn thresholds") -> tuple[float, float]:
    """``(medium, high)`` as floats with ``0 < medium < high < 1``, or a ParameterError that
    names them as ``name``."""
    try:
        lo, hi = (float(t) for t in thresholds)
    except (TypeError, ValueError):
        raise ParameterError(f"{name} {thresholds!r}: give two numbers (medium, high), e.g. "
                             "(0.4, 0.7)") from None
    if not 0 < lo < hi < 1:
        raise ParameterError(f"{name} {lo:g},{hi:g}: need 0 < medium < high < 1, e.g. "
                             "0.4,0.7")
    return lo, hi


def describe_tiers(thresholds: tuple[float, float]) -> str:
    """The tier rule in words, e.g. "high above 0.7, medium 0.4 to 0.7, low below 0.4"."""
    lo, hi = thresholds
    return f"high above {hi:g}, medium {lo:g} to {hi:g}, low below {lo:g}"


def shift_log_odds(p: np.ndarray, delta: float) -> np.ndarray:
    """Move probabilities by ``delta`` on the log-odds scale (0 leaves them exactly)."""
    if delta == 0.0:
        return p
    return np.asarray(expit(_logit(p) + delta), dtype=float)


def level_shift(p: np.ndarray, rate: float) -> float:
    """The log-odds shift that makes the mean of ``p`` equal ``rate`` (0 < rate < 1)."""
    z = _logit(p)
    return float(brentq(lambda d: float(np.mean(expit(z + d))) - rate, -30.0, 30.0))


def season_shift(predict: Callable[[np.ndarray], np.ndarray], y: np.ndarray, cut: pd.Series,
                 horizon: int) -> tuple[float, str | None, str | None]:
    """Seasonality for the window the model predicts: the one after the latest cutoff
    ``h + horizon``. The calibrator is fitted on the latest window ``[h, h + horizon)``, whose
    churn rate is that season's (Oct-Dec, when lapsed customers come back, is not Jan-Mar).
    When the panel holds the cutoff a year before the predicted one
    (:func:`~loyalist.evaluation.splits.year_earlier_cutoff`), the calibrated probabilities
    are moved on the log-odds scale by how much more (or less) churn that same season a year
    earlier saw than the
    model's level there, less the same gap at ``h``: a year's seasonal difference, with the
    recent level kept (a trend stays). Both gaps are measured on the final model's own
    predictions, ``predict(rows)`` (the calibrated probabilities of the panel rows selected by
    the boolean mask ``rows``), so its in-sample fit cancels out. A window with (almost) only
    one outcome, e.g. nobody bought in a closed season, is the clearest seasonal signal: its
    rate is
    bounded by Laplace's rule (:func:`_window_rate`) instead of being refused. Returns
    ``(shift, that cutoff, note)`` (the note says when a rate was so bounded, else None), or
    ``(0.0, None, why)`` when no training cutoff lies a year back (too short a history) or a
    window has both outcomes but too few of one to measure its level. Measured
    out of time on generated stores (``benchmarks/bench_churn_season.py``:
    fashion, coffee, electronics, 18 and 30 months, 48 windows with such a cutoff): the error
    of the mean probability 0.045 -> 0.026, Brier better in 34 windows and worse in 14
    (electronics 0.150 -> 0.144, fashion 0.175 -> 0.173, coffee 0.0556 -> 0.0555)."""
    near, why = year_earlier_cutoff(cut, horizon)
    if near is None:
        return 0.0, None, why
    latest = cut.max()
    gaps, notes = [], []
    for day in (near, latest):
        rows = (cut == day).to_numpy()
        churned, n = int(y[rows].sum()), int(rows.sum())
        rate, note = _window_rate(churned, n)
        if note:
            which = ("the same season a year earlier" if day == near
                     else "the latest training window")
            said = f"{which} (cutoff {day.date()}, {horizon} days) had {note}"
            if rate is None:
                return 0.0, None, f"no seasonal correction: {said}"
            notes.append(said)
        gaps.append(level_shift(predict(rows), rate))
    return gaps[0] - gaps[1], str(near.date()), "; ".join(notes) or None


def _window_rate(churned: int, n: int) -> tuple[float | None, str | None]:
    """A window's churn rate for the seasonal shift, and a note when it is not the plain share.

    With at least :data:`MIN_PER_CLASS` churners and buyers it is ``churned / n``. A window
    with (almost) only one outcome, its minority at most :data:`ONE_SIDED_SHARE` of the
    customers (nobody, or a handful, bought in a closed season), has a share of 0 or 1 or
    nearly so, whose log-odds are unbounded or rest on a few customers: the rate is then
    Laplace's rule of succession, ``(churners + 1) / (n + 2)`` (the posterior mean under a
    uniform prior), which stays inside (0, 1) and still says "(almost) everyone churned".
    Such a window is the strongest seasonal evidence there is, not too little data. A small
    window with both outcomes (a few dozen customers) is too noisy: ``(None, why)``.
    """
    stayed = n - churned
    low = min(churned, stayed)
    if low >= MIN_PER_CLASS:
        return churned / n, None
    had = f"{churned:,} churners and {stayed:,} customers who bought again"
    if low > ONE_SIDED_SHARE * n:
        return None, (f"{had}, fewer than {MIN_PER_CLASS} of each to compare with the model's "
                      "level there")
    rate = (churned + 1) / (n + 2)
    return rate, (f"{had}, fewer than {MIN_PER_CLASS} of one outcome: its churn rate is taken "
                  f"as {rate:.1%} (Laplace's rule of succession, (churners + 1) / "
                  "(customers + 2))")


def _fit_calibrator(kind: str, raw: np.ndarray, y: np.ndarray) -> Any:
    if kind == "isotonic":
        return IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(raw, y)
    # Platt scaling: a 1-D logistic regression on the log-odds, effectively unpenalised
    lr = LogisticRegression(C=1e6, max_iter=1000).fit(_logit(raw).reshape(-1, 1), y)
    if lr.coef_[0, 0] < 0:
        # A calibrator maps a score to a probability without reordering it (isotonic is
        # non-decreasing by construction). A negative slope means the hold-out ranks churners
        # backwards; the maximum likelihood with slope >= 0 (the log-likelihood is concave) is
        # then slope 0: everyone gets the hold-out churn rate. Unconstrained, the slope turned
        # accounts ordering every other day into the riskiest customers (0.68, raw 0.29).
        log.warning("churn: the hold-out cutoff ranks churners backwards (Platt slope %.2f); "
                    "the calibrated probability is the hold-out churn rate %.1f%% for everyone",
                    lr.coef_[0, 0], 100 * float(np.mean(y)))
        lr.coef_[:] = 0.0
        lr.intercept_[:] = _logit(np.array([np.mean(y)]))[0]
    return lr


def _churn_label(column: pd.Series) -> np.ndarray:
    """The ``churned`` column as 0/1 integers: booleans, or numbers that are all 0 or 1.

    Anything else (text such as ``'0'``/``'1'``, whose ``astype(bool)`` is True for both, other
    numbers, missing values) is a DataError naming the column and its dtype."""
    dtype = column.dtype
    if column.isna().any():
        raise DataError(f"training panel: column 'churned' (dtype {dtype}) has "
                        f"{int(column.isna().sum()):,} of {len(column):,} missing values; "
                        "every row needs its label (True = no purchase in the horizon)")
    if pd.api.types.is_bool_dtype(dtype):
        return column.to_numpy(dtype=int)
    if pd.api.types.is_numeric_dtype(dtype):
        values = column.to_numpy(dtype=float)
        if np.isin(values, (0.0, 1.0)).all():
            return values.astype(int)
        bad = column[~np.isin(values, (0.0, 1.0))]
        raise DataError(f"training panel: column 'churned' (dtype {dtype}) holds "
                        f"{len(bad):,} of {len(column):,} values that are not 0 or 1, e.g. "
                        f"{bad.tolist()[0]!r}; it must be True/False (1 = no purchase in the "
                        "horizon), as build_panel writes it")
    raise DataError(f"training panel: column 'churned' has dtype {dtype} (e.g. "
                    f"{column.iloc[0]!r}); "
                    "it must be boolean or 0/1 numbers (1 = no purchase in the horizon), as "
                    "build_panel writes it. Convert text with panel['churned'].astype(int) "
                    "before fit")


def _check_panel(panel: pd.DataFrame, y: np.ndarray) -> None:
    """Minimum data: enough customers per cutoff, and both outcomes in the panel and hold-out."""
    cut = pd.to_datetime(panel["as_of"])
    sizes = panel.groupby(cut).size()
    small = sizes[sizes < MIN_CUSTOMERS]
    if len(small):
        c, n = small.index[0], int(small.iloc[0])
        raise DataError(
            f"too few customers: the training cutoff {c.date()} has {n} customers with a "
            f"purchase before it; churn and CLV models need at least {MIN_CUSTOMERS} per "
            "cutoff. Load more customers or use a later as_of"
        )
    hold = cut == cut.max()
    for name, mask in (("training panel", np.ones(len(panel), dtype=bool)),
                       (f"hold-out cutoff {cut.max().date()}", hold.to_numpy())):
        n_churn = int(y[mask].sum())
        n_stay = int((~y[mask]).sum())
        if min(n_churn, n_stay) < MIN_PER_CLASS:
            # churn = no purchase within the horizon: a shorter one makes more churners
            fix = ("a shorter horizon (almost everyone buys again within this one)"
                   if n_churn < MIN_PER_CLASS else
                   "a longer horizon or a longer history (almost nobody buys again)")
            raise DataError(
                f"{name}: {n_churn} churners and {n_stay} customers who bought again; the "
                f"churn model needs at least {MIN_PER_CLASS} of each. Use {fix}"
            )
