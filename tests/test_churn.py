"""Churn: time splits and leakage, calibration, tiers, reasons, minimum-data errors, metrics by
hand, model persistence, and the out-of-time targets on Online Retail."""

from __future__ import annotations

import copy
import json
import re
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import LOADED_AT, ONLINE_RETAIL, need_shared

from loyalist import __version__
from loyalist import schema as s
from loyalist.churn import ChurnModel
from loyalist.churn.reasons import explain, phrase
from loyalist.errors import DataError, ModelVersionError, NotFittedError, ParameterError
from loyalist.evaluation import metrics as M
from loyalist.evaluation.out_of_time import churn_warning, evaluate
from loyalist.evaluation.persist import compatible, load, read_metadata, save
from loyalist.evaluation.run import fit_customer_models
from loyalist.evaluation.splits import plan_cutoffs
from loyalist.evaluation.train import train_and_score
from loyalist.ingest import ingest_files
from loyalist.store import Store

AS_OF = pd.Timestamp("2024-03-01")
H = 60  # a non-default horizon on the synthetic data: the horizon is a parameter everywhere


# --------------------------------------------------------------------------------------------
# Synthetic history (BG/NBD-like: Poisson purchases, dropout after each purchase)
# --------------------------------------------------------------------------------------------
@lru_cache(maxsize=4)
def synthetic_lines(n_customers: int = 600, seed: int = 0, start: str = "2023-01-01",
                    days: int = 480) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t0 = pd.Timestamp(start)
    rows = []
    oid = 0
    for i in range(n_customers):
        first = rng.uniform(0, days * 0.5)
        rate = rng.gamma(2.0, 1 / 60)  # purchases per day, one per 30 days on average
        p_drop = rng.beta(1.0, 6.0)
        value = np.exp(rng.normal(3.5, 0.7))
        t = first
        while t < days:
            oid += 1
            when = (t0 + pd.Timedelta(days=float(t))).strftime("%Y-%m-%d %H:%M:%S")
            for _ in range(int(rng.integers(1, 4))):
                rows.append({"order_id": f"O{oid:06d}",
                             "product_id": f"P{int(rng.integers(0, 50)):02d}",
                             "quantity": int(rng.integers(1, 4)),
                             "unit_price": round(float(value * rng.lognormal(0, 0.3)) / 2, 2),
                             "customer_id": f"C{i:04d}", "ordered_at": when})
            if rng.random() < p_drop:
                break
            t += rng.exponential(1 / rate)
    return pd.DataFrame(rows)


@lru_cache(maxsize=2)
def seasonal_lines(n_customers: int = 400, seed: int = 0) -> pd.DataFrame:
    """A Christmas stall: sales only from 20 Nov to 24 Dec of 2021-2024. Customers start in
    one of those seasons, come back each later season with probability 0.7 (1-3 visits on
    random days of it)."""
    rng = np.random.default_rng(seed)
    rows = []
    oid = 0
    for i in range(n_customers):
        first = 2021 + int(rng.integers(0, 4))
        for year in range(first, 2025):
            if year > first and rng.random() > 0.7:
                continue
            start = pd.Timestamp(f"{year}-11-20")
            for day in rng.integers(0, 35, size=int(rng.integers(1, 4))):
                oid += 1
                when = start + pd.Timedelta(days=int(day), minutes=int(rng.integers(480, 1200)))
                rows.append({"order_id": f"O{oid:06d}", "customer_id": f"C{i:04d}",
                             "ordered_at": when.strftime("%Y-%m-%d %H:%M:%S"),
                             "product_id": f"P{int(rng.integers(0, 30)):02d}",
                             "quantity": int(rng.integers(1, 4)),
                             "unit_price": round(float(rng.lognormal(2.5, 0.5)), 2)})
    return pd.DataFrame(rows)


def make_store(path: Path, lines: pd.DataFrame) -> Store:
    csv = path.with_suffix(".csv")
    lines.to_csv(csv, index=False)
    st = Store(path)
    ingest_files(st, [csv], loaded_at=LOADED_AT)
    return st


#: the tests of this file's module-scoped stores, on one xdist worker: the stores are built
#: once, not once per worker (the file's Online Retail tests share their group with
#: test_segment's and test_clv_ml's)
fixture_group = pytest.mark.xdist_group("churn")


@pytest.fixture(scope="module")
def syn_store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    return make_store(tmp_path_factory.mktemp("syn") / "s.duckdb", synthetic_lines())


@pytest.fixture(scope="module")
def syn_fit(syn_store: Store):  # noqa: ANN201
    return fit_customer_models(syn_store, AS_OF, H, segments=False)


# --------------------------------------------------------------------------------------------
# Cutoffs and leakage
# --------------------------------------------------------------------------------------------
def test_cutoffs_end_by_as_of_and_inner_cutoffs_end_by_the_holdout() -> None:
    plan = plan_cutoffs(pd.Timestamp("2023-01-01"), AS_OF, H)
    assert plan.cutoffs[-1] == AS_OF - pd.Timedelta(days=H) == plan.holdout
    assert all(plan.window_end(c) <= AS_OF for c in plan.cutoffs)
    assert plan.inner and all(plan.window_end(c) <= plan.holdout for c in plan.inner)
    gaps = np.diff(np.array(plan.cutoffs, dtype="datetime64[ns]"))
    assert (gaps >= np.timedelta64(28, "D")).all()
    assert all((c - pd.Timestamp("2023-01-01")).days >= 60 for c in plan.cutoffs)
    assert len(plan.cutoffs) <= 12


def test_horizon_may_be_any_integer_but_not_a_bool(tmp_path: Path) -> None:
    # exploratory report 3b, B7: np.int64(90) (e.g. from a frame) was "impossible", True ran
    assert plan_cutoffs(pd.Timestamp("2023-01-01"), AS_OF, np.int64(H)) \
        == plan_cutoffs(pd.Timestamp("2023-01-01"), AS_OF, H)
    for bad in (True, 60.0):
        with pytest.raises(ParameterError, match=re.escape(
                f"horizon {bad!r} must be a whole number of days (1 to 1,095), e.g. 90")):
            plan_cutoffs(pd.Timestamp("2023-01-01"), AS_OF, bad)  # type: ignore[arg-type]
    # one check for every horizon: out of range says the range (10**7 days used to overflow a
    # timestamp in plan_cutoffs, which had no upper bound)
    for bad in (0, 10**7):
        for call in (lambda h: plan_cutoffs(pd.Timestamp("2023-01-01"), AS_OF, h),
                     lambda h: train_and_score(Store(tmp_path / "s.duckdb"), AS_OF, h)):
            with pytest.raises(ParameterError, match=re.escape(
                    f"horizon {bad} is impossible: it must be between 1 and 1,095 days, "
                    "e.g. 90")):
                call(bad)


def test_too_short_a_history_says_what_is_needed() -> None:
    with pytest.raises(DataError, match=r"too short a history .* oldest needed is 2023-11-01\), "
                                        r"each with 60 days .* purchases from 2023-09-02 or "
                                        r"earlier, i.e. 181 days of history before as_of"):
        plan_cutoffs(pd.Timestamp("2023-10-01"), AS_OF, H)


@fixture_group
def test_trained_models_ignore_the_future(syn_store: Store, syn_fit, tmp_path: Path) -> None:  # noqa: ANN001
    """Poison everything on or after as_of (absurd purchases by existing and new customers):
    the fitted models, their training panel and their predictions do not change."""
    models, feats, panel = syn_fit
    assert (pd.to_datetime(panel["as_of"]) + pd.Timedelta(days=H)).max() <= AS_OF
    lines = synthetic_lines()
    poison = pd.DataFrame({
        "order_id": [f"X{i}" for i in range(6)],
        "product_id": "P00", "quantity": 1000, "unit_price": 99999.0,
        "customer_id": ["C0000", "C0001", "C0002", "C0003", "NEW1", "NEW2"],
        "ordered_at": [str(AS_OF), "2024-03-02 10:00:00", "2024-04-01 10:00:00",
                       "2024-12-01 10:00:00", "2024-03-05 10:00:00", "2025-01-01 10:00:00"],
    })
    st = make_store(tmp_path / "poisoned.duckdb", pd.concat([lines, poison]))
    models2, feats2, panel2 = fit_customer_models(st, AS_OF, H, segments=False)
    pd.testing.assert_frame_equal(feats, feats2)
    pd.testing.assert_frame_equal(panel, panel2)
    assert models.data_fingerprint_ == models2.data_fingerprint_
    np.testing.assert_array_equal(models.churn.predict_proba(feats),
                                  models2.churn.predict_proba(feats))
    np.testing.assert_array_equal(models.clv.predict(feats), models2.clv.predict(feats))
    np.testing.assert_array_equal(models.clv.predict_quantiles(feats),
                                  models2.clv.predict_quantiles(feats))


