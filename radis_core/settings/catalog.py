"""Every declared setting, listed from its declaration: path, type, default, range or choices, unit, help.

``radis settings`` and ``radis-core settings`` print this list, and the tests walk it to check that
every layer refuses the same out-of-range values. Nothing here restates a setting.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from radis_core.settings.fields import SettingsModel
from radis_core.settings.methods import METHOD_SETTINGS

_BOUNDS = {"minimum": "≥", "exclusiveMinimum": ">", "maximum": "≤", "exclusiveMaximum": "<"}
_LENGTHS = {"minLength": "length ≥", "maxLength": "length ≤", "minItems": "items ≥", "maxItems": "items ≤"}


@dataclass(frozen=True)
class SettingInfo:
    """One setting as its declaration describes it."""

    section: str
    name: str
    types: tuple[str, ...]
    default: Any
    help: str
    unit: str | None = None
    #: JSON-schema constraints of each accepted type (``{"integer": {"minimum": 1}}``), for tools and tests.
    constraints: dict[str, dict[str, Any]] = field(default_factory=dict)
    choices: tuple[Any, ...] = ()
    methods: tuple[str, ...] = ()

    @property
    def path(self) -> str:
        """``section.name``, as it appears under ``method.<type>`` in a request."""
        return f"{self.section}.{self.name}"

    @property
    def range(self) -> str:
        """The accepted values in words: ``≥ 1, ≤ 100`` or ``cosine | linear | constant``."""
        parts: list[str] = []
        for kind, rules in self.constraints.items():
            words = [f"{sign} {rules[key]}" for key, sign in {**_BOUNDS, **_LENGTHS}.items() if key in rules]
            if "pattern" in rules:
                words.append(f"matching {rules['pattern']}")
            if words:
                parts.append(f"{kind} {', '.join(words)}")
        if self.choices:
            parts.append(" | ".join(str(c) for c in self.choices))
        return "; ".join(parts) or "any " + " or ".join(self.types)


def _members(schema: dict[str, Any], defs: dict[str, Any]) -> list[dict[str, Any]]:
    if "$ref" in schema:
        return _members(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    if "anyOf" in schema:
        return [m for option in schema["anyOf"] for m in _members(option, defs)]
    return [schema]


def _describe(section: str, model: type[SettingsModel], methods: tuple[str, ...]) -> list[SettingInfo]:
    schema = model.model_json_schema()
    defs = schema.get("$defs", {})
    infos = []
    for name, prop in schema["properties"].items():
        members = _members(prop, defs)
        choices: list[Any] = []
        constraints: dict[str, dict[str, Any]] = {}
        types: list[str] = []
        for member in members:
            if "const" in member:
                choices.append(member["const"])
            elif "enum" in member:
                choices.extend(member["enum"])
            kind = member.get("type", "any")
            if kind == "array":
                items = member.get("items", {})
                kind = f"list of {items.get('type', 'any')}"
                rules = {k: v for k, v in member.items() if k in _LENGTHS} | {
                    k: v for k, v in items.items() if k in _LENGTHS or k == "pattern"
                }
            else:
                rules = {k: v for k, v in member.items() if k in _BOUNDS or k in _LENGTHS or k == "pattern"}
            if kind not in types:
                types.append(kind)
            if rules:
                constraints[kind] = rules
        extra = model.model_fields[name].json_schema_extra
        unit = extra.get("unit") if isinstance(extra, dict) else None
        infos.append(
            SettingInfo(
                section=section,
                name=name,
                types=tuple(types),
                default=prop.get("default"),
                help=prop.get("description", ""),
                unit=str(unit) if unit else None,
                constraints=constraints,
                choices=tuple(choices),
                methods=methods,
            )
        )
    return infos


def all_settings() -> list[SettingInfo]:
    """Every setting of every method's sections, once each, with the methods that take it."""
    sections: dict[str, tuple[type[SettingsModel], list[str]]] = {}
    for method, model in METHOD_SETTINGS.items():
        for section, info in model.model_fields.items():
            section_model = info.annotation
            assert isinstance(section_model, type) and issubclass(section_model, SettingsModel)
            sections.setdefault(section, (section_model, []))[1].append(method)
    return [info for section, (model, methods) in sections.items() for info in _describe(section, model, tuple(methods))]
