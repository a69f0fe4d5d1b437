"""Fit, score and evaluate every customer model: the facade behind ``loyalist train``,
``loyalist score`` and ``loyalist evaluate``.

Time, explicitly (see :mod:`loyalist.evaluation.splits`):

- **Scoring** happens at ``as_of`` (by default the day after the last transaction). Nothing after
  ``as_of`` exists, so there is no label there: the supervised models (churn, ML CLV) are
  trained on earlier cutoffs whose label windows ``[c, c + horizon)`` end by ``as_of``; the
  unsupervised ones (RFM, clusters) and BG/NBD + Gamma-Gamma are fitted on the customers at
  ``as_of`` from their history alone.
- **Evaluation** happens at ``as_of - horizon``: the last cutoff whose future is observed. The
  whole recipe is refitted as if ``as_of - horizon`` were today (training cutoffs' windows end by
  it, BG/NBD fitted on the history before it), and its predictions are compared with what the
  customers did in ``[as_of - horizon, as_of)``, next to the baselines. The production models
  are never evaluated on data they were trained on. A seasonal business whose windows there
  hold (almost) only one outcome is evaluated at the latest earlier cutoff that can be
  (:func:`evaluation_cutoff`).

Only :func:`loyalist.features.customer_features` and :func:`loyalist.features.labels` read the
store; everything else works on frames.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from loyalist import __version__, jsontext
from loyalist import schema as s
from loyalist.churn.baseline import BASELINES, BaselineChurnModel
from loyalist.churn.model import MIN_CUSTOMERS, ChurnModel
from loyalist.clv.ml import BoostedCLVModel
from loyalist.errors import DataError, LoyalistError, ParameterError, check_days
from loyalist.evaluation import metrics as M
from loyalist.evaluation.clv_check import clv_warning, total_error_note
from loyalist.evaluation.splits import (
    CutoffPlan,
    build_panel,
    check_observed,
    fingerprint,
    last_period_spend,
    model_matrix,
    plan_cutoffs,
)
from loyalist.features import MAX_HORIZON_DAYS, customer_features, labels, to_as_of
from loyalist.segment import (
    SCHEMES,
    CustomerClusters,
    RFMScorer,
    assign_segments,
    plot_segments,
    segment_profile,
)
from loyalist.store import Store

log = logging.getLogger(__name__)

__all__ = ["MODEL_COLUMNS", "SCORE_COLUMNS", "CustomerModels", "ModelSettings", "churn_warning",
           "evaluate", "evaluation_cutoff", "fit_customer_models", "score_customers",
           "segment_scores", "train_and_score"]

#: the scores frame's columns, in order (then ``clv_expected``, ``outlier``, ``as_of``)
SCORE_COLUMNS = (
    s.CUSTOMER_ID, "r_score", "f_score", "m_score", "rfm_segment", "cluster", "cluster_name",
    "churn_probability", "churn_tier", "reasons", "p_alive", "expected_orders", "clv_p10",
    "clv_p50", "clv_p90", "clv_bgnbd",
)


@dataclass
class CustomerModels:
    """Every fitted customer model for one ``as_of`` and horizon (saved and loaded as one)."""

    as_of: pd.Timestamp
    horizon_days: int
    plan: CutoffPlan
    churn: ChurnModel
    clv: BoostedCLVModel
    bgnbd: Any | None = None  # loyalist.clv.BetaGeoModel
    gammagamma: Any | None = None  # loyalist.clv.GammaGammaModel
    rfm: RFMScorer | None = None
    clusters: CustomerClusters | None = None
    notes: list[str] = field(default_factory=list)
    data_fingerprint_: str = ""
    metrics_: dict[str, Any] = field(default_factory=dict)
    #: churn scored by a baseline because the model lost to it out of time
    #: (:func:`churn_fallback`); None: by the churn model. Models saved before it existed
    #: load without it and score with the churn model, as they did.
    churn_fallback: BaselineChurnModel | None = None

    @property
    def as_of_(self) -> str:
        return str(self.as_of)

    @property
    def churn_scorer(self) -> ChurnModel | BaselineChurnModel:
        """What scores churn: the baseline fallback when set, else the churn model (models
        saved before the fallback existed have no such attribute)."""
        return getattr(self, "churn_fallback", None) or self.churn

    @property
    def churn_scored_by(self) -> str:
        """``"model"``, or the key of the baseline churn is scored by."""
        scorer = self.churn_scorer
        return scorer.baseline if isinstance(scorer, BaselineChurnModel) else "model"


@dataclass(frozen=True)
class ModelSettings:
    """Knobs of a run (each model validates its own in ``fit``)."""

    thresholds: tuple[float, float] = (0.4, 0.7)
    calibration: str = "sigmoid"
    scheme: str = "named11"
    k_range: tuple[int, int] = (2, 8)
    max_cutoffs: int = 12
    step_days: int | None = None
    min_history_days: int = 60
    random_state: int = 0
    n_jobs: int | None = 1
    #: most panel rows the boosters train on (None: all); beyond it a fixed share of the
    #: customers is drawn (:func:`sample_customers`)
    max_train_rows: int | None = 300_000


def sample_customers(panel: pd.DataFrame, max_rows: int | None) -> tuple[pd.DataFrame, float]:
    """At most about ``max_rows`` rows of a training panel: every row of a fixed share of the
    customers, drawn by a hash of the customer id (the same customers at every cutoff and in
    every run), and the share kept (1.0 when the panel is small enough).

    Shallow boosted trees stop gaining long before a million rows, while their cost grows
    with every row and round (10M generated lines: a 1.5M-row panel, 9 minutes to train);
    scoring still covers every customer."""
    if max_rows is None or len(panel) <= max_rows:
        return panel, 1.0
    if max_rows < 1:
        raise ParameterError(f"max_train_rows={max_rows!r}; use a positive number of rows or "
                             "None for all")
    share = max_rows / len(panel)
    h = pd.util.hash_pandas_object(panel[s.CUSTOMER_ID].astype(str), index=False,
                                   hash_key="loyalist-sample1").to_numpy()
    keep = h < np.uint64(share * float(2**64 - 1))
    return panel[keep].reset_index(drop=True), share


class _DemoteToInfo(logging.Filter):
    """Turn the probabilistic fits' 'estimates are unreliable' warnings into INFO records:
    inside training they are baselines and features, and their diagnostics go to the model
    card's notes instead of a wall of warnings at every cutoff."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.WARNING:
            record.levelno, record.levelname = logging.INFO, "INFO"
            return logging.getLogger(record.name).isEnabledFor(logging.INFO)
        return True


