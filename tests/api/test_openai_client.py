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
