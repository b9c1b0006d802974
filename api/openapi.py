"""The OpenAPI document, made to say what the API really does (one post-processing step over FastAPI's).

FastAPI's own document misleads a generated client in four ways, each fixed here for every route,
present and future, without touching the routes:

- **Errors.** FastAPI advertises 422 ``HTTPValidationError`` on every route with parameters; this API
  answers a bad request with 400 and OpenAI's envelope (:mod:`api.errors`). Every 422 goes; each
  operation lists the error statuses it can answer, all with :class:`api.schemas.ErrorEnvelope`: 400
  (a bad parameter or body), 401 (no or a bad key, ``/v1`` only), 404 (an id in the path that the
  project does not have), 408/413 (a body too slow or too large, operations that take one), 409 (the
  conflicts in :data:`CONFLICTS`), 416 (a range outside a download), 429 (the key's rate, a project's
  quota or upload slots; with ``Retry-After``) and 503 (the database is unavailable; with ``Retry-After``).
- **Streamed bodies.** ``POST /v1/files`` reads its multipart body as a stream, so FastAPI sees no
  body parameter; :data:`STREAMED_BODIES` declares it (a route may instead declare its own with
  ``openapi_extra``).
- **Untyped objects.** A job's ``method`` and ``hyperparameters``, a checkpoint's ``metrics`` and the
  evaluation report were bare ``object``s; their schemas come from the one settings contract
  (:mod:`radis_core.settings`, pydantic and torch-free) and the report's sections.
- **Server-Sent Events.** ``…/events/stream`` names each message's ``event:`` and the JSON its
  ``data:`` carries (:data:`SSE_EVENT_SCHEMA`, one message's fields; ``data`` holds JSON text).

The ``/v1`` operations also get the bearer-key security scheme, so generated clients send the key.
"""

from __future__ import annotations

import copy
import re
from collections import Counter
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from api.schemas import ErrorEnvelope
from radis_core.settings import METHOD_SETTINGS, METHODS, Hyperparameters
from store.result_files import UPLOAD_PURPOSES

SCHEMAS = "#/components/schemas/"
ENVELOPE_REF = {"$ref": SCHEMAS + "ErrorEnvelope"}
BEARER = "bearerAuth"

#: What each error status means on this API (the envelope's ``code`` names the case).
ERROR_DESCRIPTIONS = {
    400: "Bad request: OpenAI's error envelope; `param` names the first bad field, `details` lists all of them.",
    401: "No API key, or an unknown or revoked one (`invalid_api_key`).",
    404: "No such object in the caller's project (`not_found`, `result_not_available`).",
    408: "The request body arrived too slowly (`request_timeout`).",
    409: "Conflict with the object's state.",
    413: "The request body is larger than this route's limit (`request_too_large`, `file_too_large`).",
    416: "The requested byte range is outside the content.",
    429: "The key's request rate, the project's quota or its concurrent uploads (`rate_limit_exceeded`, "
    "`quota_exceeded`, `too_many_uploads`); retry after `Retry-After` seconds.",
    500: "The stored result could not be read (`report_corrupt`, `rationales_corrupt`, …).",
    503: "The service's database is unavailable or busy (`database_unavailable`); retry after `Retry-After` seconds.",
}
RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}}}

#: 409s by operation: ``(method, path template) → description``. Only operations present are touched.
CONFLICTS = {
    ("post", "/v1/fine_tuning/jobs"): "The Idempotency-Key was used before with another body (`idempotency_key_reused`).",
    ("delete", "/v1/files/{file_id}"): "A queued or running job uses the file (`file_in_use`).",
    ("post", "/v1/fine_tuning/jobs/{job_id}/pause"): "The job has finished: it cannot be paused (`invalid_state`).",
    ("post", "/v1/fine_tuning/jobs/{job_id}/resume"): "The job has finished: it cannot be resumed (`invalid_state`).",
    ("delete", "/v1/models/{model_id}"): "The model cannot be deleted now (`invalid_state`).",
    (
        "post",
        "/v1/uploads/{upload_id}/parts",
    ): "The upload is no longer pending: completed, cancelled or expired (`invalid_state`).",
    ("post", "/v1/uploads/{upload_id}/complete"): "The upload is no longer pending (`invalid_state`).",
    ("post", "/v1/uploads/{upload_id}/cancel"): "The upload is no longer pending (`invalid_state`).",
}
#: 500s by operation (results read back from storage).
STORED_RESULTS = {
    ("get", "/v1/fine_tuning/jobs/{job_id}/report"),
    ("get", "/v1/fine_tuning/jobs/{job_id}/rationales"),
}

