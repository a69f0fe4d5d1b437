"""Segment profiles (one row per segment) and a picture of them.

The profile reads a customer frame (features plus a segment column, optionally scores):
customers and their share, revenue (gross purchase value) and its share, mean order value
(revenue / orders), median recency, mean orders, and the mean of any score column present
(churn probability, CLV, P(alive)). The picture is drawn with matplotlib's object API on the Agg
canvas: nothing global (no pyplot state, no backend switch) is touched.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from loyalist.errors import DataError

__all__ = ["SCORE_COLUMNS", "plot_segments", "segment_profile"]

#: optional score columns averaged per segment when present
SCORE_COLUMNS = ("churn_probability", "clv_expected", "clv_p50", "clv_bgnbd", "p_alive")


def segment_profile(frame: pd.DataFrame, by: str = "rfm_segment", *,
                    order: list[str] | None = None) -> pd.DataFrame:
    """One row per segment of ``frame[by]``; ``order`` fixes the row order (default: revenue,
    highest first)."""
    need = [by, "monetary_total", "orders", "recency_days"]
    missing = [c for c in need if c not in frame.columns]
    if missing:
        raise DataError(f"segment profile: columns {missing} are missing; join the features "
                        "(loyalist.features.customer_features) with the segment column")
    if len(frame) == 0:
        raise DataError("segment profile: no customers")
    g = frame.groupby(by, sort=False, dropna=False)
    out = pd.DataFrame({
        "customers": g.size(),
        "revenue": g["monetary_total"].sum(),
        "orders_total": g["orders"].sum(),
        "recency_days_median": g["recency_days"].median(),
        "orders_mean": g["orders"].mean(),
    })
    out["customer_share"] = out["customers"] / out["customers"].sum()
    total = out["revenue"].sum()
    out["revenue_share"] = out["revenue"] / total if total else np.nan
    out["mean_order_value"] = out["revenue"] / out["orders_total"].where(out["orders_total"] > 0)
    for col in SCORE_COLUMNS:
        if col in frame.columns:
            out[f"{col}_mean"] = g[col].mean()
    out = out.drop(columns="orders_total")
    if order is not None:
        out = out.reindex([o for o in order if o in out.index])
    else:
        out = out.sort_values(["revenue", "customers"], ascending=False)
    out.index.name = "segment"
    cols = ["customers", "customer_share", "revenue", "revenue_share", "mean_order_value",
            "recency_days_median", "orders_mean"]
    return out[cols + [c for c in out.columns if c not in cols]].reset_index()


def plot_segments(profile: pd.DataFrame, path: str | Path, *, title: str = "Segments") -> Path:
    """A PNG: shares of customers and revenue per segment, and a recency x frequency bubble
    chart (bubble area = customers, colour = mean churn probability when present)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # plotting only: import late
    from matplotlib.figure import Figure

    if len(profile) == 0:
        raise DataError("segment picture: the profile has no segments")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig = Figure(figsize=(12, max(5.0, 0.45 * len(profile) + 1.5)), dpi=100)
    FigureCanvasAgg(fig)
    ax1, ax2 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.1, 1]})
    names = profile["segment"].astype(str).tolist()
    y = np.arange(len(names))
    ax1.barh(y - 0.2, profile["customer_share"] * 100, height=0.4, label="customers",
             color="#4C72B0")
    ax1.barh(y + 0.2, profile["revenue_share"] * 100, height=0.4, label="revenue",
             color="#DD8452")
    ax1.set_yticks(y, names)
    ax1.invert_yaxis()
    ax1.set_xlabel("share, %")
    ax1.legend(loc="lower right")
    ax1.set_title("share of customers and of revenue")
    colour = profile.get("churn_probability_mean")
    size = 2000 * profile["customer_share"].to_numpy() + 30
    sc = ax2.scatter(profile["recency_days_median"], profile["orders_mean"], s=size,
                     c=colour if colour is not None else "#4C72B0",
                     cmap="RdYlGn_r" if colour is not None else None,
                     vmin=0 if colour is not None else None,
                     vmax=1 if colour is not None else None, alpha=0.7, edgecolors="k")
    for _, row in profile.iterrows():
        ax2.annotate(str(row["segment"]), (row["recency_days_median"], row["orders_mean"]),
                     fontsize=7, ha="center", va="center")
    ax2.set_xlabel("median days since last purchase")
    ax2.set_ylabel("mean orders")
    ax2.set_yscale("log")
    ax2.margins(0.15)
    ax2.set_title("recency x frequency (area = customers)")
    if colour is not None:
        fig.colorbar(sc, ax=ax2, label="mean churn probability")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, format="png")
    return path
