"""Customer models behind the facade: probabilistic CLV fits, training and scoring segments,
churn and lifetime value, and their out-of-time evaluations.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from loyalist import schema as s
from loyalist.errors import ParameterError, check_days
from loyalist.evaluation.runs import TRAIN_RUN, save_run
from loyalist.features import MAX_HORIZON_DAYS, customer_features, to_as_of
from loyalist.pipeline.store import Progress, resolve_as_of
from loyalist.store import Store
from loyalist.store import currency as store_currency


def _need_as_of(st: Store, command: str, what: str, days: int) -> ParameterError:
    """The error for a missing ``--as-of``, with an example from the store's own dates: the
    latest as_of whose ``days``-day window is observed."""
    first, last = st.date_range()
    latest = st.default_as_of() - pd.Timedelta(days=days)
    return ParameterError(f"loyalist {command} needs --as-of, {what}; the {days}-day window "
                          f"after it must lie in the data ({first.date()} to {last.date()}), "
                          f"e.g. --as-of {max(latest, first.normalize()).date()}")


CLV_MODELS = ("bgnbd", "pareto", "gammagamma")


def clv_fit(store_path: Path, *, as_of: str | None = None, time_unit: str = "W",
            model: str = "bgnbd") -> dict[str, Any]:
    """Fit one probabilistic model on the store's RFM summary at ``as_of``."""
    from loyalist.clv import BetaGeoModel, GammaGammaModel, ParetoNBDModel, positive_spend
    from loyalist.features import rfm_summary

    if model not in CLV_MODELS:
        raise ParameterError(f"--model {model!r} is unknown; use one of: {', '.join(CLV_MODELS)}")
    with Store(store_path, read_only=True) as st:
        ts = resolve_as_of(st, as_of)
        rfm = rfm_summary(st, ts, time_unit)
        code = store_currency(st)
    left_out = None
    if model == "gammagamma":
        ok, left_out = positive_spend(rfm.frequency, rfm.monetary_value)
        m: Any = GammaGammaModel().fit(rfm.frequency[ok], rfm.monetary_value[ok])
    else:
        cls = BetaGeoModel if model == "bgnbd" else ParetoNBDModel
        m = cls().fit(rfm.frequency, rfm.recency, rfm["T"])
    return {"model": model, "as_of": str(ts.date()), "time_unit": time_unit,
            "params": {k: float(v) for k, v in m.params_.items()},
            "log_likelihood": float(m.log_likelihood_), "customers": int(len(rfm)),
            "customers_fitted": int(m.n_customers_), "converged": bool(m.converged_),
            "diagnostics": [*([left_out] if left_out else []), *m.diagnostics_],
            # the amounts a Gamma-Gamma model's spend is in
            "currency": code}


def _churn_summary(metrics: dict[str, Any]) -> dict[str, Any]:
    """The headline out-of-time numbers of a customer-model evaluation, for a short print."""
    ev = metrics.get("evaluation", metrics)
    if "skipped" in ev:
        return {"skipped": ev["skipped"]}
    scoring = metrics.get("churn") or {}
    return {"test_cutoff": ev.get("test_cutoff"),
            "churn": ev.get("churn", {}).get("models", {}),
            "clv": ev.get("clv", {}).get("models", {}),
            "churn_scored_by": scoring.get("scored_by", "model"),
            "churn_scored_by_label": scoring.get("label"),
            "churn_scored_by_reason": scoring.get("reason"),
            "churn_warning": ev.get("churn", {}).get("warning"),
            "clv_warning": ev.get("clv", {}).get("warning")}


def train(store_path: Path, *, as_of: str | None = None, horizon: int = 90,
          out: Path | None = None, tiers: tuple[float, float] = (0.4, 0.7),
          progress: Progress | None = None) -> dict[str, Any]:
    """Fit segments, churn and CLV at ``as_of``, evaluate out of time at ``as_of - horizon``,
    score every customer, and write scores to the store (table ``scores``) and ``out``.
    ``tiers`` are the churn tiers' ``(medium, high)`` thresholds (saved with the models, so
    ``score`` uses them too). When churn and CLV cannot be trained, the customers are still
    segmented (``segments_only`` says why; the churn and CLV columns are NULL)."""
    from loyalist.churn.model import check_thresholds, describe_tiers
    from loyalist.evaluation.train import train_and_score

    horizon = check_days(horizon, "--horizon", max_days=MAX_HORIZON_DAYS, example=90)
    tiers = check_thresholds(tiers, "--tiers")
    with Store(store_path, create=False) as st:
        ts = resolve_as_of(st, as_of)
        res = train_and_score(st, ts, horizon, out, thresholds=tiers, progress=progress)
        st.write_frame(s.T_SCORES, res["scores"], replace_where="as_of = ?",
                       params=[ts.to_pydatetime()])
        save_run(st, TRAIN_RUN, ts, res["metrics"])
    return {"as_of": str(ts.date()), "horizon_days": horizon,
            "customers": int(len(res["scores"])), "metrics": res["metrics"],
            "tier_thresholds": list(tiers), "tier_rule": describe_tiers(tiers),
            "segments_only": res["metrics"].get("training", {}).get("skipped"),
            "summary": _churn_summary(res["metrics"]),
            "paths": {k: str(v) for k, v in res["paths"].items()}}