#: Bodies that routes read as streams, by operation: ``(method, path template) → requestBody``.
STREAMED_BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("post", "/v1/files"): {
        "required": True,
        "content": {"multipart/form-data": {"schema": {"$ref": SCHEMAS + "FileUpload"}}},
    },
    ("post", "/v1/uploads/{upload_id}/parts"): {
        "required": True,
        "content": {"multipart/form-data": {"schema": {"$ref": SCHEMAS + "UploadPartData"}}},
    },
}


def _sse_data(ref: str) -> dict[str, Any]:
    return {"type": "string", "contentMediaType": "application/json", "contentSchema": {"$ref": SCHEMAS + ref}}


#: One message of the SSE stream, as its fields (``event:``, ``id:``, ``data:``); ``data`` is the JSON
#: text of the object named by ``contentSchema`` (what OpenAPI 3.2 calls an ``itemSchema``).
SSE_EVENT_SCHEMA: dict[str, Any] = {
    "title": "JobStreamMessage",
    "description": (
        "One message of `GET /v1/fine_tuning/jobs/{job_id}/events/stream` (text/event-stream). `event: message` and "
        "`event: metrics` carry a job event (`id:` is its id, for `Last-Event-ID`); the last message is `event: end` "
        "with the finished job, or `event: error` with OpenAI's error envelope when the key was revoked."
    ),
    "type": "object",
    "required": ["event", "data"],
    "oneOf": [
        {
            "required": ["id"],
            "properties": {
                "event": {"type": "string", "enum": ["message", "metrics"]},
                "id": {"type": "string", "description": "The event's id (ftevent-…)."},
                "data": _sse_data("JobEventObject"),
            },
        },
        {"properties": {"event": {"const": "end"}, "data": _sse_data("FineTuningJob")}},
        {"properties": {"event": {"const": "error"}, "data": _sse_data("ErrorEnvelope")}},
    ],
}

#: Keywords that bound a request's values; a response reports values (a resolved learning rate is
#: the asked rate times the multiplier), so its schemas keep the types and drop the bounds.
_BOUNDS = {
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "default",
}


def _unbounded(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _unbounded(v) for k, v in schema.items() if k not in _BOUNDS}
    if isinstance(schema, list):
        return [_unbounded(v) for v in schema]
    return schema


def _settings_schemas() -> dict[str, Any]:
    """Component schemas of the settings contract (every method's sections), as FastAPI would name them."""
    models: list[tuple[type[BaseModel], JsonSchemaMode]] = [(model, "validation") for model in METHOD_SETTINGS.values()]
    _, top = models_json_schema(models, ref_template=SCHEMAS + "{model}")
    return dict(top.get("$defs", {}))


def _job_schemas() -> dict[str, Any]:
    """``JobHyperparameters``, ``JobMethod`` (and one ``Job<Method>Settings`` per method)."""
    hyper = _unbounded(Hyperparameters.model_json_schema())
    hyper.pop("additionalProperties", None)
    hyper.update(
        title="JobHyperparameters",
        description=(
            "The hyperparameters the job runs with: once the worker resolved them, every value is concrete "
            "(`learning_rate` is the peak rate, the multiplier applied); before, what was asked with `auto` "
            "where nothing was."
        ),
    )
    schemas: dict[str, Any] = {"JobHyperparameters": hyper}
    settings = _settings_schemas()
    method_props: dict[str, Any] = {"type": {"type": "string", "enum": list(METHODS)}}
    for method, model in METHOD_SETTINGS.items():
        name = f"Job{model.__name__}"
        sections = {
            section: {"$ref": SCHEMAS + "JobHyperparameters"}
            if section == "hyperparameters"
            else _section_ref(settings, section, model)
            for section in model.model_fields
        }
        schemas[name] = {
            "title": name,
            "type": "object",
            "description": f"`method.{method}` of a job: its hyperparameters, and each other section the caller set.",
            "required": ["hyperparameters"],
            "properties": sections,
        }
        method_props[method] = {"$ref": SCHEMAS + name}
    schemas["JobMethod"] = {
        "title": "JobMethod",
        "type": "object",
        "description": "OpenAI's `method` object: the type, and that method's settings under a key of the same name.",
        "required": ["type"],
        "properties": method_props,
    }
    return schemas


def _section_ref(settings: dict[str, Any], section: str, model: Any) -> dict[str, Any]:
    annotation = model.model_fields[section].annotation
    name = getattr(annotation, "__name__", "")
    return {"$ref": SCHEMAS + name} if name in settings else {"type": "object"}


