import math

import pytest
import torch
from peft import get_peft_model_state_dict

from radis_core.dataset import build_examples
from radis_core.events import CheckpointAnnounced, CheckpointSaved, JobCancelled, JobInterrupted, TrainingDiverged
from radis_core.models import load_model, resolve_model
from radis_core.settings import DEFAULT_TRANSLATION_TEMPLATE, Hyperparameters, resolve
from radis_core.training import attach_lora, train

from .conftest import make_pairs


def _setup(tiny_model_dir, **hp_kw):
    model, tok = load_model(resolve_model(str(tiny_model_dir)), device="cpu", dtype="float32")
    examples, _ = build_examples(tok, make_pairs(12), method="supervised", template=DEFAULT_TRANSLATION_TEMPLATE, max_seq_len=256)
    hp = resolve(
        Hyperparameters(batch_size=4, n_epochs=2, learning_rate=5e-3, checkpoint_every=2, lora_rank=4, **hp_kw),
        n_examples=len(examples),
    )
    return attach_lora(model, hp, seed=7), tok, examples, hp


def test_loss_goes_down_and_events_are_reported(tiny_model_dir, tmp_path):
    model, tok, examples, hp = _setup(tiny_model_dir)
    events = []
    res = train(model, examples, hp, seed=7, pad_id=tok.pad_token_id, checkpoint_dir=tmp_path / "ck", on_event=events.append)
    assert res.steps == hp.max_steps == 6
    assert res.losses[-1] < res.losses[0]
    metrics = [e for e in events if e.type == "metrics"]
    assert [e.data["step"] for e in metrics] == list(range(1, 7))
    assert {"train_loss", "learning_rate", "tokens_per_second", "eta_seconds"} <= set(metrics[0].data)
    assert [e.step for e in events if isinstance(e, CheckpointSaved)] == [2, 4]
    assert res.trained_tokens == sum(e.target_tokens for e in examples) * 2


def test_a_checkpoint_is_announced_before_it_is_written(tiny_model_dir, tmp_path):
    """A listener that batches metrics flushes on the announcement, so nothing on disk is ahead of what it recorded."""
    from radis_core.checkpoints import latest_checkpoint

    model, tok, examples, hp = _setup(tiny_model_dir)
    seen = []

    def on_event(event):
        newest = latest_checkpoint(tmp_path / "ck")
        kind = {CheckpointAnnounced: "checkpoint_start", CheckpointSaved: "checkpoint"}.get(type(event), event.type)
        seen.append((kind, event.data.get("step"), newest.step if newest else 0))

    train(model, examples, hp, seed=7, pad_id=tok.pad_token_id, checkpoint_dir=tmp_path / "ck", on_event=on_event)
    starts = [(step, on_disk) for kind, step, on_disk in seen if kind == "checkpoint_start"]
    assert starts == [(2, 0), (4, 2)]  # step N announced while only the previous checkpoint exists
    order = [(kind, step) for kind, step, _ in seen if kind != "metrics" or step in (2, 4)]
    assert order == [
        ("metrics", 2),
        ("checkpoint_start", 2),
        ("checkpoint", 2),
        ("metrics", 4),
        ("checkpoint_start", 4),
        ("checkpoint", 4),
    ]


def test_resume_from_checkpoint_matches_uninterrupted_run(tiny_model_dir, tmp_path):
    full_model, tok, examples, hp = _setup(tiny_model_dir, lora_dropout=0.1)  # dropout: the RNG must be restored too
    full = train(full_model, examples, hp, seed=7, pad_id=tok.pad_token_id, checkpoint_dir=tmp_path / "a")

    model, tok, examples, hp = _setup(tiny_model_dir, lora_dropout=0.1)
    steps_seen = []

    def stop_after_step_4() -> bool:
        return len(steps_seen) >= 4

    with pytest.raises(JobCancelled):
        train(
            model,
            examples,
            hp,
            seed=7,
            pad_id=tok.pad_token_id,
            checkpoint_dir=tmp_path / "b",
            on_event=lambda e: steps_seen.append(1) if e.type == "metrics" else None,
            should_cancel=stop_after_step_4,
        )

    model, tok, examples, hp = _setup(tiny_model_dir, lora_dropout=0.1)  # a fresh process would start like this
    resumed = train(model, examples, hp, seed=7, pad_id=tok.pad_token_id, checkpoint_dir=tmp_path / "b")
    assert resumed.resumed_from == 4
    assert resumed.losses == pytest.approx(full.losses, rel=1e-6, abs=1e-7)
    assert resumed.trained_tokens == full.trained_tokens
    # The schedule goes on where it stopped (a scheduler restarted on resume would warm up again), and the
    # adapter ends where the uninterrupted one did.
    assert [h["learning_rate"] for h in resumed.history] == pytest.approx(
        [h["learning_rate"] for h in full.history], rel=1e-9, abs=0
    )
    assert len({h["learning_rate"] for h in full.history}) > 2  # warmup and decay: the schedule really moves
    full_weights, resumed_weights = get_peft_model_state_dict(full_model), get_peft_model_state_dict(model)
    assert full_weights.keys() == resumed_weights.keys()
    for name, weight in full_weights.items():
        torch.testing.assert_close(resumed_weights[name], weight, rtol=1e-5, atol=1e-6, msg=name)


