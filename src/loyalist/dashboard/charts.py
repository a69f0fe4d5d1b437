"""The dashboard's Plotly figures, built from the plan summary and the segment profiles the
API serves, and handed to the page as JSON (``data-figure``) for plotly.js to draw."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

from loyalist import money
from loyalist.schema import NEW_SEGMENT
from loyalist.segment.rfm import SEGMENT_NAMES

LAYOUT: dict[str, Any] = {
    "template": "plotly_white", "height": 340, "margin": {"l": 10, "r": 10, "t": 10, "b": 10},
    "font": {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12},
    "legend": {"orientation": "h", "y": -0.2}, "hovermode": "closest",
}


#: 16 colours a reader can tell apart (Plotly's ten, then six darker ones), enough for every
#: segment a plan can target
PALETTE = ("#636EFA", "#EF553B", "#00CC96", "#AB63FA", "#FFA15A", "#19D3F3", "#FF6692",
           "#B6E880", "#FF97FF", "#FECB52", "#1F3A93", "#8C564B", "#5F6B73", "#0B6E4F",
           "#808000", "#800000")
#: every segment name a plan can target, in a fixed order: each keeps its colour in every plan
KNOWN_SEGMENTS = (*SEGMENT_NAMES, NEW_SEGMENT, "all")


def segment_colours(names: list[str]) -> dict[str, str]:
    """A colour per segment: a known segment's own colour (the same in every chart), others
    the colours left over in name order (cycling only past :data:`PALETTE`'s 16)."""
    out = {n: PALETTE[KNOWN_SEGMENTS.index(n) % len(PALETTE)] for n in names
           if n in KNOWN_SEGMENTS}
    free = [c for c in PALETTE if c not in out.values()] or list(PALETTE)
    for i, n in enumerate(sorted(n for n in set(names) if n not in out)):
        out[n] = free[i % len(free)]
    return out


def _json(fig: go.Figure) -> str:
    fig.update_layout(**LAYOUT)
    fig.update_xaxes(automargin=True)
    fig.update_yaxes(automargin=True)
    return str(fig.to_json())


def allocation(plan: dict[str, Any]) -> str | None:
    """Expected spend per promotion, stacked by target segment (the ranked rows summed)."""
    rows = plan.get("promotions") or []
    if not rows:
        return None
    spend: dict[str, float] = {}
    for x in rows:
        spend[x["promotion"]] = spend.get(x["promotion"], 0.0) + float(x["cost"] or 0.0)
    promos = sorted(spend, key=spend.__getitem__)
    segments = list(dict.fromkeys(x["target_segment"] for x in rows))
    colours = segment_colours(segments)
    fig = go.Figure()
    for seg in segments:
        mine = {x["promotion"]: x for x in rows if x["target_segment"] == seg}
        fig.add_bar(
            name=seg, orientation="h", y=promos, marker_color=colours[seg],
            x=[float(mine[p]["cost"] or 0) if p in mine else 0.0 for p in promos],
            customdata=[[mine[p]["customers"] if p in mine else 0] for p in promos],
            hovertemplate=f"{seg}<br>%{{y}}: %{{x:,.0f}} for %{{customdata[0]}} customers"
                          "<extra></extra>")
    fig.update_layout(barmode="stack", xaxis_title="expected spend",
                      height=max(260, 60 + 34 * len(promos)))
    return _json(fig)


def sensitivity(plan: dict[str, Any]) -> str | None:
    """The goal value the optimizer reaches at 12 budgets, its proven bound (a wide light band
    under the value, so it shows where they meet), this plan, and (second axis, from 0, round
    ticks) the ROI of each budget's plan: an axis from the lowest ROI read a flat 399% as a
    crash to zero (exploratory report 6, finding 10)."""
    pts = [p for p in plan.get("sensitivity") or [] if p.get("value") is not None]
    if not pts:
        return None
    budgets = [p["budget"] for p in pts]
    fig = go.Figure()
    if any(p.get("bound") is not None for p in pts):
        fig.add_scatter(x=budgets, y=[p.get("bound") for p in pts], mode="lines",
                        name="upper bound (proven)",
                        line={"width": 9, "color": "rgba(99, 110, 250, 0.22)"},
                        hovertemplate="bound %{y:,.2f}<extra></extra>")
    fig.add_scatter(x=budgets, y=[p["value"] for p in pts],
                    mode="lines+markers", name="plan value", line={"color": PALETTE[0]},
                    customdata=[[p.get("spend") or 0.0] for p in pts],
                    hovertemplate="budget %{x:,.0f}: value %{y:,.2f}, spend "
                                  "%{customdata[0]:,.0f}<extra></extra>")
    fig.add_scatter(x=[plan["budget"]], y=[plan.get("goal_value")], mode="markers",
                    name="this plan", marker={"size": 13, "symbol": "star"},
                    hovertemplate="this plan: budget %{x:,.0f}, value %{y:,.2f}<extra></extra>")
    fig.update_layout(xaxis_title="budget", yaxis={"rangemode": "tozero"},
                      yaxis_title=f"expected {str(plan.get('goal', '')).replace('_', ' ')}")
    roi = [p for p in pts if p.get("roi") is not None]
    if roi:  # ROI (net profit / spend) of the same plans, on a second axis from 0
        fig.add_scatter(x=[p["budget"] for p in roi], y=[100 * p["roi"] for p in roi],
                        mode="lines+markers", name="ROI %", yaxis="y2",
                        line={"dash": "dash"},
                        hovertemplate="budget %{x:,.0f}: ROI %{y:,.0f}%<extra></extra>")
        fig.update_layout(yaxis2={"title": "ROI", "overlaying": "y", "side": "right",
                                  "showgrid": False, "rangemode": "tozero", "tickmode": "auto",
                                  "nticks": 6,
                                  "tickformat": ",.0f", "ticksuffix": "%"})
    return _json(fig)


def segments(profile: dict[str, Any], plan: dict[str, Any] | None, *,
             new_customers: int = 0) -> str | None:
    """Customers per RFM segment, their mean churn risk, and how many the plan targets; with
    ``new_customers`` (registered, no purchase yet: no scores) or a plan that targets them,
    their segment :data:`~loyalist.schema.NEW_SEGMENT` too."""
    rows = list(profile.get("segments") or [])
    if not rows:
        return None
    targeted: dict[str, int] = {}
    for x in (plan or {}).get("promotions") or []:
        targeted[x["target_segment"]] = targeted.get(x["target_segment"], 0) + x["customers"]
    known = {x["segment"] for x in rows}
    if NEW_SEGMENT not in known and (new_customers or targeted.get(NEW_SEGMENT)):
        rows.append({"segment": NEW_SEGMENT, "customers": new_customers})
    names = [x["segment"] for x in rows]
    fig = go.Figure()
    fig.add_bar(x=names, y=[x["customers"] for x in rows], name="customers",
                hovertemplate="%{x}: %{y:,} customers<extra></extra>")
    if targeted:
        fig.add_bar(x=names, y=[targeted.get(n, 0) for n in names], name="targeted by the plan",
                    hovertemplate="%{x}: %{y:,} targeted<extra></extra>")
    if any(x.get("mean_churn_probability") is not None for x in rows):
        fig.add_scatter(x=names, y=[x.get("mean_churn_probability") for x in rows],
                        yaxis="y2", mode="lines+markers", name="mean churn risk",
                        hovertemplate="%{x}: churn risk %{y:.0%}<extra></extra>")
        fig.update_layout(yaxis2={"overlaying": "y", "side": "right", "tickformat": ".0%",
                                  "range": [0, 1], "tickmode": "array",
                                  "tickvals": [0, 0.2, 0.4, 0.6, 0.8, 1],
                                  "showgrid": False, "title": "mean churn risk"})
    fig.update_layout(barmode="group", yaxis_title="customers")
    return _json(fig)


def forecast(fc: dict[str, Any]) -> str | None:
    """Recent actual daily revenue, then the forecast's daily mean inside its 80% interval
    (a band between the bounds), from :func:`loyalist.dashboard.views.forecast`."""
    days = fc.get("days") or {}
    if not days.get("date"):
        return None
    fig = go.Figure()
    hist = fc.get("history") or {}
    if hist.get("date"):
        fig.add_scatter(x=hist["date"], y=hist["y"], mode="lines", name="actual",
                        line={"color": "#5F6B73", "width": 1.2},
                        hovertemplate="%{x}: %{y:,.0f}<extra>actual</extra>")
    fig.add_scatter(x=days["date"], y=days["hi80"], mode="lines", line={"width": 0},
                    showlegend=False, hoverinfo="skip")
    fig.add_scatter(x=days["date"], y=days["lo80"], mode="lines", line={"width": 0},
                    fill="tonexty", fillcolor="rgba(99, 110, 250, 0.25)",
                    name="80% interval", hoverinfo="skip")
    fig.add_scatter(x=days["date"], y=days["mean"], mode="lines", name="forecast",
                    line={"color": PALETTE[0], "width": 2},
                    customdata=list(zip(days["lo80"], days["hi80"], strict=True)),
                    hovertemplate="%{x}: %{y:,.0f} (80%: %{customdata[0]:,.0f} to "
                                  "%{customdata[1]:,.0f})<extra>forecast</extra>")
    fig.update_layout(yaxis_title=money.label("revenue per day", fc.get("currency")),
                      yaxis={"rangemode": "tozero"})
    return _json(fig)
