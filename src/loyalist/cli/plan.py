"""``loyalist plan``: a budget-optimal promotion plan for the merchant's goal."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from loyalist.cli.lazy import lazy
from loyalist.cli.options import (
    MONEY,
    Amount,
    JsonOpt,
    OutOpt,
    StoreOpt,
    amount_code,
    amount_value,
    one_of,
)
from loyalist.names import DEFAULT_STORE, GOAL_ALIASES, GOALS

pipeline = lazy("loyalist.pipeline")

#: ``--priors`` of ``loyalist plan`` and ``loyalist run``
PriorsOpt = Annotated[Path | None, typer.Option(
    "--priors", help="Response priors file (CSV/TOML/YAML/JSON rows of kind, segment, "
    "incremental_prob, use_rate) for promotions without a measured response: its rows replace "
    "the documented defaults' (`loyalist priors` prints them), the rows it leaves out keep "
    "their default. Its segments are lifecycle ones (new, active, lapsing, lost: days since "
    "the last purchase against the customer's usual gap), not the RFM segments of the same "
    "names.")]


def plan(
    store: StoreOpt = Path(DEFAULT_STORE),
    budget: Annotated[Amount | None, typer.Option(
        **MONEY, help="Total budget for the period (default 5000 unless "
        "--budget-per-month), e.g. 5000, 5k, 5,000 or 5000 EUR.")] = None,
    budget_per_month: Annotated[Amount | None, typer.Option(
        "--budget-per-month", **MONEY, help="Budget per 30-day month instead of a "
        "total: the period's budget is this x its months, and sends are scheduled so that no "
        "month spends more.")] = None,
    goal: Annotated[str, typer.Option(
        help=one_of(GOALS, "What the plan maximises") + " "
        + one_of(GOAL_ALIASES, "Also accepted"))] = "retention",
    period: Annotated[int | None, typer.Option(
        help="Planning period in days (default 30, or --months x 30).")] = None,
    months: Annotated[int | None, typer.Option(
        "--months", help="Planning period in 30-day months (instead of --period).")] = None,
    segments: Annotated[list[str] | None, typer.Option(
        "--segments", help="Target only these segments (repeatable; letter case ignored).")
    ] = None,
    catalog: Annotated[Path | None, typer.Option(
        help="Promotion catalog (TOML, YAML, JSON or CSV); default: the store's, else a "
             "generic one.")
    ] = None,
    constraints: Annotated[Path | None, typer.Option(
        help="Constraints file (TOML/YAML/JSON): min/max spend, segment caps, cool-down, "
             "minimum age, inventory caps.")] = None,
    clear: Annotated[list[str] | None, typer.Option(
        "--clear", help="Category to clear (goal clear_inventory, or profit's overstock "
                        "credit; repeatable; letter case ignored; default: the inventory's "
                        "overstocked ones).")] = None,
    max_segment_share: Annotated[float | None, typer.Option(
        help="Most of the budget any one segment may get (0-1).")] = None,
    cooldown: Annotated[int | None, typer.Option(
        "--cooldown", help="Skip customers contacted in the last N days.")] = None,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="Plan from this date (default: the day after the last sale).")] = None,
    offer_fit: Annotated[bool, typer.Option(
        "--offer-fit/--no-offer-fit",
        help="Assume a promotion works better on customers it fits (its categories, its value "
             "against their basket); listed in the plan's assumptions.")] = True,
    priors: PriorsOpt = None,
    holdout: Annotated[float, typer.Option(
        "--holdout", help="Share of the chosen customers (0-0.5, e.g. 0.1) kept as a control "
        "group and not sent, drawn at random within each promotion x segment, to measure what "
        "the plan made: they go to holdout.csv, and sends.csv lists both groups as promotion "
        "history to load after the campaign.")] = 0.0,
    out_dir: OutOpt = Path("out/plan"),
    as_json: JsonOpt = False,
) -> None:
    """Choose which promotion to send to whom under the budget, for the goal, with expected
    outcomes, ROI, confidence and a proven optimality gap. The response model fitted for a
    plan is saved beside the store (STORE.fits/) and reused by the next plan while the store's
    data, the catalog and the priors are unchanged; delete that folder to fit again.

    Examples:

      loyalist plan --store shop.duckdb --budget 5000 --goal retention --period 30 --out plan/

      loyalist plan --budget 2000 --goal revenue --segments "At Risk" --segments Champions

      loyalist plan --budget-per-month 2000 --months 3 --goal profit

      loyalist plan --goal clear_inventory --clear outerwear --constraints limits.toml --json

      loyalist plan --budget 2000 --priors my_priors.csv   (rows from `loyalist priors`)

      loyalist plan --budget 5000 --goal revenue --holdout 0.1   (then, after the campaign:
      loyalist ingest out/plan/sends.csv --table promotions)
    """
    from loyalist import money
    from loyalist.cli.main import emit_json, out, progress
    from loyalist.promote.catalog import amount_text, gap_text, roi_text
    from loyalist.promote.explain import spend_range_text

    period = _period(period, months)
    total, per_month = amount_value(budget), amount_value(budget_per_month)
    if total is None and per_month is None:
        total = 5000.0
    check_spend_limits(constraints, total, per_month, period, goal)
    res = pipeline.plan(store, budget=total, budget_per_month=per_month, goal=goal,
                        period=period, segments=segments, budget_currency=amount_code(
                            budget, budget_per_month),
                        catalog=catalog, constraints=constraints, clear=clear,
                        max_segment_share=max_segment_share, cooldown_days=cooldown,
                        as_of=as_of, out=out_dir, offer_fit=offer_fit,
                        progress=progress(as_json), priors=priors, holdout=holdout)
    summ = res["summary"]
    if as_json:
        emit_json(summ)
        return
    opt = summ["optimizer"]
    code = summ.get("currency")
    interval = (f"(80%: {summ['incremental_revenue_lo80']:,.0f} to "
                f"{money.whole(summ['incremental_revenue_hi80'], code)})")
    # the revenue goal's value is the incremental revenue: said once
    revenue = (f" {interval}" if summ["goal"] == "revenue" else
               f"; incremental revenue {summ['incremental_revenue']:,.0f} {interval}")
    clearing = (f", clearing {', '.join(summ['categories_to_clear'])}"
                if summ.get("categories_to_clear") else "")
    out.print(f"plan {summ['plan_id']} ({summ['goal']}{clearing}, {summ['period_days']} days "
              f"from {summ['as_of']}): spend {amount_text(summ['spend'])}"
              f"{spend_range_text(summ)} of {money.amount(summ['budget'], code)} on "
              f"{summ['customers_targeted']:,} customers; expected {_goal_value(summ)}"
              f"{revenue}; net profit {money.whole(summ['net_profit'], code)}, "
              f"ROI {roi_text(summ['roi'])}; "
              f"confidence {summ['confidence']}; optimality gap {gap_text(opt['gap'])} "
              f"({opt['method']})")
    held = summ.get("holdout")
    if held:
        out.print(f"  hold-out: {held['customers']:,} chosen customers ({held['share']:.0%}) "
                  "kept as a control group, not sent (holdout.csv; sends.csv lists both groups "
                  "as promotion history)")
    empty = summ.get("empty_reason")
    if empty:  # one line saying why, instead of an empty table
        out.print(f"[yellow]nobody targeted: {escape(empty)}[/yellow]")
    if summ["promotions"]:
        out.print(_promotions_table(summ["promotions"][:15], code))
    for w in summ.get("warnings", []):
        if w != empty:
            out.print(f"[yellow]warning: {escape(w)}[/yellow]")
    if len(summ.get("months", [])) > 1:
        out.print("  by month: " + "; ".join(
            f"{m['from']}: {m['customers']:,} customers, {amount_text(m['spend'])} of "
            f"{money.amount(m['budget'], code)}" for m in summ["months"]))
    for r in summ["promotions"][:3]:
        out.print(f"  {escape(r['rationale'])}")
    for a in summ["assumptions"][:SHOWN_ASSUMPTIONS]:
        out.print(f"  assumption: {escape(a)}")
    more = len(summ["assumptions"]) - SHOWN_ASSUMPTIONS
    if more > 0:
        out.print(f"  ... and {more} more assumption(s) in plan.json (`assumptions`; "
                  "--json prints them all)")
    for k, p in summ.get("files", {}).items():
        out.print(f"  {k}: {p}")


#: assumptions printed on the console (the plan's own first; plan.json has them all)
SHOWN_ASSUMPTIONS = 6


def priors(
    out_file: Annotated[Path | None, typer.Option(
        "--out", help="Write them to this CSV file (a first line says what the columns "
        "mean) to edit and pass to `loyalist plan --priors`.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Show the documented response priors: per promotion kind x customer lifecycle segment,
    the extra purchase probability and the share of buyers using the offer, assumed for
    promotions without a measured response.

    Examples:

      loyalist priors

      loyalist priors --out priors.csv   (edit, keep the rows to change, then
      loyalist plan --priors priors.csv)
    """
    from loyalist.cli.main import emit_json, out

    res = pipeline.prior_defaults(out_file)
    if as_json:
        emit_json(res)
        return
    out.print(escape(res["header"][2:]), highlight=False)
    t = Table(header_style="bold")
    for c in ("kind", "segment", "incremental_prob", "use_rate"):
        t.add_column(c, justify="left" if c in ("kind", "segment") else "right")
    for r in res["priors"]:
        t.add_row(r["kind"], r["segment"], f"{r['incremental_prob']:g}", f"{r['use_rate']:g}")
    out.print(t)
    if "file" in res:
        out.print(f"  priors: {res['file']}")


