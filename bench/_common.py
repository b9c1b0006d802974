"""Helpers shared by the benchmark commands: model loading, demo pairs, timing, the last-line report.

Every benchmark measures the thing and its baseline in the same process, one after the other, so a
shared, busy machine slows both alike and the printed ratio stays meaningful.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from radis_core.corpus import Pair  # noqa: E402

SMOLLM = "smollm2-135m-instruct"


def add_model_argument(parser: argparse.ArgumentParser) -> None:
    """``--model``: a catalogue name, a local folder, or ``tiny`` (a tiny Llama built on the fly)."""
    parser.add_argument("--model", default=SMOLLM, help=f"catalogue name, HF folder, or 'tiny' (default {SMOLLM})")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")


def load(reference: str, *, threads: int = 0, device: str = "cpu", dtype: str = "float32") -> tuple[Any, Any, str]:
    """(model, tokenizer, fingerprint) loaded the way the pipeline loads them."""
    import torch

    from radis_core.models import load_model, resolve_model

    if threads:
        torch.set_num_threads(threads)
    if reference == "tiny":
        from radis_core.tiny import build_tiny_model

        reference = str(build_tiny_model(Path(tempfile.gettempdir()) / "radis-bench-tiny"))
    resolved = resolve_model(reference)
    model, tok = load_model(resolved, device=device, dtype=dtype)
    return model, tok, resolved.fingerprint


def demo_pairs(n: int) -> list[Pair]:
    """``n`` English→German pairs: the demo corpus's Django sentences (5 to ~50 words), repeated with a suffix past ~190."""
    from radis_core.django_corpus import DJANGO_WHEEL, load_django_pairs
    from radis_core.wheels import find_or_download_wheel

    base = load_django_pairs(find_or_download_wheel(DJANGO_WHEEL), "de").pairs
    out = []
    for i in range(n):
        p = base[i % len(base)]
        tag = "" if i < len(base) else f" ({i // len(base)})"
        out.append(Pair(p.source + tag, p.target + tag, p.src_lang, p.tgt_lang, i + 1))
    return out


@contextmanager
def timed() -> Iterator[list[float]]:
    """``with timed() as t: ...`` then ``t[0]`` is the wall time in seconds."""
    box: list[float] = []
    start = time.perf_counter()
    try:
        yield box
    finally:
        box.append(time.perf_counter() - start)


def machine() -> dict[str, Any]:
    """What the figures were measured on (load average included: the machine is shared)."""
    import torch

    return {
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }


def report(details: dict[str, Any], last_line: str) -> None:
    """Print the details as JSON, then the headline figure as the very last line."""
    print(json.dumps(details, indent=2, default=str))
    print(last_line, flush=True)
