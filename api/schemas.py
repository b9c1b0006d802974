"""Request and response bodies, in OpenAI's shapes (files, fine-tuning jobs, events, checkpoints, models).

Extensions beyond OpenAI's fields are additive (``sha256`` on a file, ``stage``/``progress`` on a job),
so OpenAI's clients read these objects unchanged. ``from_row`` builders turn store rows into bodies.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from radis_core import model_names
from radis_core.settings import Hyperparameters, Method, RadisSettings, SdftSettings, SeqkdSettings, SupervisedSettings
from store.ids import event_public_id, unix_seconds
from store.models import Checkpoint, File, Job, JobEvent

#: OpenAI's limits on job metadata.
MAX_METADATA_PAIRS = 16
MAX_METADATA_KEY = 64
MAX_METADATA_VALUE = 512
#: Validation warnings shown on a file object (the stored report keeps them all).
MAX_WARNINGS_SHOWN = 20

# --- errors (documented in the OpenAPI schema) ----------------------------------------------------


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorEnvelope(BaseModel):
    """Every error response: ``{"error": {...}}``."""

    error: ErrorDetail


# --- files ----------------------------------------------------------------------------------------


class FileObject(BaseModel):
    """OpenAI's File object, plus ``sha256``, ``n_examples`` and the validation warnings."""

    id: str
    object: Literal["file"] = "file"
    bytes: int
    created_at: int
    filename: str
    purpose: str
    status: str
    status_details: str | None = None
    expires_at: int | None = None
    sha256: str
    n_examples: int | None = None
    n_warnings: int = 0
    #: The first validation warnings (duplicates, a BOM, ...); ``n_warnings`` counts all of them.
    warnings: list[dict[str, Any]] = Field(default_factory=list)

    @classmethod
    def from_row(cls, row: File) -> FileObject:
        validation = row.validation or {}
        warnings = [p for p in validation.get("problems", []) if p.get("severity") == "warning"]
        return cls(
            id=row.id,
            bytes=row.bytes,
            created_at=row.created_at_unix,
            filename=row.filename,
            purpose=row.purpose,
            status=row.status,
            status_details=row.status_details,
            sha256=row.sha256,
            n_examples=row.n_examples,
            n_warnings=int(validation.get("n_warnings", len(warnings))),
            warnings=warnings[:MAX_WARNINGS_SHOWN],
        )


class FileList(BaseModel):
    object: Literal["list"] = "list"
    data: list[FileObject]
    has_more: bool
    first_id: str | None = None
    last_id: str | None = None


class FileDeleted(BaseModel):
    id: str
    object: Literal["file"] = "file"
    deleted: bool = True


# --- job creation ---------------------------------------------------------------------------------


class _Strict(BaseModel):
    # Unknown keys are refused by name: a typo must not be silently ignored.
    model_config = ConfigDict(extra="forbid")


class MethodRequest(_Strict):
    """OpenAI's ``method`` object: the type, and that method's settings under a key of the same name.

    The settings models are the library's own (:mod:`radis_core.settings`): one declaration gives the
    ranges this API enforces, the worker re-checks and the OpenAPI document shows.
    """

    type: Method = "radis"
    radis: RadisSettings | None = None
    supervised: SupervisedSettings | None = None
    sdft: SdftSettings | None = None
    seqkd: SeqkdSettings | None = None


#: The schema's bound on a job's wall-time budget; the deployment's ``max_job_wall_time_s`` may be lower.
MAX_WALL_TIME_BUDGET_S = 30 * 24 * 3600
#: The schema's bound on a job's token budget; the deployment's ``max_job_token_budget`` may be lower.
MAX_TOKEN_BUDGET = 10**12


