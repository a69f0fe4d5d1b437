"""ML lifetime value: quantiles ordered, fit on a synthetic panel, errors, CLV metrics by hand,
the "same as last period" baseline, and the out-of-time targets on Online Retail."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import CDNOW_SAMPLE, LOADED_AT, ONLINE_RETAIL, need_shared
from scipy.stats import spearmanr
from test_churn import AS_OF, H, make_store, or_evaluation, or_store, synthetic_lines  # noqa: F401

from loyalist.clv.ml import BoostedCLVModel, history_scale, quantile_cap, season_factor
from loyalist.errors import DataError, NotFittedError, ParameterError
from loyalist.evaluation import metrics as M
from loyalist.evaluation.purchases import compare_purchase_forecasts, last_period_days
from loyalist.evaluation.splits import build_panel, last_period_spend, plan_cutoffs
from loyalist.features import FEATURES, customer_features, labels
from loyalist.ingest import ingest_files
from loyalist.store import Store

#: the tests of the module-scoped store and model, on one xdist worker: built once, not once
#: per worker (the Online Retail tests share their group with test_churn's and test_segment's)
fixture_group = pytest.mark.xdist_group("clv_ml")


@pytest.fixture(scope="module")
def syn(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, pd.DataFrame, pd.DataFrame]:
    st = make_store(tmp_path_factory.mktemp("clv") / "s.duckdb", synthetic_lines())
    feats = customer_features(st, AS_OF)
    plan = plan_cutoffs(feats["first_purchase_at"].min(), AS_OF, H)
    return st, feats, build_panel(st, plan.cutoffs, H)


@pytest.fixture(scope="module")
def fitted(syn: tuple[Store, pd.DataFrame, pd.DataFrame]) -> BoostedCLVModel:
    return BoostedCLVModel().fit(syn[2])


@fixture_group
def test_quantiles_are_ordered_and_non_negative(syn, fitted: BoostedCLVModel) -> None:  # noqa: ANN001
    _, feats, _ = syn
    out = fitted.score(feats)
    assert list(out.columns) == ["customer_id", "clv_expected", "clv_p10", "clv_p50", "clv_p90"]
    q = out[["clv_p10", "clv_p50", "clv_p90"]].to_numpy()
    assert (q >= 0).all() and (np.diff(q, axis=1) >= 0).all()
    assert (out["clv_expected"] >= 0).all()
    assert set(fitted.n_rounds_) == {"point", "p10", "p50", "p90"}


@fixture_group
def test_point_model_ranks_future_spend(syn, fitted: BoostedCLVModel) -> None:  # noqa: ANN001
    st, feats, _ = syn
    test = build_panel(st, [AS_OF], H)
    pred = fitted.predict(test)
    rho = spearmanr(pred, test["future_spend"]).statistic
    assert rho > 0.4
    m = M.clv_metrics(test["future_spend"], pred)
    assert m["lift_top_decile"] > 2


@fixture_group
def test_boosters_fitted_in_parallel_give_the_same_model(syn, fitted: BoostedCLVModel  # noqa: ANN001
                                                          ) -> None:
    _, feats, panel = syn
    serial = BoostedCLVModel(workers=1).fit(panel)
    assert fitted.workers is None  # the fixture's model: one booster per CPU at once
    pd.testing.assert_frame_equal(serial.score(feats), fitted.score(feats), check_exact=True)
    assert serial.n_rounds_ == fitted.n_rounds_


@fixture_group
def test_training_panel_sample_keeps_whole_customers(syn) -> None:  # noqa: ANN001
    from loyalist.evaluation.run import sample_customers

    panel = syn[2]
    same, share = sample_customers(panel, None)
    assert same is panel and share == 1.0
    assert sample_customers(panel, len(panel))[1] == 1.0
    half, share = sample_customers(panel, len(panel) // 2)
    assert share == pytest.approx(0.5, abs=0.01)
    assert 0.4 < len(half) / len(panel) < 0.6
    kept = set(half["customer_id"])
    # a customer is in or out at every cutoff, and the draw does not depend on row order
    assert set(panel.loc[panel["customer_id"].isin(kept), "customer_id"]) == kept
    assert len(half) == int(panel["customer_id"].isin(kept).sum())
    again, _ = sample_customers(panel.sample(frac=1.0, random_state=1), len(panel) // 2)
    assert set(again["customer_id"]) == kept
    with pytest.raises(ParameterError, match="max_train_rows=0"):
        sample_customers(panel, 0)


class Fixed:
    """A booster predicting one value."""

    def __init__(self, v: float) -> None:
        self.v = v

    def predict(self, x: pd.DataFrame) -> np.ndarray:
        return np.full(len(x), self.v)


def test_quantile_sorting_repairs_crossing() -> None:
    m = BoostedCLVModel()
    m.point_ = Fixed(5.0)
    m.quantile_models_ = {0.1: Fixed(9.0), 0.5: Fixed(-3.0), 0.9: Fixed(4.0)}  # crossed
    m.columns_ = []
    feats = pd.DataFrame({c: [1.0] for c in FEATURES})
    q = m.predict_quantiles(feats)
    assert q.iloc[0].tolist() == [0.0, 4.0, 9.0]


def test_the_season_a_year_earlier_scales_the_forecasts() -> None:
    """Exploratory report 10: a beach shop's 90-day spend forecast in November was its
    summer's (65,913 against 3,246-5,219 in each earlier year): the features say nothing of
    the season. The forecasts are multiplied by (actual + m) / (predicted + m) of the same
    window a year earlier, m one buyer's mean spend in a window; without a cutoff a year
    back, by 1 and the model says why."""
    cut = pd.Series(np.repeat(pd.date_range("2024-01-01", "2024-12-01", freq="MS"), 10))
    y = np.full(len(cut), 10.0)
    pred = np.full(len(cut), 10.0)
    near = (cut == pd.Timestamp("2024-03-01")).to_numpy()  # 2024-12-01 + 90 days - a year
    y[near], pred[near] = 2.0, 40.0  # that window bought a twentieth of the model's level
    m = float(y[y > 0].mean())
    factor, at, note = season_factor(pred, y, cut, 90)
    assert (at, note) == ("2024-03-01", None)
    assert factor == pytest.approx((20.0 + m) / (400.0 + m))
    short = (cut >= pd.Timestamp("2024-06-01")).to_numpy()
    factor, at, note = season_factor(pred[short], y[short], cut[short], 90)
    assert (factor, at) == (1.0, None) and note.startswith(
        "no training cutoff a year before the scored window")

    model = BoostedCLVModel()
    model.point_ = Fixed(5.0)
    model.quantile_models_ = {0.1: Fixed(1.0), 0.5: Fixed(4.0), 0.9: Fixed(9.0)}
    model.columns_, model.season_factor_ = [], 0.5
    feats = pd.DataFrame({c: [1.0] for c in FEATURES})
    assert model.predict(feats).tolist() == [2.5]
    assert model.predict_quantiles(feats).iloc[0].tolist() == [0.5, 2.0, 4.5]


@fixture_group
def test_clv_errors(syn) -> None:  # noqa: ANN001
    _, feats, panel = syn
    with pytest.raises(ParameterError, match="quantiles .* strictly increasing"):
        BoostedCLVModel(quantiles=(0.5, 0.1)).fit(panel)
    with pytest.raises(ParameterError, match="objective 'mae'"):
        BoostedCLVModel(objective="mae").fit(panel)
    with pytest.raises(DataError, match="column 'future_spend' is missing"):
        BoostedCLVModel().fit(panel.drop(columns="future_spend"))
    with pytest.raises(DataError, match="0 of [0-9,]+ customer-cutoffs bought anything"):
        BoostedCLVModel().fit(panel.assign(future_spend=0.0))
    with pytest.raises(NotFittedError, match="not fitted"):
        BoostedCLVModel().predict(feats)


@fixture_group
def test_scoring_no_customers_is_a_data_error(fitted: BoostedCLVModel, syn) -> None:  # noqa: ANN001
    # exploratory report 3b, B6: LightGBM's "Input data must be 2 dimensional and non empty"
    with pytest.raises(DataError, match="CLV scoring: the feature frame has no customers"):
        fitted.score(syn[1].iloc[:0])
    with pytest.raises(NotFittedError, match="not fitted"):
        BoostedCLVModel().score(syn[1].iloc[:0])


def test_clv_metrics_by_hand() -> None:
    actual = [0.0, 0.0, 1.0, 3.0]
    assert M.normalized_gini(actual, actual) == pytest.approx(1.0)
    assert M.normalized_gini(actual, [3, 2, 1, 0]) == pytest.approx(-1.0)
    # order by prediction: a = [0, 1, 0, 3]; G = (0 + .25 + .25 + 1) / 4 - 5/8 = -0.25;
    # perfect G = (.75 + 1 + 1 + 1) / 4 - 5/8 = 0.3125
    assert M.normalized_gini(actual, [1, 3, 2, 0]) == pytest.approx(-0.25 / 0.3125)
    m = M.clv_metrics(actual, [1.0, 0.0, 1.0, 1.0])
    assert m["mae"] == pytest.approx((1 + 0 + 0 + 2) / 4)
    assert m["rmse"] == pytest.approx(np.sqrt((1 + 0 + 0 + 4) / 4))
    assert m["total_error"] == pytest.approx((3 - 4) / 4)
    assert m["total_actual"] == 4 and m["total_predicted"] == 3
    # top 10% of 4 rows = 1 row (the first 1.0 by row order: actual 0) -> lift 0
    assert m["lift_top_decile"] == 0.0
    assert M.lift_at([0, 0, 0, 10], [1, 2, 3, 4], 0.25) == pytest.approx(4.0)
    assert M.clv_metrics([1.0, 2.0, 3.0], [3.0, 2.0, 1.0])["spearman"] == pytest.approx(-1.0)
    assert M.clv_metrics([1.0, 2.0], [5.0, 5.0])["spearman"] is None  # constant prediction
    with pytest.raises(DataError, match="1 of 2 predictions are NaN"):
        M.clv_metrics([1.0, 2.0], [np.nan, 1.0])


def test_last_period_spend_by_hand(tmp_path: Path) -> None:
    lines = pd.DataFrame([
        # a: bought on day 0 and day 50; b: first bought on day 50; c: only on day 0
        {"order_id": "1", "product_id": "p", "quantity": 1, "unit_price": 10.0,
         "customer_id": "a", "ordered_at": "2024-01-01 10:00:00"},
        {"order_id": "2", "product_id": "p", "quantity": 2, "unit_price": 10.0,
         "customer_id": "a", "ordered_at": "2024-02-20 10:00:00"},
        {"order_id": "3", "product_id": "p", "quantity": 1, "unit_price": 7.0,
         "customer_id": "b", "ordered_at": "2024-02-20 11:00:00"},
        {"order_id": "4", "product_id": "p", "quantity": 1, "unit_price": 5.0,
         "customer_id": "c", "ordered_at": "2024-01-01 12:00:00"},
    ])
    st = make_store(tmp_path / "lp.duckdb", lines)
    as_of = pd.Timestamp("2024-03-01")
    feats = customer_features(st, as_of)
    spend = dict(zip(feats["customer_id"], last_period_spend(st, feats, as_of, 30),
                     strict=True))
    assert spend == {"a": 20.0, "b": 7.0, "c": 0.0}


@fixture_group
def test_count_target(syn) -> None:  # noqa: ANN001
    """The same booster predicts purchase days; its Poisson mean is unbiased in total on the
    panel it was fitted on."""
    st, feats, panel = syn
    m = BoostedCLVModel(target="future_order_days", quantiles=(0.5,)).fit(panel)
    fitted_total = m.predict(panel).sum()
    assert fitted_total == pytest.approx(panel["future_order_days"].sum(), rel=0.05)
    test = build_panel(st, [AS_OF - pd.Timedelta(days=H)], H)
    rho = spearmanr(m.predict(test), test["future_order_days"]).statistic
    assert rho > 0.4
    with pytest.raises(ParameterError, match="target 'visits': use one of future_spend"):
        BoostedCLVModel(target="visits").fit(panel)
    with pytest.raises(DataError, match="column 'future_orders' is missing"):
        BoostedCLVModel(target="future_orders").fit(panel.drop(columns="future_orders"))


@fixture_group
def test_purchase_forecast_comparison(syn) -> None:  # noqa: ANN001
    st = syn[0]
    as_of = pd.Timestamp("2024-02-01")
    r = compare_purchase_forecasts(st, as_of, H)
    assert r["actual_total"] == labels(st, as_of, H)["future_order_days"].sum() > 0
    assert set(r["models"]) == {"bgnbd", "boosted", "last_period"}
    for m in r["models"].values():
        assert m["total_actual"] == r["actual_total"] and m["n"] == r["customers"]
        assert m["spearman"] > 0.3
    assert r["training"]["label_windows_end_by"].startswith(str(as_of.date()))
    # the window must be observed: the synthetic data end on 2024-04-25
    with pytest.raises(DataError, match=r"ends on 2024-04-30, after the last purchase"):
        compare_purchase_forecasts(st, AS_OF, H)


def test_last_period_purchase_days_by_hand(tmp_path: Path) -> None:
    lines = pd.DataFrame([  # a: days 0, 50 (twice that day); b: first on day 50; c: day 0 only
        {"order_id": o, "product_id": "p", "quantity": 1, "unit_price": 10.0,
         "customer_id": c, "ordered_at": t}
        for o, c, t in [("1", "a", "2024-01-01 10:00"), ("2", "a", "2024-02-20 10:00"),
                        ("5", "a", "2024-02-20 15:00"), ("3", "b", "2024-02-20 11:00"),
                        ("4", "c", "2024-01-01 12:00")]])
    st = make_store(tmp_path / "lp.duckdb", lines)
    as_of = pd.Timestamp("2024-03-01")
    feats = customer_features(st, as_of)
    days = dict(zip(feats["customer_id"], last_period_days(st, feats, as_of, 30), strict=True))
    assert days == {"a": 1.0, "b": 1.0, "c": 0.0}


@need_shared(CDNOW_SAMPLE)
@pytest.mark.shared
def test_cdnow_boosted_counts_against_bgnbd(tmp_path: Path) -> None:
    """CDNOW sample, forecasts made at 1997-10-01 (end of the 39-week calibration).

    - 39 weeks (the published hold-out): BG/NBD predicts 1,653 of the 1,882 repeat purchase
      days; the boosted model cannot be trained out of time for it (a 273-day label window
      ending by 1997-10-01 would start before the first purchase) and says so; trained on the
      longest window that fits (91 days) and stretched by BG/NBD's time profile it predicts
      2,017 (measured): +7.2% against BG/NBD's -12.1%.
    - 13 weeks (the longest horizon with earlier cutoffs whose windows end by 1997-10-01):
      measured totals 763 boosted and 628 BG/NBD against 726 actual.
    """
    st = Store(tmp_path / "s.duckdb")
    ingest_files(st, [CDNOW_SAMPLE], loaded_at=LOADED_AT)
    long = compare_purchase_forecasts(st, "1997-10-01", 273)
    assert long["actual_total"] == 1_882
    assert long["models"]["bgnbd"]["total_predicted"] == pytest.approx(1_653, abs=2)
    assert "too short a history for the boosted count model" in (
        long["models"]["boosted"]["unavailable"])
    ext = long["models"]["boosted_extrapolated"]
    assert ext["trained_window_days"] == 91
    assert abs(ext["total_error"]) < abs(long["models"]["bgnbd"]["total_error"])
    assert ext["spearman"] > 0.3
    short = compare_purchase_forecasts(st, "1997-10-01", 91)
    bg, ml = short["models"]["bgnbd"], short["models"]["boosted"]
    assert short["actual_total"] == 726
    assert abs(ml["total_error"]) < 0.5 * abs(bg["total_error"])
    assert ml["spearman"] > 0.3


# --------------------------------------------------------------------------------------------
# Online Retail: out-of-time targets (test cutoff 2011-09-01, 90 days)
# --------------------------------------------------------------------------------------------
@need_shared(ONLINE_RETAIL)
@pytest.mark.shared
@pytest.mark.slow
@pytest.mark.xdist_group("online_retail")
def test_online_retail_clv_beats_bgnbd(or_evaluation: dict) -> None:  # noqa: F811
    cl = or_evaluation["clv"]["models"]
    model, bg, last = cl["model"], cl["bgnbd_gg"], cl["last_period"]
    assert model["rmse"] <= 0.9 * bg["rmse"]  # target: at least 10% below BG/NBD + GG
    assert model["mae"] < bg["mae"] and model["mae"] < last["mae"]
    assert model["spearman"] > last["spearman"]
    assert model["spearman"] >= 0.5  # measured 0.529 (regression guard)
    assert abs(model["total_error"]) < abs(bg["total_error"])
    iv = or_evaluation["clv"]["interval"]
    assert 0.6 < iv["coverage"] < 0.95


@need_shared(ONLINE_RETAIL)
@pytest.mark.shared
@pytest.mark.slow
@pytest.mark.xdist_group("online_retail")
@pytest.mark.xfail(strict=True, reason="targets Spearman >= 0.60 and top-decile lift >= 6 not "
                   "met: measured 0.528 and 5.57 (BG/NBD + GG: 0.513 and 5.57); 5-fold in-time "
                   "cross-validation on the test cutoff itself reaches only 0.515 / 5.49")
def test_online_retail_clv_rank_targets(or_evaluation: dict) -> None:  # noqa: F811
    model = or_evaluation["clv"]["models"]["model"]
    assert model["spearman"] >= 0.60 and model["lift_top_decile"] >= 6


def _with_big_accounts(lines: pd.DataFrame, k: int, share: float = 0.95) -> tuple[pd.DataFrame,
                                                                                 list[str]]:
    """``lines`` with the ``k`` customers with the most lines made wholesalers: their quantities
    multiplied so that together they make ``share`` of the revenue."""
    lines = lines.copy()
    rev = lines["quantity"] * lines["unit_price"]
    big = lines.groupby("customer_id").size().nlargest(k).index.tolist()
    mine = lines["customer_id"].isin(big)
    factor = share / (1 - share) * rev[~mine].sum() / rev[mine].sum()
    lines.loc[mine, "quantity"] *= int(round(factor))
    return lines, big


def _scores(model: BoostedCLVModel, feats: pd.DataFrame, order: pd.Series) -> pd.DataFrame:
    return model.score(feats.set_index("customer_id").loc[order].reset_index())


@fixture_group
def test_one_huge_customer_does_not_set_the_others_p90(syn, tmp_path: Path) -> None:  # noqa: ANN001
    """A wholesaler making 90% of the revenue: every other customer's p90 stays near what it
    is without him (it rose ~4x on the median, up to 100x, when his leaves set the p90), and
    his own p50 is in line with his own history."""
    _, feats, panel = syn
    lines, (big,) = _with_big_accounts(synthetic_lines(), 1, share=0.9)
    st = make_store(tmp_path / "w.duckdb", lines)
    wpanel = build_panel(st, sorted(panel["as_of"].unique()), H)
    wfeats = customer_features(st, AS_OF)
    base = BoostedCLVModel().fit(panel)
    with_him = BoostedCLVModel().fit(wpanel)
    others = feats["customer_id"] != big
    p90 = base.score(feats)["clv_p90"][others].to_numpy()
    wp90 = _scores(with_him, wfeats, feats["customer_id"])["clv_p90"][others].to_numpy()
    ratio = (wp90 + 1) / (p90 + 1)
    assert 0.8 < np.median(ratio) < 1.25
    assert wp90.mean() < 1.5 * p90.mean()
    assert np.quantile(ratio, 0.9) < 2.5
    him = wfeats[wfeats["customer_id"] == big]
    usual = float(history_scale(him, H)[0])  # his spend per 60 days so far
    mine = with_him.score(him).iloc[0]
    assert 0.2 * usual < mine["clv_p50"] < 5 * usual
    assert big not in with_him.capped_customers_  # a steady wholesaler is not an outlier


@pytest.mark.parametrize("k", [3, 5])
@fixture_group
def test_several_big_accounts_do_not_set_the_others_quantiles(syn, tmp_path: Path,  # noqa: ANN001
                                                              k: int) -> None:
    """Found on a wholesale shop (3 accounts, 96% of revenue): a cap at twice the third-largest
    customer did nothing, and ordinary customers got p90 80x and p50 18x their two years'
    spend. Each customer's quantiles must stay in line with his own history, whatever the
    number of big accounts."""
    _, feats, panel = syn
    lines, big = _with_big_accounts(synthetic_lines(), k)
    st = make_store(tmp_path / "w.duckdb", lines)
    wpanel = build_panel(st, sorted(panel["as_of"].unique()), H)
    wfeats = customer_features(st, AS_OF)
    model = BoostedCLVModel().fit(wpanel)
    out = _scores(model, wfeats, feats["customer_id"])
    f = wfeats.set_index("customer_id").loc[feats["customer_id"]].reset_index()
    others = ~f["customer_id"].isin(big).to_numpy()
    p90 = BoostedCLVModel().fit(panel).score(feats)["clv_p90"].to_numpy()[others]
    wp90 = out["clv_p90"].to_numpy()[others]
    assert np.quantile((wp90 + 1) / (p90 + 1), 0.9) < 2.5
    spent = f["monetary_total"].to_numpy()[others]
    old = f["tenure_days"].to_numpy()[others] >= 180  # not new: two orders' worth of history
    assert (out["clv_p50"].to_numpy()[others][old] <= 3 * spent[old]).all()
    assert (wp90[old] <= 10 * spent[old]).mean() > 0.99
    q = out[["clv_p10", "clv_p50", "clv_p90"]].to_numpy()
    assert (np.diff(q, axis=1) >= 0).all()
    scale = history_scale(f[~others], H)
    assert (out["clv_p50"].to_numpy()[~others] > 0.2 * scale).all()


def test_quantile_cap_is_a_far_out_fence_on_log_ratios() -> None:
    """Tukey's far-out fence exp(Q3 + 3 IQR) of the log ratios, by hand; a handful of extreme
    customers does not move it (the old rule, twice the third-largest customer, followed
    them)."""
    ratios = np.exp(np.linspace(-2.0, 2.0, 401))  # log quartiles -1 and 1
    assert quantile_cap(ratios) == pytest.approx(np.exp(1 + 3 * 2))
    assert quantile_cap(np.r_[ratios, np.full(5, 1e6)]) == pytest.approx(np.exp(7), rel=0.15)
    assert quantile_cap(np.r_[ratios, np.zeros(50)]) == pytest.approx(np.exp(7))  # buyers only
    assert quantile_cap(ratios[:10]) == float("inf")  # too few buyers to tell


def test_history_scale_by_hand() -> None:
    f = pd.DataFrame({"monetary_total": [730.0, 50.0, 0.0, 90.0],
                      "orders": [10, 1, 1, 3], "order_days": [8, 1, 1, 3],
                      "tenure_days": [730, 10, 400, 90]})
    assert history_scale(f, 90).tolist() == pytest.approx([90.0, 50.0, 90.0, 90.0])  # median
    assert history_scale(f, 90, "future_orders")[:2].tolist() == pytest.approx([10 * 90 / 730,
                                                                                1.0])


@fixture_group
def test_a_sudden_jump_above_own_history_is_capped_and_named(syn, tmp_path: Path  # noqa: ANN001
                                                             ) -> None:
    """A customer with one small order who then buys 10,000 times as much: his windows are
    winsorised for the quantile models and he is named (his p90 is a floor)."""
    _, _, panel = syn
    lines = synthetic_lines().copy()
    counts = lines.groupby("customer_id")["order_id"].nunique()
    jumper = counts[counts >= 6].index[0]
    orders = sorted(lines.loc[lines["customer_id"] == jumper, "order_id"].unique())
    later = (lines["customer_id"] == jumper) & lines["order_id"].isin(orders[1:])
    lines.loc[later, "quantity"] *= 10_000
    st = make_store(tmp_path / "j.duckdb", lines)
    model = BoostedCLVModel().fit(build_panel(st, sorted(panel["as_of"].unique()), H))
    assert np.isfinite(model.quantile_cap_)
    assert jumper in model.capped_customers_
    assert model.capped_customers_[jumper] > model.quantile_cap_
