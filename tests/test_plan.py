"""The promotion plan end to end on a generated scenario: outputs and their contract, quality
against the generator's truth, eligibility, merchant context moving the plan the right way,
infeasible and bad inputs."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from plan_support import fresh_warnings, generated_merchant, strict_json
from typer.testing import CliRunner

from loyalist import pipeline
from loyalist import schema as s
from loyalist.cli.main import app
from loyalist.errors import DataError, InfeasibleError, LoyalistError, ParameterError
from loyalist.money import amount, amount_text
from loyalist.promote.catalog import Constraints, PlanParams, generic_catalog, load_constraints
from loyalist.promote.context import PlanContext
from loyalist.promote.eligibility import check_catalog_segments
from loyalist.promote.evaluate import evaluate_against_truth
from loyalist.promote.explain import spend_range_text
from loyalist.promote.instance import build_instance, cap_allows, meet_inventory_caps
from loyalist.promote.optimize import Problem, Solution, solve
from loyalist.promote.plan import make_plan
from loyalist.promote.selection import PRICED_REDEMPTIONS
from loyalist.store import Store

pytestmark = pytest.mark.xdist_group("plan")


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A fashion merchant (3,000 customers, 18 months) with customer models trained, and the
    plan inputs read once."""
    return generated_merchant(tmp_path_factory.mktemp("plan"), "fashion", seed=11)


def _ctx(sc: dict, **over: object) -> PlanContext:
    inp = sc["inp"]
    kw = {"customers": inp["customers"], "catalog": inp["catalog"], "as_of": sc["as_of"],
          "inventory": inp["inventory"], "competitors": inp["competitors"]}
    kw.update(over)
    return PlanContext(**kw)  # type: ignore[arg-type]


def test_the_console_shows_every_promotion_name_whole() -> None:
    """The ranked promotions' framed table cut 'voucher_0.92' and 'free_shipping' to
    'voucher_…' and 'free_shi…' on an 80-column terminal: two vouchers' rows looked alike."""
    from rich.console import Console

    from loyalist.cli.plan import _promotions_table

    names = ["voucher_0.92", "voucher_0.95", "free_shipping", "accessory_bundle_15",
             "winter_clearance_30"]
    rows = [{"rank": k + 1, "promotion": n, "target_segment": seg, "customers": 1_234,
             "participation": 0.42, "incremental_revenue": 12_345.6, "cost": 1_234.5,
             "roi": 1.5}
            for k, (n, seg) in enumerate(zip(names, ["New (no purchase yet)", "Champions",
                                                     "Potential Loyalist", "At Risk",
                                                     "Can't Lose Them"], strict=True))]
    con = Console(width=80, record=True)
    con.print(_promotions_table(rows, "EUR"))
    text = con.export_text()
    assert "…" not in text and max(len(line) for line in text.splitlines()) <= 80
    assert all(n in text for n in names) and "amounts (EUR)" in text
    lines = [x for x in text.splitlines() if x.split()[:1] and x.split()[0].isdigit()]
    assert len(lines) == 5 and all(x.split()[-4:] == ["42%", "12,346", "1,234", "150%"]
                                   for x in lines), lines


def test_plan_cli_json_and_files(scenario: dict, tmp_path: Path) -> None:
    r = CliRunner().invoke(app, ["plan", "--store", str(scenario["store"]), "--budget", "3000",
                                 "--goal", "retention", "--period", "30", "--out",
                                 str(tmp_path), "--json"])
    assert r.exit_code == 0, r.output
    doc = strict_json(r.stdout)
    # valid JSON: the zero-budget point's value per spend is null, not a bare NaN (I6)
    assert strict_json((tmp_path / "plan.json").read_text())["sensitivity"] == doc["sensitivity"]
    assert doc["sensitivity"][0]["spend"] == 0 and doc["sensitivity"][0]["value_per_spend"] is None
    for key in ("budget", "goal", "spend", "expected_value", "roi", "promotions",
                "customers_targeted", "sensitivity", "assumptions"):
        assert key in doc, key
    assert doc["budget"] == 3000 and doc["goal"] == "retention"
    assert 0 < doc["spend"] <= 3000 + 1e-6
    assert doc["spend_lo80"] < doc["spend"] < doc["spend_hi80"]
    # the catalog's voucher has a threshold: how single orders spread around it is stated
    assert any("one order's value varies around the customer's mean" in a
               for a in doc["assumptions"])
    # (the generated history ends 2025-12-31: past 90 days before today it is said to be stale)
    assert doc["optimizer"]["gap"] < 1e-3 and fresh_warnings(doc["warnings"]) == []
    assert len(doc["sensitivity"]) == 12
    values = [p["value"] for p in doc["sensitivity"]]
    assert values == sorted(values)  # more budget never hurts
    plan = pd.read_csv(tmp_path / "plan.csv")
    assert list(plan.columns[:7]) == [s.CUSTOMER_ID, "promotion", "target_segment",
                                      "expected_incremental_value", "expected_cost",
                                      "probability", "incremental_prob"]
    assert plan[s.CUSTOMER_ID].is_unique and len(plan) == doc["customers_targeted"]
    assert abs(plan["expected_cost"].sum() - doc["spend"]) < 1e-6
    assert {"priority", "reasons", "incremental_revenue_lo80", "incremental_revenue_hi80"} \
        <= set(plan.columns)
    # the probability of buying with the offer includes the chance to buy because of it
    assert (plan["probability"] >= plan["incremental_prob"] - 1e-12).all()
    first = doc["promotions"][0]
    assert first["rank"] == 1 and first["rationale"].startswith("Send ")
    assert (tmp_path / "plan.png").stat().st_size > 10_000
    with Store(scenario["store"], read_only=True) as st:
        stored = st.query("SELECT * FROM plans WHERE plan_id = ?", [doc["plan_id"]])
    assert len(stored) == 1 and json.loads(stored["summary"].iloc[0])["spend"] == doc["spend"]
    # exploratory report 7, I11: the files --out wrote are the CLI's; the stored plan, which
    # GET /plans/{id} serves, does not name paths on the machine the command ran on
    assert doc["files"]["json"] == str(tmp_path / "plan.json")
    assert "files" not in json.loads(stored["summary"].iloc[0])


def test_plan_cli_can_drop_the_offer_fit_assumption(scenario: dict, tmp_path: Path) -> None:
    """The offer fit is an assumption: the plan lists it, and --no-offer-fit drops it."""
    docs = {}
    for flag in ("--offer-fit", "--no-offer-fit"):
        r = CliRunner().invoke(app, ["plan", "--store", str(scenario["store"]), "--budget",
                                     "3000", "--goal", "retention", flag, "--out",
                                     str(tmp_path / flag), "--json"])
        assert r.exit_code == 0, r.output
        docs[flag] = json.loads(r.stdout)
    fit = [a for a in docs["--offer-fit"]["assumptions"] if a.startswith("offer fit")]
    assert len(fit) == 1 and "share of spend" in fit[0]
    assert not any(a.startswith("offer fit") for a in docs["--no-offer-fit"]["assumptions"])
    assert docs["--offer-fit"]["expected_value"] != docs["--no-offer-fit"]["expected_value"]


def test_plan_cli_says_roi_as_a_percent_and_revenue_once(scenario: dict, tmp_path: Path
                                                          ) -> None:
    """Exploratory report 7, I11: the CLI printed ROI as a ratio ("ROI 1.40") where the report
    and dashboard print 140%, and for the revenue goal the same revenue twice ("expected 9,615
    of incremental revenue; incremental revenue 9,615"); the demo said "budget 5,000 a month"
    and then "budget 5,000"."""
    from loyalist.cli.plan import short_line, targeted_text
    from loyalist.promote.catalog import roi_text
    from loyalist.report.html import ratio_pct

    r = CliRunner().invoke(app, ["plan", "--store", str(scenario["store"]), "--budget", "3000",
                                 "--goal", "revenue", "--out", str(tmp_path)])
    assert r.exit_code == 0, r.output
    text = " ".join(r.output.split())
    doc = json.loads((tmp_path / "plan.json").read_text())
    rev = f"{doc['incremental_revenue']:,.0f}"
    assert doc["currency"] == "USD"  # the generated store's (scenario.json)
    assert f"expected {rev} USD of incremental revenue (80%: " in text
    assert (f"spend {doc['spend']:,.0f} (80%: {doc['spend_lo80']:,.0f} to "
            f"{doc['spend_hi80']:,.0f}) of {doc['budget']:,.0f} USD on ") in text
    assert text.count(f" {rev} ") + text.count(f" {rev};") == 1
    assert f"ROI {100 * doc['roi']:,.0f}%;" in text
    first = doc["promotions"][0]
    # the table's cost and ROI cells side by side (a space apart; ' │ ' in a framed table)
    assert re.search(rf" {first['cost']:,.0f} (│ )?{100 * first['roi']:,.0f}%( |$)", text)
    assert roi_text(1.398) == ratio_pct(1.398) == "140%" and roi_text(None) == "n/a"
    assert roi_text(-0.25) == "-25%" and roi_text(float("nan")) == "n/a"
    line = short_line({"goal": "clear_inventory", "budget": 5000.0, "budget_per_month": 5000.0,
                       "customers_targeted": 766, "spend": 3264.6, "incremental_revenue":
                       10768.4, "roi": 1.398, "confidence": "medium"})
    assert line == ("plan (clear_inventory, budget 5,000 a month): 766 customers, spend 3,265, "
                    "incremental revenue 10,768, ROI 140%, confidence medium")
    assert short_line({"goal": "revenue", "budget": 5000.0, "customers_targeted": 766,
                       "spend": 3264.6, "incremental_revenue": 10768.4, "roi": 1.398,
                       "confidence": "medium", "currency": "EUR"}) == (
        "plan (revenue, budget 5,000 EUR): 766 customers, spend 3,265 EUR, incremental revenue "
        "10,768 EUR, ROI 140%, confidence medium")
    assert "spend 3,265 EUR (80%: 2,810 to 3,702), incremental" in short_line(
        {"goal": "revenue", "budget": 5000.0, "customers_targeted": 766, "spend": 3264.6,
         "spend_lo80": 2810.2, "spend_hi80": 3701.9, "incremental_revenue": 10768.4,
         "roi": 1.398, "confidence": "medium", "currency": "EUR"})
    # whom of whom (exploratory report 6, finding 16: the demo said "745 customers with
    # features" and then targeted 766): every customer known, and who could not be sent
    # anything; an age limit bars a promotion, not the customer, and is not counted
    assert short_line({"goal": "retention", "budget": 5000.0, "customers_targeted": 766,
                       "customers_considered": 1000, "excluded": {
                           "no_consent_or_opted_out": 234, "cooldown": 0,
                           "under_age_cigars": 12}, "spend": 3264.6,
                       "incremental_revenue": 10768.4, "roi": 1.398,
                       "confidence": "medium"}).startswith(
        "plan (retention, budget 5,000): 766 of 1,000 customers (234 not eligible: no "
        "consent or opted out), spend 3,265, ")
    assert targeted_text({"customers_targeted": 700, "customers_considered": 1000,
                          "excluded": {"no_consent_or_opted_out": 234, "cooldown": 66}}) == (
        "700 of 1,000 customers (300 not eligible: 234 no consent or opted out, 66 cooldown)")