class CreateJobRequest(_Strict):
    """``POST /v1/fine_tuning/jobs``."""

    model: str = Field(min_length=1, max_length=256)
    training_file: str = Field(min_length=1, max_length=64)
    validation_file: str | None = Field(default=None, max_length=64)
    seed: int | None = Field(default=None, ge=0, le=2**31 - 1)
    suffix: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    metadata: dict[str, str] | None = None
    method: MethodRequest | None = None
    #: OpenAI's deprecated top-level hyperparameters (``method.<type>.hyperparameters`` replaces it).
    hyperparameters: Hyperparameters | None = None
    integrations: list[Any] | None = None
    #: Seconds the job may run, all attempts together, before it fails with ``budget_exceeded`` (this
    #: service's extension; default the project's budget, at most the deployment's ``max_job_wall_time_s``).
    wall_time_budget_s: int | None = Field(default=None, ge=1, le=MAX_WALL_TIME_BUDGET_S)
    #: Tokens the job may use (generated for targets and rationales plus trained), all attempts together,
    #: before it fails with ``budget_exceeded`` (this service's extension; default the project's budget,
    #: at most the deployment's ``max_job_token_budget``).
    token_budget: int | None = Field(default=None, ge=1, le=MAX_TOKEN_BUDGET)

    @field_validator("metadata")
    @classmethod
    def _check_metadata(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value is None:
            return value
        if len(value) > MAX_METADATA_PAIRS:
            raise ValueError(f"at most {MAX_METADATA_PAIRS} key-value pairs are allowed, got {len(value)}")
        for key, item in value.items():
            if not key or len(key) > MAX_METADATA_KEY:
                raise ValueError(f"key {key[:MAX_METADATA_KEY]!r}: keys must have 1 to {MAX_METADATA_KEY} characters")
            if len(item) > MAX_METADATA_VALUE:
                raise ValueError(f"value of {key!r}: values may have at most {MAX_METADATA_VALUE} characters")
        return value

    @field_validator("integrations")
    @classmethod
    def _no_integrations(cls, value: list[Any] | None) -> list[Any] | None:
        if value:
            raise ValueError("integrations are not supported by this service")
        return value


# --- jobs -----------------------------------------------------------------------------------------


class JobError(BaseModel):
    code: str | None
    message: str | None
    param: str | None = None


#: What OpenAI's job object always shows under ``hyperparameters`` until values are resolved (their defaults).
_OPENAI_HYPERPARAMETER_DEFAULTS = {
    name: Hyperparameters.model_fields[name].default for name in ("n_epochs", "batch_size", "learning_rate_multiplier")
}


def requested_or_resolved_hyperparameters(job: Job) -> dict[str, Any]:
    """The resolved hyperparameters once the worker wrote them, else what was asked (``auto`` filled in)."""
    if job.resolved_hyperparameters:
        return dict(job.resolved_hyperparameters)
    return {**_OPENAI_HYPERPARAMETER_DEFAULTS, **(job.hyperparameters or {})}


class FineTuningJob(BaseModel):
    """OpenAI's fine-tuning job object, plus ``stage`` and ``progress`` (0-1)."""

    object: Literal["fine_tuning.job"] = "fine_tuning.job"
    id: str
    created_at: int
    model: str
    fine_tuned_model: str | None
    finished_at: int | None
    organization_id: str
    result_files: list[str]
    status: str
    validation_file: str | None
    training_file: str
    hyperparameters: dict[str, Any]
    trained_tokens: int | None
    error: JobError | None
    seed: int
    estimated_finish: int | None
    integrations: list[Any] = Field(default_factory=list)
    metadata: dict[str, Any] | None
    method: dict[str, Any]
    user_provided_suffix: str | None
    stage: str | None
    progress: float

    @classmethod
    def from_row(cls, job: Job) -> FineTuningJob:
        hyperparameters = requested_or_resolved_hyperparameters(job)
        method_body: dict[str, Any] = {"hyperparameters": hyperparameters}
        for section, values in (job.method_settings or {}).items():
            if values:  # every section the caller set (rationale, evaluation, rewrite, teacher)
                method_body[section] = values
        error = None
        if job.error_code or job.error_message:
            error = JobError(code=job.error_code, message=job.error_message, param=job.error_param)
        return cls(
            id=job.id,
            created_at=job.created_at_unix,
            model=job.model,
            fine_tuned_model=job.fine_tuned_model,
            finished_at=unix_seconds(job.finished_at),
            organization_id=job.project_id,
            result_files=list(job.result_files or []),
            status=job.status,
            validation_file=job.validation_file_id,
            training_file=job.training_file_id,
            hyperparameters=hyperparameters,
            trained_tokens=job.trained_tokens,
            error=error,
            seed=job.seed,
            estimated_finish=unix_seconds(job.estimated_finish),
            metadata=job.metadata_,
            method={"type": job.method, job.method: method_body},
            user_provided_suffix=job.suffix,
            stage=job.stage,
            progress=job.progress,
        )


class JobList(BaseModel):
    object: Literal["list"] = "list"
    data: list[FineTuningJob]
    has_more: bool


class JobEventObject(BaseModel):
    object: Literal["fine_tuning.job.event"] = "fine_tuning.job.event"
    id: str
    created_at: int
    level: str
    message: str
    data: dict[str, Any] | None
    type: str

    @classmethod
    def from_row(cls, event: JobEvent) -> JobEventObject:
        return cls(
            id=event_public_id(event.id),
            created_at=event.created_at_unix,
            level=event.level,
            message=event.message,
            data=event.data,
            type=event.type,
        )


class JobEventList(BaseModel):
    object: Literal["list"] = "list"
    data: list[JobEventObject]
    has_more: bool


def checkpoint_model_name(job: Job, step: int) -> str:
    """The name of a checkpoint's model: the job's model name (the final one, or the one it will get) and
    ``:ckpt-step-<n>``, as OpenAI names checkpoints (:mod:`radis_core.model_names`)."""
    return model_names.checkpoint_model_name(
        job.fine_tuned_model or model_names.fine_tuned_model_name(job.model, job.suffix, job.id), step
    )


class CheckpointMetrics(BaseModel):
    """OpenAI's checkpoint metrics: training loss and token accuracy of the checkpoint's step, and loss and
    token accuracy on held-out pairs (``valid_*`` on a slice of them, ``full_valid_*`` on all of them at
    the last step; ``null`` where not computed). See :mod:`radis_core.step_metrics`."""

    step: int
    train_loss: float | None = None
    train_mean_token_accuracy: float | None = None
    valid_loss: float | None = None
    valid_mean_token_accuracy: float | None = None
    full_valid_loss: float | None = None
    full_valid_mean_token_accuracy: float | None = None

    @classmethod
    def from_stored(cls, step: int, stored: dict[str, Any] | None) -> CheckpointMetrics:
        """The OpenAI fields of a checkpoint row's metrics (the worker stores the step's whole record)."""
        known = {name: (stored or {}).get(name) for name in cls.model_fields if name != "step"}
        return cls(step=step, **known)


class CheckpointObject(BaseModel):
    object: Literal["fine_tuning.job.checkpoint"] = "fine_tuning.job.checkpoint"
    id: str
    created_at: int
    fine_tuned_model_checkpoint: str
    step_number: int
    metrics: CheckpointMetrics
    fine_tuning_job_id: str

    @classmethod
    def from_row(cls, checkpoint: Checkpoint, job: Job) -> CheckpointObject:
        return cls(
            id=checkpoint.id,
            created_at=checkpoint.created_at_unix,
            fine_tuned_model_checkpoint=checkpoint_model_name(job, checkpoint.step),
            step_number=checkpoint.step,
            metrics=CheckpointMetrics.from_stored(checkpoint.step, checkpoint.metrics),
            fine_tuning_job_id=job.id,
        )


class CheckpointList(BaseModel):
    object: Literal["list"] = "list"
    data: list[CheckpointObject]
    has_more: bool
    first_id: str | None = None
    last_id: str | None = None


class RationaleSampleList(BaseModel):
    """A sample of the rationales a RaDis job trained on (first lines of its ``rationales.jsonl``)."""

    object: Literal["list"] = "list"
    data: list[dict[str, Any]]
    has_more: bool


# --- models ---------------------------------------------------------------------------------------


class ModelObject(BaseModel):
    """OpenAI's model object. Catalogue entries have no creation date: ``created`` is 0 for them."""

    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelObject]


class ModelDeleted(BaseModel):
    """OpenAI's answer to deleting a fine-tuned model."""

    id: str
    object: Literal["model"] = "model"
    deleted: bool = True
