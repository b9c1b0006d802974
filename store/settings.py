"""The service's one configuration object (API process and worker read the same one).

Every value comes from an environment variable named ``RADIS_<FIELD>`` (for example
``RADIS_DATABASE_URL``), or from a ``.env`` file in the working directory, or from the default below.
With nothing set, the service runs *embedded*: SQLite for the database and for the Celery broker, all
under ``./radis-data``, so a single machine needs no server.

URLs may carry passwords; never log them raw: log :func:`redacted` (or ``repr(settings)``, which
redacts them already).
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

MiB = 1024 * 1024

#: Base models offered by ``GET /v1/models`` when the deployment configures no catalogue.
DEFAULT_PUBLIC_MODELS: tuple[str, ...] = ("smollm2-135m-instruct",)  # radis_core.models.CATALOGUE names

#: Settings fields that hold URLs (redacted in ``repr`` and :meth:`Settings.describe`).
_URL_FIELDS = ("database_url", "broker_url", "result_backend")

#: Query parameters that carry secrets in some drivers' URLs (``?password=…``).
_SECRET_QUERY_KEYS = {"password", "passwd", "pass", "secret", "token", "access_token", "api_key", "key"}


def redacted(url: str) -> str:
    """Return ``url`` with any password (in the user-info or in a secret-looking query parameter) masked.

    >>> redacted("postgresql+psycopg://radis:hunter2@db:5432/radis")
    'postgresql+psycopg://radis:***@db:5432/radis'
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        # An unparsable URL may still hold a secret: show only its scheme.
        return url.split(":", 1)[0] + ":***"
    out = url
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        if ":" in userinfo:
            masked = f"{userinfo.split(':', 1)[0]}:***@{host}"
        elif parts.scheme.startswith("redis"):
            # redis://secret@host: a lone user-info is the password for Redis.
            masked = f"***@{host}"
        else:
            masked = netloc
        out = out.replace(netloc, masked, 1)
    if parts.query:
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        query = urlencode([(k, "***" if k.lower() in _SECRET_QUERY_KEYS else v) for k, v in pairs], safe="*")
        # String replacement, not urlunsplit: that would turn sqlite:////abs/path into sqlite://abs/path.
        out = out.replace("?" + parts.query, "?" + query, 1)
    return out


