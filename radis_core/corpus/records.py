"""The record types: a translation :class:`Pair`, and the :class:`Record` a reader yields per line."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from json.encoder import encode_basestring as _json_string

from radis_core.corpus.report import Problem


@dataclass(frozen=True)
class Pair:
    """One translation example. ``line`` is the 1-based line of the file it came from."""

    source: str
    target: str
    src_lang: str
    tgt_lang: str
    line: int

    @property
    def pair_hash(self) -> str:
        """sha256 (hex) of the canonical JSON of source, target and languages; the line is not part of it.

        Canonical JSON: ``{"source":…,"src_lang":…,"target":…,"tgt_lang":…}`` -- keys sorted, no spaces,
        UTF-8 without escaping (what ``json.dumps(d, sort_keys=True, separators=(",", ":"),
        ensure_ascii=False)`` writes). Rationale caches key on it: never change it.
        """
        cached = self.__dict__.get("_pair_hash")
        if cached is None:
            cached = hashlib.sha256(canonical_json(self).encode("utf-8")).hexdigest()
            self.__dict__["_pair_hash"] = cached  # frozen: bypass __setattr__ for the cache
        return str(cached)

    def to_dict(self) -> dict[str, str]:
        """The record as written by :func:`~radis_core.corpus.writing.write_jsonl` (``jsonl_pairs`` format)."""
        return {"source": self.source, "target": self.target, "src_lang": self.src_lang, "tgt_lang": self.tgt_lang}


def canonical_json(pair: Pair) -> str:
    """The canonical JSON of a pair (see :attr:`Pair.pair_hash`); the duplicate finder hashes it too."""
    # Spelled out rather than json.dumps(sort_keys=True): 4x faster, same bytes (a test pins it).
    return (
        f'{{"source":{_json_string(pair.source)},"src_lang":{_json_string(pair.src_lang)},'
        f'"target":{_json_string(pair.target)},"tgt_lang":{_json_string(pair.tgt_lang)}}}'
    )


@dataclass
class Record:
    """One logical record of a file: a pair, problems, or a pair with warnings."""

    line: int
    pair: Pair | None
    problems: list[Problem] = field(default_factory=list)
