"""The S3 backend of the artifact store against a real S3 protocol endpoint (moto's server, tests/s3_server.py).

What it must keep of :class:`store.artifacts.ArtifactStore`: the same keys, sizes and SHA-256s, HTTP
Range reads, reproducible adapter archives; what it adds: multipart uploads that leave no object and no
open upload when interrupted, and checkpoint folders mirrored so that another host resumes from them.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from store.artifacts import ArtifactStore, TooLarge, open_artifact_store
from store.s3_artifacts import S3ArtifactStore, parse_artifact_url
from store.settings import Settings
from tests.s3_server import Bucket, s3_bucket_fixture, s3_endpoint_fixture  # noqa: F401 - fixtures

MiB = 1024 * 1024
PART = 5 * MiB


def _store(bucket: Bucket, root: Path) -> S3ArtifactStore:
    return S3ArtifactStore(bucket.url, root, part_size=PART)


def _chunks(total: int, size: int = 256 * 1024) -> Iterator[bytes]:
    block = os.urandom(size)
    sent = 0
    while sent < total:
        piece = block[: min(size, total - sent)]
        sent += len(piece)
        yield piece


def test_a_multipart_upload_keeps_bytes_size_and_sha256_and_serves_ranges(s3_bucket: Bucket, tmp_path: Path) -> None:
    store = _store(s3_bucket, tmp_path / "scratch")
    data = b"".join(_chunks(2 * PART + 12345))  # three parts, the last one short
    blob = store.save_stream(iter([data[i : i + MiB] for i in range(0, len(data), MiB)]), max_bytes=len(data), prefix="files")
    assert (blob.bytes, blob.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    assert s3_bucket.object_keys() == [f"deploy-a/{blob.key}"]
    assert store.exists(blob.key) and store.size(blob.key) == len(data)
    assert b"".join(store.iter_range(blob.key, PART - 3, PART + 4, chunk=3)) == data[PART - 3 : PART + 5]
    assert b"".join(store.iter_range(blob.key)) == data
    with store.open(blob.key) as handle:
        assert handle.read() == data
    with pytest.raises(ValueError):
        list(store.iter_range(blob.key, len(data)))
    # Nothing of it was kept on the local disk.
    assert not any(p.is_file() for p in (tmp_path / "scratch").rglob("*"))
    assert store.delete(blob.key) is True
    assert store.delete(blob.key) is False
    assert not store.exists(blob.key) and s3_bucket.object_keys() == []
    with pytest.raises(FileNotFoundError):
        store.size(blob.key)


def test_a_small_blob_is_one_put_and_a_missing_one_is_file_not_found(s3_bucket: Bucket, tmp_path: Path) -> None:
    store = _store(s3_bucket, tmp_path)
    blob = store.save_bytes(b'{"a": 1}\n', prefix="reports", name="r-1.json")
    assert blob.key.startswith("reports/") and blob.key.endswith("/r-1.json")
    with store.open(blob.key) as handle:
        assert handle.read() == b'{"a": 1}\n'
    with store.local_copy(blob.key) as path:
        assert path.read_bytes() == b'{"a": 1}\n'
    assert not path.exists()
    with pytest.raises(FileNotFoundError):
        store.open("reports/00/none.json")
    with pytest.raises(FileNotFoundError):
        store.local_file("reports/00/none.json", tmp_path / "in")


def test_an_interrupted_upload_leaves_no_object_and_no_open_multipart_upload(s3_bucket: Bucket, tmp_path: Path) -> None:
    store = _store(s3_bucket, tmp_path)

    def dropped_client() -> Iterator[bytes]:
        yield from _chunks(PART + MiB)  # one part already sent to the server
        raise ConnectionResetError("the client went away")

    with pytest.raises(ConnectionResetError):
        store.save_stream(dropped_client(), max_bytes=100 * MiB, prefix="files")
    with pytest.raises(TooLarge):
        store.save_stream(_chunks(3 * PART), max_bytes=2 * PART, prefix="files")
    assert s3_bucket.object_keys() == []
    assert s3_bucket.open_uploads() == []


def test_adapter_archives_are_the_same_bytes_as_on_the_local_store(s3_bucket: Bucket, tmp_path: Path) -> None:
    adapter = tmp_path / "adapter"
    (adapter / "sub").mkdir(parents=True)
    (adapter / "adapter_model.safetensors").write_bytes(os.urandom(100_000))
    (adapter / "sub" / "config.json").write_text("{}")
    local = ArtifactStore(tmp_path / "local").publish_dir_as_tar_gz(adapter, "files/ab/x.tar.gz", root_name="ft-1")
    remote_store = _store(s3_bucket, tmp_path / "scratch")
    remote = remote_store.publish_dir_as_tar_gz(adapter, "files/ab/x.tar.gz", root_name="ft-1")
    assert (remote.bytes, remote.sha256) == (local.bytes, local.sha256)
    assert hashlib.sha256(b"".join(remote_store.iter_range(remote.key))).hexdigest() == local.sha256
    assert list((tmp_path / "scratch" / ".tmp").iterdir()) == []


def _checkpoint(folder: Path, step: int, *, complete: bool = True) -> Path:
    path = folder / f"step-{step:08d}"
    path.mkdir(parents=True)
    (path / "adapter.safetensors").write_bytes(os.urandom(1000 + step))
    if complete:
        (path / "state.pt").write_bytes(os.urandom(500))
    return path


def test_checkpoints_published_by_one_host_are_restored_by_another(s3_bucket: Bucket, tmp_path: Path) -> None:
    first, second = _store(s3_bucket, tmp_path / "host-a"), _store(s3_bucket, tmp_path / "host-b")
    folder = first.job_dir("job-1") / "work" / "checkpoints"
    one = _checkpoint(folder, 1)
    _checkpoint(folder, 2, complete=False)  # being written: not published
    assert first.publish_job_folder("job-1", "work/checkpoints", marker="state.pt") > 0
    prefix = "deploy-a/jobs/job-1/work/checkpoints"
    assert s3_bucket.object_keys() == [f"{prefix}/step-00000001/adapter.safetensors", f"{prefix}/step-00000001/state.pt"]
    # Published again unchanged: nothing is sent twice.
    assert first.publish_job_folder("job-1", "work/checkpoints", marker="state.pt") == 0

    assert second.restore_job_folder("job-1", "work/checkpoints", marker="state.pt") == 1
    restored = second.job_dir("job-1") / "work" / "checkpoints" / "step-00000001"
    assert sorted(p.name for p in restored.iterdir()) == ["adapter.safetensors", "state.pt"]
    assert (restored / "adapter.safetensors").read_bytes() == (one / "adapter.safetensors").read_bytes()
    assert second.restore_job_folder("job-1", "work/checkpoints", marker="state.pt") == 0

    # The pipeline pruned step 1 and wrote step 3: the bucket follows.
    for file in one.iterdir():
        file.unlink()
    one.rmdir()
    _checkpoint(folder, 3)
    first.publish_job_folder("job-1", "work/checkpoints", marker="state.pt")
    assert [k.rsplit("/", 2)[1] for k in s3_bucket.object_keys()] == ["step-00000003", "step-00000003"]
    assert first.job_dir_bytes("job-1") > 0

    # A worker that lost the job (still at step 3) never deletes the newer checkpoint of its successor.
    later = second.job_dir("job-1") / "work" / "checkpoints"
    shutil.rmtree(later / "step-00000001")
    _checkpoint(later, 5)
    second.publish_job_folder("job-1", "work/checkpoints", marker="state.pt")
    first.publish_job_folder("job-1", "work/checkpoints", marker="state.pt")
    assert [k.rsplit("/", 2)[1] for k in s3_bucket.object_keys()] == ["step-00000003"] * 2 + ["step-00000005"] * 2
    shutil.rmtree(later / "step-00000005")
    s3_bucket.client.delete_object(Bucket=s3_bucket.name, Key=f"{prefix}/step-00000005/state.pt")
    s3_bucket.client.delete_object(Bucket=s3_bucket.name, Key=f"{prefix}/step-00000005/adapter.safetensors")

    # A checkpoint without its marker in the bucket is never restored (a host died uploading it).
    s3_bucket.client.delete_object(Bucket=s3_bucket.name, Key=f"{prefix}/step-00000003/state.pt")
    assert _store(s3_bucket, tmp_path / "host-c").restore_job_folder("job-1", "work/checkpoints", marker="state.pt") == 0

    assert second.remove_job_dir("job-1") is True
    assert s3_bucket.object_keys() == []
    assert not (tmp_path / "host-b" / "jobs" / "job-1").exists()


def test_the_setting_picks_the_backend_and_refuses_a_malformed_url(s3_bucket: Bucket, tmp_path: Path) -> None:
    assert type(open_artifact_store(Settings(data_dir=tmp_path))) is ArtifactStore
    remote = open_artifact_store(Settings(data_dir=tmp_path, artifact_url=s3_bucket.url))
    assert isinstance(remote, S3ArtifactStore) and (remote.bucket, remote.prefix) == (s3_bucket.name, "deploy-a")
    assert parse_artifact_url("s3://b") == ("b", "")
    for bad in ("http://b/x", "s3:///x", "s3://b/../x", "s3://b/x?y=1"):
        with pytest.raises(ValueError):
            Settings(data_dir=tmp_path, artifact_url=bad)
