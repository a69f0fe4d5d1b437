"""The segment side of a run's results: the scores frame with only the segments filled
(:func:`segment_scores`, for when churn and CLV cannot be trained), the segment profile tables,
``metrics["segments"]``, and the files a run writes (the scores as CSV and Parquet, each
profile as CSV and a picture, the cluster selection).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from loyalist import schema as s
from loyalist.errors import DataError
from loyalist.evaluation.run import SCORE_COLUMNS, rfm_columns
from loyalist.segment import SCHEMES, CustomerClusters, RFMScorer, plot_segments, segment_profile

__all__ = ["MODEL_COLUMNS", "segment_scores"]


_PROFILE_TITLES = {"rfm": "RFM segments", "grid": "Recency x frequency grid (10 cells)",
                   "clusters": "Behavioural clusters"}


def write_outputs(out: Path, scores: pd.DataFrame, profiles: dict[str, pd.DataFrame],
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
    parts = [feats[[s.CUSTOMER_ID]], rfm_columns(rfm, feats)]
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


def segment_profiles(feats: pd.DataFrame, scores: pd.DataFrame, rfm: RFMScorer,
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


def segments_summary(scheme: str, scores: pd.DataFrame, clusters: CustomerClusters | None
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
