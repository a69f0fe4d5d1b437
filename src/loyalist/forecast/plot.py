"""One PNG: recent history, the forecast and its 80/95% intervals, one panel per series."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

__all__ = ["plot_forecast"]

MAX_PANELS = 6
HISTORY_DAYS = 120


def plot_forecast(history: Mapping[str, pd.Series], forecast: pd.DataFrame, path: Path, *,
                  chosen: Mapping[str, str] | None = None, max_panels: int = MAX_PANELS,
                  history_days: int = HISTORY_DAYS) -> Path:
    """Write the plot to ``path``: the total first, then the largest series by recent revenue
    (at most ``max_panels``), each with its last ``history_days`` days."""
    from matplotlib.figure import Figure  # no pyplot: no global state, no GUI backend

    names = list(dict.fromkeys(forecast["series"]))
    first, rest = names[:1], names[1:]
    rest.sort(key=lambda n: -float(history[n].iloc[-history_days:].sum()) if n in history else 0)
    names = (first + rest)[:max_panels]
    fig = Figure(figsize=(11, 2.8 * len(names)))
    axes = fig.subplots(len(names), 1, squeeze=False)
    for ax, name in zip(axes[:, 0], names, strict=True):
        f = forecast[forecast["series"] == name]
        h = history.get(name)
        if h is not None:
            h = h.iloc[-history_days:]
            ax.plot(h.index, h.to_numpy(), color="0.3", lw=0.9, label="history")
        ax.fill_between(f["date"], f["lo95"], f["hi95"], color="tab:blue", alpha=0.15,
                        label="95% interval", step=None)
        ax.fill_between(f["date"], f["lo80"], f["hi80"], color="tab:blue", alpha=0.3,
                        label="80% interval")
        ax.plot(f["date"], f["mean"], color="tab:blue", lw=1.4, label="forecast")
        model = (chosen or {}).get(name, f["model"].iloc[0] if len(f) else "")
        ax.set_title(f"{name} - daily net revenue ({model})", fontsize=10, loc="left")
        ax.grid(alpha=0.3)
    axes[0, 0].legend(loc="upper left", fontsize=8, ncol=4)
    fig.autofmt_xdate()
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    return path
