"""Target 7 (GPU only): bf16 + SDPA LoRA training steps and batched generation on the tiny and small models.

For each model (``tiny``: the Llama built on the fly; ``small``: SmolLM2-135M-Instruct, when its
dequantised folder is in the cache or given with ``--small-dir``) it loads the model in bfloat16 with
SDPA attention on ``cuda``, runs ``--steps`` LoRA steps through :func:`radis_core.training.train`
(batch ``--batch`` × up to ``--max-seq-len`` tokens) and one batched greedy
:func:`radis_core.generation.generate` over ``--prompts`` prompts, then prints the card's name and
tokens/s of both. Never run by tests or CI; exits 2 without a CUDA device.

    .venv/bin/python bench/gpu_smoke.py
    .venv/bin/python bench/gpu_smoke.py --small-dir /models/SmolLM2-135M-Instruct --steps 50
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402,F401  (puts the repository on sys.path)

from radis_core.config import DEFAULT_TRANSLATION_TEMPLATE, Hyperparameters  # noqa: E402
from radis_core.corpus import Pair  # noqa: E402
from radis_core.dataset import build_examples  # noqa: E402
from radis_core.generation import DecodeSettings, generate  # noqa: E402
from radis_core.hyperparams import resolve  # noqa: E402
from radis_core.prompts import ChatFormat, translation_prompt  # noqa: E402
from radis_core.training import attach_lora, train  # noqa: E402


def synthetic_pairs(n: int) -> list[Pair]:
    """``n`` distinct German→English pairs of varied length (no data files needed on a bare machine)."""
    tail_de, tail_en = " und der Hund ist groß", " and the dog is big"
    return [Pair(f"Anna kauft {i} Äpfel{tail_de * (i % 7)}.", f"Anna buys {i} apples{tail_en * (i % 7)}.", "de", "en", i + 1)
            for i in range(n)]


def bench_model(name: str, folder: str, args: argparse.Namespace) -> dict:
    import torch

    from radis_core.models import load_model, resolve_model

    model, tok = load_model(resolve_model(folder), device="cuda", dtype="bfloat16")
    fmt = ChatFormat.for_tokenizer(tok)
    pairs = synthetic_pairs(args.examples)
    rationales = [" ".join(f"{k + 1}. 'kauft' means 'buys'." for k in range(1 + i % 12)) for i in range(len(pairs))]
    examples, _ = build_examples(tok, pairs, method="radis", template=DEFAULT_TRANSLATION_TEMPLATE,
                                 max_seq_len=args.max_seq_len, rationales=rationales)
    hp = resolve(Hyperparameters(batch_size=args.batch, max_steps=args.steps, max_seq_len=args.max_seq_len), n_examples=len(examples))
    model = attach_lora(model, hp, 0)
    train(model, examples, resolve(Hyperparameters(batch_size=args.batch, max_steps=2, max_seq_len=args.max_seq_len),
                                   n_examples=len(examples)), seed=1, pad_id=int(tok.pad_token_id), checkpoint_dir=None)  # warm-up
    torch.cuda.synchronize()
    result = train(model, examples, hp, seed=0, pad_id=int(tok.pad_token_id), checkpoint_dir=None)
    torch.cuda.synchronize()

    prompts = [translation_prompt(fmt, DEFAULT_TRANSLATION_TEMPLATE, source=p.source, src_lang="de", tgt_lang="en")
               for p in pairs[: args.prompts]]
    settings = DecodeSettings(max_new_tokens=args.max_new_tokens)
    generate(model, tok, prompts[:2], DecodeSettings(max_new_tokens=4), batch_size=2, end_of_turn=fmt.end_of_turn)
    torch.cuda.synchronize()
    start = time.perf_counter()
    outs = generate(model, tok, prompts, settings, batch_size=args.prompts, end_of_turn=fmt.end_of_turn)
    torch.cuda.synchronize()
    gen_seconds = time.perf_counter() - start
    new_tokens = sum(o.new_tokens for o in outs)
    return {
        "model": name, "dtype": str(next(model.parameters()).dtype), "attention": model.config._attn_implementation,
        "train": {"steps": result.steps, "seconds": round(result.seconds, 2), "tokens_per_s": round(result.tokens_per_second, 1),
                  "padding_share": round(result.padding_share, 4), "final_loss": round(result.losses[-1], 4)},
        "generate": {"prompts": len(prompts), "new_tokens": new_tokens, "seconds": round(gen_seconds, 2),
                     "tokens_per_s": round(new_tokens / gen_seconds, 1)},
        "peak_memory_GiB": round(torch.cuda.max_memory_allocated() / 2**30, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small-dir", help="HF folder of SmolLM2-135M-Instruct (default: the cached catalogue model)")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--max-seq-len", type=int, default=512)
    parser.add_argument("--examples", type=int, default=256)
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--max-new-tokens", type=int, default=128)
    args = parser.parse_args(argv)

    import torch

    if not torch.cuda.is_available():
        print("gpu_smoke: no CUDA device here; this script only runs on a GPU machine", file=sys.stderr)
        return 2
    from radis_core.tiny import build_tiny_model

    models = [("tiny", str(build_tiny_model(Path(tempfile.gettempdir()) / "radis-bench-tiny")))]
    small = args.small_dir
    if small is None:
        try:
            from radis_core.models import resolve_model

            small = resolve_model(_common.SMOLLM).path
        except Exception as exc:  # a bare GPU machine has neither the cache nor a registry
            print(f"small model skipped: {exc}", file=sys.stderr)
    if small:
        models.append(("smollm2-135m-instruct", small))
    card = torch.cuda.get_device_name(0)
    results = [bench_model(name, folder, args) for name, folder in models]
    print(json.dumps({"card": card, "torch": torch.__version__, "results": results}, indent=2))
    print("gpu: " + card + "; " + "; ".join(
        f"{r['model']}: train {r['train']['tokens_per_s']:.0f} tok/s, generate {r['generate']['tokens_per_s']:.0f} tok/s"
        for r in results), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
