"""The generation step of a run: the filter's verdict is what training sees, and a named teacher writes
the targets and keys its cache entries by its own fingerprint."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import radis_core.teacher as teacher
from radis_core.config import JobSpec
from radis_core.dataset import IGNORE_INDEX, build_examples
from radis_core.generation import Generation
from radis_core.generation import generate as real_generate
from radis_core.job_data import JobData
from radis_core.models import resolve_model
from radis_core.prompts import ChatFormat
from radis_core.rationale_cache import RationaleCache, cache_key
from radis_core.rationales import decode_settings
from radis_core.run_context import RunContext
from radis_core.settings import (
    RadisSettings,
    RationaleSettings,
    RewriteSettings,
    SdftSettings,
    SeqkdSettings,
    SupervisedSettings,
    TeacherSettings,
)
from radis_core.targets_step import draw_targets
from radis_core.tiny import build_tiny_model

from .conftest import make_pairs

#: What the stand-in teacher writes for pair i (i % 4): kept, degenerate, kept, cut without a complete sentence.
GOOD = "The word kauft is the verb buys, and the German word order puts the number before the noun here."
WRITTEN = [
    (GOOD, "end_of_turn"),
    ("apples and apples and apples and apples and apples and apples and apples and apples and apples and apples", "end_of_turn"),
    ("In German the verb kauft comes second in a main clause, so the English sentence keeps that order too.", "end_of_turn"),
    ("1. Anna is the subject and kauft is the verb that means buys, while the word Äpfel is plural (e", "length"),
]


def _spec(tmp_path: Path, model_dir: Path, settings: SupervisedSettings) -> JobSpec:
    # A separate teacher loads in float32 on any machine (auto would pick bf16 on a CPU with native bf16).
    fp32 = settings.hyperparameters.model_copy(update={"dtype": "float32"})
    settings = settings.model_copy(update={"hyperparameters": fp32})
    return JobSpec(
        model=str(model_dir),
        train_file=tmp_path / "unused.jsonl",  # draw_targets is handed the pairs
        output_dir=tmp_path / "out",
        settings=settings,
        seed=3,
        cache_dir=tmp_path / "cache",
        device="cpu",
    )


def test_a_rejected_rationale_never_reaches_training(tiny, tiny_model_dir, tmp_path, monkeypatch) -> None:
    """The pair of a rationale the filter rejected trains on its reference alone: no separator, no rationale token."""
    model, tok = tiny
    pairs = make_pairs(8)
    index = {p.target: i for i, p in enumerate(pairs)}

    def stand_in(model: Any, tokenizer: Any, prompts: list[str], settings: Any, **_: Any) -> list[Generation]:
        out = []
        for prompt in prompts:
            i = next(i for target, i in index.items() if prompt.endswith(target + "\n\n"))
            text, finish = WRITTEN[i % 4]
            out.append(Generation(text, new_tokens=24, finish_reason=finish))
        return out

    monkeypatch.setattr(teacher, "generate", stand_in)
    spec = _spec(tmp_path, tiny_model_dir, RadisSettings(rationale=RationaleSettings(min_rationale_share=0.0)))
    targets = draw_targets(spec, spec.settings, JobData(pairs, []), model, tok, "fp", RunContext())

    kept = [row["kept"] for row in targets.samples]
    assert kept == [True, False, True, False] * 2
    assert [row["reason"] for row in targets.samples][:4] == [None, "degenerate", None, "unfinished"]
    assert targets.targets is not None
    examples, build = build_examples(
        tok, pairs, method="radis", template=spec.translation_template, max_seq_len=512, targets=targets.targets
    )
    assert len(examples) == len(pairs) and build.with_rationale == sum(kept)
    end = ChatFormat.for_tokenizer(tok).end_of_turn
    for pair, example, row in zip(pairs, examples, targets.samples, strict=True):
        # The samples file's row for the pair (the dashboard lists it): which pair, and how it was made.
        assert (row["source"], row["reference"], row["line"]) == (pair.source, pair.target, pair.line)
        assert {"detail", "finish_reason", "trimmed", "cached"} <= set(row)
        trained_on = tok.decode([t for t in example.labels if t != IGNORE_INDEX])
        if row["kept"]:
            assert example.rationale_tokens > 0 and trained_on == f"{pair.target}\n\n{row['rationale']}{end}"
        else:
            assert example.rationale_tokens == 0 and trained_on == pair.target + end, f"line {pair.line}: {trained_on!r}"
            assert row["rationale"] not in trained_on


@pytest.fixture(scope="module")
def other_tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A second tiny model (another seed: other weights, another fingerprint) to act as the teacher."""
    return build_tiny_model(tmp_path_factory.mktemp("teacher") / "tiny-llama-seed1", seed=1)


