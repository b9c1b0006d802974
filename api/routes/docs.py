"""``/docs``: Swagger UI for ``/openapi.json``, served from local files only (it works offline).

The scripts and styles come from the ``fastapi-offline`` wheel (its ``static`` folder: Swagger UI 5,
which renders OpenAPI 3.1), never from a CDN; the page's own start-up code is a file as well, so the
page runs under the dashboard's Content-Security-Policy (``script-src 'self'``, no inline script;
:mod:`api.security_headers`). ``validatorUrl: null`` keeps Swagger UI from calling its public validator.
Without the wheel the routes are not mounted and ``/docs`` is a 404. ReDoc, also in the wheel, is not
served: it injects inline styles, which that policy refuses.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

#: Where the page's assets are mounted.
ASSETS_PATH = "/docs/static"

_PAGE = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>RaDis fine-tuning service: API</title>
<link rel="stylesheet" href="{ASSETS_PATH}/swagger-ui.css">
<link rel="icon" type="image/png" href="{ASSETS_PATH}/favicon.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{ASSETS_PATH}/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>
"""

_INIT = """window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
  deepLinking: true,
  validatorUrl: null,
  persistAuthorization: false
});
"""

router = APIRouter(include_in_schema=False)


def assets_dir() -> Path | None:
    """The ``static`` folder of the installed ``fastapi-offline`` wheel, or None without it."""
    spec = importlib.util.find_spec("fastapi_offline")
    if spec is None or spec.origin is None:
        return None
    folder = Path(spec.origin).parent / "static"
    return folder if (folder / "swagger-ui-bundle.js").is_file() else None


@router.get("/docs")
def docs_page() -> HTMLResponse:
    """Swagger UI's page (public, like ``/openapi.json``: it holds no data; calls need a key)."""
    return HTMLResponse(_PAGE, headers={"Cache-Control": "no-cache"})


@router.get("/docs/init.js")
def docs_init() -> Response:
    """Swagger UI's start-up code (a file, not an inline script: see the module docstring)."""
    return Response(_INIT, media_type="text/javascript", headers={"Cache-Control": "no-cache"})


def mount_docs(app: FastAPI) -> bool:
    """Serve ``/docs`` and its assets when the wheel is installed; returns whether they are served."""
    folder = assets_dir()
    if folder is None:
        return False
    app.include_router(router)
    app.mount(ASSETS_PATH, StaticFiles(directory=folder), name="docs-static")
    return True
