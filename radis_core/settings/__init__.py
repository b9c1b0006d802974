"""One contract for a job's settings: each setting declared once, with type, default, range, unit and help.

The API's request schema, the worker's spec, the pipeline and both command lines build these models,
so they accept and refuse the same values and name a refused one by its path. Importable without torch.
"""

from radis_core.settings.fields import (
    TEMPLATE_PLACEHOLDERS,
    SettingsError,
    SettingsModel,
    Template,
    build,
    check_template,
    field_path,
    settings_error,
)
from radis_core.settings.hyperparameters import Hyperparameters, ResolvedHyperparameters, resolve
from radis_core.settings.methods import (
    METHOD_SETTINGS,
    METHODS,
    Method,
    RadisSettings,
    SdftSettings,
    SeqkdSettings,
    SupervisedSettings,
    as_method,
    method_settings,
    rationale_of,
)
from radis_core.settings.overrides import merged_sections, parse_assignments, parse_settings_json
from radis_core.settings.sections import (
    DEFAULT_RATIONALE_TEMPLATE,
    DEFAULT_TRANSLATION_TEMPLATE,
    EvalSettings,
    OutputSettings,
    RationaleSettings,
    RewriteSettings,
    TeacherSettings,
)

__all__ = [
    "DEFAULT_RATIONALE_TEMPLATE",
    "DEFAULT_TRANSLATION_TEMPLATE",
    "METHODS",
    "METHOD_SETTINGS",
    "TEMPLATE_PLACEHOLDERS",
    "EvalSettings",
    "Hyperparameters",
    "Method",
    "RadisSettings",
    "RationaleSettings",
    "OutputSettings",
    "RewriteSettings",
    "SdftSettings",
    "SeqkdSettings",
    "TeacherSettings",
    "ResolvedHyperparameters",
    "SettingsError",
    "SettingsModel",
    "SupervisedSettings",
    "Template",
    "as_method",
    "build",
    "check_template",
    "field_path",
    "merged_sections",
    "method_settings",
    "parse_assignments",
    "parse_settings_json",
    "rationale_of",
    "resolve",
    "settings_error",
]
