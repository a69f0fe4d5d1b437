"""Customer features: hand-computed values, BG/NBD summary vs lifetimes, and leak-freedom."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import LOADED_AT, line, write_csv

from loyalist.errors import DataError, ParameterError
from loyalist.features import FEATURES, SELECTABLE, customer_features, labels
from loyalist.ingest import ingest_files
from loyalist.store import Store

HAND = [
    # c1: three order days, one return; c2: a single weekend order; guest line ignored
    line(order="o1", product="A", qty=2, price=10, customer="c1", when="2024-01-01 09:00:00",
         category="x"),
    line(order="o1", product="B", qty=1, price=5, customer="c1", when="2024-01-01 09:00:00",
         category="y"),
    line(order="o2", product="A", qty=1, price=10, customer="c1", when="2024-01-11 15:00:00",
         category="x"),
    line(order="o3", product="A", qty=-1, price=10, customer="c1", when="2024-01-12 15:00:00",
         category="x"),
    line(order="o4", product="C", qty=3, price=20, customer="c1", when="2024-01-31 15:00:00",
         category="z"),
    line(order="o5", product="A", qty=1, price=10, customer="c2", when="2024-01-06 12:00:00",
         category="x"),
    line(order="o6", product="A", qty=1, price=99, customer="", when="2024-01-06 12:00:00",
         category="x"),
]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    st = Store(tmp_path / "s.duckdb")
    ingest_files(st, [write_csv(tmp_path / "t.csv", HAND)], loaded_at=LOADED_AT)
    return st


def test_hand_computed(store: Store) -> None:
    f = customer_features(store, "2024-02-10").set_index("customer_id")
    assert list(f.index) == ["c1", "c2"]  # the guest is not a customer
    c1 = f.loc["c1"]
    assert c1.orders == 3 and c1.order_days == 3
    assert c1.monetary_total == pytest.approx(25 + 10 + 60)
    assert c1.net_spend == pytest.approx(95 - 10)
    assert c1.aov_mean == pytest.approx(95 / 3)
    assert c1.aov_median == pytest.approx(25)
    assert c1.return_rate == pytest.approx(10 / 95)
    assert c1.recency_days == pytest.approx(9 + 9 / 24)  # 2024-01-31 15:00 -> 2024-02-10
    assert c1.tenure_days == pytest.approx(40 - 9 / 24)
    assert c1.ipi_mean_days == pytest.approx(15) and c1.ipi_std_days == pytest.approx(
        np.std([10, 20], ddof=1))
    assert c1.days_to_first_repeat == 10
    assert c1.distinct_products == 3 and c1.distinct_categories == 3
    assert c1.preferred_hour == 15
    assert c1.bg_frequency == 2 and c1.bg_recency == 30 and c1.bg_T == 39
    assert c1.bg_monetary_value == pytest.approx((10 + 60) / 2)
    assert f.loc["c2"].weekend_share == 1.0 and c1.weekend_share == 0.0
    assert set(FEATURES) <= set(f.columns)


def test_dates_without_a_time_of_day_have_no_preferred_hour(tmp_path: Path) -> None:
    """CDNOW and invoice exports give dates only: every order at 0:00, which the features
    read as a preferred hour of 0 and the churn reasons as "orders mostly around 0:00". With
    no time of day anywhere before as_of the hour is unknown (NaN); one order with a time
    brings it back, read from what was known before as_of only."""
    from loyalist.churn.reasons import phrase

    rows = [{**r, "ordered_at": r["ordered_at"][:10]} for r in HAND]
    st = Store(tmp_path / "d.duckdb")
    ingest_files(st, [write_csv(tmp_path / "d.csv", rows)], loaded_at=LOADED_AT)
    f = customer_features(st, "2024-02-10").set_index("customer_id")
    assert f["preferred_hour"].isna().all() and f.loc["c2", "weekend_share"] == 1.0
    assert phrase("habits", f.loc["c2"].to_dict()) == "orders 100% at weekends"
    assert customer_features(st, "2024-02-10", customers=None,
                             columns=["preferred_hour"])["preferred_hour"].isna().all()
    # a later order with a time: the hour is known from its as_of on, not before
    late = [line(order="o9", product="A", customer="c2", when="2024-03-01 18:30:00")]
    ingest_files(st, [write_csv(tmp_path / "late.csv", late)], loaded_at=LOADED_AT)
    assert customer_features(st, "2024-02-10")["preferred_hour"].isna().all()
    after = customer_features(st, "2024-03-05").set_index("customer_id")
    # (c2's two orders, at 0:00 and 18:30, tie: the earliest hour)
    assert after.loc["c2", "preferred_hour"] == 0 and after.loc["c1", "preferred_hour"] == 0
    row = {"preferred_hour": 15, "weekend_share": 0.25}
    assert phrase("habits", row) == "orders mostly around 15:00, 25% at weekends"
    st.close()


def test_trend_windows(store: Store) -> None:
    f = customer_features(store, "2024-04-05").set_index("customer_id")
    # 90 days before 2024-04-05 (leap year) is 2024-01-06: o2 (10) and o4 (60) are inside,
    # o1 (25) is in the 90 days before that
    assert f.loc["c1"].spend_last_90 == pytest.approx(70)
    assert f.loc["c1"].spend_prev_90 == pytest.approx(25)
    assert f.loc["c1"].trend_90 == pytest.approx(np.log1p(70) - np.log1p(25))
    assert f.loc["c1"].orders_last_90 == 2


def test_as_of_before_data_is_a_clear_error(store: Store) -> None:
    with pytest.raises(DataError, match="choose an as_of after 2024-01-01"):
        customer_features(store, "2023-01-01")


def test_wrong_library_arguments_are_one_clear_line(store: Store) -> None:
    """Exploratory report 4: a path for the store was an AttributeError, and an unknown column
    a raw DuckDB BinderException."""
    with pytest.raises(ParameterError, match=r"store: give a loyalist.store.Store, e.g. "
                                             r"Store\('f.duckdb', read_only=True\); got a str"):
        customer_features("f.duckdb", "2024-06-01")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match=r"columns: 'nope' is no feature; the features "
                                             r"are recency_days, "):
        customer_features(store, "2024-06-01", columns=["nope"])
    every = customer_features(store, "2024-06-01")
    assert set(every.columns) - {"customer_id", "as_of"} <= set(SELECTABLE)  # each may be asked
    got = customer_features(store, "2024-06-01", columns=["first_purchase_at", "orders"])
    assert list(got.columns[:3]) == ["customer_id", "first_purchase_at", "orders"]


def test_an_as_of_given_as_a_number_is_refused(store: Store) -> None:
    """Exploratory report 4: ``customer_features(st, 20250901)`` was read as nanoseconds since
    1970, and then said that no customer had bought before 1970."""
    with pytest.raises(ParameterError, match=r"as_of 20250901 is a number, not a date; give it "
                                             r"as text YYYY-MM-DD"):
        customer_features(store, 20250901)  # type: ignore[arg-type]


def test_a_store_of_returns_only_says_so(tmp_path: Path) -> None:
    """No as_of can help a store without a sale: the error says what is missing."""
    f = write_csv(tmp_path / "r.csv", [line(qty=-1), line(order="1002", qty=-2)])
    with Store(tmp_path / "s.duckdb") as st:
        ingest_files(st, [f], loaded_at=LOADED_AT)
        with pytest.raises(DataError, match="no sale by a known customer, only returns"):
            customer_features(st, "2024-06-01")


def test_labels(store: Store) -> None:
    lab = labels(store, "2024-01-10", 7).set_index("customer_id")
    assert lab.loc["c1"].future_orders == 1 and lab.loc["c1"].future_spend == pytest.approx(10)
    assert lab.loc["c1"].future_net_spend == pytest.approx(0)
    assert bool(lab.loc["c2"].churned)
    with pytest.raises(ParameterError, match="impossible"):
        labels(store, "2024-01-10", 0)
    # exploratory report 3b, B7: a numpy integer (e.g. read from a frame) is a number of days;
    # True is not (it ran as one day) and neither is 7.0
    assert labels(store, "2024-01-10", np.int64(7)).equals(labels(store, "2024-01-10", 7))
    for bad in (True, 7.0):
        with pytest.raises(ParameterError, match=re.escape(
                f"horizon {bad!r} must be a whole number of days (1 to 1,095), e.g. 90")):
            labels(store, "2024-01-10", bad)  # type: ignore[arg-type]


def _random_log(rng: np.random.Generator, n_customers: int, n_lines: int) -> pd.DataFrame:
    start = pd.Timestamp("2023-01-01")
    cust = rng.integers(0, n_customers, n_lines)
    days = rng.integers(0, 365, n_lines)
    return pd.DataFrame({
        "customer_id": [f"c{c}" for c in cust],
        "order_id": [f"o{c}-{d}" for c, d in zip(cust, days, strict=True)],
        "ordered_at": start + pd.to_timedelta(days, unit="D")
        + pd.to_timedelta(rng.integers(8, 20, n_lines), unit="h"),
        "product_id": rng.choice(["a", "b", "c", "d"], n_lines),
        "quantity": rng.integers(1, 4, n_lines),
        "unit_price": rng.gamma(2.0, 10.0, n_lines).round(2) + 0.01,
    })


def test_bg_nbd_summary_matches_lifetimes(tmp_path: Path) -> None:
    from lifetimes.utils import summary_data_from_transaction_data

    log = _random_log(np.random.default_rng(3), 300, 3000)
    log.to_parquet(tmp_path / "log.parquet")
    st = Store(tmp_path / "s.duckdb")
    ingest_files(st, [tmp_path / "log.parquet"], loaded_at=LOADED_AT)
    as_of = pd.Timestamp("2023-10-01")
    ours = customer_features(st, as_of).set_index("customer_id").sort_index()
    past = log[log.ordered_at < as_of].assign(amount=lambda d: d.quantity * d.unit_price)
    past = past.drop_duplicates()  # the store quarantines exact duplicate lines too
    ref = summary_data_from_transaction_data(
        past, "customer_id", "ordered_at", monetary_value_col="amount",
        observation_period_end=as_of - pd.Timedelta(days=1), freq="D").sort_index()
    assert list(ours.index) == list(ref.index)
    np.testing.assert_allclose(ours.bg_frequency, ref.frequency)
    np.testing.assert_allclose(ours.bg_recency, ref.recency)
    np.testing.assert_allclose(ours.bg_T, ref["T"])
    np.testing.assert_allclose(ours.bg_monetary_value, ref.monetary_value, rtol=1e-9)


def test_future_poisoning_changes_no_feature(tmp_path: Path) -> None:
    """Append absurd rows at and after as_of (new customers, huge spend, returns on old
    customers, rows exactly at as_of): no feature of any customer may change."""
    rng = np.random.default_rng(11)
    log = _random_log(rng, 200, 2000)
    log.to_parquet(tmp_path / "log.parquet")
    st = Store(tmp_path / "s.duckdb")
    ingest_files(st, [tmp_path / "log.parquet"], loaded_at=LOADED_AT)
    as_of = pd.Timestamp("2023-07-01")
    before = customer_features(st, as_of)
    n = 500
    poison = pd.DataFrame({
        "customer_id": rng.choice([f"c{i}" for i in range(250)], n),
        "order_id": [f"p{i}" for i in range(n)],
        "ordered_at": as_of + pd.to_timedelta(rng.integers(0, 200 * 24, n), unit="h"),
        "product_id": rng.choice(["a", "zz"], n),
        "quantity": rng.choice([-50, 1, 999], n),
        "unit_price": rng.choice([0.01, 1e5], n),
    })
    poison.loc[0, "ordered_at"] = as_of  # exactly at the cutoff is the future too
    poison.to_parquet(tmp_path / "poison.parquet")
    ingest_files(st, [tmp_path / "poison.parquet"], loaded_at=LOADED_AT)
    after = customer_features(st, as_of)
    pd.testing.assert_frame_equal(before, after)
    assert customer_features(st, "2024-06-01").shape[0] > before.shape[0]  # poison did land


def test_rfm_summary_equals_feature_columns(tmp_path: Path) -> None:
    from loyalist.features import rfm_summary

    _random_log(np.random.default_rng(5), 100, 800).to_parquet(tmp_path / "l.parquet")
    st = Store(tmp_path / "s.duckdb")
    ingest_files(st, [tmp_path / "l.parquet"], loaded_at=LOADED_AT)
    f = customer_features(st, "2023-08-15")
    w = rfm_summary(st, "2023-08-15", "W")
    assert list(w.customer_id) == list(f.customer_id)
    np.testing.assert_allclose(w.frequency, f.bg_frequency)
    np.testing.assert_allclose(w.recency * 7, f.bg_recency)
    np.testing.assert_allclose(w["T"] * 7, f.bg_T)
    np.testing.assert_allclose(w.monetary_value, f.bg_monetary_value)
    with pytest.raises(ParameterError, match="time unit 'Y'"):
        rfm_summary(st, "2023-08-15", "Y")


def _rich_log(rng: np.random.Generator, n_customers: int, n_lines: int, start: str,
              prefix: str) -> pd.DataFrame:
    """Lines with returns, guests, missing categories and orders spread over several
    timestamps (each line of an order gets its own hour), so every branch of the per-order
    table is exercised."""
    cust = rng.integers(0, n_customers, n_lines)
    days = rng.integers(0, 300, n_lines)
    customer = np.array([f"c{c}" for c in cust], dtype=object)
    customer[rng.random(n_lines) < 0.05] = ""
    return pd.DataFrame({
        "customer_id": customer,
        "order_id": [f"{prefix}{c}-{d // 2}" for c, d in zip(cust, days, strict=True)],
        "ordered_at": pd.Timestamp(start) + pd.to_timedelta(days, unit="D")
        + pd.to_timedelta(rng.integers(0, 24 * 60, n_lines), unit="min"),
        "product_id": rng.choice(list("abcdefgh"), n_lines),
        "category": rng.choice(["x", "y", "z", None], n_lines),
        "quantity": rng.choice([-2, 1, 1, 2, 3], n_lines),
        "unit_price": rng.gamma(2.0, 10.0, n_lines).round(2) + 0.01,
    })


@pytest.mark.parametrize("seed", [1, 2])
def test_per_order_table_gives_the_reference_features(tmp_path: Path, seed: int,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    """The fast path (``customer_orders``, built at ingest, refreshed per load for the touched
    customers) returns exactly the reference query over the lines, at midnight and mid-day
    cutoffs, including cutoffs that split an order's lines."""
    from loyalist.features import orders
    from loyalist.features.sql import features_sql

    rng = np.random.default_rng(seed)
    first = _rich_log(rng, 120, 1500, "2023-01-01", "a")
    later = _rich_log(rng, 160, 700, "2022-09-01", "b")  # earlier dates, same customers too
    first.to_parquet(tmp_path / "first.parquet")
    later.to_parquet(tmp_path / "later.parquet")
    st = Store(tmp_path / "s.duckdb")
    ingest_files(st, [tmp_path / "first.parquet"], loaded_at=LOADED_AT)
    assert orders.is_fresh(st.con)
    with st.transaction() as con:  # a second load refreshes only the customers it touches
        assert orders.refresh(con) == "fresh"
    with caplog.at_level("INFO", logger="loyalist.features.orders"):
        ingest_files(st, [tmp_path / "later.parquet"], loaded_at=LOADED_AT)
    assert "incremental rebuild" in caplog.text
    assert orders.is_fresh(st.con)
    both = Store(tmp_path / "both.duckdb")
    ingest_files(both, [tmp_path / "later.parquet", tmp_path / "first.parquet"],
                 loaded_at=LOADED_AT)
    multi = st.query(f"SELECT count(*) AS n FROM {orders.ORDERS} WHERE multi").n[0]
    assert multi > 30  # the test data does split orders over timestamps
    for as_of in ["2023-03-01", "2023-03-01 13:37", "2023-06-15 06:00", "2023-11-01",
                  "2022-10-01"]:
        params = {"as_of": pd.Timestamp(as_of).to_pydatetime()}
        ref = st.query(features_sql(), params)
        fast = st.query(orders.features_from_orders_sql(), params)
        pd.testing.assert_frame_equal(fast, ref, check_dtype=False, rtol=1e-9)
        pd.testing.assert_frame_equal(customer_features(both, as_of), ref, check_dtype=False,
                                      rtol=1e-9)


