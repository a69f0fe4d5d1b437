"""The customers: latent behaviour (the truth) and the observable customer table.

Latent parameters per customer (Fader, Hardie & Lee 2005 for BG/NBD; Fader, Hardie & Lee 2005b
for Gamma-Gamma):

- purchase rate ``lambda ~ Gamma(r, alpha)`` purchases/day while alive;
- dropout probability ``p ~ Beta(a, b)`` after each repeat purchase;
- spend: ``nu ~ Gamma(q, gamma)``, order value ``z ~ Gamma(p_gg, nu)``, so the mean spend per
  order is ``p_gg / nu``;
- category affinity: ``Dirichlet(base concentrations)`` tilted towards categories whose price
  fits the customer's spend per line;
- promo sensitivity (a quarter of customers barely respond) and price sensitivity (higher for
  low spenders), both with mean about 1.

Acquisition is staggered: sign-ups arrive from ``prehistory_years`` before the history to its
end, with density following the daily multipliers, and a sign-up is the customer's first
purchase. Customers who joined before the history have lived (and maybe dropped out) by its
start, so the base is a mix of cohorts, including dormant ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from loyalist.generate.scenarios import Merchant
from loyalist.generate.timeline import DAY, Timeline, seconds_in_day


@dataclass
class Population:
    """Per-customer arrays, index ``i`` = customer ``C{i + 1}``."""

    lam: np.ndarray  # purchases/day while alive
    p: np.ndarray  # dropout probability after each repeat purchase
    spend_mean: np.ndarray  # expected value of one order
    affinity: np.ndarray  # (n, categories) rows sum to 1
    promo_sens: np.ndarray
    price_sens: np.ndarray
    signup_s: np.ndarray  # int64 seconds since the timeline origin; also the first purchase
    age: np.ndarray
    gender: np.ndarray  # index into merchant.genders
    region: np.ndarray  # index into merchant.regions
    consent: np.ndarray
    opt_out: np.ndarray
    home_store: np.ndarray  # index into merchant.stores (the usual store of the usual channel)
    alt_channel_p: np.ndarray  # probability an order goes through the alternative channel
    gg_p: float  # Gamma-Gamma shape of one order's value

    @property
    def n(self) -> int:
        return len(self.lam)

    @property
    def nu(self) -> np.ndarray:
        """Gamma-Gamma rate of the customer's order values."""
        return self.gg_p / self.spend_mean


def category_prices(m: Merchant) -> np.ndarray:
    """Typical spend on one line of each category (median price)."""
    return np.array([c.median_price for c in m.categories], dtype=np.float64)


def draw_population(rng: np.random.Generator, m: Merchant, n: int, tl: Timeline) -> Population:
    lam = np.clip(rng.gamma(m.r, 1.0 / m.alpha, size=n), 1e-4, m.max_rate)
    p = np.clip(rng.beta(m.a, m.b, size=n), 1e-4, 0.95)
    nu = rng.gamma(m.gg_q, 1.0 / m.gg_gamma, size=n)
    spend_mean = m.gg_p / nu
    med = float(np.median(spend_mean))
    spend_mean = np.clip(spend_mean, med / 30.0, med * 30.0)

    base = np.array([c.affinity for c in m.categories], dtype=np.float64)
    aff = rng.dirichlet(base, size=n)
    per_line = np.log(spend_mean / m.lines_mean)[:, None]
    fit = np.exp(-((per_line - np.log(category_prices(m))[None, :]) ** 2) / (2 * 1.2**2))
    aff = aff * fit + 1e-9
    aff /= aff.sum(axis=1, keepdims=True)

    responder = rng.random(n) >= 0.25
    promo_sens = np.where(responder, rng.gamma(2.5, 0.5, size=n), rng.gamma(2.0, 0.05, size=n))
    z = (np.log(spend_mean) - np.log(spend_mean).mean()) / max(np.log(spend_mean).std(), 1e-9)
    price_sens = np.exp(rng.normal(0.0, 0.35, size=n) - 0.35 * z)
    price_sens /= price_sens.mean()

    signup = tl.draw_days(rng, 0, tl.end_day, n) * DAY + seconds_in_day(rng, m, n)

    age = np.clip(np.rint(rng.normal(m.age_mean, m.age_sd, size=n)), m.age_min, m.age_max)
    age = age.astype(np.int64)
    gw = np.array([w for _, w in m.genders])
    gender = rng.choice(len(gw), size=n, p=gw / gw.sum())
    rw = np.array([w for _, w in m.regions])
    region = rng.choice(len(rw), size=n, p=rw / rw.sum())
    consent = rng.random(n) < np.where(age < 18, 0.5, 0.82)
    opt_out = rng.random(n) < 0.03
    stores = [s for s in m.stores if s != "web"] or ["web"]
    if len(stores) > 1:
        # the usual store is the one of the customer's neighbourhood, mostly
        home = np.where(rng.random(n) < 0.85, region % len(stores),
                        rng.integers(0, len(stores), size=n))
    else:
        home = np.zeros(n, dtype=np.int64)
    home_store = np.array([m.stores.index(s) for s in stores])[home]
    k = 4.0
    alt = rng.beta(m.alt_channel_share * k, (1 - m.alt_channel_share) * k, size=n)
    pop = Population(lam=lam, p=p, spend_mean=spend_mean, affinity=aff, promo_sens=promo_sens,
                     price_sens=price_sens, signup_s=signup, age=age,
                     gender=gender, region=region, consent=consent, opt_out=opt_out,
                     home_store=home_store, alt_channel_p=alt, gg_p=m.gg_p)
    return pop
