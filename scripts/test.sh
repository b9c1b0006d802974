#!/usr/bin/env bash
# The test command (README, CI): installs what is missing, runs the lint, format and type checks, starts
# Postgres/Redis if stopped, runs pytest. Extra arguments go to pytest, e.g. scripts/test.sh -m "not slow".
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
# Configured in pyproject.toml ([tool.ruff], [tool.mypy] with its files); any finding fails the run.
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
# The dashboard test drives Debian's Chromium (playwright never downloads a browser here). Best effort:
# checked on every run, only where apt-get exists and we may use it; without it, that test fails and says so.
if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && SUDO="sudo -n"
  { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium; } \
    || echo "bootstrap: could not install chromium (the dashboard browser test will fail until it is installed)" >&2
fi
scripts/services.sh
exec .venv/bin/python -m pytest "$@"
