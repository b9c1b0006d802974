"""Admission: what a request must pass before the app reads its body or gives it a database session.

:class:`AdmissionMiddleware` (pure ASGI, so uploads and event streams pass through untouched) does, in
this order, before the route runs:

1. headers larger than :data:`MAX_HEADER_BYTES` in all: 431 (the server itself is configured to stop
   reading them earlier, :mod:`api.server`; this is the check for servers that are not);
2. on ``/v1``: a client address that failed too many key checks gets 429 with ``Retry-After`` without a
   lookup (:class:`api.rate_limits.AddressBlocks`); else the ``Authorization: Bearer`` key is looked up (a short session of its own, through the
   app's :class:`~api.deps.DatabaseGate`) and 401 answers a missing or unknown one **before a byte of
   the body is read**; the key's project is handed to the route (:func:`api.deps.get_project_from_key`);
3. the key's request rate (a token bucket per key, shared by the API processes through Redis when there
   is one, :class:`api.rate_limits.SharedBuckets`): 429 with ``Retry-After``;
4. an upload (``POST /v1/files``) takes one of its project's
   ``max_concurrent_uploads_per_project`` slots, or 429 with ``Retry-After``;
5. a declared ``Content-Length`` over the route's limit: 413 without reading.

While the route reads the body, the body is counted (past the limit: :class:`BodyTooLarge`, 413) and
timed: a body that sends nothing for ``body_idle_timeout_s``, or arrives slower on average than
``body_min_bytes_per_s`` (after a grace of ``body_idle_timeout_s``), gets :class:`BodyTimeout` (408). Only the
time spent waiting for the client counts, not the time the route took to store what came.

Rate buckets are shared across API processes through Redis (:mod:`api.rate_limits`); upload slots are
counted in this process.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field

import anyio
from sqlalchemy.exc import DisconnectionError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.deps import AUTH_STATE, AppState, Authenticated
from api.errors import (
    AUTHENTICATION,
    RATE_LIMIT,
    SERVER_ERROR,
    BodyTimeout,
    BodyTooLarge,
    body_too_large_response,
    error_response,
)
from api.rate_limits import AddressBlocks, SharedBuckets, namespace_for, shared_redis_url
from store.db import autocommit_sessionmaker, session_scope
from store.keys import authenticate_with_project
from store.settings import Settings

#: Largest request line + headers accepted, in bytes (names and values added up).
MAX_HEADER_BYTES = 32 * 1024
#: The route that streams uploads (its own limit, ``max_upload_bytes``, is enforced while it reads).
UPLOAD_ROUTE = ("POST", "/v1/files")
#: The route that streams a part of an Uploads API upload (its limit, the part size, enforced while it reads).
UPLOAD_PART_ROUTE = re.compile(r"^/v1/uploads/[^/]+/parts$")
#: ``Retry-After`` of a refused upload: uploads end (or time out) on their own.
UPLOAD_RETRY_AFTER_S = 5


@dataclass
class UploadSlots:
    """Uploads in progress per project, at most ``limit`` each."""

    limit: int
    _active: dict[str, int] = field(default_factory=dict)

    def acquire(self, project_id: str) -> bool:
        if self._active.get(project_id, 0) >= self.limit:
            return False
        self._active[project_id] = self._active.get(project_id, 0) + 1
        return True

    def release(self, project_id: str) -> None:
        left = self._active.get(project_id, 1) - 1
        if left > 0:
            self._active[project_id] = left
        else:
            self._active.pop(project_id, None)

    def active(self, project_id: str) -> int:
        return self._active.get(project_id, 0)


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key.lower() == name:
            return bytes(value)
    return None


def _has_body(scope: Scope) -> bool:
    length = _header(scope, b"content-length")
    return _header(scope, b"transfer-encoding") is not None or (length is not None and length.strip() not in (b"", b"0"))


def _bearer(scope: Scope) -> str | None:
    raw = _header(scope, b"authorization")
    if raw is None:
        return None
    scheme, _, token = raw.decode("latin-1").strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def _routed(scope: Scope) -> bool:
    """Whether a route of the app takes this method and path (the router answers the rest, bodiless)."""
    app = scope.get("app")
    routes = getattr(getattr(app, "router", None), "routes", None)
    if routes is None:
        return True  # no router to ask: keyed, to be safe
    return any(route.matches(scope)[0] is Match.FULL for route in routes)


def _client_address(scope: Scope) -> str:
    """The client's address as the server saw it (behind a proxy: run uvicorn with ``--forwarded-allow-ips``
    so that this is the caller's, not the proxy's)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def _too_many_failed_keys(wait: float) -> JSONResponse:
    return error_response(
        429,
        "Too many requests with invalid API keys from this address; retry after the time in Retry-After.",
        type=RATE_LIMIT,
        code="too_many_invalid_keys",
        headers={"Retry-After": str(max(1, math.ceil(wait)))},
    )


def _unauthorized(message: str, code: str) -> JSONResponse:
    return error_response(401, message, type=AUTHENTICATION, code=code, headers={"WWW-Authenticate": "Bearer"})


