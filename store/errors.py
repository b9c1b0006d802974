"""Errors the store raises; the API maps them to OpenAI's error envelope, the worker to job outcomes."""

from __future__ import annotations


class StoreError(Exception):
    """Base class of every error the store raises on purpose."""


class NotFound(StoreError):
    """The object does not exist, is deleted, or belongs to another project (all look the same to a caller).

    ``kind`` is the object's kind as the API names it ("file", "fine-tuning job", …); ``param`` names the
    request field that carried the id, when there was one.
    """

    def __init__(self, kind: str, object_id: str | int, *, param: str | None = None) -> None:
        super().__init__(f"No such {kind}: {object_id}")
        self.kind = kind
        self.object_id = object_id
        self.param = param


class InvalidTransition(StoreError):
    """A job state change was asked from a state that does not allow it."""

    def __init__(self, job_id: str, message: str) -> None:
        super().__init__(f"{job_id}: {message}")
        self.job_id = job_id


class LostOwnership(InvalidTransition):
    """The worker no longer owns the running job (another worker took it over, or it left ``running``).

    A worker that gets this must stop working on the job at once and write nothing more about it.
    """


class IdempotencyConflict(StoreError):
    """An idempotency key was reused with a different request body."""

    def __init__(self, key: str, existing_id: str) -> None:
        super().__init__(
            f"Idempotency key {key!r} was already used for a different request (job {existing_id});"
            " send a new key for a new request"
        )
        self.key = key
        self.existing_id = existing_id


class QuotaExceeded(StoreError):
    """A project limit (active jobs, stored bytes) would be exceeded."""

    def __init__(self, message: str, *, limit: int, current: int) -> None:
        super().__init__(message)
        self.limit = limit
        self.current = current


class AlreadyExists(StoreError):
    """A unique name is taken (for example a project name)."""


class FileInUse(StoreError):
    """A file that queued or running jobs still train or validate on cannot be deleted."""

    def __init__(self, file_id: str, job_ids: list[str]) -> None:
        shown = ", ".join(job_ids[:5]) + (f" and {len(job_ids) - 5} more" if len(job_ids) > 5 else "")
        super().__init__(
            f"File {file_id} is used by active fine-tuning jobs ({shown}); cancel them or wait until they end, then delete it"
        )
        self.file_id = file_id
        self.job_ids = job_ids
