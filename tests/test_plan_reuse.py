"""A plan re-made in the same process (the API server, the dashboard, a notebook) reuses its
store's response fit (:func:`loyalist.pipeline.promotions.plan_inputs`), gives the plan a
fresh fit gives, and never reuses a fit after the store, the catalog or the priors changed."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import OrderedDict
from pathlib import Path

import pandas as pd
import pytest
from conftest import fashion_copy, line, write_csv

from loyalist import pipeline
from loyalist import schema as s
from loyalist.pipeline import fits as saved_fits
from loyalist.pipeline import promotions
from loyalist.response import ResponseModel
from loyalist.response.priors import PRIOR_TABLE
from loyalist.store import Store

#: the whole file on one xdist worker: its module-scoped stores are built once, not once
#: per worker (--dist loadgroup sends ungrouped tests to either)
pytestmark = pytest.mark.xdist_group("plan_reuse")


@pytest.fixture(scope="module")
def built(fashion: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fashion store (600 customers, 12 months, a promotion history) with scores."""
    return fashion_copy(fashion, tmp_path_factory.mktemp("reuse"), "built.duckdb")


@pytest.fixture
def fits(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[int]:
    """The response model's fits (each runs for real), counted in a process that keeps none
    yet, with a folder of saved fits of this test's own."""
    monkeypatch.setattr(saved_fits, "_FITS", OrderedDict())
    monkeypatch.setattr(saved_fits, "fits_dir", lambda store: tmp_path / f"{store.name}.fits")
    calls: list[int] = []
    real = ResponseModel.fit

    def counted(self: ResponseModel, *a: object, **k: object) -> ResponseModel:
        calls.append(1)
        return real(self, *a, **k)  # type: ignore[arg-type]

    monkeypatch.setattr(ResponseModel, "fit", counted)
    return calls


def _plan(store: Path, out: Path, **kw: object) -> pd.DataFrame:
    pipeline.plan(store, save=False, stale_check=False, out=out, **kw)  # type: ignore[arg-type]
    return pd.read_csv(out / "plan.csv")


def test_a_plan_remade_with_another_budget_goal_or_period_reuses_the_fit(
        built: Path, fits: list[int], tmp_path: Path) -> None:
    _plan(built, tmp_path / "a", budget=800, goal="revenue")
    reused = _plan(built, tmp_path / "b", budget=1600, goal="retention", period=60)
    assert len(fits) == 1
    promotions.forget_fits(built)
    fresh = _plan(built, tmp_path / "c", budget=1600, goal="retention", period=60)
    assert len(fits) == 2
    pd.testing.assert_frame_equal(reused, fresh, check_exact=True)
    assert (tmp_path / "b" / "plan.json").read_text().replace("/b/", "/c/") \
        .split('"seconds"')[0] == (tmp_path / "c" / "plan.json").read_text().split(
            '"seconds"')[0]


def test_what_a_plan_does_to_its_inputs_does_not_reach_the_kept_fit(
        built: Path, fits: list[int]) -> None:
    with Store(built, read_only=True) as st:
        ts = st.default_as_of()
        first = promotions.plan_inputs(st, ts)
        keep = first["predictions"].copy()
        first["predictions"].iloc[:, -1] = None
        first["customers"]["segment"] = "changed"
        again = promotions.plan_inputs(st, ts)
    assert len(fits) == 1
    pd.testing.assert_frame_equal(again["predictions"], keep, check_exact=True)
    assert (again["customers"]["segment"] != "changed").all()


def test_a_changed_catalog_priors_or_store_is_fitted_again(
        built: Path, fits: list[int], tmp_path: Path) -> None:
    store = tmp_path / "s.duckdb"
    shutil.copy(built, store)
    _plan(store, tmp_path / "p1", budget=800)
    _plan(store, tmp_path / "p2", budget=900)
    assert len(fits) == 1
    with Store(store, read_only=True) as st:
        cat = st.table(s.T_CATALOG).drop(columns=[s.LOAD_ID])
        last = st.date_range()[1]
        known = st.query(f"SELECT {s.CUSTOMER_ID}, {s.PRODUCT_ID}, {s.UNIT_PRICE} "
                         f"FROM {s.T_TRANSACTIONS} WHERE {s.LINE_KIND} = 'sale' "
                         f"ORDER BY ALL LIMIT 1").iloc[0]
    # the store: one more order of a known customer and product, at its price, before the
    # plan's date (nothing but the transactions changes)
    when = (pd.Timestamp(last) - pd.Timedelta(days=3)).strftime("%Y-%m-%d 12:00:00")
    pipeline.ingest(store, [write_csv(tmp_path / "more.csv", [line(
        order="reuse-1", customer=known[s.CUSTOMER_ID], product=known[s.PRODUCT_ID],
        price=float(known[s.UNIT_PRICE]), when=when)])])
    _plan(store, tmp_path / "p3", budget=800)
    assert len(fits) == 2
    _plan(store, tmp_path / "p4", budget=700)
    assert len(fits) == 2
    # a catalog file: the store's catalog with one promotion's value changed
    cat.loc[0, "value"] = float(cat.loc[0, "value"]) * 1.1
    cat.to_csv(tmp_path / "catalog.csv", index=False)
    _plan(store, tmp_path / "p5", budget=800, catalog=tmp_path / "catalog.csv")
    assert len(fits) == 3
    # priors: one documented prior changed
    priors = PRIOR_TABLE.copy()
    priors.loc[0, "incremental_prob"] = float(priors.loc[0, "incremental_prob"]) / 2
    _plan(store, tmp_path / "p6", budget=800, priors=priors)
    assert len(fits) == 4


def test_the_next_process_reuses_the_fit_saved_beside_the_store(
        built: Path, fits: list[int], tmp_path: Path) -> None:
    first = _plan(built, tmp_path / "a", budget=800, goal="revenue")
    folder = saved_fits.fits_dir(built)
    assert len(list(folder.glob("*.joblib"))) == 1
    saved_fits._FITS.clear()  # what a new process keeps: nothing
    again = _plan(built, tmp_path / "b", budget=800, goal="revenue")
    assert len(fits) == 1
    pd.testing.assert_frame_equal(again, first, check_exact=True)
    # other inputs fit again and are saved too; the store keeps its FITS_KEPT latest
    for n, value in enumerate((1.1, 1.2), start=2):
        with Store(built, read_only=True) as st:
            cat = st.table(s.T_CATALOG).drop(columns=[s.LOAD_ID])
        cat.loc[0, "value"] = float(cat.loc[0, "value"]) * value
        cat.to_csv(tmp_path / f"catalog{n}.csv", index=False)
        _plan(built, tmp_path / f"c{n}", budget=800, catalog=tmp_path / f"catalog{n}.csv")
        assert len(fits) == n
    assert len(list(folder.glob("*.joblib"))) == saved_fits.FITS_KEPT == 2
    promotions.forget_fits(built)
    assert not folder.exists()


def test_an_unreadable_or_unwritable_saved_fit_costs_only_the_reuse(
        built: Path, fits: list[int], tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    first = _plan(built, tmp_path / "a", budget=800)
    (saved,) = saved_fits.fits_dir(built).glob("*.joblib")
    saved.write_bytes(saved.read_bytes()[:1000])  # truncated
    saved_fits._FITS.clear()
    with caplog.at_level("WARNING", logger="loyalist.pipeline.fits"):
        again = _plan(built, tmp_path / "b", budget=800)
    assert len(fits) == 2
    pd.testing.assert_frame_equal(again, first, check_exact=True)
    assert any("could not be read" in r.getMessage() and str(saved) in r.getMessage()
               for r in caplog.records)
    assert saved.is_file()  # written again by the new fit
    saved_fits._FITS.clear()
    _plan(built, tmp_path / "c", budget=800)
    assert len(fits) == 2
    # a file where the folder should be: the plan is made, the fit is not saved
    promotions.forget_fits(built)
    saved_fits.fits_dir(built).write_text("in the way")
    caplog.clear()
    with caplog.at_level("WARNING", logger="loyalist.pipeline.fits"):
        in_the_way = _plan(built, tmp_path / "d", budget=800)
    pd.testing.assert_frame_equal(in_the_way, first, check_exact=True)
    assert any("could not be saved" in r.getMessage() for r in caplog.records)


def test_a_second_plan_command_loads_the_fit_the_first_saved(built: Path, tmp_path: Path
                                                             ) -> None:
    """Two `loyalist plan` processes: the second reads the fit the first saved (the store's
    row hashes, so the key, are the same in another process)."""
    store = tmp_path / "s.duckdb"
    shutil.copy(built, store)
    runs = []
    for name in ("first", "second"):
        runs.append(subprocess.run(
            [sys.executable, "-m", "loyalist", "-v", "plan", "--store", str(store), "--budget",
             "900", "--goal", "profit", "--out", str(tmp_path / name)],
            capture_output=True, text=True, timeout=300, check=False))
        assert runs[-1].returncode == 0, runs[-1].stderr
    assert "is reused" not in runs[0].stderr
    assert "fitting the promotion response model" in runs[0].stderr
    assert f"saved in {store}.fits" in runs[1].stderr and "is reused" in runs[1].stderr
    assert "reusing the promotion response model fitted for an earlier plan" in runs[1].stderr
    assert "fitting the promotion response model" not in runs[1].stderr
    assert (tmp_path / "first" / "plan.csv").read_bytes() == \
        (tmp_path / "second" / "plan.csv").read_bytes()
