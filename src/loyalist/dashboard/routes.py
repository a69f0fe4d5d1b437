"""The dashboard's pages under ``/app``: a login page, one main page (store state, data loading
and the store files to pick from, the plan form, results, revenue forecast, churn risk,
segments, customer lookup, data quality), the POST targets of its forms (each starts
a background job and redirects to the page that follows it), a job-status endpoint for the
page's polling, the plan's and the quarantined rows' CSVs and the static files. Hidden from
the OpenAPI schema."""

from __future__ import annotations

import functools
import math
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio.to_thread
import jinja2
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from loyalist import __version__
from loyalist.api.models import PlanRequest
from loyalist.api.settings import ApiKey
from loyalist.api.storegate import StoreUnavailable
from loyalist.api.writes import ingest_message, safe_name
from loyalist.dashboard import actions, assets, views
from loyalist.dashboard.auth import (
    check_key,
    current_key,
    safe_next,
    same_origin,
    sign_in,
    sign_out,
)
from loyalist.dashboard.jobs import Busy, Job, JobRunner, Work, one_line, validation_message
from loyalist.dashboard.storefiles import StoreFiles
from loyalist.errors import LoyalistError
from loyalist.evaluation.campaign import ADJUSTED_BUYERS, ADJUSTED_NOTE, PLAIN_BUYERS
from loyalist.ingest import FORMATS, TABLES
from loyalist.ingest.text import ENCODING_NAMES, check_encoding
from loyalist.promote.catalog import CLEAR_GOALS, GOALS, MAX_HOLDOUT, gap_text
from loyalist.report.html import vs_baseline
from loyalist.schema import NEW_SEGMENT

PREFIX = "/app"
UPLOAD_PATH = f"{PREFIX}/upload"
SCENARIOS = ("fashion", "coffee", "electronics")
#: the upload form's suggested text encodings (Python's codec names, any other it knows is
#: taken too) and what they are
ENCODINGS = {"utf-8": "UTF-8", **ENCODING_NAMES}
PERIODS = (7, 14, 30, 60, 90)
ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
#: the unload form's ``load_id``: an id, or several separated by commas (``DELETE /loads``'s)
LOAD_IDS = re.compile(r"^[0-9]{1,18}(,[0-9]{1,18}){0,99}$")
#: scenario size limits accepted from the form (the generator's own defaults when blank)
MAX_CUSTOMERS, MAX_MONTHS = 20_000, 36
#: the smallest scenario the customer models can be trained on. They hold out the last 90-day
#: label window and need earlier cutoffs whose windows end by it, each with 100 customers who
#: bought before it (:func:`loyalist.evaluation.splits.plan_cutoffs`,
#: ``churn.model.MIN_CUSTOMERS``), so months and customers trade off. Measured on the three
#: scenarios, seeds 7 and 3 (load + train): 18 months with 150 customers failed on all six,
#: with 200 on electronics seed 3; 300 customers trained on all six with 12 months, failed on
#: electronics with 10; at default customer counts 8 months always fail for electronics.
MIN_MONTHS, MIN_CUSTOMERS = 12, 300
#: the quality report's orders and products are of the rows read from the file (quarantined
#: rows included), not of what the store keeps (the HTML report counts those); its customers
#: are those with a loaded line, beside those seen in the file: say which is which
QUALITY_LABELS = {"customers": "Customers loaded", "orders": "Orders read",
                  "products": "Products read",
                  "customers_with_purchases": "Customers with purchases loaded",
                  "customers_in_file": "Customers in the file (quarantined lines included)"}
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
       "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")

router = APIRouter(prefix=PREFIX, include_in_schema=False)


class Dashboard:
    """Per-app state: the job runner, what is known of the scenarios loaded, and the listing
    of the store files beside the served one."""

    def __init__(self) -> None:
        self.jobs = JobRunner()
        self.scenarios: dict[str, dict[str, Any]] = {}
        self.store_files = StoreFiles()


def _dash(request: Request) -> Dashboard:
    return request.app.state.dashboard  # type: ignore[no-any-return]


