"""api.uploads.receive_upload on its own (no app, no database): large bodies cross the loop→thread hand-off
intact, reading stops at the limit, and a slow client's bytes reach the disk before the body ends."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

from api.errors import APIError
from api.uploads import FORM_OVERHEAD_BYTES, HANDOFF_BYTES, receive_upload
from store.artifacts import ArtifactStore, TooLarge

BOUNDARY = "upl0adb0undary"
HEAD = (
    f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nfine-tune\r\n'
    f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="t.jsonl"\r\n\r\n'
).encode()
TAIL = f"\r\n--{BOUNDARY}--\r\n".encode()
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"


def files_in(root: Path) -> list[Path]:
    """Every file under the store, the temporary folder included."""
    return [p for p in root.rglob("*") if p.is_file()]


def receive(store: ArtifactStore, body: AsyncIterator[bytes], max_bytes: int):
    async def run():
        return await receive_upload(
            body, CONTENT_TYPE, store, max_bytes=max_bytes, prefix="files", name="file-x", allowed_fields=frozenset({"purpose"})
        )

    return anyio.run(run)


def test_a_body_of_several_hand_off_buffers_is_stored_exactly(tmp_path: Path) -> None:
    content = os.urandom(3 * HANDOFF_BYTES + 12345)
    body = HEAD + content + TAIL
    chunk = 65_521  # a prime: boundaries and buffers split at every kind of place

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(body), chunk):
            yield body[i : i + chunk]

    store = ArtifactStore(tmp_path / "store")
    received = receive(store, chunks(), max_bytes=len(content))
    assert received.blob.bytes == len(content) and received.blob.sha256 == hashlib.sha256(content).hexdigest()
    assert store.path(received.blob.key).read_bytes() == content
    assert received.fields == {"purpose": "fine-tune"} and received.filename == "t.jsonl"
    assert files_in(tmp_path / "store") == [store.path(received.blob.key)]


def test_reading_stops_at_the_limit_and_nothing_is_kept(tmp_path: Path) -> None:
    produced = 0
    chunk = 64 << 10
    max_bytes = 1 << 20

    async def endless() -> AsyncIterator[bytes]:
        nonlocal produced
        yield HEAD
        produced += len(HEAD)
        while True:
            produced += chunk
            yield b"a" * chunk

    store = ArtifactStore(tmp_path / "store")
    with pytest.raises(TooLarge):
        receive(store, endless(), max_bytes=max_bytes)
    assert produced <= max_bytes + FORM_OVERHEAD_BYTES + chunk
    assert files_in(tmp_path / "store") == []


def test_a_form_error_stops_the_upload_and_nothing_is_kept(tmp_path: Path) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield HEAD.replace(b'name="purpose"', b'name="colour"')
        for _ in range(64):
            yield b"b" * (64 << 10)
        yield TAIL

    store = ArtifactStore(tmp_path / "store")
    with pytest.raises(APIError) as caught:
        receive(store, chunks(), max_bytes=16 << 20)
    assert caught.value.status_code == 400 and caught.value.param == "colour" and "colour" in str(caught.value)
    assert files_in(tmp_path / "store") == []


def test_a_slow_clients_bytes_reach_the_disk_before_the_body_ends(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "store")
    first = b"c" * (300 << 10)  # far less than a hand-off buffer
    seen_on_disk = 0

    async def slow() -> AsyncIterator[bytes]:
        nonlocal seen_on_disk
        yield HEAD + first
        with anyio.move_on_after(10):  # the client pauses; the thread writes what has come meanwhile
            while not (seen_on_disk := sum(p.stat().st_size for p in files_in(tmp_path / "store"))):
                await anyio.sleep(0.01)
        yield first + TAIL

    received = receive(store, slow(), max_bytes=1 << 20)
    assert seen_on_disk > 0, "nothing was written while the client paused"
    assert store.path(received.blob.key).read_bytes() == first + first


def test_a_body_that_fails_after_its_closing_boundary_keeps_nothing(tmp_path: Path, monkeypatch) -> None:
    """The whole form arrived (closing boundary included) and the file was stored, then reading the body
    failed: the request fails, so the stored blob must go too."""
    content = b'{"source": "Hund", "target": "dog"}\n' * 64

    async def hangs_up_after_the_end() -> AsyncIterator[bytes]:
        yield HEAD + content
        yield TAIL
        raise ConnectionResetError("the client went away before the request was over")

    store = ArtifactStore(tmp_path / "store")
    stored: list[str] = []
    save_stream = store.save_stream

    def recording_save_stream(*args, **kwargs):
        blob = save_stream(*args, **kwargs)
        stored.append(blob.key)
        return blob

    monkeypatch.setattr(store, "save_stream", recording_save_stream)
    with pytest.raises(ConnectionResetError):
        receive(store, hangs_up_after_the_end(), max_bytes=1 << 20)
    assert len(stored) == 1, "the complete form should have been stored before the failure was seen"
    assert files_in(tmp_path / "store") == []