@contextlib.contextmanager
def _fit_warnings_as_notes() -> Iterator[None]:
    fit_log = logging.getLogger("loyalist.clv._fitting")
    demote = _DemoteToInfo()
    fit_log.addFilter(demote)
    try:
        yield
    finally:
        fit_log.removeFilter(demote)


def _note_diagnostics(name: str, model: Any, notes: list[str]) -> None:
    """The fit's identification problems, or if it did not converge for another reason, that
    its estimates are unreliable, as model-card notes."""
    diags = list(getattr(model, "diagnostics_", []) or [])
    found = [d for d in diags if "flat" in d or "not identified" in d or "limit" in d]
    notes += [f"{name}: {d}" for d in found]
    if not found and not getattr(model, "converged_", True):
        notes.append(f"{name}: estimates are unreliable: {'; '.join(diags[1:]) or 'no detail'}")


def _fit_bgnbd(feats: pd.DataFrame, notes: list[str]) -> tuple[Any | None, Any | None]:
    """BG/NBD (days) and Gamma-Gamma on the customers' history; None with a note if either
    cannot be fitted."""
    try:
        from loyalist.clv import BetaGeoModel, GammaGammaModel
    except ImportError as e:  # the probabilistic models are built in parallel
        notes.append(f"BG/NBD baseline unavailable: {e}")
        return None, None
    bg = gg = None
    try:
        with _fit_warnings_as_notes():
            bg = BetaGeoModel().fit(feats["bg_frequency"], feats["bg_recency"], feats["bg_T"])
        _note_diagnostics("BG/NBD", bg, notes)
        a = bg.params_.get("a", 1.0)
        if a < 1e-3:
            notes.append(f"BG/NBD dropout parameter a = {a:.2g}: the fit finds (almost) no "
                         "dropout, so P(alive) is close to 1 for everyone and 1 - P(alive) "
                         "carries little churn information")
    except LoyalistError as e:
        notes.append(f"BG/NBD could not be fitted: {e}")
    try:
        with _fit_warnings_as_notes():
            gg = GammaGammaModel().fit(feats["bg_frequency"], feats["bg_monetary_value"])
        _note_diagnostics("Gamma-Gamma", gg, notes)
    except LoyalistError as e:
        notes.append(f"Gamma-Gamma could not be fitted: {e}")
    return bg, gg


def _bgnbd_scores(models: CustomerModels, feats: pd.DataFrame) -> pd.DataFrame:
    n = len(feats)
    out = pd.DataFrame({"p_alive": np.full(n, np.nan), "expected_orders": np.full(n, np.nan),
                        "clv_bgnbd": np.full(n, np.nan)})
    bg, gg = models.bgnbd, models.gammagamma
    if bg is None:
        return out
    x, tx, t = (feats[c].to_numpy(dtype=float) for c in ("bg_frequency", "bg_recency", "bg_T"))
    out["p_alive"] = np.asarray(bg.probability_alive(x, tx, t), dtype=float)
    out["expected_orders"] = np.asarray(
        bg.expected_purchases(models.horizon_days, x, tx, t), dtype=float)
    if gg is not None:
        spend = np.asarray(gg.expected_spend(x, feats["bg_monetary_value"].to_numpy(float)),
                           dtype=float)
        out["clv_bgnbd"] = out["expected_orders"].to_numpy() * spend
    return out


