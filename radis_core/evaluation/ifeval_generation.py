"""Deterministic IFEval-style items: everyday topics and task stems crossed with the verifiable checks.

Each generated item is one task stem about one topic ("Describe a rainy afternoon.") followed by one
instruction that :mod:`radis_core.evaluation.checks` can verify ("Do not use any commas in your
reply."); every fourth item adds a second, compatible instruction. The primary check cycles through
:data:`~radis_core.evaluation.checks.CHECK_TYPES` in order, so *any prefix* of the generated list
covers the check types evenly (retention runs the first ``max_probe_items`` items of a set).

Difficulty is aimed at a small instruct model (SmolLM2-135M-Instruct): short tasks, word limits it
can meet within a probe budget of about 128 tokens, lists of 2-5 items, and no instruction that
needs counting letters or sentences. The items are written to ``radis_core/probes/ifeval.jsonl`` by
:mod:`radis_core.evaluation.probe_generation`; the same seed always gives the same items.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from radis_core.evaluation.checks import CHECK_TYPES


@dataclass(frozen=True)
class Topic:
    """A subject to write about, words that belong to it, and a word a reply would naturally use."""

    phrase: str
    keywords: tuple[str, str]
    obvious: str


TOPICS: tuple[Topic, ...] = (
    Topic("the sea", ("waves", "salt"), "water"),
    Topic("autumn", ("leaves", "orange"), "fall"),
    Topic("a busy market", ("fruit", "noise"), "people"),
    Topic("learning to cook", ("kitchen", "recipe"), "food"),
    Topic("a rainy afternoon", ("umbrella", "window"), "rain"),
    Topic("riding a bicycle", ("pedal", "balance"), "bike"),
    Topic("a library", ("books", "quiet"), "read"),
    Topic("keeping a garden", ("soil", "seeds"), "plants"),
    Topic("a visit to the zoo", ("lion", "ticket"), "animals"),
    Topic("drinking tea", ("cup", "warm"), "hot"),
    Topic("the moon", ("night", "light"), "sky"),
    Topic("a birthday party", ("cake", "friends"), "fun"),
    Topic("moving to a new city", ("boxes", "neighbours"), "new"),
    Topic("playing football", ("goal", "team"), "ball"),
    Topic("a snowy morning", ("cold", "white"), "snow"),
    Topic("owning a cat", ("whiskers", "purr"), "pet"),
    Topic("a train journey", ("station", "window"), "travel"),
    Topic("saving money", ("budget", "bank"), "spend"),
    Topic("a forest walk", ("trees", "path"), "nature"),
    Topic("learning to swim", ("pool", "breath"), "water"),
    Topic("baking bread", ("flour", "oven"), "dough"),
    Topic("a thunderstorm", ("lightning", "clouds"), "loud"),
    Topic("the first day at school", ("teacher", "classroom"), "nervous"),
    Topic("a camping trip", ("tent", "fire"), "outside"),
    Topic("music", ("song", "rhythm"), "sound"),
    Topic("a lighthouse", ("ships", "coast"), "light"),
    Topic("growing tomatoes", ("sun", "garden"), "red"),
    Topic("a quiet morning", ("coffee", "birds"), "calm"),
    Topic("visiting grandparents", ("stories", "kitchen"), "family"),
    Topic("the desert", ("sand", "heat"), "dry"),
    Topic("a football stadium", ("crowd", "match"), "fans"),
    Topic("writing letters", ("paper", "stamp"), "write"),
    Topic("the night sky", ("stars", "dark"), "moon"),
    Topic("a picnic in the park", ("basket", "grass"), "food"),
    Topic("learning to draw", ("pencil", "paper"), "art"),
    Topic("a mountain hike", ("summit", "boots"), "climb"),
    Topic("recycling", ("plastic", "bins"), "waste"),
    Topic("a farm in summer", ("cows", "hay"), "animals"),
    Topic("public transport", ("bus", "ticket"), "city"),
    Topic("a good breakfast", ("eggs", "toast"), "morning"),
)

#: Task stems; ``{topic}`` is a topic's phrase. They are neutral, so any check below fits after them.
STEMS: tuple[str, ...] = (
    "Write a few sentences about {topic}.",
    "Describe {topic}.",
    "Tell me about {topic}.",
    "Explain what people like about {topic}.",
    "Give some advice about {topic}.",
    "Write a short note to a friend about {topic}.",
    "Share some ideas about {topic}.",
    "Write a short text about {topic} for children.",
)

_ENDINGS = ("Is there anything else I can help with?", "That is all.", "Thank you for reading.", "Have a nice day!")
_OPENINGS = ("Certainly", "Here is", "Of course", "My answer")

Instruction = tuple[str, dict[str, Any]]
"""The sentence added to the prompt, and the check spec that verifies it."""


def _lowercase(rng: random.Random, topic: Topic) -> Instruction:
    text = rng.choice(("Your entire reply must be in lowercase letters.", "Write everything in lowercase, with no capitals."))
    return text, {"type": "lowercase"}


def _uppercase(rng: random.Random, topic: Topic) -> Instruction:
    text = rng.choice(("Your entire reply must be in capital letters.", "Write everything in uppercase letters."))
    return text, {"type": "uppercase"}


def _max_words(rng: random.Random, topic: Topic) -> Instruction:
    n = rng.choice((20, 30, 40, 50))
    return rng.choice((f"Use at most {n} words.", f"Answer in no more than {n} words.")), {"type": "max_words", "n": n}


def _min_words(rng: random.Random, topic: Topic) -> Instruction:
    n = rng.choice((30, 40, 50, 60))
    text = rng.choice((f"Use at least {n} words.", f"Your answer must be at least {n} words long."))
    return text, {"type": "min_words", "n": n}


def _exact_bullets(rng: random.Random, topic: Topic) -> Instruction:
    n = rng.choice((2, 3, 4))
    text = f'Answer with exactly {n} Markdown bullet points, each starting with "* ".'
    return text, {"type": "exact_bullets", "n": n}


def _contains_keyword(rng: random.Random, topic: Topic) -> Instruction:
    if rng.random() < 0.5:
        word = rng.choice(topic.keywords)
        return f'Include the word "{word}".', {"type": "contains_keyword", "words": [word]}
    a, b = topic.keywords
    return f'Include the words "{a}" and "{b}".', {"type": "contains_keyword", "words": [a, b]}


def _forbidden_words(rng: random.Random, topic: Topic) -> Instruction:
    return f'Do not use the word "{topic.obvious}".', {"type": "forbidden_words", "words": [topic.obvious]}


def _ends_with(rng: random.Random, topic: Topic) -> Instruction:
    phrase = rng.choice(_ENDINGS)
    return f'End your reply with the exact sentence "{phrase}"', {"type": "ends_with", "phrase": phrase}


def _starts_with(rng: random.Random, topic: Topic) -> Instruction:
    phrase = rng.choice(_OPENINGS)
    return f'Start your reply with the words "{phrase}".', {"type": "starts_with", "phrase": phrase}


def _no_commas(rng: random.Random, topic: Topic) -> Instruction:
    text = rng.choice(("Do not use any commas in your reply.", "Your reply must not contain a single comma."))
    return text, {"type": "no_commas"}


def _json_format(rng: random.Random, topic: Topic) -> Instruction:
    keys = rng.choice((("topic", "summary"), ("title", "description"), ("name", "facts")))
    text = f'Reply with a JSON object only, with the keys "{keys[0]}" and "{keys[1]}".'
    return text, {"type": "json_format"}


def _numbered_list(rng: random.Random, topic: Topic) -> Instruction:
    n = rng.choice((3, 4, 5))
    return f"Answer with a numbered list of exactly {n} items (1., 2., ...).", {"type": "numbered_list", "n": n}


def _quotation(rng: random.Random, topic: Topic) -> Instruction:
    return "Wrap your entire reply in double quotation marks.", {"type": "quotation"}


def _paragraphs(rng: random.Random, topic: Topic) -> Instruction:
    n = rng.choice((2, 3))
    return f"Write exactly {n} short paragraphs separated by a blank line.", {"type": "paragraphs", "n": n}


def _title(rng: random.Random, topic: Topic) -> Instruction:
    return "Give your reply a title wrapped in double angular brackets, such as <<my title>>.", {"type": "title"}


INSTRUCTIONS: dict[str, Callable[[random.Random, Topic], Instruction]] = {
    "lowercase": _lowercase,
    "uppercase": _uppercase,
    "max_words": _max_words,
    "min_words": _min_words,
    "exact_bullets": _exact_bullets,
    "contains_keyword": _contains_keyword,
    "forbidden_words": _forbidden_words,
    "ends_with": _ends_with,
    "starts_with": _starts_with,
    "no_commas": _no_commas,
    "json_format": _json_format,
    "numbered_list": _numbered_list,
    "quotation": _quotation,
    "paragraphs": _paragraphs,
    "title": _title,
}
"""One instruction writer per check type; covers :data:`CHECK_TYPES` exactly (a test holds them equal)."""

#: Second instructions that fit after a primary one (no contradiction: not lowercase with uppercase,
#: not a word limit with a minimum, nothing besides the JSON object itself).
SECOND: dict[str, tuple[str, ...]] = {
    "lowercase": ("max_words", "contains_keyword", "no_commas", "title"),
    "uppercase": ("max_words", "no_commas", "forbidden_words"),
    "max_words": ("lowercase", "contains_keyword", "starts_with", "no_commas"),
    "min_words": ("contains_keyword", "forbidden_words", "ends_with"),
    "exact_bullets": ("contains_keyword", "no_commas", "title"),
    "contains_keyword": ("max_words", "lowercase", "ends_with"),
    "forbidden_words": ("max_words", "starts_with", "contains_keyword"),
    "ends_with": ("max_words", "contains_keyword", "starts_with"),
    "starts_with": ("max_words", "no_commas", "ends_with"),
    "no_commas": ("max_words", "lowercase", "contains_keyword"),
    "json_format": (),
    "numbered_list": ("contains_keyword", "forbidden_words", "title"),
    "quotation": ("max_words", "contains_keyword"),
    "paragraphs": ("contains_keyword", "title", "forbidden_words"),
    "title": ("max_words", "lowercase", "contains_keyword"),
}

ID_PREFIX = "if-g"
DEFAULT_COUNT = 400
DEFAULT_SEED = 12
PAIR_EVERY = 4


def generate_ifeval(count: int = DEFAULT_COUNT, seed: int = DEFAULT_SEED) -> list[dict[str, Any]]:
    """``count`` items ``{"id", "prompt", "checks", "topic"}``; the same seed gives the same list.

    Item ``i`` has primary check ``CHECK_TYPES[i % len(CHECK_TYPES)]``; every :data:`PAIR_EVERY`-th item
    whose primary allows one gets a second check from :data:`SECOND`. No two prompts are equal.
    """
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    rng = random.Random(seed)
    items: list[dict[str, Any]] = []
    seen: set[str] = set()
    width = max(3, len(str(count)))
    for i in range(count):
        primary = CHECK_TYPES[i % len(CHECK_TYPES)]
        for _attempt in range(1000):
            topic, stem = rng.choice(TOPICS), rng.choice(STEMS)
            text, check = INSTRUCTIONS[primary](rng, topic)
            sentences, checks = [text], [check]
            if i % PAIR_EVERY == PAIR_EVERY - 1 and SECOND[primary]:
                extra_text, extra_check = INSTRUCTIONS[rng.choice(SECOND[primary])](rng, topic)
                sentences.append(extra_text)
                checks.append(extra_check)
            prompt = " ".join([stem.format(topic=topic.phrase), *sentences])
            if prompt not in seen:
                break
        else:  # pragma: no cover - the pools are far larger than any sensible count
            raise ValueError(f"cannot write {count} distinct prompts from the topic and stem pools")
        seen.add(prompt)
        items.append(
            {
                "id": f"{ID_PREFIX}{i + 1:0{width}d}",
                "prompt": prompt,
                "checks": checks,
                "topic": topic.phrase,
            }
        )
    return items
