"""The dashboard: one static page (HTML, JS, CSS from ``api/static/dashboard``) served by the API.

The page itself is public and holds no data; it asks for an API key, keeps it in ``sessionStorage``
and calls the same ``/v1`` routes as every client with ``Authorization: Bearer``. So the dashboard is
behind exactly the same keys and project isolation. No CDN and no build step: it works offline.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

#: The page's files (shipped as package data).
STATIC_DIR = Path(__file__).resolve().parents[1] / "static" / "dashboard"

router = APIRouter(tags=["dashboard"], include_in_schema=False)


@router.get("/")
def root() -> RedirectResponse:
    """The service's root opens the dashboard."""
    return RedirectResponse("/dashboard", status_code=307)


@router.get("/dashboard")
def dashboard() -> FileResponse:
    """The single page; its views (jobs, a job, a comparison) are ``#/…`` routes inside it."""
    # no-cache: after an upgrade the browser revalidates instead of running an old page against a new API.
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html", headers={"Cache-Control": "no-cache"})


def mount_dashboard(app: FastAPI) -> None:
    """Serve the page (``/dashboard``) and its assets (``/dashboard/static/…``) from ``app``."""
    app.include_router(router)
    app.mount("/dashboard/static", StaticFiles(directory=STATIC_DIR), name="dashboard-static")