def fit_customer_models(store: Store, as_of: Any, horizon: int = 90, *, segments: bool = True,
                        settings: ModelSettings | None = None,
                        progress: Callable[[str], None] | None = None
                        ) -> tuple[CustomerModels, pd.DataFrame, pd.DataFrame]:
    """Fit every model for scoring at ``as_of``; return (models, features at as_of, panel).
    ``progress`` hears of each step (a large store takes minutes)."""
    say = progress or (lambda _m: None)
    cfg = settings or ModelSettings()
    ts = to_as_of(as_of)
    feats = customer_features(store, ts)
    if len(feats) < MIN_CUSTOMERS:
        raise DataError(
            f"too few customers: {len(feats)} have a purchase before {ts.date()}; the churn "
            f"and CLV models need at least {MIN_CUSTOMERS}. Load more transactions or use a "
            "later as_of"
        )
    # the store's last purchase, not the last before ``ts``: at an evaluation cutoff after a
    # closed season the days in between are observed (no sales), not missing
    check_observed(store.date_range()[1], ts)
    plan = plan_cutoffs(feats["first_purchase_at"].min(), ts, horizon,
                        step_days=cfg.step_days, max_cutoffs=cfg.max_cutoffs,
                        min_history_days=cfg.min_history_days)
    panel = build_panel(store, plan.cutoffs, horizon, progress=progress)
    notes: list[str] = []
    sizes = panel.groupby("as_of").size()
    small = sizes[sizes < MIN_CUSTOMERS]
    if len(small) and len(small) < len(sizes):  # early cutoffs of a small shop: drop them
        panel = panel[~panel["as_of"].isin(small.index)].reset_index(drop=True)
        plan = dataclasses.replace(plan, cutoffs=tuple(
            c for c in plan.cutoffs if c not in set(small.index)))
        notes.append(f"training cutoffs {', '.join(str(c.date()) for c in small.index)} have "
                     f"fewer than {MIN_CUSTOMERS} customers and were left out")
    rows = len(panel)
    panel, share = sample_customers(panel, cfg.max_train_rows)
    if share < 1.0:
        notes.append(f"the training panel has {rows:,} customer-cutoff "
                     f"rows; the boosters were trained on the {len(panel):,} rows of a fixed "
                     f"{share:.0%} of the customers (max_train_rows {cfg.max_train_rows:,}); "
                     "every customer is scored")
    say(f"  churn model: {len(panel):,} customer-cutoff rows")
    churn = ChurnModel(thresholds=cfg.thresholds, calibration=cfg.calibration,
                       random_state=cfg.random_state, n_jobs=cfg.n_jobs).fit(panel)
    say("  lifetime value models (point, p10, p50, p90)")
    clv = BoostedCLVModel(random_state=cfg.random_state, n_jobs=cfg.n_jobs).fit(panel)
    if clv.capped_customers_:
        top = ", ".join(f"{c} ({v:,.0f}x)" for c, v in list(clv.capped_customers_.items())[:3])
        notes.append(f"CLV quantiles: {len(clv.capped_customers_)} customer(s) spent far more "
                     f"in a {horizon}-day window than their own history rate, e.g. {top}; the "
                     f"p10/p50/p90 models learned from that ratio capped at "
                     f"{clv.quantile_cap_:,.0f}x so that they do not set other customers' "
                     "intervals, and their own p90 is a floor (their clv_expected is not "
                     "capped)")
    say("  BG/NBD and Gamma-Gamma")
    bg, gg = _fit_bgnbd(feats, notes)
    models = CustomerModels(ts, horizon, plan, churn, clv, bg, gg, notes=notes)
    if segments:
        say("  segments and clusters")
        models.rfm = RFMScorer(scheme=cfg.scheme).fit(feats)
        models.clusters = CustomerClusters(k_range=cfg.k_range,
                                           random_state=cfg.random_state).fit(feats)
    keys = [s.CUSTOMER_ID, "as_of"]
    models.data_fingerprint_ = fingerprint(
        panel[[*keys, "churned"]], panel[["future_spend"]].round(6), model_matrix(panel),
        feats[keys], model_matrix(feats))
    return models, feats, panel


def score_customers(models: CustomerModels, features: pd.DataFrame) -> pd.DataFrame:
    """The scores frame (``SCORE_COLUMNS`` + ``clv_expected``, ``outlier``, ``as_of``). Each
    row's ``as_of`` is its features' (the day it was scored at), which is the models' own only
    when they score the day they were fitted for: `loyalist score --as-of` labelled a newer
    month's scores with the models' date, duplicating them there (exploratory report 7, I1)."""
    if len(features) == 0:
        raise DataError("scoring: the feature frame has no customers")
    feats = features.reset_index(drop=True)
    parts = [feats[[s.CUSTOMER_ID]]]
    if models.rfm is not None:
        parts.append(_rfm_columns(models.rfm, feats))
    if models.clusters is not None:
        parts.append(models.clusters.transform(feats).drop(columns=s.CUSTOMER_ID))
    parts.append(models.churn_scorer.score(feats).drop(columns=s.CUSTOMER_ID))
    parts.append(_bgnbd_scores(models, feats))
    parts.append(models.clv.score(feats).drop(columns=s.CUSTOMER_ID))
    out = pd.concat(parts, axis=1)
    out["as_of"] = feats["as_of"].to_numpy()
    first = [c for c in SCORE_COLUMNS if c in out.columns]
    return out[first + [c for c in out.columns if c not in first]]


def _rfm_columns(rfm: RFMScorer, feats: pd.DataFrame) -> pd.DataFrame:
    """R, F and M scores, the scheme's ``rfm_segment`` and ``grid_segment``: the cell of the
    10-cell recency x frequency grid (``"grid10"``) of the same scores, for every scheme."""
    out = rfm.transform(feats).drop(columns=s.CUSTOMER_ID)
    out.insert(out.columns.get_loc("rfm_segment") + 1, "grid_segment", assign_segments(
        out["r_score"], out["f_score"], out["m_score"], "grid10"))
    return out


def _season(churn: ChurnModel) -> dict[str, Any]:
    """The churn model's seasonal shift (``season_shift_``) and the cutoff it came from."""
    return {"cutoff": churn.season_cutoff_, "log_odds_shift": round(churn.season_shift_, 4),
            "note": getattr(churn, "season_note_", None)}


def _tiers(y: np.ndarray, tier: np.ndarray) -> dict[str, dict[str, Any]]:
    out = {}
    for t in ("high", "medium", "low"):
        mask = tier == t
        out[t] = {"customers": int(mask.sum()),
                  "churn_rate": float(y[mask].mean()) if mask.any() else None}
    return out


#: at or below this out-of-time ROC-AUC a churn ranking is treated as no better than chance
#: (the standard error of an AUC on a few hundred customers is about 0.03)
CHURN_AUC_FLOOR = 0.55
#: the churn model "loses" to a baseline whose ROC-AUC is higher by more than this: smaller gaps
#: are within the seed-to-seed spread of the model (0.003 on Online Retail) and sampling noise
BASELINE_MARGIN = 0.01


def _best_baseline(models: dict[str, dict[str, Any]]
                   ) -> tuple[float | None, str | None, dict[str, float]]:
    """(the model's ROC-AUC, the best baseline's key, every baseline's ROC-AUC)."""
    auc = (models.get("model") or {}).get("roc_auc")
    base = {k: m["roc_auc"] for k, m in models.items()
            if k != "model" and (m or {}).get("roc_auc") is not None}
    best = max(base, key=lambda k: base[k]) if base else None
    return auc, best, base


