"""The campaign readout of ``loyalist evaluate campaign``: what each promotion of a campaign
made against its hold-out (:func:`loyalist.response.results.campaign_results`), as a table
(CSV, one row per promotion and one for all), a card (markdown and one self-contained HTML
file), the JSON and a picture of each promotion's incremental revenue with its interval (and
the plan's prediction when a plan was given)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from loyalist import __version__
from loyalist.evaluation.card import write_card
from loyalist.money import label
from loyalist.response.results import METRICS, MIN_MEASURED

__all__ = ["ADJUSTED_BUYERS", "ADJUSTED_NOTE", "PLAIN_BUYERS", "campaign_png", "campaign_table",
           "write_campaign_card"]

TOTAL = "all promotions"
#: the two extra-buyers numbers every campaign readout shows side by side: the shares bought
#: sat beside an adjusted difference of the opposite sign, unexplained (exploratory report 6,
#: finding 5)
PLAIN_BUYERS = "extra buyers, plain difference"
ADJUSTED_BUYERS = "extra buyers, adjusted for how active each group was before the send"
ADJUSTED_NOTE = (
    "Extra buyers, plain difference: the share bought by the customers sent less the share "
    "bought by those held out, times the customers sent. The adjusted estimate first takes "
    "out what each customer's own purchases before the send predict (CUPED): when the groups "
    "were not equally active beforehand it differs from the plain difference, even in sign, "
    "and it is the better estimate (its interval is narrower). Revenue and net are adjusted "
    "the same way.")
#: how an outcome's numbers are written: buyers and orders per customer in 3 decimals
_DECIMALS = {"buyers": 3, "orders": 3, "revenue": 2, "margin": 2}


def campaign_table(res: dict[str, Any]) -> pd.DataFrame:
    """One row per promotion (and one for all): the arms' sizes, each outcome's means and
    effect with its 95% interval, the net result and, with a plan, its predictions."""
    rows = []
    for name, r in [*res["promotions"].items(), (TOTAL, res["total"])]:
        row: dict[str, Any] = {"promotion": name, "sent": r["sent"], "measured": r["measured"],
                               "held_out": r["held_out"], "redeemed": r.get("redeemed"),
                               "cost": r.get("cost")}
        for m in METRICS:
            e = r.get(m) or {}
            for k in ("sent_mean", "held_out_mean", "per_customer", "per_customer_lo95",
                      "per_customer_hi95", "total", "total_lo95", "total_hi95", "p_value",
                      "unadjusted_total", "unadjusted_total_lo95", "unadjusted_total_hi95"):
                row[f"{m}_{k}"] = e.get(k)
        net = r.get("net") or {}
        row.update({"net": net.get("total"), "net_lo95": net.get("lo95"),
                    "net_hi95": net.get("hi95"), "roi": net.get("roi")})
        plan = r.get("plan") or {}
        for m in ("buyers", "revenue", "margin"):
            row[f"plan_{m}"] = (plan.get(m) or {}).get("predicted")
        row["verdict"] = r.get("verdict", "")
        if res.get("currency"):  # of revenue, margin, cost and net
            row["currency"] = res["currency"]
        rows.append(row)
    return pd.DataFrame(rows)


def _num(v: Any, m: str = "revenue", sign: bool = False, total: bool = False) -> str:
    """An outcome's number: totals of revenue and margin in whole units, of buyers and orders
    in tenths; per-customer buyers and orders in 3 decimals, revenue and margin in 2."""
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "n/a"
    d = (0 if m in ("revenue", "margin") else 1) if total else _DECIMALS.get(m, 2)
    return f"{v:{'+' if sign else ''},.{d}f}"


def interval(e: dict[str, Any], m: str, key: str = "total") -> str:
    """``effect ± half-width`` of an outcome's 95% interval (normal, so symmetric)."""
    half, total = e[f"{key}_hi95"] - e[key], key.endswith("total")
    return f"{_num(e[key], m, True, total)} ± {_num(half, m, False, total)}"


