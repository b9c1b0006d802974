"""Artifact storage: atomic writes, size limit, traversal refused, reproducible archives, byte ranges."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile
from pathlib import Path

import pytest

from store.artifacts import ArtifactStore, StoredBlob, TooLarge, UnsafeKey


def _files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def test_save_stream_stores_bytes_with_size_and_hash(artifact_store: ArtifactStore) -> None:
    blob = artifact_store.save_stream([b"hello ", b"world"], max_bytes=100, prefix="files", name="file-abc")
    assert blob == StoredBlob(key=blob.key, bytes=11, sha256=hashlib.sha256(b"hello world").hexdigest())
    assert blob.key.startswith("files/") and blob.key.endswith("/file-abc") and blob.key.count("/") == 2
    with artifact_store.open(blob.key) as handle:
        assert handle.read() == b"hello world"
    assert not _files_under(artifact_store.root / ".tmp")


def test_generated_keys_are_distinct(artifact_store: ArtifactStore) -> None:
    keys = {artifact_store.save_bytes(b"x", prefix="files").key for _ in range(20)}
    assert len(keys) == 20


def test_too_large_leaves_nothing_behind(artifact_store: ArtifactStore) -> None:
    with pytest.raises(TooLarge) as caught:
        artifact_store.save_stream([b"a" * 60, b"b" * 60], max_bytes=100, prefix="files")
    assert caught.value.max_bytes == 100
    assert _files_under(artifact_store.root) == []


def test_a_failing_stream_leaves_no_partial_file(artifact_store: ArtifactStore) -> None:
    def chunks():
        yield b"first part"
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        artifact_store.save_stream(chunks(), max_bytes=1000, prefix="files", name="file-x")
    assert _files_under(artifact_store.root) == []


def test_partial_data_is_never_visible_at_the_key(artifact_store: ArtifactStore) -> None:
    """While a stream is being written, the final path does not exist; it appears complete at once."""
    key = ArtifactStore.new_key("files", "file-visible")
    seen_during_write: list[bool] = []

    def chunks():
        for _ in range(3):
            seen_during_write.append(artifact_store.path(key).exists())
            yield b"x" * 10

    blob = artifact_store.save_stream(chunks(), max_bytes=100, prefix="files", name="file-visible")
    assert blob.key == key
    assert seen_during_write == [False, False, False]
    assert artifact_store.size(key) == 30


@pytest.mark.parametrize(
    "key",
    [
        "../outside",
        "files/../../etc/passwd",
        "/etc/passwd",
        "files//x",
        "files/./x",
        "",
        "a\\b",
        ".tmp/partial-1",
        "files/.hidden",
        "files/x\x00y",
        "..",
    ],
)
def test_unsafe_keys_are_refused(artifact_store: ArtifactStore, key: str) -> None:
    with pytest.raises(UnsafeKey):
        artifact_store.path(key)


def test_symlink_out_of_the_root_is_refused(artifact_store: ArtifactStore, tmp_path: Path) -> None:
    outside = tmp_path / "secret"
    outside.mkdir()
    (outside / "key.txt").write_text("secret")
    (artifact_store.root / "files").mkdir()
    os.symlink(outside, artifact_store.root / "files" / "link")
    with pytest.raises(UnsafeKey, match="outside"):
        artifact_store.path("files/link/key.txt")
    with pytest.raises(UnsafeKey):
        artifact_store.open("files/link/key.txt")


def test_unsafe_prefix_or_name_is_refused(artifact_store: ArtifactStore) -> None:
    with pytest.raises(UnsafeKey):
        artifact_store.save_bytes(b"x", prefix="files", name="../escape")
    with pytest.raises(UnsafeKey):
        artifact_store.save_bytes(b"x", prefix="../files")


def test_delete_and_exists(artifact_store: ArtifactStore) -> None:
    blob = artifact_store.save_bytes(b"data", prefix="files")
    assert artifact_store.exists(blob.key)
    assert artifact_store.delete(blob.key) is True
    assert not artifact_store.exists(blob.key)
    assert artifact_store.delete(blob.key) is False


def test_job_dir_and_key_of(artifact_store: ArtifactStore, tmp_path: Path) -> None:
    folder = artifact_store.job_dir("ftjob-0123456789abcdef01234567")
    assert folder.is_dir() and folder.is_relative_to(artifact_store.root)
    (folder / "report.json").write_text("{}")
    assert artifact_store.key_of(folder / "report.json") == "jobs/ftjob-0123456789abcdef01234567/report.json"
    with pytest.raises(UnsafeKey):
        artifact_store.key_of(tmp_path / "elsewhere.txt")
    with pytest.raises(UnsafeKey):
        artifact_store.job_dir("../escape")


def _adapter_folder(path: Path, *, mtime: int) -> Path:
    (path / "nested").mkdir(parents=True)
    (path / "adapter_config.json").write_text('{"r": 16}')
    (path / "adapter_model.safetensors").write_bytes(bytes(range(256)) * 10)
    (path / "nested" / "meta.json").write_text("{}")
    for p in [path, *path.rglob("*")]:
        os.utime(p, (mtime, mtime))
    return path


def test_tar_gz_is_reproducible_and_complete(artifact_store: ArtifactStore, tmp_path: Path) -> None:
    first = _adapter_folder(tmp_path / "a", mtime=1_000_000)
    second = _adapter_folder(tmp_path / "b", mtime=2_000_000)
    os.chmod(second / "adapter_config.json", 0o600)
    blob_a = artifact_store.publish_dir_as_tar_gz(first, "adapters/ft-a.tar.gz", root_name="adapter")
    blob_b = artifact_store.publish_dir_as_tar_gz(second, "adapters/ft-b.tar.gz", root_name="adapter")
    data = artifact_store.path(blob_a.key).read_bytes()
    assert blob_a.sha256 == blob_b.sha256 == hashlib.sha256(data).hexdigest()
    assert blob_a.bytes == len(data)

    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert sorted(members) == [
            "adapter/adapter_config.json",
            "adapter/adapter_model.safetensors",
            "adapter/nested",
            "adapter/nested/meta.json",
        ]
        assert all(m.mtime == 0 and m.uid == 0 and m.uname == "" for m in members.values())
        assert tar.extractfile("adapter/adapter_config.json").read() == b'{"r": 16}'
    assert gzip.decompress(data)  # a plain gzip stream


def test_tar_gz_refuses_symlinks_and_missing_folders(artifact_store: ArtifactStore, tmp_path: Path) -> None:
    folder = tmp_path / "adapter"
    folder.mkdir()
    os.symlink("/etc/passwd", folder / "leak")
    with pytest.raises(ValueError, match="symlink"):
        artifact_store.publish_dir_as_tar_gz(folder, "adapters/x.tar.gz")
    with pytest.raises(NotADirectoryError):
        artifact_store.publish_dir_as_tar_gz(tmp_path / "missing", "adapters/y.tar.gz")
    assert _files_under(artifact_store.root) == []


def test_iter_range_is_inclusive_and_chunked(artifact_store: ArtifactStore) -> None:
    payload = bytes(range(256)) * 4
    blob = artifact_store.save_bytes(payload, prefix="files")
    assert b"".join(artifact_store.iter_range(blob.key)) == payload
    assert b"".join(artifact_store.iter_range(blob.key, 10, 19)) == payload[10:20]
    assert b"".join(artifact_store.iter_range(blob.key, 1000)) == payload[1000:]
    chunks = list(artifact_store.iter_range(blob.key, 0, 99, chunk=30))
    assert [len(c) for c in chunks] == [30, 30, 30, 10]
    for start, end in ((5, 4), (-1, 3), (0, 1024), (1024, None)):
        with pytest.raises(ValueError, match="not satisfiable"):
            list(artifact_store.iter_range(blob.key, start, end))
