"""Issue 17: the same job in fp32 and in the dtype ``auto`` picks here, side by side, on this machine.

One process, one after the other (fp32 first), so a shared machine's load weighs on both alike:

* the job of ``radis-core run`` on the demo corpus (Django's en→de translations, ``--pairs`` training pairs,
  ``--eval-pairs`` held out) in each dtype, each with a fresh cache (nothing generated is reused): rationale
  generation tokens/s, training tokens/s, evaluation wall time and the job end to end, from each job's report;
* the two jobs' translation and retention metrics compared item by item with the paired-bootstrap
  intervals of ``radis-core compare`` (:mod:`radis_core.comparison`; reference: the fp32 job);
* how often bf16 batched greedy decoding gives the text of one-at-a-time greedy decoding (fp32 beside it,
  where the two must agree: tests assert it);
* the CPU model, its bf16 flags, and what ``auto`` resolved to and why.

When ``auto`` resolves to fp32 here, bf16 is also run, forced. Results go to ``--out`` (each job's folder,
``comparison.md``/``.json``, ``dtype.json``); the headline is the last line.

    .venv/bin/python bench/dtype.py                                   # SmolLM2-135M-Instruct, 24 pairs
    .venv/bin/python bench/dtype.py --model tiny --pairs 8 --eval-pairs 4 --probe-items 2 --min-rationale-share 0  # seconds
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import SMOLLM, machine, report

from radis_core.dtype import read_cpu_flags, resolve_dtype

#: The CPU flags that say something about bf16 (recorded with the figures).
BF16_FLAGS = ("amx_bf16", "amx_tile", "avx512_bf16", "avx512f", "avx2", "bf16")


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (what ``lscpu`` prints as Model name)."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                return value.strip()
    except OSError:
        pass
    return "unknown"


def model_folder(reference: str) -> str:
    """A local folder for ``reference`` (a catalogue model is resolved once here, so the jobs' fresh caches need no copy)."""
    from radis_core.models import resolve_model
    from radis_core.tiny import build_tiny_model

    if reference == "tiny":
        return str(build_tiny_model(Path(tempfile.gettempdir()) / "radis-bench-tiny"))
    return str(resolve_model(reference).path)


def run_one_job(model: str, dtype: str, train: Path, valid: Path, out: Path, args: argparse.Namespace) -> dict[str, Any]:
    """The demo job (radis) in ``dtype`` with a fresh cache; its report, with the wall time around it."""
    from radis_core.config import JobSpec
    from radis_core.pipeline import run_job
    from radis_core.settings import method_settings

    sections = {
        "hyperparameters": {"dtype": dtype, "n_epochs": 1, "max_seq_len": 320},
        "rationale": {"max_new_tokens": args.max_new_tokens, "min_rationale_share": args.min_rationale_share},
        "evaluation": {
            "max_new_tokens": 64,
            "max_probe_items": args.probe_items,
            "probe_max_new_tokens": 64,
            "retention": not args.no_retention,
        },
    }
    spec = JobSpec(
        model=model,
        train_file=train,
        valid_file=valid,
        settings=method_settings("radis", sections),
        output_dir=out / f"job-{dtype}",
        cache_dir=out / f"cache-{dtype}",
        seed=42,
        device="cpu",
    )
    started = time.perf_counter()
    result = run_job(spec)
    report_ = dict(result.report)
    report_["bench_wall_seconds"] = time.perf_counter() - started
    return report_


def job_figures(r: dict[str, Any]) -> dict[str, Any]:
    """The side-by-side figures of one job's report."""
    timings, rat, training = r["timings"], r["rationales"], r["training"]
    return {
        "dtype": r["meta"]["dtype"],
        "dtype_reason": r["meta"]["dtype_reason"],
        "rationale_tokens_per_s": rat.get("tokens_per_second"),
        "rationale_new_tokens": rat.get("new_tokens"),
        "rationale_seconds": round(timings.get("rationale_seconds", 0.0), 1),
        "training_tokens_per_s": training.get("tokens_per_second"),
        "train_seconds": round(timings.get("train_seconds", 0.0), 1),
        "eval_seconds": round(timings.get("eval_seconds", 0.0), 1),
        "job_seconds": round(r["bench_wall_seconds"], 1),
        "final_loss": training.get("final_loss"),
        "bleu": r["translation"]["bleu"]["tuned"],
        "chrf": r["translation"]["chrf"]["tuned"],
        "rationales_kept": rat.get("kept"),
    }


def greedy_agreement(model_dir: str, dtype: str, n: int, max_new_tokens: int) -> dict[str, Any]:
    """How many of ``n`` rationale prompts get the same greedy text batched (batch n) as one at a time (batch 1)."""
    from _common import demo_pairs

    from radis_core.generation import generate
    from radis_core.models import load_model, resolve_model
    from radis_core.prompts import ChatFormat, rationale_prompt
    from radis_core.rationales import decode_settings
    from radis_core.settings import RationaleSettings

    model, tok = load_model(resolve_model(model_dir), device="cpu", dtype=dtype)
    fmt = ChatFormat.for_tokenizer(tok)
    rs = RationaleSettings(max_new_tokens=max_new_tokens, batch_size=n)
    settings = decode_settings(rs, seed=0)
    prompts = [
        rationale_prompt(fmt, rs.template, source=p.source, reference=p.target, src_lang=p.src_lang, tgt_lang=p.tgt_lang)
        for p in demo_pairs(n)
    ]
    batched = generate(model, tok, prompts, settings, batch_size=n, end_of_turn=fmt.end_of_turn)
    alone = generate(model, tok, prompts, settings, batch_size=1, end_of_turn=fmt.end_of_turn)
    same = [a.text == b.text for a, b in zip(batched, alone, strict=True)]
    # Where they part: the first differing token position (in characters of text, a rough guide).
    first_diff = []
    for a, b in zip(batched, alone, strict=True):
        if a.text != b.text:
            first_diff.append(next((i for i, (x, y) in enumerate(zip(a.text, b.text, strict=False)) if x != y), None))
    return {"dtype": dtype, "identical": sum(same), "of": len(same), "first_differing_char": first_diff}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=SMOLLM, help=f"catalogue name, HF folder, or 'tiny' (default {SMOLLM})")
    parser.add_argument("--pairs", type=int, default=24, help="training pairs of the demo corpus")
    parser.add_argument("--eval-pairs", type=int, default=20, help="held-out pairs (the same for both jobs)")
    parser.add_argument("--probe-items", type=int, default=8, help="items per retention benchmark")
    parser.add_argument("--max-new-tokens", type=int, default=128, help="rationale budget")
    parser.add_argument("--no-retention", action="store_true", help="translation only (the smoke test: seconds)")
    parser.add_argument(
        "--min-rationale-share", type=float, default=0.5, help="the job's guard (0 for the tiny model, which never finishes one)"
    )
    parser.add_argument("--agree-prompts", type=int, default=16, help="prompts of the batched vs one-at-a-time check")
    parser.add_argument("--agree-tokens", type=int, default=64, help="new tokens of the batched vs one-at-a-time check")
    parser.add_argument("--out", type=Path, default=None, help="results folder (default: a temporary one)")
    args = parser.parse_args(argv)

    from radis_core.comparison import render_comparison, write_comparison
    from radis_core.demo_data import build_demo_corpus

    out = args.out or Path(tempfile.mkdtemp(prefix="radis-bench-dtype-"))
    out.mkdir(parents=True, exist_ok=True)
    auto = resolve_dtype("auto", "cpu")
    # What the jobs ask for: fp32, and auto (it records its own reason); bf16 forced too where auto is fp32.
    dtypes = ["float32", "auto"] if auto.name != "float32" else ["float32", "auto", "bfloat16"]
    flags = read_cpu_flags()
    model = model_folder(args.model)
    train, valid = build_demo_corpus(out / "data", lang="de", n_train=args.pairs, n_valid=args.eval_pairs, seed=0)

    reports = {dtype: run_one_job(model, dtype, train, valid, out, args) for dtype in dtypes}
    figures = {dtype: job_figures(r) for dtype, r in reports.items()}
    comparison = write_comparison(out, {d: [r] for d, r in reports.items()}, reference="float32")
    # The batched vs one-at-a-time check in fp32 and in bf16 (whatever auto is here).
    agreement = [greedy_agreement(model, d, args.agree_prompts, args.agree_tokens) for d in ("float32", "bfloat16")]

    fp32, other = figures["float32"], figures[dtypes[-1]]

    def ratio(key: str, inverse: bool = False) -> float | None:
        a, b = fp32.get(key), other.get(key)
        if not a or not b:
            return None
        return round(a / b if inverse else b / a, 2)

    rows = [
        ("rationale generation tok/s", "rationale_tokens_per_s", False),
        ("training tok/s", "training_tokens_per_s", False),
        ("evaluation s", "eval_seconds", True),
        ("job end to end s", "job_seconds", True),
    ]
    label = f"auto ({auto.name})" if dtypes[-1] == "auto" else "bfloat16 (forced)"
    table = [f"| what | float32 | {label} | speed-up |", "|---|---|---|---|"]
    table += [f"| {label} | {fp32[key]} | {other[key]} | {ratio(key, inv)}x |" for label, key, inv in rows]
    details = {
        "cpu": cpu_model(),
        "bf16_flags": [f for f in BF16_FLAGS if f in flags],
        "auto": {"dtype": auto.name, "reason": auto.reason},
        "model": args.model,
        "pairs": {"train": args.pairs, "held_out": args.eval_pairs, "probe_items": args.probe_items},
        "jobs": figures,
        "greedy_batched_vs_one_at_a_time": agreement,
        "machine": machine(),
        "out": str(out),
    }
    (out / "dtype.json").write_text(json.dumps({**details, "comparison": comparison}, indent=2, default=str), encoding="utf-8")
    print("\n".join(table))
    print()
    print(render_comparison(comparison))
    other_agree = agreement[1]
    report(
        details,
        f"dtype: auto={auto.name} on {cpu_model()}; {label} vs float32: generation {ratio('rationale_tokens_per_s')}x, "
        f"training {ratio('training_tokens_per_s')}x, evaluation {ratio('eval_seconds', True)}x, "
        f"job {ratio('job_seconds', True)}x; bfloat16 batched greedy = one-at-a-time "
        f"{other_agree['identical']}/{other_agree['of']} (float32 {agreement[0]['identical']}/{agreement[0]['of']})",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