def _days(days: list[str]) -> str:
    return days[0] if len(days) == 1 else f"{days[0]} to {days[-1]} ({len(days)} send days)"


def campaign_png(res: dict[str, Any]) -> bytes | None:
    """Each promotion's incremental revenue (total) and extra buyers per 100 sent, with 95%
    intervals and the plan's prediction when there is one; None with nothing measured."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # plotting only: import late
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    rows = [(p, r) for p, r in res["promotions"].items() if r.get("revenue")]
    if not rows:
        return None
    fig = Figure(figsize=(10, 1.2 + 0.6 * len(rows)))
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 2)
    y = np.arange(len(rows))[::-1]
    for ax, m, title in ((axes[0], "revenue", label("incremental revenue", res.get("currency"))
                          + " (total, adjusted)"),
                         (axes[1], "buyers", "extra buyers per 100 sent (bars: adjusted for\n"
                          "how active each group was before the send)")):
        k = 100.0 if m == "buyers" else 1.0
        key = "per_customer" if m == "buyers" else "total"
        mid = np.array([r[m][key] for _, r in rows]) * k
        lo = np.array([r[m][f"{key}_lo95"] for _, r in rows]) * k
        hi = np.array([r[m][f"{key}_hi95"] for _, r in rows]) * k
        colours = ["tab:green" if a > 0 else "tab:red" if b < 0 else "tab:grey"
                   for a, b in zip(lo, hi, strict=True)]
        ax.barh(y, mid, color=colours, alpha=0.6)
        ax.errorbar(mid, y, xerr=[mid - lo, hi - mid], fmt="none", ecolor="black", capsize=3,
                    label="95% interval")
        if m == "buyers":  # the plain difference of the shares bought, beside it
            ax.scatter([r[m]["unadjusted_per_customer"] * k for _, r in rows], y, marker="x",
                       color="black", zorder=3, label="plain difference")
        if m == "revenue":
            pred = [((r.get("plan") or {}).get("revenue") or {}).get("predicted")
                    for _, r in rows]
            pts = [(p, yy) for p, yy in zip(pred, y, strict=True) if p is not None]
            if pts:
                ax.scatter([p for p, _ in pts], [yy for _, yy in pts], marker="D",
                           color="tab:blue", zorder=3, label="the plan's prediction")
        ax.axvline(0, color="black", lw=0.8)
        ax.xaxis.set_major_locator(MaxNLocator(5))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:,.0f}" if abs(v) >= 100
                                                   else f"{v:g}"))
        ax.set_yticks(y, [p for p, _ in rows] if ax is axes[0] else [""] * len(rows))
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=8, loc="best")
    fig.suptitle(f"Campaign of {_days(res['days'])}: sent vs held out, "
                 f"{res['window_days']}-day window")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return buf.getvalue()


def _blocks(res: dict[str, Any]) -> list[tuple[str, Any]]:
    w, code = res["window_days"], res.get("currency")
    b: list[tuple[str, Any]] = [
        ("h1", "Loyalist campaign results"),
        ("p", f"loyalist {__version__}; send day(s) {', '.join(res['days'])}; response window "
              f"{w} days; data to {res['data_end']}; margin from "
              f"{'product costs' if res['margin_source'] == 'products' else 'an assumed rate'} "
              f"({res['margin_rate']:.1%} store-wide)"
              + (f"; amounts in {code}." if code else ".")),
        ("p", "Each promotion's customers sent are compared with the customers held out from "
              "it on the same send day (or the campaign's common control group), in the "
              f"{w} days from the send. Effects are the difference in means, per customer "
              "sent and in total over the customers measured, with 95% intervals; an "
              "interval that spans 0 means the campaign cannot tell the effect from chance. "
              f"Each outcome is adjusted first: {res['adjustment']}, which narrows the "
              "intervals where the past predicts the window (\"vs plain\" below: the "
              "interval's width against the plain difference's)."),
        ("p", ADJUSTED_NOTE),
    ]
    head = ["promotion", "sent", "held out", "bought, sent / held out",
            f"{PLAIN_BUYERS} (95%)", f"{ADJUSTED_BUYERS} (95%)",
            label("incremental revenue", code) + " (95%)",
            label("net after cost", code) + " (95%)"]
    body = []
    for name, r in [*res["promotions"].items(), (TOTAL, res["total"])]:
        if not r.get("revenue"):
            body.append([name, f"{r['sent']:,}", f"{r['held_out']:,}", "n/a", "not measured",
                         "not measured", "not measured", "n/a"])
            continue
        bu, net = r["buyers"], r.get("net")
        body.append([name, f"{r['sent']:,}", f"{r['held_out']:,}",
                     f"{bu['sent_mean']:.1%} / {bu['held_out_mean']:.1%}",
                     interval(bu, "buyers", "unadjusted_total"), interval(bu, "buyers"),
                     interval(r["revenue"], "revenue"),
                     f"{_num(net['total'], sign=True, total=True)} ± "
                     f"{_num(net['hi95'] - net['total'], total=True)}" if net else "n/a"])
    b.append(("table", (head, body)))
    b.append(("img", "campaign_results.png"))
    b.append(("h2", "In a sentence"))
    b.append(("ul", [r["verdict"] for r in res["promotions"].values()]))
    if res.get("plan_compared"):
        b.append(("h2", "Against the plan's predictions"))
        ph = ["promotion", "customers in plan", "outcome", "predicted", "measured (95%)",
              "inside the interval"]
        pb = []
        for name, r in res["promotions"].items():
            p = r.get("plan") or {}
            for m in ("buyers", "revenue", "margin"):
                if m in p:
                    q = p[m]
                    pb.append([name, f"{p['customers_in_plan']:,}", m,
                               _num(q["predicted"], m, total=True),
                               f"{_num(q['measured'], m, total=True)} "
                               f"({_num(q['measured_lo95'], m, total=True)} to "
                               f"{_num(q['measured_hi95'], m, total=True)})",
                               "yes" if q["within_interval"] else "no"])
        b.append(("table", (ph, pb)))
    b.append(("h2", "Per customer"))
    ph = ["promotion", "outcome", "sent mean", "held-out mean", "difference (95%)",
          "plain difference", "vs plain", "p-value", "detectable"]
    pb = []
    for name, r in [*res["promotions"].items(), (TOTAL, res["total"])]:
        for m in METRICS:
            if m in r:
                e = r[m]
                ratio = e.get("interval_vs_unadjusted")
                pb.append([name, m, _num(e["sent_mean"], m), _num(e["held_out_mean"], m),
                           interval(e, m, "per_customer"),
                           _num(e["unadjusted_per_customer"], m, True),
                           f"{ratio:.2f}" if ratio is not None else "n/a",
                           f"{e['p_value']:.3f}" if e["p_value"] is not None else "too few",
                           _num(e["detectable_per_customer"], m)])
    b.append(("table", (ph, pb)))
    notes = [*res["notes"], "detectable: the smallest effect per customer these group sizes "
             "find with 80% power at 5% significance; more customers in the smaller group "
             "(sent or held out) make it smaller. \"too few\": under "
             f"{MIN_MEASURED} customers sent or held out, no p-value."]
    b.append(("h2", "Notes"))
    b.append(("ul", notes))
    return b


def write_campaign_card(res: dict[str, Any], out_dir: str | Path) -> dict[str, Path]:
    """Write ``campaign_results.md``, ``.html`` (self-contained), ``.json``, ``.csv`` and
    ``.png`` into ``out_dir``; return their paths by kind."""
    png = campaign_png(res)
    paths = write_card(out_dir, _blocks(res), {"campaign_results.png": png} if png else {},
                       title="Loyalist campaign results", stem="campaign_results",
                       data=("json", "campaign_results.json", res))
    paths["csv"] = Path(out_dir) / "campaign_results.csv"
    campaign_table(res).to_csv(paths["csv"], index=False)
    if "campaign_results" in paths:
        paths["plot"] = paths.pop("campaign_results")
    return paths