# --- rendering ----------------------------------------------------------------------------
def _num(x: Any, digits: int = 0) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    return f"{x:,.{digits}f}"


def _pct(x: Any, digits: int = 1) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    return f"{100 * x:,.{digits}f}%"


def _plain(x: Any) -> str:
    """A number for an input's value: no exponent, no trailing zeros."""
    return f"{float(x):.2f}".rstrip("0").rstrip(".")


def _day(x: Any) -> str:
    return str(x)[:10] if x is not None else "–"


def _label(x: Any) -> str:
    return _sentence(str(x).replace("_", " "))


def _sentence(x: Any) -> str:
    """Text with a capital first letter, otherwise as given (a job's label names files)."""
    text = str(x)
    return text[:1].upper() + text[1:]


@functools.cache
def _env() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("loyalist.dashboard", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters.update(num=_num, pct=_pct, label=_label, sentence=_sentence, day=_day,
                       plain=_plain, gap=gap_text, vs_baseline=vs_baseline,
                       unload_confirm=lambda x: _confirm([(x["load_id"], x["file"])]))
    return env


def render(request: Request, template: str, status: int = 200, **ctx: Any) -> HTMLResponse:
    key: ApiKey | None = ctx.pop("key", None)
    html = _env().get_template(template).render(
        prefix=PREFIX, version=__version__, key=key, can_write=key is not None
        and key.scope == "write", css=assets.url("dashboard.css"),
        js=assets.url("dashboard.js"), plotly=assets.url("plotly"),
        plan_button=views.PLAN_BUTTON, plain_buyers=PLAIN_BUYERS,
        adjusted_buyers=ADJUSTED_BUYERS, adjusted_note=ADJUSTED_NOTE, **ctx)
    return HTMLResponse(html, status_code=status, headers={
        "Content-Security-Policy": CSP, "X-Frame-Options": "DENY"})


def _to_login(request: Request) -> RedirectResponse:
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    target = here if request.method == "GET" else PREFIX
    return RedirectResponse(f"{PREFIX}/login?next={_quote(target)}", status_code=303)


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="/")


# --- sign-in ------------------------------------------------------------------------------
@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str | None = None) -> HTMLResponse:
    return render(request, "login.html", next=safe_next(next, PREFIX), error=None)


async def _fields(request: Request) -> dict[str, list[str]]:
    """A submitted form's text fields (each a list of values); uploads are closed unread."""
    async with request.form() as form:
        out: dict[str, list[str]] = {}
        for name, value in form.multi_items():
            if isinstance(value, str):
                out.setdefault(name, []).append(value)
        return out


def _one(fields: dict[str, list[str]], name: str) -> str:
    return (fields.get(name) or [""])[0].strip()


@router.post("/login")
async def login(request: Request) -> Response:
    fields = await _fields(request)
    target = safe_next(_one(fields, "next"), PREFIX)
    if not same_origin(request):
        return render(request, "login.html", 403, next=target,
                      error="sign-in refused: the form came from another site")
    secret = _one(fields, "key")
    key, error = check_key(request, secret)
    if key is None:
        return render(request, "login.html", 401, next=target, error=error)
    response = RedirectResponse(target, status_code=303)
    sign_in(response, request, secret, PREFIX)
    return response


@router.post("/logout")
def logout(request: Request) -> Response:
    response = RedirectResponse(f"{PREFIX}/login", status_code=303)
    sign_out(response, PREFIX)
    return response


# --- the main page ------------------------------------------------------------------------
@router.get("", response_class=HTMLResponse)
def index(request: Request, plan: str | None = None, customer: str | None = None,
          job: str | None = None) -> Response:
    key = current_key(request)
    if key is None:
        return _to_login(request)
    finished = _dash(request).jobs.get(job) if job else None
    if finished is not None and finished.status == "done" and finished.next:
        return RedirectResponse(finished.next, status_code=303)
    return _index(request, key, plan_id=plan, customer_id=customer, job_id=job)


