"""Write the generated parts of the built-in probe sets: ``ifeval.jsonl`` and ``math.jsonl``.

Both files are checked in, so a reader can read every item, a diff shows every change, and a user's
``probe_dir`` overrides them like any other set. Each file holds hand-written items (ids without the
generated prefix, e.g. ``if-001``, ``m-001``) and generated ones (``if-g001``, ``m-g001``). This
command keeps the hand-written lines as they are, regenerates the others with the fixed seeds, and
spreads the hand-written items evenly through the file, so the first ``max_probe_items`` items of a
set (what retention runs) always mix both kinds. Regenerate after editing a generator:

    .venv/bin/python -m radis_core.evaluation.probe_generation          # rewrite the files
    .venv/bin/python -m radis_core.evaluation.probe_generation --check  # exit 1 when they differ

A test runs the ``--check`` comparison, so the files never drift from their generators.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from radis_core.evaluation import ifeval_generation, math_generation
from radis_core.evaluation.probes import parse_probe_lines

PROBE_FOLDER = Path(__file__).resolve().parents[1] / "probes"

#: Probe set -> (prefix of generated ids, generator of the generated items).
GENERATED: dict[str, tuple[str, Callable[[], list[dict[str, Any]]]]] = {
    "ifeval": (ifeval_generation.ID_PREFIX, ifeval_generation.generate_ifeval),
    "math": (math_generation.ID_PREFIX, math_generation.generate_math),
}


def interleave(handwritten: list[dict[str, Any]], generated: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """All items, each list in its own order, the hand-written ones spread evenly (the first one first)."""
    total = len(handwritten) + len(generated)
    slots = {round(j * total / len(handwritten)) for j in range(len(handwritten))} if handwritten else set()
    hand, gen = iter(handwritten), iter(generated)
    return [next(hand) if position in slots else next(gen) for position in range(total)]


def render(name: str, current_text: str) -> str:
    """The file ``name`` should hold, given its current text (whose hand-written lines are kept)."""
    prefix, generate = GENERATED[name]
    current = parse_probe_lines(name, current_text, f"probes/{name}.jsonl")
    handwritten = [item for item in current if not item["id"].startswith(prefix)]
    items = interleave(handwritten, generate())
    text = "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items)
    parse_probe_lines(name, text, f"generated {name}.jsonl")  # every line must load
    return text


def main(argv: list[str] | None = None) -> int:
    """Rewrite (or, with ``--check``, compare) the generated probe files; returns the exit status."""
    parser = argparse.ArgumentParser(description="Regenerate the generated items of the built-in probe sets.")
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 when a file is out of date")
    parser.add_argument("--folder", type=Path, default=PROBE_FOLDER, help="probe folder (default: the package's)")
    args = parser.parse_args(argv)
    stale = []
    for name in GENERATED:
        path = args.folder / f"{name}.jsonl"
        current = path.read_text(encoding="utf-8")
        wanted = render(name, current)
        if wanted == current:
            continue
        stale.append(path)
        if not args.check:
            path.write_text(wanted, encoding="utf-8")
    verb = "out of date" if args.check else "rewritten"
    for path in stale:
        print(f"{path}: {verb}", file=sys.stderr)
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
