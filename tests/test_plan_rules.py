"""The plan's rules on small hand-made inputs: how sends fill the months of a budget per month
and which sends a minimum spend rests on, which sends are worth their cost, who is eligible;
and what a plan writes: strict JSON, the result tables of an older store, the losing-money
warning."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
from plan_support import strict_json

from loyalist import jsontext
from loyalist import schema as s
from loyalist.promote.catalog import Constraints, PlanParams
from loyalist.promote.context import PlanContext
from loyalist.promote.eligibility import eligibility
from loyalist.promote.explain import losing_money
from loyalist.promote.instance import floor_sends, schedule
from loyalist.store import Store


def test_json_text_is_strict_json() -> None:
    """Exploratory report 7, I6: plan.json and `plan --json` held a bare NaN."""
    doc = {"a": float("nan"), "b": [np.float32("nan"), np.float64("inf"), -np.inf],
           "c": (np.int64(3), np.float64(0.5)), "d": pd.Timestamp("2024-01-02"), "e": True}
    assert strict_json(jsontext.dumps(doc)) == {"a": None, "b": [None, None, None],
                                                "c": [3, 0.5], "d": "2024-01-02 00:00:00",
                                                "e": True}


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


def test_floor_sends_marks_the_best_sends_a_minimum_spend_rests_on() -> None:
    promo = np.array([0, 1, 0, 1, 0, 2])
    cost = np.array([4.0, 1.0, 4.0, 1.0, 4.0, 9.0])
    # promotion 0 needs 6: its first two sends (4, then 8 >= 6); promotion 1 none; 2 needs 9
    need = floor_sends(promo, cost, np.array([6.0, np.nan, 9.0]))
    assert need.tolist() == [True, False, True, False, False, True]
    assert not floor_sends(promo, cost, np.array([0.0, np.nan, np.nan])).any()


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


def test_losing_money_warning_names_the_price_of_the_goal() -> None:
    w = losing_money("retention", -776.0, 16.66, 51.54)
    assert w is not None and "net profit -776 for 16.7 customers kept" in w
    assert "51.54 of spend for each" in w
    assert losing_money("retention", 10.0, 16.66, 51.54) is None  # pays for itself
    assert losing_money("profit", -5.0, -5.0, None) is None  # the profit goal is the loss
    w = losing_money("revenue", -20.0, 300.0, None)
    assert w is not None and "300 of incremental revenue" in w and "each" not in w


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


def test_the_catalogs_segments_are_a_rule_of_their_own_in_the_exclusion_counts() -> None:
    """A catalog whose every promotion is limited to some segments excluded the customers of
    the others without a count: a plan left with nobody named only the largest customer rule
    (consent), not the catalog's limit. They are counted after the customer rules, without
    overlap, so the counts and the eligible customers add up to the customers considered."""
    from loyalist.promote.eligibility import CATALOG_SEGMENTS_RULE, catalog_segments_text

    customers = pd.DataFrame({s.MARKETING_CONSENT: [False, True, True, True, False],
                              "segment": ["Champions", "Champions", "Loyal", "Lost", "Lost"]},
                             index=pd.Index(["a", "b", "c", "d", "e"]))
    catalog = pd.DataFrame({"name": ["ten", "pts"], "category": ["", ""],
                            "eligible_segments": ["Champions", "Champions;Loyal"]})
    catalog.attrs["source"] = "cat.csv"
    ctx = PlanContext(customers=customers, as_of=pd.Timestamp("2025-01-01"), catalog=catalog)
    pred = pd.DataFrame({s.CUSTOMER_ID: list("abcdeabcde"), "promotion": ["ten"] * 5 + ["pts"] * 5})
    ok, excluded = eligibility(pred, ctx, PlanParams(budget=100, goal="revenue"), Constraints())
    # b may have both, c only the points; d is outside the catalog's segments, e lacks consent
    assert pred[ok].apply(tuple, axis=1).tolist() == [("b", "ten"), ("b", "pts"), ("c", "pts")]
    assert excluded == {"no_consent_or_opted_out": 2, CATALOG_SEGMENTS_RULE: 1}
    assert sum(excluded.values()) + len(set(pred[s.CUSTOMER_ID][ok])) == len(customers)
    assert catalog_segments_text(catalog, excluded) == (
        "the promotions of cat.csv may go only to Champions, Loyal (their eligible_segments), "
        "and the other rules exclude those customers (no_consent_or_opted_out 2); add segments "
        "to a promotion's eligible_segments (left empty, a promotion may go to every segment)")
    # one promotion for every segment: no customer is outside the catalog's segments
    open_to_all = catalog.assign(eligible_segments=["Champions", ""])
    _, excluded = eligibility(pred, dataclasses.replace(ctx, catalog=open_to_all),
                              PlanParams(budget=100, goal="revenue"), Constraints())
    assert excluded == {"no_consent_or_opted_out": 2}
