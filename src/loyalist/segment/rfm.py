"""RFM scores (1-5 quintiles) and two named segment schemes.

**Scores.** Each key is scored by its rank among the customers, with ties sharing a score:
a customer whose key has ``c`` customers strictly below it (its *minimum* rank, 0-based; the
"competition" rank of a tied group) out of ``n`` gets ``1 + floor(5 c / n)``. Customers with
the same value therefore always get the same score, whatever their ``customer_id`` or row
order, so identical customers land in the same segment, and two runs on the same data always
agree. The lowest value always scores 1 and every score is in 1..5. With distinct values the
five groups differ in size by at most one; a large tied group stays whole in the quintile of
its first member (e.g. every one-order customer has F 1, so "New" means R 5 and one order),
and a higher score may then be empty. The keys are ``-recency_days`` (the most recent buyer
scores 5), ``orders`` and ``net_spend`` (what the customer bought and kept: purchases less
returns and cancellations, so a customer whose one large order was cancelled is not a top
spender), all configurable. :class:`RFMScorer` remembers
the quintile boundaries of the frame it was fitted on, so later frames are scored against the
same population (``fit_transform`` on one frame gives exactly the rank-based scores).

**Named segments.** Each scheme is an ordered list of rules; a customer gets the first rule
that matches, and every scheme ends in rules that together cover every score combination, so
nobody is unassigned (tested over all 125 (R, F, M) cells).

``"named11"`` (the 11 conventional segments, on R, F and M):

===  ==================  ==========================================================
 1   Champions           R 4-5 and F 4-5 and M 4-5
 2   Loyal               R 3-5 and F 3-5 and M 3-5
 3   New                 R 5 and F 1
 4   Promising           R 4 and F 1
 5   Potential Loyalist  R 4-5 (every other recent customer)
 6   Can't Lose Them     R 1 and F 4-5 and M 4-5
 7   At Risk             R 1-2 and (F 3-5 or M 3-5)
 8   Need Attention      R 3 and (F 3-5 or M 3-5)
 9   About to Sleep      R 3 (F 1-2 and M 1-2)
10   Hibernating         R 2 (F 1-2 and M 1-2)
11   Lost                R 1 (F 1-2 and M 1-2)
===  ==================  ==========================================================

``"grid10"`` (the common 10-cell recency x frequency grid, on R and F only):

=====  =====  ===================
R      F      segment
=====  =====  ===================
5      4-5    Champions
3-4    4-5    Loyal Customers
4-5    2-3    Potential Loyalists
5      1      New Customers
4      1      Promising
3      3      Need Attention
3      1-2    About to Sleep
1-2    5      Can't Lose Them
1-2    3-4    At Risk
1-2    1-2    Hibernating
=====  =====  ===================
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from loyalist import schema as s
from loyalist.errors import DataError, NotFittedError, ParameterError

__all__ = ["GRID10", "GRID_PREFIX", "NAMED11", "SCHEMES", "SEGMENT_NAMES", "RFMScorer",
           "SegmentRule", "assign_segments", "grid_label", "rank_scores", "rule_table"]

Cond = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class SegmentRule:
    """A named segment: who it holds (``rule`` text) and the condition on (R, F, M)."""

    name: str
    rule: str
    description: str
    cond: Cond


def _between(x: np.ndarray, lo: int, hi: int) -> np.ndarray:
    return (x >= lo) & (x <= hi)


NAMED11: tuple[SegmentRule, ...] = (
    SegmentRule("Champions", "R 4-5 and F 4-5 and M 4-5",
                "bought recently, buy often and spend the most",
                lambda r, f, m: (r >= 4) & (f >= 4) & (m >= 4)),
    SegmentRule("Loyal", "R 3-5 and F 3-5 and M 3-5",
                "buy regularly and spend well; not lapsed",
                lambda r, f, m: (r >= 3) & (f >= 3) & (m >= 3)),
    SegmentRule("New", "R 5 and F 1", "bought very recently, for the first time or rarely",
                lambda r, f, m: (r == 5) & (f == 1)),
    SegmentRule("Promising", "R 4 and F 1", "recent shoppers with few purchases",
                lambda r, f, m: (r == 4) & (f == 1)),
    SegmentRule("Potential Loyalist", "R 4-5 (every other recent customer)",
                "recent customers with average frequency or spend",
                lambda r, f, m: r >= 4),
    SegmentRule("Can't Lose Them", "R 1 and F 4-5 and M 4-5",
                "used to buy often and spend the most, but not for a long time",
                lambda r, f, m: (r == 1) & (f >= 4) & (m >= 4)),
    SegmentRule("At Risk", "R 1-2 and (F 3-5 or M 3-5)",
                "bought often or spent well, but long ago",
                lambda r, f, m: (r <= 2) & ((f >= 3) | (m >= 3))),
    SegmentRule("Need Attention", "R 3 and (F 3-5 or M 3-5)",
                "above-average frequency or spend, starting to lapse",
                lambda r, f, m: (r == 3) & ((f >= 3) | (m >= 3))),
    SegmentRule("About to Sleep", "R 3 (the rest: F 1-2 and M 1-2)",
                "below-average recency, frequency and spend",
                lambda r, f, m: r == 3),
    SegmentRule("Hibernating", "R 2 (the rest: F 1-2 and M 1-2)",
                "last purchase long ago, few orders, low spend",
                lambda r, f, m: r == 2),
    SegmentRule("Lost", "R 1 (the rest: F 1-2 and M 1-2)",
                "lowest recency, frequency and spend",
                lambda r, f, m: r == 1),
)

GRID10: tuple[SegmentRule, ...] = (
    SegmentRule("Champions", "R 5 and F 4-5", "bought recently and buy often",
                lambda r, f, m: (r == 5) & (f >= 4)),
    SegmentRule("Loyal Customers", "R 3-4 and F 4-5", "buy often, recent enough",
                lambda r, f, m: _between(r, 3, 4) & (f >= 4)),
    SegmentRule("Potential Loyalists", "R 4-5 and F 2-3", "recent, with a few purchases",
                lambda r, f, m: (r >= 4) & _between(f, 2, 3)),
    SegmentRule("New Customers", "R 5 and F 1", "bought most recently, once or rarely",
                lambda r, f, m: (r == 5) & (f == 1)),
    SegmentRule("Promising", "R 4 and F 1", "recent shoppers with few purchases",
                lambda r, f, m: (r == 4) & (f == 1)),
    SegmentRule("Need Attention", "R 3 and F 3", "average recency and frequency",
                lambda r, f, m: (r == 3) & (f == 3)),
    SegmentRule("About to Sleep", "R 3 and F 1-2", "average recency, low frequency",
                lambda r, f, m: (r == 3) & (f <= 2)),
    SegmentRule("Can't Lose Them", "R 1-2 and F 5", "bought most often, but long ago",
                lambda r, f, m: (r <= 2) & (f == 5)),
    SegmentRule("At Risk", "R 1-2 and F 3-4", "bought often, but long ago",
                lambda r, f, m: (r <= 2) & _between(f, 3, 4)),
    SegmentRule("Hibernating", "R 1-2 and F 1-2", "bought rarely and long ago",
                lambda r, f, m: (r <= 2) & (f <= 2)),
)

#: how a grid cell is shown where the 11 named segments are shown too: "At Risk", "Can't
#: Lose Them" and "Champions" are in both with other rules (exploratory report 6, finding 8).
#: A display label only: the scores keep the cell's own name in ``grid_segment``.
GRID_PREFIX = "RF grid: "


def grid_label(name: str) -> str:
    """A grid cell's name as shown beside the named segments: "RF grid: At Risk"."""
    return f"{GRID_PREFIX}{name}"


