"""JSON Lines records: ``jsonl_pairs``, ``jsonl_translation`` (Hugging Face) and ``jsonl_chat`` (OpenAI)."""

from __future__ import annotations

import json
import re
from typing import Any

from radis_core import languages
from radis_core.corpus.fields import RecordChecker, json_type
from radis_core.corpus.limits import CorpusLimits
from radis_core.corpus.records import Record

# "Translate the following text from German to English.\n\n<text>", "Translate from German into
# English: <text>", "Translate to English:\n<text>" -- the instruction of this project's own default
# template and its common variants.
_LANG_NAME = r"[^\W\d_][^\n.:]*?"
_INSTRUCTION = re.compile(
    r"^\s*translate\s+(?:the\s+following\s+)?(?:(?:text|sentence|sentences|passage|paragraph|segment)\s+)?"
    rf"(?:from\s+(?P<src>{_LANG_NAME})\s+)?(?:in)?to\s+(?P<tgt>{_LANG_NAME})\s*"
    r"(?:[.:]?[ \t]*\r?\n|:[ \t]+)\s*(?P<text>\S.*)\Z",
    re.IGNORECASE | re.DOTALL,
)

_JSON = json.JSONDecoder()

#: The field that marks each JSON Lines format (named when a line is in another format than the file).
_KEY_FIELD = {"jsonl_pairs": "source", "jsonl_translation": "translation", "jsonl_chat": "messages"}


def _parse_json(text: str) -> Any:
    """``json.loads`` for one line, minus its per-call overhead (the validator parses every line)."""
    text = text.strip()
    obj, end = _JSON.raw_decode(text)
    if end != len(text):
        raise json.JSONDecodeError("Extra data", text, end)
    return obj


def _shape(obj: dict[str, Any]) -> str | None:
    """The JSON Lines format a record is clearly written in, if any."""
    if "messages" in obj:
        return "jsonl_chat"
    if "translation" in obj:
        return "jsonl_translation"
    if "source" in obj or "target" in obj:
        return "jsonl_pairs"
    return None


def _content_text(content: Any) -> Any:
    """OpenAI content: a string, or a list of parts whose text parts are joined."""
    if isinstance(content, list) and all(isinstance(p, dict) and p.get("type") == "text" for p in content):
        texts = [p.get("text") for p in content]
        if all(isinstance(t, str) for t in texts):
            return "".join(texts)
    return content


def _language_from_name(rec: RecordChecker, language_name: str | None, where: str) -> str | None:
    if language_name is None:
        return None
    # "Chinese (Simplified)" names Chinese: try the name, then the name without qualifiers.
    for candidate in (language_name, re.sub(r"\s*\(.*?\)", "", language_name)):
        try:
            return languages.code_for_name(candidate)
        except ValueError:
            pass
    rec.add("unknown_language", f"the instruction names an unknown language {rec.quote(language_name)}", field=where)
    return None


