"""Who may be sent what: the eligibility rules (consent, cool-down, target segments, each
promotion's segments and minimum ages: :func:`eligibility`), the sends not worth their cost
(:func:`drop_wasteful`), and the plain messages about the inputs that decide who is reached (a
catalog segment that is no segment, categories never sold, no consent or age known, no offer
on the categories to clear)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import numpy as np
import pandas as pd

from loyalist import schema as s
from loyalist.errors import DataError, ParameterError
from loyalist.promote.catalog import (
    GOAL_UNITS,
    Constraints,
    PlanParams,
    amount_text,
    split_folded,
    split_list,
)
from loyalist.promote.context import PlanContext
from loyalist.promote.effects import target_categories
from loyalist.schema import NEW_SEGMENT

__all__ = ["eligibility"]

#: a send must be worth its cost: a (customer, promotion) pair whose goal value per unit of
#: expected spend is below this share of the median over all candidate pairs (eligible, value
#: and spend above 0) is not bought (:func:`drop_wasteful`)
MIN_VALUE_PER_SPEND_SHARE = 0.01
#: in a closed season (:func:`loyalist.promote.season.closed_season`) a pair is not bought
#: when its value per unit of spend is below this share of the median of the same candidate
#: pairs in an ordinary period (:func:`drop_wasteful`): the budget kept for the days the shop
#: sells buys that much
CLOSED_MIN_VALUE_PER_SPEND_SHARE = 1.0


def eligibility(pred: pd.DataFrame, ctx: PlanContext, params: PlanParams,
                constraints: Constraints) -> tuple[np.ndarray, dict[str, int]]:
    """Which (customer, promotion) rows may be chosen, and how many customers each rule
    excluded. Rules, in this order: consent/opt-out, cool-down since the last contact, target
    segments, the catalog's segments (:data:`CATALOG_SEGMENTS_RULE`: a customer in a segment
    no promotion's ``eligible_segments`` admits), then per promotion its eligible segments and
    the minimum age of age-restricted categories (matched to the promotion's categories
    without letter case).

    The counts do not overlap: a customer is counted under the first customer rule that
    excludes them, and ``under_age_<promotion>`` counts the customers the age limit alone
    keeps from that promotion."""
    c = ctx.customers
    ids = pred[s.CUSTOMER_ID].to_numpy()
    ok = np.ones(len(pred), dtype=bool)
    excluded: dict[str, int] = {}
    # the customers considered, not yet excluded by an earlier customer rule
    still = pd.Series(True, index=pd.Index(pd.unique(ids)))

    def per_customer(mask: pd.Series, rule: str) -> None:
        nonlocal ok, still
        m = mask.reindex(still.index).fillna(False).astype(bool)
        excluded[rule] = int((still & ~m).sum())
        still &= m
        ok &= mask.reindex(ids).fillna(False).to_numpy(dtype=bool)

    if constraints.require_consent:
        per_customer(_may_contact(c), "no_consent_or_opted_out")
    if constraints.cooldown_days > 0 and "last_contact_at" in c:
        since = (ctx.as_of - pd.to_datetime(c["last_contact_at"])).dt.total_seconds() / 86400
        per_customer(~(since < constraints.cooldown_days), "contacted_within_cooldown")
    seg = c["segment"].astype(str) if "segment" in c else pd.Series("", index=c.index)
    if params.segments:
        per_customer(seg.isin(params.segments), "outside_target_segments")
    cat = ctx.catalog.set_index("name")
    admitted = catalog_segments(cat, pred["promotion"].unique())
    if admitted is not None:
        per_customer(seg.isin(admitted), CATALOG_SEGMENTS_RULE)
    seg_row = seg.reindex(ids).to_numpy()
    age = c[s.AGE].reindex(ids).to_numpy(dtype=float) if s.AGE in c else np.full(len(ids),
                                                                                   np.nan)
    for promo, idx in pred.groupby("promotion", sort=False).indices.items():
        allowed = split_list(cat.loc[promo, "eligible_segments"]) if promo in cat.index else []
        if allowed:
            bad = ~np.isin(seg_row[idx], allowed)
            ok[idx[bad]] = False
        pcats = split_folded(cat.loc[promo, "category"]) if promo in cat.index else set()
        limits = [v for k, v in constraints.min_age.items() if not pcats or k.casefold() in pcats]
        if limits:
            under = ~(age[idx] >= max(limits))  # unknown age counts as under age
            excluded[f"under_age_{promo}"] = int((under & ok[idx]).sum())
            ok[idx[under]] = False
    return ok, excluded


#: the exclusion count of the customers whose segment no catalog promotion admits
CATALOG_SEGMENTS_RULE = "outside_catalog_segments"


def catalog_segments(cat: pd.DataFrame, promotions: Iterable[str]) -> list[str] | None:
    """The segments at least one of ``promotions`` (rows of the catalog ``cat``, indexed by
    name) admits by its ``eligible_segments``; None when one of them admits every segment
    (no list) or none is in the catalog."""
    if "eligible_segments" not in cat:
        return None
    lists = [split_list(cat.loc[p, "eligible_segments"]) for p in promotions if p in cat.index]
    if not lists or not all(lists):
        return None
    return sorted({g for gs in lists for g in gs})


def catalog_segments_text(cat: pd.DataFrame, excluded: dict[str, int]) -> str:
    """Why nobody is eligible when the catalog's ``eligible_segments`` exclude the most
    customers (:data:`CATALOG_SEGMENTS_RULE`): the segments its promotions may go to, the
    other rules that exclude those segments' customers (``excluded``), and what to change."""
    admitted = catalog_segments(cat.set_index("name"), cat["name"]) or []
    others = ", ".join(f"{k} {v:,}" for k, v in excluded.items()
                       if v and k != CATALOG_SEGMENTS_RULE)
    return (f"the promotions of {cat.attrs.get('source', 'the catalog')} may go only to "
            f"{', '.join(admitted)} (their eligible_segments), "
            + (f"and the other rules exclude those customers ({others})" if others else
               "which no customer considered is in")
            + "; add segments to a promotion's eligible_segments (left empty, a promotion may "
            "go to every segment)")


