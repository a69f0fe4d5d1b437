"""``loyalist serve``: the REST API over a store, in one uvicorn process."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from loyalist.cli.options import StoreOpt, one_of
from loyalist.errors import ParameterError
from loyalist.names import DEFAULT_STORE

if TYPE_CHECKING:
    from loyalist.api import Settings


def serve(
    store: StoreOpt = Path(DEFAULT_STORE),
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
    log_level: Annotated[str, typer.Option(
        help=one_of(("debug", "info", "warning", "error"), "Log level"))] = "info",
) -> None:
    """Serve the REST API (OpenAPI docs at /docs) from the store's precomputed results,
    computing plans on request. Keys come from LOYALIST_API_KEYS (comma-separated; a key
    suffixed ':write' may POST /plans and /ingest and DELETE /loads); other settings are
    LOYALIST_* variables (see loyalist.api.settings). Logs are JSON lines on stderr, one per
    request.

    Example:

      LOYALIST_API_KEYS="reader-key,writer-key:write" loyalist serve --store shop.duckdb
    """
    try:
        import uvicorn

        from loyalist.api import Settings, create_app
        from loyalist.api.middleware import configure_logging
    except ImportError as e:  # pragma: no cover - depends on the install
        raise ParameterError(f"the API needs the 'api' extra ({e.name} is missing); "
                             "install it with `pip install 'loyalist[api]'`") from None
    settings = _settings(Settings, store)
    from loyalist.store import check_store_file

    check_store_file(settings.store)  # a data file given as the store: refused, not served
    if not settings.api_keys:
        raise ParameterError("no API keys: set LOYALIST_API_KEYS, e.g. "
                             "LOYALIST_API_KEYS='reader-key,writer-key:write' (every endpoint "
                             "but /health needs one)")
    configure_logging(log_level)
    uvicorn.run(create_app(settings), host=host, port=port, log_config=None,
                access_log=False, server_header=False, workers=1)


def _settings(cls: type[Settings], store: Path) -> Settings:
    """The server's settings; a bad ``LOYALIST_*`` value is one line naming the variable (the
    keys' value is never shown: it holds secrets)."""
    from pydantic import ValidationError

    try:
        return cls(store=store)
    except ValidationError as e:
        err = e.errors()[0]
        var = "LOYALIST_" + "_".join(str(p) for p in err["loc"]).upper()
        msg = str(err["msg"]).removeprefix("Value error, ")
        if err["loc"][:1] != ("api_keys",):
            msg += f" (got {err.get('input')!r})"
        raise ParameterError(f"{var}: {msg}") from None
