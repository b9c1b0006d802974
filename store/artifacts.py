"""Blob storage on the local filesystem: uploads, checkpoints, adapters, reports.

Keys are relative paths chosen by the service (``files/3f/file-…``), never by a caller. Writes go to a
temporary file inside the root, are fsynced, then renamed into place, so a reader never sees a partial
blob and a crash leaves at most a stray temporary file. :meth:`ArtifactStore.path` refuses any key that
would resolve outside the root (``..``, absolute paths, symlinks leading out).
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import os
import re
import secrets
import shutil
import tarfile
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    from store.settings import Settings

MiB = 1024 * 1024

#: One key segment: letters, digits, ``.``, ``_``, ``-``; not starting with a dot (no ``..``, no hidden files).
_SEGMENT = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]*$")
#: Where temporary files live: inside the root, so ``os.replace`` is an atomic rename on one filesystem.
_TMP_DIR = ".tmp"


class TooLarge(Exception):
    """The stream passed ``max_bytes``; nothing was kept."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"file is larger than the limit of {max_bytes} bytes")
        self.max_bytes = max_bytes


class UnsafeKey(ValueError):
    """A key that is malformed or would resolve outside the artifact root."""


@dataclass(frozen=True)
class StoredBlob:
    """Where a blob was stored, its size, and its SHA-256 (hex)."""

    key: str
    bytes: int
    sha256: str


