"""The evaluation step of a run: the same weights with the adapter off (base) and on (tuned).

Translation quality (BLEU, chrF++, COMET when configured) on the held-out pairs, then the
general-ability probes; the tuned model's drift is scored on the base model's own answers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from radis_core.corpus import Pair
from radis_core.evaluation.base_cache import BaseEvalCache, base_eval_key
from radis_core.events import Counted, Note, stage_started
from radis_core.run_context import RunContext
from radis_core.settings import EvalSettings

#: Evaluation units per model: the translation pass, and each probe pass (ifeval, math, safety,
#: overrefusal, general answers, drift) when retention runs.
_PROBE_NAMES = ("ifeval", "math", "safety", "overrefusal", "general", "drift")
_PROBE_UNITS = len(_PROBE_NAMES)


@dataclass(frozen=True)
class ModelScores:
    """One model's evaluation: translation scores (with a few samples), COMET, the probe run."""

    translation: dict[str, Any]
    comet: dict[str, Any]
    probes: Any  # a BenchmarkRun, or None when retention was not run
    cached: bool = False  # read from the base-evaluation cache instead of computed


@dataclass(frozen=True)
class Evaluation:
    """Base and tuned side by side, and the retention comparison (None without probes)."""

    base: ModelScores
    tuned: ModelScores
    retention: dict[str, Any] | None

    def side_by_side_samples(self) -> list[dict[str, Any]]:
        """A few held-out pairs with both models' translations: they make the numbers readable."""
        return [
            {"source": b["source"], "reference": b["reference"], "base": b["hypothesis"], "tuned": t["hypothesis"]}
            for b, t in zip(self.base.translation["samples"], self.tuned.translation["samples"], strict=True)
        ]


def translate_pairs(chat: Any, pairs: Sequence[Pair], template: str, max_new_tokens: int) -> list[str]:
    """Translate pairs grouped by direction; the translation part of each answer, in input order."""
    from radis_core.evaluation.translation import extract_translation

    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, p in enumerate(pairs):
        groups[(p.src_lang, p.tgt_lang)].append(i)
    out = [""] * len(pairs)
    for (src, tgt), idx in groups.items():
        texts = chat.translate(
            [pairs[i].source for i in idx], src_lang=src, tgt_lang=tgt, template=template, max_new_tokens=max_new_tokens
        )
        for i, t in zip(idx, texts, strict=True):
            out[i] = extract_translation(t)
    return out


class _Units:
    """Counts finished evaluation units across both models and reports them."""

    def __init__(self, run: RunContext, total: int) -> None:
        self.run, self.total, self.finished = run, total, set[tuple[str, str]]()

    def done(self, label: str, unit: str) -> None:
        self.finished.add((label, unit))
        done = min(len(self.finished), self.total - 1)  # the last unit is reported when evaluation ends
        self.run.emit(
            Counted("evaluating", f"{label} model: {unit} done", done, self.total, {"eval_done": done, "eval_total": self.total})
        )

    def all_done(self) -> None:
        self.run.emit(
            Counted("evaluating", "Evaluation done", self.total, self.total, {"eval_done": self.total, "eval_total": self.total})
        )


def _score_model(
    label: str,
    chat: Any,
    pairs: Sequence[Pair],
    template: str,
    ev: EvalSettings,
    gpus: int,
    units: _Units,
    run: RunContext,
    reference_answers: Any = None,
) -> ModelScores:
    from radis_core.evaluation.probe_runs import run_benchmarks
    from radis_core.evaluation.translation import comet_scores
    from radis_core.evaluation.translation_compare import score_translations

    run.emit(Note("evaluating", f"Evaluating the {label} model"))
    hyps = translate_pairs(chat, pairs, template, ev.max_new_tokens)
    units.done(label, "translation")
    references, sources = [p.target for p in pairs], [p.source for p in pairs]
    scores = score_translations(pairs, hyps)
    comet = comet_scores(sources, hyps, references, ev.comet_model, python=ev.comet_python, batch_size=ev.batch_size, gpus=gpus)
    scores["samples"] = [
        {"source": s, "reference": r, "hypothesis": h} for s, r, h in list(zip(sources, references, hyps, strict=True))[:5]
    ]
    run.check_cancel()
    probes = None
    if ev.retention:

        def progress(bench: str, done: int, total: int) -> None:
            run.check_cancel()  # raising here stops the probe run between batches
            if done >= total:
                units.done(label, bench)

        probes = run_benchmarks(
            chat,
            max_items=ev.max_probe_items,
            max_new_tokens=ev.probe_max_new_tokens,
            probe_dir=ev.probe_dir,
            reference_answers=reference_answers,
            batch_size=ev.batch_size,
            on_progress=progress,
        )
    run.check_cancel()
    return ModelScores(scores, comet, probes)


def _base_scores(
    model: Any,
    chat: Any,
    pairs: Sequence[Pair],
    template: str,
    ev: EvalSettings,
    gpus: int,
    units: _Units,
    run: RunContext,
    cache: BaseEvalCache | None,
    fingerprint: str | None,
) -> ModelScores:
    """The base model's scores: from the cache when this model, data and settings were evaluated before."""
    from radis_core.evaluation.retention import BenchmarkRun

    key = None
    if cache is not None and fingerprint:
        param = next(model.parameters())
        key = base_eval_key(
            fingerprint=fingerprint, dtype=str(param.dtype), device=param.device.type, pairs=pairs, template=template, ev=ev
        )
        hit = cache.get(key)
        if hit is not None:
            run.emit(
                Note("evaluating", f"Base model scores reused from an earlier job (cache key {key[:12]})", {"base_cache": "hit"})
            )
            for unit in ("translation", *(_PROBE_NAMES if ev.retention else ())):
                units.done("base", unit)
            probes = BenchmarkRun.from_dict(hit["probes"]) if hit["probes"] is not None else None
            return ModelScores(hit["translation"], hit["comet"], probes, cached=True)
    with model.disable_adapter():
        base = _score_model("base", chat, pairs, template, ev, gpus, units, run)
    if cache is not None and key is not None:
        cache.put(
            key, {"translation": base.translation, "comet": base.comet, "probes": base.probes.to_dict() if base.probes else None}
        )
    return base


def evaluate_before_after(
    model: Any,
    tokenizer: Any,
    pairs: Sequence[Pair],
    template: str,
    ev: EvalSettings,
    run: RunContext,
    *,
    cache: BaseEvalCache | None = None,
    fingerprint: str | None = None,
) -> Evaluation:
    """Score the base model (adapter disabled) and the tuned model on the same pairs and probes.

    With a ``cache`` and the model's ``fingerprint``, the base scores of an earlier job with the same
    model, pairs and settings are reused (see :mod:`radis_core.evaluation.base_cache`).
    """
    from radis_core.chat_model import HFChatModel
    from radis_core.evaluation.retention import compare

    run.emit(stage_started("evaluating"))
    chat = HFChatModel(model, tokenizer, batch_size=ev.batch_size)
    gpus = 1 if str(next(model.parameters()).device).startswith("cuda") else 0
    units = _Units(run, 2 * (1 + (_PROBE_UNITS if ev.retention else 0)))
    base = _base_scores(model, chat, pairs, template, ev, gpus, units, run, cache, fingerprint)
    tuned = _score_model(
        "tuned",
        chat,
        pairs,
        template,
        ev,
        gpus,
        units,
        run,
        reference_answers=base.probes.general_answers if base.probes else None,
    )
    retention = compare(base.probes, tuned.probes, ev.min_retention) if base.probes and tuned.probes else None
    units.all_done()
    return Evaluation(base, tuned, retention)
