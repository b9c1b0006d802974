"""The one place where exceptions become OpenAI's error envelope.

Every error response has the body ``{"error": {"message", "type", "param", "code"}}`` (extra keys such
as ``details`` may follow), so OpenAI's clients raise their usual exceptions. Store errors keep their
meaning (:class:`~store.errors.NotFound` → 404, …); anything unexpected is a 500 whose body says nothing
about the cause: the details go to the log, scrubbed of secrets, with an id that the body repeats.
"""

from __future__ import annotations

import logging
import re
import secrets
import traceback
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DisconnectionError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from radis_core.settings import field_path
from store.artifacts import TooLarge
from store.errors import FileInUse, IdempotencyConflict, InvalidTransition, NotFound, QuotaExceeded

logger = logging.getLogger("api.errors")

#: OpenAI's error ``type`` values used here.
INVALID_REQUEST = "invalid_request_error"
AUTHENTICATION = "authentication_error"
RATE_LIMIT = "rate_limit_error"
SERVER_ERROR = "server_error"

_URL_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/\s@]+@")
_API_KEY = re.compile(r"sk-radis-[A-Za-z0-9_-]+")


def scrub(text: str) -> str:
    """``text`` with URL credentials and API keys masked: what may go into a log line."""
    text = _URL_USERINFO.sub(r"\g<scheme>***@", text)
    return _API_KEY.sub("sk-radis-***", text)


