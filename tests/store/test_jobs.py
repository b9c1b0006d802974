"""The job state machine: every transition, ownership, idempotency, cancellation, and real races."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine, delete, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from store.db import make_engine, make_sessionmaker, session_scope
from store.errors import IdempotencyConflict, InvalidTransition, LostOwnership, NotFound, QuotaExceeded
from store.events import list_events
from store.ids import utcnow
from store.job_queries import list_jobs
from store.jobs import (
    claim_job,
    count_active_jobs,
    create_job,
    get_job,
    get_job_any,
    heartbeat,
    mark_cancelled,
    mark_failed,
    mark_succeeded,
    release_job,
    request_cancel,
    request_fingerprint,
    set_progress,
    set_resolved_hyperparameters,
    set_stage,
    take_over_stale,
)
from store.models import File, Job, JobEvent, Project
from store.projects import create_project

from .conftest import add_file


def _messages(session: Session, job_id: str) -> list[str]:
    rows, _ = list_events(session, job_id, limit=100, order="asc")
    return [row.message for row in rows]


@pytest.fixture
def running(db_session: Session, make_job: Callable[..., Job]) -> Job:
    job = make_job()
    assert claim_job(db_session, job.id, "w1") is not None
    return job


# --- creation -------------------------------------------------------------------------------------


def test_create_job_is_queued_with_an_event(db_session: Session, project: Project, training_file: File) -> None:
    job, created = create_job(
        db_session,
        project_id=project.id,
        model="tiny-llama",
        training_file_id=training_file.id,
        method="supervised",
        suffix="de-en",
        metadata={"team": "mt"},
        hyperparameters={"n_epochs": "auto"},
        method_settings={"rationale": {"max_new_tokens": 64}},
    )
    assert created and job.id.startswith("ftjob-")
    assert (job.status, job.stage, job.progress, job.attempts, job.cancel_requested) == ("queued", None, 0.0, 0, False)
    assert (job.method, job.suffix, job.metadata_, job.hyperparameters) == (
        "supervised",
        "de-en",
        {"team": "mt"},
        {"n_epochs": "auto"},
    )
    assert job.result_files == [] and job.resolved_hyperparameters is None
    assert 0 <= job.seed < 2**31
    assert _messages(db_session, job.id) == [f"Created fine-tuning job: {job.id}"]


def test_create_job_rejects_an_unknown_method(db_session: Session, project: Project, training_file: File) -> None:
    with pytest.raises(ValueError, match="method"):
        create_job(db_session, project_id=project.id, model="m", training_file_id=training_file.id, method="dpo")


def test_idempotency_key_returns_the_same_job_or_conflicts(db_session: Session, project: Project, training_file: File) -> None:
    body = {"model": "m", "training_file": training_file.id}
    common = dict(project_id=project.id, model="m", training_file_id=training_file.id, idempotency_key="k1")
    first, created = create_job(db_session, **common, request_hash=request_fingerprint(body))
    again, created_again = create_job(db_session, **common, request_hash=request_fingerprint(dict(reversed(body.items()))))
    assert created and not created_again and again.id == first.id
    with pytest.raises(IdempotencyConflict) as caught:
        create_job(db_session, **common, request_hash=request_fingerprint({**body, "seed": 1}))
    assert caught.value.existing_id == first.id
    # The key is per project.
    other = create_project(db_session, "other")
    other_file = add_file(db_session, other.id)
    _, created_elsewhere = create_job(
        db_session, project_id=other.id, model="m", training_file_id=other_file.id, idempotency_key="k1"
    )
    assert created_elsewhere


def test_active_job_limit(db_session: Session, project: Project, make_job: Callable[..., Job]) -> None:
    a = make_job(max_active_jobs=2)
    make_job(max_active_jobs=2)
    with pytest.raises(QuotaExceeded) as caught:
        make_job(max_active_jobs=2)
    assert (caught.value.limit, caught.value.current) == (2, 2)
    request_cancel(db_session, project.id, a.id)
    assert count_active_jobs(db_session, project.id) == 1
    make_job(max_active_jobs=2)


# --- claiming and ownership ------------------------------------------------------------------------


def test_claim_moves_queued_to_running_once(db_session: Session, make_job: Callable[..., Job]) -> None:
    job = make_job()
    claimed = claim_job(db_session, job.id, "w1")
    assert claimed is not None
    assert (claimed.status, claimed.worker_id, claimed.attempts) == ("running", "w1", 1)
    assert claimed.heartbeat_at is not None and claimed.started_at is not None
    assert claim_job(db_session, job.id, "w2") is None
    assert get_job_any(db_session, job.id).worker_id == "w1"
    assert _messages(db_session, job.id)[-1] == "Fine-tuning job started"
    assert claim_job(db_session, "ftjob-missing", "w1") is None


def test_heartbeat_reports_cancel_and_refreshes_time(db_session: Session, project: Project, running: Job) -> None:
    before = get_job_any(db_session, running.id).heartbeat_at
    assert heartbeat(db_session, running.id, "w1") is False
    assert get_job_any(db_session, running.id).heartbeat_at >= before
    request_cancel(db_session, project.id, running.id)
    assert heartbeat(db_session, running.id, "w1") is True


def test_stale_job_is_taken_over_and_the_old_worker_locked_out(db_session: Session, running: Job) -> None:
    now = utcnow()
    assert take_over_stale(db_session, running.id, "w2", stale_before=now - timedelta(minutes=5)) is None
    taken = take_over_stale(db_session, running.id, "w2", stale_before=now + timedelta(seconds=1))
    assert taken is not None
    assert (taken.status, taken.worker_id, taken.attempts) == ("running", "w2", 2)
    assert "job taken over by w2 (attempt 2)" in _messages(db_session, running.id)[-1]
    with pytest.raises(LostOwnership):
        heartbeat(db_session, running.id, "w1")
    with pytest.raises(LostOwnership):
        mark_succeeded(db_session, running.id, "w1", fine_tuned_model="x", trained_tokens=1, result_files=[])
    assert heartbeat(db_session, running.id, "w2") is False


def test_only_running_jobs_can_be_taken_over(db_session: Session, make_job: Callable[..., Job]) -> None:
    job = make_job()
    assert take_over_stale(db_session, job.id, "w2", stale_before=utcnow() + timedelta(hours=1)) is None
    assert take_over_stale(db_session, "ftjob-missing", "w2", stale_before=utcnow()) is None


def test_a_job_that_keeps_killing_its_worker_fails_at_the_ceiling(db_session: Session, running: Job) -> None:
    later = lambda: utcnow() + timedelta(seconds=1)  # noqa: E731 - every take-over sees the last owner as stale
    assert take_over_stale(db_session, running.id, "w2", later(), max_attempts=3) is not None
    assert take_over_stale(db_session, running.id, "w3", later(), max_attempts=3) is not None
    assert take_over_stale(db_session, running.id, "w4", later(), max_attempts=3) is None
    job = get_job_any(db_session, running.id)
    assert (job.status, job.error_code, job.attempts, job.worker_id) == ("failed", "too_many_attempts", 3, "w3")
    assert job.finished_at is not None
    assert _messages(db_session, running.id)[-1] == "Job failed: The job stopped its worker 3 times (limit 3); it is not retried"
    with pytest.raises(InvalidTransition):
        heartbeat(db_session, running.id, "w3")
    assert take_over_stale(db_session, running.id, "w5", later(), max_attempts=3) is None


def test_the_ceiling_spares_a_job_whose_worker_is_alive(db_session: Session, running: Job) -> None:
    db_session.execute(update(Job).where(Job.id == running.id).values(attempts=5))
    assert take_over_stale(db_session, running.id, "w2", utcnow() - timedelta(minutes=5), max_attempts=3) is None
    assert get_job_any(db_session, running.id).status == "running"


def test_a_released_job_is_queued_again_and_the_release_is_no_attempt(db_session: Session, running: Job) -> None:
    released = release_job(db_session, running.id, "w1", "worker w1 is shutting down")
    assert (released.status, released.worker_id, released.heartbeat_at, released.attempts) == ("queued", None, None, 0)
    assert _messages(db_session, running.id)[-1] == "Job returned to the queue: worker w1 is shutting down"
    with pytest.raises(InvalidTransition):
        heartbeat(db_session, running.id, "w1")
    reclaimed = claim_job(db_session, running.id, "w2")
    assert reclaimed is not None and (reclaimed.worker_id, reclaimed.attempts) == ("w2", 1)
    with pytest.raises(LostOwnership):
        release_job(db_session, running.id, "w1", "too late")


def test_a_job_released_after_a_cancel_request_is_cancelled(db_session: Session, project: Project, running: Job) -> None:
    request_cancel(db_session, project.id, running.id)
    job = release_job(db_session, running.id, "w1", "worker w1 is shutting down")
    assert (job.status, job.finished_at is not None) == ("cancelled", True)
    assert _messages(db_session, running.id)[-1] == "Job cancelled"


def test_owner_operations_need_the_owner(db_session: Session, running: Job) -> None:
    with pytest.raises(LostOwnership):
        set_stage(db_session, running.id, "intruder", "training", 0.5)
    with pytest.raises(LostOwnership):
        set_progress(db_session, running.id, "intruder", 0.5)
    with pytest.raises(LostOwnership):
        mark_failed(db_session, running.id, "intruder", "x", "y")
    with pytest.raises(NotFound):
        heartbeat(db_session, "ftjob-missing", "w1")


# --- progress and outcomes -------------------------------------------------------------------------


def test_stage_changes_emit_one_event_each(db_session: Session, running: Job) -> None:
    eta = utcnow() + timedelta(minutes=3)
    job = set_stage(db_session, running.id, "w1", "generating_rationales", 0.0, estimated_finish=eta)
    assert (job.stage, job.progress, job.estimated_finish) == ("generating_rationales", 0.0, eta)
    set_stage(db_session, running.id, "w1", "generating_rationales", 0.1)
    set_stage(db_session, running.id, "w1", "training", 0.3)
    job = set_progress(db_session, running.id, "w1", 0.45)
    assert job.progress == 0.45 and job.stage == "training"
    stage_events = [
        m for m in _messages(db_session, running.id) if m in ("Generating rationales with the base model", "Training")
    ]
    assert stage_events == ["Generating rationales with the base model", "Training"]
    with pytest.raises(ValueError, match="stage"):
        set_stage(db_session, running.id, "w1", "sleeping", 0.5)
    with pytest.raises(ValueError, match="progress"):
        set_progress(db_session, running.id, "w1", 1.5)


def test_resolved_hyperparameters_are_recorded(db_session: Session, running: Job) -> None:
    job = set_resolved_hyperparameters(db_session, running.id, "w1", {"n_epochs": 3, "batch_size": 4})
    assert job.resolved_hyperparameters == {"n_epochs": 3, "batch_size": 4}
    assert job.hyperparameters == {}


def test_mark_succeeded(db_session: Session, running: Job) -> None:
    job = mark_succeeded(
        db_session, running.id, "w1", fine_tuned_model="ft:tiny:de-en:abc", trained_tokens=1234, result_files=["file-1"]
    )
    assert (job.status, job.progress, job.fine_tuned_model, job.trained_tokens, job.result_files) == (
        "succeeded",
        1.0,
        "ft:tiny:de-en:abc",
        1234,
        ["file-1"],
    )
    assert job.finished_at is not None and job.is_terminal
    assert _messages(db_session, running.id)[-2:] == [
        "New fine-tuned model created: ft:tiny:de-en:abc",
        "The job has successfully completed",
    ]
    # A finished job accepts no further transition, not even from its last owner.
    with pytest.raises(InvalidTransition) as caught:
        mark_failed(db_session, running.id, "w1", "x", "y")
    assert not isinstance(caught.value, LostOwnership)
    with pytest.raises(InvalidTransition):
        heartbeat(db_session, running.id, "w1")


def test_mark_failed_records_the_error(db_session: Session, running: Job) -> None:
    job = mark_failed(db_session, running.id, "w1", "invalid_training_file", "line 3: empty target", param="training_file")
    assert (job.status, job.error_code, job.error_message, job.error_param) == (
        "failed",
        "invalid_training_file",
        "line 3: empty target",
        "training_file",
    )
    last = db_session.scalars(select(JobEvent).where(JobEvent.job_id == running.id).order_by(JobEvent.id.desc())).first()
    assert (last.level, last.message) == ("error", "Job failed: line 3: empty target")


def test_mark_cancelled_after_a_requested_cancel(db_session: Session, project: Project, running: Job) -> None:
    request_cancel(db_session, project.id, running.id)
    job = mark_cancelled(db_session, running.id, "w1")
    assert (job.status, job.cancel_requested) == ("cancelled", True)
    assert job.finished_at is not None
    assert _messages(db_session, running.id)[-1] == "Job cancelled"


# --- cancellation ----------------------------------------------------------------------------------


def test_cancel_queued_is_immediate(db_session: Session, project: Project, make_job: Callable[..., Job]) -> None:
    job = make_job()
    cancelled = request_cancel(db_session, project.id, job.id)
    assert (cancelled.status, cancelled.cancel_requested) == ("cancelled", True)
    assert cancelled.finished_at is not None
    assert claim_job(db_session, job.id, "w1") is None
    assert _messages(db_session, job.id)[-1] == "Job cancelled"


def test_cancel_running_sets_the_flag_only(db_session: Session, project: Project, running: Job) -> None:
    job = request_cancel(db_session, project.id, running.id)
    assert (job.status, job.cancel_requested, job.finished_at) == ("running", True, None)
    n_events = len(_messages(db_session, running.id))
    assert request_cancel(db_session, project.id, running.id).cancel_requested
    assert len(_messages(db_session, running.id)) == n_events  # asking twice adds nothing


def test_cancel_terminal_job_changes_nothing(db_session: Session, project: Project, running: Job) -> None:
    mark_succeeded(db_session, running.id, "w1", fine_tuned_model="m", trained_tokens=1, result_files=[])
    job = request_cancel(db_session, project.id, running.id)
    assert (job.status, job.cancel_requested) == ("succeeded", False)


def test_cancel_another_projects_job_is_not_found(db_session: Session, make_job: Callable[..., Job]) -> None:
    job = make_job()
    other = create_project(db_session, "other")
    with pytest.raises(NotFound):
        request_cancel(db_session, other.id, job.id)


# --- reads -----------------------------------------------------------------------------------------


def test_get_job_is_scoped_by_project(db_session: Session, project: Project, make_job: Callable[..., Job]) -> None:
    job = make_job()
    assert get_job(db_session, project.id, job.id).id == job.id
    other = create_project(db_session, "other")
    with pytest.raises(NotFound, match=job.id):
        get_job(db_session, other.id, job.id)
    with pytest.raises(NotFound):
        get_job_any(db_session, "ftjob-missing")


def test_timestamps_are_timezone_aware(db_session: Session, running: Job) -> None:
    job = get_job_any(db_session, running.id)
    for moment in (job.created_at, job.started_at, job.heartbeat_at):
        assert moment.utcoffset() == timedelta(0)
    assert job.created_at_unix == int(job.created_at.timestamp())


# --- races on real connections ---------------------------------------------------------------------


@pytest.fixture
def committed(engine: Engine) -> Iterator[tuple[sessionmaker[Session], str, str]]:
    """A committed project and file (races need rows that other connections can see); removed afterwards."""
    factory = make_sessionmaker(engine)
    with session_scope(factory) as session:
        project = create_project(session, f"race-{secrets.token_hex(4)}")
        file_id = add_file(session, project.id).id
    yield factory, project.id, file_id
    with session_scope(factory) as session:
        session.execute(delete(Project).where(Project.id == project.id))


def _new_queued_job(factory: sessionmaker[Session], project_id: str, file_id: str) -> str:
    with session_scope(factory) as session:
        job, _ = create_job(session, project_id=project_id, model="m", training_file_id=file_id)
        return job.id


def _race(factory: sessionmaker[Session], attempt: Callable[[Session, str], object], workers: list[str]) -> list[object]:
    """Run ``attempt`` for each worker at the same moment, each on its own connection, each committing."""
    barrier = threading.Barrier(len(workers))
    results: dict[str, object] = {}
    errors: list[BaseException] = []

    def run(worker: str) -> None:
        try:
            barrier.wait(timeout=10)
            with session_scope(factory) as session:
                results[worker] = attempt(session, worker)
        except BaseException as exc:  # surfaced below: a thread's exception would otherwise vanish
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors, errors
    return [results[w] for w in workers]


def _exactly_one_claim(factory: sessionmaker[Session], job_id: str) -> None:
    results = _race(factory, lambda s, w: claim_job(s, job_id, w), ["w1", "w2", "w3"])
    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    with session_scope(factory) as session:
        job = get_job_any(session, job_id)
        assert (job.status, job.attempts, job.worker_id) == ("running", 1, winners[0].worker_id)
        starts = [e for e in session.scalars(select(JobEvent).where(JobEvent.job_id == job_id)) if "started" in e.message]
        assert len(starts) == 1


def test_concurrent_claims_on_postgres_have_one_winner(committed) -> None:
    factory, project_id, file_id = committed
    for _ in range(3):
        _exactly_one_claim(factory, _new_queued_job(factory, project_id, file_id))


def test_claim_blocked_by_an_uncommitted_claim_loses(committed) -> None:
    """Deterministic interleaving: A claims but has not committed; B's claim waits on the row lock, then
    re-reads the row, finds it running, and matches nothing."""
    factory, project_id, file_id = committed
    job_id = _new_queued_job(factory, project_id, file_id)
    first = factory()
    try:
        assert claim_job(first, job_id, "w1") is not None
        outcome: list[object] = []
        second = threading.Thread(target=lambda: outcome.append(_claim_in_own_session(factory, job_id, "w2")))
        second.start()
        second.join(timeout=0.5)
        assert second.is_alive(), "the second claim should wait for the first transaction"
        first.commit()
        second.join(timeout=10)
        assert outcome == [None]
    finally:
        first.close()


def _claim_in_own_session(factory: sessionmaker[Session], job_id: str, worker: str) -> object:
    with session_scope(factory) as session:
        return claim_job(session, job_id, worker)


def _wait_until_a_transaction_waits_for_a_lock(engine: Engine, timeout: float = 20.0) -> None:
    """Return once a connection to the test database is blocked on a lock (a row lock another open
    transaction holds). Polled in fresh transactions: pg_stat_activity is a snapshot per transaction."""
    query = text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'")
    deadline = time.monotonic() + timeout
    while True:
        with engine.connect() as connection:
            if connection.execute(query).scalar_one():
                return
        assert time.monotonic() < deadline, "no transaction ever waited for the row lock"
        time.sleep(0.01)


def _in_thread(factory: sessionmaker[Session], attempt: Callable[[Session], object]) -> tuple[threading.Thread, list[object]]:
    """Start ``attempt`` in its own session and thread (committing at the end); its result or exception lands in the list."""
    outcome: list[object] = []

    def run() -> None:
        try:
            with session_scope(factory) as session:
                outcome.append(attempt(session))
        except BaseException as exc:  # surfaced by the caller's assertion on the outcome
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def _while_held(
    factory: sessionmaker[Session], engine: Engine, first: Callable[[Session], object], second: Callable[[Session], object]
) -> tuple[object, object]:
    """Deterministic interleaving of two transactions on one job: ``first`` runs and keeps its transaction
    open; ``second`` starts on its own connection, reads, and blocks on the row lock; then ``first``
    commits and ``second`` goes on (re-reading the row its UPDATE waited for). Returns both results."""
    holder = factory()
    try:
        first_result = first(holder)
        thread, outcome = _in_thread(factory, second)
        _wait_until_a_transaction_waits_for_a_lock(engine)
        assert thread.is_alive() and not outcome, "the second transaction should wait for the first"
        holder.commit()
        thread.join(timeout=20)
        assert not thread.is_alive() and len(outcome) == 1
        assert not isinstance(outcome[0], BaseException), outcome[0]
        return first_result, outcome[0]
    finally:
        holder.close()


def _running_job(factory: sessionmaker[Session], project_id: str, file_id: str, worker: str) -> str:
    job_id = _new_queued_job(factory, project_id, file_id)
    with session_scope(factory) as session:
        assert claim_job(session, job_id, worker) is not None
    return job_id


def test_concurrent_takeovers_have_one_winner(committed, engine: Engine) -> None:
    """r1 has taken the stale job over but not committed; r2 read the job while it was still the dead
    worker's and its UPDATE waits on r1's row lock. When r1 commits, r2's compare-and-swap on the owner it
    saw matches nothing, although r2's threshold is later than r1's fresh heartbeat (a reconciler whose
    clock runs ahead): one take-over, one new attempt."""
    factory, project_id, file_id = committed
    job_id = _running_job(factory, project_id, file_id, "dead")
    threshold = utcnow() + timedelta(minutes=5)
    first, second = _while_held(
        factory,
        engine,
        lambda s: take_over_stale(s, job_id, "r1", threshold),
        lambda s: take_over_stale(s, job_id, "r2", threshold),
    )
    assert first is not None and second is None
    with session_scope(factory) as session:
        job = get_job_any(session, job_id)
        assert (job.status, job.worker_id, job.attempts) == ("running", "r1", 2)
        assert sum("taken over" in m for m in _messages(session, job_id)) == 1


def test_racing_takeovers_of_a_silent_worker_have_one_winner(committed) -> None:
    """Both reconcilers see the job silent for an hour and race for real, in any order: whoever commits
    first refreshes the heartbeat, so the other one's take-over matches nothing."""
    factory, project_id, file_id = committed
    for _ in range(3):
        job_id = _running_job(factory, project_id, file_id, "dead")
        with session_scope(factory) as session:
            session.execute(update(Job).where(Job.id == job_id).values(heartbeat_at=utcnow() - timedelta(hours=1)))
        threshold = utcnow() - timedelta(minutes=1)
        results = _race(factory, lambda s, w, job_id=job_id, t=threshold: take_over_stale(s, job_id, w, t), ["r1", "r2"])
        assert sum(r is not None for r in results) == 1
        with session_scope(factory) as session:
            assert get_job_any(session, job_id).attempts == 2