def sentence(text: str) -> str:
    """``text`` as a note: its first letter upper case (warnings are built lower case to be
    quoted after a colon in the log)."""
    return text[:1].upper() + text[1:]


def churn_fallback(models: dict[str, dict[str, Any]], margin: float = BASELINE_MARGIN
                   ) -> str | None:
    """The baseline churn is scored by instead of the model: the best baseline when the
    model's out-of-time ROC-AUC is more than ``margin`` below its (the rule of
    :func:`churn_warning`; ``models`` is ``metrics["churn"]["models"]``); None when the model
    holds its own or was not evaluated. Decided from the out-of-time evaluation alone."""
    auc, best, base = _best_baseline(models)
    if auc is None or best is None or not auc < base[best] - margin:
        return None
    return best


def churn_warning(models: dict[str, dict[str, Any]], floor: float = CHURN_AUC_FLOOR,
                  margin: float = BASELINE_MARGIN, *, fallback: bool = True) -> str | None:
    """A plain warning when the churn model's out-of-time ROC-AUC is at most ``floor`` or more
    than ``margin`` below its best baseline's (``models`` is ``metrics["churn"]["models"]``);
    None otherwise. When it loses to a baseline, the warning says that churn is scored by that
    baseline instead (:func:`churn_fallback`), or, with ``fallback=False`` (the baseline could
    not score), to use the model's scores with caution."""
    auc, best, base = _best_baseline(models)
    if auc is None:
        return None
    loses = best is not None and auc < base[best] - margin
    if not loses and auc > floor:
        return None
    why = []
    if auc <= floor:
        why.append(f"no better than chance (<= {floor})")
    if loses:
        assert best is not None
        why.append(f"below its best baseline, {BASELINES.get(best, best)} "
                   f"({base[best]:.3f})")
    head = f"the churn model's out-of-time ROC-AUC {auc:.3f} is {' and '.join(why)}"
    if loses and fallback:
        assert best is not None
        name = BASELINES.get(best, best)
        text = (f"{head}: that simpler ranking found the churners better in the test window, "
                f"so churn_probability and churn_tier are scored by {name} instead, "
                "calibrated on the model's training windows (the model's metrics stay in the "
                "table)")
        if base[best] <= floor:
            text += (f"; {name} is itself no better than chance (<= {floor}), so do not "
                     "target customers by churn_probability or churn_tier")
        return text
    if auc <= floor:
        return (f"{head}: on this data its probabilities and tiers do not rank who stops "
                "buying; do not target customers by churn_probability or churn_tier (the "
                "tier table shows how little observed churn differs between tiers)")
    return (f"{head}: that simpler ranking found the churners better in the test window, so "
            "use churn_probability and churn_tier with caution (compare observed churn "
            "between the tiers)")


def _fallback_evaluation(name: str, models: CustomerModels, panel: pd.DataFrame,
                         feats: pd.DataFrame, y: np.ndarray,
                         thresholds: tuple[float, float]) -> dict[str, Any]:
    """The baseline churn is scored by when the model loses (:func:`churn_fallback`), fitted
    as scoring fits it (on the training panel) and judged on the same test window: its
    calibration, Brier score and tiers (its ranking is the baseline's own)."""
    try:
        fb = BaselineChurnModel(baseline=name, thresholds=thresholds).fit(
            panel, bgnbd=models.bgnbd)
    except DataError as e:
        return {"baseline": name, "skipped": str(e)}
    p = fb.predict_proba(feats)
    return {**fb.describe(), "metrics": M.churn_metrics(y, p),
            "tiers": _tiers(y, fb.tier(p)), "calibration": M.decile_calibration(y, p)}


