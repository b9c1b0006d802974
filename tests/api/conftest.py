"""Fixtures for API tests: an app on the rolled-back Postgres test database, projects with keys, uploads.

The app gets the test's session factory (every commit is a savepoint inside the test's transaction) and a
recording enqueue function, so tests see exactly which jobs were sent without mocking the store.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from api.main import create_app
from store.artifacts import ArtifactStore
from store.db import session_scope
from store.keys import create_key
from store.projects import create_project
from store.settings import Settings

#: Upload limit of the test app: small, so the 413 tests send little.
MAX_UPLOAD_BYTES = 8 * 1024


def corpus_lines(n: int = 10, *, start: int = 1) -> list[str]:
    """``n`` distinct, valid German→English pairs as JSON Lines."""
    return [
        json.dumps(
            {"source": f"Das ist Satz Nummer {i}.", "target": f"This is sentence number {i}.", "src_lang": "de", "tgt_lang": "en"}
        )
        for i in range(start, start + n)
    ]


def corpus_bytes(n: int = 10, *, start: int = 1) -> bytes:
    return ("\n".join(corpus_lines(n, start=start)) + "\n").encode()


@dataclass
class Caller:
    """A project and a live key for it."""

    project_id: str
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


class EnqueueRecorder:
    """Stands in for the worker queue: remembers the job ids it was given, in order."""

    def __init__(self) -> None:
        self.job_ids: list[str] = []

    def __call__(self, job_id: str) -> None:
        self.job_ids.append(job_id)


def make_caller(factory: sessionmaker[Session], name: str, **limits: Any) -> Caller:
    with session_scope(factory) as session:
        project = create_project(session, name, **limits)
        plaintext, _ = create_key(session, project.id, "test key")
        return Caller(project.id, plaintext)


def upload(
    client: TestClient | httpx.Client,
    caller: Caller,
    content: bytes,
    *,
    filename: str = "train.jsonl",
    purpose: str | None = "fine-tune",
) -> httpx.Response:
    """POST /v1/files as OpenAI's client does (multipart ``file`` + ``purpose``)."""
    data = {"purpose": purpose} if purpose is not None else {}
    return client.post("/v1/files", files={"file": (filename, content, "application/jsonl")}, data=data, headers=caller.headers)


def stored_blobs(settings: Settings) -> list[Path]:
    """Every file under the artifact root, temporary ones included."""
    root = settings.artifacts_root
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


@pytest.fixture
def api_settings(settings: Settings) -> Settings:
    """The test service's settings (tests/conftest.py) with the API tests' limits and models."""
    return Settings.model_validate(
        {
            **settings.model_dump(),
            "max_upload_bytes": MAX_UPLOAD_BYTES,
            # The tiny test model is a local folder.
            "allow_local_models": True,
            # The catalogue name, and a hub-style id (with a slash) as a deployment may add.
            "public_models": ["smollm2-135m-instruct", "HuggingFaceTB/SmolLM2-135M-Instruct"],
        }
    )


@pytest.fixture
def enqueued() -> EnqueueRecorder:
    return EnqueueRecorder()


@pytest.fixture
def app(api_settings: Settings, db_sessionmaker: sessionmaker[Session], enqueued: EnqueueRecorder) -> FastAPI:
    return create_app(api_settings, session_factory=db_sessionmaker, enqueue=enqueued)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def artifacts(api_settings: Settings) -> ArtifactStore:
    return ArtifactStore(api_settings.artifacts_root)


@pytest.fixture
def caller(db_sessionmaker: sessionmaker[Session]) -> Caller:
    return make_caller(db_sessionmaker, "acme")


@pytest.fixture
def other_caller(db_sessionmaker: sessionmaker[Session]) -> Caller:
    return make_caller(db_sessionmaker, "globex")


@pytest.fixture
def training_file(client: TestClient, caller: Caller) -> dict[str, Any]:
    """A processed training file of ``caller``'s project (as the API returned it)."""
    response = upload(client, caller, corpus_bytes())
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def tiny_model_dir(tmp_path: Path) -> Path:
    """A local model folder as the API checks it (config.json present); the API never loads weights."""
    folder = tmp_path / "tiny-model"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "llama"}))
    return folder
