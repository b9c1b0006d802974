"""``radis worker --gpus 0,1``: one Celery worker process per device, pinned by ``CUDA_VISIBLE_DEVICES`` and
running one job at a time, plus one reconciler; bad device lists are refused before anything starts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from radis_cli.demo import stop_process_group
from radis_cli.service import parse_gpus, worker_plan
from tests.worker.test_celery_worker import redis_db_url  # noqa: F401 - fixture: a Redis database of its own

ROOT = Path(__file__).resolve().parents[2]


def _option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def test_each_device_gets_its_own_single_job_worker_and_the_host_one_reconciler() -> None:
    plan = worker_plan({"PATH": "/bin"}, gpus=["0", "1"])
    workers = [(cmd, env) for cmd, env in plan if "celery" in cmd]
    assert [env["CUDA_VISIBLE_DEVICES"] for _, env in workers] == ["0", "1"]
    assert [_option(cmd, "-c") for cmd, _ in workers] == ["1", "1"]
    assert [_option(cmd, "--hostname") for cmd, _ in workers] == ["gpu0@%h", "gpu1@%h"]
    reconcilers = [(cmd, env) for cmd, env in plan if cmd[-1] == "worker.reconciler"]
    assert len(reconcilers) == 1 and "CUDA_VISIBLE_DEVICES" not in reconcilers[0][1]
    # Without --gpus: the one worker of before, with its concurrency, and no device pinning.
    (single, env), _ = worker_plan({"PATH": "/bin"}, concurrency=2)
    assert _option(single, "-c") == "2" and "--hostname" not in single and "CUDA_VISIBLE_DEVICES" not in env


@pytest.mark.parametrize("text", ["", "0,,1", "0,0", "0;rm", "a b"])
def test_a_bad_device_list_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="--gpus"):
        parse_gpus(text)
    assert parse_gpus(" 0, GPU-1a2b ") == ["0", "GPU-1a2b"]


def test_the_command_refuses_a_bad_list_before_starting_anything(tmp_path: Path) -> None:
    env = {**os.environ, "RADIS_DATA_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "radis_cli.main", "worker", "--gpus", "0,0"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 2 and "listed twice" in result.stdout + result.stderr
    assert not (tmp_path / "artifacts").exists()


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    return found


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode(errors="replace").split("=", 1) for item in raw if b"=" in item)


@pytest.mark.slow
def test_radis_worker_gpus_starts_a_pinned_worker_per_device_and_stops_on_sigterm(
    pg_url: str,
    redis_db_url: str,  # noqa: F811 - fixture
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RADIS_")}
    env.update(
        RADIS_DATA_DIR=str(tmp_path / "data"),
        RADIS_CACHE_DIR=str(tmp_path / "cache"),
        RADIS_DATABASE_URL=pg_url,
        RADIS_BROKER_URL=redis_db_url,
        RADIS_RESULT_BACKEND=redis_db_url,
    )
    command = [sys.executable, "-c", "from radis_cli.main import app; app()", "worker", "--gpus", "0,1"]
    with (tmp_path / "worker.log").open("wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while len(children := _children(process.pid)) < 3 and time.monotonic() < deadline:
            time.sleep(0.2)
        devices = sorted(_environ(pid).get("CUDA_VISIBLE_DEVICES", "-") for pid in children)
        assert devices == ["-", "0", "1"], (devices, (tmp_path / "worker.log").read_text(errors="replace")[-2000:])
        # Both Celery workers up (a SIGTERM before Celery installed its handlers would just kill them).
        log_text = lambda: (tmp_path / "worker.log").read_text(errors="replace")  # noqa: E731
        while log_text().count(" ready.") < 2 and time.monotonic() < deadline + 60:
            time.sleep(0.2)
        assert log_text().count(" ready.") == 2, log_text()[-2000:]
        process.send_signal(signal.SIGTERM)
        assert process.wait(90) == 0, (tmp_path / "worker.log").read_text(errors="replace")[-2000:]
        assert all(not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text() for pid in children)
    finally:
        stop_process_group(process)
