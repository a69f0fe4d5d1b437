"""Pictures of a plan: budget allocation by promotion and the budget-sensitivity curve, drawn
with matplotlib's object API on the Agg canvas (no pyplot state, no backend switch on import).
The report draws its sensitivity panel with :func:`draw_sensitivity` too."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["draw_sensitivity", "plot_plan"]

VALUE, BOUND, ROI = "#f58518", "#bbbbbb", "#54a24b"


def plot_plan(res: dict[str, Any], path: Path) -> Path:
    """Two panels: spend and goal value per promotion; goal value and (right axis) ROI
    against budget."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # plotting only: import late
    from matplotlib.figure import Figure

    summ = res["summary"]
    alloc = res["allocation"]
    fig = Figure(figsize=(12, 4.5))
    FigureCanvasAgg(fig)
    a, b = fig.subplots(1, 2)
    y = range(len(alloc))
    a.barh(list(y), alloc["spend"], color="#4c78a8", label="spend")
    a.set_yticks(list(y), alloc["promotion"])
    a.invert_yaxis()
    a.set_xlabel("expected spend")
    a.set_title(f"Budget {summ['budget']:,.0f}: spend {summ['spend']:,.0f} on "
                f"{summ['customers_targeted']:,} customers")
    for i, (sp, n) in enumerate(zip(alloc["spend"], alloc["customers"], strict=True)):
        if sp > 0:
            a.text(sp, i, f" {int(n):,}", va="center", fontsize=8)
    draw_sensitivity(b, res["sensitivity"], summ["budget"], f"{summ['goal']} value")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def draw_sensitivity(ax: Any, sens: pd.DataFrame, budget: float | None, label: str) -> None:
    """The goal value the optimizer reaches at each budget, its proven upper bound (a wide
    light band under the value: where they meet, the plan is proven optimal), this plan's
    budget, and on a right-hand axis that starts at 0 the ROI (net profit / spend) of the
    same plans. Its axis started near the lowest ROI, so a flat 399% read as a crash to zero
    (exploratory report 6, finding 10)."""
    from matplotlib.ticker import MaxNLocator, PercentFormatter

    if "bound" in sens and sens["bound"].notna().any():
        ax.plot(sens["budget"], sens["bound"], color=BOUND, lw=6, solid_capstyle="round",
                label="upper bound (proven)")
    ax.plot(sens["budget"], sens["value"], marker="o", ms=4, color=VALUE, label=label)
    if budget is not None:
        ax.axvline(budget, color="#333333", lw=0.8, ls="--", label="this plan's budget")
    ax.set_xlabel("budget")
    ax.set_ylabel(f"expected {label}")
    ax.set_ylim(bottom=min(0.0, ax.get_ylim()[0]))
    ax.set_title("Budget sensitivity")
    handles, labels = ax.get_legend_handles_labels()
    if "roi" in sens and sens["roi"].notna().any():
        # ROI (net profit / spend) of the same plans: where more budget stops paying
        r = ax.twinx()
        pct = 100 * sens["roi"].astype(float)
        line = r.plot(sens["budget"], pct, marker="s", ms=3, color=ROI, ls="--")
        r.axhline(0, color=ROI, lw=0.6, ls=":")
        r.set_ylim(min(0.0, float(pct.min())) * 1.08, max(0.0, float(pct.max())) * 1.08 or 1)
        r.yaxis.set_major_locator(MaxNLocator(5, steps=[1, 2, 5, 10]))
        r.yaxis.set_major_formatter(PercentFormatter(decimals=0))
        r.set_ylabel("ROI (net profit / spend)")
        handles, labels = handles + line, labels + ["ROI (right axis, from 0)"]
    ax.legend(handles, labels, loc="lower right", fontsize=8)