def targeted_text(pl: dict) -> str:
    """Whom a plan reached, of whom: "766 of 1,000 customers (234 not eligible: no consent
    or opted out)"; the customers considered are every customer known at the as_of, those
    never seen buying included (a plan can target more customers than have features)."""
    known = pl.get("customers_considered")
    text = (f"{pl['customers_targeted']:,} of {known:,} customers" if known is not None
            else f"{pl['customers_targeted']:,} customers")
    # customer-wide rules only: an age limit excludes a customer from one promotion
    ex = {k: v for k, v in (pl.get("excluded") or {}).items()
          if v and not k.startswith("under_age_")}
    if len(ex) == 1:
        ((rule, n),) = ex.items()
        text += f" ({n:,} not eligible: {rule.replace('_', ' ')})"
    elif ex:
        text += (f" ({sum(ex.values()):,} not eligible: "
                 + ", ".join(f"{v:,} {k.replace('_', ' ')}" for k, v in ex.items()) + ")")
    return text


def short_line(pl: dict) -> str:
    """A plan in one line (``loyalist demo``), its budget in the words the plan was asked
    for: "budget 5,000 a month" for a budget per month."""
    from loyalist.money import amount, whole
    from loyalist.promote.catalog import roi_text
    from loyalist.promote.explain import spend_range_text

    code = pl.get("currency")
    budget = (f"{amount(pl['budget_per_month'], code)} a month"
              if pl.get("budget_per_month") is not None else amount(pl["budget"], code))
    return (f"plan ({pl['goal']}, budget {budget}): {targeted_text(pl)}, "
            f"spend {amount(pl['spend'], code)}{spend_range_text(pl)}, incremental revenue "
            f"{whole(pl['incremental_revenue'], code)}, ROI {roi_text(pl['roi'])}, confidence "
            f"{pl['confidence']}")


