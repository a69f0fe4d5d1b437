"""Static files: plotly.js from the Python ``plotly`` package (no CDN), the dashboard's script and
stylesheet. Each is served gzipped when the browser accepts it, with an ETag, and cached for a
year: the URL changes with the content (plotly's version in the name, a content hash in
``?v=`` for the others), so a cached copy is never stale."""

from __future__ import annotations

import functools
import gzip
import hashlib
from collections.abc import MutableMapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from loyalist.api.middleware import ASGIApp, Receive, Scope, Send

IMMUTABLE = "public, max-age=31536000, immutable"
SHORT = "public, max-age=300"
OWN = {"dashboard.js": "application/javascript", "dashboard.css": "text/css"}


@dataclass(frozen=True)
class Asset:
    body: bytes
    gz: bytes
    media_type: str
    etag: str

    @property
    def version(self) -> str:
        return self.etag.strip('"')[:12]


def _asset(body: bytes, media_type: str) -> Asset:
    digest = hashlib.sha256(body).hexdigest()
    return Asset(body, gzip.compress(body, 6, mtime=0), f"{media_type}; charset=utf-8",
                 f'"{digest[:32]}"')


@functools.cache
def plotly_name() -> str:
    """``plotly-<version>.min.js``: the URL names the bundled plotly.js version."""
    from plotly.offline import get_plotlyjs_version

    return f"plotly-{get_plotlyjs_version()}.min.js"


@functools.cache
def asset(name: str) -> Asset | None:
    """The asset called ``name`` (built once per process), or None."""
    if name == plotly_name():
        from plotly.offline import get_plotlyjs

        return _asset(get_plotlyjs().encode(), "application/javascript")
    if name in OWN:
        body = resources.files("loyalist.dashboard").joinpath("static", name).read_bytes()
        return _asset(body, OWN[name])
    return None


def url(name: str) -> str:
    """The path a page links to (with the content version for the dashboard's own files)."""
    from loyalist.dashboard.routes import PREFIX

    if name == "plotly":
        return f"{PREFIX}/static/{plotly_name()}"
    found = asset(name)
    assert found is not None, name
    return f"{PREFIX}/static/{name}?v={found.version}"


def respond(request: Request, name: str) -> Response:
    """200 (gzipped if accepted), 304 for a matching ``If-None-Match``, or 404."""
    found = asset(name)
    if found is None:
        return Response(f"no static file {name!r}", status_code=404, media_type="text/plain")
    fixed = name == plotly_name() or request.query_params.get("v") == found.version
    headers = {"Cache-Control": IMMUTABLE if fixed else SHORT, "ETag": found.etag,
               "Vary": "Accept-Encoding"}
    if request.headers.get("if-none-match") == found.etag:
        return Response(status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", ""):
        return Response(found.gz, media_type=found.media_type,
                        headers={**headers, "Content-Encoding": "gzip"})
    return Response(found.body, media_type=found.media_type, headers=headers)


class StaticCacheHeaders:
    """Outermost ASGI layer for the static files: the API's middleware marks every response
    ``Cache-Control: no-store`` (right for data, wrong for plotly.js); under ``prefix`` a
    response that sets its own Cache-Control keeps only that one."""

    def __init__(self, app: ASGIApp, *, prefix: str) -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return

        async def send_(msg: MutableMapping[str, Any]) -> None:
            if msg["type"] == "http.response.start":
                headers = list(msg.get("headers", []))
                cache = [v for k, v in headers if k.lower() == b"cache-control"]
                if len(cache) > 1:
                    headers = [(k, v) for k, v in headers
                               if k.lower() != b"cache-control" or v != b"no-store"]
                msg["headers"] = headers
            await send(msg)

        await self.app(scope, receive, send_)
