"""What one run needs: the settings contract's sections plus the run's files, folders and device.

The settings themselves (each with its type, default, range and help) are declared once in
:mod:`radis_core.settings`; this module only gathers them with the paths of one run. It must stay
importable without torch: the API imports the settings through it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import TypeAdapter, ValidationError

from radis_core.settings import (
    DEFAULT_RATIONALE_TEMPLATE,
    DEFAULT_TRANSLATION_TEMPLATE,
    METHODS,
    EvalSettings,
    Hyperparameters,
    Method,
    RationaleSettings,
    SettingsError,
    Template,
    settings_error,
)

__all__ = ["DEFAULT_RATIONALE_TEMPLATE", "DEFAULT_TRANSLATION_TEMPLATE", "SEPARATOR", "JobSpec", "Method"]

#: The separator between the translation and its rationale in a RaDis training target. The tuned
#: model answers "translation, blank line, explanation"; evaluation stops decoding at this string.
SEPARATOR = "\n\n"

_TEMPLATE: TypeAdapter[str] = TypeAdapter(Template)


@dataclass
class JobSpec:
    """Everything one run needs. Paths are local; the service materialises uploads before calling.

    Construction checks what the settings models cannot: the method's name and the translation
    template (the sections validated themselves when they were built).
    """

    model: str
    train_file: Path
    output_dir: Path
    method: Method = "radis"
    valid_file: Path | None = None
    seed: int = 42
    #: The instruction the tuned model is trained and evaluated with (and that users should send).
    translation_template: str = DEFAULT_TRANSLATION_TEMPLATE
    src_lang: str | None = None
    tgt_lang: str | None = None
    hyperparameters: Hyperparameters = field(default_factory=Hyperparameters)
    rationale: RationaleSettings = field(default_factory=RationaleSettings)
    evaluation: EvalSettings = field(default_factory=EvalSettings)
    cache_dir: Path | None = None
    work_dir: Path | None = None
    export_merged: bool = False
    device: str = "auto"
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise SettingsError("method", f"must be one of {', '.join(METHODS)}, got {self.method!r}")
        try:
            _TEMPLATE.validate_python(self.translation_template)
        except ValidationError as exc:
            raise settings_error(exc, "translation_template") from None
