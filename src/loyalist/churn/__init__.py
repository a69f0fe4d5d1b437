"""Churn risk: calibrated gradient-boosting probability of no purchase in the next horizon,
tiers and per-customer reasons (:class:`ChurnModel`), and the same from a baseline ranking
when that beat the model out of time (:class:`BaselineChurnModel`)."""

from loyalist.churn.baseline import BASELINES, BaselineChurnModel
from loyalist.churn.model import TIERS, ChurnModel
from loyalist.churn.reasons import REASON_GROUPS, explain

__all__ = ["BASELINES", "REASON_GROUPS", "TIERS", "BaselineChurnModel", "ChurnModel", "explain"]