def test_clear_names_a_category_of_the_store(scenario: dict, tmp_path: Path) -> None:
    """Exploratory report 7, I8: `--clear Knitwear` (the store has knitwear) and `--clear
    socks` (no such category) gave an empty plan and exit 0; `--clear` with a goal that does
    not use it was silently ignored. Now a name is matched without letter case, and said so;
    an unknown one, or one with another goal, is one line and exit 2, and nothing is stored."""
    from loyalist.promote.effects import match_categories

    store = scenario["store"]
    def stored() -> int:
        with Store(store, read_only=True) as st:
            return int(st.query(f"SELECT count(*) AS n FROM {s.T_PLANS}")["n"].iloc[0]) \
                if st.has_table(s.T_PLANS) else 0

    plans = stored()

    def run(*args: str) -> object:
        return CliRunner().invoke(app, ["plan", "--store", str(store), "--budget", "500",
                                        "--out", str(tmp_path), *args])

    r = run("--goal", "clear_inventory", "--clear", "socks")
    assert r.exit_code != 0 and isinstance(r.exception, ParameterError)
    assert str(r.exception) == ("--clear 'socks' is not a category of this store; its 6 "
                                "categories: accessories, denim, dresses, knitwear, outerwear, "
                                "shoes")
    r = run("--goal", "revenue", "--clear", "knitwear")
    assert r.exit_code != 0 and isinstance(r.exception, ParameterError)
    assert str(r.exception).startswith("--clear 'knitwear' is used only by the goals "
                                       "clear_inventory and profit")
    assert stored() == plans
    r = run("--goal", "clear_inventory", "--clear", "Knitwear", "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["customers_targeted"] > 0 and doc["goal_value"] > 0
    assert ("--clear 'Knitwear' taken as this store's category 'knitwear' (matched without "
            "letter case)") in doc["assumptions"]
    assert any(a.startswith("categories to clear: knitwear; their revenue counts 25% extra "
                            "as the value of clearing it") for a in doc["assumptions"])
    # what the clearing goal's value is, in words (exploratory report 6, finding 16: "counted
    # 1.25x")
    assert doc["goal_unit"] == ("of revenue in the categories to clear, with 25% added as the "
                                "value of clearing them")
    assert doc["categories_to_clear"] == ["knitwear"]
    r = run("--goal", "clear_inventory", "--clear", "knitwear")
    assert r.exit_code == 0 and "(clear_inventory, clearing knitwear, 30 days from" in \
        " ".join(r.stdout.split())

    assert match_categories(["Outerwear", "denim"], ["denim", "outerwear"])[0] == [
        "outerwear", "denim"]
    with pytest.raises(ParameterError, match="did you mean 'knitwear'"):
        match_categories(["knitwer"], ["knitwear", "shoes"])
    with pytest.raises(ParameterError, match="sales have no categories"):
        match_categories(["knitwear"], [])
    with pytest.raises(ParameterError, match=r"--clear '' names no category"):
        PlanParams(budget=1, goal="clear_inventory", clear_categories=[" "]).check()
    assert PlanParams(budget=1, goal="profit", clear_categories=["x"]).check()


def test_a_budget_per_month_spreads_the_sends_over_the_months(scenario: dict) -> None:
    """2,000 a month for three months: the plan spends at most 2,000 in each, the months add
    up to the plan, the best value per spend goes first, and the pooled 6,000 plan's value
    is met up to the few sends that fit no month (the solver's bound still holds)."""
    pred = scenario["inp"]["predictions"]
    ctx = _ctx(scenario)
    monthly = make_plan(pred, ctx, PlanParams(budget=0, budget_per_month=1000, goal="revenue",
                                              period_days=90), Constraints(),
                        with_baseline=False)
    pooled = make_plan(pred, ctx, PlanParams(budget=3000, goal="revenue", period_days=90),
                       Constraints(), with_baseline=False)
    summ, plan = monthly["summary"], monthly["customers"]
    assert summ["budget"] == 3000 and summ["budget_per_month"] == 1000
    months = summ["months"]
    assert [m["month"] for m in months] == [1, 2, 3] and all(m["days"] == 30 for m in months)
    assert [m["from"] for m in months] == [str((scenario["as_of"] + pd.Timedelta(days=d))
                                               .date()) for d in (0, 30, 60)]
    assert all(0 < m["spend"] <= 1000 + 1e-6 for m in months)
    assert sum(m["customers"] for m in months) == summ["customers_targeted"] == len(plan)
    assert sum(m["spend"] for m in months) == pytest.approx(summ["spend"], rel=1e-12)
    assert plan.groupby("send_month")["expected_cost"].sum().le(1000 + 1e-6).all()
    assert (plan["priority"].diff().dropna() > 0).all()
    assert plan.groupby("send_month")["priority"].min().is_monotonic_increasing
    per = [m["goal_value"] / m["spend"] for m in months]
    assert per[0] > per[-1]  # the best value per spend is sent first
    left_out = summ["optimizer"]["left_out_by_months"]
    assert summ["expected_value"] >= pooled["summary"]["expected_value"] * 0.995
    assert summ["optimizer"]["gap"] >= pooled["summary"]["optimizer"]["gap"] - 1e-12
    assert any(a.startswith("budget per month: 1,000.00 over 3 months")
               for a in summ["assumptions"])
    assert left_out == 0 or any("fit no month" in a for a in summ["assumptions"])
    # a total budget keeps everything in the first month, from the plan date
    assert pooled["summary"]["months"] == [{
        "month": 1, "from": str(scenario["as_of"].date()), "days": 90, "budget": 3000.0,
        "customers": pooled["summary"]["customers_targeted"],
        "spend": pytest.approx(pooled["summary"]["spend"]),
        "goal_value": pytest.approx(pooled["summary"]["expected_value"])}]
    assert set(pooled["customers"]["send_month"]) == {1}


@pytest.mark.parametrize("promo,floor", [("free_shipping", 120.0), ("free_scarf", 150.0),
                                         ("knitwear_bogo_50", 700.0)])
def test_a_budget_per_month_keeps_minimum_spends(scenario: dict, promo: str,
                                                 floor: float) -> None:
    """Sends that fit no month are left out; a promotion's minimum spend is still met (before
    the sends it rests on were placed first, each of these fell 1-5 below its minimum). The
    floors are ones at which the months bind on this store (the bogo's was 600 until the
    response baselines started from P(alive): at 600 no send is left out by months now)."""
    plan = make_plan(scenario["inp"]["predictions"], _ctx(scenario),
                     PlanParams(budget=0, budget_per_month=250, goal="revenue",
                                period_days=180), Constraints(min_spend={promo: floor}),
                     with_baseline=False)
    summ, chosen = plan["summary"], plan["customers"]
    assert summ["optimizer"]["left_out_by_months"] >= 1
    assert chosen.loc[chosen["promotion"] == promo, "expected_cost"].sum() >= floor
    assert chosen.groupby("send_month")["expected_cost"].sum().le(250 + 1e-6).all()
    assert summ["warnings"] == []


def test_a_minimum_spend_met_at_a_loss_is_warned_about(scenario: dict) -> None:
    """Exploratory report 3: ``min_spend free_shipping = 300`` bought 88 sends worth -340
    net, and nothing but the rows of promotions.csv said so."""
    pred = scenario["inp"]["predictions"].copy()
    ctx = _ctx(scenario)
    params = PlanParams(budget=3000, goal="revenue")
    # free shipping that lowers buying, as it did on the helper's store
    ship = pred["promotion"] == "free_shipping"
    for col in ("incremental_prob", "incremental_orders", "incremental_orders_p10",
                "incremental_orders_p90"):
        pred.loc[ship, col] = -pred.loc[ship, col].abs() - 0.01
    res = make_plan(pred, ctx, params, Constraints(min_spend={"free_shipping": 300.0}),
                    with_baseline=False)
    got = res["customers"]
    worth = got.loc[got["promotion"] == "free_shipping", "expected_incremental_value"].sum()
    assert worth < 0, worth  # the case the warning is for
    assert any(w.startswith("min_spend free_shipping = 300 is met by sends worth -")
               and "the minimum costs more than it returns" in w
               for w in res["summary"]["warnings"]), res["summary"]["warnings"]
    free = make_plan(pred, ctx, params, Constraints(), with_baseline=False)
    assert not any("min_spend" in w for w in free["summary"]["warnings"])


def test_plan_cli_budget_per_month(scenario: dict, tmp_path: Path) -> None:
    r = CliRunner().invoke(app, ["plan", "--store", str(scenario["store"]),
                                 "--budget-per-month", "1000", "--months", "2", "--goal",
                                 "revenue", "--out", str(tmp_path), "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["budget"] == 2000 and doc["budget_per_month"] == 1000
    assert doc["period_days"] == 60 and len(doc["months"]) == 2
    # the effects are each send's over the response window, whatever the period
    assert any(a.startswith(f"each send's effect is what its customer does in the "
                            f"{doc['response_model']['window_days']} days after it")
               for a in doc["assumptions"])
    plan = pd.read_csv(tmp_path / "plan.csv")
    assert set(plan["send_month"]) == {1, 2}
    assert plan.groupby("send_month")["expected_cost"].sum().le(1000 + 1e-6).all()
    for args, words in ((["--budget", "100", "--budget-per-month", "100"],
                         "--budget and --budget-per-month both given"),
                        (["--budget-per-month", "100", "--months", "2", "--period", "30"],
                         "--period 30 and --months 2 disagree"),
                        (["--budget-per-month", "100", "--months", "13"],
                         "--months 13 is impossible"),
                        (["--budget-per-month", "-1"], "--budget-per-month -1.0 is impossible")):
        bad = CliRunner().invoke(app, ["plan", "--store", str(scenario["store"]), *args])
        assert bad.exit_code != 0 and isinstance(bad.exception, ParameterError), bad.output
        assert words in str(bad.exception)


@pytest.mark.parametrize("goal", ["revenue", "profit", "retention"])
def test_plan_beats_baselines_against_truth(scenario: dict, goal: str) -> None:
    """The plan's true value, from the generator's truth, beats random targeting, the
    cheapest promotion for everyone and highest churn first. (The issue's 85%-of-oracle
    target is measured in benchmarks/bench_plan.py and reported in BENCHMARKS.md.)"""
    r = evaluate_against_truth(scenario["inp"]["predictions"], scenario["truth"],
                               _ctx(scenario), PlanParams(budget=6000, goal=goal),
                               Constraints())
    share = r["model"]["share_of_oracle"]
    margin = 0.0 if goal == "retention" else 0.1  # retention: weak purchase-uplift ranking
    assert share >= r["random"]["share_of_oracle"] + margin, r
    assert share >= r["cheapest_for_everyone"]["share_of_oracle"] + margin, r
    if goal != "retention":
        # on 3,000 customers the plan and churn-first are within noise of each other on
        # revenue (plan 52.3% vs 54.5% of the oracle; 53.6% before vouchers counted the
        # orders below their threshold, 55.9% before the offer fit); the clear margin is
        # measured on 5,000 (BENCHMARKS.md, bench_plan.py): this guards against a plan
        # clearly worse than the heuristic
        assert share > r["highest_churn_first"]["share_of_oracle"] - 0.03, r
    assert r["oracle_gap"] < 1e-3


def test_a_plan_that_truly_overspends_is_compared_with_the_oracle_at_its_spend(
        scenario: dict) -> None:
    """Plans are chosen under predicted costs, the oracle under true ones: where the truth's
    costs are higher, a plan at a binding budget truly spends more than the oracle may and its
    share of the oracle passes 100%; compared with the oracle given the plan's own true spend,
    it cannot."""
    truth = scenario["truth"].copy()
    truth["discount_cost"] = truth["discount_cost"] * 3.0
    r = evaluate_against_truth(scenario["inp"]["predictions"], truth, _ctx(scenario),
                               PlanParams(budget=1500, goal="revenue"), Constraints())
    assert r["model"]["true_spend"] > 1500 * 1.5, r["model"]
    assert r["model"]["share_of_oracle"] > 1.0, r["model"]
    assert r["model"]["share_of_oracle_at_its_spend"] <= 1.0 + 1e-3, r["model"]
    assert r["oracle"]["true_spend"] <= 1500 * (1 + 1e-9)
    assert r["oracle"]["share_of_oracle_at_its_spend"] == r["oracle"]["share_of_oracle"] == 1.0
    for name in ("random", "cheapest_for_everyone", "highest_churn_first"):
        if r[name]["true_spend"] > 1500 * (1 + 1e-9):
            assert (r[name]["share_of_oracle_at_its_spend"]
                    < r[name]["share_of_oracle"]), (name, r[name])


def test_ineligible_customers_are_never_chosen(scenario: dict) -> None:
    ctx = _ctx(scenario)
    cust = ctx.customers
    no_consent = set(cust.index[~cust[s.MARKETING_CONSENT].fillna(False).astype(bool)])
    assert no_consent
    res = make_plan(scenario["inp"]["predictions"], ctx, PlanParams(budget=50_000,
                                                                    goal="revenue"),
                    Constraints(min_age={"accessories": 30}), with_baseline=False)
    chosen = res["customers"]
    assert not set(chosen[s.CUSTOMER_ID]) & no_consent
    young = set(cust.index[~(cust[s.AGE] >= 30)])
    scarf = chosen[chosen["promotion"] == "free_scarf"]
    assert not set(scarf[s.CUSTOMER_ID]) & young
    recent = set(cust.index[(scenario["as_of"] - pd.to_datetime(cust["last_contact_at"]))
                            < pd.Timedelta(days=60)])
    res = make_plan(scenario["inp"]["predictions"], ctx, PlanParams(budget=50_000,
                                                                    goal="revenue"),
                    Constraints(cooldown_days=60), with_baseline=False)
    assert recent and not set(res["customers"][s.CUSTOMER_ID]) & recent
    # counted once, under the first rule that excludes them (consent comes first)
    considered = set(scenario["inp"]["predictions"][s.CUSTOMER_ID])
    opted_out = set(cust.index[cust[s.EMAIL_OPT_OUT].fillna(False).astype(bool)])
    assert res["summary"]["excluded"]["contacted_within_cooldown"] == len(
        (recent & considered) - no_consent - opted_out)


def _redemptions(res: dict, promotions: list[str], col: str = PRICED_REDEMPTIONS) -> float:
    """The plan's expected redemptions of ``promotions``, from its rows and the predictions
    (by default those its costs are priced at, which the inventory caps count)."""
    keys = [s.CUSTOMER_ID, "promotion"]
    rows = res["customers"][keys].merge(res["instance"].pred[[*keys, col]],
                                        on=keys, how="left", validate="one_to_one")
    assert rows[col].notna().all()
    return float(rows.loc[rows["promotion"].isin(promotions), col].sum())


def test_a_cap_on_no_promotions_category_and_an_impossible_age_are_said(
        scenario: dict, tmp_path: Path) -> None:
    """Exploratory report 3: ``[inventory_caps] swimwear = 10`` (no offer on swimwear) was
    taken without a word, and ``[min_age] knitwear = 150`` silently removed every knitwear
    offer. The cap is warned about; an age above 100 is refused."""
    ctx = _ctx(scenario)
    pred = scenario["inp"]["predictions"]
    res = make_plan(pred, ctx, PlanParams(budget=500, goal="revenue"),
                    Constraints(inventory_caps={"swimwear": 10}), with_baseline=False)
    assert "inventory_caps names 'swimwear', which no promotion of the catalog is on, so it " \
           "limits nothing" in " ".join(res["summary"]["warnings"])
    f = tmp_path / "c.toml"
    f.write_text("[min_age]\nknitwear = 150\n")
    with pytest.raises(DataError, match=r"c.toml: min_age.knitwear = 150; give a number from "
                                        r"0 to 100 \(an age in years, e.g. 18\)"):
        load_constraints(f)


def test_a_plan_that_waives_consent_says_whom_it_may_choose(scenario: dict) -> None:
    """``require_consent = false`` planned sends to customers who had opted out without a
    word, although the README says consent and opt-out are always respected."""
    pred, ctx = scenario["inp"]["predictions"], _ctx(scenario)
    c = ctx.customers
    n = int((~c["marketing_consent"].eq(True) | c["email_opt_out"].eq(True)).sum())
    assert n > 0
    waived = build_instance(pred, ctx, PlanParams(budget=500, goal="revenue"),
                            Constraints(require_consent=False, source="c.toml"))
    said = " ".join(waived.warnings)
    assert f"c.toml: require_consent = false: {n:,} of the {len(c):,} customers gave no " \
           "marketing consent or opted out, and the plan may choose them" in said
    kept = build_instance(pred, ctx, PlanParams(budget=500, goal="revenue"), Constraints())
    assert not [w for w in kept.warnings if "require_consent" in w]


def test_segments_are_matched_without_letter_case(scenario: dict) -> None:
    """``--segments champions`` was refused ("is not a segment ... segments: ...
    Champions, ..."), although ``--clear`` and ``min_age`` take a category in any case."""
    res = pipeline.plan(scenario["store"], budget=300, goal="revenue",
                        segments=["champions", " AT RISK "], save=False)
    chosen = set(res["customers"]["target_segment"])
    assert chosen and chosen <= {"Champions", "At Risk"}
    assert res["summary"]["excluded"]["outside_target_segments"] > 0
    # one argument listing several is refused saying how to give them
    with pytest.raises(ParameterError, match=r"--segments 'Champions, lost' is not a segment at "
                                             r"as_of .* \(give each with its own --segments: "
                                             r"--segments 'Champions' --segments 'lost'\); "):
        pipeline.plan(scenario["store"], budget=300, segments=["Champions, lost"], save=False)


def test_an_inventory_cap_matches_the_catalogs_category_without_letter_case(
        scenario: dict) -> None:
    """``[inventory_caps] Knitwear = 30`` limited nothing on a catalog whose offers are on
    'knitwear', with a warning that no promotion is on it; ``min_age`` and ``--clear`` match
    categories without letter case."""
    inst = build_instance(scenario["inp"]["predictions"], _ctx(scenario),
                          PlanParams(budget=5_000, goal="revenue"),
                          Constraints(inventory_caps={"Knitwear": 30}))
    assert [(c.category, sorted(inst.promotions[j] for j in c.promotions))
            for c in inst.caps] == [("Knitwear", ["knitwear_bogo_50", "winter_clearance_30"])]
    assert not [w for w in inst.warnings if "inventory_caps" in w]


def test_an_inventory_cap_holds_the_plans_expected_redemptions(scenario: dict) -> None:
    """Exploratory report 4a, C1: ``[inventory_caps] knitwear = 30`` became a customer count
    per promotion from the mean redemptions of all candidates, and each promotion on knitwear
    got the whole cap: the plan expected 86-118 knitwear redemptions."""
    ctx = _ctx(scenario)
    pred = scenario["inp"]["predictions"]
    knit = ["winter_clearance_30", "knitwear_bogo_50"]  # both on knitwear
    params = PlanParams(budget=5_000, goal="revenue")
    free = make_plan(pred, ctx, params, Constraints(), with_baseline=False)
    assert _redemptions(free, knit) > 40  # the cap below binds
    res = make_plan(pred, ctx, params, Constraints(inventory_caps={"knitwear": 30}))
    assert _redemptions(res, knit) <= 30 * (1 + 1e-9)
    summ = res["summary"]
    assert summ["expected_value"] <= free["summary"]["expected_value"]
    assert 0 <= summ["optimizer"]["gap"] < 0.05  # proven against the cap, not a count
    assert summ["optimizer"]["bound"] >= summ["expected_value"]
    assert any(a.startswith("inventory cap knitwear: at most 30 expected redemptions over "
                            "knitwear_bogo_50, winter_clearance_30; the plan expects ")
               for a in summ["assumptions"])
    # pricing the redemptions beats a plain count per promotion, which keeps the customers
    # most likely to redeem: cap each knitwear promotion's customers to fit on its own
    inst = res["instance"]
    count = np.full(len(inst.promotions), np.nan)
    for p, share in zip(knit, (0.5, 0.5), strict=True):
        j = inst.promotions.index(p)
        red = np.sort(inst.redemptions[np.asarray(inst.problem.eligible)[:, j], j])[::-1]
        count[j] = np.searchsorted(np.cumsum(red), 30 * share, side="right")
    naive = solve(dataclasses.replace(inst.problem, promo_max_count=count))
    assert summ["expected_value"] > naive.value


def test_an_inventory_cap_counts_the_redemptions_the_spend_is_priced_at(
        scenario: dict) -> None:
    """The plan prices each send's cost at its redemptions' posterior mean (the winner's-curse
    correction, loyalist.promote.selection), but the caps counted the model's redemptions: a
    cap and the spend counted different redemptions (here knitwear = 10 held the model's at
    9.69 while the plan priced 10.12). The cap holds on the priced ones, binds on them, and
    the note says them; each send's cost is its contact plus them at the offer's discount per
    redemption."""
    knit = ["winter_clearance_30", "knitwear_bogo_50"]
    res = make_plan(scenario["inp"]["predictions"], _ctx(scenario),
                    PlanParams(budget=5_000, goal="revenue"),
                    Constraints(inventory_caps={"knitwear": 10}), with_baseline=False)
    inst = res["instance"]
    np.testing.assert_array_equal(inst.redemptions[inst.rows, inst.cols],
                                  inst.pred[PRICED_REDEMPTIONS])
    assert not np.allclose(inst.pred[PRICED_REDEMPTIONS], inst.pred["expected_redemptions"])
    priced = _redemptions(res, knit)
    assert 9.5 < priced <= 10 * (1 + 1e-9)
    assert any(a.startswith("inventory cap knitwear:") and
               f"; the plan expects {priced:,.1f} (" in a for a in res["summary"]["assumptions"])
    keys = [s.CUSTOMER_ID, "promotion"]
    sent = res["customers"][[*keys, "expected_cost"]].merge(
        res["instance"].pred.drop(columns="expected_cost"), on=keys, validate="one_to_one")
    np.testing.assert_allclose(
        sent["expected_cost"], sent["contact_cost"] + sent[PRICED_REDEMPTIONS]
        * (sent["redemption_in_price"] + sent["redemption_outside"]), rtol=1e-9, atol=1e-9)


def test_a_caps_price_is_searched_by_the_fast_solver_and_solved_exactly_once(
        scenario: dict) -> None:
    """A binding cap on a small store bisected its price with 12 exact MILP solves (3.6-9.5 s
    a plan); the search now runs on the Lagrangian method and only the prices found are
    solved exactly, and the plan keeps a proven gap against the cap."""
    params = PlanParams(budget=5_000, goal="revenue")
    inst = build_instance(scenario["inp"]["predictions"], _ctx(scenario), params,
                          Constraints(inventory_caps={"knitwear": 30}))
    calls = {"milp": 0, "lagrangian": 0}

    def counted(method: str) -> Callable[[Problem], Solution]:
        def run(problem: Problem) -> Solution:
            calls[method] += 1
            return solve(problem, method=method)
        return run

    sol, _ = meet_inventory_caps(inst, counted("milp")(inst.problem), counted("milp"),
                                 counted("lagrangian"))
    assert calls["milp"] == 2 and calls["lagrangian"] >= 6
    cap = inst.caps[0]
    assert inst.redemptions[np.arange(len(sol.choice)), sol.choice][
        np.isin(sol.choice, cap.promotions)].sum() <= 30 * (1 + 1e-9)
    assert sol.bound >= sol.value and 0 <= sol.gap < 5e-3


def test_a_baseline_that_misses_a_minimum_does_not_withhold_the_plan(scenario: dict) -> None:
    """Exploratory report 4a, C4: a min_spend with an inventory cap aborted `plan` because
    the greedy comparison baseline could not meet the minimum; and a minimum the cap cannot
    allow is one clear line naming both."""
    ctx = _ctx(scenario)
    pred = scenario["inp"]["predictions"]
    params = PlanParams(budget=5_000, goal="retention")
    res = make_plan(pred, ctx, params, Constraints(inventory_caps={"knitwear": 30},
                                                   min_spend={"winter_clearance_30": 600}))
    summ = res["summary"]
    spent = res["customers"].groupby("promotion")["expected_cost"].sum()
    assert spent["winter_clearance_30"] >= 600 - 1e-6
    assert _redemptions(res, ["winter_clearance_30", "knitwear_bogo_50"]) <= 30 * (1 + 1e-9)
    assert summ["optimizer"]["greedy_value"] is None
    assert any(a.startswith("no greedy baseline to compare with") and
               "min_spend of winter_clearance_30" in a for a in summ["assumptions"])
    with pytest.raises(InfeasibleError, match=r"inventory cap knitwear \(2 expected "
                       r"redemptions\) and min_spend winter_clearance_30 600.00 cannot both "
                       r"hold: .*raise the cap or lower the minimum"):
        make_plan(pred, ctx, params, Constraints(inventory_caps={"knitwear": 2},
                                                 min_spend={"winter_clearance_30": 600}),
                  with_baseline=False)


def test_a_minimum_its_cap_cannot_allow_is_refused_before_any_priced_solve(
        scenario: dict) -> None:
    """A min_spend above what its inventory cap allows even alone was refused only after the
    cap's 12 priced solves (32 s on this 3,000-customer store): now at once, from an upper
    bound on the promotion's spend within the cap, which a plan that holds both never
    exceeds."""
    ctx = _ctx(scenario)
    pred = scenario["inp"]["predictions"]
    params = PlanParams(budget=5_000, goal="retention")
    calls: list[int] = []

    def solver(problem: object) -> object:
        calls.append(1)
        return solve(problem)  # type: ignore[arg-type]

    tight = build_instance(pred, ctx, params, Constraints(
        inventory_caps={"knitwear": 2}, min_spend={"winter_clearance_30": 600}))
    with pytest.raises(InfeasibleError, match=r"inventory cap knitwear \(2 expected "
                       r"redemptions\) and min_spend winter_clearance_30 600.00 cannot both "
                       r"hold: within the cap winter_clearance_30 can spend at most [0-9.,]+"):
        meet_inventory_caps(tight, solve(tight.problem), solver)
    assert calls == []
    loose = build_instance(pred, ctx, params, Constraints(
        inventory_caps={"knitwear": 30}, min_spend={"winter_clearance_30": 600}))
    sol, _ = meet_inventory_caps(loose, solve(loose.problem), solver)
    j = loose.promotions.index("winter_clearance_30")
    cap = next(c for c in loose.caps if j in c.promotions)
    assert 600 - 1e-6 <= sol.promo_spend[j] <= cap_allows(loose, j, cap) + 1e-6


def test_plans_say_what_their_numbers_rest_on(scenario: dict, tmp_path: Path) -> None:
    """Exploratory report 4a: consent taken as given with no consent data and no word of it
    (C2), profit with a 25% overstock credit headed "of incremental profit" (C5), a clearance
    goal on categories no promotion is on (C9), an unspent budget unexplained (C10), and one
    plan id for two stores' different plans (C12)."""
    pred = scenario["inp"]["predictions"]
    ctx = _ctx(scenario)
    consent = "no marketing consent or opt-out is known for any customer"
    summ = make_plan(pred, ctx, PlanParams(budget=5_000, goal="retention"), Constraints(),
                     with_baseline=False)["summary"]
    assert not any(w.startswith(consent) for w in summ["warnings"])
    bare = _ctx(scenario, customers=ctx.customers.drop(
        columns=[s.MARKETING_CONSENT, s.EMAIL_OPT_OUT]))
    summ = make_plan(pred, bare, PlanParams(budget=5_000, goal="retention"), Constraints(),
                     with_baseline=False)["summary"]
    assert any(w.startswith(consent) for w in summ["warnings"])
    assert summ["excluded"]["no_consent_or_opted_out"] == 0

    # outerwear and knitwear are overstocked in this scenario's inventory
    summ = make_plan(pred, ctx, PlanParams(budget=5_000, goal="profit"), Constraints(),
                     with_baseline=False)["summary"]
    assert summ["goal_unit"] == ("of goal value (incremental profit plus a 25% credit on "
                                 "revenue in overstocked categories)")
    assert summ["goal_value"] > summ["net_profit"]
    no_stock = _ctx(scenario, inventory=ctx.inventory.iloc[0:0])
    summ = make_plan(pred, no_stock, PlanParams(budget=5_000, goal="profit"), Constraints(),
                     with_baseline=False)["summary"]
    assert summ["goal_unit"] == "of incremental profit"

    clear = PlanParams(budget=5_000, goal="clear_inventory", clear_categories=["dresses"])
    summ = make_plan(pred, ctx, clear, Constraints(), with_baseline=False)["summary"]
    assert any(w.startswith("no promotion in the catalog is on the categories to clear "
                            "(dresses)") for w in summ["warnings"])
    knit = dataclasses.replace(clear, clear_categories=["Knitwear"])
    summ = make_plan(pred, ctx, knit, Constraints(), with_baseline=False)["summary"]
    assert not any(w.startswith("no promotion in the catalog") for w in summ["warnings"])

    summ = make_plan(pred, ctx, PlanParams(budget=500_000, goal="revenue"), Constraints(),
                     with_baseline=False)["summary"]
    left = [a for a in summ["assumptions"] if "budget is left unspent" in a]
    assert summ["spend"] < 0.95 * 500_000 and len(left) == 1
    assert f"all {summ['customers_targeted']:,} eligible customers" in left[0]
    assert not any(a.startswith("the budget binds") for a in summ["assumptions"])
    summ = make_plan(pred, ctx, PlanParams(budget=5_000, goal="revenue"), Constraints(),
                     with_baseline=False)["summary"]
    assert not any("left unspent" in a for a in summ["assumptions"])
    # a spent budget is an expectation, not a cap: the sends picked as cheapest per value are
    # more often under-priced (measured on generated stores: BENCHMARKS.md)
    binds = [a for a in summ["assumptions"] if a.startswith("the budget binds")]
    assert summ["spend"] >= 0.95 * 5_000 and len(binds) == 1
    assert f"{summ['spend']:,.0f}" in binds[0] and "the actual spend can run over" in binds[0]

    # the same parameters on another store's data: another plan, another id
    other = tmp_path / "other.duckdb"
    shutil.copy(scenario["store"], other)
    with Store(other) as st:
        st.con.execute(f"UPDATE customers SET {s.MARKETING_CONSENT} = false "
                       f"WHERE {s.CUSTOMER_ID} IN (SELECT {s.CUSTOMER_ID} FROM customers "
                       f"ORDER BY {s.CUSTOMER_ID} LIMIT 500)")
    plans = [pipeline.plan(path, budget=3_000, goal="revenue", save=False)["summary"]
             for path in (scenario["store"], scenario["store"], other)]
    assert plans[0]["plan_id"] == plans[1]["plan_id"] != plans[2]["plan_id"]
    # the store's catalog names every promotion of its history: no warning of unused ones
    assert not any("the plan cannot use" in w for w in plans[0]["warnings"])


def test_a_history_the_catalog_does_not_describe_is_said_to_be_unused(scenario: dict,
                                                                      tmp_path: Path) -> None:
    """A store loaded with its promotion history but without a catalog (a merchant's export
    with no catalog file) was planned on the generic catalog's priors, its measured
    promotions silently left out: the plan now warns, naming them and what to give."""
    from loyalist.pipeline.promotions import undescribed_history

    with Store(scenario["store"], read_only=True) as st:
        ts = st.default_as_of()
        cat = st.table(s.T_CATALOG)
        sent = st.query(f"SELECT {s.PROMOTION} AS p, count(*) AS n FROM {s.T_PROMOTIONS} "
                        f"WHERE {s.PROMOTION} <> 'control' GROUP BY 1 ORDER BY n DESC, p")
        assert undescribed_history(st, ts, cat, generic=False) is None
        # a catalog without the most sent promotion: that one is named, with its sends
        top, n = str(sent["p"].iloc[0]), int(sent["n"].iloc[0])
        w = undescribed_history(st, ts, cat[cat["name"] != top], generic=False)
        assert w.startswith(f"the promotion history sent 1 promotion(s) the plan cannot use: "
                            f"{top} ({n:,} sends); the catalog does not name them")
        assert "measured against hold-out groups" in w and "--catalog" in w
        # the generic catalog: the history's promotions it does not name (its free_shipping
        # and double_points may share a name with the merchant's)
        generic, _ = generic_catalog(60.0)
        unnamed = sent[~sent["p"].isin(generic["name"])]
        assert 0 < len(unnamed) < len(sent)
        w = undescribed_history(st, ts, generic, generic=True)
        assert w.startswith(f"the promotion history sent {len(unnamed)} promotion(s)")
        assert "no promotion catalog was given or loaded" in w
        assert all(p in w for p in unnamed["p"])
    empty = tmp_path / "no_history.duckdb"
    shutil.copy(scenario["store"], empty)
    with Store(empty) as st:
        st.con.execute(f"DELETE FROM {s.T_PROMOTIONS}")
        assert undescribed_history(st, st.default_as_of(), cat, generic=True) is None


def test_rows_intervals_carry_the_models_error_and_say_so(scenario: dict) -> None:
    """Issue 5: each promotion x segment row's 80% interval adds the response model's error for
    its kind of customers to the bootstrap's (the sends' own intervals), and the plan says
    what its intervals rest on; a row is 'high' only when that wider interval is narrower
    than its value. Its customers' P(alive) adds a term of its own
    (:func:`loyalist.promote.explain.survival_variance`)."""
    from loyalist.promote.explain import survival_variance
    from loyalist.response.uplift import ALIVE, Z80

    ctx = _ctx(scenario)
    res = make_plan(scenario["inp"]["predictions"], ctx,
                    PlanParams(budget=5_000, goal="revenue"), Constraints(), with_baseline=False)
    summ, promos, sends = res["summary"], res["promotions"], res["customers"]
    note = [a for a in summ["assumptions"] if a.startswith("the 80% intervals of incremental")]
    assert len(note) == 1 and "measured on the history's own experiments" in note[0]
    rows = promos.set_index(["promotion", "target_segment"])
    scale = scenario["inp"]["predictions"].set_index([s.CUSTOMER_ID, "promotion"])["error_scale"]
    sends = sends.assign(error_scale=scale.reindex(pd.MultiIndex.from_frame(
        sends[[s.CUSTOMER_ID, "promotion"]])).to_numpy())
    for (promo, seg), g in sends.groupby(["promotion", "target_segment"]):
        v = g["incremental_revenue"].sum()
        boot = v - g["incremental_revenue_lo80"].sum()
        model = Z80 * (g["error_scale"] * g["incremental_revenue"].abs()).sum()
        assert model > 0
        alive = Z80 ** 2 * survival_variance(g.assign(**{ALIVE: ctx.customers[ALIVE].reindex(
            g[s.CUSTOMER_ID]).to_numpy()}))
        assert v - rows.loc[(promo, seg), "incremental_revenue_lo80"] == pytest.approx(
            np.sqrt(boot ** 2 + model ** 2 + alive))
    high = promos["confidence"] == "high"
    width = promos["incremental_revenue_hi80"] - promos["incremental_revenue_lo80"]
    assert (width[high] < promos.loc[high, "incremental_revenue"]).all()


def test_a_plans_spend_has_an_interval_from_the_redemptions(scenario: dict) -> None:
    """Issue 5 ("what each will cost ... and how sure we are"): each promotion x segment row's
    cost and the plan's spend have an 80% interval from the redemption model's bootstrap
    (the 10% / 90% points of each send's expected redemptions at the offer's discount, plus
    contact). One promotion's customers share its bags, so its rows' distances add up;
    promotions add in quadrature (as the revenue's, without the model's error for kinds of
    customers, which is measured on revenue). A binding budget says the interval. (Here
    without the customers' P(alive), whose term adds in quadrature for every send:
    test_plan_effects.)"""
    ctx = _ctx(scenario, customers=scenario["inp"]["customers"].drop(columns="bg_p_alive"))
    res = make_plan(scenario["inp"]["predictions"], ctx,
                    PlanParams(budget=1500, goal="revenue"), Constraints(), with_baseline=False)
    summ, promos = res["summary"], res["promotions"]
    assert (promos["cost_lo80"] <= promos["cost"] + 1e-9).all()
    assert (promos["cost"] <= promos["cost_hi80"] + 1e-9).all()
    assert (promos["cost_hi80"] - promos["cost_lo80"] > 0).any()
    for end, sign in (("spend_lo80", -1), ("spend_hi80", 1)):
        col = "cost_lo80" if sign < 0 else "cost_hi80"
        per_promo = (sign * (promos[col] - promos["cost"])).groupby(promos["promotion"]).sum()
        assert sign * (summ[end] - summ["spend"]) == pytest.approx(
            float(np.sqrt((per_promo ** 2).sum())))
    assert summ["spend_lo80"] < summ["spend"] < summ["spend_hi80"]
    # in the words the CLI, run, demo and report use (explain.spend_range_text)
    note = next(a for a in summ["assumptions"] if a.startswith("the budget binds"))
    assert note.startswith(f"the budget binds: spend {amount_text(summ['spend'])}"
                           f"{spend_range_text(summ)} of {amount(1500, ctx.currency)} expected; ")
    assert spend_range_text(summ).startswith(" (80%: ")


def test_age_limits_match_categories_without_letter_case_and_counts_do_not_overlap(
        scenario: dict) -> None:
    """`[min_age] Accessories = 30` applied to nothing when the catalog says 'accessories'
    (under-age customers got the age-restricted offer, with no warning), and the exclusion
    counts overlapped (consent 397 + segments 1,416 + eligible 467 > 2,000 considered)."""
    ctx = _ctx(scenario)
    pred = scenario["inp"]["predictions"]
    plans = [make_plan(pred, ctx, PlanParams(budget=50_000, goal="revenue"),
                       Constraints(min_age={key: 30}), with_baseline=False)
             for key in ("accessories", "Accessories", "ACCESSORIES")]
    young = set(ctx.customers.index[~(ctx.customers[s.AGE] >= 30)])
    for res in plans:
        inst = res["instance"]
        may = np.asarray(inst.problem.eligible)[:, inst.promotions.index("free_scarf")]
        assert may.any() and not set(inst.customers[may]) & young
        assert res["summary"]["excluded"] == plans[0]["summary"]["excluded"]
        assert "under_age_free_scarf" in res["summary"]["excluded"]
    params = PlanParams(budget=50_000, goal="revenue",
                        segments=sorted(ctx.customers["segment"].astype(str).unique())[:3])
    summ = make_plan(pred, ctx, params, Constraints(min_age={"Accessories": 30}),
                     with_baseline=False)["summary"]
    customer_rules = ("no_consent_or_opted_out", "contacted_within_cooldown",
                      "outside_target_segments")
    dropped = sum(summ["excluded"].get(r, 0) for r in customer_rules)
    assert summ["excluded"]["outside_target_segments"] > 0
    assert dropped + summ["eligible_customers"] <= summ["customers_considered"]


def _price_share(res: dict) -> float:
    picked = res["instance"].pred
    alloc = res["allocation"].set_index("promotion")["spend"]
    kinds = picked.drop_duplicates("promotion").set_index("promotion")["kind"]
    price = kinds[kinds.isin(["percent_discount", "bogo", "fixed_voucher"])].index
    return float(alloc.reindex(price).fillna(0).sum() / max(alloc.sum(), 1e-9))


def test_competitor_promotion_lowers_expected_response(scenario: dict) -> None:
    pred = scenario["inp"]["predictions"]
    params = PlanParams(budget=3000, goal="revenue")
    calm = make_plan(pred, _ctx(scenario, competitors=None), params, Constraints(),
                     with_baseline=False)
    ev = pd.DataFrame({s.COMPETITOR: ["Rival"], s.STARTS_AT: [scenario["as_of"]],
                       s.ENDS_AT: [scenario["as_of"] + pd.Timedelta(days=40)],
                       s.KIND: ["percent_discount"], s.VALUE: [25.0]})
    hot = make_plan(pred, _ctx(scenario, competitors=ev), params, Constraints(),
                    with_baseline=False)
    # 25% off over the whole period cuts the incremental effects by 15-40% by kind; the
    # revenue of redemptions by customers who buy anyway (the offer's added items less its
    # discount) stays, so the plan's value falls by less
    assert hot["summary"]["expected_value"] < 0.85 * calm["summary"]["expected_value"]
    buyers = [sum(p["incremental_buyers"] for p in r["summary"]["promotions"])
              for r in (hot, calm)]
    assert buyers[0] < 0.8 * buyers[1]
    assert _price_share(hot) <= _price_share(calm)
    assert any("Rival" in a for a in hot["summary"]["assumptions"])


def test_overstock_moves_budget_to_clearance(scenario: dict) -> None:
    pred = scenario["inp"]["predictions"]
    params = PlanParams(budget=2000, goal="profit")
    inv = scenario["inp"]["inventory"].copy()

    def clearance_spend(overstocked: bool) -> float:
        inv[s.OVERSTOCKED] = overstocked & inv[s.CATEGORY].isin(["outerwear", "knitwear"])
        res = make_plan(pred, _ctx(scenario, inventory=inv), params, Constraints(),
                        with_baseline=False)
        a = res["allocation"].set_index("promotion")["spend"]
        return float(a[["winter_clearance_30", "knitwear_bogo_50"]].sum())

    assert clearance_spend(True) > clearance_spend(False)


def test_more_budget_targets_more_and_segment_filter(scenario: dict) -> None:
    pred = scenario["inp"]["predictions"]
    small = make_plan(pred, _ctx(scenario), PlanParams(budget=500, goal="revenue"),
                      Constraints(), with_baseline=False)
    big = make_plan(pred, _ctx(scenario), PlanParams(budget=2000, goal="revenue"),
                    Constraints(), with_baseline=False)
    assert big["summary"]["customers_targeted"] > small["summary"]["customers_targeted"]
    assert small["summary"]["spend"] <= 500 + 1e-6
    seg = small["customers"]["target_segment"].value_counts().index[0]
    only = make_plan(pred, _ctx(scenario), PlanParams(budget=500, goal="revenue",
                                                      segments=[seg]),
                     Constraints(), with_baseline=False)
    assert set(only["customers"]["target_segment"]) == {seg}
    capped = make_plan(pred, _ctx(scenario), PlanParams(budget=2000, goal="revenue"),
                       Constraints(max_segment_share=0.2), with_baseline=False)
    per_seg = capped["customers"].groupby("target_segment")["expected_cost"].sum()
    assert (per_seg <= 0.2 * 2000 + 1e-6).all()


def test_a_holdout_keeps_a_random_share_of_each_promotion_and_segment_unsent(
        scenario: dict, tmp_path: Path) -> None:
    """--holdout 0.2: a fifth of each promotion x segment's chosen customers is kept as a
    control group (holdout.csv), drawn from the very plan made without it; the plan's
    numbers are the sent customers'; sends.csv is both groups as promotion history, which
    ingest loads with each control's promotion in control_for. The same plan re-made holds
    out the same customers."""
    docs, files = {}, {}
    for name, extra in (("all", []), ("held", ["--holdout", "0.2"]),
                        ("again", ["--holdout", "0.2"])):
        r = CliRunner().invoke(app, ["plan", "--store", str(scenario["store"]), "--budget",
                                     "6000", "--goal", "revenue", *extra, "--out",
                                     str(tmp_path / name), "--json"])
        assert r.exit_code == 0, r.output
        docs[name] = strict_json(r.stdout)
        files[name] = {f: pd.read_csv(tmp_path / name / f"{f}.csv")
                       for f in ("plan", "holdout", "sends") if (tmp_path / name / f"{f}.csv")
                       .is_file()}
    assert docs["all"]["holdout"] is None and "holdout" not in files["all"]
    assert len(files["all"]["sends"]) == len(files["all"]["plan"])
    whole, sent, held = files["all"]["plan"], files["held"]["plan"], files["held"]["holdout"]
    # the same choice, split in two
    key = [s.CUSTOMER_ID, "promotion", "target_segment"]
    pd.testing.assert_frame_equal(
        pd.concat([sent[key], held[key]]).sort_values(s.CUSTOMER_ID, ignore_index=True),
        whole[key].sort_values(s.CUSTOMER_ID, ignore_index=True))
    n = whole.groupby(["promotion", "target_segment"]).size()
    k = held.groupby(["promotion", "target_segment"]).size().reindex(n.index, fill_value=0)
    assert ((k - 0.2 * n).abs() < 1).all() and (k < n).all()
    assert 0.15 < len(held) / len(whole) < 0.25
    doc, full = docs["held"], docs["all"]
    assert doc["customers_targeted"] == len(sent) and doc["holdout"]["customers"] == len(held)
    assert doc["spend"] == pytest.approx(sent["expected_cost"].sum())
    assert doc["spend"] + doc["holdout"]["spend"] == pytest.approx(full["spend"])
    # the spend's interval is the sent customers' too: their distances only, a narrower one
    assert doc["spend_hi80"] - doc["spend"] < full["spend_hi80"] - full["spend"]
    assert doc["spend"] - doc["spend_lo80"] < full["spend"] - full["spend_lo80"]
    assert doc["expected_value"] + doc["holdout"]["expected_value"] == pytest.approx(
        full["expected_value"])
    # the optimiser against the naive greedy: both before the hold-out, as without it
    assert doc["optimizer"]["greedy_gap_vs_plan"] == pytest.approx(
        full["optimizer"]["greedy_gap_vs_plan"])
    assert sum(p["customers"] for p in doc["promotions"]) == len(sent)
    assert list(sent["priority"]) == list(range(1, len(sent) + 1))
    assert any(a.startswith(f"hold-out: {len(held):,} of the {len(whole):,} customers")
               for a in doc["assumptions"])
    assert doc["plan_id"] != full["plan_id"]
    pd.testing.assert_frame_equal(files["again"]["holdout"], held)
    sends = files["held"]["sends"]
    assert list(sends.columns) == [s.CUSTOMER_ID, s.SENT_AT, s.PROMOTION, s.CONTROL_FOR]
    ctl = sends[sends[s.PROMOTION] == s.CONTROL]
    assert dict(zip(ctl[s.CUSTOMER_ID], ctl[s.CONTROL_FOR], strict=True)) == dict(
        zip(held[s.CUSTOMER_ID], held["promotion"], strict=True))
    assert sends[sends[s.PROMOTION] != s.CONTROL][s.CONTROL_FOR].isna().all()
    # loaded back as promotion history
    store = tmp_path / "s.duckdb"
    shutil.copy(scenario["store"], store)
    r = CliRunner().invoke(app, ["ingest", str(tmp_path / "held" / "sends.csv"), "--store",
                                 str(store), "--table", "promotions", "--json"])
    assert r.exit_code == 0, r.output
    with Store(store, read_only=True) as st:
        got = st.query(f"SELECT {s.PROMOTION}, {s.CONTROL_FOR}, count(*) AS n FROM promotions "
                       f"WHERE {s.SENT_AT} = ? GROUP BY ALL", [scenario["as_of"]])
    assert got["n"].sum() == len(sends)
    assert got.loc[got[s.PROMOTION] == s.CONTROL, "n"].sum() == len(held)
    r = CliRunner().invoke(app, ["plan", "--store", str(scenario["store"]), "--holdout", "0.7"])
    assert r.exit_code != 0 and isinstance(r.exception, ParameterError)
    assert "--holdout 0.7 is impossible" in str(r.exception)


def test_a_plans_hold_out_measures_the_campaign_after_it_ran(scenario: dict,
                                                             tmp_path: Path) -> None:
    """The loop closed: a plan with --holdout, its sends.csv loaded as promotion history, ten
    days of sales after it (sent customers buy with probability 0.5, held-out ones 0.2), then
    `evaluate campaign --plan`: each promotion's sent and held-out customers are the plan's
    and its hold-out's, its effect the difference counted directly, the window reported
    open, and the plan's predictions summed over the customers measured."""
    store = tmp_path / "s.duckdb"
    shutil.copy(scenario["store"], store)
    out = tmp_path / "plan"
    r = CliRunner().invoke(app, ["plan", "--store", str(store), "--budget", "6000", "--goal",
                                 "revenue", "--holdout", "0.3", "--out", str(out)])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(app, ["ingest", str(out / "sends.csv"), "--store", str(store),
                                 "--table", "promotions"])
    assert r.exit_code == 0, r.output
    sends = pd.read_csv(out / "sends.csv", dtype={s.CUSTOMER_ID: str})
    rng = np.random.default_rng(5)
    held = (sends[s.PROMOTION] == s.CONTROL).to_numpy()
    buys = rng.random(len(sends)) < np.where(held, 0.2, 0.5)
    with Store(store, read_only=True) as st:
        product = st.query("SELECT min(product_id) AS p FROM products")["p"].iloc[0]
    day = rng.integers(0, 10, len(sends))
    day[np.flatnonzero(buys)[0]] = 9  # the data then ends on day 9
    sales = pd.DataFrame({
        "customer_id": sends[s.CUSTOMER_ID], "order_id": [f"after-{i}" for i in range(len(sends))],
        "ordered_at": pd.Timestamp(scenario["as_of"]) + pd.to_timedelta(day, "D")
        + pd.Timedelta(hours=12), "product_id": product, "quantity": 1,
        "unit_price": 40.0})[buys]
    sales.to_csv(tmp_path / "after.csv", index=False)
    r = CliRunner().invoke(app, ["ingest", str(tmp_path / "after.csv"), "--store", str(store)])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(app, ["evaluate", "campaign", "--store", str(store), "--plan",
                                 str(out), "--out", str(tmp_path / "res"), "--json"])
    assert r.exit_code == 0, r.output
    res = strict_json(r.stdout)
    assert res["days"] == [str(pd.Timestamp(scenario["as_of"]).date())]
    assert res["windows"][0]["days_observed"] == 10 and not res["windows"][0]["complete"]
    assert any("is open: 10 of" in n for n in res["notes"])
    # sends.csv carries no cost: the catalog's contact cost stands in, and says so
    with Store(store, read_only=True) as st:
        contact = dict(st.query("SELECT name, contact_cost FROM promotion_catalog")
                       .itertuples(index=False, name=None))
    assert any("carry no cost: the catalog's contact cost" in n for n in res["notes"])
    plan_csv = pd.read_csv(out / "plan.csv", dtype={s.CUSTOMER_ID: str})
    bought = pd.Series(buys.astype(float), index=sends.index)
    assert set(res["promotions"]) == set(plan_csv["promotion"])
    for promo, got in res["promotions"].items():
        sent = (sends[s.PROMOTION] == promo).to_numpy()
        ctl = held & (sends[s.CONTROL_FOR] == promo).to_numpy()
        assert (got["sent"], got["held_out"]) == (int(sent.sum()), int(ctl.sum()))
        diff = bought[sent].mean() - bought[ctl].mean()
        assert got["buyers"]["unadjusted_per_customer"] == pytest.approx(diff)
        assert got["revenue"]["unadjusted_per_customer"] == pytest.approx(40.0 * diff)
        # adjusted for the customers' own past (CUPED): within the interval of the plain one
        assert abs(got["buyers"]["per_customer"] - diff) < (
            got["buyers"]["per_customer_hi95"] - got["buyers"]["per_customer"])
        assert got["cost"] == pytest.approx(contact[promo] * sent.sum())
        assert got["net"]["total"] == pytest.approx(got["margin"]["total"] - got["cost"])
        mine = plan_csv[plan_csv["promotion"] == promo]
        assert got["plan"]["customers_in_plan"] == len(mine) == sent.sum()
        assert got["plan"]["revenue"]["predicted"] == pytest.approx(
            mine["incremental_revenue"].sum())
    # 0.3 more buyers per customer sent, measured on about 200-800 customers
    assert 0.2 < res["total"]["buyers"]["per_customer"] < 0.4
    assert res["total"]["buyers"]["per_customer_lo95"] > 0
    text = (tmp_path / "res" / "campaign_results.md").read_text()
    assert "Against the plan's predictions" in text
    # exploratory report 3: the console showed no prediction; it says each one against its
    # measured interval
    r = CliRunner().invoke(app, ["evaluate", "campaign", "--store", str(store), "--plan",
                                 str(out)])
    assert r.exit_code == 0, r.output
    said = " ".join(r.output.split())
    for promo, got in res["promotions"].items():
        rev = got["plan"]["revenue"]
        assert (f"plan vs measured, {promo} ({got['plan']['customers_in_plan']:,} customers "
                f"of the plan): ") in said
        assert (f"revenue (USD) predicted {rev['predicted']:+,.1f}, measured "
                f"{rev['measured']:+,.1f}") in said
        # the store's currency after its amounts (a generated store's)
        assert re.search(r"[+-][\d,]+ USD \(95%: ", got["verdict"]), got["verdict"]
    assert res["currency"] == "USD" and "+revenue" in r.output and "(USD)" in r.output
    assert "; amounts in USD." in text and "incremental revenue (USD) (95%)" in text
    assert set(pd.read_csv(tmp_path / "res" / "campaign_results.csv")["currency"]) == {"USD"}


def test_infeasible_and_bad_inputs(scenario: dict, tmp_path: Path) -> None:
    pred = scenario["inp"]["predictions"]
    with pytest.raises(LoyalistError, match="min"):
        build_and_solve = make_plan(pred, _ctx(scenario), PlanParams(budget=100,
                                                                      goal="revenue"),
                                    Constraints(min_spend={"free_shipping": 80,
                                                           "double_points": 80}))
        assert build_and_solve is None
    with pytest.raises(ParameterError, match="--goal 'fame' is unknown"):
        PlanParams(budget=100, goal="fame").check()
    with pytest.raises(ParameterError, match="--budget -5 is impossible"):
        PlanParams(budget=-5).check()
    with pytest.raises(ParameterError, match="--segments 'VIPs' is not a segment"):
        pipeline.plan(scenario["store"], budget=100, segments=["VIPs"], save=False)
    nobody = scenario["inp"]["customers"].assign(marketing_consent=False)
    with pytest.raises(DataError, match="no eligible customers"):
        build_instance(pred, _ctx(scenario, customers=nobody), PlanParams(budget=100),
                       Constraints())
    bad = tmp_path / "c.toml"
    bad.write_text("max_segment_share = 3\n")
    with pytest.raises(ParameterError, match="c.toml: max_segment_share = 3 is impossible"):
        load_constraints(bad)
    # a value from the command line is named by its option, not by the file's key
    with pytest.raises(ParameterError, match=r"^--max-segment-share 0\.0 is impossible; give"):
        load_constraints(bad, max_segment_share=0.0)
    with pytest.raises(ParameterError, match=r"^--cooldown -1 is impossible; give whole days"):
        load_constraints(None, cooldown_days=-1)
    bad.write_text("budget_per_day = 3\n")
    with pytest.raises(DataError, match="unknown key 'budget_per_day'"):
        load_constraints(bad)
    r = CliRunner().invoke(app, ["plan", "--store", str(scenario["store"]), "--goal", "fame"])
    assert r.exit_code != 0 and isinstance(r.exception, ParameterError)


def test_offer_fit_splits_the_retention_plan(scenario: dict) -> None:
    """Without the offer fit, one relative lift per promotion ranks the promotions the same way
    for every customer and the retention plan sends everyone one offer; with it, customers get
    the offer that fits them (and the plan says it assumed so)."""
    ctx = _ctx(scenario)
    pred = scenario["inp"]["predictions"]
    params = PlanParams(budget=6000, goal="retention")
    fitted = build_instance(pred, ctx, params, Constraints())
    plain = build_instance(pred, ctx, PlanParams(budget=6000, goal="retention",
                                                 offer_fit=False), Constraints())

    def best(inst: object) -> np.ndarray:
        v = np.where(inst.problem.eligible, inst.problem.value, -np.inf)
        return np.argmax(v, axis=1)[np.isfinite(v).any(axis=1)]

    assert np.bincount(best(plain)).max() / len(best(plain)) > 0.95
    assert np.bincount(best(fitted)).max() / len(best(fitted)) < 0.9
    assert any(n.startswith("offer fit (assumption)") for n in fitted.notes)
    assert not any(n.startswith("offer fit") for n in plain.notes)


def test_campaign_export_with_a_group_column_gives_the_same_experiment(scenario: dict,
                                                                        tmp_path: Path) -> None:
    """The same promotion history written the way campaign tools export it (the offer in one
    column, test/control in another, control rows carrying the campaign's offer name) yields
    the same experiment as the canonical 'control' rows: same arms, same outcomes."""
    from loyalist.response import build_training_set

    promos = pd.read_parquet(scenario["files"]["promotions"])
    is_ctl = promos["promotion"] == "control"
    campaign_offer = (promos[~is_ctl].groupby("sent_at")["promotion"].first()
                      .reindex(promos["sent_at"]).to_numpy())
    export = pd.DataFrame({
        "Customer": promos["customer_id"], "Sent At": promos["sent_at"].astype(str),
        "Offer": np.where(is_ctl, campaign_offer, promos["promotion"]),
        "Group": np.where(is_ctl, "Control", "Test"), "Redeemed": promos["redeemed"]})
    export.to_csv(tmp_path / "campaigns.csv", index=False)
    store = tmp_path / "s.duckdb"
    pipeline.load_scenario(store, scenario["files"], skip=("promotions",))
    rep = pipeline.ingest(store, [tmp_path / "campaigns.csv"])[0]  # table found from headers
    assert rep["table"] == "promotions"
    assert rep["rows_loaded"] == len(promos)
    assert rep["assumptions"][0].startswith(
        f"control group read from column 'Group': {int(is_ctl.sum()):,} rows")
    frames = []
    for path in (scenario["store"], store):
        with Store(path, read_only=True) as st:
            f = build_training_set(st, cutoff=scenario["as_of"]).frame
        frames.append(f.groupby(["promotion", "treated"])
                      .agg(n=("y_purchased", "size"), bought=("y_purchased", "sum")))
    pd.testing.assert_frame_equal(frames[0], frames[1])


def _wholesaler(pred: pd.DataFrame, factor: float = 1e6) -> tuple[pd.DataFrame, str]:
    """``pred`` with its most responsive customer turned into a wholesaler: every offer's
    discount per redemption ``factor`` x as large, the same chance to buy."""
    from loyalist.promote.effects import revalue

    pred = pred.copy()
    who = str(pred.groupby(s.CUSTOMER_ID)["incremental_prob"].mean().idxmax())
    mine = pred[s.CUSTOMER_ID] == who
    for col in ("redemption_in_price", "redemption_outside"):
        pred.loc[mine, col] = pred.loc[mine, col] * factor + 1.0
    return revalue(pred), who


def test_a_send_must_be_worth_its_cost(scenario: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    """With a budget that does not bind, a send worth ~1e-9 customers kept per unit of spend
    is no longer bought (it was: 71% of a plan's spend for 0.06% of its value), the plan's
    value is unchanged within a tiny tolerance, and the rule is stated."""
    import loyalist.promote.eligibility as eligibility_mod

    pred, who = _wholesaler(scenario["inp"]["predictions"])
    params = PlanParams(budget=1e7, goal="retention")
    new = make_plan(pred, _ctx(scenario), params, Constraints(), with_baseline=False)
    monkeypatch.setattr(eligibility_mod, "MIN_VALUE_PER_SPEND_SHARE", 0.0)
    old = make_plan(pred, _ctx(scenario), params, Constraints(), with_baseline=False)
    assert who in set(old["customers"][s.CUSTOMER_ID])  # the waste the rule removes
    assert who not in set(new["customers"][s.CUSTOMER_ID])
    v_new, v_old = new["summary"]["expected_value"], old["summary"]["expected_value"]
    assert v_new == pytest.approx(v_old, rel=1e-3)
    assert new["summary"]["spend"] < old["summary"]["spend"] - 1e3
    assert any("a send must be worth its cost" in a for a in new["summary"]["assumptions"])


def test_no_send_of_negative_value_and_signed_chance_to_buy(scenario: dict) -> None:
    """A send that lowers the chance to buy can still raise revenue (a voucher with a minimum
    spend); its reason says so with a sign ('-0.5%', never '+-0.5%'), and no chosen send has
    a goal value <= 0."""
    pred = scenario["inp"]["predictions"].copy()
    who = pred[s.CUSTOMER_ID].iloc[0]
    mine = pred[s.CUSTOMER_ID] == who
    pred.loc[mine, "incremental_prob"] = -0.02
    res = make_plan(pred, _ctx(scenario), PlanParams(budget=1e6, goal="revenue"),
                    Constraints(), with_baseline=False)
    plan = res["customers"]
    assert (plan["expected_incremental_value"] > 0).all()
    assert (plan["incremental_prob"] < 0).any()
    assert not plan["reasons"].str.contains(r"\+-", regex=True).any()
    for ip, why in zip(plan["incremental_prob"], plan["reasons"], strict=True):
        assert f"{ip:+.1%} chance to buy" in why


def test_retention_calls_first_purchases_activations(scenario: dict) -> None:
    from loyalist.schema import NEW_SEGMENT

    res = make_plan(scenario["inp"]["predictions"], _ctx(scenario),
                    PlanParams(budget=6000, goal="retention"), Constraints(),
                    with_baseline=False)
    assert (res["customers"]["target_segment"] == NEW_SEGMENT).any()
    assert any("customers activated, not kept" in a for a in res["summary"]["assumptions"])
    new = res["promotions"][res["promotions"]["target_segment"] == NEW_SEGMENT]
    assert new["rationale"].str.contains("customers activated").all()


def test_catalog_segments_and_categories_are_checked(scenario: dict, tmp_path: Path) -> None:
    """An eligible segment that does not exist is refused with the store's segments (it was
    later blamed on consent); a category the store never sold is warned about."""
    pred = scenario["inp"]["predictions"]
    cat = scenario["inp"]["catalog"].copy()
    cat.attrs["source"] = "cat.csv"
    typo = cat.assign(eligible_segments=["Champoins"] + [""] * (len(cat) - 1))
    typo.attrs["source"] = "cat.csv"
    with pytest.raises(DataError, match=r"cat.csv: promotion '.*' has eligible_segments "
                                        r"'Champoins', which is not a segment; this store's "
                                        r"segments: .*Champions"):
        build_instance(pred, _ctx(scenario, catalog=typo), PlanParams(budget=100),
                       Constraints())
    # refused before the response model's fit (minutes on a large store), not after it
    (tmp_path / "cat.csv").write_text(typo.drop(columns=[c for c in typo if c not in (
        "name", "kind", "value", "contact_cost", "eligible_segments", "category")])
        .to_csv(index=False))
    said: list[str] = []
    with pytest.raises(DataError, match=r"cat.csv: promotion '.*' has eligible_segments "
                                        r"'Champoins', which is not a segment"):
        pipeline.plan(scenario["store"], budget=100, catalog=tmp_path / "cat.csv", save=False,
                      progress=said.append)
    assert not [m for m in said if "response model" in m]
    wine = cat.assign(category=["wine"] + list(cat["category"].iloc[1:]))
    wine.attrs["source"] = "cat.csv"
    inst = build_instance(pred, _ctx(scenario, catalog=wine), PlanParams(budget=100),
                          Constraints())
    assert any("is on 'wine', which this store has never sold" in w for w in inst.warnings)
    assert any("never sold" in n for n in inst.notes)
    clean = build_instance(pred, _ctx(scenario), PlanParams(budget=100), Constraints())
    assert not clean.warnings


def test_catalog_segments_are_matched_without_letter_case(scenario: dict) -> None:
    """``eligible_segments = ["champions"]`` was refused ("did you mean 'Champions'?") while
    ``--segments champions`` was taken: both now match without letter case, to the store's
    spelling, and the promotion reaches the same customers as with 'Champions'."""
    pred = scenario["inp"]["predictions"]
    cat = scenario["inp"]["catalog"]
    lower = cat.assign(eligible_segments=["champions; AT RISK"] + [""] * (len(cat) - 1))
    lower.attrs["source"] = "cat.csv"
    proper = cat.assign(eligible_segments=["Champions;At Risk"] + [""] * (len(cat) - 1))
    got = build_instance(pred, _ctx(scenario, catalog=lower), PlanParams(budget=100),
                         Constraints())
    want = build_instance(pred, _ctx(scenario, catalog=proper), PlanParams(budget=100),
                          Constraints())
    assert np.array_equal(got.problem.eligible, want.problem.eligible)
    assert not got.problem.eligible[:, 0].all()  # the segment limit limits
    assert check_catalog_segments(lower, {"Champions", "At Risk"})[
        "eligible_segments"].iloc[0] == "Champions;At Risk"


def test_target_segments_no_promotion_may_go_to_are_named_with_the_catalog(
        scenario: dict, tmp_path: Path) -> None:
    """``--segments 'At Risk'`` with every promotion limited to Champions or Loyal was refused
    after the response model's fit as "largest rule: outside_target_segments ...; relax the
    constraints": the catalog's limit was not named. Both are, before the fit."""
    cat = scenario["inp"]["catalog"]
    limited = cat.assign(eligible_segments=["Champions"] + ["Champions;Loyal"] * (len(cat) - 1))
    limited.attrs["source"] = "cat.csv"
    said = (r"--segments 'At Risk' and the eligible_segments of .*cat.csv leave no customer "
            rf"eligible: every promotion is limited to other segments \({cat['name'].iloc[0]}: "
            r"Champions; .*\); target one of those \(e.g. --segments 'Champions'\), or add "
            r"'At Risk' to a promotion's eligible_segments in .*cat.csv")
    with pytest.raises(ParameterError, match=said):
        build_instance(scenario["inp"]["predictions"], _ctx(scenario, catalog=limited),
                       PlanParams(budget=100, segments=["At Risk"]), Constraints())
    (tmp_path / "cat.csv").write_text(limited[["name", "kind", "value", "contact_cost",
                                               "eligible_segments", "category"]]
                                      .to_csv(index=False))
    steps: list[str] = []
    with pytest.raises(ParameterError, match=said):
        pipeline.plan(scenario["store"], budget=100, catalog=tmp_path / "cat.csv",
                      segments=["at risk"], save=False, progress=steps.append)
    assert not [m for m in steps if "response model" in m]
    # one targeted segment a promotion may go to is enough
    inst = build_instance(scenario["inp"]["predictions"], _ctx(scenario, catalog=limited),
                          PlanParams(budget=100, segments=["At Risk", "Loyal"]), Constraints())
    assert inst.problem.eligible.any()


def test_a_plan_nobody_is_left_for_names_the_catalogs_segments(scenario: dict) -> None:
    """Every promotion limited to Champions, whose customers all lack consent: the refusal
    named only the consent rule ("largest rule: no_consent_or_opted_out"), though the
    catalog's eligible_segments excluded most customers, uncounted. It is a rule of its own,
    named with the segments and the other rules; a plan it limits counts it too."""
    inp = scenario["inp"]
    cust = inp["customers"]
    champions = cust["segment"].astype(str).eq("Champions")
    limited = inp["catalog"].assign(eligible_segments="Champions")
    limited.attrs["source"] = "cat.csv"
    no_consent = cust.assign(marketing_consent=cust["marketing_consent"].eq(True) & ~champions)
    may = cust["marketing_consent"].eq(True) & ~cust["email_opt_out"].eq(True)
    lacking = int((~(may & ~champions)).sum())
    with pytest.raises(DataError, match=(
            rf"largest rule: outside_catalog_segments, {len(cust) - lacking:,} customers\): the "
            r"promotions of cat.csv may go only to Champions \(their eligible_segments\), and "
            rf"the other rules exclude those customers \(no_consent_or_opted_out {lacking:,}\)"
            r"; add segments to a promotion's eligible_segments")):
        build_instance(inp["predictions"], _ctx(scenario, customers=no_consent,
                                                catalog=limited), PlanParams(budget=100),
                       Constraints())
    two = inp["catalog"].assign(eligible_segments="Champions;Loyal")
    summ = make_plan(inp["predictions"], _ctx(scenario, catalog=two), PlanParams(budget=500),
                     Constraints(), with_baseline=False)["summary"]
    left = cust["segment"].astype(str).isin(["Champions", "Loyal"])
    assert summ["excluded"]["outside_catalog_segments"] == int(
        (~left & may).sum()) > 0
    assert sum(summ["excluded"].values()) + summ["eligible_customers"] \
        <= summ["customers_considered"]


def test_spend_limits_name_the_promotion_and_the_file(scenario: dict, tmp_path: Path) -> None:
    """Infeasible minimum spends say the promotion's name and the file's key, not 'promotion
    4' and 'promo_min_spend'."""
    pred = scenario["inp"]["predictions"]
    c = tmp_path / "c.toml"
    c.write_text("[min_spend]\nfree_shipping = 500\n")
    with pytest.raises(LoyalistError, match=r"c.toml: min_spend for free_shipping \(500.00\) "
                                            r"is more than the budget 100.00"):
        make_plan(pred, _ctx(scenario), PlanParams(budget=100), load_constraints(c))
    with pytest.raises(LoyalistError, match=r"min_spend adds up to 160.00 \(free_shipping "
                                            r"80.00, double_points 80.00\), more than"):
        make_plan(pred, _ctx(scenario), PlanParams(budget=100),
                  Constraints(min_spend={"free_shipping": 80, "double_points": 80}))
    c.write_text("[min_spend]\nfree_shipping = 40\n[max_spend]\nfree_shipping = 10\n")
    with pytest.raises(LoyalistError, match=r"c.toml: min_spend for free_shipping \(40.00\) is "
                                            r"more than its max_spend \(10.00\)"):
        load_constraints(c)
    # explore7 I12: this one named no file
    c.write_text("[max_spend]\nno_such_promo = 100\n")
    with pytest.raises(LoyalistError, match=r"^.*c.toml: \[max_spend\] names promotion "
                                            r"'no_such_promo', which is not in the catalog \("):
        make_plan(pred, _ctx(scenario), PlanParams(budget=100), load_constraints(c))
    # refused before the response model's fit (minutes on a large store), not after it
    said: list[str] = []
    with pytest.raises(LoyalistError, match=r"c.toml: \[max_spend\] names promotion "
                                            r"'no_such_promo', which is not in the catalog"):
        pipeline.plan(scenario["store"], budget=100, constraints=c, save=False,
                      progress=said.append)
    assert not [m for m in said if "response model" in m]
    from loyalist.promote.explain import in_merchant_words

    assert in_merchant_words("promotion 1: promo_min_spend 5.00 cannot be reached", ["a", "b"],
                  "c.toml") == "c.toml: b: min_spend 5.00 cannot be reached"


def test_an_age_limit_without_ages_says_so(scenario: dict) -> None:
    pred = scenario["inp"]["predictions"]
    cust = scenario["inp"]["customers"].drop(columns=[s.AGE])
    cats = {k for v in scenario["inp"]["catalog"]["category"] for k in v.split(";") if k}
    limits = dict.fromkeys([*cats, "coffee"], 18.0)
    with pytest.raises(DataError, match=r"largest rule: under_age_.*: no customer has a known "
                                        r"age .* load a customers file with a birth date"):
        build_instance(pred, _ctx(scenario, customers=cust), PlanParams(budget=100),
                       Constraints(min_age=limits))


def test_an_age_limit_on_a_category_never_sold_is_warned_about(scenario: dict) -> None:
    """`[min_age] wine = 18` on a store that sells no wine kept customers of unknown age out of
    every store-wide promotion without a word; the plan now warns, naming the file."""
    pred = scenario["inp"]["predictions"]
    cons = Constraints(min_age={"wine": 18.0}, source="c.toml")
    inst = build_instance(pred, _ctx(scenario), PlanParams(budget=100), cons)
    assert any(w.startswith("c.toml: min_age 18 for 'wine', a category this store has never "
                            "sold") for w in inst.warnings), inst.warnings
    sold = next(k for v in scenario["inp"]["catalog"]["category"] for k in v.split(";") if k)
    inst = build_instance(pred, _ctx(scenario), PlanParams(budget=100),
                          Constraints(min_age={sold: 18.0}))
    assert not any("min_age" in w for w in inst.warnings)


def _cheapest_send(scenario: dict, params: PlanParams) -> float:
    inst = build_instance(scenario["inp"]["predictions"], _ctx(scenario), params, Constraints())
    v, c = np.asarray(inst.problem.value), np.asarray(inst.problem.cost)
    return float(c[np.asarray(inst.problem.eligible) & (v > 0)].min())


def test_a_budget_below_one_send_says_so(scenario: dict, tmp_path: Path) -> None:
    """A budget below the cheapest send worth making gives an empty plan that says why, in one
    line naming the cost and the budget that buys it: in the CLI text, ``--json``
    (``empty_reason``, also the first warning) and plan.json; the budget is printed with its
    digits (the bug: "spend 0 of 0" for 0.04) and the gap without a negative zero (the bug:
    "optimality gap -0.000%")."""
    store = tmp_path / "s.duckdb"  # a copy: an empty plan is written to the store
    shutil.copy(scenario["store"], store)
    args = ["plan", "--store", str(store), "--budget", "0.01", "--goal", "retention",
            "--period", "30"]
    r = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "text")])
    assert r.exit_code == 0, r.output
    text = " ".join(r.output.split())  # the console wraps long lines at spaces
    assert "spend 0 of 0.01 USD on 0 customers" in text
    assert "-0.00%" not in text and "optimality gap 0.00%" in text
    # every amount with the store's currency (a generated store's)
    said = re.search(r"nobody targeted: (the budget 0\.01 USD is below the cost of a single "
                     r"send worth making: the cheapest, \S+, costs ([\d.,]+) USD \([\d.,]+ USD "
                     r"contact cost(?: and [\d.,]+ USD of expected discount)?\); raise the "
                     r"budget to at least ([\d.,]+) USD \(.*? would cost [\d.,]+ USD\))", text)
    assert said is not None and said[2] == said[3] and float(said[2]) > 0.01, text
    r = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "json"), "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["customers_targeted"] == 0 and doc["empty_reason"] == said[1]
    assert doc["warnings"][0] == doc["empty_reason"]
    assert str(doc["optimizer"]["gap"]) == "0.0" and str(doc["optimizer"]["bound"]) == "0.0"
    saved = json.loads((tmp_path / "json" / "plan.json").read_text())
    assert saved["empty_reason"] == doc["empty_reason"]