class APIError(Exception):
    """An error the API answers on purpose, with OpenAI's fields. ``details`` adds a ``details`` key."""

    def __init__(
        self,
        status_code: int,
        message: str,
        *,
        type: str = INVALID_REQUEST,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
        details: Any = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.headers = headers
        self.details = details


def error_body(
    message: str, *, type: str, param: str | None = None, code: str | None = None, details: Any = None
) -> dict[str, Any]:
    """OpenAI's error envelope."""
    # A caller may paste a key into any field that an error message quotes back; no answer repeats one.
    error: dict[str, Any] = {"message": scrub(message), "type": type, "param": param, "code": code}
    if details is not None:
        error["details"] = details
    return {"error": error}


def error_response(
    status_code: int,
    message: str,
    *,
    type: str = INVALID_REQUEST,
    param: str | None = None,
    code: str | None = None,
    headers: dict[str, str] | None = None,
    details: Any = None,
) -> JSONResponse:
    """A JSON response carrying the envelope."""
    body = error_body(message, type=type, param=param, code=code, details=details)
    return JSONResponse(body, status_code=status_code, headers=headers)


class BodyTooLarge(StarletteHTTPException):
    """The body passed its route's limit while being read (413). An ``HTTPException`` so that FastAPI's
    body reading lets it through unchanged (it turns any other error into a 400)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body is larger than the limit of {limit} bytes.")
        self.limit = limit


class BodyTimeout(StarletteHTTPException):
    """The client sent its body too slowly (408); see :mod:`api.admission`."""

    def __init__(self, reason: str) -> None:
        super().__init__(408, f"The request body arrived too slowly ({reason}); send it again without pauses.")


def body_too_large_response(exc: BodyTooLarge) -> JSONResponse:
    """413 ``request_too_large``; the connection closes (the rest of the body is not read)."""
    return error_response(413, str(exc.detail), code="request_too_large", headers={"Connection": "close"})


# --- request validation ---------------------------------------------------------------------------

#: Location roots FastAPI puts in front of a field path; they are not part of the parameter's name.
_LOCATION_ROOTS = {"body", "query", "path", "header", "cookie"}


def _param_path(loc: tuple[Any, ...] | list[Any]) -> str | None:
    parts = list(loc)
    if parts and parts[0] in _LOCATION_ROOTS:
        parts = parts[1:]
    return field_path(parts) or None


def _validation_code(error_type: str, param: str | None) -> str:
    if error_type == "missing":
        return "missing_required_parameter"
    if error_type == "extra_forbidden":
        return "unknown_parameter"
    if param and (param.startswith("hyperparameters.") or ".hyperparameters." in param):
        return "invalid_hyperparameter"
    return "invalid_value"


def _validation_message(error: dict[str, Any], param: str | None, errors: list[dict[str, Any]]) -> str:
    kind = error.get("type", "")
    if kind == "json_invalid":
        return "We could not parse the JSON body of your request: it is not valid JSON."
    if kind == "missing":
        return f"Missing required parameter: '{param}'."
    if kind == "extra_forbidden":
        return f"Unrecognized request argument supplied: '{param}'."
    # pydantic's message explains the value's problem, every alternative of an "int or 'auto'" once;
    # the input itself is not echoed (it could be a secret).
    same = [e for e in errors if _param_path(e.get("loc", ())) == param] or [error]
    reason = " or ".join(dict.fromkeys(str(e.get("msg", "invalid value")).removeprefix("Value error, ") for e in same))
    return f"Invalid value for '{param}': {reason}." if param else reason


def validation_error_response(exc: RequestValidationError) -> JSONResponse:
    """400 naming the first bad field (dotted path, e.g. ``method.radis.hyperparameters``); all of them in ``details``."""
    errors = list(exc.errors())
    if not errors:
        return error_response(400, "Invalid request.", code="invalid_value")
    details: list[dict[str, Any]] = []
    for error in errors:
        param = None if error.get("type") == "json_invalid" else _param_path(error.get("loc", ()))
        if details and any(d["param"] == param for d in details):
            continue  # the other alternatives of a union: already in that field's message
        details.append({"param": param, "message": _validation_message(error, param, errors)})
    first = errors[0]
    return error_response(
        400,
        details[0]["message"],
        param=details[0]["param"],
        code="invalid_json"
        if first.get("type") == "json_invalid"
        else _validation_code(first.get("type", ""), details[0]["param"]),
        details=details if len(details) > 1 else None,
    )


# --- handlers -------------------------------------------------------------------------------------


async def _api_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, APIError)
    return error_response(
        exc.status_code, exc.message, type=exc.type, param=exc.param, code=exc.code, headers=exc.headers, details=exc.details
    )


async def _request_validation(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return validation_error_response(exc)


#: FastAPI's ``HTTPException`` detail when decoding the JSON body raised something other than a JSON error.
_FASTAPI_BODY_PARSE_ERROR = "There was an error parsing the body"


async def _http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404 and exc.detail == "Not Found":  # the router's own "no such route"
        message = f"Unknown request URL: {request.method} {request.url.path}."
    elif exc.status_code == 405:
        message = f"Method {request.method} is not allowed for {request.url.path}."
    elif exc.status_code == 400 and exc.detail == _FASTAPI_BODY_PARSE_ERROR:
        # FastAPI's answer when the JSON decoder itself gives up (nesting too deep, an integer with
        # thousands of digits): the same envelope as any other body that is not JSON we can read.
        return error_response(
            400,
            "We could not parse the JSON body of your request: it is nested too deeply or holds a number too large to read.",
            code="invalid_json",
        )
    else:
        message = str(exc.detail)
    headers = dict(exc.headers) if exc.headers else None
    code = "unknown_url" if message.startswith("Unknown request URL") else None
    return error_response(exc.status_code, message, code=code, headers=headers)


async def _not_found(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, NotFound)
    return error_response(404, str(exc), param=exc.param, code="not_found")


async def _idempotency_conflict(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, IdempotencyConflict)
    return error_response(409, str(exc), param="Idempotency-Key", code="idempotency_key_reused")


async def _file_in_use(_: Request, exc: Exception) -> JSONResponse:
    return error_response(409, str(exc), code="file_in_use")


async def _invalid_transition(_: Request, exc: Exception) -> JSONResponse:
    return error_response(409, str(exc), code="invalid_state")


#: ``Retry-After`` of a 429 for a project quota: a job must finish, or a file be deleted, before a retry helps.
QUOTA_RETRY_AFTER_S = 60


async def _quota_exceeded(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, QuotaExceeded)
    return error_response(
        429, str(exc), type=RATE_LIMIT, code="quota_exceeded", headers={"Retry-After": str(QUOTA_RETRY_AFTER_S)}
    )


async def _body_too_large(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, BodyTooLarge)
    return body_too_large_response(exc)


async def _body_timeout(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, BodyTimeout)
    logger.info("request body too slow during %s %s", request.method, request.url.path)
    return error_response(408, str(exc.detail), code="request_timeout", headers={"Connection": "close"})


async def _too_large(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, TooLarge)
    return error_response(
        413, f"The file is larger than the limit of {exc.max_bytes} bytes.", param="file", code="file_too_large"
    )


def first_line(exc: BaseException) -> str:
    """The exception's class and the first line of its message, scrubbed: enough for a log line."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {scrub(text.splitlines()[0])}" if text else type(exc).__name__


async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    # Connection failures, and transient conflicts (serialization failures, lock timeouts) alike: retry later.
    logger.warning("database unavailable during %s %s: %s", request.method, request.url.path, first_line(exc))
    return error_response(
        503,
        "The service's database is unavailable or busy right now; please retry shortly.",
        type=SERVER_ERROR,
        code="database_unavailable",
        headers={"Retry-After": "5"},
    )


async def _unusable_value(request: Request, exc: Exception) -> JSONResponse:
    # The database refused a value that came from the request (Postgres text cannot hold NUL, for
    # example, in an id of the path, a cursor or a body field): the caller's mistake, not the server's.
    logger.info("value refused by the database during %s %s: %s", request.method, request.url.path, first_line(exc))
    return error_response(
        400,
        "A value in your request cannot be used: it contains a character (such as NUL) or a number the service cannot store or look up.",
        code="invalid_value",
    )


async def _client_disconnected(request: Request, exc: Exception) -> JSONResponse:
    # Nobody reads this answer; it only keeps a normal hang-up out of the error log.
    logger.info("client disconnected during %s %s", request.method, request.url.path)
    return error_response(400, "The client disconnected before the request body was complete.", code="client_disconnected")


class CatchAllMiddleware:
    """Answer any exception that no handler took with a generic 500 envelope, and log it scrubbed.

    Starlette's own last resort re-raises after answering, so the server would log the raw traceback
    (whose messages may hold a URL with a password); this one does not. An error after the response
    started cannot be answered any more and is re-raised.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            error_id = secrets.token_hex(8)
            trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            logger.error("unhandled error %s during %s %s:\n%s", error_id, scope.get("method"), scope.get("path"), scrub(trace))
            if started:
                raise
            response = error_response(
                500,
                f"The server had an error while processing your request (error id {error_id}).",
                type=SERVER_ERROR,
                code="internal_error",
            )
            await response(scope, receive, send)


def install_error_handlers(app: FastAPI) -> None:
    """Register every handler on ``app``, and the catch-all middleware (add it before other middleware,
    so that they run outside it and see its 500s)."""
    app.add_exception_handler(APIError, _api_error)
    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(StarletteHTTPException, _http_exception)
    app.add_exception_handler(NotFound, _not_found)
    app.add_exception_handler(IdempotencyConflict, _idempotency_conflict)
    app.add_exception_handler(InvalidTransition, _invalid_transition)
    app.add_exception_handler(QuotaExceeded, _quota_exceeded)
    app.add_exception_handler(FileInUse, _file_in_use)
    app.add_exception_handler(TooLarge, _too_large)
    app.add_exception_handler(BodyTooLarge, _body_too_large)
    app.add_exception_handler(BodyTimeout, _body_timeout)
    app.add_exception_handler(ClientDisconnect, _client_disconnected)
    app.add_exception_handler(DataError, _unusable_value)
    for db_error in (OperationalError, DisconnectionError, PoolTimeoutError):
        app.add_exception_handler(db_error, _database_unavailable)
    app.add_middleware(CatchAllMiddleware)
