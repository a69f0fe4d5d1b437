"""The facade every door (CLI, API, dashboard) calls, so a result is the same whichever way it
comes. Functions here take paths and plain values, open the store, call the library, and return
plain data (dicts and frames) for the caller to show.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import platform
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from loyalist import __version__
from loyalist import schema as s
from loyalist.errors import LoyalistError, ParameterError
from loyalist.features import customer_features, to_as_of
from loyalist.ingest import ingest_files
from loyalist.store import Store

log = logging.getLogger(__name__)

Progress = Callable[[str], None]


@contextlib.contextmanager
def _new_store_guard(path: Path) -> Iterator[None]:
    """If ``path`` did not exist and the block fails, remove what opening it created, so a failed
    first load leaves no half-made store behind."""
    existed = path.exists()
    try:
        yield
    except LoyalistError:
        if not existed:
            for p in (path, path.with_name(path.name + ".wal")):
                p.unlink(missing_ok=True)
        raise


def ingest(store_path: Path, files: Sequence[str | Path], *, fmt: str = "auto",
           mapping: Sequence[str] | None = None, table: str = "auto",
           progress: Progress | None = None) -> list[dict[str, Any]]:
    with _new_store_guard(store_path), Store(store_path) as st:
        return ingest_files(st, files, fmt=fmt, mapping=mapping, table=table,
                            loaded_at=datetime.now(), progress=progress)


def resolve_as_of(st: Store, as_of: str | None) -> pd.Timestamp:
    """An explicit as_of, or the day after the store's last transaction."""
    return to_as_of(as_of) if as_of else st.default_as_of()


def features(store_path: Path, *, as_of: str | None = None, out: Path | None = None,
             save: bool = True) -> tuple[pd.Timestamp, pd.DataFrame, Path | None]:
    """Compute features at ``as_of``; write them to ``out`` (.parquet or .csv) and the store."""
    if out is not None and out.suffix.lower() not in (".parquet", ".csv"):
        raise ParameterError(f"--out {out}: use a .parquet or .csv file name")
    with Store(store_path, read_only=not save) as st:
        ts = resolve_as_of(st, as_of)
        frame = customer_features(st, ts)
        if save:
            st.write_frame(s.T_FEATURES, frame, replace_where="as_of = ?",
                           params=[ts.to_pydatetime()])
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.suffix.lower() == ".csv":
            frame.to_csv(out, index=False)
        else:
            frame.to_parquet(out, index=False)
    return ts, frame, out


def generate(scenario: str, *, customers: int | None, months: int, seed: int, out: Path
             ) -> dict[str, Any]:
    from loyalist.generate import SCENARIOS, write_scenario
    from loyalist.generate import generate as _generate

    if scenario not in SCENARIOS:
        raise ParameterError(
            f"--scenario {scenario!r} is unknown; use one of: {', '.join(SCENARIOS)}")
    n = customers if customers is not None else SCENARIOS[scenario].default_customers
    sc = _generate(scenario, customers=n, months=months, seed=seed)
    files = write_scenario(sc, out)
    return {"scenario": scenario, "customers": n, "months": months, "seed": seed,
            "out": str(out), "files": {k: str(v) for k, v in files.items()},
            "transactions": int(len(sc.transactions))}


#: generated files and the store table each one loads into
SCENARIO_TABLES = {
    "transactions": s.T_TRANSACTIONS, "products": s.T_PRODUCTS,
    "customers": s.T_CUSTOMERS, "promotions": s.T_PROMOTIONS,
}


def demo(out: Path, *, scenario: str = "fashion", customers: int | None = None, months: int = 18,
         seed: int = 7, progress: Progress | None = None) -> dict[str, Any]:
    """The main job: generate a merchant scenario, load it into a fresh store, and run every
    part that exists, writing everything under ``out``."""
    say = progress or (lambda _m: None)
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    data_dir = out / "data"
    store_path = out / "loyalist.duckdb"
    for p in (store_path, store_path.with_name(store_path.name + ".wal")):
        p.unlink(missing_ok=True)
    say(f"generating the {scenario} scenario")
    gen = generate(scenario, customers=customers, months=months, seed=seed, out=data_dir)
    reports = []
    for name, table in SCENARIO_TABLES.items():
        say(f"loading {name}")
        reports += ingest(store_path, [gen["files"][name]], table=table, progress=progress)
    (out / "quality_report.json").write_text(json.dumps(reports, indent=2, default=str))
    say("computing features")
    as_of, feats, feat_path = features(store_path, out=out / "features.parquet")
    feats.to_csv(out / "features.csv", index=False)
    say("training customer models (segments, churn, lifetime value)")
    trained = train(store_path, as_of=str(as_of.date()), out=out / "customers", progress=progress)
    result = {
        "out": str(out), "store": str(store_path), "scenario": gen, "as_of": str(as_of.date()),
        "loads": [{k: r[k] for k in ("table", "file", "rows_read", "rows_loaded",
                                     "rows_quarantined", "rules")} for r in reports],
        "customers_with_features": int(len(feats)),
        "customer_models": trained["summary"],
        "outputs": {"quality_report": str(out / "quality_report.json"),
                    "features": str(feat_path), "features_csv": str(out / "features.csv"),
                    **{k: v for k, v in trained["paths"].items()
                       if k in ("scores_csv", "card_html", "model") or k.startswith("plot_")}},
    }
    result["seconds"] = round(time.perf_counter() - started, 2)
    write_run_json(out, command="demo", as_of=as_of, inputs=[Path(p) for p in
                   gen["files"].values() if Path(p).is_file()],
                   metrics={"customer_models": trained["metrics"].get("evaluation", {})},
                   extra=result)
    return result


