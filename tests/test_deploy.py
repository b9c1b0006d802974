"""docker-compose.yml stays valid and production-shaped (no Docker engine runs here to start it)."""

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_compose_file_has_the_services_with_healthchecks_and_a_gpu_worker():
    doc = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = doc["services"]
    assert {"postgres", "redis", "minio", "create-bucket", "api", "worker"} <= set(services)
    for name in ("postgres", "redis", "minio", "api"):
        assert "test" in services[name]["healthcheck"], name
    devices = services["worker"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["capabilities"] == ["gpu"]
    assert services["api"]["environment"]["RADIS_DATABASE_URL"].startswith("postgresql+psycopg://")


def test_the_api_and_the_worker_share_only_postgres_redis_and_the_bucket():
    """Issue 14: no shared volume; both read the bucket from RADIS_ARTIFACT_URL, created before they start."""
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    api, worker = services["api"], services["worker"]
    api_volumes = {v.split(":")[0] for v in api.get("volumes", [])}
    worker_volumes = {v.split(":")[0] for v in worker.get("volumes", [])}
    assert api_volumes & worker_volumes == set()
    for service in (api, worker):
        env = service["environment"]
        assert env["RADIS_ARTIFACT_URL"].startswith("s3://radis/")
        assert env["AWS_ENDPOINT_URL"] == "http://minio:9000"
        assert service["depends_on"]["create-bucket"]["condition"] == "service_completed_successfully"
    assert "mc mb --ignore-existing radis/radis" in " ".join(services["create-bucket"]["command"])
    assert services["minio"]["environment"]["MINIO_ROOT_USER"] in api["environment"]["AWS_ACCESS_KEY_ID"]


def test_the_dockerfile_builds_an_api_image_without_torch_and_a_worker_image_with_it():
    stages: dict[str, list[str]] = {}
    current = ""
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("FROM "):
            current = line.split(" AS ")[-1].strip()
            stages[current] = []
        elif current and not line.lstrip().startswith("#"):
            stages[current].append(line)
    assert {"base", "api", "worker"} <= set(stages)
    api, worker = "\n".join(stages["api"]), "\n".join(stages["worker"])
    assert "pip install ." in api and "[worker]" not in api and "find_spec('torch')" in api
    assert "'.[worker]'" in worker and 'CMD ["radis", "worker"]' in worker
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    assert services["api"]["build"]["target"] == services["migrate"]["build"]["target"] == "api"
    assert services["worker"]["build"]["target"] == "worker"


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose (Debian package) not installed")
def test_docker_compose_config_accepts_it():
    res = subprocess.run(
        ["docker-compose", "-f", str(ROOT / "docker-compose.yml"), "config", "-q"], capture_output=True, text=True
    )
    assert res.returncode == 0, res.stderr
