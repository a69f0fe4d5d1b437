"""What the dashboard's buttons do, each a :class:`~loyalist.dashboard.jobs.Job`'s work: a plan,
an upload and an unload go through :mod:`loyalist.api.writes` (exactly ``POST /plans``,
``POST /ingest`` and ``DELETE /loads``); training and the sample scenarios call
:mod:`loyalist.pipeline` as ``loyalist train`` and ``loyalist demo`` do.

**Loading a sample scenario.** A store is one DuckDB file and a scenario is a whole merchant,
so it is never mixed into other data. The scenario is generated, ingested (same quality
report as ``loyalist ingest``) and its customer models trained into a new file built next to
the served store, without blocking the server. Then, with the store to itself:

- if the served store is empty (no file, or no table with a row), the new file replaces it
  (an atomic rename), so the scenario is served from the path ``loyalist serve`` was given;
- otherwise nothing is overwritten: the new file stays beside it as
  ``<store>-<scenario>.duckdb`` (``-2``, ``-3``... if taken) and the server switches to it
  for the API and the dashboard until it restarts (``/health`` and the page header show the
  path served). Restart with ``--store`` that file to keep serving it.

**Picking a store.** Any store file listed beside the served one (:mod:`.storefiles`) can be
served instead in the same way (:func:`switch_store`): nothing is copied or changed, and the
server serves it until it restarts.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from loyalist import pipeline
from loyalist.api import writes
from loyalist.api.models import PlanRequest
from loyalist.api.reads import file_name
from loyalist.api.storegate import StoreGate
from loyalist.dashboard import storefiles
from loyalist.dashboard.jobs import Job, Work
from loyalist.store import Store, remove_store_files, wal_path

#: what the dashboard remembers of a loaded scenario (plan defaults, page header)
SCENARIO_FIELDS = ("scenario", "name", "business", "currency", "monthly_budget", "goal",
                   "goal_text", "planning_period_days", "customers", "months", "seed")


def make_plan(app: FastAPI, req: PlanRequest) -> Work:
    def work(job: Job) -> dict[str, Any]:
        job.say(f"making the plan: the response model (fitted, or reused from an earlier plan "
                f"on the same data) and the optimisation (goal {req.goal}, "
                f"{req.budget_text()}, {req.period} days)")
        summary = writes.plan(app.state.gate, req)
        return {"plan_id": summary["plan_id"], "customers_targeted":
                summary.get("customers_targeted"), "spend": summary.get("spend")}
    return work


def train(app: FastAPI) -> Work:
    def work(job: Job) -> dict[str, Any]:
        job.say("waiting for the store")
        with app.state.gate.write() as store:
            res = pipeline.train(store, progress=job.say)
        return {"as_of": res["as_of"], "customers": res["customers"]}
    return work


#: days ahead of the forecast a button makes (``loyalist forecast``'s default)
FORECAST_DAYS = 30


def forecast(app: FastAPI) -> Work:
    """``loyalist forecast`` on the served store: the total's daily revenue
    :data:`FORECAST_DAYS` days from the day after the last sale, backtested, saved to the
    store (its files go to a folder removed after)."""
    def work(job: Job) -> dict[str, Any]:
        job.say("waiting for the store")
        with app.state.gate.write() as store, \
                tempfile.TemporaryDirectory(prefix="loyalist-forecast-") as tmp:
            res = pipeline.forecast(store, FORECAST_DAYS, out_dir=tmp, progress=job.say)
        return {"as_of": res["as_of"], "horizon": res["horizon"]}
    return work


def upload(app: FastAPI, path: Path, filename: str, *, table: str, fmt: str,
           encoding: str | None = None) -> Work:
    """Load an uploaded file (already copied to ``path``; its folder is removed after);
    ``encoding``: its text encoding over the detected one, as ``POST /ingest``'s field."""
    def work(job: Job) -> dict[str, Any]:
        try:
            job.say(f"loading {filename}")
            with path.open("rb") as f:
                reports = writes.ingest(app.state.gate, f, filename, table=table, fmt=fmt,
                                        mapping=None, encoding=encoding)
        finally:
            shutil.rmtree(path.parent, ignore_errors=True)
        for r in reports:  # a corrected export's note says how to unload the earlier one
            r["assumptions"] = [unload_text(a) for a in r.get("assumptions", [])]
        return {"reports": reports}
    return work


def unload(app: FastAPI, ids: list[str]) -> Work:
    """Remove loads and every row they wrote, exactly as ``DELETE /loads`` does; errors and
    notes name the dashboard's buttons (:func:`unload_text`)."""
    def work(job: Job) -> dict[str, Any]:
        job.say("waiting for the store")
        res = writes.unload(app.state.gate, ids, reword=unload_text)
        for x in res["unloaded"]:  # named as the data quality table names them
            x["file"] = file_name(x["file"])
        return res
    return work


#: a button :func:`unload_text` names, e.g. “Unload loads 5, 4”: :func:`unload_buttons` finds it
UNLOAD_BUTTON = re.compile(r"“Unload loads? ([0-9]+(?:, [0-9]+)*)”")