def evaluate(store: Store, test_as_of: Any, horizon: int = 90, *,
             settings: ModelSettings | None = None,
             progress: Callable[[str], None] | None = None
             ) -> tuple[dict[str, Any], pd.DataFrame]:
    """Out-of-time evaluation at ``test_as_of``: fit as if it were today, compare with what
    happened in ``[test_as_of, test_as_of + horizon)``. Returns (metrics, predictions)."""
    ts = to_as_of(test_as_of)
    models, feats, panel = fit_customer_models(store, ts, horizon, segments=False,
                                               settings=settings, progress=progress)
    say = progress or (lambda _m: None)
    say(f"  what happened in the test window, and the scores of {len(feats):,} customers")
    lab = labels(store, ts, horizon).set_index(s.CUSTOMER_ID)
    pred = score_customers(models, feats)
    y = lab.loc[feats[s.CUSTOMER_ID], "churned"].to_numpy(dtype=int)
    spend = lab.loc[feats[s.CUSTOMER_ID], "future_spend"].to_numpy(dtype=float)
    if min(y.sum(), (1 - y).sum()) == 0:
        raise DataError(f"evaluation at {ts.date()}: every customer "
                        f"{'churned' if y.all() else 'bought again'} in the {horizon}-day "
                        "window, so churn cannot be evaluated; choose another cutoff")
    pred["churned"] = y.astype(bool)
    pred["future_spend"] = spend
    last = last_period_spend(store, feats, ts, horizon)
    pred["last_period_spend"] = last
    p = pred["churn_probability"].to_numpy()
    churn_models: dict[str, Any] = {"model": M.churn_metrics(y, p)}
    churn_models["recency_only"] = M.churn_metrics(y, feats["recency_days"], probability=False)
    gains = {"model": M.cumulative_gains(y, p),
             "recency_only": M.cumulative_gains(y, feats["recency_days"])}
    if pred["p_alive"].notna().all():
        dead = 1.0 - pred["p_alive"].to_numpy()
        churn_models["bgnbd_1_minus_p_alive"] = M.churn_metrics(y, dead)
        churn_models["bgnbd_expected_orders"] = M.churn_metrics(
            y, -pred["expected_orders"].to_numpy(), probability=False)
        gains["bgnbd_1_minus_p_alive"] = M.cumulative_gains(y, dead)
    clv_models: dict[str, Any] = {
        "model": M.clv_metrics(spend, pred["clv_expected"]),
        "model_p50": M.clv_metrics(spend, pred["clv_p50"]),
    }
    cal = {"model": M.decile_calibration(spend, pred["clv_expected"])}
    clv_gains = {"model": M.cumulative_gains(spend, pred["clv_expected"])}
    if pred["clv_bgnbd"].notna().all():
        clv_models["bgnbd_gg"] = M.clv_metrics(spend, pred["clv_bgnbd"])
        cal["bgnbd_gg"] = M.decile_calibration(spend, pred["clv_bgnbd"])
        clv_gains["bgnbd_gg"] = M.cumulative_gains(spend, pred["clv_bgnbd"])
    clv_models["last_period"] = M.clv_metrics(spend, last)
    clv_gains["last_period"] = M.cumulative_gains(spend, last)
    below = spend < pred["clv_p10"].to_numpy()
    above = spend > pred["clv_p90"].to_numpy()
    notes = list(models.notes)
    train_rate = float(panel["churned"].mean())
    if abs(train_rate - y.mean()) > 0.05:
        notes.append(f"the churn rate in the test window ({y.mean():.1%}) differs from the "
                     f"training panel's ({train_rate:.1%}): probabilities calibrated on earlier "
                     "windows are off by about that much (seasonality or a trend)")
    warning = churn_warning(churn_models)
    if warning:
        log.warning("evaluation at %s: %s", ts.date(), warning)
        notes.insert(0, sentence(warning))
    fallback = churn_fallback(churn_models)
    churn_fb: dict[str, Any] | None = None
    clv_warn = clv_warning(clv_models)
    if clv_warn:
        log.warning("evaluation at %s: %s", ts.date(), clv_warn)
        notes.insert(1 if warning else 0, sentence(clv_warn))
    total_note = total_error_note(clv_models)
    if total_note:
        notes.append(total_note)
    cfg = settings or ModelSettings()
    if fallback is not None:  # what scoring would use instead, judged on the same window
        churn_fb = _fallback_evaluation(fallback, models, panel, feats, y, cfg.thresholds)
        if "skipped" in churn_fb:
            notes.append(f"churn scored by {BASELINES[fallback]}: not evaluated: "
                         f"{churn_fb['skipped']}")
        elif churn_fb.get("note"):
            notes.append(f"churn scored by {BASELINES[fallback]}: {churn_fb['note']}")
    metrics = {
        "test_cutoff": str(ts.date()),
        "label_window": [str(ts.date()), str((ts + pd.Timedelta(days=horizon)).date())],
        "train_cutoffs": [str(c.date()) for c in models.plan.cutoffs],
        "holdout_cutoff": str(models.plan.holdout.date()),
        "n_train_rows": int(len(panel)),
        "n_customers": int(len(feats)),
        "churn": {
            "churn_rate": float(y.mean()),
            "train_churn_rate": train_rate,
            "models": churn_models,
            "warning": warning,
            "holdout": models.churn.holdout_metrics_,
            "season": _season(models.churn),
            "tiers": _tiers(y, pred["churn_tier"].to_numpy()),
            "tier_thresholds": list(cfg.thresholds),
            "calibration": M.decile_calibration(y, p),
            "gains": gains,
            "scored_by": fallback or "model",
        },
        "clv": {
            "models": clv_models,
            "interval": {"coverage": float(1 - below.mean() - above.mean()),
                         "below": float(below.mean()), "above": float(above.mean())},
            "calibration": cal,
            "gains": clv_gains,
            "warning": clv_warn,
        },
        "rounds": {"churn": models.churn.n_rounds_, **models.clv.n_rounds_},
        "notes": notes,
    }
    if churn_fb is not None:
        metrics["churn"]["fallback"] = churn_fb
    return metrics, pred


_PROFILE_TITLES = {"rfm": "RFM segments", "grid": "Recency x frequency grid (10 cells)",
                   "clusters": "Behavioural clusters"}


def _write_outputs(out: Path, scores: pd.DataFrame, profiles: dict[str, pd.DataFrame],
                   selection: pd.DataFrame | None) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = {"scores_csv": out / "scores.csv", "scores_parquet": out / "scores.parquet"}
    scores.to_csv(paths["scores_csv"], index=False)
    scores.to_parquet(paths["scores_parquet"], index=False)
    for name, prof in profiles.items():
        paths[f"profile_{name}"] = out / f"segments_{name}.csv"
        prof.to_csv(paths[f"profile_{name}"], index=False)
        paths[f"plot_{name}"] = plot_segments(prof, out / f"segments_{name}.png",
                                              title=_PROFILE_TITLES.get(name, name))
    if selection is not None:
        paths["cluster_selection"] = out / "cluster_selection.csv"
        selection.to_csv(paths["cluster_selection"], index=False)
    return paths


#: the churn and CLV columns of the scores, empty when only segments could be made
MODEL_COLUMNS = ("churn_probability", "churn_tier", "reasons", "p_alive", "expected_orders",
                 "clv_p10", "clv_p50", "clv_p90", "clv_bgnbd", "clv_expected")
_TEXT_COLUMNS = ("churn_tier", "reasons")


