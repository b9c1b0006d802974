"""Probe sets for the general-ability retention benchmarks, and their loader.

The built-in sets in ``radis_core/probes/`` are original, written or generated for this project (not
copied from IFEval, GSM8K, AdvBench, XSTest or any other dataset) and are published under the
project's licence (Apache-2.0). They are large enough that one answer moves a rate by well under a
percentage point when a run uses them all; retention runs the first ``max_probe_items`` of each
scored set, and the files are ordered so that every prefix mixes their kinds of items.

- ``ifeval.jsonl``  — ``{"id", "prompt", "checks": [{"type": ..., ...}]}``: verifiable instructions,
  checked by :mod:`radis_core.evaluation.checks`; 26 hand-written, 400 generated
  (:mod:`~radis_core.evaluation.ifeval_generation`).
- ``math.jsonl``    — ``{"id", "question", "answer", "level"}``: word problems with a numeric answer;
  26 hand-written multi-step, 100 generated one- and two-step (:mod:`~radis_core.evaluation.math_generation`).
- ``safety.jsonl``  — ``{"id", "prompt"}``: clearly harmful requests a chat model should refuse (60).
- ``overrefusal.jsonl`` — ``{"id", "prompt", "kind", "pair"?}``: benign requests that look like
  harmful ones (homonyms such as "kill a process", figurative speech, one's own property, safety
  questions, history), XSTest-style; a refusal there is a failure (60). ``pair`` names the harmful
  request a look-alike mirrors.
- ``general.jsonl`` — ``{"id", "prompt"}``: everyday chat prompts; the base model's answers to them
  measure drift (50, all used).

The generated items are rewritten by ``python -m radis_core.evaluation.probe_generation`` (see there).
A caller replaces any set by putting ``<name>.jsonl`` of the same shape in a ``probe_dir``; extra
fields on a line are kept (e.g. a category) and ignored by scoring.
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator

from radis_core.evaluation.checks import Check

NonEmptyStr = Annotated[str, StringConstraints(min_length=1)]


class _Item(BaseModel):
    # Extra keys are kept so user sets can carry metadata (category, source) through to the details.
    model_config = ConfigDict(extra="allow")

    id: NonEmptyStr

    @field_validator("*", mode="before")
    @classmethod
    def _no_blank_strings(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            raise ValueError("must not be blank")
        return value


class IfevalItem(_Item):
    """One instruction-following prompt with the checks its reply must pass."""

    prompt: NonEmptyStr
    checks: Annotated[list[Check], Field(min_length=1)]


class MathItem(_Item):
    """One word problem; ``answer`` is the final number (a JSON number or a numeric string)."""

    question: NonEmptyStr
    answer: str

    @field_validator("answer", mode="before")
    @classmethod
    def _numeric_answer(cls, value: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ValueError("must be a number or a numeric string")
        text = str(value).strip().replace(",", "").removeprefix("$")
        try:
            Decimal(text)
        except InvalidOperation:
            raise ValueError(f"{value!r} is not a number") from None
        return text


class PromptItem(_Item):
    """One prompt with nothing to check but the reply itself (safety, general)."""

    prompt: NonEmptyStr


PROBE_SCHEMAS: dict[str, type[_Item]] = {
    "ifeval": IfevalItem,
    "math": MathItem,
    "safety": PromptItem,
    "overrefusal": PromptItem,
    "general": PromptItem,
}
"""Probe set name -> the model each of its lines must validate against."""


def _format_error(err: ValidationError) -> str:
    parts = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "line"
        parts.append(f"{loc}: {e['msg']}")
    return "; ".join(parts)


def _builtin_text(name: str) -> tuple[str, str]:
    resource = resources.files("radis_core").joinpath("probes", f"{name}.jsonl")
    return resource.read_text(encoding="utf-8"), f"built-in probes/{name}.jsonl"


def parse_probe_lines(name: str, text: str, source: str) -> list[dict[str, Any]]:
    """Validate JSONL ``text`` as probe set ``name``; errors say ``source`` and the 1-based line number."""
    schema = PROBE_SCHEMAS[name]
    items: list[dict[str, Any]] = []
    first_line_of: dict[str, int] = {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as err:
            raise ValueError(f"{source} line {lineno}: not valid JSON ({err.msg} at column {err.colno})") from None
        if not isinstance(raw, dict):
            raise ValueError(f"{source} line {lineno}: expected a JSON object, got {type(raw).__name__}")
        try:
            item = schema.model_validate(raw)
        except ValidationError as err:
            raise ValueError(f"{source} line {lineno}: {_format_error(err)}") from None
        if item.id in first_line_of:
            raise ValueError(f"{source} line {lineno}: duplicate id {item.id!r} (first on line {first_line_of[item.id]})")
        first_line_of[item.id] = lineno
        items.append(item.model_dump(mode="json"))
    if not items:
        raise ValueError(f"{source}: no probe items")
    return items


def load_probes(name: str, probe_dir: str | Path | None = None, limit: int | None = None) -> list[dict[str, Any]]:
    """The items of probe set ``name`` (one of :data:`PROBE_SCHEMAS`), in file order.

    When ``probe_dir`` holds ``<name>.jsonl`` it replaces the built-in set; sets it does not hold stay
    built-in, so a caller may override just one. ``limit`` keeps the first ``limit`` items.
    """
    if name not in PROBE_SCHEMAS:
        raise ValueError(f"unknown probe set {name!r}; known: {', '.join(PROBE_SCHEMAS)}")
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be at least 1 (or None for all items), got {limit}")

    text: str | None = None
    source = ""
    if probe_dir is not None:
        directory = Path(probe_dir)
        if not directory.is_dir():
            raise ValueError(f"probe_dir {str(directory)!r} is not a directory")
        user_file = directory / f"{name}.jsonl"
        if user_file.is_file():
            source = str(user_file)
            try:
                text = user_file.read_text(encoding="utf-8")
            except UnicodeDecodeError as err:
                raise ValueError(f"{source}: not UTF-8 text (byte {err.start})") from None
    if text is None:
        text, source = _builtin_text(name)

    items = parse_probe_lines(name, text, source)
    return items if limit is None else items[:limit]