def test_a_cancel_waiting_on_a_finish_leaves_the_job_finished(committed, engine: Engine) -> None:
    """The worker marks the job succeeded but has not committed; the API's cancel read it running and waits
    on the row lock. Once the finish commits, the cancel changes nothing: no flag, no event on a finished job."""
    factory, project_id, file_id = committed
    job_id = _running_job(factory, project_id, file_id, "w1")
    finished, cancelled = _while_held(
        factory,
        engine,
        lambda s: mark_succeeded(s, job_id, "w1", fine_tuned_model="ft:m::x", trained_tokens=5, result_files=["file-r"]).status,
        lambda s: (lambda j: (j.status, j.cancel_requested))(request_cancel(s, project_id, job_id)),
    )
    assert finished == "succeeded" and cancelled == ("succeeded", False)
    with session_scope(factory) as session:
        job = get_job_any(session, job_id)
        assert (job.status, job.cancel_requested, job.fine_tuned_model, job.result_files) == (
            "succeeded",
            False,
            "ft:m::x",
            ["file-r"],
        )
        assert not any("ancel" in m for m in _messages(session, job_id))


def test_a_finish_waiting_on_a_cancel_still_finishes(committed, engine: Engine) -> None:
    """The cancel request commits first: the job is still running (flag set) when the finished worker's
    UPDATE goes on, so the finished work is kept; the cancel answered "running, cancel requested"."""
    factory, project_id, file_id = committed
    job_id = _running_job(factory, project_id, file_id, "w1")
    cancelled, finished = _while_held(
        factory,
        engine,
        lambda s: (lambda j: (j.status, j.cancel_requested))(request_cancel(s, project_id, job_id)),
        lambda s: mark_succeeded(s, job_id, "w1", fine_tuned_model="ft:m::x", trained_tokens=5, result_files=[]).status,
    )
    assert cancelled == ("running", True) and finished == "succeeded"
    with session_scope(factory) as session:
        job = get_job_any(session, job_id)
        assert (job.status, job.cancel_requested, job.finished_at is not None) == ("succeeded", True, True)