def segment_scores(rfm: RFMScorer, clusters: CustomerClusters | None, features: pd.DataFrame,
                   as_of: pd.Timestamp) -> pd.DataFrame:
    """The scores frame of :func:`score_customers`' columns with only the segments filled:
    RFM scores and segment, the cluster (NA without ``clusters``), and empty churn and CLV
    columns (NaN numbers, NA text) that the store writes as NULL."""
    if len(features) == 0:
        raise DataError("scoring: the feature frame has no customers")
    feats = features.reset_index(drop=True)
    n = len(feats)
    parts = [feats[[s.CUSTOMER_ID]], _rfm_columns(rfm, feats)]
    if clusters is not None:
        parts.append(clusters.transform(feats).drop(columns=s.CUSTOMER_ID))
    else:
        parts.append(pd.DataFrame({"cluster": pd.array([None] * n, dtype="Int64"),
                                   "cluster_name": pd.array([None] * n, dtype="string"),
                                   "outlier": pd.array([None] * n, dtype="boolean")}))
    parts.append(pd.DataFrame({c: pd.array([None] * n, dtype="string") if c in _TEXT_COLUMNS
                               else np.full(n, np.nan) for c in MODEL_COLUMNS}))
    out = pd.concat(parts, axis=1)
    out["as_of"] = as_of
    first = [c for c in SCORE_COLUMNS if c in out.columns]
    return out[first + [c for c in out.columns if c not in first]]


def _profiles(feats: pd.DataFrame, scores: pd.DataFrame, rfm: RFMScorer,
              clusters: CustomerClusters | None) -> dict[str, pd.DataFrame]:
    """The segment profile tables: RFM segments in the scheme's order, and clusters (if any)."""
    joined = feats.merge(scores.drop(columns="as_of"), on=s.CUSTOMER_ID)
    profiles = {"rfm": segment_profile(joined, "rfm_segment",
                                       order=[r.name for r in rfm.rules]),
                "grid": segment_profile(joined, "grid_segment",
                                        order=[r.name for r in SCHEMES["grid10"]])}
    if clusters is not None:
        profiles["clusters"] = segment_profile(joined, "cluster_name")
    return profiles


def _segments_summary(scheme: str, scores: pd.DataFrame, clusters: CustomerClusters | None
                      ) -> dict[str, Any]:
    """``metrics["segments"]``: the RFM scheme and counts, and the clusters (if any)."""
    return {
        "rfm_scheme": scheme,
        "rfm_counts": scores["rfm_segment"].value_counts().to_dict(),
        "grid_counts": scores["grid_segment"].value_counts().to_dict(),
        "clusters_k": clusters.k_ if clusters is not None else None,
        "cluster_selection": (clusters.selection_.to_dict("records")
                              if clusters is not None else []),
        "cluster_names": ({str(k): v for k, v in clusters.names_.items()}
                          if clusters is not None else {}),
        "outliers": int(scores["outlier"].fillna(False).sum()),
    }


def _segments_only(store: Store, ts: pd.Timestamp, horizon: int, cfg: ModelSettings, why: str,
                   evaluation: dict[str, Any], out_dir: str | Path | None,
                   timings: dict[str, float], t0: float, say: Callable[[str], None]
                   ) -> dict[str, Any]:
    """:func:`train_and_score` when churn and CLV cannot be trained (``why``): RFM segments
    and clusters need no training window, only customers."""
    t1 = time.perf_counter()
    feats = customer_features(store, ts)
    if len(feats) == 0:
        raise DataError(f"no customer has a purchase before {ts.date()}: nothing to segment or "
                        f"score ({why})")
    say(f"churn and lifetime value cannot be trained; segmenting the {len(feats):,} customers")
    log.warning("churn and lifetime value are not trained at %s, only segments: %s",
                ts.date(), why)
    notes = [f"churn and lifetime value were not trained: {why}"]
    rfm = RFMScorer(scheme=cfg.scheme).fit(feats)
    clusters: CustomerClusters | None = None
    try:
        clusters = CustomerClusters(k_range=cfg.k_range, random_state=cfg.random_state).fit(feats)
    except DataError as e:
        notes.append(f"no behavioural clusters: {e}")
    timings["fit_s"] = time.perf_counter() - t1
    scores = segment_scores(rfm, clusters, feats, ts)
    profiles = _profiles(feats, scores, rfm, clusters)
    metrics: dict[str, Any] = {
        "loyalist_version": __version__,
        "as_of": str(ts),
        "horizon_days": horizon,
        "segments_only": True,
        "evaluation": evaluation,
        "training": {"skipped": why},
        "scoring": {"customers": int(len(scores)), "tiers": {}, "expected_spend_total": None},
        "segments": _segments_summary(cfg.scheme, scores, clusters),
        "notes": notes,
    }
    paths: dict[str, Path] = {}
    card: dict[str, Path] | None = None
    selection = clusters.selection_ if clusters is not None else None
    if out_dir is not None:
        from loyalist.evaluation.card import write_model_card

        say(f"writing results to {out_dir}")
        out = Path(out_dir)
        paths = _write_outputs(out, scores, profiles, selection)
        card = write_model_card(metrics, out)
        paths.update({f"card_{k}": v for k, v in card.items()})
    timings["total_s"] = time.perf_counter() - t0
    metrics["timings"] = {k: round(v, 3) for k, v in timings.items()}
    if card is not None:
        card["metrics"].write_text(jsontext.dumps(metrics))
    return {
        "as_of": ts, "horizon_days": horizon, "evaluation_cutoff": ts - pd.Timedelta(days=horizon),
        "scores": scores, "features": feats, "metrics": metrics, "profiles": profiles,
        "cluster_selection": selection, "models": None, "model_card": card, "paths": paths,
        "timings": timings,
    }


def _outcomes(store: Store, cutoff: pd.Timestamp, horizon: int) -> tuple[int, int]:
    """(churners, customers who bought again) in ``[cutoff, cutoff + horizon)`` among the
    customers with a purchase before ``cutoff``."""
    churned = labels(store, cutoff, horizon)["churned"].to_numpy(dtype=bool)
    return int(churned.sum()), int((~churned).sum())


#: how far back (days, at most a year) the out-of-time evaluation moves at a time when its
#: usual cutoff cannot be evaluated (:func:`evaluation_cutoff`)
EVALUATION_STEP_DAYS = 7


