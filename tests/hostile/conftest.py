"""Fixtures for the hostile-input tests: the API test app (tests/api/conftest.py) with a larger upload
limit, so that files of a few hundred KiB (deeply nested JSON) reach the validator instead of the 413."""

from __future__ import annotations

import pytest

from store.settings import Settings
from tests.api.conftest import (  # noqa: F401 - fixtures re-exported for this package
    app,
    caller,
    client,
    enqueued,
    other_caller,
    training_file,
)

#: Upload limit of the hostile-input app.
HOSTILE_MAX_UPLOAD_BYTES = 512 * 1024


@pytest.fixture
def api_settings(settings: Settings) -> Settings:
    """The test service's settings (tests/conftest.py) with the larger upload limit."""
    return Settings.model_validate(
        {**settings.model_dump(), "max_upload_bytes": HOSTILE_MAX_UPLOAD_BYTES, "public_models": ["smollm2-135m-instruct"]}
    )
