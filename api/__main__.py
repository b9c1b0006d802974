"""``python -m api``: serve the API with uvicorn on the configured host and port (``RADIS_API_HOST``/``RADIS_API_PORT``)."""

from __future__ import annotations

import uvicorn

from api.server import uvicorn_options
from store.settings import get_settings


def main() -> None:
    """Run uvicorn with the app factory, headers bounded (:func:`api.server.uvicorn_options`)."""
    settings = get_settings()
    uvicorn.run("api.main:create_app", factory=True, host=settings.api_host, port=settings.api_port, **uvicorn_options())


if __name__ == "__main__":
    main()
