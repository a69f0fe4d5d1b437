"""Promotions behind the facade: the plan (its inputs read from the store, the response priors
and parameters), writing and saving it, its value against a generated scenario's truth, and the
response model's out-of-time evaluation.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from loyalist import jsontext, money
from loyalist import schema as s
from loyalist.errors import DataError, ParameterError
from loyalist.pipeline import fits
from loyalist.pipeline.store import (
    Progress,
    data_warnings,
    resolve_as_of,
    selling_days,
)
from loyalist.store import Store, currency

if TYPE_CHECKING:  # the promotion engine loads only when a plan is made
    from loyalist.promote.catalog import Constraints, PlanParams


log = logging.getLogger(__name__)

PLAN_FILES = ("plan.csv", "promotions.csv", "allocation.csv", "segments.csv",
              "sensitivity.csv", "sends.csv", "holdout.csv", "plan.json", "plan.png")


def _median_order_value(st: Store, ts: pd.Timestamp) -> float:
    """The median value of the customers' orders before ``ts`` (a plan's offers go to
    customers), from the per-order table when it is up to date, else from the lines (a store
    from an older version)."""
    from loyalist.features import orders

    if st.has_table(s.T_CUSTOMER_ORDERS) and orders.is_fresh(st.con):
        sql = (f"SELECT median(buy_amt) AS m FROM {s.T_CUSTOMER_ORDERS} "
               "WHERE ts < ? AND buy_amt > 0")
    else:
        sql = (f"SELECT median(v) AS m FROM (SELECT sum({s.AMOUNT}) AS v FROM "
               f"{s.T_TRANSACTIONS} WHERE {s.LINE_KIND} = 'sale' AND {s.QUANTITY} > 0 AND "
               f"NOT {s.IS_GUEST} AND "
               f"{s.ORDERED_AT} < ? GROUP BY {s.ORDER_ID}) WHERE v > 0")
    return st.query(sql, [ts.to_pydatetime()])["m"].iloc[0]


def forget_fits(store: Path | str | None = None) -> None:
    """Drop the response fits this process keeps and, with ``store``, the ones saved beside
    that store (:mod:`loyalist.pipeline.fits`): the next plan fits again."""
    fits.forget(store)


def plan_inputs(st: Store, ts: pd.Timestamp, *, catalog: Path | None = None,
                window_days: int | None = None, period_days: int = 30,
                priors: pd.DataFrame | None = None, progress: Progress | None = None,
                check: Callable[[pd.DataFrame], None] | None = None) -> dict[str, Any]:
    """Everything a plan reads from the store at ``ts``: catalog (file > store > generic),
    merchant context, customer scores and features, and the response model fitted at ``ts``
    with its predictions for every customer known at ``ts`` (a fit of exactly these inputs
    made earlier, in this process or by an earlier plan on this store, is reused:
    :mod:`loyalist.pipeline.fits`). ``priors``: checked rows replacing the documented priors'
    (:func:`load_priors`); ``priors`` in the result says which were used; ``progress`` is
    told whether the response model is fitted or reused; ``check`` is called with the catalog
    (its eligible_segments spelled as the store's) before the fit, to refuse a plan's options
    that do not fit it while that costs nothing."""
    from loyalist.promote.catalog import (
        catalog_points_rate,
        generic_catalog,
        load_catalog,
        normalise_catalog,
    )
    from loyalist.promote.eligibility import check_catalog_segments
    from loyalist.response import ResponseModel, build_training_set, response_features
    from loyalist.response.data import MAX_EXPOSURES, SAMPLE_NOTE, offer_item_prices
    from loyalist.response.priors import priors_note, with_overrides

    assumptions: list[str] = []
    generic = catalog is None and not st.has_rows(s.T_CATALOG)
    if catalog is not None:
        cat = load_catalog(catalog)
    elif not generic:
        cat = normalise_catalog(st.table(s.T_CATALOG).drop(columns=[s.LOAD_ID]),
                                source=f"store table {s.T_CATALOG}")
    else:
        median = _median_order_value(st, ts)
        cat, what = generic_catalog(None if pd.isna(median) else float(median))
        cat = normalise_catalog(cat, source="generic catalog")
        assumptions.append(what)
    unused = undescribed_history(st, ts, cat, generic)
    assumptions += cat.attrs.get("notes", [])
    competitors = st.table(s.T_COMPETITORS) if st.has_rows(s.T_COMPETITORS) else None
    inventory = st.table(s.T_INVENTORY) if st.has_rows(s.T_INVENTORY) else None
    from loyalist.evaluation.splits import check_observed

    check_observed(st.date_range()[1], ts)  # beyond the data, `train` would refuse it too
    if not st.has_table(s.T_SCORES) or st.query(
            f"SELECT count(*) AS n FROM {s.T_SCORES} WHERE as_of = ?",
            [ts.to_pydatetime()])["n"].iloc[0] == 0:
        latest = (st.query(f"SELECT max(as_of) AS d FROM {s.T_SCORES}")["d"].iloc[0]
                  if st.has_table(s.T_SCORES) else None)
        other = (f" (or plan at --as-of {pd.Timestamp(latest).date()}, where the latest scores "
                 "are)" if latest is not None and not pd.isna(latest) else "")
        raise DataError(f"{st.path}: no customer scores at as_of {ts.date()}; run `loyalist "
                        f"train --store {st.path} --as-of {ts.date()}` first{other}")
    scores = st.query(f"SELECT * FROM {s.T_SCORES} WHERE as_of = ?", [ts.to_pydatetime()])
    # a typo in eligible_segments is refused before the fit (minutes on a large store)
    if "rfm_segment" in scores:
        cat = check_catalog_segments(cat, {*scores["rfm_segment"].dropna().astype(str),
                                           s.NEW_SEGMENT})
    if check is not None:
        check(cat)
    prices = offer_item_prices(st, cat)
    points_rate, _ = catalog_points_rate(cat)  # the merchant's points value, else 3%
    key = fits.fit_key(st, ts, (cat, priors, sorted(prices.items()), window_days, points_rate,
                                MAX_EXPOSURES))
    fit = fits.kept(st.path, key)
    say = progress or (lambda _m: None)
    if fit is not None:
        say("reusing the promotion response model fitted for an earlier plan on the same "
            "data, catalog and priors")
    else:
        say("fitting the promotion response model")
        # the exposures of a sample of customers when there are many (MAX_EXPOSURES), sampled
        # before their features are built: on a 10M-line store building all 1.56M first took
        # most of the plan's time and 3 GB
        training = build_training_set(st, cutoff=ts, window_days=window_days,
                                      max_rows=MAX_EXPOSURES)
        model = ResponseModel(points_rate=points_rate, prior_table=None if priors is None
                              else with_overrides(priors)).fit(training, cat,
                                                               item_prices=prices)
        feats = response_features(st, ts, window_days=model.window_days_)
        fit = fits.ResponseFit.of(training, model, feats)
        fits.keep(st.path, key, fit)
    model = fit.model
    # the plan may add columns; the fit stays
    feats, pred = fit.features.copy(), fit.predictions.copy()
    assumptions += [n for n in fit.notes if n.startswith(SAMPLE_NOTE)]
    note, used_priors = priors_note(model.sources_, priors,
                                    use_rate_for=pred.attrs.get("use_rate_assumed", []),
                                    kinds=dict(zip(cat["name"].astype(str),
                                                   cat["kind"].astype(str), strict=True)))
    if note:
        assumptions.append(note)
    if pred.attrs.get("order_value_note"):  # how vouchers' top-ups were valued
        assumptions.append(pred.attrs["order_value_note"])
    cust = feats.set_index(s.CUSTOMER_ID)
    sc = scores.set_index(s.CUSTOMER_ID)
    cust = cust.join(sc[[c for c in ("rfm_segment", "churn_probability", "churn_tier", "reasons",
                                     "clv_expected", "p_alive") if c in sc]], how="left")
    cust["segment"] = cust["rfm_segment"].fillna(s.NEW_SEGMENT) \
        if "rfm_segment" in cust else "all"
    if st.has_rows(s.T_CUSTOMERS):
        extra = st.query(f"SELECT {s.CUSTOMER_ID}, {s.MARKETING_CONSENT}, {s.EMAIL_OPT_OUT} "
                         f"FROM {s.T_CUSTOMERS}").set_index(s.CUSTOMER_ID)
        cust = cust.join(extra, how="left")
    if st.has_rows(s.T_PROMOTIONS):
        last = st.query(f"""SELECT {s.CUSTOMER_ID}, max({s.SENT_AT}) AS last_contact_at
                            FROM {s.T_PROMOTIONS} WHERE {s.SENT_AT} < ?
                              AND {s.PROMOTION} <> '{s.CONTROL}' GROUP BY 1""",
                        [ts.to_pydatetime()]).set_index(s.CUSTOMER_ID)
        cust = cust.join(last, how="left")
    from loyalist.promote.season import (
        SEASON_UNKNOWN,
        closed_season,
        promotion_season_factors,
        seasonal_factor,
    )

    days, orders = selling_days(st, ts)
    daily = pd.Series(orders, index=pd.DatetimeIndex(days))
    if len(daily):
        daily = daily.reindex(pd.date_range(daily.index.min(), ts - pd.Timedelta(days=1)),
                              fill_value=0.0)
    season, season_note = seasonal_factor(daily, ts, period_days, list(fit.campaign_days),
                                          model.window_days_)
    by_promotion = promotion_season_factors(daily, ts, period_days, fit.promotion_days,
                                            model.window_days_)
    if season_note == SEASON_UNKNOWN:  # no factor applied, so no scaling step says it
        assumptions.append(season_note)
    return {"catalog": cat, "competitors": competitors, "inventory": inventory,
            "customers": cust, "predictions": pred, "model": model,
            "assumptions": assumptions, "priors": used_priors, "season_factor": season,
            # the history's promotions the catalog does not describe (a warning, or None)
            "unused_history": unused,
            "season_note": season_note,
            "promotion_season": by_promotion,
            "closed_season": closed_season(daily, ts, period_days)}


#: how :func:`undescribed_history`'s warning starts (``loyalist run`` shows it in its plan step)
UNUSED_HISTORY = "the promotion history sent"


def undescribed_history(st: Store, ts: pd.Timestamp, cat: pd.DataFrame,
                        generic: bool) -> str | None:
    """A warning when the promotion history sent promotions before ``ts`` that the catalog
    ``cat`` does not name: their measured response cannot be used (a plan needs each
    promotion's kind and value to cost it), and the plan falls back on the priors of the
    catalog's promotions. ``generic``: no catalog was given or loaded (the generic one is
    used). None when every promotion sent is in the catalog, or there is no history."""
    if not st.has_rows(s.T_PROMOTIONS):
        return None
    sent = st.query(f"""SELECT {s.PROMOTION} AS name, count(*) AS n FROM {s.T_PROMOTIONS}
                        WHERE {s.SENT_AT} < ? GROUP BY 1 ORDER BY n DESC, name""",
                    [ts.to_pydatetime()])
    held = bool((sent["name"] == s.CONTROL).any())  # hold-out rows: one scan with the sends
    names = {*cat["name"].astype(str), s.CONTROL}
    left = sent[~sent["name"].astype(str).isin(names)]
    if left.empty:
        return None
    shown = ", ".join(f"{r.name} ({r.n:,} sends)" for r in left.head(6).itertuples())
    more = f" and {len(left) - 6:,} more" if len(left) > 6 else ""
    whose = ("no promotion catalog was given or loaded, so" if generic else
             "the catalog does not name them, so")
    measured = " against hold-out groups" if held else ""
    return (f"{UNUSED_HISTORY} {len(left):,} promotion(s) the plan cannot use: "
            f"{shown}{more}; {whose} their response, measured{measured} in the history, is "
            "left out and the plan rests on assumed responses instead. Describe them in a "
            "catalog (one row each: name as in the history, kind (one of "
            f"{', '.join(s.PROMOTION_KINDS)}), value, contact_cost) and pass it with "
            "--catalog, or load it with `loyalist ingest catalog.csv --table "
            "promotion_catalog`")


def load_priors(priors: Path | str | pd.DataFrame | None) -> pd.DataFrame | None:
    """The checked rows of a priors file (``--priors``), or of a frame of them (the API's
    ``priors``; ``attrs["source"]`` names it), that replace the documented priors' own
    (:func:`loyalist.promote.catalog.normalise_priors`); None: the documented priors."""
    from loyalist.promote.catalog import load_priors as load_file
    from loyalist.promote.catalog import normalise_priors

    if priors is None:
        return None
    if isinstance(priors, pd.DataFrame):
        return normalise_priors(priors, source=str(priors.attrs.get("source", "priors")))
    return load_file(priors)


#: the first line of ``loyalist priors --out FILE``: what the columns mean
PRIORS_HEADER = (
    "# Loyalist's documented response priors, for promotions without a measured response "
    "(no history with a control group). kind: promotion kind ('default': kinds without rows "
    "of their own); segment: the customer's lifecycle at the plan date (new, active, lapsing, "
    "lost); incremental_prob: extra purchase probability in the response window (0-1); "
    "use_rate: share of buyers who use the offer (0-1). Keep the rows to change and pass the "
    "file with `loyalist plan --priors FILE`; rows left out keep these defaults.")


def prior_defaults(out: Path | None = None) -> dict[str, Any]:
    """The documented priors (:data:`loyalist.response.priors.PRIOR_TABLE`) as rows, and
    written to ``out`` (a CSV file, :data:`PRIORS_HEADER` first) when given."""
    from loyalist.response.priors import PRIOR_TABLE

    res: dict[str, Any] = {"priors": PRIOR_TABLE.to_dict(orient="records"),
                           "header": PRIORS_HEADER}
    if out is not None:
        if out.suffix.lower() != ".csv":
            raise ParameterError(f"--out {out}: the defaults are written as CSV; give a .csv "
                                 "file, e.g. --out priors.csv")
        if out.is_dir():
            raise ParameterError(f"--out {out}: a folder; give a .csv file, e.g. "
                                 f"--out {out / 'priors.csv'}")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(PRIORS_HEADER + "\n" + PRIOR_TABLE.to_csv(index=False))
        res["file"] = str(out)
    return res


def plan_params(budget: float | None, goal: str, period: int, *,
                budget_per_month: float | None = None, **kw: Any) -> PlanParams:
    """Checked :class:`~loyalist.promote.catalog.PlanParams` from the CLI / API options:
    exactly one of ``budget`` (the period's total) and ``budget_per_month``."""
    from loyalist.promote.catalog import PlanParams

    if budget is not None and budget_per_month is not None:
        raise ParameterError("--budget and --budget-per-month both given; give the period's "
                             "total with --budget or a monthly amount with --budget-per-month")
    if budget is None and budget_per_month is None:
        raise ParameterError("no budget given: pass --budget (the period's total) or "
                             "--budget-per-month")
    return PlanParams(budget=0.0 if budget is None else budget, goal=goal, period_days=period,
                      budget_per_month=budget_per_month, **kw).check()


def check_budget_currency(given: str | None, store_code: str | None, budget: float | None,
                          budget_per_month: float | None) -> None:
    """Refuse a budget typed in a currency (``--budget '5000 EUR'``, ``given``) other than
    the store's (:func:`loyalist.money.check_amount_code`)."""
    monthly = budget_per_month is not None
    money.check_amount_code(given, store_code, "--budget-per-month" if monthly else "--budget",
                            float((budget_per_month if monthly else budget) or 0.0))


def _check_segments(asked: Sequence[str], known: set[str], shown: set[str],
                    ts: pd.Timestamp) -> list[str]:
    """The ``asked`` segments as the ``known`` ones spell them, matched without letter case
    (``--segments champions``, as ``--clear`` takes a category); a ParameterError naming the
    first that is none of them, and the segments there are (``shown``)."""
    spelled = {k.casefold(): k for k in known}
    unknown = [g for g in asked if g.strip().casefold() not in spelled]
    if unknown:
        parts = [g.strip() for g in unknown[0].split(",")]
        each = (" (give each with its own --segments: "
                + " ".join(f"--segments {g!r}" for g in parts) + ")"
                if len(parts) > 1 and all(g.casefold() in spelled for g in parts) else "")
        raise ParameterError(f"--segments {unknown[0]!r} is not a segment at as_of {ts.date()}"
                             f"{each}; segments: {', '.join(sorted(shown))}")
    return [spelled[g.strip().casefold()] for g in asked]


def check_against_catalog(cat: pd.DataFrame, params: PlanParams, cons: Constraints) -> None:
    """Refuse, before the response model's fit (minutes on a large store), a plan's options
    that do not fit the catalog ``cat``: spend bounds on a promotion it lacks, target segments
    none of its promotions may go to."""
    from loyalist.promote.eligibility import check_target_segments

    cons.check_promotions(list(cat["name"]))
    check_target_segments(cat, params.segments)


def plan(store_path: Path, *, budget: float | None = None, goal: str = "retention",
         period: int = 30, segments: Sequence[str] | None = None, catalog: Path | None = None,
         constraints: Path | None = None, clear: Sequence[str] | None = None,
         max_segment_share: float | None = None, cooldown_days: int | None = None,
         as_of: str | None = None, out: Path | None = None, save: bool = True,
         offer_fit: bool = True, budget_per_month: float | None = None,
         progress: Progress | None = None, stale_check: bool = True,
         priors: Path | pd.DataFrame | None = None, holdout: float = 0.0,
         budget_currency: str | None = None) -> dict[str, Any]:
    """A budget-optimal promotion plan for ``goal`` over the next ``period`` days, written to
    ``out`` (see :data:`PLAN_FILES`) and to the store tables ``plans`` / ``plan_customers``.
    The budget is the period's total (``budget``) or an amount per 30-day month
    (``budget_per_month``: sends are scheduled so that no month spends more).
    ``offer_fit=False`` drops the offer-fit assumption (:func:`loyalist.promote.effects.offer_fit`).
    ``stale_check`` warns when the data end long before today (off for a generated scenario,
    whose end is its simulated present). ``priors``: a priors file (:func:`load_priors`) or
    a frame of its rows (``attrs["source"]`` names it in messages and in the assumptions).
    ``holdout``: the share of the chosen customers kept as a control group, not sent
    (``holdout.csv``; ``sends.csv`` lists both groups as promotion history to load after the
    campaign). ``budget_currency``: the currency the budget was typed in (``--budget '5000
    EUR'``), refused unless the store's."""
    from loyalist.promote.catalog import load_constraints
    from loyalist.promote.context import PlanContext
    from loyalist.promote.effects import match_categories
    from loyalist.promote.plan import make_plan

    say = progress or (lambda _m: None)
    params = plan_params(budget, goal, period, budget_per_month=budget_per_month,
                         segments=list(segments or []), clear_categories=list(clear or []),
                         offer_fit=offer_fit, holdout=holdout)
    cons = load_constraints(constraints, max_segment_share=max_segment_share,
                            cooldown_days=cooldown_days)
    overrides = load_priors(priors)
    t0 = time.perf_counter()
    with Store(store_path, read_only=True) as st:
        code = currency(st)
        check_budget_currency(budget_currency, code, budget, budget_per_month)
        ts = resolve_as_of(st, as_of)
        stale = data_warnings(st, ts) if stale_check else []
        clear_notes: list[str] = []
        if params.clear_categories:
            known = st.query(f"SELECT DISTINCT {s.CATEGORY} AS c FROM {s.T_LINES} "
                             f"WHERE {s.CATEGORY} IS NOT NULL")["c"].astype(str).tolist()
            params.clear_categories, clear_notes = match_categories(params.clear_categories,
                                                                    known)
        if params.segments and st.has_column(s.T_SCORES, "rfm_segment"):  # before the fit
            scored = set(st.query(f"SELECT DISTINCT rfm_segment AS g FROM {s.T_SCORES} "
                                  "WHERE as_of = ? AND rfm_segment IS NOT NULL",
                                  [ts.to_pydatetime()])["g"].astype(str))
            if scored:
                unscored = st.has_rows(s.T_CUSTOMERS) and st.query(
                    f"SELECT count(*) AS n FROM {s.T_CUSTOMERS} c WHERE NOT EXISTS (SELECT 1 "
                    f"FROM {s.T_SCORES} x WHERE x.as_of = ? AND x.{s.CUSTOMER_ID} = "
                    f"c.{s.CUSTOMER_ID})", [ts.to_pydatetime()])["n"].iloc[0] > 0
                params.segments = _check_segments(
                    params.segments, scored | {s.NEW_SEGMENT},
                    scored | ({s.NEW_SEGMENT} if unscored else set()), ts)
        inp = plan_inputs(st, ts, catalog=catalog, period_days=period, priors=overrides,
                          progress=say, check=lambda cat: check_against_catalog(
                              cat, params, cons))
    known = set(inp["customers"]["segment"].astype(str))
    params.segments = _check_segments(params.segments, known, known, ts)
    window = int(inp["model"].window_days_)
    if window != period:  # a 1-day plan's sends are followed over the same window as a 30-day's
        clear_notes.append(
            f"each send's effect is what its customer does in the {window} days after it (the "
            f"response window of the promotion history), whatever the period: the period "
            f"({period} days) sets when the sends go out, the budget's months and the "
            "season's scaling, not how long a send works")
    ctx = PlanContext(customers=inp["customers"], catalog=inp["catalog"], as_of=ts,
                      inventory=inp["inventory"], competitors=inp["competitors"],
                      assumptions=clear_notes + inp["assumptions"],
                      item_prices=dict(inp["model"].item_prices_),
                      season_factor=inp["season_factor"], season_note=inp["season_note"],
                      promotion_season=inp["promotion_season"],
                      closed_season=inp["closed_season"], currency=code)
    say("optimising the plan")
    res = make_plan(inp["predictions"], ctx, params, cons)
    summ = res["summary"]
    summ["warnings"] = [*summ.get("warnings", []), *stale,
                        *([inp["unused_history"]] if inp["unused_history"] else [])]
    summ["currency"] = code
    summ["constraints"] = cons.as_dict()
    summ["response_model"] = inp["model"].summary()
    summ["priors"] = inp["priors"]
    # the parameters and what they chose: the same plan re-made on the same data keeps its id
    # (and replaces its rows); another store's plan with the same parameters gets its own
    chose = res["customers"][[s.CUSTOMER_ID, "promotion"]]
    key = json.dumps({"as_of": str(ts), "params": params.__dict__, "constraints": cons.as_dict(),
                      "catalog": inp["catalog"].sort_values(s.NAME).to_dict(orient="records"),
                      "customers": len(inp["customers"]),
                      **({"priors": overrides.to_dict(orient="records")}
                         if overrides is not None else {}),
                      "chosen": hashlib.sha256(pd.util.hash_pandas_object(
                          chose, index=False).to_numpy().tobytes()).hexdigest()},
                     sort_keys=True, default=str)
    summ["plan_id"] = hashlib.sha256(key.encode()).hexdigest()[:12]
    summ["seconds"] = round(time.perf_counter() - t0, 2)
    if out is not None:
        summ["files"] = write_plan(res, out)
    done = {**res, "summary": summ, "context": ctx, "constraints": cons,
            "predictions": inp["predictions"], "as_of": ts}
    if save:
        save_plan(store_path, done)
    return done


def save_plan(store_path: Path, planned: dict[str, Any]) -> None:
    """Write a plan made by :func:`plan` (``save=False``) to the store tables ``plans`` and
    ``plan_customers``, replacing a plan of the same id: a server makes the plan while it
    still answers reads, and takes the store to itself only for this."""
    summ = planned["summary"]
    # without the files `--out` wrote: paths on the machine (and from the folder) the command
    # ran in, meaningless to the API and dashboard that serve the stored plan
    stored = {k: v for k, v in summ.items() if k != "files"}
    with Store(store_path) as st:
        st.write_frame(s.T_PLANS, pd.DataFrame({
            "plan_id": [summ["plan_id"]], "as_of": [planned["as_of"]],
            "goal": [summ["goal"]], "budget": [float(summ["budget"])],
            "summary": [jsontext.dumps(stored, indent=None)]}),
            replace_where="plan_id = ?", params=[summ["plan_id"]])
        st.write_frame(s.T_PLAN_CUSTOMERS,
                       planned["customers"].assign(plan_id=summ["plan_id"]),
                       replace_where="plan_id = ?", params=[summ["plan_id"]])
        st.write_frame(s.T_PLAN_SENDS, planned["sends"].assign(plan_id=summ["plan_id"]),
                       replace_where="plan_id = ?", params=[summ["plan_id"]])


def write_plan(res: dict[str, Any], out: Path) -> dict[str, str]:
    """The plan's tables (CSV, each with a ``currency`` column when the store's is known), its
    JSON and a picture of allocation and sensitivity."""
    from loyalist.promote.report import plot_plan

    out.mkdir(parents=True, exist_ok=True)
    files = {}
    code = res["summary"].get("currency")
    for name in ("customers", "promotions", "allocation", "segments", "sensitivity", "sends",
                 "holdout"):
        fname = "plan.csv" if name == "customers" else f"{name}.csv"
        if name == "holdout" and res["summary"].get("holdout") is None:
            (out / fname).unlink(missing_ok=True)  # not a stale one from an earlier plan
            continue
        frame = res[name]
        if code and name != "sends":  # sends.csv is promotion history to load: as it was
            frame = frame.assign(currency=code)
        frame.to_csv(out / fname, index=False)
        files[name] = str(out / fname)
    (out / "plan.json").write_text(jsontext.dumps(res["summary"]))
    files["json"] = str(out / "plan.json")
    plot_plan(res, out / "plan.png")
    files["plot"] = str(out / "plan.png")
    return files


def plan_against_truth(truth_file: Path, planned: dict[str, Any]) -> dict[str, Any]:
    """A generated scenario knows the truth: the plan's true value as a share of the oracle's,
    next to random targeting, cheapest-for-everyone and highest-churn-first; each against the
    oracle given its own true spend where that passes the budget (costs are predicted when a
    plan is made: :func:`loyalist.promote.evaluate.evaluate_against_truth`)."""
    from loyalist.promote.catalog import PlanParams
    from loyalist.promote.evaluate import evaluate_against_truth

    summ = planned["summary"]
    res = evaluate_against_truth(planned["predictions"], pd.read_parquet(truth_file),
                                 planned["context"],
                                 PlanParams(budget=summ["budget"], goal=summ["goal"],
                                            period_days=summ["period_days"]),
                                 planned["constraints"])
    return {k: v["share_of_oracle_at_its_spend"] for k, v in res.items()
            if k in ("model", "random", "cheapest_for_everyone", "highest_churn_first")}


def evaluate_promotions(store_path: Path, *, as_of: str | None = None, out: Path | None = None,
                        progress: Progress | None = None) -> dict[str, Any]:
    """The promotion response model judged out of time: trained on the campaigns before
    ``as_of`` (default: all but the last three with a complete response window), tested on the
    later ones against "highest churn risk first" and random targeting
    (:func:`loyalist.evaluation.promotions.evaluate_promotions`). With ``out``: the card
    (markdown and HTML), the JSON and the Qini curves (``paths``). The store is only read."""
    from loyalist.evaluation import promotions as ev

    say = progress or (lambda _m: None)
    started = time.perf_counter()
    with Store(store_path, read_only=True) as st:
        ts, _ = ev.check_history(st, as_of=as_of)  # refused before the work is announced
        say(f"training the response model on the campaigns before {ts.date()}, testing it on "
            "those sent from then")
        res = ev.evaluate_promotions(st, as_of=ts)
        if out is not None:
            say("scoring the test campaigns again for the Qini curves")
            res["curves"] = ev.qini_curves(st, res)
    res["paths"] = ({k: str(v) for k, v in ev.write_promotion_card(res, out).items()}
                    if out is not None else {})
    res["seconds"] = round(time.perf_counter() - started, 2)
    return res


def stored_plan_customers(st: Store, plan_id: str) -> pd.DataFrame | None:
    """The customer rows of the plan ``plan_id`` saved in the store (``plan_customers``),
    None when there is no such plan."""
    if not st.has_table(s.T_PLAN_CUSTOMERS):
        return None
    got = st.query(f"SELECT * FROM {s.T_PLAN_CUSTOMERS} WHERE plan_id = ?", [plan_id])
    return got.astype({s.CUSTOMER_ID: str}) if len(got) else None


def no_such_plan(st: Store, plan: str, looked: str) -> DataError:
    """The error for a plan not found, naming the latest plans saved in the store."""
    saved = (st.query(f"SELECT plan_id FROM {s.T_PLANS} ORDER BY as_of DESC, rowid DESC "
                      "LIMIT 3")["plan_id"].tolist() if st.has_table(s.T_PLANS) else [])
    hint = f" (the latest saved: {', '.join(saved)})" if saved else " (none is saved)"
    return DataError(f"{plan}: {looked}{hint}")


def read_plan_customers(st: Store, plan: str) -> pd.DataFrame:
    """A plan's customer rows: ``plan`` is a folder ``loyalist plan --out`` wrote (its
    ``plan.csv``), a plan CSV, or the id of a plan saved in the store
    (:func:`stored_plan_customers`). A DataError says what ``plan`` was looked for as."""
    path = Path(plan)
    if path.is_dir():
        path = path / "plan.csv"
    if path.is_file():
        try:
            got = pd.read_csv(path, dtype={s.CUSTOMER_ID: str})
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
            raise DataError(f"--plan {path}: not a readable CSV ({e}); give the folder "
                            "`loyalist plan --out` wrote") from None
        missing = {s.CUSTOMER_ID, "promotion"} - set(got.columns)
        if missing:
            raise DataError(f"--plan {path}: no column {', '.join(sorted(missing))}; give the "
                            "plan.csv `loyalist plan --out` wrote")
        return got
    got = stored_plan_customers(st, plan)
    if got is None:
        raise no_such_plan(st, f"--plan {plan}", "no such folder or file, and no plan of that "
                           "id in the store; give the folder `loyalist plan --out` wrote, or "
                           "a saved plan's id")
    return got


def campaign_results(store_path: Path, *, sent_from: str | None = None,
                     sent_to: str | None = None, window_days: int | None = None,
                     plan: str | None = None, as_of: str | None = None,
                     out: Path | None = None, progress: Progress | None = None
                     ) -> dict[str, Any]:
    """What each promotion of a campaign made against its hold-out
    (:func:`loyalist.response.results.campaign_results`): the latest send day, or those from
    ``sent_from`` to ``sent_to``; with ``plan`` (see :func:`read_plan_customers`), the plan's
    predictions beside, and its send days by default; ``as_of``: as if the data ended there.
    With ``out``: the card, CSV, JSON and picture (``paths``). The store is only read."""
    from loyalist.evaluation.campaign import write_campaign_card
    from loyalist.response.results import campaign_results as results

    say = progress or (lambda _m: None)
    started = time.perf_counter()
    with Store(store_path, read_only=True) as st:
        planned = read_plan_customers(st, plan) if plan is not None else None
        say("reading the campaign's sends, hold-out and their purchases in the window")
        res = results(st, sent_from=sent_from, sent_to=sent_to, window_days=window_days,
                      plan=planned, as_of=as_of)
    res["paths"] = ({k: str(v) for k, v in write_campaign_card(res, out).items()}
                    if out is not None else {})
    res["seconds"] = round(time.perf_counter() - started, 2)
    return res