def check_spend_limits(constraints: Path | None, budget: float | None,
                       budget_per_month: float | None, period: int, goal: str) -> None:
    """Refuse, before anything is loaded, a constraints file whose minimum spends no plan can
    meet: a min_spend above its max_spend, or min_spends adding up to more than the budget
    (``loyalist plan`` and ``loyalist run --budget``). Other problems with the options are
    left to the pipeline, which says them in the same words."""
    from loyalist.errors import LoyalistError
    from loyalist.promote.catalog import load_constraints

    if constraints is None or not Path(constraints).is_file():
        return
    cons = load_constraints(constraints)
    if budget is None and budget_per_month is None:
        return
    try:
        params = pipeline.plan_params(budget, goal, period, budget_per_month=budget_per_month)
    except LoyalistError:
        return
    cons.check_spend(params.budget)


def _goal_value(summ: dict) -> str:
    """'16.7 customers kept (51.54 of spend each)' / '1,234 GBP of incremental revenue' (the
    store's currency before an amount's unit)."""
    from loyalist.promote.catalog import COUNT_GOALS, GOAL_UNITS
    from loyalist.promote.explain import goal_value_text

    each = summ.get("cost_per_goal_unit")
    activated = summ.get("goal_value_activated")
    unit = summ.get("goal_unit")
    if summ["goal"] not in COUNT_GOALS and summ.get("currency"):
        unit = f"{summ['currency']} {unit or GOAL_UNITS[summ['goal']]}"
    if activated:  # first purchases are no customers kept: said apart
        text = (goal_value_text(summ["goal"], summ["goal_value"] - activated, unit)
                + f" and {activated:,.1f} activated (a first purchase)")
    else:
        text = goal_value_text(summ["goal"], summ["goal_value"], unit)
    return text + (f" ({each:,.2f} of spend each)" if each is not None else "")


