"""Blob storage in an S3-compatible bucket (``RADIS_ARTIFACT_URL=s3://bucket/prefix``).

The same interface as :class:`store.artifacts.ArtifactStore`, whose local root becomes this process's
scratch folder: a job's working folder (checkpoints while they are written, its input files) and staged
copies. Everything another process needs lives in the bucket: uploads, adapters, reports, and each
checkpoint once it is complete, so a worker on another host resumes from it.

The client is boto3: it exposes the multipart calls themselves (create, upload part, complete, abort),
which is what the atomicity below rests on, and it is the client S3-compatible servers (MinIO, Ceph,
moto) test against. The endpoint and credentials come from the standard AWS variables
(``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_DEFAULT_REGION``) or any
other source boto3 reads (profiles, instance roles).

Atomicity: an object appears only when it is complete. A blob up to one part is one ``PutObject``; a
larger one is a multipart upload whose parts are invisible until ``CompleteMultipartUpload``, and any
failure (too large, a dropped client, an error of the server) aborts the upload so that no object and no
orphaned parts remain. Memory stays bounded by one part (:data:`PART_SIZE`) whatever the blob's size.
A checkpoint folder is complete in the bucket when its marker file (``state.pt``), uploaded last, is
there; a restore takes only complete folders.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, cast
from urllib.parse import urlsplit

from store.artifacts import _TMP_DIR, ArtifactStore, MiB, StoredBlob, TooLarge

#: Bytes of one multipart part (S3's minimum is 5 MiB except for the last part): the memory an upload holds.
PART_SIZE = 8 * MiB


def parse_artifact_url(url: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` → ``("bucket", "some/prefix")``; ``ValueError`` for anything else."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise ValueError(f"artifact_url must look like s3://bucket/prefix, got {url!r}")
    if parts.query or parts.fragment:
        raise ValueError(f"artifact_url takes no query or fragment: {url!r}")
    prefix = parts.path.strip("/")
    if prefix:
        ArtifactStore._check_key(prefix)
    return parts.netloc, prefix


def s3_client() -> Any:
    """A boto3 S3 client configured from the environment (see the module docstring)."""
    import boto3
    from botocore.config import Config

    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    config = Config(
        # S3-compatible servers answer path-style requests on one host name; AWS itself picks per bucket.
        s3={"addressing_style": "path" if endpoint else "auto"},
        # Checksums only where S3 requires them: older MinIO and Ceph releases refuse the newer defaults.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        retries={"max_attempts": 5, "mode": "standard"},
    )
    return boto3.client("s3", config=config)


def _is_missing(exc: Exception) -> bool:
    from botocore.exceptions import ClientError

    if not isinstance(exc, ClientError):
        return False
    code = str(exc.response.get("Error", {}).get("Code", ""))
    return code in ("404", "NoSuchKey", "NotFound")


class _BodyReader(io.RawIOBase):
    """A readable raw stream over a ``GetObject`` body (so callers get an ordinary ``BinaryIO``)."""

    def __init__(self, body: Any) -> None:
        self._body = body

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self._body.read(len(view))
        view[: len(data)] = data
        return len(data)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._body.close()
        super().close()


class S3ArtifactStore(ArtifactStore):
    """Blobs in ``s3://bucket/prefix``; ``local_root`` is this process's scratch folder (see the module docstring)."""

    def __init__(self, url: str, local_root: Path | str, *, client: Any = None, part_size: int = PART_SIZE) -> None:
        super().__init__(local_root)
        self.url = url
        self.bucket, self.prefix = parse_artifact_url(url)
        self._client = client if client is not None else s3_client()
        if part_size < 5 * MiB:
            raise ValueError(f"part_size: S3 needs at least 5 MiB per part, got {part_size}")
        self.part_size = part_size

    def _object(self, key: str) -> str:
        self._check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _key_of_object(self, name: str) -> str:
        return name[len(self.prefix) + 1 :] if self.prefix else name

    # --- writing ------------------------------------------------------------------------------

    def _put_chunks(self, key: str, chunks: Iterable[bytes | memoryview], *, max_bytes: int) -> StoredBlob:
        """Upload ``chunks`` to ``key``: one PutObject up to a part, else a multipart upload aborted on any error."""
        name = self._object(key)
        digest = hashlib.sha256()
        size = 0
        buffer = bytearray()
        upload_id: str | None = None
        parts: list[dict[str, Any]] = []

        def send_part(data: bytes) -> None:
            nonlocal upload_id
            if upload_id is None:
                upload_id = str(self._client.create_multipart_upload(Bucket=self.bucket, Key=name)["UploadId"])
            number = len(parts) + 1
            answer = self._client.upload_part(Bucket=self.bucket, Key=name, UploadId=upload_id, PartNumber=number, Body=data)
            parts.append({"PartNumber": number, "ETag": answer["ETag"]})

        try:
            for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise TooLarge(max_bytes)
                digest.update(chunk)
                buffer += chunk
                while len(buffer) >= self.part_size:
                    send_part(bytes(buffer[: self.part_size]))
                    del buffer[: self.part_size]
            if upload_id is None:
                self._client.put_object(Bucket=self.bucket, Key=name, Body=bytes(buffer))
            else:
                if buffer:
                    send_part(bytes(buffer))
                buffer.clear()
                self._client.complete_multipart_upload(
                    Bucket=self.bucket, Key=name, UploadId=upload_id, MultipartUpload={"Parts": parts}
                )
        except BaseException:
            if upload_id is not None:
                # No object was created; abort frees the parts (a bucket lifecycle rule catches what a
                # killed process could not abort).
                with contextlib.suppress(Exception):
                    self._client.abort_multipart_upload(Bucket=self.bucket, Key=name, UploadId=upload_id)
            raise
        return StoredBlob(key=key, bytes=size, sha256=digest.hexdigest())

    def _put_file(self, key: str, path: Path) -> StoredBlob:
        size = path.stat().st_size
        with path.open("rb") as handle:
            return self._put_chunks(key, iter(lambda: handle.read(MiB), b""), max_bytes=size)

    @contextmanager
    def _atomic_target(self, key: str) -> Iterator[tuple[BinaryIO, Path]]:
        """A local temporary file uploaded to ``key`` when the block succeeds; nothing is uploaded when it raises."""
        self._check_key(key)
        fd, tmp_name = tempfile.mkstemp(dir=self.root / _TMP_DIR, prefix="outgoing-")
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as handle:
                yield handle, tmp
            self._put_file(key, tmp)
        finally:
            tmp.unlink(missing_ok=True)

    def save_stream(
        self, chunks: Iterable[bytes | memoryview], *, max_bytes: int, prefix: str, name: str | None = None
    ) -> StoredBlob:
        """Stream ``chunks`` into the bucket under a fresh key below ``prefix`` (see :meth:`ArtifactStore.save_stream`)."""
        return self._put_chunks(self.new_key(prefix, name), chunks, max_bytes=max_bytes)

    # --- reading and removing -----------------------------------------------------------------

    def _head(self, key: str) -> dict[str, Any] | None:
        try:
            return cast(dict[str, Any], self._client.head_object(Bucket=self.bucket, Key=self._object(key)))
        except Exception as exc:
            if _is_missing(exc):
                return None
            raise

    def exists(self, key: str) -> bool:
        """True when an object is stored at ``key``."""
        return self._head(key) is not None

    def size(self, key: str) -> int:
        """Size of the object in bytes (``FileNotFoundError`` if missing)."""
        head = self._head(key)
        if head is None:
            raise FileNotFoundError(f"no artifact at {key}")
        return int(head["ContentLength"])

    def _get(self, key: str, byte_range: str | None = None) -> Any:
        extra = {"Range": byte_range} if byte_range else {}
        try:
            return self._client.get_object(Bucket=self.bucket, Key=self._object(key), **extra)["Body"]
        except Exception as exc:
            if _is_missing(exc):
                raise FileNotFoundError(f"no artifact at {key}") from exc
            raise

    def open(self, key: str) -> BinaryIO:
        """A streaming reader of the object (``FileNotFoundError`` if missing)."""
        return cast(BinaryIO, io.BufferedReader(_BodyReader(self._get(key)), buffer_size=MiB))

    def iter_range(self, key: str, start: int = 0, end: int | None = None, chunk: int = MiB) -> Iterator[bytes]:
        """Bytes ``start`` through ``end`` inclusive, fetched with one ranged GET and yielded chunk by chunk."""
        size = self.size(key)
        last = size - 1 if end is None else end
        if start < 0 or last < start or last >= size:
            raise ValueError(f"range {start}-{end} is not satisfiable for a blob of {size} bytes")
        if chunk < 1:
            raise ValueError(f"chunk: must be >= 1, got {chunk}")
        body = self._get(key, f"bytes={start}-{last}")
        try:
            yield from body.iter_chunks(chunk)
        finally:
            body.close()

    def delete(self, key: str) -> bool:
        """Remove the object; False if it was not there."""
        if self._head(key) is None:
            return False
        self._client.delete_object(Bucket=self.bucket, Key=self._object(key))
        return True

    def _download(self, key: str, dest: Path) -> None:
        """Copy the object to ``dest`` through a temporary file beside it (a reader never sees half of it)."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=".partial-")
        try:
            with os.fdopen(fd, "wb") as handle, contextlib.closing(self._get(key)) as body:
                for data in body.iter_chunks(MiB):
                    handle.write(data)
            os.replace(tmp_name, dest)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise

    def local_file(self, key: str, scratch_dir: Path | str) -> Path:
        """The object downloaded into ``scratch_dir`` (kept: a job's input files live in its folder)."""
        dest = Path(scratch_dir) / key.rsplit("/", 1)[-1]
        if not dest.is_file():
            self._download(key, dest)
        return dest

    @contextmanager
    def local_copy(self, key: str) -> Iterator[Path]:
        """A temporary local copy of the object, removed when the block ends."""
        folder = Path(tempfile.mkdtemp(dir=self.root / _TMP_DIR, prefix="copy-"))
        try:
            yield self.local_file(key, folder)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    # --- job folders: local working copy, checkpoints mirrored to the bucket ------------------

    def _list(self, key_prefix: str) -> dict[str, int]:
        """Keys (relative to the store) and sizes of the objects below ``key_prefix``."""
        self._check_key(key_prefix)
        found: dict[str, int] = {}
        paginator = self._client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self._object(key_prefix) + "/"):
            for item in page.get("Contents", []):
                found[self._key_of_object(str(item["Key"]))] = int(item["Size"])
        return found

    def _delete_many(self, keys: list[str]) -> None:
        for start in range(0, len(keys), 1000):  # DeleteObjects takes at most 1000 keys
            batch = [{"Key": self._object(key)} for key in keys[start : start + 1000]]
            self._client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})

    def job_dir_bytes(self, job_id: str) -> int:
        """Bytes the job keeps in the bucket (its checkpoints), or in the local folder when that holds more."""
        return max(sum(self._list(f"jobs/{job_id}").values()), super().job_dir_bytes(job_id))

    def remove_job_dir(self, job_id: str) -> bool:
        """Remove the job's local folder and its objects in the bucket; False if neither was there."""
        removed_local = super().remove_job_dir(job_id)
        keys = sorted(self._list(f"jobs/{job_id}"))
        self._delete_many(keys)
        return removed_local or bool(keys)

    def publish_job_folder(self, job_id: str, folder: str, *, marker: str) -> int:
        """Mirror the local ``jobs/<job_id>/<folder>`` to the bucket; returns the bytes uploaded.

        Each subfolder is a unit (a checkpoint) that is complete when ``marker`` is in it; units sort by name
        (``step-00000012``). New files go up with each unit's marker last; units gone from the local folder
        (pruned checkpoints) and older than its newest are removed from the bucket marker first, so the
        bucket never shows an incomplete unit as complete.
        """
        base_key = f"jobs/{job_id}/{folder.strip('/')}"
        local = self.path(base_key)
        remote = self._list(base_key)
        uploaded = 0
        units = sorted(p for p in local.iterdir() if p.is_dir() and not p.name.startswith(".")) if local.is_dir() else []
        kept: set[str] = set()
        for unit in units:
            if not (unit / marker).is_file():
                continue  # still being written
            files = sorted((f for f in unit.rglob("*") if f.is_file()), key=lambda f: (f.name == marker, f.as_posix()))
            for file in files:
                key = self.key_of(file)
                kept.add(key)
                if remote.get(key) != file.stat().st_size:
                    uploaded += self._put_file(key, file).bytes
        # Only units older than this host's newest are removed: a worker that lost the job (its heartbeat went
        # stale while it still ran) must not delete the newer checkpoints of the worker that took it over.
        newest = max((self.key_of(unit) for unit in units if (unit / marker).is_file()), default="")
        stale = [key for key in remote if key not in kept and key.rsplit("/", 1)[0] < newest]
        stale.sort(key=lambda key: (not key.endswith("/" + marker), key))
        self._delete_many(stale)
        return uploaded

    def restore_job_folder(self, job_id: str, folder: str, *, marker: str) -> int:
        """Download the complete units of ``jobs/<job_id>/<folder>`` that the local folder lacks; returns their count."""
        base_key = f"jobs/{job_id}/{folder.strip('/')}"
        units: dict[str, list[str]] = {}
        for key in self._list(base_key):
            rest = key[len(base_key) + 1 :]
            if "/" in rest:
                units.setdefault(rest.split("/", 1)[0], []).append(key)
        restored = 0
        for unit, keys in sorted(units.items()):
            if f"{base_key}/{unit}/{marker}" not in keys:
                continue  # incomplete in the bucket: never resume from it
            final = self.path(f"{base_key}/{unit}")
            if (final / marker).is_file():
                continue
            final.parent.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(dir=final.parent, prefix=".restore-"))
            try:
                for key in keys:
                    self._download(key, staging / key[len(base_key) + len(unit) + 2 :])
                if final.exists():
                    shutil.rmtree(final)
                os.replace(staging, final)
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
            restored += 1
        return restored

    def describe(self) -> str:
        """Where the blobs live, for logs."""
        return self.url
