"""The endpoints. Each reads through :mod:`loyalist.api.reads` or writes through
:mod:`loyalist.api.writes` (one :mod:`loyalist.pipeline` call); errors become JSON bodies in
:mod:`loyalist.api.app`."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, Path, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from loyalist import __version__
from loyalist.api import reads, writes
from loyalist.api.models import (
    CampaignResponse,
    ChurnResponse,
    CustomerPageResponse,
    CustomerResponse,
    ErrorResponse,
    ForecastResponse,
    HealthResponse,
    IngestResponse,
    LoadsResponse,
    PlanRequest,
    PlanResponse,
    PlansResponse,
    RecommendationsResponse,
    SegmentsResponse,
    Tier,
    TogetherResponse,
    UnloadResponse,
)
from loyalist.api.security import read_scope, write_scope
from loyalist.api.storegate import StoreGate, StoreUnavailable
from loyalist.ingest import FORMATS, TABLES


def _gate(request: Request) -> StoreGate:
    return request.app.state.gate  # type: ignore[no-any-return]


Gate = Annotated[StoreGate, Depends(_gate)]
CustomerId = Annotated[str, Path(min_length=1, max_length=200)]
ProductId = Annotated[str, Path(min_length=1, max_length=200)]
PlanId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {c: {"model": ErrorResponse} for c in (401, 503, *codes)}


def _query_names(dependant: Any) -> set[str]:
    """The query parameters a route and its dependencies declare (their aliases)."""
    names = {p.alias for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


def known_query(request: Request) -> None:
    """Refuse a query parameter the route does not take (``/customers?teir=high`` would
    otherwise list every customer, the misspelt filter dropped): a 422 naming it and the
    ones the route takes, as an unknown field of a JSON body is."""
    if not request.query_params:  # most requests: nothing to check, no tree to walk
        return
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    allowed = _query_names(dependant)
    unknown = [k for k in dict.fromkeys(request.query_params) if k not in allowed]
    if unknown:
        takes = ", ".join(sorted(allowed)) or "none"
        raise RequestValidationError([
            {"loc": ("query", k), "type": "extra_forbidden",
             "msg": f"unknown query parameter (this endpoint takes: {takes})"}
            for k in unknown])


public = APIRouter(dependencies=[Depends(known_query)])
reader = APIRouter(dependencies=[Depends(read_scope), Depends(known_query)])
writer = APIRouter(dependencies=[Depends(write_scope), Depends(known_query)])


@public.get("/health", response_model=HealthResponse, tags=["service"],
            responses={503: {"model": HealthResponse}})
def health(gate: Gate) -> Any:
    """Store reachable, version, latest scores as_of, which result tables exist. No key."""
    try:
        with gate.read() as r:
            return {"status": "ok", "version": __version__, "store_reachable": True,
                    **reads.health(r)}
    except StoreUnavailable:
        return JSONResponse({"status": "unavailable", "version": __version__,
                             "store_reachable": False}, status_code=503)


@reader.get("/customers/{customer_id}", response_model=CustomerResponse, tags=["customers"],
            responses=_errors(404))
def customer(customer_id: CustomerId, gate: Gate) -> Any:
    """A customer's RFM segment and recency x frequency grid cell (``grid_segment``; some
    cells share a segment's name with other rules: label it as the grid's, "RF grid: At
    Risk"), churn, expected spend over ``clv_horizon_days`` with its 80% range, offer in the
    latest plan and top products (from the latest scores, plan and recommendations)."""
    with gate.read() as r:
        return reads.customer(r, customer_id)


@reader.get("/customers", response_model=CustomerPageResponse, tags=["customers"],
            responses=_errors(404, 422))
def customers(gate: Gate, segment: Annotated[str | None, Query(max_length=100)] = None,
              tier: Tier | None = None, limit: Annotated[int, Query(ge=1, le=1000)] = 100,
              offset: Annotated[int, Query(ge=0, le=100_000_000)] = 0) -> Any:
    """Customers at the latest scores, ordered by id, filtered by RFM segment and churn tier."""
    with gate.read() as r:
        return reads.customers_page(r, segment=segment, tier=tier, limit=limit, offset=offset)


@reader.get("/segments", response_model=SegmentsResponse, tags=["customers"],
            responses=_errors(404))
def segments(gate: Gate) -> Any:
    """A profile per RFM segment: customers, share, mean churn, p_alive, CLV, RFM scores."""
    with gate.read() as r:
        return reads.segments(r)


@reader.get("/churn", response_model=ChurnResponse, tags=["customers"], responses=_errors(404))
def churn(gate: Gate, top: Annotated[int, Query(ge=0, le=1000)] = 20) -> Any:
    """Customers per churn tier with their expected spend and the spend at stake (risk x
    spend), the ``top`` high and medium risk customers with the most at stake and their
    reasons, and the churn model's out-of-time ROC-AUC beside its baselines'."""
    with gate.read() as r:
        return reads.churn_risk(r, top=top)


@reader.get("/recommendations/{customer_id}", response_model=RecommendationsResponse,
            tags=["customers"], responses=_errors(404, 422))
def recommendations(customer_id: CustomerId, gate: Gate,
                    method: Annotated[str | None, Query(max_length=40)] = None,
                    n: Annotated[int, Query(ge=1, le=100)] = 10) -> Any:
    """Stored product recommendations (latest as_of; method hybrid if stored)."""
    with gate.read() as r:
        return reads.recommendations(r, customer_id, method=method, n=n)


@reader.get("/products/{product_id}/together", response_model=TogetherResponse,
            tags=["products"], responses=_errors(404, 422))
def together(product_id: ProductId, gate: Gate,
             n: Annotated[int, Query(ge=1, le=100)] = 10) -> Any:
    """Products bought together with this one (stored basket rules, latest as_of), for a
    "bought together" shelf or widget: orders with both, confidence, lift."""
    with gate.read() as r:
        return reads.together(r, product_id, n=n)


@reader.get("/forecast", response_model=ForecastResponse, tags=["forecast"],
            responses=_errors(404))
def forecast(gate: Gate) -> Any:
    """The stored forecast (table ``forecast``); 404 when none is stored."""
    with gate.read() as r:
        return reads.forecast(r)


@reader.get("/plans", response_model=PlansResponse, tags=["plans"], responses=_errors(404))
def plans(gate: Gate) -> Any:
    """Stored plans, newest first."""
    with gate.read() as r:
        return {"plans": reads.plans(r), "currency": reads.currency(r)}


@reader.get("/plans/{plan_id}", response_model=PlanResponse, tags=["plans"],
            responses=_errors(404))
def plan(plan_id: PlanId, gate: Gate) -> Any:
    """A stored plan's summary."""
    with gate.read() as r:
        return reads.plan_summary(r, plan_id)


