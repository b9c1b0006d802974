"""The rationale and evaluation sections of a job's settings, and the default prompt templates."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from radis_core.settings.fields import SettingsModel, Template, setting

DEFAULT_TRANSLATION_TEMPLATE = "Translate the following text from {src_lang_name} to {tgt_lang_name}.\n\n{source}"
# Seen with SmolLM2-135M-Instruct: "step by step" draws numbered notes on words and grammar; naming
# the aspects to cover ("key words, grammar") made it parrot those words back instead.
DEFAULT_RATIONALE_TEMPLATE = (
    "Translate this {src_lang_name} text into {tgt_lang_name}, then explain the translation step by step.\n\n{source}"
)

#: A model reference: a catalogue name, a hub id, or (where the deployment allows) a local path.
ModelReference = Annotated[str, Field(min_length=1, max_length=512)]
#: A folder or file on the worker (only where the deployment allows callers to name server paths).
ServerPath = Annotated[str, Field(min_length=1, max_length=1024)]


class RationaleSettings(SettingsModel):
    """How the base model is asked to explain each reference translation."""

    template: Template = setting(
        DEFAULT_RATIONALE_TEMPLATE,
        "User turn of the rationale request (the reference is prefilled as the answer); "
        "placeholders: {source} {src_lang} {tgt_lang} {src_lang_name} {tgt_lang_name}.",
    )
    max_new_tokens: int = setting(128, "Longest rationale generated.", unit="tokens", ge=1, le=4096)
    batch_size: int = setting(16, "Prompts decoded together.", unit="prompts", ge=1, le=512)
    do_sample: bool = setting(False, "Greedy when false; sampling is seeded by the job seed.")
    temperature: float = setting(0.7, "Sampling temperature (only with do_sample).", gt=0, le=5, allow_inf_nan=False)
    top_p: float = setting(0.9, "Nucleus sampling mass (only with do_sample).", unit="probability", gt=0, le=1)
    repetition_penalty: float = setting(1.15, "Guard against greedy loops (> 1 discourages repeats).", ge=1, le=2)
    no_repeat_ngram_size: int = setting(0, "Forbid repeating n-grams of this size (0 = off).", unit="tokens", ge=0, le=32)
    rationale_model: ModelReference | None = setting(
        None, "Another model writes the rationales (external-teacher ablation); default: the base model."
    )


class EvalSettings(SettingsModel):
    """Before/after evaluation: translation quality and general-ability retention."""

    holdout_fraction: float = setting(
        0.2, "Seeded share of the training file held out when no validation file is given.", unit="fraction", gt=0, le=0.5
    )
    max_eval_pairs: int = setting(50, "Held-out pairs translated for BLEU/chrF++.", unit="pairs", ge=1, le=10_000)
    max_new_tokens: int = setting(128, "Longest translation or probe answer decoded at evaluation.", unit="tokens", ge=1, le=4096)
    batch_size: int = setting(16, "Evaluation generation batch size.", unit="prompts", ge=1, le=512)
    retention: bool = setting(True, "Run the general-ability retention benchmarks.")
    max_probe_items: int = setting(20, "Items per retention benchmark.", unit="items", ge=1, le=10_000)
    probe_dir: ServerPath | None = setting(
        None, "Folder on the worker with probe sets (<benchmark>.jsonl) replacing the built-in ones."
    )
    min_retention: Annotated[float, Field(ge=0, le=1)] | None = setting(
        None, "Flag the result when overall retention falls below this.", unit="fraction"
    )
    comet_model: ServerPath | None = setting(
        None, "Local COMET checkpoint on the worker; COMET is reported unavailable without it."
    )
