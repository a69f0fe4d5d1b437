"""The report's pictures as PNG bytes, drawn with matplotlib's object API on the Agg canvas
(no pyplot state, no backend switch, no file written here)."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pandas as pd

from loyalist.money import label

__all__ = ["PLOT_NAMES", "draw_all"]

BLUE, ORANGE, GREY = "#2b6cb0", "#dd6b20", "#718096"
TIER_COLOURS = {"high": "#c53030", "medium": "#dd6b20", "low": "#2f855a"}
HISTORY_DAYS = 120
#: every picture a report can draw (the writer removes stale ones left by an earlier report)
PLOT_NAMES = ("monthly", "segments", "clusters", "churn", "churn_calibration", "clv",
              "clv_calibration", "plan", "forecast", "recommendations")


def _figure(w: float = 9.0, h: float = 3.6, ncols: int = 1) -> tuple[Any, Any]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # plotting only: import late
    from matplotlib.figure import Figure

    fig = Figure(figsize=(w, h))
    FigureCanvasAgg(fig)
    return fig, fig.subplots(1, ncols, squeeze=False)[0]


def _png(fig: Any) -> bytes:
    import warnings

    buf = io.BytesIO()
    with warnings.catch_warnings():
        # a date axis over years of data with a stray recent day: matplotlib picks 6 months
        # between ticks itself, and said so on the merchant's screen (exploratory report 10)
        warnings.filterwarnings("ignore", message="AutoDateLocator was unable to pick",
                                category=UserWarning)
        fig.tight_layout()
        fig.savefig(buf, format="png", dpi=90)
    return buf.getvalue()


def _dates(ax: Any) -> None:
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    loc = AutoDateLocator(maxticks=8)
    ax.xaxis.set_major_locator(loc)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(loc))


def monthly(frame: pd.DataFrame, code: str | None = None) -> bytes:
    """Net revenue (bars) and active customers (line) per month; a month the data cover only
    in part (column ``covers``, e.g. ``1-9 Dec``) is hatched and labelled with its days.
    ``code``: the amounts' currency, in the axis label (as in every picture here)."""
    fig, (ax,) = _figure(h=3.2)
    x = pd.to_datetime(frame["month"])
    covers = frame["covers"] if "covers" in frame else pd.Series([None] * len(frame))
    part = covers.notna().to_numpy()
    ax.bar(x[~part], frame["revenue"][~part], width=20, color=BLUE, label="net revenue")
    if part.any():
        ax.bar(x[part], frame["revenue"][part], width=20, color="white", edgecolor=BLUE,
               hatch="//", label="part of a month")
        for when, rev, days in zip(x[part], frame["revenue"][part], covers[part], strict=True):
            ax.annotate(str(days), (when, rev), textcoords="offset points", xytext=(0, 3),
                        ha="center", fontsize=7)
    ax.set_ylabel(label("net revenue", code))
    ax2 = ax.twinx()
    ax2.plot(x[~part], frame["customers"][~part], color=ORANGE, marker="o", ms=3,
             label="customers")
    if part.any():
        ax2.plot(x[part], frame["customers"][part], color=ORANGE, marker="o", ms=4,
                 linestyle="none", markerfacecolor="white")
    ax2.set_ylabel("customers")
    _dates(ax)
    if part.any():
        ax.legend(loc="upper left", fontsize=7)
    ax.set_title("Revenue and customers per month")
    return _png(fig)


def segments(profile: pd.DataFrame, title: str = "Segments") -> bytes:
    """Share of customers and of revenue per segment (horizontal bars)."""
    prof = profile.iloc[::-1]
    fig, (ax,) = _figure(h=max(2.6, 0.38 * len(prof) + 1.0))
    y = np.arange(len(prof))
    ax.barh(y + 0.2, 100 * prof["customer_share"], height=0.4, color=BLUE, label="customers %")
    ax.barh(y - 0.2, 100 * prof["revenue_share"].fillna(0), height=0.4, color=ORANGE,
            label="revenue %")
    ax.set_yticks(y, [str(v) for v in prof["segment"]])
    ax.set_xlabel("% of total")
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title(f"{title}: share of customers and revenue")
    return _png(fig)


def churn(probability: np.ndarray, tier: np.ndarray) -> bytes:
    """Histogram of churn probability, stacked by tier."""
    fig, (ax,) = _figure(h=3.2)
    bins = np.linspace(0, 1, 21)
    names = [t for t in TIER_COLOURS if (tier == t).any()]
    ax.hist([probability[tier == t] for t in names], bins=bins, stacked=True,
            color=[TIER_COLOURS[t] for t in names], label=names)
    ax.set_xlabel("churn probability")
    ax.set_ylabel("customers")
    ax.legend(title="tier", fontsize=8)
    ax.set_title("Churn probability by tier")
    return _png(fig)


def calibration(bins: list[dict[str, float]], title: str, label: str) -> bytes:
    """Mean predicted vs observed per bin, against the diagonal."""
    fig, (ax,) = _figure(w=5.0, h=4.0)
    x = [b["mean_predicted"] for b in bins]
    y = [b["mean_observed"] for b in bins]
    hi = max([*x, *y, 1e-9])
    ax.plot([0, hi], [0, hi], ls="--", color=GREY, label="perfect")
    ax.plot(x, y, marker="o", color=BLUE, label="model")
    ax.set_xlabel(f"mean predicted {label}")
    ax.set_ylabel(f"observed {label}")
    ax.legend(fontsize=8)
    ax.set_title(title)
    return _png(fig)