def test_stale_per_order_table_is_not_used(tmp_path: Path) -> None:
    """Rows written behind ingest's back make the derived table stale: features then come from
    the lines, and the next load rebuilds it in full."""
    from loyalist.features import orders

    log = _random_log(np.random.default_rng(4), 50, 400)
    log.to_parquet(tmp_path / "l.parquet")
    st = Store(tmp_path / "s.duckdb")
    ingest_files(st, [tmp_path / "l.parquet"], loaded_at=LOADED_AT)
    st.con.execute("INSERT INTO transactions SELECT * REPLACE (order_id || 'x' AS order_id, "
                   "amount * 100 AS amount) FROM transactions LIMIT 50")
    assert not orders.is_fresh(st.con)
    f = customer_features(st, "2023-12-31")
    assert f.monetary_total.sum() > log.quantity.mul(log.unit_price).sum() * 1.5
    with st.transaction() as con:
        assert orders.refresh(con, [99]) == "full"
    pd.testing.assert_frame_equal(customer_features(st, "2023-12-31"), f)


def test_product_master_categories_count_for_lines_without_one(tmp_path: Path) -> None:
    """Sales without a category and a products file with one (dunnhumby's DEPARTMENT, Olist's
    product_category_name), loaded after the sales: the lines take their product's category in
    the features (fast path and reference alike), the per-category forecast series and the
    response model's category shares; a line's own category wins over its product's
    (exploratory report 6b, H5). Before, distinct_categories was 0 and `--by category`
    refused."""
    from loyalist.features import orders
    from loyalist.features.sql import features_sql
    from loyalist.forecast.series import read_daily_revenue
    from loyalist.response.data import response_features

    rows = [line(order="o1", product="A", customer="c1", when="2024-01-01 09:00:00"),
            line(order="o1", product="B", customer="c1", when="2024-01-01 09:00:00"),
            line(order="o2", product="C", customer="c1", when="2024-01-05 09:00:00",
                 category="own"),
            line(order="o3", product="A", customer="c2", when="2024-01-06 09:00:00"),
            line(order="o4", product="D", customer="c2", when="2024-01-07 09:00:00")]
    st = Store(tmp_path / "s.duckdb")
    ingest_files(st, [write_csv(tmp_path / "t.csv", rows)], loaded_at=LOADED_AT)
    products = [{"product_id": "A", "category": "MEAT"}, {"product_id": "B", "category": "DELI"},
                {"product_id": "C", "category": "DELI"}]  # D: not in the product master
    ingest_files(st, [write_csv(tmp_path / "p.csv", products)], table="products",
                 loaded_at=LOADED_AT)
    assert orders.is_fresh(st.con)  # rebuilt for the new categories
    as_of = pd.Timestamp("2024-02-01")
    ref = st.query(features_sql(), {"as_of": as_of.to_pydatetime()})
    got = dict(zip(ref.customer_id, ref.distinct_categories, strict=True))
    assert got == {"c1": 3, "c2": 1}
    pd.testing.assert_frame_equal(customer_features(st, as_of), ref, check_dtype=False)
    daily, _ = read_daily_revenue(st, as_of=as_of, by="category")
    assert set(daily.series) == {"total", "category=MEAT", "category=DELI", "category=own"}
    shares = response_features(st, as_of).set_index("customer_id")
    assert shares.loc["c1", ["share__meat", "share__deli", "share__own"]].tolist() == [
        pytest.approx(1 / 3)] * 3
    assert st.query("SELECT count(category) AS n FROM transactions").n[0] == 1  # as loaded
    from loyalist.ingest.unload import unload

    unload(st, [2])  # the products file goes, and its categories with it
    assert orders.is_fresh(st.con)
    assert customer_features(st, as_of).distinct_categories.tolist() == [1, 0]