def _with_teacher(method: str, teacher_model: str | None) -> SupervisedSettings:
    if method == "radis":
        return RadisSettings(
            rationale=RationaleSettings(max_new_tokens=8, min_rationale_share=0.0, rationale_model=teacher_model)
        )
    if method == "sdft":
        return SdftSettings(rewrite=RewriteSettings(max_new_tokens=8, teacher_model=teacher_model))
    return SeqkdSettings(teacher=TeacherSettings(max_new_tokens=8, teacher_model=teacher_model))


@pytest.mark.parametrize("method", ["radis", "sdft", "seqkd"])
def test_a_named_teacher_writes_the_targets_and_keys_them_by_its_own_fingerprint(
    method, tiny, tiny_model_dir, other_tiny_dir, tmp_path, monkeypatch
) -> None:
    """``rationale_model`` (``teacher_model``) generates, and its cache entries carry its fingerprint: the
    base model's own job on the same cache must not be served the teacher's texts, nor the reverse."""
    model, tok = tiny
    student_fp = resolve_model(str(tiny_model_dir)).fingerprint
    teacher_fp = resolve_model(str(other_tiny_dir)).fingerprint
    assert teacher_fp != student_fp
    pairs = make_pairs(4)
    used: list[Path] = []

    def spy(model: Any, *args: Any, **kwargs: Any) -> list[Generation]:
        used.append(Path(model.name_or_path).resolve())
        return real_generate(model, *args, **kwargs)

    monkeypatch.setattr(teacher, "generate", spy)

    def draw(teacher_model: str | None) -> tuple[dict[str, Any], set[Path]]:
        used.clear()
        spec = _spec(tmp_path, tiny_model_dir, _with_teacher(method, teacher_model))
        targets = draw_targets(spec, spec.settings, JobData(pairs, []), model, tok, student_fp, RunContext())
        return targets.stats, set(used)

    stats, writers = draw(str(other_tiny_dir))
    assert writers == {other_tiny_dir.resolve()} and (stats["generated"], stats["from_cache"]) == (4, 0)
    if method == "radis":
        settings = _with_teacher(method, str(other_tiny_dir))
        assert isinstance(settings, RadisSettings)
        decoding = decode_settings(settings.rationale, 3)
        cache = RationaleCache(tmp_path / "cache" / "rationales.sqlite")

        def keys(fingerprint: str) -> list[str]:
            return [
                cache_key(
                    model_fingerprint=fingerprint,
                    dtype="torch.float32",
                    template=settings.rationale.template,
                    decoding=decoding,
                    pair_hash=p.pair_hash,
                )
                for p in pairs
            ]

        assert len(cache.get_many(keys(teacher_fp))) == 4 and cache.get_many(keys(student_fp)) == {}

    stats, writers = draw(None)  # the base model's own job on the same cache: nothing of the teacher's fits
    assert writers == {tiny_model_dir.resolve()} and (stats["generated"], stats["from_cache"]) == (4, 0)
    stats, writers = draw(str(other_tiny_dir))  # and the teacher's job again finds its own texts
    assert writers == set() and (stats["generated"], stats["from_cache"]) == (0, 4)
