"""Integration on the real shared files: the quality report states their known facts exactly."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import CDNOW_MASTER, CDNOW_SAMPLE, LOADED_AT, ONLINE_RETAIL, need_shared

from loyalist.features import customer_features, labels
from loyalist.ingest import ingest_files
from loyalist.store import Store

pytestmark = pytest.mark.shared


@need_shared(ONLINE_RETAIL)
def test_online_retail_known_facts(tmp_path: Path) -> None:
    st = Store(tmp_path / "s.duckdb")
    r = ingest_files(st, [ONLINE_RETAIL], loaded_at=LOADED_AT)[0]
    assert r["format"] == "online-retail"
    assert (r["currency"], r["currency_evidence"]) == ("GBP", "format online-retail")
    assert r["rows_read"] == 541_909
    assert r["rows_loaded"] + r["rows_quarantined"] == 541_909
    assert r["profile"]["lines_without_customer"] == 135_080
    assert r["profile"]["cancellation_lines"] == 9_288
    assert r["profile"]["duplicate_rows"] == 5_268
    assert r["rules"]["exact_duplicate"] == 5_268
    # 4,372 customers on its sales lines, one of them with every line quarantined
    assert r["customers_in_file"] == 4_372
    assert r["customers"] == 4_371 == st.query(
        "SELECT count(DISTINCT customer_id) AS n FROM transactions").n.iloc[0]
    assert r["customers_with_purchases"] == 4_338
    assert r["profile"]["negative_quantity_lines"] == 10_624
    assert r["profile"]["zero_price_lines"] == 2_515
    assert r["first_date"] == "2010-12-01T08:26:00" and r["last_date"] == "2011-12-09T12:50:00"
    assert r["revenue_read"] == pytest.approx(9_747_747.93, abs=0.01)
    assert st.count("quarantine") == r["rows_quarantined"]
    # the three bad-debt adjustments: two negative prices are quarantined, the positive one is
    # classified as a non-product line
    adj = st.query("SELECT count(*) AS n FROM quarantine WHERE raw->>'StockCode' = 'B'")
    assert adj.n.iloc[0] == 2
    f = customer_features(st, "2011-12-10")
    assert len(f) == 4_338
    lab = labels(st, "2011-09-01", 90)
    assert 0.3 < lab.churned.mean() < 0.6


@need_shared(CDNOW_SAMPLE)
def test_cdnow_sample_calibration_summary(tmp_path: Path) -> None:
    """The published calibration facts: 2,457 repeat transactions by 946 customers in weeks
    1-39, 1,882 transactions in the 39-week hold-out, T of the first-day cohort 38.86 weeks."""
    st = Store(tmp_path / "s.duckdb")
    r = ingest_files(st, [CDNOW_SAMPLE], loaded_at=LOADED_AT)[0]
    assert r["format"] == "cdnow" and r["rows_loaded"] == 6_919
    assert r["revenue_loaded"] == pytest.approx(244_091.94, abs=0.01)
    f = customer_features(st, "1997-10-01")
    assert len(f) == 2_357
    assert f.bg_frequency.sum() == 2_457 and (f.bg_frequency > 0).sum() == 946
    assert (f.bg_T / 7).max() == pytest.approx(38.857, abs=1e-3)
    assert labels(st, "1997-10-01", 273).future_order_days.sum() == 1_882


@need_shared(CDNOW_MASTER)
def test_cdnow_master_totals(tmp_path: Path) -> None:
    st = Store(tmp_path / "s.duckdb")
    r = ingest_files(st, [CDNOW_MASTER], loaded_at=LOADED_AT)[0]
    assert r["rows_loaded"] == 69_659 and r["customers"] == 23_570
    tot = st.query("SELECT sum(quantity) AS q, sum(amount) AS a, "
                   "count(DISTINCT (customer_id, CAST(ordered_at AS DATE))) AS d FROM transactions")
    assert tot.q.iloc[0] == 167_881
    assert tot.a.iloc[0] == pytest.approx(2_500_315.63, abs=0.01)
    assert tot.d.iloc[0] == 67_591


@need_shared(CDNOW_SAMPLE)
def test_cdnow_sample_as_distributed_text_gives_the_papers_fit(tmp_path: Path) -> None:
    """CDNOW_sample.txt as Fader & Hardie distribute it (no header row, columns aligned with
    spaces, zero-padded ids, yyyymmdd dates), written from the shared file: `--format cdnow`
    reads its documented layout, and BG/NBD on it has the paper's parameters."""
    import pandas as pd

    from loyalist.clv import BetaGeoModel
    from loyalist.features import rfm_summary

    d = pd.read_parquet(CDNOW_SAMPLE)
    text = tmp_path / "CDNOW_sample.txt"
    text.write_text("".join(
        f"{r.customer_id:05d} {r.sample_id:5d} {pd.Timestamp(r.date):%Y%m%d} "
        f"{r.quantity:2d} {r.amount:7.2f}\n" for r in d.itertuples(index=False)))
    st = Store(tmp_path / "s.duckdb")
    r = ingest_files(st, [text], fmt="cdnow", loaded_at=LOADED_AT)[0]
    assert r["rows_read"] == r["rows_loaded"] == 6_919
    assert r["revenue_loaded"] == pytest.approx(244_091.94, abs=0.01)
    assert any("aligned with spaces" in a for a in r["assumptions"])
    rfm = rfm_summary(st, "1997-10-01", time_unit="W")
    m = BetaGeoModel().fit(rfm["frequency"], rfm["recency"], rfm["T"])
    assert m.params_["r"] == pytest.approx(0.2426, abs=1e-4)
    assert m.params_["alpha"] == pytest.approx(4.414, abs=1e-3)
    assert m.log_likelihood_ == pytest.approx(-9582.43, abs=0.01)