def _promotions_table(rows: list[dict[str, Any]], code: str | None) -> Table:
    """The ranked promotions as the console prints them: each promotion's name whole (a
    framed table cut 'voucher_0.92' and 'free_shipping' to 'voucher_…' and 'free_shi…' on
    an 80-column terminal, so the rows of two vouchers could not be told apart); the
    segment wraps instead (:mod:`loyalist.cli.tables`)."""
    from loyalist import money
    from loyalist.cli.tables import compact_table, whole
    from loyalist.promote.catalog import amount_text, roi_text

    # the currency once, in the title: in each amount's header it took 12 columns
    t = compact_table(money.label("ranked promotions, amounts", code) if code else
                      "ranked promotions")
    for c in ("#", "promotion", "segment", "customers", "particip.", "revenue", "cost", "ROI"):
        # the promotion whole, every number whole; a segment of two words may wrap
        keep = (whole([r["promotion"] for r in rows], c) if c == "promotion" else
                {"min_width": 12} if c == "segment" else {"no_wrap": True})
        t.add_column(c, justify="left" if c in ("promotion", "segment") else "right", **keep)
    for r in rows:
        t.add_row(str(r["rank"]), r["promotion"], r["target_segment"], f"{r['customers']:,}",
                  f"{r['participation']:.0%}", amount_text(r["incremental_revenue"]),
                  amount_text(r["cost"]), "" if r["roi"] is None else roi_text(r["roi"]))
    return t


def _period(period: int | None, months: int | None) -> int:
    """The planning period in days from ``--period`` or ``--months`` (30-day months)."""
    from loyalist.errors import ParameterError
    from loyalist.promote.catalog import MONTH_DAYS

    if months is None:
        return 30 if period is None else period
    if not 1 <= months <= 12:
        raise ParameterError(f"--months {months} is impossible; give 1 to 12 months")
    if period is not None and period != months * MONTH_DAYS:
        raise ParameterError(f"--period {period} and --months {months} disagree; give one of "
                             f"them (--months {months} is {months * MONTH_DAYS} days)")
    return months * MONTH_DAYS
