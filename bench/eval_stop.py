"""Target 4: evaluation stops each translation at the separator instead of decoding the rationale.

The same translation prompts are decoded twice in one process with :class:`radis_core.chat_model.HFChatModel`'s
settings: once as ``translate`` does it (stop string = ``SEPARATOR``, so a row ends at the blank line
that starts the rationale) and once without the stop (the whole answer up to end-of-turn or
``--max-new-tokens``: what decoding the rationale costs). Prints generated tokens and seconds of
both, how many answers contained a separator, and the token saving ratio last.

A base model answers "translation, blank line, explanation" only sometimes; a RaDis-tuned model does
so by construction, so ``--adapter DIR`` (a PEFT adapter folder from a job) measures the tuned model.

    .venv/bin/python bench/eval_stop.py
    .venv/bin/python bench/eval_stop.py --adapter /path/to/job/adapter --sources 50
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import add_model_argument, demo_pairs, load, machine, report, timed

from radis_core.chat_model import HFChatModel
from radis_core.config import SEPARATOR
from radis_core.generation import DecodeSettings, generate
from radis_core.prompts import translation_prompt
from radis_core.settings import DEFAULT_TRANSLATION_TEMPLATE


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_model_argument(parser)
    parser.add_argument("--adapter", type=Path, help="PEFT adapter folder to load on top of the model")
    parser.add_argument("--sources", type=int, default=16)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    args = parser.parse_args(argv)

    model, tok, _ = load(args.model, threads=args.threads)
    if args.adapter:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(args.adapter))
    chat = HFChatModel(model, tok, batch_size=args.batch)
    pairs = demo_pairs(args.sources)
    src, tgt = pairs[0].src_lang, pairs[0].tgt_lang
    sources = [p.source for p in pairs]

    generate(
        model, tok, [chat.fmt.user_prompt("Hi")], DecodeSettings(max_new_tokens=4), batch_size=1, end_of_turn=chat.fmt.end_of_turn
    )  # warm-up
    with timed() as ts:
        translations = chat.translate(
            sources, src_lang=src, tgt_lang=tgt, template=DEFAULT_TRANSLATION_TEMPLATE, max_new_tokens=args.max_new_tokens
        )
    stopped_tokens = chat.generated_tokens

    prompts = [translation_prompt(chat.fmt, DEFAULT_TRANSLATION_TEMPLATE, source=s, src_lang=src, tgt_lang=tgt) for s in sources]
    with timed() as tf:
        full = generate(
            model,
            tok,
            prompts,
            DecodeSettings(max_new_tokens=args.max_new_tokens),
            batch_size=args.batch,
            end_of_turn=chat.fmt.end_of_turn,
        )
    full_tokens = sum(g.new_tokens for g in full)

    with_sep = sum(1 for g in full if SEPARATOR in g.text.strip())
    same_prefix = sum(1 for t, g in zip(translations, full, strict=True) if g.text.strip().startswith(t))
    saving = full_tokens / max(stopped_tokens, 1)
    details = {
        "target": "translations stop at the separator at eval time: token saving ratio vs decoding the rationale",
        "model": args.model,
        "adapter": str(args.adapter) if args.adapter else None,
        "sources": len(sources),
        "max_new_tokens": args.max_new_tokens,
        "stop_at_separator": {"new_tokens": stopped_tokens, "seconds": round(ts[0], 2)},
        "full_answer": {"new_tokens": full_tokens, "seconds": round(tf[0], 2)},
        "answers_with_a_separator": f"{with_sep}/{len(full)}",
        "stopped_output_is_prefix_of_full": f"{same_prefix}/{len(full)}",
        "example": {"stopped": translations[0][:200], "full": full[0].text[:400]},
        "machine": machine(),
    }
    report(
        details,
        f"eval stop: {full_tokens} tokens decoding the whole answer vs {stopped_tokens} stopping at the separator "
        f"= {saving:.2f}x fewer tokens, {tf[0] / ts[0]:.2f}x less time ({with_sep}/{len(full)} answers had a separator)",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
