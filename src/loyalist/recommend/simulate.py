"""A synthetic purchase log with known structure, for benchmarks and recovery tests.

Items have power-law (Zipf) popularity and belong to taste clusters; each customer has a home
cluster and buys there with probability ``affinity`` (otherwise from the whole catalogue), with
a per-customer activity that is itself heavy-tailed, and re-buys an earlier item with
probability ``repeat``. Purchases are spread over ``days`` and grouped into orders by customer
and day. The catalogue has a category (the cluster, as retailers group by taste), a description
(cluster words plus item words) and a log-normal price.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from loyalist import schema as s
from loyalist.errors import ParameterError, is_whole_number

__all__ = ["simulate_purchases"]


def simulate_purchases(*, n_customers: int = 50_000, n_items: int = 5_000,
                       n_interactions: int = 1_000_000, n_clusters: int = 25,
                       zipf: float = 1.0, affinity: float = 0.8, repeat: float = 0.25,
                       days: int = 365, start: str = "2024-01-01", seed: int = 0
                       ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(lines, catalog)``: purchase lines (customer_id, order_id, ordered_at, product_id) and
    the product catalogue indexed by product_id (category, description, price)."""
    for name, v in (("n_customers", n_customers), ("n_items", n_items),
                    ("n_interactions", n_interactions), ("n_clusters", n_clusters),
                    ("days", days)):
        if not is_whole_number(v) or v < 1:
            raise ParameterError(f"{name} = {v!r} is impossible; use an integer >= 1")
    rng = np.random.default_rng(seed)
    # items: Zipf popularity over a random permutation, taste clusters
    weight = 1.0 / np.power(np.arange(1, n_items + 1), zipf)
    weight = weight[rng.permutation(n_items)]
    item_cluster = rng.integers(0, n_clusters, n_items)
    # customers: home cluster, heavy-tailed activity summing to ~n_interactions
    cust_cluster = rng.integers(0, n_clusters, n_customers)
    activity = rng.lognormal(0.0, 1.0, n_customers)
    counts = np.maximum(1, np.round(activity / activity.sum() * n_interactions)).astype(int)
    user = np.repeat(np.arange(n_customers), counts)
    n = len(user)
    # items: in the home cluster with prob `affinity`, else anywhere; both by popularity
    item = np.empty(n, dtype=np.int64)
    home = rng.random(n) < affinity
    everywhere = np.cumsum(weight) / weight.sum()
    item[~home] = np.searchsorted(everywhere, rng.random(int((~home).sum())))
    for c in range(n_clusters):
        members = np.flatnonzero(item_cluster == c)
        pick = home & (cust_cluster[user] == c)
        if not len(members):
            item[pick] = np.searchsorted(everywhere, rng.random(int(pick.sum())))
            continue
        cdf = np.cumsum(weight[members]) / weight[members].sum()
        item[pick] = members[np.searchsorted(cdf, rng.random(int(pick.sum())))]
    item = np.minimum(item, n_items - 1)
    # times; repeats copy an earlier purchase of the same customer
    t = rng.random(n) * days
    order = np.lexsort((t, user))
    user, item, t = user[order], item[order], t[order]
    first = np.r_[True, user[1:] != user[:-1]]
    again = (rng.random(n) < repeat) & ~first
    pos = np.arange(n)
    start_of = np.maximum.accumulate(np.where(first, pos, 0))
    src = start_of + (rng.random(n) * (pos - start_of)).astype(np.int64)
    item = np.where(again, item[np.minimum(src, pos)], item)
    day = np.floor(t).astype(np.int64)
    when = pd.Timestamp(start) + pd.to_timedelta(t * 86400.0, unit="s").round("s")
    cid = pd.Index([f"c{u}" for u in range(n_customers)])
    pid = pd.Index([f"p{i}" for i in range(n_items)])
    lines = pd.DataFrame({
        s.CUSTOMER_ID: cid[user], s.ORDER_ID: [f"o{u}-{d}" for u, d in zip(user, day, strict=True)],
        s.ORDERED_AT: when, s.PRODUCT_ID: pid[item]})
    words = [f"w{c}" for c in range(n_clusters)]
    catalog = pd.DataFrame({
        s.CATEGORY: [f"cat{c}" for c in item_cluster],
        s.DESCRIPTION: [f"{words[c]} style{c} item{i % 997}" for i, c in enumerate(item_cluster)],
        s.PRICE: np.round(rng.lognormal(2.0, 0.8, n_items), 2),
    }, index=pd.Index(pid, name=s.PRODUCT_ID))
    return lines, catalog
