"""``python -m api``: serve the API with uvicorn on the configured host and port (``RADIS_API_HOST``/``RADIS_API_PORT``)."""

from __future__ import annotations

import uvicorn

from store.settings import get_settings


def main() -> None:
    """Run uvicorn with the app factory."""
    settings = get_settings()
    uvicorn.run("api.main:create_app", factory=True, host=settings.api_host, port=settings.api_port)


if __name__ == "__main__":
    main()
