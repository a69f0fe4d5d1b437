"""Churn risk: calibrated gradient-boosting probability of no purchase in the next horizon,
tiers and per-customer reasons (:class:`ChurnModel`)."""

from loyalist.churn.model import TIERS, ChurnModel
from loyalist.churn.reasons import REASON_GROUPS, explain

__all__ = ["REASON_GROUPS", "TIERS", "ChurnModel", "explain"]
