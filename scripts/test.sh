#!/usr/bin/env bash
# The test command (README, CI): installs what is missing, starts Postgres/Redis if stopped, runs pytest.
# Extra arguments go to pytest, e.g. scripts/test.sh -m "not slow" for the quick run.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
scripts/services.sh
exec .venv/bin/python -m pytest "$@"
