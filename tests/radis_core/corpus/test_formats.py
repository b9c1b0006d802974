"""detect_format: by extension first, then by content."""

from __future__ import annotations

from pathlib import Path

import pytest

from radis_core.corpus import UnknownFormatError, detect_format
from tests.radis_core.corpus.helpers import jl, write


def test_detect_format_by_extension_then_content(tmp_path: Path) -> None:
    body = jl(source="a", target="b")
    assert detect_format(write(tmp_path, "x.jsonl", body)) == "jsonl_pairs"
    assert detect_format(write(tmp_path, "upload-123", "source\ttarget\na\tb\n")) == "tsv"
    assert detect_format(write(tmp_path, "upload-456", "source,target\na,b\n")) == "csv"
    assert detect_format(write(tmp_path, "upload-789", "\n" + body)) == "jsonl_pairs"
    # The upload's own name wins over the stored path's.
    assert detect_format(write(tmp_path, "file-abc", "a,b\tc\n"), filename="corpus.CSV") == "csv"
    # JSON Lines kind: the first record that parses decides.
    assert detect_format(write(tmp_path, "y.jsonl", "oops\n" + jl(translation={"de": "a", "en": "b"}))) == "jsonl_translation"
    with pytest.raises(UnknownFormatError, match="cannot tell the format"):
        detect_format(write(tmp_path, "notes.txt", "just some words\n"))
    with pytest.raises(FileNotFoundError):
        detect_format(tmp_path / "missing.jsonl")


def test_a_utf16_file_without_a_known_extension_is_named_as_utf16(tmp_path: Path) -> None:
    body = "\ufeff".encode("utf-16-le") + jl(source="a", target="b").encode("utf-16-le")
    with pytest.raises(UnknownFormatError, match="UTF-16 encoded"):
        detect_format(write(tmp_path, "upload-utf16", body))