def score(store_path: Path, *, model_dir: Path, as_of: str | None = None,
          out: Path | None = None, progress: Progress | None = None) -> dict[str, Any]:
    """Score customers at ``as_of`` with models saved by ``train`` (version-checked),
    replacing the store's scores of that as_of only. ``warnings`` says when ``as_of`` lies
    more than the models' horizon from the as_of they were fitted at."""
    from loyalist.churn.model import describe_tiers
    from loyalist.evaluation.persist import load
    from loyalist.evaluation.run import score_customers

    say = progress or (lambda _m: None)
    models = load(model_dir)
    with Store(store_path, create=False) as st:
        ts = resolve_as_of(st, as_of)
        code = store_currency(st)
        warnings = [w for w in [_model_age_warning(models.as_of, models.horizon_days, ts,
                                                   st.path)] if w]
        say(f"features at {ts.date()}")
        feats = customer_features(st, ts)
        say(f"scoring {len(feats):,} customers (segments, churn with its reasons, lifetime "
            "value)")
        scores = score_customers(models, feats)
        say("writing the scores")
        st.write_frame(s.T_SCORES, scores, replace_where="as_of = ?",
                       params=[ts.to_pydatetime()])
    paths: dict[str, str] = {}
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        scores.to_csv(out / "scores.csv", index=False)
        scores.to_parquet(out / "scores.parquet", index=False)
        paths = {"scores_csv": str(out / "scores.csv"),
                 "scores_parquet": str(out / "scores.parquet")}
    churn = models.churn_scorer
    return {"as_of": str(ts.date()), "customers": int(len(scores)), "currency": code,
            "tiers": scores["churn_tier"].value_counts().to_dict(),
            "tier_thresholds": [float(x) for x in churn.thresholds],
            "tier_rule": describe_tiers(tuple(float(x) for x in churn.thresholds)),
            "paths": paths,
            "warnings": warnings, "churn_scored_by": models.churn_scored_by,
            "churn_scored_by_label": (churn.label if models.churn_scored_by != "model"
                                      else None),
            "scores": scores}


def _model_age_warning(fitted: pd.Timestamp, horizon: int, ts: pd.Timestamp, store: Path
                       ) -> str | None:
    """A sentence when models fitted at ``fitted`` score ``ts`` more than their ``horizon``
    days away: later, the churn and value patterns they learned are that much older; earlier,
    they learned from what happened after ``ts``, so the scores are no fair test of them."""
    gap = (ts - pd.Timestamp(fitted)).days
    if abs(gap) <= horizon:
        return None
    when = (f"{gap:,} days later: the churn and value patterns they learned are that much "
            "older" if gap > 0 else f"{-gap:,} days earlier: they learned from what happened "
            f"after {ts.date()}, so these scores are no fair test of them")
    return (f"the models were fitted at as_of {pd.Timestamp(fitted).date()} (horizon {horizon} "
            f"days) and score {ts.date()}, {when}; retrain for this date with `loyalist train "
            f"--store {store} --as-of {ts.date()}`")


def evaluate_customers(store_path: Path, *, as_of: str | None, horizon: int = 90,
                       out: Path | None = None) -> dict[str, Any]:
    """Out-of-time evaluation of the customer models at ``as_of`` (test window after it)."""
    from loyalist.evaluation.card import write_model_card
    from loyalist.evaluation.out_of_time import evaluate
    from loyalist.evaluation.splits import check_test_window

    horizon = check_days(horizon, "--horizon", max_days=MAX_HORIZON_DAYS, example=90)
    with Store(store_path, read_only=True) as st:
        if not as_of:
            raise _need_as_of(st, "evaluate", "the test cutoff", horizon)
        ts = to_as_of(as_of)
        check_test_window(st.date_range()[1], ts, horizon)
        metrics, _pred = evaluate(st, ts, horizon)
    paths: dict[str, str] = {}
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        paths = {k: str(v) for k, v in write_model_card(metrics, out).items()}
    return {"as_of": as_of, "horizon_days": horizon, "metrics": metrics, "paths": paths,
            "summary": _churn_summary(metrics)}


def evaluate_purchases(store_path: Path, *, as_of: str | None, horizon: int = 90
                       ) -> dict[str, Any]:
    """Purchase days per customer in ``[as_of, as_of + horizon)`` forecast by BG/NBD, the
    boosted count model and "same as last period", scored on what happened
    (:func:`loyalist.evaluation.purchases.compare_purchase_forecasts`)."""
    from loyalist.evaluation.purchases import compare_purchase_forecasts

    horizon = check_days(horizon, "--horizon", max_days=MAX_HORIZON_DAYS, example=90)
    with Store(store_path, read_only=True) as st:
        if not as_of:
            raise _need_as_of(st, "evaluate purchases", "the forecast origin", horizon)
        return compare_purchase_forecasts(st, to_as_of(as_of), horizon)
