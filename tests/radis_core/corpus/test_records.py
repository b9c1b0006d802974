"""Pair: its hash is pinned (rationale caches key on it)."""

from __future__ import annotations

import hashlib
import json

from radis_core.corpus import Pair


def test_pair_hash_is_stable_and_ignores_the_line() -> None:
    pair = Pair("Guten Morgen!", "Good morning!", "de", "en", 1)
    # Pinned: cached rationales are keyed on this value; changing it orphans every cache.
    assert pair.pair_hash == "34506d151b72006c7e10f6eede0d0cbaa9ce6abbbe379515f345de09022baeed"
    reference = json.dumps(
        {"source": pair.source, "target": pair.target, "src_lang": "de", "tgt_lang": "en"},
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
    )
    assert pair.pair_hash == hashlib.sha256(reference.encode()).hexdigest()
    assert Pair("Guten Morgen!", "Good morning!", "de", "en", 99).pair_hash == pair.pair_hash
    tricky = Pair('Er sagte "ja"\n\t\\ – 你好 \U0001f600', "x\u2028y", "de", "en", 1)
    expected = json.dumps(
        {"source": tricky.source, "target": tricky.target, "src_lang": "de", "tgt_lang": "en"},
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
    )
    assert tricky.pair_hash == hashlib.sha256(expected.encode()).hexdigest()
    assert Pair("Guten Morgen!", "Good morning.", "de", "en", 1).pair_hash != pair.pair_hash
