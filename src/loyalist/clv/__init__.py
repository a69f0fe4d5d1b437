"""Customer lifetime value: probabilistic buy-till-you-die models fitted by maximum likelihood.

- :class:`BetaGeoModel`: BG/NBD (Fader, Hardie & Lee 2005).
- :class:`ParetoNBDModel`: Pareto/NBD (Schmittlein, Morrison & Colombo 1987).
- :class:`GammaGammaModel`: Gamma-Gamma spend (Colombo & Jiang 1999; Fader, Hardie & Lee 2005),
  with :meth:`GammaGammaModel.clv` for discounted lifetime value.

All take one row per customer: ``frequency`` (repeat purchases), ``recency`` (time of the last
purchase since the first), ``T`` (time since the first purchase up to the cutoff) in one time
unit, and, for spend, the average value of the repeat purchases.
"""

from loyalist.clv.bgnbd import BetaGeoModel
from loyalist.clv.gammagamma import GammaGammaModel, positive_spend
from loyalist.clv.paretonbd import ParetoNBDModel

__all__ = ["BetaGeoModel", "GammaGammaModel", "ParetoNBDModel", "positive_spend"]
