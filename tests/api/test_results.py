"""A succeeded job's results: adapter download with Range, report, rationale sample, fine-tuned models."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from store import events as store_events
from store import files as store_files
from store import jobs as store_jobs
from store import result_files
from store.artifacts import ArtifactStore
from store.db import session_scope
from tests.api.conftest import Caller

JOBS = "/v1/fine_tuning/jobs"
WORKER = "worker-test"
REPORT = {"translation": {"base": {"bleu": 10.0}, "tuned": {"bleu": 20.0}}, "retention": {"overall": 0.97}}
RATIONALES = [{"source": f"Satz {i}.", "reference": f"Sentence {i}.", "rationale": f"Word {i} means ..."} for i in range(5)]


@dataclass
class SucceededJob:
    id: str
    fine_tuned_model: str
    adapter: bytes
    adapter_file_id: str


def _result_file(
    session: Session,
    artifacts: ArtifactStore,
    project_id: str,
    job_id: str,
    kind: result_files.ResultKind,
    data: bytes | None = None,
    key: str | None = None,
) -> str:
    """A result file row named as the worker names it (``store.result_files``)."""
    blob = artifacts.save_bytes(data, prefix=result_files.FILES_PREFIX) if data is not None else None
    row = store_files.create_file(
        session,
        project_id=project_id,
        filename=kind.filename(job_id),
        purpose=result_files.RESULT_PURPOSE,
        nbytes=blob.bytes if blob else artifacts.size(key),
        sha256=blob.sha256 if blob else hashlib.sha256(artifacts.path(key).read_bytes()).hexdigest(),
        storage_key=blob.key if blob else key,
    )
    return row.id


@pytest.fixture
def succeeded_job(
    client: TestClient,
    caller: Caller,
    training_file: dict,
    artifacts: ArtifactStore,
    db_sessionmaker: sessionmaker[Session],
    tmp_path: Path,
) -> SucceededJob:
    """A job taken through the store's transitions to ``succeeded``, with real result blobs."""
    job_id = client.post(
        JOBS,
        json={"model": "smollm2-135m-instruct", "training_file": training_file["id"], "suffix": "demo"},
        headers=caller.headers,
    ).json()["id"]
    adapter_dir = tmp_path / "adapter"
    adapter_dir.mkdir()
    (adapter_dir / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": 8}))
    (adapter_dir / "adapter_model.safetensors").write_bytes(os.urandom(4096))
    key = ArtifactStore.new_key(result_files.FILES_PREFIX)
    artifacts.publish_dir_as_tar_gz(adapter_dir, key, root_name="adapter")
    model_name = f"ft:smollm2-135m-instruct:demo:{job_id}"
    with session_scope(db_sessionmaker) as session:
        assert store_jobs.claim_job(session, job_id, WORKER) is not None
        adapter_id = _result_file(session, artifacts, caller.project_id, job_id, result_files.ADAPTER, key=key)
        report_id = _result_file(session, artifacts, caller.project_id, job_id, result_files.REPORT, json.dumps(REPORT).encode())
        lines = "".join(json.dumps(r) + "\n" for r in RATIONALES).encode()
        rationales_id = _result_file(session, artifacts, caller.project_id, job_id, result_files.RATIONALES, lines)
        store_jobs.mark_succeeded(
            session,
            job_id,
            WORKER,
            fine_tuned_model=model_name,
            trained_tokens=1234,
            result_files=[adapter_id, report_id, rationales_id],
        )
    return SucceededJob(job_id, model_name, artifacts.path(key).read_bytes(), adapter_id)


def test_the_adapter_downloads_whole_with_its_checksum(client: TestClient, caller: Caller, succeeded_job: SucceededJob) -> None:
    response = client.get(f"{JOBS}/{succeeded_job.id}/adapter", headers=caller.headers)
    assert response.status_code == 200
    assert response.content == succeeded_job.adapter
    assert response.headers["content-length"] == str(len(succeeded_job.adapter))
    assert response.headers["x-content-sha256"] == hashlib.sha256(succeeded_job.adapter).hexdigest()
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["content-type"] == "application/gzip"
    with tarfile.open(fileobj=io.BytesIO(response.content), mode="r:gz") as archive:
        assert "adapter/adapter_config.json" in archive.getnames()
    # The adapter is a file of the project too, as OpenAI's result_files are.
    same = client.get(f"/v1/files/{succeeded_job.adapter_file_id}/content", headers=caller.headers)
    assert same.content == succeeded_job.adapter


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [("bytes=10-99", 10, 99), ("bytes=100-", 100, None), ("bytes=-20", -20, None), ("bytes=0-999999", 0, None)],
)
def test_single_byte_ranges_are_206(
    client: TestClient, caller: Caller, succeeded_job: SucceededJob, header: str, start: int, end: int | None
) -> None:
    data = succeeded_job.adapter
    size = len(data)
    expected = data[start:] if end is None else data[start : end + 1]
    response = client.get(f"{JOBS}/{succeeded_job.id}/adapter", headers={**caller.headers, "Range": header})
    assert response.status_code == 206
    assert response.content == expected
    first = start % size
    assert response.headers["content-range"] == f"bytes {first}-{first + len(expected) - 1}/{size}"
    assert response.headers["content-length"] == str(len(expected))
    assert response.headers["x-content-sha256"] == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("header", ["bytes={size}-", "bytes=-0", "Bytes={size}-{size}"])
