"""``create_app(settings)``: the FastAPI application. Nothing happens at import; the store is
opened on the first request (see :mod:`loyalist.api.storegate`)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.exceptions import HTTPException

from loyalist import __version__, dashboard
from loyalist.api import docs, reads, routes
from loyalist.api.middleware import Guard
from loyalist.api.reads import NotFound
from loyalist.api.settings import Settings, get_settings
from loyalist.api.storegate import StoreGate, StoreUnavailable
from loyalist.errors import InfeasibleError, LoyalistError, ParameterError, StoreError

log = logging.getLogger("loyalist.api")

DESCRIPTION = """Customer scores, segments, promotion plans and recommendations from a Loyalist
store. Every endpoint but `/health` needs `Authorization: Bearer KEY` (keys from
`LOYALIST_API_KEYS`; POST endpoints need a key suffixed `:write` there). Errors are JSON:
`{"message": one line, "error": class, "detail": field errors for 422}`."""

#: HTTP status per error class (first match in order)
STATUS: tuple[tuple[type[LoyalistError], int], ...] = (
    (NotFound, 404), (ParameterError, 422), (InfeasibleError, 422), (StoreUnavailable, 503),
    (StoreError, 409), (LoyalistError, 400))


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def _body(status: int, message: object, error: str, detail: Any = None,
          headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"message": _one_line(message), "error": error, "detail": detail},
                        status_code=status, headers=headers)


async def _loyalist_error(_request: Request, exc: Exception) -> JSONResponse:
    status = next(code for cls, code in STATUS if isinstance(exc, cls))
    headers = {"Retry-After": "2"} if status == 503 else None
    return _body(status, exc, type(exc).__name__, headers=headers)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    msg = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors[:5])
    return _body(422, f"invalid request: {msg}", "ValidationError",
                 jsonable_encoder([{k: e[k] for k in ("loc", "msg", "type") if k in e}
                                   for e in errors]))


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    names = {401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 405: "MethodNotAllowed",
             413: "TooLarge"}
    return _body(exc.status_code, exc.detail, names.get(exc.status_code, "HTTPError"),
                 headers=exc.headers)


def _warm(gate: StoreGate) -> None:
    try:
        with gate.read() as r:
            reads.warm(r)
    except LoyalistError as e:
        log.warning("store not ready at start-up: %s", _one_line(e))


def create_app(settings: Settings | None = None) -> FastAPI:
    """The API over ``settings.store`` (default: :func:`get_settings`)."""
    settings = settings or get_settings()
    gate = StoreGate(settings.store, idle_seconds=settings.store_idle_seconds,
                     cache_max_customers=settings.cache_max_customers)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await anyio.to_thread.run_sync(_warm, gate)
        yield
        gate.close()

    app = FastAPI(title="Loyalist API", version=__version__, description=DESCRIPTION,
                  docs_url=None, redoc_url=None, lifespan=lifespan,
                  openapi_url="/openapi.json" if settings.api_docs else None)
    app.state.settings = settings
    app.state.gate = gate
    for router in (routes.public, routes.reader, routes.writer):
        app.include_router(router)
    app.add_exception_handler(LoyalistError, _loyalist_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    if settings.api_docs:
        @app.get("/docs", include_in_schema=False)
        def docs_page() -> HTMLResponse:
            return HTMLResponse(docs.render(app.openapi()))
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins),
                           allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type"])
    app.add_middleware(Guard, max_body=settings.max_body_bytes,
                       max_upload=settings.max_upload_bytes,
                       upload_paths=("/ingest", dashboard.UPLOAD_PATH))
    dashboard.mount(app)  # the web dashboard under /app (after Guard: see mount)
    return app
