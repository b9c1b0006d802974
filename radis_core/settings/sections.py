"""The rationale and evaluation sections of a job's settings, and the default prompt templates."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from radis_core.settings.fields import ReferenceTemplate, SettingsModel, Template, setting

DEFAULT_TRANSLATION_TEMPLATE = "Translate the following text from {src_lang_name} to {tgt_lang_name}.\n\n{source}"
# Seen with SmolLM2-135M-Instruct: "step by step" draws numbered notes on words and grammar; naming
# the aspects to cover ("key words, grammar") made it parrot those words back instead.
DEFAULT_RATIONALE_TEMPLATE = (
    "Translate this {src_lang_name} text into {tgt_lang_name}, then explain the translation step by step.\n\n{source}"
)

# SDFT (Yang et al. 2024) asks the model to restate the reference answer in its own words; here the
# "answer" is the reference translation, so the request is for a translation in the model's own style.
DEFAULT_REWRITE_TEMPLATE = (
    "Translate the following text from {src_lang_name} to {tgt_lang_name}.\n\n{source}\n\n"
    "Here is a reference translation:\n{reference}\n\n"
    "Write your own translation of the text, keeping the meaning of the reference. Reply with the translation only."
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
    # Measured on SmolLM2-135M-Instruct, 40 demo pairs (bench/rationale_finish.py): the model ends 20 % of its
    # rationales within 128 tokens and 65 % within 256 (mean 193 tokens); cut ones are trimmed to a sentence.
    max_new_tokens: int = setting(
        256,
        "Longest rationale generated; one the budget cuts is trimmed to its last complete sentence.",
        unit="tokens",
        ge=1,
        le=4096,
    )
    batch_size: int = setting(16, "Prompts decoded together.", unit="prompts", ge=1, le=512)
    do_sample: bool = setting(False, "Greedy when false; sampling is seeded by the job seed.")
    temperature: float = setting(0.7, "Sampling temperature (only with do_sample).", gt=0, le=5, allow_inf_nan=False)
    top_p: float = setting(0.9, "Nucleus sampling mass (only with do_sample).", unit="probability", gt=0, le=1)
    # Same measurement at 256 tokens: with 1.0 (the model's own greedy distribution) 20 of 40 rationales loop
    # (rejected as degenerate) and 40 % are kept; with 1.15, none loops and 97.5 % are kept.
    repetition_penalty: float = setting(
        1.15, "Guard against greedy loops (> 1 discourages repeats; 1.0 is the model's own distribution).", ge=1, le=2
    )
    no_repeat_ngram_size: int = setting(0, "Forbid repeating n-grams of this size (0 = off).", unit="tokens", ge=0, le=32)
    rationale_model: ModelReference | None = setting(
        None, "Another model writes the rationales (external-teacher ablation); default: the base model."
    )
    prompt: Literal["explain", "translation"] = setting(
        "explain",
        "Draw rationales under the explain request (template) or under the training prompt itself "
        "(the pure self-distillation reading).",
    )
    min_rationale_share: float = setting(
        0.5,
        "Fail the job before training when fewer pairs keep a rationale: below it the job is not RaDis.",
        unit="fraction",
        ge=0,
        le=1,
    )


class EvalSettings(SettingsModel):
    """Before/after evaluation: translation quality and general-ability retention."""

    holdout_fraction: float = setting(
        0.2, "Seeded share of the training file held out when no validation file is given.", unit="fraction", gt=0, le=0.5
    )
    max_eval_pairs: int = setting(50, "Held-out pairs translated for BLEU/chrF++.", unit="pairs", ge=1, le=10_000)
    max_new_tokens: int = setting(128, "Longest translation decoded at evaluation.", unit="tokens", ge=1, le=4096)
    probe_max_new_tokens: int = setting(
        128,
        "Longest probe reply decoded at evaluation (ifeval, math, general answers); safety and overrefusal stop at 64.",
        unit="tokens",
        ge=1,
        le=4096,
    )
    batch_size: int = setting(16, "Evaluation generation batch size.", unit="prompts", ge=1, le=512)
    retention: bool = setting(True, "Run the general-ability retention benchmarks.")
    max_probe_items: int = setting(
        16,
        "Items per scored benchmark (ifeval, math, safety, overrefusal); drift uses every general prompt.",
        unit="items",
        ge=1,
        le=10_000,
    )
    probe_dir: ServerPath | None = setting(
        None, "Folder on the worker with probe sets (<benchmark>.jsonl) replacing the built-in ones."
    )
    min_retention: Annotated[float, Field(ge=0, le=1)] | None = setting(
        None, "Flag the result when overall retention falls below this.", unit="fraction"
    )
    comet_model: ServerPath | None = setting(
        None, "Local COMET checkpoint on the worker; COMET is reported unavailable without it."
    )
    comet_python: ServerPath | None = setting(
        None,
        "Python of a separate environment with unbabel-comet (it pins transformers < 5); default $RADIS_COMET_PYTHON.",
    )


class RewriteSettings(SettingsModel):
    """SDFT: the teacher rewrites each reference translation in its own words."""

    template: ReferenceTemplate = setting(
        DEFAULT_REWRITE_TEMPLATE, "User turn asking for the rewrite; placeholders as for templates plus {reference}."
    )
    max_new_tokens: int = setting(128, "Longest rewrite generated.", unit="tokens", ge=1, le=4096)
    batch_size: int = setting(16, "Prompts decoded together.", unit="prompts", ge=1, le=512)
    min_chrf: float = setting(
        50.0,
        "A rewrite whose chrF++ against the reference is below this strays: the pair trains on the reference.",
        unit="chrF++",
        ge=0,
        le=100,
    )
    teacher_model: ModelReference | None = setting(None, "Another model writes the rewrites; default: the base model.")


class TeacherSettings(SettingsModel):
    """SeqKD: a teacher translates each source (greedy); the student trains on those translations."""

    max_new_tokens: int = setting(128, "Longest translation generated.", unit="tokens", ge=1, le=4096)
    batch_size: int = setting(16, "Prompts decoded together.", unit="prompts", ge=1, le=512)
    teacher_model: ModelReference | None = setting(None, "The teacher; default: the base model itself (self-distillation).")


class OutputSettings(SettingsModel):
    """What a job publishes besides its adapter, metrics, report and teacher texts."""

    merged_model: bool = setting(
        False,
        "Also publish the adapter merged into the base weights (<job>-merged.tar.gz: a full Hugging Face model folder, "
        "the size of the base model) for servers that take no adapters.",
    )
