"""Settings from a command line: ``KEY=VALUE`` assignments and ``--settings`` JSON (inline or ``@file``).

Both command lines (``radis-core run`` and ``radis jobs create``) read settings this way and hand the
result to the same models, so a value is refused with the same words wherever it is typed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from radis_core.settings.fields import SettingsError


def parse_assignments(items: list[str], option: str) -> dict[str, Any]:
    """``KEY=VALUE`` pairs; values are JSON when they parse (``3``, ``1e-4``, ``true``), else strings (``auto``)."""
    found: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise SettingsError(option, f"{item!r}: expected KEY=VALUE")
        try:
            found[key] = json.loads(raw)
        except ValueError:
            found[key] = raw
    return found


def parse_settings_json(raw: str | None, option: str = "--settings") -> dict[str, Any]:
    """A JSON object, or ``@path`` to a file holding one (the method's sections: hyperparameters, rationale, evaluation)."""
    if not raw:
        return {}
    text = raw
    if raw.startswith("@"):
        try:
            text = Path(raw[1:]).read_text(encoding="utf-8")
        except OSError as exc:
            raise SettingsError(option, f"{raw}: {exc}") from None
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise SettingsError(option, f"not JSON ({exc})") from None
    if not isinstance(value, dict):
        raise SettingsError(option, 'expected a JSON object such as {"hyperparameters": {...}, "evaluation": {...}}')
    return value


def merged_sections(
    sections: dict[str, Any], *, hyperparameters: dict[str, Any] | None = None, dotted: dict[str, Any] | None = None
) -> dict[str, Any]:
    """``sections`` with ``hyperparameters`` assignments and ``section.key`` assignments laid over it."""
    out = {name: dict(value) if isinstance(value, dict) else value for name, value in sections.items()}
    if hyperparameters:
        out["hyperparameters"] = {**(out.get("hyperparameters") or {}), **hyperparameters}
    for path, value in (dotted or {}).items():
        section, sep, key = path.partition(".")
        if not sep or not key:
            raise SettingsError(path, "expected SECTION.KEY=VALUE, e.g. evaluation.max_probe_items=40")
        current = out.get(section)
        if current is not None and not isinstance(current, dict):
            raise SettingsError(section, "must be an object")
        out[section] = {**(current or {}), key: value}
    return out
