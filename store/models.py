"""Tables of the service (SQLAlchemy 2.0 typed declarative), identical on Postgres and SQLite.

The schema itself is created only by the Alembic migrations in ``migrations/``; a test checks that they
match these classes. Ids are generated in Python (:mod:`store.ids`); every timestamp is timezone-aware UTC,
also on SQLite, which stores none (see :class:`UTCDateTime`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from radis_core.settings.methods import METHODS
from radis_core.stages import STAGE_NAMES
from store.ids import (
    CHECKPOINT_PREFIX,
    FILE_PREFIX,
    JOB_PREFIX,
    KEY_PREFIX,
    PART_PREFIX,
    PROJECT_PREFIX,
    UPLOAD_PREFIX,
    new_id,
    unix_seconds,
    utcnow,
)

#: Constraint names are explicit so migrations (and SQLite batch rebuilds) can refer to them.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class JobStatus(StrEnum):
    """OpenAI's fine-tuning job statuses."""

    VALIDATING_FILES = "validating_files"
    QUEUED = "queued"
    RUNNING = "running"
    #: Stopped on request at a checkpoint until ``resume`` queues it again (OpenAI's pause and resume).
    PAUSED = "paused"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


TERMINAL_STATUSES: frozenset[str] = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED})
#: Jobs not over yet. A paused job is one of them: it keeps its files, its folder and its place in the
#: project's active-job limit until it is resumed and ends, or is cancelled.
ACTIVE_STATUSES: frozenset[str] = frozenset({JobStatus.VALIDATING_FILES, JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.PAUSED})


class FileStatus(StrEnum):
    """OpenAI's file statuses."""

    UPLOADED = "uploaded"
    PROCESSED = "processed"
    ERROR = "error"


class EventLevel(StrEnum):
    INFO = "info"
    WARN = "warn"
    ERROR = "error"


class EventType(StrEnum):
    MESSAGE = "message"
    METRICS = "metrics"


def _in(column: str, values: Iterable[str]) -> str:
    return f"{column} IN ({', '.join(repr(str(v)) for v in values)})"


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python.

    Postgres keeps the zone (``timestamptz``); SQLite has no zone, so values are stored as naive UTC and
    given ``tzinfo=UTC`` back when read. Naive datetimes are refused on the way in: their zone is a guess.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the store only takes timezone-aware datetimes")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


#: JSON everywhere, JSONB on Postgres (indexable, compared by value). SQL NULL for Python ``None``.
JSONType = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSONType, list[Any]: JSONType}

    if TYPE_CHECKING:  # every table declares both columns itself (ids are strings, event ids integers)
        id: Mapped[Any]
        created_at: Mapped[datetime]

    @property
    def created_at_unix(self) -> int:
        """``created_at`` (every table has one) as whole Unix seconds, as OpenAI's ``created_at`` fields."""
        return unix_seconds(self.created_at)


class Project(Base):
    """A tenant: owns keys, files and jobs; another project's objects are invisible to it."""

    __tablename__ = "projects"

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=lambda: new_id(PROJECT_PREFIX))
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Overrides ``Settings.max_concurrent_jobs_per_project`` when set.
    max_concurrent_jobs: Mapped[int | None] = mapped_column(Integer)
    #: Bytes the project may keep (live files and the folders of jobs not yet cleaned up); when null,
    #: ``Settings.max_storage_bytes_per_project``.
    max_storage_bytes: Mapped[int | None] = mapped_column(BigInteger)
    #: Wall-time budget of the project's new jobs; when null, ``Settings.job_wall_time_s``. Capped by
    #: ``Settings.max_job_wall_time_s``.
    job_wall_time_s: Mapped[int | None] = mapped_column(Integer)
    #: Token budget of the project's new jobs; when null, ``Settings.job_token_budget``. Capped by
    #: ``Settings.max_job_token_budget``.
    job_token_budget: Mapped[int | None] = mapped_column(BigInteger)