def _index(request: Request, key: ApiKey, *, plan_id: str | None = None,
           customer_id: str | None = None, job_id: str | None = None,
           error: str | None = None, status: int = 200) -> HTMLResponse:
    dash = _dash(request)
    gate = request.app.state.gate
    running = dash.jobs.running()
    shown = dash.jobs.get(job_id) if job_id else None
    if job_id and shown is None and error is None:
        error = f"job {job_id[:20]!r} is unknown (the server keeps the last jobs in memory only)"
    if plan_id is not None and not ID.match(plan_id):
        error, plan_id = error or f"plan id {plan_id[:70]!r} is not a plan id", None
    customer_id = (customer_id or "").strip()[:200] or None
    ctx: dict[str, Any] = {"key": key, "running": running, "job": shown, "error": error,
                           "store": str(gate.path), "view": None, "customer_id": customer_id,
                           "scenario": dash.scenarios.get(str(gate.path)),
                           "scenarios": SCENARIOS, "tables": TABLES, "formats": FORMATS,
                           "encodings": ENCODINGS,
                           "goals": GOALS, "charts": {}, "stores": None,
                           "min_months": MIN_MONTHS, "max_months": MAX_MONTHS,
                           "min_customers": MIN_CUSTOMERS, "max_customers": MAX_CUSTOMERS,
                           "quality_labels": QUALITY_LABELS, "unload_buttons": []}
    if running is None:
        view = views.page(gate, plan_id=plan_id, customer_id=customer_id)
        ctx["view"] = view
        ctx["stores"] = dash.store_files.listing(gate)
        ctx["form"] = _plan_form(view, ctx["scenario"])
        ctx["charts"] = dict(view["charts"])
        if key.scope == "write":
            ctx["unload_buttons"] = _unload_buttons(shown, view)
        if view["forecast"] is not None:
            ctx["charts"]["forecast"] = view["forecast"]["figure"]
        if view["plan_missing"] and status == 200:
            status = 404
    return render(request, "index.html", status, **ctx)


def _nice_max(budget: float) -> tuple[float, float]:
    """Slider maximum (about 4x the budget, a round number) and step."""
    top = max(1000.0, 4 * budget)
    unit = 10 ** math.floor(math.log10(top))
    top = math.ceil(top / unit) * unit
    return top, max(top / 200, 1.0)


def _plan_form(view: dict[str, Any], scenario: dict[str, Any] | None) -> dict[str, Any]:
    """The plan form's values: those of the plan on show, else the scenario's, else defaults."""
    plan, sc = view["plan"] or {}, scenario or {}
    monthly = plan.get("budget_per_month") is not None
    budget = float((plan.get("budget_per_month") if monthly else plan.get("budget"))
                   or sc.get("monthly_budget") or 1000.0)
    period = int(plan.get("period_days") or sc.get("planning_period_days") or 30)
    top, step = _nice_max(budget)
    names = [x["segment"] for x in (view["segments"] or {}).get("segments", [])]
    if view["new_customers"] and NEW_SEGMENT not in names:  # plans target them too
        names.append(NEW_SEGMENT)
    return {"budget": budget, "budget_max": top, "budget_step": step,
            "budget_basis": "month" if monthly else "total",
            "goal": plan.get("goal") or sc.get("goal") or "retention", "period": period,
            "periods": sorted({*PERIODS, period}), "segment_names": names,
            "segments": list(plan.get("segments") or []),
            "offer_fit": plan.get("offer_fit", True) is not False,
            "holdout_pct": round(100 * float((plan.get("holdout") or {}).get("share") or 0)),
            "clear_categories": ", ".join(plan.get("categories_to_clear") or [])
            if plan.get("goal") == "clear_inventory" else ""}


# --- actions (write key) ------------------------------------------------------------------
def _writer(request: Request) -> ApiKey | Response:
    key = current_key(request)
    if key is None:
        return _to_login(request)
    if not same_origin(request):
        return _index(request, key, error="refused: the form came from another site",
                      status=403)
    if key.scope != "write":
        return _index(request, key, status=403, error=(
            "this key may only read; loading data and making plans needs a key listed with "
            "':write' in LOYALIST_API_KEYS"))
    return key


