"""The dashboard's Plotly figures, built from the plan summary and the segment profiles the
API serves, and handed to the page as JSON (``data-figure``) for plotly.js to draw."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

LAYOUT: dict[str, Any] = {
    "template": "plotly_white", "height": 340, "margin": {"l": 10, "r": 10, "t": 10, "b": 10},
    "font": {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12},
    "legend": {"orientation": "h", "y": -0.2}, "hovermode": "closest",
}


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
    fig = go.Figure()
    for seg in segments:
        mine = {x["promotion"]: x for x in rows if x["target_segment"] == seg}
        fig.add_bar(
            name=seg, orientation="h", y=promos,
            x=[float(mine[p]["cost"] or 0) if p in mine else 0.0 for p in promos],
            customdata=[[mine[p]["customers"] if p in mine else 0] for p in promos],
            hovertemplate=f"{seg}<br>%{{y}}: %{{x:,.0f}} for %{{customdata[0]}} customers"
                          "<extra></extra>")
    fig.update_layout(barmode="stack", xaxis_title="expected spend",
                      height=max(260, 60 + 34 * len(promos)))
    return _json(fig)


def sensitivity(plan: dict[str, Any]) -> str | None:
    """The goal value the optimizer reaches at 12 budgets, its proven bound, and this plan."""
    pts = [p for p in plan.get("sensitivity") or [] if p.get("value") is not None]
    if not pts:
        return None
    fig = go.Figure()
    fig.add_scatter(x=[p["budget"] for p in pts], y=[p["value"] for p in pts],
                    mode="lines+markers", name="plan value",
                    customdata=[[p.get("spend") or 0.0] for p in pts],
                    hovertemplate="budget %{x:,.0f}: value %{y:,.2f}, spend "
                                  "%{customdata[0]:,.0f}<extra></extra>")
    if any(p.get("bound") is not None for p in pts):
        fig.add_scatter(x=[p["budget"] for p in pts], y=[p.get("bound") for p in pts],
                        mode="lines", name="upper bound", line={"dash": "dot"},
                        hovertemplate="bound %{y:,.2f}<extra></extra>")
    fig.add_scatter(x=[plan["budget"]], y=[plan.get("goal_value")], mode="markers",
                    name="this plan", marker={"size": 13, "symbol": "star"},
                    hovertemplate="this plan: budget %{x:,.0f}, value %{y:,.2f}<extra></extra>")
    fig.update_layout(xaxis_title="budget",
                      yaxis_title=f"expected {str(plan.get('goal', '')).replace('_', ' ')}")
    return _json(fig)


def segments(profile: dict[str, Any], plan: dict[str, Any] | None) -> str | None:
    """Customers per RFM segment, their mean churn risk, and how many the plan targets."""
    rows = profile.get("segments") or []
    if not rows:
        return None
    names = [x["segment"] for x in rows]
    fig = go.Figure()
    fig.add_bar(x=names, y=[x["customers"] for x in rows], name="customers",
                hovertemplate="%{x}: %{y:,} customers<extra></extra>")
    if plan and plan.get("promotions"):
        targeted: dict[str, int] = {}
        for x in plan["promotions"]:
            targeted[x["target_segment"]] = targeted.get(x["target_segment"], 0) + x["customers"]
        fig.add_bar(x=names, y=[targeted.get(n, 0) for n in names], name="targeted by the plan",
                    hovertemplate="%{x}: %{y:,} targeted<extra></extra>")
    if any(x.get("mean_churn_probability") is not None for x in rows):
        fig.add_scatter(x=names, y=[x.get("mean_churn_probability") for x in rows],
                        yaxis="y2", mode="lines+markers", name="mean churn risk",
                        hovertemplate="%{x}: churn risk %{y:.0%}<extra></extra>")
        fig.update_layout(yaxis2={"overlaying": "y", "side": "right", "tickformat": ".0%",
                                  "range": [0, 1], "showgrid": False,
                                  "title": "mean churn risk"})
    fig.update_layout(barmode="group", yaxis_title="customers")
    return _json(fig)