def amount_up(x: float) -> str:
    from loyalist.promote.catalog import amount_text

    return amount_text(x, up=True)


def test_a_budget_per_month_below_one_send_says_so(scenario: dict) -> None:
    """Three months whose pooled budget buys a send but whose monthly budget does not: the
    send fits no month, and the empty plan names the budget per month."""
    pooled = PlanParams(budget=0, budget_per_month=0.01, goal="retention", period_days=90)
    cheapest = _cheapest_send(scenario, pooled.check())
    per_month = 0.9 * cheapest
    params = PlanParams(budget=0, budget_per_month=per_month, goal="retention", period_days=90)
    summ = make_plan(scenario["inp"]["predictions"], _ctx(scenario), params, Constraints(),
                     with_baseline=False)["summary"]
    assert summ["customers_targeted"] == 0 and summ["optimizer"]["left_out_by_months"] > 0
    assert summ["empty_reason"].startswith("the budget per month ")
    assert f"raise the budget per month to at least {amount_up(cheapest)}" in summ["empty_reason"]
    # a plan that targets someone has no empty reason
    summ = make_plan(scenario["inp"]["predictions"], _ctx(scenario),
                     PlanParams(budget=100 * cheapest, goal="retention"), Constraints(),
                     with_baseline=False)["summary"]
    assert summ["customers_targeted"] > 0 and summ["empty_reason"] is None


