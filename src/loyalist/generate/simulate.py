"""Baseline purchase events: one BG/NBD process per customer, thinned by the seasonal calendar.

While alive, customer ``i`` buys as a Poisson process of intensity ``lambda_i * m(t)`` (``m`` the
daily multiplier, see :mod:`loyalist.generate.timeline`); after each repeat purchase they drop
out with probability ``p_i`` (Fader, Hardie & Lee 2005, assumptions i-v), so the number of repeat
purchases they make before dropping out is ``K ~ Geometric(p_i)``. Over ``[t0, end)`` the process
would make ``N ~ Poisson(lambda_i * (Lambda(end) - Lambda(t0)))`` purchases; the customer makes
the first ``min(N, K)`` of them, and is alive at ``end`` iff ``K > N``.

The ``min(N, K)`` event times are the first order statistics of ``N`` uniforms in operational
time, drawn without materialising the other ``N - min(N, K)``: with exponential spacings
``E_1..E_{N+1}``, ``U_(j) = G_j / G_{N+1}`` where ``G_j = E_1 + ... + E_j`` and
``G_{N+1} = G_M + Gamma(N + 1 - M)``. Everything is one pass of numpy over all events.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from loyalist.generate.population import Population
from loyalist.generate.scenarios import Merchant
from loyalist.generate.timeline import DAY, Timeline, seconds_in_day

KEY_SHIFT = 32  # event key = customer << 32 | seconds since start (fits 136 years)


@dataclass
class Events:
    """Baseline purchase events sorted by (customer, time), from sign-up (the first purchase) to
    ``end``, including those before the history starts; and each customer's state at end."""

    cust: np.ndarray  # int64 customer index
    t: np.ndarray  # int64 seconds since origin
    key: np.ndarray  # cust << 32 | t, sorted ascending
    alive_at_end: np.ndarray  # per customer
    dropped_at_s: np.ndarray  # per customer: time of the last purchase before dropping out, -1
    last_purchase_s: np.ndarray  # per customer: last purchase before end


def event_key(cust: np.ndarray, t: np.ndarray) -> np.ndarray:
    return (np.asarray(cust, dtype=np.int64) << KEY_SHIFT) | np.asarray(t, dtype=np.int64)


def segment_offsets(counts: np.ndarray) -> np.ndarray:
    """Position of each element inside its segment, for segments of the given lengths."""
    total = int(counts.sum())
    starts = np.cumsum(counts) - counts
    return np.arange(total, dtype=np.int64) - np.repeat(starts, counts)


def later_in_day(rng: np.random.Generator, t: np.ndarray, after: np.ndarray, stop: int
                 ) -> np.ndarray:
    """Move times ``t`` that are not after ``after`` to a uniform time between ``after`` and the
    end of that day (never reaching ``stop``)."""
    out = t.copy()
    bad = out <= after
    if bad.any():
        a = after[bad]
        day_end = np.minimum((a // DAY + 1) * DAY, stop)
        room = np.maximum(day_end - a - 1, 0)
        out[bad] = a + 1 + (rng.random(int(bad.sum())) * room).astype(np.int64)
    return np.minimum(out, stop - 1)


def purchase_events(rng: np.random.Generator, m: Merchant, pop: Population, tl: Timeline
                    ) -> Events:
    n = pop.n
    end_s = tl.end_s
    t0 = pop.signup_s
    lam0 = tl.op(t0)
    span = np.maximum(tl.cum[tl.end_day] - lam0, 0.0)
    big_n = rng.poisson(pop.lam * span)
    k = rng.geometric(pop.p)
    kept = np.minimum(big_n, k)
    alive = k > big_n

    total = int(kept.sum())
    cs = np.concatenate([[0.0], np.cumsum(rng.standard_exponential(total))])
    ends = np.cumsum(kept)
    starts = ends - kept
    g = cs[1:] - np.repeat(cs[starts], kept)
    g_last = cs[ends] - cs[starts]
    denom = g_last + rng.gamma(big_n - kept + 1.0)
    cust = np.repeat(np.arange(n, dtype=np.int64), kept)
    u = g / denom[cust]
    del g, cs
    day = np.minimum(tl.day_of(lam0[cust] + u * span[cust]), tl.end_day - 1)
    t = day * DAY + seconds_in_day(rng, m, total)
    t = later_in_day(rng, t, t0[cust], end_s)

    # the acquisition purchase at sign-up
    cust = np.concatenate([cust, np.arange(n, dtype=np.int64)])
    t = np.concatenate([t, pop.signup_s])
    key = event_key(cust, t)
    order = np.argsort(key, kind="stable")
    cust, t, key = cust[order], t[order], key[order]

    last = t[np.cumsum(np.bincount(cust, minlength=n)) - 1]
    dropped = np.where(alive, -1, last)
    return Events(cust=cust, t=t, key=key, alive_at_end=alive, dropped_at_s=dropped,
                  last_purchase_s=last)


def window_events(ev: Events, cust: np.ndarray, t_from: np.ndarray, t_to: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Index range ``[lo, hi)`` of each customer's baseline events in ``[t_from, t_to)``."""
    lo = np.searchsorted(ev.key, event_key(cust, t_from), side="left")
    hi = np.searchsorted(ev.key, event_key(cust, t_to), side="left")
    return lo, hi


def last_purchase_before(ev: Events, pop: Population, cust: np.ndarray, t: np.ndarray
                         ) -> np.ndarray:
    """Each customer's last purchase strictly before ``t`` (sign-up if none)."""
    pos = np.searchsorted(ev.key, event_key(cust, t), side="left") - 1
    ok = pos >= 0
    ok[ok] = ev.cust[pos[ok]] == cust[ok]
    return np.where(ok, ev.t[np.maximum(pos, 0)], pop.signup_s[cust])


def alive_at(ev: Events, pop: Population, cust: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Signed up and not yet dropped out at time ``t``."""
    return (pop.signup_s[cust] <= t) & (ev.alive_at_end[cust] | (ev.dropped_at_s[cust] >= t))
