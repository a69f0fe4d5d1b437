"""How far the response model's predictions for groups of customers stray from what its own
history's randomised experiments measured: the error the bootstrap intervals leave out.

The bootstrap intervals of :mod:`loyalist.response.uplift` are the sampling error of each
promotion's fit: one level per promotion, shared by all its customers. They do not carry how
that level is shared out between kinds of customers. On generated stores (5,000 customers x 18
months, four seeds) only about half of the plans' promotion x segment rows held their true
incremental revenue inside their "80%" interval, the small rows of low-baseline segments
over-predicted 3-6x.

**The check** (:func:`check_model_error`): the fitted model predicts the history's own
exposures (each with the features of its send day). For each promotion, the exposures of the
campaigns that sent it (its sends and their controls) whose predicted incremental revenue is
positive and in the upper half of the promotion's are what a plan would pick. A cell is a
promotion x lifecycle segment (:func:`~loyalist.response.priors.lifecycle_segment`) of those
picks; its measured incremental revenue is, in each campaign, its treated customers' count x
(their mean spend in the window less the cell's controls' mean that campaign), summed: inside
a campaign assignment is random, so the difference is unbiased and the campaign's season is in
both arms. Its variance ``se^2`` follows from the arms' variances and counts. Its predicted
revenue is the sum of the model's predictions for its treated customers.

**The error scale** ``tau``: a cell's measured revenue ``O`` is its true one plus noise of
variance ``se^2``, and the truth is the prediction ``P`` plus an error of standard deviation
``tau |P|``, so ``O ~ N(P, se^2 + tau^2 P^2)`` (a random-effects model with a relative
between-cell variance, as in DerSimonian & Laird 1986, "Meta-analysis in clinical trials",
Controlled Clinical Trials 7(3), here by likelihood). ``tau`` is estimated per lifecycle
segment (the relative error is far larger where the baseline is small) as the one-sided 80%
upper bound of its profile likelihood (:func:`tau_bounds`): with a few noisy cells the data
often cannot tell a small error from none, and an interval resting on "none" would be too
narrow whenever there is one; and in sample the boosters have fitted part of the noise.

Why in sample and not by refitting without the last campaigns: the out-of-time refit
measured the last campaigns' season and competitors (which the plan corrects separately) as
model error (BENCHMARKS.md, "Customers never seen buying, and an out-of-time check").

The plan adds ``Z80 x tau x |value|`` to each promotion x segment row's interval as a term of
its own, independent across rows (:func:`loyalist.promote.explain.summed_interval`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from loyalist import schema as s
from loyalist.response.data import TrainingSet, promotion_arms
from loyalist.response.priors import lifecycle_segment
from loyalist.response.uplift import Z80

log = logging.getLogger(__name__)

__all__ = ["ModelError", "check_model_error", "tau_bounds"]

#: the largest relative error searched (a prediction 4x its truth)
TAU_MAX = 3.0
#: the one-sided 80% quantile of a standard normal: the likelihood bound's level
Z_ONE_SIDED_80 = 0.8416
#: fewest treated and fewest control exposures of a cell for its measured effect to count
MIN_CELL = 30
#: fewest cells of a lifecycle segment for its own error scale
MIN_CELLS = 3


@dataclass(frozen=True)
class ModelError:
    """The check's result: ``tau`` per lifecycle segment (empty when nothing could be checked;
    ``reason`` says why), ``fallback`` the scale of a segment without cells of its own (the
    largest measured), the cells' count and their predicted and measured totals."""

    by_segment: dict[str, float] = field(default_factory=dict)
    fallback: float | None = None
    reason: str = ""
    cells: int = 0
    predicted: float = 0.0
    measured: float = 0.0
    most_likely: dict[str, float] = field(default_factory=dict)

    def scale(self, segments: pd.Series | np.ndarray) -> np.ndarray:
        """Each row's ``tau`` by its lifecycle segment (NaN when nothing was checked)."""
        seg = pd.Series(np.asarray(segments, dtype=object)).astype(str)
        fill = np.nan if self.fallback is None else self.fallback
        return seg.map(self.by_segment).fillna(fill).to_numpy(dtype=float)

    @property
    def text(self) -> str:
        """What the plan's intervals rest on, in a merchant's words."""
        base = ("the 80% intervals of incremental revenue combine the response model's "
                "sampling error (bootstrap: one error per promotion, shared by its rows), "
                "whether each customer is still one (their P(alive))")
        if self.fallback is None:
            return (f"{base} only: how the model shares a promotion's effect between kinds of "
                    f"customers could not be checked ({self.reason}), so they are too narrow "
                    "for small groups")
        each = ", ".join(f"{g} +/-{Z80 * v:.0%}" for g, v in self.by_segment.items())
        return (f"{base} with its error for kinds of customers, independent between promotion "
                f"x segment rows ({each} of a row's value, by the customers' lifecycle), "
                f"measured on the history's own experiments ({self.cells} promotion x lifecycle "
                f"groups, predicted {self.predicted:,.0f} against {self.measured:,.0f} measured);"
                " they do not include the error of the planning window's season factor")

    def as_dict(self) -> dict[str, Any]:
        return {"by_segment": dict(self.by_segment), "fallback": self.fallback,
                "reason": self.reason, "cells": self.cells, "predicted": self.predicted,
                "measured": self.measured, "most_likely": dict(self.most_likely)}


def check_model_error(model: Any, training: TrainingSet) -> ModelError:
    """The check of a fitted :class:`~loyalist.response.ResponseModel` against the history it
    was fitted on (module docstring)."""
    if getattr(model, "learner_", None) is None:
        return ModelError(reason="no promotion's response is measured")
    return _fit_scales(cells(model, training))


