"""The building blocks every job setting is declared with, and the error that names a setting's path.

A setting is a field of a :class:`SettingsModel` declared with :func:`setting`: its type, default,
range or choice set, unit and help text live in that one declaration. Validation happens when the
model is constructed (pydantic, strict types), so the API's request schema, the worker's spec, the
pipeline and both command lines refuse the same values with the same reason. This module imports
no torch: the web API builds its request schema from it.
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError
from pydantic.json_schema import JsonDict
from pydantic_core import ErrorDetails

#: Placeholders a template may use, bare (``{source}``): no format spec, no conversion, no indexing.
TEMPLATE_PLACEHOLDERS = ("source", "src_lang", "tgt_lang", "src_lang_name", "tgt_lang_name")
#: Longest template accepted (characters). A template is repeated in every prompt of a job.
MAX_TEMPLATE_CHARS = 4000


class SettingsModel(BaseModel):
    """Base of every settings section: unknown keys refused by name, strict types, immutable.

    Strict so that ``true`` is no epoch count and ``"8"`` no rank: a JSON client sends numbers as numbers.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, validate_default=True)


def setting(default: Any, help: str, *, unit: str | None = None, **constraints: Any) -> Any:
    """A field declaration: default, help text, unit, and pydantic constraints (``ge``, ``le``, ``max_length`` ...).

    Constraints of fields that also accept ``"auto"`` or ``None`` go on the numeric member of the union
    instead (``Annotated[int, Field(ge=1)] | Literal["auto"]``), where pydantic can apply them.
    """
    extra: JsonDict | None = {"unit": unit} if unit else None
    return Field(default, description=help, json_schema_extra=extra, **constraints)


def check_template(
    template: str, allowed: tuple[str, ...] = TEMPLATE_PLACEHOLDERS, required: tuple[str, ...] = ("source",)
) -> str:
    """``template`` when it uses only bare ``allowed`` placeholders and names every ``required`` one;
    ``ValueError`` otherwise.

    ``str.format`` would honour a format spec such as ``{source:>2000000000}`` and build a 2 GB string per
    prompt, or reach attributes with ``{source.__class__}``: only bare names are allowed.
    """
    names: set[str] = set()
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:  # an unmatched brace
        raise ValueError(f"not a valid template ({exc}); write a literal brace as {{{{ or }}}}") from None
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if name not in allowed:
            raise ValueError(f"unknown placeholder {{{name}}}; allowed: {', '.join('{' + p + '}' for p in allowed)}")
        if spec or conversion:
            raise ValueError(f"placeholder {{{name}}} must be bare (no format spec or conversion)")
        names.add(name)
    for name in required:
        if name not in names:
            raise ValueError(f"the template must contain {{{name}}}")
    return template


#: A prompt template: bounded length, bare known placeholders, ``{source}`` required.
Template = Annotated[str, Field(min_length=1, max_length=MAX_TEMPLATE_CHARS), AfterValidator(check_template)]
#: A template that also shows the reference translation (SDFT's rewrite request): ``{reference}`` required.
ReferenceTemplate = Annotated[
    str,
    Field(min_length=1, max_length=MAX_TEMPLATE_CHARS),
    AfterValidator(lambda t: check_template(t, (*TEMPLATE_PLACEHOLDERS, "reference"), ("source", "reference"))),
]


M = TypeVar("M", bound="SettingsModel")


class SettingsError(ValueError):
    """A setting was refused. ``path`` is the dotted path of the field (``evaluation.min_retention``),
    ``reason`` what is wrong with its value; ``unknown`` is true when the key itself is not a setting."""

    def __init__(self, path: str, reason: str, *, unknown: bool = False) -> None:
        super().__init__(f"{path}: {reason}" if path else reason)
        self.path = path
        self.reason = reason
        self.unknown = unknown

    def under(self, prefix: str) -> SettingsError:
        """The same error with ``prefix`` in front of its path (``method.radis.`` + ``evaluation.x``)."""
        path = f"{prefix}.{self.path}" if self.path else prefix
        return SettingsError(path, self.reason, unknown=self.unknown)


#: How pydantic names the member of a union it tried ("constrained-int", "literal['auto']", "list[str]",
#: "function-after[...]"): not a field, so not part of the path a user wrote.
_MEMBER_TAG = re.compile(r"(int|float|str|bool|bytes|none|constrained-[a-z]+|[a-z-]+\[.*\])")


def _is_member_tag(part: object) -> bool:
    return isinstance(part, str) and _MEMBER_TAG.fullmatch(part) is not None


def field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    """The dotted path of a pydantic error location, without union-member tags (``a.b[0].c``)."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif not _is_member_tag(part):
            path += f".{part}" if path else str(part)
    return path


def error_reason(errors: Sequence[ErrorDetails], path: str) -> str:
    """One sentence for the errors at ``path``: every alternative of a union that was tried, once each."""
    messages = [str(e["msg"]).removeprefix("Value error, ") for e in errors if field_path(e.get("loc", ())) == path]
    return " or ".join(dict.fromkeys(messages)) or "invalid value"


def settings_error(exc: ValidationError, prefix: str = "") -> SettingsError:
    """The first error of a pydantic validation as a :class:`SettingsError` naming its full path."""
    errors = list(exc.errors())
    first = errors[0]
    path = field_path(first.get("loc", ()))
    unknown = first.get("type") == "extra_forbidden"
    reason = "not a known setting" if unknown else error_reason(errors, path)
    error = SettingsError(path, reason, unknown=unknown)
    return error.under(prefix) if prefix else error


def build(model: type[M], data: Any, prefix: str = "") -> M:
    """``model`` built from ``data`` (a dict, or ``None`` for all defaults); :class:`SettingsError` naming the path."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SettingsError(prefix, f"must be an object, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise settings_error(exc, prefix) from None
