"""Fixtures for the hostile-input tests: the API test app (tests/api/conftest.py) with a larger upload
limit, so that files of a few hundred KiB (deeply nested JSON) reach the validator instead of the 413."""

from __future__ import annotations

from pathlib import Path

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
def api_settings(tmp_path: Path, pg_url: str, redis_url: str) -> Settings:
    return Settings(
        data_dir=tmp_path / "radis-data",
        database_url=pg_url,
        broker_url=redis_url,
        result_backend=redis_url,
        cache_dir=tmp_path / "cache",
        max_upload_bytes=HOSTILE_MAX_UPLOAD_BYTES,
        public_models=["smollm2-135m-instruct"],
    )
