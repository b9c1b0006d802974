"""Turn a ``POST /v1/fine_tuning/jobs`` body into what :func:`store.jobs.create_job` stores, or a 400 naming the field.

The body's settings were validated as it was parsed: its schema embeds the settings contract
(:mod:`radis_core.settings`), so types, ranges and unknown keys are refused with the field's path
before this module runs. Left here: the deployment's rules (which models and server paths a caller
may name) and the request's shape (one method section, hyperparameters given once). Checks that
need the database (the files) live in the route.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from api.errors import APIError
from api.schemas import CreateJobRequest, MethodRequest
from radis_core.models import ModelSourceError, describe_source
from radis_core.settings import METHODS, SettingsModel, SupervisedSettings
from store.settings import Settings


@dataclass
class ValidatedJob:
    """A job request that passed every check that needs no database."""

    model: str
    method: str
    hyperparameters: dict[str, Any]
    method_settings: dict[str, Any] = field(default_factory=dict)


def allow_local_models(settings: Settings) -> bool:
    """Whether callers may name a local folder or .gguf file as the model (a deployment choice, off by default)."""
    return settings.allow_local_models


def base_models(settings: Settings) -> list[str]:
    """Names of the base models callers may fine-tune: the deployment's ``public_models`` (by default the
    library's catalogue, whose models load without a model hub)."""
    return list(dict.fromkeys(settings.public_models))


def check_model(model: str, settings: Settings) -> str:
    """``model`` if callers may fine-tune it here; 400 (param ``model``) otherwise."""
    if model in base_models(settings):
        return model
    if allow_local_models(settings):
        try:
            kind = describe_source(model)
        except ModelSourceError:
            kind = None
        path = Path(model).expanduser()
        if kind == "folder" and (path / "config.json").is_file():
            return str(path.resolve())
        if kind == "gguf" and path.is_file():
            return str(path.resolve())
    offered = ", ".join(base_models(settings))
    local = " or a local model folder / .gguf file" if allow_local_models(settings) else ""
    raise APIError(
        400,
        f"The model {model!r} is not available for fine-tuning here; use one of: {offered}{local}.",
        param="model",
        code="model_not_available",
    )


# --- settings sections ----------------------------------------------------------------------------

#: Settings that name a model (a teacher): checked like the job's own ``model``.
_MODEL_FIELDS = (("rationale", "rationale_model"), ("rewrite", "teacher_model"), ("teacher", "teacher_model"))
#: Settings that name files on the server: callers may set them only where local models are allowed.
_SERVER_PATH_FIELDS = {"evaluation": ("probe_dir", "comet_model", "comet_python")}


def _given(section: SettingsModel | None) -> dict[str, Any] | None:
    """What the caller set in a section (defaults stay unresolved, so the job shows what was asked)."""
    return section.model_dump(exclude_unset=True) if section is not None else None


def validate_job_request(body: CreateJobRequest, settings: Settings) -> ValidatedJob:
    """Every database-free check of a job request; raises :class:`~api.errors.APIError` (400) naming the field.

    Ranges, types and unknown keys were checked when the body was parsed (the settings contract);
    what is left are the rules of this deployment and of the request's shape.
    """
    model = check_model(body.model, settings)
    method = body.method or MethodRequest()
    chosen = method.type
    for other in METHODS:
        if other != chosen and getattr(method, other) is not None:
            raise APIError(
                400,
                f"'method.{other}' was given but method.type is {chosen!r}; put the settings under 'method.{chosen}'.",
                param=f"method.{other}",
                code="invalid_value",
            )
    section: SupervisedSettings | None = getattr(method, chosen)
    prefix = f"method.{chosen}"
    hyperparameters = (
        _given(section.hyperparameters) if section is not None and "hyperparameters" in section.model_fields_set else None
    )
    if body.hyperparameters is not None:
        if hyperparameters is not None:
            raise APIError(
                400,
                f"Give hyperparameters either in '{prefix}.hyperparameters' or in the deprecated top-level"
                " 'hyperparameters', not both.",
                param="hyperparameters",
                code="invalid_value",
            )
        hyperparameters = _given(body.hyperparameters)

    method_settings: dict[str, Any] = {}
    if section is not None:
        for name in sorted(section.model_fields_set - {"hyperparameters"}):
            given = _given(getattr(section, name))
            if given:
                method_settings[name] = given
    for section_name, name in _MODEL_FIELDS:
        section_values = method_settings.get(section_name) or {}
        if section_values.get(name) is not None:
            # A teacher model is a model like any other: the same rules decide what may be loaded.
            try:
                section_values[name] = check_model(section_values[name], settings)
            except APIError as exc:
                exc.param = f"{prefix}.{section_name}.{name}"
                raise
    for section_name, names in _SERVER_PATH_FIELDS.items():
        for name in names:
            if (method_settings.get(section_name) or {}).get(name) is not None and not allow_local_models(settings):
                raise APIError(
                    400,
                    f"'{prefix}.{section_name}.{name}' names a path on the server, which this deployment does not allow.",
                    param=f"{prefix}.{section_name}.{name}",
                    code="invalid_value",
                )
    return ValidatedJob(model=model, method=chosen, hyperparameters=hyperparameters or {}, method_settings=method_settings)