class JsonLinesParser:
    """Turns one decoded JSON line into a :class:`Record`, for one file's format and caller languages."""

    def __init__(self, fmt: str, src_lang: str | None, tgt_lang: str | None, limits: CorpusLimits):
        self.fmt = fmt
        self.src_lang = src_lang
        self.tgt_lang = tgt_lang
        self.limits = limits

    def parse(self, number: int, text: str, is_last_unterminated: bool) -> Record:
        """The record of line ``number``; ``is_last_unterminated`` adds a hint to a JSON error (a cut file)."""
        rec = RecordChecker(number, text, self.limits)
        try:
            obj = _parse_json(text)
        except json.JSONDecodeError as exc:
            hint = " (the last line has no newline: was the file cut short?)" if is_last_unterminated else ""
            rec.add("not_json", f"not valid JSON ({exc.msg}, column {exc.colno}){hint}")
            return rec.rejected()
        except RecursionError:
            rec.add("not_json", "not valid JSON: nested too deeply")
            return rec.rejected()
        except ValueError as exc:
            rec.add("not_json", f"not valid JSON: {exc}")
            return rec.rejected()
        if not isinstance(obj, dict):
            rec.add("not_object", f"expected a JSON object, got {json_type(obj)}")
            return rec.rejected()
        shape = _shape(obj)
        if shape is not None and shape != self.fmt:
            key = _KEY_FIELD[self.fmt]
            rec.add(
                "missing_field",
                f'field "{key}" is missing: this line is in {shape} format, but the file\'s first record made it '
                f"{self.fmt}; use one format per file",
                field=key,
            )
            return rec.rejected()
        if self.fmt == "jsonl_translation":
            return self._translation(rec, obj)
        if self.fmt == "jsonl_chat":
            return self._chat(rec, obj)
        return self._pairs(rec, obj)

    def _pairs(self, rec: RecordChecker, obj: dict[str, Any]) -> Record:
        source = rec.text(obj.get("source"), "source", present="source" in obj)
        target = rec.text(obj.get("target"), "target", present="target" in obj)
        src = rec.language([(obj.get("src_lang"), "src_lang"), (self.src_lang, "src_lang")], "src_lang")
        tgt = rec.language([(obj.get("tgt_lang"), "tgt_lang"), (self.tgt_lang, "tgt_lang")], "tgt_lang")
        return rec.finish(source, target, src, tgt)

    def _translation(self, rec: RecordChecker, obj: dict[str, Any]) -> Record:
        if "translation" not in obj:
            rec.add("missing_field", 'field "translation" is missing', field="translation")
            return rec.rejected()
        table = obj["translation"]
        if not isinstance(table, dict):
            rec.add("wrong_type", f'field "translation" must be an object, got {json_type(table)}', field="translation")
            return rec.rejected()
        keys: dict[str, str] = {}  # normalised code -> key as written
        for key in table:
            try:
                keys.setdefault(languages.normalize(key), key)
            except ValueError:
                rec.add(
                    "unknown_language", f'field "translation": unknown language code {rec.quote(key)}', field=f"translation.{key}"
                )
        if rec.failed:
            return rec.rejected()
        src, tgt = self._choose_sides(rec, obj, list(keys))
        if src is None or tgt is None:
            return rec.rejected()
        texts = []
        for code in (src, tgt):
            key = keys.get(code)
            where = f"translation.{key or code}"
            texts.append(rec.text(table.get(key), where, present=key is not None))
        return rec.finish(texts[0], texts[1], src, tgt)

    def _choose_sides(self, rec: RecordChecker, obj: dict[str, Any], codes: list[str]) -> tuple[str | None, str | None]:
        """Which language is the source: the record's, else the caller's, else the key order."""
        src = tgt = None
        for value, where, side in ((obj.get("src_lang"), "src_lang", "src"), (obj.get("tgt_lang"), "tgt_lang", "tgt")):
            if value is None:
                continue
            code = rec.language([(value, where)], where)
            if code is None:
                return None, None
            src, tgt = (code, tgt) if side == "src" else (src, code)
        src = src or self.src_lang
        tgt = tgt or self.tgt_lang
        if src is None and tgt is None:
            if len(codes) == 2:
                return codes[0], codes[1]
        elif src is None or tgt is None:
            others = [c for c in codes if c != (src or tgt)]
            if len(others) == 1:
                return (src, others[0]) if src is not None else (others[0], tgt)
        else:
            return src, tgt
        listed = ", ".join(codes) or "none"
        rec.add(
            "missing_language",
            f'cannot tell source from target: "translation" has languages {listed}; pass src_lang and tgt_lang',
            field="translation",
        )
        return None, None

    def _chat(self, rec: RecordChecker, obj: dict[str, Any]) -> Record:
        if "messages" not in obj:
            rec.add("missing_field", 'field "messages" is missing', field="messages")
            return rec.rejected()
        messages = obj["messages"]
        if not isinstance(messages, list):
            rec.add("wrong_type", f'field "messages" must be an array, got {json_type(messages)}', field="messages")
            return rec.rejected()
        turns: list[tuple[int, str, dict[str, Any]]] = []
        for i, message in enumerate(messages):
            if not isinstance(message, dict):
                rec.add(
                    "wrong_type", f'field "messages[{i}]" must be an object, got {json_type(message)}', field=f"messages[{i}]"
                )
                continue
            role = message.get("role")
            if role is None:
                rec.add("missing_field", f'field "messages[{i}].role" is missing', field=f"messages[{i}].role")
                continue
            if not isinstance(role, str):
                rec.add(
                    "wrong_type",
                    f'field "messages[{i}].role" must be a string, got {json_type(role)}',
                    field=f"messages[{i}].role",
                )
                continue
            if role in ("system", "developer"):
                continue
            turns.append((i, role, message))
        if rec.failed:
            return rec.rejected()
        roles = [role for _, role, _ in turns]
        for needed in ("user", "assistant"):
            if needed not in roles:
                rec.add("missing_field", f'no "{needed}" message in "messages"', field="messages")
        if rec.failed:
            return rec.rejected()
        if roles != ["user", "assistant"]:
            rec.add(
                "malformed_record",
                f"expected one user turn then one assistant turn, got {', '.join(roles)} (a multi-turn conversation is not a translation pair)",
                field="messages",
            )
            return rec.rejected()
        (ui, _, user), (ai, _, assistant) = turns
        source = rec.text(_content_text(user.get("content")), f"messages[{ui}].content", present="content" in user)
        target = rec.text(_content_text(assistant.get("content")), f"messages[{ai}].content", present="content" in assistant)
        inferred_src = inferred_tgt = None
        if source is not None:
            match = _INSTRUCTION.match(source)
            if match:
                where = f"messages[{ui}].content"
                inferred_src = _language_from_name(rec, match.group("src"), where)
                inferred_tgt = _language_from_name(rec, match.group("tgt"), where)
                source = match.group("text").strip()
        src = rec.language(
            [(obj.get("src_lang"), "src_lang"), (inferred_src, "src_lang"), (self.src_lang, "src_lang")], "src_lang"
        )
        tgt = rec.language(
            [(obj.get("tgt_lang"), "tgt_lang"), (inferred_tgt, "tgt_lang"), (self.tgt_lang, "tgt_lang")], "tgt_lang"
        )
        return rec.finish(source, target, src, tgt)
