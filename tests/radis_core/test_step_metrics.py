"""OpenAI's step metrics: token accuracy on target tokens only, and the metrics CSV clients read."""

from __future__ import annotations

import csv

import torch

from radis_core.dataset import IGNORE_INDEX
from radis_core.step_metrics import CSV_COLUMNS, target_token_counts, write_metrics_csv


def test_token_accuracy_counts_next_token_predictions_on_target_tokens_only() -> None:
    # Vocabulary of 4; the prediction at position t is scored against the label at t + 1.
    logits = torch.zeros(1, 4, 4)
    logits[0, 0, 2] = logits[0, 1, 3] = logits[0, 2, 1] = 1.0  # predicts 2, 3, 1 for positions 1..3
    labels = torch.tensor([[IGNORE_INDEX, IGNORE_INDEX, 3, 0]])  # position 1 is prompt; 2 is right, 3 wrong
    assert target_token_counts(logits, labels) == (1, 2)


def test_the_metrics_csv_has_openais_columns_and_blank_cells_where_a_step_has_no_score(tmp_path) -> None:
    history = [
        {"step": 1, "train_loss": 2.5, "train_mean_token_accuracy": 0.25, "valid_loss": None, "learning_rate": 1e-3},
        {"step": 2, "train_loss": 2.0, "train_mean_token_accuracy": 0.5, "valid_loss": 2.2, "valid_mean_token_accuracy": 0.4},
    ]
    path = write_metrics_csv(tmp_path / "metrics.csv", history)
    text = path.read_text()
    assert text.splitlines()[0] == "step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy"
    rows = list(csv.DictReader(text.splitlines()))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert rows == [
        {"step": "1", "train_loss": "2.5", "train_accuracy": "0.25", "valid_loss": "", "valid_mean_token_accuracy": ""},
        {"step": "2", "train_loss": "2.0", "train_accuracy": "0.5", "valid_loss": "2.2", "valid_mean_token_accuracy": "0.4"},
    ]
