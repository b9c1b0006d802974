"""Resolve ``"auto"`` hyperparameters from the data and the hardware.

The rules are deliberately plain so a caller can predict them; the resolved values are recorded in
the job and in the adapter's ``meta.json``.
"""

from __future__ import annotations

import math
from dataclasses import replace

from radis_core.config import Hyperparameters


class HyperparameterError(ValueError):
    """A hyperparameter is out of range; the message names the field."""


def _check(hp: Hyperparameters) -> None:
    def positive(name: str, value: object, *, allow_zero: bool = False) -> None:
        if value == "auto" or value is None:
            return
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(float(value)):
            raise HyperparameterError(f"hyperparameters.{name} must be a number, got {value!r}")
        if value < 0 or (value == 0 and not allow_zero):
            raise HyperparameterError(f"hyperparameters.{name} must be {'>= 0' if allow_zero else '> 0'}, got {value!r}")

    for name in ("n_epochs", "batch_size", "learning_rate", "learning_rate_multiplier", "gradient_accumulation_steps",
                 "lora_rank", "lora_alpha", "max_seq_len", "checkpoint_every", "keep_checkpoints", "max_steps"):
        positive(name, getattr(hp, name))
    for name in ("warmup_ratio", "weight_decay", "lora_dropout", "max_grad_norm"):
        positive(name, getattr(hp, name), allow_zero=True)
    for name in ("n_epochs", "batch_size", "gradient_accumulation_steps", "lora_rank", "lora_alpha", "max_seq_len",
                 "checkpoint_every", "keep_checkpoints", "max_steps"):
        v = getattr(hp, name)
        if v not in ("auto", None) and (isinstance(v, float) and not v.is_integer()):
            raise HyperparameterError(f"hyperparameters.{name} must be a whole number, got {v!r}")
    if hp.warmup_ratio >= 1 or hp.lora_dropout >= 1:
        raise HyperparameterError("hyperparameters.warmup_ratio and lora_dropout must be < 1")
    limits = {"n_epochs": 100, "batch_size": 1024, "lora_rank": 1024, "max_seq_len": 131072, "max_steps": 10_000_000,
              "gradient_accumulation_steps": 1024}
    for name, top in limits.items():
        v = getattr(hp, name)
        if v not in ("auto", None) and v > top:
            raise HyperparameterError(f"hyperparameters.{name} must be <= {top}, got {v!r}")
    if hp.learning_rate != "auto" and hp.learning_rate > 1:
        raise HyperparameterError(f"hyperparameters.learning_rate must be <= 1, got {hp.learning_rate!r}")
    if hp.lr_scheduler not in ("cosine", "linear", "constant"):
        raise HyperparameterError(f"hyperparameters.lr_scheduler must be cosine, linear or constant, got {hp.lr_scheduler!r}")


def validate(hp: Hyperparameters) -> None:
    """Raise :class:`HyperparameterError` naming the first bad field."""
    _check(hp)


def resolve(hp: Hyperparameters, *, n_examples: int) -> Hyperparameters:
    """Fill every ``"auto"`` field; the result has only concrete values."""
    _check(hp)
    if n_examples <= 0:
        raise HyperparameterError("no training examples left after tokenisation")
    batch = hp.batch_size if hp.batch_size != "auto" else max(1, min(8, n_examples // 8 or 1))
    # Few examples need more passes to move the model at all; large sets need one.
    epochs = hp.n_epochs if hp.n_epochs != "auto" else (3 if n_examples < 64 else 2 if n_examples < 1000 else 1)
    lr = (hp.learning_rate if hp.learning_rate != "auto" else 2e-4) * hp.learning_rate_multiplier
    alpha = hp.lora_alpha if hp.lora_alpha != "auto" else 2 * hp.lora_rank
    steps_per_epoch = math.ceil(math.ceil(n_examples / batch) / hp.gradient_accumulation_steps)
    total = hp.max_steps or steps_per_epoch * int(epochs)
    every = hp.checkpoint_every if hp.checkpoint_every != "auto" else max(1, total // 4)
    return replace(
        hp,
        batch_size=int(batch),
        n_epochs=int(epochs),
        learning_rate=float(lr),
        learning_rate_multiplier=1.0,
        lora_alpha=int(alpha),
        checkpoint_every=int(every),
        max_steps=int(total),
        lora_rank=int(hp.lora_rank),
        max_seq_len=int(hp.max_seq_len),
        gradient_accumulation_steps=int(hp.gradient_accumulation_steps),
    )