def _may_contact(c: pd.DataFrame) -> pd.Series:
    """Per customer: marketing consent given and no opt-out (without a consent column every
    customer is taken as consented: :func:`no_consent_data` warns)."""
    # eq(True), not fillna(False): a customer missing from the customers table makes the
    # column object dtype, and fillna then warns (pandas FutureWarning) on every plan
    consent = c[s.MARKETING_CONSENT].eq(True) \
        if s.MARKETING_CONSENT in c else pd.Series(True, index=c.index)
    opt_out = c[s.EMAIL_OPT_OUT].eq(True) \
        if s.EMAIL_OPT_OUT in c else pd.Series(False, index=c.index)
    return consent & ~opt_out


def drop_wasteful(value: np.ndarray, cost: np.ndarray, eligible: np.ndarray, goal: str,
                  constraints: Constraints, promotions: list[str], *,
                  usual: tuple[np.ndarray, np.ndarray] | None = None
                  ) -> tuple[np.ndarray, str | None]:
    """``value`` with the pairs not worth their cost set to 0 (the optimizer never buys a
    send worth 0), and the assumption this states (None when no pair was dropped).

    The optimizer buys any send with a positive value while the budget lasts, so with a budget
    that does not bind it bought, e.g., 10% off for a wholesaler at an expected cost of 189 for
    2e-7 customers kept. A pair is dropped when its value per unit of expected spend is below
    :data:`MIN_VALUE_PER_SPEND_SHARE` of the median value per spend over the candidate pairs
    (eligible, value and spend above 0). For the money goals the value and the spend are in the
    same money, and the floor is the same share of what a typical send returns per unit spent
    (for profit the value is already net of the spend). A promotion with a minimum spend keeps
    all its pairs (its floor may need them). A dropped pair adds at most that share of a typical
    send's value per unit spent, so a plan loses at most about 1% of the value of the spend it
    saves.

    In a closed season (:func:`loyalist.promote.season.closed_season`) every send is worth
    (almost) nothing, so the median over them is no yardstick: ``usual`` is then the (value,
    cost) of the same pairs in an ordinary period (the campaigns' season), and a pair is
    dropped when it returns less per unit of spend than the median of those
    (:data:`CLOSED_MIN_VALUE_PER_SPEND_SHARE`): the budget kept buys that much in the days the
    shop sells."""
    cand = eligible & (value > 0) & (cost > 0)
    if not cand.any():
        return value, None
    ratio = np.where(cand, value / np.where(cost > 0, cost, 1.0), np.nan)
    ref = float(np.nanmedian(ratio[cand]))
    share = MIN_VALUE_PER_SPEND_SHARE
    if usual is not None:
        u_value, u_cost = usual
        u_cand = eligible & (u_value > 0) & (u_cost > 0)
        if u_cand.any():
            ref = float(np.median(u_value[u_cand] / u_cost[u_cand]))
            share = CLOSED_MIN_VALUE_PER_SPEND_SHARE
        else:
            usual = None
    waste = cand & (ratio < share * ref)
    floors = [j for j, p in enumerate(promotions) if constraints.min_spend.get(p, 0.0) > 0]
    waste[:, floors] = False
    if not waste.any():
        return value, None
    at_most = float(np.where(waste, value, 0.0).max(axis=1).sum())
    out = np.where(waste, 0.0, value)
    unit = GOAL_UNITS.get(goal, "value")
    if usual is not None:
        return out, (
            f"a send in a closed season must return what a typical send returns in an ordinary "
            f"period (the budget kept buys that in the days the shop sells): "
            f"{int(waste.sum()):,} (customer, promotion) pair(s) of "
            f"{int(waste.any(axis=1).sum()):,} customer(s) whose expected value per unit of "
            f"spend is below the median of the same sends in an ordinary period "
            f"({amount_text(share * ref)} {unit} per unit) are never bought (together worth at "
            f"most {amount_text(at_most)} {unit})")
    note = (f"a send must be worth its cost: {int(waste.sum()):,} (customer, promotion) "
            f"pair(s) of {int(waste.any(axis=1).sum()):,} customer(s) whose expected value is "
            f"below {MIN_VALUE_PER_SPEND_SHARE:.0%} of the median value per unit of spend "
            f"({amount_text(MIN_VALUE_PER_SPEND_SHARE * ref)} {unit} per unit, the median "
            f"{amount_text(ref)}) are never bought (together worth at most "
            f"{amount_text(at_most)} {unit})")
    if goal == "profit":
        note += "; the profit goal's value is already net of the spend"
    return out, note


