"""Rationales: what generate receives, what keys the cache, and how a budget cut is handled (trimmed, or
rejected as unfinished)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

import radis_core.teacher as teacher
from radis_core.config import SEPARATOR
from radis_core.corpus import Pair
from radis_core.generation import Generation
from radis_core.prompts import ChatFormat, fill_template
from radis_core.rationale_cache import RationaleCache
from radis_core.rationale_filter import FilterSettings
from radis_core.rationales import _verdict, decode_settings, generate_rationales, rationale_prompts
from radis_core.settings import DEFAULT_RATIONALE_TEMPLATE, DEFAULT_TRANSLATION_TEMPLATE, RationaleSettings
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


class RecordingGenerate:
    """Stands in for :func:`radis_core.generation.generate` inside the teacher: records every call and
    answers each prompt with a fixed, finished text (no model runs)."""

    def __init__(self, text: str = "The word Hund means dog, and the verb comes second in German.") -> None:
        self.text = text
        self.calls: list[dict[str, Any]] = []

    def __call__(self, model: Any, tokenizer: Any, prompts: list[str], settings: Any, **kwargs: Any) -> list[Generation]:
        self.calls.append({"model": model, "prompts": list(prompts), "settings": settings, **kwargs})
        return [Generation(self.text, new_tokens=12, finish_reason="end_of_turn") for _ in prompts]

    @property
    def prompts(self) -> list[str]:
        return [p for call in self.calls for p in call["prompts"]]


@pytest.mark.parametrize("prompt", ["explain", "translation"])
def test_generate_receives_the_request_with_the_reference_prefilled(tiny, monkeypatch, prompt) -> None:
    """The model continues after the reference: what it writes explains *that* translation. A plain
    translation prompt would have it translate again instead."""
    model, tok = tiny
    spy = RecordingGenerate()
    monkeypatch.setattr(teacher, "generate", spy)
    pairs = make_pairs(3)
    settings = RationaleSettings(max_new_tokens=12, prompt=prompt)
    generate_rationales(model, tok, pairs, settings, model_fingerprint="t", cache=None, seed=5)

    fmt = ChatFormat.for_tokenizer(tok)
    template = DEFAULT_RATIONALE_TEMPLATE if prompt == "explain" else DEFAULT_TRANSLATION_TEMPLATE
    assert len(spy.prompts) == len(pairs)
    for sent, pair in zip(spy.prompts, pairs, strict=True):
        request = fill_template(template, source=pair.source, src_lang=pair.src_lang, tgt_lang=pair.tgt_lang)
        assert sent == fmt.user_prompt(request) + pair.target + SEPARATOR
        assert sent.endswith(pair.target + "\n\n")
        assert ("explain the translation step by step" in sent) == (prompt == "explain")
    assert all(call["model"] is model and call["end_of_turn"] == fmt.end_of_turn for call in spy.calls)
    assert all(call["settings"] == decode_settings(settings, 5) for call in spy.calls)


def test_every_part_of_the_cache_key_misses_and_nothing_else_does(tiny, monkeypatch, tmp_path) -> None:
    """Model fingerprint, template (the explain request, or the training prompt it is drawn under),
    decoding settings and the pair each key the cache; the same job again generates nothing."""
    model, tok = tiny
    spy = RecordingGenerate()
    monkeypatch.setattr(teacher, "generate", spy)
    cache = RationaleCache(tmp_path / "rationales.sqlite")
    pairs = make_pairs(4)
    base = dict(max_new_tokens=12)

    def run(
        *,
        settings: dict[str, Any] = base,
        fingerprint: str = "student",
        template: str = DEFAULT_TRANSLATION_TEMPLATE,
        seed: int = 0,
        job_pairs: list[Pair] = pairs,
    ) -> tuple[int, int]:
        done = generate_rationales(
            model,
            tok,
            job_pairs,
            RationaleSettings(**settings),
            model_fingerprint=fingerprint,
            cache=cache,
            seed=seed,
            translation_template=template,
        )
        return done.generated, done.cached

    assert run() == (4, 0)
    assert run() == (0, 4)
    assert run(seed=9) == (0, 4)  # greedy: the seed does not decide the text, so it does not key it
    other_translation_template = "{src_lang_name} → {tgt_lang_name}:\n{source}"
    assert run(template=other_translation_template) == (0, 4)  # the explain request does not contain it
    misses = {
        "model fingerprint": dict(fingerprint="another model"),
        "rationale template": dict(
            settings={**base, "template": "Explain this {src_lang_name} sentence's translation: {source}"}
        ),
        "token budget": dict(settings={**base, "max_new_tokens": 13}),
        "repetition penalty": dict(settings={**base, "repetition_penalty": 1.3}),
        "n-gram block": dict(settings={**base, "no_repeat_ngram_size": 3}),
        "sampling": dict(settings={**base, "do_sample": True}),
        "sampling seed": dict(settings={**base, "do_sample": True}, seed=1),
        "temperature": dict(settings={**base, "do_sample": True, "temperature": 0.3}),
        "drawn under the training prompt": dict(settings={**base, "prompt": "translation"}),
        "that training prompt's template": dict(settings={**base, "prompt": "translation"}, template=other_translation_template),
    }
    for what, change in misses.items():
        assert run(**change) == (4, 0), f"changing the {what} must miss the cache"
    changed = [dataclasses.replace(pairs[0], target="Anna buys some apples."), *pairs[1:]]
    assert run(job_pairs=changed) == (1, 3)  # only the changed pair is new
    assert len(spy.prompts) == 4 + 4 * len(misses) + 1


def test_every_rationale_decoding_setting_reaches_the_decoder() -> None:
    settings = RationaleSettings(
        max_new_tokens=33, do_sample=True, temperature=0.7, top_p=0.8, repetition_penalty=1.2, no_repeat_ngram_size=4
    )
    decoding = decode_settings(settings, 5)
    got = (decoding.max_new_tokens, decoding.do_sample, decoding.temperature, decoding.top_p)
    assert got == (33, True, 0.7, 0.8)
    assert (decoding.repetition_penalty, decoding.no_repeat_ngram_size, decoding.seed) == (1.2, 4, 5)
    # Greedy decoding does not depend on the seed, so the cache key does not either.
    assert decode_settings(RationaleSettings(), 5).seed == 0


def test_decode_settings_carry_every_sampling_setting() -> None:
    settings = RationaleSettings(
        max_new_tokens=40, do_sample=True, temperature=0.6, top_p=0.5, repetition_penalty=1.3, no_repeat_ngram_size=4
    )
    decoding = decode_settings(settings, 5)
    assert (decoding.max_new_tokens, decoding.do_sample, decoding.seed) == (40, True, 5)
    assert (decoding.temperature, decoding.top_p, decoding.repetition_penalty, decoding.no_repeat_ngram_size) == (
        0.6,
        0.5,
        1.3,
        4,
    )
