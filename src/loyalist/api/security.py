"""API keys: ``Authorization: Bearer KEY`` checked against every configured key in constant
time (:func:`hmac.compare_digest` over all of them, no early exit). No or a wrong key is a 401;
a read key on a write endpoint is a 403."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from loyalist.api.settings import ApiKey

bearer = HTTPBearer(auto_error=False, scheme_name="ApiKey",
                    description="`Authorization: Bearer KEY`, a key from LOYALIST_API_KEYS "
                                "(suffixed `:write` there for POST endpoints).")
CHALLENGE = {"WWW-Authenticate": "Bearer"}


def match(given: str, keys: tuple[ApiKey, ...]) -> ApiKey | None:
    """The configured key equal to ``given``, comparing with every key whatever matches."""
    probe = given.encode()
    found = None
    for key in keys:
        if hmac.compare_digest(probe, key.secret.encode()) and found is None:
            found = key
    return found


def read_scope(request: Request, creds: Annotated[HTTPAuthorizationCredentials | None,
                                                  Depends(bearer)]) -> ApiKey:
    keys: tuple[ApiKey, ...] = request.app.state.settings.api_keys
    if creds is None:
        raise HTTPException(401, "missing API key; send the header 'Authorization: Bearer KEY'",
                            headers=CHALLENGE)
    key = match(creds.credentials, keys)
    if key is None:
        raise HTTPException(401, "invalid API key" if keys else
                            "invalid API key: the server has no keys (set LOYALIST_API_KEYS)",
                            headers=CHALLENGE)
    return key


def write_scope(key: Annotated[ApiKey, Depends(read_scope)]) -> ApiKey:
    if key.scope != "write":
        raise HTTPException(403, "this key may only read; writing needs a key listed with "
                                 "':write' in LOYALIST_API_KEYS")
    return key