SCHEMES: dict[str, tuple[SegmentRule, ...]] = {"named11": NAMED11, "grid10": GRID10}
#: every segment name a scheme can give, each once, in the schemes' order
SEGMENT_NAMES: tuple[str, ...] = tuple(dict.fromkeys(
    rule.name for rules in SCHEMES.values() for rule in rules))


def _lookup(rules: tuple[SegmentRule, ...]) -> np.ndarray:
    """Segment index for every (R, F, M) in 1..5 (array ``[5, 5, 5]``); -1 if unassigned."""
    r, f, m = np.meshgrid(np.arange(1, 6), np.arange(1, 6), np.arange(1, 6), indexing="ij")
    out = np.full(r.shape, -1)
    for i, rule in enumerate(rules):
        hit = (out == -1) & rule.cond(r, f, m)
        out[hit] = i
    return out


def assign_segments(r: object, f: object, m: object, scheme: str = "named11") -> np.ndarray:
    """Segment name per customer from 1-5 scores; the first matching rule wins."""
    if scheme not in SCHEMES:
        raise ParameterError(f"segment scheme {scheme!r} is unknown; use one of "
                             f"{', '.join(SCHEMES)}")
    rr, ff, mm = (np.asarray(v, dtype=int) for v in (r, f, m))
    for name, v in (("r_score", rr), ("f_score", ff), ("m_score", mm)):
        if v.size and (v.min() < 1 or v.max() > 5):
            raise DataError(f"{name}: scores must be integers 1-5, found {v.min()}..{v.max()}")
    rules = SCHEMES[scheme]
    table = _lookup(rules)
    idx = table[rr - 1, ff - 1, mm - 1]
    if (idx < 0).any():  # impossible by construction; guarded by a test over all 125 cells
        raise AssertionError(f"scheme {scheme} leaves some customers unassigned")
    return np.array([rules[i].name for i in range(len(rules))], dtype=object)[idx]


