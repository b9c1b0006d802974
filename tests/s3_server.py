"""A real S3 protocol endpoint for tests: moto's standalone server (``python -m moto.server``) on a loopback
port, in its own process group, stopped when the session ends.

``s3_endpoint`` (session) is the server's URL; ``s3_bucket`` (per test) creates a fresh bucket and sets the
standard AWS variables (endpoint, credentials, region) for the test, so code under test finds the server
the way a deployment would; ``s3_env`` gives the same variables to a subprocess.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from radis_cli.demo import free_port, stop_process_group


def s3_env(endpoint: str) -> dict[str, str]:
    """The AWS variables that point boto3 at ``endpoint`` (moto accepts any credentials)."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "radis-test",
        "AWS_SECRET_ACCESS_KEY": "radis-test-secret",
        "AWS_DEFAULT_REGION": "us-east-1",
    }


@contextmanager
def running_moto_server(log_path: Path) -> Iterator[str]:
    """Start moto's S3 server on a free loopback port; yields its URL; stops it (its process group) after."""
    port = free_port()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"moto's S3 server exited with {process.returncode}:\n{log_path.read_text(errors='replace')}")
            try:
                httpx.get(f"{endpoint}/", timeout=2)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"moto's S3 server did not answer within 60 s:\n{log_path.read_text(errors='replace')}"
                    ) from None
                time.sleep(0.2)
        yield endpoint
    finally:
        stop_process_group(process)


@pytest.fixture(scope="session", name="s3_endpoint")
def s3_endpoint_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """(``s3_endpoint``) URL of a moto S3 server started for this test session."""
    with running_moto_server(tmp_path_factory.mktemp("moto") / "moto.log") as endpoint:
        yield endpoint


@dataclass(frozen=True)
class Bucket:
    """A fresh bucket on the test server: its name, an ``s3://`` URL with a prefix, and a client."""

    name: str
    url: str
    endpoint: str
    client: Any

    def object_keys(self) -> list[str]:
        """Every object key in the bucket."""
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.name)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))

    def open_uploads(self) -> list[str]:
        """Keys of multipart uploads begun and neither completed nor aborted."""
        return sorted(u["Key"] for u in self.client.list_multipart_uploads(Bucket=self.name).get("Uploads", []))


@pytest.fixture(name="s3_bucket")
def s3_bucket_fixture(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Bucket:
    """(``s3_bucket``) A new bucket on the session's server; the AWS variables point at it for this test."""
    from store.s3_artifacts import s3_client

    for name, value in s3_env(s3_endpoint).items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    client = s3_client()
    name = f"radis-test-{secrets.token_hex(4)}"
    client.create_bucket(Bucket=name)
    return Bucket(name=name, url=f"s3://{name}/deploy-a", endpoint=s3_endpoint, client=client)


__all__ = ["Bucket", "running_moto_server", "s3_bucket_fixture", "s3_endpoint_fixture", "s3_env"]
