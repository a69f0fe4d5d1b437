"""The promotion plan end to end on a generated scenario: outputs and their contract, quality
against the generator's truth, eligibility, merchant context moving the plan the right way,
infeasible and bad inputs."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from loyalist import jsontext, pipeline
from loyalist import schema as s
from loyalist.cli.main import app
from loyalist.errors import DataError, InfeasibleError, LoyalistError, ParameterError
from loyalist.promote.catalog import (
    Constraints,
    PlanParams,
    load_catalog,
    load_constraints,
)
from loyalist.promote.context import PlanContext
from loyalist.promote.eligibility import eligibility
from loyalist.promote.evaluate import evaluate_against_truth
from loyalist.promote.explain import losing_money
from loyalist.promote.instance import (
    build_instance,
    cap_allows,
    floor_sends,
    meet_inventory_caps,
    schedule,
)
from loyalist.promote.optimize import solve
from loyalist.promote.plan import make_plan
from loyalist.store import Store

pytestmark = pytest.mark.xdist_group("plan")


def _fresh(warnings: list[str]) -> list[str]:
    """The warnings other than the stale-data one, which depends on today's date."""
    return [w for w in warnings if not w.startswith("the data end on ")]


def _merchant(root: Path, scenario: str, *, seed: int) -> dict:
    """A generated merchant (3,000 customers, 18 months) loaded, customer models trained, the
    plan inputs read once, and the scenario's true responses."""
    gen = pipeline.generate(scenario, customers=3000, months=18, seed=seed, out=root / "data")
    store = root / "s.duckdb"
    pipeline.load_scenario(store, gen["files"])
    pipeline.train(store)
    with Store(store, read_only=True) as st:
        ts = st.default_as_of()
        inp = pipeline.plan_inputs(st, ts)
    truth = pd.read_parquet(gen["files"]["truth_response"])
    return {"root": root, "store": store, "as_of": ts, "inp": inp, "truth": truth,
            "files": gen["files"]}


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A fashion merchant (3,000 customers, 18 months) with customer models trained, and the
    plan inputs read once."""
    return _merchant(tmp_path_factory.mktemp("plan"), "fashion", seed=11)


def _ctx(sc: dict, **over: object) -> PlanContext:
    inp = sc["inp"]
    kw = {"customers": inp["customers"], "catalog": inp["catalog"], "as_of": sc["as_of"],
          "inventory": inp["inventory"], "competitors": inp["competitors"]}
    kw.update(over)
    return PlanContext(**kw)  # type: ignore[arg-type]


def _strict_json(text: str) -> Any:
    """``text`` parsed as JSON proper: NaN and Infinity, which Python's json module writes and
    reads but JSON.parse and jq refuse, are an error."""
    def refuse(const: str) -> None:
        raise ValueError(f"{const} is not JSON")
    return json.loads(text, parse_constant=refuse)


def test_json_text_is_strict_json() -> None:
    """Exploratory report 7, I6: plan.json and `plan --json` held a bare NaN."""
    doc = {"a": float("nan"), "b": [np.float32("nan"), np.float64("inf"), -np.inf],
           "c": (np.int64(3), np.float64(0.5)), "d": pd.Timestamp("2024-01-02"), "e": True}
    assert _strict_json(jsontext.dumps(doc)) == {"a": None, "b": [None, None, None],
                                                 "c": [3, 0.5], "d": "2024-01-02 00:00:00",
                                                 "e": True}


def test_plan_cli_json_and_files(scenario: dict, tmp_path: Path) -> None:
    r = CliRunner().invoke(app, ["plan", "--store", str(scenario["store"]), "--budget", "3000",
                                 "--goal", "retention", "--period", "30", "--out",
                                 str(tmp_path), "--json"])
    assert r.exit_code == 0, r.output
    doc = _strict_json(r.stdout)
    # valid JSON: the zero-budget point's value per spend is null, not a bare NaN (I6)
    assert _strict_json((tmp_path / "plan.json").read_text())["sensitivity"] == doc["sensitivity"]
    assert doc["sensitivity"][0]["spend"] == 0 and doc["sensitivity"][0]["value_per_spend"] is None
    for key in ("budget", "goal", "spend", "expected_value", "roi", "promotions",
                "customers_targeted", "sensitivity", "assumptions"):
        assert key in doc, key
    assert doc["budget"] == 3000 and doc["goal"] == "retention"
    assert 0 < doc["spend"] <= 3000 + 1e-6
    # the catalog's voucher has a threshold: how single orders spread around it is stated
    assert any("one order's value varies around the customer's mean" in a
               for a in doc["assumptions"])
    # (the generated history ends 2025-12-31: past 90 days before today it is said to be stale)
    assert doc["optimizer"]["gap"] < 1e-3 and _fresh(doc["warnings"]) == []
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
    from loyalist.cli.plan import short_line
    from loyalist.promote.catalog import roi_text
    from loyalist.report.html import ratio_pct

    r = CliRunner().invoke(app, ["plan", "--store", str(scenario["store"]), "--budget", "3000",
                                 "--goal", "revenue", "--out", str(tmp_path)])
    assert r.exit_code == 0, r.output
    text = " ".join(r.output.split())
    doc = json.loads((tmp_path / "plan.json").read_text())
    rev = f"{doc['incremental_revenue']:,.0f}"
    assert f"expected {rev} of incremental revenue (80%: " in text
    assert text.count(f" {rev} ") + text.count(f" {rev};") == 1
    assert f"ROI {100 * doc['roi']:,.0f}%;" in text
    first = doc["promotions"][0]
    assert re.search(rf"{first['cost']:,.0f} .{{0,3}} {100 * first['roi']:,.0f}% ", text)
    assert roi_text(1.398) == ratio_pct(1.398) == "140%" and roi_text(None) == "n/a"
    assert roi_text(-0.25) == "-25%" and roi_text(float("nan")) == "n/a"
    line = short_line({"goal": "clear_inventory", "budget": 5000.0, "budget_per_month": 5000.0,
                       "customers_targeted": 766, "spend": 3264.6, "incremental_revenue":
                       10768.4, "roi": 1.398, "confidence": "medium"})
    assert line == ("plan (clear_inventory, budget 5,000 a month): 766 customers, spend 3,265, "
                    "incremental revenue 10,768, ROI 140%, confidence medium")


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
    assert any(a.startswith("categories to clear: knitwear;") for a in doc["assumptions"])
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


def test_schedule_fills_each_month_first_fit_in_priority_order() -> None:
    # priority order; months of 10 and 10 (and a part-month of 5)
    cost = np.array([6.0, 3.0, 4.0, 2.0, 9.0, 1.0, 7.0])
    month = schedule(cost, [10.0, 10.0, 5.0])
    # 6 + 3 fill month 1 to 9; of the rest only the 1 fits (10); month 2 opens with 4 + 2,
    # then 9 and 7 fit neither month 2's 4 left nor the part-month's 5
    assert month.tolist() == [0, 0, 1, 1, -1, 0, -1]
    spent = [cost[month == k].sum() for k in range(3)]
    assert all(sp <= b + 1e-9 for sp, b in zip(spent, [10, 10, 5], strict=True))
    assert (schedule(np.array([1.0, 1.0]), [5.0, 5.0]) == 0).all()  # all fit in the first
    assert schedule(np.array([]), [5.0]).tolist() == []
    assert PlanParams(budget=0, budget_per_month=300, period_days=75).check().months() == [
        (0, 30, 300.0), (30, 30, 300.0), (60, 15, 150.0)]
    assert PlanParams(budget=0, budget_per_month=300, period_days=75).check().budget == 750
    assert PlanParams(budget=900, period_days=90).check().months() == [(0, 90, 900.0)]


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


def test_floor_sends_marks_the_best_sends_a_minimum_spend_rests_on() -> None:
    promo = np.array([0, 1, 0, 1, 0, 2])
    cost = np.array([4.0, 1.0, 4.0, 1.0, 4.0, 9.0])
    # promotion 0 needs 6: its first two sends (4, then 8 >= 6); promotion 1 none; 2 needs 9
    need = floor_sends(promo, cost, np.array([6.0, np.nan, 9.0]))
    assert need.tolist() == [True, False, True, False, False, True]
    assert not floor_sends(promo, cost, np.array([0.0, np.nan, np.nan])).any()


@pytest.mark.parametrize("promo,floor", [("free_shipping", 120.0), ("free_scarf", 150.0),
                                         ("knitwear_bogo_50", 600.0)])
def test_a_budget_per_month_keeps_minimum_spends(scenario: dict, promo: str,
                                                 floor: float) -> None:
    """Sends that fit no month are left out; a promotion's minimum spend is still met (before
    the sends it rests on were placed first, each of these fell 1-5 below its minimum)."""
    plan = make_plan(scenario["inp"]["predictions"], _ctx(scenario),
                     PlanParams(budget=0, budget_per_month=250, goal="revenue",
                                period_days=180), Constraints(min_spend={promo: floor}),
                     with_baseline=False)
    summ, chosen = plan["summary"], plan["customers"]
    assert summ["optimizer"]["left_out_by_months"] >= 1
    assert chosen.loc[chosen["promotion"] == promo, "expected_cost"].sum() >= floor
    assert chosen.groupby("send_month")["expected_cost"].sum().le(250 + 1e-6).all()
    assert summ["warnings"] == []


def test_plan_cli_budget_per_month(scenario: dict, tmp_path: Path) -> None:
    r = CliRunner().invoke(app, ["plan", "--store", str(scenario["store"]),
                                 "--budget-per-month", "1000", "--months", "2", "--goal",
                                 "revenue", "--out", str(tmp_path), "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["budget"] == 2000 and doc["budget_per_month"] == 1000
    assert doc["period_days"] == 60 and len(doc["months"]) == 2
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


def test_result_tables_of_an_older_store_take_new_columns(tmp_path: Path) -> None:
    """A store written before a result table grew a column (plan_customers' send_month) takes
    the new rows; its older rows read NULL there."""
    with Store(tmp_path / "s.duckdb") as st:
        st.write_frame("plan_customers", pd.DataFrame({"plan_id": ["a"], "priority": [1]}))
        st.write_frame("plan_customers", pd.DataFrame({"plan_id": ["b"], "priority": [1],
                                                       "send_month": [2]}),
                       replace_where="plan_id = ?", params=["b"])
        got = st.query("SELECT * FROM plan_customers ORDER BY plan_id")
    assert got["plan_id"].tolist() == ["a", "b"]
    assert pd.isna(got["send_month"].iloc[0]) and got["send_month"].iloc[1] == 2


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


def _redemptions(res: dict, promotions: list[str]) -> float:
    """The plan's expected redemptions of ``promotions``, from its rows and the predictions."""
    keys = [s.CUSTOMER_ID, "promotion"]
    rows = res["customers"][keys].merge(res["instance"].pred[[*keys, "expected_redemptions"]],
                                        on=keys, how="left", validate="one_to_one")
    assert rows["expected_redemptions"].notna().all()
    return float(rows.loc[rows["promotion"].isin(promotions), "expected_redemptions"].sum())


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
    summ = make_plan(pred, ctx, PlanParams(budget=5_000, goal="revenue"), Constraints(),
                     with_baseline=False)["summary"]
    assert not any("left unspent" in a for a in summ["assumptions"])

    # the same parameters on another store's data: another plan, another id
    other = tmp_path / "other.duckdb"
    shutil.copy(scenario["store"], other)
    with Store(other) as st:
        st.con.execute(f"UPDATE customers SET {s.MARKETING_CONSENT} = false "
                       f"WHERE {s.CUSTOMER_ID} IN (SELECT {s.CUSTOMER_ID} FROM customers "
                       f"ORDER BY {s.CUSTOMER_ID} LIMIT 500)")
    ids = [pipeline.plan(path, budget=3_000, goal="revenue", save=False)["summary"]["plan_id"]
           for path in (scenario["store"], scenario["store"], other)]
    assert ids[0] == ids[1] != ids[2]


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
    with pytest.raises(ParameterError, match="max_segment_share = 3 is impossible"):
        load_constraints(bad)
    bad.write_text("budget_per_day = 3\n")
    with pytest.raises(DataError, match="unknown key 'budget_per_day'"):
        load_constraints(bad)
    r = CliRunner().invoke(app, ["plan", "--store", str(scenario["store"]), "--goal", "fame"])
    assert r.exit_code != 0 and isinstance(r.exception, ParameterError)


def test_catalog_formats_agree(tmp_path: Path) -> None:
    (tmp_path / "c.toml").write_text(
        '[[promotion]]\nname = "ten_off"\nkind = "percent_discount"\nvalue = 10\n'
        'contact_cost = 0.05\ncategory = ["coffee", "tea"]\n'
        '[[promotion]]\nname = "pts"\nkind = "points_multiplier"\nvalue = 2\n')
    (tmp_path / "c.yaml").write_text(
        "promotions:\n  - {name: ten_off, kind: percent_discount, value: 10, "
        "contact_cost: 0.05, category: [coffee, tea]}\n"
        "  - {name: pts, kind: points_multiplier, value: 2}\n")
    (tmp_path / "c.csv").write_text(
        "name,kind,value,contact_cost,category\nten_off,percent_discount,10,0.05,coffee;tea\n"
        "pts,points_multiplier,2,,\n")
    frames = [load_catalog(tmp_path / f"c.{x}") for x in ("toml", "yaml", "csv")]
    for f in frames[1:]:
        pd.testing.assert_frame_equal(frames[0], f)
    assert frames[0]["category"].tolist() == ["coffee;tea", ""]
    # kinds as merchants' tools spell them
    (tmp_path / "spelled.csv").write_text(
        "name,kind,value,contact_cost,category\nten_off,Percentage,10,0.05,coffee;tea\n"
        "pts,Double Points,2,,\n")
    pd.testing.assert_frame_equal(frames[0], load_catalog(tmp_path / "spelled.csv"))
    (tmp_path / "bad.csv").write_text("name,kind,value\nx,teleport,10\n")
    with pytest.raises(DataError, match="promotion 'x' has kind 'teleport'; use one of"):
        load_catalog(tmp_path / "bad.csv")
    (tmp_path / "neg.csv").write_text("name,kind,value\nx,fixed_voucher,-1\n")
    with pytest.raises(DataError, match="has value -1"):
        load_catalog(tmp_path / "neg.csv")
    assert np.isnan(frames[0]["min_spend"]).all()


@pytest.mark.parametrize("encoding", ["cp1252", "utf-16", "utf-8-sig"])
def test_a_catalog_is_read_in_the_encodings_ingest_reads(tmp_path: Path, encoding: str) -> None:
    """Exploratory report 7, I5: a Windows-1252 catalog CSV was refused ("'utf-8' codec
    can't decode byte 0xc9") although `ingest` reads that encoding."""
    for suffix, text in (("csv", "name,kind,value\nÉté_sale,percent_discount,10\n"),
                         ("yaml", "promotions:\n  - {name: Été_sale, kind: bogo, value: 50}\n")):
        (tmp_path / f"c.{suffix}").write_bytes(text.encode(encoding))
        assert load_catalog(tmp_path / f"c.{suffix}")["name"].tolist() == ["Été_sale"]


def test_a_binary_file_or_folder_is_no_catalog_or_constraints(tmp_path: Path) -> None:
    """Exploratory report 7, I5: a Parquet file gave a UnicodeDecodeError traceback, and a
    folder was called "no such file"."""
    pq = tmp_path / "sales.csv"  # a Parquet file, whatever its name says
    pd.DataFrame({"a": [1]}).to_parquet(pq)
    with pytest.raises(DataError, match=r"sales.csv: a Parquet file, not text; pass a catalog "
                                        r"in TOML, YAML, JSON or CSV \(a table in another "
                                        r"format loads into the store with `loyalist ingest "
                                        r"FILE --table promotion_catalog`\)"):
        load_catalog(pq)
    (tmp_path / "c.toml").write_bytes(b"\x00\x01binary")
    with pytest.raises(DataError, match="c.toml: a binary file, not text; pass constraints"):
        load_constraints(tmp_path / "c.toml")
    with pytest.raises(DataError, match=f"{tmp_path}: a folder, not a file; pass constraints"):
        load_constraints(tmp_path)


def test_seasonal_factor_hand_computed() -> None:
    """Two years of 10 orders a day, except every December at 30: a plan for December,
    learned from campaigns in flat months, expects three times the effect; learned from a
    December campaign, the same."""
    from loyalist.promote.season import seasonal_factor

    days = pd.date_range("2023-01-01", "2024-11-30")
    daily = pd.Series(np.where(days.month == 12, 30.0, 10.0), index=days)
    as_of = pd.Timestamp("2024-12-01")
    flat = [pd.Timestamp("2024-05-01"), pd.Timestamp("2024-06-01")]
    f, note = seasonal_factor(daily, as_of, 30, flat, 14)
    base = (31 * 30 + 334 * 10) / 365  # the year around (and ending before) the windows
    assert f == pytest.approx((30 / base) / (10 / base), rel=0.02)
    assert "seasonality" in note
    f2, _ = seasonal_factor(daily, as_of, 30, [pd.Timestamp("2023-12-05")], 14)
    assert f2 == pytest.approx(1.0, rel=0.05)
    short = daily["2024-06-01":]
    assert seasonal_factor(short, as_of, 30, flat, 14) == (1.0, "")


def test_closed_season_hand_computed() -> None:
    """A plan's period with no orders in the same days of every earlier year is said to be a
    closed season; one year with sales then, or too short a history, says nothing."""
    from loyalist.promote.season import CLOSED_SEASON, closed_season

    days = pd.date_range("2021-11-20", "2024-12-24")
    selling = ((days.month == 12) & (days.day <= 24)) | ((days.month == 11) & (days.day >= 20))
    daily = pd.Series(np.where(selling, 40.0, 0.0), index=days)
    as_of = pd.Timestamp("2024-12-25")
    w = closed_season(daily, as_of, 30)
    assert w is not None and w.startswith(CLOSED_SEASON)
    # the years whose surrounding year the history covers (not 2021's, from 2021-07)
    assert "(2022-12-26 to 2023-01-24: 0 orders, 0% of an average day's rate; 2023-12-26 to " \
           "2024-01-24: 0 orders, 0% of an average day's rate): 2024-12-25 to 2025-01-23 " \
           "looks like a closed season" in w
    # a period starting in the selling season is not closed
    assert closed_season(daily, pd.Timestamp("2024-12-01"), 30) is None
    # 0.1 orders a day, 2.5% of an average day's (40 x 35 + 0.1 x 330) / 365: "almost none"
    few = daily.where(selling, 0.1)
    assert closed_season(few, as_of, 30) is not None
    # one earlier year with sales then: not a closed season
    opened = daily.copy()
    opened["2023-12-26":"2024-01-24"] = 10.0
    assert closed_season(opened, as_of, 30) is None
    # shorter than a year and a period: nothing to compare
    assert closed_season(daily["2024-01-01":], as_of, 30) is None
    # a shop selling all year: nothing to say
    flat = pd.Series(10.0, index=days)
    assert closed_season(flat, as_of, 30) is None


def test_a_plan_for_a_closed_season_warns(tmp_path: Path) -> None:
    """6a, G2: a Christmas stall planned on 25 Dec spent its budget on the 30 days after
    Christmas, when it has never sold, with no warning."""
    from test_churn import make_store, seasonal_lines

    from loyalist.promote.season import CLOSED_SEASON

    store = tmp_path / "xmas.duckdb"
    make_store(store, seasonal_lines()).close()
    pipeline.train(store)
    res = pipeline.plan(store, budget=500, goal="retention", period=30, save=False,
                        stale_check=False)
    closed = [w for w in res["summary"]["warnings"] if w.startswith(CLOSED_SEASON)]
    assert len(closed) == 1 and "2024-12-25 to 2025-01-23 looks like a closed season" in closed[0]


def _mechanics_frame() -> pd.DataFrame:
    """Two customers (baskets 200 and 800) x a voucher (50 off over 500) and triple points, in
    the shape of ResponseModel.predict: volume effects and each offer's mechanics."""
    from loyalist.response.value import offer_mechanics

    basket = np.array([200.0, 800.0])
    rows = []
    for promo, kind, value, dp, do, red in (
            ("voucher", "fixed_voucher", 50.0, [0.02, 0.04], [0.02, 0.04], [0.10, 0.12]),
            ("points", "points_multiplier", 3.0, [0.01, 0.02], [0.03, 0.05], [0.30, 0.40])):
        m = offer_mechanics(kind, value, basket, min_spend=500.0, margin_rate=0.2)
        rows.append(pd.DataFrame({
            s.CUSTOMER_ID: ["a", "b"], "promotion": promo, "kind": kind,
            "incremental_prob": dp, "incremental_orders": do,
            "incremental_orders_p10": np.array(do) / 2, "incremental_orders_p90": np.array(do) * 2,
            "expected_redemptions": red, "basket": basket, "margin_rate": 0.2,
            "redemption_added": m.added, "redemption_added_margin": m.added_margin,
            "redemption_in_price": m.in_price, "redemption_outside": m.outside,
            "contact_cost": 0.05}))
    from loyalist.promote.effects import revalue

    out = pd.concat(rows, ignore_index=True)
    for c in ("incremental_revenue", "incremental_margin", "net_value", "discount_cost",
              "expected_cost"):
        out[c] = np.nan
    for sfx in ("_p10", "_p90"):
        out[f"incremental_revenue{sfx}"] = out[f"incremental_margin{sfx}"] = np.nan
    return revalue(out)


def test_season_scales_the_subsidy_and_the_competitor_only_what_we_win() -> None:
    """The planning window's redemptions, and so its cost, follow its season: a busier window
    has more orders that use the offer, including those that would have happened anyway (the
    bug: cost stayed at the campaigns' level while effects were scaled). A competitor's sale
    takes away only the customers we would win."""
    from loyalist.promote.effects import apply_competitors

    pred = _mechanics_frame()
    catalog = pd.DataFrame({"name": ["voucher", "points"], "kind": ["fixed_voucher",
                                                                    "points_multiplier"],
                            "value": [50.0, 3.0], "contact_cost": [0.05, 0.05], "category": ""})
    as_of = pd.Timestamp("2025-08-01")
    busy = PlanContext(pd.DataFrame(index=["a", "b"]), catalog, as_of, season_factor=1.5)
    out, _ = apply_competitors(pred, busy, PlanParams(budget=100.0, goal="profit"))
    np.testing.assert_allclose(out["expected_redemptions"], 1.5 * pred["expected_redemptions"])
    np.testing.assert_allclose(out["discount_cost"], 1.5 * pred["discount_cost"])
    np.testing.assert_allclose(out["expected_cost"], 1.5 * pred["discount_cost"] + 0.05)
    np.testing.assert_allclose(out["incremental_orders"], 1.5 * pred["incremental_orders"])
    rival = pd.DataFrame({s.COMPETITOR: ["Rival"], s.STARTS_AT: [as_of],
                          s.ENDS_AT: [as_of + pd.Timedelta(days=40)],
                          s.KIND: ["percent_discount"], s.VALUE: [20.0]})
    calm_season = PlanContext(pd.DataFrame(index=["a", "b"]), catalog, as_of, competitors=rival)
    out, _ = apply_competitors(pred, calm_season, PlanParams(budget=100.0, goal="profit"))
    cut = 1 - np.array([1.4, 1.4, 0.6, 0.6]) * 0.2  # elasticity x pressure, by kind
    won = np.where(pred["kind"] == "fixed_voucher", pred["incremental_prob"],
                   pred["incremental_orders"])
    np.testing.assert_allclose(out["incremental_orders"], cut * pred["incremental_orders"])
    np.testing.assert_allclose(out["expected_redemptions"],
                               won * cut + (pred["expected_redemptions"] - won))
    # the elasticity is an assumption: the 10% / 90% points take 1.5x and 0.5x of it
    e = np.array([1.4, 1.4, 0.6, 0.6])
    np.testing.assert_allclose(out["incremental_orders_p10"],
                               (1 - 1.5 * e * 0.2) * pred["incremental_orders_p10"])
    np.testing.assert_allclose(out["incremental_orders_p90"],
                               (1 - 0.5 * e * 0.2) * pred["incremental_orders_p90"])
    # revenue and margin follow the new volumes: orders x basket + redemptions x mechanics
    red = out["expected_redemptions"]
    np.testing.assert_allclose(out["incremental_margin"],
                               out["incremental_orders"] * out["basket"] * 0.2
                               + red * (out["redemption_added_margin"]
                                        - out["redemption_in_price"]
                                        - out["redemption_outside"]))


def test_shrinkage_pools_volumes_not_the_offer_economics() -> None:
    """Shrinking towards rank 1 applies to buying, orders and redemptions; what an offer adds
    and costs per redemption stays the customer's own (a voucher tops up the small basket
    only), so the small basket's voucher keeps its top-up value."""
    from loyalist.promote.effects import shrink_effects

    pred = _mechanics_frame()
    out = shrink_effects(pred, keep=0.0)
    w = pred.pivot(index=s.CUSTOMER_ID, columns="promotion", values="incremental_orders")
    rank1 = np.outer(w.mean(axis=1), w.mean(axis=0) / w.mean(axis=0).mean())
    got = out.pivot(index=s.CUSTOMER_ID, columns="promotion", values="incremental_orders")
    np.testing.assert_allclose(got.to_numpy(), rank1)
    for c in ("redemption_added", "redemption_in_price", "basket"):
        np.testing.assert_array_equal(out[c], pred[c])
    v = out.set_index([s.CUSTOMER_ID, "promotion"])
    assert v.loc[("a", "voucher"), "redemption_added"] == pytest.approx(300.0)
    assert v.loc[("a", "voucher"), "incremental_revenue"] == pytest.approx(
        v.loc[("a", "voucher"), "incremental_orders"] * 200
        + v.loc[("a", "voucher"), "expected_redemptions"] * (300 - 50))
    np.testing.assert_allclose(out["net_value"], out["incremental_margin"] - 0.05)



def _fit_case() -> tuple[pd.DataFrame, PlanContext]:
    """Four customers x a knitwear offer, a 25-off voucher over 100, and 10% off everything."""
    cust = pd.DataFrame({
        s.CUSTOMER_ID: ["knit_many", "knit_one", "none_many", "new"],
        "share__knitwear": [1.0, 1.0, 0.0, 0.0], "share__shoes": [0.0, 0.0, 1.0, 0.0],
        "items_total": [50, 1, 50, 0]}).set_index(s.CUSTOMER_ID)
    catalog = pd.DataFrame({"name": ["knit_30", "voucher_25", "all_10"],
                            "kind": ["percent_discount", "fixed_voucher", "percent_discount"],
                            "value": [30.0, 25.0, 10.0], "contact_cost": 0.1,
                            "category": ["knitwear", "", ""],
                            "min_spend": [np.nan, 100.0, np.nan]})
    basket = {"knit_many": 50.0, "knit_one": 400.0, "none_many": 200.0, "new": np.nan}
    pred = pd.DataFrame([{s.CUSTOMER_ID: c, "promotion": p, "basket": basket[c]}
                         for p in catalog["name"] for c in cust.index])
    return pred, PlanContext(cust, catalog, pd.Timestamp("2025-01-01"))


def test_offer_fit_follows_category_shares_and_basket_depth() -> None:
    """A category offer fits the customers who buy its category, more so with more evidence;
    a money offer fits small baskets (a voucher's minimum spend is the smallest basket that
    counts); an offer on everything fits everyone alike; each promotion averages 1."""
    from loyalist.promote.effects import offer_fit

    pred, ctx = _fit_case()
    fit, note = offer_fit(pred, ctx)
    f = pd.Series(fit, index=pd.MultiIndex.from_frame(pred[["promotion", s.CUSTOMER_ID]]))
    knit = f["knit_30"]
    assert knit["knit_many"] > knit["knit_one"] > knit["new"] > knit["none_many"]
    assert knit["none_many"] > 0  # the contact still reaches someone who never bought it
    v = f["voucher_25"]
    assert v["knit_many"] == pytest.approx(v["none_many"] * 2 ** 0.5)  # 100 vs 200: sqrt(2)
    assert v["knit_one"] < v["none_many"]
    np.testing.assert_allclose(f["all_10"], 1.0)
    for promo in ctx.catalog["name"]:
        assert f[promo].mean() == pytest.approx(1.0)
    assert note is not None and note.startswith("offer fit (assumption)")
    nothing = pred[pred["promotion"] == "all_10"]
    assert offer_fit(nothing, ctx) == (pytest.approx(np.ones(len(nothing))), None)



def test_clearing_counts_only_the_revenue_in_the_categories_to_clear() -> None:
    """Exploratory report 7, I3: a knitwear offer's incremental orders are the customer's whole
    usual basket, most of it in other categories; only the customer's knitwear share of those
    baskets is knitwear revenue, plus what redemptions add less their discount, which is on
    knitwear (the bug: all its incremental revenue counted, 1.25 x 260 = 325 for "knit_many"
    below). A store-wide offer counts the customer's share of all of it, as before; an offer on
    another category only its baskets' share. Category names match without letter case."""
    from loyalist.promote.effects import CATEGORY_REVENUE_RULE, goal_values

    cust = pd.DataFrame({s.CUSTOMER_ID: ["knit_many", "knit_none"],
                         "share__knitwear": [0.4, 0.0], "share__shoes": [0.6, 1.0]}
                        ).set_index(s.CUSTOMER_ID)
    catalog = pd.DataFrame({"name": ["knit_30", "all_10", "shoes_20"],
                            "kind": "percent_discount", "value": [30.0, 10.0, 20.0],
                            "contact_cost": 0.1, "category": ["Knitwear", "", "shoes"]})
    # orders x basket + redemptions x (added - discount), per row
    pred = pd.DataFrame({
        s.CUSTOMER_ID: ["knit_many", "knit_none"] * 3,
        "promotion": ["knit_30"] * 2 + ["all_10"] * 2 + ["shoes_20"] * 2,
        "incremental_orders": [2.0, 1.0, 1.0, 1.0, 1.0, 2.0],
        "basket": [100.0, 50.0, 100.0, 50.0, 100.0, 50.0],
        "incremental_revenue": [2 * 100 + 1 * 60, 50 + 0.5 * 60, 100 - 0.5 * 10, 50 - 5.0,
                                100 + 1 * 30, 100 + 1 * 30]})
    ctx = PlanContext(cust, catalog, pd.Timestamp("2025-01-01"))
    params = PlanParams(budget=100, goal="clear_inventory", clear_categories=["knitwear"])
    v, notes = goal_values("clear_inventory", pred, ctx, params)
    expect = 1.25 * np.array([2 * 100 * 0.4 + 60, 0 + 30, 0.4 * 95, 0.0, 0.4 * 100, 0.0])
    np.testing.assert_allclose(v, expect)
    assert any(CATEGORY_REVENUE_RULE in n for n in notes)
    # the profit goal's overstock credit counts the same revenue
    pred["incremental_margin"], pred["contact_cost"] = 0.0, 0.0
    v, notes = goal_values("profit", pred, ctx, params)
    np.testing.assert_allclose(v, expect / 1.25 * 0.25)
    assert any(CATEGORY_REVENUE_RULE in n for n in notes)
    # without the basket in the predictions (e.g. a truth frame), the customer's mean order
    ctx.customers["aov_mean"] = [100.0, 50.0]
    v, _ = goal_values("clear_inventory", pred.drop(columns="basket"), ctx, params)
    np.testing.assert_allclose(v, expect)


def test_offer_fit_is_capped_and_probabilities_stay_below_one() -> None:
    """A basket of 1 among baskets of 300 would make free shipping 3.4x as attractive as the
    average; the fit stops at FIT_CAP. And however effects are redistributed, a customer's
    incremental buying probability never exceeds 1 - their baseline."""
    from loyalist.promote.effects import FIT_CAP, offer_fit, shrink_effects

    cust = pd.DataFrame({s.CUSTOMER_ID: list("abcd")}).set_index(s.CUSTOMER_ID)
    catalog = pd.DataFrame({"name": ["ship"], "kind": ["free_shipping"], "value": [5.0],
                            "contact_cost": 0.1})
    pred = pd.DataFrame({s.CUSTOMER_ID: list("abcd"), "promotion": "ship",
                         "basket": [1.0, 300.0, 300.0, 300.0]})
    fit, _ = offer_fit(pred, PlanContext(cust, catalog, pd.Timestamp("2025-01-01")))
    assert fit[0] == pytest.approx(FIT_CAP) and fit.max() <= FIT_CAP
    eff = pd.DataFrame({s.CUSTOMER_ID: list("ab") * 2, "promotion": ["x", "x", "y", "y"],
                        "incremental_prob": [0.30, 0.01, 0.30, 0.01],
                        "p_control": [0.90, 0.10, 0.90, 0.10]})
    out = shrink_effects(eff, keep=0.0, fit=np.array([3.0, 0.2, 1.0, 1.0]))
    assert (out["incremental_prob"] <= 1 - out["p_control"] + 1e-12).all()
    assert out["incremental_prob"].iloc[0] == pytest.approx(0.10)


def test_a_busier_window_keeps_buying_probabilities_below_one() -> None:
    """The seasonal scaling comes after the shrinkage's cap, so it must cap again: in a window
    1.5x as busy, a customer who buys with probability 0.9 anyway has 0.1 ** 1.5 of room left
    (the bug: 0.09 x 1.5 = 0.135, a buying probability of 1.035)."""
    from loyalist.promote.effects import apply_competitors

    catalog = pd.DataFrame({"name": ["x"], "kind": ["percent_discount"], "value": [10.0],
                            "contact_cost": 0.1, "category": ""})
    eff = pd.DataFrame({s.CUSTOMER_ID: ["a", "b"], "promotion": "x",
                        "kind": "percent_discount", "incremental_prob": [0.09, 0.05],
                        "p_control": [0.90, 0.10], "incremental_orders": [0.1, 0.05],
                        "incremental_revenue": [5.0, 2.0], "incremental_margin": [1.0, 0.4]})
    busy = PlanContext(pd.DataFrame(index=["a", "b"]), catalog, pd.Timestamp("2025-08-01"),
                       season_factor=1.5)
    out, _ = apply_competitors(eff, busy, PlanParams(budget=100.0, goal="retention"))
    assert out["incremental_prob"].iloc[0] == pytest.approx(0.1 ** 1.5)
    assert out["incremental_prob"].iloc[1] == pytest.approx(0.075)  # room enough: scaled
    assert out["incremental_orders"].iloc[0] == pytest.approx(0.15)


def test_the_probability_shown_follows_the_effects_the_plan_uses() -> None:
    """The plan shows ``p_response`` as the customer's probability of buying with the offer,
    defined as baseline + incremental. When the shrinkage and the offer fit move the incremental
    probability, or the season moves the baseline, it must move too (the bug: the fit raised a
    customer's incremental probability to 0.076 while the plan still showed the model's 0.064
    as their probability of buying at all: "p(respond) 6%; +7.6% chance to buy")."""
    from loyalist.promote.effects import apply_competitors, shrink_effects

    p0 = np.array([0.034, 0.20, 0.034, 0.20])
    inc = np.array([0.030, 0.100, 0.030, 0.100])
    eff = pd.DataFrame({s.CUSTOMER_ID: list("ab") * 2, "promotion": ["x", "x", "y", "y"],
                        "kind": "fixed_voucher", "incremental_prob": inc, "p_control": p0,
                        "p_response": p0 + inc, "control_orders": p0,
                        "treated_orders": p0 + inc, "incremental_orders": inc})
    out = shrink_effects(eff, keep=0.0, fit=np.array([3.0, 0.1, 1.0, 1.0]))
    assert out["incremental_prob"].iloc[0] > eff["p_response"].iloc[0]  # the fit moved it
    np.testing.assert_allclose(out["p_response"], out["p_control"] + out["incremental_prob"])
    assert (out["p_response"] >= out["incremental_prob"]).all()
    np.testing.assert_allclose(out["treated_orders"],
                               out["control_orders"] + out["incremental_orders"])
    # a lift that would take buying below 0 stops at -baseline
    low = shrink_effects(eff.assign(incremental_prob=[-0.3, -0.3, -0.3, -0.3]), keep=1.0 - 1e-9)
    np.testing.assert_allclose(low["incremental_prob"], -p0)
    np.testing.assert_allclose(low["p_response"], 0.0, atol=1e-12)
    # a window 1.5x as busy: the baseline is that window's, and the probability with the offer
    catalog = pd.DataFrame({"name": ["x", "y"], "kind": "fixed_voucher", "value": 10.0,
                            "contact_cost": 0.1, "category": ""})
    busy = PlanContext(pd.DataFrame(index=["a", "b"]), catalog, pd.Timestamp("2025-08-01"),
                       season_factor=1.5)
    win, _ = apply_competitors(out, busy, PlanParams(budget=100.0, goal="retention"))
    np.testing.assert_allclose(win["p_control"], 1 - (1 - out["p_control"]) ** 1.5)
    np.testing.assert_allclose(win["p_response"], win["p_control"] + win["incremental_prob"])
    np.testing.assert_allclose(win["control_orders"], 1.5 * out["control_orders"])
    assert (win["p_response"] <= 1.0).all()

def test_offer_fit_redistributes_but_keeps_each_promotion_total() -> None:
    """With the fit, shrinkage still keeps each promotion's total effect over customers (what
    its experiment measured) and moves it towards the customers it fits."""
    from loyalist.promote.effects import shrink_effects

    pred = _mechanics_frame()
    fit = np.where(pred[s.CUSTOMER_ID] == "a", 1.5, 0.5)
    fit = np.where(pred["promotion"] == "points", 1.0, fit)
    plain = shrink_effects(pred, keep=0.0)
    fitted = shrink_effects(pred, keep=0.0, fit=fit)
    for col in ("incremental_orders", "incremental_prob"):
        tot = plain.groupby("promotion")[col].sum()
        np.testing.assert_allclose(fitted.groupby("promotion")[col].sum(), tot)
    v = fitted.set_index([s.CUSTOMER_ID, "promotion"])["incremental_orders"]
    p = plain.set_index([s.CUSTOMER_ID, "promotion"])["incremental_orders"]
    assert v[("a", "voucher")] > p[("a", "voucher")] and v[("b", "voucher")] < p[("b", "voucher")]
    np.testing.assert_allclose(v.xs("points", level=1), p.xs("points", level=1))


def test_offer_fit_moves_the_lift_not_the_redemptions() -> None:
    """The offer fit redistributes who an offer moves; the redemptions, mostly by customers
    who buy anyway and learned from the recorded ones, keep their own structure (the bug:
    the fit multiplied a knitwear-heavy customer's buy-one-get-one redemptions, and so its
    cost and value, on the fashion scenario by 1.18x, moving the clearance plan to it)."""
    from loyalist.promote.effects import shrink_effects

    pred = _mechanics_frame()
    fit = np.where(pred[s.CUSTOMER_ID] == "a", 1.5, 0.5)
    plain = shrink_effects(pred, keep=0.0)
    fitted = shrink_effects(pred, keep=0.0, fit=fit)
    np.testing.assert_allclose(fitted["expected_redemptions"], plain["expected_redemptions"])
    np.testing.assert_allclose(fitted["discount_cost"], plain["discount_cost"])
    v = fitted.set_index([s.CUSTOMER_ID, "promotion"])["incremental_prob"]
    p = plain.set_index([s.CUSTOMER_ID, "promotion"])["incremental_prob"]
    assert v[("a", "voucher")] > p[("a", "voucher")] and v[("b", "voucher")] < p[("b", "voucher")]


def test_each_promotion_follows_the_season_of_its_own_campaigns() -> None:
    """A promotion sent in a busy December and one sent in flat months, planned for a flat
    month: the December one's effects (learned in a busy window) are scaled down to a third,
    the other's kept; one factor for all campaigns scaled both by their average. A campaign
    in the history's first half year counts, against the history's first year (before, it
    had no surrounding year and the factor was 1 with no campaign measured)."""
    from loyalist.promote.effects import apply_competitors
    from loyalist.promote.season import promotion_season_factors, seasonal_factor

    days = pd.date_range("2023-01-01", "2024-12-31")
    daily = pd.Series(np.where(days.month == 12, 30.0, 10.0), index=days)
    as_of = pd.Timestamp("2025-01-01")
    sends = {"voucher": [pd.Timestamp("2024-12-05")],
             "points": [pd.Timestamp("2024-05-01"), pd.Timestamp("2024-06-01")]}
    f = promotion_season_factors(daily, as_of, 14, sends, 14)
    assert f["voucher"] == pytest.approx(10 / 30, rel=0.02)
    assert f["points"] == pytest.approx(1.0, rel=0.02)
    early = promotion_season_factors(daily, as_of, 14, {"points": [pd.Timestamp("2023-02-01")]},
                                     14)
    assert early["points"] == pytest.approx(1.0, rel=0.02)
    assert seasonal_factor(daily, as_of, 14, [pd.Timestamp("2023-12-05")], 14)[0] == \
        pytest.approx(10 / 30, rel=0.02)

    pred = _mechanics_frame()
    catalog = pd.DataFrame({"name": ["voucher", "points"], "kind": ["fixed_voucher",
                                                                    "points_multiplier"],
                            "value": [50.0, 3.0], "contact_cost": [0.05, 0.05], "category": ""})
    ctx = PlanContext(pd.DataFrame(index=["a", "b"]), catalog, as_of, season_factor=0.5,
                      promotion_season={"voucher": f["voucher"]})
    out, notes = apply_competitors(pred, ctx, PlanParams(budget=100.0, goal="profit"))
    k = np.where(pred["promotion"] == "voucher", f["voucher"], 0.5)  # points: the one factor
    np.testing.assert_allclose(out["expected_redemptions"], k * pred["expected_redemptions"])
    np.testing.assert_allclose(out["incremental_orders"], k * pred["incremental_orders"])
    assert any("campaigns that sent it" in n for n in notes)


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

@pytest.fixture(scope="module")
def electronics(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """An electronics merchant (3,000 customers, 18 months): expensive baskets, thin
    margins, few orders per customer, the case where discounts mostly subsidise purchases that
    would have happened anyway."""
    return _merchant(tmp_path_factory.mktemp("plan_electronics"), "electronics", seed=5)


@pytest.mark.slow
@pytest.mark.parametrize("goal", ["profit", "average_order_value"])
def test_electronics_profit_is_not_a_subsidy(electronics: dict, goal: str) -> None:
    """On this scenario the plan's predicted profit was 8x its true value and its true profit
    16% of the oracle's, below random targeting (24%): the margin came from a noisy spend
    uplift, every promotion's lift was inflated by the baselines' out-of-sample shortfall, and
    the discount on purchases that would have happened anyway was not paid in full. (Measured
    before the fix: profit 16%, predicted/true 8.3; average order value 38%.)"""
    inp = electronics["inp"]
    ctx = PlanContext(inp["customers"], inp["catalog"], electronics["as_of"],
                      inp["inventory"], inp["competitors"], season_factor=inp["season_factor"])
    r = evaluate_against_truth(inp["predictions"], electronics["truth"], ctx,
                               PlanParams(budget=15_000, goal=goal), Constraints())
    share = r["model"]["share_of_oracle"]
    assert share >= 0.65, r
    assert share >= r["random"]["share_of_oracle"] + 0.3, r
    assert r["model"]["predicted_value"] <= 2.0 * r["model"]["true_value"], r


@pytest.fixture(scope="module")
def transactions_only(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with nothing but a transaction log (400 customers) and its scores: every
    promotion of a plan is priced by the priors."""
    from test_churn import make_store, synthetic_lines

    store = tmp_path_factory.mktemp("transactions_only") / "t.duckdb"
    make_store(store, synthetic_lines(n_customers=400)).close()
    pipeline.train(store)
    return store


def test_plan_on_a_transactions_only_store(tmp_path: Path, transactions_only: Path) -> None:
    """A merchant with nothing but a transaction log (no catalog, promotion history, competitor
    calendar or inventory: those tables exist empty) gets a plan from the generic catalog and
    the priors, with each prior stated once per kind and segment."""
    store = transactions_only
    r = CliRunner().invoke(app, ["plan", "--store", str(store), "--budget", "500", "--goal",
                                 "retention", "--period", "30", "--out", str(tmp_path / "p"),
                                 "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["customers_targeted"] > 0 and 0 < doc["spend"] <= 500 + 1e-6
    # the goal's value in its own unit, with what each unit costs
    assert doc["goal_unit"] == "customers kept" and doc["goal_value"] > 0
    assert doc["cost_per_goal_unit"] == pytest.approx(doc["spend"] / doc["goal_value"])
    losing = [w for w in doc["warnings"] if w.startswith("this plan costs more than it earns")]
    assert len(losing) == (1 if doc["net_profit"] < 0 else 0)
    notes = doc["assumptions"]
    assert any(a.startswith("no promotion catalog given or loaded") for a in notes)
    priors = [a for a in notes if a.startswith("prior for ")]
    heads = [a.split(":")[0] for a in priors]
    assert priors and len(heads) == len(set(heads))  # one statement per (kind, segment)
    # under the priors no offer makes a basket larger: an empty plan that says why
    r = CliRunner().invoke(app, ["plan", "--store", str(store), "--budget", "500", "--goal",
                                 "aov", "--period", "30", "--out", str(tmp_path / "a"),
                                 "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["customers_targeted"] == 0 and doc["spend"] == 0
    assert doc["goal_unit"] == "of revenue above the usual baskets"
    assert doc["cost_per_goal_unit"] is None
    # a transactions-only store knows no consent: every customer is taken as consented, said
    doc["warnings"] = _fresh(doc["warnings"])
    assert len(doc["warnings"]) == 2
    assert doc["warnings"][0].startswith("no promotion is expected to raise average order value")
    assert "minimum-spend voucher with a control group" in doc["warnings"][0]
    assert doc["warnings"][1].startswith("no marketing consent or opt-out is known for any "
                                         "customer")


def test_the_merchants_priors_move_a_plan_priced_by_priors(tmp_path: Path,
                                                           transactions_only: Path) -> None:
    """Issue #5: the priors are configurable from the command line. Double points is the
    generic catalog's weakest offer under the documented priors and gets nobody; a priors file
    that makes it lift buying by 8 points (4 for lost customers) moves the plan to it, its
    other rows keep their default, and the assumptions name the file and the rows it
    changes."""
    def plan(*extra: str) -> dict[str, Any]:
        r = CliRunner().invoke(app, ["plan", "--store", str(transactions_only), "--budget",
                                     "500", "--out", str(tmp_path / "p"), "--json", *extra])
        assert r.exit_code == 0, r.output
        return json.loads(r.stdout)  # type: ignore[no-any-return]

    def on(doc: dict[str, Any], promo: str, col: str) -> float:
        return sum(p[col] for p in doc["promotions"] if p["promotion"] == promo)

    before = plan()
    # every promotion of the generic catalog is priced by the documented priors
    assert before["priors"]["source"] == "defaults" and before["priors"]["overridden"] == []
    assert len(before["priors"]["priced"]) == 4 and "double_points" in before["priors"]["priced"]
    assert any(a.startswith("response priors: the documented defaults for the promotions "
                            "without a measured response") for a in before["assumptions"])
    priors = tmp_path / "priors.csv"
    priors.write_text("kind,segment,incremental_prob,use_rate\n"
                      "points_multiplier,active,0.08,0.8\n"
                      "points,lapsing,0.08,0.8\n"  # the catalog's aliases are accepted
                      "points_multiplier,lost,0.04,0.8\n")
    after = plan("--priors", str(priors))
    assert on(before, "double_points", "customers") == 0
    assert on(after, "double_points", "customers") > 0.5 * after["customers_targeted"]
    assert on(after, "double_points", "cost") > 0.5 * after["spend"]
    assert after["plan_id"] != before["plan_id"]
    assert after["priors"]["source"] == str(priors)
    assert [(r["kind"], r["segment"], r["incremental_prob"], r["default_incremental_prob"])
            for r in after["priors"]["overridden"]] == [
        ("points_multiplier", "active", 0.08, 0.01),
        ("points_multiplier", "lapsing", 0.08, 0.006),
        ("points_multiplier", "lost", 0.04, 0.0025)]
    note = next(a for a in after["assumptions"] if a.startswith("response priors"))
    assert note.startswith(f"response priors from {priors} for the promotions without a "
                           "measured response (")
    assert "points_multiplier x active incremental_prob 0.08 (default 0.01)" in note
    assert note.endswith("the other kind x segment rows are the documented defaults")
    # the promotions priced by priors are still marked as assumptions, with the new numbers
    assert any(a.startswith("prior for points_multiplier x active: +8.0% purchase probability")
               for a in after["assumptions"])
    assert after["confidence"].startswith("low")


def test_the_default_priors_are_printed_and_written_to_edit(tmp_path: Path) -> None:
    """``loyalist priors --out FILE`` writes the documented table with a first line saying what
    the columns mean; read back as a priors file it is the defaults, row for row."""
    from loyalist.promote.catalog import load_priors
    from loyalist.response.priors import PRIOR_TABLE, changed_rows, with_overrides

    out = tmp_path / "priors.csv"
    r = CliRunner().invoke(app, ["priors", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "incremental_prob" in r.stdout and str(out) in r.stdout.replace("\n", "")
    first = out.read_text().splitlines()[0]
    assert first.startswith("# ") and "use_rate: share of buyers who use the offer" in first
    back = load_priors(out)
    assert len(back) == len(PRIOR_TABLE) and changed_rows(back) == []
    pd.testing.assert_frame_equal(with_overrides(back), PRIOR_TABLE)
    doc = json.loads(CliRunner().invoke(app, ["priors", "--json"]).stdout)
    assert doc["priors"] == PRIOR_TABLE.to_dict(orient="records")
    r = CliRunner().invoke(app, ["priors", "--out", str(tmp_path / "priors.toml")])
    assert isinstance(r.exception, ParameterError) and "give a .csv file" in str(r.exception)


@pytest.mark.parametrize(("text", "suffix", "rows"), [
    ('[[prior]]\nkind = "bogo"\nsegment = "Active"\nincremental_prob = 0.05\n'
     "use_rate = 0.3\n", ".toml", [("bogo", "active", 0.05, 0.3)]),
    ("priors:\n  - {kind: voucher, segment: lost, incremental_prob: 0.01, use_rate: 0.2}\n"
     "  - {kind: default, segment: new, incremental_prob: 0, use_rate: 1}\n", ".yaml",
     [("fixed_voucher", "lost", 0.01, 0.2), ("default", "new", 0.0, 1.0)]),
    ('[{"kind": "free_item", "segment": "lapsing", "incremental_prob": 0.04, '
     '"use_rate": 0.5}]', ".json", [("free_item", "lapsing", 0.04, 0.5)]),
], ids=["toml", "yaml", "json"])
def test_a_priors_file_reads_as_the_catalog_does(tmp_path: Path, text: str, suffix: str,
                                                 rows: list[tuple[Any, ...]]) -> None:
    """TOML ``[[prior]]`` tables, YAML / JSON lists (under ``priors`` or bare), the catalog's
    kind aliases; a partial table replaces only its rows."""
    from loyalist.promote.catalog import load_priors
    from loyalist.response.priors import PRIOR_TABLE, with_overrides

    f = tmp_path / f"p{suffix}"
    f.write_text(text)
    got = load_priors(f)
    assert list(got.itertuples(index=False, name=None)) == rows
    merged = with_overrides(got).set_index(["kind", "segment"])
    base = PRIOR_TABLE.set_index(["kind", "segment"])
    for k, g, inc, use in rows:
        assert tuple(merged.loc[(k, g)]) == (inc, use)
    assert (merged.drop(index=[(k, g) for k, g, *_ in rows])
            == base.drop(index=[(k, g) for k, g, *_ in rows])).all().all()


def test_the_priors_note_says_which_priors_were_used() -> None:
    """Priors given but used by no promotion (every response measured) are said, not
    ignored; so are changed rows of a kind no prior-priced promotion has."""
    from loyalist.response.priors import priors_note

    given = pd.DataFrame({"kind": ["bogo", "fixed_voucher"], "segment": ["active", "lost"],
                          "incremental_prob": [0.05, 0.005], "use_rate": [0.25, 0.3]})
    given.attrs["source"] = "mine.csv"
    measured = {"a": "relative_lift", "b": "t"}
    assert priors_note(measured, None) == (None, {"source": "defaults", "overridden": [],
                                                  "priced": [], "use_rate_for": []})
    note, info = priors_note(measured, given)
    assert note == ("response priors from mine.csv not used: every promotion's response is "
                    "measured from the promotion history (a, b), none is priced by priors")
    # the voucher row equals its default: only the BOGO row is a change
    assert [(r["kind"], r["segment"]) for r in info["overridden"]] == [("bogo", "active")]
    note, info = priors_note({"a": "prior", "b": "t"}, given, use_rate_for=["b"],
                             kinds={"a": "fixed_voucher", "b": "percent_discount"})
    assert note == ("response priors from mine.csv for the promotions without a measured "
                    "response (a), the use rate of b (measured, redemptions not recorded): it "
                    "changes bogo x active incremental_prob 0.05 (default 0.015); the other "
                    "kind x segment rows are the documented defaults; its rows for bogo are "
                    "not used: no promotion of that kind is priced by priors")
    assert info["priced"] == ["a"] and info["use_rate_for"] == ["b"]


def test_losing_money_warning_names_the_price_of_the_goal() -> None:
    w = losing_money("retention", -776.0, 16.66, 51.54)
    assert w is not None and "net profit -776 for 16.7 customers kept" in w
    assert "51.54 of spend for each" in w
    assert losing_money("retention", 10.0, 16.66, 51.54) is None  # pays for itself
    assert losing_money("profit", -5.0, -5.0, None) is None  # the profit goal is the loss
    w = losing_money("revenue", -20.0, 300.0, None)
    assert w is not None and "300 of incremental revenue" in w and "each" not in w


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



@pytest.mark.parametrize(("median", "voucher", "fee", "contact"), [
    (None, 5.0, 5.0, 0.05),  # order values unknown: the catalog as written
    (40.0, 6.0, 5.0, 0.05),  # inside the range: only the voucher follows the order value
    (4.2, 0.63, 2.1, 0.021),  # a coffee bar: everything smaller
    (169.0, 25.0, 8.4, 0.085),  # large orders (or a currency with small units)
    (0.2, 0.03, 0.1, 0.001),  # prices recorded in thousands
])
def test_generic_catalog_fits_the_stores_order_value(median: float | None, voucher: float,
                                                     fee: float, contact: float) -> None:
    """Without a catalog, fixed money amounts written for orders of 10-100 would be a 100%
    voucher in a coffee bar and a 0.05 contact cost would outweigh every order of a store that
    records prices in thousands: they follow the store's median order value, and say so."""
    from loyalist.promote.catalog import generic_catalog

    cat, what = generic_catalog(median)
    v = cat.set_index("kind")
    assert v.loc["fixed_voucher", "value"] == pytest.approx(voucher)
    assert v.loc["free_shipping", "value"] == pytest.approx(fee)
    assert cat["contact_cost"].tolist() == pytest.approx([contact] * len(cat))
    assert v.loc["percent_discount", "value"] == 10.0 and v.loc["points_multiplier", "value"] == 2
    assert f"voucher_{voucher:g}" in what and what.endswith("pass --catalog FILE")
    assert ("median order value" in what) == (median is not None)
    assert ("scaled to it" in what) == (median is not None and not 10 <= median <= 100)


def test_median_order_value_with_and_without_the_per_order_table(tmp_path: Path) -> None:
    """The generic catalog's scale: the per-order table when it is up to date, else the lines
    (a store from before that table: the 10M-line benchmark store crashed the plan with
    'customer_orders does not exist'); both give the same median."""
    from test_churn import make_store, synthetic_lines

    from loyalist.store import Store

    path = tmp_path / "t.duckdb"
    make_store(path, synthetic_lines(n_customers=200)).close()
    with Store(path) as st:
        ts = st.default_as_of()
        fresh = pipeline.promotions._median_order_value(st, ts)
        st.con.execute("DROP TABLE customer_orders")
        assert pipeline.promotions._median_order_value(st, ts) == pytest.approx(fresh)
        assert fresh > 0


def test_plan_interval_adds_one_promotions_errors_up() -> None:
    """A promotion's customers share its fitted model (a bootstrap bag refits it for all of
    them), so their sampling errors add up; promotions are bootstrapped apart, so theirs add
    in quadrature. The old rule treated every customer as independent: 100 customers of one
    promotion, each +-1 around 1, gave +-10 around 100 where the model's error is +-100."""
    from loyalist.promote.explain import summed_interval

    one = pd.DataFrame({"promotion": "a", "incremental_revenue": np.ones(100),
                        "incremental_revenue_p10": np.zeros(100),
                        "incremental_revenue_p90": np.full(100, 2.0)})
    assert summed_interval(one) == pytest.approx((0.0, 200.0))
    two = pd.concat([one, one.assign(promotion="b", incremental_revenue_p10=0.5)])
    lo, hi = summed_interval(two)
    assert lo == pytest.approx(200 - np.hypot(100, 50)) and hi == pytest.approx(200 + np.hypot(
        100, 100))


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


def test_drop_wasteful_keeps_the_pairs_a_minimum_spend_needs() -> None:
    from loyalist.promote.eligibility import drop_wasteful

    value = np.array([[1.0, 1e-9], [2.0, 1e-9], [1.0, 3.0]])
    cost = np.ones((3, 2))
    ok = np.ones((3, 2), dtype=bool)
    v, note = drop_wasteful(value, cost, ok, "retention", Constraints(), ["a", "b"])
    assert (v[:, 1][:2] == 0).all() and v[2, 1] == 3.0 and note and "2 (customer" in note
    v, note = drop_wasteful(value, cost, ok, "retention", Constraints(min_spend={"b": 1.0}),
                            ["a", "b"])
    assert (v == value).all() and note is None


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


def test_catalog_refuses_unknown_keys_and_impossible_percents(tmp_path: Path) -> None:
    """A misspelt catalog key was ignored (a category offer went store-wide, a contact cost
    fell back to its default): refused like the constraints file's, naming file, promotion,
    the likely key and the known keys."""
    files = {
        "a.toml": '[[promotion]]\nname = "knit20"\nkind = "percent_discount"\nvalue = 20\n'
                  'categroy = "knitwear"\n',
        "b.yaml": "promotions:\n  - {name: knit20, kind: percent_discount, value: 20, "
                  "min_spnd: 100}\n",
        "c.csv": "name,kind,value,contact_cots\nknit20,percent_discount,20,0.1\n",
    }
    for (f, text), (key, near) in zip(files.items(), [("categroy", "category"),
                                                      ("min_spnd", "min_spend"),
                                                      ("contact_cots", "contact_cost")],
                                      strict=True):
        (tmp_path / f).write_text(text)
        with pytest.raises(DataError, match=rf"{f}: unknown key '{key}' \(promotion 'knit20'\); "
                                            rf"did you mean '{near}'\? known keys: name, kind"):
            load_catalog(tmp_path / f)
    # the other names `ingest --table promotion_catalog` reads are read here too, also when
    # one promotion spells a key one way and the next another
    (tmp_path / "d.yaml").write_text(
        "promotions:\n  - {name: p10, kind: percent_discount, value: 10, contactcost: 0.1}\n"
        "  - {name: v5, Type: fixed_voucher, value: 5, Contact Cost: 0.2}\n")
    got = load_catalog(tmp_path / "d.yaml")
    assert got[["kind", "contact_cost"]].values.tolist() == [["percent_discount", 0.1],
                                                             ["fixed_voucher", 0.2]]
    (tmp_path / "p.csv").write_text("name,kind,value\nfree_money,percent_discount,150\n")
    with pytest.raises(DataError, match=r"p.csv: promotion 'free_money' has value 150; .*0..100"):
        load_catalog(tmp_path / "p.csv")


def test_catalog_segments_and_categories_are_checked(scenario: dict) -> None:
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
    wine = cat.assign(category=["wine"] + list(cat["category"].iloc[1:]))
    wine.attrs["source"] = "cat.csv"
    inst = build_instance(pred, _ctx(scenario, catalog=wine), PlanParams(budget=100),
                          Constraints())
    assert any("is on 'wine', which this store has never sold" in w for w in inst.warnings)
    assert any("never sold" in n for n in inst.notes)
    clean = build_instance(pred, _ctx(scenario), PlanParams(budget=100), Constraints())
    assert not clean.warnings


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
    from loyalist.promote.explain import in_merchant_words

    assert in_merchant_words("promotion 1: promo_min_spend 5.00 cannot be reached", ["a", "b"],
                  "c.toml") == "c.toml: b: min_spend 5.00 cannot be reached"


def test_run_and_plan_check_spend_limits_before_loading(tmp_path: Path) -> None:
    """`run` refused minimums above the budget only after loading and training everything."""
    c = tmp_path / "c.toml"
    c.write_text("[min_spend]\nfree_shipping = 500\n")
    sales = tmp_path / "sales.csv"
    sales.write_text("customer_id,order_id,ordered_at,product_id,quantity,unit_price\n"
                     "C1,O1,2025-01-01,P1,1,10\n")
    store = tmp_path / "s.duckdb"
    for args in (["run", str(sales), "--store", str(store), "--out", str(tmp_path / "o"),
                  "--budget", "100", "--constraints", str(c)],
                 ["plan", "--store", str(store), "--budget", "100", "--constraints", str(c)]):
        r = CliRunner().invoke(app, args)
        assert isinstance(r.exception, LoyalistError), r.output  # one line, exit code 2
        assert "c.toml: min_spend for free_shipping (500.00) is more than the budget 100.00" \
            in str(r.exception)
        assert not store.exists()


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


def test_generic_catalog_writes_large_amounts_readably() -> None:
    """A shop in rupiah (median order 9.5 million): the generic catalog's names and notes carry
    no scientific notation (the bug: a promotion named ``voucher_1.4e+06`` and "median order
    value 9.499e+06"), and ordinary shops keep their names."""
    from loyalist.promote.catalog import generic_catalog

    cat, what = generic_catalog(9_498_786.0)
    assert "voucher_1400000" in list(cat["name"])
    assert "e+" not in what and "e-" not in what
    for text in ("voucher 1,400,000", "shipping fee 470,000", "contact cost 4,700",
                 "median order value 9,498,786"):
        assert text in what, text
    from loyalist.promote.catalog import amount_name, amount_text

    assert [amount_name(x) for x in (5.0, 0.63, 25.0, 0.00003)] == ["5", "0.63", "25",
                                                                    "0.00003"]
    assert [amount_text(x) for x in (0.0, -0.0, 0.04, 16.7, 1998.88, 1.4e6)] == [
        "0", "0", "0.04", "16.7", "1,999", "1,400,000"]
    assert amount_text(4964.2, up=True) == "4,965" and amount_text(0.03121, up=True) == "0.0313"


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
    assert "spend 0 of 0.01 on 0 customers" in text
    assert "-0.000%" not in text and "optimality gap 0.000%" in text
    said = re.search(r"nobody targeted: (the budget 0\.01 is below the cost of a single send "
                     r"worth making: the cheapest, \S+, costs ([\d.,]+) \([\d.,]+ contact cost"
                     r"(?: and [\d.,]+ of expected discount)?\); raise the budget to at least "
                     r"([\d.,]+) \(.*? would cost [\d.,]+\))", text)
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


def test_a_customer_missing_from_the_customers_table_is_no_consent_and_no_warning() -> None:
    """explore7 I12: after a sales file with a customer the customers table does not hold,
    consent and opt-out are object columns with a missing value, and every plan printed two
    pandas FutureWarnings (fillna downcasting); warnings are errors in the tests."""
    customers = pd.DataFrame({s.MARKETING_CONSENT: [True, None, True],
                              s.EMAIL_OPT_OUT: [False, None, True], "segment": "Loyal"},
                             index=pd.Index(["a", "new", "out"]), dtype=object)
    ctx = PlanContext(customers=customers, as_of=pd.Timestamp("2025-01-01"),
                      catalog=pd.DataFrame({"name": ["ten"], "eligible_segments": [""],
                                            "category": [""]}))
    pred = pd.DataFrame({s.CUSTOMER_ID: ["a", "new", "out"], "promotion": "ten"})
    ok, excluded = eligibility(pred, ctx, PlanParams(budget=100, goal="revenue"), Constraints())
    assert ok.tolist() == [True, False, False]
    assert excluded["no_consent_or_opted_out"] == 2


# --------------------------------------------------------------------------------------------
# A closed season: the plan spends (almost) nothing and keeps the budget
# --------------------------------------------------------------------------------------------
def test_seasonal_factor_of_a_closed_season_is_its_measured_index() -> None:
    """A Christmas stall planned for the 30 days after Christmas: its effects scale with that
    season's orders, 0 (the bug: floored at 0.25 of the campaigns', or 1 without campaigns,
    so a plan spent its budget on offers nobody could use). A period with a few sales scales
    by the most any earlier year had. A slow but open period keeps the 0.25 floor."""
    from loyalist.promote.season import CLOSED_SHARE, seasonal_factor

    days = pd.date_range("2021-11-20", "2024-12-24")
    selling = ((days.month == 12) & (days.day <= 24)) | ((days.month == 11) & (days.day >= 20))
    daily = pd.Series(np.where(selling, 40.0, 0.0), index=days)
    as_of = pd.Timestamp("2024-12-25")
    in_season = [pd.Timestamp("2023-11-25"), pd.Timestamp("2024-11-25")]
    f, note = seasonal_factor(daily, as_of, 30, in_season, 14)
    assert f == 0.0 and note.startswith("seasonality: the planning window is a closed season")
    assert "incremental effects and redemptions scaled by 0.00" in note
    f, note = seasonal_factor(daily, as_of, 30, [], 14)  # no campaign: the assumed response
    assert f == 0.0 and "the assumed response (no campaign measured)" in note
    # a few sales: 0.1 orders a day (2.5% of an average day's) in 2023, none in 2022
    few = daily.copy()
    few["2023-12-26":"2024-01-24"] = 0.1
    base = (35 * 40 + 30 * 0.1) / 365  # the year ending at as_of, both windows' reference
    camp = 40 / base  # each campaign window: 14 days at 40 orders
    f, _ = seasonal_factor(few, as_of, 30, in_season, 14)
    assert f == pytest.approx((0.1 / base) / camp, rel=1e-6) and f < CLOSED_SHARE
    assert seasonal_factor(few, as_of, 30, [], 14)[0] == pytest.approx(0.1 / base, rel=1e-6)
    # open, but slow (a tenth of the season's rate after Christmas, every year): the floor
    slow = daily.where(selling, 4.0)
    f, note = seasonal_factor(slow, as_of, 30, in_season, 14)
    assert f == 0.25 and "the planning window was" in note


def _stall(root: Path, *, campaigns: bool) -> dict:
    """The Christmas stall of tests/test_churn.py (sales only from 20 Nov to 24 Dec,
    2021-2024), its products in two categories, trained, and its plan inputs for the 30 days
    from 25 Dec, when it has never sold. ``campaigns``: pct10_off against a control group on
    22 Nov of 2022-2024, in the season, so the response model measures its effect there and
    the planning window is 0x the campaigns' (the old factor: floored at 0.25); without, the
    response is assumed (the old factor: 1)."""
    from conftest import LOADED_AT, write_csv
    from test_churn import make_store, seasonal_lines

    from loyalist.ingest import ingest_files

    lines = seasonal_lines()
    lines["category"] = np.where(lines["product_id"].str[1:].astype(int) < 10, "ornaments",
                                 "gifts")
    store = root / "xmas.duckdb"
    st = make_store(store, lines)
    if campaigns:
        rng = np.random.default_rng(2)
        rows = [{"customer_id": f"C{i:04d}", "sent_at": f"{year}-11-22 09:00:00",
                 "promotion": "pct10_off" if rng.random() < 0.5 else "control"}
                for year in (2022, 2023, 2024) for i in range(400)]
        ingest_files(st, [write_csv(root / "promotions.csv", rows)], table="promotions",
                     loaded_at=LOADED_AT)
    st.close()
    pipeline.train(store)
    with Store(store, read_only=True) as st:
        ts = st.default_as_of()
        inp = pipeline.plan_inputs(st, ts)
    return {"store": store, "as_of": ts, "inp": inp}


@pytest.fixture(scope="module", params=["campaigns", "assumed response"])
def stall(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict:
    return _stall(tmp_path_factory.mktemp("stall"), campaigns=request.param == "campaigns")


CLOSED_GOALS = ("retention", "revenue", "profit", "visit_frequency", "average_order_value",
                "reactivation", "clear_inventory")


def test_a_plan_for_a_closed_season_spends_nothing_and_keeps_the_budget(stall: dict) -> None:
    """A Christmas stall planned on 25 Dec for the 30 days after, when it has never sold: the
    effects follow the season (0 x), so no offer is worth anything and every send would cost
    its contact cost; the plan sends nothing, for every goal, and says the budget is kept
    (the bug: it spent 98-195 of a 500 budget on retention, on offers nobody could use)."""
    from loyalist.promote.season import CLOSED_SEASON

    inp = stall["inp"]
    assert inp["season_factor"] == 0.0 and inp["closed_season"] is not None
    ctx = PlanContext(customers=inp["customers"], catalog=inp["catalog"], as_of=stall["as_of"],
                      inventory=inp["inventory"], competitors=inp["competitors"],
                      assumptions=inp["assumptions"], season_factor=inp["season_factor"],
                      season_note=inp["season_note"], closed_season=inp["closed_season"])
    for goal in CLOSED_GOALS:
        clear = ["ornaments"] if goal == "clear_inventory" else []
        res = make_plan(inp["predictions"], ctx,
                        PlanParams(budget=500.0, goal=goal, clear_categories=clear),
                        Constraints())
        summ = res["summary"]
        assert summ["spend"] == 0 and summ["customers_targeted"] == 0, goal
        assert summ["goal_value"] == 0 and summ["roi"] is None and res["customers"].empty
        closed = [w for w in summ["warnings"] if w.startswith(CLOSED_SEASON)]
        assert closed == [summ["empty_reason"]], goal
        assert closed[0].endswith("; this plan sends nothing and keeps the whole budget of 500")
        # the redemptions follow the season too: a send costs only its contact cost
        cost = np.asarray(res["instance"].problem.cost)
        np.testing.assert_allclose(cost, 0.05)
        assert any("closed season" in a and "scaled by 0.00" in a
                   for a in summ["assumptions"]), goal


def test_a_closed_season_plan_on_the_cli(stall: dict, tmp_path: Path) -> None:
    """What the merchant reads for a closed season: spend 0 of the budget, ROI n/a, nobody
    targeted because of the season, the budget kept; `--json` is strict JSON, and the
    plan's files have their header and no row."""
    from loyalist.promote.season import CLOSED_SEASON

    store = tmp_path / "copy.duckdb"
    shutil.copy(stall["store"], store)
    r = CliRunner().invoke(app, ["plan", "--store", str(store), "--budget", "500", "--goal",
                                 "retention", "--period", "30", "--out", str(tmp_path / "h")])
    assert r.exit_code == 0, r.output
    said = " ".join(r.stdout.split())
    assert "spend 0 of 500 on 0 customers; expected 0.0 customers kept" in said
    assert "ROI n/a" in said and "nobody targeted: the plan's period had (almost) no sales" \
        in said and "this plan sends nothing and keeps the whole budget of 500" in said
    assert "ranked promotions" not in said
    r = CliRunner().invoke(app, ["plan", "--store", str(store), "--budget", "500", "--goal",
                                 "revenue", "--period", "30", "--out", str(tmp_path / "j"),
                                 "--json"])
    assert r.exit_code == 0, r.output
    doc = _strict_json(r.stdout)
    assert _strict_json((tmp_path / "j" / "plan.json").read_text())["spend"] == 0
    assert doc["spend"] == 0 and doc["goal_value"] == 0 and doc["customers_targeted"] == 0
    assert doc["roi"] is None and doc["cost_per_goal_unit"] is None and doc["promotions"] == []
    closed = [w for w in doc["warnings"] if w.startswith(CLOSED_SEASON)]
    assert len(closed) == 1 and closed[0] == doc["empty_reason"]
    assert closed[0].endswith("keeps the whole budget of 500")
    for name, cols in (("plan.csv", 15), ("promotions.csv", len(s.PLAN_PROMOTION_COLUMNS))):
        frame = pd.read_csv(tmp_path / "j" / name)
        assert frame.empty and len(frame.columns) == cols


def test_an_open_season_of_the_same_shop_still_plans(tmp_path: Path) -> None:
    """The closed season changes nothing for a period the shop sells in: the stall planned on
    1 Dec, inside its season, has an ordinary season factor, no closed-season warning or
    yardstick, and spends."""
    from test_churn import make_store, seasonal_lines

    from loyalist.promote.season import CLOSED_SEASON

    store = tmp_path / "xmas.duckdb"
    make_store(store, seasonal_lines()).close()
    pipeline.train(store, as_of="2024-12-01")
    res = pipeline.plan(store, budget=500, goal="retention", period=30, as_of="2024-12-01",
                        save=False, stale_check=False)
    summ = res["summary"]
    assert res["context"].season_factor == 1.0
    assert not [w for w in summ["warnings"] if w.startswith(CLOSED_SEASON)]
    assert not [a for a in summ["assumptions"] if "closed season" in a]
    assert summ["spend"] > 0 and summ["customers_targeted"] > 0


def test_drop_wasteful_in_a_closed_season_measures_against_an_ordinary_period() -> None:
    """In a closed season every send is worth (almost) nothing, so the median over them says
    nothing: a send is bought only when it returns per unit of spend what the median send of
    an ordinary period does (the budget kept buys that when the shop sells)."""
    from loyalist.promote.eligibility import drop_wasteful

    usual_v = np.array([[0.02, 0.03], [0.01, 0.02]])
    usual_c = np.array([[0.35, 0.30], [0.20, 0.40]])
    value = usual_v * 0.03  # effects at 3% of an ordinary period's, costs mostly contact
    cost = np.array([[0.06, 0.06], [0.055, 0.065]])
    ok = np.ones((2, 2), dtype=bool)
    # the ordinary rule: all within 1% of the (closed) median, all kept
    assert drop_wasteful(value, cost, ok, "retention", Constraints(), ["a", "b"])[1] is None
    v, note = drop_wasteful(value, cost, ok, "retention", Constraints(), ["a", "b"],
                            usual=(usual_v, usual_c))
    assert (v == 0).all() and note is not None
    assert note.startswith("a send in a closed season must return what a typical send returns")
    # one send that beats the ordinary median (0.054 customers per unit of spend) is kept
    value[1, 0] = 0.07 * cost[1, 0]
    v, _ = drop_wasteful(value, cost, ok, "retention", Constraints(), ["a", "b"],
                         usual=(usual_v, usual_c))
    assert v[1, 0] == value[1, 0] and np.count_nonzero(v) == 1


def _prior_case(n: int = 300) -> tuple[pd.DataFrame, PlanContext]:
    """A store with no promotion history: every response from the priors, for a BOGO, a
    bundle, 15% off everything and triple points (the response model's own valuation)."""
    from loyalist.promote.catalog import normalise_catalog
    from loyalist.response import ResponseModel
    from loyalist.response.data import TrainingSet

    rng = np.random.default_rng(3)
    ids = [f"c{i:03d}" for i in range(n)]
    gap = rng.uniform(20, 90, n)
    feats = pd.DataFrame({s.CUSTOMER_ID: ids, "recency_days": gap * rng.uniform(0.2, 5, n),
                          "ipi_mean_days": gap, "orders": rng.integers(1, 12, n).astype(float),
                          "tenure_days": rng.uniform(200, 700, n),
                          "aov_mean": rng.lognormal(4, 0.5, n)})
    feats["basket"] = feats["aov_mean"]
    catalog = normalise_catalog(pd.DataFrame({
        "name": ["bogo_denim", "bundle_shoes", "pct15", "pts3"],
        "kind": ["bogo", "bundle", "percent_discount", "points_multiplier"],
        "value": [50.0, 20.0, 15.0, 3.0], "contact_cost": 0.1,
        "category": ["denim", "shoes", "", ""]}))
    training = TrainingSet(frame=pd.DataFrame({s.PROMOTION: pd.Series(dtype=str)}), features=[],
                           window_days=30, cutoff=pd.Timestamp("2025-01-01"))
    model = ResponseModel().fit(training, catalog,
                                item_prices={"bogo_denim": 40.0, "bundle_shoes": 60.0})
    pred = model.predict(feats)
    cust = feats.set_index(s.CUSTOMER_ID).assign(
        segment=rng.choice(["Champions", "New", "At Risk"], n))
    return pred, PlanContext(cust, catalog, pd.Timestamp("2025-01-01"))


def test_an_assumed_response_is_as_uncertain_as_its_assumptions() -> None:
    """Exploratory report 8, finding 1: a plan from the priors alone said "confidence low"
    with an interval of -9% / +13% of its revenue, and bundle_shoes x Promising 30.79
    [30.57, 31.07]: only the incremental purchase probability took the prior's range, while
    most of a BOGO's or a bundle's assumed revenue comes from the assumed use rate and the
    offer's mechanics. Both assumptions now take their range, together for all of a
    promotion's customers: as wide as a measured plan's (0.7-1.6x its revenue)."""
    from loyalist.promote.effects import revalue

    pred, ctx = _prior_case()
    assert set(pred["method"]) == {"prior"}
    floors = Constraints(min_spend={"bundle_shoes": 20.0, "pct15": 20.0, "pts3": 20.0})
    res = make_plan(pred, ctx, PlanParams(budget=400.0, goal="revenue"), floors)
    promos = res["promotions"]
    assert promos["promotion"].nunique() == 4
    width = (promos["incremental_revenue_hi80"] - promos["incremental_revenue_lo80"]) \
        / promos["incremental_revenue"].abs()
    assert width.min() >= 0.7, promos[["promotion", "target_segment", "incremental_revenue",
                                       "incremental_revenue_lo80", "incremental_revenue_hi80"]]
    summ = res["summary"]
    assert (summ["incremental_revenue_hi80"] - summ["incremental_revenue_lo80"]) \
        >= 0.7 * abs(summ["incremental_revenue"])
    assert summ["confidence"].startswith("low")
    from loyalist.response.priors import RANGE, USE_RANGE

    # the range is stated with the prior
    assert any(f"{USE_RANGE[0]:g}-{USE_RANGE[1]:g}x that use rate" in a
               for a in summ["assumptions"] if a.startswith("prior for "))
    # by hand for one row: the lowest / highest value over the effect's and the use rate's
    # ranges (a BOGO adds to the order: low effect and low use rate for its low end)
    row = revalue(pred[pred["promotion"] == "bogo_denim"].head(1).copy()).iloc[0]
    per_red = row["redemption_added"] - row["redemption_in_price"]
    assert per_red > 0
    # a single-use offer's use rate applies to the buyers (p_control), not their orders
    base = row["p_control"]
    assert row["control_orders"] >= base
    buyers = base + row["incremental_orders"]
    red = row["expected_redemptions"]
    lo = (row["incremental_orders"] * RANGE[0] * row["basket"] + red * USE_RANGE[0] * per_red
          * (base + RANGE[0] * row["incremental_orders"]) / buyers)
    hi = (row["incremental_orders"] * RANGE[1] * row["basket"]
          + min(red * USE_RANGE[1] * (base + RANGE[1] * row["incremental_orders"]) / buyers,
                base + RANGE[1] * row["incremental_orders"]) * per_red)
    assert row["incremental_revenue_p10"] == pytest.approx(lo)
    assert row["incremental_revenue_p90"] == pytest.approx(hi)


def test_the_execution_plan_gives_each_sends_interval() -> None:
    """Exploratory report 8, finding 7: plan.csv had no interval, though the issue asks for
    each (customer, promotion)'s incremental revenue with one. Each send's 80% interval adds
    up, per promotion x segment, to the one promotions.csv shows (one promotion's customers
    share its error)."""
    pred, ctx = _prior_case()
    res = make_plan(pred, ctx, PlanParams(budget=400.0, goal="revenue"), Constraints())
    plan = res["customers"]
    cols = list(plan.columns)
    assert cols.index("incremental_revenue_lo80") == cols.index("incremental_revenue") + 1
    assert cols.index("incremental_revenue_hi80") == cols.index("incremental_revenue") + 2
    assert (plan["incremental_revenue_lo80"] <= plan["incremental_revenue"] + 1e-12).all()
    assert (plan["incremental_revenue_hi80"] >= plan["incremental_revenue"] - 1e-12).all()
    assert (plan["incremental_revenue_hi80"] > plan["incremental_revenue_lo80"]).all()
    promos = res["promotions"].set_index(["promotion", "target_segment"])
    for (promo, seg), g in plan.groupby(["promotion", "target_segment"]):
        assert g["incremental_revenue_lo80"].sum() == pytest.approx(
            promos.loc[(promo, seg), "incremental_revenue_lo80"])
        assert g["incremental_revenue_hi80"].sum() == pytest.approx(
            promos.loc[(promo, seg), "incremental_revenue_hi80"])


def test_the_budget_curve_gives_each_budgets_roi(tmp_path: Path) -> None:
    """Exploratory report 8, finding 9: sensitivity.csv and plan.png had the goal's value per
    budget, not the ROI the issue asks for. Each point's ROI is net profit / spend of that
    budget's plan: for the profit goal, whose value is the net profit, it is the value per
    spend exactly."""
    from loyalist.promote.report import plot_plan
    from loyalist.report import plots

    pred, ctx = _prior_case()
    res = make_plan(pred, ctx, PlanParams(budget=300.0, goal="profit"), Constraints())
    sens = res["sensitivity"]
    assert {"net_profit", "roi"} <= set(sens.columns)
    spent = sens["spend"] > 0
    assert spent.sum() >= 5
    np.testing.assert_allclose(sens.loc[spent, "roi"], sens.loc[spent, "value_per_spend"],
                               rtol=1e-9)
    assert all("roi" in p for p in res["summary"]["sensitivity"])
    res = make_plan(pred, ctx, PlanParams(budget=300.0, goal="revenue"), Constraints())
    sens = res["sensitivity"]
    assert (sens.loc[sens["spend"] > 0, "roi"] != sens.loc[sens["spend"] > 0,
                                                          "value_per_spend"]).all()
    assert plot_plan(res, tmp_path / "plan.png").stat().st_size > 10_000
    alloc = res["allocation"].rename(columns={"spend": "cost"})
    assert plots.plan(alloc, sens, 300.0)[:4] == b"\x89PNG"


def test_plans_name_each_offer_kinds_mechanics_with_their_numbers() -> None:
    """Exploratory report 8, finding 2: what a redemption adds and costs (a BOGO's second
    unit, a voucher's top-up, the 3% points value) drove the values and appeared in no
    plan's assumptions. One line per kind among the plan's promotions, with the catalog's
    numbers, and for points how to change their value."""
    pred, ctx = _prior_case()

    def mechanics(ctx: PlanContext) -> list[str]:
        summ = make_plan(pred, ctx, PlanParams(budget=400.0, goal="revenue"),
                         Constraints())["summary"]
        return [a for a in summ["assumptions"] if a.startswith("offer mechanics (assumption)")]

    lines = mechanics(ctx)
    kinds = [re.match(r"offer mechanics \(assumption\), (\w+),", a)[1] for a in lines]  # type: ignore[index]
    assert sorted(kinds) == ["bogo", "bundle", "percent_discount", "points_multiplier"]
    assert "one denim item at the customer's usual basket (no product prices)" in lines[
        kinds.index("bogo")]
    lines = mechanics(dataclasses.replace(ctx, item_prices={"bogo_denim": 40.0,
                                                            "bundle_shoes": 60.0}))
    by = dict(zip(kinds, lines, strict=True))
    assert all("orders that would have come anyway included" in a for a in lines)
    assert "bogo_denim adds two units of one denim item at 40 (median price) and takes 50% " \
           "off one" in by["bogo"]
    assert "bundle_shoes adds one shoes item at 60 (median price)" in by["bundle"]
    assert "pct15 takes 15% off the usual basket" in by["percent_discount"]
    assert "pts3 costs (3 - 1) x 3.0% = 6.0% of the order" in by["points_multiplier"]
    assert "3.0% of spend (assumed); set your programme's with the catalog's points_rate " \
           "column" in by["points_multiplier"]


def test_a_catalog_gives_the_points_value(tmp_path: Path) -> None:
    """A points programme may be worth 1% or 5% of spend, not the assumed 3%: the catalog's
    optional points_rate (one for the catalog) sets it, and the plan says so."""
    from loyalist.promote.catalog import catalog_points_rate, normalise_catalog
    from loyalist.response.value import Offer, mechanics_text

    c = tmp_path / "c.toml"
    c.write_text('[[promotion]]\nname = "pts3"\nkind = "points_multiplier"\nvalue = 3\n'
                 'points_rate = 0.01\n[[promotion]]\nname = "ten"\nkind = "percent_discount"\n'
                 'value = 10\n')
    cat = load_catalog(c)
    assert catalog_points_rate(cat) == (0.01, True)
    assert catalog_points_rate(cat.drop(columns=["points_rate"]))[1] is False
    text = mechanics_text("points_multiplier", [Offer("pts3", 3.0)], points_rate=0.01,
                          points_given=True)
    assert "(3 - 1) x 1.0% = 2.0% of the order" in text and "(the catalog's points_rate)" in text
    two = pd.DataFrame({"name": ["a", "b"], "kind": "points_multiplier", "value": [2.0, 3.0],
                        "points_rate": [0.01, 0.02]})
    with pytest.raises(DataError, match=r"promotions 'a' and 'b' give points_rate 0.01 and "
                                        r"0.02; .* one for the whole catalog"):
        normalise_catalog(two)
    with pytest.raises(DataError, match=r"promotion 'a' has points_rate 3; give the base "
                                        r"points' value as a share of spend"):
        normalise_catalog(two.assign(points_rate=3))
    with pytest.raises(DataError, match=r"leave it empty on other kinds"):
        normalise_catalog(two.assign(kind="percent_discount", points_rate=0.01))
    # without the column the catalog is as before (plan ids hash the catalog's records)
    assert "points_rate" not in normalise_catalog(two.drop(columns=["points_rate"]))


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


def test_a_rationale_says_where_its_revenue_comes_from() -> None:
    """Exploratory report 8, finding 2: "expected to lower buying by 0.5% points and add
    6,288 in revenue" (an electronics voucher over 500) did not say the revenue is the
    top-up of orders to the voucher's threshold."""
    from loyalist.promote.explain import rationale

    catalog = pd.DataFrame({"name": ["v50"], "kind": ["fixed_voucher"], "value": [50.0],
                            "min_spend": [500.0], "category": [""]})
    ctx = PlanContext(pd.DataFrame(index=["a", "b"]), catalog, pd.Timestamp("2025-01-01"))
    g = pd.DataFrame({s.CUSTOMER_ID: ["a", "b"], "incremental_prob": [-0.005, -0.005],
                      "incremental_orders": [-0.01, -0.02], "basket": [400.0, 300.0],
                      "expected_redemptions": [0.3, 0.2], "redemption_added": [150.0, 220.0],
                      "redemption_in_price": [50.0, 50.0], "expected_cost": [15.0, 10.0]})
    g["incremental_revenue"] = (g["incremental_orders"] * g["basket"]
                                + g["expected_redemptions"] * (g["redemption_added"]
                                                               - g["redemption_in_price"]))
    text = rationale("v50", "fixed_voucher", "Champions", g, "average_order_value", ctx)
    assert "expected to lower buying by 0.5% points and add 54 in revenue (64 from topping " \
           "orders up to the 500 minimum spend, net of the discount; less 10 lost with fewer " \
           "orders at the usual basket)" in text


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