@reader.get("/plans/{plan_id}/customers.csv", tags=["plans"], response_class=Response,
            responses={200: {"content": {"text/csv": {}}}, **_errors(404)})
def plan_customers(plan_id: PlanId, gate: Gate) -> Response:
    """The plan's execution list: one row per targeted customer."""
    with gate.read() as r:
        text = reads.plan_customers_csv(r, plan_id)
    return Response(text, media_type="text/csv", headers={
        "content-disposition": f'attachment; filename="plan_{plan_id}_customers.csv"'})


@reader.get("/plans/{plan_id}/sends.csv", tags=["plans"], response_class=Response,
            responses={200: {"content": {"text/csv": {}}}, **_errors(404)})
def plan_sends(plan_id: PlanId, gate: Gate) -> Response:
    """The plan as promotion history: one row per customer sent a promotion and per customer
    held out (promotion `control`, `control_for` the promotion held back), dated the first
    day of its send month. After the campaign, `POST /ingest` it (table promotions) so the
    next plan's response model learns from it."""
    with gate.read() as r:
        text = reads.plan_sends_csv(r, plan_id)
    return Response(text, media_type="text/csv", headers={
        "content-disposition": f'attachment; filename="plan_{plan_id}_sends.csv"'})


@reader.get("/campaigns/results", response_model=CampaignResponse, tags=["plans"],
            responses=_errors(404, 422))
