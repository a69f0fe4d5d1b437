"""Daily revenue forecasting: total and per category / store / country, with 80/95% intervals,
model choice per series by rolling-origin backtest, and closed days learned from history.

Pieces, in pipeline order: :mod:`.series` (the one query, calendar-complete days),
:mod:`.closures` (open and closed days), :mod:`.public_holidays`, :mod:`.models` and
:mod:`.gbm` (the forecasters), :mod:`.backtest` (leak-free rolling origins),
:mod:`.intervals` (conformal intervals), :mod:`.metrics`, :mod:`.forecaster` (selection and the
final forecast), :mod:`.plot`. ``loyalist.cli.forecast.run_forecast`` ties them to a store.
"""

from loyalist.forecast.closures import BusinessCalendar, detect_closures
from loyalist.forecast.forecaster import (
    BASELINE,
    DEFAULT_MODELS,
    FAST_MODELS,
    MAX_HORIZON,
    RevenueForecaster,
    check_horizon,
    forecast_daily_revenue,
)
from loyalist.forecast.metrics import coverage, mape, mase, smape
from loyalist.forecast.models import MODELS, SeriesData
from loyalist.forecast.public_holidays import Country, resolve_country
from loyalist.forecast.series import complete_days, read_daily_revenue

__all__ = [
    "BASELINE", "DEFAULT_MODELS", "FAST_MODELS", "MAX_HORIZON", "MODELS", "BusinessCalendar",
    "Country", "RevenueForecaster", "SeriesData", "check_horizon", "complete_days", "coverage",
    "detect_closures", "forecast_daily_revenue", "mape", "mase", "read_daily_revenue",
    "resolve_country", "smape",
]