def check_segments(ctx: PlanContext) -> PlanContext:
    """``ctx`` with its catalog's ``eligible_segments`` spelled as this store's segments
    (:func:`check_catalog_segments`): an entry that is no segment is refused (a typo would
    make its promotion reach nobody, or every customer look excluded)."""
    present = set(ctx.customers["segment"].astype(str)) if "segment" in ctx.customers \
        else set()
    cat = check_catalog_segments(ctx.catalog, present)
    return ctx if cat is ctx.catalog else dataclasses.replace(ctx, catalog=cat)


def check_catalog_segments(cat: pd.DataFrame, present: set[str]) -> pd.DataFrame:
    """The catalog with its ``eligible_segments`` matched without letter case, as
    ``--segments`` is, and spelled as the segments the store's customers are in
    (``present``; else the named segments'); a DataError names an entry that is none of them
    and this store's segments. A plan checks it before the response model's fit. ``cat``
    itself when nothing is respelled."""
    from loyalist.segment.rfm import SEGMENT_NAMES

    if "eligible_segments" not in cat:
        return cat
    spelled = {k.casefold(): k for k in (*sorted(set(SEGMENT_NAMES) | {NEW_SEGMENT}),
                                         *sorted(present))}  # the store's spelling last: kept
    source = cat.attrs.get("source", "catalog")
    cells = []
    for name, cell in zip(cat["name"], cat["eligible_segments"], strict=True):
        for sg in split_list(cell):
            if sg.casefold() not in spelled:
                raise DataError(f"{source}: promotion {name!r} has eligible_segments {sg!r}, "
                                "which is not a segment; this store's segments: "
                                f"{', '.join(sorted(present or set(spelled.values())))}")
        cells.append(";".join(spelled[sg.casefold()] for sg in split_list(cell)))
    if cells == [";".join(split_list(c)) for c in cat["eligible_segments"]]:
        return cat
    return cat.assign(eligible_segments=cells)


