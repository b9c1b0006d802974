"""evaluate_before_after: the base model is the model without its adapter, and every translation score is
the score of the translations the report shows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from radis_core.chat_model import HFChatModel
from radis_core.evaluation.before_after import Evaluation, evaluate_before_after, translate_pairs
from radis_core.evaluation.translation import translation_scores
from radis_core.models import load_model, resolve_model
from radis_core.run_context import RunContext
from radis_core.settings import DEFAULT_TRANSLATION_TEMPLATE, EvalSettings, Hyperparameters, resolve
from radis_core.training import attach_lora

from ..conftest import make_pairs

#: At most five samples reach the report: with five pairs the samples are the whole evaluation set.
PAIRS = make_pairs(5)
EVAL = EvalSettings(retention=False, max_new_tokens=10, batch_size=8)


def _fresh(model_dir: Path) -> tuple[Any, Any]:
    return load_model(resolve_model(str(model_dir)), device="cpu", dtype="float32")


def _lora_model(tiny_model_dir: Path, seed: int = 0) -> tuple[Any, Any]:
    """The tiny model with an adapter that changes its answers."""
    import torch

    model, tok = _fresh(tiny_model_dir)
    model = attach_lora(model, resolve(Hyperparameters(lora_rank=4), n_examples=len(PAIRS)), seed=0)
    # LoRA's B starts at zero (the adapter does nothing yet): random B stands in for a trained adapter.
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, weight in model.named_parameters():
            if "lora_B" in name:
                weight.copy_(torch.randn(weight.shape, generator=generator) * 0.5)
    return model, tok


@pytest.fixture(scope="module")
def evaluation(tiny_model_dir: Path) -> Evaluation:
    """The adapted tiny model, evaluated before and after."""
    model, tok = _lora_model(tiny_model_dir)
    return evaluate_before_after(model, tok, PAIRS, DEFAULT_TRANSLATION_TEMPLATE, EVAL, RunContext())


def test_the_base_model_is_scored_without_its_adapter(evaluation: Evaluation, tiny_model_dir: Path) -> None:
    untouched, tok = _fresh(tiny_model_dir)  # never saw an adapter
    expected = translate_pairs(
        HFChatModel(untouched, tok, batch_size=8), PAIRS, DEFAULT_TRANSLATION_TEMPLATE, EVAL.max_new_tokens
    )
    samples = evaluation.side_by_side_samples()
    assert [s["base"] for s in samples] == expected
    assert [s["tuned"] for s in samples] != expected  # the adapter does change the answers: the check above means something
    base = evaluation.base.translation
    assert base["bleu"] == translation_scores(expected, [p.target for p in PAIRS], target_lang="en")["bleu"]


@pytest.mark.parametrize("which", ["base", "tuned"])
def test_every_score_is_the_score_of_its_samples(evaluation: Evaluation, which: str) -> None:
    scores = getattr(evaluation, which).translation
    samples = scores["samples"]
    assert len(samples) == scores["n"] == len(PAIRS)
    hypotheses, references = [s["hypothesis"] for s in samples], [s["reference"] for s in samples]
    assert references == [p.target for p in PAIRS] and [s["source"] for s in samples] == [p.source for p in PAIRS]
    assert all(h != r for h, r in zip(hypotheses, references, strict=True))  # the model's text, not the reference
    again = translation_scores(hypotheses, references, target_lang="en")
    assert (scores["bleu"], scores["chrf"]) == (again["bleu"], again["chrf"])
    assert scores["bleu"] < 100.0


def test_a_second_job_reuses_the_base_evaluation_and_a_changed_setting_misses(tiny_model_dir: Path, tmp_path: Path) -> None:
    from radis_core.evaluation.base_cache import BaseEvalCache

    cache = BaseEvalCache(tmp_path / "base_evaluations")
    model, tok = _lora_model(tiny_model_dir, seed=1)
    ev = EvalSettings(retention=True, max_probe_items=2, max_new_tokens=6, batch_size=8)
    first = evaluate_before_after(
        model, tok, PAIRS, DEFAULT_TRANSLATION_TEMPLATE, ev, RunContext(), cache=cache, fingerprint="fp-1"
    )
    assert not first.base.cached and len(list(cache.folder.glob("*.json"))) == 1

    # A hit never runs the base model: disabling the adapter would be the base pass, so make it fail.
    class NoBase:
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def __getattr__(self, name: str) -> Any:
            return getattr(self.inner, name)

        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            return self.inner(*args, **kwargs)

        def disable_adapter(self) -> Any:
            raise AssertionError("the base model was evaluated again")

    second = evaluate_before_after(
        NoBase(model), tok, PAIRS, DEFAULT_TRANSLATION_TEMPLATE, ev, RunContext(), cache=cache, fingerprint="fp-1"
    )
    assert second.base.cached
    assert second.base.translation == first.base.translation
    assert second.base.probes.to_dict() == first.base.probes.to_dict()
    assert second.tuned.translation["bleu"] == first.tuned.translation["bleu"]
    assert second.retention == first.retention

    # Anything the base numbers depend on misses: a setting, the pairs, the template, the model.
    for changed in (
        dict(ev=ev.model_copy(update={"max_new_tokens": 7})),
        dict(ev=ev.model_copy(update={"max_probe_items": 3})),
        dict(pairs=PAIRS[:4]),
        dict(template=DEFAULT_TRANSLATION_TEMPLATE + " "),
        dict(fingerprint="fp-2"),
    ):
        args: dict[str, Any] = dict(ev=ev, pairs=PAIRS, template=DEFAULT_TRANSLATION_TEMPLATE, fingerprint="fp-1") | changed
        with pytest.raises(AssertionError, match="evaluated again"):
            evaluate_before_after(
                NoBase(model),
                tok,
                args["pairs"],
                args["template"],
                args["ev"],
                RunContext(),
                cache=cache,
                fingerprint=args["fingerprint"],
            )
    # min_retention only flags the tuned result: it does not invalidate the base numbers.
    flagged = ev.model_copy(update={"min_retention": 0.9})
    assert evaluate_before_after(
        NoBase(model), tok, PAIRS, DEFAULT_TRANSLATION_TEMPLATE, flagged, RunContext(), cache=cache, fingerprint="fp-1"
    ).base.cached


def test_an_unreadable_cache_entry_is_a_miss(tmp_path: Path) -> None:
    from radis_core.evaluation.base_cache import BaseEvalCache

    cache = BaseEvalCache(tmp_path)
    key = "a" * 64
    (tmp_path / f"{key}.json").write_text("{ half a file")
    assert cache.get(key) is None
    cache.put(key, {"translation": {}, "comet": {}, "probes": None})
    assert cache.get(key) == {"translation": {}, "comet": {}, "probes": None}
    with pytest.raises(ValueError, match="not a cache key"):
        cache.put("../../etc/passwd", {})
