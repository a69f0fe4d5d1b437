"""The outermost layer of the app (pure ASGI, cheap per request): request ids, request-body size
limits (413), security headers, one JSON log line per request, and a generic 500 body for any
unhandled exception (logged with its traceback, never sent)."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime
from typing import Any

from starlette.exceptions import HTTPException

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger("loyalist.api")
access = logging.getLogger("loyalist.api.access")

HEADERS = [(b"x-content-type-options", b"nosniff"), (b"cache-control", b"no-store"),
           (b"referrer-policy", b"no-referrer")]


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, the record's ``fields``, exc."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(), "logger": record.name,
            "msg": record.getMessage(), **getattr(record, "fields", {})}
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, default=str)


def configure_logging(level: str = "info") -> None:
    """JSON lines on stderr for the server's and uvicorn's loggers (called by ``serve``)."""
    import sys

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    for name in ("loyalist", "uvicorn", "uvicorn.error"):
        lg = logging.getLogger(name)
        lg.handlers[:] = [handler]
        lg.setLevel(level.upper())
        lg.propagate = False


def too_large(limit: int) -> str:
    return f"request body too large: the limit is {limit:,} bytes"


class Guard:
    """See the module docstring. ``upload_paths`` get ``max_upload`` bytes, others
    ``max_body``."""

    def __init__(self, app: ASGIApp, *, max_body: int, max_upload: int,
                 upload_paths: tuple[str, ...] = ("/ingest",)) -> None:
        self.app = app
        self.max_body = max_body
        self.max_upload = max_upload
        self.upload_paths = upload_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        rid = uuid.uuid4().hex[:16]
        state = {"status": 500, "started": False, "bytes_in": 0}
        limit = self.max_upload if scope["path"] in self.upload_paths else self.max_body

        async def send_(msg: Message) -> None:
            if msg["type"] == "http.response.start":
                state["status"], state["started"] = msg["status"], True
                msg["headers"] = [*msg.get("headers", []), *HEADERS,
                                  (b"x-request-id", rid.encode())]
            await send(msg)

        async def receive_(msg_limit: int = limit) -> Message:
            msg = await receive()
            if msg["type"] == "http.request":
                state["bytes_in"] += len(msg.get("body", b""))
                if state["bytes_in"] > msg_limit:
                    raise HTTPException(413, too_large(msg_limit))
            return msg

        try:
            declared = _content_length(scope)
            if declared is not None and declared > limit:
                await _reply(send_, 413, {"message": too_large(limit), "error": "TooLarge",
                                          "detail": None})
            else:
                await self.app(scope, receive_, send_)
        except Exception:
            log.exception("unhandled error", extra={"fields": {"request_id": rid}})
            if state["started"]:
                raise
            await _reply(send_, 500, {"message": "internal server error; the server log has "
                                      f"the details (request id {rid})",
                                      "error": "InternalError", "request_id": rid})
        finally:
            if access.isEnabledFor(logging.INFO):
                access.info("request", extra={"fields": {
                    "method": scope["method"], "path": scope["path"],
                    "status": state["status"], "ms": round(1000 * (time.perf_counter() - t0), 2),
                    "bytes_in": state["bytes_in"], "request_id": rid}})


def _content_length(scope: Scope) -> int | None:
    for k, v in scope.get("headers", []):
        if k == b"content-length":
            try:
                return int(v)
            except ValueError:
                return None
    return None


async def _reply(send: Send, status: int, body: dict[str, Any]) -> None:
    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(data)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": data})