def test_features_of_a_customer_list_are_their_rows_of_the_whole_frame(tmp_path: Path) -> None:
    """``customers=`` (a registered frame of ids) gives those customers' rows of the whole
    frame, from the per-order table and from the lines; ``columns=`` only those columns; no
    purchase among the listed customers is an empty frame, no purchase at all still an error."""
    from loyalist.features import orders
    from loyalist.features.sql import features_sql

    _rich_log(np.random.default_rng(5), 120, 1500, "2023-01-01", "a").to_parquet(
        tmp_path / "l.parquet")
    st = Store(tmp_path / "s.duckdb")
    ingest_files(st, [tmp_path / "l.parquet"], loaded_at=LOADED_AT)
    assert orders.is_fresh(st.con)
    ids = ["c3", "c17", "c40", "c41", "c99", "nobody", ""]
    st.con.register("__ids", pd.DataFrame({"customer_id": ids}))
    for as_of in ["2023-03-01 13:37", "2023-11-01"]:
        params = {"as_of": pd.Timestamp(as_of).to_pydatetime()}
        full = customer_features(st, as_of)
        want = full[full.customer_id.isin(ids)].reset_index(drop=True)
        assert 0 < len(want) < len(full)
        got = customer_features(st, as_of, customers="__ids")
        pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-12)
        ref = st.query(features_sql(customers="__ids"), params)
        pd.testing.assert_frame_equal(ref, want, check_dtype=False, rtol=1e-9)
        aov = customer_features(st, as_of, columns=["aov_mean"])
        pd.testing.assert_frame_equal(aov, full[["customer_id", "aov_mean"]],
                                      check_exact=False, rtol=1e-12)
    st.con.register("__ids", pd.DataFrame({"customer_id": ["nobody"]}))
    assert customer_features(st, "2023-11-01", customers="__ids").empty
    with pytest.raises(DataError, match="no customer has a purchase before as_of 2020-01-01"):
        customer_features(st, "2020-01-01", customers="__ids")


