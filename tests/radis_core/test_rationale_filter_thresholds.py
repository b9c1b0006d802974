"""The rationale filter's verdicts in full (kept, reason, detail) and each threshold at its boundary: a
threshold is a largest allowed share, so a rationale exactly at it is kept and one just past it is not."""

from __future__ import annotations

from radis_core.rationale_filter import FilterSettings, Verdict, judge, last_complete_sentence

PROMPT = "Translate the following text from German to English, then explain your translation.\n\nIch habe einen Hund."
REFERENCE = "I have a dog."
# Twelve words sharing no 4-gram with each other or with the prompt.
LONG_LINE = "Hund is the German noun for dog and takes the accusative article einen here."


def test_a_kept_rationale_has_no_reason_and_no_detail() -> None:
    assert judge(LONG_LINE, prompt=PROMPT, reference=REFERENCE) == Verdict(True, None, "")


def test_the_word_minimum_is_inclusive() -> None:
    assert judge("Hund means dog here, friend.", prompt=PROMPT, reference=REFERENCE).kept
    assert judge("Hund means dog here.", prompt=PROMPT, reference=REFERENCE) == Verdict(False, "empty", "4 words")
    strict = FilterSettings(min_words=6)
    assert judge("Hund means dog here, friend.", prompt=PROMPT, reference=REFERENCE, settings=strict) == Verdict(
        False, "empty", "5 words"
    )


def test_the_repeated_ngram_share_is_a_largest_allowed_share() -> None:
    # Words a b c d a b c d: 5 four-grams, one of them a repeat, so 20 % are repeats.
    text = "alpha beta gamma delta alpha beta gamma delta"
    at = FilterSettings(max_repeated_ngram_share=0.2)
    assert judge(text, prompt=PROMPT, reference=REFERENCE, settings=at).kept
    below = FilterSettings(max_repeated_ngram_share=0.19)
    assert judge(text, prompt=PROMPT, reference=REFERENCE, settings=below) == Verdict(False, "degenerate", "20% repeated 4-grams")
    # The n-gram size is a setting: in 3-grams, 2 of 6 repeat.
    three = FilterSettings(ngram=3, max_repeated_ngram_share=0.3)
    assert judge(text, prompt=PROMPT, reference=REFERENCE, settings=three) == Verdict(False, "degenerate", "33% repeated 3-grams")


def test_repeated_lines_decide_when_the_ngrams_do_not() -> None:
    # Four "Ok." lines and one long line: 3 of 5 lines repeat (60 %), but only 1 of the 13 four-grams
    # ("ok ok ok ok") occurs once, so no four-gram repeats: the line rule alone rejects it.
    text = "\n".join(["Ok."] * 4 + [LONG_LINE])
    assert judge(text, prompt=PROMPT, reference=REFERENCE) == Verdict(False, "degenerate", "60% repeated lines")
    at = FilterSettings(max_repeated_line_share=0.6)
    assert judge(text, prompt=PROMPT, reference=REFERENCE, settings=at).kept


def test_the_line_rule_starts_at_three_lines() -> None:
    # No four-gram at all (n-gram size above the word count): only the line rule can reject.
    settings = FilterSettings(ngram=20, min_words=2)
    three = "Ok fine then.\nOk fine then.\nOk fine then."
    assert judge(three, prompt=PROMPT, reference=REFERENCE, settings=settings) == Verdict(
        False, "degenerate", "67% repeated lines"
    )
    two = "Ok fine then.\nOk fine then."
    assert judge(two, prompt=PROMPT, reference=REFERENCE, settings=settings).kept


def test_the_echo_share_is_a_largest_allowed_share_and_counts_the_reference() -> None:
    # Two four-grams, the first copied from the prompt: 50 % echo.
    text = "Ich habe einen Hund heute"
    at = FilterSettings(max_echo_share=0.5)
    assert judge(text, prompt=PROMPT, reference=REFERENCE, settings=at).kept
    below = FilterSettings(max_echo_share=0.49)
    assert judge(text, prompt=PROMPT, reference=REFERENCE, settings=below) == Verdict(
        False, "prompt_echo", "50% of its 4-grams copy the prompt"
    )
    # The reference is part of what a rationale may not copy, and case does not hide a copy.
    reference = "I have a dog and it is mine."
    assert judge("I HAVE A DOG AND IT IS MINE", prompt="Übersetze.", reference=reference).reason == "prompt_echo"


def test_the_last_complete_sentence_needs_its_word_minimum() -> None:
    assert last_complete_sentence("One two three four five. six seven") == "One two three four five."
    assert last_complete_sentence("One two three four. five six") is None
    assert last_complete_sentence("One two three four. five six", min_words=4) == "One two three four."
