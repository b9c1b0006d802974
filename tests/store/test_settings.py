"""Settings: embedded defaults under one data folder, environment overrides, secrets kept out of logs."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from store.settings import Settings, get_settings, redacted


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No RADIS_* variables and no .env in the working directory."""
    import os

    for name in list(os.environ):
        if name.startswith("RADIS_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_embedded_defaults_live_under_data_dir(clean_env: Path) -> None:
    s = Settings()
    data = (clean_env / "radis-data").resolve()
    assert s.data_dir == data and s.data_dir.is_absolute()
    assert s.database_url == f"sqlite:///{data}/radis.db"
    assert s.broker_url == f"sqla+sqlite:///{data}/broker.db"
    assert s.result_backend == f"db+sqlite:///{data}/celery-results.db"
    assert s.artifact_dir == data / "artifacts"
    assert s.cache_dir == (Path.home() / ".cache" / "radis").resolve()
    assert s.embedded
    assert (s.max_upload_bytes, s.max_concurrent_jobs_per_project) == (512 * 1024 * 1024, 4)
    assert (s.heartbeat_interval_s, s.stale_after_s, s.api_host, s.api_port) == (10, 120, "127.0.0.1", 8000)


def test_environment_and_dotenv_override(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RADIS_DATA_DIR", str(clean_env / "elsewhere"))
    monkeypatch.setenv("RADIS_CACHE_DIR", str(clean_env / "cache"))
    monkeypatch.setenv("RADIS_PUBLIC_MODELS", "a/b, c/d")
    (clean_env / ".env").write_text("RADIS_DATABASE_URL=postgresql+psycopg://u:pw@db/radis\nRADIS_API_PORT=9000\n")
    s = Settings()
    assert s.database_url == "postgresql+psycopg://u:pw@db/radis" and not s.embedded
    assert s.broker_url.endswith(f"{clean_env}/elsewhere/broker.db")
    assert s.cache_dir == clean_env / "cache"
    assert s.public_models == ["a/b", "c/d"]
    assert s.api_port == 9000
    monkeypatch.setenv("RADIS_PUBLIC_MODELS", '["x/y"]')
    assert Settings().public_models == ["x/y"]


def test_invalid_values_name_the_field(clean_env: Path) -> None:
    with pytest.raises(ValidationError, match="max_upload_bytes"):
        Settings(max_upload_bytes=0)
    with pytest.raises(ValidationError, match="stale_after_s"):
        Settings(heartbeat_interval_s=30, stale_after_s=10)


def test_repr_and_describe_hide_passwords(clean_env: Path) -> None:
    s = Settings(database_url="postgresql+psycopg://radis:hunter2@db/radis", broker_url="redis://:hunter2@redis:6379/0")
    assert "hunter2" not in repr(s) and "hunter2" not in str(s)
    described = s.describe()
    assert "hunter2" not in str(described)
    assert described["database_url"] == "postgresql+psycopg://radis:***@db/radis"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql+psycopg://u:secret@h:5432/db", "postgresql+psycopg://u:***@h:5432/db"),
        ("redis://:secret@h:6379/0", "redis://:***@h:6379/0"),
        ("redis://secret@h", "redis://***@h"),
        ("postgresql://h/db?user=u&password=secret", "postgresql://h/db?user=u&password=***"),
        ("sqlite:////abs/path/radis.db", "sqlite:////abs/path/radis.db"),
        ("sqla+sqlite:///rel.db", "sqla+sqlite:///rel.db"),
    ],
)
def test_redacted(url: str, expected: str) -> None:
    assert redacted(url) == expected


def test_get_settings_is_cached(clean_env: Path) -> None:
    get_settings.cache_clear()
    try:
        assert get_settings() is get_settings()
    finally:
        get_settings.cache_clear()