def _result_schemas() -> dict[str, Any]:
    """``CheckpointMetrics``, ``EvaluationReport`` and ``FileUpload``."""
    number = {"type": ["number", "null"]}
    comparison = {
        "type": "object",
        "description": "A score of the base model and of the tuned one, their difference and its paired-bootstrap interval.",
        "properties": {
            "base": number,
            "tuned": number,
            "delta": number,
            "interval": {
                "type": ["object", "null"],
                "properties": {"low": {"type": "number"}, "high": {"type": "number"}, "verdict": {"type": "string"}},
            },
        },
    }
    section = {"type": "object", "additionalProperties": True}
    return {
        "CheckpointMetrics": {
            "title": "CheckpointMetrics",
            "type": "object",
            "description": "The training numbers at the checkpoint's step (null where a value was not finite).",
            "required": ["step"],
            "properties": {
                "step": {"type": "integer"},
                "train_loss": number,
                "train_mean_token_accuracy": number,
                "valid_loss": number,
                "valid_mean_token_accuracy": number,
                "full_valid_loss": number,
                "full_valid_mean_token_accuracy": number,
                "total_steps": {"type": ["integer", "null"]},
                "learning_rate": number,
                "tokens_per_second": number,
                "step_seconds": number,
                "eta_seconds": number,
            },
            "additionalProperties": {"type": ["number", "integer", "string", "null"]},
        },
        "ScoreComparison": comparison,
        "EvaluationReport": {
            "title": "EvaluationReport",
            "type": "object",
            "description": "Translation quality and general-ability retention of the base and the tuned model (radis_core.evaluation.report).",
            "required": ["meta", "translation", "retention", "rationales", "training", "timings"],
            "properties": {
                "meta": {**section, "description": "Model, method, languages, sizes."},
                "translation": {
                    **section,
                    "description": "BLEU and chrF++ (and COMET when it ran) on the held-out pairs, base vs tuned.",
                    "properties": {
                        "bleu": {"$ref": SCHEMAS + "ScoreComparison"},
                        "chrf": {"$ref": SCHEMAS + "ScoreComparison"},
                        "comet": section,
                        "samples": {"type": "array", "items": section},
                    },
                },
                "retention": {**section, "description": "Probe scores base vs tuned, per benchmark and overall."},
                "rationales": {**section, "description": "What the teacher generated and what was kept."},
                "training": {**section, "description": "Steps, tokens and the loss curve."},
                "timings": {**section, "description": "Seconds per stage."},
            },
            "additionalProperties": True,
        },
        "FileUpload": {
            "title": "FileUpload",
            "type": "object",
            "required": ["file", "purpose"],
            "properties": {
                "file": {
                    "type": "string",
                    "format": "binary",
                    "description": "The corpus (JSONL, chat JSONL, TSV or CSV; the filename's extension picks the format).",
                },
                "purpose": {"type": "string", "enum": list(UPLOAD_PURPOSES)},
            },
        },
        "UploadPartData": {
            "title": "UploadPartData",
            "type": "object",
            "required": ["data"],
            "properties": {"data": {"type": "string", "format": "binary", "description": "The part's bytes (at most 64 MiB)."}},
        },
        "JobStreamMessage": SSE_EVENT_SCHEMA,
    }


def _error(status: int, description: str | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description or ERROR_DESCRIPTIONS.get(status, "An error (OpenAI's envelope)."),
        "content": {"application/json": {"schema": ENVELOPE_REF}},
    }
    if status in (429, 503):
        response["headers"] = copy.deepcopy(RETRY_AFTER)
    return response


def _statuses(method: str, path: str, operation: dict[str, Any]) -> dict[int, str | None]:
    """The error statuses ``operation`` can answer, with a specific description where there is one."""
    responses = operation.get("responses", {})
    found: dict[int, str | None] = {}
    for code, response in responses.items():  # statuses a route declared itself keep their words
        if code.isdigit() and int(code) >= 400 and int(code) != 422:
            found[int(code)] = response.get("description")
    if not path.startswith("/v1/"):
        return {}  # operators' endpoints: no key, no body; their own answers stay as the route declared them
    found.update({status: found.get(status) for status in (400, 401, 429, 503)})
    if "{" in path:
        found.setdefault(404, None)
    if method in ("post", "put", "patch"):
        found.setdefault(408, None)
        found.setdefault(413, None)
    if "206" in responses:
        found.setdefault(416, None)
    if (method, path) in CONFLICTS:
        found[409] = found.get(409) or CONFLICTS[(method, path)]
    if (method, path) in STORED_RESULTS:
        found.setdefault(500, None)
    return found


