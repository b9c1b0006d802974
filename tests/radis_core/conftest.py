"""Fixtures for radis_core tests: a tiny Llama chat model built on the fly (seconds, no hub)."""

from __future__ import annotations

from pathlib import Path

import pytest

from radis_core.corpus import Pair
from radis_core.tiny import build_tiny_model


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny model folder shared by the session (built once, ~1 s)."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "tiny-llama")


@pytest.fixture(scope="session")
def tiny(tiny_model_dir: Path):
    """(model, tokenizer) of the tiny model, loaded the way the pipeline loads models."""
    from radis_core.models import load_model, resolve_model

    return load_model(resolve_model(str(tiny_model_dir)), device="cpu", dtype="float32")


def make_pairs(n: int) -> list[Pair]:
    """n distinct German→English pairs of varied length."""
    out = []
    for i in range(n):
        extra = " und der Hund ist groß" * (i % 3)
        out.append(
            Pair(
                source=f"Anna kauft {i} Äpfel{extra}.",
                target=f"Anna buys {i} apples{' and the dog is big' * (i % 3)}.",
                src_lang="de",
                tgt_lang="en",
                line=i + 1,
            )
        )
    return out
