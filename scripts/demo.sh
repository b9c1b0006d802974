#!/usr/bin/env bash
# The main job, end to end, on the embedded default (no servers to install): installs what is
# missing, starts `radis serve` (SQLite + SQLite broker + a real Celery worker), uploads the en→de
# demo corpus (Django's human translations), runs a RaDis job on SmolLM2-135M-Instruct over HTTP,
# prints the report, saves the adapter.
# Extra arguments go to `radis demo` (e.g. --method supervised, --lang ru, --out DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
exec .venv/bin/radis demo "$@"
