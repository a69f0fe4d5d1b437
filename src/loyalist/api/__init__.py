"""The REST API (FastAPI): ``create_app(settings)`` builds it, ``loyalist serve`` runs it.

Needs the ``api`` extra (``pip install loyalist[api]``). Modules: :mod:`.settings` (environment),
:mod:`.app` (the application and its error bodies), :mod:`.routes` (endpoints),
:mod:`.reads` / :mod:`.writes` (what they serve and do), :mod:`.storegate` (concurrent access
to the DuckDB file), :mod:`.security` (API keys), :mod:`.middleware` (limits, logs, 500s),
:mod:`.docs` (offline ``/docs``).
"""

from loyalist.api.app import create_app
from loyalist.api.settings import Settings, get_settings

__all__ = ["Settings", "create_app", "get_settings"]
