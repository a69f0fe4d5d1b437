"""The web dashboard: server-rendered pages under ``/app``, served by ``loyalist serve``.

Why Jinja2 pages with Plotly charts inside the API process, rather than Streamlit or a
JavaScript single-page app:

- **One process.** The API already owns the store through one readers-writer gate
  (:mod:`loyalist.api.storegate`): DuckDB allows one writing process per file. The dashboard
  is more routes on the same FastAPI app, so it shares that gate, the API keys and the JSON
  request log, and ``loyalist serve`` stays one command with nothing to supervise. A
  Streamlit server would be a second process opening the same file and fighting the API for
  the write lock.
- **No Node build.** Templates, a stylesheet and under 100 lines of vanilla JavaScript ship inside
  the wheel; pages are plain HTML forms that work without any script (the script adds the
  budget slider sync, running states and charts).
- **Works offline.** plotly.js comes from the Python ``plotly`` package
  (:func:`plotly.offline.get_plotlyjs`) and is served by the app itself with long-lived
  caching headers; nothing is fetched from a CDN, so a shop PC without internet works.

Pages read results through :mod:`loyalist.api.reads` and write through
:mod:`loyalist.api.writes` (the same :mod:`loyalist.pipeline` calls as ``POST /plans`` and
``POST /ingest``), so a plan is the same whichever door it came through. Long work (loading a
sample scenario, training, a plan, an upload) runs as one background job at a time
(:mod:`.jobs`) whose progress the page polls.

Modules: :mod:`.routes` (pages), :mod:`.auth` (the API key in a cookie), :mod:`.views`
(what a page reads), :mod:`.actions` (what a button does), :mod:`.jobs`, :mod:`.charts`
(Plotly figures), :mod:`.assets` (static files and their caching).
"""

from __future__ import annotations

from fastapi import FastAPI

from loyalist.dashboard.assets import StaticCacheHeaders
from loyalist.dashboard.routes import PREFIX, UPLOAD_PATH, Dashboard, router

__all__ = ["PREFIX", "UPLOAD_PATH", "mount"]


def mount(app: FastAPI) -> None:
    """Add the dashboard's routes under ``/app`` to the API ``app``. Call it after the API's own
    middleware is added: the static files' caching headers are restored outside it."""
    app.state.dashboard = Dashboard()
    app.include_router(router)
    app.add_middleware(StaticCacheHeaders, prefix=f"{PREFIX}/static/")
