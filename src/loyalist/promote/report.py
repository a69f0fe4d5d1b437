"""Pictures of a plan: budget allocation by promotion and the budget-sensitivity curve."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

__all__ = ["plot_plan"]


def plot_plan(res: dict[str, Any], path: Path) -> Path:
    """Two panels: spend and goal value per promotion; goal value and (right axis) ROI
    against budget."""
    summ = res["summary"]
    alloc = res["allocation"]
    sens = res["sensitivity"]
    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4.5))
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
    b.plot(sens["budget"], sens["value"], marker="o", color="#f58518",
           label=f"{summ['goal']} value")
    if "bound" in sens:
        b.plot(sens["budget"], sens["bound"], ls=":", color="#999999", label="upper bound")
    b.axvline(summ["budget"], color="#333333", lw=0.8, ls="--")
    b.set_xlabel("budget")
    b.set_ylabel(f"expected {summ['goal']} value")
    b.set_title("Budget sensitivity")
    handles, labels = b.get_legend_handles_labels()
    if "roi" in sens and sens["roi"].notna().any():
        # ROI (net profit / spend) of the same plans: where more budget stops paying
        r = b.twinx()
        line = r.plot(sens["budget"], 100 * sens["roi"], marker="s", ms=3, color="#54a24b",
                      label="ROI")
        r.axhline(0, color="#54a24b", lw=0.6, ls=":")
        r.set_ylabel("ROI (net profit / spend, %)")
        handles, labels = handles + line, labels + ["ROI (right axis)"]
    b.legend(handles, labels, loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