def _start(request: Request, key: ApiKey, kind: str, label: str, work: Work,
           next_url: Callable[[Job], str] | None = None,
           refused: Callable[[], None] | None = None) -> Response:
    """Start a job and show its page; a one-line 409 while another job runs."""
    try:
        job = _dash(request).jobs.start(kind, label, work, next_url=next_url)
    except Busy as e:
        if refused is not None:
            refused()
        return _index(request, key, error=one_line(e), status=409)
    return RedirectResponse(f"{PREFIX}?job={job.id}", status_code=303)


def _int(fields: dict[str, list[str]], name: str, default: int | None, lo: int, hi: int,
         *, too_small: str | None = None) -> int | None:
    """The form field ``name`` as a whole number from ``lo`` to ``hi`` (``default`` when
    blank); ``too_small`` says why a number below ``lo`` cannot work ("are too few to ...")."""
    raw = _one(fields, name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise LoyalistError(f"{name}: {raw[:30]!r} is not a whole number") from None
    if too_small is not None and raw.isdigit() and value < lo:
        raise LoyalistError(f"{name}: {value:,} {too_small}; use {lo:,} to {hi:,}")
    if not lo <= value <= hi:
        raise LoyalistError(f"{name}: {value:,} is out of range; use {lo:,} to {hi:,}")
    return value


def _customers(fields: dict[str, list[str]]) -> int | None:
    """The scenario's customers: :data:`MIN_CUSTOMERS` to :data:`MAX_CUSTOMERS` (the
    scenario's default when blank)."""
    return _int(fields, "customers", None, MIN_CUSTOMERS, MAX_CUSTOMERS, too_small=(
        "are too few to train the customer models (every training window needs 100 customers "
        f"who bought before it; at least {MIN_CUSTOMERS:,})"))


def _months(fields: dict[str, list[str]]) -> int | None:
    """The scenario's months: :data:`MIN_MONTHS` to :data:`MAX_MONTHS` (18 when blank)."""
    return _int(fields, "months", 18, MIN_MONTHS, MAX_MONTHS, too_small=(
        "is too short a history to train the customer models (a 90-day horizon and earlier "
        f"training windows need at least {MIN_MONTHS} months)"))


async def _off_loop(fn: Callable[..., Response], *args: Any, **kwargs: Any) -> Response:
    """Run page work that may wait for the store in a worker thread, not the event loop."""
    return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))


@router.post("/scenario")
async def load_scenario(request: Request) -> Response:
    return await _off_loop(_load_scenario, request, await _fields(request))


def _load_scenario(request: Request, fields: dict[str, list[str]]) -> Response:
    key = _writer(request)
    if not isinstance(key, ApiKey):
        return key
    scenario = _one(fields, "scenario")
    try:
        if scenario not in SCENARIOS:
            raise LoyalistError(f"scenario {scenario[:40]!r} is unknown; use one of: "
                                f"{', '.join(SCENARIOS)}")
        customers = _customers(fields)
        months = _months(fields)
        seed = _int(fields, "seed", 7, 0, 2**31 - 1)
    except LoyalistError as e:
        return _index(request, key, error=one_line(e), status=422)
    assert months is not None and seed is not None
    work = actions.load_scenario(request.app, scenario, customers=customers, months=months,
                                 seed=seed)
    return _start(request, key, "scenario", f"loading the {scenario} sample scenario", work)


@router.post("/store")
async def pick_store(request: Request) -> Response:
    return await _off_loop(_pick_store, request, await _fields(request))


def _pick_store(request: Request, fields: dict[str, list[str]]) -> Response:
    """Serve another store file of the listing; only a listed name is accepted."""
    key = _writer(request)
    if not isinstance(key, ApiKey):
        return key
    try:
        target = StoreFiles.find(request.app.state.gate, _one(fields, "store"))
    except LoyalistError as e:
        return _index(request, key, error=one_line(e), status=422)
    return _start(request, key, "switch", f"switching to the store {target.name}",
                  actions.switch_store(request.app, target))


