"""``X-Request-ID``: every request gets an id, returned in the answer's headers and put on its log lines.

A caller's own ``X-Request-ID`` is kept when it is well-formed (:data:`store.logs.REQUEST_ID_PATTERN`),
so a trace can cross a proxy or a client's retries; anything else is replaced by a fresh id. The id,
and the job id when the path names a job (``/v1/fine_tuning/jobs/<id>/…``), are set in the context
variables of :mod:`store.logs` while the request runs, so every line logged for it carries them.
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from store.logs import JOB_ID, REQUEST_ID, is_valid_request_id, new_request_id

HEADER = "X-Request-ID"
_HEADER_KEY = HEADER.lower().encode("latin-1")
#: The job a path names; read from the raw path because route parameters are known only inside the router.
_JOB_PATH = re.compile(r"^/v1/fine_tuning/jobs/(ftjob-[A-Za-z0-9_-]{1,64})(?:/|$)")


def request_id_of(scope: Scope) -> str:
    """The caller's well-formed ``X-Request-ID``, else a new id."""
    for key, value in scope.get("headers", ()):
        if key.lower() == _HEADER_KEY:
            text = bytes(value).decode("latin-1").strip()
            return text if is_valid_request_id(text) else new_request_id()
    return new_request_id()


class RequestIdMiddleware:
    """Pure ASGI (streams pass untouched); add it last so that it runs outermost and every answer,
    a 500 of the catch-all included, carries the header."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        match = _JOB_PATH.match(scope.get("path", ""))
        request_token = REQUEST_ID.set(request_id)
        job_token = JOB_ID.set(match.group(1) if match else None)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != _HEADER_KEY]
                headers.append((_HEADER_KEY, request_id.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            JOB_ID.reset(job_token)
            REQUEST_ID.reset(request_token)
