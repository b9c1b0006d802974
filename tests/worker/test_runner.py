"""The runner on real components: Postgres (committed), the artifact store, and radis_core on the tiny model."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import secrets
import tarfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from radis_core.corpus import write_jsonl
from store.artifacts import ArtifactStore
from store.db import session_scope
from store.events import list_checkpoints
from store.ids import utcnow
from store.jobs import claim_job, request_cancel, take_over_stale
from store.models import File, JobEvent
from store.result_files import RESULT_PURPOSE
from store.settings import Settings
from worker.runner import process_job

from .conftest import de_en_pairs, event_messages, first_event_id, job_events, load_job

pytestmark = pytest.mark.timeout(300)

#: A job without the retention benchmarks: the quickest complete run.
QUICK = {"method": "supervised", "method_settings": {"evaluation": {"retention": False}}}


def _stage_events(events: list[JobEvent]) -> list[str]:
    """Stages in the order the store recorded entering them (``set_stage`` writes ``{"stage": …}``)."""
    return [e.data["stage"] for e in events if e.data and set(e.data) == {"stage"}]


def _training_steps(events: list[JobEvent]) -> list[int]:
    return [e.data["step"] for e in events if e.type == "metrics" and e.data and "train_loss" in e.data]


def _run_in_thread(target: Callable[[], str]) -> tuple[threading.Thread, dict[str, str]]:
    result: dict[str, str] = {}

    def body() -> None:
        try:
            result["outcome"] = target()
        except BaseException as exc:  # surfaced by the test's assertion on result
            result["error"] = repr(exc)

    thread = threading.Thread(target=body, daemon=True)
    thread.start()
    return thread, result


def _wait_for(condition: Callable[[], object], timeout: float = 180.0, what: str = "condition") -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def _project_of(factory: sessionmaker[Session], job_id: str) -> str:
    return load_job(factory, job_id).project_id


def test_a_job_runs_to_succeeded_with_events_checkpoints_and_result_files(
    factory: sessionmaker[Session],
    artifacts: ArtifactStore,
    worker_settings: Settings,
    make_job,
    tiny_model_dir: Path,
    tmp_path: Path,
) -> None:
    job_id = make_job()

    assert process_job(factory, artifacts, worker_settings, job_id, "worker-a") == "succeeded"

    job = load_job(factory, job_id)
    assert job.status == "succeeded" and job.error_code is None
    assert job.progress == 1.0 and job.estimated_finish is None and job.stage == "exporting"
    assert job.fine_tuned_model == f"ft:tiny-llama:radis:{job_id}"
    assert job.trained_tokens and job.trained_tokens > 0
    assert job.resolved_hyperparameters["batch_size"] == 4 and job.resolved_hyperparameters["max_steps"] == 3
    assert job.attempts == 1 and job.worker_id == "worker-a"

    events = job_events(factory, job_id)
    messages = [e.message for e in events]
    assert messages[0].startswith("Created fine-tuning job") and messages[1] == "Fine-tuning job started"
    assert messages[-2:] == [f"New fine-tuned model created: {job.fine_tuned_model}", "The job has successfully completed"]
    assert _stage_events(events) == ["generating_rationales", "training", "evaluating", "exporting"]
    assert messages.count("Exporting the adapter") == 1  # the pipeline's line repeats the stage's
    assert _training_steps(events) == [1, 2, 3]
    ids = [e.id for e in events]
    assert ids == sorted(ids)
    # Each step's metrics come after the training stage began and before evaluation began.
    stage_at = {e.data["stage"]: e.id for e in events if e.data and set(e.data) == {"stage"}}
    step_ids = [e.id for e in events if e.type == "metrics" and e.data and "train_loss" in e.data]
    assert stage_at["training"] < min(step_ids) and max(step_ids) < stage_at["evaluating"]
    assert any(e.type == "metrics" and e.data and "rationales_done" in e.data for e in events)
    # Server paths are not the caller's business.
    assert not any(str(artifacts.root) in e.message or str(artifacts.root) in json.dumps(e.data) for e in events)

    with session_scope(factory) as session:
        checkpoints, _ = list_checkpoints(session, job_id)
    assert [c.step for c in checkpoints] == [2, 1]
    for checkpoint in checkpoints:
        assert checkpoint.storage_key == f"jobs/{job_id}/work/checkpoints/step-{checkpoint.step:08d}"
        assert checkpoint.metrics["step"] == checkpoint.step and checkpoint.metrics["train_loss"] > 0
        # OpenAI's checkpoint metrics: held-out loss and token accuracy at each checkpoint.
        assert checkpoint.metrics["valid_loss"] > 0 and 0 <= checkpoint.metrics["valid_mean_token_accuracy"] <= 1
    # The job ended: its folder (checkpoints included) is gone and counts no more; the rows stay as history.
    assert not artifacts.path(f"jobs/{job_id}").exists()
    assert job.work_bytes == 0 and job.work_cleaned_at is not None

    with session_scope(factory) as session:
        files = {f.id: f for f in session.scalars(select(File).where(File.id.in_(job.result_files)))}
    assert [files[i].filename for i in job.result_files] == [
        f"{job_id}-metrics.csv",
        f"{job_id}-adapter.tar.gz",
        f"{job_id}-report.json",
        f"{job_id}-rationales.jsonl",
    ]  # spelled out: these names are what clients see (store.result_files)
    metrics_csv = artifacts.path(files[job.result_files[0]].storage_key).read_text().splitlines()
    assert metrics_csv[0] == "step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy"
    assert [line.split(",")[0] for line in metrics_csv[1:]] == ["1", "2", "3"]
    assert all(line.split(",")[3] for line in metrics_csv[1:])  # every step of this run is a checkpoint or the last
    for row in files.values():
        assert row.purpose == RESULT_PURPOSE and row.project_id == job.project_id and row.status == "processed"
        blob = artifacts.path(row.storage_key).read_bytes()
        assert len(blob) == row.bytes and hashlib.sha256(blob).hexdigest() == row.sha256

    _, adapter_row, report_row, rationales_row = (files[i] for i in job.result_files)
    report = json.loads(artifacts.path(report_row.storage_key).read_text())
    assert "bleu" in json.dumps(report) and "drift" in json.dumps(report)
    assert rationales_row.n_examples == 12

    with tarfile.open(artifacts.path(adapter_row.storage_key), "r:gz") as archive:
        archive.extractall(tmp_path / "download", filter="data")
    folder = tmp_path / "download" / f"{job_id}-adapter"
    assert json.loads((folder / "meta.json").read_text())["method"] == "radis"

    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    tuned = PeftModel.from_pretrained(base, folder)
    assert any("lora_A" in name for name, _ in tuned.named_parameters())


def test_cancel_requested_mid_run_ends_cancelled(
    factory: sessionmaker[Session], artifacts: ArtifactStore, worker_settings: Settings, make_job
) -> None:
    job_id = make_job(method="supervised")
    thread, result = _run_in_thread(
        lambda: process_job(factory, artifacts, worker_settings, job_id, "worker-a", cancel_poll_s=0.1)
    )
    _wait_for(lambda: first_event_id(factory, job_id, lambda e: bool(e.data and "train_loss" in e.data)), what="step 1")
    with session_scope(factory) as session:
        assert request_cancel(session, _project_of(factory, job_id), job_id).status == "running"
    thread.join(timeout=180)

    assert result == {"outcome": "cancelled"}
    job = load_job(factory, job_id)
    assert job.status == "cancelled" and job.fine_tuned_model is None and job.result_files == []
    events = job_events(factory, job_id)
    messages = [e.message for e in events]
    assert messages[-1] == "Job cancelled"
    assert "Cancellation requested; the job stops at its next step" in messages
    assert "exporting" not in _stage_events(events)


def _corrupt(line_number: int) -> bytes:
    """The 16-pair corpus with line ``line_number`` replaced by broken JSON."""
    lines = [json.dumps(p.to_dict(), ensure_ascii=False) for p in de_en_pairs()]
    lines[line_number - 1] = '{"source": "Ich habe einen Hund", "target": '
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.parametrize("which", ["training_file", "validation_file"])
def test_a_bad_corpus_fails_with_invalid_training_file_naming_the_line(
    factory: sessionmaker[Session], artifacts: ArtifactStore, worker_settings: Settings, make_job, which: str
) -> None:
    job_id = make_job(corpus=_corrupt(5)) if which == "training_file" else make_job(validation=_corrupt(5))

    assert process_job(factory, artifacts, worker_settings, job_id, "worker-a") == "failed"

    job = load_job(factory, job_id)
    assert (job.status, job.error_code, job.error_param) == ("failed", "invalid_training_file", which)
    assert "line 5" in job.error_message
    assert event_messages(factory, job_id)[-1] == f"Job failed: {job.error_message}"


@pytest.mark.parametrize(
    ("hyperparameters", "param"),
    # The same path the API names for the same value (the request's path).
    [({"n_epochs": -1}, "method.radis.hyperparameters.n_epochs"), ({"bogus": 1}, "method.radis.hyperparameters.bogus")],
)
def test_bad_hyperparameters_fail_naming_the_field(
    factory: sessionmaker[Session], artifacts: ArtifactStore, worker_settings: Settings, make_job, hyperparameters, param
) -> None:
    job_id = make_job(hyperparameters=hyperparameters)

    assert process_job(factory, artifacts, worker_settings, job_id, "worker-a") == "failed"

    job = load_job(factory, job_id)
    assert (job.error_code, job.error_param) == ("invalid_hyperparameters", param)
    assert param.rsplit(".", 1)[1] in job.error_message


def test_an_unknown_model_fails_with_model_not_found(
    factory: sessionmaker[Session], artifacts: ArtifactStore, worker_settings: Settings, make_job, tmp_path: Path
) -> None:
    job_id = make_job(model=str(tmp_path / "no-such-model"), **QUICK)

    assert process_job(factory, artifacts, worker_settings, job_id, "worker-a") == "failed"

    job = load_job(factory, job_id)
    assert (job.error_code, job.error_param) == ("model_not_found", "model")
    assert "no-such-model" in job.error_message


def test_a_diverging_run_fails_with_training_diverged(
    factory: sessionmaker[Session],
    artifacts: ArtifactStore,
    worker_settings: Settings,
    make_job,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The settings bound the learning rate too tightly to blow a model up on purpose, so the loss itself
    # turns non-finite from the second micro-batch on (the tiny job has one micro-batch per step).
    import torch

    real_cross_entropy = torch.nn.functional.cross_entropy
    calls = {"n": 0}

    def cross_entropy(*args, **kwargs):
        calls["n"] += 1
        loss = real_cross_entropy(*args, **kwargs)
        return loss * float("nan") if calls["n"] >= 2 else loss

    monkeypatch.setattr(torch.nn.functional, "cross_entropy", cross_entropy)
    job_id = make_job(hyperparameters={"learning_rate": 1e-3}, **QUICK)

    assert process_job(factory, artifacts, worker_settings, job_id, "worker-a") == "failed"

    job = load_job(factory, job_id)
    assert job.error_code == "training_diverged"
    assert "step 2" in job.error_message and "learning_rate" in job.error_message
    assert _training_steps(job_events(factory, job_id)) == [1]


def test_two_workers_racing_run_the_job_once_and_a_late_delivery_is_a_no_op(
    factory: sessionmaker[Session], artifacts: ArtifactStore, worker_settings: Settings, make_job
) -> None:
    job_id = make_job(hyperparameters={"max_steps": 1}, **QUICK)
    barrier = threading.Barrier(2)

    def deliver(worker_id: str) -> str:
        barrier.wait()
        return process_job(factory, artifacts, worker_settings, job_id, worker_id)

    runs = [_run_in_thread(lambda w=w: deliver(w)) for w in ("worker-a", "worker-b")]
    for thread, _ in runs:
        thread.join(timeout=180)
    outcomes = {
        w: result.get("outcome", result.get("error")) for w, (_, result) in zip(("worker-a", "worker-b"), runs, strict=True)
    }

    assert sorted(outcomes.values()) == ["skipped", "succeeded"], outcomes
    winner = next(w for w, outcome in outcomes.items() if outcome == "succeeded")
    job = load_job(factory, job_id)
    assert job.status == "succeeded" and job.worker_id == winner and job.attempts == 1
    messages = event_messages(factory, job_id)
    assert messages.count("Fine-tuning job started") == 1

    # The broker delivers the message once more: nothing changes.
    assert process_job(factory, artifacts, worker_settings, job_id, "worker-c") == "skipped"
    again = load_job(factory, job_id)
    assert (again.status, again.worker_id, again.finished_at, again.result_files) == (
        "succeeded",
        winner,
        job.finished_at,
        job.result_files,
    )
    assert event_messages(factory, job_id) == messages


def test_a_stale_running_job_is_taken_over_and_finished(
    factory: sessionmaker[Session], artifacts: ArtifactStore, worker_settings: Settings, make_job
) -> None:
    job_id = make_job(hyperparameters={"max_steps": 1}, **QUICK)
    with session_scope(factory) as session:
        assert claim_job(session, job_id, "dead-worker") is not None

    # Its heartbeat is fresh: another delivery leaves it to its owner.
    assert process_job(factory, artifacts, worker_settings, job_id, "worker-b") == "skipped"
    time.sleep(worker_settings.stale_after_s + 0.2)

    assert process_job(factory, artifacts, worker_settings, job_id, "worker-b") == "succeeded"
    job = load_job(factory, job_id)
    assert job.status == "succeeded" and job.worker_id == "worker-b" and job.attempts == 2
    assert any("taken over by worker-b" in m for m in event_messages(factory, job_id))


@pytest.mark.parametrize("method", ["supervised", "sdft", "seqkd"])
def test_a_worker_that_lost_its_job_stops_and_the_next_owner_resumes_from_its_checkpoint(
    factory: sessionmaker[Session], artifacts: ArtifactStore, worker_settings: Settings, make_job, method: str
) -> None:
    job_id = make_job(method=method)
    thread, result = _run_in_thread(
        lambda: process_job(factory, artifacts, worker_settings, job_id, "worker-a", cancel_poll_s=0.1)
    )
    _wait_for(lambda: first_event_id(factory, job_id, lambda e: bool(e.data and "train_loss" in e.data)), what="step 1")
    # Another worker takes the job over (as if worker-a had missed its heartbeats).
    with session_scope(factory) as session:
        assert take_over_stale(session, job_id, "worker-b", stale_before=utcnow().replace(year=2100)) is not None
    thread.join(timeout=180)

    assert result == {"outcome": "lost"}
    job = load_job(factory, job_id)
    assert (job.status, job.worker_id, job.error_code) == ("running", "worker-b", None)
    # The take-over is the last word: worker-a wrote no event, failure or cancellation after it.
    assert "taken over by worker-b" in event_messages(factory, job_id)[-1]

    # worker-b never runs it either; once its heartbeat is stale, a third worker resumes the training.
    time.sleep(worker_settings.stale_after_s + 0.2)
    assert process_job(factory, artifacts, worker_settings, job_id, "worker-c") == "succeeded"
    job = load_job(factory, job_id)
    assert (job.status, job.worker_id, job.attempts) == ("succeeded", "worker-c", 3)
    messages = event_messages(factory, job_id)
    resumed = [m for m in messages if m.startswith("Resumed from checkpoint at step")]
    assert resumed, messages
    # Steps before the checkpoint are not trained again.
    resumed_at = int(resumed[0].rsplit(" ", 1)[1])
    after = messages[messages.index(resumed[0]) :]
    assert not any(m.startswith(f"Step {resumed_at}/") for m in after)
    if method != "supervised":
        # The teacher's texts were cached by the first attempt: the resumed attempt generated none.
        with session_scope(factory) as session:
            rows = {f.filename: f for f in session.scalars(select(File).where(File.id.in_(job.result_files)))}
        report = json.loads(artifacts.path(rows[f"{job_id}-report.json"].storage_key).read_text())
        assert report["rationales"]["generated"] == 0 and report["rationales"]["from_cache"] == report["rationales"]["pairs"]


def test_a_job_over_its_wall_time_budget_fails_with_budget_exceeded_and_the_next_job_runs(
    factory: sessionmaker[Session], artifacts: ArtifactStore, worker_settings: Settings, make_job
) -> None:
    # 15 training steps and the rationale stage: well over a second on the tiny model.
    over = make_job(hyperparameters={"n_epochs": 5}, wall_time_budget_s=1)
    after = make_job(**QUICK)

    started = time.monotonic()
    assert process_job(factory, artifacts, worker_settings, over, "worker-a", cancel_poll_s=0.1) == "failed"
    stopped_after = time.monotonic() - started
    job = load_job(factory, over)
    assert (job.status, job.error_code, job.error_param) == ("failed", "budget_exceeded", "wall_time_budget_s")
    assert "wall-time budget of 1 s" in job.error_message
    assert 1.0 <= job.run_seconds <= stopped_after + 0.5
    # Its history is kept, up to the failure; its folder is not.
    messages = event_messages(factory, over)
    assert messages[0].startswith("Created fine-tuning job") and messages[-1].startswith("Job failed: The job used its")
    assert not artifacts.path(f"jobs/{over}").exists()

    # The same worker goes on with the next job.
    assert process_job(factory, artifacts, worker_settings, after, "worker-a") == "succeeded"
    print(f"budget 1 s: stopped after {stopped_after:.2f} s (run_seconds {job.run_seconds:.2f})")


def test_a_job_over_its_token_budget_fails_with_budget_exceeded_and_the_next_job_runs(
    factory: sessionmaker[Session], artifacts: ArtifactStore, worker_settings: Settings, make_job, tmp_path: Path
) -> None:
    # Training alone: the first step trains more than one target token, so the check before step 2 stops it.
    trained = make_job(**QUICK, token_budget=1)
    # RaDis: its rationales are generated first (tens of new tokens a batch on the tiny model). Pairs of its
    # own, so no rationale is in the session's shared cache and the generation's count is what stops it.
    fresh = [dataclasses.replace(p, source=f"{p.source} ({secrets.token_hex(4)})") for p in de_en_pairs()]
    generated = make_job(token_budget=20, corpus=write_jsonl(fresh, tmp_path / "fresh.jsonl").read_bytes())
    after = make_job(**QUICK)

    for job_id, budget in ((trained, 1), (generated, 20)):
        assert process_job(factory, artifacts, worker_settings, job_id, "worker-a") == "failed"
        job = load_job(factory, job_id)
        assert (job.status, job.error_code, job.error_param) == ("failed", "budget_exceeded", "token_budget")
        assert f"of its token budget of {budget}" in job.error_message
        # The count that broke the budget is stored (generation checks between batches, training between steps).
        assert job.tokens_used > budget
        print(f"token budget {budget}: stopped at {job.tokens_used} tokens: {job.error_message}")
    assert "during training" in load_job(factory, trained).error_message
    assert "during generating rationales" in load_job(factory, generated).error_message
    assert not any(m.startswith("Step 2/") for m in event_messages(factory, trained))

    # The same worker goes on with the next job, and its count is the trained tokens it reports. No heartbeat
    # falls inside this run (the interval is an hour), so the figures stored are the ones written on success.
    quiet = worker_settings.model_copy(update={"heartbeat_interval_s": 3600.0})
    started = time.monotonic()
    assert process_job(factory, artifacts, quiet, after, "worker-a") == "succeeded"
    elapsed = time.monotonic() - started
    done = load_job(factory, after)
    assert done.tokens_used == done.trained_tokens > 0
    assert 0 < done.run_seconds <= elapsed


def test_a_job_asking_for_a_merged_model_publishes_it_last_and_deleting_the_model_deletes_it(
    factory: sessionmaker[Session], artifacts: ArtifactStore, worker_settings: Settings, make_job, tmp_path: Path
) -> None:
    import torch
    from transformers import AutoModelForCausalLM

    from store.jobs import delete_fine_tuned_model

    job_id = make_job(method="supervised", method_settings={"evaluation": {"retention": False}, "output": {"merged_model": True}})
    assert process_job(factory, artifacts, worker_settings, job_id, "worker-a") == "succeeded"

    job = load_job(factory, job_id)
    with session_scope(factory) as session:
        files = {f.id: f for f in session.scalars(select(File).where(File.id.in_(job.result_files)))}
    names = [files[i].filename for i in job.result_files]
    # The merged model comes last, so the other files keep their places (metrics CSV first, adapter next).
    assert names == [f"{job_id}-metrics.csv", f"{job_id}-adapter.tar.gz", f"{job_id}-report.json", f"{job_id}-merged.tar.gz"]
    merged_row = files[job.result_files[-1]]
    with tarfile.open(artifacts.path(merged_row.storage_key)) as archive:
        archive.extractall(tmp_path / "merged", filter="data")
    folder = tmp_path / "merged" / f"{job_id}-merged"
    assert (folder / "config.json").is_file() and not (folder / "adapter_config.json").exists()
    model = AutoModelForCausalLM.from_pretrained(folder)  # a plain model: no peft needed to serve it
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([[1, 5, 9, 13]])).logits
    assert torch.isfinite(logits).all()

    # The merged weights are the model as much as the adapter is: deleting the model deletes both.
    with session_scope(factory) as session:
        _, deleted = delete_fine_tuned_model(session, job.project_id, job.fine_tuned_model)
    assert {f.filename for f in deleted} == {f"{job_id}-adapter.tar.gz", f"{job_id}-merged.tar.gz"}


def test_a_forked_child_builds_its_own_engine_and_never_uses_its_parents(worker_db_url: str) -> None:
    """Celery forks a child per job: one that reused the parent's engine wrote through the parent's sockets."""
    import os

    from sqlalchemy import text

    from worker.runner import worker_sessionmaker

    parent = worker_sessionmaker(worker_db_url)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: answer one byte, never return into pytest
        try:
            child = worker_sessionmaker(worker_db_url)
            with child() as session:
                works = session.execute(text("SELECT 1")).scalar_one() == 1
            own = child is not parent and child.kw["bind"] is not parent.kw["bind"]
            os.write(write, b"1" if own and works and worker_sessionmaker(worker_db_url) is child else b"0")
        finally:
            os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    assert os.read(read, 1) == b"1"
    assert worker_sessionmaker(worker_db_url) is parent