def check_target_segments(cat: pd.DataFrame, segments: list[str]) -> None:
    """Refuse target ``segments`` (``--segments``) that no promotion of the catalog may go to:
    every promotion has ``eligible_segments`` and none of them is targeted, so no customer is
    eligible. Named with both and what to change (it was blamed on the target segments alone,
    "relax the constraints"). Segments match without letter case."""
    admitted = catalog_segments(cat.set_index("name"), cat["name"]) if segments else None
    if admitted is None or {g.casefold() for g in segments} & {a.casefold() for a in admitted}:
        return
    limits = dict(zip(cat["name"].astype(str), map(split_list, cat["eligible_segments"]),
                      strict=True))
    source = cat.attrs.get("source", "catalog")
    shown = "; ".join(f"{n}: {', '.join(a)}" for n, a in list(limits.items())[:5])
    more = f"; and {len(limits) - 5:,} more" if len(limits) > 5 else ""
    first = next(iter(limits.values()))[0]
    asked = " ".join(f"--segments {g!r}" for g in segments)
    raise ParameterError(
        f"{asked} and the eligible_segments of {source} leave no customer eligible: every "
        f"promotion is limited to other segments ({shown}{more}); target one of those (e.g. "
        f"--segments {first!r}), or add {segments[0]!r} to a promotion's eligible_segments in "
        f"{source} (left empty, a promotion may go to every segment)")


def _sold_share_columns(ctx: PlanContext) -> set[str] | None:
    """The customers' category share columns (``share__<category>``) of the categories the
    store has sold; None when the store has no categories (nothing to check against)."""
    c = ctx.customers
    shares = [col for col in c.columns if str(col).startswith("share__")]
    if not shares:
        return None
    return {col for col in shares if (pd.to_numeric(c[col], errors="coerce") > 0).any()}


def unsold_age_limits(ctx: PlanContext, constraints: Constraints) -> list[str]:
    """A warning per ``min_age`` category the store has never sold: the limit still keeps
    under-age customers (and those of unknown age) out of every store-wide promotion, which is
    right only if the store sells it. Empty when the store has no categories."""
    from loyalist.response.data import share_column

    sold = _sold_share_columns(ctx)
    if sold is None or not constraints.min_age:
        return []
    where = constraints.where
    return [f"{where}min_age {v:g} for {k!r}, a category this store has never sold: it still "
            "keeps customers under that age, or of unknown age, out of every store-wide "
            "promotion; remove it if the store does not sell "
            f"{k!r}" for k, v in constraints.min_age.items() if share_column(k) not in sold]


def no_consent_data(ctx: PlanContext, constraints: Constraints) -> list[str]:
    """A warning when consent is required but no customer has a consent or opt-out record
    (no customers file, or one without those columns): every customer is then taken as
    consented, unlike an unknown age, so that a store without a CRM export can still plan."""
    c = ctx.customers
    known = [col for col in (s.MARKETING_CONSENT, s.EMAIL_OPT_OUT)
             if col in c and c[col].notna().any()]
    if not constraints.require_consent or known:
        return []
    return ["no marketing consent or opt-out is known for any customer (no customers file was "
            "loaded, or it has no consent or opt-out column), so every customer was taken as "
            "consented: check consent in your e-mail or SMS tool before sending, or load a "
            "customers file with a consent column (marketing_consent, Newsletter, accepts "
            "marketing) and an opt-out column"]


