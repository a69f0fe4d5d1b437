"""Products, and the lines of every order: what was bought, how many, at what price paid.

An order's value target ``z`` is the customer's Gamma-Gamma draw; it is split over
``1 + NegBin`` lines (heavy-tailed), each line's category is drawn from the customer's affinity,
its product is the one of that category whose price is nearest (in log) to the line's share of
``z`` (with noise), and its quantity covers the rest (capped; a few bulk lines). A redeemed order
then carries its offer:

- percent_discount: a promoted item of the category is added; lines of the category (all lines
  if none) are ``value``% off;
- bundle: a promoted item is added; every line is ``value``% off;
- bogo: two units of a promoted item are added; one unit is ``value``% off;
- free_item: a promoted item (priced near ``value``) is added; its price comes off the order,
  spread over the lines;
- fixed_voucher: an order below ``min_spend`` is topped up with an item near the gap; ``value``
  comes off the order, spread over the lines;
- free_shipping, points_multiplier: no change to the lines (the cost is the merchant's).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

from loyalist.generate.population import Population
from loyalist.generate.scenarios import Merchant, PromotionSpec
from loyalist.generate.timeline import DAY, seconds_in_day

LOG_OFFSET = 20.0  # product key = category * 100 + log(price) + 20: log prices stay in (0, 100)


@dataclass
class Products:
    """Products sorted by (category, price); ``start[c]:stop[c]`` is category ``c``."""

    number: np.ndarray  # numeric part of the product id
    cat: np.ndarray
    price: np.ndarray
    unit_cost: np.ndarray
    description: list[str]
    key: np.ndarray  # sorted
    start: np.ndarray
    stop: np.ndarray

    @property
    def logp(self) -> np.ndarray:
        return np.log(self.price)

    @property
    def n(self) -> int:
        return len(self.price)


def _round_price(x: np.ndarray, m: Merchant) -> np.ndarray:
    if m.key == "coffee":
        return np.maximum(np.round(x * 20) / 20, 0.5)
    return np.where(x >= 10, np.ceil(x) - 0.01, np.maximum(np.round(x, 1) - 0.01, 0.99))


def build_products(rng: np.random.Generator, m: Merchant) -> Products:
    cats, prices, costs, desc = [], [], [], []
    for c, spec in enumerate(m.categories):
        price = _round_price(spec.median_price * np.exp(rng.normal(0, spec.price_sigma,
                                                                   spec.products)), m)
        price = np.sort(price)
        ratio = np.clip(spec.cost_ratio + rng.normal(0, 0.05, spec.products), 0.1, 0.97)
        combos = [f"{a} {b}" for a in spec.adjectives for b in spec.nouns]
        pick = rng.permutation(len(combos))
        names = [combos[pick[i % len(combos)]] + (f" {i // len(combos) + 1}"
                                                    if i >= len(combos) else "")
                 for i in range(spec.products)]
        order = rng.permutation(spec.products)  # names are not sorted by price
        cats.append(np.full(spec.products, c))
        prices.append(price)
        costs.append(np.round(price * ratio, 2))
        desc += [names[i] for i in order]
    cat = np.concatenate(cats)
    price = np.concatenate(prices)
    n = len(price)
    number = 1000 + rng.permutation(n)
    key = cat * 100.0 + np.log(price) + LOG_OFFSET
    stop = np.cumsum([s.products for s in m.categories])
    return Products(number=number, cat=cat, price=price, unit_cost=np.concatenate(costs),
                    description=desc, key=key, start=stop - np.array(
                        [s.products for s in m.categories]), stop=stop)


def nearest_product(pr: Products, cat: np.ndarray, log_target: np.ndarray) -> np.ndarray:
    """Index of the product of category ``cat`` whose log price is nearest ``log_target``."""
    k = cat * 100.0 + np.clip(log_target + LOG_OFFSET, 0.001, 99.999)
    hi = np.clip(np.searchsorted(pr.key, k), pr.start[cat], pr.stop[cat] - 1)
    lo = np.maximum(hi - 1, pr.start[cat])
    return np.where(np.abs(pr.key[lo] - k) <= np.abs(pr.key[hi] - k), lo, hi)


def offer_target(promo: PromotionSpec, m: Merchant) -> tuple[list[int], float | None]:
    """Categories of a promotion's promoted item and its log-price target (None: around the
    category median)."""
    cats = [m.category_names.index(c) for c in promo.categories]
    if promo.kind == "free_item":
        return cats, float(np.log(promo.value))
    return cats, None


def _target_mu(m: Merchant, c: int, mu: float | None) -> tuple[float, float]:
    spec = m.categories[c]
    if mu is None:
        return float(np.log(spec.median_price)), spec.price_sigma / 2
    return mu, 0.1


def expected_offer_item(pr: Products, m: Merchant, promo: PromotionSpec) -> tuple[float, float]:
    """Expected price and profit of the promoted item a redeemed order gets (0, 0 if none):
    the exact expectation of :func:`pick_offer_items`' nearest-price choice under a normal log
    target (Voronoi cells in log price)."""
    cats, mu = offer_target(promo, m)
    if promo.kind not in ("percent_discount", "bogo", "bundle", "free_item") or not cats:
        return 0.0, 0.0
    ep, eprof = 0.0, 0.0
    for c in cats:
        sl = slice(pr.start[c], pr.stop[c])
        lp = np.log(pr.price[sl])
        mu_c, sd = _target_mu(m, c, mu)
        edges = np.concatenate([[-np.inf], (lp[1:] + lp[:-1]) / 2, [np.inf]])
        w = np.diff(ndtr((edges - mu_c) / sd))
        ep += float(w @ pr.price[sl]) / len(cats)
        eprof += float(w @ (pr.price[sl] - pr.unit_cost[sl])) / len(cats)
    return ep, eprof


def pick_offer_items(rng: np.random.Generator, pr: Products, m: Merchant, promo: PromotionSpec,
                     n: int) -> np.ndarray:
    """Promoted items for ``n`` redeemed orders: a category of the promotion at random, then the
    product nearest a log-normal price target around the category median (or the free item's
    value)."""
    cats, mu = offer_target(promo, m)
    cat = np.asarray(cats)[rng.integers(0, len(cats), size=n)]
    mus = np.array([_target_mu(m, c, mu) for c in range(len(m.categories))])
    log_t = mus[cat, 0] + mus[cat, 1] * rng.standard_normal(n)
    return nearest_product(pr, cat, log_t)


def draw_categories(rng: np.random.Generator, cum_aff: np.ndarray, row: np.ndarray
                    ) -> np.ndarray:
    """One category per line from the (cumulative) affinity row of its buyer."""
    u = rng.random(len(row))
    cat = np.zeros(len(row), dtype=np.int64)
    for c in range(cum_aff.shape[1] - 1):
        cat += u > cum_aff[row, c]
    return cat


@dataclass
class Lines:
    order: np.ndarray  # order index
    product: np.ndarray
    qty: np.ndarray
    unit_price: np.ndarray


def _basket(rng: np.random.Generator, m: Merchant, pr: Products, aff: np.ndarray,
            row: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lines (order index, product, quantity) of orders of value targets ``z`` bought by
    affinity rows ``row``."""
    n_orders = len(z)
    extra = max(m.lines_mean - 1.0, 1e-6)
    size = m.lines_dispersion
    n_lines = 1 + np.minimum(rng.negative_binomial(size, size / (size + extra), n_orders), 40)
    # no more lines than the order's value can buy at the cheapest price
    n_lines = np.maximum(np.minimum(n_lines, np.floor(z / pr.price.min())), 1).astype(np.int64)
    order = np.repeat(np.arange(n_orders, dtype=np.int64), n_lines)
    sigma = 0.35  # spread of a line's value around its share of the order (mean-preserving)
    log_target = np.log(z / n_lines)[order] + rng.normal(-sigma**2 / 2, sigma, len(order))
    bulk = rng.random(len(order)) < m.bulk_share  # heavy tail: a few lines buy many units
    log_target[bulk] += np.log1p(rng.geometric(0.25, int(bulk.sum())))
    row = row[order]
    cat = draw_categories(rng, np.cumsum(aff, axis=1), row)
    product = nearest_product(pr, cat, log_target)
    # a line whose nearest product costs more than its target moves to a category the customer
    # likes and can buy at that price (keeps order values near the Gamma-Gamma draw)
    dear = np.flatnonzero(pr.price[product] > np.exp(log_target))
    cheapest = pr.price[pr.start]
    w = aff[row[dear]] * (cheapest[None, :] <= np.exp(log_target[dear])[:, None])
    ok = w.sum(axis=1) > 0
    dear, w = dear[ok], w[ok]
    cat[dear] = draw_categories(rng, np.cumsum(w / w.sum(axis=1, keepdims=True), axis=1),
                                np.arange(len(dear)))
    product[dear] = nearest_product(pr, cat[dear], log_target[dear])
    del w, ok, dear, row
    caps = np.array([c.qty_cap for c in m.categories])[cat]
    caps = np.where(bulk, 3 * caps, caps)
    # unbiased (stochastic) rounding of the units the line's value buys
    units = np.exp(log_target) / pr.price[product]
    qty = np.clip(np.floor(units + rng.random(len(order))), 1, caps).astype(np.int64)
    return order, product, qty


