"""How uvicorn should serve the API: bounded request headers, and a deadline for them.

uvicorn's default HTTP parser (httptools) keeps reading a request's headers however large they grow
(50 MB were accepted) and however slowly they come. :class:`BoundedHttpToolsProtocol` is the same
protocol with two limits: headers larger than :data:`api.admission.MAX_HEADER_BYTES` get 431, headers
not complete :data:`HEADER_TIMEOUT_S` after the request began get 408; either closes the connection.

Pass :func:`uvicorn_options` to ``uvicorn.run`` (``python -m api`` does); the app checks header size
again (:mod:`api.admission`) for servers that are started without them.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from api.admission import MAX_HEADER_BYTES

#: Seconds a client may take to send a request's line and headers.
HEADER_TIMEOUT_S = 10.0


def _refusal(status: int, reason: str, message: str, code: str) -> bytes:
    body = json.dumps({"error": {"message": message, "type": "invalid_request_error", "param": None, "code": code}}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a size limit and a deadline on each request's headers."""

    _in_headers = False
    _header_bytes = 0
    _header_deadline: asyncio.TimerHandle | None = None

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_headers = True
        self._header_bytes = 0
        self._cancel_deadline()
        self._header_deadline = self.loop.call_later(HEADER_TIMEOUT_S, self._headers_too_slow)

    def on_headers_complete(self) -> None:
        self._in_headers = False
        self._cancel_deadline()
        super().on_headers_complete()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._in_headers:
            self._header_bytes += len(data)
            if self._header_bytes > MAX_HEADER_BYTES:
                self._refuse(
                    _refusal(
                        431,
                        "Request Header Fields Too Large",
                        f"The request's headers are larger than the limit of {MAX_HEADER_BYTES} bytes.",
                        "headers_too_large",
                    )
                )

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_deadline()
        super().connection_lost(exc)

    def _headers_too_slow(self) -> None:
        self._header_deadline = None
        if self._in_headers:
            message = f"The request's headers were not complete after {HEADER_TIMEOUT_S:g} s."
            self._refuse(_refusal(408, "Request Timeout", message, "request_timeout"))

    def _refuse(self, response: bytes) -> None:
        self._in_headers = False
        self._cancel_deadline()
        if not self.transport.is_closing():
            self.transport.write(response)
            self.transport.close()

    def _cancel_deadline(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None


def uvicorn_options() -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.run``/``uvicorn.Config`` that bound what a client may send."""
    return {"http": BoundedHttpToolsProtocol}
