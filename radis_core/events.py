"""Progress events a run reports to its caller, and the result it returns.

The library never writes job state itself: it calls ``on_event`` and lets the caller (the CLI's
progress bars, the worker's store) decide what to do. ``should_cancel`` is polled between steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal

Stage = Literal["validating", "loading_model", "generating_rationales", "training", "evaluating", "exporting"]
STAGES: tuple[str, ...] = ("generating_rationales", "training", "evaluating", "exporting")


@dataclass
class ProgressEvent:
    """One thing that happened. ``type='metrics'`` events carry numbers in ``data``."""

    stage: str
    message: str
    type: Literal["message", "metrics"] = "message"
    level: Literal["info", "warn", "error"] = "info"
    data: dict[str, Any] = field(default_factory=dict)
    #: Completed units of the stage and the stage's total, when the stage has a count.
    done: int | None = None
    total: int | None = None


EventCallback = Callable[[ProgressEvent], None]
CancelCheck = Callable[[], bool]


def no_events(_: ProgressEvent) -> None:
    """Default callback: drop events."""


def never_cancel() -> bool:
    """Default cancel check."""
    return False


class JobCancelled(Exception):
    """Raised from inside a run when ``should_cancel()`` returned true; the run stopped cleanly."""


class TrainingDiverged(Exception):
    """Raised when the loss became NaN or infinite."""


@dataclass
class JobResult:
    """What a finished run produced."""

    adapter_dir: Path
    report_path: Path
    report: dict[str, Any]
    trained_tokens: int
    steps: int
    rationale_samples: list[dict[str, Any]] = field(default_factory=list)
    merged_dir: Path | None = None
