"""Prompts: the translation instruction, the rationale request, and where a turn ends.

All prompts go through the model's own chat template (``tokenizer.apply_chat_template``); a model
without one gets a plain "User:/Assistant:" fallback. Templates are per-job strings with
placeholders ``{source} {src_lang} {tgt_lang} {src_lang_name} {tgt_lang_name}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from radis_core import languages
from radis_core.config import SEPARATOR

_FALLBACK_USER = "User: {content}\n"
_FALLBACK_ASSISTANT = "Assistant:"
_MARK = "\u2063RADIS-MARK\u2063"


def fill_template(template: str, *, source: str, src_lang: str, tgt_lang: str, reference: str | None = None) -> str:
    """Substitute the placeholders (``{reference}`` only where a reference is given); an unknown
    placeholder is an error that names it."""
    values = {
        "source": source,
        "src_lang": src_lang,
        "tgt_lang": tgt_lang,
        "src_lang_name": languages.name(src_lang),
        "tgt_lang_name": languages.name(tgt_lang),
    }
    if reference is not None:
        values["reference"] = reference
    try:
        return template.format(**values)
    except KeyError as exc:
        raise ValueError(f"template has unknown placeholder {{{exc.args[0]}}}; allowed: {', '.join(sorted(values))}") from None


@dataclass(frozen=True)
class ChatFormat:
    """How one tokenizer renders a user turn and where an assistant turn ends."""

    tokenizer: Any
    has_template: bool
    end_of_turn: str  # text that closes an assistant turn, e.g. "<|im_end|>"

    @classmethod
    def for_tokenizer(cls, tokenizer: Any) -> ChatFormat:
        """Probe the template once: render a marked assistant turn and read what follows the mark."""
        if not getattr(tokenizer, "chat_template", None):
            return cls(tokenizer, False, tokenizer.eos_token or "")
        user = [{"role": "user", "content": "x"}]
        prompt = tokenizer.apply_chat_template(user, tokenize=False, add_generation_prompt=True)
        full = tokenizer.apply_chat_template(user + [{"role": "assistant", "content": _MARK}], tokenize=False)
        # trl's prompt-is-a-prefix check: masking by prompt length is only right if this holds.
        if not full.startswith(prompt):
            raise ValueError("chat template does not render the generation prompt as a prefix of the conversation")
        tail = full[len(prompt) :]
        end = tail[tail.index(_MARK) + len(_MARK) :].rstrip("\n") or (tokenizer.eos_token or "")
        return cls(tokenizer, True, end)

    def user_prompt(self, content: str) -> str:
        """A user turn followed by the opening of the assistant's turn."""
        if not self.has_template:
            return _FALLBACK_USER.format(content=content) + _FALLBACK_ASSISTANT
        rendered: str = self.tokenizer.apply_chat_template(
            [{"role": "user", "content": content}], tokenize=False, add_generation_prompt=True
        )
        return rendered

    def prefilled(self, content: str, assistant_prefix: str) -> str:
        """A user turn and an assistant turn that starts with ``assistant_prefix`` and stays open."""
        if not self.has_template:
            return self.user_prompt(content) + " " + assistant_prefix
        # Render the open turn as the generation prompt + prefix rather than with
        # continue_final_message, which strips trailing whitespace from the prefix (our separator).
        return self.user_prompt(content) + assistant_prefix


def translation_prompt(fmt: ChatFormat, template: str, *, source: str, src_lang: str, tgt_lang: str) -> str:
    """The prompt a tuned model (and evaluation) sees: instruction + source, assistant turn open."""
    return fmt.user_prompt(fill_template(template, source=source, src_lang=src_lang, tgt_lang=tgt_lang))


def rationale_prompt(fmt: ChatFormat, template: str, *, source: str, reference: str, src_lang: str, tgt_lang: str) -> str:
    """Ask for translation + explanation, with the reference prefilled: the continuation is the rationale."""
    user = fill_template(template, source=source, src_lang=src_lang, tgt_lang=tgt_lang)
    return fmt.prefilled(user, reference.strip() + SEPARATOR)
