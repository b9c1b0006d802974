"""The OpenAPI document says what the API does (api/openapi.py): it validates, lists the statuses the
API answers with OpenAI's envelope (no 422), declares the streamed upload body, types the settings,
metrics, report and SSE messages; and a client generated from it drives a running API."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate

from api.main import create_app
from store.settings import Settings
from tests.api.conftest import corpus_bytes
from tests.live_api import LiveApi, live_api

ENVELOPE = {"$ref": "#/components/schemas/ErrorEnvelope"}


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    app = create_app(Settings(data_dir=tmp_path_factory.mktemp("openapi")))
    return app.openapi()


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield method, path, operation


def _error_schema(operation: dict[str, Any], status: int) -> Any:
    return operation["responses"][str(status)]["content"]["application/json"]["schema"]


def test_the_document_validates(document: dict[str, Any]) -> None:
    validate(document)


def test_errors_are_400_and_the_envelope_never_422(document: dict[str, Any]) -> None:
    assert "HTTPValidationError" not in json.dumps(document) and '"422"' not in json.dumps(document)
    v1 = [(m, p, op) for m, p, op in _operations(document) if p.startswith("/v1/")]
    assert len(v1) >= 15
    for method, path, operation in v1:
        for status in (400, 401, 429, 503):
            assert _error_schema(operation, status) == ENVELOPE, (method, path, status)
        assert ("404" in operation["responses"]) == ("{" in path), (method, path)
        assert operation["security"], (method, path)
    assert "Retry-After" in document["paths"]["/v1/files"]["get"]["responses"]["429"]["headers"]
    # Operators' endpoints answer no key or rate errors.
    assert sorted(document["paths"]["/readyz"]["get"]["responses"]) == ["200", "503"]


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("post", "/v1/files", 413),
        ("post", "/v1/files", 408),
        ("post", "/v1/fine_tuning/jobs", 409),
        ("delete", "/v1/files/{file_id}", 409),
        ("get", "/v1/files/{file_id}/content", 416),
        ("get", "/v1/fine_tuning/jobs/{job_id}/adapter", 416),
        ("get", "/v1/fine_tuning/jobs/{job_id}/report", 500),
    ],
)
def test_specific_statuses_are_documented_where_they_occur(document: dict[str, Any], method: str, path: str, status: int) -> None:
    assert _error_schema(document["paths"][path][method], status) == ENVELOPE


def test_the_upload_declares_its_multipart_body(document: dict[str, Any]) -> None:
    body = document["paths"]["/v1/files"]["post"]["requestBody"]
    assert body["required"] is True
    schema = document["components"]["schemas"]["FileUpload"]
    assert body["content"]["multipart/form-data"]["schema"] == {"$ref": "#/components/schemas/FileUpload"}
    assert schema["required"] == ["file", "purpose"] and schema["properties"]["file"]["format"] == "binary"
    assert schema["properties"]["purpose"]["enum"] == ["fine-tune"]


def test_an_upload_part_declares_its_multipart_body(document: dict[str, Any]) -> None:
    body = document["paths"]["/v1/uploads/{upload_id}/parts"]["post"]["requestBody"]
    assert body["content"]["multipart/form-data"]["schema"] == {"$ref": "#/components/schemas/UploadPartData"}
    assert document["components"]["schemas"]["UploadPartData"]["properties"]["data"]["format"] == "binary"
    assert _error_schema(document["paths"]["/v1/uploads/{upload_id}/complete"]["post"], 409) == ENVELOPE


def test_settings_metrics_report_and_stream_are_typed(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    job = schemas["FineTuningJob"]["properties"]
    assert job["method"] == {"$ref": "#/components/schemas/JobMethod"}
    assert job["hyperparameters"] == {"$ref": "#/components/schemas/JobHyperparameters"}
    assert set(schemas["JobMethod"]["properties"]) == {"type", "radis", "supervised", "sdft", "seqkd"}
    radis = schemas["JobRadisSettings"]["properties"]
    assert radis["rationale"] == {"$ref": "#/components/schemas/RationaleSettings"}
    assert {"lora_rank", "n_epochs", "learning_rate"} <= set(schemas["JobHyperparameters"]["properties"])
    assert schemas["CheckpointObject"]["properties"]["metrics"] == {"$ref": "#/components/schemas/CheckpointMetrics"}
    assert {"train_loss", "valid_loss", "valid_mean_token_accuracy"} <= set(schemas["CheckpointMetrics"]["properties"])
    report = document["paths"]["/v1/fine_tuning/jobs/{job_id}/report"]["get"]["responses"]["200"]["content"]
    assert report["application/json"]["schema"] == {"$ref": "#/components/schemas/EvaluationReport"}
    stream = document["paths"]["/v1/fine_tuning/jobs/{job_id}/events/stream"]["get"]["responses"]["200"]["content"]
    assert stream["text/event-stream"]["schema"] == {"$ref": "#/components/schemas/JobStreamMessage"}
    options = schemas["JobStreamMessage"]["oneOf"]
    events = {json.dumps(option["properties"]["event"]) for option in options}
    assert events == {'{"type": "string", "enum": ["message", "metrics"]}', '{"const": "end"}', '{"const": "error"}'}
    carried = {option["properties"]["data"]["contentSchema"]["$ref"].rsplit("/", 1)[1] for option in options}
    assert carried == {"JobEventObject", "FineTuningJob", "ErrorEnvelope"}


def test_operation_ids_are_the_route_names(document: dict[str, Any]) -> None:
    ids = [operation["operationId"] for _, _, operation in _operations(document)]
    assert len(ids) == len(set(ids)) and {"upload_file", "create_job", "get_job", "list_checkpoints"} <= set(ids)


# --- a generated client against a running API -------------------------------------------------------


@pytest.fixture(scope="module")
def api(make_pg_database: Callable[..., str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApi]:
    with live_api(make_pg_database, tmp_path_factory.mktemp("live"), redis_db=11, RADIS_LOG_FORMAT="json") as running:
        yield running


def _generate_client(api: LiveApi, out: Path) -> Any:
    """``openapi-python-client`` on the running API's own /openapi.json (offline; no formatter hooks)."""
    spec = out / "openapi.json"
    spec.write_text(httpx.get(f"{api.base}/openapi.json").text)
    config = out / "config.yaml"
    config.write_text("package_name_override: radis_generated_client\npost_hooks: []\n")
    package = out / "radis_generated_client"
    result = subprocess.run(
        [sys.executable, "-m", "openapi_python_client", "generate", "--path", str(spec), "--config", str(config)]
        + ["--meta", "none", "--output-path", str(package)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0 and package.is_dir(), result.stdout + result.stderr
    sys.path.insert(0, str(out))
    try:
        return importlib.import_module("radis_generated_client")
    finally:
        sys.path.remove(str(out))


@pytest.mark.slow
def test_a_generated_client_uploads_a_file_and_creates_a_job(api: LiveApi, tmp_path: Path) -> None:
    generated = _generate_client(api, tmp_path)
    from radis_generated_client.api.files import get_file, upload_file  # type: ignore[import-not-found]  # generated above
    from radis_generated_client.api.fine_tuning import create_job, get_job  # type: ignore[import-not-found]
    from radis_generated_client.models import (  # type: ignore[import-not-found]
        CreateJobRequest,
        ErrorEnvelope,
        FileObject,
        FileUpload,
        FileUploadPurpose,
        FineTuningJob,
        JobMethod,
        JobMethodType,
    )
    from radis_generated_client.types import File  # type: ignore[import-not-found]

    client = generated.AuthenticatedClient(base_url=api.base, token=api.key, raise_on_unexpected_status=True)
    import io

    uploaded = upload_file.sync_detailed(
        client=client,
        body=FileUpload(
            file=File(payload=io.BytesIO(corpus_bytes(12)), file_name="train.jsonl"), purpose=FileUploadPurpose.FINE_TUNE
        ),
    )
    assert uploaded.status_code == 200 and isinstance(uploaded.parsed, FileObject), uploaded.content
    assert uploaded.parsed.n_examples == 12 and uploaded.headers["x-request-id"]
    assert get_file.sync(client=client, file_id=uploaded.parsed.id).sha256 == uploaded.parsed.sha256

    job = create_job.sync(client=client, body=CreateJobRequest(model="smollm2-135m-instruct", training_file=uploaded.parsed.id))
    assert isinstance(job, FineTuningJob) and job.status == "queued" and job.training_file == uploaded.parsed.id
    assert isinstance(job.method, JobMethod) and job.method.type_ == JobMethodType.RADIS
    assert job.method.radis.hyperparameters.n_epochs == "auto"

    # Errors come back parsed as the envelope, with the status the document names.
    missing = get_job.sync_detailed(client=client, job_id="ftjob-nosuchjob")
    assert missing.status_code == 404 and isinstance(missing.parsed, ErrorEnvelope) and missing.parsed.error.code == "not_found"
    bad = create_job.sync_detailed(client=client, body=CreateJobRequest(model="smollm2-135m-instruct", training_file="file-nope"))
    assert bad.status_code == 400 and bad.parsed.error.param == "training_file"

    # The API ran with RADIS_LOG_FORMAT=json: its lines are JSON, and a job's request is named on its access line.
    traced = httpx.get(
        f"{api.base}/v1/fine_tuning/jobs/{job.id}", headers={"Authorization": f"Bearer {api.key}", "X-Request-ID": "trace-7"}
    )
    assert traced.headers["x-request-id"] == "trace-7"
    lines = [json.loads(line) for line in api.log.read_text().splitlines() if line.startswith("{")]
    assert any(line["request_id"] == "trace-7" and line["job_id"] == job.id for line in lines), lines[-5:]
