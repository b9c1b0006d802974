"""The embedded default: with only a data folder configured, the app migrates its SQLite database on start."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from api.main import create_app
from store.db import make_engine, make_sessionmaker, session_scope
from store.keys import create_key
from store.projects import create_project
from store.settings import Settings
from tests.api.conftest import Caller, EnqueueRecorder, corpus_bytes, upload


def test_embedded_app_migrates_sqlite_and_serves_a_job(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    assert settings.embedded
    enqueued = EnqueueRecorder()
    with TestClient(create_app(settings, enqueue=enqueued)) as client:
        assert client.get("/readyz").json()["checks"]["database"] == "ok"
        engine = make_engine(settings.database_url)
        try:
            with session_scope(make_sessionmaker(engine)) as session:
                project = create_project(session, "solo")
                key, _ = create_key(session, project.id, "cli")
        finally:
            engine.dispose()
        caller = Caller(project.id, key)
        file_id = upload(client, caller, corpus_bytes()).json()["id"]
        job = client.post(
            "/v1/fine_tuning/jobs", json={"model": "smollm2-135m-instruct", "training_file": file_id}, headers=caller.headers
        )
        assert job.status_code == 200, job.text
        assert enqueued.job_ids == [job.json()["id"]]
        assert client.get("/v1/fine_tuning/jobs", headers=caller.headers).json()["data"][0]["status"] == "queued"