def test_cancel_racing_a_claim_ends_consistent(committed) -> None:
    """Whoever wins, the job ends either cancelled (never started) or running with the flag set."""
    factory, project_id, file_id = committed
    for _ in range(3):
        job_id = _new_queued_job(factory, project_id, file_id)

        def act(session: Session, who: str, job_id: str = job_id) -> object:
            if who == "api":
                return request_cancel(session, project_id, job_id).status
            return claim_job(session, job_id, who)

        cancel_status, claim = _race(factory, act, ["api", "w1"])
        with session_scope(factory) as session:
            job = get_job_any(session, job_id)
        if claim is None:
            assert (job.status, cancel_status) == ("cancelled", "cancelled")
        else:
            assert (job.status, job.cancel_requested) == ("running", True)


def test_concurrent_claims_on_sqlite_have_one_winner(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    try:
        factory = make_sessionmaker(engine)
        with session_scope(factory) as session:
            project = create_project(session, "embedded")
            file_id = add_file(session, project.id).id
        for _ in range(3):
            _exactly_one_claim(factory, _new_queued_job(factory, project.id, file_id))
    finally:
        engine.dispose()


def test_embedded_sqlite_runs_the_whole_life_cycle(sqlite_url: str) -> None:
    """The embedded default takes the same code path: create, list, claim, progress, cancel, finish."""
    engine = make_engine(sqlite_url)
    factory = make_sessionmaker(engine)
    try:
        with session_scope(factory) as session:
            project = create_project(session, "embedded")
            file_id = add_file(session, project.id).id
            jobs = [
                create_job(session, project_id=project.id, model="m", training_file_id=file_id, metadata={"i": str(i)})[0]
                for i in range(3)
            ]
            for i, job in enumerate(jobs):  # distinct times: ties would be ordered by the random ids
                job.created_at = jobs[0].created_at + timedelta(seconds=i)
        with session_scope(factory) as session:
            page1, more = list_jobs(session, project.id, limit=2)
            page2, _ = list_jobs(session, project.id, after=page1[-1].id, limit=2)
            assert [j.id for j in page1 + page2] == [j.id for j in reversed(jobs)] and more
            assert [j.id for j in list_jobs(session, project.id, metadata_filter={"i": "1"})[0]] == [jobs[1].id]
            assert claim_job(session, jobs[0].id, "w1") is not None
            set_stage(session, jobs[0].id, "w1", "training", 0.5)
            request_cancel(session, project.id, jobs[1].id)
        with session_scope(factory) as session:
            assert heartbeat(session, jobs[0].id, "w1") is False
            done = mark_succeeded(session, jobs[0].id, "w1", fine_tuned_model="ft:m::x", trained_tokens=9, result_files=[])
            assert done.finished_at.utcoffset() == timedelta(0)
            statuses = {j.id: j.status for j in list_jobs(session, project.id)[0]}
        assert statuses == {jobs[0].id: "succeeded", jobs[1].id: "cancelled", jobs[2].id: "queued"}
    finally:
        engine.dispose()
