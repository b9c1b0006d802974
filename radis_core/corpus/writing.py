"""Writing pairs as a ``jsonl_pairs`` file, atomically."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from radis_core.corpus.records import Pair


def write_jsonl(pairs: Iterable[Pair], path: str | os.PathLike[str]) -> Path:
    """Write pairs as ``jsonl_pairs`` lines, atomically (temp file in the same folder, then os.replace).

    A reader never sees half a file, and a failed write (an exception from ``pairs`` included) leaves
    the previous file as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            for pair in pairs:
                fh.write(json.dumps(pair.to_dict(), ensure_ascii=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; the file is data, not a secret
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
