"""Every declared setting, out of range, is refused by the API with a 400 naming its full path; nothing is stored."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import Caller, EnqueueRecorder
from tests.settings_cases import BAD_IDS, BAD_SETTINGS, BadSetting

JOBS = "/v1/fine_tuning/jobs"


@pytest.mark.parametrize("case", BAD_SETTINGS, ids=BAD_IDS)
def test_out_of_range_setting_is_refused_with_its_path(
    client: TestClient, caller: Caller, training_file: dict, enqueued: EnqueueRecorder, case: BadSetting
) -> None:
    section, name = case.path.split(".")
    body = {
        "model": "smollm2-135m-instruct",
        "training_file": training_file["id"],
        "method": {"type": case.method, case.method: {section: {name: case.value}}},
    }
    response = client.post(JOBS, json=body, headers=caller.headers)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"].startswith(f"method.{case.method}.{case.path}"), error
    assert name in error["message"]
    assert enqueued.job_ids == []


def test_the_openapi_document_shows_the_typed_settings(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    hyperparameters = schema["components"]["schemas"]["Hyperparameters"]["properties"]
    assert hyperparameters["lora_rank"]["maximum"] == 1024 and hyperparameters["lora_rank"]["description"]
    evaluation = schema["components"]["schemas"]["EvalSettings"]["properties"]
    assert {"minimum": 0, "maximum": 1, "type": "number"}.items() <= evaluation["min_retention"]["anyOf"][0].items()
