"""The API test app and its fixtures (tests/api/conftest.py), plus a job taken to ``succeeded`` with real
result blobs (tests/api/test_results.py), so every id-taking route has an object to ask for."""

from tests.api.conftest import (  # noqa: F401 - fixtures re-exported for this package
    api_settings,
    app,
    artifacts,
    caller,
    client,
    enqueued,
    other_caller,
    training_file,
)
from tests.api.test_results import succeeded_job  # noqa: F401
