"""Target 2: padding share of the training batches, and the loop's throughput vs raw forward + backward.

One process, one LoRA-wrapped model, the same micro-batches (``micro_batch_plan``) twice:

* loop: :func:`radis_core.training.train` as a job runs it: collate per step, loss, backward, clip,
  AdamW, schedule, a metrics event per step (appended to a JSON-lines file, as a worker writes
  events) and resumable checkpoints every ``--checkpoint-every`` steps;
* raw: the same batches, collated and moved beforehand, forward + loss + backward only: the limit,
  timed once before and once after the loop (the mean is the baseline; both are printed).

The RaDis targets are reference + separator + a synthetic rationale of varied length (so sequence
lengths vary the way they do in a job). Also printed: the padding share the same examples would have
in unsorted batches. The ratio loop/raw tokens/s is printed last.

    .venv/bin/python bench/training.py                 # 6 steps of 4 x <=256 tokens
    .venv/bin/python bench/training.py --steps 20 --max-seq-len 512 --profile
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import add_model_argument, demo_pairs, load, machine, report, timed

from radis_core.dataset import IGNORE_INDEX, TrainingTarget, build_examples, collate
from radis_core.settings import (
    DEFAULT_TRANSLATION_TEMPLATE,
    Hyperparameters,
    resolve,
)
from radis_core.training import attach_lora, micro_batch_plan, train

_NOTES = [
    "The word order follows English main clauses.",
    "'kauft' is rendered as 'buys', present tense.",
    "Numbers are kept as digits.",
    "The question form moves the verb first.",
    "Units stay as in the source.",
]


def synthetic_rationale(i: int) -> str:
    """A numbered-notes rationale whose length varies with ``i`` (1 to 12 notes)."""
    return " ".join(f"{k + 1}. {_NOTES[(i + k) % len(_NOTES)]}" for k in range(1 + (i * 7) % 12))


def unsorted_padding(lengths: list[int], batch: int, seed: int) -> float:
    """Padding share of the same examples batched in random order (what length grouping avoids)."""
    order = list(range(len(lengths)))
    random.Random(seed).shuffle(order)
    real = padded = 0
    for b in range(0, len(order), batch):
        rows = [lengths[i] for i in order[b : b + batch]]
        real += sum(rows)
        padded += max(rows) * len(rows)
    return 1 - real / padded


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_model_argument(parser)
    parser.add_argument("--examples", type=int, default=100)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--max-seq-len", type=int, default=256)
    parser.add_argument("--checkpoint-every", type=int, default=2)
    parser.add_argument("--profile", action="store_true", help="torch.profiler table of one loop step")
    args = parser.parse_args(argv)

    import torch

    model, tok, _ = load(args.model, threads=args.threads)
    pairs = demo_pairs(args.examples)
    examples, _stats = build_examples(
        tok,
        pairs,
        method="radis",
        template=DEFAULT_TRANSLATION_TEMPLATE,
        max_seq_len=args.max_seq_len,
        targets=[TrainingTarget(p.target, synthetic_rationale(i)) for i, p in enumerate(pairs)],
    )
    hp = resolve(
        Hyperparameters(
            batch_size=args.batch,
            max_steps=args.steps,
            max_seq_len=args.max_seq_len,
            checkpoint_every=args.checkpoint_every,
            keep_checkpoints=2,
        ),
        n_examples=len(examples),
    )
    seed, pad_id = 0, int(tok.pad_token_id)
    model = attach_lora(model, hp, seed)
    plan = micro_batch_plan([len(e.input_ids) for e in examples], hp, seed)
    batches = [collate([examples[i] for i in idx], pad_id) for idx in plan]
    params = [p for p in model.parameters() if p.requires_grad]

    def raw_step(b: dict) -> None:
        logits = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits
        n = max(int((b["labels"] != IGNORE_INDEX).sum()), 1)
        loss = (
            torch.nn.functional.cross_entropy(
                logits[:, :-1].reshape(-1, logits.size(-1)).float(),
                b["labels"][:, 1:].reshape(-1),
                ignore_index=IGNORE_INDEX,
                reduction="sum",
            )
            / n
        )
        loss.backward()
        for p in params:
            p.grad = None

    def raw_pass() -> float:
        model.train()
        with timed() as t:
            for b in batches:
                raw_step(b)
        return t[0]

    model.train()
    raw_step(batches[0])  # warm-up: first backward allocates, both paths then start warm
    # raw runs before and after the loop: a drift of the shared machine (or of the allocator) then
    # shows as two different raw figures instead of silently favouring whichever side ran second
    raw_before = raw_pass()

    with (
        tempfile.TemporaryDirectory(prefix="radis-bench-train-") as tmp,
        open(Path(tmp) / "events.jsonl", "a", encoding="utf-8") as events,
    ):

        def on_event(ev) -> None:
            events.write(
                json.dumps({"stage": ev.stage, "message": ev.message, "type": ev.type, "data": ev.data}, default=str) + "\n"
            )
            events.flush()

        with timed() as tl:
            result = train(
                model, examples, hp, seed=seed, pad_id=pad_id, checkpoint_dir=Path(tmp) / "checkpoints", on_event=on_event
            )
        checkpoints = sorted(p.name for p in (Path(tmp) / "checkpoints").iterdir())

    raw_after = raw_pass()
    model.eval()

    tokens = sum(int(b["attention_mask"].sum()) for b in batches)
    raw_seconds = (raw_before + raw_after) / 2
    loop_rate, raw_rate = tokens / tl[0], tokens / raw_seconds
    ratio = loop_rate / raw_rate
    lengths = [len(e.input_ids) for e in examples]
    details = {
        "target": "padding <= 5% and loop throughput >= 90% of raw forward+backward on the same batches",
        "model": args.model,
        "examples": len(examples),
        "steps": args.steps,
        "batch": args.batch,
        "max_seq_len": args.max_seq_len,
        "sequence_lengths": {"min": min(lengths), "max": max(lengths)},
        "non_pad_tokens": tokens,
        "padding_share_loop": round(result.padding_share, 4),
        "padding_share_unsorted_batches": round(unsorted_padding(lengths, args.batch, seed), 4),
        "loop": {
            "seconds": round(tl[0], 2),
            "tokens_per_s": round(loop_rate, 1),
            "reported_tokens_per_s": round(result.tokens_per_second, 1),
            "checkpoints_left": checkpoints,
        },
        "raw_forward_backward": {
            "seconds": round(raw_seconds, 2),
            "tokens_per_s": round(raw_rate, 1),
            "seconds_before_loop": round(raw_before, 2),
            "seconds_after_loop": round(raw_after, 2),
        },
        "machine": machine(),
    }
    if args.profile:
        from torch.profiler import ProfilerActivity, profile

        with profile(activities=[ProfilerActivity.CPU]) as prof:
            train(model, examples, hp.__class__(**{**hp.__dict__, "max_steps": 1}), seed=seed, pad_id=pad_id, checkpoint_dir=None)
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15))
    pad_ok, rate_ok = result.padding_share <= 0.05, ratio >= 0.90
    report(
        details,
        f"training: padding {100 * result.padding_share:.1f}% (target <= 5%: {'met' if pad_ok else 'MISSED'}); "
        f"loop {loop_rate:.0f} tok/s vs raw fwd+bwd {raw_rate:.0f} tok/s = {100 * ratio:.1f}% "
        f"(target >= 90%: {'met' if rate_ok else 'MISSED'})",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
