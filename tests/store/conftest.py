"""Small builders for store tests: a project, a training file, a queued job."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.orm import Session

from store.files import create_file
from store.jobs import create_job
from store.models import File, Job, Project
from store.projects import create_project


def add_file(session: Session, project_id: str, name: str = "train.jsonl", nbytes: int = 10, **kwargs: Any) -> File:
    """A file row (no blob behind it: store tests of rows do not read bytes)."""
    return create_file(
        session,
        project_id=project_id,
        filename=name,
        purpose=kwargs.pop("purpose", "fine-tune"),
        nbytes=nbytes,
        sha256=hashlib.sha256(name.encode()).hexdigest(),
        storage_key=f"files/00/{name}",
        **kwargs,
    )


@pytest.fixture
def project(db_session: Session) -> Project:
    return create_project(db_session, "acme")


@pytest.fixture
def training_file(db_session: Session, project: Project) -> File:
    return add_file(db_session, project.id)


@pytest.fixture
def make_job(db_session: Session, project: Project, training_file: File) -> Callable[..., Job]:
    def make(**kwargs: Any) -> Job:
        kwargs.setdefault("project_id", project.id)
        kwargs.setdefault("model", "tiny-llama")
        kwargs.setdefault("training_file_id", training_file.id)
        job, created = create_job(db_session, **kwargs)
        assert created
        return job

    return make