@router.post("/train")
def train(request: Request) -> Response:
    key = _writer(request)
    if not isinstance(key, ApiKey):
        return key
    return _start(request, key, "train", "training the customer models",
                  actions.train(request.app))


@router.post("/forecast")
def make_forecast(request: Request) -> Response:
    key = _writer(request)
    if not isinstance(key, ApiKey):
        return key
    return _start(request, key, "forecast",
                  f"forecasting daily revenue {actions.FORECAST_DAYS} days ahead",
                  actions.forecast(request.app),
                  next_url=lambda job: f"{PREFIX}#forecast")


@router.post("/plans")
async def make_plan(request: Request) -> Response:
    return await _off_loop(_make_plan, request, await _fields(request))


def _make_plan(request: Request, fields: dict[str, list[str]]) -> Response:
    key = _writer(request)
    if not isinstance(key, ApiKey):
        return key
    try:
        amount = _one(fields, "budget") or None
        goal = _one(fields, "goal") or "retention"
        monthly = _one(fields, "budget_basis") == "month"
        held = _one(fields, "holdout") or "0"
        try:
            pct = float(held)
        except ValueError:
            pct = -1.0
        if not 0 <= pct <= 100 * MAX_HOLDOUT:
            return _index(request, key, error=f"invalid plan: hold-out {held!r} % is "
                          f"impossible; give 0 to {100 * MAX_HOLDOUT:.0f} (% of each "
                          "promotion's customers kept unsent to measure it)", status=422)
        req = PlanRequest(budget=None if monthly else amount,
                          budget_per_month=amount if monthly else None,
                          goal=goal,
                          period=_one(fields, "period") or 30,
                          segments=[x for x in fields.get("segments", []) if x],
                          # the categories field counts only for the goals that clear
                          clear=[c.strip() for x in fields.get("clear", []) for c in x.split(",")
                                 if c.strip()] if goal in CLEAR_GOALS else [],
                          # a hidden "0" precedes the checkbox: the last value wins
                          offer_fit=(fields.get("offer_fit") or ["1"])[-1],
                          holdout=pct / 100)
    except ValidationError as e:
        return _index(request, key, error=f"invalid plan: {validation_message(e)}", status=422)
    label = f"making a {req.goal.replace('_', ' ')} plan with {req.budget_text()}"
    return _start(request, key, "plan", label, actions.make_plan(request.app, req),
                  next_url=lambda job: f"{PREFIX}?plan={job.result['plan_id']}")


@router.post("/upload")
async def upload(request: Request) -> Response:
    key = await anyio.to_thread.run_sync(_writer, request)
    if not isinstance(key, ApiKey):
        return key
    async with request.form() as form:
        file, table, fmt = form.get("file"), str(form.get("table") or "auto"), \
            str(form.get("format") or "auto")
        if not isinstance(file, UploadFile) or not file.filename:
            return await _off_loop(_index, request, key, error="choose a file to upload",
                                   status=422)
        if table not in TABLES or fmt not in FORMATS:
            return await _off_loop(_index, request, key, status=422, error=(
                f"table must be one of {', '.join(TABLES)} and format one of "
                f"{', '.join(FORMATS)}"))
        try:  # POST /ingest's check and message, before anything is copied or written
            encoding = check_encoding(str(form.get("encoding") or "").strip() or None)
        except LoyalistError as e:
            return await _off_loop(_index, request, key, status=422,
                                   error=ingest_message(str(e)))
        name, original = safe_name(file.filename), file.filename
        folder = Path(tempfile.mkdtemp(prefix="loyalist-dashboard-upload-"))
        path = folder / name

        def copy() -> None:
            with path.open("wb") as f:
                shutil.copyfileobj(file.file, f, 1024 * 1024)

        await anyio.to_thread.run_sync(copy)
    work = actions.upload(request.app, path, original, table=table, fmt=fmt,
                          encoding=encoding)
    return await _off_loop(_start, request, key, "upload", f"loading {name}", work,
                           refused=lambda: shutil.rmtree(folder, ignore_errors=True))


