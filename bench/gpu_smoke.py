"""Target 7 (GPU only): bf16 + SDPA LoRA training steps and batched generation on the tiny and small models.

For each model (``tiny``: the Llama built on the fly; ``small``: SmolLM2-135M-Instruct from its GGUF,
its dequantised folder, or, where neither can be had, its architecture with random weights) it
loads the model in bfloat16 with SDPA attention, then

* runs ``--steps`` LoRA steps through :func:`radis_core.training.train` (batch ``--batch`` × up to
  ``--max-seq-len`` tokens, after a 2-step warm-up) and reports trained tokens/s;
* decodes ``--prompts`` rationale prompts with :func:`radis_core.generation.generate` (batch
  ``--gen-batch``, ``--max-new-tokens``) and reports generated tokens/s;
* decodes the first ``--naive-prompts`` of them both ways, batched and with transformers' ``generate``
  one prompt at a time (the naive way of target 1), and reports the ratio and identical outputs.

It prints the card's name and one summary line last. Never run by tests or CI; exits 2 without the
device. ``--device cpu --dtype float32`` runs the same code path on a CPU (to check the script).

    python bench/gpu_smoke.py --small-gguf SmolLM2-135M-Instruct.Q4_1.gguf
    .venv/bin/python bench/gpu_smoke.py --device cpu --dtype float32 --models tiny --steps 2 --prompts 4
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

import _common
from generation import naive as one_at_a_time

from radis_core.corpus import Pair
from radis_core.dataset import TrainingTarget, build_examples
from radis_core.generation import DecodeSettings, generate
from radis_core.prompts import ChatFormat, rationale_prompt
from radis_core.rationales import decode_settings
from radis_core.settings import (
    DEFAULT_TRANSLATION_TEMPLATE,
    Hyperparameters,
    RationaleSettings,
    resolve,
)
from radis_core.training import attach_lora, train


def synthetic_pairs(n: int) -> list[Pair]:
    """``n`` distinct German→English pairs of varied length (no data files needed on a bare machine)."""
    tail_de, tail_en = " und der Hund ist groß", " and the dog is big"
    return [
        Pair(f"Anna kauft {i} Äpfel{tail_de * (i % 7)}.", f"Anna buys {i} apples{tail_en * (i % 7)}.", "de", "en", i + 1)
        for i in range(n)
    ]


def small_model_folder(args: argparse.Namespace) -> tuple[str | None, str]:
    """(folder, how it was obtained) for SmolLM2-135M-Instruct, or (None, why not)."""
    from radis_core.models import resolve_model

    for reference, how in ((args.small_gguf, "GGUF, dequantised"), (args.small_dir, "folder"), (_common.SMOLLM, "catalogue")):
        if not reference:
            continue
        try:
            return resolve_model(reference).path, how
        except Exception as exc:  # a bare GPU machine has no cache and no registry
            print(f"small model from {reference!r} unavailable: {exc}", file=sys.stderr)
    if args.small_config:
        return random_weights_folder(Path(args.small_config)), "architecture from its config, RANDOM weights"
    return None, "no GGUF, folder or config"


def random_weights_folder(config_dir: Path) -> str:
    """The model of ``config_dir`` with random weights: the same shapes, so the same speed."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    out = Path(tempfile.gettempdir()) / "radis-gpu-random-small"
    torch.manual_seed(0)
    AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(config_dir)).save_pretrained(out)
    AutoTokenizer.from_pretrained(config_dir).save_pretrained(out)
    return str(out)