class Settings(BaseSettings):
    """Configuration of the API process and the worker. See the module docstring for the sources."""

    model_config = SettingsConfigDict(env_prefix="RADIS_", env_file=".env", env_file_encoding="utf-8", extra="ignore")

    data_dir: Path = Field(default=Path("./radis-data"), description="Root of the embedded database, broker and artifacts.")
    database_url: str = Field(default="", description="SQLAlchemy URL; default sqlite:///<data_dir>/radis.db.")
    broker_url: str = Field(default="", description="Celery broker; default a SQLite broker that needs no server.")
    result_backend: str = Field(default="", description="Celery result backend; default SQLite under data_dir.")
    artifact_dir: Path | None = Field(
        default=None,
        description="Uploaded files, checkpoints, adapters; default <data_dir>/artifacts. With artifact_url: this process's scratch folder.",
    )
    artifact_url: str = Field(
        default="",
        description="s3://bucket/prefix: keep artifacts in an S3-compatible bucket (endpoint and credentials from the AWS_* variables); empty = artifact_dir.",
    )
    cache_dir: Path = Field(default=Path("~/.cache/radis"), description="Model and rationale cache (RADIS_CACHE_DIR).")
    max_upload_bytes: int = Field(default=512 * MiB, gt=0, description="Largest accepted upload.")
    max_concurrent_jobs_per_project: int = Field(
        default=4, gt=0, description="Active (queued or running) jobs a project may have."
    )
    max_storage_bytes_per_project: int = Field(
        default=20 * 1024 * MiB,
        ge=0,
        description="Bytes a project may keep (live files and folders of unfinished jobs) unless `radis projects set` gives it its own limit; 0 = no limit.",
    )
    job_wall_time_s: int = Field(
        default=6 * 3600,
        ge=1,
        description="Seconds a job may run (all attempts together) unless its project sets its own; over it the job fails with budget_exceeded.",
    )
    max_job_wall_time_s: int = Field(
        default=48 * 3600, ge=1, description="The largest wall-time budget a project or a job may ask for."
    )
    # A finite default, so no job is unbounded in compute: a billion tokens is far above any job this
    # service runs in its 6 h default wall time on one device (a 0.5B model trains and generates well
    # under 50k tokens/s), so an honest job never meets it, while a runaway one stops.
    job_token_budget: int = Field(
        default=1_000_000_000,
        ge=1,
        description="Tokens a job may use (generated for targets and rationales plus trained, all attempts together) unless its project sets its own; over it the job fails with budget_exceeded.",
    )
    max_job_token_budget: int = Field(
        default=10_000_000_000, ge=1, description="The largest token budget a project or a job may ask for."
    )
    max_concurrent_uploads_per_project: int = Field(
        default=4, ge=1, le=10_000, description="Uploads one project may stream at once (per API process); more get 429."
    )
    rate_limit_per_s: float = Field(
        default=50.0,
        ge=0,
        le=1e6,
        description="Requests per second one API key may make on average (all API processes together when the limits are shared); 0 = off.",
    )
    rate_limit_burst: int = Field(
        default=500, ge=1, le=1_000_000, description="Requests one API key may make at once before the rate applies."
    )
    invalid_keys_per_ip_per_s: float = Field(
        default=5.0,
        ge=0,
        le=1e6,
        description="Failed key checks per second one client address may make on average; past its burst the address gets 429 before any lookup (0 = off).",
    )
    invalid_keys_per_ip_burst: int = Field(
        default=300, ge=1, le=1_000_000, description="Failed key checks one client address may make at once."
    )
    rate_limit_redis_url: str = Field(
        default="",
        description="Redis holding the rate-limit buckets that every API process shares; empty: the broker when it is Redis; 'off': each process keeps its own.",
    )
    body_idle_timeout_s: float = Field(
        default=30.0, gt=0, le=3600, description="A request body that sends nothing for this long is answered 408."
    )
    body_min_bytes_per_s: int = Field(
        default=4 * 1024,
        ge=0,
        le=1 << 30,
        description="Slowest average a request body may arrive at (after a grace of body_idle_timeout_s); slower is 408 (0 = off).",
    )
    stream_key_recheck_s: float = Field(
        default=15.0, gt=0, le=30, description="How often an open event stream checks that its key is still live."
    )
    max_json_body_bytes: int = Field(
        default=MiB, ge=1024, le=64 * MiB, description="Largest body of a request other than an upload (read while counting)."
    )
    heartbeat_interval_s: float = Field(default=10.0, gt=0, description="How often a running job proves its worker is alive.")
    stale_after_s: float = Field(
        default=120.0, gt=0, description="A running job without a heartbeat for this long is taken over."
    )
    max_attempts: int = Field(
        default=3,
        ge=1,
        le=100,
        description="Times a job is started (first run and take-overs after its worker died) before it fails with too_many_attempts.",
    )
    api_host: str = Field(default="127.0.0.1", description="Address the API binds.")
    api_port: int = Field(default=8000, gt=0, lt=65536, description="Port the API binds.")
    worker_metrics_port: int = Field(
        default=9101,
        ge=0,
        lt=65536,
        description="Port of the worker's Prometheus metrics on api_host (GET /metrics; 0 = not served); the API serves its own on api_port.",
    )
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="text: each process's usual log lines; json: one JSON object a line with request_id and job_id (store/logs.py).",
    )
    allow_local_models: bool = Field(
        default=False,
        description="Accept a local folder or .gguf path as a job's model (tests, single-tenant installs); off for shared services.",
    )
    public_models: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_PUBLIC_MODELS),
        description="Base models callers may fine-tune (comma-separated or a JSON list in the environment).",
    )

    @field_validator("public_models", mode="before")
    @classmethod
    def _split_models(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                import json

                return json.loads(text)
            return [name.strip() for name in text.split(",") if name.strip()]
        return value

    @model_validator(mode="after")
    def _fill_defaults(self) -> Settings:
        # Defaults that depend on data_dir are filled here so that setting RADIS_DATA_DIR alone moves everything.
        self.data_dir = self.data_dir.expanduser().resolve()
        self.cache_dir = self.cache_dir.expanduser().resolve()
        if not self.database_url:
            self.database_url = f"sqlite:///{self.data_dir / 'radis.db'}"
        if not self.broker_url:
            self.broker_url = f"sqla+sqlite:///{self.data_dir / 'broker.db'}"
        if not self.result_backend:
            self.result_backend = f"db+sqlite:///{self.data_dir / 'celery-results.db'}"
        self.artifact_dir = (self.artifact_dir or self.data_dir / "artifacts").expanduser().resolve()
        if self.artifact_url:
            from store.s3_artifacts import parse_artifact_url

            parse_artifact_url(self.artifact_url)  # a malformed URL stops the process at start
        if self.job_wall_time_s > self.max_job_wall_time_s:
            raise ValueError(
                f"job_wall_time_s ({self.job_wall_time_s}) must not exceed max_job_wall_time_s ({self.max_job_wall_time_s})"
            )
        if self.job_token_budget > self.max_job_token_budget:
            raise ValueError(
                f"job_token_budget ({self.job_token_budget}) must not exceed max_job_token_budget ({self.max_job_token_budget})"
            )
        if self.stale_after_s <= self.heartbeat_interval_s:
            raise ValueError(
                f"stale_after_s ({self.stale_after_s}) must exceed heartbeat_interval_s ({self.heartbeat_interval_s}),"
                " or live jobs would be taken over"
            )
        return self

    @property
    def embedded(self) -> bool:
        """True when the database is SQLite (single machine, no database server)."""
        return self.database_url.startswith("sqlite")

    @property
    def artifacts_root(self) -> Path:
        """``artifact_dir`` as a non-optional path (always set after validation)."""
        assert self.artifact_dir is not None
        return self.artifact_dir

    def ensure_dirs(self) -> None:
        """Create the data, artifact and cache folders (the embedded database lives in ``data_dir``)."""
        for path in (self.data_dir, self.artifacts_root, self.cache_dir):
            path.mkdir(parents=True, exist_ok=True)

    def describe(self) -> dict[str, Any]:
        """All settings as JSON-ready values, URLs redacted: safe to log or show on a health page."""
        out: dict[str, Any] = {}
        for name, value in self.model_dump().items():
            if name in _URL_FIELDS:
                value = redacted(value)
            elif isinstance(value, Path):
                value = str(value)
            out[name] = value
        out["embedded"] = self.embedded
        return out

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        # pydantic's repr would print URLs with their passwords; logs and tracebacks show repr.
        for name, value in super().__repr_args__():
            yield name, redacted(value) if name in _URL_FIELDS and isinstance(value, str) else value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once. Tests that change the environment call ``get_settings.cache_clear()``."""
    return Settings()
