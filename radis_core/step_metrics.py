"""The numbers OpenAI reports per step and checkpoint: mean token accuracy, and loss and accuracy on
held-out examples; and the metrics CSV that OpenAI clients read from a job's first result file.

Held-out ("valid") metrics are computed on the held-out translation pairs, scored on the reference
translation alone (whatever the method trains on), so the numbers of a RaDis job and a supervised one
compare. They are cheap by design: ``valid_*`` on the first :data:`VALID_SLICE` pairs at each checkpoint
and at the last step, ``full_valid_*`` on every held-out pair at the last step only. Evaluation runs in
``eval`` mode without gradients, so it changes neither the weights nor the random state: a resumed run
stays identical to one that never stopped.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from radis_core.dataset import IGNORE_INDEX, Example, collate

#: Held-out examples scored at each checkpoint (``valid_loss``, ``valid_mean_token_accuracy``).
VALID_SLICE = 16
#: Examples per forward pass when scoring held-out examples.
VALID_BATCH = 8
#: The columns of OpenAI's metrics CSV, in its order.
CSV_COLUMNS = ("step", "train_loss", "train_accuracy", "valid_loss", "valid_mean_token_accuracy")


@dataclass(frozen=True)
class TokenScore:
    """Mean cross-entropy and next-token accuracy over the target tokens of some examples."""

    loss: float
    accuracy: float


def target_token_counts(logits: Any, labels: Any) -> tuple[int, int]:
    """``(correct, total)`` next-token predictions of a batch on its target tokens (labels not ignored)."""
    predicted = logits[:, :-1].argmax(dim=-1)
    targets = labels[:, 1:]
    mask = targets != IGNORE_INDEX
    return int(((predicted == targets) & mask).sum()), int(mask.sum())


def score_examples(model: Any, examples: Sequence[Example], pad_id: int) -> TokenScore | None:
    """Loss and token accuracy of ``model`` on ``examples`` (``None`` for none); leaves the model in the
    mode it found it in."""
    import torch

    if not examples:
        return None
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    loss_sum, correct, total = 0.0, 0, 0
    try:
        with torch.no_grad():
            for start in range(0, len(examples), VALID_BATCH):
                batch = {k: v.to(device) for k, v in collate(examples[start : start + VALID_BATCH], pad_id).items()}
                logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
                loss_sum += float(
                    torch.nn.functional.cross_entropy(
                        logits[:, :-1].reshape(-1, logits.size(-1)).float(),
                        batch["labels"][:, 1:].reshape(-1),
                        ignore_index=IGNORE_INDEX,
                        reduction="sum",
                    )
                )
                hit, count = target_token_counts(logits, batch["labels"])
                correct += hit
                total += count
    finally:
        if was_training:
            model.train()
    if total == 0:
        return None
    return TokenScore(round(loss_sum / total, 6), round(correct / total, 6))


def write_metrics_csv(path: Path, history: Iterable[dict[str, Any]]) -> Path:
    """Write OpenAI's metrics CSV (:data:`CSV_COLUMNS`, one row per step; empty cells where a step has
    no held-out score) from a run's step history; returns ``path``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in history:
        values = {
            "step": row.get("step"),
            "train_loss": row.get("train_loss"),
            "train_accuracy": row.get("train_mean_token_accuracy"),
            "valid_loss": row.get("valid_loss"),
            "valid_mean_token_accuracy": row.get("valid_mean_token_accuracy"),
        }
        writer.writerow(["" if values[c] is None else values[c] for c in CSV_COLUMNS])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path
