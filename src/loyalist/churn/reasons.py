"""Per-customer churn reasons from the booster's own feature contributions.

LightGBM's ``pred_contrib=True`` splits each customer's raw score (log-odds of churn) into one
additive contribution per feature plus the base value (TreeSHAP, Lundberg et al. 2020). Related
features are summed into one *reason group* first (``recency_days`` and ``recency_over_ipi``
both say "it has been long since the last purchase"), so a customer never gets the same reason
twice. The groups that push the risk up the most (positive contributions, largest first) become
the reasons, each phrased from the customer's own values, e.g. "no purchase for 120 days" or
"spend fell 60% vs the prior 90 days". A customer with nothing pushing the risk up gets one
reason saying what keeps it low.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["REASON_GROUPS", "explain", "phrase"]

Row = Mapping[str, Any]

#: reason group -> the model columns whose contributions it sums (order = tie-break order)
REASON_GROUPS: dict[str, tuple[str, ...]] = {
    "recency": ("recency_days", "recency_over_ipi"),
    "recent_activity": ("orders_last_90", "spend_last_90"),
    "trend": ("trend_90", "spend_prev_90"),
    "frequency": ("orders", "order_days", "bg_frequency", "orders_per_month", "ipi_mean_days",
                  "ipi_std_days", "days_to_first_repeat", "bg_recency"),
    "tenure": ("tenure_days", "bg_T"),
    "value": ("monetary_total", "net_spend", "spend_per_month", "aov_mean", "aov_median",
              "aov_max", "items_total", "bg_monetary_value"),
    "breadth": ("distinct_products", "distinct_categories"),
    "returns": ("return_rate",),
    "habits": ("weekend_share", "preferred_hour"),
}


def _num(x: float, digits: int = 0) -> str:
    return f"{x:,.{digits}f}"


def _days(x: float) -> str:
    d = round(float(x))
    return f"{d} day" if d == 1 else f"{d} days"


def _recency(r: Row) -> str:
    text = f"no purchase for {_days(r['recency_days'])}"
    ipi = r.get("ipi_mean_days")
    if ipi is not None and np.isfinite(ipi) and ipi > 0 and r["recency_days"] > 1.5 * ipi:
        text += f" ({r['recency_days'] / ipi:.1f}x their usual gap of {_days(ipi)})"
    return text


def _recent_activity(r: Row) -> str:
    n = int(r["orders_last_90"])
    if n == 0:
        return "no order in the last 90 days"
    return (f"only {n} order{'s' if n != 1 else ''} ({_num(r['spend_last_90'])} spent) "
            "in the last 90 days")


def _trend(r: Row) -> str:
    last, prev = float(r["spend_last_90"]), float(r["spend_prev_90"])
    if prev > 0 and last < prev:
        return f"spend fell {100 * (1 - last / prev):.0f}% vs the prior 90 days"
    if prev > 0 and last >= prev:
        return f"spend rose {100 * (last / prev - 1):.0f}% vs the prior 90 days"
    if last > 0:
        return "spend in the last 90 days but none in the 90 days before"
    return "no spend in the last 180 days"


def _frequency(r: Row) -> str:
    """Orders since the first purchase (tenure) and how far apart their days are.

    ``ipi_mean_days`` is the mean gap between consecutive order days (first to last order day
    over ``order_days - 1``), not tenure over orders: two orders two days apart and none since
    read "2 orders in 435 days as a
    customer, 2 days apart", never "one every 2 days"."""
    n = int(r["orders"])
    if n <= 1:
        return "a single order so far"
    text = f"{n} orders in {_days(r['tenure_days'])} as a customer"
    days, ipi = r.get("order_days"), r.get("ipi_mean_days")
    if _missing(days):
        return text
    k = int(days)
    if k < 2:
        return text + ", all on one day"
    if _missing(ipi):
        return text
    if k < n:
        text += f", on {k} different days"
    return text + (f", {_days(ipi)} apart" if k == 2 else f", on average {_days(ipi)} apart")


def _tenure(r: Row) -> str:
    t = float(r["tenure_days"])
    if t < 90:
        return f"a new customer (first purchase {_days(t)} ago)"
    return f"a customer for {_days(t)}"


def _typical(r: Row, col: str) -> float | None:
    """The typical (median) value of ``col`` passed in the row as ``_typical_<col>``."""
    v = r.get(f"_typical_{col}")
    return float(v) if v is not None and np.isfinite(v) else None


def _value(r: Row) -> str:
    m, typ = float(r["monetary_total"]), _typical(r, "monetary_total")
    text = f"{_num(m)} spent in total, {_num(r['aov_mean'])} per order on average"
    if typ is None:
        return text
    level = "low" if m < typ else "high"
    return f"{level} spend: {text} (typical customer {_num(typ)})"