def test_unsatisfiable_ranges_are_416(client: TestClient, caller: Caller, succeeded_job: SucceededJob, header: str) -> None:
    size = len(succeeded_job.adapter)
    response = client.get(f"{JOBS}/{succeeded_job.id}/adapter", headers={**caller.headers, "Range": header.format(size=size)})
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{size}"
    assert response.json()["error"]["code"] == "range_not_satisfiable"


@pytest.mark.parametrize("header", ["bytes=50-10", "items=0-1", "bytes=0-1,5-6", "bytes=-", "bytes=x-y"])
def test_invalid_or_unsupported_ranges_are_ignored(
    client: TestClient, caller: Caller, succeeded_job: SucceededJob, header: str
) -> None:
    """RFC 9110 §14.2: a Range that is not valid, or uses what the server does not support (another unit,
    several ranges), is ignored: the whole adapter, 200."""
    response = client.get(f"{JOBS}/{succeeded_job.id}/adapter", headers={**caller.headers, "Range": header})
    assert response.status_code == 200 and response.content == succeeded_job.adapter
    assert "content-range" not in response.headers


def test_a_stale_if_range_gets_the_whole_adapter(client: TestClient, caller: Caller, succeeded_job: SucceededJob) -> None:
    headers = {**caller.headers, "Range": "bytes=0-9", "If-Range": '"not-the-etag"'}
    response = client.get(f"{JOBS}/{succeeded_job.id}/adapter", headers=headers)
    assert response.status_code == 200 and response.content == succeeded_job.adapter


def test_report_and_rationale_sample(client: TestClient, caller: Caller, succeeded_job: SucceededJob) -> None:
    assert client.get(f"{JOBS}/{succeeded_job.id}/report", headers=caller.headers).json() == REPORT
    sample = client.get(f"{JOBS}/{succeeded_job.id}/rationales", params={"limit": 2}, headers=caller.headers).json()
    assert sample["data"] == RATIONALES[:2] and sample["has_more"] is True
    everything = client.get(f"{JOBS}/{succeeded_job.id}/rationales", params={"limit": 100}, headers=caller.headers).json()
    assert everything["data"] == RATIONALES and everything["has_more"] is False


def test_the_succeeded_job_reports_its_model_and_results(client: TestClient, caller: Caller, succeeded_job: SucceededJob) -> None:
    job = client.get(f"{JOBS}/{succeeded_job.id}", headers=caller.headers).json()
    assert job["status"] == "succeeded" and job["fine_tuned_model"] == succeeded_job.fine_tuned_model
    assert job["trained_tokens"] == 1234 and job["progress"] == 1.0 and job["finished_at"] is not None
    assert succeeded_job.adapter_file_id in job["result_files"]