def spend_scale(rng: np.random.Generator, m: Merchant, pr: Products, pop: Population,
                aff: np.ndarray, rounds: int = 2, sample: int = 20_000, per: int = 4
                ) -> np.ndarray:
    """Factor on each buyer's order-value target (last row: guests) so that realised order
    values average the customer's ``spend_mean``: products come in whole units at catalogue
    prices, which inflates small targets. Calibrated on a pilot of ``sample`` customers, as a
    piecewise-linear function of log spend (deciles)."""
    log_s = np.log(pop.spend_mean)
    k = min(pop.n, sample)
    who = np.sort(rng.choice(pop.n, size=k, replace=False))
    rows = np.repeat(who, per)
    edges = np.quantile(log_s[who], np.linspace(0, 1, 11))
    centers = (edges[1:] + edges[:-1]) / 2
    b = np.clip(np.searchsorted(edges, log_s[rows], side="right") - 1, 0, 9)
    factor = np.ones(10)
    for _ in range(rounds):
        scale = np.interp(log_s[rows], centers, factor)
        z = rng.gamma(m.gg_p, 1.0 / pop.nu[rows]) * scale
        order, product, qty = _basket(rng, m, pr, aff, rows, z)
        value = np.bincount(order, weights=pr.price[product] * qty, minlength=len(rows))
        got = np.bincount(b, weights=value, minlength=10)
        want = np.bincount(b, weights=pop.spend_mean[rows], minlength=10)
        factor = factor * np.where(got > 0, want / np.maximum(got, 1e-9), 1.0)
    out = np.empty(pop.n + 1)
    out[:-1] = np.interp(log_s, centers, factor)
    out[-1] = float(np.interp(np.median(log_s), centers, factor))
    return out


