"""Out-of-time checks of the boosted CLV model against its baselines: when it loses to
BG/NBD + Gamma-Gamma (:func:`clv_warning`) and what its error of the total says
(:func:`total_error_note`).

Both read only the out-of-time evaluation (``metrics["clv"]["models"]`` of
:func:`loyalist.evaluation.out_of_time.evaluate`): nothing after ``as_of`` is looked at.

**The rule** (as the churn model's, :func:`loyalist.evaluation.out_of_time.churn_warning`, but
on two metrics): the model *loses* when, on the same test customers, its RMSE is more than
:data:`RMSE_MARGIN` (relative) above BG/NBD + Gamma-Gamma's **and** its Spearman rank
correlation is more than :data:`SPEARMAN_MARGIN` below it, i.e. it is worse both at the level
of each customer's spend and at ranking the customers. One metric alone is not enough: on the
demo stores the two disagree often, and a paired bootstrap of the test customers puts the
spread of the model-minus-baseline difference at 1-3.5% of RMSE and 0.006-0.022 of Spearman
(BENCHMARKS.md), so a loss on one metric by a point or two is noise.

It warns only: ``clv_expected`` stays the boosted model's, because its p10/p50/p90 come from
the boosted quantile models and BG/NBD + Gamma-Gamma has no intervals to replace them; the
scores' ``clv_bgnbd`` column holds the baseline's value for every customer.
"""

from __future__ import annotations

from typing import Any

__all__ = ["RMSE_MARGIN", "SPEARMAN_MARGIN", "TOTAL_ERROR_NOTE", "clv_loses", "clv_warning",
           "total_error_note"]

#: the model loses when its RMSE is above BG/NBD + Gamma-Gamma's by more than this share ...
RMSE_MARGIN = 0.02
#: ... and its Spearman correlation is below it by more than this
SPEARMAN_MARGIN = 0.02
#: the churn model's rule (:func:`loyalist.evaluation.out_of_time.churn_warning`): it "loses"
#: to a baseline whose ROC-AUC is higher by more than this; smaller gaps are within the
#: seed-to-seed spread of the model (0.003 on Online Retail) and sampling noise. Here, beside
#: the CLV rule's margins, so that the report says it without importing the models
BASELINE_MARGIN = 0.01
#: an error of the predicted total beyond this share gets a note
TOTAL_ERROR_NOTE = 0.15
_BASELINE = "bgnbd_gg"
_NAMES = {"bgnbd_gg": "BG/NBD + Gamma-Gamma", "last_period": "'same as last period'"}


def _gaps(models: dict[str, dict[str, Any]]) -> tuple[float, float] | None:
    """(relative RMSE excess, Spearman shortfall) of the model against BG/NBD + Gamma-Gamma,
    or None when either is not measured."""
    m, b = models.get("model") or {}, models.get(_BASELINE) or {}
    vals = [m.get("rmse"), b.get("rmse"), m.get("spearman"), b.get("spearman")]
    if any(v is None for v in vals) or not b["rmse"] > 0:
        return None
    return m["rmse"] / b["rmse"] - 1.0, b["spearman"] - m["spearman"]


def clv_loses(models: dict[str, dict[str, Any]], rmse_margin: float = RMSE_MARGIN,
              spearman_margin: float = SPEARMAN_MARGIN) -> bool:
    """Whether the CLV model lost to BG/NBD + Gamma-Gamma out of time (the module's rule;
    ``models`` is ``metrics["clv"]["models"]``)."""
    gaps = _gaps(models)
    return gaps is not None and gaps[0] > rmse_margin and gaps[1] > spearman_margin


def clv_warning(models: dict[str, dict[str, Any]], rmse_margin: float = RMSE_MARGIN,
                spearman_margin: float = SPEARMAN_MARGIN) -> str | None:
    """A plain warning when the CLV model lost to BG/NBD + Gamma-Gamma (:func:`clv_loses`);
    None otherwise."""
    if not clv_loses(models, rmse_margin, spearman_margin):
        return None
    m, b = models["model"], models[_BASELINE]
    up, down = _gaps(models)  # type: ignore[misc]
    return (f"the CLV model's out-of-time RMSE {m['rmse']:,.1f} is {up:.1%} above "
            f"{_NAMES[_BASELINE]}'s ({b['rmse']:,.1f}) and its Spearman {m['spearman']:.3f} is "
            f"{down:.3f} below ({b['spearman']:.3f}): that simpler model predicted the test "
            "window's spend better, both per customer and in rank (the rule: RMSE more than "
            f"{rmse_margin:.0%} higher and Spearman more than {spearman_margin} lower), so use "
            "clv_expected and its p10/p50/p90 with caution; the scores' clv_bgnbd column holds "
            f"{_NAMES[_BASELINE]}'s value for every customer")


def total_error_note(models: dict[str, dict[str, Any]], threshold: float = TOTAL_ERROR_NOTE
                     ) -> str | None:
    """A note when the model's predicted total spend is more than ``threshold`` off the
    observed total. The test window is blamed (seasonality or a trend) only when every
    baseline on the same window is off in the same direction by at least half as much;
    otherwise the model's own level is off."""
    err = (models.get("model") or {}).get("total_error")
    if err is None or not abs(err) > threshold:
        return None
    base = {k: models[k]["total_error"] for k in _NAMES
            if (models.get(k) or {}).get("total_error") is not None}
    said = " and ".join(f"{_NAMES[k]} {v:+.0%}" for k, v in base.items())
    head = f"predicted total spend is {err:+.0%} off the observed total"
    if base and all(v * err > 0 and abs(v) >= abs(err) / 2 for v in base.values()):
        return (f"{head}, as the baselines on the same window are ({said}): the test window's "
                "spend level differs from the training windows' (seasonality the history is "
                "too short to learn, or a trend)")
    if not base:
        return (f"{head}: the test window's spend level differs from the training windows' "
                "(seasonality or a trend), or the model's level is off (no baseline to tell)")
    return (f"{head}, while the baselines on the same window are not off by as much ({said}): "
            "the window's spend level was predictable, so it is the CLV model's level that is "
            "off; its clv_expected totals are too "
            + ("high" if err > 0 else "low") + " by about that much")
