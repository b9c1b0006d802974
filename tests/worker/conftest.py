"""Fixtures for worker tests: a committed Postgres database of their own, the tiny model, job builders.

Worker code commits in short transactions from several threads (and, in the Celery test, from another
process), so these tests cannot use the rolled-back ``db_session``: each module gets a fresh database
from ``make_pg_database`` (dropped at the end of the session), and each test its own project.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from radis_core.corpus import Pair, write_jsonl
from radis_core.tiny import build_tiny_model
from store.artifacts import ArtifactStore
from store.db import make_engine, make_sessionmaker, session_scope
from store.events import list_events
from store.files import create_file
from store.ids import new_file_id
from store.jobs import create_job, get_job_any
from store.models import Job, JobEvent
from store.projects import create_project
from store.settings import Settings

#: Hyperparameters that make a job take seconds on the tiny model: 12 training pairs (16 minus the
#: 25 % holdout), batch 4 → 3 optimizer steps, a checkpoint after each but the last.
TINY_HYPERPARAMETERS: dict[str, Any] = {
    "n_epochs": 1,
    "batch_size": 4,
    "lora_rank": 4,
    "max_seq_len": 160,
    "checkpoint_every": 1,
}
#: Short generations and two probe items per retention benchmark.
TINY_METHOD_SETTINGS: dict[str, Any] = {
    # The tiny model never finishes a rationale: without this every radis job would stop at the guard.
    "rationale": {"max_new_tokens": 16, "batch_size": 8, "min_rationale_share": 0.0},
    "evaluation": {"max_new_tokens": 8, "max_probe_items": 2, "holdout_fraction": 0.25, "batch_size": 8},
}


def de_en_pairs(n: int = 16) -> list[Pair]:
    """``n`` distinct German→English pairs."""
    return [
        Pair(
            source=f"Anna kauft {i} Äpfel{' und der Hund ist groß' * (i % 2)}.",
            target=f"Anna buys {i} apples{' and the dog is big' * (i % 2)}.",
            src_lang="de",
            tgt_lang="en",
            line=i + 1,
        )
        for i in range(n)
    ]


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny Llama chat model folder (built once per session); a local folder is a valid job ``model``."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "tiny-llama")


@pytest.fixture(scope="session")
def model_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache (rationales) shared by the session's jobs."""
    return tmp_path_factory.mktemp("radis-cache")


@pytest.fixture(scope="module")
def worker_db_url(make_pg_database: Callable[..., str]) -> str:
    """A fresh, migrated Postgres database for this test module (its data is committed)."""
    return make_pg_database()


@pytest.fixture(scope="module")
def worker_engine(worker_db_url: str) -> Iterator[Engine]:
    eng = make_engine(worker_db_url)
    yield eng
    eng.dispose()


@pytest.fixture(scope="module")
def factory(worker_engine: Engine) -> sessionmaker[Session]:
    """Session factory on the module's database (what the worker is given)."""
    return make_sessionmaker(worker_engine)


@pytest.fixture
def worker_settings(tmp_path: Path, worker_db_url: str, model_cache_dir: Path) -> Settings:
    """Settings of a worker under test: quick heartbeats, a take-over after 2 s of silence."""
    return Settings(
        data_dir=tmp_path / "radis-data",
        database_url=worker_db_url,
        cache_dir=model_cache_dir,
        heartbeat_interval_s=0.3,
        stale_after_s=2.0,
    )


@pytest.fixture
def artifacts(worker_settings: Settings) -> ArtifactStore:
    return ArtifactStore(worker_settings.artifacts_root)


def store_corpus(factory: sessionmaker[Session], artifacts: ArtifactStore, project_id: str, content: bytes, name: str) -> str:
    """Store ``content`` as an uploaded fine-tune file of the project; returns the file id."""
    file_id = new_file_id()
    blob = artifacts.save_bytes(content, prefix="files", name=file_id)
    with session_scope(factory) as session:
        create_file(
            session,
            project_id=project_id,
            filename=name,
            purpose="fine-tune",
            nbytes=blob.bytes,
            sha256=blob.sha256,
            storage_key=blob.key,
            file_id=file_id,
        )
    assert hashlib.sha256(content).hexdigest() == blob.sha256
    return file_id


@pytest.fixture
def make_job(
    factory: sessionmaker[Session], artifacts: ArtifactStore, tiny_model_dir: Path, tmp_path: Path
) -> Callable[..., str]:
    """``make_job(**overrides) -> job id``: a committed queued job of a new project on the tiny model.

    Overrides: ``corpus`` (bytes of the training file), ``validation`` (bytes of a validation file),
    ``hyperparameters`` / ``method_settings`` (merged over the tiny defaults; ``evaluation`` and
    ``rationale`` merged key by key), and any :func:`store.jobs.create_job` argument.
    """

    def make(**overrides: Any) -> str:
        corpus_path = write_jsonl(de_en_pairs(), tmp_path / f"corpus-{secrets.token_hex(3)}.jsonl")
        corpus = overrides.pop("corpus", corpus_path.read_bytes())
        validation = overrides.pop("validation", None)
        hyperparameters = {**TINY_HYPERPARAMETERS, **overrides.pop("hyperparameters", {})}
        extra_settings = overrides.pop("method_settings", {})
        method_settings = {
            key: {**TINY_METHOD_SETTINGS.get(key, {}), **extra_settings.get(key, {})}
            for key in set(TINY_METHOD_SETTINGS) | set(extra_settings)
        }
        if overrides.get("method", "radis") != "radis":
            method_settings.pop("rationale", None)  # only RaDis takes a rationale section (the API refuses it too)
        with session_scope(factory) as session:
            project_id = create_project(session, f"worker-test-{secrets.token_hex(4)}").id
        training_file_id = store_corpus(factory, artifacts, project_id, corpus, "train.jsonl")
        validation_file_id = store_corpus(factory, artifacts, project_id, validation, "valid.jsonl") if validation else None
        with session_scope(factory) as session:
            job, _ = create_job(
                session,
                project_id=project_id,
                model=overrides.pop("model", str(tiny_model_dir)),
                training_file_id=training_file_id,
                validation_file_id=validation_file_id,
                hyperparameters=hyperparameters,
                method_settings=method_settings,
                seed=overrides.pop("seed", 7),
                **overrides,
            )
            return job.id

    return make


def load_job(factory: sessionmaker[Session], job_id: str) -> Job:
    """The job as stored now."""
    with session_scope(factory) as session:
        return get_job_any(session, job_id)


def job_events(factory: sessionmaker[Session], job_id: str) -> list[JobEvent]:
    """All of the job's events, oldest first."""
    with session_scope(factory) as session:
        rows, _ = list_events(session, job_id, limit=10_000, order="asc")
        return rows


def event_messages(factory: sessionmaker[Session], job_id: str) -> list[str]:
    return [event.message for event in job_events(factory, job_id)]


def first_event_id(factory: sessionmaker[Session], job_id: str, predicate: Callable[[JobEvent], bool]) -> int | None:
    """Id of the job's first event matching ``predicate`` (``None`` when there is none yet)."""
    with session_scope(factory) as session:
        for event in session.scalars(select(JobEvent).where(JobEvent.job_id == job_id).order_by(JobEvent.id)):
            if predicate(event):
                return event.id
    return None
