"""Server settings: one pydantic-settings class read from ``LOYALIST_*`` environment variables,
behind the cached getter :func:`get_settings`.

=================================  ==========================================================
``LOYALIST_STORE``                 DuckDB store file (the CLI's variable too)
``LOYALIST_API_KEYS``              comma-separated keys; suffix a key with ``:write`` to let it
                                   call ``POST /plans`` and ``POST /ingest`` (e.g.
                                   ``LOYALIST_API_KEYS="r3ad-k3y,wr1te-k3y:write"``); a key
                                   without a suffix (or with ``:read``) only reads. The text
                                   after the last ``:`` is the scope: a key containing ``:``
                                   needs one (``a:b:read``); any other scope, or one key
                                   listed with two scopes, stops the server at start-up
``LOYALIST_CORS_ORIGINS``          comma-separated browser origins allowed cross-origin
                                   (default empty: CORS closed)
``LOYALIST_MAX_UPLOAD_BYTES``      largest ``POST /ingest`` request body (default 200 MiB)
``LOYALIST_MAX_BODY_BYTES``        largest body of any other request (default 1 MiB)
``LOYALIST_STORE_IDLE_SECONDS``    how long the read-only store stays open after the last
                                   read (default 2 s; 0 = open and close per request)
``LOYALIST_CACHE_MAX_CUSTOMERS``  customer lookups are served from memory when the store has
                                   at most this many scored customers (default 250,000; 0 =
                                   always from DuckDB), see :mod:`loyalist.api.cache`
``LOYALIST_API_DOCS``              serve ``/docs`` and ``/openapi.json`` (default true)
=================================  ==========================================================
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from loyalist.store import DEFAULT_STORE

Scope = Literal["read", "write"]


@dataclass(frozen=True, repr=False)
class ApiKey:
    """One configured key and its scope (the secret never appears in a repr)."""

    secret: str
    scope: Scope

    def __repr__(self) -> str:
        return f"ApiKey(scope={self.scope!r}, secret=***)"


SCOPES: tuple[Scope, ...] = ("read", "write")


def parse_keys(raw: str | list[str] | tuple[object, ...]) -> tuple[ApiKey, ...]:
    """``"k1,k2:write"`` -> keys with scopes; blank items are ignored.

    The text after an entry's last ``:`` is its scope, ``read`` or ``write``; an entry without
    ``:`` reads. So a key that contains ``:`` itself needs its scope written out
    (``a:b:read``). An unknown scope (``k1:admin``, ``k1:Write``) and one key listed with two
    scopes are refused rather than read as some other key; the messages name the entry by its
    position and scope, never by its secret."""
    items = raw.split(",") if isinstance(raw, str) else list(raw)
    keys: list[ApiKey] = []
    where: dict[str, tuple[int, Scope]] = {}  # secret -> (entry number, scope) first listed
    entries = [x if isinstance(x, ApiKey) else str(x).strip() for x in items]
    for n, item in enumerate([x for x in entries if x], start=1):
        if isinstance(item, ApiKey):
            key = item
        else:
            text = item
            secret, colon, scope = text.rpartition(":")
            if not colon:
                secret, scope = text, "read"
            if scope not in SCOPES:
                shown = repr(scope) if len(scope) <= 12 else f"of {len(scope)} characters"
                raise ValueError(
                    f"entry {n} has an unknown scope {shown} after its last ':': the scopes are "
                    "'read' and 'write' (lower case), e.g. 'KEY:write'; a key that contains "
                    "':' itself needs ':read' or ':write' at its end")
            if not secret:
                raise ValueError(f"entry {n}: an API key is empty before its ':{scope}' suffix")
            key = ApiKey(secret, scope)  # type: ignore[arg-type]
        first = where.setdefault(key.secret, (n, key.scope))
        if first[1] != key.scope:
            raise ValueError(f"entries {first[0]} and {n} are the same key with different "
                             f"scopes ({first[1]!r} and {key.scope!r}); list each key once, "
                             "with ':write' if it may write")
        if first[0] == n:
            keys.append(key)
    return tuple(keys)


class Settings(BaseSettings):
    """Everything the server reads from its environment (module docstring)."""

    model_config = SettingsConfigDict(env_prefix="LOYALIST_", extra="ignore")

    store: Path = Path(DEFAULT_STORE)
    api_keys: Annotated[tuple[ApiKey, ...], NoDecode, Field(repr=False)] = ()
    cors_origins: Annotated[tuple[str, ...], NoDecode] = ()
    max_upload_bytes: int = Field(200 * 1024 * 1024, gt=0)
    max_body_bytes: int = Field(1024 * 1024, gt=0)
    store_idle_seconds: float = Field(2.0, ge=0)
    cache_max_customers: int = Field(250_000, ge=0)
    api_docs: bool = True

    @field_validator("api_keys", mode="before")
    @classmethod
    def _keys(cls, v: object) -> tuple[ApiKey, ...]:
        return parse_keys(v)  # type: ignore[arg-type]

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _origins(cls, v: object) -> tuple[str, ...]:
        items = v.split(",") if isinstance(v, str) else list(v)  # type: ignore[call-overload]
        return tuple(o.strip() for o in items if o.strip())


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once from the environment."""
    return Settings()
