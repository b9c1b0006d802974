"""BLEU/chrF++ agree with sacrebleu itself; COMET is never faked; the translation is cut at the separator."""

import sys
import types
from importlib.util import find_spec

import pytest
import sacrebleu

from radis_core.config import SEPARATOR
from radis_core.evaluation.translation import comet_scores, extract_translation, translation_scores

HYPS = ["The cat sits on the mat.", "It is raining heavily today.", "I would like a coffee, please."]
REFS = ["The cat sat on the mat.", "It's raining hard today.", "I'd like a coffee, please."]


def test_scores_match_sacrebleu():
    got = translation_scores(HYPS, REFS)
    assert got["bleu"] == pytest.approx(sacrebleu.corpus_bleu(HYPS, [REFS]).score)
    assert got["chrf"] == pytest.approx(sacrebleu.corpus_chrf(HYPS, [REFS], word_order=2).score)
    assert got["n"] == 3
    assert "tok:13a" in got["bleu_signature"]
    assert "nw:2" in got["chrf_signature"]  # chrF++ = chrF with word bigrams


def test_identical_text_scores_100_and_different_text_less():
    assert translation_scores(REFS, REFS)["bleu"] == pytest.approx(100.0)
    assert translation_scores(HYPS, REFS)["chrf"] < translation_scores(REFS, REFS)["chrf"]


def test_chinese_target_uses_the_zh_tokenizer():
    hyps, refs = ["我喜欢喝咖啡。"], ["我很喜欢喝咖啡。"]
    got = translation_scores(hyps, refs, target_lang="zho")
    assert "tok:zh" in got["bleu_signature"]
    assert got["bleu"] == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs], tokenize="zh").score)


@pytest.mark.skipif(find_spec("MeCab") is not None, reason="the ja extras are installed; no fallback happens")
def test_japanese_without_mecab_falls_back_to_characters_and_says_so():
    got = translation_scores(["猫が好きです。"], ["猫が大好きです。"], target_lang="ja")
    assert "tok:char" in got["bleu_signature"]
    assert "sacrebleu[ja]" in got["note"]


def test_length_mismatch_names_both_counts():
    with pytest.raises(ValueError, match=r"3 hypotheses but 2 references"):
        translation_scores(HYPS, REFS[:2])


def test_empty_input_is_an_error():
    with pytest.raises(ValueError, match="no hypotheses"):
        translation_scores([], [])


def test_comet_unavailable_without_checkpoint():
    got = comet_scores(["a"], ["b"], ["c"], None)
    assert got["available"] is False and "checkpoint" in got["reason"]


def test_comet_unavailable_when_checkpoint_missing(tmp_path):
    got = comet_scores(["a"], ["b"], ["c"], str(tmp_path / "wmt22-comet-da"))
    assert got == {"available": False, "reason": got["reason"]}
    assert "not found" in got["reason"]


def test_comet_unavailable_when_package_missing(tmp_path, monkeypatch):
    ckpt = tmp_path / "checkpoints" / "model.ckpt"
    ckpt.parent.mkdir()
    ckpt.write_bytes(b"x")
    monkeypatch.setitem(sys.modules, "comet", None)  # makes `import comet` raise ImportError
    got = comet_scores(["a"], ["b"], ["c"], str(tmp_path))
    assert got["available"] is False and "unbabel-comet" in got["reason"]


def test_comet_passes_triples_to_the_library_and_reports_its_system_score(tmp_path, monkeypatch):
    # Stands in for unbabel-comet to check the wiring only; the score is whatever the library returns.
    ckpt = tmp_path / "model.ckpt"
    ckpt.write_bytes(b"x")
    calls = {}

    class Model:
        def predict(self, samples, batch_size, gpus, progress_bar):
            calls.update(samples=samples, gpus=gpus)
            return types.SimpleNamespace(system_score=0.8125, scores=[0.8125] * len(samples))

    def load_from_checkpoint(path):
        calls["path"] = path
        return Model()

    fake = types.ModuleType("comet")
    fake.load_from_checkpoint = load_from_checkpoint
    monkeypatch.setitem(sys.modules, "comet", fake)
    got = comet_scores(["Hallo"], ["Hello"], ["Hello"], str(ckpt))
    assert got == {"available": True, "score": 0.8125, "model": str(ckpt), "n": 1}
    assert calls["samples"] == [{"src": "Hallo", "mt": "Hello", "ref": "Hello"}]
    assert calls["path"] == str(ckpt) and calls["gpus"] == 0


def test_comet_length_mismatch_names_counts():
    with pytest.raises(ValueError, match="2 sources, 1 hypotheses and 1 references"):
        comet_scores(["a", "b"], ["c"], ["d"], None)


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("Guten Morgen.\n\nThe word 'Morgen' means morning.", "Guten Morgen."),
        ("  Guten Morgen.  ", "Guten Morgen."),
        ("Translation: Guten Morgen.\n\nExplanation: ...", "Guten Morgen."),
        ("**Translation:** Guten Morgen.\n\n1. Morgen ...", "Guten Morgen."),
        ("translation:\n\nGuten Morgen.\n\nNotes", "Guten Morgen."),
        ("\n\nGuten Morgen.\n\nNotes", "Guten Morgen."),
        ("Zeile eins\nZeile zwei\n\nErklärung", "Zeile eins\nZeile zwei"),
        ("The translation: is not a label here", "The translation: is not a label here"),
    ],
)
def test_extract_translation(output, expected):
    assert extract_translation(output) == expected


def test_extract_translation_uses_the_configured_separator():
    assert SEPARATOR == "\n\n"
    assert extract_translation("Hola ### explicación", separator="###") == "Hola"
