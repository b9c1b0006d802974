"""Error codes for what stops a run, and the names a job's model gets. No database, no model."""

from __future__ import annotations

import pytest

from radis_core.events import TrainingDiverged
from radis_core.model_names import model_reference, model_short_name
from radis_core.models import ModelSourceError
from radis_core.settings import SettingsError
from worker.failures import classify
from worker.results import fine_tuned_model_name
from worker.spec import JobFacts


@pytest.mark.parametrize(
    ("exc", "code", "param"),
    [
        (MemoryError(), "out_of_memory", None),
        (
            RuntimeError(
                "[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory: you tried to allocate 9 GB"
            ),
            "out_of_memory",
            None,
        ),
        (
            SettingsError("hyperparameters.max_seq_len", "no training example fits"),
            "invalid_hyperparameters",
            "hyperparameters.max_seq_len",
        ),
        (
            SettingsError("evaluation.batch_size", "Input should be greater than or equal to 1"),
            "invalid_method_settings",
            "evaluation.batch_size",
        ),
        (ModelSourceError("unknown model 'x'"), "model_not_found", "model"),
        (TrainingDiverged("loss became nan at step 2"), "training_diverged", "hyperparameters.learning_rate_multiplier"),
    ],
)
def test_known_failures_get_their_codes(exc: BaseException, code: str, param: str | None) -> None:
    failure = classify(exc, "training")
    assert (failure.code, failure.param) == (code, param)


def test_a_cuda_out_of_memory_error_is_out_of_memory() -> None:
    torch = pytest.importorskip("torch")
    failure = classify(torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"), "training")
    assert failure.code == "out_of_memory" and "batch_size" in failure.message and "training" in failure.message


def test_unexpected_errors_are_internal_and_carry_no_details() -> None:
    failure = classify(RuntimeError("could not connect to postgresql://radis:hunter2@db/radis"), "evaluating")
    assert failure.code == "internal_error"
    assert "hunter2" not in failure.message and "RuntimeError" in failure.message and "evaluating" in failure.message


@pytest.mark.parametrize(
    ("model", "reference", "short"),
    [
        ("HuggingFaceTB/SmolLM2-135M-Instruct", "smollm2-135m-instruct", "smollm2-135m-instruct"),
        ("smollm2-135m-instruct", "smollm2-135m-instruct", "smollm2-135m-instruct"),
        ("/models/My Model:v2", "/models/My Model:v2", "my-model-v2"),
        ("/models/smol.Q4_1.gguf", "/models/smol.Q4_1.gguf", "smol.q4_1"),
        ("hf:org/Some-Model", "hf:org/Some-Model", "some-model"),
    ],
)
def test_model_references_and_short_names(model: str, reference: str, short: str) -> None:
    assert model_reference(model) == reference
    assert model_short_name(model) == short


def test_the_fine_tuned_model_name_has_four_colon_separated_fields() -> None:
    facts = JobFacts(
        job_id="ftjob-abc",
        project_id="proj_x",
        model="/m/tiny:llama",
        method="radis",
        suffix=None,
        keep_checkpoints=2,
        wall_time_budget_s=3600,
        run_seconds=0.0,
    )
    assert fine_tuned_model_name(facts) == "ft:tiny-llama:radis:ftjob-abc"
    named = JobFacts(**{**facts.__dict__, "suffix": "legal-de"})
    assert fine_tuned_model_name(named) == "ft:tiny-llama:legal-de:ftjob-abc"
    odd = JobFacts(**{**facts.__dict__, "suffix": "a:b c"})
    assert fine_tuned_model_name(odd) == "ft:tiny-llama:a-b-c:ftjob-abc"
