import pytest

from radis_core.config import SEPARATOR
from radis_core.prompts import ChatFormat, fill_template, rationale_prompt, translation_prompt
from radis_core.settings import DEFAULT_RATIONALE_TEMPLATE, DEFAULT_TRANSLATION_TEMPLATE


def test_chat_format_reads_end_of_turn_from_template(tiny):
    _, tok = tiny
    fmt = ChatFormat.for_tokenizer(tok)
    assert fmt.has_template
    assert fmt.end_of_turn == "<|im_end|>"


def test_translation_prompt_uses_chat_template_and_language_names(tiny):
    _, tok = tiny
    fmt = ChatFormat.for_tokenizer(tok)
    p = translation_prompt(fmt, DEFAULT_TRANSLATION_TEMPLATE, source="Ich habe einen Hund.", src_lang="de", tgt_lang="en")
    assert p == (
        "<|im_start|>user\nTranslate the following text from German to English.\n\nIch habe einen Hund.<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


def test_rationale_prompt_prefills_reference_and_leaves_turn_open(tiny):
    _, tok = tiny
    fmt = ChatFormat.for_tokenizer(tok)
    p = rationale_prompt(
        fmt, DEFAULT_RATIONALE_TEMPLATE, source="Ich habe einen Hund.", reference=" I have a dog. ", src_lang="de", tgt_lang="en"
    )
    assert p.endswith("<|im_start|>assistant\nI have a dog." + SEPARATOR)
    assert "explain" in p
    assert not p.endswith("<|im_end|>\n")


def test_plain_fallback_without_chat_template(tiny):
    _, tok = tiny
    saved = tok.chat_template
    tok.chat_template = None
    try:
        fmt = ChatFormat.for_tokenizer(tok)
        assert not fmt.has_template
        p = translation_prompt(fmt, DEFAULT_TRANSLATION_TEMPLATE, source="Hallo", src_lang="de", tgt_lang="en")
        assert p == "User: Translate the following text from German to English.\n\nHallo\nAssistant:"
        assert fmt.end_of_turn == tok.eos_token
    finally:
        tok.chat_template = saved


def test_unknown_placeholder_is_named():
    with pytest.raises(ValueError, match=r"\{domain\}"):
        fill_template("Translate {domain}: {source}", source="x", src_lang="de", tgt_lang="en")
