"""The facade every door (CLI, API, dashboard) calls, so a result is the same whichever way it
comes. Functions here take paths and plain values, open the store, call the library, and return
plain data (dicts and frames) for the caller to show.

Callers use the names here; the bodies live in submodules, in pipeline order:

- :mod:`.store`: loading files and generated scenarios, listing, removing and compacting
  loads, the as_of rules (``resolve_as_of``, stale data) and the customer features;
- :mod:`.customers`: customer models (CLV fits, segments, churn, lifetime value), scoring and
  their out-of-time evaluations;
- :mod:`.products`: recommendations and their evaluation, the revenue forecast, products
  bought together;
- :mod:`.promotions`: the promotion plan (inputs, priors, parameters, writing and saving it),
  its value against a scenario's truth, and the response model's evaluation;
- :mod:`.run`: the whole job (``demo``, ``run_all``), the report and ``run.json``.

A function that calls another looks it up in its own submodule: a test that replaces one
patches it there (e.g. ``pipeline.run.forecast``, what ``run_all`` calls), not here.
"""

from loyalist.pipeline.customers import (
    CLV_MODELS,
    clv_fit,
    evaluate_customers,
    evaluate_purchases,
    score,
    train,
)
from loyalist.pipeline.products import (
    FORECAST_BY,
    MAX_TEST_DAYS,
    MIN_REPEAT_SHARE,
    RECOMMENDATION_COLUMNS,
    RECOMMENDATIONS_CSV,
    basket_rules,
    bought_together,
    evaluate_recommend,
    forecast,
    recommend,
)
from loyalist.pipeline.promotions import (
    PLAN_FILES,
    PRIORS_HEADER,
    campaign_results,
    evaluate_promotions,
    load_priors,
    plan,
    plan_inputs,
    plan_params,
    prior_defaults,
    save_plan,
    write_plan,
)
from loyalist.pipeline.run import demo, report, run_all, write_run_json
from loyalist.pipeline.store import (
    SCENARIO_TABLES,
    STALE_DAYS,
    Progress,
    compact,
    features,
    generate,
    ingest,
    load_scenario,
    loads,
    resolve_as_of,
    stale_data_warning,
    unload,
)

__all__ = [
    # store
    "Progress", "ingest", "loads", "unload", "compact", "resolve_as_of", "STALE_DAYS",
    "stale_data_warning", "features", "generate", "SCENARIO_TABLES", "load_scenario",
    # customers
    "CLV_MODELS", "clv_fit", "train", "score", "evaluate_customers", "evaluate_purchases",
    # products
    "MAX_TEST_DAYS", "RECOMMENDATIONS_CSV", "RECOMMENDATION_COLUMNS", "FORECAST_BY",
    "MIN_REPEAT_SHARE", "recommend", "evaluate_recommend", "forecast", "bought_together",
    "basket_rules",
    # promotions
    "PLAN_FILES", "plan_inputs", "load_priors", "PRIORS_HEADER", "prior_defaults",
    "plan_params", "plan", "save_plan", "write_plan", "evaluate_promotions",
    "campaign_results",
    # the whole job and the report
    "demo", "run_all", "write_run_json", "report",
]
