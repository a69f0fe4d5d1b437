"""The dashboard's sign-in: the user types one of the API keys (``LOYALIST_API_KEYS``) on a
login page; it is kept in an HttpOnly, SameSite=Strict cookie scoped to ``/app`` (scripts cannot
read it, other sites cannot send it) and checked like a Bearer key on every request, in
constant time. A read key views; a ``:write`` key may also load data and make plans. Changing
``LOYALIST_API_KEYS`` and restarting revokes every cookie made with a removed key.

Forms are protected against cross-site requests by the SameSite=Strict cookie and by the
``Sec-Fetch-Site`` and ``Origin`` headers browsers send (see :func:`same_origin`)."""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import Response

from loyalist.api.security import match
from loyalist.api.settings import ApiKey

COOKIE = "loyalist_key"
#: longest key accepted from the login form or a cookie
MAX_KEY = 512


def current_key(request: Request) -> ApiKey | None:
    """The configured key the request's cookie holds, or None."""
    given = request.cookies.get(COOKIE)
    if not given or len(given) > MAX_KEY:
        return None
    return match(given, request.app.state.settings.api_keys)


def check_key(request: Request, given: str) -> tuple[ApiKey | None, str | None]:
    """(key, None) for a configured key, else (None, a one-line reason)."""
    keys = request.app.state.settings.api_keys
    if not keys:
        return None, "the server has no API keys: set LOYALIST_API_KEYS and restart it"
    given = given.strip()
    if not given:
        return None, "enter an API key"
    key = match(given, keys) if len(given) <= MAX_KEY else None
    return (key, None) if key is not None else (None, "invalid API key")


def sign_in(response: Response, request: Request, secret: str, prefix: str) -> None:
    response.set_cookie(COOKIE, secret, httponly=True, samesite="strict", path=prefix,
                        secure=request.url.scheme == "https")


def sign_out(response: Response, prefix: str) -> None:
    response.delete_cookie(COOKIE, path=prefix, httponly=True, samesite="strict")


def same_origin(request: Request) -> bool:
    """False when the browser says the form came from another site: ``Sec-Fetch-Site`` other
    than same-origin (or none: typed by the user), or an ``Origin`` naming another host. (The
    API sends ``Referrer-Policy: no-referrer``, so a browser's own forms carry
    ``Origin: null``, which proves nothing either way.)"""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return True
    return urlsplit(origin).netloc == request.headers.get("host", "")


def safe_next(target: str | None, prefix: str) -> str:
    """Where to go after signing in: a path inside the dashboard, never another site."""
    inside = target is not None and (target == prefix or target.startswith((
        f"{prefix}/", f"{prefix}?")))
    return target if inside and "\\" not in target else prefix  # type: ignore[return-value]
