"""GPU diagnosis: where does a decode step of radis_core.generation spend its time?

Times one decode forward with transformers' DynamicCache and with radis_core's reserved cache,
with and without a padding mask, the token choice, and a whole ``generate``; then prints a
torch.profiler table. Run on a GPU machine with the small model's config folder as argument:

    python3 bench/gpu_decode_diagnosis.py path/to/SmolLM2-config-folder

Its 2026-11-28 H200 output (bench/results/) is how cuDNN attention's per-shape plans were found.
"""

import json
import sys
import time

sys.path.insert(0, "bench")
import torch
from _common import load
from gpu_smoke import random_weights_folder, synthetic_pairs
from transformers.cache_utils import DynamicCache

import radis_core.generation as G
from radis_core.generation import _BatchDecoder, _stop_token_ids, generate
from radis_core.kv_cache import reserved_cache
from radis_core.prompts import ChatFormat, rationale_prompt
from radis_core.rationales import decode_settings
from radis_core.settings import RationaleSettings


def ms(f, n=10):
    f()
    torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(n):
        f()
    torch.cuda.synchronize()
    return round((time.perf_counter() - t) / n * 1e3, 2)


def diagnose(name, ref):
    """One model's timings and profile, printed (a function so the timed closures close over its locals)."""
    model, tok, _ = load(ref, device="cuda", dtype="bfloat16")
    fmt = ChatFormat.for_tokenizer(tok)
    rs = RationaleSettings(max_new_tokens=32)
    s = decode_settings(rs, seed=0)
    ps = [
        rationale_prompt(fmt, rs.template, source=p.source, reference=p.target, src_lang="de", tgt_lang="en")
        for p in synthetic_pairs(16)
    ]
    res = {"model": name}
    with torch.inference_mode():
        B, L = 16, 200
        ids = torch.randint(10, min(500, model.config.vocab_size), (B, L), device="cuda")
        out = model(input_ids=ids, use_cache=True, logits_to_keep=1)
        c = out.past_key_values
        kw = G._cache_kwarg(model)
        res["cache_kwarg"] = kw
        nxt = torch.randint(10, min(500, model.config.vocab_size), (B, 1), device="cuda")
        pos = torch.full((B, 1), L, device="cuda")
        ones = torch.ones(B, L + 1, dtype=torch.long, device="cuda")
        padded = ones.clone()
        padded[:8, :20] = 0
        layers = [(layer.keys, layer.values) for layer in c.layers]

        def step(mask, cache_fn):
            cache = cache_fn()
            return lambda: model(input_ids=nxt, attention_mask=mask, position_ids=pos, use_cache=True, **{kw: cache})

        # a fresh cache per variant; the step keeps appending (fine for timing)
        res["fwd_dynamic_ones_ms"] = ms(
            step(ones, lambda: DynamicCache(ddp_cache_data=[(k.clone(), v.clone()) for k, v in layers]))
        )
        res["fwd_reserved_ones_ms"] = ms(step(ones, lambda: reserved_cache(layers, 64)))
        res["fwd_dynamic_padded_ms"] = ms(
            step(padded, lambda: DynamicCache(ddp_cache_data=[(k.clone(), v.clone()) for k, v in layers]))
        )
        res["fwd_reserved_padded_ms"] = ms(step(padded, lambda: reserved_cache(layers, 64)))
        logits = torch.randn(B, model.config.vocab_size, device="cuda")
        seen = torch.randint(10, min(500, model.config.vocab_size), (B, L), device="cuda")
        dec = _BatchDecoder(model, tok, s, _stop_token_ids(tok, fmt.end_of_turn), tok.pad_token_id)
        res["choose_ms"] = ms(lambda: dec._choose(logits, seen, []).tolist())
    generate(model, tok, ps[:2], s, batch_size=2, end_of_turn=fmt.end_of_turn)
    torch.cuda.synchronize()
    t = time.perf_counter()
    o = generate(model, tok, ps, s, batch_size=16, end_of_turn=fmt.end_of_turn)
    torch.cuda.synchronize()
    res["generate_s"] = round(time.perf_counter() - t, 3)
    res["new_tokens"] = sum(g.new_tokens for g in o)
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        generate(model, tok, ps, s, batch_size=16, end_of_turn=fmt.end_of_turn)
    print(json.dumps(res), flush=True)
    print(prof.key_averages().table(sort_by="cpu_time_total", row_limit=30), flush=True)


for name, ref in (
    ("tiny", "tiny"),
    (
        "small-random",
        random_weights_folder(__import__("pathlib").Path(sys.argv[1] if len(sys.argv) > 1 else ".gpu/c/small-config")),
    ),
):
    diagnose(name, ref)
