"""BLEU/chrF++ agree with sacrebleu itself; COMET is never faked; the translation is cut at the separator."""

import json
import sys
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


def _checkpoint(tmp_path):
    ckpt = tmp_path / "checkpoints" / "model.ckpt"
    ckpt.parent.mkdir(parents=True)
    ckpt.write_bytes(b"x")
    return ckpt


def _stand_in_interpreter(tmp_path, comet_source: str):
    """An executable that runs this Python with a stand-in ``comet`` package first on its path: it speaks
    the runner's protocol exactly as another environment's interpreter would (a separate process)."""
    lib = tmp_path / "other-env"
    (lib / "comet").mkdir(parents=True)
    (lib / "comet" / "__init__.py").write_text(comet_source)
    python = tmp_path / "python-with-comet"
    python.write_text(f'#!/bin/sh\nPYTHONPATH={lib} exec {sys.executable} "$@"\n')
    python.chmod(0o755)
    return python


STAND_IN = """
import json, os, types
def load_from_checkpoint(path):
    class Model:
        def predict(self, samples, batch_size, gpus, progress_bar):
            with open(os.environ["COMET_CALLS"], "w") as f:
                json.dump({"path": path, "samples": samples, "batch_size": batch_size, "gpus": gpus}, f)
            scores = [0.5 + 0.1 * (s["mt"] == s["ref"]) for s in samples]
            return types.SimpleNamespace(system_score=sum(scores) / len(scores), scores=scores)
    return Model()
"""


def test_comet_unavailable_without_an_interpreter_says_why(tmp_path, monkeypatch):
    monkeypatch.delenv("RADIS_COMET_PYTHON", raising=False)
    _checkpoint(tmp_path)
    got = comet_scores(["a"], ["b"], ["c"], str(tmp_path))
    assert got["available"] is False
    assert "transformers < 5" in got["reason"] and "evaluation.comet_python" in got["reason"]


def test_comet_runs_in_its_own_interpreter_over_the_runner_protocol(tmp_path, monkeypatch):
    ckpt = _checkpoint(tmp_path)
    python = _stand_in_interpreter(tmp_path, STAND_IN)
    monkeypatch.setenv("COMET_CALLS", str(tmp_path / "calls.json"))
    got = comet_scores(
        ["Hallo", "Tschüss"], ["Hello", "Bye"], ["Hello", "Goodbye"], str(tmp_path), python=str(python), batch_size=4
    )
    assert got["available"] is True and got["n"] == 2 and got["python"] == str(python)
    assert got["scores"] == pytest.approx([0.6, 0.5]) and got["score"] == pytest.approx(0.55)
    calls = json.loads((tmp_path / "calls.json").read_text())
    assert calls["path"] == str(ckpt) and calls["batch_size"] == 4 and calls["gpus"] == 0
    assert calls["samples"][1] == {"src": "Tschüss", "mt": "Bye", "ref": "Goodbye"}
    # The environment variable names the interpreter when the setting does not.
    monkeypatch.setenv("RADIS_COMET_PYTHON", str(python))
    assert comet_scores(["a"], ["b"], ["b"], str(ckpt))["score"] == pytest.approx(0.6)


def test_a_failing_or_missing_interpreter_is_a_reason_not_a_crash(tmp_path):
    _checkpoint(tmp_path)
    broken = _stand_in_interpreter(tmp_path, "raise ImportError('numpy 2 is not supported by this comet')")
    got = comet_scores(["a"], ["b"], ["c"], str(tmp_path), python=str(broken))
    assert got["available"] is False and "numpy 2 is not supported" in got["reason"] and "exit 1" in got["reason"]
    got = comet_scores(["a"], ["b"], ["c"], str(tmp_path), python=str(tmp_path / "no-such-python"))
    assert got["available"] is False and "could not run" in got["reason"]


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