def test_the_points_value_of_the_catalog_prices_a_points_offer(scenario: dict,
                                                               tmp_path: Path) -> None:
    """The catalog's points_rate reaches the response model: a triple-points offer at 1%
    costs a third of what it does at the assumed 3% per redemption."""
    cat = scenario["inp"]["catalog"]
    assert (cat["kind"] == "points_multiplier").any()
    path = tmp_path / "catalog.csv"
    cat.assign(points_rate=np.where(cat["kind"] == "points_multiplier", 0.01, np.nan)) \
        .to_csv(path, index=False)
    with Store(scenario["store"], read_only=True) as st:
        inp = pipeline.plan_inputs(st, scenario["as_of"], catalog=path)
    base = scenario["inp"]["predictions"]
    pts = cat.loc[cat["kind"] == "points_multiplier", "name"].iloc[0]
    a = base.loc[base["promotion"] == pts, "redemption_outside"].to_numpy()
    b = inp["predictions"].loc[inp["predictions"]["promotion"] == pts,
                               "redemption_outside"].to_numpy()
    np.testing.assert_allclose(b, a / 3.0)
    assert inp["model"].points_rate == 0.01


def test_a_plan_does_not_depend_on_the_order_of_the_stores_rows(scenario: dict,
                                                               tmp_path: Path) -> None:
    """A store's table scan guarantees no row order (DuckDB's parallel insert may store a
    small table's rows rotated): the same catalog, inventory and competitor calendar in
    another order are the same plan, with the same id and the same words."""
    other = tmp_path / "reordered.duckdb"
    shutil.copy(scenario["store"], other)
    with Store(other) as st:
        for table, key in ((s.T_CATALOG, s.NAME), (s.T_INVENTORY, s.CATEGORY),
                           (s.T_COMPETITORS, s.STARTS_AT)):
            before = st.query(f"SELECT * FROM {table}")
            st.con.execute(f"CREATE TEMP TABLE copy AS SELECT * FROM {table}")
            st.con.execute(f"DELETE FROM {table}")
            st.con.execute(f"INSERT INTO {table} SELECT * FROM copy ORDER BY {key} DESC")
            st.con.execute("DROP TABLE copy")
            after = st.query(f"SELECT * FROM {table}")
            assert len(after) > 1 and after[key].tolist() != before[key].tolist()
    plans = [pipeline.plan(path, budget=3_000, goal="profit", save=False)
             for path in (scenario["store"], other)]
    summ = [p["summary"] for p in plans]
    assert summ[0]["plan_id"] == summ[1]["plan_id"]
    for k in ("categories_to_clear", "assumptions", "warnings"):
        assert summ[0][k] == summ[1][k], k
    cols = [s.CUSTOMER_ID, "promotion"]
    pd.testing.assert_frame_equal(plans[0]["customers"][cols], plans[1]["customers"][cols])
    pd.testing.assert_frame_equal(plans[0]["promotions"], plans[1]["promotions"])