def consent_waived(ctx: PlanContext, constraints: Constraints) -> list[str]:
    """A warning when ``require_consent = false`` lets the plan choose customers who gave no
    marketing consent or opted out (they were planned without a word), counting them."""
    c = ctx.customers
    n = 0 if constraints.require_consent else int((~_may_contact(c)).sum())
    if not n:
        return []
    return [f"{constraints.where}require_consent = false: {n:,} of the {len(c):,} customers "
            "gave no marketing consent or opted out, and the plan may choose them; check that "
            "you may contact them before sending, or remove require_consent = false"]


def no_offer_on_targets(ctx: PlanContext, params: PlanParams) -> list[str]:
    """A warning when the goal is to clear categories that no catalog promotion is on: only
    store-wide offers reach them, through each customer's usual share of spend there."""
    cats = target_categories(ctx, params)
    if params.goal != "clear_inventory" or not cats or "category" not in ctx.catalog:
        return []
    wanted = {c.casefold() for c in cats}
    on = set().union(*map(split_folded, ctx.catalog["category"]))
    if wanted & on:
        return []
    return [f"no promotion in the catalog is on the categories to clear ({', '.join(cats)}): "
            "only store-wide offers reach them, through the share of each customer's spend "
            "that goes there, so little stock will move; add a promotion on those categories "
            "to the catalog"]


def unsold_categories(ctx: PlanContext) -> list[str]:
    """A warning per catalog promotion on a category the store has never sold (a typo, or a
    new category): its effect cannot have been measured on that category. Empty when the store
    has no categories at all (nothing to check against)."""
    from loyalist.response.data import share_column

    sold = _sold_share_columns(ctx)
    if sold is None or "category" not in ctx.catalog:
        return []
    names = sorted(col.removeprefix("share__") for col in sold)
    source = ctx.catalog.attrs.get("source", "catalog")
    out = []
    for name, cell in zip(ctx.catalog["name"], ctx.catalog["category"], strict=True):
        missing = [k for k in split_list(cell) if share_column(k) not in sold]
        if missing:
            out.append(f"{source}: promotion {name!r} is on {', '.join(map(repr, missing))}, "
                       "which this store has never sold (it sells "
                       f"{', '.join(names[:12])}{', ...' if len(names) > 12 else ''}): its "
                       "expected effect is the promotion's average, not measured on that "
                       "category; check the spelling before sending it")
    return out


def known_age(ctx: PlanContext) -> np.ndarray:
    c = ctx.customers
    return c[s.AGE].notna().to_numpy() if s.AGE in c else np.zeros(len(c), dtype=bool)


def no_age_text(ctx: PlanContext, constraints: Constraints, promo: str | None) -> str | None:
    """Why an age limit excludes everyone when no customer has a known age (None when some
    have one): an unknown age counts as under age."""
    if known_age(ctx).any() or not constraints.min_age:
        return None
    rules = ", ".join(f"{k} {v:g}" for k, v in constraints.min_age.items())
    where = f" in {constraints.source}" if constraints.source else ""
    text = (f"no customer has a known age (the customers loaded have no birth date or age), "
            f"and an unknown age counts as under age for min_age ({rules}){where}")
    cat = ctx.catalog.set_index("name")
    if promo is not None and promo in cat.index and "category" in cat \
            and not split_list(cat.at[promo, "category"]):
        text += f"; {promo} is on every category, so every age limit applies to it"
    return text + ("; load a customers file with a birth date (birth_date, Date of Birth, dob) "
                   "or an age column, or remove min_age")