# --------------------------------------------------------------------------------------------
# Calibration, tiers, reasons
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("calibration", ["sigmoid", "isotonic"])
@fixture_group
def test_calibration_is_monotone(syn_store: Store, syn_fit, calibration: str) -> None:  # noqa: ANN001
    _, feats, panel = syn_fit
    model = ChurnModel(calibration=calibration).fit(panel)
    grid = np.linspace(0, 1, 201)
    cal = model.calibrate(grid)
    assert (np.diff(cal) >= -1e-12).all() and cal.min() >= 0 and cal.max() <= 1
    raw, p = model.predict_raw(feats), model.predict_proba(feats)
    order = np.argsort(raw, kind="stable")
    assert (np.diff(p[order]) >= -1e-12).all()
    # isotonic regression minimises the squared error on the hold-out (the identity is one of
    # its candidates); Platt scaling minimises the log loss, so only nearly
    slack = 1e-9 if calibration == "isotonic" else 5e-3
    assert model.holdout_metrics_["brier_calibrated"] <= model.holdout_metrics_["brier_raw"] + slack


def _level(p: np.ndarray, rate: float) -> float:
    """The log-odds shift that brings the mean of ``p`` to ``rate``, by plain bisection."""
    z = np.log(np.clip(p, 1e-6, 1 - 1e-6) / (1 - np.clip(p, 1e-6, 1 - 1e-6)))
    lo, hi = -30.0, 30.0
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if np.mean(1 / (1 + np.exp(-(z + mid)))) < rate else (lo, mid)
    return (lo + hi) / 2


