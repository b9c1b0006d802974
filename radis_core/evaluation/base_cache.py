"""The base model's evaluation, computed once and reused by later jobs on the same data and settings.

Every job scores the untouched base model before the tuned one: the same translations and probe
answers each time, a third of the evaluation's wall time. This cache keeps that result as one JSON
file per key in ``<cache_dir>/base_evaluations/``. The key covers everything the base numbers depend
on: the model's fingerprint, its dtype and device kind (bf16 or GPU decoding may differ from fp32 CPU),
the held-out pairs, the translation template, every evaluation setting that changes what the base
model is asked or how it is scored, the probe items themselves (so a changed probe set misses), and a
version of the scoring code. Reusing the stored base numbers also keeps two jobs' base rows identical,
where bf16 batched decoding on a GPU would not be bit-stable between runs.

Writes are atomic (a temporary file renamed into place), so concurrent workers never read half a file;
an unreadable entry counts as a miss.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from radis_core.corpus import Pair
from radis_core.settings import EvalSettings

#: Bump when base scores would change for the same inputs (a new metric, a changed scorer).
SCORING_VERSION = 3
#: Settings that do not change the base model's numbers (min_retention only flags the tuned result).
_NOT_IN_KEY = {"min_retention"}


def _probe_digest(ev: EvalSettings) -> str | None:
    if not ev.retention:
        return None
    from radis_core.evaluation.probes import PROBE_SCHEMAS, load_probes

    # Drift answers every general prompt; the scored sets take their first max_probe_items.
    items = {
        name: load_probes(name, ev.probe_dir, None if name == "general" else ev.max_probe_items) for name in sorted(PROBE_SCHEMAS)
    }
    return hashlib.sha256(json.dumps(items, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def base_eval_key(*, fingerprint: str, dtype: str, device: str, pairs: Sequence[Pair], template: str, ev: EvalSettings) -> str:
    """The sha256 that names one base evaluation; any input that changes the base numbers changes it."""
    parts = {
        "version": SCORING_VERSION,
        "model": fingerprint,
        "dtype": dtype,
        "device": device,
        "pairs": [p.pair_hash for p in pairs],
        "template": template,
        "settings": ev.model_dump(mode="json", exclude=_NOT_IN_KEY),
        "probes": _probe_digest(ev),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


class BaseEvalCache:
    """One JSON file per key: ``{"translation", "comet", "probes"}`` of a base model's evaluation."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def _path(self, key: str) -> Path:
        if len(key) != 64 or not all(c in "0123456789abcdef" for c in key):
            raise ValueError(f"not a cache key: {key!r}")
        return self.folder / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        """The stored evaluation, or None (absent or unreadable)."""
        try:
            data = json.loads(self._path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) and {"translation", "comet", "probes"} <= data.keys() else None

    def put(self, key: str, value: dict[str, Any]) -> None:
        """Store atomically: readers see the old file or the whole new one."""
        self.folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(value, f, ensure_ascii=False, allow_nan=False)
            os.replace(tmp, self._path(key))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