@router.post("/unload")
async def unload(request: Request) -> Response:
    return await _off_loop(_unload, request, await _fields(request))


def _unload(request: Request, fields: dict[str, list[str]]) -> Response:
    """Remove a load and every row it wrote (the data quality table's “Unload”), or several
    together (the button an unload that cannot go alone offers), as ``DELETE /loads``."""
    key = _writer(request)
    if not isinstance(key, ApiKey):
        return key
    raw = _one(fields, "load_id")
    if not LOAD_IDS.match(raw):
        return _index(request, key, status=422, error=(
            f"load_id: {raw[:30]!r} is not a load id (a whole number such as 3, or several "
            "separated by commas); the data quality table lists the loads"))
    ids = raw.split(",")
    return _start(request, key, "unload", f"removing {actions.loads_named(ids)}",
                  actions.unload(request.app, ids))


def _unload_buttons(job: Job | None, view: dict[str, Any]) -> list[dict[str, str]]:
    """The unload buttons the job's message or quality report names
    (:func:`~loyalist.dashboard.actions.unload_text`): the ids, the label and the
    confirmation naming each load's file."""
    if job is None:
        return []
    texts = [job.error or ""] + [a for r in job.result.get("reports") or []
                                 for a in r.get("assumptions") or []]
    files = {str(x["load_id"]): x["file"] for x in (view["quality"] or {}).get("loads", [])}
    return [{"ids": ",".join(ids), "label": f"Unload {actions.loads_named(ids)}",
             "confirm": _confirm([(i, files.get(i)) for i in ids])}
            for ids in actions.unload_buttons(texts)]


def _confirm(loads: list[tuple[Any, Any]]) -> str:
    """What an unload button asks before it removes ``loads`` ((id, file) pairs): “Remove
    load 3 (sales.csv) and every row it wrote?”"""
    named = [f"{i} ({file or 'no file'})" for i, file in loads]
    they = "they" if len(loads) > 1 else "it"
    return f"Remove {actions.loads_named(named)} and every row {they} wrote?"


# --- small endpoints ----------------------------------------------------------------------
@router.get("/jobs/{job_id}")
def job_status(request: Request, job_id: str) -> Response:
    if current_key(request) is None:
        return JSONResponse({"message": "sign in first", "error": "Unauthorized"}, 401)
    job: Job | None = _dash(request).jobs.get(job_id)
    if job is None:
        return JSONResponse({"message": f"job {job_id[:20]!r} is unknown",
                             "error": "NotFound"}, 404)
    return JSONResponse(job.public())


@router.get("/plans/{plan_id}/{kind}.csv")
def plan_csv(request: Request, plan_id: str, kind: str) -> Response:
    """The plan's execution list (``customers.csv``), or its sends and hold-out as promotion
    history (``sends.csv``, to load after the campaign)."""
    if current_key(request) is None:
        return _to_login(request)
    if not ID.match(plan_id) or kind not in ("customers", "sends"):
        return Response("not a plan's file\n", 404, media_type="text/plain")
    try:
        text = views.plan_csv(request.app.state.gate, plan_id, kind)
    except StoreUnavailable as e:
        return Response(one_line(e) + "\n", 503, media_type="text/plain")
    except LoyalistError as e:
        return Response(one_line(e) + "\n", 404, media_type="text/plain")
    return Response(text, media_type="text/csv", headers={
        "Content-Disposition": f'attachment; filename="plan_{plan_id}_{kind}.csv"'})


@router.get("/quality/quarantine.csv")
def quarantine_csv(request: Request) -> Response:
    """Every quarantined row: load, file, table, row in the file, rule, reason, raw values."""
    if current_key(request) is None:
        return _to_login(request)
    try:
        text = views.quarantine_csv(request.app.state.gate)
    except StoreUnavailable as e:
        return Response(one_line(e) + "\n", 503, media_type="text/plain")
    return Response(text, media_type="text/csv", headers={
        "Content-Disposition": 'attachment; filename="quarantined_rows.csv"'})


@router.get("/static/{name}")
def static(request: Request, name: str) -> Response:
    return assets.respond(request, name)
