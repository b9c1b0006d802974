"""The stages of a running job: their names, the event that opens each, and its share of the progress bar.

One table, read by the pipeline (which stage it is in), the store (which stages a job row may hold and
the message that marks each) and the worker (overall progress per method). Before the first stage a
run also reports the setup phases ``validating`` and ``loading_model``; they are not job stages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

Stage = Literal["generating_rationales", "generating_targets", "training", "evaluating", "exporting"]
#: Everything an event can be about: the setup phases, then the job stages.
Phase = Literal[
    "validating", "loading_model", "generating_rationales", "generating_targets", "training", "evaluating", "exporting"
]


@dataclass(frozen=True)
class StageSpec:
    """One stage: its name, the event message that marks entering it, and its progress span per method."""

    name: Stage
    message: str
    #: (start, end) of the overall progress (0–1) this stage covers, for each method that has it.
    spans: dict[str, tuple[float, float]]


# Training dominates a run; evaluation runs the model twice (base and tuned); export is quick.
# Supervised jobs generate nothing, so training starts at 0.
_AFTER_GENERATION = {"training": (0.3, 0.8), "evaluating": (0.8, 0.95), "exporting": (0.95, 1.0)}
_WITHOUT_GENERATION = {"training": (0.0, 0.8), "evaluating": (0.8, 0.95), "exporting": (0.95, 1.0)}
_SPANS = {"radis": _AFTER_GENERATION, "sdft": _AFTER_GENERATION, "seqkd": _AFTER_GENERATION, "supervised": _WITHOUT_GENERATION}

STAGES: tuple[StageSpec, ...] = (
    StageSpec("generating_rationales", "Generating rationales with the base model", {"radis": (0.0, 0.3)}),
    StageSpec("generating_targets", "Generating the teacher's targets", {"sdft": (0.0, 0.3), "seqkd": (0.0, 0.3)}),
    StageSpec("training", "Training", {method: spans["training"] for method, spans in _SPANS.items()}),
    StageSpec("evaluating", "Evaluating the base and the tuned model", {m: s["evaluating"] for m, s in _SPANS.items()}),
    StageSpec("exporting", "Exporting the adapter", {method: spans["exporting"] for method, spans in _SPANS.items()}),
)
STAGE_NAMES: tuple[str, ...] = get_args(Stage)
assert tuple(s.name for s in STAGES) == STAGE_NAMES, "the Stage literal and the table must list the same stages"


def stage(name: str) -> StageSpec:
    """The table's entry for ``name``; ``ValueError`` for a name that is not a stage."""
    for spec in STAGES:
        if spec.name == name:
            return spec
    raise ValueError(f"stage: must be one of {', '.join(STAGE_NAMES)}, got {name!r}")


def progress_spans(method: str) -> dict[str, tuple[float, float]]:
    """Each stage ``method`` goes through, with its overall progress span."""
    return {spec.name: spec.spans[method] for spec in STAGES if method in spec.spans}
