"""The customer models fitted for one ``as_of``: :class:`CustomerModels` (every fitted model,
saved and loaded as one), :class:`ModelSettings`, :func:`fit_customer_models` and
:func:`score_customers`.

:class:`CustomerModels` stays in this module: a saved model (``model.joblib``) is a pickle that
names its class by module, and its ``metadata.json`` records
``loyalist.evaluation.run.CustomerModels`` (checked by :func:`loyalist.evaluation.persist.load`),
so moving the class would make models saved before unloadable. The run that fits, evaluates
and scores them is :func:`loyalist.evaluation.train.train_and_score`; the out-of-time
evaluation is :mod:`loyalist.evaluation.out_of_time`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from loyalist import schema as s
from loyalist.churn.baseline import BaselineChurnModel
from loyalist.churn.model import MIN_CUSTOMERS, ChurnModel
from loyalist.clv._fitting import fit_warnings_as_info
from loyalist.clv.ml import BoostedCLVModel
from loyalist.errors import DataError, LoyalistError, ParameterError
from loyalist.evaluation.splits import (
    CutoffPlan,
    build_panel,
    check_observed,
    fingerprint,
    model_matrix,
    plan_cutoffs,
)
from loyalist.features import bg_inputs, customer_features, to_as_of
from loyalist.segment import CustomerClusters, RFMScorer, assign_segments
from loyalist.store import Store

__all__ = ["SCORE_COLUMNS", "CustomerModels", "ModelSettings", "fit_customer_models",
           "score_customers"]

#: the scores frame's columns, in order (then ``clv_expected``, ``outlier``, ``as_of``);
#: ``clv_horizon_days``: the days the CLV columns cover (the models' horizon)
SCORE_COLUMNS = (
    s.CUSTOMER_ID, "r_score", "f_score", "m_score", "rfm_segment", "cluster", "cluster_name",
    "churn_probability", "churn_tier", "reasons", "p_alive", "expected_orders", "clv_p10",
    "clv_p50", "clv_p90", "clv_bgnbd", "clv_horizon_days",
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
        from loyalist.clv import BetaGeoModel, GammaGammaModel, positive_spend
    except ImportError as e:  # the probabilistic models are built in parallel
        notes.append(f"BG/NBD baseline unavailable: {e}")
        return None, None
    bg = gg = None
    try:
        with fit_warnings_as_info():
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
        ok, left_out = positive_spend(feats["bg_frequency"], feats["bg_monetary_value"])
        with fit_warnings_as_info():
            gg = GammaGammaModel().fit(feats.loc[ok, "bg_frequency"],
                                       feats.loc[ok, "bg_monetary_value"])
        _note_diagnostics("Gamma-Gamma", gg, notes)
        if left_out:
            notes.append(left_out)
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
    x, tx, t = bg_inputs(feats)
    out["p_alive"] = np.asarray(bg.probability_alive(x, tx, t), dtype=float)
    out["expected_orders"] = np.asarray(
        bg.expected_purchases(models.horizon_days, x, tx, t), dtype=float)
    if gg is not None:
        # a repeat average of zero or less (free or returned orders: left out of the fit) is
        # taken as 0, which the model shrinks towards the population's mean
        m = np.maximum(feats["bg_monetary_value"].to_numpy(float), 0.0)
        spend = np.asarray(gg.expected_spend(x, m), dtype=float)
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
        parts.append(rfm_columns(models.rfm, feats))
    if models.clusters is not None:
        parts.append(models.clusters.transform(feats).drop(columns=s.CUSTOMER_ID))
    parts.append(models.churn_scorer.score(feats).drop(columns=s.CUSTOMER_ID))
    parts.append(_bgnbd_scores(models, feats))
    parts.append(models.clv.score(feats).drop(columns=s.CUSTOMER_ID))
    out = pd.concat(parts, axis=1)
    # the days the CLV columns cover, kept with them: a reader of the store shows "next 90
    # days" from the scores themselves (exploratory report 6, finding 11)
    out["clv_horizon_days"] = int(models.horizon_days)
    out["as_of"] = feats["as_of"].to_numpy()
    first = [c for c in SCORE_COLUMNS if c in out.columns]
    return out[first + [c for c in out.columns if c not in first]]


def rfm_columns(rfm: RFMScorer, feats: pd.DataFrame) -> pd.DataFrame:
    """R, F and M scores, the scheme's ``rfm_segment`` and ``grid_segment``: the cell of the
    10-cell recency x frequency grid (``"grid10"``) of the same scores, for every scheme."""
    out = rfm.transform(feats).drop(columns=s.CUSTOMER_ID)
    out.insert(out.columns.get_loc("rfm_segment") + 1, "grid_segment", assign_segments(
        out["r_score"], out["f_score"], out["m_score"], "grid10"))
    return out
