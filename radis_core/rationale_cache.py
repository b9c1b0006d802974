"""On-disk rationale cache: a second job on the same data and model generates nothing.

Keyed by (model fingerprint, prompt template, decoding settings, pair hash). SQLite (stdlib) in WAL
mode gives atomic, concurrent-safe writes from several workers on one host without a server.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterable
from contextlib import closing
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any


def cache_key(*, model_fingerprint: str, template: str, decoding: Any, pair_hash: str) -> str:
    """Stable key: any change to model, template, decoding settings or the pair gives a new key."""
    dec = asdict(decoding) if is_dataclass(decoding) else decoding
    blob = json.dumps(
        {"model": model_fingerprint, "template": template, "decoding": dec, "pair": pair_hash},
        sort_keys=True,
        ensure_ascii=False,
        default=list,
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class RationaleCache:
    """A key → (rationale text, token count) store in one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as db, db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS rationales ("
                " key TEXT PRIMARY KEY, text TEXT NOT NULL, new_tokens INTEGER NOT NULL, created REAL NOT NULL)"
            )

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30)

    def get_many(self, keys: Iterable[str]) -> dict[str, tuple[str, int]]:
        """The cached entries among ``keys``."""
        keys = list(keys)
        found: dict[str, tuple[str, int]] = {}
        with closing(self._connect()) as db:
            for i in range(0, len(keys), 500):
                chunk = keys[i : i + 500]
                marks = ",".join("?" * len(chunk))
                for key, text, n in db.execute(f"SELECT key, text, new_tokens FROM rationales WHERE key IN ({marks})", chunk):
                    found[key] = (text, int(n))
        return found

    def put_many(self, entries: dict[str, tuple[str, int]]) -> None:
        """Store entries; a key written concurrently by another worker is simply kept (same inputs, same output)."""
        if not entries:
            return
        now = time.time()
        with closing(self._connect()) as db, db:
            db.executemany(
                "INSERT OR IGNORE INTO rationales(key, text, new_tokens, created) VALUES (?, ?, ?, ?)",
                [(k, t, n, now) for k, (t, n) in entries.items()],
            )