def draw_lines(rng: np.random.Generator, m: Merchant, pr: Products, pop: Population,
               o_cust: np.ndarray, o_promo: np.ndarray) -> Lines:
    """The lines of every order (``o_cust`` -1 = guest), with redeemed orders' offers applied."""
    n_orders = len(o_cust)
    guest = o_cust < 0
    aff = np.vstack([pop.affinity, pop.affinity.mean(axis=0)])
    cum_aff = np.cumsum(aff, axis=1)
    scale = spend_scale(rng.spawn(1)[0], m, pr, pop, aff)
    nu = np.empty(n_orders)
    nu[~guest] = pop.nu[o_cust[~guest]]
    nu[guest] = rng.gamma(m.gg_q, 1.0 / m.gg_gamma, size=int(guest.sum()))
    buyer = np.where(guest, pop.n, o_cust)
    z = rng.gamma(m.gg_p, 1.0 / nu) * scale[buyer]
    order, product, qty = _basket(rng, m, pr, aff, buyer, z)
    price = pr.price[product]

    # offers: added items (promoted item / voucher top-up)
    add_order, add_product, add_qty = [], [], []
    totals = np.bincount(order, weights=price * qty, minlength=n_orders)
    offer_product = np.full(n_orders, -1, dtype=np.int64)
    for j, spec in enumerate(m.catalog):
        red = np.flatnonzero(o_promo == j)
        if not len(red):
            continue
        if spec.kind in ("percent_discount", "bogo", "bundle", "free_item") and spec.categories:
            items = pick_offer_items(rng, pr, m, spec, len(red))
            offer_product[red] = items
            add_order.append(red)
            add_product.append(items)
            add_qty.append(np.full(len(red), 2 if spec.kind == "bogo" else 1))
        elif spec.kind == "fixed_voucher" and spec.min_spend:
            short = red[totals[red] < spec.min_spend]
            gap = spec.min_spend - totals[short]
            rows = np.where(guest[short], pop.n, o_cust[short])
            cat = draw_categories(rng, cum_aff, rows)
            add_order.append(short)
            add_product.append(nearest_product(pr, cat, np.log(gap)))
            add_qty.append(np.ones(len(short), dtype=np.int64))
    if add_order:
        order = np.concatenate([order, *add_order])
        product = np.concatenate([product, *add_product])
        qty = np.concatenate([qty, *add_qty])

    # one line per (order, product): merge repeats (identical lines would look like duplicates)
    key = order * pr.n + product
    srt = np.argsort(key, kind="stable")
    key = key[srt]
    head = np.ones(len(key), dtype=bool)
    head[1:] = key[1:] != key[:-1]
    starts = np.flatnonzero(head)
    qty = np.add.reduceat(qty[srt], starts) if len(starts) else qty[srt]
    order, product = order[srt][starts], product[srt][starts]
    del key, srt, head
    price = pr.price[product]
    unit_price = _apply_offers(m, pr, o_promo, offer_product, order, product, qty, price)
    return Lines(order=order, product=product, qty=qty, unit_price=unit_price)


