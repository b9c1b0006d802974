"""The adapter's ``README.md``: a model card written from ``meta.json``, the job's report and the LoRA config.

It replaces PEFT's blank template. It names the base model by its public id (a local path only when the
base was a local folder without one), says what the weights trained on were (a dequantised GGUF), and
gives the method, the data, the metrics with their intervals, the prompt, the licence, and how to load
the adapter with peft and serve it with vLLM. Pure: strings in, a string out.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from radis_core import languages

_METHODS = {
    "radis": (
        "RaDis (arXiv 2410.13944): each training target is the reference translation, a blank line, then a rationale "
        "the base model wrote about that translation, so the model keeps rehearsing its own general-purpose text "
        "while it learns the translations. The tuned model answers with the translation, a blank line, then an "
        "explanation: keep the text before the first blank line (or stop generation at it)."
    ),
    "supervised": "Supervised fine-tuning: each training target is the reference translation.",
    "sdft": (
        "Self-distillation fine-tuning (SDFT): the base model rewrote each reference in its own words; the adapter "
        "trained on the rewrite, or on the reference where the rewrite strayed from it (chrF++) or was cut."
    ),
    "seqkd": (
        "Sequence-level knowledge distillation (SeqKD): the adapter trained on the teacher's greedy translation, or "
        "on the reference where the teacher's was cut or empty."
    ),
}
_TEACHER_TEXTS = {"radis": "Rationales", "sdft": "Teacher rewrites", "seqkd": "Teacher translations"}
_EXAMPLE_SOURCE = {"de": "Ich habe einen Hund.", "en": "I have a dog.", "fr": "J'ai un chien.", "es": "Tengo un perro."}


def render_model_card(meta: dict[str, Any], report: dict[str, Any] | None, lora: dict[str, Any]) -> str:
    """The card for an adapter: ``meta`` is its ``meta.json`` (less the file hashes), ``report`` the job's
    report (None: exported without an evaluation), ``lora`` its ``adapter_config.json``."""
    base_id = meta.get("base_model_id")
    base_name = str(
        base_id or Path(str(meta.get("base_model") or lora.get("base_model_name_or_path") or "")).name or "a local model"
    )
    method = str(meta.get("method") or "supervised")
    directions = list((meta.get("language_pairs") or {}).keys())
    lines = _front_matter(base_id, meta.get("base_model_license"), directions)
    title_dirs = ", ".join(_direction_name(d) for d in directions)
    lines += [f"# LoRA adapter for {base_name}{f': {title_dirs} translation' if title_dirs else ''}", ""]
    lines += [
        f"A LoRA adapter trained by the RaDis fine-tuning service with the `{method}` method. "
        "`meta.json` beside this card holds every setting, the data hashes and the file hashes.",
        "",
    ]
    lines += _base_section(meta, lora)
    lines += ["## Method", "", _METHODS.get(method, f"Method `{method}`."), ""]
    lines += _lora_section(meta, lora)
    lines += _data_section(meta, report, method)
    lines += _metrics_section(report)
    prompt = _example_prompt(meta)
    lines += _prompt_section(meta, method, prompt)
    lines += _usage_section(base_id, lora, method, prompt)
    lines += _licence_section(meta)
    lines += _reproducibility_section(meta)
    return "\n".join(lines).rstrip() + "\n"


def _front_matter(base_id: Any, license: Any, directions: list[str]) -> list[str]:
    codes = sorted({code for d in directions for code in d.split("-", 1)})
    lines = ["---"]
    if base_id:
        lines.append(f"base_model: {json.dumps(base_id)}")
    lines.append("library_name: peft")
    if license:
        lines.append(f"license: {json.dumps(str(license).lower())}")
    if codes:
        lines.append(f"language: {json.dumps(codes)}")
    lines += ["pipeline_tag: text-generation", 'tags: ["lora", "peft", "translation", "radis-service"]', "---", ""]
    return lines


def _direction_name(direction: str) -> str:
    src, _, tgt = direction.partition("-")
    return f"{languages.name(src)}→{languages.name(tgt)}" if tgt else direction


def _base_section(meta: dict[str, Any], lora: dict[str, Any]) -> list[str]:
    lines = ["## Base model", ""]
    base_id = meta.get("base_model_id")
    if base_id:
        lines.append(f"- **Model id**: `{base_id}` (`base_model_name_or_path` in `adapter_config.json`)")
    else:
        lines.append(
            f"- **Model**: a local folder without a public model id; `adapter_config.json` keeps the path it was "
            f"trained from (`{lora.get('base_model_name_or_path')}`). Load that model yourself and pass it to peft."
        )
    if meta.get("base_model") not in (None, base_id, lora.get("base_model_name_or_path")):
        lines.append(f"- **Requested as**: `{meta['base_model']}`")
    lines.append(f"- **Licence**: {meta.get('base_model_license') or 'not recorded (the base was not a catalogue model)'}")
    provenance = meta.get("base_model_provenance")
    lines.append(
        f"- **Provenance**: {provenance}. The adapter was trained and evaluated on these weights, not on the "
        "original checkpoint; applied to the original, its outputs may differ slightly from those measured below."
        if provenance
        else "- **Provenance**: trained on the base model's weights as loaded (no conversion)."
    )
    if meta.get("base_model_fingerprint"):
        lines.append(f"- **Fingerprint** (sha256 of the config and weight files): `{meta['base_model_fingerprint']}`")
    return lines + [""]


def _lora_section(meta: dict[str, Any], lora: dict[str, Any]) -> list[str]:
    hp = meta.get("hyperparameters") or {}
    modules = lora.get("target_modules")
    if isinstance(modules, list):  # peft may list every layer's module: name the kinds
        modules = ", ".join(sorted({str(m).rsplit(".", 1)[-1] for m in modules}))
    rows = {
        "LoRA rank / alpha / dropout": f"{lora.get('r')} / {lora.get('lora_alpha')} / {lora.get('lora_dropout')}",
        "target modules": modules,
    }
    if hp:
        rows.update(
            {
                "epochs / steps": f"{hp.get('n_epochs')} / {hp.get('max_steps')}",
                "batch size × gradient accumulation": f"{hp.get('batch_size')} × {hp.get('gradient_accumulation_steps')}",
                "peak learning rate / schedule": f"{hp.get('learning_rate')} / {hp.get('lr_scheduler')}",
                "max sequence length": hp.get("max_seq_len"),
            }
        )
    return ["## Training", "", *_table(["", ""], [[k, v] for k, v in rows.items() if v is not None]), ""]


def _data_section(meta: dict[str, Any], report: dict[str, Any] | None, method: str) -> list[str]:
    lines = ["## Data", ""]
    pairs = meta.get("language_pairs") or {}
    for direction, n in pairs.items():
        lines.append(f"- **{_direction_name(direction)}**: {n} training pairs")
    report_meta = (report or {}).get("meta") or {}
    if "eval_pairs" in report_meta:
        lines.append(f"- **Held out for evaluation**: {report_meta['eval_pairs']} pairs")
    data = meta.get("data") or {}
    if data.get("train_sha256"):
        lines.append(f"- **Training file sha256**: `{data['train_sha256']}`")
    training = (report or {}).get("training") or {}
    examples = training.get("examples") or {}
    if examples:
        lines.append(
            f"- **Examples trained on**: {examples.get('examples')} "
            f"({examples.get('dropped_too_long', 0)} dropped as longer than the maximum sequence length)"
        )
    if training.get("steps") is not None:
        lines.append(
            f"- **Optimiser steps**: {training['steps']}, {training.get('trained_tokens')} loss-bearing tokens, "
            f"loss {_num(training.get('first_loss'))} → {_num(training.get('final_loss'))}"
        )
    teacher = (report or {}).get("rationales") or {}
    if method in _TEACHER_TEXTS and "kept" in teacher:
        lines.append(f"- **{_TEACHER_TEXTS[method]}**: {_teacher_counts(teacher)}")
    if not report:
        lines.append("- Exported without a job report: no data statistics beyond the above.")
    return lines + [""]


def _teacher_counts(stats: dict[str, Any]) -> str:
    parts = [f"{stats['kept']} of {stats.get('pairs')} pairs kept the teacher's text"]
    parts += [f"{k.replace('_', ' ')} {stats[k]}" for k in ("finished", "cut_by_budget", "trimmed_to_sentence") if k in stats]
    rejected = {k: v for k, v in (stats.get("rejected") or {}).items() if v}
    if rejected:
        parts.append("rejected: " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in rejected.items()))
    return "; ".join(parts)


def _metrics_section(report: dict[str, Any] | None) -> list[str]:
    lines = ["## Evaluation", ""]
    if not report:
        return lines + ["Not evaluated: this adapter was exported without a job report.", ""]
    tr = report.get("translation") or {}
    lines += [
        f"Translation on {tr.get('n')} held-out pairs, base model vs. base + adapter. Each Δ has its 95 % "
        "paired-bootstrap interval over the held-out items; an interval containing 0 means the data do not tell "
        "the two apart.",
        "",
    ]
    rows = [[label, *_compare_row(tr.get(key) or {}, 2)] for key, label in (("bleu", "BLEU"), ("chrf", "chrF++"))]
    comet = tr.get("comet") or {}
    if comet.get("available"):
        row = {"base": comet["base"].get("score"), "tuned": comet["tuned"].get("score"), **comet}
        rows.append(["COMET", *_compare_row(row, 4)])
    lines += _table(["Metric", "Base", "Tuned", "Δ", "95 % interval of Δ", "Reading"], rows) + [""]
    retention = report.get("retention") or {}
    if "benchmarks" not in retention:
        return lines + [f"General-ability retention: not run ({retention.get('reason', 'no reason given')}).", ""]
    lines += ["General-ability retention (the same probes, base vs. base + adapter):", ""]
    rows = [
        [name, row.get("metric"), row.get("n"), *_compare_row(row, 3), _num(row.get("retention"), 3)]
        for name, row in retention["benchmarks"].items()
    ]
    header = ["Benchmark", "Metric", "N", "Base", "Tuned", "Δ", "95 % interval of Δ", "Reading", "Retention"]
    lines += _table(header, rows) + [""]
    overall = retention.get("overall") or {}
    lines.append(f"Overall retention: {_num(overall.get('retention'), 3)} ({overall.get('formula', '')}).")
    return lines + [""]


def _compare_row(row: dict[str, Any], digits: int) -> list[str]:
    iv = row.get("interval")
    delta = row.get("delta", iv.get("delta") if isinstance(iv, dict) else None)
    cells = [_num(row.get("base"), digits), _num(row.get("tuned"), digits), _num(delta, digits, signed=True)]
    if isinstance(iv, dict):
        return [
            *cells,
            f"[{_num(iv.get('low'), digits, signed=True)}, {_num(iv.get('high'), digits, signed=True)}]",
            str(iv.get("verdict")),
        ]
    return [*cells, "not computed", "not computed"]


def _prompt_section(meta: dict[str, Any], method: str, prompt: str) -> list[str]:
    template = str(meta.get("translation_template") or "{source}")
    lines = [
        "## Prompt",
        "",
        "One user turn in the base model's chat template, filled from this template "
        "(`{source}`, `{src_lang}`/`{tgt_lang}` codes, `{src_lang_name}`/`{tgt_lang_name}` names):",
        "",
        "```text",
        template,
        "```",
        "",
        "For example:",
        "",
        "```text",
        prompt,
        "```",
        "",
    ]
    if method == "radis":
        lines += ["The reply is the translation, a blank line, then a rationale: stop at the first blank line.", ""]
    return lines


def _example_prompt(meta: dict[str, Any]) -> str:
    from radis_core.prompts import fill_template

    direction = next(iter(meta.get("language_pairs") or {"de-en": 0}))
    src, _, tgt = direction.partition("-")
    source = _EXAMPLE_SOURCE.get(src, "…")
    return fill_template(str(meta.get("translation_template") or "{source}"), source=source, src_lang=src, tgt_lang=tgt or src)


def _usage_section(base_id: Any, lora: dict[str, Any], method: str, prompt: str) -> list[str]:
    base = str(base_id or lora.get("base_model_name_or_path"))
    rank = int(lora.get("r") or 8)
    max_rank = 1 << max(3, math.ceil(math.log2(rank)))  # vLLM takes powers of two from 8
    stop = ', stop=["\\n\\n"]' if method == "radis" else ""
    lines = ["## Use", "", "With peft (this folder is the adapter):", "", "```python"]
    if base_id:
        lines += [
            "from peft import AutoPeftModelForCausalLM",
            "from transformers import AutoTokenizer",
            "",
            'model = AutoPeftModelForCausalLM.from_pretrained("./adapter")  # fetches the base model by its id',
        ]
    else:
        lines += [
            "from peft import PeftModel",
            "from transformers import AutoModelForCausalLM, AutoTokenizer",
            "",
            f'model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained({json.dumps(base)}), "./adapter")',
        ]
    lines += [
        f"tokenizer = AutoTokenizer.from_pretrained({json.dumps(base)})",
        f"prompt = {json.dumps(prompt, ensure_ascii=False)}",
        'messages = [{"role": "user", "content": prompt}]',
        'inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)',
        "out = model.generate(**inputs, max_new_tokens=256)",
        'print(tokenizer.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True))',
        "```",
        "",
    ]
    if base_id:
        lines += [
            f"Offline, with `HF_HUB_OFFLINE=1`, this works once `{base_id}` is in the Hugging Face cache; or load "
            'the base from a local folder and call `PeftModel.from_pretrained(base, "./adapter")`.',
            "",
        ]
    lines += [
        "With vLLM (OpenAI-compatible server; the adapter is served under the name `translation`):",
        "",
        "```bash",
        f"vllm serve {base} --enable-lora --max-lora-rank {max_rank} --lora-modules translation=./adapter",
        "```",
        "",
        "```python",
        "from openai import OpenAI",
        "",
        'client = OpenAI(base_url="http://localhost:8000/v1", api_key="unused")',
        f"prompt = {json.dumps(prompt, ensure_ascii=False)}",
        f'reply = client.chat.completions.create(model="translation", messages=[{{"role": "user", "content": prompt}}]{stop})',
        "```",
        "",
    ]
    return lines


def _licence_section(meta: dict[str, Any]) -> list[str]:
    licence = meta.get("base_model_license")
    text = (
        f"The adapter is derived from the base model and is distributed under its licence, {licence}."
        if licence
        else "The adapter is derived from the base model, whose licence applies; it was a local folder, so the "
        "service did not record that licence."
    )
    return ["## Licence", "", text + " The training data's terms are those of whoever supplied it.", ""]


def _reproducibility_section(meta: dict[str, Any]) -> list[str]:
    versions = meta.get("library_versions") or {}
    lines = ["## Reproducibility", ""]
    if versions:
        lines.append("Libraries: " + ", ".join(f"{k} {v}" for k, v in versions.items()) + ".")
    seed = f"Seed {meta['seed']}; e" if meta.get("seed") is not None else "E"
    lines.append(f"{seed}very setting of the run is in `meta.json`.")
    return lines + [""]


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return out + ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _num(value: Any, digits: int = 4, signed: bool = False) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "n/a" if value is None or value == "n/a" else str(value)
    if isinstance(value, int):
        return f"{value:+d}" if signed else str(value)
    if not math.isfinite(value):
        return "n/a"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"