def evaluation_cutoff(store: Store, as_of: pd.Timestamp, horizon: int
                      ) -> tuple[pd.Timestamp, str | None]:
    """The cutoff of the out-of-time evaluation for scoring at ``as_of``, and a note when it
    is not the usual ``as_of - horizon``.

    The evaluation needs a hold-out window ``[c - horizon, c)`` with at least
    :data:`~loyalist.churn.model.MIN_PER_CLASS` churners and buyers (for early stopping and
    calibration) and a test window ``[c, c + horizon)`` with both outcomes. A seasonal
    business (a Christmas stall) has neither for a cutoff in or just after its closed
    season; the evaluation then moves back :data:`EVALUATION_STEP_DAYS` at a time, for at
    most a year (every season once), to the latest cutoff where both hold (the closest to
    the models scored), so the recipe is still tested out of time. When none does,
    ``as_of - horizon`` is returned and the evaluation says why it cannot run."""
    from loyalist.churn.model import MIN_PER_CLASS

    first = pd.Timestamp(as_of) - pd.Timedelta(days=horizon)
    why = ""
    for k in range(365 // EVALUATION_STEP_DAYS + 1):
        cut = first - pd.Timedelta(days=k * EVALUATION_STEP_DAYS)
        hold = cut - pd.Timedelta(days=horizon)
        held = _outcomes(store, hold, horizon)
        if sum(held) < MIN_CUSTOMERS:
            break  # earlier cutoffs have even fewer customers
        test = _outcomes(store, cut, horizon)
        if min(held) >= MIN_PER_CLASS and min(test) >= 1:
            if k == 0:
                return cut, None
            return cut, (f"evaluated at {cut.date()}, not at {first.date()} (as_of - {horizon} "
                         f"days): {why}; {cut.date()} is the latest cutoff before it whose "
                         f"hold-out window (from {hold.date()}) has at least {MIN_PER_CLASS} "
                         "churners and buyers and whose test window has both (a seasonal "
                         "business: the test window is not the season scored)")
        if k == 0:
            name, (c, b) = ((f"the hold-out window [{hold.date()}, {cut.date()})", held)
                            if min(held) < MIN_PER_CLASS else
                            (f"the test window [{cut.date()}, "
                             f"{(cut + pd.Timedelta(days=horizon)).date()})", test))
            why = (f"at {first.date()} {name} had {c:,} churners and {b:,} customers who "
                   "bought again (a closed season?)")
    return first, None


def _churn_scorer(models: CustomerModels, panel: pd.DataFrame, evaluation: dict[str, Any],
                  thresholds: tuple[float, float]) -> dict[str, Any]:
    """Choose what scores churn, from the out-of-time evaluation alone (nothing after
    ``as_of`` exists): the churn model, or the baseline it lost to (:func:`churn_fallback`),
    fitted on the model's own training panel and set as ``models.churn_fallback``. Returns
    ``metrics["churn"]``: ``scored_by`` (``"model"`` or the baseline's key), ``reason`` and
    the fitted calibration. When the baseline cannot score at ``as_of`` (BG/NBD not fitted),
    the model scores and the evaluation's warning says to use it with caution."""
    ch = evaluation.get("churn") or {}
    name = churn_fallback(ch.get("models") or {})
    if name is None:
        return {"scored_by": "model", "label": "LightGBM (the churn model)", "reason": None}
    auc, base = ch["models"]["model"]["roc_auc"], ch["models"][name]["roc_auc"]
    reason = (f"the churn model's out-of-time ROC-AUC {auc:.3f} at {evaluation['test_cutoff']} "
              f"is more than {BASELINE_MARGIN} below {BASELINES[name]}'s {base:.3f}")
    try:
        fb = BaselineChurnModel(baseline=name, thresholds=thresholds).fit(
            panel, bgnbd=models.bgnbd)
    except DataError as e:
        # the evaluation's warning promised the baseline; say the model scores after all
        said, ch["warning"] = ch.get("warning"), churn_warning(ch["models"], fallback=False)
        notes = evaluation.get("notes") or []
        if said and ch["warning"] and sentence(said) in notes:
            notes[notes.index(sentence(said))] = sentence(ch["warning"])
        why = f"churn is scored by the model although {reason}: {e}"
        models.notes.append(why)
        log.warning("%s", why)
        return {"scored_by": "model", "label": "LightGBM (the churn model)",
                "reason": why, "fallback_failed": str(e)}
    models.churn_fallback = fb
    log.info("churn is scored by %s, not the churn model: %s", fb.label, reason)
    if fb.note_:
        models.notes.append(f"churn scored by {fb.label}: {fb.note_}")
    return {"scored_by": name, "label": fb.label, "reason": reason,
            "model_roc_auc": auc, "baseline_roc_auc": base, "calibration": fb.describe()}


def train_and_score(store: Store, as_of: Any = None, horizon: int = 90,
                    out_dir: str | Path | None = None, *, with_evaluation: bool = True,
                    thresholds: tuple[float, float] = (0.4, 0.7), calibration: str = "sigmoid",
                    scheme: str = "named11", k_range: tuple[int, int] = (2, 8),
                    random_state: int = 0, n_jobs: int | None = 1,
                    max_train_rows: int | None = ModelSettings.max_train_rows,
                    segments_fallback: bool = True,
                    progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Fit every customer model at ``as_of``, score the customers, and evaluate the recipe out
    of time at ``as_of - horizon`` (or the latest earlier cutoff that can be evaluated,
    :func:`evaluation_cutoff`).

    ``as_of`` defaults to the day after the last transaction in the store. Returns
    ``{"as_of", "horizon_days", "evaluation_cutoff", "scores", "features", "metrics",
    "profiles", "cluster_selection", "models", "model_card", "paths", "timings"}``:
    ``metrics`` is JSON-able; ``features`` are the customer features at ``as_of`` that were
    scored. With ``out_dir``: scores (CSV, Parquet), segment profiles and pictures, the model
    card (markdown, HTML, metrics.json) and the saved models (``model/``) are written there.

    When the history is too short to evaluate at ``as_of - horizon`` (but long enough to
    train at ``as_of``), ``metrics["evaluation"]`` says why instead, and scoring goes on.

    When churn and CLV cannot be trained at all (too few customers, too short a history, too
    few churners), with ``segments_fallback`` the customers still get their RFM segments and
    (with enough of them for k-means) clusters: the scores then have empty (NaN/NA) churn and
    CLV columns, ``metrics["training"]["skipped"]`` says why, ``metrics["segments_only"]`` is
    True, no model is saved and ``models`` is None (:func:`_segments_only`). Without it, the
    DataError is raised.
    """
    say = progress or (lambda _m: None)
    horizon = check_days(horizon, "horizon", max_days=MAX_HORIZON_DAYS, example=90)
    cfg = ModelSettings(thresholds=(float(thresholds[0]), float(thresholds[1])),
                        calibration=calibration, scheme=scheme,
                        k_range=(int(k_range[0]), int(k_range[1])),
                        random_state=random_state, n_jobs=n_jobs,
                        max_train_rows=max_train_rows)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    ts = to_as_of(as_of) if as_of is not None else store.default_as_of()
    test_cut = ts - pd.Timedelta(days=horizon)
    # an as_of beyond the data is a mistake to report before evaluating at as_of - horizon
    check_observed(store.date_range()[1], ts)
    evaluation: dict[str, Any]
    if with_evaluation:
        test_cut, moved = evaluation_cutoff(store, ts, horizon)
        if moved:
            log.warning("out-of-time evaluation: %s", moved)
        say(f"evaluating out of time at {test_cut.date()} (training cutoffs end by then)")
        try:
            evaluation, _ = evaluate(store, test_cut, horizon, settings=cfg, progress=progress)
            if moved:
                evaluation["moved"] = moved
                evaluation["notes"].insert(0, sentence(moved))
        except DataError as e:
            at = (f"{test_cut.date()} (moved back: {moved})" if moved else
                  f"{test_cut.date()} (as_of {ts.date()} - {horizon} days)")
            log.warning("the out-of-time evaluation at %s is skipped: %s", at, e)
            evaluation = {"skipped": str(e), "test_cutoff": str(test_cut.date())}
    else:
        evaluation = {"skipped": "not requested", "test_cutoff": str(test_cut.date())}
    timings["evaluate_s"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    say(f"fitting the models for scoring at {ts.date()}")
    try:
        models, feats, panel = fit_customer_models(store, ts, horizon, settings=cfg,
                                                   progress=progress)
    except DataError as e:  # too few customers or too short a history for churn and CLV
        if not segments_fallback:
            raise
        return _segments_only(store, ts, horizon, cfg, str(e), evaluation, out_dir,
                              timings, t0, say)
    churn_scoring = _churn_scorer(models, panel, evaluation, cfg.thresholds)
    churn_scoring["tier_thresholds"] = list(cfg.thresholds)
    timings["fit_s"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    say("scoring customers")
    scores = score_customers(models, feats)
    assert models.rfm is not None and models.clusters is not None
    profiles = _profiles(feats, scores, models.rfm, models.clusters)
    timings["score_s"] = time.perf_counter() - t2
    metrics: dict[str, Any] = {
        "loyalist_version": __version__,
        "as_of": str(ts),
        "horizon_days": horizon,
        "evaluation": evaluation,
        "training": {**models.plan.to_dict(), "n_rows": int(len(panel)),
                     "churn_rounds": models.churn.n_rounds_,
                     "clv_rounds": models.clv.n_rounds_,
                     "churn_holdout": models.churn.holdout_metrics_,
                     "churn_season": _season(models.churn),
                     "data_fingerprint": models.data_fingerprint_},
        "scoring": {"customers": int(len(scores)),
                    "tiers": scores["churn_tier"].value_counts().to_dict(),
                    "expected_spend_total": float(scores["clv_expected"].sum())},
        "churn": churn_scoring,
        "segments": _segments_summary(cfg.scheme, scores, models.clusters),
        "notes": models.notes,
    }
    models.metrics_ = metrics
    paths: dict[str, Path] = {}
    card: dict[str, Path] | None = None
    if out_dir is not None:
        t3 = time.perf_counter()
        say(f"writing results to {out_dir}")
        from loyalist.evaluation.card import write_model_card
        from loyalist.evaluation.persist import save

        out = Path(out_dir)
        paths = _write_outputs(out, scores, profiles, models.clusters.selection_)
        timings["write_s"] = time.perf_counter() - t3
        metrics["timings"] = {k: round(v, 3) for k, v in timings.items()}
        card = write_model_card(metrics, out)
        paths.update({f"card_{k}": v for k, v in card.items()})
        paths["model"] = save(models, out / "model", as_of=ts,
                              data_fingerprint=models.data_fingerprint_,
                              metrics=metrics,
                              extra={"horizon_days": horizon,
                                     "churn_scored_by": models.churn_scored_by,
                                     "tier_thresholds": list(cfg.thresholds)})
    timings["total_s"] = time.perf_counter() - t0
    metrics["timings"] = {k: round(v, 3) for k, v in timings.items()}
    if card is not None:  # rewrite metrics.json with the final timings
        card["metrics"].write_text(jsontext.dumps(metrics))
    return {
        "as_of": ts, "horizon_days": horizon, "evaluation_cutoff": test_cut,
        "scores": scores, "features": feats, "metrics": metrics, "profiles": profiles,
        "cluster_selection": models.clusters.selection_, "models": models,
        "model_card": card, "paths": paths, "timings": timings,
    }
