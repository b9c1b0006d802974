"""On-disk cache of what a teacher wrote per pair (rationales, rewrites, translations): a second job on
the same data and model generates nothing.

Keyed by (model fingerprint, weights' dtype, prompt template, decoding settings, pair hash); each entry keeps the
text, its token count and why generation stopped (a budget-cut text must not pass for a finished one). SQLite (stdlib) in WAL
mode gives atomic, concurrent-safe writes from several workers on one host without a server.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterable, Mapping
from contextlib import closing
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any


def cache_key(*, model_fingerprint: str, dtype: str, template: str, decoding: Any, pair_hash: str) -> str:
    """Stable key: any change to model, the dtype it computed in, template, decoding settings or the pair gives a new key.

    ``dtype`` is the teacher's weights' dtype (``torch.float32``, ``torch.bfloat16``): greedy text decoded in
    bf16 differs from fp32 text, so a bf16 job must not reuse an fp32 job's rationales or the reverse.
    """
    dec = asdict(decoding) if is_dataclass(decoding) and not isinstance(decoding, type) else decoding
    blob = json.dumps(
        {"model": model_fingerprint, "dtype": dtype, "template": template, "decoding": dec, "pair": pair_hash},
        sort_keys=True,
        ensure_ascii=False,
        default=list,
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


#: (text, new tokens, finish reason) of one cached generation.
CachedGeneration = tuple[str, int, str]


class RationaleCache:
    """A key → (text, token count, finish reason) store in one SQLite file.

    The table is ``generations``; files written before finish reasons were kept also hold a
    ``rationales`` table, which is left unread (its entries cannot say whether they were cut).
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as db, db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS generations (key TEXT PRIMARY KEY, text TEXT NOT NULL,"
                " new_tokens INTEGER NOT NULL, finish_reason TEXT NOT NULL, created REAL NOT NULL)"
            )

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30)

    def get_many(self, keys: Iterable[str]) -> dict[str, CachedGeneration]:
        """The cached entries among ``keys``."""
        keys = list(keys)
        found: dict[str, CachedGeneration] = {}
        with closing(self._connect()) as db:
            for i in range(0, len(keys), 500):
                chunk = keys[i : i + 500]
                marks = ",".join("?" * len(chunk))
                query = f"SELECT key, text, new_tokens, finish_reason FROM generations WHERE key IN ({marks})"
                for key, text, n, finish in db.execute(query, chunk):
                    found[key] = (text, int(n), str(finish))
        return found

    def put_many(self, entries: Mapping[str, CachedGeneration]) -> None:
        """Store entries; a key written concurrently by another worker is simply kept (same inputs, same output)."""
        if not entries:
            return
        now = time.time()
        with closing(self._connect()) as db, db:
            db.executemany(
                "INSERT OR IGNORE INTO generations(key, text, new_tokens, finish_reason, created) VALUES (?, ?, ?, ?, ?)",
                [(k, t, n, f, now) for k, (t, n, f) in entries.items()],
            )
