import json

import pytest

from radis_core.config import JobSpec
from radis_core.corpus import write_jsonl
from radis_core.events import JobCancelled
from radis_core.pipeline import CorpusRejected, run_job
from radis_core.settings import EvalSettings, Hyperparameters, RationaleSettings

from .conftest import make_pairs


def _spec(tmp_path, tiny_model_dir, method="radis", **kw):
    train = tmp_path / "train.jsonl"
    if not train.exists():
        write_jsonl(make_pairs(16), train)
    fields = dict(
        model=str(tiny_model_dir),
        train_file=train,
        output_dir=tmp_path / f"out-{method}",
        method=method,
        seed=3,
        cache_dir=tmp_path / "cache",
        device="cpu",
        hyperparameters=Hyperparameters(batch_size=4, n_epochs=1, lora_rank=4, max_seq_len=192, checkpoint_every=2),
        rationale=RationaleSettings(max_new_tokens=24, batch_size=8),
        evaluation=EvalSettings(max_new_tokens=12, max_probe_items=3, holdout_fraction=0.25),
    )
    return JobSpec(**{**fields, **kw})


def test_radis_job_end_to_end_on_tiny_model(tmp_path, tiny_model_dir):
    events = []
    res = run_job(_spec(tmp_path, tiny_model_dir), on_event=events.append)
    stages = [e.stage for e in events]
    for a, b in [("generating_rationales", "training"), ("training", "evaluating"), ("evaluating", "exporting")]:
        assert stages.index(a) < stages.index(b)
    evaluating = [e for e in events if e.stage == "evaluating" and e.total]
    assert [e.done for e in evaluating] == sorted(e.done for e in evaluating)  # progress only moves forward
    assert evaluating[-1].done == evaluating[-1].total == 12
    assert {"adapter_config.json", "adapter_model.safetensors", "meta.json"} <= {p.name for p in res.adapter_dir.iterdir()}
    meta = json.loads((res.adapter_dir / "meta.json").read_text())
    assert meta["method"] == "radis" and meta["hyperparameters"]["batch_size"] == 4 and len(meta["data"]["train_sha256"]) == 64
    report = json.loads(res.report_path.read_text())
    assert report == res.report
    text = json.dumps(report)
    for key in ("bleu", "chrf", "ifeval", "math", "safety", "drift"):
        assert key in text
    assert (res.report_path.parent / "report.md").read_text().strip()
    lines = (res.report_path.parent / "rationales.jsonl").read_text().splitlines()
    assert len(lines) == 12  # 16 pairs minus the 25 % holdout
    rat = report["rationales"]
    assert rat["generated"] == 12 and rat["from_cache"] == 0
    assert res.steps == 3 and res.trained_tokens > 0

    # Same data, same model: every rationale comes from the cache.
    res2 = run_job(
        _spec(
            tmp_path,
            tiny_model_dir,
        ),
        on_event=lambda e: None,
    )
    rat2 = res2.report["rationales"]
    assert rat2["generated"] == 0 and rat2["from_cache"] == 12


def test_supervised_job_generates_no_rationales(tmp_path, tiny_model_dir):
    events = []
    res = run_job(
        _spec(tmp_path, tiny_model_dir, method="supervised", evaluation=EvalSettings(retention=False, max_new_tokens=8)),
        on_event=events.append,
    )
    assert "generating_rationales" not in {e.stage for e in events}
    assert not (res.report_path.parent / "rationales.jsonl").exists()


def test_cancel_stops_the_job(tmp_path, tiny_model_dir):
    calls = {"n": 0}

    def cancel_after_a_few_checks() -> bool:
        calls["n"] += 1
        return calls["n"] > 3

    with pytest.raises(JobCancelled):
        run_job(_spec(tmp_path, tiny_model_dir), should_cancel=cancel_after_a_few_checks)
    assert not (tmp_path / "out-radis" / "adapter").exists()


def test_bad_training_file_is_rejected_with_its_line(tmp_path, tiny_model_dir):
    spec = _spec(tmp_path, tiny_model_dir)
    spec.train_file.write_text('{"source": "a", "target": "b", "src_lang": "de", "tgt_lang": "en"}\n{not json\n')
    with pytest.raises(CorpusRejected, match="line"):
        run_job(spec)


def test_translation_template_is_a_job_setting_and_bad_placeholders_fail_before_loading(tmp_path, tiny_model_dir):
    custom = "{src_lang_name} → {tgt_lang_name}:\n{source}"
    res = run_job(
        _spec(
            tmp_path,
            tiny_model_dir,
            method="supervised",
            translation_template=custom,
            evaluation=EvalSettings(retention=False, max_new_tokens=4),
        )
    )
    assert json.loads((res.adapter_dir / "meta.json").read_text())["translation_template"] == custom
    with pytest.raises(ValueError, match=r"\{domain\}"):
        run_job(_spec(tmp_path, "/nonexistent-model-is-never-loaded", translation_template="{domain}: {source}"))