def _fsync_dir(path: Path) -> None:
    # The rename is durable only once the directory entry is on disk.
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class ArtifactStore:
    """Blobs under one root folder, addressed by server-chosen relative keys."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).expanduser().resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / _TMP_DIR).mkdir(exist_ok=True)

    # --- keys ---------------------------------------------------------------------------------

    @staticmethod
    def new_key(prefix: str, name: str | None = None) -> str:
        """A fresh key ``<prefix>/<2 hex>/<name or random>``; the fan-out keeps folders small."""
        name = name or secrets.token_hex(16)
        fan = hashlib.sha256(name.encode()).hexdigest()[:2]
        key = f"{prefix.strip('/')}/{fan}/{name}"
        ArtifactStore._check_key(key)
        return key

    @staticmethod
    def _check_key(key: str) -> list[str]:
        if not isinstance(key, str) or not key:
            raise UnsafeKey(f"artifact key must be a non-empty string, got {key!r}")
        if key.startswith("/") or "\\" in key or "\x00" in key:
            raise UnsafeKey(f"artifact key must be a relative path with '/' separators: {key!r}")
        segments = key.split("/")
        for segment in segments:
            if not _SEGMENT.match(segment):
                raise UnsafeKey(f"artifact key has an unsafe segment {segment!r}: {key!r}")
        if segments[0] == _TMP_DIR:
            raise UnsafeKey(f"artifact key may not point into the temporary folder: {key!r}")
        return segments

    def path(self, key: str) -> Path:
        """The absolute path of ``key``; :class:`UnsafeKey` when it is malformed or resolves outside the root."""
        self._check_key(key)
        candidate = (self.root / key).resolve()
        # resolve() follows symlinks, so a link inside the root that points out is caught here too.
        if not candidate.is_relative_to(self.root) or candidate == self.root:
            raise UnsafeKey(f"artifact key resolves outside the artifact root: {key!r}")
        return candidate

    # --- writing ------------------------------------------------------------------------------

    @contextmanager
    def _atomic_target(self, key: str) -> Iterator[tuple[BinaryIO, Path]]:
        """A temporary file that becomes ``key`` when the block succeeds and vanishes when it raises."""
        final = self.path(key)
        fd, tmp_name = tempfile.mkstemp(dir=self.root / _TMP_DIR, prefix="partial-")
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as handle:
                yield handle, final
                handle.flush()
                os.fsync(handle.fileno())
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, final)
            _fsync_dir(final.parent)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def save_stream(
        self, chunks: Iterable[bytes | memoryview], *, max_bytes: int, prefix: str, name: str | None = None
    ) -> StoredBlob:
        """Store ``chunks`` under a fresh key below ``prefix`` (named ``name`` when given, e.g. a file id).

        Raises :class:`TooLarge` as soon as more than ``max_bytes`` arrive; the partial data is removed.
        """
        key = self.new_key(prefix, name)
        digest = hashlib.sha256()
        size = 0
        with self._atomic_target(key) as (handle, _):
            for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise TooLarge(max_bytes)
                digest.update(chunk)
                handle.write(chunk)
        return StoredBlob(key=key, bytes=size, sha256=digest.hexdigest())

    def save_bytes(self, data: bytes, *, prefix: str, name: str | None = None) -> StoredBlob:
        """Store a small blob (a report, a sample) under a fresh key."""
        return self.save_stream([data], max_bytes=len(data), prefix=prefix, name=name)

    def publish_dir_as_tar_gz(self, src_dir: Path | str, key: str, *, root_name: str | None = None) -> StoredBlob:
        """Pack ``src_dir`` (a PEFT adapter folder) into a tar.gz at ``key``, atomically.

        The archive is byte-for-byte reproducible: entries sorted, times zeroed, owners and permissions
        normalised, no gzip timestamp or name. Entries sit under ``root_name/`` when given. Symlinks are
        refused (they could pull in files from outside the folder).
        """
        src = Path(src_dir)
        if not src.is_dir():
            raise NotADirectoryError(f"not a folder: {src}")
        if root_name is not None:
            self._check_key(root_name)
        entries = sorted(src.rglob("*"), key=lambda p: p.relative_to(src).as_posix())
        for entry in entries:
            if entry.is_symlink():
                raise ValueError(f"refusing to archive a symlink: {entry}")
        digest = hashlib.sha256()
        with self._atomic_target(key) as (handle, _):
            hashing = _HashingWriter(handle, digest)
            with (
                gzip.GzipFile(filename="", mode="wb", fileobj=hashing, mtime=0) as gz,
                tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
            ):
                for entry in entries:
                    rel = entry.relative_to(src).as_posix()
                    arcname = f"{root_name}/{rel}" if root_name else rel
                    info = tar.gettarinfo(str(entry), arcname=arcname)
                    info.mtime = 0
                    info.uid = info.gid = 0
                    info.uname = info.gname = ""
                    info.mode = 0o755 if info.isdir() else 0o644
                    if info.isfile():
                        with entry.open("rb") as source:
                            tar.addfile(info, source)
                    else:
                        tar.addfile(info)
        return StoredBlob(key=key, bytes=hashing.size, sha256=digest.hexdigest())

    # --- reading and removing -----------------------------------------------------------------

    def exists(self, key: str) -> bool:
        """True when a blob is stored at ``key``."""
        return self.path(key).is_file()

    def size(self, key: str) -> int:
        """Size of the blob in bytes (``FileNotFoundError`` if missing)."""
        return self.path(key).stat().st_size

    def open(self, key: str) -> BinaryIO:
        """Open the blob for reading (``FileNotFoundError`` if missing)."""
        return self.path(key).open("rb")

    def iter_range(self, key: str, start: int = 0, end: int | None = None, chunk: int = MiB) -> Iterator[bytes]:
        """Yield bytes ``start`` through ``end`` **inclusive** (HTTP Range semantics; ``end=None`` = to the
        last byte). Out-of-range requests raise ``ValueError`` (the API answers 416)."""
        size = self.size(key)
        last = size - 1 if end is None else end
        if start < 0 or last < start or last >= size:
            raise ValueError(f"range {start}-{end} is not satisfiable for a blob of {size} bytes")
        if chunk < 1:
            raise ValueError(f"chunk: must be >= 1, got {chunk}")
        remaining = last - start + 1
        with self.open(key) as handle:
            handle.seek(start)
            while remaining > 0:
                data = handle.read(min(chunk, remaining))
                if not data:
                    break
                remaining -= len(data)
                yield data

    def delete(self, key: str) -> bool:
        """Remove the blob; False if it was not there."""
        path = self.path(key)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        return True

    def job_dir(self, job_id: str) -> Path:
        """A job's private working folder (rationale cache, checkpoints), created on first use."""
        path = self.path(f"jobs/{job_id}")
        path.mkdir(parents=True, exist_ok=True)
        return path

    def job_dir_bytes(self, job_id: str) -> int:
        """Bytes of the files under a job's folder (0 when it does not exist); links are not followed."""
        path = self.path(f"jobs/{job_id}")
        total = 0
        for dirpath, _, filenames in os.walk(path):
            for name in filenames:
                with contextlib.suppress(FileNotFoundError):  # the pipeline prunes checkpoints meanwhile
                    total += (Path(dirpath) / name).lstat().st_size
        return total

    def remove_job_dir(self, job_id: str) -> bool:
        """Remove a job's folder and everything under it; False if it was not there."""
        path = self.path(f"jobs/{job_id}")
        if not path.exists():
            return False
        shutil.rmtree(path)
        return True

    # --- what the S3 backend (store/s3_artifacts.py) does differently; trivial on one filesystem ----

    def local_file(self, key: str, scratch_dir: Path | str) -> Path:
        """A local file holding the blob, for code that needs a path (the pipeline's inputs).

        Here the blob itself (``FileNotFoundError`` if missing); the S3 backend downloads it into
        ``scratch_dir`` once."""
        path = self.path(key)
        if not path.is_file():
            raise FileNotFoundError(f"no artifact at {key}")
        return path

    @contextmanager
    def local_copy(self, key: str) -> Iterator[Path]:
        """A local path of the blob for the length of the block (the S3 backend removes its copy after)."""
        yield self.local_file(key, self.root / _TMP_DIR)

    def publish_job_folder(self, job_id: str, folder: str, *, marker: str) -> int:
        """Make the complete units (checkpoints: subfolders holding ``marker``) of the job's ``folder`` readable
        by other hosts; returns the bytes copied. Nothing to do on a shared filesystem."""
        return 0

    def restore_job_folder(self, job_id: str, folder: str, *, marker: str) -> int:
        """Bring the job's complete units published by another host into the local folder; returns their
        count. Nothing to do on a shared filesystem."""
        return 0

    def describe(self) -> str:
        """Where the blobs live, for logs."""
        return str(self.root)

    def key_of(self, path: Path | str) -> str:
        """The key of a path inside the root (for files the worker wrote under :meth:`job_dir`)."""
        resolved = Path(path).resolve()
        if not resolved.is_relative_to(self.root):
            raise UnsafeKey(f"path is outside the artifact root: {path}")
        key = resolved.relative_to(self.root).as_posix()
        self._check_key(key)
        return key


def open_artifact_store(settings: Settings) -> ArtifactStore:
    """The store the settings name: the bucket of ``artifact_url`` (with ``artifact_dir`` as this process's
    scratch folder), else the local folder ``artifact_dir``."""
    if settings.artifact_url:
        from store.s3_artifacts import S3ArtifactStore

        return S3ArtifactStore(settings.artifact_url, settings.artifacts_root)
    return ArtifactStore(settings.artifacts_root)


class _HashingWriter:
    """A write-only file object that hashes and counts what passes through (gzip writes through it)."""

    def __init__(self, target: BinaryIO, digest: hashlib._Hash) -> None:
        self._target = target
        self._digest = digest
        self.size = 0

    def write(self, data: bytes) -> int:
        self._digest.update(data)
        self.size += len(data)
        return self._target.write(data)

    def flush(self) -> None:
        self._target.flush()
