"""Security headers on every response (pure ASGI, so streamed bodies pass untouched).

The dashboard is one page of our own scripts and styles (``api/static/dashboard``), and it keeps the
caller's key in ``sessionStorage``: its policy allows only this origin's files, no inline script, no
framing, and sends no referrer. API answers (JSON, downloads, event streams) get a policy that allows
nothing at all, so a downloaded file opened in a browser cannot run either.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: The dashboard's policy: its own scripts, styles and images (the charts are inline SVG), and calls to
#: this origin only.
DASHBOARD_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
#: Everything else: nothing may load, run or frame.
API_CSP = "default-src 'none'; frame-ancestors 'none'; sandbox"

COMMON_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}


def policy_for(path: str) -> str:
    """The ``Content-Security-Policy`` of a response to ``path``."""
    # The API's docs page (api/routes/docs.py) runs its local scripts under the dashboard's policy.
    pages = ("/dashboard", "/docs")
    return DASHBOARD_CSP if path in pages or path.startswith(tuple(p + "/" for p in pages)) else API_CSP


class SecurityHeadersMiddleware:
    """Adds :data:`COMMON_HEADERS` and a ``Content-Security-Policy`` to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = policy_for(scope["path"])

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in COMMON_HEADERS.items():
                    headers.setdefault(name, value)
                headers.setdefault("Content-Security-Policy", policy)
            await send(message)

        await self.app(scope, receive, send_with_headers)