@fixture_group
def test_season_shift_follows_the_same_season_a_year_earlier(syn_store: Store) -> None:
    _, feats, panel = fit_customer_models(syn_store, "2024-04-01", H, segments=False)
    base = ChurnModel().fit(panel)
    # scored at 2024-04-01 (the latest cutoff 2024-02-01 + 60 days): a year earlier is 2023-04-02
    assert base.season_cutoff_ == "2023-04-01"
    cut = pd.to_datetime(panel["as_of"]).to_numpy()
    y = panel["churned"].to_numpy(dtype=float)
    gaps = []
    for day in (base.season_cutoff_, base.holdout_cutoff_):
        rows = cut == pd.Timestamp(day)
        gaps.append(_level(base.calibrate(base.predict_raw(panel[rows])), y[rows].mean()))
    assert base.season_shift_ == pytest.approx(gaps[0] - gaps[1], abs=1e-6)
    # every probability is moved by that shift on the log-odds scale (ranking kept)
    p = base.predict_proba(feats)
    plain = np.clip(base.calibrate(base.predict_raw(feats)), 1e-6, 1 - 1e-6)
    moved = np.log(p / (1 - p)) - np.log(plain / (1 - plain))
    assert np.allclose(moved, base.season_shift_, atol=1e-6)

    # that season churned much more a year ago than the model says: the probabilities rise
    season = cut == pd.Timestamp(base.season_cutoff_)
    more = panel.copy()
    stayed = np.flatnonzero(season & (y == 0))
    more.loc[more.index[stayed[: len(stayed) // 2]], "churned"] = True
    up = ChurnModel().fit(more)
    assert up.season_shift_ > base.season_shift_ + 0.3
    assert up.predict_proba(feats).mean() > base.predict_proba(feats).mean() + 0.03

    # no cutoff a year before the scored window (history too short): no shift at all
    short = ChurnModel().fit(panel[~season])
    assert short.season_cutoff_ is None and short.season_shift_ == 0.0
    assert np.array_equal(short.predict_proba(feats),
                          short.calibrate(short.predict_raw(feats)))


@fixture_group
def test_tiers_by_threshold(syn_fit) -> None:  # noqa: ANN001
    """The issue's tiers: high > 0.7, medium 0.4-0.7 (both ends included: 0.4 exactly is
    medium, audit 8 finding 5; it used to be low), low below 0.4."""
    models, _, _ = syn_fit
    p = [0.0, 0.39, 0.4, 0.41, 0.7, 0.71, 1.0]
    assert models.churn.tier(p).tolist() == ["low", "low", "medium", "medium", "medium", "high",
                                             "high"]
    m = ChurnModel(thresholds=(0.2, 0.5))  # tiers need only the thresholds
    assert m.tier([0.1, 0.2, 0.3, 0.5, 0.6]).tolist() == ["low", "medium", "medium", "medium",
                                                         "high"]
    with pytest.raises(ParameterError, match="need 0 < medium < high < 1"):
        ChurnModel(thresholds=(0.7, 0.4)).tier([0.5])


READABLE = re.compile(
    r"^(low risk: )?(no purchase for \d+ days?( \(\d+\.\dx their usual gap of \d+ days?\))?"
    r"|no order in the last 90 days|only \d+ orders? \([\d,]+ spent\) in the last 90 days"
    r"|spend (fell|rose) \d+% vs the prior 90 days"
    r"|spend in the last 90 days but none in the 90 days before|no spend in the last 180 days"
    r"|a single order so far|\d+ orders in \d+ days? as a customer(, all on one day"
    r"|(, on \d+ different days)?, (on average )?\d+ days? apart)?"
    r"|a new customer \(first purchase \d+ days? ago\)|a customer for \d+ days?"
    r"|(low|high) spend: [\d,]+ spent in total, [\d,]+ per order on average \(typical "
    r"customer [\d,]+\)"
    r"|above-typical spend, which the model links with leaving: [\d,]+ spent in total, "
    r"[\d,]+ per order on average \(typical customer [\d,]+\)"
    r"|few but large orders: \d+ orders? of [\d,]+ on average \(typical customer \d+ "
    r"orders of [\d,]+\)|bought \d+ distinct products? \(typical customer \d+\)"
    r"|no returns|returned \d+% of the value bought"
    r"|orders mostly around \d+:00, \d+% at weekends)$")


@fixture_group
def test_reasons_present_readable_and_distinct(syn_fit) -> None:  # noqa: ANN001
    models, feats, _ = syn_fit
    scores = models.churn.score(feats)
    assert list(scores.columns) == ["customer_id", "churn_probability", "churn_tier", "reasons"]
    reasons = models.churn.reasons(feats)
    assert len(reasons) == len(feats)
    for rs in reasons:
        assert 1 <= len(rs) <= 3 and len(set(rs)) == len(rs)
        for r in rs:
            assert READABLE.match(r), r
            assert "nan" not in r
    # the highest-risk customers' first reason is about inactivity in this synthetic data
    top = np.argsort(-scores["churn_probability"].to_numpy())[:20]
    firsts = [reasons[i][0] for i in top]
    assert sum(("no purchase" in f) or ("no order" in f) or ("no spend" in f)
               for f in firsts) >= 10


@fixture_group
def test_scoring_customers_with_missing_features_words_their_reasons(syn_fit) -> None:  # noqa: ANN001
    """Features joined onto a customer list carry NaN rows: LightGBM scores them, and the
    reasons must too (``int(nan)`` crashed ``score``) without quoting a 'nan'."""
    models, feats, _ = syn_fit
    f = feats.copy()
    f.loc[f.index[:5], "recency_days"] = np.nan
    f.loc[f.index[5:10], "orders"] = np.nan
    scores = models.churn.score(f)
    assert len(scores) == len(f) and scores["churn_probability"].notna().all()
    for r in scores["reasons"].head(10):
        assert "nan" not in str(r).lower()
    assert phrase("recency", {"recency_days": float("nan")}) == (
        "time since the last purchase (not known for this customer)")
    assert phrase("frequency", {"orders": None, "tenure_days": 30.0}) == (
        "how often they order (not known for this customer)")


def test_phrases_by_hand() -> None:
    row = {"recency_days": 120.4, "ipi_mean_days": 30.0, "spend_last_90": 40.0,
           "spend_prev_90": 100.0, "orders_last_90": 0, "orders": 1, "tenure_days": 45.0}
    assert phrase("recency", row) == "no purchase for 120 days (4.0x their usual gap of 30 days)"
    assert phrase("trend", row) == "spend fell 60% vs the prior 90 days"
    assert phrase("recent_activity", row) == "no order in the last 90 days"
    assert phrase("frequency", row) == "a single order so far"
    assert phrase("tenure", row) == "a new customer (first purchase 45 days ago)"
    # ipi_mean_days is the gap between order days, not tenure / orders (explore7 I7: "2 orders
    # in 435 days, one every 2 days on average")
    two = {"orders": 2, "order_days": 2, "tenure_days": 435.3, "ipi_mean_days": 2.0}
    assert phrase("frequency", two) == "2 orders in 435 days as a customer, 2 days apart"
    assert phrase("frequency", {**two, "orders": 5, "order_days": 4, "ipi_mean_days": 30.0}) == (
        "5 orders in 435 days as a customer, on 4 different days, on average 30 days apart")
    assert phrase("frequency", {**two, "orders": 3, "order_days": 1, "ipi_mean_days": None}) == (
        "3 orders in 435 days as a customer, all on one day")
    money = {"monetary_total": 85.0, "aov_mean": 43.0, "_typical_monetary_total": 650.0}
    assert phrase("value", money) == ("low spend: 85 spent in total, 43 per order on average "
                                      "(typical customer 650)")
    assert phrase("value", money, raises=True) == phrase("value", money)
    # exploratory report 6, finding 15: "high spend" listed as why the risk is high read as
    # "they leave because they spend a lot"; as a risk it says what the model saw
    big = {"monetary_total": 900.0, "aov_mean": 450.0, "orders": 2, "_typical_orders": 6.0,
           "_typical_aov_mean": 110.0, "_typical_monetary_total": 650.0}
    assert phrase("value", big) == ("high spend: 900 spent in total, 450 per order on average "
                                    "(typical customer 650)")  # as "low risk: ..."
    assert phrase("value", big, raises=True) == (
        "few but large orders: 2 orders of 450 on average (typical customer 6 orders of 110)")
    many = {**big, "orders": 8}
    assert phrase("value", many, raises=True) == (
        "above-typical spend, which the model links with leaving: 900 spent in total, 450 "
        "per order on average (typical customer 650)")
    old_model = {k: v for k, v in big.items() if k != "_typical_orders"}  # saved before
    assert phrase("value", old_model, raises=True).startswith("above-typical spend")


def test_explain_ranks_grouped_contributions() -> None:
    cols = ["recency_days", "recency_over_ipi", "trend_90", "orders", "return_rate"]
    values = pd.DataFrame({"recency_days": [200.0, 5.0], "recency_over_ipi": [np.nan, 0.1],
                           "ipi_mean_days": [np.nan, 40.0], "trend_90": [0.0, 0.0],
                           "spend_last_90": [0.0, 50.0], "spend_prev_90": [100.0, 50.0],
                           "orders": [1, 9], "tenure_days": [300.0, 300.0],
                           "return_rate": [0.0, 0.25]})
    contrib = np.array([
        [0.5, 0.4, 0.6, 0.1, -0.2, -1.0],  # recency 0.9 > trend 0.6 > frequency 0.1
        [-0.5, -0.1, -0.1, -0.3, -0.05, 0.0],  # nothing raises the risk
    ])
    out = explain(contrib, cols, values)
    assert out[0] == ["no purchase for 200 days", "spend fell 100% vs the prior 90 days",
                      "a single order so far"]
    assert out[1] == ["low risk: no purchase for 5 days"]


# --------------------------------------------------------------------------------------------
# Minimum data and errors
# --------------------------------------------------------------------------------------------
def test_too_few_customers(tmp_path: Path) -> None:
    st = make_store(tmp_path / "few.duckdb", synthetic_lines(n_customers=40, seed=1))
    with pytest.raises(DataError, match="too few customers: 40 have a purchase before "
                                        "2024-03-01; the churn and CLV models need at least"):
        fit_customer_models(st, AS_OF, H)


@fixture_group
def test_history_too_short_for_the_horizon(syn_store: Store) -> None:
    with pytest.raises(DataError, match="too short a history for training at 2024-03-01 with "
                                        "a 240-day horizon"):
        fit_customer_models(syn_store, AS_OF, 240)


@fixture_group
def test_as_of_beyond_the_data(syn_store: Store) -> None:
    with pytest.raises(DataError, match=r"as_of 2025-12-01 is \d+ days after the last "
                                        r"purchase in the store \(2024-04-24\)"):
        fit_customer_models(syn_store, "2025-12-01", H)


@fixture_group
def test_panel_needs_both_outcomes(syn_fit) -> None:  # noqa: ANN001
    _, _, panel = syn_fit
    with pytest.raises(DataError, match="churners and 0 customers who bought again"):
        ChurnModel().fit(panel.assign(churned=True))
    with pytest.raises(DataError, match="column 'churned' is missing"):
        ChurnModel().fit(panel.drop(columns="churned"))
    # a fix that reads right from Python and the command line (B10)
    with pytest.raises(DataError, match="Use a longer horizon or a longer history"):
        ChurnModel().fit(panel.assign(churned=True))
    with pytest.raises(ParameterError, match="calibration 'platt'"):
        ChurnModel(calibration="platt").fit(panel)
    with pytest.raises(NotFittedError, match="not fitted"):
        ChurnModel().predict_proba(panel)


@fixture_group
def test_mistyped_or_empty_panel_says_so(syn_fit) -> None:  # noqa: ANN001
    # exploratory report 3b, B8: '0'/'1' text made everyone a churner ("use a longer
    # --horizon"), and an empty panel asked for a shorter horizon
    _, _, panel = syn_fit
    text = panel.assign(churned=panel["churned"].astype(int).astype(str))
    with pytest.raises(DataError, match=r"column 'churned' has dtype object \(e\.g\. '[01]'\);"
                                        r" it must be boolean or 0/1 numbers"):
        ChurnModel().fit(text)
    with pytest.raises(DataError, match=r"column 'churned' \(dtype float64\) holds 1 of "
                                        r"[0-9,]+ values that are not 0 or 1, e\.g\. 2\.0"):
        ChurnModel().fit(panel.assign(churned=panel["churned"].astype(float)).assign(
            churned=lambda p: p["churned"].where(p.index != p.index[0], 2.0)))
    with pytest.raises(DataError, match="training panel: the panel is empty"):
        ChurnModel().fit(panel.iloc[:0])


@fixture_group
def test_model_matrix_names_a_text_feature(syn_fit) -> None:  # noqa: ANN001
    _, _, panel = syn_fit
    bad = panel.astype({"orders": object})
    bad.loc[bad.index[3], "orders"] = "many"
    with pytest.raises(DataError, match=r"features: column orders \(dtype object\): 1 of "
                                        r"[0-9,]+ values are not numbers, e\.g\. 'many'"):
        ChurnModel().fit(bad)


# --------------------------------------------------------------------------------------------
# Metrics by hand
# --------------------------------------------------------------------------------------------
def test_churn_metrics_by_hand() -> None:
    y = [1, 0, 1, 0, 0, 0, 0, 0, 0, 1]
    score = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05]
    # top 10% = 1 row (score 0.9, a churner): rate 1 over base rate 0.3
    assert M.lift_at(y, score, 0.1) == pytest.approx(1 / 0.3)
    # top 20% = 2 rows, one churner
    assert M.lift_at(y, score, 0.2) == pytest.approx(0.5 / 0.3)
    # pairs (churner, stayer) ranked right: 0.9 beats 7, 0.7 beats 6, 0.05 beats 0 -> 13 / 21
    assert M.roc_auc(y, score) == pytest.approx(13 / 21)
    assert M.brier([1, 0, 1, 0], [0.8, 0.3, 0.5, 0.0]) == pytest.approx(
        (0.04 + 0.09 + 0.25 + 0) / 4)
    m = M.churn_metrics(y, score)
    assert m["base_rate"] == pytest.approx(0.3) and m["n"] == 10
    assert M.churn_metrics(y, score, probability=False)["brier"] is None
    # ties keep row order: equal scores, the first rows are "top"
    assert M.lift_at([0, 1, 1, 1], [1, 1, 1, 1], 0.25) == 0.0
    with pytest.raises(DataError, match="every outcome is 1"):
        M.roc_auc([1, 1], [0.2, 0.3])
    with pytest.raises(DataError, match="probabilities must lie in"):
        M.brier([1], [1.5])
    with pytest.raises(DataError, match="3 predictions for 2 outcomes"):
        M.lift_at([1, 0], [1, 2, 3])


def test_calibration_and_gains_by_hand() -> None:
    y = [0, 0, 1, 1]
    p = [0.1, 0.2, 0.3, 0.9]
    bins = M.decile_calibration(y, p, n_bins=2)
    assert bins == [{"bin": 1, "mean_predicted": pytest.approx(0.15), "mean_observed": 0.0,
                     "count": 2},
                    {"bin": 2, "mean_predicted": pytest.approx(0.6), "mean_observed": 1.0,
                     "count": 2}]
    gains = M.cumulative_gains(y, p, points=4)
    assert [g["captured"] for g in gains] == [0.0, 0.5, 1.0, 1.0, 1.0]


# --------------------------------------------------------------------------------------------
# Persistence
# --------------------------------------------------------------------------------------------
@fixture_group
def test_save_load_round_trip_and_version_refusal(syn_fit, tmp_path: Path) -> None:  # noqa: ANN001
    models, feats, _ = syn_fit
    path = save(models, tmp_path / "m", metrics={"auc": 0.8})
    meta = read_metadata(path)
    assert meta["loyalist_version"] == __version__
    assert meta["as_of"] == str(AS_OF)
    assert meta["data_fingerprint"] == models.data_fingerprint_
    assert len(meta["data_fingerprint"]) == 64
    assert meta["metrics"] == {"auc": 0.8}
    back = load(path)
    np.testing.assert_array_equal(back.churn.predict_proba(feats),
                                  models.churn.predict_proba(feats))
    np.testing.assert_array_equal(back.clv.predict(feats), models.clv.predict(feats))
    # a model from another minor version before 1.0 is refused, before unpickling
    meta["loyalist_version"] = "0.0.9"
    (path / "metadata.json").write_text(json.dumps(meta))
    (path / "model.joblib").write_bytes(b"not a pickle")
    with pytest.raises(ModelVersionError, match=r"written by loyalist 0\.0\.9; this is "
                                                r"loyalist .* retrain with `loyalist train`"):
        load(path)
    meta["format"] = "something/9"
    (path / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(ModelVersionError, match="model format 'something/9'"):
        load(path)
    with pytest.raises(DataError, match="not a saved loyalist model"):
        load(tmp_path)


@fixture_group
def test_score_says_what_it_does(syn_fit, syn_store: Store, tmp_path: Path) -> None:  # noqa: ANN001
    """Exploratory report 5b, F6: `loyalist score` was silent for its 95 s on 206k customers."""
    from loyalist import pipeline

    models, feats, _ = syn_fit
    path = save(models, tmp_path / "m", metrics={})
    said: list[str] = []
    res = pipeline.score(syn_store.path, model_dir=path, as_of=str(AS_OF.date()),
                         progress=said.append)
    assert res["customers"] == len(feats)
    assert said == [f"features at {AS_OF.date()}",
                    f"scoring {len(feats):,} customers (segments, churn with its reasons, "
                    "lifetime value)", "writing the scores"]


@fixture_group
def test_score_at_another_as_of_is_stored_under_it(syn_fit, syn_store: Store,  # noqa: ANN001
                                                  tmp_path: Path) -> None:
    """Exploratory report 7, I1: `score --as-of` with a saved model labelled its rows with the
    model's as_of, so the scores of that day were doubled (and `plan` crashed on them). Each
    day's rows now carry that day and replace only that day's; a day past the data is
    refused, and one far from the model's as_of is warned about."""
    from loyalist import pipeline
    from loyalist.features import customer_features

    models, feats, _ = syn_fit
    path = save(models, tmp_path / "m", metrics={})
    near, far = AS_OF - pd.Timedelta(days=30), AS_OF - pd.Timedelta(days=H + 30)
    res = {}
    for day in (AS_OF, near, near, far):  # `near` twice: the second replaces the first
        res[day] = pipeline.score(syn_store.path, model_dir=path, as_of=str(day.date()))
    got = syn_store.query(f"SELECT as_of, count(*) AS n, count(DISTINCT {s.CUSTOMER_ID}) AS d "
                          "FROM scores GROUP BY 1").set_index("as_of")
    for day in (AS_OF, near, far):
        n = len(customer_features(syn_store, day))
        assert (got.loc[day, "n"], got.loc[day, "d"]) == (n, n), day
    assert res[AS_OF]["warnings"] == res[near]["warnings"] == []
    assert res[far]["warnings"] == [
        f"the models were fitted at as_of {AS_OF.date()} (horizon {H} days) and score "
        f"{far.date()}, {H + 30} days earlier: they learned from what happened after "
        f"{far.date()}, so these scores are no fair test of them; retrain for this date with "
        f"`loyalist train --store {syn_store.path} --as-of {far.date()}`"]
    before = syn_store.count("scores")
    with pytest.raises(DataError, match=r"as_of 2030-01-01 is \d+ days after the last purchase"):
        pipeline.score(syn_store.path, model_dir=path, as_of="2030-01-01")
    assert syn_store.count("scores") == before


def test_scores_doubled_by_an_earlier_version_are_read_once_and_mended(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A store written by the earlier `score --as-of` holds two rows per customer at the
    models' as_of, the first scored at that day: readers (plan, report, API) see the first
    of each, and the next command that writes to the store deletes the others."""
    from loyalist.store import META, SCORES_KEY

    path = tmp_path / "old.duckdb"
    day = pd.Timestamp("2024-03-01")
    right = pd.DataFrame({s.CUSTOMER_ID: ["C1", "C2"], "churn_probability": [0.1, 0.2],
                          "as_of": day})
    with Store(path) as st:
        st.write_frame("scores", right)
        st.write_frame("scores", right.assign(churn_probability=[0.8, 0.9]))  # the bug's rows
        st.con.execute(f"DELETE FROM {META} WHERE key = ?", [SCORES_KEY])  # an older store
    with Store(path, read_only=True) as st:
        seen = st.query("SELECT * FROM scores ORDER BY customer_id")
        assert st.count("scores") == 2
    pd.testing.assert_frame_equal(seen, right, check_dtype=False)
    assert "holds 2 row(s) more than one per customer and as_of" in caplog.text
    with Store(path) as st:
        assert st.query("SELECT churn_probability FROM scores ORDER BY customer_id"
                        )["churn_probability"].tolist() == [0.1, 0.2]
        assert st.query(f"SELECT value FROM {META} WHERE key = ?", [SCORES_KEY]
                        )["value"].tolist() == ["2"]
    assert "held 2 row(s) more than one per customer and as_of" in caplog.text


@fixture_group
def test_model_without_a_version_names_the_file_and_says_retrain(syn_fit, tmp_path: Path
                                                                  ) -> None:  # noqa: ANN001
    """Audit 8, 3.24: metadata with no version gave only "version '?' is not of the form
    MAJOR.MINOR[.PATCH]": no file named, not said that the version is missing."""
    models, _, _ = syn_fit
    path = save(models, tmp_path / "m", metrics={})
    meta = read_metadata(path)
    del meta["loyalist_version"]
    (path / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(ModelVersionError, match=r"m/metadata\.json: the model's loyalist version "
                                                r"is missing .* retrain with `loyalist train"):
        load(path)
    meta["loyalist_version"] = "dev"
    (path / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(ModelVersionError, match=r"m/metadata\.json: the model's loyalist version "
                                                r"'dev' is not of the form .* retrain"):
        load(path)


def test_version_compatibility_rule() -> None:
    assert compatible("0.1.0", "0.1.7") and compatible("0.1.9", "0.1.0")
    assert not compatible("0.2.0", "0.1.0") and not compatible("1.0.0", "0.1.0")
    assert compatible("1.2.0", "1.5.3") and not compatible("2.0.0", "1.5.3")
    with pytest.raises(ModelVersionError, match="not of the form MAJOR.MINOR"):
        compatible("dev", "0.1.0")


# --------------------------------------------------------------------------------------------
# Synthetic end to end: evaluate beats the recency baseline, metrics are JSON-able
# --------------------------------------------------------------------------------------------
@fixture_group
def test_evaluate_on_synthetic(syn_store: Store, tmp_path: Path) -> None:
    from loyalist.evaluation.card import write_model_card

    metrics, pred = evaluate(syn_store, AS_OF, H)
    json.dumps(metrics)
    card = write_model_card(metrics, tmp_path)  # evaluate()'s dict alone is accepted too
    assert "Test cutoff 2024-03-01" in card["markdown"].read_text()
    assert card["html"].read_text().count("data:image/png;base64,") == 4
    ch = metrics["churn"]["models"]
    assert ch["model"]["roc_auc"] > 0.8
    assert ch["model"]["roc_auc"] >= ch["recency_only"]["roc_auc"] - 0.02
    assert set(metrics["churn"]["tiers"]) == {"high", "medium", "low"}
    assert len(pred) == metrics["n_customers"]
    assert pd.to_datetime(metrics["train_cutoffs"]).max() + pd.Timedelta(days=H) <= AS_OF
    assert metrics["churn"]["warning"] is None  # a useful model is not flagged
    assert metrics["clv"]["warning"] is None
    assert "WARNING" not in card["markdown"].read_text()
    # a model that loses to its baseline is said so on the card, above its table
    bad = copy.deepcopy(metrics)
    bad["churn"]["models"]["model"]["roc_auc"] = 0.448
    bad["churn"]["warning"] = churn_warning(bad["churn"]["models"])
    md = write_model_card(bad, tmp_path / "bad")["markdown"].read_text()
    assert md.index("WARNING: the churn model's out-of-time ROC-AUC 0.448") < md.index("| model")


def _clv(mae: float, rmse: float, rho: float, total: float) -> dict[str, float]:
    return {"mae": mae, "rmse": rmse, "spearman": rho, "total_error": total}


#: audit 8 finding 4: the electronics demo (2,000 customers, seed 7) out of time at 2026-05-03
ELECTRONICS_CLV = {"model": _clv(194.1, 341.6, 0.180, 0.361),
                   "bgnbd_gg": _clv(160.8, 330.3, 0.230, 0.056),
                   "last_period": _clv(166.4, 408.2, 0.185, 0.071)}


def test_clv_warning_and_total_note_by_hand() -> None:
    """Audit 8 finding 4: the boosted CLV lost to BG/NBD + Gamma-Gamma on electronics (RMSE
    342 vs 330, Spearman 0.180 vs 0.230) without a word, and the card blamed its +36% total on
    the window although both baselines were within 7% on it."""
    from loyalist.evaluation.clv_check import clv_loses, clv_warning, total_error_note

    w = clv_warning(ELECTRONICS_CLV)
    assert w is not None and w.startswith("the CLV model's out-of-time RMSE 341.6 is 3.4% above "
                                          "BG/NBD + Gamma-Gamma's (330.3) and its Spearman "
                                          "0.180 is 0.050 below (0.230)")
    assert "clv_bgnbd" in w
    note = total_error_note(ELECTRONICS_CLV)
    assert note is not None and "+36%" in note and "it is the CLV model's level that is off" in note
    assert "BG/NBD + Gamma-Gamma +6% and 'same as last period' +7%" in note
    assert "seasonality" not in note
    # the same window off for every baseline: the window is blamed (Online Retail, 2011-09-01)
    online_retail = {"model": _clv(533.5, 2434.3, 0.528, -0.202),
                     "bgnbd_gg": _clv(555.0, 2822.9, 0.513, -0.391),
                     "last_period": _clv(565.1, 2505.0, 0.457, -0.269)}
    assert clv_warning(online_retail) is None  # 13.8% better on RMSE
    note = total_error_note(online_retail)
    assert note is not None and "as the baselines on the same window are" in note
    assert "seasonality" in note
    # fashion (seed 7, 2025-10-03): worse by 1.1% RMSE and 0.011 Spearman, within the noise
    fashion = {"model": _clv(97.1, 198.06, 0.492, -0.288),
               "bgnbd_gg": _clv(95.0, 195.81, 0.503, -0.288)}
    assert not clv_loses(fashion) and clv_warning(fashion) is None
    # worse on one metric only: no warning
    assert clv_warning({"model": _clv(1, 120, 0.50, 0), "bgnbd_gg": _clv(1, 100, 0.50, 0)}) is None
    assert clv_warning({"model": _clv(1, 100, 0.30, 0), "bgnbd_gg": _clv(1, 100, 0.50, 0)}) is None
    assert clv_warning({"model": _clv(1, 100, 0.30, 0)}) is None  # BG/NBD not fitted
    assert total_error_note({"model": _clv(1, 1, 0.5, 0.10)}) is None


@fixture_group
def test_a_clv_model_that_loses_is_flagged_on_the_card(syn_store: Store, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    """Audit 8 finding 4, end to end: a CLV model that ranks customers at random and
    predicts 1.6x their spend loses to BG/NBD + Gamma-Gamma out of time; evaluate() says so
    (metrics, notes, the model card above the CLV table) and blames its total on the model,
    not on the window."""
    from loyalist.clv.ml import BoostedCLVModel
    from loyalist.evaluation.card import write_model_card

    score = BoostedCLVModel.score

    def worse(self: BoostedCLVModel, features: pd.DataFrame) -> pd.DataFrame:
        out = score(self, features)
        rng = np.random.default_rng(0)
        out["clv_expected"] = rng.permutation(out["clv_expected"].to_numpy()) * 1.6
        return out

    monkeypatch.setattr(BoostedCLVModel, "score", worse)
    metrics, _ = evaluate(syn_store, AS_OF, H)
    w = metrics["clv"]["warning"]
    assert w is not None and w.startswith("the CLV model's out-of-time RMSE")
    assert any(n.startswith("The CLV model's out-of-time RMSE") for n in metrics["notes"])
    assert any("it is the CLV model's level that is off" in n for n in metrics["notes"])
    md = write_model_card(metrics, tmp_path)["markdown"].read_text()
    spend = md.index("Spend in the next")
    assert spend < md.index("WARNING: the CLV model's out-of-time RMSE") < md.index(
        "| model", spend)


def test_churn_warning_by_hand() -> None:
    """Found on a wholesale shop: out-of-time AUC 0.448 against recency only 0.537 and
    1 - P(alive) 0.573, used for tiers and the plan without a word."""
    def models(auc: float, **base: float) -> dict[str, dict[str, float]]:
        return {"model": {"roc_auc": auc}, **{k: {"roc_auc": v} for k, v in base.items()}}

    w = churn_warning(models(0.448, recency_only=0.537, bgnbd_1_minus_p_alive=0.573))
    assert w is not None and "0.448" in w and "no better than chance" in w
    assert "below its best baseline, BG/NBD 1 - P(alive) (0.573)" in w
    assert "scored by BG/NBD 1 - P(alive) instead" in w
    w = churn_warning(models(0.70, recency_only=0.72, bgnbd_expected_orders=0.60))
    assert w is not None and "chance" not in w and "recency only (0.720)" in w
    # it says what was done: churn is scored by the baseline (not "use with caution")
    assert "so churn_probability and churn_tier are scored by recency only instead" in w
    assert "caution" not in w
    w = churn_warning(models(0.70, recency_only=0.72), fallback=False)  # it could not score
    assert w is not None and "with caution" in w
    w = churn_warning(models(0.40, recency_only=0.53))  # the baseline is at chance too
    assert w is not None and "recency only is itself no better than chance" in w
    assert churn_warning(models(0.874, bgnbd_expected_orders=0.8745)) is None  # a tie
    assert "no better than chance (<= 0.55)" in churn_warning(models(0.54, recency_only=0.5))
    assert churn_warning(models(0.745, recency_only=0.684, bgnbd_1_minus_p_alive=0.354)) is None
    assert churn_warning(models(0.6)) is None  # no baseline to lose to, above chance
    assert churn_warning({"model": {"roc_auc": None}}) is None
    # the baseline churn is scored by: the same rule, from the evaluation's numbers alone
    from loyalist.evaluation.out_of_time import churn_fallback

    assert churn_fallback(models(0.448, recency_only=0.537, bgnbd_1_minus_p_alive=0.573)
                          ) == "bgnbd_1_minus_p_alive"
    assert churn_fallback(models(0.70, recency_only=0.7101)) == "recency_only"
    assert churn_fallback(models(0.874, bgnbd_expected_orders=0.8745)) is None  # a tie
    assert churn_fallback(models(0.54, recency_only=0.5)) is None  # at chance, not beaten
    assert churn_fallback(models(0.6)) is None
    assert churn_fallback({"model": {"roc_auc": None}, "recency_only": {"roc_auc": 0.9}}) is None


# --------------------------------------------------------------------------------------------
# Online Retail: out-of-time targets (test cutoff 2011-09-01, 90 days, earlier cutoffs)
# --------------------------------------------------------------------------------------------
OR_TEST_CUTOFF = "2011-09-01"


_OR_CACHE: dict[str, object] = {}  # one store and one evaluation per process, whichever test
# module (test_clv_ml and test_segment import these fixtures) asks first


@pytest.fixture(scope="session")
def or_store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    if not ONLINE_RETAIL.exists():
        pytest.skip(f"shared data {ONLINE_RETAIL} is absent")
    if "store" not in _OR_CACHE:
        st = Store(tmp_path_factory.mktemp("or") / "s.duckdb")
        ingest_files(st, [ONLINE_RETAIL], loaded_at=LOADED_AT)
        _OR_CACHE["store"] = st
    return _OR_CACHE["store"]  # type: ignore[return-value]


@pytest.fixture(scope="session")
def or_evaluation(or_store: Store) -> dict:
    if "evaluation" not in _OR_CACHE:
        _OR_CACHE["evaluation"] = evaluate(or_store, OR_TEST_CUTOFF, 90)[0]
    return _OR_CACHE["evaluation"]  # type: ignore[return-value]


@need_shared(ONLINE_RETAIL)
@pytest.mark.shared
@pytest.mark.slow
@pytest.mark.xdist_group("online_retail")
def test_online_retail_churn_beats_both_baselines(or_evaluation: dict) -> None:
    ch = or_evaluation["churn"]["models"]
    assert or_evaluation["train_cutoffs"][-1] == "2011-06-03"
    auc = ch["model"]["roc_auc"]
    assert auc > ch["recency_only"]["roc_auc"] + 0.03
    assert auc > ch["bgnbd_1_minus_p_alive"]["roc_auc"] + 0.03
    assert ch["model"]["pr_auc"] > ch["recency_only"]["pr_auc"]
    assert auc >= 0.73  # measured 0.745 (regression guard)
    assert ch["model"]["brier"] < 0.438 * (1 - 0.438)  # better than the base rate alone
    tiers = or_evaluation["churn"]["tiers"]
    assert tiers["high"]["churn_rate"] > tiers["medium"]["churn_rate"] > tiers["low"][
        "churn_rate"]


@need_shared(ONLINE_RETAIL)
@pytest.mark.shared
@pytest.mark.slow
@pytest.mark.xdist_group("online_retail")
@pytest.mark.xfail(strict=True, reason="target ROC-AUC >= 0.83 not met: measured 0.745; a "
                   "5-fold in-time cross-validation on the test cutoff itself (an optimistic "
                   "ceiling for these features) reaches only 0.738")
def test_online_retail_churn_auc_target(or_evaluation: dict) -> None:
    assert or_evaluation["churn"]["models"]["model"]["roc_auc"] >= 0.83


@fixture_group
def test_training_says_each_step_as_it_goes(syn_store: Store) -> None:
    """Exploratory report 4b, D4: `train` on 2.1M lines printed nothing for 197 s and then
    156 s (one line per phase); every cutoff of the training panel and every model is now a
    progress line."""
    heard: list[str] = []
    train_and_score(syn_store, AS_OF, H, progress=heard.append)
    assert heard[0].startswith("evaluating out of time at ")
    fit = next(i for i, m in enumerate(heard) if m.startswith("fitting the models for scoring"))
    for part in (heard[:fit], heard[fit:]):
        cuts = [m for m in part if m.startswith("  training panel: cutoff ")]
        assert cuts and cuts[-1].startswith(f"  training panel: cutoff {len(cuts)}/{len(cuts)} ")
        assert any(m.startswith("  churn model: ") and m.endswith("customer-cutoff rows")
                   for m in part)
        assert "  lifetime value models (point, p10, p50, p90)" in part
    assert "  segments and clusters" in heard[fit:]


def test_platt_calibration_never_reverses_the_ranking() -> None:
    """Found on a wholesale shop: a hold-out that ranked churners backwards gave the Platt
    calibrator a negative slope, so the accounts ordering every other day (raw 0.29, the
    lowest) got the highest churn probability, 0.68. The calibrator is non-decreasing: with a
    backwards hold-out it is flat at the hold-out churn rate."""
    from loyalist.churn.model import _fit_calibrator

    rng = np.random.default_rng(0)
    raw = rng.uniform(0.05, 0.95, 400)
    y = (rng.uniform(size=400) > raw).astype(int)  # churners have the LOW scores
    cal = _fit_calibrator("sigmoid", raw, y)
    grid = np.linspace(0.01, 0.99, 50)
    p = cal.predict_proba(np.log(grid / (1 - grid)).reshape(-1, 1))[:, 1]
    assert np.ptp(p) < 1e-12 and p[0] == pytest.approx(y.mean())
    y = (rng.uniform(size=400) < raw).astype(int)  # the usual direction is kept
    p = _fit_calibrator("sigmoid", raw, y).predict_proba(
        np.log(grid / (1 - grid)).reshape(-1, 1))[:, 1]
    assert (np.diff(p) > 0).all()


# --------------------------------------------------------------------------------------------
# Young shops and seasonal shops: messages that name what can work (exploratory report 6a)
# --------------------------------------------------------------------------------------------
def test_no_horizon_fits_a_young_shop_and_the_message_says_so() -> None:
    # G6: 90 days of history; every horizon needs 92 (two cutoffs a month apart, 60 days of
    # purchases before each), yet the message advised "a shorter horizon"
    as_of = pd.Timestamp("2025-04-01")
    for h in (14, 1):
        with pytest.raises(DataError, match=r"too short a history for training at 2025-04-01, "
                                            r"whatever the horizon: the churn and value models "
                                            r"need at least 92 days of history before as_of "
                                            r".* the data has 90 days \(first purchase "
                                            r"2025-01-01\)") as e:
            plan_cutoffs(pd.Timestamp("2025-01-01"), as_of, h)
        assert "shorter horizon" not in str(e.value)
    # when a shorter horizon fits, the message names the longest that does
    with pytest.raises(DataError, match="Use a horizon of at most 61 days, a later as_of"):
        plan_cutoffs(pd.Timestamp("2024-10-01"), as_of, 90)
    assert plan_cutoffs(pd.Timestamp("2024-10-01"), as_of, 61).cutoffs
    with pytest.raises(DataError, match="too short a history"):
        plan_cutoffs(pd.Timestamp("2024-10-01"), as_of, 62)


@fixture_group
def test_a_closed_season_a_year_earlier_moves_churn_to_near_certain(syn_store: Store) -> None:
    # G2: a year-earlier window where nobody bought again (a closed season) gave no seasonal
    # correction at all ("fewer than 20 of each"), so a Christmas stall scored 0.25-0.32 for
    # the months it is closed; such a window is the strongest seasonal evidence there is
    _, feats, panel = fit_customer_models(syn_store, "2024-04-01", H, segments=False)
    season = pd.to_datetime(panel["as_of"]) == pd.Timestamp("2023-04-01")
    base = ChurnModel().fit(panel)
    for buyers in (0, 3):  # nobody, or a handful, bought again that season
        churned = panel["churned"] | season
        again = np.flatnonzero(season.to_numpy())[:buyers]
        churned.iloc[again] = False
        closed = ChurnModel().fit(panel.assign(churned=churned))
        n = int(season.sum())
        assert closed.season_cutoff_ == "2023-04-01"
        # the rate a year earlier is Laplace's (churners + 1) / (customers + 2), not refused
        gaps = []
        for day, rate in (("2023-04-01", (n - buyers + 1) / (n + 2)),
                          (closed.holdout_cutoff_, None)):
            rows = (pd.to_datetime(panel["as_of"]) == pd.Timestamp(day)).to_numpy()
            p = closed.calibrate(closed.predict_raw(panel[rows]))
            gaps.append(_level(p, rate if rate is not None else churned[rows].mean()))
        assert closed.season_shift_ == pytest.approx(gaps[0] - gaps[1], abs=1e-6)
        assert closed.predict_proba(feats).mean() > 0.95
        assert closed.predict_proba(feats).mean() > base.predict_proba(feats).mean() + 0.2
        assert closed.season_note_ == (
            f"the same season a year earlier (cutoff 2023-04-01, 60 days) had {n - buyers:,} "
            f"churners and {buyers} customers who bought again, fewer than 20 of one outcome: "
            f"its churn rate is taken as {(n - buyers + 1) / (n + 2):.1%} (Laplace's rule of "
            "succession, (churners + 1) / (customers + 2))")
    # a two-class season has no note; no cutoff a year back says so, not "too few buyers"
    assert base.season_note_ is None
    short = ChurnModel().fit(panel[~season])
    assert short.season_note_.startswith("no training cutoff a year before the scored window")
    # the model card gives the shift and how the rate was taken, and no false reason
    from loyalist.evaluation.card import write_model_card
    from loyalist.evaluation.out_of_time import churn_season

    for model, says in ((closed, "Laplace's rule of succession"),
                        (short, "no training cutoff a year before")):
        metrics = {"horizon_days": H, "training": {"churn_season": churn_season(model)},
                   "evaluation": {"skipped": "not requested"}}
        card = write_model_card(metrics, Path(syn_store.path).parent / "card")
        text = card["markdown"].read_text()
        assert says in text and "fewer than 20 of each" not in text


def test_only_a_one_sided_season_is_rated_by_laplace_a_small_two_sided_one_is_refused(
) -> None:
    # review of G2: Laplace's rule is for a window with (almost) one outcome; a small shop's
    # window with both (15 churners of 60) is too noisy to move every probability by
    from loyalist.churn.model import _window_rate

    assert _window_rate(1500, 1500)[0] == pytest.approx(1501 / 1502)
    assert _window_rate(1497, 1500)[0] == pytest.approx(1498 / 1502)  # 3 buyers, 0.2%
    assert _window_rate(25, 60) == (25 / 60, None)  # 20+ of each: the plain share
    rate, why = _window_rate(15, 60)
    assert rate is None and why == ("15 churners and 45 customers who bought again, fewer "
                                    "than 20 of each to compare with the model's level there")


def test_a_christmas_stall_is_scored_as_closed_and_still_evaluated(tmp_path: Path) -> None:
    # G2: a stall selling only 20 Nov - 24 Dec, scored on 25 Dec: everyone got 0.25-0.32,
    # and the out-of-time evaluation was skipped (its hold-out window, in the closed season,
    # had no buyers)
    from loyalist.evaluation.out_of_time import evaluation_cutoff

    st = make_store(tmp_path / "xmas.duckdb", seasonal_lines())
    res = train_and_score(st, None, 90)
    assert res["as_of"] == pd.Timestamp("2024-12-25")
    assert res["scores"]["churn_probability"].min() > 0.95
    assert res["models"].churn.season_cutoff_ == "2023-12-26"
    ev = res["metrics"]["evaluation"]
    assert "skipped" not in ev and ev["churn"]["churn_rate"] < 1
    # the latest cutoff (a week apart) whose hold-out and test windows both have buyers
    assert "2023-12-01" < ev["test_cutoff"] <= "2023-12-24"
    assert res["evaluation_cutoff"] == pd.Timestamp(ev["test_cutoff"])
    assert ev["moved"].startswith(
        f"evaluated at {ev['test_cutoff']}, not at 2024-09-26 (as_of - 90 days): at 2024-09-26 "
        "the hold-out window [2024-06-28, 2024-09-26) had ")
    assert " churners and 0 customers who bought again (a closed season?)" in ev["moved"]
    assert ev["notes"][0] == ev["moved"][0].upper() + ev["moved"][1:]
    # a store that sells all year keeps as_of - horizon, with no note
    syn = make_store(tmp_path / "syn.duckdb", synthetic_lines())
    assert evaluation_cutoff(syn, AS_OF, H) == (AS_OF - pd.Timedelta(days=H), None)


def test_a_closed_season_before_the_evaluation_cutoff_is_observed(tmp_path: Path) -> None:
    # G2: with no sale in the 5 months before a cutoff (but sales after it), the evaluation was
    # refused with "as_of ... is N days after the last purchase in the store (<the last sale
    # before the cutoff>)", a date that is not the store's last purchase
    lines = synthetic_lines()
    when = pd.to_datetime(lines["ordered_at"])
    closed = lines[(when < "2023-10-01") | (when >= "2024-03-01")].reset_index(drop=True)
    st = make_store(tmp_path / "closed.duckdb", closed)
    try:
        fit_customer_models(st, AS_OF, H, segments=False)
    except DataError as e:  # another reason may stop it, never the wrong last purchase
        assert "after the last purchase" not in str(e), e
    with pytest.raises(DataError, match=r"after the last purchase in the store \(2024-04-2"):
        fit_customer_models(st, "2025-12-01", H, segments=False)


def test_train_tiers_are_saved_recorded_and_used_by_score(tmp_path: Path) -> None:
    """Audit 8 finding 5: the tier thresholds were configurable only from Python. `train
    --tiers` sets them; they go into metrics.json, the model card and the saved models, and
    `score --model` tiers with them."""
    from loyalist import pipeline

    st = make_store(tmp_path / "s.duckdb", synthetic_lines())
    st.close()
    res = pipeline.train(tmp_path / "s.duckdb", as_of=str(AS_OF.date()), horizon=H,
                         out=tmp_path / "out", tiers=(0.25, 0.6))
    assert res["tier_thresholds"] == [0.25, 0.6]
    assert res["tier_rule"] == "high above 0.6, medium 0.25 to 0.6, low below 0.25"
    m = res["metrics"]
    assert m["churn"]["tier_thresholds"] == [0.25, 0.6]
    assert m["evaluation"]["churn"]["tier_thresholds"] == [0.25, 0.6]
    assert read_metadata(tmp_path / "out" / "model")["tier_thresholds"] == [0.25, 0.6]
    assert "tiers (high above 0.6, medium 0.25 to 0.6, low below 0.25)" in (
        tmp_path / "out" / "model_card.md").read_text()
    scored = pd.read_csv(tmp_path / "out" / "scores.csv")
    p = scored["churn_probability"].to_numpy()
    want = np.where(p > 0.6, "high", np.where(p >= 0.25, "medium", "low"))
    assert (scored["churn_tier"].to_numpy() == want).all()
    again = pipeline.score(tmp_path / "s.duckdb", model_dir=tmp_path / "out" / "model",
                           as_of=str(AS_OF.date()))
    assert again["tier_thresholds"] == [0.25, 0.6]
    p = again["scores"]["churn_probability"].to_numpy()
    assert (again["scores"]["churn_tier"].to_numpy()
            == np.where(p > 0.6, "high", np.where(p >= 0.25, "medium", "low"))).all()
    for bad, match in (((0.7, 0.4), "--tiers 0.7,0.4: need 0 < medium < high < 1"),
                       ((0.0, 0.5), "--tiers 0,0.5: need 0 < medium"),
                       ((0.4, 1.0), "--tiers 0.4,1: need")):
        with pytest.raises(ParameterError, match=match):
            pipeline.train(tmp_path / "s.duckdb", tiers=bad)


def test_segments_only_when_churn_and_clv_cannot_be_trained(tmp_path: Path) -> None:
    # G6: a young shop (80 days) or a tiny one (30 customers) got no segments at all
    from loyalist import pipeline

    young = synthetic_lines(n_customers=200, seed=4, start="2024-01-01", days=80)
    st = make_store(tmp_path / "young.duckdb", young)
    st.close()
    res = pipeline.train(tmp_path / "young.duckdb", horizon=30, out=tmp_path / "out")
    assert "whatever the horizon" in res["segments_only"]
    assert res["metrics"]["segments_only"] and res["metrics"]["segments"]["clusters_k"] >= 2
    assert "model" not in res["paths"] and Path(res["paths"]["scores_csv"]).exists()
    with Store(tmp_path / "young.duckdb", read_only=True) as s2:
        n = s2.query("""SELECT count(*) AS n, count(rfm_segment) AS seg,
                               count(cluster_name) AS cl, count(churn_probability) AS churn,
                               count(churn_tier) AS tier, count(clv_expected) AS clv
                        FROM scores""").iloc[0].to_dict()
    customers = young["customer_id"].nunique()
    assert n == {"n": customers, "seg": customers, "cl": customers, "churn": 0, "tier": 0,
                 "clv": 0}
    card = (tmp_path / "out" / "model_card.md").read_text()
    assert "Churn and lifetime value: not trained" in card and "k-means clusters" in card
    with pytest.raises(DataError, match="whatever the horizon"):
        train_and_score(Store(tmp_path / "young.duckdb", read_only=True), None, 30,
                        segments_fallback=False)
    # 30 customers: too few for churn, enough for segments and clusters; 3: no clusters
    few = make_store(tmp_path / "few.duckdb", synthetic_lines(n_customers=30, seed=1))
    res = train_and_score(few, AS_OF, H)
    assert res["metrics"]["training"]["skipped"].startswith("too few customers: ")
    assert res["scores"]["rfm_segment"].notna().all()
    assert res["scores"]["cluster_name"].notna().all()
    assert res["scores"][["churn_probability", "clv_expected"]].isna().all().all()
    ids = sorted(synthetic_lines(n_customers=30, seed=1)["customer_id"].unique())[:3]
    lines = synthetic_lines(n_customers=30, seed=1)
    three = make_store(tmp_path / "three.duckdb", lines[lines["customer_id"].isin(ids)])
    res = train_and_score(three, None, H, out_dir=tmp_path / "three")
    assert res["scores"]["cluster_name"].isna().all() and res["models"] is None
    assert any(n.startswith("no behavioural clusters: clusters: ") for n in
               res["metrics"]["notes"])


# --------------------------------------------------------------------------------------------
# A churn model that loses to a baseline out of time: churn is scored by that baseline
# --------------------------------------------------------------------------------------------
def lapsed_lines(n_customers: int = 300, seed: int = 0, end: str = "2024-03-01",
                 horizon: int = H) -> pd.DataFrame:
    """A shop where every customer buys at random at the same rate (one order per 45 days on
    average), until one day (``end - horizon``) from which those who had not bought for a
    month never come back (a competitor opened next door). Before that day nothing tells a
    churner from a buyer, so the training windows of the evaluation at ``end - horizon`` hold
    nothing for the booster to learn, while in its test window days since the last purchase
    separate them almost perfectly. Measured over seeds 0-2: out-of-time ROC-AUC of the model
    0.50-0.66, recency only 0.86-0.90, BG/NBD 1 - P(alive) 0.86-0.89: the model loses by more
    than 0.2 whatever the seed, not by luck."""
    rng = np.random.default_rng(seed)
    t0, t1 = pd.Timestamp("2023-01-01"), pd.Timestamp(end)
    change = t1 - pd.Timedelta(days=horizon)
    rows, oid = [], 0
    for i in range(n_customers):
        t, last = t0 + pd.Timedelta(days=float(rng.uniform(0, 60))), None
        while t < t1:
            if t >= change and last is not None and (change - last).days > 30:
                break  # lapsed on the day the competitor opened: gone for good
            oid += 1
            rows.append({"order_id": f"O{oid:06d}", "customer_id": f"C{i:04d}",
                         "ordered_at": t.strftime("%Y-%m-%d %H:%M:%S"),
                         "product_id": f"P{int(rng.integers(0, 20)):02d}", "quantity": 1,
                         "unit_price": 20.0})
            last = t
            t = t + pd.Timedelta(days=float(rng.exponential(45.0)))
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def lapsed(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("lapsed")
    st = make_store(root / "s.duckdb", lapsed_lines())
    res = train_and_score(st, AS_OF, H, out_dir=root / "out")
    return {"root": root, "store": st, "res": res}


@fixture_group
def test_a_model_that_loses_out_of_time_scores_churn_by_the_baseline(lapsed: dict) -> None:
    """Found on a wholesale shop (exploratory report 6a): the model lost out of time (0.448
    against BG/NBD 1 - P(alive) 0.573) and only a warning said so; its probabilities still set
    the tiers, the plan's "highest churn risk" and retention values. The scores now come from
    the baseline the model lost to, calibrated on the model's training windows."""
    res = lapsed["res"]
    ev = res["metrics"]["evaluation"]["churn"]
    auc = {k: m["roc_auc"] for k, m in ev["models"].items()}
    assert auc["recency_only"] > 0.85 and auc["model"] < auc["recency_only"] - 0.2
    assert max(auc, key=auc.get) == "recency_only"
    # the scores rank by the baseline: more days since the last purchase, higher probability
    feats, scores = res["features"], res["scores"]
    p = scores["churn_probability"].to_numpy()
    order = np.argsort(feats["recency_days"].to_numpy(), kind="stable")
    assert (np.diff(p[order]) >= -1e-12).all() and np.ptp(p) > 0.05
    assert scores["reasons"].str.match(r"^(low risk: )?no purchase for \d+ days?").all()
    # decided from the evaluation at as_of - horizon, said in the metrics with its reason
    churn = res["metrics"]["churn"]
    assert churn["scored_by"] == "recency_only" and ev["scored_by"] == "recency_only"
    assert churn["reason"] == (
        f"the churn model's out-of-time ROC-AUC {auc['model']:.3f} at "
        f"{(AS_OF - pd.Timedelta(days=H)).date()} is more than 0.01 below that of recency "
        f"only, {auc['recency_only']:.3f}")
    assert churn["calibration"]["slope"] > 0
    models = res["models"]
    assert models.churn_scored_by == "recency_only"
    np.testing.assert_allclose(p, models.churn_fallback.predict_proba(feats))
    assert not np.allclose(p, models.churn.predict_proba(feats))
    assert 0 < p.min() and p.max() < 1
    np.testing.assert_array_equal(scores["churn_tier"],
                                  np.where(p > 0.7, "high", np.where(p > 0.4, "medium", "low")))
    assert res["metrics"]["scoring"]["tiers"] == scores["churn_tier"].value_counts().to_dict()
    # the LightGBM model's metrics are kept; the fallback is judged on the same test window
    fb = ev["fallback"]
    assert fb["baseline"] == "recency_only"
    assert fb["metrics"]["roc_auc"] == pytest.approx(auc["recency_only"])
    assert fb["metrics"]["brier"] < ev["models"]["model"]["brier"]
    assert sum(t["customers"] for t in fb["tiers"].values()) == fb["metrics"]["n"]
    # the warning says what was done, not "use with caution"
    assert "scored by recency only instead" in ev["warning"] and "caution" not in ev["warning"]


@fixture_group
def test_the_churn_fallback_is_on_the_card_in_metrics_and_in_the_report(lapsed: dict) -> None:
    from loyalist.report.data import churn as churn_section
    from loyalist.report.html import _churn

    out = lapsed["root"] / "out"
    card = (out / "model_card.md").read_text()
    assert "- Churn scores (probability, tier, reasons): from recency only, not from the " \
           "LightGBM model, because the churn model's out-of-time ROC-AUC" in card
    assert "Scored by recency only instead, as scoring does when the model loses" in card
    assert "| LightGBM (this model) |" in card  # its metrics stay
    assert json.loads((out / "metrics.json").read_text())["churn"]["scored_by"] == "recency_only"
    assert read_metadata(out / "model")["churn_scored_by"] == "recency_only"
    res = lapsed["res"]
    d = churn_section(res["scores"], res["as_of"], res["metrics"]["evaluation"]["churn"], None,
                      res["metrics"]["churn"])
    assert d["headline"]["scored_by"] == "recency_only"
    page = _churn(d, {})
    assert '<p class="note" id="churn-scored-by"><strong>Scored by recency only, not the ' \
           "churn model:</strong>" in page


@fixture_group
def test_score_with_saved_models_uses_the_same_fallback(lapsed: dict, tmp_path: Path) -> None:
    from loyalist import pipeline
    from loyalist.evaluation.run import score_customers

    res, st = lapsed["res"], lapsed["store"]
    model_dir = lapsed["root"] / "out" / "model"
    back = load(model_dir)
    assert back.churn_scored_by == "recency_only"
    again = pipeline.score(st.path, model_dir=model_dir, as_of=str(AS_OF.date()),
                           out=tmp_path / "scores")
    assert again["churn_scored_by"] == "recency_only"
    assert again["churn_scored_by_label"] == "recency only"
    pd.testing.assert_frame_equal(again["scores"], res["scores"])
    # a model saved before the fallback existed (no such attribute) loads and scores with the
    # churn model, as it did
    old = copy.copy(res["models"])
    del old.__dict__["churn_fallback"]
    path = save(old, tmp_path / "old", metrics={})
    loaded = load(path)
    assert loaded.churn_scored_by == "model"
    scores = score_customers(loaded, res["features"])
    np.testing.assert_allclose(scores["churn_probability"],
                               res["models"].churn.predict_proba(res["features"]))


def test_a_model_that_holds_its_own_scores_exactly_as_before(tmp_path: Path) -> None:
    """A generated coffee shop where the model beats every baseline out of time: no fallback,
    and the churn columns are the churn model's own, as before the fallback existed."""
    from loyalist import pipeline
    from loyalist.evaluation.out_of_time import BASELINE_MARGIN

    gen = pipeline.generate("coffee", customers=None, months=18, seed=7, out=tmp_path / "d")
    pipeline.load_scenario(tmp_path / "s.duckdb", gen["files"])
    with Store(tmp_path / "s.duckdb", read_only=True) as st:
        res = train_and_score(st, None, 90)
    ev = res["metrics"]["evaluation"]["churn"]
    auc = {k: m["roc_auc"] for k, m in ev["models"].items()}
    assert auc["model"] > max(v for k, v in auc.items() if k != "model") + BASELINE_MARGIN
    assert res["metrics"]["churn"] == {"scored_by": "model",
                                       "label": "LightGBM (the churn model)", "reason": None,
                                       "tier_thresholds": [0.4, 0.7]}
    assert ev["scored_by"] == "model" and "fallback" not in ev and ev["warning"] is None
    models, feats = res["models"], res["features"]
    assert models.churn_fallback is None
    own = models.churn.score(feats)
    pd.testing.assert_frame_equal(
        res["scores"][["churn_probability", "churn_tier", "reasons"]].reset_index(drop=True),
        own[["churn_probability", "churn_tier", "reasons"]])


def test_baseline_churn_model_by_hand() -> None:
    """The calibrator's slope is the ranking within windows (one intercept per window), never
    negative; its level is the latest window's."""
    from loyalist.churn import BaselineChurnModel

    rng = np.random.default_rng(0)
    frames = []
    # two windows: within each, more days since the last purchase = more churn; between them,
    # the window with the longer recencies churns less (Simpson: a pooled fit would turn)
    for cut, (lo, hi), rate in (("2024-01-01", (1, 60), 0.7), ("2024-02-01", (60, 400), 0.2)):
        r = rng.uniform(lo, hi, 600)
        z = np.log1p(r) - np.log1p(r).mean()
        y = rng.uniform(size=600) < 1 / (1 + np.exp(-(np.log(rate / (1 - rate)) + 2 * z)))
        frames.append(pd.DataFrame({s.CUSTOMER_ID: [f"C{i}" for i in range(600)],
                                    "recency_days": r, "as_of": pd.Timestamp(cut),
                                    "churned": y, "horizon_days": 30}))
    panel = pd.concat(frames, ignore_index=True)
    pooled = np.polyfit(np.log1p(panel["recency_days"]), panel["churned"].astype(float), 1)[0]
    assert pooled < 0  # the pooled association is backwards
    m = BaselineChurnModel(baseline="recency_only").fit(panel)
    assert m.slope_ == pytest.approx(2.0, abs=0.5) and m.note_ is None
    latest = panel[panel["as_of"] == pd.Timestamp("2024-02-01")]
    assert m.predict_proba(latest).mean() == pytest.approx(latest["churned"].mean(), abs=0.01)
    scored = m.score(latest.head(3))
    assert list(scored.columns) == [s.CUSTOMER_ID, "churn_probability", "churn_tier", "reasons"]
    # backwards within the windows too: slope 0, everyone at the latest window's churn rate
    back = panel.assign(recency_days=-panel["recency_days"] + 1000)
    flat = BaselineChurnModel(baseline="recency_only").fit(back)
    assert flat.slope_ == pytest.approx(0.0, abs=1e-9)
    assert np.ptp(flat.predict_proba(back)) < 1e-9
    assert flat.predict_proba(back)[0] == pytest.approx(latest["churned"].mean(), abs=1e-4)
    assert flat.note_.startswith("the training windows do not rank churners by recency only")
    with pytest.raises(DataError, match="BG/NBD was not fitted at this cutoff"):
        BaselineChurnModel(baseline="bgnbd_1_minus_p_alive").fit(panel)
    with pytest.raises(ParameterError, match="churn baseline 'nope'"):
        BaselineChurnModel(baseline="nope").fit(panel)
    with pytest.raises(NotFittedError, match="not fitted yet"):
        BaselineChurnModel(baseline="recency_only").score(latest)


def test_bgnbd_fallback_reasons_name_its_input() -> None:
    from loyalist.churn.baseline import _phrase

    row = {"bg_frequency": 5, "recency_days": 211.6}
    assert _phrase("bgnbd_1_minus_p_alive", row, 0.88, 90) == [
        "BG/NBD: probability still active 0.12 (5 repeat purchase days, the last 212 days ago)"]
    assert _phrase("bgnbd_expected_orders", {"bg_frequency": 0, "recency_days": 0.4}, -0.25,
                   90) == ["BG/NBD: 0.25 orders expected in the next 90 days (a single purchase "
                           "day so far, less than a day ago)"]
    assert _phrase("bgnbd_1_minus_p_alive", {"bg_frequency": 0, "recency_days": 3}, 0.0, 90) == [
        "BG/NBD: probability still active 1.00 (no repeat purchase yet: BG/NBD counts a "
        "customer as active until one)"]
    assert _phrase("recency_only", {"recency_days": 412, "ipi_mean_days": 40}, 412, 90) == [
        "no purchase for 412 days (10.3x their usual gap of 40 days)"]


@fixture_group
def test_when_the_baseline_cannot_score_the_model_does_and_the_note_says_so(lapsed: dict
                                                                           ) -> None:
    """The evaluation (at as_of - horizon) chose BG/NBD's expected orders, but at as_of BG/NBD
    was not fitted: the churn model scores, and the evaluation's note that promised the
    baseline is replaced by the one that says to use the model with caution."""
    from loyalist.evaluation.out_of_time import sentence
    from loyalist.evaluation.train import _churn_scorer

    models = copy.copy(lapsed["res"]["models"])
    models.bgnbd, models.churn_fallback, models.notes = None, None, []
    ch_models = {"model": {"roc_auc": 0.60}, "recency_only": {"roc_auc": 0.58},
                 "bgnbd_expected_orders": {"roc_auc": 0.70}}
    promised = churn_warning(ch_models)
    assert promised is not None and "instead" in promised
    evaluation = {"test_cutoff": "2024-01-01", "notes": ["first", sentence(promised), "last"],
                  "churn": {"models": ch_models, "warning": promised}}
    panel = pd.DataFrame({"as_of": [AS_OF], "churned": [True], "horizon_days": [H]})
    out = _churn_scorer(models, panel, evaluation, (0.4, 0.7))
    assert out["scored_by"] == "model" and "BG/NBD was not fitted" in out["fallback_failed"]
    assert models.churn_fallback is None and models.churn_scorer is models.churn
    now = evaluation["churn"]["warning"]
    assert "with caution" in now and "instead" not in now
    assert evaluation["notes"] == ["first", sentence(now), "last"]
    assert "churn is scored by the model although" in models.notes[-1]


@pytest.mark.parametrize(("last", "latest"), [("2025-12-31 18:00", "2026-01-31"),
                                             ("2025-12-31 00:00", "2026-01-30")])
def test_a_late_as_of_is_refused_naming_the_latest_one_taken(last: str, latest: str) -> None:
    """Exploratory report 4: the refusal said 'use an as_of up to 2026-01-01' (the default)
    while up to 2026-01-31 was taken. It names the real limit, and the default beside it."""
    from loyalist.evaluation.splits import check_observed

    check_observed(pd.Timestamp(last), pd.Timestamp(latest))
    with pytest.raises(DataError, match=rf"Use an as_of up to {latest}; the default, the day "
                                        r"after the last transaction \(2026-01-01\)"):
        check_observed(pd.Timestamp(last), pd.Timestamp(latest) + pd.Timedelta(days=1))
