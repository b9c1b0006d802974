"""What every step of a run shares: the caller's event callback and cancel check, and the step timings."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from radis_core.events import CancelCheck, EventCallback, JobCancelled, ProgressEvent, never_cancel, no_events


@dataclass
class RunContext:
    """Reports events, polls for cancellation and times the steps of one run."""

    on_event: EventCallback = no_events
    should_cancel: CancelCheck = never_cancel
    #: Seconds per step (``load_seconds``, ``train_seconds`` ...), reported with the results.
    timings: dict[str, float] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)

    def emit(self, event: ProgressEvent) -> None:
        """Tell the caller."""
        self.on_event(event)

    def check_cancel(self) -> None:
        """Raise :class:`JobCancelled` when the caller asked to stop."""
        if self.should_cancel():
            raise JobCancelled("cancel requested")

    @contextmanager
    def timed(self, name: str) -> Iterator[None]:
        """Record the wall time of the block as ``timings[name]``."""
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = time.perf_counter() - t0
