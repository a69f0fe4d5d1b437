"""Promotion response: per (customer, promotion) purchase probability, incremental purchases,
revenue and margin, with intervals.

Pieces, in pipeline order: :mod:`.data` (exposures with features at send time and outcomes in
the response window, leak-free), :mod:`.uplift` (T-, X- and relative-lift learners on
LightGBM, one model set per promotion against the same campaigns' control group),
:mod:`.priors` (documented priors where there is no history or no control group, always marked
as assumptions), :mod:`.value` (what a redemption adds and costs; structural revenue and
margin), :mod:`.model` (the :class:`ResponseModel` combining them), :mod:`.metrics` (Qini, AUUC,
uplift@k) and :mod:`.evaluate` (out-of-time evaluation, comparison with a generated scenario's
truth).
"""

from loyalist.response.data import (
    OUTCOMES,
    TrainingSet,
    build_exposures,
    build_training_set,
    default_window_days,
    offer_item_prices,
    response_features,
)
from loyalist.response.evaluate import (
    churn_heuristic,
    compare_with_truth,
    default_cutoff,
    evaluate_out_of_time,
)
from loyalist.response.metrics import auuc, qini_coefficient, qini_curve, uplift_at_k
from loyalist.response.model import RESPONSE_COLUMNS, ResponseModel, fit_response
from loyalist.response.priors import PRIOR_TABLE, PriorResponse, lifecycle_segment
from loyalist.response.uplift import (
    LEARNERS,
    PREDICTION_COLUMNS,
    RelativeLiftLearner,
    TLearner,
    XLearner,
)
from loyalist.response.value import (
    OfferMechanics,
    expected_cost,
    incremental_margin,
    offer_mechanics,
    redemption_discount,
    structural_value,
)

__all__ = [
    "LEARNERS", "OUTCOMES", "PREDICTION_COLUMNS", "PRIOR_TABLE", "RESPONSE_COLUMNS",
    "OfferMechanics", "PriorResponse", "RelativeLiftLearner", "ResponseModel", "TLearner",
    "TrainingSet", "XLearner", "auuc", "build_exposures", "build_training_set", "churn_heuristic",
    "compare_with_truth", "default_cutoff", "default_window_days", "evaluate_out_of_time",
    "expected_cost", "fit_response", "incremental_margin", "lifecycle_segment",
    "offer_item_prices", "offer_mechanics", "qini_coefficient", "qini_curve",
    "redemption_discount", "response_features", "structural_value", "uplift_at_k",
]
