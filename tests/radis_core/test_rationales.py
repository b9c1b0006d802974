"""Rationales: what generate receives, and how a budget cut is handled (trimmed, or rejected as unfinished)."""

from __future__ import annotations

from radis_core.corpus import Pair
from radis_core.prompts import ChatFormat
from radis_core.rationale_filter import FilterSettings
from radis_core.rationales import _verdict, generate_rationales, rationale_prompts
from radis_core.settings import DEFAULT_TRANSLATION_TEMPLATE, RationaleSettings
from radis_core.teacher import TeacherOutput

from .conftest import make_pairs

PAIR = Pair(source="Ich habe einen Hund.", target="I have a dog.", src_lang="de", tgt_lang="en", line=1)


def test_a_budget_cut_rationale_is_trimmed_to_its_last_sentence_or_rejected() -> None:
    cut = TeacherOutput("The word Hund means dog in English. It is a noun here. So you can", 40, "length", False)
    text, trimmed, verdict = _verdict(cut, "prompt", PAIR, FilterSettings())
    assert trimmed and verdict.kept and text == "The word Hund means dog in English. It is a noun here."
    nothing_complete = TeacherOutput("1. Hund means dog and the verb (e", 12, "length", False)
    _, _, verdict = _verdict(nothing_complete, "prompt", PAIR, FilterSettings())
    assert not verdict.kept and verdict.reason == "unfinished"
    finished = TeacherOutput("The word Hund means dog in English, and haben means have", 14, "end_of_turn", False)
    text, trimmed, verdict = _verdict(finished, "prompt", PAIR, FilterSettings())
    assert not trimmed and verdict.kept and text == finished.text  # the model ended it: kept whole


def test_the_prompt_setting_draws_rationales_under_the_training_prompt(tiny) -> None:
    _, tok = tiny
    fmt = ChatFormat.for_tokenizer(tok)
    explain, key_a = rationale_prompts(fmt, [PAIR], RationaleSettings(), DEFAULT_TRANSLATION_TEMPLATE)
    plain, key_b = rationale_prompts(fmt, [PAIR], RationaleSettings(prompt="translation"), DEFAULT_TRANSLATION_TEMPLATE)
    assert "explain" in explain[0] and "explain" not in plain[0]
    assert plain[0].startswith(fmt.user_prompt("Translate the following text from German to English.\n\nIch habe einen Hund."))
    assert explain[0].endswith("I have a dog.\n\n") and plain[0].endswith("I have a dog.\n\n")  # the reference prefilled
    assert key_a != key_b  # the cache tells the two apart


def test_every_rationale_is_accounted_for(tiny) -> None:
    model, tok = tiny
    run = generate_rationales(model, tok, make_pairs(6), RationaleSettings(max_new_tokens=12), model_fingerprint="t", cache=None)
    stats = run.stats()
    assert stats["finished"] + stats["cut_by_budget"] == 6
    assert stats["kept"] + sum(stats["rejected"].values()) == 6
    assert all(r.trimmed or r.ends_turn or not r.kept for r in run.items)  # a cut rationale is kept only trimmed
