"""The winner's curse where the budget binds: each (customer, promotion)'s cost priced at
its redemptions shrunk towards its promotion x segment's mean by how noisy they are
(:func:`correct_selection`).

A plan at a binding budget takes the pairs with the most predicted value per predicted cost,
so the pairs whose cost is under-predicted (or value over-predicted) by the fit's noise are
taken more often: on generated electronics stores at a quarter of the budget the chosen sends
truly cost a median 1.19x their prediction, against 0.95x at a budget that does not bind
(BENCHMARKS.md, "Where the budget binds"). Shrinking each pair's expected redemptions
towards the mean of its promotion x segment, by the share of the between-pair spread its own
noise does not explain, is the posterior mean under a normal prior (Efron & Morris 1975;
James & Stein 1961): a noisy pair far below its group's is moved up, a precise one stays.
Only pairs *within* a promotion are pooled: pooling the promotions' levels was tried and hurt
(BENCHMARKS.md, "Pooling the promotions' measured lifts").
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from loyalist.response.uplift import Z80

__all__ = ["PRICED_REDEMPTIONS", "correct_selection", "pooled_noise", "posterior_means"]


def pooled_noise(keep: float, promotions: int) -> float:
    """How much of a pair's bootstrap standard deviation is left after
    :func:`loyalist.promote.effects.shrink_effects`: the shrunk estimate is
    ``keep x_ij + (1 - keep) mean_k(x_ik) b_j`` (``b_j`` ~ 1), whose error, with independent
    errors of equal size across the ``promotions``, has standard deviation
    ``sqrt(keep^2 + (1 - keep^2) / promotions)`` times one pair's (0.42 for six promotions at
    ``keep`` 0.1). The 10% / 90% points keep the unshrunk distance, so they overstate it."""
    m = max(int(promotions), 1)
    return float(np.sqrt(keep ** 2 + (1.0 - keep ** 2) / m)) if keep < 1.0 else 1.0


def posterior_means(x: np.ndarray, sd: np.ndarray, key: np.ndarray,
                    group: np.ndarray) -> np.ndarray:
    """Each ``x`` shrunk towards the mean of its ``key`` by ``tau^2 / (tau^2 + sd^2)``, with
    ``tau^2`` the spread of ``x`` about those means within its ``group`` that the noise does not
    explain (method of moments, floored at 0; Efron & Morris 1975, eq. 1.3 with a prior mean per
    key). A pair with no noise (``sd`` 0) keeps its estimate."""
    x = np.asarray(x, dtype=float)
    s2 = np.nan_to_num(np.asarray(sd, dtype=float)) ** 2
    frame = pd.DataFrame({"x": x, "key": key, "group": group, "s2": s2})
    mean = frame.groupby("key")["x"].transform("mean").to_numpy()
    frame["e2"] = (x - mean) ** 2
    by = frame.groupby("group")
    tau2 = (by["e2"].transform("mean") - by["s2"].transform("mean")).clip(lower=0.0).to_numpy()
    weight = np.divide(tau2, tau2 + s2, out=np.ones_like(x), where=(tau2 + s2) > 0)
    return mean + weight * (x - mean)


#: the redemptions :func:`correct_selection` prices each send's cost at, which the inventory
#: caps count too (:func:`loyalist.promote.instance.build_instance`)
PRICED_REDEMPTIONS = "priced_redemptions"


def correct_selection(pred: pd.DataFrame, key: np.ndarray, noise: float,
                      fixed: np.ndarray | None = None) -> pd.DataFrame:
    """``pred`` with each row's cost priced at its redemptions' posterior mean
    (:func:`posterior_means`) within its promotion, towards the mean of its ``key`` (promotion
    x segment), and those redemptions as :data:`PRICED_REDEMPTIONS`. The redemptions are the
    noisy part of a cost: the discount per redemption (the offer's mechanics,
    ``redemption_in_price`` + ``redemption_outside``, so a send predicted to redeem nothing
    still has its price) and the contact follow from the offer and the customer's basket. A
    row's noise is the distance between their 10% and 90% points over ``2 Z80``, times
    ``noise`` (:func:`pooled_noise`); the ``fixed`` rows keep their costs, and a prediction
    without the points or the mechanics is returned as it is.
    ``expected_cost``, its points and ``discount_cost`` move by the change in redemptions x
    the row's discount per redemption, so the spend a plan says is the spend it was chosen
    under; ``expected_redemptions`` and the goal's value stay the model's.

    Tried on generated stores and not kept (BENCHMARKS.md): the cost itself shrunk the same way
    (it also pulled the large, known discounts of big baskets towards their group's, and the
    binding plans' stated spend ran further under their true spend), and the goal's value
    shrunk from its own 10% / 90% points (it changed which promotion customers get where the
    budget does not bind)."""
    need = {"expected_redemptions", "expected_redemptions_p10", "expected_redemptions_p90",
            "redemption_in_price", "redemption_outside"}
    if not need <= set(pred.columns):
        return pred
    scale = noise * (1.0 - np.asarray(fixed, dtype=float)) if fixed is not None else noise
    red = pred["expected_redemptions"].to_numpy(dtype=float)
    sd = (pred["expected_redemptions_p90"].to_numpy(dtype=float)
          - pred["expected_redemptions_p10"].to_numpy(dtype=float)) / (2 * Z80) * scale
    per = (pred["redemption_in_price"].to_numpy(dtype=float)
           + pred["redemption_outside"].to_numpy(dtype=float))
    shrunk = np.maximum(posterior_means(red, sd, key, pred["promotion"].to_numpy()), 0.0)
    moved = (shrunk - red) * per
    pred = pred.copy()
    for col in ("expected_cost", "expected_cost_p10", "expected_cost_p90", "discount_cost"):
        if col in pred:
            pred[col] = pred[col].to_numpy(dtype=float) + moved
    pred[PRICED_REDEMPTIONS] = shrunk
    return pred