def bench_model(name: str, folder: str, args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from radis_core.models import load_model, resolve_model

    def sync() -> None:
        if args.device == "cuda":
            torch.cuda.synchronize()

    model, tok = load_model(resolve_model(folder), device=args.device, dtype=args.dtype)
    fmt = ChatFormat.for_tokenizer(tok)
    pairs = synthetic_pairs(args.examples)

    # generation first, on the base model (a job writes its rationales before training)
    rs = RationaleSettings(max_new_tokens=args.max_new_tokens)
    settings = decode_settings(rs, seed=0)
    prompts = [
        rationale_prompt(fmt, rs.template, source=p.source, reference=p.target, src_lang="de", tgt_lang="en")
        for p in pairs[: args.prompts]
    ]
    generate(model, tok, prompts[:2], DecodeSettings(max_new_tokens=4), batch_size=2, end_of_turn=fmt.end_of_turn)
    sync()
    start = time.perf_counter()
    outs = generate(model, tok, prompts, settings, batch_size=args.gen_batch, end_of_turn=fmt.end_of_turn)
    sync()
    gen_seconds = time.perf_counter() - start
    new_tokens = sum(o.new_tokens for o in outs)

    few = prompts[: args.naive_prompts]
    short = decode_settings(RationaleSettings(max_new_tokens=args.naive_new_tokens), seed=0)
    sync()
    start = time.perf_counter()
    batched = generate(model, tok, few, short, batch_size=len(few), end_of_turn=fmt.end_of_turn)
    sync()
    batched_s = time.perf_counter() - start
    start = time.perf_counter()
    naive = one_at_a_time(model, tok, few, short, fmt.end_of_turn)
    sync()
    naive_s = time.perf_counter() - start
    naive_tokens = sum(g.new_tokens for g in naive)
    batched_tokens = sum(g.new_tokens for g in batched)

    cudnn_ab: dict[str, Any] = {}
    if args.device == "cuda":
        # side by side: the same batched decode with cuDNN attention allowed (torch's default) and not
        for label, allowed in (("cudnn_sdp_on", True), ("cudnn_sdp_off", False)):
            torch.backends.cuda.enable_cudnn_sdp(allowed)
            sync()
            start = time.perf_counter()
            generate(model, tok, few, short, batch_size=len(few), end_of_turn=fmt.end_of_turn)
            sync()
            cudnn_ab[f"generate_{label}_s"] = round(time.perf_counter() - start, 2)
        torch.backends.cuda.enable_cudnn_sdp(False)

    rationales = [o.text or "It means the same." for o in outs] + ["It means the same."] * (len(pairs) - len(outs))
    examples, _ = build_examples(
        tok,
        pairs,
        method="radis",
        template=DEFAULT_TRANSLATION_TEMPLATE,
        max_seq_len=args.max_seq_len,
        targets=[TrainingTarget(p.target, r) for p, r in zip(pairs, rationales, strict=True)],
    )
    hp = resolve(
        Hyperparameters(batch_size=args.batch, max_steps=args.steps, max_seq_len=args.max_seq_len), n_examples=len(examples)
    )
    model = attach_lora(model, hp, 0)
    warm = resolve(Hyperparameters(batch_size=args.batch, max_steps=2, max_seq_len=args.max_seq_len), n_examples=len(examples))
    train(model, examples, warm, seed=1, pad_id=int(tok.pad_token_id), checkpoint_dir=None)
    sync()
    result = train(model, examples, hp, seed=0, pad_id=int(tok.pad_token_id), checkpoint_dir=None)
    sync()

    if args.device == "cuda":
        few_steps = resolve(
            Hyperparameters(batch_size=args.batch, max_steps=4, max_seq_len=args.max_seq_len), n_examples=len(examples)
        )
        for label, allowed in (("cudnn_sdp_on", True), ("cudnn_sdp_off", False)):
            torch.backends.cuda.enable_cudnn_sdp(allowed)
            r4 = train(model, examples, few_steps, seed=2, pad_id=int(tok.pad_token_id), checkpoint_dir=None)
            sync()
            cudnn_ab[f"train_4_steps_{label}_tokens_per_s"] = round(r4.tokens_per_second, 1)
        torch.backends.cuda.enable_cudnn_sdp(False)

    peak = round(torch.cuda.max_memory_allocated() / 2**30, 2) if args.device == "cuda" else None
    return {
        "model": name,
        "dtype": str(next(model.parameters()).dtype),
        "attention": model.config._attn_implementation,
        "train": {
            "steps": result.steps,
            "seconds": round(result.seconds, 2),
            "tokens_per_s": round(result.tokens_per_second, 1),
            "padding_share": round(result.padding_share, 4),
            "first_loss": round(result.losses[0], 4),
            "final_loss": round(result.losses[-1], 4),
        },
        "generate": {
            "prompts": len(prompts),
            "batch": args.gen_batch,
            "max_new_tokens": args.max_new_tokens,
            "new_tokens": new_tokens,
            "seconds": round(gen_seconds, 2),
            "tokens_per_s": round(new_tokens / gen_seconds, 1),
        },
        "batched_vs_naive": {
            "prompts": len(few),
            "max_new_tokens": args.naive_new_tokens,
            "batched": {"seconds": round(batched_s, 2), "tokens_per_s": round(batched_tokens / batched_s, 1)},
            "naive": {"seconds": round(naive_s, 2), "tokens_per_s": round(naive_tokens / naive_s, 1)},
            "ratio": round((batched_tokens / batched_s) / (naive_tokens / naive_s), 2),
            "identical_outputs": f"{sum(g.text == n.text for g, n in zip(batched, naive, strict=True))}/{len(few)}",
        },
        "cudnn_attention_side_by_side": cudnn_ab,
        "sample_rationale": outs[0].text[:300],
        "peak_memory_GiB": peak,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--dtype", default="bfloat16")
    parser.add_argument("--models", default="tiny,small", help="comma-separated: tiny, small")
    parser.add_argument("--small-gguf", help="SmolLM2-135M-Instruct GGUF file (dequantised into the cache)")
    parser.add_argument("--small-dir", help="HF folder of SmolLM2-135M-Instruct")
    parser.add_argument("--small-config", help="folder with its config and tokenizer: random weights, when nothing else is there")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--max-seq-len", type=int, default=512)
    parser.add_argument("--examples", type=int, default=256)
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--gen-batch", type=int, default=64)
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--naive-prompts", type=int, default=16)
    parser.add_argument("--naive-new-tokens", type=int, default=64)
    args = parser.parse_args(argv)

    import torch
    import transformers

    if args.device == "cuda" and not torch.cuda.is_available():
        print("gpu_smoke: no CUDA device here; this script only runs on a GPU machine", file=sys.stderr)
        return 2
    from radis_core.tiny import build_tiny_model

    wanted = set(args.models.split(","))
    models: list[tuple[str, str, str]] = []
    if "tiny" in wanted:
        models.append(("tiny", str(build_tiny_model(Path(tempfile.gettempdir()) / "radis-bench-tiny")), "built on the fly"))
    if "small" in wanted:
        folder, how = small_model_folder(args)
        if folder:
            models.append(("smollm2-135m-instruct", folder, how))
        else:
            print(f"small model skipped: {how}", file=sys.stderr)
    card = torch.cuda.get_device_name(0) if args.device == "cuda" else args.device
    results = []
    for name, folder, how in models:
        r = bench_model(name, folder, args)
        r["weights"] = how
        results.append(r)
        print(json.dumps(r, indent=2), flush=True)
    print(
        json.dumps(
            {"card": card, "torch": torch.__version__, "transformers": transformers.__version__, "cuda": torch.version.cuda},
            indent=2,
        )
    )
    print(
        "gpu: "
        + card
        + "; "
        + "; ".join(
            f"{r['model']}: train {r['train']['tokens_per_s']:.0f} tok/s, generate {r['generate']['tokens_per_s']:.0f} tok/s "
            f"(batch {r['generate']['batch']}), batched/naive {r['batched_vs_naive']['ratio']:.1f}x "
            f"identical {r['batched_vs_naive']['identical_outputs']}"
            for r in results
        ),
        flush=True,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
