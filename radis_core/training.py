"""LoRA training: setup → (resume) → step loop → adapter in memory.

Reads top to bottom like nanoGPT's train.py. The run is deterministic given the seed: the batch plan
depends only on (seed, epoch), and checkpoints carry optimizer, scheduler and RNG state, so a run
resumed from its newest checkpoint ends with the same loss as one that never stopped.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from radis_core.checkpoints import latest_checkpoint, load_checkpoint, save_checkpoint
from radis_core.dataset import IGNORE_INDEX, Example, collate, plan_batches
from radis_core.events import (
    CancelCheck,
    CheckpointAnnounced,
    CheckpointSaved,
    EventCallback,
    JobCancelled,
    JobInterrupted,
    Note,
    StepDone,
    StepMetrics,
    TrainingDiverged,
    never_cancel,
    no_events,
)
from radis_core.settings import ResolvedHyperparameters
from radis_core.step_metrics import VALID_SLICE, score_examples, target_token_counts


@dataclass
class TrainResult:
    """What training did."""

    steps: int
    losses: list[float]
    trained_tokens: int
    resumed_from: int | None
    seconds: float
    tokens_per_second: float
    padding_share: float
    history: list[dict[str, Any]] = field(default_factory=list)


def attach_lora(model: Any, hp: ResolvedHyperparameters, seed: int) -> Any:
    """Wrap ``model`` with fresh LoRA adapters (seeded, so two runs start from the same weights)."""
    import torch
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(seed)
    config = LoraConfig(
        r=hp.lora_rank,
        lora_alpha=hp.lora_alpha,
        lora_dropout=hp.lora_dropout,
        target_modules=hp.target_modules,
        task_type="CAUSAL_LM",
        bias="none",
    )
    return get_peft_model(model, config)


def micro_batch_plan(lengths: Sequence[int], hp: ResolvedHyperparameters, seed: int) -> list[list[int]]:
    """The full, deterministic list of micro-batches for ``max_steps`` optimizer steps."""
    need = hp.max_steps * hp.gradient_accumulation_steps
    plan: list[list[int]] = []
    epoch = 0
    while len(plan) < need:
        plan.extend(plan_batches(lengths, hp.batch_size, seed=seed, epoch=epoch))
        epoch += 1
    return plan[:need]


def train(
    model: Any,
    examples: Sequence[Example],
    hp: ResolvedHyperparameters,
    *,
    seed: int,
    pad_id: int,
    checkpoint_dir: Path | None,
    on_event: EventCallback = no_events,
    should_cancel: CancelCheck = never_cancel,
    valid_examples: Sequence[Example] = (),
) -> TrainResult:
    """Train the LoRA adapters of a peft ``model`` in place on ``examples`` (hyperparameters resolved).
    ``valid_examples``: held-out examples scored at checkpoints and the last step (:mod:`radis_core.step_metrics`)."""
    import torch
    from transformers import get_scheduler

    if not examples:
        raise ValueError("no training examples")
    device = next(model.parameters()).device
    total_steps = hp.max_steps
    accum = hp.gradient_accumulation_steps
    plan = micro_batch_plan([len(e.input_ids) for e in examples], hp, seed)

    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=hp.learning_rate, weight_decay=hp.weight_decay)
    scheduler = get_scheduler(
        hp.lr_scheduler, optimizer, num_warmup_steps=int(hp.warmup_ratio * total_steps), num_training_steps=total_steps
    )

    # Resume: the newest complete checkpoint restores weights, optimizer, schedule, RNG and history.
    start_step, losses, trained_tokens, history, resumed_from = 0, [], 0, [], None
    torch.manual_seed(seed)
    if checkpoint_dir is not None and (cp := latest_checkpoint(checkpoint_dir)) is not None:
        extra = load_checkpoint(cp, model=model, optimizer=optimizer, scheduler=scheduler)
        start_step, resumed_from = cp.step, cp.step
        losses, trained_tokens, history = list(extra["losses"]), int(extra["trained_tokens"]), list(extra["history"])
        on_event(Note("training", f"Resumed from checkpoint at step {cp.step}", {"step": cp.step}))

    def checkpoint(folder: Path, done: int, metrics: StepMetrics) -> None:
        # Announced before it is written: see CheckpointAnnounced.
        on_event(CheckpointAnnounced(done))
        cp = save_checkpoint(
            folder,
            step=done,
            model=model,
            optimizer=optimizer,
            scheduler=scheduler,
            keep=hp.keep_checkpoints,
            extra={"losses": losses, "trained_tokens": trained_tokens, "history": history},
        )
        on_event(CheckpointSaved(done, cp.path, metrics))

    model.train()
    started = time.perf_counter()
    step_tokens_seen = processed = padded = 0
    metrics: StepMetrics | None = None
    for step in range(start_step, total_steps):
        try:
            cancel = should_cancel()
        except JobInterrupted:
            # To be resumed: keep the steps finished since the last checkpoint (none if it is this step's).
            if checkpoint_dir is not None and metrics is not None and step % hp.checkpoint_every != 0:
                checkpoint(checkpoint_dir, step, metrics)
            raise
        if cancel:
            raise JobCancelled(f"cancelled before step {step + 1}")
        t0 = time.perf_counter()
        batches = [collate([examples[i] for i in idx], pad_id) for idx in plan[step * accum : (step + 1) * accum]]
        # Normalise by target tokens of the whole optimizer step, so accumulation equals one big batch.
        n_targets = sum(int((b["labels"] != IGNORE_INDEX).sum()) for b in batches)
        step_loss = 0.0
        step_correct = step_targets = 0
        for b in batches:
            b = {k: v.to(device) for k, v in b.items()}
            logits = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits
            loss = torch.nn.functional.cross_entropy(
                logits[:, :-1].reshape(-1, logits.size(-1)).float(),
                b["labels"][:, 1:].reshape(-1),
                ignore_index=IGNORE_INDEX,
                reduction="sum",
            ) / max(n_targets, 1)
            loss.backward()
            step_loss += float(loss.detach())
            hit, count = target_token_counts(logits.detach(), b["labels"])
            step_correct, step_targets = step_correct + hit, step_targets + count
            processed += int(b["attention_mask"].sum())
            padded += int(b["attention_mask"].numel())
        if not math.isfinite(step_loss):
            raise TrainingDiverged(f"loss became {step_loss} at step {step + 1}")
        torch.nn.utils.clip_grad_norm_(params, hp.max_grad_norm)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)

        done = step + 1
        losses.append(step_loss)
        trained_tokens += n_targets
        step_tokens_seen += sum(int(b["attention_mask"].sum()) for b in batches)
        elapsed = time.perf_counter() - started
        rate = step_tokens_seen / elapsed if elapsed > 0 else 0.0
        eta = (elapsed / (done - start_step)) * (total_steps - done)
        step_seconds = round(time.perf_counter() - t0, 3)  # the step's own time, not the scoring's
        # Held-out scores where OpenAI reports them: at each checkpoint, and (also on every pair) at the end.
        scored = done % hp.checkpoint_every == 0 or done == total_steps
        valid = score_examples(model, valid_examples[:VALID_SLICE], pad_id) if scored else None
        full = None
        if done == total_steps:
            full = valid if len(valid_examples) <= VALID_SLICE else score_examples(model, valid_examples, pad_id)
        metrics = StepMetrics(
            step=done,
            total_steps=total_steps,
            train_loss=round(step_loss, 6),
            learning_rate=scheduler.get_last_lr()[0],
            tokens_per_second=round(rate, 1),
            step_seconds=step_seconds,
            eta_seconds=round(eta, 1),
            train_mean_token_accuracy=round(step_correct / step_targets, 6) if step_targets else None,
            step_tokens=int(n_targets),
            valid_loss=valid.loss if valid else None,
            valid_mean_token_accuracy=valid.accuracy if valid else None,
            full_valid_loss=full.loss if full else None,
            full_valid_mean_token_accuracy=full.accuracy if full else None,
        )
        history.append(asdict(metrics))
        on_event(StepDone(metrics))

        if checkpoint_dir is not None and done % hp.checkpoint_every == 0 and done < total_steps:
            checkpoint(checkpoint_dir, done, metrics)

    model.eval()
    seconds = time.perf_counter() - started
    return TrainResult(
        steps=total_steps,
        losses=losses,
        trained_tokens=trained_tokens,
        resumed_from=resumed_from,
        seconds=seconds,
        tokens_per_second=step_tokens_seen / seconds if seconds > 0 else 0.0,
        padding_share=1 - processed / padded if padded else 0.0,
        history=history,
    )
