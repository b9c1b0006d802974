"""LoRA and optimisation settings as a caller asks for them, and the resolved values training uses.

:class:`Hyperparameters` is the request: several fields may be ``"auto"``. :func:`resolve` turns it
into :class:`ResolvedHyperparameters` from the data, by rules plain enough to predict; the resolved
copy is what the job object, the report and the adapter's ``meta.json`` record.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Annotated, Any, Literal

from pydantic import Field

from radis_core.dtype import DtypeName, DtypeRequest, ResolvedDtype, resolve_dtype
from radis_core.settings.fields import SettingsError, SettingsModel, setting

Auto = Literal["auto"]
#: A module name peft matches against the model's layers (``q_proj``, ``model.layers.0.mlp``, ``*``).
ModuleName = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.*-]+$")]


class Hyperparameters(SettingsModel):
    """LoRA and optimisation settings. Fields typed with ``"auto"`` are resolved from the data."""

    n_epochs: Annotated[int, Field(ge=1, le=100)] | Auto = setting("auto", "Passes over the training set.", unit="epochs")
    max_steps: Annotated[int, Field(ge=1, le=1_000_000)] | None = setting(
        None, "Stop after this many optimizer steps (overrides n_epochs).", unit="steps"
    )
    batch_size: Annotated[int, Field(ge=1, le=1024)] | Auto = setting("auto", "Sequences per micro-batch.", unit="sequences")
    gradient_accumulation_steps: int = setting(1, "Micro-batches per optimizer step.", unit="micro-batches", ge=1, le=1024)
    learning_rate: Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)] | Auto = setting(
        "auto", "Peak learning rate of AdamW; auto = 2e-4."
    )
    learning_rate_multiplier: Annotated[float, Field(gt=0, le=100, allow_inf_nan=False)] | Auto = setting(
        "auto", "OpenAI-style multiplier on the learning rate; auto = 1."
    )
    warmup_ratio: float = setting(0.1, "Share of the steps spent warming up linearly.", unit="fraction", ge=0, lt=1)
    lr_scheduler: Literal["cosine", "linear", "constant"] = setting("cosine", "Learning-rate decay after warmup.")
    weight_decay: float = setting(0.0, "AdamW weight decay.", ge=0, le=1)
    max_grad_norm: float = setting(1.0, "Gradient clipping norm.", gt=0, le=1000, allow_inf_nan=False)
    lora_rank: int = setting(16, "LoRA rank r.", ge=1, le=1024)
    lora_alpha: Annotated[int, Field(ge=1, le=4096)] | Auto = setting("auto", "LoRA alpha; auto = 2 × rank.")
    lora_dropout: float = setting(0.05, "Dropout on the LoRA path.", unit="probability", ge=0, lt=1)
    target_modules: Annotated[list[ModuleName], Field(min_length=1, max_length=64)] | Literal["all-linear"] = setting(
        "all-linear", "Modules that get adapters; 'all-linear' = every linear layer but the output head."
    )
    max_seq_len: int = setting(
        512,
        "Token budget of prompt + target; the rationale is trimmed first, never the reference.",
        unit="tokens",
        ge=16,
        le=131072,
    )
    checkpoint_every: Annotated[int, Field(ge=1, le=1_000_000)] | Auto = setting(
        "auto", "Save a resumable checkpoint every N optimizer steps; auto = a quarter of the run.", unit="steps"
    )
    keep_checkpoints: int = setting(2, "Newest checkpoints kept on disk.", unit="checkpoints", ge=1, le=100)
    dtype: DtypeRequest = setting(
        "auto",
        "Dtype of the frozen base weights in generation, training and evaluation (LoRA weights and optimizer stay "
        "float32); auto = bfloat16 where the device computes it natively and it was measured faster (CUDA with "
        "bf16, a CPU with AMX), float32 elsewhere.",
    )


@dataclass(frozen=True)
class ResolvedHyperparameters:
    """Hyperparameters with every ``"auto"`` resolved: what training runs with and the job records."""

    n_epochs: int
    max_steps: int
    batch_size: int
    gradient_accumulation_steps: int
    #: The peak learning rate, the multiplier already applied.
    learning_rate: float
    #: The multiplier that was applied (OpenAI's job object always shows one).
    learning_rate_multiplier: float
    warmup_ratio: float
    lr_scheduler: Literal["cosine", "linear", "constant"]
    weight_decay: float
    max_grad_norm: float
    lora_rank: int
    lora_alpha: int
    lora_dropout: float
    target_modules: list[str] | Literal["all-linear"]
    max_seq_len: int
    checkpoint_every: int
    keep_checkpoints: int
    #: The base weights' dtype as resolved on the machine that ran the job, and why (radis_core.dtype).
    dtype: DtypeName
    dtype_reason: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (the job's ``hyperparameters`` once resolved, ``meta.json``)."""
        return asdict(self)


#: The learning rate "auto" stands for: a common LoRA default for 0.1B–8B chat models.
AUTO_LEARNING_RATE = 2e-4


def resolve(hp: Hyperparameters, *, n_examples: int, dtype: ResolvedDtype | None = None) -> ResolvedHyperparameters:
    """Fill every ``"auto"`` field from the number of training examples.

    ``dtype`` is the base weights' dtype as the run resolved it on its device; without one, ``hp.dtype`` is
    resolved for the CPU of this machine.
    """
    chosen = dtype if dtype is not None else resolve_dtype(hp.dtype, "cpu")
    if n_examples <= 0:
        raise SettingsError(
            "hyperparameters.max_seq_len",
            f"no training example fits in {hp.max_seq_len} tokens (prompt + reference); raise max_seq_len or use shorter pairs",
        )
    batch = hp.batch_size if hp.batch_size != "auto" else max(1, min(8, n_examples // 8 or 1))
    # Few examples need more passes to move the model at all; large sets need one.
    epochs = hp.n_epochs if hp.n_epochs != "auto" else (3 if n_examples < 64 else 2 if n_examples < 1000 else 1)
    base_lr = hp.learning_rate if hp.learning_rate != "auto" else AUTO_LEARNING_RATE
    multiplier = hp.learning_rate_multiplier if hp.learning_rate_multiplier != "auto" else 1.0
    steps_per_epoch = math.ceil(math.ceil(n_examples / batch) / hp.gradient_accumulation_steps)
    total = hp.max_steps or steps_per_epoch * epochs
    return ResolvedHyperparameters(
        n_epochs=epochs,
        max_steps=total,
        batch_size=batch,
        gradient_accumulation_steps=hp.gradient_accumulation_steps,
        learning_rate=float(base_lr * multiplier),
        learning_rate_multiplier=float(multiplier),
        warmup_ratio=hp.warmup_ratio,
        lr_scheduler=hp.lr_scheduler,
        weight_decay=hp.weight_decay,
        max_grad_norm=hp.max_grad_norm,
        lora_rank=hp.lora_rank,
        lora_alpha=hp.lora_alpha if hp.lora_alpha != "auto" else 2 * hp.lora_rank,
        lora_dropout=hp.lora_dropout,
        target_modules=list(hp.target_modules) if hp.target_modules != "all-linear" else "all-linear",
        max_seq_len=hp.max_seq_len,
        checkpoint_every=hp.checkpoint_every if hp.checkpoint_every != "auto" else max(1, total // 4),
        keep_checkpoints=hp.keep_checkpoints,
        dtype=chosen.name,
        dtype_reason=chosen.reason,
    )