def _apply_offers(m: Merchant, pr: Products, o_promo: np.ndarray, offer_product: np.ndarray,
                  order: np.ndarray, product: np.ndarray, qty: np.ndarray, price: np.ndarray
                  ) -> np.ndarray:
    """Price actually paid per unit, after the offer of the line's order (module docstring)."""
    factor = np.ones(len(order))
    lp = o_promo[order]
    redeemed = np.flatnonzero(lp >= 0)
    if not len(redeemed):
        return price.copy()
    totals = np.bincount(order, weights=price * qty, minlength=len(o_promo))
    cat = pr.cat[product]
    for j, spec in enumerate(m.catalog):
        rows = redeemed[lp[redeemed] == j]
        if not len(rows):
            continue
        v = spec.value
        if spec.kind == "percent_discount":
            if spec.categories:
                idx = [m.category_names.index(c) for c in spec.categories]
                rows = rows[np.isin(cat[rows], idx)]
            factor[rows] = 1 - v / 100
        elif spec.kind == "bundle":
            factor[rows] = 1 - v / 100
        elif spec.kind == "bogo":
            rows = rows[product[rows] == offer_product[order[rows]]]
            factor[rows] = 1 - v / 100 / qty[rows]
        elif spec.kind == "free_item":
            free = pr.price[offer_product[order[rows]]]
            factor[rows] = 1 - free / totals[order[rows]]
        elif spec.kind == "fixed_voucher":
            factor[rows] = 1 - v / totals[order[rows]]
    return np.maximum(np.round(price * np.maximum(factor, 0.05), 2), 0.01)


def draw_returns(rng: np.random.Generator, m: Merchant, lines: Lines, o_cust: np.ndarray,
                 o_t: np.ndarray, end_s: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return lines of customers' earlier purchases: (index of the returned line, quantity
    returned (negative), time of return). A share of lines (``return_share`` of the final log)
    comes back 1-30 days later, whole or one unit; returns due after ``end`` are not in the log."""
    if m.return_share <= 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    prob = m.return_share / (1 - m.return_share)
    cand = np.flatnonzero((o_cust[lines.order] >= 0) & (rng.random(len(lines.order)) < prob))
    # one return trip per order: every returned line of an order comes back at the same time
    orders, which = np.unique(lines.order[cand], return_inverse=True)
    delay = 1 + np.minimum(rng.gamma(2.0, 4.0, len(orders)), 29).astype(np.int64)
    back = (o_t[orders] // DAY + delay) * DAY + seconds_in_day(rng, m, len(orders))
    t = back[which]
    keep = t < end_s
    cand, t = cand[keep], t[keep]
    q = lines.qty[cand]
    one = (q > 1) & (rng.random(len(cand)) < 0.4)
    return cand, -np.where(one, 1, q), t