def campaign_results(
        gate: Gate,
        sent_from: Annotated[str | None, Query(alias="from", max_length=40, description=(
            "First send day (default: the latest send day, or the plan's)."))] = None,
        sent_to: Annotated[str | None, Query(alias="to", max_length=40, description=(
            "Last send day (default: the latest)."))] = None,
        window: Annotated[int | None, Query(ge=1, le=366, description=(
            "Days after each send in which purchases count (default: the response "
            "model's window)."))] = None,
        plan_id: Annotated[str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9_.-]+$",
                                             description="A saved plan: its send days, and its "
                                             "predictions beside what was measured.")] = None
) -> Any:
    """What a campaign made: each promotion's customers sent against those held out from it
    on the same day, in the response window (buyers, orders, revenue, margin; 95% intervals),
    as `loyalist evaluate campaign --json` prints it. Load the plan's sends
    (`GET /plans/{id}/sends.csv`, then `POST /ingest` with table promotions) and the sales
    since first."""
    with gate.read() as r:
        return reads.campaign(r, sent_from=sent_from, sent_to=sent_to, window_days=window,
                              plan_id=plan_id)


@writer.post("/plans", response_model=PlanResponse, tags=["plans"],
             responses=_errors(400, 403, 409, 422))
def make_plan(body: PlanRequest, gate: Gate) -> Any:
    """Make a budget-optimal promotion plan, save it, return its summary (write key)."""
    return writes.plan(gate, body)


@writer.post("/ingest", response_model=IngestResponse, tags=["data"],
             responses=_errors(400, 403, 413, 422))
def ingest(file: UploadFile, gate: Gate,
           table: Annotated[Literal[TABLES], Form()] = "auto",  # type: ignore[valid-type]
           format: Annotated[Literal[FORMATS], Form()] = "auto",  # type: ignore[valid-type]
           map: Annotated[list[str] | None, Form(description="canonical=source column")] = None,
           currency: Annotated[str | None, Form(
               max_length=8, description="ISO 4217 code the amounts are in (e.g. GBP), over "
               "what the file shows; a store keeps one currency.")] = None,
           encoding: Annotated[str | None, Form(
               max_length=40, description="The text file's encoding (e.g. cp1255), over the "
               "one told from its words.")] = None,
           ) -> Any:
    """Load an uploaded CSV/Parquet/Excel file with the CLI's validation and quarantine; the
    quality report (write key). A file that cannot be loaded leaves the store unchanged."""
    return {"reports": writes.ingest(gate, file.file, file.filename, table=table, fmt=format,
                                     mapping=map, currency=currency, encoding=encoding)}


LoadIds = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[0-9]+(,[0-9]+)*$",
                              description="One load id, or several separated by commas.")]


@reader.get("/loads", response_model=LoadsResponse, tags=["data"])
def loads(gate: Gate) -> Any:
    """Every load of the store: id, table, file, time, status, row counts."""
    from loyalist.ingest.unload import list_loads

    with gate.read() as r:
        return {"loads": list_loads(r.con)}


@writer.delete("/loads/{load_ids}", response_model=UnloadResponse, tags=["data"],
               responses=_errors(403, 422))
def unload(load_ids: LoadIds, gate: Gate) -> Any:
    """Remove loads and every row they wrote (`loyalist unload`), e.g. a wrong upload; later
    loads of the same table must go first or in the same request (write key)."""
    return writes.unload(gate, load_ids.split(","))
