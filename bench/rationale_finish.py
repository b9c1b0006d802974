"""How rationales end on the demo model: finished by the model, trimmed after a budget cut, or rejected.

For each decoding configuration (token budget × repetition penalty × prompt mode) it generates the
rationales of the same demo pairs, without the cache, and prints the shares side by side: finished
(the model ended its turn), cut by the budget, trimmed to a complete sentence, kept, and rejected by
reason. It chose the defaults of ``rationale.max_new_tokens`` and ``rationale.repetition_penalty``.

    .venv/bin/python bench/rationale_finish.py                     # 40 demo pairs, four configurations
    .venv/bin/python bench/rationale_finish.py --pairs 80 --configs 96:1.15:explain,256:1.0:explain
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import add_model_argument, demo_pairs, load, machine, report, timed

from radis_core.rationales import generate_rationales
from radis_core.settings import RationaleSettings

DEFAULT_CONFIGS = "128:1.15:explain,256:1.15:explain,256:1.0:explain,256:1.0:translation"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_model_argument(parser)
    parser.add_argument("--pairs", type=int, default=40)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--configs", default=DEFAULT_CONFIGS, help="budget:repetition_penalty:prompt, comma-separated")
    args = parser.parse_args(argv)

    model, tok, fingerprint = load(args.model, threads=args.threads)
    pairs = demo_pairs(args.pairs)
    rows = {}
    for config in args.configs.split(","):
        budget, penalty, prompt = config.split(":")
        settings = RationaleSettings.model_validate(
            {"max_new_tokens": int(budget), "repetition_penalty": float(penalty), "prompt": prompt, "batch_size": args.batch}
        )
        with timed() as t:
            run = generate_rationales(model, tok, pairs, settings, model_fingerprint=fingerprint, cache=None)
        stats = run.stats()
        n = stats["pairs"]
        rows[config] = {
            "finished_share": round(stats["finished"] / n, 3),
            "cut_by_budget_share": round(stats["cut_by_budget"] / n, 3),
            "trimmed_share": round(stats["trimmed_to_sentence"] / n, 3),
            "kept_share": stats["kept_share"],
            "rejected": stats["rejected"],
            "mean_new_tokens": round(stats["new_tokens"] / n, 1),
            "seconds": round(t[0], 1),
            "example": next((r.text[:300] for r in run.items if r.kept), None),
        }
        print(config, rows[config], flush=True)
    report(
        {"model": args.model, "pairs": len(pairs), "configs": rows, "machine": machine()},
        "rationale endings (budget:penalty:prompt -> finished / kept): "
        + "; ".join(f"{c} -> {r['finished_share']:.0%} / {r['kept_share']:.0%}" for c, r in rows.items()),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