def test_an_interrupted_run_checkpoints_its_finished_steps_and_resumes_there(tiny_model_dir, tmp_path):
    """A worker shutting down (JobInterrupted from the cancel check) keeps step 3, between the periodic 2 and 4."""
    full_model, tok, examples, hp = _setup(tiny_model_dir)
    full = train(full_model, examples, hp, seed=7, pad_id=tok.pad_token_id, checkpoint_dir=tmp_path / "a")

    model, tok, examples, hp = _setup(tiny_model_dir)
    events = []

    def drain_after_step_3() -> bool:
        if sum(e.type == "metrics" for e in events) >= 3:
            raise JobInterrupted("the worker is shutting down")
        return False

    with pytest.raises(JobInterrupted):
        train(
            model,
            examples,
            hp,
            seed=7,
            pad_id=tok.pad_token_id,
            checkpoint_dir=tmp_path / "b",
            on_event=events.append,
            should_cancel=drain_after_step_3,
        )
    assert [e.step for e in events if isinstance(e, CheckpointSaved)] == [2, 3]

    model, tok, examples, hp = _setup(tiny_model_dir)
    resumed = train(model, examples, hp, seed=7, pad_id=tok.pad_token_id, checkpoint_dir=tmp_path / "b")
    assert resumed.resumed_from == 3
    assert resumed.losses == pytest.approx(full.losses, rel=1e-6, abs=1e-7)


def test_an_interrupt_right_after_a_checkpoint_writes_no_second_one(tiny_model_dir, tmp_path):
    model, tok, examples, hp = _setup(tiny_model_dir)
    events = []

    def drain_after_step_2() -> bool:
        if sum(e.type == "metrics" for e in events) >= 2:
            raise JobInterrupted("the worker is shutting down")
        return False

    with pytest.raises(JobInterrupted):
        train(
            model,
            examples,
            hp,
            seed=7,
            pad_id=tok.pad_token_id,
            checkpoint_dir=tmp_path / "ck",
            on_event=events.append,
            should_cancel=drain_after_step_2,
        )
    assert [e.step for e in events if isinstance(e, CheckpointSaved)] == [2]


def test_nan_loss_raises_training_diverged(tiny_model_dir):
    model, tok, examples, hp = _setup(tiny_model_dir)
    with torch.no_grad():
        next(p for n, p in model.named_parameters() if "lora_A" in n).fill_(float("nan"))
    with pytest.raises(TrainingDiverged, match="step 1"):
        train(model, examples, hp, seed=7, pad_id=tok.pad_token_id, checkpoint_dir=None)


def test_cancel_before_first_step(tiny_model_dir):
    model, tok, examples, hp = _setup(tiny_model_dir)
    with pytest.raises(JobCancelled):
        train(model, examples, hp, seed=7, pad_id=tok.pad_token_id, checkpoint_dir=None, should_cancel=lambda: True)
    assert math.isfinite(hp.learning_rate)


def test_checkpoints_and_the_last_step_carry_openais_held_out_metrics(tiny_model_dir, tmp_path):
    model, tok, examples, hp = _setup(tiny_model_dir)
    held_out, _ = build_examples(
        tok, make_pairs(20)[12:], method="supervised", template=DEFAULT_TRANSLATION_TEMPLATE, max_seq_len=256
    )
    events = []
    res = train(
        model,
        examples,
        hp,
        seed=7,
        pad_id=tok.pad_token_id,
        checkpoint_dir=tmp_path / "ck",
        on_event=events.append,
        valid_examples=held_out,
    )
    by_step = {row["step"]: row for row in res.history}
    assert all(0.0 <= row["train_mean_token_accuracy"] <= 1.0 for row in res.history)
    # Scored at the checkpoints (2, 4) and the last step (6) only; the full set at the last step only.
    assert [s for s, row in by_step.items() if row["valid_loss"] is not None] == [2, 4, 6]
    assert [s for s, row in by_step.items() if row["full_valid_loss"] is not None] == [6]
    assert all(0.0 <= by_step[s]["valid_mean_token_accuracy"] <= 1.0 for s in (2, 4, 6))
    saved = [e for e in events if isinstance(e, CheckpointSaved)]
    assert [e.metrics.valid_loss for e in saved] == [by_step[2]["valid_loss"], by_step[4]["valid_loss"]]
    # Scoring changes nothing: the same run without held-out examples trains to the same losses.
    plain_model, tok, examples, hp = _setup(tiny_model_dir)
    plain = train(plain_model, examples, hp, seed=7, pad_id=tok.pad_token_id, checkpoint_dir=tmp_path / "plain")
    assert plain.losses == res.losses