class AdmissionMiddleware:
    """See the module docstring."""

    def __init__(self, app: ASGIApp, state: AppState) -> None:
        self.app = app
        self.state = state
        settings = state.settings
        redis_url = shared_redis_url(settings.rate_limit_redis_url, settings.broker_url)
        namespace = namespace_for(settings.database_url)
        self.rate_limiter = SharedBuckets(settings.rate_limit_per_s, settings.rate_limit_burst, redis_url, namespace)
        self.address_blocks = AddressBlocks(
            SharedBuckets(settings.invalid_keys_per_ip_per_s, settings.invalid_keys_per_ip_burst, redis_url, namespace)
        )
        self.uploads = UploadSlots(settings.max_concurrent_uploads_per_project)
        # One joined SELECT outside a transaction: no BEGIN/COMMIT round trips for the check every request pays.
        self._key_sessions = autocommit_sessionmaker(state.session_factory)

    def _lookup(self, token: str) -> Authenticated | None:
        with session_scope(self._key_sessions) as session:
            found = authenticate_with_project(session, token)
            if found is None:
                return None
            key, project = found
            return Authenticated(key_id=key.id, project=project)

    async def _authenticate(self, token: str) -> Authenticated | None:
        assert self.state.db_gate is not None
        async with self.state.db_gate.slot():
            return await run_in_threadpool(self._lookup, token)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal, project_id = await self._admit(scope)
        if refusal is not None:
            if _has_body(scope):
                refusal.headers["Connection"] = "close"  # the body is never read: uvicorn drops it with the connection
            await refusal(scope, receive, send)
            return
        settings = self.state.settings
        is_upload = (scope["method"], scope["path"]) == UPLOAD_ROUTE or (
            scope["method"] == "POST" and UPLOAD_PART_ROUTE.match(scope["path"]) is not None
        )
        body_limit = None if is_upload else settings.max_json_body_bytes
        declared = _header(scope, b"content-length")
        if body_limit is not None and declared is not None and declared.isdigit() and int(declared) > body_limit:
            await body_too_large_response(BodyTooLarge(body_limit))(scope, receive, send)
            return
        if is_upload and project_id is not None:
            if not self.uploads.acquire(project_id):
                await error_response(
                    429,
                    f"This project already has {self.uploads.limit} uploads in progress; wait for one to finish.",
                    type=RATE_LIMIT,
                    code="too_many_uploads",
                    headers={"Retry-After": str(UPLOAD_RETRY_AFTER_S)},
                )(scope, receive, send)
                return
            try:
                await self.app(scope, _timed_body(receive, settings, body_limit), send)
            finally:
                self.uploads.release(project_id)
            return
        await self.app(scope, _timed_body(receive, settings, body_limit), send)

    async def _admit(self, scope: Scope) -> tuple[JSONResponse | None, str | None]:
        """A refusal to send instead of running the app (or ``None``), and the caller's project id."""
        size = len(scope.get("raw_path") or scope["path"]) + len(scope.get("query_string") or b"")
        size += sum(len(name) + len(value) for name, value in scope["headers"])
        if size > MAX_HEADER_BYTES:
            return error_response(
                431,
                f"The request's headers are larger than the limit of {MAX_HEADER_BYTES} bytes.",
                code="headers_too_large",
                headers={"Connection": "close"},
            ), None
        path = scope["path"]
        if not (path == "/v1" or path.startswith("/v1/")) or not _routed(scope):
            return None, None  # not a keyed route: an unknown URL or method is the router's 404/405
        address = _client_address(scope)
        blocked = self.address_blocks.blocked_for(address)
        if blocked > 0:
            return _too_many_failed_keys(blocked), None
        token = _bearer(scope)
        if token is None:
            return _unauthorized(
                "You didn't provide an API key. Send it in the Authorization header: 'Authorization: Bearer <key>'.",
                "missing_api_key",
            ), None
        try:
            auth = await self._authenticate(token)
        except (OperationalError, DisconnectionError, PoolTimeoutError):
            return error_response(
                503,
                "The service's database is unavailable or busy right now; please retry shortly.",
                type=SERVER_ERROR,
                code="database_unavailable",
                headers={"Retry-After": "5"},
            ), None
        if auth is None:
            blocked = await self.address_blocks.failed(address)
            if blocked > 0:
                return _too_many_failed_keys(blocked), None
            return _unauthorized("Incorrect or revoked API key provided.", "invalid_api_key"), None
        wait = await self.rate_limiter.take("key:" + auth.key_id)
        if wait > 0:
            return error_response(
                429,
                f"Rate limit reached for this API key ({self.rate_limiter.rate:g} requests per second); retry after the"
                " time in Retry-After.",
                type=RATE_LIMIT,
                code="rate_limit_exceeded",
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            ), None
        scope.setdefault("state", {})[AUTH_STATE] = auth
        return None, auth.project.id


def _timed_body(receive: Receive, settings: Settings, limit: int | None) -> Receive:
    """``receive`` that counts the body against ``limit`` and times the client (see the module docstring)."""
    idle_s = settings.body_idle_timeout_s
    min_rate = settings.body_min_bytes_per_s
    received = 0
    waited = 0.0
    done = False

    async def timed_receive() -> Message:
        nonlocal received, waited, done
        if done:  # the body is complete: later receives wait for a disconnect, untimed
            return await receive()
        budget = idle_s
        if min_rate > 0:
            budget = min(budget, idle_s + received / min_rate - waited)
        if budget <= 0:
            raise BodyTimeout(f"less than {min_rate} bytes per second")
        started = time.monotonic()
        try:
            with anyio.fail_after(budget):
                message = await receive()
        except TimeoutError:
            reason = f"nothing for {idle_s:g} s" if budget >= idle_s else f"less than {min_rate} bytes per second"
            raise BodyTimeout(reason) from None
        finally:
            waited += time.monotonic() - started
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if limit is not None and received > limit:
                raise BodyTooLarge(limit)
            done = not message.get("more_body", False)
        else:
            done = True
        return message

    return timed_receive
