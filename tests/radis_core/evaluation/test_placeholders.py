"""Placeholder preservation on crafted cases: the rule is "the same multiset as the source"."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from radis_core.evaluation.placeholders import (
    extract_placeholders,
    placeholder_diff,
    placeholder_preservation,
    preserves_placeholders,
)
from tests.radis_core.corpus.helpers import REPO_ROOT


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Enter a valid %(protocol)s address.", ["%(protocol)s"]),
        ("%s does not appear to be a urlpattern object", ["%s"]),
        ("at least %(min_length)d character, %d left", ["%(min_length)d", "%d"]),
        ("%.2f%% done, %-5s, %r, %05d, %+d, %(x).1f", ["%.2f", "%-5s", "%r", "%05d", "%+d", "%(x).1f"]),
        ("100%% sure and 50% off, 20 % discount", []),
        ("%%(name)s is literal", []),  # the escaped percent sign swallows the would-be placeholder
        ("%%%(name)s", ["%(name)s"]),
        ("The {name} “{obj}” was added.", ["{name}", "{obj}"]),
        ("Select this object for an action - {}", ["{}"]),
        (
            "{0} of {1}, {obj.name}, {items[0]}, {value!r}, {value:>10}",
            ["{0}", "{1}", "{obj.name}", "{items[0]}", "{value!r}", "{value:>10}"],
        ),
        ("{{literal}} and { spaced } and a set {1, 2}", []),
        ("Use <code>%(code)s</code> first.", ["%(code)s", "<code>", "</code>"]),
        ('See <a href="/x/%(v)s/">notes</a><br/>', ["%(v)s", '<a href="/x/%(v)s/">', "</a>", "<br/>"]),
        ("if a < b and c > d", []),
        ("plain prose", []),
    ],
)
def test_extract_placeholders(text: str, expected: list[str]) -> None:
    assert extract_placeholders(text) == expected


def test_extract_by_kind_and_unknown_kind() -> None:
    text = "<b>%(n)s</b> {x}"
    assert extract_placeholders(text, ["printf"]) == ["%(n)s"]
    assert extract_placeholders(text, ["brace"]) == ["{x}"]
    assert extract_placeholders(text, ["html"]) == ["<b>", "</b>"]
    unknown: Any = ["icu"]
    with pytest.raises(ValueError, match="unknown placeholder kinds"):
        extract_placeholders(text, unknown)


SOURCE = "Ensure this value has at least %(limit_value)d characters (it has %(show_value)d)."


@pytest.mark.parametrize(
    ("hypothesis", "preserved", "missing", "extra"),
    [
        # Reordered: allowed (word order differs across languages).
        ("Der Wert hat %(show_value)d Zeichen, mindestens %(limit_value)d sind nötig.", True, [], []),
        ("Mindestens %(limit_value)d Zeichen (es sind %(show_value)d).", True, [], []),
        # One dropped.
        ("Mindestens %(limit_value)d Zeichen.", False, ["%(show_value)d"], []),
        # One duplicated.
        ("%(limit_value)d, %(limit_value)d, %(show_value)d", False, [], ["%(limit_value)d"]),
        # The name inside %(...)d translated, or its type changed.
        ("Mindestens %(grenzwert)d Zeichen (es sind %(show_value)d).", False, ["%(limit_value)d"], ["%(grenzwert)d"]),
        ("Mindestens %(limit_value)s Zeichen (es sind %(show_value)d).", False, ["%(limit_value)d"], ["%(limit_value)s"]),
        # Placeholders spelled out as numbers.
        ("Mindestens 5 Zeichen (es sind 3).", False, ["%(limit_value)d", "%(show_value)d"], []),
    ],
)
def test_preservation_rule(hypothesis: str, preserved: bool, missing: list[str], extra: list[str]) -> None:
    assert preserves_placeholders(SOURCE, hypothesis) is preserved
    assert placeholder_diff(SOURCE, hypothesis) == (sorted(missing), sorted(extra))


def test_percent_literals_and_braces() -> None:
    # ``%%`` is text on both sides: neither required nor counted as extra.
    assert preserves_placeholders("%(p)d%% done", "%(p)d % erledigt") is True
    assert preserves_placeholders("%(p)d%% done", "%(p)d%% erledigt") is True
    assert preserves_placeholders("{name} “{obj}” added", "„{obj}“ ({name}) hinzugefügt") is True
    assert preserves_placeholders("{name} “{obj}” added", "{Name} „{obj}“ hinzugefügt") is False
    assert preserves_placeholders("Use <code>%(c)s</code>.", "Nutze %(c)s.") is False
    # A placeholder the source lacks, in a hypothesis for a source without any: still not scored.
    assert preserves_placeholders("Thanks for using our site!", "Danke %(name)s!") is None


def test_score_over_items() -> None:
    sources = ["No placeholders here.", "Hello %(name)s", "{a} and {b}", "%s items", "Plain too."]
    hypotheses = ["Keine Platzhalter.", "Hallo %(name)s", "{b} und {a}", "Elemente", "%s!"]
    score = placeholder_preservation(sources, hypotheses)
    assert score.per_item == [None, True, True, False, None]
    assert (score.n, score.preserved, score.rate) == (3, 2, pytest.approx(2 / 3))
    assert score.to_dict() == {"n": 3, "preserved": 2, "rate": pytest.approx(2 / 3), "per_item": [None, True, True, False, None]}
    empty = placeholder_preservation(["a", "b"], ["x", "y"])
    assert (empty.n, empty.preserved, empty.rate, empty.per_item) == (0, 0, None, [None, None])
    assert placeholder_preservation([], []).rate is None
    with pytest.raises(ValueError, match="2 sources but 1 hypotheses"):
        placeholder_preservation(["a", "b"], ["x"])


def test_module_imports_no_torch() -> None:
    code = (
        "import sys, radis_core.evaluation.placeholders;"
        "bad = sorted(m for m in ('torch', 'transformers') if m in sys.modules); assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO_ROOT)


def test_diff_and_rule_honour_the_kinds_on_both_sides() -> None:
    source = "Delete %(name)s? <b>{count}</b>"
    hypothesis = "Löschen %(name)s? {anzahl} <i>"
    assert placeholder_diff(source, hypothesis) == (["</b>", "<b>", "{count}"], ["<i>", "{anzahl}"])
    # Only printf fields: the brace and html differences on either side are not looked at.
    assert placeholder_diff(source, hypothesis, kinds=("printf",)) == ([], [])
    assert preserves_placeholders(source, hypothesis, kinds=("printf",)) is True
    # Only brace fields: one missing on the source side, one extra on the hypothesis side.
    assert placeholder_diff(source, hypothesis, kinds=("brace",)) == (["{count}"], ["{anzahl}"])
    assert placeholder_diff(source, "Löschen %(name)s? <i>", kinds=("html",)) == (["</b>", "<b>"], ["<i>"])
    assert placeholder_diff("Löschen", "<b>%(x)s</b>", kinds=("printf",)) == ([], ["%(x)s"])