def _per_order_tables(st: Store) -> tuple[pd.DataFrame, pd.DataFrame]:
    from loyalist.features import orders

    return (st.query(f"SELECT * FROM {orders.ORDERS} ORDER BY cid, oid"),
            st.query(f"SELECT * FROM {orders.PARTS} ORDER BY cid, oid, ts"))


def test_a_month_more_adds_its_orders_and_matches_a_single_load(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Loading a log as "all but the last months" then "the rest" gives the same per-order
    tables and features as one load of all lines. Customers whose new lines only add orders
    keep their earlier rows as they were (not deleted and written again: that cost time and
    left the store file a third larger); those whose new lines join an earlier order (an
    order across the cut), or are dated at or before their last line, are regrouped."""
    from loyalist.features import orders

    rng = np.random.default_rng(8)
    log = _rich_log(rng, 150, 3000, "2023-01-01", "a")
    cut = pd.Timestamp("2023-01-01") + pd.Timedelta(days=201)  # splits the orders of days 200-1
    head, tail = log[log.ordered_at < cut], log[log.ordered_at >= cut].copy()
    # a late line dated before its customer's last line, one at that very time, one joining
    # the customer's last order (later that day), and a customer whose only earlier document
    # is a return
    known = head[head.customer_id != ""].sort_values("ordered_at").groupby("customer_id").last()
    late, tied = known.index[:2]
    joined = next(c for c in known.index[2:] if known.ordered_at[c].hour < 23)
    extra = pd.DataFrame({
        "customer_id": [late, tied, joined, "r1", "r1"],
        "order_id": ["late", "tied", known.order_id[joined], "r-ret", "r-buy"],
        "ordered_at": [known.ordered_at[late] - pd.Timedelta(days=3), known.ordered_at[tied],
                       known.ordered_at[joined] + pd.Timedelta(minutes=30),
                       cut - pd.Timedelta(days=9),
                       cut + pd.Timedelta(days=2)],
        "product_id": ["a", "b", "c", "a", "a"], "category": ["x", "y", None, "x", "x"],
        "quantity": [1, 2, 1, -1, 1], "unit_price": [3.0, 4.0, 2.0, 5.0, 5.0]})
    head = pd.concat([head, extra[extra.order_id == "r-ret"]])
    tail = pd.concat([tail, extra[extra.order_id != "r-ret"]])
    head.to_parquet(tmp_path / "head.parquet")
    tail.to_parquet(tmp_path / "tail.parquet")
    pd.concat([head, tail]).to_parquet(tmp_path / "all.parquet")

    st = Store(tmp_path / "s.duckdb")
    ingest_files(st, [tmp_path / "head.parquet"], loaded_at=LOADED_AT)
    before = st.query(f"SELECT rowid AS r, * FROM {orders.ORDERS}")
    with caplog.at_level("INFO", logger="loyalist.features.orders"):
        ingest_files(st, [tmp_path / "tail.parquet"], loaded_at=LOADED_AT)
    assert orders.is_fresh(st.con)
    one = Store(tmp_path / "one.duckdb")
    ingest_files(one, [tmp_path / "all.parquet"], loaded_at=LOADED_AT)

    for inc, single in zip(_per_order_tables(st), _per_order_tables(one), strict=True):
        pd.testing.assert_frame_equal(inc, single, check_exact=False, rtol=1e-12)
    assert _per_order_tables(st)[1].shape[0] > 30  # orders over several timestamps are in
    for as_of in ["2023-07-21", "2023-07-20 13:37", "2023-07-23", "2023-11-01"]:
        pd.testing.assert_frame_equal(customer_features(st, as_of),
                                      customer_features(one, as_of), check_exact=False,
                                      rtol=1e-12)
    # the earlier rows of customers who only gained orders were not written again
    regrouped = set(st.query(f"SELECT DISTINCT {orders.ORDERS}.cid FROM {orders.ORDERS} "
                             f"JOIN transactions t ON t.customer_id = {orders.ORDERS}.cid "
                             f"AND t.order_id = {orders.ORDERS}.oid WHERE t.load_id = 2 "
                             f"AND {orders.ORDERS}.ts < ?", [cut.to_pydatetime()]).cid)
    assert {late, tied, joined} <= regrouped
    kept = before[~before.cid.isin(regrouped)].reset_index(drop=True)
    now = st.query(f"SELECT rowid AS r, * FROM {orders.ORDERS} WHERE rowid IN "
                   f"(SELECT unnest(?::BIGINT[]))", [kept.r.tolist()])
    pd.testing.assert_frame_equal(now.sort_values("r", ignore_index=True), kept)
    got = re.search(r"new orders of (\d+) customers, (\d+) regrouped", caplog.text)
    assert got and int(got[1]) > int(got[2]) == len(regrouped), caplog.text
