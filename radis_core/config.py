"""What one run needs: the method's settings plus the run's files, folders and device.

The settings themselves (each with its type, default, range and help) are declared once in
:mod:`radis_core.settings`; this module only gathers them with the paths of one run. The method is
the settings' type (``RadisSettings`` → ``radis``), so a spec cannot pair one method with another's
sections. It must stay importable without torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pydantic import TypeAdapter, ValidationError

from radis_core.dtype import DtypeRequest
from radis_core.settings import (
    DEFAULT_RATIONALE_TEMPLATE,
    DEFAULT_TRANSLATION_TEMPLATE,
    METHOD_SETTINGS,
    EvalSettings,
    Hyperparameters,
    Method,
    RadisSettings,
    SupervisedSettings,
    Template,
    as_method,
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

    Construction checks the translation template (the settings validated themselves when built).
    """

    model: str
    train_file: Path
    output_dir: Path
    #: The method's settings; their type names the method (see :data:`radis_core.settings.METHOD_SETTINGS`).
    settings: SupervisedSettings = field(default_factory=RadisSettings)
    valid_file: Path | None = None
    seed: int = 42
    #: The instruction the tuned model is trained and evaluated with (and that users should send).
    translation_template: str = DEFAULT_TRANSLATION_TEMPLATE
    src_lang: str | None = None
    tgt_lang: str | None = None
    cache_dir: Path | None = None
    work_dir: Path | None = None
    export_merged: bool = False
    device: str = "auto"

    def __post_init__(self) -> None:
        try:
            _TEMPLATE.validate_python(self.translation_template)
        except ValidationError as exc:
            raise settings_error(exc, "translation_template") from None

    @property
    def method(self) -> Method:
        """The method these settings belong to."""
        return as_method(next(name for name, model in METHOD_SETTINGS.items() if type(self.settings) is model))

    @property
    def dtype(self) -> DtypeRequest:
        """The base weights' dtype as asked (``hyperparameters.dtype``); :func:`radis_core.dtype.resolve_dtype` resolves it."""
        return self.settings.hyperparameters.dtype

    @property
    def hyperparameters(self) -> Hyperparameters:
        return self.settings.hyperparameters

    @property
    def evaluation(self) -> EvalSettings:
        return self.settings.evaluation