def write_run_json(out: Path, *, command: str, as_of: pd.Timestamp | None, inputs: list[Path],
                   metrics: dict[str, Any], extra: dict[str, Any] | None = None) -> Path:
    """``run.json``: versions, as_of, the inputs' hashes and the metrics of one run."""
    import duckdb
    import numpy
    import sklearn

    def sha(p: Path) -> str:
        return hashlib.sha256(p.read_bytes()).hexdigest()

    doc = {
        "command": command, "loyalist": __version__, "python": sys.version.split()[0],
        "platform": platform.platform(),
        "versions": {"duckdb": duckdb.__version__, "pandas": pd.__version__,
                     "numpy": numpy.__version__, "scikit-learn": sklearn.__version__},
        "as_of": str(as_of) if as_of is not None else None,
        "inputs": {str(p): sha(p) for p in inputs}, "metrics": metrics, **(extra or {}),
    }
    path = out / "run.json"
    path.write_text(json.dumps(doc, indent=2, default=str))
    return path


CLV_MODELS = ("bgnbd", "pareto", "gammagamma")


def clv_fit(store_path: Path, *, as_of: str | None = None, time_unit: str = "W",
            model: str = "bgnbd") -> dict[str, Any]:
    """Fit one probabilistic model on the store's RFM summary at ``as_of``."""
    from loyalist.clv import BetaGeoModel, GammaGammaModel, ParetoNBDModel
    from loyalist.features import rfm_summary

    if model not in CLV_MODELS:
        raise ParameterError(f"--model {model!r} is unknown; use one of: {', '.join(CLV_MODELS)}")
    with Store(store_path, read_only=True) as st:
        ts = resolve_as_of(st, as_of)
        rfm = rfm_summary(st, ts, time_unit)
    if model == "gammagamma":
        m: Any = GammaGammaModel().fit(rfm.frequency, rfm.monetary_value)
    else:
        cls = BetaGeoModel if model == "bgnbd" else ParetoNBDModel
        m = cls().fit(rfm.frequency, rfm.recency, rfm["T"])
    return {"model": model, "as_of": str(ts.date()), "time_unit": time_unit,
            "params": {k: float(v) for k, v in m.params_.items()},
            "log_likelihood": float(m.log_likelihood_), "customers": int(len(rfm)),
            "customers_fitted": int(m.n_customers_), "converged": bool(m.converged_),
            "diagnostics": list(m.diagnostics_)}


def _churn_summary(metrics: dict[str, Any]) -> dict[str, Any]:
    """The headline out-of-time numbers of a customer-model evaluation, for a short print."""
    ev = metrics.get("evaluation", metrics)
    if "skipped" in ev:
        return {"skipped": ev["skipped"]}
    return {"test_cutoff": ev.get("test_cutoff"),
            "churn": ev.get("churn", {}).get("models", {}),
            "clv": ev.get("clv", {}).get("models", {})}


def train(store_path: Path, *, as_of: str | None = None, horizon: int = 90,
          out: Path | None = None, progress: Progress | None = None) -> dict[str, Any]:
    """Fit segments, churn and CLV at ``as_of``, evaluate out of time at ``as_of - horizon``,
    score every customer, and write scores to the store (table ``scores``) and ``out``."""
    from loyalist.evaluation.run import train_and_score

    with Store(store_path) as st:
        ts = resolve_as_of(st, as_of)
        res = train_and_score(st, ts, horizon, out, progress=progress)
        st.write_frame(s.T_SCORES, res["scores"], replace_where="as_of = ?",
                       params=[ts.to_pydatetime()])
    return {"as_of": str(ts.date()), "horizon_days": horizon,
            "customers": int(len(res["scores"])), "metrics": res["metrics"],
            "summary": _churn_summary(res["metrics"]),
            "paths": {k: str(v) for k, v in res["paths"].items()}}


def score(store_path: Path, *, model_dir: Path, as_of: str | None = None,
          out: Path | None = None) -> dict[str, Any]:
    """Score customers at ``as_of`` with models saved by ``train`` (version-checked)."""
    from loyalist.evaluation.persist import load
    from loyalist.evaluation.run import score_customers

    models = load(model_dir)
    with Store(store_path) as st:
        ts = resolve_as_of(st, as_of)
        scores = score_customers(models, customer_features(st, ts))
        st.write_frame(s.T_SCORES, scores, replace_where="as_of = ?",
                       params=[ts.to_pydatetime()])
    paths: dict[str, str] = {}
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        scores.to_csv(out / "scores.csv", index=False)
        scores.to_parquet(out / "scores.parquet", index=False)
        paths = {"scores_csv": str(out / "scores.csv"),
                 "scores_parquet": str(out / "scores.parquet")}
    return {"as_of": str(ts.date()), "customers": int(len(scores)),
            "tiers": scores["churn_tier"].value_counts().to_dict(), "paths": paths,
            "scores": scores}


def evaluate_customers(store_path: Path, *, as_of: str, horizon: int = 90,
                       out: Path | None = None) -> dict[str, Any]:
    """Out-of-time evaluation of the customer models at ``as_of`` (test window after it)."""
    from loyalist.evaluation.card import write_model_card
    from loyalist.evaluation.run import evaluate

    with Store(store_path, read_only=True) as st:
        metrics, _pred = evaluate(st, to_as_of(as_of), horizon)
    paths: dict[str, str] = {}
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        paths = {k: str(v) for k, v in write_model_card(metrics, out).items()}
    return {"as_of": as_of, "horizon_days": horizon, "metrics": metrics, "paths": paths,
            "summary": _churn_summary(metrics)}