def honest_document(doc: dict[str, Any]) -> dict[str, Any]:
    """Apply the module docstring's fixes to FastAPI's document ``doc`` (changed in place, and returned)."""
    components = doc.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name, schema in {**_settings_schemas(), **_job_schemas(), **_result_schemas()}.items():
        schemas.setdefault(name, schema)
    envelope = ErrorEnvelope.model_json_schema(ref_template=SCHEMAS + "{model}")
    schemas.update(envelope.pop("$defs", {}))
    schemas["ErrorEnvelope"] = envelope
    # Some errors list every bad field, or a corpus' validation report, under `details` (api/errors.py).
    schemas["ErrorDetail"]["properties"]["details"] = {
        "description": "More about the error: every bad field ({param, message}), or the corpus validation report.",
        "anyOf": [{"type": "array", "items": {"type": "object"}}, {"type": "object"}, {"type": "null"}],
    }
    security_schemes = components.setdefault("securitySchemes", {})
    # The routes' key dependency (api.deps) may already have declared its scheme; else this one.
    bearer = next(iter(security_schemes), BEARER)
    security_schemes.setdefault(
        bearer, {"type": "http", "scheme": "bearer", "description": "An API key from `radis keys create` (sk-radis-…)."}
    )
    for path, item in doc.get("paths", {}).items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            responses.pop("422", None)
            statuses = _statuses(method, path, operation)
            for status, description in sorted(statuses.items()):
                declared = responses.get(str(status))
                if declared and declared.get("content"):
                    continue  # the route documented this answer's body itself
                error = _error(status, description)
                if declared and declared.get("headers"):
                    error["headers"] = {**error.get("headers", {}), **declared["headers"]}
                responses[str(status)] = error
            _binary_downloads(responses)
            if "requestBody" not in operation and (method, path) in STREAMED_BODIES:
                operation["requestBody"] = copy.deepcopy(STREAMED_BODIES[(method, path)])
            if path.startswith("/v1/"):
                operation.setdefault("security", [{bearer: []}])
    _type_objects(doc)
    # Nothing refers to FastAPI's validation error schemas any more.
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return doc


def _binary_downloads(responses: dict[str, Any]) -> None:
    """Downloads (a file's content, the adapter) are bytes: say so, for the full answer and a range (206)."""
    full = responses.get("200", {}).get("content", {})
    for media, body in full.items():
        if media != "application/json" and not body.get("schema"):
            body["schema"] = {"type": "string", "format": "binary"}
    if "206" in responses and not responses["206"].get("content"):
        binary = {media: body for media, body in full.items() if media != "application/json"}
        if binary:
            responses["206"]["content"] = copy.deepcopy(binary)


def _operation_ids(doc: dict[str, Any]) -> None:
    """Name each operation after its route function (``upload_file``, not ``upload_file_v1_files_post``),
    which generated clients turn into their method names. FastAPI's default id is the function's name
    followed by the path and the method (:func:`fastapi.utils.generate_unique_id`); a name that would
    repeat keeps the default."""
    renamed: dict[tuple[str, str], str] = {}
    for path, item in doc.get("paths", {}).items():
        for method, operation in item.items():
            default = str(operation.get("operationId", "")) if isinstance(operation, dict) else ""
            suffix = re.sub(r"\W", "_", path) + "_" + method
            if default.endswith(suffix) and len(default) > len(suffix):
                renamed[(path, method)] = default[: -len(suffix)]
    counts = Counter(renamed.values())
    for (path, method), name in renamed.items():
        if counts[name] == 1:
            doc["paths"][path][method]["operationId"] = name


def _type_objects(doc: dict[str, Any]) -> None:
    """Point the bare objects at their typed schemas (see the module docstring)."""
    schemas = doc["components"]["schemas"]
    typed = {
        ("FineTuningJob", "method"): "JobMethod",
        ("FineTuningJob", "hyperparameters"): "JobHyperparameters",
        ("CheckpointObject", "metrics"): "CheckpointMetrics",
    }
    for (owner, field), target in typed.items():
        properties = schemas.get(owner, {}).get("properties", {})
        if field in properties:
            properties[field] = {"$ref": SCHEMAS + target}
    report = doc["paths"].get("/v1/fine_tuning/jobs/{job_id}/report", {}).get("get")
    if report:
        report["responses"]["200"]["content"] = {"application/json": {"schema": {"$ref": SCHEMAS + "EvaluationReport"}}}
    stream = doc["paths"].get("/v1/fine_tuning/jobs/{job_id}/events/stream", {}).get("get")
    if stream:
        stream["responses"]["200"]["content"] = {"text/event-stream": {"schema": {"$ref": SCHEMAS + "JobStreamMessage"}}}


def install_openapi(app: FastAPI) -> None:
    """Serve :func:`honest_document` of ``app``'s routes as ``/openapi.json`` (built once, on first use)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = get_openapi(
                title=app.title,
                version=app.version,
                openapi_version=app.openapi_version,
                description=app.description,
                routes=app.routes,
            )
            _operation_ids(doc)
            app.openapi_schema = honest_document(doc)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to customise the document
