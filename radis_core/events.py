"""Typed progress events a run reports to its caller, and the result it returns.

The library never writes job state itself: it calls ``on_event`` and lets the caller (the CLI's
progress bars, the worker's store) decide what to do. Every event offers the same generic view —
``stage``, ``message``, ``level``, ``type``, ``done``/``total`` and ``data`` (the JSON an event row
carries) — so a listener that only logs needs nothing else; a listener that acts on an event (the
worker records checkpoints and resolved hyperparameters) matches on its class and reads typed fields.
``should_cancel`` is polled between steps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from radis_core.stages import Phase, stage

if TYPE_CHECKING:
    from radis_core.settings import ResolvedHyperparameters

Level = Literal["info", "warn", "error"]
EventKind = Literal["message", "metrics"]


@dataclass(frozen=True)
class Note:
    """Something worth telling that needs no action (a model loaded, a run resumed, rationales ready)."""

    stage: Phase
    message: str
    details: dict[str, Any] = field(default_factory=dict)
    level: Level = "info"
    type: ClassVar[EventKind] = "message"
    done: ClassVar[None] = None
    total: ClassVar[None] = None

    @property
    def data(self) -> dict[str, Any]:
        """The JSON an event row carries."""
        return dict(self.details)


@dataclass(frozen=True)
class StageStarted:
    """The run entered a job stage; ``total`` counts its units when known."""

    stage: Phase
    message: str
    total: int | None = None
    details: dict[str, Any] = field(default_factory=dict)
    level: ClassVar[Level] = "info"
    type: ClassVar[EventKind] = "message"

    @property
    def done(self) -> int | None:
        """A stage starts with nothing done."""
        return 0 if self.total is not None else None

    @property
    def data(self) -> dict[str, Any]:
        return dict(self.details)


@dataclass(frozen=True)
class Counted:
    """Units of a stage done so far (rationales generated, evaluation passes finished)."""

    stage: Phase
    message: str
    done: int
    total: int
    details: dict[str, Any] = field(default_factory=dict)
    level: ClassVar[Level] = "info"
    #: ``metrics`` events come often and carry numbers; listeners may batch them.
    type: ClassVar[EventKind] = "metrics"

    @property
    def data(self) -> dict[str, Any]:
        return dict(self.details)


@dataclass(frozen=True)
class TrainingStarted:
    """Training begins: the hyperparameters as resolved from the data, and what tokenisation made of it."""

    hyperparameters: ResolvedHyperparameters
    examples: dict[str, Any]
    stage: ClassVar[Phase] = "training"
    level: ClassVar[Level] = "info"
    type: ClassVar[EventKind] = "message"
    done: ClassVar[int] = 0

    @property
    def message(self) -> str:
        return f"Training {self.hyperparameters.max_steps} steps on {self.examples.get('examples', 0)} examples"

    @property
    def total(self) -> int:
        return self.hyperparameters.max_steps

    @property
    def data(self) -> dict[str, Any]:
        return {"hyperparameters": self.hyperparameters.to_dict(), "data": dict(self.examples)}


@dataclass(frozen=True)
class StepMetrics:
    """One optimizer step's numbers (a training event and a checkpoint's metrics)."""

    step: int
    total_steps: int
    train_loss: float
    learning_rate: float
    tokens_per_second: float
    step_seconds: float
    eta_seconds: float
    #: Next-token accuracy on the step's target tokens (OpenAI's ``train_mean_token_accuracy``).
    train_mean_token_accuracy: float | None = None
    #: Target tokens the step trained on (what ``trained_tokens`` sums; a token budget counts them).
    step_tokens: int = 0
    #: Held-out loss and accuracy (:mod:`radis_core.step_metrics`): at checkpoints and the last step.
    valid_loss: float | None = None
    valid_mean_token_accuracy: float | None = None
    #: The same on every held-out pair: the last step only.
    full_valid_loss: float | None = None
    full_valid_mean_token_accuracy: float | None = None


@dataclass(frozen=True)
class StepDone:
    """An optimizer step finished."""

    metrics: StepMetrics
    stage: ClassVar[Phase] = "training"
    level: ClassVar[Level] = "info"
    type: ClassVar[EventKind] = "metrics"

    @property
    def message(self) -> str:
        return f"Step {self.metrics.step}/{self.metrics.total_steps}: training loss={self.metrics.train_loss:.4f}"

    @property
    def done(self) -> int:
        return self.metrics.step

    @property
    def total(self) -> int:
        return self.metrics.total_steps

    @property
    def data(self) -> dict[str, Any]:
        return asdict(self.metrics)


@dataclass(frozen=True)
class CheckpointAnnounced:
    """A checkpoint is about to be written. Announced first so a listener that batches step events
    records every step up to here before the checkpoint exists: a run killed right after the save
    must not resume past steps nobody recorded."""

    step: int
    stage: ClassVar[Phase] = "training"
    level: ClassVar[Level] = "info"
    type: ClassVar[EventKind] = "message"
    done: ClassVar[None] = None
    total: ClassVar[None] = None

    @property
    def message(self) -> str:
        return f"Saving checkpoint at step {self.step}"

    @property
    def data(self) -> dict[str, Any]:
        return {"step": self.step}


@dataclass(frozen=True)
class CheckpointSaved:
    """A resumable checkpoint is complete on disk at ``path``."""

    step: int
    path: Path
    metrics: StepMetrics
    stage: ClassVar[Phase] = "training"
    level: ClassVar[Level] = "info"
    type: ClassVar[EventKind] = "message"
    done: ClassVar[None] = None
    total: ClassVar[None] = None

    @property
    def message(self) -> str:
        return f"Checkpoint saved at step {self.step}"

    @property
    def data(self) -> dict[str, Any]:
        return {"step": self.step, "path": str(self.path), "metrics": asdict(self.metrics)}


#: Every event a run reports. Each offers ``stage``, ``message``, ``level``, ``type`` (``metrics`` events
#: come often and may be batched), ``done``/``total`` (units of the stage, when it has a count) and ``data``.
ProgressEvent = Note | StageStarted | Counted | TrainingStarted | StepDone | CheckpointAnnounced | CheckpointSaved


def stage_started(name: str, total: int | None = None, **details: Any) -> StageStarted:
    """The event that opens stage ``name``, with the table's message for it."""
    spec = stage(name)
    return StageStarted(spec.name, spec.message, total=total, details=details)


EventCallback = Callable[[ProgressEvent], None]
CancelCheck = Callable[[], bool]


def no_events(_: ProgressEvent) -> None:
    """Default callback: drop events."""


def never_cancel() -> bool:
    """Default cancel check."""
    return False


class JobCancelled(Exception):
    """Raised from inside a run when ``should_cancel()`` returned true; the run stopped cleanly."""


class JobInterrupted(Exception):
    """Raised by a caller's ``should_cancel`` to stop a run that is to resume later (its worker is shutting
    down). Unlike a cancel, training first saves a checkpoint of the steps it finished, so the resumed run
    repeats none of them; the exception then leaves the run."""


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
    #: The per-pair JSON Lines of what the teacher wrote (rationales, rewrites, translations), if any.
    samples_path: Path | None = None
    #: OpenAI's metrics CSV, one row per training step (:func:`radis_core.step_metrics.write_metrics_csv`).
    metrics_path: Path | None = None
