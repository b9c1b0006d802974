"""Translation quality: sacrebleu BLEU and chrF++, COMET when it is really available, and the cut that
takes the translation out of a tuned model's "translation, blank line, explanation" answer."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

from sacrebleu.metrics import BLEU, CHRF

from radis_core.config import SEPARATOR

# sacrebleu picks its tokenizer from a two-letter target language; jobs may name languages by ISO 639-3.
_ISO3_TO_ISO1 = {"zho": "zh", "cmn": "zh", "chi": "zh", "jpn": "ja", "kor": "ko"}
# Japanese and Korean tokenizers need sacrebleu's optional MeCab extras; without them character-level
# BLEU is the honest fallback (13a would count a whole unsegmented sentence as one token).
_NEEDS_EXTRAS = {"ja", "ko"}

_TRANSLATION_LABEL = re.compile(r"^\s*(?:\*\*)?translation(?:\*\*)?\s*:\s*(?:\*\*)?", re.IGNORECASE)


def _sacrebleu_lang(target_lang: str | None) -> str:
    if not target_lang:
        return ""
    code = re.split(r"[-_]", target_lang.strip().lower(), maxsplit=1)[0]
    return _ISO3_TO_ISO1.get(code, code)


def _make_bleu(target_lang: str | None) -> tuple[BLEU, str | None]:
    lang = _sacrebleu_lang(target_lang)
    try:
        return BLEU(trg_lang=lang), None
    except RuntimeError as err:  # sacrebleu raises RuntimeError when the MeCab extras are missing
        if lang not in _NEEDS_EXTRAS:
            raise
        note = f"sacrebleu's {lang} tokenizer needs sacrebleu[{lang}] ({err.__class__.__name__}); BLEU uses tokenize=char"
        return BLEU(tokenize="char"), note


def translation_scores(hypotheses: list[str], references: list[str], target_lang: str | None = None) -> dict[str, Any]:
    """Corpus BLEU and chrF++ (``CHRF(word_order=2)``) of ``hypotheses`` against one reference each.

    ``target_lang`` (e.g. ``"de"``, ``"zh"``, ``"jpn"``) lets sacrebleu choose its tokenizer for languages
    written without spaces. Returns ``{"bleu", "chrf", "bleu_signature", "chrf_signature", "n"}``; the
    signatures make the numbers reproducible and comparable.
    """
    if len(hypotheses) != len(references):
        raise ValueError(f"got {len(hypotheses)} hypotheses but {len(references)} references; they must pair up one to one")
    if not hypotheses:
        raise ValueError("no hypotheses to score: got 0 hypotheses and 0 references")
    for name, texts in (("hypotheses", hypotheses), ("references", references)):
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"{name}[{i}] is {type(text).__name__}, expected str")

    bleu, note = _make_bleu(target_lang)
    chrf = CHRF(word_order=2)
    bleu_score = bleu.corpus_score(hypotheses, [references])
    chrf_score = chrf.corpus_score(hypotheses, [references])
    result: dict[str, Any] = {
        "bleu": float(bleu_score.score),
        "chrf": float(chrf_score.score),
        "bleu_signature": str(bleu.get_signature()),
        "chrf_signature": str(chrf.get_signature()),
        "n": len(hypotheses),
    }
    if note:
        result["note"] = note
    return result


def _comet_checkpoint(model_path: str) -> Path | None:
    """The ``.ckpt`` file for a checkpoint path or a downloaded COMET model folder, if it exists."""
    path = Path(model_path).expanduser()
    if path.is_file():
        return path
    candidate = path / "checkpoints" / "model.ckpt"
    return candidate if candidate.is_file() else None


def comet_python(configured: str | None) -> str | None:
    """The interpreter that runs COMET: the setting, else ``$RADIS_COMET_PYTHON``, else None."""
    return configured or os.environ.get("RADIS_COMET_PYTHON") or None


def comet_scores(
    sources: list[str],
    hypotheses: list[str],
    references: list[str],
    model_path: str | None,
    *,
    python: str | None = None,
    batch_size: int = 16,
    gpus: int = 0,
    timeout_s: float = 3600,
) -> dict[str, Any]:
    """COMET system and segment scores, or ``{"available": False, "reason": ...}`` when it cannot run honestly.

    COMET needs the ``unbabel-comet`` package, which pins transformers < 5 and numpy < 2: it cannot live
    in this environment. It runs in its own interpreter (``python``: the ``evaluation.comet_python``
    setting or ``$RADIS_COMET_PYTHON``) executing :mod:`radis_core.evaluation.comet_runner` by path, with
    the samples as JSON on stdin. ``model_path`` may be the ``.ckpt`` file or the model folder holding
    ``checkpoints/model.ckpt``. Nothing is downloaded. ``gpus`` is passed to COMET's ``predict`` (0 = CPU).
    """
    if not (len(sources) == len(hypotheses) == len(references)):
        raise ValueError(
            f"got {len(sources)} sources, {len(hypotheses)} hypotheses and {len(references)} references; "
            "they must pair up one to one"
        )
    if model_path is None:
        return {"available": False, "reason": "no COMET checkpoint configured: set evaluation.comet_model to a local checkpoint"}
    checkpoint = _comet_checkpoint(model_path)
    if checkpoint is None:
        return {
            "available": False,
            "reason": f"COMET checkpoint not found at {model_path} (expected a .ckpt file or a folder with checkpoints/model.ckpt)",
        }
    interpreter = comet_python(python)
    if interpreter is None:
        return {
            "available": False,
            "reason": "no COMET interpreter configured: unbabel-comet pins transformers < 5, so it runs in its own "
            "environment; set evaluation.comet_python (or RADIS_COMET_PYTHON) to that environment's python",
        }
    if not sources:
        raise ValueError("no segments to score with COMET")
    samples = [{"src": s, "mt": h, "ref": r} for s, h, r in zip(sources, hypotheses, references, strict=True)]
    request = {"checkpoint": str(checkpoint), "batch_size": batch_size, "gpus": gpus, "samples": samples}
    runner = Path(__file__).with_name("comet_runner.py")
    try:
        done = subprocess.run(
            [interpreter, str(runner)], input=json.dumps(request), capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        return {"available": False, "reason": f"the COMET interpreter {interpreter} could not run: {err}"}
    if done.returncode != 0:
        tail = (done.stderr or "").strip().splitlines()[-3:]
        return {"available": False, "reason": f"COMET failed in {interpreter} (exit {done.returncode}): {' | '.join(tail)}"}
    try:
        result = json.loads(done.stdout)
        scores = [float(x) for x in result["scores"]]
        system = float(result["system_score"])
    except (ValueError, KeyError, TypeError) as err:
        return {"available": False, "reason": f"COMET in {interpreter} answered outside the protocol: {err}"}
    if len(scores) != len(samples):
        return {"available": False, "reason": f"COMET returned {len(scores)} segment scores for {len(samples)} samples"}
    return {
        "available": True,
        "score": system,
        "scores": scores,
        "model": str(checkpoint),
        "python": interpreter,
        "n": len(samples),
    }


def extract_translation(output: str, separator: str = SEPARATOR) -> str:
    """The translation part of a tuned model's answer: the text before the first ``separator``.

    Leading whitespace and a leading "Translation:" label (optionally bold) are dropped first, so a
    label on its own line does not leave an empty translation.
    """
    if not separator:
        raise ValueError("separator must be a non-empty string")
    text = _TRANSLATION_LABEL.sub("", output.lstrip(), count=1).lstrip()
    return text.split(separator, 1)[0].strip()