def unload_text(msg: str) -> str:
    """An unload's or a load's message as the dashboard's: for the CLI's ``loyalist unload``
    the button that does it (shown below the message, :func:`unload_buttons`), for
    ``loyalist loads`` the data quality table, for ``loyalist run`` the buttons that make
    scores, forecast and plans again."""
    def button(m: re.Match[str]) -> str:
        what = loads_named(m.group(1).split())
        return f"unload {what} (the button “Unload {what}” below)"

    msg = re.sub(r"(?:run )?`loyalist unload ([0-9 ]+)`", button, msg)
    msg = msg.replace("`loyalist loads`", "the data quality table")
    return re.sub(r"`loyalist run --store ([^`]*)` \(or train, recommend, forecast, plan\)",
                  r"“Train customer models”, “Make a new revenue forecast” and "
                  r"“Make a promotion plan” (recommendations and products bought together: "
                  r"`loyalist run --store \1`)", msg)


def loads_named(ids: list[str]) -> str:
    """``load 3``, ``loads 5, 4``."""
    return f"load{'s' if len(ids) > 1 else ''} {', '.join(ids)}"


def unload_buttons(texts: list[str]) -> list[list[str]]:
    """The ids of each unload button :func:`unload_text` named in ``texts``, once each."""
    found = [m.group(1).split(", ") for x in texts for m in UNLOAD_BUTTON.finditer(x)]
    return [ids for i, ids in enumerate(found) if ids not in found[:i]]


def load_scenario(app: FastAPI, scenario: str, *, customers: int | None, months: int,
                  seed: int) -> Work:
    """Generate, ingest and train a sample merchant, then serve it (module docstring)."""
    def work(job: Job) -> dict[str, Any]:
        served = Path(app.state.gate.path)
        served.parent.mkdir(parents=True, exist_ok=True)
        build = served.with_name(f".{served.stem}-{scenario}-{job.id}.building.duckdb")
        try:
            with tempfile.TemporaryDirectory(prefix="loyalist-scenario-") as tmp:
                job.say(f"generating the {scenario} scenario")
                gen = pipeline.generate(scenario, customers=customers, months=months,
                                        seed=seed, out=Path(tmp))
                reports = pipeline.load_scenario(
                    build, gen["files"], progress=lambda m: job.say(f"{m} into a new store"))
                meta = json.loads(Path(gen["files"]["scenario"]).read_text())
                reports = writes.json_safe(reports, replace=(tmp + os.sep, ""))
            job.say("training customer models (segments, churn, lifetime value)")
            trained = pipeline.train(build, progress=job.say)
            job.say("switching the served store")
            target, replaced = install(app, build, scenario)
        finally:
            remove_store_files(build)
        info = {k: meta.get(k) for k in SCENARIO_FIELDS}
        app.state.dashboard.scenarios[str(target)] = info
        return {"scenario": info, "store": str(target), "replaced_empty_store": replaced,
                "transactions": gen["transactions"], "as_of": trained["as_of"],
                "customers_scored": trained["customers"], "reports": reports}
    return work




def is_empty(path: Path) -> bool:
    """No store file, or one in which no table has a row."""
    if not path.exists():
        return True
    with Store(path, read_only=True) as st:
        names = [t for (t,) in st.con.execute("SELECT table_name FROM duckdb_tables()"
                                              ).fetchall()]
        return all(st.count(f'"{t}"') == 0 for t in names)


def free_name(served: Path, scenario: str) -> Path:
    """``<store>-<scenario>.duckdb`` beside the store, numbered when taken."""
    suffix = served.suffix or ".duckdb"
    for i in itertools.count(1):
        p = served.with_name(f"{served.stem}-{scenario}{'' if i == 1 else f'-{i}'}{suffix}")
        if not p.exists() and not wal_path(p).exists():
            return p
    raise AssertionError("unreachable")  # pragma: no cover


def install(app: FastAPI, build: Path, scenario: str) -> tuple[Path, bool]:
    """Serve the finished store ``build``: in place of an empty served store, else beside it
    (the app's store gate and settings then point at the new file). (path, replaced)."""
    gate: StoreGate = app.state.gate
    with gate.write() as served:
        target = served if is_empty(served) else free_name(served, scenario)
        wal_path(target).unlink(missing_ok=True)
        os.replace(build, target)
        if wal_path(build).exists():
            os.replace(wal_path(build), wal_path(target))
        if target != served:
            _point_at(app, gate, target)
    if target != served:
        _retire(gate)
    return target, target == served


def switch_store(app: FastAPI, target: Path) -> Work:
    """Serve the existing store file ``target`` (picked from
    :meth:`~loyalist.dashboard.storefiles.StoreFiles.find`'s listing) instead of the served
    one, until the server restarts; neither file is changed."""
    def work(job: Job) -> dict[str, Any]:
        job.say(f"reading {target.name}")
        info = storefiles.read_summary(target)
        job.say(f"waiting for the requests on {Path(app.state.gate.path).name} to finish")
        gate: StoreGate = app.state.gate
        with gate.write() as served:
            if target != served:
                _point_at(app, gate, target)
        if target != served:
            _retire(gate)
        return {"store": str(target), "previous": str(served), "summary": info}
    return work


def _point_at(app: FastAPI, gate: StoreGate, target: Path) -> None:
    """Point the app (API and dashboard) at ``target``: a new store gate, and settings whose
    ``store`` is ``target``. Called with ``gate``, the current one, held for writing."""
    app.state.gate = StoreGate(target, idle_seconds=gate.idle_seconds,
                               cache_max_customers=gate.cache_max_customers)
    app.state.settings = app.state.settings.model_copy(update={"store": target})


def _retire(gate: StoreGate) -> None:
    with gate.write():  # readers still on the old file finish first
        pass
    gate.close()
