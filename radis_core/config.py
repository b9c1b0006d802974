"""Typed configuration of one fine-tuning job.

Every knob a caller may set lives here, with its help text next to it (the way peft's ``LoraConfig``
documents itself). Values that may be ``"auto"`` are resolved from the data by
:func:`radis_core.hyperparams.resolve` before training; the resolved copy is what the adapter's
``meta.json`` records.

This module must stay importable without torch: the API validates job requests against it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

Method = Literal["radis", "supervised"]
Auto = Literal["auto"]

#: The separator between the translation and its rationale in a RaDis training target. The tuned
#: model answers "translation, blank line, explanation"; evaluation stops decoding at this string.
SEPARATOR = "\n\n"

DEFAULT_TRANSLATION_TEMPLATE = "Translate the following text from {src_lang_name} to {tgt_lang_name}.\n\n{source}"
# Seen with SmolLM2-135M-Instruct: "step by step" draws numbered notes on words and grammar; naming
# the aspects to cover ("key words, grammar") made it parrot those words back instead.
DEFAULT_RATIONALE_TEMPLATE = (
    "Translate this {src_lang_name} text into {tgt_lang_name}, then explain the translation step by step.\n\n{source}"
)


@dataclass
class Hyperparameters:
    """LoRA and optimisation settings. Any field may be ``"auto"`` until resolved."""

    n_epochs: int | Auto = field(default="auto", metadata={"help": "Passes over the training set."})
    max_steps: int | None = field(default=None, metadata={"help": "Stop after this many optimizer steps (overrides epochs)."})
    batch_size: int | Auto = field(default="auto", metadata={"help": "Sequences per micro-batch."})
    gradient_accumulation_steps: int = field(default=1, metadata={"help": "Micro-batches per optimizer step."})
    learning_rate: float | Auto = field(default="auto", metadata={"help": "Peak learning rate of AdamW."})
    learning_rate_multiplier: float = field(default=1.0, metadata={"help": "OpenAI-style multiplier on the auto learning rate."})
    warmup_ratio: float = field(default=0.1, metadata={"help": "Fraction of steps spent warming up linearly."})
    lr_scheduler: Literal["cosine", "linear", "constant"] = field(default="cosine", metadata={"help": "Decay after warmup."})
    weight_decay: float = field(default=0.0, metadata={"help": "AdamW weight decay."})
    max_grad_norm: float = field(default=1.0, metadata={"help": "Gradient clipping norm."})
    lora_rank: int = field(default=16, metadata={"help": "LoRA rank r."})
    lora_alpha: int | Auto = field(default="auto", metadata={"help": "LoRA alpha; auto = 2 * rank."})
    lora_dropout: float = field(default=0.05, metadata={"help": "Dropout on the LoRA path."})
    target_modules: list[str] | Literal["all-linear"] = field(
        default="all-linear", metadata={"help": "Modules that get adapters; 'all-linear' = every linear layer but the head."}
    )
    max_seq_len: int = field(default=512, metadata={"help": "Token budget of prompt + target; the rationale is trimmed first."})
    checkpoint_every: int | Auto = field(default="auto", metadata={"help": "Save a resumable checkpoint every N optimizer steps."})
    keep_checkpoints: int = field(default=2, metadata={"help": "Newest checkpoints kept on disk."})


@dataclass
class RationaleSettings:
    """How the base model is asked to explain each reference translation."""

    template: str = field(default=DEFAULT_RATIONALE_TEMPLATE, metadata={"help": "User turn; placeholders: {source} {src_lang} {tgt_lang} {src_lang_name} {tgt_lang_name}."})
    max_new_tokens: int = field(default=128, metadata={"help": "Longest rationale generated."})
    batch_size: int = field(default=16, metadata={"help": "Prompts decoded together (length-sorted, left-padded)."})
    do_sample: bool = field(default=False, metadata={"help": "Greedy when false; sampling is seeded by the job seed."})
    temperature: float = field(default=0.7, metadata={"help": "Sampling temperature (only with do_sample)."})
    top_p: float = field(default=0.9, metadata={"help": "Nucleus sampling (only with do_sample)."})
    repetition_penalty: float = field(default=1.15, metadata={"help": "Guard against greedy loops (>1 discourages repeats)."})
    no_repeat_ngram_size: int = field(default=0, metadata={"help": "Forbid repeating n-grams of this size (0 = off)."})
    rationale_model: str | None = field(default=None, metadata={"help": "Another model writes the rationales (external-teacher ablation)."})


@dataclass
class EvalSettings:
    """Before/after evaluation."""

    holdout_fraction: float = field(default=0.2, metadata={"help": "Seeded share of the training file held out when no validation file is given."})
    max_eval_pairs: int = field(default=50, metadata={"help": "Held-out pairs translated for BLEU/chrF++."})
    max_new_tokens: int = field(default=128, metadata={"help": "Longest translation decoded at evaluation."})
    batch_size: int = field(default=16, metadata={"help": "Evaluation generation batch size."})
    retention: bool = field(default=True, metadata={"help": "Run the general-ability retention benchmarks."})
    max_probe_items: int = field(default=20, metadata={"help": "Items per retention benchmark."})
    probe_dir: str | None = field(default=None, metadata={"help": "Folder with user probe sets (<benchmark>.jsonl) replacing the built-in ones."})
    min_retention: float | None = field(default=None, metadata={"help": "Flag the result when overall retention (0-1) falls below this."})
    comet_model: str | None = field(default=None, metadata={"help": "Local COMET checkpoint; COMET is reported unavailable without it."})


@dataclass
class JobSpec:
    """Everything one run needs. Paths are local; the service materialises uploads before calling."""

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

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (paths as strings)."""
        d = asdict(self)
        for k, v in list(d.items()):
            if isinstance(v, Path):
                d[k] = str(v)
        return d


def _build(cls: type, data: dict[str, Any] | None, where: str) -> Any:
    data = dict(data or {})
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {', '.join(unknown)}")
    return cls(**data)


def hyperparameters_from_dict(data: dict[str, Any] | None) -> Hyperparameters:
    """Build :class:`Hyperparameters` from a JSON dict, rejecting unknown keys by name."""
    return _build(Hyperparameters, data, "hyperparameters")


def rationale_settings_from_dict(data: dict[str, Any] | None) -> RationaleSettings:
    """Build :class:`RationaleSettings`, rejecting unknown keys by name."""
    return _build(RationaleSettings, data, "rationale")


def eval_settings_from_dict(data: dict[str, Any] | None) -> EvalSettings:
    """Build :class:`EvalSettings`, rejecting unknown keys by name."""
    return _build(EvalSettings, data, "evaluation")