def test_models_list_base_and_fine_tuned(
    client: TestClient, caller: Caller, other_caller: Caller, succeeded_job: SucceededJob
) -> None:
    models = client.get("/v1/models", headers=caller.headers).json()
    assert models["object"] == "list"
    by_id = {m["id"]: m for m in models["data"]}
    assert by_id["smollm2-135m-instruct"]["owned_by"] == "radis"
    assert by_id[succeeded_job.fine_tuned_model]["owned_by"] == caller.project_id
    one = client.get(f"/v1/models/{succeeded_job.fine_tuned_model}", headers=caller.headers).json()
    assert one == by_id[succeeded_job.fine_tuned_model]
    # A base model id may hold a slash (a hub id from the deployment's list).
    assert client.get("/v1/models/HuggingFaceTB/SmolLM2-135M-Instruct", headers=caller.headers).json()["owned_by"] == "radis"
    assert client.get(f"/v1/models/{succeeded_job.fine_tuned_model}", headers=other_caller.headers).status_code == 404
    assert succeeded_job.fine_tuned_model not in {
        m["id"] for m in client.get("/v1/models", headers=other_caller.headers).json()["data"]
    }


def test_results_of_another_project_or_an_unfinished_job_are_404(
    client: TestClient, caller: Caller, other_caller: Caller, succeeded_job: SucceededJob, training_file: dict
) -> None:
    for path in ("adapter", "report", "rationales"):
        assert client.get(f"{JOBS}/{succeeded_job.id}/{path}", headers=other_caller.headers).status_code == 404
    queued = client.post(
        JOBS, json={"model": "smollm2-135m-instruct", "training_file": training_file["id"]}, headers=caller.headers
    ).json()["id"]
    response = client.get(f"{JOBS}/{queued}/adapter", headers=caller.headers)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "result_not_available"
    assert "has not succeeded" in response.json()["error"]["message"]


def test_deleting_a_fine_tuned_model_removes_its_adapter_and_later_reads_are_404(
    client: TestClient,
    caller: Caller,
    other_caller: Caller,
    succeeded_job: SucceededJob,
    artifacts: ArtifactStore,
    db_sessionmaker: sessionmaker[Session],
) -> None:
    model = succeeded_job.fine_tuned_model
    with session_scope(db_sessionmaker) as session:
        adapter_key = store_files.get_file(session, caller.project_id, succeeded_job.adapter_file_id).storage_key
    # Another project's model is not found (and stays); a base model is refused, with the reason.
    assert client.delete(f"/v1/models/{model}", headers=other_caller.headers).status_code == 404
    base = client.delete("/v1/models/HuggingFaceTB/SmolLM2-135M-Instruct", headers=caller.headers)
    assert base.status_code == 403 and base.json()["error"]["code"] == "model_not_deletable"
    assert artifacts.exists(adapter_key)

    deleted = client.delete(f"/v1/models/{model}", headers=caller.headers)
    assert deleted.status_code == 200 and deleted.json() == {"id": model, "object": "model", "deleted": True}

    assert not artifacts.exists(adapter_key)
    assert client.get(f"/v1/models/{model}", headers=caller.headers).status_code == 404
    assert model not in {m["id"] for m in client.get("/v1/models", headers=caller.headers).json()["data"]}
    adapter = client.get(f"{JOBS}/{succeeded_job.id}/adapter", headers=caller.headers)
    assert adapter.status_code == 404 and "was deleted" in adapter.json()["error"]["message"]
    assert client.get(f"/v1/files/{succeeded_job.adapter_file_id}/content", headers=caller.headers).status_code == 404
    # The job and its report stay; a second delete is a 404.
    assert client.get(f"{JOBS}/{succeeded_job.id}", headers=caller.headers).json()["fine_tuned_model"] == model
    assert client.get(f"{JOBS}/{succeeded_job.id}/report", headers=caller.headers).status_code == 200
    assert client.delete(f"/v1/models/{model}", headers=caller.headers).status_code == 404


def test_a_checkpoint_is_named_after_the_final_model(
    client: TestClient, caller: Caller, succeeded_job: SucceededJob, db_sessionmaker: sessionmaker[Session]
) -> None:
    with session_scope(db_sessionmaker) as session:
        store_events.add_checkpoint(
            session, succeeded_job.id, 2, storage_key="jobs/x/ckpt", metrics={"train_loss": 1.5, "valid_loss": 1.7}
        )
    checkpoint = client.get(f"{JOBS}/{succeeded_job.id}/checkpoints", headers=caller.headers).json()["data"][0]
    assert checkpoint["fine_tuned_model_checkpoint"] == f"{succeeded_job.fine_tuned_model}:ckpt-step-2"
    assert checkpoint["metrics"]["valid_loss"] == 1.7 and checkpoint["metrics"]["valid_mean_token_accuracy"] is None