def cells(model: Any, training: TrainingSet) -> list[tuple[str, float, float, float]]:
    """The check's cells (module docstring): lifecycle segment, predicted and measured
    incremental revenue, and the measurement's variance."""
    learner = model.learner_
    f = training.frame.reset_index(drop=True)
    feats = f.assign(customer_id=np.arange(len(f)).astype(str))
    seg = lifecycle_segment(f, training.window_days)
    y = f["y_spend"].to_numpy(dtype=float)
    camp = pd.factorize(f["campaign"])[0]
    rows = []
    for promo in learner.promotions_:
        treated, control = (a.to_numpy() for a in promotion_arms(f, promo))
        arms = np.flatnonzero(treated | control)
        v = np.full(len(f), np.nan)
        v[arms] = _predicted_revenue(model, learner, feats.iloc[arms], promo)
        ok = np.isfinite(v)
        if not ok.any():
            continue
        picked = ok & (v >= np.median(v[ok])) & (v > 0)
        for g in pd.unique(seg[picked]):
            in_g = picked & (seg == g)
            cell = _cell(y, camp, v, in_g & treated, in_g & control)
            if cell is not None:
                rows.append((str(g), *cell))
    return rows


def _predicted_revenue(model: Any, learner: Any, feats: pd.DataFrame, promo: str
                       ) -> np.ndarray:
    """The model's incremental revenue of ``promo`` for the exposures ``feats``, valued as
    its predictions are (:meth:`~loyalist.response.ResponseModel.valued`)."""
    pred = learner.predict(feats, promotions=[promo], point_only=True)  # no bags: the point
    pred["assumption"], pred["assumption_text"] = False, ""
    out = model.valued(pred, feats)
    by_id = pd.Series(out["incremental_revenue"].to_numpy(dtype=float),
                      index=out[s.CUSTOMER_ID].to_numpy())
    return by_id.reindex(feats[s.CUSTOMER_ID].to_numpy()).to_numpy(dtype=float)


def _cell(y: np.ndarray, camp: np.ndarray, v: np.ndarray, t: np.ndarray, c: np.ndarray
          ) -> tuple[float, float, float] | None:
    """A cell's predicted and measured incremental revenue and the measurement's variance,
    campaign by campaign (module docstring); None with fewer than :data:`MIN_CELL` treated
    or controls in the campaigns that have both."""
    k = int(camp.max()) + 1
    nt = np.bincount(camp[t], minlength=k).astype(float)
    nc = np.bincount(camp[c], minlength=k).astype(float)
    both = (nt > 0) & (nc > 0)
    t = t & both[camp]
    c = c & both[camp]
    if t.sum() < MIN_CELL or c.sum() < MIN_CELL:
        return None
    mt = np.bincount(camp[t], weights=y[t], minlength=k) / np.maximum(nt, 1)
    mc = np.bincount(camp[c], weights=y[c], minlength=k) / np.maximum(nc, 1)
    measured = float((nt * (mt - mc))[both].sum())
    var_t, var_c = float(y[t].var(ddof=1)), float(y[c].var(ddof=1))
    se2 = float((nt ** 2 * (var_t / np.maximum(nt, 1) + var_c / np.maximum(nc, 1)))[both].sum())
    return float(v[t].sum()), measured, se2


def _fit_scales(rows: list[tuple[str, float, float, float]]) -> ModelError:
    """``tau`` per lifecycle segment with :data:`MIN_CELLS` cells, and the fallback."""
    if len(rows) < MIN_CELLS:
        return ModelError(reason=f"{len(rows)} promotion x lifecycle group(s) with {MIN_CELL}+ "
                                 f"treated and control customers; the check needs {MIN_CELLS}")
    seg = np.array([r[0] for r in rows], dtype=object)
    p, o, se2 = (np.array([r[k] for r in rows], dtype=float) for k in (1, 2, 3))
    upper, likely = {}, {}
    for g in sorted(set(seg)):
        if (seg == g).sum() >= MIN_CELLS:
            upper[g], likely[g] = tau_bounds(p[seg == g], o[seg == g], se2[seg == g])
    overall = tau_bounds(p, o, se2)[0]
    fallback = max([overall, *upper.values()])
    log.info("model error check: %d cells, predicted %.0f, measured %.0f, tau by segment %s "
             "(most likely %s), fallback %.2f", len(rows), p.sum(), o.sum(), upper, likely,
             fallback)
    return ModelError(by_segment=upper, fallback=fallback, cells=len(rows),
                      predicted=float(p.sum()), measured=float(o.sum()), most_likely=likely)


def tau_bounds(p: np.ndarray, o: np.ndarray, se2: np.ndarray) -> tuple[float, float]:
    """The relative error ``tau`` of predictions ``p`` against measurements ``o`` whose own
    noise has variance ``se2``, when ``o ~ N(p, se2 + tau^2 p^2)``: its one-sided 80% upper
    bound by profile likelihood (the largest ``tau`` whose log-likelihood is within
    ``Z_{0.8}^2 / 2`` of the maximum; Pawitan 2001, "In All Likelihood", sec. 2.6) and its
    most likely value, on a grid of 0.001 up to :data:`TAU_MAX`."""
    grid = np.linspace(0.0, TAU_MAX, 3001)
    var = se2[None, :] + (grid[:, None] * p[None, :]) ** 2 + 1e-12
    ll = -0.5 * (np.log(var) + (o - p)[None, :] ** 2 / var).sum(axis=1)
    top = int(np.argmax(ll))
    within = np.flatnonzero(ll >= ll[top] - Z_ONE_SIDED_80 ** 2 / 2)
    return float(grid[within.max()]), float(grid[top])