def _value_raising(r: Row) -> str:
    """The spend group as a reason the risk is *higher*: "high spend" read as "they will leave
    because they spend a lot" (exploratory report 6, finding 15). Above-typical spend is
    worded as what the model saw: few but large orders when the customer has fewer orders
    than typical at a larger basket, else above-typical spend the model links with leaving.
    Low spend reads as a reason as it is."""
    m, typ = float(r["monetary_total"]), _typical(r, "monetary_total")
    if typ is None or m < typ:
        return _value(r)
    n, aov = r.get("orders"), float(r["aov_mean"])
    typ_n, typ_aov = _typical(r, "orders"), _typical(r, "aov_mean")
    if not (_missing(n) or typ_n is None or typ_aov is None) and n < typ_n and aov > typ_aov:
        k = int(n)
        return (f"few but large orders: {k} order{'s' if k != 1 else ''} of {_num(aov)} on "
                f"average (typical customer {typ_n:.0f} orders of {_num(typ_aov)})")
    return (f"above-typical spend, which the model links with leaving: {_num(m)} spent in "
            f"total, {_num(aov)} per order on average (typical customer {_num(typ)})")


def _breadth(r: Row) -> str:
    n = int(r["distinct_products"])
    text = f"bought {n} distinct product{'s' if n != 1 else ''}"
    typ = _typical(r, "distinct_products")
    return text if typ is None else f"{text} (typical customer {typ:.0f})"


def _returns(r: Row) -> str:
    rate = float(r["return_rate"])
    if rate <= 0:
        return "no returns"
    return f"returned {100 * rate:.0f}% of the value bought"


def _habits(r: Row) -> str:
    weekend = f"{100 * float(r['weekend_share']):.0f}% at weekends"
    if _missing(r.get("preferred_hour")):  # dates without a time of day
        return f"orders {weekend}"
    return f"orders mostly around {int(r['preferred_hour'])}:00, {weekend}"


PHRASES: dict[str, Callable[[Row], str]] = {
    "recency": _recency, "recent_activity": _recent_activity, "trend": _trend,
    "frequency": _frequency, "tenure": _tenure, "value": _value, "breadth": _breadth,
    "returns": _returns, "habits": _habits,
}


#: the values each phrase quotes, and what the reason is about when one of them is missing
PHRASE_VALUES: dict[str, tuple[tuple[str, ...], str]] = {
    "recency": (("recency_days",), "time since the last purchase"),
    "recent_activity": (("orders_last_90", "spend_last_90"), "orders in the last 90 days"),
    "trend": (("spend_last_90", "spend_prev_90"), "spend in the last 180 days"),
    "frequency": (("orders", "tenure_days"), "how often they order"),
    "tenure": (("tenure_days",), "how long they have been a customer"),
    "value": (("monetary_total", "aov_mean"), "how much they spend"),
    "breadth": (("distinct_products",), "how many products they buy"),
    "returns": (("return_rate",), "returns"),
    # (the hour is left out of the words where the data have no time of day)
    "habits": (("weekend_share",), "when they shop"),
}


def _missing(v: object) -> bool:
    try:
        return v is None or not np.isfinite(float(v))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return True


#: phrases of a group when it raises the risk, where :data:`PHRASES`' would read as a cause
RAISING: dict[str, Callable[[Row], str]] = {"value": _value_raising}


def phrase(group: str, row: Row, *, raises: bool = False) -> str:
    """The readable reason of ``group`` for one customer's feature values (``raises``: the
    group pushes the risk up, so the words say what the model saw in them); a value the
    reason would quote that is missing (NaN, e.g. features joined onto a customer list) makes
    it say what the reason is about without a number."""
    cols, about = PHRASE_VALUES[group]
    if any(_missing(row.get(c)) for c in cols):
        return f"{about} (not known for this customer)"
    return (RAISING.get(group, PHRASES[group]) if raises else PHRASES[group])(row)


def group_contributions(contrib: np.ndarray, columns: Sequence[str]) -> pd.DataFrame:
    """Sum per-feature contributions (``n x (features + 1)``, last = base) into groups."""
    cols = list(columns)
    if contrib.shape[1] != len(cols) + 1:
        raise ValueError(f"{contrib.shape[1]} contribution columns for {len(cols)} features")
    out = {}
    for g, members in REASON_GROUPS.items():
        idx = [cols.index(m) for m in members if m in cols]
        out[g] = contrib[:, idx].sum(axis=1) if idx else np.zeros(contrib.shape[0])
    return pd.DataFrame(out)


def explain(contrib: np.ndarray, columns: Sequence[str], values: pd.DataFrame, *,
            top: int = 3, typical: Mapping[str, float] | None = None) -> list[list[str]]:
    """Up to ``top`` readable reasons per customer, strongest churn driver first.

    ``typical`` (column -> median over the training customers) lets a reason say whether a
    value is low or high, e.g. "low spend: 85 spent in total, ... (typical customer 650)".
    """
    grouped = group_contributions(contrib, columns)
    names = np.array(grouped.columns)
    g = grouped.to_numpy()
    order = np.argsort(-g, axis=1, kind="stable")
    extra = {f"_typical_{k}": float(v) for k, v in (typical or {}).items()}
    records = [{**r, **extra} for r in values.to_dict("records")]
    out: list[list[str]] = []
    for i, row in enumerate(records):
        picks = [j for j in order[i, :top] if g[i, j] > 0]
        if picks:
            out.append([phrase(names[j], row, raises=True) for j in picks])
        else:
            j = int(np.argmin(g[i]))
            out.append([f"low risk: {phrase(names[j], row)}"])
    return out
