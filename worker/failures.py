"""Map what stopped a run to OpenAI's job ``error`` fields (``code``, ``message``, ``param``).

Callers see these, so messages say what to change and never carry internals: an unexpected
exception becomes ``internal_error`` naming only its class and the stage (the traceback goes to the
worker log), because exception texts can hold connection strings or file contents.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from radis_core.events import TrainingDiverged
from radis_core.models import ModelSourceError
from radis_core.settings import SettingsError
from store.errors import QuotaExceeded
from worker.spec import SpecError


class BudgetExceeded(Exception):
    """The job ran past its wall-time budget (raised by the worker's cancel check between steps)."""

    def __init__(self, budget_s: int, used_s: float) -> None:
        super().__init__(f"ran {used_s:.0f} s of a {budget_s} s wall-time budget")
        self.budget_s = budget_s
        self.used_s = used_s


class TokenBudgetExceeded(Exception):
    """The job used more tokens (generated plus trained) than its budget (raised by the worker's cancel
    check between training steps and generation batches)."""

    def __init__(self, budget: int, used: int) -> None:
        super().__init__(f"used {used} tokens of a {budget}-token budget")
        self.budget = budget
        self.used = used


@dataclass(frozen=True)
class Failure:
    """The ``error`` of a failed job."""

    code: str
    message: str
    param: str | None = None


def _is_out_of_memory(exc: BaseException) -> bool:
    if isinstance(exc, MemoryError):
        return True
    torch = sys.modules.get("torch")  # loaded by the run if it got far enough to allocate tensors
    if torch is not None and isinstance(exc, torch.cuda.OutOfMemoryError):
        return True
    # CPU tensors that do not fit raise a plain RuntimeError from torch's allocator.
    return isinstance(exc, RuntimeError) and (
        "DefaultCPUAllocator: can't allocate memory" in str(exc) or "CUDA out of memory" in str(exc)
    )


def classify(exc: BaseException, stage: str | None) -> Failure:
    """The job error for ``exc``, raised while the run was in ``stage`` (``None`` before the first stage)."""
    # Imported here: the pipeline module is the worker child's business, not the importer's.
    from radis_core.job_data import CorpusRejected
    from radis_core.targets_step import TooFewRationales

    where = stage.replace("_", " ") if stage else "setup"
    if isinstance(exc, BudgetExceeded):
        return Failure(
            "budget_exceeded",
            f"The job used its wall-time budget of {exc.budget_s} s (all attempts together) and was stopped during"
            f" {where}. Train fewer steps or pairs, or ask for a larger wall_time_budget_s.",
            "wall_time_budget_s",
        )
    if isinstance(exc, TokenBudgetExceeded):
        return Failure(
            "budget_exceeded",
            f"The job used {exc.used} tokens (generated plus trained, all attempts together) of its token budget of"
            f" {exc.budget} and was stopped during {where}. Train fewer steps or pairs, or ask for a larger token_budget.",
            "token_budget",
        )
    if isinstance(exc, SpecError):
        return Failure(exc.code, exc.message, exc.param)
    if isinstance(exc, CorpusRejected):
        param = "validation_file" if exc.which == "validation" else "training_file"
        return Failure("invalid_training_file", str(exc), param)
    if isinstance(exc, SettingsError):
        code = "invalid_hyperparameters" if exc.path.startswith("hyperparameters") else "invalid_method_settings"
        return Failure(code, str(exc), exc.path or None)
    if isinstance(exc, TooFewRationales):
        return Failure(
            "too_few_rationales", f"The job stopped before training: {exc}", "method.radis.rationale.min_rationale_share"
        )
    if isinstance(exc, ModelSourceError):
        return Failure("model_not_found", str(exc), "model")
    if isinstance(exc, TrainingDiverged):
        return Failure(
            "training_diverged",
            f"Training diverged: {exc}. Lower learning_rate or learning_rate_multiplier, or raise batch_size.",
            "hyperparameters.learning_rate_multiplier",
        )
    if _is_out_of_memory(exc):
        return Failure(
            "out_of_memory",
            f"The worker ran out of memory during {where}. Lower batch_size or max_seq_len, or use a smaller model.",
            None,
        )
    if isinstance(exc, QuotaExceeded):
        return Failure("quota_exceeded", f"The job's results could not be stored: {exc}", None)
    return Failure(
        "internal_error", f"Internal error during {where} ({type(exc).__name__}); the worker log has the details.", None
    )
