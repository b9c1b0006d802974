"""SDFT rewrites and SeqKD teacher translations: what is kept, what falls back to the reference, and why."""

from __future__ import annotations

from radis_core.corpus import Pair
from radis_core.evaluation.translation import extract_translation
from radis_core.generation import DecodeSettings, generate
from radis_core.prompts import ChatFormat, translation_prompt
from radis_core.rationale_cache import RationaleCache
from radis_core.settings import DEFAULT_TRANSLATION_TEMPLATE, RewriteSettings, TeacherSettings
from radis_core.teacher import TeacherOutput
from radis_core.teacher_targets import TargetItem, TargetRun, _judge, generate_rewrites, generate_teacher_translations

from .conftest import make_pairs

PAIR = Pair(source="Ich habe einen Hund.", target="I have a dog.", src_lang="de", tgt_lang="en", line=1)


def test_a_rewrite_close_to_the_reference_is_kept_and_one_that_strays_falls_back() -> None:
    close = _judge("rewrite", TeacherOutput("I have a dog.", 5, "end_of_turn", False), PAIR, min_chrf=50.0)
    assert close.kept and close.chrf == 100.0
    strays = _judge("rewrite", TeacherOutput("The weather is cold in Berlin today.", 9, "end_of_turn", False), PAIR, 50.0)
    assert not strays.kept and strays.reason == "strays" and strays.chrf is not None and strays.chrf < 50
    cut = _judge("rewrite", TeacherOutput("I have a", 3, "length", False), PAIR, 0.0)
    assert not cut.kept and cut.reason == "unfinished"  # cut by the budget: never a target
    empty = _judge("translation", TeacherOutput("  ", 1, "end_of_turn", False), PAIR, None)
    assert not empty.kept and empty.reason == "empty"


def test_sdft_below_the_threshold_falls_back_for_every_pair(tiny, tmp_path) -> None:
    model, tok = tiny
    pairs = make_pairs(6)
    run = generate_rewrites(
        model,
        tok,
        pairs,
        RewriteSettings(max_new_tokens=8, min_chrf=100.0),
        model_fingerprint="tiny",
        cache=RationaleCache(tmp_path / "c.sqlite"),
    )
    assert run.stats()["kept"] == 0
    assert sum(run.fell_back.values()) == 6 and set(run.fell_back) <= {"strays", "unfinished", "empty"}


def test_seqkd_targets_are_the_teachers_greedy_translations(tiny, tmp_path) -> None:
    model, tok = tiny
    pairs = make_pairs(5)
    run = generate_teacher_translations(
        model,
        tok,
        pairs,
        TeacherSettings(max_new_tokens=6),
        translation_template=DEFAULT_TRANSLATION_TEMPLATE,
        model_fingerprint="tiny",
        cache=RationaleCache(tmp_path / "c.sqlite"),
    )
    fmt = ChatFormat.for_tokenizer(tok)
    prompts = [
        translation_prompt(fmt, DEFAULT_TRANSLATION_TEMPLATE, source=p.source, src_lang=p.src_lang, tgt_lang=p.tgt_lang)
        for p in pairs
    ]
    greedy = generate(model, tok, prompts, DecodeSettings(max_new_tokens=6), end_of_turn=fmt.end_of_turn)
    assert [i.text for i in run.items] == [extract_translation(g.text) for g in greedy]
    assert [i.finish_reason for i in run.items] == [g.finish_reason for g in greedy]
    # Kept exactly where the teacher finished a non-empty text; the report counts equality with the reference.
    assert [i.kept for i in run.items] == [
        g.finish_reason != "length" and bool(i.text.strip()) for g, i in zip(greedy, run.items, strict=True)
    ]
    assert run.stats()["equal_to_reference"] == sum(1 for i in run.items if " ".join(i.text.split()) == i.pair.target)


def test_a_sample_row_names_every_field_the_dashboard_reads() -> None:
    pair = Pair(source="Hallo", target="Hello", src_lang="de", tgt_lang="en", line=7)
    item = TargetItem(pair=pair, text="Hi", kept=False, reason="strays", cached=True, finish_reason="stop", chrf=12.5)
    cut = TargetItem(pair=pair, text="Hel", kept=False, reason="unfinished", cached=False, finish_reason="length")
    run = TargetRun(kind="rewrite", items=[item, item, cut], generated=1, cached=2, new_tokens=3, seconds=1.234)
    stats = run.stats()
    assert (stats["pairs"], stats["kept"], stats["finished"], stats["generation_seconds"]) == (3, 0, 2, 1.23)
    run.items = [item]
    assert run.samples() == [
        {
            "source": "Hallo",
            "reference": "Hello",
            "rewrite": "Hi",
            "kept": False,
            "reason": "strays",
            "finish_reason": "stop",
            "chrf": 12.5,
            "cached": True,
            "line": 7,
        }
    ]