def clv(values: np.ndarray, deciles: pd.DataFrame, code: str | None = None) -> bytes:
    """Distribution of expected CLV and each decile's mean with its p10-p90 band."""
    fig, (a1, a2) = _figure(w=10, h=3.4, ncols=2)
    v = values[np.isfinite(values)]
    a1.hist(v, bins=40, color=BLUE)
    a1.set_yscale("symlog")
    a1.set_xlabel(label("expected CLV", code))
    a1.set_ylabel("customers")
    a1.set_title("Distribution of expected CLV")
    d = deciles["decile"]
    a2.bar(d, deciles["clv_expected_mean"], color=BLUE, label="expected (mean)")
    if {"clv_p10_mean", "clv_p90_mean"} <= set(deciles):
        lo, hi = deciles["clv_p10_mean"], deciles["clv_p90_mean"]
        a2.vlines(d, lo, hi, color=ORANGE, lw=3, label="p10-p90 (mean)")
        if "clv_p50_mean" in deciles:
            a2.plot(d, deciles["clv_p50_mean"], "o", color="black", ms=3, label="p50 (mean)")
    a2.set_xticks(list(d))
    a2.set_xlabel("decile (1 = highest)")
    a2.set_ylabel(label("expected CLV", code))
    a2.legend(fontsize=8)
    a2.set_title("CLV by decile")
    return _png(fig)


def plan(allocation: pd.DataFrame, sensitivity: pd.DataFrame, budget: float | None,
         code: str | None = None) -> bytes:
    """Budget allocation per promotion and the budget-sensitivity curve."""
    fig, (a1, a2) = _figure(w=10, h=3.6, ncols=2)
    if len(allocation):
        al = allocation.iloc[::-1]
        a1.barh([str(p) for p in al["promotion"]], al["cost"], color=BLUE)
        a1.set_xlabel(label("expected cost", code))
    a1.set_title("Budget allocation")
    if len(sensitivity) and {"budget", "value"} <= set(sensitivity):
        from loyalist.promote.report import draw_sensitivity

        draw_sensitivity(a2, sensitivity, budget, "goal value")
    else:
        a2.set_title("Budget sensitivity")
    return _png(fig)


def forecast(history: pd.Series, fc: pd.DataFrame, series: str = "total",
             code: str | None = None) -> bytes:
    """Recent daily history and the forecast with its 80% and 95% intervals."""
    fig, (ax,) = _figure(h=3.6)
    h = history.iloc[-HISTORY_DAYS:]
    ax.plot(h.index, h.to_numpy(), color=GREY, lw=0.9, label="history")
    f = fc[fc["series"] == series]
    x = pd.to_datetime(f["date"])
    ax.fill_between(x, f["lo95"], f["hi95"], color=BLUE, alpha=0.15, label="95% interval")
    ax.fill_between(x, f["lo80"], f["hi80"], color=BLUE, alpha=0.3, label="80% interval")
    ax.plot(x, f["mean"], color=BLUE, lw=1.4, label="forecast")
    model = f["model"].iloc[0] if len(f) else ""
    _dates(ax)
    ax.set_ylabel(label("net revenue", code))
    ax.set_title(f"Daily net revenue: {series} ({model})")
    ax.legend(fontsize=8, loc="upper left")
    return _png(fig)


def top_products(top: pd.DataFrame) -> bytes:
    """Customers each of the most recommended products is recommended to."""
    t = top.iloc[::-1]
    fig, (ax,) = _figure(h=max(2.6, 0.35 * len(t) + 1.0))
    ax.barh([str(p) for p in t["product_id"]], t["customers"], color=BLUE)
    ax.set_xlabel("customers")
    ax.set_title("Most recommended products")
    return _png(fig)


def draw_all(sections: dict[str, dict[str, Any]], code: str | None = None
             ) -> dict[str, bytes]:
    """Every picture the present sections call for, by name; ``code``: the store's currency
    (:func:`loyalist.store.currency`), named on the axes of amounts."""
    out: dict[str, bytes] = {}
    q = sections.get("quality")
    if q is not None and len(q["monthly"]):
        out["monthly"] = monthly(q["monthly"], code)
    seg = sections.get("segments")
    if seg is not None:
        out["segments"] = segments(seg["profile"])
        if "clusters" in seg:
            out["clusters"] = segments(seg["clusters"], "Clusters")
    ch = sections.get("churn")
    if ch is not None:
        out["churn"] = churn(ch["probability"], ch["tier"])
        cal = (ch.get("evaluation") or {}).get("calibration")
        if cal:
            out["churn_calibration"] = calibration(cal, "Churn calibration (out of time)",
                                                   "churn rate")
    cl = sections.get("clv")
    if cl is not None:
        out["clv"] = clv(cl["values"], cl["deciles"], code)
        cal = ((cl.get("evaluation") or {}).get("calibration") or {}).get("model")
        if cal:
            out["clv_calibration"] = calibration(cal, "CLV calibration (out of time)", "spend")
    cp = sections.get("campaign")
    if cp is not None:
        from loyalist.evaluation.campaign import campaign_png

        png = campaign_png(cp["result"])
        if png is not None:
            out["campaign"] = png
    pl = sections.get("plan")
    if pl is not None:
        out["plan"] = plan(pl["allocation"], pl["sensitivity"], pl["summary"].get("budget"),
                           code)
    fc = sections.get("forecast")
    if fc is not None and len(fc["forecast"]):
        name = "total" if (fc["forecast"]["series"] == "total").any() \
            else str(fc["forecast"]["series"].iloc[0])
        hist = fc["history"] if name == "total" else pd.Series(dtype=float)
        out["forecast"] = forecast(hist, fc["forecast"], name, code)
    rc = sections.get("recommendations")
    if rc is not None and len(rc["top"]):
        out["recommendations"] = top_products(rc["top"])
    return out
