"""Fault 4: the API process is SIGKILLed in the middle of an upload.

A raw socket sends the headers and half of a multipart body, the test waits until the server has
started writing the file (its temporary file appears), and kills the process group. Nothing of the
upload may be visible afterwards: no file row, no blob under any key, nothing listed; a new API
process then takes the same upload whole.
"""

from __future__ import annotations

import json
import os
import signal
import socket
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from store.db import session_scope
from store.keys import create_key
from store.models import File
from store.projects import create_project
from store.settings import Settings

from .conftest import api_process, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]
BOUNDARY = "f4ultb0undary"


def corpus(n: int) -> bytes:
    return "".join(
        json.dumps(
            {
                "source": f"Das ist der Satz Nummer {i}, lang genug.",
                "target": f"This is sentence number {i}, long enough.",
                "src_lang": "de",
                "tgt_lang": "en",
            }
        )
        + "\n"
        for i in range(n)
    ).encode()


def multipart(content: bytes) -> bytes:
    return (
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nfine-tune\r\n'
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="train.jsonl"\r\n'
            "Content-Type: application/jsonl\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


def blobs(root: Path) -> list[Path]:
    """Every stored file outside the temporary folder: what a key can name."""
    return [p for p in root.rglob("*") if p.is_file() and ".tmp" not in p.relative_to(root).parts] if root.exists() else []


def test_an_upload_cut_by_the_api_dying_leaves_nothing_and_a_retry_succeeds(
    factory: sessionmaker[Session], worker_db_url: str, redis_url: str, tmp_path: Path
) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=worker_db_url,
        broker_url=redis_url,
        result_backend=redis_url,
        cache_dir=tmp_path / "cache",
        max_upload_bytes=64 << 20,
    )
    with session_scope(factory) as session:
        project = create_project(session, "upload-crash")
        key, _ = create_key(session, project.id, "k")
    body = multipart(corpus(40_000))  # ~4 MB: long enough to be cut in the middle
    half = len(body) // 2
    tmp_dir = settings.artifacts_root / ".tmp"

    with api_process(settings, tmp_path / "api.log") as (base, process):
        host, port = base.removeprefix("http://").split(":")
        sock = socket.create_connection((host, int(port)))
        head = (
            f"POST /v1/files HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\n"
            f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        sock.sendall(head + body[:half])
        # The server is streaming the file to its temporary name: kill it now, mid-write.
        wait_for(lambda: tmp_dir.exists() and any(p.stat().st_size > 0 for p in tmp_dir.iterdir()), 30, "the partial file")
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
        sock.close()

    with session_scope(factory) as session:
        assert session.scalar(select(func.count()).select_from(File).where(File.project_id == project.id)) == 0
    assert blobs(settings.artifacts_root) == []  # the partial bytes never got a key

    with (
        api_process(settings, tmp_path / "api.log") as (base, _),
        httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=60) as client,
    ):
        assert client.get("/v1/files").json()["data"] == []
        retry = client.post("/v1/files", content=body, headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"})
        assert retry.status_code == 200, retry.text
        assert retry.json()["n_examples"] == 40_000
        listed = client.get("/v1/files").json()["data"]
        assert [f["id"] for f in listed] == [retry.json()["id"]]
        assert client.get(f"/v1/files/{listed[0]['id']}/content").content == corpus(40_000)
    assert len(blobs(settings.artifacts_root)) == 1
