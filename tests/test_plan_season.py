"""The season of the plan's period: the seasonal factor by hand, and a closed season (a
Christmas stall planned for the days after Christmas), in which the plan spends nothing and
keeps its budget."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from plan_support import strict_json
from typer.testing import CliRunner

from loyalist import pipeline
from loyalist import schema as s
from loyalist.cli.main import app
from loyalist.promote.catalog import Constraints, PlanParams
from loyalist.promote.context import PlanContext
from loyalist.promote.plan import make_plan
from loyalist.store import Store

pytestmark = pytest.mark.xdist_group("plan_season")


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
    # a year of history: the campaigns are indexed, the planning window is not (its days a
    # year earlier have no year around them), which the plan says instead of nothing
    from loyalist.promote.season import SEASON_UNKNOWN, promotion_season_factors

    year = daily["2023-12-01":]
    assert seasonal_factor(year, as_of, 30, flat, 14) == (1.0, SEASON_UNKNOWN)
    assert promotion_season_factors(year, as_of, 30, {"p": flat}, 14) == {}


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
    doc = strict_json(r.stdout)
    assert strict_json((tmp_path / "j" / "plan.json").read_text())["spend"] == 0
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
