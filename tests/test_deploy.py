"""docker-compose.yml stays valid and production-shaped (no Docker engine runs here to start it)."""

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_compose_file_has_the_four_services_with_healthchecks_and_a_gpu_worker():
    doc = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = doc["services"]
    assert {"postgres", "redis", "api", "worker"} <= set(services)
    for name in ("postgres", "redis", "api"):
        assert "test" in services[name]["healthcheck"], name
    devices = services["worker"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["capabilities"] == ["gpu"]
    assert "artifacts" in doc["volumes"]
    assert services["api"]["environment"]["RADIS_DATABASE_URL"].startswith("postgresql+psycopg://")


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose (Debian package) not installed")
def test_docker_compose_config_accepts_it():
    res = subprocess.run(
        ["docker-compose", "-f", str(ROOT / "docker-compose.yml"), "config", "-q"], capture_output=True, text=True
    )
    assert res.returncode == 0, res.stderr
