"""Turn a ``POST /v1/fine_tuning/jobs`` body into what :func:`store.jobs.create_job` stores, or a 400 naming the field.

Checks that need no database: the model is offered here, the method sections match ``method.type``,
and every settings dict builds the library's dataclass (unknown keys refused by name, types checked
against the dataclass annotations, ranges checked by :func:`radis_core.hyperparams.validate`). Checks
that need the database (the files) live in the route.
"""

from __future__ import annotations

import dataclasses
import re
from functools import lru_cache
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from pydantic import TypeAdapter, ValidationError

from api.errors import APIError
from api.schemas import CreateJobRequest, MethodRequest
from radis_core import config as core_config
from radis_core import hyperparams
from radis_core.models import ModelSourceError, describe_source
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

_FIELD_IN_MESSAGE = re.compile(r"hyperparameters\.(\w+)")

#: Settings that name files on the server: callers may set them only where local models are allowed.
_SERVER_PATH_FIELDS = {"evaluation": ("probe_dir", "comet_model")}


@lru_cache(maxsize=None)
def _adapter(cls: type) -> TypeAdapter[Any]:
    return TypeAdapter(cls)


def _build_section(
    cls: type,
    data: dict[str, Any],
    param: str,
    from_dict: Callable[[dict[str, Any]], Any],
) -> Any:
    """Build the dataclass ``cls`` from ``data``; 400 naming ``param.<field>`` on an unknown key or a wrong type."""
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise APIError(
            400,
            f"Unrecognized field(s) in '{param}': {', '.join(unknown)}; known fields: {', '.join(sorted(known))}.",
            param=f"{param}.{unknown[0]}",
            code="unknown_parameter",
        )
    try:
        # The dataclasses carry no runtime type checks; pydantic checks the values against their annotations.
        _adapter(cls).validate_python(data)
    except ValidationError as exc:
        errors = exc.errors()
        name = str(errors[0]["loc"][0]) if errors[0]["loc"] else ""
        # A union ("int or 'auto'") fails once per member: say every alternative that was tried.
        reasons = list(dict.fromkeys(e["msg"] for e in errors if e["loc"] and str(e["loc"][0]) == name)) or [errors[0]["msg"]]
        raise APIError(
            400,
            f"Invalid value for '{param}.{name}': {' or '.join(reasons)}.",
            param=f"{param}.{name}" if name else param,
            code="invalid_value",
        ) from None
    # The library's own builder stays the authority on what the worker will accept.
    try:
        return from_dict(data)
    except (TypeError, ValueError) as exc:
        raise APIError(400, f"Invalid '{param}': {exc}.", param=param, code="invalid_value") from None


def _check_hyperparameters(data: dict[str, Any], param: str) -> dict[str, Any]:
    data = dict(data)
    # OpenAI clients send "auto" for the multiplier; here it means the library default (1.0).
    if data.get("learning_rate_multiplier") == "auto":
        del data["learning_rate_multiplier"]
    hp = _build_section(core_config.Hyperparameters, data, param, core_config.hyperparameters_from_dict)
    try:
        hyperparams.validate(hp)
    except (hyperparams.HyperparameterError, TypeError) as exc:
        text = str(exc)
        match = _FIELD_IN_MESSAGE.match(text)
        if match is None:
            raise APIError(400, f"Invalid '{param}': {text}.", param=param, code="invalid_hyperparameter") from None
        # "hyperparameters.batch_size must be > 0" → the field's full request path, then what is wrong.
        reason = text[match.end():].strip()
        field_param = f"{param}.{match.group(1)}"
        message = f"Invalid value for '{field_param}': {reason}." if reason.startswith("must") else f"Invalid '{param}': {text}."
        raise APIError(
            400,
            message,
            param=field_param,
            code="invalid_hyperparameter",
        ) from None
    return data


def validate_job_request(body: CreateJobRequest, settings: Settings) -> ValidatedJob:
    """Every database-free check of a job request; raises :class:`~api.errors.APIError` (400) naming the field."""
    model = check_model(body.model, settings)
    method = body.method or MethodRequest()
    chosen = method.type
    other = "supervised" if chosen == "radis" else "radis"
    if getattr(method, other) is not None:
        raise APIError(
            400,
            f"'method.{other}' was given but method.type is {chosen!r}; put the settings under 'method.{chosen}'.",
            param=f"method.{other}",
            code="invalid_value",
        )
    section = getattr(method, chosen)
    prefix = f"method.{chosen}"
    hp_data = section.hyperparameters if section is not None else None
    if body.hyperparameters is not None:
        if hp_data is not None:
            raise APIError(
                400,
                f"Give hyperparameters either in '{prefix}.hyperparameters' or in the deprecated top-level"
                " 'hyperparameters', not both.",
                param="hyperparameters",
                code="invalid_value",
            )
        hp_data = body.hyperparameters.model_dump(exclude_none=True)
        hp_param = "hyperparameters"
    else:
        hp_param = f"{prefix}.hyperparameters"
    hyperparameters = _check_hyperparameters(hp_data or {}, hp_param)

    method_settings: dict[str, Any] = {}
    rationale = getattr(section, "rationale", None) if section is not None else None
    if rationale:
        rationale = dict(rationale)
        _build_section(core_config.RationaleSettings, rationale, f"{prefix}.rationale", core_config.rationale_settings_from_dict)
        if rationale.get("rationale_model") is not None:
            # A teacher model is a model like any other: the same rules decide what may be loaded.
            try:
                rationale["rationale_model"] = check_model(rationale["rationale_model"], settings)
            except APIError as exc:
                exc.param = f"{prefix}.rationale.rationale_model"
                raise
        method_settings["rationale"] = rationale
    evaluation = section.evaluation if section is not None else None
    if evaluation:
        _build_section(core_config.EvalSettings, evaluation, f"{prefix}.evaluation", core_config.eval_settings_from_dict)
        for name in _SERVER_PATH_FIELDS["evaluation"]:
            if evaluation.get(name) is not None and not allow_local_models(settings):
                raise APIError(
                    400,
                    f"'{prefix}.evaluation.{name}' names a path on the server, which this deployment does not allow.",
                    param=f"{prefix}.evaluation.{name}",
                    code="invalid_value",
                )
        method_settings["evaluation"] = dict(evaluation)
    return ValidatedJob(model=model, method=chosen, hyperparameters=hyperparameters, method_settings=method_settings)
