"""write_jsonl: round trip, UTF-8, atomic replacement."""

from __future__ import annotations

from pathlib import Path

import pytest

from radis_core.corpus import Pair, read_pairs, write_jsonl


def test_write_jsonl_round_trips_atomically(tmp_path: Path) -> None:
    pairs = [Pair(f"Grüße {i}", f"Greetings {i}\nline two", "de", "en", i + 1) for i in range(9)]
    out = write_jsonl(pairs, tmp_path / "sub" / "out.jsonl")
    assert read_pairs(out) == pairs
    assert sorted(p.name for p in out.parent.iterdir()) == ["out.jsonl"]  # no temp file left
    assert "Grüße" in out.read_text(encoding="utf-8")  # written as UTF-8, not \\u escapes

    def broken():
        yield pairs[0]
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        write_jsonl(broken(), out)
    assert read_pairs(out) == pairs  # the old file survives a failed write
    assert sorted(p.name for p in out.parent.iterdir()) == ["out.jsonl"]
