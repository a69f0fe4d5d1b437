"""Segments: RFM quintiles and ties, every named-segment rule on crafted customers, full
coverage of both schemes, k-means clusters (determinism, names, outliers), profiles, picture."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import ONLINE_RETAIL, need_shared
from test_churn import or_store  # noqa: F401 (session fixture shared with the churn tests)

from loyalist.errors import DataError, NotFittedError, ParameterError
from loyalist.segment import (
    GRID10,
    NAMED11,
    CustomerClusters,
    RFMScorer,
    assign_segments,
    plot_segments,
    segment_profile,
)
from loyalist.segment.clusters import OUTLIER_NAME, robust_z
from loyalist.segment.rfm import rank_scores


def customers(recency: list[float], orders: list[float], monetary: list[float],
              ids: list[str] | None = None) -> pd.DataFrame:
    n = len(recency)
    return pd.DataFrame({
        "customer_id": ids or [f"c{i:03d}" for i in range(n)],
        "recency_days": recency, "orders": orders, "net_spend": monetary,
    })


# --------------------------------------------------------------------------------------------
# RFM scores
# --------------------------------------------------------------------------------------------
def test_quintiles_of_ten_distinct_values() -> None:
    assert rank_scores(np.arange(10.0)).tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]


def test_quintile_sizes_of_distinct_values_differ_by_at_most_one() -> None:
    for n in (1, 3, 7, 11, 23):
        sc = rank_scores(np.arange(float(n)))
        counts = np.bincount(sc, minlength=6)[1:]
        present = counts[counts > 0]
        assert present.max() - present.min() <= 1 and sc.min() == 1


def test_tied_keys_share_the_score_of_their_first_member() -> None:
    # Ties used to be split by customer id to keep the quintiles equal-sized, so identical
    # customers got different scores (and segments) from their id alone (exploratory report
    # 3b, B4). Now a tied group gets the quintile of its minimum rank: keys 1 2 2 2 2 2 3 4 5 6
    # have 0 1 1 1 1 1 6 7 8 9 keys below them.
    assert rank_scores(np.array([1, 2, 2, 2, 2, 2, 3, 4, 5, 6.0])).tolist() == [
        1, 1, 1, 1, 1, 1, 4, 4, 5, 5]
    for n in (1, 3, 7, 11, 23):  # all tied: everybody scores 1, nobody outside 1..5
        assert rank_scores(np.zeros(n)).tolist() == [1] * n


def test_identical_customers_get_the_same_scores_and_segment_whatever_their_id() -> None:
    # integer ids 1, 2, 9, 10, 11 used to be ordered as text (10 < 2) and then split 1..5
    frame = customers([5.0] * 5, [2.0] * 5, [50.0] * 5, [1, 2, 9, 10, 11])  # type: ignore[list-item]
    out = RFMScorer().fit_transform(frame)
    assert out[["r_score", "f_score", "m_score"]].nunique().tolist() == [1, 1, 1]
    assert out["rfm_segment"].nunique() == 1


def test_ties_do_not_depend_on_id_or_row_order() -> None:
    # ten customers with the same order count; the three most recent and the richest differ
    ids = [f"c{i}" for i in range(10)]
    frame = customers([5.0] * 7 + [1.0] * 3, [1.0] * 10, [10.0] * 9 + [99.0], ids)
    a = RFMScorer().fit_transform(frame).set_index("customer_id")
    shuffled = frame.sample(frac=1.0, random_state=3)
    b = RFMScorer().fit_transform(shuffled).set_index("customer_id")
    assert a.equals(b.loc[a.index])
    assert a.loc[ids, "f_score"].tolist() == [1] * 10
    assert a.loc[ids, "r_score"].tolist() == [1] * 7 + [4] * 3
    assert a.loc[ids, "m_score"].tolist() == [1] * 9 + [5]


def test_one_order_customers_are_all_f1() -> None:
    # "New" (R 5, F 1) and "Promising" (R 4, F 1) mean one order: a tied block of one-order
    # buyers larger than a quintile must not spill into F 2 by id
    frame = customers(list(range(10)), [1.0] * 4 + [2.0] * 3 + [5.0] * 3, [1.0] * 10)
    out = RFMScorer().fit_transform(frame)
    assert out["f_score"].tolist() == [1] * 4 + [3] * 3 + [4] * 3


def test_recency_is_reversed_and_monetary_ranked() -> None:
    frame = customers([100, 1, 50, 10, 200], [1, 2, 3, 4, 5], [5, 4, 3, 2, 1])
    out = RFMScorer().fit_transform(frame)
    assert out["r_score"].tolist() == [2, 5, 3, 4, 1]  # most recent buyer scores 5
    assert out["f_score"].tolist() == [1, 2, 3, 4, 5]
    assert out["m_score"].tolist() == [5, 4, 3, 2, 1]


def test_monetary_is_what_the_customer_kept() -> None:
    # exploratory report 6: UCI customer 12346's one order (77,184) was cancelled minutes
    # later, and gross purchase value made them an M 5 "At Risk: spent well" customer
    frame = customers([10, 20, 30, 40, 50], [1] * 5, [0.0, 50.0, 40.0, 30.0, 20.0])
    frame["monetary_total"] = [77_184.0, 50.0, 40.0, 30.0, 20.0]
    out = RFMScorer().fit_transform(frame)
    assert out["m_score"].tolist() == [1, 5, 4, 3, 2]
    gross = RFMScorer(monetary="monetary_total").fit_transform(frame)
    assert gross["m_score"].tolist()[0] == 5


def test_transform_scores_new_customers_against_the_fitted_bounds() -> None:
    frame = customers(list(range(10)), list(range(1, 11)), [10.0 * i for i in range(10)])
    sc = RFMScorer().fit(frame)
    assert sc.transform(frame).equals(sc.fit_transform(frame))
    new = customers([0.0, 1000.0], [100.0, 0.0], [1e6, 0.0], ["zz_new", "aa_new"])
    out = sc.transform(new)
    assert out["r_score"].tolist() == [5, 1]
    assert out["f_score"].tolist() == [5, 1]
    assert out["m_score"].tolist() == [5, 1]


def test_a_scorer_saved_with_id_tie_breaks_still_scores() -> None:
    # bounds_ used to hold (key, customer_id) pairs; a model saved then must still transform
    frame = customers(list(range(10)), [1.0] * 4 + [2.0] * 3 + [5.0] * 3, [1.0] * 10)
    sc = RFMScorer().fit(frame)
    # what the old fit stored: the sorted customers at positions ceil(q n / 5) = 2, 4, 6, 8
    sc.bounds_ = {"r": [(-7.0, "c007"), (-5.0, "c005"), (-3.0, "c003"), (-1.0, "c001")],
                  "f": [(1.0, "c002"), (2.0, "c004"), (2.0, "c006"), (5.0, "c008")],
                  "m": [(1.0, "c002"), (1.0, "c004"), (1.0, "c006"), (1.0, "c008")]}
    out = sc.transform(frame)
    assert out["r_score"].tolist() == RFMScorer().fit_transform(frame)["r_score"].tolist()
    assert out["f_score"].tolist() == [2] * 4 + [4] * 3 + [5] * 3  # ties share a score
    assert out["m_score"].tolist() == [5] * 10


def test_rfm_errors() -> None:
    with pytest.raises(NotFittedError, match="not fitted"):
        RFMScorer().transform(customers([1], [1], [1]))
    with pytest.raises(ParameterError, match="scheme 'nope' is unknown"):
        RFMScorer(scheme="nope").fit(customers([1], [1], [1]))
    with pytest.raises(DataError, match=r"columns \['orders'\] are missing"):
        RFMScorer().fit(customers([1], [1], [1]).drop(columns="orders"))
    with pytest.raises(DataError, match="scores must be integers 1-5"):
        assign_segments([0], [1], [1])


# --------------------------------------------------------------------------------------------
# Named segments
# --------------------------------------------------------------------------------------------
NAMED_CASES = [  # (R, F, M) -> segment: one crafted customer per rule, plus boundary cases
    ((5, 5, 5), "Champions"), ((4, 4, 4), "Champions"),
    ((3, 5, 5), "Loyal"), ((5, 3, 3), "Loyal"), ((4, 5, 3), "Loyal"),
    ((5, 1, 1), "New"), ((5, 1, 5), "New"),
    ((4, 1, 1), "Promising"), ((4, 1, 4), "Promising"),
    ((5, 2, 2), "Potential Loyalist"), ((4, 5, 2), "Potential Loyalist"),
    ((4, 2, 5), "Potential Loyalist"),
    ((1, 5, 5), "Can't Lose Them"), ((1, 4, 4), "Can't Lose Them"),
    ((2, 5, 5), "At Risk"), ((1, 3, 1), "At Risk"), ((2, 1, 3), "At Risk"),
    ((1, 5, 3), "At Risk"),
    ((3, 3, 2), "Need Attention"), ((3, 1, 5), "Need Attention"),
    ((3, 2, 2), "About to Sleep"), ((3, 1, 1), "About to Sleep"),
    ((2, 2, 2), "Hibernating"), ((2, 1, 1), "Hibernating"),
    ((1, 2, 2), "Lost"), ((1, 1, 1), "Lost"),
]


@pytest.mark.parametrize(("rfm", "segment"), NAMED_CASES)
def test_named11_rule(rfm: tuple[int, int, int], segment: str) -> None:
    r, f, m = rfm
    assert assign_segments([r], [f], [m], "named11")[0] == segment


def test_every_named11_segment_has_a_case() -> None:
    assert {seg for _, seg in NAMED_CASES} == {rule.name for rule in NAMED11}
    assert len(NAMED11) == 11


GRID_CASES = [
    ((5, 5), "Champions"), ((5, 4), "Champions"), ((4, 4), "Loyal Customers"),
    ((3, 5), "Loyal Customers"), ((5, 2), "Potential Loyalists"), ((4, 3), "Potential Loyalists"),
    ((5, 1), "New Customers"), ((4, 1), "Promising"), ((3, 3), "Need Attention"),
    ((3, 1), "About to Sleep"), ((3, 2), "About to Sleep"), ((1, 5), "Can't Lose Them"),
    ((2, 5), "Can't Lose Them"), ((2, 3), "At Risk"), ((1, 4), "At Risk"),
    ((1, 1), "Hibernating"), ((2, 2), "Hibernating"),
]


@pytest.mark.parametrize(("rf", "segment"), GRID_CASES)
def test_grid10_cell(rf: tuple[int, int], segment: str) -> None:
    r, f = rf
    for m in (1, 5):  # the grid ignores M
        assert assign_segments([r], [f], [m], "grid10")[0] == segment


@pytest.mark.parametrize("scheme", ["named11", "grid10"])
def test_nobody_unassigned_and_every_segment_reachable(scheme: str) -> None:
    cells = np.array(list(itertools.product(range(1, 6), repeat=3)))
    seg = assign_segments(cells[:, 0], cells[:, 1], cells[:, 2], scheme)
    rules = NAMED11 if scheme == "named11" else GRID10
    assert len(seg) == 125 and all(isinstance(x, str) and x for x in seg)
    assert set(seg) == {r.name for r in rules}


def test_first_matching_rule_wins() -> None:
    # (5, 5, 5) matches Champions, Loyal and Potential Loyalist: the first in order wins
    assert [r.name for r in NAMED11][:2] == ["Champions", "Loyal"]
    assert assign_segments([5], [5], [5])[0] == "Champions"


# --------------------------------------------------------------------------------------------
# Clusters
# --------------------------------------------------------------------------------------------
def cluster_frame(seed: int = 0) -> pd.DataFrame:
    """Three well-separated groups and two wholesalers."""
    rng = np.random.default_rng(seed)
    groups = [  # (n, recency, orders, monetary, tenure)
        (80, 10, 15, 2000, 300),    # active high-value frequent
        (150, 250, 1, 100, 260),    # lapsed low-value one-timers
        (100, 20, 1, 120, 25),      # active new low-value one-timers
    ]
    rows = []
    for n, rec, orders, mon, ten in groups:
        for _ in range(n):
            o = max(1, round(orders * rng.lognormal(0, 0.15))) if orders > 1 else 1
            m = mon * rng.lognormal(0, 0.3)
            rows.append({"recency_days": rec * rng.lognormal(0, 0.15), "orders": o,
                         "monetary_total": m, "tenure_days": max(ten * rng.lognormal(0, 0.1),
                                                                 rec),
                         "items_total": m / 3})
    rows.append({"recency_days": 5, "orders": 60, "monetary_total": 5e6, "tenure_days": 300,
                 "items_total": 2e6})
    rows.append({"recency_days": 8, "orders": 40, "monetary_total": 3e6, "tenure_days": 300,
                 "items_total": 1e6})
    out = pd.DataFrame(rows)
    out.insert(0, "customer_id", [f"c{i:04d}" for i in range(len(out))])
    return out


def test_robust_z_by_hand() -> None:
    z = robust_z([1, 2, 3, 4, 100])  # median 3, MAD median(2,1,0,1,97) = 1
    assert z[-1] == pytest.approx(0.6745 * 97)
    assert z[2] == 0
    assert (robust_z([5, 5, 5]) == 0).all()


def test_clusters_k_names_outliers_and_determinism() -> None:
    frame = cluster_frame()
    a = CustomerClusters(random_state=7).fit(frame)
    b = CustomerClusters(random_state=7).fit(frame.copy())
    ta, tb = a.transform(frame), b.transform(frame)
    assert ta.equals(tb) and a.names_ == b.names_
    assert a.k_ == 3
    sel = a.selection_
    assert sel["k"].tolist() == list(range(2, 9))
    assert {"silhouette", "davies_bouldin", "inertia", "chosen"} <= set(sel.columns)
    assert sel.loc[sel["chosen"], "k"].item() == 3
    assert sel.loc[sel["chosen"], "silhouette"].item() == sel["silhouette"].max()
    names = set(a.names_.values())
    assert "active high-value frequent" in names
    assert "lapsed low-value one-timers" in names
    assert any("new" in n and "one-timers" in n for n in names)
    # cluster 0 is the highest-spend cluster
    assert a.names_[0] == "active high-value frequent"
    # the two wholesalers are flagged and kept out of the clusters; outliers stay rare (the
    # high-spend group is far above the low-spend majority's median, so the share cap binds)
    assert ta["outlier"].tail(2).all()
    assert 2 <= a.n_outliers_ <= 0.02 * len(frame)
    assert (ta.loc[ta["outlier"], "cluster"] == -1).all()
    assert (ta.loc[ta["outlier"], "cluster_name"] == OUTLIER_NAME).all()
    assert (ta.loc[~ta["outlier"], "cluster"] >= 0).all()


def test_outliers_by_z_only_when_rare() -> None:
    frame = cluster_frame().head(-2)  # no wholesalers: nobody is extreme on the log scale
    c = CustomerClusters(outlier_z=None).fit(frame)
    assert c.n_outliers_ == 0
    sub = frame.iloc[80:].copy()  # the two low-spend groups only
    sub.loc[sub.index[0], ["monetary_total", "items_total"]] = [1e7, 1e6]
    c = CustomerClusters().fit(sub)
    assert c.n_outliers_ == 1 and c.outlier_limit_ == pytest.approx(3.5)


def test_clusters_errors() -> None:
    with pytest.raises(NotFittedError, match="not fitted"):
        CustomerClusters().predict(cluster_frame())
    with pytest.raises(ParameterError, match="k_range"):
        CustomerClusters(k_range=(1, 4)).fit(cluster_frame())
    with pytest.raises(DataError, match="too few for 2 clusters"):
        CustomerClusters().fit(cluster_frame().head(3))


def test_clusters_refuse_missing_or_text_features_like_rfm() -> None:
    # exploratory report 3b, B6: NaN reached scikit-learn ("Input X contains NaN")
    frame = cluster_frame()
    frame.loc[frame.index[:3], "monetary_total"] = np.nan
    with pytest.raises(DataError, match=r"clusters: 3 of [0-9,]+ customers have no "
                                        r"monetary_total value \(NaN\), e\.g\. customer_id"):
        CustomerClusters().fit(frame)
    fitted = CustomerClusters().fit(cluster_frame())
    with pytest.raises(DataError, match="have no monetary_total value"):
        fitted.predict(frame)
    text = cluster_frame().astype({"orders": object})
    text.loc[text.index[0], "orders"] = "many"
    with pytest.raises(DataError, match=r"column orders \(dtype object\): 1 of [0-9,]+ "
                                        r"values are not numbers, e\.g\. 'many'"):
        CustomerClusters().fit(text)
    # numpy integers are integers (B7)
    assert CustomerClusters(k_range=(np.int64(2), np.int64(3))).fit(cluster_frame()).k_ in (2, 3)


# --------------------------------------------------------------------------------------------
# Profiles and picture
# --------------------------------------------------------------------------------------------
def test_profile_by_hand(tmp_path: Path) -> None:
    frame = pd.DataFrame({
        "customer_id": ["a", "b", "c", "d"],
        "seg": ["X", "X", "Y", "Z"],
        "monetary_total": [100.0, 300.0, 600.0, 0.0],
        "orders": [1, 3, 2, 1],
        "recency_days": [10.0, 30.0, 5.0, 400.0],
        "churn_probability": [0.2, 0.4, 0.1, 0.9],
        "clv_p50": [10.0, 30.0, 50.0, 0.0],
    })
    prof = segment_profile(frame, "seg").set_index("segment")
    assert prof.index.tolist() == ["Y", "X", "Z"]  # by revenue
    assert prof.loc["X", "customers"] == 2
    assert prof.loc["X", "customer_share"] == pytest.approx(0.5)
    assert prof.loc["X", "revenue_share"] == pytest.approx(0.4)
    assert prof.loc["X", "mean_order_value"] == pytest.approx(400 / 4)
    assert prof.loc["X", "recency_days_median"] == pytest.approx(20)
    assert prof.loc["X", "orders_mean"] == pytest.approx(2)
    assert prof.loc["X", "churn_probability_mean"] == pytest.approx(0.3)
    assert prof.loc["Y", "clv_p50_mean"] == pytest.approx(50)
    assert "clv_bgnbd_mean" not in prof.columns  # optional columns only when present
    ordered = segment_profile(frame, "seg", order=["Z", "X", "Y"])
    assert ordered["segment"].tolist() == ["Z", "X", "Y"]
    png = plot_segments(ordered, tmp_path / "seg.png", title="test")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_profile_errors() -> None:
    with pytest.raises(DataError, match="columns \\['seg'\\] are missing"):
        segment_profile(pd.DataFrame({"monetary_total": [1], "orders": [1],
                                      "recency_days": [1]}), "seg")


# --------------------------------------------------------------------------------------------
# End to end: train_and_score writes scores, profiles, pictures, the card and the model
# --------------------------------------------------------------------------------------------
def check_run(res: dict, horizon: int) -> pd.DataFrame:
    import json

    from loyalist.evaluation.persist import load
    from loyalist.evaluation.run import SCORE_COLUMNS, score_customers

    scores = res["scores"]
    assert list(scores.columns[:len(SCORE_COLUMNS)]) == list(SCORE_COLUMNS)
    assert scores["customer_id"].is_unique
    assert scores["rfm_segment"].notna().all() and scores["cluster_name"].notna().all()
    assert set(scores["churn_tier"]) <= {"high", "medium", "low"}
    assert (scores["reasons"].str.len() > 0).all()
    q = scores[["clv_p10", "clv_p50", "clv_p90"]].to_numpy()
    assert (np.diff(q, axis=1) >= 0).all()
    assert scores["churn_probability"].between(0, 1).all()
    metrics = res["metrics"]
    json.dumps(metrics)  # JSON-able
    ev = metrics["evaluation"]
    assert ev["test_cutoff"] == str((res["as_of"] - pd.Timedelta(days=horizon)).date())
    assert pd.Timestamp(ev["train_cutoffs"][-1]) + pd.Timedelta(days=horizon) <= pd.Timestamp(
        ev["test_cutoff"])
    paths = res["paths"]
    for key in ("scores_csv", "scores_parquet", "profile_rfm", "plot_rfm", "profile_clusters",
                "plot_clusters", "card_markdown", "card_html", "card_metrics", "model"):
        assert Path(paths[key]).exists(), key
    html_text = Path(paths["card_html"]).read_text()
    assert html_text.count("data:image/png;base64,") == 4
    assert "http://" not in html_text and "https://" not in html_text  # self-contained
    assert "ROC-AUC" in Path(paths["card_markdown"]).read_text()
    assert json.loads(Path(paths["card_metrics"]).read_text())["horizon_days"] == horizon
    models = load(paths["model"])
    assert len(res["features"]) == len(scores)
    again = score_customers(models, res["features"])  # the saved models rescore identically
    pd.testing.assert_frame_equal(again, scores)
    return scores


def test_train_and_score_synthetic(tmp_path: Path) -> None:
    from test_churn import make_store, synthetic_lines

    from loyalist.evaluation.train import train_and_score

    st = make_store(tmp_path / "s.duckdb", synthetic_lines())
    res = train_and_score(st, None, 60, tmp_path / "out", k_range=(2, 5))
    assert res["as_of"] == pd.Timestamp("2024-04-25")  # the day after the last transaction
    scores = check_run(res, 60)
    assert len(scores) == 600
    assert set(res["profiles"]["rfm"]["segment"]) <= {r.name for r in NAMED11}
    assert res["profiles"]["rfm"]["customers"].sum() == 600
    # audit 8 finding 8: the 10-cell grid is in the scores and has its own profile and picture
    want = assign_segments(scores["r_score"], scores["f_score"], scores["m_score"], "grid10")
    assert (scores["grid_segment"].to_numpy() == want).all()
    assert pd.read_csv(res["paths"]["scores_csv"])["grid_segment"].notna().all()
    grid = pd.read_csv(res["paths"]["profile_grid"])
    assert grid["customers"].sum() == 600 and Path(res["paths"]["plot_grid"]).exists()
    assert list(grid["segment"]) == [r.name for r in GRID10 if r.name in set(grid["segment"])]
    assert res["metrics"]["segments"]["grid_counts"] == scores["grid_segment"].value_counts(
        ).to_dict()
    # audit 8 finding 10: the card lists the rules, in order, from the scheme itself
    card = Path(res["paths"]["card_markdown"]).read_text()
    counts = scores["rfm_segment"].value_counts()
    rows = [f"| {i} | {r.name} | {r.rule} | {r.description} | {counts.get(r.name, 0):,} |"
            for i, r in enumerate(NAMED11, 1)]
    at = [card.index(row) for row in rows]
    assert at == sorted(at)
    assert "| 1 | Champions | R 4-5 and F 4-5 and M 4-5 |" in card
    assert "| 7 | At Risk | R 1-2 and (F 3-5 or M 3-5) |" in card
    assert "| 10 | Hibernating | R 1-2 and F 1-2 |" in card  # the grid's tenth cell


def test_model_card_without_evaluation(tmp_path: Path) -> None:
    from loyalist.evaluation.card import write_model_card

    paths = write_model_card({"loyalist_version": "0.1.0", "as_of": "2024-01-01",
                              "horizon_days": 90,
                              "evaluation": {"skipped": "too short a history"}}, tmp_path)
    assert "Not run: too short a history" in paths["markdown"].read_text()
    assert "Not run" in paths["html"].read_text()
    with pytest.raises(DataError, match="metrics must be the dict returned by"):
        write_model_card([], tmp_path)  # type: ignore[arg-type]


@need_shared(ONLINE_RETAIL)
@pytest.mark.shared
@pytest.mark.slow
@pytest.mark.xdist_group("online_retail")
def test_online_retail_end_to_end(or_store, tmp_path: Path) -> None:  # noqa: ANN001, F811
    # its speed is measured in benchmarks/bench_customer_models.py, not asserted here
    from loyalist.evaluation.train import train_and_score

    res = train_and_score(or_store, None, 90, tmp_path / "out")
    assert res["as_of"] == pd.Timestamp("2011-12-10")
    scores = check_run(res, 90)
    assert len(scores) == 4338  # every customer with a purchase line
    seg = scores["rfm_segment"].value_counts()
    assert set(seg.index) == {r.name for r in NAMED11}
    assert 3 <= res["models"].clusters.k_ <= 8
    assert 0 < scores["outlier"].sum() <= 0.02 * len(scores)
