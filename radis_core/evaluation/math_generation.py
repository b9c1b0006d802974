"""Seeded arithmetic word problems: the easy end of the math probe, so a small model is not at the floor.

GSM8K-style problems need three to eight steps; SmolLM2-135M-Instruct solves almost none of them, so
a probe made only of those reads 0 before and 0 after training and cannot show a loss. These items
are one or two operations on small whole numbers, operands mostly single digits ("Mia has 5
stickers. Mia buys 3 more. ..."), each tagged ``"level": "one-step"`` or ``"two-step"``; the
hand-written GSM-style items in ``radis_core/probes/math.jsonl`` (``"level": "multi-step"``) stay the
harder part. Even at this level the 135M model is right on only about a third of single-digit
one-step problems (it often confuses adding with subtracting), so it sits above the floor.

What a reader should make of the math score: it is mostly *arithmetic in words*, not grade-school
reasoning; a drop means the tuned model lost the habit of reading a short problem and ending with
the number. ``score.extra["by_level"]`` splits the accuracy by level. All answers are whole numbers.
The items are written by :mod:`radis_core.evaluation.probe_generation`; the same seed gives the same list.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

NAMES = ("Mia", "Tom", "Sara", "Ben", "Lena", "Omar", "Yuki", "Ana", "Paul", "Nora", "Ravi", "Eva", "Leo", "Zoe", "Sam", "Ines")
#: (singular, plural) of things that are counted and sold.
THINGS = (
    ("apple", "apples"),
    ("marble", "marbles"),
    ("sticker", "stickers"),
    ("pencil", "pencils"),
    ("book", "books"),
    ("cookie", "cookies"),
    ("card", "cards"),
    ("shell", "shells"),
    ("balloon", "balloons"),
    ("stamp", "stamps"),
    ("orange", "oranges"),
    ("toy car", "toy cars"),
)

Problem = tuple[str, int]
"""The question and its whole-number answer."""


def _add(r: random.Random, name: str, thing: tuple[str, str]) -> Problem:
    a, b = r.randint(2, 9), r.randint(2, 9)
    return f"{name} has {a} {thing[1]}. {name} buys {b} more. How many {thing[1]} does {name} have now?", a + b


def _subtract(r: random.Random, name: str, thing: tuple[str, str]) -> Problem:
    b = r.randint(2, 9)
    a = b + r.randint(2, 9)
    return f"{name} had {a} {thing[1]} and gave {b} of them to a friend. How many {thing[1]} does {name} have left?", a - b


def _multiply(r: random.Random, name: str, thing: tuple[str, str]) -> Problem:
    a, b = r.randint(2, 5), r.randint(2, 5)
    return f"{name} has {a} boxes with {b} {thing[1]} in each box. How many {thing[1]} are there in total?", a * b


def _divide(r: random.Random, name: str, thing: tuple[str, str]) -> Problem:
    each, friends = r.randint(2, 5), r.randint(2, 5)
    total = each * friends
    question = f"{name} shares {total} {thing[1]} equally among {friends} friends. How many {thing[1]} does each friend get?"
    return question, each


def _price(r: random.Random, name: str, thing: tuple[str, str]) -> Problem:
    price, n = r.randint(2, 5), r.randint(2, 5)
    return f"One {thing[0]} costs {price} dollars. How many dollars do {n} {thing[1]} cost?", price * n


def _age(r: random.Random, name: str, thing: tuple[str, str]) -> Problem:
    age, years = r.randint(5, 12), r.randint(2, 9)
    return f"{name} is {age} years old. How old will {name} be in {years} years?", age + years


def _buy_give(r: random.Random, name: str, thing: tuple[str, str]) -> Problem:
    a, b = r.randint(3, 9), r.randint(2, 9)
    c = r.randint(1, min(9, a + b - 1))
    question = f"{name} has {a} {thing[1]}, buys {b} more and then gives {c} away. How many {thing[1]} does {name} have now?"
    return question, a + b - c


def _change(r: random.Random, name: str, thing: tuple[str, str]) -> Problem:
    n, price = r.randint(2, 3), r.randint(2, 5)
    note = 20
    question = (
        f"{name} buys {n} {thing[1]} at {price} dollars each and pays with a {note}-dollar note. "
        f"How many dollars of change does {name} get?"
    )
    return question, note - n * price


def _rows_empty(r: random.Random, name: str, thing: tuple[str, str]) -> Problem:
    rows, per_row = r.randint(2, 5), r.randint(2, 5)
    empty = r.randint(1, min(9, rows * per_row - 1))
    question = f"A room has {rows} rows of {per_row} chairs. {empty} chairs are empty. How many chairs are taken?"
    return question, rows * per_row - empty


def _pages(r: random.Random, name: str, thing: tuple[str, str]) -> Problem:
    per_day, days, extra = r.randint(2, 5), r.randint(2, 5), r.randint(2, 9)
    question = (
        f"{name} reads {per_day} pages every day for {days} days and then {extra} more pages. "
        f"How many pages does {name} read in total?"
    )
    return question, per_day * days + extra


def _earn_spend(r: random.Random, name: str, thing: tuple[str, str]) -> Problem:
    per_day, days = r.randint(2, 5), r.randint(2, 5)
    spent = r.randint(1, min(9, per_day * days - 1))
    question = (
        f"{name} earns {per_day} dollars a day. After {days} days, {name} spends {spent} dollars. "
        f"How many dollars does {name} have left?"
    )
    return question, per_day * days - spent


def _bags(r: random.Random, name: str, thing: tuple[str, str]) -> Problem:
    per_bag, bags = r.randint(2, 5), r.randint(2, 5)
    taken = r.randint(1, bags - 1)
    question = (
        f"{per_bag * bags} {thing[1]} are packed equally into {bags} bags. {name} takes {taken} of the bags. "
        f"How many {thing[1]} does {name} take?"
    )
    return question, per_bag * taken


TEMPLATES: dict[str, tuple[Callable[[random.Random, str, tuple[str, str]], Problem], ...]] = {
    "one-step": (_add, _subtract, _multiply, _divide, _price, _age),
    "two-step": (_buy_give, _change, _rows_empty, _pages, _earn_spend, _bags),
}

ID_PREFIX = "m-g"
DEFAULT_COUNT = 100
DEFAULT_SEED = 12


def generate_math(count: int = DEFAULT_COUNT, seed: int = DEFAULT_SEED) -> list[dict[str, Any]]:
    """``count`` problems ``{"id", "question", "answer", "level"}``, alternating one-step and two-step.

    Within a level the templates take turns, so any prefix mixes them; names, things and numbers come
    from ``random.Random(seed)``. No two questions are equal.
    """
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    rng = random.Random(seed)
    levels = list(TEMPLATES)
    items: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i in range(count):
        level = levels[i % len(levels)]
        templates = TEMPLATES[level]
        template = templates[(i // len(levels)) % len(templates)]
        for _attempt in range(1000):
            question, answer = template(rng, rng.choice(NAMES), rng.choice(THINGS))
            if question not in seen:
                break
        else:  # pragma: no cover - the number ranges are far larger than any sensible count
            raise ValueError(f"cannot write {count} distinct questions")
        seen.add(question)
        items.append({"id": f"{ID_PREFIX}{i + 1:03d}", "question": question, "answer": str(answer), "level": level})
    return items
