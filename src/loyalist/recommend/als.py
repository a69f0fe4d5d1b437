"""Implicit-feedback matrix factorisation by alternating least squares (the ``implicit``
library's CPU solver).

Hu, Koren & Volinsky 2008, "Collaborative Filtering for Implicit Feedback Datasets": preference
``p_ui = 1`` if customer u bought item i, confidence ``c_ui = 1 + alpha * r_ui``; conjugate-
gradient updates from Takács, Pilászy & Tikk 2011. ``r_ui`` is the customer's time-decayed
purchase count, log-damped (``log1p``) by default so a weekly re-orderer does not swamp the fit.
"""

from __future__ import annotations

import logging

import numpy as np
import threadpoolctl

from loyalist.errors import ParameterError
from loyalist.recommend.interactions import Interactions
from loyalist.recommend.popularity import check_half_life
from loyalist.recommend.ranking import Recommender

log = logging.getLogger(__name__)

__all__ = ["ALSRecommender"]

SCALINGS = ("log", "linear", "binary")


def _positive_int(name: str, value: object, high: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1 or (
            high is not None and value > high):
        limit = f"1..{high}" if high else ">= 1"
        raise ParameterError(f"{name} = {value!r} is impossible; use an integer {limit}")


class ALSRecommender(Recommender):
    """Implicit ALS (``implicit.cpu.als.AlternatingLeastSquares``).

    Parameters: ``factors``, ``regularization``, ``alpha`` (confidence per unit of ``r``),
    ``iterations``, ``half_life_days`` (decay of purchases), ``scaling`` of the counts
    (``"log"``: log1p, ``"linear"``, ``"binary"``), ``random_state`` (seeds the initial factors:
    same seed, same model) and ``num_threads`` (1-2 here; BLAS is held to one thread during
    the fit, as ``implicit`` requires for speed).

    Learned: ``user_factors_`` (customers x factors), ``item_factors_`` (items x factors).
    """

    _ties = False

    def __init__(self, *, factors: int = 64, regularization: float = 0.05, alpha: float = 10.0,
                 iterations: int = 10, half_life_days: float | None = 180.0,
                 scaling: str = "log", random_state: int | None = 0,
                 num_threads: int = 2) -> None:
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.half_life_days = half_life_days
        self.scaling = scaling
        self.random_state = random_state
        self.num_threads = num_threads

    def _validate_params(self) -> None:
        _positive_int("factors", self.factors, 1024)
        _positive_int("iterations", self.iterations, 1000)
        _positive_int("num_threads", self.num_threads, 64)
        if not float(self.regularization) >= 0:
            raise ParameterError(f"regularization = {self.regularization!r} is impossible; "
                                 "use >= 0")
        if not float(self.alpha) > 0:
            raise ParameterError(f"alpha = {self.alpha!r} is impossible; use > 0")
        if self.scaling not in SCALINGS:
            raise ParameterError(f"scaling {self.scaling!r} is unknown; use one of "
                                 f"{', '.join(SCALINGS)}")
        check_half_life("half_life_days", self.half_life_days)

    def _fit(self, interactions: Interactions) -> None:
        from implicit.cpu.als import AlternatingLeastSquares

        r = interactions.matrix(half_life_days=self.half_life_days,
                                binary=self.scaling == "binary")
        if self.scaling == "log":
            r.data = np.log1p(r.data)
        # implicit warns when BLAS runs multi-threaded (its solver is already parallel and
        # nested threading slows it ~10x): hold BLAS to one thread while it is built and fits.
        with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
            model = AlternatingLeastSquares(
                factors=int(self.factors), regularization=float(self.regularization),
                alpha=float(self.alpha), iterations=int(self.iterations),
                random_state=self.random_state, num_threads=int(self.num_threads),
                calculate_training_loss=False)
            model.fit(r, show_progress=False)
        self.user_factors_ = np.ascontiguousarray(model.user_factors, dtype=np.float32)
        self.item_factors_ = np.ascontiguousarray(model.item_factors, dtype=np.float32)

    def _score(self, rows: np.ndarray) -> np.ndarray:
        return self.user_factors_[rows] @ self.item_factors_.T

    def _standardised(self, rows: np.ndarray, exclude: bool = False, weight: float = 1.0
                      ) -> tuple[np.ndarray, np.ndarray]:
        # Moments of s_u = V u over items from the factors: sum = u . sum(V),
        # sum of squares = u' V'V u; excluded items' scores are dot products of a few rows.
        u = self.user_factors_[rows].astype(np.float64)
        v = self.item_factors_
        s1 = u @ v.sum(axis=0, dtype=np.float64)
        s2 = np.einsum("ij,ij->i", u @ (v.T.astype(np.float64) @ v), u)
        mean, std = self._moments(
            s1, s2, rows, v.shape[0],
            lambda r, c: np.einsum("ij,ij->i", u[r], v[c]) if exclude else None)
        return (u * (weight / std)[:, None]).astype(np.float32) @ v.T, weight * mean / std