class ApiKey(Base):
    """A bearer key. Only its SHA-256 is stored; the plaintext is shown once, at creation."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=lambda: new_id(KEY_PREFIX))
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    #: First characters of the plaintext, shown in listings so a person can tell keys apart.
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class File(Base):
    """An uploaded (or produced) file. ``filename`` is the caller's label only; bytes live at ``storage_key``."""

    __tablename__ = "files"
    __table_args__ = (
        CheckConstraint(_in("status", FileStatus), name="status"),
        CheckConstraint("bytes >= 0", name="bytes"),
        Index(None, "project_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=lambda: new_id(FILE_PREFIX))
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    filename: Mapped[str] = mapped_column(String(512))
    purpose: Mapped[str] = mapped_column(String(64))
    bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    #: Server-chosen path relative to the artifact root (never derived from caller input).
    storage_key: Mapped[str] = mapped_column(String(512))
    status: Mapped[str] = mapped_column(String(16), default=FileStatus.PROCESSED)
    status_details: Mapped[str | None] = mapped_column(Text)
    #: What validation found (pair count, language pair, warnings), as the API reports it.
    validation: Mapped[dict[str, Any] | None]
    n_examples: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    deleted_at: Mapped[datetime | None]


class UploadStatus(StrEnum):
    """OpenAI's upload statuses."""

    PENDING = "pending"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class Upload(Base):
    """A large file sent in parts (OpenAI's Uploads API); completing it makes the :class:`File` ``file_id``."""

    __tablename__ = "uploads"
    __table_args__ = (
        CheckConstraint(_in("status", UploadStatus), name="status"),
        CheckConstraint("bytes >= 0", name="bytes"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=lambda: new_id(UPLOAD_PREFIX))
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    filename: Mapped[str] = mapped_column(String(512))
    purpose: Mapped[str] = mapped_column(String(64))
    #: The size the caller announced: the parts must add up to exactly this.
    bytes: Mapped[int] = mapped_column(BigInteger)
    mime_type: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), default=UploadStatus.PENDING)
    file_id: Mapped[str | None] = mapped_column(ForeignKey("files.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]


class UploadPart(Base):
    """One part of an upload; its bytes are a blob at ``storage_key`` until the upload completes or ends."""

    __tablename__ = "upload_parts"

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=lambda: new_id(PART_PREFIX))
    upload_id: Mapped[str] = mapped_column(ForeignKey("uploads.id", ondelete="CASCADE"), index=True)
    storage_key: Mapped[str] = mapped_column(String(512))
    bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Job(Base):
    """A fine-tuning job. Its state changes only through :mod:`store.jobs` (conditional updates)."""

    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint(_in("status", JobStatus), name="status"),
        # The method and stage tables live with the method (radis_core); a new one needs a migration too.
        CheckConstraint(_in("method", METHODS), name="method"),
        CheckConstraint(f"stage IS NULL OR {_in('stage', STAGE_NAMES)}", name="stage"),
        CheckConstraint("progress >= 0 AND progress <= 1", name="progress"),
        UniqueConstraint("project_id", "idempotency_key"),
        Index(None, "project_id", "created_at"),
        Index(None, "status", "heartbeat_at"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=lambda: new_id(JOB_PREFIX))
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    model: Mapped[str] = mapped_column(String(256))
    method: Mapped[str] = mapped_column(String(16), default="radis")
    training_file_id: Mapped[str] = mapped_column(ForeignKey("files.id"))
    validation_file_id: Mapped[str | None] = mapped_column(ForeignKey("files.id"))
    seed: Mapped[int] = mapped_column(BigInteger)
    suffix: Mapped[str | None] = mapped_column(String(64))
    #: ``metadata`` is reserved on declarative classes; the column keeps the OpenAI name.
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata")
    #: Hyperparameters as requested (values may be "auto").
    hyperparameters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: Rationale and evaluation overrides ({"rationale": {...}, "evaluation": {...}}).
    method_settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: Hyperparameters after "auto" was resolved from the data (written by the worker).
    resolved_hyperparameters: Mapped[dict[str, Any] | None]
    status: Mapped[str] = mapped_column(String(32), default=JobStatus.QUEUED)
    stage: Mapped[str | None] = mapped_column(String(32))
    progress: Mapped[float] = mapped_column(Float, default=0.0, server_default=text("0"))
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    error_param: Mapped[str | None] = mapped_column(String(128))
    fine_tuned_model: Mapped[str | None] = mapped_column(String(512))
    trained_tokens: Mapped[int | None] = mapped_column(BigInteger)
    #: Ids of the files the job produced (adapter archive, evaluation report).
    result_files: Mapped[list[Any]] = mapped_column(default=list)
    estimated_finish: Mapped[datetime | None]
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: A pause was asked for while running: the worker stops at its next step, with a checkpoint (``paused``).
    pause_requested: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: When the fine-tuned model was deleted (``DELETE /v1/models/{id}``): it is gone from every read.
    model_deleted_at: Mapped[datetime | None]
    worker_id: Mapped[str | None] = mapped_column(String(128))
    heartbeat_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    #: Seconds the job may run, all attempts together (fixed at creation); null: the deployment's default.
    wall_time_budget_s: Mapped[int | None] = mapped_column(Integer)
    #: Seconds it has run so far, all attempts together (written with the heartbeats).
    run_seconds: Mapped[float] = mapped_column(Float, default=0.0, server_default=text("0"))
    #: Tokens the job may use (generated for targets and rationales plus trained), all attempts together
    #: (fixed at creation); null: the deployment's default.
    token_budget: Mapped[int | None] = mapped_column(BigInteger)
    #: Tokens it has used so far, all attempts together (written with the heartbeats).
    tokens_used: Mapped[int] = mapped_column(BigInteger, default=0, server_default=text("0"))
    #: Bytes of the job's working folder (checkpoints, adapter before publishing), counted in the
    #: project's storage until the folder is removed after the job ended (``work_cleaned_at``).
    work_bytes: Mapped[int] = mapped_column(BigInteger, default=0, server_default=text("0"))
    work_cleaned_at: Mapped[datetime | None]
    enqueued_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    idempotency_key: Mapped[str | None] = mapped_column(String(256))
    #: SHA-256 of the canonical request body, to tell a retry from a different request with the same key.
    request_hash: Mapped[str | None] = mapped_column(String(64))

    @property
    def is_terminal(self) -> bool:
        """True once the job succeeded, failed or was cancelled (nothing changes it any more)."""
        return self.status in TERMINAL_STATUSES


class JobEvent(Base):
    """One line of a job's history. ``id`` only grows, so it doubles as the pagination cursor."""

    __tablename__ = "job_events"
    __table_args__ = (
        CheckConstraint(_in("level", EventLevel), name="level"),
        CheckConstraint(_in("type", EventType), name="type"),
        Index(None, "job_id", "id"),
        # One row per training step, also when a resumed attempt trains steps an earlier one reported.
        Index(None, "job_id", "step", unique=True),
        # Without AUTOINCREMENT SQLite may hand out the id of a deleted last row again.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    level: Mapped[str] = mapped_column(String(8), default=EventLevel.INFO)
    type: Mapped[str] = mapped_column(String(16), default=EventType.MESSAGE)
    message: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any] | None]
    #: The optimizer step a training-step (metrics) event reports; null for every other event.
    step: Mapped[int | None] = mapped_column(Integer)


class Checkpoint(Base):
    """A resumable training checkpoint (adapter, optimizer, scheduler, RNG) stored under ``storage_key``."""

    __tablename__ = "checkpoints"
    __table_args__ = (UniqueConstraint("job_id", "step"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=lambda: new_id(CHECKPOINT_PREFIX))
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    step: Mapped[int] = mapped_column(Integer)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    storage_key: Mapped[str] = mapped_column(String(512))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
