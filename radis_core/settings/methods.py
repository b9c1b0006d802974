"""The fine-tuning methods and the settings sections each one takes (the API's ``method.<type>`` object)."""

from __future__ import annotations

from typing import Any, Literal, cast, get_args

from pydantic import Field

from radis_core.settings.fields import SettingsError, SettingsModel, build
from radis_core.settings.hyperparameters import Hyperparameters
from radis_core.settings.sections import EvalSettings, OutputSettings, RationaleSettings, RewriteSettings, TeacherSettings

Method = Literal["radis", "supervised", "sdft", "seqkd"]
METHODS: tuple[str, ...] = get_args(Method)


class SupervisedSettings(SettingsModel):
    """``method.supervised``: the plain fine-tuning baseline, trained on the reference alone."""

    hyperparameters: Hyperparameters = Field(default_factory=Hyperparameters, description="LoRA and optimisation.")
    evaluation: EvalSettings = Field(default_factory=EvalSettings, description="Before/after evaluation.")
    output: OutputSettings = Field(default_factory=OutputSettings, description="Extra result files.")


class RadisSettings(SupervisedSettings):
    """``method.radis``: trained on reference + the base model's own rationale for it."""

    rationale: RationaleSettings = Field(default_factory=RationaleSettings, description="How rationales are drawn.")


class SdftSettings(SupervisedSettings):
    """``method.sdft``: trained on the base model's rewrite of each reference (SDFT, Yang et al. 2024)."""

    rewrite: RewriteSettings = Field(default_factory=RewriteSettings, description="How rewrites are drawn and kept.")


class SeqkdSettings(SupervisedSettings):
    """``method.seqkd``: trained on a teacher's greedy translations of the sources (sequence-level KD)."""

    teacher: TeacherSettings = Field(default_factory=TeacherSettings, description="The teacher and its decoding.")


#: Each method's settings model; every other layer looks a method's sections up here.
METHOD_SETTINGS: dict[str, type[SupervisedSettings]] = {
    "radis": RadisSettings,
    "supervised": SupervisedSettings,
    "sdft": SdftSettings,
    "seqkd": SeqkdSettings,
}


def method_settings(method: str, data: dict[str, Any] | None, prefix: str = "") -> SupervisedSettings:
    """The settings of ``method`` built from ``data`` (its sections); :class:`SettingsError` naming the path."""
    return build(METHOD_SETTINGS[method], data, prefix)


def rationale_of(settings: SupervisedSettings) -> RationaleSettings | None:
    """The rationale section of a method that draws rationales, else ``None``."""
    return settings.rationale if isinstance(settings, RadisSettings) else None


def as_method(name: str) -> Method:
    """``name`` as a :data:`Method`; :class:`SettingsError` for a name that is not one."""
    if name not in METHODS:
        raise SettingsError("method", f"must be one of {', '.join(METHODS)}, got {name!r}")
    return cast(Method, name)