def rank_scores(key: np.ndarray) -> np.ndarray:
    """1-5 quintile scores with ties shared: ``1 + 5c // n``, ``c`` = keys strictly below."""
    key = np.asarray(key, dtype=float)
    below = np.searchsorted(np.sort(key), key, side="left")
    return 1 + (5 * below) // max(key.size, 1)


def _bounds(key: np.ndarray) -> list[float]:
    """The key of the customer at 0-based sorted position ``ceil(q n / 5) - 1``, q = 1..4.

    A value scores above quintile ``q`` exactly when at least ``ceil(q n / 5)`` keys are
    strictly below it, i.e. when it is greater than that customer's key.
    """
    srt = np.sort(key)
    n = srt.size
    return [float(srt[-(-q * n // 5) - 1]) for q in range(1, 5)]


def _score_against(key: np.ndarray, bounds: list[float] | list[tuple[float, str]]
                   ) -> np.ndarray:
    """Score = 1 + number of boundaries strictly below the customer's key.

    A scorer saved before ties shared a score holds ``(key, customer_id)`` pairs, the first
    customer of quintiles 2-5; it is read as "at or above that key", so ties share a score
    there too."""
    score = np.ones(key.size, dtype=int)
    for b in bounds:
        score += (key >= b[0]) if isinstance(b, tuple) else (key > b)
    return score


def rule_table(scheme: str = "named11") -> pd.DataFrame:
    """The scheme's rules in the order they are applied (the first that matches wins):
    ``order, segment, rule, who``, e.g. ``1, Champions, R 4-5 and F 4-5 and M 4-5, bought
    recently, ...``; R, F and M are the 1-5 quintile scores (5 = most recent, most orders,
    most spend)."""
    if scheme not in SCHEMES:
        raise ParameterError(f"segment scheme {scheme!r} is unknown; use one of "
                             f"{', '.join(SCHEMES)}")
    return pd.DataFrame([{"order": i, "segment": r.name, "rule": r.rule, "who": r.description}
                         for i, r in enumerate(SCHEMES[scheme], 1)])


class RFMScorer:
    """RFM quintile scores and named segments.

    Parameters
    ----------
    scheme:
        ``"named11"`` (default) or ``"grid10"``: see the module docstring.
    recency, frequency, monetary:
        Feature columns for R (lower is better), F and M (higher is better).

    Learned attributes: ``bounds_`` ({"r"|"f"|"m": [key] x 4}): a customer scores above
    quintile ``q`` when its key is greater than ``bounds_[...][q - 1]`` (see the module
    docstring: ties share a score); ``n_customers_``.
    """

    def __init__(self, *, scheme: str = "named11", recency: str = "recency_days",
                 frequency: str = "orders", monetary: str = "net_spend") -> None:
        self.scheme = scheme
        self.recency = recency
        self.frequency = frequency
        self.monetary = monetary

    def _keys(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        cols = [s.CUSTOMER_ID, self.recency, self.frequency, self.monetary]
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            raise DataError(f"RFM: columns {missing} are missing from the customer frame; "
                            "compute it with loyalist.features.customer_features")
        keys = {"r": -frame[self.recency].to_numpy(dtype=float),
                "f": frame[self.frequency].to_numpy(dtype=float),
                "m": frame[self.monetary].to_numpy(dtype=float)}
        for name, v in keys.items():
            if np.isnan(v).any():
                raise DataError(f"RFM: {int(np.isnan(v).sum())} customers have no "
                                f"{name.upper()} value")
        return keys

    def fit(self, frame: pd.DataFrame) -> RFMScorer:
        """Learn the quintile boundaries of ``frame`` (one row per customer)."""
        if self.scheme not in SCHEMES:
            raise ParameterError(f"segment scheme {self.scheme!r} is unknown; use one of "
                                 f"{', '.join(SCHEMES)}")
        if len(frame) == 0:
            raise DataError("RFM: the customer frame is empty")
        keys = self._keys(frame)
        self.bounds_: dict[str, list[float]] = {name: _bounds(key) for name, key in keys.items()}
        self.n_customers_ = len(frame)
        return self

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``customer_id, r_score, f_score, m_score, rfm_segment`` against the fitted bounds."""
        if not hasattr(self, "bounds_"):
            raise NotFittedError("this RFMScorer is not fitted yet; call fit(frame) first")
        keys = self._keys(frame)
        sc = {k: _score_against(v, self.bounds_[k]) for k, v in keys.items()}
        return pd.DataFrame({
            s.CUSTOMER_ID: frame[s.CUSTOMER_ID].to_numpy(),
            "r_score": sc["r"], "f_score": sc["f"], "m_score": sc["m"],
            "rfm_segment": assign_segments(sc["r"], sc["f"], sc["m"], self.scheme),
        })

    def fit_transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        return self.fit(frame).transform(frame)

    @property
    def rules(self) -> tuple[SegmentRule, ...]:
        """The rules of the scheme, in the order they are applied."""
        return SCHEMES[self.scheme]
