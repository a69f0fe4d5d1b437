"""Fit, score and evaluate every customer model: :func:`train_and_score`, the facade behind
``loyalist train`` (``loyalist score`` and ``loyalist evaluate`` use
:func:`~loyalist.evaluation.run.score_customers` and
:func:`~loyalist.evaluation.out_of_time.evaluate`).

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
  (:func:`~loyalist.evaluation.out_of_time.evaluation_cutoff`).

Only :func:`loyalist.features.customer_features` and :func:`loyalist.features.labels` read the
store; everything else works on frames.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from loyalist import __version__, jsontext
from loyalist.churn.baseline import BASELINES, BaselineChurnModel
from loyalist.errors import DataError, check_days
from loyalist.evaluation.out_of_time import (
    BASELINE_MARGIN,
    churn_fallback,
    churn_season,
    churn_warning,
    clv_season,
    evaluate,
    evaluation_cutoff,
    sentence,
)
from loyalist.evaluation.run import (
    CustomerModels,
    ModelSettings,
    fit_customer_models,
    score_customers,
)
from loyalist.evaluation.segment_outputs import (
    segment_profiles,
    segment_scores,
    segments_summary,
    write_outputs,
)
from loyalist.evaluation.splits import check_observed
from loyalist.features import MAX_HORIZON_DAYS, customer_features, to_as_of
from loyalist.segment import CustomerClusters, RFMScorer
from loyalist.store import Store

log = logging.getLogger(__name__)

__all__ = ["train_and_score"]


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
    profiles = segment_profiles(feats, scores, rfm, clusters)
    metrics: dict[str, Any] = {
        "loyalist_version": __version__,
        "as_of": str(ts),
        "horizon_days": horizon,
        "segments_only": True,
        "evaluation": evaluation,
        "training": {"skipped": why},
        "scoring": {"customers": int(len(scores)), "tiers": {}, "expected_spend_total": None},
        "segments": segments_summary(cfg.scheme, scores, clusters),
        "notes": notes,
    }
    paths: dict[str, Path] = {}
    card: dict[str, Path] | None = None
    selection = clusters.selection_ if clusters is not None else None
    if out_dir is not None:
        from loyalist.evaluation.card import write_model_card

        say(f"writing results to {out_dir}")
        out = Path(out_dir)
        paths = write_outputs(out, scores, profiles, selection)
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
              f"is more than {BASELINE_MARGIN} below that of {BASELINES[name]}, {base:.3f}")
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
    profiles = segment_profiles(feats, scores, models.rfm, models.clusters)
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
                     "churn_season": churn_season(models.churn),
                     "clv_season": clv_season(models.clv),
                     "data_fingerprint": models.data_fingerprint_},
        "scoring": {"customers": int(len(scores)),
                    "tiers": scores["churn_tier"].value_counts().to_dict(),
                    "expected_spend_total": float(scores["clv_expected"].sum())},
        "churn": churn_scoring,
        "segments": segments_summary(cfg.scheme, scores, models.clusters),
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
        paths = write_outputs(out, scores, profiles, models.clusters.selection_)
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
