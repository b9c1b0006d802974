"""Out-of-range values for every declared job setting, derived from the declaration itself.

The API, ``radis-core run`` and the worker's spec each walk this list (tests/api/test_job_settings.py,
tests/radis_core/test_cli.py, tests/worker/test_spec.py): a setting added with a range is checked by
all three without a line here; a setting added without a range or choice set fails the walk.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from radis_core.settings.catalog import SettingInfo, all_settings


@dataclass(frozen=True)
class BadSetting:
    """One refused value: the method whose section takes it, the setting's path and the value."""

    method: str
    info: SettingInfo
    value: Any

    @property
    def path(self) -> str:
        return self.info.path

    @property
    def id(self) -> str:
        return f"{self.method}:{self.path}={str(self.value)[:24]}"


def _bad_values(info: SettingInfo) -> list[Any]:
    values: list[Any] = []
    for kind, rules in info.constraints.items():
        if kind in ("integer", "number"):
            if "maximum" in rules:
                values.append(rules["maximum"] + 1)
            if "exclusiveMaximum" in rules:
                values.append(rules["exclusiveMaximum"])
            if "minimum" in rules:
                values.append(rules["minimum"] - 1)
            if "exclusiveMinimum" in rules:
                values.append(rules["exclusiveMinimum"])
        elif kind == "string":
            if "maxLength" in rules:
                values.append("x" * (rules["maxLength"] + 1))
        elif kind.startswith("list"):
            if "minItems" in rules:
                values.append([])
            if "maxItems" in rules:
                values.append(["q_proj"] * (rules["maxItems"] + 1))
    if info.choices and all(isinstance(c, str) for c in info.choices) and "string" not in info.constraints:
        values.append("not-one-of-the-choices")
    if info.types == ("boolean",):
        values.append("yes")  # strict: a string is no boolean
    if info.name.endswith("template"):
        values.extend(["{source:>2000000000}", "{nope} {source}", "no placeholder at all"])
    return values


def bad_settings() -> list[BadSetting]:
    """Every setting of every method, each with each value its declaration refuses."""
    cases = []
    for info in all_settings():
        values = _bad_values(info)
        assert values, f"{info.path} declares no range or choice set: give it one (ge/le, max_length, Literal)"
        cases.extend(BadSetting(info.methods[0], info, v) for v in values)
    return cases


BAD_SETTINGS = bad_settings()
BAD_IDS = [case.id for case in BAD_SETTINGS]
