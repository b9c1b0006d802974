"""Turn a job row into the :class:`radis_core.config.JobSpec` the pipeline runs.

Everything comes from the store: the files' blobs from the artifact store, the settings of the job
from its row. Paths under the job's folder are stable across attempts, so a job taken over by another
worker resumes from the checkpoints in ``work/``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from radis_core.config import JobSpec
from radis_core.model_names import model_reference
from radis_core.settings import (
    METHODS,
    SettingsError,
    SupervisedSettings,
    method_settings,
)
from store.artifacts import ArtifactStore
from store.models import File, Job
from store.settings import Settings


class SpecError(Exception):
    """The job cannot be run as stored; carries OpenAI's error fields for ``mark_failed``."""

    def __init__(self, code: str, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.param = param


@dataclass(frozen=True)
class JobFacts:
    """What the worker needs to know about a job after the spec is built (read once, used outside the session)."""

    job_id: str
    project_id: str
    model: str
    method: str
    suffix: str | None
    keep_checkpoints: int
    #: Seconds the job may run, all attempts together, and what earlier attempts used of them.
    wall_time_budget_s: int
    run_seconds: float
    #: Tokens the job may generate and train, all attempts together (0: no budget), and what earlier
    #: attempts used.
    token_budget: int = 0
    tokens_used: int = 0


def _blob_path(session: Session, artifacts: ArtifactStore, file_id: str, param: str, scratch_dir: Path) -> Path:
    """A local path of the file's blob: the blob itself, or its copy in ``scratch_dir`` (the job's folder)
    when the blobs live in a bucket."""
    row = session.get(File, file_id)
    if row is None:
        raise SpecError("invalid_training_file", f"{param.replace('_', ' ')} {file_id} does not exist", param)
    deleted = SpecError("invalid_training_file", f"{param.replace('_', ' ')} {file_id} was deleted before the job started", param)
    if row.deleted_at is not None:
        # The row is soft-deleted and its blob may already be gone: a run must not read half a file.
        raise deleted
    try:
        return artifacts.local_file(row.storage_key, scratch_dir)
    except FileNotFoundError:
        raise deleted from None


def job_settings(job: Job) -> SupervisedSettings:
    """The job's settings, validated again by the same declarations the API used: a row written by an
    older release, or by hand, is refused with the path of the bad field rather than run."""
    if job.method not in METHODS:
        raise SpecError("invalid_method_settings", f"method.type: unknown method {job.method!r}", "method.type")
    sections = {"hyperparameters": job.hyperparameters or {}, **dict(job.method_settings or {})}
    try:
        return method_settings(job.method, sections, f"method.{job.method}")
    except SettingsError as exc:
        code = "invalid_hyperparameters" if ".hyperparameters" in exc.path else "invalid_method_settings"
        raise SpecError(code, str(exc), exc.path) from exc


def build_spec(session: Session, artifacts: ArtifactStore, settings: Settings, job: Job) -> tuple[JobSpec, JobFacts]:
    """The pipeline's spec for ``job`` and the facts about it; :class:`SpecError` when the stored job is unusable."""
    job_dir = artifacts.job_dir(job.id)
    inputs = job_dir / "inputs"
    train_file = _blob_path(session, artifacts, job.training_file_id, "training_file", inputs)
    valid_file = (
        _blob_path(session, artifacts, job.validation_file_id, "validation_file", inputs) if job.validation_file_id else None
    )

    chosen = job_settings(job)
    spec = JobSpec(
        model=model_reference(job.model),
        train_file=train_file,
        valid_file=valid_file,
        output_dir=job_dir / "output",
        # Stable across attempts: a job taken over after a crash resumes from the checkpoints here.
        work_dir=job_dir / "work",
        cache_dir=settings.cache_dir,
        seed=int(job.seed),
        settings=chosen,
        export_merged=chosen.output.merged_model,
    )
    facts = JobFacts(
        job_id=job.id,
        project_id=job.project_id,
        model=job.model,
        method=job.method,
        suffix=job.suffix,
        keep_checkpoints=chosen.hyperparameters.keep_checkpoints,
        # A job stored before budgets existed gets the deployment's default.
        wall_time_budget_s=min(job.wall_time_budget_s or settings.job_wall_time_s, settings.max_job_wall_time_s),
        run_seconds=float(job.run_seconds or 0.0),
        token_budget=min(job.token_budget or settings.job_token_budget, settings.max_job_token_budget),
        tokens_used=int(job.tokens_used or 0),
    )
    return spec, facts
