"""OpenAI's own Python client against the API served by uvicorn: the shapes are what the client expects."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import openai
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from store import events as store_events
from store import files as store_files
from store import jobs as store_jobs
from store import result_files
from store.artifacts import ArtifactStore
from store.db import session_scope
from tests.api.conftest import Caller, EnqueueRecorder, corpus_bytes


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server_url(app: FastAPI) -> Iterator[str]:
    """The test app served over real HTTP (uvicorn in a thread), so uploads arrive in network-sized chunks."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}/v1"
    server.should_exit = True
    thread.join(timeout=10)


def test_openai_client_round_trip(server_url: str, caller: Caller, other_caller: Caller, enqueued: EnqueueRecorder) -> None:
    client = openai.OpenAI(api_key=caller.key, base_url=server_url, max_retries=0)

    uploaded = client.files.create(file=("de-en.jsonl", corpus_bytes(12)), purpose="fine-tune")
    assert uploaded.status == "processed" and uploaded.bytes == len(corpus_bytes(12))
    assert client.files.retrieve(uploaded.id).filename == "de-en.jsonl"
    assert client.files.content(uploaded.id).content == corpus_bytes(12)
    assert [f.id for f in client.files.list()] == [uploaded.id]

    job = client.fine_tuning.jobs.create(
        model="smollm2-135m-instruct",
        training_file=uploaded.id,
        suffix="demo",
        metadata={"team": "mt"},
        method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 2}}},
    )
    assert job.status == "queued" and job.method.type == "supervised"
    assert job.method.supervised.hyperparameters.n_epochs == 2
    assert enqueued.job_ids == [job.id]
    assert client.fine_tuning.jobs.retrieve(job.id).id == job.id
    assert [j.id for j in client.fine_tuning.jobs.list(metadata={"team": "mt"})] == [job.id]
    events = client.fine_tuning.jobs.list_events(job.id)
    assert events.data[0].message == f"Created fine-tuning job: {job.id}"
    assert client.fine_tuning.jobs.checkpoints.list(job.id).data == []
    assert client.fine_tuning.jobs.cancel(job.id).status == "cancelled"
    assert "smollm2-135m-instruct" in {m.id for m in client.models.list()}

    with pytest.raises(openai.BadRequestError) as bad:
        client.fine_tuning.jobs.create(model="gpt-4o", training_file=uploaded.id)
    assert bad.value.body["param"] == "model"
    with pytest.raises(openai.NotFoundError):
        openai.OpenAI(api_key=other_caller.key, base_url=server_url, max_retries=0).files.retrieve(uploaded.id)
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(api_key="sk-radis-wrong", base_url=server_url, max_retries=0).models.list()

    assert client.files.delete(uploaded.id).deleted is True


def test_openai_client_pauses_resumes_lists_checkpoints_reads_the_metrics_csv_and_deletes_the_model(
    server_url: str, caller: Caller, artifacts: ArtifactStore, db_sessionmaker: sessionmaker[Session], enqueued: EnqueueRecorder
) -> None:
    client = openai.OpenAI(api_key=caller.key, base_url=server_url, max_retries=0)
    uploaded = client.files.create(file=("de-en.jsonl", corpus_bytes(12)), purpose="fine-tune")

    job = client.fine_tuning.jobs.create(model="smollm2-135m-instruct", training_file=uploaded.id, suffix="sdk")
    assert client.fine_tuning.jobs.pause(job.id).status == "paused"
    assert client.fine_tuning.jobs.resume(job.id).status == "queued"
    assert enqueued.job_ids == [job.id, job.id]

    # The worker's part, through the store: a checkpoint, then success with the metrics CSV and the adapter.
    csv_text = "step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy\n1,2.5,0.4,,\n2,2.0,0.5,2.2,0.45\n"
    with session_scope(db_sessionmaker) as session:
        assert store_jobs.claim_job(session, job.id, "w1") is not None
        store_events.add_checkpoint(
            session,
            job.id,
            2,
            storage_key="jobs/x/ckpt",
            metrics={"train_loss": 2.0, "valid_loss": 2.2, "valid_mean_token_accuracy": 0.45},
        )
        ids = []
        for kind, data in ((result_files.METRICS, csv_text.encode()), (result_files.ADAPTER, b"not really a tarball")):
            blob = artifacts.save_bytes(data, prefix=result_files.FILES_PREFIX)
            ids.append(
                store_files.create_file(
                    session,
                    project_id=caller.project_id,
                    filename=kind.filename(job.id),
                    purpose=result_files.RESULT_PURPOSE,
                    nbytes=blob.bytes,
                    sha256=blob.sha256,
                    storage_key=blob.key,
                ).id
            )
        model = f"ft:smollm2-135m-instruct:sdk:{job.id}"
        store_jobs.mark_succeeded(session, job.id, "w1", fine_tuned_model=model, trained_tokens=10, result_files=ids)

    checkpoint = client.fine_tuning.jobs.checkpoints.list(job.id).data[0]
    assert checkpoint.fine_tuned_model_checkpoint == f"{model}:ckpt-step-2"
    assert (checkpoint.metrics.step, checkpoint.metrics.valid_loss, checkpoint.metrics.valid_mean_token_accuracy) == (
        2,
        2.2,
        0.45,
    )
    done = client.fine_tuning.jobs.retrieve(job.id)
    assert client.files.content(done.result_files[0]).text == csv_text

    deleted = client.models.delete(model)
    assert (deleted.id, deleted.object, deleted.deleted) == (model, "model", True)
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve(model)
    with pytest.raises(openai.PermissionDeniedError):
        client.models.delete("smollm2-135m-instruct")
