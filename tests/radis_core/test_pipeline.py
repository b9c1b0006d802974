import json

import pytest

from radis_core.config import JobSpec
from radis_core.corpus import write_jsonl
from radis_core.evaluation.translation import translation_scores
from radis_core.events import JobCancelled
from radis_core.pipeline import CorpusRejected, run_job
from radis_core.settings import METHOD_SETTINGS, EvalSettings, Hyperparameters, RationaleSettings, RewriteSettings

from .conftest import make_pairs


def _spec(tmp_path, tiny_model_dir, method="radis", evaluation=None, sections=None, **kw):
    train = tmp_path / "train.jsonl"
    if not train.exists():
        write_jsonl(make_pairs(16), train)
    chosen = {
        "hyperparameters": Hyperparameters(batch_size=4, n_epochs=1, lora_rank=4, max_seq_len=192, checkpoint_every=2),
        "evaluation": evaluation or EvalSettings(max_new_tokens=12, max_probe_items=3, holdout_fraction=0.25),
    }
    if method == "radis":
        # The tiny model's random weights never finish a rationale: keep the pipeline going past the guard here
        # (test_too_few_rationales_fail_before_training checks the guard itself).
        chosen["rationale"] = RationaleSettings(max_new_tokens=24, batch_size=8, min_rationale_share=0.0)
    chosen.update(sections or {})
    fields = dict(
        model=str(tiny_model_dir),
        train_file=train,
        output_dir=tmp_path / f"out-{method}",
        settings=METHOD_SETTINGS[method](**chosen),
        seed=3,
        cache_dir=tmp_path / "cache",
        device="cpu",
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
    assert evaluating[-1].done == evaluating[-1].total == 14
    assert {"adapter_config.json", "adapter_model.safetensors", "meta.json"} <= {p.name for p in res.adapter_dir.iterdir()}
    meta = json.loads((res.adapter_dir / "meta.json").read_text())
    assert meta["method"] == "radis" and meta["hyperparameters"]["batch_size"] == 4 and len(meta["data"]["train_sha256"]) == 64
    # A local folder has no public id: the config keeps its path, and the card says so; its metrics are the report's.
    config = json.loads((res.adapter_dir / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == meta["base_model_path"] == str(tiny_model_dir) and meta["base_model_id"] is None
    card = (res.adapter_dir / "README.md").read_text()
    assert "More Information Needed" not in card and "a local folder without a public model id" in card
    bleu = res.report["translation"]["bleu"]
    assert f"| BLEU | {bleu['base']:.2f} | {bleu['tuned']:.2f} | {bleu['delta']:+.2f} | [{bleu['interval']['low']:+.2f}," in card
    assert "| ifeval |" in card and "Held out for evaluation**: 4 pairs" in card
    report = json.loads(res.report_path.read_text())
    assert report == res.report
    text = json.dumps(report)
    for key in ("bleu", "chrf", "ifeval", "math", "safety", "drift"):
        assert key in text
    assert (res.report_path.parent / "report.md").read_text().strip()
    # Each model's BLEU and chrF++ are the scores of the translations the report shows (all 4 held-out pairs).
    translation = report["translation"]
    samples = translation["samples"]
    assert len(samples) == translation["n"] == 4
    for side in ("base", "tuned"):
        again = translation_scores([s[side] for s in samples], [s["reference"] for s in samples], target_lang="en")
        assert (translation["bleu"][side], translation["chrf"][side]) == (again["bleu"], again["chrf"])
    lines = (res.report_path.parent / "rationales.jsonl").read_text().splitlines()
    assert len(lines) == 12  # 16 pairs minus the 25 % holdout
    rat = report["rationales"]
    assert rat["generated"] == 12 and rat["from_cache"] == 0
    # Every rationale is accounted for: finished or cut by the budget; cut ones trimmed or rejected.
    assert rat["finished"] + rat["cut_by_budget"] == 12
    assert rat["kept"] + sum(rat["rejected"].values()) == 12
    rows = [json.loads(line) for line in lines]
    assert all(r["finish_reason"] in ("end_of_turn", "stop", "length") for r in rows)
    assert all(r["kept"] is False for r in rows if r["finish_reason"] == "length" and not r["trimmed"])
    assert (
        meta["settings"]["rationale"]["prompt"] == "explain" and report["meta"]["settings"]["rationale"]["max_new_tokens"] == 24
    )
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


def test_a_bf16_job_keeps_lora_in_fp32_records_its_dtype_and_shares_no_cache_with_fp32(tmp_path, tiny_model_dir):
    from safetensors.torch import load_file

    def hp(dtype):
        return Hyperparameters(batch_size=4, n_epochs=1, lora_rank=4, max_seq_len=192, dtype=dtype)

    quick = EvalSettings(retention=False, max_new_tokens=8, holdout_fraction=0.25)  # translation alone keys the base cache
    events = []
    bf16 = run_job(
        _spec(tmp_path, tiny_model_dir, evaluation=quick, sections={"hyperparameters": hp("bfloat16")}), on_event=events.append
    )
    loaded = next(e for e in events if e.stage == "loading_model" and "dtype" in (e.data or {}))
    assert loaded.data["dtype"] == "bfloat16" and "bfloat16" in loaded.message
    meta = json.loads((bf16.adapter_dir / "meta.json").read_text())
    assert (meta["hyperparameters"]["dtype"], meta["hyperparameters"]["dtype_reason"]) == ("bfloat16", "asked for bfloat16")
    assert bf16.report["meta"]["dtype"] == "bfloat16" and bf16.report["training"]["hyperparameters"]["dtype"] == "bfloat16"
    assert {str(t.dtype) for t in load_file(bf16.adapter_dir / "adapter_model.safetensors").values()} == {"torch.float32"}
    assert all(isinstance(loss, float) and loss == loss for loss in bf16.report["training"]["losses"])  # finite, not NaN

    # The same job in fp32 on the same cache: neither the rationales nor the base evaluation of the bf16 job fit.
    fp32 = run_job(
        _spec(
            tmp_path, tiny_model_dir, evaluation=quick, sections={"hyperparameters": hp("float32")}, output_dir=tmp_path / "fp32"
        )
    )
    assert fp32.report["meta"]["dtype"] == "float32"
    assert fp32.report["rationales"]["from_cache"] == 0 and fp32.report["meta"]["base_evaluation"] == "computed"


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
            evaluation=EvalSettings(retention=False, max_new_tokens=4, holdout_fraction=0.25),
        )
    )
    assert json.loads((res.adapter_dir / "meta.json").read_text())["translation_template"] == custom
    with pytest.raises(ValueError, match=r"\{domain\}"):
        run_job(_spec(tmp_path, "/nonexistent-model-is-never-loaded", translation_template="{domain}: {source}"))


def test_too_few_rationales_fail_before_training(tmp_path, tiny_model_dir):
    """The tiny model's rationales are cut or degenerate: with the default guard the job stops before step 1."""
    from radis_core.events import StepDone, TrainingStarted
    from radis_core.targets_step import TooFewRationales

    events = []
    spec = _spec(tmp_path, tiny_model_dir, sections={"rationale": RationaleSettings(max_new_tokens=24, batch_size=8)})
    with pytest.raises(TooFewRationales, match=r"min_rationale_share = 50%") as caught:
        run_job(spec, on_event=events.append)
    assert caught.value.kept_share < 0.5
    assert not any(isinstance(e, (TrainingStarted, StepDone)) for e in events)
    assert not (tmp_path / "out-radis" / "work" / "checkpoints").exists()


@pytest.mark.parametrize("method", ["sdft", "seqkd"])
def test_teacher_methods_train_on_what_the_teacher_wrote_or_fall_back(tmp_path, tiny_model_dir, method):
    sections = {"rewrite": RewriteSettings(max_new_tokens=16, min_chrf=0.0)} if method == "sdft" else {}
    res = run_job(
        _spec(
            tmp_path,
            tiny_model_dir,
            method=method,
            evaluation=EvalSettings(retention=False, max_new_tokens=4, holdout_fraction=0.25),
            sections=sections,
        )
    )
    stats = res.report["rationales"]
    assert stats["method"] == method and stats["pairs"] == 12
    assert stats["kept"] + sum(stats["fell_back_to_reference"].values()) == 12
    name = {"sdft": "rewrites.jsonl", "seqkd": "teacher_translations.jsonl"}[method]
    rows = [json.loads(line) for line in (res.report_path.parent / name).read_text().splitlines()]
    assert len(rows) == 12 and res.samples_path is not None and res.samples_path.name == name
    # Cut by the budget, a teacher text never becomes a target.
    assert all(not r["kept"] and r["reason"] == "unfinished" for r in rows if r["finish_reason"] == "length")
    # A second job on the same data generates nothing.
    again = run_job(
        _spec(
            tmp_path,
            tiny_model_dir,
            method=method,
            evaluation=EvalSettings(retention=False, max_new_tokens=4, holdout_fraction=0.25),
            sections=sections,
            output_dir=tmp_path / "again",
        )
    )
    assert again.report["rationales"]["generated"] == 0 and again.report["rationales"]["from_cache"] == 12


def test_a_merged_model_asked_for_is_exported_and_the_meta_names_the_separator(tmp_path, tiny_model_dir):
    from radis_core.config import SEPARATOR

    spec = _spec(
        tmp_path,
        tiny_model_dir,
        method="supervised",
        evaluation=EvalSettings(retention=False, max_new_tokens=4),
        export_merged=True,
    )
    res = run_job(spec)
    assert res.merged_dir is not None and (res.merged_dir / "config.json").is_file()
    assert json.loads((res.adapter_dir / "meta.json").read_text())["separator"] == SEPARATOR
