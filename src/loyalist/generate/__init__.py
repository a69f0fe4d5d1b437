"""Scenario generator: a merchant's history (customers, transactions, products, promotion
history with a control group) plus the merchant context and the truth behind them.

``generate`` is pure (no I/O, no clock, deterministic for a seed); ``write_scenario`` writes the
files. See :mod:`loyalist.generate.promotions` for the response model that produced both the
history's promotion outcomes and ``truth_response``.
"""

from loyalist.generate.generator import Scenario, generate
from loyalist.generate.scenarios import SCENARIOS, Merchant, PromotionSpec
from loyalist.generate.write import FILES, write_scenario

__all__ = ["FILES", "SCENARIOS", "Merchant", "PromotionSpec", "Scenario", "generate",
           "write_scenario"]
