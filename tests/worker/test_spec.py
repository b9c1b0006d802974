"""The worker re-checks a stored job's settings with the same declarations the API used, naming the path."""

from __future__ import annotations

from pathlib import Path

import pytest

from store.models import Job
from tests.settings_cases import BAD_IDS, BAD_SETTINGS, BadSetting
from worker.spec import SpecError, job_settings


def _stored(method: str, section: str, values: dict) -> Job:
    if section == "hyperparameters":
        return Job(method=method, hyperparameters=values, method_settings={})
    return Job(method=method, hyperparameters={}, method_settings={section: values})


@pytest.mark.parametrize("case", BAD_SETTINGS, ids=BAD_IDS)
def test_a_stored_out_of_range_setting_is_refused_with_its_path(case: BadSetting) -> None:
    section, name = case.path.split(".")
    with pytest.raises(SpecError) as caught:
        job_settings(_stored(case.method, section, {name: case.value}))
    assert caught.value.param is not None and caught.value.param.startswith(f"method.{case.method}.{case.path}")
    expected = "invalid_hyperparameters" if section == "hyperparameters" else "invalid_method_settings"
    assert caught.value.code == expected


def test_a_stored_job_with_valid_settings_builds_them() -> None:
    built = job_settings(_stored("radis", "evaluation", {"min_retention": 0.5, "max_probe_items": 4}))
    assert built.evaluation.min_retention == 0.5 and built.hyperparameters.lora_rank == 16


def test_a_stored_dtype_reaches_the_spec_the_pipeline_loads_with() -> None:
    from radis_core.config import JobSpec

    built = job_settings(_stored("supervised", "hyperparameters", {"dtype": "bfloat16"}))
    spec = JobSpec(model="m", train_file=Path("t.jsonl"), output_dir=Path("out"), settings=built)
    assert spec.dtype == "bfloat16"
    assert JobSpec(model="m", train_file=Path("t.jsonl"), output_dir=Path("out")).dtype == "auto"


def test_a_section_of_another_method_is_refused() -> None:
    with pytest.raises(SpecError) as caught:
        job_settings(_stored("supervised", "rationale", {"max_new_tokens": 8}))
    assert caught.value.param == "method.supervised.rationale"
